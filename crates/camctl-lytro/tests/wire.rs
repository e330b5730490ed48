//! Property tests of the pure codec: round trips, totality on arbitrary bytes, and the callback decoder
//! giving the same messages however the stream is split.

use camctl_lytro::wire::{
    CallbackDecoder, CameraTime, Command, Frame, HardwareInfo, Header, PictureEntry, PictureList,
    encode_callback, parse_calibration, split_stack,
};
use proptest::prelude::*;

fn ascii(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0x21u8..0x7F, 0..max).prop_map(|v| String::from_utf8(v).unwrap())
}

proptest! {
    #[test]
    fn header_round_trips(length: u32, flags: u32, command: u16, params: [u8; 14]) {
        let h = Header { length, flags, command, params };
        prop_assert_eq!(Header::decode(&h.encode()).unwrap(), h);
    }

    #[test]
    fn camera_time_parse_is_total(s in any::<String>(), frac in "[0-9é\u{ff10}-\u{ff19}.Z+-]{0,12}") {
        let _ = camctl_lytro::wire::CameraTime::parse(&s);
        if let Some(t) = camctl_lytro::wire::CameraTime::parse(&format!("2024-01-02T03:04:05.{frac}")) {
            prop_assert!(t.is_valid() && t.millisecond < 1000);
        }
    }

    #[test]
    fn decoders_are_total(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Frame::decode(&bytes);
        let _ = PictureList::decode(&bytes);
        let _ = HardwareInfo::decode(&bytes);
        let _ = CameraTime::decode(&bytes);
        let _ = parse_calibration(&bytes);
        let _ = split_stack(&bytes);
        if let Some(head) = bytes.get(..28) {
            let h = Header::decode(head.try_into().unwrap());
            if let Ok(h) = h {
                let _ = Command::parse(&h, &bytes[28..]);
            }
        }
        let mut d = CallbackDecoder::new(64);
        d.feed(&bytes);
        while d.next_message().is_some() {}
        prop_assert!(d.pending_len() <= 64);
    }

    #[test]
    fn picture_list_round_trips(
        entries in proptest::collection::vec((ascii(8), ascii(8), any::<u32>(), any::<u32>(), ascii(47), ascii(23), any::<bool>()), 0..20),
        records in proptest::collection::vec((any::<u32>(), any::<u32>()), 0..12),
    ) {
        let list = PictureList {
            version: 1,
            entry_len: 128,
            records,
            entries: entries.into_iter().map(|(postfix, prefix, folder, file, id, date, liked)| PictureEntry {
                folder_postfix: postfix,
                file_prefix: prefix,
                folder_number: folder,
                file_number: file,
                id,
                date,
                liked,
                last_lambda: 0.25,
                rotation: 6,
                ..PictureEntry::default()
            }).collect(),
        };
        prop_assert_eq!(PictureList::decode(&list.encode()).unwrap(), list);
    }

    #[test]
    fn callbacks_survive_any_split(
        msgs in proptest::collection::vec((ascii(20), proptest::collection::vec(ascii(10), 0..4)), 1..10),
        cuts in proptest::collection::vec(1usize..40, 0..50),
    ) {
        let msgs: Vec<(String, Vec<String>)> = msgs
            .into_iter()
            .map(|(n, p)| (n.replace([']', '['], "x"), p.into_iter().filter(|s| !s.is_empty()).collect()))
            .filter(|(n, _)| !n.is_empty())
            .collect();
        let mut stream = Vec::new();
        for (n, p) in &msgs {
            let p: Vec<&str> = p.iter().map(String::as_str).collect();
            stream.extend(encode_callback(n, &p));
        }
        let mut d = CallbackDecoder::default();
        let mut got = Vec::new();
        let mut rest = &stream[..];
        for cut in cuts.iter().chain(std::iter::repeat(&7)) {
            if rest.is_empty() { break; }
            let (a, b) = rest.split_at((*cut).min(rest.len()));
            d.feed(a);
            rest = b;
            while let Some(m) = d.next_message() {
                let m = m.unwrap();
                got.push((m.name, m.params));
            }
        }
        prop_assert_eq!(got, msgs);
    }
}
