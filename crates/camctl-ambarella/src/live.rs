//! Live view: the camera's RTSP stream (`rtsp://IP/live`, H.264) read with the `retina` crate and
//! written as an Annex-B elementary stream that players and ffmpeg read.
//!
//! [`Client::live`] starts the viewfinder (259), plays the stream, writes frames from the first keyframe
//! on (parameter sets in front of every keyframe), and stops the viewfinder (260) at the end whatever
//! ended it: the duration, the frame count, the stop future, the output closing, the stream ending or an
//! error. After lost packets it skips to the next keyframe, so the file never holds a damaged picture.

use std::io::Write;
use std::time::Duration;

use futures_util::StreamExt;
use retina::client::{
    PlayOptions, SessionOptions, SetupOptions, TcpTransportOptions, Transport, UdpTransportOptions,
};
use retina::codec::{CodecItem, FrameFormat, ParametersRef};
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::client::Client;
use crate::error::{Error, Result};

/// How RTP reaches the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RtpTransport {
    /// Interleaved on the RTSP connection (default: works through anything that passes TCP).
    #[default]
    Tcp,
    /// UDP unicast (lower latency on a clean link; packets lost on Wi-Fi show as gaps).
    Udp,
}

/// What [`Client::live`] records and when it stops.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Stop after this long (from the first frame asked for); `None` = until stopped.
    pub duration: Option<Duration>,
    /// Stop after this many frames written.
    pub frames: Option<u64>,
    /// RTP transport.
    pub transport: RtpTransport,
    /// Longest wait for the stream to answer or for the next frame before giving up.
    pub idle_timeout: Duration,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            duration: None,
            frames: None,
            transport: RtpTransport::Tcp,
            idle_timeout: Duration::from_secs(10),
        }
    }
}

/// Why a live view ended normally.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LiveEnd {
    /// The requested duration passed.
    #[default]
    Duration,
    /// The requested number of frames was written.
    Frames,
    /// The stop future completed (Ctrl-C, SIGTERM...).
    Stopped,
    /// The output's reader went away (a closed pipe).
    OutputClosed,
    /// The camera ended the stream (its viewfinder stopped).
    StreamEnded,
}

/// What [`Client::live`] recorded.
#[derive(Debug, Clone, Default)]
pub struct LiveReport {
    /// Frames written.
    pub frames: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Frames received but not written: before the first keyframe and after a loss until the next one.
    pub skipped: u64,
    /// Times packets were lost (each loss counts once).
    pub gaps: u64,
    /// Frames missing in those gaps, estimated from the RTP timestamps.
    pub missing_frames: u64,
    /// Picture size from the stream's parameters.
    pub dimensions: Option<(u32, u32)>,
    /// From the first frame asked for to the end.
    pub elapsed: Duration,
    /// Why it stopped.
    pub end: LiveEnd,
    /// The RTSP URL played.
    pub url: String,
}

/// A failed live view, with what was recorded before it failed.
#[derive(Debug)]
pub struct LiveError {
    /// What went wrong.
    pub error: Error,
    /// What was written until then.
    pub report: LiveReport,
}

/// How often the command connection gets a cheap request while only the stream is read: the camera (and
/// the emulator) close a command connection silent for 60 s, which would also end the viewfinder.
const COMMAND_KEEPALIVE: Duration = Duration::from_secs(20);

impl Client {
    /// Starts the viewfinder, writes the live stream to `out` as Annex-B H.264 until `options` or `stop`
    /// say so, and stops the viewfinder again (also after a failure). Memory stays bounded: one frame at
    /// a time is held.
    pub async fn live<W: Write>(
        &mut self,
        out: W,
        options: &LiveOptions,
        stop: impl Future<Output = ()>,
    ) -> std::result::Result<LiveReport, LiveError> {
        let mut report = LiveReport::default();
        let mut stop = std::pin::pin!(stop);
        let started = tokio::select! {
            r = self.start_preview() => r,
            () = &mut stop => {
                // The 259 may have reached the camera: switch the viewfinder off again, best effort.
                let _ = self.stop_preview().await;
                report.end = LiveEnd::Stopped;
                return Ok(report);
            }
        };
        let result = match started {
            Ok(url) => {
                report.url = url.clone();
                play_to(&url, out, options, stop, &mut report, Some(self)).await
            }
            Err(e) => Err(e),
        };
        // Whatever happened, the camera's viewfinder goes back off.
        if let Err(e) = self.stop_preview().await {
            warn!(error = %e, "stopping the preview");
        }
        match result {
            Ok(()) => Ok(report),
            Err(error) => Err(LiveError { error, report }),
        }
    }
}

/// Records any RTSP H.264 stream (`rtsp://...`) like [`Client::live`] does the camera's, without
/// touching a camera's viewfinder.
pub async fn record<W: Write>(
    url: &str,
    out: W,
    options: &LiveOptions,
    stop: impl Future<Output = ()>,
) -> std::result::Result<LiveReport, LiveError> {
    let mut report = LiveReport { url: url.to_string(), ..LiveReport::default() };
    let stop = std::pin::pin!(stop);
    match play_to(url, out, options, stop, &mut report, None).await {
        Ok(()) => Ok(report),
        Err(error) => Err(LiveError { error, report }),
    }
}

/// One picture of a live view, as [`stream_frames`] hands it over.
#[derive(Debug, Clone, Copy)]
pub struct LiveFrame<'a> {
    /// The access unit, Annex-B (parameter sets in front of keyframes).
    pub data: &'a [u8],
    /// Whether it decodes on its own.
    pub keyframe: bool,
    /// RTP timestamp (90 kHz) relative to the stream's start.
    pub pts: i64,
}

/// Plays an RTSP H.264 stream like [`record`], handing each frame to `emit` instead of writing it; an
/// `emit` error of kind `BrokenPipe` ends it normally ([`LiveEnd::OutputClosed`]).
pub async fn stream_frames(
    url: &str,
    options: &LiveOptions,
    stop: impl Future<Output = ()>,
    emit: impl FnMut(LiveFrame<'_>) -> std::io::Result<()>,
) -> std::result::Result<LiveReport, LiveError> {
    let mut report = LiveReport { url: url.to_string(), ..LiveReport::default() };
    let stop = std::pin::pin!(stop);
    match play(url, emit, options, stop, &mut report, None).await {
        Ok(()) => Ok(report),
        Err(error) => Err(LiveError { error, report }),
    }
}

/// [`play`] into `out`, flushed at the end.
async fn play_to<W: Write>(
    url: &str,
    mut out: W,
    options: &LiveOptions,
    stop: std::pin::Pin<&mut impl Future<Output = ()>>,
    report: &mut LiveReport,
    camera: Option<&mut Client>,
) -> Result<()> {
    let played = play(url, |f| out.write_all(f.data), options, stop, report, camera).await;
    let flushed = match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Io(e)),
        _ => Ok(()),
    };
    played?;
    flushed
}

/// Plays `url` into `out`; `camera`, when given, gets a cheap request now and then so that its command
/// connection stays open.
async fn play(
    url: &str,
    mut emit: impl FnMut(LiveFrame<'_>) -> std::io::Result<()>,
    options: &LiveOptions,
    mut stop: std::pin::Pin<&mut impl Future<Output = ()>>,
    report: &mut LiveReport,
    mut camera: Option<&mut Client>,
) -> Result<()> {
    let parsed = url::Url::parse(url).map_err(|e| Error::Protocol(format!("live view URL: {e}")))?;
    let limit = options.idle_timeout;
    let step = |what: &str| Error::Timeout(format!("{what} (no answer in {} s)", limit.as_secs()));
    let rtsp = |e: retina::Error| Error::Protocol(format!("RTSP: {e}"));
    let session_options = SessionOptions::default().user_agent("camctl".into());
    let mut session = tokio::time::timeout(limit, retina::client::Session::describe(parsed, session_options))
        .await
        .map_err(|_| step("RTSP DESCRIBE"))?
        .map_err(rtsp)?;
    let video = session
        .streams()
        .iter()
        .position(|s| s.media() == "video" && s.encoding_name().eq_ignore_ascii_case("h264"))
        .ok_or_else(|| Error::Protocol("the live view has no H.264 video".into()))?;
    let transport = match options.transport {
        RtpTransport::Tcp => Transport::Tcp(TcpTransportOptions::default()),
        RtpTransport::Udp => Transport::Udp(UdpTransportOptions::default()),
    };
    let setup = SetupOptions::default().transport(transport).frame_format(FrameFormat::SIMPLE);
    tokio::time::timeout(limit, session.setup(video, setup))
        .await
        .map_err(|_| step("RTSP SETUP"))?
        .map_err(rtsp)?;
    let playing = tokio::time::timeout(limit, session.play(PlayOptions::default()))
        .await
        .map_err(|_| step("RTSP PLAY"))?
        .map_err(rtsp)?;
    let mut demuxed = playing.demuxed().map_err(rtsp)?;

    let start = Instant::now();
    let deadline = options.duration.map(|d| start + d);
    let mut keepalive = tokio::time::interval_at(start + COMMAND_KEEPALIVE, COMMAND_KEEPALIVE);
    let mut gaps = GapCounter::default();
    let mut waiting_for_keyframe = true;
    let outcome = loop {
        if options.frames.is_some_and(|n| report.frames >= n) {
            break Ok(LiveEnd::Frames);
        }
        let next_deadline = {
            let idle = Instant::now() + limit;
            deadline.map_or(idle, |d| d.min(idle))
        };
        let item = tokio::select! {
            item = tokio::time::timeout_at(next_deadline, demuxed.next()) => item,
            () = &mut stop => break Ok(LiveEnd::Stopped),
            _ = keepalive.tick(), if camera.is_some() => {
                if let Some(camera) = camera.as_deref_mut()
                    && let Err(e) = camera.battery().await
                {
                    break Err(e);
                }
                continue;
            }
        };
        let frame = match item {
            Err(_) if deadline.is_some_and(|d| Instant::now() >= d) => break Ok(LiveEnd::Duration),
            Err(_) => break Err(Error::Timeout(format!("no live video for {} s", limit.as_secs()))),
            Ok(None) => break Ok(LiveEnd::StreamEnded),
            Ok(Some(Err(e))) => break Err(rtsp(e)),
            Ok(Some(Ok(CodecItem::VideoFrame(frame)))) => frame,
            Ok(Some(Ok(_))) => continue,
        };
        if (frame.has_new_parameters() || report.dimensions.is_none())
            && let Some(ParametersRef::Video(p)) = demuxed.streams().get(video).and_then(|s| s.parameters())
        {
            report.dimensions = Some(p.pixel_dimensions());
        }
        if gaps.note(frame.loss(), frame.timestamp().elapsed()) {
            debug!(lost_packets = frame.loss(), "packets lost: waiting for the next keyframe");
            waiting_for_keyframe = true;
        }
        if waiting_for_keyframe && !frame.is_random_access_point() {
            report.skipped += 1;
            continue;
        }
        waiting_for_keyframe = false;
        let data = frame.data();
        let live =
            LiveFrame { data, keyframe: frame.is_random_access_point(), pts: frame.timestamp().elapsed() };
        match emit(live) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break Ok(LiveEnd::OutputClosed),
            Err(e) => break Err(Error::Io(e)),
        }
        report.frames += 1;
        report.bytes += data.len() as u64;
    };
    report.elapsed = start.elapsed();
    report.gaps = gaps.gaps;
    report.missing_frames = gaps.missing;
    report.end = outcome?;
    Ok(())
}

/// Counts losses and estimates the frames they cost from the RTP timestamps (the frame interval is the
/// smallest step seen).
#[derive(Default)]
struct GapCounter {
    last: Option<i64>,
    interval: Option<i64>,
    gaps: u64,
    missing: u64,
}

impl GapCounter {
    /// Notes a frame; true when packets were lost before it.
    fn note(&mut self, lost_packets: u16, timestamp: i64) -> bool {
        let step = self.last.map(|last| timestamp.saturating_sub(last));
        self.last = Some(timestamp);
        if lost_packets == 0 {
            if let Some(step) = step.filter(|s| *s > 0) {
                self.interval = Some(self.interval.map_or(step, |i| i.min(step)));
            }
            return false;
        }
        self.gaps += 1;
        if let (Some(step), Some(interval)) = (step, self.interval) {
            // Rounded: a frame whose timestamp jitters a little is not a missing frame.
            let frames = (step + interval / 2) / interval;
            self.missing += u64::try_from(frames.saturating_sub(1)).unwrap_or(0);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::GapCounter;

    #[test]
    fn gap_counter_estimates_missing_frames_from_timestamps() {
        let mut g = GapCounter::default();
        for (loss, ts) in [(0, 0), (0, 6000), (0, 12000), (3, 30000), (0, 36000), (1, 42000)] {
            g.note(loss, ts);
        }
        // 12000 -> 30000 is three intervals: two frames missing; 36000 -> 42000 lost packets of one frame.
        assert_eq!((g.gaps, g.missing), (2, 2));
    }
}
