//! Safe download sink shared by every protocol (`camctl pull`).
//!
//! Guarantees:
//! - a download never leaves a half-written file under its final name: bytes go to a
//!   hidden temporary file (`.<name>.camctl-part`) in the same folder, which is renamed
//!   to the final name only once its size is verified and its data fsynced;
//! - a re-run fetches nothing new ([`DownloadDir::plan`] reports [`LocalState::Complete`]);
//! - an interrupted download resumes from the temporary file only when the file beside it
//!   (`.<name>.camctl-meta`) says it belongs to the same camera file ([`Identity`]: camera, path,
//!   size, date, handle, MD5 when known); anything else starts over;
//! - a local file is never overwritten by another camera file: a camera file whose local name is
//!   taken (by another item of the same pull, by a name differing only in case on a
//!   case-insensitive filesystem, or by an earlier download of different size or date) gets a
//!   numbered name (`IMG_0001~2.JPG`); a camera path with a `..` component, or the same camera path
//!   twice, is refused;
//! - camera-supplied names can never place a file outside the target folder
//!   ([`sanitize_relative_path`] plus a symlink check on every existing path component);
//! - one process at a time writes into a folder ([`DownloadDir::lock`]).
//!
//! ```
//! use camctl_core::download::{DownloadDir, Identity, LocalState};
//! use tokio::io::AsyncWriteExt;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let tmp = tempfile::tempdir()?;
//! let dir = DownloadDir::open(tmp.path().join("photos"))?;
//! let _lock = dir.lock()?;
//! let data = b"jpeg bytes";
//! let id = Identity::new("ptpip:Maker:Model:0001", "DCIM/100EMU01/IMG_0001.JPG", data.len() as u64);
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     let planned = dir.plan(std::slice::from_ref(&id)).remove(0)?;
//!     let resume = match planned.state {
//!         LocalState::Complete => return Ok(()),
//!         LocalState::Partial { .. } => true,
//!         LocalState::Missing => false,
//!     };
//!     let mut part = dir.start(&planned.rel, &id, resume).await?;
//!     // A real protocol fetches from `part.offset()` onwards.
//!     part.write_all(&data[part.offset() as usize..]).await?;
//!     let path = part.finish(None).await?;
//!     assert!(path.ends_with("DCIM/100EMU01/IMG_0001.JPG"));
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! assert_eq!(dir.plan(&[id]).remove(0)?.state, LocalState::Complete);
//! # Ok(())
//! # }
//! ```

use std::collections::HashSet;
use std::io::{self, IoSlice, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};

use crate::camera::MediaItem;
use crate::time::DateTime;

/// Suffix of temporary files; the full name is `.<final name>` + this.
const PART_SUFFIX: &str = ".camctl-part";
/// Suffix of the file beside a temporary file that says which camera file it belongs to.
const META_SUFFIX: &str = ".camctl-meta";
/// The lock file in the target folder's root.
const LOCK_NAME: &str = ".camctl-lock";
/// Files smaller than this are never resumed (fetching them again is cheaper than keeping a
/// record beside each one), so they get no `.camctl-meta` file.
pub const RESUME_MIN_BYTES: u64 = 1 << 20;
/// Largest `.camctl-meta` file read back; anything bigger is not ours.
const MAX_META_BYTES: u64 = 64 << 10;
/// Local modification times within this of the camera's date count as the same (FAT keeps 2 s).
const MTIME_TOLERANCE: Duration = Duration::from_secs(2);
/// Numbered alternatives tried for a taken local name before the item is refused.
const MAX_NAME_NUMBER: u32 = 999;
/// Longest file name component most filesystems accept (NAME_MAX).
const MAX_COMPONENT_BYTES: usize = 255;
/// Write buffer size: large enough to keep syscalls (and tokio blocking hops) few.
const WRITE_BUFFER_BYTES: usize = 1 << 20;

/// Error type for this module.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The camera-supplied path is empty after sanitizing, or would resolve through a
    /// symlink below the download root.
    #[error("unsafe or empty path from camera: \"{0}\"")]
    UnsafePath(String),
    /// The camera path has a `..` component: refused rather than guessed at.
    #[error("camera path \"{0}\" has a '..' component: refused")]
    ParentComponent(String),
    /// The camera listed the same path twice: only the first is fetched.
    #[error("camera path \"{0}\" is listed twice: only the first is fetched")]
    DuplicatePath(String),
    /// Every local name for this item is taken by other files.
    #[error("no free local name for camera path \"{0}\"")]
    NoFreeName(String),
    /// Another process holds the folder's lock.
    #[error("another camctl is writing into {} ({})", dir.display(), pid.map(|p| format!("pid {p}")).unwrap_or_else(|| "pid unknown".into()))]
    Locked {
        /// The target folder.
        dir: PathBuf,
        /// The holder's process id, as it wrote it into the lock file.
        pid: Option<u32>,
    },
    /// The finished file does not have the announced size; `path` is the temporary file,
    /// which is kept so that a later run can resume or redo it.
    #[error("{path}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The (kept) temporary file.
        path: PathBuf,
        /// Size announced by the camera.
        expected: u64,
        /// Size actually on disk.
        actual: u64,
    },
    /// A filesystem operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path the operation was about.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl DownloadError {
    fn io(path: &Path, source: io::Error) -> Self {
        DownloadError::Io { path: path.to_path_buf(), source }
    }
}

/// Turn a camera-supplied relative path ("DCIM/100EMU01/IMG_0001.JPG", may use '/' or '\\' separators,
/// may contain "..", ".", empty components, drive prefixes like "I:", absolute leading slashes, NUL or
/// control characters, names reserved by filesystems) into a safe relative PathBuf of sanitized components.
///
/// Rules: split on '/' and '\\'; drop empty and "." components; ".." components are dropped (never
/// escape); a leading "X:" drive component is dropped; in each component replace control chars, NUL and
/// any of `<>:"|?*` with '_'; strip trailing dots/spaces; components that become empty are dropped;
/// each component truncated to 255 bytes on a char boundary. Result empty => Err(UnsafePath).
///
/// Two extra rules keep names usable everywhere: Windows device names (`CON`, `NUL.txt`,
/// `COM1`, ...) get a leading '_', and a name ending in `.camctl-part` gets its last
/// character replaced by '_' so it can never collide with a temporary download file.
///
/// ```
/// use camctl_core::download::sanitize_relative_path;
/// use std::path::Path;
///
/// let p = sanitize_relative_path(r"I:\DCIM\..\..\100PHOTO\IMG_0001.JPG").unwrap();
/// assert_eq!(p, Path::new("DCIM/100PHOTO/IMG_0001.JPG"));
/// assert!(sanitize_relative_path("/../.").is_err());
/// ```
pub fn sanitize_relative_path(camera_path: &str) -> Result<PathBuf, DownloadError> {
    let mut out = PathBuf::new();
    let mut first = true;
    for raw in camera_path.split(['/', '\\']) {
        if raw.is_empty() || raw == "." || raw == ".." {
            continue;
        }
        let is_first = std::mem::replace(&mut first, false);
        // A drive prefix ("I:") would make the path absolute on Windows.
        if is_first && is_drive_prefix(raw) {
            continue;
        }
        if let Some(component) = sanitize_component(raw) {
            out.push(component);
        }
    }
    if out.as_os_str().is_empty() { Err(DownloadError::UnsafePath(camera_path.to_owned())) } else { Ok(out) }
}

fn is_drive_prefix(component: &str) -> bool {
    let b = component.as_bytes();
    b.len() == 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// Sanitizes one path component; `None` if nothing usable is left.
fn sanitize_component(raw: &str) -> Option<String> {
    let mut s: String = raw
        .chars()
        .map(|c| if c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') { '_' } else { c })
        .collect();
    // Windows silently drops trailing dots/spaces; this also turns "..." into nothing.
    trim_trailing_dots_spaces(&mut s);
    if is_windows_device_name(&s) {
        s.insert(0, '_');
    }
    truncate_on_char_boundary(&mut s, MAX_COMPONENT_BYTES);
    trim_trailing_dots_spaces(&mut s);
    if s.is_empty() {
        return None;
    }
    if ends_with_ignore_ascii_case(&s, PART_SUFFIX)
        || ends_with_ignore_ascii_case(&s, META_SUFFIX)
        || s.eq_ignore_ascii_case(LOCK_NAME)
    {
        // Keep the length (the names end in ASCII), just break the collision with our own files.
        s.pop();
        s.push('_');
    }
    Some(s)
}

fn trim_trailing_dots_spaces(s: &mut String) {
    let keep = s.trim_end_matches(['.', ' ']).len();
    s.truncate(keep);
}

fn truncate_on_char_boundary(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        // Terminates: 0 is always a char boundary.
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

fn ends_with_ignore_ascii_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len() && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// Windows reserves these names regardless of extension ("NUL.txt" too).
fn is_windows_device_name(component: &str) -> bool {
    let stem = component.split('.').next().unwrap_or("").trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" => true,
        _ => {
            let mut chars = upper.chars();
            let prefix: String = chars.by_ref().take(3).collect();
            let rest: Vec<char> = chars.collect();
            (prefix == "COM" || prefix == "LPT")
                && rest.len() == 1
                && matches!(rest[0], '1'..='9' | '¹' | '²' | '³')
        }
    }
}

/// Name of the temporary file for `final_name`, kept within NAME_MAX: very long names are
/// shortened and disambiguated by a stable hash (it must be the same on every run so
/// that resuming finds the file).
fn temp_name(final_name: &str) -> String {
    hidden_name(final_name, PART_SUFFIX)
}

/// `.<final name><suffix>`, shortened like [`temp_name`] when too long.
fn hidden_name(final_name: &str, suffix: &str) -> String {
    let overhead = 1 + suffix.len();
    if final_name.len() + overhead <= MAX_COMPONENT_BYTES {
        return format!(".{final_name}{suffix}");
    }
    let hash = format!("~{:016x}", fnv1a64(final_name.as_bytes()));
    let mut head = final_name.to_owned();
    truncate_on_char_boundary(&mut head, MAX_COMPONENT_BYTES - overhead - hash.len());
    format!(".{head}{hash}{suffix}")
}

/// `rel` with `~n` before the extension of its last component (`IMG_0001~2.JPG`), kept within
/// NAME_MAX.
fn numbered(rel: &Path, n: u32) -> PathBuf {
    let name = rel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name.as_str(), ""),
    };
    let tag = format!("~{n}");
    let mut stem = stem.to_owned();
    truncate_on_char_boundary(&mut stem, MAX_COMPONENT_BYTES.saturating_sub(tag.len() + ext.len()));
    rel.with_file_name(format!("{stem}{tag}{ext}"))
}

/// Whether a camera path has a `..` component (either separator).
fn has_parent_component(camera_path: &str) -> bool {
    camera_path.split(['/', '\\']).any(|c| c.trim_end_matches([' ', '.']).is_empty() && c.contains(".."))
}

/// FNV-1a: tiny and, unlike `DefaultHasher`, stable across Rust releases.
fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Length of the regular file at `path`, `None` if there is none (missing, or not a file).
fn regular_file_len(path: &Path) -> Result<Option<u64>, DownloadError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => Ok(Some(m.len())),
        Ok(_) => Ok(None),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(DownloadError::io(path, e)),
    }
}

fn is_absent(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}

/// What a temporary file belongs to: kept beside it (`.<name>.camctl-meta`, JSON) so that a
/// later run resumes it only for the same camera file.
///
/// ```
/// use camctl_core::download::Identity;
/// let a = Identity::new("ptpip:Nikon:Z 6:123", "DCIM/IMG_0001.JPG", 10);
/// let mut b = a.clone();
/// b.handle = "0x00010002".into();
/// assert_ne!(a, b);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Which camera: protocol, maker, model, serial.
    pub camera: String,
    /// The camera's path of the file.
    pub path: String,
    /// Size the camera announced.
    pub size: u64,
    /// Date the camera gave, as shown (`2024-01-02 03:04:05`).
    pub date: Option<String>,
    /// The protocol's handle for the file (object handle, picture id...).
    pub handle: String,
    /// MD5 of the whole file, when the camera said it.
    pub md5: Option<String>,
}

impl Identity {
    /// An identity with only camera, path and size known.
    pub fn new(camera: &str, path: &str, size: u64) -> Identity {
        Identity {
            camera: camera.into(),
            path: path.into(),
            size,
            date: None,
            handle: String::new(),
            md5: None,
        }
    }

    /// The identity of `item` on the camera identified by `camera`.
    pub fn of(camera: &str, item: &MediaItem) -> Identity {
        Identity {
            camera: camera.into(),
            path: item.path.clone(),
            size: item.size,
            date: item.modified.map(|d| d.to_string()),
            handle: item.id.clone(),
            md5: None,
        }
    }

    fn modified(&self) -> Option<SystemTime> {
        self.date.as_deref().and_then(DateTime::parse).and_then(DateTime::to_system)
    }
}

/// What the target folder already holds for one item.
///
/// ```
/// use camctl_core::download::LocalState;
/// let s = LocalState::Partial { have: 512 };
/// assert_ne!(s, LocalState::Complete);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalState {
    /// The final file exists with the expected size (and date, when known): nothing to fetch.
    Complete,
    /// A temporary file of the same camera file holds the first `have` bytes: resume from there.
    Partial {
        /// Bytes already downloaded.
        have: u64,
    },
    /// Nothing usable: fetch from the start.
    Missing,
}

/// Where one item goes, as decided by [`DownloadDir::plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Local path relative to the folder's root.
    pub rel: PathBuf,
    /// What is already there.
    pub state: LocalState,
    /// When the item got a numbered name: the name it would have had, and why it did not.
    pub renamed: Option<(PathBuf, &'static str)>,
}

/// Final, temporary and record path of one item, checked against symlink escapes.
struct ItemPaths {
    final_path: PathBuf,
    temp_path: PathBuf,
    meta_path: PathBuf,
}

/// Whether the file at a path is the one of item `index` (for [`DownloadDir::plan_named`]).
pub type KnownName<'a> = &'a dyn Fn(usize, &Path) -> bool;

/// A target folder for downloads.
///
/// ```
/// use camctl_core::download::DownloadDir;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let tmp = tempfile::tempdir()?;
/// let dir = DownloadDir::open(tmp.path().join("out"))?;
/// let path = dir.final_path("../../etc/passwd")?;
/// assert_eq!(path, dir.root().join("etc/passwd"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DownloadDir {
    root: PathBuf,
    /// Whether files started here compute their SHA-256 ([`PartialFile::sha256_hex`]).
    digests: bool,
}

/// Holds a folder's lock until dropped (which removes the lock file); see [`DownloadDir::lock`].
#[derive(Debug)]
pub struct DirLock {
    file: Option<std::fs::File>,
    path: PathBuf,
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Removed while still locked, so nobody can lock this file after we let go of it.
        remove_if_present(&self.path);
        drop(self.file.take());
    }
}

/// Whether `path` still names the file open as `file`.
fn same_file(file: &std::fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

impl DownloadDir {
    /// Creates root (and parents) if missing.
    ///
    /// The root itself may be a symlink (the user chose it); only components below it
    /// are checked.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, DownloadError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| DownloadError::io(&root, e))?;
        Ok(DownloadDir { root, digests: true })
    }

    /// Files started from now on skip the SHA-256 (for callers that keep no record of it: hashing
    /// costs about as much CPU as a loopback transfer).
    pub fn without_digests(mut self) -> Self {
        self.digests = false;
        self
    }

    /// The folder downloads go to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the folder's lock (`.camctl-lock` in root, with this process's id in it) so that two
    /// pulls never write into one folder at once; the second gets [`DownloadError::Locked`] naming the
    /// first's process id. Also proves the folder is writable.
    pub fn lock(&self) -> Result<DirLock, DownloadError> {
        let path = self.root.join(LOCK_NAME);
        let io_err = |e| DownloadError::io(&path, e);
        // The holder removes the file when it is done; a file that was removed between our open and
        // our lock is not the lock any more, so try again on the new one.
        for _ in 0..100 {
            if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
                return Err(DownloadError::UnsafePath(LOCK_NAME.into()));
            }
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io_err)?;
            if !try_lock_exclusive(&file).map_err(io_err)? {
                let mut text = String::new();
                let _ = io::Read::read_to_string(&mut io::Read::take(&file, 32), &mut text);
                return Err(DownloadError::Locked { dir: self.root.clone(), pid: text.trim().parse().ok() });
            }
            if !same_file(&file, &path) {
                continue;
            }
            file.set_len(0).map_err(io_err)?;
            io::Write::write_all(&mut file, format!("{}\n", std::process::id()).as_bytes())
                .map_err(io_err)?;
            return Ok(DirLock { file: Some(file), path });
        }
        Err(io_err(io::Error::other("the lock file keeps being replaced")))
    }

    /// Makes everything written into the folder so far durable, renames included (one `syncfs`
    /// where there is one; elsewhere [`finish_batch`] already synced each file and folder).
    pub async fn sync(&self) -> Result<(), DownloadError> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let dir = std::fs::File::open(&root).map_err(|e| DownloadError::io(&root, e))?;
            if !sync_filesystem(&dir) {
                dir.sync_all().map_err(|e| DownloadError::io(&root, e))?;
            }
            Ok(())
        })
        .await
        .map_err(|e| DownloadError::io(&self.root, io::Error::other(e)))?
    }

    /// Final path for a camera path (root joined with the sanitized relative path), before any
    /// renaming [`plan`](Self::plan) may do.
    ///
    /// Fails with [`DownloadError::UnsafePath`] if the path is empty after sanitizing or
    /// an existing component below root is a symlink.
    pub fn final_path(&self, camera_path: &str) -> Result<PathBuf, DownloadError> {
        let rel = sanitize_relative_path(camera_path)?;
        Ok(self.resolve(&rel)?.final_path)
    }

    /// Decides, for every item in camera order, its local path and what is already there. The
    /// result has one entry per item; an item that cannot be placed has an error and the others are
    /// unaffected:
    /// - a `..` component is [`DownloadError::ParentComponent`], a repeated camera path
    ///   [`DownloadError::DuplicatePath`], a path through a symlink [`DownloadError::UnsafePath`];
    /// - a local name already given to an earlier item (after sanitizing, and ignoring case on a
    ///   case-insensitive filesystem), or held by a file of another size or date, is not used:
    ///   the item gets `NAME~2.EXT` (or the next free number) and `renamed` says so;
    /// - a final file of the same size (and date within 2 s, when the camera gives one) is
    ///   [`LocalState::Complete`]; a temporary file whose record matches the item's identity is
    ///   [`LocalState::Partial`]; anything else is [`LocalState::Missing`] and starts over.
    pub fn plan(&self, items: &[Identity]) -> Vec<Result<Planned, DownloadError>> {
        self.plan_folding(items, None, self.is_case_insensitive())
    }

    /// [`plan`](Self::plan) with the local names chosen by the caller (a `--filename` template),
    /// one relative path per item, each already sanitized with [`sanitize_relative_path`]; the same
    /// rules apply to them (numbered instead of overwriting, symlinks refused). A template can give two
    /// camera files one name, so an existing file counts as this item's only when `known(index, path)`
    /// says so (the caller's record of what it saved there); otherwise the name is taken.
    pub fn plan_named(
        &self,
        items: &[Identity],
        names: &[PathBuf],
        known: KnownName<'_>,
    ) -> Vec<Result<Planned, DownloadError>> {
        assert_eq!(items.len(), names.len(), "one name per item");
        self.plan_folding(items, Some((names, known)), self.is_case_insensitive())
    }

    /// [`plan`](Self::plan), told whether the filesystem folds case.
    fn plan_folding(
        &self,
        items: &[Identity],
        names: Option<(&[PathBuf], KnownName<'_>)>,
        fold_case: bool,
    ) -> Vec<Result<Planned, DownloadError>> {
        let key = |rel: &Path| {
            let s = rel.to_string_lossy();
            if fold_case { s.to_lowercase() } else { s.into_owned() }
        };
        let mut taken: HashSet<String> = HashSet::new();
        let mut seen: HashSet<&str> = HashSet::new();
        items
            .iter()
            .enumerate()
            .map(|(index, id)| {
                if has_parent_component(&id.path) {
                    return Err(DownloadError::ParentComponent(id.path.clone()));
                }
                if !seen.insert(id.path.as_str()) {
                    return Err(DownloadError::DuplicatePath(id.path.clone()));
                }
                let base = match names {
                    // Re-sanitized: a caller's name is held to the camera's rules.
                    Some((names, _)) => sanitize_relative_path(&names[index].to_string_lossy())?,
                    None => sanitize_relative_path(&id.path)?,
                };
                let ours = |path: &Path| names.is_none_or(|(_, known)| known(index, path));
                let mut why: Option<&'static str> = None;
                for n in 1..=MAX_NAME_NUMBER {
                    let rel = if n == 1 { base.clone() } else { numbered(&base, n) };
                    if !taken.insert(key(&rel)) {
                        why.get_or_insert(if fold_case && key(&rel) != rel.to_string_lossy() {
                            "another camera file has this name (letter case aside)"
                        } else {
                            "another camera file has this name"
                        });
                        continue;
                    }
                    let paths = self.resolve(&rel)?;
                    let state = match std::fs::symlink_metadata(&paths.final_path) {
                        Ok(m)
                            if m.is_file()
                                && m.len() == id.size
                                && same_date(&m, id)
                                && ours(&paths.final_path) =>
                        {
                            LocalState::Complete
                        }
                        Ok(_) => {
                            why.get_or_insert("a local file of another size or date has this name");
                            continue;
                        }
                        Err(e) if is_absent(&e) => self.partial_state(&paths, id)?,
                        Err(e) => return Err(DownloadError::io(&paths.final_path, e)),
                    };
                    let renamed = (n > 1).then(|| (base.clone(), why.unwrap_or("name taken")));
                    return Ok(Planned { rel, state, renamed });
                }
                Err(DownloadError::NoFreeName(id.path.clone()))
            })
            .collect()
    }

    /// Partial only if the temporary file is shorter than the item and its record is this item's.
    fn partial_state(&self, paths: &ItemPaths, id: &Identity) -> Result<LocalState, DownloadError> {
        Ok(match regular_file_len(&paths.temp_path)? {
            Some(have)
                if have > 0 && have < id.size && read_record(&paths.meta_path).as_ref() == Some(id) =>
            {
                LocalState::Partial { have }
            }
            _ => LocalState::Missing,
        })
    }

    /// Whether names differing only in case are the same file here (probed with the lock file's
    /// name, so [`lock`](Self::lock) should come first).
    fn is_case_insensitive(&self) -> bool {
        let upper = self.root.join(LOCK_NAME.to_uppercase());
        self.root.join(LOCK_NAME).exists() && upper.exists()
    }

    /// Opens (creating parent folders) the temporary file for the item planned at `rel`. If `resume`,
    /// and the temporary file exists no longer than the item and its record matches `id`, it is kept
    /// and its length is `offset()`; otherwise it is emptied and, for items of at least
    /// [`RESUME_MIN_BYTES`], a new record is written beside it.
    ///
    /// Writing continues at `offset()` (a positioned write at the end rather than
    /// `O_APPEND`, see the comment inside); more than `id.size` bytes in total are
    /// refused by the writer.
    pub async fn start(&self, rel: &Path, id: &Identity, resume: bool) -> Result<PartialFile, DownloadError> {
        let ItemPaths { final_path, temp_path, meta_path } = self.resolve(rel)?;
        let expected_size = id.size;
        let record = (expected_size >= RESUME_MIN_BYTES)
            .then(|| serde_json::to_vec(id))
            .transpose()
            .map_err(|e| DownloadError::io(&meta_path, io::Error::other(e)))?;
        let id = id.clone();
        let (temp, meta, parent) =
            (temp_path.clone(), meta_path.clone(), final_path.parent().map(Path::to_path_buf));
        // All of it in one blocking call: with many small files, each hop to the blocking pool costs
        // as much as the file's own transfer.
        let digests = self.digests;
        let opened = tokio::task::spawn_blocking(
            move || -> Result<(std::fs::File, u64, Option<Sha256>), DownloadError> {
                // resolve() checked every existing component, so creating folders cannot follow
                // a symlink out of root.
                if let Some(parent) = &parent {
                    std::fs::create_dir_all(parent).map_err(|e| DownloadError::io(parent, e))?;
                }
                let io_err = |e| DownloadError::io(&temp, e);
                // No O_APPEND: a positioned writer means a write still in flight from a dropped
                // earlier PartialFile lands on the same offsets with the same bytes instead of
                // being appended twice.
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&temp)
                    .map_err(io_err)?;
                let len = file.metadata().map_err(io_err)?.len();
                if resume && len <= expected_size && read_record(&meta).as_ref() == Some(&id) {
                    // The digest covers the whole file: the kept part is read once here.
                    let mut sha256 = digests.then(Sha256::new);
                    if let Some(sha256) = &mut sha256 {
                        let mut kept = std::fs::File::open(&temp).map_err(io_err)?;
                        io::copy(&mut io::Read::take(&mut kept, len), &mut DigestWriter(sha256))
                            .map_err(io_err)?;
                    }
                    io::Seek::seek(&mut file, SeekFrom::Start(len)).map_err(io_err)?;
                    return Ok((file, len, sha256));
                }
                file.set_len(0).map_err(io_err)?;
                match record {
                    Some(record) => std::fs::write(&meta, record).map_err(|e| DownloadError::io(&meta, e))?,
                    None => remove_if_present(&meta),
                }
                Ok((file, 0, digests.then(Sha256::new)))
            },
        )
        .await
        .map_err(|e| DownloadError::io(&temp_path, io::Error::other(e)))?;
        let (file, offset, sha256) = opened?;
        let file = tokio::fs::File::from_std(file);
        tracing::debug!(path = %temp_path.display(), offset, expected_size, "download started");
        Ok(PartialFile {
            // No bigger than the file: many small files should not each map a fresh megabyte.
            writer: BufWriter::with_capacity(
                (expected_size.saturating_sub(offset) as usize).clamp(8 << 10, WRITE_BUFFER_BYTES),
                file,
            ),
            offset,
            written: offset,
            expected_size,
            temp_path,
            final_path,
            meta_path,
            write_failure: None,
            sha256,
        })
    }

    /// Joins `rel` (already sanitized) to root and refuses it if any existing component below root
    /// (including the final, temporary and record file) is a symlink.
    fn resolve(&self, rel: &Path) -> Result<ItemPaths, DownloadError> {
        let shown = || rel.to_string_lossy().into_owned();
        let final_path = self.root.join(rel);
        let final_name = final_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| DownloadError::UnsafePath(shown()))?;
        let temp_path = final_path.with_file_name(temp_name(&final_name));
        let meta_path = final_path.with_file_name(hidden_name(&final_name, META_SUFFIX));

        let mut current = self.root.clone();
        let mut all_exist = true;
        for component in rel.components() {
            current.push(component);
            if !self.check_not_symlink(&current, &shown())? {
                // Nothing below a missing component can exist.
                all_exist = false;
                break;
            }
        }
        let parent_exists = all_exist || final_path.parent().is_some_and(|p| p.is_dir());
        if parent_exists {
            self.check_not_symlink(&temp_path, &shown())?;
            self.check_not_symlink(&meta_path, &shown())?;
        }
        Ok(ItemPaths { final_path, temp_path, meta_path })
    }

    /// `Ok(true)` if `path` exists (and is no symlink), `Ok(false)` if absent.
    fn check_not_symlink(&self, path: &Path, camera_path: &str) -> Result<bool, DownloadError> {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                tracing::warn!(
                    root = %self.root.display(),
                    symlink = %path.display(),
                    "refusing camera path through a symlink"
                );
                Err(DownloadError::UnsafePath(camera_path.to_owned()))
            }
            Ok(_) => Ok(true),
            Err(e) if is_absent(&e) => Ok(false),
            Err(e) => Err(DownloadError::io(path, e)),
        }
    }
}

/// Whether a local file's modification time is the camera's date (when the camera gives one).
fn same_date(meta: &std::fs::Metadata, id: &Identity) -> bool {
    let (Some(want), Ok(have)) = (id.modified(), meta.modified()) else { return true };
    let diff = have.duration_since(want).or_else(|_| want.duration_since(have)).unwrap_or_default();
    diff <= MTIME_TOLERANCE
}

/// The record beside a temporary file, if there is a readable one of sane size.
fn read_record(path: &Path) -> Option<Identity> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_META_BYTES {
        return None;
    }
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Lower-case hex of a digest.
fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (lower-case hex) of a local file, read whole (blocking).
pub fn sha256_file_hex(path: &Path) -> io::Result<String> {
    let mut sha256 = Sha256::new();
    io::copy(&mut std::fs::File::open(path)?, &mut DigestWriter(&mut sha256))?;
    Ok(to_hex(&sha256.finalize()))
}

/// Feeds what is written into a digest (for `io::copy`).
struct DigestWriter<'a>(&'a mut Sha256);

impl io::Write for DigestWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn remove_if_present(path: &Path) {
    if let Err(e) = std::fs::remove_file(path)
        && !is_absent(&e)
    {
        tracing::debug!(path = %path.display(), error = %e, "could not remove");
    }
}

/// `flock(LOCK_EX | LOCK_NB)`: `Ok(false)` when another process holds it. The lock goes with the
/// file descriptor, so a crashed holder never leaves the folder locked.
#[cfg(unix)]
fn try_lock_exclusive(file: &std::fs::File) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own; no memory is involved.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) { Ok(false) } else { Err(e) }
}

#[cfg(not(unix))]
fn try_lock_exclusive(_file: &std::fs::File) -> io::Result<bool> {
    Ok(true)
}

/// An in-progress download. Implements [`tokio::io::AsyncWrite`] (delegating to a
/// `tokio::fs::File` wrapped in a `tokio::io::BufWriter` with a 1 MiB buffer, to keep
/// syscalls few) so protocol code can stream into it.
///
/// Dropping it without [`finish`](Self::finish) keeps the temporary file for a later
/// resume; bytes still in the write buffer are lost and simply fetched again. Writes that
/// would exceed the expected size fail with [`io::ErrorKind::InvalidData`] so a
/// misbehaving camera cannot fill the disk.
///
/// ```
/// use camctl_core::download::{DownloadDir, Identity};
/// use tokio::io::AsyncWriteExt;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let tmp = tempfile::tempdir()?;
/// let dir = DownloadDir::open(tmp.path())?;
/// let id = Identity::new("yi:YI:YDXJ01:Z23", "MOV_0001.MP4", 6);
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// rt.block_on(async {
///     let mut part = dir.start(std::path::Path::new("MOV_0001.MP4"), &id, false).await?;
///     part.write_all(b"abc").await?;
///     assert_eq!((part.offset(), part.written()), (0, 3));
///     assert!(part.write_all(b"defg").await.is_err()); // 7 > 6 bytes
///     part.write_all(b"def").await?;
///     part.finish(None).await?;
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })?;
/// assert_eq!(std::fs::read(tmp.path().join("MOV_0001.MP4"))?, b"abcdef");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct PartialFile {
    writer: BufWriter<tokio::fs::File>,
    offset: u64,
    written: u64,
    expected_size: u64,
    temp_path: PathBuf,
    final_path: PathBuf,
    meta_path: PathBuf,
    /// The first local write error, so that it is reported as ours and not the camera's.
    write_failure: Option<(io::ErrorKind, Option<i32>, String)>,
    /// SHA-256 of every byte accepted so far (the kept part of a resumed file included), unless the
    /// folder was opened [`DownloadDir::without_digests`].
    sha256: Option<Sha256>,
}

impl PartialFile {
    /// Bytes already present when started (the resume point).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// `offset()` plus the bytes written through `AsyncWrite` so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The temporary file being written.
    pub fn temp_path(&self) -> &Path {
        &self.temp_path
    }

    /// Where the file goes once finished.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// The first error writing the local file, if any (a camera download that failed because of it
    /// failed here, not at the camera).
    pub fn write_failure(&self) -> Option<&str> {
        self.write_failure.as_ref().map(|(_, _, text)| text.as_str())
    }

    /// Whether writing failed because the disk is full.
    pub fn disk_full(&self) -> bool {
        self.write_failure.as_ref().is_some_and(|(kind, os, _)| {
            *kind == io::ErrorKind::StorageFull
                || *os == Some(ENOSPC)
                || *kind == io::ErrorKind::QuotaExceeded
        })
    }

    /// Writes out what is buffered, so that what the file holds is what was received (before an
    /// interruption, so the next run resumes from there).
    pub async fn flush_kept(&mut self) -> Result<u64, DownloadError> {
        self.writer.flush().await.map_err(|e| DownloadError::io(&self.temp_path, e))?;
        Ok(self.written)
    }

    /// The `len` bytes just before the resume offset (or fewer at the file's start), read from
    /// the temporary file: what a re-read of that range from the camera must repeat.
    pub async fn tail_before_offset(&self, len: u64) -> Result<Vec<u8>, DownloadError> {
        let len = len.min(self.offset);
        if len == 0 {
            return Ok(Vec::new());
        }
        let (path, start) = (self.temp_path.clone(), self.offset - len);
        let read = move || -> io::Result<Vec<u8>> {
            use std::io::{Read, Seek};
            let mut f = std::fs::File::open(&path)?;
            f.seek(SeekFrom::Start(start))?;
            let mut buf = Vec::with_capacity(len as usize);
            f.take(len).read_to_end(&mut buf)?;
            Ok(buf)
        };
        tokio::task::spawn_blocking(read)
            .await
            .map_err(|e| DownloadError::io(&self.temp_path, io::Error::other(e)))?
            .map_err(|e| DownloadError::io(&self.temp_path, e))
    }

    /// SHA-256 (lower-case hex) of every byte accepted so far, computed as they were written (the
    /// catalog's record of the file).
    pub fn sha256_hex(&self) -> Option<String> {
        self.sha256.as_ref().map(|sha256| to_hex(&sha256.clone().finalize()))
    }

    /// MD5 (lower-case hex) of everything written so far, read back from the file.
    pub async fn md5_hex(&mut self) -> Result<String, DownloadError> {
        use md5::Digest;
        self.writer.flush().await.map_err(|e| DownloadError::io(&self.temp_path, e))?;
        let path = self.temp_path.clone();
        let hash = move || -> io::Result<String> {
            let mut f = std::fs::File::open(&path)?;
            let mut hasher = md5::Md5::new();
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = io::Read::read(&mut f, &mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            Ok(to_hex(&hasher.finalize()))
        };
        tokio::task::spawn_blocking(hash)
            .await
            .map_err(|e| DownloadError::io(&self.temp_path, io::Error::other(e)))?
            .map_err(|e| DownloadError::io(&self.temp_path, e))
    }

    /// Flush, fsync (sync_data), check that the file length equals expected_size (else SizeMismatch and the
    /// temp file is KEPT so a later run can resume/redo), optionally set mtime (skip if None),
    /// then rename to the final name, replacing any older file there. Returns the final path.
    pub async fn finish(mut self, modified: Option<SystemTime>) -> Result<PathBuf, DownloadError> {
        self.writer.flush().await.map_err(|e| DownloadError::io(&self.temp_path, e))?;
        let file = self.writer.into_inner().into_std().await;
        let (temp_path, final_path, meta_path) = (self.temp_path, self.final_path, self.meta_path);
        let expected = self.expected_size;
        let error_path = temp_path.clone();
        tokio::task::spawn_blocking(move || {
            let done = finish_blocking(file, temp_path, &final_path, expected, modified)?;
            remove_if_present(&meta_path);
            Ok(done)
        })
        .await
        .map_err(|e| DownloadError::io(&error_path, io::Error::other(e)))?
    }
}

/// A download whose bytes are all written out, waiting to be made durable and renamed by
/// [`finish_batch`]; it holds the open file but no write buffer.
#[derive(Debug)]
pub struct Downloaded {
    file: std::fs::File,
    temp_path: PathBuf,
    final_path: PathBuf,
    meta_path: PathBuf,
    expected_size: u64,
    flushed: Result<(), DownloadError>,
}

impl PartialFile {
    /// Writes out what is buffered and lets the write buffer go: many finished files can wait for
    /// [`finish_batch`] without holding a megabyte each.
    pub async fn complete(mut self) -> Downloaded {
        let flushed = self.writer.flush().await.map_err(|e| DownloadError::io(&self.temp_path, e));
        let file = self.writer.into_inner().into_std().await;
        Downloaded {
            file,
            temp_path: self.temp_path,
            final_path: self.final_path,
            meta_path: self.meta_path,
            expected_size: self.expected_size,
            flushed,
        }
    }
}

/// Finishes several complete downloads at once, as [`PartialFile::finish`] does each, but with one
/// filesystem sync for the whole batch (Linux `syncfs`) instead of an fsync per file and per folder:
/// every file's data is durable before any of them is renamed. The renames become durable with the
/// next batch's sync or [`DownloadDir::sync`], which the caller runs once at the end. Where `syncfs`
/// is missing, each file and its folder are fsynced. One result per file, in order.
pub async fn finish_batch(
    files: Vec<(Downloaded, Option<SystemTime>)>,
) -> Vec<Result<PathBuf, DownloadError>> {
    let mut ready = Vec::with_capacity(files.len());
    for (part, modified) in files {
        let Downloaded { file, temp_path, final_path, meta_path, expected_size, flushed } = part;
        ready.push((file, temp_path, final_path, meta_path, expected_size, modified, flushed));
    }
    let count = ready.len();
    let job = move || {
        let mut results: Vec<Result<PathBuf, DownloadError>> = Vec::with_capacity(count);
        let mut synced = false;
        // Sizes and times first, then one sync for all, then the renames.
        let mut checked = Vec::with_capacity(ready.len());
        for (file, temp_path, final_path, meta_path, expected, modified, flushed) in ready {
            let check = flushed.and_then(|()| {
                let io_err = |e| DownloadError::io(&temp_path, e);
                let actual = file.metadata().map_err(io_err)?.len();
                if actual != expected {
                    return Err(DownloadError::SizeMismatch { path: temp_path.clone(), expected, actual });
                }
                if let Some(time) = modified {
                    file.set_modified(time).map_err(io_err)?;
                }
                Ok(())
            });
            if check.is_ok() && !synced {
                synced = sync_filesystem(&file);
            }
            checked.push((file, temp_path, final_path, meta_path, check));
        }
        for (file, temp_path, final_path, meta_path, check) in checked {
            let result = check.and_then(|()| {
                if !synced {
                    file.sync_data().map_err(|e| DownloadError::io(&temp_path, e))?;
                }
                drop(file);
                // rename() replaces a symlink at the destination rather than following it.
                std::fs::rename(&temp_path, &final_path).map_err(|e| DownloadError::io(&final_path, e))?;
                remove_if_present(&meta_path);
                if !synced {
                    sync_parent_dir(&final_path);
                }
                Ok(final_path)
            });
            results.push(result);
        }
        results
    };
    match tokio::task::spawn_blocking(job).await {
        Ok(results) => results,
        Err(e) => (0..count)
            .map(|_| Err(DownloadError::io(Path::new("."), io::Error::other(e.to_string()))))
            .collect(),
    }
}

/// `syncfs` on the filesystem holding `file`: `true` when it worked.
#[cfg(target_os = "linux")]
fn sync_filesystem(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: syncfs on a descriptor we own; no memory is involved.
    unsafe { libc::syncfs(file.as_raw_fd()) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn sync_filesystem(_file: &std::fs::File) -> bool {
    false
}

#[cfg(unix)]
const ENOSPC: i32 = libc::ENOSPC;
#[cfg(not(unix))]
const ENOSPC: i32 = 28;

fn finish_blocking(
    file: std::fs::File,
    temp_path: PathBuf,
    final_path: &Path,
    expected: u64,
    modified: Option<SystemTime>,
) -> Result<PathBuf, DownloadError> {
    let io_err = |e| DownloadError::io(&temp_path, e);
    file.sync_data().map_err(io_err)?;
    let actual = file.metadata().map_err(io_err)?.len();
    if actual != expected {
        return Err(DownloadError::SizeMismatch { path: temp_path, expected, actual });
    }
    if let Some(time) = modified {
        file.set_modified(time).map_err(io_err)?;
    }
    drop(file);
    // rename() replaces a symlink at the destination rather than following it.
    std::fs::rename(&temp_path, final_path).map_err(|e| DownloadError::io(final_path, e))?;
    sync_parent_dir(final_path);
    tracing::debug!(path = %final_path.display(), bytes = actual, "download finished");
    Ok(final_path.to_path_buf())
}

/// Makes the rename durable; best effort, since the data itself is already safe.
fn sync_parent_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(parent) = path.parent()
        && let Err(e) = std::fs::File::open(parent).and_then(|d| d.sync_all())
    {
        tracing::debug!(dir = %parent.display(), error = %e, "could not fsync folder");
    }
    #[cfg(not(unix))]
    let _ = path;
}

impl PartialFile {
    fn note(&mut self, res: &Poll<io::Result<usize>>, accepted: &[IoSlice<'_>]) {
        match res {
            Poll::Ready(Ok(n)) => {
                self.written += *n as u64;
                let mut left = *n;
                for slice in accepted {
                    let take = left.min(slice.len());
                    if let Some(sha256) = &mut self.sha256 {
                        sha256.update(&slice[..take]);
                    }
                    left -= take;
                    if left == 0 {
                        break;
                    }
                }
            }
            Poll::Ready(Err(e)) => self.note_failure(e),
            Poll::Pending => {}
        }
    }

    fn note_failure(&mut self, e: &io::Error) {
        if self.write_failure.is_none() {
            let text = format!("{}: {e}", self.temp_path.display());
            self.write_failure = Some((e.kind(), e.raw_os_error(), text));
        }
    }

    /// Refuses writes past the announced size (a hostile camera could stream forever).
    fn check_room(&self, len: usize) -> io::Result<()> {
        let room = self.expected_size.saturating_sub(self.written);
        if len as u64 > room {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: more data than the expected {} bytes",
                    self.final_path.display(),
                    self.expected_size
                ),
            ));
        }
        Ok(())
    }
}

impl AsyncWrite for PartialFile {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        this.check_room(buf.len())?;
        let res = Pin::new(&mut this.writer).poll_write(cx, buf);
        this.note(&res, &[IoSlice::new(buf)]);
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        this.check_room(bufs.iter().map(|b| b.len()).sum())?;
        let res = Pin::new(&mut this.writer).poll_write_vectored(cx, bufs);
        this.note(&res, bufs);
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.writer.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let res = Pin::new(&mut self.writer).poll_flush(cx);
        if let Poll::Ready(Err(e)) = &res {
            self.note_failure(e);
        }
        res
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn san(s: &str) -> Option<PathBuf> {
        sanitize_relative_path(s).ok()
    }

    #[test]
    fn sanitize_cases() {
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(san("DCIM/100EMU01/IMG_0001.JPG"), p("DCIM/100EMU01/IMG_0001.JPG"));
        assert_eq!(san("../../etc/passwd"), p("etc/passwd"));
        assert_eq!(san("I:\\DCIM\\100PHOTO\\IMG_0001.JPG"), p("DCIM/100PHOTO/IMG_0001.JPG"));
        assert_eq!(san("/abs/x"), p("abs/x"));
        assert_eq!(san("a/./b"), p("a/b"));
        assert_eq!(san("a//b\\\\c"), p("a/b/c"));
        assert_eq!(san("a/../../b"), p("a/b"));
        assert_eq!(san(".."), None);
        assert_eq!(san(""), None);
        assert_eq!(san("/"), None);
        assert_eq!(san("C:"), None);
        assert_eq!(san("... / . /  "), None);
        assert_eq!(san("con:?*x"), p("con___x"));
        assert_eq!(san("a\0b/c\u{1}d\u{7f}"), p("a_b/c_d_"));
        assert_eq!(san("x/<>\"|.JPG"), p("x/____.JPG"));
        assert_eq!(san("name. . "), p("name"));
        assert_eq!(san("DCIM/x:y"), p("DCIM/x_y"));
        assert_eq!(san("CON"), p("_CON"));
        assert_eq!(san("dir/nul.txt"), p("dir/_nul.txt"));
        assert_eq!(san("COM1.jpg"), p("_COM1.jpg"));
        assert_eq!(san("COM10.jpg"), p("COM10.jpg"));
        assert_eq!(san(".IMG.JPG.camctl-part"), p(".IMG.JPG.camctl-par_"));
        assert_eq!(san("d/.IMG.JPG.camctl-meta"), p("d/.IMG.JPG.camctl-met_"));
        assert_eq!(san(".camctl-lock"), p(".camctl-loc_"));
        assert!(matches!(
            sanitize_relative_path("../.."),
            Err(DownloadError::UnsafePath(s)) if s == "../.."
        ));
    }

    #[test]
    fn sanitize_truncates_long_components_on_char_boundary() {
        let long = "a".repeat(300);
        assert_eq!(san(&long), Some(PathBuf::from("a".repeat(255))));
        // 'é' is 2 bytes: 254 ASCII + 'é' would be 256 bytes, so 'é' must go entirely.
        let mixed = format!("{}é{}", "b".repeat(254), "c".repeat(10));
        let got = san(&mixed).unwrap();
        assert_eq!(got, PathBuf::from("b".repeat(254)));
        let multi = "é".repeat(200);
        let got = san(&multi).unwrap().into_os_string().into_string().unwrap();
        assert!(got.len() <= 255 && got.chars().all(|c| c == 'é'));
        // Truncation must not leave trailing dots.
        let dots = format!("{}.{}", "d".repeat(254), "x".repeat(5));
        assert_eq!(san(&dots), Some(PathBuf::from("d".repeat(254))));
    }

    #[test]
    fn temp_names_fit_and_differ() {
        assert_eq!(temp_name("IMG.JPG"), ".IMG.JPG.camctl-part");
        let a = temp_name(&format!("{}a", "x".repeat(254)));
        let b = temp_name(&format!("{}b", "x".repeat(254)));
        assert!(a.len() <= MAX_COMPONENT_BYTES && b.len() <= MAX_COMPONENT_BYTES);
        assert_ne!(a, b);
        assert!(a.starts_with('.') && a.ends_with(PART_SUFFIX));
    }

    fn ident(path: &str, size: u64) -> Identity {
        Identity::new("test:Maker:Model:0001", path, size)
    }

    fn state(dir: &DownloadDir, path: &str, size: u64) -> LocalState {
        dir.plan(&[ident(path, size)]).remove(0).unwrap().state
    }

    async fn start(
        dir: &DownloadDir,
        path: &str,
        size: u64,
        resume: bool,
    ) -> Result<PartialFile, DownloadError> {
        let rel = sanitize_relative_path(path)?;
        dir.start(&rel, &ident(path, size), resume).await
    }

    const BIG: u64 = RESUME_MIN_BYTES + 1000;

    fn pattern(len: u64, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
    }

    #[tokio::test]
    async fn write_and_finish() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path().join("new/root")).unwrap();
        let cam = "DCIM/100EMU01/IMG_0001.JPG";
        assert_eq!(state(&dir, cam, 5), LocalState::Missing);
        let mut part = start(&dir, cam, 5, false).await.unwrap();
        assert_eq!(part.offset(), 0);
        let temp = part.temp_path().to_path_buf();
        assert_eq!(temp.file_name().unwrap(), ".IMG_0001.JPG.camctl-part");
        assert_eq!(temp.parent(), part.final_path().parent());
        part.write_all(b"hello").await.unwrap();
        assert_eq!(part.written(), 5);
        let mtime = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        let path = part.finish(Some(mtime)).await.unwrap();
        assert_eq!(path, dir.root().join(cam));
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        assert!(!temp.exists());
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        assert_eq!(state(&dir, cam, 5), LocalState::Complete);
    }

    #[tokio::test]
    async fn an_older_local_file_is_never_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        std::fs::write(tmp.path().join("a.jpg"), b"old!!!!!").unwrap();
        let planned = dir.plan(&[ident("a.jpg", 3)]).remove(0).unwrap();
        assert_eq!(planned.rel, Path::new("a~2.jpg"));
        assert_eq!(planned.state, LocalState::Missing);
        assert!(planned.renamed.is_some());
        let mut part = dir.start(&planned.rel, &ident("a.jpg", 3), true).await.unwrap();
        part.write_all(b"new").await.unwrap();
        part.finish(None).await.unwrap();
        assert_eq!(std::fs::read(tmp.path().join("a.jpg")).unwrap(), b"old!!!!!");
        assert_eq!(std::fs::read(tmp.path().join("a~2.jpg")).unwrap(), b"new");
        // The next run finds it complete under the numbered name.
        let again = dir.plan(&[ident("a.jpg", 3)]).remove(0).unwrap();
        assert_eq!((again.rel.as_path(), again.state), (Path::new("a~2.jpg"), LocalState::Complete));
    }

    #[tokio::test]
    async fn a_local_file_of_another_date_is_another_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let mut id = ident("IMG.RAW", 4);
        id.date = Some("2024-01-02 03:04:05".into());
        let rel = PathBuf::from("IMG.RAW");
        let mut part = dir.start(&rel, &id, false).await.unwrap();
        part.write_all(b"1234").await.unwrap();
        part.finish(id.modified()).await.unwrap();
        assert_eq!(dir.plan(std::slice::from_ref(&id)).remove(0).unwrap().state, LocalState::Complete);
        // Same name and size, taken later: a reformatted card.
        id.date = Some("2025-06-07 08:09:10".into());
        let planned = dir.plan(&[id]).remove(0).unwrap();
        assert_eq!((planned.rel.as_path(), planned.state), (Path::new("IMG~2.RAW"), LocalState::Missing));
    }

    #[test]
    fn colliding_names_get_distinct_local_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let _lock = dir.lock().unwrap();
        let items: Vec<Identity> =
            ["D/a:b.jpg", "D/a_b.jpg", "D/X/..", "D/x.jpg", "D/x.jpg", "../up.jpg", "D/ok.jpg"]
                .iter()
                .map(|p| ident(p, 1))
                .collect();
        let plan = dir.plan(&items);
        assert_eq!(plan[0].as_ref().unwrap().rel, Path::new("D/a_b.jpg"));
        let second = plan[1].as_ref().unwrap();
        assert_eq!(second.rel, Path::new("D/a_b~2.jpg"));
        assert_eq!(second.renamed.as_ref().unwrap().0, Path::new("D/a_b.jpg"));
        assert!(matches!(&plan[2], Err(DownloadError::ParentComponent(p)) if p == "D/X/.."));
        assert_eq!(plan[3].as_ref().unwrap().rel, Path::new("D/x.jpg"));
        assert!(matches!(&plan[4], Err(DownloadError::DuplicatePath(_))));
        assert!(matches!(&plan[5], Err(DownloadError::ParentComponent(_))));
        assert_eq!(plan[6].as_ref().unwrap().rel, Path::new("D/ok.jpg"));
    }

    #[test]
    fn names_differing_in_case_collide_where_the_filesystem_folds_case() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let items =
            [ident("DCIM/IMG_0001.JPG", 1), ident("dcim/img_0001.jpg", 2), ident("DCIM/Other.JPG", 3)];
        let folded: Vec<PathBuf> =
            dir.plan_folding(&items, None, true).into_iter().map(|p| p.unwrap().rel).collect();
        assert_eq!(folded[1], Path::new("dcim/img_0001~2.jpg"));
        assert_eq!(folded[2], Path::new("DCIM/Other.JPG"));
        let kept: Vec<PathBuf> =
            dir.plan_folding(&items, None, false).into_iter().map(|p| p.unwrap().rel).collect();
        assert_eq!(kept[1], Path::new("dcim/img_0001.jpg"));
        // This (case-sensitive) folder is recognised as such.
        let _lock = dir.lock().unwrap();
        assert!(!dir.is_case_insensitive());
    }

    #[test]
    fn numbered_names_keep_the_extension_and_fit() {
        assert_eq!(numbered(Path::new("a/IMG.JPG"), 2), Path::new("a/IMG~2.JPG"));
        assert_eq!(numbered(Path::new("noext"), 3), Path::new("noext~3"));
        assert_eq!(numbered(Path::new(".hidden"), 2), Path::new(".hidden~2"));
        let long = numbered(Path::new(&format!("{}.JPG", "n".repeat(251))), 12);
        assert!(long.as_os_str().len() <= MAX_COMPONENT_BYTES);
        assert!(long.to_string_lossy().ends_with("~12.JPG"));
    }

    #[test]
    fn parent_components_are_found() {
        for p in ["..", "a/..", "a\\..\\b", "x/ .. /y", "x/.../y"] {
            assert!(has_parent_component(p), "{p}");
        }
        for p in ["a..b", "a/.b", "a/./b", "..a", "IMG..JPG"] {
            assert!(!has_parent_component(p), "{p}");
        }
    }

    #[tokio::test]
    async fn wrong_size_keeps_temp() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let mut part = start(&dir, "x/y.jpg", BIG, false).await.unwrap();
        let temp = part.temp_path().to_path_buf();
        let final_path = part.final_path().to_path_buf();
        part.write_all(b"short").await.unwrap();
        match part.finish(None).await {
            Err(DownloadError::SizeMismatch { path, expected: BIG, actual: 5 }) => assert_eq!(path, temp),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(std::fs::read(&temp).unwrap(), b"short");
        assert!(!final_path.exists());
        assert_eq!(state(&dir, "x/y.jpg", BIG), LocalState::Partial { have: 5 });
    }

    #[tokio::test]
    async fn overlong_writes_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let mut part = start(&dir, "a.bin", 4, false).await.unwrap();
        let err = part.write_all(b"12345").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        part.write_all(b"1234").await.unwrap();
        assert!(part.write_all(b"5").await.is_err());
        // FIPS 180-2 has no "1234" vector; sha256sum of the four bytes.
        assert_eq!(
            part.sha256_hex().as_deref(),
            Some("03ac674216f3e15c761ee1a5e255f067953623c8b388b4459e13f978d7c846f4")
        );
        part.finish(None).await.unwrap();
    }

    #[tokio::test]
    async fn resume_after_interruption() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let cam = "DCIM/100EMU01/MOV_0002.MP4";
        let data = pattern(BIG, 0);
        let half = data.len() / 2;

        let mut part = start(&dir, cam, BIG, true).await.unwrap();
        part.write_all(&data[..half]).await.unwrap();
        assert_eq!(part.flush_kept().await.unwrap(), half as u64);
        drop(part); // interrupted: no finish

        assert_eq!(state(&dir, cam, BIG), LocalState::Partial { have: half as u64 });
        let mut part = start(&dir, cam, BIG, true).await.unwrap();
        assert_eq!(part.offset(), half as u64);
        assert_eq!(part.tail_before_offset(10).await.unwrap(), &data[half - 10..half]);
        part.write_all(&data[half..]).await.unwrap();
        assert_eq!(part.written(), BIG);
        // The digest spans both runs: the kept half read back, the rest as it came.
        let whole: String = Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(part.sha256_hex(), Some(whole));
        let path = part.finish(None).await.unwrap();
        assert_eq!(std::fs::read(path).unwrap(), data);
        assert_eq!(state(&dir, cam, BIG), LocalState::Complete);
        assert_eq!(std::fs::read_dir(tmp.path().join("DCIM/100EMU01")).unwrap().count(), 1, "no record left");
    }

    #[tokio::test]
    async fn only_the_same_camera_file_is_resumed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let rel = PathBuf::from("IMG_0001.RAW");
        let id = Identity { handle: "7".into(), ..ident("IMG_0001.RAW", BIG) };
        let mut part = dir.start(&rel, &id, true).await.unwrap();
        part.write_all(&pattern(1000, 1)).await.unwrap();
        part.flush_kept().await.unwrap();
        drop(part);
        let plan_state = |id: &Identity| dir.plan(std::slice::from_ref(id)).remove(0).unwrap().state;
        assert_eq!(plan_state(&id), LocalState::Partial { have: 1000 });
        for other in [
            Identity { handle: "8".into(), ..id.clone() },
            Identity { camera: "test:Maker:Model:0002".into(), ..id.clone() },
            Identity { date: Some("2024-01-01 00:00:00".into()), ..id.clone() },
            Identity { size: BIG + 1, ..id.clone() },
            Identity { md5: Some("00".repeat(16)), ..id.clone() },
        ] {
            assert_eq!(plan_state(&other), LocalState::Missing, "{other:?}");
            // Starting with resume for another identity empties the file.
            let part = dir.start(&rel, &other, true).await.unwrap();
            assert_eq!(part.offset(), 0);
            drop(part);
            // Put the original back for the next case.
            let mut part = dir.start(&rel, &id, false).await.unwrap();
            part.write_all(&pattern(1000, 1)).await.unwrap();
            part.flush_kept().await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_stray_temp_file_is_not_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let temp = tmp.path().join(".b.jpg.camctl-part");
        std::fs::write(&temp, b"0123456789").unwrap();
        assert_eq!(state(&dir, "b.jpg", BIG), LocalState::Missing);
        let part = start(&dir, "b.jpg", BIG, true).await.unwrap();
        assert_eq!(part.offset(), 0);
        assert_eq!(std::fs::metadata(&temp).unwrap().len(), 0);
        drop(part);
        // An unreadable or foreign record is no record.
        std::fs::write(&temp, b"01").unwrap();
        std::fs::write(tmp.path().join(".b.jpg.camctl-meta"), b"{not json").unwrap();
        assert_eq!(state(&dir, "b.jpg", BIG), LocalState::Missing);
    }

    #[tokio::test]
    async fn small_files_keep_no_record() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let mut part = start(&dir, "s.jpg", 100, true).await.unwrap();
        part.write_all(b"abc").await.unwrap();
        part.flush_kept().await.unwrap();
        drop(part);
        assert!(!tmp.path().join(".s.jpg.camctl-meta").exists());
        assert_eq!(state(&dir, "s.jpg", 100), LocalState::Missing);
    }

    #[test]
    fn one_writer_per_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let lock = dir.lock().unwrap();
        // flock locks are per open file description, so a second open in this process conflicts too.
        match dir.lock() {
            Err(DownloadError::Locked { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("unexpected {other:?}"),
        }
        drop(lock);
        dir.lock().unwrap();
    }

    #[tokio::test]
    async fn long_names_work() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let cam = format!("DCIM/{}.JPG", "n".repeat(400));
        let mut part = start(&dir, &cam, 2, false).await.unwrap();
        part.write_all(b"ok").await.unwrap();
        let path = part.finish(None).await.unwrap();
        assert_eq!(path.file_name().unwrap().len(), 255);
        assert_eq!(state(&dir, &cam, 2), LocalState::Complete);
    }

    #[tokio::test]
    async fn empty_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let part = start(&dir, "empty.txt", 0, true).await.unwrap();
        let path = part.finish(None).await.unwrap();
        assert_eq!(std::fs::metadata(path).unwrap().len(), 0);
        assert_eq!(state(&dir, "empty.txt", 0), LocalState::Complete);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn symlink_escape_refused() {
        use std::os::unix::fs::symlink;
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let dir = DownloadDir::open(tmp.path().join("root")).unwrap();
        symlink(&outside, dir.root().join("DCIM")).unwrap();

        let cam = "DCIM/100EMU01/IMG_0001.JPG";
        assert!(matches!(dir.final_path(cam), Err(DownloadError::UnsafePath(_))));
        assert!(matches!(dir.plan(&[ident(cam, 1)]).remove(0), Err(DownloadError::UnsafePath(_))));
        assert!(matches!(start(&dir, cam, 1, false).await, Err(DownloadError::UnsafePath(_))));
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);

        // A symlinked final file, temp file or record is refused too.
        std::fs::create_dir(dir.root().join("d")).unwrap();
        symlink(outside.join("f"), dir.root().join("d/f.jpg")).unwrap();
        assert!(matches!(start(&dir, "d/f.jpg", 1, false).await, Err(DownloadError::UnsafePath(_))));
        symlink(outside.join("g"), dir.root().join("d/.g.jpg.camctl-part")).unwrap();
        assert!(matches!(start(&dir, "d/g.jpg", 1, true).await, Err(DownloadError::UnsafePath(_))));
        symlink(outside.join("h"), dir.root().join("d/.h.jpg.camctl-meta")).unwrap();
        assert!(matches!(start(&dir, "d/h.jpg", BIG, false).await, Err(DownloadError::UnsafePath(_))));
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);

        // A symlinked root is the user's choice and allowed.
        let link_root = tmp.path().join("link_root");
        symlink(&outside, &link_root).unwrap();
        let dir2 = DownloadDir::open(&link_root).unwrap();
        let mut part = start(&dir2, "ok.jpg", 1, false).await.unwrap();
        part.write_all(b"x").await.unwrap();
        part.finish(None).await.unwrap();
        assert!(outside.join("ok.jpg").exists());
    }
}
