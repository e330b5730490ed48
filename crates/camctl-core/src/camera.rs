//! The protocol-neutral camera model: what `camctl info/ls/pull/capture/config/events` need from any
//! protocol client.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use tokio::io::AsyncWrite;

use crate::download::DownloadError;
use crate::time::DateTime;

/// Result type of camera operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to a camera, in terms a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing speaking the protocol could be reached at the address (refused, unreachable, no answer).
    #[error("no {protocol} camera at {addr}: {reason}")]
    Unreachable {
        /// Protocol family as users know it (`PTP/IP`, `Yi`, `Lytro`, `Wyze`).
        protocol: String,
        /// `host:port` that was tried.
        addr: String,
        /// Why, in a few words (`connection refused`, `no answer in 10 s`).
        reason: String,
    },
    /// Something answered at the address, but not in this protocol.
    #[error("{addr} is not a {protocol} camera: {detail}")]
    WrongProtocol {
        /// Protocol family expected.
        protocol: String,
        /// `host:port` that answered.
        addr: String,
        /// What came back instead (already safe to print).
        detail: String,
    },
    /// The network failed (connection refused, reset, closed).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The camera did not answer in time.
    #[error("timed out {0}")]
    Timeout(String),
    /// Reading from the camera failed: the connection closed, went silent, went slower than the
    /// progress floor, or announced more than a limit.
    #[error("{protocol} connection: {source}")]
    Read {
        /// Protocol family as users know it.
        protocol: &'static str,
        /// What happened.
        #[source]
        source: crate::io::ReadError,
    },
    /// The peer sent bytes that do not decode; the source says how.
    #[error("protocol error: {0}")]
    Malformed(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Discovery (mDNS) failed.
    #[error("{0}")]
    Discovery(#[source] crate::discovery::Error),
    /// The peer sent something that does not follow the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The camera refused the connection or the credentials.
    #[error("{0}")]
    Rejected(String),
    /// The camera answered an operation with an error.
    #[error("camera error: {0}")]
    Camera(String),
    /// The camera or protocol cannot do this.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// No such file, setting or object.
    #[error("not found: {0}")]
    NotFound(String),
    /// A value given by the user is not acceptable.
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// Writing the downloaded file failed.
    #[error(transparent)]
    Download(#[from] DownloadError),
}

impl Error {
    /// A failed read on a `protocol` connection.
    pub fn read(protocol: &'static str, source: crate::io::ReadError) -> Self {
        Error::Read { protocol, source }
    }

    /// Whether the camera went slower than the progress floor (the partial file is worth resuming
    /// on a better link).
    pub fn is_too_slow(&self) -> bool {
        matches!(self, Error::Read { source: crate::io::ReadError::TooSlow(_), .. })
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// A failed connection attempt to `addr`, in the user's terms:
    /// `no PTP/IP camera at 127.0.0.1:15740: connection refused`.
    ///
    /// ```
    /// use camctl_core::Error;
    /// let e = Error::unreachable("PTP/IP", "127.0.0.1:15740", &std::io::ErrorKind::ConnectionRefused.into());
    /// assert_eq!(e.to_string(), "no PTP/IP camera at 127.0.0.1:15740: connection refused");
    /// ```
    pub fn unreachable(protocol: &str, addr: &str, source: &std::io::Error) -> Self {
        let reason = match source.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
            std::io::ErrorKind::TimedOut => "no answer".to_string(),
            _ => source.to_string(),
        };
        Error::Unreachable { protocol: protocol.into(), addr: addr.into(), reason }
    }

    /// Something other than the camera answered: `detail` says what (made safe for the terminal here).
    pub fn wrong_protocol(protocol: &str, addr: &str, detail: &str) -> Self {
        Error::WrongProtocol {
            protocol: protocol.into(),
            addr: addr.into(),
            detail: crate::text::escape(detail).into_owned(),
        }
    }

    /// Whether the connection to the camera is gone (the session must be opened again), as opposed to
    /// one request or one file failing.
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            Error::Io { .. }
                | Error::Timeout(_)
                | Error::Read { .. }
                | Error::Malformed(_)
                | Error::Protocol(_)
                | Error::Unreachable { .. }
                | Error::WrongProtocol { .. }
        )
    }
}

/// Identity and state of a camera.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CameraInfo {
    /// Protocol family, e.g. `ptpip`.
    pub protocol: String,
    /// Maker.
    pub manufacturer: String,
    /// Model name.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// Firmware / device version.
    pub firmware: String,
    /// Battery charge in percent, when the camera reports it.
    pub battery: Option<u8>,
    /// Protocol-specific facts worth showing (name, value).
    pub extra: Vec<(String, String)>,
}

/// One file on the camera.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MediaItem {
    /// Camera-side path, `/`-separated and relative to the camera's media root; `pull` mirrors it.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification (or capture) time, as the camera reports it.
    #[serde(rename = "date", serialize_with = "serialize_date")]
    pub modified: Option<DateTime>,
    /// The protocol's own handle for this item (object handle, path, picture id...).
    #[serde(skip)]
    pub id: String,
}

fn serialize_date<S: serde::Serializer>(d: &Option<DateTime>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&d.to_string()),
        None => s.serialize_none(),
    }
}

/// The allowed values of a setting.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "form")]
pub enum SettingForm {
    /// Any value of the setting's type.
    Free,
    /// One of these values.
    Choices {
        /// The allowed values, rendered as the user types them.
        choices: Vec<String>,
    },
    /// A numeric range.
    Range {
        /// Smallest value.
        min: String,
        /// Largest value.
        max: String,
        /// Increment.
        step: String,
    },
}

/// A camera setting (PTP device property, Ambarella config key...).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Setting {
    /// Key accepted by `config get/set`.
    pub key: String,
    /// Human-readable name.
    pub label: String,
    /// Current value, rendered for humans.
    pub value: String,
    /// Whether `config set` may change it.
    pub writable: bool,
    /// Allowed values.
    #[serde(flatten)]
    pub form: SettingForm,
}

/// Something the camera reported on its own.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Event {
    /// Event name, e.g. `ObjectAdded`.
    pub name: String,
    /// Human-readable detail (object path, property and value...), possibly empty.
    pub detail: String,
    /// The camera files this event announces (a picture taken on the camera's own shutter button),
    /// described as the listing would, where the protocol says which.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<MediaItem>,
}

/// The error of an event stream the camera closed.
pub fn event_stream_closed() -> Error {
    Error::Protocol("the camera closed its event stream".into())
}

impl Event {
    /// An event announcing no file.
    pub fn new(name: impl Into<String>, detail: impl Into<String>) -> Event {
        Event { name: name.into(), detail: detail.into(), media: Vec::new() }
    }
}

/// A camera reached through one protocol. Every protocol client implements it; `camctl` drives
/// cameras only through it.
///
/// Operations a protocol does not have return [`Error::Unsupported`].
pub trait Camera: Send {
    /// Identity and state.
    fn info(&mut self) -> impl Future<Output = Result<CameraInfo>> + Send;

    /// All media files, in camera order.
    fn list_media(&mut self) -> impl Future<Output = Result<Vec<MediaItem>>> + Send;

    /// Streams `item` from byte `offset` to its end into `out`; returns the number of bytes written.
    fn download<W>(
        &mut self,
        item: &MediaItem,
        offset: u64,
        out: &mut W,
    ) -> impl Future<Output = Result<u64>> + Send
    where
        W: AsyncWrite + Unpin + Send;

    /// The MD5 (lower-case hex) the camera reported for the whole of `item` during the last
    /// [`download`](Self::download) of it, for protocols whose cameras report one (the Yi's
    /// `get_file_complete`). The pull engine checks a resumed file against it.
    fn reported_md5(&self, item: &MediaItem) -> Option<String> {
        let _ = item;
        None
    }

    /// Takes a picture; returns the files it produced.
    fn capture(&mut self) -> impl Future<Output = Result<Vec<MediaItem>>> + Send;

    /// Deletes `item` on the camera.
    fn delete(&mut self, item: &MediaItem) -> impl Future<Output = Result<()>> + Send {
        let _ = item;
        async { Err(Error::Unsupported("deleting files on this camera".into())) }
    }

    /// All settings with their current values and allowed values.
    fn settings(&mut self) -> impl Future<Output = Result<Vec<Setting>>> + Send;

    /// One setting by key.
    fn setting(&mut self, key: &str) -> impl Future<Output = Result<Setting>> + Send;

    /// Changes a setting and returns it as the camera now reports it.
    fn set_setting(&mut self, key: &str, value: &str) -> impl Future<Output = Result<Setting>> + Send;

    /// Waits for the next event; `None` when the camera closed the event stream.
    fn next_event(&mut self) -> impl Future<Output = Result<Option<Event>>> + Send;

    /// Waits at most about `wait` for the next event; `Ok(None)` when none came. Unlike a cancelled
    /// [`next_event`](Self::next_event), it never leaves an exchange with the camera half-done: only
    /// the waiting is bounded, and an event that has arrived is completed (its files described). So a
    /// caller can interleave other operations between calls. A closed event stream is an error.
    fn next_event_within(&mut self, wait: Duration) -> impl Future<Output = Result<Option<Event>>> + Send;

    /// Ends the session politely.
    fn close(self) -> impl Future<Output = Result<()>> + Send
    where
        Self: Sized;
}
