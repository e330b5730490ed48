//! The `camctl` command line against `camctl emulate lytro` processes.

mod common;

use common::{Emulator, files_under, run, run_ok, spawn_ready};

#[test]
fn info_ls_and_pull_formats() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("lytro", &tmp.path().join("card"), &[]);
    assert!(emu.url.starts_with("lytro://127.0.0.1:") && emu.url.contains("callback_port="), "{}", emu.url);
    let info = run_ok(&["info", &emu.url]);
    assert!(info.contains("A123456789"), "{info}");

    let listed: serde_json::Value = serde_json::from_str(&run_ok(&["ls", &emu.url, "--json"])).unwrap();
    let pictures = listed.as_array().unwrap().len();
    assert!(pictures >= 3, "{listed}");

    let jpeg = tmp.path().join("jpeg");
    let text = run_ok(&["pull", &emu.url, jpeg.to_str().unwrap()]);
    assert!(text.contains(&format!("fetched {pictures} file(s)")), "{text}");
    for f in files_under(&jpeg) {
        let bytes = std::fs::read(jpeg.join(&f)).unwrap();
        assert!(f.to_string_lossy().ends_with(".jpg") && bytes.starts_with(&[0xFF, 0xD8]), "{f:?}");
    }

    let all = tmp.path().join("all");
    let text = run_ok(&["pull", &emu.url, all.to_str().unwrap(), "--all-formats"]);
    assert!(text.contains(&format!("fetched {} file(s)", pictures * 5)), "{text}");
    let raws: Vec<_> =
        files_under(&all).into_iter().filter(|f| f.to_string_lossy().ends_with(".raw")).collect();
    assert_eq!(raws.len(), pictures);
    assert_eq!(std::fs::metadata(all.join(&raws[0])).unwrap().len(), 16_137_600);

    let some = tmp.path().join("some");
    let text = run_ok(&["pull", &emu.url, some.to_str().unwrap(), "--format", "txt,thumb"]);
    assert!(text.contains(&format!("fetched {} file(s)", pictures * 2)), "{text}");
    let bad = run(&["pull", &emu.url, some.to_str().unwrap(), "--format", "png"]);
    assert!(!bad.status.success());
    let not_lytro = run(&["pull", "ptpip://127.0.0.1:1", some.to_str().unwrap(), "--format", "raw"]);
    assert!(!not_lytro.status.success());
}

#[test]
fn capture_time_and_events() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("lytro", &tmp.path().join("card"), &[]);
    let watcher =
        spawn_ready(&["events", &emu.url, "--json", "--count", "2", "--for", "30"], "waiting for events");
    let shot = run_ok(&["capture", &emu.url]);
    assert!(shot.contains("DCIM/100PHOTO/IMG_") && shot.contains(".jpg"), "{shot}");
    let out = watcher.wait_with_output().unwrap();
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["ShutterPressed", "NewPictureAvailable"]);

    let set = run_ok(&["config", &emu.url, "set", "camera_time", "2031-02-03 04:05:06"]);
    assert!(set.starts_with("2031-02-03 04:05"), "{set}");
    assert!(run_ok(&["config", &emu.url, "get", "camera_time"]).starts_with("2031-02-03 04:05"));
}
