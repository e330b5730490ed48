//! `camctl live`: the camera's live video to a file or stdout.
//!
//! Every family writes what its camera streams: Wyze H.264/H.265 as Annex-B (or Matroska with its
//! audio), Yi H.264 (RTSP) as Annex-B, PTP/IP live view as concatenated JPEGs (MJPEG). However the recording ends (`--for`, `--frames`, Ctrl-C,
//! SIGTERM, the reader of stdout going away, or the camera staying away), the file gets its final name
//! complete, one summary line in the same format for every family is printed, and the camera's session
//! is closed politely so that it frees its slot at once (a Yi's preview is stopped first).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use camctl_core::{Camera, Error, Result};
use camctl_wyze::sink::Container;
use camctl_wyze::{LiveEnd, LiveError, LiveOptions, LiveReport};

use crate::any::AnyCamera;

/// How a live recording ended normally, as the summary says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The duration or frame count asked for was reached.
    Complete,
    /// SIGINT/SIGTERM.
    Stopped,
    /// The reader of stdout went away.
    OutputClosed,
    /// The camera ended the stream.
    StreamEnded,
}

/// What every family's live view reports, printed in one format by [`Summary::print`].
#[derive(Debug, Clone)]
struct Summary {
    frames: u64,
    bytes: u64,
    dimensions: Option<(u32, u32)>,
    elapsed: Duration,
    gaps: u64,
    missing_frames: u64,
    reconnects: u32,
    end: End,
    /// Audio frames written, when the file has an audio track (Wyze to Matroska).
    audio_frames: Option<u64>,
}

impl Summary {
    /// `live: F frames[ + A audio frames] (WxH, B bytes) in S s, R frames/s, G gaps (M frames
    /// missing)[, N reconnects][, stopped][; saved as FILE]` on stderr.
    fn print(&self, saved: Option<&Path>) {
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 { self.frames as f64 / secs } else { 0.0 };
        let size = self.dimensions.map(|(w, h)| format!("{w}x{h}, ")).unwrap_or_default();
        let reconnects =
            if self.reconnects > 0 { format!(", {} reconnects", self.reconnects) } else { String::new() };
        let end = match self.end {
            End::Complete => "",
            End::Stopped => ", stopped",
            End::OutputClosed => ", output closed",
            End::StreamEnded => ", stream ended",
        };
        let saved = saved.map(|p| format!("; saved as {}", p.display())).unwrap_or_default();
        let audio = self.audio_frames.map(|n| format!(" + {n} audio frames")).unwrap_or_default();
        eprintln!(
            "live: {} frames{audio} ({size}{} bytes) in {secs:.1} s, {rate:.1} frames/s, {} gaps ({} frames missing)\
             {reconnects}{end}{saved}",
            self.frames, self.bytes, self.gaps, self.missing_frames
        );
    }
}

/// Runs `camctl live URL --out OUT [--for SECS] [--frames N] [--force] [--format annexb|mkv]`.
pub async fn run(
    url: &str,
    out: &str,
    duration: Option<f64>,
    frames: Option<u64>,
    force: bool,
    format: Option<&str>,
) -> Result<()> {
    if frames == Some(0) {
        return Err(Error::InvalidValue("--frames 0 (use 1 or more)".into()));
    }
    let duration = match duration {
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => return Err(Error::InvalidValue(format!("--for {s} (use a positive number of seconds)"))),
        None => None,
    };
    // From here on SIGINT and SIGTERM end the recording instead of killing the process.
    let mut stop = std::pin::pin!(crate::signal::stop_signal()?);
    // The output is checked (and its temporary file created) before any packet goes out.
    let mut part = if out == "-" { None } else { Some(PartFile::create(Path::new(out), force)?) };
    let mut camera = tokio::select! {
        camera = AnyCamera::connect(url) => camera?,
        _ = &mut stop => {
            // Nothing recorded: the temporary file goes with `part`.
            eprintln!("live: stopped before the camera answered; nothing recorded");
            return Ok(());
        }
    };
    if format == Some("mkv") && !matches!(camera, AnyCamera::Wyze(_)) {
        let _ = camera.close().await;
        return Err(Error::Unsupported(
            "--format mkv: only for Wyze live video (PTP/IP sends JPEG, Yi H.264 without audio)".into(),
        ));
    }
    let (summary, failure) = match &mut camera {
        AnyCamera::Ptp(ptp) => jpeg_live(ptp, &mut part, duration, frames, stop).await,
        AnyCamera::Yi(yi) => {
            tracing::info!("connected; starting the preview");
            let recorded = match &mut part {
                Some(part) => yi.live(&mut part.writer, duration, frames, stop).await,
                None => yi.live(BufWriter::new(std::io::stdout().lock()), duration, frames, stop).await,
            };
            match recorded {
                Ok(report) => (yi_summary(&report), None),
                Err((error, report)) => (yi_summary(&report), Some(error)),
            }
        }
        AnyCamera::Wyze(wyze) => {
            tracing::info!("connected; receiving live video");
            // --format wins; else the file's extension.
            let container =
                format.and_then(Container::parse).unwrap_or_else(|| Container::for_path(Path::new(out)));
            let options = LiveOptions { duration, frames, container };
            let recorded = match &mut part {
                Some(part) => wyze.live_until(&mut part.writer, options, stop).await,
                None => wyze.live_until(BufWriter::new(std::io::stdout().lock()), options, stop).await,
            };
            match recorded {
                Ok(report) => (wyze_summary(&report), None),
                Err(LiveError { error, report }) => (wyze_summary(&report), Some(error)),
            }
        }
        AnyCamera::Lytro(_) => {
            let _ = camera.close().await;
            return Err(Error::Unsupported(
                "live view: Lytro cameras have none (use wyze://, yi:// or ptpip://)".into(),
            ));
        }
    };
    // Politely, so the camera frees the session slot now (a Wyze camera has only two).
    let closed = camera.close().await;
    let mut saved = None;
    // A failed recording keeps what it got; one that got nothing leaves no file behind.
    let keep = failure.is_none() || summary.frames > 0;
    if let Some(part) = part
        && keep
    {
        saved = Some(part.commit()?);
    }
    if keep {
        summary.print(saved.as_deref());
    }
    if let Some(e) = failure {
        return Err(e);
    }
    // The recording is safe; a failed goodbye is not worth an error, only a note.
    if let Err(e) = closed {
        tracing::warn!("closing the session: {e}");
    }
    Ok(())
}

fn wyze_summary(report: &LiveReport) -> Summary {
    let s = report.stats;
    Summary {
        frames: s.frames_written,
        bytes: s.bytes_written,
        dimensions: s.dimensions,
        elapsed: report.elapsed,
        gaps: s.gaps,
        missing_frames: s.missing_frames,
        reconnects: report.reconnects,
        end: match report.end {
            LiveEnd::Duration | LiveEnd::FrameLimit => End::Complete,
            LiveEnd::Stopped => End::Stopped,
            LiveEnd::OutputClosed => End::OutputClosed,
        },
        audio_frames: s.audio_codec.is_some().then_some(s.audio_written),
    }
}

fn yi_summary(report: &camctl_ambarella::live::LiveReport) -> Summary {
    use camctl_ambarella::live::LiveEnd as YiEnd;
    Summary {
        frames: report.frames,
        bytes: report.bytes,
        dimensions: report.dimensions,
        elapsed: report.elapsed,
        gaps: report.gaps,
        missing_frames: report.missing_frames,
        reconnects: 0,
        end: match report.end {
            YiEnd::Duration | YiEnd::Frames => End::Complete,
            YiEnd::Stopped => End::Stopped,
            YiEnd::OutputClosed => End::OutputClosed,
            YiEnd::StreamEnded => End::StreamEnded,
        },
        audio_frames: None,
    }
}

/// PTP/IP live view: the JPEG frames one after another (an MJPEG stream ffplay and ffprobe read), or
/// with `--frames 1` one picture. JPEG frames are polled one by one, so there are no gaps to count.
async fn jpeg_live(
    ptp: &mut camctl_ptpip::PtpCamera,
    part: &mut Option<PartFile>,
    duration: Option<Duration>,
    frames: Option<u64>,
    mut stop: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) -> (Summary, Option<Error>) {
    let start = std::time::Instant::now();
    let deadline = duration.map(|d| tokio::time::Instant::now() + d);
    let mut summary = Summary {
        frames: 0,
        bytes: 0,
        dimensions: None,
        elapsed: Duration::ZERO,
        gaps: 0,
        missing_frames: 0,
        reconnects: 0,
        end: End::Complete,
        audio_frames: None,
    };
    let mut stdout = BufWriter::new(std::io::stdout().lock());
    let failure = loop {
        if frames.is_some_and(|n| summary.frames >= n) {
            break None;
        }
        let next = async {
            match deadline {
                Some(d) => tokio::time::timeout_at(d, ptp.live_frame()).await.ok(),
                None => Some(ptp.live_frame().await),
            }
        };
        let frame = tokio::select! {
            f = next => f,
            _ = &mut stop => { summary.end = End::Stopped; break None; }
        };
        let jpeg = match frame {
            None => break None,
            Some(Err(e)) => break Some(e),
            Some(Ok(jpeg)) => jpeg,
        };
        if summary.dimensions.is_none() {
            summary.dimensions =
                camctl_core::media::jpeg_dimensions(&jpeg).map(|(w, h)| (u32::from(w), u32::from(h)));
        }
        let written = match part {
            Some(part) => part.writer.write_all(&jpeg),
            None => stdout.write_all(&jpeg).and_then(|()| stdout.flush()),
        };
        match written {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                summary.end = End::OutputClosed;
                break None;
            }
            Err(e) => break Some(Error::io("writing the live view", e)),
        }
        summary.frames += 1;
        summary.bytes += jpeg.len() as u64;
    };
    ptp.end_live().await;
    summary.elapsed = start.elapsed();
    (summary, failure)
}

/// The recording under its temporary name `.NAME.camctl-part` next to the final one; removed on drop
/// unless [`PartFile::commit`] gave it its final name.
struct PartFile {
    path: PathBuf,
    temp: PathBuf,
    writer: BufWriter<File>,
    committed: bool,
}

impl PartFile {
    /// Refuses an existing `path` unless `force`, then creates the temporary file.
    fn create(path: &Path, force: bool) -> Result<PartFile> {
        let shown = path.display().to_string();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return Err(Error::InvalidValue(format!("--out {shown}: not a file name")));
        };
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => {
                return Err(Error::InvalidValue(format!("--out {shown}: is a folder (give a file name)")));
            }
            Ok(_) if !force => {
                return Err(Error::io(
                    shown,
                    std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "already exists (--force replaces it)",
                    ),
                ));
            }
            _ => {}
        }
        let temp = path.with_file_name(format!(".{name}.camctl-part"));
        let file = File::create(&temp).map_err(|e| Error::io(temp.display().to_string(), e))?;
        Ok(PartFile { path: path.to_path_buf(), temp, writer: BufWriter::new(file), committed: false })
    }

    /// Flushes, fsyncs, renames to the final name and fsyncs the folder, so that after a crash the
    /// final name is either absent or complete.
    fn commit(mut self) -> Result<PathBuf> {
        let io = |p: &Path, e| Error::io(p.display().to_string(), e);
        self.writer.flush().map_err(|e| io(&self.temp, e))?;
        self.writer.get_ref().sync_all().map_err(|e| io(&self.temp, e))?;
        std::fs::rename(&self.temp, &self.path).map_err(|e| io(&self.path, e))?;
        self.committed = true;
        let folder = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(folder).and_then(|d| d.sync_all()).map_err(|e| io(folder, e))?;
        Ok(self.path.clone())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
