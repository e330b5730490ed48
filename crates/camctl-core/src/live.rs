//! The one live-stream shape every family's live view is turned into: access units (H.264/H.265,
//! Annex-B) or JPEG frames with their timestamps. A gateway fans such frames out to its viewers.

use std::time::SystemTime;

use serde::Serialize;

/// What a live stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// H.264 / AVC access units.
    H264,
    /// H.265 / HEVC access units.
    H265,
    /// Whole JPEG pictures (PTP/IP live view).
    Jpeg,
}

/// One picture of a live stream.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Its codec.
    pub codec: Codec,
    /// H.264/H.265: one access unit in Annex-B form, start codes included (it may carry parameter
    /// sets, delimiters and SEI); JPEG: one whole picture.
    pub data: Vec<u8>,
    /// Whether it decodes on its own (IDR/IRAP; every JPEG).
    pub keyframe: bool,
    /// Presentation time in 90 kHz ticks, increasing within one stream.
    pub pts: u64,
    /// When the camera stamped it (wall clock), so that viewers can measure latency.
    pub captured: SystemTime,
}

/// What a decoder needs before the first frame: codec, size and parameter sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamParams {
    /// The stream's codec.
    pub codec: Codec,
    /// Picture width in pixels.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
    /// H.265 video parameter set (NAL unit without start code).
    pub vps: Option<Vec<u8>>,
    /// Sequence parameter set (NAL unit without start code); empty for JPEG.
    pub sps: Vec<u8>,
    /// Picture parameter set (NAL unit without start code); empty for JPEG.
    pub pps: Vec<u8>,
}
