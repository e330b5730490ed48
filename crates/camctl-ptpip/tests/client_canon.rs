//! camctl's Canon EOS client against the `canon-eos` emulator personality over 127.0.0.1: dialect,
//! properties with gphoto2's names, SetDevicePropValueEx, capture through RemoteRelease, polled events
//! and live view.

use std::path::Path;

use camctl_core::{Camera, Error as CoreError, SettingForm};
use camctl_ptpip::Dialect;
use camctl_ptpip::emulator::Personality;

mod common;

use common::emu::{Running, connect, walk, watch_until};
use common::within;

async fn start(dir: &Path) -> Running {
    Running::personality(dir, Personality::CanonEos).await
}

#[tokio::test]
async fn eos_settings_are_read_and_set_through_the_event_stream() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let emu = start(dir.path()).await;
        let mut cam = connect(&emu).await;
        assert_eq!(cam.dialect(), Dialect::CanonEos);
        let info = cam.info().await.unwrap();
        assert_eq!(info.manufacturer, "Canon Inc.");
        assert_eq!(info.battery, Some(100));
        assert!(info.extra.contains(&("dialect".into(), "canon".into())));

        let settings = cam.settings().await.unwrap();
        let keys: Vec<&str> = settings.iter().map(|s| s.key.as_str()).collect();
        for key in ["aperture", "shutterspeed", "iso", "exposurecompensation", "whitebalance", "imageformat"]
        {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
        let aperture = cam.setting("aperture").await.unwrap();
        let SettingForm::Choices { choices } = &aperture.form else { panic!("{aperture:?}") };
        assert!(choices.iter().any(|c| c == "5.6"), "{choices:?}");

        for (key, value) in [("aperture", "5.6"), ("shutterspeed", "1/250"), ("iso", "400")] {
            assert_eq!(cam.set_setting(key, value).await.unwrap().value, value);
        }
        // A second session sees what the first set: the camera reports it, not the client's cache.
        let mut other = connect(&emu).await;
        assert_eq!(other.setting("aperture").await.unwrap().value, "5.6");
        assert_eq!(other.setting("shutterspeed").await.unwrap().value, "1/250");
        other.close().await.unwrap();

        let err = cam.set_setting("aperture", "1.4").await.unwrap_err();
        assert!(matches!(err, CoreError::InvalidValue(_)), "{err}");
        assert!(err.to_string().contains("allowed: ") && err.to_string().contains("5.6"), "{err}");
        let err = cam.set_setting("focusmode", "Manual").await.unwrap_err();
        assert!(err.to_string().contains("read-only"), "{err}");
        assert_eq!(cam.setting("aperture").await.unwrap().value, "5.6");
        cam.close().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn eos_capture_fires_through_remote_release_and_downloads_the_new_file() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let emu = start(dir.path()).await;
        let mut watcher = connect(&emu).await;
        let mut cam = connect(&emu).await;
        // The watcher's session is in event mode before the shutter fires (its first drain is the
        // camera's state, not news), so the capture's records reach it as events.
        watcher.settings().await.unwrap();
        let watching = watch_until(watcher, "ObjectAdded");
        let before = cam.list_media().await.unwrap().len();
        let items = cam.capture().await.unwrap();
        assert_eq!(items.len(), 1, "{items:?}");
        let item = &items[0];
        assert!(item.path.ends_with(".JPG") || item.path.ends_with(".jpg"), "{}", item.path);
        let mut bytes = Vec::new();
        cam.download(item, 0, &mut bytes).await.unwrap();
        let on_disk =
            walk(dir.path()).into_iter().find(|p| p.ends_with(item.path.rsplit('/').next().unwrap()));
        let on_disk = on_disk.unwrap_or_else(|| panic!("{} not in the media folder", item.path));
        assert_eq!(bytes, std::fs::read(on_disk).unwrap());
        assert_eq!(cam.list_media().await.unwrap().len(), before + 1);

        let (watcher, seen) = watching.await.unwrap();
        let added = seen.iter().find(|e| e.name == "ObjectAdded").unwrap();
        assert!(added.detail.contains(item.path.rsplit('/').next().unwrap()), "{seen:?}");
        watcher.close().await.unwrap();
        cam.close().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn eos_capture_to_the_computer_is_read_from_the_camera_s_memory() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let emu = start(dir.path()).await;
        let mut cam = connect(&emu).await;
        // 4 = the PC (gphoto2's default capture target), as the camera's allowed list offers it.
        assert_eq!(cam.set_setting("capturedestination", "4").await.unwrap().value, "4");
        let items = cam.capture().await.unwrap();
        assert_eq!(items.len(), 1, "{items:?}");
        let mut bytes = Vec::new();
        let n = cam.download(&items[0], 0, &mut bytes).await.unwrap();
        assert_eq!(n, items[0].size);
        assert!(bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9]), "a whole JPEG");
        // The emulator also keeps the picture in its media folder: the same bytes.
        let name = items[0].path.rsplit('/').next().unwrap();
        let on_disk = walk(dir.path()).into_iter().find(|p| p.ends_with(name)).unwrap();
        assert_eq!(bytes, std::fs::read(on_disk).unwrap());
        cam.close().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn eos_live_view_gives_changing_jpegs_and_gives_the_screen_back() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let emu = start(dir.path()).await;
        let mut cam = connect(&emu).await;
        let before = cam.setting("output").await.unwrap().value;
        let a = cam.live_frame().await.unwrap();
        let b = cam.live_frame().await.unwrap();
        for f in [&a, &b] {
            assert_eq!(&f[..2], &[0xFF, 0xD8]);
            assert_eq!(&f[f.len() - 2..], &[0xFF, 0xD9]);
        }
        assert_ne!(a, b, "frames change");
        assert!(camctl_core::media::jpeg_dimensions(&a).is_some());
        cam.end_live().await;
        assert_eq!(cam.setting("output").await.unwrap().value, before);
        cam.close().await.unwrap();
    })
    .await;
}
