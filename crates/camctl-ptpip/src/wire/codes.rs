//! PTP code tables (ISO 15740 / `ptp.h`): operations, responses, events, object formats, properties.

/// Operation codes.
#[allow(missing_docs)]
pub mod op {
    pub const GET_DEVICE_INFO: u16 = 0x1001;
    pub const OPEN_SESSION: u16 = 0x1002;
    pub const CLOSE_SESSION: u16 = 0x1003;
    pub const GET_STORAGE_IDS: u16 = 0x1004;
    pub const GET_STORAGE_INFO: u16 = 0x1005;
    pub const GET_NUM_OBJECTS: u16 = 0x1006;
    pub const GET_OBJECT_HANDLES: u16 = 0x1007;
    pub const GET_OBJECT_INFO: u16 = 0x1008;
    pub const GET_OBJECT: u16 = 0x1009;
    pub const GET_THUMB: u16 = 0x100A;
    pub const DELETE_OBJECT: u16 = 0x100B;
    pub const SEND_OBJECT_INFO: u16 = 0x100C;
    pub const SEND_OBJECT: u16 = 0x100D;
    pub const INITIATE_CAPTURE: u16 = 0x100E;
    pub const FORMAT_STORE: u16 = 0x100F;
    pub const GET_DEVICE_PROP_DESC: u16 = 0x1014;
    pub const GET_DEVICE_PROP_VALUE: u16 = 0x1015;
    pub const SET_DEVICE_PROP_VALUE: u16 = 0x1016;
    pub const RESET_DEVICE_PROP_VALUE: u16 = 0x1017;
    pub const GET_PARTIAL_OBJECT: u16 = 0x101B;
    /// Nikon keep-alive some initiators send; answered OK.
    pub const NIKON_DEVICE_READY: u16 = 0x90C8;

    /// The spec name of an operation code, for logs (`GetObjectInfo`); vendor codes read `Vendor`.
    pub fn name(code: u16) -> &'static str {
        const NAMES: [&str; 0x1D] = [
            "Undefined",
            "GetDeviceInfo",
            "OpenSession",
            "CloseSession",
            "GetStorageIDs",
            "GetStorageInfo",
            "GetNumObjects",
            "GetObjectHandles",
            "GetObjectInfo",
            "GetObject",
            "GetThumb",
            "DeleteObject",
            "SendObjectInfo",
            "SendObject",
            "InitiateCapture",
            "FormatStore",
            "ResetDevice",
            "SelfTest",
            "SetObjectProtection",
            "PowerDown",
            "GetDevicePropDesc",
            "GetDevicePropValue",
            "SetDevicePropValue",
            "ResetDevicePropValue",
            "TerminateOpenCapture",
            "MoveObject",
            "CopyObject",
            "GetPartialObject",
            "InitiateOpenCapture",
        ];
        match code {
            NIKON_DEVICE_READY => "Nikon_DeviceReady",
            _ => {
                code.checked_sub(0x1000).and_then(|i| NAMES.get(usize::from(i))).copied().unwrap_or("Vendor")
            }
        }
    }

    /// Operations whose data phase goes initiator → responder (rule 10: decide by opcode, not only by
    /// the DataPhaseInfo field, which some initiators always set to 1).
    pub fn has_data_out(code: u16) -> bool {
        matches!(code, SEND_OBJECT_INFO | SEND_OBJECT | SET_DEVICE_PROP_VALUE)
    }
}

/// Response codes.
#[allow(missing_docs)]
pub mod rc {
    pub const OK: u16 = 0x2001;
    pub const GENERAL_ERROR: u16 = 0x2002;
    pub const SESSION_NOT_OPEN: u16 = 0x2003;
    pub const INVALID_TRANSACTION_ID: u16 = 0x2004;
    pub const OPERATION_NOT_SUPPORTED: u16 = 0x2005;
    pub const PARAMETER_NOT_SUPPORTED: u16 = 0x2006;
    pub const INCOMPLETE_TRANSFER: u16 = 0x2007;
    pub const INVALID_STORAGE_ID: u16 = 0x2008;
    pub const INVALID_OBJECT_HANDLE: u16 = 0x2009;
    pub const DEVICE_PROP_NOT_SUPPORTED: u16 = 0x200A;
    pub const INVALID_OBJECT_FORMAT_CODE: u16 = 0x200B;
    pub const STORE_FULL: u16 = 0x200C;
    pub const OBJECT_WRITE_PROTECTED: u16 = 0x200D;
    pub const STORE_READ_ONLY: u16 = 0x200E;
    pub const ACCESS_DENIED: u16 = 0x200F;
    pub const NO_THUMBNAIL_PRESENT: u16 = 0x2010;
    pub const DEVICE_BUSY: u16 = 0x2019;
    pub const INVALID_PARENT_OBJECT: u16 = 0x201A;
    pub const INVALID_DEVICE_PROP_FORMAT: u16 = 0x201B;
    pub const INVALID_DEVICE_PROP_VALUE: u16 = 0x201C;
    pub const INVALID_PARAMETER: u16 = 0x201D;
    pub const SESSION_ALREADY_OPEN: u16 = 0x201E;
    pub const TRANSACTION_CANCELLED: u16 = 0x201F;
    pub const SPECIFICATION_BY_FORMAT_UNSUPPORTED: u16 = 0x2014;

    /// The spec name of a response code, for error messages.
    pub fn name(code: u16) -> &'static str {
        const NAMES: [&str; 36] = [
            "Undefined",
            "OK",
            "GeneralError",
            "SessionNotOpen",
            "InvalidTransactionID",
            "OperationNotSupported",
            "ParameterNotSupported",
            "IncompleteTransfer",
            "InvalidStorageId",
            "InvalidObjectHandle",
            "DevicePropNotSupported",
            "InvalidObjectFormatCode",
            "StoreFull",
            "ObjectWriteProtected",
            "StoreReadOnly",
            "AccessDenied",
            "NoThumbnailPresent",
            "SelfTestFailed",
            "PartialDeletion",
            "StoreNotAvailable",
            "SpecificationByFormatUnsupported",
            "NoValidObjectInfo",
            "InvalidCodeFormat",
            "UnknownVendorCode",
            "CaptureAlreadyTerminated",
            "DeviceBusy",
            "InvalidParentObject",
            "InvalidDevicePropFormat",
            "InvalidDevicePropValue",
            "InvalidParameter",
            "SessionAlreadyOpened",
            "TransactionCanceled",
            "SpecificationOfDestinationUnsupported",
            "InvalidEnumHandle",
            "NoStreamEnabled",
            "InvalidDataSet",
        ];
        code.checked_sub(0x2000).and_then(|i| NAMES.get(usize::from(i))).copied().unwrap_or("vendor-specific")
    }
}

/// Event codes.
#[allow(missing_docs)]
pub mod ev {
    pub const CANCEL_TRANSACTION: u16 = 0x4001;
    pub const OBJECT_ADDED: u16 = 0x4002;
    pub const OBJECT_REMOVED: u16 = 0x4003;
    pub const STORE_ADDED: u16 = 0x4004;
    pub const STORE_REMOVED: u16 = 0x4005;
    pub const DEVICE_PROP_CHANGED: u16 = 0x4006;
    pub const OBJECT_INFO_CHANGED: u16 = 0x4007;
    pub const DEVICE_INFO_CHANGED: u16 = 0x4008;
    pub const REQUEST_OBJECT_TRANSFER: u16 = 0x4009;
    pub const STORE_FULL: u16 = 0x400A;
    pub const DEVICE_RESET: u16 = 0x400B;
    pub const STORAGE_INFO_CHANGED: u16 = 0x400C;
    pub const CAPTURE_COMPLETE: u16 = 0x400D;
    pub const UNREPORTED_STATUS: u16 = 0x400E;

    /// The spec name of an event code.
    pub fn name(code: u16) -> String {
        const NAMES: [&str; 15] = [
            "Undefined",
            "CancelTransaction",
            "ObjectAdded",
            "ObjectRemoved",
            "StoreAdded",
            "StoreRemoved",
            "DevicePropChanged",
            "ObjectInfoChanged",
            "DeviceInfoChanged",
            "RequestObjectTransfer",
            "StoreFull",
            "DeviceReset",
            "StorageInfoChanged",
            "CaptureComplete",
            "UnreportedStatus",
        ];
        code.checked_sub(0x4000)
            .and_then(|i| NAMES.get(usize::from(i)))
            .map(|s| s.to_string())
            .unwrap_or_else(|| format!("Event0x{code:04X}"))
    }
}

/// Object format codes.
#[allow(missing_docs)]
pub mod format {
    pub const UNDEFINED: u16 = 0x3000;
    pub const ASSOCIATION: u16 = 0x3001;
    pub const TEXT: u16 = 0x3004;
    pub const WAV: u16 = 0x3008;
    pub const MP3: u16 = 0x3009;
    pub const AVI: u16 = 0x300A;
    pub const MPEG: u16 = 0x300B;
    pub const QUICKTIME: u16 = 0x300D;
    pub const EXIF_JPEG: u16 = 0x3801;
    pub const TIFF_EP: u16 = 0x3802;
    pub const BMP: u16 = 0x3804;
    pub const GIF: u16 = 0x3807;
    pub const JFIF: u16 = 0x3808;
    pub const PNG: u16 = 0x380B;
    pub const TIFF: u16 = 0x380D;
    pub const DNG: u16 = 0x3811;

    /// The format code for a file name, by extension; `UNDEFINED` when unknown.
    pub fn from_file_name(name: &str) -> u16 {
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        match ext.as_str() {
            "jpg" | "jpeg" => EXIF_JPEG,
            "tif" | "tiff" => TIFF,
            "png" => PNG,
            "bmp" => BMP,
            "gif" => GIF,
            "dng" => DNG,
            "txt" => TEXT,
            "wav" => WAV,
            "mp3" => MP3,
            "avi" => AVI,
            "mpg" | "mpeg" => MPEG,
            "mov" | "mp4" => QUICKTIME,
            _ => UNDEFINED,
        }
    }

    /// Whether the format is an image (0x38xx) format.
    pub fn is_image(code: u16) -> bool {
        code & 0xFF00 == 0x3800
    }
}

/// Standard device property codes.
#[allow(missing_docs)]
pub mod prop {
    pub const BATTERY_LEVEL: u16 = 0x5001;
    pub const IMAGE_SIZE: u16 = 0x5003;
    pub const WHITE_BALANCE: u16 = 0x5005;
    pub const F_NUMBER: u16 = 0x5007;
    pub const FOCAL_LENGTH: u16 = 0x5008;
    pub const FOCUS_MODE: u16 = 0x500A;
    pub const EXPOSURE_METERING_MODE: u16 = 0x500B;
    pub const FLASH_MODE: u16 = 0x500C;
    pub const EXPOSURE_TIME: u16 = 0x500D;
    pub const EXPOSURE_PROGRAM_MODE: u16 = 0x500E;
    pub const EXPOSURE_INDEX: u16 = 0x500F;
    pub const EXPOSURE_BIAS_COMPENSATION: u16 = 0x5010;
    pub const DATE_TIME: u16 = 0x5011;
    pub const CAPTURE_DELAY: u16 = 0x5012;
    pub const STILL_CAPTURE_MODE: u16 = 0x5013;
}
