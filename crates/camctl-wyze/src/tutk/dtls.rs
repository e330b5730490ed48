//! DTLS 1.2 PSK (`ECDHE-PSK-CHACHA20-POLY1305`, suite 0xCCAC) for both roles, sans-IO: OpenSSL runs over
//! an in-memory duplex that is fed whole datagrams and yields whole datagrams (tutk.md §6.4.3).
//!
//! OpenSSL retransmits handshake flights itself when it is driven after its timer expired, so the owner
//! calls [`DtlsEndpoint::drive`] on every datagram and on a short periodic tick.

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use openssl::ssl::{ErrorCode, SslContext, SslMethod, SslOptions, SslStream, SslVerifyMode, SslVersion};

/// The PSK identity the client sends (pion sends its identity hint; SEYDX lists this value).
pub const PSK_IDENTITY: &str = "AUTHPWD_admin";
/// The cipher suite (0xCCAC).
pub const CIPHER: &str = "ECDHE-PSK-CHACHA20-POLY1305";
/// go2rtc's MTU.
pub const MTU: u32 = 1200;
// SSL_OP_NO_EXTENDED_MASTER_SECRET (OpenSSL 3.0: bit 0). go2rtc disables extended master secret.
const NO_EXTENDED_MASTER_SECRET: u64 = 1;

/// A DTLS failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtlsError {
    /// OpenSSL refused the configuration.
    #[error("DTLS setup failed: {0}")]
    Setup(String),
    /// The handshake or a record failed (e.g. a fatal alert).
    #[error("DTLS failed: {0}")]
    Failed(String),
    /// The peer sent close_notify.
    #[error("DTLS session closed by the peer")]
    Closed,
}

fn setup(e: impl std::fmt::Display) -> DtlsError {
    DtlsError::Setup(e.to_string())
}

/// The in-memory datagram duplex OpenSSL reads from and writes to.
#[derive(Debug, Default)]
struct Pipe {
    inbox: VecDeque<Vec<u8>>,
    outbox: Vec<Vec<u8>>,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One datagram per read, as a datagram BIO would; OpenSSL's DTLS read buffer exceeds any record.
        match self.inbox.pop_front() {
            Some(d) => {
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                Ok(n)
            }
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outbox.push(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Which side of the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsRole {
    /// Connects (the viewer on channel 0).
    Client,
    /// Accepts (the camera on channel 0).
    Server,
}

/// One DTLS association over datagrams.
pub struct DtlsEndpoint {
    stream: SslStream<Pipe>,
    role: DtlsRole,
    established: bool,
    closed: bool,
}

impl std::fmt::Debug for DtlsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsEndpoint")
            .field("role", &self.role)
            .field("established", &self.established)
            .finish()
    }
}

impl DtlsEndpoint {
    /// A client that authenticates with `psk` under identity [`PSK_IDENTITY`].
    pub fn client(psk: &[u8]) -> Result<Self, DtlsError> {
        let psk = psk.to_vec();
        Self::new(DtlsRole::Client, move |b| {
            b.set_psk_client_callback(move |_ssl, _hint, identity, out| {
                let id = PSK_IDENTITY.as_bytes();
                if identity.len() <= id.len() || out.len() < psk.len() {
                    return Err(openssl::error::ErrorStack::get());
                }
                identity[..id.len()].copy_from_slice(id);
                identity[id.len()] = 0;
                out[..psk.len()].copy_from_slice(&psk);
                Ok(psk.len())
            });
        })
    }

    /// A server that accepts clients knowing `psk` (any identity; it is logged).
    pub fn server(psk: &[u8]) -> Result<Self, DtlsError> {
        let psk = psk.to_vec();
        Self::new(DtlsRole::Server, move |b| {
            b.set_psk_server_callback(move |_ssl, identity, out| {
                tracing::debug!(identity = %String::from_utf8_lossy(identity.unwrap_or_default()), "DTLS PSK identity");
                if out.len() < psk.len() {
                    return Err(openssl::error::ErrorStack::get());
                }
                out[..psk.len()].copy_from_slice(&psk);
                Ok(psk.len())
            });
        })
    }

    fn new(
        role: DtlsRole,
        psk: impl FnOnce(&mut openssl::ssl::SslContextBuilder),
    ) -> Result<Self, DtlsError> {
        let mut b = SslContext::builder(SslMethod::dtls()).map_err(setup)?;
        b.set_min_proto_version(Some(SslVersion::DTLS1_2)).map_err(setup)?;
        b.set_max_proto_version(Some(SslVersion::DTLS1_2)).map_err(setup)?;
        b.set_cipher_list(CIPHER).map_err(setup)?;
        b.set_options(
            SslOptions::NO_QUERY_MTU | SslOptions::from_bits_retain(NO_EXTENDED_MASTER_SECRET as _),
        );
        b.set_verify(SslVerifyMode::NONE);
        psk(&mut b);
        let ctx = b.build();
        let mut ssl = openssl::ssl::Ssl::new(&ctx).map_err(setup)?;
        ssl.set_mtu(MTU).map_err(setup)?;
        match role {
            DtlsRole::Client => ssl.set_connect_state(),
            DtlsRole::Server => ssl.set_accept_state(),
        }
        let stream = SslStream::new(ssl, Pipe::default()).map_err(setup)?;
        Ok(DtlsEndpoint { stream, role, established: false, closed: false })
    }

    /// Whether the handshake has completed.
    pub fn is_established(&self) -> bool {
        self.established
    }

    /// Queues one received datagram (call [`DtlsEndpoint::drive`] next).
    pub fn feed(&mut self, datagram: &[u8]) {
        // Bounded: a flood of datagrams between drives cannot grow the queue without limit.
        let inbox = &mut self.stream.get_mut().inbox;
        if inbox.len() < 256 {
            inbox.push_back(datagram.to_vec());
        }
    }

    /// Advances the handshake (retransmitting when OpenSSL's timer expired) and returns decrypted
    /// application records. Call on every datagram and periodically.
    pub fn drive(&mut self) -> Result<Vec<Vec<u8>>, DtlsError> {
        if self.closed {
            return Err(DtlsError::Closed);
        }
        if !self.established {
            match self.stream.do_handshake() {
                Ok(()) => self.established = true,
                Err(e) if e.code() == ErrorCode::WANT_READ || e.code() == ErrorCode::WANT_WRITE => {
                    return Ok(vec![]);
                }
                Err(e) => return Err(DtlsError::Failed(e.to_string())),
            }
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            match self.stream.ssl_read(&mut buf) {
                Ok(n) => out.push(buf[..n].to_vec()),
                Err(e) if e.code() == ErrorCode::WANT_READ || e.code() == ErrorCode::WANT_WRITE => break,
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                    self.closed = true;
                    if out.is_empty() {
                        return Err(DtlsError::Closed);
                    }
                    break;
                }
                Err(e) => return Err(DtlsError::Failed(e.to_string())),
            }
        }
        Ok(out)
    }

    /// Encrypts one application record (one AV message).
    pub fn write(&mut self, data: &[u8]) -> Result<(), DtlsError> {
        if !self.established {
            return Err(DtlsError::Failed("write before the handshake completed".into()));
        }
        self.stream.ssl_write(data).map(|_| ()).map_err(|e| DtlsError::Failed(e.to_string()))
    }

    /// Sends close_notify (the datagram appears in [`DtlsEndpoint::take_output`]).
    pub fn close(&mut self) {
        let _ = self.stream.shutdown();
    }

    /// Datagrams to send.
    pub fn take_output(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.stream.get_mut().outbox)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::dtls_psk;

    fn pump(a: &mut DtlsEndpoint, b: &mut DtlsEndpoint) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let (mut ra, mut rb) = (vec![], vec![]);
        for _ in 0..20 {
            ra.extend(a.drive().unwrap());
            rb.extend(b.drive().unwrap());
            for d in a.take_output() {
                b.feed(&d);
            }
            for d in b.take_output() {
                a.feed(&d);
            }
        }
        (ra, rb)
    }

    #[test]
    fn handshake_and_records_in_memory() {
        let psk = dtls_psk("AbCdEfGh/JkLmN0p");
        let mut c = DtlsEndpoint::client(&psk).unwrap();
        let mut s = DtlsEndpoint::server(&psk).unwrap();
        pump(&mut c, &mut s);
        assert!(c.is_established() && s.is_established());
        c.write(b"hello camera").unwrap();
        s.write(&[7u8; 3000]).unwrap();
        let (rc, rs) = pump(&mut c, &mut s);
        assert_eq!(rs, vec![b"hello camera".to_vec()]);
        assert_eq!(rc, vec![vec![7u8; 3000]]);
        c.close();
        for d in c.take_output() {
            s.feed(&d);
        }
        assert_eq!(s.drive(), Err(DtlsError::Closed));
    }

    #[test]
    fn wrong_psk_never_establishes() {
        let mut c = DtlsEndpoint::client(&dtls_psk("wrong")).unwrap();
        let mut s = DtlsEndpoint::server(&dtls_psk("AbCdEfGh/JkLmN0p")).unwrap();
        let mut failed = false;
        for _ in 0..20 {
            failed |= c.drive().is_err() | s.drive().is_err();
            for d in c.take_output() {
                s.feed(&d);
            }
            for d in s.take_output() {
                c.feed(&d);
            }
        }
        assert!(failed || !(c.is_established() && s.is_established()));
        assert!(!c.is_established() || !s.is_established());
    }
}
