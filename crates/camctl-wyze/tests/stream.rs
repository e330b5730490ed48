//! Frames from the emulator through the client into an Annex-B file that ffprobe accepts, and the sink's
//! keyframe/gap handling.

use std::process::Command;

use camctl_wyze::sink::{AnnexBSink, SkipReason};
use camctl_wyze::transport::memory_pair;
use camctl_wyze::wire::{FrameInfo, FrameSize, codec};
use camctl_wyze::{ClientConfig, Emulator, EmulatorConfig, WyzeSession};

const ENR: &str = "AbCdEfGh/JkLmN0p";
const MAC: &str = "2CAABBCCDDEE";

/// Whether ffprobe can run; with CI=true its absence is a failure, otherwise the test is skipped.
fn ffprobe_available() -> bool {
    let ok = Command::new("ffprobe").arg("-version").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "ffprobe is required when CI=true (apt-get install ffmpeg)"
        );
        eprintln!("skipping: ffprobe not installed (apt-get install ffmpeg)");
    }
    ok
}

async fn record(frame_size: FrameSize, n: usize, path: &std::path::Path) -> camctl_wyze::sink::SinkStats {
    let (client_end, camera_end) = memory_pair(16);
    tokio::spawn(Emulator::new(EmulatorConfig::new(ENR, MAC)).serve(camera_end));
    let mut cfg = ClientConfig::new(ENR, MAC);
    cfg.frame_size = Some(frame_size);
    cfg.bitrate = 60;
    let session = WyzeSession::connect(client_end, cfg).await.unwrap();
    let mut sink = AnnexBSink::new(std::io::BufWriter::new(std::fs::File::create(path).unwrap()));
    while sink.stats().frames_written < n as u64 {
        let (info, data) = session.recv_frame().await.unwrap();
        sink.push(&info, &data).unwrap();
    }
    let stats = sink.stats();
    sink.into_inner().unwrap();
    stats
}

fn ffprobe(path: &std::path::Path) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "default=nw=1"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn recorded_stream_is_valid_h264() {
    let dir = tempfile::tempdir().unwrap();
    for (fs, n, w, h) in [(FrameSize::SD_360P, 45usize, 640, 360), (FrameSize::HD_1080P, 20, 1920, 1080)] {
        let path = dir.path().join(format!("{}.h264", fs.name()));
        let stats = record(fs, n, &path).await;
        assert_eq!(stats.frames_written, n as u64);
        assert_eq!(stats.gaps, 0);
        assert_eq!(stats.dimensions, Some((w, h)));
        assert_eq!(stats.bytes_written, std::fs::metadata(&path).unwrap().len());
        if !ffprobe_available() {
            return;
        }
        let report = ffprobe(&path);
        assert!(report.contains("codec_name=h264"), "{report}");
        assert!(report.contains(&format!("width={w}")), "{report}");
        assert!(report.contains(&format!("height={h}")), "{report}");
        assert!(report.contains(&format!("nb_read_frames={n}")), "{report}");
    }
}

fn video(frame_no: u32, keyframe: bool) -> FrameInfo {
    FrameInfo { codec_id: codec::H264, flags: u8::from(keyframe), frame_no, ..Default::default() }
}

#[test]
fn sink_waits_for_keyframe_reports_gaps_and_restores_parameter_sets() {
    let clip: Vec<_> =
        camctl_core::video::frames(camctl_core::video::SAMPLE_360P).map(|f| f.to_annexb()).collect();
    let mut sink = AnnexBSink::new(Vec::new());
    // Starting mid-GOP: P-frames are dropped until the IDR at clip index 15.
    for (i, data) in clip.iter().enumerate().skip(10).take(5) {
        let p = sink.push(&video(i as u32, false), data).unwrap();
        assert_eq!(p.skipped, Some(SkipReason::WaitingForKeyframe));
    }
    let p = sink.push(&video(15, true), &clip[15]).unwrap();
    assert!(p.written);
    // Audio is not video.
    let audio = FrameInfo { codec_id: codec::G711U, frame_no: 1, ..Default::default() };
    assert_eq!(sink.push(&audio, &[0xff; 160]).unwrap().skipped, Some(SkipReason::NotVideo));
    // Duplicates are stale.
    assert_eq!(sink.push(&video(15, true), &clip[15]).unwrap().skipped, Some(SkipReason::Stale));
    assert!(sink.push(&video(16, false), &clip[16]).unwrap().written);
    // A gap: reported, then frames are dropped until the next keyframe.
    let p = sink.push(&video(19, false), &clip[19]).unwrap();
    assert_eq!((p.written, p.missing_before), (false, 2));
    // A keyframe without SPS/PPS gets the cached ones in front.
    let idr_only: Vec<u8> = camctl_core::video::nal_units(&clip[0])
        .filter(|n| n.nal_type() == 5)
        .flat_map(|n| [&[0u8, 0, 0, 1][..], n.bytes()].concat())
        .collect();
    let before = sink.stats().bytes_written;
    assert!(sink.push(&video(20, true), &idr_only).unwrap().written);
    assert!(sink.stats().bytes_written > before + idr_only.len() as u64);
    // An H.265 frame in an H.264 stream is refused.
    let hevc = FrameInfo { codec_id: codec::H265, flags: 1, frame_no: 21, ..Default::default() };
    assert_eq!(sink.push(&hevc, &[0, 0, 0, 1, 0x40]).unwrap().skipped, Some(SkipReason::CodecChanged));
    let stats = sink.stats();
    assert_eq!((stats.frames_written, stats.gaps, stats.missing_frames), (3, 1, 2));
    assert_eq!(stats.dimensions, Some((640, 360)));
    let out = sink.into_inner().unwrap();
    let sps_count = camctl_core::video::nal_units(&out).filter(|n| n.nal_type() == 7).count();
    assert_eq!(sps_count, 2, "SPS of the first IDR plus the restored one");
}

#[test]
fn a_new_session_is_a_gap_with_fresh_numbering() {
    let clip: Vec<_> =
        camctl_core::video::frames(camctl_core::video::SAMPLE_360P).map(|f| f.to_annexb()).collect();
    let mut sink = AnnexBSink::new(Vec::new());
    assert!(sink.push(&video(100, true), &clip[0]).unwrap().written);
    assert!(sink.push(&video(101, false), &clip[1]).unwrap().written);
    // The camera went away; the new session numbers from 1 and starts mid-GOP.
    sink.discontinuity();
    let p = sink.push(&video(1, false), &clip[2]).unwrap();
    assert_eq!(p.skipped, Some(SkipReason::WaitingForKeyframe), "not stale, but waiting for a keyframe");
    assert!(sink.push(&video(2, true), &clip[15]).unwrap().written);
    assert!(sink.push(&video(3, false), &clip[16]).unwrap().written);
    let stats = sink.stats();
    assert_eq!((stats.frames_written, stats.gaps, stats.missing_frames), (4, 1, 0));
}
