//! `camctl watch` against `camctl emulate`: shots taken with the (emulated) body's own shutter button
//! land under their template names and the hook sees each; the camera going away and coming back
//! loses nothing and fetches nothing twice; `--delete-after` deletes only what is safely imported.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::proxy::CuttingProxy;
use common::{Emulator, camctl, lossy, write_random_file};

/// Generous: a machine under load may take seconds for a capture to be announced.
const DEADLINE: Duration = Duration::from_secs(60);

/// A running `camctl watch --json`; its stdout lines arrive on a channel.
struct Watcher {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Its stderr, line by line (each also echoed to the test's stderr).
    messages: mpsc::Receiver<String>,
}

impl Watcher {
    fn start(catalog: &Path, url: &str, dir: &Path, extra: &[&str]) -> Watcher {
        let mut child = camctl()
            .env("CAMCTL_CATALOG", catalog)
            .args(["watch", "--json", url])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (said, messages) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("{line}");
                if said.send(line).is_err() {
                    break;
                }
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watcher { child, lines, messages }
    }

    /// Waits until the watch says something containing `text`.
    fn wait_for_message(&self, text: &str) {
        loop {
            let line =
                self.messages.recv_timeout(DEADLINE).unwrap_or_else(|_| panic!("no {text:?} from the watch"));
            if line.contains(text) {
                return;
            }
        }
    }

    /// The next imported file's JSON line.
    fn next_import(&self) -> serde_json::Value {
        let line = self.lines.recv_timeout(DEADLINE).expect("an import within the deadline");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    /// SIGTERM; returns the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        let _ = std::process::Command::new("kill").arg(self.child.id().to_string()).status();
        self.child.wait().unwrap()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A hook script that appends `ACTION|ARGUMENT|CAMCTL_CAMERA_PATH` to `log`.
fn hook_script(dir: &Path, log: &Path) -> PathBuf {
    let script = dir.join("hook.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$ACTION|$ARGUMENT|$CAMCTL_CAMERA_PATH\" >> '{}'\n", log.display()),
    )
    .unwrap();
    std::process::Command::new("chmod").arg("+x").arg(&script).status().unwrap();
    script
}

/// Waits until `log` has `lines` lines (the hook runs on its own, after the import is printed).
fn hook_lines(log: &Path, lines: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let got: Vec<String> = text.lines().map(str::to_string).collect();
        if got.len() >= lines || start.elapsed() > DEADLINE {
            return got;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One family's tethering session: a file on the card before, two shots on the body during.
fn shots_on_the_body_arrive_under_their_template_names(protocol: &str, extra: &[&str], name_pattern: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    let emu = match protocol {
        "lytro" => {
            std::fs::create_dir_all(&media).unwrap();
            camctl_core::media::write_sample_pictures(&media, 1).unwrap();
            Emulator::start("lytro", &media, extra)
        }
        "yi" => {
            camctl_core::media::write_sample_pictures(&media.join("DCIM/100MEDIA"), 1).unwrap();
            Emulator::start("yi", &media, extra)
        }
        _ => {
            camctl_core::media::write_sample_pictures(&media.join("DCIM/100EMU01"), 1).unwrap();
            Emulator::start(protocol, &media, extra)
        }
    };
    let (catalog, target, log) =
        (tmp.path().join("c.db"), tmp.path().join("photos"), tmp.path().join("hook.log"));
    let script = hook_script(tmp.path(), &log);
    let watcher = Watcher::start(
        &catalog,
        &emu.url,
        &target,
        &["--filename", "%Y%m%d/shot_%03n.%C", "--hook-script", script.to_str().unwrap()],
    );
    // The backlog first.
    let first = watcher.next_import();
    assert!(first["local_path"].as_str().unwrap().contains("/shot_001."), "{first}");
    let mut imports = vec![first];
    for n in 2..=3 {
        emu.press_shutter();
        let import = watcher.next_import();
        let local = import["local_path"].as_str().unwrap();
        assert!(local.contains(&format!("shot_{n:03}.")), "{import}");
        imports.push(import);
    }
    for import in &imports {
        let local = PathBuf::from(import["local_path"].as_str().unwrap());
        assert!(local.starts_with(&target), "{import}");
        // The template's folder is the capture date the camera gave.
        let date = import["capture_time"].as_str().expect("dated");
        let day = format!("{}{}{}", &date[0..4], &date[5..7], &date[8..10]);
        assert_eq!(local.parent().unwrap().file_name().unwrap().to_str().unwrap(), day, "{import}");
        let name = local.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.to_lowercase().ends_with(name_pattern), "{name}");
        assert_eq!(std::fs::metadata(&local).unwrap().len(), import["size"].as_u64().unwrap());
        // A real picture: a JPEG from start to end.
        let bytes = std::fs::read(&local).unwrap();
        assert!(bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9]), "{name}");
    }
    let hooks = hook_lines(&log, 5);
    let status = watcher.stop();
    assert!(status.success(), "{status}");
    let hooks = if hooks.len() < 6 { hook_lines(&log, 6) } else { hooks };
    assert_eq!(hooks.first().map(String::as_str), Some("init||"), "{hooks:?}");
    assert_eq!(hooks.get(1).map(String::as_str), Some("start||"), "{hooks:?}");
    assert_eq!(hooks.last().map(String::as_str), Some("stop||"), "{hooks:?}");
    let downloads: Vec<&String> = hooks.iter().filter(|h| h.starts_with("download|")).collect();
    assert_eq!(downloads.len(), 3, "{hooks:?}");
    for (hook, import) in downloads.iter().zip(&imports) {
        assert_eq!(
            **hook,
            format!(
                "download|{}|{}",
                import["local_path"].as_str().unwrap(),
                import["camera_path"].as_str().unwrap()
            )
        );
    }
}

#[test]
fn ptpip_body_shots_are_imported_as_they_are_taken() {
    shots_on_the_body_arrive_under_their_template_names("ptpip", &[], ".jpg");
}

#[test]
fn canon_eos_body_shots_are_imported_as_they_are_taken() {
    shots_on_the_body_arrive_under_their_template_names("ptpip", &["--personality", "canon-eos"], ".jpg");
}

#[test]
fn nikon_body_shots_are_imported_as_they_are_taken() {
    shots_on_the_body_arrive_under_their_template_names("ptpip", &["--personality", "nikon"], ".jpg");
}

#[test]
fn yi_body_shots_are_imported_as_they_are_taken() {
    shots_on_the_body_arrive_under_their_template_names("yi", &[], ".jpg");
}

#[test]
fn lytro_body_shots_are_imported_as_they_are_taken() {
    shots_on_the_body_arrive_under_their_template_names("lytro", &[], ".jpg");
}

/// The option values of a URL (`data_port`, `rtsp_port`...).
fn url_option(url: &str, key: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|kv| kv.strip_prefix(&format!("{key}=")).map(str::to_string))
}

/// One family: the camera powers off during a watch, a shot is taken while it is away, it comes back
/// on the same ports; everything arrives exactly once.
fn camera_going_away_and_coming_back(protocol: &str, folder: &str, away_shot: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    camctl_core::media::write_sample_pictures(&media.join(folder), 2).unwrap();
    let emu = Emulator::start(protocol, &media, &[]);
    // The same ports after the restart.
    let mut again: Vec<String> = Vec::new();
    for (option, flag) in [
        ("data_port", "--data-port"),
        ("rtsp_port", "--rtsp-port"),
        ("download_port", "--download-port"),
        ("callback_port", "--callback-port"),
    ] {
        if let Some(port) = url_option(&emu.url, option) {
            again.extend([flag.to_string(), port]);
        }
    }
    let port = emu.port();
    let (catalog, target) = (tmp.path().join("c.db"), tmp.path().join("photos"));
    let watcher = Watcher::start(&catalog, &emu.url, &target, &[]);
    let path = |v: serde_json::Value| v["camera_path"].as_str().unwrap().to_string();
    let mut seen: Vec<String> = (0..2).map(|_| path(watcher.next_import())).collect();
    emu.press_shutter();
    seen.push(path(watcher.next_import()));
    // The camera powers off; a picture is added to the card while it is away.
    drop(emu);
    std::fs::write(media.join(folder).join(away_shot), camctl_core::media::sample_jpeg(320, 240, 77))
        .unwrap();
    let again: Vec<&str> = again.iter().map(String::as_str).collect();
    let emu = Emulator::start_at(protocol, &format!("127.0.0.1:{port}"), &media, &again);
    // Back: the picture taken while away comes, then a new shot.
    seen.push(path(watcher.next_import()));
    emu.press_shutter();
    seen.push(path(watcher.next_import()));
    let status = watcher.stop();
    assert!(status.success(), "{status}");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "{protocol}: each file once: {seen:?}");
    let stem = away_shot.split('.').next().unwrap();
    assert!(seen.iter().any(|p| p.contains(stem)), "{protocol}: {seen:?}");
    let out = camctl().env("CAMCTL_CATALOG", &catalog).args(["catalog", "list", "--json"]).output().unwrap();
    let records: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records.len(), 5, "{protocol}: {records:?}");
}

#[test]
fn ptpip_camera_going_away_and_coming_back_loses_nothing_and_fetches_nothing_twice() {
    camera_going_away_and_coming_back("ptpip", "DCIM/100EMU01", "IMG_9001.JPG");
}

#[test]
fn yi_camera_going_away_and_coming_back_loses_nothing_and_fetches_nothing_twice() {
    camera_going_away_and_coming_back("yi", "DCIM/100MEDIA", "YDXJ9001.JPG");
}

#[test]
fn lytro_camera_going_away_and_coming_back_loses_nothing_and_fetches_nothing_twice() {
    camera_going_away_and_coming_back("lytro", "", "IMG_0090.JPG");
}

#[test]
fn delete_after_removes_the_cameras_copy_only_once_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    camctl_core::media::write_sample_pictures(&media.join("DCIM/100EMU01"), 1).unwrap();
    let emu = Emulator::start("ptpip", &media, &[]);
    let (catalog, target) = (tmp.path().join("c.db"), tmp.path().join("photos"));
    let watcher = Watcher::start(&catalog, &emu.url, &target, &["--delete-after", "--count", "2"]);
    let first = watcher.next_import();
    emu.press_shutter();
    let second = watcher.next_import();
    // --count 2 ends the watch by itself.
    let mut watcher = watcher;
    let status = watcher.child.wait().unwrap();
    assert!(status.success(), "{status}");
    for import in [&first, &second] {
        let local = Path::new(import["local_path"].as_str().unwrap());
        assert!(local.is_file(), "{import}");
        let on_camera = media.join(import["camera_path"].as_str().unwrap());
        assert!(!on_camera.exists(), "the camera's copy of {import} was deleted");
    }
    // The camera agrees: nothing left to list.
    let out = camctl().args(["ls", "--json", &emu.url]).output().unwrap();
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(listed.is_empty(), "{listed:?}");
}

#[test]
fn wyze_has_no_files_to_watch() {
    let tmp = tempfile::tempdir().unwrap();
    let out = camctl()
        .env("CAMCTL_CATALOG", tmp.path().join("c.db"))
        .args(["watch", "wyze://127.0.0.1?uid=X&enr=Y&mac=Z"])
        .arg(tmp.path().join("x"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(lossy(&out.stderr).contains("keeps no files"), "{}", lossy(&out.stderr));
}

#[test]
fn a_failing_hook_is_reported_and_the_watch_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    camctl_core::media::write_sample_pictures(&media.join("DCIM/100EMU01"), 1).unwrap();
    let emu = Emulator::start("ptpip", &media, &[]);
    let script = tmp.path().join("fail.sh");
    std::fs::write(&script, "#!/bin/sh\necho \"hook saw $ACTION\"\nexit 3\n").unwrap();
    std::process::Command::new("chmod").arg("+x").arg(&script).status().unwrap();
    let out = camctl()
        .env("CAMCTL_CATALOG", tmp.path().join("c.db"))
        .args(["watch", "--json", "--count", "1", "--hook-script", script.to_str().unwrap(), &emu.url])
        .arg(tmp.path().join("photos"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    let (stdout, stderr) = (lossy(&out.stdout), lossy(&out.stderr));
    // The import is still reported (and stdout stays JSON: the script's output went to stderr).
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    serde_json::from_str::<serde_json::Value>(stdout.trim()).unwrap();
    assert!(stderr.contains("hook saw download") && stderr.contains("ACTION=download) failed"), "{stderr}");
    assert!(stderr.contains("ACTION=stop) failed"), "{stderr}");
}

#[test]
fn a_watch_killed_mid_file_resumes_it_and_records_it_once() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    let rel = "DCIM/100EMU01/MOV_0001.MP4";
    write_random_file(&media.join(rel), 8 << 20, 5);
    let emu = Emulator::start("ptpip", &media, &[]);
    let (catalog, target) = (tmp.path().join("c.db"), tmp.path().join("photos"));
    let proxy = CuttingProxy::stalling(emu.port(), 3 << 20);
    let stalled_url = format!("ptpip://127.0.0.1:{}", proxy.port);
    let watcher = Watcher::start(&catalog, &stalled_url, &target, &[]);
    // The partial file has its first megabyte: kill -9.
    let part = target.join("DCIM/100EMU01/.MOV_0001.MP4.camctl-part");
    let start = Instant::now();
    while std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0) < 1 << 20 {
        assert!(start.elapsed() < DEADLINE, "the download never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(watcher);
    let watcher = Watcher::start(&catalog, &emu.url, &target, &["--count", "1"]);
    let import = watcher.next_import();
    assert_eq!(import["camera_path"], rel);
    let mut watcher = watcher;
    assert!(watcher.child.wait().unwrap().success());
    assert_eq!(std::fs::read(target.join(rel)).unwrap(), std::fs::read(media.join(rel)).unwrap());
    let out = camctl().env("CAMCTL_CATALOG", &catalog).args(["catalog", "list", "--json"]).output().unwrap();
    let records: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records.iter().filter(|r| r["camera_path"] == rel).count(), 1, "{records:?}");
    // A second watch has nothing to do: it ends by --for, importing nothing.
    let out = camctl()
        .env("CAMCTL_CATALOG", &catalog)
        .args(["watch", "--json", "--for", "1", &emu.url])
        .arg(&target)
        .output()
        .unwrap();
    assert!(out.status.success() && out.stdout.is_empty(), "{}", lossy(&out.stdout));
}

#[test]
fn lytro_delete_after_deletes_a_picture_only_when_every_format_was_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    camctl_core::media::write_sample_pictures(&media, 1).unwrap();
    let emu = Emulator::start("lytro", &media, &[]);
    let catalog = tmp.path().join("c.db");
    let listed = |url: &str| -> Vec<serde_json::Value> {
        let out = camctl().args(["ls", "--json", url]).output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // JPEG only: the picture (and its RAW) stays on the camera.
    let out = camctl()
        .env("CAMCTL_CATALOG", &catalog)
        .args(["watch", "--json", "--delete-after", "--count", "1", &emu.url])
        .arg(tmp.path().join("jpeg-only"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    assert!(lossy(&out.stderr).contains("deletes whole pictures"), "{}", lossy(&out.stderr));
    assert_eq!(listed(&emu.url).len(), 1, "still on the camera");
    // Every format imported: then the picture goes.
    let all = format!("{}&formats=jpeg,raw,txt,thumb,stack", emu.url);
    let formats = listed(&all).len();
    assert!(formats >= 4, "{formats}");
    let out = camctl()
        .env("CAMCTL_CATALOG", &catalog)
        .args(["watch", "--json", "--delete-after", "--count", &(formats - 1).to_string(), &all])
        .arg(tmp.path().join("all"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    assert!(listed(&all).is_empty(), "{}", lossy(&out.stderr));
}

#[test]
fn canon_eos_body_shots_for_the_computer_are_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    camctl_core::media::write_sample_pictures(&media.join("DCIM/100EMU01"), 1).unwrap();
    let emu = Emulator::start("ptpip", &media, &["--personality", "canon-eos"]);
    // 4: the computer, gphoto2's default capture target; the body then holds each shot for it.
    let out = camctl().args(["config", &emu.url, "set", "capturedestination", "4"]).output().unwrap();
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    let (catalog, target) = (tmp.path().join("c.db"), tmp.path().join("photos"));
    let watcher = Watcher::start(&catalog, &emu.url, &target, &[]);
    let backlog = watcher.next_import();
    assert_eq!(backlog["camera_path"], "DCIM/100EMU01/IMG_0001.JPG");
    emu.press_shutter();
    let shot = watcher.next_import();
    let local = PathBuf::from(shot["local_path"].as_str().unwrap());
    let bytes = std::fs::read(&local).unwrap();
    assert_eq!(bytes.len() as u64, shot["size"].as_u64().unwrap());
    assert!(bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9]), "{shot}");
    assert!(watcher.stop().success());
}

/// A TCP proxy on 127.0.0.1 that can freeze: while frozen it forwards nothing, in either direction,
/// on old or new connections, and closes nothing, as when a camera drops off the Wi-Fi.
struct FreezingProxy {
    port: u16,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FreezingProxy {
    fn start(upstream: u16) -> FreezingProxy {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let frozen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = frozen.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                for (from, to) in
                    [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    let flag = flag.clone();
                    std::thread::spawn(move || {
                        use std::io::{Read, Write};
                        let (mut from, mut to) = (from, to);
                        let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
                        let mut buf = vec![0u8; 64 << 10];
                        loop {
                            if flag.load(Ordering::Relaxed) {
                                // Frozen: the bytes stay unread; nothing goes either way.
                                std::thread::park_timeout(Duration::from_millis(50));
                                continue;
                            }
                            match from.read(&mut buf) {
                                Ok(0) => break,
                                Ok(n) if to.write_all(&buf[..n]).is_ok() => {}
                                Ok(_) => break,
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                                    ) => {}
                                Err(_) => break,
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        FreezingProxy { port, frozen }
    }

    fn freeze(&self, frozen: bool) {
        self.frozen.store(frozen, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn a_camera_that_goes_silent_without_closing_is_noticed_and_watched_again() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    camctl_core::media::write_sample_pictures(&media.join("DCIM/100EMU01"), 1).unwrap();
    let emu = Emulator::start("ptpip", &media, &[]);
    let proxy = FreezingProxy::start(emu.port());
    // timeout=2: the event connection is probed after 2 s of quiet, and the probe waits 2 s.
    let url = format!("ptpip://127.0.0.1:{}?timeout=2", proxy.port);
    let (catalog, target) = (tmp.path().join("c.db"), tmp.path().join("photos"));
    let watcher = Watcher::start(&catalog, &url, &target, &[]);
    assert_eq!(watcher.next_import()["camera_path"], "DCIM/100EMU01/IMG_0001.JPG");
    // The Wi-Fi drops: nothing passes, no connection is closed. A shot is taken meanwhile.
    proxy.freeze(true);
    emu.press_shutter();
    // Once the watch has noticed (its probe went unanswered), the link comes back.
    watcher.wait_for_message("lost the camera");
    proxy.freeze(false);
    let shot = watcher.next_import();
    assert_ne!(shot["camera_path"], "DCIM/100EMU01/IMG_0001.JPG", "{shot}");
    assert!(watcher.stop().success());
}
