//! Splitting a byte stream of concatenated JSON objects (no delimiter between them) into objects.
//!
//! Like the camera's own parser (`protocols/ambarella.md` §1.2) this counts braces: an object starts at a
//! `{` at depth 0 and ends when the depth returns to 0. Braces inside strings (escapes included) do not
//! count. Bytes outside any object (whitespace, stray garbage) are skipped. Nothing is parsed here; the
//! caller hands each object to [`serde_json`] (see [`crate::wire::Message`]).
//!
//! **Oversized objects**: an object longer than the cap yields [`StreamError::ObjectTooLarge`] once; the
//! decoder then *resynchronises* by skipping the rest of that object without storing it (memory stays
//! bounded by the cap plus one pushed chunk) and continues with the next object. The client treats the
//! error as fatal and drops the connection (a camera does not send such replies); the emulator drops the
//! command without a reply, as the camera does, and keeps the connection.
//!
//! ```
//! use camctl_ambarella::wire::JsonStream;
//! let mut s = JsonStream::new(1024);
//! s.push(br#"{ "rval": 0, "msg_id": 257, "param": 2 }{"msg_id":7,"#);
//! assert_eq!(s.next_object().unwrap(), Some(&br#"{ "rval": 0, "msg_id": 257, "param": 2 }"#[..]));
//! assert_eq!(s.next_object().unwrap(), None);
//! s.push(br#""type":"vf_stop"}"#);
//! assert_eq!(s.next_object().unwrap(), Some(&br#"{"msg_id":7,"type":"vf_stop"}"#[..]));
//! ```

/// Default cap on one object: far above any real reply (a long listing is tens of KiB).
pub const DEFAULT_MAX_OBJECT: usize = 1 << 20;

/// What the stream decoder rejects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// An object grew beyond the cap; its remaining bytes are skipped.
    #[error("JSON object larger than {limit} bytes")]
    ObjectTooLarge {
        /// The cap in force.
        limit: usize,
    },
}

/// Incremental splitter of concatenated JSON objects; feed it with [`push`](Self::push), take objects
/// with [`next_object`](Self::next_object).
#[derive(Debug, Clone)]
pub struct JsonStream {
    buf: Vec<u8>,
    /// Start of the unconsumed bytes.
    head: usize,
    /// Next byte to scan.
    scan: usize,
    /// Start of the object being assembled (valid while `depth > 0` and not discarding).
    start: usize,
    depth: usize,
    in_string: bool,
    escape: bool,
    /// Skipping the rest of an oversized object.
    discarding: bool,
    max: usize,
    skipped: u64,
}

impl Default for JsonStream {
    fn default() -> Self {
        JsonStream::new(DEFAULT_MAX_OBJECT)
    }
}

impl JsonStream {
    /// A decoder that accepts objects of at most `max_object` bytes (at least 2).
    pub fn new(max_object: usize) -> Self {
        JsonStream {
            buf: Vec::new(),
            head: 0,
            scan: 0,
            start: 0,
            depth: 0,
            in_string: false,
            escape: false,
            discarding: false,
            max: max_object.max(2),
            skipped: 0,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(data);
    }

    /// Bytes held that are not yet part of a returned object.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.head
    }

    /// Bytes skipped so far outside objects or inside oversized ones.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Whether the decoder is in the middle of an object (or of skipping one).
    pub fn in_object(&self) -> bool {
        self.depth > 0
    }

    /// Drops consumed bytes so the buffer does not grow without bound.
    fn compact(&mut self) {
        if self.head == 0 {
            return;
        }
        self.buf.drain(..self.head);
        self.scan -= self.head;
        self.start = self.start.saturating_sub(self.head);
        self.head = 0;
    }

    /// The next complete object, `Ok(None)` when more bytes are needed. After an
    /// [`StreamError::ObjectTooLarge`] the decoder keeps working (see the module docs).
    pub fn next_object(&mut self) -> Result<Option<&[u8]>, StreamError> {
        while self.scan < self.buf.len() {
            let b = self.buf[self.scan];
            let at = self.scan;
            self.scan += 1;
            if self.depth == 0 {
                if b == b'{' {
                    self.depth = 1;
                    self.start = at;
                    self.in_string = false;
                    self.escape = false;
                } else {
                    if !b.is_ascii_whitespace() {
                        self.skipped += 1;
                    }
                    self.head = self.scan;
                }
                continue;
            }
            if self.in_string {
                if self.escape {
                    self.escape = false;
                } else if b == b'\\' {
                    self.escape = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' => self.depth = self.depth.saturating_add(1),
                    b'}' => self.depth -= 1,
                    _ => {}
                }
            }
            if self.discarding {
                self.skipped += 1;
                self.head = self.scan;
                if self.depth == 0 {
                    self.discarding = false;
                }
                continue;
            }
            if self.depth == 0 {
                self.head = self.scan;
                return Ok(Some(&self.buf[self.start..self.scan]));
            }
            if self.scan - self.start > self.max {
                // Forget what we hold of it and skip the rest as it arrives.
                self.discarding = true;
                self.skipped += (self.scan - self.start) as u64;
                self.head = self.scan;
                return Err(StreamError::ObjectTooLarge { limit: self.max });
            }
        }
        if self.discarding || self.depth == 0 {
            // Nothing of value is held: release it now rather than at the next push.
            self.head = self.scan;
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &mut JsonStream) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(o) = s.next_object().unwrap() {
            out.push(String::from_utf8(o.to_vec()).unwrap());
        }
        out
    }

    #[test]
    fn strings_and_escapes_do_not_count() {
        let mut s = JsonStream::new(100);
        s.push(br#" {"a":"}{\"}\\"} x {"b":{"c":"{"}}"#);
        assert_eq!(all(&mut s), [r#"{"a":"}{\"}\\"}"#, r#"{"b":{"c":"{"}}"#]);
        assert_eq!(s.skipped(), 1);
    }

    #[test]
    fn oversized_object_is_skipped_and_stream_resyncs() {
        let mut s = JsonStream::new(16);
        s.push(br#"{"a":"0123456789012345678"#);
        assert_eq!(s.next_object(), Err(StreamError::ObjectTooLarge { limit: 16 }));
        assert!(s.buffered() < 16);
        s.push(br#"9}"}{"ok":1}"#);
        assert_eq!(all(&mut s), [r#"{"ok":1}"#]);
        assert_eq!(s.buffered(), 0);
    }
}
