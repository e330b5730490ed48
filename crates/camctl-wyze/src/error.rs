//! Errors of the Wyze client and emulator.

use std::time::Duration;

use crate::auth::describe_status;
use crate::transport::TransportError;
use crate::wire::WireError;

/// What went wrong in a Wyze session.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The transport failed or closed.
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// The peer sent bytes that do not decode.
    #[error("malformed message: {0}")]
    Wire(#[from] WireError),
    /// No reply in time.
    #[error("timed out after {timeout:?} waiting for K{expected} (reply to K{request})")]
    Timeout {
        /// The request sent.
        request: u16,
        /// The reply code awaited.
        expected: u16,
        /// How long the client waited.
        timeout: Duration,
    },
    /// The whole K-command handshake took longer than its overall limit.
    #[error("the camera did not complete the authentication within {0:?}")]
    HandshakeTimeout(Duration),
    /// No media frame arrived in time.
    #[error("no media frame within {0:?}")]
    NoFrames(Duration),
    /// The camera answered `connectionRes` "2": the key (ENR) is wrong or expired.
    #[error("authentication failed: wrong ENR (camera answered connectionRes \"2\")")]
    WrongEnr,
    /// The camera answered another non-success `connectionRes`.
    #[error("authentication failed: camera answered connectionRes {0:?}")]
    AuthFailed(String),
    /// The camera's status in 10001 does not allow authentication now.
    #[error("camera cannot authenticate now: status {status} ({})", describe_status(*status))]
    CameraStatus {
        /// The status byte (2 updating, 4 checking ENR, 5 off, other unknown).
        status: u8,
    },
    /// The camera refused a setting (10053/10057 not `01`).
    #[error("camera refused K{0}")]
    Refused(u16),
    /// No such setting key.
    #[error("no such setting: {0}")]
    UnknownSetting(String),
    /// A value the setting does not accept.
    #[error("invalid value {value:?} for {key} (allowed: {allowed})")]
    InvalidValue {
        /// Setting key.
        key: String,
        /// The value given.
        value: String,
        /// What the setting accepts, in words.
        allowed: String,
    },
    /// The setting cannot be written.
    #[error("{0} is read-only")]
    ReadOnly(String),
    /// The camera sent something the protocol does not allow here.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl From<Error> for camctl_core::Error {
    fn from(e: Error) -> Self {
        use camctl_core::Error as E;
        match e {
            Error::Transport(TransportError::Io(io)) => E::io("Wyze transport", io),
            Error::Transport(TransportError::Timeout)
            | Error::Timeout { .. }
            | Error::HandshakeTimeout(_)
            | Error::NoFrames(_) => E::Timeout(e.to_string()),
            Error::WrongEnr | Error::AuthFailed(_) | Error::CameraStatus { .. } => E::Rejected(e.to_string()),
            Error::Refused(_) => E::Camera(e.to_string()),
            Error::UnknownSetting(_) => E::NotFound(e.to_string()),
            Error::InvalidValue { .. } | Error::ReadOnly(_) => E::InvalidValue(e.to_string()),
            Error::Transport(_) | Error::Wire(_) => E::Malformed(Box::new(e)),
            Error::Protocol(_) => E::Protocol(e.to_string()),
        }
    }
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
