//! Writing JSON objects the way the camera does (`protocols/ambarella.md` §1.3).
//!
//! The Yi mixes two styles: RTOS-built messages are *spaced* (`{ "rval": 0, "msg_id": 257, "param": 2 }`,
//! `/` escaped as `\/`), Linux-built ones *compact* (`{"rval":0,"msg_id":1282,...}`), and some are a spaced
//! head with a compact tail appended (`{ "msg_id": 7, "type": "battery" ,"param":"44"}`). Clients send
//! compact JSON. Writing by hand instead of through `serde_json` gives exact control over these bytes and
//! costs no allocation beyond the caller's reused buffer.
//!
//! ```
//! use camctl_ambarella::wire::{ObjectWriter, Style};
//! let mut out = Vec::new();
//! ObjectWriter::new(&mut out, Style::Spaced).int("msg_id", 7).str("type", "battery").tail().str("param", "44").finish();
//! assert_eq!(out, br#"{ "msg_id": 7, "type": "battery" ,"param":"44"}"#);
//! ```

use serde_json::Value;

/// JSON layout of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `{ "k": v, "k2": v2 }` with `/` written as `\/` (RTOS side of the camera).
    Spaced,
    /// `{"k":v,"k2":v2}` (Linux side of the camera, and every client).
    Compact,
}

/// Appends one JSON object to a buffer, field by field.
pub struct ObjectWriter<'a> {
    out: &'a mut Vec<u8>,
    style: Style,
    fields: usize,
    /// Fields from now on use the compact appendix form after a spaced head.
    tail: bool,
    tail_fields: usize,
}

impl<'a> ObjectWriter<'a> {
    /// Starts an object at the end of `out`.
    pub fn new(out: &'a mut Vec<u8>, style: Style) -> Self {
        out.push(b'{');
        ObjectWriter { out, style, fields: 0, tail: false, tail_fields: 0 }
    }

    /// Switches a spaced object to the compact appendix (` ,"k":v`) for the following fields.
    pub fn tail(&mut self) -> &mut Self {
        if self.style == Style::Spaced {
            self.tail = true;
        }
        self
    }

    /// Whether the field being written uses spaced layout.
    fn spaced(&self) -> bool {
        self.style == Style::Spaced && !self.tail
    }

    fn key(&mut self, key: &str) {
        let sep: &[u8] = match (self.spaced(), self.fields, self.tail && self.tail_fields == 0) {
            (true, 0, _) => b" \"",
            (true, _, _) => b", \"",
            (false, 0, _) => b"\"",
            (false, _, true) => b" ,\"",
            (false, _, false) => b",\"",
        };
        self.out.extend_from_slice(sep);
        escape_into(self.out, key, self.spaced());
        self.out.extend_from_slice(if self.spaced() { b"\": " } else { b"\":" });
    }

    /// Bookkeeping after a field's value.
    fn done(&mut self) -> &mut Self {
        self.fields += 1;
        if self.tail {
            self.tail_fields += 1;
        }
        self
    }

    /// An integer field.
    pub fn int(&mut self, key: &str, v: i64) -> &mut Self {
        self.key(key);
        push_int(self.out, v);
        self.done()
    }

    /// A string field.
    pub fn str(&mut self, key: &str, v: &str) -> &mut Self {
        self.key(key);
        self.out.push(b'"');
        escape_into(self.out, v, self.spaced());
        self.out.push(b'"');
        self.done()
    }

    /// Any JSON value (compact rendering; `/` escaped in spaced parts).
    pub fn value(&mut self, key: &str, v: &Value) -> &mut Self {
        self.key(key);
        let spaced = self.spaced();
        write_value(self.out, v, spaced);
        self.done()
    }

    /// An array of strings.
    pub fn str_array<'s>(&mut self, key: &str, items: impl IntoIterator<Item = &'s str>) -> &mut Self {
        self.key(key);
        let spaced = self.spaced();
        self.out.push(b'[');
        let mut any = false;
        for (i, item) in items.into_iter().enumerate() {
            any = true;
            self.out.extend_from_slice(match (i, spaced) {
                (0, false) => b"\"" as &[u8],
                (0, true) => b" \"",
                (_, false) => b",\"",
                (_, true) => b", \"",
            });
            escape_into(self.out, item, spaced);
            self.out.push(b'"');
        }
        self.out.extend_from_slice(if spaced && any { b" ]" } else { b"]" });
        self.done()
    }

    /// An array of one-key string objects `[{"k":"v"},...]` (msg 3 settings, msg 1282 listings).
    pub fn pairs<'s>(&mut self, key: &str, items: impl IntoIterator<Item = (&'s str, &'s str)>) -> &mut Self {
        self.key(key);
        let spaced = self.spaced();
        self.out.push(b'[');
        let mut any = false;
        for (i, (k, v)) in items.into_iter().enumerate() {
            any = true;
            if spaced {
                self.out.extend_from_slice(if i == 0 { b" { \"" } else { b", { \"" });
                escape_into(self.out, k, true);
                self.out.extend_from_slice(b"\": \"");
                escape_into(self.out, v, true);
                self.out.extend_from_slice(b"\" }");
            } else {
                self.out.extend_from_slice(if i == 0 { b"{\"" } else { b",{\"" });
                escape_into(self.out, k, false);
                self.out.extend_from_slice(b"\":\"");
                escape_into(self.out, v, false);
                self.out.extend_from_slice(b"\"}");
            }
        }
        self.out.extend_from_slice(if spaced && any { b" ]" } else { b"]" });
        self.done()
    }

    /// Closes the object.
    pub fn finish(&mut self) {
        self.out.extend_from_slice(if self.spaced() { b" }" } else { b"}" });
    }
}

/// Appends a decimal integer.
fn push_int(out: &mut Vec<u8>, v: i64) {
    let mut digits = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends `s` as the inside of a JSON string; `slash` also escapes `/` (the camera's RTOS habit).
pub fn escape_into(out: &mut Vec<u8>, s: &str, slash: bool) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut plain = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'/' if slash => b"\\/",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain..i]);
        plain = i + 1;
        if esc.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]);
        } else {
            out.extend_from_slice(esc);
        }
    }
    out.extend_from_slice(&bytes[plain..]);
}

/// Appends any JSON value in compact form.
pub fn write_value(out: &mut Vec<u8>, v: &Value, slash: bool) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => {
            out.push(b'"');
            escape_into(out, s, slash);
            out.push(b'"');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item, slash);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'"');
                escape_into(out, k, slash);
                out.extend_from_slice(b"\":");
                write_value(out, item, slash);
            }
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spaced(f: impl FnOnce(&mut ObjectWriter<'_>)) -> String {
        let mut out = Vec::new();
        let mut w = ObjectWriter::new(&mut out, Style::Spaced);
        f(&mut w);
        w.finish();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn reproduces_the_verbatim_camera_styles() {
        assert_eq!(
            spaced(|w| {
                w.int("msg_id", 7).str("type", "vf_stop");
            }),
            r#"{ "msg_id": 7, "type": "vf_stop" }"#
        );
        assert_eq!(
            spaced(|w| {
                w.int("rval", 0).int("msg_id", 257).int("param", 2);
            }),
            r#"{ "rval": 0, "msg_id": 257, "param": 2 }"#
        );
        assert_eq!(
            spaced(|w| {
                w.int("rval", 0).int("msg_id", 2).tail().str("type", "camera_clock").str("param", "2015");
            }),
            r#"{ "rval": 0, "msg_id": 2 ,"type":"camera_clock","param":"2015"}"#
        );
        assert_eq!(
            spaced(|w| {
                w.int("rval", 0).int("msg_id", 3).pairs(
                    "param",
                    [("camera_clock", "2015-09-24 10:18:00"), ("burst_capture_number", "7 p / s")],
                );
            }),
            r#"{ "rval": 0, "msg_id": 3, "param": [ { "camera_clock": "2015-09-24 10:18:00" }, { "burst_capture_number": "7 p \/ s" } ] }"#
        );
        assert_eq!(
            spaced(|w| {
                w.int("msg_id", 7)
                    .str("type", "photo_taken")
                    .tail()
                    .str("param", "/tmp/fuse_d/DCIM/100MEDIA/YDXJ0042.jpg");
            }),
            r#"{ "msg_id": 7, "type": "photo_taken" ,"param":"/tmp/fuse_d/DCIM/100MEDIA/YDXJ0042.jpg"}"#
        );
        let mut out = Vec::new();
        ObjectWriter::new(&mut out, Style::Compact)
            .int("rval", 0)
            .int("msg_id", 1282)
            .pairs("listing", [("100MEDIA/", "0 bytes|2015-09-24 10:22:54")])
            .finish();
        assert_eq!(
            out,
            br#"{"rval":0,"msg_id":1282,"listing":[{"100MEDIA/":"0 bytes|2015-09-24 10:22:54"}]}"#
        );
        let mut out = Vec::new();
        ObjectWriter::new(&mut out, Style::Compact)
            .int("n", -1234)
            .str("s", "a\"\\\u{1}")
            .str_array("o", ["x", "y"])
            .finish();
        assert_eq!(out, br#"{"n":-1234,"s":"a\"\\\u0001","o":["x","y"]}"#);
        assert_eq!(serde_json::from_slice::<Value>(&out).unwrap()["s"], "a\"\\\u{1}");
    }
}
