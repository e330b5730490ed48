//! Fragmented MP4 against ffmpeg: the embedded H.264 clips and an H.265 clip x265 makes at test time are
//! muxed as a browser would receive them (init segment, then one fragment per frame), and ffprobe and
//! ffmpeg must read back the codec, size, frame count, keyframes and timing, and decode every frame
//! without a complaint.

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use camctl_core::fmp4::{self, Fragmenter};
use camctl_core::live::{Codec, Frame, StreamParams};
use camctl_core::video::{self, Nal, h265_nal_type};

/// 15 fps on the 90 kHz clock.
const TICKS_PER_FRAME: u64 = 6000;

/// Whether the CI rule says a missing external tool is a failure.
fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether `tool` runs; a missing one fails the test under `CI=true` and skips it otherwise.
fn have(tool: &str) -> bool {
    if Command::new(tool).arg("-version").output().is_ok() {
        return true;
    }
    assert!(!ci(), "{tool} is required when CI=true");
    eprintln!("skipping: {tool} not installed");
    false
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{cmd:?}: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `codec_name,width,height,nb_read_frames` and the stream's `profile`/`level` of a file.
fn probe(path: &Path) -> (String, String, String) {
    let summary = run(Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "csv=p=0"])
        .arg(path));
    let field = |name: &str| {
        run(Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
            .arg(format!("stream={name}"))
            .args(["-of", "default=nw=1:nk=1"])
            .arg(path))
        .trim()
        .to_owned()
    };
    (summary.trim().to_owned(), field("profile"), field("level"))
}

/// Each packet's (pts in ticks, keyframe) as ffprobe's mp4 demuxer reads them from the fragments.
fn packets(path: &Path) -> Vec<(u64, bool)> {
    let out = run(Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts,flags"])
        .args(["-of", "csv=p=0"])
        .arg(path));
    out.lines()
        .map(|line| {
            let (pts, flags) = line.split_once(',').unwrap();
            (pts.parse().unwrap(), flags.starts_with('K'))
        })
        .collect()
}

/// Decodes every frame with ffmpeg; any message on stderr (a decoding error) fails.
fn decodes_cleanly(path: &Path) {
    run(Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(path).args(["-f", "null", "-"]));
}

/// Writes the init segment and one fragment per frame (`pts` from `start_pts` on) to `path`.
fn mux(path: &Path, params: &StreamParams, frames: &[(Vec<u8>, bool)], start_pts: u64) {
    let mut out = fmp4::init_segment(params).unwrap();
    let mut fragmenter = Fragmenter::new();
    for (i, (data, keyframe)) in frames.iter().enumerate() {
        let frame = Frame {
            codec: params.codec,
            data: data.clone(),
            keyframe: *keyframe,
            pts: start_pts + i as u64 * TICKS_PER_FRAME,
            captured: SystemTime::now(),
        };
        out.extend(fragmenter.fragment(&frame, TICKS_PER_FRAME as u32).unwrap());
    }
    assert_eq!(fragmenter.fragments() as usize, frames.len());
    std::fs::write(path, out).unwrap();
}

fn first_unit(annexb: &[u8], wanted: impl Fn(Nal<'_>) -> bool) -> Vec<u8> {
    video::nal_units(annexb).find(|n| wanted(*n)).unwrap().bytes().to_vec()
}

#[test]
fn h264_clips_play_from_fragments() {
    if !have("ffprobe") || !have("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (clip, (width, height)) in [(video::SAMPLE_480P, (640, 480)), (video::SAMPLE_1080P, (1920, 1080))] {
        let params = video::clip_params(clip).unwrap();
        assert_eq!((params.width, params.height), (width, height));
        // The clip twice over, as a looping camera sends it: 60 frames, keyframes every 15.
        let frames: Vec<(Vec<u8>, bool)> =
            video::frames(clip).chain(video::frames(clip)).map(|f| (f.to_annexb(), f.keyframe)).collect();
        let path = dir.path().join(format!("{height}p.mp4"));
        // A camera's clock does not start at zero; the fragments' decode times do.
        mux(&path, &params, &frames, 123_456_789);
        let (summary, profile, level) = probe(&path);
        assert_eq!(summary, format!("h264,{width},{height},60"));
        decodes_cleanly(&path);
        let packets = packets(&path);
        let expected: Vec<(u64, bool)> = (0..60).map(|i| (i * TICKS_PER_FRAME, i % 15 == 0)).collect();
        assert_eq!(packets, expected);

        // The codecs string against what ffprobe says of the raw clip: profile_idc 66 with
        // constraint_set1 (Constrained Baseline), and the level.
        assert_eq!(profile, "Constrained Baseline");
        let codecs = fmp4::codecs_string(&params).unwrap();
        let level: u8 = level.parse().unwrap();
        assert_eq!((&codecs[..7], &codecs[9..]), ("avc1.42", format!("{level:02X}").as_str()), "{codecs}");
        let constraints = u8::from_str_radix(&codecs[7..9], 16).unwrap();
        assert_ne!(constraints & 0x40, 0, "{codecs}: constraint_set1_flag");
    }
}

/// Splits an H.265 Annex-B stream into access units: a new one starts at a parameter set, delimiter
/// or prefix SEI, or at a slice with `first_slice_segment_in_pic_flag`, once the current one holds a
/// picture (H.265 7.4.2.4.4).
fn h265_access_units(annexb: &[u8]) -> Vec<(Vec<u8>, bool)> {
    let mut units: Vec<(Vec<u8>, bool)> = Vec::new();
    let mut has_picture = false;
    for nal in video::nal_units(annexb) {
        let t = nal.h265_type();
        let vcl = h265_nal_type::is_vcl(t);
        let first_slice = vcl && nal.bytes().get(2).is_some_and(|b| b & 0x80 != 0);
        if units.is_empty() || (has_picture && (first_slice || (32..=39).contains(&t))) {
            units.push((Vec::new(), false));
            has_picture = false;
        }
        let (data, keyframe) = units.last_mut().unwrap();
        data.extend_from_slice(&[0, 0, 0, 1]);
        data.extend_from_slice(nal.bytes());
        *keyframe |= h265_nal_type::is_irap(t);
        has_picture |= vcl;
    }
    units
}

/// Encodes a test pattern with x265 (no B-frames, a keyframe every 15 frames, a delimiter before every
/// access unit); `None` when this ffmpeg has no libx265.
fn x265_clip(dir: &Path, width: u32, height: u32, frames: u32) -> Option<Vec<u8>> {
    let encoders = run(Command::new("ffmpeg").args(["-hide_banner", "-encoders"]));
    if !encoders.contains("libx265") {
        assert!(!ci(), "ffmpeg with libx265 is required when CI=true");
        eprintln!("skipping: this ffmpeg has no libx265");
        return None;
    }
    let path = dir.join(format!("{width}x{height}.hevc"));
    run(Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={width}x{height}:rate=15"))
        .args(["-frames:v", &frames.to_string(), "-pix_fmt", "yuv420p", "-c:v", "libx265"])
        .args(["-x265-params", "log-level=error:keyint=15:min-keyint=15:bframes=0:aud=1"])
        .args(["-f", "hevc"])
        .arg(&path));
    Some(std::fs::read(path).unwrap())
}

#[test]
fn h265_clip_plays_from_fragments() {
    if !have("ffprobe") || !have("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (width, height) in [(320, 240), (330, 250)] {
        let Some(clip) = x265_clip(dir.path(), width, height, 30) else { return };
        let params = StreamParams {
            codec: Codec::H265,
            width,
            height,
            vps: Some(first_unit(&clip, |n| n.h265_type() == h265_nal_type::VPS)),
            sps: first_unit(&clip, |n| n.h265_type() == h265_nal_type::SPS),
            pps: first_unit(&clip, |n| n.h265_type() == h265_nal_type::PPS),
        };
        let sps = video::parse_h265_sps(&params.sps).unwrap();
        assert_eq!((sps.width, sps.height), (width, height), "conformance window applied");
        assert_eq!((sps.chroma_format_idc, sps.bit_depth_luma, sps.bit_depth_chroma), (1, 8, 8));
        let frames = h265_access_units(&clip);
        assert_eq!(frames.len(), 30);
        let path = dir.path().join(format!("{width}x{height}.mp4"));
        mux(&path, &params, &frames, 0);
        let (summary, profile, level) = probe(&path);
        assert_eq!(summary, format!("hevc,{width},{height},30"));
        decodes_cleanly(&path);
        let expected: Vec<(u64, bool)> = (0..30).map(|i| (i * TICKS_PER_FRAME, i % 15 == 0)).collect();
        assert_eq!(packets(&path), expected);

        // Main profile (1), which x265 marks compatible with Main and Main 10 (flags 1 and 2, 0x6
        // once bit-reversed), Main tier, the level ffprobe reports, and progressive + frame-only
        // constraint flags (0x90).
        assert_eq!(profile, "Main");
        assert_eq!(sps.general_level_idc.to_string(), level);
        assert_eq!(fmp4::codecs_string(&params).unwrap(), format!("hvc1.1.6.L{level}.90"));
    }
}

/// Chromium's Media Source Extensions, the way the web UI plays live video: the browser must accept
/// the codecs string, buffer the init segment and fragments, and play (its `currentTime` passing 2 s).
#[test]
fn chromium_plays_the_fragments_through_media_source() {
    if Command::new("chromium").arg("--version").output().is_err() {
        assert!(!ci(), "chromium is required when CI=true");
        eprintln!("skipping: chromium not installed");
        return;
    }
    use base64::Engine as _;
    let params = video::clip_params(video::SAMPLE_480P).unwrap();
    let frames: Vec<(Vec<u8>, bool)> =
        (0..3).flat_map(|_| video::frames(video::SAMPLE_480P)).map(|f| (f.to_annexb(), f.keyframe)).collect();
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("live.mp4");
    mux(&mp4, &params, &frames, 90_000);
    let data = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&mp4).unwrap());
    let mime = format!("video/mp4; codecs=\"{}\"", fmp4::codecs_string(&params).unwrap());
    // The result goes into the page, which --dump-dom prints once the page is idle.
    let page = format!(
        r#"<html><body><video id="v" muted></video><pre id="out">pending</pre><script>
const out = document.getElementById('out'), video = document.getElementById('v');
const say = text => {{ if (out.textContent === 'pending') out.textContent = text; }};
const type = '{mime}';
if (!MediaSource.isTypeSupported(type)) say('unsupported ' + type);
const bytes = Uint8Array.from(atob('{data}'), c => c.charCodeAt(0));
const source = new MediaSource();
video.src = URL.createObjectURL(source);
video.addEventListener('error', () => say('video error ' + video.error.message));
video.addEventListener('timeupdate', () => {{
  if (video.currentTime >= 2) say('played ' + video.videoWidth + 'x' + video.videoHeight);
}});
source.addEventListener('sourceopen', () => {{
  const buffer = source.addSourceBuffer(type);
  buffer.addEventListener('error', () => say('append error'));
  buffer.addEventListener('updateend', () => video.play().catch(e => say('play ' + e)));
  buffer.appendBuffer(bytes);
}});
</script></body></html>"#
    );
    let html = dir.path().join("mse.html");
    std::fs::write(&html, page).unwrap();
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        // Nothing leaves the machine: no host name resolves, no background services.
        .args(["--host-resolver-rules=MAP * ~NOTFOUND", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--no-proxy-server"])
        .args(["--autoplay-policy=no-user-gesture-required", "--virtual-time-budget=30000"])
        .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let result = dom.split("<pre id=\"out\">").nth(1).and_then(|s| s.split('<').next()).unwrap_or("");
    assert_eq!(result, "played 640x480", "chromium: {}", String::from_utf8_lossy(&out.stderr));
}
