//! Hostile clients against the real Lytro emulator over 127.0.0.1: symlinks in the media folder never
//! serve anything outside it, and idle or surplus connections cannot lock a normal client out.

mod common;

use std::time::Duration;

use common::{client, config, start, start_with};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

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
async fn symlinked_files_are_never_served() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"secret").unwrap();
    std::fs::create_dir(outside.path().join("dir")).unwrap();
    std::fs::write(outside.path().join("dir/IMG_0009.JPG"), b"secret").unwrap();
    let media = tempfile::tempdir().unwrap();
    std::fs::write(media.path().join("IMG_0001.JPG"), b"real").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), media.path().join("IMG_0001.TXT")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), media.path().join("IMG_0002.JPG")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("dir"), media.path().join("linked")).unwrap();
    let emu = start(media.path()).await;
    let mut c = client(&emu).await;
    let list = c.picture_list().await.unwrap();
    let numbers: Vec<u32> = list.entries.iter().map(|e| e.file_number).collect();
    assert_eq!(numbers, [1], "only the real picture is listed");
    let entry = list.entries[0].clone();
    for ext in ["JPG", "TXT"] {
        let mut out = Vec::new();
        let _ = c.download_file(&entry.camera_path(ext), 0, &mut out).await;
        assert_ne!(out, b"secret", "{ext} served from outside");
    }
    // The listed JPEG swapped for a symlink behind the emulator's back is not served either.
    std::fs::remove_file(media.path().join("IMG_0001.JPG")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), media.path().join("IMG_0001.JPG")).unwrap();
    let mut out = Vec::new();
    let _ = c.download_file(&entry.camera_path("JPG"), 0, &mut out).await;
    assert_ne!(out, b"secret", "swapped symlink served");
    assert_eq!(std::fs::read(outside.path().join("secret")).unwrap(), b"secret");
}

#[tokio::test]
async fn surplus_connections_are_closed_and_idle_ones_time_out() {
    let media = tempfile::tempdir().unwrap();
    let mut cfg = config(media.path());
    // The client uses a command and a callback connection.
    cfg.max_connections = 3;
    cfg.idle_timeout = Duration::from_millis(300);
    let emu = start_with(cfg).await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(("127.0.0.1", emu.command_port)).await.unwrap());
    }
    if let Ok(mut extra) = TcpStream::connect(("127.0.0.1", emu.command_port)).await {
        closed(&mut extra).await;
    }
    for s in &mut idle {
        closed(s).await;
    }
    let mut c = client(&emu).await;
    c.picture_list().await.unwrap();
}

#[tokio::test]
async fn a_normal_client_gets_in_past_200_idle_connections() {
    let media = tempfile::tempdir().unwrap();
    let mut cfg = config(media.path());
    cfg.max_connections = 256;
    let emu = start_with(cfg).await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(("127.0.0.1", emu.command_port)).await.unwrap());
    }
    let mut c = client(&emu).await;
    c.picture_list().await.unwrap();
    drop(idle);
}

/// Resident memory of this process (the emulator runs in it), from the kernel's accounting.
#[cfg(target_os = "linux")]
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Reads one response frame (header and payload) from a raw socket.
async fn read_frame(s: &mut TcpStream) -> camctl_lytro::wire::Header {
    let mut head = [0u8; camctl_lytro::wire::HEADER_LEN];
    s.read_exact(&mut head).await.unwrap();
    let header = camctl_lytro::wire::Header::decode(&head).unwrap();
    let mut payload = vec![0u8; header.payload_len() as usize];
    s.read_exact(&mut payload).await.unwrap();
    header
}

/// 200 clients load a RAW, ask for a 2 MiB chunk of it and never read past the response header: the
/// emulator's memory for them stays bounded (pieces of 128 KiB, not a whole chunk per connection).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn stalled_readers_do_not_hold_whole_chunks() {
    use camctl_lytro::wire::Request;
    use tokio::io::AsyncWriteExt;
    const CLIENTS: usize = 200;
    let media = tempfile::tempdir().unwrap();
    std::fs::write(media.path().join("IMG_0001.RAW"), common::pseudo_random(4 << 20, 3)).unwrap();
    let mut cfg = config(media.path());
    cfg.max_connections = CLIENTS + 8;
    let emu = start_with(cfg).await;
    let mut c = client(&emu).await;
    let entry = c.picture_list().await.unwrap().entries[0].clone();
    let path = entry.camera_path("RAW");
    let load = Request::load_file(&path).unwrap().to_bytes();
    let fetch = Request::download(0, 0x20_0000).to_bytes();
    let before = rss_bytes();
    let mut stalled = Vec::new();
    for _ in 0..CLIENTS {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut s = socket.connect(([127, 0, 0, 1], emu.command_port).into()).await.unwrap();
        s.write_all(&load).await.unwrap();
        read_frame(&mut s).await;
        s.write_all(&fetch).await.unwrap();
        // The response has started (its header is here); the rest is never read.
        let mut head = [0u8; camctl_lytro::wire::HEADER_LEN];
        s.read_exact(&mut head).await.unwrap();
        stalled.push(s);
    }
    let grown = rss_bytes().saturating_sub(before);
    // 2 MiB per stalled connection would be 400 MiB.
    assert!(grown < 96 << 20, "{} MiB for {CLIENTS} stalled readers", grown >> 20);
    // And the emulator still serves a normal client.
    c.picture_list().await.unwrap();
    drop(stalled);
}
