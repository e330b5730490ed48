//! The seed's K10620 CheckNight and K10640 GetSpotlightStatus (`seeds/001_*`, tutk.md §4: empty request,
//! raw reply) end to end over real UDP on 127.0.0.1: the client's methods against the emulated camera,
//! with the emulator's placeholder replies and with configured bytes, on both firmware flavours.

use std::net::SocketAddr;
use std::time::Duration;

use camctl_wyze::emulator::PLACEHOLDER_RAW_REPLY;
use camctl_wyze::tutk::{ConnectOptions, Firmware, ServerConfig, TutkServer, connect};
use camctl_wyze::wire::{FrameSize, Request, code};
use camctl_wyze::{ClientConfig, Pacing, WyzeSession};

const UID: &str = "ABCDEFGHIJKLMNOPQRST";
const ENR: &str = "AbCdEfGh/JkLmN0p";
const MAC: &str = "2CAABBCCDDEE";

async fn camera(firmware: Firmware, replies: Option<(Vec<u8>, Vec<u8>)>) -> SocketAddr {
    let mut cfg = ServerConfig::new(UID, ENR, MAC);
    cfg.firmware = firmware;
    cfg.emulator.pacing = Pacing::RealTime;
    cfg.emulator.fps = 30;
    cfg.emulator.frame_size = FrameSize::SD_360P;
    if let Some((night, spotlight)) = replies {
        cfg.emulator.check_night_reply = night;
        cfg.emulator.spotlight_status_reply = spotlight;
    }
    let server = TutkServer::bind("127.0.0.1:0".parse().unwrap(), cfg).await.unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.serve());
    addr
}

async fn session(addr: SocketAddr, firmware: Firmware) -> WyzeSession<camctl_wyze::tutk::UdpClientTransport> {
    let opts = ConnectOptions { firmware, timeout: Duration::from_secs(5), ..Default::default() };
    let transport = connect(addr, UID, ENR, MAC, opts).await.unwrap();
    WyzeSession::connect(transport, ClientConfig::new(ENR, MAC)).await.unwrap()
}

#[test]
fn both_requests_are_empty() {
    for c in [code::CHECK_NIGHT, code::GET_SPOTLIGHT] {
        let msg = Request::Query { code: c }.to_message().unwrap();
        assert_eq!((msg.code, msg.payload.len()), (c, 0));
    }
    assert_eq!((code::CHECK_NIGHT, code::GET_SPOTLIGHT), (10620, 10640));
}

#[tokio::test]
async fn configured_raw_replies_come_back_verbatim() {
    // Distinctive bytes, not a claim about real cameras: the reply layouts are unknown.
    let night = vec![0x01, 0x00, 0xfe, 0x7f];
    let spotlight = vec![0x02, 0xaa];
    for fw in [Firmware::Old, Firmware::Cc51] {
        let addr = camera(fw, Some((night.clone(), spotlight.clone()))).await;
        let s = session(addr, fw).await;
        assert_eq!(s.check_night().await.unwrap(), night, "{fw:?}");
        assert_eq!(s.spotlight_status().await.unwrap(), spotlight, "{fw:?}");
        // Again, in the other order: each reply is matched to its own request code.
        assert_eq!(s.spotlight_status().await.unwrap(), spotlight, "{fw:?}");
        assert_eq!(s.check_night().await.unwrap(), night, "{fw:?}");
        // The same through the read-only settings keys, in hex; not in the full list.
        let key = s.setting("check-night").await.unwrap();
        assert_eq!((key.value.as_str(), key.writable), ("0100fe7f", false), "{fw:?}");
        assert_eq!(s.setting("spotlight-status").await.unwrap().value, "02aa", "{fw:?}");
        assert!(s.settings().await.unwrap().iter().all(|k| k.key != "check-night"));
    }
}

#[tokio::test]
async fn the_default_is_the_documented_placeholder() {
    let addr = camera(Firmware::Cc51, None).await;
    let s = session(addr, Firmware::Cc51).await;
    assert_eq!(s.check_night().await.unwrap(), PLACEHOLDER_RAW_REPLY);
    assert_eq!(s.spotlight_status().await.unwrap(), PLACEHOLDER_RAW_REPLY);
    // Setting the spotlight (10646) does not make up a status reply.
    s.request(&Request::SetByte { code: code::SET_SPOTLIGHT, value: 1 }).await.unwrap();
    assert_eq!(s.spotlight_status().await.unwrap(), PLACEHOLDER_RAW_REPLY);
}
