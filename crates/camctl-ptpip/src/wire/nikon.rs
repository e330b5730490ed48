//! The Nikon PTP dialect's wire layer: codes, the GetEvent 0x90C7 record list, the live-view image
//! reply, the Wi-Fi profile datasets, the exposure value tables with gphoto2's names, and user-facing
//! explanations of Nikon response codes. Pure and socket-free, shared by both roles: the client
//! decodes what a camera sends, the emulator encodes what a camera would send.
//!
//! Facts come from `shared/protocols/ptpip-vendors.md` §3 (libgphoto2's ptp2 camlib, digiCamControl
//! for the live-view header) and the seed's "Profile creation packet" table; where those sources
//! disagree or are silent the decoder is tolerant and the choice is documented at the item.
//!
//! Open points and how this module settles them:
//! - live-view header length (128 / 384 / 64 by source, nothing for Z bodies): a hint that is
//!   checked, with a bounded search for the JPEG start as the fallback ([`split_live_view`]);
//! - the profile's subnet byte at 0x3E (prefix length in gphoto2, "first byte" in the seed): kept
//!   raw, with [`prefix_len`] for gphoto2's reading;
//! - the GetProfileAllData version byte, per-slot trailing byte and name field sizes: kept as
//!   sent, and the emulator side writes the profile dataset's 17/33-byte fields;
//! - CompressionSetting 0x5004 tables differ per model: only the reference's table is named,
//!   other values read `Unknown value 0xNN` and still round-trip;
//! - GetEvent counts beyond the data: a typed error where gphoto2 silently reads no events.

use std::fmt;
use std::net::Ipv4Addr;

use super::WireError;
use super::bytes::{Reader, put_ptp_string, put_u16, put_u16_array, put_u32};
use super::codes;
use super::dataset::{DataType, PropValue};

/// Nikon vendor operation codes (`PTP_OC_NIKON_*` in libgphoto2's `ptp.h`).
pub mod op {
    /// GetProfileAllData: data-in, the Wi-Fi profile slot list ([`super::ProfileList`]).
    pub const GET_PROFILE_ALL_DATA: u16 = 0x9006;
    /// SendProfileData(slot id): data-out, one 196-byte [`super::WifiProfile`].
    pub const SEND_PROFILE_DATA: u16 = 0x9007;
    /// DeleteProfile(slot id): no data.
    pub const DELETE_PROFILE: u16 = 0x9008;
    /// SetProfileData: gphoto2 never sends it, it only requires it in OperationsSupported.
    pub const SET_PROFILE_DATA: u16 = 0x9009;
    /// InitiateCaptureRecInSdram(0xFFFFFFFF): 1st/2nd generation capture to the camera's RAM.
    pub const INITIATE_CAPTURE_REC_IN_SDRAM: u16 = 0x90C0;
    /// ChangeCameraMode(1 = PC control, 0 = camera); 0xA003 is tolerated.
    pub const CHANGE_CAMERA_MODE: u16 = 0x90C2;
    /// DelImageSDRAM(handle): drops a captured image from the camera's RAM.
    pub const DEL_IMAGE_SDRAM: u16 = 0x90C3;
    /// GetEvent: data-in, the record list of [`super::decode_events`].
    pub const GET_EVENT: u16 = 0x90C7;
    /// DeviceReady: no data; busy codes while the camera works ([`super::DeviceReady`]).
    pub const DEVICE_READY: u16 = 0x90C8;
    /// GetVendorPropCodes: data-in, an AUINT16 of vendor property codes.
    pub const GET_VENDOR_PROP_CODES: u16 = 0x90CA;
    /// AfCaptureSDRAM: autofocus then capture to RAM (2nd generation).
    pub const AF_CAPTURE_SDRAM: u16 = 0x90CB;
    /// StartLiveView: accepted (OK or busy) even when live view already runs.
    pub const START_LIVE_VIEW: u16 = 0x9201;
    /// EndLiveView: gphoto2 sends it at every exit; a non-OK reply aborts its exit.
    pub const END_LIVE_VIEW: u16 = 0x9202;
    /// GetLiveViewImg: data-in, a header then a JPEG ([`super::split_live_view`]).
    pub const GET_LIVE_VIEW_IMG: u16 = 0x9203;
    /// InitiateCaptureRecInMedia(AF mode, target): 3rd generation capture ([`super::capture`]).
    pub const INITIATE_CAPTURE_REC_IN_MEDIA: u16 = 0x9207;
    /// GetEventEx: the multi-parameter event list gphoto2 prefers when advertised.
    pub const GET_EVENT_EX: u16 = 0x941C;
    /// GetVendorCodes(0xD): data-in AUINT32, appended to the property list by gphoto2.
    pub const GET_VENDOR_CODES: u16 = 0x9439;

    /// The `ptp.h` name of a Nikon operation code, `None` for codes this module does not know.
    pub fn name(code: u16) -> Option<&'static str> {
        Some(match code {
            GET_PROFILE_ALL_DATA => "GetProfileAllData",
            SEND_PROFILE_DATA => "SendProfileData",
            DELETE_PROFILE => "DeleteProfile",
            SET_PROFILE_DATA => "SetProfileData",
            INITIATE_CAPTURE_REC_IN_SDRAM => "InitiateCaptureRecInSdram",
            CHANGE_CAMERA_MODE => "ChangeCameraMode",
            DEL_IMAGE_SDRAM => "DelImageSDRAM",
            GET_EVENT => "GetEvent",
            DEVICE_READY => "DeviceReady",
            GET_VENDOR_PROP_CODES => "GetVendorPropCodes",
            AF_CAPTURE_SDRAM => "AfCaptureSDRAM",
            START_LIVE_VIEW => "StartLiveView",
            END_LIVE_VIEW => "EndLiveView",
            GET_LIVE_VIEW_IMG => "GetLiveViewImg",
            INITIATE_CAPTURE_REC_IN_MEDIA => "InitiateCaptureRecInMedia",
            GET_EVENT_EX => "GetEventEx",
            GET_VENDOR_CODES => "GetVendorCodes",
            _ => return None,
        })
    }

    /// Operations whose data phase goes initiator -> responder.
    pub fn has_data_out(code: u16) -> bool {
        code == SEND_PROFILE_DATA
    }
}

/// Parameters of InitiateCaptureRecInMedia 0x9207 and the SDRAM object handle.
pub mod capture {
    /// First parameter: autofocus before the capture.
    pub const AF: u32 = 0xFFFF_FFFE;
    /// First parameter: no autofocus (gphoto2's default, and the only parameter of the 1-param
    /// form it falls back to after ParameterNotSupported 0x2006).
    pub const NO_AF: u32 = 0xFFFF_FFFF;
    /// Second parameter: capture into the camera's RAM (gphoto2's default target).
    pub const TARGET_SDRAM: u32 = 1;
    /// Second parameter: capture onto the memory card.
    pub const TARGET_CARD: u32 = 0;
    /// The handle gphoto2 uses for an SDRAM image when ObjectAddedInSdram carries 0.
    pub const SDRAM_HANDLE: u32 = 0xFFFF_0001;
}

/// Nikon vendor device property codes used by gphoto2's Nikon paths (the standard 0x50xx codes
/// are in [`codes::prop`]).
pub mod prop {
    /// ExposureTime as `(numerator << 16) | denominator` (gphoto2's `shutterspeed2`).
    pub const EXPOSURE_TIME: u16 = 0xD100;
    /// RecordingMedia: gphoto2 sets u8 1 before live view.
    pub const RECORDING_MEDIA: u16 = 0xD10B;
    /// ISOAuto (on/off, u8).
    pub const ISO_AUTO: u16 = 0xD054;
    /// ISO_Auto, the later code for the same switch (on/off, u8).
    pub const ISO_AUTO_LATER: u16 = 0xD16A;
    /// LiveViewStatus: u8, non-zero = live view on.
    pub const LIVE_VIEW_STATUS: u16 = 0xD1A2;
    /// LiveViewProhibitCondition: u32 bit set, 0 = allowed ([`super::live_view_prohibit_reasons`]).
    pub const LIVE_VIEW_PROHIBIT_CONDITION: u16 = 0xD1A4;
}

/// Nikon vendor event codes (0xC1xx; the standard 0x40xx codes are in [`codes::ev`]).
pub mod ev {
    /// ObjectAddedInSdram(handle; 0 means [`super::capture::SDRAM_HANDLE`]).
    pub const OBJECT_ADDED_IN_SDRAM: u16 = 0xC101;
    /// CaptureCompleteRecInSdram.
    pub const CAPTURE_COMPLETE_REC_IN_SDRAM: u16 = 0xC102;
}

/// Nikon vendor response codes (`PTP_RC_NIKON_*`); names by [`rc::name`], advice by
/// [`explain_response`].
#[allow(missing_docs)]
pub mod rc {
    pub const HARDWARE_ERROR: u16 = 0xA001;
    pub const OUT_OF_FOCUS: u16 = 0xA002;
    pub const CHANGE_CAMERA_MODE_FAILED: u16 = 0xA003;
    pub const INVALID_STATUS: u16 = 0xA004;
    pub const SET_PROPERTY_NOT_SUPPORTED: u16 = 0xA005;
    pub const WB_RESET_ERROR: u16 = 0xA006;
    pub const DUST_REFERENCE_ERROR: u16 = 0xA007;
    pub const SHUTTER_SPEED_BULB: u16 = 0xA008;
    pub const MIRROR_UP_SEQUENCE: u16 = 0xA009;
    pub const CAMERA_MODE_NOT_ADJUST_FNUMBER: u16 = 0xA00A;
    pub const NOT_LIVE_VIEW: u16 = 0xA00B;
    pub const MF_DRIVE_STEP_END: u16 = 0xA00C;
    pub const MF_DRIVE_STEP_INSUFFICIENCY: u16 = 0xA00E;
    pub const NO_FULL_HD_PRESENT: u16 = 0xA00F;
    pub const STORE_ERROR: u16 = 0xA021;
    /// `ptp.h` gives 0xA022 two names: StoreUnformatted (Z6 SDK) and AdvancedTransferCancel.
    pub const STORE_UNFORMATTED: u16 = 0xA022;
    pub const BULB_RELEASE_BUSY: u16 = 0xA200;
    pub const SILENT_RELEASE_BUSY: u16 = 0xA201;
    pub const WAITING_2ND_RELEASE: u16 = 0xA207;

    /// The name of a response code: Nikon's for 0xAxxx codes it knows, else the standard name.
    pub fn name(code: u16) -> &'static str {
        match code {
            HARDWARE_ERROR => "Nikon_HardwareError",
            OUT_OF_FOCUS => "Nikon_OutOfFocus",
            CHANGE_CAMERA_MODE_FAILED => "Nikon_ChangeCameraModeFailed",
            INVALID_STATUS => "Nikon_InvalidStatus",
            SET_PROPERTY_NOT_SUPPORTED => "Nikon_SetPropertyNotSupported",
            WB_RESET_ERROR => "Nikon_WbResetError",
            DUST_REFERENCE_ERROR => "Nikon_DustReferenceError",
            SHUTTER_SPEED_BULB => "Nikon_ShutterSpeedBulb",
            MIRROR_UP_SEQUENCE => "Nikon_MirrorUpSequence",
            CAMERA_MODE_NOT_ADJUST_FNUMBER => "Nikon_CameraModeNotAdjustFNumber",
            NOT_LIVE_VIEW => "Nikon_NotLiveView",
            MF_DRIVE_STEP_END => "Nikon_MfDriveStepEnd",
            MF_DRIVE_STEP_INSUFFICIENCY => "Nikon_MfDriveStepInsufficiency",
            NO_FULL_HD_PRESENT => "Nikon_NoFullHDPresent",
            STORE_ERROR => "Nikon_StoreError",
            STORE_UNFORMATTED => "Nikon_StoreUnformatted",
            BULB_RELEASE_BUSY => "Nikon_Bulb_Release_Busy",
            SILENT_RELEASE_BUSY => "Nikon_Silent_Release_Busy",
            WAITING_2ND_RELEASE => "Nikon_Waiting_2ndRelease",
            other => super::codes::rc::name(other),
        }
    }
}

/// Reads with a field name in the error, because the shared reader's truncation error is generic.
fn named<T>(name: &'static str, result: Result<T, WireError>) -> Result<T, WireError> {
    result.map_err(|e| match e {
        WireError::Truncated(_) => WireError::Truncated(name),
        other => other,
    })
}

// ---------------------------------------------------------------------------------------------
// GetEvent 0x90C7
// ---------------------------------------------------------------------------------------------

/// Encoded size of one GetEvent 0x90C7 record: `u16 code` + `u32 param`.
pub const EVENT_RECORD_LEN: usize = 6;

/// The most records one GetEvent reply can carry (its count is a `u16`). The decoder never
/// allocates more than `(len - 2) / 6` records, so the data length bounds memory too.
pub const MAX_EVENTS_PER_REPLY: usize = u16::MAX as usize;

/// One event from Nikon's GetEvent 0x90C7 list, typed by code. Every record decodes (unknown codes
/// and unexpected parameters become [`NikonEvent::Unknown`]) and re-encodes to the same 6 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NikonEvent {
    /// 0x4002: a new object on a card (or, with handle 0/0xFFFF0001, in SDRAM).
    ObjectAdded {
        /// Object handle.
        handle: u32,
    },
    /// 0x4003.
    ObjectRemoved {
        /// Object handle.
        handle: u32,
    },
    /// 0x4004.
    StoreAdded {
        /// Storage id.
        storage: u32,
    },
    /// 0x4005.
    StoreRemoved {
        /// Storage id.
        storage: u32,
    },
    /// 0x4006 with a 16-bit property code (a parameter above 0xFFFF decodes as `Unknown`).
    DevicePropChanged {
        /// Property code.
        prop: u16,
    },
    /// 0x4007.
    ObjectInfoChanged {
        /// Object handle.
        handle: u32,
    },
    /// 0x4008.
    DeviceInfoChanged {
        /// The parameter as sent (no meaning known).
        param: u32,
    },
    /// 0x400A.
    StoreFull {
        /// Storage id.
        storage: u32,
    },
    /// 0x400C.
    StorageInfoChanged {
        /// Storage id.
        storage: u32,
    },
    /// 0x400D: the capture ended (card captures: after the ObjectAdded events).
    CaptureComplete {
        /// The InitiateCapture transaction id in standard PTP; kept as sent.
        transaction: u32,
    },
    /// 0xC101: a captured image waits in SDRAM; gphoto2 ends its capture wait on it.
    ObjectAddedInSdram {
        /// The handle as sent; use [`NikonEvent::sdram_handle`] for the one to fetch.
        handle: u32,
    },
    /// 0xC102: an SDRAM capture ended.
    CaptureCompleteRecInSdram {
        /// The parameter as sent (no meaning known).
        param: u32,
    },
    /// Any other record, kept whole.
    Unknown {
        /// Event code.
        code: u16,
        /// Parameter.
        param: u32,
    },
}

impl NikonEvent {
    /// The typed event of one record.
    pub fn from_record(code: u16, param: u32) -> NikonEvent {
        match code {
            codes::ev::OBJECT_ADDED => NikonEvent::ObjectAdded { handle: param },
            codes::ev::OBJECT_REMOVED => NikonEvent::ObjectRemoved { handle: param },
            codes::ev::STORE_ADDED => NikonEvent::StoreAdded { storage: param },
            codes::ev::STORE_REMOVED => NikonEvent::StoreRemoved { storage: param },
            codes::ev::DEVICE_PROP_CHANGED => match u16::try_from(param) {
                Ok(prop) => NikonEvent::DevicePropChanged { prop },
                Err(_) => NikonEvent::Unknown { code, param },
            },
            codes::ev::OBJECT_INFO_CHANGED => NikonEvent::ObjectInfoChanged { handle: param },
            codes::ev::DEVICE_INFO_CHANGED => NikonEvent::DeviceInfoChanged { param },
            codes::ev::STORE_FULL => NikonEvent::StoreFull { storage: param },
            codes::ev::STORAGE_INFO_CHANGED => NikonEvent::StorageInfoChanged { storage: param },
            codes::ev::CAPTURE_COMPLETE => NikonEvent::CaptureComplete { transaction: param },
            ev::OBJECT_ADDED_IN_SDRAM => NikonEvent::ObjectAddedInSdram { handle: param },
            ev::CAPTURE_COMPLETE_REC_IN_SDRAM => NikonEvent::CaptureCompleteRecInSdram { param },
            _ => NikonEvent::Unknown { code, param },
        }
    }

    /// The record `(code, param)` this event encodes to.
    pub fn to_record(self) -> (u16, u32) {
        match self {
            NikonEvent::ObjectAdded { handle } => (codes::ev::OBJECT_ADDED, handle),
            NikonEvent::ObjectRemoved { handle } => (codes::ev::OBJECT_REMOVED, handle),
            NikonEvent::StoreAdded { storage } => (codes::ev::STORE_ADDED, storage),
            NikonEvent::StoreRemoved { storage } => (codes::ev::STORE_REMOVED, storage),
            NikonEvent::DevicePropChanged { prop } => (codes::ev::DEVICE_PROP_CHANGED, u32::from(prop)),
            NikonEvent::ObjectInfoChanged { handle } => (codes::ev::OBJECT_INFO_CHANGED, handle),
            NikonEvent::DeviceInfoChanged { param } => (codes::ev::DEVICE_INFO_CHANGED, param),
            NikonEvent::StoreFull { storage } => (codes::ev::STORE_FULL, storage),
            NikonEvent::StorageInfoChanged { storage } => (codes::ev::STORAGE_INFO_CHANGED, storage),
            NikonEvent::CaptureComplete { transaction } => (codes::ev::CAPTURE_COMPLETE, transaction),
            NikonEvent::ObjectAddedInSdram { handle } => (ev::OBJECT_ADDED_IN_SDRAM, handle),
            NikonEvent::CaptureCompleteRecInSdram { param } => (ev::CAPTURE_COMPLETE_REC_IN_SDRAM, param),
            NikonEvent::Unknown { code, param } => (code, param),
        }
    }

    /// The event code.
    pub fn code(self) -> u16 {
        self.to_record().0
    }

    /// For ObjectAddedInSdram: the handle to fetch (0 means 0xFFFF0001, as gphoto2 reads it).
    pub fn sdram_handle(self) -> Option<u32> {
        match self {
            NikonEvent::ObjectAddedInSdram { handle: 0 } => Some(capture::SDRAM_HANDLE),
            NikonEvent::ObjectAddedInSdram { handle } => Some(handle),
            _ => None,
        }
    }

    /// Whether this event ends a capture wait the way gphoto2's does: ObjectAddedInSdram, or one
    /// of the two capture-complete events.
    pub fn ends_capture(self) -> bool {
        matches!(
            self,
            NikonEvent::ObjectAddedInSdram { .. }
                | NikonEvent::CaptureComplete { .. }
                | NikonEvent::CaptureCompleteRecInSdram { .. }
        )
    }
}

/// Decodes GetEvent 0x90C7 data: `u16 count`, then `count` records of `u16 code` + `u32 param`.
///
/// Empty data is an empty list (what a body with nothing to report may send). A count larger than
/// the records present is [`WireError::BadCount`] (gphoto2 treats it as no events; a caller may do
/// the same after logging). Bytes after the last record are ignored, as gphoto2 ignores them.
pub fn decode_events(data: &[u8]) -> Result<Vec<NikonEvent>, WireError> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let mut r = Reader::new(data);
    let count = usize::from(named("event count", r.u16())?);
    if count > r.remaining() / EVENT_RECORD_LEN {
        return Err(WireError::BadCount(count as u64));
    }
    (0..count)
        .map(|_| {
            let code = named("event code", r.u16())?;
            let param = named("event parameter", r.u32())?;
            Ok(NikonEvent::from_record(code, param))
        })
        .collect()
}

/// Appends GetEvent 0x90C7 data for `events`; more than [`MAX_EVENTS_PER_REPLY`] is
/// [`WireError::TooLarge`] (the emulator should queue the rest for the next poll).
pub fn encode_events(events: &[NikonEvent], out: &mut Vec<u8>) -> Result<(), WireError> {
    let count = u16::try_from(events.len()).map_err(|_| WireError::TooLarge(events.len()))?;
    out.reserve(2 + events.len() * EVENT_RECORD_LEN);
    put_u16(out, count);
    for event in events {
        let (code, param) = event.to_record();
        put_u16(out, code);
        put_u32(out, param);
    }
    Ok(())
}

/// Most parameters a GetEventEx 0x941C record may carry (gphoto2's limit).
pub const MAX_EVENT_EX_PARAMS: usize = 5;

/// One GetEventEx 0x941C record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NikonEventEx {
    /// Event code.
    pub code: u16,
    /// Up to [`MAX_EVENT_EX_PARAMS`] parameters.
    pub params: Vec<u32>,
}

impl NikonEventEx {
    /// The typed event, from the code and the first parameter (0 when there is none).
    pub fn event(&self) -> NikonEvent {
        NikonEvent::from_record(self.code, self.params.first().copied().unwrap_or(0))
    }
}

/// Decodes GetEventEx 0x941C data: `u16 count`, two bytes of unknown meaning (ignored, as gphoto2
/// does), then per event `u16 code`, `u16 nparams` (at most 5, else [`WireError::BadCount`]) and the
/// `u32` params. Empty data is an empty list; every record needs at least 4 bytes, which bounds the
/// allocation by the data length.
pub fn decode_events_ex(data: &[u8]) -> Result<Vec<NikonEventEx>, WireError> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let mut r = Reader::new(data);
    let count = usize::from(named("event count", r.u16())?);
    named("event list header", r.take(2))?;
    if count > r.remaining() / 4 {
        return Err(WireError::BadCount(count as u64));
    }
    let mut events = Vec::with_capacity(count);
    for _ in 0..count {
        let code = named("event code", r.u16())?;
        let n = usize::from(named("event parameter count", r.u16())?);
        if n > MAX_EVENT_EX_PARAMS {
            return Err(WireError::BadCount(n as u64));
        }
        let params = (0..n).map(|_| named("event parameter", r.u32())).collect::<Result<_, _>>()?;
        events.push(NikonEventEx { code, params });
    }
    Ok(events)
}

/// Appends GetEventEx 0x941C data (bytes 2-3 written as 0). Too many events or parameters is
/// [`WireError::TooLarge`].
pub fn encode_events_ex(events: &[NikonEventEx], out: &mut Vec<u8>) -> Result<(), WireError> {
    let count = u16::try_from(events.len()).map_err(|_| WireError::TooLarge(events.len()))?;
    if let Some(e) = events.iter().find(|e| e.params.len() > MAX_EVENT_EX_PARAMS) {
        return Err(WireError::TooLarge(e.params.len()));
    }
    put_u16(out, count);
    put_u16(out, 0);
    for e in events {
        put_u16(out, e.code);
        put_u16(out, e.params.len() as u16);
        e.params.iter().for_each(|p| put_u32(out, *p));
    }
    Ok(())
}

/// Decodes GetVendorPropCodes 0x90CA data (an AUINT16; the count is checked before allocating).
pub fn decode_vendor_prop_codes(data: &[u8]) -> Result<Vec<u16>, WireError> {
    named("vendor property codes", Reader::new(data).u16_array())
}

/// Appends GetVendorPropCodes 0x90CA data.
pub fn encode_vendor_prop_codes(codes: &[u16], out: &mut Vec<u8>) {
    put_u16_array(out, codes);
}

// ---------------------------------------------------------------------------------------------
// DeviceReady 0x90C8
// ---------------------------------------------------------------------------------------------

/// What a DeviceReady 0x90C8 response means to a poller (gphoto2's `nikon_wait_busy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceReady {
    /// DeviceBusy 0x2019 or Bulb_Release_Busy 0xA200: sleep and ask again.
    Busy,
    /// OK, or Silent_Release_Busy 0xA201 (which gphoto2 treats as done).
    Ready,
    /// Any other code: stop polling and fail with it.
    Failed(u16),
}

impl DeviceReady {
    /// The meaning of a DeviceReady response code.
    pub fn from_response(code: u16) -> DeviceReady {
        match code {
            codes::rc::DEVICE_BUSY | rc::BULB_RELEASE_BUSY => DeviceReady::Busy,
            codes::rc::OK | rc::SILENT_RELEASE_BUSY => DeviceReady::Ready,
            other => DeviceReady::Failed(other),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// GetLiveViewImg 0x9203
// ---------------------------------------------------------------------------------------------

/// How long the header before the JPEG in a GetLiveViewImg reply is. The sources disagree
/// (gphoto2's comment says 128 bytes, digiCamControl strips 384, and 64 for D3X/D700) and no
/// source covers the Z bodies, so a known length is only a hint: [`split_live_view`] checks it and
/// falls back to searching for the JPEG start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveViewHeaderLen {
    /// The header is believed to be this many bytes.
    Known(usize),
    /// Search for the JPEG start (within [`MAX_LIVE_VIEW_HEADER`] bytes).
    Unknown,
}

impl LiveViewHeaderLen {
    /// digiCamControl's header length for most bodies.
    pub const DEFAULT_BYTES: usize = 384;
    /// digiCamControl's header length for the D3X and D700.
    pub const D3X_D700_BYTES: usize = 64;
    /// The length gphoto2's source mentions in a comment (it does not use it).
    pub const GPHOTO2_COMMENT_BYTES: usize = 128;

    /// The best-known hint for a DeviceInfo Model string: 64 for D3X/D700, else the 384 default.
    pub fn for_model(model: &str) -> LiveViewHeaderLen {
        let model = model.trim().trim_start_matches("Nikon ").trim();
        match model {
            "D3X" | "D3x" | "D700" => LiveViewHeaderLen::Known(Self::D3X_D700_BYTES),
            _ => LiveViewHeaderLen::Known(Self::DEFAULT_BYTES),
        }
    }
}

/// The longest header the JPEG-start search looks through: ten times the longest known header, so
/// a reply without a JPEG costs a bounded scan rather than a pass over megabytes.
pub const MAX_LIVE_VIEW_HEADER: usize = 4096;

/// A GetLiveViewImg reply split into its header and its JPEG (both borrowed from the reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveViewImage<'a> {
    /// The bytes before the JPEG (layout per model, not decoded here: endianness unknown).
    pub header: &'a [u8],
    /// The JPEG from its SOI `FF D8` through its last EOI `FF D9`.
    pub jpeg: &'a [u8],
}

const JPEG_SOI: [u8; 3] = [0xFF, 0xD8, 0xFF];
const JPEG_EOI: [u8; 2] = [0xFF, 0xD9];

/// Splits a GetLiveViewImg 0x9203 reply. The JPEG starts at the hinted header length when a JPEG
/// start (`FF D8 FF`: SOI then a marker, which a header field rarely imitates) is there, else at
/// the first one within [`MAX_LIVE_VIEW_HEADER`] bytes. It ends after the last `FF D9`, which drops
/// any padding after the image without cutting at an embedded thumbnail's end.
///
/// No JPEG start, or no end after it, is [`WireError::Truncated`] naming which was missing.
pub fn split_live_view(data: &[u8], hint: LiveViewHeaderLen) -> Result<LiveViewImage<'_>, WireError> {
    let hinted = match hint {
        LiveViewHeaderLen::Known(n) => data.get(n..).filter(|rest| rest.starts_with(&JPEG_SOI)).map(|_| n),
        LiveViewHeaderLen::Unknown => None,
    };
    let window = &data[..data.len().min(MAX_LIVE_VIEW_HEADER + JPEG_SOI.len())];
    let start = hinted
        .or_else(|| window.windows(JPEG_SOI.len()).position(|w| w == JPEG_SOI))
        .ok_or(WireError::Truncated("live view JPEG start"))?;
    let body = &data[start..];
    let end = body
        .windows(JPEG_EOI.len())
        .rposition(|w| w == JPEG_EOI)
        .filter(|&at| at >= 2)
        .ok_or(WireError::Truncated("live view JPEG end"))?;
    Ok(LiveViewImage { header: &data[..start], jpeg: &body[..end + JPEG_EOI.len()] })
}

/// Appends a GetLiveViewImg reply: `header_len` zero bytes (so the header can never look like a
/// JPEG start) then the JPEG.
pub fn encode_live_view(header_len: usize, jpeg: &[u8], out: &mut Vec<u8>) {
    out.reserve(header_len + jpeg.len());
    out.resize(out.len() + header_len, 0);
    out.extend_from_slice(jpeg);
}

/// Why live view cannot start, from LiveViewProhibitCondition 0xD1A4 (0 = allowed): one reason
/// per set bit, `"bit N"` for bits no source names.
pub fn live_view_prohibit_reasons(condition: u32) -> Vec<String> {
    const NAMED: &[(u32, &str)] = &[
        (2, "a capture sequence is running"),
        (4, "a button is pressed"),
        (5, "the lens is not at its minimum aperture"),
        (8, "the battery is low"),
        (9, "TTL error"),
        (12, "an image is still waiting in the camera's memory (SDRAM)"),
        (14, "no memory card"),
        (15, "the camera is processing"),
        (17, "the camera is too hot"),
        (18, "the memory card is write-protected"),
        (19, "memory card error"),
        (20, "the memory card is not formatted"),
        (21, "the shutter speed is set to Bulb"),
        (22, "mirror-up mode"),
        (24, "the lens is retracted"),
        (31, "the exposure mode is not P, A, S or M"),
    ];
    (0..32)
        .filter(|bit| condition & (1 << bit) != 0)
        .map(|bit| {
            NAMED.iter().find(|n| n.0 == bit).map(|n| n.1.to_string()).unwrap_or_else(|| format!("bit {bit}"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Wi-Fi profiles: SendProfileData 0x9007 (the seed's "Profile creation packet")
// ---------------------------------------------------------------------------------------------

/// Encoded size of one [`WifiProfile`] (0xC4), the data SendProfileData 0x9007 carries.
pub const PROFILE_LEN: usize = 0xC4;
/// The only profile version the seed and gphoto2 write.
pub const PROFILE_VERSION: u8 = 0x64;
/// Longest profile name, in bytes (the field holds one more, for the NUL).
pub const PROFILE_NAME_MAX: usize = 16;
/// Longest SSID, in bytes (the field holds one more, for the NUL).
pub const PROFILE_SSID_MAX: usize = 32;
/// Size of the key field, whatever the key's length.
pub const PROFILE_KEY_LEN: usize = 64;
/// Longest date-time text, in UTF-16 units (the field holds 16 units with the NUL).
pub const PROFILE_DATE_MAX: usize = 15;
/// The date-time gphoto2 writes (a placeholder, not the current time).
pub const PROFILE_PLACEHOLDER_DATE: &str = "19990909T090909";

const NAME_FIELD: usize = PROFILE_NAME_MAX + 1;
const SSID_FIELD: usize = PROFILE_SSID_MAX + 1;
const DATE_UNITS: usize = PROFILE_DATE_MAX + 1;

/// DeviceType values (offset 0x17).
pub mod device_type {
    /// A computer (what gphoto2 writes).
    pub const COMPUTER: u8 = 0;
    /// A printer.
    pub const PRINTER: u8 = 1;
}

/// AddressSetting values (offset 0x43).
pub mod address_setting {
    /// Manual address (gphoto2 writes it when an IP address is given).
    pub const MANUAL: u8 = 0;
    /// DHCP in ad-hoc mode: a random 169.254.1.x address.
    pub const DHCP_AD_HOC: u8 = 2;
    /// DHCP in managed mode, falling back to ad-hoc (gphoto2's choice without an address).
    pub const DHCP_MANAGED: u8 = 3;
}

/// AccessMode values (offset 0x44).
pub mod access_mode {
    /// Managed / infrastructure.
    pub const MANAGED: u8 = 0;
    /// Ad-hoc.
    pub const AD_HOC: u8 = 1;
}

/// Authentication values (offset 0x6B; gphoto2 always writes 0).
pub mod authentication {
    /// Open.
    pub const OPEN: u8 = 0;
    /// Shared key.
    pub const SHARED: u8 = 1;
    /// WPA-PSK.
    pub const WPA_PSK: u8 = 2;
}

/// Encryption values (offset 0x6C; gphoto2 writes 0-2, "TKIP not supported").
pub mod encryption {
    /// None.
    pub const NONE: u8 = 0;
    /// WEP 64 bits (5-byte key).
    pub const WEP64: u8 = 1;
    /// WEP 128 bits (13-byte key).
    pub const WEP128: u8 = 2;
    /// TKIP.
    pub const TKIP: u8 = 3;
}

/// Why a [`WifiProfile`] or [`ProfileList`] cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// A text or byte field longer than its slot.
    #[error("{field} is {len} bytes, at most {max} fit")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The most that fits.
        max: usize,
    },
    /// A text field with a NUL inside, which would end it early on the camera.
    #[error("{field} contains a NUL character")]
    ContainsNul {
        /// Which field.
        field: &'static str,
    },
}

/// The 64-byte key field of a profile. Its `Debug` never shows the bytes, so a profile can be
/// logged without leaking the Wi-Fi key.
#[derive(Clone, PartialEq, Eq)]
pub struct WifiKey([u8; PROFILE_KEY_LEN]);

impl WifiKey {
    /// A key of up to 64 bytes, zero-padded.
    pub fn new(key: &[u8]) -> Result<WifiKey, ProfileError> {
        if key.len() > PROFILE_KEY_LEN {
            return Err(ProfileError::TooLong { field: "key", len: key.len(), max: PROFILE_KEY_LEN });
        }
        let mut field = [0u8; PROFILE_KEY_LEN];
        field[..key.len()].copy_from_slice(key);
        Ok(WifiKey(field))
    }

    /// The whole 64-byte field as sent.
    pub fn field(&self) -> &[u8; PROFILE_KEY_LEN] {
        &self.0
    }

    /// Whether every byte is zero (no key).
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|b| *b == 0)
    }
}

impl Default for WifiKey {
    fn default() -> Self {
        WifiKey([0; PROFILE_KEY_LEN])
    }
}

impl fmt::Debug for WifiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_empty() { "WifiKey(<none>)" } else { "WifiKey(<redacted>)" })
    }
}

/// One Nikon Wi-Fi profile, laid out exactly as the seed's "Profile creation packet" (offsets in
/// the field docs). [`WifiProfile::encode`] writes the 196 bytes; [`WifiProfile::decode`] reads
/// them. `Debug` redacts the key.
#[derive(Clone, PartialEq, Eq)]
pub struct WifiProfile {
    /// 0x00: version, [`PROFILE_VERSION`].
    pub version: u8,
    /// 0x05: the profile name, at most 16 bytes (u32 17 at 0x01, then 17 bytes NUL-padded).
    pub name: String,
    /// 0x16: display order (the seed: always 0).
    pub display_order: u8,
    /// 0x17: [`device_type`].
    pub device_type: u8,
    /// 0x18: icon type (1 is valid; what gphoto2 writes).
    pub icon_type: u8,
    /// 0x1A: date-time text like `YYYYMMDDThhmmss`, at most 15 units (u8 16 at 0x19, then 16
    /// UTF-16LE units NUL-padded).
    pub date_time: String,
    /// 0x3A: IP address in network byte order; 0.0.0.0 with DHCP.
    pub ip_address: Ipv4Addr,
    /// 0x3E: the single subnet byte. Its meaning is unsettled: gphoto2 writes the prefix length
    /// (24 for 255.255.255.0, see [`prefix_len`]), the seed says "first byte" of the mask.
    pub subnet_mask: u8,
    /// 0x3F: gateway in network byte order.
    pub gateway: Ipv4Addr,
    /// 0x43: [`address_setting`].
    pub address_setting: u8,
    /// 0x44: [`access_mode`].
    pub access_mode: u8,
    /// 0x45: channel.
    pub channel: u8,
    /// 0x4A: SSID, at most 32 bytes (u32 33 at 0x46, then 33 bytes NUL-padded).
    pub ssid: String,
    /// 0x6B: [`authentication`].
    pub authentication: u8,
    /// 0x6C: [`encryption`].
    pub encryption: u8,
    /// 0x71: the key field (u32 64 at 0x6D, then 64 bytes).
    pub key: WifiKey,
    /// 0xB1: key number (gphoto2 writes 1).
    pub key_number: u8,
    /// 0xB2: the initiator's PTP/IP GUID (the one its Init_Command_Request sends).
    pub machine_guid: [u8; 16],
    /// 0xC2: key length in bytes: 5 for WEP64, 13 for WEP128 (gphoto2: 0 otherwise).
    pub key_length: u16,
}

impl Default for WifiProfile {
    /// What gphoto2 writes for an open network with DHCP: version 0x64, computer, icon 1,
    /// placeholder date, managed DHCP, managed access, key number 1, everything else 0/empty.
    fn default() -> Self {
        WifiProfile {
            version: PROFILE_VERSION,
            name: String::new(),
            display_order: 0,
            device_type: device_type::COMPUTER,
            icon_type: 1,
            date_time: PROFILE_PLACEHOLDER_DATE.to_string(),
            ip_address: Ipv4Addr::UNSPECIFIED,
            subnet_mask: 0,
            gateway: Ipv4Addr::UNSPECIFIED,
            address_setting: address_setting::DHCP_MANAGED,
            access_mode: access_mode::MANAGED,
            channel: 0,
            ssid: String::new(),
            authentication: authentication::OPEN,
            encryption: encryption::NONE,
            key: WifiKey::default(),
            key_number: 1,
            machine_guid: [0; 16],
            key_length: 0,
        }
    }
}

impl fmt::Debug for WifiProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written out by hand so that adding a field cannot silently print the key.
        f.debug_struct("WifiProfile")
            .field("version", &self.version)
            .field("name", &self.name)
            .field("display_order", &self.display_order)
            .field("device_type", &self.device_type)
            .field("icon_type", &self.icon_type)
            .field("date_time", &self.date_time)
            .field("ip_address", &self.ip_address)
            .field("subnet_mask", &self.subnet_mask)
            .field("gateway", &self.gateway)
            .field("address_setting", &self.address_setting)
            .field("access_mode", &self.access_mode)
            .field("channel", &self.channel)
            .field("ssid", &self.ssid)
            .field("authentication", &self.authentication)
            .field("encryption", &self.encryption)
            .field("key", &self.key)
            .field("key_number", &self.key_number)
            .field("machine_guid", &self.machine_guid)
            .field("key_length", &self.key_length)
            .finish()
    }
}

/// The prefix length of a netmask (255.255.255.0 -> 24), what gphoto2 writes at 0x3E: the number
/// of leading one bits.
pub fn prefix_len(mask: Ipv4Addr) -> u8 {
    u32::from(mask).leading_ones() as u8
}

/// Checks a text field: no NUL inside, at most `max` bytes.
fn check_text(field: &'static str, text: &str, max: usize) -> Result<(), ProfileError> {
    if text.contains('\0') {
        return Err(ProfileError::ContainsNul { field });
    }
    if text.len() > max {
        return Err(ProfileError::TooLong { field, len: text.len(), max });
    }
    Ok(())
}

/// Text from a NUL-padded byte field: up to the first NUL, invalid UTF-8 replaced.
fn text_until_nul(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Appends `u32 size` then `text` NUL-padded to `size` bytes (checked by the caller to fit).
fn put_sized_text(out: &mut Vec<u8>, text: &str, size: usize) {
    put_u32(out, size as u32);
    out.extend_from_slice(text.as_bytes());
    out.resize(out.len() + size - text.len(), 0);
}

/// Reads `u32 size` that must equal the fixed `size`, then the field's bytes.
fn sized_field<'a>(r: &mut Reader<'a>, field: &'static str, size: usize) -> Result<&'a [u8], WireError> {
    let declared = named(field, r.u32())?;
    if declared as usize != size {
        return Err(WireError::BadCount(u64::from(declared)));
    }
    named(field, r.take(size))
}

fn ipv4(r: &mut Reader<'_>, field: &'static str) -> Result<Ipv4Addr, WireError> {
    Ok(Ipv4Addr::from(named(field, r.array::<4>())?))
}

impl WifiProfile {
    /// Sets the key and its length field from the key bytes (5 for a WEP64 key, 13 for WEP128).
    pub fn set_key(&mut self, key: &[u8]) -> Result<(), ProfileError> {
        self.key = WifiKey::new(key)?;
        self.key_length = key.len() as u16;
        Ok(())
    }

    /// The key bytes the length field covers (at most the 64-byte field).
    pub fn key_bytes(&self) -> &[u8] {
        &self.key.field()[..usize::from(self.key_length).min(PROFILE_KEY_LEN)]
    }

    /// Appends the 196-byte dataset. Fails, writing nothing, if a text field does not fit its slot
    /// or contains a NUL.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), ProfileError> {
        check_text("profile name", &self.name, PROFILE_NAME_MAX)?;
        check_text("SSID", &self.ssid, PROFILE_SSID_MAX)?;
        let date: Vec<u16> = self.date_time.encode_utf16().collect();
        if date.contains(&0) {
            return Err(ProfileError::ContainsNul { field: "date-time" });
        }
        if date.len() > PROFILE_DATE_MAX {
            return Err(ProfileError::TooLong { field: "date-time", len: date.len(), max: PROFILE_DATE_MAX });
        }
        out.reserve(PROFILE_LEN);
        out.push(self.version);
        put_sized_text(out, &self.name, NAME_FIELD);
        out.extend_from_slice(&[self.display_order, self.device_type, self.icon_type]);
        out.push(DATE_UNITS as u8);
        date.iter().chain(std::iter::repeat(&0)).take(DATE_UNITS).for_each(|u| put_u16(out, *u));
        out.extend_from_slice(&self.ip_address.octets());
        out.push(self.subnet_mask);
        out.extend_from_slice(&self.gateway.octets());
        out.extend_from_slice(&[self.address_setting, self.access_mode, self.channel]);
        put_sized_text(out, &self.ssid, SSID_FIELD);
        out.extend_from_slice(&[self.authentication, self.encryption]);
        put_u32(out, PROFILE_KEY_LEN as u32);
        out.extend_from_slice(self.key.field());
        out.push(self.key_number);
        out.extend_from_slice(&self.machine_guid);
        put_u16(out, self.key_length);
        Ok(())
    }

    /// The 196-byte dataset as a fresh vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ProfileError> {
        let mut out = Vec::with_capacity(PROFILE_LEN);
        self.encode(&mut out)?;
        Ok(out)
    }

    /// Decodes the dataset. The three length fields and the date's unit count must be the seed's
    /// fixed values (17, 33, 64, 16), because every later offset depends on them; another value is
    /// [`WireError::BadCount`]. Bytes after the 196 are ignored (room for later firmware); text
    /// ends at its first NUL.
    pub fn decode(data: &[u8]) -> Result<WifiProfile, WireError> {
        let mut r = Reader::new(data);
        let version = named("profile version", r.u8())?;
        let name = text_until_nul(sized_field(&mut r, "profile name", NAME_FIELD)?);
        let [display_order, device_type, icon_type] = named("profile display fields", r.array::<3>())?;
        let units = named("profile date-time", r.u8())?;
        if usize::from(units) != DATE_UNITS {
            return Err(WireError::BadCount(u64::from(units)));
        }
        let raw = named("profile date-time", r.take(DATE_UNITS * 2))?;
        let date = raw.chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]])).take_while(|u| *u != 0);
        let date_time = char::decode_utf16(date).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect();
        let ip_address = ipv4(&mut r, "profile IP address")?;
        let subnet_mask = named("profile subnet mask", r.u8())?;
        let gateway = ipv4(&mut r, "profile gateway")?;
        let [address_setting, access_mode, channel] = named("profile address fields", r.array::<3>())?;
        let ssid = text_until_nul(sized_field(&mut r, "profile SSID", SSID_FIELD)?);
        let [authentication, encryption] = named("profile security fields", r.array::<2>())?;
        let key_field = sized_field(&mut r, "profile key", PROFILE_KEY_LEN)?;
        let mut key = [0u8; PROFILE_KEY_LEN];
        key.copy_from_slice(key_field);
        let key_number = named("profile key number", r.u8())?;
        let machine_guid = named("profile machine GUID", r.array::<16>())?;
        let key_length = named("profile key length", r.u16())?;
        Ok(WifiProfile {
            version,
            name,
            display_order,
            device_type,
            icon_type,
            date_time,
            ip_address,
            subnet_mask,
            gateway,
            address_setting,
            access_mode,
            channel,
            ssid,
            authentication,
            encryption,
            key: WifiKey(key),
            key_number,
            machine_guid,
            key_length,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Wi-Fi profiles: GetProfileAllData 0x9006
// ---------------------------------------------------------------------------------------------

/// One slot of the GetProfileAllData 0x9006 list, as gphoto2 unpacks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSlot {
    /// Slot id: the parameter of SendProfileData and DeleteProfile.
    pub id: u8,
    /// Non-zero when the slot holds a profile; 0 = free.
    pub valid: u8,
    /// Profile name (at most 16 bytes kept, as gphoto2 keeps).
    pub name: String,
    /// Display order.
    pub display_order: u8,
    /// [`device_type`].
    pub device_type: u8,
    /// Icon type.
    pub icon_type: u8,
    /// Creation date (PTP string).
    pub creation_date: String,
    /// Last-usage date (PTP string; its meaning is unsure in gphoto2's source).
    pub last_usage_date: String,
    /// SSID (at most 32 bytes kept).
    pub ssid: String,
    /// The byte after the SSID that gphoto2 skips (meaning unknown); kept for exact re-encoding.
    pub trailing: u8,
}

impl Default for ProfileSlot {
    fn default() -> Self {
        ProfileSlot {
            id: 0,
            valid: 0,
            name: String::new(),
            display_order: 0,
            device_type: device_type::COMPUTER,
            icon_type: 1,
            creation_date: String::new(),
            last_usage_date: String::new(),
            ssid: String::new(),
            trailing: 0,
        }
    }
}

/// The GetProfileAllData 0x9006 reply: `u8 version`, `u8 slot count`, then the slots. At most 255
/// slots (the count is a byte), each at least 16 bytes, so the data length bounds the allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileList {
    /// The list's version byte (the real value is unknown; the emulator may send
    /// [`PROFILE_VERSION`]).
    pub version: u8,
    /// The slots in camera order.
    pub slots: Vec<ProfileSlot>,
}

/// Smallest encoding of one slot (empty name and SSID, empty dates).
const MIN_SLOT_LEN: usize = 16;

/// Reads `u32 n` then n bytes, keeping text up to the first NUL within the first `keep` bytes.
fn counted_text(r: &mut Reader<'_>, field: &'static str, keep: usize) -> Result<String, WireError> {
    let n = named(field, r.u32())? as usize;
    if n > r.remaining() {
        return Err(WireError::BadCount(n as u64));
    }
    let bytes = named(field, r.take(n))?;
    Ok(text_until_nul(&bytes[..n.min(keep)]))
}

impl ProfileList {
    /// Decodes the list. Every field must be present, including each slot's trailing byte (gphoto2
    /// fails the same way on short data); bytes after the last slot are ignored.
    pub fn decode(data: &[u8]) -> Result<ProfileList, WireError> {
        let mut r = Reader::new(data);
        let version = named("profile list version", r.u8())?;
        let count = usize::from(named("profile slot count", r.u8())?);
        if count > r.remaining() / MIN_SLOT_LEN {
            return Err(WireError::BadCount(count as u64));
        }
        let mut slots = Vec::with_capacity(count);
        for _ in 0..count {
            let [id, valid] = named("profile slot id", r.array::<2>())?;
            let name = counted_text(&mut r, "profile slot name", PROFILE_NAME_MAX)?;
            let [display_order, device_type, icon_type] =
                named("profile slot display fields", r.array::<3>())?;
            let creation_date = named("profile slot creation date", r.ptp_string())?;
            let last_usage_date = named("profile slot last-usage date", r.ptp_string())?;
            let ssid = counted_text(&mut r, "profile slot SSID", PROFILE_SSID_MAX)?;
            let trailing = named("profile slot trailing byte", r.u8())?;
            slots.push(ProfileSlot {
                id,
                valid,
                name,
                display_order,
                device_type,
                icon_type,
                creation_date,
                last_usage_date,
                ssid,
                trailing,
            });
        }
        Ok(ProfileList { version, slots })
    }

    /// Appends the list. Names and SSIDs go in 17- and 33-byte NUL-padded fields, the sizes the
    /// profile dataset uses (what real bodies send here is unknown; gphoto2 accepts any size).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), ProfileError> {
        if self.slots.len() > usize::from(u8::MAX) {
            return Err(ProfileError::TooLong { field: "profile slots", len: self.slots.len(), max: 255 });
        }
        for slot in &self.slots {
            check_text("profile name", &slot.name, PROFILE_NAME_MAX)?;
            check_text("SSID", &slot.ssid, PROFILE_SSID_MAX)?;
        }
        out.push(self.version);
        out.push(self.slots.len() as u8);
        for slot in &self.slots {
            out.extend_from_slice(&[slot.id, slot.valid]);
            put_sized_text(out, &slot.name, NAME_FIELD);
            out.extend_from_slice(&[slot.display_order, slot.device_type, slot.icon_type]);
            put_ptp_string(out, &slot.creation_date);
            put_ptp_string(out, &slot.last_usage_date);
            put_sized_text(out, &slot.ssid, SSID_FIELD);
            out.push(slot.trailing);
        }
        Ok(())
    }

    /// The list as a fresh vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ProfileError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }

    /// The slot SendProfileData should write: the first free one (gphoto2's rule), `None` when all
    /// are taken (gphoto2 then reports StoreFull without sending anything).
    pub fn first_free_slot(&self) -> Option<u8> {
        self.slots.iter().find(|s| s.valid == 0).map(|s| s.id)
    }
}

// ---------------------------------------------------------------------------------------------
// Exposure settings with gphoto2's names
// ---------------------------------------------------------------------------------------------

/// The Nikon exposure settings gphoto2 names, with their property code, data type, labels and
/// parsing. Values are carried as `i64` (wide enough for every type here); labels of values no
/// table knows read `Unknown value 0xNNNN`, and [`ExposureSetting::parse`] accepts that form and
/// plain `0x` hex back, so every value survives a label round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExposureSetting {
    /// FNumber 0x5007, `f-number`: u16 f x 100, labels `f/5.6`.
    FNumber,
    /// ExposureTime 0x500D, `shutterspeed`: u32 in 1/10000 s, labels `0.0080s`, Bulb, Time.
    ExposureTime,
    /// Nikon ExposureTime 0xD100, `shutterspeed2`: u32 `(num << 16) | den`, labels `1/125`, `30`.
    NikonExposureTime,
    /// ExposureIndex 0x500F, `iso`: u16 ISO value.
    Iso,
    /// ExposureBiasCompensation 0x5010, `exposurecompensation`: i16 EV x 1000, labels `-0.7`.
    ExposureCompensation,
    /// WhiteBalance 0x5005, `whitebalance`: u16 table.
    WhiteBalance,
    /// CompressionSetting 0x5004, `imagequality`: u8 table.
    ImageQuality,
}

/// WhiteBalance 0x5005 labels: the standard 1-7 and Nikon's 0x80xx (gphoto2's `whitebalance`
/// table; 0x8015 "Flash" from the reference's table, which repeats 0x0007's label: use
/// [`ExposureSetting::parse_offered`] to pick the one the camera offers).
const WHITE_BALANCE: &[(i64, &str)] = &[
    (0x0001, "Manual"),
    (0x0002, "Automatic"),
    (0x0003, "One-push Automatic"),
    (0x0004, "Daylight"),
    (0x0005, "Fluorescent"),
    (0x0006, "Tungsten"),
    (0x0007, "Flash"),
    (0x8010, "Cloudy"),
    (0x8011, "Shade"),
    (0x8012, "Color Temperature"),
    (0x8013, "Preset"),
    (0x8014, "Off"),
    (0x8015, "Flash"),
    (0x8016, "Natural light auto"),
];

/// CompressionSetting 0x5004 labels as the reference gives them (0-2 JPEG, 4 NEF, 5-7 NEF+JPEG).
/// Older gphoto2 tables put NEF at 3 and NEF+JPEG at 4-6; model tables differ, so a value missing
/// here shows as `Unknown value` rather than under a guessed name.
const IMAGE_QUALITY: &[(i64, &str)] = &[
    (0, "JPEG Basic"),
    (1, "JPEG Normal"),
    (2, "JPEG Fine"),
    (4, "NEF (Raw)"),
    (5, "NEF+Basic"),
    (6, "NEF+Normal"),
    (7, "NEF+Fine"),
];

/// CompressionSetting, a standard code the shared table does not name.
const COMPRESSION_SETTING: u16 = 0x5004;
/// 0x500D special values (Nikon).
const EXPOSURE_TIME_BULB: i64 = 0xFFFF_FFFF;
const EXPOSURE_TIME_TIME: i64 = 0xFFFF_FFFD;
/// 0xD100 special values.
const NIKON_TIME_X200: i64 = 0xFFFF_FFFE;

impl ExposureSetting {
    /// Every setting.
    pub const ALL: [ExposureSetting; 7] = [
        ExposureSetting::FNumber,
        ExposureSetting::ExposureTime,
        ExposureSetting::NikonExposureTime,
        ExposureSetting::Iso,
        ExposureSetting::ExposureCompensation,
        ExposureSetting::WhiteBalance,
        ExposureSetting::ImageQuality,
    ];

    /// The device property code.
    pub fn prop_code(self) -> u16 {
        match self {
            ExposureSetting::FNumber => codes::prop::F_NUMBER,
            ExposureSetting::ExposureTime => codes::prop::EXPOSURE_TIME,
            ExposureSetting::NikonExposureTime => prop::EXPOSURE_TIME,
            ExposureSetting::Iso => codes::prop::EXPOSURE_INDEX,
            ExposureSetting::ExposureCompensation => codes::prop::EXPOSURE_BIAS_COMPENSATION,
            ExposureSetting::WhiteBalance => codes::prop::WHITE_BALANCE,
            ExposureSetting::ImageQuality => COMPRESSION_SETTING,
        }
    }

    /// The setting of a property code.
    pub fn from_prop_code(code: u16) -> Option<ExposureSetting> {
        Self::ALL.into_iter().find(|s| s.prop_code() == code)
    }

    /// gphoto2's widget name (`--get-config` key).
    pub fn gphoto_name(self) -> &'static str {
        match self {
            ExposureSetting::FNumber => "f-number",
            ExposureSetting::ExposureTime => "shutterspeed",
            ExposureSetting::NikonExposureTime => "shutterspeed2",
            ExposureSetting::Iso => "iso",
            ExposureSetting::ExposureCompensation => "exposurecompensation",
            ExposureSetting::WhiteBalance => "whitebalance",
            ExposureSetting::ImageQuality => "imagequality",
        }
    }

    /// The setting for a gphoto2 widget name (case-insensitive; `aperture` is taken for
    /// `f-number`, the name users carry over from Canon).
    pub fn from_gphoto_name(name: &str) -> Option<ExposureSetting> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("aperture") {
            return Some(ExposureSetting::FNumber);
        }
        Self::ALL.into_iter().find(|s| s.gphoto_name().eq_ignore_ascii_case(name))
    }

    /// The data type gphoto2 requires for the property.
    pub fn data_type(self) -> DataType {
        match self {
            ExposureSetting::FNumber | ExposureSetting::Iso | ExposureSetting::WhiteBalance => {
                DataType::UINT16
            }
            ExposureSetting::ExposureTime | ExposureSetting::NikonExposureTime => DataType::UINT32,
            ExposureSetting::ExposureCompensation => DataType::INT16,
            ExposureSetting::ImageQuality => DataType::UINT8,
        }
    }

    /// The label table of an enumerated setting; empty for the computed ones.
    pub fn table(self) -> &'static [(i64, &'static str)] {
        match self {
            ExposureSetting::WhiteBalance => WHITE_BALANCE,
            ExposureSetting::ImageQuality => IMAGE_QUALITY,
            _ => &[],
        }
    }

    /// The label gphoto2 shows for a value.
    pub fn label(self, value: i64) -> String {
        let unknown = || format!("Unknown value 0x{value:04x}");
        match self {
            ExposureSetting::FNumber => format!("f/{}", decimal(value, 100)),
            ExposureSetting::ExposureTime => match value {
                EXPOSURE_TIME_BULB => "Bulb".into(),
                EXPOSURE_TIME_TIME => "Time".into(),
                v if v >= 0 => format!("{}.{:04}s", v / 10_000, v % 10_000),
                _ => unknown(),
            },
            ExposureSetting::NikonExposureTime => match value {
                EXPOSURE_TIME_BULB => "Bulb".into(),
                NIKON_TIME_X200 => "x 200".into(),
                EXPOSURE_TIME_TIME => "Time".into(),
                // A zero denominator has no reading; it shows (and parses back) as a raw value.
                v if (0..=0xFFFF_FFFF).contains(&v) && v & 0xFFFF != 0 => {
                    let (num, den) = (v >> 16, v & 0xFFFF);
                    if den == 1 { num.to_string() } else { format!("{num}/{den}") }
                }
                _ => unknown(),
            },
            ExposureSetting::Iso => value.to_string(),
            ExposureSetting::ExposureCompensation => decimal(value, 1000),
            ExposureSetting::WhiteBalance | ExposureSetting::ImageQuality => {
                self.table().iter().find(|e| e.0 == value).map(|e| e.1.to_string()).unwrap_or_else(unknown)
            }
        }
    }

    /// The value for a label, as gphoto2's setters read it: `f/5.6` or `5.6`; `1/125`, `1 1/2`,
    /// `0.5`, `0.0080s`, `Bulb`, `Time`; `400`; `-0.7`; table labels (case-insensitive). Also
    /// `Unknown value 0xNNNN` and `0xNNNN`. `None` if unreadable or outside the data type. The
    /// result is not snapped to what the camera offers: use [`nearest`] for that.
    pub fn parse(self, label: &str) -> Option<i64> {
        let text = label.trim();
        let raw = text.strip_prefix("Unknown value ").unwrap_or(text);
        if let Some(hex) = raw.strip_prefix("0x").or_else(|| raw.strip_prefix("0X")) {
            return i64::from_str_radix(hex, 16).ok().filter(|v| self.fits(*v));
        }
        let value = match self {
            ExposureSetting::FNumber => scaled(text.strip_prefix("f/").unwrap_or(text), 100.0)?,
            ExposureSetting::ExposureTime => match text.to_ascii_lowercase().as_str() {
                "bulb" => EXPOSURE_TIME_BULB,
                "time" => EXPOSURE_TIME_TIME,
                _ => scaled_seconds(text.strip_suffix('s').unwrap_or(text), 10_000.0)?,
            },
            ExposureSetting::NikonExposureTime => match text.to_ascii_lowercase().as_str() {
                "bulb" => EXPOSURE_TIME_BULB,
                "x 200" => NIKON_TIME_X200,
                "time" => EXPOSURE_TIME_TIME,
                _ => {
                    let (num, den) = match text.split_once('/') {
                        Some((n, d)) => (n.trim().parse::<i64>().ok()?, d.trim().parse::<i64>().ok()?),
                        None => (text.parse::<i64>().ok()?, 1),
                    };
                    if !(0..=0xFFFF).contains(&num) || !(1..=0xFFFF).contains(&den) {
                        return None;
                    }
                    (num << 16) | den
                }
            },
            ExposureSetting::Iso => text.parse::<i64>().ok()?,
            ExposureSetting::ExposureCompensation => scaled(text, 1000.0)?,
            ExposureSetting::WhiteBalance | ExposureSetting::ImageQuality => {
                self.table().iter().find(|e| e.1.eq_ignore_ascii_case(text)).map(|e| e.0)?
            }
        };
        Some(value).filter(|v| self.fits(*v))
    }

    /// The value for a label among the values the camera offers (its enumeration): an offered value
    /// whose label matches (case-insensitively) wins, which settles labels two values share;
    /// otherwise the parsed value snapped to the nearest offered one, as gphoto2 snaps. With
    /// nothing offered this is [`ExposureSetting::parse`].
    pub fn parse_offered(self, label: &str, offered: &[i64]) -> Option<i64> {
        let text = label.trim();
        if let Some(v) = offered.iter().copied().find(|v| self.label(*v).eq_ignore_ascii_case(text)) {
            return Some(v);
        }
        let parsed = self.parse(text)?;
        if offered.is_empty() || self.table().iter().any(|e| e.0 == parsed) {
            // Table values are names, not magnitudes: "nearest" would pick an unrelated setting.
            return Some(parsed);
        }
        nearest(parsed, offered)
    }

    /// Whether a value fits the setting's data type.
    pub fn fits(self, value: i64) -> bool {
        PropValue::from_i128(self.data_type(), i128::from(value)).is_some()
    }

    /// The value as a typed property value, `None` if it does not fit the data type.
    pub fn to_prop_value(self, value: i64) -> Option<PropValue> {
        PropValue::from_i128(self.data_type(), i128::from(value))
    }

    /// The value of a property value of the right data type, `None` for another type (gphoto2
    /// then refuses the widget too).
    pub fn from_prop_value(self, value: &PropValue) -> Option<i64> {
        (value.data_type() == self.data_type()).then(|| value.as_i128()).flatten()?.try_into().ok()
    }
}

/// `value / scale` written the way C's `%g` writes these small fixed-point values: no trailing
/// zeros, no point for whole numbers (560/100 -> "5.6", -333/1000 -> "-0.333").
fn decimal(value: i64, scale: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    let scale = scale.unsigned_abs();
    let (whole, frac) = (magnitude / scale, magnitude % scale);
    if frac == 0 {
        return format!("{sign}{whole}");
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
}

/// A decimal number times `scale`, rounded; `None` when not a finite number.
fn scaled(text: &str, scale: f64) -> Option<i64> {
    round_scaled(text.trim().parse().ok()?, scale)
}

/// `x * scale` rounded, `None` when not finite or far outside every data type here.
fn round_scaled(x: f64, scale: f64) -> Option<i64> {
    let v = (x * scale).round();
    (v.is_finite() && v.abs() < 1e15).then_some(v as i64)
}

/// Seconds as `a b/c`, `b/c` or a decimal, times `scale`, rounded.
fn scaled_seconds(text: &str, scale: f64) -> Option<i64> {
    let text = text.trim();
    let fraction = |f: &str| -> Option<f64> {
        let (n, d) = f.split_once('/')?;
        let (n, d): (f64, f64) = (n.trim().parse().ok()?, d.trim().parse().ok()?);
        (d != 0.0).then_some(n / d)
    };
    let seconds = match text.split_once(' ') {
        Some((whole, frac)) => whole.parse::<f64>().ok()? + fraction(frac)?,
        None if text.contains('/') => fraction(text)?,
        None => text.parse::<f64>().ok()?,
    };
    round_scaled(seconds, scale)
}

/// The allowed value closest to `target` (gphoto2 snaps shutter speeds and exposure compensation
/// this way); the first of equally close values wins. `None` for an empty list.
pub fn nearest(target: i64, allowed: &[i64]) -> Option<i64> {
    allowed.iter().copied().min_by_key(|v| v.abs_diff(target))
}

// ---------------------------------------------------------------------------------------------
// Response codes explained
// ---------------------------------------------------------------------------------------------

/// What a response code means for a user of a Nikon body, with what to do about it; `None` for
/// codes without advice (the name from [`rc::name`] is then all there is).
pub fn explain_response(code: u16) -> Option<&'static str> {
    // Standard StoreNotAvailable, not in the shared table.
    const STORE_NOT_AVAILABLE: u16 = 0x2013;
    Some(match code {
        codes::rc::ACCESS_DENIED => {
            "the camera refuses access: Nikon bodies connected over Wi-Fi deny file access until transfer is \
             allowed on the camera. Check its Wi-Fi transfer / connection setting (connect to computer, \
             send while shooting or images selected for transfer), then retry"
        }
        codes::rc::OPERATION_NOT_SUPPORTED => {
            "the camera does not offer this operation on this connection: some Nikon Z bodies answer \
             0x2005 over Wi-Fi (property queries included) until the camera's connection mode allows \
             remote control or transfer. Check the camera's Wi-Fi connection setting and firmware; some \
             operations work only over USB"
        }
        codes::rc::DEVICE_BUSY => "the camera is busy (focusing, writing or processing); retry shortly",
        codes::rc::STORE_FULL => "the memory card (or the profile list) is full",
        STORE_NOT_AVAILABLE => "no usable memory card in the camera",
        rc::OUT_OF_FOCUS => {
            "the camera could not focus: capture without autofocus or aim at a subject with contrast"
        }
        rc::CHANGE_CAMERA_MODE_FAILED => {
            "the camera could not switch to remote (PC) control: close any menu or playback on the camera"
        }
        rc::INVALID_STATUS => {
            "the camera is not in a state that allows this now (menu open, playback, or a mode that forbids \
             it); return it to shooting and retry"
        }
        rc::SHUTTER_SPEED_BULB => "the shutter speed is Bulb or Time, which remote capture cannot use",
        rc::MIRROR_UP_SEQUENCE => {
            "the camera is in mirror-up mode; release the mirror or change the release mode"
        }
        rc::NOT_LIVE_VIEW => "live view is not running on the camera; start live view first",
        rc::STORE_ERROR => "memory card error",
        rc::STORE_UNFORMATTED => "the memory card is not formatted (or an advanced transfer was cancelled)",
        rc::BULB_RELEASE_BUSY | rc::SILENT_RELEASE_BUSY => {
            "the camera is still releasing the shutter; retry shortly"
        }
        rc::WAITING_2ND_RELEASE => "the camera waits for the second shutter release",
        _ => return None,
    })
}

/// One line for a failed Nikon operation's response: `AccessDenied (0x200F): the camera refuses ...`.
pub fn describe_response(code: u16) -> String {
    match explain_response(code) {
        Some(advice) => format!("{} (0x{code:04X}): {advice}", rc::name(code)),
        None => format!("{} (0x{code:04X})", rc::name(code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_writes_like_percent_g() {
        assert_eq!(decimal(560, 100), "5.6");
        assert_eq!(decimal(1400, 100), "14");
        assert_eq!(decimal(105, 100), "1.05");
        assert_eq!(decimal(-333, 1000), "-0.333");
        assert_eq!(decimal(-700, 1000), "-0.7");
        assert_eq!(decimal(0, 1000), "0");
        assert_eq!(decimal(i64::from(i16::MIN), 1000), "-32.768");
    }

    #[test]
    fn seconds_accept_gphoto2_forms() {
        assert_eq!(scaled_seconds("1/125", 10_000.0), Some(80));
        assert_eq!(scaled_seconds("1 1/2", 10_000.0), Some(15_000));
        assert_eq!(scaled_seconds("0.5", 10_000.0), Some(5_000));
        assert_eq!(scaled_seconds("1/0", 10_000.0), None);
        assert_eq!(scaled_seconds("fast", 10_000.0), None);
        assert_eq!(scaled_seconds("inf", 10_000.0), None);
    }

    #[test]
    fn named_keeps_other_errors() {
        assert_eq!(named::<()>("x", Err(WireError::Truncated("field"))), Err(WireError::Truncated("x")));
        assert_eq!(named::<()>("x", Err(WireError::BadCount(9))), Err(WireError::BadCount(9)));
    }
}
