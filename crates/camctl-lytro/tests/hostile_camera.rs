//! Hostile cameras against the real client, over real sockets: a fake Lytro camera in each test
//! speaks just enough of the protocol, then misbehaves. Each test asserts the bound the client keeps.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use camctl_core::io::Floor;
use camctl_lytro::client::{CALLBACK_QUEUE, Client, ClientConfig, MAX_CALLBACK_BYTES};
use camctl_lytro::wire::{HEADER_LEN, Header, cmd, encode_callback};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Generous overall limit for one test: a hang fails instead of blocking CI.
const DEADLINE: Duration = Duration::from_secs(60);

#[derive(Clone, Copy)]
enum Hostile {
    /// A 256 MiB picture list.
    HugeList,
    /// A picture list under the byte cap holding 70,000 (bogus, empty) 96-byte entries.
    ManyEntries,
    /// Every chunk answered with one byte.
    OneByteChunks,
    /// A chunk announced whole, then one byte every 20 ms.
    Trickle,
}

struct Fake {
    port: u16,
    downloads: Arc<AtomicU64>,
}

async fn fake(hostile: Hostile) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let downloads = Arc::new(AtomicU64::new(0));
    let count = downloads.clone();
    tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let _ = serve(s, hostile, count).await;
    });
    Fake { port, downloads }
}

async fn serve(mut s: TcpStream, hostile: Hostile, downloads: Arc<AtomicU64>) -> std::io::Result<()> {
    let mut list = Vec::new();
    for v in [1u32, 0x60, 0] {
        list.extend_from_slice(&v.to_le_bytes());
    }
    list.resize(12 + 70_000 * 0x60, 0);
    loop {
        let mut head = [0u8; HEADER_LEN];
        s.read_exact(&mut head).await?;
        let req = Header::decode(&head).unwrap();
        let mut payload = vec![0u8; req.payload_len() as usize];
        s.read_exact(&mut payload).await?;
        let answer: Vec<u8> = match req.command {
            cmd::LOAD => payload.clone(),
            cmd::QUERY => {
                let size: u32 = match hostile {
                    Hostile::HugeList => 256 << 20,
                    Hostile::ManyEntries => list.len() as u32,
                    _ => 1 << 20,
                };
                size.to_le_bytes().to_vec()
            }
            cmd::DOWNLOAD => {
                downloads.fetch_add(1, Ordering::Relaxed);
                match hostile {
                    Hostile::Trickle => {
                        s.write_all(&req.response(req.length).encode()).await?;
                        loop {
                            s.write_all(b"t").await?;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                    Hostile::ManyEntries => {
                        let from = (req.offset() as usize).min(list.len());
                        list[from..(from + req.length as usize).min(list.len())].to_vec()
                    }
                    _ => vec![b'x'],
                }
            }
            _ => Vec::new(),
        };
        let mut frame = req.response(answer.len() as u32).encode().to_vec();
        frame.extend_from_slice(&answer);
        s.write_all(&frame).await?;
    }
}

fn config(port: u16) -> ClientConfig {
    ClientConfig {
        command_port: port,
        download_port: None,
        keepalive: None,
        floor: Some(Floor { min_bytes: 1000, window: Duration::from_secs(1) }),
        timeout: Duration::from_secs(30),
        ..ClientConfig::default()
    }
}

#[tokio::test]
async fn huge_picture_list_is_refused_before_reading_it() {
    tokio::time::timeout(DEADLINE, async {
        let f = fake(Hostile::HugeList).await;
        let mut c = Client::connect("127.0.0.1", config(f.port)).await.unwrap();
        let err = c.picture_list().await.unwrap_err();
        assert!(err.to_string().contains("picture list of 268435456 bytes refused"), "{err}");
        assert_eq!(f.downloads.load(Ordering::Relaxed), 0, "not one chunk asked for");
    })
    .await
    .expect("deadline");
}

#[tokio::test]
async fn one_byte_chunks_are_given_up_after_a_bounded_number() {
    tokio::time::timeout(DEADLINE, async {
        let f = fake(Hostile::OneByteChunks).await;
        let mut c = Client::connect("127.0.0.1", config(f.port)).await.unwrap();
        let mut out = Vec::new();
        let err = c.download_file(r"I:\DCIM\100PHOTO\IMG_0001.RAW", 0, &mut out).await.unwrap_err();
        assert!(err.to_string().contains("tiny chunks"), "{err}");
        let asked = f.downloads.load(Ordering::Relaxed);
        assert!(asked <= 100, "{asked} chunk requests");
    })
    .await
    .expect("deadline");
}

#[tokio::test]
async fn trickling_chunk_fails_with_the_progress_floor() {
    tokio::time::timeout(DEADLINE, async {
        let f = fake(Hostile::Trickle).await;
        let mut c = Client::connect("127.0.0.1", config(f.port)).await.unwrap();
        let mut out = Vec::new();
        let err = c.download_file(r"I:\DCIM\100PHOTO\IMG_0001.RAW", 0, &mut out).await.unwrap_err();
        assert!(err.to_string().contains("transfer too slow: fewer than 1000 bytes in 1 s"), "{err}");
    })
    .await
    .expect("deadline");
}

#[tokio::test]
async fn callback_flood_is_bounded_in_bytes_and_entries() {
    tokio::time::timeout(DEADLINE, async {
        let cmd_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cb_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut config = config(cmd_listener.local_addr().unwrap().port());
        config.callback_port = cb_listener.local_addr().unwrap().port();
        config.callback_watchdog = None;
        tokio::spawn(async move {
            let (_cmd, _) = cmd_listener.accept().await.unwrap();
            let (mut s, _) = cb_listener.accept().await.unwrap();
            // Fat messages: many tiny parameters (each one a String in memory), near the line cap.
            let params: Vec<&str> = vec!["p"; 1900];
            let fat = encode_callback("ShutterPressed", &params);
            for _ in 0..5000 {
                if s.write_all(&fat).await.is_err() {
                    return;
                }
            }
            // Then junk, which is skipped (and logged rate-limited), and the end.
            let _ = s.write_all(&[0xffu8; 4096]).await;
        });
        let mut c = Client::connect("127.0.0.1", config).await.unwrap();
        c.subscribe().await.unwrap();
        let mut got = 0u64;
        loop {
            let (entries, bytes) = c.queued_callbacks();
            assert!(entries <= CALLBACK_QUEUE, "{entries} callbacks queued");
            assert!(bytes <= MAX_CALLBACK_BYTES, "{bytes} bytes of callbacks queued");
            match c.next_callback().await {
                Ok(Some(_)) => got += 1,
                Ok(None) | Err(_) => break,
            }
        }
        assert!(got > 0);
    })
    .await
    .expect("deadline");
}

#[tokio::test]
async fn floor_url_option_is_checked() {
    let url = "lytro://127.0.0.1?floor=2048/10".parse().unwrap();
    let (config, _) = camctl_lytro::LytroCamera::options(&url).unwrap();
    assert_eq!(config.floor, Some(Floor { min_bytes: 2048, window: Duration::from_secs(10) }));
    let url = "lytro://127.0.0.1?floor=0".parse().unwrap();
    assert_eq!(camctl_lytro::LytroCamera::options(&url).unwrap().0.floor, None);
    let url = "lytro://127.0.0.1?floor=fast".parse().unwrap();
    let err = camctl_lytro::LytroCamera::options(&url).err().unwrap();
    assert!(err.to_string().contains("floor=fast"), "{err}");
}

#[tokio::test]
async fn picture_list_with_too_many_entries_is_refused() {
    tokio::time::timeout(DEADLINE, async {
        let f = fake(Hostile::ManyEntries).await;
        let mut c = Client::connect("127.0.0.1", config(f.port)).await.unwrap();
        let err = c.picture_list().await.unwrap_err();
        assert!(err.to_string().contains("picture list of 70000 entries refused"), "{err}");
    })
    .await
    .expect("deadline");
}
