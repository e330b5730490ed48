//! RTP packetization of access units (RFC 6184 for H.264, RFC 7798 for H.265), RTCP sender reports and
//! BYE (RFC 3550), and the SDP that describes a stream.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;

use crate::live::{Codec, StreamParams};

/// RTP payload type of the video (dynamic range).
pub const PAYLOAD_TYPE: u8 = 96;

/// RTP numbering of one session.
pub(super) struct RtpState {
    pub(super) ssrc: u32,
    pub(super) seq: u16,
    /// RTP timestamp of the first frame sent.
    pub(super) ts_offset: u32,
    /// Source time (pts) of the first frame sent.
    pub(super) base: Option<u64>,
    /// After a join or a drop: send nothing until a keyframe.
    pub(super) waiting_for_keyframe: bool,
    pub(super) packets: u32,
    pub(super) octets: u32,
    pub(super) next_report: Option<Instant>,
    /// RTP timestamp and capture time of the last frame sent, for the report sent with a BYE.
    pub(super) last: Option<(u32, SystemTime)>,
}

impl RtpState {
    /// Fresh numbering from a random number (RFC 3550 asks for random starting values).
    pub(super) fn new(random: u64, random_ts: u32) -> RtpState {
        RtpState {
            ssrc: random as u32,
            seq: (random >> 32) as u16,
            ts_offset: random_ts,
            base: None,
            waiting_for_keyframe: true,
            packets: 0,
            octets: 0,
            next_report: None,
            last: None,
        }
    }

    /// The RTP timestamp of a frame presented at `pts` (90 kHz, like the RTP clock of video).
    pub(super) fn timestamp(&mut self, pts: u64) -> u32 {
        let base = *self.base.get_or_insert(pts);
        // RTP timestamps wrap at 32 bits by design.
        self.ts_offset.wrapping_add(pts.wrapping_sub(base) as u32)
    }
}

/// One RTP packet in parts: the payload is borrowed from the frame and copied once, into the output.
pub(super) struct Packet<'a> {
    header: [u8; 12],
    /// FU indicator and header (H.264: 2 bytes, H.265: 3), empty for a single NAL unit packet.
    prefix: [u8; 3],
    prefix_len: usize,
    payload: &'a [u8],
}

impl Packet<'_> {
    /// Its size on the wire.
    pub(super) fn len(&self) -> usize {
        12 + self.prefix_len + self.payload.len()
    }

    /// Appends the packet to `out`.
    pub(super) fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.header);
        out.extend_from_slice(&self.prefix[..self.prefix_len]);
        out.extend_from_slice(self.payload);
    }
}

/// RTP packets of one access unit, given as its NAL units (no start codes, no delimiters): single NAL
/// unit packets, FU-A (H.264, type 28) or FU (H.265, type 49) fragments for bigger units, the marker
/// on the last packet. `max_payload` must be at least 16.
pub(super) fn packetize<'a>(
    codec: Codec,
    nals: impl Iterator<Item = &'a [u8]>,
    ts: u32,
    rtp: &mut RtpState,
    max_payload: usize,
    mut emit: impl FnMut(&Packet<'_>),
) {
    let mut packet = |marker: bool, prefix: &[u8], payload: &[u8]| {
        let mut header = [0u8; 12];
        header[0] = 0x80;
        header[1] = PAYLOAD_TYPE | if marker { 0x80 } else { 0 };
        header[2..4].copy_from_slice(&rtp.seq.to_be_bytes());
        header[4..8].copy_from_slice(&ts.to_be_bytes());
        header[8..12].copy_from_slice(&rtp.ssrc.to_be_bytes());
        let mut fixed = [0u8; 3];
        fixed[..prefix.len()].copy_from_slice(prefix);
        rtp.seq = rtp.seq.wrapping_add(1);
        rtp.packets = rtp.packets.wrapping_add(1);
        rtp.octets = rtp.octets.wrapping_add((prefix.len() + payload.len()) as u32);
        emit(&Packet { header, prefix: fixed, prefix_len: prefix.len(), payload });
    };
    // The NAL unit header is 1 byte in H.264 and 2 in H.265.
    let header_len = if codec == Codec::H265 { 2 } else { 1 };
    let mut nals = nals.filter(|n| n.len() >= header_len).peekable();
    while let Some(nal) = nals.next() {
        let last_nal = nals.peek().is_none();
        if nal.len() <= max_payload {
            packet(last_nal, &[], nal);
            continue;
        }
        let body = &nal[header_len..];
        let fragments = body.chunks(max_payload - header_len - 1);
        let n = fragments.len();
        for (j, fragment) in fragments.enumerate() {
            let (start, end) = (j == 0, j + 1 == n);
            let flags = u8::from(start) << 7 | u8::from(end) << 6;
            let marker = last_nal && end;
            if codec == Codec::H265 {
                // PayloadHdr: the NAL header with type 49; FU header: S, E and the NAL unit's type.
                let prefix = [(nal[0] & 0x81) | (49 << 1), nal[1], flags | ((nal[0] >> 1) & 0x3f)];
                packet(marker, &prefix, fragment);
            } else {
                packet(marker, &[(nal[0] & 0xe0) | 28, flags | (nal[0] & 0x1f)], fragment);
            }
        }
    }
}

/// An RTCP sender report (RFC 3550 §6.4.1) without report blocks, pairing the RTP timestamp `ts` with
/// the wall-clock time `captured` of the frame that carries it: a viewer maps any RTP timestamp to
/// the camera's capture time with it (and so measures latency).
pub(super) fn sender_report(rtp: &RtpState, ts: u32, captured: SystemTime) -> Vec<u8> {
    let since_epoch = captured.duration_since(UNIX_EPOCH).unwrap_or_default();
    // NTP counts from 1900.
    let ntp_secs = (since_epoch.as_secs() + 2_208_988_800) as u32;
    let ntp_frac = ((u64::from(since_epoch.subsec_nanos()) << 32) / 1_000_000_000) as u32;
    let mut p = Vec::with_capacity(28);
    p.extend_from_slice(&[0x80, 200, 0, 6]);
    for word in [rtp.ssrc, ntp_secs, ntp_frac, ts, rtp.packets, rtp.octets] {
        p.extend_from_slice(&word.to_be_bytes());
    }
    p
}

/// An RTCP BYE (RFC 3550 §6.6) for `ssrc`.
pub(super) fn bye_packet(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x81, 203, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

/// The report that goes before a BYE (RFC 3550 §6.1: a compound packet starts with a report; ffmpeg
/// also ignores RTCP datagrams shorter than 12 bytes, so a lone BYE over UDP would go unnoticed).
pub(super) fn final_report(rtp: &RtpState) -> Vec<u8> {
    let (ts, captured) = rtp.last.unwrap_or((rtp.ts_offset, SystemTime::now()));
    sender_report(rtp, ts, captured)
}

/// `$ channel length` before an interleaved packet of `len` bytes (RFC 2326 §10.12).
pub(super) fn interleave_header(out: &mut Vec<u8>, channel: u8, len: usize) {
    out.push(b'$');
    out.push(channel);
    out.extend_from_slice(&(len.min(usize::from(u16::MAX)) as u16).to_be_bytes());
}

/// The SDP of a stream, as DESCRIBE returns it; `origin` is the server's address. `None` for JPEG,
/// which is not served.
pub(super) fn sdp(params: &StreamParams, origin: SocketAddr, session: u64) -> Option<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let (encoding, fmtp) = match params.codec {
        Codec::H264 => {
            let profile: String =
                params.sps.get(1..4).unwrap_or(&[66, 0xc0, 30]).iter().map(|b| format!("{b:02X}")).collect();
            let sets = format!("{},{}", b64.encode(&params.sps), b64.encode(&params.pps));
            ("H264", format!("packetization-mode=1;profile-level-id={profile};sprop-parameter-sets={sets}"))
        }
        Codec::H265 => {
            let vps = b64.encode(params.vps.as_deref().unwrap_or_default());
            let (sps, pps) = (b64.encode(&params.sps), b64.encode(&params.pps));
            ("H265", format!("sprop-vps={vps};sprop-sps={sps};sprop-pps={pps}"))
        }
        Codec::Jpeg => return None,
    };
    let ip_version = if origin.is_ipv4() { "IP4" } else { "IP6" };
    let ip = origin.ip();
    let mut sdp = format!(
        "v=0\r\no=- {session} 1 IN {ip_version} {ip}\r\ns=camctl live view\r\nc=IN {ip_version} {ip}\r\n\
         t=0 0\r\na=control:*\r\na=range:npt=now-\r\nm=video 0 RTP/AVP {PAYLOAD_TYPE}\r\n\
         a=rtpmap:{PAYLOAD_TYPE} {encoding}/90000\r\na=fmtp:{PAYLOAD_TYPE} {fmtp}\r\n"
    );
    if params.width > 0 && params.height > 0 {
        sdp.push_str(&format!("a=x-dimensions:{},{}\r\n", params.width, params.height));
    }
    sdp.push_str("a=control:trackID=0\r\n");
    Some(sdp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> RtpState {
        RtpState { seq: u16::MAX, waiting_for_keyframe: false, ..RtpState::new(7, 0) }
    }

    fn packets(codec: Codec, nals: &[&[u8]], max_payload: usize) -> Vec<Vec<u8>> {
        let mut rtp = state();
        let mut out = Vec::new();
        packetize(codec, nals.iter().copied(), 1234, &mut rtp, max_payload, |p| {
            let mut bytes = Vec::new();
            p.write_to(&mut bytes);
            assert_eq!(bytes.len(), p.len());
            out.push(bytes);
        });
        assert_eq!(rtp.packets as usize, out.len());
        out
    }

    #[test]
    fn fu_a_fragments_carry_the_whole_unit_and_one_marker() {
        let nal: Vec<u8> = std::iter::once(0x65).chain((0..5000u32).map(|i| i as u8)).collect();
        let packets = packets(Codec::H264, &[&[0x67, 1, 2], &nal], 1400);
        // SPS alone, then ceil(5000 / 1398) = 4 fragments.
        assert_eq!(packets.len(), 5);
        let markers: Vec<bool> = packets.iter().map(|p| p[1] & 0x80 != 0).collect();
        assert_eq!(markers, [false, false, false, false, true]);
        let seqs: Vec<u16> = packets.iter().map(|p| u16::from_be_bytes([p[2], p[3]])).collect();
        assert_eq!(seqs, [u16::MAX, 0, 1, 2, 3]);
        assert_eq!(&packets[0][12..], [0x67, 1, 2]);
        let mut rebuilt = vec![(packets[1][12] & 0xe0) | (packets[1][13] & 0x1f)];
        for p in &packets[1..] {
            assert!(p.len() <= 12 + 1400);
            assert_eq!(p[12] & 0x1f, 28);
            rebuilt.extend_from_slice(&p[14..]);
        }
        assert_eq!(rebuilt, nal);
        assert_eq!(packets[1][13] & 0xc0, 0x80);
        assert_eq!(packets[4][13] & 0xc0, 0x40);
    }

    #[test]
    fn h265_fragments_follow_rfc_7798() {
        // An IDR_W_RADL unit (type 19): header 0x26 0x01.
        let nal: Vec<u8> = [0x26, 0x01].into_iter().chain((0..3000u32).map(|i| (i * 7) as u8)).collect();
        let packets = packets(Codec::H265, &[&[0x40, 0x01, 9], &nal], 1000);
        // The VPS alone, then ceil(3000 / 997) = 4 fragments.
        assert_eq!(packets.len(), 5);
        assert_eq!(&packets[0][12..], [0x40, 0x01, 9]);
        assert_eq!(packets.iter().filter(|p| p[1] & 0x80 != 0).count(), 1);
        assert!(packets[4][1] & 0x80 != 0);
        let mut rebuilt = Vec::new();
        for (i, p) in packets[1..].iter().enumerate() {
            assert!(p.len() <= 12 + 1000);
            // PayloadHdr: type 49, layer and TID of the unit.
            assert_eq!(((p[12] >> 1) & 0x3f, p[13]), (49, 0x01));
            // FU header: S on the first, E on the last, the unit's type.
            let (s, e, t) = (p[14] >> 7, (p[14] >> 6) & 1, p[14] & 0x3f);
            assert_eq!((s, e, t), (u8::from(i == 0), u8::from(i == 3), 19));
            rebuilt.extend_from_slice(&p[15..]);
        }
        assert_eq!(rebuilt, nal[2..]);
    }

    #[test]
    fn the_sender_report_carries_the_capture_time() {
        let rtp = state();
        let captured = UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_500);
        let sr = sender_report(&rtp, 0xdead_beef, captured);
        assert_eq!(sr.len(), 28);
        let word = |i: usize| u32::from_be_bytes(sr[i..i + 4].try_into().unwrap());
        assert_eq!(word(8), (1_700_000_000u64 + 2_208_988_800) as u32);
        // Half a second is 2^31 in NTP fractions.
        assert_eq!(word(12), 1 << 31);
        assert_eq!(word(16), 0xdead_beef);
    }
}
