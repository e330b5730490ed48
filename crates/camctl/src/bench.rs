//! `camctl bench`: throughput and memory benchmarks (not tests). The emulator runs in this process;
//! the clients under test (camctl itself, gphoto2) run as child processes so that their peak RSS and
//! wall time are theirs alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use camctl_core::{Error, Result};
use camctl_ptpip::emulator::{Emulator, EmulatorConfig};

/// One measured client run.
struct Run {
    elapsed: Duration,
    peak_rss_kib: u64,
}

/// Runs the PTP/IP benchmark: one `size_mib` object pulled by camctl and by gphoto2.
pub async fn ptpip(size_mib: u64, runs: u32) -> Result<bool> {
    let work = tempfile::tempdir().map_err(|e| Error::io("creating a temporary folder", e))?;
    let media = work.path().join("media");
    let rel = "DCIM/100EMU01/BIG_0001.MOV";
    let size = size_mib << 20;
    write_test_file(&media.join(rel), size)?;
    let config = EmulatorConfig { media_dir: media.clone(), ..EmulatorConfig::default() };
    let emulator =
        Emulator::bind(([127, 0, 0, 1], 0).into(), config).await.map_err(|e| Error::io("binding", e))?;
    let url = emulator.url();
    let port = emulator.local_addr().port();
    let server = tokio::spawn(emulator.serve());
    println!("PTP/IP benchmark: one {size_mib} MiB object from {url}, best of {runs} run(s)\n");

    let exe = std::env::current_exe().map_err(|e| Error::io("finding the camctl binary", e))?;
    let mut camctl_best: Option<Run> = None;
    for i in 0..runs {
        let out = work.path().join(format!("camctl-{i}"));
        let run = measure(Command::new(&exe).arg("pull").arg(&url).arg(&out).stdout(Stdio::null())).await?;
        check_size(&out.join(rel), size)?;
        std::fs::remove_dir_all(&out).map_err(|e| Error::io("cleaning up", e))?;
        report_run("camctl pull", size, &run);
        camctl_best = Some(best(camctl_best, run));
    }
    let camctl = camctl_best.ok_or_else(|| Error::InvalidValue("--runs must be at least 1".into()))?;

    let mut gphoto2_best: Option<Run> = None;
    if Command::new("gphoto2").arg("--version").stdout(Stdio::null()).status().is_ok() {
        for i in 0..runs {
            let out = work.path().join(format!("gphoto2-{i}"));
            std::fs::create_dir_all(&out).map_err(|e| Error::io("creating a folder", e))?;
            let mut cmd = Command::new("gphoto2");
            cmd.arg("--port").arg(format!("ptpip:127.0.0.1:{port}:{port}")).arg("--get-all-files");
            cmd.env("HOME", &out).current_dir(&out).stdout(Stdio::null());
            let run = measure(&mut cmd).await?;
            check_size(&out.join("BIG_0001.MOV"), size)?;
            std::fs::remove_dir_all(&out).map_err(|e| Error::io("cleaning up", e))?;
            report_run("gphoto2 --get-all-files", size, &run);
            gphoto2_best = Some(best(gphoto2_best, run));
        }
    } else {
        println!("gphoto2 not installed: comparison skipped (apt-get install gphoto2)");
    }
    server.abort();

    let camctl_rate = rate(size, camctl.elapsed);
    let rss_mib = camctl.peak_rss_kib as f64 / 1024.0;
    println!("\nresult:");
    println!("  camctl   {camctl_rate:8.1} MB/s, peak RSS {rss_mib:.1} MiB (target < 64 MiB)");
    let mut ok = rss_mib < 64.0;
    if let Some(g) = gphoto2_best {
        let g_rate = rate(size, g.elapsed);
        let ratio = camctl_rate / g_rate;
        println!("  gphoto2  {g_rate:8.1} MB/s, peak RSS {:.1} MiB", g.peak_rss_kib as f64 / 1024.0);
        println!("  camctl / gphoto2 throughput: {ratio:.2}x (target >= 2x)");
        ok &= ratio >= 2.0;
    }
    println!("  targets {}", if ok { "met" } else { "NOT met" });
    Ok(ok)
}

fn best(current: Option<Run>, run: Run) -> Run {
    match current {
        Some(c) if c.elapsed <= run.elapsed => {
            Run { peak_rss_kib: c.peak_rss_kib.max(run.peak_rss_kib), ..c }
        }
        Some(c) => Run { peak_rss_kib: c.peak_rss_kib.max(run.peak_rss_kib), ..run },
        None => run,
    }
}

fn rate(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9)
}

fn report_run(what: &str, bytes: u64, run: &Run) {
    println!(
        "  {what:<26} {:6.2} s  {:8.1} MB/s  peak RSS {:6.1} MiB",
        run.elapsed.as_secs_f64(),
        rate(bytes, run.elapsed),
        run.peak_rss_kib as f64 / 1024.0
    );
}

fn check_size(path: &Path, size: u64) -> Result<()> {
    let got = std::fs::metadata(path).map_err(|e| Error::io(path.display().to_string(), e))?.len();
    if got != size {
        return Err(Error::Protocol(format!("{}: {got} bytes, expected {size}", path.display())));
    }
    Ok(())
}

/// Writes `size` bytes of incompressible-looking data in 1 MiB blocks.
fn write_test_file(path: &PathBuf, size: u64) -> Result<()> {
    use std::io::Write;
    let io = |e| Error::io(path.display().to_string(), e);
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).map_err(io)?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n]).map_err(io)?;
        left -= n as u64;
    }
    file.flush().map_err(io)
}

/// Runs a child to completion and reads its wall time and peak RSS (`wait4`), without blocking the
/// emulator's runtime.
async fn measure(cmd: &mut Command) -> Result<Run> {
    cmd.stdin(Stdio::null());
    let start = Instant::now();
    let child = cmd.spawn().map_err(|e| Error::io(format!("starting {:?}", cmd.get_program()), e))?;
    let pid = child.id() as libc::pid_t;
    let (status, rusage) = tokio::task::spawn_blocking(move || {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value; wait4 fills it in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: pid is our own child, not yet reaped (std's Child is never waited on).
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        drop(child);
        (if r == pid { Some(status) } else { None }, usage)
    })
    .await
    .map_err(|e| Error::Protocol(format!("waiting for a child: {e}")))?;
    let elapsed = start.elapsed();
    match status {
        Some(s) if libc::WIFEXITED(s) && libc::WEXITSTATUS(s) == 0 => {}
        _ => return Err(Error::Protocol(format!("{:?} failed", cmd.get_program()))),
    }
    Ok(Run { elapsed, peak_rss_kib: rusage.ru_maxrss as u64 })
}
