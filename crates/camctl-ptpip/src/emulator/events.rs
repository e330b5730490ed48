//! Event connections: bound to a command connection by its number, fed through a bounded queue so
//! command processing never waits for event writes (rule 14), answering Probe Requests, and closed
//! when the command connection ends (rule 15).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::wire::{HEADER_LEN, Header, Packet, fail_reason};

use super::{EVENT_QUEUE, Shared};

/// Largest packet accepted on an event connection (initiators only send Probe packets here).
const MAX_EVENT_PACKET: usize = 256;

/// A peer that does not take an event within this time is dropped (its socket buffer is full).
const EVENT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs one event connection until its command connection closes or the peer goes away.
pub(super) async fn run(shared: Arc<Shared>, mut stream: TcpStream, peer: SocketAddr, connection: u32) {
    let bound = {
        let mut state = shared.lock();
        match state.conns.get_mut(&connection) {
            None => Err(fail_reason::UNSPECIFIED),
            Some(slot) if slot.events.as_ref().is_some_and(|tx| !tx.is_closed()) => Err(fail_reason::BUSY),
            Some(slot) => {
                let (tx, rx) = mpsc::channel(EVENT_QUEUE);
                slot.events = Some(tx);
                Ok(rx)
            }
        }
    };
    let mut rx = match bound {
        Ok(rx) => rx,
        Err(reason) => {
            tracing::warn!(%peer, connection, reason, "event connection for an unknown/busy connection");
            let _ = write(&mut stream, &Packet::InitFail { reason }).await;
            return;
        }
    };
    if let Err(e) = write(&mut stream, &Packet::InitEventAck).await {
        tracing::debug!(%peer, connection, error = %e, "event ack failed");
        return;
    }
    tracing::info!(%peer, connection, "event connection opened");

    let (mut rd, mut wr) = stream.into_split();
    let mut buf = [0u8; MAX_EVENT_PACKET];
    let mut filled = 0;
    loop {
        tokio::select! {
            event = rx.recv() => {
                // None: the command connection closed, so this one closes too.
                let Some(event) = event else { break };
                if let Err(e) = write(&mut wr, &Packet::Event(event)).await {
                    tracing::debug!(%peer, connection, error = %e, "event write failed");
                    break;
                }
            }
            read = rd.read(&mut buf[filled..]) => {
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => filled += n,
                }
                match handle_incoming(&mut buf, &mut filled, &mut wr).await {
                    Ok(()) => {}
                    Err(e) => {
                        tracing::warn!(%peer, connection, error = %e, "bad packet on event connection, closing");
                        break;
                    }
                }
            }
        }
    }
    tracing::info!(%peer, connection, "event connection closed");
}

/// Handles every whole packet at the start of `buf`, keeping a partial one for the next read.
async fn handle_incoming(
    buf: &mut [u8; MAX_EVENT_PACKET],
    filled: &mut usize,
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
) -> Result<(), String> {
    while *filled >= HEADER_LEN {
        let mut head = [0u8; HEADER_LEN];
        head.copy_from_slice(&buf[..HEADER_LEN]);
        let header = Header::decode(&head).map_err(|e| e.to_string())?;
        let len = header.length as usize;
        if len > MAX_EVENT_PACKET {
            return Err(format!("packet of {len} bytes"));
        }
        if *filled < len {
            break;
        }
        match Packet::decode(header.kind, &buf[HEADER_LEN..len]) {
            Ok(Packet::ProbeRequest) => write(wr, &Packet::ProbeResponse).await.map_err(|e| e.to_string())?,
            Ok(Packet::ProbeResponse) => {}
            Ok(other) => tracing::debug!(kind = other.kind(), "ignored packet on event connection"),
            Err(e) => return Err(e.to_string()),
        }
        buf.copy_within(len..*filled, 0);
        *filled -= len;
    }
    Ok(())
}

/// Writes one packet in one write, giving up on a peer that stopped reading.
async fn write<W: AsyncWriteExt + Unpin>(w: &mut W, packet: &Packet) -> std::io::Result<()> {
    let bytes = packet.to_bytes().map_err(std::io::Error::other)?;
    tokio::time::timeout(EVENT_WRITE_TIMEOUT, w.write_all(&bytes))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "event write timed out"))?
}
