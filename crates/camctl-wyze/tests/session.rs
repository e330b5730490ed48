//! Client ⇄ emulator: handshakes, keys, the defaults go2rtc asks for, settings, resolution and bitrate
//! changes, timeouts and events, over the in-memory transport; the stream's picture size and bitrate also
//! over real UDP on 127.0.0.1, read back by ffprobe.

use std::time::Duration;

use camctl_wyze::transport::{MemoryClient, memory_pair};
use camctl_wyze::wire::{FrameSize, HlMessage, code};
use camctl_wyze::{ClientConfig, Emulator, EmulatorConfig, EmulatorHandle, Error, WyzeSession, settings};

const ENR16: &str = "AbCdEfGh/JkLmN0p";
const ENR32: &str = "AbCdEfGh/JkLmN0pQrStUvWxYz012345";
const MAC: &str = "2CAABBCCDDEE";

fn start(
    config: EmulatorConfig,
) -> (MemoryClient, EmulatorHandle, tokio::task::JoinHandle<camctl_wyze::Result<()>>) {
    let (client, camera) = memory_pair(8);
    let emulator = Emulator::new(config);
    let handle = emulator.handle();
    let task = tokio::spawn(emulator.serve(camera));
    (client, handle, task)
}

fn client(enr: &str) -> ClientConfig {
    let mut c = ClientConfig::new(enr, MAC);
    c.timeout = Duration::from_secs(5);
    c
}

/// The defaults without audio: for tests that count video frames or bytes.
fn video_only() -> ClientConfig {
    let mut c = client(ENR16);
    c.open_audio = false;
    c
}

#[tokio::test]
async fn handshake_for_each_status_and_protocol_level() {
    // (status, camera ENR, client ENR, parent ENR, model, protocol, expected challenge-response command)
    type Case<'a> = (u8, &'a str, &'a str, Option<&'a str>, &'a str, u16, u16);
    let cases: &[Case] = &[
        (1, ENR16, "ignored-for-status-1", None, "WYZEC1", 1, 10002),
        (3, ENR16, ENR16, None, "WYZEC1", 5, 10002),
        (3, ENR16, ENR16, None, "WYZE_CAKP2JFUS", 24, 10002),
        (3, ENR16, ENR16, None, "WYZE_CAKP2JFUS", 25, 10008),
        (3, ENR16, ENR16, None, "HL_DB2", 30, 10006),
        (3, ENR16, ENR16, None, "HL_CAM4", 37, 10008),
        (6, ENR32, ENR32, None, "WVOD1", 29, 10008),
        (6, ENR32, ENR16, Some("QrStUvWxYz012345"), "WVOD1", 28, 10002),
        (6, ENR16, ENR16, None, "HL_CAM3P", 25, 10008),
    ];
    let mut usernames = Vec::new();
    for &(status, cam_enr, cli_enr, parent, model, protocol, expected) in cases {
        let mut cam = EmulatorConfig::new(cam_enr, MAC);
        cam.status = status;
        cam.model = model.into();
        cam.protocol = protocol;
        let (transport, handle, _task) = start(cam);
        let mut cfg = client(cli_enr);
        cfg.parent_enr = parent.map(str::to_string);
        cfg.model = Some(model.into());
        cfg.phone_id = "phone_id".into();
        cfg.open_user_id = "open_user_id".into();
        let session = WyzeSession::connect(transport, cfg)
            .await
            .unwrap_or_else(|e| panic!("status {status} {model}@{protocol}: {e}"));
        let d = session.details();
        assert_eq!(
            (d.status, d.protocol, d.auth_command),
            (status, protocol, expected),
            "{model}@{protocol}"
        );
        let log = handle.state().auth_log;
        assert_eq!(log.len(), 1);
        assert!(log[0].accepted);
        assert_eq!(log[0].code, expected);
        if expected == 10002 {
            // go2rtc's random session bytes, not the MAC prefix of KROO/DWB.
            usernames.push(log[0].username);
        } else {
            assert_eq!(&log[0].username, b"phon");
            assert_eq!(log[0].open_user_id, b"open_user_id");
        }
        let info = session.info();
        assert_eq!((info.protocol.as_str(), info.model.as_str(), info.serial.as_str()), ("wyze", model, MAC));
        assert!(!info.firmware.is_empty());
        // The resolution step ran right after authentication.
        assert!(
            handle.state().requests.contains(&code::SET_RESOLVING_BIT)
                || camctl_wyze::auth::uses_k10052(Some(model))
        );
    }
    assert!(usernames.len() >= 4);
    assert!(usernames.iter().all(|u| u != b"2CAA"), "{usernames:?}");
    usernames.dedup();
    assert!(usernames.len() >= 2, "the 10002 username bytes do not change between handshakes");
}

#[tokio::test]
async fn model_from_camera_info_drives_k10052() {
    let mut cam = EmulatorConfig::new(ENR16, MAC);
    cam.model = "WYZEDB3".into();
    cam.protocol = 10;
    let (transport, handle, _task) = start(cam);
    let session = WyzeSession::connect(transport, client(ENR16)).await.unwrap();
    assert_eq!(session.details().model.as_deref(), Some("WYZEDB3"));
    let reqs = handle.state().requests;
    assert_eq!(reqs[..3], [10000, 10002, code::SET_VIDEO_PARAM]);
}

#[tokio::test]
async fn wrong_keys_are_refused() {
    for (status, cam_enr, cli_enr) in
        [(3, ENR16, "AbCdEfGh/JkLmN0X"), (6, ENR32, "AbCdEfGh/JkLmN0pQrStUvWxYz01234X")]
    {
        let mut cam = EmulatorConfig::new(cam_enr, MAC);
        cam.status = status;
        let (transport, handle, _task) = start(cam);
        let err = WyzeSession::connect(transport, client(cli_enr)).await.unwrap_err();
        assert!(matches!(err, Error::WrongEnr), "{err}");
        assert!(err.to_string().starts_with("authentication failed: wrong ENR"), "{err}");
        assert!(!handle.state().auth_log[0].accepted);
        assert!(!handle.state().authenticated);
        let core: camctl_core::Error = err.into();
        assert!(matches!(core, camctl_core::Error::Rejected(_)));
    }
    // Status 6 with only half of the key material.
    let mut cam = EmulatorConfig::new(ENR32, MAC);
    cam.status = 6;
    let (transport, _handle, _task) = start(cam);
    assert!(matches!(WyzeSession::connect(transport, client(ENR16)).await, Err(Error::WrongEnr)));
}

#[tokio::test]
async fn forced_connection_res_and_unavailable_statuses() {
    let mut cam = EmulatorConfig::new(ENR16, MAC);
    cam.connection_res = Some("3".into());
    let (transport, _h, _t) = start(cam);
    let err = WyzeSession::connect(transport, client(ENR16)).await.unwrap_err();
    assert!(matches!(&err, Error::AuthFailed(v) if v == "3"), "{err}");

    for status in [2u8, 4, 5, 9] {
        let mut cam = EmulatorConfig::new(ENR16, MAC);
        cam.status = status;
        let (transport, handle, _t) = start(cam);
        let err = WyzeSession::connect(transport, client(ENR16)).await.unwrap_err();
        assert!(matches!(err, Error::CameraStatus { status: s } if s == status), "{err}");
        // The client must not answer such a challenge.
        assert_eq!(handle.state().requests, [10000]);
    }
    let mut cam = EmulatorConfig::new(ENR16, MAC);
    cam.status = 2;
    let (transport, _h, _t) = start(cam);
    let err = WyzeSession::connect(transport, client(ENR16)).await.unwrap_err();
    assert_eq!(err.to_string(), "camera cannot authenticate now: status 2 (camera is updating)");
}

#[tokio::test]
async fn timeouts_name_the_command() {
    let mut cam = EmulatorConfig::new(ENR16, MAC);
    cam.silent_codes = vec![code::CONNECT_REQUEST];
    let (transport, _h, _t) = start(cam);
    let mut cfg = client(ENR16);
    cfg.timeout = Duration::from_millis(200);
    let err = WyzeSession::connect(transport, cfg).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { request: 10000, expected: 10001, .. }), "{err}");
    assert_eq!(err.to_string(), "timed out after 200ms waiting for K10001 (reply to K10000)");

    // A setting the camera ignores times out without breaking the session.
    let mut cam = EmulatorConfig::new(ENR16, MAC);
    cam.silent_codes = vec![code::GET_OSD];
    let (transport, _h, _t) = start(cam);
    let mut cfg = client(ENR16);
    cfg.timeout = Duration::from_millis(200);
    let session = WyzeSession::connect(transport, cfg).await.unwrap();
    let err = session.setting("osd-timestamp").await.unwrap_err();
    assert!(matches!(err, Error::Timeout { request: 10070, .. }), "{err}");
    assert_eq!(session.setting("status-light").await.unwrap().value, "on");
}

#[tokio::test]
async fn every_setting_round_trips() {
    let (transport, handle, _t) = start(EmulatorConfig::new(ENR16, MAC));
    let mut cfg = client(ENR16);
    cfg.open_video = false;
    let session = WyzeSession::connect(transport, cfg).await.unwrap();
    let all = session.settings().await.unwrap();
    assert_eq!(all.len(), settings::SETTINGS.len());
    let by_key = |k: &str| all.iter().find(|s| s.key == k).unwrap().value.clone();
    assert_eq!(by_key("night-vision"), "auto");
    assert_eq!(by_key("status-light"), "on");
    // What the connection asked for (go2rtc's HD: 1080p on this model, 240 KB/s).
    assert_eq!(by_key("resolution"), "1080p");
    assert_eq!(by_key("bitrate"), "240");
    assert_eq!(by_key("fps"), "15");
    assert_eq!(by_key("time-zone"), "0");

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let later = (now + 3600).to_string();
    let changes: &[(&str, &str, &str)] = &[
        ("night-vision", "off", "off"),
        ("night-vision", "on", "on"),
        ("ir-led", "off", "off"),
        ("night-switch", "dark", "dark"),
        ("status-light", "off", "off"),
        ("osd-timestamp", "off", "off"),
        ("osd-logo", "on", "on"),
        ("motion-detection", "off", "off"),
        ("motion-tagging", "on", "on"),
        ("motion-tracking", "on", "on"),
        ("pan-cruise", "on", "on"),
        ("alarm", "on", "on"),
        ("hor-flip", "on", "on"),
        ("ver-flip", "on", "on"),
        ("fps", "20", "20"),
        ("bitrate", "60", "60"),
        ("resolution", "360p", "360p"),
        ("resolution", "2k", "2k"),
        ("time-zone", "-8", "-8"),
    ];
    for (key, value, expect) in changes {
        let s = session.set_setting(key, value).await.unwrap_or_else(|e| panic!("{key}={value}: {e}"));
        assert_eq!(s.value, *expect, "{key}");
        assert_eq!(session.setting(key).await.unwrap().value, *expect, "{key}");
    }
    let t = session.set_setting("camera-time", &later).await.unwrap();
    let shown = camctl_core::time::DateTime::parse(&t.value).unwrap_or_else(|| panic!("{}", t.value));
    let got = shown.to_system().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(got.abs_diff(now + 3600) <= 5, "{got}");
    // A typed date is taken as given and reads back the same.
    let t = session.set_setting("camera-time", "2031-02-03 04:05:06").await.unwrap();
    assert!(t.value.starts_with("2031-02-03 04:05"), "{}", t.value);

    // Setting bitrate kept the resolution, and vice versa.
    let vp = session.video_params().await.unwrap();
    assert_eq!((vp.bitrate, vp.resolution, vp.fps, vp.hor_flip, vp.ver_flip), (60, 4, 20, 1, 1));
    let st = handle.state().settings;
    assert_eq!((st.frame_size, st.bitrate, st.fps, st.time_zone, st.alarm), (3, 60, 20, -8, 1));
    // 10020 sees the same store.
    let p = session.check_params(&[1, 2, 3, 4, 5, 50, 99]).await.unwrap();
    assert_eq!(p.get(&1).map(String::as_str), Some("2"));
    assert_eq!(p.get(&2).map(String::as_str), Some("1"));
    assert_eq!(p.get(&3).map(String::as_str), Some("60"));
    assert_eq!(p.get(&5).map(String::as_str), Some("20"));
    assert!(!p.contains_key(&99));

    // Bad input is a clear error.
    assert!(matches!(session.set_setting("night-vision", "purple").await, Err(Error::InvalidValue { .. })));
    assert!(matches!(session.set_setting("fps", "99").await, Err(Error::InvalidValue { .. })));
    let refused = session.set_setting("night-vision", "purple").await.unwrap_err().to_string();
    assert_eq!(refused, r#"invalid value "purple" for night-vision (allowed: on, off, auto)"#);
    let refused = session.set_setting("camera-time", "2024-02-30 00:00:00").await.unwrap_err().to_string();
    assert!(refused.contains("YYYY-MM-DD hh:mm:ss"), "{refused}");
    assert!(matches!(session.setting("warp-drive").await, Err(Error::UnknownSetting(_))));
}

#[tokio::test]
async fn resolution_change_is_visible_in_next_frames() {
    let (transport, _h, _t) = start(EmulatorConfig::new(ENR16, MAC));
    let session = WyzeSession::connect(transport, client(ENR16)).await.unwrap();
    let (first, data) = session.recv_frame().await.unwrap();
    // The camera streams from the authentication on: its first frames may precede the 10056 (240).
    assert_eq!((first.frame_size, first.framerate), (0, 15));
    assert!([120, 240].contains(&first.bitrate), "{}", first.bitrate);
    assert!(first.is_keyframe());
    assert_eq!(first.frame_len as usize, data.len());
    assert_eq!(first.mac_str(), MAC);
    session.set_resolution(FrameSize::SD_360P, 60).await.unwrap();
    // Frames already queued in the transport (capacity 8) keep the old FRAMEINFO.
    let mut seen = None;
    for _ in 0..60 {
        let (info, data) = session.recv_frame().await.unwrap();
        if info.is_video() && info.frame_size == 1 {
            seen = Some((info, data));
            break;
        }
    }
    let (info, data) = seen.expect("no 360p frame within 60 frames");
    assert_eq!(info.bitrate, 60);
    assert!(info.is_keyframe(), "a new resolution starts at a keyframe");
    let sps = camctl_core::video::nal_units(&data)
        .find(|n| n.nal_type() == 7)
        .expect("SPS in the first 360p frame");
    let sps = camctl_core::video::parse_sps(sps.bytes()).unwrap();
    assert_eq!((sps.width, sps.height), (640, 360));
}

#[tokio::test]
async fn frames_advance_and_loop() {
    let (transport, _h, _t) = start(EmulatorConfig::new(ENR16, MAC));
    let session = WyzeSession::connect(transport, video_only()).await.unwrap();
    let mut last: Option<camctl_wyze::wire::FrameInfo> = None;
    let mut keyframes = 0;
    for _ in 0..75 {
        let (info, data) = session.recv_frame().await.unwrap();
        assert_eq!(info.codec_id, camctl_wyze::wire::codec::H264);
        assert_eq!(info.frame_len as usize, data.len());
        keyframes += usize::from(info.is_keyframe());
        if let Some(prev) = last {
            assert_eq!(info.frame_no, prev.frame_no + 1);
            let dt = info.time_secs() - prev.time_secs();
            assert!((dt - 1.0 / 15.0).abs() < 1e-3, "dt {dt}");
        }
        last = Some(info);
    }
    // 30-frame clip with an IDR every 15 frames, looped: frames 1, 16, 31, 46, 61.
    assert_eq!(keyframes, 5);
}

#[tokio::test]
async fn video_and_audio_channels() {
    let (transport, handle, _t) = start(EmulatorConfig::new(ENR16, MAC));
    let mut cfg = client(ENR16);
    cfg.open_video = false;
    cfg.open_audio = false;
    cfg.start_video_command = false;
    cfg.timeout = Duration::from_millis(300);
    let session = WyzeSession::connect(transport, cfg).await.unwrap();
    assert!(matches!(session.recv_frame().await, Err(Error::NoFrames(_))));
    session.control_channel(2, true).await.unwrap();
    let (info, data) = session.recv_frame().await.unwrap();
    assert!(info.is_audio());
    assert_eq!(info.audio_flags().unwrap().sample_rate, 8000);
    assert_eq!(data.len(), 160);
    session.control_channel(2, false).await.unwrap();
    session.control_channel(1, true).await.unwrap();
    // Drain audio frames that were queued before the switch.
    let video = loop {
        let (info, _) = session.recv_frame().await.unwrap();
        if info.is_video() {
            break info;
        }
    };
    assert!(video.is_keyframe());
    assert!(handle.state().video_on && !handle.state().audio_on);
}

#[tokio::test]
async fn unsolicited_messages_become_events() {
    let (transport, handle, _t) = start(EmulatorConfig::new(ENR16, MAC));
    let mut cfg = client(ENR16);
    cfg.open_video = false;
    let session = WyzeSession::connect(transport, cfg).await.unwrap();
    handle.push_message(HlMessage::new(10161, br#"{"event":"motion"}"#.to_vec()));
    let ev = session.next_event().await.unwrap().unwrap();
    assert_eq!(ev.name, "K10161");
    assert_eq!(ev.detail, r#"{"event":"motion"}"#);
    // A message arriving during an exchange is queued, not lost.
    handle.push_message(HlMessage::new(10163, vec![0xab]));
    tokio::time::sleep(Duration::from_millis(20)).await;
    session.setting("night-vision").await.unwrap();
    let ev = session.next_event().await.unwrap().unwrap();
    assert_eq!((ev.name.as_str(), ev.detail.as_str()), ("K10163", "ab"));
}

#[tokio::test]
async fn emulator_ignores_garbage_and_pre_auth_commands() {
    use camctl_wyze::ClientTransport;
    use camctl_wyze::transport::IOTYPE_USER_DEFINED_START;
    let (transport, handle, task) = start(EmulatorConfig::new(ENR16, MAC));
    // Garbage, a non-HL ioctrl, and a settings command before authentication: all ignored.
    transport.send_ioctrl(IOTYPE_USER_DEFINED_START, b"garbage".to_vec()).await.unwrap();
    transport.send_ioctrl(0x1ff, b"HLxx".to_vec()).await.unwrap();
    let early = HlMessage::new(code::GET_NIGHT_VISION, vec![]).encode().unwrap();
    transport.send_ioctrl(IOTYPE_USER_DEFINED_START, early).await.unwrap();
    let session = WyzeSession::connect(transport, client(ENR16)).await.unwrap();
    assert_eq!(handle.state().requests[..2], [code::GET_NIGHT_VISION, 10000]);
    // Closing the client ends the emulator cleanly.
    drop(session);
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn settings_persist_across_sessions() {
    let emulator = Emulator::new(EmulatorConfig::new(ENR16, MAC));
    let handle = emulator.handle();
    let (first, camera) = memory_pair(4);
    tokio::spawn(emulator.clone().serve(camera));
    let session = WyzeSession::connect(first, client(ENR16)).await.unwrap();
    session.set_setting("night-vision", "off").await.unwrap();
    drop(session);
    // A second session (e.g. the next `camctl config get`) authenticates anew and sees the change.
    let (second, camera) = memory_pair(4);
    tokio::spawn(emulator.serve(camera));
    let session = WyzeSession::connect(second, client(ENR16)).await.unwrap();
    assert_eq!(session.setting("night-vision").await.unwrap().value, "off");
    let st = handle.state();
    assert_eq!((st.sessions, st.auth_log.len()), (2, 2));
}

/// The go2rtc client's 10000 payload (`pkg/wyze/client.go buildK10000`), verbatim.
const GO2RTC_HELLO: &[u8] = br#"{"cameraInfo":{"audioEncoderList":[137,138,140]}}"#;

/// The latest request with `code` the emulator received.
fn received(handle: &EmulatorHandle, code: u16) -> HlMessage {
    let recent = handle.state().recent_requests;
    recent.iter().rev().find(|m| m.code == code).unwrap_or_else(|| panic!("no K{code} received")).clone()
}

#[tokio::test]
async fn defaults_ask_what_go2rtc_asks() {
    // (model, code of the stream request, its payload as go2rtc's buildK10056/buildK10052 writes it)
    let cases: &[(&str, u16, &[u8])] = &[
        ("WYZE_CAKP2JFUS", code::SET_RESOLVING_BIT, &[1, 0xF0, 0, 0, 0]),
        ("HL_CAM3P", code::SET_RESOLVING_BIT, &[4, 0xF0, 0, 0, 0]),
        ("HL_DB2", code::SET_RESOLVING_BIT, &[4, 0xF0, 0, 0, 0]),
        ("HL_CFL2", code::SET_RESOLVING_BIT, &[5, 0xF0, 0, 0, 0]),
        ("WYZEDB3", code::SET_VIDEO_PARAM, &[0xF0, 0, 1, 0, 0, 0]),
    ];
    let mut usernames = Vec::new();
    for &(model, set_code, payload) in cases {
        let mut cam = EmulatorConfig::new(ENR16, MAC);
        cam.model = model.into();
        // Below every 10006/10008 threshold: the camera is answered with 10002, as go2rtc always does.
        cam.protocol = 5;
        let (transport, handle, _t) = start(cam);
        // No model given: it comes from cameraInfo, as with go2rtc's URL without `model=`.
        let session = WyzeSession::connect(transport, client(ENR16)).await.unwrap();
        assert_eq!(handle.state().requests[..3], [10000, 10002, set_code], "{model}");
        assert_eq!(received(&handle, 10000).payload, GO2RTC_HELLO, "{model}");
        let auth = received(&handle, 10002).payload;
        assert_eq!((auth.len(), auth[20], auth[21]), (22, 1, 1), "{model}: video and audio flags");
        usernames.push(auth[16..20].to_vec());
        assert_eq!(received(&handle, set_code).payload, payload, "{model}");
        let st = handle.state();
        assert!(st.video_on && st.audio_on, "{model}");
        assert_eq!(
            (st.settings.frame_size, st.settings.bitrate),
            (payload_frame_size(set_code, payload), 240)
        );
        // Audio flows along with the video.
        let mut kinds = (false, false);
        while kinds != (true, true) {
            let (info, _) = session.recv_frame().await.unwrap();
            kinds = (kinds.0 || info.is_video(), kinds.1 || info.is_audio());
        }
    }
    assert!(usernames.iter().all(|u| u != b"2CAA"));
    usernames.dedup();
    assert!(usernames.len() > 1, "10002's session bytes repeat: {usernames:?}");
}

fn payload_frame_size(code: u16, payload: &[u8]) -> u8 {
    if code == code::SET_VIDEO_PARAM { payload[2] - 1 } else { payload[0] - 1 }
}

#[tokio::test]
async fn every_default_can_be_overridden() {
    let (transport, handle, _t) = start(EmulatorConfig::new(ENR16, MAC));
    let mut cfg = client(ENR16);
    cfg.hello = camctl_wyze::wire::Request::connect();
    cfg.username = camctl_wyze::client::AuthUsername::MacPrefix;
    cfg.open_audio = false;
    cfg.substream = Some(camctl_wyze::client::Substream::Sd);
    cfg.fps = None;
    let session = WyzeSession::connect(transport, cfg).await.unwrap();
    assert!(received(&handle, 10000).payload.is_empty());
    assert_eq!(received(&handle, 10002).payload[16..], *b"2CAA\x01\x00");
    // go2rtc's SD: 360p at 60 KB/s, here in the 3-byte form.
    assert_eq!(received(&handle, code::SET_RESOLVING_BIT).payload, [2, 0x3C, 0]);
    assert!(!handle.state().audio_on);
    drop(session);

    // An explicit frame size wins over the substream; a fixed username; no stream request at all.
    let (transport, handle, _t) = start(EmulatorConfig::new(ENR16, MAC));
    let mut cfg = client(ENR16);
    cfg.username = camctl_wyze::client::AuthUsername::Fixed(*b"abcd");
    cfg.frame_size = Some(FrameSize::HD_720P);
    cfg.bitrate = 150;
    let _session = WyzeSession::connect(transport, cfg).await.unwrap();
    assert_eq!(received(&handle, 10002).payload[16..20], *b"abcd");
    assert_eq!(received(&handle, code::SET_RESOLVING_BIT).payload, [3, 150, 0, 0, 0]);

    let (transport, handle, _t) = start(EmulatorConfig::new(ENR16, MAC));
    let mut cfg = client(ENR16);
    cfg.substream = None;
    let _session = WyzeSession::connect(transport, cfg).await.unwrap();
    assert_eq!(handle.state().requests, [10000, 10002]);
}

#[tokio::test]
async fn audio_comes_with_video() {
    // A session that opens no video (info, settings) gets no media at all...
    let (transport, handle, _t) = start(EmulatorConfig::new(ENR16, MAC));
    let mut cfg = client(ENR16);
    cfg.open_video = false;
    cfg.timeout = Duration::from_millis(300);
    let session = WyzeSession::connect(transport, cfg).await.unwrap();
    assert_eq!(received(&handle, 10002).payload[20..], [0, 0]);
    assert!(matches!(session.recv_frame().await, Err(Error::NoFrames(_))));
    // ...until video is switched on, which brings the audio along (10010 video, then 10010 audio).
    session.control_channel(1, true).await.unwrap();
    let recent = handle.state().recent_requests;
    let switches: Vec<&[u8]> =
        recent.iter().filter(|m| m.code == code::CONTROL_CHANNEL).map(|m| m.payload.as_slice()).collect();
    assert_eq!(switches, [&[1u8, 1][..], &[2, 1]]);
    let mut kinds = (false, false);
    while kinds != (true, true) {
        let (info, _) = session.recv_frame().await.unwrap();
        kinds = (kinds.0 || info.is_video(), kinds.1 || info.is_audio());
    }
}

/// Bytes per second of video over the frames' own timestamps: waits for the first keyframe whose
/// FRAMEINFO says `frame_size` and `bitrate`, then sums `n` consecutive video frames from there over the
/// stream time they cover (whole GOPs when `n` is a multiple of 15: a CBR stream's IDR is paid back
/// within its GOP). Also returns that keyframe.
async fn video_rate<T: camctl_wyze::ClientTransport>(
    session: &WyzeSession<T>,
    frame_size: u8,
    bitrate: u16,
    n: usize,
) -> (f64, Vec<u8>) {
    let reported = u8::try_from(bitrate).unwrap_or(u8::MAX);
    let mut frames: Vec<(camctl_wyze::wire::FrameInfo, Vec<u8>)> = Vec::new();
    while frames.len() <= n {
        let (info, data) = session.recv_frame().await.unwrap();
        let start = info.is_keyframe() && (info.frame_size, info.bitrate) == (frame_size, reported);
        if !info.is_video() || (frames.is_empty() && !start) {
            continue;
        }
        if let Some((prev, _)) = frames.last() {
            assert_eq!(info.frame_no, prev.frame_no + 1, "a video frame went missing");
            assert_eq!((info.frame_size, info.bitrate), (frame_size, reported));
        }
        frames.push((info, data));
    }
    let bytes: usize = frames[..n].iter().map(|(_, d)| d.len()).sum();
    let seconds = frames[n].0.time_secs() - frames[0].0.time_secs();
    (bytes as f64 / seconds, frames.swap_remove(0).1)
}

fn picture(annexb: &[u8]) -> (u32, u32) {
    let sps = camctl_core::video::nal_units(annexb).find(|n| n.nal_type() == 7).expect("an SPS");
    let sps = camctl_core::video::parse_sps(sps.bytes()).unwrap();
    (sps.width, sps.height)
}

#[tokio::test]
async fn the_stream_has_the_bitrate_and_picture_size_set() {
    // (model, frame size, bitrate KB/s, picture). Two seconds of stream each (30 frames at 15 fps).
    let cases: &[(&str, FrameSize, u16, (u32, u32))] = &[
        ("WYZE_CAKP2JFUS", FrameSize::SD_360P, 30, (640, 360)),
        ("WYZE_CAKP2JFUS", FrameSize::SD_360P, 60, (640, 360)),
        ("WYZE_CAKP2JFUS", FrameSize::HD_720P, 120, (1280, 720)),
        ("WYZE_CAKP2JFUS", FrameSize::HD_1080P, 60, (1920, 1080)),
        ("WYZE_CAKP2JFUS", FrameSize::HD_1080P, 240, (1920, 1080)),
        ("HL_CAM3P", FrameSize::QHD_2K, 60, (2560, 1440)),
        ("HL_CAM3P", FrameSize::QHD_2K, 240, (2560, 1440)),
        ("HL_DB2", FrameSize::QHD_2K, 120, (1296, 1728)),
        ("HL_DB2", FrameSize::FOUR, 60, (480, 640)),
        ("HL_CFL2", FrameSize::FOUR, 180, (2560, 1440)),
    ];
    for &(model, fs, bitrate, size) in cases {
        let mut cam = EmulatorConfig::new(ENR16, MAC);
        cam.model = model.into();
        let (transport, handle, _t) = start(cam);
        let session = WyzeSession::connect(transport, video_only()).await.unwrap();
        session.set_resolution(fs, bitrate).await.unwrap();
        let (rate, first) = video_rate(&session, fs.0, bitrate, 30).await;
        let want = f64::from(bitrate) * 1000.0;
        eprintln!("{model} {} at {bitrate} KB/s: {rate:.0} B/s", fs.name());
        assert!((rate - want).abs() <= want * 0.1, "{model} {} at {bitrate}: {rate:.0} B/s", fs.name());
        // The stream's SPS says the picture size set.
        assert_eq!(picture(&first), size, "{model} {}", fs.name());
        assert!(handle.state().video_bytes_sent > 0);
    }
}

#[tokio::test]
async fn a_bitrate_change_alone_keeps_the_picture_and_changes_the_rate() {
    let (transport, _handle, _t) = start(EmulatorConfig::new(ENR16, MAC));
    let session = WyzeSession::connect(transport, video_only()).await.unwrap();
    let (at_240, _) = video_rate(&session, 0, 240, 30).await;
    session.set_setting("bitrate", "90").await.unwrap();
    let (at_90, _) = video_rate(&session, 0, 90, 45).await;
    assert!((at_240 - 240_000.0).abs() < 24_000.0, "{at_240:.0}");
    assert!((at_90 - 90_000.0).abs() < 9_000.0, "{at_90:.0}");
    assert_eq!(session.setting("resolution").await.unwrap().value, "1080p");
}

#[tokio::test]
async fn without_padding_the_clip_runs_at_its_own_rate() {
    let mut cam = EmulatorConfig::new(ENR16, MAC);
    cam.pad_to_bitrate = false;
    let (transport, _handle, _t) = start(cam);
    let session = WyzeSession::connect(transport, video_only()).await.unwrap();
    let (rate, first) = video_rate(&session, 0, 240, 30).await;
    assert!(rate < 35_000.0, "{rate:.0} B/s");
    assert!(camctl_core::video::nal_units(&first).all(|n| n.nal_type() != 12), "no filler");
}

#[tokio::test]
async fn a_frame_size_without_a_picture_is_refused() {
    let (transport, handle, _t) = start(EmulatorConfig::new(ENR16, MAC));
    let session = WyzeSession::connect(transport, client(ENR16)).await.unwrap();
    let err = session.set_resolution(FrameSize(6), 120).await.unwrap_err();
    assert!(matches!(err, Error::Refused(10056)), "{err}");
    assert_eq!(handle.state().settings.frame_size, 0);
    // Through 10052 as well (resolution byte = frame size + 1).
    let refused = session
        .request(&camctl_wyze::wire::Request::SetVideoParam(camctl_wyze::wire::VideoParams {
            resolution: 8,
            ..Default::default()
        }))
        .await
        .unwrap();
    assert!(matches!(refused, camctl_wyze::wire::Response::SetResult { ok: false, .. }));
    assert_eq!(handle.state().settings.frame_size, 0);
}

/// Over real UDP on 127.0.0.1 (CC51 firmware, DTLS): 720p and 2K streams at their bitrates, written as
/// Annex-B and read back by ffprobe at that size.
#[tokio::test]
async fn udp_streams_at_720p_and_2k_are_what_ffprobe_reads() {
    use camctl_wyze::tutk::{ConnectOptions, ServerConfig, TutkServer, connect};
    const UID: &str = "ABCDEFGHIJKLMNOPQRST";
    let mut server_cfg = ServerConfig::new(UID, ENR16, MAC);
    server_cfg.emulator.model = "HL_CAM3P".into();
    server_cfg.emulator.pacing = camctl_wyze::Pacing::RealTime;
    server_cfg.emulator.fps = 30;
    let server = TutkServer::bind("127.0.0.1:0".parse().unwrap(), server_cfg).await.unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.serve());
    let dir = tempfile::tempdir().unwrap();
    for (fs, bitrate, (w, h)) in
        [(FrameSize::HD_720P, 120u16, (1280, 720)), (FrameSize::QHD_2K, 240, (2560, 1440))]
    {
        let opts = ConnectOptions { timeout: Duration::from_secs(5), ..Default::default() };
        let transport = connect(addr, UID, ENR16, MAC, opts).await.unwrap();
        let mut cfg = client(ENR16);
        cfg.frame_size = Some(fs);
        cfg.bitrate = bitrate;
        let session = WyzeSession::connect(transport, cfg).await.unwrap();
        let (rate, _) = video_rate(&session, fs.0, bitrate, 30).await;
        let want = f64::from(bitrate) * 1000.0;
        eprintln!("UDP {} at {bitrate} KB/s: {rate:.0} B/s", fs.name());
        assert!((rate - want).abs() <= want * 0.1, "{} at {bitrate}: {rate:.0} B/s", fs.name());
        let path = dir.path().join(format!("{}.h264", fs.name()));
        let mut sink = camctl_wyze::sink::AnnexBSink::new(std::fs::File::create(&path).unwrap());
        while sink.stats().frames_written < 20 {
            let (info, data) = session.recv_frame().await.unwrap();
            sink.push(&info, &data).unwrap();
        }
        assert_eq!(sink.stats().dimensions, Some((w, h)));
        drop(sink.into_inner().unwrap());
        session.into_transport().close().await;
        let Some(probe) = ffprobe_size(&path) else { return };
        assert_eq!(probe, format!("h264,{w},{h},20"), "{}", fs.name());
    }
}

/// `codec,width,height,frames` as ffprobe decodes them; `None` when ffprobe is not installed (a failure
/// with CI=true).
fn ffprobe_size(path: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output();
    let Ok(out) = out else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "ffprobe is required when CI=true");
        eprintln!("skipping: ffprobe not installed");
        return None;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "ffprobe: {stderr}");
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[tokio::test]
async fn a_huge_bitrate_at_one_frame_a_second_stays_bounded() {
    let (transport, _handle, _t) = start(EmulatorConfig::new(ENR16, MAC));
    let mut cfg = video_only();
    cfg.frame_size = Some(FrameSize::HD_1080P);
    cfg.bitrate = u16::MAX;
    cfg.fps = Some(1);
    let session = WyzeSession::connect(transport, cfg).await.unwrap();
    // FRAMEINFO's one-byte bitrate says 255, and 255 KB/s is what the padding follows.
    let (rate, _) = video_rate(&session, 0, u16::MAX, 15).await;
    assert!((rate - 255_000.0).abs() < 2_000.0, "{rate:.0}");
}
