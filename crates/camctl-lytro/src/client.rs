//! Async Lytro client: the command connection (port 5678), a download connection (port 5679, as the
//! official mobile app uses it), the callback stream (port 5677), and a keep-alive against the
//! camera's idle power-off.
//!
//! Every bulk transfer is LOAD (`C2`) -> content length (`C6 00 00`) -> chunks (`C4`) at explicit
//! offsets, streamed to a writer; the loaded blob belongs to the connection that loaded it.
//!
//! ```no_run
//! # async fn demo() -> camctl_lytro::Result<()> {
//! use camctl_lytro::client::{Client, ClientConfig};
//! use camctl_lytro::PictureFormat;
//! let mut camera = Client::connect("127.0.0.1", ClientConfig::default()).await?;
//! println!("serial {}", camera.hardware_info().await?.serial);
//! for entry in camera.picture_list().await?.entries {
//!     let mut file = tokio::fs::File::create(format!("{}.jpg", entry.id)).await?;
//!     camera.download_picture(&entry.id, PictureFormat::Jpeg, 0, &mut file).await?;
//! }
//! camera.close().await;
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use camctl_core::io::{Floor, ReadError};
use camctl_core::log::{Throttle, shown};
use camctl_core::text::escape;
use camctl_core::warn_throttled;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;
use tracing::{debug, info};

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::wire::{
    Callback, CallbackDecoder, CameraTime, DEFAULT_MAX_LINE, HardwareInfo, Header, MAX_CHUNK,
    PICTURE_PREFIX_LEN, PictureEntry, PictureFormat, PictureList, Request, WireError, c_string, cmd,
};
use crate::{DEFAULT_CALLBACK_PORT, DEFAULT_COMMAND_PORT, DEFAULT_DOWNLOAD_PORT};

/// Largest blob read whole into memory (hardware info, calibration bundle...).
pub const MAX_IN_MEMORY_BLOB: u64 = 32 * 1024 * 1024;

/// Largest picture list accepted: 8 MiB holds 65,536 entries of 128 bytes, far more than a card's
/// pictures; a bigger one is refused with a clear error before it is read.
pub const MAX_PICTURE_LIST: u64 = 8 * 1024 * 1024;

/// Most pictures accepted in a picture list (far more than a card holds).
pub const MAX_PICTURES: usize = 65_536;

/// Chunk answers shorter than this (before the end of the blob) are "tiny": a camera answering
/// 1-byte chunks would otherwise cost one request per byte.
const TINY_CHUNK: u32 = 4096;

/// Tiny chunk answers accepted in one transfer.
const MAX_TINY_CHUNKS: u32 = 64;

/// Bytes of callback messages queued (estimated as held in memory) before new ones are dropped.
pub const MAX_CALLBACK_BYTES: usize = 1 << 20;

/// Undecodable callback messages in a row before the stream is given up.
const MAX_BAD_CALLBACKS: u32 = 1000;

/// Largest non-download response payload accepted (echoes, queries).
const MAX_SMALL_RESPONSE: usize = 64 * 1024;

/// Callback messages queued before new ones are dropped.
pub const CALLBACK_QUEUE: usize = 256;

/// Ports, sizes and timers of a session.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Command port (camera: 5678).
    pub command_port: u16,
    /// Port of the download connection (camera: 5679, which the official app downloads through);
    /// `None` downloads on the command connection like every third-party client. If connecting to it
    /// fails, downloads fall back to the command connection.
    pub download_port: Option<u16>,
    /// Callback port (camera: 5677).
    pub callback_port: u16,
    /// How long any single read may wait for the camera.
    pub timeout: Duration,
    /// Download chunk size, clamped to 1..=[`MAX_CHUNK`] (2 MiB, the camera's largest buffer).
    pub chunk_size: u32,
    /// Download requests kept in flight on one connection (1 = strict request/response, as \[LIB\]).
    /// Pipelining is what lytro-dl did; whether real cameras cope is not established (§2.3).
    pub pipeline: usize,
    /// Send a cheap query (`C6 00 06`, battery) after this long without any command, so the camera's
    /// 5-minute idle power-off (§8) never triggers; `None` = off.
    pub keepalive: Option<Duration>,
    /// The callback stream fails with a timeout after this long without any message (the camera sends
    /// a heartbeat about every 100 ms); `None` = wait forever.
    pub callback_watchdog: Option<Duration>,
    /// Longest callback message accepted.
    pub max_callback_line: usize,
    /// Slowest download accepted (default 1 KiB in 20 s); `None` = no floor.
    pub floor: Option<Floor>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            command_port: DEFAULT_COMMAND_PORT,
            download_port: Some(DEFAULT_DOWNLOAD_PORT),
            callback_port: DEFAULT_CALLBACK_PORT,
            timeout: Duration::from_secs(10),
            chunk_size: MAX_CHUNK,
            pipeline: 1,
            // Well inside the 60 s after which emulators (and their caps on idle clients) close a
            // silent connection, and the camera's 5-minute Wi-Fi power-off.
            keepalive: Some(Duration::from_secs(30)),
            callback_watchdog: Some(Duration::from_secs(10)),
            max_callback_line: DEFAULT_MAX_LINE,
            floor: Some(Floor::default()),
        }
    }
}

/// When the last command went out, shared by every connection and the keep-alive task.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        self.last_ms.store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        self.start.elapsed().saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// One command connection with its poison flag.
struct Conn {
    inner: Connection<TcpStream>,
    /// Set while a transaction runs; still set afterwards means it was abandoned or failed half-way,
    /// so request/response pairing is lost.
    busy: bool,
    activity: Arc<Activity>,
    /// `host:port`, for errors.
    addr: String,
    /// The peer has answered with a Lytro frame; before that, garbage or a close means the port
    /// speaks another protocol.
    answered: bool,
}

/// The parameters of a request for a log line: the path or id it carries, escaped.
fn shown_params(req: &Request) -> String {
    if req.header.command == cmd::DOWNLOAD {
        return format!("offset {} buffer {}", req.header.offset(), req.header.length);
    }
    escape(&c_string(&req.payload)).into_owned()
}

impl Conn {
    async fn open(host: &str, port: u16, timeout: Duration, activity: Arc<Activity>) -> Result<Conn> {
        let stream = connect(host, port, timeout).await?;
        let mut inner = Connection::new(stream);
        inner.set_read_timeout(Some(timeout));
        Ok(Conn { inner, busy: false, activity, addr: host_port(host, port), answered: false })
    }

    fn begin(&mut self) -> Result<()> {
        if self.busy {
            return Err(Error::Poisoned);
        }
        self.busy = true;
        Ok(())
    }

    async fn send(&mut self, req: &Request) -> Result<()> {
        self.activity.touch();
        debug!(
            command = req.header.name(),
            length = req.header.length,
            flags = req.header.flags,
            params = ?req.header.params,
            "sent header"
        );
        match self.inner.write_frame(&req.header, &req.payload).await {
            Err(e) if !self.answered => Err(self.foreign(e)),
            r => r,
        }
    }

    async fn read_response(&mut self, req: &Header) -> Result<Header> {
        let resp = match self.inner.read_header().await {
            Ok(h) => h,
            Err(e) if !self.answered => return Err(self.foreign(e)),
            Err(e) => return Err(e),
        };
        self.answered = true;
        debug!(
            command = resp.name(),
            length = resp.length,
            flags = resp.flags,
            params = ?resp.params,
            "received header"
        );
        if !req.is_answered_by(&resp) {
            return Err(Error::Protocol(format!(
                "response {:02x}/{:02x} flags {:#x} does not answer request {:02x}/{:02x}",
                resp.command,
                resp.sub(),
                resp.flags,
                req.command,
                req.sub()
            )));
        }
        Ok(resp)
    }

    /// A failure reading the first answer on this connection: bad magic or a close there means the
    /// peer is not a Lytro camera.
    fn foreign(&self, e: Error) -> Error {
        let detail = match &e {
            Error::Wire(WireError::BadMagic(m)) => {
                format!("answered {:02x} {:02x} {:02x} {:02x}, not a Lytro frame", m[0], m[1], m[2], m[3])
            }
            Error::Read(ReadError::Closed) => "closed the connection without answering".into(),
            Error::Read(ReadError::Io(io)) | Error::Io(io) if is_reset(io) => {
                "closed the connection without answering".into()
            }
            Error::Read(ReadError::Truncated(_)) => "closed the connection in the first frame".into(),
            _ => return e,
        };
        Error::NotLytro { addr: self.addr.clone(), detail }
    }

    /// One request/response pair with a small in-memory response.
    async fn transact(&mut self, req: &Request) -> Result<Vec<u8>> {
        self.begin()?;
        self.send(req).await?;
        let resp = self.read_response(&req.header).await?;
        // A buffer request may get at most its buffer; a payload request an echo-sized answer.
        let max = if req.header.no_content() { req.header.length as usize } else { req.payload.len() };
        let payload =
            self.inner.read_payload(resp.length, max.clamp(CameraTime::LEN, MAX_SMALL_RESPONSE)).await?;
        self.busy = false;
        info!(
            command = req.header.name(),
            params = %shown_params(req),
            answer_len = payload.len(),
            "command"
        );
        Ok(payload)
    }

    /// LOAD; `false` when a LOAD with a payload was answered with length 0 (not found).
    async fn load(&mut self, req: &Request) -> Result<bool> {
        let answer = self.transact(req).await?;
        Ok(req.payload.is_empty() || !answer.is_empty())
    }

    /// Size of the loaded blob (`C6 00 00`); a zero-length answer means nothing is loaded.
    async fn content_length(&mut self) -> Result<u64> {
        let answer = self.transact(&Request::query_content_length()).await?;
        match answer.len() {
            0 => Ok(0),
            4 => Ok(u64::from(u32::from_le_bytes([answer[0], answer[1], answer[2], answer[3]]))),
            n => Err(Error::Protocol(format!("content length answer of {n} bytes"))),
        }
    }

    /// Downloads `[offset, total)` of the loaded blob into `out`, `depth` chunk requests in flight.
    async fn fetch<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        offset: u64,
        total: u64,
        plan: Plan,
        buf: &mut Vec<u8>,
        out: &mut W,
    ) -> Result<u64> {
        self.inner.set_floor(plan.floor);
        let result = self.fetch_inner(offset, total, plan.chunk, plan.depth, buf, out).await;
        self.inner.set_floor(None);
        result
    }

    async fn fetch_inner<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        offset: u64,
        total: u64,
        chunk: u32,
        depth: usize,
        buf: &mut Vec<u8>,
        out: &mut W,
    ) -> Result<u64> {
        let total = total.min(u64::from(u32::MAX));
        let mut tiny = 0u32;
        let chunk = u64::from(chunk.clamp(1, MAX_CHUNK));
        if buf.len() < chunk as usize {
            buf.resize(chunk as usize, 0);
        }
        self.begin()?;
        let mut next = offset;
        let mut done = offset;
        let mut in_flight: VecDeque<Request> = VecDeque::new();
        loop {
            while in_flight.len() < depth.max(1) && next < total {
                let len = chunk.min(total - next);
                let req = Request::download(next as u32, len as u32);
                self.send(&req).await?;
                in_flight.push_back(req);
                next += len;
            }
            let Some(req) = in_flight.pop_front() else { break };
            let resp = self.read_response(&req.header).await?;
            let asked = req.header.length;
            if resp.length > asked {
                return Err(Error::Protocol(format!(
                    "chunk of {} bytes for a {asked}-byte buffer",
                    resp.length
                )));
            }
            let n = resp.length as usize;
            self.inner.read_exact(&mut buf[..n]).await?;
            out.write_all(&buf[..n]).await?;
            done += n as u64;
            if resp.length < asked {
                if n == 0 {
                    return Err(Error::Protocol(format!("camera sent no data at offset {done} of {total}")));
                }
                if resp.length < TINY_CHUNK {
                    tiny += 1;
                    if tiny > MAX_TINY_CHUNKS {
                        return Err(Error::Protocol(format!(
                            "camera keeps answering tiny chunks ({n} bytes for {asked} at offset {done} of \
                             {total}); gave up after {MAX_TINY_CHUNKS}"
                        )));
                    }
                }
                // A short chunk before the end: the requests already sent ask for the wrong offsets.
                // Drain their answers and go on from where the data stopped.
                for stale in in_flight.drain(..) {
                    let resp = self.read_response(&stale.header).await?;
                    self.inner.skip_payload(u64::from(resp.length)).await?;
                }
                next = done;
            }
        }
        self.busy = false;
        info!(command = "DOWNLOAD", from = offset, to = done, of = total, "command");
        Ok(done - offset)
    }
}

/// How a transfer runs: chunk size, requests in flight, progress floor.
#[derive(Debug, Clone, Copy)]
struct Plan {
    chunk: u32,
    depth: usize,
    floor: Option<Floor>,
}

impl Plan {
    fn of(config: &ClientConfig) -> Plan {
        Plan { chunk: config.chunk_size, depth: config.pipeline, floor: config.floor }
    }
}

/// Whether an I/O error means the peer dropped the connection.
fn is_reset(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof)
}

/// `host:port`, bracketing IPv6 literals.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

async fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream> {
    let addr = host_port(host, port);
    let unreachable = |source| Error::Unreachable { addr: addr.clone(), source };
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(&addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(unreachable(e)),
        Err(_) => return Err(unreachable(std::io::ErrorKind::TimedOut.into())),
    };
    // Requests are tiny and latency-bound: never let Nagle hold them back.
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A session with a Lytro camera.
pub struct Client {
    host: String,
    config: ClientConfig,
    cmd: Arc<Mutex<Conn>>,
    /// The download connection once opened; `None` before, or when it could not be opened.
    dl: Option<Conn>,
    dl_tried: bool,
    activity: Arc<Activity>,
    keepalive: Option<JoinHandle<()>>,
    callbacks: Option<CallbackSink>,
    buf: Vec<u8>,
}

/// The callback connection's reader task and its queue.
struct CallbackSink {
    rx: mpsc::Receiver<Result<Callback>>,
    task: JoinHandle<()>,
    /// Estimated bytes of the queued messages.
    bytes: Arc<AtomicUsize>,
}

impl CallbackSink {
    fn taken(&self, got: &Option<Result<Callback>>) {
        if let Some(Ok(cb)) = got {
            self.bytes.fetch_sub(cost(cb), Ordering::AcqRel);
        }
    }
}

/// The reader's side of the callback queue.
struct Queue {
    tx: mpsc::Sender<Result<Callback>>,
    bytes: Arc<AtomicUsize>,
}

/// Memory a queued callback holds, roughly: its strings and their headers.
fn cost(cb: &Callback) -> usize {
    64 + cb.name.len() + cb.params.iter().map(|p| p.len() + 32).sum::<usize>()
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(k) = self.keepalive.take() {
            k.abort();
        }
        if let Some(c) = self.callbacks.take() {
            c.task.abort();
        }
    }
}

impl Client {
    /// Connects the command connection to `host` (name or IP literal) and starts the keep-alive.
    /// The download and callback connections open on first use.
    pub async fn connect(host: &str, config: ClientConfig) -> Result<Client> {
        let activity = Arc::new(Activity { start: Instant::now(), last_ms: AtomicU64::new(0) });
        let cmd = Conn::open(host, config.command_port, config.timeout, activity.clone()).await?;
        let cmd = Arc::new(Mutex::new(cmd));
        let keepalive = config
            .keepalive
            .map(|every| tokio::spawn(keepalive(Arc::downgrade(&cmd), activity.clone(), every)));
        Ok(Client {
            host: host.to_string(),
            config,
            cmd,
            dl: None,
            dl_tried: false,
            activity,
            keepalive,
            callbacks: None,
            buf: Vec::new(),
        })
    }

    /// The session settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Time since the last command went to the camera (what its idle power-off measures).
    pub fn idle_for(&self) -> Duration {
        self.activity.idle()
    }

    async fn small(&mut self, req: &Request) -> Result<Vec<u8>> {
        self.cmd.lock().await.transact(req).await
    }

    /// Loads a blob on the command connection and reads it whole (at most `max` bytes, checked
    /// against the announced size before anything is read).
    async fn blob(&mut self, req: &Request, what: &str, max: u64) -> Result<Option<Vec<u8>>> {
        let mut conn = self.cmd.lock().await;
        if !conn.load(req).await? {
            return Ok(None);
        }
        let total = conn.content_length().await?;
        if total > max {
            // The blob stays loaded but unread: the connection is still in step.
            return Err(Error::Protocol(format!(
                "{what} of {total} bytes refused (more than the {} MiB a camera needs)",
                max >> 20
            )));
        }
        // Grown as bytes arrive: the camera's announced size only caps it.
        let mut data = Vec::with_capacity(total.min(1 << 20) as usize);
        conn.fetch(0, total, Plan::of(&self.config), &mut self.buf, &mut data).await?;
        Ok(Some(data))
    }

    /// Hardware info (`C2 00 00`): manufacturer, serial, build id, firmware.
    pub async fn hardware_info(&mut self) -> Result<HardwareInfo> {
        let blob = self
            .blob(&Request::load_hardware_info(), "hardware info", MAX_IN_MEMORY_BLOB)
            .await?
            .unwrap_or_default();
        Ok(HardwareInfo::decode(&blob)?)
    }

    /// Battery level in percent (`C6 00 06`).
    pub async fn battery(&mut self) -> Result<f32> {
        let b = self.small(&Request::query_battery()).await?;
        let b: [u8; 4] = b
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or(Error::Protocol(format!("battery answer of {} bytes", b.len())))?;
        Ok(f32::from_le_bytes(b))
    }

    /// Camera time, UTC (`C6 00 03`).
    pub async fn camera_time(&mut self) -> Result<CameraTime> {
        Ok(CameraTime::decode(&self.small(&Request::query_camera_time()).await?)?)
    }

    /// Sets the camera time, UTC (`C0 00 04`); returns the time the camera answered with.
    pub async fn set_camera_time(&mut self, time: &CameraTime) -> Result<CameraTime> {
        if !time.is_valid() {
            return Err(Error::InvalidValue(format!("camera time {time}")));
        }
        let answer = self.small(&Request::set_camera_time(time)).await?;
        if answer.is_empty() {
            return Err(Error::Protocol("the camera refused the time".into()));
        }
        Ok(CameraTime::decode(&answer)?)
    }

    /// The picture list (`C2 00 02`).
    pub async fn picture_list(&mut self) -> Result<PictureList> {
        let blob = self
            .blob(&Request::load_picture_list(), "picture list", MAX_PICTURE_LIST)
            .await?
            .unwrap_or_default();
        if blob.is_empty() {
            return Ok(PictureList { version: 1, entry_len: 128, ..PictureList::default() });
        }
        let list = PictureList::decode(&blob)?;
        // Every entry costs requests later (one size query per format): a bogus list must not.
        if list.entries.len() > MAX_PICTURES {
            return Err(Error::Protocol(format!(
                "picture list of {} entries refused (more than {MAX_PICTURES})",
                list.entries.len()
            )));
        }
        Ok(list)
    }

    /// The calibration bundle (`C2 00 06`), whole; split it with [`crate::wire::parse_calibration`].
    pub async fn calibration_data(&mut self) -> Result<Vec<u8>> {
        Ok(self
            .blob(&Request::load_calibration(), "calibration bundle", MAX_IN_MEMORY_BLOB)
            .await?
            .unwrap_or_default())
    }

    /// Takes a picture (`C0 00 00`). The camera then sends `ShutterPressed` and, once the picture is
    /// rendered, `NewPictureAvailable <id>` on the callback stream.
    pub async fn take_picture(&mut self) -> Result<()> {
        self.small(&Request::take_picture()).await.map(drop)
    }

    /// Deletes a picture (`C0 00 05` with the entry's 24-byte descriptor, as kennege's fork of \[LIB\]
    /// does). An empty answer is taken as "no such picture".
    pub async fn delete_picture(&mut self, entry: &PictureEntry) -> Result<()> {
        let answer = self.small(&Request::delete_picture(entry)).await?;
        if answer.is_empty() {
            return Err(Error::NotFound(escape(&entry.camera_path("*")).into_owned()));
        }
        Ok(())
    }

    /// Sends any request on the command connection and returns the answer's payload (at most 64 KiB).
    /// For commands this crate has no method for.
    pub async fn raw_request(&mut self, req: &Request) -> Result<Vec<u8>> {
        self.small(req).await
    }

    /// The connection downloads go through: the download port when configured and reachable.
    async fn download_conn(&mut self) -> Option<&mut Conn> {
        if self.dl.as_ref().is_some_and(|c| c.busy) {
            // An interrupted download left it out of step: start over on a fresh connection.
            self.dl = None;
            self.dl_tried = false;
        }
        if !self.dl_tried {
            self.dl_tried = true;
            if let Some(port) = self.config.download_port {
                match Conn::open(&self.host, port, self.config.timeout, self.activity.clone()).await {
                    Ok(c) => self.dl = Some(c),
                    Err(e) => {
                        debug!(port, error = %e, "no download connection; using the command connection")
                    }
                }
            }
        }
        self.dl.as_mut()
    }

    /// Loads with `req` and reports the blob size, on the download connection.
    async fn load_size(&mut self, req: &Request) -> Result<Option<u64>> {
        if let Some(conn) = self.download_conn().await {
            if !conn.load(req).await? {
                return Ok(None);
            }
            return Ok(Some(conn.content_length().await?));
        }
        let mut conn = self.cmd.lock().await;
        if !conn.load(req).await? {
            return Ok(None);
        }
        Ok(Some(conn.content_length().await?))
    }

    /// Loads with `req` and streams the blob from byte `offset` to its end into `out`.
    async fn load_and_fetch<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        req: &Request,
        what: &str,
        offset: u64,
        out: &mut W,
    ) -> Result<u64> {
        let plan = Plan::of(&self.config);
        let mut buf = std::mem::take(&mut self.buf);
        let result = async {
            if let Some(conn) = self.download_conn().await {
                if !conn.load(req).await? {
                    return Err(Error::NotFound(escape(what).into_owned()));
                }
                let total = conn.content_length().await?;
                return conn.fetch(offset.min(total), total, plan, &mut buf, out).await;
            }
            let mut conn = self.cmd.lock().await;
            if !conn.load(req).await? {
                return Err(Error::NotFound(escape(what).into_owned()));
            }
            let total = conn.content_length().await?;
            conn.fetch(offset.min(total), total, plan, &mut buf, out).await
        }
        .await;
        self.buf = buf;
        let n = result?;
        out.flush().await?;
        Ok(n)
    }

    /// Size of a camera file (`C2 00 01` then `C6 00 00`); `None` if the camera does not have it.
    pub async fn file_size(&mut self, path: &str) -> Result<Option<u64>> {
        self.load_size(&Request::load_file(path)?).await
    }

    /// Streams a camera file such as `I:\DCIM\100PHOTO\IMG_0001.RAW` from byte `offset` into `out`;
    /// returns the bytes written. [`Error::NotFound`] if the camera does not have it.
    pub async fn download_file<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        path: &str,
        offset: u64,
        out: &mut W,
    ) -> Result<u64> {
        self.load_and_fetch(&Request::load_file(path)?, path, offset, out).await
    }

    /// Size of a picture in `format` (`C2 00 05`), without the blob's 4-byte prefix.
    pub async fn picture_size(&mut self, id: &str, format: PictureFormat) -> Result<Option<u64>> {
        let size = self.load_size(&Request::load_picture(id, format)?).await?;
        Ok(size.map(|s| s.saturating_sub(PICTURE_PREFIX_LEN as u64)))
    }

    /// Streams a picture in `format` by id (`C2 00 05`) from byte `offset` of the picture data (the
    /// blob's 4-byte prefix is skipped, as \[LIB\] does) into `out`; returns the bytes written.
    pub async fn download_picture<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        id: &str,
        format: PictureFormat,
        offset: u64,
        out: &mut W,
    ) -> Result<u64> {
        let req = Request::load_picture(id, format)?;
        let what = format!("picture {id} ({format})");
        self.load_and_fetch(&req, &what, offset.saturating_add(PICTURE_PREFIX_LEN as u64), out).await
    }

    /// Streams a picture as JPEG-compressed raw (`C2 00 07`; the code is firmware-dependent, §4.1).
    pub async fn download_compressed_raw<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        id: &str,
        offset: u64,
        out: &mut W,
    ) -> Result<u64> {
        let what = format!("compressed raw of {id}");
        self.load_and_fetch(&Request::load_compressed_raw(id)?, &what, offset, out).await
    }

    /// Connects the callback stream if it is not yet (events from then on are queued).
    pub async fn subscribe(&mut self) -> Result<()> {
        if self.callbacks.is_none() {
            let stream = connect(&self.host, self.config.callback_port, self.config.timeout).await?;
            let (tx, rx) = mpsc::channel(CALLBACK_QUEUE);
            let bytes = Arc::new(AtomicUsize::new(0));
            let task = tokio::spawn(read_callbacks(
                stream,
                Queue { tx, bytes: bytes.clone() },
                self.config.max_callback_line,
                self.config.callback_watchdog,
            ));
            self.callbacks = Some(CallbackSink { rx, task, bytes });
        }
        Ok(())
    }

    /// The next callback message (subscribing first if needed); `None` when the camera closed the
    /// stream. Heartbeats are included.
    pub async fn next_callback(&mut self) -> Result<Option<Callback>> {
        self.subscribe().await?;
        let sink = self.callbacks.as_mut().expect("subscribed above");
        let got = sink.rx.recv().await;
        sink.taken(&got);
        got.transpose()
    }

    /// A callback message already received, without waiting.
    pub fn try_next_callback(&mut self) -> Option<Result<Callback>> {
        let sink = self.callbacks.as_mut()?;
        let got = sink.rx.try_recv().ok();
        sink.taken(&got);
        got
    }

    /// Callback messages queued now and their estimated bytes in memory (what bounds the queue).
    pub fn queued_callbacks(&self) -> (usize, usize) {
        match &self.callbacks {
            Some(s) => (s.rx.len(), s.bytes.load(Ordering::Acquire)),
            None => (0, 0),
        }
    }

    /// Closes every connection.
    pub async fn close(mut self) {
        if let Some(k) = self.keepalive.take() {
            k.abort();
        }
        if let Some(c) = self.callbacks.take() {
            c.task.abort();
        }
        self.dl = None;
    }
}

/// Sends `C6 00 06` whenever no command went out for `every` (§8: "active use" is what keeps the
/// camera's Wi-Fi on; the battery query is the cheapest command, 4 bytes back).
async fn keepalive(cmd: Weak<Mutex<Conn>>, activity: Arc<Activity>, every: Duration) {
    let every = every.max(Duration::from_millis(10));
    loop {
        let idle = activity.idle();
        if idle < every {
            tokio::time::sleep(every - idle).await;
            continue;
        }
        let Some(cmd) = cmd.upgrade() else { return };
        // A busy connection means a command is under way: that is activity already.
        let Ok(mut conn) = cmd.try_lock() else {
            tokio::time::sleep(every / 4).await;
            continue;
        };
        match conn.transact(&Request::query_battery()).await {
            Ok(_) => debug!("keep-alive sent"),
            Err(e) => {
                debug!(error = %e, "keep-alive failed; stopping it");
                return;
            }
        }
    }
}

/// Reads the callback stream into the queue until it closes, fails, or the client goes away. The
/// queue is bounded in entries and bytes: when full, new messages are dropped (heartbeats silently,
/// others with a rate-limited warning).
async fn read_callbacks(mut stream: TcpStream, queue: Queue, max_line: usize, watchdog: Option<Duration>) {
    let tx = &queue.tx;
    let mut decoder = CallbackDecoder::new(max_line);
    let mut buf = vec![0u8; 4096];
    let (mut full_throttle, mut bad_throttle) = (Throttle::default(), Throttle::default());
    let mut bad_in_a_row = 0u32;
    loop {
        let read = match watchdog {
            Some(t) => match tokio::time::timeout(t, stream.read(&mut buf)).await {
                Ok(r) => r,
                Err(_) => {
                    let _ = tx.send(Err(Error::Timeout("a callback message (no heartbeat)"))).await;
                    return;
                }
            },
            None => stream.read(&mut buf).await,
        };
        let n = match read {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) => {
                let _ = tx.send(Err(Error::Io(e))).await;
                return;
            }
        };
        decoder.feed(&buf[..n]);
        while let Some(msg) = decoder.next_message() {
            match msg {
                Ok(cb) => {
                    bad_in_a_row = 0;
                    let heartbeat = cb.event() == crate::wire::CallbackEvent::HeartbeatTick;
                    if !heartbeat {
                        info!(name = %shown(cb.name.as_bytes(), 60), params = %shown(cb.params.join(" ").as_bytes(), 120), "callback");
                    }
                    let c = cost(&cb);
                    if queue.bytes.load(Ordering::Acquire) + c > MAX_CALLBACK_BYTES {
                        if !heartbeat {
                            warn_throttled!(full_throttle, "callback queue full (1 MiB): message dropped");
                        }
                        continue;
                    }
                    queue.bytes.fetch_add(c, Ordering::AcqRel);
                    match tx.try_send(Ok(cb)) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Closed(_)) => return,
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            queue.bytes.fetch_sub(c, Ordering::AcqRel);
                            if !heartbeat {
                                warn_throttled!(
                                    full_throttle,
                                    "callback queue full ({CALLBACK_QUEUE} messages): message dropped"
                                );
                            }
                        }
                    }
                }
                Err(e) => {
                    bad_in_a_row += 1;
                    if bad_in_a_row > MAX_BAD_CALLBACKS {
                        let why = format!("{bad_in_a_row} undecodable callback messages in a row");
                        let _ = tx.send(Err(Error::Protocol(why))).await;
                        return;
                    }
                    warn_throttled!(
                        bad_throttle,
                        "bad callback message skipped: {}",
                        shown(e.to_string().as_bytes(), 80)
                    );
                }
            }
        }
    }
}
