//! `camctl demo`: the main job on its embedded default. Starts each protocol's emulator in-process on
//! a free loopback port with sample media, tours it with the real client over real sockets, and
//! prints a short report. Exits 0 only if every step worked.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use camctl_core::download::DownloadDir;
use camctl_core::{Camera, Error, Result, SettingForm};
use camctl_ptpip::PtpCamera;
use camctl_ptpip::emulator::{Emulator, EmulatorConfig};

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

async fn ptpip_tour(workdir: &Path, report: &mut Report) {
    let media = workdir.join("ptpip-media");
    let config = EmulatorConfig { media_dir: media.clone(), ..EmulatorConfig::default() };
    let emulator = match Emulator::bind(([127, 0, 0, 1], 0).into(), config).await {
        Ok(e) => e,
        Err(e) => {
            report.record("emulator", Err(Error::io("starting the PTP/IP emulator", e)));
            return;
        }
    };
    let url = emulator.url();
    println!("PTP/IP camera emulator at {url}");
    let server = tokio::spawn(emulator.serve());
    let connected =
        async { PtpCamera::connect(&url.parse().map_err(|e| Error::InvalidValue(format!("{e}")))?).await };
    match connected.await {
        Ok(mut camera) => {
            generic_tour(&mut camera, &media, &workdir.join("ptpip-pulled"), "f-number", report).await;
            report.record("close", camera.close().await.map(|_| "session closed".into()));
        }
        Err(e) => {
            report.record("connect", Err(e));
        }
    }
    server.abort();
}

/// The tour every protocol gets: info, settings, listing, capture, pull, verification, idempotence.
/// `media` is the emulator's media folder, which pulled files must match byte for byte.
async fn generic_tour<C: Camera>(
    camera: &mut C,
    media: &Path,
    target: &Path,
    setting_key: &str,
    report: &mut Report,
) {
    report.record(
        "info",
        camera.info().await.map(|i| {
            let battery = i.battery.map(|b| format!(", battery {b}%")).unwrap_or_default();
            format!("{} {}, serial {}, firmware {}{battery}", i.manufacturer, i.model, i.serial, i.firmware)
        }),
    );
    report.record("config", change_a_setting(camera, setting_key).await);
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
    report.record("pull", pull_and_verify(camera, media, target).await);
    report.record(
        "pull again",
        async {
            let dir = DownloadDir::open(target)?;
            let items = camera.list_media().await?;
            let r = pull(camera, &items, &dir).await?;
            if r.fetched.is_empty() && r.skipped == items.len() {
                Ok(format!("nothing new to fetch ({} files already present)", r.skipped))
            } else {
                Err(Error::Protocol(format!("fetched {} files again", r.fetched.len())))
            }
        }
        .await,
    );
}

async fn change_a_setting<C: Camera>(camera: &mut C, key: &str) -> Result<String> {
    let all = camera.settings().await?;
    let setting = camera.setting(key).await?;
    let SettingForm::Choices { choices } = &setting.form else {
        return Err(Error::Protocol(format!("{key} has no list of choices")));
    };
    let new = choices
        .iter()
        .find(|c| **c != setting.value)
        .ok_or_else(|| Error::Protocol(format!("{key} has one choice")))?;
    let changed = camera.set_setting(key, new).await?;
    let read_back = camera.setting(key).await?;
    if changed.value != *new || read_back.value != *new {
        return Err(Error::Protocol(format!("set {key} to {new}, camera reports {}", read_back.value)));
    }
    Ok(format!("{} settings; {key} {} -> {new} (read back {})", all.len(), setting.value, read_back.value))
}

async fn pull_and_verify<C: Camera>(camera: &mut C, media: &Path, target: &Path) -> Result<String> {
    let dir = DownloadDir::open(target)?;
    let items = camera.list_media().await?;
    let r = pull(camera, &items, &dir).await?;
    if let Some((path, e)) = r.failed.first() {
        return Err(Error::Protocol(format!("{path}: {e}")));
    }
    let mut problems = String::new();
    for item in &items {
        let pulled =
            tokio::fs::read(dir.final_path(&item.path)?).await.map_err(|e| Error::io(&item.path, e))?;
        let original = tokio::fs::read(media.join(&item.path)).await.map_err(|e| Error::io(&item.path, e))?;
        if pulled != original {
            let _ = write!(problems, "{} differs; ", item.path);
        } else if item.path.to_ascii_lowercase().ends_with(".jpg")
            && !(pulled.starts_with(&[0xFF, 0xD8]) && pulled.ends_with(&[0xFF, 0xD9]))
        {
            let _ = write!(problems, "{} is not a complete JPEG; ", item.path);
        }
    }
    if !problems.is_empty() {
        return Err(Error::Protocol(problems));
    }
    Ok(format!(
        "{} files, {} bytes at {:.1} MB/s, all byte-identical to the camera's",
        r.fetched.len(),
        r.bytes,
        r.megabytes_per_second()
    ))
}
