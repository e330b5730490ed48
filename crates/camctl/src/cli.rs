//! The command line (see DESIGN.md for the contract).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Control and emulate Wi-Fi cameras: PTP/IP (Canon, Nikon, Sony, Fuji, Ricoh...), the Ambarella remote
/// API (Xiaomi Yi, YI 4K, SJCAM) and the Lytro light-field camera.
///
/// Cameras are addressed by URL: ptpip://HOST[:PORT] (port 15740), yi://HOST[:PORT][?data_port=N]
/// (alias ambarella://; ports 7878 and 8787), lytro://HOST[:PORT][?callback_port=N&download_port=N]
/// (ports 5678, 5679 and 5677), wyze://HOST[:PORT]?uid=..&enr=..&mac=.. (UDP 32761).
#[derive(Parser, Debug)]
#[command(name = "camctl", version, about, long_about = None)]
pub struct Cli {
    /// More log detail on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// Shown after the help of every command that takes a camera URL.
const SERVE_HELP: &str = "\
Example config (serve.toml):
  listen = \"127.0.0.1:8380\"
  [auth]                      # required on any address but loopback
  token = \"a-long-random-token\"
  [cameras.studio]
  url = \"ptpip://192.0.2.10\"
  import = \"/home/me/Pictures/studio\"
  [cameras.yard]
  url = \"wyze://192.0.2.20?uid=...&enr=...&mac=...\"

API: /api/cameras, /api/openapi.json; UI: http://HOST:PORT/; RTSP: rtsp://HOST:8554/NAME";

const URL_HELP: &str = "\
Camera URLs (default ports are the cameras' own; options after '?', joined with '&'):
  ptpip://HOST[:PORT]      PTP/IP, TCP 15740          options: timeout=SECS, floor=BYTES/SECS,
                                                      dialect=generic|canon|nikon (default: detected)
  yi://HOST[:PORT]         Xiaomi Yi / Ambarella, TCP 7878 and data port 8787 (alias ambarella://)
                                                      options: data_port=N, verify=0|1, timeout=SECS,
                                                      floor=BYTES/SECS, rtsp_port=N (live view, 554),
                                                      rtsp_transport=tcp|udp
  lytro://HOST[:PORT]      Lytro, TCP 5678, downloads 5679, events 5677
                                                      options: download_port=N, callback_port=N,
                                                      formats=jpeg,raw,txt,thumb,stack, keepalive=SECS,
                                                      pipeline=N, timeout=SECS, floor=BYTES/SECS
  wyze://HOST[:PORT]       Wyze (TUTK), UDP 32761     options: uid=UID, enr=ENR, mac=MAC (required),
                                                      model=M, firmware=auto|old|cc51, dtls=true|false,
                                                      resolution=1080p|720p|360p|2k, subtype=hd|sd,
                                                      audio=true|false, timeout=SECS
floor: a transfer fails when fewer than BYTES arrive in SECS (default 1024/20; 0 = off).
Unknown options are refused. Examples:
  camctl info ptpip://192.168.1.1
  camctl pull 'yi://192.168.42.1?verify=0' ~/Videos/yi
  camctl live 'wyze://192.168.1.50?uid=ABCDEFGHJKLMNPQRS111&enr=xxxxxxxxxxxxxxxx&mac=2CAA8E123456' --out cam.h264";

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Model, manufacturer, serial, firmware, battery.
    #[command(after_help = URL_HELP)]
    Info {
        /// Camera URL, e.g. ptpip://192.168.1.1
        url: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the media on the camera.
    #[command(after_help = URL_HELP)]
    Ls {
        /// Camera URL.
        url: String,
        /// Print a JSON array of {path, size, date}.
        #[arg(long)]
        json: bool,
    },
    /// Download into DIR every file DIR does not have yet (mirrors the camera's folders).
    #[command(after_help = URL_HELP)]
    Pull {
        /// Camera URL.
        url: String,
        /// Target folder (created if missing).
        dir: PathBuf,
        /// Lytro: picture formats to fetch (jpeg, raw, txt, thumb, stack); default jpeg.
        #[arg(long, value_delimiter = ',', value_name = "FORMATS")]
        format: Vec<String>,
        /// Lytro: fetch every format of every picture.
        #[arg(long, conflicts_with = "format")]
        all_formats: bool,
        /// Skip every file the import catalog has, even when its local copy was moved or renamed.
        #[arg(long)]
        new: bool,
        /// Local names from gphoto2's codes: %f name, %C suffix, %F camera folder, %Y %y %m %d %H %M %S
        /// capture time, %n or %03n sequence number, %% percent; '/' makes folders.
        #[arg(long, value_name = "TEMPLATE")]
        filename: Option<String>,
        /// The import catalog (default: $CAMCTL_CATALOG, else $XDG_DATA_HOME/camctl/catalog.db).
        #[arg(long, value_name = "PATH")]
        catalog: Option<PathBuf>,
        /// Record nothing and compute no SHA-256 (what is already in DIR still counts as there).
        #[arg(long, conflicts_with_all = ["new", "catalog"])]
        no_catalog: bool,
        /// Print one JSON object per file (camera_path, local_path, bytes, status, note, error).
        #[arg(long)]
        json: bool,
    },
    /// Tethered import: fetch what the catalog has not seen, then every new file as the camera reports
    /// it (a shot on the body, a finished recording); reconnects when the camera comes back.
    #[command(after_help = URL_HELP)]
    Watch {
        /// Camera URL and target folder (created if missing); with --discover the folder only.
        #[arg(required = true, num_args = 1..=2, value_names = ["URL", "DIR"])]
        targets: Vec<String>,
        /// Wait for a camera to announce itself (mDNS _lytro._tcp, _ptp._tcp), preferring one already
        /// in the catalog, and watch it; after it goes away, wait for one again.
        #[arg(long)]
        discover: bool,
        /// With --discover: browse only on the interface owning this address (repeatable).
        #[arg(long = "interface", value_name = "ADDR", requires = "discover")]
        interfaces: Vec<IpAddr>,
        /// Local names from gphoto2's codes (see `pull --help`).
        #[arg(long, value_name = "TEMPLATE")]
        filename: Option<String>,
        /// Run this script for each step (ACTION=init|start|download|stop, ARGUMENT=local file,
        /// CAMCTL_URL, CAMCTL_CAMERA_PATH), one run at a time.
        #[arg(long, value_name = "PATH")]
        hook_script: Option<PathBuf>,
        /// Delete the camera's copy once the local file is complete, on disk and in the catalog.
        #[arg(long)]
        delete_after: bool,
        /// Print one JSON object per imported file (camera_path, local_path, size, capture_time).
        #[arg(long)]
        json: bool,
        /// Stop after this many imported files.
        #[arg(long)]
        count: Option<u64>,
        /// Stop after this many seconds.
        #[arg(long = "for", value_name = "SECS")]
        duration: Option<f64>,
        /// The import catalog (default: $CAMCTL_CATALOG, else $XDG_DATA_HOME/camctl/catalog.db).
        #[arg(long, value_name = "PATH")]
        catalog: Option<PathBuf>,
    },
    /// Inspect or reset the import catalog (what pull has imported, from which camera, to where).
    Catalog {
        #[command(subcommand)]
        action: CatalogAction,
        /// The import catalog (default: $CAMCTL_CATALOG, else $XDG_DATA_HOME/camctl/catalog.db).
        #[arg(long, value_name = "PATH", global = true)]
        catalog: Option<PathBuf>,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Take a picture and print the files it produced.
    #[command(after_help = URL_HELP)]
    Capture {
        /// Camera URL.
        url: String,
        /// Also download the new files into this folder (each shot as it comes).
        #[arg(long, value_name = "DIR")]
        download: Option<PathBuf>,
        /// Local names for --download from gphoto2's codes (see `pull --help`).
        #[arg(long, value_name = "TEMPLATE", requires = "download")]
        filename: Option<String>,
        /// Time-lapse: this many seconds from one shot's start to the next's (gphoto2's -I).
        #[arg(long, value_name = "SECS", requires = "frames")]
        interval: Option<f64>,
        /// Time-lapse: this many shots (gphoto2's -F).
        #[arg(long, value_name = "N")]
        frames: Option<u64>,
        /// The import catalog for --download (default: $CAMCTL_CATALOG, else
        /// $XDG_DATA_HOME/camctl/catalog.db).
        #[arg(long, value_name = "PATH")]
        catalog: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Download the given camera files (paths as `ls` shows them).
    #[command(after_help = URL_HELP)]
    Get {
        /// Camera URL.
        url: String,
        /// Camera paths.
        #[arg(required = true)]
        camera_paths: Vec<String>,
        /// Target folder (default: the current one).
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
        /// Local names from gphoto2's codes (see `pull --help`).
        #[arg(long, value_name = "TEMPLATE")]
        filename: Option<String>,
        /// The import catalog (default: $CAMCTL_CATALOG, else $XDG_DATA_HOME/camctl/catalog.db).
        #[arg(long, value_name = "PATH")]
        catalog: Option<PathBuf>,
        /// Print one JSON object per file.
        #[arg(long)]
        json: bool,
    },
    /// Delete files on the camera (asks first on a terminal).
    #[command(after_help = URL_HELP)]
    Rm {
        /// Camera URL.
        url: String,
        /// Camera paths.
        #[arg(required = true)]
        camera_paths: Vec<String>,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
    },
    /// List, read or change camera settings.
    #[command(after_help = URL_HELP)]
    Config {
        /// Camera URL.
        url: String,
        #[command(subcommand)]
        action: ConfigAction,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// List, add or delete the Wi-Fi profiles a Nikon camera keeps (networks it joins).
    #[command(name = "wifi-profile", after_help = URL_HELP)]
    WifiProfile {
        /// Camera URL (ptpip://, a Nikon body).
        url: String,
        #[command(subcommand)]
        action: WifiAction,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Print events as the camera sends them.
    #[command(after_help = URL_HELP)]
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
    /// Start or stop video recording (Yi), or show how long it has been recording.
    #[command(after_help = URL_HELP)]
    Record {
        /// Camera URL.
        url: String,
        #[command(subcommand)]
        action: RecordAction,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Start or stop the live preview (Yi); start prints the RTSP URL to open in a player.
    #[command(after_help = URL_HELP)]
    Preview {
        /// Camera URL.
        url: String,
        #[command(subcommand)]
        action: PreviewAction,
    },
    /// Write the live video to FILE or stdout: Annex-B H.264/H.265 or Matroska with audio for .mkv (Wyze),
    /// H.264 over RTSP (Yi, the preview is started and stopped), MJPEG (PTP/IP). One summary line on
    /// stderr for every family.
    #[command(after_help = URL_HELP)]
    Live {
        /// Camera URL.
        url: String,
        /// Output file, or - for stdout (e.g. `| ffplay -`).
        #[arg(long, value_name = "FILE")]
        out: String,
        /// Stop after this many seconds (default: until interrupted).
        #[arg(long = "for", value_name = "SECS")]
        duration: Option<f64>,
        /// Stop after this many video frames (`--frames 1 --out x.jpg` takes one PTP/IP picture).
        #[arg(long, value_name = "N")]
        frames: Option<u64>,
        /// Wyze container: `annexb` (video only) or `mkv` (Matroska, video and audio). Default: `mkv` for
        /// an --out ending in .mkv, else `annexb`.
        #[arg(long, value_name = "FORMAT", value_parser = ["annexb", "mkv"])]
        format: Option<String>,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Find cameras on the local network (mDNS: _lytro._tcp, _ptp._tcp; TUTK LAN search for a Wyze UID)
    /// and print ready-to-use URLs.
    Discover {
        /// How long to listen, in seconds.
        #[arg(long, default_value_t = 3.0, value_name = "SECS")]
        timeout: f64,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
        /// Browse only on the interface owning this address (repeatable); default: every interface
        /// with an IPv4 address except loopback.
        #[arg(long = "interface", value_name = "ADDR")]
        interfaces: Vec<IpAddr>,
        /// Also run a TUTK LAN search (broadcast) for the Wyze camera with this UID (OLD firmware
        /// answers it); needs --wyze-enr and --wyze-mac too.
        #[arg(long, value_name = "UID", requires_all = ["wyze_enr", "wyze_mac"])]
        wyze_uid: Option<String>,
        /// The Wyze camera's ENR, for the LAN search's AuthKey.
        #[arg(long, value_name = "ENR")]
        wyze_enr: Option<String>,
        /// The Wyze camera's MAC, for the LAN search's AuthKey.
        #[arg(long, value_name = "MAC")]
        wyze_mac: Option<String>,
    },
    /// A gateway for every camera: JSON API, web UI, RTSP out and auto-import, until SIGINT/SIGTERM;
    /// prints "serving http://HOST:PORT" when ready.
    #[command(after_help = SERVE_HELP)]
    Serve {
        /// Cameras as NAME=URL (beside or instead of --config).
        #[arg(value_name = "NAME=URL")]
        cameras: Vec<String>,
        /// A TOML file: listen, rtsp_listen, catalog, [auth] token/user/password, [cameras.NAME] url,
        /// import, filename.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Auto-import NAME's new files into DIR (repeatable).
        #[arg(long = "import", value_name = "NAME=DIR")]
        imports: Vec<String>,
        /// HTTP address (default 127.0.0.1:8380). Any address but loopback needs [auth] credentials.
        #[arg(long, value_name = "HOST:PORT")]
        listen: Option<std::net::SocketAddr>,
        /// RTSP address (default 127.0.0.1:8554).
        #[arg(long, value_name = "HOST:PORT")]
        rtsp_listen: Option<std::net::SocketAddr>,
        /// The import catalog (default: $CAMCTL_CATALOG, else $XDG_DATA_HOME/camctl/catalog.db).
        #[arg(long, value_name = "PATH")]
        catalog: Option<PathBuf>,
    },
    /// Run a camera emulator until SIGINT/SIGTERM; prints "listening URL" when ready.
    Emulate {
        /// Which camera to emulate.
        protocol: EmulatedProtocol,
        #[command(flatten)]
        options: EmulateOptions,
    },
    /// Start built-in emulators and tour them with the client; exit 0 only if everything worked.
    Demo,
    /// Benchmarks for developers: throughput and peak memory against the built-in emulators.
    Bench {
        /// Which protocol to benchmark (`serve`: the gateway's RTSP fan-out).
        protocol: BenchTarget,
        /// Size of the object to transfer, in MiB.
        #[arg(long, default_value_t = 512)]
        size_mib: u64,
        /// Runs per client; the best is reported.
        #[arg(long, default_value_t = 2)]
        runs: u32,
        /// Wyze: seconds of live video to receive (default 60); serve: seconds the viewers watch (default 30).
        #[arg(long)]
        seconds: Option<u64>,
        /// serve: RTSP viewers of the one camera.
        #[arg(long, default_value_t = 20)]
        viewers: usize,
        /// Wyze: the emulator paces frames in real time (15 fps) instead of as fast as possible.
        #[arg(long)]
        realtime: bool,
        /// Wyze: put a lossy relay between client and emulator that drops PERCENT of the datagrams each
        /// way (seeded, so runs compare); frames sent, received complete and lost are reported.
        #[arg(long, value_name = "PERCENT", value_parser = parse_loss)]
        loss: Option<f64>,
        /// Wyze: ask for the TUTK resend mode (`resend=1`): lost packets are asked for again.
        #[arg(long)]
        resend: bool,
        /// PTP/IP: also pull this many files of 20 KB (camctl against gphoto2).
        #[arg(long, default_value_t = 0, value_name = "N")]
        small_files: usize,
    },
}

#[derive(Subcommand, Debug)]
pub enum CatalogAction {
    /// The imported files, oldest first: time, size, camera, camera path, local path.
    List {
        /// Only this camera's (its serial, or protocol:maker:model:serial).
        #[arg(long)]
        camera: Option<String>,
    },
    /// Forget imports, so that `pull --new` fetches those files again.
    Forget {
        /// Only this camera's (its serial, or protocol:maker:model:serial).
        #[arg(long)]
        camera: Option<String>,
        /// Forget every record (of --camera, or of every camera).
        #[arg(long, conflicts_with = "camera_paths")]
        all: bool,
        /// Only these camera paths.
        camera_paths: Vec<String>,
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

#[derive(Subcommand, Debug)]
pub enum WifiAction {
    /// The profile slots: id, name, SSID, dates.
    List,
    /// Write a profile into the first free slot.
    Add {
        /// Profile name (at most 16 bytes).
        name: String,
        /// Network name (at most 32 bytes).
        #[arg(long)]
        ssid: String,
        /// Network key: WEP as hex (10 or 26 digits, ':' allowed), WPA-PSK as the passphrase.
        #[arg(long)]
        key: Option<String>,
        /// Authentication: open, shared, wpa-psk (wpa and wpa2 mean wpa-psk, the profile's only WPA
        /// mode). Default: open without a key, wpa-psk with a non-hex key, shared with a WEP key.
        #[arg(long)]
        auth: Option<String>,
        /// Encryption: none, wep64, wep128, tkip. Default: from the key (WEP length, or tkip for WPA).
        #[arg(long)]
        encryption: Option<String>,
        /// Fixed IPv4 address for the camera (default: DHCP).
        #[arg(long, value_name = "ADDR")]
        ip: Option<std::net::Ipv4Addr>,
        /// Netmask with --ip (default 255.255.255.0).
        #[arg(long, value_name = "MASK", requires = "ip")]
        netmask: Option<std::net::Ipv4Addr>,
        /// Gateway with --ip.
        #[arg(long, value_name = "ADDR", requires = "ip")]
        gateway: Option<std::net::Ipv4Addr>,
        /// Wi-Fi channel (0 = any).
        #[arg(long, default_value_t = 0)]
        channel: u8,
        /// An ad-hoc network instead of an access point.
        #[arg(long)]
        ad_hoc: bool,
        /// Show the key in the confirmation (hidden by default).
        #[arg(long)]
        show_key: bool,
    },
    /// Delete the profile in slot ID (see `list`).
    Delete {
        /// Slot id.
        id: u8,
    },
}

#[derive(Subcommand, Debug)]
pub enum RecordAction {
    /// Start recording.
    Start,
    /// Stop recording and print the new video file.
    Stop,
    /// Seconds recorded so far (nothing when idle).
    Status,
}

#[derive(Subcommand, Debug)]
pub enum PreviewAction {
    /// Start the preview and print its RTSP URL.
    Start,
    /// Stop the preview.
    Stop,
}

/// A PTP/IP initiator GUID: 32 hex digits (dashes allowed) or 16 characters taken as bytes.
fn parse_guid(s: &str) -> Result<[u8; 16], String> {
    let hex: String = s.chars().filter(|&c| c != '-').collect();
    if hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        let mut g = [0u8; 16];
        for (i, b) in g.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
        }
        return Ok(g);
    }
    <[u8; 16]>::try_from(s.as_bytes()).map_err(|_| "use 32 hex digits or 16 characters".to_string())
}

/// Options of `camctl emulate`; each protocol uses the ones that apply to it.
#[derive(clap::Args, Debug, Default)]
pub struct EmulateOptions {
    /// Address to listen on (default 127.0.0.1 and the camera's real port); port 0 picks free ports for
    /// every port the protocol needs, and the printed URL carries them all.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Folder whose files the camera serves (sample media are generated if it is empty).
    #[arg(long)]
    pub media: Option<PathBuf>,
    /// PTP/IP: which camera family to impersonate (its DeviceInfo and vendor operations).
    #[arg(long, value_enum, default_value_t = PtpipPersonality::Generic)]
    pub personality: PtpipPersonality,
    /// PTP/IP: send data phases as Data packets of this many bytes instead of one End_Data.
    #[arg(long, value_name = "BYTES")]
    pub chunk_size: Option<usize>,
    /// PTP/IP, Yi, Lytro: connections served at once; more are closed at once.
    #[arg(long, default_value_t = camctl_core::serve::DEFAULT_MAX_CONNECTIONS, value_name = "N")]
    pub max_connections: usize,
    /// PTP/IP, Yi, Lytro: close a connection after this many seconds without a request (0 = never).
    #[arg(long, default_value_t = camctl_core::serve::DEFAULT_IDLE_TIMEOUT.as_secs(), value_name = "SECS")]
    pub idle_timeout: u64,
    /// Yi: largest upload accepted, in bytes (uploads also need that much free space).
    #[arg(long, default_value_t = camctl_ambarella::emulator::DEFAULT_MAX_UPLOAD, value_name = "BYTES")]
    pub max_upload: u64,
    /// Yi: run on USB power (battery queries answer `adapter` instead of `battery`).
    #[arg(long)]
    pub usb_power: bool,
    /// PTP/IP: behave like a clone firmware that ignores GetPartialObject's offset and always sends
    /// the object from its first byte (to test clients against it).
    #[arg(long)]
    pub ignore_partial_offset: bool,
    /// PTP/IP: behave like a body whose transfer setting is off: listing and downloading answer
    /// AccessDenied (what Nikon Z bodies do until the user allows transfer).
    #[arg(long)]
    pub deny_transfer: bool,
    /// PTP/IP: accept only this initiator GUID (repeatable; 32 hex digits, dashes allowed, or 16
    /// characters such as camctl's `camctl-initiator`); others get Init_Fail, like an unpaired computer.
    #[arg(long = "allow-guid", value_name = "GUID", value_parser = parse_guid)]
    pub allow_guids: Vec<[u8; 16]>,
    /// Yi: data (file transfer) port; default 8787 with the real command port, else a free port.
    #[arg(long, value_name = "PORT")]
    pub data_port: Option<u16>,
    /// Yi: RTSP live-view port; default 554 with the real command port, else a free port.
    #[arg(long, value_name = "PORT")]
    pub rtsp_port: Option<u16>,
    /// Lytro: second command (download) port; default 5679 with the real command port, else free.
    #[arg(long, value_name = "PORT")]
    pub download_port: Option<u16>,
    /// Lytro: callback (event) port; default 5677 with the real command port, else free.
    #[arg(long, value_name = "PORT")]
    pub callback_port: Option<u16>,
    /// Lytro: power off after this many seconds without use (0 = never).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub idle_power_off: u64,
    /// Lytro, PTP/IP: do not announce the camera over mDNS (it never announces on loopback).
    #[arg(long)]
    pub no_mdns: bool,
    /// Wyze: the camera's 20-character UID.
    #[arg(long, default_value = "CAMCTLEMULATOR000001")]
    pub uid: String,
    /// Wyze: the camera's ENR (16 or 32 characters).
    #[arg(long, default_value = "camctlEmu/Enr+16")]
    pub enr: String,
    /// Wyze: the camera's MAC (12 hex digits).
    #[arg(long, default_value = "2CAA8E000001")]
    pub mac: String,
    /// Wyze: discovery flavour of the firmware, old (TransCode) or cc51.
    #[arg(long, default_value = "cc51")]
    pub firmware: String,
    /// Wyze: sessions served at once; more clients get no answer.
    #[arg(long, default_value_t = 2)]
    pub max_sessions: usize,
    /// Wyze: send video as fast as the client takes it instead of in real time (benchmarks).
    #[arg(long)]
    pub unpaced: bool,
}

/// Camera families `camctl emulate ptpip` can impersonate.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PtpipPersonality {
    /// A generic ISO 15740 camera.
    #[default]
    Generic,
    /// A Canon EOS body (GetEvent polling, RemoteRelease capture, EOS properties, live view).
    CanonEos,
    /// A Nikon body (GetEvent 0x90C7 polling, InitiateCaptureRecInMedia to card or SDRAM, Nikon
    /// properties, live view, Wi-Fi profiles).
    Nikon,
}

impl Command {
    /// Whether the command's output is only a report, which a reader going away may simply cut short
    /// (no file is being written).
    pub fn only_prints(&self) -> bool {
        matches!(
            self,
            Command::Info { .. }
                | Command::Ls { .. }
                | Command::Config { .. }
                | Command::Events { .. }
                | Command::Discover { .. }
                | Command::Catalog { .. }
        )
    }
}

/// What `camctl bench` measures.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchTarget {
    /// PTP/IP transfers.
    Ptpip,
    /// Yi transfers.
    Yi,
    /// Lytro transfers.
    Lytro,
    /// Wyze live video.
    Wyze,
    /// `camctl serve`: one Wyze camera fanned out to RTSP viewers.
    Serve,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmulatedProtocol {
    /// A PTP/IP camera.
    Ptpip,
    /// A Xiaomi Yi action camera (Ambarella remote API).
    Yi,
    /// A first-generation Lytro light-field camera.
    Lytro,
    /// A Wyze camera (TUTK over UDP).
    Wyze,
}

impl EmulatedProtocol {
    /// The camera's real (command) port.
    pub fn default_port(self) -> u16 {
        match self {
            EmulatedProtocol::Ptpip => camctl_ptpip::DEFAULT_PORT,
            EmulatedProtocol::Yi => camctl_ambarella::DEFAULT_PORT,
            EmulatedProtocol::Lytro => camctl_lytro::DEFAULT_COMMAND_PORT,
            EmulatedProtocol::Wyze => camctl_wyze::DEFAULT_PORT,
        }
    }
}

/// `--loss`: a percentage from 0 to 100.
fn parse_loss(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("{s} is not a percentage from 0 to 100")),
    }
}
