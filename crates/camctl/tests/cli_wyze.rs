//! The `camctl` command line against `camctl emulate wyze` (TUTK over UDP on 127.0.0.1).

mod common;

use std::process::Stdio;

use common::{Emulator, camctl, run, run_ok, spawn_ready};

fn emulator(tmp: &std::path::Path, firmware: &str, extra: &[&str]) -> Emulator {
    let mut args = vec!["--firmware", firmware];
    args.extend_from_slice(extra);
    Emulator::start("wyze", &tmp.join("unused"), &args)
}

#[test]
fn info_config_and_live_for_both_firmware_flavours() {
    for firmware in ["old", "cc51"] {
        let tmp = tempfile::tempdir().unwrap();
        let emu = emulator(tmp.path(), firmware, &[]);
        assert!(emu.url.starts_with("wyze://127.0.0.1:") && emu.url.contains("uid=CAMCTLEMULATOR000001"));
        let info: serde_json::Value = serde_json::from_str(&run_ok(&["info", &emu.url, "--json"])).unwrap();
        assert_eq!(info["protocol"], "wyze", "{info}");

        assert_eq!(run_ok(&["config", &emu.url, "set", "status-light", "off"]).trim(), "off");
        assert_eq!(run_ok(&["config", &emu.url, "get", "status-light"]).trim(), "off");
        assert_eq!(run_ok(&["config", &emu.url, "set", "resolution", "360p"]).trim(), "360p");

        let video = tmp.path().join("live.h264");
        let out = run(&["live", &emu.url, "--out", video.to_str().unwrap(), "--for", "2"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let summary = String::from_utf8_lossy(&out.stderr);
        assert!(summary.contains("640x360") && summary.contains("0 gaps"), "{summary}");
        let bytes = std::fs::read(&video).unwrap();
        let clip = camctl_core::video::clip_info(&bytes).unwrap();
        assert_eq!((clip.width, clip.height), (640, 360));
        assert!(clip.frames >= 20, "{} frames in 2 s at 15 fps", clip.frames);
        if let Some(text) = common::ffprobe(&video) {
            assert_eq!(text, format!("h264,640,360,{}", clip.frames), "ffprobe: {text}");
        }
    }
}

#[test]
fn live_to_stdout_and_wrong_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = emulator(tmp.path(), "cc51", &[]);
    let out = camctl()
        .args(["live", &emu.url, "--out", "-", "--for", "1"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.starts_with(&[0, 0, 0, 1]), "Annex-B start code first");
    assert!(camctl_core::video::clip_info(&out.stdout).unwrap().frames > 5);

    // A wrong ENR (and with it a wrong DTLS PSK and AuthKey): one clear line, non-zero exit.
    let wrong = emu.url.replace("enr=camctlEmu%2FEnr%2B16", "enr=wrongWrongWrong0");
    let out = run(&["info", &format!("{wrong}&timeout=3")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    // Missing identifiers are named.
    let out = run(&["info", "wyze://127.0.0.1:1?uid=X"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("enr="),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No file listing over TUTK: said plainly.
    let out = run(&["ls", &emu.url]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("not supported"));
}

#[test]
fn session_limit_is_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = emulator(tmp.path(), "cc51", &["--max-sessions", "1"]);
    // One client holds the only session...
    let holder = spawn_ready(&["live", &emu.url, "--out", "-", "--for", "6"], "receiving live video");
    // ...so a second one gets no answer and says why it may be.
    let out = run(&["info", &format!("{}&timeout=2", emu.url)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("session limit"), "{err}");
    let status = holder.wait_with_output().unwrap().status;
    assert!(status.success());
    // Once it is gone, the camera serves again.
    run_ok(&["info", &emu.url]);
}

#[test]
fn verbose_shows_k_commands_and_quiet_shows_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = emulator(tmp.path(), "cc51", &[]);
    let out = run(&["-v", "info", &emu.url]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for line in ["sent K10000 connect request", "received K10001 challenge", " auth result"] {
        assert!(err.lines().any(|l| l.contains(line)), "{line:?} missing:\n{err}");
    }
    // Settings show their parameter.
    let out = run(&["-v", "config", &emu.url, "set", "status-light", "off"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.lines().any(|l| l.contains("sent K10032 set status light [2]")), "{err}");
    // -vv adds the datagrams.
    let out = run(&["-vv", "info", &emu.url]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.lines().any(|l| l.contains("tutk: sent") && l.contains("bytes")), "{err}");
    // Without -v: nothing but the answer.
    let out = run(&["info", &emu.url]);
    assert!(out.status.success() && !out.stdout.is_empty());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn url_forms_are_checked_before_any_packet() {
    // A socket that would see any datagram camctl sent; it never answers.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let url = |uid: &str, enr: &str, mac: &str, more: &str| {
        format!("wyze://127.0.0.1:{port}?uid={uid}&enr={enr}&mac={mac}{more}")
    };
    let (uid, enr, mac) = ("CAMCTLEMULATOR000001", "camctlEmu%2FEnr%2B16", "2CAA8E000001");
    let cases = [
        (
            url("CAMCTLEMULATOR0001", enr, mac, ""),
            "uid=CAMCTLEMULATOR0001: expected 20 uppercase letters and digits",
        ),
        (url("camctlemulator000001", enr, mac, ""), "character 1 (c) is a lowercase letter"),
        (url("CAMCTL-EMULATOR-0001", enr, mac, ""), "character 7 (-) is not a letter or digit"),
        (url(uid, "short", mac, ""), "enr=: expected 16 or 32 characters"),
        (url(uid, enr, "2C:AA:8E:00:00:01", ""), "expected 12 hex digits without separators"),
        (url(uid, enr, "2CAA8E00000G", ""), "mac=2CAA8E00000G: expected 12 hex digits"),
        (
            url(uid, enr, mac, "&dlts=false"),
            "unknown option \"dlts\" in wyze:// URL (known: uid, enr, mac, model,",
        ),
    ];
    for (url, expected) in cases {
        let out = run(&["info", &url]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(expected), "{url}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // The ENR is a secret: a wrong one is described, never repeated.
    let out = run(&["info", &url(uid, "notSixteenChars", mac, "")]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("notSixteenChars"));
    socket.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 2048];
    let got = socket.recv_from(&mut buf);
    assert!(
        matches!(&got, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a packet was sent: {got:?}"
    );

    // With a valid URL the silent socket is asked, and the error names protocol, host and port.
    let out = run(&["info", &url(uid, enr, mac, "&timeout=1")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("no Wyze camera at 127.0.0.1:{port}: no answer to LAN discovery in 1 s")),
        "{err}"
    );
    assert!(socket.recv_from(&mut buf).is_ok(), "discovery went to the given port");
}

#[test]
fn refused_values_list_the_allowed_ones_and_the_clock_takes_dates() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = emulator(tmp.path(), "cc51", &[]);
    let out = run(&["config", &emu.url, "set", "night-vision", "purple"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("(allowed: on, off, auto)"), "{err}");
    let out = run(&["config", &emu.url, "set", "fps", "99"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("(allowed: 1 to 30)"));

    let set = run_ok(&["config", &emu.url, "set", "camera-time", "2031-02-03 04:05:06"]);
    assert!(set.trim().starts_with("2031-02-03 04:05"), "{set}");
    // "now" is local time: what `date` prints here, to the minute (or the next one at a boundary).
    let before = camctl_core::time::DateTime::now_local().to_string();
    let set = run_ok(&["config", &emu.url, "set", "camera-time", "now"]);
    let after = camctl_core::time::DateTime::now_local().to_string();
    let shown = set.trim();
    assert!(
        shown.len() == 19 && before[..16] <= shown[..16] && shown[..16] <= after[..16],
        "{before} {shown} {after}"
    );
    let out = run(&["config", &emu.url, "set", "camera-time", "2031-02-30 00:00:00"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("YYYY-MM-DD hh:mm:ss"), "{err}");
}

/// The picture size in the SPS of a recorded Annex-B file.
fn recorded_size(path: &std::path::Path) -> (u32, u32) {
    let clip = camctl_core::video::clip_info(&std::fs::read(path).unwrap()).unwrap();
    (clip.width, clip.height)
}

#[test]
fn subtype_resolution_and_audio_options() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = emulator(tmp.path(), "cc51", &[]);
    let video = tmp.path().join("live.h264");
    let live = |options: &str| {
        let url = format!("{}{options}", emu.url);
        let out = run(&["-v", "live", &url, "--out", video.to_str().unwrap(), "--force", "--for", "2"]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{options}: {err}");
        err
    };
    // go2rtc's names: sd is 360p at 60 KB/s, hd the model's best (1080p on this model) at 240 KB/s.
    let log = live("&subtype=sd");
    assert_eq!(recorded_size(&video), (640, 360));
    assert!(log.contains("sent K10056 set resolution and bitrate [2, 60, 0, 0, 0]"), "{log}");
    assert_eq!(run_ok(&["config", &format!("{}&subtype=sd", emu.url), "get", "bitrate"]).trim(), "60");
    live("&subtype=HD");
    assert_eq!(recorded_size(&video), (1920, 1080));
    // resolution= wins over subtype=.
    let log = live("&subtype=sd&resolution=720p");
    assert_eq!(recorded_size(&video), (1280, 720));
    assert!(log.contains("[3, 240, 0, 0, 0]"), "{log}");
    // Audio comes with the video unless audio=false.
    assert!(log.contains("sent K10010 control channel [2, 1]"), "{log}");
    let log = live("&audio=false");
    assert!(!log.contains("[2, 1]"), "{log}");
    for (option, expected) in
        [("&subtype=4k", "subtype=4k (use hd or sd)"), ("&audio=maybe", "audio=maybe (use")]
    {
        let out = run(&["info", &format!("{}{option}", emu.url)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(expected), "{option}: {err}");
    }
}
