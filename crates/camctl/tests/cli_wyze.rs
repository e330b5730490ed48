//! The `camctl` command line against `camctl emulate wyze` (TUTK over UDP on 127.0.0.1).

mod common;

use std::process::Stdio;

use common::{Emulator, camctl, require_program, run, run_ok, spawn_ready};

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
        if require_program("ffprobe") {
            let probe = std::process::Command::new("ffprobe")
                .args([
                    "-v",
                    "error",
                    "-count_frames",
                    "-show_entries",
                    "stream=codec_name,width,height,nb_read_frames",
                ])
                .args(["-of", "csv=p=0"])
                .arg(&video)
                .output()
                .unwrap();
            assert!(probe.status.success(), "{}", String::from_utf8_lossy(&probe.stderr));
            let text = String::from_utf8_lossy(&probe.stdout);
            assert_eq!(text.trim(), format!("h264,640,360,{}", clip.frames), "ffprobe: {text}");
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
    let wrong = emu.url.replace("enr=camctlEmu%2FEnr%2B16", "enr=wrongWrongWrong");
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
