//! Pure encoding and decoding of the remote API: no sockets, no clocks.
//!
//! * [`JsonStream`] splits the delimiter-less byte stream into objects;
//! * [`Message`] / [`Request`] / [`Command`] give those objects types;
//! * [`ObjectWriter`] writes objects in the camera's exact styles;
//! * [`codes`] holds the `msg_id` and `rval` tables.

pub mod codes;
mod json;
mod message;
mod stream;

pub use codes::{msg, rval};
pub use json::{ObjectWriter, Style, escape_into, write_value};
pub use message::{
    Command, ListEntry, Message, MessageError, Notification, Reply, Request, SettingOptions, TransferDone,
    as_i64, as_text, as_u64, pairs, parse_date, parse_listing,
};
pub use stream::{DEFAULT_MAX_OBJECT, JsonStream, StreamError};
