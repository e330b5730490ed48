//! The raw test initiator: PTP/IP built on `Connection` + `wire` (independent of the real client), for
//! the tests that check the emulator's answers byte by byte.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use camctl_ptpip::connection::Connection;
use camctl_ptpip::wire::codes::rc;
use camctl_ptpip::wire::{OperationRequest, PROTOCOL_VERSION, Packet, Params, data_phase, kind};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// How long one answer may take: generous, only there so a regression fails instead of hanging.
pub const T: Duration = Duration::from_secs(10);

/// The Init_Command_Request the initiator sends.
pub fn init_request() -> Packet {
    Packet::InitCommandRequest { guid: [7; 16], name: "test".into(), version: Some(PROTOCOL_VERSION) }
}

/// A data-in phase and response.
pub struct Answer {
    pub code: u16,
    pub params: Vec<u32>,
    pub data: Option<Vec<u8>>,
    pub tid: u32,
}

/// The command connection of the raw initiator.
pub struct Cam {
    pub cmd: Connection<TcpStream>,
    /// The connection number of the Init_Command_Ack.
    pub conn_id: u32,
    /// The transaction id of the next request.
    pub tid: u32,
}

impl Cam {
    /// Connects and handshakes; the first request gets transaction id 1.
    pub async fn connect(addr: SocketAddr) -> Cam {
        Cam::connect_from(addr, 1).await
    }

    /// Connects and handshakes; the first request gets transaction id `tid`.
    pub async fn connect_from(addr: SocketAddr, tid: u32) -> Cam {
        let mut cmd = Connection::new(TcpStream::connect(addr).await.unwrap());
        cmd.write_packet(&init_request()).await.unwrap();
        let ack = timeout(T, cmd.read_packet()).await.unwrap().unwrap();
        let Packet::InitCommandAck { connection, .. } = ack else { panic!("no ack: {ack:?}") };
        Cam { cmd, conn_id: connection, tid }
    }

    pub fn next_tid(&mut self) -> u32 {
        let t = self.tid;
        self.tid += 1;
        t
    }

    /// Sends an OperationRequest; returns its transaction id.
    pub async fn send_request(&mut self, code: u16, params: &[u32], phase: u32) -> u32 {
        let tid = self.next_tid();
        let req = OperationRequest { data_phase: phase, code, tid, params: Params::new(params) };
        self.cmd.write_packet(&Packet::OperationRequest(req)).await.unwrap();
        tid
    }

    pub async fn call(&mut self, code: u16, params: &[u32]) -> Answer {
        self.send_request(code, params, data_phase::NONE_OR_IN).await;
        self.answer().await
    }

    /// Expects success.
    pub async fn ok(&mut self, code: u16, params: &[u32]) -> Answer {
        let a = self.call(code, params).await;
        assert_eq!(a.code, rc::OK, "op {code:#06x} failed: {:#06x}", a.code);
        a
    }

    /// Expects success with a data phase and returns the data.
    pub async fn data(&mut self, code: u16, params: &[u32]) -> Vec<u8> {
        self.ok(code, params).await.data.unwrap_or_else(|| panic!("op {code:#06x}: no data phase"))
    }

    /// An operation with a data-out phase as gphoto2 sends it (Start_Data + End_Data); returns the
    /// response code.
    pub async fn send(&mut self, code: u16, params: &[u32], bytes: &[u8]) -> u16 {
        let tid = self.send_request(code, params, data_phase::OUT).await;
        let mut out = Vec::new();
        Packet::StartData { tid, total: bytes.len() as u64 }.encode(&mut out).unwrap();
        Packet::EndData { tid, data: bytes.to_vec() }.encode(&mut out).unwrap();
        self.raw(&out).await;
        self.answer().await.code
    }

    /// Writes `bytes` as they are on the command connection.
    pub async fn raw(&mut self, bytes: &[u8]) {
        self.cmd.write_raw(bytes).await.unwrap();
    }

    /// Reads an optional data-in phase (any layout) and the response; payloads are read in bounded chunks.
    pub async fn answer(&mut self) -> Answer {
        timeout(T, self.answer_inner()).await.expect("answer in time")
    }

    async fn answer_inner(&mut self) -> Answer {
        let mut data: Option<Vec<u8>> = None;
        loop {
            let h = self.cmd.read_header().await.unwrap();
            match h.kind {
                kind::DATA | kind::END_DATA => {
                    let _tid = self.cmd.read_u32().await.unwrap();
                    let mut left = h.payload_len() - 4;
                    let buf = data.get_or_insert_with(Vec::new);
                    while left > 0 {
                        let n = left.min(1 << 20);
                        buf.extend(self.cmd.read_payload(n).await.unwrap());
                        left -= n;
                    }
                }
                _ => {
                    let payload = self.cmd.read_payload(h.payload_len()).await.unwrap();
                    match Packet::decode(h.kind, &payload).unwrap() {
                        Packet::StartData { .. } => {
                            data.get_or_insert_with(Vec::new);
                        }
                        Packet::OperationResponse(r) => {
                            return Answer {
                                code: r.code,
                                params: r.params.as_slice().to_vec(),
                                data,
                                tid: r.tid,
                            };
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
            }
        }
    }
}
