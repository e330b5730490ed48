//! Golden bytes from the PTP/IP reference (§1.2, §5) and round-trip properties of the codec.

use camctl_ptpip::wire::codes::{format, prop};
use camctl_ptpip::wire::*;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace().filter(|t| *t != "|").map(|t| u8::from_str_radix(t, 16).unwrap()).collect()
}

const GUID: [u8; 16] =
    [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00];

fn with_guid(before: &str, after: &str) -> Vec<u8> {
    let mut v = hex(before);
    v.extend_from_slice(&GUID);
    v.extend(hex(after));
    v
}

#[test]
fn golden_init_packets() {
    let req = with_guid("22 00 00 00 01 00 00 00", "76 00 6d 00 00 00 | 00 00 01 00");
    let p = Packet::decode_frame(&req).unwrap();
    assert_eq!(
        p,
        Packet::InitCommandRequest { guid: GUID, name: "vm".into(), version: Some(PROTOCOL_VERSION) }
    );
    assert_eq!(p.to_bytes().unwrap(), req);

    let ack = with_guid(
        "2c 00 00 00 02 00 00 00 | 01 00 00 00",
        "45 00 6d 00 75 00 2d 00 31 00 00 00 | 00 00 01 00",
    );
    let p = Packet::InitCommandAck {
        connection: 1,
        guid: GUID,
        name: "Emu-1".into(),
        version: Some(PROTOCOL_VERSION),
    };
    assert_eq!(p.to_bytes().unwrap(), ack);
    assert_eq!(Packet::decode_frame(&ack).unwrap(), p);

    assert_eq!(
        Packet::InitEventRequest { connection: 1 }.to_bytes().unwrap(),
        hex("0c 00 00 00 03 00 00 00 01 00 00 00")
    );
    assert_eq!(Packet::InitEventAck.to_bytes().unwrap(), hex("08 00 00 00 04 00 00 00"));
    assert_eq!(
        Packet::decode_frame(&hex("0c 00 00 00 05 00 00 00 01 00 00 00")).unwrap(),
        Packet::InitFail { reason: fail_reason::REJECTED_INITIATOR }
    );
}

#[test]
fn golden_operation_packets() {
    let open = hex("16 00 00 00 06 00 00 00 | 01 00 00 00 | 02 10 | 00 00 00 00 | 01 00 00 00");
    let p = Packet::OperationRequest(OperationRequest {
        data_phase: data_phase::NONE_OR_IN,
        code: codes::op::OPEN_SESSION,
        tid: 0,
        params: Params::new(&[1]),
    });
    assert_eq!(p.to_bytes().unwrap(), open);
    assert_eq!(Packet::decode_frame(&open).unwrap(), p);

    let ok = hex("0e 00 00 00 07 00 00 00 | 01 20 | 00 00 00 00");
    let p =
        Packet::OperationResponse(CodeAndParams { code: codes::rc::OK, tid: 0, params: Params::new(&[]) });
    assert_eq!(p.to_bytes().unwrap(), ok);

    let added = hex("12 00 00 00 08 00 00 00 | 02 40 | 05 00 00 00 | 05 00 00 00");
    let p = Packet::Event(CodeAndParams { code: codes::ev::OBJECT_ADDED, tid: 5, params: Params::new(&[5]) });
    assert_eq!(p.to_bytes().unwrap(), added);
    assert_eq!(Packet::decode_frame(&added).unwrap(), p);
}

#[test]
fn golden_set_prop_data_out() {
    let req = hex("16 00 00 00 06 00 00 00 02 00 00 00 16 10 06 00 00 00 07 50 00 00");
    let Packet::OperationRequest(r) = Packet::decode_frame(&req).unwrap() else { panic!() };
    assert_eq!((r.data_phase, r.code, r.tid, r.params.as_slice()), (2, 0x1016, 6, &[0x5007][..]));
    let start = hex("14 00 00 00 09 00 00 00 06 00 00 00 02 00 00 00 00 00 00 00");
    assert_eq!(Packet::decode_frame(&start).unwrap(), Packet::StartData { tid: 6, total: 2 });
    let end = hex("0e 00 00 00 0c 00 00 00 06 00 00 00 30 02");
    let Packet::EndData { tid: 6, data } = Packet::decode_frame(&end).unwrap() else { panic!() };
    assert_eq!(PropValue::decode_exact(DataType::UINT16, &data).unwrap(), PropValue::U16(560));
}

#[test]
fn golden_sony_data_in_and_short_start() {
    let data = hex("14 00 00 00 0a 00 00 00 04 00 00 00 01 02 03 04 05 06 07 08");
    assert_eq!(Packet::decode_frame(&data).unwrap(), Packet::Data { tid: 4, data: (1..=8).collect() });
    let end = hex("0c 00 00 00 0c 00 00 00 04 00 00 00");
    assert_eq!(Packet::decode_frame(&end).unwrap(), Packet::EndData { tid: 4, data: vec![] });
    // Some initiators send a u32-only total length.
    let short = hex("10 00 00 00 09 00 00 00 04 00 00 00 08 00 00 00");
    assert_eq!(Packet::decode_frame(&short).unwrap(), Packet::StartData { tid: 4, total: 8 });
}

#[test]
fn lenient_init_command_request_variants() {
    // ASCII name, no version.
    let mut payload = GUID.to_vec();
    payload.extend_from_slice(b"phone\0");
    let p = Packet::decode(1, &payload).unwrap();
    assert_eq!(p, Packet::InitCommandRequest { guid: GUID, name: "phone".into(), version: None });
    // ASCII name followed by a version.
    let mut payload = GUID.to_vec();
    payload.extend_from_slice(b"cam\0\0\0\x01\0");
    let Packet::InitCommandRequest { name, .. } = Packet::decode(1, &payload).unwrap() else { panic!() };
    assert_eq!(name, "cam");
    // UTF-16 name without version.
    let mut payload = GUID.to_vec();
    payload.extend_from_slice(&[0x76, 0, 0x6d, 0, 0, 0]);
    let p = Packet::decode(1, &payload).unwrap();
    assert_eq!(p, Packet::InitCommandRequest { guid: GUID, name: "vm".into(), version: None });
    // Fuji: magic version before the GUID, fixed 82 bytes.
    let mut payload = FUJI_VERSION_MAGIC.to_le_bytes().to_vec();
    payload.extend_from_slice(&GUID);
    payload.extend("X-T4".encode_utf16().chain([0]).flat_map(|u| u.to_le_bytes()));
    payload.resize(74, 0);
    let p = Packet::decode(1, &payload).unwrap();
    assert_eq!(
        p,
        Packet::InitCommandRequest { guid: GUID, name: "X-T4".into(), version: Some(FUJI_VERSION_MAGIC) }
    );
}

#[test]
fn padded_requests_read_missing_params_as_zero() {
    let p = Params::new(&[0x10001, 0, 0, 0, 0]);
    assert_eq!(p.get(2), 0);
    assert_eq!(Params::new(&[1]).get(4), 0);
    // A trailing partial word is ignored.
    let mut req = hex("06 00 00 00 07 10 01 00 00 00 aa bb cc dd ee");
    req.truncate(15);
    let Packet::OperationRequest(r) = Packet::decode(6, &req).unwrap() else { panic!() };
    assert_eq!(r.params.as_slice(), &[0xddccbbaa]);
}

#[test]
fn golden_device_info() {
    let bytes = hex(
        "64 00 00 00 00 00 00 00 00 00 00 10 00 00 00 01 10 02 10 03 10 04 10 05 10 06 10 07 10 08 10 09 10
         0a 10 0b 10 0e 10 14 10 15 10 16 10 1b 10 05 00 00 00 02 40 03 40 06 40 0a 40 0d 40 07 00 00 00 01 50
         03 50 05 50 07 50 0d 50 0f 50 11 50 01 00 00 00 01 38 02 00 00 00 01 30 01 38 08 45 00 6d 00 75 00 43
         00 6f 00 72 00 70 00 00 00 06 45 00 6d 00 75 00 2d 00 31 00 00 00 04 31 00 2e 00 30 00 00 00 05 30 00
         30 00 30 00 31 00 00 00",
    );
    assert_eq!(bytes.len(), 143);
    let di = DeviceInfo::decode(&bytes).unwrap();
    assert_eq!(di.standard_version, 100);
    assert_eq!(di.vendor_extension_desc, "");
    assert_eq!(di.operations.len(), 16);
    assert_eq!(di.events, [0x4002, 0x4003, 0x4006, 0x400a, 0x400d]);
    assert_eq!(di.properties, [0x5001, 0x5003, 0x5005, 0x5007, 0x500d, 0x500f, 0x5011]);
    assert_eq!(
        (di.manufacturer.as_str(), di.model.as_str(), di.device_version.as_str()),
        ("EmuCorp", "Emu-1", "1.0")
    );
    assert_eq!(di.serial_number, "0001");
    let mut out = Vec::new();
    di.encode(&mut out);
    assert_eq!(out, bytes);
}

#[test]
fn golden_storage_info() {
    let bytes =
        hex("04 00 03 00 00 00 | 00 00 00 00 02 00 00 00 | 00 00 00 00 01 00 00 00 | e7 03 00 00 | 00 |
         09 45 00 4d 00 55 00 5f 00 43 00 41 00 52 00 44 00 00 00");
    let si = StorageInfo::decode(&bytes).unwrap();
    assert_eq!((si.storage_type, si.filesystem_type, si.access_capability), (4, 3, 0));
    assert_eq!((si.max_capacity, si.free_space_bytes, si.free_space_images), (8 << 30, 4 << 30, 999));
    assert_eq!((si.description.as_str(), si.volume_label.as_str()), ("", "EMU_CARD"));
    let mut out = Vec::new();
    si.encode(&mut out);
    assert_eq!(out, bytes);
}

#[test]
fn golden_object_info() {
    let bytes = hex(
        "01 00 01 00 01 38 00 00 d6 07 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
         00 00 02 00 00 00 00 00 00 00 00 00 00 00 00 00 0d 49 00 4d 00 47 00 5f 00 30 00 30 00 30 00 31 00 2e 00 4a
         00 50 00 47 00 00 00 10 32 00 30 00 32 00 34 00 30 00 31 00 30 00 32 00 54 00 30 00 33 00 30 00 34 00 30 00
         35 00 00 00 10 32 00 30 00 32 00 34 00 30 00 31 00 30 00 32 00 54 00 30 00 33 00 30 00 34 00 30 00 35 00 00
         00 00",
    );
    assert_eq!(bytes.len(), 146);
    let oi = ObjectInfo::decode(&bytes).unwrap();
    assert_eq!(
        (oi.storage_id, oi.format, oi.compressed_size, oi.parent),
        (0x10001, format::EXIF_JPEG, 2006, 2)
    );
    assert_eq!(oi.filename, "IMG_0001.JPG");
    assert_eq!(oi.modification_date, "20240102T030405");
    assert_eq!(parse_ptp_date(&oi.capture_date).unwrap().to_string(), "2024-01-02 03:04:05");
    let mut out = Vec::new();
    oi.encode(&mut out);
    assert_eq!(out, bytes);
}

#[test]
fn golden_prop_descs() {
    let fnum = hex("07 50 04 00 01 18 01 18 01 02 04 00 18 01 90 01 30 02 20 03");
    let d = DevicePropDesc::decode(&fnum).unwrap();
    assert_eq!((d.code, d.data_type, d.writable), (prop::F_NUMBER, DataType::UINT16, true));
    assert_eq!(d.current, PropValue::U16(280));
    assert_eq!(d.form, PropForm::Enumeration([280u16, 400, 560, 800].map(PropValue::U16).to_vec()));
    assert!(
        d.accepts(&PropValue::U16(560)) && !d.accepts(&PropValue::U16(561)) && !d.accepts(&PropValue::U8(1))
    );
    let mut out = Vec::new();
    d.encode(&mut out);
    assert_eq!(out, fnum);

    let battery = hex("01 50 02 00 00 64 50 01 00 64 01");
    let d = DevicePropDesc::decode(&battery).unwrap();
    assert_eq!((d.writable, d.current.clone()), (false, PropValue::U8(80)));
    assert_eq!(
        d.form,
        PropForm::Range { min: PropValue::U8(0), max: PropValue::U8(100), step: PropValue::U8(1) }
    );
    let mut out = Vec::new();
    d.encode(&mut out);
    assert_eq!(out, battery);

    // DateTime: string, no form; a descriptor that omits the form flag entirely is accepted too.
    let mut dt = hex("11 50 ff ff 01");
    put_ptp_string(&mut dt, "20240102T030405");
    put_ptp_string(&mut dt, "20240102T030405");
    let d = DevicePropDesc::decode(&dt).unwrap();
    assert_eq!((d.data_type, d.form.clone()), (DataType::STR, PropForm::None));
    dt.push(0);
    assert_eq!(DevicePropDesc::decode(&dt).unwrap(), d);
}

#[test]
fn strings_and_dates() {
    let mut r = Reader::new(&[0x00]);
    assert_eq!(r.ptp_string().unwrap(), "");
    let mut r = Reader::new(&[0x01, 0x00, 0x00]);
    assert_eq!(r.ptp_string().unwrap(), "");
    let mut out = Vec::new();
    put_ptp_string(&mut out, "");
    assert_eq!(out, [0]);
    let mut out = Vec::new();
    put_ptp_string(&mut out, &"x".repeat(400));
    assert_eq!(out[0], 255);
    assert_eq!(Reader::new(&out).ptp_string().unwrap().len(), 254);
    for s in ["20240102T030405", "20240102T030405.0", "20240102T030405Z", "20240102T030405+0100"] {
        assert_eq!(format_ptp_date(parse_ptp_date(s).unwrap()), "20240102T030405", "{s}");
    }
    for bad in ["", "2024", "20241302T030405", "2024x102T030405", "20240102 030405"] {
        assert!(parse_ptp_date(bad).is_none(), "{bad}");
    }
}

#[test]
fn hostile_lengths_are_errors_not_allocations() {
    // Header length below its own size.
    assert_eq!(Header::decode(&[4, 0, 0, 0, 6, 0, 0, 0]), Err(WireError::BadLength(4)));
    // Array count of 4 billion with 3 bytes behind it.
    assert!(matches!(decode_u32_array(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]), Err(WireError::BadCount(_))));
    // Enumeration claiming 65535 u32 values.
    let d = hex("07 50 06 00 01 00 00 00 00 00 00 00 00 02 ff ff 01 00 00 00");
    assert!(DevicePropDesc::decode(&d).is_err());
    // String claiming 255 units with 2 bytes behind it.
    assert!(Reader::new(&[0xff, 0x41, 0x00]).ptp_string().is_err());
    // Truncated fixed fields.
    assert!(Packet::decode(6, &[1, 0, 0]).is_err());
    assert!(Packet::decode(9, &[1, 0, 0, 0, 1]).is_err());
    assert!(ObjectInfo::decode(&[0; 20]).is_err());
    // Unknown type is carried, not rejected.
    assert_eq!(Packet::decode(99, &[1, 2]).unwrap(), Packet::Unknown { kind: 99, payload: vec![1, 2] });
    // Unknown data type.
    assert_eq!(PropValue::decode_exact(DataType(0x1234), &[]), Err(WireError::UnsupportedDataType(0x1234)));
}

fn any_scalar() -> impl Strategy<Value = PropValue> {
    prop_oneof![
        any::<i8>().prop_map(PropValue::I8),
        any::<u8>().prop_map(PropValue::U8),
        any::<i16>().prop_map(PropValue::I16),
        any::<u16>().prop_map(PropValue::U16),
        any::<i32>().prop_map(PropValue::I32),
        any::<u32>().prop_map(PropValue::U32),
        any::<i64>().prop_map(PropValue::I64),
        any::<u64>().prop_map(PropValue::U64),
        any::<i128>().prop_map(PropValue::I128),
        any::<u128>().prop_map(PropValue::U128),
        "[a-zA-Z0-9 ./é漢]{0,40}".prop_map(PropValue::Str),
    ]
}

fn any_packet() -> impl Strategy<Value = Packet> {
    let name = "[a-zA-Z0-9 -]{0,30}";
    let params = proptest::collection::vec(any::<u32>(), 0..=5).prop_map(|v| Params::new(&v));
    prop_oneof![
        (any::<[u8; 16]>(), name, any::<u32>()).prop_map(|(guid, name, v)| Packet::InitCommandRequest {
            guid,
            name,
            version: Some(v)
        }),
        (any::<u32>(), any::<[u8; 16]>(), name, any::<u32>()).prop_map(|(connection, guid, name, v)| {
            Packet::InitCommandAck { connection, guid, name, version: Some(v) }
        }),
        any::<u32>().prop_map(|connection| Packet::InitEventRequest { connection }),
        Just(Packet::InitEventAck),
        any::<u32>().prop_map(|reason| Packet::InitFail { reason }),
        (any::<u32>(), any::<u16>(), any::<u32>(), params.clone()).prop_map(
            |(data_phase, code, tid, params)| {
                Packet::OperationRequest(OperationRequest { data_phase, code, tid, params })
            }
        ),
        (any::<u16>(), any::<u32>(), params.clone())
            .prop_map(|(code, tid, params)| Packet::OperationResponse(CodeAndParams { code, tid, params })),
        (any::<u16>(), any::<u32>(), params).prop_map(|(code, tid, params)| Packet::Event(CodeAndParams {
            code,
            tid,
            params
        })),
        (any::<u32>(), any::<u64>()).prop_map(|(tid, total)| Packet::StartData { tid, total }),
        (any::<u32>(), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(tid, data)| Packet::Data { tid, data }),
        any::<u32>().prop_map(|tid| Packet::Cancel { tid }),
        (any::<u32>(), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(tid, data)| Packet::EndData { tid, data }),
        Just(Packet::ProbeRequest),
        Just(Packet::ProbeResponse),
    ]
}

proptest! {
    #[test]
    fn packets_round_trip(p in any_packet()) {
        let bytes = p.to_bytes().unwrap();
        prop_assert_eq!(Packet::decode_frame(&bytes).unwrap(), p);
    }

    #[test]
    fn values_round_trip(v in any_scalar()) {
        prop_assert_eq!(PropValue::decode_exact(v.data_type(), &v.to_bytes()).unwrap(), v);
    }

    #[test]
    fn arrays_round_trip(values in proptest::collection::vec(any::<u16>(), 0..20)) {
        let v = PropValue::Array(DataType::UINT16, values.into_iter().map(PropValue::U16).collect());
        prop_assert_eq!(PropValue::decode_exact(DataType::UINT16.array_of(), &v.to_bytes()).unwrap(), v);
    }

    #[test]
    fn prop_descs_round_trip(cur in any::<u32>(), vals in proptest::collection::vec(any::<u32>(), 0..10), range in any::<bool>()) {
        let form = if range {
            PropForm::Range { min: PropValue::U32(0), max: PropValue::U32(cur), step: PropValue::U32(1) }
        } else {
            PropForm::Enumeration(vals.into_iter().map(PropValue::U32).collect())
        };
        let d = DevicePropDesc { code: 0x500d, data_type: DataType::UINT32, writable: true,
            factory_default: PropValue::U32(1), current: PropValue::U32(cur), form };
        let mut out = Vec::new();
        d.encode(&mut out);
        prop_assert_eq!(DevicePropDesc::decode(&out).unwrap(), d);
    }

    #[test]
    fn object_info_round_trips(size in any::<u32>(), parent in any::<u32>(), name in "[A-Z0-9_]{1,12}\\.JPG", folder in any::<bool>()) {
        let oi = ObjectInfo { storage_id: 0x10001, format: if folder { format::ASSOCIATION } else { format::EXIF_JPEG },
            compressed_size: size, parent, filename: name, capture_date: "20240102T030405".into(),
            modification_date: "20240102T030405".into(), association_type: u16::from(folder), ..Default::default() };
        let mut out = Vec::new();
        oi.encode(&mut out);
        prop_assert_eq!(ObjectInfo::decode(&out).unwrap(), oi);
    }

    #[test]
    fn device_and_storage_info_round_trip(ops in proptest::collection::vec(any::<u16>(), 0..30), model in "[ -~]{0,40}", cap in any::<u64>()) {
        let di = DeviceInfo { standard_version: 100, operations: ops.clone(), properties: ops, model: model.clone(),
            manufacturer: "m".into(), ..Default::default() };
        let mut out = Vec::new();
        di.encode(&mut out);
        prop_assert_eq!(DeviceInfo::decode(&out).unwrap(), di);
        let si = StorageInfo { storage_type: 4, max_capacity: cap, volume_label: model, ..Default::default() };
        let mut out = Vec::new();
        si.encode(&mut out);
        prop_assert_eq!(StorageInfo::decode(&out).unwrap(), si);
    }

    #[test]
    fn decoders_never_panic(kind in 0u32..20, bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Packet::decode(kind, &bytes);
        let _ = DeviceInfo::decode(&bytes);
        let _ = StorageInfo::decode(&bytes);
        let _ = ObjectInfo::decode(&bytes);
        let _ = DevicePropDesc::decode(&bytes);
        let _ = decode_u32_array(&bytes);
    }
}
