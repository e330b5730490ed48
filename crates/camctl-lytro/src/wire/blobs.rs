//! Payloads and downloaded blobs (§5): hardware info, camera time, picture list, calibration bundle,
//! focus stack and thumbnail.

use camctl_core::time::DateTime;

use super::{PictureRef, WireError, c_string, put_str};

/// Bytes before the data of a `C2 00 05` picture blob; \[LIB\] starts downloading at offset 4.
/// Their content is unknown.
pub const PICTURE_PREFIX_LEN: usize = 4;

/// Size of the header in front of the JPEGs of a focus stack (content unknown, §5.5).
pub const STACK_HEADER_LEN: usize = 0x1C;

/// Size of a RAW sensor file: 3280 x 3280 pixels, 12 bits each (\[DOC\] TheFileFormat).
pub const RAW_LEN: usize = 16_137_600;

/// Side of the square thumbnail.
pub const THUMBNAIL_SIDE: usize = 128;

/// Size of the 128x128 YUY2 thumbnail (2 bytes per pixel).
pub const THUMBNAIL_LEN: usize = THUMBNAIL_SIDE * THUMBNAIL_SIDE * 2;

/// Size of one picture-list entry on real cameras.
pub const PICTURE_ENTRY_LEN: usize = 128;

/// Largest entry length accepted from a picture-list header (real cameras use 128).
const MAX_ENTRY_LEN: u32 = 64 * 1024;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Camera time: 7 x u16 LE (year, month, day, hour, minute, second, millisecond), UTC (§5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CameraTime {
    /// Full year.
    pub year: u16,
    /// 1..=12.
    pub month: u16,
    /// 1..=31.
    pub day: u16,
    /// 0..=23.
    pub hour: u16,
    /// 0..=59.
    pub minute: u16,
    /// 0..=59.
    pub second: u16,
    /// 0..=999 (real cameras report 0).
    pub millisecond: u16,
}

impl CameraTime {
    /// Encoded size.
    pub const LEN: usize = 14;

    /// What a camera whose clock was never set reports: 2010-01-01T00:00:00Z.
    pub const UNSET: CameraTime =
        CameraTime { year: 2010, month: 1, day: 1, hour: 0, minute: 0, second: 0, millisecond: 0 };

    /// Decodes the 14 bytes (longer input is accepted, the rest ignored).
    ///
    /// ```
    /// use camctl_lytro::wire::CameraTime;
    /// let b = [0xDC, 0x07, 0x06, 0x00, 0x0D, 0x00, 0x0E, 0x00, 0x0C, 0x00, 0x37, 0x00, 0x00, 0x00];
    /// assert_eq!(CameraTime::decode(&b).unwrap().to_string(), "2012-06-13T14:12:55.000Z");
    /// ```
    pub fn decode(b: &[u8]) -> Result<CameraTime, WireError> {
        let b = b.get(..Self::LEN).ok_or(WireError::Truncated("camera time"))?;
        let f = |i: usize| u16::from_le_bytes([b[2 * i], b[2 * i + 1]]);
        Ok(CameraTime {
            year: f(0),
            month: f(1),
            day: f(2),
            hour: f(3),
            minute: f(4),
            second: f(5),
            millisecond: f(6),
        })
    }

    /// The 14 bytes.
    pub fn encode(&self) -> [u8; 14] {
        let mut b = [0u8; 14];
        for (i, v) in [self.year, self.month, self.day, self.hour, self.minute, self.second, self.millisecond]
            .iter()
            .enumerate()
        {
            b[2 * i..2 * i + 2].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// Whether the fields form a real calendar date and time (2024-02-31 does not).
    pub fn is_valid(&self) -> bool {
        let field = |v: u16| u8::try_from(v).ok();
        let civil = (|| {
            Some(DateTime {
                year: i32::from(self.year),
                month: field(self.month)?,
                day: field(self.day)?,
                hour: field(self.hour)?,
                minute: field(self.minute)?,
                second: field(self.second)?,
            })
        })();
        civil.is_some_and(|d| d.is_valid()) && self.millisecond < 1000
    }

    /// As a civil date-time (milliseconds dropped); `None` if the fields are out of range.
    pub fn to_datetime(&self) -> Option<DateTime> {
        if !self.is_valid() {
            return None;
        }
        Some(DateTime {
            year: i32::from(self.year),
            month: self.month as u8,
            day: self.day as u8,
            hour: self.hour as u8,
            minute: self.minute as u8,
            second: self.second as u8,
        })
    }

    /// From a civil date-time; `None` for years outside 0..=65535.
    pub fn from_datetime(d: DateTime) -> Option<CameraTime> {
        Some(CameraTime {
            year: u16::try_from(d.year).ok()?,
            month: u16::from(d.month),
            day: u16::from(d.day),
            hour: u16::from(d.hour),
            minute: u16::from(d.minute),
            second: u16::from(d.second),
            millisecond: 0,
        })
    }

    /// Parses `YYYY-MM-DD hh:mm:ss` or `YYYY-MM-DDThh:mm:ss[.sss][Z]` (UTC).
    ///
    /// ```
    /// use camctl_lytro::wire::CameraTime;
    /// let t = CameraTime::parse("2024-02-29 23:59:58").unwrap();
    /// assert_eq!((t.year, t.month, t.day, t.second), (2024, 2, 29, 58));
    /// assert_eq!(CameraTime::parse("2024-02-29T23:59:58.250Z").unwrap().millisecond, 250);
    /// assert!(CameraTime::parse("2024-13-01 00:00:00").is_none());
    /// ```
    pub fn parse(s: &str) -> Option<CameraTime> {
        // Total over any text: every field is ASCII digits only (no sign, no multibyte character can
        // reach the arithmetic), and the fraction is 1 to 9 digits of which the first 3 count.
        let digits = |p: &str, max_len: usize| {
            (!p.is_empty() && p.len() <= max_len && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<u16>().ok())
                .flatten()
        };
        let s = s.trim().strip_suffix('Z').unwrap_or(s.trim());
        let (date, time) = s.split_once(['T', ' '])?;
        let mut d = date.split('-').map(|p| digits(p, 4));
        let (year, month, day) = (d.next()??, d.next()??, d.next()??);
        let (hms, ms) = match time.split_once('.') {
            Some((hms, frac)) => {
                if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                // ASCII only from here, so byte slicing is on character boundaries.
                let (head, len) = (&frac[..frac.len().min(3)], frac.len().min(3));
                let scale = [100u16, 10, 1][len - 1];
                (hms, digits(head, 3)? * scale)
            }
            None => (time, 0),
        };
        let mut t = hms.split(':').map(|p| digits(p, 2));
        let (hour, minute, second) = (t.next()??, t.next()??, t.next()??);
        if d.next().is_some() || t.next().is_some() {
            return None;
        }
        let ct = CameraTime { year, month, day, hour, minute, second, millisecond: ms };
        ct.is_valid().then_some(ct)
    }
}

impl std::fmt::Display for CameraTime {
    /// ISO 8601 UTC, e.g. `2012-06-13T14:12:55.000Z`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millisecond
        )
    }
}

/// The hardware-info blob of `C2 00 00`, 644 bytes (§5.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HardwareInfo {
    /// Manufacturer (0x000, 256 bytes).
    pub manufacturer: String,
    /// Serial number, `A` + 9 digits (0x100, 128 bytes).
    pub serial: String,
    /// Build id (0x180, 128 bytes).
    pub build_id: String,
    /// Software (firmware) version (0x200, 128 bytes).
    pub firmware: String,
    /// Unknown u32 at 0x280.
    pub unknown: u32,
}

impl HardwareInfo {
    /// Encoded size.
    pub const LEN: usize = 0x284;

    /// Decodes at least 644 bytes (longer blobs are accepted).
    pub fn decode(b: &[u8]) -> Result<HardwareInfo, WireError> {
        if b.len() < Self::LEN {
            return Err(WireError::Truncated("hardware info"));
        }
        Ok(HardwareInfo {
            manufacturer: c_string(&b[0..0x100]),
            serial: c_string(&b[0x100..0x180]),
            build_id: c_string(&b[0x180..0x200]),
            firmware: c_string(&b[0x200..0x280]),
            unknown: u32_at(b, 0x280).unwrap_or(0),
        })
    }

    /// The 644 bytes; each string is cut to leave at least one NUL in its field.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; Self::LEN];
        put_str(&mut b[0..0xFF], &self.manufacturer);
        put_str(&mut b[0x100..0x17F], &self.serial);
        put_str(&mut b[0x180..0x1FF], &self.build_id);
        put_str(&mut b[0x200..0x27F], &self.firmware);
        b[0x280..0x284].copy_from_slice(&self.unknown.to_le_bytes());
        b
    }
}

/// One 128-byte picture-list entry (§5.4).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PictureEntry {
    /// Folder name postfix, e.g. `PHOTO`.
    pub folder_postfix: String,
    /// File name prefix, e.g. `IMG_`.
    pub file_prefix: String,
    /// Folder number, e.g. 100.
    pub folder_number: u32,
    /// File number.
    pub file_number: u32,
    /// Unknown u32s at 0x18..0x28.
    pub unknown: [u32; 4],
    /// Favourite flag (0x28).
    pub liked: bool,
    /// Focus the user last chose on the camera (0x2C).
    pub last_lambda: f32,
    /// Picture id, `sha1-` + 40 hex digits (0x30).
    pub id: String,
    /// Date taken, ISO 8601, e.g. `2012-06-13T14:12:55.000Z` (0x60).
    pub date: String,
    /// Unknown u32 at 0x78.
    pub unknown2: u32,
    /// EXIF-style rotation (0x7C): 1 = 0°, 8 = 90° CCW, 3 = 180°, 6 = 270° CCW.
    pub rotation: u32,
}

impl PictureEntry {
    /// Decodes one entry; needs the fields through the picture id (0x60 bytes). Date, 0x78 and the
    /// rotation are read when the entry is long enough, as \[LIB\] reads fixed offsets.
    pub fn decode(b: &[u8]) -> Result<PictureEntry, WireError> {
        if b.len() < 0x60 {
            return Err(WireError::Truncated("picture list entry"));
        }
        let u = |at| u32_at(b, at).unwrap_or(0);
        Ok(PictureEntry {
            folder_postfix: c_string(&b[0..8]),
            file_prefix: c_string(&b[8..16]),
            folder_number: u(0x10),
            file_number: u(0x14),
            unknown: [u(0x18), u(0x1C), u(0x20), u(0x24)],
            liked: u(0x28) == 1,
            last_lambda: f32::from_bits(u(0x2C)),
            id: c_string(&b[0x30..0x60]),
            date: b.get(0x60..0x78.min(b.len())).map(c_string).unwrap_or_default(),
            unknown2: u(0x78),
            rotation: u(0x7C),
        })
    }

    /// The 128 bytes.
    pub fn encode(&self) -> [u8; PICTURE_ENTRY_LEN] {
        let mut b = [0u8; PICTURE_ENTRY_LEN];
        put_str(&mut b[0..8], &self.folder_postfix);
        put_str(&mut b[8..16], &self.file_prefix);
        b[0x10..0x14].copy_from_slice(&self.folder_number.to_le_bytes());
        b[0x14..0x18].copy_from_slice(&self.file_number.to_le_bytes());
        for (i, u) in self.unknown.iter().enumerate() {
            b[0x18 + 4 * i..0x1C + 4 * i].copy_from_slice(&u.to_le_bytes());
        }
        b[0x28..0x2C].copy_from_slice(&u32::from(self.liked).to_le_bytes());
        b[0x2C..0x30].copy_from_slice(&self.last_lambda.to_bits().to_le_bytes());
        put_str(&mut b[0x30..0x5F], &self.id);
        put_str(&mut b[0x60..0x78], &self.date);
        b[0x78..0x7C].copy_from_slice(&self.unknown2.to_le_bytes());
        b[0x7C..0x80].copy_from_slice(&self.rotation.to_le_bytes());
        b
    }

    /// The camera path of one component file, `I:\DCIM\100PHOTO\IMG_0001.<ext>`.
    ///
    /// ```
    /// use camctl_lytro::wire::PictureEntry;
    /// let e = PictureEntry {
    ///     folder_postfix: "PHOTO".into(), file_prefix: "IMG_".into(),
    ///     folder_number: 100, file_number: 5, ..PictureEntry::default()
    /// };
    /// assert_eq!(e.camera_path("RAW"), r"I:\DCIM\100PHOTO\IMG_0005.RAW");
    /// assert_eq!(e.local_stem(), "DCIM/100PHOTO/IMG_0005");
    /// ```
    pub fn camera_path(&self, ext: &str) -> String {
        format!(
            "I:\\DCIM\\{:03}{}\\{}{:04}.{ext}",
            self.folder_number, self.folder_postfix, self.file_prefix, self.file_number
        )
    }

    /// `DCIM/<folder>/<file>` without extension, for local file names: camera-supplied text is reduced
    /// to `[A-Za-z0-9_-]` so it can never form a path of its own.
    pub fn local_stem(&self) -> String {
        let clean = |s: &str| {
            s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect::<String>()
        };
        format!(
            "DCIM/{:03}{}/{}{:04}",
            self.folder_number,
            clean(&self.folder_postfix),
            clean(&self.file_prefix),
            self.file_number
        )
    }

    /// The date taken, if it parses.
    pub fn taken(&self) -> Option<DateTime> {
        CameraTime::parse(&self.date)?.to_datetime()
    }

    /// The 24-byte descriptor `C0 00 05` (delete) takes.
    pub fn delete_descriptor(&self) -> [u8; 24] {
        self.picture_ref().encode()
    }

    /// Folder/file identification of this entry.
    pub fn picture_ref(&self) -> PictureRef {
        PictureRef {
            folder_postfix: self.folder_postfix.clone(),
            file_prefix: self.file_prefix.clone(),
            folder_number: self.folder_number,
            file_number: self.file_number,
        }
    }
}

/// The picture list of `C2 00 02` (§5.3).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PictureList {
    /// First u32 (1 on real hardware).
    pub version: u32,
    /// Entry length from the header (128 in practice).
    pub entry_len: u32,
    /// Record definitions (meaning unknown; \[LIB\] calls them index, offset).
    pub records: Vec<(u32, u32)>,
    /// The pictures.
    pub entries: Vec<PictureEntry>,
}

impl PictureList {
    /// Decodes a picture list. Entries run to the end of the blob; a trailing partial entry is ignored.
    pub fn decode(b: &[u8]) -> Result<PictureList, WireError> {
        let version = u32_at(b, 0).ok_or(WireError::Truncated("picture list header"))?;
        let entry_len = u32_at(b, 4).ok_or(WireError::Truncated("picture list header"))?;
        let n = u32_at(b, 8).ok_or(WireError::Truncated("picture list header"))?;
        if !(0x60..=MAX_ENTRY_LEN).contains(&entry_len) {
            return Err(WireError::Invalid("picture list entry length"));
        }
        // The record count is checked against the bytes present before anything is allocated.
        let records_end = (n as usize)
            .checked_mul(8)
            .and_then(|r| r.checked_add(12))
            .filter(|&end| end <= b.len())
            .ok_or(WireError::Truncated("picture list record definitions"))?;
        let records = b[12..records_end]
            .chunks_exact(8)
            .map(|r| (u32_at(r, 0).unwrap_or(0), u32_at(r, 4).unwrap_or(0)))
            .collect();
        let entries = b[records_end..]
            .chunks_exact(entry_len as usize)
            .map(PictureEntry::decode)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PictureList { version, entry_len, records, entries })
    }

    /// Encodes with 128-byte entries (the header's entry length is written as 128).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(12 + 8 * self.records.len() + PICTURE_ENTRY_LEN * self.entries.len());
        b.extend_from_slice(&self.version.to_le_bytes());
        b.extend_from_slice(&(PICTURE_ENTRY_LEN as u32).to_le_bytes());
        b.extend_from_slice(&(self.records.len() as u32).to_le_bytes());
        for (i, o) in &self.records {
            b.extend_from_slice(&i.to_le_bytes());
            b.extend_from_slice(&o.to_le_bytes());
        }
        for e in &self.entries {
            b.extend_from_slice(&e.encode());
        }
        b
    }
}

/// One file of the calibration bundle of `C2 00 06`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalibrationFile<'a> {
    /// Camera path, e.g. `C:\T1CALIB\MOD_0000.RAW`.
    pub path: String,
    /// File contents (borrowed from the bundle).
    pub data: &'a [u8],
}

/// Splits a calibration bundle (§5.6): K headers of `u32 length` + 32-byte path, then the K files.
///
/// K is implicit: headers are read while `header_end + Σ length < blob length`.
///
/// ```
/// use camctl_lytro::wire::{encode_calibration, parse_calibration};
/// let blob = encode_calibration(&[("C:\\T1CALIB\\A.TXT", b"hello"), ("C:\\T1CALIB\\B.RAW", b"xy")]);
/// let files = parse_calibration(&blob).unwrap();
/// assert_eq!(files[1].path, "C:\\T1CALIB\\B.RAW");
/// assert_eq!(files[0].data, b"hello");
/// ```
pub fn parse_calibration(b: &[u8]) -> Result<Vec<CalibrationFile<'_>>, WireError> {
    let mut headers = Vec::new();
    let mut pos = 0usize;
    let mut total = 0u64;
    while pos as u64 + total < b.len() as u64 {
        let h = b.get(pos..pos + 36).ok_or(WireError::Truncated("calibration header"))?;
        total += u64::from(u32_at(h, 0).unwrap_or(0));
        headers.push((u32_at(h, 0).unwrap_or(0) as usize, c_string(&h[4..36])));
        pos += 36;
    }
    if pos as u64 + total != b.len() as u64 {
        return Err(WireError::Truncated("calibration data"));
    }
    let mut files = Vec::with_capacity(headers.len());
    for (len, path) in headers {
        let data = b.get(pos..pos + len).ok_or(WireError::Truncated("calibration data"))?;
        files.push(CalibrationFile { path, data });
        pos += len;
    }
    Ok(files)
}

/// Builds a calibration bundle from (path, contents) pairs; paths are cut to 31 bytes.
pub fn encode_calibration(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (path, data) in files {
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        let mut name = [0u8; 32];
        put_str(&mut name[..31], path);
        b.extend_from_slice(&name);
    }
    for (_, data) in files {
        b.extend_from_slice(data);
    }
    b
}

/// Splits a focus stack (the bytes after the 4-byte picture prefix): a 0x1C-byte header, then
/// `u32 LE length` + JPEG, repeated to the end.
pub fn split_stack(b: &[u8]) -> Result<Vec<&[u8]>, WireError> {
    let mut pos = STACK_HEADER_LEN;
    if b.len() < pos {
        return Err(WireError::Truncated("stack header"));
    }
    let mut out = Vec::new();
    while pos < b.len() {
        let len = u32_at(b, pos).ok_or(WireError::Truncated("stack frame length"))? as usize;
        pos += 4;
        let frame = b.get(pos..pos.saturating_add(len)).ok_or(WireError::Truncated("stack frame"))?;
        out.push(frame);
        pos += len;
    }
    Ok(out)
}

/// Builds a focus stack: a zero header (its content is unknown) then length-prefixed JPEGs.
pub fn encode_stack(jpegs: &[Vec<u8>]) -> Vec<u8> {
    let mut b = vec![0u8; STACK_HEADER_LEN];
    for j in jpegs {
        b.extend_from_slice(&(j.len() as u32).to_le_bytes());
        b.extend_from_slice(j);
    }
    b
}

/// Converts the 128x128 YUY2 thumbnail (Y0 U Y1 V, BT.601) to packed RGB (49152 bytes).
pub fn thumbnail_to_rgb(b: &[u8]) -> Result<Vec<u8>, WireError> {
    let b = b.get(..THUMBNAIL_LEN).ok_or(WireError::Truncated("thumbnail"))?;
    let mut out = Vec::with_capacity(THUMBNAIL_SIDE * THUMBNAIL_SIDE * 3);
    for q in b.chunks_exact(4) {
        let (u, v) = (f32::from(q[1]) - 128.0, f32::from(q[3]) - 128.0);
        for y in [q[0], q[2]] {
            let y = f32::from(y);
            for c in [y + 1.402 * v, y - 0.344 * u - 0.714 * v, y + 1.772 * u] {
                out.push(c.clamp(0.0, 255.0) as u8);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_parse_is_total_over_odd_fractions_and_fields() {
        // Every string of up to 3 characters from an alphabet of digits, separators, multibyte and
        // full-width characters, after the fraction dot and in place of the seconds: no panic, and
        // whatever parses is a real time whose fraction came from ASCII digits only.
        let alphabet = ["0", "9", ".", "é", "Z", " ", "+", "-", "\u{ff11}", "\u{1F600}", "T", ":"];
        let mut tails = vec![String::new()];
        for _ in 0..3 {
            let longer: Vec<String> =
                tails.iter().flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}"))).collect();
            tails.extend(longer);
        }
        tails.sort();
        tails.dedup();
        for tail in &tails {
            for s in [
                format!("2024-01-02T03:04:05.{tail}"),
                format!("2024-01-02T03:04:{tail}"),
                format!("2024-01-{tail}T03:04:05"),
                tail.clone(),
            ] {
                if let Some(t) = CameraTime::parse(&s) {
                    assert!(t.is_valid(), "{s:?} -> {t:?}");
                    assert!(s.is_ascii(), "{s:?} parsed with non-ASCII");
                }
            }
        }
        assert_eq!(CameraTime::parse("2024-01-02T03:04:05.7").unwrap().millisecond, 700);
        assert_eq!(CameraTime::parse("2024-01-02T03:04:05.123456Z").unwrap().millisecond, 123);
        for bad in
            ["2024-01-02T03:04:05.é", "2024-01-02T03:04:05.", "2024-01-02T03:04:05.+1", "2024-02-30 00:00:00"]
        {
            assert_eq!(CameraTime::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn golden_camera_time() {
        let t =
            CameraTime { year: 2012, month: 6, day: 13, hour: 14, minute: 12, second: 55, millisecond: 0 };
        assert_eq!(
            t.encode(),
            [0xDC, 0x07, 0x06, 0x00, 0x0D, 0x00, 0x0E, 0x00, 0x0C, 0x00, 0x37, 0x00, 0x00, 0x00]
        );
        assert_eq!(CameraTime::decode(&t.encode()).unwrap(), t);
        assert_eq!(CameraTime::decode(&[0; 13]), Err(WireError::Truncated("camera time")));
        assert_eq!(CameraTime::parse(&t.to_string()), Some(t));
        assert_eq!(CameraTime::UNSET.to_string(), "2010-01-01T00:00:00.000Z");
    }

    #[test]
    fn hardware_info_layout() {
        let hi = HardwareInfo {
            manufacturer: "Lytro".into(),
            serial: "A123456789".into(),
            build_id: "208".into(),
            firmware: "v1.2.2".into(),
            unknown: 7,
        };
        let b = hi.encode();
        assert_eq!(b.len(), 644);
        assert_eq!(&b[0x100..0x10B], b"A123456789\0");
        assert_eq!(&b[0x200..0x206], b"v1.2.2");
        assert_eq!(HardwareInfo::decode(&b).unwrap(), hi);
        assert!(HardwareInfo::decode(&b[..643]).is_err());
        let long = HardwareInfo { serial: "x".repeat(500), ..hi };
        assert_eq!(HardwareInfo::decode(&long.encode()).unwrap().serial.len(), 127);
    }

    #[test]
    fn picture_list_round_trip_and_layout() {
        let e = PictureEntry {
            folder_postfix: "PHOTO".into(),
            file_prefix: "IMG_".into(),
            folder_number: 100,
            file_number: 1,
            liked: true,
            last_lambda: 1.5,
            id: format!("sha1-{}", "ab".repeat(20)),
            date: "2012-06-13T14:12:55.000Z".into(),
            rotation: 1,
            ..PictureEntry::default()
        };
        let list = PictureList {
            version: 1,
            entry_len: 128,
            records: vec![(0, 0); 10],
            entries: vec![e.clone(); 2],
        };
        let b = list.encode();
        assert_eq!(b.len(), 92 + 256);
        assert_eq!(&b[..12], &[1, 0, 0, 0, 128, 0, 0, 0, 10, 0, 0, 0]);
        let first = &b[92..220];
        assert_eq!(&first[0x10..0x18], &[100, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(&first[0x30..0x35], b"sha1-");
        assert_eq!(&first[0x7C..0x80], &[1, 0, 0, 0]);
        assert_eq!(PictureList::decode(&b).unwrap(), list);
        assert_eq!(e.taken().unwrap().to_string(), "2012-06-13 14:12:55");
        // Huge record count: rejected without allocating.
        let mut bad = b.clone();
        bad[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(PictureList::decode(&bad).is_err());
        bad[8..12].copy_from_slice(&10u32.to_le_bytes());
        bad[4..8].copy_from_slice(&0u32.to_le_bytes());
        assert!(PictureList::decode(&bad).is_err());
        // Trailing partial entry ignored.
        assert_eq!(PictureList::decode(&b[..b.len() - 1]).unwrap().entries.len(), 1);
    }

    #[test]
    fn calibration_and_stack() {
        assert!(parse_calibration(&[]).unwrap().is_empty());
        let blob = encode_calibration(&[("A", b"12345"), ("B", b"")]);
        assert_eq!(parse_calibration(&blob).unwrap()[1].data, b"");
        let blob = encode_calibration(&[("A", b"12345"), ("B", b"6")]);
        let files = parse_calibration(&blob).unwrap();
        assert_eq!(files.len(), 2);
        assert!(parse_calibration(&blob[..blob.len() - 1]).is_err());
        let stack = encode_stack(&[vec![1, 2, 3], vec![4]]);
        assert_eq!(split_stack(&stack).unwrap(), vec![&[1u8, 2, 3][..], &[4u8][..]]);
        assert!(split_stack(&stack[..stack.len() - 1]).is_err());
        assert!(split_stack(&[0; 3]).is_err());
        assert_eq!(thumbnail_to_rgb(&vec![128; THUMBNAIL_LEN]).unwrap().len(), 128 * 128 * 3);
    }
}
