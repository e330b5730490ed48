//! The client state machine: authenticate (tutk.md §3.1), then query and change settings and receive
//! media frames, over any [`ClientTransport`].
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use camctl_wyze::{ClientConfig, Emulator, EmulatorConfig, WyzeSession, transport::memory_pair};
//! let (client_end, camera_end) = memory_pair(16);
//! let camera = EmulatorConfig::new("AbCdEfGh/JkLmN0p", "2CAABBCCDDEE");
//! tokio::spawn(Emulator::new(camera).serve(camera_end));
//!
//! let session = WyzeSession::connect(client_end, ClientConfig::new("AbCdEfGh/JkLmN0p", "2CAABBCCDDEE")).await.unwrap();
//! session.set_setting("night-vision", "auto").await.unwrap();
//! assert_eq!(session.setting("night-vision").await.unwrap().value, "auto");
//! let (info, frame) = session.recv_frame().await.unwrap();
//! assert!(info.is_keyframe() && !frame.is_empty());
//! # });
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use camctl_core::log::{Throttle, shown};
use camctl_core::warn_throttled;
use camctl_core::{CameraInfo, Event, Setting};
use serde_json::Value;
use tokio::time::{Instant, timeout_at};

use crate::auth;
use crate::error::{Error, Result};
use crate::settings::{self, ResolutionEncoding, SettingKind, SettingSpec};
use crate::transport::{ClientTransport, IOTYPE_USER_DEFINED_START, MediaFrame, TransportError};
use crate::wire::{
    AuthReply, FrameSize, HlMessage, Request, ResolvingBit, Response, VideoParams, bitrate, code, codec,
};

/// Unsolicited messages kept for [`WyzeSession::next_event`]; older ones are dropped beyond this.
pub const MAX_QUEUED_EVENTS: usize = 256;
/// Payload bytes of unsolicited messages kept; older ones are dropped beyond this.
pub const MAX_QUEUED_EVENT_BYTES: usize = 1 << 20;
/// Messages skipped while waiting for one reply (unsolicited, undecodable or not HL) before the
/// exchange fails: a camera flooding other messages cannot keep a request waiting until its timeout.
pub const MAX_SKIPPED_MESSAGES: u32 = 1024;

/// Messages the camera sent on its own, bounded in entries and bytes, and the warnings' throttles.
#[derive(Debug, Default)]
struct Inbox {
    queue: std::sync::Mutex<Unsolicited>,
    junk: std::sync::Mutex<Throttle>,
    overflow: std::sync::Mutex<Throttle>,
}

#[derive(Debug, Default)]
struct Unsolicited {
    msgs: VecDeque<HlMessage>,
    bytes: usize,
    dropped: u64,
}

impl Inbox {
    fn push(&self, msg: HlMessage) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let size = msg.payload.len();
        let mut dropped = 0;
        while !q.msgs.is_empty()
            && (q.msgs.len() >= MAX_QUEUED_EVENTS || q.bytes + size > MAX_QUEUED_EVENT_BYTES)
        {
            if let Some(old) = q.msgs.pop_front() {
                q.bytes = q.bytes.saturating_sub(old.payload.len());
                dropped += 1;
            }
        }
        if size > MAX_QUEUED_EVENT_BYTES {
            dropped += 1;
        } else {
            q.bytes += size;
            q.msgs.push_back(msg);
        }
        if dropped > 0 {
            q.dropped += dropped;
            let total = q.dropped;
            drop(q);
            let mut t = self.overflow.lock().unwrap_or_else(|e| e.into_inner());
            warn_throttled!(t, "camera messages arrive faster than they are read: {total} dropped so far");
        }
    }

    fn pop(&self) -> Option<HlMessage> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let msg = q.msgs.pop_front()?;
        q.bytes = q.bytes.saturating_sub(msg.payload.len());
        Some(msg)
    }

    fn is_empty(&self) -> bool {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).msgs.is_empty()
    }

    /// A throttled warning about a message that is skipped.
    fn junk(&self, what: std::fmt::Arguments<'_>) {
        let mut t = self.junk.lock().unwrap_or_else(|e| e.into_inner());
        warn_throttled!(t, "{what}");
    }
}

/// Which stream to ask for right after authentication: go2rtc's `subtype` URL option (`hd` / `sd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Substream {
    /// The model's best picture ([`auth::hd_frame_size`]: 2K on the 2K models, frame size 4 on the
    /// floodlight, else 1080p) at 240 KB/s (go2rtc `BitrateMax`).
    #[default]
    Hd,
    /// 360p at 60 KB/s (go2rtc `BitrateSD`).
    Sd,
}

impl Substream {
    /// Parses go2rtc's names `hd` and `sd` (any case).
    pub fn parse(s: &str) -> Option<Substream> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hd" => Some(Substream::Hd),
            "sd" => Some(Substream::Sd),
            _ => None,
        }
    }

    /// The frame size asked for from a camera of `model`.
    pub fn frame_size(self, model: Option<&str>) -> FrameSize {
        match self {
            Substream::Hd => auth::hd_frame_size(model),
            Substream::Sd => FrameSize::SD_360P,
        }
    }

    /// The bitrate asked for, KB/s.
    pub fn bitrate(self) -> u16 {
        match self {
            Substream::Hd => bitrate::SUPER_SUPER_HD,
            Substream::Sd => bitrate::SD,
        }
    }
}

/// The 4 bytes after the challenge response in 10002 (its "username"; cameras do not check them,
/// tutk.md §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthUsername {
    /// 4 fresh random bytes per handshake (go2rtc's "random session ID").
    #[default]
    Random,
    /// The first 4 bytes of the MAC (KROO/DWB).
    MacPrefix,
    /// These bytes.
    Fixed([u8; 4]),
}

/// The audio codecs go2rtc's 10000 advertises: 137 G.711 µ-law, 138 G.711 A-law, 140 PCM.
pub const GO2RTC_AUDIO_CODECS: [u16; 3] = [codec::G711U, codec::G711A, codec::PCM];

/// Everything the client needs to know before connecting.
///
/// The defaults ask what go2rtc's client (which works with real cameras) asks: the audio codec list
/// in 10000, random bytes in 10002, video and audio on, and the [`Substream::Hd`] stream in the 5-byte
/// 10056 (fps 0 = auto).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The camera's ENR (16 characters, or 32 for status-6 cameras).
    pub enr: String,
    /// The parent (base station) ENR, appended to `enr` as the second key of status 6 (DWB).
    pub parent_enr: Option<String>,
    /// The camera's MAC (12 hex digits); with [`AuthUsername::MacPrefix`] its first 4 bytes are the
    /// 10002 "username".
    pub mac: String,
    /// The model (`WYZE_CAKP2JFUS`, `HL_DB2`, ...), when known; taken from cameraInfo otherwise.
    pub model: Option<String>,
    /// Phone id: its first 4 bytes are the 10006/10008 "username".
    pub phone_id: String,
    /// The account's open_user_id sent in 10006/10008.
    pub open_user_id: String,
    /// Ask for video right after authentication (10002/10006/10008 flag).
    pub open_video: bool,
    /// Audio along with the video (the seed's `open_audio=True`, go2rtc): the 10002/10006/10008 audio
    /// flag when `open_video` is set, and a 10010 audio-on after each 10010 video-on of
    /// [`WyzeSession::control_channel`] (which also switches audio alone on: media 2).
    pub open_audio: bool,
    /// The 10002 "username" bytes.
    pub username: AuthUsername,
    /// The stream to ask for after authentication (10056/10052) when `frame_size` is `None`; both
    /// `None` skip the step (the camera keeps its stream).
    pub substream: Option<Substream>,
    /// An exact frame size to ask for instead of the substream's, sent as given whatever the model.
    pub frame_size: Option<FrameSize>,
    /// Bitrate sent with `frame_size` (KB/s); a substream brings its own.
    pub bitrate: u16,
    /// `Some` sends the 5-byte 10056 variant with this fps (0 = auto, as go2rtc); `None` the 3-byte one.
    pub fps: Option<u16>,
    /// Force 10002, 10006 or 10008 instead of choosing by model and protocol level.
    pub auth_command: Option<u16>,
    /// The 10000 hello: go2rtc's audio codec list by default ([`GO2RTC_AUDIO_CODECS`]); see also
    /// [`Request::connect`] (empty, KROO/DWB) and [`Request::connect_wake`].
    pub hello: Request,
    /// Send 10010 `[1, 1]` after the resolution step (FSS does; go2rtc relies on the auth flag).
    pub start_video_command: bool,
    /// How long to wait for each reply and for each frame.
    pub timeout: Duration,
    /// Limit for the whole handshake of [`WyzeSession::connect`] (default 20 s): a camera answering
    /// each step just before its timeout cannot hold the client longer.
    pub handshake_timeout: Duration,
    /// Encoding of the 10050 resolution byte.
    pub resolution_encoding: ResolutionEncoding,
}

impl ClientConfig {
    /// Defaults as go2rtc: the audio codec list in 10000, random 10002 username, video and audio on,
    /// [`Substream::Hd`] (the model's best size at 240 KB/s) in the 5-byte 10056; 5 s timeout.
    pub fn new(enr: &str, mac: &str) -> Self {
        ClientConfig {
            enr: enr.into(),
            parent_enr: None,
            mac: mac.into(),
            model: None,
            phone_id: "camctl".into(),
            open_user_id: String::new(),
            open_video: true,
            open_audio: true,
            username: AuthUsername::Random,
            substream: Some(Substream::Hd),
            frame_size: None,
            bitrate: bitrate::SUPER_SUPER_HD,
            fps: Some(0),
            auth_command: None,
            hello: Request::connect_audio_codecs(&GO2RTC_AUDIO_CODECS),
            start_video_command: false,
            timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(20),
            resolution_encoding: ResolutionEncoding::default(),
        }
    }

    /// The challenge response the handshake sends with `auth_code` (10002, 10006 or 10008) and the
    /// solved challenge `answer`. Audio comes with video: a session that opens no video (info,
    /// settings) sets no audio flag either.
    pub fn auth_request(&self, auth_code: u16, answer: [u8; 16]) -> Request {
        let open_audio = u8::from(self.open_audio && self.open_video);
        let open_video = u8::from(self.open_video);
        if auth_code == code::CONNECT_AUTH {
            let username = match self.username {
                AuthUsername::Random => crate::tutk::random_bytes::<4>(),
                AuthUsername::MacPrefix => auth::username(&self.mac),
                AuthUsername::Fixed(bytes) => bytes,
            };
            Request::ConnectAuth { response: answer, username, open_video, open_audio }
        } else {
            Request::ConnectUserAuth {
                code: auth_code,
                response: answer,
                username: auth::username(&self.phone_id),
                open_video,
                open_audio,
                open_user_id: self.open_user_id.clone().into_bytes(),
            }
        }
    }

    /// The frame size and bitrate the handshake asks a camera of `model` for: `frame_size` with
    /// `bitrate` when set, else the substream's; `None` when neither is configured.
    pub fn initial_stream(&self, model: Option<&str>) -> Option<(FrameSize, u16)> {
        match (self.frame_size, self.substream) {
            (Some(fs), _) => Some((fs, self.bitrate)),
            (None, Some(sub)) => Some((sub.frame_size(model), sub.bitrate())),
            (None, None) => None,
        }
    }

    /// The request setting `frame_size` and `bitrate` on a camera of `model`: 10052 (the 6-byte block,
    /// fps and flips 0 = unchanged) on the models that need it, else 10056 (5 bytes with [`Self::fps`],
    /// 3 without).
    pub fn stream_request(&self, model: Option<&str>, frame_size: FrameSize, bitrate: u16) -> Request {
        if auth::uses_k10052(model) {
            Request::SetVideoParam(VideoParams {
                bitrate,
                resolution: frame_size.0.wrapping_add(1),
                ..Default::default()
            })
        } else {
            Request::SetResolvingBit(ResolvingBit { frame_size: Some(frame_size.0), bitrate, fps: self.fps })
        }
    }
}

/// What the handshake learned.
#[derive(Debug, Clone)]
pub struct SessionDetails {
    /// The camera's protocol level (header of its 10001 reply).
    pub protocol: u16,
    /// Camera status in 10001.
    pub status: u8,
    /// The challenge-response command used (10002, 10006 or 10008).
    pub auth_command: u16,
    /// The camera's JSON reply.
    pub auth_reply: AuthReply,
    /// The model used for command selection.
    pub model: Option<String>,
}

/// An authenticated session with a Wyze camera over transport `T`.
///
/// Methods take `&self`: one task may receive frames while another changes settings. Control exchanges
/// are serialized (the protocol has no transaction ids, so one request per code may be outstanding).
pub struct WyzeSession<T> {
    transport: T,
    config: ClientConfig,
    details: SessionDetails,
    control: tokio::sync::Mutex<()>,
    unsolicited: Inbox,
}

impl<T> std::fmt::Debug for WyzeSession<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WyzeSession").field("details", &self.details).finish_non_exhaustive()
    }
}

/// Sends `msg` and waits for the message with code `msg.code + 1`; other messages are queued. Fails
/// after `timeout`, or after [`MAX_SKIPPED_MESSAGES`] other messages, whichever comes first.
async fn exchange_on<T: ClientTransport>(
    transport: &T,
    inbox: &Inbox,
    msg: &HlMessage,
    timeout: Duration,
) -> Result<HlMessage> {
    let expected = code::response_to(msg.code);
    tracing::info!("sent {}", describe(msg));
    transport.send_ioctrl(IOTYPE_USER_DEFINED_START, msg.encode()?).await?;
    let deadline = Instant::now() + timeout;
    let mut skipped = 0u32;
    loop {
        if skipped >= MAX_SKIPPED_MESSAGES {
            return Err(Error::Protocol(format!(
                "the camera sent {skipped} other messages without answering K{} (expected K{expected})",
                msg.code
            )));
        }
        let (ctrl_type, data) = timeout_at(deadline, transport.recv_ioctrl())
            .await
            .map_err(|_| Error::Timeout { request: msg.code, expected, timeout })??;
        if ctrl_type != IOTYPE_USER_DEFINED_START {
            skipped += 1;
            inbox.junk(format_args!(
                "ignoring ioctrl type 0x{ctrl_type:x} ({} bytes): {}",
                data.len(),
                shown(&data, 32)
            ));
            continue;
        }
        match HlMessage::decode(&data) {
            Ok(reply) if reply.code == expected => {
                tracing::info!("received {}", describe(&reply));
                return Ok(reply);
            }
            Ok(other) => {
                skipped += 1;
                tracing::info!("received {} (unsolicited)", describe(&other));
                inbox.push(other)
            }
            // A garbled message is that message's problem, not the session's.
            Err(e) => {
                skipped += 1;
                inbox.junk(format_args!("ignoring undecodable ioctrl ({e}): {}", shown(&data, 32)));
            }
        }
    }
}

/// One `-v` line for a K-command: number, name and parameter, e.g. `K10032 set status light [2]`.
/// Camera text is escaped; long binary payloads (challenges, their answers) show only their size.
pub fn describe(msg: &HlMessage) -> String {
    let mut line = format!("K{}", msg.code);
    if let Some(name) = code::name(msg.code) {
        line.push(' ');
        line.push_str(&name);
    }
    let p = &msg.payload;
    match std::str::from_utf8(p) {
        _ if p.is_empty() => {}
        Ok(text) if text.trim_start().starts_with('{') => {
            const MAX: usize = 160;
            let cut = text.char_indices().nth(MAX).map_or(text.len(), |(i, _)| i);
            let more = if cut < text.len() { "..." } else { "" };
            line.push_str(&format!(" {}{more}", camctl_core::text::escape(&text[..cut])));
        }
        _ if p.len() <= 8 => line.push_str(&format!(" {p:?}")),
        _ => line.push_str(&format!(" ({} bytes)", p.len())),
    }
    line
}

impl<T: ClientTransport> WyzeSession<T> {
    /// Runs the handshake: 10000 → 10001 → 10002/10006/10008 → 10003/10007/10009, then the frame size
    /// and bitrate (10056 or 10052) and, if configured, 10010.
    pub async fn connect(transport: T, config: ClientConfig) -> Result<Self> {
        let limit = config.handshake_timeout;
        tokio::time::timeout(limit, Self::handshake(transport, config))
            .await
            .map_err(|_| Error::HandshakeTimeout(limit))?
    }

    async fn handshake(transport: T, config: ClientConfig) -> Result<Self> {
        let queue = Inbox::default();
        // Frames the camera sends although none were asked for are dropped by the transport.
        // Audio is only asked for along with video (see `ClientConfig::auth_request`).
        transport.set_media_wanted(config.open_video);
        let hello = config.hello.to_message()?;
        let reply = exchange_on(&transport, &queue, &hello, config.timeout).await?;
        let protocol = reply.protocol;
        let Response::Challenge { status, challenge } = Response::decode(&reply)? else {
            return Err(Error::Protocol("10001 did not decode as a challenge".into()));
        };
        let mut material = config.enr.clone().into_bytes();
        if status == 6 && material.len() < 32 {
            material.extend_from_slice(config.parent_enr.as_deref().unwrap_or_default().as_bytes());
        }
        let answer = auth::solve_challenge(status, &challenge, &material)
            .map_err(|_| Error::CameraStatus { status })?;
        let model = config.model.clone();
        let auth_code = config.auth_command.unwrap_or_else(|| auth::auth_command(model.as_deref(), protocol));
        let request = config.auth_request(auth_code, answer);
        tracing::debug!(status, protocol, auth_code, "answering challenge");
        let reply = exchange_on(&transport, &queue, &request.to_message()?, config.timeout).await?;
        let Response::AuthResult { reply: auth_reply, .. } = Response::decode(&reply)? else {
            return Err(Error::Protocol(format!("K{} is not an authentication result", reply.code)));
        };
        match auth_reply.connection_res.as_str() {
            "1" => {}
            "2" => return Err(Error::WrongEnr),
            other => return Err(Error::AuthFailed(other.to_string())),
        }
        let model = model.or_else(|| {
            auth_reply.camera_info.pointer("/basicInfo/model").and_then(Value::as_str).map(str::to_string)
        });
        let details = SessionDetails { protocol, status, auth_command: auth_code, auth_reply, model };
        let session = WyzeSession {
            transport,
            config,
            details,
            control: tokio::sync::Mutex::new(()),
            unsolicited: queue,
        };
        if let Some((fs, bitrate)) = session.config.initial_stream(session.details.model.as_deref()) {
            session.set_resolution(fs, bitrate).await?;
        }
        if session.config.start_video_command {
            session.control_channel(1, true).await?;
        }
        Ok(session)
    }

    /// What the handshake learned.
    pub fn details(&self) -> &SessionDetails {
        &self.details
    }

    /// The cameraInfo JSON of the authentication reply.
    pub fn camera_info_json(&self) -> &Value {
        &self.details.auth_reply.camera_info
    }

    /// The camera's protocol level.
    pub fn protocol_level(&self) -> u16 {
        self.details.protocol
    }

    /// The transport (e.g. for statistics).
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Identity for `camctl info`, from the cameraInfo JSON.
    pub fn info(&self) -> CameraInfo {
        let ci = self.camera_info_json();
        let text = |ptr: &str| match ci.pointer(ptr) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let mut extra = vec![
            ("protocol level".to_string(), self.details.protocol.to_string()),
            ("authenticated with".to_string(), format!("K{}", self.details.auth_command)),
        ];
        for (label, ptr) in [
            ("hardware", "/basicInfo/hardware"),
            ("wifi signal", "/basicInfo/wifidb"),
            ("video codec", "/videoParm/type"),
            ("fps", "/videoParm/fps"),
            ("audio sample rate", "/audioParm/sampleRate"),
            ("sd card", "/sdParm/status"),
        ] {
            let v = text(ptr);
            if !v.is_empty() {
                extra.push((label.to_string(), v));
            }
        }
        let model = text("/basicInfo/model");
        let mac = text("/basicInfo/mac");
        CameraInfo {
            protocol: "wyze".into(),
            manufacturer: "Wyze".into(),
            model: if model.is_empty() { self.details.model.clone().unwrap_or_default() } else { model },
            serial: if mac.is_empty() { self.config.mac.clone() } else { mac },
            firmware: text("/basicInfo/firmware"),
            battery: None,
            extra,
        }
    }

    /// Sends any request and waits for its reply (code + 1), decoded.
    pub async fn request(&self, request: &Request) -> Result<Response> {
        let reply = self.exchange(&request.to_message()?).await?;
        Ok(Response::decode(&reply)?)
    }

    /// Sends a raw HL message and waits for the message with code + 1.
    pub async fn exchange(&self, msg: &HlMessage) -> Result<HlMessage> {
        let _guard = self.control.lock().await;
        exchange_on(&self.transport, &self.unsolicited, msg, self.config.timeout).await
    }

    /// Sets frame size and bitrate: 10056 (3-byte, or 5-byte when `fps` is configured), or 10052 on the
    /// models that need it. The camera must answer `01`.
    pub async fn set_resolution(&self, frame_size: FrameSize, bitrate: u16) -> Result<()> {
        let request = self.config.stream_request(self.details.model.as_deref(), frame_size, bitrate);
        self.expect_ok(&request).await
    }

    async fn expect_ok(&self, request: &Request) -> Result<()> {
        match self.request(request).await? {
            Response::SetResult { ok: true, .. } => Ok(()),
            other => Err(Error::Refused(other.code().wrapping_sub(1))),
        }
    }

    /// 10010: enables (`true`) or disables a media channel (1 video, 2 audio, 3 return audio, 4 RDT).
    /// Enabling video also enables audio when [`ClientConfig::open_audio`] is set (audio comes with
    /// video).
    pub async fn control_channel(&self, media: u8, enable: bool) -> Result<()> {
        if enable && matches!(media, 1 | 2) {
            self.transport.set_media_wanted(true);
        }
        self.request(&Request::ControlChannel { media, enable: if enable { 1 } else { 2 } }).await?;
        if media == 1 && enable && self.config.open_audio {
            self.request(&Request::ControlChannel { media: 2, enable: 1 }).await?;
        }
        Ok(())
    }

    /// 10050: the video parameter block.
    pub async fn video_params(&self) -> Result<VideoParams> {
        match self.request(&Request::Query { code: code::GET_VIDEO_PARAM }).await? {
            Response::VideoParams(p) => Ok(p),
            other => Err(unexpected(&other)),
        }
    }

    /// 10020: parameter values by id (values as the camera's strings).
    pub async fn check_params(&self, ids: &[u8]) -> Result<BTreeMap<u8, String>> {
        let Response::Params(json) = self.request(&Request::CheckParams { ids: ids.to_vec() }).await? else {
            return Err(Error::Protocol("10021 is not JSON".into()));
        };
        let mut out = BTreeMap::new();
        if let Value::Object(map) = json {
            for (k, v) in map {
                let Ok(id) = k.parse::<u8>() else { continue };
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(id, v);
            }
        }
        Ok(out)
    }

    /// K10620 CheckNight: the camera's 10621 reply payload, verbatim. The request is empty; what the
    /// reply means is not known ("not well understood", tutk.md §4), so it is not decoded.
    pub async fn check_night(&self) -> Result<Vec<u8>> {
        self.raw_query(code::CHECK_NIGHT).await
    }

    /// K10640 GetSpotlightStatus: the camera's 10641 reply payload, verbatim (empty request, raw reply
    /// of unknown layout, tutk.md §4).
    pub async fn spotlight_status(&self) -> Result<Vec<u8>> {
        self.raw_query(code::GET_SPOTLIGHT).await
    }

    /// Sends an empty-payload getter and returns the reply's payload undecoded (any length).
    async fn raw_query(&self, code: u16) -> Result<Vec<u8>> {
        Ok(self.exchange(&Request::Query { code }.to_message()?).await?.payload)
    }

    /// All settings of [`settings::SETTINGS`] with current values.
    pub async fn settings(&self) -> Result<Vec<Setting>> {
        let mut out = Vec::with_capacity(settings::SETTINGS.len());
        for spec in settings::SETTINGS {
            out.push(self.read_setting(spec).await?);
        }
        Ok(out)
    }

    /// One setting by key; also the read-only raw keys of [`settings::RAW_KEYS`].
    pub async fn setting(&self, key: &str) -> Result<Setting> {
        if let Some(&(key, label, code)) = settings::RAW_KEYS.iter().find(|(k, _, _)| *k == key) {
            let reply = self.raw_query(code).await?;
            let value = if reply.is_empty() {
                "(empty)".to_string()
            } else {
                reply.iter().map(|b| format!("{b:02x}")).collect()
            };
            return Ok(Setting {
                key: key.to_string(),
                label: label.to_string(),
                value,
                writable: false,
                form: camctl_core::SettingForm::Free,
            });
        }
        self.read_setting(find(key)?).await
    }

    /// Changes a setting (user-facing value, e.g. `on`, `auto`, `360p`, `120`) and returns it re-read.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<Setting> {
        let spec = find(key)?;
        let v = spec.parse(value).ok_or_else(|| Error::InvalidValue {
            key: key.to_string(),
            value: value.to_string(),
            allowed: spec.allowed(),
        })?;
        self.write_value(spec, v).await?;
        self.read_setting(spec).await
    }

    async fn read_setting(&self, spec: &SettingSpec) -> Result<Setting> {
        let value = self.read_value(spec).await?;
        Ok(Setting {
            key: spec.key.to_string(),
            label: spec.label.to_string(),
            value: value.map_or_else(|| "unknown".to_string(), |v| spec.render(v)),
            writable: true,
            form: spec.form(),
        })
    }

    /// The wire value of a setting (`None` when the camera reports it as unknown).
    pub async fn read_value(&self, spec: &SettingSpec) -> Result<Option<i64>> {
        Ok(Some(match spec.kind {
            SettingKind::Byte { get, .. } => match self.request(&Request::Query { code: get }).await? {
                Response::Byte { value, .. } => value.into(),
                Response::Raw { payload, .. } if !payload.is_empty() => payload[0].into(),
                other => return Err(unexpected(&other)),
            },
            SettingKind::Resolution => {
                let vp = self.video_params().await?;
                return Ok(self.config.resolution_encoding.decode(vp.resolution).map(i64::from));
            }
            SettingKind::Bitrate => self.video_params().await?.bitrate.into(),
            SettingKind::Fps => self.video_params().await?.fps.into(),
            SettingKind::HorFlip => self.video_params().await?.hor_flip.into(),
            SettingKind::VerFlip => self.video_params().await?.ver_flip.into(),
            SettingKind::MotionDetection => {
                match self.request(&Request::Query { code: code::GET_MOTION_ALARM }).await? {
                    Response::MotionAlarm(m) => m.enabled.into(),
                    other => return Err(unexpected(&other)),
                }
            }
            SettingKind::Alarm => {
                match self.request(&Request::Query { code: code::GET_ALARM_FLASHING }).await? {
                    Response::AlarmFlashing([v, _]) => v.into(),
                    other => return Err(unexpected(&other)),
                }
            }
            SettingKind::CameraTime => {
                match self.request(&Request::Query { code: code::GET_CAMERA_TIME }).await? {
                    Response::CameraTime(t) => i64::try_from(t).unwrap_or(i64::MAX),
                    other => return Err(unexpected(&other)),
                }
            }
            SettingKind::TimeZone => {
                let params = self.check_params(&[22]).await?;
                return Ok(params.get(&22).and_then(|v| v.trim().parse().ok()));
            }
        }))
    }

    /// Writes a wire value (already validated by [`SettingSpec::parse`]).
    pub async fn write_value(&self, spec: &SettingSpec, v: i64) -> Result<()> {
        let byte = u8::try_from(v).unwrap_or(0);
        let video = |p: VideoParams| Request::SetVideoParam(p);
        match spec.kind {
            SettingKind::Byte { set, .. } => {
                self.request(&Request::SetByte { code: set, value: byte }).await?;
            }
            SettingKind::Resolution => {
                let current = self.video_params().await?.bitrate;
                let bitrate = if current == 0 { self.config.bitrate } else { current };
                self.set_resolution(FrameSize(byte), bitrate).await?;
            }
            SettingKind::Bitrate => {
                let bitrate = u16::try_from(v).unwrap_or(u16::MAX);
                self.expect_ok(&video(VideoParams { bitrate, ..Default::default() })).await?;
            }
            SettingKind::Fps => {
                self.expect_ok(&video(VideoParams { fps: byte, ..Default::default() })).await?
            }
            SettingKind::HorFlip => {
                self.expect_ok(&video(VideoParams { hor_flip: byte, ..Default::default() })).await?
            }
            SettingKind::VerFlip => {
                self.expect_ok(&video(VideoParams { ver_flip: byte, ..Default::default() })).await?
            }
            SettingKind::MotionDetection => {
                let code = if auth::uses_k10052(self.details.model.as_deref()) {
                    code::SET_MOTION_ALARM_DB
                } else {
                    code::SET_MOTION_ALARM
                };
                self.request(&Request::SetMotionAlarm { code, value: byte, extra: 0 }).await?;
            }
            SettingKind::Alarm => {
                self.request(&Request::SetAlarmFlashing(byte)).await?;
            }
            SettingKind::CameraTime => {
                self.request(&Request::SetCameraTime(u32::try_from(v).unwrap_or(0))).await?;
            }
            SettingKind::TimeZone => {
                self.request(&Request::SetTimeZone(i8::try_from(v).unwrap_or(0))).await?;
            }
        }
        Ok(())
    }

    /// The next media frame (video or audio), or [`Error::NoFrames`] after the configured timeout.
    pub async fn recv_frame(&self) -> Result<MediaFrame> {
        match tokio::time::timeout(self.config.timeout, self.transport.recv_frame()).await {
            Ok(frame) => Ok(frame?),
            Err(_) => Err(Error::NoFrames(self.config.timeout)),
        }
    }

    /// The next message the camera sent on its own (or a late reply), as an event; `None` once the
    /// transport is closed. Waits without a timeout and blocks control requests meanwhile.
    pub async fn next_event(&self) -> Result<Option<Event>> {
        let mut skipped = 0u32;
        loop {
            if let Some(msg) = self.unsolicited.pop() {
                return Ok(Some(event_of(&msg)));
            }
            if skipped >= MAX_SKIPPED_MESSAGES {
                return Err(Error::Protocol(format!(
                    "the camera sent {skipped} messages in a row that are not K-commands"
                )));
            }
            let _guard = self.control.lock().await;
            // Re-check: an exchange may have queued something while we waited for the lock.
            if !self.unsolicited.is_empty() {
                continue;
            }
            match self.transport.recv_ioctrl().await {
                Ok((IOTYPE_USER_DEFINED_START, data)) => match HlMessage::decode(&data) {
                    Ok(msg) => {
                        tracing::info!("received {}", describe(&msg));
                        return Ok(Some(event_of(&msg)));
                    }
                    Err(e) => {
                        skipped += 1;
                        self.unsolicited
                            .junk(format_args!("ignoring undecodable ioctrl ({e}): {}", shown(&data, 32)));
                    }
                },
                Ok((ctrl_type, data)) => {
                    skipped += 1;
                    self.unsolicited.junk(format_args!(
                        "ignoring ioctrl type 0x{ctrl_type:x} ({} bytes): {}",
                        data.len(),
                        shown(&data, 32)
                    ));
                }
                Err(TransportError::Closed) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Ends the session and hands back the transport.
    pub fn into_transport(self) -> T {
        self.transport
    }
}

fn find(key: &str) -> Result<&'static SettingSpec> {
    settings::find(key).ok_or_else(|| Error::UnknownSetting(key.to_string()))
}

fn unexpected(r: &Response) -> Error {
    Error::Protocol(format!("unexpected reply K{}", r.code()))
}

/// An unsolicited message as a [`camctl_core::Event`]: name `K<code>`, detail the JSON text or hex bytes.
pub fn event_of(msg: &HlMessage) -> Event {
    let detail = match std::str::from_utf8(&msg.payload) {
        Ok(text) if text.trim_start().starts_with('{') => text.to_string(),
        _ => auth::hex(&msg.payload),
    };
    Event::new(format!("K{}", msg.code), detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_queue_is_bounded_in_entries_and_bytes() {
        let inbox = Inbox::default();
        for i in 0..1000u16 {
            inbox.push(HlMessage::new(i, vec![0; 60_000]));
            let q = inbox.queue.lock().unwrap();
            assert!(q.msgs.len() <= MAX_QUEUED_EVENTS && q.bytes <= MAX_QUEUED_EVENT_BYTES);
        }
        // The newest are kept.
        let last = std::iter::from_fn(|| inbox.pop()).last().unwrap();
        assert_eq!(last.code, 999);
        inbox.push(HlMessage::new(1, vec![0; MAX_QUEUED_EVENT_BYTES + 1]));
        assert!(inbox.is_empty());
        for i in 0..300u16 {
            inbox.push(HlMessage::new(i, vec![]));
        }
        assert_eq!(inbox.queue.lock().unwrap().msgs.len(), MAX_QUEUED_EVENTS);
    }
}
