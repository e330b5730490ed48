//! `camctl live`: the camera's live video to a file or stdout.
//!
//! However the recording ends (`--for`, Ctrl-C, SIGTERM, the reader of stdout going away, or the
//! camera staying away), the file gets its final name complete, the summary is printed and the
//! camera's session is closed politely so that it frees its slot at once.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use camctl_core::{Camera, Error, Result};
use camctl_wyze::sink::Container;
use camctl_wyze::{LiveEnd, LiveError, LiveOptions, LiveReport};

use crate::any::AnyCamera;

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
    if camera.ptp().is_some() {
        if format == Some("mkv") {
            let _ = camera.close().await;
            return Err(Error::Unsupported(
                "--format mkv: only for Wyze live video (PTP/IP sends JPEG)".into(),
            ));
        }
        return jpeg_live(camera, part, duration, frames, stop).await;
    }
    let recorded = match camera.wyze("live") {
        Ok(wyze) => {
            tracing::info!("connected; receiving live video");
            // --format wins; else the file's extension.
            let container =
                format.and_then(Container::parse).unwrap_or_else(|| Container::for_path(Path::new(out)));
            let options = LiveOptions { duration, frames, container };
            match &mut part {
                Some(part) => wyze.live_until(&mut part.writer, options, stop).await,
                None => wyze.live_until(BufWriter::new(std::io::stdout().lock()), options, stop).await,
            }
        }
        Err(e) => Err(LiveError { error: e, report: LiveReport::default() }),
    };
    // Politely, so the camera frees the session slot now (a Wyze camera has only two).
    let closed = camera.close().await;
    let (report, failure) = match recorded {
        Ok(report) => (report, None),
        Err(LiveError { error, report }) => (report, Some(error)),
    };
    let mut saved = None;
    if let Some(part) = part {
        // A failed recording keeps what it got; one that got nothing leaves no file behind.
        if failure.is_none() || report.stats.frames_written > 0 {
            saved = Some(part.commit()?);
        }
    }
    if failure.is_none() || report.stats.frames_written > 0 {
        print_summary(&report, saved.as_deref());
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

/// What a JPEG live view (PTP/IP) got.
#[derive(Default)]
struct JpegStats {
    frames: u64,
    bytes: u64,
    dimensions: Option<(u16, u16)>,
}

/// PTP/IP live view: the JPEG frames one after another (an MJPEG stream ffplay and ffprobe read), or
/// with `--frames 1` one picture.
async fn jpeg_live(
    mut camera: AnyCamera,
    mut part: Option<PartFile>,
    duration: Option<Duration>,
    frames: Option<u64>,
    mut stop: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) -> Result<()> {
    let start = std::time::Instant::now();
    let deadline = duration.map(|d| tokio::time::Instant::now() + d);
    let mut stats = JpegStats::default();
    let mut stdout = BufWriter::new(std::io::stdout().lock());
    let mut end = "";
    let ptp = camera.ptp().expect("checked by the caller");
    let failure = loop {
        if frames.is_some_and(|n| stats.frames >= n) {
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
            _ = &mut stop => { end = ", stopped"; break None; }
        };
        let jpeg = match frame {
            None => break None,
            Some(Err(e)) => break Some(e),
            Some(Ok(jpeg)) => jpeg,
        };
        if stats.dimensions.is_none() {
            stats.dimensions = camctl_core::media::jpeg_dimensions(&jpeg);
        }
        let written = match &mut part {
            Some(part) => part.writer.write_all(&jpeg),
            None => stdout.write_all(&jpeg).and_then(|()| stdout.flush()),
        };
        match written {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                end = ", output closed";
                break None;
            }
            Err(e) => break Some(Error::io("writing the live view", e)),
        }
        stats.frames += 1;
        stats.bytes += jpeg.len() as u64;
    };
    ptp.end_live().await;
    let closed = camera.close().await;
    let saved = match part {
        Some(part) if stats.frames > 0 => Some(part.commit()?),
        _ => None,
    };
    if stats.frames > 0 || failure.is_none() {
        let secs = start.elapsed().as_secs_f64();
        let size = stats.dimensions.map(|(w, h)| format!("{w}x{h} JPEG, ")).unwrap_or_default();
        let saved = saved.map(|p| format!("; saved as {}", p.display())).unwrap_or_default();
        eprintln!(
            "live: {} frames ({size}{} bytes) in {secs:.1} s, {:.1} frames/s{end}{saved}",
            stats.frames,
            stats.bytes,
            if secs > 0.0 { stats.frames as f64 / secs } else { 0.0 }
        );
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if let Err(e) = closed {
        tracing::warn!("closing the session: {e}");
    }
    Ok(())
}

fn print_summary(report: &LiveReport, saved: Option<&Path>) {
    let s = report.stats;
    let size = s.dimensions.map(|(w, h)| format!("{w}x{h}, ")).unwrap_or_default();
    let end = match report.end {
        LiveEnd::Duration => "",
        LiveEnd::Stopped => ", stopped",
        LiveEnd::OutputClosed => ", output closed",
        LiveEnd::FrameLimit => "",
    };
    let saved = saved.map(|p| format!("; saved as {}", p.display())).unwrap_or_default();
    let audio =
        if s.audio_codec.is_some() { format!(" + {} audio frames", s.audio_written) } else { String::new() };
    eprintln!(
        "live: {} frames{audio} ({size}{} bytes) in {:.1} s, {} gaps ({} frames missing), {} reconnects{end}{saved}",
        s.frames_written,
        s.bytes_written,
        report.elapsed.as_secs_f64(),
        s.gaps,
        s.missing_frames,
        report.reconnects
    );
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
