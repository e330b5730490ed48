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
    let mut got = 0;
    while got < buf.len() {
        let n = read_some(reader, &mut buf[got..], idle).await?;
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
    match idle {
        None => Ok(reader.read(buf).await?),
        Some(t) => match tokio::time::timeout(t, reader.read(buf)).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(ReadFullError::Timeout(t)),
        },
    }
}
