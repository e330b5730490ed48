//! Interop: the real gphoto2 (Debian package `gphoto2`) against `camctl emulate ptpip --personality
//! nikon`, which gphoto2 must drive through its Nikon code (GetVendorPropCodes, GetEvent 0x90C7 polling,
//! InitiateCaptureRecInMedia + DeviceReady, StartLiveView/GetLiveViewImg, the Wi-Fi profile list).
//! Under CI=true a missing gphoto2 fails these tests rather than skipping them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Emulator, camctl, files_under, require_program, write_random_file};

/// A media folder with two sample JPEGs, a 2.5 MiB file (forces GetPartialObject in 1 MiB blocks) and a
/// second folder.
fn media(root: &Path) -> PathBuf {
    let media = root.join("media");
    let pictures = camctl_core::media::write_sample_pictures(&media.join("DCIM/100NIKON"), 2).unwrap();
    assert_eq!(pictures.len(), 2);
    write_random_file(&media.join("DCIM/100NIKON/BIG_0003.JPG"), 2_621_440 + 123, 7);
    write_random_file(&media.join("DCIM/101NIKON/MVI_0001.MOV"), 70_000, 9);
    media
}

fn start(media: &Path) -> Emulator {
    Emulator::start("ptpip", media, &["--personality", "nikon"])
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

/// Runs gphoto2 expecting failure; returns stdout and stderr together.
fn gphoto2_fails(emu: &Emulator, home: &Path, args: &[&str]) -> String {
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
    assert!(!out.status.success(), "gphoto2 {args:?} succeeded");
    format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn gphoto2_nikon_summary() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&media(tmp.path()));
    let text = stdout(&gphoto2(&emu, &home(tmp.path()), &["--summary"]));
    assert!(text.contains("Manufacturer: Nikon Corporation"), "{text}");
    assert!(text.contains("Model: D750"), "{text}");
    assert!(text.contains("Vendor Extension ID: 0xa"), "{text}");
    // gphoto2 took the 3rd-generation Nikon capture path and saw the profile operations.
    assert!(text.contains("Nikon Capture 3"), "{text}");
    assert!(text.contains("Nikon Wifi support"), "{text}");
    assert!(text.contains("VolumeLabel: CAMCTL"), "{text}");
    // The vendor properties came from GetVendorPropCodes.
    assert!(text.contains("Live View Status(0xd1a2)"), "{text}");
    assert!(text.contains("F-Number(0x5007):(readwrite) (type=0x4) Enumeration"), "{text}");
}

#[test]
fn gphoto2_nikon_list_and_get_all_files() {
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
    assert!(text.contains("/store_00010001/DCIM/100NIKON"), "{text}");
    assert!(text.contains("/store_00010001/DCIM/101NIKON"), "{text}");

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
fn gphoto2_nikon_capture_image_and_download() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let media = media(tmp.path());
    let before = files_under(&media);
    let emu = start(&media);
    let home = home(tmp.path());
    // gphoto2's default capture target is SDRAM: ObjectAddedInSdram, GetObjectInfo (parent 0),
    // GetObject, DeleteObject; the card is untouched.
    let text = stdout(&gphoto2(&emu, &home, &["--capture-image-and-download", "--filename", "shot-%n.jpg"]));
    assert!(text.contains("New file is in location /capt0000.jpg"), "{text}");
    assert!(text.contains("Saving file as shot-1.jpg"), "{text}");
    let jpeg = std::fs::read(home.join("shot-1.jpg")).unwrap();
    assert!(is_jpeg(&jpeg), "not a JPEG");
    assert_eq!(files_under(&media), before);

    // Card target: ObjectAdded with a real folder, CaptureComplete, then download and delete.
    gphoto2(&emu, &home, &["--set-config", "capturetarget=Memory card"]);
    let text = stdout(&gphoto2(&emu, &home, &["--capture-image-and-download", "--filename", "card-%n.jpg"]));
    assert!(text.contains("New file is in location /store_00010001/DCIM/101NIKON/IMG_0001.JPG"), "{text}");
    let card = std::fs::read(home.join("card-1.jpg")).unwrap();
    assert!(is_jpeg(&card) && card != jpeg);
    // gphoto2 deletes a card capture after downloading it (no --keep).
    assert_eq!(files_under(&media), before);
    // With --keep the new file stays, byte-identical with the download.
    let text = stdout(&gphoto2(
        &emu,
        &home,
        &["--capture-image-and-download", "--keep", "--filename", "kept-%n.jpg"],
    ));
    assert!(text.contains("Saving file as kept-1.jpg"), "{text}");
    let added: Vec<_> = files_under(&media).into_iter().filter(|p| !before.contains(p)).collect();
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(
        std::fs::read(media.join(&added[0])).unwrap(),
        std::fs::read(home.join("kept-1.jpg")).unwrap()
    );
}

#[test]
fn gphoto2_nikon_list_config_shows_nikon_widgets() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&media(tmp.path()));
    let text = stdout(&gphoto2(&emu, &home(tmp.path()), &["--list-config"]));
    for widget in [
        "/main/capturesettings/f-number",
        "/main/capturesettings/shutterspeed",
        "/main/capturesettings/shutterspeed2",
        "/main/imgsettings/iso",
        "/main/capturesettings/exposurecompensation",
        "/main/imgsettings/whitebalance",
        "/main/capturesettings/imagequality",
        "/main/settings/recordingmedia",
        "/main/settings/capturetarget",
        "/main/status/batterylevel",
        "/main/status/liveviewprohibit",
        "/main/actions/viewfinder",
        // GetProfileAllData parsed: the list widget exists.
        "/main/wifiprofiles/list/Version",
        "/main/wifiprofiles/new/write",
    ] {
        assert!(text.contains(widget), "{widget} missing from:\n{text}");
    }
}

#[test]
fn gphoto2_nikon_set_config_then_read_back() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&media(tmp.path()));
    let home = home(tmp.path());
    // gphoto2 labels ExposureTime in seconds; it accepts fractions and snaps them.
    for (name, value, shown) in
        [("f-number", "f/5.6", "f/5.6"), ("shutterspeed", "1/250", "0.0040s"), ("iso", "400", "400")]
    {
        gphoto2(&emu, &home, &["--set-config", &format!("{name}={value}")]);
        let text = stdout(&gphoto2(&emu, &home, &["--get-config", name]));
        assert!(text.contains(&format!("Current: {shown}\n")), "{name}: {text}");
    }
    // A label the camera does not offer is refused by gphoto2 before anything is sent.
    let text = gphoto2_fails(&emu, &home, &["--set-config", "whitebalance=Underwater"]);
    assert!(text.to_lowercase().contains("underwater"), "{text}");

    // camctl reads what gphoto2 set, with the same names and labels, and gphoto2 what camctl sets.
    let url = format!("ptpip://127.0.0.1:{}", emu.port());
    for (name, value) in [("f-number", "f/5.6"), ("shutterspeed", "0.0040s"), ("iso", "400")] {
        let out = camctl().args(["config", &url, "get", name]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(stdout(&out).trim(), value, "camctl config get {name}");
    }
    for (name, value, shown) in
        [("f-number", "f/8", "f/8"), ("shutterspeed", "1/60", "0.0166s"), ("iso", "1600", "1600")]
    {
        let out = camctl().args(["config", &url, "set", name, value]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(stdout(&out).trim(), shown, "camctl config set {name}");
        let text = stdout(&gphoto2(&emu, &home, &["--get-config", name]));
        assert!(text.contains(&format!("Current: {shown}\n")), "{name}: {text}");
    }
}

#[test]
fn gphoto2_nikon_capture_preview() {
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
    // Live view was left on: the second run finds it on and starts it again.
    gphoto2(&emu, &home, &["--capture-preview", "--filename", "preview-2.jpg"]);
    let second = std::fs::read(home.join("thumb_preview-2.jpg")).unwrap();
    assert!(is_jpeg(&second) && second != first, "frames repeat");
}

#[test]
fn gphoto2_nikon_wait_event() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&media(tmp.path()));
    let home = home(tmp.path());
    let started = std::time::Instant::now();
    let text = stdout(&gphoto2(&emu, &home, &["--wait-event=3s"]));
    assert!(text.contains("Waiting for 3 seconds"), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    // Within one session, a change made first is reported by the 0x90C7 poll of the wait.
    let text = stdout(&gphoto2(&emu, &home, &["--set-config", "iso=800", "--wait-event=2s"]));
    assert!(text.contains("Property 500f changed, \"iso\" to \"800\""), "{text}");
    // And a capture's file, by its events.
    gphoto2(&emu, &home, &["--set-config", "capturetarget=Memory card"]);
    let text =
        stdout(&gphoto2(&emu, &home, &["--trigger-capture", "--wait-event-and-download=3s", "--keep"]));
    assert!(text.contains("IMG_0001.JPG"), "{text}");
}

#[test]
fn gphoto2_nikon_wifi_profiles_interoperate_with_camctl() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&media(tmp.path()));
    let home = home(tmp.path());
    let url = format!("ptpip://127.0.0.1:{}", emu.port());
    // gphoto2 writes a profile (SendProfileData into the first free slot) ...
    gphoto2(
        &emu,
        &home,
        &[
            "--set-config",
            "/main/wifiprofiles/new/name=gp",
            "--set-config",
            "/main/wifiprofiles/new/essid=GNet",
            "--set-config",
            "/main/wifiprofiles/new/write=1",
        ],
    );
    // ... camctl lists it and adds its own ...
    let list = stdout(&camctl().args(["wifi-profile", &url, "list"]).output().unwrap());
    assert!(list.contains("gp") && list.contains("GNet"), "{list}");
    let out = camctl().args(["wifi-profile", &url, "add", "home", "--ssid", "Net"]).output().unwrap();
    assert!(stdout(&out).contains("added Wi-Fi profile 2"), "{}", String::from_utf8_lossy(&out.stderr));
    // ... which gphoto2 lists (GetProfileAllData parsed) ...
    let text = stdout(&gphoto2(&emu, &home, &["--get-config", "/main/wifiprofiles/list/2/ESSID"]));
    assert!(text.contains("Current: Net\n"), "{text}");
    // ... and deletes (gphoto2 sends DeleteProfile(0) for its Version entry first: a no-op).
    gphoto2(&emu, &home, &["--set-config", "/main/wifiprofiles/list/1/delete=1"]);
    let list = stdout(&camctl().args(["wifi-profile", &url, "list"]).output().unwrap());
    assert!(!list.contains("GNet") && list.contains("Net"), "{list}");
}

#[test]
fn gphoto2_nikon_denied_transfer() {
    if !require_program("gphoto2") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("ptpip", &media(tmp.path()), &["--personality", "nikon", "--deny-transfer"]);
    let home = home(tmp.path());
    // A body whose transfer setting is off: gphoto2 gets the bare code, camctl says what to change.
    let text = gphoto2_fails(&emu, &home, &["--list-files"]);
    assert!(text.contains("PTP Access Denied"), "{text}");
    let out = camctl().args(["ls", &format!("ptpip://127.0.0.1:{}", emu.port())]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("transfer"), "{err}");
    // The rest of the camera still answers.
    let text = stdout(&gphoto2(&emu, &home, &["--get-config", "f-number"]));
    assert!(text.contains("Current: f/4\n"), "{text}");
}
