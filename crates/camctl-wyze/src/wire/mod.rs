//! Pure encode/decode of the Wyze message layer: the 16-byte "HL" header ([`hl`]), the K-commands carried
//! in it ([`kcmd`]) and the 40-byte `FRAMEINFO` that accompanies every media frame ([`frameinfo`]).
//!
//! No sockets, no clocks, no async. Every decoder takes bytes and returns a value or a [`WireError`]; none
//! panics, and none allocates from a length field before checking it against the bytes actually present.

pub mod frameinfo;
pub mod hl;
pub mod kcmd;

pub use frameinfo::{AudioFlags, FRAMEINFO_LEN, FrameInfo, FrameSize, bitrate, codec};
pub use hl::{HL_HEADER_LEN, HL_MAGIC, HL_PROTOCOL, HlHeader, HlMessage};
pub use kcmd::{AuthReply, CruisePoint, MotionAlarm, Request, ResolvingBit, Response, VideoParams, code};

/// Why bytes could not be decoded (or a value could not be encoded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input ended inside the named field.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// The message does not start with `HL`.
    #[error("bad magic {0:02x?}, expected \"HL\"")]
    BadMagic([u8; 2]),
    /// The payload is longer than the u16 length field can say.
    #[error("payload of {0} bytes does not fit the 16-bit length field")]
    TooLong(usize),
    /// The header length disagrees with the bytes given (strict decoding only).
    #[error("header declares {declared} payload bytes but {actual} were given")]
    LengthMismatch {
        /// Length in the header.
        declared: usize,
        /// Payload bytes present.
        actual: usize,
    },
    /// A K-command payload that the code's layout does not allow.
    #[error("K{code}: {reason}")]
    BadPayload {
        /// K-command code.
        code: u16,
        /// What is wrong.
        reason: &'static str,
    },
    /// A JSON payload that is not valid JSON.
    #[error("K{code}: payload is not JSON: {message}")]
    BadJson {
        /// K-command code.
        code: u16,
        /// serde_json's message.
        message: String,
    },
}

/// A bounds-checked little-endian cursor over a byte slice.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], WireError> {
        if self.bytes.len() < n {
            return Err(WireError::Truncated(field));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, WireError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn i16(&mut self, field: &'static str) -> Result<i16, WireError> {
        Ok(i16::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }
}
