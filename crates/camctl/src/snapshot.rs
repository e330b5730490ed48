//! A JPEG of a live stream's keyframe (`snapshot.jpg` of cameras that stream H.264): the access unit is
//! decoded with OpenH264 (the `openh264` crate, built from source), converted from YUV 4:2:0 to RGB
//! by the crate, and encoded with `jpeg-encoder`. H.265 has no such decoder crate and is refused; JPEG
//! live view needs no decoding (the caller hands its frames out as they are).
//!
//! Decoding a 1080p picture takes tens of milliseconds of CPU: call it from a blocking task.

use std::fmt;

use camctl_core::live::{Codec, Frame, StreamParams};
use camctl_core::video::{self, VideoError, nal_type};
use openh264::decoder::{DecodedYUV, Decoder};
use openh264::formats::YUVSource;

/// The largest picture decoded, in pixels (8K UHD): bounds the RGB buffer whatever the SPS says.
const MAX_PIXELS: usize = 7680 * 4320;

/// Why a keyframe gave no JPEG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotError {
    /// Only H.264 is decoded (H.265 has no decoder here; JPEG frames are pictures already).
    Unsupported(Codec),
    /// The stream's SPS does not parse.
    BadSps(VideoError),
    /// The frame holds no IDR picture, so it cannot be decoded on its own.
    NotKeyframe,
    /// The picture is larger than [`MAX_PIXELS`] or than a JPEG can be (65535 pixels a side).
    TooLarge {
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
    },
    /// OpenH264 refused the bitstream.
    Decode(String),
    /// The decoder gave no picture for the access unit.
    NoPicture,
    /// The JPEG encoder failed.
    Encode(String),
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::Unsupported(codec) => write!(f, "no snapshot decoder for {codec:?} video"),
            SnapshotError::BadSps(e) => write!(f, "unusable stream parameters: {e}"),
            SnapshotError::NotKeyframe => f.write_str("the frame is not a keyframe"),
            SnapshotError::TooLarge { width, height } => write!(f, "picture too large ({width}x{height})"),
            SnapshotError::Decode(e) => write!(f, "H.264 decoding failed: {e}"),
            SnapshotError::NoPicture => f.write_str("the decoder gave no picture"),
            SnapshotError::Encode(e) => write!(f, "JPEG encoding failed: {e}"),
        }
    }
}

impl std::error::Error for SnapshotError {}

/// The keyframe `frame` of the stream `params` as a JPEG of `quality` (1..=100, clamped), the size the
/// SPS states. The decoder gets the stream's SPS and PPS, then the access unit (which may repeat them).
pub fn keyframe_to_jpeg(params: &StreamParams, frame: &Frame, quality: u8) -> Result<Vec<u8>, SnapshotError> {
    for codec in [params.codec, frame.codec] {
        if codec != Codec::H264 {
            return Err(SnapshotError::Unsupported(codec));
        }
    }
    let sps = video::parse_sps(&params.sps).map_err(SnapshotError::BadSps)?;
    let (width, height) = (sps.width as usize, sps.height as usize);
    check_size(width, height)?;
    if !video::nal_units(&frame.data).any(|n| n.nal_type() == nal_type::IDR) {
        return Err(SnapshotError::NotKeyframe);
    }
    let mut stream = Vec::with_capacity(params.sps.len() + params.pps.len() + frame.data.len() + 8);
    for set in [&params.sps, &params.pps] {
        stream.extend_from_slice(&[0, 0, 0, 1]);
        stream.extend_from_slice(set);
    }
    stream.extend_from_slice(&frame.data);

    let decode_error = |e: openh264::Error| SnapshotError::Decode(e.to_string());
    let mut decoder = Decoder::new().map_err(decode_error)?;
    let decoded = match decoder.decode(&stream).map_err(decode_error)? {
        Some(yuv) => Some(to_rgb(&yuv, width, height)?),
        None => None,
    };
    let rgb = match decoded {
        Some(rgb) => rgb,
        // The picture may still sit in the decoder's buffer.
        None => {
            let rest = decoder.flush_remaining().map_err(decode_error)?;
            to_rgb(rest.last().ok_or(SnapshotError::NoPicture)?, width, height)?
        }
    };
    let mut jpeg = Vec::new();
    // check_size keeps both sides within u16.
    jpeg_encoder::Encoder::new(&mut jpeg, quality.clamp(1, 100))
        .encode(&rgb, width as u16, height as u16, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| SnapshotError::Encode(e.to_string()))?;
    Ok(jpeg)
}

fn check_size(width: usize, height: usize) -> Result<(), SnapshotError> {
    let fits = width > 0
        && height > 0
        && width <= usize::from(u16::MAX)
        && height <= usize::from(u16::MAX)
        && width.saturating_mul(height) <= MAX_PIXELS;
    if fits { Ok(()) } else { Err(SnapshotError::TooLarge { width, height }) }
}

/// The decoded picture as RGB, `width` x `height` from its top left corner (the decoder may hand out
/// the coded size, whole macroblocks, rather than the cropped one).
fn to_rgb(yuv: &DecodedYUV<'_>, width: usize, height: usize) -> Result<Vec<u8>, SnapshotError> {
    let (decoded_width, decoded_height) = yuv.dimensions();
    check_size(decoded_width, decoded_height)?;
    if decoded_width < width || decoded_height < height {
        return Err(SnapshotError::Decode(format!(
            "decoded {decoded_width}x{decoded_height}, the SPS says {width}x{height}"
        )));
    }
    let mut rgb = vec![0; decoded_width * decoded_height * 3];
    yuv.write_rgb8(&mut rgb);
    if decoded_width != width {
        let row = width * 3;
        let stride = decoded_width * 3;
        for y in 1..height {
            rgb.copy_within(y * stride..y * stride + row, y * row);
        }
    }
    rgb.truncate(width * height * 3);
    Ok(rgb)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;
    use std::time::SystemTime;

    use camctl_core::media::jpeg_dimensions;

    use super::*;

    fn params(clip: &[u8]) -> StreamParams {
        video::clip_params(clip).unwrap()
    }

    fn frame(data: Vec<u8>) -> Frame {
        Frame { codec: Codec::H264, data, keyframe: true, pts: 0, captured: SystemTime::now() }
    }

    /// Whether `tool` runs; a missing one fails the test under `CI=true` and skips it otherwise.
    fn have(tool: &str) -> bool {
        if Command::new(tool).arg("-version").output().is_ok() {
            return true;
        }
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{tool} is required when CI=true");
        eprintln!("skipping: {tool} not installed");
        false
    }

    /// ffmpeg's decode of `input`'s first picture as RGB (converted with the BT.601 matrix, as OpenH264
    /// converts whatever the stream declares); an error message fails the test.
    fn ffmpeg_rgb(input: &Path) -> Vec<u8> {
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(input)
            .args(["-frames:v", "1", "-vf", "scale=in_color_matrix=bt601"])
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stderr.trim().is_empty(), "ffmpeg: {stderr}");
        out.stdout
    }

    #[test]
    fn first_keyframes_become_jpegs_that_match_ffmpegs_decode() {
        let dir = tempfile::tempdir().unwrap();
        for (clip, size) in [(video::SAMPLE_480P, (640, 480)), (video::SAMPLE_1080P, (1920, 1080))] {
            let key = video::frames(clip).next().unwrap();
            let jpeg = keyframe_to_jpeg(&params(clip), &frame(key.to_annexb()), 90).unwrap();
            assert_eq!(jpeg_dimensions(&jpeg), Some(size));
            if !have("ffmpeg") {
                continue;
            }
            // The snapshot is the picture ffmpeg's own H.264 decoder sees, but for JPEG loss and the
            // two YUV-to-RGB conversions.
            let (jpeg_path, clip_path) = (dir.path().join("snap.jpg"), dir.path().join("clip.h264"));
            std::fs::write(&jpeg_path, &jpeg).unwrap();
            std::fs::write(&clip_path, clip).unwrap();
            let ours = ffmpeg_rgb(&jpeg_path);
            let reference = ffmpeg_rgb(&clip_path);
            assert_eq!(ours.len(), size.0 as usize * size.1 as usize * 3);
            assert_eq!(ours.len(), reference.len());
            let total: u64 = ours.iter().zip(&reference).map(|(a, b)| u64::from(a.abs_diff(*b))).sum();
            let mean = total as f64 / ours.len() as f64;
            assert!(mean < 2.0, "{}x{}: mean difference {mean:.2} per channel", size.0, size.1);
        }
    }

    #[test]
    fn refusals_are_typed() {
        let p = params(video::SAMPLE_480P);
        let frames: Vec<_> = video::frames(video::SAMPLE_480P).collect();
        assert_eq!(keyframe_to_jpeg(&p, &frame(frames[1].to_annexb()), 80), Err(SnapshotError::NotKeyframe));
        let h265 = StreamParams { codec: Codec::H265, ..p.clone() };
        assert_eq!(
            keyframe_to_jpeg(&h265, &frame(Vec::new()), 80),
            Err(SnapshotError::Unsupported(Codec::H265))
        );
        let jpeg = Frame { codec: Codec::Jpeg, ..frame(Vec::new()) };
        assert_eq!(keyframe_to_jpeg(&p, &jpeg, 80), Err(SnapshotError::Unsupported(Codec::Jpeg)));
        let no_sps = StreamParams { sps: vec![0x67, 0xFF], ..p.clone() };
        assert!(matches!(
            keyframe_to_jpeg(&no_sps, &frame(frames[0].to_annexb()), 80),
            Err(SnapshotError::BadSps(_))
        ));
    }

    #[test]
    fn garbage_gives_errors_not_panics() {
        let p = params(video::SAMPLE_480P);
        let key = video::frames(video::SAMPLE_480P).next().unwrap().to_annexb();
        let idr_at = key.windows(4).position(|w| w == [0, 0, 1, 0x65]).unwrap() + 4;
        // An IDR slice header followed by junk: the decoder refuses it.
        let mut junk = key[..idr_at + 2].to_vec();
        junk.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 1));
        assert!(keyframe_to_jpeg(&p, &frame(junk), 80).is_err());
        assert!(keyframe_to_jpeg(&p, &frame(b"\0\0\x01\x65 not video at all".to_vec()), 80).is_err());
        // Damaged keyframes: whatever comes back, no panic.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..100 {
            let mut damaged = key.clone();
            for _ in 0..8 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let at = idr_at + (x as usize) % (damaged.len() - idr_at);
                damaged[at] = (x >> 40) as u8;
            }
            let _ = keyframe_to_jpeg(&p, &frame(damaged), 80);
        }
    }
}
