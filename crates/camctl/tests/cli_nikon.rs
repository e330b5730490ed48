//! The camctl binary against `camctl emulate ptpip --personality nikon`: info shows the dialect,
//! capture through InitiateCaptureRecInMedia, events from the polled GetEvent, live view as a JPEG that ffprobe reads (under CI=true a
//! missing ffprobe fails the test), Wi-Fi profiles added, listed without their key and deleted, and
//! the explained Access Denied of a body that does not allow transfer.

mod common;

use std::path::Path;

use common::{Emulator, run, run_ok};

fn start(media: &Path) -> Emulator {
    Emulator::start("ptpip", media, &["--personality", "nikon"])
}

#[test]
fn info_and_capture_speak_nikon() {
    let tmp = tempfile::tempdir().unwrap();
    let card = tmp.path().join("card");
    let emu = start(&card);
    let info = run_ok(&["info", &emu.url]);
    assert!(info.contains("D750") && info.contains("nikon"), "{info}");
    let before = common::files_under(&card);
    let got = tmp.path().join("got");
    let out = run_ok(&["capture", &emu.url, "--download", got.to_str().unwrap()]);
    let fetched = common::files_under(&got);
    assert_eq!(fetched.len(), 1, "{out}");
    let bytes = std::fs::read(got.join(&fetched[0])).unwrap();
    assert!(bytes.starts_with(&[0xFF, 0xD8]), "a JPEG");
    // The picture is on the card too, byte-identical.
    let added: Vec<_> = common::files_under(&card).into_iter().filter(|p| !before.contains(p)).collect();
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(std::fs::read(card.join(&added[0])).unwrap(), bytes);

    // An exposure change in one session is an event in another, through its GetEvent 0x90C7 polls:
    // the watcher is ready once it has polled once.
    let events = common::spawn_ready(
        &["events", &emu.url, "--count", "1", "--json"],
        "GetEvent 0x90c7 [] -> OK 0x2001, 2 bytes in",
    );
    assert_eq!(run_ok(&["config", &emu.url, "set", "f-number", "f/5.6"]).trim(), "f/5.6");
    let out = events.wait_with_output().unwrap();
    assert!(out.status.success());
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["event"], "DevicePropChanged", "{line}");
    assert_eq!(line["detail"], "f-number", "{line}");
    assert_eq!(run_ok(&["config", &emu.url, "get", "aperture"]).trim(), "f/5.6");
}

#[test]
fn live_one_frame_is_a_picture() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&tmp.path().join("card"));
    common::assert_live_one_frame(&emu.url, &tmp.path().join("x.jpg"));
    common::assert_live_frames(&emu.url, &tmp.path().join("live.mjpeg"), 3);
}

#[test]
fn wifi_profiles_add_list_delete_without_showing_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&tmp.path().join("card"));
    let empty = run_ok(&["wifi-profile", &emu.url, "list"]);
    assert!(empty.contains("no Wi-Fi profiles"), "{empty}");

    let added = run_ok(&["wifi-profile", &emu.url, "add", "home", "--ssid", "Net", "--key", "correct horse"]);
    assert!(added.contains("added Wi-Fi profile 1") && added.contains("home"), "{added}");
    assert!(!added.contains("correct horse"), "key printed: {added}");
    let list = run_ok(&["wifi-profile", &emu.url, "list"]);
    assert!(list.contains("home") && list.contains("Net"), "{list}");
    assert!(!list.contains("correct horse"), "key printed: {list}");
    let json = run_ok(&["wifi-profile", &emu.url, "list", "--json"]);
    let slots: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(slots[0]["id"], 1, "{json}");
    assert_eq!(slots[0]["ssid"], "Net", "{json}");
    assert!(!json.contains("correct horse"));
    // Only with --show-key.
    let shown = run_ok(&[
        "wifi-profile",
        &emu.url,
        "add",
        "work",
        "--ssid",
        "Office",
        "--key",
        "battery staple",
        "--show-key",
    ]);
    assert!(shown.contains("battery staple") && shown.contains("profile 2"), "{shown}");

    assert!(run_ok(&["wifi-profile", &emu.url, "delete", "1"]).contains("deleted Wi-Fi profile 1"));
    assert!(run_ok(&["wifi-profile", &emu.url, "delete", "2"]).contains("deleted Wi-Fi profile 2"));
    let empty = run_ok(&["wifi-profile", &emu.url, "list"]);
    assert!(empty.contains("no Wi-Fi profiles (5 free slots)"), "{empty}");
    let out = run(&["wifi-profile", &emu.url, "delete", "1"]);
    assert!(!out.status.success());
}

#[test]
fn denied_transfer_is_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let emu =
        Emulator::start("ptpip", &tmp.path().join("card"), &["--personality", "nikon", "--deny-transfer"]);
    let out = run(&["ls", &emu.url]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("transfer"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
