//! TUTK AV messages (login, IOCTRL, ACK, media packets), reassembly and the AV endpoint.
#![no_main]

use std::time::Instant;

use camctl_wyze::tutk::av::{AvEndpoint, AvMessage, MediaPacket, Reassembler};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = AvMessage::decode(data);
    let now = Instant::now();
    let mut ep = AvEndpoint::new(now);
    let mut r = Reassembler::new();
    // Treat the input as a sequence of length-prefixed messages fed to one endpoint and one reassembler.
    let mut rest = data;
    while let [n, tail @ ..] = rest {
        let n = usize::from(*n).min(tail.len());
        let (msg, more) = tail.split_at(n);
        let _ = ep.on_message(msg, now);
        if let Ok(pkt) = MediaPacket::decode(msg) {
            if let Some((info, frame)) = r.push(pkt) {
                assert_eq!(frame.len(), info.frame_len as usize);
            }
        }
        rest = more;
    }
    let _ = ep.handle_timeout(now + std::time::Duration::from_secs(1));
});
