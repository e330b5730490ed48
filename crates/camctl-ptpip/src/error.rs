//! Errors of the PTP/IP client and connection layer.

use crate::wire::{WireError, codes};

/// What went wrong on a PTP/IP connection.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Socket error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The TCP connection could not be made (refused, unreachable, no answer in time).
    #[error("{}", camctl_core::Error::unreachable("PTP/IP", addr, source))]
    Unreachable {
        /// `host:port` tried.
        addr: String,
        /// Why (`ErrorKind::TimedOut` for a connect timeout).
        source: std::io::Error,
    },
    /// Something answered, but not in PTP/IP.
    #[error("{}", camctl_core::Error::wrong_protocol("PTP/IP", addr, detail))]
    WrongProtocol {
        /// `host:port` that answered.
        addr: String,
        /// What came back, raw: escaped when displayed.
        detail: String,
    },
    /// The peer sent bytes that do not decode.
    #[error("malformed packet: {0}")]
    Wire(#[from] WireError),
    /// Reading from the peer failed: closed, silent, too slow, or more than a limit announced.
    #[error("{0}")]
    Read(#[from] camctl_core::io::ReadError),
    /// No answer in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The camera refused the connection (Init_Fail).
    #[error("camera refused the connection: Init_Fail reason {reason} ({})", crate::wire::fail_reason::describe(*reason))]
    InitFailed {
        /// Reason code.
        reason: u32,
    },
    /// A packet arrived that the protocol does not allow here.
    #[error("unexpected packet type {got} while waiting for {expected}")]
    Unexpected {
        /// What was expected.
        expected: &'static str,
        /// The packet type that came.
        got: u32,
    },
    /// The camera answered an operation with an error code.
    #[error("operation 0x{op:04x} failed: 0x{code:04x} {}", codes::rc::name(*code))]
    Response {
        /// Operation code.
        op: u16,
        /// Response code.
        code: u16,
    },
    /// Something else the peer did wrong.
    #[error("{0}")]
    Protocol(String),
}

impl From<Error> for camctl_core::Error {
    fn from(e: Error) -> Self {
        use camctl_core::Error as E;
        match e {
            Error::Io(io) => E::io("PTP/IP connection", io),
            Error::Unreachable { addr, source } => E::unreachable("PTP/IP", &addr, &source),
            Error::WrongProtocol { addr, detail } => E::wrong_protocol("PTP/IP", &addr, &detail),
            Error::Timeout(what) => E::Timeout(format!("waiting for {what}")),
            Error::InitFailed { .. } => E::Rejected(e.to_string()),
            Error::Response { code, .. } if code == codes::rc::INVALID_OBJECT_HANDLE => {
                E::NotFound(e.to_string())
            }
            Error::Response { code, .. } if code == codes::rc::DEVICE_PROP_NOT_SUPPORTED => {
                E::NotFound(e.to_string())
            }
            Error::Response { code, .. } if code == codes::rc::OPERATION_NOT_SUPPORTED => {
                E::Unsupported(e.to_string())
            }
            Error::Response { code, .. } if code == codes::rc::INVALID_DEVICE_PROP_VALUE => {
                E::InvalidValue(e.to_string())
            }
            Error::Response { .. } => E::Camera(e.to_string()),
            Error::Read(r) => E::read("PTP/IP", r),
            Error::Wire(_) => E::Malformed(Box::new(e)),
            Error::Unexpected { .. } | Error::Protocol(_) => E::Protocol(e.to_string()),
        }
    }
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
