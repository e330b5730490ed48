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
    assert!(matches!(err, Error::WrongProtocol { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(r#"{addr} is not a PTP/IP camera: it answered "HTTP/1.1 400 Bad Request""#)
    );
    // Header claiming 4 GiB: refused without allocating it.
    let addr = fake_camera(Some(vec![0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0]), true).await;
    let err = Client::connect(&addr, ClientConfig::default()).await.err().unwrap();
    assert!(matches!(err, Error::WrongProtocol { .. }), "{err}");
    assert!(err.to_string().contains("ff ff ff ff 02"), "{err}");
}

/// How a foreign peer answers the Init_Command_Request.
enum Foreign {
    /// Writes these bytes and keeps the connection open (a client that waited for more would hang).
    Answer(&'static [u8]),
    /// Reads the request, then closes.
    Close,
}

/// A listener on 127.0.0.1 that is not a PTP/IP camera. The connection stays open until the client
/// closes it, so only the bytes themselves can tell the client what it is talking to.
async fn foreign_peer(how: Foreign) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        // Read the whole Init_Command_Request (its length is in its first 4 bytes) so that closing
        // is a clean FIN, not a reset for unread data.
        let mut head = [0u8; 4];
        sock.read_exact(&mut head).await.unwrap();
        let mut rest = vec![0u8; u32::from_le_bytes(head) as usize - 4];
        sock.read_exact(&mut rest).await.unwrap();
        match how {
            Foreign::Close => drop(sock),
            Foreign::Answer(bytes) => {
                sock.write_all(bytes).await.unwrap();
                let mut sink = Vec::new();
                let _ = sock.read_to_end(&mut sink).await;
            }
        }
    });
    addr
}

#[tokio::test]
async fn another_protocol_on_the_port_is_named_promptly() {
    // The default 10 s read timeout would turn a hang into Error::Timeout: WrongProtocol proves the
    // client decided from the bytes, not from a deadline.
    let addr = foreign_peer(Foreign::Answer(br#"{"rval":-4,"msg_id":1}"#)).await;
    let err = Client::connect(&addr, ClientConfig::default()).await.err().unwrap();
    assert!(matches!(err, Error::WrongProtocol { .. }), "{err}");
    let core: camctl_core::Error = err.into();
    assert_eq!(
        core.to_string(),
        format!(r#"{addr} is not a PTP/IP camera: it answered "{{"rval":-4,"msg_id":1}}""#)
    );

    let addr = foreign_peer(Foreign::Close).await;
    let err = Client::connect(&addr, ClientConfig::default()).await.err().unwrap();
    assert!(matches!(err, Error::WrongProtocol { .. }), "{err}");
    assert!(err.to_string().contains("closed the connection without answering"), "{err}");

    // Whatever the peer sends is escaped before it reaches a terminal.
    let addr = foreign_peer(Foreign::Answer(b"SSH-2.0-\x1b]0;owned\x07\r\n")).await;
    let err = Client::connect(&addr, ClientConfig::default()).await.err().unwrap();
    let text = err.to_string();
    assert!(text.contains(r"SSH-2.0-\e]0;owned\u{7}") && !text.contains('\x1b'), "{text}");
    let core = camctl_core::Error::from(err).to_string();
    assert_eq!(core, text, "escaped once, not twice");
}

#[tokio::test]
async fn refused_connection_names_protocol_host_and_port() {
    // A port that was just free: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let err = Client::connect(&addr, ClientConfig::default()).await.err().unwrap();
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");
    let core: camctl_core::Error = err.into();
    assert_eq!(core.to_string(), format!("no PTP/IP camera at {addr}: connection refused"));
    assert!(core.is_connection_lost());
}

#[tokio::test]
async fn connect_timeout_names_protocol_host_and_port() {
    // A listener that never accepts, with its accept queue full: Linux then drops new SYNs, so a
    // connect gets no answer at all (what a powered-off camera on Wi-Fi looks like).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut queued = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_millis(500), tokio::net::TcpStream::connect(&addr)).await {
            Ok(Ok(s)) => queued.push(s),
            Ok(Err(e)) => panic!("filling the accept queue: {e}"),
            Err(_) => break,
        }
        assert!(queued.len() < 1000, "the accept queue never filled");
    }
    let config = ClientConfig { timeout: Duration::from_millis(300), ..ClientConfig::default() };
    let err = Client::connect(&addr, config).await.err().unwrap();
    assert!(
        matches!(&err, Error::Unreachable { source, .. } if source.kind() == std::io::ErrorKind::TimedOut),
        "{err}"
    );
    assert_eq!(camctl_core::Error::from(err).to_string(), format!("no PTP/IP camera at {addr}: no answer"));
    drop(listener);
}

#[tokio::test]
async fn url_options_are_checked_before_connecting() {
    // Nothing listens here: an option checked after connecting would surface as "unreachable".
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("ptpip://127.0.0.1:{port}?timout=5").parse().unwrap();
    let err = PtpCamera::connect(&url).await.err().unwrap();
    assert!(matches!(err, camctl_core::Error::InvalidValue(_)), "{err}");
    assert!(
        err.to_string()
            .contains(r#"unknown option "timout" in ptpip:// URL (known: timeout, floor, dialect)"#),
        "{err}"
    );
    let url = format!("ptpip://127.0.0.1:{port}?dialect=sony").parse().unwrap();
    let err = PtpCamera::connect(&url).await.err().unwrap();
    assert!(err.to_string().contains("dialect=sony: use generic, canon or nikon"), "{err}");
    let url = format!("ptpip://127.0.0.1:{port}?timeout=soon").parse().unwrap();
    let err = PtpCamera::connect(&url).await.err().unwrap();
    assert!(matches!(err, camctl_core::Error::InvalidValue(_)), "{err}");

    let dir = tempfile::tempdir().unwrap();
    card(dir.path());
    let addr = start(dir.path(), DataInMode::SingleEnd).await;
    let mut cam = PtpCamera::connect(&format!("ptpip://{addr}?timeout=5").parse().unwrap()).await.unwrap();
    assert_eq!(cam.info().await.unwrap().protocol, "ptpip");
}

#[tokio::test]
async fn typed_values_match_the_cameras_own_and_dates_are_real() {
    let dir = tempfile::tempdir().unwrap();
    card(dir.path());
    let addr = start(dir.path(), DataInMode::SingleEnd).await;
    let mut cam = PtpCamera::connect(&format!("ptpip://{addr}").parse().unwrap()).await.unwrap();
    // The emulator offers thirds of a stop: +0.67 EV is what +0.7 means.
    assert_eq!(cam.set_setting("exposurecompensation", "+0.7").await.unwrap().value, "+0.67");
    assert_eq!(cam.set_setting("exposurecompensation", "-1.3").await.unwrap().value, "-1.33");
    assert_eq!(cam.set_setting("f-number", "5.6").await.unwrap().value, "f/5.6");
    assert_eq!(cam.set_setting("shutterspeed", "1/60").await.unwrap().value, "1/60");
    let err = cam.set_setting("exposurecompensation", "+0.5").await.unwrap_err();
    assert!(matches!(err, camctl_core::Error::InvalidValue(_)), "{err}");
    assert!(err.to_string().contains("one of: -2, -1.67"), "the allowed list: {err}");
    assert_eq!(cam.setting("exposurecompensation").await.unwrap().value, "-1.33", "refused = unchanged");

    let err = cam.set_setting("datetime", "2024-02-31 10:00:00").await.unwrap_err();
    assert!(matches!(err, camctl_core::Error::InvalidValue(_)), "{err}");
    assert!(err.to_string().contains("YYYY-MM-DD hh:mm:ss"), "{err}");
    assert_eq!(
        cam.set_setting("datetime", "2024-02-29 10:00:00").await.unwrap().value.get(..16),
        Some("2024-02-29 10:00")
    );
}

/// Replaces a file's content by writing a sibling and renaming it over (how cameras and copy tools do).
fn replace_file(path: &Path, content: &[u8]) {
    let temp = path.with_extension("new");
    std::fs::write(&temp, content).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

#[tokio::test]
async fn a_replaced_file_is_served_with_its_current_bytes() {
    let dir = tempfile::tempdir().unwrap();
    card(dir.path());
    let addr = start(dir.path(), DataInMode::SingleEnd).await;
    let path = dir.path().join("DCIM/100EMU01/BIG_0002.JPG");
    let first = std::fs::read(&path).unwrap();
    let url = format!("ptpip://{addr}").parse().unwrap();

    let mut cam = PtpCamera::connect(&url).await.unwrap();
    let items = cam.list_media().await.unwrap();
    let big = items.iter().find(|i| i.path == "DCIM/100EMU01/BIG_0002.JPG").unwrap().clone();
    let mut got = Vec::new();
    cam.download(&big, 0, &mut got).await.unwrap();
    assert!(got == first);

    // Same name, same size, other bytes: in the same session, and in a new one.
    let second = pseudo_random(first.len(), 99);
    assert_ne!(second, first);
    replace_file(&path, &second);
    let mut got = Vec::new();
    cam.download(&big, 0, &mut got).await.unwrap();
    assert!(got == second, "GetObject served stale bytes");
    let mut tail = Vec::new();
    cam.download(&big, 1_000_000, &mut tail).await.unwrap();
    assert!(tail == second[1_000_000..], "GetPartialObject served stale bytes");
    cam.close().await.unwrap();

    let third = pseudo_random(first.len(), 100);
    // In place this time (truncate and rewrite the same inode).
    std::fs::write(&path, &third).unwrap();
    let mut cam = PtpCamera::connect(&url).await.unwrap();
    let items = cam.list_media().await.unwrap();
    let big = items.iter().find(|i| i.path == "DCIM/100EMU01/BIG_0002.JPG").unwrap().clone();
    assert_eq!(big.size, third.len() as u64);
    let mut got = Vec::new();
    cam.download(&big, 0, &mut got).await.unwrap();
    assert!(got == third, "a new session served stale bytes");
    let mut tail = Vec::new();
    cam.download(&big, 5, &mut tail).await.unwrap();
    assert!(tail == third[5..]);

    // Another size within the same session: ObjectInfo announces what GetObject sends.
    let fourth = pseudo_random(first.len() + 4321, 101);
    replace_file(&path, &fourth);
    let handle: u32 = big.id.parse().unwrap();
    assert_eq!(cam.client().object_info(handle).await.unwrap().compressed_size, fourth.len() as u32);
    let mut got = Vec::new();
    cam.client().get_object(handle, &mut got).await.unwrap();
    assert!(got == fourth);
}

#[tokio::test]
async fn partial_answers_longer_than_asked_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    card(dir.path());
    let config = EmulatorConfig {
        media_dir: dir.path().to_path_buf(),
        ignore_partial_offset: true,
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::bind(([127, 0, 0, 1], 0).into(), config).await.unwrap();
    let addr = emulator.local_addr().to_string();
    tokio::spawn(emulator.serve());
    let original = std::fs::read(dir.path().join("DCIM/100EMU01/BIG_0002.JPG")).unwrap();

    let mut cam = PtpCamera::connect(&format!("ptpip://{addr}").parse().unwrap()).await.unwrap();
    let items = cam.list_media().await.unwrap();
    let big = items.iter().find(|i| i.path == "DCIM/100EMU01/BIG_0002.JPG").unwrap().clone();
    let mut out = Vec::new();
    let err = cam.download(&big, 2_000_000, &mut out).await.unwrap_err();
    assert!(matches!(err, camctl_core::Error::Protocol(_)), "{err}");
    assert!(out.is_empty(), "not one byte from the wrong place may reach the file");
    assert!(err.is_connection_lost(), "the pull engine must reconnect: {err}");
    // The session is not reused out of step.
    assert!(cam.list_media().await.is_err());
    drop(cam);

    // From offset 0 the clone's answer is what was asked for.
    let mut c = client(&addr).await;
    let mut all = Vec::new();
    let n = c.get_partial_object(big.id.parse().unwrap(), 0, original.len() as u32, &mut all).await.unwrap();
    assert_eq!(n, original.len() as u64);
    assert!(all == original);
    let mut some = Vec::new();
    let err = c.get_partial_object(big.id.parse().unwrap(), 10, 100, &mut some).await.unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err}");
    assert!(some.is_empty());
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
    assert!(matches!(err, Error::Read(camctl_core::io::ReadError::Truncated(_))), "{err}");
}
