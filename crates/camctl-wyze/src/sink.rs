//! Writes received video frames as a playable Annex-B elementary stream (`.h264` / `.h265`): waits for
//! the first keyframe, makes sure SPS/PPS precede it, keeps frames in order, and reports gaps.
//!
//! ```
//! use camctl_wyze::sink::AnnexBSink;
//! use camctl_wyze::wire::{FrameInfo, codec};
//! let mut sink = AnnexBSink::new(Vec::new());
//! let p_frame = FrameInfo { codec_id: codec::H264, flags: 0, frame_no: 1, ..Default::default() };
//! assert!(!sink.push(&p_frame, &[0, 0, 0, 1, 0x41, 0x9a]).unwrap().written); // no keyframe yet
//! ```

use std::io::{self, Write};

use camctl_core::video::{self, nal_type};

use crate::wire::{FrameInfo, codec};

/// Why a frame was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Not a video frame.
    NotVideo,
    /// Still waiting for a keyframe (at the start or after a gap).
    WaitingForKeyframe,
    /// A frame number at or before the last one written (duplicate or out of order).
    Stale,
    /// A different video codec than the stream started with.
    CodecChanged,
}

/// What [`AnnexBSink::push`] did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    /// Whether the frame went to the output.
    pub written: bool,
    /// Frames missing between the previous video frame and this one (0 = in sequence).
    pub missing_before: u32,
    /// Why it was not written.
    pub skipped: Option<SkipReason>,
}

/// Running totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SinkStats {
    /// Frames written.
    pub frames_written: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Frames not written.
    pub frames_skipped: u64,
    /// Number of gaps in frame numbers.
    pub gaps: u64,
    /// Frames missing in those gaps.
    pub missing_frames: u64,
    /// Picture size from the latest SPS (H.264 only).
    pub dimensions: Option<(u32, u32)>,
    /// The video codec id of the stream.
    pub codec: Option<u16>,
}

/// An Annex-B writer for video frames.
#[derive(Debug)]
pub struct AnnexBSink<W> {
    out: W,
    started: bool,
    last_frame_no: Option<u32>,
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
    resync_on_gap: bool,
    stats: SinkStats,
}

impl<W: Write> AnnexBSink<W> {
    /// A sink writing to `out` that drops frames after a gap until the next keyframe.
    pub fn new(out: W) -> Self {
        AnnexBSink {
            out,
            started: false,
            last_frame_no: None,
            sps: None,
            pps: None,
            resync_on_gap: true,
            stats: SinkStats::default(),
        }
    }

    /// Whether frames after a gap are dropped until the next keyframe (default) or written anyway.
    pub fn resync_on_gap(mut self, resync: bool) -> Self {
        self.resync_on_gap = resync;
        self
    }

    /// Running totals.
    pub fn stats(&self) -> SinkStats {
        self.stats
    }

    /// Flushes and returns the writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    /// The stream starts over (a new session after an outage): counts one gap, forgets the frame
    /// numbering (a new session numbers from scratch) and waits for the next keyframe.
    pub fn discontinuity(&mut self) {
        self.stats.gaps += 1;
        self.last_frame_no = None;
        self.started = false;
    }

    /// Handles one received frame; only I/O errors are errors.
    pub fn push(&mut self, info: &FrameInfo, data: &[u8]) -> io::Result<Pushed> {
        let skip = |stats: &mut SinkStats, missing: u32, reason| {
            stats.frames_skipped += 1;
            Ok(Pushed { written: false, missing_before: missing, skipped: Some(reason) })
        };
        if !info.is_video() {
            return skip(&mut self.stats, 0, SkipReason::NotVideo);
        }
        let codec_id = info.codec_id & 0xff;
        if *self.stats.codec.get_or_insert(codec_id) != codec_id {
            return skip(&mut self.stats, 0, SkipReason::CodecChanged);
        }
        let mut missing = 0;
        if let Some(last) = self.last_frame_no {
            if info.frame_no <= last {
                return skip(&mut self.stats, 0, SkipReason::Stale);
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
        let h264 = codec_id == codec::H264;
        let mut has_sps = false;
        let mut has_pps = false;
        let mut has_idr = false;
        if h264 {
            for nal in video::nal_units(data) {
                match nal.nal_type() {
                    nal_type::SPS => {
                        has_sps = true;
                        if let Ok(sps) = video::parse_sps(nal.bytes()) {
                            self.stats.dimensions = Some((sps.width, sps.height));
                        }
                        self.sps = Some(nal.bytes().to_vec());
                    }
                    nal_type::PPS => {
                        has_pps = true;
                        self.pps = Some(nal.bytes().to_vec());
                    }
                    nal_type::IDR => has_idr = true,
                    _ => {}
                }
            }
        }
        let keyframe = info.is_keyframe() || has_idr;
        if !self.started {
            // A decoder needs an IDR and (for H.264) parameter sets before it.
            let params_ready = !h264 || ((has_sps || self.sps.is_some()) && (has_pps || self.pps.is_some()));
            if !keyframe || !params_ready {
                return skip(&mut self.stats, missing, SkipReason::WaitingForKeyframe);
            }
            self.started = true;
            if h264 && !(has_sps && has_pps) {
                for ps in [&self.sps, &self.pps].into_iter().flatten() {
                    self.out.write_all(&[0, 0, 0, 1])?;
                    self.out.write_all(ps)?;
                    self.stats.bytes_written += 4 + ps.len() as u64;
                }
            }
        }
        self.out.write_all(data)?;
        self.stats.frames_written += 1;
        self.stats.bytes_written += data.len() as u64;
        Ok(Pushed { written: true, missing_before: missing, skipped: None })
    }
}
