//! Wyze cameras, everything above the TUTK transport (reference: `shared/protocols/tutk.md`).
//!
//! - [`wire`]: the pure codec: 16-byte HL header, K-commands, 40-byte `FRAMEINFO`.
//! - [`auth`]: XXTEA, key selection by camera status, challenge-response choice, AuthKey and DTLS PSK.
//! - [`transport`]: the [`ClientTransport`] / [`CameraTransport`] traits a TUTK AV channel implements, and
//!   an in-memory pair for tests and demos.
//! - [`client`]: [`WyzeSession`], the client state machine (handshake, settings, frames).
//! - [`emulator`]: [`Emulator`], a camera that authenticates clients, keeps settings and streams H.264.
//! - [`sink`]: writes received frames as a playable Annex-B stream or Matroska file (video and audio).
//! - [`settings`]: the user-facing setting keys and their K-command pairs.
//! - [`tutk`]: the native TUTK LAN transport (OLD and CC51 discovery, DTLS, AV layer), client and camera.
//!
//! # Limits against hostile peers (issue 10)
//! Client, whatever the camera sends:
//! - media frames are dropped unless video or audio was asked for (`open_video`/`open_audio`, or
//!   10010 through [`WyzeSession::control_channel`]);
//! - one reassembled frame is at most [`tutk::av::MAX_FRAME_BYTES`] (4 MiB; a bigger one is a counted
//!   gap), partial frames hold at most [`tutk::av::MAX_PARTIAL_BYTES`] (8 MiB) together;
//! - the frame queue holds at most 256 frames and [`tutk::client::MAX_QUEUED_FRAME_BYTES`] (16 MiB),
//!   dropping the oldest whole frames (counted in [`tutk::client::FrameStats`]); IOCTRLs 256 and 4 MiB;
//!   unsolicited K-messages [`client::MAX_QUEUED_EVENTS`] and [`client::MAX_QUEUED_EVENT_BYTES`] (1 MiB);
//! - a request fails after [`client::MAX_SKIPPED_MESSAGES`] other messages or its timeout; the
//!   connection setup has an overall limit ([`tutk::ConnectOptions::overall_timeout`], 20 s);
//! - warnings about junk are throttled (5 a minute, then a count), peer bytes escaped and truncated.
//!
//! Emulator: a session slot only for a peer that completed the keyed discovery (OLD: stage 1 with the
//! AuthKey; CC51: the HMAC-checked ticket exchange); a slot that has not finished DTLS and the AV
//! login within [`tutk::ServerConfig::handshake_timeout`] (10 s), or is silent for
//! [`tutk::ServerConfig::idle_timeout`] (10 s), is freed.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use camctl_wyze::{ClientConfig, Emulator, EmulatorConfig, WyzeSession, transport::memory_pair};
//! let (client_end, camera_end) = memory_pair(16);
//! tokio::spawn(Emulator::new(EmulatorConfig::new("AbCdEfGh/JkLmN0p", "2CAABBCCDDEE")).serve(camera_end));
//! let wrong = ClientConfig::new("wrong-enr-000000", "2CAABBCCDDEE");
//! let err = WyzeSession::connect(client_end, wrong).await.unwrap_err();
//! assert!(err.to_string().starts_with("authentication failed: wrong ENR"));
//! # });
//! ```

pub mod auth;
mod camera;
pub mod client;
pub mod emulator;
mod error;
pub mod settings;
pub mod sink;
pub mod transport;
pub mod tutk;
pub mod wire;

pub use camera::{DEFAULT_PORT, LiveEnd, LiveError, LiveOptions, LiveReport, WyzeCamera};
pub use client::{ClientConfig, SessionDetails, WyzeSession};
pub use emulator::{Emulator, EmulatorConfig, EmulatorHandle, Pacing};
pub use error::{Error, Result};
pub use transport::{CameraTransport, ClientTransport};
