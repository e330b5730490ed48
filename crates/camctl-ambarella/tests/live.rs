//! Live view over RTSP, both roles, over real sockets: ffmpeg/ffprobe read the emulator's stream over
//! TCP and UDP; the client's Annex-B output is decoded by ffprobe; the preview is off afterwards; hostile
//! RTSP peers stay bounded.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use camctl_ambarella::client::{Client, ClientConfig};
use camctl_ambarella::live::{LiveEnd, LiveOptions, RtpTransport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;

use common::{Emu, emulator as yi, emulator_with as yi_with};

async fn client(yi: &Emu) -> Client {
    Client::connect(&yi.addr, &yi.data_addr, ClientConfig::default()).await.unwrap()
}

/// Runs a program to completion (blocking, on a blocking thread), bounded by `timeout(1)`.
async fn run(program: &str, args: Vec<String>) -> std::process::Output {
    let program = program.to_string();
    tokio::task::spawn_blocking(move || {
        Command::new("timeout").arg("60").arg(&program).args(&args).output().expect("running the program")
    })
    .await
    .unwrap()
}

/// `codec_name,width,height,nb_read_frames` of the first video stream of a file, by ffprobe.
async fn probe_file(path: &Path) -> (String, u32, u32, u64) {
    let out = run(
        "ffprobe",
        [
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames",
            "-of",
            "csv=p=0",
            path.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec(),
    )
    .await;
    assert!(out.status.success(), "ffprobe failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let fields: Vec<&str> = text.trim().split(',').collect();
    assert_eq!(fields.len(), 4, "ffprobe said {text:?}");
    (
        fields[0].to_string(),
        fields[1].parse().unwrap(),
        fields[2].parse().unwrap(),
        fields[3].parse().unwrap(),
    )
}

/// ffmpeg copies `frames` frames of the RTSP stream into an H.264 file.
async fn ffmpeg_copy(url: &str, transport: &str, frames: u32, out: &Path) {
    let args: Vec<String> = [
        "-v",
        "error",
        "-rtsp_transport",
        transport,
        "-timeout",
        "20000000",
        "-i",
        url,
        "-frames:v",
        &frames.to_string(),
        "-c",
        "copy",
        "-f",
        "h264",
        "-y",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    let result = run("ffmpeg", args).await;
    assert!(result.status.success(), "ffmpeg failed: {}", String::from_utf8_lossy(&result.stderr));
}

async fn ffmpeg_reads_the_stream(transport: &str) {
    let yi = yi().await;
    let mut client = client(&yi).await;
    let url = client.start_preview().await.unwrap();
    assert_eq!(url, format!("rtsp://{}/live", yi.rtsp_addr));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("live.h264");
    ffmpeg_copy(&url, transport, 20, &file).await;
    let (codec, width, height, frames) = probe_file(&file).await;
    assert_eq!((codec.as_str(), width, height), ("h264", 640, 480));
    assert!(frames >= 15, "only {frames} frames");
    client.stop_preview().await.unwrap();
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_reads_the_live_view_over_tcp() {
    ffmpeg_reads_the_stream("tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_reads_the_live_view_over_udp() {
    ffmpeg_reads_the_stream("udp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffprobe_sees_h264_at_the_preview_size() {
    let yi = yi().await;
    let mut client = client(&yi).await;
    let url = client.start_preview().await.unwrap();
    let args = ["-v", "error", "-rtsp_transport", "tcp", "-show_entries", "stream=codec_name,width,height"];
    let mut args: Vec<String> = args.map(String::from).to_vec();
    args.extend(["-of".into(), "csv=p=0".into(), url]);
    let out = run("ffprobe", args).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "h264,640,480");
    client.close().await.unwrap();
}

async fn client_records(transport: RtpTransport) {
    let yi = yi().await;
    let mut client = client(&yi).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("yi.h264");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    let options = LiveOptions { frames: Some(10), transport, ..LiveOptions::default() };
    let report = client.live(&mut out, &options, std::future::pending()).await.unwrap();
    drop(out);
    assert_eq!(report.end, LiveEnd::Frames);
    assert_eq!(report.frames, 10);
    assert_eq!(report.dimensions, Some((640, 480)));
    assert_eq!(report.bytes, std::fs::metadata(&file).unwrap().len());
    let (codec, width, height, frames) = probe_file(&file).await;
    assert_eq!((codec.as_str(), width, height, frames), ("h264", 640, 480, 10));
    // The client stopped the preview: the camera streams no more.
    assert!(!yi.live.is_on());
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_writes_annexb_that_ffprobe_decodes_over_tcp() {
    client_records(RtpTransport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_writes_annexb_that_ffprobe_decodes_over_udp() {
    client_records(RtpTransport::Udp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_stops_on_the_stop_future_and_turns_the_preview_off() {
    let yi = yi().await;
    let mut client = client(&yi).await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // The sink signals the stop after the third frame: the stop future ends the recording.
    struct Signal {
        writes: u32,
        tx: Option<tokio::sync::oneshot::Sender<()>>,
    }
    impl std::io::Write for Signal {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.writes += 1;
            if self.writes == 3
                && let Some(tx) = self.tx.take()
            {
                let _ = tx.send(());
            }
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Signal { writes: 0, tx: Some(tx) };
    let stop = async {
        let _ = rx.await;
    };
    let report = client.live(sink, &LiveOptions::default(), stop).await.unwrap();
    assert_eq!(report.end, LiveEnd::Stopped);
    assert!(report.frames >= 3);
    assert!(!yi.live.is_on());
    client.close().await.unwrap();
}

/// Sends raw bytes on a fresh RTSP connection and returns everything read until the server closes it
/// (or 20 s pass).
async fn raw_exchange(addr: &str, request: &[u8], keep_open: bool) -> (String, bool) {
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
                if keep_open && got.windows(4).any(|w| w == b"\r\n\r\n") {
                    break false;
                }
            }
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&got).into_owned(), closed)
}

#[tokio::test]
async fn describe_while_the_preview_is_off_is_503_and_200_once_on() {
    let yi = yi().await;
    let describe = format!(
        "DESCRIBE rtsp://{}/live RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n",
        yi.rtsp_addr
    );
    let (reply, _) = raw_exchange(&yi.rtsp_addr, describe.as_bytes(), true).await;
    assert!(reply.starts_with("RTSP/1.0 503 "), "{reply}");
    assert!(reply.contains("CSeq: 2\r\n"), "{reply}");

    let mut client = client(&yi).await;
    client.start_preview().await.unwrap();
    let (reply, _) = raw_exchange(&yi.rtsp_addr, describe.as_bytes(), false).await;
    assert!(reply.starts_with("RTSP/1.0 200 "), "{reply}");
    assert!(reply.contains("packetization-mode=1"), "{reply}");
    assert!(reply.contains("sprop-parameter-sets="), "{reply}");
    client.stop_preview().await.unwrap();
    let (reply, _) = raw_exchange(&yi.rtsp_addr, describe.as_bytes(), true).await;
    assert!(reply.starts_with("RTSP/1.0 503 "), "{reply}");
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_polite_goodbye_keeps_the_preview_and_a_lost_session_ends_it() {
    let yi = yi().await;
    // `camctl preview start` then a player: 258 leaves the viewfinder on.
    let mut first = client(&yi).await;
    first.start_preview().await.unwrap();
    first.close().await.unwrap();
    assert!(yi.live.is_on());
    // A session whose connection just goes away takes the viewfinder with it.
    let mut second = client(&yi).await;
    // The new session (257) stopped it; start it again, then vanish without 258.
    assert!(!yi.live.is_on());
    second.start_preview().await.unwrap();
    drop(second);
    tokio::time::timeout(Duration::from_secs(20), yi.live.wait_until(false)).await.expect("preview off");
}

/// An RTSP viewer speaking the protocol by hand: DESCRIBE, SETUP (interleaved), PLAY.
async fn raw_viewer(rtsp_addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(rtsp_addr).await.unwrap();
    let base = format!("rtsp://{rtsp_addr}/live");
    let mut session = String::new();
    for (cseq, request) in [
        format!("DESCRIBE {base} RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
        format!("SETUP {base}/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"),
        format!("PLAY {base} RTSP/1.0\r\nCSeq: 3\r\nSession: SESSION\r\n\r\n"),
    ]
    .into_iter()
    .enumerate()
    {
        s.write_all(request.replace("SESSION", &session).as_bytes()).await.unwrap();
        let head = read_head(&mut s).await;
        assert!(head.starts_with("RTSP/1.0 200 "), "{head}");
        assert!(head.contains(&format!("CSeq: {}\r\n", cseq + 1)), "{head}");
        if let Some(line) = head.lines().find(|l| l.starts_with("Session: ")) {
            session = line["Session: ".len()..].split(';').next().unwrap().to_string();
        }
        if let Some(len) = head.lines().find_map(|l| l.strip_prefix("Content-Length: ")) {
            let mut body = vec![0; len.trim().parse().unwrap()];
            s.read_exact(&mut body).await.unwrap();
        }
    }
    s
}

/// Reads one response head byte by byte (so nothing after it is consumed).
async fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(s.read_u8().await.unwrap());
        assert!(head.len() < 8192);
    }
    String::from_utf8(head).unwrap()
}

/// The next interleaved packet: (channel, payload).
async fn interleaved(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut header = [0u8; 4];
    s.read_exact(&mut header).await.ok()?;
    assert_eq!(header[0], b'$');
    let mut payload = vec![0; usize::from(u16::from_be_bytes([header[2], header[3]]))];
    s.read_exact(&mut payload).await.ok()?;
    Some((header[1], payload))
}

#[tokio::test]
async fn stopping_the_preview_sends_bye_and_closes_interleaved_viewers() {
    let yi = yi().await;
    let mut client = client(&yi).await;
    client.start_preview().await.unwrap();
    let mut viewer = raw_viewer(&yi.rtsp_addr).await;
    // RTP on channel 0: version 2, payload type 96.
    let (channel, first) = interleaved(&mut viewer).await.unwrap();
    assert_eq!(channel, 0);
    assert_eq!((first[0] >> 6, first[1] & 0x7f), (2, 96));
    client.stop_preview().await.unwrap();
    let mut last_rtcp = None;
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some((channel, packet)) = interleaved(&mut viewer).await {
            if channel == 1 {
                last_rtcp = Some(packet);
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the viewer's connection was not closed");
    // The last thing on the RTCP channel is a BYE (packet type 203).
    assert_eq!(last_rtcp.map(|p| p[1]), Some(203));
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_viewer_does_not_hold_up_another() {
    let yi = yi().await;
    let mut client = client(&yi).await;
    let url = client.start_preview().await.unwrap();
    // Plays and never reads: its socket buffers fill and the server drops its frames.
    let _stalled = raw_viewer(&yi.rtsp_addr).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("other.h264");
    ffmpeg_copy(&url, "tcp", 45, &file).await;
    let (_, _, _, frames) = probe_file(&file).await;
    assert!(frames >= 40, "{frames}");
    client.close().await.unwrap();
}

#[tokio::test]
async fn garbage_gets_400_and_a_closed_connection() {
    let yi = yi().await;
    let (reply, closed) = raw_exchange(&yi.rtsp_addr, b"\x16\x03\x01 hello \xff\xfe\r\n\r\n", false).await;
    assert!(reply.starts_with("RTSP/1.0 400 "), "{reply:?}");
    assert!(closed);
    // A request without CSeq is answered 400 too, and the connection stays usable.
    let (reply, _) = raw_exchange(&yi.rtsp_addr, b"OPTIONS * RTSP/1.0\r\n\r\n", true).await;
    assert!(reply.starts_with("RTSP/1.0 400 "), "{reply:?}");
}

#[tokio::test]
async fn an_oversized_request_is_refused_and_closed() {
    let yi = yi().await;
    let mut request = b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Pad: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 64 * 1024));
    let (reply, closed) = raw_exchange(&yi.rtsp_addr, &request, false).await;
    assert!(reply.starts_with("RTSP/1.0 413 "), "{reply:?}");
    assert!(closed);
}

#[tokio::test]
async fn idle_connections_are_capped_and_closed() {
    let yi = yi_with(|c| {
        c.max_connections = 4;
        c.idle_timeout = Duration::from_secs(1);
    })
    .await;
    // Each says half a request and then nothing.
    let mut idle = Vec::new();
    for _ in 0..12 {
        let mut s = TcpStream::connect(&yi.rtsp_addr).await.unwrap();
        s.write_all(b"OPTIONS * RTSP/1.0\r\n").await.unwrap();
        idle.push(s);
    }
    // Every one of them is closed by the server: refused over the cap, or after the idle timeout.
    for mut s in idle {
        let mut buf = [0u8; 64];
        let end = tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf))
            .await
            .expect("closed by the server");
        assert!(matches!(end, Ok(0) | Err(_)), "{end:?}");
    }
    // And a real client is served afterwards.
    let (reply, _) = raw_exchange(&yi.rtsp_addr, b"OPTIONS * RTSP/1.0\r\nCSeq: 9\r\n\r\n", true).await;
    assert!(reply.starts_with("RTSP/1.0 200 "), "{reply}");
    assert!(reply.contains("GET_PARAMETER"), "{reply}");
}

#[tokio::test]
async fn session_reply_names_the_rtsp_port() {
    let yi = yi().await;
    let client = client(&yi).await;
    assert_eq!(client.rtsp_url(), format!("rtsp://{}/live", yi.rtsp_addr));
}

/// A standalone server with a short idle timeout: players keep their sessions alive with RTSP
/// keepalives (the timeout is announced in SETUP), so a viewing longer than the timeout is not cut.
async fn outlives_the_idle_timeout(transport: &str) {
    use camctl_core::rtsp::{LiveSource, RtspConfig, RtspServer};
    let source =
        LiveSource::from_clip(camctl_core::video::SAMPLE_360P, camctl_core::video::SAMPLE_FPS, 30).unwrap();
    source.start();
    let config = RtspConfig { idle_timeout: Duration::from_secs(2), ..RtspConfig::default() };
    let server = RtspServer::bind(([127, 0, 0, 1], 0).into(), source, config).await.unwrap();
    let url = server.url();
    let _task = tokio::spawn(server.serve_until(std::future::pending()));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.h264");
    // 75 frames at 15 fps: 5 s, more than twice the idle timeout.
    ffmpeg_copy(&url, transport, 75, &file).await;
    let (codec, width, height, frames) = probe_file(&file).await;
    assert_eq!((codec.as_str(), width, height, frames), ("h264", 640, 360, 75));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_viewers_outlive_the_idle_timeout() {
    outlives_the_idle_timeout("tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_viewers_outlive_the_idle_timeout() {
    outlives_the_idle_timeout("udp").await;
}

#[tokio::test]
async fn requests_out_of_order_or_unsupported_get_their_status_codes() {
    let yi = yi().await;
    let mut client = client(&yi).await;
    client.start_preview().await.unwrap();
    let base = format!("rtsp://{}/live", yi.rtsp_addr);
    let status = |reply: String| reply.split("\r\n").next().unwrap_or_default().to_string();
    let ask = |request: String| {
        let addr = yi.rtsp_addr.clone();
        async move { raw_exchange(&addr, request.as_bytes(), true).await.0 }
    };
    // PLAY before SETUP.
    let reply = ask(format!("PLAY {base} RTSP/1.0\r\nCSeq: 1\r\n\r\n")).await;
    assert!(status(reply.clone()).starts_with("RTSP/1.0 455 "), "{reply}");
    // Multicast only: nothing acceptable.
    let reply = ask(format!(
        "SETUP {base}/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP;multicast;port=5000-5001\r\n\r\n"
    ))
    .await;
    assert!(status(reply.clone()).starts_with("RTSP/1.0 461 "), "{reply}");
    // Another path.
    let reply = ask(format!("DESCRIBE rtsp://{}/other RTSP/1.0\r\nCSeq: 3\r\n\r\n", yi.rtsp_addr)).await;
    assert!(status(reply.clone()).starts_with("RTSP/1.0 404 "), "{reply}");
    // A session that is not this connection's.
    let reply = ask(format!("GET_PARAMETER {base} RTSP/1.0\r\nCSeq: 4\r\nSession: 1234\r\n\r\n")).await;
    assert!(status(reply.clone()).starts_with("RTSP/1.0 454 "), "{reply}");
    // RTSP 2.0 and methods this server does not have.
    let reply = ask(format!("OPTIONS {base} RTSP/2.0\r\nCSeq: 5\r\n\r\n")).await;
    assert!(status(reply.clone()).starts_with("RTSP/1.0 505 "), "{reply}");
    let reply = ask(format!("RECORD {base} RTSP/1.0\r\nCSeq: 6\r\n\r\n")).await;
    assert!(status(reply.clone()).starts_with("RTSP/1.0 405 "), "{reply}");
    assert!(reply.contains("CSeq: 6\r\n"), "{reply}");
    client.close().await.unwrap();
}

/// A one-connection TCP proxy in front of an RTSP server that drops every `nth` RTP packet of
/// interleaved channel 0 (a lossy link under TCP framing); returns its address.
async fn lossy_proxy(upstream: String, nth: u64) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.unwrap();
        let server = TcpStream::connect(&upstream).await.unwrap();
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        tokio::spawn(async move { tokio::io::copy(&mut client_read, &mut server_write).await });
        let (mut buf, mut chunk, mut rtp_packets) = (Vec::new(), vec![0u8; 65536], 0u64);
        loop {
            let n = match server_read.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            loop {
                let whole = if buf.first() == Some(&b'$') {
                    match buf.get(2..4) {
                        Some(len) => 4 + usize::from(u16::from_be_bytes([len[0], len[1]])),
                        None => break,
                    }
                } else {
                    let Some(head) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { break };
                    let text = String::from_utf8_lossy(&buf[..head]).to_string();
                    let body = text
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                    head + 4 + body
                };
                if buf.len() < whole {
                    break;
                }
                let message: Vec<u8> = buf.drain(..whole).collect();
                if message[0] == b'$' && message[1] == 0 {
                    rtp_packets += 1;
                    if rtp_packets % nth == 0 {
                        continue;
                    }
                }
                if client_write.write_all(&message).await.is_err() {
                    return;
                }
            }
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_packets_are_gaps_and_no_damaged_frame_is_written() {
    use camctl_core::rtsp::{LiveSource, RtspConfig, RtspServer};
    let source =
        LiveSource::from_clip(camctl_core::video::SAMPLE_480P, camctl_core::video::SAMPLE_FPS, 30).unwrap();
    source.start();
    let server = RtspServer::bind(([127, 0, 0, 1], 0).into(), source, RtspConfig::default()).await.unwrap();
    let upstream = server.local_addr().to_string();
    let _task = tokio::spawn(server.serve_until(std::future::pending()));
    let proxy = lossy_proxy(upstream, 50).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lossy.h264");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    let options = LiveOptions { frames: Some(30), ..LiveOptions::default() };
    let url = format!("rtsp://{proxy}/live");
    let report =
        camctl_ambarella::live::record(&url, &mut out, &options, std::future::pending()).await.unwrap();
    drop(out);
    assert_eq!(report.frames, 30);
    assert!(report.gaps >= 1, "{report:?}");
    assert!(report.skipped >= 1, "frames after a loss wait for a keyframe: {report:?}");
    // Every frame written decodes: ffmpeg reports no error for the whole file.
    let decoded = run(
        "ffmpeg",
        ["-v", "error", "-i", file.to_str().unwrap(), "-f", "null", "-"].map(String::from).to_vec(),
    )
    .await;
    assert!(decoded.status.success());
    assert_eq!(String::from_utf8_lossy(&decoded.stderr), "", "decode errors");
    let (_, _, _, frames) = probe_file(&file).await;
    assert_eq!(frames, 30);
}
