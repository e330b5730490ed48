//! `camctl emulate`: run a camera emulator in the foreground.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use camctl_core::{Error, Result};

use crate::cli::{EmulateOptions, EmulatedProtocol, PtpipPersonality};

/// Binds, prints `listening URL` (flushed) once ready, serves until SIGINT or SIGTERM.
pub async fn run(protocol: EmulatedProtocol, options: EmulateOptions) -> Result<()> {
    let listen =
        options.listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], protocol.default_port())));
    let media = options.media.clone().unwrap_or_else(|| PathBuf::from("camctl-media"));
    // Before "listening" is printed: a script may send SIGTERM as soon as it reads that line.
    let stop = crate::signal::stop_signal()?;
    let shutter_signal = crate::signal::ShutterSignal::install()?;
    let bind_error = |e| Error::io(format!("listening on {listen}"), e);
    // A secondary port follows the command port: the camera's real one next to its real command port,
    // a free one otherwise (so `--listen 127.0.0.1:0` needs nothing else).
    let companion = |explicit: Option<u16>, real: u16| {
        explicit.unwrap_or(if listen.port() == protocol.default_port() { real } else { 0 })
    };
    match protocol {
        EmulatedProtocol::Ptpip => {
            use camctl_ptpip::emulator::{DataInMode, Emulator, EmulatorConfig, Personality};
            let personality = match options.personality {
                PtpipPersonality::Generic => Personality::Generic,
                PtpipPersonality::CanonEos => Personality::CanonEos,
                PtpipPersonality::Nikon => Personality::Nikon,
            };
            let mut config = EmulatorConfig {
                media_dir: media,
                ignore_partial_offset: options.ignore_partial_offset,
                deny_transfer: options.deny_transfer,
                allowed_guids: options.allow_guids.clone(),
                max_connections: options.max_connections,
                idle_timeout: Duration::from_secs(options.idle_timeout),
                ..EmulatorConfig::for_personality(personality)
            };
            if let Some(size) = options.chunk_size {
                if size == 0 {
                    return Err(Error::InvalidValue("--chunk-size must be positive".into()));
                }
                config.data_in = DataInMode::Chunked { size };
            }
            let serial = config.serial.clone();
            let emulator = Emulator::bind(listen, config).await.map_err(bind_error)?;
            // Like the Lytro emulator: `_ptp._tcp` only on the interface owning the listen address,
            // never on loopback.
            let _mdns = match camctl_core::discovery::announce_scope(listen.ip(), !options.no_mdns, false) {
                Some(scope) => {
                    let records = camctl_core::discovery::ServiceRecords::new(
                        "_ptp._tcp",
                        &format!("camctl-ptpip-{serial}"),
                        listen.ip(),
                        emulator.local_addr().port(),
                    );
                    Some(camctl_core::discovery::announce(&records, scope)?)
                }
                None => None,
            };
            let shutter = emulator.shutter();
            let presses = shutter_signal.on_press(|| {
                let shutter = shutter.clone();
                async move {
                    match shutter.press().await {
                        Ok(handle) => tracing::info!("picture taken on the body: object 0x{handle:08x}"),
                        Err(e) => tracing::warn!("the body's shutter failed: {e}"),
                    }
                }
            });
            announce(&emulator.url())?;
            serve_until_signal(with_shutter(emulator.serve(), presses), stop).await
        }
        EmulatedProtocol::Yi => {
            use camctl_ambarella::emulator::{Emulator, EmulatorConfig};
            let config = EmulatorConfig {
                media_dir: media,
                data_port: companion(options.data_port, camctl_ambarella::DEFAULT_DATA_PORT),
                // The live view's RTSP port follows like the data port: 554 next to 7878, else free.
                rtsp_port: companion(options.rtsp_port, camctl_core::rtsp::DEFAULT_RTSP_PORT),
                max_connections: options.max_connections,
                idle_timeout: Duration::from_secs(options.idle_timeout),
                max_upload: options.max_upload,
                usb_power: options.usb_power,
                ..EmulatorConfig::default()
            };
            let emulator = Emulator::bind(listen, config).await.map_err(bind_error)?;
            let shutter = emulator.shutter();
            let presses = shutter_signal.on_press(|| {
                let shutter = shutter.clone();
                async move {
                    match shutter.press().await {
                        Ok(path) => tracing::info!("photo taken on the body: {path}"),
                        Err(e) => tracing::warn!("the body's shutter failed: {e}"),
                    }
                }
            });
            announce(&emulator.url())?;
            serve_until_signal(with_shutter(emulator.serve(), presses), stop).await
        }
        EmulatedProtocol::Wyze => {
            use camctl_wyze::tutk::{Firmware, ServerConfig, TutkServer};
            let mut config = ServerConfig::new(&options.uid, &options.enr, &options.mac);
            config.firmware = match Firmware::parse(&options.firmware) {
                Some(Firmware::Auto) | None => {
                    return Err(Error::InvalidValue(format!(
                        "--firmware {} (use old or cc51)",
                        options.firmware
                    )));
                }
                Some(f) => f,
            };
            config.max_sessions = options.max_sessions.max(1);
            // LAN search is a broadcast: listen on the listen interface's broadcast address too.
            config.lan_search_addr = crate::discover::broadcast_of(listen.ip()).map(Into::into);
            config.emulator.pacing =
                if options.unpaced { camctl_wyze::Pacing::Unpaced } else { camctl_wyze::Pacing::RealTime };
            let server = TutkServer::bind(listen, config).await.map_err(bind_error)?;
            // No files over TUTK: the button is pressed in vain, but never kills the camera.
            let presses = shutter_signal.on_press(|| async {
                tracing::warn!("SIGUSR1: a Wyze camera keeps no files to announce; ignored");
            });
            announce(&server.url().map_err(|e| Error::io("reading the bound address", e))?)?;
            serve_until_signal(with_shutter(server.serve(), presses), stop).await
        }
        EmulatedProtocol::Lytro => {
            use camctl_lytro::emulator::{Emulator, EmulatorConfig};
            let config = EmulatorConfig {
                media_dir: media,
                download_port: companion(options.download_port, camctl_lytro::DEFAULT_DOWNLOAD_PORT),
                callback_port: companion(options.callback_port, camctl_lytro::DEFAULT_CALLBACK_PORT),
                idle_power_off: Duration::from_secs(options.idle_power_off),
                mdns: !options.no_mdns,
                max_connections: options.max_connections,
                idle_timeout: Duration::from_secs(options.idle_timeout),
                ..EmulatorConfig::default()
            };
            let emulator = Emulator::bind(listen, config).await.map_err(bind_error)?;
            let shutter = emulator.shutter();
            let presses = shutter_signal.on_press(|| {
                let shutter = shutter.clone();
                async move { shutter.press().await }
            });
            announce(&emulator.url())?;
            serve_until_signal(
                with_shutter(
                    async {
                        emulator.serve().await?;
                        // Powered off after idling: like the real camera, stay silent until stopped.
                        tracing::warn!("camera powered off after idling; waiting for SIGINT/SIGTERM");
                        std::future::pending::<std::io::Result<()>>().await
                    },
                    presses,
                ),
                stop,
            )
            .await
        }
    }
}

/// Serves while the shutter presses are handled beside it.
async fn with_shutter(
    serve: impl Future<Output = std::io::Result<()>>,
    presses: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::select! {
        served = serve => served,
        () = presses => Ok(()),
    }
}

async fn serve_until_signal(
    serve: impl Future<Output = std::io::Result<()>>,
    stop: impl Future<Output = ()>,
) -> Result<()> {
    tokio::select! {
        served = serve => served.map_err(|e| Error::io("serving", e)),
        () = stop => {
            tracing::info!("shutting down");
            Ok(())
        }
    }
}

/// The one line on stdout that tells scripts the emulator is ready.
fn announce(url: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening {url}").and_then(|_| out.flush()).map_err(|e| Error::io("writing to stdout", e))
}
