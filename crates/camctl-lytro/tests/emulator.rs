//! The emulator at the byte level (response rules of §2.3), bad peers, the callback stream split
//! across reads, and the idle power-off with and without keep-alive. All on 127.0.0.1.

mod common;

use std::time::Duration;

use camctl_lytro::client::{Client, ClientConfig};
use camctl_lytro::wire::{HEADER_LEN, Header, Request, cmd, encode_callback};
use camctl_lytro::{Error, PictureFormat};
use common::{Running, client, client_config, config, pseudo_random, start, start_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn raw(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).await.unwrap()
}

/// Sends `req`, returns the response header and payload.
async fn exchange(s: &mut TcpStream, req: &Request) -> (Header, Vec<u8>) {
    s.write_all(&req.to_bytes()).await.unwrap();
    let mut head = [0u8; HEADER_LEN];
    s.read_exact(&mut head).await.unwrap();
    let h = Header::decode(&head).unwrap();
    let mut payload = vec![0u8; h.length as usize];
    s.read_exact(&mut payload).await.unwrap();
    (h, payload)
}

/// Expects the emulator to close `s` (EOF or reset) without sending anything more.
async fn assert_closed(s: &mut TcpStream) {
    let mut b = [0u8; 64];
    match tokio::time::timeout(Duration::from_secs(5), s.read(&mut b)).await.expect("connection not closed") {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("unexpected {n} bytes"),
    }
}

async fn card_emulator() -> (tempfile::TempDir, Running, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let data = pseudo_random(5 * 1024 * 1024 + 17, 5);
    std::fs::write(dir.path().join("IMG_0001.RAW"), &data).unwrap();
    let emu = start(dir.path()).await;
    (dir, emu, data)
}

#[tokio::test]
async fn response_rules() {
    let (_dir, emu, data) = card_emulator().await;
    for port in [emu.command_port, emu.download_port] {
        let mut s = raw(port).await;
        // Query with flags 1: echo of command and params, flags 3, length = payload.
        let req = Request::query_battery();
        let (h, p) = exchange(&mut s, &req).await;
        assert_eq!((h.flags, h.command, h.params, h.length), (3, 0xC6, req.header.params, 4));
        assert_eq!(f32::from_le_bytes(p.try_into().unwrap()), 87.0);
        // A smaller buffer gets a shorter answer.
        let mut small = Request::query_camera_time();
        small.header.length = 6;
        assert_eq!(exchange(&mut s, &small).await.0.length, 6);

        // Load with a payload: flags 2, echo of the path; not found: length 0.
        let path = r"I:\DCIM\100PHOTO\IMG_0001.RAW";
        let req = Request::load_file(path).unwrap();
        let (h, p) = exchange(&mut s, &req).await;
        assert_eq!((h.flags, h.length as usize), (2, path.len() + 1));
        assert_eq!(p, req.payload);
        let (h, _) = exchange(&mut s, &Request::query_content_length()).await;
        assert_eq!(h.length, 4);
        // Chunks: full until the end, then the short rest; offsets honoured; nothing past the end.
        let total = data.len() as u32;
        let chunk = 2 * 1024 * 1024;
        let mut got = Vec::new();
        let mut offset = 0;
        while offset < total {
            let (h, p) = exchange(&mut s, &Request::download(offset, chunk)).await;
            assert_eq!(h.flags, 3);
            assert_eq!(h.offset(), offset);
            assert_eq!(h.length, chunk.min(total - offset));
            got.extend_from_slice(&p);
            offset += h.length;
        }
        assert_eq!(got, data);
        assert_eq!(exchange(&mut s, &Request::download(total, chunk)).await.0.length, 0);
        // A buffer larger than 2 MiB is served whole.
        let (h, p) = exchange(&mut s, &Request::download(1, total)).await;
        assert_eq!((h.length, &p[..]), (total - 1, &data[1..]));

        let (h, p) = exchange(&mut s, &Request::load_file(r"I:\MISSING.TXT").unwrap()).await;
        assert_eq!((h.flags, h.length, p.len()), (2, 0, 0));
        // Nothing loaded any more.
        let (_, p) = exchange(&mut s, &Request::query_content_length()).await;
        assert_eq!(p, [0, 0, 0, 0]);

        // Load without payload (flags 1, length 0): flags 3, length 0.
        let (h, _) = exchange(&mut s, &Request::load_hardware_info()).await;
        assert_eq!((h.flags, h.length), (3, 0));
        // Picture load: echo of `<id><fmt>\0`; the blob has the 4-byte prefix.
        let (_, list) = {
            exchange(&mut s, &Request::load_picture_list()).await;
            exchange(&mut s, &Request::download(0, 4096)).await
        };
        let id = camctl_lytro::wire::PictureList::decode(&list).unwrap().entries[0].id.clone();
        let req = Request::load_picture(&id, PictureFormat::Raw).unwrap();
        let (h, p) = exchange(&mut s, &req).await;
        assert_eq!((h.length as usize, p), (id.len() + 2, req.payload.clone()));
        let (_, p) = exchange(&mut s, &Request::query_content_length()).await;
        assert_eq!(u32::from_le_bytes(p.try_into().unwrap()), total + 4);
        let (_, p) = exchange(&mut s, &Request::download(4, 100)).await;
        assert_eq!(p, data[..100]);

        // Unknown command with payload: echoed; without: empty.
        let odd = Request::with_payload(0xC3, 9, b"abc".to_vec()).unwrap();
        let (h, p) = exchange(&mut s, &odd).await;
        assert_eq!((h.command, h.sub(), h.flags, &p[..]), (0xC3, 9, 2, &b"abc"[..]));
        let (h, _) = exchange(&mut s, &Request::buffer(cmd::QUERY, 0x0A, 100)).await;
        assert_eq!(h.length, 0);
    }
}

#[tokio::test]
async fn loaded_blob_is_per_connection() {
    let (_dir, emu, data) = card_emulator().await;
    let mut a = raw(emu.command_port).await;
    let mut b = raw(emu.command_port).await;
    exchange(&mut a, &Request::load_file(r"I:\DCIM\100PHOTO\IMG_0001.RAW").unwrap()).await;
    exchange(&mut b, &Request::load_hardware_info()).await;
    let (_, pa) = exchange(&mut a, &Request::download(0, 10)).await;
    let (_, pb) = exchange(&mut b, &Request::query_content_length()).await;
    assert_eq!(pa, data[..10]);
    assert_eq!(u32::from_le_bytes(pb.try_into().unwrap()), 644);
}

#[tokio::test]
async fn malformed_frames_close_only_that_connection() {
    let (_dir, emu, _) = card_emulator().await;
    let mut good = client(&emu).await;
    assert_eq!(good.battery().await.unwrap(), 87.0);

    // Bad magic.
    let mut s = raw(emu.command_port).await;
    let mut frame = Request::query_battery().to_bytes();
    frame[0] = 0x00;
    s.write_all(&frame).await.unwrap();
    assert_closed(&mut s).await;

    // Huge payload length.
    let mut s = raw(emu.download_port).await;
    let huge = Header::request(cmd::LOAD, 1, 0, 0xFFFF_FFF0);
    s.write_all(&huge.encode()).await.unwrap();
    s.write_all(&[0x41; 1000]).await.unwrap();
    assert_closed(&mut s).await;

    // Truncated header, truncated payload, then EOF.
    let mut s = raw(emu.command_port).await;
    s.write_all(&frame[..10]).await.unwrap();
    s.shutdown().await.unwrap();
    assert_closed(&mut s).await;
    let mut s = raw(emu.command_port).await;
    let req = Request::load_file("I:\\abc").unwrap().to_bytes();
    s.write_all(&req[..req.len() - 2]).await.unwrap();
    s.shutdown().await.unwrap();
    assert_closed(&mut s).await;

    // Random garbage at the callback port is ignored; it keeps sending heartbeats.
    let mut cb = raw(emu.callback_port).await;
    cb.write_all(&pseudo_random(4096, 3)).await.unwrap();

    // The existing session and a new one still work.
    assert_eq!(good.battery().await.unwrap(), 87.0);
    let mut fresh = client(&emu).await;
    assert_eq!(fresh.picture_list().await.unwrap().entries.len(), 1);
    let mut b = [0u8; 22];
    cb.read_exact(&mut b).await.unwrap();
}

#[tokio::test]
async fn client_rejects_a_lying_camera() {
    // A fake camera answering with the wrong command, then with an oversized chunk.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        for reply in [0xC4u16, 0xC6] {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut head = [0u8; HEADER_LEN];
            s.read_exact(&mut head).await.unwrap();
            let req = Header::decode(&head).unwrap();
            let mut resp = req.response(4);
            resp.command = reply;
            if reply == 0xC6 {
                resp.length = 1 << 30;
            }
            let _ = s.write_all(&resp.encode()).await;
            let _ = s.write_all(&[0; 4]).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let config = ClientConfig { command_port: port, keepalive: None, ..ClientConfig::default() };
    let mut c = Client::connect("127.0.0.1", config.clone()).await.unwrap();
    assert!(matches!(c.battery().await, Err(Error::Protocol(_))));
    // The pairing is lost: later calls fail fast instead of reading the wrong answers.
    assert!(matches!(c.battery().await, Err(Error::Poisoned)));
    let mut c = Client::connect("127.0.0.1", config).await.unwrap();
    assert!(matches!(c.battery().await, Err(Error::Read(camctl_core::io::ReadError::TooLarge { .. }))));
}

/// A callback server that sends `stream` in pieces of `piece` bytes, flushing each.
async fn fake_callbacks(stream: Vec<u8>, piece: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.set_nodelay(true).unwrap();
        for p in stream.chunks(piece) {
            s.write_all(p).await.unwrap();
            s.flush().await.unwrap();
            tokio::task::yield_now().await;
        }
    });
    port
}

#[tokio::test]
async fn callback_stream_split_across_reads() {
    let (_dir, emu, _) = card_emulator().await;
    let mut stream = Vec::new();
    for (name, params) in [
        ("HeartbeatTick", vec!["tick"]),
        ("SelfTimerTick", vec!["2"]),
        ("ShutterPressed", vec!["CLICK"]),
        ("NewPictureAvailable", vec!["sha1-0123456789abcdef0123456789abcdef01234567"]),
        ("ZoomLevelChanged", vec!["3.5"]),
    ] {
        stream.extend(encode_callback(name, &params));
    }
    // An over-long message in the middle is skipped; the stream goes on.
    stream.extend(std::iter::repeat_n(b'x', 10_000));
    stream.push(0);
    stream.extend(encode_callback("PictureDeleted", &["sha1-1"]));
    for piece in [1, stream.len()] {
        let port = fake_callbacks(stream.clone(), piece).await;
        let config = ClientConfig { callback_port: port, ..client_config(&emu) };
        let mut c = Client::connect("127.0.0.1", config).await.unwrap();
        let mut names = Vec::new();
        while let Some(cb) = c.next_callback().await.unwrap() {
            names.push(cb.to_string());
        }
        assert_eq!(
            names,
            [
                "[HeartbeatTick] tick",
                "[SelfTimerTick] 2",
                "[ShutterPressed] CLICK",
                "[NewPictureAvailable] sha1-0123456789abcdef0123456789abcdef01234567",
                "[ZoomLevelChanged] 3.5",
                "[PictureDeleted] sha1-1",
            ],
            "piece {piece}"
        );
    }
}

#[tokio::test]
async fn idle_power_off_drops_everything() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start_with(camctl_lytro::emulator::EmulatorConfig {
        idle_power_off: Duration::from_millis(400),
        ..config(dir.path())
    })
    .await;
    let mut c =
        Client::connect("127.0.0.1", ClientConfig { keepalive: None, ..client_config(&emu) }).await.unwrap();
    c.subscribe().await.unwrap();
    // Activity postpones it.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.battery().await.unwrap();
    }
    // Callbacks flowing (heartbeats) are not active use: the camera switches off.
    let Running { task, command_port, .. } = &emu;
    let served = tokio::time::timeout(Duration::from_secs(5), async {
        while !task.is_finished() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(served.is_ok(), "emulator did not power off");
    assert!(c.battery().await.is_err());
    let end = tokio::time::timeout(Duration::from_secs(3), async {
        while let Ok(Some(_)) = c.next_callback().await {}
    })
    .await;
    assert!(end.is_ok(), "callback stream still open");
    assert!(TcpStream::connect(("127.0.0.1", *command_port)).await.is_err(), "still accepting");
}

#[tokio::test]
async fn keepalive_prevents_power_off() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start_with(camctl_lytro::emulator::EmulatorConfig {
        idle_power_off: Duration::from_millis(500),
        ..config(dir.path())
    })
    .await;
    let config = ClientConfig { keepalive: Some(Duration::from_millis(150)), ..client_config(&emu) };
    let mut c = Client::connect("127.0.0.1", config).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!emu.task.is_finished(), "powered off despite the keep-alive");
    assert!(c.idle_for() < Duration::from_millis(500));
    assert_eq!(c.battery().await.unwrap(), 87.0);
}
