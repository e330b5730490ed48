//! Interop: the real gphoto2 (Debian package `gphoto2`) against `camctl emulate ptpip --personality
//! canon-eos`, which gphoto2 must drive through its Canon EOS code (GetEvent polling, SetDevicePropValueEx,
//! RemoteReleaseOn/Off, GetViewFinderData). Under CI=true a missing gphoto2 fails these tests rather
//! than skipping them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Emulator, camctl, files_under, require_program, write_random_file};

/// A media folder with two sample JPEGs, a 2.5 MiB file (forces GetPartialObject in 1 MiB blocks) and a
/// second folder.
fn media(root: &Path) -> PathBuf {
    let media = root.join("media");
    let pictures = camctl_core::media::write_sample_pictures(&media.join("DCIM/100CANON"), 2).unwrap();
    assert_eq!(pictures.len(), 2);
    write_random_file(&media.join("DCIM/100CANON/BIG_0003.JPG"), 2_621_440 + 123, 7);
    write_random_file(&media.join("DCIM/101CANON/MVI_0001.MOV"), 70_000, 9);
    media
}

fn start(media: &Path) -> Emulator {
    Emulator::start("ptpip", media, &["--personality", "canon-eos"])
}

/// A HOME for gphoto2 (it stores its GUID and settings there), also its cwd.
fn home(root: &Path) -> PathBuf {
    let home = root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    home
}

/// Runs gphoto2 against the emulator with its own HOME and cwd; it must succeed.
fn gphoto2(emu: &Emulator, home: &Path, args: &[&str]) -> Output {
    let port = emu.port();
    let out = Command::new("gphoto2")
        .arg("--port")
        .arg(format!("ptpip:127.0.0.1:{port}:{port}"))
        .args(args)
        .env("HOME", home)
        .env("LANG", "C")
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

fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9])
}

#[test]
fn gphoto2_canon_summary() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&media(tmp.path()));
    let text = stdout(&gphoto2(&emu, &home(tmp.path()), &["--summary"]));
    assert!(text.contains("Manufacturer: Canon Inc."), "{text}");
    assert!(text.contains("Model: Canon EOS 5D Mark III"), "{text}");
    assert!(text.contains("Vendor Extension ID: 0xb"), "{text}");
    // gphoto2 took the Canon EOS capture path.
    assert!(text.contains("Canon EOS Capture"), "{text}");
    assert!(text.contains("VolumeLabel: CAMCTL"), "{text}");
}

#[test]
fn gphoto2_canon_list_and_get_all_files() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let media = media(tmp.path());
    let emu = start(&media);
    let home = home(tmp.path());
    let text = stdout(&gphoto2(&emu, &home, &["--list-files"]));
    for name in ["IMG_0001.JPG", "IMG_0002.JPG", "BIG_0003.JPG", "MVI_0001.MOV"] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert!(text.contains("/store_00010001/DCIM/100CANON"), "{text}");
    assert!(text.contains("/store_00010001/DCIM/101CANON"), "{text}");

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
fn gphoto2_canon_capture_image_and_download() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let media = media(tmp.path());
    let before = files_under(&media);
    let emu = start(&media);
    let home = home(tmp.path());
    // gphoto2's default capture target is the PC: RequestObjectTransfer, GetPartialObject,
    // TransferComplete.
    let text = stdout(&gphoto2(&emu, &home, &["--capture-image-and-download", "--filename", "shot-%n.jpg"]));
    assert!(text.contains("Saving file as shot-"), "{text}");
    let shots: Vec<_> =
        files_under(&home).into_iter().filter(|p| p.to_string_lossy().starts_with("shot-")).collect();
    assert_eq!(shots.len(), 1, "{shots:?}");
    let jpeg = std::fs::read(home.join(&shots[0])).unwrap();
    assert!(is_jpeg(&jpeg), "not a JPEG");
    // The emulator keeps what it shot (in the last DCF folder): the download is that new file.
    let added: Vec<_> = files_under(&media).into_iter().filter(|p| !before.contains(p)).collect();
    assert_eq!(added, [PathBuf::from("DCIM/101CANON/IMG_0001.JPG")]);
    assert_eq!(std::fs::read(media.join(&added[0])).unwrap(), jpeg);

    // Card target: ObjectAddedEx, then GetObjectInfo/GetObject and DeleteObject of the new file.
    gphoto2(&emu, &home, &["--set-config", "capturetarget=Memory card"]);
    let text = stdout(&gphoto2(&emu, &home, &["--capture-image-and-download", "--filename", "card-%n.jpg"]));
    assert!(text.contains("Saving file as card-"), "{text}");
    let card = std::fs::read(home.join("card-1.jpg")).unwrap();
    assert!(is_jpeg(&card) && card != jpeg);
    // gphoto2 deletes a card capture after downloading it (no --keep).
    assert_eq!(files_under(&media).len(), before.len() + 1);
}

#[test]
fn gphoto2_canon_list_config_shows_eos_widgets() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&media(tmp.path()));
    let text = stdout(&gphoto2(&emu, &home(tmp.path()), &["--list-config"]));
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
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&media(tmp.path()));
    let home = home(tmp.path());
    for (name, value) in [("aperture", "5.6"), ("shutterspeed", "1/250"), ("iso", "400")] {
        gphoto2(&emu, &home, &["--set-config", &format!("{name}={value}")]);
        let text = stdout(&gphoto2(&emu, &home, &["--get-config", name]));
        assert!(text.contains(&format!("Current: {value}\n")), "{name}: {text}");
    }
    // A value the body does not offer is refused by the camera (InvalidDevicePropValue).
    let port = emu.port();
    let out = Command::new("gphoto2")
        .arg("--port")
        .arg(format!("ptpip:127.0.0.1:{port}:{port}"))
        .args(["--set-config", "aperture=1.4"])
        .env("HOME", &home)
        .env("LANG", "C")
        .current_dir(&home)
        .output()
        .expect("run gphoto2");
    assert!(!out.status.success());
    let text = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("0x201c"), "{text}");
    let text = stdout(&gphoto2(&emu, &home, &["--get-config", "aperture"]));
    assert!(text.contains("Current: 5.6\n"), "{text}");

    // camctl reads what gphoto2 set, with the same names and labels, and gphoto2 what camctl sets.
    let url = format!("ptpip://127.0.0.1:{port}");
    for (name, value) in [("aperture", "5.6"), ("shutterspeed", "1/250"), ("iso", "400")] {
        let out = camctl().args(["config", &url, "get", name]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(stdout(&out).trim(), value, "camctl config get {name}");
    }
    for (name, value) in [("aperture", "8"), ("shutterspeed", "1/60"), ("iso", "1600")] {
        let out = camctl().args(["config", &url, "set", name, value]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(stdout(&out).trim(), value, "camctl config set {name}");
        let text = stdout(&gphoto2(&emu, &home, &["--get-config", name]));
        assert!(text.contains(&format!("Current: {value}\n")), "{name}: {text}");
    }
}

#[test]
fn gphoto2_canon_capture_preview() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&media(tmp.path()));
    let home = home(tmp.path());
    // gphoto2 prefixes a preview's --filename with "thumb_".
    gphoto2(&emu, &home, &["--capture-preview", "--filename", "preview-1.jpg"]);
    let first = std::fs::read(home.join("thumb_preview-1.jpg")).unwrap();
    assert!(is_jpeg(&first), "not a JPEG");
    gphoto2(&emu, &home, &["--capture-preview", "--filename", "preview-2.jpg"]);
    let second = std::fs::read(home.join("thumb_preview-2.jpg")).unwrap();
    assert!(is_jpeg(&second) && second != first, "frames repeat");
}

#[test]
fn gphoto2_canon_wait_event() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&media(tmp.path()));
    let started = std::time::Instant::now();
    let text = stdout(&gphoto2(&emu, &home(tmp.path()), &["--wait-event=3s"]));
    assert!(text.contains("Waiting for 3 seconds"), "{text}");
    // The polled stream reached gphoto2's EOS event code (property records are reported).
    assert!(text.contains("\"aperture\""), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}
