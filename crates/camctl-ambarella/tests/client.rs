//! The client (and `YiCamera`) against the emulator over real sockets on 127.0.0.1.

mod common;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use camctl_ambarella::client::{Client, ClientConfig};
use camctl_ambarella::wire::{Command, rval};
use camctl_ambarella::{Error, YiCamera};
use camctl_core::{Camera, CameraUrl, Error as CoreError, SettingForm};
use common::{Emu, emulator, emulator_with, pseudo_random};
use tokio::io::AsyncWrite;

async fn camera(emu: &Emu) -> YiCamera {
    let url: CameraUrl = emu.url.parse().unwrap();
    YiCamera::connect(&url).await.unwrap()
}

async fn client(emu: &Emu, config: ClientConfig) -> Client {
    Client::connect(&emu.addr, &emu.data_addr, config).await.unwrap()
}

const BIG: &str = "/tmp/fuse_d/DCIM/100MEDIA/YDXJ0100.mp4";

/// Puts a 3 MiB pseudo-random file on the card.
fn big_file(emu: &Emu) -> Vec<u8> {
    let data = pseudo_random(3 << 20, 7);
    std::fs::write(emu.media().join("DCIM/100MEDIA/YDXJ0100.mp4"), &data).unwrap();
    data
}

#[tokio::test]
async fn url_info_and_fresh_card() {
    let emu = emulator().await;
    assert!(emu.url.starts_with("yi://127.0.0.1:") && emu.url.contains("?data_port="));
    let mut cam = camera(&emu).await;
    let info = cam.info().await.unwrap();
    assert_eq!(info.protocol, "ambarella");
    assert_eq!((info.model.as_str(), info.serial.as_str()), ("YDXJ01", "Z23L534S5413894"));
    assert!(info.firmware.starts_with("YDXJv22L_1.2.13"));
    assert_eq!(info.battery, Some(86));
    let items = cam.list_media().await.unwrap();
    let paths: Vec<&str> = items.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "DCIM/100MEDIA/YDXJ0001.jpg",
            "DCIM/100MEDIA/YDXJ0002.jpg",
            "DCIM/100MEDIA/YDXJ0003.jpg",
            "DCIM/100MEDIA/YDXJ0004.mp4"
        ]
    );
    assert!(items.iter().all(|i| i.size > 0 && i.modified.is_some()));
    let s = cam.storage().await.unwrap();
    assert_eq!(s.total_kib, 32 << 20);
    assert!(s.free_kib < s.total_kib);
    cam.close().await.unwrap();
    // The ambarella:// alias and the default data port option parse too.
    let url: CameraUrl =
        format!("ambarella://{}?data_port={}", emu.addr, emu.data_addr.rsplit(':').next().unwrap())
            .parse()
            .unwrap();
    YiCamera::connect(&url).await.unwrap().close().await.unwrap();
}

#[tokio::test]
async fn settings_get_set_and_allowed_values() {
    let emu = emulator().await;
    let mut cam = camera(&emu).await;
    let all = cam.settings().await.unwrap();
    assert_eq!(all.len(), 57);
    assert_eq!(all[0].key, "camera_clock");
    let standard = all.iter().find(|s| s.key == "video_standard").unwrap();
    assert_eq!(standard.form, SettingForm::Choices { choices: vec!["NTSC".into(), "PAL".into()] });
    assert!(standard.writable);
    let burst = cam.setting("burst_capture_number").await.unwrap();
    assert_eq!(burst.value, "7 p / s"); // sent as "7 p \/ s"
    assert!(!cam.setting("serial_number").await.unwrap().writable);

    let s = cam.set_setting("video_standard", "PAL").await.unwrap();
    assert_eq!(s.value, "PAL");
    assert!(matches!(cam.set_setting("video_standard", "SECAM").await, Err(CoreError::InvalidValue(_))));
    assert!(matches!(cam.set_setting("serial_number", "x").await, Err(CoreError::InvalidValue(_))));
    assert!(matches!(cam.setting("no_such_key").await, Err(CoreError::NotFound(_))));
    let s = cam.set_setting("camera_clock", "2016-03-28 02:00:18").await.unwrap();
    assert_eq!(s.value, "2016-03-28 02:00:18");
    assert_eq!(s.form, SettingForm::Free);

    // Protocol level: the camera's own rvals, and the early-firmware describe form.
    let c = cam.client();
    let r = c.request(&Command::SetSetting { key: "video_standard", value: "SECAM" }).await.unwrap();
    assert_eq!(r.rval, rval::INVALID_OPTION_VALUE);
    let r = c.request(&Command::SetSetting { key: "sw_version", value: "x" }).await.unwrap();
    assert_eq!(r.rval, rval::NOT_WRITABLE);
    let r = c.request(&Command::SetSetting { key: "camera_clock", value: "tomorrow" }).await.unwrap();
    assert_eq!(r.rval, rval::JSON_SYNTAX_ERROR);
    let r = c.request(&Command::DescribeSetting { key: "buzzer_volume" }).await.unwrap();
    assert_eq!(r.param().unwrap()[0]["buzzer_volume"], "settable:high#low#mute");
    let o = c.setting_options("meter_mode").await.unwrap();
    assert_eq!(o.options, ["center", "average", "spot"]);
    c.set_setting("meter_mode", "spot").await.unwrap();
    assert_eq!(c.get_setting("meter_mode").await.unwrap(), "spot");
    assert_eq!(c.all_settings().await.unwrap()[23], ("meter_mode".into(), "spot".into()));
    cam.close().await.unwrap();
}

#[tokio::test]
async fn unchanged_value_answers_are_tolerated() {
    for code in [rval::INVALID_OPERATION, rval::SYSTEM_BUSY] {
        let emu = emulator_with(|c| c.unchanged_rval = code).await;
        let mut c = client(&emu, ClientConfig::default()).await;
        let r = c.request(&Command::SetSetting { key: "meter_mode", value: "average" }).await.unwrap();
        assert_eq!(r.rval, code);
        c.set_setting("meter_mode", "average").await.unwrap();
        c.close().await.unwrap();
    }
}

#[tokio::test]
async fn whole_download_is_md5_verified_in_both_data_orders() {
    for early in [false, true] {
        let emu = emulator_with(|c| c.data_before_reply = early).await;
        let data = big_file(&emu);
        let mut c = client(&emu, ClientConfig::default()).await;
        let mut out = Vec::new();
        let done = c.download(BIG, 0, &mut out).await.unwrap();
        assert!(done.verified && done.bytes == data.len() as u64 && done.size == data.len() as u64);
        assert!(out == data);
        // Again on the kept data connection (MD5 now cached by the emulator), and a small file.
        let mut out = Vec::new();
        assert!(c.download(BIG, 0, &mut out).await.unwrap().verified);
        assert!(out == data);
        let jpg = std::fs::read(emu.media().join("DCIM/100MEDIA/YDXJ0001.jpg")).unwrap();
        let mut out = Vec::new();
        c.download("/tmp/fuse_d/DCIM/100MEDIA/YDXJ0001.jpg", 0, &mut out).await.unwrap();
        assert_eq!(out, jpg);
        let err = c.download("/tmp/fuse_d/DCIM/100MEDIA/NOPE.jpg", 0, &mut Vec::new()).await.unwrap_err();
        assert_eq!(err.rval(), Some(rval::INVALID_PATH));
        c.close().await.unwrap();
    }
}

/// A writer that fails after `limit` bytes, like a full disk.
struct FailAfter {
    data: Vec<u8>,
    limit: usize,
}

impl AsyncWrite for FailAfter {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let room = self.limit - self.data.len();
        if room == 0 {
            return Poll::Ready(Err(std::io::Error::other("disk full")));
        }
        let n = room.min(buf.len());
        self.data.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn interrupted_download_resumes_from_the_partial_offset() {
    let emu = emulator().await;
    let data = big_file(&emu);
    let mut cam = camera(&emu).await;
    let item =
        cam.list_media().await.unwrap().into_iter().find(|i| i.path.ends_with("YDXJ0100.mp4")).unwrap();
    let mut partial = FailAfter { data: Vec::new(), limit: 1_234_567 };
    let err = cam.download(&item, 0, &mut partial).await.unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    // Same session: the transfer was cancelled, so the next one is not refused as busy.
    let mut rest = Vec::new();
    let n = cam.download(&item, partial.data.len() as u64, &mut rest).await.unwrap();
    assert_eq!(n as usize, data.len() - partial.data.len());
    partial.data.extend_from_slice(&rest);
    assert!(partial.data == data);
    cam.close().await.unwrap();
}

/// A writer that never finishes (the client is dropped while it waits).
struct Stall(usize);

impl AsyncWrite for Stall {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        if self.0 > 500_000 {
            return Poll::Pending;
        }
        self.0 += buf.len();
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn client_dropped_mid_transfer_then_another_resumes() {
    let emu = emulator().await;
    let data = big_file(&emu);
    let mut first = client(&emu, ClientConfig::default()).await;
    let stalled = tokio::time::timeout(Duration::from_millis(300), async {
        let mut w = Stall(0);
        first.download(BIG, 0, &mut w).await
    })
    .await;
    assert!(stalled.is_err(), "the download must still be stuck");
    drop(first); // connection closed mid-transfer: the emulator ends that session and its transfer
    let mut second = client(&emu, ClientConfig::default()).await;
    let mut tail = Vec::new();
    let done = second.download(BIG, 1_000_000, &mut tail).await.unwrap();
    assert!(!done.verified);
    assert!(tail[..] == data[1_000_000..]);
    second.close().await.unwrap();
}

#[tokio::test]
async fn photo_video_preview_and_events() {
    let emu = emulator().await;
    let mut cam = camera(&emu).await;
    assert_eq!(cam.next_event().await.unwrap().unwrap().name, "vf_stop"); // sent before the 257 reply
    let a = cam.capture().await.unwrap();
    let b = cam.capture().await.unwrap();
    assert_eq!(a[0].path, "DCIM/100MEDIA/YDXJ0005.jpg");
    assert_eq!(b[0].path, "DCIM/100MEDIA/YDXJ0006.jpg");
    let (mut ja, mut jb) = (Vec::new(), Vec::new());
    cam.download(&a[0], 0, &mut ja).await.unwrap();
    cam.download(&b[0], 0, &mut jb).await.unwrap();
    assert!(ja.starts_with(&[0xFF, 0xD8]) && ja.len() as u64 == a[0].size && ja != jb);
    let names: Vec<String> = (0..4).map(|_| cam.client().try_next_event().unwrap().kind).collect();
    assert_eq!(
        names,
        ["start_photo_capture", "precise_capture_data_ready", "photo_taken", "start_photo_capture"]
    );
    while cam.client().try_next_event().is_some() {}

    assert_eq!(cam.record_time().await.unwrap(), None);
    cam.start_recording().await.unwrap();
    let refused = cam.capture().await;
    assert!(
        matches!(&refused, Err(CoreError::Rejected(m)) if m == "stop the recording first"),
        "no photo while recording: {refused:?}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(cam.record_time().await.unwrap().unwrap() >= 1);
    let video = cam.stop_recording().await.unwrap();
    assert!(video.path.ends_with(".mp4") && video.size > 10_000);
    let mp4 = std::fs::read(emu.media().join(&video.path)).unwrap();
    assert_eq!(&mp4[4..8], b"ftyp");
    let kinds: Vec<String> = std::iter::from_fn(|| cam.client().try_next_event()).map(|n| n.kind).collect();
    assert_eq!(kinds, ["start_video_record", "vf_stop", "video_record_complete", "vf_start"]);
    ffprobe(&emu.media().join(&video.path));

    let url = cam.start_preview().await.unwrap();
    assert_eq!(url, format!("rtsp://{}/live", emu.rtsp_addr));
    cam.stop_preview().await.unwrap();
    // vf_stop follows the 260 reply: wait for it rather than poll.
    assert_eq!(cam.next_event().await.unwrap().unwrap().name, "vf_start");
    let stop = tokio::time::timeout(Duration::from_secs(5), cam.next_event()).await.unwrap();
    assert_eq!(stop.unwrap().unwrap().name, "vf_stop");
    cam.close().await.unwrap();
}

/// Checks the recording with ffprobe: a failure when `CI=true` and ffprobe is missing, a skip otherwise.
fn ffprobe(path: &std::path::Path) {
    if std::process::Command::new("ffprobe").arg("-version").output().is_err() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "ffprobe is required when CI=true");
        eprintln!("skipping the ffprobe check: ffprobe not installed");
        return;
    }
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("h264,"), "{stdout}");
    let frames: u32 = stdout.trim().rsplit(',').next().unwrap().parse().unwrap();
    assert!(frames >= 15, "{stdout}");
}

#[tokio::test]
async fn upload_thumbnail_delete_and_format() {
    let emu = emulator().await;
    let mut cam = camera(&emu).await;
    let src = emu.media().join("upload-src.bin");
    let payload = pseudo_random(2_500_000, 11);
    std::fs::write(&src, &payload).unwrap();
    let n = cam.upload(&src, "/tmp/fuse_d/DCIM/100MEDIA/UP000001.bin").await.unwrap();
    assert_eq!(n, payload.len() as u64);
    assert!(std::fs::read(emu.media().join("DCIM/100MEDIA/UP000001.bin")).unwrap() == payload);
    // A bare name goes to the session's directory.
    cam.client().cd("/tmp/fuse_d/DCIM/100MEDIA").await.unwrap();
    std::fs::write(&src, b"").unwrap();
    cam.upload(&src, "EMPTY.TXT").await.unwrap();
    assert_eq!(std::fs::read(emu.media().join("DCIM/100MEDIA/EMPTY.TXT")).unwrap(), b"");
    // The camera's MD5 disagrees with a lying client.
    let mut bytes: &[u8] = b"hello";
    let err = cam.client().upload_from(&mut bytes, 5, "00000000000000000000000000000000", "HELLO.TXT").await;
    assert!(matches!(err, Err(Error::Md5Mismatch { .. })), "{err:?}");
    let r = cam.client().request(&Command::PutFile { path: "X", offset: 0, size: 1, md5: "" }).await.unwrap();
    assert_eq!(r.rval, rval::INVALID_PARAM);

    let items = cam.list_media().await.unwrap();
    let up = items.iter().find(|i| i.path.ends_with("UP000001.bin")).unwrap().clone();
    let mut back = Vec::new();
    cam.download(&up, 0, &mut back).await.unwrap();
    assert!(back == payload);

    let jpg = items.iter().find(|i| i.path.ends_with("YDXJ0001.jpg")).unwrap().clone();
    let thumb = cam.thumbnail(&jpg).await.unwrap();
    assert!(thumb.starts_with(&[0xFF, 0xD8]) && thumb.len() < 20_000);
    assert_eq!(thumb, cam.thumbnail(&jpg).await.unwrap());
    let info = cam.client().media_info("/tmp/fuse_d/DCIM/100MEDIA/YDXJ0001.jpg").await.unwrap();
    assert_eq!(
        (info.text("resolution").unwrap().as_str(), info.text("media_type").unwrap().as_str()),
        ("640x480", "img")
    );
    let info = cam.client().media_info("YDXJ0004.mp4").await.unwrap();
    assert_eq!(info.text("duration").as_deref(), Some("2"));

    cam.delete(&jpg).await.unwrap();
    assert!(!emu.media().join(&jpg.path).exists());
    assert!(matches!(cam.delete(&jpg).await, Err(CoreError::NotFound(_))));
    cam.client().delete("/tmp/fuse_d/DCIM/100MEDIA/YDXJ*.jpg").await.unwrap();
    assert_eq!(cam.list_media().await.unwrap().iter().filter(|i| i.path.ends_with(".jpg")).count(), 0);
    cam.format().await.unwrap();
    assert!(cam.list_media().await.unwrap().is_empty());
    assert!(cam.capture().await.unwrap()[0].path.ends_with("YDXJ0001.jpg"));
    cam.close().await.unwrap();
}

#[tokio::test]
async fn holder_keeps_the_session_by_default() {
    let emu = emulator().await;
    let mut a = client(&emu, ClientConfig::default()).await;
    let token = a.token();
    let b = Client::connect(&emu.addr, &emu.data_addr, ClientConfig::default()).await;
    assert!(matches!(b, Err(Error::SessionTaken)), "{:?}", b.err());
    assert_eq!(a.get_setting("video_standard").await.unwrap(), "NTSC");
    assert_eq!(a.token(), token);
    a.close().await.unwrap();
}

#[tokio::test]
async fn yielding_holder_loses_the_session_and_cannot_take_it_back() {
    let emu = emulator_with(|c| c.holder_timeout = Duration::from_millis(200)).await;
    let yielding = ClientConfig { keep_session: false, ..ClientConfig::default() };
    let mut a = client(&emu, yielding).await;
    let mut b = client(&emu, ClientConfig::default()).await;
    assert_ne!(a.token(), b.token());
    // a's token is gone: -4, re-authentication, but b keeps the session.
    let err = a.get_setting("video_standard").await.unwrap_err();
    assert!(matches!(err, Error::SessionTaken), "{err}");
    assert_eq!(b.get_setting("video_standard").await.unwrap(), "NTSC");
    b.close().await.unwrap();
}

#[tokio::test]
async fn invalid_token_triggers_transparent_reauthentication() {
    for zero in [false, true] {
        let emu = emulator_with(|c| {
            c.holder_timeout = Duration::from_millis(200);
            c.invalid_token_msg_id_zero = zero;
        })
        .await;
        let yielding = ClientConfig { keep_session: false, ..ClientConfig::default() };
        let mut a = client(&emu, yielding.clone()).await;
        let first = a.token();
        let mut b = client(&emu, yielding).await;
        // a retries with a new session (b yields), transparently.
        assert_eq!(a.get_setting("video_standard").await.unwrap(), "NTSC");
        assert!(a.token() > b.token() && b.token() > first);
        // And back.
        assert_eq!(b.battery().await.unwrap().percent, Some(86));
        b.close().await.unwrap();
    }
}

#[tokio::test]
async fn stop_session_then_commands_are_refused_until_a_new_session() {
    let emu = emulator().await;
    let mut raw = common::Raw::connect(&emu.addr).await;
    let token = raw.session().await;
    assert_eq!(
        raw.ask(format!(r#"{{"msg_id":258,"token":{token}}}"#).as_bytes()).await,
        r#"{"rval":0,"msg_id":258}"#
    );
    let r = raw.ask(format!(r#"{{"msg_id":1,"token":{token},"type":"app_status"}}"#).as_bytes()).await;
    assert_eq!(r, r#"{"rval":-14,"msg_id":1}"#);
    let token = raw.session().await;
    let r = raw.ask(format!(r#"{{"msg_id":1,"token":{token},"type":"app_status"}}"#).as_bytes()).await;
    assert_eq!(r, r#"{"rval":0,"msg_id":1,"type":"app_status","param":"idle"}"#);
}
