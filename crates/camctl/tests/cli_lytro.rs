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
    assert!(text.contains(&format!("{pictures} fetched, 0 failed")), "{text}");
    for f in files_under(&jpeg) {
        let bytes = std::fs::read(jpeg.join(&f)).unwrap();
        assert!(f.to_string_lossy().ends_with(".jpg") && bytes.starts_with(&[0xFF, 0xD8]), "{f:?}");
    }

    let all = tmp.path().join("all");
    let text = run_ok(&["pull", &emu.url, all.to_str().unwrap(), "--all-formats"]);
    assert!(text.contains(&format!("{} fetched, 0 failed", pictures * 5)), "{text}");
    let raws: Vec<_> =
        files_under(&all).into_iter().filter(|f| f.to_string_lossy().ends_with(".raw")).collect();
    assert_eq!(raws.len(), pictures);
    assert_eq!(std::fs::metadata(all.join(&raws[0])).unwrap().len(), 16_137_600);

    let some = tmp.path().join("some");
    let text = run_ok(&["pull", &emu.url, some.to_str().unwrap(), "--format", "txt,thumb"]);
    assert!(text.contains(&format!("{} fetched, 0 failed", pictures * 2)), "{text}");
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

#[test]
fn verbose_levels_show_commands_then_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("lytro", &tmp.path().join("card"), &[]);
    let quiet = run(&["info", &emu.url]);
    assert!(quiet.status.success());
    assert_eq!(common::lossy(&quiet.stderr), "", "no -v, no log");

    let v = run(&["-v", "info", &emu.url]);
    assert!(v.status.success());
    let log = common::lossy(&v.stderr);
    assert!(log.lines().any(|l| l.contains("INFO") && l.contains("LOAD hardware info")), "{log}");
    assert!(log.lines().any(|l| l.contains("QUERY battery") && l.contains("answer_len=4")), "{log}");
    assert!(log.lines().any(|l| l.contains("DOWNLOAD") && l.contains("of=644")), "{log}");
    assert!(!log.contains("DEBUG"), "-v shows no packets: {log}");

    let vv = run(&["-vv", "info", &emu.url]);
    assert!(vv.status.success());
    let log = common::lossy(&vv.stderr);
    assert!(log.lines().any(|l| l.contains("DEBUG") && l.contains("sent header")), "{log}");
    assert!(log.lines().any(|l| l.contains("DEBUG") && l.contains("received header")), "{log}");
}

#[test]
fn errors_name_the_problem_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("lytro", &tmp.path().join("card"), &[]);
    let one_line = common::fails_in_one_line;
    let typo = format!("{}&formts=all", emu.url);
    one_line(&["ls", &typo], r#"unknown option "formts" in lytro:// URL (known: callback_port"#);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    one_line(
        &["info", &format!("lytro://127.0.0.1:{port}")],
        &format!("no Lytro camera at 127.0.0.1:{port}: connection refused"),
    );
    one_line(&["config", &emu.url, "set", "camera_time", "2024-02-31 10:00:00"], "use YYYY-MM-DD hh:mm:ss");
    let set = run_ok(&["config", &emu.url, "set", "camera_time", "now"]);
    assert!(camctl_core::time::DateTime::parse(set.trim()).is_some(), "{set}");
}
