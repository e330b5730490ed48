//! PTP/IP packet framing: a whole frame (header + payload), and payloads of every type.
#![no_main]

use camctl_ptpip::wire::{Header, Packet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Init packets are decoded leniently (8-bit or UTF-16 names), so only the others must round-trip.
    if let Ok(packet) = Packet::decode_frame(data).and_then(|p| if p.kind() > 2 { Ok(p) } else { Err(camctl_ptpip::wire::WireError::Truncated("")) }) {
        // Whatever decodes must encode again and decode to the same packet.
        if let Ok(bytes) = packet.to_bytes() {
            assert_eq!(Packet::decode_frame(&bytes).ok(), Some(packet));
        }
    }
    if let Some((kind, payload)) = data.split_first() {
        let _ = Packet::decode(u32::from(*kind % 16), payload);
    }
    if let Some(head) = data.get(..8).and_then(|h| <&[u8; 8]>::try_from(h).ok()) {
        let _ = Header::decode(head);
    }
});
