//! PTP/IP camera emulator: serves the files of a directory as a camera's memory card, takes (synthetic)
//! pictures, and keeps a small set of standard device properties, following the 15 rules of the
//! reference (`protocols/ptpip.md` §0.1) so that gphoto2 and other initiators accept it.
//!
//! Layout: this module holds the public API, the shared state and the accept loop that classifies each
//! socket by its first packet; `session` runs one command connection (data phases included), `ops`
//! executes operations, `events` runs event connections, `store` maps the media directory to objects,
//! `props` holds the device properties, `eos` the Canon EOS personality ([`Personality::CanonEos`]:
//! its properties, GetEvent queues and vendor operations; see its own list of choices) and `nikon` the
//! Nikon one ([`Personality::Nikon`]: its property table, GetEvent 0x90C7 queues, SDRAM capture, live
//! view and Wi-Fi profiles; see its own list of choices).
//!
//! Choices where the reference leaves room:
//! - Device events (ObjectAdded/CaptureComplete of a capture, DevicePropChanged) go to every bound
//!   event connection, so a second initiator watching events sees captures made by another.
//! - GetObjectHandles/GetNumObjects filter by exact format when the format parameter is non-zero.
//! - GetObject/GetPartialObject on a folder answer InvalidObjectHandle; DeleteObject on a non-empty
//!   folder answers ObjectWriteProtected and deletes nothing; DeleteObject(0xFFFFFFFF) deletes every
//!   file (folders stay).
//! - Unknown packet types on the command connection are logged and skipped; undecodable, absurdly
//!   large or truncated packets close that connection only.
//! - Cancel is honoured during a data-out phase (TransactionCancelled), not during data-in; outside a
//!   data phase it gets a Cmd_Response (the seed: "gets 0x7 ack back") with TransactionCancelled and
//!   the cancelled transaction id (the seed gives no code).
//! - With `allowed_guids`, an Init_Command_Request from any other GUID gets Init_Fail 1 (rejected
//!   initiator) and the connection is closed, as by a camera paired with other computers only.
//! - OpenSession rescans the media directory, so files added or removed behind the emulator's back show
//!   up; known files keep their handles.
//! - GetObject/GetPartialObject read the file when asked: a file replaced behind the emulator's back
//!   (same name, any size) is served with its current bytes; nothing caches file contents.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use camctl_ptpip::emulator::{Emulator, EmulatorConfig};
//! let config = EmulatorConfig { media_dir: "/tmp/card".into(), ..EmulatorConfig::default() };
//! let emulator = Emulator::bind("127.0.0.1:0".parse().unwrap(), config).await?;
//! println!("listening {}", emulator.url());
//! emulator.serve().await
//! # }
//! ```

mod eos;
mod events;
mod nikon;
mod ops;
mod props;
mod session;
mod store;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::wire::codes::ev;
use crate::wire::{CodeAndParams, HEADER_LEN, Header, Packet, Params};

use props::PropTable;
use store::ObjectStore;

/// How the emulator sends data-in phases (responder → initiator), rule 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataInMode {
    /// `Start_Data` then one `End_Data` carrying all the data (what every initiator accepts).
    #[default]
    SingleEnd,
    /// `Data` packets of `size` bytes, then an `End_Data` with the last chunk (Canon-like; opt-in).
    Chunked {
        /// Payload bytes per packet (clamped to at least 1).
        size: usize,
    },
}

/// Which camera family the emulator impersonates: its DeviceInfo and vendor operations. Every
/// personality serves the same media through the standard object operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Personality {
    /// The generic ISO 15740 camera (standard properties, InitiateCapture, PTP/IP events).
    #[default]
    Generic,
    /// A Canon EOS body (`ptpip-vendors.md` §2): VendorExtensionID 0x0B, GetEvent 0x9116 polling,
    /// SetDevicePropValueEx 0x9110, RemoteReleaseOn/Off capture, GetViewFinderData live view.
    CanonEos,
    /// A Nikon body (`ptpip-vendors.md` §3): VendorExtensionID 0x0A, GetVendorPropCodes 0x90CA,
    /// GetEvent 0x90C7 polling, DeviceReady, InitiateCaptureRecInMedia 0x9207 to the card or SDRAM,
    /// StartLiveView/GetLiveViewImg, Wi-Fi profiles 0x9006-0x9009.
    Nikon,
}

pub use nikon::PROFILE_SLOTS as NIKON_PROFILE_SLOTS;

/// What the emulated camera looks like.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Camera family impersonated (see [`EmulatorConfig::for_personality`] for matching identity strings).
    pub personality: Personality,
    /// Directory served as the memory card; created and filled with sample pictures if missing or empty.
    pub media_dir: PathBuf,
    /// DeviceInfo.Manufacturer.
    pub manufacturer: String,
    /// DeviceInfo.Model.
    pub model: String,
    /// Name in Init_Command_Ack; cut to 19 UTF-16 units to keep the Ack short (rule 3).
    pub friendly_name: String,
    /// DeviceInfo.SerialNumber (also seeds the responder GUID).
    pub serial: String,
    /// Data-in packet layout.
    pub data_in: DataInMode,
    /// Behave like clone firmware that ignores GetPartialObject's offset and length and sends the whole
    /// object from byte 0 (for testing how initiators resume against it).
    pub ignore_partial_offset: bool,
    /// Sockets served at once (command and event connections together); extras are closed on accept.
    pub max_connections: usize,
    /// A command connection past Init_Command_Ack is closed after this long without a packet (zero =
    /// never), unless it has an open session with a bound event connection (an initiator waiting for
    /// events sends nothing for long stretches).
    pub idle_timeout: Duration,
    /// Behave like a body whose "transfer" setting is off (Nikon Z bodies until the user allows it):
    /// listing and reading objects (SDRAM captures included) answer AccessDenied; taking pictures,
    /// properties and live view still work.
    pub deny_transfer: bool,
    /// Nikon: bytes of header before the JPEG in GetLiveViewImg replies (the sources say 128, 384 or
    /// 64 by model and nothing for Z bodies; default 384, digiCamControl's); capped at 1 MiB.
    pub nikon_live_view_header: usize,
    /// Nikon: Wi-Fi profile slots kept, ids 1 to N (real bodies' number is unknown; default
    /// [`NIKON_PROFILE_SLOTS`]).
    pub nikon_profile_slots: u8,
    /// Initiator GUIDs this camera is paired with; others get Init_Fail 1 (rejected initiator) on the
    /// command connection, as a camera that accepts only computers it knows. Empty: everyone.
    pub allowed_guids: Vec<[u8; 16]>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            personality: Personality::Generic,
            media_dir: PathBuf::from("."),
            manufacturer: "camctl".into(),
            model: "camctl PTP/IP emulator".into(),
            friendly_name: "camctl-emu".into(),
            serial: "0001".into(),
            data_in: DataInMode::SingleEnd,
            ignore_partial_offset: false,
            max_connections: camctl_core::serve::DEFAULT_MAX_CONNECTIONS,
            idle_timeout: camctl_core::serve::DEFAULT_IDLE_TIMEOUT,
            deny_transfer: false,
            nikon_live_view_header: crate::wire::nikon::LiveViewHeaderLen::DEFAULT_BYTES,
            nikon_profile_slots: NIKON_PROFILE_SLOTS,
            allowed_guids: Vec::new(),
        }
    }
}

impl EmulatorConfig {
    /// The default configuration with `personality` and its identity strings (a Canon EOS body is
    /// "Canon Inc." / "Canon EOS 5D Mark III", a Nikon one "Nikon Corporation" / "D750": neutral model
    /// names that trigger none of gphoto2's per-model paths such as the EOS M or Nikon 1 ones).
    pub fn for_personality(personality: Personality) -> EmulatorConfig {
        let base = EmulatorConfig { personality, ..EmulatorConfig::default() };
        match personality {
            Personality::Generic => base,
            Personality::CanonEos => EmulatorConfig {
                manufacturer: eos::MANUFACTURER.into(),
                model: eos::MODEL.into(),
                friendly_name: "EOS5DM3".into(),
                ..base
            },
            Personality::Nikon => EmulatorConfig {
                manufacturer: nikon::MANUFACTURER.into(),
                model: nikon::MODEL.into(),
                friendly_name: "D750".into(),
                ..base
            },
        }
    }
}

/// Deadline for the first packet of a new socket.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest first packet accepted (an Init_Command_Request with a long name is a few hundred bytes).
const MAX_HANDSHAKE_PACKET: usize = 4096;

/// Longest friendly name in the Ack, in UTF-16 units (rule 3: Ack <= 72 bytes).
const MAX_ACK_NAME_UNITS: usize = 19;

/// Events queued per event connection before new ones are dropped (rule 14).
const EVENT_QUEUE: usize = 64;

/// A running PTP/IP camera emulator.
pub struct Emulator {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Emulator {
    /// Binds the listener (one port for both connections, rule 1), scans/creates the media.
    pub async fn bind(listen: SocketAddr, config: EmulatorConfig) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(listen).await?;
        let root = config.media_dir.clone();
        let entries = tokio::task::spawn_blocking(move || {
            store::prepare_media(&root)?;
            store::scan(&root)
        })
        .await
        .map_err(std::io::Error::other)??;
        let mut store = ObjectStore::new(config.media_dir.clone());
        store.merge(entries);
        tracing::info!(
            dir = %config.media_dir.display(),
            objects = store.list(0, 0).map(|l| l.len()).unwrap_or(0),
            "PTP/IP emulator media ready"
        );
        let serial = config.serial.clone();
        let nikon = nikon::NikonState::new(config.nikon_profile_slots);
        let props = match config.personality {
            Personality::Nikon => nikon::props(),
            _ => PropTable::new(),
        };
        let shared = Arc::new(Shared {
            guid: guid_for(&config),
            ack_name: short_name(&config.friendly_name),
            config,
            next_conn: AtomicU32::new(1),
            captures: AtomicU64::new(0),
            frames: AtomicU64::new(0),
            capture_lock: tokio::sync::Mutex::new(()),
            state: Mutex::new(State {
                store,
                props,
                eos: eos::EosProps::new(&serial),
                nikon,
                conns: HashMap::new(),
            }),
        });
        Ok(Emulator { listener, shared })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The camera's own shutter button, usable while the emulator serves.
    pub fn shutter(&self) -> ShutterButton {
        ShutterButton { shared: self.shared.clone() }
    }

    /// `ptpip://127.0.0.1:PORT` (IPv6 addresses in brackets).
    pub fn url(&self) -> String {
        format!("ptpip://{}", self.local_addr())
    }

    /// Serves until the task is dropped/aborted (which also ends every connection it accepted). Never
    /// returns `Err` for one bad peer.
    pub async fn serve(self) -> std::io::Result<()> {
        self.serve_until(std::future::pending()).await
    }

    /// Serves until `shutdown` resolves, then stops accepting and closes every connection. At most
    /// [`EmulatorConfig::max_connections`] sockets are served at once; extras are closed on accept.
    pub async fn serve_until(self, shutdown: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
        tracing::info!(url = %self.url(), "PTP/IP emulator serving");
        let shared = self.shared.clone();
        let handler =
            camctl_core::serve::handler(move |stream, peer| handle_socket(shared.clone(), stream, peer));
        let max = self.shared.config.max_connections;
        // Initiators speak first on both PTP/IP connections (Init_Command and Init_Event requests).
        let admission = camctl_core::serve::Admission::AfterFirstBytes;
        camctl_core::serve::serve_tcp(vec![(&self.listener, handler, admission)], max, shutdown).await;
        Ok(())
    }
}

/// The body's shutter button: a picture taken on the camera while an initiator holds the session.
#[derive(Clone)]
pub struct ShutterButton {
    shared: Arc<Shared>,
}

impl ShutterButton {
    /// Takes a picture on the card and reports it as the body does for a shot of its own: ObjectAdded
    /// (new folders first) on the event connection, no CaptureComplete (no transaction asked for
    /// it); EOS: CameraStatusChanged busy, ObjectAddedEx (RequestObjectTransfer when the capture
    /// destination is the PC), idle; Nikon: ObjectAdded through GetEvent. Returns the new handle.
    pub async fn press(&self) -> std::io::Result<u32> {
        let shared = &self.shared;
        let _one = shared.capture_lock.lock().await;
        match shared.config.personality {
            Personality::CanonEos => Ok(eos::body_shot(shared).await?.file),
            Personality::Nikon => {
                let shot = ops::take_picture(shared).await?;
                shared.lock().nikon_broadcast(&nikon::body_shot_events(&shot));
                Ok(shot.file)
            }
            Personality::Generic => {
                let shot = ops::take_picture(shared).await?;
                let new_folders = shot.folders.iter().filter(|(_, new)| *new).map(|(h, _)| *h);
                for handle in new_folders.chain(std::iter::once(shot.file)) {
                    shared.broadcast(ev::OBJECT_ADDED, NO_TRANSACTION, &[handle]);
                }
                Ok(shot.file)
            }
        }
    }
}

/// The TransactionID of an event no transaction caused (PTP 1.1 §10.1).
const NO_TRANSACTION: u32 = 0xFFFF_FFFF;

/// State shared by every connection of one emulator.
pub(crate) struct Shared {
    config: EmulatorConfig,
    guid: [u8; 16],
    ack_name: String,
    next_conn: AtomicU32,
    /// Captures taken so far (mixed into the picture seed).
    captures: AtomicU64,
    /// Live-view frames served so far (seeds the next frame, so frames differ).
    frames: AtomicU64,
    /// Serializes captures so picture numbers are allocated one at a time.
    capture_lock: tokio::sync::Mutex<()>,
    state: Mutex<State>,
}

/// The mutable part, behind one lock that is never held across an await or file I/O.
pub(crate) struct State {
    store: ObjectStore,
    props: PropTable,
    /// Canon EOS properties (used by the `CanonEos` personality only).
    eos: eos::EosProps,
    /// Nikon SDRAM picture and Wi-Fi profiles (used by the `Nikon` personality only).
    nikon: nikon::NikonState,
    /// Open command connections by connection number.
    conns: HashMap<u32, ConnSlot>,
}

/// What other connections need to know about a command connection.
#[derive(Default)]
pub(crate) struct ConnSlot {
    /// Queue of the bound event connection, if any.
    events: Option<mpsc::Sender<CodeAndParams>>,
    /// Canon EOS GetEvent records waiting for this connection's next GetEvent; `Some` once
    /// SetEventMode enabled them in the open session.
    eos_queue: Option<eos::EventQueue>,
    /// Nikon GetEvent 0x90C7 events waiting for this connection's next GetEvent; `Some` while a
    /// session is open.
    nikon_queue: Option<nikon::EventQueue>,
}

impl Shared {
    /// The next live-view picture (both vendor personalities): a new 320x240 sample JPEG per frame,
    /// rendered on the blocking pool; `None` if rendering could not run.
    async fn next_live_view_jpeg(&self) -> Option<Vec<u8>> {
        let frame = self.frames.fetch_add(1, Ordering::Relaxed);
        // A different seed per frame; seed 0 is avoided (it equals a sample file).
        let seed = frame.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        tokio::task::spawn_blocking(move || camctl_core::media::sample_jpeg(320, 240, seed)).await.ok()
    }

    /// Locks the state; a poisoned lock is still usable (no invariant spans a panic point).
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh connection number (>= 1) with its slot registered.
    fn register_connection(&self) -> u32 {
        let mut state = self.lock();
        loop {
            let n = self.next_conn.fetch_add(1, Ordering::Relaxed);
            if n != 0 && !state.conns.contains_key(&n) {
                state.conns.insert(n, ConnSlot::default());
                return n;
            }
        }
    }

    /// Queues an event on every bound event connection; drops it where the queue is full (rule 14).
    /// A Nikon body reports them through GetEvent 0x90C7 instead (see `nikon`).
    fn broadcast(&self, code: u16, tid: u32, params: &[u32]) {
        if self.config.personality == Personality::Nikon {
            let event =
                crate::wire::nikon::NikonEvent::from_record(code, params.first().copied().unwrap_or(0));
            self.lock().nikon_broadcast(&[event]);
            return;
        }
        let event = CodeAndParams { code, tid, params: Params::new(params) };
        let state = self.lock();
        for (conn, slot) in &state.conns {
            if let Some(tx) = &slot.events
                && let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(event)
            {
                tracing::debug!(conn, code = format_args!("{code:#06x}"), "event queue full, event dropped");
            }
        }
    }
}

/// Stable responder GUID derived from the identity strings (FNV-1a), so pairing survives restarts.
fn guid_for(config: &EmulatorConfig) -> [u8; 16] {
    let mut guid = [0u8; 16];
    for (i, half) in guid.chunks_exact_mut(8).enumerate() {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ i as u64;
        for b in [&config.manufacturer, &config.model, &config.serial].iter().flat_map(|s| s.bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
        }
        half.copy_from_slice(&h.to_le_bytes());
    }
    guid
}

/// The friendly name cut to [`MAX_ACK_NAME_UNITS`] UTF-16 units (never splitting a character).
fn short_name(name: &str) -> String {
    let mut units = 0;
    name.chars()
        .take_while(|c| {
            units += c.len_utf16();
            units <= MAX_ACK_NAME_UNITS
        })
        .collect()
}

/// Failed handshakes are a peer's doing: a few warnings a minute, with a count, whatever it floods.
static HANDSHAKE_WARNINGS: std::sync::LazyLock<std::sync::Mutex<camctl_core::log::Throttle>> =
    std::sync::LazyLock::new(Default::default);

/// Classifies a new socket by its first packet (rule 1) and runs it.
async fn handle_socket(shared: Arc<Shared>, mut stream: TcpStream, peer: SocketAddr) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "TCP_NODELAY failed");
    }
    let first = match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_first_packet(&mut stream)).await {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            let mut throttle = HANDSHAKE_WARNINGS.lock().unwrap_or_else(|e| e.into_inner());
            camctl_core::warn_throttled!(throttle, "bad handshake from {peer}, closing: {e}");
            return;
        }
        Err(_) => {
            let mut throttle = HANDSHAKE_WARNINGS.lock().unwrap_or_else(|e| e.into_inner());
            camctl_core::warn_throttled!(throttle, "no handshake in time from {peer}, closing");
            return;
        }
    };
    match first {
        Packet::InitCommandRequest { guid, .. }
            if !shared.config.allowed_guids.is_empty() && !shared.config.allowed_guids.contains(&guid) =>
        {
            tracing::info!(%peer, "initiator not paired with this camera: Init_Fail");
            let fail = Packet::InitFail { reason: crate::wire::fail_reason::REJECTED_INITIATOR };
            if let Ok(bytes) = fail.to_bytes() {
                let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, &bytes).await;
            }
        }
        Packet::InitCommandRequest { name, version, .. } => {
            session::run(shared, stream, peer, name, version).await;
        }
        Packet::InitEventRequest { connection } => events::run(shared, stream, peer, connection).await,
        other => tracing::warn!(%peer, kind = other.kind(), "unexpected first packet, closing"),
    }
}

/// Reads one small packet straight from the socket (no read-ahead, so nothing after it is lost when the
/// socket is handed to its connection type).
async fn read_first_packet(stream: &mut TcpStream) -> Result<Packet, String> {
    let mut head = [0u8; HEADER_LEN];
    stream.read_exact(&mut head).await.map_err(|e| e.to_string())?;
    let header = Header::decode(&head).map_err(|e| e.to_string())?;
    if header.payload_len() > MAX_HANDSHAKE_PACKET {
        return Err(format!("first packet of {} bytes is too large", header.length));
    }
    let mut payload = vec![0u8; header.payload_len()];
    stream.read_exact(&mut payload).await.map_err(|e| e.to_string())?;
    Packet::decode(header.kind, &payload).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_name_is_short() {
        assert_eq!(short_name("camctl-emu"), "camctl-emu");
        assert_eq!(short_name("camctl PTP/IP emulator").encode_utf16().count(), 19);
        assert_eq!(short_name("😀😀😀😀😀😀😀😀😀😀").encode_utf16().count(), 18);
        let a = guid_for(&EmulatorConfig::default());
        assert_eq!(a, guid_for(&EmulatorConfig::default()));
        assert_ne!(a, guid_for(&EmulatorConfig { serial: "2".into(), ..EmulatorConfig::default() }));
    }
}
