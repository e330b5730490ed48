//! The `camctl` command line against `camctl emulate ptpip` processes, over real sockets.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{
    Emulator, camctl, fails_in_one_line, files_under, lossy, run, run_ok, spawn_ready, write_random_file,
};

fn card(root: &Path) -> std::path::PathBuf {
    let media = root.join("card");
    camctl_core::media::write_sample_pictures(&media.join("DCIM/100EMU01"), 2).unwrap();
    write_random_file(&media.join("DCIM/100EMU01/BIG_0003.JPG"), 5 << 20, 11);
    write_random_file(&media.join("DCIM/101EMU01/CLIP0001.MOV"), 100_000, 12);
    media
}

#[test]
fn info_in_text_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("ptpip", &card(tmp.path()), &[]);
    let text = run_ok(&["info", &emu.url]);
    assert!(text.contains("Manufacturer:") && text.contains("camctl"), "{text}");
    assert!(text.contains("Battery:") && text.contains('%'), "{text}");
    let json: serde_json::Value = serde_json::from_str(&run_ok(&["info", &emu.url, "--json"])).unwrap();
    assert_eq!(json["protocol"], "ptpip");
    assert_eq!(json["serial"], "0001");
    assert!(json["battery"].as_u64().is_some());
}

#[test]
fn ls_lists_every_file_with_size_and_date() {
    let tmp = tempfile::tempdir().unwrap();
    let media = card(tmp.path());
    let emu = Emulator::start("ptpip", &media, &[]);
    let json: serde_json::Value = serde_json::from_str(&run_ok(&["ls", &emu.url, "--json"])).unwrap();
    let items = json.as_array().unwrap();
    let mut listed: Vec<String> = items.iter().map(|i| i["path"].as_str().unwrap().to_string()).collect();
    listed.sort();
    let expected: Vec<String> =
        files_under(&media).iter().map(|p| p.to_string_lossy().into_owned()).collect();
    assert_eq!(listed, expected);
    for item in items {
        let path = media.join(item["path"].as_str().unwrap());
        assert_eq!(item["size"].as_u64().unwrap(), std::fs::metadata(path).unwrap().len());
        assert_eq!(item["date"].as_str().unwrap().len(), 19);
    }
    let text = run_ok(&["ls", &emu.url]);
    assert!(
        text.lines().any(|l| l.ends_with("DCIM/101EMU01/CLIP0001.MOV") && l.contains("100000")),
        "{text}"
    );
}

#[test]
fn pull_mirrors_fetches_only_missing_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let media = card(tmp.path());
    let emu = Emulator::start("ptpip", &media, &[]);
    let target = tmp.path().join("pulled");

    // A stray partial file without a record of what it belongs to, and a local file of another size
    // under a camera file's name: the first is not trusted, the second not overwritten.
    let big = "DCIM/100EMU01/BIG_0003.JPG";
    std::fs::create_dir_all(target.join("DCIM/100EMU01")).unwrap();
    write_random_file(&target.join("DCIM/100EMU01/.BIG_0003.JPG.camctl-part"), 2_000_000, 99);
    std::fs::create_dir_all(target.join("DCIM/101EMU01")).unwrap();
    std::fs::write(target.join("DCIM/101EMU01/CLIP0001.MOV"), b"stale").unwrap();

    let text = run_ok(&["pull", &emu.url, target.to_str().unwrap()]);
    assert!(text.contains("4 fetched, 0 failed, 0 already present") && !text.contains("resumed"), "{text}");
    assert_eq!(std::fs::read(target.join("DCIM/101EMU01/CLIP0001.MOV")).unwrap(), b"stale");
    for rel in files_under(&media) {
        let local =
            if rel.ends_with("CLIP0001.MOV") { rel.with_file_name("CLIP0001~2.MOV") } else { rel.clone() };
        assert!(
            std::fs::read(target.join(&local)).unwrap() == std::fs::read(media.join(&rel)).unwrap(),
            "{rel:?}"
        );
    }
    let expected_bytes: u64 =
        files_under(&media).iter().map(|r| std::fs::metadata(media.join(r)).unwrap().len()).sum::<u64>();
    assert!(text.contains(&format!("({expected_bytes} bytes")), "{text}");
    let left: Vec<_> = files_under(&target)
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".camctl-"))
        .collect();
    assert!(left.is_empty(), "no temporary file or lock may remain: {left:?}");
    assert!(std::fs::read(target.join(big)).unwrap() == std::fs::read(media.join(big)).unwrap());

    let again = run_ok(&["pull", &emu.url, target.to_str().unwrap()]);
    assert!(again.contains("0 fetched, 0 failed, 4 already present"), "{again}");
}

#[test]
fn capture_prints_and_downloads_the_new_picture() {
    let tmp = tempfile::tempdir().unwrap();
    let media = card(tmp.path());
    let emu = Emulator::start("ptpip", &media, &[]);
    let out = tmp.path().join("shots");
    let json: serde_json::Value =
        serde_json::from_str(&run_ok(&["capture", &emu.url, "--download", out.to_str().unwrap(), "--json"]))
            .unwrap();
    let path = json[0]["path"].as_str().unwrap();
    let jpeg = std::fs::read(out.join(path)).unwrap();
    assert!(jpeg.starts_with(&[0xFF, 0xD8]) && jpeg.ends_with(&[0xFF, 0xD9]));
    assert_eq!(jpeg, std::fs::read(media.join(path)).unwrap());
    let text = run_ok(&["capture", &emu.url]);
    assert!(text.contains(".JPG") && !text.contains(path), "second capture is a new file: {text}");
}

#[test]
fn config_list_get_set_and_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("ptpip", &card(tmp.path()), &[]);
    let list = run_ok(&["config", &emu.url, "list"]);
    for key in ["batterylevel", "f-number", "shutterspeed", "iso", "whitebalance", "imagesize", "datetime"] {
        assert!(list.lines().any(|l| l.starts_with(key)), "{key} missing:\n{list}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&run_ok(&["config", &emu.url, "list", "--json"])).unwrap();
    let fnum = json.as_array().unwrap().iter().find(|s| s["key"] == "f-number").unwrap();
    assert_eq!(fnum["form"], "choices");
    assert!(fnum["choices"].as_array().unwrap().iter().any(|c| c == "f/5.6"));

    assert_eq!(run_ok(&["config", &emu.url, "set", "f-number", "f/5.6"]).trim(), "f/5.6");
    assert_eq!(run_ok(&["config", &emu.url, "get", "f-number"]).trim(), "f/5.6");
    assert_eq!(run_ok(&["config", &emu.url, "set", "shutterspeed", "1/125"]).trim(), "1/125");
    assert_eq!(run_ok(&["config", &emu.url, "set", "whitebalance", "daylight"]).trim(), "Daylight");

    for (key, value) in [("f-number", "f/99"), ("batterylevel", "5"), ("nosuchkey", "1"), ("iso", "banana")] {
        let out = run(&["config", &emu.url, "set", key, value]);
        assert!(!out.status.success(), "set {key} {value} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "one clear line: {err}");
        assert!(err.starts_with("camctl: "), "{err}");
    }
}

#[test]
fn events_reports_what_another_client_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("ptpip", &card(tmp.path()), &[]);
    let watcher =
        spawn_ready(&["events", &emu.url, "--json", "--count", "1", "--for", "20"], "waiting for events");
    run_ok(&["config", &emu.url, "set", "iso", "800"]);
    let out = watcher.wait_with_output().unwrap();
    assert!(out.status.success());
    let line: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(line["event"], "DevicePropChanged");
    assert_eq!(line["detail"], "iso");
}

#[test]
fn emulate_announces_once_and_exits_zero_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("ptpip", &tmp.path().join("empty"), &[]);
    assert!(emu.url.starts_with("ptpip://127.0.0.1:"));
    // A missing media folder gets sample pictures.
    let listed = run_ok(&["ls", &emu.url]);
    assert!(listed.lines().count() >= 2, "{listed}");
    assert!(emu.stop().success());
}

#[test]
fn errors_are_one_line() {
    for args in
        [vec!["info", "not-a-url"], vec!["info", "ftp://127.0.0.1"], vec!["info", "ptpip://127.0.0.1:1"]]
    {
        let out = run(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn demo_passes() {
    let out = run(&["demo"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("demo passed"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn hostile_camera_names_stay_inside_the_target() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("card");
    // Backslashes are ordinary characters in Linux file names, so the emulator serves this name as is.
    write_random_file(&media.join("DCIM/100EMU01/x\\..\\..\\..\\..\\escape.JPG"), 1000, 5);
    write_random_file(&media.join("DCIM/100EMU01/C:\\Windows\\evil.JPG"), 1000, 6);
    let emu = Emulator::start("ptpip", &media, &[]);
    let target = tmp.path().join("inside/pulled");
    // The '..' path is refused (and said so); the other item still comes.
    let out = run(&["pull", &emu.url, target.to_str().unwrap()]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 fetched, 1 failed"), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(r"failed: DCIM/100EMU01/x\\..\\..") && err.contains("'..' component"), "{err}");
    let mut pulled: Vec<String> =
        files_under(&target).iter().map(|p| p.to_string_lossy().into_owned()).collect();
    pulled.sort();
    assert_eq!(pulled, ["DCIM/100EMU01/C_/Windows/evil.JPG"]);
    assert_eq!(files_under(&tmp.path().join("inside")).len(), 1, "nothing outside the target folder");
}

#[test]
fn verbose_shows_operations_and_very_verbose_packets() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("ptpip", &card(tmp.path()), &[]);

    let quiet = run(&["info", &emu.url]);
    assert!(quiet.status.success());
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "", "without -v stderr stays empty");

    let out = run(&["-v", "info", &emu.url]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for op in ["OpenSession 0x1002 [0x1] -> OK 0x2001", "GetDeviceInfo 0x1001 [] -> OK 0x2001, "] {
        assert!(err.lines().any(|l| l.contains(op)), "no line with {op:?} in:\n{err}");
    }
    assert!(err.lines().any(|l| l.contains("GetDeviceInfo") && l.ends_with(" bytes in")), "{err}");
    assert!(!err.contains("Cmd_Request"), "packets only with -vv:\n{err}");

    let out = run(&["-vv", "info", &emu.url]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // The Init_Command_Request starts with its length and type 1, in hex.
    let init = err
        .lines()
        .find(|l| l.contains("command -> Init_Command_Request (1)"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(init.contains(" bytes: ") && init.contains("01000000"), "{init}");
    assert!(err.lines().any(|l| l.contains("command <- Cmd_Response (7)")), "{err}");
    assert!(err.lines().any(|l| l.contains("<- End_Data (12)")), "{err}");
}

/// A port with nothing listening (free a moment ago).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A one-connection server on 127.0.0.1 that answers whatever comes with `answer` and waits for the
/// client to close, like a JSON camera API would.
fn foreign_server(answer: &'static [u8]) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut sock, _)) = listener.accept() {
            let mut buf = [0u8; 512];
            let _ = sock.read(&mut buf);
            let _ = sock.write_all(answer);
            let _ = sock.read_to_end(&mut Vec::new());
        }
    });
    port
}

fn one_error_line(args: &[&str]) -> String {
    let out = run(args);
    assert!(!out.status.success(), "{args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    err
}

#[test]
fn connection_errors_name_protocol_host_and_port() {
    let port = closed_port();
    let err = one_error_line(&["info", &format!("ptpip://127.0.0.1:{port}")]);
    assert_eq!(err.trim_end(), format!("camctl: no PTP/IP camera at 127.0.0.1:{port}: connection refused"));

    let port = foreign_server(br#"{"rval":-4,"msg_id":1}"#);
    let err = one_error_line(&["ls", &format!("ptpip://127.0.0.1:{port}")]);
    assert_eq!(
        err.trim_end(),
        format!(r#"camctl: 127.0.0.1:{port} is not a PTP/IP camera: it answered "{{"rval":-4,"msg_id":1}}""#)
    );

    let err = one_error_line(&["info", &format!("ptpip://127.0.0.1:{}?timout=3", closed_port())]);
    assert!(err.contains(r#"unknown option "timout""#) && err.contains("known: timeout"), "{err}");
}

#[test]
fn config_set_matches_rounded_values_and_sets_local_time() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("ptpip", &card(tmp.path()), &[]);
    assert_eq!(run_ok(&["config", &emu.url, "set", "exposurecompensation", "+0.7"]).trim(), "+0.67");
    assert_eq!(run_ok(&["config", &emu.url, "get", "exposurecompensation"]).trim(), "+0.67");
    let err = one_error_line(&["config", &emu.url, "set", "exposurecompensation", "+0.5"]);
    assert!(err.contains("one of: -2, -1.67, -1.33"), "{err}");

    let err = one_error_line(&["config", &emu.url, "set", "datetime", "2024-02-31 10:00:00"]);
    assert!(err.contains("YYYY-MM-DD hh:mm:ss"), "{err}");

    // A time zone far from UTC (POSIX form: 5 h 45 min east), so local time cannot pass for UTC.
    let out = camctl()
        .env("TZ", "CAMCTL-05:45")
        .args(["config", &emu.url, "set", "datetime", "now"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown = String::from_utf8(out.stdout).unwrap();
    let set = camctl_core::time::DateTime::parse(shown.trim()).unwrap_or_else(|| panic!("{shown}"));
    let local =
        camctl_core::time::DateTime::from_system(SystemTime::now() + Duration::from_secs(5 * 3600 + 45 * 60));
    let apart =
        local.to_system().unwrap().duration_since(set.to_system().unwrap()).unwrap_or_else(|e| e.duration());
    // Far below the 5 h 45 min that would separate UTC from the local time.
    assert!(apart < Duration::from_secs(30 * 60), "camera clock {set} is not the local time {local}");
}

#[test]
fn an_emulator_paired_with_another_computer_refuses_camctl_with_init_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let other = Emulator::start(
        "ptpip",
        &card(tmp.path()),
        &["--allow-guid", "00112233-4455-6677-8899-aabbccddeeff"],
    );
    fails_in_one_line(
        &["info", &other.url],
        "camera refused the connection: Init_Fail reason 1 (initiator rejected (this computer is not paired/allowed))",
    );
    let paired = Emulator::start("ptpip", &card(tmp.path()), &["--allow-guid", "camctl-initiator"]);
    assert!(run_ok(&["info", &paired.url]).contains("camctl"));
    let out = run(&["emulate", "ptpip", "--allow-guid", "short"]);
    assert!(!out.status.success() && lossy(&out.stderr).contains("use 32 hex digits or 16 characters"));
}

#[test]
fn a_listing_whose_reader_goes_away_ends_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("ptpip", &tmp.path().join("media"), &[]);
    let mut child = common::camctl()
        .args(["config", &emu.url, "list", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before a byte is read, as `| head -c 0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
}
