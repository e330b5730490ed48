//! Shared helpers: an emulator on 127.0.0.1 with free ports, and a client for it.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use camctl_lytro::client::{Client, ClientConfig};
use camctl_lytro::emulator::{Emulator, EmulatorConfig};
use tokio::task::JoinHandle;

/// A running emulator.
pub struct Running {
    pub url: String,
    pub command_port: u16,
    pub download_port: u16,
    pub callback_port: u16,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn config(media: &Path) -> EmulatorConfig {
    EmulatorConfig {
        media_dir: media.to_path_buf(),
        render_delay: Duration::from_millis(20),
        mdns: false,
        ..EmulatorConfig::default()
    }
}

pub async fn start_with(config: EmulatorConfig) -> Running {
    let emulator = Emulator::bind(([127, 0, 0, 1], 0).into(), config).await.unwrap();
    Running {
        url: emulator.url(),
        command_port: emulator.local_addr().port(),
        download_port: emulator.download_port(),
        callback_port: emulator.callback_port(),
        task: tokio::spawn(emulator.serve()),
    }
}

pub async fn start(media: &Path) -> Running {
    start_with(config(media)).await
}

pub fn client_config(emu: &Running) -> ClientConfig {
    ClientConfig {
        command_port: emu.command_port,
        download_port: Some(emu.download_port),
        callback_port: emu.callback_port,
        ..ClientConfig::default()
    }
}

pub async fn client(emu: &Running) -> Client {
    Client::connect("127.0.0.1", client_config(emu)).await.unwrap()
}

#[allow(unused_imports)] // Not every test file uses it.
pub use camctl_core::media::noise as pseudo_random;
