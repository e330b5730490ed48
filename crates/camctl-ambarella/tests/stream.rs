//! The JSON stream decoder: byte-at-a-time, all-at-once, arbitrary splits (property tests), and the
//! real camera's formatting quirks verbatim (`protocols/ambarella.md` §1.3).

use camctl_ambarella::wire::{JsonStream, Message, StreamError, pairs};
use proptest::prelude::*;

/// The verbatim camera output of §1.3 (the `...` of the msg 3 sample elided), as one stream with the
/// real concatenations of §1.2.
const CAMERA: &str = concat!(
    r#"{ "msg_id": 7, "type": "vf_stop" }"#,
    r#"{ "rval": 0, "msg_id": 257, "param": 2 }"#,
    r#"{ "rval": 0, "msg_id": 3, "param": [ { "camera_clock": "2015-09-24 10:18:00" }, { "video_standard": "NTSC" }, { "burst_capture_number": "7 p \/ s" } ] }"#,
    r#"{ "rval": 0, "msg_id": 2 ,"type":"camera_clock","param":"2015"}"#,
    r#"{ "rval": 0, "msg_id": 2 }"#,
    "\n",
    r#"{ "msg_id": 7, "type": "battery" ,"param":"44"}"#,
    r#"{ "msg_id": 7, "type": "photo_taken" ,"param":"/tmp/fuse_d/DCIM/100MEDIA/YDXJ0042.jpg"}"#,
    r#"{ "rval": 0, "msg_id": 515, "param": 2 }"#,
    r#"{ "rval": -14, "msg_id": 515 }"#,
    r#"{"rval":0,"msg_id":259}"#,
    r#"{"rval":0,"msg_id":1,"type":"app_status","param":"vf"}"#,
    r#"{"rval":0,"msg_id":13,"type":"battery","param":"45"}"#,
    r#"{"rval":0,"msg_id":16777241,"param":"1"}"#,
    r#"{"rval":0,"msg_id":1282,"listing":[{"100MEDIA/":"0 bytes|2015-09-24 10:22:54"}]}"#,
    r#"{"rval":0,"msg_id":1026,"thumb_file":"YDXJ0043.THM","size":138953622,"date":"2015-09-24 10:24:42","resolution":"1600x1200","duration":"31","framerate":59,"media_type":"mov"}"#,
    r#"{ "rval": -9, "msg_id": 5 }{ "rval": -9, "msg_id": 5 }"#,
    r#"{"rval":0,"msg_id":513}{"msg_id":7,"type":"start_video_record"}"#,
    r#"{"md5sum":"e9976d54a00d136813565bfaa56f2e1b","msg_id":7,"type":"put_file_complete","param":15109422}"#,
    "  \r\n\t ",
);

fn decode_all(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut s = JsonStream::new(4096);
    let mut out = Vec::new();
    for c in chunks {
        s.push(c);
        while let Some(o) = s.next_object().unwrap() {
            out.push(o.to_vec());
        }
    }
    assert_eq!(s.buffered(), 0);
    out
}

#[test]
fn verbatim_camera_output_one_byte_at_a_time_and_all_at_once() {
    let bytes = CAMERA.as_bytes();
    let whole = decode_all(&[bytes]);
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(decode_all(&singles), whole);
    assert_eq!(whole.len(), 20);
    let messages: Vec<Message> = whole.iter().map(|o| Message::decode(o).unwrap()).collect();
    let Message::Reply(settings) = &messages[2] else { panic!() };
    assert_eq!(pairs(settings.param().unwrap())[2], ("burst_capture_number".into(), "7 p / s".into()));
    let Message::Reply(battery) = &messages[11] else { panic!() };
    assert_eq!((battery.int("param"), battery.text("param").unwrap().as_str()), (Some(45), "45"));
    let Message::Reply(space) = &messages[15] else { panic!() };
    assert_eq!((space.msg_id, space.rval), (5, -9));
    assert!(matches!(&messages[18], Message::Notification(n) if n.kind == "start_video_record"));
    let Message::Reply(time) = &messages[7] else { panic!() };
    assert_eq!(time.int("param"), Some(2)); // a number here, a string in 16777241
}

#[test]
fn oversized_object_is_an_error_then_the_stream_resyncs() {
    let mut s = JsonStream::new(1024);
    let mut huge = br#"{"msg_id":1,"type":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'{', 2 << 20));
    huge.extend_from_slice(br#""}{"msg_id":13}"#);
    let mut errors = 0;
    let mut objects = Vec::new();
    for chunk in huge.chunks(65536) {
        s.push(chunk);
        loop {
            match s.next_object() {
                Ok(Some(o)) => objects.push(o.to_vec()),
                Ok(None) => break,
                Err(StreamError::ObjectTooLarge { limit }) => {
                    assert_eq!(limit, 1024);
                    errors += 1;
                }
            }
        }
        assert!(s.buffered() <= 65536 + 1024, "memory stays bounded");
    }
    assert_eq!(errors, 1);
    assert_eq!(objects, [br#"{"msg_id":13}"#.to_vec()]);
}

/// Arbitrary JSON values (strings full of braces, quotes and escapes).
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(serde_json::Value::from),
        any::<bool>().prop_map(serde_json::Value::from),
        "[{}\"\\\\/a-z \u{e9}\u{1f600}]{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z{}\"]{0,6}", inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = serde_json::Value> {
    prop::collection::btree_map("[a-z_{}\"\\\\]{1,8}", json_value(), 0..6)
        .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()))
}

proptest! {
    /// Any concatenation of objects, pretty or compact, with whitespace between, split anywhere, decodes
    /// to the same objects.
    #[test]
    fn arbitrary_splits_give_the_same_objects(
        objects in prop::collection::vec((json_object(), any::<bool>(), "[ \t\r\n]{0,3}"), 1..8),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let mut stream = Vec::new();
        for (o, pretty, ws) in &objects {
            let text = if *pretty { serde_json::to_string_pretty(o).unwrap() } else { o.to_string() };
            stream.extend_from_slice(text.as_bytes());
            stream.extend_from_slice(ws.as_bytes());
        }
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks: Vec<&[u8]> = Vec::new();
        let mut last = 0;
        for p in points {
            chunks.push(&stream[last..p]);
            last = p;
        }
        chunks.push(&stream[last..]);
        let mut s = JsonStream::new(1 << 20);
        let mut got = Vec::new();
        for c in chunks {
            s.push(c);
            while let Some(o) = s.next_object().unwrap() {
                got.push(serde_json::from_slice::<serde_json::Value>(o).unwrap());
            }
        }
        let want: Vec<serde_json::Value> = objects.into_iter().map(|(o, _, _)| o).collect();
        prop_assert_eq!(got, want);
    }

    /// Garbage never panics, never holds more than the cap plus one chunk, and decoding continues.
    #[test]
    fn garbage_is_total(data in prop::collection::vec(any::<u8>(), 0..4096), cap in 2usize..256) {
        let mut s = JsonStream::new(cap);
        for chunk in data.chunks(97) {
            s.push(chunk);
            loop {
                match s.next_object() {
                    Ok(Some(o)) => {
                        prop_assert!(o.len() <= cap + 1);
                        let _ = Message::decode(o);
                    }
                    Ok(None) => break,
                    Err(_) => {}
                }
            }
            prop_assert!(s.buffered() <= cap + 1 + 97);
        }
    }
}
