//! Canon EOS PTP extension, wire layer only: code tables, the GetEvent 0x9116 record stream,
//! SetDevicePropValueEx 0x9110 payloads, the packed ImageFormat value, the property value tables with
//! gphoto2's names, and GetViewFinderData 0x9153 replies. Pure: no sockets, no clocks.
//!
//! Both roles use the same types: the client decodes what the camera sends ([`decode_events`],
//! [`EosProp::decode_set_prop_ex`] for the emulator, [`viewfinder_jpeg`]) and the emulator encodes it
//! ([`encode_events`], [`EosProp::set_prop_ex_bytes`], [`encode_viewfinder`]).
//!
//! Facts follow `shared/protocols/ptpip-vendors.md` §2 (libgphoto2 `ptp-pack.c:ptp_unpack_EOS_events`,
//! `ptp.c`, `config.c`; vcam's real dumps). EOS carries property codes in `u32` fields, so this module
//! uses `u32` for them throughout.
//!
//! Leniency: framing errors (a record running past the data, a size below 8) are errors, because the rest
//! of the stream cannot be trusted; a well-framed record whose payload is shorter than its type needs, or
//! whose list cannot be read, is kept as raw bytes ([`EosEvent::Unknown`], [`AllowedList::Raw`]) exactly
//! where gphoto2 skips it, so one odd record never hides the others.

use super::{PropValue, Reader, WireError, put_u16, put_u32};

/// EOS operation codes (`ptp.h` `PTP_OC_CANON_EOS_*`).
pub mod op {
    /// GetStorageIDs (data in: AUINT32).
    pub const GET_STORAGE_IDS: u16 = 0x9101;
    /// GetStorageInfo(storage id); the reply blob is ignored by gphoto2.
    pub const GET_STORAGE_INFO: u16 = 0x9102;
    /// GetPartialObject; only gates gphoto2's 1 MiB chunking (it sends standard 0x101B).
    pub const GET_PARTIAL_OBJECT: u16 = 0x9107;
    /// GetDeviceInfoEx.
    pub const GET_DEVICE_INFO_EX: u16 = 0x9108;
    /// GetObjectInfoEx(storage, parent or 0xFFFFFFFF, 0x100000): the listing fast path.
    pub const GET_OBJECT_INFO_EX: u16 = 0x9109;
    /// RemoteRelease (older bodies without 0x9128); response parameter 1 is the result.
    pub const REMOTE_RELEASE: u16 = 0x910F;
    /// SetDevicePropValueEx: data out, see [`EosProp::set_prop_ex_bytes`](super::EosProp::set_prop_ex_bytes).
    pub const SET_DEVICE_PROP_VALUE_EX: u16 = 0x9110;
    /// SetRemoteMode(mode).
    pub const SET_REMOTE_MODE: u16 = 0x9114;
    /// SetEventMode(1; 2 on EOS M; 0 at exit).
    pub const SET_EVENT_MODE: u16 = 0x9115;
    /// GetEvent: data in, see [`decode_events`](super::decode_events).
    pub const GET_EVENT: u16 = 0x9116;
    /// TransferComplete(handle), after a PC-target download.
    pub const TRANSFER_COMPLETE: u16 = 0x9117;
    /// PCHDDCapacity(0x0FFFFFFF, 0x1000, 1).
    pub const PC_HDD_CAPACITY: u16 = 0x911A;
    /// ResetUILock.
    pub const RESET_UI_LOCK: u16 = 0x911C;
    /// KeepDeviceOn (the EOS keep-alive, sent at least every 10 s).
    pub const KEEP_DEVICE_ON: u16 = 0x911D;
    /// RequestDevicePropValue(prop).
    pub const REQUEST_DEVICE_PROP_VALUE: u16 = 0x9127;
    /// RemoteReleaseOn(press, AF flag), see [`release`](super::release).
    pub const REMOTE_RELEASE_ON: u16 = 0x9128;
    /// RemoteReleaseOff(press).
    pub const REMOTE_RELEASE_OFF: u16 = 0x9129;
    /// SetRequestOLCInfoGroup(0x1FFF).
    pub const SET_REQUEST_OLC_INFO_GROUP: u16 = 0x913D;
    /// InitiateViewfinder.
    pub const INITIATE_VIEWFINDER: u16 = 0x9151;
    /// TerminateViewfinder.
    pub const TERMINATE_VIEWFINDER: u16 = 0x9152;
    /// GetViewFinderData(0x00200000, 0, 0): data in, see [`viewfinder_jpeg`](super::viewfinder_jpeg).
    pub const GET_VIEWFINDER_DATA: u16 = 0x9153;
    /// AfCancel.
    pub const AF_CANCEL: u16 = 0x9160;
    /// SetModeDialDisable(1 at init, 0 at exit).
    pub const SET_MODE_DIAL_DISABLE: u16 = 0x9088;

    /// Parameter 1 of [`GET_VIEWFINDER_DATA`] as gphoto2 sends it.
    pub const VIEWFINDER_DATA_PARAM: u32 = 0x0020_0000;

    /// The `ptp.h` name of an EOS operation, for logs; `None` for codes this module does not list.
    pub fn name(code: u16) -> Option<&'static str> {
        Some(match code {
            GET_STORAGE_IDS => "EOS_GetStorageIDs",
            GET_STORAGE_INFO => "EOS_GetStorageInfo",
            GET_PARTIAL_OBJECT => "EOS_GetPartialObject",
            GET_DEVICE_INFO_EX => "EOS_GetDeviceInfoEx",
            GET_OBJECT_INFO_EX => "EOS_GetObjectInfoEx",
            REMOTE_RELEASE => "EOS_RemoteRelease",
            SET_DEVICE_PROP_VALUE_EX => "EOS_SetDevicePropValueEx",
            SET_REMOTE_MODE => "EOS_SetRemoteMode",
            SET_EVENT_MODE => "EOS_SetEventMode",
            GET_EVENT => "EOS_GetEvent",
            TRANSFER_COMPLETE => "EOS_TransferComplete",
            PC_HDD_CAPACITY => "EOS_PCHDDCapacity",
            RESET_UI_LOCK => "EOS_ResetUILock",
            KEEP_DEVICE_ON => "EOS_KeepDeviceOn",
            REQUEST_DEVICE_PROP_VALUE => "EOS_RequestDevicePropValue",
            REMOTE_RELEASE_ON => "EOS_RemoteReleaseOn",
            REMOTE_RELEASE_OFF => "EOS_RemoteReleaseOff",
            SET_REQUEST_OLC_INFO_GROUP => "EOS_SetRequestOLCInfoGroup",
            INITIATE_VIEWFINDER => "EOS_InitiateViewfinder",
            TERMINATE_VIEWFINDER => "EOS_TerminateViewfinder",
            GET_VIEWFINDER_DATA => "EOS_GetViewFinderData",
            AF_CANCEL => "EOS_AfCancel",
            SET_MODE_DIAL_DISABLE => "EOS_SetModeDialDisable",
            _ => return None,
        })
    }
}

/// Parameters of RemoteReleaseOn / RemoteReleaseOff.
pub mod release {
    /// Half press (focus).
    pub const HALF: u32 = 1;
    /// Full press (shutter).
    pub const FULL: u32 = 2;
    /// Half and full at once (EOS M path).
    pub const HALF_AND_FULL: u32 = 3;
    /// Second parameter of RemoteReleaseOn: autofocus.
    pub const WITH_AF: u32 = 0;
    /// Second parameter of RemoteReleaseOn: no autofocus.
    pub const WITHOUT_AF: u32 = 1;
}

/// EOS response codes used by the procedures around these payloads.
pub mod rc {
    /// ObjectNotReady: GetViewFinderData while live view warms up (retry).
    pub const OBJECT_NOT_READY: u16 = 0xA102;
}

/// GetEvent record types (`ptp.h` `PTP_EC_CANON_EOS_*`); the field is a `u32` on the wire.
pub mod event {
    /// The terminator type (a record of size 8 and type 0 ends the data).
    pub const TERMINATOR: u32 = 0;
    /// RequestGetEvent (logged as unknown by gphoto2).
    pub const REQUEST_GET_EVENT: u32 = 0xC101;
    /// ObjectAddedEx: a new object on the card.
    pub const OBJECT_ADDED_EX: u32 = 0xC181;
    /// ObjectRemoved.
    pub const OBJECT_REMOVED: u32 = 0xC182;
    /// StorageStatusChanged (u32, text only).
    pub const STORAGE_STATUS_CHANGED: u32 = 0xC184;
    /// StorageInfoChanged (u32, text only).
    pub const STORAGE_INFO_CHANGED: u32 = 0xC185;
    /// RequestObjectTransfer: a PC-target capture waiting to be read.
    pub const REQUEST_OBJECT_TRANSFER: u32 = 0xC186;
    /// ObjectInfoChangedEx (same layout as ObjectAddedEx).
    pub const OBJECT_INFO_CHANGED_EX: u32 = 0xC187;
    /// ObjectContentChanged.
    pub const OBJECT_CONTENT_CHANGED: u32 = 0xC188;
    /// PropValueChanged.
    pub const PROP_VALUE_CHANGED: u32 = 0xC189;
    /// AvailListChanged: the allowed values of a property.
    pub const AVAIL_LIST_CHANGED: u32 = 0xC18A;
    /// CameraStatusChanged (1 = busy).
    pub const CAMERA_STATUS_CHANGED: u32 = 0xC18B;
    /// StoreAdded (u32, text only).
    pub const STORE_ADDED: u32 = 0xC192;
    /// StoreRemoved (u32, text only).
    pub const STORE_REMOVED: u32 = 0xC193;
    /// BulbExposureTime (u32, text only).
    pub const BULB_EXPOSURE_TIME: u32 = 0xC194;
    /// CTGInfoCheckComplete (u32, text only).
    pub const CTG_INFO_CHECK_COMPLETE: u32 = 0xC1A4;
    /// OLCInfoChanged: version-dependent packed fields.
    pub const OLC_INFO_CHANGED: u32 = 0xC1A5;
    /// ObjectAddedEx64: the newer layout with a second object id.
    pub const OBJECT_ADDED_EX64: u32 = 0xC1A7;
    /// RequestObjectTransfer64 (same layout as RequestObjectTransfer).
    pub const REQUEST_OBJECT_TRANSFER64: u32 = 0xC1A9;
    /// RequestObjectTransfer64LFN; its layout is not decoded here (kept as [`EosEvent::Unknown`](super::EosEvent::Unknown)).
    pub const REQUEST_OBJECT_TRANSFER64_LFN: u32 = 0xC1B8;

    /// Types whose only payload is one `u32` shown as text ([`EosEvent::Notice`](super::EosEvent::Notice)).
    pub const NOTICES: [u32; 6] = [
        STORAGE_STATUS_CHANGED,
        STORAGE_INFO_CHANGED,
        STORE_ADDED,
        STORE_REMOVED,
        BULB_EXPOSURE_TIME,
        CTG_INFO_CHECK_COMPLETE,
    ];

    /// The `ptp.h` name of a record type, for logs; `None` when unlisted.
    pub fn name(record_type: u32) -> Option<&'static str> {
        Some(match record_type {
            TERMINATOR => "Terminator",
            REQUEST_GET_EVENT => "RequestGetEvent",
            OBJECT_ADDED_EX => "ObjectAddedEx",
            OBJECT_REMOVED => "ObjectRemoved",
            STORAGE_STATUS_CHANGED => "StorageStatusChanged",
            STORAGE_INFO_CHANGED => "StorageInfoChanged",
            REQUEST_OBJECT_TRANSFER => "RequestObjectTransfer",
            OBJECT_INFO_CHANGED_EX => "ObjectInfoChangedEx",
            OBJECT_CONTENT_CHANGED => "ObjectContentChanged",
            PROP_VALUE_CHANGED => "PropValueChanged",
            AVAIL_LIST_CHANGED => "AvailListChanged",
            CAMERA_STATUS_CHANGED => "CameraStatusChanged",
            STORE_ADDED => "StoreAdded",
            STORE_REMOVED => "StoreRemoved",
            BULB_EXPOSURE_TIME => "BulbExposureTime",
            CTG_INFO_CHECK_COMPLETE => "CTGInfoCheckComplete",
            OLC_INFO_CHANGED => "OLCInfoChanged",
            OBJECT_ADDED_EX64 => "ObjectAddedEx64",
            REQUEST_OBJECT_TRANSFER64 => "RequestObjectTransfer64",
            REQUEST_OBJECT_TRANSFER64_LFN => "RequestObjectTransfer64LFN",
            _ => return None,
        })
    }
}

/// EOS device property codes (`ptp.h` `PTP_DPC_CANON_EOS_*`). Vendor-specific: Nikon's 0xD101 is
/// something else.
pub mod prop {
    /// Aperture (u16), table [`APERTURE`](super::APERTURE).
    pub const APERTURE: u32 = 0xD101;
    /// ShutterSpeed (u16), table [`SHUTTER_SPEED`](super::SHUTTER_SPEED).
    pub const SHUTTER_SPEED: u32 = 0xD102;
    /// ISOSpeed (u16), table [`ISO`](super::ISO).
    pub const ISO_SPEED: u32 = 0xD103;
    /// ExpCompensation (u8, two's complement eighths of EV), table
    /// [`EXPOSURE_COMPENSATION`](super::EXPOSURE_COMPENSATION).
    pub const EXP_COMPENSATION: u32 = 0xD104;
    /// AutoExposureMode, the shooting mode (u16), table [`AUTO_EXPOSURE_MODE`](super::AUTO_EXPOSURE_MODE).
    pub const AUTO_EXPOSURE_MODE: u32 = 0xD105;
    /// DriveMode (u16), table [`DRIVE_MODE`](super::DRIVE_MODE).
    pub const DRIVE_MODE: u32 = 0xD106;
    /// MeteringMode (u8).
    pub const METERING_MODE: u32 = 0xD107;
    /// FocusMode, the AF mode (u32, read-only), table [`FOCUS_MODE`](super::FOCUS_MODE).
    pub const FOCUS_MODE: u32 = 0xD108;
    /// WhiteBalance (u8), table [`WHITE_BALANCE`](super::WHITE_BALANCE).
    pub const WHITE_BALANCE: u32 = 0xD109;
    /// BatteryPower (u16, read-only), table [`BATTERY_LEVEL`](super::BATTERY_LEVEL).
    pub const BATTERY_POWER: u32 = 0xD111;
    /// Owner (ASCII).
    pub const OWNER: u32 = 0xD115;
    /// AvailableShots (u32, read-only); must be > 0 before a PC-target capture.
    pub const AVAILABLE_SHOTS: u32 = 0xD11B;
    /// CaptureDestination (u32): [`CAPTURE_TO_PC`](super::CAPTURE_TO_PC) or a card value.
    pub const CAPTURE_DESTINATION: u32 = 0xD11C;
    /// ImageFormat (packed, see [`ImageFormat`](super::ImageFormat)).
    pub const IMAGE_FORMAT: u32 = 0xD120;
    /// ImageFormatCF (packed).
    pub const IMAGE_FORMAT_CF: u32 = 0xD121;
    /// ImageFormatSD (packed).
    pub const IMAGE_FORMAT_SD: u32 = 0xD122;
    /// ImageFormatExtHD (packed).
    pub const IMAGE_FORMAT_EXT_HD: u32 = 0xD123;
    /// OLCInfoVersion (u32): selects the OLCInfoChanged field sizes.
    pub const OLC_INFO_VERSION: u32 = 0xD199;
    /// CustomFuncEx (own packing, kept as bytes).
    pub const CUSTOM_FUNC_EX: u32 = 0xD1A0;
    /// SerialNumber (ASCII, read-only).
    pub const SERIAL_NUMBER: u32 = 0xD1AF;
    /// EVFOutputDevice (u32 bit mask, [`evf_output`](super::evf_output)), table [`EVF_OUTPUT`](super::EVF_OUTPUT).
    pub const EVF_OUTPUT_DEVICE: u32 = 0xD1B0;
    /// EVFMode (u16: 0 off, 1 on).
    pub const EVF_MODE: u32 = 0xD1B1;
    /// EVFSharpness (u32) -- not "EVF mode", which is 0xD1B1.
    pub const EVF_SHARPNESS: u32 = 0xD1B3;
    /// Artist (ASCII).
    pub const ARTIST: u32 = 0xD1D0;
    /// Copyright (ASCII).
    pub const COPYRIGHT: u32 = 0xD1D1;
    /// FocusInfoEx (blob; kept as bytes).
    pub const FOCUS_INFO_EX: u32 = 0xD1D3;

    /// Whether the property carries the packed ImageFormat value.
    pub fn is_image_format(code: u32) -> bool {
        (IMAGE_FORMAT..=IMAGE_FORMAT_EXT_HD).contains(&code)
    }
}

/// Bits of [`prop::EVF_OUTPUT_DEVICE`].
pub mod evf_output {
    /// The camera's own screen.
    pub const TFT: u32 = 1;
    /// The PC (what live view over PTP needs).
    pub const PC: u32 = 2;
    /// A mobile device.
    pub const MOBILE: u32 = 4;
    /// A second mobile device.
    pub const MOBILE2: u32 = 8;
}

/// [`prop::CAPTURE_DESTINATION`] value for "to the PC" (RequestObjectTransfer instead of ObjectAddedEx).
pub const CAPTURE_TO_PC: u32 = 4;

/// CameraStatusChanged value meaning busy: the next trigger fails.
pub const CAMERA_STATUS_BUSY: u32 = 1;

/// Most records [`decode_events`] accepts in one reply. A first GetEvent of a real body carries a few
/// hundred (one value and one list per property); the cap bounds the decoded vector to a few MiB whatever
/// the transport lets through.
pub const MAX_EVENT_RECORDS: usize = 16_384;

/// Largest AvailListChanged count that is decoded; larger lists are kept raw. gphoto2 ignores lists of
/// 0x20000 values or more as "buggy or exploit".
pub const MAX_ALLOWED_VALUES: u32 = 0x20000;

/// Most blobs [`ViewfinderBlobs`] walks before giving up (a real reply has about a dozen).
pub const MAX_VIEWFINDER_BLOBS: usize = 256;

/// The 8-byte record that ends every GetEvent reply; on its own it means "no events".
pub const TERMINATOR: [u8; 8] = [8, 0, 0, 0, 0, 0, 0, 0];

// Payload offsets from the record start, as gphoto2 reads them (ptp-pack.c PTP_cee_*).
const HEADER: usize = 8;
const OA_NAME: usize = 0x28;
const OA64_NAME: usize = 0x2C;
const ROT_NAME: usize = 0x1C;
const AVAIL_DATA: usize = 0x14;
const AVAIL_LIST_ENUM: u32 = 3;

fn le32(bytes: &[u8], at: usize) -> u32 {
    // Callers check the length first; a short slice reads as zeros rather than panicking.
    let mut b = [0u8; 4];
    if let Some(s) = bytes.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    u32::from_le_bytes(b)
}

fn le16(bytes: &[u8], at: usize) -> u16 {
    let mut b = [0u8; 2];
    if let Some(s) = bytes.get(at..at + 2) {
        b.copy_from_slice(s);
    }
    u16::from_le_bytes(b)
}

/// ASCII up to the first NUL (or the end); bytes that are not UTF-8 become U+FFFD.
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// The name's bytes up to any NUL, then NUL and zero padding to a multiple of 4 (as the golden records).
fn put_padded_name(out: &mut Vec<u8>, name: &str) {
    let bytes = name.as_bytes();
    let bytes = &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len())];
    out.extend_from_slice(bytes);
    let padded = (bytes.len() + 1).div_ceil(4) * 4;
    out.resize(out.len() + padded - bytes.len(), 0);
}

/// Writes a record: size, type, then whatever `body` appends.
fn put_record(out: &mut Vec<u8>, record_type: u32, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    put_u32(out, 0);
    put_u32(out, record_type);
    body(out);
    let size = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&size.to_le_bytes());
}

/// How gphoto2 types a property's value from its code alone (EOS never sends a type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// `u8` in the low byte of a 4-byte slot.
    U8,
    /// `u16` in the low bytes of a 4-byte slot.
    U16,
    /// `u32`.
    U32,
    /// `i32`.
    I32,
    /// ASCII + NUL.
    Str,
    /// The packed [`ImageFormat`].
    ImageFormat,
    /// Not typed by this module (gphoto2 leaves it UNDEF or has its own packing).
    Other,
}

impl ValueKind {
    /// The kind of `code`'s value, for the properties this module names.
    pub fn of(code: u32) -> ValueKind {
        match code {
            prop::APERTURE
            | prop::SHUTTER_SPEED
            | prop::ISO_SPEED
            | prop::AUTO_EXPOSURE_MODE
            | prop::DRIVE_MODE
            | prop::BATTERY_POWER
            | prop::EVF_MODE => ValueKind::U16,
            prop::EXP_COMPENSATION | prop::METERING_MODE | prop::WHITE_BALANCE => ValueKind::U8,
            prop::FOCUS_MODE
            | prop::AVAILABLE_SHOTS
            | prop::CAPTURE_DESTINATION
            | prop::OLC_INFO_VERSION
            | prop::EVF_OUTPUT_DEVICE
            | prop::EVF_SHARPNESS => ValueKind::U32,
            prop::OWNER | prop::ARTIST | prop::COPYRIGHT | prop::SERIAL_NUMBER => ValueKind::Str,
            c if prop::is_image_format(c) => ValueKind::ImageFormat,
            _ => ValueKind::Other,
        }
    }
}

/// A property code with its raw value bytes: the payload of a PropValueChanged record and of a
/// SetDevicePropValueEx data phase (both carry `u32 code` then the value in the same encoding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EosProp {
    /// Property code.
    pub code: u32,
    /// The value as sent: integers LE in a 4-byte slot, strings ASCII + NUL, ImageFormat packed.
    pub value: Vec<u8>,
}

impl EosProp {
    /// An integer property: the value LE in the low bytes of a 4-byte slot, the rest zero.
    pub fn int(code: u32, value: u32) -> EosProp {
        EosProp { code, value: value.to_le_bytes().to_vec() }
    }

    /// A string property: ASCII + NUL (the text is cut at any NUL it contains).
    pub fn string(code: u32, text: &str) -> EosProp {
        let bytes = text.as_bytes();
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let mut value = bytes[..end].to_vec();
        value.push(0);
        EosProp { code, value }
    }

    /// An ImageFormat property.
    pub fn image_format(code: u32, format: &ImageFormat) -> EosProp {
        let mut value = Vec::new();
        format.encode(&mut value);
        EosProp { code, value }
    }

    /// The integer value read at the width gphoto2 assigns to the code (u8/u16/u32; the low 4 bytes for
    /// untyped codes); `None` for strings and ImageFormat or when the value is too short.
    pub fn int_value(&self) -> Option<u32> {
        let width = match ValueKind::of(self.code) {
            ValueKind::U8 => 1,
            ValueKind::U16 => 2,
            ValueKind::U32 | ValueKind::I32 | ValueKind::Other => 4,
            ValueKind::Str | ValueKind::ImageFormat => return None,
        };
        let bytes = self.value.get(..width)?;
        let mut slot = [0u8; 4];
        slot[..width].copy_from_slice(bytes);
        Some(u32::from_le_bytes(slot))
    }

    /// The value typed as gphoto2 types it (ImageFormat as its condensed `u16`, see
    /// [`ImageFormat::code`]); `None` for untyped codes or values that do not fit their type.
    pub fn typed_value(&self) -> Option<PropValue> {
        Some(match ValueKind::of(self.code) {
            ValueKind::U8 => PropValue::U8(self.int_value()? as u8),
            ValueKind::U16 => PropValue::U16(self.int_value()? as u16),
            ValueKind::U32 => PropValue::U32(self.int_value()?),
            ValueKind::I32 => PropValue::I32(self.int_value()? as i32),
            ValueKind::Str => PropValue::Str(c_string(&self.value)),
            ValueKind::ImageFormat => PropValue::U16(ImageFormat::decode(&self.value).ok()?.code()),
            ValueKind::Other => return None,
        })
    }

    /// SetDevicePropValueEx 0x9110 data: `u32 total length` (12 for integers, strlen + 9 for strings),
    /// `u32 code`, value.
    pub fn set_prop_ex_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.value.len());
        put_u32(&mut out, (8 + self.value.len()) as u32);
        put_u32(&mut out, self.code);
        out.extend_from_slice(&self.value);
        out
    }

    /// Decodes SetDevicePropValueEx data (the emulator's side). The length field must cover the 8-byte
    /// head and fit in the data; bytes after it are ignored (padding some initiators may add).
    pub fn decode_set_prop_ex(data: &[u8]) -> Result<EosProp, WireError> {
        let mut r = Reader::new(data);
        let total = r.u32().map_err(|_| WireError::Truncated("SetDevicePropValueEx length"))?;
        if total < 8 {
            return Err(WireError::BadLength(total));
        }
        if total as usize > data.len() {
            return Err(WireError::LengthMismatch { declared: total, actual: data.len() });
        }
        let code = r.u32().map_err(|_| WireError::Truncated("SetDevicePropValueEx code"))?;
        let value = r.take(total as usize - 8)?.to_vec();
        Ok(EosProp { code, value })
    }
}

/// One entry of the packed ImageFormat value (its entry length field is always 0x10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageFormatEntry {
    /// 1 JPEG, 6 RAW.
    pub kind: u32,
    /// 0 L, 1 M, 2 S, 5 M1, 6 M2, 0xE S1, 0xF S2, 0x10 S3.
    pub size: u32,
    /// 0/1 user, 2 normal, 3 fine, 4 lossless.
    pub compression: u32,
}

impl ImageFormatEntry {
    /// `kind` value of a RAW entry.
    pub const RAW: u32 = 6;
    /// `kind` value of a JPEG entry.
    pub const JPEG: u32 = 1;

    /// gphoto2's byte for one entry: size nibble (sizes >= 0xE minus one) | compression nibble with
    /// bit 3 set for RAW.
    fn nibbles(self) -> u8 {
        let size = if self.size >= 0xE { self.size - 1 } else { self.size };
        let comp = self.compression | if self.kind == Self::RAW { 8 } else { 0 };
        (((size & 0xF) << 4) | (comp & 0xF)) as u8
    }

    fn from_nibbles(byte: u8) -> ImageFormatEntry {
        let size = u32::from(byte >> 4);
        ImageFormatEntry {
            kind: if byte & 0x08 != 0 { Self::RAW } else { Self::JPEG },
            size: if size >= 0xD { size + 1 } else { size },
            compression: u32::from(byte & 0x07),
        }
    }
}

/// The EOS ImageFormat value: `u32 n` (1 or 2) then n entries of `u32 0x10, kind, size, compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageFormat {
    /// The first file.
    pub first: ImageFormatEntry,
    /// The second file of a RAW + JPEG pair.
    pub second: Option<ImageFormatEntry>,
}

impl ImageFormat {
    /// Wire size of this value.
    pub fn encoded_len(&self) -> usize {
        4 + 16 * (1 + usize::from(self.second.is_some()))
    }

    /// Reads one value from `r`: n must be 1 or 2 and every entry length 0x10.
    pub fn read(r: &mut Reader<'_>) -> Result<ImageFormat, WireError> {
        let n = r.u32().map_err(|_| WireError::Truncated("ImageFormat count"))?;
        if !(1..=2).contains(&n) {
            return Err(WireError::BadCount(u64::from(n)));
        }
        let mut entry = || -> Result<ImageFormatEntry, WireError> {
            let len = r.u32().map_err(|_| WireError::Truncated("ImageFormat entry"))?;
            if len != 0x10 {
                return Err(WireError::BadLength(len));
            }
            let mut field = || r.u32().map_err(|_| WireError::Truncated("ImageFormat entry"));
            Ok(ImageFormatEntry { kind: field()?, size: field()?, compression: field()? })
        };
        let first = entry()?;
        let second = if n == 2 { Some(entry()?) } else { None };
        Ok(ImageFormat { first, second })
    }

    /// Decodes a value that starts at the beginning of `bytes` (trailing bytes are ignored).
    pub fn decode(bytes: &[u8]) -> Result<ImageFormat, WireError> {
        ImageFormat::read(&mut Reader::new(bytes))
    }

    /// Appends the wire form.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, 1 + u32::from(self.second.is_some()));
        for e in std::iter::once(self.first).chain(self.second) {
            put_u32(out, 0x10);
            put_u32(out, e.kind);
            put_u32(out, e.size);
            put_u32(out, e.compression);
        }
    }

    /// gphoto2's condensed `u16` (nibbles size1|comp1|size2|comp2, 0xFF for no second file; a second
    /// entry of size 0 and compression 0 also reads 0xFF, as in gphoto2). Key of [`image_format_name`].
    pub fn code(&self) -> u16 {
        let low = match self.second.map(ImageFormatEntry::nibbles) {
            None | Some(0) => 0xFF,
            Some(b) => b,
        };
        u16::from(self.first.nibbles()) << 8 | u16::from(low)
    }

    /// The value gphoto2 sends for a condensed code (one entry when the low byte is 0xFF).
    pub fn from_code(code: u16) -> ImageFormat {
        let [high, low] = code.to_be_bytes();
        ImageFormat {
            first: ImageFormatEntry::from_nibbles(high),
            second: (low != 0xFF).then(|| ImageFormatEntry::from_nibbles(low)),
        }
    }
}

/// Allowed values of one property (AvailListChanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedValues {
    /// Property code.
    pub code: u32,
    /// The values.
    pub values: AllowedList,
}

/// The list of an AvailListChanged record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedList {
    /// List type 3, one 4-byte slot per value (read at the property's width, like its value).
    Slots(Vec<u32>),
    /// List type 3 of an ImageFormat property: packed values.
    ImageFormats(Vec<ImageFormat>),
    /// Any other list type (1, 2, 7 are mentioned but undocumented), or a list that could not be read:
    /// kept as sent.
    Raw {
        /// List type field.
        list_type: u32,
        /// Count field.
        count: u32,
        /// Bytes after the count.
        data: Vec<u8>,
    },
}

impl AllowedValues {
    /// A type-3 list of integer values.
    pub fn ints(code: u32, values: &[u32]) -> AllowedValues {
        AllowedValues { code, values: AllowedList::Slots(values.to_vec()) }
    }

    /// The integer values, when the list is a type-3 integer list.
    pub fn int_values(&self) -> Option<&[u32]> {
        match &self.values {
            AllowedList::Slots(v) => Some(v),
            _ => None,
        }
    }

    fn decode(code: u32, list_type: u32, count: u32, data: &[u8]) -> AllowedValues {
        let raw =
            || AllowedValues { code, values: AllowedList::Raw { list_type, count, data: data.to_vec() } };
        if list_type != AVAIL_LIST_ENUM || count >= MAX_ALLOWED_VALUES {
            return raw();
        }
        if prop::is_image_format(code) {
            let mut r = Reader::new(data);
            // At least 20 bytes per value, so `count` is bounded by the data before anything is kept.
            if (count as usize).saturating_mul(20) > data.len() {
                return raw();
            }
            let formats: Result<Vec<_>, _> = (0..count).map(|_| ImageFormat::read(&mut r)).collect();
            return match formats {
                Ok(f) => AllowedValues { code, values: AllowedList::ImageFormats(f) },
                Err(_) => raw(),
            };
        }
        match data.get(..count as usize * 4) {
            Some(slots) => {
                let values = slots.chunks_exact(4).map(|s| le32(s, 0)).collect();
                AllowedValues { code, values: AllowedList::Slots(values) }
            }
            None => raw(),
        }
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u32(out, self.code);
        match &self.values {
            AllowedList::Slots(v) => {
                put_u32(out, AVAIL_LIST_ENUM);
                put_u32(out, v.len() as u32);
                v.iter().for_each(|x| put_u32(out, *x));
            }
            AllowedList::ImageFormats(v) => {
                put_u32(out, AVAIL_LIST_ENUM);
                put_u32(out, v.len() as u32);
                v.iter().for_each(|f| f.encode(out));
            }
            AllowedList::Raw { list_type, count, data } => {
                put_u32(out, *list_type);
                put_u32(out, *count);
                out.extend_from_slice(data);
            }
        }
    }
}

/// An object as ObjectAddedEx / ObjectInfoChangedEx report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EosObject {
    /// Object handle.
    pub handle: u32,
    /// Storage id.
    pub storage: u32,
    /// Object format code (0x3801 JPEG, 0x3001 folder, 0xB103/0xB108 CR2/CR3...).
    pub format: u16,
    /// Size in bytes (the u32 at 0x1C).
    pub size: u32,
    /// Parent object handle.
    pub parent: u32,
    /// File name (ASCII).
    pub name: String,
}

/// An object as ObjectAddedEx64 reports it: the [`EosObject`] fields at shifted offsets plus a second id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EosObject64 {
    /// handle @0x08, storage @0x0C, format @0x10, size (low half) @0x1C, parent @0x24, name @0x2C.
    pub object: EosObject,
    /// The u32 at 0x20, which gphoto2 does not read ("size might be 64 bit now"): presumably the high
    /// half of the size; see [`EosObject64::size64`].
    pub size_high: u32,
    /// The second object id @0x28.
    pub second_handle: u32,
}

impl EosObject64 {
    /// The size if 0x1C..0x24 is one 64-bit field (unconfirmed; gphoto2 uses only the low half).
    pub fn size64(&self) -> u64 {
        u64::from(self.size_high) << 32 | u64::from(self.object.size)
    }
}

/// A PC-target capture waiting to be read (RequestObjectTransfer / RequestObjectTransfer64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRequest {
    /// Object handle (read it with GetPartialObject, then TransferComplete).
    pub handle: u32,
    /// Object format code @0x0C.
    pub format: u16,
    /// Size @0x14.
    pub size: u32,
    /// File name @0x1C.
    pub name: String,
}

/// The field mask of an OLCInfoChanged payload (record offset 12; bits 0x1 button, 0x2 shutter, 0x4
/// aperture, 0x8 ISO, 0x40 exposure, 0x100 focus info, 0x200 focus mask); `None` when too short. The
/// fields after it need OLCInfoVersion to be sized, so they are left to the caller.
pub fn olc_mask(payload: &[u8]) -> Option<u16> {
    payload.get(4..6).map(|m| u16::from_le_bytes([m[0], m[1]]))
}

/// One decoded GetEvent record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EosEvent {
    /// 0xC189: a property's current value.
    PropValueChanged(EosProp),
    /// 0xC18A: a property's allowed values.
    AllowedValues(AllowedValues),
    /// 0xC181: a new object on the card.
    ObjectAdded(EosObject),
    /// 0xC187: an object's info changed (same layout as ObjectAdded).
    ObjectInfoChanged(EosObject),
    /// 0xC1A7: a new object, 64-bit layout.
    ObjectAdded64(EosObject64),
    /// 0xC186: a PC-target capture to read.
    RequestObjectTransfer(TransferRequest),
    /// 0xC1A9: the same, 64-bit op variant (same layout).
    RequestObjectTransfer64(TransferRequest),
    /// 0xC182.
    ObjectRemoved {
        /// Object handle.
        handle: u32,
    },
    /// 0xC188.
    ObjectContentChanged {
        /// Object handle.
        handle: u32,
    },
    /// 0xC18B: 1 = busy ([`CAMERA_STATUS_BUSY`]), 0 = idle (capture complete).
    CameraStatusChanged {
        /// Status value.
        status: u32,
    },
    /// 0xC1A5: packed fields whose sizes depend on OLCInfoVersion (0xD199); kept as bytes.
    OlcInfoChanged {
        /// Everything after the 8-byte record header (`u32 len`, `u16 mask`, ...).
        payload: Vec<u8>,
    },
    /// One of [`event::NOTICES`]: a single `u32` that gphoto2 only shows as text.
    Notice {
        /// Record type.
        record_type: u32,
        /// The value @8.
        value: u32,
    },
    /// A record of a type not decoded here, or too short for its type; kept as sent.
    /// Encode it only with a type this module does not decode, or it reads back typed.
    Unknown {
        /// Record type.
        record_type: u32,
        /// Everything after the 8-byte record header.
        payload: Vec<u8>,
    },
}

impl EosEvent {
    /// The record type this event is encoded with.
    pub fn record_type(&self) -> u32 {
        match self {
            EosEvent::PropValueChanged(_) => event::PROP_VALUE_CHANGED,
            EosEvent::AllowedValues(_) => event::AVAIL_LIST_CHANGED,
            EosEvent::ObjectAdded(_) => event::OBJECT_ADDED_EX,
            EosEvent::ObjectInfoChanged(_) => event::OBJECT_INFO_CHANGED_EX,
            EosEvent::ObjectAdded64(_) => event::OBJECT_ADDED_EX64,
            EosEvent::RequestObjectTransfer(_) => event::REQUEST_OBJECT_TRANSFER,
            EosEvent::RequestObjectTransfer64(_) => event::REQUEST_OBJECT_TRANSFER64,
            EosEvent::ObjectRemoved { .. } => event::OBJECT_REMOVED,
            EosEvent::ObjectContentChanged { .. } => event::OBJECT_CONTENT_CHANGED,
            EosEvent::CameraStatusChanged { .. } => event::CAMERA_STATUS_CHANGED,
            EosEvent::OlcInfoChanged { .. } => event::OLC_INFO_CHANGED,
            EosEvent::Notice { record_type, .. } | EosEvent::Unknown { record_type, .. } => *record_type,
        }
    }

    /// Decodes one whole record (`record` starts at its size field and is exactly `size` long). A
    /// payload too short for its type becomes [`EosEvent::Unknown`], as gphoto2 skips it.
    pub fn decode_record(record_type: u32, record: &[u8]) -> EosEvent {
        let size = record.len();
        let unknown =
            || EosEvent::Unknown { record_type, payload: record.get(HEADER..).unwrap_or(&[]).to_vec() };
        let object = |name_at: usize| EosObject {
            handle: le32(record, 0x08),
            storage: le32(record, 0x0C),
            format: le16(record, 0x10),
            size: le32(record, 0x1C),
            parent: le32(record, if name_at == OA64_NAME { 0x24 } else { 0x20 }),
            name: c_string(&record[name_at..]),
        };
        match record_type {
            event::PROP_VALUE_CHANGED if size >= 12 => {
                EosEvent::PropValueChanged(EosProp { code: le32(record, 8), value: record[12..].to_vec() })
            }
            event::AVAIL_LIST_CHANGED if size >= AVAIL_DATA => {
                EosEvent::AllowedValues(AllowedValues::decode(
                    le32(record, 8),
                    le32(record, 12),
                    le32(record, 16),
                    &record[AVAIL_DATA..],
                ))
            }
            event::OBJECT_ADDED_EX if size > OA_NAME => EosEvent::ObjectAdded(object(OA_NAME)),
            event::OBJECT_INFO_CHANGED_EX if size > OA_NAME => EosEvent::ObjectInfoChanged(object(OA_NAME)),
            event::OBJECT_ADDED_EX64 if size > OA64_NAME => EosEvent::ObjectAdded64(EosObject64 {
                object: object(OA64_NAME),
                size_high: le32(record, 0x20),
                second_handle: le32(record, 0x28),
            }),
            event::REQUEST_OBJECT_TRANSFER | event::REQUEST_OBJECT_TRANSFER64 if size > ROT_NAME => {
                let request = TransferRequest {
                    handle: le32(record, 0x08),
                    format: le16(record, 0x0C),
                    size: le32(record, 0x14),
                    name: c_string(&record[ROT_NAME..]),
                };
                if record_type == event::REQUEST_OBJECT_TRANSFER {
                    EosEvent::RequestObjectTransfer(request)
                } else {
                    EosEvent::RequestObjectTransfer64(request)
                }
            }
            event::OBJECT_REMOVED if size >= 12 => EosEvent::ObjectRemoved { handle: le32(record, 8) },
            event::OBJECT_CONTENT_CHANGED if size >= 12 => {
                EosEvent::ObjectContentChanged { handle: le32(record, 8) }
            }
            event::CAMERA_STATUS_CHANGED if size >= 12 => {
                EosEvent::CameraStatusChanged { status: le32(record, 8) }
            }
            event::OLC_INFO_CHANGED => {
                EosEvent::OlcInfoChanged { payload: record.get(HEADER..).unwrap_or(&[]).to_vec() }
            }
            t if event::NOTICES.contains(&t) && size >= 12 => {
                EosEvent::Notice { record_type, value: le32(record, 8) }
            }
            _ => unknown(),
        }
    }

    /// Appends this event as one record. Gaps gphoto2 does not read are written as zeros; names get a
    /// NUL and zero padding to a multiple of 4.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_record(out, self.record_type(), |out| match self {
            EosEvent::PropValueChanged(p) => {
                put_u32(out, p.code);
                out.extend_from_slice(&p.value);
            }
            EosEvent::AllowedValues(a) => a.encode_body(out),
            EosEvent::ObjectAdded(o) | EosEvent::ObjectInfoChanged(o) => {
                put_u32(out, o.handle); // 0x08
                put_u32(out, o.storage); // 0x0C
                put_u16(out, o.format); // 0x10
                out.resize(out.len() + 10, 0); // 0x12..0x1C unread
                put_u32(out, o.size); // 0x1C
                put_u32(out, o.parent); // 0x20
                put_u32(out, 0); // 0x24 unread
                put_padded_name(out, &o.name); // 0x28
            }
            EosEvent::ObjectAdded64(o64) => {
                let o = &o64.object;
                put_u32(out, o.handle); // 0x08
                put_u32(out, o.storage); // 0x0C
                put_u16(out, o.format); // 0x10
                out.resize(out.len() + 10, 0); // 0x12..0x1C unread
                put_u32(out, o.size); // 0x1C
                put_u32(out, o64.size_high); // 0x20
                put_u32(out, o.parent); // 0x24
                put_u32(out, o64.second_handle); // 0x28
                put_padded_name(out, &o.name); // 0x2C
            }
            EosEvent::RequestObjectTransfer(t) | EosEvent::RequestObjectTransfer64(t) => {
                put_u32(out, t.handle); // 0x08
                put_u16(out, t.format); // 0x0C
                out.resize(out.len() + 6, 0); // 0x0E..0x14 unread
                put_u32(out, t.size); // 0x14
                put_u32(out, 0); // 0x18 unread
                put_padded_name(out, &t.name); // 0x1C
            }
            EosEvent::ObjectRemoved { handle } | EosEvent::ObjectContentChanged { handle } => {
                put_u32(out, *handle)
            }
            EosEvent::CameraStatusChanged { status } => put_u32(out, *status),
            EosEvent::Notice { value, .. } => put_u32(out, *value),
            EosEvent::OlcInfoChanged { payload } | EosEvent::Unknown { payload, .. } => {
                out.extend_from_slice(payload)
            }
        });
    }
}

/// Decodes GetEvent 0x9116 data: records of `u32 size (incl. the 8-byte head) · u32 type · payload`,
/// ended by a type-0 record (8 bytes; vcam's 12-byte zero record is accepted too). Anything after the
/// terminator is ignored, as gphoto2 does. Lenient where gphoto2 is strict: a last record that ends
/// exactly at the data end, and data without a terminator, are accepted.
///
/// Errors: a record head cut short ([`WireError::Truncated`]), a size below 8 ([`WireError::BadLength`]),
/// a size past the data ([`WireError::LengthMismatch`]), more than [`MAX_EVENT_RECORDS`] records
/// ([`WireError::TooLarge`] with the data length). Every allocation is bounded by bytes present.
pub fn decode_events(data: &[u8]) -> Result<Vec<EosEvent>, WireError> {
    let mut events = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.len() < HEADER {
            return Err(WireError::Truncated("EOS event record header"));
        }
        let size = le32(rest, 0);
        let record_type = le32(rest, 4);
        if (size as usize) < HEADER {
            return Err(WireError::BadLength(size));
        }
        if size as usize > rest.len() {
            return Err(WireError::LengthMismatch { declared: size, actual: rest.len() });
        }
        if record_type == event::TERMINATOR {
            break;
        }
        if events.len() == MAX_EVENT_RECORDS {
            return Err(WireError::TooLarge(data.len()));
        }
        let (record, tail) = rest.split_at(size as usize);
        events.push(EosEvent::decode_record(record_type, record));
        rest = tail;
    }
    Ok(events)
}

/// Encodes GetEvent data: every event, then the 8-byte [`TERMINATOR`]. No events gives the terminator
/// alone, the "queue empty" answer gphoto2 polls for.
pub fn encode_events(events: &[EosEvent], out: &mut Vec<u8>) {
    events.iter().for_each(|e| e.encode(out));
    out.extend_from_slice(&TERMINATOR);
}

/// A table of a property's values and gphoto2's names for them.
#[derive(Debug)]
pub struct ValueTable {
    /// The property this table describes.
    pub prop: u32,
    /// (value, name) in gphoto2's order; a value may appear twice (thirds and halves share names) and a
    /// name may appear twice (two codes shown the same); lookups take the first.
    pub entries: &'static [(u32, &'static str)],
}

impl ValueTable {
    /// gphoto2's name for `value`, or `Unknown value 00xx` (gphoto2's form: 4 hex digits) when the table
    /// has none.
    pub fn name(&self, value: u32) -> String {
        match self.entries.iter().find(|(v, _)| *v == value) {
            Some((_, name)) => (*name).to_string(),
            None => format!("Unknown value {value:04x}"),
        }
    }

    /// The value for a name: exact match first, then case-insensitive, then numeric equality (`1.0` for
    /// `1`, `f/5.6` for `5.6`, `+2` for `2`), then the `Unknown value XXXX` form that [`name`](Self::name)
    /// produces.
    pub fn value(&self, name: &str) -> Option<u32> {
        let name = name.trim();
        let find = |pred: &dyn Fn(&str) -> bool| self.entries.iter().find(|(_, n)| pred(n)).map(|(v, _)| *v);
        find(&|n| n == name)
            .or_else(|| find(&|n| n.eq_ignore_ascii_case(name)))
            .or_else(|| {
                let wanted = numeric(name)?;
                find(&|n| numeric(n) == Some(wanted))
            })
            .or_else(|| {
                let hex = name.strip_prefix("Unknown value ")?;
                u32::from_str_radix(hex.trim(), 16).ok()
            })
    }

    /// Names of `values` in order (for a camera's allowed list).
    pub fn names(&self, values: &[u32]) -> Vec<String> {
        values.iter().map(|v| self.name(*v)).collect()
    }
}

/// A label read as a number, for tolerant name lookup: optional `f/` and `+`, plain decimal only
/// (`1/125` is not numeric and must match exactly).
fn numeric(label: &str) -> Option<f64> {
    let s = label.trim();
    let s = s.strip_prefix("f/").unwrap_or(s);
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Aperture 0xD101 [config.c canon_aperture]; names without `f/` (gphoto2's CLI form `aperture=5.6`).
pub static APERTURE: ValueTable = ValueTable {
    prop: prop::APERTURE,
    entries: &[
        (0x00, "implicit auto"),
        (0xFFFF, "auto"),
        (0xB0, "auto"),
        (0x08, "1"),
        (0x0B, "1.1"),
        (0x0C, "1.2"),
        (0x0D, "1.2"),
        (0x10, "1.4"),
        (0x13, "1.6"),
        (0x14, "1.8"),
        (0x15, "1.8"),
        (0x18, "2"),
        (0x1B, "2.2"),
        (0x1C, "2.5"),
        (0x1D, "2.5"),
        (0x20, "2.8"),
        (0x23, "3.2"),
        (0x24, "3.5"),
        (0x25, "3.5"),
        (0x28, "4"),
        (0x2B, "4.5"),
        (0x2C, "4.5"),
        (0x2D, "5"),
        (0x30, "5.6"),
        (0x33, "6.3"),
        (0x34, "6.7"),
        (0x35, "7.1"),
        (0x38, "8"),
        (0x3B, "9"),
        (0x3C, "9.5"),
        (0x3D, "10"),
        (0x40, "11"),
        (0x43, "13"),
        (0x44, "13"),
        (0x45, "14"),
        (0x48, "16"),
        (0x4B, "18"),
        (0x4C, "19"),
        (0x4D, "20"),
        (0x50, "22"),
        (0x53, "25"),
        (0x54, "27"),
        (0x55, "29"),
        (0x58, "32"),
        (0x5B, "36"),
        (0x5C, "38"),
        (0x5D, "40"),
        (0x60, "45"),
        (0x63, "51"),
        (0x64, "54"),
        (0x65, "57"),
        (0x68, "64"),
        (0x6B, "72"),
        (0x6C, "76"),
        (0x6D, "81"),
        (0x70, "91"),
    ],
};

/// ShutterSpeed 0xD102 [config.c canon_shutterspeed]; names in seconds.
pub static SHUTTER_SPEED: ValueTable = ValueTable {
    prop: prop::SHUTTER_SPEED,
    entries: &[
        (0x00, "auto"),
        (0x04, "bulb"),
        (0x0C, "bulb"),
        (0x10, "30"),
        (0x13, "25"),
        (0x14, "20.3"),
        (0x15, "20"),
        (0x18, "15"),
        (0x1B, "13"),
        (0x1C, "10"),
        (0x1D, "10.3"),
        (0x20, "8"),
        (0x23, "6.3"),
        (0x24, "6"),
        (0x25, "5"),
        (0x28, "4"),
        (0x2B, "3.2"),
        (0x2C, "3"),
        (0x2D, "2.5"),
        (0x30, "2"),
        (0x33, "1.6"),
        (0x34, "1.5"),
        (0x35, "1.3"),
        (0x38, "1"),
        (0x3B, "0.8"),
        (0x3C, "0.7"),
        (0x3D, "0.6"),
        (0x40, "0.5"),
        (0x43, "0.4"),
        (0x44, "0.3"),
        (0x45, "0.3"),
        (0x48, "1/4"),
        (0x4B, "1/5"),
        (0x4C, "1/6"),
        (0x4D, "1/6"),
        (0x50, "1/8"),
        (0x53, "1/10"),
        (0x54, "1/10"),
        (0x55, "1/13"),
        (0x58, "1/15"),
        (0x5B, "1/20"),
        (0x5C, "1/20"),
        (0x5D, "1/25"),
        (0x60, "1/30"),
        (0x63, "1/40"),
        (0x64, "1/45"),
        (0x65, "1/50"),
        (0x68, "1/60"),
        (0x6B, "1/80"),
        (0x6C, "1/90"),
        (0x6D, "1/100"),
        (0x70, "1/125"),
        (0x73, "1/160"),
        (0x74, "1/180"),
        (0x75, "1/200"),
        (0x78, "1/250"),
        (0x7B, "1/320"),
        (0x7C, "1/350"),
        (0x7D, "1/400"),
        (0x80, "1/500"),
        (0x83, "1/640"),
        (0x84, "1/750"),
        (0x85, "1/800"),
        (0x88, "1/1000"),
        (0x8B, "1/1250"),
        (0x8C, "1/1500"),
        (0x8D, "1/1600"),
        (0x90, "1/2000"),
        (0x93, "1/2500"),
        (0x94, "1/3000"),
        (0x95, "1/3200"),
        (0x98, "1/4000"),
        (0x9B, "1/5000"),
        (0x9C, "1/6000"),
        (0x9D, "1/6400"),
        (0xA0, "1/8000"),
        (0xA8, "1/16000"),
    ],
};

/// ISOSpeed 0xD103 [config.c canon_isospeed].
pub static ISO: ValueTable = ValueTable {
    prop: prop::ISO_SPEED,
    entries: &[
        (0x00, "Auto"),
        (0x01, "Auto ISO"),
        (0xFFFF, "Factory Default"),
        (0x28, "6"),
        (0x30, "12"),
        (0x38, "25"),
        (0x40, "50"),
        (0x43, "64"),
        (0x45, "80"),
        (0x48, "100"),
        (0x4B, "125"),
        (0x4D, "160"),
        (0x50, "200"),
        (0x53, "250"),
        (0x55, "320"),
        (0x58, "400"),
        (0x5B, "500"),
        (0x5D, "640"),
        (0x60, "800"),
        (0x63, "1000"),
        (0x65, "1250"),
        (0x68, "1600"),
        (0x6B, "2000"),
        (0x6D, "2500"),
        (0x70, "3200"),
        (0x73, "4000"),
        (0x75, "5000"),
        (0x78, "6400"),
        (0x7B, "8000"),
        (0x7D, "10000"),
        (0x80, "12800"),
        (0x83, "16000"),
        (0x85, "20000"),
        (0x88, "25600"),
        (0x8B, "32000"),
        (0x8D, "40000"),
        (0x90, "51200"),
        (0x93, "64000"),
        (0x95, "80000"),
        (0x98, "102400"),
        (0xA0, "204800"),
        (0xA8, "409600"),
        (0xB0, "819200"),
    ],
};

/// ExpCompensation 0xD104 [config.c canon_expcompensation2]: u8 two's complement in eighths of EV,
/// thirds written .3/.6 and halves .5.
pub static EXPOSURE_COMPENSATION: ValueTable = ValueTable {
    prop: prop::EXP_COMPENSATION,
    entries: &[
        (0x28, "5"),
        (0x25, "4.6"),
        (0x24, "4.5"),
        (0x23, "4.3"),
        (0x20, "4"),
        (0x1D, "3.6"),
        (0x1C, "3.5"),
        (0x1B, "3.3"),
        (0x18, "3"),
        (0x15, "2.6"),
        (0x14, "2.5"),
        (0x13, "2.3"),
        (0x10, "2"),
        (0x0D, "1.6"),
        (0x0C, "1.5"),
        (0x0B, "1.3"),
        (0x08, "1"),
        (0x05, "0.6"),
        (0x04, "0.5"),
        (0x03, "0.3"),
        (0x00, "0"),
        (0xFD, "-0.3"),
        (0xFC, "-0.5"),
        (0xFB, "-0.6"),
        (0xF8, "-1"),
        (0xF5, "-1.3"),
        (0xF4, "-1.5"),
        (0xF3, "-1.6"),
        (0xF0, "-2"),
        (0xED, "-2.3"),
        (0xEC, "-2.5"),
        (0xEB, "-2.6"),
        (0xE8, "-3"),
        (0xE5, "-3.3"),
        (0xE4, "-3.5"),
        (0xE3, "-3.6"),
        (0xE0, "-4"),
        (0xDD, "-4.3"),
        (0xDC, "-4.5"),
        (0xDB, "-4.6"),
        (0xD8, "-5"),
    ],
};

/// AutoExposureMode 0xD105, the shooting mode [config.c canon_eos_autoexposuremode].
pub static AUTO_EXPOSURE_MODE: ValueTable = ValueTable {
    prop: prop::AUTO_EXPOSURE_MODE,
    entries: &[
        (0x00, "P"),
        (0x01, "TV"),
        (0x02, "AV"),
        (0x03, "Manual"),
        (0x04, "Bulb"),
        (0x05, "A_DEP"),
        (0x06, "DEP"),
        (0x07, "Custom"),
        (0x08, "Lock"),
        (0x09, "Green"),
        (0x0A, "Night Portrait"),
        (0x0B, "Sports"),
        (0x0C, "Portrait"),
        (0x0D, "Landscape"),
        (0x0E, "Closeup"),
        (0x0F, "Flash Off"),
        (0x10, "C2"),
        (0x11, "C3"),
        (0x13, "Creative Auto"),
        (0x14, "Movie"),
        (0x16, "Auto"),
        (0x19, "SCN"),
    ],
};

/// DriveMode 0xD106 [config.c canon_eos_drive_mode].
pub static DRIVE_MODE: ValueTable = ValueTable {
    prop: prop::DRIVE_MODE,
    entries: &[
        (0x00, "Single"),
        (0x01, "Continuous"),
        (0x02, "Video"),
        (0x04, "Continuous high speed"),
        (0x05, "Continuous low speed"),
        (0x06, "Single: Silent shooting"),
        (0x07, "Continuous timer"),
        (0x10, "Timer 10 sec"),
        (0x11, "Timer 2 sec"),
        (0x12, "Super high speed continuous shooting"),
        (0x13, "Single silent"),
        (0x14, "Continuous silent"),
        (0x15, "Silent HS continuous"),
        (0x16, "Silent LS continuous"),
    ],
};

/// FocusMode 0xD108, the AF mode (read-only; 3 = manual means no AF wait before release).
/// Order as the reference gives it; an older gphoto2 table had 1 and 2 swapped.
pub static FOCUS_MODE: ValueTable = ValueTable {
    prop: prop::FOCUS_MODE,
    entries: &[(0, "One Shot"), (1, "AI Servo"), (2, "AI Focus"), (3, "Manual")],
};

/// WhiteBalance 0xD109 [config.c canon_eos_whitebalance].
pub static WHITE_BALANCE: ValueTable = ValueTable {
    prop: prop::WHITE_BALANCE,
    entries: &[
        (0, "Auto"),
        (1, "Daylight"),
        (2, "Cloudy"),
        (3, "Tungsten"),
        (4, "Fluorescent"),
        (5, "Flash"),
        (6, "Manual"),
        (8, "Shadow"),
        (9, "Color Temperature"),
        (10, "Custom Whitebalance: PC-1"),
        (11, "Custom Whitebalance: PC-2"),
        (12, "Custom Whitebalance: PC-3"),
        (15, "Manual 2"),
        (16, "Manual 3"),
        (18, "Manual 4"),
        (19, "Manual 5"),
        (20, "Custom Whitebalance: PC-4"),
        (21, "Custom Whitebalance: PC-5"),
        (23, "AWB White"),
    ],
};

/// BatteryPower 0xD111 (read-only); note the codes are not in level order.
pub static BATTERY_LEVEL: ValueTable = ValueTable {
    prop: prop::BATTERY_POWER,
    entries: &[(0, "Low"), (5, "25%"), (1, "50%"), (4, "75%"), (2, "100%")],
};

/// EVFOutputDevice 0xD1B0 [config.c canon_eos_cameraoutput]: the bit mask as named combinations.
pub static EVF_OUTPUT: ValueTable = ValueTable {
    prop: prop::EVF_OUTPUT_DEVICE,
    entries: &[
        (0, "Off"),
        (1, "TFT"),
        (2, "PC"),
        (3, "TFT + PC"),
        (4, "MOBILE"),
        (5, "TFT + MOBILE"),
        (6, "PC + MOBILE"),
        (7, "TFT + PC + MOBILE"),
        (8, "MOBILE2"),
        (9, "TFT + MOBILE2"),
        (10, "PC + MOBILE2"),
        (11, "TFT + PC + MOBILE2"),
    ],
};

/// The value table of a property, when this module has one (ImageFormat has its own functions:
/// [`image_format_name`], [`image_format_code`]).
pub fn value_table(code: u32) -> Option<&'static ValueTable> {
    [
        &APERTURE,
        &SHUTTER_SPEED,
        &ISO,
        &EXPOSURE_COMPENSATION,
        &AUTO_EXPOSURE_MODE,
        &DRIVE_MODE,
        &FOCUS_MODE,
        &WHITE_BALANCE,
        &BATTERY_LEVEL,
        &EVF_OUTPUT,
    ]
    .into_iter()
    .find(|t| t.prop == code)
}

/// The battery level in percent for a BatteryPower value; `None` for "Low" and unknown values.
pub fn battery_percent(value: u32) -> Option<u8> {
    match value {
        5 => Some(25),
        1 => Some(50),
        4 => Some(75),
        2 => Some(100),
        _ => None,
    }
}

/// Names of one ImageFormat file byte (high or low byte of [`ImageFormat::code`]) [config.c
/// canon_eos_single_ImageFormats]; `c` = normal (more compressed) JPEG, bare = fine. The last eight are the
/// "user" compression codes of 1D X / R5 Mark II bodies and repeat names; lookups by name take the first.
const IMAGE_FORMAT_BYTES: &[(u8, &str)] = &[
    (0x0C, "RAW"),
    (0x1C, "mRAW"),
    (0x2C, "sRAW"),
    (0x0B, "cRAW"),
    (0x03, "L"),
    (0x02, "cL"),
    (0x13, "M"),
    (0x12, "cM"),
    (0x23, "S"),
    (0x22, "cS"),
    (0x53, "M1"),
    (0x52, "cM1"),
    (0x63, "M2"),
    (0x62, "cM2"),
    (0xD3, "S1"),
    (0xD2, "cS1"),
    (0xE3, "S2"),
    (0xE2, "cS2"),
    (0xF3, "S3"),
    (0xF2, "cS3"),
    (0x01, "L"),
    (0x51, "M1"),
    (0x61, "M2"),
    (0x21, "S"),
    (0x00, "L"),
    (0x10, "M"),
    (0xE0, "S1"),
    (0xD0, "S2"),
];

/// gphoto2's name for a condensed ImageFormat code: `L`, `cRAW`, `RAW + L` (high byte first, low byte
/// 0xFF = one file); `Unknown value xxxx` when a byte has no name.
pub fn image_format_name(code: u16) -> String {
    let name = |b: u8| IMAGE_FORMAT_BYTES.iter().find(|(v, _)| *v == b).map(|(_, n)| *n);
    let [high, low] = code.to_be_bytes();
    match (name(high), low) {
        (Some(h), 0xFF) => h.to_string(),
        (Some(h), _) => match name(low) {
            Some(l) => format!("{h} + {l}"),
            None => format!("Unknown value {code:04x}"),
        },
        (None, _) => format!("Unknown value {code:04x}"),
    }
}

/// The condensed code for a name [`image_format_name`] produces (or its `Unknown value xxxx` form).
pub fn image_format_code(name: &str) -> Option<u16> {
    let name = name.trim();
    if let Some(hex) = name.strip_prefix("Unknown value ") {
        return u16::from_str_radix(hex.trim(), 16).ok();
    }
    let byte = |n: &str| IMAGE_FORMAT_BYTES.iter().find(|(_, l)| *l == n.trim()).map(|(v, _)| *v);
    match name.split_once(" + ") {
        Some((h, l)) => Some(u16::from_be_bytes([byte(h)?, byte(l)?])),
        None => Some(u16::from_be_bytes([byte(name)?, 0xFF])),
    }
}

/// GetViewFinderData blob types.
pub mod viewfinder {
    /// End of the reply.
    pub const END: u32 = 0;
    /// A JPEG frame.
    pub const JPEG: u32 = 1;
    /// A movie frame (gphoto2 passes it on with a raw MIME type).
    pub const MOVIE: u32 = 9;
    /// A JPEG frame (second type code some bodies use).
    pub const JPEG_ALT: u32 = 11;
}

/// One blob of a GetViewFinderData reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewfinderBlob<'a> {
    /// Blob type ([`viewfinder`]).
    pub kind: u32,
    /// The payload (`len - 8` bytes), borrowed from the reply.
    pub data: &'a [u8],
}

/// The blobs of a GetViewFinderData 0x9153 reply: `u32 len (incl. 8) · u32 type · payload`, ended by a
/// type-0 blob or the data end. Yields an error once (then stops) for a cut or impossible length, and
/// stops after [`MAX_VIEWFINDER_BLOBS`]; borrows, never allocates.
pub struct ViewfinderBlobs<'a> {
    rest: &'a [u8],
    seen: usize,
}

impl<'a> ViewfinderBlobs<'a> {
    /// Walks `data`.
    pub fn new(data: &'a [u8]) -> Self {
        ViewfinderBlobs { rest: data, seen: 0 }
    }
}

impl<'a> Iterator for ViewfinderBlobs<'a> {
    type Item = Result<ViewfinderBlob<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.seen >= MAX_VIEWFINDER_BLOBS {
            return None;
        }
        let fail = |this: &mut Self, e| {
            this.rest = &[];
            Some(Err(e))
        };
        if self.rest.len() < HEADER {
            return fail(self, WireError::Truncated("viewfinder blob header"));
        }
        let len = le32(self.rest, 0);
        let kind = le32(self.rest, 4);
        if (len as usize) < HEADER {
            return fail(self, WireError::BadLength(len));
        }
        if len as usize > self.rest.len() {
            return fail(self, WireError::LengthMismatch { declared: len, actual: self.rest.len() });
        }
        if kind == viewfinder::END {
            self.rest = &[];
            return None;
        }
        let (blob, tail) = self.rest.split_at(len as usize);
        self.rest = tail;
        self.seen += 1;
        Some(Ok(ViewfinderBlob { kind, data: &blob[HEADER..] }))
    }
}

/// The frame gphoto2 takes from a GetViewFinderData reply: the first blob of type 1 or 11 (JPEG) or 9
/// (movie). `Ok(None)` when the reply (up to any framing error after it) has none.
pub fn viewfinder_frame(data: &[u8]) -> Result<Option<ViewfinderBlob<'_>>, WireError> {
    for blob in ViewfinderBlobs::new(data) {
        let blob = blob?;
        if matches!(blob.kind, viewfinder::JPEG | viewfinder::JPEG_ALT | viewfinder::MOVIE) {
            return Ok(Some(blob));
        }
    }
    Ok(None)
}

/// The JPEG of a GetViewFinderData reply: the first blob of type 1 or 11; `Ok(None)` when there is none.
pub fn viewfinder_jpeg(data: &[u8]) -> Result<Option<&[u8]>, WireError> {
    for blob in ViewfinderBlobs::new(data) {
        let blob = blob?;
        if matches!(blob.kind, viewfinder::JPEG | viewfinder::JPEG_ALT) {
            return Ok(Some(blob.data));
        }
    }
    Ok(None)
}

/// Encodes a GetViewFinderData reply carrying one JPEG: `[len, 1, jpeg]` then the `[8, 0]` end blob.
/// A JPEG too large for a `u32` length is not representable; callers bound frames far below that.
pub fn encode_viewfinder(jpeg: &[u8], out: &mut Vec<u8>) {
    put_u32(out, (jpeg.len() + HEADER) as u32);
    put_u32(out, viewfinder::JPEG);
    out.extend_from_slice(jpeg);
    put_u32(out, 8);
    put_u32(out, viewfinder::END);
}

#[cfg(test)]
mod tests {
    //! Golden bytes from `ptpip-vendors.md` §2.3–§2.5 (records built from gphoto2's offsets, vcam's real
    //! GetEvent dump facts).
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace().map(|t| u8::from_str_radix(t, 16).unwrap()).collect()
    }

    fn one(bytes: &[u8]) -> EosEvent {
        let mut events = decode_events(bytes).unwrap();
        assert_eq!(events.len(), 1);
        events.remove(0)
    }

    fn encoded(e: &EosEvent) -> Vec<u8> {
        let mut out = Vec::new();
        e.encode(&mut out);
        out
    }

    #[test]
    fn golden_prop_value_changed() {
        let bytes = hex("10 00 00 00 89 c1 00 00 01 d1 00 00 30 00 00 00");
        let e = one(&bytes);
        let EosEvent::PropValueChanged(p) = &e else { panic!("{e:?}") };
        assert_eq!((p.code, p.int_value()), (prop::APERTURE, Some(0x30)));
        assert_eq!(p.typed_value(), Some(PropValue::U16(0x30)));
        assert_eq!(APERTURE.name(p.int_value().unwrap()), "5.6");
        assert_eq!(e, EosEvent::PropValueChanged(EosProp::int(prop::APERTURE, 0x30)));
        assert_eq!(encoded(&e), bytes);
    }

    #[test]
    fn golden_avail_list_changed() {
        let bytes = hex("24 00 00 00 8a c1 00 00 03 d1 00 00 03 00 00 00 04 00 00 00 \
             00 00 00 00 48 00 00 00 50 00 00 00 58 00 00 00");
        let e = one(&bytes);
        let expected = AllowedValues::ints(prop::ISO_SPEED, &[0, 0x48, 0x50, 0x58]);
        assert_eq!(e, EosEvent::AllowedValues(expected.clone()));
        assert_eq!(ISO.names(expected.int_values().unwrap()), ["Auto", "100", "200", "400"]);
        assert_eq!(encoded(&e), bytes);
    }

    #[test]
    fn golden_object_added_ex() {
        let bytes =
            hex("38 00 00 00 81 c1 00 00 01 40 27 09 01 00 02 00 01 38 00 00 00 00 00 00 00 00 00 00 \
             d6 07 00 00 00 00 74 92 00 00 00 00 49 4d 47 5f 30 30 30 31 2e 4a 50 47 00 00 00 00");
        let e = one(&bytes);
        let object = EosObject {
            handle: 0x0927_4001,
            storage: 0x0002_0001,
            format: 0x3801,
            size: 2006,
            parent: 0x9274_0000,
            name: "IMG_0001.JPG".into(),
        };
        assert_eq!(e, EosEvent::ObjectAdded(object));
        assert_eq!(encoded(&e), bytes);
    }

    #[test]
    fn golden_request_object_transfer() {
        let bytes =
            hex("2c 00 00 00 86 c1 00 00 01 40 27 09 01 38 00 00 00 00 00 00 d6 07 00 00 00 00 00 00 \
             49 4d 47 5f 30 30 30 31 2e 4a 50 47 00 00 00 00");
        let e = one(&bytes);
        let request =
            TransferRequest { handle: 0x0927_4001, format: 0x3801, size: 2006, name: "IMG_0001.JPG".into() };
        assert_eq!(e, EosEvent::RequestObjectTransfer(request));
        assert_eq!(encoded(&e), bytes);
    }

    #[test]
    fn object_added_64_reads_the_shifted_offsets() {
        let mut bytes = hex("00 00 00 00 a7 c1 00 00 01 40 27 09 01 00 02 00 01 38 00 00");
        bytes.extend([0; 8]); // 0x14..0x1C
        bytes.extend(hex("d6 07 00 00 01 00 00 00 00 00 74 92 02 40 27 09"));
        bytes.extend(b"IMG_0001.CR3\0\0\0\0");
        let size = bytes.len() as u32;
        bytes[..4].copy_from_slice(&size.to_le_bytes());
        let EosEvent::ObjectAdded64(o) = one(&bytes) else { panic!() };
        assert_eq!(o.object.parent, 0x9274_0000);
        assert_eq!(o.object.name, "IMG_0001.CR3");
        assert_eq!((o.second_handle, o.size64()), (0x0927_4002, (1 << 32) | 2006));
        assert_eq!(encoded(&EosEvent::ObjectAdded64(o)), bytes);
    }

    #[test]
    fn golden_vcam_dump_facts() {
        // CTGInfoCheckComplete as in vcam's eos_events.bin, then two of its 16-byte value records,
        // a type-3 list, and the terminator.
        let mut data = hex("0c 00 00 00 a4 c1 00 00 01 00 02 00");
        data.extend(hex("10 00 00 00 89 c1 00 00 02 d1 00 00 2d 00 00 00"));
        data.extend(hex("10 00 00 00 89 c1 00 00 1b d1 00 00 03 0c 00 00"));
        data.extend(hex(
            "20 00 00 00 8a c1 00 00 1c d1 00 00 03 00 00 00 03 00 00 00 02 00 00 00 04 00 00 00 06 00 00 00",
        ));
        data.extend(TERMINATOR);
        let events = decode_events(&data).unwrap();
        assert_eq!(
            events,
            [
                EosEvent::Notice { record_type: event::CTG_INFO_CHECK_COMPLETE, value: 0x0002_0001 },
                EosEvent::PropValueChanged(EosProp::int(prop::SHUTTER_SPEED, 0x2D)),
                EosEvent::PropValueChanged(EosProp::int(prop::AVAILABLE_SHOTS, 0xC03)),
                EosEvent::AllowedValues(AllowedValues::ints(prop::CAPTURE_DESTINATION, &[2, 4, 6])),
            ]
        );
        assert_eq!(SHUTTER_SPEED.name(0x2D), "2.5");
        let mut out = Vec::new();
        encode_events(&events, &mut out);
        assert_eq!(out, data);
    }

    #[test]
    fn terminators_and_their_absence() {
        assert_eq!(decode_events(&TERMINATOR).unwrap(), []);
        assert_eq!(decode_events(&[]).unwrap(), []);
        // vcam's generator ends with a 12-byte zero record.
        assert_eq!(decode_events(&hex("0c 00 00 00 00 00 00 00 00 00 00 00")).unwrap(), []);
        // A last record that ends exactly at the data end is kept (gphoto2 would drop it).
        let e = one(&hex("0c 00 00 00 8b c1 00 00 01 00 00 00"));
        assert_eq!(e, EosEvent::CameraStatusChanged { status: CAMERA_STATUS_BUSY });
        // Records after the terminator are not read.
        let mut data = TERMINATOR.to_vec();
        data.extend(hex("0c 00 00 00 8b c1 00 00 01 00 00 00"));
        assert_eq!(decode_events(&data).unwrap(), []);
        let mut out = Vec::new();
        encode_events(&[], &mut out);
        assert_eq!(out, TERMINATOR);
    }

    #[test]
    fn framing_errors_are_typed() {
        assert_eq!(decode_events(&[8, 0, 0]), Err(WireError::Truncated("EOS event record header")));
        assert_eq!(decode_events(&hex("04 00 00 00 89 c1 00 00")), Err(WireError::BadLength(4)));
        assert_eq!(
            decode_events(&hex("10 00 00 00 89 c1 00 00 01 d1")),
            Err(WireError::LengthMismatch { declared: 16, actual: 10 })
        );
        let many: Vec<u8> = (0..=MAX_EVENT_RECORDS).flat_map(|_| hex("08 00 00 00 01 c1 00 00")).collect();
        assert_eq!(decode_events(&many), Err(WireError::TooLarge(many.len())));
    }

    #[test]
    fn short_or_odd_records_stay_raw() {
        // ObjectAddedEx needs a name byte at 0x28; a shorter one is kept as bytes, as gphoto2 skips it.
        let short = hex("10 00 00 00 81 c1 00 00 01 00 00 00 02 00 00 00");
        assert_eq!(
            one(&short),
            EosEvent::Unknown { record_type: event::OBJECT_ADDED_EX, payload: short[8..].to_vec() }
        );
        // A type-3 list whose count does not fit is kept raw.
        let bad = hex("18 00 00 00 8a c1 00 00 01 d1 00 00 03 00 00 00 09 00 00 00 30 00 00 00");
        let EosEvent::AllowedValues(a) = one(&bad) else { panic!() };
        assert_eq!(a.values, AllowedList::Raw { list_type: 3, count: 9, data: hex("30 00 00 00") });
        // Other list types are not decoded.
        let other = hex("18 00 00 00 8a c1 00 00 01 d1 00 00 07 00 00 00 01 00 00 00 30 00 00 00");
        let EosEvent::AllowedValues(a) = one(&other) else { panic!() };
        assert_eq!(a.values, AllowedList::Raw { list_type: 7, count: 1, data: hex("30 00 00 00") });
    }

    #[test]
    fn golden_set_prop_ex() {
        let bytes = hex("0c 00 00 00 01 d1 00 00 30 00 00 00");
        let p = EosProp::int(prop::APERTURE, 0x30);
        assert_eq!(p.set_prop_ex_bytes(), bytes);
        assert_eq!(EosProp::decode_set_prop_ex(&bytes).unwrap(), p);
        // Strings: ASCII + NUL, total strlen + 9, no padding.
        let owner = EosProp::string(prop::OWNER, "Ann");
        assert_eq!(owner.set_prop_ex_bytes(), hex("0c 00 00 00 15 d1 00 00 41 6e 6e 00"));
        assert_eq!(owner.typed_value(), Some(PropValue::Str("Ann".into())));
        assert_eq!(EosProp::decode_set_prop_ex(&hex("07 00 00 00 01 d1 00")), Err(WireError::BadLength(7)));
        assert_eq!(
            EosProp::decode_set_prop_ex(&hex("0c 00 00 00 01 d1 00 00")),
            Err(WireError::LengthMismatch { declared: 12, actual: 8 })
        );
    }

    #[test]
    fn golden_image_format_raw_plus_l() {
        let bytes =
            hex("2c 00 00 00 20 d1 00 00 02 00 00 00 10 00 00 00 06 00 00 00 00 00 00 00 04 00 00 00 \
             10 00 00 00 01 00 00 00 00 00 00 00 03 00 00 00");
        let p = EosProp::decode_set_prop_ex(&bytes).unwrap();
        assert_eq!(p.typed_value(), Some(PropValue::U16(0x0C03)));
        let format = ImageFormat::decode(&p.value).unwrap();
        assert_eq!(image_format_name(format.code()), "RAW + L");
        assert_eq!(image_format_code("RAW + L"), Some(0x0C03));
        assert_eq!(ImageFormat::from_code(0x0C03), format);
        assert_eq!(EosProp::image_format(prop::IMAGE_FORMAT, &format).set_prop_ex_bytes(), bytes);
    }

    #[test]
    fn image_format_names_of_the_vcam_list() {
        let names: Vec<String> =
            [0x03FF, 0x02FF, 0x13FF, 0x12FF, 0xD3FF, 0xD2FF, 0xE3FF, 0xF3FF, 0x0C03, 0x0CFF]
                .into_iter()
                .map(image_format_name)
                .collect();
        assert_eq!(names, ["L", "cL", "M", "cM", "S1", "cS1", "S2", "S3", "RAW + L", "RAW"]);
        // S1 is wire size 0xE, condensed to nibble 0xD.
        assert_eq!(
            ImageFormat::from_code(0xD3FF).first,
            ImageFormatEntry { kind: 1, size: 0xE, compression: 3 }
        );
        assert_eq!(image_format_name(0x77FF), "Unknown value 77ff");
        assert_eq!(image_format_code("Unknown value 77ff"), Some(0x77FF));
        assert_eq!(image_format_code("XL"), None);
    }

    #[test]
    fn value_tables_name_and_parse_like_gphoto2() {
        assert_eq!(APERTURE.value("5.6"), Some(0x30));
        assert_eq!(APERTURE.value("f/5.6"), Some(0x30));
        assert_eq!(APERTURE.value("f/2.0"), Some(0x18));
        assert_eq!(SHUTTER_SPEED.name(0x70), "1/125");
        assert_eq!(SHUTTER_SPEED.value("1/4000"), Some(0x98));
        assert_eq!(SHUTTER_SPEED.value("0.5"), Some(0x40));
        assert_eq!(SHUTTER_SPEED.value("30"), Some(0x10));
        assert_eq!(SHUTTER_SPEED.value("bulb"), Some(0x04));
        assert_eq!(SHUTTER_SPEED.value("Bulb"), Some(0x04));
        assert_eq!(ISO.name(0), "Auto");
        assert_eq!(ISO.value("auto"), Some(0));
        assert_eq!(ISO.value("100"), Some(0x48));
        assert_eq!(EXPOSURE_COMPENSATION.value("1.0"), Some(0x08));
        assert_eq!(EXPOSURE_COMPENSATION.value("+2"), Some(0x10));
        assert_eq!(EXPOSURE_COMPENSATION.name(0xFD), "-0.3");
        assert_eq!(WHITE_BALANCE.name(8), "Shadow");
        assert_eq!(DRIVE_MODE.name(0x11), "Timer 2 sec");
        assert_eq!(FOCUS_MODE.name(3), "Manual");
        assert_eq!(BATTERY_LEVEL.name(4), "75%");
        assert_eq!(battery_percent(4), Some(75));
        assert_eq!(EVF_OUTPUT.value("PC"), Some(evf_output::PC));
        // Unknown codes show as gphoto2 does and parse back.
        assert_eq!(APERTURE.name(0xEE), "Unknown value 00ee");
        assert_eq!(APERTURE.value("Unknown value 00ee"), Some(0xEE));
        assert_eq!(APERTURE.value("f/99"), None);
        assert!(std::ptr::eq(value_table(prop::ISO_SPEED).unwrap(), &ISO));
        assert!(value_table(prop::IMAGE_FORMAT).is_none());
    }

    #[test]
    fn int_values_use_the_declared_width() {
        let wb = EosProp { code: prop::WHITE_BALANCE, value: hex("08 ff ff ff") };
        assert_eq!((wb.int_value(), wb.typed_value()), (Some(8), Some(PropValue::U8(8))));
        let shots = EosProp { code: prop::AVAILABLE_SHOTS, value: hex("03 0c") };
        assert_eq!(shots.int_value(), None);
        let unknown = EosProp { code: 0xD1FF, value: hex("01 02 03 04 05") };
        assert_eq!((unknown.int_value(), unknown.typed_value()), (Some(0x0403_0201), None));
    }

    #[test]
    fn viewfinder_reply_yields_the_first_jpeg() {
        let jpeg = hex("ff d8 ff e0 00 10 ff d9");
        let mut reply = Vec::new();
        put_u32(&mut reply, 12);
        put_u32(&mut reply, 4); // a non-image blob first
        reply.extend([1, 2, 3, 4]);
        let mut tail = Vec::new();
        encode_viewfinder(&jpeg, &mut tail);
        reply.extend(&tail);
        assert_eq!(viewfinder_jpeg(&reply).unwrap(), Some(&jpeg[..]));
        assert_eq!(tail[..8], hex("10 00 00 00 01 00 00 00"));
        assert_eq!(tail[tail.len() - 8..], hex("08 00 00 00 00 00 00 00"));
        let kinds: Vec<u32> = ViewfinderBlobs::new(&reply).map(|b| b.unwrap().kind).collect();
        assert_eq!(kinds, [4, 1]);
        assert_eq!(viewfinder_jpeg(&TERMINATOR).unwrap(), None);
        assert_eq!(viewfinder_jpeg(&reply[..20]), Err(WireError::LengthMismatch { declared: 16, actual: 8 }));
        assert_eq!(viewfinder_frame(&hex("09 00 00 00 09 00 00 00 aa")).unwrap().unwrap().data, [0xaa]);
    }

    #[test]
    fn olc_mask_is_read_after_the_length() {
        let e = one(&hex("10 00 00 00 a5 c1 00 00 08 00 00 00 02 00 00 00"));
        let EosEvent::OlcInfoChanged { payload } = e else { panic!() };
        assert_eq!(olc_mask(&payload), Some(0x0002));
        assert_eq!(olc_mask(&payload[..5]), None);
    }

    #[test]
    fn names_of_codes() {
        assert_eq!(op::name(op::GET_EVENT), Some("EOS_GetEvent"));
        assert_eq!(op::name(0x1001), None);
        assert_eq!(event::name(event::OBJECT_ADDED_EX), Some("ObjectAddedEx"));
        assert_eq!(EosEvent::ObjectRemoved { handle: 1 }.record_type(), event::OBJECT_REMOVED);
    }
}
