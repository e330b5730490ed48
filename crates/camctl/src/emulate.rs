//! `camctl emulate`: run a camera emulator in the foreground.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use camctl_core::{Error, Result};
use camctl_ptpip::emulator::{DataInMode, Emulator, EmulatorConfig};

use crate::cli::EmulatedProtocol;

/// Binds, prints `listening URL` (flushed) once ready, serves until SIGINT or SIGTERM.
pub async fn run(
    protocol: EmulatedProtocol,
    listen: SocketAddr,
    media: Option<PathBuf>,
    chunk_size: Option<usize>,
) -> Result<()> {
    match protocol {
        EmulatedProtocol::Ptpip => {
            let mut config = EmulatorConfig {
                media_dir: media.unwrap_or_else(|| PathBuf::from("camctl-media")),
                ..EmulatorConfig::default()
            };
            if let Some(size) = chunk_size {
                if size == 0 {
                    return Err(Error::InvalidValue("--chunk-size must be positive".into()));
                }
                config.data_in = DataInMode::Chunked { size };
            }
            let emulator = Emulator::bind(listen, config)
                .await
                .map_err(|e| Error::io(format!("listening on {listen}"), e))?;
            announce(&emulator.url())?;
            tokio::select! {
                served = emulator.serve() => served.map_err(|e| Error::io("serving", e))?,
                _ = shutdown_signal() => tracing::info!("shutting down"),
            }
        }
    }
    Ok(())
}

/// The one line on stdout that tells scripts the emulator is ready.
fn announce(url: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening {url}").and_then(|_| out.flush()).map_err(|e| Error::io("writing to stdout", e))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
