//! A real `camctl_ptpip::emulator::Emulator` serving on 127.0.0.1 for the duration of a test, and the
//! helpers the client tests drive it with.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use camctl_core::{Camera, CameraUrl, Event};
use camctl_ptpip::PtpCamera;
use camctl_ptpip::emulator::{Emulator, EmulatorConfig, Personality};
use tokio::task::JoinHandle;

/// A running emulator; aborted (with all its connections) on drop.
pub struct Running {
    pub addr: SocketAddr,
    pub url: String,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Serves an emulator that is already bound.
    pub fn serve(emu: Emulator) -> Running {
        let (addr, url) = (emu.local_addr(), emu.url());
        Running { addr, url, task: tokio::spawn(emu.serve()) }
    }

    /// Binds an emulator with `config` on 127.0.0.1 (any port) and serves it.
    pub async fn start(config: EmulatorConfig) -> Running {
        Running::serve(Emulator::bind("127.0.0.1:0".parse().unwrap(), config).await.unwrap())
    }

    /// An emulator of `personality` serving the media in `dir`.
    pub async fn personality(dir: &Path, personality: Personality) -> Running {
        Running::start(EmulatorConfig {
            media_dir: dir.to_path_buf(),
            ..EmulatorConfig::for_personality(personality)
        })
        .await
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// camctl's client, connected to `emu`.
pub async fn connect(emu: &Running) -> PtpCamera {
    let url: CameraUrl = emu.url.parse().unwrap();
    PtpCamera::connect(&url).await.unwrap()
}

/// Every file under `dir` (recursively), as full paths.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Reads `watcher`'s events in a task until one named `last` (or the end of the stream); the task
/// gives the camera back with every event it read.
pub fn watch_until(mut watcher: PtpCamera, last: &'static str) -> JoinHandle<(PtpCamera, Vec<Event>)> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(Some(e)) = watcher.next_event().await {
            let done = e.name == last;
            seen.push(e);
            if done {
                break;
            }
        }
        (watcher, seen)
    })
}
