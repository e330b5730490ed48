//! Ambarella "remote API" (Xiaomi Yi, YI 4K, SJCAM and other Ambarella cameras): JSON objects over TCP
//! 7878, raw file data over TCP 8787.
//!
//! [`wire`] is the pure codec, [`client`] speaks to a camera, [`YiCamera`] adapts it to
//! [`camctl_core::Camera`], [`live`] reads the RTSP live view, and [`emulator`] behaves like a camera.
//! Camera URLs are `yi://HOST[:PORT][?data_port=N&rtsp_port=M]` (alias `ambarella://`), defaults 7878,
//! 8787 and 554.

mod camera;
pub mod client;
pub mod emulator;
mod error;
pub mod live;
pub mod wire;

pub use camera::YiCamera;
pub use error::{Error, Result};

/// The camera's command port.
pub const DEFAULT_PORT: u16 = 7878;

/// The camera's data port.
pub const DEFAULT_DATA_PORT: u16 = 8787;

/// Where the camera's SD card is mounted; camera paths start with it.
pub const SD_ROOT: &str = "/tmp/fuse_d";
