//! The TUTK AV layer carried in DTLS application data (tutk.md §6.4.4): login and its answer, IOCTRL
//! frames, the 0x0009 ACK flow, media packets and frame reassembly. Sans-IO: [`AvEndpoint`] takes AV
//! messages and an `Instant`, and returns AV messages to send plus events.
//!
//! Interpretations where the reference is silent (both roles here agree; real cameras are tolerated):
//! - ACK `[8..11]` carry the first/last *AV sequence numbers* (`[4..5]`, low 16 bits) of the peer's
//!   IOCTRL frames received, as go2rtc's `msgACK` writes them: both start at 0xFFFF before anything came,
//!   `end` is the highest AV sequence number seen, and after each ACK `start` moves up to `end`. The
//!   IOCTRL *command* sequence number (`[18..19]`) only deduplicates. A real camera must read them so, or
//!   go2rtc's client would never stop its resends; an earlier camctl read them as command sequence
//!   numbers, which agreed with go2rtc for the first three replies only.
//! - An IOCTRL is resent every [`IOCTRL_RESEND`] until an ACK covers its AV sequence number; against a
//!   peer that never sent a matching ACK, any IOCTRL from it also ends the resends (go2rtc's "resend until
//!   answered").
//! - Media `payload_size` is the packet's own payload length; the decoder uses the datagram's actual
//!   length and only the FRAMEINFO's `frame_len` is checked against the reassembled frame.
//! - I- and P-frame packets (0x05/0x07) share one video `frame_no` space; audio (0x03) has its own.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::PacketError;
use super::resend::{self, FrameIndex, ResendConfig, ResendReceiver, ResendSender, ResendStats, WrapKind};
use crate::transport::MediaFrame;
use crate::wire::{FRAMEINFO_LEN, FrameInfo, codec};

/// Login request #1 magic.
pub const MAGIC_LOGIN1: u16 = 0x0000;
/// Login request #2 magic.
pub const MAGIC_LOGIN2: u16 = 0x2000;
/// Login answer magic.
pub const MAGIC_LOGIN_RESP: u16 = 0x2100;
/// IOCTRL frame magic.
pub const MAGIC_IOCTRL: u16 = 0x000C;
/// ACK magic.
pub const MAGIC_ACK: u16 = 0x0009;
/// Protocol version written at `[2..3]`.
pub const VERSION: u16 = 0x000C;
/// The AV login config word at `[540..543]` (go2rtc's value).
pub const LOGIN_CONFIG: u32 = 4;
/// Capabilities sent in login and its answer.
pub const CAPS: u32 = 0x001F_07FB;
/// Media channel byte: audio.
pub const CH_AUDIO: u8 = 0x03;
/// Media channel byte: video I-frame.
pub const CH_IFRAME: u8 = 0x05;
/// Media channel byte: video P-frame.
pub const CH_PFRAME: u8 = 0x07;
/// How often an unacknowledged IOCTRL is resent.
pub const IOCTRL_RESEND: Duration = Duration::from_millis(500);
/// The ACK ticker period while streaming.
pub const ACK_PERIOD: Duration = Duration::from_millis(100);
/// Media payload bytes per packet (keeps datagrams under go2rtc's 1200-byte DTLS MTU).
pub const MEDIA_CHUNK: usize = 1024;
const MAX_PACKETS_PER_FRAME: u16 = 4096;
/// Largest frame reassembled (4 MiB). Real cameras stay far below: the TUTK SDK path of
/// docker-wyze-bridge reads video with an 800 KB `avRecvFrameData2` buffer (tutk.md §6.2), and a 2K
/// H.264 keyframe is a few hundred KB. A bigger frame is dropped as a gap ([`ReassemblyStats::oversized`]).
pub const MAX_FRAME_BYTES: usize = 4 << 20;
/// Bytes held by all partial frames together (both streams); the oldest partial frames are given up
/// beyond it.
pub const MAX_PARTIAL_BYTES: usize = 8 << 20;
const MAX_PARTIAL_FRAMES: usize = 8;
const IOCTRL_MAX_TRIES: u32 = 12;

/// A decoded AV message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AvMessage {
    /// Login request #1 (570 B) or #2 (572 B).
    Login {
        /// #2 rather than #1.
        second: bool,
        /// The random "checksum" at 20..24.
        random: u32,
        /// Account (NUL-terminated field at 24).
        username: String,
        /// Password (NUL-terminated field at 280).
        password: String,
        /// The resend word at 536 is nonzero: media in the resend format ([`super::resend`]).
        resend: bool,
    },
    /// Login answer (0x2100).
    LoginResponse {
        /// `[4] == 0x10`.
        ok: bool,
        /// Echo of the request's random.
        random: u32,
        /// Two-way audio supported.
        two_way_audio: bool,
    },
    /// IOCTRL frame.
    IoCtrl {
        /// AV sequence number (`[4..5]`), what ACKs acknowledge; `None` in the 0x7000/0x1000 layouts,
        /// which go2rtc does not count either.
        av_seq: Option<u16>,
        /// Command sequence number (`[18..19]`): duplicates are dropped by it.
        cmd_seq: u16,
        /// The ioctrl type (0x100 for HL).
        ctrl_type: u32,
        /// Payload (the HL message).
        data: Vec<u8>,
    },
    /// ACK (0x0009).
    Ack {
        /// First acknowledged AV sequence number (0xFFFF before anything was received).
        start: u16,
        /// Last acknowledged AV sequence number (the highest received).
        end: u16,
    },
    /// A media packet in the direct format.
    Media(MediaPacket),
    /// A media packet in the resend format ([`super::resend`]).
    WrappedMedia {
        /// Its transmit sequence number.
        seq: u16,
        /// The packet.
        packet: MediaPacket,
    },
    /// A frame-index packet (resend mode, camera to client).
    FrameIndex(FrameIndex),
    /// A retransmission request (resend mode, client to camera).
    ResendRequest {
        /// Its `[1]`.
        kind: u8,
        /// The sequence numbers asked for.
        seqs: Vec<u16>,
    },
}

/// One media packet (part of a frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPacket {
    /// 0x03 audio, 0x05 I-frame, 0x07 P-frame.
    pub channel: u8,
    /// Frame type byte (0x00, 0x01, 0x04, 0x05, 0x08, 0x09, 0x0D).
    pub kind: u8,
    /// Packets in the frame.
    pub total: u16,
    /// This packet's index (end packets: `total - 1`, whatever the marker field says).
    pub index: u16,
    /// Frame number.
    pub frame_no: u32,
    /// Payload bytes (FRAMEINFO stripped).
    pub payload: Vec<u8>,
    /// The FRAMEINFO an end packet carries.
    pub info: Option<FrameInfo>,
}

pub(super) fn u16_at(b: &[u8], at: usize) -> Result<u16, PacketError> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or(PacketError::Short { need: at + 2, got: b.len() })
}

pub(super) fn u32_at(b: &[u8], at: usize) -> Result<u32, PacketError> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(PacketError::Short { need: at + 4, got: b.len() })
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn put_field(p: &mut [u8], at: usize, s: &str) {
    // 256-byte fields, NUL-terminated: at most 255 bytes of text.
    let n = s.len().min(255);
    p[at..at + n].copy_from_slice(&s.as_bytes()[..n]);
}

/// Login request #1 (570 bytes) and #2 (572 bytes), sent 10 ms apart by the client; `resend` asks
/// for the resend format (the word at 536, SEYDX).
pub fn encode_login(second: bool, random: u32, username: &str, password: &str, resend: bool) -> Vec<u8> {
    let size = if second { 572 } else { 570 };
    let mut p = vec![0u8; size];
    let magic = if second { MAGIC_LOGIN2 } else { MAGIC_LOGIN1 };
    p[0..2].copy_from_slice(&magic.to_le_bytes());
    p[2..4].copy_from_slice(&VERSION.to_le_bytes());
    p[16..18].copy_from_slice(&((size - 24) as u16).to_le_bytes());
    p[18..20].copy_from_slice(&u16::from(!second).to_le_bytes());
    let mut r = random.to_le_bytes();
    if second {
        r[0] = r[0].wrapping_add(1);
    }
    p[20..24].copy_from_slice(&r);
    put_field(&mut p, 24, username);
    put_field(&mut p, 280, password);
    p[536..540].copy_from_slice(&u32::from(resend).to_le_bytes());
    // The config word go2rtc writes (4), since go2rtc is known to work with real cameras; FSS/SEYDX
    // write 2 ("security_mode"). The camera role accepts any value.
    p[540..544].copy_from_slice(&LOGIN_CONFIG.to_le_bytes());
    p[552..556].copy_from_slice(&CAPS.to_le_bytes());
    p
}

/// The 60-byte login answer (go2rtc `msgAVLoginResponse`).
pub fn encode_login_response(ok: bool, random: u32, two_way_audio: bool) -> Vec<u8> {
    let mut p = vec![0u8; 60];
    p[0..2].copy_from_slice(&MAGIC_LOGIN_RESP.to_le_bytes());
    p[2..4].copy_from_slice(&VERSION.to_le_bytes());
    // 0x10 is the only documented value (success); a refusal is signalled by anything else.
    p[4] = if ok { 0x10 } else { 0x00 };
    p[16..20].copy_from_slice(&0x24u32.to_le_bytes());
    p[20..24].copy_from_slice(&random.to_le_bytes());
    p[29] = 1;
    p[31] = u8::from(two_way_audio);
    p[36..40].copy_from_slice(&4u32.to_le_bytes());
    p[40..44].copy_from_slice(&CAPS.to_le_bytes());
    p[54..56].copy_from_slice(&3u16.to_le_bytes());
    p[56..58].copy_from_slice(&2u16.to_le_bytes());
    p
}

/// An IOCTRL frame (both directions use the client→camera layout).
pub fn encode_ioctrl(av_seq: u32, cmd_seq: u16, ctrl_type: u32, data: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0..2].copy_from_slice(&MAGIC_IOCTRL.to_le_bytes());
    p[2..4].copy_from_slice(&VERSION.to_le_bytes());
    p[4..8].copy_from_slice(&av_seq.to_le_bytes());
    p[16..18].copy_from_slice(&0x7000u16.to_le_bytes());
    p[18..20].copy_from_slice(&cmd_seq.to_le_bytes());
    p[20..24].copy_from_slice(&1u32.to_le_bytes());
    p[24..28].copy_from_slice(&(data.len() as u32 + 4).to_le_bytes());
    p[28..32].copy_from_slice(&u32::from(cmd_seq).to_le_bytes());
    p[36..40].copy_from_slice(&ctrl_type.to_le_bytes());
    p.extend_from_slice(data);
    p
}

/// A 24-byte ACK.
pub fn encode_ack(av_seq: u32, start: u16, end: u16, counter: u16, ms: u16) -> Vec<u8> {
    let mut p = vec![0u8; 24];
    p[0..2].copy_from_slice(&MAGIC_ACK.to_le_bytes());
    p[2..4].copy_from_slice(&VERSION.to_le_bytes());
    p[4..8].copy_from_slice(&av_seq.to_le_bytes());
    p[8..10].copy_from_slice(&start.to_le_bytes());
    p[10..12].copy_from_slice(&end.to_le_bytes());
    p[12..14].copy_from_slice(&counter.to_le_bytes());
    p[16..20].copy_from_slice(&(u32::from(counter) << 16).to_le_bytes());
    p[20..22].copy_from_slice(&ms.to_le_bytes());
    p
}

fn is_end(kind: u8, total: u16) -> bool {
    matches!(kind, 0x01 | 0x05 | 0x0D) || (kind == 0x09 && total == 1)
}

fn codec_fits(channel: u8, codec_id: u16) -> bool {
    if channel == CH_AUDIO { codec::is_audio(codec_id) } else { codec::is_video(codec_id) }
}

impl MediaPacket {
    /// Encodes with the 28- or 36-byte header its `kind` calls for; end packets append `info`.
    pub fn encode(&self) -> Vec<u8> {
        let long = matches!(self.kind, 0x08 | 0x09 | 0x0D);
        let hl = if long { 36 } else { 28 };
        let mut p = vec![0u8; hl];
        p[0] = self.channel;
        p[1] = self.kind;
        p[2..4].copy_from_slice(&VERSION.to_le_bytes());
        let end = is_end(self.kind, self.total);
        // End packets carry the 0x0028 (FRAMEINFO length) marker in the index field.
        let idx = if end { FRAMEINFO_LEN as u16 } else { self.index };
        let (t, i, s, f) = if long { (20, 22, 24, 32) } else { (12, 14, 16, 24) };
        p[t..t + 2].copy_from_slice(&self.total.to_le_bytes());
        p[i..i + 2].copy_from_slice(&idx.to_le_bytes());
        p[s..s + 2].copy_from_slice(&(self.payload.len() as u16).to_le_bytes());
        p[f..f + 4].copy_from_slice(&self.frame_no.to_le_bytes());
        p.extend_from_slice(&self.payload);
        if end && let Some(info) = &self.info {
            p.extend_from_slice(&info.encode());
        }
        p
    }

    /// Decodes a media packet. Total: typed errors for anything malformed.
    pub fn decode(b: &[u8]) -> Result<Self, PacketError> {
        let (&channel, rest) = b.split_first().ok_or(PacketError::Short { need: 2, got: 0 })?;
        if !matches!(channel, CH_AUDIO | CH_IFRAME | CH_PFRAME) {
            return Err(PacketError::Malformed("unknown media channel byte"));
        }
        let kind = *rest.first().ok_or(PacketError::Short { need: 2, got: 1 })?;
        let (hl, t, i, f) = match kind {
            0x00 | 0x01 | 0x04 | 0x05 => (28, 12, 14, 24),
            0x08 | 0x09 | 0x0D => (36, 20, 22, 32),
            _ => return Err(PacketError::Malformed("unknown media frame type")),
        };
        if b.len() < hl {
            return Err(PacketError::Short { need: hl, got: b.len() });
        }
        let total = u16_at(b, t)?;
        if total == 0 || total > MAX_PACKETS_PER_FRAME {
            return Err(PacketError::Malformed("media packet count out of range"));
        }
        let end = is_end(kind, total);
        let index = if end {
            total - 1
        } else if kind == 0x08 || kind == 0x09 {
            0
        } else {
            u16_at(b, i)?
        };
        if index >= total {
            return Err(PacketError::Malformed("media packet index beyond the packet count"));
        }
        let frame_no = u32_at(b, f)?;
        let mut payload = &b[hl..];
        let mut info = None;
        if end && payload.len() >= FRAMEINFO_LEN {
            let (body, tail) = payload.split_at(payload.len() - FRAMEINFO_LEN);
            // go2rtc strips the trailer only when it is a plausible FRAMEINFO for this channel.
            if let Ok(fi) = FrameInfo::decode(tail)
                && codec_fits(channel, fi.codec_id)
            {
                info = Some(fi);
                payload = body;
            }
        }
        Ok(MediaPacket { channel, kind, total, index, frame_no, payload: payload.to_vec(), info })
    }
}

impl AvMessage {
    /// Classifies and decodes one AV message (the plaintext of one DTLS record).
    pub fn decode(b: &[u8]) -> Result<Self, PacketError> {
        // Resend-format packets start 0x0C like IOCTRL frames; they are told apart first.
        match resend::classify(b) {
            Some(WrapKind::Media) => {
                let (seq, packet) = resend::unwrap_media(b)?;
                return Ok(AvMessage::WrappedMedia { seq, packet });
            }
            Some(WrapKind::Index) => return Ok(AvMessage::FrameIndex(FrameIndex::decode(b)?)),
            Some(WrapKind::Request) => {
                let (kind, seqs) = resend::decode_request(b)?;
                return Ok(AvMessage::ResendRequest { kind, seqs });
            }
            None => {}
        }
        let magic = u16_at(b, 0)?;
        match magic {
            MAGIC_LOGIN1 | MAGIC_LOGIN2 => {
                if b.len() < 536 {
                    return Err(PacketError::Short { need: 536, got: b.len() });
                }
                let second = magic == MAGIC_LOGIN2;
                let mut random = u32_at(b, 20)?.to_le_bytes();
                if second {
                    random[0] = random[0].wrapping_sub(1);
                }
                Ok(AvMessage::Login {
                    second,
                    random: u32::from_le_bytes(random),
                    username: cstr(&b[24..280]),
                    password: cstr(&b[280..536]),
                    resend: u32_at(b, 536).is_ok_and(|r| r != 0),
                })
            }
            MAGIC_LOGIN_RESP => Ok(AvMessage::LoginResponse {
                ok: *b.get(4).ok_or(PacketError::Short { need: 5, got: b.len() })? == 0x10,
                random: u32_at(b, 20)?,
                two_way_audio: b.get(31).copied().unwrap_or(0) == 1,
            }),
            MAGIC_IOCTRL => {
                if b.len() < 40 {
                    return Err(PacketError::Short { need: 40, got: b.len() });
                }
                let declared = u32_at(b, 24)?.saturating_sub(4) as usize;
                // A length beyond the datagram is clamped to what arrived (lenient, like go2rtc).
                let end = 40usize.saturating_add(declared).min(b.len());
                Ok(AvMessage::IoCtrl {
                    av_seq: Some(u16_at(b, 4)?),
                    cmd_seq: u16_at(b, 18)?,
                    ctrl_type: u32_at(b, 36)?,
                    data: b[40..end].to_vec(),
                })
            }
            0x7000 | 0x1000 => {
                // Camera command frames in other layouts: go2rtc scans for "HL" from offset 32.
                let at = b.get(32..).and_then(|s| s.windows(2).position(|w| w == b"HL"));
                match at {
                    Some(at) => Ok(AvMessage::IoCtrl {
                        av_seq: None,
                        cmd_seq: u16_at(b, 18).unwrap_or(0),
                        ctrl_type: crate::transport::IOTYPE_USER_DEFINED_START,
                        data: b[32 + at..].to_vec(),
                    }),
                    None => Err(PacketError::Malformed("command frame without an HL message")),
                }
            }
            MAGIC_ACK => Ok(AvMessage::Ack { start: u16_at(b, 8)?, end: u16_at(b, 10)? }),
            _ => Ok(AvMessage::Media(MediaPacket::decode(b)?)),
        }
    }
}

/// Splits one frame into media packets (`chunk` payload bytes each, at least 1).
pub fn packetize(info: &FrameInfo, data: &[u8], chunk: usize) -> Result<Vec<Vec<u8>>, PacketError> {
    let chunk = chunk.max(1);
    let channel = if codec::is_audio(info.codec_id) {
        CH_AUDIO
    } else if info.is_keyframe() {
        CH_IFRAME
    } else {
        CH_PFRAME
    };
    let n = data.len().div_ceil(chunk).max(1);
    let total = u16::try_from(n)
        .ok()
        .filter(|t| *t <= MAX_PACKETS_PER_FRAME)
        .ok_or(PacketError::Malformed("frame too large for one media frame"))?;
    let mut info = *info;
    info.frame_len = data.len() as u32;
    let parts: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(chunk).collect() };
    Ok(parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let kind = match (total, i) {
                (1, _) => 0x09,
                (_, 0) => 0x08,
                (t, i) if i + 1 == usize::from(t) => 0x05,
                _ => 0x00,
            };
            let last = i + 1 == usize::from(total);
            MediaPacket {
                channel,
                kind,
                total,
                index: i as u16,
                frame_no: info.frame_no,
                payload: part.to_vec(),
                info: last.then_some(info),
            }
            .encode()
        })
        .collect())
}

/// Counters of [`Reassembler`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Frames delivered.
    pub frames: u64,
    /// Incomplete frames given up (lost packets).
    pub incomplete: u64,
    /// Frames dropped because their packets disagreed (count, size or FRAMEINFO).
    pub inconsistent: u64,
    /// Packets for frames already delivered or given up.
    pub late: u64,
    /// Frames given up because they grew beyond [`MAX_FRAME_BYTES`].
    pub oversized: u64,
}

struct Partial {
    total: u16,
    parts: Vec<Option<Vec<u8>>>,
    have: u16,
    bytes: usize,
    info: Option<FrameInfo>,
}

/// Reassembles frames keyed by (stream, `frame_no`); delivers only complete, consistent frames, in
/// increasing `frame_no` per stream. Memory is bounded: at most 8 partial frames per stream, each of at
/// most [`MAX_FRAME_BYTES`], and [`MAX_PARTIAL_BYTES`] for all of them together.
#[derive(Default)]
pub struct Reassembler {
    partial: BTreeMap<(bool, u32), Partial>,
    /// Payload bytes held in `partial`.
    held: usize,
    last: [Option<u32>; 2],
    stats: ReassemblyStats,
}

impl std::fmt::Debug for Reassembler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reassembler")
            .field("partial", &self.partial.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Reassembler {
    /// A new reassembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counters so far.
    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// Payload bytes held by partial frames.
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    fn drop_partial(&mut self, key: &(bool, u32)) -> bool {
        match self.partial.remove(key) {
            Some(p) => {
                self.held = self.held.saturating_sub(p.bytes);
                true
            }
            None => false,
        }
    }

    /// Adds one packet; returns a frame when this packet completes one.
    pub fn push(&mut self, pkt: MediaPacket) -> Option<MediaFrame> {
        let audio = pkt.channel == CH_AUDIO;
        let key = (audio, pkt.frame_no);
        if let Some(last) = self.last[usize::from(audio)]
            && pkt.frame_no <= last
        {
            self.stats.late += 1;
            return None;
        }
        if !self.partial.contains_key(&key) {
            // Bounded: evict the oldest partial frame of this stream.
            let mine: Vec<_> = self.partial.keys().filter(|k| k.0 == audio).copied().collect();
            if mine.len() >= MAX_PARTIAL_FRAMES && self.drop_partial(&mine[0]) {
                self.stats.incomplete += 1;
            }
            self.partial.insert(
                key,
                Partial {
                    total: pkt.total,
                    parts: vec![None; usize::from(pkt.total)],
                    have: 0,
                    bytes: 0,
                    info: None,
                },
            );
        }
        let p = self.partial.get_mut(&key)?;
        if p.total != pkt.total {
            self.drop_partial(&key);
            self.stats.inconsistent += 1;
            return None;
        }
        if p.bytes.saturating_add(pkt.payload.len()) > MAX_FRAME_BYTES {
            self.drop_partial(&key);
            self.stats.oversized += 1;
            // Later packets of this frame are counted as late, not reassembled again.
            let last = &mut self.last[usize::from(audio)];
            *last = Some(last.map_or(pkt.frame_no, |l| l.max(pkt.frame_no)));
            return None;
        }
        // The shared budget: give up other partial frames (video before audio, oldest first).
        while self.held.saturating_add(pkt.payload.len()) > MAX_PARTIAL_BYTES {
            let Some(victim) = self.partial.keys().find(|k| **k != key).copied() else { break };
            self.drop_partial(&victim);
            self.stats.incomplete += 1;
        }
        let p = self.partial.get_mut(&key)?;
        if pkt.info.is_some() {
            p.info = pkt.info;
        }
        let slot = p.parts.get_mut(usize::from(pkt.index))?;
        if slot.is_none() {
            p.bytes += pkt.payload.len();
            self.held += pkt.payload.len();
            p.have += 1;
            *slot = Some(pkt.payload);
        }
        if p.have < p.total {
            return None;
        }
        let p = self.partial.remove(&key)?;
        self.held = self.held.saturating_sub(p.bytes);
        // Every older partial frame of this stream is now a gap.
        let older: Vec<_> =
            self.partial.keys().filter(|k| k.0 == audio && k.1 < pkt.frame_no).copied().collect();
        for k in older {
            self.drop_partial(&k);
            self.stats.incomplete += 1;
        }
        self.last[usize::from(audio)] = Some(pkt.frame_no);
        let Some(info) = p.info else {
            self.stats.inconsistent += 1;
            return None;
        };
        let data: Vec<u8> = p.parts.into_iter().flatten().flatten().collect();
        // A FRAMEINFO size of 0 says nothing (go2rtc ignores the field): the packets tell the size.
        if info.frame_len != 0 && data.len() != info.frame_len as usize {
            self.stats.inconsistent += 1;
            return None;
        }
        self.stats.frames += 1;
        Some((info, data))
    }
}

/// What [`AvEndpoint::on_message`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AvEvent {
    /// A new (not duplicate) IOCTRL message.
    IoCtrl(u32, Vec<u8>),
    /// A complete media frame.
    Frame(FrameInfo, Vec<u8>),
    /// A login request (camera role).
    Login {
        /// Random to echo.
        random: u32,
        /// Account.
        username: String,
        /// Password.
        password: String,
        /// The client asked for the resend format.
        resend: bool,
    },
    /// A login answer (client role).
    LoginResponse {
        /// Accepted.
        ok: bool,
    },
}

struct Pending {
    /// The frame's AV sequence number (low 16 bits): what the peer's ACK names.
    av_seq: u16,
    frame: Vec<u8>,
    next: Instant,
    tries: u32,
}

/// One end of an AV channel, sans-IO: sequence numbers, reliable IOCTRL (resend until ACKed, duplicate
/// suppression), the ACK flow with its 100 ms ticker, and media reassembly.
pub struct AvEndpoint {
    av_seq: u32,
    cmd_seq: u16,
    ack_counter: u16,
    pending: VecDeque<Pending>,
    seen: VecDeque<u16>,
    /// ACK range of the peer's IOCTRL AV sequence numbers: `[8..9]` and `[10..11]` of the next ACK.
    rx_start: u16,
    rx_end: u16,
    /// Whether any IOCTRL with an AV sequence number came (until then both stay 0xFFFF).
    rx_init: bool,
    peer_acks: bool,
    ticker: Option<Instant>,
    epoch: Instant,
    reassembler: Reassembler,
    accept_media: bool,
    media_ignored: u64,
    resend_tx: Option<ResendSender>,
    resend_rx: Option<ResendReceiver>,
    /// Frames completed by timer work (resend give-ups), for [`AvEndpoint::take_events`].
    timed_events: Vec<AvEvent>,
    /// IOCTRL messages sent again for want of an ACK.
    ioctrl_resent: u64,
}

impl std::fmt::Debug for AvEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvEndpoint")
            .field("av_seq", &self.av_seq)
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl AvEndpoint {
    /// A fresh endpoint; `now` anchors the ACK timestamps.
    pub fn new(now: Instant) -> Self {
        AvEndpoint {
            av_seq: 0,
            // 0 is never used, so an ACK of 0..=0 (nothing received yet) acknowledges nothing.
            cmd_seq: 1,
            ack_counter: 0,
            pending: VecDeque::new(),
            seen: VecDeque::new(),
            rx_start: 0xFFFF,
            rx_end: 0xFFFF,
            rx_init: false,
            peer_acks: false,
            ticker: None,
            epoch: now,
            reassembler: Reassembler::new(),
            accept_media: true,
            media_ignored: 0,
            resend_tx: None,
            resend_rx: None,
            timed_events: Vec::new(),
            ioctrl_resent: 0,
        }
    }

    /// IOCTRL messages sent again so far because no ACK covered them, and how many wait for one now.
    pub fn ioctrl_resends(&self) -> (u64, usize) {
        (self.ioctrl_resent, self.pending.len())
    }

    /// Starts the 100 ms ACK ticker (the client does so after the login answer).
    pub fn start_ticker(&mut self, now: Instant) {
        self.ticker = Some(now + ACK_PERIOD);
    }

    /// Reassembly counters.
    pub fn reassembly(&self) -> ReassemblyStats {
        self.reassembler.stats()
    }

    /// Whether media packets are reassembled (default) or dropped on arrival: a client that asked for
    /// no video or audio does not spend memory on frames the camera sends anyway.
    pub fn set_accept_media(&mut self, on: bool) {
        self.accept_media = on;
    }

    /// Media packets dropped because media was not accepted.
    pub fn media_ignored(&self) -> u64 {
        self.media_ignored
    }

    fn next_av_seq(&mut self) -> u32 {
        let s = self.av_seq;
        self.av_seq = self.av_seq.wrapping_add(1);
        s
    }

    /// The next ACK: the peer's IOCTRL AV sequence numbers from the last ACK's end to the highest
    /// received (go2rtc's `msgACK`).
    pub fn ack(&mut self, now: Instant) -> Vec<u8> {
        let seq = self.next_av_seq();
        self.ack_counter = self.ack_counter.wrapping_add(1);
        let ms = (now.saturating_duration_since(self.epoch).as_millis() & 0xFFFF) as u16;
        let frame = encode_ack(seq, self.rx_start, self.rx_end, self.ack_counter, ms);
        if self.rx_init {
            self.rx_start = self.rx_end;
        }
        frame
    }

    /// Builds an IOCTRL message to send now; it is resent by [`AvEndpoint::handle_timeout`] until ACKed.
    pub fn send_ioctrl(&mut self, ctrl_type: u32, data: &[u8], now: Instant) -> Vec<u8> {
        let seq = self.next_av_seq();
        let cmd_seq = self.cmd_seq;
        self.cmd_seq = self.cmd_seq.checked_add(1).unwrap_or(1);
        let frame = encode_ioctrl(seq, cmd_seq, ctrl_type, data);
        self.pending.push_back(Pending {
            av_seq: seq as u16,
            frame: frame.clone(),
            next: now + IOCTRL_RESEND,
            tries: 0,
        });
        frame
    }

    /// Media packets for one frame (camera role): the direct format, or the resend format once
    /// [`AvEndpoint::enable_resend_sender`] ran.
    pub fn send_frame(
        &mut self,
        info: &FrameInfo,
        data: &[u8],
        now: Instant,
    ) -> Result<Vec<Vec<u8>>, PacketError> {
        let pkts = packetize(info, data, MEDIA_CHUNK)?;
        match &mut self.resend_tx {
            Some(tx) => pkts.iter().map(|p| tx.wrap(p, now)).collect(),
            None => Ok(pkts),
        }
    }

    /// Camera role: the client's login asked for resend; media goes out in the resend format, with
    /// frame indexes, and retransmission requests are answered.
    pub fn enable_resend_sender(&mut self, config: ResendConfig) {
        self.resend_tx = Some(ResendSender::new(config));
    }

    /// Client role: resend-format media is put in order, and missing packets are asked for.
    pub fn enable_resend_receiver(&mut self, config: ResendConfig) {
        self.resend_rx = Some(ResendReceiver::new(config));
    }

    /// Resend counters of whichever role runs (zero when resend is off).
    pub fn resend_stats(&self) -> ResendStats {
        match (&self.resend_tx, &self.resend_rx) {
            (Some(tx), _) => tx.stats(),
            (_, Some(rx)) => rx.stats(),
            _ => ResendStats::default(),
        }
    }

    /// The camera role's resend sender, if resend is on.
    pub fn resend_sender(&self) -> Option<&ResendSender> {
        self.resend_tx.as_ref()
    }

    /// The client role's resend receiver, if resend is on.
    pub fn resend_receiver(&self) -> Option<&ResendReceiver> {
        self.resend_rx.as_ref()
    }

    /// Events produced by [`AvEndpoint::handle_timeout`] (frames released by giving up a missing
    /// packet).
    pub fn take_events(&mut self) -> Vec<AvEvent> {
        std::mem::take(&mut self.timed_events)
    }

    fn reassemble(&mut self, pkts: Vec<MediaPacket>, events: &mut Vec<AvEvent>) {
        for pkt in pkts {
            if let Some((info, data)) = self.reassembler.push(pkt) {
                events.push(AvEvent::Frame(info, data));
            }
        }
    }

    /// Handles one received AV message: returns events and AV messages to send (ACKs).
    pub fn on_message(
        &mut self,
        bytes: &[u8],
        now: Instant,
    ) -> Result<(Vec<AvEvent>, Vec<Vec<u8>>), PacketError> {
        let mut events = Vec::new();
        let mut out = Vec::new();
        match AvMessage::decode(bytes)? {
            AvMessage::Login { random, username, password, resend, .. } => {
                events.push(AvEvent::Login { random, username, password, resend });
            }
            AvMessage::LoginResponse { ok, .. } => events.push(AvEvent::LoginResponse { ok }),
            AvMessage::IoCtrl { av_seq, cmd_seq, ctrl_type, data } => {
                if let Some(seq) = av_seq {
                    // The highest seen, by serial-number order (wrapping): go2rtc keeps the maximum.
                    let newer = seq.wrapping_sub(self.rx_end) < 0x8000 && seq != self.rx_end;
                    if !self.rx_init || newer {
                        self.rx_end = seq;
                    }
                    self.rx_init = true;
                }
                out.push(self.ack(now));
                if !self.peer_acks {
                    // A peer that does not ACK our way has evidently received what we sent.
                    self.pending.clear();
                }
                if !self.seen.contains(&cmd_seq) {
                    self.seen.push_back(cmd_seq);
                    if self.seen.len() > 256 {
                        self.seen.pop_front();
                    }
                    events.push(AvEvent::IoCtrl(ctrl_type, data));
                }
            }
            AvMessage::Ack { start, end } => {
                let before = self.pending.len();
                let span = end.wrapping_sub(start);
                self.pending.retain(|p| p.av_seq.wrapping_sub(start) > span);
                if self.pending.len() < before {
                    self.peer_acks = true;
                }
            }
            AvMessage::Media(_) | AvMessage::WrappedMedia { .. } | AvMessage::FrameIndex(_)
                if !self.accept_media =>
            {
                self.media_ignored += 1
            }
            AvMessage::Media(pkt) => self.reassemble(vec![pkt], &mut events),
            AvMessage::WrappedMedia { seq, packet } => {
                let pkts = match &mut self.resend_rx {
                    Some(rx) => rx.on_media(seq, packet, now),
                    None => vec![packet],
                };
                self.reassemble(pkts, &mut events);
            }
            AvMessage::FrameIndex(index) => {
                if let Some(rx) = &mut self.resend_rx {
                    let pkts = rx.on_index(&index, now);
                    self.reassemble(pkts, &mut events);
                }
            }
            AvMessage::ResendRequest { kind, seqs } => {
                if let Some(tx) = &mut self.resend_tx {
                    out.extend(tx.on_request(kind, &seqs));
                }
            }
        }
        Ok((events, out))
    }

    /// The next instant [`AvEndpoint::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let resend = self.pending.iter().map(|p| p.next).min();
        let index = self.resend_tx.as_ref().and_then(ResendSender::poll_timeout);
        let holes = self.resend_rx.as_ref().and_then(ResendReceiver::poll_timeout);
        [resend, self.ticker, index, holes].into_iter().flatten().min()
    }

    /// Resends due IOCTRLs and emits the periodic ACK. Gives up on an IOCTRL after 12 tries (the
    /// message layer above times out and reports it).
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for p in self.pending.iter_mut().filter(|p| p.next <= now) {
            p.tries += 1;
            self.ioctrl_resent += 1;
            p.next = now + IOCTRL_RESEND;
            out.push(p.frame.clone());
        }
        self.pending.retain(|p| p.tries < IOCTRL_MAX_TRIES);
        if let Some(t) = self.ticker
            && t <= now
        {
            self.ticker = Some(now + ACK_PERIOD);
            out.push(self.ack(now));
        }
        if let Some(index) = self.resend_tx.as_mut().and_then(|tx| tx.handle_timeout(now)) {
            out.push(index);
        }
        if let Some(rx) = &mut self.resend_rx {
            let (requests, released) = rx.handle_timeout(now);
            out.extend(requests);
            let mut events = std::mem::take(&mut self.timed_events);
            self.reassemble(released, &mut events);
            self.timed_events = events;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(no: u32, key: bool, len: usize) -> FrameInfo {
        FrameInfo {
            codec_id: codec::H264,
            flags: u8::from(key),
            frame_no: no,
            frame_len: len as u32,
            ..Default::default()
        }
    }

    #[test]
    fn login_round_trip_and_layout() {
        let l1 = encode_login(false, 0x1234_5678, "admin", "AbCdEfGh/JkLmN0p", false);
        let l2 = encode_login(true, 0x1234_5678, "admin", "AbCdEfGh/JkLmN0p", true);
        assert_eq!((l1.len(), l2.len()), (570, 572));
        assert_eq!(&l1[552..556], &CAPS.to_le_bytes());
        assert_eq!(l2[20], 0x79);
        for (b, second) in [(l1, false), (l2, true)] {
            assert_eq!(
                AvMessage::decode(&b).unwrap(),
                AvMessage::Login {
                    second,
                    random: 0x1234_5678,
                    username: "admin".into(),
                    password: "AbCdEfGh/JkLmN0p".into(),
                    resend: second,
                }
            );
        }
        let r = encode_login_response(true, 7, true);
        assert_eq!(r.len(), 60);
        assert_eq!(&r[..5], &[0x00, 0x21, 0x0C, 0x00, 0x10]);
        assert_eq!(
            AvMessage::decode(&r).unwrap(),
            AvMessage::LoginResponse { ok: true, random: 7, two_way_audio: true }
        );
    }

    #[test]
    fn ioctrl_layout() {
        let f = encode_ioctrl(5, 3, 0x100, b"HLxx");
        assert_eq!(&f[36..40], &[0, 1, 0, 0]);
        assert_eq!(&f[24..28], &[8, 0, 0, 0]);
        assert_eq!(
            AvMessage::decode(&f).unwrap(),
            AvMessage::IoCtrl { av_seq: Some(5), cmd_seq: 3, ctrl_type: 0x100, data: b"HLxx".to_vec() }
        );
        let a = encode_ack(1, 2, 3, 4, 5);
        assert_eq!(AvMessage::decode(&a).unwrap(), AvMessage::Ack { start: 2, end: 3 });
    }

    #[test]
    fn frames_reassemble_in_any_order_and_gaps_are_clean() {
        let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let mut pkts = packetize(&info(1, true, 0), &data, 1024).unwrap();
        assert_eq!(pkts.len(), 5);
        assert_eq!(pkts[0][1], 0x08);
        assert_eq!(pkts[4][1], 0x05);
        pkts.reverse();
        let mut r = Reassembler::new();
        let mut got = None;
        for p in &pkts {
            let m = MediaPacket::decode(p).unwrap();
            if let Some(f) = r.push(m) {
                got = Some(f);
            }
        }
        let (fi, d) = got.unwrap();
        assert_eq!(d, data);
        assert_eq!(fi.frame_len, 5000);
        // Frame 2 loses a packet; frame 3 completes; frame 2's late remainder is dropped.
        let p2 = packetize(&info(2, false, 0), &data, 1024).unwrap();
        let p3 = packetize(&info(3, false, 0), &data[..10], 1024).unwrap();
        assert_eq!(p3[0][1], 0x09);
        for p in &p2[..2] {
            assert!(r.push(MediaPacket::decode(p).unwrap()).is_none());
        }
        assert_eq!(r.push(MediaPacket::decode(&p3[0]).unwrap()).unwrap().1, &data[..10]);
        assert!(r.push(MediaPacket::decode(&p2[3]).unwrap()).is_none());
        let s = r.stats();
        assert_eq!((s.frames, s.incomplete, s.late), (2, 1, 1));
    }

    #[test]
    fn oversized_frames_are_a_clean_gap_and_partials_stay_within_budget() {
        let big = vec![7u8; MAX_FRAME_BYTES + 1];
        let mut r = Reassembler::new();
        for p in packetize(&info(1, true, 0), &big, 60_000).unwrap() {
            assert!(r.push(MediaPacket::decode(&p).unwrap()).is_none());
            assert!(r.held_bytes() <= MAX_FRAME_BYTES);
        }
        assert_eq!(r.stats().oversized, 1);
        assert_eq!(r.held_bytes(), 0);
        // Many large incomplete frames (last packet lost) never hold more than the shared budget.
        let frame = vec![1u8; 3 << 20];
        for no in 2..12 {
            let pkts = packetize(&info(no, false, 0), &frame, 60_000).unwrap();
            for p in &pkts[..pkts.len() - 1] {
                assert!(r.push(MediaPacket::decode(p).unwrap()).is_none());
                assert!(r.held_bytes() <= MAX_PARTIAL_BYTES);
            }
        }
        // A frame of the allowed size still comes through.
        let ok = vec![2u8; MAX_FRAME_BYTES];
        let mut got = None;
        for p in packetize(&info(20, true, 0), &ok, 60_000).unwrap() {
            got = got.or(r.push(MediaPacket::decode(&p).unwrap()));
        }
        assert_eq!(got.unwrap().1.len(), MAX_FRAME_BYTES);
    }

    #[test]
    fn a_frameinfo_size_of_zero_is_not_a_reason_to_drop_the_frame() {
        let mut r = Reassembler::new();
        let data = vec![9u8; 3000];
        let mut zero = info(3, true, 0);
        zero.frame_len = 0;
        let mut got = None;
        for p in packetize(&info(3, true, data.len()), &data, 1024).unwrap() {
            let mut pkt = MediaPacket::decode(&p).unwrap();
            if pkt.info.is_some() {
                pkt.info = Some(zero);
            }
            got = got.or(r.push(pkt));
        }
        assert_eq!(got.unwrap().1, data);
    }

    /// An ACK laid out byte by byte as go2rtc's `msgACK` writes it (pkg/tutk/dtls/conn_dtls.go).
    fn go2rtc_ack(av_seq: u32, rx_start: u16, rx_end: u16, flags: u16) -> Vec<u8> {
        let mut b = vec![0u8; 24];
        b[0..2].copy_from_slice(&0x0009u16.to_le_bytes());
        b[2..4].copy_from_slice(&0x000Cu16.to_le_bytes());
        b[4..8].copy_from_slice(&av_seq.to_le_bytes());
        b[8..10].copy_from_slice(&rx_start.to_le_bytes());
        b[10..12].copy_from_slice(&rx_end.to_le_bytes());
        b[12..14].copy_from_slice(&flags.to_le_bytes());
        b[16..20].copy_from_slice(&(u32::from(flags) << 16).to_le_bytes());
        b
    }

    #[test]
    fn go2rtc_acks_stop_the_resends_of_every_reply_not_only_the_first_three() {
        // The camera role answers six commands; between replies it also sends ACKs, so its AV sequence
        // numbers run ahead of its command sequence numbers from the fourth reply on.
        let t0 = Instant::now();
        let mut camera = AvEndpoint::new(t0);
        let (mut rx_start, mut rx_end, mut flags, mut client_seq) = (0xFFFFu16, 0xFFFFu16, 0u16, 0u32);
        for n in 0..6u32 {
            // The client's command: the camera ACKs it (spending an AV sequence number).
            let cmd = encode_ioctrl(client_seq, n as u16, 0x100, b"HLcmd");
            client_seq += 1;
            let (_, acks) = camera.on_message(&cmd, t0).unwrap();
            assert_eq!(acks.len(), 1);
            let reply = camera.send_ioctrl(0x100, b"HLreply", t0);
            // go2rtc tracks the AV sequence number at [4..5] of camera frames starting 0x000C.
            let seq = u16::from_le_bytes([reply[4], reply[5]]);
            if seq > rx_end || rx_end == 0xFFFF {
                rx_end = seq;
            }
            flags += 1;
            let ack = go2rtc_ack(client_seq, rx_start, rx_end, flags);
            client_seq += 1;
            rx_start = rx_end;
            camera.on_message(&ack, t0).unwrap();
            assert!(
                camera.handle_timeout(t0 + IOCTRL_RESEND).is_empty(),
                "reply {n} resent after go2rtc's ACK"
            );
        }
        assert_eq!(camera.poll_timeout(), None);
    }

    #[test]
    fn acks_carry_the_peer_s_av_sequence_numbers_as_go2rtc_writes_them() {
        let t0 = Instant::now();
        let mut client = AvEndpoint::new(t0);
        // Nothing received yet: 0xFFFF..0xFFFF, as go2rtc starts.
        let first = client.ack(t0);
        assert_eq!(&first[8..12], &[0xFF, 0xFF, 0xFF, 0xFF]);
        let (_, acks) = client.on_message(&encode_ioctrl(7, 1, 0x100, b"HL"), t0).unwrap();
        assert_eq!(AvMessage::decode(&acks[0]).unwrap(), AvMessage::Ack { start: 0xFFFF, end: 7 });
        let (_, acks) = client.on_message(&encode_ioctrl(9, 2, 0x100, b"HL"), t0).unwrap();
        assert_eq!(AvMessage::decode(&acks[0]).unwrap(), AvMessage::Ack { start: 7, end: 9 });
        // A resent older frame does not move the end back.
        let (_, acks) = client.on_message(&encode_ioctrl(7, 1, 0x100, b"HL"), t0).unwrap();
        assert_eq!(AvMessage::decode(&acks[0]).unwrap(), AvMessage::Ack { start: 9, end: 9 });
    }

    #[test]
    fn ioctrl_is_resent_until_acked_and_deduplicated() {
        let t0 = Instant::now();
        let mut a = AvEndpoint::new(t0);
        let mut b = AvEndpoint::new(t0);
        let frame = a.send_ioctrl(0x100, b"HL..", t0);
        let resent = a.handle_timeout(t0 + IOCTRL_RESEND);
        assert_eq!(resent, vec![frame.clone()]);
        let (ev, acks) = b.on_message(&frame, t0).unwrap();
        assert_eq!(ev, vec![AvEvent::IoCtrl(0x100, b"HL..".to_vec())]);
        let (ev2, _) = b.on_message(&frame, t0).unwrap();
        assert!(ev2.is_empty(), "duplicate delivered");
        a.on_message(&acks[0], t0).unwrap();
        assert!(a.handle_timeout(t0 + IOCTRL_RESEND * 3).is_empty());
        assert_eq!(a.poll_timeout(), None);
    }
}
