//! `camctl live` ends cleanly however it is stopped (SIGINT, SIGTERM, a closed stdout pipe), against
//! `camctl emulate wyze` processes on 127.0.0.1: the recording gets its final name, the summary is
//! printed and the camera's session slot is freed for the next command.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Emulator, camctl, require_program, run, run_ok};

/// `--media` for the Wyze emulator, which streams its built-in clips and never opens it.
const NO_MEDIA: &str = "wyze-emulator-opens-no-media";

/// Generous: the machine is shared and compiles run next to the tests.
const DEADLINE: Duration = Duration::from_secs(60);

/// A `camctl emulate wyze` process on a chosen `--listen` address (common's helper always picks port
/// 0), stopped with SIGTERM when dropped.
fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").arg(format!("-{name}")).arg(child.id().to_string()).status().unwrap();
    assert!(status.success(), "kill -{name}");
}

/// A running `camctl -v live`, its stderr collected line by line.
struct Live {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Vec<String>,
}

impl Live {
    fn start(args: &[&str]) -> Live {
        let mut child = camctl()
            .arg("-v")
            .arg("live")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn camctl live");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Live { child, lines, stderr: Vec::new() }
    }

    /// Waits until stderr shows a line containing `marker`.
    fn wait_for(&mut self, marker: &str) {
        let until = Instant::now() + DEADLINE;
        while !self.stderr.iter().any(|l| l.contains(marker)) {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.stderr.push(line),
                Err(e) => panic!("no {marker:?} on stderr ({e}); so far:\n{}", self.stderr.join("\n")),
            }
        }
    }

    /// Signals, waits for the exit and returns the status and the whole stderr.
    fn stop_with(mut self, name: &str) -> (ExitStatus, String) {
        signal(&self.child, name);
        let status = self.child.wait().unwrap();
        // The reader thread ends at EOF, so this drains everything.
        self.stderr.extend(self.lines.iter());
        (status, self.stderr.join("\n"))
    }
}

/// Polls (a condition on the file system, which has no event to wait on) until `ok` or the deadline.
fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + DEADLINE;
    while !ok() {
        assert!(Instant::now() < until, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn temp_of(path: &Path) -> PathBuf {
    path.with_file_name(format!(".{}.camctl-part", path.file_name().unwrap().to_str().unwrap()))
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// ffprobe's view of an H.264 file: (codec, frames).
fn assert_playable(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    let clip = camctl_core::video::clip_info(&bytes).unwrap();
    assert!(clip.frames > 0, "no frames in {}", path.display());
    if require_program("ffprobe") {
        let probe = Command::new("ffprobe")
            .args(["-v", "error", "-count_frames", "-show_entries", "stream=codec_name,nb_read_frames"])
            .args(["-of", "csv=p=0"])
            .arg(path)
            .output()
            .unwrap();
        assert!(probe.status.success(), "{}", String::from_utf8_lossy(&probe.stderr));
        let text = String::from_utf8_lossy(&probe.stdout);
        let (codec, frames) = text.trim().split_once(',').unwrap_or_else(|| panic!("ffprobe: {text}"));
        assert_eq!(codec, "h264", "ffprobe: {text}");
        assert!(frames.parse::<u64>().unwrap() > 0, "ffprobe: {text}");
    }
}

/// The number before `label` in the summary line, e.g. `3 reconnects`.
fn summary_count(stderr: &str, label: &str) -> u64 {
    let summary = stderr.lines().find(|l| l.starts_with("live: ")).unwrap_or_else(|| panic!("{stderr}"));
    let words: Vec<&str> = summary.split([' ', ',', '(', ')']).filter(|w| !w.is_empty()).collect();
    let at = words.iter().position(|w| *w == label).unwrap_or_else(|| panic!("{summary}"));
    words[at - 1].parse().unwrap_or_else(|_| panic!("{summary}"))
}

#[test]
fn sigint_and_sigterm_end_the_recording_and_free_the_slot() {
    for sig in ["INT", "TERM"] {
        let tmp = tempfile::tempdir().unwrap();
        // One slot: the next command only gets in if `live` gave its slot back.
        let cam = Emulator::start("wyze", Path::new(NO_MEDIA), &["--max-sessions", "1"]);
        let video = tmp.path().join("clip.h264");
        let mut live = Live::start(&[&cam.url, "--out", video.to_str().unwrap()]);
        live.wait_for("receiving live video");
        // Some video on disk (under the temporary name only) before stopping.
        let temp = temp_of(&video);
        wait_until("video in the temporary file", || file_len(&temp) >= 16 * 1024);
        assert!(!video.exists(), "the final name appears only when the recording is complete");
        let (status, stderr) = live.stop_with(sig);
        assert!(status.success(), "SIG{sig}: {status}\n{stderr}");
        assert!(stderr.lines().any(|l| l.starts_with("live: ") && l.contains("stopped")), "{stderr}");
        assert!(summary_count(&stderr, "frames") > 0, "{stderr}");
        let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["clip.h264"], "SIG{sig}: no temporary file left");
        assert_playable(&video);
        // A slot still held would make this fail: the camera idles a session out only after 10 s.
        run_ok(&["info", &format!("{}&timeout=2", cam.url)]);
    }
}

#[test]
fn a_closed_stdout_pipe_is_a_quiet_end() {
    let cam = Emulator::start("wyze", Path::new(NO_MEDIA), &["--max-sessions", "1"]);
    // What `camctl live URL --out - | head -c 1000` does: read 1000 bytes, then close the pipe.
    let mut child = camctl()
        .args(["live", &cam.url, "--out", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut head = vec![0u8; 1000];
    stdout.read_exact(&mut head).unwrap();
    assert!(head.starts_with(&[0, 0, 0, 1]), "Annex-B start code first");
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{stderr}", out.status);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() == 1 && lines[0].starts_with("live: "), "only the summary: {stderr}");
    assert!(lines[0].contains("output closed"), "{stderr}");
    run_ok(&["info", &format!("{}&timeout=2", cam.url)]);
}

#[test]
fn an_existing_out_file_is_kept_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let video = tmp.path().join("keep.h264");
    std::fs::write(&video, b"precious").unwrap();
    // Checked before connecting: nothing listens here, and the answer is still about the file.
    let nobody =
        "wyze://127.0.0.1:9?uid=CAMCTLEMULATOR000001&enr=camctlEmu%2FEnr%2B16&mac=2CAA8E000001&timeout=30";
    let out = run(&["live", nobody, "--out", video.to_str().unwrap(), "--for", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("already exists") && err.contains("--force") && !err.contains("Wyze camera"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(std::fs::read(&video).unwrap(), b"precious");

    let cam = Emulator::start("wyze", Path::new(NO_MEDIA), &[]);
    let out = run(&["live", &cam.url, "--out", video.to_str().unwrap(), "--for", "1", "--force"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read(&video).unwrap().starts_with(&[0, 0, 0, 1]), "replaced by the recording");
    assert!(!temp_of(&video).exists());
    assert_playable(&video);
}

#[test]
fn an_outage_is_a_reconnect_and_a_gap() {
    let tmp = tempfile::tempdir().unwrap();
    let first = Emulator::start("wyze", Path::new(NO_MEDIA), &[]);
    let port = first.port();
    let video = tmp.path().join("outage.h264");
    let url = format!("{}&timeout=2", first.url);
    let mut live = Live::start(&[&url, "--out", video.to_str().unwrap()]);
    live.wait_for("receiving live video");
    wait_until("video in the temporary file", || file_len(&temp_of(&video)) > 0);
    first.stop();
    live.wait_for("live stream interrupted");
    // The camera comes back at the same address.
    let _second = Emulator::start_at("wyze", &format!("127.0.0.1:{port}"), Path::new(NO_MEDIA), &[]);
    live.wait_for("reconnected");
    let (status, stderr) = live.stop_with("INT");
    assert!(status.success(), "{stderr}");
    assert!(summary_count(&stderr, "reconnects") >= 1, "{stderr}");
    assert!(summary_count(&stderr, "gaps") >= 1, "the outage is a gap: {stderr}");
    assert!(video.exists() && !temp_of(&video).exists());
    assert_playable(&video);
}

#[test]
fn missing_emulator_is_still_a_clean_error() {
    // Nothing answers: one clear line naming protocol, host and port; no file is created.
    let tmp = tempfile::tempdir().unwrap();
    let video = tmp.path().join("none.h264");
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let url = format!(
        "wyze://127.0.0.1:{port}?uid=CAMCTLEMULATOR000001&enr=camctlEmu%2FEnr%2B16&mac=2CAA8E000001&timeout=1"
    );
    let out = run(&["live", &url, "--out", video.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("no Wyze camera at 127.0.0.1:{port}: no answer to LAN discovery")),
        "{err}"
    );
    assert!(std::fs::read_dir(tmp.path()).unwrap().next().is_none(), "no file, no temporary file");
}
