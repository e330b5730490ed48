//! The PTP/IP client against hostile cameras: fake cameras written here, over real sockets, that do just
//! enough PTP/IP to open a session and then misbehave. Each test asserts the bound: a clear error
//! instead of memory or time without end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use camctl_core::{Camera, CameraUrl};
use camctl_ptpip::PtpCamera;
use camctl_ptpip::client::{Client, ClientConfig, MAX_CAPTURE_OBJECTS, MAX_FOLDER_DEPTH, MAX_OBJECTS};
use camctl_ptpip::wire::codes::{ev, op, rc};
use camctl_ptpip::wire::{Header, OperationRequest, Packet, PropValue, encode_u32_array};

mod common;
use common::*;

#[tokio::test]
async fn a_folder_chain_2000_deep_is_listed_to_the_depth_cap() {
    const DEPTH: u32 = 2000;
    let infos_asked = Arc::new(AtomicUsize::new(0));
    let handler = deep_chain_camera(DEPTH, Arc::clone(&infos_asked));
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
