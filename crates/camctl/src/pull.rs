//! The download engine behind `pull`, `capture --download` and the demo: only what the folder lacks,
//! through a temporary file that is renamed when complete and verified, resuming only what is provably
//! the same camera file, and going on past any one bad item.

use std::future::Future;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use camctl_core::download::{
    DownloadDir, DownloadError, Downloaded, Identity, LocalState, PartialFile, Planned, finish_batch,
};
use camctl_core::text::Safe;
use camctl_core::{Camera, CameraInfo, Error, MediaItem, Result};

use crate::catalog::{CameraFile, Catalog, Import};
use crate::template::{FilenameTemplate, TemplateInput};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tokio::io::AsyncWrite;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Bytes before the resume offset fetched again and compared with the partial file: a camera
/// file replaced by another of the same name and size, or a camera that ignores the offset, shows
/// up here instead of in a file of mixed content.
const RESUME_OVERLAP_BYTES: u64 = 64 << 10;
/// Finished files are made durable and renamed in batches (one filesystem sync each) while the next
/// ones download: a batch closes at this many files or bytes. Each waiting file holds a descriptor:
/// (BATCHES_IN_FLIGHT + 1) * BATCH_FILES stays well below the common limit of 1024.
const BATCH_FILES: usize = 128;
const BATCH_BYTES: u64 = 64 << 20;
/// Batches being finished at once.
const BATCHES_IN_FLIGHT: usize = 2;
/// Lost connections in a row after which the pull gives up on the rest.
const MAX_RECONNECTS_IN_A_ROW: u32 = 3;

/// What became of one camera file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Downloaded whole in this run.
    Fetched,
    /// Continued from a partial file of this same camera file, and verified.
    Resumed,
    /// Already complete in the folder.
    Present,
    /// Stopped by the user; the partial file is kept for the next run.
    Interrupted,
    /// Not fetched (the reason is in `error`).
    Failed,
    /// Not fetched: the catalog says it was imported before (`--new`).
    Imported,
}

/// One camera file's outcome (`pull --json` prints one per line).
#[derive(Debug, Clone, Serialize)]
pub struct FileOutcome {
    /// The camera's path.
    pub camera_path: String,
    /// Where it is (or would be) in the folder.
    pub local_path: Option<PathBuf>,
    /// Bytes received in this run.
    pub bytes: u64,
    /// What happened.
    pub status: Status,
    /// Something the user should know although it worked (a numbered name, a restart).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// It failed because the connection was lost (worth a new session, not the file's fault).
    #[serde(skip)]
    pub connection_lost: bool,
}

/// Where an interrupted pull left its current file.
#[derive(Debug, Clone)]
pub struct Interruption {
    /// The camera file being fetched.
    pub camera_path: String,
    /// The partial file kept for the next run.
    pub temp_path: PathBuf,
    /// Bytes it holds.
    pub kept: u64,
    /// The file's full size.
    pub size: u64,
}

/// What a pull did.
#[derive(Debug, Default)]
pub struct PullReport {
    /// One entry per camera file, in camera order.
    pub files: Vec<FileOutcome>,
    /// Bytes transferred.
    pub bytes: u64,
    /// Time spent.
    pub elapsed: Duration,
    /// Set when the user stopped the pull.
    pub interrupted: Option<Interruption>,
}

impl PullReport {
    fn count(&self, status: &[Status]) -> usize {
        self.files.iter().filter(|f| status.contains(&f.status)).count()
    }

    /// Files now complete that were not before (fetched or resumed).
    pub fn fetched(&self) -> usize {
        self.count(&[Status::Fetched, Status::Resumed])
    }

    /// Files continued from a partial download.
    pub fn resumed(&self) -> usize {
        self.count(&[Status::Resumed])
    }

    /// Files already complete.
    pub fn present(&self) -> usize {
        self.count(&[Status::Present])
    }

    /// Files skipped because the catalog has them (`--new`).
    pub fn imported_before(&self) -> usize {
        self.count(&[Status::Imported])
    }

    /// Files that did not come (failed or not reached).
    pub fn failed(&self) -> impl Iterator<Item = &FileOutcome> {
        self.files.iter().filter(|f| f.status == Status::Failed)
    }

    /// Whether every file is complete in the folder.
    pub fn all_ok(&self) -> bool {
        self.interrupted.is_none() && self.failed().next().is_none()
    }

    /// Transfer rate in MB/s (10^6 bytes).
    pub fn megabytes_per_second(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Opens a new session when the old one is lost, so that one bad item does not stop the rest.
pub type Reconnect<'a, C> = Box<dyn FnMut() -> Pin<Box<dyn Future<Output = Result<C>> + Send>> + Send + 'a>;

/// How to pull, beyond what and where.
pub struct PullOptions<'a, C> {
    /// Reconnects after a lost connection; without it the rest of the files fail.
    pub reconnect: Option<Reconnect<'a, C>>,
    /// Becomes `true` when the user asks to stop (Ctrl-C, SIGTERM).
    pub stop: Option<watch::Receiver<bool>>,
    /// Show a progress bar (only drawn when stderr is a terminal).
    pub progress: bool,
    /// Records every file now in the folder, and with `skip_imported` skips what it has.
    pub catalog: Option<CatalogUse<'a>>,
    /// Local names from a template instead of the camera's paths.
    pub names: Option<&'a FilenameTemplate>,
    /// The template's `%n` for the first file this pull names (a watch keeps counting).
    pub first_number: u64,
}

/// How a pull uses the import catalog.
pub struct CatalogUse<'a> {
    /// The catalog.
    pub catalog: &'a Catalog,
    /// The camera's protocol and serial, as recorded.
    pub protocol: String,
    /// See `protocol`.
    pub serial: String,
    /// Skip the files it has (`--new`), wherever their local copies are now.
    pub skip_imported: bool,
}

impl<C> Default for PullOptions<'_, C> {
    fn default() -> Self {
        PullOptions {
            reconnect: None,
            stop: None,
            progress: true,
            catalog: None,
            names: None,
            first_number: 1,
        }
    }
}

/// Which camera a partial file came from: protocol, maker, model and serial.
pub fn camera_identity(info: &CameraInfo) -> String {
    format!("{}:{}:{}:{}", info.protocol, info.manufacturer, info.model, info.serial)
}

/// Downloads `items` into `dir` with default options (the demo and simple callers).
pub async fn pull<C: Camera>(camera: &mut C, items: &[MediaItem], dir: &DownloadDir) -> Result<PullReport> {
    let identity = camera_identity(&camera.info().await?);
    Ok(pull_with(camera, &identity, items, dir, PullOptions::default()).await)
}

/// Downloads `items` from the camera identified by `identity` into `dir`. Never fails as a whole:
/// each file's outcome is in the report.
pub async fn pull_with<C: Camera>(
    camera: &mut C,
    identity: &str,
    items: &[MediaItem],
    dir: &DownloadDir,
    mut options: PullOptions<'_, C>,
) -> PullReport {
    let start = Instant::now();
    let ids: Vec<Identity> = items.iter().map(|item| Identity::of(identity, item)).collect();
    let files = items
        .iter()
        .map(|item| FileOutcome {
            camera_path: item.path.clone(),
            local_path: None,
            bytes: 0,
            status: Status::Failed,
            note: None,
            error: None,
            connection_lost: false,
        })
        .collect();
    let mut report = PullReport { files, ..PullReport::default() };
    // What this run handles: not what the catalog has (with --new), not what cannot be named.
    let mut wanted: Vec<usize> = Vec::with_capacity(items.len());
    let mut names: Vec<PathBuf> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        if let Some(CatalogUse { catalog, skip_imported: true, .. }) = &options.catalog {
            match catalog.contains(CameraFile::of(identity, item)) {
                Ok(true) => {
                    report.files[index].status = Status::Imported;
                    continue;
                }
                Ok(false) => {}
                Err(e) => {
                    report.files[index].error = Some(e.to_string());
                    continue;
                }
            }
        }
        if let Some(template) = options.names {
            let input = TemplateInput {
                camera_path: &item.path,
                captured: item.modified,
                sequence: options.first_number + wanted.len() as u64,
            };
            match template.render(&input) {
                Ok(name) => names.push(name),
                Err(e) => {
                    report.files[index].error = Some(e.to_string());
                    continue;
                }
            }
        }
        wanted.push(index);
    }
    let wanted_ids: Vec<Identity> = wanted.iter().map(|&i| ids[i].clone()).collect();
    let plans = if options.names.is_some() {
        // Under a template a same-sized file there may be another camera file's: only the
        // catalog's record of saving this one there makes it this one.
        let known = |n: usize, path: &std::path::Path| {
            let Some(CatalogUse { catalog, .. }) = &options.catalog else { return false };
            let item = &items[wanted[n]];
            let at = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            catalog.local_path_of(CameraFile::of(identity, item)).ok().flatten().is_some_and(|p| p == at)
        };
        dir.plan_named(&wanted_ids, &names, &known)
    } else {
        dir.plan(&wanted_ids)
    };
    let mut todo = Vec::new();
    for (&index, plan) in wanted.iter().zip(plans) {
        let outcome = &mut report.files[index];
        match plan {
            Ok(plan) => {
                outcome.local_path = Some(dir.root().join(&plan.rel));
                if let Some((wanted, why)) = &plan.renamed {
                    outcome.note = Some(format!(
                        "saved as {} instead of {}: {why}",
                        plan.rel.display(),
                        wanted.display()
                    ));
                }
                if plan.state == LocalState::Complete {
                    outcome.status = Status::Present;
                } else {
                    todo.push((index, plan));
                }
            }
            Err(e) => outcome.error = Some(e.to_string()),
        }
    }
    let mut digests: Vec<Option<String>> = vec![None; items.len()];
    let total_bytes: u64 = todo
        .iter()
        .map(|(i, plan)| match plan.state {
            LocalState::Partial { have } => items[*i].size - have,
            _ => items[*i].size,
        })
        .sum();
    let total_files = todo.len();
    let bar = options.progress.then(|| progress_bar(total_bytes, total_files)).flatten();
    let mut batch = Batch::default();
    let mut finishing: Vec<(Vec<usize>, Finishing)> = Vec::new();
    let mut lost_in_a_row = 0u32;
    let mut stop_rest: Option<String> = None;
    let mut connected = true;
    for (done_count, (index, plan)) in todo.into_iter().enumerate() {
        let item = &items[index];
        if let Some(why) = &stop_rest {
            report.files[index].error = Some(why.clone());
            continue;
        }
        if stop_requested(&options.stop) {
            stop_rest = Some("not fetched: the pull was interrupted".into());
            report.files[index].error = stop_rest.clone();
            continue;
        }
        if !connected {
            match reconnect(camera, &mut options.reconnect).await {
                Ok(()) => connected = true,
                Err(why) => {
                    stop_rest = Some(format!("not fetched: {why}"));
                    report.files[index].error = stop_rest.clone();
                    continue;
                }
            }
        }
        if let Some(bar) = &bar {
            bar.set_prefix(format!("{}/{total_files}", done_count + 1));
            bar.set_message(Safe(&item.path).to_string());
        }
        let mut fetched =
            fetch_one(camera, item, &ids[index], &plan, dir, bar.as_ref(), &mut options.stop).await;
        if let (
            LocalState::Partial { .. },
            Fetched::Failed { reason, bytes, connection_lost, disk_full: false },
        ) = (plan.state, &fetched)
        {
            // Resuming failed (a camera that cannot or will not read from an offset): fetch the file
            // whole once, on a new session if this one is gone.
            let (why, sent) = (reason.clone(), *bytes);
            let usable = !*connection_lost || reconnect(camera, &mut options.reconnect).await.is_ok();
            if usable {
                let whole = Planned { state: LocalState::Missing, ..plan.clone() };
                fetched =
                    fetch_one(camera, item, &ids[index], &whole, dir, bar.as_ref(), &mut options.stop).await;
                if let Fetched::Done { note, bytes, .. } = &mut fetched {
                    *bytes += sent;
                    *note = Some(format!("resuming failed ({why}): fetched again whole"));
                }
            }
        }
        let outcome = &mut report.files[index];
        match fetched {
            Fetched::Done { file, bytes, resumed, note } => {
                lost_in_a_row = 0;
                report.bytes += bytes;
                outcome.bytes = bytes;
                outcome.status = if resumed { Status::Resumed } else { Status::Fetched };
                if let Some(note) = note {
                    outcome.note = Some(match outcome.note.take() {
                        Some(earlier) => format!("{earlier}; {note}"),
                        None => note,
                    });
                }
                let modified = item.modified.and_then(|d| d.to_system());
                digests[index] = file.sha256_hex();
                batch.bytes += item.size;
                batch.files.push(((*file).complete().await, modified));
                batch.indices.push(index);
                if batch.files.len() >= BATCH_FILES || batch.bytes >= BATCH_BYTES {
                    if finishing.len() >= BATCHES_IN_FLIGHT {
                        let (indices, handle) = finishing.remove(0);
                        settle(&mut report, &indices, handle).await;
                    }
                    // Durable and renamed off the transfer's path; the status stands once that worked.
                    let Batch { files, indices, .. } = std::mem::take(&mut batch);
                    finishing.push((indices, tokio::spawn(finish_batch(files))));
                }
            }
            Fetched::Failed { reason, bytes, connection_lost, disk_full } => {
                report.bytes += bytes;
                outcome.bytes = bytes;
                outcome.error = Some(reason);
                outcome.connection_lost = connection_lost && !disk_full;
                if disk_full {
                    stop_rest = Some("not fetched: the disk is full".into());
                }
                if connection_lost {
                    connected = false;
                    lost_in_a_row += 1;
                    if lost_in_a_row >= MAX_RECONNECTS_IN_A_ROW {
                        stop_rest = Some(format!(
                            "not fetched: the connection was lost {MAX_RECONNECTS_IN_A_ROW} times in a row"
                        ));
                    }
                }
            }
            Fetched::Interrupted { temp_path, kept, bytes } => {
                report.bytes += bytes;
                outcome.bytes = bytes;
                outcome.status = Status::Interrupted;
                report.interrupted =
                    Some(Interruption { camera_path: item.path.clone(), temp_path, kept, size: item.size });
                stop_rest = Some("not fetched: the pull was interrupted".into());
            }
        }
    }
    if !batch.files.is_empty() {
        finishing.push((batch.indices, tokio::spawn(finish_batch(batch.files))));
    }
    let any_renamed = !finishing.is_empty();
    for (indices, handle) in finishing {
        settle(&mut report, &indices, handle).await;
    }
    let durable = match any_renamed {
        true => dir
            .sync()
            .await
            .map_err(|e| tracing::warn!("could not make the final names durable: {e}"))
            .is_ok(),
        false => true,
    };
    if let Some(catalog) = &options.catalog
        && durable
    {
        // Only now: a record must never name a file that a crash could still take back.
        record_imports(catalog, identity, items, &ids, &mut report, digests).await;
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    report.elapsed = start.elapsed();
    report
}

/// Records in the catalog every file now complete in the folder: the ones fetched with the digest
/// computed while they came, the ones already there (from before the catalog, or a run killed
/// before it recorded) read back once.
async fn record_imports(
    catalog: &CatalogUse<'_>,
    identity: &str,
    items: &[MediaItem],
    ids: &[Identity],
    report: &mut PullReport,
    digests: Vec<Option<String>>,
) {
    for (index, digest) in digests.into_iter().enumerate() {
        let outcome = &report.files[index];
        let Some(local_path) = outcome.local_path.clone() else { continue };
        let item = &items[index];
        let date = ids[index].date.clone();
        let sha256 = match (outcome.status, digest) {
            (Status::Fetched | Status::Resumed, Some(digest)) => digest,
            (Status::Present, _) => {
                if catalog.catalog.contains(CameraFile::of(identity, item)).unwrap_or(false) {
                    continue;
                }
                match sha256_of(local_path.clone()).await {
                    Ok(digest) => digest,
                    Err(e) => {
                        tracing::warn!("{}: not recorded in the catalog: {e}", local_path.display());
                        continue;
                    }
                }
            }
            _ => continue,
        };
        let import = Import {
            camera: identity.to_string(),
            protocol: catalog.protocol.clone(),
            serial: catalog.serial.clone(),
            camera_path: item.path.clone(),
            size: item.size,
            capture_time: date,
            local_path: std::path::absolute(&local_path).unwrap_or(local_path),
            sha256,
            imported_at: crate::catalog::now_utc(),
        };
        if let Err(e) = catalog.catalog.record(&import) {
            let outcome = &mut report.files[index];
            let note = format!("saved, but not recorded in the catalog: {e}");
            outcome.note = Some(match outcome.note.take() {
                Some(earlier) => format!("{earlier}; {note}"),
                None => note,
            });
        }
    }
}

/// SHA-256 (hex) of a local file.
async fn sha256_of(path: PathBuf) -> std::io::Result<String> {
    tokio::task::spawn_blocking(move || camctl_core::download::sha256_file_hex(&path))
        .await
        .map_err(std::io::Error::other)?
}

/// Replaces a lost session by a new one; `Err` says why there is none.
async fn reconnect<C>(
    camera: &mut C,
    reconnect: &mut Option<Reconnect<'_, C>>,
) -> std::result::Result<(), String> {
    let Some(reconnect) = reconnect.as_mut() else {
        return Err("the connection to the camera was lost".into());
    };
    match reconnect().await {
        Ok(new) => {
            *camera = new;
            Ok(())
        }
        Err(e) => Err(format!("could not reconnect: {e}")),
    }
}

fn stop_requested(stop: &Option<watch::Receiver<bool>>) -> bool {
    stop.as_ref().is_some_and(|s| *s.borrow())
}

/// Waits until the user asks to stop (never, without a stop channel).
async fn stopped(stop: &mut Option<watch::Receiver<bool>>) {
    match stop {
        Some(rx) => {
            if rx.wait_for(|s| *s).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// A batch being made durable and renamed: one result per file.
type Finishing = JoinHandle<Vec<std::result::Result<PathBuf, DownloadError>>>;

/// Downloaded files waiting to be made durable and renamed.
#[derive(Default)]
struct Batch {
    files: Vec<(Downloaded, Option<std::time::SystemTime>)>,
    indices: Vec<usize>,
    bytes: u64,
}

/// Records how the sync-and-rename of a batch of downloaded files ended.
async fn settle(report: &mut PullReport, indices: &[usize], handle: Finishing) {
    let results = match handle.await {
        Ok(results) => results,
        Err(e) => indices
            .iter()
            .map(|_| {
                Err(DownloadError::Io { path: ".".into(), source: std::io::Error::other(e.to_string()) })
            })
            .collect(),
    };
    for (&index, result) in indices.iter().zip(results) {
        let outcome = &mut report.files[index];
        match result {
            Ok(path) => outcome.local_path = Some(path),
            Err(e) => {
                outcome.status = Status::Failed;
                outcome.error = Some(e.to_string());
            }
        }
    }
}

enum Fetched {
    Done { file: Box<PartialFile>, bytes: u64, resumed: bool, note: Option<String> },
    Failed { reason: String, bytes: u64, connection_lost: bool, disk_full: bool },
    Interrupted { temp_path: PathBuf, kept: u64, bytes: u64 },
}

/// How one download attempt ended.
enum Attempt {
    Complete {
        bytes: u64,
    },
    /// The bytes re-read before the resume offset differ from the partial file.
    NotTheSameFile,
    Error(Error),
    Stopped,
}

/// Fetches one file: resumes a partial file after re-reading an overlap, checks a resumed file
/// against the camera's MD5 when it gives one, and starts over whenever either check fails.
async fn fetch_one<C: Camera>(
    camera: &mut C,
    item: &MediaItem,
    id: &Identity,
    plan: &Planned,
    dir: &DownloadDir,
    bar: Option<&ProgressBar>,
    stop: &mut Option<watch::Receiver<bool>>,
) -> Fetched {
    let resume = matches!(plan.state, LocalState::Partial { .. });
    let mut file = match dir.start(&plan.rel, id, resume).await {
        Ok(f) => f,
        Err(e) => return local_failure(e.to_string(), 0, false),
    };
    let mut note = None;
    let mut received = 0u64;
    if file.offset() > 0 {
        match attempt(camera, item, &mut file, bar, stop).await {
            Attempt::Complete { bytes } => {
                received += bytes;
                match verify_md5(camera, item, &mut file).await {
                    Ok(true) => return finished(file, item, received, true, None),
                    Ok(false) => {
                        note = Some("the resumed file did not match the camera's MD5: fetched again whole");
                    }
                    Err(e) => return local_failure(e.to_string(), received, false),
                }
            }
            Attempt::NotTheSameFile => {
                note = Some("the partial file was not of this camera file: fetched again whole");
            }
            Attempt::Stopped => return interrupted(&mut file, received).await,
            Attempt::Error(e) => return failure(&mut file, e, received).await,
        }
        if let Some(bar) = bar {
            bar.inc_length(item.size);
        }
        file = match dir.start(&plan.rel, id, false).await {
            Ok(f) => f,
            Err(e) => return local_failure(e.to_string(), received, false),
        };
    }
    match attempt(camera, item, &mut file, bar, stop).await {
        Attempt::Complete { bytes } => finished(file, item, received + bytes, false, note.map(String::from)),
        // From offset 0 there is nothing to compare: unreachable in practice, but never trust it.
        Attempt::NotTheSameFile => {
            failure(&mut file, Error::Protocol("the camera sent another file's bytes".into()), received).await
        }
        Attempt::Stopped => interrupted(&mut file, received).await,
        Attempt::Error(e) => failure(&mut file, e, received).await,
    }
}

/// One download from the file's offset (less the overlap) to its end.
async fn attempt<C: Camera>(
    camera: &mut C,
    item: &MediaItem,
    file: &mut PartialFile,
    bar: Option<&ProgressBar>,
    stop: &mut Option<watch::Receiver<bool>>,
) -> Attempt {
    let overlap = match file.tail_before_offset(RESUME_OVERLAP_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => return Attempt::Error(Error::Download(e)),
    };
    let from = file.offset() - overlap.len() as u64;
    let before = file.written();
    let mut writer = ItemWriter { file, expected: overlap, compared: 0, mismatch: false, bar };
    let result = tokio::select! {
        r = camera.download(item, from, &mut writer) => r,
        () = stopped(stop) => return Attempt::Stopped,
    };
    let mismatch = writer.mismatch;
    let bytes = file.written() - before;
    if mismatch {
        return Attempt::NotTheSameFile;
    }
    match result {
        Ok(_) => Attempt::Complete { bytes },
        Err(e) => Attempt::Error(e),
    }
}

/// For a resumed file: `Ok(false)` if the camera reported an MD5 for the whole file and the file
/// does not have it.
async fn verify_md5<C: Camera>(camera: &C, item: &MediaItem, file: &mut PartialFile) -> Result<bool> {
    let Some(expected) = camera.reported_md5(item) else { return Ok(true) };
    let actual = file.md5_hex().await?;
    Ok(actual.eq_ignore_ascii_case(&expected))
}

fn finished(file: PartialFile, item: &MediaItem, bytes: u64, resumed: bool, note: Option<String>) -> Fetched {
    if file.written() != item.size {
        let reason = format!(
            "the camera announced {} bytes but sent {}; the partial file is kept",
            item.size,
            file.written()
        );
        return Fetched::Failed { reason, bytes, connection_lost: false, disk_full: false };
    }
    Fetched::Done { file: Box::new(file), bytes, resumed, note }
}

/// A failed download: the local side's fault when writing failed, else the camera's or the network's.
/// What did arrive is written out: the next run checks it (overlap, record) before resuming from it.
async fn failure(file: &mut PartialFile, e: Error, bytes: u64) -> Fetched {
    if file.write_failure().is_none() {
        let _ = file.flush_kept().await;
    }
    if file.disk_full() {
        // What is on the disk, not what was handed to the writer before it failed.
        let kept = std::fs::metadata(file.temp_path()).map(|m| m.len()).unwrap_or(0);
        return local_failure(
            format!(
                "disk full writing {}: kept {kept} bytes in {} for resume; run the same command again once there is room",
                file.final_path().display(),
                file.temp_path().display()
            ),
            bytes,
            true,
        );
    }
    if let Some(write) = file.write_failure() {
        // The transfer was cut in the middle: the session's state is unknown, so reconnect.
        return Fetched::Failed {
            reason: format!("writing {write}"),
            bytes,
            connection_lost: true,
            disk_full: false,
        };
    }
    let kept = std::fs::metadata(file.temp_path()).map(|m| m.len()).unwrap_or(0);
    let reason = if e.is_too_slow() && kept > 0 {
        // Worth saying: unlike a refusal, a slow link is worth another try, and nothing is lost.
        format!("{e}; kept {kept} bytes in {} to resume from", file.temp_path().display())
    } else {
        e.to_string()
    };
    Fetched::Failed { reason, bytes, connection_lost: e.is_connection_lost(), disk_full: false }
}

fn local_failure(reason: String, bytes: u64, disk_full: bool) -> Fetched {
    Fetched::Failed { reason, bytes, connection_lost: disk_full, disk_full }
}

async fn interrupted(file: &mut PartialFile, bytes: u64) -> Fetched {
    let kept = file.flush_kept().await.unwrap_or(file.offset());
    Fetched::Interrupted { temp_path: file.temp_path().to_path_buf(), kept, bytes }
}

/// A progress bar on stderr with bytes, files and ETA, only when stderr is a terminal.
fn progress_bar(total_bytes: u64, files: usize) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() || total_bytes == 0 {
        return None;
    }
    let bar = ProgressBar::new(total_bytes);
    let style = ProgressStyle::with_template(
        "[{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} file {prefix} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(format!("0/{files}"));
    Some(bar)
}

/// Checks the re-read overlap against the partial file, then passes the rest to it (advancing the
/// progress bar). After a mismatch it accepts and drops everything, so that the camera's transfer
/// ends normally and the session stays usable for the fetch from the start.
struct ItemWriter<'a> {
    file: &'a mut PartialFile,
    expected: Vec<u8>,
    compared: usize,
    mismatch: bool,
    bar: Option<&'a ProgressBar>,
}

impl AsyncWrite for ItemWriter<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        if this.mismatch {
            return Poll::Ready(Ok(buf.len()));
        }
        if this.compared < this.expected.len() {
            let n = buf.len().min(this.expected.len() - this.compared);
            if buf[..n] != this.expected[this.compared..this.compared + n] {
                tracing::warn!("the camera's bytes before the resume offset differ from the partial file");
                this.mismatch = true;
                return Poll::Ready(Ok(buf.len()));
            }
            this.compared += n;
            // Report only the compared part; the caller sends the rest again.
            return Poll::Ready(Ok(n));
        }
        let poll = Pin::new(&mut *this.file).poll_write(cx, buf);
        if let (Poll::Ready(Ok(n)), Some(bar)) = (&poll, this.bar) {
            bar.inc(*n as u64);
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.file).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.file).poll_shutdown(cx)
    }
}
