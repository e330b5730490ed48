//! The TUTK AV resend mode end to end over real UDP on 127.0.0.1: the client against the emulator
//! through camctl-core's lossy relay, what goes over the wire in each mode, and hostile peers forging
//! resend traffic inside an established session. No sleeps synchronise anything: every wait is for
//! frames or counters, under one generous overall deadline.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use camctl_core::relay::{Direction, Relay, RelayConfig, Tapped};
use camctl_wyze::tutk::framing::{Framing, Side};
use camctl_wyze::tutk::old::OldPacket;
use camctl_wyze::tutk::resend::{self, FrameIndex, WrapKind};
use camctl_wyze::tutk::transcode::TailSwap;
use camctl_wyze::tutk::{
    ConnectOptions, Firmware, ResendConfig, ServerConfig, StatsHandle, TutkServer, UdpClientTransport,
    connect,
};
use camctl_wyze::wire::{FrameSize, codec};
use camctl_wyze::{ClientConfig, Pacing, WyzeSession};
use tokio::sync::mpsc;

const UID: &str = "ABCDEFGHIJKLMNOPQRST";
const ENR: &str = "AbCdEfGh/JkLmN0p";
const MAC: &str = "2CAABBCCDDEE";
/// Generous overall limit for each test: a hang is a failure, not a timing assertion.
const OVERALL: Duration = Duration::from_secs(120);

fn clip_frames() -> HashSet<Vec<u8>> {
    [camctl_core::video::SAMPLE_360P, camctl_core::video::SAMPLE_1080P]
        .iter()
        .flat_map(|c| camctl_core::video::frames(c).map(|f| f.to_annexb()).collect::<Vec<_>>())
        .collect()
}

/// A 1080p emulator at 60 frames/s; `tune` adjusts the rest.
async fn camera(tune: impl FnOnce(&mut ServerConfig)) -> (SocketAddr, StatsHandle) {
    let mut cfg = ServerConfig::new(UID, ENR, MAC);
    cfg.emulator.pacing = Pacing::RealTime;
    cfg.emulator.fps = 60;
    cfg.emulator.frame_size = FrameSize::HD_1080P;
    tune(&mut cfg);
    let server = TutkServer::bind("127.0.0.1:0".parse().unwrap(), cfg).await.unwrap();
    let addr = server.local_addr().unwrap();
    let stats = server.stats_handle();
    tokio::spawn(server.serve());
    (addr, stats)
}

async fn session(relay: &Relay, options: ConnectOptions) -> WyzeSession<UdpClientTransport> {
    let options = ConnectOptions { timeout: Duration::from_secs(8), ..options };
    let transport = connect(relay.local_addr(), UID, ENR, MAC, options).await.unwrap();
    let mut cfg = ClientConfig::new(ENR, MAC);
    cfg.timeout = Duration::from_secs(8);
    WyzeSession::connect(transport, cfg).await.unwrap()
}

/// Video frames received and video frames missing (gaps in `frame_no`).
#[derive(Debug, Default)]
struct Tally {
    received: u64,
    lost: u64,
    last: Option<u32>,
}

impl Tally {
    /// Receives `n` video frames, each of which must be a frame of the clips, byte for byte (with
    /// intact padding).
    async fn take(&mut self, session: &WyzeSession<UdpClientTransport>, clip: &HashSet<Vec<u8>>, n: u64) {
        let goal = self.received + n;
        while self.received < goal {
            let (info, data) = session.recv_frame().await.unwrap();
            if !codec::is_video(info.codec_id) {
                continue;
            }
            // The emulator pads frames to the bitrate with filler data; the picture is the clip's.
            let picture = camctl_core::video::strip_intact_filler(&data);
            assert!(
                picture.is_some_and(|p| clip.contains(&p)),
                "frame {} is not a clip frame",
                info.frame_no
            );
            if let Some(l) = self.last {
                assert!(info.frame_no > l, "frames out of order");
                self.lost += u64::from(info.frame_no - l - 1);
            }
            self.last = Some(info.frame_no);
            self.received += 1;
        }
    }

    fn lost_percent(&self) -> f64 {
        self.lost as f64 * 100.0 / (self.received + self.lost) as f64
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_resend_under_one_percent_of_frames_is_lost_at_two_percent_packet_loss() {
    tokio::time::timeout(OVERALL, async {
        let clip = clip_frames();
        let (addr, camera_stats) = camera(|_| {}).await;
        let relay = Relay::start(addr, RelayConfig::lossy(2.0, 0x5EED)).await.unwrap();
        let session = session(&relay, ConnectOptions { resend: true, ..Default::default() }).await;
        let mut tally = Tally::default();
        tally.take(&session, &clip, 400).await;
        let st = session.transport().frame_stats();
        eprintln!(
            "resend on: {tally:?} ({:.2}% lost), {:?}, relay {:?}",
            tally.lost_percent(),
            st.resend,
            relay.stats()
        );
        assert!(tally.lost_percent() < 1.0, "{:.2}% of frames lost", tally.lost_percent());
        // The relay did lose packets, and they came back through requests and retransmissions.
        assert!(relay.stats().dropped_to_client > 0);
        assert!(st.resend.wrapped_received > 0 && st.resend.requests_sent > 0 && st.resend.recovered > 0);
        let cam = camera_stats.get();
        assert_eq!(cam.resend_sessions, 1);
        assert!(cam.retransmitted > 0);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_resend_the_stream_still_works_over_the_lossy_relay() {
    tokio::time::timeout(OVERALL, async {
        let clip = clip_frames();
        let (addr, camera_stats) = camera(|_| {}).await;
        let relay = Relay::start(addr, RelayConfig::lossy(2.0, 0x5EED)).await.unwrap();
        let session = session(&relay, ConnectOptions::default()).await;
        let mut tally = Tally::default();
        tally.take(&session, &clip, 150).await;
        let st = session.transport().frame_stats();
        eprintln!("resend off: {tally:?} ({:.2}% lost)", tally.lost_percent());
        assert_eq!(st.resend, Default::default(), "no resend traffic without resend=1");
        let cam = camera_stats.get();
        assert_eq!((cam.resend_sessions, cam.retransmitted), (0, 0));
    })
    .await
    .unwrap();
}

/// What the tap saw of the AV messages (OLD framing, no DTLS: the tests read them in the clear).
#[derive(Debug, Default)]
struct Wire {
    direct: u64,
    wrapped: u64,
    index: u64,
    /// Sequence numbers of wrapped media packets seen more than once (retransmissions).
    repeated: u64,
    /// How often each sequence number went out (the tests send far fewer than 65536 packets).
    sends: std::collections::HashMap<u16, u32>,
    /// The resend word of the client's AV logins.
    login_resend: Vec<u32>,
}

impl Wire {
    fn drain(&mut self, tap: &mut mpsc::Receiver<Tapped>) {
        while let Ok((dir, d)) = tap.try_recv() {
            let Ok(OldPacket::Data { payload, .. }) = OldPacket::decode(&d, TailSwap::default()) else {
                continue;
            };
            match (dir, resend::classify(&payload)) {
                (Direction::ToClient, Some(WrapKind::Media)) => {
                    self.wrapped += 1;
                    let sends = self.sends.entry(u16::from_le_bytes([payload[4], payload[5]])).or_default();
                    *sends += 1;
                    if *sends > 1 {
                        self.repeated += 1;
                    }
                }
                (Direction::ToClient, Some(WrapKind::Index)) => self.index += 1,
                (Direction::ToClient, None) if matches!(payload[0], 0x03 | 0x05 | 0x07) => self.direct += 1,
                (Direction::ToServer, None) if payload.len() >= 570 && payload[..2] == [0, 0] => {
                    self.login_resend.push(u32::from_le_bytes(payload[536..540].try_into().unwrap()));
                }
                _ => {}
            }
        }
    }
}

/// A cleartext OLD-flavour camera behind a loss-free relay that copies everything to a tap.
async fn tapped(tune: impl FnOnce(&mut ServerConfig)) -> (Relay, StatsHandle, mpsc::Receiver<Tapped>) {
    let (addr, stats) = camera(|c| {
        c.firmware = Firmware::Old;
        c.dtls = false;
        tune(c);
    })
    .await;
    let (tx, rx) = mpsc::channel(200_000);
    let relay =
        Relay::start(addr, RelayConfig { tap: Some(tx), ..RelayConfig::lossy(0.0, 1) }).await.unwrap();
    (relay, stats, rx)
}

fn cleartext(resend: bool) -> ConnectOptions {
    ConnectOptions { firmware: Firmware::Old, dtls: false, resend, ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_camera_sends_the_resend_format_only_when_the_login_asks_and_it_allows() {
    tokio::time::timeout(OVERALL, async {
        let clip = clip_frames();
        // (client asks, camera allows, resend format expected)
        for (asks, allows, expected) in [(false, true, false), (true, true, true), (true, false, false)] {
            let (relay, stats, mut tap) = tapped(|c| c.allow_resend = allows).await;
            let session = session(&relay, cleartext(asks)).await;
            let mut tally = Tally::default();
            let mut wire = Wire::default();
            // Stream until the wire shows plenty of media (and, in resend mode, a frame index).
            loop {
                tally.take(&session, &clip, 5).await;
                wire.drain(&mut tap);
                let media = wire.direct + wire.wrapped;
                if media >= 50 && (!expected || wire.index > 0) {
                    break;
                }
            }
            let case = format!("asks {asks}, allows {allows}: {wire:?}");
            assert!(!wire.login_resend.is_empty(), "{case}");
            assert!(wire.login_resend.iter().all(|r| *r == u32::from(asks)), "{case}");
            if expected {
                assert_eq!(wire.direct, 0, "{case}");
                assert!(wire.wrapped > 0 && wire.index > 0, "{case}");
            } else {
                assert_eq!((wire.wrapped, wire.index), (0, 0), "{case}");
                assert!(wire.direct > 0, "{case}");
            }
            assert_eq!(stats.get().resend_sessions, u64::from(expected), "{case}");
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bogus_retransmission_requests_stays_bounded() {
    tokio::time::timeout(OVERALL, async {
        let clip = clip_frames();
        let max_retransmits = 2u8;
        let (relay, stats, mut tap) = tapped(|c| {
            c.resend = ResendConfig { history_packets: 256, max_retransmits, ..Default::default() };
        })
        .await;
        let session = session(&relay, cleartext(true)).await;
        let mut tally = Tally::default();
        tally.take(&session, &clip, 20).await;
        // Requests for every sequence number, again and again, forged inside the client's session.
        let mut framing = Framing::old(Side::Client, [0; 8], TailSwap::default());
        let all: Vec<u16> = (0..=u16::MAX).collect();
        let mut counter = 0u16;
        // Chunks of the number of sequence numbers the camera looks at per request.
        let per = ResendConfig::default().max_per_request;
        for _ in 0..4 {
            for chunk in all.chunks(per) {
                counter = counter.wrapping_add(1);
                let req = resend::encode_request(ResendConfig::default().request_kind, counter, chunk);
                relay.inject(Direction::ToServer, &framing.wrap(0, &req)).await.unwrap();
            }
        }
        // Wait until the camera retransmitted on the forged requests, streaming meanwhile.
        while stats.get().retransmitted == 0 {
            tally.take(&session, &clip, 5).await;
        }
        // The session keeps delivering intact frames.
        tally.take(&session, &clip, 30).await;
        wire_bounds(&stats, &mut tap, max_retransmits);
    })
    .await
    .unwrap();
}

/// The camera never sends a packet more than `1 + max_retransmits` times, by its own count and on the
/// wire.
fn wire_bounds(stats: &StatsHandle, tap: &mut mpsc::Receiver<Tapped>, max_retransmits: u8) {
    let cam = stats.get();
    assert!(cam.retransmitted <= u64::from(max_retransmits) * cam.packets, "{cam:?}");
    let mut wire = Wire::default();
    wire.drain(tap);
    assert!(wire.repeated > 0, "{wire:?}");
    // Each packet at most once plus its retransmissions, however often it was asked for.
    let most = wire.sends.values().max().copied().unwrap_or(0);
    assert!(most <= 1 + u32::from(max_retransmits), "a packet went out {most} times");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bogus_frame_indexes_keeps_the_client_bounded() {
    tokio::time::timeout(OVERALL, async {
        let clip = clip_frames();
        let (relay, _stats, _tap) = tapped(|_| {}).await;
        let max_missing = 64;
        let resend_config = ResendConfig { max_missing, max_held_packets: 256, ..Default::default() };
        let session = session(&relay, ConnectOptions { resend_config, ..cleartext(true) }).await;
        let mut tally = Tally::default();
        tally.take(&session, &clip, 20).await;
        // Frame indexes naming sequence numbers all over the range, forged as the camera's, in batches
        // the client reads as they come (real indexes count too, so every wait ends).
        let mut framing = Framing::old(Side::Camera, [0; 8], TailSwap::default());
        let mut n: u32 = 0x9E37_79B9;
        let before = session.transport().frame_stats().resend.index_received;
        for batch in 0..40u32 {
            for i in 0..50u32 {
                n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let no = batch * 50 + i;
                let ix = FrameIndex {
                    newest_seq: (n >> 16) as u16,
                    oldest_seq: n as u16,
                    channel: 0x07,
                    kind: 0,
                    prev_frame: no,
                    frame_no: no + 1,
                };
                relay.inject(Direction::ToClient, &framing.wrap(0, &ix.encode(no as u16))).await.unwrap();
            }
            while session.transport().frame_stats().resend.index_received < before + u64::from(batch + 1) * 45
            {
                tally.take(&session, &clip, 2).await;
            }
        }
        tally.take(&session, &clip, 30).await;
        let st = session.transport().frame_stats().resend;
        assert!(st.peak_missing <= max_missing as u64, "{st:?}");
        assert!(st.peak_held <= 256, "{st:?}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_url_option_resend_1_turns_it_on_and_nonsense_is_refused() {
    tokio::time::timeout(OVERALL, async {
        let (addr, stats) = camera(|_| {}).await;
        let base = format!("wyze://{addr}?uid={UID}&enr=AbCdEfGh%2FJkLmN0p&mac={MAC}");
        let bad: camctl_core::CameraUrl = format!("{base}&resend=maybe").parse().unwrap();
        let e = camctl_wyze::WyzeCamera::connect(&bad).await.err().unwrap();
        assert!(e.to_string().contains("resend="), "{e}");
        assert_eq!(stats.get().resend_sessions, 0);
        let url: camctl_core::CameraUrl = format!("{base}&resend=1").parse().unwrap();
        let camera = camctl_wyze::WyzeCamera::connect(&url).await.unwrap();
        // The camera switched to the resend format for this session, as the login asked.
        assert_eq!(stats.get().resend_sessions, 1);
        drop(camera);
    })
    .await
    .unwrap();
}
