//! How standard PTP device properties are named, shown and typed by a user (`f/5.6`, `1/125`,
//! `Daylight`), in the spirit of gphoto2's config names.

use camctl_core::SettingForm;
use camctl_core::text::escape;
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
    let wanted = property_number(desc.code, input)
        .or_else(|| {
            table(desc.code)
                .iter()
                .find(|(_, n)| n.eq_ignore_ascii_case(input))
                .map(|(v, _)| Wanted::exact(*v))
        })
        .or_else(|| parse_int(input).map(Wanted::exact))
        .ok_or_else(|| format!("{input:?} is not a value for {}", key_of(desc.code)))?;
    // The camera's own value wins when the input is that value rounded (`+0.7` for +0.67 EV); otherwise
    // the caller refuses the plain conversion with the list of allowed values.
    let number = nearest_allowed(desc, &wanted).unwrap_or(wanted.center.round() as i128);
    PropValue::from_i128(desc.data_type, number)
        .ok_or_else(|| format!("{number} does not fit the type of {}", key_of(desc.code)))
}

/// A number the user typed, in the property's raw units: `center`, and the open interval of raw
/// values that round to what was typed (`+0.7` EV: 650 < v < 750). Raw integers are exact.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Wanted {
    center: f64,
    low: f64,
    high: f64,
}

impl Wanted {
    fn exact(v: i128) -> Wanted {
        let v = v as f64;
        Wanted { center: v, low: v, high: v }
    }

    /// `value` typed in units of `scale` raw units, with the precision of its last digit.
    fn scaled(text: &str, value: f64, scale: f64) -> Wanted {
        let half = 0.5 * 10f64.powi(-(decimals(text) as i32)) * scale;
        let center = value * scale;
        Wanted { center, low: center - half, high: center + half }
    }

    fn admits(&self, v: i128) -> bool {
        let v = v as f64;
        v == self.center || (self.low < v && v < self.high)
    }
}

/// Digits after the decimal point of a number as typed.
fn decimals(text: &str) -> usize {
    text.split_once('.').map_or(0, |(_, frac)| frac.chars().take_while(char::is_ascii_digit).count())
}

/// The allowed value (enumeration entry or range step) nearest to what was typed, if one rounds to it.
fn nearest_allowed(desc: &DevicePropDesc, wanted: &Wanted) -> Option<i128> {
    let distance = |v: &i128| (*v as f64 - wanted.center).abs();
    match &desc.form {
        PropForm::Enumeration(values) => values
            .iter()
            .filter_map(PropValue::as_i128)
            .filter(|v| wanted.admits(*v))
            .min_by(|a, b| distance(a).total_cmp(&distance(b))),
        PropForm::Range { min, max, step } => {
            let (lo, hi, step) = (min.as_i128()?, max.as_i128()?, step.as_i128()?.max(1));
            if lo > hi {
                return None;
            }
            // The step-aligned neighbours of the center, kept inside the range.
            // `as` saturates, so an absurd input only yields candidates outside the range.
            let k = ((wanted.center - lo as f64) / step as f64).floor() as i128;
            let below = lo.saturating_add(k.saturating_mul(step));
            [below, below.saturating_add(step)]
                .into_iter()
                .filter(|v| (lo..=hi).contains(v) && wanted.admits(*v))
                .min_by(|a, b| distance(a).total_cmp(&distance(b)))
        }
        PropForm::None => None,
    }
}

/// Why `input` is refused for `desc`, naming what is allowed (string choices come from the camera, so
/// they are escaped for the terminal).
pub fn refusal(desc: &DevicePropDesc, input: &str) -> String {
    let allowed = match form_of(desc) {
        SettingForm::Choices { choices } => format!("one of: {}", escape(&choices.join(", "))),
        SettingForm::Range { min, max, step } => {
            format!("{}..{} in steps of {}", escape(&min), escape(&max), escape(&step))
        }
        SettingForm::Free => "a valid value".into(),
    };
    format!("{input:?} for {}: use {allowed}", key_of(desc.code))
}

fn parse_int(s: &str) -> Option<i128> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => i128::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn property_number(code: u16, s: &str) -> Option<Wanted> {
    let float = |t: &str| t.trim().parse::<f64>().ok().filter(|f| f.is_finite());
    match code {
        prop::F_NUMBER => {
            let text = s.strip_prefix("f/").or_else(|| s.strip_prefix("F/")).unwrap_or(s);
            let f = float(text)?;
            // Plain integers >= 100 are raw (560); smaller numbers are f-numbers (5.6, 11).
            if s.contains('/') || s.contains('.') || f < 100.0 {
                Some(Wanted::scaled(text, f, 100.0))
            } else {
                None
            }
        }
        prop::EXPOSURE_TIME => {
            if let Some(denominator) = s.strip_prefix("1/") {
                let d = float(denominator)?;
                // 1/N rounds like N: 1/60 covers 1/60.5 .. 1/59.5 s.
                let half = 0.5 * 10f64.powi(-(decimals(denominator) as i32));
                if d <= half {
                    return None;
                }
                return Some(Wanted {
                    center: 10_000.0 / d,
                    low: 10_000.0 / (d + half),
                    high: 10_000.0 / (d - half),
                });
            }
            let text = s.strip_suffix('s')?;
            Some(Wanted::scaled(text, float(text)?, 10_000.0))
        }
        prop::EXPOSURE_BIAS_COMPENSATION => {
            let ev = float(s)?;
            // EV is small; a large plain integer is the raw value (EV x 1000).
            if s.contains('.') || s.starts_with('+') || ev.abs() < 100.0 {
                Some(Wanted::scaled(s, ev, 1000.0))
            } else {
                None
            }
        }
        prop::BATTERY_LEVEL => parse_int(s.strip_suffix('%')?).map(Wanted::exact),
        prop::FOCAL_LENGTH => {
            let text = s.strip_suffix("mm")?.trim();
            Some(Wanted::scaled(text, float(text)?, 100.0))
        }
        _ => None,
    }
}

/// What `datetime` accepts, for error messages.
const DATE_FORMAT: &str = "use YYYY-MM-DD hh:mm:ss, or now for the local time";

fn parse_datetime(s: &str) -> Result<String, String> {
    if s.eq_ignore_ascii_case("now") {
        // A camera's clock shows local time (gphoto2 sets it the same way).
        return Ok(format_ptp_date(DateTime::now_local()));
    }
    // What `config get` prints, then the camera's own compact form (`20240102T030405`).
    if let Some(d) = DateTime::parse(s).or_else(|| parse_ptp_date(s)) {
        return Ok(format_ptp_date(d));
    }
    Err(format!("{s:?} is not a valid date and time ({DATE_FORMAT})"))
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
    fn typed_values_snap_to_the_nearest_allowed_one() {
        let ev_values = [-667i16, -333, 0, 333, 667, 1000, 1333].map(PropValue::I16).to_vec();
        let ev = desc(prop::EXPOSURE_BIAS_COMPENSATION, DataType::INT16, ev_values);
        for (input, raw) in [
            ("+0.7", 667),
            ("0.7", 667),
            ("+0.67", 667),
            ("-0.3", -333),
            ("+1.3", 1333),
            ("1", 1000),
            ("0", 0),
        ] {
            assert_eq!(parse_value(&ev, input), Ok(PropValue::I16(raw)), "{input}");
        }
        // Not a rounding of any allowed value: the plain conversion, which the camera does not accept.
        for input in ["+0.5", "+0.62", "+2"] {
            let v = parse_value(&ev, input).unwrap();
            assert!(!ev.accepts(&v), "{input} -> {v:?}");
        }
        let f = desc(prop::F_NUMBER, DataType::UINT16, [280u16, 560, 630, 1100].map(PropValue::U16).to_vec());
        assert_eq!(parse_value(&f, "f/2.8"), Ok(PropValue::U16(280)));
        assert_eq!(parse_value(&f, "f/6"), Ok(PropValue::U16(630)));
        assert!(!f.accepts(&parse_value(&f, "f/5.7").unwrap()));
        assert!(!f.accepts(&parse_value(&f, "561").unwrap()), "raw values are exact");
        let t =
            desc(prop::EXPOSURE_TIME, DataType::UINT32, [166u32, 333, 20_000].map(PropValue::U32).to_vec());
        assert_eq!(parse_value(&t, "1/60"), Ok(PropValue::U32(166)));
        assert_eq!(parse_value(&t, "1/30"), Ok(PropValue::U32(333)));
        assert_eq!(parse_value(&t, "2s"), Ok(PropValue::U32(20_000)));
        assert!(!t.accepts(&parse_value(&t, "1/61").unwrap()));
        assert!(parse_value(&t, "1/0").is_err());
    }

    #[test]
    fn ranges_snap_to_steps_and_refusals_name_the_range() {
        let range = DevicePropDesc {
            code: prop::EXPOSURE_BIAS_COMPENSATION,
            data_type: DataType::INT16,
            writable: true,
            factory_default: PropValue::I16(0),
            current: PropValue::I16(0),
            form: PropForm::Range {
                min: PropValue::I16(-2000),
                max: PropValue::I16(2000),
                step: PropValue::I16(500),
            },
        };
        assert_eq!(parse_value(&range, "+0.5"), Ok(PropValue::I16(500)));
        assert_eq!(parse_value(&range, "-1.5"), Ok(PropValue::I16(-1500)));
        assert_eq!(parse_value(&range, "+2"), Ok(PropValue::I16(2000)));
        for input in ["+0.7", "+3", "-9"] {
            let v = parse_value(&range, input).unwrap();
            assert!(!range.accepts(&v), "{input} -> {v:?}");
        }
        assert_eq!(refusal(&range, "+3"), r#""+3" for exposurecompensation: use -2..+2 in steps of 500"#);
        let wb = desc(prop::WHITE_BALANCE, DataType::UINT16, [2u16, 4].map(PropValue::U16).to_vec());
        assert_eq!(refusal(&wb, "purple"), r#""purple" for whitebalance: use one of: Automatic, Daylight"#);
        let hostile = vec![PropValue::Str("640x480".into()), PropValue::Str("\u{1b}[2J".into())];
        let sizes = desc(prop::IMAGE_SIZE, DataType::STR, hostile);
        assert_eq!(refusal(&sizes, "big"), r#""big" for imagesize: use one of: 640x480, \e[2J"#);
    }

    #[test]
    fn dates_are_real_calendar_dates() {
        let dt = DevicePropDesc {
            form: PropForm::None,
            ..desc(prop::DATE_TIME, DataType::STR, vec![PropValue::Str(String::new())])
        };
        assert_eq!(parse_value(&dt, "2024-02-29 23:59:59"), Ok(PropValue::Str("20240229T235959".into())));
        assert_eq!(parse_value(&dt, "2024-01-02T03:04:05"), Ok(PropValue::Str("20240102T030405".into())));
        for bad in
            ["2024-02-31 10:00:00", "2023-02-29 10:00:00", "2024-01-02 24:00:00", "20240231T100000", "2024"]
        {
            let err = parse_value(&dt, bad).unwrap_err();
            assert!(err.contains("YYYY-MM-DD hh:mm:ss"), "{bad}: {err}");
        }
        let Ok(PropValue::Str(now)) = parse_value(&dt, "now") else { panic!("now") };
        let parsed = parse_ptp_date(&now).unwrap();
        // Local time, not UTC: close to what now_local says (the window is far below any zone offset).
        let local = DateTime::now_local().to_system().unwrap();
        let set = parsed.to_system().unwrap();
        let apart = local.duration_since(set).unwrap_or_else(|e| e.duration());
        assert!(apart.as_secs() < 15 * 60, "{now} is not the local time");
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
