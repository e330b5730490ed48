//! Every PTP dataset decoder: DeviceInfo, StorageInfo, ObjectInfo, DevicePropDesc, AUINT32 arrays.
#![no_main]

use camctl_ptpip::wire::{DeviceInfo, DevicePropDesc, ObjectInfo, StorageInfo, decode_u32_array};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Encoding normalizes (strings are cut to 254 units + NUL); after one round it must be stable.
    if let Ok(v) = DeviceInfo::decode(data) {
        let mut out = Vec::new();
        v.encode(&mut out);
        let once = DeviceInfo::decode(&out).expect("re-decodes");
        let mut again = Vec::new();
        once.encode(&mut again);
        assert_eq!(DeviceInfo::decode(&again).ok(), Some(once));
    }
    if let Ok(v) = StorageInfo::decode(data) {
        let mut out = Vec::new();
        v.encode(&mut out);
        let once = StorageInfo::decode(&out).expect("re-decodes");
        let mut again = Vec::new();
        once.encode(&mut again);
        assert_eq!(StorageInfo::decode(&again).ok(), Some(once));
    }
    if let Ok(v) = ObjectInfo::decode(data) {
        let mut out = Vec::new();
        v.encode(&mut out);
        assert!(ObjectInfo::decode(&out).is_ok());
    }
    if let Ok(v) = DevicePropDesc::decode(data) {
        let mut out = Vec::new();
        v.encode(&mut out);
        assert!(DevicePropDesc::decode(&out).is_ok());
    }
    let _ = decode_u32_array(data);
});
