//! Shared building blocks of camctl: the [`Camera`] trait every protocol client implements, the
//! protocol-neutral types it speaks in, camera URLs, safe downloads, sample media for emulators and DNS-SD
//! [`discovery`].
//!
//! ```
//! use camctl_core::CameraUrl;
//! let url: CameraUrl = "ptpip://127.0.0.1:15740".parse().unwrap();
//! assert_eq!(url.port_or(15740), 15740);
//! ```

pub mod camera;
pub mod discovery;
pub mod download;
pub mod fmp4;
pub mod io;
pub mod live;
pub mod log;
pub mod media;
pub mod mkv;
pub mod relay;
pub mod rtsp;
pub mod serve;
pub mod text;
pub mod time;
pub mod url;
pub mod video;

pub use camera::{Camera, CameraInfo, Error, Event, MediaItem, Result, Setting, SettingForm};
pub use url::{CameraUrl, UrlError};
