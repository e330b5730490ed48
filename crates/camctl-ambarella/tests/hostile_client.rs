//! Hostile clients against the real Yi emulator over 127.0.0.1: symlinks in the media folder never
//! lead outside it, and idle or surplus connections cannot lock a normal client out.

mod common;

use std::time::Duration;

use camctl_ambarella::client::{Client, ClientConfig};
use common::{Emu, emulator_with};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

const DIR: &str = "/tmp/fuse_d/DCIM/100MEDIA";

async fn client(emu: &Emu) -> Client {
    Client::connect(&emu.addr, &emu.data_addr, ClientConfig::default()).await.unwrap()
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
async fn symlinks_never_lead_outside_the_media_folder() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.jpg"), b"secret").unwrap();
    std::fs::create_dir(outside.path().join("sub")).unwrap();
    std::fs::write(outside.path().join("sub/victim.jpg"), b"victim").unwrap();
    let emu = emulator_with(|_| {}).await;
    let media = emu.media().join("DCIM/100MEDIA");
    std::os::unix::fs::symlink(outside.path().join("secret.jpg"), media.join("LINK.jpg")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("sub"), media.join("OUT")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("sub/victim.jpg"), media.join("VICTIM.jpg")).unwrap();

    let mut c = client(&emu).await;
    // Listing: the symlinks are not there, and a symlinked folder cannot be listed or entered.
    let names: Vec<String> = c.list(DIR).await.unwrap().into_iter().map(|e| e.name).collect();
    assert!(names.iter().all(|n| n != "LINK.jpg" && n != "OUT" && n != "VICTIM.jpg"), "{names:?}");
    assert!(names.iter().any(|n| n == "YDXJ0001.jpg"), "{names:?}");
    assert!(c.list(&format!("{DIR}/OUT")).await.is_err());
    assert!(c.cd(&format!("{DIR}/OUT")).await.is_err());
    // Reading through either kind of link fails.
    assert!(c.download(&format!("{DIR}/LINK.jpg"), 0, &mut Vec::new()).await.is_err());
    assert!(c.download(&format!("{DIR}/OUT/victim.jpg"), 0, &mut Vec::new()).await.is_err());
    assert!(c.media_info(&format!("{DIR}/LINK.jpg")).await.is_err());
    // Overwriting, creating and deleting through them fails.
    let evil = b"overwritten".to_vec();
    let md5 = md5_of(&evil);
    assert!(
        c.upload_from(&mut evil.as_slice(), evil.len() as u64, &md5, &format!("{DIR}/VICTIM.jpg"))
            .await
            .is_err()
    );
    assert!(
        c.upload_from(&mut evil.as_slice(), evil.len() as u64, &md5, &format!("{DIR}/OUT/new.jpg"))
            .await
            .is_err()
    );
    assert!(c.delete(&format!("{DIR}/VICTIM.jpg")).await.is_err());
    assert!(c.delete(&format!("{DIR}/OUT/victim.jpg")).await.is_err());
    assert!(c.delete(&format!("{DIR}/OUT/*.jpg")).await.is_err());
    // A glob delete in the media folder removes real files but never the symlinks' targets.
    c.delete(&format!("{DIR}/*.jpg")).await.unwrap();
    drop(c);

    assert_eq!(std::fs::read(outside.path().join("secret.jpg")).unwrap(), b"secret");
    assert_eq!(std::fs::read(outside.path().join("sub/victim.jpg")).unwrap(), b"victim");
    assert!(!outside.path().join("sub/new.jpg").exists());
    assert_eq!(std::fs::read_dir(outside.path().join("sub")).unwrap().count(), 1);
    assert!(!media.join("YDXJ0001.jpg").exists());
}

fn md5_of(b: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test]
async fn uploads_over_the_cap_are_refused() {
    let emu = emulator_with(|c| c.max_upload = 1000).await;
    let mut c = client(&emu).await;
    let big = vec![7u8; 1001];
    let md5 = md5_of(&big);
    assert!(
        c.upload_from(&mut big.as_slice(), big.len() as u64, &md5, &format!("{DIR}/BIG.bin")).await.is_err()
    );
    assert!(!emu.media().join("DCIM/100MEDIA/BIG.bin").exists());
}

#[tokio::test]
async fn uploads_larger_than_the_free_space_are_refused_before_any_byte() {
    let emu = emulator_with(|c| {
        c.card_bytes = u64::MAX;
        c.max_upload = u64::MAX;
    })
    .await;
    let free = camctl_core::serve::free_space(emu.media()).expect("statvfs of the media folder");
    let mut c = client(&emu).await;
    // Announced larger than the disk holds; only 1 MiB is at hand, so an emulator that accepted would
    // end the upload with "source ended", not with the camera's refusal.
    let head = vec![7u8; 1 << 20];
    let err = c
        .upload_from(&mut head.as_slice(), free + (1 << 30), &md5_of(&head), &format!("{DIR}/HUGE.bin"))
        .await
        .unwrap_err();
    assert_eq!(err.rval(), Some(camctl_ambarella::wire::rval::NO_MORE_SPACE), "{err}");
    assert!(!emu.media().join("DCIM/100MEDIA/HUGE.bin").exists());
}

#[tokio::test]
async fn surplus_connections_are_closed_and_idle_ones_time_out() {
    let emu = emulator_with(|c| {
        c.max_connections = 3;
        c.idle_timeout = Duration::from_millis(300);
    })
    .await;
    // Three idle connections fill the cap; a fourth is closed at once.
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(&emu.addr).await.unwrap());
    }
    // (The reset may even arrive before `connect` returns.)
    if let Ok(mut extra) = TcpStream::connect(&emu.addr).await {
        closed(&mut extra).await;
    }
    // The idle ones are closed by the emulator's idle timeout (waited for, not slept on) ...
    for s in &mut idle {
        closed(s).await;
    }
    // ... and a normal client gets in.
    let mut c = client(&emu).await;
    assert!(!c.list(DIR).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_normal_client_gets_in_past_200_idle_connections() {
    let emu = emulator_with(|c| c.max_connections = 256).await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(&emu.addr).await.unwrap());
    }
    let mut c = client(&emu).await;
    assert!(!c.list(DIR).await.unwrap().is_empty());
    drop(idle);
}
