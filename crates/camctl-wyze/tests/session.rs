//! Client ⇄ emulator over the in-memory transport: handshakes, keys, settings, resolution changes,
//! timeouts and events. No network traffic.

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
            assert_eq!(&log[0].username, b"2CAA");
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
    assert_eq!(by_key("resolution"), "1080p");
    assert_eq!(by_key("bitrate"), "120");
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
    assert_eq!((first.frame_size, first.bitrate, first.framerate), (0, 120, 15));
    assert!(first.is_keyframe());
    assert_eq!(first.frame_len as usize, data.len());
    assert_eq!(first.mac_str(), MAC);
    session.set_resolution(FrameSize::SD_360P, 60).await.unwrap();
    // Frames already queued in the transport (capacity 8) keep the old FRAMEINFO.
    let mut seen = None;
    for _ in 0..20 {
        let (info, data) = session.recv_frame().await.unwrap();
        if info.frame_size == 1 {
            seen = Some((info, data));
            break;
        }
    }
    let (info, data) = seen.expect("no 360p frame within 20 frames");
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
    let session = WyzeSession::connect(transport, client(ENR16)).await.unwrap();
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
