//! Typed property values of every data type code, including arrays and strings.
#![no_main]

use camctl_ptpip::wire::{DataType, PropValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let dt = DataType(u16::from_le_bytes([data[0], data[1]]));
    if let Ok(v) = PropValue::decode_exact(dt, &data[2..]) {
        // Encoding normalizes (strings are cut to 254 units + NUL); after that it must be stable.
        let once = PropValue::decode_exact(v.data_type(), &v.to_bytes()).expect("re-decodes");
        assert_eq!(PropValue::decode_exact(once.data_type(), &once.to_bytes()).ok(), Some(once));
    }
});
