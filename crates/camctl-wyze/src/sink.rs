//! Writes received frames as a playable file: video as an Annex-B elementary stream (`.h264` /
//! `.h265`, [`AnnexBSink`]) or video and audio as Matroska (`.mkv`, [`MkvSink`]). Both wait for the
//! first keyframe, make sure the parameter sets precede it, keep frames in order, and after a gap drop
//! frames until the next keyframe (a clean cut) and report it.
//!
//! ```
//! use camctl_wyze::sink::AnnexBSink;
//! use camctl_wyze::wire::{FrameInfo, codec};
//! let mut sink = AnnexBSink::new(Vec::new());
//! let p_frame = FrameInfo { codec_id: codec::H264, flags: 0, frame_no: 1, ..Default::default() };
//! assert!(!sink.push(&p_frame, &[0, 0, 0, 1, 0x41, 0x9a]).unwrap().written); // no keyframe yet
//! ```

use std::io::{self, Write};

use camctl_core::mkv::{self, Adts, MkvWriter, Track};
use camctl_core::video::{self, nal_type};

use crate::wire::{AudioFlags, FrameInfo, codec};

/// Why a frame was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Not a video frame (a video-only output).
    NotVideo,
    /// Still waiting for a keyframe (at the start or after a gap); audio waits with the video.
    WaitingForKeyframe,
    /// A frame number at or before the last one written (duplicate or out of order).
    Stale,
    /// A different codec (or audio format) than the stream started with.
    CodecChanged,
    /// Audio the output has no track for: an audio codec Matroska cannot carry as sent (ADPCM, Speex,
    /// G.726, 8-bit PCM), or audio that began only after the header was written.
    NoAudioTrack,
    /// An audio frame that does not parse as its codec says (an AAC frame with a broken ADTS header).
    Malformed,
}

/// What a sink's `push` did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    /// Whether the frame went to the output.
    pub written: bool,
    /// Frames missing between the previous video frame and this one (0 = in sequence).
    pub missing_before: u32,
    /// Why it was not written.
    pub skipped: Option<SkipReason>,
}

impl Pushed {
    const WRITTEN: Pushed = Pushed { written: true, missing_before: 0, skipped: None };

    fn skipped(reason: SkipReason, missing_before: u32) -> Pushed {
        Pushed { written: false, missing_before, skipped: Some(reason) }
    }
}

/// Running totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SinkStats {
    /// Video frames written.
    pub frames_written: u64,
    /// Bytes written (container overhead included).
    pub bytes_written: u64,
    /// Video frames not written.
    pub frames_skipped: u64,
    /// Number of gaps in frame numbers.
    pub gaps: u64,
    /// Frames missing in those gaps.
    pub missing_frames: u64,
    /// Picture size from the latest SPS.
    pub dimensions: Option<(u32, u32)>,
    /// The video codec id of the stream.
    pub codec: Option<u16>,
    /// Audio frames written (Matroska only).
    pub audio_written: u64,
    /// Audio frames not written (Matroska only).
    pub audio_skipped: u64,
    /// The audio codec id of the audio track, if the output has one.
    pub audio_codec: Option<u16>,
}

/// H.265 NAL unit types this module looks at (H.265 Table 7-1).
mod hevc_nal {
    pub const VPS: u8 = 32;
    pub const SPS: u8 = 33;
    pub const PPS: u8 = 34;

    /// The NAL unit type of an H.265 unit (6 bits after the forbidden bit).
    pub fn nal_type(nal: &[u8]) -> u8 {
        nal.first().map_or(0xFF, |b| (b >> 1) & 0x3F)
    }

    /// IRAP pictures (BLA, IDR, CRA): decodable on their own.
    pub fn is_irap(t: u8) -> bool {
        (16..=23).contains(&t)
    }
}

/// The latest parameter sets seen (without start codes).
#[derive(Debug, Default, Clone)]
struct ParameterSets {
    vps: Option<Vec<u8>>,
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
}

impl ParameterSets {
    /// Whether a decoder has what it needs for `codec_id`'s keyframes.
    fn ready(&self, codec_id: u16) -> bool {
        match codec_id {
            codec::H264 => self.sps.is_some() && self.pps.is_some(),
            codec::H265 => self.vps.is_some() && self.sps.is_some() && self.pps.is_some(),
            _ => true,
        }
    }

    /// The Matroska video track these sets describe; `None` if they are missing or do not parse.
    fn track(&self, codec_id: u16) -> Option<Track> {
        let (sps, pps) = (self.sps.as_deref()?, self.pps.as_deref()?);
        match codec_id {
            codec::H264 => Track::h264(sps, pps),
            codec::H265 => Track::h265(self.vps.as_deref()?, sps, pps),
            _ => None,
        }
    }

    /// The cached sets in stream order (VPS, SPS, PPS).
    fn units(&self) -> impl Iterator<Item = &[u8]> {
        [&self.vps, &self.sps, &self.pps].into_iter().flatten().map(Vec::as_slice)
    }
}

/// A video frame the gate lets through.
struct Admitted {
    missing: u32,
    keyframe: bool,
    /// The first frame after a (re)start: the output needs the parameter sets before it.
    starting: bool,
    /// The frame carries all the parameter sets its codec needs.
    has_parameter_sets: bool,
}

/// The video rules both sinks share: keyframe wait, frame order, gaps, parameter sets, picture size.
#[derive(Debug)]
struct VideoGate {
    started: bool,
    last_frame_no: Option<u32>,
    params: ParameterSets,
    resync_on_gap: bool,
    /// Start only on parameter sets a container header can describe (Matroska's `avcC`/`hvcC`).
    needs_track: bool,
    stats: SinkStats,
}

impl VideoGate {
    fn new() -> Self {
        VideoGate {
            started: false,
            last_frame_no: None,
            params: ParameterSets::default(),
            resync_on_gap: true,
            needs_track: false,
            stats: SinkStats::default(),
        }
    }

    fn discontinuity(&mut self) {
        self.stats.gaps += 1;
        self.last_frame_no = None;
        self.started = false;
    }

    /// Decides about a video frame; a skip is counted here.
    fn admit(&mut self, info: &FrameInfo, data: &[u8]) -> Result<Admitted, Pushed> {
        let codec_id = info.codec_id & 0xff;
        let skip = |stats: &mut SinkStats, reason, missing| {
            stats.frames_skipped += 1;
            Err(Pushed::skipped(reason, missing))
        };
        if *self.stats.codec.get_or_insert(codec_id) != codec_id {
            return skip(&mut self.stats, SkipReason::CodecChanged, 0);
        }
        let mut missing = 0;
        if let Some(last) = self.last_frame_no {
            if info.frame_no <= last {
                return skip(&mut self.stats, SkipReason::Stale, 0);
            }
            missing = info.frame_no - last - 1;
        }
        self.last_frame_no = Some(info.frame_no);
        if missing > 0 {
            self.stats.gaps += 1;
            self.stats.missing_frames += u64::from(missing);
            tracing::warn!(missing, frame_no = info.frame_no, "gap in video frames");
            if self.resync_on_gap {
                self.started = false;
            }
        }
        let (mut vps, mut sps, mut pps, mut irap) = (false, false, false, false);
        for nal in video::nal_units(data) {
            let bytes = nal.bytes();
            match codec_id {
                codec::H264 => match nal.nal_type() {
                    nal_type::SPS => {
                        sps = true;
                        if let Ok(info) = video::parse_sps(bytes) {
                            self.stats.dimensions = Some((info.width, info.height));
                        }
                        self.params.sps = Some(bytes.to_vec());
                    }
                    nal_type::PPS => {
                        pps = true;
                        self.params.pps = Some(bytes.to_vec());
                    }
                    nal_type::IDR => irap = true,
                    _ => {}
                },
                codec::H265 => match hevc_nal::nal_type(bytes) {
                    hevc_nal::VPS => {
                        vps = true;
                        self.params.vps = Some(bytes.to_vec());
                    }
                    hevc_nal::SPS => {
                        sps = true;
                        if let Ok(info) = mkv::parse_hevc_sps(bytes) {
                            self.stats.dimensions = Some((info.width, info.height));
                        }
                        self.params.sps = Some(bytes.to_vec());
                    }
                    hevc_nal::PPS => {
                        pps = true;
                        self.params.pps = Some(bytes.to_vec());
                    }
                    t if hevc_nal::is_irap(t) => irap = true,
                    _ => {}
                },
                _ => {}
            }
        }
        let has_parameter_sets = match codec_id {
            codec::H264 => sps && pps,
            codec::H265 => vps && sps && pps,
            _ => true,
        };
        let keyframe = info.is_keyframe() || irap;
        let starting = !self.started;
        if starting {
            // A decoder needs a keyframe and the parameter sets before it.
            let describable = !self.needs_track || self.params.track(codec_id).is_some();
            if !keyframe || !self.params.ready(codec_id) || !describable {
                return skip(&mut self.stats, SkipReason::WaitingForKeyframe, missing);
            }
            self.started = true;
        }
        self.stats.frames_written += 1;
        Ok(Admitted { missing, keyframe, starting, has_parameter_sets })
    }
}

/// An Annex-B writer for video frames.
#[derive(Debug)]
pub struct AnnexBSink<W> {
    out: W,
    gate: VideoGate,
}

impl<W: Write> AnnexBSink<W> {
    /// A sink writing to `out` that drops frames after a gap until the next keyframe.
    pub fn new(out: W) -> Self {
        AnnexBSink { out, gate: VideoGate::new() }
    }

    /// Whether frames after a gap are dropped until the next keyframe (default) or written anyway.
    pub fn resync_on_gap(mut self, resync: bool) -> Self {
        self.gate.resync_on_gap = resync;
        self
    }

    /// Running totals.
    pub fn stats(&self) -> SinkStats {
        self.gate.stats
    }

    /// Flushes and returns the writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    /// The stream starts over (a new session after an outage): counts one gap, forgets the frame
    /// numbering (a new session numbers from scratch) and waits for the next keyframe.
    pub fn discontinuity(&mut self) {
        self.gate.discontinuity();
    }

    /// Handles one received frame; only I/O errors are errors.
    pub fn push(&mut self, info: &FrameInfo, data: &[u8]) -> io::Result<Pushed> {
        if !info.is_video() {
            self.gate.stats.frames_skipped += 1;
            return Ok(Pushed::skipped(SkipReason::NotVideo, 0));
        }
        let admitted = match self.gate.admit(info, data) {
            Ok(a) => a,
            Err(skipped) => return Ok(skipped),
        };
        if admitted.starting && !admitted.has_parameter_sets {
            for ps in self.gate.params.units() {
                self.out.write_all(&[0, 0, 0, 1])?;
                self.out.write_all(ps)?;
                self.gate.stats.bytes_written += 4 + ps.len() as u64;
            }
        }
        self.out.write_all(data)?;
        self.gate.stats.bytes_written += data.len() as u64;
        Ok(Pushed { missing_before: admitted.missing, ..Pushed::WRITTEN })
    }
}

/// How one audio stream goes into Matroska; a change of any of it mid-stream is a different stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AudioFormat {
    codec_id: u16,
    flags: AudioFlags,
    /// AAC frames with ADTS headers (stripped on writing): object type, frequency index, channels.
    adts: Option<(u8, u8, u8)>,
}

impl AudioFormat {
    fn of(info: &FrameInfo, data: &[u8]) -> AudioFormat {
        let codec_id = info.codec_id & 0xff;
        // A flags byte with a reserved rate index says nothing: assume 8 kHz mono 16-bit, the commonest.
        let flags =
            info.audio_flags().unwrap_or(AudioFlags { sample_rate: 8000, bits16: true, stereo: false });
        let adts = if is_aac(codec_id) {
            Adts::parse(data).map(|h| (h.object_type, h.frequency_index, h.channels))
        } else {
            None
        };
        AudioFormat { codec_id, flags, adts }
    }

    /// The Matroska track, or `None` for a codec it cannot carry as sent.
    fn track(&self) -> Option<Track> {
        let channels = if self.flags.stereo { 2 } else { 1 };
        let rate = self.flags.sample_rate;
        Some(match self.codec_id {
            codec::G711U => Track::g711(true, rate, channels),
            codec::G711A => Track::g711(false, rate, channels),
            codec::PCM if self.flags.bits16 => Track::pcm_s16le(rate, channels),
            id if is_aac(id) => match self.adts {
                Some((object_type, index, adts_channels)) => {
                    let config = mkv::aac_audio_specific_config(object_type, index, adts_channels);
                    Track::aac(config, mkv::aac_sample_rate(index)?, adts_channels.max(1))
                }
                None => {
                    // Raw frames: the configuration comes from the FRAMEINFO flags. Wyze's own id 144 is
                    // AAC-ELD (DWB, inferred from real cameras); the SDK ids are taken as AAC-LC.
                    let object_type = if id == codec::AAC_WYZE { 39 } else { 2 };
                    let index = mkv::aac_frequency_index(rate)?;
                    Track::aac(mkv::aac_audio_specific_config(object_type, index, channels), rate, channels)
                }
            },
            codec::OPUS => Track::opus(rate, channels),
            codec::MP3 => Track {
                codec_id: "A_MPEG/L3",
                codec_private: None,
                kind: mkv::TrackKind::Audio { sample_rate: rate, channels, bit_depth: None },
            },
            _ => return None,
        })
    }
}

/// The AAC codec ids (SDK raw/ADTS/LATM and Wyze's 144).
fn is_aac(codec_id: u16) -> bool {
    matches!(codec_id, codec::AAC_RAW | codec::AAC_ADTS | codec::AAC_LATM | codec::AAC_WYZE)
}

/// A frame waiting for the Matroska header (which needs the audio format).
#[derive(Debug)]
struct Held {
    info: FrameInfo,
    data: Vec<u8>,
    admitted_keyframe: bool,
    starting: bool,
    has_parameter_sets: bool,
}

/// How long video is held for the audio format before the header is written without audio: the
/// stream time span, and the memory it may take (whatever the timestamps say).
const HOLD_MAX_US: u64 = 2_000_000;
const HOLD_MAX_BYTES: usize = 16 << 20;
const HOLD_MAX_FRAMES: usize = 256;

/// An audio clock further than this from the video's is taken as another time base and moved onto it.
const AUDIO_CLOCK_MAX_SKEW_MS: i64 = 10_000;

#[derive(Debug)]
enum MkvState<W> {
    /// Before the header: the output, and video frames held while the audio format is unknown.
    Pending { out: W, held: Vec<Held>, held_bytes: usize },
    /// Header written.
    Writing(MkvWriter<W>),
    /// Only while a transition is under way (or after an I/O error during it).
    Broken,
}

/// A Matroska writer for video and audio: H.264 (`V_MPEG4/ISO/AVC`) or H.265 (`V_MPEGH/ISO/HEVC`)
/// video; G.711 µ-law/A-law (`A_MS/ACM`), 16-bit PCM (`A_PCM/INT/LIT`), AAC (`A_AAC`, ADTS headers
/// stripped), Opus (`A_OPUS`) or MP3 audio. Timestamps come from the FRAMEINFO, video and audio on one
/// clock, 0 at the first keyframe written. Audio is written while the video is: after a gap both resume
/// at the next keyframe.
#[derive(Debug)]
pub struct MkvSink<W> {
    gate: VideoGate,
    state: MkvState<W>,
    expect_audio: bool,
    audio: Option<AudioFormat>,
    /// The audio track was in the header.
    audio_track: bool,
    /// FRAMEINFO time (µs) of the first keyframe written.
    origin_us: Option<u64>,
    /// Added to FRAMEINFO time to keep video timestamps increasing when the camera's clock steps back.
    offset_ms: i64,
    last_video_ms: Option<i64>,
    last_audio_ms: Option<i64>,
    /// Added to audio times when the camera stamps audio on another clock than video.
    audio_offset_ms: Option<i64>,
}

/// FRAMEINFO time in microseconds.
fn frame_time_us(info: &FrameInfo) -> u64 {
    u64::from(info.timestamp) * 1_000_000 + u64::from(info.timestamp_us % 1_000_000)
}

impl<W: Write> MkvSink<W> {
    /// A sink writing Matroska to `out`. With `expect_audio` the header waits (up to 2 s of stream) for
    /// the first audio frame so that the file gets an audio track; without, it is written at the first
    /// keyframe and audio is skipped.
    pub fn new(out: W, expect_audio: bool) -> Self {
        MkvSink {
            gate: VideoGate { needs_track: true, ..VideoGate::new() },
            state: MkvState::Pending { out, held: Vec::new(), held_bytes: 0 },
            expect_audio,
            audio: None,
            audio_track: false,
            origin_us: None,
            offset_ms: 0,
            last_video_ms: None,
            last_audio_ms: None,
            audio_offset_ms: None,
        }
    }

    /// Running totals.
    pub fn stats(&self) -> SinkStats {
        let mut stats = self.gate.stats;
        if let MkvState::Writing(mkv) = &self.state {
            stats.bytes_written = mkv.bytes_written();
        }
        stats
    }

    /// Writes the header and the frames held for it if they are still waiting for the audio format
    /// (the recording ends before it came).
    pub fn write_pending(&mut self) -> io::Result<()> {
        if matches!(&self.state, MkvState::Pending { held, .. } if !held.is_empty()) {
            self.write_header()?;
        }
        Ok(())
    }

    /// [`MkvSink::write_pending`], then flushes and returns the writer. A stream that never had a
    /// keyframe gives an empty output.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.write_pending()?;
        match std::mem::replace(&mut self.state, MkvState::Broken) {
            MkvState::Pending { mut out, .. } => {
                out.flush()?;
                Ok(out)
            }
            MkvState::Writing(mkv) => mkv.into_inner(),
            MkvState::Broken => Err(io::Error::other("the Matroska output failed earlier")),
        }
    }

    /// The stream starts over (a new session after an outage): counts one gap and waits for the next
    /// keyframe.
    pub fn discontinuity(&mut self) {
        self.gate.discontinuity();
    }

    /// Handles one received frame, video or audio; only I/O errors are errors.
    pub fn push(&mut self, info: &FrameInfo, data: &[u8]) -> io::Result<Pushed> {
        if info.is_audio() {
            return self.push_audio(info, data);
        }
        if !info.is_video() {
            return Ok(Pushed::skipped(SkipReason::NotVideo, 0));
        }
        let codec_id = info.codec_id & 0xff;
        if !matches!(codec_id, codec::H264 | codec::H265) {
            self.gate.stats.frames_skipped += 1;
            return Ok(Pushed::skipped(SkipReason::CodecChanged, 0));
        }
        let admitted = match self.gate.admit(info, data) {
            Ok(a) => a,
            Err(skipped) => return Ok(skipped),
        };
        let pushed = Pushed { missing_before: admitted.missing, ..Pushed::WRITTEN };
        let held = Held {
            info: *info,
            data: data.to_vec(),
            admitted_keyframe: admitted.keyframe,
            starting: admitted.starting,
            has_parameter_sets: admitted.has_parameter_sets,
        };
        if let MkvState::Pending { held: queue, held_bytes, .. } = &mut self.state {
            *held_bytes += held.data.len();
            queue.push(held);
            let span = frame_time_us(info).saturating_sub(frame_time_us(&queue[0].info));
            let audio_known = self.audio.is_some() || !self.expect_audio;
            let full = *held_bytes >= HOLD_MAX_BYTES || queue.len() >= HOLD_MAX_FRAMES;
            if audio_known || span >= HOLD_MAX_US || full {
                if !audio_known {
                    tracing::warn!("no audio within 2 s of the first keyframe; recording video only");
                }
                self.write_header()?;
            }
            return Ok(pushed);
        }
        self.write_video(&held)?;
        Ok(pushed)
    }

    fn push_audio(&mut self, info: &FrameInfo, data: &[u8]) -> io::Result<Pushed> {
        let skip = |stats: &mut SinkStats, reason| {
            stats.audio_skipped += 1;
            Ok(Pushed::skipped(reason, 0))
        };
        let format = AudioFormat::of(info, data);
        match self.audio {
            None => self.audio = Some(format),
            // The same AAC stream with one damaged ADTS header: that frame, not a codec change.
            Some(known)
                if known.adts.is_some()
                    && format.adts.is_none()
                    && (known.codec_id, known.flags) == (format.codec_id, format.flags) =>
            {
                return skip(&mut self.gate.stats, SkipReason::Malformed);
            }
            Some(known) if known != format => return skip(&mut self.gate.stats, SkipReason::CodecChanged),
            Some(_) => {}
        }
        if let MkvState::Pending { held, .. } = &self.state {
            if held.is_empty() {
                return skip(&mut self.gate.stats, SkipReason::WaitingForKeyframe);
            }
            // The video is waiting for just this: the audio format.
            self.write_header()?;
        }
        if !self.audio_track {
            return skip(&mut self.gate.stats, SkipReason::NoAudioTrack);
        }
        if !self.gate.started {
            return skip(&mut self.gate.stats, SkipReason::WaitingForKeyframe);
        }
        let payload = if format.adts.is_some() {
            match Adts::parse(data) {
                Some(header) => header.payload(data),
                None => return skip(&mut self.gate.stats, SkipReason::Malformed),
            }
        } else {
            data
        };
        let Some(ms) = self.stream_ms(info) else {
            return skip(&mut self.gate.stats, SkipReason::WaitingForKeyframe);
        };
        let video_ms = self.last_video_ms.unwrap_or(0);
        let offset = *self.audio_offset_ms.get_or_insert_with(|| {
            if (ms - video_ms).abs() > AUDIO_CLOCK_MAX_SKEW_MS {
                tracing::warn!(
                    audio_ms = ms,
                    video_ms,
                    "audio timestamps on another clock; aligning them to video"
                );
                video_ms - ms
            } else {
                0
            }
        });
        let ms = ms + offset;
        // Audio keeps its own order; a frame stamped at or before the last one follows it by 1 ms.
        let ms = self.last_audio_ms.map_or(ms, |last| ms.max(last + 1));
        if ms < 0 {
            // Captured before the first picture.
            return skip(&mut self.gate.stats, SkipReason::WaitingForKeyframe);
        }
        self.last_audio_ms = Some(ms);
        let MkvState::Writing(mkv) = &mut self.state else {
            return Err(io::Error::other("the Matroska output failed earlier"));
        };
        mkv.write_block(2, ms as u64, true, payload)?;
        self.gate.stats.audio_written += 1;
        Ok(Pushed::WRITTEN)
    }

    /// Milliseconds since the first keyframe (before the video offset correction is applied to audio).
    fn stream_ms(&self, info: &FrameInfo) -> Option<i64> {
        let origin = self.origin_us?;
        let raw = (frame_time_us(info) as i64 - origin as i64).div_euclid(1000);
        Some(raw + self.offset_ms)
    }

    fn write_header(&mut self) -> io::Result<()> {
        let MkvState::Pending { out, held, .. } = std::mem::replace(&mut self.state, MkvState::Broken) else {
            return Ok(());
        };
        let Some(first) = held.first() else {
            self.state = MkvState::Pending { out, held, held_bytes: 0 };
            return Ok(());
        };
        let Some(video) = self.gate.params.track(first.info.codec_id & 0xff) else {
            // Not reached: the gate starts only on parameter sets that make a track.
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the camera's parameter sets do not parse",
            ));
        };
        let audio = self.audio.and_then(|a| a.track());
        if let (Some(format), None) = (self.audio, &audio) {
            tracing::warn!(
                codec = format.codec_id,
                "audio codec not writable to Matroska; recording video only"
            );
        }
        let mut tracks = vec![video];
        self.audio_track = audio.is_some();
        if let Some(audio) = audio {
            self.gate.stats.audio_codec = self.audio.map(|a| a.codec_id);
            tracks.push(audio);
        }
        self.origin_us = Some(frame_time_us(&first.info));
        self.state = MkvState::Writing(MkvWriter::new(out, &tracks)?);
        for frame in &held {
            self.write_video(frame)?;
        }
        Ok(())
    }

    fn write_video(&mut self, frame: &Held) -> io::Result<()> {
        let interval = 1000 / i64::from(frame.info.framerate.max(1));
        let mut ms = self.stream_ms(&frame.info).unwrap_or(0);
        if let Some(last) = self.last_video_ms.filter(|last| ms <= *last) {
            // The camera's clock stepped back (or stood still): continue one frame interval on.
            self.offset_ms += last + interval - ms;
            ms = last + interval;
        }
        self.last_video_ms = Some(ms);
        let mut nals: Vec<&[u8]> = Vec::new();
        if frame.starting && !frame.has_parameter_sets {
            nals.extend(self.gate.params.units());
        }
        nals.extend(video::nal_units(&frame.data).map(|n| n.bytes()));
        let block = mkv::length_prefixed(nals);
        let MkvState::Writing(mkv) = &mut self.state else {
            return Err(io::Error::other("the Matroska output failed earlier"));
        };
        mkv.write_block(1, ms.max(0) as u64, frame.admitted_keyframe, &block)
    }
}

/// The container of a live recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Container {
    /// The video as an Annex-B elementary stream (`.h264`/`.h265`); audio is not written.
    #[default]
    AnnexB,
    /// Matroska (`.mkv`) with video and audio.
    Matroska,
}

impl Container {
    /// The container a file name asks for: Matroska for `.mkv` (any case), else Annex-B.
    pub fn for_path(path: &std::path::Path) -> Container {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("mkv") => Container::Matroska,
            _ => Container::AnnexB,
        }
    }

    /// Parses a `--format` name: `annexb` or `mkv`.
    pub fn parse(name: &str) -> Option<Container> {
        match name {
            "annexb" => Some(Container::AnnexB),
            "mkv" => Some(Container::Matroska),
            _ => None,
        }
    }
}

/// Either sink, chosen by [`Container`].
#[derive(Debug)]
pub enum LiveSink<W> {
    /// Video only, Annex-B.
    AnnexB(AnnexBSink<W>),
    /// Video and audio, Matroska.
    Matroska(MkvSink<W>),
}

impl<W: Write> LiveSink<W> {
    /// A sink for `container`; a Matroska one waits briefly for audio if `expect_audio`.
    pub fn new(out: W, container: Container, expect_audio: bool) -> Self {
        match container {
            Container::AnnexB => LiveSink::AnnexB(AnnexBSink::new(out)),
            Container::Matroska => LiveSink::Matroska(MkvSink::new(out, expect_audio)),
        }
    }

    /// Handles one received frame; an Annex-B sink leaves audio alone without counting it as skipped.
    pub fn push(&mut self, info: &FrameInfo, data: &[u8]) -> io::Result<Pushed> {
        match self {
            LiveSink::AnnexB(_) if info.is_audio() => Ok(Pushed::skipped(SkipReason::NotVideo, 0)),
            LiveSink::AnnexB(sink) => sink.push(info, data),
            LiveSink::Matroska(sink) => sink.push(info, data),
        }
    }

    /// See [`AnnexBSink::discontinuity`].
    pub fn discontinuity(&mut self) {
        match self {
            LiveSink::AnnexB(sink) => sink.discontinuity(),
            LiveSink::Matroska(sink) => sink.discontinuity(),
        }
    }

    /// Running totals.
    pub fn stats(&self) -> SinkStats {
        match self {
            LiveSink::AnnexB(sink) => sink.stats(),
            LiveSink::Matroska(sink) => sink.stats(),
        }
    }

    /// Writes what a Matroska sink still holds for its header ([`MkvSink::write_pending`]).
    pub fn write_pending(&mut self) -> io::Result<()> {
        match self {
            LiveSink::AnnexB(_) => Ok(()),
            LiveSink::Matroska(sink) => sink.write_pending(),
        }
    }

    /// Flushes (writing a pending Matroska header) and returns the writer.
    pub fn into_inner(self) -> io::Result<W> {
        match self {
            LiveSink::AnnexB(sink) => sink.into_inner(),
            LiveSink::Matroska(sink) => sink.into_inner(),
        }
    }
}
