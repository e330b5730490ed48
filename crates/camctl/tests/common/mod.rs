//! Helpers shared by the CLI and interop tests: run `camctl emulate` as a real process.
#![allow(dead_code)]

pub mod chromium;
pub mod gphoto2;
pub mod netns;
pub mod proxy;
pub mod serve;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The camctl binary under test.
pub fn camctl() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_camctl"));
    cmd.env_remove("RUST_LOG");
    // Pulls record their imports: into the build's scratch folder, never the user's catalog.
    cmd.env("CAMCTL_CATALOG", concat!(env!("CARGO_TARGET_TMPDIR"), "/catalog.db"));
    cmd
}

/// Output bytes as text (camctl prints no colour codes off a terminal, so none are stripped).
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs camctl with `args`, returning its output.
pub fn run(args: &[&str]) -> Output {
    camctl().args(args).output().expect("run camctl")
}

/// Runs camctl, asserts it fails with exactly one stderr line containing `want`.
pub fn fails_in_one_line(args: &[&str], want: &str) {
    let out = run(args);
    assert!(!out.status.success(), "{args:?}");
    let err = lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(want), "{args:?}: {err}");
}

/// Runs camctl and asserts success; returns stdout.
pub fn run_ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "camctl {args:?} failed: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// A `camctl emulate` process, stopped with SIGTERM when dropped.
pub struct Emulator {
    child: Child,
    /// The URL it printed.
    pub url: String,
    /// Its media folder.
    pub media: PathBuf,
}

impl Emulator {
    /// Starts `camctl emulate PROTOCOL --listen 127.0.0.1:0 --media MEDIA` and waits for its URL.
    pub fn start(protocol: &str, media: &Path, extra: &[&str]) -> Emulator {
        Self::start_at(protocol, "127.0.0.1:0", media, extra)
    }

    /// Like [`Emulator::start`], listening on `listen` (e.g. a port a previous emulator had).
    pub fn start_at(protocol: &str, listen: &str, media: &Path, extra: &[&str]) -> Emulator {
        let mut child = camctl()
            .args(["emulate", protocol, "--listen", listen, "--media"])
            .arg(media)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn camctl emulate");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read listening line");
        let url = line.strip_prefix("listening ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Emulator { child, url: url.trim().to_string(), media: media.to_path_buf() }
    }

    /// The port in the URL.
    pub fn port(&self) -> u16 {
        // The authority only: option values may hold ':' too.
        let authority = self.url.split_once("://").map_or(&self.url[..], |(_, rest)| rest);
        let authority = authority.split(['?', '/']).next().unwrap_or_default();
        authority.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).expect("port")
    }

    /// Presses the camera's own shutter button (SIGUSR1): a picture appears with the events a shot
    /// taken on the body sends.
    pub fn press_shutter(&self) {
        let status =
            Command::new("kill").arg("-USR1").arg(self.child.id().to_string()).status().expect("kill");
        assert!(status.success(), "kill -USR1");
    }

    /// Sends SIGTERM and returns the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.terminate()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        unsafe_kill(self.child.id());
        self.child.wait().expect("wait for emulator")
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.terminate();
        }
    }
}

fn unsafe_kill(pid: u32) {
    // `kill` from procps avoids an FFI dependency in tests.
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
}

/// Writes a file of `len` pseudo-random bytes (deterministic from `seed`).
pub fn write_random_file(path: &Path, len: usize, seed: u64) {
    camctl_core::media::write_noise_file(path, len as u64, seed).unwrap();
}

/// Every file under `root`, as sorted relative paths.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Whether an external program is available; under CI=true a missing one fails the test instead.
pub fn require_program(name: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{name} is required under CI=true but is not installed (.ci/run installs it)");
        }
        eprintln!("skipping: {name} is not installed (install it or run .ci/run)");
    }
    found
}

/// Starts camctl with `-v` and waits (up to 30 s) until its stderr shows `marker`, i.e. until it is
/// connected; stdout is piped. Stderr keeps being drained in the background.
pub fn spawn_ready(args: &[&str], marker: &str) -> Child {
    let mut child = camctl()
        .arg("-v")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn camctl");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let marker = marker.to_string();
    std::thread::spawn(move || {
        let mut ready = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains(&marker)
                && let Some(tx) = ready.take()
            {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(30)).expect("camctl did not get ready");
    child
}

/// ffprobe's `codec_name,width,height,nb_read_frames` of each stream of a file (trimmed CSV), or None
/// when ffprobe is not installed (under CI=true that fails instead, see [`require_program`]).
pub fn ffprobe(path: &Path) -> Option<String> {
    if !require_program("ffprobe") {
        return None;
    }
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames",
        ])
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// ffprobe's (codec, width, height, frames) of a file with one stream; None without ffprobe.
pub fn probe(path: &Path) -> Option<(String, u32, u32, u64)> {
    let text = ffprobe(path)?;
    let f: Vec<&str> = text.split(',').collect();
    assert_eq!(f.len(), 4, "ffprobe: {text}");
    Some((f[0].into(), f[1].parse().unwrap(), f[2].parse().unwrap(), f[3].parse().unwrap()))
}

/// `camctl live URL --frames 1 --out OUT`: it must succeed and say so, and write a JPEG (no vendor
/// header before it) that ffprobe, when installed, reads as one MJPEG frame of the same size.
pub fn assert_live_one_frame(url: &str, out: &Path) {
    let stderr = assert_live_frames(url, out, 1);
    assert!(stderr.contains("live: 1 frames ("), "{stderr}");
    let jpeg = std::fs::read(out).unwrap();
    let (w, h) = camctl_core::media::jpeg_dimensions(&jpeg).expect("a JPEG, not a vendor header");
    if let Some((codec, pw, ph, frames)) = probe(out) {
        assert_eq!((codec.as_str(), pw, ph, frames), ("mjpeg", u32::from(w), u32::from(h), 1));
    }
}

/// `camctl live URL --frames N --out OUT`: it must succeed, and ffprobe, when installed, must read N
/// MJPEG frames; returns camctl's stderr.
pub fn assert_live_frames(url: &str, out: &Path, n: u32) -> String {
    let res = run(&["live", url, "--frames", &n.to_string(), "--out", out.to_str().unwrap()]);
    let stderr = lossy(&res.stderr);
    assert!(res.status.success(), "{stderr}");
    if let Some((codec, _, _, frames)) = probe(out) {
        assert_eq!((codec.as_str(), frames), ("mjpeg", u64::from(n)));
    }
    stderr
}
