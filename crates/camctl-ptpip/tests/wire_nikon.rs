//! The Nikon wire layer: golden bytes from `ptpip-vendors.md` §3 and the seed's "Profile creation
//! packet" table, round trips, and truncated or random input (always a value or a typed error).

use std::net::Ipv4Addr;

use camctl_ptpip::wire::nikon::prop as nikon_prop;
use camctl_ptpip::wire::nikon::*;
use camctl_ptpip::wire::{PropValue, WireError};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace().filter(|t| *t != "|").map(|t| u8::from_str_radix(t, 16).unwrap()).collect()
}

// ---------------------------------------------------------------------------------------------
// GetEvent 0x90C7 / GetEventEx 0x941C / GetVendorPropCodes 0x90CA
// ---------------------------------------------------------------------------------------------

#[test]
fn golden_get_event_from_the_reference() {
    // §3.3: ObjectAddedInSdram(0xFFFF0001), CaptureCompleteRecInSdram.
    let data = hex("02 00 | 01 c1 01 00 ff ff | 02 c1 00 00 00 00");
    let events = decode_events(&data).unwrap();
    assert_eq!(
        events,
        [
            NikonEvent::ObjectAddedInSdram { handle: capture::SDRAM_HANDLE },
            NikonEvent::CaptureCompleteRecInSdram { param: 0 }
        ]
    );
    assert_eq!(events[0].sdram_handle(), Some(0xFFFF_0001));
    assert!(events.iter().all(|e| e.ends_capture()));
    let mut out = Vec::new();
    encode_events(&events, &mut out).unwrap();
    assert_eq!(out, data);
}

#[test]
fn golden_get_event_card_capture_and_props() {
    let data = hex("04 00 | 02 40 07 00 01 00 | 06 40 07 50 00 00 | 0d 40 2a 00 00 00 | 99 c1 05 00 00 00");
    assert_eq!(
        decode_events(&data).unwrap(),
        [
            NikonEvent::ObjectAdded { handle: 0x0001_0007 },
            NikonEvent::DevicePropChanged { prop: 0x5007 },
            NikonEvent::CaptureComplete { transaction: 42 },
            NikonEvent::Unknown { code: 0xC199, param: 5 },
        ]
    );
}

#[test]
fn get_event_edge_cases() {
    assert_eq!(decode_events(&[]).unwrap(), []);
    assert_eq!(decode_events(&hex("00 00")).unwrap(), []);
    assert_eq!(decode_events(&[0x01]), Err(WireError::Truncated("event count")));
    // A count past the records present is a typed error, never an allocation of 65535 records.
    assert_eq!(decode_events(&hex("ff ff 01 c1 00 00 00 00")), Err(WireError::BadCount(0xFFFF)));
    // Trailing bytes after the counted records are ignored, as gphoto2 ignores them.
    assert_eq!(decode_events(&hex("01 00 02 c1 00 00 00 00 ee")).unwrap().len(), 1);
    // SDRAM handle 0 means 0xFFFF0001; a non-zero handle is used as sent.
    assert_eq!(NikonEvent::ObjectAddedInSdram { handle: 0 }.sdram_handle(), Some(0xFFFF_0001));
    assert_eq!(NikonEvent::ObjectAddedInSdram { handle: 7 }.sdram_handle(), Some(7));
    assert_eq!(NikonEvent::ObjectAdded { handle: 7 }.sdram_handle(), None);
    // A property change with a parameter above 16 bits is kept whole as Unknown.
    assert_eq!(
        NikonEvent::from_record(0x4006, 0x1_5007),
        NikonEvent::Unknown { code: 0x4006, param: 0x1_5007 }
    );
}

#[test]
fn get_event_encoder_refuses_more_than_a_u16_count() {
    let many = vec![NikonEvent::CaptureCompleteRecInSdram { param: 0 }; MAX_EVENTS_PER_REPLY + 1];
    let mut out = Vec::new();
    assert_eq!(encode_events(&many, &mut out), Err(WireError::TooLarge(MAX_EVENTS_PER_REPLY + 1)));
    assert!(encode_events(&many[..MAX_EVENTS_PER_REPLY], &mut out).is_ok());
    assert_eq!(out.len(), 2 + MAX_EVENTS_PER_REPLY * EVENT_RECORD_LEN);
}

#[test]
fn golden_get_event_ex() {
    let data = hex("02 00 | 00 00 | 01 c1 01 00 01 00 ff ff | 02 40 02 00 05 00 00 00 01 00 01 00");
    let events = decode_events_ex(&data).unwrap();
    assert_eq!(
        events,
        [
            NikonEventEx { code: 0xC101, params: vec![0xFFFF_0001] },
            NikonEventEx { code: 0x4002, params: vec![5, 0x0001_0001] },
        ]
    );
    assert_eq!(events[1].event(), NikonEvent::ObjectAdded { handle: 5 });
    let mut out = Vec::new();
    encode_events_ex(&events, &mut out).unwrap();
    assert_eq!(out, data);
    assert_eq!(decode_events_ex(&hex("01 00 00 00 01 c1 06 00")), Err(WireError::BadCount(6)));
    let too_many = [NikonEventEx { code: 1, params: vec![0; 6] }];
    assert_eq!(encode_events_ex(&too_many, &mut Vec::new()), Err(WireError::TooLarge(6)));
}

#[test]
fn golden_vendor_prop_codes() {
    let data = hex("04 00 00 00 | 00 d1 0b d1 a2 d1 a4 d1");
    let codes = decode_vendor_prop_codes(&data).unwrap();
    assert_eq!(
        codes,
        [
            nikon_prop::EXPOSURE_TIME,
            nikon_prop::RECORDING_MEDIA,
            nikon_prop::LIVE_VIEW_STATUS,
            nikon_prop::LIVE_VIEW_PROHIBIT_CONDITION
        ]
    );
    let mut out = Vec::new();
    encode_vendor_prop_codes(&codes, &mut out);
    assert_eq!(out, data);
    assert_eq!(decode_vendor_prop_codes(&hex("ff ff ff 0f 00 d1")), Err(WireError::BadCount(0x0FFF_FFFF)));
}

#[test]
fn device_ready_follows_gphoto2() {
    assert_eq!(DeviceReady::from_response(0x2019), DeviceReady::Busy);
    assert_eq!(DeviceReady::from_response(rc::BULB_RELEASE_BUSY), DeviceReady::Busy);
    assert_eq!(DeviceReady::from_response(0x2001), DeviceReady::Ready);
    assert_eq!(DeviceReady::from_response(rc::SILENT_RELEASE_BUSY), DeviceReady::Ready);
    assert_eq!(DeviceReady::from_response(0x2005), DeviceReady::Failed(0x2005));
}

#[test]
fn operation_names() {
    assert_eq!(op::name(op::GET_EVENT), Some("GetEvent"));
    assert_eq!(op::name(0x90C8), Some("DeviceReady"));
    assert_eq!(op::name(0x9207), Some("InitiateCaptureRecInMedia"));
    assert_eq!(op::name(0x1001), None);
    assert!(op::has_data_out(op::SEND_PROFILE_DATA));
    assert!(!op::has_data_out(op::GET_PROFILE_ALL_DATA));
}

// ---------------------------------------------------------------------------------------------
// GetLiveViewImg 0x9203
// ---------------------------------------------------------------------------------------------

fn tiny_jpeg() -> Vec<u8> {
    hex("ff d8 ff e0 00 10 4a 46 49 46 00 01 | ff d9 | 12 34 | ff d9")
}

#[test]
fn live_view_split_at_the_known_header() {
    let jpeg = tiny_jpeg();
    let mut data = Vec::new();
    encode_live_view(LiveViewHeaderLen::DEFAULT_BYTES, &jpeg, &mut data);
    data.extend_from_slice(&[0, 0, 0]); // padding after the image
    let image = split_live_view(&data, LiveViewHeaderLen::Known(384)).unwrap();
    assert_eq!(image.header.len(), 384);
    assert_eq!(image.jpeg, &jpeg[..], "ends at the last EOI, not the first");
    assert_eq!(split_live_view(&data, LiveViewHeaderLen::Unknown).unwrap(), image);
}

#[test]
fn live_view_wrong_hint_falls_back_to_soi_search() {
    let jpeg = tiny_jpeg();
    let mut data = vec![0x11; 128];
    data.extend_from_slice(&jpeg);
    // The sources disagree (128 / 384 / 64): a wrong guess must still find the image.
    for hint in
        [LiveViewHeaderLen::Known(384), LiveViewHeaderLen::Known(64), LiveViewHeaderLen::Known(usize::MAX)]
    {
        let image = split_live_view(&data, hint).unwrap();
        assert_eq!((image.header.len(), image.jpeg), (128, &jpeg[..]));
    }
}

#[test]
fn live_view_errors_are_typed_and_bounded() {
    assert_eq!(
        split_live_view(&[], LiveViewHeaderLen::Unknown),
        Err(WireError::Truncated("live view JPEG start"))
    );
    assert_eq!(
        split_live_view(&hex("00 ff d8 ff e0 00"), LiveViewHeaderLen::Unknown),
        Err(WireError::Truncated("live view JPEG end"))
    );
    // A header longer than the search bound is not searched past (unless the hint says so).
    let mut data = vec![0; MAX_LIVE_VIEW_HEADER + 1];
    data.extend_from_slice(&tiny_jpeg());
    assert!(split_live_view(&data, LiveViewHeaderLen::Unknown).is_err());
    assert!(split_live_view(&data, LiveViewHeaderLen::Known(MAX_LIVE_VIEW_HEADER + 1)).is_ok());
    // The SOI's own FF D8 is no end marker.
    assert!(split_live_view(&hex("ff d8 ff d9"), LiveViewHeaderLen::Unknown).is_ok());
    assert!(split_live_view(&hex("ff d8 ff"), LiveViewHeaderLen::Unknown).is_err());
}

#[test]
fn live_view_header_hints_per_model() {
    assert_eq!(LiveViewHeaderLen::for_model("D3X"), LiveViewHeaderLen::Known(64));
    assert_eq!(LiveViewHeaderLen::for_model("Nikon D700"), LiveViewHeaderLen::Known(64));
    assert_eq!(LiveViewHeaderLen::for_model("D750"), LiveViewHeaderLen::Known(384));
    assert_eq!(LiveViewHeaderLen::for_model("Z 6_2"), LiveViewHeaderLen::Known(384));
}

#[test]
fn live_view_prohibit_reasons_name_the_bits() {
    assert!(live_view_prohibit_reasons(0).is_empty());
    assert_eq!(
        live_view_prohibit_reasons((1 << 14) | (1 << 3)),
        ["bit 3".to_string(), "no memory card".to_string()]
    );
}

// ---------------------------------------------------------------------------------------------
// Wi-Fi profile (SendProfileData 0x9007)
// ---------------------------------------------------------------------------------------------

const GUID: [u8; 16] =
    [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00];
const WEP128_KEY: &[u8] = b"0123456789abc";

/// A WEP128 profile with a manual address (documentation addresses, RFC 5737).
fn sample_profile() -> WifiProfile {
    let mut p = WifiProfile {
        name: "camctl".into(),
        ip_address: Ipv4Addr::new(192, 0, 2, 10),
        subnet_mask: prefix_len(Ipv4Addr::new(255, 255, 255, 0)),
        gateway: Ipv4Addr::new(192, 0, 2, 1),
        address_setting: address_setting::MANUAL,
        channel: 6,
        ssid: "camnet".into(),
        encryption: encryption::WEP128,
        machine_guid: GUID,
        ..WifiProfile::default()
    };
    p.set_key(WEP128_KEY).unwrap();
    p
}

/// The seed's field table, written field by field at its offsets (independent of the encoder's
/// sequential writes).
fn sample_profile_from_seed_table() -> Vec<u8> {
    let mut g = vec![0u8; 0xC4];
    let mut put = |at: usize, bytes: &[u8]| g[at..at + bytes.len()].copy_from_slice(bytes);
    put(0x00, &[0x64]); // Version
    put(0x01, &17u32.to_le_bytes()); // length, always 16+1
    put(0x05, b"camctl"); // profilename[length]
    put(0x16, &[0]); // DisplayOrder
    put(0x17, &[0]); // DeviceType: computer
    put(0x18, &[1]); // IconType
    put(0x19, &[0x10]); // length_in_characters
    let date: Vec<u8> = "19990909T090909".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    put(0x1A, &date); // timestr[16], NUL included (zeros)
    put(0x3A, &[192, 0, 2, 10]); // IPAddress
    put(0x3E, &[24]); // SubnetMask (gphoto2: prefix length)
    put(0x3F, &[192, 0, 2, 1]); // Gateway
    put(0x43, &[0]); // AddressSetting: manual
    put(0x44, &[0]); // AccessMode: managed
    put(0x45, &[6]); // Channel
    put(0x46, &33u32.to_le_bytes()); // length, always 32+1
    put(0x4A, b"camnet"); // SSID[length]
    put(0x6B, &[0]); // Authentication: open
    put(0x6C, &[2]); // Encryption: WEP 128
    put(0x6D, &64u32.to_le_bytes()); // length, always 64
    put(0x71, WEP128_KEY); // EncryptionKey[length]
    put(0xB1, &[1]); // EncryptionKeyNr
    put(0xB2, &GUID); // MachineGUID
    put(0xC2, &13u16.to_le_bytes()); // key length: WEP128
    g
}

#[test]
fn golden_profile_matches_the_seed_table() {
    let bytes = sample_profile().to_bytes().unwrap();
    assert_eq!(bytes.len(), PROFILE_LEN);
    assert_eq!(bytes, sample_profile_from_seed_table());
    // The first line as hex, for a reader comparing with a capture.
    assert_eq!(bytes[..0x0B], hex("64 | 11 00 00 00 | 63 61 6d 63 74 6c")[..]);
    assert_eq!(WifiProfile::decode(&bytes).unwrap(), sample_profile());
}

#[test]
fn default_profile_is_what_gphoto2_writes_for_dhcp() {
    let bytes =
        WifiProfile { name: "x".into(), ssid: "y".into(), ..WifiProfile::default() }.to_bytes().unwrap();
    assert_eq!(bytes[0x43], address_setting::DHCP_MANAGED);
    assert_eq!(bytes[0x3A..0x3E], [0, 0, 0, 0]);
    assert_eq!(bytes[0x18], 1);
    assert_eq!(bytes[0xB1], 1);
    assert_eq!(bytes[0xC2..0xC4], [0, 0]);
}

#[test]
fn profile_debug_never_shows_the_key() {
    let p = sample_profile();
    let shown = format!("{p:?} {p:#?} {:?}", p.key);
    let key_text = std::str::from_utf8(WEP128_KEY).unwrap();
    assert!(!shown.contains(key_text), "{shown}");
    assert!(!shown.contains(&format!("{:?}", WEP128_KEY)), "{shown}");
    assert!(!shown.contains("48, 49, 50"), "key bytes as decimals: {shown}");
    assert!(shown.contains("redacted"));
    assert!(shown.contains("camnet"), "the rest stays visible");
    assert_eq!(format!("{:?}", WifiKey::default()), "WifiKey(<none>)");
    assert_eq!(p.key_bytes(), WEP128_KEY);
}

#[test]
fn profile_encoder_refuses_what_does_not_fit() {
    let long_name = WifiProfile { name: "x".repeat(17), ..WifiProfile::default() };
    assert_eq!(long_name.to_bytes(), Err(ProfileError::TooLong { field: "profile name", len: 17, max: 16 }));
    let long_ssid = WifiProfile { ssid: "s".repeat(33), ..WifiProfile::default() };
    assert!(matches!(long_ssid.to_bytes(), Err(ProfileError::TooLong { field: "SSID", .. })));
    let nul = WifiProfile { ssid: "a\0b".into(), ..WifiProfile::default() };
    assert_eq!(nul.to_bytes(), Err(ProfileError::ContainsNul { field: "SSID" }));
    let long_date = WifiProfile { date_time: "19990909T0909099".into(), ..WifiProfile::default() };
    assert!(long_date.to_bytes().is_err());
    assert!(WifiKey::new(&[1; 65]).is_err());
    assert!(WifiProfile::default().set_key(&[1; 64]).is_ok());
    // Exactly the maximum lengths fit.
    let full = WifiProfile { name: "n".repeat(16), ssid: "s".repeat(32), ..WifiProfile::default() };
    assert_eq!(WifiProfile::decode(&full.to_bytes().unwrap()).unwrap(), full);
}

#[test]
fn profile_decoder_checks_the_fixed_lengths() {
    let good = sample_profile_from_seed_table();
    for (at, wrong) in [(0x01, 16u8), (0x19, 0x0F), (0x46, 32), (0x6D, 65)] {
        let mut bad = good.clone();
        bad[at] = wrong;
        assert_eq!(WifiProfile::decode(&bad), Err(WireError::BadCount(u64::from(wrong))), "offset {at:#x}");
    }
    let mut longer = good.clone();
    longer.extend_from_slice(&[9, 9]);
    assert_eq!(WifiProfile::decode(&longer).unwrap(), sample_profile(), "trailing bytes ignored");
}

#[test]
fn every_profile_prefix_is_a_truncation_error() {
    let bytes = sample_profile_from_seed_table();
    for n in 0..bytes.len() {
        assert!(
            matches!(WifiProfile::decode(&bytes[..n]), Err(WireError::Truncated(_))),
            "prefix of {n} bytes"
        );
    }
}

#[test]
fn prefix_len_counts_leading_ones() {
    assert_eq!(prefix_len(Ipv4Addr::new(255, 255, 255, 0)), 24);
    assert_eq!(prefix_len(Ipv4Addr::new(255, 255, 0, 0)), 16);
    assert_eq!(prefix_len(Ipv4Addr::UNSPECIFIED), 0);
    assert_eq!(prefix_len(Ipv4Addr::BROADCAST), 32);
}

// ---------------------------------------------------------------------------------------------
// GetProfileAllData 0x9006
// ---------------------------------------------------------------------------------------------

fn sample_list_bytes() -> Vec<u8> {
    let mut v = hex("64 02");
    // Slot 1, valid: "home", display 0, computer, icon 1, dates "20240101T120000" / "", SSID "camnet".
    v.extend(hex("01 01 | 05 00 00 00 | 68 6f 6d 65 00 | 00 00 01"));
    v.push(16);
    v.extend("20240101T120000".encode_utf16().chain([0]).flat_map(|u| u.to_le_bytes()));
    v.push(0);
    v.extend(hex("06 00 00 00 | 63 61 6d 6e 65 74 | 7a"));
    // Slot 2, free.
    v.extend(hex("02 00 | 00 00 00 00 | 00 00 00 | 00 | 00 | 00 00 00 00 | 00"));
    v
}

#[test]
fn golden_profile_list() {
    let list = ProfileList::decode(&sample_list_bytes()).unwrap();
    assert_eq!(list.version, 0x64);
    assert_eq!(list.slots.len(), 2);
    let home = &list.slots[0];
    assert_eq!((home.id, home.valid, home.name.as_str(), home.ssid.as_str()), (1, 1, "home", "camnet"));
    assert_eq!(home.creation_date, "20240101T120000");
    assert_eq!(home.last_usage_date, "");
    assert_eq!(home.trailing, 0x7a);
    assert_eq!(list.slots[1], ProfileSlot { id: 2, icon_type: 0, ..ProfileSlot::default() });
    assert_eq!(list.first_free_slot(), Some(2));
    // The encoder pads names to the profile's field sizes; the result decodes to the same list.
    assert_eq!(ProfileList::decode(&list.to_bytes().unwrap()).unwrap(), list);
}

#[test]
fn profile_list_edge_cases() {
    assert_eq!(ProfileList::decode(&hex("64 00")).unwrap(), ProfileList { version: 0x64, slots: vec![] });
    assert_eq!(ProfileList::decode(&hex("64 ff 00")), Err(WireError::BadCount(255)));
    // A name length beyond the data is a typed error, not an allocation.
    let mut bad = hex("64 01 01 01 ff ff ff ff");
    bad.extend([0; 12]);
    assert_eq!(ProfileList::decode(&bad), Err(WireError::BadCount(0xFFFF_FFFF)));
    // Names longer than 16 bytes keep 16, as gphoto2 keeps.
    let mut long = hex("64 01 01 01 14 00 00 00");
    long.extend(b"abcdefghijklmnopqrst");
    long.extend(hex("00 00 01 00 00 00 00 00 00 00"));
    assert_eq!(ProfileList::decode(&long).unwrap().slots[0].name, "abcdefghijklmnop");
    let full = ProfileList { version: 1, slots: vec![ProfileSlot { valid: 1, ..ProfileSlot::default() }] };
    assert_eq!(full.first_free_slot(), None);
    let too_many = ProfileList { version: 1, slots: vec![ProfileSlot::default(); 256] };
    assert!(too_many.to_bytes().is_err());
}

#[test]
fn every_profile_list_prefix_is_an_error() {
    let bytes = sample_list_bytes();
    for n in 0..bytes.len() {
        assert!(ProfileList::decode(&bytes[..n]).is_err(), "prefix of {n} bytes");
    }
}

// ---------------------------------------------------------------------------------------------
// Exposure settings
// ---------------------------------------------------------------------------------------------

#[test]
fn exposure_labels_are_gphoto2s() {
    use ExposureSetting::*;
    assert_eq!(FNumber.label(560), "f/5.6");
    assert_eq!(FNumber.label(1100), "f/11");
    assert_eq!(ExposureTime.label(80), "0.0080s");
    assert_eq!(ExposureTime.label(300_000), "30.0000s");
    assert_eq!(ExposureTime.label(0xFFFF_FFFF), "Bulb");
    assert_eq!(ExposureTime.label(0xFFFF_FFFD), "Time");
    assert_eq!(NikonExposureTime.label((1 << 16) | 125), "1/125");
    assert_eq!(NikonExposureTime.label((30 << 16) | 1), "30");
    assert_eq!(NikonExposureTime.label(0xFFFF_FFFE), "x 200");
    assert_eq!(NikonExposureTime.label(5 << 16), "Unknown value 0x50000");
    assert_eq!(Iso.label(400), "400");
    assert_eq!(ExposureCompensation.label(-700), "-0.7");
    assert_eq!(ExposureCompensation.label(1333), "1.333");
    assert_eq!(WhiteBalance.label(0x8010), "Cloudy");
    assert_eq!(WhiteBalance.label(0x8016), "Natural light auto");
    assert_eq!(WhiteBalance.label(0x8099), "Unknown value 0x8099");
    assert_eq!(ImageQuality.label(2), "JPEG Fine");
    assert_eq!(ImageQuality.label(3), "Unknown value 0x0003");
}

#[test]
fn exposure_parsing_accepts_what_gphoto2_accepts() {
    use ExposureSetting::*;
    assert_eq!(FNumber.parse("f/5.6"), Some(560));
    assert_eq!(FNumber.parse("5.6"), Some(560));
    assert_eq!(ExposureTime.parse("1/125"), Some(80));
    assert_eq!(ExposureTime.parse("1 1/2"), Some(15_000));
    assert_eq!(ExposureTime.parse("0.0080s"), Some(80));
    assert_eq!(ExposureTime.parse("bulb"), Some(0xFFFF_FFFF));
    assert_eq!(NikonExposureTime.parse("1/250"), Some((1 << 16) | 250));
    assert_eq!(NikonExposureTime.parse("1/0"), None);
    assert_eq!(Iso.parse("6400"), Some(6400));
    assert_eq!(Iso.parse("70000"), None, "outside u16");
    assert_eq!(ExposureCompensation.parse("-0.7"), Some(-700));
    assert_eq!(ExposureCompensation.parse("+1"), Some(1000));
    assert_eq!(WhiteBalance.parse("shade"), Some(0x8011));
    assert_eq!(WhiteBalance.parse("Unknown value 0x8099"), Some(0x8099));
    assert_eq!(ImageQuality.parse("NEF+Fine"), Some(7));
    assert_eq!(ImageQuality.parse("0x100"), None, "outside u8");
    assert_eq!(FNumber.parse("wide open"), None);
}

#[test]
fn exposure_parse_offered_snaps_and_disambiguates() {
    use ExposureSetting::*;
    let offered = [80, 100, 125, 167];
    assert_eq!(ExposureTime.parse_offered("1/120", &offered), Some(80));
    assert_eq!(ExposureTime.parse_offered("0.0125s", &offered), Some(125));
    assert_eq!(ExposureCompensation.parse_offered("0.4", &[0, 333, 667]), Some(333));
    // Two white balance values share "Flash": the offered one wins.
    assert_eq!(WhiteBalance.parse("Flash"), Some(0x0007));
    assert_eq!(WhiteBalance.parse_offered("Flash", &[0x0002, 0x8015]), Some(0x8015));
    // Names are never snapped to an unrelated offered name.
    assert_eq!(WhiteBalance.parse_offered("Shade", &[0x0002]), Some(0x8011));
    assert_eq!(Iso.parse_offered("400", &[]), Some(400));
}

#[test]
fn exposure_setting_codes_names_and_types() {
    use ExposureSetting::*;
    for s in ExposureSetting::ALL {
        assert_eq!(ExposureSetting::from_prop_code(s.prop_code()), Some(s));
        assert_eq!(ExposureSetting::from_gphoto_name(s.gphoto_name()), Some(s));
    }
    assert_eq!(ExposureSetting::from_gphoto_name("aperture"), Some(FNumber));
    assert_eq!(ExposureSetting::from_gphoto_name("ISO"), Some(Iso));
    assert_eq!(ExposureSetting::from_prop_code(0xD100), Some(NikonExposureTime));
    assert_eq!(ExposureSetting::from_prop_code(0x5001), None);
    assert_eq!(FNumber.to_prop_value(560), Some(PropValue::U16(560)));
    assert_eq!(ExposureCompensation.to_prop_value(-700), Some(PropValue::I16(-700)));
    assert_eq!(ImageQuality.to_prop_value(300), None);
    assert_eq!(Iso.from_prop_value(&PropValue::U16(800)), Some(800));
    assert_eq!(Iso.from_prop_value(&PropValue::U32(800)), None, "wrong data type");
    assert_eq!(nearest(5, &[]), None);
}

// ---------------------------------------------------------------------------------------------
// Response codes
// ---------------------------------------------------------------------------------------------

#[test]
fn responses_are_explained() {
    let denied = describe_response(0x200F);
    assert!(denied.starts_with("AccessDenied (0x200F): the camera refuses"), "{denied}");
    assert!(denied.contains("Wi-Fi transfer / connection setting"), "{denied}");
    let unsupported = describe_response(0x2005);
    assert!(unsupported.starts_with("OperationNotSupported (0x2005): "), "{unsupported}");
    assert!(unsupported.contains("Wi-Fi connection setting"), "{unsupported}");
    assert!(describe_response(rc::NOT_LIVE_VIEW).starts_with("Nikon_NotLiveView (0xA00B): live view"));
    assert_eq!(describe_response(0xA0FF), "vendor-specific (0xA0FF)");
    assert_eq!(describe_response(0x2001), "OK (0x2001)");
    assert_eq!(explain_response(0x2001), None);
    assert_eq!(rc::name(0xA022), "Nikon_StoreUnformatted");
    assert_eq!(rc::name(0x2019), "DeviceBusy");
}

// ---------------------------------------------------------------------------------------------
// Properties: round trips and hostile bytes
// ---------------------------------------------------------------------------------------------

fn any_event() -> impl Strategy<Value = NikonEvent> {
    let codes = prop_oneof![
        Just(0x4002u16),
        Just(0x4003),
        Just(0x4004),
        Just(0x4005),
        Just(0x4006),
        Just(0x4007),
        Just(0x4008),
        Just(0x400A),
        Just(0x400C),
        Just(0x400D),
        Just(0xC101),
        Just(0xC102),
        any::<u16>(),
    ];
    let params = prop_oneof![any::<u32>(), 0u32..0x1_0000];
    (codes, params).prop_map(|(c, p)| NikonEvent::from_record(c, p))
}

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0x20u8..0x7F, 0..=max).prop_map(|b| String::from_utf8(b).unwrap())
}

fn any_profile() -> impl Strategy<Value = WifiProfile> {
    (
        (any::<u8>(), text(16), any::<[u8; 3]>(), text(15), any::<[u8; 4]>(), any::<u8>(), any::<[u8; 4]>()),
        (any::<[u8; 3]>(), text(32), any::<[u8; 2]>(), proptest::collection::vec(any::<u8>(), 0..=64)),
        (any::<u8>(), any::<[u8; 16]>(), any::<u16>()),
    )
        .prop_map(
            |((version, name, display, date, ip, mask, gw), (addr, ssid, sec, key), (nr, guid, len))| {
                WifiProfile {
                    version,
                    name,
                    display_order: display[0],
                    device_type: display[1],
                    icon_type: display[2],
                    date_time: date,
                    ip_address: Ipv4Addr::from(ip),
                    subnet_mask: mask,
                    gateway: Ipv4Addr::from(gw),
                    address_setting: addr[0],
                    access_mode: addr[1],
                    channel: addr[2],
                    ssid,
                    authentication: sec[0],
                    encryption: sec[1],
                    key: WifiKey::new(&key).unwrap(),
                    key_number: nr,
                    machine_guid: guid,
                    key_length: len,
                }
            },
        )
}

fn any_slot() -> impl Strategy<Value = ProfileSlot> {
    (any::<[u8; 5]>(), text(16), text(20), text(20), text(32), any::<u8>()).prop_map(
        |(b, name, created, used, ssid, trailing)| ProfileSlot {
            id: b[0],
            valid: b[1],
            name,
            display_order: b[2],
            device_type: b[3],
            icon_type: b[4],
            creation_date: created,
            last_usage_date: used,
            ssid,
            trailing,
        },
    )
}

proptest! {
    #[test]
    fn events_round_trip(events in proptest::collection::vec(any_event(), 0..64)) {
        let mut out = Vec::new();
        encode_events(&events, &mut out).unwrap();
        prop_assert_eq!(out.len(), 2 + events.len() * EVENT_RECORD_LEN);
        prop_assert_eq!(decode_events(&out).unwrap(), events.clone());
        for e in events {
            let (code, param) = e.to_record();
            prop_assert_eq!(NikonEvent::from_record(code, param), e);
            prop_assert_eq!(e.code(), code);
        }
    }

    #[test]
    fn event_bytes_never_panic_and_re_encode(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(events) = decode_events(&data) {
            let mut out = Vec::new();
            encode_events(&events, &mut out).unwrap();
            if !data.is_empty() {
                prop_assert_eq!(&out[..], &data[..out.len()]);
            }
        }
        if let Ok(events) = decode_events_ex(&data) {
            let mut out = Vec::new();
            encode_events_ex(&events, &mut out).unwrap();
            prop_assert_eq!(decode_events_ex(&out).unwrap(), events);
        }
        let _ = decode_vendor_prop_codes(&data);
    }

    #[test]
    fn event_prefixes_are_values_or_typed_errors(events in proptest::collection::vec(any_event(), 1..16)) {
        let mut out = Vec::new();
        encode_events(&events, &mut out).unwrap();
        for n in 1..out.len() {
            match decode_events(&out[..n]) {
                Err(WireError::BadCount(_)) | Err(WireError::Truncated(_)) => {}
                other => prop_assert!(false, "prefix {n}: {other:?}"),
            }
        }
    }

    #[test]
    fn profile_round_trip(p in any_profile()) {
        let bytes = p.to_bytes().unwrap();
        prop_assert_eq!(bytes.len(), PROFILE_LEN);
        let back = WifiProfile::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &p);
        prop_assert_eq!(back.to_bytes().unwrap(), bytes);
        let shown = format!("{p:?}");
        prop_assert!(!shown.contains("key: [") && !shown.contains("WifiKey(["));
    }

    #[test]
    fn profile_bytes_never_panic(mut data in proptest::collection::vec(any::<u8>(), 0..260), fix in any::<bool>()) {
        if fix && data.len() >= PROFILE_LEN {
            // Valid length fields, so the rest of the decoder is reached.
            data[0x01..0x05].copy_from_slice(&17u32.to_le_bytes());
            data[0x19] = 0x10;
            data[0x46..0x4A].copy_from_slice(&33u32.to_le_bytes());
            data[0x6D..0x71].copy_from_slice(&64u32.to_le_bytes());
            prop_assert!(WifiProfile::decode(&data).is_ok());
        }
        if let Ok(p) = WifiProfile::decode(&data) {
            // Text is cut at its NUL and may be lossy; once re-encoded it is stable.
            if let Ok(once) = p.to_bytes() {
                let again = WifiProfile::decode(&once).unwrap();
                prop_assert_eq!(again.to_bytes().unwrap(), once);
            }
        }
    }

    #[test]
    fn profile_list_round_trip(version in any::<u8>(), slots in proptest::collection::vec(any_slot(), 0..8)) {
        let list = ProfileList { version, slots };
        let bytes = list.to_bytes().unwrap();
        prop_assert_eq!(ProfileList::decode(&bytes).unwrap(), list);
        for n in 0..bytes.len() {
            prop_assert!(ProfileList::decode(&bytes[..n]).is_err());
        }
    }

    #[test]
    fn profile_list_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(list) = ProfileList::decode(&data) {
            prop_assert!(list.slots.len() <= 255);
        }
    }

    #[test]
    fn live_view_round_trip(header_len in 0usize..=MAX_LIVE_VIEW_HEADER, body in proptest::collection::vec(any::<u8>(), 0..512), pad in 0usize..8) {
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
        jpeg.extend_from_slice(&body);
        jpeg.extend_from_slice(&[0xFF, 0xD9]);
        let mut data = Vec::new();
        encode_live_view(header_len, &jpeg, &mut data);
        data.resize(data.len() + pad, 0);
        for hint in [LiveViewHeaderLen::Known(header_len), LiveViewHeaderLen::Unknown, LiveViewHeaderLen::Known(384)] {
            let image = split_live_view(&data, hint).unwrap();
            prop_assert_eq!(image.header.len(), header_len);
            prop_assert_eq!(image.jpeg, &jpeg[..]);
        }
    }

    #[test]
    fn live_view_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600), n in 0usize..700) {
        for hint in [LiveViewHeaderLen::Known(n), LiveViewHeaderLen::Unknown] {
            if let Ok(image) = split_live_view(&data, hint) {
                prop_assert!(image.jpeg.starts_with(&[0xFF, 0xD8, 0xFF]));
                prop_assert!(image.jpeg.ends_with(&[0xFF, 0xD9]));
                prop_assert_eq!(image.header.len() + image.jpeg.len() <= data.len(), true);
            }
        }
    }

    #[test]
    fn exposure_labels_parse_back(v in prop_oneof![
        any::<u8>().prop_map(i64::from),
        any::<u16>().prop_map(i64::from),
        any::<i16>().prop_map(i64::from),
        any::<u32>().prop_map(i64::from),
        any::<i64>(),
        Just(0x8015i64),
    ]) {
        for s in ExposureSetting::ALL {
            if !s.fits(v) {
                prop_assert_eq!(s.to_prop_value(v), None);
                continue;
            }
            let label = s.label(v);
            prop_assert_eq!(s.parse_offered(&label, &[v]), Some(v), "{:?} {}", s, label);
            // Shared labels (white balance "Flash") parse to a value with the same label.
            let parsed = s.parse(&label);
            prop_assert!(parsed.is_some(), "{:?} {}", s, label);
            prop_assert_eq!(s.label(parsed.unwrap()), label);
            let pv = s.to_prop_value(v).unwrap();
            prop_assert_eq!(s.from_prop_value(&pv), Some(v));
        }
    }

    #[test]
    fn exposure_parse_never_panics(text in ".{0,24}") {
        for s in ExposureSetting::ALL {
            if let Some(v) = s.parse(&text) {
                prop_assert!(s.fits(v));
            }
            let _ = s.parse_offered(&text, &[1, 2, 3]);
        }
        let _ = describe_response(text.len() as u16);
    }
}
