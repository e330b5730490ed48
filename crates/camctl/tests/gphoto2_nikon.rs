//! Interop: the real gphoto2 (Debian package `gphoto2`) against `camctl emulate ptpip --personality
//! nikon`, which gphoto2 must drive through its Nikon code (GetVendorPropCodes, GetEvent 0x90C7 polling,
//! InitiateCaptureRecInMedia + DeviceReady, StartLiveView/GetLiveViewImg, the Wi-Fi profile list).
//! Under CI=true a missing gphoto2 fails these tests rather than skipping them.

mod common;

use common::gphoto2::{Rig, assert_all_downloaded, assert_lists_media, is_jpeg, stdout};
use common::{camctl, files_under, run_ok};

/// A media folder with two sample JPEGs, a 2.5 MiB file (forces GetPartialObject in 1 MiB blocks) and a
/// second folder, served by the nikon personality.
fn start() -> Option<Rig> {
    Rig::start("NIKON", "MVI_0001.MOV", &["--personality", "nikon"])
}

#[test]
fn gphoto2_nikon_summary() {
    let Some(g) = start() else { return };
    let text = stdout(&g.gphoto2(&["--summary"]));
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
    let Some(g) = start() else { return };
    let text = stdout(&g.gphoto2(&["--list-files"]));
    assert_lists_media(&text, "NIKON", "MVI_0001.MOV");

    g.gphoto2(&["--get-all-files"]);
    assert_all_downloaded(&g.media, &g.home, 4);
}

#[test]
fn gphoto2_nikon_capture_image_and_download() {
    let Some(g) = start() else { return };
    let before = files_under(&g.media);
    // gphoto2's default capture target is SDRAM: ObjectAddedInSdram, GetObjectInfo (parent 0),
    // GetObject, DeleteObject; the card is untouched.
    let text = stdout(&g.gphoto2(&["--capture-image-and-download", "--filename", "shot-%n.jpg"]));
    assert!(text.contains("New file is in location /capt0000.jpg"), "{text}");
    assert!(text.contains("Saving file as shot-1.jpg"), "{text}");
    let jpeg = std::fs::read(g.home.join("shot-1.jpg")).unwrap();
    assert!(is_jpeg(&jpeg), "not a JPEG");
    assert_eq!(files_under(&g.media), before);

    // Card target: ObjectAdded with a real folder, CaptureComplete, then download and delete.
    g.gphoto2(&["--set-config", "capturetarget=Memory card"]);
    let text = stdout(&g.gphoto2(&["--capture-image-and-download", "--filename", "card-%n.jpg"]));
    assert!(text.contains("New file is in location /store_00010001/DCIM/101NIKON/IMG_0001.JPG"), "{text}");
    let card = std::fs::read(g.home.join("card-1.jpg")).unwrap();
    assert!(is_jpeg(&card) && card != jpeg);
    // gphoto2 deletes a card capture after downloading it (no --keep).
    assert_eq!(files_under(&g.media), before);
    // With --keep the new file stays, byte-identical with the download.
    let text = stdout(&g.gphoto2(&["--capture-image-and-download", "--keep", "--filename", "kept-%n.jpg"]));
    assert!(text.contains("Saving file as kept-1.jpg"), "{text}");
    let added: Vec<_> = files_under(&g.media).into_iter().filter(|p| !before.contains(p)).collect();
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(
        std::fs::read(g.media.join(&added[0])).unwrap(),
        std::fs::read(g.home.join("kept-1.jpg")).unwrap()
    );
}

#[test]
fn gphoto2_nikon_list_config_shows_nikon_widgets() {
    let Some(g) = start() else { return };
    let text = stdout(&g.gphoto2(&["--list-config"]));
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
    let Some(g) = start() else { return };
    // gphoto2 labels ExposureTime in seconds; it accepts fractions and snaps them.
    for (name, value, shown) in
        [("f-number", "f/5.6", "f/5.6"), ("shutterspeed", "1/250", "0.0040s"), ("iso", "400", "400")]
    {
        g.gphoto2(&["--set-config", &format!("{name}={value}")]);
        let text = stdout(&g.gphoto2(&["--get-config", name]));
        assert!(text.contains(&format!("Current: {shown}\n")), "{name}: {text}");
    }
    // A label the camera does not offer is refused by gphoto2 before anything is sent.
    let text = g.gphoto2_fails(&["--set-config", "whitebalance=Underwater"]);
    assert!(text.to_lowercase().contains("underwater"), "{text}");

    // camctl reads what gphoto2 set, with the same names and labels, and gphoto2 what camctl sets.
    let url = g.url();
    for (name, value) in [("f-number", "f/5.6"), ("shutterspeed", "0.0040s"), ("iso", "400")] {
        assert_eq!(run_ok(&["config", &url, "get", name]).trim(), value, "camctl config get {name}");
    }
    for (name, value, shown) in
        [("f-number", "f/8", "f/8"), ("shutterspeed", "1/60", "0.0166s"), ("iso", "1600", "1600")]
    {
        assert_eq!(run_ok(&["config", &url, "set", name, value]).trim(), shown, "camctl config set {name}");
        let text = stdout(&g.gphoto2(&["--get-config", name]));
        assert!(text.contains(&format!("Current: {shown}\n")), "{name}: {text}");
    }
}

#[test]
fn gphoto2_nikon_capture_preview() {
    let Some(g) = start() else { return };
    // gphoto2 prefixes a preview's --filename with "thumb_".
    g.gphoto2(&["--capture-preview", "--filename", "preview-1.jpg"]);
    let first = std::fs::read(g.home.join("thumb_preview-1.jpg")).unwrap();
    assert!(is_jpeg(&first), "not a JPEG");
    // Live view was left on: the second run finds it on and starts it again.
    g.gphoto2(&["--capture-preview", "--filename", "preview-2.jpg"]);
    let second = std::fs::read(g.home.join("thumb_preview-2.jpg")).unwrap();
    assert!(is_jpeg(&second) && second != first, "frames repeat");
}

#[test]
fn gphoto2_nikon_wait_event() {
    let Some(g) = start() else { return };
    let started = std::time::Instant::now();
    let text = stdout(&g.gphoto2(&["--wait-event=3s"]));
    assert!(text.contains("Waiting for 3 seconds"), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    // Within one session, a change made first is reported by the 0x90C7 poll of the wait.
    let text = stdout(&g.gphoto2(&["--set-config", "iso=800", "--wait-event=2s"]));
    assert!(text.contains("Property 500f changed, \"iso\" to \"800\""), "{text}");
    // And a capture's file, by its events.
    g.gphoto2(&["--set-config", "capturetarget=Memory card"]);
    let text = stdout(&g.gphoto2(&["--trigger-capture", "--wait-event-and-download=3s", "--keep"]));
    assert!(text.contains("IMG_0001.JPG"), "{text}");
}

#[test]
fn gphoto2_nikon_wifi_profiles_interoperate_with_camctl() {
    let Some(g) = start() else { return };
    let url = g.url();
    // gphoto2 writes a profile (SendProfileData into the first free slot) ...
    g.gphoto2(&[
        "--set-config",
        "/main/wifiprofiles/new/name=gp",
        "--set-config",
        "/main/wifiprofiles/new/essid=GNet",
        "--set-config",
        "/main/wifiprofiles/new/write=1",
    ]);
    // ... camctl lists it and adds its own ...
    let list = stdout(&camctl().args(["wifi-profile", &url, "list"]).output().unwrap());
    assert!(list.contains("gp") && list.contains("GNet"), "{list}");
    let out = camctl().args(["wifi-profile", &url, "add", "home", "--ssid", "Net"]).output().unwrap();
    assert!(stdout(&out).contains("added Wi-Fi profile 2"), "{}", String::from_utf8_lossy(&out.stderr));
    // ... which gphoto2 lists (GetProfileAllData parsed) ...
    let text = stdout(&g.gphoto2(&["--get-config", "/main/wifiprofiles/list/2/ESSID"]));
    assert!(text.contains("Current: Net\n"), "{text}");
    // ... and deletes (gphoto2 sends DeleteProfile(0) for its Version entry first: a no-op).
    g.gphoto2(&["--set-config", "/main/wifiprofiles/list/1/delete=1"]);
    let list = stdout(&camctl().args(["wifi-profile", &url, "list"]).output().unwrap());
    assert!(!list.contains("GNet") && list.contains("Net"), "{list}");
}

#[test]
fn gphoto2_nikon_denied_transfer() {
    let Some(g) = Rig::start("NIKON", "MVI_0001.MOV", &["--personality", "nikon", "--deny-transfer"]) else {
        return;
    };
    // A body whose transfer setting is off: gphoto2 gets the bare code, camctl says what to change.
    let text = g.gphoto2_fails(&["--list-files"]);
    assert!(text.contains("PTP Access Denied"), "{text}");
    let out = camctl().args(["ls", &g.url()]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("transfer"), "{err}");
    // The rest of the camera still answers.
    let text = stdout(&g.gphoto2(&["--get-config", "f-number"]));
    assert!(text.contains("Current: f/4\n"), "{text}");
}
