//! Every Nikon dialect decoder: GetEvent 0x90C7, GetEventEx 0x941C, GetVendorPropCodes 0x90CA, the
//! GetLiveViewImg split, the Wi-Fi profile dataset and the GetProfileAllData list.
#![no_main]

use camctl_ptpip::wire::nikon::{
    ExposureSetting, LiveViewHeaderLen, ProfileList, WifiProfile, decode_events, decode_events_ex,
    decode_vendor_prop_codes, encode_events, encode_events_ex, split_live_view,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(events) = decode_events(data) {
        // The records re-encode to exactly the bytes they came from (trailing bytes aside).
        let mut out = Vec::new();
        encode_events(&events, &mut out).expect("a decoded list fits its count");
        assert!(data.is_empty() || data.starts_with(&out));
    }
    if let Ok(events) = decode_events_ex(data) {
        let mut out = Vec::new();
        encode_events_ex(&events, &mut out).expect("a decoded list fits its count");
        assert_eq!(decode_events_ex(&out).ok(), Some(events));
    }
    let _ = decode_vendor_prop_codes(data);

    let hint = data.first().map_or(0, |b| usize::from(*b) * 4);
    for hint in [LiveViewHeaderLen::Known(hint), LiveViewHeaderLen::Unknown] {
        if let Ok(image) = split_live_view(data, hint) {
            assert!(image.jpeg.starts_with(&[0xFF, 0xD8, 0xFF]) && image.jpeg.ends_with(&[0xFF, 0xD9]));
        }
    }

    // Text is cut at its NUL and may be lossy; after one encode the dataset must be stable.
    if let Ok(profile) = WifiProfile::decode(data) {
        if let Ok(once) = profile.to_bytes() {
            let again = WifiProfile::decode(&once).expect("re-decodes");
            assert_eq!(again.to_bytes().ok(), Some(once));
        }
    }
    if let Ok(list) = ProfileList::decode(data) {
        if let Ok(once) = list.to_bytes() {
            let again = ProfileList::decode(&once).expect("re-decodes");
            assert_eq!(again.to_bytes().ok(), Some(once));
        }
    }

    if let Ok(text) = std::str::from_utf8(data) {
        for setting in ExposureSetting::ALL {
            if let Some(v) = setting.parse(text) {
                assert!(setting.fits(v));
                assert!(setting.parse(&setting.label(v)).is_some());
            }
        }
    }
});
