//! Every PTP dataset decoder: DeviceInfo, StorageInfo, ObjectInfo, DevicePropDesc, AUINT32 arrays.
#![no_main]

use camctl_ptpip::wire::{DeviceInfo, DevicePropDesc, ObjectInfo, StorageInfo, decode_u32_array};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = DeviceInfo::decode(data) {
        let mut out = Vec::new();
        v.encode(&mut out);
        assert_eq!(DeviceInfo::decode(&out).ok(), Some(v));
    }
    if let Ok(v) = StorageInfo::decode(data) {
        let mut out = Vec::new();
        v.encode(&mut out);
        assert_eq!(StorageInfo::decode(&out).ok(), Some(v));
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
