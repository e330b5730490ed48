//! The PTP/IP client against the emulator (and against deliberately broken peers) over real sockets.

use std::path::Path;
use std::time::Duration;

use camctl_core::Camera;
use camctl_ptpip::client::{Client, ClientConfig};
use camctl_ptpip::emulator::{DataInMode, Emulator, EmulatorConfig};
use camctl_ptpip::wire::codes::{ev, prop, rc};
use camctl_ptpip::wire::{Packet, PropValue};
use camctl_ptpip::{Error, PtpCamera};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use camctl_core::media::noise as pseudo_random;

/// A card with two folders, a sample JPEG and a 3 MiB file.
fn card(root: &Path) {
    camctl_core::media::write_sample_pictures(&root.join("DCIM/100EMU01"), 1).unwrap();
    std::fs::write(root.join("DCIM/100EMU01/BIG_0002.JPG"), pseudo_random(3 << 20, 3)).unwrap();
    std::fs::create_dir_all(root.join("DCIM/101EMU01")).unwrap();
    std::fs::write(root.join("DCIM/101EMU01/NOTE.TXT"), b"hello").unwrap();
}

async fn start(media: &Path, data_in: DataInMode) -> String {
    let config = EmulatorConfig { media_dir: media.to_path_buf(), data_in, ..EmulatorConfig::default() };
    let emulator = Emulator::bind(([127, 0, 0, 1], 0).into(), config).await.unwrap();
    let addr = emulator.local_addr().to_string();
    tokio::spawn(emulator.serve());
    addr
}

async fn client(addr: &str) -> Client {
    Client::connect(addr, ClientConfig::default()).await.unwrap()
}

#[tokio::test]
async fn device_info_storage_and_tree() {
    let dir = tempfile::tempdir().unwrap();
    card(dir.path());
    let addr = start(dir.path(), DataInMode::SingleEnd).await;
    let mut c = client(&addr).await;
    let di = c.device_info().await.unwrap();
    assert_eq!(di.standard_version, 100);
    assert!(di.operations.contains(&0x101B) && di.properties.contains(&prop::F_NUMBER));
    assert_eq!(c.storage_ids().await.unwrap(), [0x0001_0001]);
    let si = c.storage_info(0x0001_0001).await.unwrap();
    assert!(si.max_capacity >= si.free_space_bytes);
    let tree = c.object_tree().await.unwrap();
    let paths: Vec<&str> = tree.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "DCIM",
            "DCIM/100EMU01",
            "DCIM/100EMU01/BIG_0002.JPG",
            "DCIM/100EMU01/IMG_0001.JPG",
            "DCIM/101EMU01",
            "DCIM/101EMU01/NOTE.TXT"
        ]
    );
    let big = tree.iter().find(|e| e.path.ends_with("BIG_0002.JPG")).unwrap();
    assert_eq!(big.info.compressed_size, 3 << 20);
    assert!(tree[0].info.is_folder() && tree[0].info.parent == 0);
    c.close().await.unwrap();
}

#[tokio::test]
async fn objects_stream_whole_and_partial_in_both_data_modes() {
    for mode in [DataInMode::SingleEnd, DataInMode::Chunked { size: 100_000 }] {
        let dir = tempfile::tempdir().unwrap();
        card(dir.path());
        let original = std::fs::read(dir.path().join("DCIM/100EMU01/BIG_0002.JPG")).unwrap();
        let addr = start(dir.path(), mode).await;
        let mut c = client(&addr).await;
        let handle = c
            .object_tree()
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.path.ends_with("BIG_0002.JPG"))
            .unwrap()
            .handle;
        let mut whole = Vec::new();
        assert_eq!(c.get_object(handle, &mut whole).await.unwrap(), original.len() as u64);
        assert!(whole == original);
        let mut rest = Vec::new();
        assert_eq!(c.get_object_from(handle, 777, &mut rest).await.unwrap(), original.len() as u64 - 777);
        assert!(rest == original[777..]);
        let mut part = Vec::new();
        c.get_partial_object(handle, 1000, 5000, &mut part).await.unwrap();
        assert_eq!(part, original[1000..6000]);
        let mut tail = Vec::new();
        c.get_partial_object(handle, original.len() as u32 - 10, 1 << 20, &mut tail).await.unwrap();
        assert_eq!(tail, original[original.len() - 10..]);
        // The session is still in step after streaming.
        assert_eq!(c.storage_ids().await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn capture_produces_a_new_jpeg_each_time() {
    let dir = tempfile::tempdir().unwrap();
    card(dir.path());
    let addr = start(dir.path(), DataInMode::SingleEnd).await;
    let mut c = client(&addr).await;
    let first = c.capture().await.unwrap();
    let second = c.capture().await.unwrap();
    assert_eq!((first.len(), second.len()), (1, 1));
    let mut a = Vec::new();
    let mut b = Vec::new();
    c.get_object(first[0], &mut a).await.unwrap();
    c.get_object(second[0], &mut b).await.unwrap();
    assert!(a.starts_with(&[0xFF, 0xD8]) && a.ends_with(&[0xFF, 0xD9]));
    assert_ne!(a, b, "two captures must differ");
    let info = c.object_info(first[0]).await.unwrap();
    assert!(info.filename.ends_with(".JPG"));
    c.delete_object(first[0]).await.unwrap();
    let err = c.object_info(first[0]).await.unwrap_err();
    assert!(matches!(err, Error::Response { code: rc::INVALID_OBJECT_HANDLE, .. }), "{err}");
}

#[tokio::test]
async fn properties_describe_get_set_and_notify_other_sessions() {
    let dir = tempfile::tempdir().unwrap();
    card(dir.path());
    let addr = start(dir.path(), DataInMode::SingleEnd).await;
    let mut watcher = client(&addr).await;
    let mut c = client(&addr).await;
    let desc = c.prop_desc(prop::F_NUMBER).await.unwrap();
    assert!(desc.writable);
    c.set_prop_value(prop::F_NUMBER, &PropValue::U16(560)).await.unwrap();
    assert_eq!(c.prop_value(prop::F_NUMBER, desc.data_type).await.unwrap(), PropValue::U16(560));
    let err = c.set_prop_value(prop::F_NUMBER, &PropValue::U16(561)).await.unwrap_err();
    assert!(matches!(err, Error::Response { code: rc::INVALID_DEVICE_PROP_VALUE, .. }), "{err}");
    let err = c.set_prop_value(prop::BATTERY_LEVEL, &PropValue::U8(5)).await.unwrap_err();
    assert!(matches!(err, Error::Response { .. }), "{err}");
    let event =
        tokio::time::timeout(Duration::from_secs(5), watcher.next_event()).await.unwrap().unwrap().unwrap();
    assert_eq!((event.code, event.params.get(0)), (ev::DEVICE_PROP_CHANGED, u32::from(prop::F_NUMBER)));
    // A new session sees the value the old one set.
    c.close().await.unwrap();
    let mut again = client(&addr).await;
    assert_eq!(again.prop_desc(prop::F_NUMBER).await.unwrap().current, PropValue::U16(560));
    assert!(again.probe().await.unwrap() < Duration::from_secs(5));
}

#[tokio::test]
async fn camera_trait_lists_downloads_resumes_and_configures() {
    let dir = tempfile::tempdir().unwrap();
    card(dir.path());
    let addr = start(dir.path(), DataInMode::SingleEnd).await;
    let mut cam = PtpCamera::connect(&format!("ptpip://{addr}").parse().unwrap()).await.unwrap();
    let info = cam.info().await.unwrap();
    assert_eq!((info.protocol.as_str(), info.battery.is_some()), ("ptpip", true));
    let items = cam.list_media().await.unwrap();
    assert_eq!(items.len(), 3);
    let big = items.iter().find(|i| i.path == "DCIM/100EMU01/BIG_0002.JPG").unwrap();
    assert!(big.modified.is_some());
    let original = std::fs::read(dir.path().join(&big.path)).unwrap();
    let mut rest = Vec::new();
    let n = cam.download(big, 1_234_567, &mut rest).await.unwrap();
    assert_eq!((n as usize, rest.as_slice() == &original[1_234_567..]), (original.len() - 1_234_567, true));

    let set = cam.set_setting("f-number", "f/8").await.unwrap();
    assert_eq!(set.value, "f/8");
    assert_eq!(cam.setting("F-NUMBER").await.unwrap().value, "f/8");
    let err = cam.set_setting("f-number", "f/9.5").await.unwrap_err();
    assert!(err.to_string().contains("f/5.6"), "error should list the choices: {err}");
    assert!(matches!(cam.setting("nonsense").await, Err(camctl_core::Error::NotFound(_))));
    let all = cam.settings().await.unwrap();
    for key in ["batterylevel", "imagesize", "whitebalance", "f-number", "shutterspeed", "iso", "datetime"] {
        assert!(all.iter().any(|s| s.key == key), "{key} missing");
    }
    cam.set_setting("datetime", "2030-05-06 07:08:09").await.unwrap();
    assert!(cam.setting("datetime").await.unwrap().value.starts_with("2030-05-06 07:08"));

    let shot = cam.capture().await.unwrap();
    assert_eq!(shot.len(), 1);
    assert!(shot[0].path.starts_with("DCIM/") && shot[0].path.ends_with(".JPG"), "{}", shot[0].path);
    assert!(dir.path().join(&shot[0].path).exists());
    cam.close().await.unwrap();
}

/// A peer that accepts the command connection and answers its first packet with `reply`.
async fn fake_camera(reply: Option<Vec<u8>>, then_close: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 256];
        let _ = sock.read(&mut buf).await;
        if let Some(reply) = reply {
            let _ = sock.write_all(&reply).await;
        }
        if !then_close {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    });
    addr
}

#[tokio::test]
async fn init_fail_is_reported_with_its_reason() {
    let addr = fake_camera(Some(Packet::InitFail { reason: 1 }.to_bytes().unwrap()), true).await;
    let err = Client::connect(&addr, ClientConfig::default()).await.err().unwrap();
    assert!(matches!(err, Error::InitFailed { reason: 1 }));
    let text = err.to_string();
    assert!(text.contains("reason 1") && text.contains("not paired"), "{text}");
    let core: camctl_core::Error = err.into();
    assert!(matches!(core, camctl_core::Error::Rejected(_)));
}

#[tokio::test]
async fn silent_camera_times_out() {
    let addr = fake_camera(None, false).await;
    let config = ClientConfig { timeout: Duration::from_millis(300), ..ClientConfig::default() };
    let err = Client::connect(&addr, config).await.err().unwrap();
    assert!(matches!(err, Error::Timeout(_)), "{err}");
}

#[tokio::test]
async fn garbage_and_hostile_lengths_are_clear_errors() {
    let addr = fake_camera(Some(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()), true).await;
    let err = Client::connect(&addr, ClientConfig::default()).await.err().unwrap();
    assert!(matches!(err, Error::Wire(_) | Error::Unexpected { .. }), "{err}");
    // Header claiming 4 GiB: refused without allocating it.
    let addr = fake_camera(Some(vec![0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0]), true).await;
    let err = Client::connect(&addr, ClientConfig::default()).await.err().unwrap();
    assert!(matches!(err, Error::Wire(_)), "{err}");
}

#[tokio::test]
async fn camera_vanishing_mid_transfer_is_an_error_not_a_hang() {
    // A responder that completes the handshake and a session, then dies in the middle of GetObject.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut cmd, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let _ = cmd.read(&mut buf).await.unwrap();
        let ack =
            Packet::InitCommandAck { connection: 1, guid: [0; 16], name: "x".into(), version: Some(0x10000) };
        cmd.write_all(&ack.to_bytes().unwrap()).await.unwrap();
        let (mut evt, _) = listener.accept().await.unwrap();
        let _ = evt.read(&mut buf).await.unwrap();
        evt.write_all(&Packet::InitEventAck.to_bytes().unwrap()).await.unwrap();
        let ok = |tid| {
            Packet::OperationResponse(camctl_ptpip::wire::CodeAndParams {
                code: rc::OK,
                tid,
                params: camctl_ptpip::wire::Params::new(&[]),
            })
            .to_bytes()
            .unwrap()
        };
        let _ = cmd.read(&mut buf).await.unwrap(); // OpenSession
        cmd.write_all(&ok(0)).await.unwrap();
        let _ = cmd.read(&mut buf).await.unwrap(); // GetObject
        cmd.write_all(&Packet::StartData { tid: 1, total: 1_000_000 }.to_bytes().unwrap()).await.unwrap();
        let mut end = Vec::new();
        end.extend_from_slice(&(12u32 + 1_000_000).to_le_bytes());
        end.extend_from_slice(&12u32.to_le_bytes());
        end.extend_from_slice(&1u32.to_le_bytes());
        end.extend_from_slice(&[7u8; 1000]);
        cmd.write_all(&end).await.unwrap();
        drop(cmd);
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(evt);
    });
    let mut c = Client::connect(&addr, ClientConfig::default()).await.unwrap();
    let mut sink = Vec::new();
    let err = c.get_object(1, &mut sink).await.unwrap_err();
    assert!(matches!(err, Error::Wire(_)), "{err}");
}
