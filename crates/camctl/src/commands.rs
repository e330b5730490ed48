//! The client subcommands: each connects, does one job, prints for humans or as JSON, and closes.

use std::process::ExitCode;
use std::time::Duration;

use std::path::PathBuf;

use camctl_core::download::DownloadDir;
use camctl_core::text::Safe;
use camctl_core::{Camera, CameraInfo, Error, MediaItem, Result, Setting, SettingForm};
use camctl_lytro::PictureFormat;
use serde_json::json;

use crate::any::AnyCamera;
use crate::catalog::Catalog;
use crate::cli::CatalogAction;
use crate::cli::{Command, ConfigAction, PreviewAction, RecordAction};
use crate::pull::{CatalogUse, PullOptions, PullReport, Reconnect, Status, camera_identity, pull_with};
use crate::template::FilenameTemplate;

/// Exit status after the user stopped a command with a signal (128 + SIGINT), as shells expect.
const EXIT_INTERRUPTED: u8 = 130;

/// The Lytro picture formats asked for with --format/--all-formats (`None`: the camera's default).
fn lytro_formats(format: &[String], all_formats: bool) -> Result<Option<Vec<PictureFormat>>> {
    if all_formats {
        return Ok(Some(PictureFormat::ALL.to_vec()));
    }
    if format.is_empty() {
        return Ok(None);
    }
    PictureFormat::parse_list(&format.join(",")).map(Some).map_err(|e| Error::InvalidValue(e.to_string()))
}

/// Connects and applies the Lytro formats, for the first connection and every reconnection.
async fn connect_for_pull(url: &str, formats: Option<&[PictureFormat]>) -> Result<AnyCamera> {
    let mut camera = AnyCamera::connect(url).await?;
    if let Some(formats) = formats {
        camera.lytro("--format/--all-formats")?.set_formats(formats);
    }
    Ok(camera)
}

/// Connects, runs `job`, and closes the session whatever `job` returned: a refused request must not
/// keep one of the camera's few session slots busy.
async fn with_camera<T>(url: &str, job: impl AsyncFnOnce(&mut AnyCamera) -> Result<T>) -> Result<T> {
    let mut camera = AnyCamera::connect(url).await?;
    let result = job(&mut camera).await;
    let closed = camera.close().await;
    let value = result?;
    closed?;
    Ok(value)
}

/// What `camctl pull` was asked for.
struct PullRequest {
    dir: PathBuf,
    formats: Option<Vec<PictureFormat>>,
    skip_imported: bool,
    filename: Option<String>,
    catalog: Option<PathBuf>,
    no_catalog: bool,
    json: bool,
}

/// `camctl pull`: every file the folder lacks, going on past bad ones; Ctrl-C keeps what came.
async fn pull_command(url: &str, request: PullRequest) -> Result<ExitCode> {
    let PullRequest { dir, formats, skip_imported, filename, catalog, no_catalog, json } = request;
    // Everything the user typed is checked before the camera is bothered.
    let template = filename.as_deref().map(FilenameTemplate::parse).transpose()?;
    let catalog = match no_catalog {
        true => None,
        false => Some(Catalog::open(&Catalog::location(catalog.as_deref())?)?),
    };
    let dir = DownloadDir::open(dir)?;
    // Without a catalog nothing keeps the digest: no need to compute it.
    let dir = if no_catalog { dir.without_digests() } else { dir };
    let _lock = dir.lock()?;
    let mut camera = connect_for_pull(url, formats.as_deref()).await?;
    let info = camera.info().await?;
    let identity = camera_identity(&info);
    let items = camera.list_media().await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop = crate::signal::stop_signal()?;
    let signals = tokio::spawn(async move {
        stop.await;
        let _ = stop_tx.send(true);
    });
    let (url_again, formats_again) = (url.to_string(), formats.clone());
    let reconnect: Reconnect<'_, AnyCamera> = Box::new(move || {
        let (url, formats) = (url_again.clone(), formats_again.clone());
        Box::pin(async move { connect_for_pull(&url, formats.as_deref()).await })
    });
    let catalog_use = catalog.as_ref().map(|catalog| CatalogUse {
        catalog,
        protocol: info.protocol.to_string(),
        serial: info.serial.clone(),
        skip_imported,
    });
    let options = PullOptions {
        reconnect: Some(reconnect),
        stop: Some(stop_rx),
        progress: !json,
        catalog: catalog_use,
        names: template.as_ref(),
        first_number: 1,
    };
    let report = pull_with(&mut camera, &identity, &items, &dir, options).await;
    signals.abort();
    if report.interrupted.is_none() {
        // A camera that stopped answering must not keep the summary from the user.
        if tokio::time::timeout(Duration::from_secs(5), camera.close()).await.is_err() {
            tracing::warn!("the camera did not confirm the end of the session");
        }
    }
    print_pull(&report, json);
    Ok(if report.interrupted.is_some() {
        ExitCode::from(EXIT_INTERRUPTED)
    } else if report.all_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What `camctl capture` was asked for.
struct CaptureRequest {
    download: Option<PathBuf>,
    filename: Option<String>,
    interval: Option<f64>,
    frames: Option<u64>,
    catalog: Option<PathBuf>,
    json: bool,
}

/// Where downloads go, checked before the camera is contacted: folder (locked), catalog, template.
struct Destination {
    dir: DownloadDir,
    _lock: camctl_core::download::DirLock,
    catalog: Catalog,
    template: Option<FilenameTemplate>,
}

impl Destination {
    fn open(dir: PathBuf, filename: Option<&str>, catalog: Option<&std::path::Path>) -> Result<Destination> {
        let template = filename.map(FilenameTemplate::parse).transpose()?;
        let catalog = Catalog::open(&Catalog::location(catalog)?)?;
        let dir = DownloadDir::open(dir)?;
        let lock = dir.lock()?;
        Ok(Destination { dir, _lock: lock, catalog, template })
    }

    /// Downloads `items` (recording them in the catalog), numbering template names from `first_number`.
    async fn fetch(
        &self,
        camera: &mut AnyCamera,
        info: &CameraInfo,
        items: &[MediaItem],
        first_number: u64,
    ) -> PullReport {
        let options = PullOptions {
            reconnect: None,
            stop: None,
            progress: false,
            catalog: Some(CatalogUse {
                catalog: &self.catalog,
                protocol: info.protocol.to_string(),
                serial: info.serial.clone(),
                skip_imported: false,
            }),
            names: self.template.as_ref(),
            first_number,
        };
        pull_with(camera, &camera_identity(info), items, &self.dir, options).await
    }
}

/// `camctl capture`: one shot, or a time-lapse of `--frames` shots `--interval` seconds apart (from
/// one shot's start to the next's, as gphoto2's -I), each downloaded as it comes with `--download`.
async fn capture_command(url: &str, request: CaptureRequest) -> Result<ExitCode> {
    let CaptureRequest { download, filename, interval, frames, catalog, json } = request;
    if frames == Some(0) {
        return Err(Error::InvalidValue("--frames 0 (use 1 or more)".into()));
    }
    let interval = match interval {
        Some(s) if s.is_finite() && s >= 0.0 => Duration::from_secs_f64(s),
        Some(s) => return Err(Error::InvalidValue(format!("--interval {s} (use seconds, 0 or more)"))),
        None => Duration::ZERO,
    };
    // Check the folder before the shutter fires: a picture taken and then not saved is lost to the
    // user who asked for it.
    let target =
        download.map(|dir| Destination::open(dir, filename.as_deref(), catalog.as_deref())).transpose()?;
    // Only a time-lapse stops between shots; a single capture stays killable by Ctrl-C.
    let mut stop = match frames {
        Some(_) => Some(Box::pin(crate::signal::stop_signal()?)),
        None => None,
    };
    let mut camera = AnyCamera::connect(url).await?;
    let info = match &target {
        Some(_) => Some(camera.info().await?),
        None => None,
    };
    let shots = frames.unwrap_or(1);
    let start = tokio::time::Instant::now();
    let (mut number, mut all_ok) = (1u64, true);
    for shot in 0..shots {
        if shot > 0 {
            // Scheduled from the start, so a slow download does not make the series drift.
            let at = start + interval.saturating_mul(u32::try_from(shot).unwrap_or(u32::MAX));
            let stopped = async {
                match &mut stop {
                    Some(stop) => stop.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                () = stopped => {
                    eprintln!("camctl: capture: stopped after {shot} of {shots} shots");
                    break;
                }
            }
        }
        let items = camera.capture().await?;
        if frames.is_some() && json {
            println!("{}", serde_json::to_string(&items).unwrap_or_else(|_| "[]".into()));
        } else {
            print_items(&items, json);
        }
        if let (Some(target), Some(info)) = (&target, &info) {
            let report = target.fetch(&mut camera, info, &items, number).await;
            number += items.len() as u64;
            if !json {
                print_pull(&report, false);
            }
            all_ok &= report.all_ok();
        }
    }
    camera.close().await?;
    Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `camctl get`: the named camera files, through the download path of `pull`.
async fn get_command(
    url: &str,
    camera_paths: &[String],
    out: PathBuf,
    filename: Option<String>,
    catalog: Option<PathBuf>,
    json: bool,
) -> Result<ExitCode> {
    let target = Destination::open(out, filename.as_deref(), catalog.as_deref())?;
    let mut camera = AnyCamera::connect(url).await?;
    let info = camera.info().await?;
    let listing = camera.list_media().await?;
    let (items, missing) = pick(&listing, camera_paths);
    for path in &missing {
        eprintln!("camctl: not found on the camera: {}", Safe(path));
    }
    let report = target.fetch(&mut camera, &info, &items, 1).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), camera.close()).await;
    print_pull(&report, json);
    Ok(if report.all_ok() && missing.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The listed items with these camera paths (in the order asked), and the paths not listed.
fn pick<'a>(listing: &[MediaItem], camera_paths: &'a [String]) -> (Vec<MediaItem>, Vec<&'a str>) {
    let mut items = Vec::new();
    let mut missing = Vec::new();
    for path in camera_paths {
        match listing.iter().find(|i| i.path == *path) {
            Some(item) if !items.contains(item) => items.push(item.clone()),
            Some(_) => {}
            None => missing.push(path.as_str()),
        }
    }
    (items, missing)
}

/// `camctl rm`: deletes the named files, after asking on a terminal.
async fn rm_command(url: &str, camera_paths: &[String], yes: bool) -> Result<()> {
    use std::io::IsTerminal;
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::InvalidValue(
                "rm deletes on the camera: confirm with --yes when not at a terminal".into(),
            ));
        }
        eprint!("delete {} file(s) on the camera? [y/N] ", camera_paths.len());
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).map_err(|e| Error::io("reading the answer", e))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing deleted");
            return Ok(());
        }
    }
    with_camera(url, async |camera| {
        let listing = camera.list_media().await?;
        let (items, missing) = pick(&listing, camera_paths);
        for item in &items {
            camera.delete(item).await?;
            println!("deleted {}", Safe(&item.path));
        }
        match missing.first() {
            Some(path) => Err(Error::NotFound(format!("{} (not on the camera)", Safe(path)))),
            None => Ok(()),
        }
    })
    .await
}

/// Runs one subcommand.
pub async fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Info { url, json } => {
            let info = with_camera(&url, async |camera| camera.info().await).await?;
            print_info(&info, json);
        }
        Command::Ls { url, json } => {
            let items = with_camera(&url, async |camera| camera.list_media().await).await?;
            print_items(&items, json);
        }
        Command::Pull { url, dir, format, all_formats, new, filename, catalog, no_catalog, json } => {
            let formats = lytro_formats(&format, all_formats)?;
            let request =
                PullRequest { dir, formats, skip_imported: new, filename, catalog, no_catalog, json };
            return pull_command(&url, request).await;
        }
        Command::Serve { cameras, config, imports, listen, rtsp_listen, catalog } => {
            let cli =
                crate::serve::config::CommandLine { config, cameras, imports, listen, rtsp_listen, catalog };
            crate::serve::run(crate::serve::config::ServeConfig::load(cli)?).await?;
        }
        Command::Watch {
            targets,
            discover,
            interfaces,
            filename,
            hook_script,
            delete_after,
            json,
            count,
            duration,
            catalog,
        } => {
            let (camera, dir) = match (discover, targets.as_slice()) {
                (true, [dir]) => (crate::watch::Target::Discover(interfaces), PathBuf::from(dir)),
                (false, [url, dir]) => (crate::watch::Target::Url(url.clone()), PathBuf::from(dir)),
                (true, _) => {
                    return Err(Error::InvalidValue(
                        "watch --discover DIR: no camera URL with --discover".into(),
                    ));
                }
                (false, _) => {
                    return Err(Error::InvalidValue(
                        "watch URL DIR: give the camera's URL and a folder (or --discover DIR)".into(),
                    ));
                }
            };
            let duration = match duration {
                Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
                Some(s) => {
                    return Err(Error::InvalidValue(format!("--for {s} (use a positive number of seconds)")));
                }
                None => None,
            };
            let request = crate::watch::WatchRequest {
                camera,
                dir,
                filename,
                hook_script,
                delete_after,
                json,
                count,
                duration,
                catalog,
            };
            return crate::watch::run(request).await;
        }
        Command::Catalog { action, catalog, json } => {
            let catalog = Catalog::open(&Catalog::location(catalog.as_deref())?)?;
            catalog_command(&catalog, action, json)?;
        }
        Command::Capture { url, download, filename, interval, frames, catalog, json } => {
            let request = CaptureRequest { download, filename, interval, frames, catalog, json };
            return capture_command(&url, request).await;
        }
        Command::Get { url, camera_paths, out, filename, catalog, json } => {
            return get_command(&url, &camera_paths, out, filename, catalog, json).await;
        }
        Command::Rm { url, camera_paths, yes } => {
            rm_command(&url, &camera_paths, yes).await?;
        }
        Command::WifiProfile { url, action, json } => {
            with_camera(&url, async |camera| crate::wifi::run(camera, action, json).await).await?;
        }
        Command::Config { url, action, json } => {
            with_camera(&url, async |camera| {
                match action {
                    ConfigAction::List => print_settings(&camera.settings().await?, json),
                    ConfigAction::Get { key } => print_setting(&camera.setting(&key).await?, json),
                    ConfigAction::Set { key, value } => {
                        print_setting(&camera.set_setting(&key, &value).await?, json)
                    }
                }
                Ok(())
            })
            .await?;
        }
        Command::Events { url, json, count, duration } => {
            with_camera(&url, async |camera| watch_events(camera, json, count, duration).await).await?;
        }
        Command::Record { url, action, json } => {
            with_camera(&url, async |camera| {
                let yi = camera.yi("record")?;
                match action {
                    RecordAction::Start => {
                        yi.start_recording().await?;
                        println!(
                            "{}",
                            if json { json!({"recording": true}).to_string() } else { "recording".into() }
                        );
                    }
                    RecordAction::Stop => {
                        let item = yi.stop_recording().await?;
                        print_items(std::slice::from_ref(&item), json);
                    }
                    RecordAction::Status => {
                        let seconds = yi.record_time().await?;
                        match (json, seconds) {
                            (true, s) => println!("{}", json!({"recording": s.is_some(), "seconds": s})),
                            (false, Some(s)) => println!("recording for {s} s"),
                            (false, None) => println!("not recording"),
                        }
                    }
                }
                Ok(())
            })
            .await?
        }
        Command::Preview { url, action } => {
            with_camera(&url, async |camera| {
                let yi = camera.yi("preview")?;
                match action {
                    PreviewAction::Start => println!("{}", Safe(&yi.start_preview().await?)),
                    PreviewAction::Stop => yi.stop_preview().await?,
                }
                Ok(())
            })
            .await?
        }
        Command::Live { url, out, duration, frames, force, format } => {
            crate::live::run(&url, &out, duration, frames, force, format.as_deref()).await?;
        }
        Command::Discover { timeout, json, interfaces, wyze_uid, wyze_enr, wyze_mac } => {
            let wyze = match (wyze_uid, wyze_enr, wyze_mac) {
                (Some(uid), Some(enr), Some(mac)) => Some(crate::discover::WyzeSearch { uid, enr, mac }),
                _ => None,
            };
            crate::discover::run(timeout, json, interfaces, wyze).await?;
        }
        Command::Emulate { protocol, options } => {
            crate::emulate::run(protocol, options).await?;
        }
        Command::Demo => return crate::demo::run().await,
        Command::Bench {
            protocol,
            size_mib,
            runs,
            seconds,
            viewers,
            realtime,
            loss,
            resend,
            small_files,
        } => {
            let link = crate::bench::WyzeLink { loss, resend };
            let met = match protocol {
                crate::cli::BenchTarget::Serve => crate::bench::serve(seconds.unwrap_or(30), viewers).await?,
                other => {
                    let protocol = match other {
                        crate::cli::BenchTarget::Ptpip => crate::cli::EmulatedProtocol::Ptpip,
                        crate::cli::BenchTarget::Yi => crate::cli::EmulatedProtocol::Yi,
                        crate::cli::BenchTarget::Lytro => crate::cli::EmulatedProtocol::Lytro,
                        _ => crate::cli::EmulatedProtocol::Wyze,
                    };
                    let seconds = seconds.unwrap_or(60);
                    crate::bench::run(protocol, size_mib, runs, seconds, realtime, link, small_files).await?
                }
            };
            return Ok(if met { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn watch_events(
    camera: &mut AnyCamera,
    json: bool,
    count: Option<u64>,
    secs: Option<f64>,
) -> Result<()> {
    let deadline = match secs {
        Some(s) if s.is_finite() && s >= 0.0 => {
            Some(tokio::time::Instant::now() + Duration::from_secs_f64(s))
        }
        Some(s) => return Err(Error::InvalidValue(format!("--for {s}"))),
        None => None,
    };
    camera.prepare_events().await?;
    // Scripts (and the tests) wait for this line on stderr (with -v) before they make the camera act.
    tracing::info!("connected; waiting for events");
    let mut seen = 0u64;
    // Ctrl-C or SIGTERM ends the watch like --for does, so the session is closed politely.
    let mut stop = std::pin::pin!(crate::signal::stop_signal()?);
    while count.is_none_or(|c| seen < c) {
        let next = camera.next_event();
        let until_deadline = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let event = tokio::select! {
            e = next => e?,
            () = until_deadline => break,
            () = &mut stop => break,
        };
        let Some(event) = event else { break };
        seen += 1;
        if json {
            println!("{}", json!({ "event": event.name, "detail": event.detail }));
        } else {
            println!("{:<20} {}", Safe(&event.name), Safe(&event.detail));
        }
    }
    Ok(())
}

fn print_info(info: &CameraInfo, json: bool) {
    if json {
        let extra: serde_json::Map<String, serde_json::Value> =
            info.extra.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let value = json!({
            "protocol": info.protocol,
            "manufacturer": info.manufacturer,
            "model": info.model,
            "serial": info.serial,
            "firmware": info.firmware,
            "battery": info.battery,
            "extra": extra,
        });
        println!("{value:#}");
        return;
    }
    let battery = info.battery.map(|b| format!("{b}%")).unwrap_or_else(|| "unknown".into());
    let rows = [
        ("Model", info.model.as_str()),
        ("Manufacturer", info.manufacturer.as_str()),
        ("Serial number", info.serial.as_str()),
        ("Firmware", info.firmware.as_str()),
        ("Battery", battery.as_str()),
        ("Protocol", info.protocol.as_str()),
    ];
    for (k, v) in rows {
        println!("{:<16} {}", format!("{k}:"), Safe(v));
    }
    for (k, v) in &info.extra {
        println!("{:<16} {}", format!("{}:", Safe(k)), Safe(v));
    }
}

/// `camctl catalog list|forget`.
fn catalog_command(catalog: &Catalog, action: CatalogAction, json: bool) -> Result<()> {
    match action {
        CatalogAction::List { camera } => {
            let imports = catalog.list(camera.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&imports).unwrap_or_else(|_| "[]".into()));
                return Ok(());
            }
            for i in &imports {
                println!(
                    "{}  {:>12}  {}  {} -> {}",
                    i.imported_at,
                    i.size,
                    Safe(&i.camera),
                    Safe(&i.camera_path),
                    Safe(&i.local_path.to_string_lossy())
                );
            }
            eprintln!("{} imported file(s) in {}", imports.len(), catalog.path().display());
        }
        CatalogAction::Forget { camera, all, camera_paths } => {
            if !all && camera.is_none() && camera_paths.is_empty() {
                return Err(Error::InvalidValue(
                    "catalog forget: give camera paths, --camera, or --all (forgets everything)".into(),
                ));
            }
            let gone = catalog.forget(camera.as_deref(), &camera_paths)?;
            if json {
                println!("{}", json!({ "forgotten": gone }));
            } else {
                println!("forgot {gone} import(s)");
            }
        }
    }
    Ok(())
}

fn print_items(items: &[MediaItem], json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(items).unwrap_or_else(|_| "[]".into()));
        return;
    }
    for item in items {
        let date = item.modified.map(|d| d.to_string()).unwrap_or_else(|| "-".repeat(19));
        println!("{:>12}  {date}  {}", item.size, Safe(&item.path));
    }
}

fn print_pull(report: &PullReport, json: bool) {
    if json {
        for file in &report.files {
            println!("{}", serde_json::to_string(file).unwrap_or_else(|_| "{}".into()));
        }
    } else {
        let failed = report.failed().count();
        println!(
            "{} fetched, {failed} failed, {} already present{} ({} bytes in {:.2} s, {:.1} MB/s{})",
            report.fetched(),
            report.present(),
            match report.imported_before() {
                0 => String::new(),
                n => format!(", {n} imported before"),
            },
            report.bytes,
            report.elapsed.as_secs_f64(),
            report.megabytes_per_second(),
            if report.resumed() > 0 { format!("; {} resumed", report.resumed()) } else { String::new() },
        );
    }
    // Files never reached (after an interruption, a full disk, a camera gone) share one reason: one
    // line for all of them, not one per file.
    let mut not_reached: Vec<(&str, usize)> = Vec::new();
    for file in &report.files {
        if let Some(note) = &file.note {
            eprintln!("camctl: {}: {}", Safe(&file.camera_path), Safe(note));
        }
        let (Status::Failed, Some(e)) = (file.status, &file.error) else { continue };
        match e.strip_prefix("not fetched: ") {
            Some(why) => match not_reached.iter_mut().find(|(w, _)| *w == why) {
                Some((_, n)) => *n += 1,
                None => {
                    eprintln!("camctl: failed: {}: {}", Safe(&file.camera_path), Safe(e));
                    not_reached.push((why, 1));
                }
            },
            None => eprintln!("camctl: failed: {}: {}", Safe(&file.camera_path), Safe(e)),
        }
    }
    for (why, n) in not_reached.into_iter().filter(|(_, n)| *n > 1) {
        eprintln!("camctl: {} more file(s) not fetched: {}", n - 1, Safe(why));
    }
    if let Some(i) = &report.interrupted {
        eprintln!(
            "camctl: interrupted: kept {} of {} bytes of {} in {}; run the same command again to resume",
            i.kept,
            i.size,
            Safe(&i.camera_path),
            i.temp_path.display()
        );
    }
}

fn describe_form(form: &SettingForm) -> String {
    match form {
        SettingForm::Free => String::new(),
        SettingForm::Choices { choices } => {
            format!("[{}]", choices.iter().map(|c| Safe(c).to_string()).collect::<Vec<_>>().join(", "))
        }
        SettingForm::Range { min, max, step } => {
            format!("[{} .. {}, step {}]", Safe(min), Safe(max), Safe(step))
        }
    }
}

fn print_settings(settings: &[Setting], json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(settings).unwrap_or_else(|_| "[]".into()));
        return;
    }
    for s in settings {
        let ro = if s.writable { "" } else { " (read-only)" };
        println!("{:<22} {:<22} {}{ro}", Safe(&s.key), Safe(&s.value), describe_form(&s.form));
    }
}

fn print_setting(setting: &Setting, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(setting).unwrap_or_else(|_| "{}".into()));
    } else {
        println!("{}", Safe(&setting.value));
    }
}
