//! The emulated picture store: which pictures exist, their component files, and the blobs the camera
//! serves for them.
//!
//! Mapping of the media directory (scanned recursively, hidden files skipped): every file whose
//! extension is `.jpg`/`.jpeg`, `.raw`, `.txt`, `.128` or `.stk` (any case) belongs to the picture
//! named by its path without extension, so `IMG_0001.JPG` + `IMG_0001.RAW` are one picture with two
//! formats. A picture whose file name is `IMG_NNNN` keeps number NNNN; the others get the lowest free
//! numbers in path order. All pictures live in the camera folder `100PHOTO`. Formats without a file
//! are generated deterministically from the picture's seed: JPEG (1080x1080 synthetic photo), RAW
//! (16,137,600 bytes of 12-bit packed data), TXT (JSON metadata), 128 (128x128 YUY2) and STK (four
//! 320x1280 JPEGs).

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use camctl_core::time::DateTime;

use crate::wire::{
    PICTURE_ENTRY_LEN, PICTURE_PREFIX_LEN, PictureEntry, PictureFormat, PictureList, PictureRef, RAW_LEN,
    THUMBNAIL_LEN, THUMBNAIL_SIDE, encode_stack,
};

/// Camera folder number and postfix, and file prefix, of every picture.
pub(crate) const FOLDER_NUMBER: u32 = 100;
pub(crate) const FOLDER_POSTFIX: &str = "PHOTO";
pub(crate) const FILE_PREFIX: &str = "IMG_";

/// Side of generated JPEG previews (the camera's refocusable images are about 1080x1080).
pub(crate) const JPEG_SIDE: u16 = 1080;
/// Stack frames: four JPEGs of 320x1280, each 4 refocused 320x320 frames (§5.5).
const STACK_FRAME: (u16, u16) = (320, 1280);

const MAX_DEPTH: usize = 8;
const MAX_PICTURES: usize = 9999;
/// Files of 4 GiB and more cannot be described by the u32 content length.
pub(crate) const MAX_FILE: u64 = u32::MAX as u64 - PICTURE_PREFIX_LEN as u64;
/// RAW rows: 3280 pixels x 12 bits.
const RAW_ROW: usize = 3280 * 3 / 2;

/// One file on disk.
#[derive(Debug, Clone)]
pub(crate) struct DiskFile {
    pub path: PathBuf,
    pub size: u64,
    pub mtime: SystemTime,
}

/// One picture.
#[derive(Debug, Clone)]
pub(crate) struct Picture {
    pub number: u32,
    pub id: String,
    pub date: String,
    pub seed: u64,
    /// Component files on disk, by format index.
    pub files: [Option<DiskFile>; 5],
}

impl Picture {
    pub(crate) fn entry(&self) -> PictureEntry {
        PictureEntry {
            folder_postfix: FOLDER_POSTFIX.into(),
            file_prefix: FILE_PREFIX.into(),
            folder_number: FOLDER_NUMBER,
            file_number: self.number,
            id: self.id.clone(),
            date: self.date.clone(),
            rotation: 1,
            ..PictureEntry::default()
        }
    }

    pub(crate) fn file(&self, f: PictureFormat) -> Option<&DiskFile> {
        self.files[f as usize].as_ref()
    }
}

/// Where the bytes of a loaded blob come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// Held in memory.
    Bytes(Arc<Vec<u8>>),
    /// A file on disk (opened by the session on load).
    File(PathBuf, u64),
    /// Synthetic RAW of picture `seed`: a tile of rows repeated down the sensor.
    Raw(Arc<Vec<u8>>),
}

impl Source {
    pub(crate) fn len(&self) -> u64 {
        match self {
            Source::Bytes(b) => b.len() as u64,
            Source::File(_, n) => *n,
            Source::Raw(_) => RAW_LEN as u64,
        }
    }
}

/// All pictures, by number.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub pictures: BTreeMap<u32, Picture>,
}

impl Store {
    pub(crate) fn picture_list(&self) -> Vec<u8> {
        // Record definitions are undocumented: 10 of them (lytro-dl's fixed 92-byte header), filled
        // with (field index, offset in entry) of the known fields. Synthetic.
        let records = [0x00, 0x08, 0x10, 0x14, 0x28, 0x2C, 0x30, 0x60, 0x7C, PICTURE_ENTRY_LEN as u32 - 4]
            .iter()
            .enumerate();
        PictureList {
            version: 1,
            entry_len: PICTURE_ENTRY_LEN as u32,
            records: records.map(|(i, &o)| (i as u32, o)).collect(),
            entries: self.pictures.values().map(Picture::entry).collect(),
        }
        .encode()
    }

    pub(crate) fn by_id(&self, id: &str) -> Option<&Picture> {
        self.pictures.values().find(|p| p.id == id)
    }

    /// The picture and format of a camera path such as `I:\DCIM\100PHOTO\IMG_0001.JPG` (any case).
    pub(crate) fn by_path(&self, path: &str) -> Option<(&Picture, PictureFormat)> {
        let (_, ext) = path.rsplit_once('.')?;
        let format = PictureFormat::from_extension(ext)?;
        let number: u32 =
            path.get(path.len().checked_sub(ext.len() + 5)?..path.len() - ext.len() - 1)?.parse().ok()?;
        let p = self.pictures.get(&number)?;
        p.entry().camera_path(format.camera_extension()).eq_ignore_ascii_case(path).then_some((p, format))
    }

    pub(crate) fn by_ref(&self, r: &PictureRef) -> Option<u32> {
        let p = self.pictures.get(&r.file_number)?;
        (r.folder_number == FOLDER_NUMBER
            && r.folder_postfix.eq_ignore_ascii_case(FOLDER_POSTFIX)
            && r.file_prefix.eq_ignore_ascii_case(FILE_PREFIX))
        .then_some(p.number)
    }

    pub(crate) fn next_number(&self) -> Option<u32> {
        let n = self.pictures.keys().next_back().map_or(1, |n| n + 1);
        (n as usize <= MAX_PICTURES)
            .then_some(n)
            .or_else(|| (1..=MAX_PICTURES as u32).find(|n| !self.pictures.contains_key(n)))
    }
}

/// A deterministic `sha1-` + 40 hex id (synthetic: real ids are SHA-1 hashes of unknown input).
pub(crate) fn picture_id(seed: u64) -> String {
    let mut s = String::from("sha1-");
    let mut x = seed;
    for _ in 0..5 {
        s.push_str(&format!("{:08x}", (splitmix(&mut x) >> 32) as u32));
    }
    s
}

pub(crate) fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a string: stable seeds from paths.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3))
}

/// `YYYY-MM-DDTHH:MM:SS.000Z` of a system time.
pub(crate) fn iso_date(t: SystemTime) -> String {
    let d = DateTime::from_system(t);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z", d.year, d.month, d.day, d.hour, d.minute, d.second)
}

/// Creates the directory and sample pictures if it holds no picture file; returns the pictures.
/// Blocking.
pub(crate) fn load(root: &Path) -> std::io::Result<Store> {
    std::fs::create_dir_all(root)?;
    let mut store = scan(root)?;
    if store.pictures.is_empty() {
        camctl_core::media::write_sample_pictures(root, 3)?;
        store = scan(root)?;
    }
    Ok(store)
}

/// Scans the media directory (see the module docs for the mapping). Blocking.
pub(crate) fn scan(root: &Path) -> std::io::Result<Store> {
    let mut groups: BTreeMap<String, [Option<DiskFile>; 5]> = BTreeMap::new();
    walk(root, root, 0, &mut groups)?;
    let mut store = Store::default();
    let mut unnumbered = Vec::new();
    for (stem, files) in groups {
        let name = stem.rsplit('/').next().unwrap_or(&stem);
        let claimed = name
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case(FILE_PREFIX))
            .and_then(|_| name.get(4..))
            .filter(|d| d.len() == 4)
            .and_then(|d| d.parse::<u32>().ok())
            .filter(|n| (1..=MAX_PICTURES as u32).contains(n) && !store.pictures.contains_key(n));
        match claimed {
            Some(n) => {
                store.pictures.insert(n, picture(n, &stem, files));
            }
            None => unnumbered.push((stem, files)),
        }
    }
    let mut free =
        (1..=MAX_PICTURES as u32).filter(|n| !store.pictures.contains_key(n)).collect::<Vec<_>>().into_iter();
    for (stem, files) in unnumbered {
        match free.next() {
            Some(n) => {
                store.pictures.insert(n, picture(n, &stem, files));
            }
            None => {
                tracing::warn!(%stem, "more than {MAX_PICTURES} pictures; the rest are not served");
                break;
            }
        }
    }
    Ok(store)
}

fn picture(number: u32, stem: &str, files: [Option<DiskFile>; 5]) -> Picture {
    let first = files.iter().flatten().next();
    let sizes: u64 = files.iter().flatten().map(|f| f.size).sum();
    let seed = fnv(stem) ^ sizes.rotate_left(17);
    Picture {
        number,
        id: picture_id(seed),
        date: iso_date(first.map_or(SystemTime::UNIX_EPOCH, |f| f.mtime)),
        seed,
        files,
    }
}

fn walk(
    root: &Path,
    dir: &Path,
    depth: usize,
    groups: &mut BTreeMap<String, [Option<DiskFile>; 5]>,
) -> std::io::Result<()> {
    // Symlinks (to files or folders) are not listed: nothing outside the media folder is served.
    let mut entries = camctl_core::serve::list_dir_beneath(root, dir)?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    for e in entries {
        let name = e.name.to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = dir.join(&e.name);
        let meta = e.meta;
        if meta.is_dir() {
            if depth < MAX_DEPTH {
                walk(root, &path, depth + 1, groups)?;
            }
            continue;
        }
        let Some((stem, ext)) = name.rsplit_once('.') else { continue };
        let format = if ext.eq_ignore_ascii_case("jpeg") {
            Some(PictureFormat::Jpeg)
        } else {
            PictureFormat::from_extension(ext)
        };
        let Some(format) = format else { continue };
        if !meta.is_file() || meta.len() > MAX_FILE {
            continue;
        }
        let rel_dir = path
            .parent()
            .and_then(|p| p.strip_prefix(root).ok())
            .map(|p| p.to_path_buf())
            .unwrap_or_default();
        let key = rel_dir.join(stem).to_string_lossy().replace('\\', "/");
        let slot = &mut groups.entry(key).or_default()[format as usize];
        if slot.is_none() {
            *slot = Some(DiskFile {
                path,
                size: meta.len(),
                mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
    }
    Ok(())
}

/// Generated JPEGs and stacks, which are slow to encode, kept per (picture seed, format).
#[derive(Default)]
pub(crate) struct Cache {
    map: HashMap<(u64, PictureFormat), Arc<Vec<u8>>>,
}

const CACHE_ENTRIES: usize = 64;

impl Cache {
    pub(crate) fn get(&self, seed: u64, f: PictureFormat) -> Option<Arc<Vec<u8>>> {
        self.map.get(&(seed, f)).cloned()
    }

    pub(crate) fn put(&mut self, seed: u64, f: PictureFormat, data: Arc<Vec<u8>>) {
        if self.map.len() >= CACHE_ENTRIES {
            self.map.clear();
        }
        self.map.insert((seed, f), data);
    }
}

/// What a format of a picture is served from: its file, or generated bytes. Blocking (encodes JPEGs).
pub(crate) fn generate(p: &Picture, format: PictureFormat, serial: &str) -> Source {
    match format {
        PictureFormat::Jpeg => {
            Source::Bytes(Arc::new(camctl_core::media::sample_jpeg(JPEG_SIDE, JPEG_SIDE, p.seed)))
        }
        PictureFormat::Raw => Source::Raw(Arc::new(raw_tile(p.seed))),
        PictureFormat::Metadata => Source::Bytes(Arc::new(metadata(p, serial))),
        PictureFormat::Thumbnail => Source::Bytes(Arc::new(thumbnail(p.seed))),
        PictureFormat::Stack => {
            let frames: Vec<Vec<u8>> = (0..4)
                .map(|i| {
                    camctl_core::media::sample_jpeg(STACK_FRAME.0, STACK_FRAME.1, p.seed.wrapping_add(i + 1))
                })
                .collect();
            Source::Bytes(Arc::new(encode_stack(&frames)))
        }
    }
}

/// Whether generating `format` is slow enough to cache.
pub(crate) fn worth_caching(format: PictureFormat) -> bool {
    matches!(format, PictureFormat::Jpeg | PictureFormat::Stack)
}

/// 16 distinct sensor rows (12-bit packed big-endian, two pixels in three bytes): a smooth Bayer-like
/// gradient. The RAW repeats them in bands, so it costs memcpy speed to serve.
fn raw_tile(seed: u64) -> Vec<u8> {
    let mut tile = Vec::with_capacity(RAW_ROW * 16);
    let tint = (seed % 512) as u32;
    for row in 0..16u32 {
        for pair in 0..1640u32 {
            let base = 168 + (pair * 2 * 3000 / 3280) + row * 40 + tint;
            let p0 = base.min(4095);
            let p1 = (base * 3 / 4 + 100).min(4095);
            tile.push((p0 >> 4) as u8);
            tile.push((((p0 & 0xF) << 4) | (p1 >> 8)) as u8);
            tile.push((p1 & 0xFF) as u8);
        }
    }
    tile
}

/// Fills `out` with the synthetic RAW bytes from `offset`.
pub(crate) fn fill_raw(tile: &[u8], offset: u64, out: &mut [u8]) {
    let mut pos = offset as usize;
    let mut done = 0;
    while done < out.len() {
        let row = pos / RAW_ROW;
        let col = pos % RAW_ROW;
        // Bands of 205 rows share one tile row (3280 / 16).
        let src = &tile[(row / 205 % 16) * RAW_ROW..][col..RAW_ROW];
        let n = src.len().min(out.len() - done);
        out[done..done + n].copy_from_slice(&src[..n]);
        done += n;
        pos += n;
    }
}

/// 128x128 YUY2 (Y0 U Y1 V): a diagonal luma gradient with a seed-dependent tint.
fn thumbnail(seed: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(THUMBNAIL_LEN);
    let (u, v) = (96 + (seed % 64) as u8, 96 + (seed / 64 % 64) as u8);
    for y in 0..THUMBNAIL_SIDE {
        for x in (0..THUMBNAIL_SIDE).step_by(2) {
            let luma = |x: usize| (16 + (x + y) * 219 / (2 * THUMBNAIL_SIDE)) as u8;
            b.extend_from_slice(&[luma(x), u, luma(x + 1), v]);
        }
    }
    b
}

/// JSON metadata in the spirit of the camera's `.TXT` files (structure synthetic, values plausible).
fn metadata(p: &Picture, serial: &str) -> Vec<u8> {
    let name = format!("{FILE_PREFIX}{:04}", p.number);
    let doc = serde_json::json!({
        "generator": "camctl Lytro emulator (synthetic metadata)",
        "type": "lightField",
        "picture": {
            "id": p.id,
            "dateTime": p.date,
            "frameArray": [{ "frame": { "imageRef": format!("{name}.RAW"), "metadataRef": format!("{name}.TXT") } }],
        },
        "image": {
            "width": 3280,
            "height": 3280,
            "orientation": 1,
            "representation": "rawPacked",
            "rawDetails": {
                "pixelPacking": { "endianness": "big", "bitsPerPixel": 12 },
                "mosaic": { "tile": "r,gr:gb,b", "upperLeftPixel": "b" },
                "pixelFormat": { "black": { "r": 168, "gr": 168, "gb": 168, "b": 168 },
                                 "white": { "r": 4095, "gr": 4095, "gb": 4095, "b": 4095 } },
            },
        },
        "camera": { "make": "Lytro, Inc.", "model": "F01", "serialNumber": serial },
        "devices": { "lens": { "focalLength": 0.0064 + (p.seed % 100) as f64 * 1e-5 } },
    });
    serde_json::to_vec_pretty(&doc).unwrap_or_default()
}

/// Reads `out.len()` bytes of `file` at `offset`. Blocking.
pub(crate) fn read_file_at(file: &mut std::fs::File, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_groups_and_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("IMG_0007.JPG"), b"j").unwrap();
        std::fs::write(root.join("IMG_0007.raw"), b"r").unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/holiday.jpeg"), b"h").unwrap();
        std::fs::write(root.join("notes.md"), b"x").unwrap();
        std::fs::write(root.join(".hidden.jpg"), b"x").unwrap();
        let store = scan(root).unwrap();
        assert_eq!(store.pictures.keys().copied().collect::<Vec<_>>(), [1, 7]);
        let p7 = &store.pictures[&7];
        assert!(p7.file(PictureFormat::Jpeg).is_some() && p7.file(PictureFormat::Raw).is_some());
        assert!(p7.file(PictureFormat::Stack).is_none());
        assert!(p7.id.starts_with("sha1-") && p7.id.len() == 45);
        let (p, f) = store.by_path(r"i:\dcim\100photo\img_0007.raw").unwrap();
        assert_eq!((p.number, f), (7, PictureFormat::Raw));
        assert!(store.by_path(r"I:\DCIM\100PHOTO\IMG_0008.RAW").is_none());
        assert!(store.by_path(r"X:\DCIM\100PHOTO\IMG_0007.RAW").is_none());
        assert!(store.by_path("").is_none() && store.by_path(".JPG").is_none());
        assert_eq!(store.next_number(), Some(8));
        let list = PictureList::decode(&store.picture_list()).unwrap();
        assert_eq!(list.entries.len(), 2);
        assert_eq!(list.records.len(), 10);
    }

    #[test]
    fn raw_fill_is_consistent() {
        let tile = raw_tile(3);
        let mut whole = vec![0u8; 3 * RAW_ROW];
        fill_raw(&tile, 100, &mut whole);
        let mut part = vec![0u8; 2 * RAW_ROW];
        fill_raw(&tile, 100 + RAW_ROW as u64, &mut part);
        assert_eq!(&whole[RAW_ROW..], &part[..]);
        assert_eq!(thumbnail(1).len(), THUMBNAIL_LEN);
    }
}
