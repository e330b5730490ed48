//! Native TUTK LAN transport, both roles, without any vendor library (tutk.md §6.4, plan §6.5).
//!
//! Layers, bottom to top, each sans-IO (datagrams and `Instant`s in, datagrams and deadlines out):
//! - [`transcode`] + [`old`]: OLD firmware, TransCode-obfuscated `04 02 1A` packets;
//! - [`cc51`]: NEW firmware, 0xCC51 packets with an HMAC-SHA1 trailer;
//! - [`framing`]: one session's wrapper of either flavour (data, keepalives);
//! - [`dtls`]: DTLS 1.2 PSK (OpenSSL over memory buffers);
//! - [`av`]: AV login, IOCTRL, ACKs, media packets, frame reassembly.
//!
//! [`client`] and [`server`] drive these over tokio UDP sockets and expose the part-1 traits
//! ([`crate::ClientTransport`], [`crate::CameraTransport`]).
//!
//! Choices where the reference disagrees with itself or is silent (all unverified against real cameras):
//! - TransCode tail swap: go2rtc's "always" by default, FSS's "never" as [`transcode::TailSwap`].
//! - The camera's answers 0x0602, 0x0404 and 0x0428 mirror the request layouts. The client is as
//!   lenient as go2rtc's, which works with real cameras: any OLD answer of 16 bytes or more with the
//!   0x0602 / 0x0404 command; any CC51 0x1002 answer of 52 bytes or more for discovery, without its
//!   HMAC, direction or sequence checked, and for the session the one with direction 0xFFFF and seq 3
//!   (HMAC again not required). CC51 camera answers use direction 0xFFFF and echo the client's session
//!   id. A FRAMEINFO frame size of 0 is taken as unknown (the packets give the size).
//! - ACK fields `[8..11]` are the first and last AV sequence numbers (`[4..5]`) of the peer's IOCTRL
//!   frames received, starting at 0xFFFF/0xFFFF, the start moving to the end after each ACK: how go2rtc
//!   (`pkg/tutk`, conn_dtls.go `msgACK`), known to work with real cameras, writes them; both roles here
//!   read and write them so. An IOCTRL is resent every 500 ms, at most 12 times, until an ACK covers it
//!   or the peer answers.
//! - AV login config word 4 as go2rtc writes it (FSS/SEYDX: 2); a refused login answer has byte 4 = 0.
//! - The camera's OLD keepalive 0x0428 carries 16 body bytes (the echoed 8, then 8 zeros): go2rtc
//!   answers only keepalives longer than 24 bytes, so real cameras' are longer than the 24 it sends.
//! - The emulator's URL carries `dtls=true` when it speaks DTLS: go2rtc refuses a Wyze URL without it.
//! - A camera at its session limit ignores discovery (no wire code for "full" is known).
//! - A session ends on DTLS close_notify or after the idle timeout.
//! - LAN search is the OLD stage-1 discovery probe sent to a broadcast address.
//! - Resend mode ([`resend`], tutk.md §6.4.4 from SEYDX §9.6–9.7; go2rtc and FSS use resend = 0, so
//!   SEYDX's prose is the only reference). Off by default (`resend=1` in the URL turns it on): the
//!   client writes 1 in the login word at 536, the camera role answers in the resend format only when
//!   asked and [`ServerConfig::allow_resend`] is set, and the client reads both formats whatever it
//!   asked. The login answer is the same either way (SEYDX names no field for it).
//!   - Media: the 16-byte prefix `0C, frame type, 0x000B, seq u16, 0 u16, counter u16, 0x1400, 1 u32`
//!     replaces the direct header's first 8 bytes, so the channel copy lands at 16 (types below 0x08)
//!     or 24 (0x08 and up), SEYDX's header-size rule. `seq` at `[4..5]` is the transmit sequence
//!     number (one per media packet, audio and video together) that requests name; SEYDX's `sub`
//!     (`[6..7]`) is written 0 and not read.
//!   - Frame index (1080 bytes, SEYDX's outer and inner headers): SEYDX does not say what its "data"
//!     bytes hold; camctl writes the newest and oldest transmit sequence numbers of the camera's
//!     history at `[38..41]` (the newest also at `[4..5]`), so that a client notices lost packets at
//!     the end of a burst. Sent every [`ResendConfig::index_period`] (100 ms) once media flows; an
//!     index more than [`ResendConfig::max_missing`] ahead of what the client received is ignored.
//!   - The client's retransmission request is not documented anywhere open: camctl's is `0C, kind
//!     (`[`ResendConfig::request_kind`]`, default 0x0A), 0x000B, count u16, 0, counter u16, 0, 1 u32,
//!     0 u16, count u16` then the u16 sequence numbers from 20. A camera reads at most
//!     [`ResendConfig::max_per_request`] of them and retransmits each kept packet at most
//!     [`ResendConfig::max_retransmits`] times, from a history bounded in packets and bytes.
//!   - The client asks [`ResendConfig::request_delay`] after noticing a gap, again every
//!     [`ResendConfig::request_interval`], and gives a packet up after [`ResendConfig::give_up`]
//!     (700 ms) or [`ResendConfig::max_requests`] requests; packets after a missing one wait (bounded
//!     in packets and bytes) so that the reassembler sees them in order, and a frame missing a given-up
//!     packet is a clean gap.

pub mod av;
pub mod cc51;
pub mod client;
pub mod dtls;
pub mod framing;
pub mod link;
pub mod old;
pub mod resend;
pub mod server;
pub mod transcode;

pub use client::{ConnectOptions, TutkError, UdpClientTransport, connect, lan_search};
pub use resend::{ResendConfig, ResendStats};
pub use server::{ServerConfig, ServerStats, StatsHandle, TutkServer, UdpCameraTransport};

/// Why a datagram or AV message did not decode. Every decoder returns this instead of panicking.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Fewer bytes than the layout needs.
    #[error("packet too short: need {need} bytes, got {got}")]
    Short {
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        got: usize,
    },
    /// Not a packet of this protocol.
    #[error("bad magic")]
    BadMagic,
    /// A command this implementation does not know.
    #[error("unknown command 0x{0:04x}")]
    UnknownCommand(u16),
    /// The CC51 HMAC-SHA1 trailer does not match (wrong UID/AuthKey, or forged).
    #[error("HMAC mismatch (wrong UID or AuthKey?)")]
    BadHmac,
    /// Structurally invalid.
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
}

/// Which IOTC discovery/session flavour a camera speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Firmware {
    /// Probe both and take whichever answers first (client only).
    #[default]
    Auto,
    /// OLD: TransCode-obfuscated `04 02 1A` packets.
    Old,
    /// NEW: 0xCC51 packets with HMAC-SHA1.
    Cc51,
}

impl Firmware {
    /// `auto`, `old`, `cc51`.
    pub fn name(self) -> &'static str {
        match self {
            Firmware::Auto => "auto",
            Firmware::Old => "old",
            Firmware::Cc51 => "cc51",
        }
    }

    /// Parses [`Firmware::name`] (also `new` for CC51).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Some(Firmware::Auto),
            "old" => Some(Firmware::Old),
            "cc51" | "new" => Some(Firmware::Cc51),
            _ => None,
        }
    }
}

/// The 20-byte UID field: the ASCII UID, truncated or zero-padded.
pub fn uid_bytes(uid: &str) -> [u8; 20] {
    let mut out = [0u8; 20];
    let n = uid.len().min(20);
    out[..n].copy_from_slice(&uid.as_bytes()[..n]);
    out
}

/// The 8-byte AuthKey field.
pub fn auth_key_bytes(auth_key: &str) -> [u8; 8] {
    let mut out = [0u8; 8];
    let n = auth_key.len().min(8);
    out[..n].copy_from_slice(&auth_key.as_bytes()[..n]);
    out
}

/// `n` random bytes from OpenSSL (falls back to the clock if OpenSSL's RNG fails).
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if openssl::rand::rand_bytes(&mut b).is_err() {
        let t =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        for (i, x) in b.iter_mut().enumerate() {
            *x = (t >> ((i % 16) * 8)) as u8;
        }
    }
    b
}
