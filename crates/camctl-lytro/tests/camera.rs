//! `camctl_core::Camera` for Lytro against the emulator, driven only through its URL.

mod common;

use std::time::Duration;

use camctl_core::{Camera, CameraUrl, Error as CoreError};
use camctl_lytro::{LytroCamera, PictureFormat};
use common::start;

#[tokio::test]
async fn url_info_list_download_capture_settings_events() {
    let dir = tempfile::tempdir().unwrap();
    camctl_core::media::write_sample_pictures(dir.path(), 2).unwrap();
    let emu = start(dir.path()).await;
    let url: CameraUrl = emu.url.parse().unwrap();
    assert_eq!(url.scheme, "lytro");
    assert_eq!(url.option_u16("callback_port").unwrap(), Some(emu.callback_port));
    assert_eq!(url.option_u16("download_port").unwrap(), Some(emu.download_port));
    let mut cam = LytroCamera::connect(&url).await.unwrap();

    let info = cam.info().await.unwrap();
    assert_eq!(
        (info.protocol.as_str(), info.serial.as_str(), info.battery),
        ("lytro", "A123456789", Some(87))
    );

    let items = cam.list_media().await.unwrap();
    let paths: Vec<&str> = items.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(paths, ["DCIM/100PHOTO/IMG_0001.jpg", "DCIM/100PHOTO/IMG_0002.jpg"]);
    let original = std::fs::read(dir.path().join("IMG_0001.JPG")).unwrap();
    assert_eq!(items[0].size, original.len() as u64);
    assert_eq!(items[0].id, r"I:\DCIM\100PHOTO\IMG_0001.JPG");
    let mut out = Vec::new();
    assert_eq!(cam.download(&items[0], 0, &mut out).await.unwrap(), items[0].size);
    assert_eq!(out, original);
    let mut tail = Vec::new();
    cam.download(&items[0], 100, &mut tail).await.unwrap();
    assert_eq!(tail, original[100..]);

    cam.set_formats(&PictureFormat::ALL);
    let all = cam.list_media().await.unwrap();
    assert_eq!(all.len(), 10);
    let suffixes: Vec<&str> = all[..5].iter().map(|i| i.path.rsplit_once('.').unwrap().1).collect();
    assert_eq!(suffixes, ["jpg", "raw", "txt", "128", "stk"]);
    assert_eq!(all[1].size, camctl_lytro::wire::RAW_LEN as u64);
    let only_raw = cam.list_formats(&[PictureFormat::Raw]).await.unwrap();
    assert_eq!(only_raw.len(), 2);

    cam.set_formats(&[PictureFormat::Jpeg, PictureFormat::Metadata]);
    let new = cam.capture().await.unwrap();
    let new_paths: Vec<&str> = new.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(new_paths, ["DCIM/100PHOTO/IMG_0003.jpg", "DCIM/100PHOTO/IMG_0003.txt"]);
    // The capture's callbacks remain available as events.
    let e1 = cam.next_event().await.unwrap().unwrap();
    let e2 = cam.next_event().await.unwrap().unwrap();
    assert_eq!((e1.name.as_str(), e1.detail.as_str()), ("ShutterPressed", "CLICK"));
    assert_eq!(e2.name, "NewPictureAvailable");
    assert!(e2.detail.starts_with("sha1-"));

    let settings = cam.settings().await.unwrap();
    assert_eq!(settings.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(), ["camera_time", "battery"]);
    assert_eq!(settings[0].value, "2010-01-01 00:00:00");
    let set = cam.set_setting("camera_time", "2023-04-05 06:07:08").await.unwrap();
    assert!(set.value.starts_with("2023-04-05 06:07:0"), "{}", set.value);
    assert!(cam.set_setting("camera_time", "now").await.is_ok());
    assert!(matches!(cam.set_setting("camera_time", "yesterday").await, Err(CoreError::InvalidValue(_))));
    assert!(matches!(cam.set_setting("battery", "100").await, Err(CoreError::InvalidValue(_))));
    assert!(matches!(cam.setting("iso").await, Err(CoreError::NotFound(_))));
    assert_eq!(cam.setting("battery").await.unwrap().value, "87");
    cam.close().await.unwrap();
}

#[tokio::test]
async fn url_options() {
    let url: CameraUrl = "lytro://10.100.1.1?keepalive=0&timeout=3&pipeline=4&formats=all".parse().unwrap();
    let (c, f) = LytroCamera::options(&url).unwrap();
    assert_eq!((c.command_port, c.callback_port, c.download_port), (5678, 5677, Some(5679)));
    assert_eq!((c.keepalive, c.timeout, c.pipeline), (None, Duration::from_secs(3), 4));
    assert_eq!(f, PictureFormat::ALL);
    for bad in ["ptpip://h", "lytro://h?formats=png", "lytro://h?callback_port=x", "lytro://h?keepalive=-1"] {
        assert!(LytroCamera::options(&bad.parse().unwrap()).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn unreachable_camera_names_protocol_host_and_port() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url: CameraUrl = format!("lytro://127.0.0.1:{port}").parse().unwrap();
    let err = LytroCamera::connect(&url).await.err().expect("unreachable");
    assert!(matches!(err, CoreError::Unreachable { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("no Lytro camera at 127.0.0.1:{port}: connection refused"));
}
