//! `camctl demo`: the main job on its embedded default. Starts each protocol's emulator in-process on
//! a free loopback port with sample media, tours it with the real client over real sockets, and
//! prints a short report. Exits 0 only if every step worked.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use camctl_core::download::DownloadDir;
use camctl_core::{Camera, CameraUrl, Error, Result, SettingForm};
use camctl_ptpip::PtpCamera;

use crate::pull::pull;

/// Outcome of one step.
struct Step {
    name: &'static str,
    outcome: std::result::Result<String, String>,
}

/// Collects step outcomes and prints them as they happen.
#[derive(Default)]
struct Report {
    steps: Vec<Step>,
}

impl Report {
    fn record(&mut self, name: &'static str, outcome: Result<String>) -> bool {
        let outcome = outcome.map_err(|e| e.to_string());
        match &outcome {
            Ok(detail) => println!("  ok    {name:<12} {detail}"),
            Err(e) => println!("  FAIL  {name:<12} {e}"),
        }
        let ok = outcome.is_ok();
        self.steps.push(Step { name, outcome });
        ok
    }

    fn failures(&self) -> Vec<&Step> {
        self.steps.iter().filter(|s| s.outcome.is_err()).collect()
    }
}

/// Runs the demo.
pub async fn run() -> Result<ExitCode> {
    let workdir = tempfile::tempdir().map_err(|e| Error::io("creating a temporary folder", e))?;
    println!("camctl demo: built-in camera emulators, real sockets on 127.0.0.1\n");
    let mut report = Report::default();
    ptpip_tour(workdir.path(), &mut report).await;
    println!();
    eos_tour(workdir.path(), &mut report).await;
    println!();
    nikon_tour(workdir.path(), &mut report).await;
    println!();
    yi_tour(workdir.path(), &mut report).await;
    println!();
    lytro_tour(workdir.path(), &mut report).await;
    println!();
    wyze_tour(&mut report).await;
    println!();
    watch_tour(workdir.path(), &mut report).await;
    println!();
    serve_tour(workdir.path(), &mut report).await;

    let failures = report.failures();
    println!();
    if failures.is_empty() {
        println!("demo passed: all {} steps worked", report.steps.len());
        Ok(ExitCode::SUCCESS)
    } else {
        let names: Vec<&str> = failures.iter().map(|s| s.name).collect();
        println!(
            "demo FAILED: {} of {} steps failed ({})",
            failures.len(),
            report.steps.len(),
            names.join(", ")
        );
        Ok(ExitCode::FAILURE)
    }
}

fn parse_url(url: &str) -> Result<CameraUrl> {
    url.parse().map_err(|e: camctl_core::UrlError| Error::InvalidValue(e.to_string()))
}

/// An emulator task, stopped when dropped.
struct Running(tokio::task::JoinHandle<std::io::Result<()>>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Tethered shooting: `camctl watch` (this very binary, as a user runs it) on a PTP/IP camera whose
/// shutter is pressed on the body twice; each shot arrives under the template's name and a hook script
/// sees it.
async fn watch_tour(workdir: &Path, report: &mut Report) {
    use camctl_ptpip::emulator::{Emulator, EmulatorConfig, Personality};
    use tokio::io::AsyncBufReadExt;
    let media = workdir.join("watch-media");
    let config = EmulatorConfig { media_dir: media, ..EmulatorConfig::for_personality(Personality::Generic) };
    let emulator = match Emulator::bind(([127, 0, 0, 1], 0).into(), config).await {
        Ok(e) => e,
        Err(e) => {
            report.record("emulator", Err(Error::io("starting the PTP/IP emulator", e)));
            return;
        }
    };
    let (url, shutter) = (emulator.url(), emulator.shutter());
    println!("tethered shooting: camctl watch on the PTP/IP camera at {url}");
    let _server = Running(tokio::spawn(emulator.serve()));
    let (target, log) = (workdir.join("watch-imported"), workdir.join("hook.log"));
    let watched = async {
        let script = workdir.join("hook.sh");
        std::fs::write(&script, format!("#!/bin/sh\necho \"$ACTION $ARGUMENT\" >> '{}'\n", log.display()))
            .and_then(|()| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            })
            .map_err(|e| Error::io("writing the hook script", e))?;
        let exe = std::env::current_exe().map_err(|e| Error::io("finding camctl", e))?;
        let mut child = tokio::process::Command::new(exe)
            .args(["watch", "--json", "--filename", "shoot/%Y%m%d_%03n.%C", "--hook-script"])
            .arg(&script)
            .arg("--catalog")
            .arg(workdir.join("catalog.db"))
            .arg(&url)
            .arg(&target)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::io("starting camctl watch", e))?;
        let stdout = child.stdout.take().ok_or_else(|| Error::Protocol("no stdout".into()))?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let mut names = Vec::new();
        // The card's sample pictures first, then two shots on the body.
        let mut shots = 0;
        while names.len() < 5 {
            let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
                .await
                .map_err(|_| Error::Timeout("waiting for camctl watch to import".into()))?
                .map_err(|e| Error::io("reading camctl watch", e))?
                .ok_or_else(|| Error::Protocol("camctl watch ended early".into()))?;
            let import: serde_json::Value =
                serde_json::from_str(&line).map_err(|e| Error::Protocol(format!("{e}: {line}")))?;
            let local = import["local_path"].as_str().unwrap_or_default().to_string();
            names.push(local.rsplit('/').next().unwrap_or_default().to_string());
            if names.len() >= 3 && shots < 2 {
                shutter.press().await.map_err(|e| Error::io("pressing the shutter", e))?;
                shots += 1;
            }
        }
        // SIGTERM: the watch ends cleanly and runs the hook's stop.
        if let Some(pid) = child.id() {
            // SAFETY: kill(2) on our own child; no memory is involved.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
        let status = child.wait().await.map_err(|e| Error::io("waiting for camctl watch", e))?;
        if !status.success() {
            return Err(Error::Protocol(format!("camctl watch exited with {status}")));
        }
        let hooks = std::fs::read_to_string(&log).map_err(|e| Error::io("reading the hook log", e))?;
        let downloads = hooks.lines().filter(|l| l.starts_with("download ")).count();
        if downloads != names.len() || !hooks.ends_with("stop \n") {
            return Err(Error::Protocol(format!(
                "the hook saw {downloads} of {} downloads: {hooks}",
                names.len()
            )));
        }
        Ok(format!(
            "{} files under shoot/ ({} ... {}), 2 shot on the body; the hook ran {downloads} times",
            names.len(),
            names[0],
            names[names.len() - 1]
        ))
    }
    .await;
    report.record("watch", watched);
}

/// The gateway: `camctl serve` (this very binary) in front of four emulators, read through its API
/// and its RTSP server as Home Assistant or a browser would.
async fn serve_tour(workdir: &Path, report: &mut Report) {
    use tokio::io::AsyncBufReadExt;
    let started: Result<(Vec<String>, Vec<Running>)> = async {
        let io = |what: &'static str| move |e| Error::io(what, e);
        let localhost = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let ptp = camctl_ptpip::emulator::Emulator::bind(
            localhost,
            camctl_ptpip::emulator::EmulatorConfig {
                media_dir: workdir.join("serve-eos"),
                ..camctl_ptpip::emulator::EmulatorConfig::for_personality(
                    camctl_ptpip::emulator::Personality::CanonEos,
                )
            },
        )
        .await
        .map_err(io("starting the PTP/IP emulator"))?;
        let yi = camctl_ambarella::emulator::Emulator::bind(
            localhost,
            camctl_ambarella::emulator::EmulatorConfig {
                media_dir: workdir.join("serve-yi"),
                data_port: 0,
                rtsp_port: 0,
                ..Default::default()
            },
        )
        .await
        .map_err(io("starting the Yi emulator"))?;
        let lytro = camctl_lytro::emulator::Emulator::bind(
            localhost,
            camctl_lytro::emulator::EmulatorConfig {
                media_dir: workdir.join("serve-lytro"),
                ..Default::default()
            },
        )
        .await
        .map_err(io("starting the Lytro emulator"))?;
        let mut wyze_config =
            camctl_wyze::tutk::ServerConfig::new("CAMCTLDEMO0000000002", "camctlDemo/Enr16", "2CAA8E00D3E1");
        wyze_config.emulator.pacing = camctl_wyze::Pacing::RealTime;
        let wyze = camctl_wyze::tutk::TutkServer::bind(localhost, wyze_config)
            .await
            .map_err(io("starting the Wyze emulator"))?;
        let cameras = vec![
            format!("studio={}", ptp.url()),
            format!("action={}", yi.url()),
            format!("illum={}", lytro.url()),
            format!("yard={}", wyze.url().map_err(io("the Wyze emulator's address"))?),
        ];
        let running = vec![
            Running(tokio::spawn(ptp.serve())),
            Running(tokio::spawn(yi.serve())),
            Running(tokio::spawn(lytro.serve())),
            Running(tokio::spawn(wyze.serve())),
        ];
        Ok((cameras, running))
    }
    .await;
    let (cameras, _emulators) = match started {
        Ok(s) => s,
        Err(e) => {
            report.record("emulator", Err(e));
            return;
        }
    };
    println!("gateway: camctl serve in front of the four emulators");
    let toured = async {
        let exe = std::env::current_exe().map_err(|e| Error::io("finding camctl", e))?;
        let mut child = tokio::process::Command::new(exe)
            .arg("serve")
            .args(&cameras)
            .args(["--listen", "127.0.0.1:0", "--rtsp-listen", "127.0.0.1:0", "--catalog"])
            .arg(workdir.join("serve-catalog.db"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::io("starting camctl serve", e))?;
        let stdout = child.stdout.take().ok_or_else(|| Error::Protocol("no stdout".into()))?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .map_err(|_| Error::Timeout("waiting for camctl serve".into()))?
            .map_err(|e| Error::io("reading camctl serve", e))?
            .unwrap_or_default();
        let addr = line
            .strip_prefix("serving http://")
            .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
            .ok_or_else(|| Error::Protocol(format!("camctl serve printed {line:?}")))?;
        // The owners connect in the background: wait until every camera is.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        let list = loop {
            let (_, body) = http_get(addr, "/api/cameras").await?;
            let list: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("/api/cameras: {e}")))?;
            let all =
                list.as_array().is_some_and(|l| l.len() == 4 && l.iter().all(|c| c["state"] == "connected"));
            if all {
                break list;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Timeout(format!("cameras not all connected: {list}")));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let names: Vec<String> = list
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                format!("{} ({})", c["name"].as_str().unwrap_or("?"), c["protocol"].as_str().unwrap_or("?"))
            })
            .collect();
        let (status, jpeg) = http_get(addr, "/api/cameras/yard/snapshot.jpg").await?;
        let size = camctl_core::media::jpeg_dimensions(&jpeg)
            .filter(|_| status == 200 && jpeg.ends_with(&[0xff, 0xd9]))
            .ok_or_else(|| Error::Protocol(format!("snapshot: HTTP {status}, not a whole JPEG")))?;
        let rtsp = list
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == "yard")
            .and_then(|c| c["rtsp"].as_str())
            .ok_or_else(|| Error::Protocol("no RTSP URL for yard".into()))?
            .to_string();
        let options = camctl_ambarella::live::LiveOptions {
            duration: Some(std::time::Duration::from_secs(2)),
            ..Default::default()
        };
        let recorded =
            camctl_ambarella::live::record(&rtsp, std::io::sink(), &options, std::future::pending())
                .await
                .map_err(|e| Error::Protocol(format!("RTSP {rtsp}: {}", e.error)))?;
        if let Some(pid) = child.id() {
            // SAFETY: kill(2) on our own child; no memory is involved.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
        let exit = child.wait().await.map_err(|e| Error::io("waiting for camctl serve", e))?;
        if !exit.success() || recorded.frames == 0 {
            return Err(Error::Protocol(format!(
                "serve exited with {exit}; {} RTSP frames",
                recorded.frames
            )));
        }
        let (w, h) = recorded.dimensions.unwrap_or_default();
        Ok(format!(
            "API lists {}; yard snapshot {}x{} JPEG; {} frames of {w}x{h} H.264 over RTSP in 2 s",
            names.join(", "),
            size.0,
            size.1,
            recorded.frames
        ))
    }
    .await;
    report.record("serve", toured);
}

/// A plain HTTP/1.1 GET to loopback (serve's own tools: demo, bench): status and body.
pub(crate) async fn http_get(addr: std::net::SocketAddr, path: &str) -> Result<(u16, Vec<u8>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(std::time::Duration::from_secs(30), exchange)
        .await
        .map_err(|_| Error::Timeout(format!("GET {path}")))?
        .map_err(|e| Error::io(format!("GET {path}"), e))?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| Error::Protocol("no HTTP head".into()))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut body = raw[end + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Ok((status, body))
}

/// The body of a chunked HTTP response.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        data = &data[line_end + 2..];
        if size == 0 {
            break;
        }
        let take = size.min(data.len());
        out.extend_from_slice(&data[..take]);
        data = data.get(take + 2..).unwrap_or_default();
    }
    out
}

/// Starts a PTP/IP emulator with `personality` on `media` and connects to it; `None` (with the step
/// recorded as failed) when either fails.
async fn ptpip_session(
    media: &Path,
    personality: camctl_ptpip::emulator::Personality,
    title: &str,
    report: &mut Report,
) -> Option<(PtpCamera, Running)> {
    use camctl_ptpip::emulator::{Emulator, EmulatorConfig};
    let config =
        EmulatorConfig { media_dir: media.to_path_buf(), ..EmulatorConfig::for_personality(personality) };
    let emulator = match Emulator::bind(([127, 0, 0, 1], 0).into(), config).await {
        Ok(e) => e,
        Err(e) => {
            report.record("emulator", Err(Error::io(format!("starting the {title} emulator"), e)));
            return None;
        }
    };
    let url = emulator.url();
    println!("{title} emulator at {url}");
    let server = Running(tokio::spawn(emulator.serve()));
    match async { PtpCamera::connect(&parse_url(&url)?).await }.await {
        Ok(camera) => Some((camera, server)),
        Err(e) => {
            report.record("connect", Err(e));
            None
        }
    }
}

async fn ptpip_tour(workdir: &Path, report: &mut Report) {
    use camctl_ptpip::emulator::Personality;
    let media = workdir.join("ptpip-media");
    let Some((mut camera, _server)) =
        ptpip_session(&media, Personality::Generic, "PTP/IP camera", report).await
    else {
        return;
    };
    let change = SettingChange::OtherChoice("f-number");
    generic_tour(&mut camera, Verify::SameAs(&media), &workdir.join("ptpip-pulled"), change, report).await;
    report.record("close", camera.close().await.map(|_| "session closed".into()));
}

/// The Canon EOS dialect against the emulator's canon-eos personality: the exposure change goes
/// through SetDevicePropValueEx, the capture through RemoteReleaseOn/Off, events and the new file
/// through the polled GetEvent stream, live view through GetViewFinderData.
async fn eos_tour(workdir: &Path, report: &mut Report) {
    use camctl_ptpip::emulator::Personality;
    let title = "Canon EOS (PTP/IP, canon-eos personality)";
    let Some((mut camera, _server)) =
        ptpip_session(&workdir.join("eos-media"), Personality::CanonEos, title, report).await
    else {
        return;
    };
    report.record(
        "info",
        camera.info().await.map(|i| {
            let dialect = i.extra.iter().find(|(k, _)| k == "dialect").map_or("?", |(_, v)| v.as_str());
            format!("{} {}, dialect {dialect}", i.manufacturer, i.model)
        }),
    );
    report.record(
        "exposure",
        async {
            let mut set = Vec::new();
            for (key, value) in [("aperture", "5.6"), ("shutterspeed", "1/250"), ("iso", "400")] {
                let now = camera.set_setting(key, value).await?;
                if now.value != value {
                    return Err(Error::Protocol(format!("{key}: set {value}, camera reports {}", now.value)));
                }
                set.push(format!("{key} {value}"));
            }
            Ok(format!("{} (SetDevicePropValueEx, read back from GetEvent)", set.join(", ")))
        }
        .await,
    );
    report.record(
        "release",
        async {
            let items = camera.capture().await?;
            let item = items.first().ok_or_else(|| Error::Protocol("the capture produced no file".into()))?;
            let mut jpeg = Vec::new();
            camera.download(item, 0, &mut jpeg).await?;
            if !jpeg.starts_with(&[0xFF, 0xD8]) {
                return Err(Error::Protocol(format!("{} is not a JPEG", item.path)));
            }
            Ok(format!("RemoteReleaseOn/Off -> ObjectAddedEx {} ({} bytes)", item.path, jpeg.len()))
        }
        .await,
    );
    report.record(
        "events",
        async {
            // What the exposure change and the capture made the camera report, as `camctl events` shows it.
            let mut names = Vec::new();
            while names.len() < 8 {
                let got = tokio::time::timeout(std::time::Duration::from_secs(1), camera.next_event()).await;
                match got {
                    Ok(Ok(Some(e))) if e.name == "PropertyChanged" => names.push(e.detail),
                    Ok(Ok(Some(e))) => names.push(format!("{} {}", e.name, e.detail)),
                    Ok(Ok(None)) | Err(_) => break,
                    Ok(Err(e)) => return Err(e),
                }
            }
            if names.is_empty() {
                return Err(Error::Protocol("no events from the GetEvent stream".into()));
            }
            Ok(names.join("; "))
        }
        .await,
    );
    report.record(
        "live view",
        async {
            let start = std::time::Instant::now();
            let (mut frames, mut bytes, mut size) = (0u32, 0usize, None);
            while start.elapsed() < std::time::Duration::from_secs(1) {
                let jpeg = camera.live_frame().await?;
                size = size.or_else(|| camctl_core::media::jpeg_dimensions(&jpeg));
                frames += 1;
                bytes += jpeg.len();
            }
            camera.end_live().await;
            let (w, h) = size.ok_or_else(|| Error::Protocol("live-view frames are not JPEGs".into()))?;
            Ok(format!("{frames} JPEG frames of {w}x{h} in 1 s ({bytes} bytes, GetViewFinderData)"))
        }
        .await,
    );
    report.record("close", camera.close().await.map(|_| "session closed".into()));
}

/// The Nikon dialect against the emulator's nikon personality: vendor properties with gphoto2's
/// labels, InitiateCaptureRecInMedia with DeviceReady and the polled GetEvent, live view, and a Wi-Fi
/// profile written, listed and deleted.
async fn nikon_tour(workdir: &Path, report: &mut Report) {
    use camctl_ptpip::emulator::Personality;
    let title = "Nikon (PTP/IP, nikon personality)";
    let Some((mut camera, _server)) =
        ptpip_session(&workdir.join("nikon-media"), Personality::Nikon, title, report).await
    else {
        return;
    };
    report.record(
        "exposure",
        async {
            let set = camera.set_setting("f-number", "f/5.6").await?;
            let shutter = camera.setting("shutterspeed").await?;
            Ok(format!(
                "dialect {}; f-number {}, shutterspeed {}",
                camera.dialect().name(),
                set.value,
                shutter.value
            ))
        }
        .await,
    );
    report.record(
        "capture",
        async {
            let items = camera.capture().await?;
            let item = items.first().ok_or_else(|| Error::Protocol("the capture produced no file".into()))?;
            let mut jpeg = Vec::new();
            camera.download(item, 0, &mut jpeg).await?;
            Ok(format!("InitiateCaptureRecInMedia -> {} ({} bytes)", item.path, jpeg.len()))
        }
        .await,
    );
    report.record(
        "live view",
        async {
            let a = camera.live_frame().await?;
            let b = camera.live_frame().await?;
            camera.end_live().await;
            let (w, h) = camctl_core::media::jpeg_dimensions(&b)
                .ok_or_else(|| Error::Protocol("the live-view image is not a JPEG".into()))?;
            if a == b {
                return Err(Error::Protocol("two live-view frames are the same".into()));
            }
            Ok(format!("GetLiveViewImg: {w}x{h} JPEG frames past their header"))
        }
        .await,
    );
    report.record(
        "wifi profile",
        async {
            let mut profile = camctl_ptpip::wire::nikon::WifiProfile {
                name: "demo".into(),
                ssid: "DemoNet".into(),
                ..Default::default()
            };
            profile.set_key(b"").map_err(|e| Error::InvalidValue(e.to_string()))?;
            let slot = camera.add_wifi_profile(profile).await?;
            let listed =
                camera.wifi_profiles().await?.slots.iter().any(|s| s.id == slot && s.ssid == "DemoNet");
            camera.delete_wifi_profile(slot).await?;
            if !listed {
                return Err(Error::Protocol("the new profile is not listed".into()));
            }
            Ok(format!("written to slot {slot}, listed, deleted"))
        }
        .await,
    );
    report.record("close", camera.close().await.map(|_| "session closed".into()));
}

async fn yi_tour(workdir: &Path, report: &mut Report) {
    use camctl_ambarella::YiCamera;
    use camctl_ambarella::emulator::{Emulator, EmulatorConfig};
    let media = workdir.join("yi-media");
    let config =
        EmulatorConfig { media_dir: media.clone(), data_port: 0, rtsp_port: 0, ..EmulatorConfig::default() };
    let emulator = match Emulator::bind(([127, 0, 0, 1], 0).into(), config).await {
        Ok(e) => e,
        Err(e) => {
            report.record("emulator", Err(Error::io("starting the Yi emulator", e)));
            return;
        }
    };
    let url = emulator.url();
    println!("Xiaomi Yi (Ambarella) camera emulator at {url}");
    let server = tokio::spawn(emulator.serve());
    match async { YiCamera::connect(&parse_url(&url)?).await }.await {
        Ok(mut camera) => {
            let change = SettingChange::OtherChoice("video_resolution");
            let target = workdir.join("yi-pulled");
            generic_tour(&mut camera, Verify::SameAs(&media), &target, change, report).await;
            report.record(
                "record",
                async {
                    camera.start_recording().await?;
                    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
                    let item = camera.stop_recording().await?;
                    let mut video = Vec::new();
                    camera.download(&item, 0, &mut video).await?;
                    if video.get(4..8) != Some(b"ftyp") {
                        return Err(Error::Protocol(format!("{} is not an MP4 file", item.path)));
                    }
                    Ok(format!("{} ({} bytes, MP4)", item.path, video.len()))
                }
                .await,
            );
            report.record(
                "preview",
                async {
                    // Ten real frames through RTSP, decoded far enough to know their size.
                    const FRAMES: u64 = 10;
                    let mut video = Vec::new();
                    let report = camera
                        .live(
                            &mut video,
                            Some(std::time::Duration::from_secs(30)),
                            Some(FRAMES),
                            std::future::pending(),
                        )
                        .await
                        .map_err(|(e, _)| e)?;
                    let clip = camctl_core::video::clip_info(&video)
                        .map_err(|e| Error::Protocol(format!("the live view is not H.264: {e}")))?;
                    if report.frames != FRAMES
                        || clip.frames as u64 != FRAMES
                        || clip.keyframes == 0
                        || report.dimensions != Some((clip.width, clip.height))
                    {
                        return Err(Error::Protocol(format!(
                            "live view: {} frames asked, {} received, {} in the stream",
                            FRAMES, report.frames, clip.frames
                        )));
                    }
                    Ok(format!(
                        "{} frames of {}x{} H.264 ({} bytes) from {}",
                        clip.frames,
                        clip.width,
                        clip.height,
                        video.len(),
                        camctl_core::text::Safe(&report.url)
                    ))
                }
                .await,
            );
            report.record("close", camera.close().await.map(|_| "session closed".into()));
        }
        Err(e) => {
            report.record("connect", Err(e));
        }
    }
    server.abort();
}

async fn lytro_tour(workdir: &Path, report: &mut Report) {
    use camctl_lytro::emulator::{Emulator, EmulatorConfig};
    use camctl_lytro::{LytroCamera, PictureFormat};
    let media = workdir.join("lytro-media");
    let config = EmulatorConfig { media_dir: media.clone(), ..EmulatorConfig::default() };
    let emulator = match Emulator::bind(([127, 0, 0, 1], 0).into(), config).await {
        Ok(e) => e,
        Err(e) => {
            report.record("emulator", Err(Error::io("starting the Lytro emulator", e)));
            return;
        }
    };
    let url = emulator.url();
    println!("Lytro light-field camera emulator at {url}");
    let server = tokio::spawn(emulator.serve());
    match async { LytroCamera::connect(&parse_url(&url)?).await }.await {
        Ok(mut camera) => {
            let change = SettingChange::To("camera_time", "2031-02-03 04:05:06");
            let target = workdir.join("lytro-pulled");
            generic_tour(&mut camera, Verify::Structure, &target, change, report).await;
            report.record(
                "all formats",
                async {
                    camera.set_formats(&PictureFormat::ALL);
                    let items = camera.list_media().await?;
                    let dir = DownloadDir::open(workdir.join("lytro-all"))?;
                    let r = pull(&mut camera, &items, &dir).await?;
                    all_fetched(&r)?;
                    check_structure(&dir, &items)?;
                    Ok(format!(
                        "{} files (JPEG, RAW, metadata, thumbnail, focus stack), {} bytes",
                        r.fetched(),
                        r.bytes
                    ))
                }
                .await,
            );
            report.record("close", camera.close().await.map(|_| "session closed".into()));
        }
        Err(e) => {
            report.record("connect", Err(e));
        }
    }
    server.abort();
}

async fn wyze_tour(report: &mut Report) {
    use camctl_wyze::WyzeCamera;
    use camctl_wyze::tutk::{ServerConfig, TutkServer};
    let mut config = ServerConfig::new("CAMCTLDEMO0000000001", "camctlDemo/Enr16", "2CAA8E00D3E0");
    config.emulator.pacing = camctl_wyze::Pacing::RealTime;
    let server = match TutkServer::bind(([127, 0, 0, 1], 0).into(), config).await {
        Ok(s) => s,
        Err(e) => {
            report.record("emulator", Err(Error::io("starting the Wyze emulator", e)));
            return;
        }
    };
    let url = match server.url() {
        Ok(u) => u,
        Err(e) => {
            report.record("emulator", Err(Error::io("reading the Wyze emulator's address", e)));
            return;
        }
    };
    println!("Wyze camera emulator (TUTK over UDP, DTLS) at {url}");
    let task = tokio::spawn(server.serve());
    match async { WyzeCamera::connect(&parse_url(&url)?).await }.await {
        Ok(mut camera) => {
            report.record(
                "connect",
                camera.info().await.map(|i| {
                    let how =
                        i.extra.iter().find(|(k, _)| k.contains("authenticated")).map(|(_, v)| v.as_str());
                    format!(
                        "{} {}, firmware {}, authenticated with {}",
                        i.manufacturer,
                        i.model,
                        i.firmware,
                        how.unwrap_or("?")
                    )
                }),
            );
            report.record(
                "settings",
                async {
                    let all = camera.settings().await?;
                    let night = camera.setting("night-vision").await?;
                    Ok(format!("{} settings; night-vision {}", all.len(), night.value))
                }
                .await,
            );
            report.record(
                "resolution",
                change_a_setting(&mut camera, SettingChange::To("resolution", "360p")).await,
            );
            report.record(
                "live",
                async {
                    let mut video = Vec::new();
                    let live = camera.live(&mut video, Some(std::time::Duration::from_secs(2))).await?;
                    use camctl_core::video::{nal_type, nal_units, parse_sps};
                    let clip = camctl_core::video::clip_info(&video)
                        .map_err(|e| Error::Protocol(format!("the recorded H.264 does not parse: {e}")))?;
                    // Frames already on their way keep the old size: the newest SPS tells the new one.
                    let last_sps = nal_units(&video)
                        .filter(|n| n.nal_type() == nal_type::SPS)
                        .last()
                        .and_then(|n| parse_sps(n.bytes()).ok())
                        .ok_or_else(|| Error::Protocol("no SPS in the recording".into()))?;
                    if (last_sps.width, last_sps.height) != (640, 360) || clip.frames < 10 {
                        return Err(Error::Protocol(format!(
                            "recorded {} frames ending at {}x{}, expected 360p",
                            clip.frames, last_sps.width, last_sps.height
                        )));
                    }
                    Ok(format!(
                        "{} frames of H.264 in {:.1} s ({} bytes, {} keyframes, {} gaps), now {}x{}",
                        clip.frames,
                        live.elapsed.as_secs_f64(),
                        video.len(),
                        clip.keyframes,
                        live.stats.gaps,
                        last_sps.width,
                        last_sps.height
                    ))
                }
                .await,
            );
            report.record("close", camera.close().await.map(|_| "session closed".into()));
        }
        Err(e) => {
            report.record("connect", Err(e));
        }
    }
    task.abort();
}

/// Which setting the tour changes, and how.
enum SettingChange<'a> {
    /// Pick another of the setting's choices.
    OtherChoice(&'a str),
    /// Set this value; the read-back must start with it.
    To(&'a str, &'a str),
}

/// How pulled files are checked.
enum Verify<'a> {
    /// Byte-identical to the file at the same relative path in this folder (the emulator's media).
    SameAs(&'a Path),
    /// Sizes as listed and JPEGs complete (formats the emulator generates on the fly).
    Structure,
}

/// The tour every protocol gets: info, settings, listing, capture, pull, verification, idempotence.
/// `media` is the emulator's media folder, which pulled files must match byte for byte.
async fn generic_tour<C: Camera>(
    camera: &mut C,
    verify: Verify<'_>,
    target: &Path,
    change: SettingChange<'_>,
    report: &mut Report,
) {
    report.record(
        "info",
        camera.info().await.map(|i| {
            let battery = i.battery.map(|b| format!(", battery {b}%")).unwrap_or_default();
            format!("{} {}, serial {}, firmware {}{battery}", i.manufacturer, i.model, i.serial, i.firmware)
        }),
    );
    report.record("config", change_a_setting(camera, change).await);
    let before = match camera.list_media().await {
        Ok(items) => {
            let bytes: u64 = items.iter().map(|i| i.size).sum();
            report.record("ls", Ok(format!("{} files, {bytes} bytes", items.len())));
            items.len()
        }
        Err(e) => {
            report.record("ls", Err(e));
            return;
        }
    };
    report.record(
        "capture",
        async {
            let new = camera.capture().await?;
            let after = camera.list_media().await?.len();
            if new.is_empty() || after != before + new.len() {
                return Err(Error::Protocol(format!(
                    "capture reported {} files; listing went {before} -> {after}",
                    new.len()
                )));
            }
            Ok(new.iter().map(|i| format!("{} ({} bytes)", i.path, i.size)).collect::<Vec<_>>().join(", "))
        }
        .await,
    );
    report.record("pull", pull_and_verify(camera, verify, target).await);
    report.record(
        "pull again",
        async {
            let dir = DownloadDir::open(target)?;
            let items = camera.list_media().await?;
            let r = pull(camera, &items, &dir).await?;
            if r.fetched() == 0 && r.present() == items.len() {
                Ok(format!("nothing new to fetch ({} files already present)", r.present()))
            } else {
                Err(Error::Protocol(format!("fetched {} files again", r.fetched())))
            }
        }
        .await,
    );
}

async fn change_a_setting<C: Camera>(camera: &mut C, change: SettingChange<'_>) -> Result<String> {
    let all = camera.settings().await?;
    let (key, new) = match change {
        SettingChange::To(key, value) => (key, value.to_string()),
        SettingChange::OtherChoice(key) => {
            let setting = camera.setting(key).await?;
            let SettingForm::Choices { choices } = &setting.form else {
                return Err(Error::Protocol(format!("{key} has no list of choices")));
            };
            let other = choices.iter().find(|c| **c != setting.value);
            (key, other.ok_or_else(|| Error::Protocol(format!("{key} has one choice")))?.clone())
        }
    };
    let before = camera.setting(key).await?;
    let changed = camera.set_setting(key, &new).await?;
    let read_back = camera.setting(key).await?;
    if !changed.value.starts_with(&new) || !read_back.value.starts_with(&new) {
        return Err(Error::Protocol(format!("set {key} to {new}, camera reports {}", read_back.value)));
    }
    Ok(format!("{} settings; {key} {} -> {new} (read back {})", all.len(), before.value, read_back.value))
}

/// Sizes as listed, and JPEGs complete.
fn check_structure(dir: &DownloadDir, items: &[camctl_core::MediaItem]) -> Result<()> {
    let mut problems = String::new();
    for item in items {
        let path = dir.final_path(&item.path)?;
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&item.path, e))?;
        if bytes.len() as u64 != item.size {
            let _ = write!(problems, "{}: {} bytes, listed {}; ", item.path, bytes.len(), item.size);
        } else if is_jpeg_name(&item.path) && !is_complete_jpeg(&bytes) {
            let _ = write!(problems, "{} is not a complete JPEG; ", item.path);
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(Error::Protocol(problems)) }
}

fn is_jpeg_name(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".jpg") || lower.ends_with(".jpeg")
}

fn is_complete_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9])
}

async fn pull_and_verify<C: Camera>(camera: &mut C, verify: Verify<'_>, target: &Path) -> Result<String> {
    let dir = DownloadDir::open(target)?;
    let items = camera.list_media().await?;
    let r = pull(camera, &items, &dir).await?;
    all_fetched(&r)?;
    let how = match verify {
        Verify::Structure => {
            check_structure(&dir, &items)?;
            "sizes as listed, JPEGs complete"
        }
        Verify::SameAs(media) => {
            check_structure(&dir, &items)?;
            let mut problems = String::new();
            for item in &items {
                let pulled =
                    std::fs::read(dir.final_path(&item.path)?).map_err(|e| Error::io(&item.path, e))?;
                let original = std::fs::read(media.join(&item.path)).map_err(|e| Error::io(&item.path, e))?;
                if pulled != original {
                    let _ = write!(problems, "{} differs; ", item.path);
                }
            }
            if !problems.is_empty() {
                return Err(Error::Protocol(problems));
            }
            "all byte-identical to the camera's"
        }
    };
    Ok(format!("{} files, {} bytes at {:.1} MB/s, {how}", r.fetched(), r.bytes, r.megabytes_per_second()))
}

fn all_fetched(r: &crate::pull::PullReport) -> Result<()> {
    match r.failed().next() {
        Some(f) => {
            Err(Error::Protocol(format!("{}: {}", f.camera_path, f.error.as_deref().unwrap_or("failed"))))
        }
        None => Ok(()),
    }
}
