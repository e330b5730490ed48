//! `camctl get`, `camctl rm` and the time-lapse `capture --interval --frames --download` against
//! `camctl emulate`.

mod common;

use std::path::PathBuf;

use common::{Emulator, camctl, files_under, lossy, write_random_file};

fn media(root: &std::path::Path) -> PathBuf {
    let media = root.join("media");
    for (n, len) in [(1, 3000), (2, 4000), (3, 5000)] {
        write_random_file(&media.join(format!("DCIM/100EMU01/IMG_000{n}.JPG")), len, n);
    }
    media
}

#[test]
fn get_fetches_exactly_the_named_files() {
    let tmp = tempfile::tempdir().unwrap();
    let media = media(tmp.path());
    let emu = Emulator::start("ptpip", &media, &[]);
    let out_dir = tmp.path().join("got");
    let out = camctl()
        .env("CAMCTL_CATALOG", tmp.path().join("c.db"))
        .args(["get", &emu.url, "DCIM/100EMU01/IMG_0003.JPG", "DCIM/100EMU01/IMG_0001.JPG", "--out"])
        .arg(&out_dir)
        .args(["--filename", "%n-%f.%C"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    assert_eq!(files_under(&out_dir), [PathBuf::from("1-IMG_0003.JPG"), PathBuf::from("2-IMG_0001.JPG")]);
    assert_eq!(
        std::fs::read(out_dir.join("1-IMG_0003.JPG")).unwrap(),
        std::fs::read(media.join("DCIM/100EMU01/IMG_0003.JPG")).unwrap()
    );
    // A path the camera does not have is named, and the exit status says so.
    let out = camctl()
        .env("CAMCTL_CATALOG", tmp.path().join("c.db"))
        .args(["get", &emu.url, "DCIM/NOPE.JPG", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(lossy(&out.stderr).contains("not found on the camera: DCIM/NOPE.JPG"), "{}", lossy(&out.stderr));
}

#[test]
fn rm_asks_unless_told_and_deletes_on_the_camera() {
    let tmp = tempfile::tempdir().unwrap();
    let media = media(tmp.path());
    let emu = Emulator::start("ptpip", &media, &[]);
    // Not a terminal and no --yes: refused, nothing deleted.
    let out = camctl().args(["rm", &emu.url, "DCIM/100EMU01/IMG_0002.JPG"]).output().unwrap();
    assert!(!out.status.success());
    assert!(lossy(&out.stderr).contains("--yes"), "{}", lossy(&out.stderr));
    assert!(media.join("DCIM/100EMU01/IMG_0002.JPG").exists());
    let out = camctl().args(["rm", "--yes", &emu.url, "DCIM/100EMU01/IMG_0002.JPG"]).output().unwrap();
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    assert!(lossy(&out.stdout).contains("deleted DCIM/100EMU01/IMG_0002.JPG"));
    assert!(!media.join("DCIM/100EMU01/IMG_0002.JPG").exists(), "gone from the card");
    let listed = lossy(&camctl().args(["ls", &emu.url]).output().unwrap().stdout);
    assert!(!listed.contains("IMG_0002") && listed.contains("IMG_0001"), "{listed}");
    let out = camctl().args(["rm", "--yes", &emu.url, "DCIM/100EMU01/IMG_0002.JPG"]).output().unwrap();
    assert!(!out.status.success(), "deleting what is not there fails");
}

#[test]
fn time_lapse_downloads_each_shot_as_it_comes() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let emu = Emulator::start("ptpip", &media, &[]);
    let target = tmp.path().join("lapse");
    let out = camctl()
        .env("CAMCTL_CATALOG", tmp.path().join("c.db"))
        .args(["capture", &emu.url, "--interval", "0.2", "--frames", "3", "--download"])
        .arg(&target)
        .args(["--filename", "lapse_%03n.%C", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    // One JSON array per shot.
    let shots: Vec<Vec<serde_json::Value>> =
        lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(shots.len(), 3);
    let files = files_under(&target);
    assert_eq!(files, ["lapse_001.JPG", "lapse_002.JPG", "lapse_003.JPG"].map(PathBuf::from), "{files:?}");
    for (shot, file) in shots.iter().zip(&files) {
        let on_card = media.join(shot[0]["path"].as_str().unwrap());
        assert_eq!(std::fs::read(target.join(file)).unwrap(), std::fs::read(on_card).unwrap());
    }
    // --interval needs --frames.
    let out = camctl().args(["capture", &emu.url, "--interval", "1"]).output().unwrap();
    assert!(!out.status.success());
}
