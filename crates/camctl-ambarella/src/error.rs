//! Errors of the client.

use crate::wire::{StreamError, msg, rval};

/// What went wrong talking to an Ambarella camera.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Socket error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Reading the data connection failed: closed, too slow.
    #[error("{0}")]
    Read(#[from] camctl_core::io::ReadError),
    /// The camera sent an object beyond the size cap (the connection is dropped).
    #[error("camera sent garbage: {0}")]
    Stream(#[from] StreamError),
    /// The command connection is closed.
    #[error("connection closed by the camera{}", .0.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
    Closed(Option<String>),
    /// No answer in time.
    #[error("timed out waiting for {0}")]
    Timeout(String),
    /// The camera answered with an error code.
    #[error("camera refused msg_id {msg_id}: rval {rval} ({})", rval::describe(*rval))]
    Camera {
        /// The request's id.
        msg_id: i64,
        /// The result code.
        rval: i64,
    },
    /// Another client holds the session and keeps it (257 answered `-3`).
    #[error("another client holds the camera's session and keeps it")]
    SessionTaken,
    /// A whole-file download or an upload does not match the camera's MD5.
    #[error("MD5 mismatch: camera says {expected}, data is {actual}")]
    Md5Mismatch {
        /// MD5 reported by the camera (download) or computed locally (upload).
        expected: String,
        /// MD5 of the bytes actually transferred.
        actual: String,
    },
    /// A data-port transfer failed.
    #[error("transfer failed: {0}")]
    Transfer(String),
    /// The camera sent something the protocol does not allow.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Nothing accepted the connection at `addr`.
    #[error("no Yi camera at {addr}: {source}")]
    Unreachable {
        /// `host:port` tried.
        addr: String,
        /// Why the connection failed.
        source: std::io::Error,
    },
    /// Something answered at `addr`, but not in the Ambarella JSON protocol.
    #[error("{addr} is not a Yi camera: {detail}")]
    NotYi {
        /// `host:port` of the peer.
        addr: String,
        /// What it did instead (camera text already escaped).
        detail: String,
    },
}

/// How errors name the protocol ("no Yi camera at ...").
const PROTOCOL: &str = "Yi";

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The `rval` when the camera refused a request.
    pub fn rval(&self) -> Option<i64> {
        match self {
            Error::Camera { rval, .. } => Some(*rval),
            _ => None,
        }
    }
}

impl From<Error> for camctl_core::Error {
    fn from(e: Error) -> Self {
        use camctl_core::Error as E;
        match e {
            Error::Io(io) => E::io("Ambarella connection", io),
            Error::Read(r) => E::read(PROTOCOL, r),
            Error::Unreachable { addr, source } => E::unreachable(PROTOCOL, &addr, &source),
            Error::NotYi { addr, detail } => E::wrong_protocol(PROTOCOL, &addr, &detail),
            Error::Timeout(what) => E::Timeout(format!("waiting for {what}")),
            Error::SessionTaken => E::Rejected(e.to_string()),
            Error::Camera { msg_id, rval: code } => {
                let file_op = matches!(
                    msg_id,
                    msg::GET_FILE | msg::DEL_FILE | msg::GET_THUMB | msg::GET_MEDIA_INFO | msg::LS | msg::CD
                );
                match code {
                    rval::INVALID_PATH => E::NotFound(e.to_string()),
                    rval::UNKNOWN_ERROR if file_op => E::NotFound(e.to_string()),
                    rval::INVALID_OPTION_VALUE | rval::NOT_WRITABLE | rval::INVALID_PARAM
                        if msg_id == msg::SET_SETTING =>
                    {
                        E::InvalidValue(e.to_string())
                    }
                    rval::INVALID_OPTION_VALUE if msg_id == msg::GET_SETTING => E::NotFound(e.to_string()),
                    rval::OPERATION_UNSUPPORTED => E::Unsupported(e.to_string()),
                    _ => E::Camera(e.to_string()),
                }
            }
            Error::Md5Mismatch { .. } | Error::Transfer(_) => E::Camera(e.to_string()),
            Error::Stream(_) => E::Malformed(Box::new(e)),
            Error::Closed(_) | Error::Protocol(_) => E::Protocol(e.to_string()),
        }
    }
}
