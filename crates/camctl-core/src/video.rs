//! Real H.264 video for emulators: embedded sample clips (360p to 2K, and a doorbell's portrait sizes), a
//! small Annex-B parser (NAL units, access units with their keyframe flag, the picture size and profile
//! of H.264 and H.265 SPSs), filler-data padding (constant-bitrate streams) and an MP4 muxer that loops
//! a clip to any duration.
//!
//! Cameras that record or stream must hand out something players accept; generating H.264 at run time
//! would need an encoder, so a short clip made once with ffmpeg (`scripts/make-sample-video`, see
//! `assets/README.md`) is embedded and repeated instead.
//!
//! ```
//! use camctl_core::video::{self, SAMPLE_360P};
//! let frames: Vec<_> = video::frames(SAMPLE_360P).collect();
//! assert_eq!(frames.len(), 30);
//! assert!(frames[0].keyframe);
//! let info = video::clip_info(SAMPLE_360P).unwrap();
//! assert_eq!((info.width, info.height), (640, 360));
//!
//! let mut mp4 = Vec::new();
//! video::write_mp4(&mut mp4, SAMPLE_360P, video::SAMPLE_FPS, std::time::Duration::from_secs(3)).unwrap();
//! assert_eq!(&mp4[4..8], b"ftyp");
//! ```

use std::io::{self, Write};
use std::time::Duration;

/// 640x360, 15 fps, 30 frames (2 s), Constrained Baseline, IDR every 15 frames, AUD before every frame,
/// SPS/PPS before every IDR.
pub const SAMPLE_360P: &[u8] = include_bytes!("../assets/sample-360p.h264");

/// 1920x1080, otherwise like [`SAMPLE_360P`].
pub const SAMPLE_1080P: &[u8] = include_bytes!("../assets/sample-1080p.h264");

/// 1280x720, otherwise like [`SAMPLE_360P`].
pub const SAMPLE_720P: &[u8] = include_bytes!("../assets/sample-720p.h264");

/// 2560x1440 ("2K"), otherwise like [`SAMPLE_360P`] (level 5.0).
pub const SAMPLE_2K: &[u8] = include_bytes!("../assets/sample-2k.h264");

/// 1296x1728 portrait (a video doorbell's HD), otherwise like [`SAMPLE_360P`] (level 5.0).
pub const SAMPLE_DOORBELL_HD: &[u8] = include_bytes!("../assets/sample-doorbell-hd.h264");

/// 480x640 portrait (a video doorbell's SD), otherwise like [`SAMPLE_360P`].
pub const SAMPLE_DOORBELL_SD: &[u8] = include_bytes!("../assets/sample-doorbell-sd.h264");

/// 640x480 (the original Yi's live-view size), otherwise like [`SAMPLE_360P`].
pub const SAMPLE_480P: &[u8] = include_bytes!("../assets/sample-480p.h264");

/// Every embedded clip of a Wyze frame size with its picture size (width, height), smallest area
/// first; each runs below the lowest Wyze bitrate, so that an emulator can pad it up. (The Yi's
/// 640x480 preview, [`SAMPLE_480P`], is not one of them.)
pub const SAMPLES: &[(&[u8], (u32, u32))] = &[
    (SAMPLE_DOORBELL_SD, (480, 640)),
    (SAMPLE_360P, (640, 360)),
    (SAMPLE_720P, (1280, 720)),
    (SAMPLE_1080P, (1920, 1080)),
    (SAMPLE_DOORBELL_HD, (1296, 1728)),
    (SAMPLE_2K, (2560, 1440)),
];

/// The embedded clip of exactly this picture size, if there is one.
///
/// ```
/// use camctl_core::video;
/// assert_eq!(video::sample_for_size(1280, 720), Some(video::SAMPLE_720P));
/// assert_eq!(video::sample_for_size(1280, 721), None);
/// ```
pub fn sample_for_size(width: u32, height: u32) -> Option<&'static [u8]> {
    SAMPLES.iter().find(|(_, size)| *size == (width, height)).map(|(clip, _)| *clip)
}

/// Frame rate all sample clips were encoded at.
pub const SAMPLE_FPS: u32 = 15;

/// NAL unit types (ITU-T H.264 table 7-1) that this module cares about.
pub mod nal_type {
    /// Coded slice of a non-IDR picture.
    pub const SLICE: u8 = 1;
    /// Coded slice of an IDR picture (a keyframe).
    pub const IDR: u8 = 5;
    /// Supplemental enhancement information.
    pub const SEI: u8 = 6;
    /// Sequence parameter set.
    pub const SPS: u8 = 7;
    /// Picture parameter set.
    pub const PPS: u8 = 8;
    /// Access unit delimiter.
    pub const AUD: u8 = 9;
    /// Filler data: padding a decoder discards (what constant-bitrate encoders insert).
    pub const FILLER: u8 = 12;
}

/// Bytes of the shortest filler-data NAL unit with its start code: `00 00 00 01`, header `0C`, and the
/// `80` of rbsp_trailing_bits.
pub const MIN_FILLER_LEN: usize = 6;

/// Appends one filler-data NAL unit (H.264 7.3.2.7: `0xFF` bytes, then rbsp_trailing_bits) with a 4-byte
/// start code, exactly `len` bytes long, and returns `len`; below [`MIN_FILLER_LEN`] nothing is appended
/// and 0 returned. Filler belongs after an access unit's pictures (7.4.1.2.3), so append it to a whole
/// access unit; decoders ignore it, which is how a constant-bitrate encoder pads a stream.
///
/// ```
/// use camctl_core::video;
/// let mut au = vec![0, 0, 0, 1, 0x09, 0xf0];
/// assert_eq!(video::append_filler(&mut au, 8), 8);
/// assert_eq!(&au[6..], [0, 0, 0, 1, 0x0c, 0xff, 0xff, 0x80]);
/// assert_eq!(video::strip_filler(&au), [0, 0, 0, 1, 0x09, 0xf0]);
/// assert_eq!(video::append_filler(&mut au, 5), 0);
/// ```
pub fn append_filler(out: &mut Vec<u8>, len: usize) -> usize {
    if len < MIN_FILLER_LEN {
        return 0;
    }
    out.reserve(len);
    out.extend_from_slice(&[0, 0, 0, 1, nal_type::FILLER]);
    // 0xFF never forms a start code, so no emulation prevention is needed.
    out.resize(out.len() + len - MIN_FILLER_LEN, 0xFF);
    out.push(0x80);
    len
}

/// The Annex-B stream without its filler-data NAL units, every unit behind a 4-byte start code (so an
/// access unit made by [`Frame::to_annexb`] and padded with [`append_filler`] comes back unchanged).
pub fn strip_filler(annexb: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(annexb.len());
    for nal in nal_units(annexb).filter(|n| n.nal_type() != nal_type::FILLER) {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal.0);
    }
    out
}

/// [`strip_filler`], but `None` unless every filler-data unit is intact as [`append_filler`] writes
/// it (0xFF bytes, then 0x80): how a receiver checks a padded frame arrived whole.
///
/// ```
/// use camctl_core::video;
/// let mut au = vec![0, 0, 0, 1, 0x09, 0xf0];
/// video::append_filler(&mut au, 8);
/// assert_eq!(video::strip_intact_filler(&au), Some(vec![0, 0, 0, 1, 0x09, 0xf0]));
/// au[11] = 0x7f; // a damaged filler byte
/// assert_eq!(video::strip_intact_filler(&au), None);
/// ```
pub fn strip_intact_filler(annexb: &[u8]) -> Option<Vec<u8>> {
    let intact = nal_units(annexb).filter(|n| n.nal_type() == nal_type::FILLER).all(|n| match n.0 {
        [_, ones @ .., 0x80] => ones.iter().all(|b| *b == 0xFF),
        _ => false,
    });
    intact.then(|| strip_filler(annexb))
}

/// Why a clip or parameter set could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VideoError {
    /// The NAL unit is not a sequence parameter set.
    #[error("not an SPS NAL unit")]
    NotSps,
    /// The SPS ended early or holds out-of-range values.
    #[error("malformed SPS: {0}")]
    BadSps(&'static str),
    /// The clip has no SPS, no PPS or no picture.
    #[error("clip unusable: {0}")]
    BadClip(&'static str),
}

impl From<VideoError> for io::Error {
    fn from(e: VideoError) -> Self {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

/// One NAL unit: header byte and payload, without start code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nal<'a>(pub &'a [u8]);

impl<'a> Nal<'a> {
    /// `nal_unit_type` (0 for an empty unit).
    pub fn nal_type(&self) -> u8 {
        self.0.first().map_or(0, |b| b & 0x1f)
    }

    /// Whether this unit carries picture data (slice types 1..=5).
    pub fn is_vcl(&self) -> bool {
        (1..=5).contains(&self.nal_type())
    }

    /// The bytes (header included).
    pub fn bytes(&self) -> &'a [u8] {
        self.0
    }
}

/// Iterator over the NAL units of an Annex-B byte stream; see [`nal_units`].
#[derive(Debug, Clone)]
pub struct NalUnits<'a> {
    rest: &'a [u8],
}

/// Position just after the next `00 00 01` start code at or after `from`, and where that code begins.
fn next_start_code(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i + 3 <= data.len() {
        // Skip quickly: a start code needs data[i+2] == 1 and two zeros before it.
        match data[i + 2] {
            1 if data[i] == 0 && data[i + 1] == 0 => return Some((i, i + 3)),
            0 => i += 1,
            _ => i += 3,
        }
    }
    None
}

impl<'a> Iterator for NalUnits<'a> {
    type Item = Nal<'a>;

    fn next(&mut self) -> Option<Nal<'a>> {
        loop {
            let (_, start) = next_start_code(self.rest, 0)?;
            let body = &self.rest[start..];
            let end = next_start_code(body, 0).map_or(body.len(), |(code, _)| code);
            self.rest = &body[end..];
            // Trailing zeros belong to the next (4-byte) start code or are trailing_zero_8bits.
            let mut nal = &body[..end];
            while let [head @ .., 0] = nal {
                nal = head;
            }
            if !nal.is_empty() {
                return Some(Nal(nal));
            }
        }
    }
}

/// The NAL units of an Annex-B stream (3- or 4-byte start codes; bytes before the first start code are
/// ignored). Never panics, whatever the input.
///
/// ```
/// let stream = [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3];
/// let types: Vec<u8> = camctl_core::video::nal_units(&stream).map(|n| n.nal_type()).collect();
/// assert_eq!(types, [7, 8]);
/// ```
pub fn nal_units(annexb: &[u8]) -> NalUnits<'_> {
    NalUnits { rest: annexb }
}

/// One access unit (a picture) with the non-VCL units that precede it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    /// NAL units in stream order (AUD, SPS, PPS, SEI, slices...).
    pub nals: Vec<Nal<'a>>,
    /// Whether the frame is an IDR picture (decodable on its own).
    pub keyframe: bool,
}

impl Frame<'_> {
    /// The frame as Annex-B (4-byte start codes), e.g. for a live stream.
    pub fn to_annexb(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.nals.iter().map(|n| n.0.len() + 4).sum());
        for nal in &self.nals {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(nal.0);
        }
        out
    }

    /// The frame as MP4 sample data: 4-byte big-endian length before each unit, parameter sets and
    /// delimiters left out (they live in the `avcC` box).
    pub fn to_avcc(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for nal in self
            .nals
            .iter()
            .filter(|n| !matches!(n.nal_type(), nal_type::SPS | nal_type::PPS | nal_type::AUD))
        {
            // A NAL unit longer than 4 GiB cannot be in a slice we hold in memory; saturate regardless.
            out.extend_from_slice(&u32::try_from(nal.0.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(nal.0);
        }
        out
    }
}

/// Iterator over the access units of an Annex-B stream; see [`frames`].
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    nals: std::iter::Peekable<NalUnits<'a>>,
}

impl<'a> Iterator for Frames<'a> {
    type Item = Frame<'a>;

    fn next(&mut self) -> Option<Frame<'a>> {
        let mut nals = Vec::new();
        let mut has_vcl = false;
        while let Some(nal) = self.nals.peek().copied() {
            if has_vcl && starts_access_unit(nal) {
                break;
            }
            self.nals.next();
            has_vcl |= nal.is_vcl();
            nals.push(nal);
        }
        // Trailing parameter sets without a picture are not a frame.
        if !has_vcl {
            return None;
        }
        let keyframe = nals.iter().any(|n| n.nal_type() == nal_type::IDR);
        Some(Frame { nals, keyframe })
    }
}

/// Whether `nal`, following a picture, begins the next access unit (H.264 7.4.1.2.3, simplified to what
/// single-slice-group streams need: a delimiter/parameter set/SEI, or a slice with `first_mb_in_slice == 0`).
fn starts_access_unit(nal: Nal<'_>) -> bool {
    match nal.nal_type() {
        nal_type::AUD | nal_type::SPS | nal_type::PPS | nal_type::SEI | 14..=18 => true,
        // ue(v) 0 is the single bit `1`: the first payload bit says first_mb_in_slice == 0.
        1..=5 => nal.0.get(1).is_some_and(|b| b & 0x80 != 0),
        _ => false,
    }
}

/// The access units (frames) of an Annex-B stream, each with its keyframe flag.
pub fn frames(annexb: &[u8]) -> Frames<'_> {
    Frames { nals: nal_units(annexb).peekable() }
}

/// What a sequence parameter set says about the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sps {
    /// `profile_idc` (66 baseline, 77 main, 100 high...).
    pub profile_idc: u8,
    /// The constraint flags byte.
    pub constraint_flags: u8,
    /// `level_idc` (e.g. 40 for level 4.0).
    pub level_idc: u8,
    /// Displayed width in pixels (cropping applied).
    pub width: u32,
    /// Displayed height in pixels (cropping applied).
    pub height: u32,
}

/// MSB-first bit reader over an RBSP (emulation prevention removed).
pub(crate) struct Bits<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) pos: usize,
}

impl Bits<'_> {
    pub(crate) fn bit(&mut self) -> Result<u32, VideoError> {
        let byte = self.data.get(self.pos / 8).ok_or(VideoError::BadSps("truncated"))?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(u32::from(bit))
    }

    pub(crate) fn bits(&mut self, n: u32) -> Result<u32, VideoError> {
        (0..n).try_fold(0u32, |acc, _| Ok((acc << 1) | self.bit()?))
    }

    /// Unsigned exp-Golomb, limited to 32-bit values.
    pub(crate) fn ue(&mut self) -> Result<u32, VideoError> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return Err(VideoError::BadSps("exp-Golomb code too long"));
            }
        }
        let rest = self.bits(zeros)?;
        Ok(((1u64 << zeros) - 1 + u64::from(rest)) as u32)
    }

    /// A cropping (H.264) or conformance (H.265) window: a flag, then the left, right, top and bottom
    /// offsets; zeros without the flag.
    pub(crate) fn window(&mut self) -> Result<(u64, u64, u64, u64), VideoError> {
        if self.bit()? == 0 {
            return Ok((0, 0, 0, 0));
        }
        Ok((self.ue()?.into(), self.ue()?.into(), self.ue()?.into(), self.ue()?.into()))
    }

    /// Signed exp-Golomb.
    fn se(&mut self) -> Result<i64, VideoError> {
        let k = i64::from(self.ue()?);
        Ok(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

/// The horizontal and vertical chroma subsampling factors of a `ChromaArrayType` (4:2:0, 4:2:2, else
/// none), the unit of cropping windows in H.264 and H.265.
pub(crate) fn chroma_subsampling(chroma_array_type: u32) -> (u64, u64) {
    match chroma_array_type {
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    }
}

/// Removes emulation prevention bytes (`00 00 03` -> `00 00`).
pub(crate) fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

fn skip_scaling_list(bits: &mut Bits<'_>, size: usize) -> Result<(), VideoError> {
    let (mut last, mut next) = (8i64, 8i64);
    for _ in 0..size {
        if next != 0 {
            next = (last + bits.se()? + 256).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

/// Parses an SPS NAL unit (header byte included) far enough to know the picture size. Total: any input
/// gives a value or a [`VideoError`].
///
/// ```
/// use camctl_core::video::{self, nal_type};
/// let sps = video::nal_units(video::SAMPLE_1080P).find(|n| n.nal_type() == nal_type::SPS).unwrap();
/// let sps = video::parse_sps(sps.bytes()).unwrap();
/// assert_eq!((sps.width, sps.height, sps.profile_idc), (1920, 1080, 66));
/// assert!(video::parse_sps(&[0x67, 0xff]).is_err());
/// ```
pub fn parse_sps(nal: &[u8]) -> Result<Sps, VideoError> {
    if Nal(nal).nal_type() != nal_type::SPS {
        return Err(VideoError::NotSps);
    }
    let rbsp = unescape(&nal[1..]);
    let mut b = Bits { data: &rbsp, pos: 0 };
    let profile_idc = b.bits(8)? as u8;
    let constraint_flags = b.bits(8)? as u8;
    let level_idc = b.bits(8)? as u8;
    b.ue()?; // seq_parameter_set_id
    let mut chroma_format_idc = 1;
    let mut separate_colour_plane = false;
    if matches!(profile_idc, 100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135) {
        chroma_format_idc = b.ue()?;
        if chroma_format_idc > 3 {
            return Err(VideoError::BadSps("chroma_format_idc"));
        }
        if chroma_format_idc == 3 {
            separate_colour_plane = b.bit()? == 1;
        }
        b.ue()?; // bit_depth_luma_minus8
        b.ue()?; // bit_depth_chroma_minus8
        b.bit()?; // qpprime_y_zero_transform_bypass_flag
        if b.bit()? == 1 {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if b.bit()? == 1 {
                    skip_scaling_list(&mut b, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    b.ue()?; // log2_max_frame_num_minus4
    match b.ue()? {
        0 => {
            b.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            b.bit()?;
            b.se()?;
            b.se()?;
            let cycle = b.ue()?;
            if cycle > 255 {
                return Err(VideoError::BadSps("num_ref_frames_in_pic_order_cnt_cycle"));
            }
            for _ in 0..cycle {
                b.se()?;
            }
        }
        2 => {}
        _ => return Err(VideoError::BadSps("pic_order_cnt_type")),
    }
    b.ue()?; // max_num_ref_frames
    b.bit()?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = u64::from(b.ue()?) + 1;
    let height_units = u64::from(b.ue()?) + 1;
    let frame_mbs_only = u64::from(b.bit()?);
    if frame_mbs_only == 0 {
        b.bit()?; // mb_adaptive_frame_field_flag
    }
    b.bit()?; // direct_8x8_inference_flag
    let (left, right, top, bottom) = b.window()?;
    // Crop units (H.264 7.4.2.1.1): chroma subsampling times field/frame factor.
    let chroma_array_type = if separate_colour_plane { 0 } else { chroma_format_idc };
    let (sub_w, sub_h) = chroma_subsampling(chroma_array_type);
    let crop_x = if chroma_array_type == 0 { 1 } else { sub_w };
    let crop_y = (2 - frame_mbs_only) * if chroma_array_type == 0 { 1 } else { sub_h };
    let full_w = width_mbs * 16;
    let full_h = (2 - frame_mbs_only) * height_units * 16;
    let width = full_w
        .checked_sub((left + right) * crop_x)
        .filter(|w| *w > 0)
        .and_then(|w| u32::try_from(w).ok())
        .ok_or(VideoError::BadSps("cropping wider than the picture"))?;
    let height = full_h
        .checked_sub((top + bottom) * crop_y)
        .filter(|h| *h > 0)
        .and_then(|h| u32::try_from(h).ok())
        .ok_or(VideoError::BadSps("cropping taller than the picture"))?;
    Ok(Sps { profile_idc, constraint_flags, level_idc, width, height })
}

/// NAL unit types (ITU-T H.265 table 7-1) that this crate looks at; read them with [`Nal::h265_type`].
pub mod h265_nal_type {
    /// Video parameter set.
    pub const VPS: u8 = 32;
    /// Sequence parameter set.
    pub const SPS: u8 = 33;
    /// Picture parameter set.
    pub const PPS: u8 = 34;
    /// Access unit delimiter.
    pub const AUD: u8 = 35;
    /// Filler data.
    pub const FILLER: u8 = 38;

    /// Whether a unit of this type is an IRAP picture (BLA, IDR, CRA: types 16..=23), which decodes on
    /// its own.
    pub fn is_irap(nal_type: u8) -> bool {
        (16..=23).contains(&nal_type)
    }

    /// Whether a unit of this type carries picture data (types 0..=31).
    pub fn is_vcl(nal_type: u8) -> bool {
        nal_type < 32
    }
}

impl Nal<'_> {
    /// The H.265 `nal_unit_type` (the six bits after the forbidden bit; 0xFF for an empty unit, which
    /// no table entry uses).
    ///
    /// ```
    /// use camctl_core::video::{Nal, h265_nal_type};
    /// assert_eq!(Nal(&[0x42, 0x01]).h265_type(), h265_nal_type::SPS);
    /// assert!(h265_nal_type::is_irap(Nal(&[0x26, 0x01]).h265_type())); // IDR_W_RADL
    /// ```
    pub fn h265_type(&self) -> u8 {
        self.0.first().map_or(0xFF, |b| (b >> 1) & 0x3F)
    }
}

/// What an H.265 sequence parameter set says about the picture and its profile, tier and level: what
/// an `hvcC` box and an RFC 6381 `codecs` string are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H265Sps {
    /// `general_profile_space` (0..=3; 0 for every profile published so far).
    pub general_profile_space: u8,
    /// `general_tier_flag`: High tier if set, Main tier otherwise.
    pub general_tier_flag: bool,
    /// `general_profile_idc` (1 Main, 2 Main 10, 3 Main Still Picture, 4 range extensions...).
    pub general_profile_idc: u8,
    /// The 32 `general_profile_compatibility_flag`s, flag 0 in the most significant bit.
    pub general_profile_compatibility_flags: u32,
    /// The 48 bits from `general_progressive_source_flag` on, the first in bit 47.
    pub general_constraint_indicator_flags: u64,
    /// `general_level_idc`: 30 times the level (93 for level 3.1).
    pub general_level_idc: u8,
    /// `chroma_format_idc` (0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4).
    pub chroma_format_idc: u8,
    /// Luma bit depth (8..=16).
    pub bit_depth_luma: u8,
    /// Chroma bit depth (8..=16).
    pub bit_depth_chroma: u8,
    /// Displayed width in pixels (conformance window applied).
    pub width: u32,
    /// Displayed height in pixels (conformance window applied).
    pub height: u32,
}

/// Parses an H.265 SPS NAL unit (2-byte header included) as far as the bit depths (H.265 7.3.2.2),
/// sub-layer profile and level entries skipped. Total: any input gives a value or a [`VideoError`].
///
/// ```
/// // x265's SPS of a 330x250 Main-profile clip, coded as 336x256 with a conformance window.
/// let sps = [
///     0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03,
///     0x00, 0x3c, 0xa0, 0x0a, 0x88, 0x04, 0x07, 0x24, 0x99, 0x65, 0x66, 0x92, 0x4c, 0xaf, 0x01, 0x68,
///     0x08, 0x00, 0x00, 0x03, 0x00, 0x08, 0x00, 0x00, 0x03, 0x00, 0x78, 0x40,
/// ];
/// let sps = camctl_core::video::parse_h265_sps(&sps).unwrap();
/// assert_eq!((sps.width, sps.height, sps.general_profile_idc, sps.general_level_idc), (330, 250, 1, 60));
/// assert!(camctl_core::video::parse_h265_sps(&[0x42, 0x01, 0xff]).is_err());
/// ```
pub fn parse_h265_sps(nal: &[u8]) -> Result<H265Sps, VideoError> {
    // The Matroska writer's parser reads the fields; this spells its profile_tier_level bytes out.
    let sps = crate::mkv::parse_hevc_sps(nal)?;
    let ptl = sps.profile_tier_level;
    let be = |bytes: &[u8]| bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    Ok(H265Sps {
        general_profile_space: ptl[0] >> 6,
        general_tier_flag: ptl[0] & 0x20 != 0,
        general_profile_idc: ptl[0] & 0x1F,
        general_profile_compatibility_flags: u32::from_be_bytes([ptl[1], ptl[2], ptl[3], ptl[4]]),
        general_constraint_indicator_flags: be(&ptl[5..11]),
        general_level_idc: ptl[11],
        chroma_format_idc: sps.chroma_format_idc,
        bit_depth_luma: sps.bit_depth_luma_minus8.saturating_add(8),
        bit_depth_chroma: sps.bit_depth_chroma_minus8.saturating_add(8),
        width: sps.width,
        height: sps.height,
    })
}

/// Summary of a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipInfo {
    /// Picture width from the first SPS.
    pub width: u32,
    /// Picture height from the first SPS.
    pub height: u32,
    /// Number of access units.
    pub frames: usize,
    /// How many of them are keyframes.
    pub keyframes: usize,
}

/// Size and frame counts of an Annex-B clip.
pub fn clip_info(annexb: &[u8]) -> Result<ClipInfo, VideoError> {
    let sps =
        nal_units(annexb).find(|n| n.nal_type() == nal_type::SPS).ok_or(VideoError::BadClip("no SPS"))?;
    let sps = parse_sps(sps.0)?;
    let (mut frames_n, mut keyframes) = (0, 0);
    for f in frames(annexb) {
        frames_n += 1;
        keyframes += usize::from(f.keyframe);
    }
    Ok(ClipInfo { width: sps.width, height: sps.height, frames: frames_n, keyframes })
}

/// The live-stream parameters of an H.264 clip: its first SPS and PPS, and the picture size the SPS
/// states (e.g. to stream an embedded sample as a camera would).
///
/// ```
/// let params = camctl_core::video::clip_params(camctl_core::video::SAMPLE_720P).unwrap();
/// assert_eq!((params.width, params.height, params.sps[0], params.pps[0]), (1280, 720, 0x67, 0x68));
/// assert!(camctl_core::video::clip_params(b"junk").is_err());
/// ```
pub fn clip_params(annexb: &[u8]) -> Result<crate::live::StreamParams, VideoError> {
    let first = |t| nal_units(annexb).find(|n| n.nal_type() == t).map(|n| n.0.to_vec());
    let sps = first(nal_type::SPS).ok_or(VideoError::BadClip("no SPS"))?;
    let pps = first(nal_type::PPS).ok_or(VideoError::BadClip("no PPS"))?;
    let info = parse_sps(&sps)?;
    Ok(crate::live::StreamParams {
        codec: crate::live::Codec::H264,
        width: info.width,
        height: info.height,
        vps: None,
        sps,
        pps,
    })
}

/// Longest MP4 [`write_mp4`] produces, in samples (a week at 15 fps): bounds the in-memory index.
const MAX_SAMPLES: u64 = 10_000_000;

/// Writes a complete MP4 (`ftyp`, `moov`, `mdat`; index first, so it plays while downloading) holding
/// `clip` repeated at `fps` frames per second until `duration` is reached (at least one frame). Returns the
/// number of bytes written.
///
/// The clip must be Annex-B H.264 without B-frames (decode order = display order) that contains an SPS and
/// a PPS; playback starts at its first keyframe and loops back to it. Errors: `InvalidInput` for an
/// unusable clip, zero `fps` or an absurd duration; otherwise the writer's errors.
///
/// ```
/// use std::time::Duration;
/// use camctl_core::video::{write_mp4, SAMPLE_360P};
/// let mut out = Vec::new();
/// let n = write_mp4(&mut out, SAMPLE_360P, 15, Duration::from_millis(500)).unwrap();
/// assert_eq!(n as usize, out.len());
/// assert!(write_mp4(&mut Vec::new(), b"not video", 15, Duration::from_secs(1)).is_err());
/// ```
pub fn write_mp4<W: Write + ?Sized>(
    out: &mut W,
    clip: &[u8],
    fps: u32,
    duration: Duration,
) -> io::Result<u64> {
    if fps == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "fps must be positive"));
    }
    let mut sps = None;
    let mut pps = None;
    for nal in nal_units(clip) {
        match nal.nal_type() {
            nal_type::SPS if sps.is_none() => sps = Some(nal.0),
            nal_type::PPS if pps.is_none() => pps = Some(nal.0),
            _ => {}
        }
    }
    let sps = sps.ok_or(VideoError::BadClip("no SPS"))?;
    let pps = pps.ok_or(VideoError::BadClip("no PPS"))?;
    let info = parse_sps(sps)?;
    if sps.len() < 4 || sps.len() > 0xFFFF || pps.len() > 0xFFFF {
        return Err(VideoError::BadClip("parameter set size").into());
    }
    let samples: Vec<(Vec<u8>, bool)> =
        frames(clip).skip_while(|f| !f.keyframe).map(|f| (f.to_avcc(), f.keyframe)).collect();
    if samples.is_empty() {
        return Err(VideoError::BadClip("no keyframe").into());
    }
    let wanted = (duration.as_secs_f64() * f64::from(fps)).round();
    let count = if wanted.is_finite() && wanted >= 1.0 { wanted as u64 } else { 1 };
    if count > MAX_SAMPLES {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "duration too long"));
    }
    let count = count as usize;
    let mut sizes = Vec::with_capacity(count);
    let mut sync = Vec::new();
    let mut mdat_len = 0u64;
    for i in 0..count {
        let (data, key) = &samples[i % samples.len()];
        let size = u32::try_from(data.len()).map_err(|_| VideoError::BadClip("frame too large"))?;
        sizes.push(size);
        mdat_len += u64::from(size);
        if *key {
            sync.push(i as u32 + 1);
        }
    }
    // 32-bit chunk offsets and box sizes while they fit; 64-bit (co64, largesize mdat) beyond.
    let large = mdat_len + 1024 + 8 * count as u64 > u64::from(u32::MAX);
    let duration_ms = (count as u64 * 1000).div_ceil(u64::from(fps));

    let mut ftyp = Vec::new();
    boxed(&mut ftyp, b"ftyp", |b| {
        b.extend_from_slice(b"isom");
        put32(b, 0x200);
        for brand in [b"isom", b"iso2", b"avc1", b"mp41"] {
            b.extend_from_slice(brand);
        }
    });
    let mut sample_entry = Vec::new();
    let avcc = crate::mkv::avc_configuration(sps, pps).ok_or(VideoError::BadClip("parameter set size"))?;
    visual_sample_entry(&mut sample_entry, b"avc1", info.width, info.height, b"avcC", &avcc);
    let track = VideoTrack {
        width: info.width,
        height: info.height,
        timescale: fps,
        duration: count as u32,
        duration_ms: clamp32(duration_ms),
        sample_entry: &sample_entry,
    };
    let mut moov = Vec::with_capacity(1024 + 8 * count);
    video_moov(
        &mut moov,
        &track,
        |b| {
            full_box(b, b"stts", 0, 0, |b| {
                put32(b, 1);
                put32(b, count as u32);
                put32(b, 1);
            });
            full_box(b, b"stss", 0, 0, |b| {
                put32(b, sync.len() as u32);
                sync.iter().for_each(|s| put32(b, *s));
            });
            full_box(b, b"stsc", 0, 0, |b| {
                put32(b, 1);
                put32(b, 1);
                put32(b, count as u32);
                put32(b, 1);
            });
            full_box(b, b"stsz", 0, 0, |b| {
                put32(b, 0);
                put32(b, count as u32);
                sizes.iter().for_each(|s| put32(b, *s));
            });
            // One chunk holding every sample; its offset is patched below (last bytes of moov).
            if large {
                full_box(b, b"co64", 0, 0, |b| {
                    put32(b, 1);
                    b.extend_from_slice(&[0; 8]);
                });
            } else {
                full_box(b, b"stco", 0, 0, |b| {
                    put32(b, 1);
                    put32(b, 0);
                });
            }
        },
        |_| {},
    );
    let mdat_header: Vec<u8> = if large {
        let mut h = 1u32.to_be_bytes().to_vec();
        h.extend_from_slice(b"mdat");
        h.extend_from_slice(&(mdat_len + 16).to_be_bytes());
        h
    } else {
        let mut h = ((mdat_len + 8) as u32).to_be_bytes().to_vec();
        h.extend_from_slice(b"mdat");
        h
    };
    let data_offset = (ftyp.len() + moov.len() + mdat_header.len()) as u64;
    let end = moov.len();
    if large {
        moov[end - 8..].copy_from_slice(&data_offset.to_be_bytes());
    } else {
        moov[end - 4..].copy_from_slice(&(data_offset as u32).to_be_bytes());
    }
    out.write_all(&ftyp)?;
    out.write_all(&moov)?;
    out.write_all(&mdat_header)?;
    for i in 0..count {
        out.write_all(&samples[i % samples.len()].0)?;
    }
    Ok(data_offset + mdat_len)
}

pub(crate) fn put32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn clamp32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Appends a box whose size is known once `body` has written it.
pub(crate) fn boxed(b: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let start = b.len();
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(kind);
    body(b);
    let size = clamp32(b.len().saturating_sub(start) as u64);
    b[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

pub(crate) fn full_box(
    b: &mut Vec<u8>,
    kind: &[u8; 4],
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut Vec<u8>),
) {
    boxed(b, kind, |b| {
        put32(b, (u32::from(version) << 24) | (flags & 0x00FF_FFFF));
        body(b);
    });
}

/// The identity transformation matrix of `mvhd`/`tkhd`.
fn matrix(b: &mut Vec<u8>) {
    for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        put32(b, v);
    }
}

/// Appends a visual sample entry (ISO 14496-12 12.1.3; `avc1`, `hvc1`...) holding one codec
/// configuration box (`avcC`, `hvcC`...).
pub(crate) fn visual_sample_entry(
    b: &mut Vec<u8>,
    kind: &[u8; 4],
    width: u32,
    height: u32,
    config_kind: &[u8; 4],
    config: &[u8],
) {
    boxed(b, kind, |b| {
        b.extend_from_slice(&[0; 6]);
        b.extend_from_slice(&1u16.to_be_bytes()); // data_reference_index
        b.extend_from_slice(&[0; 16]);
        b.extend_from_slice(&(width.min(0xFFFF) as u16).to_be_bytes());
        b.extend_from_slice(&(height.min(0xFFFF) as u16).to_be_bytes());
        put32(b, 0x0048_0000); // 72 dpi
        put32(b, 0x0048_0000);
        put32(b, 0);
        b.extend_from_slice(&1u16.to_be_bytes()); // frame_count
        let mut name = [0u8; 32];
        let label = b"camctl";
        name[0] = label.len() as u8;
        name[1..=label.len()].copy_from_slice(label);
        b.extend_from_slice(&name);
        b.extend_from_slice(&0x0018u16.to_be_bytes()); // depth
        b.extend_from_slice(&(-1i16).to_be_bytes());
        boxed(b, config_kind, |b| b.extend_from_slice(config));
    });
}

/// What the `moov` of a one-video-track file states about its track.
pub(crate) struct VideoTrack<'a> {
    /// Picture size for `tkhd`.
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// Units per second of the media (`mdhd`) and its duration in them (0 if fragmented).
    pub(crate) timescale: u32,
    pub(crate) duration: u32,
    /// Duration in milliseconds (`mvhd`, `tkhd`; movie timescale 1000).
    pub(crate) duration_ms: u32,
    /// A complete sample entry box (see [`visual_sample_entry`]).
    pub(crate) sample_entry: &'a [u8],
}

/// Appends a `moov` with one video track (track id 1): `sample_tables` writes what follows `stsd` in
/// `stbl`, `after_trak` what follows the track (`mvex` in a fragmented file).
pub(crate) fn video_moov(
    b: &mut Vec<u8>,
    track: &VideoTrack<'_>,
    sample_tables: impl FnOnce(&mut Vec<u8>),
    after_trak: impl FnOnce(&mut Vec<u8>),
) {
    boxed(b, b"moov", |b| {
        full_box(b, b"mvhd", 0, 0, |b| {
            put32(b, 0);
            put32(b, 0);
            put32(b, 1000);
            put32(b, track.duration_ms);
            put32(b, 0x0001_0000); // rate 1.0
            b.extend_from_slice(&0x0100u16.to_be_bytes()); // volume 1.0
            b.extend_from_slice(&[0; 10]);
            matrix(b);
            b.extend_from_slice(&[0; 24]);
            put32(b, 2); // next_track_ID
        });
        boxed(b, b"trak", |b| {
            full_box(b, b"tkhd", 0, 3, |b| {
                put32(b, 0);
                put32(b, 0);
                put32(b, 1); // track_ID
                put32(b, 0);
                put32(b, track.duration_ms);
                b.extend_from_slice(&[0; 8]);
                b.extend_from_slice(&[0; 8]); // layer, alternate_group, volume, reserved
                matrix(b);
                // 16.16 fixed point; sizes beyond 65535 pixels saturate.
                put32(b, track.width.min(0xFFFF) << 16);
                put32(b, track.height.min(0xFFFF) << 16);
            });
            boxed(b, b"mdia", |b| {
                full_box(b, b"mdhd", 0, 0, |b| {
                    put32(b, 0);
                    put32(b, 0);
                    put32(b, track.timescale);
                    put32(b, track.duration);
                    b.extend_from_slice(&0x55C4u16.to_be_bytes()); // language "und"
                    b.extend_from_slice(&[0; 2]);
                });
                full_box(b, b"hdlr", 0, 0, |b| {
                    put32(b, 0);
                    b.extend_from_slice(b"vide");
                    b.extend_from_slice(&[0; 12]);
                    b.extend_from_slice(b"VideoHandler\0");
                });
                boxed(b, b"minf", |b| {
                    full_box(b, b"vmhd", 0, 1, |b| b.extend_from_slice(&[0; 8]));
                    boxed(b, b"dinf", |b| {
                        full_box(b, b"dref", 0, 0, |b| {
                            put32(b, 1);
                            full_box(b, b"url ", 0, 1, |_| {});
                        });
                    });
                    boxed(b, b"stbl", |b| {
                        full_box(b, b"stsd", 0, 0, |b| {
                            put32(b, 1);
                            b.extend_from_slice(track.sample_entry);
                        });
                        sample_tables(b);
                    });
                });
            });
        });
        after_trak(b);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Top-level boxes of an MP4 as (type, size).
    fn top_boxes(data: &[u8]) -> Vec<([u8; 4], u64)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i + 8 <= data.len() {
            let mut size = u64::from(u32::from_be_bytes(data[i..i + 4].try_into().unwrap()));
            let kind: [u8; 4] = data[i + 4..i + 8].try_into().unwrap();
            if size == 1 {
                size = u64::from_be_bytes(data[i + 8..i + 16].try_into().unwrap());
            }
            out.push((kind, size));
            i += size as usize;
        }
        assert_eq!(i, data.len(), "boxes must tile the file");
        out
    }

    fn find_box<'a>(data: &'a [u8], kind: &[u8; 4]) -> &'a [u8] {
        let at = data.windows(4).position(|w| w == kind).unwrap() - 4;
        let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        &data[at..at + size]
    }

    #[test]
    fn sample_clips_have_the_documented_shape() {
        for &(clip, (w, h)) in SAMPLES {
            let info = clip_info(clip).unwrap();
            assert_eq!(info, ClipInfo { width: w, height: h, frames: 30, keyframes: 2 });
            let keys: Vec<usize> =
                frames(clip).enumerate().filter(|(_, f)| f.keyframe).map(|(i, _)| i).collect();
            assert_eq!(keys, [0, 15]);
            let first = frames(clip).next().unwrap();
            let types: Vec<u8> = first.nals.iter().map(Nal::nal_type).collect();
            assert_eq!(&types[..3], [nal_type::AUD, nal_type::SPS, nal_type::PPS]);
            assert!(first.to_annexb().starts_with(&[0, 0, 0, 1, 0x09]));
            // Below 30 KB/s (2K: 34 KB/s), so that emulators can pad up to the lowest Wyze bitrates.
            let limit = if (w, h) == (2560, 1440) { 68_000 } else { 60_000 };
            assert!(clip.len() < limit, "{w}x{h}: {} bytes", clip.len());
            let sps = nal_units(clip).find(|n| n.nal_type() == nal_type::SPS).unwrap();
            assert_eq!(parse_sps(sps.0).unwrap().profile_idc, 66, "{w}x{h}: Baseline");
        }
    }

    #[test]
    fn filler_pads_exactly_and_leaves_the_pictures_alone() {
        let frame = frames(SAMPLE_720P).nth(3).unwrap();
        let plain = frame.to_annexb();
        for pad in [0, 1, 5, 6, 7, 1000, 65_537] {
            let mut padded = plain.clone();
            let added = append_filler(&mut padded, pad);
            assert_eq!(added, if pad < MIN_FILLER_LEN { 0 } else { pad });
            assert_eq!(padded.len(), plain.len() + added);
            // Still one access unit, the filler inside it, and the same pictures once stripped.
            let again: Vec<Frame<'_>> = frames(&padded).collect();
            assert_eq!(again.len(), 1);
            assert_eq!(again[0].nals.len(), frame.nals.len() + usize::from(added > 0));
            assert_eq!(strip_filler(&padded), plain);
        }
    }

    #[test]
    fn nal_splitting_handles_both_start_codes_and_junk() {
        let s = [9, 9, 0, 0, 1, 0x65, 1, 0, 0, 0, 1, 0x41, 2, 0, 0, 1, 0, 0, 1, 0x06, 0, 0];
        let nals: Vec<&[u8]> = nal_units(&s).map(|n| n.0).collect();
        assert_eq!(nals, [&[0x65, 1][..], &[0x41, 2], &[0x06]]);
        assert_eq!(nal_units(&[]).count(), 0);
        assert_eq!(nal_units(&[0, 0, 1]).count(), 0);
        assert_eq!(frames(&[0, 0, 1, 0x67]).count(), 0);
    }

    #[test]
    fn sps_parser_is_total() {
        assert_eq!(parse_sps(&[0x68, 1, 2, 3]), Err(VideoError::NotSps));
        assert_eq!(parse_sps(&[]), Err(VideoError::NotSps));
        // Every truncation and a stream of pseudo-random mutations of a real SPS: never a panic.
        let sps = nal_units(SAMPLE_360P).find(|n| n.nal_type() == nal_type::SPS).unwrap().0.to_vec();
        for n in 0..sps.len() {
            let _ = parse_sps(&sps[..n]);
        }
        let mut x = 0x1234_5678_9abc_def1u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut m = sps.clone();
            let i = 1 + (x as usize) % (m.len() - 1);
            m[i] = (x >> 32) as u8;
            if x & 1 == 0 {
                m.truncate(1 + (x >> 40) as usize % m.len());
            }
            let _ = parse_sps(&m);
            let _ = frames(&m).count();
        }
        // High profile with an explicit scaling matrix flag set but lists absent: an error, not a panic.
        assert!(parse_sps(&[0x67, 100, 0, 40, 0xAC]).is_err());
    }

    #[test]
    fn mp4_structure_is_consistent() {
        let mut out = Vec::new();
        let n = write_mp4(&mut out, SAMPLE_360P, 15, Duration::from_secs(5)).unwrap();
        assert_eq!(n as usize, out.len());
        let boxes = top_boxes(&out);
        let kinds: Vec<&[u8; 4]> = boxes.iter().map(|(k, _)| k).collect();
        assert_eq!(kinds, [b"ftyp", b"moov", b"mdat"]);
        let stsz = find_box(&out, b"stsz");
        assert_eq!(u32::from_be_bytes(stsz[16..20].try_into().unwrap()), 75);
        let total: u64 =
            stsz[20..].chunks(4).map(|c| u64::from(u32::from_be_bytes(c.try_into().unwrap()))).sum();
        assert_eq!(total + 8, boxes[2].1);
        let stss = find_box(&out, b"stss");
        let syncs: Vec<u32> =
            stss[16..].chunks(4).map(|c| u32::from_be_bytes(c.try_into().unwrap())).collect();
        assert_eq!(syncs, [1, 16, 31, 46, 61]);
        let stco = find_box(&out, b"stco");
        let offset = u32::from_be_bytes(stco[16..20].try_into().unwrap()) as usize;
        assert_eq!(offset, out.len() - total as usize);
        // The first sample is the IDR picture as AVCC (SEI first, then the IDR slice).
        let first_len = u32::from_be_bytes(out[offset..offset + 4].try_into().unwrap()) as usize;
        assert!(first_len > 0 && offset + 4 + first_len < out.len());
        assert_eq!(
            write_mp4(&mut Vec::new(), SAMPLE_360P, 0, Duration::from_secs(1)).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert!(write_mp4(&mut Vec::new(), SAMPLE_360P, 15, Duration::MAX).is_err());
        let mut tiny = Vec::new();
        write_mp4(&mut tiny, SAMPLE_1080P, 30, Duration::ZERO).unwrap();
        assert_eq!(u32::from_be_bytes(find_box(&tiny, b"stsz")[16..20].try_into().unwrap()), 1);
    }

    /// Whether the CI rule says a missing external tool is a failure.
    fn ci() -> bool {
        std::env::var("CI").is_ok_and(|v| v == "true")
    }

    #[test]
    fn ffprobe_decodes_a_filler_padded_stream() {
        if std::process::Command::new("ffprobe").arg("-version").output().is_err() {
            assert!(!ci(), "ffprobe is required when CI=true");
            eprintln!("skipping: ffprobe not installed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("padded.h264");
        let mut stream = Vec::new();
        for frame in frames(SAMPLE_720P) {
            stream.extend_from_slice(&frame.to_annexb());
            append_filler(&mut stream, 4000);
        }
        std::fs::write(&path, &stream).unwrap();
        let out = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
            .args(["-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "csv=p=0"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stderr.trim().is_empty(), "ffprobe: {stderr}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "h264,1280,720,30");
    }

    #[test]
    fn ffprobe_accepts_the_mp4() {
        let probe = std::process::Command::new("ffprobe").arg("-version").output();
        if probe.is_err() {
            assert!(!ci(), "ffprobe is required when CI=true");
            eprintln!("skipping: ffprobe not installed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        for &(clip, (w, h)) in SAMPLES {
            let size = format!("{w},{h}");
            let path = dir.path().join("clip.mp4");
            let mut file = std::fs::File::create(&path).unwrap();
            write_mp4(&mut file, clip, 15, Duration::from_secs(3)).unwrap();
            drop(file);
            let out = std::process::Command::new("ffprobe")
                .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
                .args(["-show_entries", "stream=codec_name,width,height,nb_read_frames:format=duration"])
                .args(["-of", "csv=p=0"])
                .arg(&path)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && stderr.trim().is_empty(), "ffprobe: {stderr}");
            assert!(stdout.starts_with(&format!("h264,{size},45")), "{stdout}");
            assert!(stdout.contains("3.000"), "{stdout}");
        }
    }
}
