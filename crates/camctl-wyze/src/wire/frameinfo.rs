//! `FRAMEINFO_t`: the 40-byte little-endian trailer of every media frame (tutk.md §5.4), with the codec
//! ids (§5.3), frame sizes (§5.1) and bitrates (§5.2) it speaks in.

use super::{Reader, WireError};

/// Length of a `FRAMEINFO_t`.
pub const FRAMEINFO_LEN: usize = 40;

/// Codec ids (`FRAMEINFO.codec_id`; TUTK `AVFRAMEINFO.h`, tutk.md §5.3).
pub mod codec {
    /// MPEG-4 part 2 video.
    pub const MPEG4: u16 = 0x4C;
    /// H.263 video.
    pub const H263: u16 = 0x4D;
    /// H.264 video (78), what Wyze cameras send.
    pub const H264: u16 = 0x4E;
    /// Motion JPEG.
    pub const MJPEG: u16 = 0x4F;
    /// H.265 / HEVC video (80).
    pub const H265: u16 = 0x50;
    /// AAC raw (newer SDK).
    pub const AAC_RAW: u16 = 0x86;
    /// AAC ADTS (newer SDK).
    pub const AAC_ADTS: u16 = 0x87;
    /// AAC LATM (newer SDK; "AAC" in older SDKs).
    pub const AAC_LATM: u16 = 0x88;
    /// G.711 µ-law (137): DWB maps it to `mulaw`.
    pub const G711U: u16 = 0x89;
    /// G.711 A-law (138) per the SDK enum.
    pub const G711A: u16 = 0x8A;
    /// ADPCM.
    pub const ADPCM: u16 = 0x8B;
    /// 16-bit PCM (140): DWB maps it to `s16le`.
    pub const PCM: u16 = 0x8C;
    /// SDK: Speex (141). DWB treats 141 as AAC; conflicting, so the emulator never emits it.
    pub const SPEEX: u16 = 0x8D;
    /// MP3.
    pub const MP3: u16 = 0x8E;
    /// SDK: G.726 (143). DWB treats 143 as A-law; conflicting, never emitted.
    pub const G726: u16 = 0x8F;
    /// 144: AAC as Wyze sends it (DWB: aac_eld 16 kHz; go2rtc "AAC Wyze/alt").
    pub const AAC_WYZE: u16 = 0x90;
    /// 146: Opus (DWB, go2rtc).
    pub const OPUS: u16 = 0x92;

    /// Whether the codec id (low byte only, as cameras use it) is a video codec.
    pub fn is_video(codec: u16) -> bool {
        (0x4C..=0x50).contains(&(codec & 0xff))
    }

    /// Whether the codec id is an audio codec.
    pub fn is_audio(codec: u16) -> bool {
        (0x86..=0x92).contains(&(codec & 0xff))
    }

    /// A short name, e.g. `h264`, `pcm_mulaw`; `None` for ids nobody agrees on or nobody uses.
    pub fn name(codec: u16) -> Option<&'static str> {
        Some(match codec & 0xff {
            0x4C => "mpeg4",
            0x4D => "h263",
            0x4E => "h264",
            0x4F => "mjpeg",
            0x50 => "hevc",
            0x86..=0x88 | 0x90 => "aac",
            0x89 => "pcm_mulaw",
            0x8A => "pcm_alaw",
            0x8B => "adpcm",
            0x8C => "pcm_s16le",
            0x8E => "mp3",
            0x92 => "opus",
            _ => return None,
        })
    }

    /// Samples per audio frame (go2rtc): AAC 1024, MP3 1152, Opus 960, the others 160.
    pub fn samples_per_frame(codec: u16) -> u32 {
        match codec & 0xff {
            0x86..=0x88 | 0x90 => 1024,
            0x8E => 1152,
            0x92 => 960,
            _ => 160,
        }
    }
}

/// Bitrates in KB/s (tutk.md §5.2).
pub mod bitrate {
    /// The app's "360P" choice.
    pub const B360P: u16 = 0x1E;
    /// The app's "SD" choice.
    pub const SD: u16 = 0x3C;
    /// The app's "HD" choice (the default of DWB/KROO requests).
    pub const HD: u16 = 0x78;
    /// Higher than the app ever asks.
    pub const SUPER_HD: u16 = 0x96;
    /// The maximum (go2rtc `BitrateMax`).
    pub const SUPER_SUPER_HD: u16 = 0xF0;

    /// The bitrate go2rtc asks for with a frame size (`SetResolution`): [`SD`] (60) with 360p,
    /// [`SUPER_SUPER_HD`] (240) with every other size.
    ///
    /// ```
    /// use camctl_wyze::wire::{FrameSize, bitrate};
    /// assert_eq!(bitrate::go2rtc(FrameSize::SD_360P), 60);
    /// assert_eq!(bitrate::go2rtc(FrameSize::HD_720P), 240);
    /// ```
    pub fn go2rtc(frame_size: super::FrameSize) -> u16 {
        if frame_size == super::FrameSize::SD_360P { SD } else { SUPER_SUPER_HD }
    }
}

/// A frame size (`FRAMEINFO.frame_size`; K10056/K10052 send the value + 1), tutk.md §5.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameSize(pub u8);

impl FrameSize {
    /// 1920x1080 "HD".
    pub const HD_1080P: FrameSize = FrameSize(0);
    /// 640x360 "SD".
    pub const SD_360P: FrameSize = FrameSize(1);
    /// 1280x720 (go2rtc).
    pub const HD_720P: FrameSize = FrameSize(2);
    /// 2560x1440 2K (also doorbell HD, portrait 1296x1728).
    pub const QHD_2K: FrameSize = FrameSize(3);
    /// Doorbell SD (portrait 480x640) / floodlight HD; DWB: "2K returns frame_size=4".
    pub const FOUR: FrameSize = FrameSize(4);

    /// The user-facing name: `1080p`, `360p`, `720p`, `2k`, else the number.
    pub fn name(self) -> String {
        match self.0 {
            0 => "1080p".into(),
            1 => "360p".into(),
            2 => "720p".into(),
            3 => "2k".into(),
            n => n.to_string(),
        }
    }

    /// Parses a user-facing name (`1080p`/`hd`, `360p`/`sd`, `720p`, `2k`) or a raw number 0..=5.
    pub fn parse(s: &str) -> Option<FrameSize> {
        match s.trim().to_ascii_lowercase().as_str() {
            "1080p" | "hd" => Some(Self::HD_1080P),
            "360p" | "sd" => Some(Self::SD_360P),
            "720p" => Some(Self::HD_720P),
            "2k" => Some(Self::QHD_2K),
            other => other.parse::<u8>().ok().filter(|n| *n <= 5).map(FrameSize),
        }
    }

    /// Nominal picture size (width, height) where the reference names one.
    pub fn dimensions(self) -> Option<(u32, u32)> {
        match self.0 {
            0 => Some((1920, 1080)),
            1 => Some((640, 360)),
            2 => Some((1280, 720)),
            3 => Some((2560, 1440)),
            _ => None,
        }
    }

    /// Whether a camera reporting `reported` honours a request for `self` (DWB `valid_frame_size`: HD
    /// also accepts 3, SD also accepts 4, 2K also accepts 4).
    pub fn accepts(self, reported: FrameSize) -> bool {
        let alt = self.0.saturating_add(if self.0 >= 3 { 1 } else { 3 });
        reported == self || reported.0 == alt
    }
}

/// Audio flags byte (tutk.md §5.3): `(sample_rate_idx << 2) | (bits16 << 1) | stereo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFlags {
    /// Sample rate in Hz (one of the nine TUTK rates).
    pub sample_rate: u32,
    /// 16-bit samples (else 8-bit).
    pub bits16: bool,
    /// Two channels.
    pub stereo: bool,
}

const SAMPLE_RATES: [u32; 9] = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];

impl AudioFlags {
    /// Reads the flags byte; `None` for a sample-rate index beyond 8.
    pub fn from_byte(b: u8) -> Option<Self> {
        let rate = *SAMPLE_RATES.get(usize::from(b >> 2))?;
        Some(AudioFlags { sample_rate: rate, bits16: b & 2 != 0, stereo: b & 1 != 0 })
    }

    /// The flags byte; `None` if the sample rate is not one of the TUTK rates.
    pub fn to_byte(self) -> Option<u8> {
        let idx = SAMPLE_RATES.iter().position(|r| *r == self.sample_rate)?;
        Some(((idx as u8) << 2) | (u8::from(self.bits16) << 1) | u8::from(self.stereo))
    }
}

/// `FRAMEINFO_t` (40 bytes, little-endian), field names as KROO/DWB's `FrameInfoStruct`.
///
/// ```
/// use camctl_wyze::wire::{FrameInfo, codec};
/// let info = FrameInfo { codec_id: codec::H264, flags: 1, frame_len: 1234, frame_no: 7, ..Default::default() };
/// let bytes = info.encode();
/// assert_eq!(bytes.len(), 40);
/// assert_eq!(FrameInfo::decode(&bytes).unwrap(), info);
/// assert!(info.is_keyframe());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameInfo {
    /// Codec id ([`codec`]); only the low byte is meaningful.
    pub codec_id: u16,
    /// Video: 1 = keyframe (I-frame). Audio: [`AudioFlags`].
    pub flags: u8,
    /// Camera index.
    pub cam_index: u8,
    /// Number of viewers online.
    pub online_num: u8,
    /// Frames per second.
    pub framerate: u8,
    /// Frame size ([`FrameSize`]).
    pub frame_size: u8,
    /// Bitrate in KB/s (one byte here even though K10056 sends u16).
    pub bitrate: u8,
    /// Sub-second part of the timestamp in microseconds (SEYDX/go2rtc; DWB calls it `timestamp_ms`).
    pub timestamp_us: u32,
    /// Unix seconds.
    pub timestamp: u32,
    /// Payload size in bytes.
    pub frame_len: u32,
    /// Frame number.
    pub frame_no: u32,
    /// The camera's MAC as ASCII (12 bytes, zero-padded).
    pub mac: [u8; 12],
    /// `n_play_token` (padding on the native wire).
    pub play_token: i32,
}

impl FrameInfo {
    /// Decodes the first 40 bytes; extra bytes are ignored (DWB's `FrameInfo3Struct` appends 8).
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        if r.remaining() < FRAMEINFO_LEN {
            return Err(WireError::Truncated("FRAMEINFO"));
        }
        Ok(FrameInfo {
            codec_id: r.u16("codec_id")?,
            flags: r.u8("flags")?,
            cam_index: r.u8("cam_index")?,
            online_num: r.u8("online_num")?,
            framerate: r.u8("framerate")?,
            frame_size: r.u8("frame_size")?,
            bitrate: r.u8("bitrate")?,
            timestamp_us: r.u32("timestamp_ms")?,
            timestamp: r.u32("timestamp")?,
            frame_len: r.u32("frame_len")?,
            frame_no: r.u32("frame_no")?,
            mac: r.array("mac")?,
            play_token: i32::from_le_bytes(r.array("play_token")?),
        })
    }

    /// The 40 wire bytes.
    pub fn encode(&self) -> [u8; FRAMEINFO_LEN] {
        let mut out = [0u8; FRAMEINFO_LEN];
        out[0..2].copy_from_slice(&self.codec_id.to_le_bytes());
        out[2] = self.flags;
        out[3] = self.cam_index;
        out[4] = self.online_num;
        out[5] = self.framerate;
        out[6] = self.frame_size;
        out[7] = self.bitrate;
        out[8..12].copy_from_slice(&self.timestamp_us.to_le_bytes());
        out[12..16].copy_from_slice(&self.timestamp.to_le_bytes());
        out[16..20].copy_from_slice(&self.frame_len.to_le_bytes());
        out[20..24].copy_from_slice(&self.frame_no.to_le_bytes());
        out[24..36].copy_from_slice(&self.mac);
        out[36..40].copy_from_slice(&self.play_token.to_le_bytes());
        out
    }

    /// Whether this is a video frame (by codec id).
    pub fn is_video(&self) -> bool {
        codec::is_video(self.codec_id)
    }

    /// Whether this is an audio frame (by codec id).
    pub fn is_audio(&self) -> bool {
        codec::is_audio(self.codec_id)
    }

    /// Video keyframe flag.
    pub fn is_keyframe(&self) -> bool {
        self.is_video() && self.flags & 1 != 0
    }

    /// The frame size as a [`FrameSize`].
    pub fn frame_size(&self) -> FrameSize {
        FrameSize(self.frame_size)
    }

    /// Audio flags, for audio frames with a valid sample-rate index.
    pub fn audio_flags(&self) -> Option<AudioFlags> {
        if self.is_audio() { AudioFlags::from_byte(self.flags) } else { None }
    }

    /// Timestamp in seconds: `timestamp + timestamp_us / 1e6` (tutk.md §5.4; DWB's decimal concatenation
    /// is not reproduced).
    pub fn time_secs(&self) -> f64 {
        f64::from(self.timestamp) + f64::from(self.timestamp_us % 1_000_000) / 1e6
    }

    /// The MAC field as text (up to the first NUL, lossy).
    pub fn mac_str(&self) -> String {
        let end = self.mac.iter().position(|b| *b == 0).unwrap_or(self.mac.len());
        String::from_utf8_lossy(&self.mac[..end]).into_owned()
    }

    /// Puts `mac` (first 12 bytes, zero-padded) into the MAC field.
    pub fn set_mac(&mut self, mac: &str) {
        self.mac = [0; 12];
        let bytes = mac.as_bytes();
        let n = bytes.len().min(12);
        self.mac[..n].copy_from_slice(&bytes[..n]);
    }
}
