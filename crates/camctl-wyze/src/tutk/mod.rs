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
//!
//! Message-layer defaults ([`crate::ClientConfig::new`]) are what go2rtc's client, known to work with
//! real cameras, sends; each one is a `ClientConfig` field:
//! - 10000 carries go2rtc's JSON `{"cameraInfo":{"audioEncoderList":[137,138,140]}}` (G.711 µ-law,
//!   G.711 A-law, PCM) ([`crate::client::GO2RTC_AUDIO_CODECS`]; `hello` = [`crate::wire::Request::connect`]
//!   sends KROO/DWB's empty payload instead).
//! - The 4 bytes after the answer in 10002 are fresh random bytes per handshake, go2rtc's "random
//!   session ID" (`username`: KROO/DWB's MAC prefix or fixed bytes on request). 10006/10008, which
//!   go2rtc never sends, keep DWB's phone-id prefix.
//! - Video and audio are on (10002 flags 1/1; the seed's `open_audio=True`). camctl ties audio to video:
//!   a session that opens no video (`camctl info`, `config`, `events`) sets both flags 0 and gets no
//!   media, and [`crate::WyzeSession::control_channel`] switching video on also sends the 10010 audio-on.
//!   go2rtc only ever opens sessions to stream, so it has no such case.
//! - After authentication the client asks for go2rtc's `subtype=hd` ([`crate::client::Substream::Hd`]):
//!   the model's best frame size ([`crate::auth::hd_frame_size`]: 3 = 2K on `HL_CAM3P`, `HL_PANP`,
//!   `HL_CAM4`, `HL_DB2`, `HL_CFL2`; 4 on the floodlight `HL_CFL2`; 0 = 1080p otherwise) at 240 KB/s
//!   (`BitrateMax`), in go2rtc's 5-byte 10056 with fps 0 = auto, or its 6-byte 10052 (bitrate, size + 1,
//!   zeros) on `WYZEDB3`, `WVOD1`, `HL_WCO2`, `WYZEC1`. `subtype=sd` is 360p at 60 KB/s (`BitrateSD`).
//!   The model is the configured one, else cameraInfo's `basicInfo.model` (go2rtc: the URL's only).
//! - An explicit `frame_size` (URL `resolution=`) wins over the substream and is sent as given; go2rtc
//!   maps its numeric quality 3 (2K) to the model's HD on non-2K models, camctl does not second-guess a
//!   size asked for by name. Its bitrate is go2rtc's for that size (60 with 360p, else 240).
//! - A `wyze://` URL with neither `subtype=` nor `resolution=` sends no 10056/10052 (the camera keeps
//!   its stream), unlike go2rtc, which always sends one: camctl's URL also serves `camctl config`, and a
//!   10056 on every connection would overwrite the resolution and bitrate set with `config set`.
//!   `subtype=hd` asks for go2rtc's default explicitly.
//! - The emulator streams the clip of the picture size set (FRAMEINFO's `frame_size` and the SPS
//!   agree; portrait 1296x1728 / 480x640 for frame sizes 3 / 4 on the doorbells `WYZEDB3`, `HL_DB2`
//!   (KROO/DWB's doorbell sizes; that `HL_DB2`'s 3 is this portrait size too is inferred), 2K for 4 on
//!   `HL_CFL2`, 360p for 4 and 2K for 5 otherwise, DWB's table) and refuses a size it has no picture
//!   for (10057 / 10053 `02`; what a real camera answers is not known). It pads every access unit with H.264 filler data (NAL type 12)
//!   so that the video's byte rate is the bitrate set, as a CBR encoder does, counting 1 KB = 1000
//!   bytes (the references do not say) and at most 255 KB/s (FRAMEINFO's one-byte bitrate). The clips
//!   run below 30 KB/s (2K 34 KB/s), the floor of what it can honour.

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
