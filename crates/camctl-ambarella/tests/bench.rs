//! Quick throughput checks (not assertions of speed; the lead's bench harness owns the targets).
//!
//! Run in release mode:
//! `cargo test --release -p camctl-ambarella --test bench -- --ignored --nocapture --test-threads 1`

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use camctl_ambarella::client::{Client, ClientConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SIZE: u64 = 512 << 20;

fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb >> 10)
}

fn mb_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

/// Plain TCP copy over loopback with 1 MiB buffers: the reference speed.
async fn plain_copy() -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let buf = vec![7u8; 1 << 20];
        let mut left = SIZE;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            s.write_all(&buf[..n]).await.unwrap();
            left -= n as u64;
        }
    });
    let start = Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0u64;
    while got < SIZE {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0);
        got += n as u64;
    }
    let elapsed = start.elapsed();
    server.await.unwrap();
    elapsed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn download_512_mib_vs_plain_tcp() {
    let emu = common::emulator().await;
    let path = emu.media().join("DCIM/100MEDIA/YDXJ0999.mp4");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let block = common::pseudo_random(1 << 20, 5);
        for _ in 0..(SIZE >> 20) {
            f.write_all(&block).unwrap();
        }
        f.flush().unwrap();
    }
    // The machine may be shared: alternate the two measurements and keep the best of each.
    let mut plain = Duration::MAX;
    let mut runs = Vec::new();
    for verify in [true, false, false, false, true] {
        plain = plain.min(plain_copy().await);
        let config = ClientConfig { verify_md5: verify, ..ClientConfig::default() };
        let mut c = Client::connect(&emu.addr, &emu.data_addr, config).await.unwrap();
        let start = Instant::now();
        let done =
            c.download("/tmp/fuse_d/DCIM/100MEDIA/YDXJ0999.mp4", 0, &mut tokio::io::sink()).await.unwrap();
        runs.push((verify, start.elapsed()));
        assert_eq!((done.bytes, done.verified), (SIZE, verify));
        c.close().await.unwrap();
    }
    println!("plain TCP copy (best):     {:8.0} MB/s", mb_s(SIZE, plain));
    for (i, (verify, t)) in runs.iter().enumerate() {
        let note = if i == 0 { " (first: the emulator hashes the file too)" } else { "" };
        println!(
            "emulator download verify_md5={verify:5}: {:6.0} MB/s = {:3.0}% of plain TCP{note}",
            mb_s(SIZE, *t),
            100.0 * plain.as_secs_f64() / t.as_secs_f64()
        );
    }
    println!("peak RSS of the whole test process (emulator included): {} MiB", peak_rss_mib());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn config_get_round_trips() {
    config_gets("multi-thread runtime").await;
}

/// Client and emulator on one thread: no cross-thread wake-ups, so idle-CPU wake-up latency (large on
/// some VMs) does not enter the round trip.
#[tokio::test(flavor = "current_thread")]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn config_get_round_trips_one_thread() {
    config_gets("current-thread runtime").await;
}

async fn config_gets(label: &str) {
    let emu = common::emulator().await;
    let mut c = Client::connect(&emu.addr, &emu.data_addr, ClientConfig::default()).await.unwrap();
    for _ in 0..1000 {
        c.get_setting("video_standard").await.unwrap();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(3) {
        for _ in 0..1000 {
            c.get_setting("video_standard").await.unwrap();
        }
        n += 1000;
    }
    println!("config gets ({label}): {:.0} round trips/s", n as f64 / start.elapsed().as_secs_f64());
    c.close().await.unwrap();
}
