//! The harness of the gphoto2 interop tests: the real `gphoto2` (Debian package `gphoto2`) against a
//! `camctl emulate ptpip` process, each run with its own HOME (gphoto2 stores its GUID there) and cwd.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{Emulator, files_under, require_program, write_random_file};

/// A media folder with two sample JPEGs and a 2.5 MiB file (forces GetPartialObject in 1 MiB blocks)
/// in `DCIM/100<SUFFIX>`, and `clip` (70 000 bytes) in a second folder `DCIM/101<SUFFIX>`.
pub fn media(root: &Path, suffix: &str, clip: &str) -> PathBuf {
    let media = root.join("media");
    let first = media.join(format!("DCIM/100{suffix}"));
    let pictures = camctl_core::media::write_sample_pictures(&first, 2).unwrap();
    assert_eq!(pictures.len(), 2);
    write_random_file(&first.join("BIG_0003.JPG"), 2_621_440 + 123, 7);
    write_random_file(&media.join(format!("DCIM/101{suffix}")).join(clip), 70_000, 9);
    media
}

/// Asserts that gphoto2's `--list-files` output `text` shows the files and folders of [`media`].
pub fn assert_lists_media(text: &str, suffix: &str, clip: &str) {
    for name in ["IMG_0001.JPG", "IMG_0002.JPG", "BIG_0003.JPG", clip] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert!(text.contains(&format!("/store_00010001/DCIM/100{suffix}")), "{text}");
    assert!(text.contains(&format!("/store_00010001/DCIM/101{suffix}")), "{text}");
}

/// A HOME for gphoto2 (it stores its GUID and settings there), also its cwd.
pub fn home(root: &Path) -> PathBuf {
    let home = root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    home
}

/// Runs gphoto2 with `args` against the emulator, with its own HOME and cwd and messages in English.
pub fn run(emu: &Emulator, home: &Path, args: &[&str]) -> Output {
    let port = emu.port();
    Command::new("gphoto2")
        .arg("--port")
        .arg(format!("ptpip:127.0.0.1:{port}:{port}"))
        .args(args)
        .env("HOME", home)
        .env("LANG", "C")
        .current_dir(home)
        .output()
        .expect("run gphoto2")
}

/// Runs gphoto2 (see [`run`]); it must succeed.
pub fn gphoto2(emu: &Emulator, home: &Path, args: &[&str]) -> Output {
    let out = run(emu, home, args);
    assert!(
        out.status.success(),
        "gphoto2 {args:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs gphoto2 expecting failure; returns stdout and stderr together.
pub fn gphoto2_fails(emu: &Emulator, home: &Path, args: &[&str]) -> String {
    let out = run(emu, home, args);
    assert!(!out.status.success(), "gphoto2 {args:?} succeeded");
    format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr))
}

/// A program's stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `bytes` are a whole JPEG (SOI .. EOI).
pub fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9])
}

/// Asserts that each of the `count` files under `media` was downloaded into `home`, byte-identical.
pub fn assert_all_downloaded(media: &Path, home: &Path, count: usize) {
    let originals = files_under(media);
    assert_eq!(originals.len(), count);
    for rel in originals {
        let name = rel.file_name().unwrap();
        let fetched =
            std::fs::read(home.join(name)).unwrap_or_else(|e| panic!("{name:?} not downloaded: {e}"));
        assert_eq!(fetched, std::fs::read(media.join(&rel)).unwrap(), "{rel:?} differs");
    }
}

/// The files under `dir` whose relative path starts with `prefix`.
pub fn files_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    files_under(dir).into_iter().filter(|p| p.to_string_lossy().starts_with(prefix)).collect()
}

/// One test's rig: an emulator serving a [`media`] folder, and a [`home`] for gphoto2, in a temporary
/// folder removed (after the emulator stopped) on drop.
pub struct Rig {
    pub emu: Emulator,
    pub media: PathBuf,
    pub home: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Rig {
    /// Starts `camctl emulate ptpip EMULATE_ARGS` on a [`media`] folder; None when gphoto2 is not
    /// installed and the test is to skip (under CI=true that fails instead, see [`require_program`]).
    pub fn start(suffix: &str, clip: &str, emulate_args: &[&str]) -> Option<Rig> {
        if !require_program("gphoto2") {
            return None;
        }
        let tmp = tempfile::tempdir().unwrap();
        let media = media(tmp.path(), suffix, clip);
        let emu = Emulator::start("ptpip", &media, emulate_args);
        let home = home(tmp.path());
        Some(Rig { emu, media, home, _tmp: tmp })
    }

    /// Runs gphoto2 against the emulator (see [`gphoto2`]); it must succeed.
    pub fn gphoto2(&self, args: &[&str]) -> Output {
        gphoto2(&self.emu, &self.home, args)
    }

    /// Runs gphoto2 expecting failure (see [`gphoto2_fails`]); returns stdout and stderr together.
    pub fn gphoto2_fails(&self, args: &[&str]) -> String {
        gphoto2_fails(&self.emu, &self.home, args)
    }

    /// The emulator's `ptpip://` URL, for camctl.
    pub fn url(&self) -> String {
        format!("ptpip://127.0.0.1:{}", self.emu.port())
    }
}
