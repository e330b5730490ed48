//! Camera emulator: behaves like a Xiaomi Yi on a command port (JSON, like 7878) and a data port (raw
//! bytes, like 8787), following the checklist of `protocols/ambarella.md` §8.
//!
//! * one session at a time, tokens 1, 2, 3...; `vf_stop` before the 257 reply; `-4` for a wrong token,
//!   `-14` after 258; a second client's 257 sends `{"msg_id":1793}` to the holder, which keeps the
//!   session by answering `rval: 0` within 800 ms (the newcomer gets `-3`), else loses it;
//! * settings with the reference's keys, order and allowed values (msg 1/2/3/9 and the `settable:` form);
//! * photo (769, reply after `photo_taken`), video (513/514/515, a real MP4), viewfinder (259/260) with the
//!   notification orders of §6.2;
//! * live view over RTSP (`rtsp://HOST:PORT/live`, port 554 by default, named by the 257 reply's `rtsp`
//!   key): real H.264 at the preview size (640x480, the original Yi's), looped and paced in real time, by
//!   [`camctl_core::rtsp`]. It streams only while the viewfinder is on: from 259 until 260, a new session
//!   (257) or the loss of the session's connection (a polite 258 leaves it on, so the URL `camctl preview
//!   start` prints plays in a player). While it is off DESCRIBE and PLAY answer `503`; viewers playing
//!   when it stops get an RTCP BYE and lose their session (interleaved ones their connection);
//! * the card (`/tmp/fuse_d/DCIM/100MEDIA/YDXJnnnn.*`) backed by the media directory: list, cd, delete,
//!   media info, thumbnails, downloads with resume and MD5, uploads;
//! * the Yi's output styles (spaced RTOS replies, compact Linux ones).
//!
//! Decisions where the reference leaves a choice are fields of [`EmulatorConfig`].
//!
//! Layout: this module holds the public API, the shared state and the accept loops; `session` runs one
//! command connection, `transfer` the data port, `files` maps the card, `settings` holds the settings.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use camctl_ambarella::emulator::{Emulator, EmulatorConfig};
//! let config = EmulatorConfig { media_dir: "/tmp/card".into(), ..EmulatorConfig::default() };
//! let emulator = Emulator::bind("127.0.0.1:0".parse().unwrap(), config).await?;
//! println!("listening {}", emulator.url());
//! emulator.serve().await
//! # }
//! ```

mod files;
mod session;
mod settings;
mod transfer;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};

use camctl_core::rtsp::{LiveSource, RtspConfig, RtspServer};
use settings::Settings;

/// What the emulated camera looks like and how it settles the reference's open questions.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Directory served as the SD card root (`/tmp/fuse_d`); `DCIM/100MEDIA` is created, and filled with
    /// sample photos and a video when the directory is missing or empty.
    pub media_dir: PathBuf,
    /// Data port; 0 picks a free port at bind time.
    pub data_port: u16,
    /// RTSP port of the live view (554 like the camera); 0 picks a free port at bind time.
    pub rtsp_port: u16,
    /// H.264 Annex-B clip looped as the live view (its size is the preview size).
    pub preview_clip: &'static [u8],
    /// Write every message compactly instead of the Yi's mix of spaced and compact styles (§1.3).
    pub compact_json: bool,
    /// How long the holder has to answer the session query (reference: 800 ms).
    pub holder_timeout: Duration,
    /// End the session when its command connection closes without 258. The reference does not say (§9);
    /// keeping it would make every new client wait for the holder timeout, so this defaults to `true`.
    pub end_session_on_disconnect: bool,
    /// Answer a wrong token with `msg_id: 0` (luckylz's Yi observation) instead of the request's id (SDK).
    pub invalid_token_msg_id_zero: bool,
    /// `rval` for a set that does not change the value: 0 (default), -14 (YICHAN) or -21 (AMBARPC).
    pub unchanged_rval: i64,
    /// `rval` for an unknown msg_id (AMBARPC: -23 "invalid msg_id").
    pub unknown_msg_rval: i64,
    /// Push file data on the data port before the 1285 reply (real cameras sometimes do; clients must
    /// cope).
    pub data_before_reply: bool,
    /// Largest command accepted (the reference drops longer ones without a reply: 1024 bytes).
    pub max_command: usize,
    /// `serial_number` setting.
    pub serial: String,
    /// `sw_version` setting.
    pub sw_version: String,
    /// `hw_version` setting.
    pub hw_version: String,
    /// `model` of msg 11.
    pub model: String,
    /// Battery level reported by msg 13.
    pub battery: u8,
    /// Running on USB power: msg 13 answers `type: "adapter"` instead of `"battery"` (§3.1, seed 002),
    /// still with the level in `param` (the reference shows no other shape).
    pub usb_power: bool,
    /// Card size reported by msg 5.
    pub card_bytes: u64,
    /// Longest video a recording produces (the MP4 is written when recording stops).
    pub max_recording: Duration,
    /// H.264 Annex-B clip looped into recordings.
    pub clip: &'static [u8],
    /// Largest single upload (PUT_FILE) accepted, in bytes; larger ones answer "no more space". Uploads
    /// are also refused when the media folder's filesystem has less room than they need.
    pub max_upload: u64,
    /// Connections served at once, command and data ports together; extras are closed on accept.
    pub max_connections: usize,
    /// A command connection is closed after this long without a request (zero = never).
    pub idle_timeout: Duration,
}

/// Default [`EmulatorConfig::max_upload`]: 4 GiB.
pub const DEFAULT_MAX_UPLOAD: u64 = 4 << 30;

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            media_dir: PathBuf::from("."),
            data_port: crate::DEFAULT_DATA_PORT,
            rtsp_port: camctl_core::rtsp::DEFAULT_RTSP_PORT,
            preview_clip: camctl_core::video::SAMPLE_480P,
            compact_json: false,
            holder_timeout: Duration::from_millis(800),
            end_session_on_disconnect: true,
            invalid_token_msg_id_zero: false,
            unchanged_rval: 0,
            unknown_msg_rval: crate::wire::rval::OPERATION_UNSUPPORTED,
            data_before_reply: false,
            max_command: 1024,
            serial: "Z23L534S5413894".into(),
            sw_version: "YDXJv22L_1.2.13_build-20150906142851_b1049_i841_s1120".into(),
            hw_version: "YDXJ_v23L".into(),
            model: "YDXJ01".into(),
            battery: 86,
            usb_power: false,
            card_bytes: 32 << 30,
            max_recording: Duration::from_secs(600),
            clip: camctl_core::video::SAMPLE_360P,
            max_upload: DEFAULT_MAX_UPLOAD,
            max_connections: camctl_core::serve::DEFAULT_MAX_CONNECTIONS,
            idle_timeout: camctl_core::serve::DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// A running Ambarella camera emulator.
pub struct Emulator {
    listener: TcpListener,
    data_listener: TcpListener,
    rtsp: RtspServer,
    shared: Arc<Shared>,
}

/// Frames of live view kept per viewer before a slow one drops some (2 s at 15 fps).
const PREVIEW_QUEUE_FRAMES: usize = 30;

impl Emulator {
    /// Binds the command port at `listen`, the data port and the RTSP port (`config.data_port` and
    /// `config.rtsp_port` on the same IP, 0 = free), prepares the media directory.
    pub async fn bind(listen: SocketAddr, config: EmulatorConfig) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(listen).await?;
        let data_listener = TcpListener::bind(SocketAddr::new(listen.ip(), config.data_port)).await?;
        let live =
            LiveSource::from_clip(config.preview_clip, camctl_core::video::SAMPLE_FPS, PREVIEW_QUEUE_FRAMES)?;
        let rtsp_config = RtspConfig {
            max_connections: config.max_connections,
            idle_timeout: config.idle_timeout,
            ..RtspConfig::default()
        };
        let rtsp =
            RtspServer::bind(SocketAddr::new(listen.ip(), config.rtsp_port), live.clone(), rtsp_config)
                .await?;
        let root = config.media_dir.clone();
        let clip = config.clip;
        tokio::task::spawn_blocking(move || files::prepare(&root, clip))
            .await
            .map_err(std::io::Error::other)??;
        let next_number = files::next_number(&config.media_dir);
        let settings = Settings::new(&config.serial, &config.sw_version, &config.hw_version);
        let shared = Arc::new(Shared {
            config,
            live,
            rtsp_port: rtsp.local_addr().port(),
            next_conn: AtomicU64::new(1),
            data_ready: Notify::new(),
            state: Mutex::new(State {
                settings,
                next_token: 1,
                session: None,
                stopped: false,
                conns: HashMap::new(),
                holder_query: None,
                recording: None,
                continuous: None,
                next_number,
                transfer: None,
                data_slot: None,
                md5_cache: HashMap::new(),
                photo_seed: 0,
            }),
        });
        Ok(Emulator { listener, data_listener, rtsp, shared })
    }

    /// The command port's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The data port's address.
    pub fn data_addr(&self) -> SocketAddr {
        self.data_listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The camera's own shutter button, usable while the emulator serves.
    pub fn shutter(&self) -> ShutterButton {
        ShutterButton { shared: self.shared.clone() }
    }

    /// The RTSP port's address.
    pub fn rtsp_addr(&self) -> SocketAddr {
        self.rtsp.local_addr()
    }

    /// The live view's source: [`LiveSource::is_on`] tells whether the preview is on.
    pub fn live(&self) -> LiveSource {
        self.shared.live.clone()
    }

    /// `yi://HOST:PORT?data_port=N&rtsp_port=M`, directly usable by [`crate::YiCamera::connect`].
    pub fn url(&self) -> String {
        format!(
            "yi://{}?data_port={}&rtsp_port={}",
            self.local_addr(),
            self.data_addr().port(),
            self.rtsp_addr().port()
        )
    }

    /// Serves both ports until the task is dropped/aborted (which also ends every connection). One bad
    /// peer never ends it.
    pub async fn serve(self) -> std::io::Result<()> {
        self.serve_until(std::future::pending()).await
    }

    /// Serves until `shutdown` resolves, then stops accepting and closes every connection. At most
    /// [`EmulatorConfig::max_connections`] command and RTSP connections are served at once (extras are closed
    /// on accept); only the newest data connection is kept, so they cannot pile up.
    pub async fn serve_until(self, shutdown: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
        tracing::info!(url = %self.url(), "Ambarella emulator serving");
        let command = camctl_core::serve::handler({
            let shared = Arc::clone(&self.shared);
            move |stream, peer| session::run(Arc::clone(&shared), stream, peer)
        });
        let data = camctl_core::serve::handler({
            let shared = Arc::clone(&self.shared);
            move |stream: TcpStream, peer| {
                tracing::debug!(%peer, "data connection");
                let _ = stream.set_nodelay(true);
                // The newest data connection is the one the next transfer uses.
                shared.lock().data_slot = Some(stream);
                shared.data_ready.notify_waiters();
                std::future::ready(())
            }
        });
        // Clients speak first on the command port; on the data port they only listen.
        use camctl_core::serve::Admission;
        let listeners = vec![
            (&self.listener, command, Admission::AfterFirstBytes),
            (&self.data_listener, data, Admission::Immediate),
            self.rtsp.listener_and_handler(),
        ];
        camctl_core::serve::serve_tcp(listeners, self.shared.config.max_connections, shutdown).await;
        Ok(())
    }
}

/// The write side of a command connection, shared with tasks that send it notifications.
pub(crate) type Writer = Arc<tokio::sync::Mutex<OwnedWriteHalf>>;

/// State shared by every connection.
pub(crate) struct Shared {
    config: EmulatorConfig,
    /// The live view, on while the viewfinder is.
    live: LiveSource,
    /// Where the live view is served (named in the 257 reply).
    rtsp_port: u16,
    next_conn: AtomicU64,
    /// Signalled when a data connection arrives.
    data_ready: Notify,
    state: Mutex<State>,
}

impl Shared {
    /// Locks the state; never held across an await or file I/O. A poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}

/// The camera's own shutter button, usable while the emulator serves.
#[derive(Clone)]
pub struct ShutterButton {
    shared: Arc<Shared>,
}

impl ShutterButton {
    /// Takes a photo as the body does: written to the card and announced to the session's client
    /// (`start_photo_capture`, `precise_capture_data_ready`, `photo_taken`). Returns its camera path.
    pub async fn press(&self) -> std::io::Result<String> {
        session::body_shot(&self.shared).await
    }
}

/// The active session.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Session {
    token: i64,
    conn: u64,
}

/// A transfer on the data port.
pub(crate) struct Transfer {
    task: tokio::task::JoinHandle<()>,
    /// Bytes moved so far.
    progress: Arc<AtomicU64>,
    /// Set just before the completion notification goes out: a client that asks for the next file
    /// as soon as it reads it must not find the camera busy with this one.
    done: Arc<std::sync::atomic::AtomicBool>,
}

/// Everything mutable, behind one lock.
pub(crate) struct State {
    settings: Settings,
    next_token: i64,
    session: Option<Session>,
    /// 258 received: everything but 257 gets -14.
    stopped: bool,
    conns: HashMap<u64, Writer>,
    /// Pending 1793: the holder's connection and where its answer goes.
    holder_query: Option<(u64, oneshot::Sender<i64>)>,
    recording: Option<Instant>,
    /// Photo timelapse running ("precise quality cont."): last file.
    continuous: Option<String>,
    next_number: u32,
    transfer: Option<Transfer>,
    data_slot: Option<TcpStream>,
    /// MD5 of whole files by path, valid while the file's identity and change time match (see
    /// [`files::Stamp`]).
    md5_cache: HashMap<PathBuf, (files::Stamp, String)>,
    photo_seed: u64,
}

impl State {
    /// Stops the running transfer, if any (its data connection is closed).
    fn cancel_transfer(&mut self) -> Option<Transfer> {
        let t = self.transfer.take()?;
        t.task.abort();
        Some(t)
    }

    fn token_ok(&self, token: i64) -> bool {
        self.session.is_some_and(|s| s.token == token)
    }

    fn issue_token(&mut self, conn: u64) -> i64 {
        let token = self.next_token;
        // Counter wraps back to 1; 0 means "no session".
        self.next_token = if self.next_token >= i64::from(i32::MAX) { 1 } else { self.next_token + 1 };
        self.session = Some(Session { token, conn });
        self.stopped = false;
        token
    }
}
