//! Lytro camera emulator: serves a media directory as the camera's pictures over the command ports
//! (5678 and 5679 equivalents, identical behaviour), sends callbacks (5677 equivalent), takes synthetic
//! pictures, powers its Wi-Fi off when idle, and announces itself over mDNS on real addresses.
//!
//! See [`store`](self) docs on [`EmulatorConfig::media_dir`] for how files map to pictures.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use camctl_lytro::emulator::{Emulator, EmulatorConfig};
//! let config = EmulatorConfig { media_dir: "/tmp/lytro".into(), ..EmulatorConfig::default() };
//! let emulator = Emulator::bind("127.0.0.1:0".parse().unwrap(), config).await?;
//! println!("listening {}", emulator.url()); // lytro://127.0.0.1:PORT?callback_port=N&download_port=M
//! emulator.serve().await
//! # }
//! ```

mod session;
mod store;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use camctl_core::discovery::{self, Announcement, ServiceRecords};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

use crate::wire::{CameraTime, encode_callback};
use crate::{DEFAULT_CALLBACK_PORT, DEFAULT_DOWNLOAD_PORT, mdns};

/// What the emulated camera looks like and how it behaves.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Directory of the pictures; created, and filled with three sample JPEGs, when it holds none.
    ///
    /// Every `.jpg`/`.jpeg`, `.raw`, `.txt`, `.128`, `.stk` file (any case, subfolders included,
    /// hidden files skipped) belongs to the picture named by its path without extension:
    /// `IMG_0001.JPG` and `IMG_0001.RAW` form one picture. A file named `IMG_NNNN.*` keeps number NNNN;
    /// others get the lowest free numbers in path order. On the camera every picture is
    /// `I:\DCIM\100PHOTO\IMG_NNNN.{JPG,RAW,TXT,128,STK}`. Formats without a file are generated
    /// deterministically (1080x1080 JPEG, 16,137,600-byte 12-bit RAW, JSON metadata, 128x128 YUY2
    /// thumbnail, stack of four 320x1280 JPEGs). Captures are written as `IMG_NNNN.JPG` into this
    /// directory; deletions only hide pictures for the emulator's lifetime (files are never removed).
    pub media_dir: PathBuf,
    /// Serial number: `A` + 9 digits.
    pub serial: String,
    /// Hardware info: manufacturer.
    pub manufacturer: String,
    /// Hardware info: build id.
    pub build_id: String,
    /// Hardware info: software version.
    pub firmware: String,
    /// Battery level reported, percent.
    pub battery: f32,
    /// Wi-Fi switches off after this long without a command on a command port (§8): every connection
    /// is dropped and [`Emulator::serve`] returns. [`Duration::ZERO`] = never.
    pub idle_power_off: Duration,
    /// Port of the second command port (camera: 5679); 0 = a free port.
    pub download_port: u16,
    /// Port of the callback stream (camera: 5677); 0 = a free port.
    pub callback_port: u16,
    /// Heartbeat interval on the callback stream when nothing else is sent.
    pub heartbeat: Duration,
    /// Time between `ShutterPressed` and `NewPictureAvailable` (rendering).
    pub render_delay: Duration,
    /// Announce `_lytro._tcp` over mDNS. Never on loopback addresses; on an unspecified address only
    /// with [`EmulatorConfig::mdns_all_interfaces`]; otherwise only on the interface owning the
    /// listen address.
    pub mdns: bool,
    /// Allow announcing on every interface when listening on `0.0.0.0` / `::`.
    pub mdns_all_interfaces: bool,
    /// Connections served at once (command, download and callback ports together); extras are closed
    /// on accept.
    pub max_connections: usize,
    /// A command connection is closed after this long without a request (zero = never).
    pub idle_timeout: Duration,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            media_dir: PathBuf::from("."),
            serial: "A123456789".into(),
            // No real hardware-info strings are known (§5.1): plausible values, labelled as emulated.
            manufacturer: "Lytro, Inc.".into(),
            build_id: "camctl-emulator".into(),
            firmware: "v1.2.2".into(),
            battery: 87.0,
            idle_power_off: Duration::from_secs(300),
            download_port: 0,
            callback_port: 0,
            heartbeat: Duration::from_millis(100),
            render_delay: Duration::from_millis(300),
            mdns: true,
            mdns_all_interfaces: false,
            max_connections: camctl_core::serve::DEFAULT_MAX_CONNECTIONS,
            idle_timeout: camctl_core::serve::DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Whether `serial` is `A` followed by 9 digits.
pub fn is_valid_serial(serial: &str) -> bool {
    serial.len() == 10 && serial.starts_with('A') && serial[1..].bytes().all(|b| b.is_ascii_digit())
}

/// Callback messages queued per callback connection before the slowest reader loses some.
const CALLBACK_BACKLOG: usize = 256;

/// A bound, not yet serving, Lytro camera emulator.
pub struct Emulator {
    command: TcpListener,
    download: TcpListener,
    callback: TcpListener,
    shared: Arc<Shared>,
}

/// The camera's own shutter button, usable while the emulator serves.
#[derive(Clone)]
pub struct ShutterButton {
    shared: Arc<Shared>,
}

impl ShutterButton {
    /// Takes a picture as the body does: `ShutterPressed`, then `NewPictureAvailable` once rendered,
    /// on every callback connection. Returns when the picture is announced.
    pub async fn press(&self) {
        session::capture(self.shared.clone()).await;
    }
}

/// State shared by every connection.
pub(crate) struct Shared {
    pub config: EmulatorConfig,
    pub state: Mutex<State>,
    /// Callback messages to every callback connection.
    pub callbacks: broadcast::Sender<Arc<[u8]>>,
    start: Instant,
    /// Milliseconds since `start` of the last command (active use).
    last_active: AtomicU64,
    /// Serializes captures so picture numbers are allocated one at a time.
    pub capture_lock: tokio::sync::Mutex<()>,
}

/// The mutable part, behind a lock never held across an await or file I/O.
pub(crate) struct State {
    pub store: store::Store,
    pub cache: store::Cache,
    /// The time set by `C0 00 04` and when it was set; unset clocks report 2010-01-01 unchanged.
    pub clock: Option<(CameraTime, Instant)>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn touch(&self) {
        self.last_active.store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        self.start.elapsed().saturating_sub(Duration::from_millis(self.last_active.load(Ordering::Relaxed)))
    }

    /// Sends a callback to every connected callback client (none connected: dropped, like the camera).
    pub(crate) fn callback(&self, name: &str, params: &[&str]) {
        let _ = self.callbacks.send(encode_callback(name, params).into());
    }
}

impl Emulator {
    /// Binds the command port at `listen` and the second command and callback ports on the same IP
    /// (configured ports, or free ones for 0), and prepares the media directory.
    ///
    /// Fails for a serial that is not `A` + 9 digits.
    pub async fn bind(listen: SocketAddr, config: EmulatorConfig) -> std::io::Result<Emulator> {
        if !is_valid_serial(&config.serial) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("Lytro serial must be A + 9 digits, got {:?}", config.serial),
            ));
        }
        let root = config.media_dir.clone();
        let store = tokio::task::spawn_blocking(move || store::load(&root))
            .await
            .map_err(std::io::Error::other)??;
        let command = TcpListener::bind(listen).await?;
        let download = TcpListener::bind(SocketAddr::new(listen.ip(), config.download_port)).await?;
        let callback = TcpListener::bind(SocketAddr::new(listen.ip(), config.callback_port)).await?;
        tracing::info!(dir = %config.media_dir.display(), pictures = store.pictures.len(), "Lytro emulator media ready");
        let shared = Arc::new(Shared {
            config,
            state: Mutex::new(State { store, cache: store::Cache::default(), clock: None }),
            callbacks: broadcast::channel(CALLBACK_BACKLOG).0,
            start: Instant::now(),
            last_active: AtomicU64::new(0),
            capture_lock: tokio::sync::Mutex::new(()),
        });
        Ok(Emulator { command, download, callback, shared })
    }

    /// The camera's own shutter button, usable while the emulator serves.
    pub fn shutter(&self) -> ShutterButton {
        ShutterButton { shared: self.shared.clone() }
    }

    /// The bound command-port address.
    pub fn local_addr(&self) -> SocketAddr {
        self.command.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The second command (download) port.
    pub fn download_port(&self) -> u16 {
        self.download.local_addr().map_or(0, |a| a.port())
    }

    /// The callback port.
    pub fn callback_port(&self) -> u16 {
        self.callback.local_addr().map_or(0, |a| a.port())
    }

    /// `lytro://HOST:PORT[?callback_port=N][&download_port=M]`: the ports are included when they are
    /// not the camera's (5677, 5679). IPv6 hosts are bracketed.
    pub fn url(&self) -> String {
        let addr = self.local_addr();
        let mut options = Vec::new();
        if self.callback_port() != DEFAULT_CALLBACK_PORT {
            options.push(format!("callback_port={}", self.callback_port()));
        }
        if self.download_port() != DEFAULT_DOWNLOAD_PORT {
            options.push(format!("download_port={}", self.download_port()));
        }
        let query = if options.is_empty() { String::new() } else { format!("?{}", options.join("&")) };
        format!("lytro://{addr}{query}")
    }

    /// The DNS-SD records this emulator announces (or would, on a real address).
    pub fn service_records(&self) -> ServiceRecords {
        let addr = self.local_addr();
        mdns::service_records(&self.shared.config.serial, addr.ip(), addr.port())
    }

    /// Serves until the idle power-off (returns `Ok`) or until the task is dropped/aborted (which also
    /// ends every connection). One bad peer only loses its own connection.
    pub async fn serve(self) -> std::io::Result<()> {
        self.serve_until(std::future::pending()).await
    }

    /// [`Emulator::serve`] that also stops when `shutdown` resolves: it stops accepting and closes
    /// every connection. At most [`EmulatorConfig::max_connections`] connections are served at once
    /// (all three ports together); extras are closed on accept.
    pub async fn serve_until(self, shutdown: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
        let listen_ip = self.local_addr().ip();
        let _announcement = self.announce(listen_ip);
        tracing::info!(url = %self.url(), "Lytro emulator serving");
        self.shared.touch();
        let idle_limit = self.shared.config.idle_power_off;
        let power_off = {
            let shared = self.shared.clone();
            async move {
                if idle_limit.is_zero() {
                    return std::future::pending().await;
                }
                loop {
                    let check_in = idle_limit.saturating_sub(shared.idle()).max(Duration::from_millis(5));
                    tokio::time::sleep(check_in).await;
                    if shared.idle() >= idle_limit {
                        tracing::info!(idle = ?idle_limit, "no active use: Wi-Fi off (idle power-off)");
                        return;
                    }
                }
            }
        };
        let command = || {
            let shared = self.shared.clone();
            camctl_core::serve::handler(move |stream, peer| session::run(shared.clone(), stream, peer))
        };
        let callbacks = {
            let shared = self.shared.clone();
            camctl_core::serve::handler(move |stream, peer| run_callbacks(shared.clone(), stream, peer))
        };
        // Clients speak first on the command ports; on the callback port they only listen.
        let after_first_bytes = camctl_core::serve::Admission::AfterFirstBytes;
        let listeners = vec![
            (&self.command, command(), after_first_bytes),
            (&self.download, command(), after_first_bytes),
            (&self.callback, callbacks, camctl_core::serve::Admission::Immediate),
        ];
        // Leaving (power-off) or aborting this future closes every connection.
        let stop = async {
            tokio::select! {
                () = power_off => {}
                () = shutdown => {}
            }
        };
        camctl_core::serve::serve_tcp(listeners, self.shared.config.max_connections, stop).await;
        Ok(())
    }

    /// Starts the mDNS announcement if the configuration and listen address allow it.
    fn announce(&self, ip: IpAddr) -> Option<Announcement> {
        let config = &self.shared.config;
        let scope = discovery::announce_scope(ip, config.mdns, config.mdns_all_interfaces)?;
        match discovery::announce(&self.service_records(), scope) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::warn!(error = %e, "mDNS announcement failed; serving without it");
                None
            }
        }
    }
}

/// One callback connection: queued callbacks as they come, a heartbeat when nothing else was sent.
async fn run_callbacks(shared: Arc<Shared>, mut stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let mut rx = shared.callbacks.subscribe();
    let heartbeat = encode_callback("HeartbeatTick", &["tick"]);
    let every = shared.config.heartbeat.max(Duration::from_millis(1));
    tracing::debug!(%peer, "callback client connected");
    loop {
        let msg: Arc<[u8]> = tokio::select! {
            m = rx.recv() => match m {
                Ok(m) => m,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(%peer, n, "slow callback client lost messages");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tokio::time::sleep(every) => heartbeat.as_slice().into(),
        };
        let write = stream.write_all(&msg);
        if let Err(e) = camctl_core::serve::timed_io(camctl_core::serve::DEFAULT_WRITE_TIMEOUT, write).await {
            tracing::debug!(%peer, error = %e, "callback client gone");
            return;
        }
    }
}
