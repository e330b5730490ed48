//! The `CanonEos` personality (`ptpip-vendors.md` §2, checklist §4.2): an EOS body as libgphoto2's
//! Canon EOS code drives it. The wire formats come from [`crate::wire::canon`]; this module holds the
//! body's properties, the per-connection GetEvent queues and the vendor operations.
//!
//! Choices where the reference leaves room:
//! - Properties are device-wide; every connection with events enabled (SetEventMode != 0) gets its own
//!   queue, and a change made through one connection is queued on all of them (as PTP/IP events are).
//! - SetEventMode(non-zero) (re)queues the full dump: every property's value, then every allowed list.
//!   GetEvent before SetEventMode answers the terminator alone.
//! - A capture (RemoteReleaseOn with the full press, or RemoteRelease) always writes the picture to the
//!   media folder, like the generic InitiateCapture; with CaptureDestination 4 (PC) it is reported with
//!   RequestObjectTransfer and stays on the card after TransferComplete (the emulator keeps what it shot).
//! - The capture is rendered before RemoteReleaseOn answers (a few ms), so its records are queued by
//!   the time the initiator polls; CameraStatusChanged 1 precedes them and 0 follows them.
//! - ImageFormat offers JPEG formats only (the emulator renders JPEGs); AutoExposureMode, DriveMode and
//!   WhiteBalance are settable within their lists; FocusMode, BatteryPower, AvailableShots and the serial
//!   number are read-only (AccessDenied).
//! - A value whose gphoto2 label equals that of an allowed value (f/3.5 is 0x24 or 0x25) is accepted and
//!   stored as the allowed code.
//! - Live view answers ObjectNotReady unless EVFOutputDevice has the PC bit (set by the initiator or by
//!   InitiateViewfinder); each frame is a freshly rendered sample picture, so frames always differ.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use crate::wire::canon::{
    self, AllowedList, AllowedValues, EosEvent, EosObject, EosProp, ImageFormat, TransferRequest, evf_output,
    prop as eprop,
};
use crate::wire::codes::{op, rc};
use crate::wire::{OperationRequest, encode_u32_array};

use super::ops::{Shot, Vendor, take_picture};
use super::session::{Reply, Session, Sink};
use super::store::STORAGE_ID;
use super::{Shared, State};

/// DeviceInfo.Manufacturer of the Canon personality (gphoto2 also matches "Canon" in it).
pub(super) const MANUFACTURER: &str = "Canon Inc.";

/// DeviceInfo.Model: neutral, not an EOS M / PowerShot name (those switch gphoto2 to other paths).
pub(super) const MODEL: &str = "Canon EOS 5D Mark III";

/// DeviceInfo.VendorExtensionID of Canon.
const VENDOR_CANON: u32 = 0x0B;

/// The standard operations an EOS body answers (no InitiateCapture, no standard property operations:
/// EOS properties live in GetEvent records).
pub(super) const STANDARD_OPERATIONS: [u16; 14] = [
    op::GET_DEVICE_INFO,
    op::OPEN_SESSION,
    op::CLOSE_SESSION,
    op::GET_STORAGE_IDS,
    op::GET_STORAGE_INFO,
    op::GET_NUM_OBJECTS,
    op::GET_OBJECT_HANDLES,
    op::GET_OBJECT_INFO,
    op::GET_OBJECT,
    op::GET_THUMB,
    op::DELETE_OBJECT,
    op::SEND_OBJECT_INFO,
    op::SEND_OBJECT,
    // gphoto2 reads PC-target captures and large files with it.
    op::GET_PARTIAL_OBJECT,
];

/// The vendor operations implemented and advertised. Never the PowerShot/CHDK ones gphoto2 would take as
/// another camera family (0x9008, 0x900B, 0x9013, 0x901A, 0x9999), nor 0x9107/0x9108/0x9109/0x913D,
/// which would need formats the reference leaves open.
const VENDOR_OPERATIONS: [u16; 20] = [
    canon::op::SET_MODE_DIAL_DISABLE,
    canon::op::GET_STORAGE_IDS,
    canon::op::GET_STORAGE_INFO,
    canon::op::REMOTE_RELEASE,
    canon::op::SET_DEVICE_PROP_VALUE_EX,
    canon::op::SET_REMOTE_MODE,
    canon::op::SET_EVENT_MODE,
    canon::op::GET_EVENT,
    canon::op::TRANSFER_COMPLETE,
    canon::op::PC_HDD_CAPACITY,
    SET_UI_LOCK,
    canon::op::RESET_UI_LOCK,
    canon::op::KEEP_DEVICE_ON,
    canon::op::REQUEST_DEVICE_PROP_VALUE,
    canon::op::REMOTE_RELEASE_ON,
    canon::op::REMOTE_RELEASE_OFF,
    canon::op::INITIATE_VIEWFINDER,
    canon::op::TERMINATE_VIEWFINDER,
    canon::op::GET_VIEWFINDER_DATA,
    canon::op::AF_CANCEL,
];

/// GetEvent record types this body sends (listed as DeviceInfo events).
const EVENT_TYPES: [u32; 6] = [
    canon::event::OBJECT_ADDED_EX,
    canon::event::OBJECT_REMOVED,
    canon::event::REQUEST_OBJECT_TRANSFER,
    canon::event::PROP_VALUE_CHANGED,
    canon::event::AVAIL_LIST_CHANGED,
    canon::event::CAMERA_STATUS_CHANGED,
];

/// Records kept per connection before new ones are dropped (a full dump is about 40).
const MAX_QUEUED: usize = 4096;

/// AvailableShots reported (gphoto2 needs > 0 for the PC target, and >= 100 skips PCHDDCapacity).
const AVAILABLE_SHOTS: u32 = 2000;

/// Longest string property value accepted (ASCII, without the NUL).
const MAX_STRING: usize = 63;

/// How long RemoteReleaseOn waits for the picture before answering anyway (replies must start within
/// 2.5 s); a slower picture is reported when it is done.
const CAPTURE_WAIT: Duration = Duration::from_millis(1500);

/// SetUILock: gphoto2 (2.5.28) sends it while changing the capture target whether or not it is
/// advertised (its log names it `EOS_SetUILock`); the wire layer has only ResetUILock 0x911C.
const SET_UI_LOCK: u16 = 0x911B;

/// Whether `code` is one of the vendor operations handled here (standard ones go through `ops`).
pub(super) fn is_vendor_op(code: u16) -> bool {
    VENDOR_OPERATIONS.contains(&code)
}

/// A connection's pending GetEvent records.
pub(super) type EventQueue = VecDeque<EosEvent>;

/// Per-connection state.
#[derive(Debug, Default)]
pub(super) struct ConnState {
    /// The full press fired during the current press (RemoteReleaseOff of the full press clears it), so
    /// a repeated RemoteReleaseOn(2) does not shoot twice.
    fired: bool,
}

/// What values a property accepts.
#[derive(Debug, Clone)]
enum Allowed {
    /// One of these integers (sent as an AvailListChanged list).
    Ints(Vec<u32>),
    /// One of these image formats.
    Formats(Vec<ImageFormat>),
    /// Any short ASCII string.
    Text,
}

/// One EOS property.
#[derive(Debug, Clone)]
struct Entry {
    /// Current value.
    value: EosProp,
    allowed: Allowed,
    writable: bool,
}

/// The body's properties, in report order.
pub(super) struct EosProps {
    entries: Vec<Entry>,
}

/// Table codes in `lo..=hi` on the full and third stops (code % 8 in {0, 3, 5}), in table order.
fn thirds(table: &canon::ValueTable, lo: u32, hi: u32) -> Vec<u32> {
    let mut out: Vec<u32> = table
        .entries
        .iter()
        .map(|(v, _)| *v)
        .filter(|v| (lo..=hi).contains(v) && matches!(v % 8, 0 | 3 | 5))
        .collect();
    out.dedup();
    out
}

impl EosProps {
    /// The factory state: Manual exposure at f/4, 1/125, ISO 100, JPEG L, capture to the card, live view
    /// off.
    pub(super) fn new(serial: &str) -> EosProps {
        let int = |code, value, allowed: &[u32]| Entry {
            value: EosProp::int(code, value),
            allowed: Allowed::Ints(allowed.to_vec()),
            writable: true,
        };
        let read_only = |code, value| Entry {
            value: EosProp::int(code, value),
            allowed: Allowed::Ints(vec![value]),
            writable: false,
        };
        let text = |code, value: &str, writable| Entry {
            value: EosProp::string(code, value),
            allowed: Allowed::Text,
            writable,
        };
        let mut iso = vec![0];
        iso.extend(thirds(&canon::ISO, 0x48, 0x80));
        // Exposure compensation -3..+3 EV in thirds: u8 two's complement eighths.
        let exposure: Vec<u32> = canon::EXPOSURE_COMPENSATION
            .entries
            .iter()
            .map(|(v, _)| *v)
            .filter(|v| {
                (*v as u8 as i8).unsigned_abs() <= 24 && matches!((*v as u8 as i8).rem_euclid(8), 0 | 3 | 5)
            })
            .collect();
        let formats: Vec<ImageFormat> = [0x03FF, 0x02FF, 0x13FF, 0x12FF, 0xD3FF, 0xD2FF, 0xE3FF, 0xF3FF]
            .into_iter()
            .map(ImageFormat::from_code)
            .collect();
        let entries = vec![
            int(eprop::APERTURE, 0x28, &thirds(&canon::APERTURE, 0x20, 0x50)),
            int(eprop::SHUTTER_SPEED, 0x70, &thirds(&canon::SHUTTER_SPEED, 0x10, 0xA0)),
            int(eprop::ISO_SPEED, 0x48, &iso),
            int(eprop::EXP_COMPENSATION, 0, &exposure),
            // 0 P, 1 TV, 2 AV, 3 Manual, 4 Bulb.
            int(eprop::AUTO_EXPOSURE_MODE, 3, &[0, 1, 2, 3, 4]),
            // Single, Continuous, Continuous high/low, self-timer 10 s / 2 s.
            int(eprop::DRIVE_MODE, 0, &[0, 1, 4, 5, 0x10, 0x11]),
            // One Shot.
            read_only(eprop::FOCUS_MODE, 0),
            // Auto, Daylight, Cloudy, Tungsten, Fluorescent, Flash, Shadow, Color temperature.
            int(eprop::WHITE_BALANCE, 0, &[0, 1, 2, 3, 4, 5, 8, 9]),
            // 100 %.
            read_only(eprop::BATTERY_POWER, 2),
            read_only(eprop::AVAILABLE_SHOTS, AVAILABLE_SHOTS),
            // 2 card (as the real dump), 4 PC.
            int(eprop::CAPTURE_DESTINATION, 2, &[2, 4]),
            Entry {
                value: EosProp::image_format(eprop::IMAGE_FORMAT, &formats[0]),
                allowed: Allowed::Formats(formats),
                writable: true,
            },
            // Off, TFT, PC, TFT + PC.
            int(eprop::EVF_OUTPUT_DEVICE, 0, &[0, 1, 2, 3]),
            int(eprop::EVF_MODE, 1, &[0, 1]),
            text(eprop::OWNER, "", true),
            text(eprop::ARTIST, "", true),
            text(eprop::COPYRIGHT, "", true),
            text(eprop::SERIAL_NUMBER, serial, false),
        ];
        EosProps { entries }
    }

    fn entry(&self, code: u32) -> Option<&Entry> {
        self.entries.iter().find(|e| e.value.code == code)
    }

    /// The current value of an integer property.
    fn int(&self, code: u32) -> Option<u32> {
        self.entry(code).and_then(|e| e.value.int_value())
    }

    /// The full dump of a first GetEvent: every value, then every list (gphoto2 needs a property's
    /// value, which types it, before its list).
    fn dump(&self) -> Vec<EosEvent> {
        let values = self.entries.iter().map(|e| EosEvent::PropValueChanged(e.value.clone()));
        let lists = self.entries.iter().filter(|e| e.writable).filter_map(|e| {
            let values = match &e.allowed {
                Allowed::Ints(v) => AllowedList::Slots(v.clone()),
                Allowed::Formats(f) => AllowedList::ImageFormats(f.clone()),
                Allowed::Text => return None,
            };
            Some(EosEvent::AllowedValues(AllowedValues { code: e.value.code, values }))
        });
        values.chain(lists).collect()
    }

    /// Validates and stores a SetDevicePropValueEx value; returns the stored value.
    fn set(&mut self, new: &EosProp) -> Result<EosProp, u16> {
        let Some(entry) = self.entries.iter_mut().find(|e| e.value.code == new.code) else {
            return Err(rc::DEVICE_PROP_NOT_SUPPORTED);
        };
        if !entry.writable {
            return Err(rc::ACCESS_DENIED);
        }
        let stored = match &entry.allowed {
            Allowed::Ints(allowed) => {
                let v = new.int_value().ok_or(rc::INVALID_DEVICE_PROP_FORMAT)?;
                EosProp::int(new.code, canonical(new.code, v, allowed).ok_or(rc::INVALID_DEVICE_PROP_VALUE)?)
            }
            Allowed::Formats(allowed) => {
                let f = ImageFormat::decode(&new.value).map_err(|_| rc::INVALID_DEVICE_PROP_FORMAT)?;
                let f = allowed.iter().find(|a| a.code() == f.code()).ok_or(rc::INVALID_DEVICE_PROP_VALUE)?;
                EosProp::image_format(new.code, f)
            }
            Allowed::Text => {
                let end = new.value.iter().position(|&b| b == 0).unwrap_or(new.value.len());
                let text = &new.value[..end];
                if text.len() > MAX_STRING || !text.iter().all(|b| (0x20..0x7F).contains(b)) {
                    return Err(rc::INVALID_DEVICE_PROP_VALUE);
                }
                // Printable ASCII checked above, so this is lossless.
                EosProp::string(new.code, &String::from_utf8_lossy(text))
            }
        };
        entry.value = stored.clone();
        Ok(stored)
    }

    /// Sets an integer property from inside the emulator (no validation); returns the record to queue.
    fn force(&mut self, code: u32, value: u32) -> Option<EosEvent> {
        let entry = self.entries.iter_mut().find(|e| e.value.code == code)?;
        entry.value = EosProp::int(code, value);
        Some(EosEvent::PropValueChanged(entry.value.clone()))
    }
}

/// `value` if allowed, else the allowed code with the same gphoto2 label (thirds and halves share
/// labels), else `None`.
fn canonical(code: u32, value: u32, allowed: &[u32]) -> Option<u32> {
    if allowed.contains(&value) {
        return Some(value);
    }
    let table = canon::value_table(code)?;
    if !table.entries.iter().any(|(v, _)| *v == value) {
        return None;
    }
    let name = table.name(value);
    allowed.iter().copied().find(|a| table.name(*a) == name)
}

impl State {
    /// Queues records on every connection whose events are enabled (dropping them where a queue is full).
    fn eos_broadcast(&mut self, events: &[EosEvent]) {
        for (conn, slot) in self.conns.iter_mut() {
            let Some(queue) = slot.eos_queue.as_mut() else { continue };
            for e in events {
                if queue.len() >= MAX_QUEUED {
                    tracing::debug!(conn, "EOS event queue full, record dropped");
                    break;
                }
                queue.push_back(e.clone());
            }
        }
    }
}

impl Session {
    /// Whether `req` carries a data-out phase even if its DataPhaseInfo does not say so.
    pub(super) fn eos_data_out(&self, req: &OperationRequest) -> bool {
        self.shared.config.personality == super::Personality::CanonEos
            && req.code == canon::op::SET_DEVICE_PROP_VALUE_EX
    }

    /// Drops this connection's GetEvent queue (session closed or reopened).
    pub(super) fn eos_session_ended(&mut self) {
        self.eos = ConnState::default();
        if let Some(slot) = self.shared.lock().conns.get_mut(&self.conn_id) {
            slot.eos_queue = None;
        }
    }

    /// DeviceInfo of an EOS body (§1.1, §4.2 item 1): VendorExtensionID 0x0B, no standard properties.
    pub(super) fn eos_device_info(&self) -> Vec<u8> {
        let mut operations = STANDARD_OPERATIONS.to_vec();
        operations.extend(VENDOR_OPERATIONS.iter().filter(|c| !STANDARD_OPERATIONS.contains(c)));
        let events = EVENT_TYPES.iter().map(|t| *t as u16).collect();
        let vendor = Vendor { id: VENDOR_CANON, version: 100, desc: "" };
        self.encode_device_info(vendor, operations, events, Vec::new())
    }

    /// Executes one vendor operation.
    pub(super) async fn execute_eos(&mut self, req: &OperationRequest, data: Option<Sink>) -> Reply {
        let p = |i| req.params.get(i);
        if self.session.is_none() {
            return Reply::code(rc::SESSION_NOT_OPEN);
        }
        match req.code {
            // Modes, keep-alive, UI lock, AF cancel: nothing to change in an emulator.
            canon::op::SET_REMOTE_MODE
            | canon::op::SET_MODE_DIAL_DISABLE
            | canon::op::KEEP_DEVICE_ON
            | SET_UI_LOCK
            | canon::op::RESET_UI_LOCK
            | canon::op::AF_CANCEL => Reply::ok(),
            canon::op::SET_EVENT_MODE => self.set_event_mode(p(0)),
            canon::op::GET_EVENT => self.get_event(),
            canon::op::GET_STORAGE_IDS => Reply::data(encode_u32_array(&[STORAGE_ID])),
            canon::op::GET_STORAGE_INFO => self.storage_info(if p(0) == 0 { STORAGE_ID } else { p(0) }),
            canon::op::REQUEST_DEVICE_PROP_VALUE => {
                // Real bodies answer with the value in the next GetEvent; unknown codes are no error.
                let mut state = self.shared.lock();
                let value = state.eos.entry(p(0)).map(|e| EosEvent::PropValueChanged(e.value.clone()));
                if let Some(v) = value {
                    state.eos_queue_own(self.conn_id, v);
                }
                Reply::ok()
            }
            canon::op::PC_HDD_CAPACITY => {
                // The PC reported its free space: the body answers with AvailableShots.
                let mut state = self.shared.lock();
                if let Some(v) = state.eos.force(eprop::AVAILABLE_SHOTS, AVAILABLE_SHOTS) {
                    state.eos_broadcast(&[v]);
                }
                Reply::ok()
            }
            canon::op::SET_DEVICE_PROP_VALUE_EX => self.set_prop_ex(data),
            canon::op::REMOTE_RELEASE_ON => {
                // 1 half press (focus only), 2 full press, 3 both at once.
                match p(0) {
                    canon::release::HALF => Reply::ok(),
                    canon::release::FULL | canon::release::HALF_AND_FULL => {
                        if !self.eos.fired {
                            self.eos.fired = true;
                            self.fire().await;
                        }
                        Reply::ok()
                    }
                    _ => Reply::code(rc::INVALID_PARAMETER),
                }
            }
            canon::op::REMOTE_RELEASE_OFF => {
                match p(0) {
                    canon::release::HALF => {}
                    canon::release::FULL | canon::release::HALF_AND_FULL => self.eos.fired = false,
                    _ => return Reply::code(rc::INVALID_PARAMETER),
                }
                Reply::ok()
            }
            canon::op::REMOTE_RELEASE => {
                self.fire().await;
                // Param 1 is the release result: 0 = OK.
                Reply::with_params(rc::OK, &[0])
            }
            canon::op::TRANSFER_COMPLETE => {
                // The PC has the picture; it stays on the emulated card (see module doc).
                if self.shared.lock().store.get(p(0)).is_some() {
                    Reply::ok()
                } else {
                    Reply::code(rc::INVALID_OBJECT_HANDLE)
                }
            }
            canon::op::INITIATE_VIEWFINDER => self.viewfinder_output(true),
            canon::op::TERMINATE_VIEWFINDER => self.viewfinder_output(false),
            canon::op::GET_VIEWFINDER_DATA => self.viewfinder_frame().await,
            _ => Reply::code(rc::OPERATION_NOT_SUPPORTED),
        }
    }

    /// SetEventMode(0) stops the records; any other mode (1, or 2 on EOS M) (re)starts them with the full
    /// dump.
    fn set_event_mode(&mut self, mode: u32) -> Reply {
        let mut state = self.shared.lock();
        let dump = (mode != 0).then(|| state.eos.dump());
        if let Some(slot) = state.conns.get_mut(&self.conn_id) {
            slot.eos_queue = dump.map(VecDeque::from);
        }
        Reply::ok()
    }

    /// GetEvent: everything queued, then the terminator; always with a data phase (§2.3).
    fn get_event(&mut self) -> Reply {
        let events: Vec<EosEvent> = {
            let mut state = self.shared.lock();
            match state.conns.get_mut(&self.conn_id).and_then(|s| s.eos_queue.as_mut()) {
                Some(queue) => queue.drain(..).collect(),
                None => Vec::new(),
            }
        };
        let mut out = Vec::new();
        canon::encode_events(&events, &mut out);
        Reply::data(out)
    }

    fn set_prop_ex(&mut self, data: Option<Sink>) -> Reply {
        let bytes = match data {
            Some(Sink::Memory { buf, overflow: false, .. }) => buf,
            _ => return Reply::code(rc::INVALID_DEVICE_PROP_FORMAT),
        };
        let Ok(new) = EosProp::decode_set_prop_ex(&bytes) else {
            return Reply::code(rc::INVALID_DEVICE_PROP_FORMAT);
        };
        let mut state = self.shared.lock();
        match state.eos.set(&new) {
            Ok(stored) => {
                tracing::debug!(
                    code = format_args!("{:#06x}", stored.code),
                    value = ?stored.typed_value(),
                    "EOS property set"
                );
                state.eos_broadcast(&[EosEvent::PropValueChanged(stored)]);
                Reply::ok()
            }
            Err(code) => Reply::code(code),
        }
    }

    /// InitiateViewfinder / TerminateViewfinder: switch the PC bit of EVFOutputDevice.
    fn viewfinder_output(&mut self, on: bool) -> Reply {
        let mut state = self.shared.lock();
        let current = state.eos.int(eprop::EVF_OUTPUT_DEVICE).unwrap_or(0);
        let next = if on { current | evf_output::PC } else { current & !evf_output::PC };
        if next != current
            && let Some(v) = state.eos.force(eprop::EVF_OUTPUT_DEVICE, next)
        {
            state.eos_broadcast(&[v]);
        }
        Reply::ok()
    }

    /// GetViewFinderData: a fresh JPEG while the PC bit of EVFOutputDevice is set, else ObjectNotReady.
    async fn viewfinder_frame(&mut self) -> Reply {
        let output = self.shared.lock().eos.int(eprop::EVF_OUTPUT_DEVICE).unwrap_or(0);
        if output & evf_output::PC == 0 {
            return Reply::code(canon::rc::OBJECT_NOT_READY);
        }
        match self.shared.next_live_view_jpeg().await {
            Some(jpeg) => {
                let mut out = Vec::with_capacity(jpeg.len() + 16);
                canon::encode_viewfinder(&jpeg, &mut out);
                Reply::data(out)
            }
            None => Reply::code(rc::GENERAL_ERROR),
        }
    }

    /// Takes a picture and queues its records: CameraStatusChanged busy, the objects (ObjectAddedEx for
    /// the card, RequestObjectTransfer for the PC), CameraStatusChanged idle.
    async fn fire(&mut self) {
        self.shared
            .lock()
            .eos_broadcast(&[EosEvent::CameraStatusChanged { status: canon::CAMERA_STATUS_BUSY }]);
        let shared = self.shared.clone();
        let mut job = tokio::spawn(async move {
            let _one = shared.capture_lock.lock().await;
            match take_picture(&shared).await {
                Ok(shot) => report(&shared, &shot),
                Err(e) => tracing::warn!(error = %e, "capture failed"),
            }
            // Never leave the body busy, whatever happened.
            shared.lock().eos_broadcast(&[EosEvent::CameraStatusChanged { status: 0 }]);
        });
        if tokio::time::timeout(CAPTURE_WAIT, &mut job).await.is_err() {
            tracing::debug!("capture continues in the background");
        }
    }
}

impl State {
    /// Queues one record on this connection only (an answer to its own request).
    fn eos_queue_own(&mut self, conn: u32, event: EosEvent) {
        if let Some(queue) = self.conns.get_mut(&conn).and_then(|s| s.eos_queue.as_mut())
            && queue.len() < MAX_QUEUED
        {
            queue.push_back(event);
        }
    }
}

/// A picture taken with the body's own shutter button: reported like a remote release's, busy first
/// and idle after. The caller holds `capture_lock`.
pub(super) async fn body_shot(shared: &Arc<Shared>) -> std::io::Result<Shot> {
    shared.lock().eos_broadcast(&[EosEvent::CameraStatusChanged { status: canon::CAMERA_STATUS_BUSY }]);
    let shot = take_picture(shared).await;
    if let Ok(shot) = &shot {
        report(shared, shot);
    }
    shared.lock().eos_broadcast(&[EosEvent::CameraStatusChanged { status: 0 }]);
    shot
}

/// Queues the records announcing a capture, by the capture destination.
fn report(shared: &Arc<Shared>, shot: &Shot) {
    let mut state = shared.lock();
    let to_pc = state.eos.int(eprop::CAPTURE_DESTINATION) == Some(canon::CAPTURE_TO_PC);
    let describe = |state: &State, handle: u32| {
        state.store.get(handle).map(|o| EosObject {
            handle: o.handle,
            storage: STORAGE_ID,
            format: o.format,
            size: u32::try_from(o.size).unwrap_or(u32::MAX),
            parent: o.parent,
            name: o.name.clone(),
        })
    };
    let mut events = Vec::new();
    if to_pc {
        if let Some(o) = describe(&state, shot.file) {
            events.push(EosEvent::RequestObjectTransfer(TransferRequest {
                handle: o.handle,
                format: o.format,
                size: o.size,
                name: o.name,
            }));
        }
    } else {
        let new_folders = shot.folders.iter().filter(|(_, new)| *new).map(|(h, _)| *h);
        for handle in new_folders.chain(std::iter::once(shot.file)) {
            if let Some(o) = describe(&state, handle) {
                events.push(EosEvent::ObjectAdded(o));
            }
        }
    }
    tracing::debug!(handle = shot.file, to_pc, "EOS capture reported");
    state.eos_broadcast(&events);
}
