//! Hostile peers over real UDP on 127.0.0.1 (issue 10): a fake camera against the real client, and fake
//! clients against the real emulator. Every test asserts a bound through the process's own accounting
//! (queue counters), a clear error, or that a normal client still gets in. No sleeps synchronise
//! anything: the fake camera paces itself on the client's ACKs, and deadlines are generous overall
//! limits only.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use camctl_wyze::transport::ClientTransport;
use camctl_wyze::tutk::av::{AvEvent, encode_login_response, packetize};
use camctl_wyze::tutk::client::{FrameStats, MAX_QUEUED_FRAME_BYTES};
use camctl_wyze::tutk::framing::{Framing, Side};
use camctl_wyze::tutk::link::Link;
use camctl_wyze::tutk::old::OldPacket;
use camctl_wyze::tutk::transcode::TailSwap;
use camctl_wyze::tutk::{
    ConnectOptions, Firmware, ServerConfig, TutkError, TutkServer, UdpClientTransport, connect, uid_bytes,
};
use camctl_wyze::wire::{FrameInfo, FrameSize, codec};
use camctl_wyze::{ClientConfig, Error, Pacing, WyzeSession};
use tokio::net::UdpSocket;

const UID: &str = "ABCDEFGHIJKLMNOPQRST";
const ENR: &str = "AbCdEfGh/JkLmN0p";
const MAC: &str = "2CAABBCCDDEE";
/// Generous overall limit for a whole test: a hang is a failure, not a timing assertion.
const OVERALL: Duration = Duration::from_secs(60);
/// Media payload per packet (large datagrams keep the packet count low; loopback carries them whole).
const CHUNK: usize = 60_000;

/// A camera that completes OLD discovery, the session and the AV login (no DTLS), then does whatever
/// the test wants.
struct FakeCamera {
    sock: UdpSocket,
    peer: SocketAddr,
    link: Link,
    buf: Vec<u8>,
}

impl FakeCamera {
    async fn bind() -> (UdpSocket, SocketAddr) {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        (sock, addr)
    }

    /// Answers discovery and the session request; with `login`, also the AV login.
    async fn accept(sock: UdpSocket, login: bool) -> FakeCamera {
        let swap = TailSwap::default();
        let mut buf = vec![0u8; 65536];
        let (peer, sid) = loop {
            let (n, src) = sock.recv_from(&mut buf).await.unwrap();
            match OldPacket::decode(&buf[..n], swap) {
                Ok(OldPacket::Disco { response: false, stage, uid, sid, .. }) => {
                    let a = OldPacket::Disco { response: true, stage, uid, sid, auth_key: [0; 8] };
                    sock.send_to(&a.encode(swap), src).await.unwrap();
                }
                Ok(OldPacket::Session { response: false, uid, sid, time }) => {
                    let a = OldPacket::Session { response: true, uid, sid, time };
                    sock.send_to(&a.encode(swap), src).await.unwrap();
                    break (src, sid);
                }
                _ => {}
            }
        };
        let link = Link::new(Framing::old(Side::Camera, sid, swap), None, Instant::now());
        let mut cam = FakeCamera { sock, peer, link, buf };
        if login {
            loop {
                let events = cam.recv_one().await;
                if let Some(random) = events.iter().find_map(|e| match e {
                    AvEvent::Login { random, .. } => Some(*random),
                    _ => None,
                }) {
                    let ds = cam.link.send_av(&encode_login_response(true, random, false)).unwrap();
                    cam.send(ds).await;
                    break;
                }
            }
        }
        cam
    }

    async fn send(&self, ds: Vec<Vec<u8>>) {
        for d in ds {
            self.sock.send_to(&d, self.peer).await.unwrap();
        }
    }

    /// Handles one datagram from the client (ACKs, IOCTRLs), answering what the link answers.
    async fn recv_one(&mut self) -> Vec<AvEvent> {
        let (n, _) = self.sock.recv_from(&mut self.buf).await.unwrap();
        let out = self.link.on_datagram(&self.buf[..n], Instant::now()).unwrap();
        self.send(out.datagrams).await;
        out.events
    }

    /// Sends an IOCTRL and waits until the client acknowledged it (resending as the link says): every
    /// datagram sent before it has then been handled by the client.
    async fn ioctrl_acked(&mut self, ctrl_type: u32, data: &[u8]) {
        let ds = self.link.send_ioctrl(ctrl_type, data, Instant::now()).unwrap();
        self.send(ds).await;
        while self.link.av.poll_timeout().is_some() {
            let deadline = self.link.deadline(Instant::now());
            tokio::select! {
                _ = self.recv_one() => {}
                _ = tokio::time::sleep_until(deadline.into()) => {
                    let out = self.link.tick(Instant::now()).unwrap();
                    self.send(out.datagrams).await;
                }
            }
        }
    }

    /// Sends one frame, two packets at a time, each pair followed by an acknowledged ping so that the
    /// client's socket buffer never overflows (the test is about the client's queues, not UDP loss).
    async fn send_frame(&mut self, frame_no: u32, key: bool, data: &[u8]) {
        let info = FrameInfo {
            codec_id: codec::H264,
            flags: u8::from(key),
            frame_no,
            frame_len: data.len() as u32,
            ..Default::default()
        };
        let pkts = packetize(&info, data, CHUNK).unwrap();
        for pair in pkts.chunks(2) {
            for p in pair {
                let ds = self.link.send_av(p).unwrap();
                self.send(ds).await;
            }
            self.ioctrl_acked(0x1FF, b"ping").await;
        }
    }
}

fn client_opts() -> ConnectOptions {
    ConnectOptions {
        firmware: Firmware::Old,
        dtls: false,
        timeout: Duration::from_secs(10),
        ..Default::default()
    }
}

async fn fake_pair() -> (FakeCamera, UdpClientTransport) {
    let (sock, addr) = FakeCamera::bind().await;
    let (cam, transport) =
        tokio::join!(FakeCamera::accept(sock, true), connect(addr, UID, ENR, MAC, client_opts()));
    (cam, transport.unwrap())
}

#[tokio::test]
async fn unsolicited_huge_frames_are_not_queued_and_the_queue_is_bounded_in_bytes() {
    tokio::time::timeout(OVERALL, async {
        let (mut cam, transport) = fake_pair().await;
        // No media asked for (what `events` and `info` do): 8 MiB frames cost nothing.
        for no in 1..=3 {
            cam.send_frame(no, true, &vec![0xAB; 8 << 20]).await;
        }
        let st = transport.frame_stats();
        assert_eq!((st.queued, st.queued_bytes, st.peak_bytes), (0, 0, 0), "{st:?}");
        assert!(st.unwanted_packets > 0, "{st:?}");

        // Media on: 3 MiB frames (under the 4 MiB cap) faster than anyone reads them.
        transport.set_media_wanted(true);
        let frame = vec![0x5A; 3 << 20];
        for no in 10..22 {
            cam.send_frame(no, no == 10, &frame).await;
        }
        // One frame beyond the cap, then a small one.
        cam.send_frame(30, true, &vec![1; (4 << 20) + 1]).await;
        cam.send_frame(31, false, b"small").await;
        let st: FrameStats = transport.frame_stats();
        assert!(st.peak_bytes <= MAX_QUEUED_FRAME_BYTES, "{st:?}");
        assert!(st.queued_bytes <= MAX_QUEUED_FRAME_BYTES, "{st:?}");
        assert!(st.dropped >= 7, "oldest frames should have been dropped as a gap: {st:?}");
        assert_eq!(st.oversized, 1, "{st:?}");
        // What is left is whole frames in order, ending with the small one.
        let mut last = 0;
        for _ in 0..st.queued {
            let (info, data) = transport.recv_frame().await.unwrap();
            assert!(info.frame_no > last);
            last = info.frame_no;
            assert!(data == frame || data == b"small", "frame {} is not whole", info.frame_no);
        }
        assert_eq!(last, 31);
    })
    .await
    .expect("test hung");
}

/// Counts WARN events (and keeps their text) on this thread.
struct Warnings(Arc<Mutex<Vec<String>>>);

struct Text(String);
impl tracing::field::Visit for Text {
    fn record_debug(&mut self, _: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{value:?} "));
    }
}

impl tracing::Subscriber for Warnings {
    fn enabled(&self, m: &tracing::Metadata<'_>) -> bool {
        *m.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, e: &tracing::Event<'_>) {
        if *e.metadata().level() == tracing::Level::WARN {
            let mut t = Text(String::new());
            e.record(&mut t);
            self.0.lock().unwrap().push(t.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn a_flood_of_junk_ends_the_exchange_and_gives_few_warning_lines() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let _guard = tracing::subscriber::set_default(Warnings(lines.clone()));
    tokio::time::timeout(OVERALL, async {
        let (mut cam, transport) = fake_pair().await;
        // Junk datagrams from the camera's address: not of this session.
        for i in 0..2000u32 {
            cam.sock.send_to(&[0x1b, b'[', b'2', b'J', i as u8, 0xFF, 0xFE], cam.peer).await.unwrap();
            if i.is_multiple_of(64) {
                cam.ioctrl_acked(0x1FF, b"sync").await;
            }
        }
        // The K-auth never gets an answer, only messages of other kinds; its timeout is far away.
        let mut config = ClientConfig::new(ENR, MAC);
        config.timeout = Duration::from_secs(600);
        let session = tokio::spawn(WyzeSession::connect(transport, config));
        let mut i = 0u32;
        let err = loop {
            if session.is_finished() {
                break session.await.unwrap().unwrap_err();
            }
            i += 1;
            // Alternately a non-HL ioctrl and an undecodable HL one, each escaped bytes in any log line.
            if i.is_multiple_of(2) {
                cam.ioctrl_acked(0x1FF, b"\x1b]0;junk\x07").await;
            } else {
                cam.ioctrl_acked(0x100, b"XX\x1b[31mnot HL").await;
            }
        };
        // The error says how many were skipped.
        assert!(
            matches!(&err, Error::Protocol(m) if m.contains("1024 other messages without answering")),
            "{err}"
        );
    })
    .await
    .expect("test hung");
    let lines = lines.lock().unwrap();
    assert!(lines.len() <= 20, "{} warning lines: {:?}", lines.len(), &lines[..lines.len().min(30)]);
    // A minute later the throttle's next line would carry the count of those left out ("... more like
    // it not shown"); within this test, the bound on the number of lines is what shows.
    assert!(lines.iter().all(|l| !l.contains('\x1b')), "raw peer bytes in a log line: {lines:?}");
}

#[tokio::test]
async fn a_camera_that_keeps_the_line_alive_but_never_logs_in_fails_clearly() {
    tokio::time::timeout(OVERALL, async {
        let (sock, addr) = FakeCamera::bind().await;
        let opts = ConnectOptions { timeout: Duration::from_secs(2), ..client_opts() };
        let mut client = tokio::spawn(connect(addr, UID, ENR, MAC, opts));
        let mut cam = FakeCamera::accept(sock, false).await;
        // Keepalives and nothing else: proof of life, but no AV login answer.
        let err = loop {
            let ka = cam.link.framing.keepalive();
            cam.send(vec![ka]).await;
            tokio::select! {
                r = &mut client => break r.unwrap().unwrap_err(),
                _ = cam.recv_one() => {}
            }
        };
        assert!(matches!(err, TutkError::AvLoginTimeout(_)), "{err}");
    })
    .await
    .expect("test hung");
}

async fn emulator(max_sessions: usize, handshake_timeout: Duration) -> SocketAddr {
    let mut cfg = ServerConfig::new(UID, ENR, MAC);
    cfg.firmware = Firmware::Old;
    cfg.max_sessions = max_sessions;
    cfg.handshake_timeout = handshake_timeout;
    // Long, so that only the handshake timeout can free a slot in these tests.
    cfg.idle_timeout = Duration::from_secs(600);
    cfg.emulator.pacing = Pacing::RealTime;
    cfg.emulator.fps = 30;
    cfg.emulator.frame_size = FrameSize::SD_360P;
    let server = TutkServer::bind("127.0.0.1:0".parse().unwrap(), cfg).await.unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.serve());
    addr
}

fn keyed_disco(sid: [u8; 8]) -> Vec<u8> {
    let ak = camctl_wyze::auth::auth_key(ENR, MAC);
    OldPacket::Disco {
        response: false,
        stage: 1,
        uid: uid_bytes(UID),
        sid,
        auth_key: camctl_wyze::tutk::auth_key_bytes(&ak),
    }
    .encode(TailSwap::default())
}

fn bare_session(sid: [u8; 8]) -> Vec<u8> {
    OldPacket::Session { response: false, uid: uid_bytes(UID), sid, time: 1_700_000_000 }
        .encode(TailSwap::default())
}

async fn real_client_streams(addr: SocketAddr) {
    let opts =
        ConnectOptions { firmware: Firmware::Old, timeout: Duration::from_secs(20), ..Default::default() };
    let transport = connect(addr, UID, ENR, MAC, opts).await.expect("the real client was locked out");
    let session = WyzeSession::connect(transport, ClientConfig::new(ENR, MAC)).await.unwrap();
    let (info, data) = session.recv_frame().await.unwrap();
    assert!(!data.is_empty() && info.frame_len as usize == data.len());
}

#[tokio::test]
async fn bare_session_requests_take_no_slot_on_the_old_firmware_emulator() {
    tokio::time::timeout(OVERALL, async {
        let addr = emulator(2, Duration::from_secs(600)).await;
        // Many peers that know only the UID ask for sessions, again and again.
        let mut flooders = Vec::new();
        for p in 0..32u8 {
            let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            for k in 0..8u8 {
                s.send_to(&bare_session([p, k, 1, 2, 3, 4, 5, 6]), addr).await.unwrap();
            }
            flooders.push(s);
        }
        // A keyed discovery sent after the flood is answered: the emulator handled the flood (its
        // socket is FIFO) and is not at its session limit (a full camera ignores discovery).
        let probe = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        probe.send_to(&keyed_disco([9; 8]), addr).await.unwrap();
        let mut buf = vec![0u8; 2048];
        let (n, _) = probe.recv_from(&mut buf).await.unwrap();
        assert!(matches!(
            OldPacket::decode(&buf[..n], TailSwap::default()),
            Ok(OldPacket::Disco { response: true, .. })
        ));
        // None of the flooders got a session answer.
        for s in &flooders {
            let mut b = [0u8; 2048];
            assert!(s.try_recv(&mut b).is_err(), "a bare session request was answered");
        }
        real_client_streams(addr).await;
    })
    .await
    .expect("test hung");
}

#[tokio::test]
async fn a_keyed_peer_that_stalls_after_the_session_request_loses_its_slot() {
    tokio::time::timeout(OVERALL, async {
        let addr = emulator(1, Duration::from_millis(300)).await;
        // Completes the keyed discovery and the session request, then goes silent.
        let stall = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let sid = [7; 8];
        stall.send_to(&keyed_disco(sid), addr).await.unwrap();
        let mut buf = vec![0u8; 2048];
        stall.recv_from(&mut buf).await.unwrap();
        stall.send_to(&bare_session(sid), addr).await.unwrap();
        let (n, _) = stall.recv_from(&mut buf).await.unwrap();
        assert!(matches!(
            OldPacket::decode(&buf[..n], TailSwap::default()),
            Ok(OldPacket::Session { response: true, .. })
        ));
        // The only slot is taken; the real client retries discovery until the stalled slot expires.
        real_client_streams(addr).await;
    })
    .await
    .expect("test hung");
}

#[tokio::test]
async fn a_camera_that_never_finishes_the_handshake_hits_the_overall_limit() {
    tokio::time::timeout(OVERALL, async {
        let (mut cam, transport) = fake_pair().await;
        // Per-reply timeout far away; only the overall handshake limit can end this.
        let mut config = ClientConfig::new(ENR, MAC);
        config.timeout = Duration::from_secs(600);
        config.handshake_timeout = Duration::from_millis(300);
        let mut session = tokio::spawn(WyzeSession::connect(transport, config));
        // The camera acknowledges what it gets (keeping the line alive) but never answers.
        let err = loop {
            tokio::select! {
                r = &mut session => break r.unwrap().unwrap_err(),
                _ = cam.recv_one() => {}
            }
        };
        assert!(matches!(err, Error::HandshakeTimeout(_)), "{err}");
    })
    .await
    .expect("test hung");
}
