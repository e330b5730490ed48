//! A small RTSP 1.0 server for emulated cameras' live view: one H.264 stream, looped from an embedded
//! clip and paced in real time, to any number of viewers.
//!
//! * Methods: OPTIONS, DESCRIBE (SDP with `sprop-parameter-sets`, `profile-level-id`,
//!   `packetization-mode=1`, `a=control`), SETUP (`RTP/AVP/TCP` interleaved or `RTP/AVP` UDP unicast),
//!   PLAY (with `RTP-Info`), GET_PARAMETER and OPTIONS as keepalives, TEARDOWN. Requests are parsed by
//!   the `rtsp-types` crate.
//! * RTP per RFC 6184 (single NAL unit packets and FU-A, 90 kHz timestamps, marker on the last packet of
//!   an access unit), an RTCP sender report every few seconds, a BYE when the stream ends.
//! * UDP goes only to the address of the peer that asked for it (its `destination` is ignored), from
//!   one socket pair shared by all viewers.
//! * Fan-out: the [`LiveSource`] broadcasts each access unit once through a bounded queue; a viewer that
//!   falls behind skips to the next keyframe instead of slowing the others.
//! * Bounds: a connection cap, a request size cap ([`RtspConfig::max_request`]: larger requests get
//!   `413` and a closed connection), an idle timeout (no byte from the peer on its RTSP connection for
//!   that long closes it; clients keep sessions alive with GET_PARAMETER/OPTIONS, as ffmpeg and retina
//!   do; RTCP receiver reports over UDP are not read, so they do not count), and
//!   unparsable input gets `400` and a closed connection. Nothing a peer sends can panic it.
//! * While the source is off ([`LiveSource::stop`]), DESCRIBE and PLAY answer `503 Service
//!   Unavailable`; viewers playing when it stops get an RTCP BYE and their session ends (an interleaved
//!   viewer's connection is closed, which is how RTSP players learn that a live stream ended).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use camctl_core::rtsp::{LiveSource, RtspConfig, RtspServer};
//! use camctl_core::video::{SAMPLE_480P, SAMPLE_FPS};
//! let source = LiveSource::from_clip(SAMPLE_480P, SAMPLE_FPS, 30)?;
//! source.start();
//! let server = RtspServer::bind("127.0.0.1:0".parse().unwrap(), source, RtspConfig::default()).await?;
//! println!("{}", server.url());
//! server.serve_until(std::future::pending()).await;
//! # Ok(()) }
//! ```

use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use rtsp_types::headers::{self, RtpLowerTransport, RtpProfile, Transport as RtspTransport, Transports};
use rtsp_types::{Message, Method, ParseError, Request, Response, StatusCode, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use crate::serve::{Admission, Handler, timed_io};
use crate::video::{self, VideoError, nal_type};

/// The standard RTSP port.
pub const DEFAULT_RTSP_PORT: u16 = 554;

/// RTP payload type of the video (dynamic range).
pub const PAYLOAD_TYPE: u8 = 96;

/// RTP clock of H.264 video (RFC 6184 §8.2.1).
const CLOCK_RATE: u64 = 90_000;

/// How often a playing viewer gets an RTCP sender report.
const SENDER_REPORT_EVERY: Duration = Duration::from_secs(5);

/// Limits and names of an [`RtspServer`].
#[derive(Debug, Clone)]
pub struct RtspConfig {
    /// The stream's path (`/live` on a Yi); its track is `PATH/trackID=0`.
    pub path: String,
    /// Connections served at once by [`RtspServer::serve_until`]; extras are closed on accept.
    pub max_connections: usize,
    /// Largest request (headers and body) accepted.
    pub max_request: usize,
    /// A connection is closed after this long without a byte from the peer (zero = never); also the
    /// session timeout announced in SETUP.
    pub idle_timeout: Duration,
    /// Largest RTP payload (16 to 65523 bytes); bigger NAL units are split into FU-A fragments.
    pub max_payload: usize,
}

impl Default for RtspConfig {
    fn default() -> Self {
        RtspConfig {
            path: "/live".into(),
            max_connections: crate::serve::DEFAULT_MAX_CONNECTIONS,
            max_request: 8 * 1024,
            idle_timeout: crate::serve::DEFAULT_IDLE_TIMEOUT,
            // Fits a 1500-byte Ethernet MTU with IP, UDP and RTP headers to spare.
            max_payload: 1400,
        }
    }
}

/// One picture ready to packetize: its NAL units without start codes (delimiters left out).
#[derive(Debug)]
struct AccessUnit {
    nals: Vec<Vec<u8>>,
    keyframe: bool,
}

/// An access unit with its presentation time (90 kHz ticks since the source started).
#[derive(Debug, Clone)]
struct Tick {
    unit: Arc<AccessUnit>,
    pts: u64,
}

/// A clip looped in real time while switched on, broadcast to every viewer. Cheap to clone (all clones
/// are the same source).
#[derive(Clone)]
pub struct LiveSource {
    inner: Arc<SourceInner>,
}

struct SourceInner {
    units: Arc<[Arc<AccessUnit>]>,
    fps: u32,
    sps: Vec<u8>,
    pps: Vec<u8>,
    width: u32,
    height: u32,
    frames: broadcast::Sender<Tick>,
    /// `Some(generation)` while on; every start makes a new generation, so viewers of an earlier one
    /// end even after a quick stop/start.
    state: watch::Sender<Option<u64>>,
    generation: AtomicU64,
    pacer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for SourceInner {
    fn drop(&mut self) {
        if let Some(task) = self.pacer.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
    }
}

impl LiveSource {
    /// A source looping `clip` (Annex-B H.264 starting with a keyframe, SPS and PPS in band, no
    /// B-frames) at `fps`; `queue_frames` frames are kept for each viewer before a slow one drops some.
    pub fn from_clip(clip: &[u8], fps: u32, queue_frames: usize) -> Result<LiveSource, VideoError> {
        if fps == 0 {
            return Err(VideoError::BadClip("zero frame rate"));
        }
        let find = |t| video::nal_units(clip).find(|n| n.nal_type() == t).map(|n| n.bytes().to_vec());
        let sps = find(nal_type::SPS).ok_or(VideoError::BadClip("no SPS"))?;
        let pps = find(nal_type::PPS).ok_or(VideoError::BadClip("no PPS"))?;
        let info = video::parse_sps(&sps)?;
        let units: Vec<Arc<AccessUnit>> = video::frames(clip)
            .skip_while(|f| !f.keyframe)
            .map(|f| {
                let nals = f
                    .nals
                    .iter()
                    .filter(|n| n.nal_type() != nal_type::AUD)
                    .map(|n| n.bytes().to_vec())
                    .collect();
                Arc::new(AccessUnit { nals, keyframe: f.keyframe })
            })
            .collect();
        if units.is_empty() {
            return Err(VideoError::BadClip("no keyframe"));
        }
        let (frames, _) = broadcast::channel(queue_frames.max(1));
        let (state, _) = watch::channel(None);
        Ok(LiveSource {
            inner: Arc::new(SourceInner {
                units: units.into(),
                fps,
                sps,
                pps,
                width: info.width,
                height: info.height,
                frames,
                state,
                generation: AtomicU64::new(0),
                pacer: Mutex::new(None),
            }),
        })
    }

    /// Starts streaming (from the clip's first keyframe); does nothing when already on. Must be called
    /// inside a Tokio runtime (it spawns the pacing task).
    pub fn start(&self) {
        let mut pacer = self.inner.pacer.lock().unwrap_or_else(|e| e.into_inner());
        if pacer.is_some() {
            return;
        }
        let generation = self.inner.generation.fetch_add(1, Ordering::Relaxed) + 1;
        self.inner.state.send_replace(Some(generation));
        let (units, frames, fps) = (Arc::clone(&self.inner.units), self.inner.frames.clone(), self.inner.fps);
        *pacer = Some(tokio::spawn(async move {
            let mut clock = tokio::time::interval(Duration::from_secs(1) / fps);
            for n in 0u64.. {
                clock.tick().await;
                let unit = Arc::clone(&units[(n % units.len() as u64) as usize]);
                // No viewer is not an error: the frame is simply not seen.
                let _ = frames.send(Tick { unit, pts: n * CLOCK_RATE / u64::from(fps) });
            }
        }));
    }

    /// Stops streaming; viewers playing get a BYE and their session ends. Does nothing when off.
    pub fn stop(&self) {
        let mut pacer = self.inner.pacer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(task) = pacer.take() {
            task.abort();
            self.inner.state.send_replace(None);
        }
    }

    /// Whether it is streaming.
    pub fn is_on(&self) -> bool {
        self.inner.state.borrow().is_some()
    }

    /// Waits until the source is on (`true`) or off (`false`).
    pub async fn wait_until(&self, on: bool) {
        let mut state = self.inner.state.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = state.wait_for(|s| s.is_some() == on).await;
    }

    /// Picture size from the clip's SPS.
    pub fn dimensions(&self) -> (u32, u32) {
        (self.inner.width, self.inner.height)
    }

    /// Frames per second.
    pub fn fps(&self) -> u32 {
        self.inner.fps
    }

    /// The SDP of the stream, as DESCRIBE returns it; `origin` is the server's address.
    fn sdp(&self, origin: SocketAddr, session: u64) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let s = &self.inner;
        let profile: String =
            s.sps.get(1..4).unwrap_or(&[66, 0xc0, 30]).iter().map(|b| format!("{b:02X}")).collect();
        let ip_version = if origin.is_ipv4() { "IP4" } else { "IP6" };
        let ip = origin.ip();
        format!(
            "v=0\r\no=- {session} 1 IN {ip_version} {ip}\r\ns=camctl live view\r\nc=IN {ip_version} {ip}\r\n\
             t=0 0\r\na=control:*\r\na=range:npt=now-\r\nm=video 0 RTP/AVP {PAYLOAD_TYPE}\r\n\
             a=rtpmap:{PAYLOAD_TYPE} H264/90000\r\n\
             a=fmtp:{PAYLOAD_TYPE} packetization-mode=1;profile-level-id={profile};sprop-parameter-sets={},{}\r\n\
             a=framerate:{}\r\na=x-dimensions:{},{}\r\na=control:trackID=0\r\n",
            b64.encode(&s.sps),
            b64.encode(&s.pps),
            s.fps,
            s.width,
            s.height,
        )
    }
}

/// A bound RTSP server streaming one [`LiveSource`].
pub struct RtspServer {
    listener: TcpListener,
    shared: Arc<ServerShared>,
}

struct ServerShared {
    config: RtspConfig,
    source: LiveSource,
    rtp_socket: UdpSocket,
    rtcp_socket: UdpSocket,
    udp_ports: (u16, u16),
}

impl RtspServer {
    /// Binds the RTSP port at `listen` and, on the same IP, the two UDP ports (free ones) that UDP
    /// viewers are sent from.
    pub async fn bind(listen: SocketAddr, source: LiveSource, config: RtspConfig) -> io::Result<RtspServer> {
        let listener = TcpListener::bind(listen).await?;
        let (rtp_socket, rtcp_socket) = bind_udp_pair(listen.ip()).await?;
        let udp_ports = (rtp_socket.local_addr()?.port(), rtcp_socket.local_addr()?.port());
        let shared = Arc::new(ServerShared { config, source, rtp_socket, rtcp_socket, udp_ports });
        Ok(RtspServer { listener, shared })
    }

    /// The RTSP port's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// `rtsp://HOST:PORT/PATH`.
    pub fn url(&self) -> String {
        format!("rtsp://{}{}", self.local_addr(), self.shared.config.path)
    }

    /// The source it streams.
    pub fn source(&self) -> &LiveSource {
        &self.shared.source
    }

    /// The listener and its connection handler, for an emulator that serves RTSP next to its other
    /// ports in one [`crate::serve::serve_tcp`] loop (clients speak first: use
    /// [`Admission::AfterFirstBytes`]).
    pub fn listener_and_handler(&self) -> (&TcpListener, Handler, Admission) {
        let shared = Arc::clone(&self.shared);
        let handler =
            crate::serve::handler(move |stream, peer| connection(Arc::clone(&shared), stream, peer));
        (&self.listener, handler, Admission::AfterFirstBytes)
    }

    /// Serves until `shutdown` resolves, then closes every connection.
    pub async fn serve_until(self, shutdown: impl Future<Output = ()>) {
        let max = self.shared.config.max_connections;
        crate::serve::serve_tcp(vec![self.listener_and_handler()], max, shutdown).await;
    }
}

/// Two UDP sockets on consecutive ports (RTP, then RTCP): clients such as retina refuse any other
/// `server_port` range.
async fn bind_udp_pair(ip: std::net::IpAddr) -> io::Result<(UdpSocket, UdpSocket)> {
    let mut last_error = None;
    for _ in 0..64 {
        let rtp = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        let Some(next) = rtp.local_addr()?.port().checked_add(1) else { continue };
        match UdpSocket::bind(SocketAddr::new(ip, next)).await {
            Ok(rtcp) => return Ok((rtp, rtcp)),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::AddrInUse, "no two consecutive UDP ports free")))
}

/// A random number for session ids, SSRCs and initial sequence numbers (RFC 3550 asks for random
/// starting values; nothing here needs cryptographic strength).
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

/// Where a session's RTP and RTCP go.
#[derive(Debug, Clone, Copy)]
enum Delivery {
    /// On the RTSP connection, `$`-framed on these channels.
    Interleaved { rtp: u8, rtcp: u8 },
    /// UDP to the peer.
    Udp { rtp: SocketAddr, rtcp: SocketAddr },
}

/// RTP numbering of one session.
struct RtpState {
    ssrc: u32,
    seq: u16,
    /// RTP timestamp of the first frame sent.
    ts_offset: u32,
    /// Source time of the first frame sent.
    base: Option<u64>,
    /// After a join or a drop: send nothing until a keyframe.
    waiting_for_keyframe: bool,
    packets: u32,
    octets: u32,
    last_ts: u32,
    next_report: Option<Instant>,
}

struct Playing {
    frames: broadcast::Receiver<Tick>,
    state: watch::Receiver<Option<u64>>,
    generation: u64,
}

struct Session {
    id: String,
    delivery: Delivery,
    /// The URL SETUP named (for RTP-Info).
    control: String,
    rtp: RtpState,
    playing: Option<Playing>,
}

/// What the stream did next for a playing session.
enum Feed {
    Unit(Tick),
    Lagged(u64),
    Ended,
}

async fn next_feed(playing: Option<&mut Playing>) -> Feed {
    let Some(p) = playing else { return std::future::pending().await };
    loop {
        tokio::select! {
            r = p.frames.recv() => return match r {
                Ok(tick) => Feed::Unit(tick),
                Err(broadcast::error::RecvError::Lagged(n)) => Feed::Lagged(n),
                Err(broadcast::error::RecvError::Closed) => Feed::Ended,
            },
            changed = p.state.changed() => {
                if changed.is_err() || *p.state.borrow() != Some(p.generation) {
                    return Feed::Ended;
                }
            }
        }
    }
}

/// Whether the connection goes on after a request.
enum Flow {
    Continue,
    Close,
}

struct Conn {
    shared: Arc<ServerShared>,
    peer: SocketAddr,
    local: SocketAddr,
    stream: TcpStream,
    input: Vec<u8>,
    /// Bytes of a client's interleaved packet (an RTCP receiver report) still to skip.
    skip: usize,
    session: Option<Session>,
}

async fn connection(shared: Arc<ServerShared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().unwrap_or(peer);
    let mut conn = Conn { shared, peer, local, stream, input: Vec::new(), skip: 0, session: None };
    match conn.run().await {
        Ok(()) => tracing::debug!(%peer, "RTSP connection closed"),
        Err(e) => tracing::debug!(%peer, error = %e, "RTSP connection ended"),
    }
    if let Some(mut session) = conn.session.take()
        && session.playing.is_some()
    {
        conn.bye(&mut session).await;
    }
}

impl Conn {
    async fn run(&mut self) -> io::Result<()> {
        let idle = self.shared.config.idle_timeout;
        let mut chunk = vec![0u8; 4096];
        let idle_timer = tokio::time::sleep(idle);
        tokio::pin!(idle_timer);
        loop {
            let playing = self.session.as_mut().and_then(|s| s.playing.as_mut());
            tokio::select! {
                read = self.stream.read(&mut chunk) => {
                    let n = read?;
                    if n == 0 {
                        return Ok(());
                    }
                    if !idle.is_zero() {
                        idle_timer.as_mut().reset(Instant::now() + idle);
                    }
                    self.input.extend_from_slice(&chunk[..n]);
                    if let Flow::Close = self.process_input().await? {
                        return Ok(());
                    }
                }
                () = &mut idle_timer, if !idle.is_zero() => {
                    tracing::debug!(peer = %self.peer, "RTSP connection idle, closing");
                    return Ok(());
                }
                feed = next_feed(playing) => match feed {
                    Feed::Unit(tick) => self.send_unit(&tick).await?,
                    Feed::Lagged(n) => {
                        tracing::debug!(peer = %self.peer, dropped = n, "slow viewer: frames dropped");
                        if let Some(s) = &mut self.session {
                            s.rtp.waiting_for_keyframe = true;
                        }
                    }
                    Feed::Ended => {
                        let Some(mut session) = self.session.take() else { continue };
                        self.bye(&mut session).await;
                        if let Delivery::Interleaved { .. } = session.delivery {
                            // The only way to tell an interleaved viewer that a live stream ended.
                            return Ok(());
                        }
                    }
                },
            }
        }
    }

    /// Handles every complete request in the input; skips the client's interleaved packets.
    async fn process_input(&mut self) -> io::Result<Flow> {
        loop {
            if self.skip > 0 {
                let n = self.skip.min(self.input.len());
                self.input.drain(..n);
                self.skip -= n;
            }
            match self.input.first() {
                None => return Ok(Flow::Continue),
                Some(b'$') => {
                    let Some(header) = self.input.get(..4) else { return Ok(Flow::Continue) };
                    self.skip = usize::from(u16::from_be_bytes([header[2], header[3]]));
                    self.input.drain(..4);
                    continue;
                }
                Some(_) => {}
            }
            match Message::<Vec<u8>>::parse(&self.input) {
                Ok((message, used)) => {
                    self.input.drain(..used);
                    if let Message::Request(request) = message
                        && let Flow::Close = self.handle(&request).await?
                    {
                        return Ok(Flow::Close);
                    }
                    // A response or data message from a client means nothing here.
                }
                Err(ParseError::Incomplete(_)) if self.input.len() <= self.shared.config.max_request => {
                    return Ok(Flow::Continue);
                }
                Err(ParseError::Incomplete(_)) => {
                    self.respond(StatusCode::RequestMessageBodyTooLarge, None, Vec::new(), "").await?;
                    return Ok(Flow::Close);
                }
                Err(ParseError::Error) => {
                    self.respond(StatusCode::BadRequest, None, Vec::new(), "").await?;
                    return Ok(Flow::Close);
                }
            }
        }
    }

    /// Writes one response (`CSeq` echoed when known).
    async fn respond(
        &mut self,
        status: StatusCode,
        cseq: Option<&str>,
        extra: Vec<(headers::HeaderName, String)>,
        body: &str,
    ) -> io::Result<()> {
        let mut builder = Response::builder(Version::V1_0, status).header(headers::SERVER, "camctl");
        if let Some(cseq) = cseq {
            builder = builder.header(headers::CSEQ, cseq);
        }
        for (name, value) in extra {
            builder = builder.header(name, value);
        }
        let response = builder.build(body.as_bytes());
        let mut out = Vec::new();
        response.write(&mut out).map_err(|_| io::Error::other("serializing an RTSP response"))?;
        self.write(&out).await
    }

    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        timed_io(crate::serve::DEFAULT_WRITE_TIMEOUT, self.stream.write_all(bytes)).await
    }

    /// Whether `request` names the stream (or its track).
    fn names_stream(&self, request: &Request<Vec<u8>>) -> bool {
        let path = &self.shared.config.path;
        request.request_uri().is_some_and(|uri| {
            let p = uri.path().trim_end_matches('/');
            p == path || p.strip_prefix(path.as_str()).is_some_and(|rest| rest.starts_with('/'))
        })
    }

    /// Whether the request's `Session` header (if any) names this connection's session.
    fn session_matches(&self, request: &Request<Vec<u8>>) -> bool {
        match request.header(&headers::SESSION) {
            None => true,
            Some(v) => {
                let id = v.as_str().split(';').next().unwrap_or("").trim();
                self.session.as_ref().is_some_and(|s| s.id == id)
            }
        }
    }

    fn session_header(&self) -> Vec<(headers::HeaderName, String)> {
        let timeout = self.shared.config.idle_timeout.as_secs().max(1);
        match &self.session {
            Some(s) => vec![(headers::SESSION, format!("{};timeout={timeout}", s.id))],
            None => Vec::new(),
        }
    }

    async fn handle(&mut self, request: &Request<Vec<u8>>) -> io::Result<Flow> {
        let Some(cseq) = request.header(&headers::CSEQ).map(|v| v.as_str().trim().to_string()) else {
            self.respond(StatusCode::BadRequest, None, Vec::new(), "").await?;
            return Ok(Flow::Continue);
        };
        let cseq = Some(cseq.as_str());
        if request.version() != Version::V1_0 {
            self.respond(StatusCode::RTSPVersionNotSupported, cseq, Vec::new(), "").await?;
            return Ok(Flow::Continue);
        }
        let method = request.method();
        tracing::debug!(peer = %self.peer, ?method, "RTSP request");
        match method {
            Method::Options => {
                let public = "OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER, TEARDOWN".to_string();
                let mut extra = vec![(headers::PUBLIC, public)];
                if self.session_matches(request) {
                    extra.extend(self.session_header());
                }
                self.respond(StatusCode::Ok, cseq, extra, "").await?;
            }
            Method::GetParameter => {
                let (status, extra) = if self.session_matches(request) {
                    (StatusCode::Ok, self.session_header())
                } else {
                    (StatusCode::SessionNotFound, Vec::new())
                };
                self.respond(status, cseq, extra, "").await?;
            }
            Method::Describe if !self.names_stream(request) => {
                self.respond(StatusCode::NotFound, cseq, Vec::new(), "").await?;
            }
            Method::Describe if !self.shared.source.is_on() => {
                self.respond(StatusCode::ServiceUnavailable, cseq, Vec::new(), "").await?;
            }
            Method::Describe => {
                let base = request.request_uri().map(|u| u.as_str().trim_end_matches('/')).unwrap_or("");
                let extra = vec![
                    (headers::CONTENT_TYPE, "application/sdp".to_string()),
                    (headers::CONTENT_BASE, format!("{base}/")),
                ];
                let sdp = self.shared.source.sdp(self.local, random_u64() >> 1);
                self.respond(StatusCode::Ok, cseq, extra, &sdp).await?;
            }
            Method::Setup => self.setup(request, cseq).await?,
            Method::Play => self.play(request, cseq).await?,
            Method::Teardown => {
                if !self.session_matches(request) || self.session.is_none() {
                    self.respond(StatusCode::SessionNotFound, cseq, Vec::new(), "").await?;
                } else {
                    if let Some(mut session) = self.session.take()
                        && session.playing.is_some()
                    {
                        self.bye(&mut session).await;
                    }
                    self.respond(StatusCode::Ok, cseq, Vec::new(), "").await?;
                }
            }
            _ => {
                let allow = "OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER, TEARDOWN".to_string();
                self.respond(StatusCode::MethodNotAllowed, cseq, vec![(headers::ALLOW, allow)], "").await?;
            }
        }
        Ok(Flow::Continue)
    }

    /// The delivery the client asked for, the first acceptable one of its list.
    fn choose_delivery(&self, transports: &Transports) -> Option<Delivery> {
        transports.iter().find_map(|t| {
            let RtspTransport::Rtp(rtp) = t else { return None };
            if rtp.profile != RtpProfile::Avp || rtp.params.multicast {
                return None;
            }
            match &rtp.lower_transport {
                Some(RtpLowerTransport::Tcp) => {
                    let (a, b) = rtp.params.interleaved.unwrap_or((0, Some(1)));
                    let b = b.or(a.checked_add(1))?;
                    Some(Delivery::Interleaved { rtp: a, rtcp: b })
                }
                None | Some(RtpLowerTransport::Udp) => {
                    let (a, b) = rtp.params.client_port?;
                    let b = b.or(a.checked_add(1))?;
                    if a == 0 || b == 0 {
                        return None;
                    }
                    // Only ever to the peer that asked: a `destination` elsewhere is ignored.
                    let ip = self.peer.ip();
                    Some(Delivery::Udp { rtp: SocketAddr::new(ip, a), rtcp: SocketAddr::new(ip, b) })
                }
                Some(RtpLowerTransport::Other(_)) => None,
            }
        })
    }

    async fn setup(&mut self, request: &Request<Vec<u8>>, cseq: Option<&str>) -> io::Result<()> {
        if !self.names_stream(request) {
            return self.respond(StatusCode::NotFound, cseq, Vec::new(), "").await;
        }
        if !self.session_matches(request) {
            return self.respond(StatusCode::SessionNotFound, cseq, Vec::new(), "").await;
        }
        if self.session.as_ref().is_some_and(|s| s.playing.is_some()) {
            return self.respond(StatusCode::MethodNotValidInThisState, cseq, Vec::new(), "").await;
        }
        let delivery = match request.typed_header::<Transports>() {
            Ok(Some(t)) => self.choose_delivery(&t),
            Ok(None) | Err(_) => None,
        };
        let Some(delivery) = delivery else {
            return self.respond(StatusCode::UnsupportedTransport, cseq, Vec::new(), "").await;
        };
        let id = match self.session.take() {
            Some(s) => s.id,
            None => format!("{:016X}", random_u64()),
        };
        let r = random_u64();
        let rtp = RtpState {
            ssrc: r as u32,
            seq: (r >> 32) as u16,
            ts_offset: (r >> 48) as u32 ^ (random_u64() as u32),
            base: None,
            waiting_for_keyframe: true,
            packets: 0,
            octets: 0,
            last_ts: 0,
            next_report: None,
        };
        let transport = match delivery {
            Delivery::Interleaved { rtp: a, rtcp: b } => {
                format!("RTP/AVP/TCP;unicast;interleaved={a}-{b};ssrc={:08X}", rtp.ssrc)
            }
            Delivery::Udp { rtp: a, rtcp: b } => {
                let (sa, sb) = self.shared.udp_ports;
                format!(
                    "RTP/AVP;unicast;client_port={}-{};server_port={sa}-{sb};ssrc={:08X}",
                    a.port(),
                    b.port(),
                    rtp.ssrc
                )
            }
        };
        let control = request.request_uri().map(|u| u.as_str().to_string()).unwrap_or_default();
        self.session = Some(Session { id, delivery, control, rtp, playing: None });
        let mut extra = self.session_header();
        extra.push((headers::TRANSPORT, transport));
        self.respond(StatusCode::Ok, cseq, extra, "").await
    }

    async fn play(&mut self, request: &Request<Vec<u8>>, cseq: Option<&str>) -> io::Result<()> {
        if self.session.is_none() {
            return self.respond(StatusCode::MethodNotValidInThisState, cseq, Vec::new(), "").await;
        }
        if !self.session_matches(request) {
            return self.respond(StatusCode::SessionNotFound, cseq, Vec::new(), "").await;
        }
        // Subscribe before looking at the state, so no start/stop falls between the two.
        let frames = self.shared.source.inner.frames.subscribe();
        let state = self.shared.source.inner.state.subscribe();
        let Some(generation) = *state.borrow() else {
            return self.respond(StatusCode::ServiceUnavailable, cseq, Vec::new(), "").await;
        };
        let mut extra = self.session_header();
        if let Some(session) = &mut self.session {
            if session.playing.is_none() {
                session.playing = Some(Playing { frames, state, generation });
            }
            let r = &session.rtp;
            extra.push((headers::RANGE, "npt=now-".to_string()));
            extra.push((
                headers::RTP_INFO,
                format!("url={};seq={};rtptime={}", session.control, r.seq, r.ts_offset),
            ));
        }
        self.respond(StatusCode::Ok, cseq, extra, "").await
    }

    /// Packetizes one access unit and sends it; a viewer joining or recovering from drops starts at a
    /// keyframe.
    async fn send_unit(&mut self, tick: &Tick) -> io::Result<()> {
        let Some(session) = &mut self.session else { return Ok(()) };
        let rtp = &mut session.rtp;
        if rtp.waiting_for_keyframe && !tick.unit.keyframe {
            return Ok(());
        }
        rtp.waiting_for_keyframe = false;
        let base = *rtp.base.get_or_insert(tick.pts);
        // RTP timestamps wrap at 32 bits by design.
        let ts = rtp.ts_offset.wrapping_add(tick.pts.wrapping_sub(base) as u32);
        // An interleaved packet's length is 16 bits: the payload and the RTP header must fit.
        let max_payload = self.shared.config.max_payload.clamp(16, usize::from(u16::MAX) - 12);
        let mut packets = Vec::new();
        packetize(&tick.unit, ts, rtp, max_payload, |p| packets.push(p));
        let now = Instant::now();
        let report = if rtp.next_report.is_none_or(|t| now >= t) {
            rtp.next_report = Some(now + SENDER_REPORT_EVERY);
            Some(sender_report(rtp))
        } else {
            None
        };
        match session.delivery {
            Delivery::Interleaved { rtp: ch, rtcp } => {
                let mut out = Vec::with_capacity(packets.iter().map(|p| p.len() + 4).sum::<usize>() + 36);
                for p in &packets {
                    interleave(&mut out, ch, p);
                }
                if let Some(sr) = &report {
                    interleave(&mut out, rtcp, sr);
                }
                self.write(&out).await?;
            }
            Delivery::Udp { rtp: to, rtcp } => {
                // A lost datagram is what UDP means; a refused one (nobody listening yet) too.
                for p in &packets {
                    let _ = self.shared.rtp_socket.send_to(p, to).await;
                }
                if let Some(sr) = &report {
                    let _ = self.shared.rtcp_socket.send_to(sr, rtcp).await;
                }
            }
        }
        Ok(())
    }

    /// Ends a playing session: an RTCP BYE goes out (best effort).
    async fn bye(&mut self, session: &mut Session) {
        session.playing = None;
        let bye = bye_packet(session.rtp.ssrc);
        match session.delivery {
            Delivery::Interleaved { rtcp, .. } => {
                let mut out = Vec::new();
                interleave(&mut out, rtcp, &bye);
                let _ = self.write(&out).await;
            }
            Delivery::Udp { rtcp, .. } => {
                let _ = self.shared.rtcp_socket.send_to(&bye, rtcp).await;
            }
        }
    }
}

/// `$ channel length packet` (RFC 2326 §10.12).
fn interleave(out: &mut Vec<u8>, channel: u8, packet: &[u8]) {
    out.push(b'$');
    out.push(channel);
    out.extend_from_slice(&(packet.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
    out.extend_from_slice(packet);
}

/// RTP packets of one access unit (RFC 6184: single NAL unit packets, FU-A for bigger units), the
/// marker on the last one.
fn packetize(
    unit: &AccessUnit,
    ts: u32,
    rtp: &mut RtpState,
    max_payload: usize,
    mut emit: impl FnMut(Vec<u8>),
) {
    let mut header = |marker: bool, payload_len: usize| {
        let mut p = Vec::with_capacity(12 + payload_len);
        p.push(0x80);
        p.push(PAYLOAD_TYPE | if marker { 0x80 } else { 0 });
        p.extend_from_slice(&rtp.seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&rtp.ssrc.to_be_bytes());
        rtp.seq = rtp.seq.wrapping_add(1);
        rtp.packets = rtp.packets.wrapping_add(1);
        rtp.octets = rtp.octets.wrapping_add(payload_len as u32);
        rtp.last_ts = ts;
        p
    };
    let count = unit.nals.len();
    for (i, nal) in unit.nals.iter().enumerate() {
        let last_nal = i + 1 == count;
        let Some((&nal_header, body)) = nal.split_first() else { continue };
        if nal.len() <= max_payload {
            let mut p = header(last_nal, nal.len());
            p.extend_from_slice(nal);
            emit(p);
            continue;
        }
        let fragments = body.chunks(max_payload - 2);
        let n = fragments.len();
        for (j, fragment) in fragments.enumerate() {
            let (start, end) = (j == 0, j + 1 == n);
            let mut p = header(last_nal && end, fragment.len() + 2);
            p.push((nal_header & 0xe0) | 28);
            p.push(u8::from(start) << 7 | u8::from(end) << 6 | (nal_header & 0x1f));
            p.extend_from_slice(fragment);
            emit(p);
        }
    }
}

/// An RTCP sender report (RFC 3550 §6.4.1) without report blocks.
fn sender_report(rtp: &RtpState) -> Vec<u8> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    // NTP counts from 1900.
    let ntp_secs = (now.as_secs() + 2_208_988_800) as u32;
    let ntp_frac = ((u64::from(now.subsec_nanos()) << 32) / 1_000_000_000) as u32;
    let mut p = Vec::with_capacity(28);
    p.extend_from_slice(&[0x80, 200, 0, 6]);
    for word in [rtp.ssrc, ntp_secs, ntp_frac, rtp.last_ts, rtp.packets, rtp.octets] {
        p.extend_from_slice(&word.to_be_bytes());
    }
    p
}

/// An RTCP BYE (RFC 3550 §6.6) for `ssrc`.
fn bye_packet(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x81, 203, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fu_a_fragments_carry_the_whole_unit_and_one_marker() {
        let nal: Vec<u8> = std::iter::once(0x65).chain((0..5000u32).map(|i| i as u8)).collect();
        let unit = AccessUnit { nals: vec![vec![0x67, 1, 2], nal.clone()], keyframe: true };
        let mut rtp = RtpState {
            ssrc: 7,
            seq: u16::MAX,
            ts_offset: 0,
            base: None,
            waiting_for_keyframe: false,
            packets: 0,
            octets: 0,
            last_ts: 0,
            next_report: None,
        };
        let mut packets = Vec::new();
        packetize(&unit, 1234, &mut rtp, 1400, |p| packets.push(p));
        // SPS alone, then ceil(5000 / 1398) = 4 fragments.
        assert_eq!(packets.len(), 5);
        let markers: Vec<bool> = packets.iter().map(|p| p[1] & 0x80 != 0).collect();
        assert_eq!(markers, [false, false, false, false, true]);
        let seqs: Vec<u16> = packets.iter().map(|p| u16::from_be_bytes([p[2], p[3]])).collect();
        assert_eq!(seqs, [u16::MAX, 0, 1, 2, 3]);
        let mut rebuilt = vec![(packets[1][12] & 0xe0) | (packets[1][13] & 0x1f)];
        for p in &packets[1..] {
            assert_eq!(p[12] & 0x1f, 28);
            rebuilt.extend_from_slice(&p[14..]);
        }
        assert_eq!(rebuilt, nal);
        assert_eq!(packets[1][13] & 0xc0, 0x80);
        assert_eq!(packets[4][13] & 0xc0, 0x40);
    }

    #[test]
    fn source_refuses_clips_without_parameter_sets() {
        assert!(LiveSource::from_clip(b"nothing", 15, 4).is_err());
        assert!(LiveSource::from_clip(video::SAMPLE_360P, 0, 4).is_err());
        let source = LiveSource::from_clip(video::SAMPLE_480P, 15, 4).unwrap();
        assert_eq!(source.dimensions(), (640, 480));
        assert!(!source.is_on());
    }
}
