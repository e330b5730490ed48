//! Ambarella JSON stream splitting: the same objects (and size errors) whatever the read boundaries,
//! and every object through the message decoders.
#![no_main]

use camctl_ambarella::wire::{JsonStream, Message, Request, StreamError};
use libfuzzer_sys::fuzz_target;

fn run(
    stream: &mut JsonStream,
    chunks: &mut dyn Iterator<Item = &[u8]>,
) -> Vec<Result<Vec<u8>, StreamError>> {
    let mut out = Vec::new();
    for chunk in chunks {
        stream.push(chunk);
        loop {
            match stream.next_object() {
                Ok(Some(o)) => out.push(Ok(o.to_vec())),
                Ok(None) => break,
                Err(e) => out.push(Err(e)),
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else { return };
    // The first byte picks the object cap and the read size.
    let cap = 2 + usize::from(control) * 4;
    let chunk = 1 + usize::from(control % 13);
    let whole = run(&mut JsonStream::new(cap), &mut std::iter::once(input));
    let split = run(&mut JsonStream::new(cap), &mut input.chunks(chunk));
    assert_eq!(whole, split);
    for object in whole.iter().flatten() {
        assert!(object.len() <= cap + 1);
        assert_eq!(object.first(), Some(&b'{'));
        assert_eq!(object.last(), Some(&b'}'));
        let _ = Message::decode(object);
        if let Ok(request) = Request::decode(object) {
            let _ = request.command();
        }
    }
});
