//! [`camctl_core::Camera`] for Lytro cameras: what `camctl` drives.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use camctl_core::time::DateTime;
use camctl_core::{
    Camera, CameraInfo, CameraUrl, Error as CoreError, Event, MediaItem, Result, Setting, SettingForm,
};
use tokio::io::AsyncWrite;

use crate::client::{Client, ClientConfig};
use crate::wire::{Callback, CallbackEvent, CameraTime, PictureEntry, PictureFormat};

/// Model name shown by `camctl info` (the hardware info has no model field).
const MODEL: &str = "Lytro light-field camera (1st generation)";

/// How long [`Camera::capture`] waits for `NewPictureAvailable`.
const CAPTURE_TIMEOUT: Duration = Duration::from_secs(30);

/// Callbacks kept between [`Camera::capture`] and [`Camera::next_event`] (the client's own queue
/// is bounded too).
const MAX_PENDING: usize = 64;

/// The URL options `lytro://` understands.
// New options after the old: error messages list them in this order.
const OPTIONS: &[&str] =
    &["callback_port", "download_port", "formats", "keepalive", "pipeline", "timeout", "floor"];

/// Setting keys.
const KEY_TIME: &str = "camera_time";
const KEY_BATTERY: &str = "battery";

/// A Lytro camera behind a [`Client`] session.
///
/// Each picture is listed once per *selected format* (default: JPEG only), as
/// `DCIM/100PHOTO/IMG_0001.jpg`, `.raw`, `.txt`, `.128` (thumbnail, raw YUY2) and `.stk` (focus stack);
/// the item's id is the camera path, e.g. `I:\DCIM\100PHOTO\IMG_0001.JPG`, and downloads load that path.
pub struct LytroCamera {
    client: Client,
    formats: Vec<PictureFormat>,
    /// Callbacks received while waiting for something else (capture), for [`Camera::next_event`].
    pending: VecDeque<Callback>,
}

impl LytroCamera {
    /// Connects to `lytro://HOST[:PORT][?key=value&...]` (PORT: command port, default 5678).
    ///
    /// Query keys (all optional):
    /// - `callback_port=N`: callback stream port (default 5677);
    /// - `download_port=N`: port of the download connection (default 5679); `0` downloads on the
    ///   command connection;
    /// - `keepalive=SECS`: keep-alive query after this many idle seconds (default 30; `0` = off);
    /// - `formats=jpeg,raw,txt,thumb,stack|all`: formats [`Camera::list_media`] lists (default `jpeg`);
    /// - `pipeline=N`: download requests in flight (default 1);
    /// - `timeout=SECS`: per-read timeout (default 10).
    ///
    /// ```
    /// use camctl_lytro::LytroCamera;
    /// let url = "lytro://127.0.0.1:40000?callback_port=40001&download_port=0&formats=jpeg,raw".parse().unwrap();
    /// let (config, formats) = LytroCamera::options(&url).unwrap();
    /// assert_eq!((config.command_port, config.callback_port, config.download_port), (40000, 40001, None));
    /// assert_eq!(formats.len(), 2);
    /// ```
    pub async fn connect(url: &CameraUrl) -> Result<LytroCamera> {
        let (config, formats) = Self::options(url)?;
        let client = Client::connect(&url.host, config).await?;
        Ok(LytroCamera { client, formats, pending: VecDeque::new() })
    }

    /// The client settings and formats a `lytro://` URL asks for.
    pub fn options(url: &CameraUrl) -> Result<(ClientConfig, Vec<PictureFormat>)> {
        if url.scheme != "lytro" {
            return Err(CoreError::InvalidValue(format!("not a lytro:// URL: {url}")));
        }
        let bad = |e: camctl_core::UrlError| CoreError::InvalidValue(e.to_string());
        // Before any packet: a misspelt option would otherwise be ignored silently.
        url.check_options(OPTIONS).map_err(bad)?;
        let secs = |key: &str| -> Result<Option<u64>> {
            url.options
                .get(key)
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        CoreError::InvalidValue(format!(
                            "{key}={} (use a whole number, 0 or more)",
                            camctl_core::text::Safe(v)
                        ))
                    })
                })
                .transpose()
        };
        let mut config = ClientConfig {
            command_port: url.port_or(crate::DEFAULT_COMMAND_PORT),
            ..ClientConfig::default()
        };
        if let Some(p) = url.option_u16("callback_port").map_err(bad)? {
            config.callback_port = p;
        }
        if let Some(p) = url.option_u16("download_port").map_err(bad)? {
            config.download_port = (p != 0).then_some(p);
        }
        if let Some(s) = secs("keepalive")? {
            config.keepalive = (s != 0).then(|| Duration::from_secs(s));
        }
        if let Some(s) = secs("timeout")? {
            config.timeout = Duration::from_secs(s.max(1));
        }
        if let Some(n) = secs("pipeline")? {
            config.pipeline = (n as usize).clamp(1, 64);
        }
        if let Some(v) = url.options.get("floor") {
            config.floor = camctl_core::io::Floor::parse(v).ok_or_else(|| {
                CoreError::InvalidValue(format!(
                    "floor={} (use BYTES/SECS, e.g. 1024/20, or 0 for none)",
                    camctl_core::text::Safe(v)
                ))
            })?;
        }
        let formats = match url.options.get("formats") {
            Some(list) => {
                PictureFormat::parse_list(list).map_err(|e| CoreError::InvalidValue(e.to_string()))?
            }
            None => vec![PictureFormat::Jpeg],
        };
        Ok((config, formats))
    }

    /// Wraps a connected client; lists JPEG only until [`LytroCamera::set_formats`].
    pub fn from_client(client: Client) -> LytroCamera {
        LytroCamera { client, formats: vec![PictureFormat::Jpeg], pending: VecDeque::new() }
    }

    /// Keeps a callback for [`Camera::next_event`], at most [`MAX_PENDING`] (oldest dropped).
    fn keep(&mut self, cb: Callback) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(cb);
    }

    /// The underlying session, for Lytro-specific operations.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Selects the formats [`Camera::list_media`] and [`Camera::capture`] report (empty = JPEG).
    pub fn set_formats(&mut self, formats: &[PictureFormat]) {
        self.formats = if formats.is_empty() { vec![PictureFormat::Jpeg] } else { formats.to_vec() };
    }

    /// The selected formats.
    pub fn formats(&self) -> &[PictureFormat] {
        &self.formats
    }

    /// Lists every picture in `formats` (without changing the selection).
    pub async fn list_formats(&mut self, formats: &[PictureFormat]) -> Result<Vec<MediaItem>> {
        let list = self.client.picture_list().await?;
        let mut items = Vec::new();
        for entry in &list.entries {
            self.items_of(entry, formats, &mut items).await?;
        }
        Ok(items)
    }

    async fn items_of(
        &mut self,
        entry: &PictureEntry,
        formats: &[PictureFormat],
        out: &mut Vec<MediaItem>,
    ) -> Result<()> {
        for &format in formats {
            let camera_path = entry.camera_path(format.camera_extension());
            // A format the camera does not have for this picture is simply not listed.
            if let Some(size) = self.client.file_size(&camera_path).await? {
                out.push(MediaItem {
                    path: format!("{}{}", entry.local_stem(), local_suffix(format)),
                    size,
                    modified: entry.taken(),
                    id: camera_path,
                });
            }
        }
        Ok(())
    }

    /// The files (in the chosen formats) of the picture `id` announced by NewPictureAvailable.
    async fn picture_items(&mut self, id: &str) -> Result<Vec<MediaItem>> {
        let list = self.client.picture_list().await?;
        let entry = list.entries.iter().find(|e| e.id == id).ok_or_else(|| {
            CoreError::Protocol(format!(
                "new picture {} is not in the picture list",
                camctl_core::text::Safe(id)
            ))
        })?;
        let mut items = Vec::new();
        let formats = self.formats.clone();
        self.items_of(entry, &formats, &mut items).await?;
        Ok(items)
    }

    /// `cb` as an event, with the files of a new picture described.
    async fn event(&mut self, cb: Callback) -> Event {
        let new_picture = match cb.event() {
            CallbackEvent::NewPictureAvailable(id) => Some(id),
            _ => None,
        };
        let mut event = event_of(cb);
        if let Some(id) = new_picture {
            match self.picture_items(&id).await {
                Ok(items) => event.media = items,
                // The event still goes out; a watcher lists the camera instead.
                Err(e) => tracing::warn!("new picture announced but not described: {e}"),
            }
        }
        event
    }

    async fn time_setting(&mut self) -> Result<Setting> {
        let t = self.client.camera_time().await?;
        Ok(Setting {
            key: KEY_TIME.into(),
            label: "Camera time".into(),
            value: t.to_datetime().map_or_else(|| t.to_string(), |d| d.to_string()),
            writable: true,
            form: SettingForm::Free,
        })
    }

    async fn battery_setting(&mut self) -> Result<Setting> {
        let b = self.client.battery().await?;
        Ok(Setting {
            key: KEY_BATTERY.into(),
            label: "Battery level (%)".into(),
            value: format!("{b:.0}"),
            writable: false,
            form: SettingForm::Free,
        })
    }
}

/// What the user typed for the camera time: `now` is the local time (what the camera shows, as
/// gphoto2 sets clocks); anything else must be a real calendar date (2024-02-31 is refused).
fn camera_time_value(value: &str) -> Result<CameraTime> {
    let t = if value.trim().eq_ignore_ascii_case("now") {
        CameraTime::from_datetime(DateTime::now_local())
    } else {
        CameraTime::parse(value)
    };
    t.filter(CameraTime::is_valid).ok_or_else(|| {
        CoreError::InvalidValue(format!(
            "'{}' for {KEY_TIME}: use YYYY-MM-DD hh:mm:ss[.sss] (a real date, local time) or now",
            camctl_core::text::Safe(value)
        ))
    })
}

/// File-name ending of a format in local paths.
fn local_suffix(format: PictureFormat) -> &'static str {
    match format {
        PictureFormat::Jpeg => ".jpg",
        PictureFormat::Raw => ".raw",
        PictureFormat::Metadata => ".txt",
        PictureFormat::Thumbnail => ".128",
        PictureFormat::Stack => ".stk",
    }
}

fn event_of(cb: Callback) -> Event {
    Event::new(cb.name, cb.params.join(" "))
}

impl Camera for LytroCamera {
    async fn info(&mut self) -> Result<CameraInfo> {
        let hw = self.client.hardware_info().await?;
        let battery = self.client.battery().await.ok().map(|b| b.clamp(0.0, 100.0).round() as u8);
        let mut extra = vec![("build".to_string(), hw.build_id.clone())];
        if let Ok(t) = self.client.camera_time().await {
            let shown = if t == CameraTime::UNSET { format!("{t} (not set)") } else { t.to_string() };
            extra.push(("camera time".into(), shown));
        }
        Ok(CameraInfo {
            protocol: "lytro".into(),
            manufacturer: if hw.manufacturer.is_empty() { "Lytro".into() } else { hw.manufacturer },
            model: MODEL.into(),
            serial: hw.serial,
            firmware: hw.firmware,
            battery,
            extra,
        })
    }

    async fn list_media(&mut self) -> Result<Vec<MediaItem>> {
        let formats = self.formats.clone();
        self.list_formats(&formats).await
    }

    async fn download<W>(&mut self, item: &MediaItem, offset: u64, out: &mut W) -> Result<u64>
    where
        W: AsyncWrite + Unpin + Send,
    {
        if item.id.is_empty() || item.id.contains('\0') {
            return Err(CoreError::NotFound(format!(
                "{}: not a Lytro camera file",
                camctl_core::text::Safe(&item.path)
            )));
        }
        Ok(self.client.download_file(&item.id, offset, out).await?)
    }

    async fn capture(&mut self) -> Result<Vec<MediaItem>> {
        // Subscribe before the shutter fires so NewPictureAvailable cannot be missed; anything already
        // queued predates this capture.
        self.client.subscribe().await?;
        while let Some(cb) = self.client.try_next_callback() {
            let cb = cb?;
            if cb.event() != CallbackEvent::HeartbeatTick {
                self.keep(cb);
            }
        }
        self.client.take_picture().await?;
        let deadline = Instant::now() + CAPTURE_TIMEOUT;
        let id = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let cb = match tokio::time::timeout(left, self.client.next_callback()).await {
                Err(_) => return Err(CoreError::Timeout("waiting for the new picture".into())),
                Ok(r) => {
                    r?.ok_or_else(|| CoreError::Protocol("callback stream closed during capture".into()))?
                }
            };
            match cb.event() {
                CallbackEvent::NewPictureAvailable(id) => {
                    self.keep(cb);
                    break id;
                }
                CallbackEvent::HeartbeatTick => {}
                _ => self.keep(cb),
            }
        };
        self.picture_items(&id).await
    }

    /// A Lytro camera deletes whole pictures (every format at once): `item`'s picture goes only when
    /// this session imports every format the picture has (`formats=` in the URL), so that deleting
    /// one file never takes a RAW or a stack nobody fetched.
    async fn delete(&mut self, item: &MediaItem) -> Result<()> {
        let list = self.client.picture_list().await?;
        let entry = list
            .entries
            .iter()
            .find(|e| PictureFormat::ALL.iter().any(|f| e.camera_path(f.camera_extension()) == item.id))
            .ok_or_else(|| {
                CoreError::NotFound(format!("{}: not on the camera", camctl_core::text::Safe(&item.path)))
            })?;
        let mut not_imported = Vec::new();
        for format in PictureFormat::ALL {
            if !self.formats.contains(&format)
                && self.client.file_size(&entry.camera_path(format.camera_extension())).await?.is_some()
            {
                not_imported.push(local_suffix(format).trim_start_matches('.'));
            }
        }
        if !not_imported.is_empty() {
            return Err(CoreError::Unsupported(format!(
                "{}: a Lytro camera deletes whole pictures, and this one also has {} that this session does not import (add them to formats=)",
                camctl_core::text::Safe(&item.path),
                not_imported.join(", ")
            )));
        }
        Ok(self.client.delete_picture(entry).await?)
    }

    async fn settings(&mut self) -> Result<Vec<Setting>> {
        Ok(vec![self.time_setting().await?, self.battery_setting().await?])
    }

    async fn setting(&mut self, key: &str) -> Result<Setting> {
        match key {
            KEY_TIME => self.time_setting().await,
            KEY_BATTERY => self.battery_setting().await,
            _ => Err(CoreError::NotFound(format!(
                "no setting '{}' (Lytro has {KEY_TIME} and {KEY_BATTERY})",
                camctl_core::text::Safe(key)
            ))),
        }
    }

    async fn set_setting(&mut self, key: &str, value: &str) -> Result<Setting> {
        match key {
            KEY_TIME => {
                let t = camera_time_value(value)?;
                self.client.set_camera_time(&t).await?;
                self.time_setting().await
            }
            KEY_BATTERY => Err(CoreError::InvalidValue("battery is read-only".into())),
            _ => Err(CoreError::NotFound(format!(
                "no setting '{}' (Lytro has {KEY_TIME} and {KEY_BATTERY})",
                camctl_core::text::Safe(key)
            ))),
        }
    }

    async fn next_event(&mut self) -> Result<Option<Event>> {
        if let Some(cb) = self.pending.pop_front() {
            return Ok(Some(self.event(cb).await));
        }
        loop {
            match self.client.next_callback().await? {
                None => return Ok(None),
                // Heartbeats (10 a second) only prove the link is alive; the client's watchdog uses them.
                Some(cb) if cb.event() == CallbackEvent::HeartbeatTick => continue,
                Some(cb) => return Ok(Some(self.event(cb).await)),
            }
        }
    }

    async fn next_event_within(&mut self, wait: Duration) -> Result<Option<Event>> {
        if let Some(cb) = self.pending.pop_front() {
            return Ok(Some(self.event(cb).await));
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // The callbacks are read into a queue: waiting on it can be cut short safely.
            match tokio::time::timeout_at(deadline, self.client.next_callback()).await {
                Err(_) => return Ok(None),
                Ok(cb) => match cb? {
                    None => return Err(camctl_core::camera::event_stream_closed()),
                    Some(cb) if cb.event() == CallbackEvent::HeartbeatTick => continue,
                    Some(cb) => return Ok(Some(self.event(cb).await)),
                },
            }
        }
    }

    async fn close(self) -> Result<()> {
        self.client.close().await;
        Ok(())
    }
}
