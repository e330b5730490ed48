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

/// Init_Command_Request by hand, then reads the Ack's header and payload.
async fn handshake(s: &mut TcpStream) {
    use camctl_ptpip::wire::{PROTOCOL_VERSION, Packet};
    use tokio::io::AsyncWriteExt;
    let req =
        Packet::InitCommandRequest { guid: [9; 16], name: "idle".into(), version: Some(PROTOCOL_VERSION) };
    let mut bytes = Vec::new();
    req.encode(&mut bytes).unwrap();
    s.write_all(&bytes).await.unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.unwrap();
    let mut rest = vec![0u8; u32::from_le_bytes(len) as usize - 4];
    s.read_exact(&mut rest).await.unwrap();
}
