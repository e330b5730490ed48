//! `--hook-script PATH`: a user's script run at each step of a watch, gphoto2's contract.
//!
//! The script runs with `ACTION=init|start|download|stop` and, for `download`, `ARGUMENT=<local
//! file>`; camctl adds `CAMCTL_URL` and `CAMCTL_CAMERA_PATH`. Runs happen one at a time and in order
//! on a task of their own, so a slow script never holds up a download; a failing one is reported
//! and the watch goes on. The script's output goes to stderr (stdout may be carrying `--json`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use camctl_core::text::Safe;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long the end of a watch waits for the runs still queued.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// The step a run is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// camctl started.
    Init,
    /// Connected to the camera, about to import.
    Start,
    /// A file was imported.
    Download,
    /// The watch ends.
    Stop,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Init => "init",
            Action::Start => "start",
            Action::Download => "download",
            Action::Stop => "stop",
        }
    }
}

struct Run {
    url: String,
    action: Action,
    local_path: Option<PathBuf>,
    camera_path: Option<String>,
}

/// The queue of script runs; runs nothing without a script.
pub struct Hooks {
    queue: Option<mpsc::UnboundedSender<Run>>,
    runner: Option<JoinHandle<()>>,
    /// `CAMCTL_URL` of the runs queued from now on.
    url: String,
}

impl Hooks {
    /// Starts the runner for `script` (none: every call is a no-op). The script must exist and be a
    /// file, checked now so that a typo fails before anything else happens.
    pub fn start(script: Option<&Path>) -> camctl_core::Result<Hooks> {
        let Some(script) = script else { return Ok(Hooks { queue: None, runner: None, url: String::new() }) };
        match std::fs::metadata(script) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                return Err(camctl_core::Error::InvalidValue(format!(
                    "--hook-script {}: not a file",
                    script.display()
                )));
            }
            Err(e) => return Err(camctl_core::Error::io(format!("--hook-script {}", script.display()), e)),
        }
        let (queue, mut runs) = mpsc::unbounded_channel::<Run>();
        let script = script.to_path_buf();
        let runner = tokio::spawn(async move {
            while let Some(run) = runs.recv().await {
                run_once(&script, &run).await;
            }
        });
        Ok(Hooks { queue: Some(queue), runner: Some(runner), url: String::new() })
    }

    /// The camera URL (`CAMCTL_URL`) of the runs queued from now on.
    pub fn set_url(&mut self, url: &str) {
        self.url = url.to_string();
    }

    /// Queues a run; returns at once.
    pub fn run(&self, action: Action, local_path: Option<&Path>, camera_path: Option<&str>) {
        if let Some(queue) = &self.queue {
            let run = Run {
                url: self.url.clone(),
                action,
                local_path: local_path.map(Path::to_path_buf),
                camera_path: camera_path.map(str::to_string),
            };
            // The runner only ends when the queue is dropped: sending cannot fail before that.
            let _ = queue.send(run);
        }
    }

    /// Waits (up to a minute) for every queued run to finish.
    pub async fn finish(mut self) {
        drop(self.queue.take());
        if let Some(mut runner) = self.runner.take()
            && tokio::time::timeout(DRAIN_TIMEOUT, &mut runner).await.is_err()
        {
            eprintln!(
                "camctl: hook script still running after {} s; not waiting for it",
                DRAIN_TIMEOUT.as_secs()
            );
            runner.abort();
        }
    }
}

async fn run_once(script: &Path, run: &Run) {
    let mut command = tokio::process::Command::new(script);
    command
        .env("ACTION", run.action.as_str())
        .env("CAMCTL_URL", &run.url)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(local) = &run.local_path {
        command.env("ARGUMENT", local);
    }
    if let Some(camera_path) = &run.camera_path {
        command.env("CAMCTL_CAMERA_PATH", camera_path);
    }
    // The script's stdout joins stderr: stdout is camctl's (one JSON object per line with --json).
    command.stdout(stderr_for_child());
    let what = format!("hook script {} (ACTION={})", script.display(), run.action.as_str());
    match command.status().await {
        Ok(status) if status.success() => {}
        Ok(status) => eprintln!(
            "camctl: {what} failed ({status}){}; going on",
            run.local_path
                .as_ref()
                .map(|p| format!(" for {}", Safe(&p.to_string_lossy())))
                .unwrap_or_default()
        ),
        Err(e) => eprintln!("camctl: {what} could not run: {e}; going on"),
    }
}

/// A duplicate of camctl's stderr for a child's stdout (nothing where that is not possible).
fn stderr_for_child() -> Stdio {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
            return Stdio::from(fd);
        }
    }
    Stdio::null()
}
