//! PTP/IP (ISO 15740 over TCP, port 15740): the Wi-Fi protocol of most Canon, Nikon, Sony, Fuji and
//! Ricoh cameras. [`wire`] is the pure codec, [`connection`] frames packets over a byte stream,
//! [`client`] speaks to a camera, [`PtpCamera`] adapts it to [`camctl_core::Camera`], and
//! [`emulator`] behaves like a camera.

mod camera;
pub mod client;
pub mod connection;
mod dialect;
pub mod emulator;
pub mod eos;
mod error;
pub mod nikon;
pub mod props;
pub mod wire;

pub use camera::PtpCamera;
pub use dialect::Dialect;
pub use error::{Error, Result};

/// The camera's real port.
pub const DEFAULT_PORT: u16 = 15740;
