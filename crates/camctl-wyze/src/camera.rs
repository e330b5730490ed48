//! [`camctl_core::Camera`] for Wyze cameras over the native TUTK LAN transport, plus live video.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use camctl_core::{Camera, CameraInfo, CameraUrl, Error as CoreError, Event, MediaItem, Result, Setting};
use tokio::io::AsyncWrite;

use crate::client::{ClientConfig, WyzeSession};
use crate::sink::{AnnexBSink, SinkStats};
use crate::tutk::{ConnectOptions, Firmware, UdpClientTransport};
use crate::wire::codec;

/// The camera's UDP port (LAN search and session setup).
pub const DEFAULT_PORT: u16 = 32761;

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
    options: ConnectOptions,
}

impl Target {
    fn from_url(url: &CameraUrl) -> Result<Target> {
        if url.scheme != "wyze" {
            return Err(CoreError::InvalidValue(format!("not a wyze:// URL: {url}")));
        }
        let required = |key: &str| {
            url.options.get(key).filter(|v| !v.is_empty()).cloned().ok_or_else(|| {
                CoreError::InvalidValue(format!(
                    "wyze:// URL needs {key}= (uid, enr and mac come from the Wyze app's device list; see README)"
                ))
            })
        };
        let mut options = ConnectOptions::default();
        if let Some(f) = url.options.get("firmware") {
            options.firmware = Firmware::parse(f)
                .ok_or_else(|| CoreError::InvalidValue(format!("firmware={f} (use auto, old or cc51)")))?;
        }
        if let Some(d) = url.options.get("dtls") {
            options.dtls = match d.as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                other => return Err(CoreError::InvalidValue(format!("dtls={other} (use true or false)"))),
            };
        }
        if let Some(t) = url.options.get("timeout") {
            let secs: f64 = t.parse().map_err(|_| CoreError::InvalidValue(format!("timeout={t}")))?;
            options.timeout = Duration::from_secs_f64(secs.clamp(0.1, 600.0));
        }
        let resolution = match url.options.get("resolution") {
            Some(r) => Some(crate::wire::FrameSize::parse(r).ok_or_else(|| {
                CoreError::InvalidValue(format!("resolution={r} (use 1080p, 720p, 360p or 2k)"))
            })?),
            None => None,
        };
        Ok(Target {
            resolution,
            host: url.host.clone(),
            port: url.port_or(DEFAULT_PORT),
            uid: required("uid")?,
            enr: required("enr")?,
            mac: required("mac")?,
            model: url.options.get("model").cloned(),
            options,
        })
    }

    /// Connects; video flows only if `video` (info and settings need none).
    async fn connect(&self, video: bool) -> Result<WyzeSession<UdpClientTransport>> {
        let addr = resolve(&self.host, self.port).await?;
        let transport = crate::tutk::connect(addr, &self.uid, &self.enr, &self.mac, self.options.clone())
            .await
            .map_err(|e| CoreError::from(crate::Error::from(e)))?;
        let mut config = ClientConfig::new(&self.enr, &self.mac);
        config.model = self.model.clone();
        config.timeout = self.options.timeout;
        config.open_video = video;
        // Keep the resolution the camera has unless the URL asks for one.
        config.frame_size = self.resolution;
        Ok(WyzeSession::connect(transport, config).await?)
    }
}

async fn resolve(host: &str, port: u16) -> Result<SocketAddr> {
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| CoreError::io(format!("resolving {host}"), e))?;
    addrs.next().ok_or_else(|| CoreError::NotFound(format!("no address for {host}")))
}

/// What [`WyzeCamera::live`] recorded.
#[derive(Debug, Clone, Default)]
pub struct LiveReport {
    /// Sink totals (frames and bytes written, gaps, picture size).
    pub stats: SinkStats,
    /// Audio frames received (not written: the output is a video elementary stream).
    pub audio_frames: u64,
    /// Times the connection was re-established after the camera went away.
    pub reconnects: u32,
    /// Time spent receiving.
    pub elapsed: Duration,
}

/// A Wyze camera reached over the TUTK LAN protocol (`wyze://HOST[:PORT]?uid=..&enr=..&mac=..`).
pub struct WyzeCamera {
    target: Target,
    session: WyzeSession<UdpClientTransport>,
    /// Whether the video channel is on.
    video: bool,
}

impl WyzeCamera {
    /// Connects: LAN discovery to `HOST:PORT` (default 32761), session, DTLS, AV login, then the
    /// K-command authentication with the ENR. URL options: `uid`, `enr`, `mac` (required), `model`,
    /// `firmware=auto|old|cc51`, `dtls=true|false`, `timeout=SECS`, `resolution=1080p|720p|360p|2k`
    /// (asked for on connecting; otherwise the camera keeps its own).
    pub async fn connect(url: &CameraUrl) -> Result<WyzeCamera> {
        let target = Target::from_url(url)?;
        let session = target.connect(false).await?;
        Ok(WyzeCamera { target, session, video: false })
    }

    /// The message-layer session, for Wyze-specific requests.
    pub fn session(&self) -> &WyzeSession<UdpClientTransport> {
        &self.session
    }

    /// Writes the live video as an Annex-B elementary stream (H.264 or H.265 as the camera sends it)
    /// to `out` until `duration` has passed (forever if `None`). When the camera goes away the client
    /// reconnects with backoff (0.5 s doubling to 8 s) and the stream resumes at the next keyframe;
    /// it gives up after the camera stays away for the connection timeout five times in a row.
    pub async fn live<W: Write>(&mut self, out: W, duration: Option<Duration>) -> Result<LiveReport> {
        let start = Instant::now();
        let deadline = duration.map(|d| tokio::time::Instant::now() + d);
        if !self.video {
            // 10010: switch the video channel on (media 1).
            self.session.control_channel(1, true).await?;
            self.video = true;
        }
        let mut sink = AnnexBSink::new(out);
        let mut report = LiveReport::default();
        let mut failures = 0u32;
        loop {
            let next = self.session.recv_frame();
            let frame = match deadline {
                Some(d) => match tokio::time::timeout_at(d, next).await {
                    Ok(f) => f,
                    Err(_) => break,
                },
                None => next.await,
            };
            match frame {
                Ok((info, data)) => {
                    failures = 0;
                    if codec::is_audio(info.codec_id) {
                        report.audio_frames += 1;
                        continue;
                    }
                    sink.push(&info, &data).map_err(|e| CoreError::io("writing the video", e))?;
                }
                Err(e) => {
                    tracing::warn!("live stream interrupted: {e}");
                    let mut backoff = Duration::from_millis(500);
                    loop {
                        failures += 1;
                        if failures > 5 {
                            return Err(CoreError::from(e));
                        }
                        if deadline.is_some_and(|d| tokio::time::Instant::now() + backoff >= d) {
                            report.elapsed = start.elapsed();
                            report.stats = sink.stats();
                            return Ok(report);
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(8));
                        match self.target.connect(true).await {
                            Ok(session) => {
                                self.session = session;
                                report.reconnects += 1;
                                break;
                            }
                            Err(e) => tracing::warn!("reconnecting: {e}"),
                        }
                    }
                }
            }
        }
        report.elapsed = start.elapsed();
        report.stats = sink.stats();
        sink.into_inner().and_then(|mut w| w.flush()).map_err(|e| CoreError::io("writing the video", e))?;
        Ok(report)
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

    async fn close(self) -> Result<()> {
        self.session.into_transport().close().await;
        Ok(())
    }
}
