//! The emulated camera's device properties (reference §5.7, §6.5): descriptors with factory defaults
//! and forms, current values, and the emulated clock behind DateTime (0x5011).

use std::time::{Duration, SystemTime};

use camctl_core::time::DateTime;

use crate::wire::codes::{prop, rc};
use crate::wire::{DataType, DevicePropDesc, PropForm, PropValue, format_ptp_date, parse_ptp_date};

/// Image sizes offered by ImageSize (0x5003); capture renders at the selected one.
const IMAGE_SIZES: [&str; 4] = ["640x480", "1024x768", "1920x1080", "4000x3000"];

/// Largest picture a capture renders, whatever the ImageSize value says (keeps captures fast).
const MAX_CAPTURE: (u16, u16) = (4096, 3072);

/// Property table: one descriptor per property, `current` holding the live value (except DateTime,
/// whose value is derived from the clock offset).
pub(crate) struct PropTable {
    descs: Vec<DevicePropDesc>,
    /// Emulated clock minus real clock, in seconds (DateTime is set as an offset so it keeps ticking).
    clock_offset: i64,
}

fn u16_enum(code: u16, default: u16, values: &[u16]) -> DevicePropDesc {
    DevicePropDesc {
        code,
        data_type: DataType::UINT16,
        writable: true,
        factory_default: PropValue::U16(default),
        current: PropValue::U16(default),
        form: PropForm::Enumeration(values.iter().map(|v| PropValue::U16(*v)).collect()),
    }
}

impl PropTable {
    /// The factory configuration.
    pub(crate) fn new() -> PropTable {
        let str_value = |s: &str| PropValue::Str(s.to_string());
        let descs = vec![
            DevicePropDesc {
                code: prop::BATTERY_LEVEL,
                data_type: DataType::UINT8,
                writable: false,
                factory_default: PropValue::U8(100),
                current: PropValue::U8(80),
                form: PropForm::Range {
                    min: PropValue::U8(0),
                    max: PropValue::U8(100),
                    step: PropValue::U8(1),
                },
            },
            DevicePropDesc {
                code: prop::IMAGE_SIZE,
                data_type: DataType::STR,
                writable: true,
                factory_default: str_value(IMAGE_SIZES[0]),
                current: str_value(IMAGE_SIZES[0]),
                form: PropForm::Enumeration(IMAGE_SIZES.iter().map(|s| str_value(s)).collect()),
            },
            // 2 Auto, 4 Daylight, 5 Fluorescent, 6 Tungsten, 7 Flash.
            u16_enum(prop::WHITE_BALANCE, 2, &[2, 4, 5, 6, 7]),
            // f-number x 100.
            u16_enum(prop::F_NUMBER, 400, &[280, 400, 560, 800, 1100, 1600]),
            DevicePropDesc {
                code: prop::EXPOSURE_TIME,
                data_type: DataType::UINT32,
                writable: true,
                factory_default: PropValue::U32(80),
                current: PropValue::U32(80),
                // Units of 0.1 ms: 1/2000 .. 1 s. gphoto2 needs an enumeration here.
                form: PropForm::Enumeration(
                    [5u32, 10, 20, 40, 80, 166, 333, 1000, 10000].into_iter().map(PropValue::U32).collect(),
                ),
            },
            // 1 Manual, 2 Program, 3 Aperture priority, 4 Shutter priority.
            u16_enum(prop::EXPOSURE_PROGRAM_MODE, 2, &[1, 2, 3, 4]),
            u16_enum(prop::EXPOSURE_INDEX, 100, &[100, 200, 400, 800, 1600, 3200, 6400]),
            DevicePropDesc {
                code: prop::EXPOSURE_BIAS_COMPENSATION,
                data_type: DataType::INT16,
                writable: true,
                factory_default: PropValue::I16(0),
                current: PropValue::I16(0),
                // EV x 1000 in thirds of a stop; gphoto2 needs an enumeration here.
                form: PropForm::Enumeration(
                    [-2000i16, -1667, -1333, -1000, -667, -333, 0, 333, 667, 1000, 1333, 1667, 2000]
                        .into_iter()
                        .map(PropValue::I16)
                        .collect(),
                ),
            },
            DevicePropDesc {
                code: prop::DATE_TIME,
                data_type: DataType::STR,
                writable: true,
                factory_default: str_value(""),
                current: str_value(""),
                form: PropForm::None,
            },
        ];
        PropTable { descs, clock_offset: 0 }
    }

    /// A table of these descriptors (a personality's own set; DateTime keeps its clock behaviour).
    pub(crate) fn from_descs(descs: Vec<DevicePropDesc>) -> PropTable {
        PropTable { descs, clock_offset: 0 }
    }

    /// Sets a current value from inside the emulator (read-only status properties), unchecked except
    /// for the data type; returns whether it changed.
    pub(crate) fn force(&mut self, code: u16, value: PropValue) -> bool {
        match self.descs.iter_mut().find(|d| d.code == code) {
            Some(desc) if desc.data_type == value.data_type() && desc.current != value => {
                desc.current = value;
                true
            }
            _ => false,
        }
    }

    /// Supported property codes, in DeviceInfo order.
    pub(crate) fn codes(&self) -> Vec<u16> {
        self.descs.iter().map(|d| d.code).collect()
    }

    /// The descriptor with live current value, or `None` for an unsupported code.
    pub(crate) fn desc(&self, code: u16) -> Option<DevicePropDesc> {
        let mut d = self.descs.iter().find(|d| d.code == code)?.clone();
        if code == prop::DATE_TIME {
            d.factory_default = PropValue::Str(format_ptp_date(DateTime::now()));
            d.current = PropValue::Str(self.clock_string());
        }
        Some(d)
    }

    /// The current value alone.
    pub(crate) fn value(&self, code: u16) -> Option<PropValue> {
        self.desc(code).map(|d| d.current)
    }

    /// Sets a property from its encoded value (SetDevicePropValue data). Returns a PTP response code
    /// on failure; `Ok(true)` if the value changed.
    pub(crate) fn set(&mut self, code: u16, bytes: &[u8]) -> Result<bool, u16> {
        let desc = self.descs.iter_mut().find(|d| d.code == code).ok_or(rc::DEVICE_PROP_NOT_SUPPORTED)?;
        if !desc.writable {
            return Err(rc::ACCESS_DENIED);
        }
        let value =
            PropValue::decode_exact(desc.data_type, bytes).map_err(|_| rc::INVALID_DEVICE_PROP_FORMAT)?;
        if !desc.accepts(&value) {
            return Err(rc::INVALID_DEVICE_PROP_VALUE);
        }
        if code == prop::DATE_TIME {
            let PropValue::Str(text) = &value else { return Err(rc::INVALID_DEVICE_PROP_FORMAT) };
            let target =
                parse_ptp_date(text).and_then(DateTime::to_system).ok_or(rc::INVALID_DEVICE_PROP_VALUE)?;
            self.clock_offset = signed_secs_between(SystemTime::now(), target);
            return Ok(true);
        }
        let changed = desc.current != value;
        desc.current = value;
        Ok(changed)
    }

    /// Restores the factory default. Returns a PTP response code on failure.
    pub(crate) fn reset(&mut self, code: u16) -> Result<(), u16> {
        let desc = self.descs.iter_mut().find(|d| d.code == code).ok_or(rc::DEVICE_PROP_NOT_SUPPORTED)?;
        if !desc.writable {
            return Err(rc::ACCESS_DENIED);
        }
        if code == prop::DATE_TIME {
            self.clock_offset = 0;
        } else {
            desc.current = desc.factory_default.clone();
        }
        Ok(())
    }

    /// The picture size captures use, from ImageSize "WxH", capped for speed.
    pub(crate) fn capture_size(&self) -> (u16, u16) {
        let parsed = match self.value(prop::IMAGE_SIZE) {
            Some(PropValue::Str(s)) => {
                s.split_once('x').and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
            }
            _ => None,
        };
        let (w, h): (u16, u16) = parsed.unwrap_or((640, 480));
        (w.clamp(1, MAX_CAPTURE.0), h.clamp(1, MAX_CAPTURE.1))
    }

    /// The emulated clock as `YYYYMMDDThhmmss`.
    fn clock_string(&self) -> String {
        let now = SystemTime::now();
        let shifted = if self.clock_offset >= 0 {
            now.checked_add(Duration::from_secs(self.clock_offset.unsigned_abs()))
        } else {
            now.checked_sub(Duration::from_secs(self.clock_offset.unsigned_abs()))
        };
        format_ptp_date(DateTime::from_system(shifted.unwrap_or(now)))
    }
}

/// `to - from` in whole seconds, saturating.
fn signed_secs_between(from: SystemTime, to: SystemTime) -> i64 {
    match to.duration_since(from) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_battery_desc() {
        let mut out = Vec::new();
        PropTable::new().desc(prop::BATTERY_LEVEL).unwrap().encode(&mut out);
        assert_eq!(out, [0x01, 0x50, 0x02, 0x00, 0x00, 0x64, 0x50, 0x01, 0x00, 0x64, 0x01]);
    }

    #[test]
    fn set_checks_type_form_and_access() {
        let mut t = PropTable::new();
        assert_eq!(t.set(prop::F_NUMBER, &560u16.to_le_bytes()), Ok(true));
        assert_eq!(t.value(prop::F_NUMBER), Some(PropValue::U16(560)));
        assert_eq!(t.set(prop::F_NUMBER, &561u16.to_le_bytes()), Err(rc::INVALID_DEVICE_PROP_VALUE));
        assert_eq!(t.set(prop::F_NUMBER, &[1, 2, 3]), Err(rc::INVALID_DEVICE_PROP_FORMAT));
        assert_eq!(t.set(prop::BATTERY_LEVEL, &[5]), Err(rc::ACCESS_DENIED));
        assert_eq!(t.set(0x5099, &[5]), Err(rc::DEVICE_PROP_NOT_SUPPORTED));
        assert_eq!(t.reset(prop::F_NUMBER), Ok(()));
        assert_eq!(t.value(prop::F_NUMBER), Some(PropValue::U16(400)));
    }

    #[test]
    fn clock_offset() {
        let mut t = PropTable::new();
        let v = PropValue::Str("20200102T030405.0Z".into()).to_bytes();
        assert_eq!(t.set(prop::DATE_TIME, &v), Ok(true));
        let Some(PropValue::Str(now)) = t.value(prop::DATE_TIME) else { panic!() };
        assert!(now.starts_with("20200102T0304"), "{now}");
        let bad = PropValue::Str("yesterday".into()).to_bytes();
        assert_eq!(t.set(prop::DATE_TIME, &bad), Err(rc::INVALID_DEVICE_PROP_VALUE));
        assert_eq!(t.capture_size(), (640, 480));
    }
}
