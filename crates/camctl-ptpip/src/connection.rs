//! Framing over a byte stream: read one whole packet, write one packet in one write, and stream the
//! payload of data packets without holding it in memory.

use std::time::Duration;

use camctl_core::io::{Floor, FramedStream, ReadError};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::error::Result;
use crate::wire::{HEADER_LEN, Header, Packet, WireError, kind};

/// Largest packet read whole into memory. Data packets larger than this are only ever streamed;
/// everything else (requests, datasets) is far smaller on real cameras.
pub const MAX_BUFFERED_PACKET: usize = 16 * 1024 * 1024;

/// Chunk size for streaming object data.
pub const STREAM_CHUNK: usize = 1024 * 1024;

/// Bytes of a packet shown in packet logs.
const LOGGED_BYTES: usize = 64;

/// One PTP/IP connection (command or event socket).
pub struct Connection<S> {
    stream: FramedStream<S>,
    /// Name of this connection in packet logs; `None` = packets are not logged.
    log_name: Option<&'static str>,
}

impl<S: AsyncRead + Unpin> Connection<S> {
    /// Wraps a connected stream.
    pub fn new(stream: S) -> Self {
        Connection { stream: FramedStream::new(stream, 64 * 1024), log_name: None }
    }

    /// Holds every read from now on to `floor` (none = only the idle timeout), until
    /// [`Connection::stop_floor`]. A floor already running keeps its window.
    pub fn start_floor(&mut self, floor: Option<Floor>) {
        self.stream.start_floor(floor);
    }

    /// Ends the floor started by [`Connection::start_floor`].
    pub fn stop_floor(&mut self) {
        self.stream.stop_floor();
    }

    /// Whether a floor is running.
    pub fn floor_running(&self) -> bool {
        self.stream.floor_running()
    }

    /// Logs every packet read or written at debug level (`-vv`), naming the connection `name`.
    pub fn set_packet_log(&mut self, name: &'static str) {
        self.log_name = Some(name);
    }

    /// Logs a received packet from its parts (header bytes, then the start of its payload).
    pub fn log_received(&self, header: &Header, payload: &[&[u8]]) {
        if let Some(name) = self.log_name {
            let head = Header::encode(header.kind, header.payload_len()).unwrap_or_default();
            let parts: Vec<&[u8]> = std::iter::once(&head[..]).chain(payload.iter().copied()).collect();
            log_packet(name, "<-", header.kind, header.length, &parts);
        }
    }

    /// The bytes already read from the socket but not consumed (for logging the start of a data
    /// packet that is streamed rather than held); never waits.
    pub fn buffered(&self) -> &[u8] {
        self.stream.buffered()
    }

    /// Waits for the peer's first bytes without consuming them; empty when the peer closed. Lets a
    /// caller tell a peer speaking another protocol from a slow one.
    pub async fn peek(&mut self) -> Result<&[u8]> {
        Ok(self.stream.peek().await?)
    }

    /// Makes every read fail with [`ReadError::Idle`] when the peer sends nothing for `timeout`.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.stream.set_idle_timeout(timeout);
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        self.stream.get_ref()
    }

    /// Reads the next header; [`ReadError::Closed`] on a clean end of stream before it.
    pub async fn read_header(&mut self) -> Result<Header> {
        let mut head = [0u8; HEADER_LEN];
        self.stream.read_start(&mut head, "header").await?;
        Ok(Header::decode(&head)?)
    }

    /// Reads exactly `n` payload bytes into memory, refusing more than [`MAX_BUFFERED_PACKET`].
    pub async fn read_payload(&mut self, n: usize) -> Result<Vec<u8>> {
        Ok(self.stream.read_vec(n as u64, MAX_BUFFERED_PACKET, "packet").await?)
    }

    /// Fills `buf` with the next payload bytes (for datasets collected across several data packets,
    /// without a second copy).
    pub async fn read_into(&mut self, buf: &mut [u8]) -> Result<()> {
        Ok(self.stream.read_rest(buf, "packet").await?)
    }

    /// Reads and decodes one whole packet.
    pub async fn read_packet(&mut self) -> Result<Packet> {
        let header = self.read_header().await?;
        let payload = self.read_payload(header.payload_len()).await?;
        self.log_received(&header, &[&payload]);
        Ok(Packet::decode(header.kind, &payload)?)
    }

    /// Reads a little-endian `u32` (the transaction id at the start of data packets).
    pub async fn read_u32(&mut self) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read_into(&mut b).await?;
        Ok(u32::from_le_bytes(b))
    }

    /// Copies exactly `n` payload bytes to `out` through `buf`, without buffering them all.
    pub async fn copy_payload<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        mut n: u64,
        out: &mut W,
        buf: &mut [u8],
    ) -> Result<()> {
        while n > 0 {
            let want = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            let got = self.stream.read_some(&mut buf[..want]).await?;
            if got == 0 {
                return Err(ReadError::Truncated("data packet").into());
            }
            out.write_all(&buf[..got]).await?;
            n -= got as u64;
        }
        Ok(())
    }

    /// Discards exactly `n` payload bytes.
    pub async fn skip_payload(&mut self, n: u64) -> Result<()> {
        Ok(self.stream.skip(n, STREAM_CHUNK, "data packet").await?)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Writes one packet in a single write.
    pub async fn write_packet(&mut self, packet: &Packet) -> Result<()> {
        self.write_packets(std::slice::from_ref(packet)).await
    }

    /// Writes the header of a data packet (`Data` or `EndData`) whose payload of `data_len` bytes
    /// follows through [`Connection::write_raw`].
    pub async fn write_data_header(&mut self, end: bool, tid: u32, data_len: u64) -> Result<()> {
        let len = usize::try_from(data_len).map_err(|_| WireError::TooLarge(usize::MAX))?;
        let header = Header::encode(if end { kind::END_DATA } else { kind::DATA }, 4 + len)?;
        let out = self.stream.stage();
        out.extend_from_slice(&header);
        out.extend_from_slice(&tid.to_le_bytes());
        self.stream.send_staged().await?;
        Ok(())
    }

    /// Writes raw bytes (the payload announced by [`Connection::write_data_header`]).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_raw(bytes).await?;
        Ok(())
    }

    /// Writes several packets in one write (e.g. StartData + EndData + Response of a small data phase).
    pub async fn write_packets(&mut self, packets: &[Packet]) -> Result<()> {
        let out = self.stream.stage();
        for p in packets {
            p.encode(out)?;
        }
        self.log_sent();
        self.stream.send_staged().await?;
        Ok(())
    }
}

impl<S: AsyncRead> Connection<S> {
    /// Logs each packet in the output buffer.
    fn log_sent(&self) {
        let Some(name) = self.log_name else { return };
        let mut rest = self.stream.staged();
        while let Some(head) = rest.get(..HEADER_LEN).and_then(|h| <&[u8; HEADER_LEN]>::try_from(h).ok()) {
            let Ok(header) = Header::decode(head) else { return };
            let end = (header.length as usize).min(rest.len());
            log_packet(name, "->", header.kind, header.length, &[&rest[..end]]);
            rest = &rest[end..];
        }
    }
}

/// One debug line per packet: direction, type, length and the first [`LOGGED_BYTES`] bytes in hex.
fn log_packet(conn: &str, dir: &str, kind: u32, length: u32, parts: &[&[u8]]) {
    tracing::debug!(
        "{conn} {dir} {} ({kind}) {length} bytes: {}",
        crate::wire::kind::name(kind),
        hex_prefix(parts, LOGGED_BYTES)
    );
}

/// The first `max` bytes of the concatenated parts in hex, `...` when there are more.
fn hex_prefix(parts: &[&[u8]], max: usize) -> String {
    let mut out = String::new();
    for (shown, &b) in parts.iter().flat_map(|p| p.iter()).enumerate() {
        if shown == max {
            out.push_str(" ...");
            break;
        }
        if shown > 0 && shown % 4 == 0 {
            out.push(' ');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_prefix_is_bounded() {
        assert_eq!(hex_prefix(&[&[1, 2, 3], &[4, 5]], 64), "01020304 05");
        let long = vec![0xabu8; 100];
        let shown = hex_prefix(&[&long], LOGGED_BYTES);
        assert_eq!(shown.matches("ab").count(), LOGGED_BYTES);
        assert!(shown.ends_with(" ..."));
    }
}
