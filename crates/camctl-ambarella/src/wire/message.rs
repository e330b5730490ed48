//! Typed messages over the JSON objects of the stream: what the camera sends ([`Message`]), what a client
//! sends ([`Request`] / [`Command`]), and the data shapes inside them (settings, listings, transfer
//! notifications). Unknown fields are kept (`raw`), unknown ids pass through as [`Command::Other`] /
//! [`Message::Other`]; decoding never panics.

use serde_json::{Map, Value};

use super::codes::{msg, rval};
use super::json::{ObjectWriter, Style};
use camctl_core::time::DateTime;

/// Why an object is not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Not valid JSON, or not an object.
    #[error("not a JSON object: {0}")]
    Json(String),
    /// No usable integer `msg_id`.
    #[error("missing or non-integer msg_id")]
    NoMsgId,
}

/// An integer from a JSON number or a numeric string (the camera mixes both, §1.3).
pub fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9e18).map(|f| f as i64))
        }
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A non-negative integer (number or numeric string).
pub fn as_u64(v: &Value) -> Option<u64> {
    as_i64(v).and_then(|n| u64::try_from(n).ok())
}

/// A value rendered as text: strings as they are (JSON escapes such as `\/` already undone), numbers and
/// booleans in decimal, anything else as compact JSON.
pub fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, MessageError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(MessageError::Json("not an object".into())),
        Err(e) => Err(MessageError::Json(e.to_string())),
    }
}

/// A reply to a request: `rval` and the request's `msg_id`, plus data keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The request's id (or 0 in the Yi's `-4` form).
    pub msg_id: i64,
    /// Result code, see [`rval`].
    pub rval: i64,
    /// The whole object, unknown fields included.
    pub raw: Map<String, Value>,
}

impl Reply {
    /// A field.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.raw.get(key)
    }

    /// The `param` field.
    pub fn param(&self) -> Option<&Value> {
        self.raw.get("param")
    }

    /// An integer field (number or numeric string).
    pub fn int(&self, key: &str) -> Option<i64> {
        self.raw.get(key).and_then(as_i64)
    }

    /// A field as text.
    pub fn text(&self, key: &str) -> Option<String> {
        self.raw.get(key).map(as_text)
    }
}

/// A `msg_id: 7` notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The `type` (e.g. `photo_taken`).
    pub kind: String,
    /// The `param`, when present.
    pub param: Option<Value>,
    /// The other fields of the object (`param` is held once, above).
    pub raw: Map<String, Value>,
}

impl Notification {
    /// `param` as text (empty when absent).
    pub fn param_text(&self) -> String {
        self.param.as_ref().map(as_text).unwrap_or_default()
    }
}

/// Anything the camera sends on the command channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Has `rval`: the answer to a request.
    Reply(Reply),
    /// `msg_id` 7 without `rval`.
    Notification(Notification),
    /// `{"msg_id":1793}`: another client wants the session; answer within 800 ms to keep it.
    SessionHolderQuery,
    /// Any other object with a `msg_id` (kept whole).
    Other {
        /// Its id.
        msg_id: i64,
        /// The object.
        raw: Map<String, Value>,
    },
}

impl Message {
    /// Decodes one object from [`crate::wire::JsonStream`].
    ///
    /// ```
    /// use camctl_ambarella::wire::Message;
    /// let m = Message::decode(br#"{ "msg_id": 7, "type": "battery" ,"param":"44"}"#).unwrap();
    /// let Message::Notification(n) = m else { panic!() };
    /// assert_eq!((n.kind.as_str(), n.param_text().as_str()), ("battery", "44"));
    /// ```
    pub fn decode(bytes: &[u8]) -> Result<Message, MessageError> {
        let mut raw = parse_object(bytes)?;
        let msg_id = raw.get("msg_id").and_then(as_i64).ok_or(MessageError::NoMsgId)?;
        if let Some(rval) = raw.get("rval").and_then(as_i64) {
            return Ok(Message::Reply(Reply { msg_id, rval, raw }));
        }
        Ok(match msg_id {
            msg::NOTIFICATION => Message::Notification(Notification {
                kind: raw.get("type").map(as_text).unwrap_or_default(),
                param: raw.remove("param"),
                raw,
            }),
            msg::QUERY_SESSION_HOLDER => Message::SessionHolderQuery,
            _ => Message::Other { msg_id, raw },
        })
    }
}

/// A request as the camera receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Its id.
    pub msg_id: i64,
    /// Its token (absent = 0).
    pub token: i64,
    /// The whole object.
    pub raw: Map<String, Value>,
}

impl Request {
    /// Decodes one client object.
    pub fn decode(bytes: &[u8]) -> Result<Request, MessageError> {
        let raw = parse_object(bytes)?;
        let msg_id = raw.get("msg_id").and_then(as_i64).ok_or(MessageError::NoMsgId)?;
        let token = raw.get("token").and_then(as_i64).unwrap_or(0);
        Ok(Request { msg_id, token, raw })
    }

    fn str_field(&self, key: &str) -> Option<&str> {
        self.raw.get(key).and_then(Value::as_str)
    }

    fn u64_field(&self, key: &str) -> Option<u64> {
        self.raw.get(key).and_then(as_u64)
    }

    /// The typed command, or the `rval` to answer with when a required field is missing (`-9`, the
    /// camera's answer to a request without its `type`/`param`).
    pub fn command(&self) -> Result<Command<'_>, i64> {
        let need = |key: &str| self.str_field(key).ok_or(rval::JSON_SYNTAX_ERROR);
        Ok(match self.msg_id {
            msg::GET_SETTING => Command::GetSetting { key: need("type")? },
            msg::SET_SETTING => {
                let value = match self.raw.get("param") {
                    Some(Value::String(s)) => s.as_str(),
                    // A number/bool value is still a value; the camera stores strings.
                    Some(v) if !v.is_null() && !v.is_object() && !v.is_array() => {
                        return Ok(Command::SetSettingNonString { key: need("type")?, value: v });
                    }
                    _ => return Err(rval::JSON_SYNTAX_ERROR),
                };
                Command::SetSetting { key: need("type")?, value }
            }
            msg::GET_ALL_SETTINGS => match self.str_field("param") {
                Some(key) => Command::DescribeSetting { key },
                None => Command::GetAllSettings,
            },
            msg::FORMAT => Command::Format,
            msg::GET_SPACE => Command::GetSpace { kind: need("type")? },
            msg::GET_SETTING_OPTIONS => Command::GetOptions { key: need("param")? },
            msg::GET_DEVICE_INFO => Command::GetDeviceInfo,
            msg::GET_BATTERY_LEVEL => Command::GetBattery,
            msg::START_SESSION => Command::StartSession,
            msg::STOP_SESSION => Command::StopSession,
            msg::RESET_VF => Command::StartPreview,
            msg::STOP_VF => Command::StopPreview,
            msg::RECORD_START => Command::StartRecording,
            msg::RECORD_STOP => Command::StopRecording,
            msg::GET_RECORD_TIME => Command::RecordTime,
            msg::TAKE_PHOTO => Command::TakePhoto,
            msg::CONTINUE_CAPTURE_STOP => Command::StopContinuousCapture,
            msg::GET_THUMB => {
                Command::Thumbnail { path: need("param")?, kind: self.str_field("type").unwrap_or("thumb") }
            }
            msg::GET_MEDIA_INFO => Command::MediaInfo { path: need("param")? },
            msg::DEL_FILE => Command::Delete { path: need("param")? },
            msg::LS => Command::List { param: self.str_field("param").unwrap_or("") },
            msg::CD => Command::Cd { path: need("param")? },
            msg::PWD => Command::Pwd,
            msg::GET_FILE => Command::GetFile {
                path: need("param")?,
                offset: self.u64_field("offset").unwrap_or(0),
                fetch_size: self.u64_field("fetch_size").unwrap_or(0),
            },
            msg::PUT_FILE => Command::PutFile {
                path: need("param")?,
                offset: self.u64_field("offset").unwrap_or(0),
                size: self.u64_field("size").ok_or(rval::JSON_SYNTAX_ERROR)?,
                md5: self.str_field("md5sum").unwrap_or(""),
            },
            msg::CANCEL_FILE_XFER => Command::CancelTransfer { path: self.str_field("param").unwrap_or("") },
            msg::QUERY_SESSION_HOLDER => {
                Command::HolderAnswer { rval: self.raw.get("rval").and_then(as_i64) }
            }
            msg::YI_CAPTURE => Command::Capture { mode: need("param")? },
            msg::YI_SET_CAPTURE_MODE => Command::SetCaptureMode { mode: need("param")? },
            msg::YI_HEARTBEAT => Command::Heartbeat,
            other => Command::Other { msg_id: other },
        })
    }
}

/// The requests of the msg_id table (§3) that camctl sends or the emulator understands.
#[derive(Debug, Clone, PartialEq)]
pub enum Command<'a> {
    /// 257.
    StartSession,
    /// 258.
    StopSession,
    /// 1 `type`.
    GetSetting {
        /// Setting key.
        key: &'a str,
    },
    /// 2 `type`, `param`.
    SetSetting {
        /// Setting key.
        key: &'a str,
        /// New value.
        value: &'a str,
    },
    /// 2 with a non-string `param` (decoded only).
    SetSettingNonString {
        /// Setting key.
        key: &'a str,
        /// The value as sent.
        value: &'a Value,
    },
    /// 3.
    GetAllSettings,
    /// 3 with `param` (early firmware: `settable:a#b` or `readonly`).
    DescribeSetting {
        /// Setting key.
        key: &'a str,
    },
    /// 4.
    Format,
    /// 5 `type:"total"|"free"`.
    GetSpace {
        /// `total` or `free`.
        kind: &'a str,
    },
    /// 9 `param`.
    GetOptions {
        /// Setting key.
        key: &'a str,
    },
    /// 11.
    GetDeviceInfo,
    /// 13.
    GetBattery,
    /// 259 `param:"none_force"`.
    StartPreview,
    /// 260.
    StopPreview,
    /// 513.
    StartRecording,
    /// 514.
    StopRecording,
    /// 515.
    RecordTime,
    /// 769.
    TakePhoto,
    /// 770.
    StopContinuousCapture,
    /// 1025.
    Thumbnail {
        /// File.
        path: &'a str,
        /// `thumb`, `idr` or `fullview`.
        kind: &'a str,
    },
    /// 1026.
    MediaInfo {
        /// File.
        path: &'a str,
    },
    /// 1281.
    Delete {
        /// File (wildcards allowed).
        path: &'a str,
    },
    /// 1282 with its raw `param` (`"<dir>/ -D -S"`).
    List {
        /// The parameter as sent.
        param: &'a str,
    },
    /// 1283.
    Cd {
        /// Directory.
        path: &'a str,
    },
    /// 1284.
    Pwd,
    /// 1285.
    GetFile {
        /// File.
        path: &'a str,
        /// First byte.
        offset: u64,
        /// Bytes wanted (0 = to the end).
        fetch_size: u64,
    },
    /// 1286.
    PutFile {
        /// Destination.
        path: &'a str,
        /// First byte.
        offset: u64,
        /// `offset` + bytes that will be sent.
        size: u64,
        /// MD5 (hex) of the bytes that will be sent.
        md5: &'a str,
    },
    /// 1287.
    CancelTransfer {
        /// The file being transferred.
        path: &'a str,
    },
    /// 1793 from the holder: `rval` 0 keeps the session.
    HolderAnswer {
        /// The answer (absent in some clients).
        rval: Option<i64>,
    },
    /// 16777220 `"<mode>;<option>"`.
    Capture {
        /// Capture mode and option.
        mode: &'a str,
    },
    /// 16777228.
    SetCaptureMode {
        /// Capture mode and option.
        mode: &'a str,
    },
    /// 16777244.
    Heartbeat,
    /// Anything else (answered by id only).
    Other {
        /// Its id.
        msg_id: i64,
    },
}

impl Command<'_> {
    /// The message id.
    pub fn msg_id(&self) -> i64 {
        match self {
            Command::StartSession => msg::START_SESSION,
            Command::StopSession => msg::STOP_SESSION,
            Command::GetSetting { .. } => msg::GET_SETTING,
            Command::SetSetting { .. } | Command::SetSettingNonString { .. } => msg::SET_SETTING,
            Command::GetAllSettings | Command::DescribeSetting { .. } => msg::GET_ALL_SETTINGS,
            Command::Format => msg::FORMAT,
            Command::GetSpace { .. } => msg::GET_SPACE,
            Command::GetOptions { .. } => msg::GET_SETTING_OPTIONS,
            Command::GetDeviceInfo => msg::GET_DEVICE_INFO,
            Command::GetBattery => msg::GET_BATTERY_LEVEL,
            Command::StartPreview => msg::RESET_VF,
            Command::StopPreview => msg::STOP_VF,
            Command::StartRecording => msg::RECORD_START,
            Command::StopRecording => msg::RECORD_STOP,
            Command::RecordTime => msg::GET_RECORD_TIME,
            Command::TakePhoto => msg::TAKE_PHOTO,
            Command::StopContinuousCapture => msg::CONTINUE_CAPTURE_STOP,
            Command::Thumbnail { .. } => msg::GET_THUMB,
            Command::MediaInfo { .. } => msg::GET_MEDIA_INFO,
            Command::Delete { .. } => msg::DEL_FILE,
            Command::List { .. } => msg::LS,
            Command::Cd { .. } => msg::CD,
            Command::Pwd => msg::PWD,
            Command::GetFile { .. } => msg::GET_FILE,
            Command::PutFile { .. } => msg::PUT_FILE,
            Command::CancelTransfer { .. } => msg::CANCEL_FILE_XFER,
            Command::HolderAnswer { .. } => msg::QUERY_SESSION_HOLDER,
            Command::Capture { .. } => msg::YI_CAPTURE,
            Command::SetCaptureMode { .. } => msg::YI_SET_CAPTURE_MODE,
            Command::Heartbeat => msg::YI_HEARTBEAT,
            Command::Other { msg_id } => *msg_id,
        }
    }

    /// Appends the request as compact JSON (`{"msg_id":N,"token":T,...}`, as official clients send it).
    ///
    /// ```
    /// use camctl_ambarella::wire::Command;
    /// let mut out = Vec::new();
    /// Command::GetSetting { key: "video_standard" }.encode(5, &mut out);
    /// assert_eq!(out, br#"{"msg_id":1,"token":5,"type":"video_standard"}"#);
    /// ```
    pub fn encode(&self, token: i64, out: &mut Vec<u8>) {
        let mut w = ObjectWriter::new(out, Style::Compact);
        w.int("msg_id", self.msg_id());
        match self {
            Command::HolderAnswer { rval } => {
                if let Some(r) = rval {
                    w.int("rval", *r);
                }
                w.int("token", token);
            }
            _ => {
                w.int("token", token);
            }
        }
        match self {
            Command::GetSetting { key } => {
                w.str("type", key);
            }
            Command::SetSetting { key, value } => {
                w.str("type", key).str("param", value);
            }
            Command::SetSettingNonString { key, value } => {
                w.str("type", key).value("param", value);
            }
            Command::DescribeSetting { key } | Command::GetOptions { key } => {
                w.str("param", key);
            }
            Command::GetSpace { kind } => {
                w.str("type", kind);
            }
            Command::StartPreview => {
                w.str("param", "none_force");
            }
            Command::Thumbnail { path, kind } => {
                w.str("param", path).str("type", kind);
            }
            Command::MediaInfo { path } | Command::Delete { path } | Command::Cd { path } => {
                w.str("param", path);
            }
            Command::CancelTransfer { path } => {
                w.str("param", path);
            }
            Command::List { param } => {
                w.str("param", param);
            }
            Command::GetFile { path, offset, fetch_size } => {
                w.str("param", path).int("offset", clamp(*offset)).int("fetch_size", clamp(*fetch_size));
            }
            Command::PutFile { path, offset, size, md5 } => {
                w.str("param", path)
                    .int("offset", clamp(*offset))
                    .int("size", clamp(*size))
                    .str("md5sum", md5);
            }
            Command::Capture { mode } | Command::SetCaptureMode { mode } => {
                w.str("param", mode);
            }
            _ => {}
        }
        w.finish();
    }
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The one-key objects of a msg 3 `param` array (or a msg 1282 `listing`) as (key, text) pairs, in
/// order. Entries that are not one-key objects are skipped.
///
/// ```
/// use camctl_ambarella::wire::pairs;
/// let v: serde_json::Value = serde_json::from_str(r#"[ { "burst_capture_number": "7 p \/ s" }, { "n": 5 } ]"#).unwrap();
/// assert_eq!(pairs(&v), [("burst_capture_number".to_string(), "7 p / s".to_string()), ("n".into(), "5".into())]);
/// ```
pub fn pairs(v: &Value) -> Vec<(String, String)> {
    let Some(items) = v.as_array() else { return Vec::new() };
    items
        .iter()
        .filter_map(|item| {
            let obj = item.as_object()?;
            let (k, v) = obj.iter().next()?;
            Some((k.clone(), as_text(v)))
        })
        .collect()
}

/// Permission and allowed values of a setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingOptions {
    /// Whether the camera says it can be set.
    pub settable: bool,
    /// Allowed values; empty when the camera lists none (free text or unknown).
    pub options: Vec<String>,
}

impl SettingOptions {
    /// From a msg 9 reply (`permission`, `options`).
    pub fn from_options_reply(reply: &Reply) -> Option<SettingOptions> {
        let options = reply.get("options")?.as_array()?.iter().map(as_text).collect();
        let settable = reply.get("permission").and_then(Value::as_str).is_none_or(|p| p != "readonly");
        Some(SettingOptions { settable, options })
    }

    /// From the early-firmware describe text: `settable:opt1#opt2#...` or `readonly`.
    ///
    /// ```
    /// use camctl_ambarella::wire::SettingOptions;
    /// let o = SettingOptions::from_describe("settable:3 p / s#5 p / s").unwrap();
    /// assert!(o.settable && o.options == ["3 p / s", "5 p / s"]);
    /// assert!(!SettingOptions::from_describe("readonly").unwrap().settable);
    /// ```
    pub fn from_describe(text: &str) -> Option<SettingOptions> {
        if text.trim() == "readonly" {
            return Some(SettingOptions { settable: false, options: Vec::new() });
        }
        let list = text.strip_prefix("settable:")?;
        let options = list.split('#').filter(|s| !s.is_empty()).map(str::to_string).collect();
        Some(SettingOptions { settable: true, options })
    }
}

/// One entry of a msg 1282 listing with `-D -S`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// Name without the trailing `/`.
    pub name: String,
    /// Whether it is a directory (`/` suffix).
    pub is_dir: bool,
    /// Size in bytes (0 for directories or when absent).
    pub size: u64,
    /// Modification time, when given and well-formed.
    pub date: Option<DateTime>,
}

/// Parses `"3832451 bytes|2015-09-24 10:22:56"` style entries from a listing array (plain entries without
/// details are kept with size 0 and no date).
pub fn parse_listing(v: &Value) -> Vec<ListEntry> {
    pairs(v)
        .into_iter()
        .filter(|(name, _)| !name.is_empty() && name != "./" && name != "../")
        .map(|(name, detail)| {
            let (size, date) = detail.split_once('|').unwrap_or((detail.as_str(), ""));
            let size = size.trim().trim_end_matches("bytes").trim().parse().unwrap_or(0);
            let (is_dir, name) = match name.strip_suffix('/') {
                Some(n) => (true, n.to_string()),
                None => (false, name),
            };
            ListEntry { name, is_dir, size, date: parse_date(date) }
        })
        .collect()
}

/// Parses `YYYY-MM-DD HH:MM:SS`.
///
/// ```
/// let d = camctl_ambarella::wire::parse_date("2015-09-24 10:22:56").unwrap();
/// assert_eq!(d.to_string(), "2015-09-24 10:22:56");
/// assert!(camctl_ambarella::wire::parse_date("2015-13-01 00:00:00").is_none());
/// ```
pub fn parse_date(s: &str) -> Option<DateTime> {
    let s = s.trim();
    let (date, time) = s.split_once(' ')?;
    let mut d = date.split('-').map(|p| p.parse::<i32>().ok());
    let mut t = time.split(':').map(|p| p.parse::<u8>().ok());
    let dt = DateTime {
        year: d.next()??,
        month: u8::try_from(d.next()??).ok()?,
        day: u8::try_from(d.next()??).ok()?,
        hour: t.next()??,
        minute: t.next()??,
        second: t.next()??,
    };
    if d.next().is_some() || t.next().is_some() {
        return None;
    }
    dt.to_system().map(|_| dt)
}

/// The outcome of a data-port transfer, from `get_file_complete` / `put_file_complete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferDone {
    /// Bytes sent/received, when reported.
    pub bytes: Option<u64>,
    /// MD5 (lower-case hex), when reported.
    pub md5: Option<String>,
}

impl TransferDone {
    /// Accepts both shapes (§5.2/§5.3): `param:[{"bytes sent":n},{"md5sum":"…"}]` (reference) and
    /// `{"md5sum":"…","param":n}` (Yi put).
    ///
    /// ```
    /// use camctl_ambarella::wire::{Message, TransferDone};
    /// let Message::Notification(n) = Message::decode(br#"{"md5sum":"e9976d54a00d136813565bfaa56f2e1b","msg_id":7,"type":"put_file_complete","param":15109422}"#).unwrap() else { panic!() };
    /// let done = TransferDone::from_notification(&n);
    /// assert_eq!(done.bytes, Some(15109422));
    /// assert_eq!(done.md5.as_deref(), Some("e9976d54a00d136813565bfaa56f2e1b"));
    /// ```
    pub fn from_notification(n: &Notification) -> TransferDone {
        let mut done = TransferDone { bytes: None, md5: n.raw.get("md5sum").map(as_text) };
        match &n.param {
            Some(Value::Array(items)) => {
                for item in items.iter().filter_map(Value::as_object) {
                    for (k, v) in item {
                        if k == "md5sum" {
                            done.md5 = Some(as_text(v));
                        } else if k.starts_with("bytes") {
                            done.bytes = as_u64(v);
                        }
                    }
                }
            }
            Some(v) => done.bytes = as_u64(v),
            None => {}
        }
        done.md5 = done.md5.map(|m| m.trim().to_ascii_lowercase());
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_verbatim_samples() {
        let samples: &[&[u8]] = &[
            br#"{ "msg_id": 7, "type": "vf_stop" }"#,
            br#"{ "rval": 0, "msg_id": 257, "param": 2 }"#,
            br#"{ "rval": 0, "msg_id": 3, "param": [ { "camera_clock": "2015-09-24 10:18:00" }, { "video_standard": "NTSC" }, { "burst_capture_number": "7 p \/ s" } ] }"#,
            br#"{ "rval": 0, "msg_id": 2 ,"type":"camera_clock","param":"2015"}"#,
            br#"{ "rval": -14, "msg_id": 515 }"#,
            br#"{"rval":0,"msg_id":16777241,"param":"1"}"#,
            br#"{"rval":0,"msg_id":1026,"thumb_file":"YDXJ0043.THM","size":138953622,"date":"2015-09-24 10:24:42","resolution":"1600x1200","duration":"31","framerate":59,"media_type":"mov"}"#,
        ];
        let decoded: Vec<Message> = samples.iter().map(|s| Message::decode(s).unwrap()).collect();
        assert!(matches!(&decoded[0], Message::Notification(n) if n.kind == "vf_stop" && n.param.is_none()));
        assert!(matches!(&decoded[1], Message::Reply(r) if r.msg_id == 257 && r.int("param") == Some(2)));
        let Message::Reply(all) = &decoded[2] else { panic!() };
        assert_eq!(pairs(all.param().unwrap())[2].1, "7 p / s");
        assert!(matches!(&decoded[4], Message::Reply(r) if r.rval == -14));
        assert!(matches!(&decoded[5], Message::Reply(r) if r.int("param") == Some(1)));
        assert_eq!(Message::decode(br#"{"msg_id":1793}"#).unwrap(), Message::SessionHolderQuery);
        assert!(matches!(
            Message::decode(br#"{"msg_id":99,"x":1}"#).unwrap(),
            Message::Other { msg_id: 99, .. }
        ));
        assert_eq!(Message::decode(b"{\"rval\":0}"), Err(MessageError::NoMsgId));
        assert!(Message::decode(b"[1]").is_err() && Message::decode(b"{").is_err());
    }

    #[test]
    fn listing_and_transfer_shapes() {
        let v: Value = serde_json::from_str(
            r#"[{"YDXJ0042.jpg":"3832451 bytes|2015-09-24 10:22:56"},{"100MEDIA/":"0 bytes|2015-09-24 10:22:54"},{"x":"junk"}]"#,
        )
        .unwrap();
        let l = parse_listing(&v);
        assert_eq!(l[0].size, 3_832_451);
        assert_eq!(l[0].date.unwrap().to_string(), "2015-09-24 10:22:56");
        assert!(l[1].is_dir && l[1].name == "100MEDIA");
        assert_eq!((l[2].size, l[2].date), (0, None));
        let Message::Notification(n) = Message::decode(
            br#"{"msg_id":7,"type":"get_file_complete","param":[{"bytes sent":12},{"md5sum":"ABC"}],"token":3}"#,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            TransferDone::from_notification(&n),
            TransferDone { bytes: Some(12), md5: Some("abc".into()) }
        );
    }

    #[test]
    fn requests_round_trip() {
        let cmds = [
            Command::GetSetting { key: "k" },
            Command::SetSetting { key: "k", value: "a/b" },
            Command::GetFile { path: "/tmp/fuse_d/x.jpg", offset: 5, fetch_size: 0 },
            Command::PutFile { path: "x", offset: 0, size: 3, md5: "m" },
            Command::List { param: " -D -S" },
            Command::Thumbnail { path: "p", kind: "thumb" },
            Command::Other { msg_id: 12345 },
        ];
        for c in cmds {
            let mut out = Vec::new();
            c.encode(7, &mut out);
            let r = Request::decode(&out).unwrap();
            assert_eq!(r.token, 7);
            assert_eq!(r.command().unwrap(), c);
        }
        let r = Request::decode(br#"{"msg_id":2,"token":1,"type":"k"}"#).unwrap();
        assert_eq!(r.command(), Err(rval::JSON_SYNTAX_ERROR));
    }
}
