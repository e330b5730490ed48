//! Fragmented MP4 for live video in browsers (Media Source Extensions, or a plain `<video>` reading an
//! endless `video/mp4` response): one initialization segment (`ftyp` + `moov` with the decoder
//! configuration), then a `moof` + `mdat` fragment per access unit, and the RFC 6381 `codecs` string
//! `MediaSource.isTypeSupported` wants.
//!
//! Hand-written, like the Matroska writer ([`crate::mkv`]): `mp4-atom` is a general box model whose API
//! changes every few weeks (0.2 to 0.16 in a year) and leaves the codec records and sample-flag details
//! to the caller, and `muxide` writes recordings, not one fragment per frame to a live pipe; the
//! boxes a live fragment needs are few, and the `avcC`/`hvcC` records and the `moov` of
//! [`crate::video::write_mp4`] are already here.
//!
//! Samples are written without composition offsets: decode order is display order (no B-frames), which
//! is what cameras stream live.
//!
//! ```
//! use camctl_core::{fmp4, live, video};
//! let params = video::clip_params(video::SAMPLE_360P).unwrap();
//! assert_eq!(fmp4::codecs_string(&params).unwrap(), "avc1.42C028");
//! let mut stream = fmp4::init_segment(&params).unwrap();
//! let mut fragmenter = fmp4::Fragmenter::new();
//! for (i, au) in video::frames(video::SAMPLE_360P).enumerate() {
//!     let frame = live::Frame {
//!         codec: live::Codec::H264, data: au.to_annexb(), keyframe: au.keyframe,
//!         pts: i as u64 * 6000, captured: std::time::SystemTime::now(),
//!     };
//!     stream.extend(fragmenter.fragment(&frame, 6000).unwrap());
//! }
//! assert_eq!(&stream[4..8], b"ftyp");
//! ```

use crate::live::{Codec, Frame, StreamParams};
use crate::video::{
    self, Nal, VideoError, VideoTrack, boxed, full_box, h265_nal_type, nal_type, put32, video_moov,
    visual_sample_entry,
};

/// Media timescale of every track written here: the 90 kHz clock of [`Frame::pts`].
pub const TIMESCALE: u32 = 90_000;

/// `trun` sample flags (ISO 14496-12 8.8.3.1): a sync sample depends on no other
/// (`sample_depends_on` 2)...
const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;
/// ...any other depends on earlier ones (`sample_depends_on` 1) and is a non-sync sample.
const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0101_0000;

/// `tfhd` flag: data offsets count from the start of the `moof` (what MSE requires).
const DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;

/// `trun` flags: data offset, then per sample its duration, size and flags.
const TRUN_FLAGS: u32 = 0x0001 | 0x0100 | 0x0200 | 0x0400;

/// Why a stream or frame cannot be put in MP4 fragments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fmp4Error {
    /// JPEG live view is not carried in MP4 here (serve it as MJPEG).
    #[error("{0:?} is not carried in fragmented MP4")]
    Unsupported(Codec),
    /// The parameter sets are missing, do not parse or are too long for the configuration record.
    #[error("unusable parameter sets: {0}")]
    BadParameterSets(&'static str),
    /// The SPS does not parse.
    #[error(transparent)]
    Sps(#[from] VideoError),
    /// The frame holds no picture data (only parameter sets, delimiters, SEI, or no NAL unit at all).
    #[error("the frame holds no picture")]
    NoPicture,
    /// A fragmented stream must start with a sync sample: skip frames until a keyframe.
    #[error("waiting for a keyframe to start the stream")]
    NeedKeyframe,
    /// The access unit does not fit the 32-bit sizes of a fragment.
    #[error("the frame is too large for an MP4 fragment")]
    TooLarge,
}

/// The RFC 6381 `codecs` parameter of the stream: `avc1.PPCCLL` (profile, constraint flags and level
/// of the SPS, in hexadecimal) or `hvc1.P.C.TL.Bxx` (ISO 14496-15 Annex E: profile space and profile,
/// compatibility flags bit-reversed, tier and level, then the constraint bytes up to the last non-zero
/// one), e.g. `video/mp4; codecs="avc1.42E01E"`.
pub fn codecs_string(params: &StreamParams) -> Result<String, Fmp4Error> {
    match params.codec {
        Codec::H264 => {
            let sps = &params.sps;
            if Nal(sps).nal_type() != nal_type::SPS {
                return Err(VideoError::NotSps.into());
            }
            let [_, profile, constraints, level, ..] = sps[..] else {
                return Err(VideoError::BadSps("truncated").into());
            };
            Ok(format!("avc1.{profile:02X}{constraints:02X}{level:02X}"))
        }
        Codec::H265 => {
            let sps = video::parse_h265_sps(&params.sps)?;
            let space = ["", "A", "B", "C"][usize::from(sps.general_profile_space & 3)];
            let tier = if sps.general_tier_flag { 'H' } else { 'L' };
            let mut out = format!(
                "hvc1.{space}{}.{:X}.{tier}{}",
                sps.general_profile_idc,
                sps.general_profile_compatibility_flags.reverse_bits(),
                sps.general_level_idc,
            );
            let constraint_bytes = &sps.general_constraint_indicator_flags.to_be_bytes()[2..];
            let used = constraint_bytes.iter().rposition(|b| *b != 0).map_or(0, |last| last + 1);
            for byte in &constraint_bytes[..used] {
                out.push_str(&format!(".{byte:02X}"));
            }
            Ok(out)
        }
        Codec::Jpeg => Err(Fmp4Error::Unsupported(Codec::Jpeg)),
    }
}

/// The initialization segment of a stream: `ftyp` (brands `iso5`, which default-base-is-moof needs,
/// `iso6`, `mp41`) and a `moov` with one video track (id 1, timescale [`TIMESCALE`]) whose sample
/// entry is `avc1` + `avcC` or `hvc1` + `hvcC` (parameter sets out of band, so samples carry none), empty
/// sample tables and `mvex`/`trex`. The picture size is the SPS's.
pub fn init_segment(params: &StreamParams) -> Result<Vec<u8>, Fmp4Error> {
    let too_long = |nal: &[u8]| u16::try_from(nal.len()).is_err();
    if too_long(&params.sps) || too_long(&params.pps) || params.vps.as_deref().is_some_and(too_long) {
        return Err(Fmp4Error::BadParameterSets("a parameter set is longer than 64 KiB"));
    }
    if params.pps.is_empty() {
        return Err(Fmp4Error::BadParameterSets("no PPS"));
    }
    let mut sample_entry = Vec::new();
    let (width, height) = match params.codec {
        Codec::H264 => {
            let sps = video::parse_sps(&params.sps)?;
            let avcc = crate::mkv::avc_configuration(&params.sps, &params.pps)
                .ok_or(Fmp4Error::BadParameterSets("SPS too short"))?;
            visual_sample_entry(&mut sample_entry, b"avc1", sps.width, sps.height, b"avcC", &avcc);
            (sps.width, sps.height)
        }
        Codec::H265 => {
            let vps = params.vps.as_deref().filter(|v| !v.is_empty());
            let vps = vps.ok_or(Fmp4Error::BadParameterSets("no VPS"))?;
            let sps = crate::mkv::parse_hevc_sps(&params.sps)?;
            let hvcc = crate::mkv::hevc_configuration(&sps, vps, &params.sps, &params.pps);
            visual_sample_entry(&mut sample_entry, b"hvc1", sps.width, sps.height, b"hvcC", &hvcc);
            (sps.width, sps.height)
        }
        Codec::Jpeg => return Err(Fmp4Error::Unsupported(Codec::Jpeg)),
    };
    let mut out = Vec::with_capacity(1024);
    boxed(&mut out, b"ftyp", |b| {
        b.extend_from_slice(b"iso5");
        put32(b, 0x200);
        for brand in [b"iso5", b"iso6", b"mp41"] {
            b.extend_from_slice(brand);
        }
    });
    let track = VideoTrack {
        width,
        height,
        timescale: TIMESCALE,
        duration: 0,
        duration_ms: 0,
        sample_entry: &sample_entry,
    };
    video_moov(
        &mut out,
        &track,
        |b| {
            // Empty tables: every sample is in the fragments.
            full_box(b, b"stts", 0, 0, |b| put32(b, 0));
            full_box(b, b"stsc", 0, 0, |b| put32(b, 0));
            full_box(b, b"stsz", 0, 0, |b| {
                put32(b, 0);
                put32(b, 0);
            });
            full_box(b, b"stco", 0, 0, |b| put32(b, 0));
        },
        |b| {
            boxed(b, b"mvex", |b| {
                full_box(b, b"trex", 0, 0, |b| {
                    put32(b, 1); // track_ID
                    put32(b, 1); // default_sample_description_index
                    put32(b, 0); // default duration, size and flags: every trun states its own
                    put32(b, 0);
                    put32(b, 0);
                });
            });
        },
    );
    Ok(out)
}

/// Turns live frames into MP4 fragments (`moof` + `mdat`, one sample each) that follow an
/// [`init_segment`]. One fragmenter per viewer: it numbers the fragments and keeps decode times
/// increasing.
#[derive(Debug, Clone, Default)]
pub struct Fragmenter {
    /// `mfhd` sequence number of the last fragment (the first is 1).
    sequence: u32,
    /// The pts of the first fragment: decode times count from it.
    first_pts: Option<u64>,
    /// The smallest decode time the next fragment may have (one tick after the last one's).
    next_min_decode_time: u64,
}

impl Fragmenter {
    /// A fragmenter for a new stream; its first fragment must be a keyframe.
    pub fn new() -> Fragmenter {
        Fragmenter::default()
    }

    /// How many fragments were written.
    pub fn fragments(&self) -> u32 {
        self.sequence
    }

    /// The fragment of one frame lasting `duration_ticks` (90 kHz; e.g. the interval since the previous
    /// frame, or 90000 / fps). Its decode time (`tfdt`) is the frame's pts counted from the first
    /// fragment's, kept increasing should the pts step back. The sample is the access unit with 4-byte
    /// lengths instead of start codes, without parameter sets, delimiters and filler data; it is a sync
    /// sample if it holds an IDR (H.264) or IRAP (H.265) picture.
    ///
    /// Errors: [`Fmp4Error::NeedKeyframe`] for frames before the first keyframe (skip them),
    /// [`Fmp4Error::NoPicture`], [`Fmp4Error::Unsupported`] for JPEG, [`Fmp4Error::TooLarge`]. A refused
    /// frame changes nothing.
    pub fn fragment(&mut self, frame: &Frame, duration_ticks: u32) -> Result<Vec<u8>, Fmp4Error> {
        let h265 = match frame.codec {
            Codec::H264 => false,
            Codec::H265 => true,
            Codec::Jpeg => return Err(Fmp4Error::Unsupported(Codec::Jpeg)),
        };
        let (mut has_picture, mut sync) = (false, false);
        let kept: Vec<&[u8]> = video::nal_units(&frame.data)
            .filter(|nal| {
                let (out_of_band, vcl, random_access) = if h265 {
                    let t = nal.h265_type();
                    let out = matches!(
                        t,
                        h265_nal_type::VPS
                            | h265_nal_type::SPS
                            | h265_nal_type::PPS
                            | h265_nal_type::AUD
                            | h265_nal_type::FILLER
                    );
                    (out, h265_nal_type::is_vcl(t), h265_nal_type::is_irap(t))
                } else {
                    let t = nal.nal_type();
                    let out = matches!(t, nal_type::SPS | nal_type::PPS | nal_type::AUD | nal_type::FILLER);
                    (out, nal.is_vcl(), t == nal_type::IDR)
                };
                has_picture |= vcl;
                sync |= random_access;
                !out_of_band
            })
            .map(|nal| nal.bytes())
            .collect();
        if !has_picture {
            return Err(Fmp4Error::NoPicture);
        }
        let first_pts = match self.first_pts {
            Some(pts) => pts,
            None if sync => frame.pts,
            None => return Err(Fmp4Error::NeedKeyframe),
        };
        let sample = crate::mkv::length_prefixed(kept);
        let sample_size = u32::try_from(sample.len()).map_err(|_| Fmp4Error::TooLarge)?;
        let mdat_size = sample_size.checked_add(8).ok_or(Fmp4Error::TooLarge)?;
        let decode_time = frame.pts.saturating_sub(first_pts).max(self.next_min_decode_time);
        let sequence = self.sequence.saturating_add(1);

        let mut out = Vec::with_capacity(sample.len().saturating_add(128));
        let mut data_offset_at = 0;
        boxed(&mut out, b"moof", |b| {
            full_box(b, b"mfhd", 0, 0, |b| put32(b, sequence));
            boxed(b, b"traf", |b| {
                full_box(b, b"tfhd", 0, DEFAULT_BASE_IS_MOOF, |b| put32(b, 1));
                full_box(b, b"tfdt", 1, 0, |b| b.extend_from_slice(&decode_time.to_be_bytes()));
                full_box(b, b"trun", 0, TRUN_FLAGS, |b| {
                    put32(b, 1); // sample_count
                    data_offset_at = b.len();
                    put32(b, 0); // data_offset, patched once the moof size is known
                    put32(b, duration_ticks);
                    put32(b, sample_size);
                    put32(b, if sync { SYNC_SAMPLE_FLAGS } else { NON_SYNC_SAMPLE_FLAGS });
                });
            });
        });
        // The sample starts right after the moof and the 8-byte mdat header.
        let data_offset = u32::try_from(out.len().saturating_add(8)).map_err(|_| Fmp4Error::TooLarge)?;
        out[data_offset_at..data_offset_at + 4].copy_from_slice(&data_offset.to_be_bytes());
        put32(&mut out, mdat_size);
        out.extend_from_slice(b"mdat");
        out.extend_from_slice(&sample);

        self.first_pts = Some(first_pts);
        self.sequence = sequence;
        self.next_min_decode_time = decode_time.saturating_add(1);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    /// The parameter sets x265 wrote for a 330x250 Main-profile clip (`ffmpeg -f lavfi -i
    /// testsrc=size=330x250 -pix_fmt yuv420p -c:v libx265`), coded as 336x256 with a conformance window.
    fn x265_params() -> StreamParams {
        let hex = |s: &str| {
            (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
        };
        StreamParams {
            codec: Codec::H265,
            width: 330,
            height: 250,
            vps: Some(hex("40010c01ffff01600000030090000003000003003c959809")),
            sps: hex(
                "42010101600000030090000003000003003ca00a88040724996566924caf0168080000030008000003007840",
            ),
            pps: hex("4401c172b46240"),
        }
    }

    #[test]
    fn hevc_init_segment_and_codecs_string() {
        let params = x265_params();
        // Main (1), compatible with Main and Main 10 (flags 1 and 2: 0x6 reversed), Main tier level 2
        // (60), progressive and frame-only (0x90).
        assert_eq!(codecs_string(&params).unwrap(), "hvc1.1.6.L60.90");
        let init = init_segment(&params).unwrap();
        let top = boxes(&init);
        assert_eq!(top.iter().map(|(k, _)| k).collect::<Vec<_>>(), [b"ftyp", b"moov"]);
        assert_eq!(&top[0].1[..4], b"iso5");
        let hvcc_at = init.windows(4).position(|w| w == b"hvcC").unwrap() + 4;
        // configurationVersion, then profile space/tier/profile and the compatibility flags.
        assert_eq!(&init[hvcc_at..hvcc_at + 6], &[1, 1, 0x60, 0, 0, 0]);
        let tkhd_at = init.windows(4).position(|w| w == b"tkhd").unwrap() + 4;
        let size = &init[tkhd_at + 76..tkhd_at + 84];
        assert_eq!(size, [0x01, 0x4A, 0, 0, 0, 0xFA, 0, 0], "330x250 in 16.16");
        let no_vps = StreamParams { vps: None, ..params };
        assert_eq!(init_segment(&no_vps), Err(Fmp4Error::BadParameterSets("no VPS")));
    }

    fn frame(codec: Codec, data: Vec<u8>, pts: u64) -> Frame {
        Frame { codec, data, keyframe: false, pts, captured: SystemTime::UNIX_EPOCH }
    }

    /// (type, body) of the boxes that tile `data`.
    fn boxes(data: &[u8]) -> Vec<([u8; 4], &[u8])> {
        let mut out = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let size = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            out.push((rest[4..8].try_into().unwrap(), &rest[8..size]));
            rest = &rest[size..];
        }
        out
    }

    #[test]
    fn fragments_number_themselves_and_count_time_from_the_first() {
        let mut fragmenter = Fragmenter::new();
        let frames: Vec<_> = video::frames(video::SAMPLE_360P).collect();
        let delta = frame(Codec::H264, frames[1].to_annexb(), 1000);
        assert_eq!(fragmenter.fragment(&delta, 6000), Err(Fmp4Error::NeedKeyframe));
        let key = frame(Codec::H264, frames[0].to_annexb(), 1_000_000);
        let first = fragmenter.fragment(&key, 6000).unwrap();
        let second =
            fragmenter.fragment(&frame(Codec::H264, frames[1].to_annexb(), 1_006_000), 6000).unwrap();
        // A pts stepping back still gives an increasing decode time.
        let third = fragmenter.fragment(&frame(Codec::H264, frames[2].to_annexb(), 5), 6000).unwrap();
        assert_eq!(fragmenter.fragments(), 3);
        let mut decode_times = Vec::new();
        for (n, fragment) in [first, second, third].iter().enumerate() {
            let top = boxes(fragment);
            assert_eq!(top.iter().map(|(k, _)| k).collect::<Vec<_>>(), [b"moof", b"mdat"]);
            let moof = boxes(top[0].1);
            assert_eq!(&moof[0].0, b"mfhd");
            assert_eq!(u32::from_be_bytes(moof[0].1[4..8].try_into().unwrap()), n as u32 + 1);
            let traf = boxes(moof[1].1);
            let kinds: Vec<_> = traf.iter().map(|(k, _)| k).collect();
            assert_eq!(kinds, [b"tfhd", b"tfdt", b"trun"]);
            decode_times.push(u64::from_be_bytes(traf[1].1[4..12].try_into().unwrap()));
            let trun = traf[2].1;
            let data_offset = u32::from_be_bytes(trun[8..12].try_into().unwrap()) as usize;
            let size = u32::from_be_bytes(trun[16..20].try_into().unwrap()) as usize;
            let flags = u32::from_be_bytes(trun[20..24].try_into().unwrap());
            assert_eq!(flags, if n == 0 { SYNC_SAMPLE_FLAGS } else { NON_SYNC_SAMPLE_FLAGS });
            assert_eq!(data_offset + size, fragment.len(), "the sample ends the fragment");
            // Length-prefixed units, no parameter set or delimiter left.
            let mut sample = &fragment[data_offset..];
            while !sample.is_empty() {
                let len = u32::from_be_bytes(sample[..4].try_into().unwrap()) as usize;
                let t = Nal(&sample[4..4 + len]).nal_type();
                assert!(!matches!(t, nal_type::SPS | nal_type::PPS | nal_type::AUD), "type {t}");
                sample = &sample[4 + len..];
            }
        }
        assert_eq!(decode_times, [0, 6000, 6001]);
    }

    #[test]
    fn refusals_are_typed() {
        let mut params = video::clip_params(video::SAMPLE_360P).unwrap();
        let jpeg = StreamParams { codec: Codec::Jpeg, ..params.clone() };
        assert_eq!(init_segment(&jpeg), Err(Fmp4Error::Unsupported(Codec::Jpeg)));
        assert_eq!(codecs_string(&jpeg), Err(Fmp4Error::Unsupported(Codec::Jpeg)));
        let mut fragmenter = Fragmenter::new();
        assert_eq!(
            fragmenter.fragment(&frame(Codec::Jpeg, vec![0xFF, 0xD8], 0), 1),
            Err(Fmp4Error::Unsupported(Codec::Jpeg))
        );
        assert_eq!(
            fragmenter.fragment(&frame(Codec::H264, vec![0, 0, 1, 0x09, 0xF0], 0), 1),
            Err(Fmp4Error::NoPicture)
        );
        assert_eq!(fragmenter.fragment(&frame(Codec::H264, Vec::new(), 0), 1), Err(Fmp4Error::NoPicture));
        let h265 = StreamParams { codec: Codec::H265, ..params.clone() };
        assert!(init_segment(&h265).is_err(), "an H.264 SPS is no H.265 SPS");
        params.pps.clear();
        assert_eq!(init_segment(&params), Err(Fmp4Error::BadParameterSets("no PPS")));
        params.sps.truncate(3);
        assert!(codecs_string(&params).is_err());
    }

    /// `bytes` with a few bytes replaced and cut at a random length.
    fn mutated(bytes: &[u8], next: &mut impl FnMut() -> u64) -> Vec<u8> {
        let mut m = bytes.to_vec();
        for _ in 0..1 + next() % 4 {
            let at = next() as usize % m.len().max(1);
            if let Some(b) = m.get_mut(at) {
                *b = next() as u8;
            }
        }
        m.truncate(next() as usize % (bytes.len() + 1));
        m
    }

    #[test]
    fn hostile_input_gives_errors_not_panics() {
        let params = video::clip_params(video::SAMPLE_360P).unwrap();
        let key = video::frames(video::SAMPLE_360P).next().unwrap().to_annexb();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let h265 = x265_params();
        for round in 0..5_000 {
            let base = if round % 2 == 0 { &params } else { &h265 };
            let codec = [Codec::H264, Codec::H265][(round / 2) % 2];
            let hostile = StreamParams {
                codec,
                width: 0,
                height: 0,
                vps: Some(mutated(base.vps.as_deref().unwrap_or(&base.sps), &mut next)),
                sps: mutated(&base.sps, &mut next),
                pps: mutated(&base.pps, &mut next),
            };
            let _ = init_segment(&hostile);
            let _ = codecs_string(&hostile);
            let mut fragmenter = Fragmenter::new();
            let data = mutated(&key, &mut next);
            let (pts, duration) = (next(), next() as u32);
            let _ = fragmenter.fragment(&frame(codec, data, pts), duration);
            let data = mutated(&key, &mut next);
            let _ = fragmenter.fragment(&frame(codec, data, u64::MAX), u32::MAX);
        }
    }
}
