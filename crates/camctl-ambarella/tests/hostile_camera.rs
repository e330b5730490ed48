//! Hostile cameras against the real client, over real sockets: a fake Yi camera in each test speaks
//! just enough of the remote API, then misbehaves. Each test asserts the bound the client keeps.

use std::time::Duration;

use camctl_ambarella::client::{Client, ClientConfig, MAX_QUEUED_EVENT_BYTES, MAX_QUEUED_EVENTS};
use camctl_ambarella::wire::JsonStream;
use camctl_core::io::Floor;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Generous overall limit for one test: a hang fails instead of blocking CI.
const DEADLINE: Duration = Duration::from_secs(60);

#[derive(Clone, Copy)]
enum Hostile {
    /// Before answering msg 1: one notification near 1 MiB, then 2,000 of 16 KiB.
    Flood,
    /// The first file is followed by extra bytes on the data socket.
    ExtraBytes,
    /// Instead of answering msg 1: endless undecodable objects.
    Junk,
    /// The first file is sent short (half its announced bytes), its completion reported anyway.
    FewerBytes,
    /// The file announced big, then one byte every 20 ms.
    Trickle,
}

/// File `k` (1-based) of the fake camera.
fn file(k: usize) -> Vec<u8> {
    (0..1000).map(|i| (i * 7 + k * 31) as u8).collect()
}

struct Fake {
    cmd: String,
    data: String,
}

async fn fake(hostile: Hostile) -> Fake {
    let cmd = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let data = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addrs =
        Fake { cmd: cmd.local_addr().unwrap().to_string(), data: data.local_addr().unwrap().to_string() };
    let (data_tx, data_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, _)) = data.accept().await {
            if data_tx.send(s).is_err() {
                return;
            }
        }
    });
    tokio::spawn(async move {
        let (s, _) = cmd.accept().await.unwrap();
        let _ = serve(s, data_rx, hostile).await;
    });
    addrs
}

async fn send(s: &mut TcpStream, v: Value) -> std::io::Result<()> {
    s.write_all(v.to_string().as_bytes()).await
}

async fn serve(
    mut s: TcpStream,
    mut data_rx: mpsc::UnboundedReceiver<TcpStream>,
    hostile: Hostile,
) -> std::io::Result<()> {
    let mut stream = JsonStream::new(1 << 20);
    let mut buf = vec![0u8; 4096];
    let mut data: Option<TcpStream> = None;
    let mut files = 0usize;
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.push(&buf[..n]);
        let mut requests = Vec::new();
        while let Ok(Some(o)) = stream.next_object() {
            requests.push(serde_json::from_slice::<Value>(o).unwrap());
        }
        for req in requests {
            let id = req["msg_id"].as_i64().unwrap();
            match id {
                257 => send(&mut s, json!({"rval": 0, "msg_id": 257, "param": 1})).await?,
                1 if matches!(hostile, Hostile::Junk) => loop {
                    s.write_all(b"{\"no_msg_id\": \"\x1b[2J junk\"}").await?;
                },
                1 => {
                    if let Hostile::Flood = hostile {
                        let big = "x".repeat((1 << 20) - 100);
                        send(&mut s, json!({"msg_id": 7, "type": "big", "param": big})).await?;
                        let fat = "y".repeat(16 << 10);
                        for i in 0..2000 {
                            send(&mut s, json!({"msg_id": 7, "type": format!("n{i}"), "param": fat})).await?;
                        }
                    }
                    send(&mut s, json!({"rval": 0, "msg_id": 1, "param": "ok"})).await?;
                }
                1285 => {
                    files += 1;
                    // The connection the client uses for this file: a new one when it reset the old.
                    if data.is_none()
                        || files > 1 && matches!(hostile, Hostile::ExtraBytes | Hostile::FewerBytes)
                    {
                        data = data_rx.recv().await;
                    }
                    let d = data.as_mut().unwrap();
                    let body = file(files);
                    let size = if let Hostile::Trickle = hostile { 1_000_000 } else { body.len() };
                    send(&mut s, json!({"rval": 0, "msg_id": 1285, "size": size, "rem_size": size})).await?;
                    match hostile {
                        Hostile::Trickle => loop {
                            if d.write_all(b"t").await.is_err() {
                                return Ok(());
                            }
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        },
                        Hostile::ExtraBytes if files == 1 => {
                            let mut sent = body.clone();
                            sent.extend_from_slice(b"EXTRA BYTES AFTER THE FILE");
                            d.write_all(&sent).await?;
                        }
                        Hostile::FewerBytes if files == 1 => d.write_all(&body[..500]).await?,
                        _ => d.write_all(&body).await?,
                    }
                    let done = json!({"msg_id": 7, "type": "get_file_complete",
                        "param": [{"bytes sent": size}, {"md5sum": "0"}]});
                    send(&mut s, done).await?;
                }
                _ => send(&mut s, json!({"rval": 0, "msg_id": id})).await?,
            }
        }
    }
}

async fn client(f: &Fake, config: ClientConfig) -> Client {
    Client::connect(&f.cmd, &f.data, config).await.unwrap()
}

#[tokio::test]
async fn notification_flood_is_bounded_in_bytes_and_entries() {
    tokio::time::timeout(DEADLINE, async {
        let f = fake(Hostile::Flood).await;
        let mut c = client(&f, ClientConfig::default()).await;
        assert_eq!(c.get_setting("x").await.unwrap(), "ok");
        let (entries, bytes) = c.queued_events();
        assert!(bytes <= MAX_QUEUED_EVENT_BYTES, "{bytes} bytes queued");
        assert!(entries <= MAX_QUEUED_EVENTS && entries > 0, "{entries} events queued");
        // The oldest went; the newest is kept; the near-1 MiB one was never queued.
        let mut last = None;
        while let Some(n) = c.try_next_event() {
            assert_ne!(n.kind, "big");
            assert!(n.raw.get("param").is_none(), "param is stored once");
            last = Some(n.kind);
        }
        assert_eq!(last.as_deref(), Some("n1999"));
    })
    .await
    .expect("deadline");
}

#[tokio::test]
async fn extra_bytes_after_a_file_never_start_the_next_one() {
    tokio::time::timeout(DEADLINE, async {
        let f = fake(Hostile::ExtraBytes).await;
        let config = ClientConfig { verify_md5: false, ..ClientConfig::default() };
        let mut c = client(&f, config).await;
        let mut first = Vec::new();
        c.download("/tmp/fuse_d/DCIM/100MEDIA/A.JPG", 0, &mut first).await.unwrap();
        assert_eq!(first, file(1));
        let mut second = Vec::new();
        c.download("/tmp/fuse_d/DCIM/100MEDIA/B.JPG", 0, &mut second).await.unwrap();
        assert_eq!(second, file(2), "the second file is byte-exact");
    })
    .await
    .expect("deadline");
}

#[tokio::test]
async fn trickling_data_fails_with_the_progress_floor() {
    tokio::time::timeout(DEADLINE, async {
        let f = fake(Hostile::Trickle).await;
        let floor = Some(Floor { min_bytes: 1000, window: Duration::from_secs(1) });
        let config = ClientConfig { floor, timeout: Duration::from_secs(30), ..ClientConfig::default() };
        let mut c = client(&f, config).await;
        let mut out = Vec::new();
        let err = c.download("/tmp/fuse_d/DCIM/100MEDIA/A.JPG", 0, &mut out).await.unwrap_err();
        assert!(err.to_string().contains("transfer too slow: fewer than 1000 bytes in 1 s"), "{err}");
        assert!(out.len() < 1000);
    })
    .await
    .expect("deadline");
}

#[tokio::test]
async fn floor_url_option_is_checked() {
    let url = "yi://127.0.0.1:1?floor=fast".parse().unwrap();
    let err = camctl_ambarella::YiCamera::connect(&url).await.err().unwrap();
    assert!(err.to_string().contains("floor=fast"), "{err}");
}

#[tokio::test]
async fn a_short_file_resets_the_data_connection_before_the_next() {
    tokio::time::timeout(DEADLINE, async {
        let f = fake(Hostile::FewerBytes).await;
        let config =
            ClientConfig { verify_md5: false, timeout: Duration::from_secs(1), ..ClientConfig::default() };
        let mut c = client(&f, config).await;
        let mut first = Vec::new();
        let err = c.download("/tmp/fuse_d/DCIM/100MEDIA/A.JPG", 0, &mut first).await.unwrap_err();
        assert!(err.to_string().contains("file data"), "{err}");
        // The first file's late completion is not taken for the second one's, and the second file comes
        // whole on a new data connection.
        let mut second = Vec::new();
        c.download("/tmp/fuse_d/DCIM/100MEDIA/B.JPG", 0, &mut second).await.unwrap();
        assert_eq!(second, file(2));
    })
    .await
    .expect("deadline");
}

#[tokio::test]
async fn endless_junk_objects_end_the_session_with_a_clear_error() {
    tokio::time::timeout(DEADLINE, async {
        let f = fake(Hostile::Junk).await;
        let mut c = client(&f, ClientConfig::default()).await;
        let err = c.get_setting("x").await.unwrap_err();
        assert!(err.to_string().contains("undecodable objects in a row"), "{err}");
    })
    .await
    .expect("deadline");
}
