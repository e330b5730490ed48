//! Lytro picture list (and the other downloaded blobs) from arbitrary bytes.
#![no_main]

use camctl_lytro::wire::{CameraTime, HardwareInfo, PictureList, parse_calibration, split_stack};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = PictureList::decode(data) {
        // Entries re-encode to 128 bytes each and decode to the same list.
        if list.entry_len == 128 {
            let again = PictureList::decode(&list.encode()).expect("re-encoded list decodes");
            assert_eq!(again.entries.len(), list.entries.len());
        }
        for e in &list.entries {
            let _ = e.taken();
            let _ = e.local_stem();
        }
    }
    let _ = HardwareInfo::decode(data);
    let _ = CameraTime::decode(data);
    let _ = parse_calibration(data);
    let _ = split_stack(data);
});
