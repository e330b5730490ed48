//! One task per camera owns its session: it connects, reconnects with backoff, answers the jobs that
//! HTTP handlers send it, runs the camera's live view while anyone watches, publishes what the camera
//! reports and imports new files. Nothing else touches the camera.
//!
//! The loop never cancels an exchange with the camera half-way (that would leave a PTP session out of
//! step): jobs run to completion between steps, events are waited for with
//! [`Camera::next_event_within`], and only waits on queues are cut short.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use camctl_core::download::DownloadDir;
use camctl_core::live::{Codec, Frame, LiveFeed};
use camctl_core::{Camera, CameraInfo, Error, Event, MediaItem, Result};
use futures_util::future::BoxFuture;
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::any::AnyCamera;
use crate::catalog::{CameraFile, Catalog};
use crate::pull::{CatalogUse, PullOptions, Status as PullStatus, camera_identity, pull_with};
use crate::signal::stopped;
use crate::template::FilenameTemplate;
use crate::watch::{FIRST_BACKOFF, MAX_BACKOFF, NEW_MEDIA_EVENTS, STABLE_SESSION};

use super::config::CameraConfig;

/// How long an idle loop waits for a job before looking for events again.
const IDLE_STEP: Duration = Duration::from_millis(150);
/// JPEG live view is polled at most this often (a camera answering at once would be asked without
/// end), and the camera's events are looked at between frames at most every [`IDLE_STEP`].
const JPEG_FRAME_EVERY: Duration = Duration::from_millis(33);
/// Live view keeps running this long after the last viewer left (snapshots in a row reuse it).
const LIVE_LINGER: Duration = Duration::from_secs(5);
/// The session is checked (and the battery read) this often while nothing else happens; the Yi also
/// needs a request now and then or it closes the connection.
const HEALTH_CHECK_EVERY: Duration = Duration::from_secs(20);
/// Events and state changes kept for slow SSE readers.
const EVENT_QUEUE: usize = 256;
/// Jobs waiting for the camera.
const JOB_QUEUE: usize = 64;
/// Live frames kept for a slow viewer before it skips to the next keyframe.
const FEED_QUEUE: usize = 120;
/// Names of info fields that could carry a secret; never shown.
const SECRET_WORDS: &[&str] = &["enr", "key", "password", "passphrase", "psk", "token", "secret"];

/// Where a camera's session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The first connection is being made.
    Connecting,
    /// Connected: requests are answered.
    Connected,
    /// The connection was lost (or never came); the next attempt follows after a backoff.
    Reconnecting,
    /// Serve is shutting down.
    Stopped,
}

/// A camera's state as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Session state.
    pub state: State,
    /// The last connection failure, while not connected.
    pub error: Option<String>,
    /// Identity from the last connected session (secrets removed).
    pub info: Option<CameraInfo>,
    /// `protocol:maker:model:serial` of the last connected session, as the catalog knows it.
    #[serde(skip)]
    pub identity: Option<String>,
    /// What the camera's live view sends, as far as the connected session tells (`None`: no live view).
    pub live: Option<Codec>,
}

/// Which family, for what the API offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ptpip,
    Yi,
    Lytro,
    Wyze,
}

impl Family {
    fn of(url: &str) -> Result<Family> {
        let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("");
        match scheme {
            "ptpip" | "ptp" => Ok(Family::Ptpip),
            "yi" | "ambarella" => Ok(Family::Yi),
            "lytro" => Ok(Family::Lytro),
            "wyze" => Ok(Family::Wyze),
            other => Err(Error::Unsupported(format!("URL scheme {other:?}"))),
        }
    }

    /// Whether its cameras keep files reachable (listing, download, capture).
    pub fn has_media(self) -> bool {
        self != Family::Wyze
    }

    /// The live view's codec as far as known before connecting (`None`: no live view).
    pub fn live_codec(self) -> Option<Codec> {
        match self {
            Family::Ptpip => Some(Codec::Jpeg),
            Family::Yi | Family::Wyze => Some(Codec::H264),
            Family::Lytro => None,
        }
    }
}

/// What the owner reports to event-stream readers.
#[derive(Debug, Clone)]
pub enum Notice {
    /// The camera reported something.
    Camera(Event),
    /// The session state changed.
    State,
    /// A file was imported (its catalog id).
    Imported(i64),
}

/// Why a job could not run.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The camera is not connected now.
    #[error("the camera is not connected ({0})")]
    NotConnected(String),
    /// The camera answered with an error.
    #[error(transparent)]
    Camera(#[from] Error),
    /// Serve is shutting down.
    #[error("the server is shutting down")]
    Gone,
}

/// A connected session, as jobs see it.
pub struct Session {
    /// The camera.
    pub camera: AnyCamera,
    /// `protocol:maker:model:serial`, as the catalog records it.
    pub identity: String,
    /// The camera's listing, kept until something may have changed it.
    listing: Option<Vec<MediaItem>>,
    /// New files a job made (a capture), imported by the owner after the job.
    made: Vec<MediaItem>,
}

impl Session {
    /// The listing, read once and kept until a capture, an event or an import may have changed it.
    pub async fn listing(&mut self) -> Result<&[MediaItem]> {
        if self.listing.is_none() {
            self.listing = Some(self.camera.list_media().await?);
        }
        Ok(self.listing.as_deref().unwrap_or_default())
    }

    /// Forgets the kept listing.
    pub fn listing_changed(&mut self) {
        self.listing = None;
    }

    /// Notes files a job made, for auto-import after the job.
    pub fn made(&mut self, files: &[MediaItem]) {
        self.listing = None;
        self.made.extend_from_slice(files);
    }
}

/// Work for the owner: runs with the session (or learns why there is none); returns whether the
/// connection looked lost.
type Job =
    Box<dyn for<'a> FnOnce(std::result::Result<&'a mut Session, CallError>) -> BoxFuture<'a, bool> + Send>;

/// What the owner does with a new file besides announcing it.
#[derive(Clone)]
pub struct ImportSetup {
    /// The folder.
    pub dir: PathBuf,
    /// Local names.
    pub template: Option<Arc<FilenameTemplate>>,
    /// The catalog.
    pub catalog: Arc<Catalog>,
}

/// The rest of serve's view of one camera. Cheap to clone.
#[derive(Clone)]
pub struct CameraHandle {
    /// Its name.
    pub name: String,
    /// Its family.
    pub family: Family,
    /// Its live view, fed while anyone watches.
    pub feed: LiveFeed,
    /// Auto-import, when configured.
    pub import: Option<ImportSetup>,
    jobs: mpsc::Sender<Job>,
    status: watch::Receiver<Status>,
    notices: broadcast::Sender<Notice>,
}

impl CameraHandle {
    /// The state now.
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Follows what the owner reports.
    pub fn notices(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// Runs `work` with the connected session and returns its result.
    pub async fn call<T, F>(&self, work: F) -> std::result::Result<T, CallError>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut Session) -> BoxFuture<'a, Result<T>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |session| {
            Box::pin(async move {
                match session {
                    // The caller left while the job waited: nothing is done for nobody (a capture
                    // nobody sees).
                    Ok(_) if reply.is_closed() => false,
                    Ok(session) => {
                        let result = work(session).await;
                        let lost = result.as_ref().err().is_some_and(Error::is_connection_lost);
                        let _ = reply.send(result.map_err(CallError::Camera));
                        lost
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        false
                    }
                }
            })
        });
        self.jobs.send(job).await.map_err(|_| CallError::Gone)?;
        answer.await.map_err(|_| CallError::Gone)?
    }
}

/// Starts the owner of `config`'s camera; it runs until `stop` becomes true, then closes the session.
pub fn spawn(
    config: &CameraConfig,
    import: Option<ImportSetup>,
    stop: watch::Receiver<bool>,
) -> Result<(CameraHandle, tokio::task::JoinHandle<()>)> {
    let family = Family::of(&config.url)?;
    let (jobs_tx, jobs) = mpsc::channel(JOB_QUEUE);
    let (status_tx, status) = watch::channel(Status {
        state: State::Connecting,
        error: None,
        info: None,
        identity: None,
        live: family.live_codec(),
    });
    let (notices, _) = broadcast::channel(EVENT_QUEUE);
    let feed = LiveFeed::new(FEED_QUEUE);
    let handle = CameraHandle {
        name: config.name.clone(),
        family,
        feed: feed.clone(),
        import: import.clone(),
        jobs: jobs_tx,
        status,
        notices: notices.clone(),
    };
    let owner = Owner {
        name: config.name.clone(),
        url: config.url.clone(),
        family,
        feed,
        import,
        jobs,
        status: status_tx,
        notices,
        stop,
        imported: 0,
        to_import: std::collections::VecDeque::new(),
        live_retry_at: None,
        live_backoff: FIRST_BACKOFF,
    };
    Ok((handle, tokio::spawn(owner.run())))
}

struct Owner {
    name: String,
    url: String,
    family: Family,
    feed: LiveFeed,
    import: Option<ImportSetup>,
    jobs: mpsc::Receiver<Job>,
    status: watch::Sender<Status>,
    notices: broadcast::Sender<Notice>,
    stop: watch::Receiver<bool>,
    /// Files imported so far (the template's `%n`).
    imported: u64,
    /// Files waiting for import, one per turn of the loop.
    to_import: std::collections::VecDeque<MediaItem>,
    /// No live view is started before this (after one failed).
    live_retry_at: Option<Instant>,
    /// The wait before the next live-view attempt after a failure.
    live_backoff: Duration,
}

/// Why a connected stretch ended.
enum Ended {
    Stop,
    Lost(Error),
}

/// The live view while it runs.
enum Live {
    Off,
    /// PTP/IP live-view JPEGs, polled between jobs.
    Jpeg,
    /// Wyze's video channel is on.
    Wyze,
    /// The Yi's RTSP stream, read by a task of its own.
    Yi {
        task: tokio::task::JoinHandle<()>,
        stop: Option<oneshot::Sender<()>>,
    },
}

/// Camera info without anything that looks like a secret.
fn without_secrets(mut info: CameraInfo) -> CameraInfo {
    info.extra.retain(|(k, _)| {
        let k = k.to_ascii_lowercase();
        !SECRET_WORDS.iter().any(|w| k.contains(w))
    });
    info
}

impl Owner {
    fn set_status(&self, state: State, error: Option<String>, info: Option<CameraInfo>) {
        self.status.send_modify(|s| {
            s.state = state;
            s.error = error;
            if info.is_some() {
                s.info = info;
            }
        });
        let _ = self.notices.send(Notice::State);
    }

    async fn run(mut self) {
        let mut backoff = FIRST_BACKOFF;
        let mut first = true;
        loop {
            if *self.stop.borrow() {
                break;
            }
            let first_attempt = std::mem::take(&mut first);
            if !first_attempt {
                self.status.send_modify(|s| s.state = State::Reconnecting);
                let _ = self.notices.send(Notice::State);
            }
            let url = self.url.clone();
            let waiting = if first_attempt { "connecting" } else { "reconnecting" };
            let Some(connected) = self.refusing_jobs(waiting, AnyCamera::connect(&url)).await else { break };
            let started = Instant::now();
            let error = match connected {
                Ok(camera) => match self.connected(camera).await {
                    Ended::Stop => break,
                    Ended::Lost(e) => e,
                },
                Err(e) => e,
            };
            tracing::warn!(camera = %self.name, "camera session: {error}");
            self.feed.set_available(false);
            self.set_status(
                State::Reconnecting,
                Some(camctl_core::text::escape(&error.to_string()).into_owned()),
                None,
            );
            if started.elapsed() >= STABLE_SESSION {
                backoff = FIRST_BACKOFF;
            }
            if self.refusing_jobs("reconnecting", tokio::time::sleep(backoff)).await.is_none() {
                break;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        self.feed.set_available(false);
        self.set_status(State::Stopped, None, None);
        // Whoever still asks learns that serve is going.
        self.jobs.close();
        while let Some(job) = self.jobs.recv().await {
            job(Err(CallError::Gone)).await;
        }
    }

    /// Waits for `work` while answering every job with "not connected (`state`)", so that no caller
    /// hangs; `None` when serve stops first.
    async fn refusing_jobs<T>(
        &mut self,
        state: &str,
        work: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        tokio::pin!(work);
        let stop = stopped(&self.stop);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                done = &mut work => return Some(done),
                () = &mut stop => return None,
                Some(job) = self.jobs.recv() => {
                    job(Err(CallError::NotConnected(state.to_string()))).await;
                }
            }
        }
    }

    /// One connected stretch; the session is closed politely at the end.
    async fn connected(&mut self, camera: AnyCamera) -> Ended {
        let mut session = Session { camera, identity: String::new(), listing: None, made: Vec::new() };
        let mut live = Live::Off;
        let ended = self.serve_session(&mut session, &mut live).await;
        self.stop_live(&mut session, &mut live).await;
        self.feed.set_available(false);
        let camera = session.camera;
        let closing = async {
            if let Err(e) = camera.close().await {
                tracing::debug!("closing the session: {e}");
            }
        };
        // A camera that went away must not hold up a shutdown.
        let _ = tokio::time::timeout(Duration::from_secs(5), closing).await;
        ended
    }

    async fn serve_session(&mut self, session: &mut Session, live: &mut Live) -> Ended {
        let setup: Result<CameraInfo> = async {
            session.camera.prepare_events().await?;
            session.camera.info().await
        }
        .await;
        let info = match setup {
            Ok(info) => info,
            Err(e) => return Ended::Lost(e),
        };
        session.identity = camera_identity(&info);
        let identity = session.identity.clone();
        self.status.send_modify(|s| s.identity = Some(identity));
        let live_codec = match &session.camera {
            // Live view needs a maker's dialect.
            AnyCamera::Ptp(ptp) if ptp.dialect() == camctl_ptpip::Dialect::Generic => None,
            _ => self.family.live_codec(),
        };
        self.status.send_modify(|s| s.live = live_codec);
        self.set_status(State::Connected, None, Some(without_secrets(info.clone())));
        self.feed.set_available(live_codec.is_some());
        tracing::info!(camera = %self.name, "connected");
        self.to_import.clear();
        if self.import.is_some() {
            match session.listing().await {
                Ok(items) => {
                    let items = items.to_vec();
                    self.queue_imports(session, items);
                }
                Err(e) => return Ended::Lost(e),
            }
        }
        let mut next_check = Instant::now() + HEALTH_CHECK_EVERY;
        let mut no_demand_since: Option<Instant> = None;
        let mut next_jpeg = Instant::now();
        let mut last_event_look = Instant::now();
        loop {
            if *self.stop.borrow() {
                return Ended::Stop;
            }
            // Jobs first: they are what someone is waiting for.
            while let Ok(job) = self.jobs.try_recv() {
                if let Err(e) = self.run_job(session, job).await {
                    return Ended::Lost(e);
                }
            }
            // One file per turn, so that requests and live frames are not held up by a long import.
            if let Some(item) = self.to_import.pop_front()
                && let Err(e) = self.import_items(session, vec![item]).await
            {
                return Ended::Lost(e);
            }
            if let Err(e) = self.manage_live(session, live, &mut no_demand_since).await {
                return Ended::Lost(e);
            }
            if Instant::now() >= next_check {
                next_check = Instant::now() + HEALTH_CHECK_EVERY;
                match session.camera.info().await {
                    Ok(info) => self.status.send_modify(|s| s.info = Some(without_secrets(info))),
                    Err(e) if e.is_connection_lost() => return Ended::Lost(e),
                    Err(e) => tracing::debug!("health check: {e}"),
                }
            }
            // With files waiting for import, the loop does not idle; with JPEG live view it waits only
            // until the next frame is due.
            let mut idle_step = if self.to_import.is_empty() { IDLE_STEP } else { Duration::ZERO };
            let jpeg_due =
                matches!(live, Live::Jpeg).then(|| next_jpeg.saturating_duration_since(Instant::now()));
            if let Some(due) = jpeg_due {
                idle_step = idle_step.min(due);
            }
            let start_may_wake = matches!(live, Live::Off)
                && self.feed.is_available()
                && self.live_retry_at.is_none_or(|t| Instant::now() >= t);
            let step = match (&mut session.camera, &*live) {
                (AnyCamera::Ptp(ptp), Live::Jpeg) if jpeg_due == Some(Duration::ZERO) => {
                    next_jpeg = Instant::now() + JPEG_FRAME_EVERY;
                    match ptp.live_frame().await {
                        Ok(jpeg) => {
                            self.publish_jpeg(jpeg);
                            if last_event_look.elapsed() >= IDLE_STEP {
                                last_event_look = Instant::now();
                                session.camera.next_event_within(Duration::ZERO).await
                            } else {
                                Ok(None)
                            }
                        }
                        Err(e) => Err(e),
                    }
                }
                (AnyCamera::Wyze(wyze), _) => {
                    let wyze_live = matches!(live, Live::Wyze);
                    let s = wyze.session();
                    // Every future here only waits on a queue: cutting it short is safe.
                    tokio::select! {
                        biased;
                        () = stopped(&self.stop) => return Ended::Stop,
                        Some(job) = self.jobs.recv() => self.run_job(session, job).await.map(|()| None),
                        frame = s.recv_frame(), if wyze_live => match frame {
                            Ok((info, data)) => {
                                publish_wyze(&self.feed, &info, data);
                                Ok(None)
                            }
                            Err(e) => Err(e.into()),
                        },
                        event = s.next_event() => match event {
                            Ok(Some(e)) => Ok(Some(e)),
                            Ok(None) => Err(camctl_core::camera::event_stream_closed()),
                            Err(e) => Err(e.into()),
                        },
                        () = tokio::time::sleep(idle_step), if idle_step > Duration::ZERO => Ok(None),
                        () = std::future::ready(()), if idle_step.is_zero() => Ok(None),
                    }
                }
                _ => {
                    // Wait for a job (a queue: safe to cut short), then look for events without
                    // holding anything up.
                    tokio::select! {
                        biased;
                        () = stopped(&self.stop) => return Ended::Stop,
                        Some(job) = self.jobs.recv() => {
                            if let Err(e) = self.run_job(session, job).await {
                                return Ended::Lost(e);
                            }
                        }
                        () = tokio::time::sleep(idle_step), if idle_step > Duration::ZERO => {}
                        () = std::future::ready(()), if idle_step.is_zero() => {}
                        () = self.feed.wait_demand(true), if start_may_wake => {}
                    }
                    if jpeg_due.is_some() && last_event_look.elapsed() < IDLE_STEP {
                        // Between live frames: events were looked at a moment ago.
                        Ok(None)
                    } else {
                        last_event_look = Instant::now();
                        session.camera.next_event_within(Duration::ZERO).await
                    }
                }
            };
            match step {
                Ok(Some(event)) => {
                    if let Err(e) = self.on_event(session, event).await {
                        return Ended::Lost(e);
                    }
                }
                Ok(None) => {}
                Err(e) if e.is_connection_lost() => return Ended::Lost(e),
                Err(e) => {
                    tracing::warn!(camera = %self.name, "{e}");
                    if matches!(live, Live::Jpeg) {
                        // A camera that refuses live view must not be asked again at once.
                        self.stop_live(session, live).await;
                        self.feed.interrupt();
                        self.live_failed();
                    }
                }
            }
        }
    }

    /// Runs a job, then imports what it made; an error means the connection is lost.
    async fn run_job(&mut self, session: &mut Session, job: Job) -> Result<()> {
        if job(Ok(session)).await {
            return Err(Error::Protocol("the connection was lost during a request".into()));
        }
        let made = std::mem::take(&mut session.made);
        if !made.is_empty() {
            self.queue_imports(session, made);
        }
        Ok(())
    }

    /// Starts the live view when someone wants frames; stops it a while after nobody does.
    async fn manage_live(
        &mut self,
        session: &mut Session,
        live: &mut Live,
        no_demand_since: &mut Option<Instant>,
    ) -> Result<()> {
        let wanted = self.feed.demand_count() > 0;
        if wanted {
            *no_demand_since = None;
        }
        let may_start = self.live_retry_at.is_none_or(|t| Instant::now() >= t);
        match (&*live, wanted) {
            (Live::Off, true) if may_start => match self.start_live(session, live).await {
                Ok(()) => {}
                Err(e) if e.is_connection_lost() => return Err(e),
                Err(e) => {
                    tracing::warn!(camera = %self.name, "live view: {e}");
                    self.live_failed();
                }
            },
            (Live::Off, true) => {}
            (Live::Yi { task, .. }, true) if task.is_finished() => {
                // The stream ended (the camera stopped its viewfinder): again, after a while.
                self.stop_live(session, live).await;
                self.feed.interrupt();
                self.live_failed();
            }
            (Live::Off, false) => {}
            (_, false) => {
                let since = *no_demand_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= LIVE_LINGER {
                    self.stop_live(session, live).await;
                    self.feed.interrupt();
                }
            }
            (_, true) => {}
        }
        Ok(())
    }

    /// Live view failed: the next attempt waits, longer each time in a row.
    fn live_failed(&mut self) {
        self.live_retry_at = Some(Instant::now() + self.live_backoff);
        self.live_backoff = (self.live_backoff * 2).min(MAX_BACKOFF);
    }

    async fn start_live(&mut self, session: &mut Session, live: &mut Live) -> Result<()> {
        match &mut session.camera {
            AnyCamera::Ptp(_) => *live = Live::Jpeg,
            AnyCamera::Wyze(wyze) => {
                // 10010: the video channel on (media 1).
                wyze.session().control_channel(1, true).await?;
                *live = Live::Wyze;
            }
            AnyCamera::Yi(yi) => {
                let url = yi.start_preview().await?;
                let (stop_tx, stop_rx) = oneshot::channel::<()>();
                let feed = self.feed.clone();
                let name = self.name.clone();
                let task = tokio::spawn(async move {
                    let options = camctl_ambarella::live::LiveOptions::default();
                    let start = SystemTime::now();
                    let emit = |f: camctl_ambarella::live::LiveFrame<'_>| {
                        let pts = u64::try_from(f.pts).unwrap_or(0);
                        feed.publish(Frame {
                            codec: Codec::H264,
                            data: f.data.to_vec(),
                            keyframe: f.keyframe,
                            pts,
                            captured: start + Duration::from_micros(pts.saturating_mul(100) / 9),
                        });
                        Ok(())
                    };
                    let stop = async {
                        let _ = stop_rx.await;
                    };
                    if let Err(e) = camctl_ambarella::live::stream_frames(&url, &options, stop, emit).await {
                        tracing::warn!(camera = %name, "live view: {}", e.error);
                    }
                });
                *live = Live::Yi { task, stop: Some(stop_tx) };
            }
            AnyCamera::Lytro(_) => {}
        }
        Ok(())
    }

    async fn stop_live(&mut self, session: &mut Session, live: &mut Live) {
        match std::mem::replace(live, Live::Off) {
            Live::Off => {}
            Live::Jpeg => {
                if let AnyCamera::Ptp(ptp) = &mut session.camera {
                    ptp.end_live().await;
                }
            }
            Live::Wyze => {
                if let AnyCamera::Wyze(wyze) = &mut session.camera
                    && let Err(e) = wyze.session().control_channel(1, false).await
                {
                    tracing::debug!("switching the video channel off: {e}");
                }
            }
            Live::Yi { task, mut stop } => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
                let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
                if let AnyCamera::Yi(yi) = &mut session.camera
                    && let Err(e) = yi.stop_preview().await
                {
                    tracing::debug!("stopping the preview: {e}");
                }
            }
        }
    }

    fn publish_jpeg(&mut self, jpeg: Vec<u8>) {
        // Frames come: the live view works.
        self.live_retry_at = None;
        self.live_backoff = FIRST_BACKOFF;
        let now = SystemTime::now();
        let pts = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64 * 90 / 1000;
        self.feed.publish(Frame { codec: Codec::Jpeg, data: jpeg, keyframe: true, pts, captured: now });
    }

    async fn on_event(&mut self, session: &mut Session, event: Event) -> Result<()> {
        let _ = self.notices.send(Notice::Camera(event.clone()));
        let announces_media = !event.media.is_empty() || NEW_MEDIA_EVENTS.contains(&event.name.as_str());
        if announces_media {
            session.listing_changed();
        }
        if self.import.is_none() || !announces_media {
            return Ok(());
        }
        let items = if event.media.is_empty() { session.listing().await?.to_vec() } else { event.media };
        self.queue_imports(session, items);
        Ok(())
    }

    /// Queues what of `items` is neither imported nor queued yet.
    fn queue_imports(&mut self, session: &Session, items: Vec<MediaItem>) {
        let Some(import) = &self.import else { return };
        for item in items {
            let known = match import.catalog.contains(CameraFile::of(&session.identity, &item)) {
                Ok(known) => known,
                Err(e) => {
                    tracing::warn!(camera = %self.name, "catalog: {e}");
                    true
                }
            };
            if !known && !self.to_import.iter().any(|q| q.path == item.path) {
                self.to_import.push_back(item);
            }
        }
    }

    /// Imports what of `items` the catalog does not have, as `camctl watch` does, and announces each.
    async fn import_items(&mut self, session: &mut Session, items: Vec<MediaItem>) -> Result<()> {
        let Some(import) = self.import.clone() else { return Ok(()) };
        let info = self.status.borrow().info.clone().unwrap_or_default();
        // Files imported meanwhile are skipped by the pull itself (skip_imported).
        let new = items;
        if new.is_empty() {
            return Ok(());
        }
        let dir = DownloadDir::open(&import.dir)?;
        let options = PullOptions {
            reconnect: None,
            stop: Some(self.stop.clone()),
            progress: false,
            catalog: Some(CatalogUse {
                catalog: &import.catalog,
                protocol: info.protocol.clone(),
                serial: info.serial.clone(),
                skip_imported: true,
            }),
            names: import.template.as_deref(),
            first_number: self.imported + 1,
        };
        let identity = session.identity.clone();
        let report = pull_with(&mut session.camera, &identity, &new, &dir, options).await;
        let mut lost = None;
        for (item, outcome) in new.iter().zip(&report.files) {
            match outcome.status {
                PullStatus::Fetched | PullStatus::Resumed => {
                    self.imported += 1;
                    match import.catalog.find(&identity, &item.path) {
                        Ok(Some(id)) => {
                            let _ = self.notices.send(Notice::Imported(id));
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!("catalog: {e}"),
                    }
                }
                PullStatus::Failed if outcome.connection_lost => {
                    lost.get_or_insert_with(|| {
                        Error::Protocol(outcome.error.clone().unwrap_or_else(|| "connection lost".into()))
                    });
                }
                PullStatus::Failed => {
                    let why = outcome.error.as_deref().unwrap_or("failed");
                    tracing::warn!(camera = %self.name, "import of {} failed: {}", camctl_core::text::escape(&item.path), camctl_core::text::escape(why));
                }
                _ => {}
            }
        }
        match lost {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// A Wyze video frame into the feed (audio is not served).
fn publish_wyze(feed: &LiveFeed, info: &camctl_wyze::wire::FrameInfo, data: Vec<u8>) {
    use camctl_wyze::wire::frameinfo::codec;
    let codec = match info.codec_id & 0xff {
        c if c == codec::H264 => Codec::H264,
        c if c == codec::H265 => Codec::H265,
        _ => return,
    };
    // The camera's clock: seconds and microseconds since 1970.
    let micros = u64::from(info.timestamp) * 1_000_000 + u64::from(info.timestamp_us.min(999_999));
    // (u32 seconds in microseconds times 9 stays far below u64::MAX.)
    feed.publish(Frame {
        codec,
        data,
        keyframe: info.flags & 1 == 1,
        pts: micros * 9 / 100,
        captured: UNIX_EPOCH + Duration::from_micros(micros),
    });
}
