//! Warnings that a peer cannot turn into a flood: the first few are logged, then one line per
//! interval says how many were left out.

use std::time::{Duration, Instant};

/// Rate limit for one kind of warning (one per call site and connection).
///
/// ```
/// use camctl_core::log::Throttle;
/// use std::time::Duration;
/// let mut t = Throttle::new(2, Duration::from_secs(60));
/// assert_eq!(t.allow(), Some(0));
/// assert_eq!(t.allow(), Some(0));
/// assert_eq!(t.allow(), None); // third within the interval: counted, not logged
/// assert_eq!(t.suppressed(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct Throttle {
    burst: u32,
    interval: Duration,
    window_start: Option<Instant>,
    in_window: u32,
    suppressed: u64,
}

impl Throttle {
    /// At most `burst` lines per `interval`.
    pub fn new(burst: u32, interval: Duration) -> Self {
        Throttle { burst, interval, window_start: None, in_window: 0, suppressed: 0 }
    }

    /// `Some(n)` when this occurrence should be logged, `n` being how many were left out since the
    /// last logged one (say so in the line); `None` when it should only be counted.
    pub fn allow(&mut self) -> Option<u64> {
        let now = Instant::now();
        let start = *self.window_start.get_or_insert(now);
        if now.duration_since(start) >= self.interval {
            self.window_start = Some(now);
            self.in_window = 0;
        }
        if self.in_window < self.burst {
            self.in_window += 1;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }

    /// Occurrences counted but not logged since the last logged one.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }
}

impl Default for Throttle {
    /// 5 lines a minute.
    fn default() -> Self {
        Throttle::new(5, Duration::from_secs(60))
    }
}

/// Logs a warning through `throttle`: `warn_throttled!(self.throttle, "junk packet {kind}")`; when
/// earlier ones were left out, the line says how many.
#[macro_export]
macro_rules! warn_throttled {
    ($throttle:expr, $($arg:tt)+) => {
        if let Some(skipped) = $throttle.allow() {
            if skipped > 0 {
                ::tracing::warn!("{} ({skipped} more like it not shown)", format_args!($($arg)+));
            } else {
                ::tracing::warn!($($arg)+);
            }
        }
    };
}

/// `bytes` for a log line: at most `max` of them, escaped, with the length when cut.
///
/// ```
/// use camctl_core::log::shown;
/// assert_eq!(shown(b"{\"a\":1}", 100), r#"{"a":1}"#);
/// assert_eq!(shown(b"abcdef\x1b", 3), "abc... (7 bytes)");
/// ```
pub fn shown(bytes: &[u8], max: usize) -> String {
    let cut = &bytes[..bytes.len().min(max)];
    let text = crate::text::escape(&String::from_utf8_lossy(cut)).into_owned();
    if bytes.len() > max { format!("{text}... ({} bytes)", bytes.len()) } else { text }
}
