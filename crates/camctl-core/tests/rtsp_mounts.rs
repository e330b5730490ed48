//! The RTSP server with several mounted live feeds, over real sockets and read by real programs:
//! ffprobe sees each path at its size over TCP and UDP, ffmpeg decodes H.264 and H.265 without error,
//! several viewers at once; Basic authentication; demand while a viewer plays; the end of a feed ends
//! its viewers; status codes; sender reports carrying the capture time; hostile input.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use camctl_core::live::{Codec, Frame, LiveFeed};
use camctl_core::rtsp::{Mounts, RtspAuth, RtspConfig, RtspServer};
use camctl_core::video::{self, SAMPLE_480P, SAMPLE_1080P, SAMPLE_FPS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Whether `program` can be run; a missing one fails the test under `CI=true` and skips it elsewhere.
fn have(program: &str) -> bool {
    let found =
        Command::new(program).arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !found {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{program} is required when CI=true");
        eprintln!("skipping: {program} is not installed");
    }
    found
}

/// Runs a program to completion on a blocking thread, bounded to 60 s by `timeout(1)`.
async fn run(program: &str, args: &[&str]) -> std::process::Output {
    let (program, args): (String, Vec<String>) =
        (program.into(), args.iter().map(|a| a.to_string()).collect());
    tokio::task::spawn_blocking(move || {
        Command::new("timeout").arg("60").arg(&program).args(&args).output().expect("running the program")
    })
    .await
    .unwrap()
}

/// 90 kHz ticks per frame of the sample clips.
const TICKS: u64 = 90_000 / SAMPLE_FPS as u64;

/// The wall clock the publishers pretend their camera had at pts 0: captured = EPOCH + pts.
fn capture_epoch() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

fn captured_at(pts: u64) -> SystemTime {
    capture_epoch() + Duration::from_nanos(pts * 1_000_000_000 / 90_000)
}

/// Access units of an Annex-B clip with their keyframe flags.
type Clip = Vec<(Vec<u8>, bool)>;

fn h264_clip(annexb: &[u8]) -> Clip {
    video::frames(annexb).map(|f| (f.to_annexb(), f.keyframe)).collect()
}

/// Makes the feed available and publishes `clip` into it, looped and paced in real time, until the
/// task is aborted.
fn publish(feed: &LiveFeed, codec: Codec, clip: Clip) -> tokio::task::JoinHandle<()> {
    feed.set_available(true);
    let feed = feed.clone();
    tokio::spawn(async move {
        let mut clock = tokio::time::interval(Duration::from_secs(1) / SAMPLE_FPS);
        for n in 0u64.. {
            clock.tick().await;
            let (data, keyframe) = &clip[(n % clip.len() as u64) as usize];
            let pts = n * TICKS;
            feed.publish(Frame {
                codec,
                data: data.clone(),
                keyframe: *keyframe,
                pts,
                captured: captured_at(pts),
            });
        }
    })
}

/// A server on 127.0.0.1 with `/big` (1080p) and `/small` (480p), both streaming.
struct Fixture {
    server_addr: String,
    big: LiveFeed,
    small: LiveFeed,
    mounts: Mounts,
    _tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Fixture {
    async fn new(config: RtspConfig) -> Fixture {
        let mounts = Mounts::new();
        let (big, small) = (LiveFeed::new(30), LiveFeed::new(30));
        mounts.insert("/big", big.clone());
        mounts.insert("/small", small.clone());
        let server =
            RtspServer::bind_mounts(([127, 0, 0, 1], 0).into(), mounts.clone(), config).await.unwrap();
        let server_addr = server.local_addr().to_string();
        let tasks = vec![
            publish(&big, Codec::H264, h264_clip(SAMPLE_1080P)),
            publish(&small, Codec::H264, h264_clip(SAMPLE_480P)),
            tokio::spawn(server.serve_until(std::future::pending())),
        ];
        Fixture { server_addr, big, small, mounts, _tasks: tasks }
    }

    fn url(&self, path: &str) -> String {
        format!("rtsp://{}{path}", self.server_addr)
    }
}

/// `codec_name,width,height` of the first video stream ffprobe finds at `url`.
async fn probe(url: &str, transport: &str) -> Result<String, String> {
    let args = ["-v", "error", "-rtsp_transport", transport, "-timeout", "20000000"];
    let mut args = args.to_vec();
    args.extend([
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=codec_name,width,height",
        "-of",
        "csv=p=0",
        url,
    ]);
    let out = run("ffprobe", &args).await;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// ffmpeg decodes `frames` frames of `url`: the number of frames decoded and what it reported as errors.
async fn decode(url: &str, transport: &str, frames: u32) -> (usize, String) {
    let frames = frames.to_string();
    let args = ["-v", "error", "-rtsp_transport", transport, "-timeout", "20000000", "-i", url];
    let mut args = args.to_vec();
    // framecrc prints one line per decoded frame.
    args.extend(["-frames:v", &frames, "-f", "framecrc", "-"]);
    let out = run("ffmpeg", &args).await;
    assert!(out.status.success(), "ffmpeg failed: {}", String::from_utf8_lossy(&out.stderr));
    let decoded = String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.starts_with('#')).count();
    (decoded, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffprobe_reads_each_path_at_its_size_over_tcp_and_udp() {
    if !have("ffprobe") {
        return;
    }
    let fx = Fixture::new(RtspConfig::default()).await;
    for transport in ["tcp", "udp"] {
        assert_eq!(probe(&fx.url("/big"), transport).await.unwrap(), "h264,1920,1080", "{transport}");
        assert_eq!(probe(&fx.url("/small"), transport).await.unwrap(), "h264,640,480", "{transport}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_viewers_at_once_decode_every_frame_without_error() {
    if !have("ffmpeg") {
        return;
    }
    let fx = Fixture::new(RtspConfig::default()).await;
    let (big, small) = (fx.url("/big"), fx.url("/small"));
    let viewers = [(&big, "tcp"), (&big, "tcp"), (&small, "tcp"), (&small, "udp"), (&big, "udp")].map(
        |(url, transport)| {
            let url = url.clone();
            tokio::spawn(async move { decode(&url, transport, 30).await })
        },
    );
    let mut results = Vec::new();
    for viewer in viewers {
        results.push(viewer.await.unwrap());
    }
    for (i, (decoded, errors)) in results.into_iter().enumerate() {
        assert_eq!(decoded, 30, "viewer {i}");
        // Viewers start at a keyframe: nothing fails to decode (over TCP nothing is lost either).
        if i < 3 {
            assert_eq!(errors, "", "viewer {i}");
        }
    }
}

/// H.265 `nal_unit_type`.
fn h265_type(nal: &[u8]) -> u8 {
    (nal[0] >> 1) & 0x3f
}

/// The access units of an H.265 Annex-B stream (parameter sets, delimiters and prefix SEI open a new
/// unit, as does a slice with `first_slice_segment_in_pic_flag`), with their keyframe flags (IRAP).
fn h265_clip(annexb: &[u8]) -> Clip {
    let mut units: Clip = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let (mut has_picture, mut keyframe) = (false, false);
    for nal in video::nal_units(annexb).map(|n| n.bytes()).filter(|n| n.len() > 2) {
        let t = h265_type(nal);
        let vcl = t < 32;
        let starts_unit = matches!(t, 32..=35 | 39) || (vcl && nal[2] & 0x80 != 0);
        if has_picture && starts_unit {
            units.push((std::mem::take(&mut current), keyframe));
            (has_picture, keyframe) = (false, false);
        }
        current.extend_from_slice(&[0, 0, 0, 1]);
        current.extend_from_slice(nal);
        has_picture |= vcl;
        keyframe |= (16..=21).contains(&t);
    }
    if has_picture {
        units.push((current, keyframe));
    }
    units
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h265_feed_is_served_per_rfc_7798() {
    if !have("ffmpeg") || !have("ffprobe") {
        return;
    }
    let encoders = run("ffmpeg", &["-hide_banner", "-encoders"]).await;
    if !String::from_utf8_lossy(&encoders.stdout).contains("libx265") {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "ffmpeg without libx265 under CI=true");
        eprintln!("skipping: this ffmpeg has no libx265");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clip.h265");
    let lavfi = format!("testsrc=size=320x240:rate={SAMPLE_FPS}");
    let encoded = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            &lavfi,
            "-frames:v",
            "30",
            "-c:v",
            "libx265",
            // Parameter sets with every keyframe, no B-frames (so decode order is presentation order).
            "-x265-params",
            "log-level=error:keyint=15:bframes=0:repeat-headers=1",
            "-f",
            "hevc",
            file.to_str().unwrap(),
        ],
    )
    .await;
    assert!(encoded.status.success(), "{}", String::from_utf8_lossy(&encoded.stderr));
    let clip = h265_clip(&std::fs::read(&file).unwrap());
    assert_eq!(clip.len(), 30);
    assert!(clip[0].1 && clip[15].1 && !clip[1].1);

    let mounts = Mounts::new();
    let feed = LiveFeed::new(30);
    mounts.insert("/hevc", feed.clone());
    let server =
        RtspServer::bind_mounts(([127, 0, 0, 1], 0).into(), mounts, RtspConfig::default()).await.unwrap();
    let url = server.url_for("/hevc");
    let _server = tokio::spawn(server.serve_until(std::future::pending()));
    let _publisher = publish(&feed, Codec::H265, clip);
    assert_eq!(feed.wait_params(Duration::from_secs(20)).await.unwrap().codec, Codec::H265);
    for transport in ["tcp", "udp"] {
        assert_eq!(probe(&url, transport).await.unwrap(), "hevc,320,240", "{transport}");
    }
    // 320x240 I frames fit no single packet: FU fragments are reassembled without error.
    let (decoded, errors) = decode(&url, "tcp", 20).await;
    assert_eq!((decoded, errors.as_str()), (20, ""));
}

/// Sends raw bytes on a fresh connection; returns what came back until the server closed it, the
/// first response head arrived (`until_head`), or 20 s passed; and whether it was closed.
async fn raw_exchange(addr: &str, request: &[u8], until_head: bool) -> (String, bool) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let closed = loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => {
                got.extend_from_slice(&buf[..n]);
                if until_head && got.windows(4).any(|w| w == b"\r\n\r\n") {
                    break false;
                }
            }
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&got).into_owned(), closed)
}

fn describe(url: &str, extra: &str) -> String {
    format!("DESCRIBE {url} RTSP/1.0\r\nCSeq: 7\r\nAccept: application/sdp\r\n{extra}\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_authentication_guards_every_stream() {
    if !have("ffprobe") {
        return;
    }
    let config =
        RtspConfig { auth: Some(RtspAuth::user_password("viewer", "s3cret")), ..RtspConfig::default() };
    let fx = Fixture::new(config).await;
    let (reply, _) = raw_exchange(&fx.server_addr, describe(&fx.url("/small"), "").as_bytes(), true).await;
    assert!(reply.starts_with("RTSP/1.0 401 "), "{reply}");
    assert!(reply.contains("WWW-Authenticate: Basic realm=\"camctl\"\r\n"), "{reply}");
    assert!(reply.contains("CSeq: 7\r\n"), "{reply}");
    assert!(!reply.contains("sprop"), "{reply}");
    // Wrong credentials by hand: 401 too.
    let wrong = "Authorization: Basic dmlld2VyOnMzY3JldHg=\r\n"; // viewer:s3cretx
    let (reply, _) = raw_exchange(&fx.server_addr, describe(&fx.url("/small"), wrong).as_bytes(), true).await;
    assert!(reply.starts_with("RTSP/1.0 401 "), "{reply}");
    // ffprobe sends the credentials of the URL after the challenge.
    let addr = &fx.server_addr;
    assert_eq!(probe(&format!("rtsp://viewer:s3cret@{addr}/small"), "tcp").await.unwrap(), "h264,640,480");
    let refused = probe(&format!("rtsp://viewer:guess@{addr}/small"), "tcp").await;
    assert!(refused.as_ref().is_err_and(|e| e.contains("401")), "{refused:?}");
    assert!(probe(&format!("rtsp://{addr}/big"), "tcp").await.is_err());
}

/// ffmpeg playing `url` with its H.264 copied to stdout, and the first bytes of it (so it plays).
async fn playing_ffmpeg(url: &str, transport: &str, frames: Option<u32>) -> tokio::process::Child {
    let mut command = tokio::process::Command::new("ffmpeg");
    command.args(["-v", "error", "-rtsp_transport", transport, "-timeout", "20000000", "-i", url]);
    if let Some(frames) = frames {
        command.args(["-frames:v", &frames.to_string()]);
    }
    command.args(["-c", "copy", "-f", "h264", "-"]);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.as_mut().unwrap();
    let mut first = [0u8; 1];
    let got = tokio::time::timeout(Duration::from_secs(30), stdout.read_exact(&mut first)).await;
    assert!(matches!(got, Ok(Ok(_))), "ffmpeg did not start playing: {got:?}");
    child
}

/// Reads the child's stdout to its end and waits for it to exit (30 s at most).
async fn wait_exit(mut child: tokio::process::Child) -> std::process::ExitStatus {
    let mut stdout = child.stdout.take().unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        let mut sink = Vec::new();
        let _ = stdout.read_to_end(&mut sink).await;
        child.wait().await.unwrap()
    })
    .await;
    ended.expect("ffmpeg did not end")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playing_viewer_is_demand_until_it_leaves() {
    if !have("ffmpeg") {
        return;
    }
    let fx = Fixture::new(RtspConfig::default()).await;
    assert_eq!((fx.small.demand_count(), fx.big.demand_count()), (0, 0));
    // 45 frames: three seconds of playing.
    let viewer = playing_ffmpeg(&fx.url("/small"), "tcp", Some(45)).await;
    assert_eq!((fx.small.demand_count(), fx.big.demand_count()), (1, 0));
    assert!(wait_exit(viewer).await.success());
    tokio::time::timeout(Duration::from_secs(20), fx.small.wait_demand(false))
        .await
        .expect("demand released");
    assert_eq!(fx.small.demand_count(), 0);
}

async fn unavailability_ends_a_playing_ffmpeg(transport: &str) {
    if !have("ffmpeg") {
        return;
    }
    let fx = Fixture::new(RtspConfig::default()).await;
    let viewer = playing_ffmpeg(&fx.url("/big"), transport, None).await;
    let other = playing_ffmpeg(&fx.url("/small"), transport, None).await;
    fx.big.set_available(false);
    // The BYE (and over TCP the closed connection) ends ffmpeg, which had no frame limit.
    wait_exit(viewer).await;
    tokio::time::timeout(Duration::from_secs(20), fx.big.wait_demand(false)).await.expect("demand released");
    // The other path plays on.
    assert_eq!(fx.small.demand_count(), 1);
    drop(other);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_feed_ends_its_tcp_viewers() {
    unavailability_ends_a_playing_ffmpeg("tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_feed_ends_its_udp_viewers() {
    unavailability_ends_a_playing_ffmpeg("udp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_answers_404_503_and_415() {
    let fx = Fixture::new(RtspConfig::default()).await;
    let status = |reply: &str| reply.split("\r\n").next().unwrap_or_default().to_string();
    let ask = |path: &str| {
        let (addr, request) = (fx.server_addr.clone(), describe(&fx.url(path), ""));
        async move { raw_exchange(&addr, request.as_bytes(), true).await.0 }
    };
    let reply = ask("/nothing").await;
    assert!(status(&reply).starts_with("RTSP/1.0 404 "), "{reply}");
    let reply = ask("/bigger").await;
    assert!(status(&reply).starts_with("RTSP/1.0 404 "), "{reply}");
    // Mounted but its camera is not connected.
    let asleep = LiveFeed::new(4);
    fx.mounts.insert("/asleep", asleep.clone());
    let reply = ask("/asleep").await;
    assert!(status(&reply).starts_with("RTSP/1.0 503 "), "{reply}");
    assert_eq!(asleep.demand_count(), 0);
    // A JPEG live view is not served over RTSP.
    let jpeg = LiveFeed::new(4);
    fx.mounts.insert("/jpeg", jpeg.clone());
    jpeg.set_available(true);
    let data = camctl_core::media::sample_jpeg(64, 48, 3);
    jpeg.publish(Frame { codec: Codec::Jpeg, data, keyframe: true, pts: 0, captured: SystemTime::now() });
    let reply = ask("/jpeg").await;
    assert!(status(&reply).starts_with("RTSP/1.0 415 "), "{reply}");
    // A removed mount is gone.
    fx.mounts.remove("/small");
    let reply = ask("/small").await;
    assert!(status(&reply).starts_with("RTSP/1.0 404 "), "{reply}");
    let reply = ask("/big").await;
    assert!(status(&reply).starts_with("RTSP/1.0 200 "), "{reply}");
}

/// Reads one response head and its body (byte by byte, so nothing after it is consumed).
async fn read_response(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(s.read_u8().await.unwrap());
        assert!(head.len() < 8192);
    }
    let head = String::from_utf8(head).unwrap();
    if let Some(len) = head.lines().find_map(|l| l.strip_prefix("Content-Length: ")) {
        let mut body = vec![0; len.trim().parse().unwrap()];
        s.read_exact(&mut body).await.unwrap();
    }
    head
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_reports_pair_an_rtp_timestamp_with_its_capture_time() {
    let fx = Fixture::new(RtspConfig::default()).await;
    let mut s = TcpStream::connect(&fx.server_addr).await.unwrap();
    let base = fx.url("/small");
    let mut session = String::new();
    for (i, request) in [
        format!("DESCRIBE {base} RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
        format!("SETUP {base}/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"),
        format!("PLAY {base} RTSP/1.0\r\nCSeq: 3\r\nSession: SESSION\r\n\r\n"),
    ]
    .into_iter()
    .enumerate()
    {
        s.write_all(request.replace("SESSION", &session).as_bytes()).await.unwrap();
        let head = read_response(&mut s).await;
        assert!(head.starts_with("RTSP/1.0 200 ") && head.contains(&format!("CSeq: {}\r\n", i + 1)), "{head}");
        if let Some(line) = head.lines().find_map(|l| l.strip_prefix("Session: ")) {
            session = line.split(';').next().unwrap().to_string();
        }
    }
    assert_eq!(fx.small.demand_count(), 1);
    // RTP timestamps seen per packet, and the (rtp, ntp) pairs of the sender reports.
    let mut last_rtp_ts = None;
    let mut pairs: Vec<(u32, u64)> = Vec::new();
    let mut timestamps_after: HashSet<u32> = HashSet::new();
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        while timestamps_after.len() < 20 {
            let mut header = [0u8; 4];
            s.read_exact(&mut header).await.unwrap();
            assert_eq!(header[0], b'$');
            let mut packet = vec![0; usize::from(u16::from_be_bytes([header[2], header[3]]))];
            s.read_exact(&mut packet).await.unwrap();
            match header[1] {
                0 => {
                    let ts = u32::from_be_bytes(packet[4..8].try_into().unwrap());
                    last_rtp_ts = Some(ts);
                    if !pairs.is_empty() {
                        timestamps_after.insert(ts);
                    }
                }
                1 if packet[1] == 200 => {
                    let word = |i: usize| u32::from_be_bytes(packet[i..i + 4].try_into().unwrap());
                    let ntp = (u64::from(word(8)) << 32) | u64::from(word(12));
                    let rtp = word(16);
                    // The report names the frame just sent.
                    assert_eq!(Some(rtp), last_rtp_ts);
                    pairs.push((rtp, ntp));
                }
                _ => {}
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no sender report and 20 frames within 30 s");
    let (sr_rtp, sr_ntp) = pairs[0];
    let ntp_to_unix = |ntp: u64| {
        let secs = (ntp >> 32) - 2_208_988_800;
        let nanos = ((ntp & 0xffff_ffff) * 1_000_000_000) >> 32;
        UNIX_EPOCH + Duration::new(secs, nanos as u32)
    };
    // Every later frame's capture time follows from the report: it is one the publisher stamped,
    // i.e. capture_epoch() + a whole number of frame intervals.
    for ts in timestamps_after.iter().chain([&sr_rtp]) {
        let ticks = u64::from(ts.wrapping_sub(sr_rtp));
        let captured = ntp_to_unix(sr_ntp) + Duration::from_nanos(ticks * 1_000_000_000 / 90_000);
        let since = captured.duration_since(capture_epoch()).unwrap();
        assert!(since < Duration::from_secs(3600), "capture time {since:?} after the publisher's epoch");
        let frames = since.as_secs_f64() * f64::from(SAMPLE_FPS);
        assert!((frames - frames.round()).abs() < 1e-3, "capture time {since:?} is no frame's");
    }
}

#[tokio::test]
async fn hostile_requests_are_refused_and_closed() {
    let fx = Fixture::new(RtspConfig::default()).await;
    let (reply, closed) = raw_exchange(&fx.server_addr, b"\x16\x03\x01 hello \xff\xfe\r\n\r\n", false).await;
    assert!(reply.starts_with("RTSP/1.0 400 ") && closed, "{reply:?}");
    let mut request = b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Pad: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 64 * 1024));
    let (reply, closed) = raw_exchange(&fx.server_addr, &request, false).await;
    assert!(reply.starts_with("RTSP/1.0 413 ") && closed, "{reply:?}");
    // Wrong credentials again and again: the connection is closed.
    let config = RtspConfig { auth: Some(RtspAuth::user_password("a", "b")), ..RtspConfig::default() };
    let guarded = Fixture::new(config).await;
    let guesses = describe(&guarded.url("/big"), "Authorization: Basic YTpj\r\n").repeat(10);
    let (reply, closed) = raw_exchange(&guarded.server_addr, guesses.as_bytes(), false).await;
    assert!(closed, "{reply}");
    assert!(reply.matches("RTSP/1.0 401 ").count() < 10, "{reply}");
    // And the server still serves.
    let (reply, _) = raw_exchange(&fx.server_addr, describe(&fx.url("/big"), "").as_bytes(), true).await;
    assert!(reply.starts_with("RTSP/1.0 200 "), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_on_demand_owner_streams_exactly_while_a_viewer_wants_it() {
    if !have("ffprobe") {
        return;
    }
    let mounts = Mounts::new();
    let feed = LiveFeed::new(30);
    feed.set_available(true);
    mounts.insert("/lazy", feed.clone());
    let server =
        RtspServer::bind_mounts(([127, 0, 0, 1], 0).into(), mounts, RtspConfig::default()).await.unwrap();
    let url = server.url_for("/lazy");
    let _server = tokio::spawn(server.serve_until(std::future::pending()));
    // The owner: nothing is published until someone asks, and publishing stops when nobody wants it.
    let owner = {
        let feed = feed.clone();
        tokio::spawn(async move {
            feed.wait_demand(true).await;
            let publisher = publish(&feed, Codec::H264, h264_clip(SAMPLE_480P));
            feed.wait_demand(false).await;
            publisher.abort();
        })
    };
    assert_eq!(probe(&url, "tcp").await.unwrap(), "h264,640,480");
    tokio::time::timeout(Duration::from_secs(20), owner)
        .await
        .expect("the owner saw the demand end")
        .unwrap();
    assert_eq!(feed.demand_count(), 0);
}
