//! Properties of the Canon EOS codec: the emulator's encodings read back as written, every prefix of a
//! valid GetEvent reply decodes to a prefix of its events or a typed error, and arbitrary bytes never
//! panic and decode stably.

use camctl_ptpip::wire::WireError;
use camctl_ptpip::wire::canon::*;
// Explicit, so it wins over proptest's `prop` module from the prelude glob.
use camctl_ptpip::wire::canon::prop;
use proptest::prelude::*;

/// Record types the decoder turns into typed events (an `Unknown` of these would read back typed).
const DECODED: [u32; 17] = [
    event::TERMINATOR,
    event::OBJECT_ADDED_EX,
    event::OBJECT_REMOVED,
    event::STORAGE_STATUS_CHANGED,
    event::STORAGE_INFO_CHANGED,
    event::REQUEST_OBJECT_TRANSFER,
    event::OBJECT_INFO_CHANGED_EX,
    event::OBJECT_CONTENT_CHANGED,
    event::PROP_VALUE_CHANGED,
    event::AVAIL_LIST_CHANGED,
    event::CAMERA_STATUS_CHANGED,
    event::STORE_ADDED,
    event::STORE_REMOVED,
    event::BULB_EXPOSURE_TIME,
    event::CTG_INFO_CHECK_COMPLETE,
    event::OLC_INFO_CHANGED,
    event::OBJECT_ADDED_EX64,
];

fn any_name() -> impl Strategy<Value = String> {
    "[A-Z0-9_]{0,8}(\\.[A-Z0-9]{3})?"
}

fn any_entry() -> impl Strategy<Value = ImageFormatEntry> {
    (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(kind, size, compression)| ImageFormatEntry {
        kind,
        size,
        compression,
    })
}

fn any_image_format() -> impl Strategy<Value = ImageFormat> {
    (any_entry(), proptest::option::of(any_entry())).prop_map(|(first, second)| ImageFormat { first, second })
}

fn any_object() -> impl Strategy<Value = EosObject> {
    (any::<u32>(), any::<u32>(), any::<u16>(), any::<u32>(), any::<u32>(), any_name()).prop_map(
        |(handle, storage, format, size, parent, name)| EosObject {
            handle,
            storage,
            format,
            size,
            parent,
            name,
        },
    )
}

fn any_prop_code() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(prop::APERTURE),
        Just(prop::OWNER),
        Just(prop::IMAGE_FORMAT),
        0xD100u32..0xD200,
        any::<u32>()
    ]
}

fn any_event() -> impl Strategy<Value = EosEvent> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..40);
    prop_oneof![
        (any_prop_code(), bytes())
            .prop_map(|(code, value)| EosEvent::PropValueChanged(EosProp { code, value })),
        (
            any_prop_code().prop_filter("not ImageFormat", |c| !prop::is_image_format(*c)),
            proptest::collection::vec(any::<u32>(), 0..20)
        )
            .prop_map(|(code, v)| EosEvent::AllowedValues(AllowedValues::ints(code, &v))),
        proptest::collection::vec(any_image_format(), 0..4).prop_map(|v| EosEvent::AllowedValues(
            AllowedValues { code: prop::IMAGE_FORMAT_SD, values: AllowedList::ImageFormats(v) }
        )),
        (any::<u32>().prop_filter("not 3", |t| *t != 3), any::<u32>(), bytes()).prop_map(
            |(list_type, count, data)| EosEvent::AllowedValues(AllowedValues {
                code: prop::DRIVE_MODE,
                values: AllowedList::Raw { list_type, count, data }
            })
        ),
        any_object().prop_map(EosEvent::ObjectAdded),
        any_object().prop_map(EosEvent::ObjectInfoChanged),
        (any_object(), any::<u32>(), any::<u32>()).prop_map(|(object, size_high, second_handle)| {
            EosEvent::ObjectAdded64(EosObject64 { object, size_high, second_handle })
        }),
        (any::<u32>(), any::<u16>(), any::<u32>(), any_name(), any::<bool>()).prop_map(
            |(handle, format, size, name, wide)| {
                let t = TransferRequest { handle, format, size, name };
                if wide { EosEvent::RequestObjectTransfer64(t) } else { EosEvent::RequestObjectTransfer(t) }
            }
        ),
        any::<u32>().prop_map(|handle| EosEvent::ObjectRemoved { handle }),
        any::<u32>().prop_map(|handle| EosEvent::ObjectContentChanged { handle }),
        any::<u32>().prop_map(|status| EosEvent::CameraStatusChanged { status }),
        bytes().prop_map(|payload| EosEvent::OlcInfoChanged { payload }),
        (proptest::sample::select(event::NOTICES.to_vec()), any::<u32>())
            .prop_map(|(record_type, value)| EosEvent::Notice { record_type, value }),
        (any::<u32>().prop_filter("undecoded type", |t| !DECODED.contains(t)), bytes())
            .prop_map(|(record_type, payload)| EosEvent::Unknown { record_type, payload }),
    ]
}

fn encode(events: &[EosEvent]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_events(events, &mut out);
    out
}

proptest! {
    #[test]
    fn events_round_trip(events in proptest::collection::vec(any_event(), 0..12)) {
        prop_assert_eq!(decode_events(&encode(&events)).unwrap(), events);
    }

    #[test]
    fn every_prefix_is_a_prefix_of_the_events_or_a_typed_error(
        events in proptest::collection::vec(any_event(), 0..6)
    ) {
        let bytes = encode(&events);
        for end in 0..=bytes.len() {
            match decode_events(&bytes[..end]) {
                Ok(got) => prop_assert!(events.starts_with(&got), "prefix {} gave {:?}", end, got),
                Err(WireError::Truncated(_) | WireError::LengthMismatch { .. }) => {}
                Err(e) => prop_assert!(false, "prefix {} gave unexpected {:?}", end, e),
            }
        }
    }

    #[test]
    fn arbitrary_bytes_decode_stably(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(events) = decode_events(&data) {
            prop_assert_eq!(decode_events(&encode(&events)).unwrap(), events);
        }
        let _ = EosProp::decode_set_prop_ex(&data);
        let _ = ImageFormat::decode(&data);
        let _ = viewfinder_jpeg(&data);
        prop_assert!(ViewfinderBlobs::new(&data).count() <= MAX_VIEWFINDER_BLOBS + 1);
    }

    #[test]
    fn records_with_garbage_payloads_never_panic(
        record_type in prop_oneof![proptest::sample::select(DECODED.to_vec()), any::<u32>()],
        payload in proptest::collection::vec(any::<u8>(), 0..80)
    ) {
        let mut data = Vec::new();
        data.extend(((payload.len() + 8) as u32).to_le_bytes());
        data.extend(record_type.to_le_bytes());
        data.extend(&payload);
        let events = decode_events(&data).unwrap();
        prop_assert!(events.len() <= 1);
        prop_assert_eq!(decode_events(&encode(&events)).unwrap(), events);
    }

    #[test]
    fn set_prop_ex_round_trips(code in any::<u32>(), value in proptest::collection::vec(any::<u8>(), 0..64)) {
        let p = EosProp { code, value };
        prop_assert_eq!(EosProp::decode_set_prop_ex(&p.set_prop_ex_bytes()).unwrap(), p);
    }

    #[test]
    fn set_prop_ex_ints_are_12_bytes(code in any::<u32>(), v in any::<u32>()) {
        let bytes = EosProp::int(code, v).set_prop_ex_bytes();
        prop_assert_eq!(bytes.len(), 12);
        prop_assert_eq!(&bytes[..4], &[12, 0, 0, 0]);
    }

    #[test]
    fn image_formats_round_trip(f in any_image_format()) {
        let mut out = Vec::new();
        f.encode(&mut out);
        prop_assert_eq!(out.len(), f.encoded_len());
        prop_assert_eq!(ImageFormat::decode(&out).unwrap(), f);
    }

    #[test]
    fn image_format_codes_round_trip(code in any::<u16>().prop_filter("low byte 0 reads as one file", |c| c & 0xFF != 0)) {
        prop_assert_eq!(ImageFormat::from_code(code).code(), code);
        if let Some(back) = image_format_code(&image_format_name(code)) {
            // Names repeat for a few codes, so compare the names, not the codes.
            prop_assert_eq!(image_format_name(back), image_format_name(code));
        }
    }

    #[test]
    fn table_names_parse_back_to_a_value_of_the_same_name(code in 0u32..0x1_0000, which in 0usize..10) {
        let table = [
            &APERTURE, &SHUTTER_SPEED, &ISO, &EXPOSURE_COMPENSATION, &AUTO_EXPOSURE_MODE,
            &DRIVE_MODE, &FOCUS_MODE, &WHITE_BALANCE, &BATTERY_LEVEL, &EVF_OUTPUT,
        ][which];
        let name = table.name(code);
        let back = table.value(&name).unwrap();
        prop_assert_eq!(table.name(back), name);
    }

    #[test]
    fn viewfinder_round_trips(jpeg in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut out = Vec::new();
        encode_viewfinder(&jpeg, &mut out);
        prop_assert_eq!(viewfinder_jpeg(&out).unwrap(), Some(&jpeg[..]));
        for end in 0..out.len() {
            let _ = viewfinder_jpeg(&out[..end]);
        }
    }
}
