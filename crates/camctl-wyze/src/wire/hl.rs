//! The 16-byte "HL" header that frames every K-command (tutk.md §2.1).
//!
//! Encoding is exact (DWB `encode()`): `"HL"`, protocol u16 LE, code u16 LE, payload length u16 LE, eight
//! zero bytes, payload. Decoding is lenient like go2rtc's `ParseHL`: trailing bytes after the declared
//! payload and non-zero reserved bytes are ignored, because real cameras' AV frames pad the message.

use super::{Reader, WireError};

/// Length of the HL header.
pub const HL_HEADER_LEN: usize = 16;

/// The two magic bytes every HL message starts with.
pub const HL_MAGIC: [u8; 2] = *b"HL";

/// The protocol number this crate writes in requests (DWB since 2023, go2rtc): 5.
pub const HL_PROTOCOL: u16 = 5;

/// A decoded HL header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HlHeader {
    /// Protocol level. In a camera's reply it is the camera's protocol level (tutk.md §2.4).
    pub protocol: u16,
    /// K-command code.
    pub code: u16,
    /// Declared payload length.
    pub payload_len: u16,
}

impl HlHeader {
    /// Decodes the first 16 bytes of `bytes`: checks the magic, reads the u16 fields, ignores 8..16.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let magic = r.array::<2>("HL magic")?;
        if magic != HL_MAGIC {
            return Err(WireError::BadMagic(magic));
        }
        let protocol = r.u16("HL protocol")?;
        let code = r.u16("HL code")?;
        let payload_len = r.u16("HL length")?;
        // DWB's decoder reads a u32 length at 6..10 and would reject non-zero 8..10; go2rtc ignores them.
        r.take(8, "HL reserved")?;
        Ok(HlHeader { protocol, code, payload_len })
    }
}

/// One HL message: header fields plus payload.
///
/// ```
/// use camctl_wyze::wire::HlMessage;
/// let msg = HlMessage::new(10010, vec![1, 1]);
/// let bytes = msg.encode().unwrap();
/// assert_eq!(&bytes[..8], &[0x48, 0x4c, 5, 0, 0x1a, 0x27, 2, 0]);
/// assert_eq!(HlMessage::decode(&bytes).unwrap(), msg);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlMessage {
    /// Protocol number from the header (5 when this crate writes a request).
    pub protocol: u16,
    /// K-command code.
    pub code: u16,
    /// Payload bytes.
    pub payload: Vec<u8>,
}

impl HlMessage {
    /// A message with protocol [`HL_PROTOCOL`].
    pub fn new(code: u16, payload: Vec<u8>) -> Self {
        HlMessage { protocol: HL_PROTOCOL, code, payload }
    }

    /// A message with an explicit protocol number (a camera writes its protocol level here).
    pub fn with_protocol(protocol: u16, code: u16, payload: Vec<u8>) -> Self {
        HlMessage { protocol, code, payload }
    }

    /// The wire bytes; fails only if the payload exceeds 65535 bytes.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let len = u16::try_from(self.payload.len()).map_err(|_| WireError::TooLong(self.payload.len()))?;
        let mut out = Vec::with_capacity(HL_HEADER_LEN + self.payload.len());
        out.extend_from_slice(&HL_MAGIC);
        out.extend_from_slice(&self.protocol.to_le_bytes());
        out.extend_from_slice(&self.code.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&self.payload);
        Ok(out)
    }

    /// Lenient decoding: bytes after the declared payload are ignored; a payload shorter than declared
    /// is an error (a K-command cut short cannot be interpreted safely).
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let header = HlHeader::decode(bytes)?;
        let body = bytes.get(HL_HEADER_LEN..).unwrap_or_default();
        let len = usize::from(header.payload_len);
        let payload = body.get(..len).ok_or(WireError::Truncated("HL payload"))?;
        if body.len() > len {
            tracing::debug!(code = header.code, extra = body.len() - len, "ignoring bytes after HL payload");
        }
        Ok(HlMessage { protocol: header.protocol, code: header.code, payload: payload.to_vec() })
    }

    /// Strict decoding as DWB/KROO do it: the buffer must be exactly header + declared payload.
    pub fn decode_strict(bytes: &[u8]) -> Result<Self, WireError> {
        let header = HlHeader::decode(bytes)?;
        let actual = bytes.len() - HL_HEADER_LEN;
        if actual != usize::from(header.payload_len) {
            return Err(WireError::LengthMismatch { declared: header.payload_len.into(), actual });
        }
        Self::decode(bytes)
    }

    /// Finds and decodes the first HL message at or after `from` (go2rtc `FindHL`: a native transport
    /// locates the message inside an AV IOCTRL frame by scanning from offset 32 or 36).
    ///
    /// ```
    /// use camctl_wyze::wire::HlMessage;
    /// let mut frame = vec![0u8; 40];
    /// frame.extend(HlMessage::new(10001, vec![3; 17]).encode().unwrap());
    /// assert_eq!(HlMessage::find(&frame, 32).unwrap().code, 10001);
    /// ```
    pub fn find(bytes: &[u8], from: usize) -> Option<Self> {
        let tail = bytes.get(from..)?;
        tail.windows(2)
            .enumerate()
            .filter(|(_, w)| *w == HL_MAGIC)
            .find_map(|(i, _)| tail.get(i..).and_then(|m| Self::decode(m).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_skips_false_magic() {
        // A stray "HL" whose header does not decode is skipped in favour of the real message.
        let mut buf = b"xxHL\x05".to_vec();
        buf.extend(HlMessage::new(10011, vec![]).encode().unwrap());
        assert_eq!(HlMessage::find(&buf, 0).map(|m| m.code), Some(10011));
        assert_eq!(HlMessage::find(&buf, 1000), None);
        assert_eq!(HlMessage::find(b"no message", 0), None);
    }

    #[test]
    fn header_fields() {
        let h =
            HlHeader::decode(&HlMessage::with_protocol(37, 10001, vec![0; 17]).encode().unwrap()).unwrap();
        assert_eq!(h, HlHeader { protocol: 37, code: 10001, payload_len: 17 });
    }
}
