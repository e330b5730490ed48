//! The Wi-Fi protocol of the first-generation Lytro light-field camera (reference:
//! `protocols/lytro.md`).
//!
//! Layers, bottom up:
//! - [`wire`]: pure codec of the 28-byte frame, the commands, the downloaded blobs (hardware info,
//!   camera time, picture list, calibration bundle, focus stack) and the callback stream;
//! - [`connection`]: frames over a byte stream;
//! - [`client`]: an async session with a camera (command, download and callback connections,
//!   keep-alive);
//! - [`LytroCamera`]: the [`camctl_core::Camera`] adapter `camctl` drives;
//! - [`emulator`]: a camera that serves a media directory;
//! - [`mdns`]: the DNS-SD records the camera announces (announcing and browsing live in
//!   [`camctl_core::discovery`]).
//!
//! Camera URLs: `lytro://HOST[:PORT][?key=value&...]`, see [`LytroCamera::connect`] for the keys.

#![warn(missing_docs)]

mod camera;
pub mod client;
pub mod connection;
pub mod emulator;
mod error;
pub mod mdns;
pub mod wire;

pub use camera::LytroCamera;
pub use error::{Error, Result};
pub use wire::PictureFormat;

/// The camera's command port (every known client uses it for commands and downloads).
pub const DEFAULT_COMMAND_PORT: u16 = 5678;
/// The camera's second command port; the official mobile app downloads pictures through it.
pub const DEFAULT_DOWNLOAD_PORT: u16 = 5679;
/// The camera's callback (event stream) port.
pub const DEFAULT_CALLBACK_PORT: u16 = 5677;
/// The DNS-SD service type the camera announces.
pub const SERVICE_TYPE: &str = "_lytro._tcp";
