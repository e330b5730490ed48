//! Pull throughput: a picture set from the emulator through the client, against a plain TCP copy of
//! the same files over loopback.
//!
//! ```text
//! cargo run --release -p camctl-lytro --example pull_bench -- [TOTAL_MIB] [PIPELINE]
//! ```
//! Defaults: 512 MiB as 32 RAW files of 16 MiB, pipeline 1. Traffic stays on 127.0.0.1.

use std::time::{Duration, Instant};

use camctl_lytro::client::{Client, ClientConfig};
use camctl_lytro::emulator::{Emulator, EmulatorConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const FILE_MIB: usize = 16;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let total_mib: usize = args.next().map_or(Ok(512), |a| a.parse())?;
    let pipeline: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let files = (total_mib / FILE_MIB).max(1);
    let mut paths = Vec::new();
    for n in 1..=files {
        let path = dir.path().join(format!("IMG_{n:04}.RAW"));
        let data: Vec<u8> =
            (0..FILE_MIB << 20).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3]).collect();
        std::fs::write(&path, data)?;
        paths.push(path);
    }
    let bytes = (files * FILE_MIB) as f64 * 1024.0 * 1024.0;

    // Baseline: read each file and write it to a TCP socket; the other side reads into a sink.
    let baseline = plain_tcp_copy(&paths).await?;

    let config =
        EmulatorConfig { media_dir: dir.path().to_path_buf(), mdns: false, ..EmulatorConfig::default() };
    let emulator = Emulator::bind(([127, 0, 0, 1], 0).into(), config).await?;
    let client_config = ClientConfig {
        command_port: emulator.local_addr().port(),
        download_port: Some(emulator.download_port()),
        callback_port: emulator.callback_port(),
        pipeline,
        ..ClientConfig::default()
    };
    let server = tokio::spawn(emulator.serve());
    let mut client = Client::connect("127.0.0.1", client_config).await?;
    let list = client.picture_list().await?;
    let started = Instant::now();
    let mut pulled = 0u64;
    for e in &list.entries {
        pulled += client.download_file(&e.camera_path("RAW"), 0, &mut tokio::io::sink()).await?;
    }
    let lytro = started.elapsed();
    assert_eq!(pulled as f64, bytes);
    server.abort();

    let rate = |d: Duration| bytes / d.as_secs_f64() / 1e6;
    println!("set: {files} x {FILE_MIB} MiB, pipeline {pipeline}");
    println!("plain TCP copy: {:>8.1} MB/s ({:?})", rate(baseline), baseline);
    println!("lytro pull:     {:>8.1} MB/s ({:?})", rate(lytro), lytro);
    println!("ratio: {:.0}%", 100.0 * baseline.as_secs_f64() / lytro.as_secs_f64());
    Ok(())
}

async fn plain_tcp_copy(paths: &[std::path::PathBuf]) -> std::io::Result<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let paths = paths.to_vec();
    let sender = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await?;
        s.set_nodelay(true)?;
        let mut buf = vec![0u8; 2 << 20];
        for p in paths {
            let mut f = tokio::fs::File::open(p).await?;
            loop {
                let n = f.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                s.write_all(&buf[..n]).await?;
            }
        }
        Ok::<_, std::io::Error>(())
    });
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).await?;
    // Same buffer size on both sides as the Lytro path (a fair, not a handicapped, baseline).
    let mut buf = vec![0u8; 2 << 20];
    let mut sink = tokio::io::sink();
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        sink.write_all(&buf[..n]).await?;
    }
    let took = started.elapsed();
    sender.await.map_err(std::io::Error::other)??;
    Ok(took)
}
