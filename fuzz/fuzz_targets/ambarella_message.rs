//! Ambarella message decoding: camera messages, client requests and the data shapes inside them; what
//! a request decodes to must encode and decode to the same command.
#![no_main]

use camctl_ambarella::wire::{
    Message, Request, SettingOptions, TransferDone, pairs, parse_date, parse_listing,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Message::Notification(n)) = Message::decode(data) {
        let _ = TransferDone::from_notification(&n);
        if let Some(p) = &n.param {
            let _ = parse_listing(p);
            let _ = pairs(p);
        }
    }
    if let Ok(request) = Request::decode(data)
        && let Ok(command) = request.command()
    {
        let mut bytes = Vec::new();
        command.encode(request.token, &mut bytes);
        let again = Request::decode(&bytes).expect("encoded requests decode");
        assert_eq!(again.command(), Ok(command));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_date(text);
        let _ = SettingOptions::from_describe(text);
    }
});
