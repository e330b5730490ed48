//! A live-friendly Matroska (`.mkv`) writer: EBML header, a Segment and Clusters of unknown size (so the
//! file can go to a pipe and stays playable when cut short), `SimpleBlock`s, and the codec
//! configuration records the tracks need (`avcC`, `hvcC`, `WAVEFORMATEX`, AAC `AudioSpecificConfig`,
//! `OpusHead`).
//!
//! No maintained Rust crate writes Matroska with H.264/H.265 and PCM/G.711 tracks to a non-seekable
//! output (the `webm` crate binds libwebm's WebM-only codec set; `mkv` and `oxideav-mkv` are 0.0.x), and
//! what a live recording needs is small, so it is written here.
//!
//! ```
//! use camctl_core::mkv::{MkvWriter, Track};
//! let mut mkv = MkvWriter::new(Vec::new(), &[Track::pcm_s16le(8000, 1)]).unwrap();
//! mkv.write_block(1, 0, true, &[0; 320]).unwrap();
//! let bytes = mkv.into_inner().unwrap();
//! assert_eq!(&bytes[..4], &[0x1A, 0x45, 0xDF, 0xA3]);
//! ```

use std::io::{self, Write};

use crate::video::{Bits, VideoError, chroma_subsampling, unescape};

/// Element ids (Matroska specification, RFC 9559).
mod id {
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const EBML_VERSION: u32 = 0x4286;
    pub const EBML_READ_VERSION: u32 = 0x42F7;
    pub const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
    pub const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
    pub const DOC_TYPE: u32 = 0x4282;
    pub const DOC_TYPE_VERSION: u32 = 0x4287;
    pub const DOC_TYPE_READ_VERSION: u32 = 0x4285;
    pub const SEGMENT: u32 = 0x1853_8067;
    pub const INFO: u32 = 0x1549_A966;
    pub const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
    pub const MUXING_APP: u32 = 0x4D80;
    pub const WRITING_APP: u32 = 0x5741;
    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const TRACK_UID: u32 = 0x73C5;
    pub const TRACK_TYPE: u32 = 0x83;
    pub const FLAG_LACING: u32 = 0x9C;
    pub const CODEC_ID: u32 = 0x86;
    pub const CODEC_PRIVATE: u32 = 0x63A2;
    pub const VIDEO: u32 = 0xE0;
    pub const PIXEL_WIDTH: u32 = 0xB0;
    pub const PIXEL_HEIGHT: u32 = 0xBA;
    pub const AUDIO: u32 = 0xE1;
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    pub const CHANNELS: u32 = 0x9F;
    pub const BIT_DEPTH: u32 = 0x6264;
    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMESTAMP: u32 = 0xE7;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
}

/// The 8-byte EBML "unknown size" (all value bits set).
const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

/// Block timestamps are in milliseconds (TimestampScale 1,000,000 ns).
const TIMESTAMP_SCALE_NS: u64 = 1_000_000;

/// A cluster is closed before a block's offset from it leaves the signed 16-bit range; with a margin.
const MAX_CLUSTER_SPAN_MS: i64 = 30_000;

/// Appends an element id (ids carry their own length marker, so their big-endian bytes are the coding).
fn put_id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().position(|b| *b != 0).unwrap_or(3);
    out.extend_from_slice(&bytes[skip..]);
}

/// Appends `size` as an EBML variable-length integer in the fewest bytes (1..=8). An all-ones value is
/// reserved for "unknown", so sizes that would need it take one byte more.
pub fn put_size(out: &mut Vec<u8>, size: u64) {
    let len = (1..=8u32).find(|n| size < (1u64 << (7 * n)) - 1).unwrap_or(8);
    let marked = size | (1u64 << (7 * len));
    out.extend_from_slice(&marked.to_be_bytes()[(8 - len as usize)..]);
}

fn element(out: &mut Vec<u8>, id: u32, body: &[u8]) {
    put_id(out, id);
    put_size(out, body.len() as u64);
    out.extend_from_slice(body);
}

fn master(out: &mut Vec<u8>, id: u32, fill: impl FnOnce(&mut Vec<u8>)) {
    let mut body = Vec::new();
    fill(&mut body);
    element(out, id, &body);
}

fn uint(out: &mut Vec<u8>, id: u32, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().position(|b| *b != 0).unwrap_or(7);
    element(out, id, &bytes[skip..]);
}

fn float(out: &mut Vec<u8>, id: u32, v: f64) {
    element(out, id, &v.to_be_bytes());
}

/// What a track carries.
#[derive(Debug, Clone, PartialEq)]
pub enum TrackKind {
    /// A video track of this picture size.
    Video {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// An audio track.
    Audio {
        /// Sampling frequency in Hz.
        sample_rate: u32,
        /// Number of channels.
        channels: u8,
        /// Bits per sample for PCM codecs.
        bit_depth: Option<u8>,
    },
}

/// One track of a Matroska file.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Matroska codec id, e.g. `V_MPEG4/ISO/AVC`.
    pub codec_id: &'static str,
    /// Codec configuration (`CodecPrivate`), if the codec has one.
    pub codec_private: Option<Vec<u8>>,
    /// Video or audio, with its parameters.
    pub kind: TrackKind,
}

impl Track {
    /// H.264 from its SPS and PPS (NAL units without start code); `None` if the SPS does not parse.
    pub fn h264(sps: &[u8], pps: &[u8]) -> Option<Track> {
        let info = crate::video::parse_sps(sps).ok()?;
        Some(Track {
            codec_id: "V_MPEG4/ISO/AVC",
            codec_private: Some(avc_configuration(sps, pps)?),
            kind: TrackKind::Video { width: info.width, height: info.height },
        })
    }

    /// H.265 from its VPS, SPS and PPS; `None` if the SPS does not parse.
    pub fn h265(vps: &[u8], sps: &[u8], pps: &[u8]) -> Option<Track> {
        let info = parse_hevc_sps(sps).ok()?;
        Some(Track {
            codec_id: "V_MPEGH/ISO/HEVC",
            codec_private: Some(hevc_configuration(&info, vps, sps, pps)),
            kind: TrackKind::Video { width: info.width, height: info.height },
        })
    }

    /// 16-bit little-endian PCM.
    pub fn pcm_s16le(sample_rate: u32, channels: u8) -> Track {
        Track {
            codec_id: "A_PCM/INT/LIT",
            codec_private: None,
            kind: TrackKind::Audio { sample_rate, channels, bit_depth: Some(16) },
        }
    }

    /// G.711 (µ-law if `mu_law`, else A-law), 8 bits a sample, as a `WAVEFORMATEX` track (`A_MS/ACM`,
    /// the way ffmpeg and mkvmerge store codecs Matroska has no native id for).
    pub fn g711(mu_law: bool, sample_rate: u32, channels: u8) -> Track {
        let format_tag = if mu_law { 7 } else { 6 };
        Track {
            codec_id: "A_MS/ACM",
            codec_private: Some(wave_format_ex(format_tag, channels, sample_rate, 8)),
            kind: TrackKind::Audio { sample_rate, channels, bit_depth: Some(8) },
        }
    }

    /// AAC with its `AudioSpecificConfig` (blocks are raw AAC frames, no ADTS header).
    pub fn aac(audio_specific_config: Vec<u8>, sample_rate: u32, channels: u8) -> Track {
        Track {
            codec_id: "A_AAC",
            codec_private: Some(audio_specific_config),
            kind: TrackKind::Audio { sample_rate, channels, bit_depth: None },
        }
    }

    /// Opus (blocks are Opus packets); Matroska states 48 kHz for Opus whatever the input rate.
    pub fn opus(input_sample_rate: u32, channels: u8) -> Track {
        Track {
            codec_id: "A_OPUS",
            codec_private: Some(opus_head(channels, input_sample_rate)),
            kind: TrackKind::Audio { sample_rate: 48_000, channels, bit_depth: None },
        }
    }

    fn encode(&self, out: &mut Vec<u8>, number: u64) {
        master(out, id::TRACK_ENTRY, |t| {
            uint(t, id::TRACK_NUMBER, number);
            uint(t, id::TRACK_UID, number);
            uint(t, id::TRACK_TYPE, if matches!(self.kind, TrackKind::Video { .. }) { 1 } else { 2 });
            uint(t, id::FLAG_LACING, 0);
            element(t, id::CODEC_ID, self.codec_id.as_bytes());
            if let Some(private) = &self.codec_private {
                element(t, id::CODEC_PRIVATE, private);
            }
            match self.kind {
                TrackKind::Video { width, height } => master(t, id::VIDEO, |v| {
                    uint(v, id::PIXEL_WIDTH, width.into());
                    uint(v, id::PIXEL_HEIGHT, height.into());
                }),
                TrackKind::Audio { sample_rate, channels, bit_depth } => master(t, id::AUDIO, |a| {
                    float(a, id::SAMPLING_FREQUENCY, sample_rate.into());
                    uint(a, id::CHANNELS, channels.into());
                    if let Some(bits) = bit_depth {
                        uint(a, id::BIT_DEPTH, bits.into());
                    }
                }),
            }
        });
    }
}

/// Writes a Matroska stream: the header and tracks at once, then blocks as they come. Clusters start at
/// video keyframes (and when a cluster would span more than 30 s), so a player can start at any of them.
#[derive(Debug)]
pub struct MkvWriter<W> {
    out: W,
    video_tracks: Vec<bool>,
    cluster_ms: Option<u64>,
    bytes_written: u64,
    buf: Vec<u8>,
}

impl<W: Write> MkvWriter<W> {
    /// Writes the EBML header, the Segment start, Info and Tracks; tracks are numbered from 1 in order.
    pub fn new(out: W, tracks: &[Track]) -> io::Result<Self> {
        let mut head = Vec::new();
        master(&mut head, id::EBML, |e| {
            uint(e, id::EBML_VERSION, 1);
            uint(e, id::EBML_READ_VERSION, 1);
            uint(e, id::EBML_MAX_ID_LENGTH, 4);
            uint(e, id::EBML_MAX_SIZE_LENGTH, 8);
            element(e, id::DOC_TYPE, b"matroska");
            uint(e, id::DOC_TYPE_VERSION, 4);
            uint(e, id::DOC_TYPE_READ_VERSION, 2);
        });
        put_id(&mut head, id::SEGMENT);
        head.extend_from_slice(&UNKNOWN_SIZE);
        master(&mut head, id::INFO, |i| {
            uint(i, id::TIMESTAMP_SCALE, TIMESTAMP_SCALE_NS);
            let app = concat!("camctl ", env!("CARGO_PKG_VERSION"));
            element(i, id::MUXING_APP, app.as_bytes());
            element(i, id::WRITING_APP, app.as_bytes());
        });
        master(&mut head, id::TRACKS, |t| {
            for (n, track) in tracks.iter().enumerate() {
                track.encode(t, n as u64 + 1);
            }
        });
        let mut writer = MkvWriter {
            out,
            video_tracks: tracks.iter().map(|t| matches!(t.kind, TrackKind::Video { .. })).collect(),
            cluster_ms: None,
            bytes_written: 0,
            buf: Vec::new(),
        };
        writer.emit(&head)?;
        Ok(writer)
    }

    fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.bytes_written += bytes.len() as u64;
        Ok(())
    }

    /// Writes one frame of `track` (1-based) at `timestamp_ms` from the start of the stream.
    pub fn write_block(
        &mut self,
        track: u64,
        timestamp_ms: u64,
        keyframe: bool,
        data: &[u8],
    ) -> io::Result<()> {
        let Some(is_video) =
            usize::try_from(track).ok().and_then(|t| self.video_tracks.get(t.wrapping_sub(1)))
        else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("no track {track}")));
        };
        let span = |start: u64| {
            let ms = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
            ms(timestamp_ms).saturating_sub(ms(start)).unsigned_abs()
        };
        let new_cluster = match self.cluster_ms {
            None => true,
            Some(start) => (*is_video && keyframe) || span(start) > MAX_CLUSTER_SPAN_MS.unsigned_abs(),
        };
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if new_cluster {
            put_id(&mut buf, id::CLUSTER);
            buf.extend_from_slice(&UNKNOWN_SIZE);
            uint(&mut buf, id::TIMESTAMP, timestamp_ms);
            self.cluster_ms = Some(timestamp_ms);
        }
        let relative = span(self.cluster_ms.unwrap_or(timestamp_ms)) as i16;
        put_id(&mut buf, id::SIMPLE_BLOCK);
        // Track number (vint), relative timestamp, flags, then the frame.
        let mut header = Vec::with_capacity(12);
        put_size(&mut header, track);
        header.extend_from_slice(&relative.to_be_bytes());
        header.push(if keyframe { 0x80 } else { 0 });
        put_size(&mut buf, (header.len() + data.len()) as u64);
        buf.extend_from_slice(&header);
        let result = self.emit(&buf).and_then(|()| self.emit(data));
        self.buf = buf;
        result
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Flushes and returns the writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// An Annex-B access unit as length-prefixed NAL units (4-byte big-endian lengths), the block format of
/// `V_MPEG4/ISO/AVC` and `V_MPEGH/ISO/HEVC`. Parameter sets stay in the block, so a decoder follows a
/// mid-stream resolution change.
pub fn length_prefixed<'a>(nals: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for nal in nals {
        // A NAL unit over 4 GiB cannot come from a frame held in memory; saturate regardless.
        out.extend_from_slice(&u32::try_from(nal.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(nal);
    }
    out
}

/// The `AVCDecoderConfigurationRecord` (`avcC`, ISO 14496-15 5.3.3) for one SPS and one PPS, with
/// 4-byte NAL lengths; `None` if the SPS is too short to hold profile and level or a unit is over 64 KiB.
pub fn avc_configuration(sps: &[u8], pps: &[u8]) -> Option<Vec<u8>> {
    let (profile, compat, level) = (*sps.get(1)?, *sps.get(2)?, *sps.get(3)?);
    let (sps_len, pps_len) = (u16::try_from(sps.len()).ok()?, u16::try_from(pps.len()).ok()?);
    let mut out = vec![1, profile, compat, level, 0xFF, 0xE1];
    out.extend_from_slice(&sps_len.to_be_bytes());
    out.extend_from_slice(sps);
    out.push(1);
    out.extend_from_slice(&pps_len.to_be_bytes());
    out.extend_from_slice(pps);
    Some(out)
}

/// What an H.265 SPS says that `hvcC` and the track header need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HevcSps {
    /// `general_profile_space`, `general_tier_flag`, `general_profile_idc`, the 32 compatibility flags,
    /// the 48 constraint bits and `general_level_idc`, as they appear in the SPS.
    pub profile_tier_level: [u8; 12],
    /// `chroma_format_idc` (1 = 4:2:0).
    pub chroma_format_idc: u8,
    /// `bit_depth_luma_minus8`.
    pub bit_depth_luma_minus8: u8,
    /// `bit_depth_chroma_minus8`.
    pub bit_depth_chroma_minus8: u8,
    /// Displayed width (conformance window applied).
    pub width: u32,
    /// Displayed height (conformance window applied).
    pub height: u32,
}

/// Parses an H.265 SPS NAL unit (2-byte header included) as far as the bit depths (H.265 7.3.2.2).
/// Total: any input gives a value or a [`VideoError`].
pub fn parse_hevc_sps(nal: &[u8]) -> Result<HevcSps, VideoError> {
    if nal.len() < 3 || (nal[0] >> 1) & 0x3F != 33 {
        return Err(VideoError::NotSps);
    }
    let rbsp = unescape(&nal[2..]);
    let mut b = Bits { data: &rbsp, pos: 0 };
    b.bits(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = b.bits(3)? as usize;
    b.bit()?; // sps_temporal_id_nesting_flag
    let mut profile_tier_level = [0u8; 12];
    for byte in &mut profile_tier_level {
        *byte = b.bits(8)? as u8;
    }
    let mut present = [(false, false); 8];
    for flags in present.iter_mut().take(max_sub_layers_minus1) {
        *flags = (b.bit()? == 1, b.bit()? == 1);
    }
    if max_sub_layers_minus1 > 0 {
        for _ in max_sub_layers_minus1..8 {
            b.bits(2)?; // reserved_zero_2bits
        }
    }
    for (profile, level) in present.iter().take(max_sub_layers_minus1) {
        if *profile {
            b.bits(32)?;
            b.bits(32)?;
            b.bits(24)?; // sub-layer profile space .. constraint flags (88 bits)
        }
        if *level {
            b.bits(8)?;
        }
    }
    b.ue()?; // sps_seq_parameter_set_id
    let chroma_format_idc = b.ue()?;
    if chroma_format_idc > 3 {
        return Err(VideoError::BadSps("chroma_format_idc"));
    }
    let separate_colour_plane = chroma_format_idc == 3 && b.bit()? == 1;
    let full_w = u64::from(b.ue()?);
    let full_h = u64::from(b.ue()?);
    let (left, right, top, bottom) = b.window()?;
    let bit_depth_luma_minus8 = b.ue()?;
    let bit_depth_chroma_minus8 = b.ue()?;
    if bit_depth_luma_minus8 > 8 || bit_depth_chroma_minus8 > 8 {
        return Err(VideoError::BadSps("bit depth"));
    }
    // Conformance window units (H.265 Table 6-1): chroma subsampling, 1 for 4:4:4 or monochrome.
    let (sub_w, sub_h) = chroma_subsampling(if separate_colour_plane { 0 } else { chroma_format_idc });
    let size = |full: u64, a: u64, b: u64, unit: u64| {
        full.checked_sub((a + b) * unit).filter(|v| *v > 0).and_then(|v| u32::try_from(v).ok())
    };
    let width = size(full_w, left, right, sub_w).ok_or(VideoError::BadSps("conformance window"))?;
    let height = size(full_h, top, bottom, sub_h).ok_or(VideoError::BadSps("conformance window"))?;
    Ok(HevcSps {
        profile_tier_level,
        chroma_format_idc: chroma_format_idc as u8,
        bit_depth_luma_minus8: bit_depth_luma_minus8 as u8,
        bit_depth_chroma_minus8: bit_depth_chroma_minus8 as u8,
        width,
        height,
    })
}

/// The `HEVCDecoderConfigurationRecord` (`hvcC`, ISO 14496-15 8.3.3) with one VPS, SPS and PPS and
/// 4-byte NAL lengths. Units over 64 KiB are left out (no real parameter set is that long).
pub fn hevc_configuration(sps_info: &HevcSps, vps: &[u8], sps: &[u8], pps: &[u8]) -> Vec<u8> {
    let mut out = vec![1];
    out.extend_from_slice(&sps_info.profile_tier_level);
    out.extend_from_slice(&[
        0xF0, // reserved + min_spatial_segmentation_idc (0)
        0x00,
        0xFC,                                        // reserved + parallelismType (unknown)
        0xFC | (sps_info.chroma_format_idc & 3),     // reserved + chromaFormat
        0xF8 | (sps_info.bit_depth_luma_minus8 & 7), // reserved + bitDepthLumaMinus8
        0xF8 | (sps_info.bit_depth_chroma_minus8 & 7),
        0x00, // avgFrameRate (unknown)
        0x00,
        0x0F, // constantFrameRate 0, numTemporalLayers 1, temporalIdNested 1, lengthSizeMinusOne 3
    ]);
    let arrays: Vec<(u8, &[u8])> = [(32u8, vps), (33, sps), (34, pps)]
        .into_iter()
        .filter(|(_, n)| u16::try_from(n.len()).is_ok())
        .collect();
    out.push(arrays.len() as u8);
    for (nal_type, nal) in arrays {
        // array_completeness 1: these are all the parameter sets of that type the stream starts with.
        out.push(0x80 | nal_type);
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&(nal.len() as u16).to_be_bytes());
        out.extend_from_slice(nal);
    }
    out
}

/// A `WAVEFORMATEX` (18 bytes, little-endian, no extra data) for `A_MS/ACM` tracks.
pub fn wave_format_ex(format_tag: u16, channels: u8, sample_rate: u32, bits_per_sample: u16) -> Vec<u8> {
    let block_align = u16::from(channels).saturating_mul(bits_per_sample.div_ceil(8));
    let mut out = Vec::with_capacity(18);
    out.extend_from_slice(&format_tag.to_le_bytes());
    out.extend_from_slice(&u16::from(channels).to_le_bytes());
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&sample_rate.saturating_mul(u32::from(block_align)).to_le_bytes());
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&bits_per_sample.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // cbSize
    out
}

/// An `OpusHead` (RFC 7845 5.1) for a mono or stereo stream (channel mapping family 0, no pre-skip).
pub fn opus_head(channels: u8, input_sample_rate: u32) -> Vec<u8> {
    let mut out = b"OpusHead".to_vec();
    out.push(1); // version
    out.push(channels.clamp(1, 2));
    out.extend_from_slice(&0u16.to_le_bytes()); // pre-skip
    out.extend_from_slice(&input_sample_rate.to_le_bytes());
    out.extend_from_slice(&0i16.to_le_bytes()); // output gain
    out.push(0); // channel mapping family
    out
}

/// The MPEG-4 audio sampling frequencies by index (ISO 14496-3 1.6.3.4).
const AAC_RATES: [u32; 13] =
    [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/// The MPEG-4 audio sampling frequency index of `sample_rate`.
pub fn aac_frequency_index(sample_rate: u32) -> Option<u8> {
    AAC_RATES.iter().position(|r| *r == sample_rate).map(|i| i as u8)
}

/// The sampling frequency of an MPEG-4 audio frequency index (`None` for the reserved 13..=15).
pub fn aac_sample_rate(index: u8) -> Option<u32> {
    AAC_RATES.get(usize::from(index)).copied()
}

/// An `AudioSpecificConfig` for AAC of `object_type` (2 = AAC-LC, 39 = AAC-ELD) at a sampling
/// frequency index and channel configuration. ELD gets the minimal `ELDSpecificConfig` (512-sample
/// frames, no resilience tools, no SBR).
pub fn aac_audio_specific_config(object_type: u8, frequency_index: u8, channels: u8) -> Vec<u8> {
    let mut bits: Vec<(u32, u32)> = Vec::new();
    // 31 is the escape value itself; types from 32 take the escape and 6 more bits.
    if object_type >= 32 {
        bits.push((31, 5));
        bits.push((u32::from(object_type - 32), 6));
    } else {
        bits.push((u32::from(object_type), 5));
    }
    bits.push((u32::from(frequency_index & 0xF), 4));
    bits.push((u32::from(channels & 0xF), 4));
    match object_type {
        // frameLengthFlag, dependsOnCoreCoder, extensionFlag.
        1..=4 => bits.push((0, 3)),
        // frameLengthFlag, 3 resilience flags, ldSbrPresentFlag, eldExtType ELDEXT_TERM.
        39 => bits.push((0, 9)),
        _ => {}
    }
    let mut out = Vec::new();
    let (mut acc, mut n) = (0u64, 0u32);
    for (v, len) in bits {
        acc = (acc << len) | u64::from(v);
        n += len;
        while n >= 8 {
            out.push((acc >> (n - 8)) as u8);
            n -= 8;
        }
    }
    if n > 0 {
        out.push((acc << (8 - n)) as u8);
    }
    out
}

/// An ADTS header at the start of an AAC frame (ISO 14496-3 1.A.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adts {
    /// Header length: 7, or 9 with CRC.
    pub header_len: usize,
    /// Frame length, header included.
    pub frame_len: usize,
    /// Audio object type (profile + 1).
    pub object_type: u8,
    /// Sampling frequency index.
    pub frequency_index: u8,
    /// Channel configuration.
    pub channels: u8,
}

impl Adts {
    /// Reads an ADTS header; `None` without the sync word, with a reserved frequency index, or with a
    /// frame length that does not fit `frame`.
    pub fn parse(frame: &[u8]) -> Option<Adts> {
        let h = frame.get(..7)?;
        if h[0] != 0xFF || h[1] & 0xF6 != 0xF0 {
            return None;
        }
        let header_len = if h[1] & 1 == 0 { 9 } else { 7 };
        let frequency_index = (h[2] >> 2) & 0xF;
        let frame_len = (usize::from(h[3] & 3) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5);
        if frequency_index > 12 || frame_len <= header_len || frame_len > frame.len() {
            return None;
        }
        Some(Adts {
            header_len,
            frame_len,
            object_type: (h[2] >> 6) + 1,
            frequency_index,
            channels: ((h[2] & 1) << 2) | (h[3] >> 6),
        })
    }

    /// The `AudioSpecificConfig` this header describes.
    pub fn audio_specific_config(&self) -> Vec<u8> {
        aac_audio_specific_config(self.object_type, self.frequency_index, self.channels)
    }

    /// The raw AAC frame after the header.
    pub fn payload<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        &frame[self.header_len..self.frame_len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::{self, nal_type};

    /// Reads one EBML vint size: (value, length); `None` for the unknown size.
    fn read_size(b: &[u8]) -> (Option<u64>, usize) {
        let len = b[0].leading_zeros() as usize + 1;
        let mut v = u64::from(b[0]) & ((1u64 << (8 - len)) - 1);
        for x in &b[1..len] {
            v = (v << 8) | u64::from(*x);
        }
        let all_ones = v == (1u64 << (7 * len)) - 1;
        (if all_ones { None } else { Some(v) }, len)
    }

    #[test]
    fn ebml_sizes_take_the_fewest_bytes_and_avoid_the_unknown_marker() {
        for (size, expect) in [
            (0u64, vec![0x80]),
            (1, vec![0x81]),
            (126, vec![0xFE]),
            // 127 in one byte would be all ones, "unknown".
            (127, vec![0x40, 0x7F]),
            (16382, vec![0x7F, 0xFE]),
            (16383, vec![0x20, 0x3F, 0xFF]),
            ((1 << 56) - 2, vec![0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]),
        ] {
            let mut out = Vec::new();
            put_size(&mut out, size);
            assert_eq!(out, expect, "size {size}");
            assert_eq!(read_size(&out), (Some(size), expect.len()));
        }
        assert_eq!(read_size(&UNKNOWN_SIZE), (None, 8));
        let mut id4 = Vec::new();
        put_id(&mut id4, id::SEGMENT);
        assert_eq!(id4, [0x18, 0x53, 0x80, 0x67]);
        let mut id1 = Vec::new();
        put_id(&mut id1, id::SIMPLE_BLOCK);
        assert_eq!(id1, [0xA3]);
    }

    fn sample_parameter_sets(clip: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let find = |t| video::nal_units(clip).find(|n| n.nal_type() == t).unwrap().bytes().to_vec();
        (find(nal_type::SPS), find(nal_type::PPS))
    }

    #[test]
    fn avcc_from_the_sample_clips() {
        for clip in [video::SAMPLE_360P, video::SAMPLE_1080P] {
            let (sps, pps) = sample_parameter_sets(clip);
            let avcc = avc_configuration(&sps, &pps).unwrap();
            // version 1, profile/compat/level copied from the SPS, 4-byte lengths, one SPS, one PPS.
            assert_eq!(&avcc[..6], &[1, sps[1], sps[2], sps[3], 0xFF, 0xE1]);
            assert_eq!(sps[1], 66, "the clips are Constrained Baseline");
            let sps_len = usize::from(u16::from_be_bytes([avcc[6], avcc[7]]));
            assert_eq!(&avcc[8..8 + sps_len], &sps[..]);
            let rest = &avcc[8 + sps_len..];
            assert_eq!(rest[0], 1);
            let pps_len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
            assert_eq!(&rest[3..], &pps[..]);
            assert_eq!(pps_len, pps.len());
        }
        assert_eq!(avc_configuration(&[0x67, 66], &[0x68]), None, "SPS too short");
    }

    #[test]
    fn header_and_blocks_have_consistent_sizes() {
        let (sps, pps) = sample_parameter_sets(video::SAMPLE_360P);
        let tracks = [Track::h264(&sps, &pps).unwrap(), Track::g711(true, 8000, 1)];
        assert_eq!(tracks[0].kind, TrackKind::Video { width: 640, height: 360 });
        let mut mkv = MkvWriter::new(Vec::new(), &tracks).unwrap();
        mkv.write_block(1, 0, true, &[1; 200]).unwrap();
        mkv.write_block(2, 0, true, &[0xFF; 160]).unwrap();
        mkv.write_block(1, 66, false, &[2; 10]).unwrap();
        mkv.write_block(1, 40_000, false, &[3; 10]).unwrap(); // too far: a new cluster
        assert!(mkv.write_block(3, 0, true, &[]).is_err(), "no track 3");
        let total = mkv.bytes_written();
        let out = mkv.into_inner().unwrap();
        assert_eq!(out.len() as u64, total);
        // Walk the top level: EBML (known size), then the Segment of unknown size with its children.
        let (ebml, n) = read_size(&out[4..]);
        let mut pos = 4 + n + ebml.unwrap() as usize;
        assert_eq!(&out[pos..pos + 4], &[0x18, 0x53, 0x80, 0x67]);
        pos += 4;
        assert_eq!(read_size(&out[pos..]), (None, 8));
        pos += 8;
        let mut children = Vec::new();
        let mut blocks = Vec::new();
        while pos < out.len() {
            let id_len = out[pos].leading_zeros() as usize + 1;
            let elem = out[pos..pos + id_len].to_vec();
            let (size, n) = read_size(&out[pos + id_len..]);
            pos += id_len + n;
            match size {
                // Unknown size: a Cluster, whose children follow at this level.
                None => children.push(elem),
                Some(size) => {
                    if elem == [0xA3] {
                        let body = &out[pos..pos + size as usize];
                        blocks.push((
                            body[0],
                            i16::from_be_bytes([body[1], body[2]]),
                            body[3],
                            body.len() - 4,
                        ));
                    } else if elem != [0xE7] {
                        children.push(elem);
                    }
                    pos += size as usize;
                }
            }
        }
        assert_eq!(pos, out.len(), "sizes add up to the end");
        let cluster = vec![0x1F, 0x43, 0xB6, 0x75];
        let info = vec![0x15, 0x49, 0xA9, 0x66];
        let tracks = vec![0x16, 0x54, 0xAE, 0x6B];
        assert_eq!(children, [info, tracks, cluster.clone(), cluster]);
        assert_eq!(blocks, [(0x81, 0, 0x80, 200), (0x82, 0, 0x80, 160), (0x81, 66, 0, 10), (0x81, 0, 0, 10)]);
    }

    #[test]
    fn adts_and_audio_specific_config() {
        // AAC-LC, 16 kHz (index 8), mono, no CRC, 7 + 3 bytes.
        let frame = [0xFF, 0xF1, 0x60, 0x40, 0x01, 0x5F, 0xFC, 1, 2, 3, 0xAA];
        let adts = Adts::parse(&frame).unwrap();
        assert_eq!((adts.object_type, adts.frequency_index, adts.channels), (2, 8, 1));
        assert_eq!((adts.header_len, adts.frame_len), (7, 10));
        assert_eq!(adts.payload(&frame), &[1, 2, 3]);
        // 00010 1000 0001 000 = 0x14 0x08.
        assert_eq!(adts.audio_specific_config(), [0x14, 0x08]);
        assert_eq!(Adts::parse(&frame[..9]), None, "frame length beyond the data");
        assert_eq!(Adts::parse(&[0xFF, 0xF1, 0x60]), None);
        assert_eq!(Adts::parse(&[0; 16]), None);
        // AAC-ELD at 16 kHz mono: 11111 000111 1000 0001 000000000 + padding.
        assert_eq!(aac_audio_specific_config(39, 8, 1), [0xF8, 0xF0, 0x20, 0x00]);
        assert_eq!(aac_frequency_index(8000), Some(11));
        assert_eq!(aac_frequency_index(8001), None);
    }

    #[test]
    fn hevc_sps_parser_is_total() {
        assert!(parse_hevc_sps(&[]).is_err());
        assert!(parse_hevc_sps(&[0x42, 0x01]).is_err());
        for len in 0..40 {
            let junk: Vec<u8> =
                [0x42, 0x01].into_iter().chain((0..len).map(|i| (i * 37 + 11) as u8)).collect();
            let _ = parse_hevc_sps(&junk);
            let _ = parse_hevc_sps(&[&[0x42, 0x01][..], &vec![0xFF; len]].concat());
            let _ = parse_hevc_sps(&[&[0x42, 0x01][..], &vec![0x00; len]].concat());
        }
    }

    #[test]
    fn wave_format_and_opus_head() {
        let wf = wave_format_ex(7, 1, 8000, 8);
        assert_eq!(wf, [7, 0, 1, 0, 0x40, 0x1F, 0, 0, 0x40, 0x1F, 0, 0, 1, 0, 8, 0, 0, 0]);
        let head = opus_head(1, 16000);
        assert_eq!(&head[..8], b"OpusHead");
        assert_eq!(head.len(), 19);
        assert_eq!(&head[12..16], &16000u32.to_le_bytes());
    }
}
