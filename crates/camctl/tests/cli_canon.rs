//! The camctl binary against `camctl emulate ptpip --personality canon-eos`: info shows the dialect,
//! capture through the EOS release, events from the polled stream, and live view as MJPEG that ffprobe
//! reads (under CI=true a missing ffprobe fails the test).

mod common;

use std::path::Path;

use common::{Emulator, run_ok};

fn start(media: &Path) -> Emulator {
    Emulator::start("ptpip", media, &["--personality", "canon-eos"])
}

#[test]
fn info_capture_and_events_speak_canon_eos() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&tmp.path().join("card"));
    let info = run_ok(&["info", &emu.url]);
    assert!(info.contains("Canon EOS 5D Mark III") && info.contains("canon"), "{info}");
    let out = run_ok(&["capture", &emu.url, "--download", tmp.path().join("got").to_str().unwrap()]);
    let got = common::files_under(&tmp.path().join("got"));
    assert_eq!(got.len(), 1, "{out}");
    let bytes = std::fs::read(tmp.path().join("got").join(&got[0])).unwrap();
    assert!(bytes.starts_with(&[0xFF, 0xD8]), "a JPEG");

    // An exposure change in one session is an event in another: the watcher is ready once its first
    // drain has emptied the camera's queue.
    let events = common::spawn_ready(
        &["events", &emu.url, "--count", "1", "--json"],
        "GetEvent 0x9116 [] -> OK 0x2001, 8 bytes in",
    );
    assert_eq!(run_ok(&["config", &emu.url, "set", "aperture", "8"]).trim(), "8");
    let out = events.wait_with_output().unwrap();
    assert!(out.status.success());
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["event"], "PropertyChanged", "{line}");
    assert_eq!(line["detail"], "aperture = 8", "{line}");
}

#[test]
fn live_view_is_mjpeg_and_one_frame_is_a_picture() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&tmp.path().join("card"));
    common::assert_live_one_frame(&emu.url, &tmp.path().join("one.jpg"));
    let stderr = common::assert_live_frames(&emu.url, &tmp.path().join("live.mjpeg"), 5);
    assert!(stderr.contains("live: 5 frames"), "{stderr}");
    // The camera's screen got the viewfinder back.
    assert_eq!(run_ok(&["config", &emu.url, "get", "output"]).trim(), "Off");
}
