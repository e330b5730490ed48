//! Wyze cameras, everything above the TUTK transport (reference: `shared/protocols/tutk.md`).
//!
//! - [`wire`]: the pure codec: 16-byte HL header, K-commands, 40-byte `FRAMEINFO`.
//! - [`auth`]: XXTEA, key selection by camera status, challenge-response choice, AuthKey and DTLS PSK.
//! - [`transport`]: the [`ClientTransport`] / [`CameraTransport`] traits a TUTK AV channel implements, and
//!   an in-memory pair for tests and demos.
//! - [`client`]: [`WyzeSession`], the client state machine (handshake, settings, frames).
//! - [`emulator`]: [`Emulator`], a camera that authenticates clients, keeps settings and streams H.264.
//! - [`sink`]: writes received frames as a playable Annex-B stream.
//! - [`settings`]: the user-facing setting keys and their K-command pairs.
//! - [`tutk`]: the native TUTK LAN transport (OLD and CC51 discovery, DTLS, AV layer), client and camera.
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

pub use camera::{DEFAULT_PORT, LiveEnd, LiveError, LiveReport, WyzeCamera};
pub use client::{ClientConfig, SessionDetails, WyzeSession};
pub use emulator::{Emulator, EmulatorConfig, EmulatorHandle, Pacing};
pub use error::{Error, Result};
pub use transport::{CameraTransport, ClientTransport};
