//! One established session's packet wrapper, either flavour: wraps channel payloads (DTLS records) into
//! datagrams, unwraps received datagrams, and builds keepalives and their answers.

use super::PacketError;
use super::cc51::Cc51Packet;
use super::old::OldPacket;
use super::transcode::TailSwap;

/// What a received datagram carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A channel payload (DTLS record, or a plain AV message without DTLS).
    Data {
        /// Channel (0 main, 1 backchannel).
        channel: u8,
        /// The payload.
        payload: Vec<u8>,
    },
    /// A keepalive from the camera; send `answer` back.
    Keepalive {
        /// The answer datagram.
        answer: Vec<u8>,
    },
    /// The client's keepalive answer (camera role): proof of life.
    KeepaliveAnswer,
    /// A discovery/session packet of this flavour (retransmissions after setup).
    Setup,
}

/// Which end of the session this wrapper serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The viewer.
    Client,
    /// The camera.
    Camera,
}

#[derive(Debug, Clone)]
enum Kind {
    Old { swap: TailSwap, seq: u16 },
    Cc51 { key: Vec<u8>, ticket: u16, counter: u32 },
}

/// A session's wrapper.
#[derive(Debug, Clone)]
pub struct Framing {
    side: Side,
    sid: [u8; 8],
    kind: Kind,
}

impl Framing {
    /// OLD flavour.
    pub fn old(side: Side, sid: [u8; 8], swap: TailSwap) -> Self {
        Framing { side, sid, kind: Kind::Old { swap, seq: 0 } }
    }

    /// CC51 flavour with the HMAC key ([`super::cc51::hmac_key`]) and the discovery ticket.
    pub fn cc51(side: Side, sid: [u8; 8], key: Vec<u8>, ticket: u16) -> Self {
        Framing { side, sid, kind: Kind::Cc51 { key, ticket, counter: 0 } }
    }

    /// The flavour.
    pub fn firmware(&self) -> super::Firmware {
        match self.kind {
            Kind::Old { .. } => super::Firmware::Old,
            Kind::Cc51 { .. } => super::Firmware::Cc51,
        }
    }

    /// The CC51 ticket (0 for OLD).
    pub fn ticket(&self) -> u16 {
        match self.kind {
            Kind::Old { .. } => 0,
            Kind::Cc51 { ticket, .. } => ticket,
        }
    }

    /// The session id.
    pub fn sid(&self) -> [u8; 8] {
        self.sid
    }

    /// Wraps a channel payload into a datagram.
    pub fn wrap(&mut self, channel: u8, payload: &[u8]) -> Vec<u8> {
        let sid = self.sid;
        match &mut self.kind {
            Kind::Old { swap, seq } => {
                *seq = seq.wrapping_add(1);
                OldPacket::Data {
                    to_client: self.side == Side::Camera,
                    seq: *seq,
                    channel,
                    sid,
                    payload: payload.to_vec(),
                }
                .encode(*swap)
            }
            Kind::Cc51 { key, ticket, .. } => {
                Cc51Packet::Data { channel, ticket: *ticket, sid, payload: payload.to_vec() }.encode(key)
            }
        }
    }

    /// A camera keepalive (camera role).
    pub fn keepalive(&mut self) -> Vec<u8> {
        let sid = self.sid;
        match &mut self.kind {
            Kind::Old { swap, seq } => {
                *seq = seq.wrapping_add(1);
                let mut echo = sid;
                echo[..2].copy_from_slice(&seq.to_le_bytes());
                OldPacket::Keepalive { from_camera: true, echo }.encode(*swap)
            }
            Kind::Cc51 { key, counter, .. } => {
                *counter = counter.wrapping_add(2);
                Cc51Packet::Keepalive { counter: *counter, sid }.encode(key)
            }
        }
    }

    /// Unwraps a received datagram. Total: typed errors, never panics.
    pub fn unwrap(&mut self, d: &[u8]) -> Result<Inbound, PacketError> {
        let sid = self.sid;
        match &mut self.kind {
            Kind::Old { swap, .. } => match OldPacket::decode(d, *swap)? {
                OldPacket::Data { channel, payload, .. } => Ok(Inbound::Data { channel, payload }),
                OldPacket::Keepalive { from_camera: true, echo } => Ok(Inbound::Keepalive {
                    answer: OldPacket::Keepalive { from_camera: false, echo }.encode(*swap),
                }),
                OldPacket::Keepalive { from_camera: false, .. } => Ok(Inbound::KeepaliveAnswer),
                OldPacket::Disco { .. } | OldPacket::Session { .. } => Ok(Inbound::Setup),
            },
            Kind::Cc51 { key, counter, .. } => match Cc51Packet::decode(d, key)? {
                Cc51Packet::Data { channel, payload, .. } => Ok(Inbound::Data { channel, payload }),
                Cc51Packet::Keepalive { counter: c, .. } if self.side == Side::Client => {
                    *counter = c.wrapping_add(2);
                    Ok(Inbound::Keepalive {
                        answer: Cc51Packet::Keepalive { counter: *counter, sid }.encode(key),
                    })
                }
                Cc51Packet::Keepalive { .. } => Ok(Inbound::KeepaliveAnswer),
                Cc51Packet::Disco { .. } => Ok(Inbound::Setup),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_flavours_round_trip() {
        let sid = [9; 8];
        let key = super::super::cc51::hmac_key("UID", "AUTHKEY1");
        for (mut cam, mut cli) in [
            (
                Framing::old(Side::Camera, sid, TailSwap::Always),
                Framing::old(Side::Client, sid, TailSwap::Always),
            ),
            (
                Framing::cc51(Side::Camera, sid, key.clone(), 5),
                Framing::cc51(Side::Client, sid, key.clone(), 5),
            ),
        ] {
            let d = cam.wrap(0, b"record");
            assert_eq!(cli.unwrap(&d).unwrap(), Inbound::Data { channel: 0, payload: b"record".to_vec() });
            let ka = cam.keepalive();
            let Inbound::Keepalive { answer } = cli.unwrap(&ka).unwrap() else { panic!("not a keepalive") };
            assert_eq!(cam.unwrap(&answer).unwrap(), Inbound::KeepaliveAnswer);
            assert!(cli.unwrap(&[1, 2, 3]).is_err());
        }
    }
}
