//! The client subcommands: each connects, does one job, prints for humans or as JSON, and closes.

use std::process::ExitCode;
use std::time::Duration;

use camctl_core::download::DownloadDir;
use camctl_core::{Camera, CameraInfo, Error, MediaItem, Result, Setting, SettingForm};
use serde_json::json;

use crate::any::AnyCamera;
use crate::cli::{Command, ConfigAction, PreviewAction, RecordAction};
use crate::pull::{PullReport, pull};

/// Runs one subcommand.
pub async fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Info { url, json } => {
            let mut camera = AnyCamera::connect(&url).await?;
            let info = camera.info().await?;
            camera.close().await?;
            print_info(&info, json);
        }
        Command::Ls { url, json } => {
            let mut camera = AnyCamera::connect(&url).await?;
            let items = camera.list_media().await?;
            camera.close().await?;
            print_items(&items, json);
        }
        Command::Pull { url, dir, format, all_formats } => {
            let dir = DownloadDir::open(dir)?;
            let mut camera = AnyCamera::connect(&url).await?;
            if all_formats || !format.is_empty() {
                let formats = if all_formats {
                    camctl_lytro::PictureFormat::ALL.to_vec()
                } else {
                    camctl_lytro::PictureFormat::parse_list(&format.join(","))
                        .map_err(|e| Error::InvalidValue(e.to_string()))?
                };
                camera.lytro("--format/--all-formats")?.set_formats(&formats);
            }
            let items = camera.list_media().await?;
            let report = pull(&mut camera, &items, &dir).await?;
            camera.close().await?;
            print_pull(&report);
            if !report.failed.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Capture { url, download, json } => {
            let mut camera = AnyCamera::connect(&url).await?;
            let items = camera.capture().await?;
            let report = match download {
                Some(dir) => Some(pull(&mut camera, &items, &DownloadDir::open(dir)?).await?),
                None => None,
            };
            camera.close().await?;
            print_items(&items, json);
            if let Some(report) = report {
                if !json {
                    print_pull(&report);
                }
                if !report.failed.is_empty() {
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Config { url, action, json } => {
            let mut camera = AnyCamera::connect(&url).await?;
            match action {
                ConfigAction::List => print_settings(&camera.settings().await?, json),
                ConfigAction::Get { key } => print_setting(&camera.setting(&key).await?, json),
                ConfigAction::Set { key, value } => {
                    print_setting(&camera.set_setting(&key, &value).await?, json)
                }
            }
            camera.close().await?;
        }
        Command::Events { url, json, count, duration } => {
            let mut camera = AnyCamera::connect(&url).await?;
            watch_events(&mut camera, json, count, duration).await?;
            camera.close().await?;
        }
        Command::Record { url, action, json } => {
            let mut camera = AnyCamera::connect(&url).await?;
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
            camera.close().await?;
        }
        Command::Preview { url, action } => {
            let mut camera = AnyCamera::connect(&url).await?;
            let yi = camera.yi("preview")?;
            match action {
                PreviewAction::Start => println!("{}", yi.start_preview().await?),
                PreviewAction::Stop => yi.stop_preview().await?,
            }
            camera.close().await?;
        }
        Command::Live { url, out, duration, force } => {
            crate::live::run(&url, &out, duration, force).await?;
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
        Command::Bench { protocol, size_mib, runs, seconds, realtime } => {
            let met = crate::bench::run(protocol, size_mib, runs, seconds, realtime).await?;
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
    while count.is_none_or(|c| seen < c) {
        let next = camera.next_event();
        let event = match deadline {
            Some(d) => match tokio::time::timeout_at(d, next).await {
                Ok(e) => e?,
                Err(_) => break,
            },
            None => next.await?,
        };
        let Some(event) = event else { break };
        seen += 1;
        if json {
            println!("{}", json!({ "event": event.name, "detail": event.detail }));
        } else {
            println!("{:<20} {}", event.name, event.detail);
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
        println!("{:<16} {v}", format!("{k}:"));
    }
    for (k, v) in &info.extra {
        println!("{:<16} {v}", format!("{k}:"));
    }
}

fn print_items(items: &[MediaItem], json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(items).unwrap_or_else(|_| "[]".into()));
        return;
    }
    for item in items {
        let date = item.modified.map(|d| d.to_string()).unwrap_or_else(|| "-".repeat(19));
        println!("{:>12}  {date}  {}", item.size, item.path);
    }
}

fn print_pull(report: &PullReport) {
    println!(
        "fetched {} file(s), {} bytes in {:.2} s ({:.1} MB/s){}; {} already present",
        report.fetched.len(),
        report.bytes,
        report.elapsed.as_secs_f64(),
        report.megabytes_per_second(),
        if report.resumed > 0 { format!(", {} resumed", report.resumed) } else { String::new() },
        report.skipped
    );
    for (path, e) in &report.failed {
        eprintln!("camctl: {path}: {e}");
    }
}

fn describe_form(form: &SettingForm) -> String {
    match form {
        SettingForm::Free => String::new(),
        SettingForm::Choices { choices } => format!("[{}]", choices.join(", ")),
        SettingForm::Range { min, max, step } => format!("[{min} .. {max}, step {step}]"),
    }
}

fn print_settings(settings: &[Setting], json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(settings).unwrap_or_else(|_| "[]".into()));
        return;
    }
    for s in settings {
        let ro = if s.writable { "" } else { " (read-only)" };
        println!("{:<22} {:<22} {}{ro}", s.key, s.value, describe_form(&s.form));
    }
}

fn print_setting(setting: &Setting, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(setting).unwrap_or_else(|_| "{}".into()));
    } else {
        println!("{}", setting.value);
    }
}
