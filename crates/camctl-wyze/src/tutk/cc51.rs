//! NEW-firmware (0xCC51) IOTC packets with their HMAC-SHA1 trailer (tutk.md §6.4.2).
//!
//! The HMAC key is `UID (20 ASCII) || AuthKey (8 ASCII)`. Discovery and keepalive packets are MACed over
//! their fixed header; the 0x1502 DTLS wrapper only over its 28-byte header (not the record: DTLS
//! protects that itself).

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use super::PacketError;

/// The magic (u16 LE 0xCC51, bytes `51 CC`).
pub const MAGIC: u16 = 0xCC51;
/// Discovery / session setup.
pub const CMD_DISCO: u16 = 0x1002;
/// Keepalive.
pub const CMD_KEEPALIVE: u16 = 0x1202;
/// DTLS record wrapper.
pub const CMD_DATA: u16 = 0x1502;
const HMAC_LEN: usize = 20;
const SDK_VERSION: [u8; 4] = [0x00, 0x08, 0x03, 0x04];

/// A decoded and authenticated CC51 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cc51Packet {
    /// 0x1002 (52 bytes).
    Disco {
        /// Direction 0xFFFF (camera answer) rather than 0.
        response: bool,
        /// Handshake step: client 0, camera 1, client 2, camera 3.
        seq: u16,
        /// The camera-chosen ticket (0 in the first request).
        ticket: u16,
        /// Session id.
        sid: [u8; 8],
    },
    /// 0x1502: a DTLS record on a channel.
    Data {
        /// Channel (high byte of `[12..13]`).
        channel: u8,
        /// The discovery ticket.
        ticket: u16,
        /// Session id.
        sid: [u8; 8],
        /// The DTLS record.
        payload: Vec<u8>,
    },
    /// 0x1202 (48 bytes).
    Keepalive {
        /// Counter at 16 (go2rtc adds 2 per reply).
        counter: u32,
        /// Session id.
        sid: [u8; 8],
    },
}

/// The HMAC key for a camera: `uid || auth_key` (UID padded/truncated to 20 bytes).
pub fn hmac_key(uid: &str, auth_key: &str) -> Vec<u8> {
    let mut k = super::uid_bytes(uid).to_vec();
    k.extend_from_slice(auth_key.as_bytes());
    k
}

fn mac(key: &[u8], data: &[u8]) -> [u8; HMAC_LEN] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = <Hmac<Sha1> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(data);
    m.finalize().into_bytes().into()
}

fn base(cmd: u16, len_field: u16) -> Vec<u8> {
    let mut p = Vec::with_capacity(64);
    p.extend_from_slice(&MAGIC.to_le_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&cmd.to_le_bytes());
    p.extend_from_slice(&len_field.to_le_bytes());
    p
}

impl Cc51Packet {
    /// The wire bytes, HMAC trailer included.
    pub fn encode(&self, key: &[u8]) -> Vec<u8> {
        match self {
            Cc51Packet::Disco { response, seq, ticket, sid } => {
                let mut p = base(CMD_DISCO, 0x0028);
                p.resize(32, 0);
                if *response {
                    p[8..10].copy_from_slice(&0xFFFFu16.to_le_bytes());
                }
                p[12..14].copy_from_slice(&seq.to_le_bytes());
                p[14..16].copy_from_slice(&ticket.to_le_bytes());
                p[16..24].copy_from_slice(sid);
                p[24..28].copy_from_slice(&SDK_VERSION);
                p[28] = 0x1D;
                let m = mac(key, &p);
                p.extend_from_slice(&m);
                p
            }
            Cc51Packet::Data { channel, ticket, sid, payload } => {
                let mut p = base(CMD_DATA, (16 + payload.len() + HMAC_LEN) as u16);
                p.resize(28, 0);
                p[12..14].copy_from_slice(&(0x0010u16 | (u16::from(*channel) << 8)).to_le_bytes());
                p[14..16].copy_from_slice(&ticket.to_le_bytes());
                p[16..24].copy_from_slice(sid);
                p[24..28].copy_from_slice(&1u32.to_le_bytes());
                let m = mac(key, &p);
                p.extend_from_slice(payload);
                p.extend_from_slice(&m);
                p
            }
            Cc51Packet::Keepalive { counter, sid } => {
                let mut p = base(CMD_KEEPALIVE, 0x24);
                p.resize(28, 0);
                p[16..20].copy_from_slice(&counter.to_le_bytes());
                p[20..28].copy_from_slice(sid);
                let m = mac(key, &p);
                p.extend_from_slice(&m);
                p
            }
        }
    }

    /// A camera's discovery answer read the way go2rtc's client reads it: 52 bytes or more, the magic and
    /// the 0x1002 command, then (direction is response, seq, ticket, session id); the HMAC is not
    /// required (real cameras are known to work with go2rtc, which never checks it).
    pub fn disco_answer(d: &[u8]) -> Option<(bool, u16, u16, [u8; 8])> {
        if d.len() < 52
            || u16::from_le_bytes([d[0], d[1]]) != MAGIC
            || u16::from_le_bytes([d[4], d[5]]) != CMD_DISCO
        {
            return None;
        }
        let mut sid = [0u8; 8];
        sid.copy_from_slice(&d[16..24]);
        Some((
            d[8..10] == [0xFF, 0xFF],
            u16::from_le_bytes([d[12], d[13]]),
            u16::from_le_bytes([d[14], d[15]]),
            sid,
        ))
    }

    /// Decodes and authenticates a datagram. Total: a typed error for anything malformed or forged.
    pub fn decode(d: &[u8], key: &[u8]) -> Result<Self, PacketError> {
        let short = |need: usize| PacketError::Short { need, got: d.len() };
        if d.len() < 8 {
            return Err(short(8));
        }
        if u16::from_le_bytes([d[0], d[1]]) != MAGIC {
            return Err(PacketError::BadMagic);
        }
        let cmd = u16::from_le_bytes([d[4], d[5]]);
        let check = |covered: &[u8], tag: &[u8]| {
            if mac(key, covered).as_slice() == tag { Ok(()) } else { Err(PacketError::BadHmac) }
        };
        let sid_at = |at: usize| -> [u8; 8] {
            let mut s = [0; 8];
            s.copy_from_slice(&d[at..at + 8]);
            s
        };
        match cmd {
            CMD_DISCO => {
                if d.len() < 52 {
                    return Err(short(52));
                }
                check(&d[..32], &d[32..52])?;
                Ok(Cc51Packet::Disco {
                    response: d[8..10] == [0xFF, 0xFF],
                    seq: u16::from_le_bytes([d[12], d[13]]),
                    ticket: u16::from_le_bytes([d[14], d[15]]),
                    sid: sid_at(16),
                })
            }
            CMD_KEEPALIVE => {
                if d.len() < 48 {
                    return Err(short(48));
                }
                check(&d[..28], &d[28..48])?;
                Ok(Cc51Packet::Keepalive {
                    counter: u32::from_le_bytes([d[16], d[17], d[18], d[19]]),
                    sid: sid_at(20),
                })
            }
            CMD_DATA => {
                let total = usize::from(u16::from_le_bytes([d[6], d[7]]));
                if total < 16 + HMAC_LEN {
                    return Err(PacketError::Malformed("0x1502 length field below its minimum"));
                }
                let len = total - 16 - HMAC_LEN;
                let end = 28 + len;
                if d.len() < end + HMAC_LEN {
                    return Err(short(end + HMAC_LEN));
                }
                check(&d[..28], &d[end..end + HMAC_LEN])?;
                Ok(Cc51Packet::Data {
                    channel: d[13],
                    ticket: u16::from_le_bytes([d[14], d[15]]),
                    sid: sid_at(16),
                    payload: d[28..end].to_vec(),
                })
            }
            other => Err(PacketError::UnknownCommand(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::hex;

    const SID: [u8; 8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];

    #[test]
    fn vectors() {
        let key = hmac_key("ABCDEFGHIJKLMNOPQRST", "GgGDlrGh");
        let disco = Cc51Packet::Disco { response: false, seq: 0, ticket: 0, sid: SID };
        let bytes = disco.encode(&key);
        assert_eq!(
            hex(&bytes),
            "51cc00000210280000000000000000001122334455667788000803041d000000aa9c2fafc9b497c483a0798cac179196ce0df071"
        );
        assert_eq!(Cc51Packet::decode(&bytes, &key).unwrap(), disco);
        let data = Cc51Packet::Data { channel: 0, ticket: 0x1234, sid: SID, payload: vec![0x16, 0xfe, 0xfd] };
        let bytes = data.encode(&key);
        assert_eq!(
            hex(&bytes),
            "51cc000002152700000000001000341211223344556677880100000016fefd5b8f942fb53dfc7b9a23ba4e515edfda3529e70a"
        );
        assert_eq!(Cc51Packet::decode(&bytes, &key).unwrap(), data);
    }

    #[test]
    fn discovery_answers_are_read_without_their_hmac_as_go2rtc_reads_them() {
        let key = hmac_key("ABCDEFGHIJKLMNOPQRST", "GgGDlrGh");
        let mut answer = Cc51Packet::Disco { response: true, seq: 3, ticket: 9, sid: SID }.encode(&key);
        answer[40] ^= 0xFF;
        assert_eq!(Cc51Packet::decode(&answer, &key), Err(PacketError::BadHmac));
        assert_eq!(Cc51Packet::disco_answer(&answer), Some((true, 3, 9, SID)));
        assert_eq!(Cc51Packet::disco_answer(&answer[..51]), None);
        for n in 0..answer.len() {
            let _ = Cc51Packet::disco_answer(&answer[..n]);
        }
    }

    #[test]
    fn keepalive_and_forgery() {
        let key = hmac_key("ABCDEFGHIJKLMNOPQRST", "GgGDlrGh");
        let ka = Cc51Packet::Keepalive { counter: 7, sid: SID };
        let bytes = ka.encode(&key);
        assert_eq!(bytes.len(), 48);
        assert_eq!(Cc51Packet::decode(&bytes, &key).unwrap(), ka);
        let wrong = hmac_key("ABCDEFGHIJKLMNOPQRST", "XXXXXXXX");
        assert_eq!(Cc51Packet::decode(&bytes, &wrong), Err(PacketError::BadHmac));
        let data = Cc51Packet::Data { channel: 1, ticket: 1, sid: SID, payload: vec![1; 50] }.encode(&key);
        assert_eq!(
            Cc51Packet::decode(&data, &key).unwrap_or_else(|e| panic!("{e}")).clone(),
            Cc51Packet::Data { channel: 1, ticket: 1, sid: SID, payload: vec![1; 50] }
        );
        for n in 0..data.len() {
            assert!(Cc51Packet::decode(&data[..n], &key).is_err());
        }
    }
}
