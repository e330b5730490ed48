//! Interop: the real gphoto2 (Debian package `gphoto2`) against `camctl emulate ptpip`.
//! Under CI=true a missing gphoto2 fails these tests rather than skipping them.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Emulator, files_under, require_program, run_ok, write_random_file};

/// A media folder with a small JPEG, a 2.5 MiB file (forces GetPartialObject in 1 MiB blocks) and a
/// nested folder.
fn media(root: &Path) -> std::path::PathBuf {
    let media = root.join("media");
    let pictures = camctl_core::media::write_sample_pictures(&media.join("DCIM/100EMU01"), 2).unwrap();
    assert_eq!(pictures.len(), 2);
    write_random_file(&media.join("DCIM/100EMU01/BIG_0003.JPG"), 2_621_440 + 123, 7);
    write_random_file(&media.join("DCIM/101EMU01/CLIP0001.MOV"), 70_000, 9);
    media
}

/// Runs gphoto2 against the emulator with its own HOME (gphoto2 stores its GUID there) and cwd.
fn gphoto2(emu: &Emulator, home: &Path, args: &[&str]) -> Output {
    let port = emu.port();
    let out = Command::new("gphoto2")
        .arg("--port")
        .arg(format!("ptpip:127.0.0.1:{port}:{port}"))
        .args(args)
        .env("HOME", home)
        .current_dir(home)
        .output()
        .expect("run gphoto2");
    assert!(
        out.status.success(),
        "gphoto2 {args:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn gphoto2_summary() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("ptpip", &media(tmp.path()), &[]);
    let text = stdout(&gphoto2(&emu, tmp.path(), &["--summary"]));
    assert!(text.contains("Manufacturer: camctl"), "{text}");
    assert!(text.contains("Serial Number: 0001"), "{text}");
    assert!(text.contains("Battery Level(0x5001):(read only)"), "{text}");
    assert!(text.contains("F-Number(0x5007):(readwrite)"), "{text}");
    assert!(text.contains("Generic Image Capture"), "{text}");
    assert!(text.contains("VolumeLabel: CAMCTL"), "{text}");
}

#[test]
fn gphoto2_list_files() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("ptpip", &media(tmp.path()), &[]);
    let text = stdout(&gphoto2(&emu, tmp.path(), &["--list-files"]));
    for name in ["IMG_0001.JPG", "IMG_0002.JPG", "BIG_0003.JPG", "CLIP0001.MOV"] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert!(text.contains("/store_00010001/DCIM/100EMU01"), "{text}");
    assert!(text.contains("/store_00010001/DCIM/101EMU01"), "{text}");
}

#[test]
fn gphoto2_get_all_files_is_byte_identical() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let media = media(tmp.path());
    let emu = Emulator::start("ptpip", &media, &[]);
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    gphoto2(&emu, &home, &["--get-all-files"]);
    let originals = files_under(&media);
    assert_eq!(originals.len(), 4);
    for rel in originals {
        let name = rel.file_name().unwrap();
        let fetched =
            std::fs::read(home.join(name)).unwrap_or_else(|e| panic!("{name:?} not downloaded: {e}"));
        assert_eq!(fetched, std::fs::read(media.join(&rel)).unwrap(), "{rel:?} differs");
    }
}

#[test]
fn gphoto2_capture_image_and_download() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let media = media(tmp.path());
    let emu = Emulator::start("ptpip", &media, &[]);
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let text = stdout(&gphoto2(&emu, &home, &["--capture-image-and-download", "--filename", "shot-%n.jpg"]));
    assert!(text.contains("Saving file as shot-"), "{text}");
    let shots: Vec<_> =
        files_under(&home).into_iter().filter(|p| p.to_string_lossy().starts_with("shot-")).collect();
    assert_eq!(shots.len(), 1, "{shots:?}");
    let jpeg = std::fs::read(home.join(&shots[0])).unwrap();
    assert!(jpeg.starts_with(&[0xFF, 0xD8]) && jpeg.ends_with(&[0xFF, 0xD9]), "not a JPEG");
    // gphoto2 deletes the captured file from the camera after downloading it (no --keep).
    assert_eq!(files_under(&media).len(), 4);
}

#[test]
fn gphoto2_list_config() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("ptpip", &media(tmp.path()), &[]);
    let text = stdout(&gphoto2(&emu, tmp.path(), &["--list-config"]));
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
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("ptpip", &media(tmp.path()), &[]);
    gphoto2(&emu, tmp.path(), &["--set-config", "f-number=f/5.6"]);
    let text = stdout(&gphoto2(&emu, tmp.path(), &["--get-config", "f-number"]));
    assert!(text.contains("Current: f/5.6"), "{text}");
    gphoto2(&emu, tmp.path(), &["--set-config", "iso=800"]);
    let text = stdout(&gphoto2(&emu, tmp.path(), &["--get-config", "iso"]));
    assert!(text.contains("Current: 800"), "{text}");
    // camctl's own client sees what gphoto2 set.
    assert_eq!(run_ok(&["config", &emu.url, "get", "f-number"]).trim(), "f/5.6");
    assert_eq!(run_ok(&["config", &emu.url, "get", "iso"]).trim(), "800");
}
