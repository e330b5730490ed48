//! `camctl live yi://...` against `camctl emulate yi`: the preview is started, read over RTSP, written
//! as Annex-B H.264 that ffprobe decodes, and stopped again; one summary line like every family's.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{Emulator, camctl, lossy, probe, run};

fn yi() -> (tempfile::TempDir, Emulator) {
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start("yi", &tmp.path().join("card"), &[]);
    (tmp, emu)
}

/// The emulator's RTSP port, from the `rtsp_port=` of its URL.
fn rtsp_port(emu: &Emulator) -> u16 {
    let value = emu.url.split("rtsp_port=").nth(1).expect("rtsp_port in the URL");
    value.split('&').next().unwrap().parse().unwrap()
}

/// The status line the emulator's RTSP server answers a DESCRIBE of the live view with.
fn describe_status(emu: &Emulator) -> String {
    let port = rtsp_port(emu);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "DESCRIBE rtsp://127.0.0.1:{port}/live RTSP/1.0\r\nCSeq: 1\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "the server closed early: {}", lossy(&got));
        got.push(byte[0]);
    }
    lossy(&got).trim().to_string()
}

fn summary(stderr: &str) -> &str {
    stderr.lines().find(|l| l.starts_with("live: ")).unwrap_or_else(|| panic!("no summary: {stderr}"))
}

#[test]
fn ten_frames_to_a_file_that_ffprobe_decodes() {
    let (tmp, emu) = yi();
    let video = tmp.path().join("x.h264");
    let out = run(&["live", &emu.url, "--frames", "10", "--out", video.to_str().unwrap()]);
    let stderr = lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let line = summary(&stderr);
    assert!(line.starts_with("live: 10 frames (640x480, "), "{line}");
    assert!(line.contains(" frames/s, 0 gaps (0 frames missing)"), "{line}");
    assert!(line.ends_with(&format!("; saved as {}", video.display())), "{line}");
    let bytes = std::fs::metadata(&video).unwrap().len();
    assert!(line.contains(&format!(", {bytes} bytes) in ")), "{line} vs {bytes} bytes on disk");
    let (codec, width, height, frames) = probe(&video).expect("ffprobe is installed");
    assert_eq!((codec.as_str(), width, height, frames), ("h264", 640, 480, 10));
    // Only the final file: the temporary one was renamed.
    let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(names.iter().all(|n| !n.to_string_lossy().ends_with(".camctl-part")), "{names:?}");
    // `live` stopped the preview: the camera's RTSP server no longer streams.
    assert!(describe_status(&emu).starts_with("RTSP/1.0 503 "), "preview still on");
}

#[test]
fn for_a_duration_then_the_preview_is_off() {
    let (tmp, emu) = yi();
    let video = tmp.path().join("second.h264");
    let out = run(&["live", &emu.url, "--for", "1.5", "--out", video.to_str().unwrap()]);
    let stderr = lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let line = summary(&stderr);
    assert!(!line.contains("stopped"), "{line}");
    let (codec, width, height, frames) = probe(&video).expect("ffprobe is installed");
    assert_eq!((codec.as_str(), width, height), ("h264", 640, 480));
    assert!(frames > 0);
    assert!(line.starts_with(&format!("live: {frames} frames (640x480, ")), "{line} vs ffprobe's {frames}");
    assert!(describe_status(&emu).starts_with("RTSP/1.0 503 "), "preview still on");
}

#[test]
fn a_closed_stdout_pipe_is_a_quiet_end_and_the_preview_is_stopped() {
    let (_tmp, emu) = yi();
    let mut child = camctl()
        .args(["live", &emu.url, "--out", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut head = vec![0u8; 100_000];
    stdout.read_exact(&mut head).unwrap();
    assert!(head.starts_with(&[0, 0, 0, 1]), "Annex-B start code first");
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{stderr}", out.status);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() == 1 && lines[0].starts_with("live: "), "only the summary: {stderr}");
    assert!(lines[0].contains("output closed"), "{stderr}");
    assert!(describe_status(&emu).starts_with("RTSP/1.0 503 "), "preview still on");
}

#[test]
fn udp_transport_from_the_url() {
    let (tmp, emu) = yi();
    let video = tmp.path().join("udp.h264");
    let url = format!("{}&rtsp_transport=udp", emu.url);
    let out = run(&["live", &url, "--frames", "5", "--out", video.to_str().unwrap()]);
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    let (codec, _, _, frames) = probe(&video).expect("ffprobe is installed");
    assert_eq!((codec.as_str(), frames), ("h264", 5));
    let bad = run(&["live", &format!("{}&rtsp_transport=sctp", emu.url), "--out", "-"]);
    assert!(!bad.status.success());
    assert!(lossy(&bad.stderr).contains("rtsp_transport=sctp (use tcp or udp)"), "{}", lossy(&bad.stderr));
    assert!(!Path::new(&tmp.path().join(".udp.h264.camctl-part")).exists());
}
