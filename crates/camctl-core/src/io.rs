//! Socket reading shared by the protocol connections.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// Why a read from a peer failed. Protocol connections keep it as the source of their own errors, so
/// "too slow", "closed" and "over the limit" stay distinguishable all the way up.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The stream ended cleanly before the first byte: the peer closed between messages.
    #[error("connection closed by peer")]
    Closed,
    /// The stream ended inside the named part of a message.
    #[error("connection closed in the middle of the {0}")]
    Truncated(&'static str),
    /// The peer sent nothing for the idle timeout.
    #[error("no data from the peer for {0:?}")]
    Idle(Duration),
    /// The peer sent too little in a window of the progress floor.
    #[error("{0}")]
    TooSlow(#[from] TooSlow),
    /// A length field announced more than this side holds in memory (refused before reading it).
    #[error("{what} of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// What was announced.
        what: &'static str,
        /// The announced length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A socket error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Fills `buf` from `reader`, failing if any single read waits longer than `idle` (when given).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use camctl_core::io::{ReadError, read_full};
/// let mut buf = [0u8; 4];
/// read_full(&mut &b"abcd"[..], &mut buf, None).await.unwrap();
/// assert_eq!(&buf, b"abcd");
/// assert!(matches!(read_full(&mut &b""[..], &mut buf, None).await, Err(ReadError::Closed)));
/// assert!(matches!(read_full(&mut &b"ab"[..], &mut buf, None).await, Err(ReadError::Truncated("data"))));
/// # });
/// ```
pub async fn read_full<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
    idle: Option<Duration>,
) -> Result<(), ReadError> {
    read_full_under(reader, buf, idle, None, "data").await
}

/// [`read_full`] under a progress floor too, when `floor` is given (see [`read_some_under`]); an end
/// after the first byte is [`ReadError::Truncated`] naming `what`.
pub async fn read_full_under<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
    idle: Option<Duration>,
    mut floor: Option<&mut FloorCheck>,
    what: &'static str,
) -> Result<(), ReadError> {
    let mut got = 0;
    while got < buf.len() {
        let n = read_some_under(reader, &mut buf[got..], idle, floor.as_deref_mut()).await?;
        if n == 0 {
            return Err(if got == 0 { ReadError::Closed } else { ReadError::Truncated(what) });
        }
        got += n;
    }
    Ok(())
}

/// One read, failing with [`ReadError::Idle`] after `idle` (when given) and, when `floor` is given,
/// with [`ReadError::TooSlow`] when the peer sends too little in a window, whatever the idle timeout
/// allows. Returns 0 at the end of the stream.
pub async fn read_some_under<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
    idle: Option<Duration>,
    floor: Option<&mut FloorCheck>,
) -> Result<usize, ReadError> {
    let read = async {
        match floor {
            Some(check) => read_with_floor(reader, buf, check).await,
            None => Ok(reader.read(buf).await?),
        }
    };
    match idle {
        None => read.await,
        Some(t) => tokio::time::timeout(t, read).await.unwrap_or(Err(ReadError::Idle(t))),
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

/// Reads one chunk into `buf` under `check`'s floor: fails with [`ReadError::TooSlow`] when the
/// window ends before enough bytes came.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use camctl_core::io::{Floor, FloorCheck, ReadError, read_with_floor};
/// use std::time::Duration;
/// let (mut near, mut far) = tokio::io::duplex(64);
/// let mut check = FloorCheck::new(Floor { min_bytes: 10, window: Duration::from_millis(50) });
/// tokio::io::AsyncWriteExt::write_all(&mut far, b"abc").await.unwrap();
/// let mut buf = [0u8; 8];
/// assert_eq!(read_with_floor(&mut near, &mut buf, &mut check).await.unwrap(), 3);
/// // Nothing more comes: the window ends with 3 of the 10 bytes.
/// let err = read_with_floor(&mut near, &mut buf, &mut check).await.unwrap_err();
/// assert!(matches!(err, ReadError::TooSlow(_)));
/// # drop(far);
/// # });
/// ```
pub async fn read_with_floor<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
    check: &mut FloorCheck,
) -> Result<usize, ReadError> {
    loop {
        check.check()?;
        match tokio::time::timeout_at(check.deadline(), reader.read(buf)).await {
            Ok(read) => {
                let n = read?;
                check.record(n)?;
                return Ok(n);
            }
            // The window ended while waiting: check() above decides.
            Err(_) => continue,
        }
    }
}

/// A peer's byte stream read message by message: read-ahead buffering, an idle timeout and a progress
/// floor on every read, payloads read into memory only up to a limit, skipped payloads never held, and
/// messages written in one write from a reused buffer. The framing layers of the protocols (PTP/IP
/// packets, Lytro frames) sit on it; they add only their own headers.
pub struct FramedStream<S> {
    stream: BufReader<S>,
    out: Vec<u8>,
    idle: Option<Duration>,
    floor: Option<FloorCheck>,
}

impl<S: AsyncRead> FramedStream<S> {
    /// Wraps a connected stream with `read_ahead` bytes of read buffer (reads larger than that land
    /// directly in the caller's buffer).
    pub fn new(stream: S, read_ahead: usize) -> Self {
        FramedStream {
            stream: BufReader::with_capacity(read_ahead, stream),
            out: Vec::new(),
            idle: None,
            floor: None,
        }
    }

    /// Makes every read fail with [`ReadError::Idle`] when the peer sends nothing for `timeout`.
    pub fn set_idle_timeout(&mut self, timeout: Option<Duration>) {
        self.idle = timeout;
    }

    /// Holds every read from now on to `floor` (none = only the idle timeout), until
    /// [`FramedStream::stop_floor`]. A floor already running keeps its window, so nested transfers
    /// (a data phase inside a download) are measured as one.
    pub fn start_floor(&mut self, floor: Option<Floor>) {
        if self.floor.is_none() {
            self.floor = floor.map(FloorCheck::new);
        }
    }

    /// Ends the floor started by [`FramedStream::start_floor`].
    pub fn stop_floor(&mut self) {
        self.floor = None;
    }

    /// Whether a floor is running.
    pub fn floor_running(&self) -> bool {
        self.floor.is_some()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        self.stream.get_ref()
    }

    /// The bytes already read from the socket but not consumed; never waits.
    pub fn buffered(&self) -> &[u8] {
        self.stream.buffer()
    }

    /// The output buffer, emptied, for the caller to assemble one message (or several) in; sent by
    /// [`FramedStream::send_staged`].
    pub fn stage(&mut self) -> &mut Vec<u8> {
        self.out.clear();
        &mut self.out
    }

    /// What [`FramedStream::stage`] holds (for packet logs).
    pub fn staged(&self) -> &[u8] {
        &self.out
    }
}

impl<S: AsyncRead + Unpin> FramedStream<S> {
    /// Waits for the peer's next bytes without consuming them; empty when the peer closed. Lets a
    /// caller tell a peer speaking another protocol from a slow one.
    pub async fn peek(&mut self) -> Result<&[u8], ReadError> {
        match self.idle {
            Some(t) => match tokio::time::timeout(t, self.stream.fill_buf()).await {
                Ok(r) => Ok(r?),
                Err(_) => Err(ReadError::Idle(t)),
            },
            None => Ok(self.stream.fill_buf().await?),
        }
    }

    /// One read (0 at the end of the stream) under the idle timeout and the floor.
    pub async fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, ReadError> {
        read_some_under(&mut self.stream, buf, self.idle, self.floor.as_mut()).await
    }

    /// Fills `buf` with the start of a message: [`ReadError::Closed`] when the stream ends before its
    /// first byte (the peer closed between messages), [`ReadError::Truncated`] naming `what` after.
    pub async fn read_start(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), ReadError> {
        read_full_under(&mut self.stream, buf, self.idle, self.floor.as_mut(), what).await
    }

    /// Fills `buf` from inside a message: any end of the stream is [`ReadError::Truncated`].
    pub async fn read_rest(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), ReadError> {
        match self.read_start(buf, what).await {
            Err(ReadError::Closed) => Err(ReadError::Truncated(what)),
            other => other,
        }
    }

    /// Reads the `len` bytes of a payload into memory, refusing more than `max` before allocating.
    pub async fn read_vec(&mut self, len: u64, max: usize, what: &'static str) -> Result<Vec<u8>, ReadError> {
        let n = usize::try_from(len).ok().filter(|&n| n <= max);
        let Some(n) = n else { return Err(ReadError::TooLarge { what, len, max: max as u64 }) };
        let mut buf = vec![0u8; n];
        self.read_rest(&mut buf, what).await?;
        Ok(buf)
    }

    /// Reads and discards `n` bytes through a buffer of at most `piece` bytes.
    pub async fn skip(&mut self, mut n: u64, piece: usize, what: &'static str) -> Result<(), ReadError> {
        let mut buf = vec![0u8; piece.min(usize::try_from(n).unwrap_or(usize::MAX))];
        while n > 0 {
            let want = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            match self.read_some(&mut buf[..want]).await? {
                0 => return Err(ReadError::Truncated(what)),
                got => n -= got as u64,
            }
        }
        Ok(())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> FramedStream<S> {
    /// Sends what [`FramedStream::stage`] assembled, in one write.
    pub async fn send_staged(&mut self) -> std::io::Result<()> {
        self.stream.get_mut().write_all(&self.out).await
    }

    /// Writes bytes as they are (e.g. a payload following a header already sent).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.get_mut().write_all(bytes).await
    }
}

#[cfg(test)]
mod framed_tests {
    use super::*;

    #[tokio::test]
    async fn start_rest_and_limits_name_what_went_wrong() {
        let mut s = FramedStream::new(&b"abcdef"[..], 4);
        let mut two = [0u8; 2];
        s.read_start(&mut two, "header").await.unwrap();
        assert_eq!(&two, b"ab");
        assert!(matches!(s.read_vec(100, 10, "payload").await, Err(ReadError::TooLarge { len: 100, .. })));
        assert_eq!(s.read_vec(2, 10, "payload").await.unwrap(), b"cd");
        s.skip(1, 64, "payload").await.unwrap();
        assert!(matches!(s.read_rest(&mut two, "payload").await, Err(ReadError::Truncated("payload"))));
        assert!(matches!(s.read_start(&mut two, "header").await, Err(ReadError::Closed)));
    }

    #[tokio::test]
    async fn a_silent_peer_hits_the_idle_timeout() {
        let (near, _far) = tokio::io::duplex(64);
        let mut s = FramedStream::new(near, 64);
        s.set_idle_timeout(Some(Duration::from_millis(20)));
        let mut b = [0u8; 1];
        assert!(matches!(s.read_start(&mut b, "header").await, Err(ReadError::Idle(_))));
    }
}
