//! Socket reading shared by the protocol connections.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Why [`read_full`] could not fill its buffer.
#[derive(Debug, thiserror::Error)]
pub enum ReadFullError {
    /// The stream ended cleanly before the first byte: the peer closed between messages.
    #[error("connection closed by peer")]
    Closed,
    /// The stream ended in the middle of the buffer.
    #[error("connection closed after {got} of {want} bytes")]
    Truncated {
        /// Bytes read.
        got: usize,
        /// Bytes wanted.
        want: usize,
    },
    /// The peer sent nothing for the idle timeout.
    #[error("no data from the peer for {0:?}")]
    Timeout(Duration),
    /// A socket error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Fills `buf` from `reader`, failing if any single read waits longer than `idle` (when given).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use camctl_core::io::{ReadFullError, read_full};
/// let mut buf = [0u8; 4];
/// read_full(&mut &b"abcd"[..], &mut buf, None).await.unwrap();
/// assert_eq!(&buf, b"abcd");
/// assert!(matches!(read_full(&mut &b""[..], &mut buf, None).await, Err(ReadFullError::Closed)));
/// assert!(matches!(read_full(&mut &b"ab"[..], &mut buf, None).await, Err(ReadFullError::Truncated { got: 2, .. })));
/// # });
/// ```
pub async fn read_full<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
    idle: Option<Duration>,
) -> Result<(), ReadFullError> {
    read_full_under(reader, buf, idle, None).await
}

/// [`read_full`] under a progress floor too, when `floor` is given (see [`read_some_under`]).
pub async fn read_full_under<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
    idle: Option<Duration>,
    mut floor: Option<&mut FloorCheck>,
) -> Result<(), ReadFullError> {
    let mut got = 0;
    while got < buf.len() {
        let n = read_some_under(reader, &mut buf[got..], idle, floor.as_deref_mut()).await?;
        if n == 0 {
            return Err(if got == 0 {
                ReadFullError::Closed
            } else {
                ReadFullError::Truncated { got, want: buf.len() }
            });
        }
        got += n;
    }
    Ok(())
}

/// One read, failing with [`ReadFullError::Timeout`] after `idle` (when given). Returns 0 at the end of
/// the stream.
pub async fn read_some<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
    idle: Option<Duration>,
) -> Result<usize, ReadFullError> {
    read_some_under(reader, buf, idle, None).await
}

/// [`read_some`] that also counts against `floor` when one is given: a peer sending too little in a
/// window fails with [`TooSlow`] (as a timed-out I/O error), whatever the idle timeout allows.
pub async fn read_some_under<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
    idle: Option<Duration>,
    floor: Option<&mut FloorCheck>,
) -> Result<usize, ReadFullError> {
    let read = async {
        match floor {
            Some(check) => read_with_floor(reader, buf, check).await,
            None => reader.read(buf).await,
        }
    };
    match idle {
        None => Ok(read.await?),
        Some(t) => match tokio::time::timeout(t, read).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(ReadFullError::Timeout(t)),
        },
    }
}

/// The slowest a transfer may go before it is given up: at least `min_bytes` in every `window`.
/// Idle timeouts alone let a peer that sends one byte every few seconds hold a client forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Floor {
    /// Bytes that must arrive in each window.
    pub min_bytes: u64,
    /// The window.
    pub window: Duration,
}

impl Default for Floor {
    /// 1 KiB in 20 s: far below any real camera's slowest link.
    fn default() -> Self {
        Floor { min_bytes: 1024, window: Duration::from_secs(20) }
    }
}

impl Floor {
    /// Parses a URL option value `BYTES/SECS` (e.g. `1024/20`), or `0` for no floor.
    ///
    /// ```
    /// use camctl_core::io::Floor;
    /// use std::time::Duration;
    /// assert_eq!(Floor::parse("2048/10"), Some(Some(Floor { min_bytes: 2048, window: Duration::from_secs(10) })));
    /// assert_eq!(Floor::parse("0"), Some(None));
    /// assert_eq!(Floor::parse("fast"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Option<Floor>> {
        if s == "0" {
            return Some(None);
        }
        let (bytes, secs) = s.split_once('/')?;
        let (min_bytes, secs) = (bytes.parse::<u64>().ok()?, secs.parse::<u64>().ok()?);
        (min_bytes > 0 && secs > 0).then_some(Some(Floor { min_bytes, window: Duration::from_secs(secs) }))
    }
}

/// Tracks a transfer against a [`Floor`]: call [`record`](Self::record) with every chunk that
/// arrives; it fails once a whole window passed with fewer than the floor's bytes.
#[derive(Debug)]
pub struct FloorCheck {
    floor: Floor,
    window_start: tokio::time::Instant,
    in_window: u64,
}

/// A transfer went slower than its [`Floor`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transfer too slow: fewer than {min_bytes} bytes in {window_secs} s")]
pub struct TooSlow {
    /// The floor's bytes.
    pub min_bytes: u64,
    /// The floor's window in seconds.
    pub window_secs: u64,
}

impl FloorCheck {
    /// Starts the first window now.
    pub fn new(floor: Floor) -> Self {
        FloorCheck { floor, window_start: tokio::time::Instant::now(), in_window: 0 }
    }

    /// Counts `n` bytes that just arrived.
    pub fn record(&mut self, n: usize) -> Result<(), TooSlow> {
        self.in_window += n as u64;
        self.check()
    }

    /// Fails if the current window is over with too few bytes; starts a new window when it is over
    /// with enough.
    pub fn check(&mut self) -> Result<(), TooSlow> {
        let now = tokio::time::Instant::now();
        if now.duration_since(self.window_start) < self.floor.window {
            return Ok(());
        }
        if self.in_window < self.floor.min_bytes {
            return Err(TooSlow {
                min_bytes: self.floor.min_bytes,
                window_secs: self.floor.window.as_secs(),
            });
        }
        self.window_start = now;
        self.in_window = 0;
        Ok(())
    }

    /// When the current window ends: a read that waits longer than this cannot keep the floor.
    pub fn deadline(&self) -> tokio::time::Instant {
        self.window_start + self.floor.window
    }
}

/// Reads one chunk into `buf` under `check`'s floor: fails with [`TooSlow`] (as
/// [`std::io::ErrorKind::TimedOut`]) when the window ends before enough bytes came.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use camctl_core::io::{Floor, FloorCheck, read_with_floor};
/// use std::time::Duration;
/// let (mut near, mut far) = tokio::io::duplex(64);
/// let mut check = FloorCheck::new(Floor { min_bytes: 10, window: Duration::from_millis(50) });
/// tokio::io::AsyncWriteExt::write_all(&mut far, b"abc").await.unwrap();
/// let mut buf = [0u8; 8];
/// assert_eq!(read_with_floor(&mut near, &mut buf, &mut check).await.unwrap(), 3);
/// // Nothing more comes: the window ends with 3 of the 10 bytes.
/// let err = read_with_floor(&mut near, &mut buf, &mut check).await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
/// # drop(far);
/// # });
/// ```
pub async fn read_with_floor<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
    check: &mut FloorCheck,
) -> std::io::Result<usize> {
    loop {
        let too_slow = |e: TooSlow| std::io::Error::new(std::io::ErrorKind::TimedOut, e);
        check.check().map_err(too_slow)?;
        match tokio::time::timeout_at(check.deadline(), reader.read(buf)).await {
            Ok(read) => {
                let n = read?;
                check.record(n).map_err(too_slow)?;
                return Ok(n);
            }
            // The window ended while waiting: check() above decides.
            Err(_) => continue,
        }
    }
}
