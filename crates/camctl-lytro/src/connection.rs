//! Framing over a byte stream: read one header, read or stream its payload, write one frame in one
//! write. Shared by the client and the emulator.

use std::time::Duration;

use camctl_core::io::{Floor, FloorCheck, ReadFullError, read_full_under};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::error::{Error, Result};
use crate::wire::{HEADER_LEN, Header, MAGIC, WireError};

/// Read-ahead buffer. Reads larger than this (download chunks) bypass it and land directly in the
/// caller's buffer.
const READ_BUFFER: usize = 64 * 1024;

/// One command connection (port 5678 or 5679 equivalent).
pub struct Connection<S> {
    stream: BufReader<S>,
    out: Vec<u8>,
    read_timeout: Option<Duration>,
    /// Progress floor of the transfer under way, if any: every read counts towards it.
    floor: Option<FloorCheck>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Wraps a connected stream.
    pub fn new(stream: S) -> Self {
        Connection {
            stream: BufReader::with_capacity(READ_BUFFER, stream),
            out: Vec::new(),
            read_timeout: None,
            floor: None,
        }
    }

    /// Makes every read fail with [`Error::Timeout`] when the peer sends nothing for `timeout`.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
    }

    /// Starts (or, with `None`, ends) a progress floor: until it ends, reads fail with
    /// [`camctl_core::io::TooSlow`] (as a timed-out I/O error) when the peer sends fewer bytes than it
    /// asks in any window.
    pub fn set_floor(&mut self, floor: Option<Floor>) {
        self.floor = floor.map(FloorCheck::new);
    }

    /// Fills `buf` under the idle timeout and the floor, if one runs.
    async fn fill(&mut self, buf: &mut [u8]) -> std::result::Result<(), ReadFullError> {
        read_full_under(&mut self.stream, buf, self.read_timeout, self.floor.as_mut()).await
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        self.stream.get_ref()
    }

    /// Fills `buf` completely; any end of stream is [`WireError::Truncated`].
    pub async fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        match self.fill(buf).await {
            Err(ReadFullError::Closed) => Err(Error::Wire(WireError::Truncated("payload"))),
            other => other.map_err(|e| read_error(e, "payload")),
        }
    }

    /// Reads the next header; [`Error::Closed`] on a clean end of stream before its first byte.
    ///
    /// The magic is read and checked first, so a peer speaking another protocol is refused as soon as
    /// it sends four bytes, not after a timeout waiting for 28.
    pub async fn read_header(&mut self) -> Result<Header> {
        let mut head = [0u8; HEADER_LEN];
        self.fill(&mut head[..MAGIC.len()]).await.map_err(|e| read_error(e, "header"))?;
        if head[..MAGIC.len()] != MAGIC {
            return Err(Error::Wire(WireError::BadMagic([head[0], head[1], head[2], head[3]])));
        }
        match self.fill(&mut head[MAGIC.len()..]).await {
            // The frame has begun: an end now is a truncated header, not a clean close.
            Err(ReadFullError::Closed) => return Err(Error::Wire(WireError::Truncated("header"))),
            other => other.map_err(|e| read_error(e, "header"))?,
        }
        Ok(Header::decode(&head)?)
    }

    /// Reads exactly `len` payload bytes into memory, refusing more than `max` (checked before
    /// allocating).
    pub async fn read_payload(&mut self, len: u32, max: usize) -> Result<Vec<u8>> {
        let len = len as usize;
        if len > max {
            return Err(Error::Wire(WireError::TooLarge {
                what: "payload",
                len: len as u64,
                max: max as u64,
            }));
        }
        let mut buf = vec![0u8; len];
        self.read_exact(&mut buf).await?;
        Ok(buf)
    }

    /// Copies exactly `n` payload bytes to `out` through `buf` (never the whole payload in memory).
    pub async fn copy_payload<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        mut n: u64,
        out: &mut W,
        buf: &mut [u8],
    ) -> Result<()> {
        while n > 0 {
            let want = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            self.read_exact(&mut buf[..want]).await?;
            out.write_all(&buf[..want]).await?;
            n -= want as u64;
        }
        Ok(())
    }

    /// Discards exactly `n` payload bytes.
    pub async fn skip_payload(&mut self, n: u64) -> Result<()> {
        let mut buf = vec![0u8; READ_BUFFER.min(usize::try_from(n).unwrap_or(usize::MAX))];
        self.copy_payload(n, &mut tokio::io::sink(), &mut buf).await
    }

    /// Writes header and payload in one write.
    pub async fn write_frame(&mut self, header: &Header, payload: &[u8]) -> Result<()> {
        self.out.clear();
        self.out.extend_from_slice(&header.encode());
        self.out.extend_from_slice(payload);
        self.stream.get_mut().write_all(&self.out).await?;
        Ok(())
    }

    /// Writes bytes as they are (a frame the caller assembled, e.g. header + chunk in one buffer).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.get_mut().write_all(bytes).await?;
        Ok(())
    }
}

/// This crate's error for a failed [`read_full`] of the named part.
fn read_error(e: ReadFullError, what: &'static str) -> Error {
    match e {
        ReadFullError::Closed => Error::Closed,
        ReadFullError::Truncated { .. } => Error::Wire(WireError::Truncated(what)),
        ReadFullError::Timeout(_) => Error::Timeout("data from the peer"),
        ReadFullError::Io(e) => Error::Io(e),
    }
}
