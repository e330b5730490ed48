//! A Wyze camera at the message layer (tutk.md §9): answers the handshake with the configured status and
//! key, keeps a settings store, and streams the embedded H.264 sample clips with advancing `FRAMEINFO`,
//! over any [`CameraTransport`].
//!
//! The emulator chooses a secret R per handshake, sends `C = encrypt_challenge(R)` in 10001 and accepts
//! the challenge response only if it equals R; anything else gets `connectionRes` "2".
//!
//! The video follows the frame size and bitrate set (10056, 10052, or the initial configuration): the clip
//! of that picture size ([`picture_size`]: FRAMEINFO's `frame_size` and the stream's SPS agree), padded
//! with H.264 filler data so that the video's byte rate is the bitrate set, as a constant-bitrate encoder
//! pads its output ([`CbrPadding`]). A frame size with no picture is refused (10057 / 10053 `02`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use crate::auth;
use crate::error::Result;
use crate::settings::{ResolutionEncoding, SETTINGS, SettingKind};
use crate::transport::{CameraTransport, IOTYPE_USER_DEFINED_START, TransportError};
use crate::wire::{
    AuthReply, CruisePoint, FrameInfo, FrameSize, HlMessage, MotionAlarm, Request, Response, VideoParams,
    code, codec,
};

/// How fast the emulator sends frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// One video frame every 1/fps seconds, like a camera.
    RealTime,
    /// As fast as the transport takes them (tests, benchmarks); timestamps still advance by 1/fps.
    Unpaced,
}

/// Everything configurable about the emulated camera (tutk.md §9).
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Protocol level written in every reply header (e.g. 1, 5, 25, 37).
    pub protocol: u16,
    /// Camera status in 10001: 1 default key, 3 ENR, 6 double ENR; 2/4/5 make clients give up.
    pub status: u8,
    /// ENR, 16 or 32 characters (status 6 uses characters 16..32 as the second key).
    pub enr: String,
    /// MAC (12 hex digits), reported in cameraInfo and FRAMEINFO.
    pub mac: String,
    /// Model, e.g. `WYZE_CAKP2JFUS`.
    pub model: String,
    /// Firmware version string.
    pub firmware: String,
    /// Replaces the generated cameraInfo JSON when set.
    pub camera_info: Option<Value>,
    /// Forces `connectionRes` (e.g. "2") whatever the client answers.
    pub connection_res: Option<String>,
    /// Initial frame size.
    pub frame_size: FrameSize,
    /// Initial bitrate, KB/s.
    pub bitrate: u16,
    /// Initial frame rate.
    pub fps: u8,
    /// Frame pacing.
    pub pacing: Pacing,
    /// Fixed challenge secret R (random per handshake otherwise).
    pub challenge_secret: Option<[u8; 16]>,
    /// Encoding of the 10050 / 10020 resolution value.
    pub resolution_encoding: ResolutionEncoding,
    /// Codes never answered (simulates a camera that ignores them; clients time out).
    pub silent_codes: Vec<u16>,
    /// Answer unknown codes with an empty code + 1 (default: no reply, as §9 suggests).
    pub answer_unknown: bool,
    /// Audio codec for audio frames (G.711 µ-law at 8 kHz by default).
    pub audio_codec: u16,
    /// Payload of the 10621 reply to K10620 CheckNight (empty request). The reference names the
    /// command but not its reply ("not well understood", seed 001, tutk.md §4), so the default is
    /// [`PLACEHOLDER_RAW_REPLY`], a placeholder and not a captured value; put a capture's bytes here to
    /// replay a real camera.
    pub check_night_reply: Vec<u8>,
    /// Payload of the 10641 reply to K10640 GetSpotlightStatus (empty request, raw reply of unknown
    /// layout, tutk.md §4). Default [`PLACEHOLDER_RAW_REPLY`]. It does not follow 10646
    /// SetSpotlightStatus, since nothing says how the reply would encode that value.
    pub spotlight_status_reply: Vec<u8>,
    /// Pad the video with filler data up to the bitrate set (default on); off streams the clips as
    /// they are (their own rate, below 35 KB/s).
    pub pad_to_bitrate: bool,
}

/// Requests kept in [`EmulatorState::recent_requests`].
pub const RECENT_REQUESTS: usize = 64;

/// The highest bitrate the padding follows, KB/s: FRAMEINFO reports the bitrate in one byte, so no
/// camera says it streams faster. A higher setting streams at this rate.
pub const MAX_PADDED_BITRATE: u16 = 255;

/// Bytes in one "KB" of a Wyze bitrate. The references say KB/s without defining it; 1000 is assumed.
pub const BYTES_PER_KB: u64 = 1000;

/// Default payload of the K-command replies whose content the reference does not know
/// ([`EmulatorConfig::check_night_reply`], [`EmulatorConfig::spotlight_status_reply`]): empty. It is a
/// placeholder that claims nothing about real cameras; clients get the reply code with no bytes.
pub const PLACEHOLDER_RAW_REPLY: &[u8] = &[];

impl EmulatorConfig {
    /// A Wyze Cam v3 at protocol level 25 in status 3 (ENR key), 1080p / 120 KB/s / 15 fps, unpaced.
    pub fn new(enr: &str, mac: &str) -> Self {
        EmulatorConfig {
            protocol: 25,
            status: 3,
            enr: enr.into(),
            mac: mac.into(),
            model: "WYZE_CAKP2JFUS".into(),
            firmware: "4.36.11.0".into(),
            camera_info: None,
            connection_res: None,
            frame_size: FrameSize::HD_1080P,
            bitrate: crate::wire::bitrate::HD,
            fps: camctl_core::video::SAMPLE_FPS as u8,
            pacing: Pacing::Unpaced,
            challenge_secret: None,
            resolution_encoding: ResolutionEncoding::default(),
            silent_codes: Vec::new(),
            answer_unknown: false,
            audio_codec: codec::G711U,
            check_night_reply: PLACEHOLDER_RAW_REPLY.to_vec(),
            spotlight_status_reply: PLACEHOLDER_RAW_REPLY.to_vec(),
            pad_to_bitrate: true,
        }
    }
}

/// The emulated camera's settings store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraSettings {
    /// One-byte settings keyed by their getter code (or setter code when there is no getter).
    pub bytes: BTreeMap<u16, u8>,
    /// Current frame size.
    pub frame_size: u8,
    /// Current bitrate.
    pub bitrate: u16,
    /// Current frame rate.
    pub fps: u8,
    /// Horizontal flip 1/2.
    pub hor_flip: u8,
    /// Vertical flip 1/2.
    pub ver_flip: u8,
    /// Motion alarm.
    pub motion_alarm: MotionAlarm,
    /// Siren + light 1/2.
    pub alarm: u8,
    /// Time zone in hours.
    pub time_zone: i8,
    /// Camera clock minus system clock, seconds.
    pub clock_offset: i64,
    /// Pan-cruise points.
    pub cruise_points: Vec<CruisePoint>,
}

impl CameraSettings {
    fn new(config: &EmulatorConfig) -> Self {
        let mut bytes = BTreeMap::new();
        for spec in SETTINGS {
            if let SettingKind::Byte { get, .. } = spec.kind {
                // Wyze convention: 1 on / 2 off; night vision starts on auto (3), night switch on dusk (1).
                let default = match get {
                    code::GET_NIGHT_VISION => 3,
                    code::GET_NETWORK_LIGHT
                    | code::GET_OSD
                    | code::GET_IRLED
                    | code::GET_AUTO_SWITCH_NIGHT => 1,
                    _ => 2,
                };
                bytes.insert(get, default);
            }
        }
        CameraSettings {
            bytes,
            frame_size: config.frame_size.0,
            bitrate: config.bitrate,
            fps: config.fps.max(1),
            hor_flip: 2,
            ver_flip: 2,
            motion_alarm: MotionAlarm { enabled: 1, sensitivity: 50 },
            alarm: 2,
            time_zone: 0,
            clock_offset: 0,
            cruise_points: Vec::new(),
        }
    }

    /// The value of a K10020 parameter id, as the camera's string.
    pub fn param(&self, id: u8, enc: ResolutionEncoding) -> Option<String> {
        let byte = |c: u16| self.bytes.get(&c).map(u8::to_string);
        Some(match id {
            1 => return byte(code::GET_NETWORK_LIGHT),
            2 => return byte(code::GET_NIGHT_VISION),
            3 => self.bitrate.to_string(),
            4 => enc.encode(self.frame_size).to_string(),
            5 => self.fps.to_string(),
            6 => self.hor_flip.to_string(),
            7 => self.ver_flip.to_string(),
            13 => self.motion_alarm.enabled.to_string(),
            21 => return byte(code::GET_MOTION_TAGGING),
            22 => self.time_zone.to_string(),
            27 => return byte(code::GET_MOTION_TRACKING),
            50 => return byte(code::GET_IRLED),
            _ => return None,
        })
    }
}

/// One authentication attempt as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRecord {
    /// 10002, 10006 or 10008.
    pub code: u16,
    /// The 4-byte "username" (not checked, like real cameras).
    pub username: [u8; 4],
    /// open_user_id of 10006/10008 (empty for 10002).
    pub open_user_id: Vec<u8>,
    /// Whether the challenge response was right.
    pub accepted: bool,
}

/// Request codes [`EmulatorState::requests`] keeps.
pub const LOGGED_REQUESTS: usize = 1024;

/// The emulator's observable state.
#[derive(Debug, Clone)]
pub struct EmulatorState {
    /// Settings store.
    pub settings: CameraSettings,
    /// Sessions served (each [`Emulator::serve`] call).
    pub sessions: u64,
    /// Whether the latest session has authenticated.
    pub authenticated: bool,
    /// Every authentication attempt.
    pub auth_log: Vec<AuthRecord>,
    /// Video streaming on in the latest session.
    pub video_on: bool,
    /// Audio streaming on in the latest session.
    pub audio_on: bool,
    /// Video frames sent.
    pub video_frames_sent: u64,
    /// Audio frames sent.
    pub audio_frames_sent: u64,
    /// Codes of the first [`LOGGED_REQUESTS`] requests received, in order (bounded: a client may send
    /// requests without end).
    pub requests: Vec<u16>,
    /// The latest [`RECENT_REQUESTS`] requests as received (header fields and payload), oldest first.
    pub recent_requests: VecDeque<HlMessage>,
    /// Video payload bytes sent (frames with their filler), for bitrate checks.
    pub video_bytes_sent: u64,
}

// Camera-wide state: the settings survive across sessions, like a real camera's.
struct Shared {
    state: Mutex<EmulatorState>,
    outbox: broadcast::Sender<HlMessage>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, EmulatorState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Inspects and drives a running emulator from outside (tests, the CLI).
#[derive(Clone)]
pub struct EmulatorHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle").finish_non_exhaustive()
    }
}

impl EmulatorHandle {
    /// A snapshot of the state.
    pub fn state(&self) -> EmulatorState {
        self.shared.state().clone()
    }

    /// Sends a message unprompted to every connected client (it shows up as a client event).
    pub fn push_message(&self, msg: HlMessage) {
        let _ = self.shared.outbox.send(msg);
    }
}

/// The emulated camera. Build with [`Emulator::new`], keep an [`EmulatorHandle`], then `serve` a transport
/// per client session; clones share the camera (settings, logs), so one camera can serve many sessions.
#[derive(Clone)]
pub struct Emulator {
    config: Arc<EmulatorConfig>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The picture (width, height) a camera of `model` streams at `frame_size` (tutk.md §5.1): 0 1080p, 1
/// 360p, 2 720p, 3 2K, 4 SD (DWB's table) and 5 2K (DWB); the portrait doorbells (`WYZEDB3`, `HL_DB2`)
/// have 3 = 1296x1728 and 4 = 480x640 (KROO/DWB's doorbell sizes; for `HL_DB2` inferred), the floodlight
/// (`HL_CFL2`) 4 = 2K. `None` for other sizes.
///
/// ```
/// use camctl_wyze::emulator::picture_size;
/// assert_eq!(picture_size("WYZE_CAKP2JFUS", 2), Some((1280, 720)));
/// assert_eq!(picture_size("HL_DB2", 3), Some((1296, 1728)));
/// assert_eq!(picture_size("HL_CFL2", 4), Some((2560, 1440)));
/// assert_eq!(picture_size("WYZE_CAKP2JFUS", 6), None);
/// ```
pub fn picture_size(model: &str, frame_size: u8) -> Option<(u32, u32)> {
    let model = Some(model);
    Some(match frame_size {
        3 if auth::is_portrait_doorbell(model) => (1296, 1728),
        4 if auth::is_portrait_doorbell(model) => (480, 640),
        4 if auth::is_floodlight_model(model) => (2560, 1440),
        0 => (1920, 1080),
        1 | 4 => (640, 360),
        2 => (1280, 720),
        3 | 5 => (2560, 1440),
        _ => return None,
    })
}

/// One decoded clip, ready to stream: Annex-B access units with keyframe flags.
struct Clip {
    frames: Vec<(Vec<u8>, bool)>,
}

/// The decoded embedded clip of a picture size (1080p for a size without one, which only a
/// configuration can ask for: the setters refuse such sizes).
fn clip_for(size: Option<(u32, u32)>) -> &'static Clip {
    use camctl_core::video::{SAMPLES, frames};
    static CLIPS: OnceLock<Vec<Clip>> = OnceLock::new();
    let clips = CLIPS.get_or_init(|| {
        SAMPLES
            .iter()
            .map(|(bytes, _)| Clip { frames: frames(bytes).map(|f| (f.to_annexb(), f.keyframe)).collect() })
            .collect()
    });
    let index = size
        .and_then(|want| SAMPLES.iter().position(|(_, have)| *have == want))
        .or_else(|| SAMPLES.iter().position(|(_, have)| *have == (1920, 1080)))
        .unwrap_or(0);
    &clips[index]
}

/// Filler for a constant bitrate: each access unit gets padded so that the video's bytes add up to
/// the bitrate set per second of stream time. A frame larger than its share (an IDR) is paid back by the
/// following ones, as a CBR encoder's buffer does; a clip above the bitrate gets no filler.
#[derive(Debug, Clone)]
pub struct CbrPadding {
    bytes_per_s: u64,
    fps: u64,
    /// Bytes of the second not yet given to a frame (so that `fps` frames add up to exactly one second).
    carry: u64,
    /// Bytes allowed so far minus bytes sent; negative after a frame above its share.
    balance: i64,
}

impl CbrPadding {
    /// Padding for `bitrate` KB/s ([`BYTES_PER_KB`], at most [`MAX_PADDED_BITRATE`]) at `fps` frames a second.
    pub fn new(bitrate: u16, fps: u8) -> Self {
        let bytes_per_s = u64::from(bitrate.min(MAX_PADDED_BITRATE)) * BYTES_PER_KB;
        CbrPadding { bytes_per_s, fps: u64::from(fps.max(1)), carry: 0, balance: 0 }
    }

    /// The filler bytes to append to the next access unit of `len` bytes (0, or at least
    /// [`camctl_core::video::MIN_FILLER_LEN`]).
    pub fn filler_for(&mut self, len: usize) -> usize {
        let total = self.bytes_per_s + self.carry;
        let share = total / self.fps;
        self.carry = total % self.fps;
        let len = i64::try_from(len).unwrap_or(i64::MAX);
        self.balance = self.balance.saturating_add(i64::try_from(share).unwrap_or(i64::MAX));
        let want = self.balance.saturating_sub(len);
        let pad =
            usize::try_from(want).ok().filter(|w| *w >= camctl_core::video::MIN_FILLER_LEN).unwrap_or(0);
        self.balance = want.saturating_sub(i64::try_from(pad).unwrap_or(i64::MAX));
        // A clip above the bitrate never catches up; bound its debt to two seconds so that a later,
        // higher bitrate is honoured promptly.
        let floor = -2 * i64::try_from(self.bytes_per_s).unwrap_or(i64::MAX / 2);
        self.balance = self.balance.max(floor);
        pad
    }
}

/// 16 random bytes (the challenge secret).
fn random16() -> [u8; 16] {
    crate::tutk::random_bytes::<16>()
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl Emulator {
    /// An emulator with this configuration.
    pub fn new(config: EmulatorConfig) -> Self {
        let settings = CameraSettings::new(&config);
        let (outbox, _) = broadcast::channel(64);
        let state = EmulatorState {
            settings,
            sessions: 0,
            authenticated: false,
            auth_log: Vec::new(),
            video_on: false,
            audio_on: false,
            video_frames_sent: 0,
            audio_frames_sent: 0,
            requests: Vec::new(),
            recent_requests: VecDeque::new(),
            video_bytes_sent: 0,
        };
        let shared = Arc::new(Shared { state: Mutex::new(state), outbox });
        Emulator { config: Arc::new(config), shared }
    }

    /// A handle for inspecting the state while [`Emulator::serve`] runs.
    pub fn handle(&self) -> EmulatorHandle {
        EmulatorHandle { shared: self.shared.clone() }
    }

    /// Serves one client session on `transport` until it closes: answers ioctrls and streams media
    /// concurrently. Each session authenticates anew; settings persist across sessions.
    pub async fn serve<T: CameraTransport>(self, transport: T) -> Result<()> {
        let Emulator { config, shared } = self;
        let outbox = shared.outbox.subscribe();
        {
            let mut st = shared.state();
            st.sessions += 1;
            st.authenticated = false;
            st.video_on = false;
            st.audio_on = false;
        }
        // Per session: (video on, audio on); the media pump sleeps until one is set.
        let (streaming, streaming_rx) = watch::channel((false, false));
        let control = Control {
            config: &config,
            shared: &shared,
            streaming: &streaming,
            authenticated: false,
            secret: None,
        };
        let result = tokio::select! {
            r = control.run(&transport, outbox) => r,
            r = media_pump(&config, &shared, streaming_rx, &transport) => r,
        };
        match result {
            Err(crate::Error::Transport(TransportError::Closed)) => Ok(()),
            other => other,
        }
    }
}

struct Control<'a> {
    config: &'a EmulatorConfig,
    shared: &'a Shared,
    streaming: &'a watch::Sender<(bool, bool)>,
    authenticated: bool,
    secret: Option<[u8; 16]>,
}

impl Control<'_> {
    fn set_streaming(&self, video: Option<bool>, audio: Option<bool>) {
        let (v, a) = *self.streaming.borrow();
        let (v, a) = (video.unwrap_or(v), audio.unwrap_or(a));
        self.streaming.send_replace((v, a));
        let mut st = self.shared.state();
        (st.video_on, st.audio_on) = (v, a);
    }

    async fn run<T: CameraTransport>(
        mut self,
        transport: &T,
        mut outbox: broadcast::Receiver<HlMessage>,
    ) -> Result<()> {
        loop {
            tokio::select! {
                received = transport.recv_ioctrl() => {
                    let (ctrl_type, data) = received?;
                    if ctrl_type != IOTYPE_USER_DEFINED_START {
                        tracing::debug!(ctrl_type, "ignoring non-HL ioctrl");
                        continue;
                    }
                    let msg = match HlMessage::decode(&data) {
                        Ok(msg) => msg,
                        Err(e) => {
                            tracing::warn!("emulator: ignoring undecodable message: {e}");
                            continue;
                        }
                    };
                    if let Some(reply) = self.handle(&msg) {
                        let bytes = reply.to_message(self.config.protocol)?.encode()?;
                        transport.send_ioctrl(IOTYPE_USER_DEFINED_START, bytes).await?;
                    }
                }
                pushed = outbox.recv() => match pushed {
                    Ok(msg) => transport.send_ioctrl(IOTYPE_USER_DEFINED_START, msg.encode()?).await?,
                    Err(broadcast::error::RecvError::Lagged(n)) => tracing::warn!(n, "emulator: dropped pushed messages"),
                    // The sender lives in `shared`, which outlives this loop; nothing more will come.
                    Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
                },
            }
        }
    }

    fn camera_info(&self) -> Value {
        if let Some(ci) = &self.config.camera_info {
            return ci.clone();
        }
        let st = self.shared.state();
        let s = &st.settings;
        let b = |c: u16| s.bytes.get(&c).copied().unwrap_or(2).to_string();
        let enc = self.config.resolution_encoding;
        json!({
            "videoParm": {
                "type": "h264",
                "bitRate": s.bitrate.to_string(),
                "resolution": enc.encode(s.frame_size).to_string(),
                "fps": s.fps.to_string(),
                "horizontalFlip": s.hor_flip.to_string(),
                "verticalFlip": s.ver_flip.to_string(),
            },
            "settingParm": { "stateVision": b(code::GET_NETWORK_LIGHT), "nightVision": b(code::GET_NIGHT_VISION), "osd": b(code::GET_OSD), "tz": s.time_zone.to_string() },
            "basicInfo": {
                "firmware": self.config.firmware,
                "type": "Camera",
                "hardware": "0.0.0.0",
                "model": self.config.model,
                "mac": self.config.mac,
                "wifidb": "80",
            },
            "audioParm": { "sampleRate": "8000" },
            "channelResquestResult": { "video": "1", "audio": "1" },
            "recordType": { "type": "1" },
            "sdParm": { "status": "2", "capacity": "0", "free": "0" },
            "type": "normal",
        })
    }

    fn handle(&mut self, msg: &HlMessage) -> Option<Response> {
        {
            let mut st = self.shared.state();
            if st.requests.len() < LOGGED_REQUESTS {
                st.requests.push(msg.code);
            }
            if st.recent_requests.len() >= RECENT_REQUESTS {
                st.recent_requests.pop_front();
            }
            st.recent_requests.push_back(msg.clone());
        }
        if self.config.silent_codes.contains(&msg.code) {
            return None;
        }
        let request = match Request::decode(msg) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("emulator: bad request: {e}");
                return None;
            }
        };
        let reply_code = code::response_to(msg.code);
        match request {
            Request::ConnectRequest { .. } => {
                let secret = self.config.challenge_secret.unwrap_or_else(random16);
                self.secret = Some(secret);
                let challenge =
                    auth::encrypt_challenge(self.config.status, &secret, self.config.enr.as_bytes())
                        .unwrap_or_else(|_| random16());
                return Some(Response::Challenge { status: self.config.status, challenge });
            }
            Request::ConnectAuth { response, username, open_video, open_audio } => {
                return Some(self.authenticate(
                    msg.code,
                    response,
                    username,
                    Vec::new(),
                    open_video,
                    open_audio,
                ));
            }
            Request::ConnectUserAuth { code, response, username, open_video, open_audio, open_user_id } => {
                return Some(self.authenticate(
                    code,
                    response,
                    username,
                    open_user_id,
                    open_video,
                    open_audio,
                ));
            }
            _ => {}
        }
        if !self.authenticated {
            tracing::debug!(code = msg.code, "emulator: ignoring request before authentication");
            return None;
        }
        let ack = Some(Response::Raw { code: reply_code, payload: vec![1] });
        let enc = self.config.resolution_encoding;
        match request {
            Request::ControlChannel { media, enable } => {
                let on = enable == 1;
                match media {
                    1 => self.set_streaming(Some(on), None),
                    2 => self.set_streaming(None, Some(on)),
                    _ => {}
                }
                Some(Response::Raw { code: reply_code, payload: Vec::new() })
            }
            Request::CheckParams { ids } => {
                let st = self.shared.state();
                let map: serde_json::Map<String, Value> = ids
                    .iter()
                    .filter_map(|id| st.settings.param(*id, enc).map(|v| (id.to_string(), Value::String(v))))
                    .collect();
                Some(Response::Params(Value::Object(map)))
            }
            Request::Query { code: q } => {
                let st = self.shared.state();
                let s = &st.settings;
                match q {
                    c if code::BYTE_QUERIES.contains(&c) => Some(Response::Byte {
                        code: reply_code,
                        value: s.bytes.get(&c).copied().unwrap_or(2),
                    }),
                    code::GET_VIDEO_PARAM => Some(Response::VideoParams(VideoParams {
                        bitrate: s.bitrate,
                        resolution: enc.encode(s.frame_size),
                        fps: s.fps,
                        hor_flip: s.hor_flip,
                        ver_flip: s.ver_flip,
                    })),
                    code::GET_CAMERA_TIME => {
                        Some(Response::CameraTime(u64::try_from(unix_now() + s.clock_offset).unwrap_or(0)))
                    }
                    code::GET_MOTION_ALARM => Some(Response::MotionAlarm(s.motion_alarm)),
                    code::GET_ALARM_FLASHING => Some(Response::AlarmFlashing([s.alarm, s.alarm])),
                    code::GET_CRUISE_POINTS => Some(Response::CruisePoints(s.cruise_points.clone())),
                    // Raw replies of unknown layout: the configured bytes (placeholder by default).
                    code::CHECK_NIGHT => Some(Response::Raw {
                        code: reply_code,
                        payload: self.config.check_night_reply.clone(),
                    }),
                    code::GET_SPOTLIGHT => Some(Response::Raw {
                        code: reply_code,
                        payload: self.config.spotlight_status_reply.clone(),
                    }),
                    // JSON/raw queries whose reply content the reference does not know: no reply.
                    _ => None,
                }
            }
            Request::SetByte { code: set, value } => {
                let getter = SETTINGS.iter().find_map(|spec| match spec.kind {
                    SettingKind::Byte { get, set: s } if s == set => Some(get),
                    _ => None,
                });
                self.shared.state().settings.bytes.insert(getter.unwrap_or(set), value);
                ack
            }
            Request::SetVideoParam(p) => {
                let known = p.resolution.checked_sub(1).is_none_or(|fs| self.has_picture(fs));
                if !known {
                    return Some(Response::SetResult { code: reply_code, ok: false });
                }
                let mut st = self.shared.state();
                let s = &mut st.settings;
                // Zero means "leave unchanged" [inferred]; 10052's resolution is frame size + 1.
                if p.bitrate != 0 {
                    s.bitrate = p.bitrate;
                }
                if let Some(fs) = p.resolution.checked_sub(1) {
                    s.frame_size = fs;
                }
                if p.fps != 0 {
                    s.fps = p.fps;
                }
                if p.hor_flip != 0 {
                    s.hor_flip = p.hor_flip;
                }
                if p.ver_flip != 0 {
                    s.ver_flip = p.ver_flip;
                }
                Some(Response::SetResult { code: reply_code, ok: true })
            }
            Request::SetResolvingBit(rb) => {
                if !rb.frame_size.is_none_or(|fs| self.has_picture(fs)) {
                    return Some(Response::SetResult { code: reply_code, ok: false });
                }
                let mut st = self.shared.state();
                if let Some(fs) = rb.frame_size {
                    st.settings.frame_size = fs;
                }
                if rb.bitrate != 0 {
                    st.settings.bitrate = rb.bitrate;
                }
                if let Some(fps) = rb.fps.filter(|f| *f != 0) {
                    st.settings.fps = u8::try_from(fps).unwrap_or(u8::MAX);
                }
                Some(Response::SetResult { code: reply_code, ok: true })
            }
            Request::SetCameraTime(t) => {
                self.shared.state().settings.clock_offset = i64::from(t) - unix_now();
                ack
            }
            Request::SetMotionAlarm { value, .. } => {
                self.shared.state().settings.motion_alarm.enabled = value;
                ack
            }
            Request::SetTimeZone(tz) => {
                self.shared.state().settings.time_zone = tz;
                ack
            }
            Request::SetAlarmFlashing(v) => {
                self.shared.state().settings.alarm = v;
                ack
            }
            Request::SetCruisePoints(points) => {
                self.shared.state().settings.cruise_points = points;
                ack
            }
            Request::GetCurCruisePoint(_) => {
                Some(Response::CurCruisePoint { value: 0, vertical: 0, horizontal: 0 })
            }
            // The bridge does not wait for these (tutk.md §4.1).
            Request::SetRotaryByDegree { .. } | Request::ResetRotatePosition(_) => None,
            Request::TakePhoto
            | Request::StartBoa
            | Request::FormatSd
            | Request::SetRotaryByAction { .. }
            | Request::SetPtzPosition { .. } => ack,
            Request::Raw { code: c, .. } => {
                tracing::debug!(code = c, "emulator: unknown K-command");
                self.config.answer_unknown.then(|| Response::Raw { code: reply_code, payload: Vec::new() })
            }
            Request::ConnectRequest { .. }
            | Request::ConnectAuth { .. }
            | Request::ConnectUserAuth { .. } => None,
        }
    }

    /// Whether this camera has a picture for `frame_size` (the setters refuse other sizes).
    fn has_picture(&self, frame_size: u8) -> bool {
        picture_size(&self.config.model, frame_size).is_some()
    }

    fn authenticate(
        &mut self,
        code: u16,
        response: [u8; 16],
        username: [u8; 4],
        open_user_id: Vec<u8>,
        open_video: u8,
        open_audio: u8,
    ) -> Response {
        let status_ok = auth::KeySchedule::for_status(self.config.status).is_ok();
        let accepted = status_ok && self.secret.take() == Some(response);
        let connection_res = self
            .config
            .connection_res
            .clone()
            .unwrap_or_else(|| if accepted { "1".into() } else { "2".into() });
        let success = connection_res == "1";
        tracing::debug!(code, accepted, username = ?String::from_utf8_lossy(&username), "emulator: auth");
        self.shared.state().auth_log.push(AuthRecord { code, username, open_user_id, accepted });
        let camera_info = if success { self.camera_info() } else { Value::Null };
        if success {
            self.authenticated = true;
            self.shared.state().authenticated = true;
            // go2rtc/SEYDX: the stream starts right after the reply when the flags are 1.
            self.set_streaming(Some(open_video == 1), Some(open_audio == 1));
        }
        Response::AuthResult {
            code: code::response_to(code),
            reply: AuthReply::new(&connection_res, camera_info),
        }
    }
}

/// Streams video (and audio when on) while enabled; returns only on a transport error.
async fn media_pump<T: CameraTransport>(
    config: &EmulatorConfig,
    shared: &Shared,
    mut streaming: watch::Receiver<(bool, bool)>,
    transport: &T,
) -> Result<()> {
    let start = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut deadline = tokio::time::Instant::now();
    let mut media_us: u64 = 0; // stream time of the next video frame
    let mut audio_us: u64 = 0;
    let (mut video_no, mut audio_no) = (0u32, 0u32);
    let mut index = 0usize;
    // The picture size being streamed and the padding of the bitrate and fps it was set up for.
    let mut current_clip: Option<Option<(u32, u32)>> = None;
    let mut padding: Option<((u16, u8), CbrPadding)> = None;
    loop {
        // Waiting here (rather than polling) keeps an idle emulator at zero CPU.
        if streaming.wait_for(|(video, audio)| *video || *audio).await.is_err() {
            return Ok(());
        }
        let (video_on, audio_on) = *streaming.borrow();
        let (fs, fps, bitrate) = {
            let s = &shared.state().settings;
            (s.frame_size, s.fps.max(1), s.bitrate)
        };
        if !video_on {
            // A restart of video begins at a keyframe, with a fresh bitrate budget.
            current_clip = None;
            padding = None;
        }
        let frame_us = 1_000_000 / u64::from(fps);
        if config.pacing == Pacing::RealTime {
            // A camera stamps frames with its clock: after a pause (streaming off, a slow start) the
            // stream time catches up with the wall clock instead of lagging behind it.
            let wall_us =
                SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().saturating_sub(start);
            let wall_us = u64::try_from(wall_us.as_micros()).unwrap_or(u64::MAX);
            if wall_us > media_us + frame_us {
                media_us = wall_us;
                audio_us = audio_us.max(media_us);
                // The pacing clock restarts at the same moment, so a frame leaves when it is stamped.
                deadline = tokio::time::Instant::now();
            }
        }
        let stamp = |us: u64| {
            let t = start + Duration::from_micros(us);
            (u32::try_from(t.as_secs()).unwrap_or(u32::MAX), t.subsec_micros())
        };
        if video_on {
            let size = picture_size(&config.model, fs);
            if current_clip != Some(size) {
                // A new resolution (or a restart) starts at the clip's first frame: an IDR with SPS/PPS.
                current_clip = Some(size);
                index = 0;
                padding = None;
            }
            let clip = clip_for(size);
            let Some((frame, keyframe)) = clip.frames.get(index % clip.frames.len().max(1)) else {
                return Ok(());
            };
            index = (index + 1) % clip.frames.len();
            let mut data = frame.clone();
            if config.pad_to_bitrate {
                // A new bitrate or frame rate starts a new budget, as an encoder reconfigured.
                if padding.as_ref().is_none_or(|(key, _)| *key != (bitrate, fps)) {
                    padding = Some(((bitrate, fps), CbrPadding::new(bitrate, fps)));
                }
                if let Some((_, cbr)) = padding.as_mut() {
                    let filler = cbr.filler_for(data.len());
                    camctl_core::video::append_filler(&mut data, filler);
                }
            }
            video_no = video_no.wrapping_add(1);
            let (secs, us) = stamp(media_us);
            let mut info = FrameInfo {
                codec_id: codec::H264,
                flags: u8::from(*keyframe),
                cam_index: 0,
                online_num: 1,
                framerate: fps,
                frame_size: fs,
                bitrate: u8::try_from(bitrate).unwrap_or(u8::MAX),
                timestamp_us: us,
                timestamp: secs,
                frame_len: u32::try_from(data.len()).unwrap_or(u32::MAX),
                frame_no: video_no,
                ..Default::default()
            };
            info.set_mac(&config.mac);
            let sent = data.len() as u64;
            transport.send_frame(info, data).await?;
            let mut st = shared.state();
            st.video_frames_sent += 1;
            st.video_bytes_sent += sent;
        }
        media_us += frame_us;
        if audio_on {
            // 160-sample frames at 8 kHz (20 ms): send as many as cover the video frame interval.
            let samples = crate::wire::codec::samples_per_frame(config.audio_codec);
            let audio_frame_us = u64::from(samples) * 1_000_000 / 8000;
            while audio_us < media_us {
                audio_no = audio_no.wrapping_add(1);
                let (secs, us) = stamp(audio_us);
                let flags = crate::wire::AudioFlags { sample_rate: 8000, bits16: false, stereo: false };
                // µ-law silence is 0xFF.
                let payload = vec![0xFF; samples as usize];
                let mut info = FrameInfo {
                    codec_id: config.audio_codec,
                    flags: flags.to_byte().unwrap_or(0),
                    online_num: 1,
                    framerate: fps,
                    timestamp_us: us,
                    timestamp: secs,
                    frame_len: samples,
                    frame_no: audio_no,
                    ..Default::default()
                };
                info.set_mac(&config.mac);
                transport.send_frame(info, payload).await?;
                shared.state().audio_frames_sent += 1;
                audio_us += audio_frame_us;
            }
        } else {
            audio_us = media_us;
        }
        if config.pacing == Pacing::RealTime {
            deadline += Duration::from_micros(frame_us);
            // After a pause (streaming off, slow client) restart the clock instead of bursting to catch up.
            let now = tokio::time::Instant::now();
            if deadline + Duration::from_micros(frame_us) < now {
                deadline = now;
            }
            tokio::time::sleep_until(deadline).await;
        } else {
            // Let the control loop run between frames even when the client drains instantly.
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use camctl_core::video::MIN_FILLER_LEN;

    /// Bytes sent for frames of `sizes` under `cbr`.
    fn sent(cbr: &mut CbrPadding, sizes: impl IntoIterator<Item = usize>) -> usize {
        sizes.into_iter().map(|len| len + cbr.filler_for(len)).sum()
    }

    #[test]
    fn padding_meets_the_bitrate_per_second_and_repays_big_frames() {
        // 60 KB/s at 15 fps: 4000 bytes a frame. One second with a 10 kB IDR first.
        let mut cbr = CbrPadding::new(60, 15);
        let gop = std::iter::once(10_000).chain(std::iter::repeat_n(900, 14));
        assert_eq!(sent(&mut cbr, gop), 60_000);
        // A rate that does not divide by the fps still adds up per second (7 fps: 8571.43 a frame).
        let mut cbr = CbrPadding::new(60, 7);
        assert_eq!(sent(&mut cbr, std::iter::repeat_n(100, 7)), 60_000);
        assert_eq!(sent(&mut cbr, std::iter::repeat_n(100, 70)), 600_000);
    }

    #[test]
    fn padding_is_never_shorter_than_a_filler_unit_and_is_bounded() {
        let mut cbr = CbrPadding::new(60, 15);
        // 3 bytes short of the share: too little for a filler NAL unit, so nothing; it is carried over.
        assert_eq!(cbr.filler_for(3997), 0);
        assert_eq!(cbr.filler_for(1000), 3003);
        for len in [0, 1, 3999, 4000, 4001, 100_000] {
            let pad = cbr.filler_for(len);
            assert!(pad == 0 || pad >= MIN_FILLER_LEN, "{len}: {pad}");
        }
        // Above the cap, the cap: 255 KB/s.
        let mut cbr = CbrPadding::new(u16::MAX, 1);
        assert_eq!(cbr.filler_for(0), 255_000);
        // A stream above the bitrate gets no filler, and its debt stays bounded (two seconds).
        let mut cbr = CbrPadding::new(30, 15);
        assert_eq!(sent(&mut cbr, std::iter::repeat_n(50_000, 1000)), 50_000_000);
        assert!(cbr.balance >= -60_000);
    }
}
