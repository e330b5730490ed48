//! TUTK IOTC datagrams: OLD (TransCode) and CC51 (HMAC) decoders, and a session's framing.
#![no_main]

use camctl_wyze::tutk::cc51::{Cc51Packet, hmac_key};
use camctl_wyze::tutk::framing::{Framing, Side};
use camctl_wyze::tutk::old::OldPacket;
use camctl_wyze::tutk::transcode::{TailSwap, reverse_transcode_blob, transcode_blob};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for swap in [TailSwap::Always, TailSwap::Never] {
        assert_eq!(reverse_transcode_blob(&transcode_blob(data, swap), swap), data);
        if let Ok(pkt) = OldPacket::decode(data, swap) {
            // Whatever decodes re-encodes to something that decodes the same.
            assert_eq!(OldPacket::decode(&pkt.encode(swap), swap).ok(), Some(pkt));
        }
    }
    let _ = OldPacket::decode_plain(data);
    let key = hmac_key("ABCDEFGHIJKLMNOPQRST", "GgGDlrGh");
    let _ = Cc51Packet::decode(data, &key);
    // Forge-free path: re-MAC the fuzzed bytes as a payload so the decoder's body parsing is reached.
    let wrapped =
        Cc51Packet::Data { channel: 0, ticket: 1, sid: [0; 8], payload: data.to_vec() }.encode(&key);
    assert!(Cc51Packet::decode(&wrapped, &key).is_ok());
    for mut f in [
        Framing::old(Side::Client, [0; 8], TailSwap::Always),
        Framing::cc51(Side::Camera, [0; 8], key.clone(), 1),
    ] {
        let _ = f.unwrap(data);
    }
});
