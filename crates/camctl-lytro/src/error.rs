//! Errors of the Lytro client and connection layer.

use crate::wire::WireError;

/// What went wrong talking to a Lytro camera.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Socket error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The peer sent bytes that do not decode.
    #[error("malformed message: {0}")]
    Wire(#[from] WireError),
    /// Reading from the peer failed: closed, silent, too slow, or more than a limit announced.
    #[error("{0}")]
    Read(#[from] camctl_core::io::ReadError),
    /// No answer in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// A file or picture the camera does not have (LOAD answered with length 0).
    #[error("not found on the camera: {0}")]
    NotFound(String),
    /// The peer answered something the protocol does not allow here.
    #[error("{0}")]
    Protocol(String),
    /// A previous operation was abandoned half-way, so the connection's state is unknown.
    #[error("connection unusable after an interrupted operation; reconnect")]
    Poisoned,
    /// An argument the protocol cannot carry.
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// Nothing accepted the connection at `addr`.
    #[error("no Lytro camera at {addr}: {source}")]
    Unreachable {
        /// `host:port` tried.
        addr: String,
        /// Why the connection failed.
        source: std::io::Error,
    },
    /// Something answered at `addr`, but not with Lytro frames.
    #[error("{addr} is not a Lytro camera: {}", camctl_core::text::Safe(.detail))]
    NotLytro {
        /// `host:port` of the peer.
        addr: String,
        /// What it sent instead.
        detail: String,
    },
}

/// How errors name the protocol ("no Lytro camera at ...").
const PROTOCOL: &str = "Lytro";

impl From<Error> for camctl_core::Error {
    fn from(e: Error) -> Self {
        use camctl_core::Error as E;
        match e {
            Error::Io(io) => E::io("Lytro connection", io),
            Error::Timeout(what) => E::Timeout(format!("waiting for {what}")),
            Error::NotFound(what) => E::NotFound(what),
            Error::InvalidValue(v) => E::InvalidValue(v),
            Error::Unreachable { addr, source } => E::unreachable(PROTOCOL, &addr, &source),
            Error::NotLytro { addr, detail } => E::wrong_protocol(PROTOCOL, &addr, &detail),
            Error::Read(r) => E::read(PROTOCOL, r),
            Error::Wire(_) => E::Malformed(Box::new(e)),
            Error::Protocol(_) | Error::Poisoned => E::Protocol(e.to_string()),
        }
    }
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
