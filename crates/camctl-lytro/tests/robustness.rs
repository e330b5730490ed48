//! Errors in the user's terms and files served as they are now: URL options, unreachable and foreign
//! ports, the camera time, and a picture file replaced between two pulls. Real sockets on 127.0.0.1
//! against the real emulator (or a listener that answers in another protocol).

mod common;

use camctl_core::time::DateTime;
use camctl_core::{Camera, CameraUrl, Error as CoreError};
use camctl_lytro::LytroCamera;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn url(s: &str) -> CameraUrl {
    s.parse().unwrap()
}

#[tokio::test]
async fn unknown_url_option_is_refused_before_any_packet() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let err =
        LytroCamera::connect(&url(&format!("lytro://{addr}?callbak_port=1"))).await.err().expect("refused");
    assert!(matches!(err, CoreError::InvalidValue(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("\"callbak_port\"")
            && text.contains("known: callback_port, download_port, formats, keepalive, pipeline, timeout"),
        "{text}"
    );
    // Nothing connected: the first connection the listener accepts is this one.
    let probe = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (_, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, probe.local_addr().unwrap());
}

/// A listener that answers the first request of every connection with `answer` and keeps the
/// connection open, or closes at once when `answer` is `None`.
async fn foreign_server(answer: Option<&'static [u8]>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((mut s, _)) = listener.accept().await else { return };
            let Some(answer) = answer else {
                drop(s);
                continue;
            };
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(answer).await;
            held.push(s);
        }
    });
    port
}

#[tokio::test]
async fn another_protocol_on_the_port_is_named_promptly() {
    // An SSH banner is shorter than a Lytro header: it must be refused on its first bytes, not after
    // waiting for 28. Then an HTTP error and an immediate close.
    for answer in [Some(&b"SSH-2.0-x\r\n"[..]), Some(&b"HTTP/1.1 400 Bad Request\r\n\r\n"[..]), None] {
        let port = foreign_server(answer).await;
        let u = url(&format!("lytro://127.0.0.1:{port}?download_port=0&keepalive=0"));
        let mut cam = LytroCamera::connect(&u).await.unwrap();
        let err = cam.info().await.expect_err("not a Lytro");
        assert!(matches!(err, CoreError::WrongProtocol { .. }), "{answer:?}: {err:?}");
        let text = err.to_string();
        assert!(text.starts_with(&format!("127.0.0.1:{port} is not a Lytro camera: ")), "{text}");
    }
}

#[tokio::test]
async fn camera_time_takes_now_as_local_time_and_refuses_unreal_dates() {
    let media = tempfile::tempdir().unwrap();
    let emu = common::start(media.path()).await;
    let mut cam = LytroCamera::connect(&url(&emu.url)).await.unwrap();
    for bad in ["2024-02-31 00:00:00", "2023-02-29T00:00:00", "2024-01-02T03:04:05.é", "soon", ""] {
        let err = cam.set_setting("camera_time", bad).await.unwrap_err();
        assert!(matches!(err, CoreError::InvalidValue(_)), "{bad}: {err:?}");
        assert!(err.to_string().contains("YYYY-MM-DD hh:mm:ss"), "{bad}: {err}");
    }
    let set = cam.set_setting("camera_time", "2024-02-29 12:00:00").await.unwrap();
    assert!(set.value.starts_with("2024-02-29 12:00:0"), "{}", set.value);
    let before = DateTime::now_local();
    let now = cam.set_setting("camera_time", "now").await.unwrap();
    let shown = DateTime::parse(&now.value).expect("a date");
    // The camera clock runs on after being set, so only the lower bound is exact.
    assert!(shown >= before && shown.year <= before.year + 1, "{before} <= {shown}");
    let err = cam.setting("nosuch").await.unwrap_err();
    assert!(err.to_string().contains("no setting 'nosuch' (Lytro has camera_time and battery)"), "{err}");
    cam.close().await.unwrap();
}

#[tokio::test]
async fn a_file_replaced_between_two_pulls_is_served_as_it_is_now() {
    let media = tempfile::tempdir().unwrap();
    let path = media.path().join("IMG_0001.JPG");
    let first = common::pseudo_random(300_000, 1);
    std::fs::write(&path, &first).unwrap();
    let emu = common::start(media.path()).await;
    let mut cam = LytroCamera::connect(&url(&emu.url)).await.unwrap();
    let items = cam.list_media().await.unwrap();
    let item = items.iter().find(|i| i.path.ends_with("IMG_0001.jpg")).expect("listed").clone();
    let pull = async |cam: &mut LytroCamera| {
        let mut out = Vec::new();
        cam.download(&item, 0, &mut out).await.unwrap();
        out
    };
    assert_eq!(pull(&mut cam).await, first);
    // Same name and size, other content; then longer than when the emulator scanned it.
    let second = common::pseudo_random(300_000, 2);
    std::fs::write(&path, &second).unwrap();
    assert_eq!(pull(&mut cam).await, second);
    let third = common::pseudo_random(450_001, 3);
    std::fs::write(&path, &third).unwrap();
    assert_eq!(pull(&mut cam).await, third);
    cam.close().await.unwrap();
}
