//! The viewer role over tokio UDP: discovery (OLD and/or CC51), DTLS client, AV login, then a
//! [`ClientTransport`] for [`crate::WyzeSession`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use camctl_core::log::{Throttle, shown};
use camctl_core::warn_throttled;
use tokio::net::UdpSocket;
use tokio::sync::{Mutex, Notify, mpsc};
use tokio::task::JoinHandle;

use super::av::{AvEvent, encode_login};
use super::cc51::{Cc51Packet, hmac_key};
use super::dtls::DtlsEndpoint;
use super::framing::{Framing, Side};
use super::link::Link;
use super::old::{CMD_DISCO_RESP, CMD_SESSION_RESP, OldPacket};
use super::resend::{ResendConfig, ResendStats};
use super::transcode::TailSwap;
use super::{Firmware, auth_key_bytes, random_bytes, uid_bytes};
use crate::transport::{ClientTransport, MediaFrame, TransportError};

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum TutkError {
    /// A socket error.
    #[error("UDP: {0}")]
    Io(#[from] std::io::Error),
    /// Nobody answered discovery.
    #[error(
        "no TUTK discovery answer from {addr} within {after:?} (camera offline, wrong UID, wrong AuthKey/ENR/MAC, or its session limit reached)"
    )]
    DiscoveryTimeout {
        /// Where the probes went.
        addr: SocketAddr,
        /// How long.
        after: Duration,
    },
    /// The camera answered discovery but not the session request.
    #[error("TUTK session setup with {addr} timed out after {after:?}")]
    SessionTimeout {
        /// The camera.
        addr: SocketAddr,
        /// How long.
        after: Duration,
    },
    /// The DTLS handshake did not complete.
    #[error("DTLS handshake with the camera failed ({detail}): wrong ENR? (the PSK is SHA-256 of the ENR)")]
    DtlsHandshake {
        /// What OpenSSL said, or the timeout.
        detail: String,
    },
    /// No AV login answer.
    #[error("AV login timed out after {0:?}")]
    AvLoginTimeout(Duration),
    /// The camera refused the AV login.
    #[error("AV login refused by the camera (wrong account/password, i.e. wrong ENR?)")]
    AvLoginRefused,
}

impl From<TutkError> for TransportError {
    fn from(e: TutkError) -> Self {
        match e {
            TutkError::Io(io) => TransportError::Io(io),
            other => TransportError::Other(other.to_string()),
        }
    }
}

impl From<TutkError> for crate::Error {
    fn from(e: TutkError) -> Self {
        crate::Error::Transport(e.into())
    }
}

/// Options of [`connect`].
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Which discovery flavour to use (default: probe both).
    pub firmware: Firmware,
    /// DTLS on channel 0 (default true; `false` sends AV messages in the clear, which only the camctl
    /// emulator understands: non-DTLS Wyze firmware uses another session format).
    pub dtls: bool,
    /// Overall limit for each phase (discovery, session, DTLS, login) and the idle limit afterwards.
    pub timeout: Duration,
    /// Overrides the derived AuthKey (tests, unusual cameras).
    pub auth_key: Option<String>,
    /// Overrides the derived PSK (default [`crate::auth::dtls_psk`]).
    pub psk: Option<Vec<u8>>,
    /// Overrides the AV login password (default [`crate::auth::av_password`]).
    pub av_password: Option<String>,
    /// OLD-flavour tail swap (default: go2rtc's, see [`TailSwap`]).
    pub tail_swap: TailSwap,
    /// Limit for the whole connection setup, all phases together (default 20 s, the `timeout` the
    /// TUTK SDK path passes to `IOTC_Connect_ByUIDEx`, tutk.md §6.2): a camera trickling answers just
    /// in time for each phase cannot hold the client longer.
    pub overall_timeout: Duration,
    /// Frames kept for [`ClientTransport::recv_frame`] (default [`MAX_QUEUED_FRAMES`]).
    pub max_queued_frames: usize,
    /// Bytes of frames kept (default [`MAX_QUEUED_FRAME_BYTES`]); the oldest whole frames are dropped
    /// beyond either bound, counted in [`FrameStats::dropped`].
    pub max_queued_frame_bytes: usize,
    /// Ask for the resend format in the AV login (default false, as go2rtc): the camera then numbers
    /// its media packets and retransmits the ones this client reports missing (URL `resend=1`).
    pub resend: bool,
    /// Resend-mode timing and bounds (used with `resend`).
    pub resend_config: ResendConfig,
}

/// Default of [`ConnectOptions::max_queued_frames`].
pub const MAX_QUEUED_FRAMES: usize = 256;
/// Default of [`ConnectOptions::max_queued_frame_bytes`] (16 MiB: some seconds of 2K video).
pub const MAX_QUEUED_FRAME_BYTES: usize = 16 << 20;
/// IOCTRL messages kept for [`ClientTransport::recv_ioctrl`]; further ones are dropped (counted).
pub const MAX_QUEUED_IOCTRLS: usize = 256;
/// Bytes of IOCTRL messages kept.
pub const MAX_QUEUED_IOCTRL_BYTES: usize = 4 << 20;

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            firmware: Firmware::Auto,
            dtls: true,
            timeout: Duration::from_secs(5),
            auth_key: None,
            psk: None,
            av_password: None,
            tail_swap: TailSwap::default(),
            overall_timeout: Duration::from_secs(20),
            max_queued_frames: MAX_QUEUED_FRAMES,
            max_queued_frame_bytes: MAX_QUEUED_FRAME_BYTES,
            resend: false,
            resend_config: ResendConfig::default(),
        }
    }
}

/// Counters of the client's frame queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Frames queued now.
    pub queued: usize,
    /// Their payload bytes.
    pub queued_bytes: usize,
    /// Most bytes ever queued at once.
    pub peak_bytes: usize,
    /// Frames dropped because the queue was full (oldest first): gaps the reader sees in `frame_no`.
    pub dropped: u64,
    /// Frames dropped because no media was asked for ([`ClientTransport::set_media_wanted`]).
    pub unwanted: u64,
    /// Media packets dropped before reassembly because no media was asked for.
    pub unwanted_packets: u64,
    /// Frames the reassembler gave up because they were larger than [`super::av::MAX_FRAME_BYTES`].
    pub oversized: u64,
    /// IOCTRL messages dropped because their queue was full.
    pub ioctrl_dropped: u64,
    /// Resend-mode counters (all zero unless resend was asked for).
    pub resend: ResendStats,
    /// Frames given up because packets were missing (after any retransmission requests).
    pub incomplete: u64,
}

/// A queue bounded in entries and bytes; the oldest entries go first. `closed` wakes receivers.
#[derive(Debug, Default)]
struct Bounded<T> {
    items: VecDeque<(T, usize)>,
    bytes: usize,
    closed: bool,
}

#[derive(Debug)]
struct Queues {
    frames: StdMutex<Bounded<MediaFrame>>,
    ioctrls: StdMutex<Bounded<(u32, Vec<u8>)>>,
    stats: StdMutex<FrameStats>,
    frame_ready: Notify,
    ioctrl_ready: Notify,
    media_wanted: AtomicBool,
    max_frames: usize,
    max_frame_bytes: usize,
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Queues {
    fn new(options: &ConnectOptions) -> Self {
        Queues {
            frames: StdMutex::default(),
            ioctrls: StdMutex::default(),
            stats: StdMutex::default(),
            frame_ready: Notify::new(),
            ioctrl_ready: Notify::new(),
            media_wanted: AtomicBool::new(false),
            max_frames: options.max_queued_frames.max(1),
            max_frame_bytes: options.max_queued_frame_bytes,
        }
    }

    /// Queues a frame, dropping the oldest beyond the bounds; returns how many were dropped.
    fn push_frame(&self, frame: MediaFrame) -> u64 {
        let size = frame.1.len();
        let mut dropped = 0;
        {
            let mut q = lock(&self.frames);
            // A frame that can never fit is dropped alone, not after evicting everything else.
            while size <= self.max_frame_bytes
                && !q.items.is_empty()
                && (q.items.len() >= self.max_frames || q.bytes + size > self.max_frame_bytes)
            {
                if let Some((_, n)) = q.items.pop_front() {
                    q.bytes = q.bytes.saturating_sub(n);
                    dropped += 1;
                }
            }
            if size > self.max_frame_bytes {
                dropped += 1;
            } else {
                q.items.push_back((frame, size));
                q.bytes += size;
            }
            let mut st = lock(&self.stats);
            st.dropped += dropped;
            st.queued = q.items.len();
            st.queued_bytes = q.bytes;
            st.peak_bytes = st.peak_bytes.max(q.bytes);
        }
        self.frame_ready.notify_one();
        dropped
    }

    /// Queues an IOCTRL message; `false` when it was dropped (queue full).
    fn push_ioctrl(&self, msg: (u32, Vec<u8>)) -> bool {
        let size = msg.1.len();
        let ok = {
            let mut q = lock(&self.ioctrls);
            let ok = q.items.len() < MAX_QUEUED_IOCTRLS && q.bytes + size <= MAX_QUEUED_IOCTRL_BYTES;
            if ok {
                q.items.push_back((msg, size));
                q.bytes += size;
            }
            ok
        };
        if ok {
            self.ioctrl_ready.notify_one();
        } else {
            lock(&self.stats).ioctrl_dropped += 1;
        }
        ok
    }

    fn close(&self) {
        lock(&self.frames).closed = true;
        lock(&self.ioctrls).closed = true;
        self.frame_ready.notify_waiters();
        self.ioctrl_ready.notify_waiters();
    }
}

/// Waits for the next item of `q`; `None` once closed and drained. Cancel-safe: an item is taken
/// only by the synchronous pop.
async fn pop<T>(q: &StdMutex<Bounded<T>>, ready: &Notify) -> Option<T> {
    loop {
        let notified = ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut g = lock(q);
            if let Some((item, n)) = g.items.pop_front() {
                g.bytes = g.bytes.saturating_sub(n);
                if !g.items.is_empty() {
                    // Pass the wake-up on: notify_one stores only one permit.
                    ready.notify_one();
                }
                return Some(item);
            }
            if g.closed {
                return None;
            }
        }
        notified.await;
    }
}

/// Commands to the session task: IOCTRL type and payload.
type IoctrlSender = mpsc::Sender<(u32, Vec<u8>)>;

/// A connected TUTK AV channel (client role). Dropping it sends DTLS close_notify and stops its task.
#[derive(Debug)]
pub struct UdpClientTransport {
    /// `None` once [`UdpClientTransport::shutdown`] ran: the task sees the channel close and says goodbye.
    ioctrl_tx: StdMutex<Option<IoctrlSender>>,
    /// One IOCTRL reader at a time (the FIFO order of replies matters to the message layer).
    ioctrl_reader: Mutex<()>,
    frame_reader: Mutex<()>,
    queues: Arc<Queues>,
    ended: Arc<StdMutex<Option<String>>>,
    peer: SocketAddr,
    firmware: Firmware,
    task: JoinHandle<()>,
}

impl Drop for UdpClientTransport {
    fn drop(&mut self) {
        // Closing the command channel makes the task send close_notify and exit; abort is the backstop.
        let task = self.task.abort_handle();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            task.abort();
        });
    }
}

impl UdpClientTransport {
    /// The camera's address after discovery (its session port).
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The flavour the camera answered in.
    pub fn firmware(&self) -> Firmware {
        self.firmware
    }

    /// Frame queue counters (what was kept, dropped and why).
    pub fn frame_stats(&self) -> FrameStats {
        let mut st = *lock(&self.queues.stats);
        let q = lock(&self.queues.frames);
        st.queued = q.items.len();
        st.queued_bytes = q.bytes;
        st
    }

    /// Ends the session politely: DTLS close_notify (so the camera frees its session slot at once
    /// rather than after its idle timeout), waiting at most half a second for it to go out.
    pub async fn close(mut self) {
        self.shutdown();
        let _ = tokio::time::timeout(Duration::from_millis(500), &mut self.task).await;
    }

    /// Starts ending the session without waiting: the task sends close_notify and stops. Later
    /// requests fail as closed. Idempotent.
    pub fn shutdown(&self) {
        // Dropping the only stored command sender tells the task to say goodbye and stop.
        drop(self.ioctrl_tx.lock().unwrap_or_else(|e| e.into_inner()).take());
    }

    fn closed(&self) -> TransportError {
        match self.ended.lock().ok().and_then(|e| e.clone()) {
            Some(reason) if reason == "timeout" => TransportError::Timeout,
            Some(reason) => TransportError::Other(reason),
            None => TransportError::Closed,
        }
    }
}

impl ClientTransport for UdpClientTransport {
    async fn send_ioctrl(&self, ctrl_type: u32, data: Vec<u8>) -> Result<(), TransportError> {
        // A clone, so that no lock is held across the await.
        let tx = self.ioctrl_tx.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(tx) = tx else { return Err(self.closed()) };
        tx.send((ctrl_type, data)).await.map_err(|_| self.closed())
    }

    async fn recv_ioctrl(&self) -> Result<(u32, Vec<u8>), TransportError> {
        let _one = self.ioctrl_reader.lock().await;
        let got = pop(&self.queues.ioctrls, &self.queues.ioctrl_ready).await;
        got.ok_or_else(|| self.closed())
    }

    async fn recv_frame(&self) -> Result<MediaFrame, TransportError> {
        let _one = self.frame_reader.lock().await;
        let got = pop(&self.queues.frames, &self.queues.frame_ready).await;
        got.ok_or_else(|| self.closed())
    }

    fn set_media_wanted(&self, on: bool) {
        self.queues.media_wanted.store(on, Ordering::Relaxed);
        if !on {
            let mut q = lock(&self.queues.frames);
            q.items.clear();
            q.bytes = 0;
        }
    }
}

async fn recv_until(
    sock: &UdpSocket,
    buf: &mut [u8],
    until: Instant,
) -> std::io::Result<Option<(usize, SocketAddr)>> {
    match tokio::time::timeout_at(until.into(), sock.recv_from(buf)).await {
        Ok(Ok((n, src))) => {
            log_packet("received", src, &buf[..n]);
            Ok(Some((n, src)))
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Ok(None),
    }
}

/// Sends one datagram, logged at debug level (`-vv`).
async fn send(sock: &UdpSocket, d: &[u8], to: SocketAddr) -> std::io::Result<()> {
    log_packet("sent", to, d);
    sock.send_to(d, to).await.map(|_| ())
}

/// `-vv`: one line per datagram, with its first bytes.
fn log_packet(dir: &str, peer: SocketAddr, d: &[u8]) {
    if tracing::enabled!(tracing::Level::DEBUG) {
        let more = if d.len() > 32 { "..." } else { "" };
        tracing::debug!(
            "tutk: {dir} {} bytes ({peer}): {}{more}",
            d.len(),
            crate::auth::hex(&d[..d.len().min(32)])
        );
    }
}

/// Connects to the camera at `addr` (its IOTC port, 32761 on real cameras): discovery, session, DTLS,
/// AV login. Then run [`crate::WyzeSession::connect`] on the result for the K-command authentication.
/// Only `addr`'s IP is ever sent to; the camera's answers may come from another port, which is adopted.
pub async fn connect(
    addr: SocketAddr,
    uid: &str,
    enr: &str,
    mac: &str,
    options: ConnectOptions,
) -> Result<UdpClientTransport, TutkError> {
    let bind: SocketAddr = if addr.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let sock = UdpSocket::bind(bind).await?;
    let auth_key = options.auth_key.clone().unwrap_or_else(|| crate::auth::auth_key(enr, mac));
    let key = hmac_key(uid, &auth_key);
    let swap = options.tail_swap;
    let timeout = options.timeout;
    let sid: [u8; 8] = random_bytes();
    let uidb = uid_bytes(uid);
    let mut buf = vec![0u8; 65536];
    let overall = Instant::now() + options.overall_timeout;

    // Discovery: both probes every 100 ms until one flavour answers (go2rtc `discovery()`).
    let old_probe =
        OldPacket::Disco { response: false, stage: 1, uid: uidb, sid, auth_key: auth_key_bytes(&auth_key) }
            .encode(swap);
    let cc_probe = Cc51Packet::Disco { response: false, seq: 0, ticket: 0, sid }.encode(&key);
    let deadline = (Instant::now() + timeout).min(overall);
    let (mut peer, flavour) = 'disco: loop {
        if Instant::now() >= deadline {
            return Err(TutkError::DiscoveryTimeout { addr, after: timeout });
        }
        if options.firmware != Firmware::Cc51 {
            send(&sock, &old_probe, addr).await?;
        }
        if options.firmware != Firmware::Old {
            send(&sock, &cc_probe, addr).await?;
        }
        let tick = (Instant::now() + Duration::from_millis(100)).min(deadline);
        while let Some((n, src)) = recv_until(&sock, &mut buf, tick).await? {
            if src.ip() != addr.ip() {
                continue;
            }
            let d = &buf[..n];
            // As lenient as go2rtc's client: any OLD answer with the 0x0602 command; any CC51 0x1002
            // answer, without its HMAC, direction or sequence checked.
            if options.firmware != Firmware::Cc51
                && OldPacket::answer_command(d, swap) == Some(CMD_DISCO_RESP)
            {
                break 'disco (src, Framing::old(Side::Client, sid, swap));
            }
            if options.firmware != Firmware::Old
                && let Some((_, _, ticket, cam_sid)) = Cc51Packet::disco_answer(d)
            {
                if Cc51Packet::decode(d, &key).is_err() {
                    tracing::debug!(
                        "tutk: the camera's CC51 discovery answer does not authenticate; taken anyway"
                    );
                }
                break 'disco (src, Framing::cc51(Side::Client, cam_sid, key.clone(), ticket));
            }
        }
    };
    let firmware = flavour.firmware();
    tracing::debug!(%peer, firmware = firmware.name(), "tutk: camera answered discovery");

    // Session setup: OLD stage 2 + 0x0402 until 0x0404; CC51 seq 2 until seq 3.
    let setup = match firmware {
        Firmware::Old => {
            let stage2 =
                OldPacket::Disco { response: false, stage: 2, uid: uidb, sid, auth_key: [0; 8] }.encode(swap);
            send(&sock, &stage2, peer).await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            OldPacket::Session { response: false, uid: uidb, sid, time: now.as_secs() as u32 }.encode(swap)
        }
        _ => Cc51Packet::Disco { response: false, seq: 2, ticket: flavour.ticket(), sid: flavour.sid() }
            .encode(&key),
    };
    let deadline = (Instant::now() + timeout).min(overall);
    'setup: loop {
        if Instant::now() >= deadline {
            return Err(TutkError::SessionTimeout { addr, after: timeout });
        }
        send(&sock, &setup, peer).await?;
        let tick = (Instant::now() + Duration::from_millis(100)).min(deadline);
        while let Some((n, src)) = recv_until(&sock, &mut buf, tick).await? {
            if src.ip() != addr.ip() {
                continue;
            }
            let d = &buf[..n];
            // go2rtc: any 0x0404 answer (OLD); a 0x1002 answer with direction 0xFFFF and seq 3 (CC51).
            let done = match firmware {
                Firmware::Old => OldPacket::answer_command(d, swap) == Some(CMD_SESSION_RESP),
                _ => matches!(Cc51Packet::disco_answer(d), Some((true, 3, _, _))),
            };
            if done {
                // Sessions move to the answer's source port (go2rtc `reader()`).
                peer = src;
                break 'setup;
            }
        }
    }

    let now = Instant::now();
    let dtls = if options.dtls {
        let psk = options.psk.clone().unwrap_or_else(|| crate::auth::dtls_psk(enr).to_vec());
        Some(DtlsEndpoint::client(&psk).map_err(|e| TutkError::DtlsHandshake { detail: e.to_string() })?)
    } else {
        None
    };
    let mut link = Link::new(flavour, dtls, now);
    let dtls_err = |e: super::dtls::DtlsError| TutkError::DtlsHandshake { detail: e.to_string() };

    // DTLS handshake (OpenSSL retransmits its flights when ticked).
    let deadline = (Instant::now() + timeout).min(overall);
    while !link.ready() {
        if Instant::now() >= deadline {
            return Err(TutkError::DtlsHandshake {
                detail: format!("no handshake completion within {timeout:?}"),
            });
        }
        for d in link.tick(Instant::now()).map_err(dtls_err)?.datagrams {
            send(&sock, &d, peer).await?;
        }
        let tick = (Instant::now() + super::link::TICK).min(deadline);
        while let Some((n, src)) = recv_until(&sock, &mut buf, tick).await? {
            if src.ip() != addr.ip() {
                continue;
            }
            let out = link.on_datagram(&buf[..n], Instant::now()).map_err(dtls_err)?;
            if out.valid {
                peer = src;
            }
            for d in out.datagrams {
                send(&sock, &d, peer).await?;
            }
            if link.ready() {
                break;
            }
        }
    }

    // AV login: #1 and #2 10 ms apart, repeated every 500 ms until answered.
    let password = options
        .av_password
        .clone()
        .unwrap_or_else(|| crate::auth::av_password(enr, options.dtls).to_string());
    let random = u32::from_le_bytes(random_bytes());
    let deadline = (Instant::now() + timeout).min(overall);
    let mut early = Vec::new();
    'login: loop {
        if Instant::now() >= deadline {
            return Err(TutkError::AvLoginTimeout(timeout));
        }
        for second in [false, true] {
            for d in link
                .send_av(&encode_login(second, random, "admin", &password, options.resend))
                .map_err(dtls_err)?
            {
                send(&sock, &d, peer).await?;
            }
            if !second {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let tick = (Instant::now() + Duration::from_millis(500)).min(deadline);
        while let Some((n, src)) = recv_until(&sock, &mut buf, tick).await? {
            if src.ip() != addr.ip() {
                continue;
            }
            let out = link.on_datagram(&buf[..n], Instant::now()).map_err(dtls_err)?;
            for d in out.datagrams {
                send(&sock, &d, peer).await?;
            }
            for ev in out.events {
                match ev {
                    AvEvent::LoginResponse { ok: true } => break 'login,
                    AvEvent::LoginResponse { ok: false } => return Err(TutkError::AvLoginRefused),
                    other => early.push(other),
                }
            }
        }
    }
    let now = Instant::now();
    let ack = link.av.ack(now);
    for d in link.send_av(&ack).map_err(dtls_err)? {
        send(&sock, &d, peer).await?;
    }
    link.av.start_ticker(now);
    if options.resend {
        // Whether the camera honours it shows in the packets: both formats are accepted.
        link.av.enable_resend_receiver(options.resend_config.clone());
    }

    let (ioctrl_tx, cmd_rx) = mpsc::channel(64);
    let queues = Arc::new(Queues::new(&options));
    let ended = Arc::new(StdMutex::new(None));
    link.av.set_accept_media(false);
    let mut runner = Runner {
        sock,
        peer,
        ip: addr,
        link,
        queues: queues.clone(),
        ended: ended.clone(),
        idle: timeout,
        junk: Throttle::default(),
        full: Throttle::default(),
    };
    for ev in early {
        runner.deliver(ev);
    }
    let task = tokio::spawn(runner.run(cmd_rx));
    Ok(UdpClientTransport {
        ioctrl_tx: StdMutex::new(Some(ioctrl_tx)),
        ioctrl_reader: Mutex::new(()),
        frame_reader: Mutex::new(()),
        queues,
        ended,
        peer,
        firmware,
        task,
    })
}

struct Runner {
    sock: UdpSocket,
    peer: SocketAddr,
    ip: SocketAddr,
    link: Link,
    queues: Arc<Queues>,
    ended: Arc<StdMutex<Option<String>>>,
    idle: Duration,
    /// Datagrams from the camera's address that are not of this session.
    junk: Throttle,
    /// Queue overflows.
    full: Throttle,
}

impl Runner {
    fn deliver(&mut self, ev: AvEvent) {
        match ev {
            AvEvent::IoCtrl(t, d) => self.on_ioctrl(t, d),
            // A lagging consumer sees a frame_no gap rather than stalling the ACK flow.
            AvEvent::Frame(info, data) => {
                if !self.queues.media_wanted.load(Ordering::Relaxed) {
                    lock(&self.queues.stats).unwanted += 1;
                } else if self.queues.push_frame((info, data)) > 0 {
                    let n = lock(&self.queues.stats).dropped;
                    warn_throttled!(self.full, "tutk: frame queue full, oldest frames dropped ({n} so far)");
                }
            }
            _ => {}
        }
    }

    fn on_ioctrl(&mut self, t: u32, d: Vec<u8>) {
        if !self.queues.push_ioctrl((t, d)) {
            let n = lock(&self.queues.stats).ioctrl_dropped;
            warn_throttled!(self.full, "tutk: ioctrl queue full, dropping a message ({n} so far)");
        }
    }

    /// Mirrors the media switch and the reassembler's counters into the shared state.
    fn sync_media(&mut self) {
        self.link.av.set_accept_media(self.queues.media_wanted.load(Ordering::Relaxed));
        let mut st = lock(&self.queues.stats);
        st.unwanted_packets = self.link.av.media_ignored();
        st.oversized = self.link.av.reassembly().oversized;
        st.incomplete = self.link.av.reassembly().incomplete;
        st.resend = self.link.av.resend_stats();
    }

    async fn send_all(&self, ds: Vec<Vec<u8>>) -> std::io::Result<()> {
        for d in ds {
            send(&self.sock, &d, self.peer).await?;
        }
        Ok(())
    }

    async fn run(mut self, mut cmds: mpsc::Receiver<(u32, Vec<u8>)>) {
        let reason = self.run_inner(&mut cmds).await;
        let junk = self.junk.suppressed();
        if junk > 0 {
            tracing::warn!("tutk: {junk} more datagrams not of this session were ignored (not shown)");
        }
        if let Ok(mut e) = self.ended.lock() {
            *e = Some(reason);
        }
        self.queues.close();
    }

    async fn run_inner(&mut self, cmds: &mut mpsc::Receiver<(u32, Vec<u8>)>) -> String {
        let mut buf = vec![0u8; 65536];
        let mut last_heard = Instant::now();
        loop {
            let now = Instant::now();
            if now.duration_since(last_heard) > self.idle {
                return "timeout".into();
            }
            let deadline = self.link.deadline(now);
            tokio::select! {
                r = self.sock.recv_from(&mut buf) => {
                    let (n, src) = match r {
                        Ok(x) => x,
                        Err(e) => return format!("UDP: {e}"),
                    };
                    log_packet("received", src, &buf[..n]);
                    if src.ip() != self.ip.ip() {
                        continue;
                    }
                    self.sync_media();
                    match self.link.on_datagram(&buf[..n], Instant::now()) {
                        Ok(out) => {
                            if out.valid {
                                last_heard = Instant::now();
                                self.peer = src;
                            } else {
                                warn_throttled!(
                                    self.junk,
                                    "tutk: ignoring a {n}-byte datagram from {src} that is not of this session: {}",
                                    shown(&buf[..n], 32)
                                );
                            }
                            if let Err(e) = self.send_all(out.datagrams).await {
                                return format!("UDP: {e}");
                            }
                            for ev in out.events {
                                self.deliver(ev);
                            }
                        }
                        Err(super::dtls::DtlsError::Closed) => return "camera closed the session".into(),
                        Err(e) => return e.to_string(),
                    }
                }
                cmd = cmds.recv() => match cmd {
                    Some((t, data)) => match self.link.send_ioctrl(t, &data, Instant::now()) {
                        Ok(ds) => {
                            if let Err(e) = self.send_all(ds).await {
                                return format!("UDP: {e}");
                            }
                        }
                        Err(e) => return e.to_string(),
                    },
                    None => {
                        let bye = self.link.close();
                        let _ = self.send_all(bye).await;
                        return "closed".into();
                    }
                },
                _ = tokio::time::sleep_until(deadline.into()) => match self.link.tick(Instant::now()) {
                    Ok(out) => {
                        self.sync_media();
                        if let Err(e) = self.send_all(out.datagrams).await {
                            return format!("UDP: {e}");
                        }
                        for ev in out.events {
                            self.deliver(ev);
                        }
                    }
                    Err(e) => return e.to_string(),
                },
            }
        }
    }
}

/// TUTK LAN search (OLD firmware): broadcasts the stage-1 discovery request for `uid` (with the
/// AuthKey of `enr` and `mac`) from `local` to `broadcast` (normally `x.x.x.255:32761`) every 100 ms
/// for `timeout`, and returns the addresses of the cameras that answered. NEW (CC51) firmware does not
/// answer this probe. Sends only to `broadcast`.
pub async fn lan_search(
    local: std::net::IpAddr,
    broadcast: SocketAddr,
    uid: &str,
    enr: &str,
    mac: &str,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, TutkError> {
    let sock = UdpSocket::bind(SocketAddr::new(local, 0)).await?;
    sock.set_broadcast(true)?;
    let tail_swap = TailSwap::default();
    let uid_b = super::uid_bytes(uid);
    let probe = OldPacket::Disco {
        response: false,
        stage: 1,
        uid: uid_b,
        sid: super::random_bytes(),
        auth_key: super::auth_key_bytes(&crate::auth::auth_key(enr, mac)),
    }
    .encode(tail_swap);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut next_probe = tokio::time::Instant::now();
    let mut found: Vec<SocketAddr> = Vec::new();
    let mut buf = vec![0u8; 2048];
    loop {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(found);
        }
        if now >= next_probe {
            sock.send_to(&probe, broadcast).await?;
            next_probe = now + Duration::from_millis(100);
        }
        let wait = next_probe.min(deadline);
        match tokio::time::timeout_at(wait, sock.recv_from(&mut buf)).await {
            Ok(Ok((n, src))) => {
                if let Ok(OldPacket::Disco { response: true, uid, .. }) =
                    OldPacket::decode(&buf[..n], tail_swap)
                    && uid == uid_b
                    && !found.contains(&src)
                {
                    found.push(src);
                }
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {}
        }
    }
}
