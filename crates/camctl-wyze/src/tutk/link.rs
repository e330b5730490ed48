//! One established session, sans-IO: framing + optional DTLS + AV endpoint. Datagrams and `Instant`s in,
//! datagrams, AV events and a deadline out. Both roles' socket drivers use it.

use std::time::{Duration, Instant};

use super::av::{AvEndpoint, AvEvent};
use super::dtls::{DtlsEndpoint, DtlsError};
use super::framing::{Framing, Inbound};

/// How often DTLS is driven while nothing else is due (handshake retransmission granularity).
pub const TICK: Duration = Duration::from_millis(50);

/// What a datagram produced.
#[derive(Debug, Default)]
pub struct Output {
    /// Datagrams to send to the peer.
    pub datagrams: Vec<Vec<u8>>,
    /// AV events.
    pub events: Vec<AvEvent>,
    /// The datagram was a valid packet of this session (proof of life, and the peer address to adopt).
    pub valid: bool,
}

/// A session's stack above the socket.
#[derive(Debug)]
pub struct Link {
    /// The packet wrapper.
    pub framing: Framing,
    /// DTLS on channel 0 (`None`: AV messages travel in the clear).
    pub dtls: Option<DtlsEndpoint>,
    /// The AV endpoint.
    pub av: AvEndpoint,
}

impl Link {
    /// A link; call [`Link::tick`] to start a client handshake.
    pub fn new(framing: Framing, dtls: Option<DtlsEndpoint>, now: Instant) -> Self {
        Link { framing, dtls, av: AvEndpoint::new(now) }
    }

    /// Whether AV messages can flow (DTLS established or not used).
    pub fn ready(&self) -> bool {
        self.dtls.as_ref().is_none_or(DtlsEndpoint::is_established)
    }

    fn flush_dtls(&mut self, out: &mut Vec<Vec<u8>>) {
        if let Some(d) = &mut self.dtls {
            for rec in d.take_output() {
                out.push(self.framing.wrap(0, &rec));
            }
        }
    }

    /// Datagrams carrying one AV message.
    pub fn send_av(&mut self, msg: &[u8]) -> Result<Vec<Vec<u8>>, DtlsError> {
        let mut out = Vec::new();
        match &mut self.dtls {
            Some(d) => {
                d.write(msg)?;
                self.flush_dtls(&mut out);
            }
            None => out.push(self.framing.wrap(0, msg)),
        }
        Ok(out)
    }

    /// Sends an IOCTRL (reliably: it is resent from [`Link::tick`] until acknowledged).
    pub fn send_ioctrl(
        &mut self,
        ctrl_type: u32,
        data: &[u8],
        now: Instant,
    ) -> Result<Vec<Vec<u8>>, DtlsError> {
        let msg = self.av.send_ioctrl(ctrl_type, data, now);
        self.send_av(&msg)
    }

    fn on_av(&mut self, msgs: Vec<Vec<u8>>, now: Instant, out: &mut Output) -> Result<(), DtlsError> {
        for m in msgs {
            match self.av.on_message(&m, now) {
                Ok((events, replies)) => {
                    out.events.extend(events);
                    for r in replies {
                        out.datagrams.extend(self.send_av(&r)?);
                    }
                }
                // A bad AV message costs only itself.
                Err(e) => tracing::debug!("tutk: dropping AV message: {e}"),
            }
        }
        Ok(())
    }

    /// Handles one received datagram. Malformed datagrams are dropped (`valid == false`); only a DTLS
    /// failure is an error (it ends the session).
    pub fn on_datagram(&mut self, d: &[u8], now: Instant) -> Result<Output, DtlsError> {
        let mut out = Output::default();
        match self.framing.unwrap(d) {
            Err(e) => tracing::debug!("tutk: dropping datagram: {e}"),
            Ok(Inbound::Data { channel: 0, payload }) => {
                out.valid = true;
                let msgs = match &mut self.dtls {
                    Some(dtls) => {
                        dtls.feed(&payload);
                        let recs = dtls.drive()?;
                        self.flush_dtls(&mut out.datagrams);
                        recs
                    }
                    None => vec![payload],
                };
                self.on_av(msgs, now, &mut out)?;
            }
            Ok(Inbound::Data { channel, .. }) => {
                out.valid = true;
                tracing::debug!(channel, "tutk: ignoring data on an unsupported channel");
            }
            Ok(Inbound::Keepalive { answer }) => {
                out.valid = true;
                out.datagrams.push(answer);
            }
            Ok(Inbound::KeepaliveAnswer | Inbound::Setup) => out.valid = true,
        }
        Ok(out)
    }

    /// Timer work: DTLS retransmissions, IOCTRL resends, the ACK ticker, resend-mode requests and frame
    /// indexes (and frames a resend give-up released).
    pub fn tick(&mut self, now: Instant) -> Result<Output, DtlsError> {
        let mut out = Output::default();
        if let Some(d) = &mut self.dtls {
            let recs = d.drive()?;
            self.flush_dtls(&mut out.datagrams);
            self.on_av(recs, now, &mut out)?;
        }
        if self.ready() {
            for m in self.av.handle_timeout(now) {
                out.datagrams.extend(self.send_av(&m)?);
            }
            out.events.extend(self.av.take_events());
        }
        Ok(out)
    }

    /// When [`Link::tick`] must run next.
    pub fn deadline(&self, now: Instant) -> Instant {
        let t = now + TICK;
        self.av.poll_timeout().map_or(t, |d| d.min(t))
    }

    /// close_notify datagrams (DTLS only).
    pub fn close(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if let Some(d) = &mut self.dtls {
            d.close();
        }
        self.flush_dtls(&mut out);
        out
    }
}
