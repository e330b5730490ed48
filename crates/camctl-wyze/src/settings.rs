//! User-facing settings (`night-vision`, `status-light`, `resolution`, ...) and the K-command pairs behind
//! them (tutk.md §4.1, param ids of §4.1's 10020 row). Shared by the client and the emulator so that both
//! agree on what a key means.
//!
//! Every key of [`SETTINGS`] is a typed value that can be read and set. K10620 CheckNight and K10640
//! GetSpotlightStatus have raw replies of unknown layout and no setter: they are the read-only
//! [`RAW_KEYS`], read one at a time (`config get check-night`) as the reply's bytes in hex and left
//! out of the full list, so that a camera without them cannot fail `config list`. The client also
//! has [`crate::WyzeSession::check_night`] and [`crate::WyzeSession::spotlight_status`].

use std::time::{Duration, UNIX_EPOCH};

use camctl_core::SettingForm;
use camctl_core::time::DateTime;

use crate::wire::code;

/// Read-only keys whose value is a raw reply, shown in hex: key, label, getter code.
pub const RAW_KEYS: &[(&str, &str, u16)] = &[
    ("check-night", "CheckNight reply (K10620, raw)", code::CHECK_NIGHT),
    ("spotlight-status", "Spotlight status reply (K10640, raw)", code::GET_SPOTLIGHT),
];

/// How a setting travels on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    /// A getter with a one-byte reply and a `[v]` setter.
    Byte {
        /// Getter code.
        get: u16,
        /// Setter code.
        set: u16,
    },
    /// Frame size: read from 10050, set with 10056 (or 10052 on the models of [`crate::auth::uses_k10052`]).
    Resolution,
    /// Bitrate: read from 10050, set with 10052 (bitrate field only).
    Bitrate,
    /// Frame rate: read from 10050, set with 10052 (fps field only).
    Fps,
    /// Horizontal flip: 10050 / 10052 byte 4.
    HorFlip,
    /// Vertical flip: 10050 / 10052 byte 5.
    VerFlip,
    /// Motion detection: 10200 / 10206 (10202 on doorbell-style models).
    MotionDetection,
    /// Siren + light: 10632 / 10630.
    Alarm,
    /// Camera clock (unix seconds): 10090 / 10092.
    CameraTime,
    /// Time zone in hours: read through 10020 parameter 22, set with 10302.
    TimeZone,
}

/// The values a setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// `on` = 1, `off` = 2.
    OnOff,
    /// `on` = 1, `off` = 2, `auto` = 3.
    OnOffAuto,
    /// Named byte values.
    Named(&'static [(&'static str, u8)]),
    /// A frame size ([`crate::wire::FrameSize`] names).
    FrameSize,
    /// An integer range.
    Range(i64, i64),
    /// A clock in unix seconds (u32), typed and shown as `YYYY-MM-DD hh:mm:ss`; `now` is local time.
    Clock,
}

/// One user-facing setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingSpec {
    /// Key used by `camctl config get/set`.
    pub key: &'static str,
    /// Human-readable name.
    pub label: &'static str,
    /// Wire mapping.
    pub kind: SettingKind,
    /// Allowed values.
    pub values: Values,
    /// K10020 parameter id, where DWB names one.
    pub param_id: Option<u8>,
}

const fn byte(get: u16, set: u16) -> SettingKind {
    SettingKind::Byte { get, set }
}

/// Every setting this crate exposes, in display order.
pub const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        key: "resolution",
        label: "Resolution (frame size)",
        kind: SettingKind::Resolution,
        values: Values::FrameSize,
        param_id: Some(4),
    },
    SettingSpec {
        key: "bitrate",
        label: "Bitrate (KB/s)",
        kind: SettingKind::Bitrate,
        values: Values::Range(1, 255),
        param_id: Some(3),
    },
    SettingSpec {
        key: "fps",
        label: "Frame rate",
        kind: SettingKind::Fps,
        values: Values::Range(1, 30),
        param_id: Some(5),
    },
    SettingSpec {
        key: "hor-flip",
        label: "Horizontal flip",
        kind: SettingKind::HorFlip,
        values: Values::OnOff,
        param_id: Some(6),
    },
    SettingSpec {
        key: "ver-flip",
        label: "Vertical flip",
        kind: SettingKind::VerFlip,
        values: Values::OnOff,
        param_id: Some(7),
    },
    SettingSpec {
        key: "night-vision",
        label: "Night vision",
        kind: byte(code::GET_NIGHT_VISION, code::SET_NIGHT_VISION),
        values: Values::OnOffAuto,
        param_id: Some(2),
    },
    SettingSpec {
        key: "ir-led",
        label: "IR LED (on = 850 nm long range / LED, off = 940 nm)",
        kind: byte(code::GET_IRLED, code::SET_IRLED),
        values: Values::OnOff,
        param_id: Some(50),
    },
    SettingSpec {
        key: "night-switch",
        label: "Automatic night switch",
        kind: byte(code::GET_AUTO_SWITCH_NIGHT, code::SET_AUTO_SWITCH_NIGHT),
        values: Values::Named(&[("dusk", 1), ("dark", 2)]),
        param_id: None,
    },
    SettingSpec {
        key: "status-light",
        label: "Status light",
        kind: byte(code::GET_NETWORK_LIGHT, code::SET_NETWORK_LIGHT),
        values: Values::OnOff,
        param_id: Some(1),
    },
    SettingSpec {
        key: "osd-timestamp",
        label: "Timestamp overlay",
        kind: byte(code::GET_OSD, code::SET_OSD),
        values: Values::OnOff,
        param_id: None,
    },
    SettingSpec {
        key: "osd-logo",
        label: "Logo overlay",
        kind: byte(code::GET_OSD_LOGO, code::SET_OSD_LOGO),
        values: Values::OnOff,
        param_id: None,
    },
    SettingSpec {
        key: "motion-detection",
        label: "Motion detection",
        kind: SettingKind::MotionDetection,
        values: Values::OnOff,
        param_id: Some(13),
    },
    SettingSpec {
        key: "motion-tagging",
        label: "Motion tagging (green box)",
        kind: byte(code::GET_MOTION_TAGGING, code::SET_MOTION_TAGGING),
        values: Values::OnOff,
        param_id: Some(21),
    },
    SettingSpec {
        key: "motion-tracking",
        label: "Motion tracking",
        kind: byte(code::GET_MOTION_TRACKING, code::SET_MOTION_TRACKING),
        values: Values::OnOff,
        param_id: Some(27),
    },
    SettingSpec {
        key: "pan-cruise",
        label: "Pan cruise",
        kind: byte(code::GET_CRUISE, code::SET_CRUISE),
        values: Values::OnOff,
        param_id: None,
    },
    SettingSpec {
        key: "alarm",
        label: "Siren and light",
        kind: SettingKind::Alarm,
        values: Values::OnOff,
        param_id: None,
    },
    SettingSpec {
        key: "camera-time",
        label: "Camera clock",
        kind: SettingKind::CameraTime,
        values: Values::Clock,
        param_id: None,
    },
    SettingSpec {
        key: "time-zone",
        label: "Time zone (hours from UTC)",
        kind: SettingKind::TimeZone,
        values: Values::Range(-11, 13),
        param_id: Some(22),
    },
];

/// The setting with this key.
pub fn find(key: &str) -> Option<&'static SettingSpec> {
    SETTINGS.iter().find(|s| s.key == key)
}

impl SettingSpec {
    /// Renders a wire value for humans (`on`, `auto`, `1080p`, `120`...).
    pub fn render(&self, value: i64) -> String {
        let named = |v: i64, table: &[(&str, u8)]| {
            table
                .iter()
                .find(|(_, b)| i64::from(*b) == v)
                .map_or_else(|| v.to_string(), |(n, _)| n.to_string())
        };
        match self.values {
            Values::OnOff => named(value, &[("on", 1), ("off", 2)]),
            Values::OnOffAuto => named(value, &[("on", 1), ("off", 2), ("auto", 3)]),
            Values::Named(table) => named(value, table),
            Values::FrameSize => {
                u8::try_from(value).map_or_else(|_| value.to_string(), |v| crate::wire::FrameSize(v).name())
            }
            Values::Range(..) => value.to_string(),
            Values::Clock => match u64::try_from(value) {
                Ok(secs) => DateTime::from_system(UNIX_EPOCH + Duration::from_secs(secs)).to_string(),
                Err(_) => value.to_string(),
            },
        }
    }

    /// Parses a user value into the wire value; `None` if it is not allowed.
    pub fn parse(&self, text: &str) -> Option<i64> {
        let t = text.trim().to_ascii_lowercase();
        let named =
            |table: &[(&str, u8)]| {
                table.iter().find(|(n, _)| *n == t).map(|(_, v)| i64::from(*v)).or_else(|| {
                    t.parse::<u8>().ok().filter(|v| table.iter().any(|(_, b)| b == v)).map(i64::from)
                })
            };
        match self.values {
            Values::OnOff => named(&[("on", 1), ("off", 2), ("true", 1), ("false", 2)]),
            Values::OnOffAuto => named(&[("on", 1), ("off", 2), ("auto", 3), ("true", 1), ("false", 2)]),
            Values::Named(table) => named(table),
            Values::FrameSize => crate::wire::FrameSize::parse(&t).map(|f| i64::from(f.0)),
            Values::Range(min, max) => t.parse::<i64>().ok().filter(|v| (min..=max).contains(v)),
            Values::Clock => {
                // The camera's clock shows local time (as gphoto2 sets cameras), so "now" is local.
                let date = if t == "now" { Some(DateTime::now_local()) } else { DateTime::parse(text) };
                let secs = match date {
                    Some(d) => d.to_system()?.duration_since(UNIX_EPOCH).ok()?.as_secs(),
                    None => t.parse::<u64>().ok()?,
                };
                u32::try_from(secs).ok().map(i64::from)
            }
        }
    }

    /// The allowed values in words, for an error message: `on, off, auto`, `1 to 30`...
    pub fn allowed(&self) -> String {
        match self.form() {
            SettingForm::Choices { choices } => choices.join(", "),
            SettingForm::Range { min, max, .. } => format!("{min} to {max}"),
            SettingForm::Free => match self.values {
                Values::Clock => "now (local time), a date YYYY-MM-DD hh:mm:ss, or unix seconds".into(),
                _ => "any value".into(),
            },
        }
    }

    /// The allowed values as a [`SettingForm`].
    pub fn form(&self) -> SettingForm {
        let choices =
            |names: &[&str]| SettingForm::Choices { choices: names.iter().map(|s| s.to_string()).collect() };
        match self.values {
            Values::OnOff => choices(&["on", "off"]),
            Values::OnOffAuto => choices(&["on", "off", "auto"]),
            Values::Named(table) => {
                SettingForm::Choices { choices: table.iter().map(|(n, _)| n.to_string()).collect() }
            }
            Values::FrameSize => choices(&["1080p", "360p", "720p", "2k"]),
            Values::Range(min, max) => {
                SettingForm::Range { min: min.to_string(), max: max.to_string(), step: "1".into() }
            }
            Values::Clock => SettingForm::Free,
        }
    }
}

/// How the `resolution` byte of the 10050 reply (and 10020 parameter 4) encodes the frame size. The
/// reference only says 10052's byte is frame size + 1 and that 10052 "mirrors" 10050, so both readings
/// are configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResolutionEncoding {
    /// `frame_size + 1` like the 10052 request (default; 0 = unknown).
    #[default]
    FrameSizePlusOne,
    /// The frame size itself.
    FrameSize,
}

impl ResolutionEncoding {
    /// The wire byte for a frame size.
    pub fn encode(self, frame_size: u8) -> u8 {
        match self {
            ResolutionEncoding::FrameSizePlusOne => frame_size.saturating_add(1),
            ResolutionEncoding::FrameSize => frame_size,
        }
    }

    /// The frame size for a wire byte (`None`: unknown).
    pub fn decode(self, byte: u8) -> Option<u8> {
        match self {
            ResolutionEncoding::FrameSizePlusOne => byte.checked_sub(1),
            ResolutionEncoding::FrameSize => Some(byte),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_render() {
        let nv = find("night-vision").unwrap();
        assert_eq!(nv.parse("AUTO"), Some(3));
        assert_eq!(nv.parse("2"), Some(2));
        assert_eq!(nv.parse("4"), None);
        assert_eq!(nv.render(1), "on");
        assert_eq!(nv.render(7), "7");
        let res = find("resolution").unwrap();
        assert_eq!(res.parse("sd"), Some(1));
        assert_eq!(res.render(3), "2k");
        let tz = find("time-zone").unwrap();
        assert_eq!(tz.parse("-11"), Some(-11));
        assert_eq!(tz.parse("14"), None);
        assert_eq!(find("night-switch").unwrap().parse("dusk"), Some(1));
        // Keys are unique.
        for (i, s) in SETTINGS.iter().enumerate() {
            assert!(SETTINGS[i + 1..].iter().all(|o| o.key != s.key), "{}", s.key);
        }
    }

    #[test]
    fn refused_values_name_the_allowed_ones() {
        assert_eq!(find("night-vision").unwrap().allowed(), "on, off, auto");
        assert_eq!(find("night-switch").unwrap().allowed(), "dusk, dark");
        assert_eq!(find("fps").unwrap().allowed(), "1 to 30");
        assert!(find("camera-time").unwrap().allowed().contains("YYYY-MM-DD hh:mm:ss"));
    }

    #[test]
    fn camera_time_takes_dates_now_and_seconds() {
        let clock = find("camera-time").unwrap();
        assert_eq!(clock.parse("2024-02-29 10:00:00"), Some(1_709_200_800));
        assert_eq!(clock.parse("2024-02-29T10:00:00"), Some(1_709_200_800));
        assert_eq!(clock.render(1_709_200_800), "2024-02-29 10:00:00");
        assert_eq!(clock.parse("1709200800"), Some(1_709_200_800));
        for bad in ["2024-02-30 10:00:00", "2023-02-29 00:00:00", "yesterday", "2200-01-01 00:00:00", "-5"] {
            assert_eq!(clock.parse(bad), None, "{bad}");
        }
        // "now" is the local wall clock, whatever the time zone.
        let before = DateTime::now_local().to_system().unwrap().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let now = clock.parse("now").unwrap() as u64;
        let after = DateTime::now_local().to_system().unwrap().duration_since(UNIX_EPOCH).unwrap().as_secs();
        assert!((before..=after).contains(&now), "{before} {now} {after}");
    }

    #[test]
    fn resolution_encodings() {
        let plus = ResolutionEncoding::FrameSizePlusOne;
        assert_eq!((plus.encode(0), plus.decode(1), plus.decode(0)), (1, Some(0), None));
        let raw = ResolutionEncoding::FrameSize;
        assert_eq!((raw.encode(1), raw.decode(1)), (1, Some(1)));
    }
}
