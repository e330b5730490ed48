//! Framing over a byte stream: read one header, read or stream its payload, write one frame in one
//! write. Shared by the client and the emulator.

use std::time::Duration;

use camctl_core::io::{Floor, FramedStream};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::{Error, Result};
use crate::wire::{HEADER_LEN, Header, MAGIC, WireError};

/// Read-ahead buffer. Reads larger than this (download chunks) bypass it and land directly in the
/// caller's buffer.
const READ_BUFFER: usize = 64 * 1024;

/// One command connection (port 5678 or 5679 equivalent).
pub struct Connection<S> {
    stream: FramedStream<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Wraps a connected stream.
    pub fn new(stream: S) -> Self {
        Connection { stream: FramedStream::new(stream, READ_BUFFER) }
    }

    /// Makes every read fail with [`camctl_core::io::ReadError::Idle`] when the peer sends nothing for `timeout`.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.stream.set_idle_timeout(timeout);
    }

    /// Starts (or, with `None`, ends) a progress floor: until it ends, reads fail with
    /// [`camctl_core::io::ReadError::TooSlow`] when the peer sends fewer bytes than it asks in any window.
    pub fn set_floor(&mut self, floor: Option<Floor>) {
        self.stream.stop_floor();
        self.stream.start_floor(floor);
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        self.stream.get_ref()
    }

    /// Fills `buf` completely; any end of stream is [`camctl_core::io::ReadError::Truncated`].
    pub async fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        Ok(self.stream.read_rest(buf, "payload").await?)
    }

    /// Reads the next header; [`camctl_core::io::ReadError::Closed`] on a clean end of stream before its first byte.
    ///
    /// The magic is read and checked first, so a peer speaking another protocol is refused as soon as
    /// it sends four bytes, not after a timeout waiting for 28.
    pub async fn read_header(&mut self) -> Result<Header> {
        let mut head = [0u8; HEADER_LEN];
        self.stream.read_start(&mut head[..MAGIC.len()], "header").await?;
        if head[..MAGIC.len()] != MAGIC {
            return Err(Error::Wire(WireError::BadMagic([head[0], head[1], head[2], head[3]])));
        }
        self.stream.read_rest(&mut head[MAGIC.len()..], "header").await?;
        Ok(Header::decode(&head)?)
    }

    /// Reads exactly `len` payload bytes into memory, refusing more than `max` (checked before
    /// allocating).
    pub async fn read_payload(&mut self, len: u32, max: usize) -> Result<Vec<u8>> {
        Ok(self.stream.read_vec(u64::from(len), max, "payload").await?)
    }

    /// Discards exactly `n` payload bytes.
    pub async fn skip_payload(&mut self, n: u64) -> Result<()> {
        Ok(self.stream.skip(n, READ_BUFFER, "payload").await?)
    }

    /// Writes header and payload in one write.
    pub async fn write_frame(&mut self, header: &Header, payload: &[u8]) -> Result<()> {
        let out = self.stream.stage();
        out.extend_from_slice(&header.encode());
        out.extend_from_slice(payload);
        self.stream.send_staged().await?;
        Ok(())
    }

    /// Writes bytes as they are (a frame the caller assembled, e.g. header + chunk in one buffer).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_raw(bytes).await?;
        Ok(())
    }
}
