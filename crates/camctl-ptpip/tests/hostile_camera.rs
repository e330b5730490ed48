//! The PTP/IP client against hostile cameras: fake cameras written here, over real sockets, that do just
//! enough PTP/IP to open a session and then misbehave. Each test asserts the bound: a clear error
//! instead of memory or time without end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use camctl_core::{Camera, CameraUrl};
use camctl_ptpip::PtpCamera;
use camctl_ptpip::client::{Client, ClientConfig, MAX_CAPTURE_OBJECTS, MAX_FOLDER_DEPTH, MAX_OBJECTS};
use camctl_ptpip::wire::codes::{ev, format, op, rc};
use camctl_ptpip::wire::{
    CodeAndParams, DataType, DeviceInfo, HEADER_LEN, Header, ObjectInfo, OperationRequest, Packet, Params,
    PropValue, encode_u32_array,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every test's overall deadline: generous, only there so a regression fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(60);

/// What the fake camera does after a request.
enum Reply {
    /// Writes these bytes on the command connection.
    Cmd(Vec<u8>),
    /// Writes these bytes on the command connection, then one more byte every interval, forever.
    Trickle(Vec<u8>, Duration),
    /// Writes the first bytes on the command connection, then the second again and again, forever.
    Flood(Vec<u8>, Vec<u8>),
    /// Writes `cmd` on the command connection and `events` on the event connection.
    WithEvents { cmd: Vec<u8>, events: Vec<u8> },
}

type Handler = dyn Fn(&OperationRequest) -> Reply + Send + Sync;

fn response(tid: u32, code: u16) -> Vec<u8> {
    Packet::OperationResponse(CodeAndParams { code, tid, params: Params::new(&[]) }).to_bytes().unwrap()
}

/// A data-in phase with `data`, then OK.
fn data(tid: u32, data: Vec<u8>) -> Vec<u8> {
    let mut out = Packet::StartData { tid, total: data.len() as u64 }.to_bytes().unwrap();
    Packet::EndData { tid, data }.encode(&mut out).unwrap();
    out.extend(response(tid, rc::OK));
    out
}

fn event(code: u16, param: u32) -> Vec<u8> {
    Packet::Event(CodeAndParams { code, tid: 0, params: Params::new(&[param]) }).to_bytes().unwrap()
}

async fn read_packet<S: AsyncRead + Unpin>(s: &mut S) -> Option<Packet> {
    let mut head = [0u8; HEADER_LEN];
    s.read_exact(&mut head).await.ok()?;
    let header = Header::decode(&head).ok()?;
    let mut payload = vec![0u8; header.payload_len()];
    s.read_exact(&mut payload).await.ok()?;
    Packet::decode(header.kind, &payload).ok()
}

/// Answers the standard requests a session needs, and everything else through `handler`.
fn standard(req: &OperationRequest, handler: &Handler) -> Reply {
    match req.code {
        op::OPEN_SESSION | op::CLOSE_SESSION => Reply::Cmd(response(req.tid, rc::OK)),
        _ => handler(req),
    }
}

/// Starts a fake camera on 127.0.0.1; returns its `host:port`.
async fn fake_camera(handler: Arc<Handler>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut cmd, _) = listener.accept().await.unwrap();
        let Some(Packet::InitCommandRequest { .. }) = read_packet(&mut cmd).await else { return };
        let ack =
            Packet::InitCommandAck { connection: 1, guid: [7; 16], name: "hostile".into(), version: None };
        cmd.write_all(&ack.to_bytes().unwrap()).await.unwrap();
        let (mut events, _) = listener.accept().await.unwrap();
        let Some(Packet::InitEventRequest { .. }) = read_packet(&mut events).await else { return };
        events.write_all(&Packet::InitEventAck.to_bytes().unwrap()).await.unwrap();
        while let Some(Packet::OperationRequest(req)) = read_packet(&mut cmd).await {
            if reply(&mut cmd, &mut events, standard(&req, &*handler)).await.is_err() {
                return;
            }
        }
    });
    addr
}

async fn reply(cmd: &mut TcpStream, events: &mut TcpStream, r: Reply) -> std::io::Result<()> {
    match r {
        Reply::Cmd(bytes) => cmd.write_all(&bytes).await,
        Reply::WithEvents { cmd: c, events: e } => {
            cmd.write_all(&c).await?;
            events.write_all(&e).await
        }
        Reply::Trickle(bytes, every) => {
            cmd.write_all(&bytes).await?;
            loop {
                // The hostile behaviour itself (a trickle), not synchronisation.
                tokio::time::sleep(every).await;
                cmd.write_all(b"x").await?;
            }
        }
        Reply::Flood(first, again) => {
            cmd.write_all(&first).await?;
            loop {
                cmd.write_all(&again).await?;
            }
        }
    }
}

fn device_info(operations: &[u16], properties: &[u16]) -> Vec<u8> {
    let di = DeviceInfo {
        standard_version: 100,
        operations: operations.to_vec(),
        properties: properties.to_vec(),
        manufacturer: "Hostile".into(),
        model: "H-1".into(),
        ..DeviceInfo::default()
    };
    let mut out = Vec::new();
    di.encode(&mut out);
    out
}

fn folder_info(parent: u32, name: &str) -> Vec<u8> {
    let info = ObjectInfo {
        storage_id: 0x0001_0001,
        format: format::ASSOCIATION,
        parent,
        filename: name.into(),
        ..ObjectInfo::default()
    };
    let mut out = Vec::new();
    info.encode(&mut out);
    out
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, f).await.expect("the client gave up within the deadline")
}

#[tokio::test]
async fn a_folder_chain_2000_deep_is_listed_to_the_depth_cap() {
    const DEPTH: u32 = 2000;
    let infos_asked = Arc::new(AtomicUsize::new(0));
    let asked = Arc::clone(&infos_asked);
    let handler: Arc<Handler> = Arc::new(move |req: &OperationRequest| {
        let tid = req.tid;
        match req.code {
            op::GET_STORAGE_IDS => Reply::Cmd(data(tid, encode_u32_array(&[0x0001_0001]))),
            op::GET_OBJECT_HANDLES => {
                let parent = req.params.get(2);
                let child = if parent == 0xFFFF_FFFF { 1 } else { parent + 1 };
                let handles: Vec<u32> = if child <= DEPTH { vec![child] } else { vec![] };
                Reply::Cmd(data(tid, encode_u32_array(&handles)))
            }
            op::GET_OBJECT_INFO => {
                asked.fetch_add(1, Ordering::Relaxed);
                let h = req.params.get(0);
                // 254 characters: the longest name a PTP string carries.
                let name = format!("{h:05}{}", "d".repeat(249));
                Reply::Cmd(data(tid, folder_info(h - 1, &name)))
            }
            _ => Reply::Cmd(response(tid, rc::OPERATION_NOT_SUPPORTED)),
        }
    });
    let addr = fake_camera(handler).await;
    within(async {
        let mut c = Client::connect(&addr, ClientConfig::default()).await.unwrap();
        let tree = c.object_tree().await.unwrap();
        assert_eq!(tree.len(), MAX_FOLDER_DEPTH);
        let deepest = &tree.last().unwrap().path;
        assert_eq!(deepest.split('/').count(), MAX_FOLDER_DEPTH);
        assert!(deepest.len() < MAX_FOLDER_DEPTH * 256);
        // The walk stopped at the cap instead of asking for the whole chain.
        assert!(infos_asked.load(Ordering::Relaxed) <= MAX_FOLDER_DEPTH + 1);
        // Still in step.
        assert_eq!(c.storage_ids().await.unwrap(), [0x0001_0001]);
        c.close().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn more_objects_than_the_cap_is_an_error_naming_it() {
    let handler: Arc<Handler> = Arc::new(move |req: &OperationRequest| {
        let tid = req.tid;
        match req.code {
            op::GET_STORAGE_IDS => Reply::Cmd(data(tid, encode_u32_array(&[0x0001_0001]))),
            op::GET_OBJECT_HANDLES => {
                let handles: Vec<u32> = (1..=MAX_OBJECTS as u32 + 1).collect();
                Reply::Cmd(data(tid, encode_u32_array(&handles)))
            }
            op::GET_OBJECT_INFO => Reply::Cmd(data(tid, folder_info(0, "F"))),
            _ => Reply::Cmd(response(tid, rc::OPERATION_NOT_SUPPORTED)),
        }
    });
    let addr = fake_camera(handler).await;
    within(async {
        let mut c = Client::connect(&addr, ClientConfig::default()).await.unwrap();
        let err = c.object_tree().await.unwrap_err().to_string();
        assert!(err.contains(&format!("at most {MAX_OBJECTS}")), "{err}");
    })
    .await;
}

/// A camera with property 0xD001, an AUINT8 of `len` bytes (current and default).
fn array_prop_camera(len: usize) -> Arc<Handler> {
    Arc::new(move |req: &OperationRequest| {
        let tid = req.tid;
        match req.code {
            op::GET_DEVICE_INFO => Reply::Cmd(data(tid, device_info(&[op::GET_DEVICE_PROP_DESC], &[0xD001]))),
            op::GET_DEVICE_PROP_DESC => {
                let mut desc = Vec::new();
                desc.extend_from_slice(&0xD001u16.to_le_bytes());
                desc.extend_from_slice(&DataType::UINT8.array_of().0.to_le_bytes());
                desc.push(0);
                for _ in 0..2 {
                    desc.extend_from_slice(&(len as u32).to_le_bytes());
                    desc.extend((0..len).map(|i| i as u8));
                }
                desc.push(0);
                Reply::Cmd(data(tid, desc))
            }
            _ => Reply::Cmd(response(tid, rc::OPERATION_NOT_SUPPORTED)),
        }
    })
}

async fn ptp_camera(addr: &str, options: &str) -> PtpCamera {
    let url: CameraUrl = format!("ptpip://{addr}{options}").parse().unwrap();
    PtpCamera::connect(&url).await.unwrap()
}

#[tokio::test]
async fn an_array_property_is_shown_truncated() {
    let addr = fake_camera(array_prop_camera(256 * 1024)).await;
    within(async {
        let mut cam = ptp_camera(&addr, "").await;
        let setting = cam.setting("0xd001").await.unwrap();
        assert!(setting.value.starts_with("[0,1,2,3,"), "{}", setting.value);
        assert!(setting.value.ends_with(",... (262144 values)]"), "{}", setting.value);
        assert!(setting.value.len() < 200, "{}", setting.value);
        // The compact value keeps its bytes and element count.
        let desc = cam.client().prop_desc(0xD001).await.unwrap();
        let PropValue::Array(elem, values) = &desc.current else { panic!("{:?}", desc.current) };
        assert_eq!(values.len(*elem), 256 * 1024);
        assert_eq!(values.iter(*elem).nth(300), Some(PropValue::U8(300u32 as u8)));
    })
    .await;
}

#[tokio::test]
async fn a_16_mib_array_property_is_refused_from_its_announced_size() {
    let addr = fake_camera(array_prop_camera(16 << 20)).await;
    within(async {
        let mut cam = ptp_camera(&addr, "").await;
        let err = cam.setting("0xd001").await.unwrap_err().to_string();
        assert!(err.contains("camctl accepts at most 1048576 bytes"), "{err}");
    })
    .await;
}

/// A camera whose GetObject answers with `reply`.
fn object_camera(reply: impl Fn(u32) -> Reply + Send + Sync + 'static) -> Arc<Handler> {
    Arc::new(move |req: &OperationRequest| match req.code {
        op::GET_OBJECT => reply(req.tid),
        _ => Reply::Cmd(response(req.tid, rc::OPERATION_NOT_SUPPORTED)),
    })
}

#[tokio::test]
async fn a_trickling_camera_fails_the_progress_floor() {
    let handler = object_camera(|tid| {
        // 4 GiB announced, then a data packet as long as a header allows, then a byte at a time.
        let mut head = Packet::StartData { tid, total: 4 << 30 }.to_bytes().unwrap();
        head.extend_from_slice(&Header::encode(camctl_ptpip::wire::kind::DATA, 0xFFFF_0000).unwrap());
        head.extend_from_slice(&tid.to_le_bytes());
        Reply::Trickle(head, Duration::from_millis(100))
    });
    let addr = fake_camera(handler).await;
    within(async {
        let mut cam = ptp_camera(&addr, "?floor=64/1&timeout=30").await;
        let mut out = Vec::new();
        let err = cam.client().get_object(1, &mut out).await.unwrap_err().to_string();
        assert!(err.contains("transfer too slow: fewer than 64 bytes in 1 s"), "{err}");
        assert!(out.len() < 64, "{} bytes", out.len());
    })
    .await;
}

#[tokio::test]
async fn floor_option_is_checked() {
    let url: CameraUrl = "ptpip://127.0.0.1:1?floor=fast".parse().unwrap();
    let err = PtpCamera::connect(&url).await.err().unwrap().to_string();
    assert!(err.contains("floor=fast: use BYTES/SECS"), "{err}");
}

#[tokio::test]
async fn endless_unknown_packets_are_a_protocol_error() {
    let junk = Packet::Unknown { kind: 0x99, payload: vec![1, 2, 3, 4] }.to_bytes().unwrap();
    let addr = fake_camera(object_camera(move |_| Reply::Flood(Vec::new(), junk.clone()))).await;
    within(async {
        let mut c = Client::connect(&addr, ClientConfig::default()).await.unwrap();
        let err = c.get_object(1, &mut tokio::io::sink()).await.unwrap_err().to_string();
        assert!(err.contains("more than 64 unknown packets in a row"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn an_endless_data_phase_of_unknown_length_is_capped() {
    // Flood, not trickle: endless full data packets.
    let flood = fake_camera(object_camera(|tid| {
        let first = Packet::StartData { tid, total: u64::MAX }.to_bytes().unwrap();
        let packet = Packet::Data { tid, data: vec![0x55; 65536] }.to_bytes().unwrap();
        Reply::Flood(first, packet)
    }))
    .await;
    within(async {
        let mut c = Client::connect(&flood, ClientConfig::default()).await.unwrap();
        let mut out = Vec::new();
        let err = c.get_object_sized(1, 0, Some(1_000_000), &mut out).await.unwrap_err().to_string();
        assert!(err.contains("unknown length went past 1000000 bytes"), "{err}");
        assert!(out.len() <= 1_000_000, "{} bytes", out.len());
    })
    .await;
}

#[tokio::test]
async fn a_capture_accepts_a_bounded_number_of_new_objects() {
    let handler: Arc<Handler> = Arc::new(move |req: &OperationRequest| {
        let tid = req.tid;
        match req.code {
            op::INITIATE_CAPTURE => {
                let events: Vec<u8> = (1..=1000).flat_map(|h| event(ev::OBJECT_ADDED, h)).collect();
                Reply::WithEvents { cmd: response(tid, rc::OK), events }
            }
            _ => Reply::Cmd(response(tid, rc::OPERATION_NOT_SUPPORTED)),
        }
    });
    let addr = fake_camera(handler).await;
    within(async {
        let mut c = Client::connect(&addr, ClientConfig::default()).await.unwrap();
        let err = c.capture().await.unwrap_err().to_string();
        assert!(err.contains(&format!("more than {MAX_CAPTURE_OBJECTS} new objects")), "{err}");
    })
    .await;
}

#[tokio::test]
async fn big_junk_on_the_event_connection_is_skipped_not_buffered() {
    let handler: Arc<Handler> = Arc::new(move |req: &OperationRequest| {
        let tid = req.tid;
        match req.code {
            op::INITIATE_CAPTURE => {
                let mut events =
                    Packet::Unknown { kind: 0x77, payload: vec![0xEE; 8 << 20] }.to_bytes().unwrap();
                events.extend(event(ev::OBJECT_ADDED, 5));
                events.extend(event(ev::CAPTURE_COMPLETE, 0));
                Reply::WithEvents { cmd: response(tid, rc::OK), events }
            }
            _ => Reply::Cmd(response(tid, rc::OPERATION_NOT_SUPPORTED)),
        }
    });
    let addr = fake_camera(handler).await;
    within(async {
        let mut c = Client::connect(&addr, ClientConfig::default()).await.unwrap();
        assert_eq!(c.capture().await.unwrap(), [5]);
    })
    .await;
}
