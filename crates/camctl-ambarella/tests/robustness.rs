//! Errors in the user's terms and files served as they are now: URL options, unreachable and foreign
//! ports, refusals while recording, dates, and MD5s of resumed and replaced files. Real sockets on
//! 127.0.0.1 against the real emulator (or a listener that answers in another protocol).

mod common;

use std::time::{Duration, SystemTime};

use camctl_ambarella::YiCamera;
use camctl_core::time::DateTime;
use camctl_core::{Camera, CameraUrl, Error as CoreError, MediaItem};
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

fn url(s: &str) -> CameraUrl {
    s.parse().unwrap()
}

async fn connect(u: &str) -> camctl_core::Result<YiCamera> {
    YiCamera::connect(&url(u)).await
}

#[tokio::test]
async fn unknown_url_option_is_refused_before_any_packet() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let err = connect(&format!("yi://{addr}?data_prot=1")).await.err().expect("refused");
    let text = err.to_string();
    assert!(matches!(err, CoreError::InvalidValue(_)), "{err:?}");
    assert!(text.contains("\"data_prot\"") && text.contains("known: data_port, timeout, verify"), "{text}");
    // Nothing connected: the first connection the listener accepts is this one.
    let probe = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (_, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, probe.local_addr().unwrap());
    // A bad value of a known option is named too.
    let err = connect(&format!("yi://{addr}?timeout=soon")).await.err().expect("refused");
    assert!(err.to_string().contains("timeout=soon"), "{err}");
}

#[tokio::test]
async fn a_closed_port_names_protocol_host_and_port() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = connect(&format!("yi://127.0.0.1:{port}")).await.err().expect("unreachable");
    assert!(matches!(err, CoreError::Unreachable { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("no Yi camera at 127.0.0.1:{port}: connection refused"));
}

/// A listener that answers every connection with `answer` (after the client's first bytes when
/// `wait_for_request`) and then keeps it open until the test ends, or closes at once when `answer` is
/// `None`.
async fn foreign_server(answer: Option<&'static [u8]>, wait_for_request: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((mut s, _)) = listener.accept().await else { return };
            let Some(answer) = answer else {
                drop(s);
                continue;
            };
            if wait_for_request {
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf).await;
            }
            let _ = s.write_all(answer).await;
            held.push(s);
        }
    });
    addr
}

#[tokio::test]
async fn another_protocol_on_the_port_is_named_promptly() {
    // Binary bytes, an HTTP answer to the JSON request, and an immediate close.
    for (answer, wait) in [
        (Some(&b"\x00\x01\x02\xffbinary"[..]), false),
        (Some(&b"HTTP/1.1 400 Bad Request\r\n\r\n"[..]), true),
        (Some(&br#"{"jsonrpc":"2.0","id":1}"#[..]), true),
        (None, false),
    ] {
        let addr = foreign_server(answer, wait).await;
        let err = connect(&format!("yi://{addr}")).await.err().expect("not a Yi");
        assert!(matches!(err, CoreError::WrongProtocol { .. }), "{answer:?}: {err:?}");
        let text = err.to_string();
        assert!(text.starts_with(&format!("{addr} is not a Yi camera: ")), "{text}");
        assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
    }
}

#[tokio::test]
async fn refusals_while_recording_say_why() {
    let emu = common::emulator().await;
    let mut cam = connect(&emu.url).await.unwrap();
    cam.start_recording().await.unwrap();
    let again = cam.start_recording().await.unwrap_err();
    assert_eq!(again.to_string(), "already recording");
    let photo = cam.capture().await.unwrap_err();
    assert_eq!(photo.to_string(), "stop the recording first");
    let set = cam.set_setting("video_standard", "PAL").await.unwrap_err();
    assert_eq!(set.to_string(), "stop the recording first");
    cam.stop_recording().await.unwrap();
    assert_eq!(cam.set_setting("video_standard", "PAL").await.unwrap().value, "PAL");
    assert_eq!(cam.capture().await.unwrap().len(), 1);
    cam.close().await.unwrap();
}

#[tokio::test]
async fn settings_refusals_name_what_is_allowed() {
    let emu = common::emulator().await;
    let mut cam = connect(&emu.url).await.unwrap();
    let err = cam.setting("nosuch").await.unwrap_err();
    assert!(matches!(err, CoreError::NotFound(_)), "{err:?}");
    assert!(err.to_string().contains("no setting 'nosuch' (see config list)"), "{err}");
    let err = cam.set_setting("nosuch", "1").await.unwrap_err();
    assert!(err.to_string().contains("no setting 'nosuch' (see config list)"), "{err}");
    let err = cam.set_setting("video_standard", "SECAM").await.unwrap_err();
    assert!(err.to_string().contains("use one of: NTSC, PAL"), "{err}");

    for bad in ["2024-02-31 10:00:00", "2023-02-29 00:00:00", "yesterday", "2024-01-02 25:00:00"] {
        let err = cam.set_setting("camera_clock", bad).await.unwrap_err();
        assert!(matches!(err, CoreError::InvalidValue(_)), "{bad}: {err:?}");
        assert!(err.to_string().contains("use YYYY-MM-DD hh:mm:ss"), "{bad}: {err}");
    }
    let err = cam.set_setting("camera_clock", "2040-01-01 00:00:00").await.unwrap_err();
    assert!(err.to_string().contains("2008 to 2037"), "{err}");
    let set = cam.set_setting("camera_clock", "2024-02-29T23:59:58").await.unwrap();
    assert_eq!(set.value, "2024-02-29 23:59:58");

    let before = DateTime::now_local();
    let now = cam.set_setting("camera_clock", "now").await.unwrap();
    let after = DateTime::now_local();
    let shown = DateTime::parse(&now.value).expect("a date");
    assert!(before <= shown && shown <= after, "{before} <= {shown} <= {after}");
    cam.close().await.unwrap();
}

async fn fetch(cam: &mut YiCamera, item: &MediaItem, offset: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let n = cam.download(item, offset, &mut out).await.unwrap();
    assert_eq!(n as usize, out.len());
    out
}

fn item(rel: &str, size: u64) -> MediaItem {
    MediaItem { path: rel.into(), size, modified: None, id: format!("/tmp/fuse_d/{rel}") }
}

#[tokio::test]
async fn the_reported_md5_is_of_the_whole_file_also_for_a_resumed_fetch() {
    let emu = common::emulator().await;
    let rel = "DCIM/100MEDIA/YDXJ0100.mp4";
    let data = common::pseudo_random(3 * 1024 * 1024 + 17, 5);
    std::fs::write(emu.media().join(rel), &data).unwrap();
    let mut cam = connect(&emu.url).await.unwrap();
    let it = item(rel, data.len() as u64);
    assert_eq!(cam.reported_md5(&it), None);
    assert_eq!(fetch(&mut cam, &it, 0).await, data);
    assert_eq!(cam.reported_md5(&it).as_deref(), Some(md5_hex(&data).as_str()));
    // A resume from past the first chunk: only the rest is sent, the MD5 is still the whole file's.
    let from = 1024 * 1024 + 3;
    assert_eq!(fetch(&mut cam, &it, from).await, &data[from as usize..]);
    assert_eq!(cam.reported_md5(&it).as_deref(), Some(md5_hex(&data).as_str()));
    cam.close().await.unwrap();
}

#[tokio::test]
async fn a_file_replaced_between_two_pulls_is_served_as_it_is_now() {
    let emu = common::emulator().await;
    let rel = "DCIM/100MEDIA/YDXJ0200.jpg";
    let path = emu.media().join(rel);
    let first = common::pseudo_random(200_000, 1);
    let second = common::pseudo_random(200_000, 2);
    // Same name, size and modification time: only the content differs.
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let write = |data: &[u8]| {
        let f = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(&path).unwrap();
        std::io::Write::write_all(&mut &f, data).unwrap();
        f.set_modified(mtime).unwrap();
    };
    write(&first);
    let mut cam = connect(&emu.url).await.unwrap();
    let it = item(rel, 200_000);
    assert_eq!(fetch(&mut cam, &it, 0).await, first);
    assert_eq!(cam.reported_md5(&it), Some(md5_hex(&first)));
    write(&second);
    // The client verifies whole-file downloads: a stale MD5 would fail this download.
    assert_eq!(fetch(&mut cam, &it, 0).await, second);
    assert_eq!(cam.reported_md5(&it), Some(md5_hex(&second)));
    assert_eq!(fetch(&mut cam, &it, 150_000).await, &second[150_000..]);
    assert_eq!(cam.reported_md5(&it), Some(md5_hex(&second)));
    cam.close().await.unwrap();
}
