//! Interop: the real gphoto2 (Debian package `gphoto2`) against `camctl emulate ptpip`.
//! Under CI=true a missing gphoto2 fails these tests rather than skipping them.

mod common;

use common::gphoto2::{Rig, assert_all_downloaded, assert_lists_media, files_starting, is_jpeg, stdout};
use common::{files_under, run_ok};

/// A media folder with two small JPEGs, a 2.5 MiB file (forces GetPartialObject in 1 MiB blocks) and a
/// nested folder, served by the generic personality.
fn start() -> Option<Rig> {
    Rig::start("EMU01", "CLIP0001.MOV", &[])
}

#[test]
fn gphoto2_summary() {
    let Some(g) = start() else { return };
    let text = stdout(&g.gphoto2(&["--summary"]));
    assert!(text.contains("Manufacturer: camctl"), "{text}");
    assert!(text.contains("Serial Number: 0001"), "{text}");
    assert!(text.contains("Battery Level(0x5001):(read only)"), "{text}");
    assert!(text.contains("F-Number(0x5007):(readwrite)"), "{text}");
    assert!(text.contains("Generic Image Capture"), "{text}");
    assert!(text.contains("VolumeLabel: CAMCTL"), "{text}");
}

#[test]
fn gphoto2_list_files() {
    let Some(g) = start() else { return };
    let text = stdout(&g.gphoto2(&["--list-files"]));
    assert_lists_media(&text, "EMU01", "CLIP0001.MOV");
}

#[test]
fn gphoto2_get_all_files_is_byte_identical() {
    let Some(g) = start() else { return };
    g.gphoto2(&["--get-all-files"]);
    assert_all_downloaded(&g.media, &g.home, 4);
}

#[test]
fn gphoto2_capture_image_and_download() {
    let Some(g) = start() else { return };
    let text = stdout(&g.gphoto2(&["--capture-image-and-download", "--filename", "shot-%n.jpg"]));
    assert!(text.contains("Saving file as shot-"), "{text}");
    let shots = files_starting(&g.home, "shot-");
    assert_eq!(shots.len(), 1, "{shots:?}");
    let jpeg = std::fs::read(g.home.join(&shots[0])).unwrap();
    assert!(is_jpeg(&jpeg), "not a JPEG");
    // gphoto2 deletes the captured file from the camera after downloading it (no --keep).
    assert_eq!(files_under(&g.media).len(), 4);
}

#[test]
fn gphoto2_list_config() {
    let Some(g) = start() else { return };
    let text = stdout(&g.gphoto2(&["--list-config"]));
    for widget in [
        "/main/status/batterylevel",
        "/main/imgsettings/imagesize",
        "/main/imgsettings/iso",
        "/main/imgsettings/whitebalance",
        "/main/capturesettings/f-number",
        "/main/capturesettings/shutterspeed",
        "/main/settings/datetime",
    ] {
        assert!(text.contains(widget), "{widget} missing from:\n{text}");
    }
}

#[test]
fn gphoto2_set_config_then_read_back() {
    let Some(g) = start() else { return };
    g.gphoto2(&["--set-config", "f-number=f/5.6"]);
    let text = stdout(&g.gphoto2(&["--get-config", "f-number"]));
    assert!(text.contains("Current: f/5.6"), "{text}");
    g.gphoto2(&["--set-config", "iso=800"]);
    let text = stdout(&g.gphoto2(&["--get-config", "iso"]));
    assert!(text.contains("Current: 800"), "{text}");
    // camctl's own client sees what gphoto2 set.
    assert_eq!(run_ok(&["config", &g.emu.url, "get", "f-number"]).trim(), "f/5.6");
    assert_eq!(run_ok(&["config", &g.emu.url, "get", "iso"]).trim(), "800");
}
