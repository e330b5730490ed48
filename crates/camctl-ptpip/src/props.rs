//! How standard PTP device properties are named, shown and typed by a user (`f/5.6`, `1/125`,
//! `Daylight`), in the spirit of gphoto2's config names.

use camctl_core::SettingForm;
use camctl_core::time::DateTime;

use crate::wire::codes::prop;
use crate::wire::{DataType, DevicePropDesc, PropForm, PropValue, format_ptp_date, parse_ptp_date};

/// (code, key, label) of the properties camctl knows by name.
const KNOWN: &[(u16, &str, &str)] = &[
    (prop::BATTERY_LEVEL, "batterylevel", "Battery level"),
    (0x5002, "functionalmode", "Functional mode"),
    (prop::IMAGE_SIZE, "imagesize", "Image size"),
    (0x5004, "compression", "Compression"),
    (prop::WHITE_BALANCE, "whitebalance", "White balance"),
    (prop::F_NUMBER, "f-number", "Aperture (f-number)"),
    (prop::FOCAL_LENGTH, "focallength", "Focal length"),
    (0x5009, "focusdistance", "Focus distance"),
    (prop::FOCUS_MODE, "focusmode", "Focus mode"),
    (prop::EXPOSURE_METERING_MODE, "exposuremetermode", "Exposure metering mode"),
    (prop::FLASH_MODE, "flashmode", "Flash mode"),
    (prop::EXPOSURE_TIME, "shutterspeed", "Shutter speed (exposure time)"),
    (prop::EXPOSURE_PROGRAM_MODE, "expprogram", "Exposure program"),
    (prop::EXPOSURE_INDEX, "iso", "ISO speed"),
    (prop::EXPOSURE_BIAS_COMPENSATION, "exposurecompensation", "Exposure compensation (EV)"),
    (prop::DATE_TIME, "datetime", "Camera date and time"),
    (prop::CAPTURE_DELAY, "capturedelay", "Capture delay (ms)"),
    (prop::STILL_CAPTURE_MODE, "capturemode", "Still capture mode"),
    (0x5014, "contrast", "Contrast"),
    (0x5015, "sharpness", "Sharpness"),
    (0x5016, "digitalzoom", "Digital zoom"),
    (0x5017, "effectmode", "Effect mode"),
    (0x5018, "burstnumber", "Burst number"),
    (0x5019, "burstinterval", "Burst interval (ms)"),
    (0x501C, "focusmeteringmode", "Focus metering mode"),
    (0x501E, "artist", "Artist"),
    (0x501F, "copyright", "Copyright"),
];

/// The user-facing key of a property: a known name or `0xNNNN`.
pub fn key_of(code: u16) -> String {
    KNOWN.iter().find(|k| k.0 == code).map(|k| k.1.to_string()).unwrap_or_else(|| format!("0x{code:04x}"))
}

/// The label of a property.
pub fn label_of(code: u16) -> String {
    KNOWN
        .iter()
        .find(|k| k.0 == code)
        .map(|k| k.2.to_string())
        .unwrap_or_else(|| format!("Property 0x{code:04X}"))
}

/// The property code for a key: a known name (case-insensitive) or a hex code `0x5007` / `5007`.
pub fn code_of(key: &str) -> Option<u16> {
    let key = key.trim();
    if let Some(k) = KNOWN.iter().find(|k| k.1.eq_ignore_ascii_case(key)) {
        return Some(k.0);
    }
    let hex = key.strip_prefix("0x").or_else(|| key.strip_prefix("0X")).unwrap_or(key);
    u16::from_str_radix(hex, 16).ok().filter(|_| hex.len() == 4)
}

fn table(code: u16) -> &'static [(i128, &'static str)] {
    match code {
        prop::WHITE_BALANCE => &[
            (1, "Manual"),
            (2, "Automatic"),
            (3, "One-push automatic"),
            (4, "Daylight"),
            (5, "Fluorescent"),
            (6, "Tungsten"),
            (7, "Flash"),
        ],
        prop::FOCUS_MODE => &[(1, "Manual"), (2, "Automatic"), (3, "Automatic macro")],
        prop::EXPOSURE_METERING_MODE => {
            &[(1, "Average"), (2, "Center-weighted"), (3, "Multi-spot"), (4, "Center-spot")]
        }
        prop::FLASH_MODE => &[
            (1, "Auto"),
            (2, "Off"),
            (3, "Fill"),
            (4, "Red-eye auto"),
            (5, "Red-eye fill"),
            (6, "External sync"),
        ],
        prop::EXPOSURE_PROGRAM_MODE => &[
            (1, "Manual"),
            (2, "Program"),
            (3, "Aperture priority"),
            (4, "Shutter priority"),
            (5, "Creative"),
            (6, "Action"),
            (7, "Portrait"),
        ],
        prop::STILL_CAPTURE_MODE => &[(1, "Single shot"), (2, "Burst"), (3, "Timelapse")],
        0x5017 => &[(1, "Standard"), (2, "Black and white"), (3, "Sepia")],
        0x501C => &[(1, "Centre-spot"), (2, "Multi-spot")],
        _ => &[],
    }
}

fn trim_decimal(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Renders a value of property `code` for humans.
pub fn format_value(code: u16, value: &PropValue) -> String {
    let Some(n) = value.as_i128() else {
        return match (code, value) {
            (prop::DATE_TIME, PropValue::Str(s)) => {
                parse_ptp_date(s).map(|d| d.to_string()).unwrap_or(s.clone())
            }
            _ => value.to_string(),
        };
    };
    if let Some((_, name)) = table(code).iter().find(|(v, _)| *v == n) {
        return name.to_string();
    }
    match code {
        prop::BATTERY_LEVEL => format!("{n}%"),
        prop::F_NUMBER => format!("f/{}", trim_decimal(n as f64 / 100.0)),
        prop::FOCAL_LENGTH => format!("{} mm", trim_decimal(n as f64 / 100.0)),
        prop::EXPOSURE_TIME if n >= 10_000 || n <= 0 => format!("{}s", trim_decimal(n as f64 / 10_000.0)),
        prop::EXPOSURE_TIME => format!("1/{}", (10_000.0 / n as f64).round()),
        prop::EXPOSURE_BIAS_COMPENSATION => {
            let ev = n as f64 / 1000.0;
            format!("{}{}", if ev > 0.0 { "+" } else { "" }, trim_decimal(ev))
        }
        _ if table(code).is_empty() => n.to_string(),
        _ => format!("0x{n:04x}"),
    }
}

/// Parses user input for property `code` into a value of the descriptor's type.
///
/// Accepts what [`format_value`] prints (compared without case), property-specific forms (`5.6`,
/// `1/125`, `2s`, `+0.7`, `2024-01-02 03:04:05`, `now`) and raw numbers (`560`, `0x0230`).
pub fn parse_value(desc: &DevicePropDesc, input: &str) -> Result<PropValue, String> {
    let input = input.trim();
    if let PropForm::Enumeration(choices) = &desc.form
        && let Some(v) = choices.iter().find(|c| format_value(desc.code, c).eq_ignore_ascii_case(input))
    {
        return Ok(v.clone());
    }
    if desc.data_type == DataType::STR {
        if desc.code == prop::DATE_TIME {
            return parse_datetime(input).map(PropValue::Str);
        }
        return Ok(PropValue::Str(input.to_string()));
    }
    let number = property_number(desc.code, input)
        .or_else(|| table(desc.code).iter().find(|(_, n)| n.eq_ignore_ascii_case(input)).map(|(v, _)| *v))
        .or_else(|| parse_int(input))
        .ok_or_else(|| format!("{input:?} is not a value for {}", key_of(desc.code)))?;
    PropValue::from_i128(desc.data_type, number)
        .ok_or_else(|| format!("{number} does not fit the type of {}", key_of(desc.code)))
}

fn parse_int(s: &str) -> Option<i128> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => i128::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn property_number(code: u16, s: &str) -> Option<i128> {
    let float = |t: &str| t.trim().parse::<f64>().ok().filter(|f| f.is_finite());
    match code {
        prop::F_NUMBER => {
            let f = float(s.strip_prefix("f/").or_else(|| s.strip_prefix("F/")).unwrap_or(s))?;
            // Plain integers >= 100 are raw (560); smaller numbers are f-numbers (5.6, 11).
            if s.contains('/') || s.contains('.') || f < 100.0 {
                Some((f * 100.0).round() as i128)
            } else {
                None
            }
        }
        prop::EXPOSURE_TIME => {
            if let Some(denominator) = s.strip_prefix("1/") {
                return Some((10_000.0 / float(denominator)?).round() as i128);
            }
            let seconds = float(s.strip_suffix('s')?)?;
            Some((seconds * 10_000.0).round() as i128)
        }
        prop::EXPOSURE_BIAS_COMPENSATION if s.contains('.') || s.starts_with('+') => {
            Some((float(s)? * 1000.0).round() as i128)
        }
        prop::BATTERY_LEVEL => parse_int(s.strip_suffix('%')?),
        prop::FOCAL_LENGTH => Some((float(s.strip_suffix("mm")?)? * 100.0).round() as i128),
        _ => None,
    }
}

fn parse_datetime(s: &str) -> Result<String, String> {
    if s.eq_ignore_ascii_case("now") {
        return Ok(format_ptp_date(DateTime::now()));
    }
    if let Some(d) = parse_ptp_date(s) {
        return Ok(format_ptp_date(d));
    }
    let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() == 14 {
        let compact = format!("{}T{}", &digits[..8], &digits[8..]);
        if let Some(d) = parse_ptp_date(&compact) {
            return Ok(format_ptp_date(d));
        }
    }
    Err(format!("{s:?} is not a date (use YYYY-MM-DD hh:mm:ss or now)"))
}

/// The allowed values of a descriptor, rendered for humans.
pub fn form_of(desc: &DevicePropDesc) -> SettingForm {
    match &desc.form {
        PropForm::None => SettingForm::Free,
        PropForm::Enumeration(values) => {
            SettingForm::Choices { choices: values.iter().map(|v| format_value(desc.code, v)).collect() }
        }
        PropForm::Range { min, max, step } => SettingForm::Range {
            min: format_value(desc.code, min),
            max: format_value(desc.code, max),
            step: step.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(code: u16, dt: DataType, values: Vec<PropValue>) -> DevicePropDesc {
        DevicePropDesc {
            code,
            data_type: dt,
            writable: true,
            factory_default: values[0].clone(),
            current: values[0].clone(),
            form: PropForm::Enumeration(values),
        }
    }

    #[test]
    fn formats_like_a_camera_menu() {
        assert_eq!(format_value(prop::F_NUMBER, &PropValue::U16(560)), "f/5.6");
        assert_eq!(format_value(prop::F_NUMBER, &PropValue::U16(1100)), "f/11");
        assert_eq!(format_value(prop::EXPOSURE_TIME, &PropValue::U32(80)), "1/125");
        assert_eq!(format_value(prop::EXPOSURE_TIME, &PropValue::U32(10_000)), "1s");
        assert_eq!(format_value(prop::EXPOSURE_TIME, &PropValue::U32(25_000)), "2.5s");
        assert_eq!(format_value(prop::WHITE_BALANCE, &PropValue::U16(4)), "Daylight");
        assert_eq!(format_value(prop::WHITE_BALANCE, &PropValue::U16(0x8001)), "0x8001");
        assert_eq!(format_value(prop::EXPOSURE_BIAS_COMPENSATION, &PropValue::I16(-333)), "-0.33");
        assert_eq!(format_value(prop::BATTERY_LEVEL, &PropValue::U8(80)), "80%");
        assert_eq!(
            format_value(prop::DATE_TIME, &PropValue::Str("20240102T030405".into())),
            "2024-01-02 03:04:05"
        );
    }

    #[test]
    fn parses_what_users_type() {
        let f = desc(prop::F_NUMBER, DataType::UINT16, [280u16, 560, 1100].map(PropValue::U16).to_vec());
        for input in ["f/5.6", "F/5.6", "5.6", "560", "0x230"] {
            assert_eq!(parse_value(&f, input), Ok(PropValue::U16(560)), "{input}");
        }
        assert_eq!(parse_value(&f, "11"), Ok(PropValue::U16(1100)));
        let t = desc(prop::EXPOSURE_TIME, DataType::UINT32, [80u32, 10_000].map(PropValue::U32).to_vec());
        assert_eq!(parse_value(&t, "1/125"), Ok(PropValue::U32(80)));
        assert_eq!(parse_value(&t, "1s"), Ok(PropValue::U32(10_000)));
        let wb = desc(prop::WHITE_BALANCE, DataType::UINT16, [2u16, 4].map(PropValue::U16).to_vec());
        assert_eq!(parse_value(&wb, "daylight"), Ok(PropValue::U16(4)));
        let dt = DevicePropDesc {
            form: PropForm::None,
            ..desc(prop::DATE_TIME, DataType::STR, vec![PropValue::Str(String::new())])
        };
        assert_eq!(parse_value(&dt, "2024-01-02 03:04:05"), Ok(PropValue::Str("20240102T030405".into())));
        assert!(parse_value(&dt, "yesterday").is_err());
        assert!(parse_value(&wb, "purple").is_err());
        let small = desc(0x5015, DataType::UINT8, vec![PropValue::U8(1)]);
        assert!(parse_value(&small, "300").is_err());
    }

    #[test]
    fn keys_resolve_both_ways() {
        assert_eq!(code_of("f-number"), Some(prop::F_NUMBER));
        assert_eq!(code_of("ISO"), Some(prop::EXPOSURE_INDEX));
        assert_eq!(code_of("0xd001"), Some(0xD001));
        assert_eq!(code_of("d001"), Some(0xD001));
        assert_eq!(code_of("nonsense"), None);
        assert_eq!(key_of(0xD001), "0xd001");
    }
}
