//! The AV resend mode (tutk.md §6.4.4, from SEYDX §9.6–9.7), both roles, sans-IO.
//!
//! A client that writes resend = 1 in its AV login gets media in the 0x0C "resend" format: the direct
//! packet's first 8 bytes (channel, frame type, version, sequence, 0x507E) give way to a 16-byte prefix
//! that starts with 0x0C and carries the packet's transmit sequence number, so the rest of the direct
//! header follows with its channel byte at 16 (frame types below 0x08) or 24 (0x08 and up), as SEYDX
//! describes. The camera also sends 1080-byte frame-index packets every so often. The client notices a
//! missing sequence number (a gap, or a frame index naming a later one), asks for it, holds back what
//! came after it until it arrives or is given up, and so hands the reassembler packets in order: a
//! frame is complete, or a clean gap, never corrupt.
//!
//! SEYDX documents neither the client's retransmission request nor what exactly the frame index
//! carries; the choices are in [`ResendConfig`] and in `tutk/mod.rs`.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::PacketError;
use super::av::{MediaPacket, u16_at, u32_at};

/// First byte of every resend-format packet.
pub const WRAP: u8 = 0x0C;
/// Version written at `[2..3]` of resend-format packets (SEYDX's 0x000B).
pub const WRAP_VERSION: u16 = 0x000B;
/// Bytes of a frame-index packet.
pub const INDEX_LEN: usize = 1080;
/// `[10..11]` of a frame-index packet (SEYDX: `14 14`).
const INDEX_MAGIC: u16 = 0x1414;
/// `[10..11]` of a resend-format media packet (SEYDX's example: `00 14`).
const MEDIA_MAGIC: u16 = 0x1400;
/// Sequence numbers read from one retransmission request at most (whatever it declares).
pub const MAX_REQUEST_SEQS: usize = 512;

/// The most packets a camera keeps for retransmission (half of the 16-bit sequence space).
pub const MAX_HISTORY_PACKETS: usize = 32_768;

/// Resend-mode settings of both roles. The defaults are camctl's: no reference gives values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResendConfig {
    /// Camera: sent packets kept for retransmission (default 4096, about 4 MiB of 1 KiB packets).
    pub history_packets: usize,
    /// Camera: bytes of sent packets kept (default 6 MiB); the oldest go first beyond either bound.
    pub history_bytes: usize,
    /// Camera: times one packet is retransmitted at most (default 6), so that requests cannot make
    /// the camera send more than a bounded multiple of its stream.
    pub max_retransmits: u8,
    /// Camera: frame-index period (default 100 ms; SEYDX: "periodically").
    pub index_period: Duration,
    /// Byte `[1]` of the client's retransmission request (default 0x0A, a value no media frame type
    /// uses). No open reference documents the request; see `tutk/mod.rs`.
    pub request_kind: u8,
    /// Client: wait this long after noticing a gap before asking (default 10 ms: a packet merely
    /// overtaken by a later one usually turns up by then).
    pub request_delay: Duration,
    /// Client: ask again this often while a packet is missing (default 40 ms).
    pub request_interval: Duration,
    /// Client: requests per missing packet at most (default 12).
    pub max_requests: u32,
    /// Client: a missing packet is given up this long after it was noticed (default 700 ms); the
    /// frame it belonged to becomes a clean gap.
    pub give_up: Duration,
    /// Client: missing packets tracked at most (default 1024); beyond it the oldest are given up.
    pub max_missing: usize,
    /// Client: sequence numbers per request at most (default 128, capped at [`MAX_REQUEST_SEQS`]).
    pub max_per_request: usize,
    /// Client: packets held back behind a missing one at most (default 4096).
    pub max_held_packets: usize,
    /// Client: bytes held back at most (default 8 MiB); beyond either bound the oldest missing
    /// packet is given up.
    pub max_held_bytes: usize,
}

impl Default for ResendConfig {
    fn default() -> Self {
        ResendConfig {
            history_packets: 4096,
            history_bytes: 6 << 20,
            max_retransmits: 6,
            index_period: Duration::from_millis(100),
            request_kind: 0x0A,
            request_delay: Duration::from_millis(10),
            request_interval: Duration::from_millis(40),
            max_requests: 12,
            give_up: Duration::from_millis(700),
            max_missing: 1024,
            max_per_request: 128,
            max_held_packets: 4096,
            max_held_bytes: 8 << 20,
        }
    }
}

/// Counters of both roles (each role fills its own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResendStats {
    /// Camera: media packets sent in the resend format.
    pub packets_sent: u64,
    /// Camera: packets retransmitted on request.
    pub retransmitted: u64,
    /// Camera: frame-index packets sent.
    pub index_sent: u64,
    /// Camera: retransmission requests received.
    pub requests_received: u64,
    /// Camera: requested sequence numbers no longer (or never) in the history.
    pub unknown_requested: u64,
    /// Camera: requested packets not sent again because they were retransmitted often enough.
    pub refused: u64,
    /// Client: media packets received in the resend format.
    pub wrapped_received: u64,
    /// Client: frame-index packets received.
    pub index_received: u64,
    /// Client: retransmission requests sent.
    pub requests_sent: u64,
    /// Client: sequence numbers asked for (a packet asked for twice counts twice).
    pub seqs_requested: u64,
    /// Client: missing packets that arrived after all.
    pub recovered: u64,
    /// Client: missing packets given up.
    pub given_up: u64,
    /// Client: packets that came after their place was given up, or twice.
    pub late: u64,
    /// Client: most packets missing at once.
    pub peak_missing: u64,
    /// Client: most packets held back at once.
    pub peak_held: u64,
}

fn is_media_kind(kind: u8) -> bool {
    matches!(kind, 0x00 | 0x01 | 0x04 | 0x05 | 0x08 | 0x09 | 0x0D)
}

fn is_channel(b: u8) -> bool {
    matches!(b, super::av::CH_AUDIO | super::av::CH_IFRAME | super::av::CH_PFRAME)
}

/// Where the channel byte of a resend-format media packet is (SEYDX's header size rule).
fn channel_offset(kind: u8) -> usize {
    if kind < 0x08 { 16 } else { 24 }
}

/// What a 0x0C-led AV message is, if it is one of the resend formats (`None`: an IOCTRL or other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrapKind {
    /// A media packet.
    Media,
    /// A frame-index packet.
    Index,
    /// A retransmission request (its `[1]`, to be checked against [`ResendConfig::request_kind`]).
    Request,
}

/// Classifies a message by its first bytes. IOCTRL frames also start `0C 00`, but carry 0x7000 at
/// `[16..17]`, where media has a channel byte, frame indexes 0x0C and requests two zero bytes after a
/// nonzero `[1]`.
pub fn classify(b: &[u8]) -> Option<WrapKind> {
    if b.len() < 20 || b[0] != WRAP {
        return None;
    }
    let kind = b[1];
    if is_media_kind(kind) && b.get(channel_offset(kind)).copied().is_some_and(is_channel) {
        return Some(WrapKind::Media);
    }
    if b[16] == WRAP {
        return Some(WrapKind::Index);
    }
    if kind != 0 && b[16] == 0 && b[17] == 0 {
        return Some(WrapKind::Request);
    }
    None
}

/// The resend format of a direct media packet (28- or 36-byte header) with transmit sequence `seq`.
pub fn wrap_media(direct: &[u8], seq: u16, counter: u16) -> Result<Vec<u8>, PacketError> {
    if direct.len() < 28 || !is_channel(direct[0]) || !is_media_kind(direct[1]) {
        return Err(PacketError::Malformed("not a direct media packet"));
    }
    let (channel, kind) = (direct[0], direct[1]);
    let mut w = Vec::with_capacity(direct.len() + 8);
    w.extend_from_slice(&[WRAP, kind]);
    w.extend_from_slice(&WRAP_VERSION.to_le_bytes());
    w.extend_from_slice(&seq.to_le_bytes());
    w.extend_from_slice(&0u16.to_le_bytes());
    w.extend_from_slice(&counter.to_le_bytes());
    w.extend_from_slice(&MEDIA_MAGIC.to_le_bytes());
    w.extend_from_slice(&1u32.to_le_bytes());
    w.extend_from_slice(&direct[8..]);
    // The direct header's channel copy ([8] or [16]) lands where SEYDX puts the channel.
    let at = channel_offset(kind);
    if let Some(c) = w.get_mut(at) {
        *c = channel;
    }
    Ok(w)
}

/// A resend-format media packet decoded: its transmit sequence number and the packet.
pub fn unwrap_media(b: &[u8]) -> Result<(u16, MediaPacket), PacketError> {
    if classify(b) != Some(WrapKind::Media) {
        return Err(PacketError::Malformed("not a resend-format media packet"));
    }
    let (kind, seq) = (b[1], u16_at(b, 4)?);
    let channel = b[channel_offset(kind)];
    let mut direct = Vec::with_capacity(b.len() - 8);
    direct.extend_from_slice(&[channel, kind]);
    direct.extend_from_slice(&super::av::VERSION.to_le_bytes());
    direct.extend_from_slice(&seq.to_le_bytes());
    direct.extend_from_slice(&[0, 0]);
    direct.extend_from_slice(&b[16..]);
    Ok((seq, MediaPacket::decode(&direct)?))
}

/// A frame-index packet (SEYDX §9.7). SEYDX names the channel, frame type and the previous and
/// current frame numbers; camctl puts the newest and oldest transmit sequence numbers of the
/// camera's history in the 4 bytes SEYDX calls "data" (`[38..41]`), which is what lets a client
/// notice that the last packets before a pause were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameIndex {
    /// Transmit sequence number of the newest packet sent.
    pub newest_seq: u16,
    /// Transmit sequence number of the oldest packet still kept.
    pub oldest_seq: u16,
    /// Channel of the newest frame.
    pub channel: u8,
    /// Frame type of the newest packet.
    pub kind: u8,
    /// The frame before the newest.
    pub prev_frame: u32,
    /// The newest frame's number.
    pub frame_no: u32,
}

impl FrameIndex {
    /// The 1080-byte packet.
    pub fn encode(&self, counter: u16) -> Vec<u8> {
        let mut p = vec![0u8; INDEX_LEN];
        p[0] = WRAP;
        p[2..4].copy_from_slice(&WRAP_VERSION.to_le_bytes());
        p[4..6].copy_from_slice(&self.newest_seq.to_le_bytes());
        p[8..10].copy_from_slice(&counter.to_le_bytes());
        p[10..12].copy_from_slice(&INDEX_MAGIC.to_le_bytes());
        p[12..16].copy_from_slice(&1u32.to_le_bytes());
        p[16] = WRAP;
        p[24..26].copy_from_slice(&((INDEX_LEN - 36) as u16).to_le_bytes());
        p[36] = self.channel;
        p[37] = self.kind;
        p[38..40].copy_from_slice(&self.newest_seq.to_le_bytes());
        p[40..42].copy_from_slice(&self.oldest_seq.to_le_bytes());
        p[48..52].copy_from_slice(&self.prev_frame.to_le_bytes());
        p[52..56].copy_from_slice(&self.frame_no.to_le_bytes());
        p
    }

    /// Decodes one (any length from 56 bytes: only the fields read must be there).
    pub fn decode(b: &[u8]) -> Result<Self, PacketError> {
        if classify(b) != Some(WrapKind::Index) {
            return Err(PacketError::Malformed("not a frame-index packet"));
        }
        if b.len() < 56 {
            return Err(PacketError::Short { need: 56, got: b.len() });
        }
        Ok(FrameIndex {
            newest_seq: u16_at(b, 38)?,
            oldest_seq: u16_at(b, 40)?,
            channel: b[36],
            kind: b[37],
            prev_frame: u32_at(b, 48)?,
            frame_no: u32_at(b, 52)?,
        })
    }
}

/// A retransmission request: `[0]` 0x0C, `[1]` the request kind, `[2..3]` 0x000B, `[4..5]` and
/// `[18..19]` the count, `[8..9]` a counter, `[12..15]` 1, then the sequence numbers (u16 each) from 20.
pub fn encode_request(kind: u8, counter: u16, seqs: &[u16]) -> Vec<u8> {
    let seqs = &seqs[..seqs.len().min(MAX_REQUEST_SEQS)];
    let n = seqs.len() as u16;
    let mut p = vec![0u8; 20];
    p[0] = WRAP;
    p[1] = kind;
    p[2..4].copy_from_slice(&WRAP_VERSION.to_le_bytes());
    p[4..6].copy_from_slice(&n.to_le_bytes());
    p[8..10].copy_from_slice(&counter.to_le_bytes());
    p[12..16].copy_from_slice(&1u32.to_le_bytes());
    p[18..20].copy_from_slice(&n.to_le_bytes());
    for s in seqs {
        p.extend_from_slice(&s.to_le_bytes());
    }
    p
}

/// Decodes a request: its kind and at most [`MAX_REQUEST_SEQS`] sequence numbers (fewer when the
/// datagram holds fewer than it declares).
pub fn decode_request(b: &[u8]) -> Result<(u8, Vec<u16>), PacketError> {
    if classify(b) != Some(WrapKind::Request) {
        return Err(PacketError::Malformed("not a retransmission request"));
    }
    let declared = usize::from(u16_at(b, 18)?);
    let n = declared.min((b.len() - 20) / 2).min(MAX_REQUEST_SEQS);
    let seqs = (0..n).map(|i| u16::from_le_bytes([b[20 + 2 * i], b[21 + 2 * i]])).collect();
    Ok((b[1], seqs))
}

struct Sent {
    seq: u16,
    bytes: Vec<u8>,
    resent: u8,
}

/// The camera's half: numbers and wraps outgoing media packets, keeps a bounded history, answers
/// requests from it, and sends the periodic frame index.
pub struct ResendSender {
    config: ResendConfig,
    next_seq: u16,
    counter: u16,
    history: VecDeque<Sent>,
    history_bytes: usize,
    newest: Option<(u8, u8, u32, u32)>,
    next_index: Option<Instant>,
    stats: ResendStats,
}

impl std::fmt::Debug for ResendSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResendSender")
            .field("history", &self.history.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl ResendSender {
    /// A sender with `config`.
    pub fn new(config: ResendConfig) -> Self {
        ResendSender {
            config,
            next_seq: 0,
            counter: 0,
            history: VecDeque::new(),
            history_bytes: 0,
            newest: None,
            next_index: None,
            stats: ResendStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> ResendStats {
        self.stats
    }

    /// Packets and bytes in the history now.
    pub fn history(&self) -> (usize, usize) {
        (self.history.len(), self.history_bytes)
    }

    /// The resend format of one direct media packet, numbered and kept for retransmission.
    pub fn wrap(&mut self, direct: &[u8], now: Instant) -> Result<Vec<u8>, PacketError> {
        let seq = self.next_seq;
        self.counter = self.counter.wrapping_add(1);
        let w = wrap_media(direct, seq, self.counter)?;
        self.next_seq = self.next_seq.wrapping_add(1);
        let prev = self.newest.map_or(0, |n| n.3);
        let frame_no = u32_at(direct, if direct[1] >= 0x08 { 32 } else { 24 }).unwrap_or(0);
        let prev = if frame_no == prev { self.newest.map_or(0, |n| n.2) } else { prev };
        self.newest = Some((direct[0], direct[1], prev, frame_no));
        self.history_bytes += w.len();
        self.history.push_back(Sent { seq, bytes: w.clone(), resent: 0 });
        // Beyond half the 16-bit sequence space two kept packets could share a number and a request
        // would get the older one: the history is capped there whatever the configuration says.
        while self.history.len() > self.config.history_packets.clamp(1, MAX_HISTORY_PACKETS)
            || (self.history_bytes > self.config.history_bytes && self.history.len() > 1)
        {
            if let Some(old) = self.history.pop_front() {
                self.history_bytes -= old.bytes.len();
            }
        }
        self.stats.packets_sent += 1;
        self.next_index.get_or_insert(now + self.config.index_period);
        Ok(w)
    }

    /// Answers a request of the configured kind with the packets still kept, each at most
    /// [`ResendConfig::max_retransmits`] times; at most [`ResendConfig::max_per_request`] are looked at.
    pub fn on_request(&mut self, kind: u8, seqs: &[u16]) -> Vec<Vec<u8>> {
        if kind != self.config.request_kind {
            return Vec::new();
        }
        self.stats.requests_received += 1;
        let Some(front) = self.history.front().map(|s| s.seq) else {
            self.stats.unknown_requested += seqs.len() as u64;
            return Vec::new();
        };
        let mut out = Vec::new();
        for s in seqs.iter().take(self.config.max_per_request.clamp(1, MAX_REQUEST_SEQS)) {
            // The history holds consecutive sequence numbers, so the offset finds the packet.
            let at = usize::from(s.wrapping_sub(front));
            match self.history.get_mut(at) {
                Some(sent) if sent.seq == *s => {
                    if sent.resent < self.config.max_retransmits {
                        sent.resent += 1;
                        self.stats.retransmitted += 1;
                        out.push(sent.bytes.clone());
                    } else {
                        self.stats.refused += 1;
                    }
                }
                _ => self.stats.unknown_requested += 1,
            }
        }
        out
    }

    /// When the next frame index is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_index
    }

    /// The frame index, when due.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Vec<u8>> {
        self.next_index.filter(|t| *t <= now)?;
        self.next_index = Some(now + self.config.index_period);
        let (channel, kind, prev_frame, frame_no) = self.newest?;
        let index = FrameIndex {
            newest_seq: self.next_seq.wrapping_sub(1),
            oldest_seq: self.history.front().map_or(self.next_seq, |s| s.seq),
            channel,
            kind,
            prev_frame,
            frame_no,
        };
        self.counter = self.counter.wrapping_add(1);
        self.stats.index_sent += 1;
        Some(index.encode(self.counter))
    }
}

struct Hole {
    since: Instant,
    next_ask: Instant,
    asks: u32,
}

/// The client's half: notices missing sequence numbers, asks for them, and releases packets in
/// sequence order once nothing before them is missing any more (arrived or given up).
pub struct ResendReceiver {
    config: ResendConfig,
    /// Highest sequence number seen, extended past the u16 wrap.
    highest: Option<u64>,
    /// The next sequence number to release.
    next_release: u64,
    missing: BTreeMap<u64, Hole>,
    held: BTreeMap<u64, MediaPacket>,
    held_bytes: usize,
    counter: u16,
    stats: ResendStats,
}

impl std::fmt::Debug for ResendReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResendReceiver")
            .field("missing", &self.missing.len())
            .field("held", &self.held.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl ResendReceiver {
    /// A receiver with `config`.
    pub fn new(config: ResendConfig) -> Self {
        ResendReceiver {
            config,
            highest: None,
            next_release: 0,
            missing: BTreeMap::new(),
            held: BTreeMap::new(),
            held_bytes: 0,
            counter: 0,
            stats: ResendStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> ResendStats {
        self.stats
    }

    /// Packets missing and packets held back now.
    pub fn outstanding(&self) -> (usize, usize) {
        (self.missing.len(), self.held.len())
    }

    /// Bytes held back now.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    fn extend(&self, s: u16) -> u64 {
        match self.highest {
            // Start high, so that a packet from before the first one never goes below zero.
            None => (1 << 32) | u64::from(s),
            Some(h) => {
                let d = i64::from(s.wrapping_sub(h as u16) as i16);
                (h as i64 + d).max(0) as u64
            }
        }
    }

    /// Everything up to `upto` was sent: what was not seen is missing.
    fn seen_up_to(&mut self, upto: u64, now: Instant) {
        let Some(h) = self.highest else { return };
        if upto <= h {
            return;
        }
        let cap = self.config.max_missing.max(1) as u64;
        let first = (h + 1).max(upto.saturating_sub(cap));
        // Too far behind to be tracked: given up at once.
        self.stats.given_up += first - (h + 1);
        for s in first..upto {
            self.missing.insert(s, Hole { since: now, next_ask: now + self.config.request_delay, asks: 0 });
        }
        while self.missing.len() > self.config.max_missing.max(1) {
            self.missing.pop_first();
            self.stats.given_up += 1;
        }
        self.stats.peak_missing = self.stats.peak_missing.max(self.missing.len() as u64);
    }

    /// Takes one resend-format media packet; returns the packets now in order for the reassembler.
    pub fn on_media(&mut self, seq: u16, pkt: MediaPacket, now: Instant) -> Vec<MediaPacket> {
        self.stats.wrapped_received += 1;
        let s = self.extend(seq);
        match self.highest {
            None => {
                self.highest = Some(s);
                self.next_release = s;
            }
            Some(h) if s > h => {
                self.seen_up_to(s, now);
                self.highest = Some(s);
            }
            Some(_) => {
                if self.missing.remove(&s).is_some() {
                    self.stats.recovered += 1;
                } else {
                    self.stats.late += 1;
                    return Vec::new();
                }
            }
        }
        if s < self.next_release {
            self.stats.late += 1;
            return self.release();
        }
        self.held_bytes += pkt.payload.len();
        self.held.insert(s, pkt);
        self.stats.peak_held = self.stats.peak_held.max(self.held.len() as u64);
        let mut out = Vec::new();
        while self.held.len() > self.config.max_held_packets.max(1)
            || self.held_bytes > self.config.max_held_bytes
        {
            // Over budget: the oldest missing packet is given up, which lets held ones go.
            if self.missing.pop_first().is_none() {
                break;
            }
            self.stats.given_up += 1;
            out.append(&mut self.release());
        }
        out.append(&mut self.release());
        out
    }

    /// Takes a frame index: sequence numbers up to its newest that never came are missing (at most
    /// [`ResendConfig::max_missing`] ahead of the highest received; a farther one is ignored).
    pub fn on_index(&mut self, index: &FrameIndex, now: Instant) -> Vec<MediaPacket> {
        self.stats.index_received += 1;
        if self.highest.is_none() {
            return Vec::new();
        }
        let newest = self.extend(index.newest_seq);
        // An index far ahead of anything received is not believed (a camera that sent that many
        // packets since will show its gaps with the next media packet anyway).
        if let Some(h) = self.highest
            && newest > h
            && newest - h <= self.config.max_missing as u64
        {
            self.seen_up_to(newest + 1, now);
            self.highest = Some(newest);
        }
        self.release()
    }

    fn release(&mut self) -> Vec<MediaPacket> {
        let mut out = Vec::new();
        let Some(highest) = self.highest else { return out };
        loop {
            let n = self.next_release;
            if let Some(p) = self.held.remove(&n) {
                self.held_bytes = self.held_bytes.saturating_sub(p.payload.len());
                out.push(p);
                self.next_release = n + 1;
                continue;
            }
            if self.missing.contains_key(&n) {
                break;
            }
            // Neither here nor awaited (given up): skip to the next that is one or the other.
            let next = [self.held.keys().next(), self.missing.keys().next()]
                .into_iter()
                .flatten()
                .copied()
                .fold(highest + 1, u64::min);
            if next > n {
                self.next_release = next;
            } else {
                break;
            }
        }
        out
    }

    /// When [`ResendReceiver::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.missing.values().map(|h| h.next_ask.min(h.since + self.config.give_up)).min()
    }

    /// Gives up what waited too long and builds the requests that are due; returns the requests
    /// and the packets that giving up released.
    pub fn handle_timeout(&mut self, now: Instant) -> (Vec<Vec<u8>>, Vec<MediaPacket>) {
        let c = &self.config;
        let before = self.missing.len();
        self.missing
            .retain(|_, h| h.since + c.give_up > now && !(h.asks >= c.max_requests && h.next_ask <= now));
        self.stats.given_up += (before - self.missing.len()) as u64;
        let mut due = Vec::new();
        for (s, h) in self.missing.iter_mut().filter(|(_, h)| h.next_ask <= now) {
            h.asks += 1;
            h.next_ask = now + c.request_interval;
            due.push(*s as u16);
        }
        let per = c.max_per_request.clamp(1, MAX_REQUEST_SEQS);
        let kind = c.request_kind;
        let mut requests = Vec::new();
        for chunk in due.chunks(per) {
            self.counter = self.counter.wrapping_add(1);
            requests.push(encode_request(kind, self.counter, chunk));
            self.stats.requests_sent += 1;
            self.stats.seqs_requested += chunk.len() as u64;
        }
        let released = if self.missing.len() < before { self.release() } else { Vec::new() };
        (requests, released)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tutk::av::packetize;
    use crate::wire::{FrameInfo, codec};

    fn packets(frame_no: u32, len: usize) -> Vec<Vec<u8>> {
        let info = FrameInfo { codec_id: codec::H264, frame_no, ..Default::default() };
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + frame_no as usize) as u8).collect();
        packetize(&info, &data, 1024).unwrap()
    }

    #[test]
    fn formats_round_trip_and_are_told_apart_from_ioctrl() {
        for direct in packets(3, 3000) {
            let w = wrap_media(&direct, 0xFFFE, 1).unwrap();
            assert_eq!(w.len(), direct.len() + 8);
            assert_eq!(w[0], WRAP);
            assert_eq!(w[channel_offset(w[1])], direct[0]);
            let (seq, pkt) = unwrap_media(&w).unwrap();
            assert_eq!(seq, 0xFFFE);
            assert_eq!(pkt, MediaPacket::decode(&direct).unwrap());
        }
        let ix = FrameIndex { newest_seq: 9, oldest_seq: 2, channel: 5, kind: 5, prev_frame: 1, frame_no: 2 };
        let b = ix.encode(4);
        assert_eq!(b.len(), INDEX_LEN);
        assert_eq!(FrameIndex::decode(&b).unwrap(), ix);
        let r = encode_request(0x0A, 1, &[1, 2, 0xFFFF]);
        assert_eq!(decode_request(&r).unwrap(), (0x0A, vec![1, 2, 0xFFFF]));
        // A request declaring more than it holds yields what it holds.
        let mut lying = r.clone();
        lying[18..20].copy_from_slice(&60000u16.to_le_bytes());
        assert_eq!(decode_request(&lying).unwrap().1.len(), 3);
        let io = super::super::av::encode_ioctrl(1, 1, 0x100, b"HL\x05\x00");
        assert_eq!(classify(&io), None);
        assert!(classify(&[WRAP; 8]).is_none());
    }

    #[test]
    fn a_lost_packet_is_asked_for_retransmitted_and_released_in_order() {
        let t0 = Instant::now();
        let cfg = ResendConfig::default();
        let mut tx = ResendSender::new(cfg.clone());
        let mut rx = ResendReceiver::new(cfg.clone());
        let wrapped: Vec<Vec<u8>> =
            packets(1, 5000).iter().chain(&packets(2, 2000)).map(|p| tx.wrap(p, t0).unwrap()).collect();
        let mut released = Vec::new();
        for (i, w) in wrapped.iter().enumerate() {
            if i == 2 {
                continue;
            }
            let (seq, pkt) = unwrap_media(w).unwrap();
            released.extend(rx.on_media(seq, pkt, t0));
        }
        // Everything after the hole is held back.
        assert_eq!(released.len(), 2);
        assert_eq!(rx.outstanding(), (1, wrapped.len() - 3));
        assert!(rx.handle_timeout(t0).0.is_empty(), "asked before the request delay");
        let (reqs, _) = rx.handle_timeout(t0 + cfg.request_delay);
        assert_eq!(reqs.len(), 1);
        let (kind, seqs) = decode_request(&reqs[0]).unwrap();
        assert_eq!(seqs, vec![2]);
        let again = tx.on_request(kind, &seqs);
        assert_eq!(again, vec![wrapped[2].clone()]);
        let (seq, pkt) = unwrap_media(&again[0]).unwrap();
        released.extend(rx.on_media(seq, pkt, t0));
        assert_eq!(released.len(), wrapped.len() - 1 + 1);
        let frames: Vec<u32> = released.iter().map(|p| p.frame_no).collect();
        assert!(frames.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(rx.outstanding(), (0, 0));
        assert_eq!(rx.stats().recovered, 1);
    }

    #[test]
    fn tail_loss_is_noticed_from_the_frame_index_and_gaps_are_given_up() {
        let t0 = Instant::now();
        let cfg = ResendConfig::default();
        let mut tx = ResendSender::new(cfg.clone());
        let mut rx = ResendReceiver::new(cfg.clone());
        let wrapped: Vec<Vec<u8>> = packets(1, 3000).iter().map(|p| tx.wrap(p, t0).unwrap()).collect();
        let (seq, pkt) = unwrap_media(&wrapped[0]).unwrap();
        assert_eq!(rx.on_media(seq, pkt, t0).len(), 1);
        let ix = tx.handle_timeout(t0 + cfg.index_period).unwrap();
        rx.on_index(&FrameIndex::decode(&ix).unwrap(), t0);
        assert_eq!(rx.outstanding().0, 2);
        // Nobody answers: the packets are given up by the deadline, and a later one flows at once.
        let (_, released) = rx.handle_timeout(t0 + cfg.give_up);
        assert!(released.is_empty());
        assert_eq!(rx.outstanding(), (0, 0));
        assert_eq!(rx.stats().given_up, 2);
        let (seq, pkt) = unwrap_media(&tx.wrap(&packets(2, 10)[0], t0).unwrap()).unwrap();
        assert_eq!(rx.on_media(seq, pkt, t0).len(), 1);
    }

    #[test]
    fn hostile_requests_and_indexes_stay_bounded() {
        let t0 = Instant::now();
        let cfg = ResendConfig { history_packets: 64, max_missing: 100, ..Default::default() };
        let mut tx = ResendSender::new(cfg.clone());
        let pkt = packets(1, 1000).remove(0);
        for _ in 0..1000 {
            tx.wrap(&pkt, t0).unwrap();
        }
        assert_eq!(tx.history().0, 64);
        // Every sequence number, many times over: each kept packet goes out at most max_retransmits times.
        let all: Vec<u16> = (0..=u16::MAX).collect();
        let mut sent = 0;
        for _ in 0..20 {
            for chunk in all.chunks(cfg.max_per_request) {
                sent += tx.on_request(cfg.request_kind, chunk).len();
            }
        }
        assert_eq!(sent, 64 * usize::from(cfg.max_retransmits));
        // Only the first max_per_request numbers of one request are looked at.
        let before = tx.stats();
        tx.on_request(cfg.request_kind, &all[..MAX_REQUEST_SEQS]);
        let after = tx.stats();
        let looked = (after.unknown_requested + after.refused) - (before.unknown_requested + before.refused);
        assert_eq!(looked, cfg.max_per_request as u64);
        assert!(tx.on_request(cfg.request_kind ^ 1, &[999]).is_empty());
        // A camera naming ever later sequence numbers: the missing set stays within its bound.
        let mut rx = ResendReceiver::new(cfg.clone());
        let (seq, p) = unwrap_media(&tx.wrap(&pkt, t0).unwrap()).unwrap();
        rx.on_media(seq, p, t0);
        for i in 0..10_000u32 {
            let ix = FrameIndex {
                newest_seq: seq.wrapping_add((i * 7919) as u16),
                oldest_seq: 0,
                channel: 5,
                kind: 0,
                prev_frame: 0,
                frame_no: i,
            };
            rx.on_index(&ix, t0);
            assert!(rx.outstanding().0 <= 100);
        }
        let (reqs, _) = rx.handle_timeout(t0 + cfg.request_delay);
        assert!(reqs.len() <= 100usize.div_ceil(cfg.max_per_request));
    }
}
