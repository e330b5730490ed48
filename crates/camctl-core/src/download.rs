//! Safe download sink shared by every protocol (`camctl pull`).
//!
//! Guarantees:
//! - a download never leaves a half-written file under its final name: bytes go to a
//!   hidden temporary file (`.<name>.camctl-part`) in the same folder, which is renamed
//!   over the final name only once its size is verified and its data fsynced;
//! - a re-run fetches nothing new ([`DownloadDir::state`] reports [`LocalState::Complete`]);
//! - an interrupted download resumes from the temporary file;
//! - camera-supplied names can never place a file outside the target folder
//!   ([`sanitize_relative_path`] plus a symlink check on every existing path component).
//!
//! ```
//! use camctl_core::download::{DownloadDir, LocalState};
//! use tokio::io::AsyncWriteExt;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let tmp = tempfile::tempdir()?;
//! let dir = DownloadDir::open(tmp.path().join("photos"))?;
//! let data = b"jpeg bytes";
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     let camera_path = "DCIM/100EMU01/IMG_0001.JPG";
//!     let size = data.len() as u64;
//!     let resume = match dir.state(camera_path, size)? {
//!         LocalState::Complete => return Ok(()),
//!         LocalState::Partial { .. } => true,
//!         LocalState::Missing => false,
//!     };
//!     let mut part = dir.start(camera_path, size, resume).await?;
//!     // A real protocol fetches from `part.offset()` onwards.
//!     part.write_all(&data[part.offset() as usize..]).await?;
//!     let path = part.finish(None).await?;
//!     assert!(path.ends_with("DCIM/100EMU01/IMG_0001.JPG"));
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! assert_eq!(dir.state("DCIM/100EMU01/IMG_0001.JPG", 10)?, LocalState::Complete);
//! # Ok(())
//! # }
//! ```

use std::io::{self, IoSlice, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use tokio::io::{AsyncSeekExt, AsyncWrite, AsyncWriteExt, BufWriter};

/// Suffix of temporary files; the full name is `.<final name>` + this.
const PART_SUFFIX: &str = ".camctl-part";
/// Longest file name component most filesystems accept (NAME_MAX).
const MAX_COMPONENT_BYTES: usize = 255;
/// Write buffer size: large enough to keep syscalls (and tokio blocking hops) few.
const WRITE_BUFFER_BYTES: usize = 1 << 20;

/// Error type for this module.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The camera-supplied path is empty after sanitizing, or would resolve through a
    /// symlink below the download root.
    #[error("unsafe or empty path from camera: {0:?}")]
    UnsafePath(String),
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
    if ends_with_ignore_ascii_case(&s, PART_SUFFIX) {
        // Keep the length (the suffix ends in ASCII 't'), just break the collision.
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
    let overhead = 1 + PART_SUFFIX.len();
    if final_name.len() + overhead <= MAX_COMPONENT_BYTES {
        return format!(".{final_name}{PART_SUFFIX}");
    }
    let hash = format!("~{:016x}", fnv1a64(final_name.as_bytes()));
    let mut head = final_name.to_owned();
    truncate_on_char_boundary(&mut head, MAX_COMPONENT_BYTES - overhead - hash.len());
    format!(".{head}{hash}{PART_SUFFIX}")
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

/// What the target folder already holds for one item.
///
/// ```
/// use camctl_core::download::LocalState;
/// let s = LocalState::Partial { have: 512 };
/// assert_ne!(s, LocalState::Complete);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalState {
    /// The final file exists with the expected size: nothing to fetch.
    Complete,
    /// A temporary file holds the first `have` bytes: resume from there.
    Partial {
        /// Bytes already downloaded.
        have: u64,
    },
    /// Nothing usable: fetch from the start.
    Missing,
}

/// Final and temporary path of one item, checked against symlink escapes.
struct ItemPaths {
    final_path: PathBuf,
    temp_path: PathBuf,
}

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
}

impl DownloadDir {
    /// Creates root (and parents) if missing.
    ///
    /// The root itself may be a symlink (the user chose it); only components below it
    /// are checked.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, DownloadError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| DownloadError::io(&root, e))?;
        Ok(DownloadDir { root })
    }

    /// The folder downloads go to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Final path for a camera path (root joined with the sanitized relative path).
    ///
    /// Fails with [`DownloadError::UnsafePath`] if the path is empty after sanitizing or
    /// an existing component below root is a symlink.
    pub fn final_path(&self, camera_path: &str) -> Result<PathBuf, DownloadError> {
        Ok(self.resolve(camera_path)?.final_path)
    }

    /// Complete if the final file exists with exactly `size` bytes (a final file of another size counts as
    /// Missing: it will be replaced atomically after the new download completes); Partial if the
    /// temporary file exists with fewer than `size` bytes (a temp file larger than `size` counts as Missing
    /// and is discarded when started); else Missing.
    ///
    /// A temporary file of exactly `size` bytes also counts as Missing: it was never
    /// finished, so its data may not have been fsynced.
    pub fn state(&self, camera_path: &str, size: u64) -> Result<LocalState, DownloadError> {
        let paths = self.resolve(camera_path)?;
        if regular_file_len(&paths.final_path)? == Some(size) {
            return Ok(LocalState::Complete);
        }
        Ok(match regular_file_len(&paths.temp_path)? {
            Some(have) if have < size => LocalState::Partial { have },
            _ => LocalState::Missing,
        })
    }

    /// Opens (creating parent folders) the temporary file for this item: same folder as the final file,
    /// name `.<final name>.camctl-part`. If `resume` and it exists with len <= expected_size, keep it and
    /// report its current length as `offset()`; otherwise truncate to 0.
    ///
    /// Writing continues at `offset()` (a positioned write at the end rather than
    /// `O_APPEND`, see the comment inside); more than `expected_size` bytes in total are
    /// refused by the writer.
    pub async fn start(
        &self,
        camera_path: &str,
        expected_size: u64,
        resume: bool,
    ) -> Result<PartialFile, DownloadError> {
        let ItemPaths { final_path, temp_path } = self.resolve(camera_path)?;
        // resolve() checked every existing component, so creating folders cannot follow
        // a symlink out of root.
        if let Some(parent) = final_path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(|e| DownloadError::io(parent, e))?;
        }
        let io_err = |e| DownloadError::io(&temp_path, e);
        // No O_APPEND: a positioned writer means a write still in flight from a dropped
        // earlier PartialFile lands on the same offsets with the same bytes instead of
        // being appended twice.
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&temp_path)
            .await
            .map_err(io_err)?;
        let len = file.metadata().await.map_err(io_err)?.len();
        let offset = if resume && len <= expected_size {
            file.seek(SeekFrom::Start(len)).await.map_err(io_err)?;
            len
        } else {
            file.set_len(0).await.map_err(io_err)?;
            0
        };
        tracing::debug!(path = %temp_path.display(), offset, expected_size, "download started");
        Ok(PartialFile {
            writer: BufWriter::with_capacity(WRITE_BUFFER_BYTES, file),
            offset,
            written: offset,
            expected_size,
            temp_path,
            final_path,
        })
    }

    /// Sanitizes `camera_path` and refuses it if any existing component below root
    /// (including the final and temporary file) is a symlink.
    fn resolve(&self, camera_path: &str) -> Result<ItemPaths, DownloadError> {
        let rel = sanitize_relative_path(camera_path)?;
        let final_path = self.root.join(&rel);
        let final_name = final_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| DownloadError::UnsafePath(camera_path.to_owned()))?;
        let temp_path = final_path.with_file_name(temp_name(&final_name));

        let mut current = self.root.clone();
        let mut all_exist = true;
        for component in rel.components() {
            current.push(component);
            if !self.check_not_symlink(&current, camera_path)? {
                // Nothing below a missing component can exist.
                all_exist = false;
                break;
            }
        }
        let parent_exists = all_exist || final_path.parent().is_some_and(|p| p.is_dir());
        if parent_exists {
            self.check_not_symlink(&temp_path, camera_path)?;
        }
        Ok(ItemPaths { final_path, temp_path })
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
/// use camctl_core::download::DownloadDir;
/// use tokio::io::AsyncWriteExt;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let tmp = tempfile::tempdir()?;
/// let dir = DownloadDir::open(tmp.path())?;
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// rt.block_on(async {
///     let mut part = dir.start("MOV_0001.MP4", 6, false).await?;
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

    /// Flush, fsync (sync_data), check that the file length equals expected_size (else SizeMismatch and the
    /// temp file is KEPT so a later run can resume/redo), optionally set mtime (skip if None),
    /// then rename to the final name, replacing any older file there. Returns the final path.
    pub async fn finish(mut self, modified: Option<SystemTime>) -> Result<PathBuf, DownloadError> {
        self.writer.flush().await.map_err(|e| DownloadError::io(&self.temp_path, e))?;
        let file = self.writer.into_inner().into_std().await;
        let (temp_path, final_path) = (self.temp_path, self.final_path);
        let expected = self.expected_size;
        let error_path = temp_path.clone();
        tokio::task::spawn_blocking(move || finish_blocking(file, temp_path, final_path, expected, modified))
            .await
            .map_err(|e| DownloadError::io(&error_path, io::Error::other(e)))?
    }
}

fn finish_blocking(
    file: std::fs::File,
    temp_path: PathBuf,
    final_path: PathBuf,
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
    std::fs::rename(&temp_path, &final_path).map_err(|e| DownloadError::io(&final_path, e))?;
    sync_parent_dir(&final_path);
    tracing::debug!(path = %final_path.display(), bytes = actual, "download finished");
    Ok(final_path)
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
        if let Poll::Ready(Ok(n)) = &res {
            this.written += *n as u64;
        }
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
        if let Poll::Ready(Ok(n)) = &res {
            this.written += *n as u64;
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.writer.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_flush(cx)
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

    #[tokio::test]
    async fn write_and_finish() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path().join("new/root")).unwrap();
        let cam = "DCIM/100EMU01/IMG_0001.JPG";
        assert_eq!(dir.state(cam, 5).unwrap(), LocalState::Missing);
        let mut part = dir.start(cam, 5, false).await.unwrap();
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
        assert_eq!(dir.state(cam, 5).unwrap(), LocalState::Complete);
        // A different announced size means the local file is stale.
        assert_eq!(dir.state(cam, 6).unwrap(), LocalState::Missing);
    }

    #[tokio::test]
    async fn finish_replaces_stale_final_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        std::fs::write(tmp.path().join("a.jpg"), b"old!!!!!").unwrap();
        let mut part = dir.start("a.jpg", 3, true).await.unwrap();
        part.write_all(b"new").await.unwrap();
        part.finish(None).await.unwrap();
        assert_eq!(std::fs::read(tmp.path().join("a.jpg")).unwrap(), b"new");
    }

    #[tokio::test]
    async fn wrong_size_keeps_temp() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let mut part = dir.start("x/y.jpg", 10, false).await.unwrap();
        let temp = part.temp_path().to_path_buf();
        let final_path = part.final_path().to_path_buf();
        part.write_all(b"short").await.unwrap();
        match part.finish(None).await {
            Err(DownloadError::SizeMismatch { path, expected: 10, actual: 5 }) => assert_eq!(path, temp),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(std::fs::read(&temp).unwrap(), b"short");
        assert!(!final_path.exists());
        assert_eq!(dir.state("x/y.jpg", 10).unwrap(), LocalState::Partial { have: 5 });
    }

    #[tokio::test]
    async fn overlong_writes_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let mut part = dir.start("a.bin", 4, false).await.unwrap();
        let err = part.write_all(b"12345").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        part.write_all(b"1234").await.unwrap();
        assert!(part.write_all(b"5").await.is_err());
        part.finish(None).await.unwrap();
    }

    #[tokio::test]
    async fn resume_after_interruption() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let cam = "DCIM/100EMU01/MOV_0002.MP4";
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let size = data.len() as u64;
        let half = data.len() / 2;

        let mut part = dir.start(cam, size, true).await.unwrap();
        part.write_all(&data[..half]).await.unwrap();
        part.flush().await.unwrap();
        drop(part); // interrupted: no finish

        assert_eq!(dir.state(cam, size).unwrap(), LocalState::Partial { have: half as u64 });
        let mut part = dir.start(cam, size, true).await.unwrap();
        assert_eq!(part.offset(), half as u64);
        assert_eq!(part.written(), half as u64);
        part.write_all(&data[half..]).await.unwrap();
        assert_eq!(part.written(), size);
        let path = part.finish(None).await.unwrap();
        assert_eq!(std::fs::read(path).unwrap(), data);
        assert_eq!(dir.state(cam, size).unwrap(), LocalState::Complete);
    }

    #[tokio::test]
    async fn oversized_or_unwanted_temp_is_discarded() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let temp = tmp.path().join(".b.jpg.camctl-part");
        std::fs::write(&temp, b"0123456789").unwrap();
        assert_eq!(dir.state("b.jpg", 4).unwrap(), LocalState::Missing);
        let part = dir.start("b.jpg", 4, true).await.unwrap();
        assert_eq!(part.offset(), 0);
        assert_eq!(std::fs::metadata(&temp).unwrap().len(), 0);
        drop(part);

        std::fs::write(&temp, b"01").unwrap();
        assert_eq!(dir.state("b.jpg", 4).unwrap(), LocalState::Partial { have: 2 });
        let mut part = dir.start("b.jpg", 4, false).await.unwrap();
        assert_eq!(part.offset(), 0);
        part.write_all(b"abcd").await.unwrap();
        part.finish(None).await.unwrap();
        assert_eq!(std::fs::read(tmp.path().join("b.jpg")).unwrap(), b"abcd");
    }

    #[tokio::test]
    async fn long_names_work() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let cam = format!("DCIM/{}.JPG", "n".repeat(400));
        let mut part = dir.start(&cam, 2, false).await.unwrap();
        part.write_all(b"ok").await.unwrap();
        let path = part.finish(None).await.unwrap();
        assert_eq!(path.file_name().unwrap().len(), 255);
        assert_eq!(dir.state(&cam, 2).unwrap(), LocalState::Complete);
    }

    #[tokio::test]
    async fn empty_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DownloadDir::open(tmp.path()).unwrap();
        let part = dir.start("empty.txt", 0, true).await.unwrap();
        let path = part.finish(None).await.unwrap();
        assert_eq!(std::fs::metadata(path).unwrap().len(), 0);
        assert_eq!(dir.state("empty.txt", 0).unwrap(), LocalState::Complete);
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
        assert!(matches!(dir.state(cam, 1), Err(DownloadError::UnsafePath(_))));
        assert!(matches!(dir.start(cam, 1, false).await, Err(DownloadError::UnsafePath(_))));
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);

        // A symlinked final file or temp file is refused too.
        std::fs::create_dir(dir.root().join("d")).unwrap();
        symlink(outside.join("f"), dir.root().join("d/f.jpg")).unwrap();
        assert!(matches!(dir.start("d/f.jpg", 1, false).await, Err(DownloadError::UnsafePath(_))));
        symlink(outside.join("g"), dir.root().join("d/.g.jpg.camctl-part")).unwrap();
        assert!(matches!(dir.start("d/g.jpg", 1, true).await, Err(DownloadError::UnsafePath(_))));
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);

        // A symlinked root is the user's choice and allowed.
        let link_root = tmp.path().join("link_root");
        symlink(&outside, &link_root).unwrap();
        let dir2 = DownloadDir::open(&link_root).unwrap();
        let mut part = dir2.start("ok.jpg", 1, false).await.unwrap();
        part.write_all(b"x").await.unwrap();
        part.finish(None).await.unwrap();
        assert!(outside.join("ok.jpg").exists());
    }
}
