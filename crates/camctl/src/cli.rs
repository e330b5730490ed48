//! The command line (see DESIGN.md for the contract).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Control and emulate Wi-Fi cameras: PTP/IP (Canon, Nikon, Sony, Fuji, Ricoh...).
///
/// Cameras are addressed by URL: ptpip://HOST[:PORT] (default port 15740).
#[derive(Parser, Debug)]
#[command(name = "camctl", version, about, long_about = None)]
pub struct Cli {
    /// More log detail on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Model, manufacturer, serial, firmware, battery.
    Info {
        /// Camera URL, e.g. ptpip://192.168.1.1
        url: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the media on the camera.
    Ls {
        /// Camera URL.
        url: String,
        /// Print a JSON array of {path, size, date}.
        #[arg(long)]
        json: bool,
    },
    /// Download into DIR every file DIR does not have yet (mirrors the camera's folders).
    Pull {
        /// Camera URL.
        url: String,
        /// Target folder (created if missing).
        dir: PathBuf,
    },
    /// Take a picture and print the files it produced.
    Capture {
        /// Camera URL.
        url: String,
        /// Also download the new files into this folder.
        #[arg(long, value_name = "DIR")]
        download: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List, read or change camera settings.
    Config {
        /// Camera URL.
        url: String,
        #[command(subcommand)]
        action: ConfigAction,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Print events as the camera sends them.
    Events {
        /// Camera URL.
        url: String,
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<u64>,
        /// Stop after this many seconds.
        #[arg(long = "for", value_name = "SECS")]
        duration: Option<f64>,
    },
    /// Run a camera emulator until SIGINT/SIGTERM; prints "listening URL" when ready.
    Emulate {
        /// Which camera to emulate.
        protocol: EmulatedProtocol,
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:15740")]
        listen: SocketAddr,
        /// Folder whose files the camera serves (sample pictures are generated if it is empty).
        #[arg(long)]
        media: Option<PathBuf>,
        /// PTP/IP: send data phases as Data packets of this many bytes instead of one End_Data.
        #[arg(long, value_name = "BYTES")]
        chunk_size: Option<usize>,
    },
    /// Start built-in emulators and tour them with the client; exit 0 only if everything worked.
    Demo,
    /// Benchmarks for developers: throughput and peak memory against the built-in emulators.
    Bench {
        /// Which protocol to benchmark.
        protocol: EmulatedProtocol,
        /// Size of the object to transfer, in MiB.
        #[arg(long, default_value_t = 512)]
        size_mib: u64,
        /// Runs per client; the best is reported.
        #[arg(long, default_value_t = 2)]
        runs: u32,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigAction {
    /// Every setting with its value and allowed values.
    List,
    /// One setting's value.
    Get {
        /// Setting key (see `config list`), e.g. f-number, iso, whitebalance, or a hex code.
        key: String,
    },
    /// Change a setting.
    Set {
        /// Setting key.
        key: String,
        /// New value, as `config list` shows them (f/5.6, 1/125, Daylight, 400...).
        value: String,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmulatedProtocol {
    /// A PTP/IP camera.
    Ptpip,
}
