//! A TCP proxy on 127.0.0.1 that cuts or stalls the camera's side after a number of bytes: real
//! interruptions for resume tests.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Forwards every connection to `upstream`, cutting each one after `limit` bytes from the camera
/// (or, stalling, keeping it open and silent from then on).
pub struct CuttingProxy {
    /// The port to connect to instead of the camera's.
    pub port: u16,
    closed: Arc<AtomicBool>,
}

impl CuttingProxy {
    pub fn start(upstream: u16, limit: u64) -> CuttingProxy {
        Self::start_with(upstream, limit, false)
    }

    pub fn stalling(upstream: u16, limit: u64) -> CuttingProxy {
        Self::start_with(upstream, limit, true)
    }

    fn start_with(upstream: u16, limit: u64, stall: bool) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let closed = Arc::new(AtomicBool::new(false));
        let stop = closed.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || copy_limited(c2, s2, u64::MAX, false));
                std::thread::spawn(move || copy_limited(server, client, limit, stall));
            }
        });
        CuttingProxy { port, closed }
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn copy_limited(mut from: TcpStream, mut to: TcpStream, limit: u64, stall: bool) {
    let mut buf = vec![0u8; 64 << 10];
    let mut sent = 0u64;
    while sent < limit {
        let want = buf.len().min((limit - sent) as usize);
        match from.read(&mut buf[..want]) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
                sent += n as u64;
            }
        }
    }
    if stall {
        // Hold both ends open until the client goes away.
        let _ = to.read(&mut buf);
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
