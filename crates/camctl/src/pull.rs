//! The download engine behind `pull`, `capture --download` and the demo: only what the folder lacks,
//! through a temporary file that is renamed when complete, resuming partial files.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use camctl_core::download::{DownloadDir, LocalState};
use camctl_core::{Camera, Error, MediaItem, Result};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::io::AsyncWrite;

/// What a pull did.
#[derive(Debug, Default)]
pub struct PullReport {
    /// Files now complete in the folder that were not before.
    pub fetched: Vec<PathBuf>,
    /// Files that were already complete.
    pub skipped: usize,
    /// Files continued from a partial download.
    pub resumed: usize,
    /// Bytes transferred.
    pub bytes: u64,
    /// Time spent.
    pub elapsed: Duration,
    /// Files that could not be fetched (camera path, reason); the rest went on.
    pub failed: Vec<(String, Error)>,
}

impl PullReport {
    /// Transfer rate in MB/s (10^6 bytes).
    pub fn megabytes_per_second(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Downloads `items` into `dir`.
///
/// Connection-level failures stop the pull (the next run resumes); a file the camera refuses is
/// recorded in the report and the others still come.
pub async fn pull<C: Camera>(camera: &mut C, items: &[MediaItem], dir: &DownloadDir) -> Result<PullReport> {
    let start = Instant::now();
    let mut report = PullReport::default();
    let mut todo = Vec::new();
    for item in items {
        match dir.state(&item.path, item.size)? {
            LocalState::Complete => report.skipped += 1,
            LocalState::Partial { have } => todo.push((item, have)),
            LocalState::Missing => todo.push((item, 0)),
        }
    }
    let total: u64 = todo.iter().map(|(item, have)| item.size - have).sum();
    let bar = progress_bar(total);
    for (item, _) in todo {
        let mut file = dir.start(&item.path, item.size, true).await?;
        let offset = file.offset();
        if offset > 0 {
            report.resumed += 1;
        }
        if let Some(bar) = &bar {
            bar.set_message(item.path.clone());
        }
        let result = {
            let mut writer = ProgressWriter { inner: &mut file, bar: bar.as_ref() };
            camera.download(item, offset, &mut writer).await
        };
        match result {
            Ok(n) => {
                report.bytes += n;
                let modified = item.modified.and_then(|d| d.to_system());
                report.fetched.push(file.finish(modified).await?);
            }
            Err(e @ (Error::NotFound(_) | Error::Camera(_) | Error::Download(_))) => {
                report.failed.push((item.path.clone(), e));
            }
            Err(e) => {
                if let Some(bar) = &bar {
                    bar.abandon();
                }
                return Err(e);
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    report.elapsed = start.elapsed();
    Ok(report)
}

/// A byte progress bar on stderr, only when stderr is a terminal.
fn progress_bar(total: u64) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() || total == 0 {
        return None;
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

/// Advances the progress bar by what passes through.
struct ProgressWriter<'a, W> {
    inner: &'a mut W,
    bar: Option<&'a ProgressBar>,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for ProgressWriter<'_, W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let poll = Pin::new(&mut *this.inner).poll_write(cx, buf);
        if let (Poll::Ready(Ok(n)), Some(bar)) = (&poll, this.bar) {
            bar.inc(*n as u64);
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.inner).poll_shutdown(cx)
    }
}
