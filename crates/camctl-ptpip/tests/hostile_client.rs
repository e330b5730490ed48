//! Hostile clients against the real PTP/IP emulator over 127.0.0.1: symlinks in the media folder
//! never serve or touch anything outside it, and idle or surplus connections cannot lock a normal
//! client out.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use camctl_ptpip::client::{Client, ClientConfig};
use camctl_ptpip::emulator::{Emulator, EmulatorConfig};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

struct Running {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start(dir: &Path, f: impl FnOnce(&mut EmulatorConfig)) -> Running {
    let mut config = EmulatorConfig { media_dir: dir.to_path_buf(), ..EmulatorConfig::default() };
    f(&mut config);
    let emu = Emulator::bind("127.0.0.1:0".parse().unwrap(), config).await.unwrap();
    Running { addr: emu.local_addr(), task: tokio::spawn(emu.serve()) }
}

async fn client(addr: SocketAddr) -> Client {
    Client::connect(&addr.to_string(), ClientConfig::default()).await.unwrap()
}

/// Waits until the emulator closes `s` (EOF or reset).
async fn closed(s: &mut TcpStream) {
    let mut b = [0u8; 64];
    while let Ok(n) = s.read(&mut b).await {
        if n == 0 {
            return;
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_never_serve_or_touch_files_outside_the_media_folder() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.jpg"), b"secret").unwrap();
    std::fs::create_dir(outside.path().join("sub")).unwrap();
    std::fs::write(outside.path().join("sub/victim.jpg"), b"victim").unwrap();
    let media = tempfile::tempdir().unwrap();
    std::fs::write(media.path().join("REAL.JPG"), b"real").unwrap();
    std::fs::write(media.path().join("SWAP.JPG"), b"swap").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.jpg"), media.path().join("LINK.JPG")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("sub"), media.path().join("OUT")).unwrap();
    let emu = start(media.path(), |_| {}).await;
    let mut c = client(emu.addr).await;
    let tree = c.object_tree().await.unwrap();
    let names: Vec<&str> = tree.iter().map(|e| e.info.filename.as_str()).collect();
    assert!(names.contains(&"REAL.JPG") && names.contains(&"SWAP.JPG"), "{names:?}");
    assert!(!names.iter().any(|n| ["LINK.JPG", "OUT", "victim.jpg"].contains(n)), "{names:?}");
    // Every handle the emulator might have: nothing served carries outside bytes.
    for handle in 1..=16 {
        let mut out = Vec::new();
        if c.get_object(handle, &mut out).await.is_ok() {
            assert!(out != b"secret" && out != b"victim", "handle {handle} served an outside file");
        }
    }
    // A listed file swapped for a symlink behind the emulator's back is not served either.
    let swap = tree.iter().find(|e| e.info.filename == "SWAP.JPG").unwrap().handle;
    std::fs::remove_file(media.path().join("SWAP.JPG")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.jpg"), media.path().join("SWAP.JPG")).unwrap();
    let mut out = Vec::new();
    let _ = c.get_object(swap, &mut out).await;
    assert_ne!(out, b"secret", "swapped symlink served");
    // Deleting it removes (at most) the link, never its target.
    let mut c = client(emu.addr).await;
    let _ = c.delete_object(swap).await;
    assert_eq!(std::fs::read(outside.path().join("secret.jpg")).unwrap(), b"secret");
    assert_eq!(std::fs::read(outside.path().join("sub/victim.jpg")).unwrap(), b"victim");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 2);
}

#[tokio::test]
async fn surplus_connections_are_closed_and_idle_ones_time_out() {
    let media = tempfile::tempdir().unwrap();
    let emu = start(media.path(), |c| {
        c.max_connections = 3;
        c.idle_timeout = Duration::from_millis(300);
    })
    .await;
    // Three command connections past their handshake, then silent.
    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(emu.addr).await.unwrap();
        handshake(&mut s).await;
        idle.push(s);
    }
    // A fourth socket is closed at once (the reset may even beat `connect`).
    if let Ok(mut extra) = TcpStream::connect(emu.addr).await {
        closed(&mut extra).await;
    }
    for s in &mut idle {
        closed(s).await;
    }
    let mut c = client(emu.addr).await;
    assert!(!c.object_tree().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_normal_client_gets_in_past_200_idle_connections() {
    let media = tempfile::tempdir().unwrap();
    let emu = start(media.path(), |c| c.max_connections = 256).await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(emu.addr).await.unwrap());
    }
    let mut c = client(emu.addr).await;
    assert!(!c.object_tree().await.unwrap().is_empty());
    drop(idle);
}

/// Init_Command_Request by hand, then reads the Ack.
async fn handshake(s: &mut TcpStream) {
    use camctl_ptpip::wire::{PROTOCOL_VERSION, Packet};
    let req =
        Packet::InitCommandRequest { guid: [9; 16], name: "idle".into(), version: Some(PROTOCOL_VERSION) };
    send(s, &req).await;
    read_packet(s).await;
}

async fn send(s: &mut TcpStream, p: &camctl_ptpip::wire::Packet) {
    use tokio::io::AsyncWriteExt;
    let mut bytes = Vec::new();
    p.encode(&mut bytes).unwrap();
    s.write_all(&bytes).await.unwrap();
}

/// Reads one whole packet (length-prefixed), returning its type.
async fn read_packet(s: &mut TcpStream) -> u32 {
    let mut head = [0u8; 8];
    s.read_exact(&mut head).await.unwrap();
    let len = u32::from_le_bytes(head[..4].try_into().unwrap()) as usize;
    let mut rest = vec![0u8; len - 8];
    s.read_exact(&mut rest).await.unwrap();
    u32::from_le_bytes(head[4..].try_into().unwrap())
}

fn request(code: u16, tid: u32, params: &[u32]) -> camctl_ptpip::wire::Packet {
    use camctl_ptpip::wire::{OperationRequest, Packet, Params, data_phase};
    Packet::OperationRequest(OperationRequest {
        data_phase: data_phase::NONE_OR_IN,
        code,
        tid,
        params: Params::new(params),
    })
}

/// Resident memory of this process (the emulator runs in it), from the kernel's accounting.
#[cfg(target_os = "linux")]
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// 200 clients ask for a 4 MiB object and never read past the first bytes: the emulator streams in
/// bounded pieces, so they do not cost a megabyte or more each.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn stalled_readers_do_not_hold_big_buffers() {
    use camctl_ptpip::wire::codes::op;
    const CLIENTS: usize = 200;
    let media = tempfile::tempdir().unwrap();
    std::fs::write(media.path().join("BIG.JPG"), camctl_core::media::noise(4 << 20, 5)).unwrap();
    let emu = start(media.path(), |c| c.max_connections = CLIENTS + 8).await;
    let before = rss_bytes();
    let mut stalled = Vec::new();
    for _ in 0..CLIENTS {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut s = socket.connect(emu.addr).await.unwrap();
        handshake(&mut s).await;
        send(&mut s, &request(op::OPEN_SESSION, 1, &[1])).await;
        read_packet(&mut s).await;
        // The only object is handle 1.
        send(&mut s, &request(op::GET_OBJECT, 2, &[1])).await;
        // Start_Data arrived: the emulator is streaming; the rest is never read.
        read_packet(&mut s).await;
        stalled.push(s);
    }
    let grown = rss_bytes().saturating_sub(before);
    assert!(grown < 96 << 20, "{} MiB for {CLIENTS} stalled readers", grown >> 20);
    let mut c = client(emu.addr).await;
    assert!(!c.object_tree().await.unwrap().is_empty());
    drop(stalled);
}

#[tokio::test]
async fn graceful_shutdown_closes_every_connection() {
    let media = tempfile::tempdir().unwrap();
    let config = EmulatorConfig { media_dir: media.path().to_path_buf(), ..EmulatorConfig::default() };
    let emu = Emulator::bind("127.0.0.1:0".parse().unwrap(), config).await.unwrap();
    let addr = emu.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(emu.serve_until(async move {
        let _ = stopped.await;
    }));
    let mut s = TcpStream::connect(addr).await.unwrap();
    handshake(&mut s).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    closed(&mut s).await;
    assert!(TcpStream::connect(addr).await.is_err(), "no longer listening");
}
