//! Lytro frames: header + payload from arbitrary bytes, and request classification.
#![no_main]

use camctl_lytro::wire::{Command, Frame, Header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((frame, used)) = Frame::decode(data) {
        assert!(used <= data.len());
        // Whatever decodes encodes back to the same bytes.
        assert_eq!(&frame.to_bytes()[..], &data[..used]);
        let _ = Command::parse(&frame.header, &frame.payload);
    }
    if let Some(head) = data.get(..28).and_then(|h| <&[u8; 28]>::try_from(h).ok())
        && let Ok(h) = Header::decode(head)
    {
        assert_eq!(Header::decode(&h.encode()), Ok(h));
    }
});
