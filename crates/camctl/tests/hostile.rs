//! Hostile peers against the camctl process itself (issue 10): the real binary as a child process,
//! fake cameras and hostile clients in the test over real sockets on 127.0.0.1. Each test asserts a
//! bound at the process level: peak RSS through `wait4`'s `ru_maxrss`, a clear error within a generous
//! deadline, an emulator that stays available under a 1024-fd limit.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream as StdTcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use camctl_ambarella::wire::JsonStream;
use camctl_ptpip::wire::codes::{format, op, rc};
use camctl_ptpip::wire::{
    CodeAndParams, DeviceInfo, HEADER_LEN, Header, ObjectInfo, OperationRequest, Packet, Params,
    encode_u32_array,
};
use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Generous overall limit for one camctl run: only there so a regression fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(120);

/// One test at a time in this file: a child's `ru_maxrss` starts from what its parent held when it
/// was spawned, and the fd-limit tests fork while holding a thousand sockets, so concurrent tests
/// would inflate (never deflate) each other's figures.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}
/// The memory bound for a client.
const MAX_RSS_KIB: i64 = 64 * 1024;

// ---------------------------------------------------------------------------------------------------
// Running camctl as a measured child process.

/// How one camctl run ended.
struct Measured {
    /// Exit code (`None`: killed by a signal).
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// Peak resident set size of the process, in KiB (`ru_maxrss`).
    max_rss_kib: i64,
    elapsed: Duration,
}

/// Runs `camctl ARGS` to its end (killed and failing after [`DEADLINE`]), reaping it with `wait4` for
/// its resource usage.
fn run_measured(args: &[&str]) -> Measured {
    let out = tempfile::tempdir().unwrap();
    let (so, se) = (out.path().join("stdout"), out.path().join("stderr"));
    let start = Instant::now();
    let child = camctl()
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&so).unwrap())
        .stderr(std::fs::File::create(&se).unwrap())
        .spawn()
        .expect("spawn camctl");
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut status = 0;
        // SAFETY: an all-zero rusage is valid; wait4 writes into the two locals only.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        let _ = tx.send((r, status, usage));
    });
    let (r, status, usage) = match rx.recv_timeout(DEADLINE) {
        Ok(done) => done,
        Err(_) => {
            // SAFETY: kill(2) on our own, not yet reaped, child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = rx.recv();
            panic!(
                "camctl {args:?} still ran after {DEADLINE:?}; stderr: {}",
                std::fs::read_to_string(&se).unwrap_or_default()
            );
        }
    };
    let elapsed = start.elapsed();
    assert_eq!(r, pid, "wait4 failed: {}", std::io::Error::last_os_error());
    // Reaped by wait4: the Child handle must not wait again.
    drop(child);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Measured {
        code,
        stdout: std::fs::read_to_string(&so).unwrap(),
        stderr: std::fs::read_to_string(&se).unwrap(),
        max_rss_kib: usage.ru_maxrss,
        elapsed,
    }
}

impl Measured {
    fn report(&self, what: &str) {
        eprintln!(
            "{what}: exit {:?}, peak RSS {} KiB ({:.1} MiB), {:.2} s, stderr {:?}",
            self.code,
            self.max_rss_kib,
            self.max_rss_kib as f64 / 1024.0,
            self.elapsed.as_secs_f64(),
            self.stderr.lines().last().unwrap_or("")
        );
    }

    /// Success, or a failure with a clear error of a line or two, after at most a few (rate-limited)
    /// warnings.
    fn assert_ended_cleanly(&self) {
        assert!(self.code.is_some(), "killed by a signal; stderr: {}", self.stderr);
        if self.code != Some(0) {
            let lines: Vec<&str> = self.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            let (warnings, error): (Vec<&str>, Vec<&str>) = lines.iter().partition(|l| l.contains(" WARN "));
            assert!(error.len() <= 3 && warnings.len() <= 20, "not a clear error: {}", self.stderr);
            assert!(lines.iter().all(|l| l.len() < 400), "not a clear error: {}", self.stderr);
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

// ---------------------------------------------------------------------------------------------------
// A fake PTP/IP camera (the minimal equivalent of crates/camctl-ptpip/tests/common).

enum Reply {
    Cmd(Vec<u8>),
    /// These bytes, then one more byte every interval, forever.
    Trickle(Vec<u8>, Duration),
}

type Handler = dyn Fn(&OperationRequest) -> Reply + Send + Sync;

fn response(tid: u32, code: u16) -> Vec<u8> {
    Packet::OperationResponse(CodeAndParams { code, tid, params: Params::new(&[]) }).to_bytes().unwrap()
}

fn data(tid: u32, data: Vec<u8>) -> Vec<u8> {
    let mut out = Packet::StartData { tid, total: data.len() as u64 }.to_bytes().unwrap();
    Packet::EndData { tid, data }.encode(&mut out).unwrap();
    out.extend(response(tid, rc::OK));
    out
}

async fn read_packet<S: AsyncRead + Unpin>(s: &mut S) -> Option<Packet> {
    let mut head = [0u8; HEADER_LEN];
    s.read_exact(&mut head).await.ok()?;
    let header = Header::decode(&head).ok()?;
    let mut payload = vec![0u8; header.payload_len()];
    s.read_exact(&mut payload).await.ok()?;
    Packet::decode(header.kind, &payload).ok()
}

fn device_info() -> Vec<u8> {
    let di = DeviceInfo {
        standard_version: 100,
        operations: vec![
            op::GET_DEVICE_INFO,
            op::OPEN_SESSION,
            op::CLOSE_SESSION,
            op::GET_STORAGE_IDS,
            op::GET_OBJECT_HANDLES,
            op::GET_OBJECT_INFO,
            op::GET_OBJECT,
        ],
        manufacturer: "Hostile".into(),
        model: "H-1".into(),
        serial_number: "HOSTILE1".into(),
        ..DeviceInfo::default()
    };
    let mut out = Vec::new();
    di.encode(&mut out);
    out
}

fn object_info(parent: u32, name: &str, format: u16, size: u32) -> Vec<u8> {
    let info = ObjectInfo {
        storage_id: 0x0001_0001,
        format,
        compressed_size: size,
        parent,
        filename: name.into(),
        ..ObjectInfo::default()
    };
    let mut out = Vec::new();
    info.encode(&mut out);
    out
}

/// Starts a fake camera on 127.0.0.1 that opens any number of sessions (one after another) and
/// answers requests through `handler`; returns its port.
async fn fake_ptpip(handler: Arc<Handler>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut cmd, _)) = listener.accept().await else { return };
            let Some(Packet::InitCommandRequest { .. }) = read_packet(&mut cmd).await else { continue };
            let ack = Packet::InitCommandAck {
                connection: 1,
                guid: [7; 16],
                name: "hostile".into(),
                version: None,
            };
            cmd.write_all(&ack.to_bytes().unwrap()).await.unwrap();
            let Ok((mut events, _)) = listener.accept().await else { return };
            let Some(Packet::InitEventRequest { .. }) = read_packet(&mut events).await else { continue };
            events.write_all(&Packet::InitEventAck.to_bytes().unwrap()).await.unwrap();
            let handler = Arc::clone(&handler);
            tokio::spawn(async move {
                let _events = events;
                while let Some(Packet::OperationRequest(req)) = read_packet(&mut cmd).await {
                    let r = match req.code {
                        op::OPEN_SESSION | op::CLOSE_SESSION => Reply::Cmd(response(req.tid, rc::OK)),
                        op::GET_DEVICE_INFO => Reply::Cmd(data(req.tid, device_info())),
                        op::GET_STORAGE_IDS => Reply::Cmd(data(req.tid, encode_u32_array(&[0x0001_0001]))),
                        _ => handler(&req),
                    };
                    if send_reply(&mut cmd, r).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

async fn send_reply(cmd: &mut TcpStream, r: Reply) -> std::io::Result<()> {
    match r {
        Reply::Cmd(bytes) => cmd.write_all(&bytes).await,
        Reply::Trickle(bytes, every) => {
            cmd.write_all(&bytes).await?;
            loop {
                // The hostile behaviour itself (a trickle), not synchronisation.
                tokio::time::sleep(every).await;
                cmd.write_all(b"x").await?;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// 1. Emulators stay available under a 1024-fd limit.

/// Raises this process's soft RLIMIT_NOFILE to its hard limit; returns the new soft limit.
fn raise_own_fd_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
        lim.rlim_cur as u64
    }
}

/// An emulator started with RLIMIT_NOFILE 1024:1024; stopped when dropped.
struct LimitedEmulator {
    child: std::process::Child,
    url: String,
}

impl LimitedEmulator {
    fn start(protocol: &str, media: &Path) -> LimitedEmulator {
        let mut cmd = camctl();
        cmd.args(["emulate", protocol, "--listen", "127.0.0.1:0", "--media"])
            .arg(media)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // SAFETY: setrlimit is async-signal-safe; the closure allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit { rlim_cur: 1024, rlim_max: 1024 };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("spawn camctl emulate");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.strip_prefix("listening ").unwrap_or_else(|| panic!("unexpected {line:?}"));
        LimitedEmulator { child, url: url.trim().to_string() }
    }

    /// The command port in the URL.
    fn port(&self) -> u16 {
        let authority = self.url.split("://").nth(1).unwrap();
        let hostport = authority.split(['/', '?']).next().unwrap();
        hostport.rsplit(':').next().unwrap().parse().unwrap()
    }
}

impl Drop for LimitedEmulator {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

fn emulator_available_under_fd_limit(protocol: &str) {
    assert!(raise_own_fd_limit() >= 1100, "the test needs about 1,100 descriptors");
    let media = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(media.path().join("DCIM/100TEST")).unwrap();
    write_random_file(&media.path().join("DCIM/100TEST/IMG_0001.JPG"), 20_000, 1);
    let emu = LimitedEmulator::start(protocol, media.path());
    let port = emu.port();
    // 1,000 idle connections; one the emulator refuses (reset) while it is being set up does not count.
    let mut idle: Vec<StdTcpStream> = Vec::new();
    let mut refused = 0usize;
    while idle.len() < 1000 {
        match StdTcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => idle.push(s),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && refused < 100_000 => refused += 1,
            Err(e) => panic!("connection {}: {e}", idle.len()),
        }
    }
    let out = run_measured(&["info", &emu.url]);
    out.report(&format!("{protocol}: info with 1000 idle connections held ({refused} resets while opening)"));
    assert_eq!(out.code, Some(0), "camctl info failed: {}", out.stderr);
    assert!(out.stdout.contains("Model:"), "{}", out.stdout);
    assert!(out.stdout.contains("Protocol:"), "{}", out.stdout);
    drop(idle);
}

#[test]
fn ptpip_emulator_serves_a_client_while_1000_idle_connections_are_held() {
    let _serial = serial();
    emulator_available_under_fd_limit("ptpip");
}

#[test]
fn yi_emulator_serves_a_client_while_1000_idle_connections_are_held() {
    let _serial = serial();
    emulator_available_under_fd_limit("yi");
}

#[test]
fn lytro_emulator_serves_a_client_while_1000_idle_connections_are_held() {
    let _serial = serial();
    emulator_available_under_fd_limit("lytro");
}

// ---------------------------------------------------------------------------------------------------
// 2. Client peak RSS under 64 MiB against hostile cameras.

/// A fake Yi camera: answers the session start, and before answering msg 3 (all settings) sends 100
/// notifications of (just under) 1 MiB. Returns (command port, data port).
async fn fake_yi_flood() -> (u16, u16) {
    let cmd = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let data = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ports = (cmd.local_addr().unwrap().port(), data.local_addr().unwrap().port());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = data.accept().await {
            held.push(s);
        }
    });
    tokio::spawn(async move {
        while let Ok((s, _)) = cmd.accept().await {
            tokio::spawn(async move {
                let _ = serve_yi_flood(s).await;
            });
        }
    });
    ports
}

async fn send_json(s: &mut TcpStream, v: Value) -> std::io::Result<()> {
    s.write_all(v.to_string().as_bytes()).await
}

async fn serve_yi_flood(mut s: TcpStream) -> std::io::Result<()> {
    let mut stream = JsonStream::new(1 << 20);
    let mut buf = vec![0u8; 4096];
    let big = "x".repeat((1 << 20) - 100);
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.push(&buf[..n]);
        let mut requests = Vec::new();
        while let Ok(Some(o)) = stream.next_object() {
            requests.push(serde_json::from_slice::<Value>(o).unwrap());
        }
        for req in requests {
            let id = req["msg_id"].as_i64().unwrap_or(0);
            match id {
                257 => send_json(&mut s, json!({"rval": 0, "msg_id": 257, "param": 1})).await?,
                3 => {
                    for i in 0..100 {
                        send_json(&mut s, json!({"msg_id": 7, "type": format!("big{i}"), "param": big}))
                            .await?;
                    }
                    let settings = json!([{"hw_version": "Z13V1"}, {"sw_version": "HOSTILE.1"},
                        {"serial_number": "YIHOSTILE"}]);
                    send_json(&mut s, json!({"rval": 0, "msg_id": 3, "param": settings})).await?;
                }
                _ => send_json(&mut s, json!({"rval": 0, "msg_id": id})).await?,
            }
        }
    }
}

#[test]
fn yi_client_rss_stays_bounded_under_100_notifications_of_1_mib() {
    let _serial = serial();
    let rt = runtime();
    let (cmd, data) = rt.block_on(fake_yi_flood());
    let url = format!("yi://127.0.0.1:{cmd}?data_port={data}");
    let out = run_measured(&["info", &url]);
    out.report("yi info, 100 x 1 MiB notifications");
    out.assert_ended_cleanly();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("YIHOSTILE"), "{}", out.stdout);
    assert!(out.max_rss_kib < MAX_RSS_KIB, "peak RSS {} KiB", out.max_rss_kib);
}

/// A camera whose storage holds a chain of `depth` folders named with 254 characters, and one file at
/// the root.
fn deep_chain_camera(depth: u32) -> Arc<Handler> {
    const FILE: u32 = 0x0010_0000;
    Arc::new(move |req: &OperationRequest| {
        let tid = req.tid;
        match req.code {
            op::GET_OBJECT_HANDLES => {
                let parent = req.params.get(2);
                let handles: Vec<u32> = if parent == 0xFFFF_FFFF {
                    vec![1, FILE]
                } else if parent < depth {
                    vec![parent + 1]
                } else {
                    vec![]
                };
                Reply::Cmd(data(tid, encode_u32_array(&handles)))
            }
            op::GET_OBJECT_INFO => {
                let h = req.params.get(0);
                if h == FILE {
                    return Reply::Cmd(data(tid, object_info(0, "ROOT.JPG", format::EXIF_JPEG, 1000)));
                }
                // 254 characters: the longest name a PTP string carries.
                let name = format!("{h:05}{}", "d".repeat(249));
                Reply::Cmd(data(tid, object_info(h - 1, &name, format::ASSOCIATION, 0)))
            }
            _ => Reply::Cmd(response(tid, rc::OPERATION_NOT_SUPPORTED)),
        }
    })
}

#[test]
fn ptpip_ls_rss_stays_bounded_with_folders_nested_2000_deep() {
    let _serial = serial();
    let rt = runtime();
    let port = rt.block_on(fake_ptpip(deep_chain_camera(2000)));
    let out = run_measured(&["ls", &format!("ptpip://127.0.0.1:{port}")]);
    out.report("ptpip ls, folders nested 2000 deep");
    out.assert_ended_cleanly();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("ROOT.JPG"), "{}", out.stdout);
    assert!(out.max_rss_kib < MAX_RSS_KIB, "peak RSS {} KiB", out.max_rss_kib);
}

// ---------------------------------------------------------------------------------------------------
// 3. Time bound: a camera announcing 4 GiB, then sending a byte every 2 s.

fn trickle_camera() -> Arc<Handler> {
    Arc::new(move |req: &OperationRequest| {
        let tid = req.tid;
        match req.code {
            op::GET_OBJECT_HANDLES => {
                let parent = req.params.get(2);
                let handles: Vec<u32> = if parent == 0xFFFF_FFFF { vec![1] } else { vec![] };
                Reply::Cmd(data(tid, encode_u32_array(&handles)))
            }
            op::GET_OBJECT_INFO => {
                // 0xFFFFFFFF: 4 GiB or more.
                Reply::Cmd(data(tid, object_info(0, "HUGE.MOV", format::QUICKTIME, u32::MAX)))
            }
            op::GET_OBJECT => {
                // 4 GiB announced, then a data packet as long as a header allows, then a byte at a time.
                let mut head = Packet::StartData { tid, total: 4 << 30 }.to_bytes().unwrap();
                head.extend_from_slice(&Header::encode(camctl_ptpip::wire::kind::DATA, 0xFFFF_0000).unwrap());
                head.extend_from_slice(&tid.to_le_bytes());
                Reply::Trickle(head, Duration::from_secs(2))
            }
            _ => Reply::Cmd(response(tid, rc::OPERATION_NOT_SUPPORTED)),
        }
    })
}

fn find_named(root: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| n == name) {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn ptpip_pull_from_a_trickling_camera_fails_too_slow_and_keeps_the_part_file() {
    let _serial = serial();
    let rt = runtime();
    let port = rt.block_on(fake_ptpip(trickle_camera()));
    let target = tempfile::tempdir().unwrap();
    let url = format!("ptpip://127.0.0.1:{port}?floor=64/2");
    let out = run_measured(&["pull", &url, target.path().to_str().unwrap()]);
    out.report("ptpip pull, 4 GiB announced, 1 byte every 2 s");
    assert!(out.code.is_some_and(|c| c != 0), "exit {:?}; stdout: {}", out.code, out.stdout);
    assert!(
        out.stderr.contains("PTP/IP connection: transfer too slow: fewer than 64 bytes in 2 s"),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    let parts = find_named(target.path(), ".HUGE.MOV.camctl-part");
    assert_eq!(parts.len(), 1, "partial file kept: {:?}", files_under(target.path()));
    assert!(out.max_rss_kib < MAX_RSS_KIB, "peak RSS {} KiB", out.max_rss_kib);
}

/// A fake Lytro camera: every command answered with an empty payload (enough for `capture` to fire),
/// and, on the callback port, `fat` callbacks near the line cap, sent as fast as the client takes
/// them, then the stream closed without the NewPictureAvailable the capture waits for. Returns
/// (command port, callback port).
async fn fake_lytro_callback_flood(fat: usize) -> (u16, u16) {
    use camctl_lytro::wire::{HEADER_LEN as LYTRO_HEADER, Header as LytroHeader, encode_callback};
    let cmd = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callbacks = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ports = (cmd.local_addr().unwrap().port(), callbacks.local_addr().unwrap().port());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = cmd.accept().await {
            tokio::spawn(async move {
                loop {
                    let mut head = [0u8; LYTRO_HEADER];
                    if s.read_exact(&mut head).await.is_err() {
                        return;
                    }
                    let Ok(req) = LytroHeader::decode(&head) else { return };
                    let mut payload = vec![0u8; req.payload_len() as usize];
                    if s.read_exact(&mut payload).await.is_err()
                        || s.write_all(&req.response(0).encode()).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    tokio::spawn(async move {
        while let Ok((mut s, _)) = callbacks.accept().await {
            tokio::spawn(async move {
                // Many tiny parameters: each one a separate allocation once parsed.
                let message = encode_callback("ShutterPressed", &vec!["p"; 1900]);
                for _ in 0..fat {
                    if s.write_all(&message).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    ports
}

#[test]
fn lytro_capture_rss_stays_bounded_under_a_callback_flood() {
    let _serial = serial();
    let rt = runtime();
    // 20,000 fat callbacks: about 76 MB of callback text, several hundred MB once parsed.
    let (cmd, callbacks) = rt.block_on(fake_lytro_callback_flood(20_000));
    let url = format!("lytro://127.0.0.1:{cmd}?callback_port={callbacks}&download_port=0&keepalive=0");
    let out = run_measured(&["capture", &url]);
    out.report("lytro capture, 20,000 fat callbacks");
    out.assert_ended_cleanly();
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("callback stream closed during capture"), "{}", out.stderr);
    assert!(out.max_rss_kib < MAX_RSS_KIB, "peak RSS {} KiB", out.max_rss_kib);
}
