//! [`camctl_core::Camera`] for Wyze cameras over the native TUTK LAN transport, plus live video.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use camctl_core::text::Safe;
use camctl_core::{Camera, CameraInfo, CameraUrl, Error as CoreError, Event, MediaItem, Result, Setting};
use tokio::io::AsyncWrite;

use crate::client::{ClientConfig, WyzeSession};
use crate::sink::{Container, LiveSink, SinkStats};
use crate::tutk::{ConnectOptions, Firmware, TutkError, UdpClientTransport};
use crate::wire::codec;

/// The camera's UDP port (LAN search and session setup).
pub const DEFAULT_PORT: u16 = 32761;

/// The URL options a `wyze://` URL may carry.
const KNOWN_OPTIONS: &[&str] = &[
    "uid",
    "enr",
    "mac",
    "model",
    "firmware",
    "dtls",
    "timeout",
    "resolution",
    "subtype",
    "audio",
    "resend",
];

/// What a `wyze://` URL says about the camera and how to reach it.
#[derive(Debug, Clone)]
struct Target {
    host: String,
    port: u16,
    uid: String,
    enr: String,
    mac: String,
    model: Option<String>,
    /// Resolution to ask for when connecting; `None` keeps the camera's.
    resolution: Option<crate::wire::FrameSize>,
    /// go2rtc's `subtype=hd|sd`, asked for when connecting unless `resolution` is given.
    substream: Option<crate::client::Substream>,
    /// Audio along with the video (`audio=`, default on).
    audio: bool,
    options: ConnectOptions,
}

/// Checks the UID's form: TUTK UIDs (Wyze `p2p_id`) are 20 characters, uppercase letters and digits.
fn check_uid(uid: &str) -> Result<()> {
    const FORM: &str = "20 uppercase letters and digits (the p2p_id from the Wyze app's device list)";
    let n = uid.chars().count();
    if n != 20 {
        return Err(CoreError::InvalidValue(format!(
            "uid={}: expected {FORM}; it has {n} characters",
            Safe(uid)
        )));
    }
    if let Some((i, c)) =
        uid.chars().enumerate().find(|(_, c)| !(c.is_ascii_uppercase() || c.is_ascii_digit()))
    {
        let what = if c.is_ascii_lowercase() { "a lowercase letter" } else { "not a letter or digit" };
        let c = c.to_string();
        return Err(CoreError::InvalidValue(format!(
            "uid={}: expected {FORM}; character {} ({}) is {what}",
            Safe(uid),
            i + 1,
            Safe(&c)
        )));
    }
    Ok(())
}

/// Checks the ENR's form (16 characters, or 32 for double-key cameras; printable ASCII). The ENR is a
/// secret, so the message says what is wrong without repeating it.
fn check_enr(enr: &str) -> Result<()> {
    const FORM: &str = "16 or 32 characters (the ENR from the Wyze app's device list)";
    let n = enr.chars().count();
    if n != 16 && n != 32 {
        return Err(CoreError::InvalidValue(format!("enr=: expected {FORM}; it has {n} characters")));
    }
    if let Some(i) = enr.chars().position(|c| !c.is_ascii_graphic()) {
        return Err(CoreError::InvalidValue(format!(
            "enr=: expected {FORM}; character {} is not printable ASCII (percent-encode / and + as %2F and %2B)",
            i + 1
        )));
    }
    Ok(())
}

/// Checks the MAC's form: 12 hex digits, no separators.
fn check_mac(mac: &str) -> Result<()> {
    if mac.len() == 12 && mac.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(());
    }
    let hint = if mac.contains([':', '-']) { " without separators" } else { "" };
    Err(CoreError::InvalidValue(format!(
        "mac={}: expected 12 hex digits{hint}, e.g. 2CAA8E000001",
        Safe(mac)
    )))
}

/// `2 s`, `0.5 s`: durations in error messages.
fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 { format!("{s:.0} s") } else { format!("{s:.1} s") }
}

impl Target {
    fn from_url(url: &CameraUrl) -> Result<Target> {
        if url.scheme != "wyze" {
            return Err(CoreError::InvalidValue(format!("not a wyze:// URL: {url}")));
        }
        url.check_options(KNOWN_OPTIONS).map_err(|e| CoreError::InvalidValue(e.to_string()))?;
        let required = |key: &str| {
            url.options.get(key).filter(|v| !v.is_empty()).cloned().ok_or_else(|| {
                CoreError::InvalidValue(format!(
                    "wyze:// URL needs {key}= (uid, enr and mac come from the Wyze app's device list; see README)"
                ))
            })
        };
        let (uid, enr, mac) = (required("uid")?, required("enr")?, required("mac")?);
        check_uid(&uid)?;
        check_enr(&enr)?;
        check_mac(&mac)?;
        let mut options = ConnectOptions::default();
        if let Some(f) = url.options.get("firmware") {
            options.firmware = Firmware::parse(f).ok_or_else(|| {
                CoreError::InvalidValue(format!("firmware={} (use auto, old or cc51)", Safe(f)))
            })?;
        }
        options.dtls = url.option_bool("dtls", options.dtls)?;
        options.resend = url.option_bool("resend", options.resend)?;
        if let Some(t) = url.options.get("timeout") {
            let secs: f64 = t.parse().ok().filter(|s: &f64| s.is_finite() && *s > 0.0).ok_or_else(|| {
                CoreError::InvalidValue(format!("timeout={} (use seconds, e.g. 5)", Safe(t)))
            })?;
            options.timeout = Duration::from_secs_f64(secs.clamp(0.1, 600.0));
            // The overall limit of the setup grows with a longer per-phase timeout.
            options.overall_timeout = options.overall_timeout.max(options.timeout * 4);
        }
        let resolution = match url.options.get("resolution") {
            Some(r) => Some(crate::wire::FrameSize::parse(r).ok_or_else(|| {
                CoreError::InvalidValue(format!("resolution={} (use 1080p, 720p, 360p or 2k)", Safe(r)))
            })?),
            None => None,
        };
        let substream = match url.options.get("subtype") {
            Some(s) => Some(
                crate::client::Substream::parse(s)
                    .ok_or_else(|| CoreError::InvalidValue(format!("subtype={} (use hd or sd)", Safe(s))))?,
            ),
            None => None,
        };
        let audio = url.option_bool("audio", true)?;
        Ok(Target {
            resolution,
            substream,
            audio,
            host: url.host.clone(),
            port: url.port_or(DEFAULT_PORT),
            uid,
            enr,
            mac,
            model: url.options.get("model").cloned(),
            options,
        })
    }

    /// Connects; video flows only if `video` (info and settings need none), and audio with it unless
    /// the URL says `audio=false`.
    async fn connect(&self, video: bool) -> Result<WyzeSession<UdpClientTransport>> {
        let addr = resolve(&self.host, self.port).await?;
        let transport = crate::tutk::connect(addr, &self.uid, &self.enr, &self.mac, self.options.clone())
            .await
            .map_err(|e| connect_error(addr, e))?;
        tracing::info!(firmware = transport.firmware().name(), "TUTK session with {addr}");
        let mut config = ClientConfig::new(&self.enr, &self.mac);
        config.model = self.model.clone();
        config.timeout = self.options.timeout;
        config.handshake_timeout = config.handshake_timeout.max(self.options.timeout * 4);
        config.open_video = video;
        // Keep the stream the camera has unless the URL asks for one; `resolution=` wins over `subtype=`
        // and goes with go2rtc's bitrate for that size.
        config.frame_size = self.resolution;
        config.bitrate = self.resolution.map_or(config.bitrate, crate::wire::bitrate::go2rtc);
        config.substream = self.substream;
        config.open_audio = self.audio;
        WyzeSession::connect(transport, config).await.map_err(|e| match e {
            crate::Error::Timeout { request, expected, timeout } => CoreError::Timeout(format!(
                "after {} waiting for K{expected} from the Wyze camera at {addr} (reply to K{request})",
                secs(timeout)
            )),
            crate::Error::WrongEnr | crate::Error::AuthFailed(_) | crate::Error::CameraStatus { .. } => {
                CoreError::Rejected(format!("Wyze camera at {addr}: {e}"))
            }
            crate::Error::Transport(crate::transport::TransportError::Io(io)) => {
                CoreError::unreachable("Wyze", &addr.to_string(), &io)
            }
            other => other.into(),
        })
    }
}

/// A transport failure in the user's terms, naming protocol, host and port.
fn connect_error(addr: SocketAddr, e: TutkError) -> CoreError {
    let at = addr.to_string();
    let unreachable =
        |reason: String| CoreError::Unreachable { protocol: "Wyze".into(), addr: at.clone(), reason };
    match e {
        TutkError::Io(io) => CoreError::unreachable("Wyze", &at, &io),
        TutkError::DiscoveryTimeout { after, .. } => unreachable(format!(
            "no answer to LAN discovery in {} (camera offline, wrong UID, ENR or MAC, or its session limit reached)",
            secs(after)
        )),
        TutkError::SessionTimeout { after, .. } => {
            unreachable(format!("it answered LAN discovery but not the session request in {}", secs(after)))
        }
        TutkError::DtlsHandshake { detail } => CoreError::Rejected(format!(
            "Wyze camera at {at}: DTLS handshake failed ({detail}); wrong ENR? (the PSK is SHA-256 of the ENR)"
        )),
        TutkError::AvLoginTimeout(after) => CoreError::Timeout(format!(
            "after {} waiting for the AV login answer of the Wyze camera at {at}",
            secs(after)
        )),
        TutkError::AvLoginRefused => {
            CoreError::Rejected(format!("Wyze camera at {at} refused the AV login (wrong ENR?)"))
        }
    }
}

async fn resolve(host: &str, port: u16) -> Result<SocketAddr> {
    let unreachable = |reason: String| CoreError::Unreachable {
        protocol: "Wyze".into(),
        addr: format!("{}:{port}", Safe(host)),
        reason,
    };
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| unreachable(format!("cannot resolve the host name ({e})")))?;
    addrs.next().ok_or_else(|| unreachable("the host name has no address".into()))
}

/// Why [`WyzeCamera::live_until`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LiveEnd {
    /// The requested duration passed.
    #[default]
    Duration,
    /// The stop future completed (Ctrl-C, SIGTERM...).
    Stopped,
    /// The output's reader went away (a closed pipe): a normal end for `camctl live --out - | head`.
    OutputClosed,
    /// The requested number of video frames was written.
    FrameLimit,
}

/// What [`WyzeCamera::live_until`] records and when it stops.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveOptions {
    /// Stop after this long (`None`: no time limit).
    pub duration: Option<Duration>,
    /// Stop after this many video frames are written (`None`: no frame limit).
    pub frames: Option<u64>,
    /// Annex-B video, or Matroska video and audio (audio is then switched on).
    pub container: Container,
}

/// What [`WyzeCamera::live`] recorded.
#[derive(Debug, Clone, Default)]
pub struct LiveReport {
    /// Sink totals (video and audio frames and bytes written, gaps, picture size). Each outage counts
    /// as one gap.
    pub stats: SinkStats,
    /// Audio frames received (written only to Matroska: `stats.audio_written`).
    pub audio_frames: u64,
    /// Times the connection was re-established after the camera went away.
    pub reconnects: u32,
    /// Time spent receiving.
    pub elapsed: Duration,
    /// Why it stopped.
    pub end: LiveEnd,
}

/// A failed live session, with what was recorded before it failed (so the caller can keep it).
#[derive(Debug)]
pub struct LiveError {
    /// What went wrong.
    pub error: CoreError,
    /// What was written until then.
    pub report: LiveReport,
}

/// A Wyze camera reached over the TUTK LAN protocol (`wyze://HOST[:PORT]?uid=..&enr=..&mac=..`).
pub struct WyzeCamera {
    target: Target,
    session: WyzeSession<UdpClientTransport>,
    /// Whether the video channel is on.
    video: bool,
    /// Whether the audio channel is on.
    audio: bool,
}

impl WyzeCamera {
    /// Connects: LAN discovery to `HOST:PORT` (default 32761), session, DTLS, AV login, then the
    /// K-command authentication with the ENR. URL options: `uid` (20 uppercase letters and digits),
    /// `enr` (16 or 32 characters), `mac` (12 hex digits), all required and checked for form before
    /// anything is sent; `model`, `firmware=auto|old|cc51`, `dtls=true|false`, `timeout=SECS`,
    /// `resolution=1080p|720p|360p|2k` or go2rtc's `subtype=hd|sd` (asked for on connecting, `resolution`
    /// winning when both are given; with neither the camera keeps its stream), `audio=true|false` (audio
    /// along with the video, default true), `resend=1|0` (TUTK resend mode: lost packets are asked for
    /// again; default 0, as go2rtc). Other options are refused.
    pub async fn connect(url: &CameraUrl) -> Result<WyzeCamera> {
        let target = Target::from_url(url)?;
        let session = target.connect(false).await?;
        Ok(WyzeCamera { target, session, video: false, audio: false })
    }

    /// The message-layer session, for Wyze-specific requests.
    pub fn session(&self) -> &WyzeSession<UdpClientTransport> {
        &self.session
    }

    /// [`WyzeCamera::live_until`] of Annex-B video for `duration`, without a stop signal.
    pub async fn live<W: Write>(&mut self, out: W, duration: Option<Duration>) -> Result<LiveReport> {
        let options = LiveOptions { duration, ..LiveOptions::default() };
        self.live_until(out, options, std::future::pending()).await.map_err(|e| e.error)
    }

    /// Writes the live stream to `out`, in `options.container`: Annex-B video (H.264 or H.265 as the
    /// camera sends it), or Matroska with video and audio (the audio channel is switched on; if the
    /// camera sends no audio within 2 s the file is video only). Stops when `options.duration` has
    /// passed, `options.frames` video frames are written ([`LiveEnd::FrameLimit`]), `stop` completes, or
    /// `out`'s reader goes away (a broken pipe ends the recording normally, [`LiveEnd::OutputClosed`]).
    /// `out` is flushed before returning. When the camera goes away the client reconnects with backoff
    /// (0.5 s doubling to 8 s) and the stream resumes at the next keyframe, counted as a gap; it gives
    /// up after the camera stays away for the connection timeout five times in a row.
    pub async fn live_until<W: Write, S: Future<Output = ()>>(
        &mut self,
        out: W,
        options: LiveOptions,
        stop: S,
    ) -> std::result::Result<LiveReport, LiveError> {
        let start = Instant::now();
        let deadline = options.duration.map(|d| tokio::time::Instant::now() + d);
        let audio = options.container == Container::Matroska;
        let mut sink = LiveSink::new(out, options.container, audio);
        let mut report = LiveReport::default();
        let stop = std::pin::pin!(stop);
        let result = self.receive(&mut sink, &mut report, deadline, options.frames, stop).await;
        report.elapsed = start.elapsed();
        let pending = sink.write_pending();
        report.stats = sink.stats();
        let flushed = pending.and_then(|()| sink.into_inner()).and_then(|mut w| w.flush());
        match (result, flushed) {
            (Ok(end), Ok(())) => Ok(LiveReport { end, ..report }),
            (Ok(_), Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                Ok(LiveReport { end: LiveEnd::OutputClosed, ..report })
            }
            (Ok(_), Err(e)) => Err(LiveError { error: CoreError::io("writing the video", e), report }),
            (Err(error), _) => Err(LiveError { error, report }),
        }
    }

    async fn receive<W: Write>(
        &mut self,
        sink: &mut LiveSink<W>,
        report: &mut LiveReport,
        deadline: Option<tokio::time::Instant>,
        frame_limit: Option<u64>,
        mut stop: std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Result<LiveEnd> {
        let until_deadline = || async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        if !self.video {
            // 10010: switch the video channel on (media 1).
            tokio::select! {
                _ = &mut stop => return Ok(LiveEnd::Stopped),
                on = self.session.control_channel(1, true) => on?,
            }
            self.video = true;
            // The client switches audio on with the video (unless `audio=false`).
            self.audio |= self.target.audio;
        }
        let want_audio = matches!(sink, LiveSink::Matroska(_)) && self.target.audio;
        if want_audio && !self.audio {
            // 10010 media 2. A camera without audio still gives a video-only recording.
            tokio::select! {
                _ = &mut stop => return Ok(LiveEnd::Stopped),
                on = self.session.control_channel(2, true) => match on {
                    Ok(()) => self.audio = true,
                    Err(e) => tracing::warn!("the camera did not switch audio on: {e}"),
                },
            }
        }
        let mut failures = 0u32;
        loop {
            let frame = tokio::select! {
                biased;
                _ = &mut stop => return Ok(LiveEnd::Stopped),
                _ = until_deadline() => return Ok(LiveEnd::Duration),
                f = self.session.recv_frame() => f,
            };
            let lost = match frame {
                Ok((info, data)) => {
                    failures = 0;
                    if codec::is_audio(info.codec_id) {
                        report.audio_frames += 1;
                    }
                    match sink.push(&info, &data) {
                        Ok(_) if frame_limit.is_some_and(|n| sink.stats().frames_written >= n) => {
                            return Ok(LiveEnd::FrameLimit);
                        }
                        Ok(_) => continue,
                        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                            return Ok(LiveEnd::OutputClosed);
                        }
                        Err(e) => return Err(CoreError::io("writing the video", e)),
                    }
                }
                Err(e) => e,
            };
            tracing::warn!("live stream interrupted: {lost}");
            // Free the camera's slot now: a camera with one free slot could not take us back otherwise.
            self.session.transport().shutdown();
            let mut last = CoreError::from(lost);
            let mut backoff = Duration::from_millis(500);
            loop {
                failures += 1;
                if failures > 5 {
                    return Err(last);
                }
                tokio::select! {
                    _ = &mut stop => return Ok(LiveEnd::Stopped),
                    _ = until_deadline() => return Ok(LiveEnd::Duration),
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(8));
                let connected = tokio::select! {
                    _ = &mut stop => return Ok(LiveEnd::Stopped),
                    _ = until_deadline() => return Ok(LiveEnd::Duration),
                    c = self.target.connect(true) => c,
                };
                match connected {
                    Ok(session) => {
                        std::mem::replace(&mut self.session, session).into_transport().close().await;
                        report.reconnects += 1;
                        // Frame numbers start again in the new session; the outage is a gap.
                        sink.discontinuity();
                        tracing::info!("reconnected; receiving live video");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!("reconnecting: {e}");
                        last = e;
                    }
                }
            }
        }
    }
}

impl Camera for WyzeCamera {
    async fn info(&mut self) -> Result<CameraInfo> {
        Ok(self.session.info())
    }

    async fn list_media(&mut self) -> Result<Vec<MediaItem>> {
        Err(CoreError::Unsupported(
            "Wyze cameras do not list their SD card over the local TUTK protocol (use `camctl live`)".into(),
        ))
    }

    async fn download<W>(&mut self, item: &MediaItem, _offset: u64, _out: &mut W) -> Result<u64>
    where
        W: AsyncWrite + Unpin + Send,
    {
        Err(CoreError::Unsupported(format!("{}: Wyze cameras have no file download over TUTK", item.path)))
    }

    async fn capture(&mut self) -> Result<Vec<MediaItem>> {
        Err(CoreError::Unsupported("Wyze cameras take no pictures over TUTK (use `camctl live`)".into()))
    }

    async fn settings(&mut self) -> Result<Vec<Setting>> {
        Ok(self.session.settings().await?)
    }

    async fn setting(&mut self, key: &str) -> Result<Setting> {
        Ok(self.session.setting(key).await?)
    }

    async fn set_setting(&mut self, key: &str, value: &str) -> Result<Setting> {
        Ok(self.session.set_setting(key, value).await?)
    }

    async fn next_event(&mut self) -> Result<Option<Event>> {
        Ok(self.session.next_event().await?)
    }

    async fn next_event_within(&mut self, wait: Duration) -> Result<Option<Event>> {
        // The session reads messages into a queue: waiting on it can be cut short safely.
        match tokio::time::timeout(wait, self.session.next_event()).await {
            Ok(e) => Ok(Some(e?.ok_or_else(camctl_core::camera::event_stream_closed)?)),
            Err(_) => Ok(None),
        }
    }

    async fn close(self) -> Result<()> {
        self.session.into_transport().close().await;
        Ok(())
    }
}
