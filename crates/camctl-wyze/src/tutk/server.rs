//! The camera role over tokio UDP: answers discovery in one flavour, runs the DTLS server and the AV
//! login, and drives part 1's [`Emulator`] per session through a [`crate::CameraTransport`].
//!
//! Discovery is answered from the bound ("IOTC") socket; established sessions talk from a second,
//! ephemeral socket, as real cameras do (clients must follow the port change). Datagrams of a session
//! are accepted on either socket.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::av::{AvEvent, encode_login_response};
use super::cc51::{Cc51Packet, hmac_key};
use super::dtls::DtlsEndpoint;
use super::framing::{Framing, Side};
use super::link::Link;
use super::old::OldPacket;
use super::resend::ResendConfig;
use super::transcode::TailSwap;
use super::{Firmware, auth_key_bytes, random_bytes, uid_bytes};
use crate::transport::MediaFrame;
use crate::{Emulator, EmulatorConfig};

/// Configuration of a [`TutkServer`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The 20-character UID.
    pub uid: String,
    /// ENR (PSK, AV password, AuthKey).
    pub enr: String,
    /// MAC (AuthKey).
    pub mac: String,
    /// Discovery flavour (`Auto` is treated as `Cc51`).
    pub firmware: Firmware,
    /// Concurrent sessions; further clients get no discovery answer (default 2).
    pub max_sessions: usize,
    /// DTLS on channel 0 (default true).
    pub dtls: bool,
    /// Refuse AV logins whose password is not [`crate::auth::av_password`] (default false: what real
    /// cameras do on a wrong password is undocumented; the K-auth rejects a wrong ENR anyway).
    pub check_av_password: bool,
    /// A session ends after this long without a valid datagram (default 10 s).
    pub idle_timeout: Duration,
    /// A session that has not completed DTLS and the AV login this long after it started ends, and
    /// its slot is free again (default 10 s).
    pub handshake_timeout: Duration,
    /// How long a completed keyed discovery (OLD stage 1 with the right AuthKey) entitles its
    /// address and session id to a session request (default 10 s).
    pub discovery_validity: Duration,
    /// Camera keepalive period (default 1 s).
    pub keepalive: Duration,
    /// OLD-flavour tail swap.
    pub tail_swap: TailSwap,
    /// The message-layer camera (settings, clip, pacing).
    pub emulator: EmulatorConfig,
    /// Also answer LAN search broadcasts sent to this address (the broadcast address of the listen
    /// interface; a socket bound to a unicast address never sees them). OLD firmware only: NEW (CC51)
    /// cameras do not answer the OLD LAN-search probe.
    pub lan_search_addr: Option<std::net::IpAddr>,
    /// Send media in the resend format to clients whose AV login asks for it (default true; false
    /// plays a camera without resend support, which sends the direct format whatever was asked).
    pub allow_resend: bool,
    /// Resend-mode history, retransmission limits and frame-index period.
    pub resend: ResendConfig,
}

impl ServerConfig {
    /// Defaults for a camera with these identifiers.
    pub fn new(uid: &str, enr: &str, mac: &str) -> Self {
        ServerConfig {
            uid: uid.into(),
            enr: enr.into(),
            mac: mac.into(),
            firmware: Firmware::Cc51,
            max_sessions: 2,
            dtls: true,
            check_av_password: false,
            idle_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            discovery_validity: Duration::from_secs(10),
            keepalive: Duration::from_secs(1),
            tail_swap: TailSwap::default(),
            emulator: EmulatorConfig::new(enr, mac),
            lan_search_addr: None,
            allow_resend: true,
            resend: ResendConfig::default(),
        }
    }
}

type Sessions = Arc<StdMutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>;

/// Peers that completed the keyed discovery and may ask for a session, bounded.
#[derive(Debug, Default)]
struct Admitted {
    by_peer: HashMap<SocketAddr, ([u8; 8], Instant)>,
}

/// Pending admissions kept at most (one per discovering peer; the oldest go first).
const MAX_ADMITTED: usize = 64;

impl Admitted {
    fn admit(&mut self, peer: SocketAddr, sid: [u8; 8], validity: Duration) {
        let now = Instant::now();
        self.by_peer.retain(|_, (_, until)| *until > now);
        if self.by_peer.len() >= MAX_ADMITTED && !self.by_peer.contains_key(&peer) {
            let oldest = self.by_peer.iter().min_by_key(|(_, (_, until))| *until).map(|(p, _)| *p);
            if let Some(p) = oldest {
                self.by_peer.remove(&p);
            }
        }
        self.by_peer.insert(peer, (sid, now + validity));
    }

    /// Whether `peer` completed discovery with session id `sid` recently; consumes the admission.
    fn take(&mut self, peer: SocketAddr, sid: [u8; 8]) -> bool {
        match self.by_peer.get(&peer) {
            Some((s, until)) if *s == sid && *until > Instant::now() => {
                self.by_peer.remove(&peer);
                true
            }
            _ => false,
        }
    }
}

/// An emulated TUTK camera on UDP.
#[derive(Debug)]
pub struct TutkServer {
    main: Arc<UdpSocket>,
    session: Arc<UdpSocket>,
    /// Bound to the broadcast address, for LAN search.
    broadcast: Option<UdpSocket>,
    config: Arc<ServerConfig>,
    emulator: Emulator,
    stats: Arc<Counters>,
}

/// What a [`TutkServer`] sent, all sessions together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Video frames handed to the network.
    pub video_frames: u64,
    /// Audio frames handed to the network.
    pub audio_frames: u64,
    /// Media packets sent (first transmissions).
    pub packets: u64,
    /// Sessions whose client asked for resend and got it.
    pub resend_sessions: u64,
    /// Packets retransmitted on request.
    pub retransmitted: u64,
    /// IOCTRL replies sent again for want of an ACK (a client reading ACKs another way makes these).
    pub ioctrl_resent: u64,
    /// IOCTRL replies waiting for an ACK now, over every session.
    pub ioctrl_unacked: u64,
}

#[derive(Debug, Default)]
struct Counters {
    video_frames: AtomicU64,
    audio_frames: AtomicU64,
    packets: AtomicU64,
    resend_sessions: AtomicU64,
    retransmitted: AtomicU64,
    ioctrl_resent: AtomicU64,
    ioctrl_unacked: AtomicU64,
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

impl TutkServer {
    /// Binds the IOTC socket at `addr` (and a session socket on the same IP).
    pub async fn bind(addr: SocketAddr, config: ServerConfig) -> std::io::Result<Self> {
        let main = UdpSocket::bind(addr).await?;
        let session = UdpSocket::bind(SocketAddr::new(main.local_addr()?.ip(), 0)).await?;
        let broadcast = match config.lan_search_addr {
            Some(ip) if config.firmware == Firmware::Old => {
                Some(UdpSocket::bind(SocketAddr::new(ip, main.local_addr()?.port())).await?)
            }
            _ => None,
        };
        let emulator = Emulator::new(config.emulator.clone());
        Ok(TutkServer {
            main: Arc::new(main),
            session: Arc::new(session),
            broadcast,
            config: Arc::new(config),
            emulator,
            stats: Arc::default(),
        })
    }

    /// A handle on the counters of what this server sends; take it before [`TutkServer::serve`].
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle(self.stats.clone())
    }

    /// The IOTC socket's address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.main.local_addr()
    }

    /// The part-1 emulator (for [`Emulator::handle`]).
    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// `wyze://HOST:PORT?uid=..&enr=..&mac=..&model=..&dtls=true|false`: go2rtc refuses a Wyze URL
    /// without `dtls=true`, so the printed URL works there as it is.
    pub fn url(&self) -> std::io::Result<String> {
        let a = self.local_addr()?;
        let c = &self.config;
        let mut u = format!(
            "wyze://{a}?uid={}&enr={}&mac={}&model={}",
            pct(&c.uid),
            pct(&c.enr),
            pct(&c.mac),
            pct(&c.emulator.model)
        );
        u.push_str(if c.dtls { "&dtls=true" } else { "&dtls=false" });
        Ok(u)
    }

    /// Serves until the socket fails.
    pub async fn serve(self) -> std::io::Result<()> {
        let sessions: Sessions = Arc::default();
        let c = self.config.clone();
        let auth_key = crate::auth::auth_key(&c.enr, &c.mac);
        let key = hmac_key(&c.uid, &auth_key);
        let uid = uid_bytes(&c.uid);
        let mut tickets: HashMap<SocketAddr, (u16, [u8; 8])> = HashMap::new();
        let mut admitted = Admitted::default();
        let mut refused = camctl_core::log::Throttle::default();
        // `-v` lines about refused discoveries: a flood of them gives a few lines, then a count.
        let mut info_throttle = camctl_core::log::Throttle::default();
        let mut note = |src: SocketAddr, what: &str| {
            if let Some(skipped) = info_throttle.allow() {
                let more =
                    if skipped > 0 { format!(" ({skipped} more like it not shown)") } else { String::new() };
                tracing::info!(%src, "tutk: {what}{more}");
            }
        };
        let (mut b1, mut b2, mut b3) = (vec![0u8; 65536], vec![0u8; 65536], vec![0u8; 2048]);
        loop {
            // 0 = main socket, 1 = session socket, 2 = LAN-search broadcasts (answered from main).
            let (n, src, which) = tokio::select! {
                r = self.main.recv_from(&mut b1) => { let (n, s) = r?; (n, s, 0) }
                r = self.session.recv_from(&mut b2) => { let (n, s) = r?; (n, s, 1) }
                r = async { self.broadcast.as_ref()?.recv_from(&mut b3).await.ok() }, if self.broadcast.is_some() => {
                    match r { Some((n, s)) => (n, s, 2), None => continue }
                }
            };
            let d = match which {
                0 => &b1[..n],
                1 => &b2[..n],
                _ => &b3[..n],
            };
            let existing = sessions.lock().ok().and_then(|s| s.get(&src).cloned());
            if let Some(tx) = existing {
                // A full queue drops the datagram: UDP semantics, and it costs only that session.
                let _ = tx.try_send(d.to_vec());
                continue;
            }
            let count = sessions.lock().map(|s| s.len()).unwrap_or(usize::MAX);
            let full = count >= c.max_sessions;
            if c.firmware == Firmware::Old {
                match OldPacket::decode(d, c.tail_swap) {
                    Ok(OldPacket::Disco { response: false, stage, uid: u, sid, auth_key: ak })
                        if u == uid =>
                    {
                        if stage == 1 && ak != auth_key_bytes(&auth_key) {
                            note(src, "discovery with a wrong AuthKey ignored");
                            continue;
                        }
                        if full {
                            note(src, "session limit reached, discovery ignored");
                            continue;
                        }
                        if stage == 1 {
                            admitted.admit(src, sid, c.discovery_validity);
                        }
                        let answer = OldPacket::Disco { response: true, stage, uid, sid, auth_key: [0; 8] };
                        self.main.send_to(&answer.encode(c.tail_swap), src).await?;
                    }
                    Ok(OldPacket::Session { response: false, uid: u, sid, time }) if u == uid && !full => {
                        // Only a peer that proved it knows the AuthKey (ENR + MAC) gets a slot: the UID
                        // alone is no secret (it is printed on the camera and sent in the clear).
                        if !admitted.take(src, sid) {
                            camctl_core::warn_throttled!(
                                refused,
                                "tutk: session request from {src} without a keyed discovery ignored"
                            );
                            continue;
                        }
                        let reply = OldPacket::Session { response: true, uid, sid, time }.encode(c.tail_swap);
                        let framing = Framing::old(Side::Camera, sid, c.tail_swap);
                        self.start_session(&sessions, src, framing, reply).await?;
                    }
                    Ok(other) => tracing::debug!(%src, ?other, "tutk: ignoring packet"),
                    Err(e) => tracing::debug!(%src, "tutk: ignoring datagram: {e}"),
                }
            } else {
                match Cc51Packet::decode(d, &key) {
                    Ok(Cc51Packet::Disco { response: false, seq: 0, sid, .. }) => {
                        if full {
                            note(src, "session limit reached, discovery ignored");
                            continue;
                        }
                        if tickets.len() > 64 {
                            tickets.clear();
                        }
                        let ticket = tickets
                            .entry(src)
                            .or_insert_with(|| (u16::from_le_bytes(random_bytes()) | 1, sid))
                            .0;
                        let answer = Cc51Packet::Disco { response: true, seq: 1, ticket, sid };
                        self.main.send_to(&answer.encode(&key), src).await?;
                    }
                    Ok(Cc51Packet::Disco { response: false, seq: 2, ticket, sid }) if !full => {
                        if tickets.get(&src).map(|t| t.0) != Some(ticket) {
                            tracing::debug!(%src, "tutk: unknown ticket");
                            continue;
                        }
                        tickets.remove(&src);
                        let reply = Cc51Packet::Disco { response: true, seq: 3, ticket, sid }.encode(&key);
                        let framing = Framing::cc51(Side::Camera, sid, key.clone(), ticket);
                        self.start_session(&sessions, src, framing, reply).await?;
                    }
                    Ok(other) => tracing::debug!(%src, ?other, "tutk: ignoring packet"),
                    Err(e) => tracing::debug!(%src, "tutk: ignoring datagram: {e}"),
                }
            }
        }
    }

    async fn start_session(
        &self,
        sessions: &Sessions,
        peer: SocketAddr,
        framing: Framing,
        setup_reply: Vec<u8>,
    ) -> std::io::Result<()> {
        let c = &self.config;
        self.session.send_to(&setup_reply, peer).await?;
        let dtls = if c.dtls {
            match DtlsEndpoint::server(&crate::auth::dtls_psk(&c.enr)) {
                Ok(d) => Some(d),
                Err(e) => {
                    tracing::warn!("tutk: {e}");
                    return Ok(());
                }
            }
        } else {
            None
        };
        let (tx, rx) = mpsc::channel(256);
        if let Ok(mut s) = sessions.lock() {
            s.insert(peer, tx);
        }
        tracing::info!(%peer, "tutk: session started");
        // Small frame queue: the emulator's send_frame waits while the session pushes packets (backpressure).
        let (transport, channels) = crate::transport::camera_channels(2);
        let emulator = self.emulator.clone();
        let session = Session {
            sock: self.session.clone(),
            peer,
            link: Link::new(framing, dtls, Instant::now()),
            setup_reply,
            config: self.config.clone(),
            ioctrl_in: channels.ioctrl_in,
            logged_in: false,
            throttle: camctl_core::log::Throttle::default(),
            stats: self.stats.clone(),
            retransmitted: 0,
            ioctrl: (0, 0),
        };
        let sessions = sessions.clone();
        tokio::spawn(async move {
            let emu = tokio::spawn(emulator.serve(transport));
            let reason = session.run(rx, channels.ioctrl_out, channels.frames).await;
            tracing::info!(%peer, "tutk: session ended: {reason}");
            if let Ok(mut s) = sessions.lock() {
                s.remove(&peer);
            }
            emu.abort();
        });
        Ok(())
    }
}

/// Reads a [`TutkServer`]'s counters.
#[derive(Debug, Clone)]
pub struct StatsHandle(Arc<Counters>);

impl StatsHandle {
    /// The counters now.
    pub fn get(&self) -> ServerStats {
        let c = &self.0;
        ServerStats {
            video_frames: c.video_frames.load(Ordering::Relaxed),
            audio_frames: c.audio_frames.load(Ordering::Relaxed),
            packets: c.packets.load(Ordering::Relaxed),
            resend_sessions: c.resend_sessions.load(Ordering::Relaxed),
            retransmitted: c.retransmitted.load(Ordering::Relaxed),
            ioctrl_resent: c.ioctrl_resent.load(Ordering::Relaxed),
            ioctrl_unacked: c.ioctrl_unacked.load(Ordering::Relaxed),
        }
    }
}

/// The camera end of one session's AV channel, handed to part 1's [`Emulator`]: the in-memory camera
/// end, whose other side the session moves over UDP.
pub type UdpCameraTransport = crate::transport::MemoryCamera;

struct Session {
    sock: Arc<UdpSocket>,
    peer: SocketAddr,
    link: Link,
    setup_reply: Vec<u8>,
    config: Arc<ServerConfig>,
    ioctrl_in: mpsc::Sender<(u32, Vec<u8>)>,
    logged_in: bool,
    throttle: camctl_core::log::Throttle,
    stats: Arc<Counters>,
    /// This session's retransmissions already added to `stats`.
    retransmitted: u64,
    /// This session's IOCTRL resends and unacknowledged replies already in `stats`.
    ioctrl: (u64, usize),
}

impl Drop for Session {
    fn drop(&mut self) {
        // A session gone has nothing waiting for an ACK any more.
        self.stats.ioctrl_unacked.fetch_sub(self.ioctrl.1 as u64, Ordering::Relaxed);
    }
}

impl Session {
    /// Brings the shared IOCTRL counters up to date with this session's.
    fn count_ioctrl(&mut self) {
        let (resent, unacked) = self.link.av.ioctrl_resends();
        let (counted_resent, counted_unacked) = self.ioctrl;
        self.stats.ioctrl_resent.fetch_add(resent - counted_resent, Ordering::Relaxed);
        self.stats.ioctrl_unacked.fetch_add(unacked as u64, Ordering::Relaxed);
        self.stats.ioctrl_unacked.fetch_sub(counted_unacked as u64, Ordering::Relaxed);
        self.ioctrl = (resent, unacked);
    }

    async fn send_all(&self, ds: Vec<Vec<u8>>) -> std::io::Result<()> {
        for d in ds {
            self.sock.send_to(&d, self.peer).await?;
        }
        Ok(())
    }

    fn on_events(&mut self, events: Vec<AvEvent>) -> Result<Vec<Vec<u8>>, String> {
        let mut out = Vec::new();
        for ev in events {
            match ev {
                AvEvent::Login { random, username, password, resend } => {
                    let expected = crate::auth::av_password(&self.config.enr, self.config.dtls);
                    let ok = !self.config.check_av_password || (username == "admin" && password == expected);
                    if !ok {
                        tracing::info!(peer = %self.peer, "tutk: AV login with a wrong password refused");
                    }
                    // The camera follows what the login asked (once: logins come twice).
                    if ok && resend && self.config.allow_resend && self.link.av.resend_sender().is_none() {
                        self.link.av.enable_resend_sender(self.config.resend.clone());
                        self.stats.resend_sessions.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(peer = %self.peer, "tutk: client asked for resend mode");
                    }
                    self.logged_in |= ok;
                    let resp = encode_login_response(ok, random, false);
                    out.extend(self.link.send_av(&resp).map_err(|e| e.to_string())?);
                }
                AvEvent::IoCtrl(t, d) if self.logged_in => {
                    let full = self.ioctrl_in.try_send((t, d)).is_err();
                    if full {
                        camctl_core::warn_throttled!(
                            self.throttle,
                            "tutk: emulator ioctrl queue full, dropping a message from {}",
                            self.peer
                        );
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    async fn run(
        mut self,
        mut datagrams: mpsc::Receiver<Vec<u8>>,
        mut ioctrl_out: mpsc::Receiver<(u32, Vec<u8>)>,
        mut frames: mpsc::Receiver<MediaFrame>,
    ) -> String {
        let started = Instant::now();
        let mut last_heard = started;
        let mut next_keepalive = started + self.config.keepalive;
        loop {
            let now = Instant::now();
            if now.duration_since(last_heard) > self.config.idle_timeout {
                return "client silent (idle timeout)".into();
            }
            let handshaking = !(self.link.ready() && self.logged_in);
            if handshaking && now.duration_since(started) > self.config.handshake_timeout {
                return "no DTLS handshake and AV login in time (handshake timeout)".into();
            }
            if now >= next_keepalive {
                next_keepalive = now + self.config.keepalive;
                let ka = self.link.framing.keepalive();
                if let Err(e) = self.send_all(vec![ka]).await {
                    return format!("UDP: {e}");
                }
            }
            let mut deadline = self.link.deadline(now).min(next_keepalive);
            if handshaking {
                deadline = deadline.min(started + self.config.handshake_timeout);
            }
            let ready = self.link.ready() && self.logged_in;
            let step: Result<Vec<Vec<u8>>, String> = tokio::select! {
                d = datagrams.recv() => match d {
                    None => return "server stopped".into(),
                    Some(d) => match self.link.on_datagram(&d, Instant::now()) {
                        Ok(out) => {
                            if out.valid {
                                last_heard = Instant::now();
                            }
                            let mut ds = out.datagrams;
                            // A retransmitted setup packet means our answer was lost.
                            if !self.link.ready() && out.events.is_empty() && out.valid && d.len() <= 64 {
                                ds.push(self.setup_reply.clone());
                            }
                            self.on_events(out.events).map(|mut more| { ds.append(&mut more); ds })
                        }
                        Err(super::dtls::DtlsError::Closed) => return "client closed the session".into(),
                        Err(e) => return e.to_string(),
                    },
                },
                m = ioctrl_out.recv(), if ready => match m {
                    None => return "emulator stopped".into(),
                    Some((t, data)) => self.link.send_ioctrl(t, &data, Instant::now()).map_err(|e| e.to_string()),
                },
                f = frames.recv(), if ready => match f {
                    None => return "emulator stopped".into(),
                    Some((info, data)) => match self.link.av.send_frame(&info, &data, Instant::now()) {
                        Ok(pkts) => {
                            let kind = if crate::wire::codec::is_audio(info.codec_id) { &self.stats.audio_frames } else { &self.stats.video_frames };
                            kind.fetch_add(1, Ordering::Relaxed);
                            self.stats.packets.fetch_add(pkts.len() as u64, Ordering::Relaxed);
                            let mut ds = Vec::new();
                            for p in pkts {
                                match self.link.send_av(&p) {
                                    Ok(mut d) => ds.append(&mut d),
                                    Err(e) => return e.to_string(),
                                }
                            }
                            Ok(ds)
                        }
                        Err(e) => { camctl_core::warn_throttled!(self.throttle, "tutk: frame not sent: {e}"); Ok(vec![]) }
                    },
                },
                _ = tokio::time::sleep_until(deadline.into()) => match self.link.tick(Instant::now()) {
                    Ok(out) => self.on_events(out.events).map(|mut more| { let mut ds = out.datagrams; ds.append(&mut more); ds }),
                    Err(e) => return e.to_string(),
                },
            };
            let retransmitted = self.link.av.resend_stats().retransmitted;
            if retransmitted > self.retransmitted {
                self.stats.retransmitted.fetch_add(retransmitted - self.retransmitted, Ordering::Relaxed);
                self.retransmitted = retransmitted;
            }
            self.count_ioctrl();
            match step {
                Ok(ds) => {
                    if let Err(e) = self.send_all(ds).await {
                        return format!("UDP: {e}");
                    }
                }
                Err(e) => return e,
            }
        }
    }
}
