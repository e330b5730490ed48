//! The `camctl` command line against `camctl emulate yi` (Xiaomi Yi / Ambarella) processes.

mod common;

use std::path::Path;

use common::{Emulator, files_under, require_program, run, run_ok, write_random_file};

fn card(root: &Path) -> std::path::PathBuf {
    let media = root.join("yi-card");
    let pictures = camctl_core::media::write_sample_pictures(&media.join("DCIM/100MEDIA"), 2).unwrap();
    for (i, p) in pictures.iter().enumerate() {
        std::fs::rename(p, media.join(format!("DCIM/100MEDIA/YDXJ{:04}.jpg", i + 1))).unwrap();
    }
    write_random_file(&media.join("DCIM/100MEDIA/YDXJ0003.mp4"), 3_000_000, 21);
    media
}

#[test]
fn info_ls_and_pull_with_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let media = card(tmp.path());
    let emu = Emulator::start("yi", &media, &[]);
    assert!(emu.url.starts_with("yi://127.0.0.1:") && emu.url.contains("?data_port="), "{}", emu.url);
    let info: serde_json::Value = serde_json::from_str(&run_ok(&["info", &emu.url, "--json"])).unwrap();
    assert_eq!(info["protocol"], "ambarella");
    assert!(info["battery"].as_u64().is_some(), "{info}");

    let listed: serde_json::Value = serde_json::from_str(&run_ok(&["ls", &emu.url, "--json"])).unwrap();
    let mut paths: Vec<&str> =
        listed.as_array().unwrap().iter().map(|i| i["path"].as_str().unwrap()).collect();
    paths.sort();
    assert_eq!(
        paths,
        ["DCIM/100MEDIA/YDXJ0001.jpg", "DCIM/100MEDIA/YDXJ0002.jpg", "DCIM/100MEDIA/YDXJ0003.mp4"]
    );

    let target = tmp.path().join("pulled");
    let video = std::fs::read(media.join("DCIM/100MEDIA/YDXJ0003.mp4")).unwrap();
    std::fs::create_dir_all(target.join("DCIM/100MEDIA")).unwrap();
    // The right bytes, but no record of what they belong to: not trusted, fetched again.
    std::fs::write(target.join("DCIM/100MEDIA/.YDXJ0003.mp4.camctl-part"), &video[..1_000_000]).unwrap();
    let text = run_ok(&["pull", &emu.url, target.to_str().unwrap()]);
    assert!(text.contains("3 fetched, 0 failed") && !text.contains("resumed"), "{text}");
    assert_eq!(files_under(&target), files_under(&media));
    for rel in files_under(&media) {
        assert!(
            std::fs::read(target.join(&rel)).unwrap() == std::fs::read(media.join(&rel)).unwrap(),
            "{rel:?}"
        );
    }
    let again = run_ok(&["pull", &emu.url, target.to_str().unwrap()]);
    assert!(again.contains("0 fetched, 0 failed, 3 already present"), "{again}");
}

#[test]
fn capture_config_record_and_preview() {
    let tmp = tempfile::tempdir().unwrap();
    let media = card(tmp.path());
    let emu = Emulator::start("yi", &media, &[]);
    let shots = tmp.path().join("shots");
    let shot: serde_json::Value = serde_json::from_str(&run_ok(&[
        "capture",
        &emu.url,
        "--download",
        shots.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    let path = shot[0]["path"].as_str().unwrap();
    assert!(path.starts_with("DCIM/100MEDIA/YDXJ") && path.ends_with(".jpg"), "{path}");
    let jpeg = std::fs::read(shots.join(path)).unwrap();
    assert!(jpeg.starts_with(&[0xFF, 0xD8]) && jpeg.ends_with(&[0xFF, 0xD9]));

    let list = run_ok(&["config", &emu.url, "list"]);
    assert!(list.lines().any(|l| l.starts_with("video_resolution")), "{list}");
    let set = run_ok(&["config", &emu.url, "set", "video_resolution", "1920x1080 30P 16:9"]);
    assert_eq!(set.trim(), "1920x1080 30P 16:9");
    assert_eq!(run_ok(&["config", &emu.url, "get", "video_resolution"]).trim(), "1920x1080 30P 16:9");
    let refused = run(&["config", &emu.url, "set", "video_resolution", "99x99 1P"]);
    assert!(!refused.status.success());
    assert_eq!(String::from_utf8_lossy(&refused.stderr).lines().count(), 1);

    assert_eq!(run_ok(&["record", &emu.url, "status"]).trim(), "not recording");
    run_ok(&["record", &emu.url, "start"]);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let stopped = run_ok(&["record", &emu.url, "stop", "--json"]);
    let item: serde_json::Value = serde_json::from_str(&stopped).unwrap();
    let video = item[0]["path"].as_str().unwrap();
    assert!(video.ends_with(".mp4"), "{stopped}");
    let mp4 = media.join(video);
    assert!(std::fs::read(&mp4).unwrap().get(4..8) == Some(b"ftyp"));
    if require_program("ffprobe") {
        let probe = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0"])
            .arg(&mp4)
            .output()
            .unwrap();
        assert!(probe.status.success(), "{}", String::from_utf8_lossy(&probe.stderr));
        assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "h264");
    }

    let rtsp = run_ok(&["preview", &emu.url, "start"]);
    let rtsp_port = emu.url.split("rtsp_port=").nth(1).expect("the URL names the RTSP port");
    assert_eq!(rtsp.trim(), format!("rtsp://127.0.0.1:{rtsp_port}/live"));
    run_ok(&["preview", &emu.url, "stop"]);
    // Yi-only commands say so on other cameras.
    let other = run(&["record", "ptpip://127.0.0.1:1", "start"]);
    assert!(!other.status.success());
}

#[test]
fn verbose_levels_show_messages_then_packets() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("yi", &card(tmp.path()), &[]);
    let quiet = run(&["info", &emu.url]);
    assert!(quiet.status.success());
    assert_eq!(common::lossy(&quiet.stderr), "", "no -v, no log");

    let v = run(&["-v", "info", &emu.url]);
    assert!(v.status.success());
    let log = common::lossy(&v.stderr);
    let has = |pred: &dyn Fn(&str) -> bool| log.lines().any(pred);
    assert!(
        has(&|l| l.contains("INFO")
            && l.contains("sent")
            && l.contains("msg_id=257")
            && l.contains("START_SESSION")),
        "{log}"
    );
    assert!(
        has(&|l| l.contains("received reply") && l.contains("msg_id=3") && l.contains("rval=0")),
        "{log}"
    );
    assert!(has(&|l| l.contains("received notification") && l.contains("vf_stop")), "{log}");
    assert!(!log.contains("DEBUG"), "-v shows no packets: {log}");

    let vv = run(&["-vv", "info", &emu.url]);
    assert!(vv.status.success());
    let log = common::lossy(&vv.stderr);
    assert!(log.lines().any(|l| l.contains("DEBUG") && l.contains(r#""msg_id":257"#)), "{log}");
    assert!(
        log.lines().any(|l| l.contains("DEBUG") && l.contains(r#""msg_id": 257"#)),
        "the reply, raw: {log}"
    );
}

#[test]
fn errors_name_the_problem_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("yi", &card(tmp.path()), &[]);
    let one_line = common::fails_in_one_line;
    let typo = format!("{}&data_prot=1", emu.url);
    one_line(
        &["ls", &typo],
        r#"unknown option "data_prot" in yi:// URL (known: data_port, timeout, verify, floor, rtsp_port, rtsp_transport)"#,
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    one_line(
        &["info", &format!("yi://127.0.0.1:{port}")],
        &format!("no Yi camera at 127.0.0.1:{port}: connection refused"),
    );
    one_line(&["config", &emu.url, "get", "nosuch"], "no setting 'nosuch' (see config list)");
    one_line(&["config", &emu.url, "set", "camera_clock", "2024-02-31 10:00:00"], "use YYYY-MM-DD hh:mm:ss");
    let set = run_ok(&["config", &emu.url, "set", "camera_clock", "now"]);
    assert!(camctl_core::time::DateTime::parse(set.trim()).is_some(), "{set}");
}
