//! `camctl pull` against `camctl emulate` processes: resume only what is provably the same file, one
//! bad item never stops the rest, colliding names, one writer per folder. Interruptions are real: a
//! proxy on 127.0.0.1 cuts the connection after a number of bytes.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::proxy::CuttingProxy;
use common::{Emulator, camctl, files_under, run, run_ok, write_random_file};

/// The URL with `ptpip://HOST:PORT` (or an option `key=PORT`) pointing at `port` instead.
fn with_port(url: &str, option: Option<&str>, port: u16) -> String {
    match option {
        None => {
            let (head, rest) = url.rsplit_once(':').unwrap();
            let tail = rest.find(['?', '/']).map(|i| &rest[i..]).unwrap_or("");
            format!("{head}:{port}{tail}")
        }
        Some(key) => {
            let start = url.find(&format!("{key}=")).unwrap() + key.len() + 1;
            let end = url[start..].find('&').map(|i| start + i).unwrap_or(url.len());
            format!("{}{port}{}", &url[..start], &url[end..])
        }
    }
}

fn port_of(url: &str, option: Option<&str>) -> u16 {
    match option {
        None => url.rsplit(':').next().and_then(|p| p.split(['?', '/']).next()).unwrap().parse().unwrap(),
        Some(key) => {
            let start = url.find(&format!("{key}=")).unwrap() + key.len() + 1;
            url[start..].split('&').next().unwrap().parse().unwrap()
        }
    }
}

fn pull(url: &str, target: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["pull", url, target.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Replaces a camera file by other bytes of the same size and modification time: what a card that
/// was reformatted and refilled looks like to a client that knows only name, size and date.
fn replace_keeping_size_and_date(path: &Path, seed: u64) {
    let meta = std::fs::metadata(path).unwrap();
    let len = meta.len() as usize;
    write_random_file(path, len, seed);
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(meta.modified().unwrap()).unwrap();
}

/// Changes only the first bytes of a camera file (size and date kept).
fn change_head_keeping_size_and_date(path: &Path) {
    let meta = std::fs::metadata(path).unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    for b in &mut bytes[..100] {
        *b ^= 0x5a;
    }
    std::fs::write(path, &bytes).unwrap();
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(meta.modified().unwrap()).unwrap();
}

fn temp_of(target: &Path, rel: &str) -> PathBuf {
    let p = target.join(rel);
    p.with_file_name(format!(".{}.camctl-part", p.file_name().unwrap().to_string_lossy()))
}

/// One protocol's resume scenario: a pull cut mid-file leaves a partial file; then the camera's file
/// is kept, replaced, or a stray partial file is planted, and the next pull must end with exactly the
/// camera's bytes.
struct Scenario<'a> {
    protocol: &'a str,
    emulator_args: &'a [&'a str],
    /// Where the data flows: the URL's port (None) or a URL option naming the data port.
    data_port_option: Option<&'a str>,
    /// The camera path of the big file, and its path under the media folder.
    camera_path: &'a str,
    media_path: &'a str,
    pull_args: &'a [&'a str],
    make_media: &'a dyn Fn(&Path),
}

impl Scenario<'_> {
    /// Runs a pull through the cutting proxy; returns the emulator and the target folder.
    fn interrupted_pull(&self, root: &Path) -> (Emulator, PathBuf) {
        let media = root.join("media");
        (self.make_media)(&media);
        let emu = Emulator::start(self.protocol, &media, self.emulator_args);
        let target = root.join("pulled");
        let proxy = CuttingProxy::start(port_of(&emu.url, self.data_port_option), 3 << 20);
        let cut_url = with_port(&emu.url, self.data_port_option, proxy.port);
        let out = pull(&cut_url, &target, self.pull_args);
        assert!(!out.status.success(), "a cut transfer must not succeed: {}", text(&out));
        let kept = std::fs::metadata(temp_of(&target, self.camera_path)).map(|m| m.len()).unwrap_or(0);
        assert!(kept > 1 << 20, "the partial file should hold the bytes that came ({kept}): {}", text(&out));
        (emu, target)
    }

    fn check_same(&self, emu: &Emulator, target: &Path) {
        let camera = std::fs::read(emu.media.join(self.media_path)).unwrap();
        let pulled = std::fs::read(target.join(self.camera_path)).unwrap();
        assert!(camera == pulled, "{} differs from the camera's file", self.camera_path);
        assert!(!temp_of(target, self.camera_path).exists(), "no partial file may remain");
    }

    fn run_all(&self) {
        // The camera's file did not change: resumed.
        let tmp = tempfile::tempdir().unwrap();
        let (emu, target) = self.interrupted_pull(tmp.path());
        let out = pull(&emu.url, &target, self.pull_args);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("1 resumed"), "{}", text(&out));
        self.check_same(&emu, &target);

        // Replaced by another file of the same name, size and date: the overlap differs, start over.
        let tmp = tempfile::tempdir().unwrap();
        let (emu, target) = self.interrupted_pull(tmp.path());
        replace_keeping_size_and_date(&emu.media.join(self.media_path), 99);
        let out = pull(&emu.url, &target, self.pull_args);
        assert!(out.status.success(), "{}", text(&out));
        assert!(!text(&out).contains("resumed"), "{}", text(&out));
        assert!(text(&out).contains("fetched again whole"), "{}", text(&out));
        self.check_same(&emu, &target);

        // A stray partial file with unrelated bytes and no record: never trusted.
        let tmp = tempfile::tempdir().unwrap();
        let media = tmp.path().join("media");
        (self.make_media)(&media);
        let emu = Emulator::start(self.protocol, &media, self.emulator_args);
        let target = tmp.path().join("pulled");
        let stray = temp_of(&target, self.camera_path);
        std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
        write_random_file(&stray, 2 << 20, 5);
        let out = pull(&emu.url, &target, self.pull_args);
        assert!(out.status.success(), "{}", text(&out));
        assert!(!text(&out).contains("resumed"), "{}", text(&out));
        self.check_same(&emu, &target);
    }
}

fn ptp_media(media: &Path) {
    camctl_core::media::write_sample_pictures(&media.join("DCIM/100EMU01"), 1).unwrap();
    write_random_file(&media.join("DCIM/100EMU01/BIG_0002.JPG"), 8 << 20, 21);
}

#[test]
fn ptpip_resumes_only_the_same_file() {
    Scenario {
        protocol: "ptpip",
        emulator_args: &[],
        data_port_option: None,
        camera_path: "DCIM/100EMU01/BIG_0002.JPG",
        media_path: "DCIM/100EMU01/BIG_0002.JPG",
        pull_args: &[],
        make_media: &ptp_media,
    }
    .run_all();
}

#[test]
fn ptpip_camera_ignoring_the_partial_offset_gets_the_file_fetched_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    ptp_media(&media);
    let rel = "DCIM/100EMU01/BIG_0002.JPG";
    let emu = Emulator::start("ptpip", &media, &["--ignore-partial-offset"]);
    let target = tmp.path().join("pulled");
    let proxy = CuttingProxy::start(port_of(&emu.url, None), 3 << 20);
    let out = pull(&with_port(&emu.url, None, proxy.port), &target, &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(temp_of(&target, rel).exists());
    let out = pull(&emu.url, &target, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("fetched again whole") && !text(&out).contains("resumed"), "{}", text(&out));
    assert!(std::fs::read(target.join(rel)).unwrap() == std::fs::read(media.join(rel)).unwrap());
}

fn yi_media(media: &Path) {
    write_random_file(&media.join("DCIM/100MEDIA/YDXJ0001.mp4"), 8 << 20, 31);
}

const YI: Scenario<'static> = Scenario {
    protocol: "yi",
    emulator_args: &[],
    data_port_option: Some("data_port"),
    camera_path: "DCIM/100MEDIA/YDXJ0001.mp4",
    media_path: "DCIM/100MEDIA/YDXJ0001.mp4",
    pull_args: &[],
    make_media: &yi_media,
};

#[test]
fn yi_resumes_only_the_same_file() {
    YI.run_all();
}

#[test]
fn yi_resumed_file_is_checked_against_the_cameras_md5() {
    // The first bytes change: the overlap before the resume offset still matches, the MD5 does not.
    let tmp = tempfile::tempdir().unwrap();
    let (emu, target) = YI.interrupted_pull(tmp.path());
    change_head_keeping_size_and_date(&emu.media.join(YI.media_path));
    let out = pull(&emu.url, &target, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("did not match the camera's MD5"), "{}", text(&out));
    YI.check_same(&emu, &target);
}

fn lytro_media(media: &Path) {
    write_random_file(&media.join("IMG_0001.RAW"), 16_137_600, 41);
}

#[test]
fn lytro_resumes_only_the_same_file() {
    Scenario {
        protocol: "lytro",
        emulator_args: &["--no-mdns"],
        data_port_option: Some("download_port"),
        camera_path: "DCIM/100PHOTO/IMG_0001.raw",
        media_path: "IMG_0001.RAW",
        pull_args: &["--format", "raw"],
        make_media: &lytro_media,
    }
    .run_all();
}

#[test]
fn one_bad_item_never_stops_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    camctl_core::media::write_sample_pictures(&media.join("DCIM/100EMU01"), 2).unwrap();
    write_random_file(&media.join("DCIM/101EMU01/CLIP0001.MOV"), 100_000, 12);
    write_random_file(&media.join("DCIM/102EMU01/CLIP0002.MOV"), 100_000, 13);
    let emu = Emulator::start("ptpip", &media, &[]);
    let target = tmp.path().join("pulled");
    // A file where the camera's folder must go: that item cannot be written, the others can.
    std::fs::create_dir_all(target.join("DCIM")).unwrap();
    std::fs::write(target.join("DCIM/101EMU01"), b"in the way").unwrap();

    let out = pull(&emu.url, &target, &[]);
    assert!(!out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("3 fetched, 1 failed"), "{all}");
    assert!(all.contains("failed: DCIM/101EMU01/CLIP0001.MOV"), "{all}");
    for rel in ["DCIM/100EMU01/IMG_0001.JPG", "DCIM/100EMU01/IMG_0002.JPG", "DCIM/102EMU01/CLIP0002.MOV"] {
        assert_eq!(
            std::fs::read(target.join(rel)).unwrap(),
            std::fs::read(media.join(rel)).unwrap(),
            "{rel}"
        );
    }

    // --json: one object per file.
    let json = run(&["pull", &emu.url, target.to_str().unwrap(), "--json"]);
    let lines: Vec<serde_json::Value> =
        String::from_utf8(json.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    let failed: Vec<&serde_json::Value> = lines.iter().filter(|l| l["status"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["camera_path"], "DCIM/101EMU01/CLIP0001.MOV");
    assert!(failed[0]["error"].as_str().unwrap().contains("DCIM/101EMU01"), "{:?}", failed[0]);
    assert_eq!(lines.iter().filter(|l| l["status"] == "present").count(), 3);
    for l in &lines {
        assert!(l["bytes"].is_u64() && l["local_path"].is_string(), "{l}");
    }
}

#[test]
fn hostile_and_colliding_names_ptpip() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    let dir = media.join("DCIM/100EMU01");
    std::fs::create_dir_all(&dir).unwrap();
    // A name that would set the terminal's title and clear the screen; two names that sanitize alike.
    write_random_file(&dir.join("evil\u{1b}]0;owned\u{7}\u{1b}[2J.jpg"), 1000, 1);
    write_random_file(&dir.join("a:b.jpg"), 1001, 2);
    write_random_file(&dir.join("a_b.jpg"), 1002, 3);
    let emu = Emulator::start("ptpip", &media, &[]);

    let listing = run_ok(&["ls", &emu.url]);
    assert!(!listing.contains('\u{1b}') && !listing.contains('\u{7}'), "{listing:?}");
    assert!(listing.contains(r"evil\e]0;owned\u{7}\e[2J.jpg"), "{listing}");

    let target = tmp.path().join("pulled");
    let out = pull(&emu.url, &target, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(!all.contains('\u{1b}'), "{all:?}");
    assert!(all.contains("3 fetched, 0 failed"), "{all}");
    assert!(all.contains("saved as DCIM/100EMU01/a_b~2.jpg"), "{all}");
    // Every camera file is in the folder once, none overwritten by another.
    let mut sizes: Vec<u64> =
        files_under(&target).iter().map(|p| std::fs::metadata(target.join(p)).unwrap().len()).collect();
    sizes.sort();
    assert_eq!(sizes, [1000, 1001, 1002]);

    let again = pull(&emu.url, &target, &[]);
    assert!(text(&again).contains("0 fetched, 0 failed, 3 already present"), "{}", text(&again));
}

#[test]
fn hostile_and_colliding_names_yi() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    let dir = media.join("DCIM/100MEDIA");
    std::fs::create_dir_all(&dir).unwrap();
    write_random_file(&dir.join("YDXJ\u{1b}[2J\u{9b}1.jpg"), 1000, 1);
    write_random_file(&dir.join("x:y.jpg"), 1001, 2);
    write_random_file(&dir.join("x_y.jpg"), 1002, 3);
    let emu = Emulator::start("yi", &media, &[]);
    let listing = run_ok(&["ls", &emu.url]);
    assert!(!listing.contains('\u{1b}') && !listing.contains('\u{9b}'), "{listing:?}");
    let target = tmp.path().join("pulled");
    let out = pull(&emu.url, &target, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(!all.contains('\u{1b}') && !all.contains('\u{9b}'), "{all:?}");
    assert!(all.contains("3 fetched, 0 failed"), "{all}");
    assert!(all.contains("~2.jpg"), "{all}");
}

#[test]
fn a_second_pull_into_the_same_folder_says_who_writes_there() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    camctl_core::media::write_sample_pictures(&media.join("DCIM/100EMU01"), 1).unwrap();
    let emu = Emulator::start("ptpip", &media, &[]);
    let target = tmp.path().join("pulled");
    std::fs::create_dir_all(&target).unwrap();
    // Hold the folder's lock as another camctl would.
    let lock = std::fs::File::create(target.join(".camctl-lock")).unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
    writeln!(&lock, "{}", std::process::id()).unwrap();

    let out = pull(&emu.url, &target, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "another camctl is writing into {} (pid {})",
            target.display(),
            std::process::id()
        )),
        "{err}"
    );
    drop(lock);
    let out = pull(&emu.url, &target, &[]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn capture_download_checks_the_folder_before_the_shutter() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    camctl_core::media::write_sample_pictures(&media.join("DCIM/100EMU01"), 1).unwrap();
    let emu = Emulator::start("ptpip", &media, &[]);
    // A file where the folder should be: capture must refuse before taking a picture.
    let not_a_dir = tmp.path().join("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let before = files_under(&media).len();
    let out = camctl().args(["capture", &emu.url, "--download"]).arg(&not_a_dir).output().unwrap();
    assert!(!out.status.success());
    assert_eq!(files_under(&media).len(), before, "no picture may be taken");
}

/// Waits (up to a generous deadline) until `path` holds at least `len` bytes.
fn wait_for_file_len(path: &Path, len: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) < len {
        assert!(std::time::Instant::now() < deadline, "{} never reached {len} bytes", path.display());
        std::thread::yield_now();
    }
}

/// A pull of an 8 MiB file through a proxy that stalls it after 3 MiB, started once the partial
/// file holds its first megabyte.
struct StalledPull {
    emu: Emulator,
    child: std::process::Child,
    target: PathBuf,
    media: PathBuf,
    _proxy: CuttingProxy,
}

impl StalledPull {
    /// The file being pulled.
    const REL: &str = "DCIM/100EMU01/BIG_0002.JPG";

    fn start(root: &Path, mut camctl: std::process::Command) -> StalledPull {
        let media = root.join("media");
        ptp_media(&media);
        let emu = Emulator::start("ptpip", &media, &[]);
        let target = root.join("pulled");
        let proxy = CuttingProxy::stalling(port_of(&emu.url, None), 3 << 20);
        let child = camctl
            .args(["pull", &with_port(&emu.url, None, proxy.port), target.to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The stalled transfer has written its first megabyte: stop it there.
        wait_for_file_len(&temp_of(&target, Self::REL), 1 << 20);
        StalledPull { emu, child, target, media, _proxy: proxy }
    }
}

#[test]
fn interrupted_pull_says_what_it_kept_and_the_same_command_resumes() {
    for signal in ["-INT", "-TERM"] {
        let tmp = tempfile::tempdir().unwrap();
        let StalledPull { emu, child, target, media, _proxy } = StalledPull::start(tmp.path(), camctl());
        let rel = StalledPull::REL;
        let status =
            std::process::Command::new("kill").arg(signal).arg(child.id().to_string()).status().unwrap();
        assert!(status.success());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(130), "{signal}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("interrupted: kept ")
                && err.contains("of 8388608 bytes of DCIM/100EMU01/BIG_0002.JPG"),
            "{err}"
        );
        assert!(err.contains("run the same command again to resume"), "{err}");
        assert!(!target.join(rel).exists(), "no file under its final name");

        let again = pull(&emu.url, &target, &[]);
        assert!(again.status.success(), "{}", text(&again));
        assert!(text(&again).contains("1 resumed"), "{}", text(&again));
        assert!(std::fs::read(target.join(rel)).unwrap() == std::fs::read(media.join(rel)).unwrap());
    }
}

#[test]
fn a_pull_killed_mid_file_resumes_and_records_the_file_once() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("catalog.db");
    let mut command = camctl();
    command.env("CAMCTL_CATALOG", &catalog);
    let StalledPull { emu, mut child, target, media, _proxy } = StalledPull::start(tmp.path(), command);
    let rel = StalledPull::REL;
    // SIGKILL: no handler runs, nothing is tidied up.
    child.kill().unwrap();
    child.wait().unwrap();
    let list = |catalog: &Path| -> Vec<serde_json::Value> {
        let out =
            camctl().env("CAMCTL_CATALOG", catalog).args(["catalog", "list", "--json"]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert!(list(&catalog).iter().all(|r| r["camera_path"] != rel), "not recorded before it is complete");

    for run in 0..2 {
        let again = camctl()
            .env("CAMCTL_CATALOG", &catalog)
            .args(["pull", &emu.url, target.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(again.status.success(), "{}", text(&again));
        if run == 0 {
            assert!(text(&again).contains("1 resumed"), "{}", text(&again));
        }
        let records = list(&catalog);
        let mine: Vec<_> = records.iter().filter(|r| r["camera_path"] == rel).collect();
        assert_eq!(mine.len(), 1, "{records:?}");
        let sum = std::process::Command::new("sha256sum").arg(target.join(rel)).output().unwrap();
        assert_eq!(
            mine[0]["sha256"],
            String::from_utf8_lossy(&sum.stdout).split_whitespace().next().unwrap()
        );
    }
    assert_eq!(std::fs::read(target.join(rel)).unwrap(), std::fs::read(media.join(rel)).unwrap());
}

/// Whether this process may mount a filesystem in a mount namespace of its own (root); under
/// CI=true it must.
fn can_mount() -> bool {
    let root =
        std::process::Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    if !root {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "the full-disk test must run under CI=true (needs root)"
        );
        eprintln!("skipping: the full-disk test mounts a small tmpfs and needs root");
    }
    root
}

#[test]
fn a_full_disk_keeps_the_partial_file_and_is_not_blamed_on_the_camera() {
    if !can_mount() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    write_random_file(&media.join("DCIM/100EMU01/A_0001.JPG"), 2 << 20, 1);
    write_random_file(&media.join("DCIM/100EMU01/B_0002.MOV"), 8 << 20, 2);
    write_random_file(&media.join("DCIM/100EMU01/C_0003.JPG"), 1000, 3);
    let emu = Emulator::start("ptpip", &media, &[]);
    let target = tmp.path().join("small-disk");
    std::fs::create_dir_all(&target).unwrap();
    // A 6 MiB disk in a mount namespace of the pull's own: gone with it, whatever happens.
    let script = r#"mount -t tmpfs -o size=6m camctl-test "$1" || exit 97
        "$2" pull "$3" "$1"; echo "exit=$?"
        ls -a "$1/DCIM/100EMU01"; wc -c "$1/DCIM/100EMU01/.B_0002.MOV.camctl-part""#;
    let out = std::process::Command::new("unshare")
        .env("CAMCTL_CATALOG", concat!(env!("CARGO_TARGET_TMPDIR"), "/catalog.db"))
        .args(["--mount", "sh", "-c", script, "sh"])
        .arg(&target)
        .arg(env!("CARGO_BIN_EXE_camctl"))
        .arg(&emu.url)
        .output()
        .unwrap();
    let all = text(&out);
    assert!(!all.contains("exit=0") && all.contains("exit=1"), "{all}");
    assert!(all.contains("1 fetched, 2 failed"), "{all}");
    assert!(all.contains("disk full writing") && all.contains("for resume"), "{all}");
    assert!(all.contains("C_0003.JPG: not fetched: the disk is full"), "{all}");
    assert!(
        !all.contains("camera error") && !all.contains("connection"),
        "never blamed on the camera: {all}"
    );
    // The partial file is kept (with the record that lets the next run resume it).
    assert!(all.contains(".B_0002.MOV.camctl-part") && all.contains(".B_0002.MOV.camctl-meta"), "{all}");
    assert!(all.lines().any(|l| l.starts_with("A_0001.JPG")), "{all}");
}

#[test]
fn help_names_the_url_schemes_ports_and_options() {
    for command in ["pull", "info", "live", "config"] {
        let help = run_ok(&[command, "--help"]);
        for needle in [
            "ptpip://HOST",
            "15740",
            "yi://HOST",
            "data_port=N",
            "lytro://HOST",
            "wyze://HOST",
            "uid=UID",
            "Examples:",
        ] {
            assert!(help.contains(needle), "{command} --help lacks {needle:?}:\n{help}");
        }
    }
}

#[test]
fn logs_have_no_colour_off_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    camctl_core::media::write_sample_pictures(&media.join("DCIM/100EMU01"), 1).unwrap();
    let emu = Emulator::start("ptpip", &media, &[]);
    let out = run(&["-v", "info", &emu.url]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.contains("GetDeviceInfo"), "{err}");
    assert!(!err.contains('\u{1b}'), "stderr is a pipe here: no escape sequences\n{err:?}");
}

#[test]
fn on_a_terminal_the_progress_bar_shows_files_and_eta() {
    if !common::require_program("script") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    write_random_file(&media.join("DCIM/100EMU01/BIG_0001.MOV"), 20 << 20, 1);
    write_random_file(&media.join("DCIM/100EMU01/IMG_0002.JPG"), 2000, 2);
    let emu = Emulator::start("ptpip", &media, &[]);
    let target = tmp.path().join("pulled");
    // script(1) gives camctl a pseudo-terminal as stderr, as a person at a terminal has.
    let command = format!("{} pull '{}' '{}'", env!("CARGO_BIN_EXE_camctl"), emu.url, target.display());
    let out = std::process::Command::new("script")
        .env("CAMCTL_CATALOG", concat!(env!("CARGO_TARGET_TMPDIR"), "/catalog.db"))
        .args(["-qec", &command, "/dev/null"])
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains("ETA") && screen.contains("file 1/2"), "{screen}");
    assert!(screen.contains("2 fetched, 0 failed"), "{screen}");
}
