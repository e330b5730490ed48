//! The `Nikon` personality (`ptpip-vendors.md` §3, checklist §4.2): a Nikon body as libgphoto2's
//! Nikon code drives it. The wire formats come from [`crate::wire::nikon`]; this module holds the
//! body's property table, the per-connection GetEvent 0x90C7 queues, the SDRAM image, the Wi-Fi
//! profile slots and the vendor operations. Standard operations (listing, downloads, properties
//! through 0x1014/0x1015/0x1016) are the generic ones.
//!
//! Choices where the reference leaves room:
//! - Every device event (captures, DevicePropChanged) goes to the GetEvent queue of every connection
//!   with an open session, never to the PTP/IP event connection: gphoto2 stops reading that socket
//!   once it polls 0x90C7, and a second copy there would be handled twice.
//! - InitiateCaptureRecInMedia (0x9207) answers at once and renders in the background; DeviceReady
//!   answers DeviceBusy at least once after it (and after StartLiveView), then while the picture is
//!   being made, then OK. The capture's events are queued before DeviceReady says OK.
//! - Card target (second parameter 0): the picture goes to the media folder like every capture;
//!   ObjectAdded for new folders and the file, then CaptureComplete with the 0x9207 transaction id.
//!   SDRAM target (1): the picture stays in memory as object 0xFFFF0001 (StorageID 0, ParentObject 0,
//!   never listed), reported with ObjectAddedInSdram then CaptureCompleteRecInSdram; a new SDRAM
//!   capture replaces it, DeleteObject or DelImageSDRAM drops it. The one-parameter form takes the
//!   target from RecordingMedia 0xD10B (0 card, 1 SDRAM).
//! - Live view: StartLiveView sets LiveViewStatus 0xD1A2 to 1 (OK when already on); GetLiveViewImg
//!   answers NotLiveView (0xA00B) while it is off, else a zero header (384 bytes by default,
//!   digiCamControl's length, configurable; no `FF D8` in it) and a freshly rendered JPEG, so frames
//!   always differ;
//!   EndLiveView is always OK. LiveViewProhibitCondition 0xD1A4 is always 0.
//! - ExposureTime 0x500D (1/10000 s) and Nikon's ExposureTime 0xD100 (num/den) are one shutter
//!   speed: setting one sets the other to the same speed when its list has it (1/60 is 166 units,
//!   1/4000 has no 0x500D value), with a DevicePropChanged for each. CompressionSetting offers the
//!   JPEG qualities only (the emulator renders JPEGs).
//! - Wi-Fi profiles: device-wide slots, ids 1 to 5 by default ([`PROFILE_SLOTS`], configurable: the
//!   number real bodies have is unknown). SendProfileData writes the named slot, which must be free: an occupied one answers
//!   StoreFull when every slot is taken, else InvalidParameter (gphoto2 always names the first free
//!   one). DeleteProfile of a free slot, or of an id that names no slot, is OK and changes nothing:
//!   gphoto2 2.5.30's list widget sends DeleteProfile(0) for its "Version" entry before the real
//!   delete and gives up on an error, so refusing it would make gphoto2's delete fail (the reference
//!   does not say what bodies answer). SetProfileData 0x9009 is advertised
//!   because gphoto2 requires it for its profile widgets, but neither source says what it does, so it
//!   answers OperationNotSupported (its data phase, if any, is drained).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use crate::wire::codes::{ev, format, op as std_op, prop as std_prop, rc};
use crate::wire::format_ptp_date;
use crate::wire::nikon::{
    self, NikonEvent, ProfileList, ProfileSlot, WifiProfile, capture, ev as nev, op, prop as nprop,
};
use crate::wire::{DevicePropDesc, ObjectInfo, OperationRequest, PropForm, PropValue};

use super::ops::{OPERATIONS, Shot, Vendor, take_picture};
use super::props::PropTable;
use super::session::{Reply, Session, Sink};
use super::{Shared, State};

/// DeviceInfo.Manufacturer of the Nikon personality (gphoto2 also matches "Nikon" in it).
pub(super) const MANUFACTURER: &str = "Nikon Corporation";

/// DeviceInfo.Model: neutral, not a Nikon 1 (`J`/`V`/`S`), D3xxx or COOLPIX name (those switch
/// gphoto2 to other paths).
pub(super) const MODEL: &str = "D750";

/// DeviceInfo.VendorExtensionID of Nikon.
const VENDOR_NIKON: u32 = 0x0A;

/// The vendor operations implemented and advertised. Not GetEventEx 0x941C (gphoto2 would prefer it
/// to 0x90C7), nor the SDRAM capture ops 0x90C0/0x90CB (0x9207 makes gphoto2 take the 3rd-generation
/// path), nor GetVendorCodes 0x9439.
const VENDOR_OPERATIONS: [u16; 13] = [
    op::GET_PROFILE_ALL_DATA,
    op::SEND_PROFILE_DATA,
    op::DELETE_PROFILE,
    op::SET_PROFILE_DATA,
    op::CHANGE_CAMERA_MODE,
    op::DEL_IMAGE_SDRAM,
    op::GET_EVENT,
    op::DEVICE_READY,
    op::GET_VENDOR_PROP_CODES,
    op::START_LIVE_VIEW,
    op::END_LIVE_VIEW,
    op::GET_LIVE_VIEW_IMG,
    op::INITIATE_CAPTURE_REC_IN_MEDIA,
];

/// Events this body reports through GetEvent.
const EVENTS: [u16; 6] = [
    ev::OBJECT_ADDED,
    ev::OBJECT_REMOVED,
    ev::DEVICE_PROP_CHANGED,
    ev::CAPTURE_COMPLETE,
    nev::OBJECT_ADDED_IN_SDRAM,
    nev::CAPTURE_COMPLETE_REC_IN_SDRAM,
];

/// The vendor properties GetVendorPropCodes reports (not in DeviceInfo, as on real bodies).
const VENDOR_PROPS: [u16; 4] = [
    nprop::EXPOSURE_TIME,
    nprop::RECORDING_MEDIA,
    nprop::LIVE_VIEW_STATUS,
    nprop::LIVE_VIEW_PROHIBIT_CONDITION,
];

/// CompressionSetting, a standard code without a constant in `codes::prop`.
const COMPRESSION_SETTING: u16 = 0x5004;

/// Wi-Fi profile slots kept by default (ids 1..=5; `EmulatorConfig::nikon_profile_slots`).
pub const PROFILE_SLOTS: u8 = 5;

/// Longest live-view header configurable (`EmulatorConfig::nikon_live_view_header`).
const MAX_LIVE_VIEW_HEADER: usize = 1 << 20;

/// Events kept per connection before new ones are dropped.
const MAX_QUEUED: usize = 4096;

/// Size of SDRAM captures: small, so they render in a few ms.
const SDRAM_SIZE: (u16, u16) = (640, 480);

/// Whether `code` is one of the vendor operations handled here (standard ones go through `ops`).
pub(super) fn is_vendor_op(code: u16) -> bool {
    VENDOR_OPERATIONS.contains(&code)
}

/// A connection's pending GetEvent records.
pub(super) type EventQueue = VecDeque<NikonEvent>;

/// Per-connection state.
#[derive(Debug, Default)]
pub(super) struct ConnState {
    /// DeviceBusy answers still owed to DeviceReady whatever the camera is doing (so a poller always
    /// sees the busy phase once after a capture or StartLiveView).
    busy: u32,
    /// The capture this connection started, while it runs.
    job: Option<tokio::task::JoinHandle<()>>,
}

impl ConnState {
    fn capturing(&self) -> bool {
        self.job.as_ref().is_some_and(|j| !j.is_finished())
    }
}

/// A picture held in the camera's memory (SDRAM capture target).
pub(super) struct SdramImage {
    data: Vec<u8>,
    name: String,
    mtime: SystemTime,
}

/// Device-wide Nikon state.
pub(super) struct NikonState {
    /// The SDRAM picture, object [`capture::SDRAM_HANDLE`].
    sdram: Option<SdramImage>,
    /// Wi-Fi profiles by slot (index 0 = id 1).
    profiles: Vec<Option<WifiProfile>>,
    /// SDRAM pictures taken (names them).
    sdram_count: u32,
}

impl NikonState {
    pub(super) fn new(slots: u8) -> NikonState {
        NikonState { sdram: None, profiles: vec![None; usize::from(slots)], sdram_count: 0 }
    }
}

fn enumeration(code: u16, default: PropValue, values: Vec<PropValue>) -> DevicePropDesc {
    DevicePropDesc {
        code,
        data_type: default.data_type(),
        writable: true,
        factory_default: default.clone(),
        current: default,
        form: PropForm::Enumeration(values),
    }
}

fn status(code: u16, value: PropValue) -> DevicePropDesc {
    DevicePropDesc {
        code,
        data_type: value.data_type(),
        writable: false,
        factory_default: value.clone(),
        current: value,
        form: PropForm::None,
    }
}

/// The body's property table with the types and forms gphoto2 requires (§3.6): Manual exposure at
/// f/4, 1/125 s, ISO 100, JPEG Fine, recording to the card, live view off.
pub(super) fn props() -> PropTable {
    let u16s = |v: &[u16]| v.iter().map(|v| PropValue::U16(*v)).collect::<Vec<_>>();
    let u32s = |v: &[u32]| v.iter().map(|v| PropValue::U32(*v)).collect::<Vec<_>>();
    let generic = PropTable::new();
    let mut descs = Vec::new();
    descs.extend(generic.desc(std_prop::BATTERY_LEVEL));
    // JPEG Basic, Normal, Fine.
    descs.push(enumeration(
        COMPRESSION_SETTING,
        PropValue::U8(2),
        vec![PropValue::U8(0), PropValue::U8(1), PropValue::U8(2)],
    ));
    // Automatic, Daylight, Fluorescent, Tungsten, Flash, Cloudy, Shade.
    descs.push(enumeration(
        std_prop::WHITE_BALANCE,
        PropValue::U16(2),
        u16s(&[2, 4, 5, 6, 7, 0x8010, 0x8011]),
    ));
    // f x 100, full and third stops f/2.8 .. f/22.
    descs.push(enumeration(
        std_prop::F_NUMBER,
        PropValue::U16(400),
        u16s(&[
            280, 320, 350, 400, 450, 500, 560, 630, 710, 800, 900, 1000, 1100, 1300, 1400, 1600, 1800, 2000,
            2200,
        ]),
    ));
    // 1/10000 s: 1/4000 is not a whole number of units, so the list starts at 1/2000; up to 30 s.
    descs.push(enumeration(
        std_prop::EXPOSURE_TIME,
        PropValue::U32(80),
        u32s(&[
            5, 10, 20, 40, 80, 166, 333, 666, 1250, 2500, 5000, 10000, 20000, 40000, 80000, 150000, 300000,
        ]),
    ));
    // 1 Manual, 2 Program, 3 Aperture priority, 4 Shutter priority.
    descs.push(enumeration(std_prop::EXPOSURE_PROGRAM_MODE, PropValue::U16(1), u16s(&[1, 2, 3, 4])));
    descs.push(enumeration(
        std_prop::EXPOSURE_INDEX,
        PropValue::U16(100),
        u16s(&[100, 200, 400, 800, 1600, 3200, 6400, 12800]),
    ));
    // EV x 1000 in thirds, -3 .. +3.
    let thirds: Vec<PropValue> = (-9i16..=9).map(|t| PropValue::I16(t * 1000 / 3)).collect();
    descs.push(enumeration(std_prop::EXPOSURE_BIAS_COMPENSATION, PropValue::I16(0), thirds));
    descs.extend(generic.desc(std_prop::DATE_TIME));
    // (num << 16) | den: 1/4000 .. 30 s.
    let fraction = |num: u32, den: u32| (num << 16) | den;
    let mut speeds: Vec<u32> =
        [4000, 2000, 1000, 500, 250, 125, 60, 30, 15, 8, 4, 2].iter().map(|d| fraction(1, *d)).collect();
    speeds.extend([1, 2, 4, 8, 15, 30].iter().map(|n| fraction(*n, 1)));
    descs.push(enumeration(nprop::EXPOSURE_TIME, PropValue::U32(fraction(1, 125)), u32s(&speeds)));
    // 0 card, 1 SDRAM.
    descs.push(enumeration(
        nprop::RECORDING_MEDIA,
        PropValue::U8(0),
        vec![PropValue::U8(0), PropValue::U8(1)],
    ));
    descs.push(status(nprop::LIVE_VIEW_STATUS, PropValue::U8(0)));
    descs.push(status(nprop::LIVE_VIEW_PROHIBIT_CONDITION, PropValue::U32(0)));
    PropTable::from_descs(descs)
}

impl State {
    /// Queues events on every connection with an open Nikon session (dropping them where a queue is
    /// full).
    pub(super) fn nikon_broadcast(&mut self, events: &[NikonEvent]) {
        for (conn, slot) in self.conns.iter_mut() {
            let Some(queue) = slot.nikon_queue.as_mut() else { continue };
            for e in events {
                if queue.len() >= MAX_QUEUED {
                    tracing::debug!(conn, "Nikon event queue full, event dropped");
                    break;
                }
                queue.push_back(*e);
            }
        }
    }
}

/// The ObjectInfo of the SDRAM picture.
fn sdram_info(image: &SdramImage) -> ObjectInfo {
    let date = format_ptp_date(camctl_core::time::DateTime::from_system(image.mtime));
    ObjectInfo {
        storage_id: 0,
        format: format::EXIF_JPEG,
        protection_status: 0,
        compressed_size: u32::try_from(image.data.len()).unwrap_or(u32::MAX),
        thumb_format: 0,
        thumb_compressed_size: 0,
        thumb_width: 0,
        thumb_height: 0,
        image_width: u32::from(SDRAM_SIZE.0),
        image_height: u32::from(SDRAM_SIZE.1),
        image_bit_depth: 24,
        parent: 0,
        association_type: 0,
        association_desc: 0,
        sequence_number: 0,
        filename: image.name.clone(),
        capture_date: date.clone(),
        modification_date: date,
        keywords: String::new(),
    }
}

impl Session {
    /// Whether `req` carries a Nikon data-out phase even if its DataPhaseInfo does not say so.
    pub(super) fn nikon_data_out(&self, req: &OperationRequest) -> bool {
        self.shared.config.personality == super::Personality::Nikon
            && (nikon::op::has_data_out(req.code) || req.code == op::SET_PROFILE_DATA)
    }

    /// (Re)starts or drops this connection's GetEvent queue (session opened or closed).
    pub(super) fn nikon_session(&mut self, open: bool) {
        // A running capture finishes on its own (dropping its handle detaches it); only this
        // connection's DeviceReady view of it ends.
        self.nikon = ConnState::default();
        let nikon = self.shared.config.personality == super::Personality::Nikon;
        if let Some(slot) = self.shared.lock().conns.get_mut(&self.conn_id) {
            slot.nikon_queue = (open && nikon).then(VecDeque::new);
        }
    }

    /// DeviceInfo of a Nikon body (§4.2 item 1): VendorExtensionID 0x0A, the standard operations and
    /// properties plus the Nikon operations.
    pub(super) fn nikon_device_info(&self) -> Vec<u8> {
        let mut operations = OPERATIONS.to_vec();
        operations.extend(VENDOR_OPERATIONS);
        // The vendor codes come from GetVendorPropCodes.
        let properties: Vec<u16> =
            self.shared.lock().props.codes().into_iter().filter(|c| !VENDOR_PROPS.contains(c)).collect();
        let vendor = Vendor { id: VENDOR_NIKON, version: 100, desc: "Nikon PTP Extensions" };
        self.encode_device_info(vendor, operations, EVENTS.to_vec(), properties)
    }

    /// The standard object operations on the SDRAM handle; `None` for every other request.
    pub(super) fn nikon_sdram_op(&mut self, req: &OperationRequest) -> Option<Reply> {
        if req.params.get(0) != capture::SDRAM_HANDLE || self.session.is_none() {
            return None;
        }
        let mut state = self.shared.lock();
        let reply = match (req.code, state.nikon.sdram.as_ref()) {
            (_, None) => Reply::code(rc::INVALID_OBJECT_HANDLE),
            (std_op::GET_OBJECT_INFO, Some(image)) => {
                let mut out = Vec::new();
                sdram_info(image).encode(&mut out);
                Reply::data(out)
            }
            (std_op::GET_OBJECT, Some(image)) => Reply::data(image.data.clone()),
            (std_op::GET_PARTIAL_OBJECT, Some(image)) => {
                let len = image.data.len();
                let start = usize::try_from(req.params.get(1)).unwrap_or(usize::MAX);
                if start > len {
                    return Some(Reply::code(rc::INVALID_PARAMETER));
                }
                let count = usize::try_from(req.params.get(2)).unwrap_or(usize::MAX).min(len - start);
                let mut reply = Reply::data(image.data[start..start + count].to_vec());
                reply.params = crate::wire::Params::new(&[count as u32]);
                reply
            }
            (std_op::GET_THUMB, Some(_)) => Reply::code(rc::NO_THUMBNAIL_PRESENT),
            (std_op::DELETE_OBJECT, Some(_)) => {
                state.nikon.sdram = None;
                Reply::ok()
            }
            _ => return None,
        };
        Some(reply)
    }

    /// Executes one vendor operation.
    pub(super) async fn execute_nikon(&mut self, req: &OperationRequest, data: Option<Sink>) -> Reply {
        let p = |i| req.params.get(i);
        if self.session.is_none() {
            return Reply::code(rc::SESSION_NOT_OPEN);
        }
        match req.code {
            op::GET_VENDOR_PROP_CODES => {
                let mut out = Vec::new();
                nikon::encode_vendor_prop_codes(&VENDOR_PROPS, &mut out);
                Reply::data(out)
            }
            op::GET_EVENT => self.nikon_get_event(),
            op::DEVICE_READY => {
                if self.nikon.busy > 0 {
                    self.nikon.busy -= 1;
                    Reply::code(rc::DEVICE_BUSY)
                } else if self.nikon.capturing() {
                    Reply::code(rc::DEVICE_BUSY)
                } else {
                    self.nikon.job = None;
                    Reply::ok()
                }
            }
            // PC control mode on / off: nothing changes in an emulator.
            op::CHANGE_CAMERA_MODE if matches!(p(0), 0 | 1) => Reply::ok(),
            op::CHANGE_CAMERA_MODE => Reply::code(rc::INVALID_PARAMETER),
            op::INITIATE_CAPTURE_REC_IN_MEDIA => self.capture_rec_in_media(req),
            op::DEL_IMAGE_SDRAM => {
                let mut state = self.shared.lock();
                if p(0) == capture::SDRAM_HANDLE && state.nikon.sdram.take().is_some() {
                    Reply::ok()
                } else {
                    Reply::code(rc::INVALID_OBJECT_HANDLE)
                }
            }
            op::START_LIVE_VIEW => {
                self.set_live_view(true);
                self.nikon.busy = 1;
                Reply::ok()
            }
            op::END_LIVE_VIEW => {
                self.set_live_view(false);
                Reply::ok()
            }
            op::GET_LIVE_VIEW_IMG => self.live_view_image().await,
            op::GET_PROFILE_ALL_DATA => self.profile_list(),
            op::SEND_PROFILE_DATA => self.send_profile(p(0), data),
            op::DELETE_PROFILE => self.delete_profile(p(0)),
            _ => Reply::code(rc::OPERATION_NOT_SUPPORTED),
        }
    }

    /// GetEvent 0x90C7: the queued events (as many as one reply holds), always with a data phase.
    fn nikon_get_event(&mut self) -> Reply {
        let events: Vec<NikonEvent> = {
            let mut state = self.shared.lock();
            match state.conns.get_mut(&self.conn_id).and_then(|s| s.nikon_queue.as_mut()) {
                Some(queue) => {
                    let n = queue.len().min(nikon::MAX_EVENTS_PER_REPLY);
                    queue.drain(..n).collect()
                }
                None => Vec::new(),
            }
        };
        let mut out = Vec::new();
        match nikon::encode_events(&events, &mut out) {
            Ok(()) => Reply::data(out),
            Err(_) => Reply::code(rc::GENERAL_ERROR),
        }
    }

    /// InitiateCaptureRecInMedia(AF, target): answers at once; the picture is made in the background and
    /// DeviceReady says busy until its events are queued.
    fn capture_rec_in_media(&mut self, req: &OperationRequest) -> Reply {
        let params = req.params.as_slice();
        if !matches!(params.first(), Some(&(capture::AF | capture::NO_AF))) {
            return Reply::code(rc::INVALID_PARAMETER);
        }
        let to_sdram = match params.get(1) {
            Some(&capture::TARGET_SDRAM) => true,
            Some(&capture::TARGET_CARD) => false,
            Some(_) => return Reply::code(rc::INVALID_PARAMETER),
            None => self.shared.lock().props.value(nprop::RECORDING_MEDIA) == Some(PropValue::U8(1)),
        };
        if self.nikon.capturing() {
            return Reply::code(rc::DEVICE_BUSY);
        }
        let shared = self.shared.clone();
        let tid = req.tid;
        self.nikon.job = Some(tokio::spawn(async move {
            let _one = shared.capture_lock.lock().await;
            let events = if to_sdram {
                match capture_to_sdram(&shared).await {
                    Ok(()) => vec![
                        NikonEvent::ObjectAddedInSdram { handle: capture::SDRAM_HANDLE },
                        NikonEvent::CaptureCompleteRecInSdram { param: 0 },
                    ],
                    Err(e) => {
                        tracing::warn!(error = %e, "SDRAM capture failed");
                        vec![NikonEvent::CaptureCompleteRecInSdram { param: 0 }]
                    }
                }
            } else {
                match take_picture(&shared).await {
                    Ok(shot) => card_events(&shot, tid),
                    Err(e) => {
                        tracing::warn!(error = %e, "capture failed");
                        vec![]
                    }
                }
            };
            // Never leave the initiator waiting for a completion that will not come.
            let mut events = events;
            if !events.iter().any(|e| e.ends_capture()) {
                events.push(NikonEvent::CaptureComplete { transaction: tid });
            }
            tracing::debug!(?events, "Nikon capture reported");
            shared.lock().nikon_broadcast(&events);
        }));
        self.nikon.busy = 1;
        Reply::ok()
    }

    /// After a SetDevicePropValue of one shutter-speed property, the other follows (see the module
    /// doc).
    pub(super) fn nikon_sync_exposure_time(&mut self, code: u16) {
        let other = {
            let mut state = self.shared.lock();
            let (other, value) = match (code, state.props.value(code)) {
                (std_prop::EXPOSURE_TIME, Some(PropValue::U32(units))) => {
                    (nprop::EXPOSURE_TIME, units_to_fraction(units))
                }
                (nprop::EXPOSURE_TIME, Some(PropValue::U32(fraction))) => {
                    (std_prop::EXPOSURE_TIME, fraction_to_units(fraction))
                }
                _ => return,
            };
            let offered =
                state.props.desc(other).is_some_and(|d| value.is_some_and(|v| d.accepts(&PropValue::U32(v))));
            match value {
                Some(v) if offered && state.props.force(other, PropValue::U32(v)) => other,
                _ => return,
            }
        };
        self.shared.broadcast(ev::DEVICE_PROP_CHANGED, 0xFFFF_FFFF, &[u32::from(other)]);
    }

    fn set_live_view(&mut self, on: bool) {
        let changed = self.shared.lock().props.force(nprop::LIVE_VIEW_STATUS, PropValue::U8(u8::from(on)));
        if changed {
            self.shared.broadcast(
                ev::DEVICE_PROP_CHANGED,
                0xFFFF_FFFF,
                &[u32::from(nprop::LIVE_VIEW_STATUS)],
            );
        }
    }

    /// GetLiveViewImg: NotLiveView while live view is off, else the header and a fresh JPEG.
    async fn live_view_image(&mut self) -> Reply {
        if self.shared.lock().props.value(nprop::LIVE_VIEW_STATUS) != Some(PropValue::U8(1)) {
            return Reply::code(nikon::rc::NOT_LIVE_VIEW);
        }
        match self.shared.next_live_view_jpeg().await {
            Some(jpeg) => {
                let header = self.shared.config.nikon_live_view_header.min(MAX_LIVE_VIEW_HEADER);
                let mut out = Vec::with_capacity(header + jpeg.len());
                nikon::encode_live_view(header, &jpeg, &mut out);
                Reply::data(out)
            }
            None => Reply::code(rc::GENERAL_ERROR),
        }
    }

    /// GetProfileAllData: every slot, free ones with `valid` 0.
    fn profile_list(&self) -> Reply {
        let state = self.shared.lock();
        let slots = state
            .nikon
            .profiles
            .iter()
            .zip(1u8..)
            .map(|(profile, id)| match profile {
                None => ProfileSlot { id, ..ProfileSlot::default() },
                Some(p) => ProfileSlot {
                    id,
                    valid: 1,
                    name: p.name.clone(),
                    display_order: p.display_order,
                    device_type: p.device_type,
                    icon_type: p.icon_type,
                    creation_date: p.date_time.clone(),
                    last_usage_date: String::new(),
                    ssid: p.ssid.clone(),
                    trailing: 0,
                },
            })
            .collect();
        let list = ProfileList { version: nikon::PROFILE_VERSION, slots };
        match list.to_bytes() {
            Ok(bytes) => Reply::data(bytes),
            // Stored profiles were decoded from the 196-byte layout, so their fields always fit.
            Err(_) => Reply::code(rc::GENERAL_ERROR),
        }
    }

    /// SendProfileData(slot id) with the 196-byte profile.
    fn send_profile(&mut self, id: u32, data: Option<Sink>) -> Reply {
        let bytes = match data {
            Some(Sink::Memory { buf, overflow: false, .. }) => buf,
            _ => return Reply::code(rc::INVALID_PARAMETER),
        };
        let Ok(profile) = WifiProfile::decode(&bytes) else { return Reply::code(rc::INVALID_PARAMETER) };
        if profile.version != nikon::PROFILE_VERSION {
            return Reply::code(rc::INVALID_PARAMETER);
        }
        let mut state = self.shared.lock();
        let profiles = &mut state.nikon.profiles;
        let Some(index) = slot_index(id, profiles.len()) else { return Reply::code(rc::INVALID_PARAMETER) };
        if profiles[index].is_some() {
            let full = profiles.iter().all(Option::is_some);
            return Reply::code(if full { rc::STORE_FULL } else { rc::INVALID_PARAMETER });
        }
        tracing::debug!(slot = id, name = %profile.name, ssid = %profile.ssid, "Wi-Fi profile stored");
        profiles[index] = Some(profile);
        Reply::ok()
    }

    /// DeleteProfile(slot id); an id that names no slot is a no-op too (see the module doc).
    fn delete_profile(&mut self, id: u32) -> Reply {
        let mut state = self.shared.lock();
        let profiles = &mut state.nikon.profiles;
        if let Some(index) = slot_index(id, profiles.len()) {
            profiles[index] = None;
        }
        Reply::ok()
    }
}

/// A 0x500D value (1/10000 s) as a 0xD100 fraction `(num << 16) | den`: whole seconds as `n/1`,
/// shorter times as `1/den` with the denominator whose 0x500D value truncates to `units` (1/60 s is
/// 166 units, as the 0x500D list has it).
fn units_to_fraction(units: u32) -> Option<u32> {
    if units == 0 {
        return None;
    }
    if units >= 10_000 {
        let secs = units / 10_000;
        return (units.is_multiple_of(10_000) && secs <= 0xFFFF).then_some((secs << 16) | 1);
    }
    let den = 10_000 / units;
    [den, den + 1].into_iter().find(|d| 10_000 / d == units).map(|d| (1 << 16) | d)
}

/// A 0xD100 fraction as a 0x500D value (truncated to 1/10000 s); `None` for the special values and
/// a zero denominator.
fn fraction_to_units(fraction: u32) -> Option<u32> {
    let (num, den) = (fraction >> 16, fraction & 0xFFFF);
    if den == 0 || fraction >= 0xFFFF_FFFD {
        return None;
    }
    (u64::from(num) * 10_000 / u64::from(den)).try_into().ok().filter(|u| *u > 0)
}

/// The index of slot `id` (1-based) among `len` slots.
fn slot_index(id: u32, len: usize) -> Option<usize> {
    let index = usize::try_from(id).ok()?.checked_sub(1)?;
    (index < len).then_some(index)
}

/// The events of a card capture: ObjectAdded for new folders and the file, then CaptureComplete.
/// What a Nikon body reports for a picture taken with its own shutter button: the new objects.
pub(super) fn body_shot_events(shot: &Shot) -> Vec<NikonEvent> {
    let mut events = card_events(shot, 0);
    events.retain(|e| !e.ends_capture());
    events
}

fn card_events(shot: &Shot, tid: u32) -> Vec<NikonEvent> {
    let new_folders = shot.folders.iter().filter(|(_, new)| *new).map(|(h, _)| *h);
    let mut events: Vec<NikonEvent> = new_folders
        .chain(std::iter::once(shot.file))
        .map(|handle| NikonEvent::ObjectAdded { handle })
        .collect();
    events.push(NikonEvent::CaptureComplete { transaction: tid });
    events
}

/// Renders a picture into the SDRAM slot (replacing the previous one). The caller holds
/// `capture_lock`.
async fn capture_to_sdram(shared: &Arc<Shared>) -> std::io::Result<()> {
    let count = shared.captures.fetch_add(1, Ordering::Relaxed);
    let nanos =
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
    let seed = count.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ nanos;
    let data = tokio::task::spawn_blocking(move || {
        camctl_core::media::sample_jpeg(SDRAM_SIZE.0, SDRAM_SIZE.1, seed)
    })
    .await
    .map_err(std::io::Error::other)?;
    let mut state = shared.lock();
    state.nikon.sdram_count = state.nikon.sdram_count.wrapping_add(1);
    let name = format!("DSC_{:04}.JPG", state.nikon.sdram_count % 10_000);
    state.nikon.sdram = Some(SdramImage { data, name, mtime: SystemTime::now() });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::DataType;

    #[test]
    fn property_types_are_gphoto2_s() {
        let table = props();
        for setting in nikon::ExposureSetting::ALL {
            let desc = table.desc(setting.prop_code()).unwrap_or_else(|| panic!("{setting:?} missing"));
            assert_eq!(desc.data_type, setting.data_type(), "{setting:?}");
            assert!(matches!(desc.form, PropForm::Enumeration(_)), "{setting:?}");
            assert!(desc.accepts(&desc.current), "{setting:?}");
        }
        assert_eq!(table.value(nprop::LIVE_VIEW_STATUS), Some(PropValue::U8(0)));
        assert_eq!(table.value(nprop::LIVE_VIEW_PROHIBIT_CONDITION), Some(PropValue::U32(0)));
        assert_eq!(table.desc(nprop::LIVE_VIEW_STATUS).map(|d| d.data_type), Some(DataType::UINT8));
    }

    #[test]
    fn shutter_speeds_convert_both_ways() {
        let f = |num: u32, den: u32| (num << 16) | den;
        for (units, fraction) in
            [(80, f(1, 125)), (166, f(1, 60)), (333, f(1, 30)), (5, f(1, 2000)), (20000, f(2, 1))]
        {
            assert_eq!(units_to_fraction(units), Some(fraction), "{units}");
            assert_eq!(fraction_to_units(fraction), Some(units), "{fraction:#x}");
        }
        assert_eq!(units_to_fraction(0), None);
        assert_eq!(units_to_fraction(15000), None);
        assert_eq!(fraction_to_units(f(1, 4000)), Some(2));
        assert_eq!(fraction_to_units(0xFFFF_FFFF), None);
        assert_eq!(fraction_to_units(f(1, 0)), None);
        // Every 0x500D value of the table has its 0xD100 twin, and back.
        let table = props();
        let Some(PropForm::Enumeration(units)) = table.desc(std_prop::EXPOSURE_TIME).map(|d| d.form) else {
            panic!()
        };
        let nikon = table.desc(nprop::EXPOSURE_TIME).unwrap();
        for u in units {
            let PropValue::U32(u) = u else { panic!() };
            let fraction = units_to_fraction(u).unwrap_or_else(|| panic!("{u}"));
            assert!(nikon.accepts(&PropValue::U32(fraction)), "{u} -> {fraction:#x}");
        }
    }

    #[test]
    fn slots() {
        assert_eq!(slot_index(0, 5), None);
        assert_eq!(slot_index(1, 5), Some(0));
        assert_eq!(slot_index(5, 5), Some(4));
        assert_eq!(slot_index(6, 5), None);
        assert_eq!(slot_index(u32::MAX, 5), None);
    }
}
