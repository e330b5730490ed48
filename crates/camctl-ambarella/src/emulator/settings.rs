//! The emulated camera's settings (`protocols/ambarella.md` §4): the original Yi's msg 3 keys in their
//! fixed order with fw 1.2.13 values, and the allowed values of §4.2.
//!
//! The write-only action keys `restore_factory_settings` and `dev_reboot` are listed too, with the
//! value `on`, as in the seed's msg 3 answer (`seeds/002_*`, fw 1.0.7). The fw 1.2.13 capture of §4.1
//! does not show them, so their place is taken from the seed: `restore_factory_settings` right before
//! `led_mode` and `dev_reboot` right after it (the seed has them around `led_mode`; fw 1.2.13 puts the
//! Wi-Fi keys between `burst_capture_number` and `led_mode`, so they come before the pair).

/// Keys and default values in msg 3 order (§4.1).
const DEFAULTS: &[(&str, &str)] = &[
    ("camera_clock", "2015-09-24 10:18:00"),
    ("video_standard", "NTSC"),
    ("app_status", "idle"),
    ("video_resolution", "1920x1080 60P 16:9"),
    ("video_stamp", "off"),
    ("video_quality", "S.Fine"),
    ("timelapse_video", "0.5"),
    ("capture_mode", "precise quality"),
    ("photo_size", "16M (4608x3456 4:3)"),
    ("photo_stamp", "off"),
    ("photo_quality", "S.Fine"),
    ("timelapse_photo", "off"),
    ("preview_status", "on"),
    ("buzzer_volume", "mute"),
    ("buzzer_ring", "off"),
    ("capture_default_mode", "precise quality"),
    ("precise_cont_time", "0.5 sec"),
    ("burst_capture_number", "7 p / s"),
    ("wifi_ssid", "YDXJ_1234567"),
    ("wifi_password", "1234567890"),
    ("restore_factory_settings", "on"),
    ("led_mode", "all enable"),
    ("dev_reboot", "on"),
    ("meter_mode", "average"),
    ("sd_card_status", "insert"),
    ("video_output_dev_type", "hdmi"),
    ("sw_version", "YDXJv22L_1.2.13_build-20150906142851_b1049_i841_s1120"),
    ("hw_version", "YDXJ_v23L"),
    ("dual_stream_status", "on"),
    ("streaming_status", "on"),
    ("precise_cont_capturing", "off"),
    ("piv_enable", "on"),
    ("auto_low_light", "off"),
    ("loop_record", "off"),
    ("warp_enable", "off"),
    ("support_auto_low_light", "on"),
    ("precise_selftime", "5s"),
    ("precise_self_running", "off"),
    ("auto_power_off", "off"),
    ("serial_number", "Z23L534S5413894"),
    ("system_mode", "record"),
    ("system_default_mode", "record"),
    ("start_wifi_while_booted", "on"),
    ("quick_record_time", "0"),
    ("precise_self_remain_time", "0"),
    ("sdcard_need_format", "no-need"),
    ("video_rotate", "off"),
    ("emergency_file_backup", "off"),
    ("osd_enable", "off"),
    ("rec_default_mode", "record"),
    ("rec_mode", "record"),
    ("record_photo_time", "5"),
    ("dev_functions", "7743"),
    ("rc_button_mode", "mode_shutter"),
    ("timelapse_video_duration", "off"),
    ("timelapse_video_resolution", "1920x1080 60P 16:9"),
    ("save_log", "off"),
];

/// Read-only keys (PONERINE's list, §4.1).
const READ_ONLY: &[&str] = &[
    "app_status",
    "dev_functions",
    "dual_stream_status",
    "hw_version",
    "piv_enable",
    "precise_cont_capturing",
    "precise_self_remain_time",
    "quick_record_time",
    "sd_card_status",
    "sdcard_need_format",
    "serial_number",
    "streaming_status",
    "support_auto_low_light",
    "sw_version",
    "timelapse_photo",
];

const ON_OFF: &[&str] = &["on", "off"];

/// NTSC resolutions (§4.2; `1600x1200 60P 4:3` is what fw 1.2.13 showed on the wire).
const NTSC_RESOLUTIONS: &[&str] = &[
    "1920x1080 60P 16:9",
    "1920x1080 30P 16:9",
    "1600x1200 60P 4:3",
    "1280x960 60P 4:3",
    "1280x720 60P 16:9",
    "1280x720 120P 16:9",
    "848x480 240P 16:9",
];

/// Allowed values of a settable key, `None` for free text (clock, Wi-Fi credentials) or unknown keys.
/// The PAL resolution list is not documented value by value (§4.2), so PAL keeps the NTSC list rather than
/// inventing strings.
fn choices(key: &str) -> Option<&'static [&'static str]> {
    Some(match key {
        "video_standard" => &["NTSC", "PAL"],
        "video_resolution" | "timelapse_video_resolution" => NTSC_RESOLUTIONS,
        "video_quality" | "photo_quality" => &["S.Fine", "Fine", "Normal"],
        "video_stamp" | "photo_stamp" => &["off", "date", "time", "date/time"],
        "timelapse_video" => &["off", "0.5", "1", "2", "5", "10", "30", "60"],
        "timelapse_video_duration" => &["off", "6s"],
        "capture_mode" | "capture_default_mode" => {
            &["precise quality", "precise quality cont.", "burst quality", "precise self quality"]
        }
        "rec_mode" | "rec_default_mode" => &["record", "record_timelapse"],
        "system_mode" | "system_default_mode" => &["capture", "record"],
        "photo_size" => &[
            "16M (4608x3456 4:3)",
            "13M (4128x3096 4:3)",
            "8M (3264x2448 4:3)",
            "5M (2560x1920 4:3)",
            "12M (4608x2592 16:9)",
        ],
        "precise_cont_time" => {
            &["0.5 sec", "1.0 sec", "2.0 sec", "5.0 sec", "10.0 sec", "30.0 sec", "60.0 sec"]
        }
        "burst_capture_number" => &["3 p / s", "5 p / s", "7 p / s", "7 p / 2s"],
        "precise_selftime" => &["3s", "5s", "10s", "15s"],
        "record_photo_time" => &["5", "10", "30", "60"],
        "buzzer_volume" => &["high", "low", "mute"],
        "buzzer_ring"
        | "preview_status"
        | "auto_low_light"
        | "loop_record"
        | "warp_enable"
        | "video_rotate"
        | "emergency_file_backup"
        | "osd_enable"
        | "start_wifi_while_booted"
        | "precise_self_running"
        | "save_log" => ON_OFF,
        "led_mode" => &["all enable", "all disable", "status enable"],
        "meter_mode" => &["center", "average", "spot"],
        "video_output_dev_type" => &["hdmi", "tv", "off"],
        "auto_power_off" => &["off", "3 minutes", "5 minutes", "10 minutes"],
        "rc_button_mode" => &["mode_shutter", "record_capture"],
        // Action keys: `on` is the only value (§4.1); setting it reboots the camera.
        "dev_reboot" | "restore_factory_settings" => &["on"],
        _ => return None,
    })
}

/// Why a set is refused, as the camera's `rval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetError {
    /// Unknown key or value outside the allowed list (-13).
    BadValue,
    /// Read-only key (-15, Yi observation).
    ReadOnly,
    /// Unparsable clock (-9).
    Syntax,
}

/// The settings store, in msg 3 order.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    values: Vec<(&'static str, String)>,
}

/// What a key is.
pub(crate) enum Kind {
    ReadOnly,
    Choices(&'static [&'static str]),
    Free,
}

impl Settings {
    pub(crate) fn new(serial: &str, sw_version: &str, hw_version: &str) -> Self {
        let values = DEFAULTS
            .iter()
            .map(|(k, v)| {
                let v = match *k {
                    "serial_number" => serial,
                    "sw_version" => sw_version,
                    "hw_version" => hw_version,
                    _ => v,
                };
                (*k, v.to_string())
            })
            .collect();
        Settings { values }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.values.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }

    /// Internal update (state-driven keys such as `app_status`), no validation.
    pub(crate) fn force(&mut self, key: &str, value: &str) {
        if let Some(slot) = self.values.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value.to_string();
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (*k, v.as_str()))
    }

    pub(crate) fn kind(&self, key: &str) -> Option<Kind> {
        self.get(key)?;
        Some(if READ_ONLY.contains(&key) {
            Kind::ReadOnly
        } else {
            choices(key).map_or(Kind::Free, Kind::Choices)
        })
    }

    /// Validates and stores; `Ok(changed)`.
    pub(crate) fn set(&mut self, key: &str, value: &str) -> Result<bool, SetError> {
        match self.kind(key).ok_or(SetError::BadValue)? {
            Kind::ReadOnly => return Err(SetError::ReadOnly),
            Kind::Choices(list) if !list.contains(&value) => return Err(SetError::BadValue),
            Kind::Choices(_) => {}
            Kind::Free if key == "camera_clock" => {
                let date = crate::wire::parse_date(value).ok_or(SetError::Syntax)?;
                // Reference range: 2008-2037.
                if !(2008..=2037).contains(&date.year) {
                    return Err(SetError::BadValue);
                }
            }
            Kind::Free if value.is_empty() || value.len() > 64 => return Err(SetError::BadValue),
            Kind::Free => {}
        }
        let changed = self.get(key) != Some(value);
        self.force(key, value);
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_against_the_reference_lists() {
        let mut s = Settings::new("S", "SW", "HW");
        assert_eq!(s.iter().count(), 57);
        assert_eq!(s.iter().next().unwrap().0, "camera_clock");
        assert_eq!(s.set("video_standard", "PAL"), Ok(true));
        assert_eq!(s.set("video_standard", "PAL"), Ok(false));
        assert_eq!(s.set("video_standard", "SECAM"), Err(SetError::BadValue));
        assert_eq!(s.set("serial_number", "x"), Err(SetError::ReadOnly));
        assert_eq!(s.set("nope", "x"), Err(SetError::BadValue));
        assert_eq!(s.set("camera_clock", "soon"), Err(SetError::Syntax));
        assert_eq!(s.set("camera_clock", "2040-01-01 00:00:00"), Err(SetError::BadValue));
        assert_eq!(s.set("camera_clock", "2016-03-28 02:00:18"), Ok(true));
        assert_eq!(s.get("serial_number"), Some("S"));
        assert_eq!(s.get("restore_factory_settings"), Some("on"));
        assert_eq!(s.get("dev_reboot"), Some("on"));
        assert!(matches!(s.kind("dev_reboot"), Some(Kind::Choices(&["on"]))));
    }
}
