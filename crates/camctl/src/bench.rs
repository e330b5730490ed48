//! `camctl bench`: throughput and memory benchmarks (not tests). The emulator runs in this process;
//! the clients under test (camctl itself, gphoto2) run as child processes so that their peak RSS and
//! wall time are theirs alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use camctl_core::{Error, Result};

use crate::cli::EmulatedProtocol;

/// Runs `camctl pull URL DIR` `runs` times as a child process, checks `files` (relative paths whose
/// sizes add up to `total`) arrived, and returns the best run.
async fn pull_runs(url: &str, work: &Path, files: &[&str], total: u64, runs: u32) -> Result<Run> {
    pull_runs_with(url, work, files, total, runs, false).await
}

/// `camctl pull` `runs` times; with `catalog` it records into a catalog in `work` (computing every
/// file's SHA-256), without it as `--no-catalog` (the transfer alone).
async fn pull_runs_with(
    url: &str,
    work: &Path,
    files: &[&str],
    total: u64,
    runs: u32,
    catalog: bool,
) -> Result<Run> {
    let exe = std::env::current_exe().map_err(|e| Error::io("finding the camctl binary", e))?;
    let label = if catalog { "camctl pull (catalog)" } else { "camctl pull --no-catalog" };
    let mut best_run: Option<Run> = None;
    for i in 0..runs {
        let out = work.join(format!("camctl-{i}"));
        let mut command = Command::new(&exe);
        command.arg("pull").arg(url).arg(&out).stdout(Stdio::null());
        // Never the user's own catalog.
        command.env("CAMCTL_CATALOG", work.join("bench-catalog.db"));
        if !catalog {
            command.arg("--no-catalog");
        }
        let run = measure(&mut command).await?;
        let got: u64 =
            files.iter().map(|f| std::fs::metadata(out.join(f)).map(|m| m.len()).unwrap_or(0)).sum();
        if got != total {
            return Err(Error::Protocol(format!("camctl pull fetched {got} of {total} bytes")));
        }
        std::fs::remove_dir_all(&out).map_err(|e| Error::io("cleaning up", e))?;
        report_run(label, total, &run);
        best_run = Some(best(best_run, run));
    }
    best_run.ok_or_else(|| Error::InvalidValue("--runs must be at least 1".into()))
}

/// [`plain_tcp_copy`] on a blocking thread (the emulator's runtime keeps running), reported; the best
/// run's time.
async fn plain_copy_runs(
    media: &Path,
    files: &[String],
    work: &Path,
    bytes: u64,
    runs: u32,
) -> Result<Duration> {
    let (media, files, work) = (media.to_path_buf(), files.to_vec(), work.to_path_buf());
    let best = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = files.iter().map(String::as_str).collect();
        plain_tcp_copy(&media, &refs, &work, runs)
    })
    .await
    .map_err(|e| Error::Protocol(e.to_string()))??;
    report_run("plain TCP copy", bytes, &Run { elapsed: best, peak_rss_kib: 0, cpu: Duration::ZERO });
    Ok(best)
}

/// A plain TCP copy of `files` over loopback (blocking sockets, 1 MiB buffers, one connection per
/// file, sender and receiver in this process): the ceiling a protocol client is compared with.
fn plain_tcp_copy(media: &Path, files: &[&str], work: &Path, runs: u32) -> Result<Duration> {
    use std::io::{Read, Write};
    let io = |e| Error::io("plain TCP copy", e);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    let sources: Vec<PathBuf> = files.iter().map(|f| media.join(f)).collect();
    let count = sources.len() * runs as usize;
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        for source in sources.iter().cycle().take(count) {
            let (mut sock, _) = listener.accept()?;
            let mut file = std::fs::File::open(source)?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                sock.write_all(&buf[..n])?;
            }
        }
        Ok(())
    });
    let mut best_time = Duration::MAX;
    for i in 0..runs {
        let start = Instant::now();
        for (j, _) in files.iter().enumerate() {
            let target = work.join(format!("tcp-{i}-{j}"));
            let mut sock = std::net::TcpStream::connect(addr).map_err(io)?;
            let mut file = std::fs::File::create(&target).map_err(io)?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = sock.read(&mut buf).map_err(io)?;
                if n == 0 {
                    break;
                }
                file.write_all(&buf[..n]).map_err(io)?;
            }
            file.sync_data().map_err(io)?;
            drop(file);
            std::fs::remove_file(&target).map_err(io)?;
        }
        best_time = best_time.min(start.elapsed());
    }
    sender.join().map_err(|_| Error::Protocol("sender thread panicked".into()))?.map_err(io)?;
    Ok(best_time)
}

/// Yi: one `size_mib` file over the data port against a plain TCP copy; config-get round trips.
async fn yi(size_mib: u64, runs: u32) -> Result<bool> {
    use camctl_ambarella::emulator::{Emulator, EmulatorConfig};
    let work = tempfile::tempdir().map_err(|e| Error::io("creating a temporary folder", e))?;
    let media = work.path().join("media");
    let rel = "DCIM/100MEDIA/YDXJ0001.mp4";
    let size = size_mib << 20;
    write_test_file(&media.join(rel), size)?;
    let config =
        EmulatorConfig { media_dir: media.clone(), data_port: 0, rtsp_port: 0, ..EmulatorConfig::default() };
    let emulator =
        Emulator::bind(([127, 0, 0, 1], 0).into(), config).await.map_err(|e| Error::io("binding", e))?;
    let url = emulator.url();
    let server = tokio::spawn(emulator.serve());
    println!("Yi (Ambarella) benchmark: one {size_mib} MiB file from {url}, best of {runs} run(s)\n");

    let plain = plain_copy_runs(&media, &[rel.to_string()], work.path(), size, runs).await?;
    let all: Vec<String> = std::fs::read_dir(media.join("DCIM/100MEDIA"))
        .map_err(|e| Error::io("listing media", e))?
        .filter_map(|e| e.ok())
        .map(|e| format!("DCIM/100MEDIA/{}", e.file_name().to_string_lossy()))
        .collect();
    let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let total: u64 = all.iter().map(|f| std::fs::metadata(media.join(f)).map(|m| m.len()).unwrap_or(0)).sum();
    println!("  (with MD5 verification of the whole file, the default)");
    let verified = pull_runs(&url, work.path(), &all_refs, total, runs).await?;
    println!("  (transport only: verify=0)");
    let camctl = pull_runs(&format!("{url}&verify=0"), work.path(), &all_refs, total, runs).await?;
    server.abort();

    // Config-get round trips on one connection (msg_id 1): client and emulator in one current-thread
    // runtime (no thread wake-ups in the loop), and across threads (this VM's wake-up latency shows).
    let same_thread = {
        let media = media.clone();
        std::thread::spawn(move || -> Result<f64> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::io("runtime", e))?;
            rt.block_on(async {
                let config = EmulatorConfig {
                    media_dir: media,
                    data_port: 0,
                    rtsp_port: 0,
                    ..EmulatorConfig::default()
                };
                let emulator = Emulator::bind(([127, 0, 0, 1], 0).into(), config)
                    .await
                    .map_err(|e| Error::io("binding", e))?;
                let url = emulator.url();
                let server = tokio::spawn(emulator.serve());
                let rate = config_gets(&url).await;
                server.abort();
                rate
            })
        })
        .join()
        .map_err(|_| Error::Protocol("round-trip thread panicked".into()))??
    };
    let config =
        EmulatorConfig { media_dir: media.clone(), data_port: 0, rtsp_port: 0, ..EmulatorConfig::default() };
    let emulator =
        Emulator::bind(([127, 0, 0, 1], 0).into(), config).await.map_err(|e| Error::io("binding", e))?;
    let url = emulator.url();
    let server = tokio::spawn(emulator.serve());
    let cross_thread = config_gets(&url).await?;
    // The client alone in a current-thread runtime (as a one-connection client process would be).
    let client_thread = {
        let url = url.clone();
        std::thread::spawn(move || -> Result<f64> {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::io("runtime", e))?
                .block_on(config_gets(&url))
        })
        .join()
        .map_err(|_| Error::Protocol("round-trip thread panicked".into()))??
    };
    server.abort();
    let per_second = same_thread.max(cross_thread);

    let camctl_rate = rate(total, camctl.elapsed);
    let plain_rate = rate(size, plain);
    let ratio = camctl_rate / plain_rate;
    let rss_mib = camctl.peak_rss_kib as f64 / 1024.0;
    println!("\nresult:");
    let verified_rate = rate(total, verified.elapsed);
    println!("  camctl pull      {camctl_rate:8.1} MB/s, peak RSS {rss_mib:.1} MiB (target < 64 MiB)");
    println!(
        "  with MD5 check   {verified_rate:8.1} MB/s, peak RSS {:.1} MiB (MD5 itself runs at ~500 MB/s per core)",
        verified.peak_rss_kib as f64 / 1024.0
    );
    println!("  plain TCP copy   {plain_rate:8.1} MB/s");
    println!("  camctl / plain TCP copy: {:.0}% (target >= 80%)", ratio * 100.0);
    println!(
        "  config get round trips on one connection: {same_thread:.0}/s in one thread, {cross_thread:.0}/s \
         across threads, {client_thread:.0}/s with the client on its own thread (target >= 20000)"
    );
    let ok = rss_mib < 64.0 && ratio >= 0.8 && per_second >= 20_000.0;
    println!("  targets {}", if ok { "met" } else { "NOT met" });
    Ok(ok)
}

/// Config gets per second over one Yi session.
async fn config_gets(url: &str) -> Result<f64> {
    let parsed = url.parse().map_err(|e: camctl_core::UrlError| Error::InvalidValue(e.to_string()))?;
    let mut camera = camctl_ambarella::YiCamera::connect(&parsed).await?;
    let gets = 50_000u32;
    let start = Instant::now();
    for _ in 0..gets {
        camera.client().get_setting("video_resolution").await?;
    }
    Ok(f64::from(gets) / start.elapsed().as_secs_f64())
}

/// Lytro: a `size_mib` picture set (RAW pictures) pulled with every format against a plain TCP copy.
async fn lytro(size_mib: u64, runs: u32) -> Result<bool> {
    use camctl_lytro::emulator::{Emulator, EmulatorConfig};
    let work = tempfile::tempdir().map_err(|e| Error::io("creating a temporary folder", e))?;
    let media = work.path().join("media");
    // Pictures of one real-size RAW each (16,137,600 bytes, §5.5) until the set reaches the size.
    const RAW: u64 = 16_137_600;
    let count = (size_mib << 20).div_ceil(RAW);
    let names: Vec<String> = (1..=count).map(|i| format!("IMG_{i:04}.RAW")).collect();
    for name in &names {
        write_test_file(&media.join(name), RAW)?;
    }
    let size = RAW * count;
    let config = EmulatorConfig {
        media_dir: media.clone(),
        mdns: false,
        idle_power_off: Duration::ZERO,
        ..EmulatorConfig::default()
    };
    let emulator =
        Emulator::bind(([127, 0, 0, 1], 0).into(), config).await.map_err(|e| Error::io("binding", e))?;
    let url = format!("{}&formats=raw", emulator.url());
    let server = tokio::spawn(emulator.serve());
    println!(
        "Lytro benchmark: {count} RAW pictures, {:.0} MiB in all, from {url}, best of {runs} run(s)\n",
        size as f64 / (1 << 20) as f64
    );
    let plain = plain_copy_runs(&media, &names, work.path(), size, runs).await?;
    // The camera lists `IMG_nnnn.raw` under DCIM/100PHOTO.
    let pulled: Vec<String> = (1..=count).map(|i| format!("DCIM/100PHOTO/IMG_{i:04}.raw")).collect();
    let pulled_refs: Vec<&str> = pulled.iter().map(String::as_str).collect();
    let camctl = pull_runs(&url, work.path(), &pulled_refs, size, runs).await?;
    server.abort();

    let camctl_rate = rate(size, camctl.elapsed);
    let plain_rate = rate(size, plain);
    let ratio = camctl_rate / plain_rate;
    let rss_mib = camctl.peak_rss_kib as f64 / 1024.0;
    println!("\nresult:");
    println!("  camctl pull      {camctl_rate:8.1} MB/s, peak RSS {rss_mib:.1} MiB");
    println!("  plain TCP copy   {plain_rate:8.1} MB/s");
    println!("  camctl / plain TCP copy: {:.0}% (target >= 80%)", ratio * 100.0);
    let ok = ratio >= 0.8;
    println!("  targets {}", if ok { "met" } else { "NOT met" });
    Ok(ok)
}

/// One measured client run.
struct Run {
    elapsed: Duration,
    peak_rss_kib: u64,
    /// User + system CPU time of the child.
    cpu: Duration,
}

/// The Wyze benchmark's link: a lossy relay and the resend mode.
#[derive(Debug, Clone, Copy, Default)]
pub struct WyzeLink {
    /// Datagrams dropped each way, in percent; `None`: no relay.
    pub loss: Option<f64>,
    /// Ask for the TUTK resend mode.
    pub resend: bool,
}

/// Runs the benchmark of one protocol; returns whether its targets were met.
pub async fn run(
    protocol: EmulatedProtocol,
    size_mib: u64,
    runs: u32,
    seconds: u64,
    realtime: bool,
    link: WyzeLink,
    small_files: usize,
) -> Result<bool> {
    if runs == 0 || size_mib == 0 {
        return Err(Error::InvalidValue("--runs and --size-mib must be at least 1".into()));
    }
    match protocol {
        EmulatedProtocol::Ptpip => {
            let large = ptpip(size_mib, runs).await?;
            let small = if small_files > 0 { ptpip_small_files(small_files, runs).await? } else { true };
            Ok(large && small)
        }
        EmulatedProtocol::Yi => yi(size_mib, runs).await,
        EmulatedProtocol::Lytro => lytro(size_mib, runs).await,
        EmulatedProtocol::Wyze if link.loss.is_some() || link.resend => {
            wyze_lossy(seconds, realtime, link).await
        }
        EmulatedProtocol::Wyze => wyze(seconds, realtime).await,
    }
}

/// Wyze: `camctl live` receiving the emulator's 1080p stream over TUTK/UDP for `seconds`.
async fn wyze(seconds: u64, realtime: bool) -> Result<bool> {
    let work = tempfile::tempdir().map_err(|e| Error::io("creating a temporary folder", e))?;
    let server = bench_camera(realtime).await?;
    let url = server.url().map_err(|e| Error::io("binding", e))?;
    let task = tokio::spawn(server.serve());
    let mode = if realtime { "real time" } else { "as fast as the client takes it" };
    println!("Wyze benchmark: 1080p H.264 from {url}\n  {seconds} s of `camctl live`, frames sent {mode}\n");
    let exe = std::env::current_exe().map_err(|e| Error::io("finding the camctl binary", e))?;
    let out = work.path().join("live.h264");
    let log = work.path().join("live.log");
    let log_file = std::fs::File::create(&log).map_err(|e| Error::io("creating a log", e))?;
    let mut cmd = Command::new(&exe);
    cmd.args(["live", &url, "--for", &seconds.to_string(), "--out"]).arg(&out).stderr(log_file);
    let run = measure(&mut cmd).await?;
    task.abort();

    let video = std::fs::read(&out).map_err(|e| Error::io("reading the recording", e))?;
    let frames = camctl_core::video::frames(&video).count() as u64;
    let info =
        camctl_core::video::clip_info(&video).map_err(|e| Error::Protocol(format!("recording: {e}")))?;
    let summary = std::fs::read_to_string(&log).unwrap_or_default();
    let seconds_run = run.elapsed.as_secs_f64();
    let fps = frames as f64 / seconds_run;
    let cpu_per_frame_us = run.cpu.as_secs_f64() * 1e6 / frames.max(1) as f64;
    println!("  {}", summary.lines().last().unwrap_or("").trim());
    println!("\nresult:");
    println!(
        "  {frames} frames of {}x{} in {seconds_run:.1} s: {fps:.0} frames/s delivered",
        info.width, info.height
    );
    println!("  {} bytes of H.264, {:.1} MB/s", video.len(), video.len() as f64 / 1e6 / seconds_run);
    println!(
        "  camctl live CPU: {:.2} s ({cpu_per_frame_us:.0} us per frame), peak RSS {:.1} MiB",
        run.cpu.as_secs_f64(),
        run.peak_rss_kib as f64 / 1024.0
    );
    let ok = frames > 0 && (info.width, info.height) == (1920, 1080);
    println!("  stream {}", if ok { "valid" } else { "NOT valid" });
    Ok(ok)
}

/// The emulator's identity in the Wyze benchmarks.
const BENCH_UID: &str = "CAMCTLBENCH000000001";
const BENCH_ENR: &str = "camctlEmu/Enr+16";
const BENCH_MAC: &str = "2CAA8E000001";

/// The Wyze benchmarks' emulator: 1080p on a free loopback port, paced in real time or not at all.
async fn bench_camera(realtime: bool) -> Result<camctl_wyze::tutk::TutkServer> {
    let mut config = camctl_wyze::tutk::ServerConfig::new(BENCH_UID, BENCH_ENR, BENCH_MAC);
    config.emulator.frame_size = camctl_wyze::wire::FrameSize::HD_1080P;
    config.emulator.pacing =
        if realtime { camctl_wyze::Pacing::RealTime } else { camctl_wyze::Pacing::Unpaced };
    camctl_wyze::tutk::TutkServer::bind(([127, 0, 0, 1], 0).into(), config)
        .await
        .map_err(|e| Error::io("binding", e))
}

/// Wyze through a lossy relay: the 1080p stream received for `seconds` by camctl's client in this
/// process (the relay, the emulator and the client share it), with or without the resend mode.
/// Reports video frames sent, received complete (each checked byte for byte against the clip) and
/// lost (gaps in the frame numbers), and the packets retransmitted. With resend on, the target is
/// under 1% of the frames lost.
async fn wyze_lossy(seconds: u64, realtime: bool, link: WyzeLink) -> Result<bool> {
    use camctl_core::relay::{Relay, RelayConfig};
    use camctl_wyze::tutk::{ConnectOptions, connect};
    use camctl_wyze::wire::codec;
    let loss = link.loss.unwrap_or(0.0);
    let server = bench_camera(realtime).await?;
    let camera = server.local_addr().map_err(|e| Error::io("binding", e))?;
    let sent = server.stats_handle();
    let task = tokio::spawn(server.serve());
    let relay = Relay::start(camera, RelayConfig::lossy(loss, 1)).await.map_err(|e| Error::io("relay", e))?;
    let mode = if realtime { "real time" } else { "as fast as the client takes it" };
    let resend = if link.resend { "on" } else { "off" };
    println!(
        "Wyze benchmark: 1080p H.264 through a relay losing {loss}% of datagrams each way, resend {resend}\n  \
         {seconds} s, frames sent {mode}\n"
    );
    let clip: std::collections::HashSet<Vec<u8>> =
        camctl_core::video::frames(camctl_core::video::SAMPLE_1080P).map(|f| f.to_annexb()).collect();
    let options =
        ConnectOptions { resend: link.resend, timeout: Duration::from_secs(10), ..Default::default() };
    let transport = connect(relay.local_addr(), BENCH_UID, BENCH_ENR, BENCH_MAC, options)
        .await
        .map_err(|e| Error::Protocol(format!("connecting through the relay: {e}")))?;
    let mut client = camctl_wyze::ClientConfig::new(BENCH_ENR, BENCH_MAC);
    client.timeout = Duration::from_secs(10);
    let session = camctl_wyze::WyzeSession::connect(transport, client)
        .await
        .map_err(|e| Error::Protocol(format!("authenticating through the relay: {e}")))?;
    let start = tokio::time::Instant::now();
    let end = start + Duration::from_secs(seconds);
    let (mut received, mut lost, mut corrupt, mut last) = (0u64, 0u64, 0u64, None::<u32>);
    while let Ok(frame) = tokio::time::timeout_at(end, session.recv_frame()).await {
        let (info, data) = frame.map_err(|e| Error::Protocol(format!("receiving: {e}")))?;
        if !codec::is_video(info.codec_id) {
            continue;
        }
        // The emulator pads frames to the bitrate with filler data: the picture must be the clip's.
        if !camctl_core::video::strip_intact_filler(&data).is_some_and(|picture| clip.contains(&picture)) {
            corrupt += 1;
        }
        if let Some(l) = last {
            lost += u64::from(info.frame_no.saturating_sub(l).saturating_sub(1));
        }
        last = Some(info.frame_no);
        received += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cam = sent.get();
    let client = session.transport().frame_stats();
    let r = relay.stats();
    task.abort();
    let lost_pct = if received + lost > 0 { lost as f64 * 100.0 / (received + lost) as f64 } else { 100.0 };
    println!("result:");
    println!("  video frames sent {}, received complete {received} in {elapsed:.1} s", cam.video_frames);
    println!("  frames lost {lost} ({lost_pct:.2}%, gaps in the frame numbers), corrupt {corrupt}");
    println!(
        "  packets sent {}, retransmitted {}; relay dropped {} to the client, {} to the camera",
        cam.packets, cam.retransmitted, r.dropped_to_client, r.dropped_to_server
    );
    if link.resend {
        let s = client.resend;
        println!(
            "  client: {} requests for {} packets, {} recovered, {} given up, {} frames given up",
            s.requests_sent, s.seqs_requested, s.recovered, s.given_up, client.incomplete
        );
    }
    let ok = received > 0 && corrupt == 0 && (!link.resend || lost_pct < 1.0);
    let target = if link.resend { " (target: under 1% of frames lost)" } else { "" };
    println!("  stream {}{target}", if ok { "valid" } else { "NOT valid" });
    Ok(ok)
}

/// PTP/IP: one `size_mib` object pulled by camctl and by gphoto2.
async fn ptpip(size_mib: u64, runs: u32) -> Result<bool> {
    use camctl_ptpip::emulator::{Emulator, EmulatorConfig};
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

    let plain = plain_copy_runs(&media, &[rel.to_string()], work.path(), size, runs).await?;
    let camctl = pull_runs(&url, work.path(), &[rel], size, runs).await?;
    let recorded = pull_runs_with(&url, work.path(), &[rel], size, runs, true).await?;

    let gphoto2_best = gphoto2_runs(port, work.path(), "large", runs, size, |out| {
        check_size(&out.join("BIG_0001.MOV"), size)
    })
    .await?;
    server.abort();

    let camctl_rate = rate(size, camctl.elapsed);
    let rss_mib = camctl.peak_rss_kib as f64 / 1024.0;
    println!("\nresult:");
    let plain_rate = rate(size, plain);
    let of_plain = camctl_rate / plain_rate;
    println!("  camctl   {camctl_rate:8.1} MB/s, peak RSS {rss_mib:.1} MiB (target < 64 MiB)");
    println!("  plain TCP copy {plain_rate:8.1} MB/s: camctl reaches {of_plain:.2} of it (target >= 0.8)");
    let recorded_rate = rate(size, recorded.elapsed);
    println!(
        "  with the catalog (SHA-256 of every byte): {recorded_rate:8.1} MB/s, {:.2} of the plain copy, peak RSS {:.1} MiB",
        recorded_rate / plain_rate,
        recorded.peak_rss_kib as f64 / 1024.0
    );
    let mut ok = rss_mib < 64.0 && of_plain >= 0.8;
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

/// Size of each file in the small-files case: a typical small JPEG or sidecar.
const SMALL_FILE_BYTES: u64 = 20_000;
/// Files per camera folder, as DCF cameras number them.
const FILES_PER_FOLDER: usize = 1000;

/// PTP/IP: `count` files of 20 KB, camctl pull against gphoto2 --get-all-files on the same emulator
/// and disk, where per-file costs (round trips, fsync, rename) dominate.
async fn ptpip_small_files(count: usize, runs: u32) -> Result<bool> {
    use camctl_ptpip::emulator::{Emulator, EmulatorConfig};
    let work = tempfile::tempdir().map_err(|e| Error::io("creating a temporary folder", e))?;
    let media = work.path().join("media");
    let mut files = Vec::with_capacity(count);
    for i in 0..count {
        // Unique names across folders: gphoto2 puts every file in one folder.
        let rel = format!("DCIM/{:03}EMU01/IMG{:05}.JPG", 100 + i / FILES_PER_FOLDER, i + 1);
        camctl_core::media::write_noise_file(&media.join(&rel), SMALL_FILE_BYTES, i as u64)
            .map_err(|e| Error::io(rel.clone(), e))?;
        files.push(rel);
    }
    let total = SMALL_FILE_BYTES * count as u64;
    let config = EmulatorConfig { media_dir: media.clone(), ..EmulatorConfig::default() };
    let emulator =
        Emulator::bind(([127, 0, 0, 1], 0).into(), config).await.map_err(|e| Error::io("binding", e))?;
    let url = emulator.url();
    let port = emulator.local_addr().port();
    let server = tokio::spawn(emulator.serve());
    println!(
        "
PTP/IP small files: {count} files of {SMALL_FILE_BYTES} bytes from {url}, best of {runs} run(s)
"
    );
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let camctl = pull_runs(&url, work.path(), &refs, total, runs).await?;
    let gphoto2_best = gphoto2_runs(port, work.path(), "small", runs, total, |out| {
        let got = std::fs::read_dir(out).map_err(|e| Error::io("listing", e))?.count();
        if got < count {
            return Err(Error::Protocol(format!("gphoto2 fetched {got} of {count} files")));
        }
        Ok(())
    })
    .await?;
    server.abort();
    let per_second = count as f64 / camctl.elapsed.as_secs_f64().max(1e-9);
    println!(
        "
result:"
    );
    println!(
        "  camctl   {:.2} s, {per_second:.0} files/s, peak RSS {:.1} MiB",
        camctl.elapsed.as_secs_f64(),
        camctl.peak_rss_kib as f64 / 1024.0
    );
    let mut ok = true;
    if let Some(g) = gphoto2_best {
        let ratio = g.elapsed.as_secs_f64() / camctl.elapsed.as_secs_f64().max(1e-9);
        println!("  gphoto2  {:.2} s", g.elapsed.as_secs_f64());
        println!("  camctl speed / gphoto2 speed: {ratio:.2}x (target >= 2x)");
        ok = ratio >= 2.0;
    }
    println!("  targets {}", if ok { "met" } else { "NOT met" });
    Ok(ok)
}

/// `gphoto2 --get-all-files` from the emulator on `port`, `runs` times, each into a fresh folder that
/// `check` inspects; the best run, or `None` when gphoto2 is not installed.
async fn gphoto2_runs(
    port: u16,
    work: &Path,
    tag: &str,
    runs: u32,
    bytes: u64,
    check: impl Fn(&Path) -> Result<()>,
) -> Result<Option<Run>> {
    if !Command::new("gphoto2").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success()) {
        println!("gphoto2 not installed: comparison skipped (apt-get install gphoto2)");
        return Ok(None);
    }
    let mut best_run: Option<Run> = None;
    for i in 0..runs {
        let out = work.join(format!("gphoto2-{tag}-{i}"));
        std::fs::create_dir_all(&out).map_err(|e| Error::io("creating a folder", e))?;
        let mut cmd = Command::new("gphoto2");
        cmd.arg("--port").arg(format!("ptpip:127.0.0.1:{port}:{port}")).arg("--get-all-files");
        cmd.env("HOME", &out).current_dir(&out).stdout(Stdio::null());
        let run = measure(&mut cmd).await?;
        check(&out)?;
        std::fs::remove_dir_all(&out).map_err(|e| Error::io("cleaning up", e))?;
        report_run("gphoto2 --get-all-files", bytes, &run);
        best_run = Some(best(best_run, run));
    }
    Ok(best_run)
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

/// Writes `size` bytes of incompressible-looking data.
fn write_test_file(path: &Path, size: u64) -> Result<()> {
    camctl_core::media::write_noise_file(path, size, 0x9E37_79B9_7F4A_7C15)
        .map_err(|e| Error::io(path.display().to_string(), e))
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
    let time = |t: libc::timeval| Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32) * 1000);
    Ok(Run {
        elapsed,
        peak_rss_kib: rusage.ru_maxrss as u64,
        cpu: time(rusage.ru_utime) + time(rusage.ru_stime),
    })
}

/// How long each serve-benchmark viewer waits for anything before giving up.
const VIEWER_TIMEOUT: Duration = Duration::from_secs(20);

/// What one RTSP viewer of the serve benchmark saw.
#[derive(Default)]
struct ViewerReport {
    frames: u64,
    /// Camera timestamp to receipt of the frame's last packet, per frame (after the first sender report).
    latencies_ms: Vec<f64>,
}

/// `camctl bench serve`: one 1080p Wyze emulator (paced in real time) behind `camctl serve` (a child
/// process, so its CPU is its own), read by `viewers` RTSP viewers over TCP for `seconds`. Reports the
/// gateway's CPU per viewer, the frames each viewer got, and the latency from the camera's frame
/// timestamp to the viewer's receipt (through the RTCP sender reports, which map RTP time to the
/// camera's clock). Targets: under 2% of one core per viewer, under 200 ms (95th percentile).
pub async fn serve(seconds: u64, viewers: usize) -> Result<bool> {
    if seconds == 0 || viewers == 0 {
        return Err(Error::InvalidValue("--seconds and --viewers must be at least 1".into()));
    }
    let server = bench_camera(true).await?;
    let url = server.url().map_err(|e| Error::io("binding", e))?;
    let _camera = AbortOnDrop(tokio::spawn(server.serve()));
    let exe = std::env::current_exe().map_err(|e| Error::io("finding the camctl binary", e))?;
    let mut child = tokio::process::Command::new(exe)
        .args(["serve", &format!("yard={url}"), "--listen", "127.0.0.1:0", "--rtsp-listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::io("starting camctl serve", e))?;
    let pid = child.id().ok_or_else(|| Error::Protocol("camctl serve has no pid".into()))?;
    let stdout = child.stdout.take().ok_or_else(|| Error::Protocol("no stdout".into()))?;
    let mut line = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut tokio::io::BufReader::new(stdout), &mut line)
        .await
        .map_err(|e| Error::io("reading camctl serve", e))?;
    let http: std::net::SocketAddr = line
        .trim()
        .strip_prefix("serving http://")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| Error::Protocol(format!("camctl serve printed {line:?}")))?;
    let rtsp = wait_for_rtsp_url(http, "yard").await?;
    println!("serve benchmark: 1080p H.264 Wyze emulator {url}\n  behind camctl serve (pid {pid}), {rtsp}\n");
    // One viewer first: the camera session starts and the gateway's cost without fan-out is measured.
    let warm_until = Instant::now() + Duration::from_secs(6);
    let first = tokio::spawn(rtsp_viewer(rtsp.clone(), warm_until));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (cpu0, t0) = (process_cpu(pid)?, Instant::now());
    let single = first.await.map_err(|e| Error::Protocol(e.to_string()))??;
    let single_cpu = (process_cpu(pid)? - cpu0).as_secs_f64() / t0.elapsed().as_secs_f64();
    // Then all of them.
    let until = Instant::now() + Duration::from_secs(seconds);
    let (cpu1, t1) = (process_cpu(pid)?, Instant::now());
    let tasks: Vec<_> = (0..viewers).map(|_| tokio::spawn(rtsp_viewer(rtsp.clone(), until))).collect();
    let mut reports = Vec::new();
    for task in tasks {
        reports.push(task.await.map_err(|e| Error::Protocol(e.to_string()))??);
    }
    let elapsed = t1.elapsed().as_secs_f64();
    let fan_out_cpu = (process_cpu(pid)? - cpu1).as_secs_f64() / elapsed;
    // SAFETY: kill(2) on our own child; no memory is involved.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = child.wait().await;

    let per_viewer = fan_out_cpu / viewers as f64;
    let marginal = (fan_out_cpu - single_cpu).max(0.0) / (viewers.saturating_sub(1).max(1)) as f64;
    let frames: Vec<u64> = reports.iter().map(|r| r.frames).collect();
    let (min_frames, max_frames) =
        (frames.iter().min().copied().unwrap_or(0), frames.iter().max().copied().unwrap_or(0));
    let mut latencies: Vec<f64> = reports.iter().flat_map(|r| r.latencies_ms.iter().copied()).collect();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies.get(((latencies.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
    };
    let expected = seconds * 15;
    println!("result ({viewers} viewers, {elapsed:.1} s):");
    println!("  frames per viewer: {min_frames}..{max_frames} (the camera sent about {expected})");
    println!(
        "  latency camera -> viewer: median {:.1} ms, 95th percentile {:.1} ms, max {:.1} ms ({} frames timed)",
        pct(0.5),
        pct(0.95),
        pct(1.0),
        latencies.len()
    );
    println!(
        "  camctl serve CPU: {:.1}% of one core with 1 viewer, {:.1}% with {viewers}: {:.2}% per viewer ({:.2}% for each viewer beyond the first)",
        single_cpu * 100.0,
        fan_out_cpu * 100.0,
        per_viewer * 100.0,
        marginal * 100.0
    );
    println!("  (the single viewer got {} frames)", single.frames);
    let delivered = min_frames as f64 >= expected as f64 * 0.9;
    let met = per_viewer < 0.02 && pct(0.95) < 200.0 && delivered;
    println!(
        "  targets (under 2% of a core per viewer, under 200 ms, every viewer at least 90% of the frames): {}",
        if met { "met" } else { "NOT met" }
    );
    Ok(met)
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<std::io::Result<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// User + system CPU time of process `pid` so far.
fn process_cpu(pid: u32) -> Result<Duration> {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| Error::io("reading /proc", e))?;
    // Fields after the command name (which may hold spaces) are space-separated; utime and stime are
    // the 14th and 15th fields of the line.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11..13).into_iter().flatten().filter_map(|f| f.parse::<u64>().ok()).sum();
    // SAFETY: sysconf has no memory effects.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Duration::from_secs_f64(ticks as f64 / per_second as f64))
}

/// The camera's RTSP URL from the API, once serve has connected to it.
async fn wait_for_rtsp_url(http: std::net::SocketAddr, name: &str) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = crate::demo::http_get(http, &format!("/api/cameras/{name}")).await?;
        let camera: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if camera["state"] == "connected"
            && let Some(url) = camera["rtsp"].as_str()
        {
            return Ok(url.to_string());
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout(format!("serve never connected to the camera: {camera}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One RTSP viewer over TCP (interleaved) until `until`: counts frames (RTP marker bits) and times
/// each against the camera clock the sender reports carry.
async fn rtsp_viewer(url: String, until: Instant) -> Result<ViewerReport> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority =
        url.strip_prefix("rtsp://").and_then(|r| r.split('/').next()).unwrap_or_default().to_string();
    let mut stream =
        tokio::net::TcpStream::connect(&authority).await.map_err(|e| Error::io("RTSP connect", e))?;
    let mut input: Vec<u8> = Vec::new();
    let mut cseq = 0u32;
    let mut session = String::new();
    for (method, target, extra) in [
        ("DESCRIBE", url.clone(), "Accept: application/sdp\r\n".to_string()),
        (
            "SETUP",
            format!("{url}/trackID=0"),
            "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n".to_string(),
        ),
        ("PLAY", url.clone(), String::new()),
    ] {
        cseq += 1;
        let session_header =
            if session.is_empty() { String::new() } else { format!("Session: {session}\r\n") };
        let request = format!("{method} {target} RTSP/1.0\r\nCSeq: {cseq}\r\n{session_header}{extra}\r\n");
        stream.write_all(request.as_bytes()).await.map_err(|e| Error::io("RTSP request", e))?;
        let head = read_rtsp_response(&mut stream, &mut input).await?;
        if !head.starts_with("RTSP/1.0 200") {
            return Err(Error::Protocol(format!("{method}: {}", head.lines().next().unwrap_or(""))));
        }
        if let Some(id) = head.lines().find_map(|l| l.strip_prefix("Session:")) {
            session = id.split(';').next().unwrap_or("").trim().to_string();
        }
    }
    let mut report = ViewerReport::default();
    // (NTP time as Unix time, RTP timestamp) of the last sender report.
    let mut clock: Option<(f64, u32)> = None;
    let mut chunk = vec![0u8; 64 * 1024];
    let mut next_keepalive = Instant::now() + Duration::from_secs(15);
    while Instant::now() < until {
        // Whole interleaved packets first.
        while input.len() >= 4 && input[0] == b'$' {
            let len = usize::from(u16::from_be_bytes([input[2], input[3]]));
            if input.len() < 4 + len {
                break;
            }
            let channel = input[1];
            let packet = &input[4..4 + len];
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            if channel == 0 && packet.len() >= 12 && packet[1] & 0x80 != 0 {
                report.frames += 1;
                let ts = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
                if let Some((ntp, base)) = clock {
                    let captured = ntp + f64::from(ts.wrapping_sub(base) as i32) / 90_000.0;
                    report.latencies_ms.push((now - captured) * 1000.0);
                }
            } else if channel == 1 && packet.len() >= 20 && packet[1] == 200 {
                let secs = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
                let frac = u32::from_be_bytes([packet[12], packet[13], packet[14], packet[15]]);
                let ts = u32::from_be_bytes([packet[16], packet[17], packet[18], packet[19]]);
                let unix = f64::from(secs) - 2_208_988_800.0 + f64::from(frac) / 4_294_967_296.0;
                clock = Some((unix, ts));
            }
            input.drain(..4 + len);
        }
        if input.first().is_some_and(|b| *b != b'$') {
            // A keepalive's answer.
            if let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n") {
                input.drain(..end + 4);
            }
        }
        if Instant::now() >= next_keepalive {
            next_keepalive = Instant::now() + Duration::from_secs(15);
            cseq += 1;
            let request =
                format!("GET_PARAMETER {url} RTSP/1.0\r\nCSeq: {cseq}\r\nSession: {session}\r\n\r\n");
            stream.write_all(request.as_bytes()).await.map_err(|e| Error::io("RTSP keepalive", e))?;
        }
        let wait = until.saturating_duration_since(Instant::now()).min(VIEWER_TIMEOUT);
        match tokio::time::timeout(wait, stream.read(&mut chunk)).await {
            Err(_) => break,
            Ok(Ok(0)) => return Err(Error::Protocol("the RTSP server closed the connection".into())),
            Ok(Ok(n)) => input.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => return Err(Error::io("RTSP read", e)),
        }
    }
    let teardown = format!("TEARDOWN {url} RTSP/1.0\r\nCSeq: {}\r\nSession: {session}\r\n\r\n", cseq + 1);
    let _ = stream.write_all(teardown.as_bytes()).await;
    Ok(report)
}

/// One RTSP response head (and its body, skipped) from `stream`, with `input` holding what was read.
async fn read_rtsp_response(stream: &mut tokio::net::TcpStream, input: &mut Vec<u8>) -> Result<String> {
    use tokio::io::AsyncReadExt;
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&input[..end]).into_owned();
            let body = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length:").or_else(|| l.strip_prefix("content-length:")))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if input.len() >= end + 4 + body {
                input.drain(..end + 4 + body);
                return Ok(head);
            }
        }
        let n = tokio::time::timeout(VIEWER_TIMEOUT, stream.read(&mut chunk))
            .await
            .map_err(|_| Error::Timeout("an RTSP answer".into()))?
            .map_err(|e| Error::io("RTSP read", e))?;
        if n == 0 {
            return Err(Error::Protocol("the RTSP server closed the connection".into()));
        }
        input.extend_from_slice(&chunk[..n]);
    }
}
