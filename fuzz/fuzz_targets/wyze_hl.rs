//! Wyze HL messages: the 16-byte header (lenient and strict), K-command requests and responses.
#![no_main]

use camctl_wyze::wire::{HlMessage, Request, Response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = HlMessage::decode(data) {
        // A decoded message re-encodes to bytes that decode strictly to the same message.
        if let Ok(bytes) = msg.encode() {
            assert_eq!(HlMessage::decode_strict(&bytes).ok(), Some(msg.clone()));
        }
        if let Ok(req) = Request::decode(&msg) {
            // Whatever decodes as a request survives an encode/decode round trip.
            if let Ok(again) = req.to_message() {
                assert_eq!(Request::decode(&again).ok(), Some(req));
            }
        }
        if let Ok(resp) = Response::decode(&msg) {
            let _ = resp.to_message(msg.protocol);
        }
    }
    let _ = HlMessage::decode_strict(data);
    // As a native transport would: scan an AV frame for the message.
    let _ = HlMessage::find(data, 32);
    // Payload-only path: the first two bytes choose the code, the rest is the payload.
    if let [lo, hi, payload @ ..] = data {
        let msg = HlMessage::new(10000 + u16::from_le_bytes([*lo, *hi]) % 2100, payload.to_vec());
        let _ = Request::decode(&msg);
        let _ = Response::decode(&msg);
    }
});
