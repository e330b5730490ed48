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

    /// The system time for these fields, or `None` if they are out of range or before 1970.
    pub fn to_system(self) -> Option<SystemTime> {
        let valid = (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60;
        let days = days_from_civil(self.year, self.month, self.day);
        if !valid || days < 0 {
            return None;
        }
        let secs = days as u64 * 86_400
            + u64::from(self.hour) * 3600
            + u64::from(self.minute) * 60
            + u64::from(self.second);
        Some(UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// The current time.
    pub fn now() -> Self {
        Self::from_system(SystemTime::now())
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
    }
}
