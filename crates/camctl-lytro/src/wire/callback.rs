//! The callback stream of port 5677 (§7): UTF-8 messages `[Name] p1 p2 ...\r\n\0`, split across TCP
//! reads at arbitrary points.

use std::collections::VecDeque;

/// Default longest message accepted (real messages are a few dozen bytes).
pub const DEFAULT_MAX_LINE: usize = 4096;

/// One callback message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// Name without brackets, e.g. `NewPictureAvailable`.
    pub name: String,
    /// Space-separated parameters.
    pub params: Vec<String>,
}

/// Why a message of the callback stream was rejected (the stream itself goes on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// No NUL within the line-length cap: the bytes up to the next NUL are dropped.
    #[error("callback message longer than {0} bytes")]
    TooLong(usize),
    /// Not valid UTF-8.
    #[error("callback message is not UTF-8")]
    NotUtf8,
    /// Does not start with `[Name]`.
    #[error("callback message without [Name]: {0:?}")]
    NoName(String),
}

/// Meaning of the known callbacks (parameters as \[LIB\] parses them).
#[derive(Debug, Clone, PartialEq)]
pub enum CallbackEvent {
    /// Sent about every 100 ms when nothing else happens.
    HeartbeatTick,
    /// The shutter fired.
    ShutterPressed,
    /// A picture is rendered and can be downloaded.
    NewPictureAvailable(String),
    /// One picture was deleted.
    PictureDeleted(String),
    /// All pictures were deleted.
    AllPicturesDeleted,
    /// Self-timer countdown: seconds remaining, `None` when canceled.
    SelfTimerTick(Option<u32>),
    /// Shooting mode: `true` = Creative, `false` = Everyday.
    CreativeModeChanged(bool),
    /// ISO sensitivity (parameter x 50); `None` = automatic.
    IsoSensitivityChanged(Option<f32>),
    /// Favourite flag of a picture.
    LikedChanged(String, bool),
    /// ND filter on/off.
    NeutralDensityFilterChanged(bool),
    /// Shutter speed in seconds; `None` = automatic.
    ShutterSpeedChanged(Option<f32>),
    /// Zoom level.
    ZoomLevelChanged(f32),
    /// Anything else, or a known name with unparsable parameters.
    Other,
}

impl Callback {
    /// Parses one message without its terminating NUL; a trailing CR LF is stripped.
    pub fn parse(bytes: &[u8]) -> Result<Option<Callback>, CallbackError> {
        let text = std::str::from_utf8(bytes).map_err(|_| CallbackError::NotUtf8)?;
        let text = text.trim_end_matches(['\r', '\n']);
        if text.trim().is_empty() {
            return Ok(None);
        }
        let rest = text.strip_prefix('[').ok_or_else(|| CallbackError::NoName(text.to_string()))?;
        let (name, params) = rest.split_once(']').ok_or_else(|| CallbackError::NoName(text.to_string()))?;
        Ok(Some(Callback {
            name: name.to_string(),
            params: params.split(' ').filter(|p| !p.is_empty()).map(str::to_string).collect(),
        }))
    }

    /// The typed meaning of this message.
    pub fn event(&self) -> CallbackEvent {
        let p = |i: usize| self.params.get(i).map(String::as_str);
        let float = |i: usize| p(i).and_then(|v| v.parse::<f32>().ok());
        let flag = |i: usize| p(i) == Some("1");
        match self.name.as_str() {
            "HeartbeatTick" => CallbackEvent::HeartbeatTick,
            "ShutterPressed" => CallbackEvent::ShutterPressed,
            "NewPictureAvailable" => {
                p(0).map_or(CallbackEvent::Other, |id| CallbackEvent::NewPictureAvailable(id.into()))
            }
            "PictureDeleted" => {
                p(0).map_or(CallbackEvent::Other, |id| CallbackEvent::PictureDeleted(id.into()))
            }
            "AllPicturesDeleted" => CallbackEvent::AllPicturesDeleted,
            "SelfTimerTick" => match p(0) {
                Some("Canceled") => CallbackEvent::SelfTimerTick(None),
                Some(s) => s.parse().map_or(CallbackEvent::Other, |n| CallbackEvent::SelfTimerTick(Some(n))),
                None => CallbackEvent::Other,
            },
            "CreativeModeChanged" => CallbackEvent::CreativeModeChanged(flag(0)),
            "IsoSensitivityChanged" => float(0).map_or(CallbackEvent::Other, |v| {
                CallbackEvent::IsoSensitivityChanged((v != 0.0).then_some(v * 50.0))
            }),
            "LikedChanged" => {
                p(0).map_or(CallbackEvent::Other, |id| CallbackEvent::LikedChanged(id.into(), flag(1)))
            }
            "NeutralDensityFilterChanged" => CallbackEvent::NeutralDensityFilterChanged(flag(0)),
            "ShutterSpeedChanged" => float(0).map_or(CallbackEvent::Other, |v| {
                CallbackEvent::ShutterSpeedChanged((v != 0.0).then_some(v))
            }),
            "ZoomLevelChanged" => float(0).map_or(CallbackEvent::Other, CallbackEvent::ZoomLevelChanged),
            _ => CallbackEvent::Other,
        }
    }
}

impl std::fmt::Display for Callback {
    /// The message as sent, without the CR LF NUL terminator.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}]", self.name)?;
        for p in &self.params {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

/// `[name] params...\r\n\0` as bytes.
///
/// ```
/// assert_eq!(camctl_lytro::wire::encode_callback("HeartbeatTick", &["tick"]), b"[HeartbeatTick] tick\r\n\0");
/// ```
pub fn encode_callback(name: &str, params: &[&str]) -> Vec<u8> {
    let mut s = format!("[{name}]");
    for p in params {
        s.push(' ');
        s.push_str(p);
    }
    s.push_str("\r\n\0");
    s.into_bytes()
}

/// Incremental decoder of the callback stream: feed it whatever each read returns, then drain
/// messages. Memory stays bounded by the line-length cap.
///
/// ```
/// use camctl_lytro::wire::CallbackDecoder;
/// let mut d = CallbackDecoder::new(4096);
/// d.feed(b"[ShutterPressed] CL");
/// assert!(d.next_message().is_none());
/// d.feed(b"ICK\r\n\0[HeartbeatTick] tick\r\n\0");
/// assert_eq!(d.next_message().unwrap().unwrap().name, "ShutterPressed");
/// assert_eq!(d.next_message().unwrap().unwrap().params, ["tick"]);
/// assert!(d.next_message().is_none());
/// ```
#[derive(Debug)]
pub struct CallbackDecoder {
    partial: Vec<u8>,
    max_line: usize,
    /// Dropping bytes of an over-long message until its NUL.
    discarding: bool,
    ready: VecDeque<Result<Callback, CallbackError>>,
}

impl CallbackDecoder {
    /// A decoder accepting messages up to `max_line` bytes (at least 1).
    pub fn new(max_line: usize) -> CallbackDecoder {
        CallbackDecoder {
            partial: Vec::new(),
            max_line: max_line.max(1),
            discarding: false,
            ready: VecDeque::new(),
        }
    }

    /// Consumes the bytes of one read.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let nul = data.iter().position(|&b| b == 0);
            let piece = &data[..nul.unwrap_or(data.len())];
            if !self.discarding {
                if self.partial.len() + piece.len() > self.max_line {
                    self.ready.push_back(Err(CallbackError::TooLong(self.max_line)));
                    self.partial.clear();
                    self.discarding = true;
                } else {
                    self.partial.extend_from_slice(piece);
                }
            }
            match nul {
                Some(i) => {
                    if !self.discarding
                        && let Some(result) = Callback::parse(&self.partial).transpose()
                    {
                        self.ready.push_back(result);
                    }
                    self.partial.clear();
                    self.discarding = false;
                    data = &data[i + 1..];
                }
                None => break,
            }
        }
    }

    /// The next complete message, if any.
    pub fn next_message(&mut self) -> Option<Result<Callback, CallbackError>> {
        self.ready.pop_front()
    }

    /// Bytes of an incomplete message held (at most the line cap).
    pub fn pending_len(&self) -> usize {
        self.partial.len()
    }
}

impl Default for CallbackDecoder {
    fn default() -> Self {
        CallbackDecoder::new(DEFAULT_MAX_LINE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &[u8] = b"[HeartbeatTick] tick\r\n\0[SelfTimerTick] 2\r\n\0[SelfTimerTick] Canceled\r\n\0\
        [ShutterPressed] CLICK\r\n\0[NewPictureAvailable] sha1-00ff\r\n\0[AllPicturesDeleted]\r\n\0\
        [IsoSensitivityChanged] 2.5\r\n\0[LikedChanged] sha1-1 1\r\n\0";

    fn all(d: &mut CallbackDecoder) -> Vec<Result<Callback, CallbackError>> {
        std::iter::from_fn(|| d.next_message()).collect()
    }

    #[test]
    fn whole_and_byte_by_byte_agree() {
        let mut d = CallbackDecoder::default();
        d.feed(STREAM);
        let whole = all(&mut d);
        assert_eq!(whole.len(), 8);
        let mut d = CallbackDecoder::default();
        let mut bytewise = Vec::new();
        for b in STREAM {
            d.feed(std::slice::from_ref(b));
            bytewise.extend(all(&mut d));
        }
        assert_eq!(whole, bytewise);
        let events: Vec<CallbackEvent> = whole.iter().map(|c| c.as_ref().unwrap().event()).collect();
        assert_eq!(
            events,
            [
                CallbackEvent::HeartbeatTick,
                CallbackEvent::SelfTimerTick(Some(2)),
                CallbackEvent::SelfTimerTick(None),
                CallbackEvent::ShutterPressed,
                CallbackEvent::NewPictureAvailable("sha1-00ff".into()),
                CallbackEvent::AllPicturesDeleted,
                CallbackEvent::IsoSensitivityChanged(Some(125.0)),
                CallbackEvent::LikedChanged("sha1-1".into(), true),
            ]
        );
        assert_eq!(whole[0].as_ref().unwrap().to_string(), "[HeartbeatTick] tick");
    }

    #[test]
    fn over_long_and_garbage_resync() {
        let mut d = CallbackDecoder::new(16);
        d.feed(&[b'x'; 40]);
        assert_eq!(d.pending_len(), 0);
        d.feed(b"yy\0[A] 1\r\n\0\xff\xfe\0no brackets\0\0\r\n\0");
        let got = all(&mut d);
        assert_eq!(got[0], Err(CallbackError::TooLong(16)));
        assert_eq!(got[1].as_ref().unwrap().name, "A");
        assert_eq!(got[2], Err(CallbackError::NotUtf8));
        assert!(matches!(got[3], Err(CallbackError::NoName(_))));
        assert_eq!(got.len(), 4, "empty messages are skipped");
    }
}
