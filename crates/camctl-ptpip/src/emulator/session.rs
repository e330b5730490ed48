//! One command connection: the Init ack, then Cmd_Request → [data-out] → execute → [data-in] →
//! Cmd_Response, with every data-out variant of rule 9 accepted and data-in sent as rule 8 says.
//!
//! Bad input costs only this connection: undecodable or absurdly large packets close it; unknown or
//! misplaced packet types are logged and skipped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use camctl_core::io::ReadError;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::connection::{Connection, MAX_BUFFERED_PACKET};
use crate::error::{Error, Result};
use crate::wire::codes::{op, rc};
use crate::wire::{
    CodeAndParams, Header, OperationRequest, PROTOCOL_VERSION, Packet, Params, WireError, data_phase, kind,
};

use super::{DataInMode, Shared};

/// Deadline for the rest of a packet once its header arrived, and for each packet of a data-out phase.
/// Bytes read from a file at a time when streaming it to a client.
const FILE_READ_CHUNK: usize = 256 << 10;
const PACKET_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait for a data-out phase the request did not announce (DataPhaseInfo != 2): a null
/// data-out may be sent as "no data at all", and the reply must still start within 2.5 s (rule 11).
const UNANNOUNCED_DATA_WAIT: Duration = Duration::from_secs(1);

/// A peer that does not take our data within this time is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Largest control packet (everything but Data/End_Data) we read; requests are at most 38 bytes.
const MAX_CONTROL_PACKET: usize = 4096;

/// Bytes read from the socket per step of a data-out phase.
const DATA_OUT_CHUNK: usize = 256 * 1024;

/// Largest data-in packet payload in [`DataInMode::SingleEnd`] (the packet length is a u32).
const MAX_DATA_PACKET: u64 = u32::MAX as u64 - 12;

/// Payload of the Data packets used when an object does not fit one packet.
const HUGE_DATA_CHUNK: u64 = 1 << 30;

/// Where data-out bytes go.
pub(super) enum Sink {
    /// Kept in memory up to `limit`; beyond it the rest is discarded and `overflow` set.
    Memory { buf: Vec<u8>, limit: usize, overflow: bool },
    /// Streamed to a temp file (SendObject); removed on drop unless kept.
    File { file: tokio::fs::File, temp: TempFile, written: u64, limit: u64, failed: bool },
    /// Read and dropped.
    Discard,
}

impl Sink {
    /// A memory sink for small datasets and values.
    pub(super) fn memory(limit: usize) -> Sink {
        Sink::Memory { buf: Vec::new(), limit, overflow: false }
    }

    async fn write(&mut self, bytes: &[u8]) {
        match self {
            Sink::Memory { buf, limit, overflow } => {
                if *overflow || buf.len() + bytes.len() > *limit {
                    *overflow = true;
                } else {
                    buf.extend_from_slice(bytes);
                }
            }
            Sink::File { file, written, limit, failed, temp } => {
                *written += bytes.len() as u64;
                if *failed {
                    return;
                }
                if *written > *limit {
                    *failed = true;
                    return;
                }
                if let Err(e) = file.write_all(bytes).await {
                    // Keep draining the socket so the connection stays in sync; SendObject then fails.
                    tracing::warn!(path = %temp.path.display(), error = %e, "upload write failed");
                    *failed = true;
                }
            }
            Sink::Discard => {}
        }
    }
}

/// A file removed when dropped unless [`TempFile::keep`] was called (uploads and captures that fail
/// half-way, including a task aborted mid-transfer, leave nothing behind).
pub(super) struct TempFile {
    pub(super) path: PathBuf,
    keep: bool,
}

impl TempFile {
    pub(super) fn new(path: PathBuf) -> TempFile {
        TempFile { path, keep: false }
    }

    /// The file is renamed/kept: do not remove it.
    pub(super) fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Outcome of a data-out phase.
pub(super) enum DataOut {
    Complete,
    Cancelled,
}

/// A data-in phase.
pub(super) enum DataIn {
    Bytes(Vec<u8>),
    /// `len` bytes from the file's current position.
    File {
        file: tokio::fs::File,
        len: u64,
    },
}

/// What an operation answers.
pub(super) struct Reply {
    pub code: u16,
    pub params: Params,
    pub data: Option<DataIn>,
}

impl Reply {
    pub(super) fn code(code: u16) -> Reply {
        Reply { code, params: Params::default(), data: None }
    }
    pub(super) fn ok() -> Reply {
        Reply::code(rc::OK)
    }
    pub(super) fn with_params(code: u16, params: &[u32]) -> Reply {
        Reply { code, params: Params::new(params), data: None }
    }
    pub(super) fn data(bytes: Vec<u8>) -> Reply {
        Reply { code: rc::OK, params: Params::default(), data: Some(DataIn::Bytes(bytes)) }
    }
}

/// An upload announced by SendObjectInfo, waiting for SendObject.
pub(super) struct PendingUpload {
    pub handle: u32,
    /// Final path relative to the media directory.
    pub rel: PathBuf,
}

/// Per-connection state.
pub(super) struct Session {
    pub(super) shared: Arc<Shared>,
    conn: Connection<TcpStream>,
    pub(super) conn_id: u32,
    pub(super) peer: SocketAddr,
    /// SessionID of the open session.
    pub(super) session: Option<u32>,
    /// A request read while a data-out phase was expected (the initiator sent none).
    pending_request: Option<OperationRequest>,
    /// A data-out phase completed before an End_Data; an empty End_Data may still follow.
    skip_empty_end: bool,
    pub(super) upload: Option<PendingUpload>,
    /// Canon EOS per-connection state (release button).
    pub(super) eos: super::eos::ConnState,
    /// Nikon per-connection state (DeviceReady, the running capture).
    pub(super) nikon: super::nikon::ConnState,
}

/// Removes the connection's slot (and so closes its event connection) however the session ends.
struct SlotGuard {
    shared: Arc<Shared>,
    conn_id: u32,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.shared.lock().conns.remove(&self.conn_id);
    }
}

/// Runs a command connection whose Init_Command_Request has been read.
pub(super) async fn run(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    initiator: String,
    version: Option<u32>,
) {
    let conn_id = shared.register_connection();
    let _slot = SlotGuard { shared: shared.clone(), conn_id };
    let mut conn = Connection::new(stream);
    let ack = Packet::InitCommandAck {
        connection: conn_id,
        guid: shared.guid,
        name: shared.ack_name.clone(),
        version: Some(PROTOCOL_VERSION),
    };
    // One write for the whole Ack (rule 3).
    if let Err(e) = with_timeout(WRITE_TIMEOUT, conn.write_packet(&ack)).await {
        tracing::debug!(%peer, error = %e, "init ack failed");
        return;
    }
    tracing::info!(%peer, conn_id, initiator, version = ?version, "command connection opened");
    let mut session = Session {
        shared,
        conn,
        conn_id,
        peer,
        session: None,
        pending_request: None,
        skip_empty_end: false,
        upload: None,
        eos: Default::default(),
        nikon: Default::default(),
    };
    match session.serve().await {
        Ok(()) => tracing::info!(%peer, conn_id, "command connection closed"),
        Err(e @ (Error::Io(_) | Error::Read(_))) => {
            tracing::info!(%peer, conn_id, error = %e, "command connection lost")
        }
        Err(e) => tracing::warn!(%peer, conn_id, error = %e, "bad input, command connection closed"),
    }
}

async fn with_timeout<T>(limit: Duration, f: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(limit, f).await.map_err(|_| Error::Timeout("the peer"))?
}

impl Session {
    async fn serve(&mut self) -> Result<()> {
        while let Some(req) = self.next_request().await? {
            tracing::debug!(
                conn = self.conn_id,
                op = format_args!("{:#06x}", req.code),
                tid = req.tid,
                params = ?req.params,
                "request"
            );
            let reply = if op::has_data_out(req.code)
                || req.data_phase == data_phase::OUT
                || self.eos_data_out(&req)
                || self.nikon_data_out(&req)
            {
                let mut sink = self.sink_for(&req).await;
                match self.receive_data_out(&req, &mut sink).await? {
                    DataOut::Complete => self.execute(&req, Some(sink)).await,
                    DataOut::Cancelled => Reply::code(rc::TRANSACTION_CANCELLED),
                }
            } else {
                self.execute(&req, None).await
            };
            if reply.code != rc::OK {
                tracing::debug!(
                    conn = self.conn_id,
                    op = format_args!("{:#06x}", req.code),
                    code = format_args!("{:#06x}", reply.code),
                    "failed"
                );
            }
            self.send_reply(req.tid, reply).await?;
        }
        Ok(())
    }

    /// The idle timeout for the wait for the next request: none while a session with a bound event
    /// connection is open (the initiator may only be waiting for events).
    fn idle_limit(&self) -> Duration {
        let watching = self.session.is_some()
            && self
                .shared
                .lock()
                .conns
                .get(&self.conn_id)
                .is_some_and(|slot| slot.events.as_ref().is_some_and(|tx| !tx.is_closed()));
        if watching { Duration::ZERO } else { self.shared.config.idle_timeout }
    }

    /// The next Cmd_Request; `None` when the peer closed the connection between requests (or was idle
    /// past the idle timeout).
    async fn next_request(&mut self) -> Result<Option<OperationRequest>> {
        if let Some(req) = self.pending_request.take() {
            return Ok(Some(req));
        }
        loop {
            let idle = self.idle_limit();
            let header = match camctl_core::serve::timed(idle, self.conn.read_header()).await {
                None => {
                    tracing::debug!(peer = %self.peer, conn = self.conn_id, "idle command connection closed");
                    return Ok(None);
                }
                Some(Ok(h)) => h,
                Some(Err(Error::Read(ReadError::Closed))) => return Ok(None),
                Some(Err(e)) => return Err(e),
            };
            let skip_empty_end = std::mem::take(&mut self.skip_empty_end);
            if matches!(header.kind, kind::DATA | kind::END_DATA) {
                // Only an empty End_Data after a completed data-out phase is expected here.
                let expected = skip_empty_end && header.kind == kind::END_DATA && header.payload_len() <= 4;
                if !expected {
                    tracing::warn!(peer = %self.peer, kind = header.kind, len = header.length, "stray data packet skipped");
                }
                with_timeout(PACKET_TIMEOUT, self.conn.skip_payload(header.payload_len() as u64)).await?;
                continue;
            }
            match self.read_control(header).await? {
                Packet::OperationRequest(req) => return Ok(Some(req)),
                Packet::ProbeRequest => self.write(&Packet::ProbeResponse).await?,
                // The seed: a Cancel_Transaction "gets 0x7 ack back". Its code is not given; the one a
                // cancelled data phase gets (TransactionCancelled) says what happened.
                Packet::Cancel { tid } => {
                    let ack =
                        CodeAndParams { code: rc::TRANSACTION_CANCELLED, tid, params: Params::new(&[]) };
                    self.write(&Packet::OperationResponse(ack)).await?
                }
                other => tracing::warn!(peer = %self.peer, kind = other.kind(), "unexpected packet skipped"),
            }
        }
    }

    /// Reads the payload of a non-data packet: control packets must be small; unknown types are skipped
    /// (up to [`MAX_BUFFERED_PACKET`]) and returned without payload; anything larger closes.
    async fn read_control(&mut self, header: Header) -> Result<Packet> {
        let n = header.payload_len();
        let known = (kind::INIT_COMMAND_REQUEST..=kind::PROBE_RESPONSE).contains(&header.kind);
        if n > MAX_BUFFERED_PACKET || (known && n > MAX_CONTROL_PACKET) {
            return Err(Error::Wire(WireError::TooLarge(header.length as usize)));
        }
        if !known {
            with_timeout(PACKET_TIMEOUT, self.conn.skip_payload(n as u64)).await?;
            return Ok(Packet::Unknown { kind: header.kind, payload: Vec::new() });
        }
        let payload = with_timeout(PACKET_TIMEOUT, self.conn.read_payload(n)).await?;
        Ok(Packet::decode(header.kind, &payload)?)
    }

    /// Receives a data-out phase in any of the layouts of rule 9:
    /// (a) Start + End(data); (b) Start + Data… + End(last chunk); (c) Start (u32 length) + Data(all) +
    /// End(empty); (d) Start(total 0) alone; (e) one raw Data packet without Start (and maybe without a
    /// TID). Completion is decided by End_Data or by reaching the Start total, whichever comes first; a
    /// late empty End_Data is then skipped by [`Session::next_request`].
    async fn receive_data_out(&mut self, req: &OperationRequest, sink: &mut Sink) -> Result<DataOut> {
        let mut total: Option<u64> = None;
        let mut received: u64 = 0;
        let mut first = true;
        loop {
            let wait = if first && req.data_phase != data_phase::OUT {
                UNANNOUNCED_DATA_WAIT
            } else {
                PACKET_TIMEOUT
            };
            let header = match tokio::time::timeout(wait, self.conn.read_header()).await {
                Ok(h) => h?,
                // No data at all: a null data-out phase.
                Err(_) if first && req.data_phase != data_phase::OUT => return Ok(DataOut::Complete),
                Err(_) => return Err(Error::Timeout("data-out packet")),
            };
            first = false;
            match header.kind {
                kind::DATA | kind::END_DATA => {
                    let end = header.kind == kind::END_DATA;
                    let n = header.payload_len() as u64;
                    if n >= 4 {
                        let tid = with_timeout(PACKET_TIMEOUT, self.conn.read_u32()).await?;
                        // A lone Data without Start may omit the TID (rule 9e): then those 4 bytes are data.
                        if total.is_none() && !end && tid != req.tid {
                            sink.write(&tid.to_le_bytes()).await;
                            received += 4;
                        }
                        self.pump(n - 4, sink).await?;
                        received += n - 4;
                    } else {
                        let bytes = with_timeout(PACKET_TIMEOUT, self.conn.read_payload(n as usize)).await?;
                        sink.write(&bytes).await;
                        received += n;
                    }
                    if end {
                        return Ok(DataOut::Complete);
                    }
                    match total {
                        None => {
                            self.skip_empty_end = true;
                            return Ok(DataOut::Complete);
                        }
                        Some(t) if t != u64::MAX && received >= t => {
                            self.skip_empty_end = true;
                            return Ok(DataOut::Complete);
                        }
                        Some(_) => {}
                    }
                }
                _ => match self.read_control(header).await? {
                    Packet::StartData { total: t, .. } if total.is_none() => {
                        if t == 0 {
                            // gphoto2 sends nothing after a zero-length Start; an empty End may follow.
                            self.skip_empty_end = true;
                            return Ok(DataOut::Complete);
                        }
                        total = Some(t);
                    }
                    Packet::Cancel { .. } => return Ok(DataOut::Cancelled),
                    Packet::ProbeRequest => self.write(&Packet::ProbeResponse).await?,
                    Packet::OperationRequest(next) if total.is_none() => {
                        // The initiator announced data but sent none: answer this one, keep the next.
                        self.pending_request = Some(next);
                        return Ok(DataOut::Complete);
                    }
                    other => {
                        return Err(Error::Unexpected { expected: "a data-out packet", got: other.kind() });
                    }
                },
            }
        }
    }

    /// Moves `n` payload bytes from the socket into `sink` in bounded chunks.
    async fn pump(&mut self, mut n: u64, sink: &mut Sink) -> Result<()> {
        while n > 0 {
            let chunk = n.min(DATA_OUT_CHUNK as u64) as usize;
            let bytes = with_timeout(PACKET_TIMEOUT, self.conn.read_payload(chunk)).await?;
            sink.write(&bytes).await;
            n -= chunk as u64;
        }
        Ok(())
    }

    /// Sends the data phase (if any) and the response.
    async fn send_reply(&mut self, tid: u32, reply: Reply) -> Result<()> {
        let response =
            Packet::OperationResponse(CodeAndParams { code: reply.code, tid, params: reply.params });
        match reply.data {
            None => self.write(&response).await,
            Some(DataIn::Bytes(bytes)) => {
                // Small data: Start, data packets and response go out in one write.
                let mut out = Vec::with_capacity(bytes.len() + 64);
                Packet::StartData { tid, total: bytes.len() as u64 }.encode(&mut out)?;
                let max = self.max_data_packet();
                let mut rest = &bytes[..];
                loop {
                    let take = rest.len().min(usize::try_from(max).unwrap_or(usize::MAX));
                    let end = take == rest.len();
                    let kind = if end { kind::END_DATA } else { kind::DATA };
                    out.extend_from_slice(&Header::encode(kind, 4 + take)?);
                    out.extend_from_slice(&tid.to_le_bytes());
                    out.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    if end {
                        break;
                    }
                }
                response.encode(&mut out)?;
                with_timeout(WRITE_TIMEOUT, self.conn.write_raw(&out)).await
            }
            Some(DataIn::File { file, len }) => {
                self.stream_file(tid, file, len).await?;
                self.write(&response).await
            }
        }
    }

    /// Largest payload per data-in packet for the configured mode.
    fn max_data_packet(&self) -> u64 {
        match self.shared.config.data_in {
            DataInMode::SingleEnd => MAX_DATA_PACKET,
            DataInMode::Chunked { size } => (size as u64).clamp(1, MAX_DATA_PACKET),
        }
    }

    /// Streams `len` bytes of `file` as a data-in phase without holding them in memory.
    async fn stream_file(&mut self, tid: u32, file: tokio::fs::File, len: u64) -> Result<()> {
        // Objects too large for one packet go as 1 GiB Data packets (+ End) even in SingleEnd mode.
        let max = match self.max_data_packet() {
            m if len > m => m.min(HUGE_DATA_CHUNK),
            m => m,
        };
        self.write(&Packet::StartData { tid, total: len }).await?;
        // 256 KiB reads: every read is a hop to the blocking pool (128 KiB ones cost a quarter of the
        // throughput), while a stalled reader still holds little until its write times out.
        let mut buf = vec![0u8; FILE_READ_CHUNK.min(usize::try_from(len).unwrap_or(usize::MAX)).max(1)];
        // Read with std on the blocking pool straight into `buf`: tokio's File would keep a second
        // buffer of the same size per connection.
        let mut file = file.into_std().await;
        let mut left = len;
        loop {
            let packet_len = left.min(max);
            let end = packet_len == left;
            with_timeout(WRITE_TIMEOUT, self.conn.write_data_header(end, tid, packet_len)).await?;
            let mut packet_left = packet_len;
            while packet_left > 0 {
                let want = packet_left.min(buf.len() as u64) as usize;
                // The file and buffer go to the blocking thread and come back with the result.
                let (f, b, read) = tokio::task::spawn_blocking(move || {
                    let (mut f, mut b) = (file, buf);
                    let read = std::io::Read::read(&mut f, &mut b[..want]);
                    (f, b, read)
                })
                .await
                .map_err(std::io::Error::other)?;
                file = f;
                buf = b;
                let got = read?;
                if got == 0 {
                    // The file shrank under us: the length is already announced, so pad with zeros.
                    tracing::warn!(peer = %self.peer, "file shrank during transfer, padding");
                    buf[..want].fill(0);
                    with_timeout(WRITE_TIMEOUT, self.conn.write_raw(&buf[..want])).await?;
                    packet_left -= want as u64;
                    continue;
                }
                with_timeout(WRITE_TIMEOUT, self.conn.write_raw(&buf[..got])).await?;
                packet_left -= got as u64;
            }
            left -= packet_len;
            if end {
                return Ok(());
            }
        }
    }

    async fn write(&mut self, packet: &Packet) -> Result<()> {
        with_timeout(WRITE_TIMEOUT, self.conn.write_packet(packet)).await
    }
}
