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
use crate::cli::{Command, ConfigAction, PreviewAction, RecordAction};
use crate::pull::{PullOptions, PullReport, Reconnect, Status, camera_identity, pull, pull_with};

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

/// `camctl pull`: every file the folder lacks, going on past bad ones; Ctrl-C keeps what came.
async fn pull_command(
    url: &str,
    dir: PathBuf,
    formats: Option<Vec<PictureFormat>>,
    json: bool,
) -> Result<ExitCode> {
    let dir = DownloadDir::open(dir)?;
    let _lock = dir.lock()?;
    let mut camera = connect_for_pull(url, formats.as_deref()).await?;
    let identity = camera_identity(&camera.info().await?);
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
    let options = PullOptions { reconnect: Some(reconnect), stop: Some(stop_rx), progress: !json };
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
        Command::Pull { url, dir, format, all_formats, json } => {
            let formats = lytro_formats(&format, all_formats)?;
            return pull_command(&url, dir, formats, json).await;
        }
        Command::Capture { url, download, json } => {
            // Check the folder before the shutter fires: a picture taken and then not saved is lost
            // to the user who asked for it.
            let target = match download {
                Some(dir) => {
                    let dir = DownloadDir::open(dir)?;
                    let lock = dir.lock()?;
                    Some((dir, lock))
                }
                None => None,
            };
            let mut camera = AnyCamera::connect(&url).await?;
            let items = camera.capture().await?;
            let report = match &target {
                Some((dir, _lock)) => Some(pull(&mut camera, &items, dir).await?),
                None => None,
            };
            camera.close().await?;
            print_items(&items, json);
            if let Some(report) = report {
                if !json {
                    print_pull(&report, false);
                }
                if !report.all_ok() {
                    return Ok(ExitCode::FAILURE);
                }
            }
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
        Command::Live { url, out, duration, frames, force } => {
            crate::live::run(&url, &out, duration, frames, force).await?;
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
        Command::Bench { protocol, size_mib, runs, seconds, realtime, loss, resend, small_files } => {
            let link = crate::bench::WyzeLink { loss, resend };
            let met =
                crate::bench::run(protocol, size_mib, runs, seconds, realtime, link, small_files).await?;
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
            "{} fetched, {failed} failed, {} already present ({} bytes in {:.2} s, {:.1} MB/s{})",
            report.fetched(),
            report.present(),
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
