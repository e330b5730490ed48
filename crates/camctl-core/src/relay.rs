//! A lossy UDP relay for tests and benchmarks: one client on one side, one server on the other, on
//! loopback only. It drops a configurable share of datagrams in each direction and can hold some back
//! (so that they arrive after later ones). Decisions come from a seeded generator: the same seed and
//! the same traffic give the same losses.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use camctl_core::relay::{Relay, RelayConfig};
//! let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
//! let relay = Relay::start(server.local_addr().unwrap(), RelayConfig::lossy(0.0, 1)).await.unwrap();
//! let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
//! client.send_to(b"ping", relay.local_addr()).await.unwrap();
//! let mut buf = [0u8; 16];
//! let (n, _) = server.recv_from(&mut buf).await.unwrap();
//! assert_eq!(&buf[..n], b"ping");
//! # });
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Which way a datagram travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    ToServer,
    /// Server to client.
    ToClient,
}

/// A datagram the relay forwarded (or is about to), as handed to a [`RelayConfig::tap`].
pub type Tapped = (Direction, Vec<u8>);

/// How the relay treats datagrams.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Share of datagrams dropped in each direction, in percent (0 to 100).
    pub loss_percent: f64,
    /// Share of the datagrams not dropped that are held back for [`RelayConfig::delay`], in percent.
    pub delay_percent: f64,
    /// How long held-back datagrams wait.
    pub delay: Duration,
    /// Seed of the loss and delay decisions.
    pub seed: u64,
    /// Receives a copy of every datagram that is forwarded (not of dropped ones); a full channel
    /// loses copies, never datagrams.
    pub tap: Option<mpsc::Sender<Tapped>>,
}

impl RelayConfig {
    /// `loss_percent` loss in each direction, no delay.
    pub fn lossy(loss_percent: f64, seed: u64) -> Self {
        RelayConfig { loss_percent, delay_percent: 0.0, delay: Duration::ZERO, seed, tap: None }
    }
}

/// Counters of a running relay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Datagrams forwarded client to server.
    pub to_server: u64,
    /// Datagrams forwarded server to client.
    pub to_client: u64,
    /// Datagrams dropped client to server.
    pub dropped_to_server: u64,
    /// Datagrams dropped server to client.
    pub dropped_to_client: u64,
    /// Datagrams held back (included in the forwarded counts).
    pub delayed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    to_server: AtomicU64,
    to_client: AtomicU64,
    dropped_to_server: AtomicU64,
    dropped_to_client: AtomicU64,
    delayed: AtomicU64,
    /// Datagrams waiting in delay tasks now (bounded by [`MAX_DELAYED`]).
    waiting: AtomicUsize,
}

/// Held-back datagrams at most at once; beyond it datagrams go through at once (bounded memory).
pub const MAX_DELAYED: usize = 1024;

/// The loss and delay decisions: a seeded generator (the one the sample scenes use).
struct Dice(crate::media::Rng);

impl Dice {
    fn new(seed: u64) -> Self {
        Dice(crate::media::Rng(seed))
    }

    /// True with probability `percent` / 100.
    fn roll(&mut self, percent: f64) -> bool {
        // 53 random bits as a uniform value in [0, 100).
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 100.0 < percent
    }
}

/// A running relay; dropping it stops it.
#[derive(Debug)]
pub struct Relay {
    addr: SocketAddr,
    counters: Arc<Counters>,
    tasks: [JoinHandle<()>; 2],
    front: Arc<UdpSocket>,
    back: Arc<UdpSocket>,
    client: Peer,
    upstream: Peer,
}

impl Drop for Relay {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn loopback_only(addr: SocketAddr) -> std::io::Result<()> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "the relay forwards to loopback only"))
    }
}

impl Relay {
    /// Listens on a free loopback port for one client and forwards to `server` (a loopback address).
    /// Server answers go to the client that sent last; client datagrams go to the server address
    /// that answered last (servers may move a session to another port), `server` until then.
    pub async fn start(server: SocketAddr, config: RelayConfig) -> std::io::Result<Relay> {
        loopback_only(server)?;
        let ip = server.ip();
        let front = Arc::new(UdpSocket::bind(SocketAddr::new(ip, 0)).await?);
        let back = Arc::new(UdpSocket::bind(SocketAddr::new(ip, 0)).await?);
        let addr = front.local_addr()?;
        let counters = Arc::new(Counters::default());
        let client: Peer = Arc::default();
        let upstream: Peer = Arc::new(Mutex::new(Some(server)));
        let to_server = tokio::spawn(forward(
            Leg {
                from: front.clone(),
                to: back.clone(),
                direction: Direction::ToServer,
                learn: client.clone(),
                target: upstream.clone(),
            },
            Dice::new(config.seed),
            config.clone(),
            counters.clone(),
        ));
        let to_client = tokio::spawn(forward(
            Leg {
                from: back.clone(),
                to: front.clone(),
                direction: Direction::ToClient,
                learn: upstream.clone(),
                target: client.clone(),
            },
            Dice::new(config.seed ^ 0x5DEE_CE66_D1CE_5EED),
            config,
            counters.clone(),
        ));
        Ok(Relay { addr, counters, tasks: [to_server, to_client], front, back, client, upstream })
    }

    /// Sends `datagram` as if the client (towards the server) or the server (towards the client) had
    /// sent it, never lost: hostile-peer tests forge traffic inside an established session this way.
    /// Towards a client that has not sent anything yet it is not sent (returns `Ok(false)`).
    pub async fn inject(&self, direction: Direction, datagram: &[u8]) -> std::io::Result<bool> {
        let (sock, to) = match direction {
            Direction::ToServer => (&self.back, get(&self.upstream)),
            Direction::ToClient => (&self.front, get(&self.client)),
        };
        match to {
            Some(to) => sock.send_to(datagram, to).await.map(|_| true),
            None => Ok(false),
        }
    }

    /// Where clients send to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Counters so far.
    pub fn stats(&self) -> RelayStats {
        let c = &self.counters;
        RelayStats {
            to_server: c.to_server.load(Ordering::Relaxed),
            to_client: c.to_client.load(Ordering::Relaxed),
            dropped_to_server: c.dropped_to_server.load(Ordering::Relaxed),
            dropped_to_client: c.dropped_to_client.load(Ordering::Relaxed),
            delayed: c.delayed.load(Ordering::Relaxed),
        }
    }
}

/// One direction: datagrams arriving on `from` leave through `to` towards `target`; their source is
/// remembered in `learn` (the other direction's target).
struct Leg {
    from: Arc<UdpSocket>,
    to: Arc<UdpSocket>,
    direction: Direction,
    learn: Peer,
    target: Peer,
}

/// An address one leg learns and the other sends to (the client is unknown until it sends).
type Peer = Arc<Mutex<Option<SocketAddr>>>;

fn get(p: &Peer) -> Option<SocketAddr> {
    *p.lock().unwrap_or_else(|e| e.into_inner())
}

async fn forward(leg: Leg, mut dice: Dice, config: RelayConfig, counters: Arc<Counters>) {
    let mut buf = vec![0u8; 65536];
    let (sent, dropped) = match leg.direction {
        Direction::ToServer => (&counters.to_server, &counters.dropped_to_server),
        Direction::ToClient => (&counters.to_client, &counters.dropped_to_client),
    };
    while let Ok((n, src)) = leg.from.recv_from(&mut buf).await {
        // Only loopback peers take part (a stray datagram from elsewhere is not relayed anywhere).
        if !src.ip().is_loopback() {
            continue;
        }
        *leg.learn.lock().unwrap_or_else(|e| e.into_inner()) = Some(src);
        let Some(dst) = get(&leg.target) else { continue };
        if dice.roll(config.loss_percent) {
            dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        sent.fetch_add(1, Ordering::Relaxed);
        if let Some(tap) = &config.tap {
            let _ = tap.try_send((leg.direction, buf[..n].to_vec()));
        }
        let hold = dice.roll(config.delay_percent) && !config.delay.is_zero();
        if hold && counters.waiting.load(Ordering::Relaxed) < MAX_DELAYED {
            counters.delayed.fetch_add(1, Ordering::Relaxed);
            counters.waiting.fetch_add(1, Ordering::Relaxed);
            let (to, d, delay, c) = (leg.to.clone(), buf[..n].to_vec(), config.delay, counters.clone());
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = to.send_to(&d, dst).await;
                c.waiting.fetch_sub(1, Ordering::Relaxed);
            });
        } else {
            let _ = leg.to.send_to(&buf[..n], dst).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dice_are_deterministic_and_near_the_asked_rate() {
        let mut a = Dice::new(7);
        let mut b = Dice::new(7);
        let rolls: Vec<bool> = (0..100_000).map(|_| a.roll(2.0)).collect();
        assert!(rolls.iter().all(|r| *r == b.roll(2.0)));
        let hits = rolls.iter().filter(|r| **r).count();
        assert!((1500..2500).contains(&hits), "{hits}");
        assert!(!(0..1000).any(|_| a.roll(0.0)));
        assert!((0..1000).all(|_| a.roll(100.0)));
    }

    #[tokio::test]
    async fn refuses_non_loopback_servers() {
        let e = Relay::start("192.0.2.1:9".parse().unwrap(), RelayConfig::lossy(0.0, 1)).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    }

    #[tokio::test]
    async fn drops_exactly_what_the_seed_says_and_answers_reach_the_client() {
        let seed = 11;
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay::start(server.local_addr().unwrap(), RelayConfig::lossy(30.0, seed)).await.unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        // The relay rolls once per datagram for loss, then once for the delay of the ones it keeps.
        let mut dice = Dice::new(seed);
        let mut expected = Vec::new();
        for i in 0..100u8 {
            if !dice.roll(30.0) {
                dice.roll(0.0);
                expected.push(i);
            }
        }
        assert!(expected.len() > 50 && expected.len() < 90, "{}", expected.len());
        for i in 0..100u8 {
            client.send_to(&[i], relay.local_addr()).await.unwrap();
        }
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        let mut relay_side = None;
        while got.len() < expected.len() {
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!(n, 1);
            got.push(buf[0]);
            relay_side = Some(from);
        }
        assert_eq!(got, expected);
        let s = relay.stats();
        assert_eq!((s.to_server, s.dropped_to_server), (expected.len() as u64, 100 - expected.len() as u64));
        // Answers go back to the client, from the relay's address (some are lost too).
        let relay_side = relay_side.unwrap();
        loop {
            server.send_to(b"pong", relay_side).await.unwrap();
            let wait = tokio::time::timeout(Duration::from_millis(200), client.recv_from(&mut buf)).await;
            if let Ok(Ok((n, from))) = wait {
                assert_eq!((&buf[..n], from), (&b"pong"[..], relay.local_addr()));
                break;
            }
        }
    }
}
