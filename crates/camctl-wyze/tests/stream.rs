//! Frames from the emulator through the client into Annex-B and Matroska files that ffprobe and ffmpeg
//! accept (over real UDP on 127.0.0.1 where the whole path matters), the frame limit, and the sinks'
//! keyframe/gap handling.

use std::path::Path;
use std::process::Command;

use camctl_core::CameraUrl;
use camctl_wyze::sink::{AnnexBSink, Container, MkvSink, SkipReason};
use camctl_wyze::transport::memory_pair;
use camctl_wyze::tutk::{ConnectOptions, ServerConfig, TutkServer};
use camctl_wyze::wire::{FrameInfo, FrameSize, codec};
use camctl_wyze::{ClientConfig, Emulator, EmulatorConfig, LiveEnd, LiveOptions, WyzeCamera, WyzeSession};

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
            continue;
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

const UID: &str = "ABCDEFGHIJKLMNOPQRST";

/// An emulated camera on UDP 127.0.0.1 (unpaced, so tests run fast); returns its `wyze://` URL.
async fn udp_camera(frame_size: FrameSize, audio_codec: u16) -> String {
    let mut cfg = ServerConfig::new(UID, ENR, MAC);
    cfg.emulator.frame_size = frame_size;
    cfg.emulator.audio_codec = audio_codec;
    let server = TutkServer::bind("127.0.0.1:0".parse().unwrap(), cfg).await.unwrap();
    let url = server.url().unwrap();
    tokio::spawn(server.serve());
    url
}

/// ffmpeg decodes the whole file without a single error message.
fn assert_decodes_cleanly(path: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "ffmpeg decoding {}: {stderr}", path.display());
}

/// ffprobe's streams as `codec,width,height` (video) / `codec,rate,channels` (audio) with the packet count.
fn probe_streams(path: &Path) -> Vec<String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_packets"])
        .args(["-show_entries", "stream=codec_name,width,height,sample_rate,channels,nb_read_packets"])
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim_end_matches(',').to_string()).collect()
}

/// (stream index, pts in ms, keyframe) of every packet, in file order.
fn packets(path: &Path) -> Vec<(u32, i64, bool)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "packet=stream_index,pts,flags", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].starts_with('K'))
        })
        .collect()
}

#[tokio::test]
async fn live_mkv_over_udp_has_video_and_audio_that_ffmpeg_decodes() {
    let dir = tempfile::tempdir().unwrap();
    for (fs, w, h, n) in [(FrameSize::SD_360P, 640, 360, 45u64), (FrameSize::HD_1080P, 1920, 1080, 20)] {
        let url: CameraUrl = udp_camera(fs, codec::G711U).await.parse().unwrap();
        let mut camera = WyzeCamera::connect(&url).await.unwrap();
        let path = dir.path().join(format!("{}.mkv", fs.name()));
        let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let options = LiveOptions { frames: Some(n), container: Container::Matroska, ..Default::default() };
        let report = camera.live_until(file, options, std::future::pending()).await.unwrap();
        camctl_core::Camera::close(camera).await.unwrap();
        let stats = report.stats;
        assert_eq!(report.end, LiveEnd::FrameLimit);
        assert_eq!((stats.frames_written, stats.gaps, stats.dimensions), (n, 0, Some((w, h))));
        assert_eq!(stats.audio_codec, Some(codec::G711U));
        assert!(stats.audio_written > n, "20 ms audio frames outnumber 67 ms video frames: {stats:?}");
        assert!(report.audio_frames >= stats.audio_written);
        assert_eq!(stats.bytes_written, std::fs::metadata(&path).unwrap().len());
        if !ffprobe_available() {
            return;
        }
        let streams = probe_streams(&path);
        assert_eq!(
            streams,
            [format!("h264,{w},{h},{n}"), format!("pcm_mulaw,8000,1,{}", stats.audio_written)]
        );
        assert_decodes_cleanly(&path);
        // One clock starting at the first keyframe; audio within the span of the video.
        let packets = packets(&path);
        assert_eq!(packets[0], (0, 0, true));
        let last_video = packets.iter().filter(|p| p.0 == 0).map(|p| p.1).max().unwrap();
        assert!(
            last_video >= (n as i64 - 1) * 1000 / 15 - 1,
            "video pts follow FRAMEINFO at 15 fps: {last_video}"
        );
        for (_, pts, _) in packets.iter().filter(|p| p.0 == 1) {
            assert!(
                (0..=last_video + 67).contains(pts),
                "audio at {pts} ms outside the video (0..{last_video})"
            );
        }
    }
}

#[tokio::test]
async fn frame_limit_writes_exactly_that_many_annexb_frames() {
    let url: CameraUrl = udp_camera(FrameSize::SD_360P, codec::G711U).await.parse().unwrap();
    let mut camera = WyzeCamera::connect(&url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.h264");
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let options = LiveOptions { frames: Some(20), ..Default::default() };
    let report = camera.live_until(file, options, std::future::pending()).await.unwrap();
    camctl_core::Camera::close(camera).await.unwrap();
    assert_eq!((report.end, report.stats.frames_written), (LiveEnd::FrameLimit, 20));
    assert_eq!(report.stats.audio_written, 0, "Annex-B carries no audio");
    if ffprobe_available() {
        let report = ffprobe(&path);
        assert!(report.contains("nb_read_frames=20"), "{report}");
    }
}

#[tokio::test]
async fn an_audio_codec_matroska_cannot_carry_gives_a_video_only_file() {
    // The SDK's ADPCM has no agreed variant, so it is not written.
    let url: CameraUrl = udp_camera(FrameSize::SD_360P, codec::ADPCM).await.parse().unwrap();
    let mut camera = WyzeCamera::connect(&url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.mkv");
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let options = LiveOptions { frames: Some(30), container: Container::Matroska, ..Default::default() };
    let report = camera.live_until(file, options, std::future::pending()).await.unwrap();
    camctl_core::Camera::close(camera).await.unwrap();
    let stats = report.stats;
    assert_eq!((stats.frames_written, stats.audio_written, stats.audio_codec), (30, 0, None));
    assert!(report.audio_frames > 0 && stats.audio_skipped > 0, "{report:?}");
    if ffprobe_available() {
        assert_eq!(probe_streams(&path), ["h264,640,360,30"]);
        assert_decodes_cleanly(&path);
    }
}

/// A session over UDP with audio asked for at login (`ClientConfig.open_audio`); frames pass through
/// `drop_video` (simulated loss) into a Matroska sink until `n` video frames are written.
async fn record_mkv_with_loss(
    path: &Path,
    n: u64,
    drop_video: impl Fn(u32) -> bool,
) -> camctl_wyze::sink::SinkStats {
    let url = udp_camera(FrameSize::SD_360P, codec::G711U).await;
    let addr = url.split_once("://").unwrap().1.split('?').next().unwrap().parse().unwrap();
    let options = ConnectOptions { timeout: std::time::Duration::from_secs(5), ..Default::default() };
    let transport = camctl_wyze::tutk::connect(addr, UID, ENR, MAC, options).await.unwrap();
    let mut cfg = ClientConfig::new(ENR, MAC);
    cfg.open_audio = true;
    // Keep the camera's 360p: no frame size, no substream.
    cfg.frame_size = None;
    cfg.substream = None;
    let session = WyzeSession::connect(transport, cfg).await.unwrap();
    let mut sink = MkvSink::new(std::io::BufWriter::new(std::fs::File::create(path).unwrap()), true);
    while sink.stats().frames_written < n {
        let (info, data) = session.recv_frame().await.unwrap();
        if info.is_video() && drop_video(info.frame_no) {
            continue;
        }
        sink.push(&info, &data).unwrap();
    }
    let stats = sink.stats();
    sink.into_inner().unwrap();
    session.into_transport().close().await;
    stats
}

#[tokio::test]
async fn a_gap_in_the_mkv_is_a_clean_cut_for_video_and_audio() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gap.mkv");
    // Frame numbers count from 1 and the 360p clip has an IDR every 15 frames: 1, 16, 31...
    // Losing 10..=12 means 13..=15 (P-frames referring to the lost ones) must go too.
    let stats = record_mkv_with_loss(&path, 30, |no| (10..=12).contains(&no)).await;
    assert_eq!((stats.gaps, stats.missing_frames), (1, 3));
    assert_eq!(stats.frames_skipped, 3, "13, 14, 15 wait for the keyframe 16");
    assert!(stats.audio_written > 0 && stats.audio_skipped > 0, "{stats:?}");
    if !ffprobe_available() {
        return;
    }
    let streams = probe_streams(&path);
    assert_eq!(streams, ["h264,640,360,30".to_string(), format!("pcm_mulaw,8000,1,{}", stats.audio_written)]);
    assert_decodes_cleanly(&path);
    let packets = packets(&path);
    let video: Vec<_> = packets.iter().filter(|p| p.0 == 0).collect();
    // Frame 9 at 8/15 s, then the keyframe 16 at 15/15 s (the emulator steps by 66,666 µs, rounded down).
    assert_eq!((video[8].1, video[9].1, video[9].2), (8 * 66_666 / 1000, 15 * 66_666 / 1000, true));
    // The sink learns of the loss from frame 13 (at 12/15 s); from then until the keyframe no audio is
    // written either (what came before it is already out: a live writer cannot take it back).
    let cut = 12 * 66_666 / 1000..video[9].1;
    let in_cut: Vec<_> = packets.iter().filter(|p| p.0 == 1 && cut.contains(&p.1)).collect();
    assert!(in_cut.is_empty(), "audio in the cut {cut:?}: {in_cut:?}");
    assert!(packets.iter().any(|p| p.0 == 1 && p.1 >= video[9].1), "audio resumes with the keyframe");
}

#[test]
fn mkv_sink_without_audio_writes_video_only_after_two_seconds() {
    let clip: Vec<_> =
        camctl_core::video::frames(camctl_core::video::SAMPLE_360P).map(|f| f.to_annexb()).collect();
    let mut sink = MkvSink::new(Vec::new(), true);
    let mut frame = |no: u32| {
        let data = &clip[(no as usize - 1) % clip.len()];
        let us = u64::from(no - 1) * 1_000_000 / 15;
        let info = FrameInfo {
            codec_id: codec::H264,
            flags: u8::from((no - 1).is_multiple_of(15)),
            framerate: 15,
            timestamp: 1_700_000_000 + (us / 1_000_000) as u32,
            timestamp_us: (us % 1_000_000) as u32,
            frame_no: no,
            ..Default::default()
        };
        sink.push(&info, data).unwrap();
        sink.stats().bytes_written
    };
    // Held for the audio format: nothing written yet for 2 s of stream (frames 1..=30 span 29/15 s).
    for no in 1..=30 {
        assert_eq!(frame(no), 0, "frame {no}");
    }
    assert!(frame(31) > 0, "2 s without audio: the header and the held frames are written");
    let stats = sink.stats();
    assert_eq!((stats.frames_written, stats.audio_codec), (31, None));
    let late_audio =
        FrameInfo { codec_id: codec::G711U, frame_no: 1, timestamp: 1_700_000_002, ..Default::default() };
    assert_eq!(sink.push(&late_audio, &[0xFF; 160]).unwrap().skipped, Some(SkipReason::NoAudioTrack));
    let out = sink.into_inner().unwrap();
    assert_eq!(&out[..4], &[0x1A, 0x45, 0xDF, 0xA3]);
}

/// Runs ffmpeg to make test media from its synthetic sources; `None` (a skip, a failure under CI=true)
/// if ffmpeg or the encoder is missing.
fn ffmpeg_make(args: &[&str], out: &Path) -> Option<Vec<u8>> {
    let made = Command::new("ffmpeg").args(["-v", "error", "-y"]).args(args).arg(out).output();
    match made {
        Ok(o) if o.status.success() => std::fs::read(out).ok(),
        other => {
            let why = other
                .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                .unwrap_or_else(|e| e.to_string());
            assert!(std::env::var("CI").as_deref() != Ok("true"), "ffmpeg {args:?}: {why}");
            eprintln!("skipping: ffmpeg cannot make {args:?}: {why}");
            None
        }
    }
}

/// The packets of an Ogg stream (RFC 3533: segment tables; a lacing value under 255 ends a packet).
fn ogg_packets(mut data: &[u8]) -> Vec<Vec<u8>> {
    let (mut packets, mut current) = (Vec::new(), Vec::new());
    while data.len() >= 27 && &data[..4] == b"OggS" {
        let segments = usize::from(data[26]);
        let table = &data[27..27 + segments];
        let mut body = &data[27 + segments..];
        for &lacing in table {
            current.extend_from_slice(&body[..usize::from(lacing)]);
            body = &body[usize::from(lacing)..];
            if lacing < 255 {
                packets.push(std::mem::take(&mut current));
            }
        }
        data = body;
    }
    packets
}

/// A stream of the 360p clip (15 fps) with `audio` frames interleaved, pushed through a Matroska sink;
/// returns the file. Audio is stamped on the video's FRAMEINFO clock moved by `audio_clock_s` seconds.
fn mkv_with_audio_clock(
    dir: &Path,
    name: &str,
    (codec_id, flags): (u16, u8),
    frame_us: u64,
    audio: &[Vec<u8>],
    audio_clock_s: i64,
) -> std::path::PathBuf {
    let clip: Vec<_> =
        camctl_core::video::frames(camctl_core::video::SAMPLE_360P).map(|f| f.to_annexb()).collect();
    let stamp = |us: u64| (1_700_000_000 + (us / 1_000_000) as u32, (us % 1_000_000) as u32);
    let path = dir.join(name);
    let mut sink = MkvSink::new(std::fs::File::create(&path).unwrap(), true);
    let mut next_audio = 0usize;
    for (i, data) in clip.iter().enumerate() {
        let video_us = i as u64 * 1_000_000 / 15;
        let (timestamp, timestamp_us) = stamp(video_us);
        let info = FrameInfo {
            codec_id: codec::H264,
            flags: u8::from(i % 15 == 0),
            framerate: 15,
            timestamp,
            timestamp_us,
            frame_no: i as u32 + 1,
            ..Default::default()
        };
        assert!(sink.push(&info, data).unwrap().written);
        while next_audio < audio.len() && (next_audio as u64 * frame_us) < video_us + 1_000_000 / 15 {
            let (timestamp, timestamp_us) = stamp(next_audio as u64 * frame_us);
            let timestamp = (i64::from(timestamp) + audio_clock_s) as u32;
            let info = FrameInfo {
                codec_id,
                flags,
                timestamp,
                timestamp_us,
                frame_no: next_audio as u32 + 1,
                frame_len: audio[next_audio].len() as u32,
                ..Default::default()
            };
            let pushed = sink.push(&info, &audio[next_audio]).unwrap();
            assert!(pushed.written, "{name}: audio frame {next_audio}: {pushed:?}");
            next_audio += 1;
        }
    }
    assert_eq!(sink.stats().audio_written, next_audio as u64);
    sink.into_inner().unwrap();
    path
}

/// [`mkv_with_audio_clock`] with audio on the video's clock.
fn mkv_with_audio(
    dir: &Path,
    name: &str,
    codec_id: u16,
    flags: u8,
    frame_us: u64,
    audio: &[Vec<u8>],
) -> std::path::PathBuf {
    mkv_with_audio_clock(dir, name, (codec_id, flags), frame_us, audio, 0)
}

#[test]
fn audio_stamped_on_another_clock_is_aligned_to_the_video() {
    if !ffprobe_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let flags =
        camctl_wyze::wire::AudioFlags { sample_rate: 8000, bits16: false, stereo: false }.to_byte().unwrap();
    let silence = vec![vec![0xFF; 160]; 100];
    // Audio stamped in seconds since boot, say, while video carries Unix time.
    let path = mkv_with_audio_clock(
        dir.path(),
        "clock.mkv",
        (codec::G711U, flags),
        20_000,
        &silence,
        -1_699_990_000,
    );
    assert_eq!(probe_streams(&path), ["h264,640,360,30".to_string(), "pcm_mulaw,8000,1,100".to_string()]);
    assert_decodes_cleanly(&path);
    let audio: Vec<i64> = packets(&path).iter().filter(|p| p.0 == 1).map(|p| p.1).collect();
    assert_eq!((audio[0], audio[99]), (0, 99 * 20), "audio starts with the video and keeps its own spacing");
}

#[test]
fn mkv_sink_writes_pcm_alaw_aac_and_opus_that_ffmpeg_decodes() {
    if !ffprobe_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let flags = |sample_rate, bits16| {
        camctl_wyze::wire::AudioFlags { sample_rate, bits16, stereo: false }.to_byte().unwrap()
    };
    // 16-bit PCM: a 440 Hz tone at 8 kHz, 160 samples a frame.
    let pcm: Vec<Vec<u8>> = (0..100)
        .map(|f| {
            (0..160)
                .flat_map(|s| {
                    let t = f64::from(f * 160 + s) / 8000.0;
                    (((t * 440.0 * std::f64::consts::TAU).sin() * 8000.0) as i16).to_le_bytes()
                })
                .collect()
        })
        .collect();
    let path = mkv_with_audio(dir.path(), "pcm.mkv", codec::PCM, flags(8000, true), 20_000, &pcm);
    assert_eq!(probe_streams(&path), ["h264,640,360,30".to_string(), "pcm_s16le,8000,1,100".to_string()]);
    assert_decodes_cleanly(&path);
    // G.711 A-law (the emulator sends µ-law): silence is 0xD5.
    let alaw = vec![vec![0xD5; 160]; 100];
    let path = mkv_with_audio(dir.path(), "alaw.mkv", codec::G711A, flags(8000, false), 20_000, &alaw);
    assert_eq!(probe_streams(&path), ["h264,640,360,30".to_string(), "pcm_alaw,8000,1,100".to_string()]);
    assert_decodes_cleanly(&path);

    // AAC from ffmpeg's encoder as ADTS, sent as ADTS (headers stripped) and as raw frames.
    let aac_args =
        ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-t", "2", "-c:a", "aac", "-f", "adts"];
    let Some(adts) = ffmpeg_make(&aac_args, &dir.path().join("a.aac")) else { return };
    let mut frames = Vec::new();
    let mut rest = &adts[..];
    while let Some(h) = camctl_core::mkv::Adts::parse(rest) {
        frames.push(rest[..h.frame_len].to_vec());
        rest = &rest[h.frame_len..];
    }
    assert!(rest.is_empty() && frames.len() > 25);
    let n = frames.len().min(30);
    let path =
        mkv_with_audio(dir.path(), "adts.mkv", codec::AAC_ADTS, flags(16000, true), 64_000, &frames[..n]);
    assert_eq!(probe_streams(&path), ["h264,640,360,30".to_string(), format!("aac,16000,1,{n}")]);
    assert_decodes_cleanly(&path);
    let raw: Vec<Vec<u8>> =
        frames.iter().map(|f| camctl_core::mkv::Adts::parse(f).unwrap().payload(f).to_vec()).collect();
    let path = mkv_with_audio(dir.path(), "raw.mkv", codec::AAC_RAW, flags(16000, true), 64_000, &raw[..n]);
    assert_eq!(probe_streams(&path), ["h264,640,360,30".to_string(), format!("aac,16000,1,{n}")]);
    assert_decodes_cleanly(&path);

    // Opus packets out of ffmpeg's Ogg (the first two packets are the Ogg headers), 20 ms each.
    let opus_args = [
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=16000",
        "-t",
        "2",
        "-c:a",
        "libopus",
        "-f",
        "ogg",
    ];
    let Some(ogg) = ffmpeg_make(&opus_args, &dir.path().join("a.ogg")) else { return };
    let packets = ogg_packets(&ogg);
    assert!(packets[0].starts_with(b"OpusHead") && packets.len() > 60);
    let path =
        mkv_with_audio(dir.path(), "opus.mkv", codec::OPUS, flags(16000, true), 20_000, &packets[2..62]);
    assert_eq!(probe_streams(&path), ["h264,640,360,30".to_string(), "opus,48000,1,60".to_string()]);
    assert_decodes_cleanly(&path);
}

#[test]
fn mkv_sink_writes_h265() {
    if !ffprobe_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=15",
        "-frames:v",
        "30",
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx265",
        "-x265-params",
        "log-level=error:keyint=15:bframes=0",
        "-f",
        "hevc",
    ];
    let Some(hevc) = ffmpeg_make(&args, &dir.path().join("v.h265")) else { return };
    // Pictures: each ends with a VCL unit whose first_slice_segment_in_pic_flag is set.
    let mut pictures: Vec<(bool, Vec<u8>)> = Vec::new();
    let mut pending = Vec::new();
    for nal in camctl_core::video::nal_units(&hevc) {
        let t = (nal.0[0] >> 1) & 0x3F;
        pending.extend_from_slice(&[0, 0, 0, 1]);
        pending.extend_from_slice(nal.bytes());
        if t < 32 && nal.0.get(2).is_some_and(|b| b & 0x80 != 0) {
            pictures.push(((16..=23).contains(&t), std::mem::take(&mut pending)));
        }
    }
    assert_eq!(pictures.len(), 30);
    let path = dir.path().join("x.mkv");
    let mut sink = MkvSink::new(std::fs::File::create(&path).unwrap(), false);
    for (i, (key, data)) in pictures.iter().enumerate() {
        let us = i as u64 * 1_000_000 / 15;
        let info = FrameInfo {
            codec_id: codec::H265,
            flags: u8::from(*key),
            framerate: 15,
            timestamp: 1_700_000_000 + (us / 1_000_000) as u32,
            timestamp_us: (us % 1_000_000) as u32,
            frame_no: i as u32 + 1,
            ..Default::default()
        };
        assert!(sink.push(&info, data).unwrap().written, "picture {i}");
    }
    assert_eq!(sink.stats().dimensions, Some((320, 240)));
    sink.into_inner().unwrap();
    assert_eq!(probe_streams(&path), ["hevc,320,240,30"]);
    assert_decodes_cleanly(&path);
}

#[test]
fn sinks_take_any_frames_without_panicking() {
    let clip: Vec<_> =
        camctl_core::video::frames(camctl_core::video::SAMPLE_360P).map(|f| f.to_annexb()).collect();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..20 {
        let mut mkv = MkvSink::new(Vec::new(), round % 2 == 0);
        let mut annexb = AnnexBSink::new(Vec::new());
        for _ in 0..300 {
            let r = next();
            let codec_id =
                [codec::H264, codec::H265, codec::G711U, codec::PCM, codec::AAC_ADTS, codec::OPUS, 0x8B, 7]
                    [(r % 8) as usize];
            let info = FrameInfo {
                codec_id,
                flags: (r >> 8) as u8,
                framerate: (r >> 16) as u8,
                timestamp: if r & 1 << 40 != 0 { (r >> 24) as u32 } else { 1_700_000_000 + (r >> 60) as u32 },
                timestamp_us: (r >> 32) as u32,
                frame_no: (r >> 44) as u32 % 64,
                ..Default::default()
            };
            // Real frames, cut or bit-flipped ones, and noise (an ADTS-like start now and then).
            let mut data = match (r >> 50) % 4 {
                0 => clip[(r >> 20) as usize % clip.len()].clone(),
                1 => clip[0][..(r >> 20) as usize % clip[0].len()].to_vec(),
                2 => [&[0xFF, 0xF1][..], &next().to_le_bytes()].concat(),
                _ => (0..(r >> 20) % 600).map(|_| next() as u8).collect(),
            };
            if r & 1 << 41 != 0 && !data.is_empty() {
                let i = (r >> 12) as usize % data.len();
                data[i] ^= 0x5A;
            }
            // Writing to memory cannot fail: any error would be the sink's own.
            mkv.push(&info, &data).unwrap();
            annexb.push(&info, &data).unwrap();
        }
        mkv.into_inner().unwrap();
        annexb.into_inner().unwrap();
    }
}

#[test]
fn mkv_sink_waits_for_parameter_sets_it_can_describe() {
    let clip: Vec<_> =
        camctl_core::video::frames(camctl_core::video::SAMPLE_360P).map(|f| f.to_annexb()).collect();
    let mut sink = MkvSink::new(Vec::new(), false);
    // An IDR behind a truncated SPS: Annex-B could pass it on, Matroska's avcC cannot describe it.
    let idr: Vec<u8> = camctl_core::video::nal_units(&clip[0])
        .filter(|n| n.nal_type() != 7)
        .flat_map(|n| [&[0u8, 0, 0, 1][..], n.bytes()].concat())
        .collect();
    let broken = [&[0u8, 0, 0, 1, 0x67, 0x42][..], &idr].concat();
    let p = sink.push(&video(1, true), &broken).unwrap();
    assert_eq!(p.skipped, Some(SkipReason::WaitingForKeyframe));
    assert!(sink.push(&video(2, true), &clip[0]).unwrap().written);
    assert_eq!(sink.stats().frames_written, 1);
}
