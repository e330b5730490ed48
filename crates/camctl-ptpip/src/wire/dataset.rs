//! PTP datasets: DeviceInfo, StorageInfo, ObjectInfo, DevicePropDesc, typed property values, dates.

use camctl_core::time::DateTime;

use super::WireError;
use super::bytes::{Reader, put_ptp_string, put_u16, put_u16_array, put_u32, put_u32_array, put_u64};

/// A PTP data type code (`PTP_DTC_*`); arrays are `0x4000 | element`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataType(pub u16);

#[allow(missing_docs)]
impl DataType {
    pub const INT8: DataType = DataType(0x0001);
    pub const UINT8: DataType = DataType(0x0002);
    pub const INT16: DataType = DataType(0x0003);
    pub const UINT16: DataType = DataType(0x0004);
    pub const INT32: DataType = DataType(0x0005);
    pub const UINT32: DataType = DataType(0x0006);
    pub const INT64: DataType = DataType(0x0007);
    pub const UINT64: DataType = DataType(0x0008);
    pub const INT128: DataType = DataType(0x0009);
    pub const UINT128: DataType = DataType(0x000A);
    pub const STR: DataType = DataType(0xFFFF);

    /// The array type whose elements are `self`.
    pub fn array_of(self) -> DataType {
        DataType(0x4000 | self.0)
    }

    /// The element type if this is an array type.
    pub fn element(self) -> Option<DataType> {
        (self.0 & 0xF000 == 0x4000 && (0x1..=0xA).contains(&(self.0 & 0x0FFF)))
            .then_some(DataType(self.0 & 0x0FFF))
    }
}

/// A typed property value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum PropValue {
    I8(i8),
    U8(u8),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    /// An array with its element type, kept as its encoded elements (compact: a 16 MiB AUINT8 is 16 MiB,
    /// not one enum value per byte).
    Array(DataType, PropArray),
    Str(String),
}

impl PropValue {
    /// Decodes one value of type `dt`.
    pub fn decode(dt: DataType, r: &mut Reader<'_>) -> Result<PropValue, WireError> {
        Ok(match dt {
            DataType::INT8 => PropValue::I8(r.u8()? as i8),
            DataType::UINT8 => PropValue::U8(r.u8()?),
            DataType::INT16 => PropValue::I16(r.u16()? as i16),
            DataType::UINT16 => PropValue::U16(r.u16()?),
            DataType::INT32 => PropValue::I32(r.u32()? as i32),
            DataType::UINT32 => PropValue::U32(r.u32()?),
            DataType::INT64 => PropValue::I64(r.u64()? as i64),
            DataType::UINT64 => PropValue::U64(r.u64()?),
            DataType::INT128 => PropValue::I128(r.u128()? as i128),
            DataType::UINT128 => PropValue::U128(r.u128()?),
            DataType::STR => PropValue::Str(r.ptp_string()?),
            other => {
                let elem = other.element().ok_or(WireError::UnsupportedDataType(other.0))?;
                let size = elem.size().ok_or(WireError::UnsupportedDataType(other.0))?;
                let n = r.array_len(size)?;
                PropValue::Array(elem, PropArray(r.take(n * size)?.to_vec()))
            }
        })
    }

    /// Decodes a value that must fill `bytes` exactly (GetDevicePropValue / SetDevicePropValue data).
    pub fn decode_exact(dt: DataType, bytes: &[u8]) -> Result<PropValue, WireError> {
        let mut r = Reader::new(bytes);
        let v = PropValue::decode(dt, &mut r)?;
        if r.remaining() != 0 {
            return Err(WireError::TypeMismatch(dt.0));
        }
        Ok(v)
    }

    /// Appends the value's encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            PropValue::I8(v) => out.push(*v as u8),
            PropValue::U8(v) => out.push(*v),
            PropValue::I16(v) => out.extend_from_slice(&v.to_le_bytes()),
            PropValue::U16(v) => out.extend_from_slice(&v.to_le_bytes()),
            PropValue::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
            PropValue::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
            PropValue::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
            PropValue::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
            PropValue::I128(v) => out.extend_from_slice(&v.to_le_bytes()),
            PropValue::U128(v) => out.extend_from_slice(&v.to_le_bytes()),
            PropValue::Array(elem, values) => {
                put_u32(out, values.len(*elem) as u32);
                out.extend_from_slice(&values.0);
            }
            PropValue::Str(s) => put_ptp_string(out, s),
        }
    }

    /// The value's encoding as a fresh vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// The data type of this value.
    pub fn data_type(&self) -> DataType {
        match self {
            PropValue::I8(_) => DataType::INT8,
            PropValue::U8(_) => DataType::UINT8,
            PropValue::I16(_) => DataType::INT16,
            PropValue::U16(_) => DataType::UINT16,
            PropValue::I32(_) => DataType::INT32,
            PropValue::U32(_) => DataType::UINT32,
            PropValue::I64(_) => DataType::INT64,
            PropValue::U64(_) => DataType::UINT64,
            PropValue::I128(_) => DataType::INT128,
            PropValue::U128(_) => DataType::UINT128,
            PropValue::Array(elem, _) => elem.array_of(),
            PropValue::Str(_) => DataType::STR,
        }
    }

    /// The value as an integer, for integer types.
    pub fn as_i128(&self) -> Option<i128> {
        Some(match *self {
            PropValue::I8(v) => v.into(),
            PropValue::U8(v) => v.into(),
            PropValue::I16(v) => v.into(),
            PropValue::U16(v) => v.into(),
            PropValue::I32(v) => v.into(),
            PropValue::U32(v) => v.into(),
            PropValue::I64(v) => v.into(),
            PropValue::U64(v) => v.into(),
            PropValue::I128(v) => v,
            PropValue::U128(v) => i128::try_from(v).ok()?,
            PropValue::Array(..) | PropValue::Str(_) => return None,
        })
    }

    /// An integer value of type `dt`, if it fits.
    pub fn from_i128(dt: DataType, v: i128) -> Option<PropValue> {
        Some(match dt {
            DataType::INT8 => PropValue::I8(v.try_into().ok()?),
            DataType::UINT8 => PropValue::U8(v.try_into().ok()?),
            DataType::INT16 => PropValue::I16(v.try_into().ok()?),
            DataType::UINT16 => PropValue::U16(v.try_into().ok()?),
            DataType::INT32 => PropValue::I32(v.try_into().ok()?),
            DataType::UINT32 => PropValue::U32(v.try_into().ok()?),
            DataType::INT64 => PropValue::I64(v.try_into().ok()?),
            DataType::UINT64 => PropValue::U64(v.try_into().ok()?),
            DataType::INT128 => PropValue::I128(v),
            DataType::UINT128 => PropValue::U128(v.try_into().ok()?),
            _ => return None,
        })
    }
}

impl DataType {
    /// Encoded size of one value of a fixed-size type.
    pub fn size(self) -> Option<usize> {
        Some(match self.0 {
            0x1 | 0x2 => 1,
            0x3 | 0x4 => 2,
            0x5 | 0x6 => 4,
            0x7 | 0x8 => 8,
            0x9 | 0xA => 16,
            _ => return None,
        })
    }
}

impl std::fmt::Display for PropValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PropValue::Str(s) => f.write_str(s),
            PropValue::Array(elem, values) => {
                // Lazy and truncated: only the shown elements are decoded.
                let n = values.len(*elem);
                f.write_str("[")?;
                for (i, v) in values.iter(*elem).take(ARRAY_SHOWN).enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{v}")?;
                }
                if n > ARRAY_SHOWN {
                    write!(f, ",... ({n} values)")?;
                }
                f.write_str("]")
            }
            other => write!(f, "{}", other.as_i128().unwrap_or_default()),
        }
    }
}

/// Elements of an array value shown by `Display`; the rest is summarised by its count.
pub const ARRAY_SHOWN: usize = 32;

/// The elements of an array value, as their concatenated little-endian encodings. Built from values
/// with `collect()`; read back with [`PropArray::iter`] given the element type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PropArray(pub Vec<u8>);

impl PropArray {
    /// Number of elements of type `elem`.
    pub fn len(&self, elem: DataType) -> usize {
        self.0.len() / elem.size().unwrap_or(1).max(1)
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The elements decoded one at a time as `elem`.
    pub fn iter(&self, elem: DataType) -> impl Iterator<Item = PropValue> + '_ {
        let size = elem.size().unwrap_or(1).max(1);
        self.0.chunks_exact(size).filter_map(move |c| PropValue::decode_exact(elem, c).ok())
    }
}

impl FromIterator<PropValue> for PropArray {
    fn from_iter<I: IntoIterator<Item = PropValue>>(iter: I) -> Self {
        let mut out = Vec::new();
        iter.into_iter().for_each(|v| v.encode(&mut out));
        PropArray(out)
    }
}

/// The allowed values of a device property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropForm {
    /// No constraint.
    None,
    /// `min..=max` in steps of `step`.
    Range {
        /// Minimum.
        min: PropValue,
        /// Maximum.
        max: PropValue,
        /// Step.
        step: PropValue,
    },
    /// One of these values.
    Enumeration(Vec<PropValue>),
}

/// DevicePropDesc dataset (GetDevicePropDesc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePropDesc {
    /// Property code.
    pub code: u16,
    /// Data type of the values.
    pub data_type: DataType,
    /// Whether the property can be set.
    pub writable: bool,
    /// Factory default.
    pub factory_default: PropValue,
    /// Current value.
    pub current: PropValue,
    /// Allowed values.
    pub form: PropForm,
}

impl DevicePropDesc {
    /// Decodes the dataset. Lenient: a missing or unknown form flag means "no form".
    pub fn decode(bytes: &[u8]) -> Result<DevicePropDesc, WireError> {
        let mut r = Reader::new(bytes);
        let code = r.u16()?;
        let data_type = DataType(r.u16()?);
        let writable = r.u8()? != 0;
        let factory_default = PropValue::decode(data_type, &mut r)?;
        let current = PropValue::decode(data_type, &mut r)?;
        let form = match if r.remaining() == 0 { 0 } else { r.u8()? } {
            1 => PropForm::Range {
                min: PropValue::decode(data_type, &mut r)?,
                max: PropValue::decode(data_type, &mut r)?,
                step: PropValue::decode(data_type, &mut r)?,
            },
            2 => {
                let n = usize::from(r.u16()?);
                if n * data_type.size().unwrap_or(1) > r.remaining() {
                    return Err(WireError::BadCount(n as u64));
                }
                PropForm::Enumeration(
                    (0..n).map(|_| PropValue::decode(data_type, &mut r)).collect::<Result<_, _>>()?,
                )
            }
            _ => PropForm::None,
        };
        Ok(DevicePropDesc { code, data_type, writable, factory_default, current, form })
    }

    /// Encodes the dataset.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u16(out, self.code);
        put_u16(out, self.data_type.0);
        out.push(u8::from(self.writable));
        self.factory_default.encode(out);
        self.current.encode(out);
        match &self.form {
            PropForm::None => out.push(0),
            PropForm::Range { min, max, step } => {
                out.push(1);
                [min, max, step].iter().for_each(|v| v.encode(out));
            }
            PropForm::Enumeration(values) => {
                out.push(2);
                put_u16(out, values.len() as u16);
                values.iter().for_each(|v| v.encode(out));
            }
        }
    }

    /// Whether `value` is acceptable: right type and inside the form.
    pub fn accepts(&self, value: &PropValue) -> bool {
        if value.data_type() != self.data_type {
            return false;
        }
        match &self.form {
            PropForm::None => true,
            PropForm::Enumeration(values) => values.contains(value),
            PropForm::Range { min, max, step } => {
                match (value.as_i128(), min.as_i128(), max.as_i128(), step.as_i128()) {
                    (Some(v), Some(lo), Some(hi), Some(step)) => {
                        (lo..=hi).contains(&v) && (step <= 0 || (v - lo) % step == 0)
                    }
                    _ => false,
                }
            }
        }
    }
}

/// DeviceInfo dataset (GetDeviceInfo).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct DeviceInfo {
    pub standard_version: u16,
    pub vendor_extension_id: u32,
    pub vendor_extension_version: u16,
    pub vendor_extension_desc: String,
    pub functional_mode: u16,
    pub operations: Vec<u16>,
    pub events: Vec<u16>,
    pub properties: Vec<u16>,
    pub capture_formats: Vec<u16>,
    pub image_formats: Vec<u16>,
    pub manufacturer: String,
    pub model: String,
    pub device_version: String,
    pub serial_number: String,
}

impl DeviceInfo {
    /// Decodes the dataset; the four trailing strings are optional (as gphoto2 treats them).
    pub fn decode(bytes: &[u8]) -> Result<DeviceInfo, WireError> {
        let mut r = Reader::new(bytes);
        Ok(DeviceInfo {
            standard_version: r.u16()?,
            vendor_extension_id: r.u32()?,
            vendor_extension_version: r.u16()?,
            vendor_extension_desc: r.ptp_string()?,
            functional_mode: r.u16()?,
            operations: r.u16_array()?,
            events: r.u16_array()?,
            properties: r.u16_array()?,
            capture_formats: r.u16_array()?,
            image_formats: r.u16_array()?,
            manufacturer: r.optional_ptp_string()?,
            model: r.optional_ptp_string()?,
            device_version: r.optional_ptp_string()?,
            serial_number: r.optional_ptp_string()?,
        })
    }

    /// Encodes the dataset (always with all four strings).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u16(out, self.standard_version);
        put_u32(out, self.vendor_extension_id);
        put_u16(out, self.vendor_extension_version);
        put_ptp_string(out, &self.vendor_extension_desc);
        put_u16(out, self.functional_mode);
        for list in
            [&self.operations, &self.events, &self.properties, &self.capture_formats, &self.image_formats]
        {
            put_u16_array(out, list);
        }
        for s in [&self.manufacturer, &self.model, &self.device_version, &self.serial_number] {
            put_ptp_string(out, s);
        }
    }
}

/// StorageInfo dataset (GetStorageInfo).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct StorageInfo {
    pub storage_type: u16,
    pub filesystem_type: u16,
    pub access_capability: u16,
    pub max_capacity: u64,
    pub free_space_bytes: u64,
    pub free_space_images: u32,
    pub description: String,
    pub volume_label: String,
}

impl StorageInfo {
    /// Decodes the dataset; the volume label is optional.
    pub fn decode(bytes: &[u8]) -> Result<StorageInfo, WireError> {
        let mut r = Reader::new(bytes);
        Ok(StorageInfo {
            storage_type: r.u16()?,
            filesystem_type: r.u16()?,
            access_capability: r.u16()?,
            max_capacity: r.u64()?,
            free_space_bytes: r.u64()?,
            free_space_images: r.u32()?,
            description: r.optional_ptp_string()?,
            volume_label: r.optional_ptp_string()?,
        })
    }

    /// Encodes the dataset.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u16(out, self.storage_type);
        put_u16(out, self.filesystem_type);
        put_u16(out, self.access_capability);
        put_u64(out, self.max_capacity);
        put_u64(out, self.free_space_bytes);
        put_u32(out, self.free_space_images);
        put_ptp_string(out, &self.description);
        put_ptp_string(out, &self.volume_label);
    }
}

/// ObjectInfo dataset (GetObjectInfo, SendObjectInfo).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ObjectInfo {
    pub storage_id: u32,
    pub format: u16,
    pub protection_status: u16,
    /// 0xFFFFFFFF means 4 GiB or more.
    pub compressed_size: u32,
    pub thumb_format: u16,
    pub thumb_compressed_size: u32,
    pub thumb_width: u32,
    pub thumb_height: u32,
    pub image_width: u32,
    pub image_height: u32,
    pub image_bit_depth: u32,
    /// 0 = storage root.
    pub parent: u32,
    pub association_type: u16,
    pub association_desc: u32,
    pub sequence_number: u32,
    pub filename: String,
    pub capture_date: String,
    pub modification_date: String,
    pub keywords: String,
}

impl ObjectInfo {
    /// Decodes the dataset; the dates and keywords are optional.
    pub fn decode(bytes: &[u8]) -> Result<ObjectInfo, WireError> {
        let mut r = Reader::new(bytes);
        Ok(ObjectInfo {
            storage_id: r.u32()?,
            format: r.u16()?,
            protection_status: r.u16()?,
            compressed_size: r.u32()?,
            thumb_format: r.u16()?,
            thumb_compressed_size: r.u32()?,
            thumb_width: r.u32()?,
            thumb_height: r.u32()?,
            image_width: r.u32()?,
            image_height: r.u32()?,
            image_bit_depth: r.u32()?,
            parent: r.u32()?,
            association_type: r.u16()?,
            association_desc: r.u32()?,
            sequence_number: r.u32()?,
            filename: r.ptp_string()?,
            capture_date: r.optional_ptp_string()?,
            modification_date: r.optional_ptp_string()?,
            keywords: r.optional_ptp_string()?,
        })
    }

    /// Encodes the dataset.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.storage_id);
        put_u16(out, self.format);
        put_u16(out, self.protection_status);
        put_u32(out, self.compressed_size);
        put_u16(out, self.thumb_format);
        for v in [self.thumb_compressed_size, self.thumb_width, self.thumb_height] {
            put_u32(out, v);
        }
        for v in [self.image_width, self.image_height, self.image_bit_depth, self.parent] {
            put_u32(out, v);
        }
        put_u16(out, self.association_type);
        put_u32(out, self.association_desc);
        put_u32(out, self.sequence_number);
        for s in [&self.filename, &self.capture_date, &self.modification_date, &self.keywords] {
            put_ptp_string(out, s);
        }
    }

    /// Whether the object is a folder (Association).
    pub fn is_folder(&self) -> bool {
        self.format == super::codes::format::ASSOCIATION
    }
}

/// Decodes an AUINT32 dataset (GetStorageIDs, GetObjectHandles).
pub fn decode_u32_array(bytes: &[u8]) -> Result<Vec<u32>, WireError> {
    Reader::new(bytes).u32_array()
}

/// Encodes an AUINT32 dataset.
pub fn encode_u32_array(values: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + values.len() * 4);
    put_u32_array(&mut out, values);
    out
}

/// Parses `YYYYMMDDThhmmss` with optional `.s` tenths and `Z` / `±hhmm` zone suffix (ignored).
///
/// ```
/// use camctl_ptpip::wire::parse_ptp_date;
/// assert_eq!(parse_ptp_date("20240102T030405.0").unwrap().to_string(), "2024-01-02 03:04:05");
/// ```
pub fn parse_ptp_date(s: &str) -> Option<DateTime> {
    let b = s.as_bytes();
    if b.len() < 15 || b[8] != b'T' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(range)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let dt = DateTime {
        year: num(0..4)? as i32,
        month: num(4..6)? as u8,
        day: num(6..8)? as u8,
        hour: num(9..11)? as u8,
        minute: num(11..13)? as u8,
        second: num(13..15)? as u8,
    };
    dt.to_system().map(|_| dt)
}

/// Formats a date as `YYYYMMDDThhmmss`.
pub fn format_ptp_date(d: DateTime) -> String {
    format!("{:04}{:02}{:02}T{:02}{:02}{:02}", d.year, d.month, d.day, d.hour, d.minute, d.second)
}
