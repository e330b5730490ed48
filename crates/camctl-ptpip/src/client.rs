//! PTP/IP initiator: the two connections, the init handshake, a session, and the operations a
//! photographer's tool needs. Object data is streamed to a writer, never held whole in memory.
//!
//! Whatever a camera sends, the client's memory and time stay bounded: datasets are capped per kind
//! ([`MAX_PROP_DATASET`] for property descriptors and values, 1 MiB for the info datasets) and refused
//! from their announced size; the object tree keeps parent links, not paths, and stops at
//! [`MAX_FOLDER_DEPTH`] levels and [`MAX_OBJECTS`] objects; every data phase is held to a progress floor
//! ([`ClientConfig::floor`], default 1 KiB in 20 s); at most [`MAX_SKIPPED_PACKETS`] unknown packets
//! are skipped in a row; a data phase of unknown length stops at the object's size or
//! [`UNKNOWN_LENGTH_CAP`]; a capture takes at most [`MAX_CAPTURE_OBJECTS`] new objects; warnings about
//! junk and floods are rate-limited with a count.
//!
//! ```no_run
//! # async fn demo() -> camctl_ptpip::Result<()> {
//! use camctl_ptpip::client::{Client, ClientConfig};
//! let mut camera = Client::connect("127.0.0.1:15740", ClientConfig::default()).await?;
//! let info = camera.device_info().await?;
//! println!("{} {}", info.manufacturer, info.model);
//! camera.close().await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use camctl_core::io::{Floor, ReadError};
use camctl_core::log::{Throttle, shown};
use camctl_core::warn_throttled;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Mutex, mpsc, oneshot};
use tracing::{debug, info};

use crate::connection::{Connection, STREAM_CHUNK};
use crate::error::{Error, Result};
use crate::wire::codes::{self, ev, op, rc};
use crate::wire::{
    CodeAndParams, DataType, DeviceInfo, DevicePropDesc, Header, ObjectInfo, OperationRequest,
    PROTOCOL_VERSION, Packet, Params, PropValue, StorageInfo, WireError, data_phase, decode_u32_array, kind,
};

/// How the initiator introduces itself, and how long it waits.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Initiator GUID; cameras that pair (Sony, Nikon, Canon) remember it.
    pub guid: [u8; 16],
    /// Friendly name shown on the camera.
    pub name: String,
    /// How long any single read may wait for the camera.
    pub timeout: Duration,
    /// The slowest a data phase may go (`None` = only the idle timeout applies).
    pub floor: Option<Floor>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            // A fixed GUID lets cameras that pair recognise camctl on every run.
            guid: *b"camctl-initiator",
            name: "camctl".into(),
            timeout: Duration::from_secs(10),
            floor: Some(Floor::default()),
        }
    }
}

/// Largest dataset read into memory when nothing smaller applies (GetThumb, vendor datasets).
const MAX_DATASET: usize = 16 * 1024 * 1024;

/// Largest DeviceInfo, StorageInfo or ObjectInfo accepted: real ones are a few KiB.
const MAX_INFO_DATASET: usize = 1024 * 1024;

/// Largest DevicePropDesc or device property value accepted: real array properties are a few KiB.
pub const MAX_PROP_DATASET: usize = 1024 * 1024;

/// Most objects an object tree may hold; a card with more is refused with an error naming this cap.
pub const MAX_OBJECTS: usize = 100_000;

/// Deepest folder level listed (real cards have a handful); deeper objects are skipped with a warning.
pub const MAX_FOLDER_DEPTH: usize = 32;

/// Total bytes of the paths of one object tree (a card of [`MAX_OBJECTS`] objects with 80-byte paths
/// needs 8 MB).
const MAX_PATH_BYTES: usize = 32 * 1024 * 1024;

/// Unknown packets skipped in a row on the command connection before the camera is given up.
pub const MAX_SKIPPED_PACKETS: u32 = 64;

/// Largest unknown packet skipped; a bigger one is a protocol error.
const MAX_SKIPPED_PACKET: usize = 1024 * 1024;

/// Cap on a data phase of unknown length (total `u64::MAX`) when the object's size is not known.
pub const UNKNOWN_LENGTH_CAP: u64 = 4 << 30;

/// New objects one capture accepts (ObjectAdded events before CaptureComplete).
pub const MAX_CAPTURE_OBJECTS: usize = 64;

/// Where the data-in phase of a transaction goes.
enum DataIn<'a> {
    /// No data expected; any that comes is discarded.
    Discard,
    /// Collected into memory, up to the given number of bytes.
    Buffer(&'a mut Vec<u8>, usize),
    /// Streamed to a writer; more than `limit` bytes is an error, not extra data, and a data phase of
    /// unknown length may not pass `unknown_cap`.
    Stream { out: &'a mut (dyn AsyncWrite + Unpin + Send), limit: u64, unknown_cap: u64 },
}

/// What one transaction moved, for its log line.
struct Outcome {
    response: CodeAndParams,
    /// Data-in bytes received, when there was a data-in phase.
    data_in: Option<u64>,
}

/// A connected PTP/IP session.
pub struct Client {
    cmd: Connection<TcpStream>,
    event_writer: Arc<Mutex<OwnedWriteHalf>>,
    events: mpsc::Receiver<Result<CodeAndParams>>,
    probe_waiter: Arc<Mutex<Option<oneshot::Sender<()>>>>,
    event_task: tokio::task::JoinHandle<()>,
    next_tid: u32,
    session_open: bool,
    timeout: Duration,
    camera_name: String,
    /// The initiator GUID this session introduced itself with.
    guid: [u8; 16],
    /// Set when a transaction failed half-way: the command stream is out of step from then on.
    broken: bool,
    /// Progress floor of data phases.
    floor: Option<Floor>,
    /// Rate limit of warnings about junk on the command connection.
    junk: Throttle,
    /// Rate limit of warnings about folders nested too deep.
    deep: Throttle,
}

impl Client {
    /// Connects both sockets to `addr` (`host:port`), performs the init handshake and opens a session.
    ///
    /// A camera that answers with Init_Fail yields [`Error::InitFailed`] with its reason.
    pub async fn connect(addr: &str, config: ClientConfig) -> Result<Client> {
        let timeout = config.timeout;
        let connect = || async move {
            let unreachable = |source| Error::Unreachable { addr: addr.to_string(), source };
            match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => {
                    s.set_nodelay(true)?;
                    Ok(s)
                }
                Ok(Err(e)) => Err(unreachable(e)),
                Err(_) => Err(unreachable(std::io::ErrorKind::TimedOut.into())),
            }
        };
        let mut cmd = Connection::new(connect().await?);
        cmd.set_read_timeout(Some(timeout));
        cmd.set_packet_log("command");
        cmd.write_packet(&Packet::InitCommandRequest {
            guid: config.guid,
            name: config.name.clone(),
            version: Some(PROTOCOL_VERSION),
        })
        .await?;
        let (connection, camera_name) = match first_answer(&mut cmd, addr).await? {
            Packet::InitCommandAck { connection, name, .. } => (connection, name),
            Packet::InitFail { reason } => return Err(Error::InitFailed { reason }),
            other => return Err(Error::Unexpected { expected: "Init_Command_Ack", got: other.kind() }),
        };
        info!(
            "Init_Command_Ack from {addr}: camera \"{}\", connection {connection}",
            shown(camera_name.as_bytes(), 64)
        );

        // Some cameras (Ricoh THETA) refuse the event connection for a moment: retry twice.
        let mut attempt = 0;
        let event_stream = loop {
            match connect().await {
                Err(Error::Unreachable { source, .. })
                    if source.kind() == std::io::ErrorKind::ConnectionRefused && attempt < 2 =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => break other?,
            }
        };
        let (read_half, mut write_half) = event_stream.into_split();
        let mut event_conn = Connection::new(read_half);
        event_conn.set_read_timeout(Some(timeout));
        event_conn.set_packet_log("event");
        write_half.write_all(&Packet::InitEventRequest { connection }.to_bytes()?).await?;
        match event_conn.read_packet().await? {
            Packet::InitEventAck => {}
            Packet::InitFail { reason } => return Err(Error::InitFailed { reason }),
            other => return Err(Error::Unexpected { expected: "Init_Event_Ack", got: other.kind() }),
        }
        // Events may be rare: no read timeout on the event socket from now on.
        event_conn.set_read_timeout(None);

        let event_writer = Arc::new(Mutex::new(write_half));
        let probe_waiter = Arc::new(Mutex::new(None));
        let (tx, events) = mpsc::channel(256);
        let event_task =
            tokio::spawn(event_loop(event_conn, Arc::clone(&event_writer), Arc::clone(&probe_waiter), tx));

        let mut client = Client {
            cmd,
            event_writer,
            events,
            probe_waiter,
            event_task,
            next_tid: 0,
            session_open: false,
            timeout,
            camera_name,
            guid: config.guid,
            broken: false,
            floor: config.floor,
            junk: Throttle::default(),
            deep: Throttle::new(1, Duration::from_secs(60)),
        };
        client.open_session().await?;
        Ok(client)
    }

    /// How long the client waits for the camera (`timeout=` in the URL).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The initiator GUID sent in the Init_Command_Request (cameras that pair remember it).
    pub fn guid(&self) -> [u8; 16] {
        self.guid
    }

    /// The friendly name the camera gave in its Init_Command_Ack.
    pub fn camera_name(&self) -> &str {
        &self.camera_name
    }

    /// Opens session 1 (or the next free id if the camera says 1 is taken).
    async fn open_session(&mut self) -> Result<()> {
        for session_id in 1..=10u32 {
            let resp = self.transact(op::OPEN_SESSION, &[session_id], None, DataIn::Discard).await?;
            match resp.code {
                rc::OK | rc::SESSION_ALREADY_OPEN => {
                    self.session_open = true;
                    return Ok(());
                }
                rc::INVALID_TRANSACTION_ID | rc::INVALID_PARAMETER => continue,
                code => return Err(Error::Response { op: op::OPEN_SESSION, code }),
            }
        }
        Err(Error::Protocol("camera refused every session id".into()))
    }

    /// Runs one transaction: request, optional data-out, optional data-in, response, and logs it in one
    /// line at info level (`-v`). Returns the response even when its code is an error; see
    /// [`Client::call`] for the checked form.
    async fn transact(
        &mut self,
        code: u16,
        params: &[u32],
        data_out: Option<&[u8]>,
        data_in: DataIn<'_>,
    ) -> Result<CodeAndParams> {
        if self.broken {
            return Err(Error::Protocol(
                "the connection is out of step after an earlier failure; connect again".into(),
            ));
        }
        let result = self.exchange(code, params, data_out, data_in).await;
        self.cmd.stop_floor();
        let request = format!(
            "{} 0x{code:04x} {}{}",
            op_name(code),
            hex_list(params),
            data_out.map(|d| format!(", {} bytes out", d.len())).unwrap_or_default()
        );
        match &result {
            Ok(Outcome { response, data_in }) => info!(
                "{request} -> {} 0x{:04x}{}{}",
                rc::name(response.code),
                response.code,
                if response.params.as_slice().is_empty() {
                    String::new()
                } else {
                    format!(" {}", hex_list(response.params.as_slice()))
                },
                data_in.map(|n| format!(", {n} bytes in")).unwrap_or_default()
            ),
            Err(e) => {
                // Whatever was left of this transaction is still in the stream: no later one can be
                // told apart from it.
                self.broken = true;
                info!("{request} -> failed: {e}");
            }
        }
        result.map(|o| o.response)
    }

    /// The packets of one transaction.
    async fn exchange(
        &mut self,
        code: u16,
        params: &[u32],
        data_out: Option<&[u8]>,
        mut data_in: DataIn<'_>,
    ) -> Result<Outcome> {
        let tid = self.next_tid;
        self.next_tid = self.next_tid.wrapping_add(1);
        let request = Packet::OperationRequest(OperationRequest {
            data_phase: if data_out.is_some() { data_phase::OUT } else { data_phase::NONE_OR_IN },
            code,
            tid,
            params: Params::new(params),
        });
        match data_out {
            // Start + End carrying the data, in one write (what every responder accepts).
            Some(data) => {
                self.cmd
                    .write_packets(&[
                        request,
                        Packet::StartData { tid, total: data.len() as u64 },
                        Packet::EndData { tid, data: data.to_vec() },
                    ])
                    .await?
            }
            None => self.cmd.write_packet(&request).await?,
        }

        let mut received: u64 = 0;
        let mut expected: Option<u64> = None;
        let mut chunk = Vec::new();
        let mut skipped = 0u32;
        loop {
            let header = self.cmd.read_header().await?;
            if !matches!(
                header.kind,
                kind::OPERATION_RESPONSE | kind::START_DATA | kind::DATA | kind::END_DATA | kind::INIT_FAIL
            ) {
                skipped += 1;
                if skipped > MAX_SKIPPED_PACKETS {
                    return Err(Error::Protocol(format!(
                        "camera sent more than {MAX_SKIPPED_PACKETS} unknown packets in a row \
                         (type {}) instead of an answer",
                        header.kind
                    )));
                }
            } else {
                skipped = 0;
            }
            match header.kind {
                kind::OPERATION_RESPONSE => {
                    let payload = self.read_logged(&header).await?;
                    let Packet::OperationResponse(resp) = Packet::decode(header.kind, &payload)? else {
                        unreachable_response()?
                    };
                    if resp.tid != tid {
                        // Leica answers CloseSession with TID 0; gphoto2 tolerates it too.
                        debug!(expected = tid, got = resp.tid, "response transaction id differs");
                    }
                    if let Some(total) = expected.filter(|&t| t != u64::MAX && received < t)
                        && resp.code == rc::OK
                    {
                        return Err(Error::Protocol(format!(
                            "data phase ended after {received} of {total} bytes"
                        )));
                    }
                    return Ok(Outcome { response: resp, data_in: expected.map(|_| received) });
                }
                kind::START_DATA => {
                    let payload = self.read_logged(&header).await?;
                    let Packet::StartData { total, .. } = Packet::decode(header.kind, &payload)? else {
                        unreachable_response()?
                    };
                    match &data_in {
                        DataIn::Stream { limit, .. } if total != u64::MAX && total > *limit => {
                            return Err(Error::Protocol(format!(
                                "camera announced {total} bytes where {limit} were asked for"
                            )));
                        }
                        DataIn::Buffer(_, cap) if total != u64::MAX && total > *cap as u64 => {
                            return Err(Error::Protocol(format!(
                                "camera announced a {total}-byte dataset for {}; camctl accepts at most {cap} bytes",
                                codes::op::name(code)
                            )));
                        }
                        _ => {}
                    }
                    expected = Some(total);
                    // From here on the camera must keep the transfer moving.
                    self.cmd.start_floor(self.floor);
                }
                kind::DATA | kind::END_DATA => {
                    if expected.is_none() {
                        return Err(Error::Unexpected { expected: "Start_Data", got: header.kind });
                    }
                    let len = header
                        .payload_len()
                        .checked_sub(4)
                        .ok_or(Error::Wire(WireError::Truncated("data packet")))?
                        as u64;
                    let tid_bytes = self.cmd.read_u32().await?.to_le_bytes();
                    let buffered = self.cmd.buffered();
                    let shown = &buffered[..buffered.len().min(usize::try_from(len).unwrap_or(usize::MAX))];
                    self.cmd.log_received(&header, &[&tid_bytes, shown]);
                    received += len;
                    if let Some(total) = expected.filter(|&t| t != u64::MAX && received > t) {
                        return Err(Error::Protocol(format!(
                            "camera sent {received} bytes, announced {total}"
                        )));
                    }
                    let unknown_cap = match &data_in {
                        DataIn::Discard => UNKNOWN_LENGTH_CAP,
                        DataIn::Buffer(_, cap) => *cap as u64,
                        DataIn::Stream { unknown_cap, .. } => *unknown_cap,
                    };
                    if expected == Some(u64::MAX) && received > unknown_cap {
                        return Err(Error::Protocol(format!(
                            "data phase of unknown length went past {unknown_cap} bytes; giving up"
                        )));
                    }
                    match &mut data_in {
                        DataIn::Discard => self.cmd.skip_payload(len).await?,
                        DataIn::Buffer(buf, cap) => {
                            if buf.len() as u64 + len > *cap as u64 {
                                return Err(Error::Protocol(format!(
                                    "camera sent more than {cap} bytes of dataset for {}",
                                    codes::op::name(code)
                                )));
                            }
                            let start = buf.len();
                            buf.resize(start + len as usize, 0);
                            self.cmd.read_into(&mut buf[start..]).await?;
                        }
                        DataIn::Stream { out, limit, .. } => {
                            // Checked before writing: not one byte beyond what was asked reaches `out`.
                            if received > *limit {
                                return Err(Error::Protocol(format!(
                                    "camera sent more than the {limit} bytes asked for"
                                )));
                            }
                            if chunk.is_empty() {
                                // Sized to the object: a fresh 1 MiB of zeroes per small file costs
                                // more than the file's transfer.
                                let announced = expected.filter(|&t| t != u64::MAX).unwrap_or(u64::MAX);
                                let size = announced.max(len).min(STREAM_CHUNK as u64) as usize;
                                chunk = vec![0u8; size.max(1)];
                            }
                            self.cmd.copy_payload(len, *out, &mut chunk).await?;
                        }
                    }
                }
                kind::INIT_FAIL => {
                    let payload = self.read_logged(&header).await?;
                    let reason = match Packet::decode(header.kind, &payload)? {
                        Packet::InitFail { reason } => reason,
                        _ => 0,
                    };
                    return Err(Error::InitFailed { reason });
                }
                other => {
                    // Probe or vendor packets on the command socket: log and skip.
                    self.cmd.log_received(&header, &[]);
                    let len = header.payload_len();
                    if len > MAX_SKIPPED_PACKET {
                        return Err(Error::Protocol(format!(
                            "camera sent an unknown packet (type {other}) of {len} bytes"
                        )));
                    }
                    warn_throttled!(
                        self.junk,
                        "ignoring unexpected packet type {other} ({len} bytes) on the command connection"
                    );
                    // Skipping is a transfer too: a trickling camera must not hold us.
                    let floored = self.cmd.floor_running();
                    self.cmd.start_floor(self.floor);
                    self.cmd.skip_payload(len as u64).await?;
                    if !floored {
                        self.cmd.stop_floor();
                    }
                }
            }
        }
    }

    /// Reads a control packet's payload and logs the packet (`-vv`).
    async fn read_logged(&mut self, header: &Header) -> Result<Vec<u8>> {
        let payload = self.cmd.read_payload(header.payload_len()).await?;
        self.cmd.log_received(header, &[&payload]);
        Ok(payload)
    }

    /// Runs a transaction and turns a non-OK response into [`Error::Response`].
    async fn call(
        &mut self,
        code: u16,
        params: &[u32],
        data_out: Option<&[u8]>,
        data_in: DataIn<'_>,
    ) -> Result<CodeAndParams> {
        let resp = self.transact(code, params, data_out, data_in).await?;
        if resp.code != rc::OK {
            return Err(Error::Response { op: code, code: resp.code });
        }
        Ok(resp)
    }

    /// Runs a transaction whose data-in phase is a dataset, returned as bytes.
    async fn dataset(&mut self, code: u16, params: &[u32]) -> Result<Vec<u8>> {
        self.dataset_capped(code, params, MAX_DATASET).await
    }

    /// [`Client::dataset`] refusing datasets larger than `cap` bytes.
    async fn dataset_capped(&mut self, code: u16, params: &[u32], cap: usize) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.call(code, params, None, DataIn::Buffer(&mut buf, cap)).await?;
        Ok(buf)
    }

    /// Runs an operation without a data phase (vendor operations: SetRemoteMode, RemoteReleaseOn...)
    /// and returns its response, whatever the code: vendor operations answer in their own terms.
    pub async fn operation(&mut self, code: u16, params: &[u32]) -> Result<CodeAndParams> {
        self.transact(code, params, None, DataIn::Discard).await
    }

    /// [`Client::operation`] with a response other than OK turned into [`Error::Response`].
    pub async fn operation_ok(&mut self, code: u16, params: &[u32]) -> Result<CodeAndParams> {
        self.call(code, params, None, DataIn::Discard).await
    }

    /// Runs an operation whose data-in phase is a dataset of at most `cap` bytes (GetEvent,
    /// GetViewFinderData...); a response other than OK is [`Error::Response`].
    pub async fn operation_in(&mut self, code: u16, params: &[u32], cap: usize) -> Result<Vec<u8>> {
        self.dataset_capped(code, params, cap.min(MAX_DATASET)).await
    }

    /// Runs an operation with a data-out phase (SetDevicePropValueEx...); a response other than OK is
    /// [`Error::Response`].
    pub async fn operation_out(&mut self, code: u16, params: &[u32], data: &[u8]) -> Result<CodeAndParams> {
        self.call(code, params, Some(data), DataIn::Discard).await
    }

    /// Drops the standard events received so far (before an operation whose events matter).
    pub fn discard_events(&mut self) {
        while self.events.try_recv().is_ok() {}
    }

    /// GetDeviceInfo.
    pub async fn device_info(&mut self) -> Result<DeviceInfo> {
        Ok(DeviceInfo::decode(&self.dataset_capped(op::GET_DEVICE_INFO, &[], MAX_INFO_DATASET).await?)?)
    }

    /// GetStorageIDs.
    pub async fn storage_ids(&mut self) -> Result<Vec<u32>> {
        Ok(decode_u32_array(&self.dataset_capped(op::GET_STORAGE_IDS, &[], MAX_INFO_DATASET).await?)?)
    }

    /// GetStorageInfo.
    pub async fn storage_info(&mut self, storage_id: u32) -> Result<StorageInfo> {
        Ok(StorageInfo::decode(
            &self.dataset_capped(op::GET_STORAGE_INFO, &[storage_id], MAX_INFO_DATASET).await?,
        )?)
    }

    /// GetObjectHandles(storage, format, association): association 0 = all, 0xFFFFFFFF = root only.
    pub async fn object_handles(&mut self, storage_id: u32, format: u16, parent: u32) -> Result<Vec<u32>> {
        let params = [storage_id, u32::from(format), parent];
        let cap = 4 + 4 * (MAX_OBJECTS + 1);
        Ok(decode_u32_array(&self.dataset_capped(op::GET_OBJECT_HANDLES, &params, cap).await?)?)
    }

    /// GetObjectInfo.
    pub async fn object_info(&mut self, handle: u32) -> Result<ObjectInfo> {
        Ok(ObjectInfo::decode(&self.dataset_capped(op::GET_OBJECT_INFO, &[handle], MAX_INFO_DATASET).await?)?)
    }

    /// Every object of every storage in depth-first pre-order (a folder, then its contents), with its
    /// folder path (`DCIM/100EMU01/IMG_0001.JPG`).
    ///
    /// Children are filtered by their ParentObject as well, for cameras that ignore the association filter.
    /// The walk keeps a link to each object's parent, not a path: paths are built once at the end, for
    /// at most [`MAX_FOLDER_DEPTH`] levels (deeper contents are skipped with a warning) and
    /// [`MAX_OBJECTS`] objects (more is an error).
    pub async fn object_tree(&mut self) -> Result<Vec<TreeEntry>> {
        let storages = self.storage_ids().await?;
        let mut nodes: Vec<Node> = Vec::new();
        let mut seen = Seen::default();
        let mut too_deep = 0usize;
        for &sid in &storages {
            // Entries still to emit, last first; a folder's children are listed when it is emitted.
            let mut stack = self.children(sid, 0, None, 0, &mut seen).await?;
            stack.reverse();
            while let Some(node) = stack.pop() {
                let index = nodes.len();
                if node.info.is_folder() {
                    if node.depth + 1 >= MAX_FOLDER_DEPTH {
                        too_deep += 1;
                    } else {
                        let mut children =
                            self.children(sid, node.handle, Some(index), node.depth + 1, &mut seen).await?;
                        children.reverse();
                        stack.extend(children);
                    }
                }
                nodes.push(node);
            }
        }
        if too_deep > 0 {
            warn_throttled!(
                self.deep,
                "skipped the contents of {too_deep} folder(s) nested deeper than {MAX_FOLDER_DEPTH} levels"
            );
        }
        drop(seen);
        // Paths, built once from the parent links; multiple storages get gphoto2-style prefixes.
        let prefix = storages.len() > 1;
        let mut total = 0usize;
        let mut out = Vec::with_capacity(nodes.len());
        let mut chain: Vec<usize> = Vec::with_capacity(MAX_FOLDER_DEPTH);
        for i in 0..nodes.len() {
            chain.clear();
            let mut at = Some(i);
            while let Some(j) = at {
                chain.push(j);
                at = nodes[j].parent;
            }
            let mut path = if prefix { format!("store_{:08x}/", nodes[i].storage_id) } else { String::new() };
            for (k, &j) in chain.iter().rev().enumerate() {
                if k > 0 {
                    path.push('/');
                }
                path.push_str(&nodes[j].info.filename);
            }
            total += path.len();
            if total > MAX_PATH_BYTES {
                return Err(Error::Protocol(format!(
                    "the camera's folder paths exceed {} MiB; camctl lists at most that",
                    MAX_PATH_BYTES >> 20
                )));
            }
            out.push(path);
        }
        Ok(nodes
            .into_iter()
            .zip(out)
            .map(|(n, path)| TreeEntry { handle: n.handle, storage_id: n.storage_id, path, info: n.info })
            .collect())
    }

    /// The direct children of `folder` (0 = root) not placed in the tree before, linked to the node
    /// at `parent` (an index into the walk's nodes) at `depth`.
    async fn children(
        &mut self,
        sid: u32,
        folder: u32,
        parent_index: Option<usize>,
        depth: usize,
        seen: &mut Seen,
    ) -> Result<Vec<Node>> {
        let filter = if folder == 0 { 0xFFFF_FFFF } else { folder };
        let mut children = Vec::new();
        for h in self.object_handles(sid, 0, filter).await? {
            if seen.placed.contains(&h) {
                continue;
            }
            // A camera that ignores the association filter returns everything for every folder:
            // remember infos so each object is asked for once.
            let info = match seen.infos.remove(&h) {
                Some(info) => info,
                None => {
                    if seen.placed.len() + seen.infos.len() >= MAX_OBJECTS {
                        return Err(Error::Protocol(format!(
                            "the camera holds more than {MAX_OBJECTS} objects; camctl lists at most {MAX_OBJECTS}"
                        )));
                    }
                    let mut info = self.object_info(h).await?;
                    // Not needed for a listing, and up to 254 characters each.
                    info.keywords = String::new();
                    info
                }
            };
            // iOS and EOS bugs: a parent equal to the storage id or the object itself means root.
            let parent = if info.parent == h || info.parent == sid { 0 } else { info.parent };
            if parent != folder {
                seen.infos.insert(h, info);
            } else {
                seen.placed.insert(h);
                children.push(Node { handle: h, storage_id: sid, parent: parent_index, depth, info });
            }
        }
        Ok(children)
    }

    /// GetObject: streams the whole object into `out`; returns the number of bytes.
    pub async fn get_object<W: AsyncWrite + Unpin + Send>(
        &mut self,
        handle: u32,
        out: &mut W,
    ) -> Result<u64> {
        self.get_object_from(handle, 0, out).await
    }

    /// GetObject, dropping the first `skip` bytes (resuming on a camera without GetPartialObject);
    /// returns the number of bytes written to `out`.
    pub async fn get_object_from<W: AsyncWrite + Unpin + Send>(
        &mut self,
        handle: u32,
        skip: u64,
        out: &mut W,
    ) -> Result<u64> {
        self.get_object_sized(handle, skip, None, out).await
    }

    /// GetObject like [`Client::get_object_from`], knowing the object's size from its ObjectInfo:
    /// a data phase of unknown length may not pass it (without a size: [`UNKNOWN_LENGTH_CAP`]).
    pub async fn get_object_sized<W: AsyncWrite + Unpin + Send>(
        &mut self,
        handle: u32,
        skip: u64,
        size: Option<u64>,
        out: &mut W,
    ) -> Result<u64> {
        let mut counter = CountingWriter { inner: out, count: 0, skip };
        let unknown_cap = size.unwrap_or(UNKNOWN_LENGTH_CAP);
        let data_in = DataIn::Stream { out: &mut counter, limit: u64::MAX, unknown_cap };
        self.call(op::GET_OBJECT, &[handle], None, data_in).await?;
        counter.inner.flush().await?;
        Ok(counter.count)
    }

    /// GetPartialObject: streams up to `max` bytes from `offset`; returns the number of bytes.
    ///
    /// An answer longer than `max` (firmware that ignores the offset and sends the object from its
    /// start) is an error before any byte reaches `out`: those bytes belong elsewhere in the file.
    pub async fn get_partial_object<W: AsyncWrite + Unpin + Send>(
        &mut self,
        handle: u32,
        offset: u32,
        max: u32,
        out: &mut W,
    ) -> Result<u64> {
        let mut counter = CountingWriter { inner: out, count: 0, skip: 0 };
        let data_in =
            DataIn::Stream { out: &mut counter, limit: u64::from(max), unknown_cap: u64::from(max) };
        self.call(op::GET_PARTIAL_OBJECT, &[handle, offset, max], None, data_in).await?;
        counter.inner.flush().await?;
        Ok(counter.count)
    }

    /// GetThumb: the object's thumbnail bytes.
    pub async fn get_thumb(&mut self, handle: u32) -> Result<Vec<u8>> {
        self.dataset(op::GET_THUMB, &[handle]).await
    }

    /// DeleteObject.
    pub async fn delete_object(&mut self, handle: u32) -> Result<()> {
        self.call(op::DELETE_OBJECT, &[handle, 0], None, DataIn::Discard).await.map(|_| ())
    }

    /// InitiateCapture, then waits for the ObjectAdded events up to CaptureComplete.
    /// Returns the handles of the new objects.
    pub async fn capture(&mut self) -> Result<Vec<u32>> {
        // Events left over from before belong to nobody; drop them so they are not taken for ours.
        self.discard_events();
        self.call(op::INITIATE_CAPTURE, &[0, 0], None, DataIn::Discard).await?;
        let deadline = Instant::now() + self.timeout.max(Duration::from_secs(30));
        let mut added = Vec::new();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining, self.events.recv()).await {
                Err(_) => return Err(Error::Timeout("CaptureComplete")),
                Ok(None) => return Err(ReadError::Closed.into()),
                Ok(Some(event)) => {
                    let event = event?;
                    match event.code {
                        ev::OBJECT_ADDED => {
                            if added.len() == MAX_CAPTURE_OBJECTS {
                                return Err(Error::Protocol(format!(
                                    "camera reported more than {MAX_CAPTURE_OBJECTS} new objects for one capture"
                                )));
                            }
                            added.push(event.params.get(0))
                        }
                        ev::CAPTURE_COMPLETE => return Ok(added),
                        ev::STORE_FULL => return Err(Error::Protocol("the memory card is full".into())),
                        _ => debug!(code = event.code, "event during capture"),
                    }
                }
            }
        }
    }

    /// GetDevicePropDesc.
    pub async fn prop_desc(&mut self, code: u16) -> Result<DevicePropDesc> {
        let data =
            self.dataset_capped(op::GET_DEVICE_PROP_DESC, &[u32::from(code)], MAX_PROP_DATASET).await?;
        Ok(DevicePropDesc::decode(&data)?)
    }

    /// GetDevicePropValue, decoded as `data_type` (from the descriptor).
    pub async fn prop_value(&mut self, code: u16, data_type: DataType) -> Result<PropValue> {
        let data =
            self.dataset_capped(op::GET_DEVICE_PROP_VALUE, &[u32::from(code)], MAX_PROP_DATASET).await?;
        Ok(PropValue::decode_exact(data_type, &data)?)
    }

    /// SetDevicePropValue.
    pub async fn set_prop_value(&mut self, code: u16, value: &PropValue) -> Result<()> {
        let data = value.to_bytes();
        self.call(op::SET_DEVICE_PROP_VALUE, &[u32::from(code)], Some(&data), DataIn::Discard)
            .await
            .map(|_| ())
    }

    /// ResetDevicePropValue.
    pub async fn reset_prop_value(&mut self, code: u16) -> Result<()> {
        self.call(op::RESET_DEVICE_PROP_VALUE, &[u32::from(code)], None, DataIn::Discard).await.map(|_| ())
    }

    /// Waits for the next event; `None` when the camera closed the event connection.
    pub async fn next_event(&mut self) -> Result<Option<CodeAndParams>> {
        self.events.recv().await.transpose()
    }

    /// Sends a Probe Request on the event connection and waits for the Probe Response.
    pub async fn probe(&mut self) -> Result<Duration> {
        let (tx, rx) = oneshot::channel();
        *self.probe_waiter.lock().await = Some(tx);
        let start = Instant::now();
        self.event_writer.lock().await.write_all(&Packet::ProbeRequest.to_bytes()?).await?;
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(())) => Ok(start.elapsed()),
            Ok(Err(_)) => Err(ReadError::Closed.into()),
            Err(_) => Err(Error::Timeout("Probe Response")),
        }
    }

    /// Closes the session and both connections.
    pub async fn close(mut self) -> Result<()> {
        // Out of step, CloseSession could not be told from leftovers: dropping the sockets ends it.
        if self.session_open && !self.broken {
            self.session_open = false;
            self.call(op::CLOSE_SESSION, &[], None, DataIn::Discard).await?;
        }
        Ok(())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.event_task.abort();
    }
}

/// An operation's name for logs: standard, else Canon EOS or Nikon (their ranges do not overlap), else
/// "Vendor".
fn op_name(code: u16) -> &'static str {
    match codes::op::name(code) {
        "Vendor" => crate::wire::canon::op::name(code)
            .or_else(|| crate::wire::nikon::op::name(code))
            .unwrap_or("Vendor"),
        name => name,
    }
}

/// Bookkeeping of one tree walk.
#[derive(Default)]
struct Seen {
    /// Handles already in the tree.
    placed: std::collections::HashSet<u32>,
    /// Infos fetched for objects that belong elsewhere in the tree.
    infos: std::collections::HashMap<u32, ObjectInfo>,
}

/// An object during a tree walk: linked to its parent, no path yet.
struct Node {
    handle: u32,
    storage_id: u32,
    /// Index of the parent folder's node; `None` at the storage root.
    parent: Option<usize>,
    /// Folder level (0 = storage root).
    depth: usize,
    info: ObjectInfo,
}

/// An object with its path in the camera's folder tree.
#[derive(Debug, Clone)]
pub struct TreeEntry {
    /// Object handle.
    pub handle: u32,
    /// Storage holding it.
    pub storage_id: u32,
    /// Folder path and file name, `/`-separated.
    pub path: String,
    /// Its ObjectInfo.
    pub info: ObjectInfo,
}

/// Parameters as `[0x1, 0x2]`.
fn hex_list(values: &[u32]) -> String {
    let items: Vec<String> = values.iter().map(|v| format!("{v:#x}")).collect();
    format!("[{}]", items.join(", "))
}

/// Largest Init_Command_Ack believed (a name of a few hundred characters is already absurd).
const MAX_ACK: u32 = 64 * 1024;

/// Reads the answer to the Init_Command_Request. A peer that closes at once, or whose first bytes are
/// not a PTP/IP packet (an HTTP or JSON server on that port), is told apart from a slow camera as soon
/// as its first bytes arrive: `Err` carries a short description of what came instead.
async fn first_answer<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    addr: &str,
) -> Result<Packet> {
    let foreign = |detail: String| Error::WrongProtocol { addr: addr.to_string(), detail };
    // A timeout stays a timeout: a camera showing an "allow this computer?" prompt is slow, not foreign.
    let verdict = match conn.peek().await {
        Ok(first) => not_ptpip(first),
        Err(Error::Read(ReadError::Idle(_))) => return Err(Error::Timeout("Init_Command_Ack")),
        Err(Error::Read(ReadError::Io(e)))
            if matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
            ) =>
        {
            return Err(foreign(
                "it reset the connection instead of answering the Init_Command_Request".into(),
            ));
        }
        Err(e) => return Err(e),
    };
    if let Some(detail) = verdict {
        return Err(foreign(detail));
    }
    match conn.read_packet().await {
        Ok(p) => Ok(p),
        Err(Error::Read(ReadError::Closed | ReadError::Truncated(_))) => {
            Err(foreign("it closed the connection in the middle of its answer".into()))
        }
        Err(Error::Wire(e)) => Err(foreign(format!("its answer is not a PTP/IP packet ({e})"))),
        Err(e) => Err(e),
    }
}

/// Why the first bytes a peer sent cannot start an Init_Command_Ack or Init_Fail, if they cannot.
/// Pure, so every shape of foreign answer is unit-tested.
fn not_ptpip(first: &[u8]) -> Option<String> {
    if first.is_empty() {
        return Some("it closed the connection without answering the Init_Command_Request".into());
    }
    // Bytes 2 and 3 are the high half of the length: anything there means 64 KiB or more.
    let huge = first.get(2..4.min(first.len())).is_some_and(|hi| hi.iter().any(|&b| b != 0));
    let header = first.get(..8).map(|h| {
        let length = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let kind = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        (length, kind)
    });
    let bad = huge
        || header.is_some_and(|(length, kind)| {
            !(8..=MAX_ACK).contains(&length)
                || !(kind::INIT_COMMAND_REQUEST..=kind::PROBE_RESPONSE).contains(&kind)
        });
    bad.then(|| format!("it answered {}", describe_bytes(first)))
}

/// A short, recognisable rendering of foreign bytes: the first line if it is text, else hex.
fn describe_bytes(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(64)];
    let printable = head.iter().filter(|b| b.is_ascii_graphic() || b.is_ascii_whitespace()).count();
    if printable * 10 >= head.len() * 9 {
        let text = String::from_utf8_lossy(head);
        let line = text.lines().next().unwrap_or_default().trim_end();
        let mut shown: String = line.chars().take(48).collect();
        if shown.len() < line.len() || line.len() < text.trim_end().len() {
            shown.push_str("...");
        }
        format!("\"{shown}\"")
    } else {
        let hex: Vec<String> = head.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("bytes {}{}", hex.join(" "), if head.len() > 16 { " ..." } else { "" })
    }
}

fn unreachable_response<T>() -> Result<T> {
    Err(Error::Protocol("packet decoded to another type".into()))
}

/// Largest packet read on the event connection; bigger ones are skipped.
const MAX_EVENT_PACKET: usize = 4096;

/// Reads the event connection: events go to the channel, probes are answered, probe responses wake
/// [`Client::probe`].
async fn event_loop(
    mut conn: Connection<tokio::net::tcp::OwnedReadHalf>,
    writer: Arc<Mutex<OwnedWriteHalf>>,
    probe_waiter: Arc<Mutex<Option<oneshot::Sender<()>>>>,
    tx: mpsc::Sender<Result<CodeAndParams>>,
) {
    // A flood of events or junk gives a few lines a minute, with a count.
    let mut logged = Throttle::new(20, Duration::from_secs(60));
    let mut full = Throttle::default();
    let mut junk = Throttle::default();
    loop {
        let read = async {
            let header = conn.read_header().await?;
            let len = header.payload_len();
            // Events and probes are a few dozen bytes: anything big is skipped, never buffered.
            if len > MAX_EVENT_PACKET {
                conn.skip_payload(len as u64).await?;
                return Ok(Err((header.kind, len)));
            }
            let payload = conn.read_payload(len).await?;
            conn.log_received(&header, &[&payload]);
            Ok(Ok(Packet::decode(header.kind, &payload)?))
        };
        let packet = match read.await {
            Ok(Ok(p)) => p,
            Ok(Err((kind, len))) => {
                warn_throttled!(junk, "skipping a {len}-byte packet of type {kind} on the event connection");
                continue;
            }
            Err(Error::Read(ReadError::Closed)) => return,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        match packet {
            Packet::Event(event) => {
                if let Some(skipped) = logged.allow() {
                    info!(
                        "event {} 0x{:04x} {}{}",
                        ev::name(event.code),
                        event.code,
                        hex_list(event.params.as_slice()),
                        if skipped > 0 {
                            format!(" ({skipped} more events not logged)")
                        } else {
                            String::new()
                        }
                    );
                }
                // Never stop draining the socket for a reader that is busy elsewhere: drop instead.
                match tx.try_send(Ok(event)) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        warn_throttled!(full, "event queue full: dropping an event")
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                }
            }
            Packet::ProbeRequest => {
                let pong = [8u8, 0, 0, 0, kind::PROBE_RESPONSE as u8, 0, 0, 0];
                if writer.lock().await.write_all(&pong).await.is_err() {
                    return;
                }
            }
            Packet::ProbeResponse => {
                if let Some(waiter) = probe_waiter.lock().await.take() {
                    let _ = waiter.send(());
                }
            }
            other => {
                warn_throttled!(junk, "ignoring a packet of type {} on the event connection", other.kind())
            }
        }
    }
}

/// Counts bytes on their way to the caller's writer, after dropping the first `skip` of them.
struct CountingWriter<'a, W: ?Sized> {
    inner: &'a mut W,
    count: u64,
    skip: u64,
}

impl<W: AsyncWrite + Unpin + ?Sized> AsyncWrite for CountingWriter<'_, W> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = &mut *self;
        if this.skip > 0 {
            let n = this.skip.min(buf.len() as u64) as usize;
            this.skip -= n as u64;
            return std::task::Poll::Ready(Ok(n));
        }
        let poll = std::pin::Pin::new(&mut *this.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = poll {
            this.count += n as u64;
        }
        poll
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut *self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut *self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_first_bytes_are_recognised() {
        let ack =
            Packet::InitCommandAck { connection: 1, guid: [0; 16], name: "cam".into(), version: Some(1) };
        let ack = ack.to_bytes().unwrap();
        assert_eq!(not_ptpip(&ack), None);
        assert_eq!(not_ptpip(&Packet::InitFail { reason: 1 }.to_bytes().unwrap()), None);
        // Too few bytes to judge: let the framing layer wait for the rest.
        assert_eq!(not_ptpip(&ack[..2]), None);
        assert!(not_ptpip(b"").unwrap().contains("closed the connection"));
        let http = not_ptpip(b"HTTP/1.1 400 Bad Request\r\nServer: x\r\n\r\n").unwrap();
        assert_eq!(http, r#"it answered "HTTP/1.1 400 Bad Request...""#);
        let json = not_ptpip(br#"{"rval":-4,"msg_id":257}"#).unwrap();
        assert_eq!(json, r#"it answered "{"rval":-4,"msg_id":257}""#);
        // Only three bytes so far, and already an impossible length.
        assert!(not_ptpip(b"{\"r").is_some());
        // Plausible length, unknown packet type.
        assert_eq!(
            not_ptpip(&[12, 0, 0, 0, 99, 0, 0, 0, 1, 2, 3, 4]).unwrap(),
            "it answered bytes 0c 00 00 00 63 00 00 00 01 02 03 04"
        );
        // Length below the header size.
        assert!(not_ptpip(&[4, 0, 0, 0, 2, 0, 0, 0]).is_some());
        let long = not_ptpip(&[0xff; 40]).unwrap();
        assert!(long.ends_with(" ..."), "{long}");
    }
}
