//! `camctl live wyze://...` against `camctl emulate wyze` on 127.0.0.1: Matroska with video and audio to
//! a `.mkv` file and through stdout (`--format mkv`), and `--frames N`; ffprobe and ffmpeg read the
//! results and agree with the summary camctl prints.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Emulator, lossy, require_program, run};

/// `--media` for the Wyze emulator, which streams its built-in clips and never opens it.
const NO_MEDIA: &str = "wyze-emulator-opens-no-media";

/// (video frames, audio frames) from the summary line `live: V frames + A audio frames (...)`.
fn summary_counts(stderr: &str) -> (u64, u64) {
    let line =
        stderr.lines().find(|l| l.starts_with("live: ")).unwrap_or_else(|| panic!("no summary: {stderr}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let video = words[1].parse().unwrap_or_else(|_| panic!("{line}"));
    let audio = match words.get(4..7) {
        Some([n, "audio", "frames"]) => n.parse().unwrap_or_else(|_| panic!("{line}")),
        _ => 0,
    };
    (video, audio)
}

/// ffprobe's streams (`codec,width,height` or `codec,rate,channels`, then the packet count), after
/// checking that ffmpeg decodes the whole file without an error; `None` without ffmpeg.
fn probe_and_decode(path: &Path) -> Option<Vec<String>> {
    if !require_program("ffprobe") || !require_program("ffmpeg") {
        return None;
    }
    let decode = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    let errors = lossy(&decode.stderr);
    assert!(decode.status.success() && errors.trim().is_empty(), "ffmpeg decoding: {errors}");
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_packets"])
        .args(["-show_entries", "stream=codec_name,width,height,sample_rate,channels,nb_read_packets"])
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe: {}", lossy(&out.stderr));
    Some(lossy(&out.stdout).lines().map(|l| l.trim_end_matches(',').to_string()).collect())
}

fn assert_video_and_audio(path: &Path, frames: u64, audio: u64) {
    assert!(audio > frames, "20 ms audio frames outnumber 67 ms video frames: {audio} vs {frames}");
    if let Some(streams) = probe_and_decode(path) {
        assert_eq!(streams, [format!("h264,1920,1080,{frames}"), format!("pcm_mulaw,8000,1,{audio}")]);
    }
}

#[test]
fn live_to_an_mkv_file_records_video_and_audio() {
    let cam = Emulator::start("wyze", Path::new(NO_MEDIA), &[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.mkv");
    let res = run(&["live", &cam.url, "--frames", "30", "--out", path.to_str().unwrap()]);
    let stderr = lossy(&res.stderr);
    assert!(res.status.success(), "{stderr}");
    let (frames, audio) = summary_counts(&stderr);
    assert_eq!(frames, 30, "{stderr}");
    assert_video_and_audio(&path, frames, audio);
}

#[test]
fn live_mkv_through_stdout() {
    let cam = Emulator::start("wyze", Path::new(NO_MEDIA), &[]);
    let res = run(&["live", &cam.url, "--frames", "30", "--format", "mkv", "--out", "-"]);
    let stderr = lossy(&res.stderr);
    assert!(res.status.success(), "{stderr}");
    let (frames, audio) = summary_counts(&stderr);
    assert_eq!(frames, 30, "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stdout.mkv");
    std::fs::write(&path, &res.stdout).unwrap();
    assert_eq!(&res.stdout[..4], &[0x1A, 0x45, 0xDF, 0xA3], "an EBML header first");
    assert_video_and_audio(&path, frames, audio);
}

#[test]
fn frames_limits_an_annexb_recording() {
    let cam = Emulator::start("wyze", Path::new(NO_MEDIA), &[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.h264");
    let res = run(&["live", &cam.url, "--frames", "20", "--out", path.to_str().unwrap()]);
    let stderr = lossy(&res.stderr);
    assert!(res.status.success(), "{stderr}");
    assert_eq!(summary_counts(&stderr), (20, 0), "{stderr}");
    if let Some((codec, w, h, frames)) = common::probe(&path) {
        assert_eq!((codec.as_str(), w, h, frames), ("h264", 1920, 1080, 20));
    }
}

#[test]
fn an_unknown_format_is_refused_before_anything_is_sent() {
    // No camera at all: clap refuses the value first.
    let res = run(&["live", "wyze://127.0.0.1:9", "--out", "-", "--format", "ts"]);
    let stderr = lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("annexb") && stderr.contains("mkv"), "{stderr}");
}
