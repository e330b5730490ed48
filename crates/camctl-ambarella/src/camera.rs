//! [`camctl_core::Camera`] for the Ambarella remote API: what `camctl` drives, plus the extra operations
//! of these cameras (recording, live view, upload, delete, thumbnails, format, card space).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use camctl_core::text::Safe;
use camctl_core::time::DateTime;
use camctl_core::{
    Camera, CameraInfo, CameraUrl, Error as CoreError, Event, MediaItem, Result, Setting, SettingForm,
};
use tokio::io::AsyncWrite;

use crate::client::{Client, ClientConfig, Storage};
use crate::live::{LiveOptions, LiveReport, RtpTransport};
use crate::wire::{as_text, parse_date, rval};
use crate::{DEFAULT_DATA_PORT, DEFAULT_PORT, SD_ROOT};

/// An Ambarella camera (Xiaomi Yi...) behind a [`Client`] session.
///
/// ```no_run
/// # async fn demo() -> camctl_core::Result<()> {
/// use camctl_core::Camera;
/// let url = "yi://127.0.0.1:7878?data_port=8787".parse().unwrap();
/// let mut cam = camctl_ambarella::YiCamera::connect(&url).await?;
/// for item in cam.list_media().await? {
///     println!("{} {}", item.path, item.size);
/// }
/// cam.close().await
/// # }
/// ```
pub struct YiCamera {
    client: Client,
    /// MD5 from `get_file_complete` of the last download of each camera path (whole-file MD5, see
    /// [`Camera::reported_md5`]).
    md5s: HashMap<String, String>,
    /// `verify=0` turns every MD5 check off, resumed files included.
    verify: bool,
    /// `rtsp_transport=udp` asks for RTP over UDP in [`YiCamera::live`].
    transport: RtpTransport,
}

/// The URL options `yi://` understands.
// `floor` last: the order is the one error messages list them in, new options after the old.
const OPTIONS: &[&str] = &["data_port", "timeout", "verify", "floor", "rtsp_port", "rtsp_transport"];

/// How long `next_event` waits before it sends a cheap request to keep the session alive.
const EVENT_KEEPALIVE: Duration = Duration::from_secs(30);

/// The setting holding the camera's clock.
const CLOCK: &str = "camera_clock";

fn check_options(url: &CameraUrl) -> Result<()> {
    url.check_options(OPTIONS).map_err(|e| CoreError::InvalidValue(e.to_string()))
}

/// What the user typed for the clock, as the camera's `YYYY-MM-DD hh:mm:ss`: `now` is the local time
/// (the camera shows local time, as gphoto2 sets it); anything else must be a real calendar date.
fn clock_value(value: &str) -> Result<String> {
    if value.trim().eq_ignore_ascii_case("now") {
        return Ok(DateTime::now_local().to_string());
    }
    DateTime::parse(value).map(|d| d.to_string()).ok_or_else(|| {
        CoreError::InvalidValue(format!(
            "'{}' for {CLOCK}: use YYYY-MM-DD hh:mm:ss (a real date, local time) or now",
            Safe(value)
        ))
    })
}

/// Camera path of a media item (`id` holds it; `path` is relative to the card root).
fn camera_path(item: &MediaItem) -> String {
    if item.id.starts_with('/') {
        item.id.clone()
    } else {
        format!("{SD_ROOT}/{}", item.path.trim_start_matches('/'))
    }
}

/// `DCIM/100MEDIA/x.jpg` for `/tmp/fuse_d/DCIM/100MEDIA/x.jpg` (other roots kept as given, minus `/`).
fn relative_path(camera: &str) -> String {
    let rest = camera.strip_prefix(SD_ROOT).or_else(|| camera.strip_prefix("/var/www")).unwrap_or(camera);
    rest.trim_start_matches('/').to_string()
}

impl YiCamera {
    /// Connects to `yi://HOST[:PORT][?data_port=N][&rtsp_port=M][&rtsp_transport=tcp|udp][&verify=0]
    /// [&timeout=SECS][&floor=BYTES/SECS]` (or `ambarella://`), defaults 7878, 8787 and 554 (the
    /// live-view URL of the 257 reply wins over `rtsp_port`). `floor` is the slowest transfer accepted (default
    /// `1024/20`: fewer than 1 KiB in 20 s fails; `0` turns it off). `verify=0` skips the MD5 check of whole-file downloads (it costs CPU at
    /// high speed); `timeout` is the longest wait for one answer (default 10 s). Other options are
    /// refused before any packet is sent.
    pub async fn connect(url: &CameraUrl) -> Result<YiCamera> {
        check_options(url)?;
        let timeout = match url.options.get("timeout") {
            None => ClientConfig::default().timeout,
            Some(v) => {
                v.parse::<u64>().ok().filter(|s| *s > 0).map(Duration::from_secs).ok_or_else(|| {
                    CoreError::InvalidValue(format!(
                        "timeout={} (use a whole number of seconds, 1 or more)",
                        Safe(v)
                    ))
                })?
            }
        };
        let verify_md5 = url.option_bool("verify", true)?;
        let floor = match url.options.get("floor") {
            None => ClientConfig::default().floor,
            Some(v) => camctl_core::io::Floor::parse(v).ok_or_else(|| {
                CoreError::InvalidValue(format!(
                    "floor={} (use BYTES/SECS, e.g. 1024/20, or 0 for none)",
                    Safe(v)
                ))
            })?,
        };
        Self::connect_with(url, ClientConfig { verify_md5, timeout, floor, ..ClientConfig::default() }).await
    }

    /// Connects with explicit client settings.
    pub async fn connect_with(url: &CameraUrl, config: ClientConfig) -> Result<YiCamera> {
        if url.scheme != "yi" && url.scheme != "ambarella" {
            return Err(CoreError::InvalidValue(format!("not a yi:// or ambarella:// URL: {url}")));
        }
        check_options(url)?;
        let data_port = url
            .option_u16("data_port")
            .map_err(|e| CoreError::InvalidValue(e.to_string()))?
            .unwrap_or(DEFAULT_DATA_PORT);
        let data_url = CameraUrl { port: Some(data_port), options: Default::default(), ..url.clone() };
        let mut config = config;
        if let Some(port) = url.option_u16("rtsp_port").map_err(|e| CoreError::InvalidValue(e.to_string()))? {
            config.rtsp_port = Some(port);
        }
        let transport = match url.options.get("rtsp_transport").map(String::as_str) {
            None | Some("tcp") => RtpTransport::Tcp,
            Some("udp") => RtpTransport::Udp,
            Some(other) => {
                return Err(CoreError::InvalidValue(format!(
                    "rtsp_transport={} (use tcp or udp)",
                    Safe(other)
                )));
            }
        };
        let verify = config.verify_md5;
        let client =
            Client::connect(&url.socket_addr(DEFAULT_PORT), &data_url.socket_addr(DEFAULT_DATA_PORT), config)
                .await?;
        Ok(YiCamera { client, md5s: HashMap::new(), verify, transport })
    }

    /// The underlying session, for protocol-level operations.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// A media item for a camera path, with size and date from msg 1026.
    async fn item_for(&mut self, camera: &str) -> Result<MediaItem> {
        let info = self.client.media_info(camera).await?;
        Ok(MediaItem {
            path: relative_path(camera),
            size: info.int("size").and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
            modified: info.text("date").as_deref().and_then(parse_date),
            id: camera.to_string(),
        })
    }

    /// Starts recording video; "already recording" when it is.
    pub async fn start_recording(&mut self) -> Result<()> {
        match self.client.start_recording().await {
            // The camera's -14 ("not possible now") on 513: say why when the reason is a recording.
            Err(e) if e.rval() == Some(rval::INVALID_OPERATION) && self.is_recording().await => {
                Err(CoreError::Rejected("already recording".into()))
            }
            r => Ok(r?),
        }
    }

    /// Whether the camera is recording now (msg 515 answers a time only then).
    async fn is_recording(&mut self) -> bool {
        matches!(self.client.record_time().await, Ok(Some(_)))
    }

    /// The user's reason for a refusal the camera gives while it records, if that is the reason.
    async fn busy_recording(&mut self, e: &crate::Error) -> Option<CoreError> {
        let code = e.rval()?;
        let maybe = matches!(code, rval::PIV_NOT_ALLOWED | rval::INVALID_OPERATION | rval::SYSTEM_BUSY);
        (maybe && self.is_recording().await).then(|| CoreError::Rejected("stop the recording first".into()))
    }

    /// Stops recording; returns the new video file.
    pub async fn stop_recording(&mut self) -> Result<MediaItem> {
        let path = self.client.stop_recording().await?;
        self.item_for(&path).await
    }

    /// Seconds recorded so far, `None` when not recording.
    pub async fn record_time(&mut self) -> Result<Option<u64>> {
        Ok(self.client.record_time().await?)
    }

    /// Starts the live view; returns its RTSP URL (`rtsp://HOST/live` unless the camera names another).
    pub async fn start_preview(&mut self) -> Result<String> {
        Ok(self.client.start_preview().await?)
    }

    /// Stops the live view.
    pub async fn stop_preview(&mut self) -> Result<()> {
        Ok(self.client.stop_preview().await?)
    }

    /// Records the live view to `out` (Annex-B H.264) with [`Client::live`]: the preview is started,
    /// read over RTSP (the URL's `rtsp_transport`, TCP by default) until `duration`, `frames` or `stop`,
    /// and stopped again whatever happened.
    pub async fn live<W: std::io::Write>(
        &mut self,
        out: W,
        duration: Option<Duration>,
        frames: Option<u64>,
        stop: impl Future<Output = ()>,
    ) -> std::result::Result<LiveReport, (CoreError, LiveReport)> {
        let options = LiveOptions { duration, frames, transport: self.transport, ..LiveOptions::default() };
        self.client.live(out, &options, stop).await.map_err(|e| (e.error.into(), e.report))
    }

    /// Uploads a local file. `remote` is an absolute camera path (`/tmp/fuse_d/...`), a path relative to
    /// the card root (`DCIM/100MEDIA/x.jpg`) or a bare name (the session's directory). Returns bytes sent.
    pub async fn upload(&mut self, local: &Path, remote: &str) -> Result<u64> {
        let remote = if remote.starts_with('/') || !remote.contains('/') {
            remote.to_string()
        } else {
            format!("{SD_ROOT}/{remote}")
        };
        Ok(self.client.upload(local, &remote).await?)
    }

    /// Deletes a file.
    pub async fn delete(&mut self, item: &MediaItem) -> Result<()> {
        Ok(self.client.delete(&camera_path(item)).await?)
    }

    /// The camera's thumbnail of a file (a small JPEG).
    pub async fn thumbnail(&mut self, item: &MediaItem) -> Result<Vec<u8>> {
        Ok(self.client.thumbnail(&camera_path(item)).await?)
    }

    /// Formats the memory card (erases everything).
    pub async fn format(&mut self) -> Result<()> {
        Ok(self.client.format().await?)
    }

    /// Card size and free space.
    pub async fn storage(&mut self) -> Result<Storage> {
        Ok(self.client.storage().await?)
    }

    async fn describe(&mut self, key: &str, value: String) -> Result<Setting> {
        let (writable, form) = match self.client.setting_options(key).await {
            Ok(o) if o.options.is_empty() => (o.settable, SettingForm::Free),
            Ok(o) => (o.settable, SettingForm::Choices { choices: o.options }),
            // No option list at all: show it, but do not claim it can be set.
            Err(e) => {
                tracing::debug!(key, error = %e, "no options");
                (false, SettingForm::Free)
            }
        };
        Ok(Setting { key: key.to_string(), label: key.replace('_', " "), value, writable, form })
    }
}

impl Camera for YiCamera {
    async fn info(&mut self) -> Result<CameraInfo> {
        let settings = self.client.all_settings().await?;
        let get =
            |k: &str| settings.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap_or_default();
        let (hw, sw, serial) = (get("hw_version"), get("sw_version"), get("serial_number"));
        let battery = self.client.battery().await.ok();
        // msg 11 is optional (the Yi's answer shape is undocumented): use what it has.
        let device = self.client.device_info().await.ok();
        let field = |k: &str| device.as_ref().and_then(|d| d.get(k)).map(as_text).filter(|s| !s.is_empty());
        let model = field("model")
            .unwrap_or_else(|| if hw.is_empty() { "Ambarella camera".into() } else { hw.clone() });
        let mut extra = Vec::new();
        if !hw.is_empty() {
            extra.push(("hardware".to_string(), hw));
        }
        for key in ["video_standard", "system_mode", "sd_card_status", "app_status"] {
            let v = get(key);
            if !v.is_empty() {
                extra.push((key.replace('_', " "), v));
            }
        }
        if let Some(b) = battery.filter(|b| b.adapter) {
            extra.push((
                "power".into(),
                if b.percent.is_some() { "USB adapter".into() } else { "adapter".into() },
            ));
        }
        if let Ok(s) = self.client.storage().await {
            extra.push((
                "storage".into(),
                format!("{} MiB free of {} MiB", s.free_kib >> 10, s.total_kib >> 10),
            ));
        }
        Ok(CameraInfo {
            protocol: "ambarella".into(),
            manufacturer: field("brand").unwrap_or_else(|| "Xiaomi YI".into()),
            model,
            serial,
            firmware: field("fw_ver").unwrap_or(sw),
            battery: battery.and_then(|b| b.percent),
            extra,
        })
    }

    async fn list_media(&mut self) -> Result<Vec<MediaItem>> {
        let root = format!("{SD_ROOT}/DCIM");
        let mut items = Vec::new();
        let top = self.client.list(&root).await?;
        for entry in top {
            if entry.is_dir {
                let dir = format!("{root}/{}", entry.name);
                for file in self.client.list(&dir).await?.into_iter().filter(|f| !f.is_dir) {
                    let camera = format!("{dir}/{}", file.name);
                    items.push(MediaItem {
                        path: relative_path(&camera),
                        size: file.size,
                        modified: file.date,
                        id: camera,
                    });
                }
            } else {
                let camera = format!("{root}/{}", entry.name);
                items.push(MediaItem {
                    path: relative_path(&camera),
                    size: entry.size,
                    modified: entry.date,
                    id: camera,
                });
            }
        }
        Ok(items)
    }

    async fn download<W>(&mut self, item: &MediaItem, offset: u64, out: &mut W) -> Result<u64>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let path = camera_path(item);
        // A failed or skipped download leaves no reported MD5 behind: an old one could vouch for
        // other bytes.
        self.md5s.remove(&path);
        if offset > 0 && offset >= item.size {
            return Ok(0);
        }
        let done = self.client.download(&path, offset, out).await?;
        if let Some(md5) = done.md5.filter(|m| self.verify && !m.is_empty()) {
            self.md5s.insert(path, md5.to_ascii_lowercase());
        }
        Ok(done.bytes)
    }

    /// The camera reports the MD5 of the whole file in `get_file_complete`, also for a fetch from an
    /// offset (the reference: the MD5 "only matches if the whole file is asked for", i.e. it is never
    /// the MD5 of the part sent), so a resumed file can be checked against it once complete.
    fn reported_md5(&self, item: &MediaItem) -> Option<String> {
        self.md5s.get(&camera_path(item)).cloned()
    }

    async fn capture(&mut self) -> Result<Vec<MediaItem>> {
        let path = match self.client.take_photo().await {
            Ok(p) => p,
            Err(e) => return Err(self.busy_recording(&e).await.unwrap_or_else(|| e.into())),
        };
        Ok(vec![self.item_for(&path).await?])
    }

    async fn delete(&mut self, item: &MediaItem) -> Result<()> {
        YiCamera::delete(self, item).await
    }

    async fn settings(&mut self) -> Result<Vec<Setting>> {
        let all = self.client.all_settings().await?;
        let mut out = Vec::with_capacity(all.len());
        for (key, value) in all {
            out.push(self.describe(&key, value).await?);
        }
        Ok(out)
    }

    async fn setting(&mut self, key: &str) -> Result<Setting> {
        let value = match self.client.get_setting(key).await {
            Ok(v) => v,
            // -13 on msg 1 is the camera's "no such key".
            Err(e) if e.rval() == Some(rval::INVALID_OPTION_VALUE) => {
                return Err(CoreError::NotFound(format!("no setting '{}' (see config list)", Safe(key))));
            }
            Err(e) => return Err(e.into()),
        };
        self.describe(key, value).await
    }

    async fn set_setting(&mut self, key: &str, value: &str) -> Result<Setting> {
        let clock;
        let value = if key == CLOCK {
            clock = clock_value(value)?;
            clock.as_str()
        } else {
            value
        };
        let current = self.setting(key).await?;
        if !current.writable {
            return Err(CoreError::InvalidValue(format!("{} is read-only", Safe(key))));
        }
        if let SettingForm::Choices { choices } = &current.form
            && !choices.iter().any(|c| c == value)
        {
            return Err(CoreError::InvalidValue(format!(
                "'{}' for {}: use one of: {}",
                Safe(value),
                Safe(key),
                choices.iter().map(|c| Safe(c).to_string()).collect::<Vec<_>>().join(", ")
            )));
        }
        if let Err(e) = self.client.set_setting(key, value).await {
            if let Some(busy) = self.busy_recording(&e).await {
                return Err(busy);
            }
            if key == CLOCK && e.rval() == Some(rval::INVALID_OPTION_VALUE) {
                // The reference's clock range.
                return Err(CoreError::InvalidValue(format!(
                    "'{value}' for {CLOCK}: the camera accepts years 2008 to 2037"
                )));
            }
            return Err(e.into());
        }
        self.setting(key).await
    }

    async fn next_event(&mut self) -> Result<Option<Event>> {
        loop {
            // Client::next_event only pops a queue, so it can be cut short safely.
            match tokio::time::timeout(EVENT_KEEPALIVE, self.client.next_event()).await {
                Ok(n) => {
                    return Ok(n?.map(|n| {
                        let detail = n.param_text();
                        Event::new(n.kind, detail)
                    }));
                }
                // A request now and then while only listening: servers close connections silent for
                // 60 s (the emulator does), and the camera learns the client is still there.
                Err(_) => drop(self.client.battery().await?),
            }
        }
    }

    async fn next_event_within(&mut self, wait: Duration) -> Result<Option<Event>> {
        // Client::next_event only pops a queue, so it can be cut short safely.
        match tokio::time::timeout(wait, self.client.next_event()).await {
            Ok(n) => match n? {
                Some(n) => {
                    let detail = n.param_text();
                    Ok(Some(Event::new(n.kind, detail)))
                }
                None => Err(camctl_core::camera::event_stream_closed()),
            },
            Err(_) => Ok(None),
        }
    }

    async fn close(self) -> Result<()> {
        Ok(self.client.close().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_between_camera_and_card() {
        assert_eq!(relative_path("/tmp/fuse_d/DCIM/100MEDIA/YDXJ0001.jpg"), "DCIM/100MEDIA/YDXJ0001.jpg");
        let item =
            MediaItem { path: "DCIM/100MEDIA/a.jpg".into(), size: 1, modified: None, id: String::new() };
        assert_eq!(camera_path(&item), "/tmp/fuse_d/DCIM/100MEDIA/a.jpg");
    }
}
