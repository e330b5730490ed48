//! Helpers shared by the integration tests: an emulator on 127.0.0.1 with media in a temp dir, and a raw
//! JSON peer for byte-level checks.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use camctl_ambarella::emulator::{Emulator, EmulatorConfig};
use camctl_ambarella::wire::JsonStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Emu {
    pub url: String,
    pub addr: String,
    pub data_addr: String,
    pub rtsp_addr: String,
    /// The live view's source (on while the preview is).
    pub live: camctl_core::rtsp::LiveSource,
    pub dir: tempfile::TempDir,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Emu {
    pub fn media(&self) -> &Path {
        self.dir.path()
    }
}

pub async fn emulator_with(f: impl FnOnce(&mut EmulatorConfig)) -> Emu {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EmulatorConfig {
        media_dir: dir.path().to_path_buf(),
        data_port: 0,
        rtsp_port: 0,
        ..EmulatorConfig::default()
    };
    f(&mut config);
    let emulator = Emulator::bind(([127, 0, 0, 1], 0).into(), config).await.unwrap();
    let url = emulator.url();
    let addr = emulator.local_addr().to_string();
    let data_addr = emulator.data_addr().to_string();
    let rtsp_addr = emulator.rtsp_addr().to_string();
    let live = emulator.live();
    let task = tokio::spawn(emulator.serve());
    Emu { url, addr, data_addr, rtsp_addr, live, dir, task }
}

pub async fn emulator() -> Emu {
    emulator_with(|_| {}).await
}

#[allow(unused_imports)] // Not every test file uses it.
pub use camctl_core::media::noise as pseudo_random;

/// A raw peer speaking JSON objects on a TCP connection.
pub struct Raw {
    pub stream: TcpStream,
    decoder: JsonStream,
}

impl Raw {
    pub async fn connect(addr: &str) -> Raw {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Raw { stream, decoder: JsonStream::new(1 << 20) }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next object as text, or `None` on timeout / close.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(o) = self.decoder.next_object().unwrap() {
                return Some(String::from_utf8(o.to_vec()).unwrap());
            }
            let mut buf = [0u8; 4096];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
                Ok(Ok(n)) => self.decoder.push(&buf[..n]),
            }
        }
    }

    pub async fn recv(&mut self) -> String {
        self.recv_timeout(Duration::from_secs(5)).await.expect("an object from the peer")
    }

    /// Sends and returns the next object.
    pub async fn ask(&mut self, bytes: &[u8]) -> String {
        self.send(bytes).await;
        self.recv().await
    }

    /// Starts a session; returns the token (skips vf_stop).
    pub async fn session(&mut self) -> i64 {
        self.send(br#"{"msg_id":257,"token":0}"#).await;
        loop {
            let o = self.recv().await;
            let v: serde_json::Value = serde_json::from_str(&o).unwrap();
            if v["msg_id"] == 257 {
                assert_eq!(v["rval"], 0, "{o}");
                return v["param"].as_i64().unwrap();
            }
        }
    }
}
