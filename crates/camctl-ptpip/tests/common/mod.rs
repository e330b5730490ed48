//! The fake hostile camera shared by the hostile-peer tests: a TcpListener on 127.0.0.1 that does just
//! enough PTP/IP to open a session (Init_Command_Ack, Init_Event_Ack, OpenSession OK) and answers every
//! other request through a handler written by the test.
#![allow(dead_code)]

pub mod emu;
pub mod raw;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use camctl_core::CameraUrl;
use camctl_ptpip::PtpCamera;
use camctl_ptpip::wire::codes::{format, op, rc};
use camctl_ptpip::wire::{
    CodeAndParams, DataType, DeviceInfo, HEADER_LEN, Header, ObjectInfo, OperationRequest, Packet, Params,
    encode_u32_array,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every test's overall deadline: generous, only there so a regression fails instead of hanging.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// What the fake camera does after a request.
pub enum Reply {
    /// Writes these bytes on the command connection.
    Cmd(Vec<u8>),
    /// Writes these bytes on the command connection, then one more byte every interval, forever.
    Trickle(Vec<u8>, Duration),
    /// Writes the first bytes on the command connection, then the second again and again, forever.
    Flood(Vec<u8>, Vec<u8>),
    /// Writes `cmd` on the command connection and `events` on the event connection.
    WithEvents { cmd: Vec<u8>, events: Vec<u8> },
}

pub type Handler = dyn Fn(&OperationRequest) -> Reply + Send + Sync;

pub fn response(tid: u32, code: u16) -> Vec<u8> {
    Packet::OperationResponse(CodeAndParams { code, tid, params: Params::new(&[]) }).to_bytes().unwrap()
}

/// A data-in phase with `data`, then OK.
pub fn data(tid: u32, data: Vec<u8>) -> Vec<u8> {
    let mut out = Packet::StartData { tid, total: data.len() as u64 }.to_bytes().unwrap();
    Packet::EndData { tid, data }.encode(&mut out).unwrap();
    out.extend(response(tid, rc::OK));
    out
}

pub fn event(code: u16, param: u32) -> Vec<u8> {
    Packet::Event(CodeAndParams { code, tid: 0, params: Params::new(&[param]) }).to_bytes().unwrap()
}

pub async fn read_packet<S: AsyncRead + Unpin>(s: &mut S) -> Option<Packet> {
    let mut head = [0u8; HEADER_LEN];
    s.read_exact(&mut head).await.ok()?;
    let header = Header::decode(&head).ok()?;
    let mut payload = vec![0u8; header.payload_len()];
    s.read_exact(&mut payload).await.ok()?;
    Packet::decode(header.kind, &payload).ok()
}

/// Answers the standard requests a session needs, and everything else through `handler`.
pub fn standard(req: &OperationRequest, handler: &Handler) -> Reply {
    match req.code {
        op::OPEN_SESSION | op::CLOSE_SESSION => Reply::Cmd(response(req.tid, rc::OK)),
        _ => handler(req),
    }
}

/// Starts a fake camera on 127.0.0.1; returns its `host:port`.
pub async fn fake_camera(handler: Arc<Handler>) -> String {
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

pub async fn reply(cmd: &mut TcpStream, events: &mut TcpStream, r: Reply) -> std::io::Result<()> {
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

pub fn device_info(operations: &[u16], properties: &[u16]) -> Vec<u8> {
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

pub fn folder_info(parent: u32, name: &str) -> Vec<u8> {
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

pub async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, f).await.expect("the client gave up within the deadline")
}

/// A camera with property 0xD001, an AUINT8 of `len` bytes (current and default).
pub fn array_prop_camera(len: usize) -> Arc<Handler> {
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

pub async fn ptp_camera(addr: &str, options: &str) -> PtpCamera {
    let url: CameraUrl = format!("ptpip://{addr}{options}").parse().unwrap();
    PtpCamera::connect(&url).await.unwrap()
}

/// A camera whose storage holds one chain of `depth` folders, each named with 254 characters;
/// `asked` counts the GetObjectInfo requests.
pub fn deep_chain_camera(depth: u32, asked: Arc<AtomicUsize>) -> Arc<Handler> {
    Arc::new(move |req: &OperationRequest| {
        let tid = req.tid;
        match req.code {
            op::GET_STORAGE_IDS => Reply::Cmd(data(tid, encode_u32_array(&[0x0001_0001]))),
            op::GET_OBJECT_HANDLES => {
                let parent = req.params.get(2);
                let child = if parent == 0xFFFF_FFFF { 1 } else { parent + 1 };
                let handles: Vec<u32> = if child <= depth { vec![child] } else { vec![] };
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
    })
}
