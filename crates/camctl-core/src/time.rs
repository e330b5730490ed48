//! Civil (UTC) date-time conversion without a calendar crate: cameras only need "YYYY-MM-DD hh:mm:ss"
//! style stamps and the reverse.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A broken-down UTC date and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime {
    /// Full year, e.g. 2024.
    pub year: i32,
    /// 1..=12
    pub month: u8,
    /// 1..=31
    pub day: u8,
    /// 0..=23
    pub hour: u8,
    /// 0..=59
    pub minute: u8,
    /// 0..=59
    pub second: u8,
}

impl DateTime {
    /// Converts a system time (UTC) to civil fields; times before 1970 clamp to the epoch.
    ///
    /// ```
    /// use camctl_core::time::DateTime;
    /// let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_704_164_645);
    /// assert_eq!(DateTime::from_system(t).to_string(), "2024-01-02 03:04:05");
    /// ```
    pub fn from_system(t: SystemTime) -> Self {
        let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (year, month, day) = civil_from_days(days);
        DateTime {
            year,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
        }
    }

    /// Whether the fields name a real calendar date and time (2024-02-31 does not).
    pub fn is_valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && (1..=days_in_month(self.year, self.month)).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
    }

    /// Parses what users type: `YYYY-MM-DD hh:mm:ss` (or with `T` between date and time),
    /// refusing dates that do not exist.
    ///
    /// ```
    /// use camctl_core::time::DateTime;
    /// assert_eq!(DateTime::parse("2024-02-29 10:00:00").unwrap().to_string(), "2024-02-29 10:00:00");
    /// assert!(DateTime::parse("2024-02-31 10:00:00").is_none());
    /// assert!(DateTime::parse("2023-02-29T10:00:00").is_none());
    /// ```
    pub fn parse(s: &str) -> Option<DateTime> {
        let s = s.trim();
        let (date, time) = s.split_once([' ', 'T'])?;
        let number = |p: &str, digits: usize| {
            (p.len() == digits && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<i32>().ok())
                .flatten()
        };
        let d: Vec<&str> = date.split('-').collect();
        let t: Vec<&str> = time.trim().split(':').collect();
        if d.len() != 3 || t.len() != 3 {
            return None;
        }
        let field = |p: &str| number(p, 2).and_then(|v| u8::try_from(v).ok());
        let dt = DateTime {
            year: number(d[0], 4)?,
            month: field(d[1])?,
            day: field(d[2])?,
            hour: field(t[0])?,
            minute: field(t[1])?,
            second: field(t[2])?,
        };
        dt.is_valid().then_some(dt)
    }

    /// The system time for these fields, or `None` if they are out of range or before 1970.
    pub fn to_system(self) -> Option<SystemTime> {
        let days = days_from_civil(self.year, self.month, self.day);
        if !self.is_valid() || days < 0 {
            return None;
        }
        let secs = days as u64 * 86_400
            + u64::from(self.hour) * 3600
            + u64::from(self.minute) * 60
            + u64::from(self.second);
        Some(UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// The current time (UTC).
    pub fn now() -> Self {
        Self::from_system(SystemTime::now())
    }

    /// The current local time (the system's time zone), as a camera's clock shows it: setting a
    /// camera's clock to "now" means local time, as gphoto2 does.
    pub fn now_local() -> Self {
        let now = SystemTime::now();
        let offset = local_utc_offset_seconds(now);
        let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64 + offset;
        Self::from_system(UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64))
    }
}

impl std::fmt::Display for DateTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Seconds east of UTC of the system's time zone at `t` (0 where it cannot be told).
fn local_utc_offset_seconds(t: SystemTime) -> i64 {
    #[cfg(unix)]
    {
        let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as libc::time_t;
        // SAFETY: localtime_r only writes into the struct we pass; a zeroed tm is a valid value.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        if unsafe { libc::localtime_r(&secs, &mut tm) }.is_null() {
            return 0;
        }
        i64::from(tm.tm_gmtoff as i32)
    }
    #[cfg(not(unix))]
    {
        let _ = t;
        0
    }
}

fn is_leap_year(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days in `month` (1..=12) of `year`; 0 for a month out of range.
fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    ((yoe + era * 400 + i64::from(m <= 2)) as i32, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_across_leap_years() {
        for secs in [0u64, 951_782_400, 1_709_164_800, 4_107_542_399, 1_704_164_645] {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            assert_eq!(DateTime::from_system(t).to_system(), Some(t));
        }
        let leap = DateTime { year: 2024, month: 2, day: 29, hour: 0, minute: 0, second: 0 };
        assert_eq!(DateTime::from_system(leap.to_system().unwrap()), leap);
    }

    #[test]
    fn rejects_out_of_range() {
        let bad = DateTime { year: 2024, month: 13, day: 1, hour: 0, minute: 0, second: 0 };
        assert_eq!(bad.to_system(), None);
        let early = DateTime { year: 1969, month: 12, day: 31, hour: 0, minute: 0, second: 0 };
        assert_eq!(early.to_system(), None);
        for (y, m, d) in [(2024, 2, 30), (2023, 2, 29), (2024, 4, 31), (1900, 2, 29)] {
            let bad = DateTime { year: y, month: m, day: d, hour: 0, minute: 0, second: 0 };
            assert_eq!(bad.to_system(), None, "{bad}");
            assert!(!bad.is_valid());
        }
        assert!(DateTime { year: 2000, month: 2, day: 29, hour: 23, minute: 59, second: 59 }.is_valid());
    }

    #[test]
    fn parse_accepts_only_real_dates() {
        assert_eq!(DateTime::parse("2024-01-02 03:04:05").unwrap().to_string(), "2024-01-02 03:04:05");
        assert_eq!(DateTime::parse("2024-01-02T03:04:05").unwrap().to_string(), "2024-01-02 03:04:05");
        for bad in [
            "2024-02-31 00:00:00",
            "2024-1-2 3:4:5",
            "2024-01-02",
            "2024-01-02 24:00:00",
            "+024-01-02 00:00:00",
            "2024-01-02 00:00:0é",
        ] {
            assert!(DateTime::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn local_time_is_a_valid_date() {
        assert!(DateTime::now_local().is_valid());
    }
}
