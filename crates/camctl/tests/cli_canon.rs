//! The camctl binary against `camctl emulate ptpip --personality canon-eos`: info shows the dialect,
//! capture through the EOS release, events from the polled stream, and live view as MJPEG that ffprobe
//! reads (under CI=true a missing ffprobe fails the test).

mod common;

use std::path::Path;
use std::process::Command;

use common::{Emulator, require_program, run, run_ok};

fn start(media: &Path) -> Emulator {
    Emulator::start("ptpip", media, &["--personality", "canon-eos"])
}

/// ffprobe's (codec, width, height, frames) of a file.
fn probe(path: &Path) -> Option<(String, u32, u32, u64)> {
    if !require_program("ffprobe") {
        return None;
    }
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames",
        ])
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let f: Vec<&str> = text.split(',').collect();
    assert_eq!(f.len(), 4, "ffprobe: {text}");
    Some((f[0].into(), f[1].parse().unwrap(), f[2].parse().unwrap(), f[3].parse().unwrap()))
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
    let one = tmp.path().join("one.jpg");
    let out = run(&["live", &emu.url, "--frames", "1", "--out", one.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("live: 1 frames ("), "{stderr}");
    let jpeg = std::fs::read(&one).unwrap();
    let (w, h) = camctl_core::media::jpeg_dimensions(&jpeg).expect("a JPEG");
    if let Some((codec, pw, ph, frames)) = probe(&one) {
        assert_eq!((codec.as_str(), pw, ph, frames), ("mjpeg", u32::from(w), u32::from(h), 1));
    }

    let many = tmp.path().join("live.mjpeg");
    let out = run(&["live", &emu.url, "--frames", "5", "--out", many.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("live: 5 frames"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some((codec, _, _, frames)) = probe(&many) {
        assert_eq!((codec.as_str(), frames), ("mjpeg", 5));
    }
    // The camera's screen got the viewfinder back.
    assert_eq!(run_ok(&["config", &emu.url, "get", "output"]).trim(), "Off");
}
