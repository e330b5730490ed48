//! Pure encode/decode of PTP/IP packets and PTP datasets: no sockets, no clocks.
//!
//! Every decoder takes bytes and returns a value or a [`WireError`]; none panics, and none allocates
//! from a length field without first checking it against the bytes actually present.

mod bytes;
pub mod canon;
pub mod codes;
mod dataset;
pub mod nikon;
mod packet;

pub use bytes::{Reader, put_ptp_string, put_u16, put_u16_array, put_u32, put_u32_array, put_u64};
pub use dataset::{
    ARRAY_SHOWN, DataType, DeviceInfo, DevicePropDesc, ObjectInfo, PropArray, PropForm, PropValue,
    StorageInfo, decode_u32_array, encode_u32_array, format_ptp_date, parse_ptp_date,
};
pub use packet::{
    CodeAndParams, FUJI_VERSION_MAGIC, HEADER_LEN, Header, OperationRequest, PROTOCOL_VERSION, Packet,
    Params, data_phase, fail_reason, kind,
};

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input ended inside the named field.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// A packet length smaller than its header.
    #[error("bad packet length {0}")]
    BadLength(u32),
    /// A packet length larger than this side accepts.
    #[error("packet of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// A frame whose header length disagrees with the bytes given.
    #[error("packet declares {declared} bytes but {actual} were given")]
    LengthMismatch {
        /// Length in the header.
        declared: u32,
        /// Bytes present.
        actual: usize,
    },
    /// An array count that cannot fit in the bytes left.
    #[error("array count {0} exceeds the data")]
    BadCount(u64),
    /// A data type code that has no known encoding.
    #[error("unsupported data type 0x{0:04x}")]
    UnsupportedDataType(u16),
    /// A value that does not match the declared data type.
    #[error("value does not match data type 0x{0:04x}")]
    TypeMismatch(u16),
}
