//! Interop: the real gphoto2 (Debian package `gphoto2`) against `camctl emulate ptpip --personality
//! canon-eos`, which gphoto2 must drive through its Canon EOS code (GetEvent polling, SetDevicePropValueEx,
//! RemoteReleaseOn/Off, GetViewFinderData). Under CI=true a missing gphoto2 fails these tests rather
//! than skipping them.

mod common;

use std::path::PathBuf;

use common::gphoto2::{Rig, assert_all_downloaded, assert_lists_media, files_starting, is_jpeg, stdout};
use common::{files_under, run_ok};

/// A media folder with two sample JPEGs, a 2.5 MiB file (forces GetPartialObject in 1 MiB blocks) and a
/// second folder, served by the canon-eos personality.
fn start() -> Option<Rig> {
    Rig::start("CANON", "MVI_0001.MOV", &["--personality", "canon-eos"])
}

#[test]
fn gphoto2_canon_summary() {
    let Some(g) = start() else { return };
    let text = stdout(&g.gphoto2(&["--summary"]));
    assert!(text.contains("Manufacturer: Canon Inc."), "{text}");
    assert!(text.contains("Model: Canon EOS 5D Mark III"), "{text}");
    assert!(text.contains("Vendor Extension ID: 0xb"), "{text}");
    // gphoto2 took the Canon EOS capture path.
    assert!(text.contains("Canon EOS Capture"), "{text}");
    assert!(text.contains("VolumeLabel: CAMCTL"), "{text}");
}

#[test]
fn gphoto2_canon_list_and_get_all_files() {
    let Some(g) = start() else { return };
    let text = stdout(&g.gphoto2(&["--list-files"]));
    assert_lists_media(&text, "CANON", "MVI_0001.MOV");

    g.gphoto2(&["--get-all-files"]);
    assert_all_downloaded(&g.media, &g.home, 4);
}

#[test]
fn gphoto2_canon_capture_image_and_download() {
    let Some(g) = start() else { return };
    let before = files_under(&g.media);
    // gphoto2's default capture target is the PC: RequestObjectTransfer, GetPartialObject,
    // TransferComplete.
    let text = stdout(&g.gphoto2(&["--capture-image-and-download", "--filename", "shot-%n.jpg"]));
    assert!(text.contains("Saving file as shot-"), "{text}");
    let shots = files_starting(&g.home, "shot-");
    assert_eq!(shots.len(), 1, "{shots:?}");
    let jpeg = std::fs::read(g.home.join(&shots[0])).unwrap();
    assert!(is_jpeg(&jpeg), "not a JPEG");
    // The emulator keeps what it shot (in the last DCF folder): the download is that new file.
    let added: Vec<_> = files_under(&g.media).into_iter().filter(|p| !before.contains(p)).collect();
    assert_eq!(added, [PathBuf::from("DCIM/101CANON/IMG_0001.JPG")]);
    assert_eq!(std::fs::read(g.media.join(&added[0])).unwrap(), jpeg);

    // Card target: ObjectAddedEx, then GetObjectInfo/GetObject and DeleteObject of the new file.
    g.gphoto2(&["--set-config", "capturetarget=Memory card"]);
    let text = stdout(&g.gphoto2(&["--capture-image-and-download", "--filename", "card-%n.jpg"]));
    assert!(text.contains("Saving file as card-"), "{text}");
    let card = std::fs::read(g.home.join("card-1.jpg")).unwrap();
    assert!(is_jpeg(&card) && card != jpeg);
    // gphoto2 deletes a card capture after downloading it (no --keep).
    assert_eq!(files_under(&g.media).len(), before.len() + 1);
}

#[test]
fn gphoto2_canon_list_config_shows_eos_widgets() {
    let Some(g) = start() else { return };
    let text = stdout(&g.gphoto2(&["--list-config"]));
    for widget in [
        "/main/capturesettings/aperture",
        "/main/capturesettings/shutterspeed",
        "/main/imgsettings/iso",
        "/main/capturesettings/exposurecompensation",
        "/main/imgsettings/whitebalance",
        "/main/capturesettings/drivemode",
        "/main/imgsettings/imageformat",
        "/main/capturesettings/focusmode",
        "/main/capturesettings/autoexposuremode",
        "/main/status/batterylevel",
        "/main/status/availableshots",
        "/main/status/eosserialnumber",
        "/main/settings/output",
        "/main/settings/evfmode",
        "/main/settings/capturetarget",
    ] {
        assert!(text.contains(widget), "{widget} missing from:\n{text}");
    }
}

#[test]
fn gphoto2_canon_set_config_then_read_back() {
    let Some(g) = start() else { return };
    for (name, value) in [("aperture", "5.6"), ("shutterspeed", "1/250"), ("iso", "400")] {
        g.gphoto2(&["--set-config", &format!("{name}={value}")]);
        let text = stdout(&g.gphoto2(&["--get-config", name]));
        assert!(text.contains(&format!("Current: {value}\n")), "{name}: {text}");
    }
    // A value the body does not offer is refused by the camera (InvalidDevicePropValue).
    let text = g.gphoto2_fails(&["--set-config", "aperture=1.4"]);
    assert!(text.contains("0x201c"), "{text}");
    let text = stdout(&g.gphoto2(&["--get-config", "aperture"]));
    assert!(text.contains("Current: 5.6\n"), "{text}");

    // camctl reads what gphoto2 set, with the same names and labels, and gphoto2 what camctl sets.
    let url = g.url();
    for (name, value) in [("aperture", "5.6"), ("shutterspeed", "1/250"), ("iso", "400")] {
        assert_eq!(run_ok(&["config", &url, "get", name]).trim(), value, "camctl config get {name}");
    }
    for (name, value) in [("aperture", "8"), ("shutterspeed", "1/60"), ("iso", "1600")] {
        assert_eq!(run_ok(&["config", &url, "set", name, value]).trim(), value, "camctl config set {name}");
        let text = stdout(&g.gphoto2(&["--get-config", name]));
        assert!(text.contains(&format!("Current: {value}\n")), "{name}: {text}");
    }
}

#[test]
fn gphoto2_canon_capture_preview() {
    let Some(g) = start() else { return };
    // gphoto2 prefixes a preview's --filename with "thumb_".
    g.gphoto2(&["--capture-preview", "--filename", "preview-1.jpg"]);
    let first = std::fs::read(g.home.join("thumb_preview-1.jpg")).unwrap();
    assert!(is_jpeg(&first), "not a JPEG");
    g.gphoto2(&["--capture-preview", "--filename", "preview-2.jpg"]);
    let second = std::fs::read(g.home.join("thumb_preview-2.jpg")).unwrap();
    assert!(is_jpeg(&second) && second != first, "frames repeat");
}

#[test]
fn gphoto2_canon_wait_event() {
    let Some(g) = start() else { return };
    let started = std::time::Instant::now();
    let text = stdout(&g.gphoto2(&["--wait-event=3s"]));
    assert!(text.contains("Waiting for 3 seconds"), "{text}");
    // The polled stream reached gphoto2's EOS event code (property records are reported).
    assert!(text.contains("\"aperture\""), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}
