//! A small RTSP 1.0 server for live views: any number of [`LiveFeed`]s, each mounted at a path
//! (`rtsp://HOST:PORT/NAME`), fanned out to any number of viewers. The emulated cameras' clip looper
//! ([`LiveSource`]) is one such feed.
//!
//! * Methods: OPTIONS, DESCRIBE, SETUP (`RTP/AVP/TCP` interleaved or `RTP/AVP` UDP unicast), PLAY
//!   (with `RTP-Info`), GET_PARAMETER and OPTIONS as keepalives, TEARDOWN. Requests are parsed by the
//!   `rtsp-types` crate.
//! * DESCRIBE: an unknown path is `404`, a feed that is not available `503`; otherwise the request
//!   holds a [`Demand`] on the feed and waits up to 10 s for its parameters (SDP with
//!   `sprop-parameter-sets` for H.264, `sprop-vps/sps/pps` for H.265), else `503`. JPEG feeds are not
//!   served (`415`). A session keeps its demand until TEARDOWN or the end of its connection, so a
//!   feed's owner can stream exactly while someone watches.
//! * RTP per RFC 6184 (H.264: single NAL unit packets and FU-A) and RFC 7798 (H.265: single NAL unit
//!   packets and FU, type 49), 90 kHz timestamps, marker on the last packet of an access unit, and a
//!   BYE when the stream ends.
//! * **Latency.** RTCP sender reports (the first with the first frame, then every 5 s) pair the RTP
//!   timestamp of the frame just sent with that frame's [`Frame::captured`](crate::live::Frame) time
//!   as the NTP timestamp, not with the time of sending. A viewer maps any packet's RTP timestamp `t`
//!   to its capture time as `ntp + (t - rtp) / 90000` s (from the last report) and subtracts that from
//!   its receipt time to get the camera-to-viewer latency.
//! * Authentication (optional, [`RtspConfig::auth`]): every request but OPTIONS needs Basic
//!   credentials (`rtsp://user:password@host/...` in ffmpeg, VLC...); missing or wrong ones get `401`
//!   with `WWW-Authenticate: Basic realm="camctl"`, and a connection is closed after a few failures.
//! * UDP goes only to the address of the peer that asked for it (its `destination` is ignored), from
//!   one socket pair shared by all viewers.
//! * Fan-out: a feed broadcasts each access unit once, its NAL units located once at publish time,
//!   through a bounded queue; a viewer that falls behind skips to the next keyframe instead of slowing
//!   the others.
//! * Bounds: a connection cap, a request size cap ([`RtspConfig::max_request`]: larger requests get
//!   `413` and a closed connection), an idle timeout (no byte from the peer on its RTSP connection for
//!   that long closes it; clients keep sessions alive with GET_PARAMETER/OPTIONS, as ffmpeg and retina
//!   do; RTCP receiver reports over UDP are not read, so they do not count), a write timeout, and
//!   unparsable input gets `400` and a closed connection. Nothing a peer sends can panic it.
//! * When a feed becomes unavailable or is interrupted, its viewers get an RTCP BYE and their session
//!   ends (an interleaved viewer's connection is closed, which is how RTSP players learn that a live
//!   stream ended).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use camctl_core::live::LiveFeed;
//! use camctl_core::rtsp::{Mounts, RtspConfig, RtspServer};
//! let mounts = Mounts::new();
//! let feed = LiveFeed::new(30);
//! mounts.insert("/garden", feed.clone());
//! let server = RtspServer::bind_mounts("127.0.0.1:8554".parse().unwrap(), mounts, RtspConfig::default()).await?;
//! println!("{}", server.url_for("/garden"));
//! // The camera's owner: feed.set_available(true); feed.publish(frame)...
//! server.serve_until(std::future::pending()).await;
//! # Ok(()) }
//! ```

mod rtp;
mod source;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rtsp_types::headers::{self, RtpLowerTransport, RtpProfile, Transport as RtspTransport, Transports};
use rtsp_types::{Message, Method, ParseError, Request, Response, StatusCode, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use crate::live::{Codec, Demand, LiveFeed, Published, RecvError, Subscriber};
use crate::serve::{Admission, Handler, timed_io};
pub use rtp::PAYLOAD_TYPE;
pub use source::LiveSource;

/// The standard RTSP port.
pub const DEFAULT_RTSP_PORT: u16 = 554;

/// How often a playing viewer gets an RTCP sender report.
const SENDER_REPORT_EVERY: Duration = Duration::from_secs(5);

/// How long DESCRIBE waits for a feed's parameters.
const PARAMS_WAIT: Duration = Duration::from_secs(10);

/// Failed authentications after which a connection is closed.
const MAX_AUTH_FAILURES: u32 = 4;

/// What every request but OPTIONS must carry when [`RtspConfig::auth`] is set.
const AUTH_CHALLENGE: &str = "Basic realm=\"camctl\"";

/// A check of (user, password).
pub type CredentialCheck = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// Checks Basic credentials (user, password) of RTSP requests. Cheap to clone.
#[derive(Clone)]
pub struct RtspAuth {
    check: CredentialCheck,
}

impl std::fmt::Debug for RtspAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RtspAuth(..)")
    }
}

impl From<CredentialCheck> for RtspAuth {
    fn from(check: CredentialCheck) -> RtspAuth {
        RtspAuth { check }
    }
}

impl RtspAuth {
    /// Credentials accepted when `check(user, password)` says so.
    pub fn new(check: impl Fn(&str, &str) -> bool + Send + Sync + 'static) -> RtspAuth {
        RtspAuth { check: Arc::new(check) }
    }

    /// Exactly one user with one password (compared in constant time).
    pub fn user_password(user: impl Into<String>, password: impl Into<String>) -> RtspAuth {
        let (user, password) = (user.into(), password.into());
        RtspAuth::new(move |u, p| {
            crate::text::constant_time_eq(u, &user) & crate::text::constant_time_eq(p, &password)
        })
    }

    /// Whether the credentials are accepted.
    pub fn accepts(&self, user: &str, password: &str) -> bool {
        (self.check)(user, password)
    }

    /// Whether an `Authorization` header value carries accepted Basic credentials.
    fn accepts_header(&self, value: &str) -> bool {
        crate::serve::basic_credentials(value).is_some_and(|(user, password)| self.accepts(&user, &password))
    }
}

/// Limits and names of an [`RtspServer`].
#[derive(Debug, Clone)]
pub struct RtspConfig {
    /// The path [`RtspServer::bind`] mounts its source at (`/live` on a Yi) and [`RtspServer::url`]
    /// names; a stream's track is `PATH/trackID=0`.
    pub path: String,
    /// Connections served at once by [`RtspServer::serve_until`]; extras are closed on accept.
    pub max_connections: usize,
    /// Largest request (headers and body) accepted.
    pub max_request: usize,
    /// A connection is closed after this long without a byte from the peer (zero = never); also the
    /// session timeout announced in SETUP.
    pub idle_timeout: Duration,
    /// Largest RTP payload (16 to 65523 bytes); bigger NAL units are split into fragments.
    pub max_payload: usize,
    /// Basic credentials every request but OPTIONS must carry; `None` serves anyone.
    pub auth: Option<RtspAuth>,
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
            auth: None,
        }
    }
}

/// The feeds an [`RtspServer`] serves, by path (`/NAME`); shared and updatable while serving. Cheap
/// to clone (all clones are one map).
#[derive(Clone, Default, Debug)]
pub struct Mounts {
    feeds: Arc<RwLock<HashMap<String, LiveFeed>>>,
}

/// `/NAME` without trailing slashes.
fn mount_key(path: &str) -> String {
    format!("/{}", path.trim_matches('/'))
}

impl Mounts {
    /// No feeds.
    pub fn new() -> Mounts {
        Mounts::default()
    }

    /// Serves `feed` at `path` (`/NAME`; a feed there before is replaced and returned). Viewers of
    /// a replaced feed go on until it ends.
    pub fn insert(&self, path: &str, feed: LiveFeed) -> Option<LiveFeed> {
        self.feeds.write().unwrap_or_else(|e| e.into_inner()).insert(mount_key(path), feed)
    }

    /// Stops serving `path` to new viewers; returns its feed (whose owner ends current viewers with
    /// [`LiveFeed::set_available`]).
    pub fn remove(&self, path: &str) -> Option<LiveFeed> {
        self.feeds.write().unwrap_or_else(|e| e.into_inner()).remove(&mount_key(path))
    }

    /// The feed at `path`.
    pub fn get(&self, path: &str) -> Option<LiveFeed> {
        self.feeds.read().unwrap_or_else(|e| e.into_inner()).get(&mount_key(path)).cloned()
    }

    /// The mounted paths, sorted.
    pub fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> =
            self.feeds.read().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        paths.sort();
        paths
    }

    /// The mount a request path names: the path itself or one of its parents (`/NAME/trackID=0`).
    fn resolve(&self, request_path: &str) -> Option<(String, LiveFeed)> {
        let feeds = self.feeds.read().unwrap_or_else(|e| e.into_inner());
        let mut path = request_path.trim_end_matches('/');
        loop {
            if path.is_empty() {
                return None;
            }
            if let Some(feed) = feeds.get(path) {
                return Some((path.to_string(), feed.clone()));
            }
            path = path.rsplit_once('/')?.0;
        }
    }
}

/// A bound RTSP server streaming the feeds of its [`Mounts`].
pub struct RtspServer {
    listener: TcpListener,
    shared: Arc<ServerShared>,
}

struct ServerShared {
    config: RtspConfig,
    mounts: Mounts,
    source: Option<LiveSource>,
    rtp_socket: UdpSocket,
    rtcp_socket: UdpSocket,
    udp_ports: (u16, u16),
}

impl RtspServer {
    /// Binds the RTSP port at `listen` and, on the same IP, the two UDP ports (free ones) that UDP
    /// viewers are sent from; serves `source` at [`RtspConfig::path`].
    pub async fn bind(listen: SocketAddr, source: LiveSource, config: RtspConfig) -> io::Result<RtspServer> {
        let mounts = Mounts::new();
        mounts.insert(&config.path, source.feed());
        RtspServer::bind_with(listen, mounts, config, Some(source)).await
    }

    /// Like [`RtspServer::bind`], serving every feed of `mounts` (which may change while serving).
    pub async fn bind_mounts(
        listen: SocketAddr,
        mounts: Mounts,
        config: RtspConfig,
    ) -> io::Result<RtspServer> {
        RtspServer::bind_with(listen, mounts, config, None).await
    }

    async fn bind_with(
        listen: SocketAddr,
        mounts: Mounts,
        config: RtspConfig,
        source: Option<LiveSource>,
    ) -> io::Result<RtspServer> {
        let listener = TcpListener::bind(listen).await?;
        let (rtp_socket, rtcp_socket) = bind_udp_pair(listen.ip()).await?;
        let udp_ports = (rtp_socket.local_addr()?.port(), rtcp_socket.local_addr()?.port());
        let shared = Arc::new(ServerShared { config, mounts, source, rtp_socket, rtcp_socket, udp_ports });
        Ok(RtspServer { listener, shared })
    }

    /// The RTSP port's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// `rtsp://HOST:PORT/PATH` of [`RtspConfig::path`].
    pub fn url(&self) -> String {
        self.url_for(&self.shared.config.path)
    }

    /// `rtsp://HOST:PORT/PATH` of a mount.
    pub fn url_for(&self, path: &str) -> String {
        format!("rtsp://{}{}", self.local_addr(), mount_key(path))
    }

    /// The source [`RtspServer::bind`] was given (`None` from [`RtspServer::bind_mounts`]).
    pub fn source(&self) -> Option<&LiveSource> {
        self.shared.source.as_ref()
    }

    /// The feeds it serves.
    pub fn mounts(&self) -> &Mounts {
        &self.shared.mounts
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

struct Session {
    id: String,
    /// The mount it plays and the demand it holds there.
    path: String,
    demand: Demand,
    delivery: Delivery,
    /// The URL SETUP named (for RTP-Info).
    control: String,
    rtp: rtp::RtpState,
    /// The codec of the first frame sent: the one the viewer decodes.
    codec: Option<Codec>,
    playing: Option<Subscriber>,
}

async fn next_frame(playing: Option<&mut Subscriber>) -> Result<Arc<Published>, RecvError> {
    match playing {
        Some(subscriber) => subscriber.recv_published().await,
        None => std::future::pending().await,
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
    /// The demand a DESCRIBE took, until SETUP makes it its session's.
    described: Option<(String, Demand)>,
    session: Option<Session>,
    auth_failures: u32,
    /// Reused for every frame's packets.
    out: Vec<u8>,
}

async fn connection(shared: Arc<ServerShared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().unwrap_or(peer);
    let mut conn = Conn {
        shared,
        peer,
        local,
        stream,
        input: Vec::new(),
        skip: 0,
        described: None,
        session: None,
        auth_failures: 0,
        out: Vec::new(),
    };
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
                        idle_timer.as_mut().reset(tokio::time::Instant::now() + idle);
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
                next = next_frame(playing) => {
                    let ended = match next {
                        Ok(published) => !self.send_frame(&published).await?,
                        Err(RecvError::Lagged(n)) => {
                            tracing::debug!(peer = %self.peer, dropped = n, "slow viewer: frames dropped");
                            if let Some(s) = &mut self.session {
                                s.rtp.waiting_for_keyframe = true;
                            }
                            false
                        }
                        Err(RecvError::Ended) => true,
                    };
                    if ended {
                        let Some(mut session) = self.session.take() else { continue };
                        self.bye(&mut session).await;
                        if let Delivery::Interleaved { .. } = session.delivery {
                            // The only way to tell an interleaved viewer that a live stream ended.
                            return Ok(());
                        }
                    }
                }
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

    /// The mount `request` names (the stream or its track).
    fn mount(&self, request: &Request<Vec<u8>>) -> Option<(String, LiveFeed)> {
        self.shared.mounts.resolve(request.request_uri()?.path())
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

    /// Whether the request may go on: no credentials needed, or accepted ones.
    fn authorized(&self, request: &Request<Vec<u8>>) -> bool {
        let Some(auth) = &self.shared.config.auth else { return true };
        request.method() == Method::Options
            || request.header(&headers::AUTHORIZATION).is_some_and(|v| auth.accepts_header(v.as_str()))
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
        if !self.authorized(request) {
            self.auth_failures += 1;
            let challenge = vec![(headers::WWW_AUTHENTICATE, AUTH_CHALLENGE.to_string())];
            self.respond(StatusCode::Unauthorized, cseq, challenge, "").await?;
            return Ok(if self.auth_failures >= MAX_AUTH_FAILURES { Flow::Close } else { Flow::Continue });
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
            Method::Describe => self.describe(request, cseq).await?,
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
                    self.described = None;
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

    async fn describe(&mut self, request: &Request<Vec<u8>>, cseq: Option<&str>) -> io::Result<()> {
        let Some((path, feed)) = self.mount(request) else {
            return self.respond(StatusCode::NotFound, cseq, Vec::new(), "").await;
        };
        if !feed.is_available() {
            return self.respond(StatusCode::ServiceUnavailable, cseq, Vec::new(), "").await;
        }
        // Wanting the stream is what makes an on-demand owner start it.
        let demand = feed.demand();
        let Some(params) = feed.wait_params(PARAMS_WAIT).await else {
            return self.respond(StatusCode::ServiceUnavailable, cseq, Vec::new(), "").await;
        };
        let Some(sdp) = rtp::sdp(&params, self.local, random_u64() >> 1) else {
            return self.respond(StatusCode::UnsupportedMediaType, cseq, Vec::new(), "").await;
        };
        self.described = Some((path, demand));
        let base = request.request_uri().map(|u| u.as_str().trim_end_matches('/')).unwrap_or("");
        let extra = vec![
            (headers::CONTENT_TYPE, "application/sdp".to_string()),
            (headers::CONTENT_BASE, format!("{base}/")),
        ];
        self.respond(StatusCode::Ok, cseq, extra, &sdp).await
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
        let Some((path, feed)) = self.mount(request) else {
            return self.respond(StatusCode::NotFound, cseq, Vec::new(), "").await;
        };
        if !self.session_matches(request) {
            return self.respond(StatusCode::SessionNotFound, cseq, Vec::new(), "").await;
        }
        // One stream per session: playing, or set up for another path, it cannot change.
        if self.session.as_ref().is_some_and(|s| s.playing.is_some() || s.path != path) {
            return self.respond(StatusCode::MethodNotValidInThisState, cseq, Vec::new(), "").await;
        }
        let delivery = match request.typed_header::<Transports>() {
            Ok(Some(t)) => self.choose_delivery(&t),
            Ok(None) | Err(_) => None,
        };
        let Some(delivery) = delivery else {
            return self.respond(StatusCode::UnsupportedTransport, cseq, Vec::new(), "").await;
        };
        let (id, demand) = match self.session.take() {
            Some(s) => (s.id, s.demand),
            None => {
                let demand = match self.described.take() {
                    Some((described, demand)) if described == path => demand,
                    _ => feed.demand(),
                };
                (format!("{:016X}", random_u64()), demand)
            }
        };
        let rtp = rtp::RtpState::new(random_u64(), random_u64() as u32);
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
        self.session = Some(Session { id, path, demand, delivery, control, rtp, codec: None, playing: None });
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
        let mut extra = self.session_header();
        let Some(session) = &mut self.session else { return Ok(()) };
        if session.playing.is_none() {
            let subscriber = session.demand.feed().subscribe();
            if subscriber.has_ended() {
                return self.respond(StatusCode::ServiceUnavailable, cseq, Vec::new(), "").await;
            }
            session.playing = Some(subscriber);
        }
        let r = &session.rtp;
        extra.push((headers::RANGE, "npt=now-".to_string()));
        extra.push((
            headers::RTP_INFO,
            format!("url={};seq={};rtptime={}", session.control, r.seq, r.ts_offset),
        ));
        self.respond(StatusCode::Ok, cseq, extra, "").await
    }

    /// Packetizes one frame and sends it; a viewer joining or recovering from drops starts at a
    /// keyframe. `false` when the stream cannot go on for this viewer (another codec than the one it
    /// started with, or JPEG).
    async fn send_frame(&mut self, published: &Published) -> io::Result<bool> {
        let Some(session) = &mut self.session else { return Ok(true) };
        let frame = &published.frame;
        if frame.codec == Codec::Jpeg || *session.codec.get_or_insert(frame.codec) != frame.codec {
            return Ok(false);
        }
        let rtp = &mut session.rtp;
        if rtp.waiting_for_keyframe && !frame.keyframe {
            return Ok(true);
        }
        rtp.waiting_for_keyframe = false;
        let ts = rtp.timestamp(frame.pts);
        rtp.last = Some((ts, frame.captured));
        // An interleaved packet's length is 16 bits: the payload and the RTP header must fit.
        let max_payload = self.shared.config.max_payload.clamp(16, usize::from(u16::MAX) - 12);
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        match session.delivery {
            Delivery::Interleaved { rtp: channel, rtcp } => {
                rtp::packetize(frame.codec, published.nal_units(), ts, rtp, max_payload, |p| {
                    rtp::interleave_header(&mut out, channel, p.len());
                    p.write_to(&mut out);
                });
                if let Some(sr) = sender_report_due(rtp, ts, frame.captured) {
                    rtp::interleave_header(&mut out, rtcp, sr.len());
                    out.extend_from_slice(&sr);
                }
                let written = self.write(&out).await;
                self.out = out;
                written?;
            }
            Delivery::Udp { rtp: to, rtcp } => {
                // Packets laid end to end; their lengths say where each ends.
                let mut lengths = Vec::new();
                rtp::packetize(frame.codec, published.nal_units(), ts, rtp, max_payload, |p| {
                    lengths.push(p.len());
                    p.write_to(&mut out);
                });
                let report = sender_report_due(rtp, ts, frame.captured);
                let mut at = 0;
                // A lost datagram is what UDP means; a refused one (nobody listening yet) too.
                for len in lengths {
                    let _ = self.shared.rtp_socket.send_to(&out[at..at + len], to).await;
                    at += len;
                }
                if let Some(sr) = report {
                    let _ = self.shared.rtcp_socket.send_to(&sr, rtcp).await;
                }
                self.out = out;
            }
        }
        Ok(true)
    }

    /// Ends a playing session: a sender report and an RTCP BYE go out (best effort).
    async fn bye(&mut self, session: &mut Session) {
        session.playing = None;
        let report = rtp::final_report(&session.rtp);
        let bye = rtp::bye_packet(session.rtp.ssrc);
        match session.delivery {
            Delivery::Interleaved { rtcp, .. } => {
                // Two interleaved packets: the connection's close is what ends a TCP viewer anyway.
                let mut out = Vec::new();
                for packet in [&report, &bye] {
                    rtp::interleave_header(&mut out, rtcp, packet.len());
                    out.extend_from_slice(packet);
                }
                let _ = self.write(&out).await;
            }
            Delivery::Udp { rtcp, .. } => {
                // One compound packet, report first.
                let compound = [report, bye].concat();
                let _ = self.shared.rtcp_socket.send_to(&compound, rtcp).await;
            }
        }
    }
}

/// The sender report to send with the frame just packetized, when one is due.
fn sender_report_due(rtp: &mut rtp::RtpState, ts: u32, captured: std::time::SystemTime) -> Option<Vec<u8>> {
    let now = Instant::now();
    if rtp.next_report.is_some_and(|t| now < t) {
        return None;
    }
    rtp.next_report = Some(now + SENDER_REPORT_EVERY);
    Some(rtp::sender_report(rtp, ts, captured))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn basic_credentials_are_checked() {
        let auth = RtspAuth::user_password("viewer", "s3cret:x");
        let header = |s: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(s));
        assert!(auth.accepts_header(&header("viewer:s3cret:x")));
        assert!(auth.accepts_header(&format!("  basic {}", &header("viewer:s3cret:x")[6..])));
        assert!(!auth.accepts_header(&header("viewer:s3cret")));
        assert!(!auth.accepts_header(&header("viewer")));
        assert!(!auth.accepts_header("Digest username=\"viewer\""));
        assert!(!auth.accepts_header("Basic !!!"));
        assert!(!auth.accepts_header(""));
    }

    #[test]
    fn request_paths_resolve_to_their_mount() {
        let mounts = Mounts::new();
        let (a, b) = (LiveFeed::new(1), LiveFeed::new(1));
        assert!(mounts.insert("garden", a).is_none());
        mounts.insert("/door/", b);
        assert_eq!(mounts.paths(), ["/door", "/garden"]);
        assert_eq!(mounts.resolve("/garden").map(|m| m.0).as_deref(), Some("/garden"));
        assert_eq!(mounts.resolve("/garden/trackID=0").map(|m| m.0).as_deref(), Some("/garden"));
        assert_eq!(mounts.resolve("/door/").map(|m| m.0).as_deref(), Some("/door"));
        assert!(mounts.resolve("/gardenx").is_none());
        assert!(mounts.resolve("/").is_none());
        assert!(mounts.resolve("").is_none());
        assert!(mounts.remove("/garden").is_some());
        assert!(mounts.resolve("/garden/trackID=0").is_none());
    }
}
