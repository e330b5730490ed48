//! Lytro callback stream: arbitrary bytes fed whole and split at arbitrary points give the same
//! messages, and the decoder's memory stays under its line cap.
#![no_main]

use camctl_lytro::wire::CallbackDecoder;
use libfuzzer_sys::fuzz_target;

fn drain(d: &mut CallbackDecoder, out: &mut Vec<String>) {
    while let Some(m) = d.next_message() {
        out.push(match m {
            Ok(cb) => {
                let _ = cb.event();
                cb.to_string()
            }
            Err(e) => e.to_string(),
        });
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else { return };
    let mut whole = Vec::new();
    let mut d = CallbackDecoder::new(256);
    d.feed(stream);
    drain(&mut d, &mut whole);
    assert!(d.pending_len() <= 256);

    let mut pieces = Vec::new();
    let mut d = CallbackDecoder::new(256);
    for chunk in stream.chunks(usize::from(split).max(1)) {
        d.feed(chunk);
        drain(&mut d, &mut pieces);
        assert!(d.pending_len() <= 256);
    }
    assert_eq!(whole, pieces);
});
