//! The native TUTK transport end to end over real UDP on 127.0.0.1: client vs emulated camera, both
//! firmware flavours, wrong secrets, and a lossy reordering relay.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use camctl_core::relay::{Relay, RelayConfig};
use camctl_wyze::tutk::{ConnectOptions, Firmware, ServerConfig, TutkError, TutkServer, connect};
use camctl_wyze::wire::FrameSize;
use camctl_wyze::{ClientConfig, Error, Pacing, WyzeSession};

const UID: &str = "ABCDEFGHIJKLMNOPQRST";
const ENR: &str = "AbCdEfGh/JkLmN0p";
const MAC: &str = "2CAABBCCDDEE";

fn clip_frames() -> HashSet<Vec<u8>> {
    [camctl_core::video::SAMPLE_360P, camctl_core::video::SAMPLE_1080P]
        .iter()
        .flat_map(|c| camctl_core::video::frames(c).map(|f| f.to_annexb()).collect::<Vec<_>>())
        .collect()
}

/// Whether `data` is a clip frame followed by intact filler data (the emulator pads to the bitrate set).
fn is_clip_frame(clip: &HashSet<Vec<u8>>, data: &[u8]) -> bool {
    camctl_core::video::strip_intact_filler(data).is_some_and(|picture| clip.contains(&picture))
}

async fn camera(firmware: Firmware) -> SocketAddr {
    let mut cfg = ServerConfig::new(UID, ENR, MAC);
    cfg.firmware = firmware;
    cfg.emulator.pacing = Pacing::RealTime;
    cfg.emulator.fps = 30;
    cfg.emulator.frame_size = FrameSize::SD_360P;
    let server = TutkServer::bind("127.0.0.1:0".parse().unwrap(), cfg).await.unwrap();
    let addr = server.local_addr().unwrap();
    assert!(
        server
            .url()
            .unwrap()
            .starts_with(&format!("wyze://{addr}?uid={UID}&enr=AbCdEfGh%2FJkLmN0p&mac={MAC}"))
    );
    tokio::spawn(server.serve());
    addr
}

fn opts(firmware: Firmware) -> ConnectOptions {
    ConnectOptions { firmware, timeout: Duration::from_secs(3), ..Default::default() }
}

#[tokio::test]
async fn both_flavours_authenticate_stream_and_change_settings() {
    let clip = clip_frames();
    for fw in [Firmware::Old, Firmware::Cc51] {
        let addr = camera(fw).await;
        let transport = connect(addr, UID, ENR, MAC, opts(Firmware::Auto)).await.unwrap();
        assert_eq!(transport.firmware(), fw);
        assert_ne!(transport.peer(), addr, "the session should have moved to the camera's session port");
        let session = WyzeSession::connect(transport, ClientConfig::new(ENR, MAC)).await.unwrap();
        for _ in 0..10 {
            let (info, data) = session.recv_frame().await.unwrap();
            if camctl_wyze::wire::codec::is_video(info.codec_id) {
                assert!(is_clip_frame(&clip, &data), "{fw:?}: frame {} is not a clip frame", info.frame_no);
            }
        }
        session.set_resolution(FrameSize::HD_1080P, 120).await.unwrap();
        let mut seen_hd = false;
        for _ in 0..60 {
            let (info, data) = session.recv_frame().await.unwrap();
            if info.frame_size == 0 && camctl_wyze::wire::codec::is_video(info.codec_id) {
                assert!(is_clip_frame(&clip, &data));
                seen_hd = true;
                break;
            }
        }
        assert!(seen_hd, "{fw:?}: resolution change not visible in frames");
        let settings = session.settings().await.unwrap();
        assert!(!settings.is_empty());
    }
}

#[tokio::test]
async fn wrong_secrets_fail_clearly() {
    let addr = camera(Firmware::Cc51).await;
    let old = camera(Firmware::Old).await;
    for a in [addr, old] {
        let bad_key = ConnectOptions {
            auth_key: Some("XXXXXXXX".into()),
            timeout: Duration::from_millis(600),
            ..opts(Firmware::Auto)
        };
        let e = connect(a, UID, ENR, MAC, bad_key).await.unwrap_err();
        assert!(matches!(e, TutkError::DiscoveryTimeout { .. }), "{e}");
        assert!(e.to_string().contains("AuthKey"), "{e}");
    }
    let bad_psk =
        ConnectOptions { psk: Some(vec![1; 32]), timeout: Duration::from_secs(2), ..opts(Firmware::Cc51) };
    let e = connect(addr, UID, ENR, MAC, bad_psk).await.unwrap_err();
    assert!(matches!(e, TutkError::DtlsHandshake { .. }), "{e}");
    assert!(e.to_string().contains("wrong ENR"), "{e}");
    // Wrong ENR with the transport secrets right: the K-command authentication rejects it.
    let wrong = "wrong-enr-000000";
    let o = ConnectOptions {
        auth_key: Some(camctl_wyze::auth::auth_key(ENR, MAC)),
        psk: Some(camctl_wyze::auth::dtls_psk(ENR).to_vec()),
        ..opts(Firmware::Cc51)
    };
    let t = connect(addr, UID, wrong, MAC, o).await.unwrap();
    let e = WyzeSession::connect(t, ClientConfig::new(wrong, MAC)).await.unwrap_err();
    assert!(matches!(e, Error::WrongEnr), "{e}");
    // A plain wrong ENR fails at the transport already.
    let e = connect(
        addr,
        UID,
        wrong,
        MAC,
        ConnectOptions { timeout: Duration::from_millis(600), ..opts(Firmware::Auto) },
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("ENR"), "{e}");
}

#[tokio::test]
async fn lossy_reordering_relay_yields_only_intact_frames() {
    let clip = clip_frames();
    let addr = camera(Firmware::Cc51).await;
    // ~5% lost each way, ~5% of the rest held back 15 ms (overtaken by later datagrams).
    let relay = Relay::start(
        addr,
        RelayConfig {
            delay_percent: 5.0,
            delay: Duration::from_millis(15),
            ..RelayConfig::lossy(5.0, 0x2545)
        },
    )
    .await
    .unwrap();
    let transport = connect(
        relay.local_addr(),
        UID,
        ENR,
        MAC,
        ConnectOptions { timeout: Duration::from_secs(8), ..opts(Firmware::Auto) },
    )
    .await
    .unwrap();
    let mut cfg = ClientConfig::new(ENR, MAC);
    cfg.timeout = Duration::from_secs(8);
    let session = WyzeSession::connect(transport, cfg).await.unwrap();
    let mut video = 0;
    let mut last = None;
    while video < 30 {
        let (info, data) = session.recv_frame().await.unwrap();
        if !camctl_wyze::wire::codec::is_video(info.codec_id) {
            continue;
        }
        assert!(is_clip_frame(&clip, &data), "corrupt frame {}", info.frame_no);
        if let Some(l) = last {
            assert!(info.frame_no > l, "frames out of order");
        }
        last = Some(info.frame_no);
        video += 1;
    }
}

/// go2rtc reads ACK bytes 8..12 as the first and last AV sequence numbers of the camera's IOCTRL frames
/// received; so does camctl. Reading them as command sequence numbers agrees only for the first three
/// replies, after which the camera resends every reply until it gives up. Twelve commands over real
/// UDP: every reply is acknowledged, none is sent twice.
#[tokio::test]
async fn every_reply_of_many_commands_is_acknowledged_with_av_sequence_numbers() {
    for fw in [Firmware::Old, Firmware::Cc51] {
        let mut cfg = ServerConfig::new(UID, ENR, MAC);
        cfg.firmware = fw;
        let server = TutkServer::bind("127.0.0.1:0".parse().unwrap(), cfg).await.unwrap();
        let (addr, stats) = (server.local_addr().unwrap(), server.stats_handle());
        tokio::spawn(server.serve());
        let transport = connect(addr, UID, ENR, MAC, opts(Firmware::Auto)).await.unwrap();
        let mut config = ClientConfig::new(ENR, MAC);
        // No media: the ACKs under test are the ones for command replies.
        config.open_video = false;
        config.frame_size = None;
        config.substream = None;
        let session = WyzeSession::connect(transport, config).await.unwrap();
        for _ in 0..12 {
            session.video_params().await.unwrap();
        }
        // Wait until the camera holds no reply waiting for an ACK (generous: any slowness only delays it).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while stats.get().ioctrl_unacked > 0 {
            assert!(tokio::time::Instant::now() < deadline, "{fw:?}: replies never acknowledged");
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let resent = stats.get().ioctrl_resent;
        // A misread ACK resends each reply from the fourth on 11 times; a slow machine may resend one.
        assert!(resent < 3, "{fw:?}: the camera resent {resent} replies: ACKs not understood");
        session.into_transport().close().await;
    }
}
