//! The emulator at byte level (exact shapes, styles and orders of the reference), bad input, and the
//! client against a scripted fake camera that interleaves notifications with replies.

mod common;

use std::time::Duration;

use camctl_ambarella::client::{Client, ClientConfig};
use camctl_ambarella::wire::JsonStream;
use common::{Raw, emulator, emulator_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::test]
async fn session_start_shapes_and_order() {
    let emu = emulator().await;
    let mut raw = Raw::connect(&emu.addr).await;
    raw.send(br#"{"msg_id":257,"token":0,"heartbeat":1,"param":0}"#).await;
    assert_eq!(raw.recv().await, r#"{ "msg_id": 7, "type": "vf_stop" }"#);
    // The live view's URL rides along, as on newer firmware (YISDK's optional `rtsp`), slashes
    // escaped like every string of the RTOS side.
    let rtsp = format!("rtsp://{}/live", emu.rtsp_addr).replace('/', "\\/");
    assert_eq!(raw.recv().await, format!(r#"{{ "rval": 0, "msg_id": 257, "param": 1, "rtsp": "{rtsp}" }}"#));
    let all = raw.ask(br#"{"msg_id":3,"token":1}"#).await;
    assert!(all.starts_with(r#"{ "rval": 0, "msg_id": 3, "param": [ { "camera_clock": ""#), "{all}");
    assert!(all.contains(r#"{ "burst_capture_number": "7 p \/ s" }"#) && all.ends_with(" ] }"));
    assert_eq!(
        raw.ask(br#"{"msg_id":13,"token":1}"#).await,
        r#"{"rval":0,"msg_id":13,"type":"battery","param":"86"}"#
    );
    assert_eq!(raw.ask(br#"{"msg_id":515,"token":1}"#).await, r#"{ "rval": -14, "msg_id": 515 }"#);
    assert_eq!(
        raw.ask(br#"{"msg_id":5,"token":1,"type":"total"}"#).await,
        r#"{ "rval": 0, "msg_id": 5, "param": 33554432 }"#
    );
    assert_eq!(raw.ask(br#"{"msg_id":5,"token":1}"#).await, r#"{ "rval": -9, "msg_id": 5 }"#);
    assert_eq!(
        raw.ask(br#"{"msg_id":2,"token":1,"type":"camera_clock","param":"2016-03-28 02:00:18"}"#).await,
        r#"{ "rval": 0, "msg_id": 2 ,"type":"camera_clock","param":"2016"}"#
    );
    assert_eq!(
        raw.ask(br#"{"msg_id":2,"token":1,"type":"osd_enable","param":"on"}"#).await,
        r#"{ "rval": 0, "msg_id": 2 }"#
    );
    assert_eq!(
        raw.ask(br#"{"msg_id":9,"token":1,"param":"buzzer_volume"}"#).await,
        r#"{"rval":0,"msg_id":9,"param":"buzzer_volume","permission":"settable","options":["high","low","mute"]}"#
    );
    let ls = raw.ask(br#"{"msg_id":1282,"token":1,"param":"/tmp/fuse_d/DCIM/ -D -S"}"#).await;
    assert!(ls.starts_with(r#"{"rval":0,"msg_id":1282,"listing":[{"100MEDIA/":"0 bytes|"#), "{ls}");
    assert_eq!(
        raw.ask(br#"{"msg_id":1283,"token":1,"param":"/var/www/DCIM/100MEDIA/"}"#).await,
        r#"{"rval":0,"msg_id":1283,"pwd":"/tmp/fuse_d/DCIM/100MEDIA"}"#
    );
    let ls = raw.ask(br#"{"msg_id":1282,"token":1,"param":" -D -S"}"#).await;
    assert!(ls.contains(r#"{"YDXJ0001.jpg":""#), "{ls}");
    assert_eq!(
        raw.ask(br#"{"msg_id":1282,"token":1,"param":"/etc/ -D -S"}"#).await,
        r#"{"rval":-26,"msg_id":1282}"#
    );
}

#[tokio::test]
async fn photo_reply_comes_after_photo_taken() {
    let emu = emulator_with(|c| c.compact_json = true).await;
    let mut raw = Raw::connect(&emu.addr).await;
    let t = raw.session().await;
    raw.send(format!(r#"{{"msg_id":769,"token":{t}}}"#).as_bytes()).await;
    let mut seq = Vec::new();
    for _ in 0..4 {
        seq.push(raw.recv().await);
    }
    assert_eq!(seq[0], r#"{"msg_id":7,"type":"start_photo_capture","param":"precise quality;off"}"#);
    assert_eq!(seq[1], r#"{"msg_id":7,"type":"precise_capture_data_ready"}"#);
    assert!(
        seq[2].starts_with(
            r#"{"msg_id":7,"type":"photo_taken","param":"/tmp/fuse_d/DCIM/100MEDIA/YDXJ0005.jpg"#
        )
    );
    assert_eq!(seq[3], r#"{"rval":0,"msg_id":769}"#);
    // 16777220: the reply first, then the events with vf_stop/vf_start around the capture.
    raw.send(format!(r#"{{"msg_id":16777220,"token":{t},"param":"precise quality;off"}}"#).as_bytes()).await;
    let mut kinds = Vec::new();
    for _ in 0..6 {
        let v: serde_json::Value = serde_json::from_str(&raw.recv().await).unwrap();
        kinds.push(
            v.get("type").map(|t| t.as_str().unwrap().to_string()).unwrap_or_else(|| v["rval"].to_string()),
        );
    }
    assert_eq!(
        kinds,
        ["0", "start_photo_capture", "vf_stop", "precise_capture_data_ready", "photo_taken", "vf_start"]
    );
}

#[tokio::test]
async fn bad_input_gets_error_answers_and_others_are_still_served() {
    let emu = emulator().await;
    let mut bad = Raw::connect(&emu.addr).await;
    // Broken JSON inside braces: the syntax-error answer.
    assert_eq!(bad.ask(br#"{"msg_id":1,,}"#).await, r#"{"rval":-9,"msg_id":0}"#);
    assert_eq!(bad.ask(br#"{"token":1}"#).await, r#"{"rval":-9,"msg_id":0}"#);
    // Wrong token, unknown msg_id (with the real token), a missing field.
    assert_eq!(bad.ask(br#"{"msg_id":1,"token":99,"type":"app_status"}"#).await, r#"{"rval":-4,"msg_id":1}"#);
    let t = bad.session().await;
    assert_eq!(
        bad.ask(format!(r#"{{"msg_id":4242,"token":{t}}}"#).as_bytes()).await,
        r#"{"rval":-23,"msg_id":4242}"#
    );
    assert_eq!(
        bad.ask(format!(r#"{{"msg_id":1,"token":{t}}}"#).as_bytes()).await,
        r#"{"rval":-9,"msg_id":1}"#
    );
    assert_eq!(
        bad.ask(format!(r#"{{"msg_id":1,"token":{t},"type":"nope"}}"#).as_bytes()).await,
        r#"{"rval":-13,"msg_id":1}"#
    );
    // A 2 MB object is dropped without an answer; the connection resynchronises after it.
    let mut huge = format!(r#"{{"msg_id":1,"token":{t},"type":""#).into_bytes();
    huge.extend(std::iter::repeat_n(b'x', 2_000_000));
    huge.extend_from_slice(br#""}"#);
    bad.send(&huge).await;
    let next = bad.ask(format!(r#"{{"msg_id":13,"token":{t}}}"#).as_bytes()).await;
    assert!(next.contains(r#""msg_id":13"#), "{next}");
    // Garbage outside objects is skipped.
    let next = bad.ask(format!(r#"]]garbage{{"msg_id":13,"token":{t}}}"#).as_bytes()).await;
    assert!(next.contains(r#""msg_id":13"#), "{next}");

    // Meanwhile a raw socket spews binary noise and hangs up.
    let mut noise = tokio::net::TcpStream::connect(&emu.addr).await.unwrap();
    noise.write_all(&common::pseudo_random(100_000, 3)).await.unwrap();
    drop(noise);
    // The data port also survives junk.
    let mut junk = tokio::net::TcpStream::connect(&emu.data_addr).await.unwrap();
    junk.write_all(b"hello?").await.unwrap();
    drop(junk);

    // A proper client still gets served (bad holds the session but, being raw, never answers 1793).
    let config = ClientConfig { timeout: Duration::from_secs(5), ..ClientConfig::default() };
    let mut good = Client::connect(&emu.addr, &emu.data_addr, config).await.unwrap();
    assert_eq!(good.get_setting("video_standard").await.unwrap(), "NTSC");
    let mut out = Vec::new();
    good.download("/tmp/fuse_d/DCIM/100MEDIA/YDXJ0001.jpg", 0, &mut out).await.unwrap();
    assert!(out.starts_with(&[0xFF, 0xD8]));
    // The old holder was asked (it never answered), and its token is now stale.
    assert_eq!(bad.recv().await, r#"{"msg_id":1793}"#);
    let r = bad.ask(format!(r#"{{"msg_id":13,"token":{t}}}"#).as_bytes()).await;
    assert!(r.starts_with(r#"{"rval":-4"#), "{r}");
    good.close().await.unwrap();
    assert!(!emu.task.is_finished());
}

#[tokio::test]
async fn second_client_sends_1793_to_the_holder() {
    let emu = emulator_with(|c| c.holder_timeout = Duration::from_millis(300)).await;
    let mut holder = Raw::connect(&emu.addr).await;
    let t = holder.session().await;
    let mut newcomer = Raw::connect(&emu.addr).await;
    newcomer.send(br#"{"msg_id":257,"token":0}"#).await;
    assert_eq!(holder.recv().await, r#"{"msg_id":1793}"#);
    holder.send(format!(r#"{{"msg_id":1793,"rval":0,"token":{t}}}"#).as_bytes()).await;
    assert_eq!(newcomer.recv().await, r#"{ "rval": -3, "msg_id": 257 }"#);
    // Now the holder does not answer: after the timeout the newcomer gets a new token.
    newcomer.send(br#"{"msg_id":257,"token":0}"#).await;
    assert_eq!(holder.recv().await, r#"{"msg_id":1793}"#);
    assert_eq!(newcomer.recv().await, r#"{ "msg_id": 7, "type": "vf_stop" }"#);
    let rtsp = format!("rtsp://{}/live", emu.rtsp_addr).replace('/', "\\/");
    assert_eq!(
        newcomer.recv().await,
        format!(r#"{{ "rval": 0, "msg_id": 257, "param": {}, "rtsp": "{rtsp}" }}"#, t + 1)
    );
    assert_eq!(
        holder.ask(format!(r#"{{"msg_id":13,"token":{t}}}"#).as_bytes()).await,
        r#"{"rval":-4,"msg_id":13}"#
    );
}

/// A fake camera that interleaves notifications with replies, splits objects across writes and answers
/// the first battery query with the Yi's `{"rval":-4,"msg_id":0}`.
async fn fake_camera(listener: TcpListener) {
    let (mut s, _) = listener.accept().await.unwrap();
    s.set_nodelay(true).unwrap();
    let mut decoder = JsonStream::new(4096);
    let mut buf = [0u8; 4096];
    let mut token = 0;
    let mut battery_asks = 0;
    loop {
        let n = s.read(&mut buf).await.unwrap();
        if n == 0 {
            return;
        }
        decoder.push(&buf[..n]);
        while let Some(o) = decoder.next_object().unwrap() {
            let v: serde_json::Value = serde_json::from_slice(o).unwrap();
            let id = v["msg_id"].as_i64().unwrap();
            let pieces: Vec<Vec<u8>> = match id {
                257 => {
                    token += 1;
                    let reply = format!(r#"{{ "rval": 0, "msg_id": 257, "param": {token} }}"#);
                    let (a, b) = reply.split_at(9);
                    vec![br#"{ "msg_id": 7, "type": "vf_stop" }{ "msg_id": 7, "ty"#.to_vec(), format!(r#"pe": "battery" ,"param":"44"}}{a}"#).into_bytes(), b.as_bytes().to_vec()]
                }
                13 if v["token"] == token => {
                    battery_asks += 1;
                    if battery_asks == 1 {
                        vec![br#"{"rval":-4,"msg_id":0}"#.to_vec()]
                    } else {
                        vec![br#"{"msg_id":7,"type":"adapter","param":"99"}{"rval":0,"msg_id":13,"type":"adapter","param":45}"#.to_vec()]
                    }
                }
                1 => vec![
                    br#"{"rval":0,"msg_id":515,"param":1}"#.to_vec(), // a stale reply, to be ignored
                    br#"{ "msg_id": 7, "type": "photo_taken" ,"param":"/tmp/fuse_d/DCIM/100MEDIA/YDXJ0042.jpg"}"#.to_vec(),
                    br#"{"rval":0,"msg_id":1,"type":"app_status","#.to_vec(),
                    br#""param":"vf"}{"msg_id":7,"type":"vf_start"}"#.to_vec(),
                ],
                258 => vec![br#"{"rval":0,"msg_id":258}"#.to_vec()],
                _ => vec![format!(r#"{{"rval":-23,"msg_id":{id}}}"#).into_bytes()],
            };
            for p in pieces {
                s.write_all(&p).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

#[tokio::test]
async fn client_handles_interleaved_notifications_and_the_zero_id_invalid_token() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let camera = tokio::spawn(fake_camera(listener));
    let mut c = Client::connect(&addr, "127.0.0.1:9", ClientConfig::default()).await.unwrap();
    assert_eq!(c.token(), 1);
    assert_eq!(c.get_setting("app_status").await.unwrap(), "vf");
    let b = c.battery().await.unwrap(); // -4 with msg_id 0, re-authentication, resend
    assert_eq!((b.percent, b.adapter), (Some(45), true));
    assert_eq!(c.token(), 2);
    let mut events = Vec::new();
    while let Some(n) = c.try_next_event() {
        events.push(format!("{}={}", n.kind, n.param_text()));
    }
    assert_eq!(
        events,
        [
            "vf_stop=",
            "battery=44",
            "photo_taken=/tmp/fuse_d/DCIM/100MEDIA/YDXJ0042.jpg",
            "vf_start=",
            "vf_stop=",
            "battery=44",
            "adapter=99"
        ]
    );
    c.close().await.unwrap();
    camera.await.unwrap();
}

#[tokio::test]
async fn client_times_out_with_a_clear_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let silent = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(s);
    });
    let config = ClientConfig { timeout: Duration::from_millis(200), ..ClientConfig::default() };
    let err = Client::connect(&addr, "127.0.0.1:9", config).await.err().unwrap();
    assert_eq!(err.to_string(), "timed out waiting for the reply to msg_id 257");
    silent.abort();
}
