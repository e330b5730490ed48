//! Little-endian primitives and PTP strings. The reader checks every length against what is left
//! before it allocates, so a hostile length field can only produce an error.

use super::WireError;

/// A bounds-checked cursor over a byte slice.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// Everything not yet read (consumes it).
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = &self.bytes[self.pos..];
        self.pos = self.bytes.len();
        rest
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.remaining() < n {
            return Err(WireError::Truncated("field"));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// `u8`.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }
    /// `u16` LE.
    pub fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    /// `u32` LE.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    /// `u64` LE.
    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// `u128` LE.
    pub fn u128(&mut self) -> Result<u128, WireError> {
        Ok(u128::from_le_bytes(self.array()?))
    }

    /// A PTP string: `u8` count of UTF-16 units including the NUL, then the units. Count 0 is "".
    pub fn ptp_string(&mut self) -> Result<String, WireError> {
        let units = usize::from(self.u8()?);
        let raw = self.take(units * 2).map_err(|_| WireError::Truncated("string"))?;
        let text = raw.chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]])).take_while(|&u| u != 0);
        Ok(char::decode_utf16(text).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect())
    }

    /// A PTP string that may be missing at the end of a dataset (lenient: trailing fields are optional
    /// for some cameras).
    pub fn optional_ptp_string(&mut self) -> Result<String, WireError> {
        if self.remaining() == 0 { Ok(String::new()) } else { self.ptp_string() }
    }

    /// An array of `u16`: `u32` count then elements; the count is checked against the bytes left.
    pub fn u16_array(&mut self) -> Result<Vec<u16>, WireError> {
        let n = self.array_len(2)?;
        (0..n).map(|_| self.u16()).collect()
    }

    /// An array of `u32`.
    pub fn u32_array(&mut self) -> Result<Vec<u32>, WireError> {
        let n = self.array_len(4)?;
        (0..n).map(|_| self.u32()).collect()
    }

    /// Reads an array count and checks that `count * elem_size` bytes remain.
    pub fn array_len(&mut self, elem_size: usize) -> Result<usize, WireError> {
        let n = self.u32()? as usize;
        if n.checked_mul(elem_size).is_none_or(|bytes| bytes > self.remaining()) {
            return Err(WireError::BadCount(n as u64));
        }
        Ok(n)
    }
}

/// Appends a `u16` LE.
pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
/// Appends a `u32` LE.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
/// Appends a `u64` LE.
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a NUL-terminated UTF-16LE string (PTP/IP init packets: no length prefix).
pub fn put_utf16z(out: &mut Vec<u8>, s: &str) {
    s.encode_utf16().chain([0]).for_each(|u| put_u16(out, u));
}

/// Appends a PTP string; "" is the single byte 0, longer text is cut at 254 units (+ NUL).
pub fn put_ptp_string(out: &mut Vec<u8>, s: &str) {
    let units: Vec<u16> = s.encode_utf16().take(254).collect();
    if units.is_empty() {
        out.push(0);
        return;
    }
    out.push(units.len() as u8 + 1);
    units.iter().chain([&0]).for_each(|u| put_u16(out, *u));
}

/// Appends an array of `u16`.
pub fn put_u16_array(out: &mut Vec<u8>, values: &[u16]) {
    put_u32(out, values.len() as u32);
    values.iter().for_each(|v| put_u16(out, *v));
}

/// Appends an array of `u32`.
pub fn put_u32_array(out: &mut Vec<u8>, values: &[u32]) {
    put_u32(out, values.len() as u32);
    values.iter().for_each(|v| put_u32(out, *v));
}
