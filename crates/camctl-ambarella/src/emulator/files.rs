//! The emulated SD card: camera paths (`/tmp/fuse_d/...`) mapped onto the media directory, listings in
//! the camera's `-D -S` format, sample media and file numbering (`YDXJnnnn`).

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use camctl_core::time::DateTime;

use crate::SD_ROOT;

/// The second mount of the same tree (HTTP side), accepted as an alias (CCPYW cds there).
const WWW_ROOT: &str = "/var/www";

/// Normalises a camera path (absolute, or relative to `cwd`) to an absolute path under [`SD_ROOT`];
/// `None` when it leaves the card.
pub(crate) fn resolve(cwd: &str, path: &str) -> Option<String> {
    let path = path.trim();
    let joined = if path.starts_with('/') { path.to_string() } else { format!("{cwd}/{path}") };
    let rest = joined
        .strip_prefix(SD_ROOT)
        .or_else(|| joined.strip_prefix(WWW_ROOT))
        .filter(|r| r.is_empty() || r.starts_with('/'))?;
    let mut parts: Vec<&str> = Vec::new();
    for part in rest.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p if p.contains('\\') || p.contains('\0') => return None,
            p => parts.push(p),
        }
    }
    let mut out = SD_ROOT.to_string();
    for p in parts {
        out.push('/');
        out.push_str(p);
    }
    Some(out)
}

/// The local file of a resolved camera path.
pub(crate) fn local(media: &Path, camera: &str) -> PathBuf {
    let rest = camera.strip_prefix(SD_ROOT).unwrap_or("").trim_start_matches('/');
    if rest.is_empty() { media.to_path_buf() } else { media.join(rest) }
}

/// One version of a file's content, for the MD5 cache: device, inode, size, modification and change
/// time. A user can set the mtime back and a same-size rewrite keeps the size, but the ctime moves on
/// every write, rename or `touch`, so a replaced file gets a new stamp. Only files whose ctime is at
/// least [`SETTLED`] old get a stamp at all: a change within the filesystem's timestamp granularity of
/// the stamping could otherwise keep the same ctime (git's "racy" rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

/// How old a file's last change must be before its MD5 is cached.
pub(crate) const SETTLED: Duration = Duration::from_secs(2);

impl Stamp {
    /// The stamp of a file's metadata; `None` when it changed too recently to trust (or the platform
    /// has no change time), so its MD5 is computed afresh.
    pub(crate) fn of(meta: &std::fs::Metadata) -> Option<Stamp> {
        Self::of_at(meta, std::time::SystemTime::now())
    }

    /// [`Stamp::of`] as seen at time `now`.
    fn of_at(meta: &std::fs::Metadata, now: std::time::SystemTime) -> Option<Stamp> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
            let ctime_ns = ns(meta.ctime(), meta.ctime_nsec());
            let now = now.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
            if (now as i128) - ctime_ns < SETTLED.as_nanos() as i128 {
                return None;
            }
            Some(Stamp {
                dev: meta.dev(),
                ino: meta.ino(),
                size: meta.len(),
                mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
                ctime_ns,
            })
        }
        #[cfg(not(unix))]
        {
            let _ = (meta, now);
            None
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` of a file's modification time.
pub(crate) fn file_date(meta: &std::fs::Metadata) -> String {
    meta.modified().map(DateTime::from_system).unwrap_or_else(|_| DateTime::now()).to_string()
}

/// A directory listing as the camera renders it with `-D -S`: `("name[/]", "<size> bytes|<date>")`,
/// directories first, then files, each sorted by name.
pub(crate) fn listing(media: &Path, dir: &Path) -> io::Result<Vec<(String, String)>> {
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    // Symlinks (and special files) inside the media folder are not listed.
    for entry in camctl_core::serve::list_dir_beneath(media, dir)? {
        let Ok(name) = entry.name.into_string() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let meta = entry.meta;
        if meta.is_dir() {
            dirs.push((format!("{name}/"), format!("0 bytes|{}", file_date(&meta))));
        } else if meta.is_file() {
            files.push((name, format!("{} bytes|{}", meta.len(), file_date(&meta))));
        }
    }
    dirs.sort();
    files.sort();
    dirs.extend(files);
    Ok(dirs)
}

/// Creates `DCIM/100MEDIA`; when the media directory is missing or empty, fills it with three sample
/// photos and a short video so a fresh emulator has something to show.
pub(crate) fn prepare(media: &Path, clip: &[u8]) -> io::Result<()> {
    let fresh = match std::fs::read_dir(media) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(e) => return Err(e),
    };
    let dir = media.join("DCIM/100MEDIA");
    std::fs::create_dir_all(&dir)?;
    if fresh {
        for n in 1..=3u32 {
            std::fs::write(
                dir.join(format!("YDXJ{n:04}.jpg")),
                camctl_core::media::sample_jpeg(640, 480, u64::from(n)),
            )?;
        }
        let mut file = io::BufWriter::new(std::fs::File::create(dir.join("YDXJ0004.mp4"))?);
        camctl_core::video::write_mp4(
            &mut file,
            clip,
            camctl_core::video::SAMPLE_FPS,
            Duration::from_secs(2),
        )?;
        io::Write::flush(&mut file)?;
    }
    Ok(())
}

/// The number after the highest `YDXJnnnn`/`YDTLnnnn` file under `DCIM/*MEDIA` (1 on an empty card).
pub(crate) fn next_number(media: &Path) -> u32 {
    let mut highest = 0;
    let Ok(dirs) = std::fs::read_dir(media.join("DCIM")) else { return 1 };
    for dir in dirs.flatten() {
        let Ok(files) = std::fs::read_dir(dir.path()) else { continue };
        for f in files.flatten() {
            let name = f.file_name().to_string_lossy().to_string();
            if let Some(n) = name.get(4..8).and_then(|d| d.parse::<u32>().ok())
                && (name.starts_with("YDXJ") || name.starts_with("YDTL"))
            {
                highest = highest.max(n);
            }
        }
    }
    (highest + 1).min(9999)
}

/// Width and height of a baseline/progressive JPEG from its SOF marker.
pub(crate) fn jpeg_size(data: &[u8]) -> Option<(u16, u16)> {
    let mut i = 2;
    while i + 9 < data.len() {
        if data[i] != 0xFF {
            return None;
        }
        let marker = data[i + 1];
        let len = usize::from(u16::from_be_bytes([data[i + 2], data[i + 3]]));
        if matches!(marker, 0xC0..=0xC3) {
            let h = u16::from_be_bytes([data[i + 5], data[i + 6]]);
            let w = u16::from_be_bytes([data[i + 7], data[i + 8]]);
            return Some((w, h));
        }
        i += 2 + len;
    }
    None
}

/// Duration in seconds from an MP4's `mvhd` (version 0), looked for in the first 64 KiB.
pub(crate) fn mp4_seconds(data: &[u8]) -> Option<u64> {
    let head = &data[..data.len().min(64 * 1024)];
    let at = head.windows(4).position(|w| w == b"mvhd")?;
    let field = |o: usize| head.get(at + o..at + o + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let (timescale, duration) = (field(16)?, field(20)?);
    (timescale > 0).then(|| u64::from(duration).div_ceil(u64::from(timescale)))
}

/// Simple glob: `*` matches any run, `?` one character.
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_on_the_card() {
        assert_eq!(resolve("/tmp/fuse_d", "DCIM/100MEDIA/").as_deref(), Some("/tmp/fuse_d/DCIM/100MEDIA"));
        assert_eq!(resolve("/tmp/fuse_d/DCIM", "../DCIM/./x.jpg").as_deref(), Some("/tmp/fuse_d/DCIM/x.jpg"));
        assert_eq!(resolve("/", "/var/www/DCIM/a").as_deref(), Some("/tmp/fuse_d/DCIM/a"));
        assert_eq!(resolve("/tmp/fuse_d", "../../etc/passwd"), None);
        assert_eq!(resolve("/tmp/fuse_d", "/etc/passwd"), None);
        assert_eq!(resolve("/tmp/fuse_d", "/tmp/fuse_dx/a"), None);
        assert_eq!(local(Path::new("/m"), "/tmp/fuse_d/DCIM/a.jpg"), Path::new("/m/DCIM/a.jpg"));
        assert!(glob_match("YDXJ*.jpg", "YDXJ0001.jpg") && !glob_match("YDXJ*.jpg", "YDXJ0001.mp4"));
        assert!(glob_match("*", "x") && glob_match("a?c", "abc"));
    }

    #[cfg(unix)]
    #[test]
    fn stamps_trust_only_settled_files_and_change_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jpg");
        std::fs::write(&path, b"first").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        // Just written: its MD5 is never cached.
        assert_eq!(Stamp::of(&meta), None);
        let later = std::time::SystemTime::now() + SETTLED * 2;
        let settled = Stamp::of_at(&meta, later).expect("settled");
        assert_eq!(Stamp::of_at(&meta, later), Some(settled));
        // Replaced by another file of the same size and mtime: another inode, another stamp.
        let other = dir.path().join("b.jpg");
        std::fs::write(&other, b"other").unwrap();
        let f = std::fs::File::options().write(true).open(&other).unwrap();
        f.set_modified(meta.modified().unwrap()).unwrap();
        std::fs::rename(&other, &path).unwrap();
        let replaced = std::fs::metadata(&path).unwrap();
        assert_eq!((replaced.len(), replaced.modified().unwrap()), (meta.len(), meta.modified().unwrap()));
        assert_ne!(Stamp::of_at(&replaced, later + SETTLED), Some(settled));
    }

    #[test]
    fn sample_media_describes_itself() {
        let jpeg = camctl_core::media::sample_jpeg(64, 48, 1);
        assert_eq!(jpeg_size(&jpeg), Some((64, 48)));
        let mut mp4 = Vec::new();
        camctl_core::video::write_mp4(&mut mp4, camctl_core::video::SAMPLE_360P, 15, Duration::from_secs(3))
            .unwrap();
        assert_eq!(mp4_seconds(&mp4), Some(3));
        assert_eq!(jpeg_size(b"junk"), None);
    }
}
