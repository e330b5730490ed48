//! `camctl watch URL DIR`: tethered import. Imports what the catalog has not seen, then every file
//! the camera reports as new (a shot on the body, a recording finished), through the same download
//! path as `pull`; reconnects with backoff when the camera goes away and goes on where it was.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use camctl_core::download::DownloadDir;
use camctl_core::text::Safe;
use camctl_core::{Camera, Error, Event, MediaItem, Result};
use serde_json::json;
use tokio::time::Instant;

use crate::any::AnyCamera;
use crate::catalog::{CameraFile, Catalog};
use crate::hooks::{Action, Hooks};
use crate::pull::{CatalogUse, PullOptions, Status, camera_identity, pull_with};
use crate::signal::stopped;
use crate::template::FilenameTemplate;

/// First wait before reconnecting (watch, serve); doubles up to [`MAX_BACKOFF`].
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_millis(500);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A session that lasted this long resets the reconnect backoff.
pub(crate) const STABLE_SESSION: Duration = Duration::from_secs(10);

/// Events whose files the camera does not describe, after which the listing is read again.
pub(crate) const NEW_MEDIA_EVENTS: &[&str] =
    &["ObjectAdded", "RequestObjectTransfer", "photo_taken", "video_record_complete", "NewPictureAvailable"];

/// Which camera to watch.
pub enum Target {
    /// This one.
    Url(String),
    /// Whichever announces itself over mDNS on these interfaces (all when empty).
    Discover(Vec<IpAddr>),
}

/// How long one mDNS browse of `--discover` lasts before the next.
const BROWSE_ROUND: Duration = Duration::from_secs(3);

/// What `camctl watch` was asked for.
pub struct WatchRequest {
    /// The camera.
    pub camera: Target,
    /// Target folder.
    pub dir: PathBuf,
    /// `--filename`.
    pub filename: Option<String>,
    /// `--hook-script`.
    pub hook_script: Option<PathBuf>,
    /// `--delete-after`.
    pub delete_after: bool,
    /// `--json`.
    pub json: bool,
    /// `--count`: end after this many imports.
    pub count: Option<u64>,
    /// `--for`: end after this long.
    pub duration: Option<Duration>,
    /// `--catalog`.
    pub catalog: Option<PathBuf>,
}

/// Why a connected stretch of the watch ended.
enum Ended {
    /// The user, `--for` or `--count`: the watch is over.
    Done,
    /// The camera went away: reconnect.
    Lost(Error),
}

struct Watch {
    url: String,
    dir: DownloadDir,
    catalog: Catalog,
    template: Option<FilenameTemplate>,
    hooks: Hooks,
    delete_after: bool,
    json: bool,
    count: Option<u64>,
    imported: u64,
    failed: u64,
    /// Becomes `true` when the watch is to stop.
    stop: tokio::sync::watch::Receiver<bool>,
}

/// Runs the watch until SIGINT/SIGTERM, `--for` or `--count`.
pub async fn run(request: WatchRequest) -> Result<ExitCode> {
    if request.count == Some(0) {
        return Err(Error::InvalidValue("--count 0 (use 1 or more)".into()));
    }
    if matches!(&request.camera, Target::Url(url) if url.starts_with("wyze://")) {
        return Err(Error::Unsupported(
            "watch: a Wyze camera keeps no files reachable over its local protocol (SD-card playback is not supported); use `camctl live` for its video".into(),
        ));
    }
    let template = request.filename.as_deref().map(FilenameTemplate::parse).transpose()?;
    let catalog = Catalog::open(&Catalog::location(request.catalog.as_deref())?)?;
    let dir = DownloadDir::open(&request.dir)?;
    let _lock = dir.lock()?;
    let first_url = match &request.camera {
        Target::Url(url) => url.clone(),
        Target::Discover(_) => String::new(),
    };
    let hooks = Hooks::start(request.hook_script.as_deref())?;
    // SIGINT, SIGTERM and --for all become one stop flag, which a pull in progress also obeys (it
    // writes out what came, records what is complete and returns).
    let signal = crate::signal::stop_signal()?;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let duration = request.duration;
    let stopper = tokio::spawn(async move {
        tokio::select! {
            () = signal => {}
            () = async { match duration { Some(d) => tokio::time::sleep(d).await, None => std::future::pending().await } } => {}
        }
        let _ = stop_tx.send(true);
    });
    let mut watch = Watch {
        url: first_url,
        dir,
        catalog,
        template,
        hooks,
        delete_after: request.delete_after,
        json: request.json,
        count: request.count,
        imported: 0,
        failed: 0,
        stop: stop.clone(),
    };
    watch.hooks.set_url(&watch.url);
    watch.hooks.run(Action::Init, None, None);
    let mut started = false;
    let mut backoff = FIRST_BACKOFF;
    let mut away_since: Option<Instant> = None;
    loop {
        if let Target::Discover(interfaces) = &request.camera {
            let found = tokio::select! {
                found = discover(interfaces, &watch.catalog) => found,
                () = stopped(&stop) => break,
            };
            match found {
                Ok(url) => {
                    eprintln!("camctl: watch: found {}", Safe(&url));
                    watch.url = url;
                    watch.hooks.set_url(&watch.url);
                }
                Err(e) => {
                    eprintln!("camctl: watch: {}", Safe(&e.to_string()));
                    break;
                }
            }
        }
        let connected = tokio::select! {
            c = AnyCamera::connect(&watch.url) => c,
            () = stopped(&stop) => break,
        };
        let mut camera = match connected {
            Ok(camera) => camera,
            // Announced but not answering: browse again.
            Err(e) if matches!(request.camera, Target::Discover(_)) => {
                eprintln!("camctl: watch: {} does not answer ({})", Safe(&watch.url), Safe(&e.to_string()));
                continue;
            }
            Err(e) => {
                if away_since.is_none() {
                    eprintln!("camctl: watch: camera not reachable ({}); retrying", Safe(&e.to_string()));
                    away_since = Some(Instant::now());
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stopped(&stop) => break,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        if let Some(since) = away_since.take() {
            eprintln!("camctl: watch: camera back after {:.0} s", since.elapsed().as_secs_f64());
        }
        if !started {
            watch.hooks.run(Action::Start, None, None);
            started = true;
        }
        let connected_at = Instant::now();
        match watch.connected(&mut camera).await {
            Ended::Done => {
                let _ = tokio::time::timeout(Duration::from_secs(5), camera.close()).await;
                break;
            }
            Ended::Lost(e) => {
                eprintln!("camctl: watch: lost the camera ({}); reconnecting", Safe(&e.to_string()));
                away_since = Some(Instant::now());
                // A camera that takes the session and fails at once is not retried in a tight loop.
                if connected_at.elapsed() >= STABLE_SESSION {
                    backoff = FIRST_BACKOFF;
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stopped(&stop) => break,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    stopper.abort();
    watch.hooks.run(Action::Stop, None, None);
    let Watch { hooks, imported, failed, .. } = watch;
    hooks.finish().await;
    eprintln!(
        "watch: {imported} file(s) imported{}",
        if failed > 0 { format!(", {failed} failed") } else { String::new() }
    );
    Ok(if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Browses until a camera announces itself; among several, one the catalog knows comes first.
async fn discover(interfaces: &[IpAddr], catalog: &Catalog) -> Result<String> {
    let interfaces = if interfaces.is_empty() {
        camctl_core::discovery::default_interfaces()?
    } else {
        interfaces.to_vec()
    };
    loop {
        let found = crate::discover::mdns_cameras(&interfaces, BROWSE_ROUND).await?;
        let mut reachable = None;
        for (url, _) in found {
            // Whether the catalog knows it needs its identity, which needs a session.
            let Ok(mut camera) = AnyCamera::connect(&url).await else { continue };
            let known = match camera.info().await {
                Ok(info) => catalog.list(Some(&camera_identity(&info))).is_ok_and(|l| !l.is_empty()),
                Err(_) => false,
            };
            let _ = tokio::time::timeout(Duration::from_secs(5), camera.close()).await;
            if known {
                return Ok(url);
            }
            reachable.get_or_insert(url);
        }
        if let Some(url) = reachable {
            return Ok(url);
        }
    }
}

impl Watch {
    fn done(&self) -> bool {
        self.count.is_some_and(|n| self.imported >= n)
    }

    /// One connected stretch: the backlog first, then each new file as the camera reports it.
    async fn connected(&mut self, camera: &mut AnyCamera) -> Ended {
        let result: Result<Ended> = async {
            camera.prepare_events().await?;
            let info = camera.info().await?;
            let identity = camera_identity(&info);
            let listing = camera.list_media().await?;
            if let Some(ended) = self.import(camera, &identity, &info, listing).await {
                return Ok(ended);
            }
            loop {
                if *self.stop.borrow() {
                    return Ok(Ended::Done);
                }
                let event = tokio::select! {
                    event = camera.next_event() => event?,
                    () = stopped(&self.stop) => return Ok(Ended::Done),
                };
                let Some(event) = event else {
                    return Err(Error::Protocol("the camera closed its event stream".into()));
                };
                let Event { name, media, .. } = event;
                let items = if !media.is_empty() {
                    media
                } else if NEW_MEDIA_EVENTS.contains(&name.as_str()) {
                    camera.list_media().await?
                } else {
                    continue;
                };
                if let Some(ended) = self.import(camera, &identity, &info, items).await {
                    return Ok(ended);
                }
            }
        }
        .await;
        match result {
            Ok(ended) => ended,
            Err(e) => Ended::Lost(e),
        }
    }

    /// Imports what of `items` the catalog has not seen; `Some` when the watch should end (count
    /// reached, the connection lost).
    async fn import(
        &mut self,
        camera: &mut AnyCamera,
        identity: &str,
        info: &camctl_core::CameraInfo,
        items: Vec<MediaItem>,
    ) -> Option<Ended> {
        let mut new: Vec<MediaItem> = Vec::new();
        for item in items {
            match self.catalog.contains(CameraFile::of(identity, &item)) {
                Ok(false) => new.push(item),
                Ok(true) => {}
                Err(e) => {
                    eprintln!("camctl: watch: {}", Safe(&e.to_string()));
                    self.failed += 1;
                    return Some(Ended::Done);
                }
            }
        }
        let before_count = new.len();
        if let Some(n) = self.count {
            new.truncate(n.saturating_sub(self.imported) as usize);
        }
        let cut_by_count = new.len() < before_count;
        if new.is_empty() {
            return self.done().then_some(Ended::Done);
        }
        let options = PullOptions {
            // A lost session is the outer loop's to replace: it prepares the events again and lists
            // what was shot meanwhile.
            reconnect: None,
            stop: Some(self.stop.clone()),
            progress: false,
            catalog: Some(CatalogUse {
                catalog: &self.catalog,
                protocol: info.protocol.to_string(),
                serial: info.serial.clone(),
                skip_imported: true,
            }),
            names: self.template.as_ref(),
            first_number: self.imported + 1,
        };
        let report = pull_with(camera, identity, &new, &self.dir, options).await;
        let mut lost = None;
        let mut imported = Vec::new();
        for (item, outcome) in new.iter().zip(&report.files) {
            match outcome.status {
                Status::Fetched | Status::Resumed => {}
                Status::Imported | Status::Present => continue,
                // Stopped: the partial file stays for the next run.
                Status::Interrupted => continue,
                Status::Failed => {
                    let why = outcome.error.as_deref().unwrap_or("failed");
                    let not_reached = why.starts_with("not fetched");
                    if why.contains("the pull was interrupted") {
                        continue;
                    }
                    if outcome.connection_lost || (not_reached && !why.contains("disk is full")) {
                        // Not the file's fault: it comes after the reconnect.
                        lost.get_or_insert_with(|| Error::Protocol(why.to_string()));
                        continue;
                    }
                    eprintln!("camctl: watch: failed: {}: {}", Safe(&item.path), Safe(why));
                    self.failed += 1;
                    continue;
                }
            }
            let Some(local) = outcome.local_path.as_deref() else { continue };
            self.imported += 1;
            self.report(item, local);
            self.hooks.run(Action::Download, Some(local), Some(&item.path));
            imported.push(item);
        }
        if self.delete_after {
            // After the whole batch, and only if all of it came: a camera deleting whole pictures
            // (Lytro: every format at once) must not lose a file whose import failed, nor one that
            // --count left for later.
            if cut_by_count {
                eprintln!(
                    "camctl: watch: --count ended the import within a batch: nothing of it is deleted on the camera"
                );
            } else if imported.len() + report.present() + report.imported_before() == new.len() {
                for item in imported {
                    self.delete(camera, identity, item).await;
                }
            } else {
                eprintln!(
                    "camctl: watch: some files of this import failed: none of them is deleted on the camera"
                );
            }
        }
        if let Some(e) = lost {
            return Some(Ended::Lost(e));
        }
        self.done().then_some(Ended::Done)
    }

    fn report(&self, item: &MediaItem, local: &Path) {
        let capture_time = item.modified.map(|d| d.to_string());
        if self.json {
            let line = json!({
                "camera_path": item.path,
                "local_path": local,
                "size": item.size,
                "capture_time": capture_time,
            });
            println!("{line}");
        } else {
            println!("{} -> {} ({} bytes)", Safe(&item.path), Safe(&local.to_string_lossy()), item.size);
        }
    }

    /// Deletes the camera's copy, only once the catalog holds the import (which the pull records
    /// after the file is complete, fsynced and renamed).
    async fn delete(&mut self, camera: &mut AnyCamera, identity: &str, item: &MediaItem) {
        match self.catalog.contains(CameraFile::of(identity, item)) {
            Ok(true) => {
                match camera.delete(item).await {
                    // Gone with an earlier file of the same picture (Lytro).
                    Ok(()) | Err(Error::NotFound(_)) => {}
                    Err(e) => eprintln!(
                        "camctl: watch: kept on the camera: {}: {}",
                        Safe(&item.path),
                        Safe(&e.to_string())
                    ),
                }
            }
            Ok(false) => {
                eprintln!("camctl: watch: not in the catalog, so kept on the camera: {}", Safe(&item.path))
            }
            Err(e) => {
                eprintln!("camctl: watch: kept on the camera: {}: {}", Safe(&item.path), Safe(&e.to_string()))
            }
        }
    }
}
