//! OLD-firmware IOTC packets: `04 02 1A <mode>` header, TransCode-obfuscated (tutk.md §6.4.1).
//!
//! The reference documents the client→camera layouts (0x0601, 0x0402, 0x0407, 0x0427). The camera's
//! answers (0x0602, 0x0404, 0x0428) are only named, so the camera role mirrors the request layouts and
//! the client role accepts any body for them (it only needs the command and the source address).

use super::PacketError;
use super::transcode::{TailSwap, reverse_transcode_blob, transcode_blob};

/// Disco request (client→camera).
pub const CMD_DISCO_REQ: u16 = 0x0601;
/// Disco answer (camera→client).
pub const CMD_DISCO_RESP: u16 = 0x0602;
/// Session request.
pub const CMD_SESSION_REQ: u16 = 0x0402;
/// Session answer.
pub const CMD_SESSION_RESP: u16 = 0x0404;
/// Data, client→camera.
pub const CMD_DATA_TO_CAMERA: u16 = 0x0407;
/// Data, camera→client.
pub const CMD_DATA_TO_CLIENT: u16 = 0x0408;
/// Keepalive answer (client→camera).
pub const CMD_KEEPALIVE_ANSWER: u16 = 0x0427;
/// Keepalive (camera→client).
pub const CMD_KEEPALIVE: u16 = 0x0428;
/// Body bytes of the camera's keepalive: more than go2rtc's 8-byte minimum past the header.
const KEEPALIVE_CAMERA_BODY: usize = 16;

const MODE_SESSION: u8 = 0x02;
const MODE_KEEPALIVE: u8 = 0x0A;
const MODE_DATA: u8 = 0x0B;
const SDK_VERSION: [u8; 4] = [0x01, 0x01, 0x02, 0x04];

/// A decoded OLD-protocol packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldPacket {
    /// 0x0601 (request) / 0x0602 (answer): LAN discovery.
    Disco {
        /// 0x0602 rather than 0x0601.
        response: bool,
        /// 1 = first ("broadcast"), 2 = "direct".
        stage: u8,
        /// The camera UID.
        uid: [u8; 20],
        /// The client's random session id.
        sid: [u8; 8],
        /// AuthKey (stage 1 only; zero otherwise).
        auth_key: [u8; 8],
    },
    /// 0x0402 (request) / 0x0404 (answer): session setup.
    Session {
        /// 0x0404 rather than 0x0402.
        response: bool,
        /// The camera UID.
        uid: [u8; 20],
        /// Session id.
        sid: [u8; 8],
        /// Unix time (seconds, truncated).
        time: u32,
    },
    /// 0x0407 (to camera) / 0x0408 (to client): a DTLS record (or AV message) on a channel.
    Data {
        /// 0x0408 rather than 0x0407.
        to_client: bool,
        /// Header sequence number.
        seq: u16,
        /// 0 = main, 1 = backchannel.
        channel: u8,
        /// Session id.
        sid: [u8; 8],
        /// The payload at offset 28.
        payload: Vec<u8>,
    },
    /// 0x0428 (camera) / 0x0427 (client answer): keepalive echoing 8 bytes.
    Keepalive {
        /// 0x0428 rather than 0x0427.
        from_camera: bool,
        /// The echoed bytes 16..24.
        echo: [u8; 8],
    },
}

fn header(mode: u8, body_len: usize, seq: u16, cmd: u16, flags: u16) -> Vec<u8> {
    let mut h = vec![0x04, 0x02, 0x1A, mode];
    h.extend_from_slice(&(body_len as u16).to_le_bytes());
    h.extend_from_slice(&seq.to_le_bytes());
    h.extend_from_slice(&cmd.to_le_bytes());
    h.extend_from_slice(&flags.to_le_bytes());
    h.extend_from_slice(&[0; 4]);
    h
}

fn arr<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N], PacketError> {
    b.get(at..at + N).and_then(|s| s.try_into().ok()).ok_or(PacketError::Short { need: at + N, got: b.len() })
}

impl OldPacket {
    /// The plain (not obfuscated) bytes.
    pub fn encode_plain(&self) -> Vec<u8> {
        match self {
            OldPacket::Disco { response, stage, uid, sid, auth_key } => {
                let cmd = if *response { CMD_DISCO_RESP } else { CMD_DISCO_REQ };
                let mut p = header(MODE_SESSION, 72, 0, cmd, 0x0021);
                p.resize(88, 0);
                p[16..36].copy_from_slice(uid);
                p[52..56].copy_from_slice(&SDK_VERSION);
                p[56..64].copy_from_slice(sid);
                p[64] = *stage;
                p[74..82].copy_from_slice(auth_key);
                p
            }
            OldPacket::Session { response, uid, sid, time } => {
                let cmd = if *response { CMD_SESSION_RESP } else { CMD_SESSION_REQ };
                let mut p = header(MODE_SESSION, 36, 0, cmd, 0x0033);
                p.resize(52, 0);
                p[16..36].copy_from_slice(uid);
                p[36..44].copy_from_slice(sid);
                p[48..52].copy_from_slice(&time.to_le_bytes());
                p
            }
            OldPacket::Data { to_client, seq, channel, sid, payload } => {
                let cmd = if *to_client { CMD_DATA_TO_CLIENT } else { CMD_DATA_TO_CAMERA };
                let mut p = header(MODE_DATA, 12 + payload.len(), *seq, cmd, 0x0021);
                p.resize(28, 0);
                p[12..14].copy_from_slice(&sid[..2]);
                p[14] = *channel;
                p[15] = 1;
                p[16..20].copy_from_slice(&0x0000_000Cu32.to_le_bytes());
                p[20..28].copy_from_slice(sid);
                p.extend_from_slice(payload);
                p
            }
            OldPacket::Keepalive { from_camera, echo } => {
                let cmd = if *from_camera { CMD_KEEPALIVE } else { CMD_KEEPALIVE_ANSWER };
                // go2rtc answers a camera's keepalive only when it is longer than 24 bytes, so real
                // cameras' are: the camera's carries 8 zero bytes after the echoed 8 (their content is
                // unknown). The client's answer is go2rtc's 24 bytes.
                let body = if *from_camera { KEEPALIVE_CAMERA_BODY } else { 8 };
                let mut p = header(MODE_KEEPALIVE, body, 0, cmd, 0x0021);
                p.extend_from_slice(echo);
                p.resize(16 + body, 0);
                p
            }
        }
    }

    /// The obfuscated wire bytes.
    pub fn encode(&self, swap: TailSwap) -> Vec<u8> {
        transcode_blob(&self.encode_plain(), swap)
    }

    /// Decodes obfuscated wire bytes.
    pub fn decode(wire: &[u8], swap: TailSwap) -> Result<Self, PacketError> {
        Self::decode_plain(&reverse_transcode_blob(wire, swap))
    }

    /// The command of an obfuscated datagram of at least 16 bytes (`[8..9]` once de-obfuscated), what
    /// go2rtc's client looks at in the camera's 0x0602 and 0x0404 answers: it takes any such answer,
    /// whatever its length, so camctl's client does too.
    pub fn answer_command(wire: &[u8], swap: TailSwap) -> Option<u16> {
        let p = reverse_transcode_blob(wire, swap);
        (p.len() >= 16).then(|| u16::from_le_bytes([p[8], p[9]]))
    }

    /// Decodes de-obfuscated bytes. Total: any input gives a packet or a typed error.
    pub fn decode_plain(p: &[u8]) -> Result<Self, PacketError> {
        if p.len() < 16 {
            return Err(PacketError::Short { need: 16, got: p.len() });
        }
        if p[..3] != [0x04, 0x02, 0x1A] {
            return Err(PacketError::BadMagic);
        }
        let cmd = u16::from_le_bytes([p[8], p[9]]);
        Ok(match cmd {
            CMD_DISCO_REQ | CMD_DISCO_RESP => OldPacket::Disco {
                response: cmd == CMD_DISCO_RESP,
                uid: arr(p, 16)?,
                sid: arr(p, 56)?,
                stage: *p.get(64).ok_or(PacketError::Short { need: 65, got: p.len() })?,
                // Answers need not carry an AuthKey; a short one is all zero.
                auth_key: arr(p, 74).unwrap_or([0; 8]),
            },
            CMD_SESSION_REQ | CMD_SESSION_RESP => OldPacket::Session {
                response: cmd == CMD_SESSION_RESP,
                uid: arr(p, 16)?,
                sid: arr(p, 36)?,
                time: u32::from_le_bytes(arr(p, 48)?),
            },
            CMD_DATA_TO_CAMERA | CMD_DATA_TO_CLIENT => {
                let sid = arr(p, 20)?;
                // The body length is checked against what arrived; trailing bytes are ignored.
                let body = usize::from(u16::from_le_bytes([p[4], p[5]]));
                let end = (16 + body).min(p.len());
                if body < 12 {
                    return Err(PacketError::Malformed("data body shorter than its 12-byte prefix"));
                }
                OldPacket::Data {
                    to_client: cmd == CMD_DATA_TO_CLIENT,
                    seq: u16::from_le_bytes([p[6], p[7]]),
                    channel: p[14],
                    sid,
                    payload: p.get(28..end).unwrap_or_default().to_vec(),
                }
            }
            CMD_KEEPALIVE | CMD_KEEPALIVE_ANSWER => {
                OldPacket::Keepalive { from_camera: cmd == CMD_KEEPALIVE, echo: arr(p, 16)? }
            }
            other => return Err(PacketError::UnknownCommand(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::hex;

    #[test]
    fn disco_matches_vector() {
        let pkt = OldPacket::Disco {
            response: false,
            stage: 1,
            uid: *b"ABCDEFGHIJKLMNOPQRST",
            sid: [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88],
            auth_key: *b"GgGDlrGh",
        };
        assert_eq!(
            hex(&pkt.encode_plain()),
            "04021a024800000001062100000000004142434445464748494a4b4c4d4e4f50515253540000000000000000000000000000000001010204112233445566778801000000000000000000476747446c724768000000000000"
        );
        assert!(hex(&pkt.encode(TailSwap::Always)).starts_with("6e4c9d8c40d140ca"));
        assert_eq!(OldPacket::decode(&pkt.encode(TailSwap::Always), TailSwap::Always).unwrap(), pkt);
    }

    #[test]
    fn any_answer_of_16_bytes_with_the_right_command_is_taken() {
        let swap = TailSwap::default();
        // A bare 16-byte 0x0602 and 0x0404: too short for the full decoder, enough for go2rtc.
        for cmd in [CMD_DISCO_RESP, CMD_SESSION_RESP] {
            let wire = transcode_blob(&header(MODE_KEEPALIVE, 0, 0, cmd, 0x0021), swap);
            assert!(OldPacket::decode(&wire, swap).is_err());
            assert_eq!(OldPacket::answer_command(&wire, swap), Some(cmd));
        }
        assert_eq!(OldPacket::answer_command(&[0u8; 15], swap), None);
    }

    #[test]
    fn the_camera_s_keepalive_is_long_enough_for_go2rtc_to_answer() {
        let ka = OldPacket::Keepalive { from_camera: true, echo: *b"12345678" };
        let plain = ka.encode_plain();
        // go2rtc: `if len(data) > 24 { answer, echoing data[16:24] }`.
        assert!(plain.len() > 24, "{} bytes", plain.len());
        assert_eq!(&plain[16..24], b"12345678");
        assert_eq!(OldPacket::decode_plain(&plain).unwrap(), ka);
        // The client's answer is go2rtc's 24 bytes.
        assert_eq!(OldPacket::Keepalive { from_camera: false, echo: *b"12345678" }.encode_plain().len(), 24);
    }

    #[test]
    fn all_kinds_round_trip() {
        let sid = [1, 2, 3, 4, 5, 6, 7, 8];
        let uid = *b"ABCDEFGHIJKLMNOPQRST";
        for pkt in [
            OldPacket::Session { response: true, uid, sid, time: 1_700_000_000 },
            OldPacket::Data { to_client: true, seq: 9, channel: 1, sid, payload: vec![0x16; 100] },
            OldPacket::Data { to_client: false, seq: 0, channel: 0, sid, payload: vec![] },
            OldPacket::Keepalive { from_camera: true, echo: sid },
        ] {
            for swap in [TailSwap::Always, TailSwap::Never] {
                assert_eq!(OldPacket::decode(&pkt.encode(swap), swap).unwrap(), pkt);
            }
        }
        assert!(OldPacket::decode(&[0; 10], TailSwap::Always).is_err());
    }
}
