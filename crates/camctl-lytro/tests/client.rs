//! The client against the emulator over real sockets on 127.0.0.1: every command.

mod common;

use std::time::Duration;

use camctl_lytro::client::{Client, ClientConfig};
use camctl_lytro::wire::{
    CallbackEvent, CameraTime, HardwareInfo, RAW_LEN, THUMBNAIL_LEN, parse_calibration, split_stack,
};
use camctl_lytro::{Error, PictureFormat};
use common::{client, client_config, pseudo_random, start};

/// A card with one real JPEG (IMG_0001) and one picture that only has a 3 MiB RAW file (IMG_0002).
fn card(root: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
    let jpeg = camctl_core::media::sample_jpeg(64, 64, 9);
    std::fs::write(root.join("IMG_0001.JPG"), &jpeg).unwrap();
    let raw = pseudo_random(3 << 20, 2);
    std::fs::write(root.join("IMG_0002.RAW"), &raw).unwrap();
    (jpeg, raw)
}

async fn fetch(c: &mut Client, id: &str, f: PictureFormat) -> Vec<u8> {
    let mut out = Vec::new();
    let n = c.download_picture(id, f, 0, &mut out).await.unwrap();
    assert_eq!(n as usize, out.len());
    assert_eq!(c.picture_size(id, f).await.unwrap(), Some(n));
    out
}

#[tokio::test]
async fn hardware_info_battery_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let mut c = client(&emu).await;
    let hw: HardwareInfo = c.hardware_info().await.unwrap();
    assert_eq!(hw.serial, "A123456789");
    assert!(!hw.manufacturer.is_empty() && !hw.firmware.is_empty());
    assert_eq!(c.battery().await.unwrap(), 87.0);
    assert_eq!(c.camera_time().await.unwrap(), CameraTime::UNSET);
    let t = CameraTime::parse("2024-05-06 07:08:09").unwrap();
    assert_eq!(c.set_camera_time(&t).await.unwrap(), t);
    let now = c.camera_time().await.unwrap();
    assert!(now >= t && now.to_datetime().unwrap().minute == 8, "{now}");
    let bad = CameraTime { month: 13, ..t };
    assert!(matches!(c.set_camera_time(&bad).await, Err(Error::InvalidValue(_))));
    // The connection is still in step after all that.
    assert_eq!(c.battery().await.unwrap(), 87.0);
}

#[tokio::test]
async fn empty_media_dir_gets_sample_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("new");
    let emu = start(&media).await;
    let mut c = client(&emu).await;
    let list = c.picture_list().await.unwrap();
    assert_eq!(list.entries.len(), 3);
    assert_eq!(list.entries[0].camera_path("JPG"), r"I:\DCIM\100PHOTO\IMG_0001.JPG");
    assert!(media.join("IMG_0001.JPG").exists());
}

#[tokio::test]
async fn picture_list_and_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let (jpeg, raw) = card(dir.path());
    let emu = start(dir.path()).await;
    let mut c = client(&emu).await;
    let list = c.picture_list().await.unwrap();
    assert_eq!((list.version, list.entry_len, list.records.len()), (1, 128, 10));
    assert_eq!(list.entries.len(), 2);
    let (p1, p2) = (&list.entries[0], &list.entries[1]);
    assert_eq!(
        (p1.folder_number, p1.folder_postfix.as_str(), p1.file_prefix.as_str()),
        (100, "PHOTO", "IMG_")
    );
    assert_eq!((p1.file_number, p2.file_number), (1, 2));
    assert!(p1.id.starts_with("sha1-") && p1.id.len() == 45 && p1.id != p2.id);
    assert!(p1.taken().is_some());

    // Served from the files.
    assert_eq!(fetch(&mut c, &p1.id, PictureFormat::Jpeg).await, jpeg);
    assert_eq!(fetch(&mut c, &p2.id, PictureFormat::Raw).await, raw);
    // Generated.
    let gen_jpeg = fetch(&mut c, &p2.id, PictureFormat::Jpeg).await;
    assert_eq!(&gen_jpeg[..2], &[0xFF, 0xD8]);
    let gen_raw = fetch(&mut c, &p1.id, PictureFormat::Raw).await;
    assert_eq!(gen_raw.len(), RAW_LEN);
    let meta: serde_json::Value =
        serde_json::from_slice(&fetch(&mut c, &p1.id, PictureFormat::Metadata).await).unwrap();
    assert_eq!(meta["image"]["width"], 3280);
    assert_eq!(meta["picture"]["id"], p1.id.as_str());
    assert_eq!(fetch(&mut c, &p1.id, PictureFormat::Thumbnail).await.len(), THUMBNAIL_LEN);
    let stack = fetch(&mut c, &p1.id, PictureFormat::Stack).await;
    let frames = split_stack(&stack).unwrap();
    assert_eq!(frames.len(), 4);
    assert!(frames.iter().all(|f| f.starts_with(&[0xFF, 0xD8])));

    // The same bytes by camera path.
    for f in PictureFormat::ALL {
        let path = p1.camera_path(f.camera_extension());
        let mut by_path = Vec::new();
        c.download_file(&path.to_lowercase(), 0, &mut by_path).await.unwrap();
        assert_eq!(by_path, fetch(&mut c, &p1.id, f).await, "{f}");
        assert_eq!(c.file_size(&path).await.unwrap(), Some(by_path.len() as u64));
    }
    // Downloads through the command connection (no download port) give the same bytes.
    let mut c2 = Client::connect("127.0.0.1", ClientConfig { download_port: None, ..client_config(&emu) })
        .await
        .unwrap();
    assert_eq!(fetch(&mut c2, &p2.id, PictureFormat::Raw).await, raw);
}

#[tokio::test]
async fn chunking_pipelining_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    let (_, raw) = card(dir.path());
    let emu = start(dir.path()).await;
    let path = r"I:\DCIM\100PHOTO\IMG_0002.RAW";
    for (chunk, pipeline) in [(65_536, 1), (65_536, 4), (100_000, 3), (2 << 20, 2), (4 << 20, 1)] {
        let config = ClientConfig { chunk_size: chunk, pipeline, ..client_config(&emu) };
        let mut c = Client::connect("127.0.0.1", config).await.unwrap();
        let mut out = Vec::new();
        assert_eq!(c.download_file(path, 0, &mut out).await.unwrap(), raw.len() as u64);
        assert_eq!(out, raw, "chunk {chunk} pipeline {pipeline}");
        // Resume from an odd offset, and past the end.
        let mut tail = Vec::new();
        assert_eq!(
            c.download_file(path, 1_234_567, &mut tail).await.unwrap(),
            (raw.len() - 1_234_567) as u64
        );
        assert_eq!(tail, raw[1_234_567..]);
        assert_eq!(c.download_file(path, raw.len() as u64 + 5, &mut Vec::new()).await.unwrap(), 0);
    }
}

#[tokio::test]
async fn not_found_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    card(dir.path());
    let emu = start(dir.path()).await;
    let mut c = client(&emu).await;
    assert_eq!(c.file_size(r"I:\DCIM\100PHOTO\IMG_0099.JPG").await.unwrap(), None);
    assert!(matches!(c.download_file(r"I:\NOPE.TXT", 0, &mut Vec::new()).await, Err(Error::NotFound(_))));
    assert!(matches!(
        c.download_picture("sha1-none", PictureFormat::Jpeg, 0, &mut Vec::new()).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(c.picture_size("sha1-none", PictureFormat::Raw).await.unwrap(), None);
    assert!(matches!(
        c.download_compressed_raw("sha1-none", 0, &mut Vec::new()).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(c.battery().await.unwrap(), 87.0);
}

#[tokio::test]
async fn calibration_bundle_and_files() {
    let dir = tempfile::tempdir().unwrap();
    card(dir.path());
    let emu = start(dir.path()).await;
    let mut c = client(&emu).await;
    let bundle = c.calibration_data().await.unwrap();
    let files = parse_calibration(&bundle).unwrap();
    assert!(files.len() >= 3);
    assert_eq!(files[0].path, r"C:\T1CALIB\MLACALIBRATION.TXT");
    let mut by_path = Vec::new();
    c.download_file(&files[0].path, 0, &mut by_path).await.unwrap();
    assert_eq!(by_path, files[0].data);
}

#[tokio::test]
async fn take_picture_and_delete_with_callbacks() {
    let dir = tempfile::tempdir().unwrap();
    card(dir.path());
    let emu = start(dir.path()).await;
    let mut c = client(&emu).await;
    c.subscribe().await.unwrap();
    c.take_picture().await.unwrap();
    let mut seen = Vec::new();
    let id = loop {
        let cb =
            tokio::time::timeout(Duration::from_secs(30), c.next_callback()).await.unwrap().unwrap().unwrap();
        match cb.event() {
            CallbackEvent::HeartbeatTick => continue,
            CallbackEvent::NewPictureAvailable(id) => break id,
            e => seen.push(e),
        }
    };
    assert_eq!(seen, [CallbackEvent::ShutterPressed]);
    let list = c.picture_list().await.unwrap();
    let entry = list.entries.iter().find(|e| e.id == id).unwrap().clone();
    assert_eq!(entry.file_number, 3);
    assert!(dir.path().join("IMG_0003.JPG").exists());
    let jpeg = std::fs::read(dir.path().join("IMG_0003.JPG")).unwrap();
    let mut got = Vec::new();
    c.download_picture(&id, PictureFormat::Jpeg, 0, &mut got).await.unwrap();
    assert_eq!(got, jpeg);

    c.delete_picture(&entry).await.unwrap();
    let deleted = loop {
        let cb = c.next_callback().await.unwrap().unwrap();
        if let CallbackEvent::PictureDeleted(id) = cb.event() {
            break id;
        }
    };
    assert_eq!(deleted, id);
    assert!(c.picture_list().await.unwrap().entries.iter().all(|e| e.id != id));
    assert!(matches!(c.delete_picture(&entry).await, Err(Error::NotFound(_))));
}

#[tokio::test]
async fn heartbeats_arrive() {
    let dir = tempfile::tempdir().unwrap();
    card(dir.path());
    let emu = start(dir.path()).await;
    let mut c = client(&emu).await;
    for _ in 0..3 {
        let cb =
            tokio::time::timeout(Duration::from_secs(2), c.next_callback()).await.unwrap().unwrap().unwrap();
        assert_eq!(cb.to_string(), "[HeartbeatTick] tick");
    }
}
