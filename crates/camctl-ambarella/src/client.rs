//! Client of the remote API: one session on the command port (7878) and a data connection (8787) for
//! file transfers.
//!
//! A background task reads the command connection: replies go to the request waiting for them (matched
//! by `msg_id`; a `-4` with any id counts), notifications (`msg_id` 7) are queued as events whatever order
//! they come in, and the camera's session-holder query (1793) is answered at once so the session is kept
//! (configurable: [`ClientConfig::keep_session`]). A `-4` (token no longer valid) triggers one transparent
//! re-authentication and a resend. Downloads stream from the data socket to any `AsyncWrite` through one
//! 1 MiB buffer.
//!
//! ```no_run
//! # async fn demo() -> camctl_ambarella::Result<()> {
//! use camctl_ambarella::client::{Client, ClientConfig};
//! let mut cam = Client::connect("127.0.0.1:7878", "127.0.0.1:8787", ClientConfig::default()).await?;
//! println!("video standard: {}", cam.get_setting("video_standard").await?);
//! let mut out = tokio::fs::File::create("/tmp/YDXJ0001.jpg").await?;
//! cam.download("/tmp/fuse_d/DCIM/100MEDIA/YDXJ0001.jpg", 0, &mut out).await?;
//! cam.close().await?;
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use camctl_core::io::{Floor, FloorCheck, ReadError, read_some_under};
use camctl_core::log::{Throttle, shown};
use camctl_core::text::Safe;
use camctl_core::warn_throttled;
use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Mutex, mpsc};
use tracing::{debug, info, warn};

use crate::error::{Error, Result};
use crate::wire::{
    Command, JsonStream, ListEntry, Message, Notification, Reply, SettingOptions, TransferDone, as_i64,
    as_text, msg, pairs, parse_listing, rval,
};

/// Behaviour and limits of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Longest wait for one reply, connection or data read.
    pub timeout: Duration,
    /// Answer the camera's session-holder query (1793) with `rval: 0` to keep the session when another
    /// client connects (default). `false` leaves it unanswered, so the camera hands the session over after
    /// 800 ms (like YI's own SDK).
    pub keep_session: bool,
    /// Check the MD5 of whole-file downloads against `get_file_complete` (default `true`).
    pub verify_md5: bool,
    /// Largest JSON object accepted from the camera.
    pub max_object: usize,
    /// Slowest data transfer accepted (default 1 KiB in 20 s); `None` = no floor.
    pub floor: Option<Floor>,
    /// RTSP port of the live view when the 257 reply names none (default 554).
    pub rtsp_port: Option<u16>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            timeout: Duration::from_secs(10),
            keep_session: true,
            verify_md5: true,
            max_object: crate::wire::DEFAULT_MAX_OBJECT,
            floor: Some(Floor::default()),
            rtsp_port: None,
        }
    }
}

/// Battery state from msg 13.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Battery {
    /// Charge in percent, when reported.
    pub percent: Option<u8>,
    /// Running on USB power (`type: "adapter"`).
    pub adapter: bool,
}

/// Card capacity from msg 5, in KiB as the camera reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Storage {
    /// Total size in KiB.
    pub total_kib: u64,
    /// Free space in KiB.
    pub free_kib: u64,
}

/// What a download did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Bytes written to the output.
    pub bytes: u64,
    /// Size of the whole file on the camera.
    pub size: u64,
    /// MD5 from `get_file_complete`, when reported.
    pub md5: Option<String>,
    /// Whether the MD5 was checked (whole-file fetch with verification on).
    pub verified: bool,
}

/// Size of the buffer between the data socket and the output: big reads keep loopback and Wi-Fi busy
/// with few system calls.
const DATA_CHUNK: usize = 1 << 20;

/// Events kept for [`Client::next_event`] before the oldest are dropped.
pub const MAX_QUEUED_EVENTS: usize = 1024;

/// Bytes of events (as the camera sent them) kept for [`Client::next_event`] before the oldest are
/// dropped: with the entry cap, what bounds the queue's memory whatever the camera sends.
pub const MAX_QUEUED_EVENT_BYTES: usize = 4 << 20;

/// Largest notification kept: real ones are a type and a path or a few numbers (well under 1 KiB);
/// bigger ones are dropped with a warning.
pub const MAX_NOTIFICATION: usize = 64 * 1024;

/// Replies queued for the request waiting for them; extras (unsolicited) are dropped.
const REPLY_QUEUE: usize = 16;

/// Estimated memory of queued replies beyond which new ones are dropped.
pub const MAX_QUEUED_REPLY_BYTES: usize = 8 << 20;

/// Undecodable objects or junk bytes in a row (without a good message between) before the camera is
/// given up on.
const MAX_JUNK_OBJECTS: u32 = 1000;
const MAX_JUNK_BYTES: u64 = 4 << 20;

/// Most bytes of an undecodable object shown in a warning.
const JUNK_SHOWN: usize = 80;

/// The notification queue, bounded in entries and bytes, shared by the reader and the client.
#[derive(Default)]
struct NoteQueue {
    /// (sequence number, notification, cost in bytes).
    items: VecDeque<(u64, Notification, usize)>,
    bytes: usize,
    /// The reader stopped: nothing more will come.
    closed: bool,
    dropped: Throttle,
}

impl NoteQueue {
    fn push(&mut self, seq: u64, n: Notification, cost: usize) {
        while !self.items.is_empty()
            && (self.items.len() >= MAX_QUEUED_EVENTS || self.bytes + cost > MAX_QUEUED_EVENT_BYTES)
        {
            if let Some((_, old, c)) = self.items.pop_front() {
                self.bytes -= c;
                warn_throttled!(
                    self.dropped,
                    "event queue full (1024 events or 4 MiB): oldest notification ({}) dropped",
                    shown(old.kind.as_bytes(), 40)
                );
            }
        }
        self.bytes += cost;
        self.items.push_back((seq, n, cost));
    }

    fn pop(&mut self) -> Option<Notification> {
        let (_, n, c) = self.items.pop_front()?;
        self.bytes -= c;
        Some(n)
    }
}

/// Largest thumbnail accepted (real ones are tens of KiB).
const MAX_THUMB: u64 = 4 << 20;

/// Uploads write in pieces of this size, each under the idle timeout, so a camera that stops
/// reading is noticed.
const UPLOAD_PIECE: usize = 64 * 1024;

/// How the reader task and the client share the command connection's write side and state.
struct Shared {
    writer: Mutex<OwnedWriteHalf>,
    token: AtomicI64,
    /// Sequence number of the next notification.
    seq: AtomicU64,
    /// Why the reader stopped, once it has.
    end: StdMutex<Option<String>>,
    /// The peer has sent at least one well-formed message of this protocol; before that, a close or
    /// garbage means the port speaks something else.
    spoke: AtomicBool,
    notes: StdMutex<NoteQueue>,
    /// Estimated memory of the replies queued in the channel.
    reply_bytes: std::sync::atomic::AtomicUsize,
    /// Signalled when a notification is queued or the reader stops.
    note_ready: tokio::sync::Notify,
}

/// A session with an Ambarella camera.
pub struct Client {
    shared: Arc<Shared>,
    replies: mpsc::Receiver<(Reply, usize)>,
    reader: tokio::task::JoinHandle<()>,
    config: ClientConfig,
    data_addr: String,
    data: Option<TcpStream>,
    host: String,
    buf: Vec<u8>,
    start_reply: Reply,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Connects with the configured timeout and TCP_NODELAY (one small request per write, no Nagle delay).
async fn connect_tcp(addr: &str, timeout: Duration) -> Result<TcpStream> {
    let unreachable = |source| Error::Unreachable { addr: addr.to_string(), source };
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => {
            s.set_nodelay(true)?;
            Ok(s)
        }
        Ok(Err(e)) => Err(unreachable(e)),
        Err(_) => Err(unreachable(std::io::ErrorKind::TimedOut.into())),
    }
}

/// Most bytes of a message shown in a debug line.
const LOG_BYTES: usize = 300;

/// Whether the data connection holds bytes nobody asked for (or was closed by the camera): it is then
/// out of step and must not carry the next file. Asks the kernel directly (a peek on a duplicate of
/// the socket), so it does not depend on the runtime having seen the bytes arrive.
#[cfg(unix)]
fn out_of_step(data: &TcpStream) -> bool {
    use std::os::fd::AsFd;
    let Ok(fd) = data.as_fd().try_clone_to_owned() else { return true };
    let probe = std::net::TcpStream::from(fd);
    let mut byte = [0u8; 1];
    // The duplicate shares the file description, which tokio made non-blocking.
    !matches!(probe.peek(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[cfg(not(unix))]
fn out_of_step(_data: &TcpStream) -> bool {
    false
}

/// One read from the data port under the progress floor (when set) and the idle timeout; 0 at the
/// end of the stream.
async fn read_data(
    data: &mut TcpStream,
    buf: &mut [u8],
    floor: &mut Option<FloorCheck>,
    timeout: Duration,
    what: &str,
) -> Result<usize> {
    match read_some_under(data, buf, Some(timeout), floor.as_mut()).await {
        Err(ReadError::Idle(_)) => Err(Error::Timeout(what.into())),
        other => Ok(other?),
    }
}

fn check(reply: Reply) -> Result<Reply> {
    if reply.rval == rval::OK {
        Ok(reply)
    } else {
        Err(Error::Camera { msg_id: reply.msg_id, rval: reply.rval })
    }
}

fn md5_hex(hasher: Md5) -> String {
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Handles one read from the data port: counts it, writes it to `out` and hands it to the hasher (which
/// gives back a buffer for the next read).
async fn take_chunk<W: AsyncWrite + Unpin + ?Sized>(
    read: Result<usize>,
    buf: &mut Vec<u8>,
    received: &mut u64,
    out: &mut W,
    hasher: &mut Option<BackgroundMd5>,
) -> Result<()> {
    let n = match read? {
        0 => return Err(Error::Transfer(format!("data connection closed after {received} bytes"))),
        n => n,
    };
    write_chunk(n, buf, received, out, hasher).await
}

/// Writes `buf[..n]` to `out`, counts it and hands it to the hasher.
async fn write_chunk<W: AsyncWrite + Unpin + ?Sized>(
    n: usize,
    buf: &mut Vec<u8>,
    received: &mut u64,
    out: &mut W,
    hasher: &mut Option<BackgroundMd5>,
) -> Result<()> {
    *received += n as u64;
    if let Err(e) = out.write_all(&buf[..n]).await {
        return Err(Error::Transfer(format!("writing the download: {e}")));
    }
    if let Some(h) = hasher.as_mut() {
        *buf = h.submit(std::mem::take(buf), n).await?;
    }
    Ok(())
}

/// MD5 of a download computed on a blocking thread while the next chunk is read and written, so a
/// verified download runs at the speed of the slower of the two instead of their sum.
struct BackgroundMd5 {
    /// The hash of the previous chunk, with that chunk's buffer to give back.
    job: Option<tokio::task::JoinHandle<(Md5, Vec<u8>)>>,
    /// The hasher and a free buffer while no job runs.
    idle: Option<(Md5, Vec<u8>)>,
}

impl BackgroundMd5 {
    fn new() -> Self {
        BackgroundMd5 { job: None, idle: Some((Md5::new(), vec![0u8; DATA_CHUNK])) }
    }

    async fn wait(&mut self) -> Result<(Md5, Vec<u8>)> {
        match (self.job.take(), self.idle.take()) {
            (Some(job), _) => job.await.map_err(|e| Error::Transfer(format!("hashing: {e}"))),
            (None, Some(idle)) => Ok(idle),
            (None, None) => Err(Error::Transfer("hashing: no hasher".into())),
        }
    }

    /// Hashes `chunk[..n]` in the background and returns a buffer for the next read.
    async fn submit(&mut self, chunk: Vec<u8>, n: usize) -> Result<Vec<u8>> {
        let (mut hasher, spare) = self.wait().await?;
        self.job = Some(tokio::task::spawn_blocking(move || {
            hasher.update(&chunk[..n]);
            (hasher, chunk)
        }));
        Ok(spare)
    }

    async fn finish(mut self) -> Result<Md5> {
        Ok(self.wait().await?.0)
    }
}

impl Client {
    /// Connects to the command port `addr` (`host:port`), remembers `data_addr` for transfers and starts a
    /// session. Fails with [`Error::SessionTaken`] when another client keeps the session.
    pub async fn connect(addr: &str, data_addr: &str, config: ClientConfig) -> Result<Client> {
        let stream = connect_tcp(addr, config.timeout).await?;
        let host = stream.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|_| "127.0.0.1".into());
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        let (read, write) = stream.into_split();
        let shared = Arc::new(Shared {
            writer: Mutex::new(write),
            token: AtomicI64::new(0),
            seq: AtomicU64::new(0),
            end: StdMutex::new(None),
            spoke: AtomicBool::new(false),
            notes: StdMutex::new(NoteQueue::default()),
            reply_bytes: std::sync::atomic::AtomicUsize::new(0),
            note_ready: tokio::sync::Notify::new(),
        });
        let (reply_tx, replies) = mpsc::channel(REPLY_QUEUE);
        let reader = tokio::spawn(read_loop(read, Arc::clone(&shared), reply_tx, config.clone()));
        let mut client = Client {
            shared,
            replies,
            reader,
            config,
            data_addr: data_addr.to_string(),
            data: None,
            host,
            buf: Vec::with_capacity(256),
            start_reply: Reply { msg_id: msg::START_SESSION, rval: 0, raw: Default::default() },
        };
        if let Err(e) = client.start_session().await {
            return Err(client.first_answer_error(e, addr));
        }
        Ok(client)
    }

    /// A failure before the peer said anything in this protocol means the port runs something else:
    /// say so instead of reporting a bare close.
    fn first_answer_error(&self, e: Error, addr: &str) -> Error {
        if self.shared.spoke.load(Ordering::Acquire) {
            return e;
        }
        match e {
            Error::Closed(reason) => Error::NotYi {
                addr: addr.to_string(),
                detail: reason.unwrap_or_else(|| "closed the connection without answering".into()),
            },
            Error::Stream(s) => Error::NotYi { addr: addr.to_string(), detail: s.to_string() },
            Error::Io(io)
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::BrokenPipe
                ) =>
            {
                Error::NotYi {
                    addr: addr.to_string(),
                    detail: "closed the connection without answering".into(),
                }
            }
            e => e,
        }
    }

    /// The current session token.
    pub fn token(&self) -> i64 {
        self.shared.token.load(Ordering::Relaxed)
    }

    /// The 257 reply of the current session (newer firmware adds `rtsp`, `model`, `album`).
    pub fn session_reply(&self) -> &Reply {
        &self.start_reply
    }

    async fn start_session(&mut self) -> Result<()> {
        let reply = self.exchange(&Command::StartSession, 0, self.config.timeout).await?;
        match reply.rval {
            rval::OK => {
                let token = reply
                    .param()
                    .and_then(as_i64)
                    .ok_or_else(|| Error::Protocol("257 reply without a token".into()))?;
                self.shared.token.store(token, Ordering::Relaxed);
                debug!(token, "session started");
                self.start_reply = reply;
                Ok(())
            }
            rval::SESSION_START_FAIL => Err(Error::SessionTaken),
            code => Err(Error::Camera { msg_id: msg::START_SESSION, rval: code }),
        }
    }

    /// Why the connection ended, as an error.
    fn closed(&self) -> Error {
        let reason = self.shared.end.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Error::Closed(reason)
    }

    /// Sends a request (one write) without waiting.
    async fn send(&mut self, cmd: &Command<'_>, token: i64) -> Result<()> {
        self.buf.clear();
        cmd.encode(token, &mut self.buf);
        info!(msg_id = cmd.msg_id(), name = msg::name(cmd.msg_id()), token, "sent");
        debug!(json = %shown(&self.buf, LOG_BYTES), "sent");
        let mut w = self.shared.writer.lock().await;
        w.write_all(&self.buf)
            .await
            .map_err(|e| if self.reader.is_finished() { self.closed() } else { Error::Io(e) })
    }

    /// The next reply from the reader, releasing its share of the reply budget.
    async fn next_reply(&mut self) -> Option<Reply> {
        let (r, cost) = self.replies.recv().await?;
        self.shared.reply_bytes.fetch_sub(cost, Ordering::AcqRel);
        Some(r)
    }

    /// Waits for the reply to `msg_id` (or a `-4` in either form), dropping stale replies.
    async fn await_reply(&mut self, msg_id: i64, timeout: Duration) -> Result<Reply> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.next_reply()).await {
                Ok(Some(r)) if r.msg_id == msg_id => return Ok(r),
                Ok(Some(r)) if r.rval == rval::INVALID_TOKEN && r.msg_id == 0 => return Ok(r),
                Ok(Some(r)) => debug!(msg_id = r.msg_id, rval = r.rval, "stale reply dropped"),
                Ok(None) => return Err(self.closed()),
                Err(_) => return Err(Error::Timeout(format!("the reply to msg_id {msg_id}"))),
            }
        }
    }

    async fn exchange(&mut self, cmd: &Command<'_>, token: i64, timeout: Duration) -> Result<Reply> {
        self.send(cmd, token).await?;
        self.await_reply(cmd.msg_id(), timeout).await
    }

    /// Sends `cmd` and returns the camera's reply whatever its `rval`, re-authenticating once on `-4`.
    pub async fn request(&mut self, cmd: &Command<'_>) -> Result<Reply> {
        self.request_with_timeout(cmd, self.config.timeout).await
    }

    async fn request_with_timeout(&mut self, cmd: &Command<'_>, timeout: Duration) -> Result<Reply> {
        let reply = self.exchange(cmd, self.token(), timeout).await?;
        if reply.rval != rval::INVALID_TOKEN || matches!(cmd, Command::StartSession) {
            return Ok(reply);
        }
        info!(msg_id = cmd.msg_id(), "token rejected (-4): starting a new session");
        self.start_session().await?;
        let reply = self.exchange(cmd, self.token(), timeout).await?;
        if reply.rval == rval::INVALID_TOKEN {
            return Err(Error::Camera { msg_id: cmd.msg_id(), rval: reply.rval });
        }
        Ok(reply)
    }

    /// Like [`request`](Self::request) but an `rval` other than 0 is an [`Error::Camera`].
    pub async fn call(&mut self, cmd: &Command<'_>) -> Result<Reply> {
        check(self.request(cmd).await?)
    }

    /// Number of the next notification the reader will queue (notifications older than this were
    /// already received).
    fn seq_now(&self) -> u64 {
        self.shared.seq.load(Ordering::Acquire)
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, NoteQueue> {
        self.shared.notes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notifications queued now, and their bytes as the camera sent them (what bounds the queue).
    pub fn queued_events(&self) -> (usize, usize) {
        let q = self.queue();
        (q.items.len(), q.bytes)
    }

    /// Waits for a notification numbered `>= floor` whose type is one of `kinds`. It stays in the event
    /// queue too, so [`next_event`](Self::next_event) still reports it.
    async fn wait_note(&mut self, floor: u64, kinds: &[&str], timeout: Duration) -> Result<Notification> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            {
                let q = self.queue();
                if let Some((_, n, _)) =
                    q.items.iter().find(|(s, n, _)| *s >= floor && kinds.contains(&n.kind.as_str()))
                {
                    return Ok(n.clone());
                }
                if q.closed {
                    drop(q);
                    return Err(self.closed());
                }
            }
            // notify_one keeps a permit when nobody waits, so a push between the check and here wakes us.
            if tokio::time::timeout_at(deadline, self.shared.note_ready.notified()).await.is_err() {
                return Err(Error::Timeout(format!("the {} notification", kinds.join("/"))));
            }
        }
    }

    /// The next notification (in arrival order); `None` once the camera closed the connection.
    pub async fn next_event(&mut self) -> Result<Option<Notification>> {
        loop {
            {
                let mut q = self.queue();
                if let Some(n) = q.pop() {
                    return Ok(Some(n));
                }
                if q.closed {
                    return Ok(None);
                }
            }
            self.shared.note_ready.notified().await;
        }
    }

    /// A notification if one is already queued, without waiting.
    pub fn try_next_event(&mut self) -> Option<Notification> {
        self.queue().pop()
    }

    // ---- settings -------------------------------------------------------------------------------

    /// Value of one setting (msg 1).
    pub async fn get_setting(&mut self, key: &str) -> Result<String> {
        let reply = self.call(&Command::GetSetting { key }).await?;
        Ok(reply.text("param").unwrap_or_default())
    }

    /// Sets one setting (msg 2). A `-14`/`-21` ("unchanged" on some firmware) counts as success when the
    /// setting already holds `value`.
    pub async fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        let reply = self.request(&Command::SetSetting { key, value }).await?;
        match reply.rval {
            rval::OK => Ok(()),
            rval::INVALID_OPERATION | rval::SYSTEM_BUSY
                if self.get_setting(key).await.is_ok_and(|current| current == value) =>
            {
                Ok(())
            }
            code => Err(Error::Camera { msg_id: msg::SET_SETTING, rval: code }),
        }
    }

    /// All settings in camera order (msg 3).
    pub async fn all_settings(&mut self) -> Result<Vec<(String, String)>> {
        let reply = self.call(&Command::GetAllSettings).await?;
        Ok(reply.param().map(pairs).unwrap_or_default())
    }

    /// Permission and allowed values of a setting: msg 9, falling back to the early-firmware describe form
    /// (msg 3 with `param`) when msg 9 is refused or lists nothing.
    pub async fn setting_options(&mut self, key: &str) -> Result<SettingOptions> {
        let first = self.request(&Command::GetOptions { key }).await?;
        if first.rval == rval::OK
            && let Some(o) = SettingOptions::from_options_reply(&first)
        {
            return Ok(o);
        }
        let reply = self.request(&Command::DescribeSetting { key }).await?;
        if reply.rval == rval::OK
            && let Some(text) = reply.param().map(pairs).and_then(|p| p.into_iter().find(|(k, _)| k == key))
            && let Some(o) = SettingOptions::from_describe(&text.1)
        {
            return Ok(o);
        }
        if first.rval == rval::OK {
            // msg 9 answered without options (fw 1.5.12 does that for keys it cannot list).
            return Ok(SettingOptions { settable: true, options: Vec::new() });
        }
        Err(Error::Camera { msg_id: msg::GET_SETTING_OPTIONS, rval: first.rval })
    }

    /// Device description (msg 11); firmware without it answers an error.
    pub async fn device_info(&mut self) -> Result<Reply> {
        self.call(&Command::GetDeviceInfo).await
    }

    /// Battery level (msg 13; `param` may be a string or a number).
    pub async fn battery(&mut self) -> Result<Battery> {
        let reply = self.call(&Command::GetBattery).await?;
        let percent = reply.param().and_then(as_i64).and_then(|p| u8::try_from(p.clamp(0, 100)).ok());
        Ok(Battery { percent, adapter: reply.text("type").is_some_and(|t| t == "adapter") })
    }

    /// Card capacity (msg 5, `total` and `free`).
    pub async fn storage(&mut self) -> Result<Storage> {
        let mut get = async |kind| -> Result<u64> {
            let reply = self.call(&Command::GetSpace { kind }).await?;
            reply
                .param()
                .and_then(crate::wire::as_u64)
                .ok_or_else(|| Error::Protocol("msg 5 without a size".into()))
        };
        let total_kib = get("total").await?;
        let free_kib = get("free").await?;
        Ok(Storage { total_kib, free_kib })
    }

    /// Formats the card (msg 4). The camera answers when it is done, so this waits longer than usual.
    pub async fn format(&mut self) -> Result<()> {
        let timeout = self.config.timeout * 6;
        check(self.request_with_timeout(&Command::Format, timeout).await?).map(drop)
    }

    // ---- capture --------------------------------------------------------------------------------

    /// Takes a photo (msg 769) and returns the camera path from `photo_taken`. The camera replies only
    /// after the photo is saved; the notification may come before or after the reply.
    pub async fn take_photo(&mut self) -> Result<String> {
        let floor = self.seq_now();
        let timeout = self.config.timeout * 3;
        check(self.request_with_timeout(&Command::TakePhoto, timeout).await?)?;
        let note = self.wait_note(floor, &["photo_taken"], timeout).await?;
        Ok(note.param_text())
    }

    /// Starts recording (msg 513).
    pub async fn start_recording(&mut self) -> Result<()> {
        self.call(&Command::StartRecording).await.map(drop)
    }

    /// Stops recording (msg 514) and returns the camera path from `video_record_complete`.
    pub async fn stop_recording(&mut self) -> Result<String> {
        let floor = self.seq_now();
        self.call(&Command::StopRecording).await?;
        let note = self.wait_note(floor, &["video_record_complete"], self.config.timeout * 6).await?;
        Ok(note.param_text())
    }

    /// Seconds recorded so far (msg 515); `None` when not recording (`-14`).
    pub async fn record_time(&mut self) -> Result<Option<u64>> {
        let reply = self.request(&Command::RecordTime).await?;
        match reply.rval {
            rval::OK => Ok(reply.param().and_then(crate::wire::as_u64)),
            rval::INVALID_OPERATION => Ok(None),
            code => Err(Error::Camera { msg_id: msg::GET_RECORD_TIME, rval: code }),
        }
    }

    /// The RTSP live-view URL: the 257 reply's `rtsp` key when the camera gave one on its own address,
    /// else `rtsp://HOST/live` (port 554, or [`ClientConfig::rtsp_port`]). A key naming another host is
    /// ignored: the camera does not get to send its client elsewhere.
    pub fn rtsp_url(&self) -> String {
        if let Some(url) = self.start_reply.text("rtsp").filter(|u| !u.is_empty()) {
            match url::Url::parse(&url) {
                Ok(u) if u.scheme() == "rtsp" && u.host_str().is_some_and(|h| same_host(h, &self.host)) => {
                    return url;
                }
                _ => {
                    warn!(url = %Safe(&url), "ignoring the camera's live-view URL (not rtsp:// on its own address)")
                }
            }
        }
        match self.config.rtsp_port {
            Some(port) if port != camctl_core::rtsp::DEFAULT_RTSP_PORT => {
                format!("rtsp://{}:{port}/live", self.host)
            }
            _ => format!("rtsp://{}/live", self.host),
        }
    }

    /// Starts the viewfinder (msg 259 `none_force`), waits briefly for `vf_start`, returns the RTSP URL.
    pub async fn start_preview(&mut self) -> Result<String> {
        let floor = self.seq_now();
        self.call(&Command::StartPreview).await?;
        let wait = self.config.timeout.min(Duration::from_secs(3));
        if let Err(e) = self.wait_note(floor, &["vf_start"], wait).await {
            warn!(error = %e, "no vf_start after 259; the stream may still come up");
        }
        Ok(self.rtsp_url())
    }

    /// Stops the viewfinder (msg 260).
    pub async fn stop_preview(&mut self) -> Result<()> {
        self.call(&Command::StopPreview).await.map(drop)
    }

    // ---- files ----------------------------------------------------------------------------------

    /// Lists a directory (absolute camera path, e.g. `/tmp/fuse_d/DCIM`) with sizes and dates (msg 1282
    /// `-D -S`).
    pub async fn list(&mut self, dir: &str) -> Result<Vec<ListEntry>> {
        // The camera needs the trailing slash (listing without it crashes some firmware).
        let param = format!("{}/ -D -S", dir.trim_end_matches('/'));
        let reply = self.call(&Command::List { param: &param }).await?;
        Ok(reply.get("listing").map(parse_listing).unwrap_or_default())
    }

    /// Changes the session's directory (msg 1283); returns the new `pwd`.
    pub async fn cd(&mut self, dir: &str) -> Result<String> {
        let reply = self.call(&Command::Cd { path: dir }).await?;
        Ok(reply.text("pwd").unwrap_or_default())
    }

    /// Media information (msg 1026): size, date, resolution, duration...
    pub async fn media_info(&mut self, path: &str) -> Result<Reply> {
        self.call(&Command::MediaInfo { path }).await
    }

    /// Deletes a file (msg 1281).
    pub async fn delete(&mut self, path: &str) -> Result<()> {
        self.call(&Command::Delete { path }).await.map(drop)
    }

    /// The data connection, opened on first use and kept for later transfers.
    async fn data_conn(&mut self) -> Result<TcpStream> {
        match self.data.take() {
            Some(s) if !out_of_step(&s) => Ok(s),
            stale => {
                if stale.is_some() {
                    warn!("data connection out of step (bytes after the last file, or closed): reconnecting");
                }
                drop(stale);
                connect_tcp(&self.data_addr, self.config.timeout).await
            }
        }
    }

    /// Keeps the data connection for the next transfer unless it is out of step.
    fn keep_data(&mut self, data: TcpStream, what: &str) {
        if out_of_step(&data) {
            warn!(what, "camera sent more bytes than announced: data connection reset");
            return;
        }
        self.data = Some(data);
    }

    /// Downloads `path` from byte `offset` to its end into `out` over the data port (msg 1285), streaming.
    /// When the whole file is fetched (`offset == 0`) and verification is on, the data must match the
    /// MD5 of `get_file_complete` or the result is [`Error::Md5Mismatch`].
    ///
    /// If writing to `out` fails, the transfer is cancelled (msg 1287) and the write error returned.
    pub async fn download<W>(&mut self, path: &str, offset: u64, out: &mut W) -> Result<Downloaded>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let mut data = self.data_conn().await?;
        let floor = self.seq_now();
        let cmd = Command::GetFile { path, offset, fetch_size: 0 };
        // Data may arrive before the reply, so the first read runs alongside the wait for the reply.
        self.send(&cmd, self.token()).await?;
        let mut buf = vec![0u8; DATA_CHUNK];
        let mut hasher = (offset == 0 && self.config.verify_md5).then(BackgroundMd5::new);
        let mut received = 0u64;
        let mut expected: Option<(u64, u64)> = None; // (rem_size, size)
        let mut reauthed = false;
        // Data that came before the reply: held (at most one buffer) until the reply says how much of
        // it is this file, so bytes beyond the file are never written.
        let mut early: Vec<u8> = Vec::new();
        let mut extra = false;
        let timeout = self.config.timeout;
        let mut floor_check = self.config.floor.map(FloorCheck::new);
        // Data before the reply is allowed, but the reply must come: no endless data phase of unknown length.
        let reply_deadline = tokio::time::Instant::now() + timeout;
        let result: Result<()> = async {
            loop {
                if let Some((rem, _)) = expected
                    && received >= rem
                {
                    return Ok(());
                }
                if let Some((rem, _)) = expected {
                    // Size known: a plain read loop, no select or timer per chunk.
                    while received < rem {
                        let want = ((rem - received).min(DATA_CHUNK as u64)) as usize;
                        let read = read_data(&mut data, &mut buf[..want], &mut floor_check, timeout, "file data").await;
                        take_chunk(read, &mut buf, &mut received, out, &mut hasher).await?;
                    }
                    return Ok(());
                }
                let want = DATA_CHUNK;
                tokio::select! {
                    biased;
                    reply = self.next_reply(), if expected.is_none() => {
                        let Some(reply) = reply else { return Err(self.closed()) };
                        if reply.msg_id != msg::GET_FILE && !(reply.rval == rval::INVALID_TOKEN && reply.msg_id == 0) {
                            debug!(msg_id = reply.msg_id, "stale reply dropped");
                            continue;
                        }
                        if reply.rval == rval::INVALID_TOKEN && !reauthed && received == 0 && early.is_empty() {
                            reauthed = true;
                            self.start_session().await?;
                            self.send(&cmd, self.token()).await?;
                            continue;
                        }
                        let reply = check(reply)?;
                        let size = reply.int("size").and_then(|s| u64::try_from(s).ok());
                        let rem = reply.int("rem_size").and_then(|s| u64::try_from(s).ok());
                        let (rem, size) = match (rem, size) {
                            (Some(r), Some(s)) => (r, s),
                            (None, Some(s)) => (s.saturating_sub(offset), s),
                            (Some(r), None) => (r, offset + r),
                            (None, None) => return Err(Error::Protocol("1285 reply without size".into())),
                        };
                        // The early bytes beyond the file are not this file's: the socket is out of step.
                        let take = early.len().min(usize::try_from(rem).unwrap_or(usize::MAX));
                        extra = early.len() > take;
                        if take > 0 {
                            buf[..take].copy_from_slice(&early[..take]);
                            write_chunk(take, &mut buf, &mut received, out, &mut hasher).await?;
                        }
                        early = Vec::new();
                        expected = Some((rem, size));
                    }
                    read = read_data(&mut data, &mut buf[..want - early.len()], &mut floor_check, timeout, "file data"),
                        if early.len() < want =>
                    {
                        match read? {
                            0 => return Err(Error::Transfer(format!("data connection closed after {} bytes", early.len()))),
                            n => early.extend_from_slice(&buf[..n]),
                        }
                    }
                    _ = tokio::time::sleep_until(reply_deadline), if expected.is_none() => {
                        return Err(Error::Timeout(format!("the reply to msg_id {} ({received} bytes of data came without it)", msg::GET_FILE)));
                    }
                }
            }
        }
        .await;
        if let Err(e) = result {
            if matches!(e, Error::Camera { .. }) && received == 0 && early.is_empty() {
                // A refused request leaves the data connection clean.
                self.keep_data(data, "refused file");
            } else {
                // The data socket may hold the rest of this file: never reuse it. Ask the camera to stop
                // so the next transfer is not refused as busy.
                drop(data);
                let cancel = Command::CancelTransfer { path };
                let _ = self.request_with_timeout(&cancel, Duration::from_secs(2).min(timeout)).await;
            }
            return Err(e);
        }
        out.flush().await.map_err(|e| Error::Transfer(format!("writing the download: {e}")))?;
        let (rem, size) = expected.unwrap_or_default();
        let note = match self.wait_note(floor, &["get_file_complete", "get_file_fail"], timeout).await {
            Ok(note) => note,
            Err(e) => {
                // Whatever the camera still sends belongs to this file: never reuse the socket.
                drop(data);
                return Err(e);
            }
        };
        let done = TransferDone::from_notification(&note);
        if extra {
            warn!(path = %Safe(path), "camera sent more bytes than the file: data connection reset");
            drop(data);
        } else {
            match done.bytes {
                // The camera counts the bytes it sent (from the offset): a different count means the socket
                // holds more of this file, or lost some; either way it is out of step.
                Some(sent) if sent != received && sent != offset + received => {
                    warn!(path = %Safe(path), sent, received, "camera reports a different byte count: data connection reset");
                    drop(data);
                }
                _ => self.keep_data(data, "file"),
            }
        }
        if note.kind == "get_file_fail" {
            return Err(Error::Transfer(format!(
                "camera reported get_file_fail ({})",
                Safe(&note.param_text())
            )));
        }
        let whole = offset == 0 && rem == size;
        let mut verified = false;
        if let (Some(h), true) = (hasher, whole) {
            let actual = md5_hex(h.finish().await?);
            match &done.md5 {
                Some(expected) if *expected != actual => {
                    return Err(Error::Md5Mismatch { expected: expected.clone(), actual });
                }
                Some(_) => verified = true,
                None => warn!(path, "get_file_complete without md5sum: not verified"),
            }
        }
        Ok(Downloaded { bytes: received, size, md5: done.md5, verified })
    }

    /// Cancels a running transfer (msg 1287).
    pub async fn cancel_transfer(&mut self, path: &str) -> Result<()> {
        self.call(&Command::CancelTransfer { path }).await.map(drop)
    }

    /// Uploads `len` bytes from `src` whose MD5 is `md5` (hex) to `remote` (msg 1286). The camera's
    /// `put_file_complete` must report the same MD5 and size.
    pub async fn upload_from<R>(&mut self, src: &mut R, len: u64, md5: &str, remote: &str) -> Result<u64>
    where
        R: AsyncRead + Unpin + ?Sized,
    {
        let mut data = self.data_conn().await?;
        let floor = self.seq_now();
        self.call(&Command::PutFile { path: remote, offset: 0, size: len, md5 }).await?;
        let mut buf = vec![0u8; DATA_CHUNK.min(usize::try_from(len).unwrap_or(DATA_CHUNK)).max(1)];
        let mut sent = 0u64;
        let mut floor_check = self.config.floor.map(FloorCheck::new);
        while sent < len {
            let want = (len - sent).min(buf.len() as u64) as usize;
            let n = src.read(&mut buf[..want]).await?;
            if n == 0 {
                return Err(Error::Transfer(format!("source ended after {sent} of {len} bytes")));
            }
            for piece in buf[..n].chunks(UPLOAD_PIECE) {
                match tokio::time::timeout(self.config.timeout, data.write_all(piece)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(Error::Transfer(format!("data connection: {e}"))),
                    Err(_) => return Err(Error::Timeout("the camera to take upload data".into())),
                }
                if let Some(check) = floor_check.as_mut() {
                    check.record(piece.len()).map_err(|e| Error::Read(e.into()))?;
                }
            }
            sent += n as u64;
        }
        self.data = Some(data);
        let note =
            self.wait_note(floor, &["put_file_complete", "put_file_fail"], self.config.timeout).await?;
        if note.kind == "put_file_fail" {
            return Err(Error::Transfer(format!(
                "camera reported put_file_fail ({})",
                Safe(&note.param_text())
            )));
        }
        let done = TransferDone::from_notification(&note);
        if let Some(theirs) = done.md5
            && !theirs.eq_ignore_ascii_case(md5)
        {
            return Err(Error::Md5Mismatch { expected: md5.to_string(), actual: theirs });
        }
        if let Some(bytes) = done.bytes
            && bytes != len
        {
            return Err(Error::Transfer(format!("camera received {bytes} of {len} bytes")));
        }
        Ok(len)
    }

    /// Uploads a local file to `remote` (a bare name goes to the session's directory, or give an
    /// absolute camera path). Reads the file twice (MD5 first, as the request needs it), never whole.
    pub async fn upload(&mut self, local: &Path, remote: &str) -> Result<u64> {
        let mut file = tokio::fs::File::open(local).await?;
        let mut hasher = Md5::new();
        let mut buf = vec![0u8; DATA_CHUNK];
        let mut len = 0u64;
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            len += n as u64;
        }
        drop(buf);
        let md5 = md5_hex(hasher);
        let mut file = tokio::fs::File::open(local).await?;
        let mut limited = (&mut file).take(len);
        self.upload_from(&mut limited, len, &md5, remote).await
    }

    /// Fetches a thumbnail (msg 1025): the bytes arrive on the data port *before* the reply that gives
    /// their size and MD5.
    pub async fn thumbnail(&mut self, path: &str) -> Result<Vec<u8>> {
        let mut data = self.data_conn().await?;
        self.send(&Command::Thumbnail { path, kind: "thumb" }, self.token()).await?;
        let mut bytes = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let timeout = self.config.timeout;
        let mut floor_check = self.config.floor.map(FloorCheck::new);
        let mut reply: Option<Reply> = None;
        let result: Result<()> = async {
            loop {
                if let Some(r) = &reply {
                    let size =
                        r.int("size").and_then(|s| u64::try_from(s).ok()).unwrap_or(bytes.len() as u64);
                    if size > MAX_THUMB {
                        return Err(Error::Protocol(format!("thumbnail of {size} bytes")));
                    }
                    if bytes.len() as u64 >= size {
                        bytes.truncate(size as usize);
                        return Ok(());
                    }
                }
                tokio::select! {
                    biased;
                    r = self.next_reply(), if reply.is_none() => {
                        let Some(r) = r else { return Err(self.closed()) };
                        if r.msg_id != msg::GET_THUMB && !(r.rval == rval::INVALID_TOKEN && r.msg_id == 0) {
                            continue;
                        }
                        reply = Some(check(r)?);
                    }
                    read = read_data(&mut data, &mut buf, &mut floor_check, timeout, "thumbnail data") => {
                        let n = match read? {
                            0 => return Err(Error::Transfer("data connection closed".into())),
                            n => n,
                        };
                        if (bytes.len() + n) as u64 > MAX_THUMB {
                            return Err(Error::Protocol("thumbnail too large".into()));
                        }
                        bytes.extend_from_slice(&buf[..n]);
                    }
                }
            }
        }
        .await;
        result?;
        self.keep_data(data, "thumbnail");
        if let Some(theirs) = reply.as_ref().and_then(|r| r.text("md5sum")) {
            let mut h = Md5::new();
            h.update(&bytes);
            let actual = md5_hex(h);
            if !theirs.eq_ignore_ascii_case(&actual) {
                return Err(Error::Md5Mismatch { expected: theirs, actual });
            }
        }
        Ok(bytes)
    }

    /// Ends the session (msg 258) and closes the connections.
    pub async fn close(mut self) -> Result<()> {
        let result = self.exchange(&Command::StopSession, self.token(), self.config.timeout).await;
        let mut w = self.shared.writer.lock().await;
        let _ = w.shutdown().await;
        drop(w);
        match result {
            Ok(r) if r.rval == rval::OK || r.rval == rval::INVALID_TOKEN => Ok(()),
            Ok(r) => Err(Error::Camera { msg_id: msg::STOP_SESSION, rval: r.rval }),
            Err(e) => Err(e),
        }
    }
}

/// Memory a parsed JSON value holds, roughly (a `Value` is 32 bytes; strings and maps add theirs).
/// serde_json's recursion limit bounds the depth.
fn weight(v: &serde_json::Value) -> usize {
    use serde_json::Value;
    32 + match v {
        Value::String(s) => s.len(),
        Value::Array(a) => a.iter().map(weight).sum(),
        Value::Object(m) => map_weight(m),
        _ => 0,
    }
}

fn map_weight(m: &serde_json::Map<String, serde_json::Value>) -> usize {
    m.iter().map(|(k, v)| 48 + k.len() + weight(v)).sum()
}

/// Queues a reply for the request waiting for it, unless the replies already queued hold
/// [`MAX_QUEUED_REPLY_BYTES`] (the first one always goes: a long listing may be big alone). Never
/// blocks: 1793 must be answered in time.
fn queue_reply(
    shared: &Shared,
    replies: &mpsc::Sender<(Reply, usize)>,
    r: Reply,
    cost: usize,
    throttle: &mut Throttle,
) {
    let queued = shared.reply_bytes.load(Ordering::Acquire);
    if queued > 0 && queued + cost > MAX_QUEUED_REPLY_BYTES {
        warn_throttled!(throttle, "reply queue full (8 MiB), reply to msg_id {} dropped", r.msg_id);
        return;
    }
    shared.reply_bytes.fetch_add(cost, Ordering::AcqRel);
    if let Err(mpsc::error::TrySendError::Full((r, _)) | mpsc::error::TrySendError::Closed((r, _))) =
        replies.try_send((r, cost))
    {
        shared.reply_bytes.fetch_sub(cost, Ordering::AcqRel);
        warn_throttled!(throttle, "reply queue full, reply to msg_id {} dropped", r.msg_id);
    }
}

/// Reads the command connection: routes replies and notifications, answers 1793.
async fn read_loop(
    mut read: OwnedReadHalf,
    shared: Arc<Shared>,
    replies: mpsc::Sender<(Reply, usize)>,
    config: ClientConfig,
) {
    let mut stream = JsonStream::new(config.max_object);
    let (mut junk_throttle, mut reply_throttle, mut big_throttle) =
        (Throttle::default(), Throttle::default(), Throttle::default());
    // Junk since the last good message: bounded, so a peer cannot keep the client busy forever.
    let (mut junk_objects, mut skipped_at_good) = (0u32, 0u64);
    let mut buf = vec![0u8; 64 * 1024];
    // Until the first message: whether only whitespace has come so far.
    let mut blank_so_far = true;
    let reason = loop {
        let spoke = shared.spoke.load(Ordering::Acquire);
        let n = match read.read(&mut buf).await {
            Ok(0) if spoke => break "end of stream".to_string(),
            Ok(0) => break "closed the connection without answering".to_string(),
            Ok(n) => n,
            Err(e) => break e.to_string(),
        };
        if !spoke && blank_so_far {
            // The camera's stream is JSON objects from the first byte: anything else is another
            // protocol (HTTP, RTSP, a binary one), reported at once rather than after a timeout.
            match buf[..n].iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'{') => blank_so_far = false,
                Some(_) => break format!("answered with non-JSON bytes \"{}\"", shown(&buf[..n], 40)),
                None => {}
            }
        }
        stream.push(&buf[..n]);
        let mut fatal = None;
        let mut good_seen = false;
        loop {
            if good_seen {
                skipped_at_good = stream.skipped();
                good_seen = false;
            }
            let object = match stream.next_object() {
                Ok(Some(o)) => o,
                Ok(None) => break,
                Err(e) => {
                    fatal = Some(e.to_string());
                    break;
                }
            };
            debug!(json = %shown(object, LOG_BYTES), "received");
            let message = match Message::decode(object) {
                Ok(m) => m,
                Err(_) if !shared.spoke.load(Ordering::Acquire) => {
                    fatal = Some(format!("answered JSON that is not the camera API: {}", shown(object, 80)));
                    break;
                }
                Err(e) => {
                    junk_objects += 1;
                    if junk_objects > MAX_JUNK_OBJECTS {
                        fatal = Some(format!("{junk_objects} undecodable objects in a row"));
                        break;
                    }
                    warn_throttled!(
                        junk_throttle,
                        "undecodable object from camera, skipped: {e}: {}",
                        shown(object, JUNK_SHOWN)
                    );
                    continue;
                }
            };
            shared.spoke.store(true, Ordering::Release);
            junk_objects = 0;
            good_seen = true;
            // What the parsed message holds in memory, at least its size on the wire.
            let cost = object.len().max(match &message {
                Message::Reply(r) => map_weight(&r.raw),
                Message::Other { raw, .. } => map_weight(raw),
                Message::Notification(n) => map_weight(&n.raw) + n.param.as_ref().map_or(0, weight),
                Message::SessionHolderQuery => 0,
            });
            match message {
                // Never block here (1793 must be answered in time): a reply nobody waits for while 64
                // others are unread is unsolicited and can go.
                Message::Reply(r) => {
                    info!(
                        msg_id = r.msg_id,
                        name = msg::name(r.msg_id),
                        rval = r.rval,
                        result = rval::describe(r.rval),
                        "received reply"
                    );
                    queue_reply(&shared, &replies, r, cost, &mut reply_throttle);
                }
                Message::Other { msg_id, raw } => {
                    // A reply without rval (some firmware omits it on success).
                    info!(msg_id, name = msg::name(msg_id), "received reply without rval");
                    queue_reply(
                        &shared,
                        &replies,
                        Reply { msg_id, rval: rval::OK, raw },
                        cost,
                        &mut reply_throttle,
                    );
                }
                Message::Notification(n) => {
                    if cost > MAX_NOTIFICATION {
                        warn_throttled!(
                            big_throttle,
                            "notification {} of {cost} bytes (more than 64 KiB) dropped",
                            shown(n.kind.as_bytes(), 40)
                        );
                        continue;
                    }
                    let param = n.param.as_ref().map(as_text).unwrap_or_default();
                    info!(kind = %Safe(&n.kind), param = %shown(param.as_bytes(), 120), "received notification");
                    // Numbered before it is queued, so a waiter's floor never admits an older one.
                    let seq = shared.seq.fetch_add(1, Ordering::AcqRel);
                    shared.notes.lock().unwrap_or_else(|e| e.into_inner()).push(seq, n, cost);
                    shared.note_ready.notify_one();
                }
                Message::SessionHolderQuery => {
                    info!(msg_id = msg::QUERY_SESSION_HOLDER, name = "QUERY_SESSION_HOLDER", "received");
                    if config.keep_session {
                        let token = shared.token.load(Ordering::Relaxed);
                        let mut out = Vec::with_capacity(64);
                        Command::HolderAnswer { rval: Some(0) }.encode(token, &mut out);
                        let mut w = shared.writer.lock().await;
                        if let Err(e) = w.write_all(&out).await {
                            warn!(error = %e, "could not answer the session-holder query");
                        }
                        info!("another client asked for the session: kept it");
                    } else {
                        info!("another client asked for the session: yielding");
                    }
                }
            }
        }
        if good_seen {
            skipped_at_good = stream.skipped();
        }
        if fatal.is_none() && stream.skipped().saturating_sub(skipped_at_good) > MAX_JUNK_BYTES {
            fatal = Some(format!("more than {MAX_JUNK_BYTES} bytes of junk between messages"));
        }
        if let Some(f) = fatal {
            break f;
        }
    };
    debug!(%reason, "command connection ended");
    *shared.end.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
    shared.notes.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
    shared.note_ready.notify_one();
}

/// Whether a URL's host names the camera's address (`host` may be a bracketed IPv6 address).
fn same_host(url_host: &str, host: &str) -> bool {
    url_host.trim_start_matches('[').trim_end_matches(']')
        == host.trim_start_matches('[').trim_end_matches(']')
}
