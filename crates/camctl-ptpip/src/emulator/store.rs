//! The emulated memory card: the files under the media directory, one object per file or folder.
//!
//! Handles are assigned in a sorted depth-first scan (so they are stable for an unchanged tree) and never
//! reused. Folders are Associations; objects at the top of the media directory have parent 0 (rule 13).
//! The store only holds metadata: file I/O happens outside its lock, in the callers.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use camctl_core::time::DateTime;

use crate::wire::codes::format;
use crate::wire::{ObjectInfo, format_ptp_date};

/// The one storage the emulator exposes.
pub(crate) const STORAGE_ID: u32 = 0x0001_0001;

/// ObjectCompressedSize for objects of 4 GiB and more.
const SIZE_UNKNOWN: u32 = 0xFFFF_FFFF;

/// Deepest folder nesting scanned (guards against pathological trees).
const MAX_DEPTH: usize = 16;

/// Most objects served (guards memory against a huge media directory).
const MAX_OBJECTS: usize = 200_000;

/// Folder and file-number pattern captures use when there is no DCF folder yet.
pub(crate) const DEFAULT_CAPTURE_FOLDER: &str = "DCIM/100EMU01";

/// Thumbnail side lengths reported for JPEG objects.
pub(crate) const THUMB_SIZE: (u32, u32) = (160, 120);

/// Fixed byte length of every generated thumbnail (padded with a JPEG comment), so ObjectInfo can
/// announce ThumbCompressedSize without rendering the thumbnail.
pub(crate) const THUMB_LEN: usize = 16 * 1024;

/// One file or folder found on disk.
#[derive(Debug, Clone)]
pub(crate) struct ScanEntry {
    /// Path relative to the media directory.
    pub rel: PathBuf,
    pub is_dir: bool,
    pub size: u64,
    pub mtime: SystemTime,
}

/// One object of the store.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub handle: u32,
    /// Parent handle; 0 = storage root.
    pub parent: u32,
    /// Path relative to the media directory.
    pub rel: PathBuf,
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
    pub mtime: SystemTime,
    pub format: u16,
    /// JPEG pixel size, read lazily from the SOF marker: `None` = not probed yet.
    pub dims: Option<Option<(u32, u32)>>,
}

impl Object {
    /// Whether GetThumb serves a thumbnail for this object.
    pub(crate) fn has_thumb(&self) -> bool {
        !self.is_dir && matches!(self.format, format::EXIF_JPEG | format::JFIF)
    }

    /// The ObjectInfo dataset.
    pub(crate) fn info(&self) -> ObjectInfo {
        let date = format_ptp_date(DateTime::from_system(self.mtime));
        let (image_width, image_height) = self.dims.flatten().unwrap_or((0, 0));
        let thumb = self.has_thumb();
        ObjectInfo {
            storage_id: STORAGE_ID,
            format: self.format,
            protection_status: 0,
            compressed_size: if self.is_dir { 0 } else { u32::try_from(self.size).unwrap_or(SIZE_UNKNOWN) },
            thumb_format: if thumb { format::JFIF } else { 0 },
            thumb_compressed_size: if thumb { THUMB_LEN as u32 } else { 0 },
            thumb_width: if thumb { THUMB_SIZE.0 } else { 0 },
            thumb_height: if thumb { THUMB_SIZE.1 } else { 0 },
            image_width,
            image_height,
            image_bit_depth: if image_width > 0 { 24 } else { 0 },
            parent: self.parent,
            association_type: u16::from(self.is_dir),
            association_desc: 0,
            sequence_number: 0,
            filename: self.name.clone(),
            capture_date: date.clone(),
            modification_date: date,
            keywords: String::new(),
        }
    }
}

/// Why a handle listing was refused (mapped to PTP response codes by the session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListError {
    /// The association filter names no folder.
    BadParent,
}

/// The object table.
pub(crate) struct ObjectStore {
    root: PathBuf,
    objects: BTreeMap<u32, Object>,
    by_path: HashMap<PathBuf, u32>,
    next_handle: u32,
    /// Bumped whenever an object is added or removed, so a scan that raced with a change is not merged.
    generation: u64,
}

impl ObjectStore {
    /// An empty store over `root`.
    pub(crate) fn new(root: PathBuf) -> ObjectStore {
        ObjectStore { root, objects: BTreeMap::new(), by_path: HashMap::new(), next_handle: 1, generation: 0 }
    }

    /// The media directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Absolute path of an object.
    pub(crate) fn path_of(&self, obj: &Object) -> PathBuf {
        self.root.join(&obj.rel)
    }

    /// An object by handle.
    pub(crate) fn get(&self, handle: u32) -> Option<&Object> {
        self.objects.get(&handle)
    }

    /// Mutable access (for lazily probed fields).
    pub(crate) fn get_mut(&mut self, handle: u32) -> Option<&mut Object> {
        self.objects.get_mut(&handle)
    }

    /// The handle of a relative path.
    pub(crate) fn handle_of(&self, rel: &Path) -> Option<u32> {
        self.by_path.get(rel).copied()
    }

    /// Takes a handle number for an object registered later (SendObjectInfo before SendObject).
    pub(crate) fn reserve_handle(&mut self) -> u32 {
        let h = self.next_handle;
        self.next_handle = self.next_handle.saturating_add(1).min(0xFFFF_FFFE);
        h
    }

    /// Changes so far (see [`ObjectStore::merge_if_unchanged`]).
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// [`ObjectStore::merge`] unless objects were added or removed since the scan started (a capture or
    /// a delete racing with the scan would otherwise be undone); returns whether it merged.
    pub(crate) fn merge_if_unchanged(&mut self, entries: Vec<ScanEntry>, scanned_at: u64) -> bool {
        if self.generation != scanned_at {
            return false;
        }
        self.merge(entries);
        true
    }

    /// Brings the table in line with a fresh scan: known paths keep their handles, new paths get new
    /// ones (in scan order), vanished paths are dropped.
    pub(crate) fn merge(&mut self, entries: Vec<ScanEntry>) {
        let seen: std::collections::HashSet<&Path> = entries.iter().map(|e| e.rel.as_path()).collect();
        let gone: Vec<u32> =
            self.objects.values().filter(|o| !seen.contains(o.rel.as_path())).map(|o| o.handle).collect();
        for h in gone {
            self.remove(h);
        }
        for e in entries {
            self.upsert(e, None);
        }
    }

    /// Registers (or refreshes) an object whose parent folder is already known; returns its handle and
    /// whether it is new. `handle` forces a reserved handle for a new object.
    pub(crate) fn upsert(&mut self, e: ScanEntry, handle: Option<u32>) -> Option<(u32, bool)> {
        if let Some(h) = self.handle_of(&e.rel) {
            let obj = self.objects.get_mut(&h)?;
            if obj.size != e.size || obj.mtime != e.mtime {
                obj.dims = None;
            }
            obj.size = e.size;
            obj.mtime = e.mtime;
            return Some((h, false));
        }
        if self.objects.len() >= MAX_OBJECTS {
            return None;
        }
        let parent = match e.rel.parent() {
            Some(p) if !p.as_os_str().is_empty() => self.handle_of(p)?,
            _ => 0,
        };
        let name = e.rel.file_name()?.to_string_lossy().into_owned();
        let handle = match handle {
            Some(h) if !self.objects.contains_key(&h) => h,
            _ => self.reserve_handle(),
        };
        let format = if e.is_dir { format::ASSOCIATION } else { format::from_file_name(&name) };
        let obj = Object {
            handle,
            parent,
            rel: e.rel.clone(),
            name,
            is_dir: e.is_dir,
            size: if e.is_dir { 0 } else { e.size },
            mtime: e.mtime,
            format,
            dims: None,
        };
        self.by_path.insert(e.rel, handle);
        self.objects.insert(handle, obj);
        self.generation += 1;
        Some((handle, true))
    }

    /// Drops an object (and, for safety, anything still listed below it).
    pub(crate) fn remove(&mut self, handle: u32) {
        let Some(obj) = self.objects.remove(&handle) else { return };
        self.by_path.remove(&obj.rel);
        self.generation += 1;
        let children: Vec<u32> = self.children(handle).collect();
        for c in children {
            self.remove(c);
        }
    }

    /// Direct children of `parent` (0 = root), in handle order.
    pub(crate) fn children(&self, parent: u32) -> impl Iterator<Item = u32> + '_ {
        self.objects.values().filter(move |o| o.parent == parent).map(|o| o.handle)
    }

    /// Handles matching GetObjectHandles' filters: `format` 0 = any (else exact format), `assoc` 0 = all
    /// objects, 0xFFFFFFFF = root only, else direct children of that folder.
    pub(crate) fn list(&self, format: u16, assoc: u32) -> Result<Vec<u32>, ListError> {
        let keep = |o: &&Object| format == 0 || o.format == format;
        let handles = match assoc {
            0 => self.objects.values().filter(keep).map(|o| o.handle).collect(),
            0xFFFF_FFFF => {
                self.objects.values().filter(|o| o.parent == 0).filter(keep).map(|o| o.handle).collect()
            }
            parent => {
                if !self.objects.get(&parent).is_some_and(|o| o.is_dir) {
                    return Err(ListError::BadParent);
                }
                self.objects.values().filter(|o| o.parent == parent).filter(keep).map(|o| o.handle).collect()
            }
        };
        Ok(handles)
    }

    /// Every file object (for DeleteObject(0xFFFFFFFF)).
    pub(crate) fn files(&self, format: u16) -> Vec<Object> {
        self.objects.values().filter(|o| !o.is_dir && (format == 0 || o.format == format)).cloned().collect()
    }

    /// Bytes used by all files.
    pub(crate) fn used_bytes(&self) -> u64 {
        self.objects.values().map(|o| o.size).fold(0, u64::saturating_add)
    }

    /// Formats present, for DeviceInfo.ImageFormats.
    pub(crate) fn formats(&self) -> Vec<u16> {
        let mut f: Vec<u16> = self.objects.values().map(|o| o.format).collect();
        f.sort_unstable();
        f.dedup();
        f
    }

    /// Where the next capture goes: the last DCF folder (`NNNxxxxx`) inside a root `DCIM` folder, else
    /// [`DEFAULT_CAPTURE_FOLDER`]; and the first free picture number above the folder's `IMG_nnnn` files.
    pub(crate) fn capture_target(&self) -> (PathBuf, u32) {
        let dcim =
            self.objects.values().find(|o| o.parent == 0 && o.is_dir && o.name.eq_ignore_ascii_case("DCIM"));
        let folder = dcim.and_then(|d| {
            self.objects
                .values()
                .filter(|o| o.parent == d.handle && o.is_dir && is_dcf_folder(&o.name))
                .max_by(|a, b| a.name.cmp(&b.name))
        });
        let Some(folder) = folder else { return (PathBuf::from(DEFAULT_CAPTURE_FOLDER), 1) };
        let last = self
            .objects
            .values()
            .filter(|o| o.parent == folder.handle)
            .filter_map(|o| image_number(&o.name))
            .max();
        (folder.rel.clone(), last.map_or(1, |n| n.saturating_add(1)))
    }
}

/// DCF folder names start with three digits 100..=999.
fn is_dcf_folder(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 3 && b[..3].iter().all(u8::is_ascii_digit) && b[0] != b'0'
}

/// `n` of a file named `IMG_nnnn.*`.
pub(crate) fn image_number(name: &str) -> Option<u32> {
    let rest = name.get(..4).filter(|p| p.eq_ignore_ascii_case("IMG_")).and(name.get(4..))?;
    let digits = rest.split('.').next()?;
    (!digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit())).then(|| digits.parse().ok())?
}

/// Whether a directory entry name is hidden (also covers our own temp files, which start with '.').
fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

/// Lists the media directory depth-first with entries sorted by name, skipping hidden entries and
/// symlinked folders (loops). Blocking.
pub(crate) fn scan(root: &Path) -> std::io::Result<Vec<ScanEntry>> {
    let mut out = Vec::new();
    scan_dir(root, Path::new(""), 0, &mut out)?;
    Ok(out)
}

fn scan_dir(root: &Path, rel: &Path, depth: usize, out: &mut Vec<ScanEntry>) -> std::io::Result<()> {
    // Symlinks (to files or folders) are not listed: nothing outside the media folder is served.
    let mut names: Vec<_> = camctl_core::serve::list_dir_beneath(root, rel)?
        .into_iter()
        .filter(|e| !is_hidden(&e.name))
        .map(|e| (e.name, e.meta))
        .collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, meta) in names {
        if out.len() >= MAX_OBJECTS {
            break;
        }
        let child = rel.join(&name);
        let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if meta.is_dir() {
            out.push(ScanEntry { rel: child.clone(), is_dir: true, size: 0, mtime });
            if depth + 1 < MAX_DEPTH {
                // An unreadable folder is listed but empty.
                let _ = scan_dir(root, &child, depth + 1, out);
            }
        } else if meta.is_file() {
            out.push(ScanEntry { rel: child, is_dir: false, size: meta.len(), mtime });
        }
    }
    Ok(())
}

/// One scan entry for a path relative to `root` (after the caller wrote it). Blocking.
pub(crate) fn stat(root: &Path, rel: &Path) -> std::io::Result<ScanEntry> {
    let meta = camctl_core::serve::metadata_beneath(root, rel)?;
    Ok(ScanEntry {
        rel: rel.to_path_buf(),
        is_dir: meta.is_dir(),
        size: if meta.is_dir() { 0 } else { meta.len() },
        mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    })
}

/// Creates the media directory if missing and, when it holds no (visible) files, fills
/// [`DEFAULT_CAPTURE_FOLDER`] with three 640x480 sample pictures. Blocking.
pub(crate) fn prepare_media(root: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(root)?;
    if !scan(root)?.iter().any(|e| !e.is_dir) {
        camctl_core::media::write_sample_pictures(&root.join(DEFAULT_CAPTURE_FOLDER), 3)?;
    }
    Ok(())
}

/// Reads the pixel size from a JPEG's SOF marker within its first 64 KiB. Blocking.
pub(crate) fn jpeg_dims(root: &Path, path: &Path) -> Option<(u32, u32)> {
    let mut head = Vec::with_capacity(64 * 1024);
    camctl_core::serve::open_beneath(root, path, false).ok()?.take(64 * 1024).read_to_end(&mut head).ok()?;
    parse_sof(&head)
}

/// Walks JPEG marker segments up to the first SOFn and returns (width, height).
fn parse_sof(b: &[u8]) -> Option<(u32, u32)> {
    if b.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut i = 2;
    loop {
        // Skip fill bytes before a marker.
        while *b.get(i)? == 0xFF && *b.get(i + 1)? == 0xFF {
            i += 1;
        }
        if *b.get(i)? != 0xFF {
            return None;
        }
        let marker = *b.get(i + 1)?;
        if marker == 0xD8 || marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            i += 2;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([*b.get(i + 2)?, *b.get(i + 3)?]));
        let is_sof = (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let seg = b.get(i + 4..i + 9)?;
            let height = u16::from_be_bytes([seg[1], seg[2]]);
            let width = u16::from_be_bytes([seg[3], seg[4]]);
            return Some((u32::from(width), u32::from(height)));
        }
        if marker == 0xDA || marker == 0xD9 || len < 2 {
            return None;
        }
        i += 2 + len;
    }
}

/// A thumbnail for object `seed`: a 160x120 sample picture padded to exactly [`THUMB_LEN`] bytes with a
/// COM segment right after SOI (decoders skip it). Blocking (renders a picture).
pub(crate) fn thumbnail(seed: u64) -> Vec<u8> {
    let jpeg = camctl_core::media::sample_jpeg(THUMB_SIZE.0 as u16, THUMB_SIZE.1 as u16, seed);
    if jpeg.len() < 2 {
        return jpeg;
    }
    // The COM segment is its 2-byte marker plus `seg_len` bytes (length field included).
    let Some(seg_len) = THUMB_LEN.checked_sub(jpeg.len() + 2).filter(|l| (2..=0xFFFF).contains(l)) else {
        return jpeg;
    };
    let mut out = Vec::with_capacity(THUMB_LEN);
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&(seg_len as u16).to_be_bytes());
    out.resize(out.len() + seg_len - 2, b' ');
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sof_and_thumbnail() {
        let jpeg = camctl_core::media::sample_jpeg(64, 48, 3);
        assert_eq!(parse_sof(&jpeg), Some((64, 48)));
        assert_eq!(parse_sof(&jpeg[..20]), None);
        assert_eq!(parse_sof(b"nope"), None);
        let t = thumbnail(7);
        assert_eq!(t.len(), THUMB_LEN);
        assert_eq!(parse_sof(&t), Some(THUMB_SIZE));
    }

    #[test]
    fn names() {
        assert_eq!(image_number("IMG_0042.JPG"), Some(42));
        assert_eq!(image_number("img_7.jpeg"), Some(7));
        assert_eq!(image_number("DSC_0001.JPG"), None);
        assert_eq!(image_number("IMG_.JPG"), None);
        assert!(is_dcf_folder("100EMU01") && !is_dcf_folder("MISC") && !is_dcf_folder("099ABCDE"));
    }

    #[test]
    fn tree_and_filters() {
        let dir = tempfile::tempdir().unwrap();
        prepare_media(dir.path()).unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"hi").unwrap();
        std::fs::write(dir.path().join(".hidden"), b"x").unwrap();
        let mut s = ObjectStore::new(dir.path().to_path_buf());
        s.merge(scan(dir.path()).unwrap());
        // DCIM(1) -> 100EMU01(2) -> 3 pictures (3,4,5), notes.txt (6)
        assert_eq!(s.list(0, 0xFFFF_FFFF).unwrap(), [1, 6]);
        assert_eq!(s.list(0, 2).unwrap(), [3, 4, 5]);
        assert_eq!(s.list(format::EXIF_JPEG, 0).unwrap(), [3, 4, 5]);
        assert_eq!(s.list(0, 3), Err(ListError::BadParent));
        assert_eq!(s.get(2).unwrap().parent, 1);
        assert_eq!(s.capture_target(), (PathBuf::from(DEFAULT_CAPTURE_FOLDER), 4));
        std::fs::remove_file(dir.path().join("notes.txt")).unwrap();
        std::fs::write(dir.path().join("DCIM/100EMU01/IMG_0009.JPG"), b"x").unwrap();
        s.merge(scan(dir.path()).unwrap());
        assert!(s.get(6).is_none());
        assert_eq!(s.list(0, 2).unwrap(), [3, 4, 5, 7]);
        assert_eq!(s.capture_target().1, 10);
    }
}
