//! [`camctl_core::Camera`] for PTP/IP: what `camctl` drives.

use std::collections::HashMap;
use std::time::Duration;

use camctl_core::io::Floor;
use camctl_core::log::Throttle;
use camctl_core::text::escape;
use camctl_core::warn_throttled;
use camctl_core::{Camera, CameraInfo, CameraUrl, Error as CoreError, Event, MediaItem, Result, Setting};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::DEFAULT_PORT;
use crate::client::{Client, ClientConfig, MAX_FOLDER_DEPTH, TreeEntry};
use crate::dialect::Dialect;
use crate::eos::{Captured, Eos};
use crate::nikon::{self, Nikon};
use crate::props;
use crate::wire::canon::TransferRequest;
use crate::wire::codes::{ev, op, prop};
use crate::wire::{DeviceInfo, ObjectInfo, PropValue, parse_ptp_date};

/// Options a `ptpip://` URL may carry:
/// - `timeout=SECS`: seconds any read may wait for the camera (default 10);
/// - `floor=BYTES/SECS`: the slowest a transfer may go before it fails (default `1024/20`: at least
///   1 KiB in every 20 s), `floor=0` for none;
/// - `dialect=generic|canon|nikon`: the maker's extensions to speak (default: from DeviceInfo).
const URL_OPTIONS: &[&str] = &["timeout", "floor", "dialect"];

/// A PTP/IP camera behind a [`Client`] session.
pub struct PtpCamera {
    client: Client,
    device_info: Option<DeviceInfo>,
    dialect: Dialect,
    /// The Canon EOS session state, when the dialect is Canon.
    eos: Option<Eos>,
    /// The Nikon session state, when the dialect is Nikon.
    nikon: Option<Nikon>,
    /// Captures a Canon EOS holds for the computer, by handle, until downloaded.
    held: HashMap<u32, TransferRequest>,
    /// Folder paths of association handles, filled by listings, for naming captured files.
    folders: HashMap<u32, String>,
    /// Since when [`Camera::next_event_within`] has found the event connection quiet.
    events_quiet_since: tokio::time::Instant,
}

impl PtpCamera {
    /// Connects to `ptpip://HOST[:PORT]`.
    pub async fn connect(url: &CameraUrl) -> Result<PtpCamera> {
        Self::connect_with(url, ClientConfig::default()).await
    }

    /// Connects with explicit initiator settings; the URL's `timeout=SECS` overrides `config.timeout`.
    pub async fn connect_with(url: &CameraUrl, mut config: ClientConfig) -> Result<PtpCamera> {
        // Before any packet: a misspelt option must not be ignored silently.
        url.check_options(URL_OPTIONS).map_err(|e| CoreError::InvalidValue(e.to_string()))?;
        if let Some(v) = url.options.get("timeout") {
            let secs = v.parse::<u64>().ok().filter(|&s| s > 0).ok_or_else(|| {
                CoreError::InvalidValue(format!("timeout={}: use a whole number of seconds", escape(v)))
            })?;
            config.timeout = Duration::from_secs(secs);
        }
        if let Some(v) = url.options.get("floor") {
            config.floor = Floor::parse(v).ok_or_else(|| {
                CoreError::InvalidValue(format!(
                    "floor={}: use BYTES/SECS (e.g. 1024/20), or 0 for no floor",
                    escape(v)
                ))
            })?;
        }
        let forced = match url.options.get("dialect") {
            None => None,
            Some(v) => Some(Dialect::parse(v).ok_or_else(|| {
                CoreError::InvalidValue(format!("dialect={}: use generic, canon or nikon", escape(v)))
            })?),
        };
        let mut client = Client::connect(&url.socket_addr(DEFAULT_PORT), config).await?;
        // A camera refusing GetDeviceInfo (some minimal responders) is spoken to generically.
        let info = match client.device_info().await {
            Ok(info) => Some(info),
            Err(crate::Error::Response { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let detected = info.as_ref().map_or(Dialect::Generic, Dialect::detect);
        let dialect = forced.unwrap_or(detected);
        let mut info = info.unwrap_or_default();
        let eos = (dialect == Dialect::CanonEos).then(|| Eos::new(&info));
        let nikon = match dialect {
            Dialect::Nikon => Some(Nikon::start(&mut client, &mut info).await?),
            _ => None,
        };
        Ok(PtpCamera {
            client,
            device_info: Some(info),
            dialect,
            eos,
            nikon,
            held: HashMap::new(),
            folders: HashMap::new(),
            events_quiet_since: tokio::time::Instant::now(),
        })
    }

    /// The maker's dialect this session speaks.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The underlying session, for PTP-specific operations.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    async fn device_info(&mut self) -> Result<&DeviceInfo> {
        if self.device_info.is_none() {
            self.device_info = Some(self.client.device_info().await?);
        }
        Ok(self.device_info.as_ref().expect("set above"))
    }

    async fn supports_op(&mut self, code: u16) -> Result<bool> {
        Ok(self.device_info().await?.operations.contains(&code))
    }

    /// One live-view JPEG (Canon EOS: GetViewFinderData; Nikon: GetLiveViewImg). The first call
    /// starts live view; [`PtpCamera::end_live`] ends it (closing the session does too).
    pub async fn live_frame(&mut self) -> Result<Vec<u8>> {
        if let Some(eos) = self.eos.as_mut() {
            return Ok(eos.live_frame(&mut self.client).await?);
        }
        if let Some(nikon) = self.nikon.as_mut() {
            return nikon.live_frame(&mut self.client).await.map_err(nikon::explain);
        }
        Err(CoreError::Unsupported(
            "live view over PTP/IP needs a maker's dialect (canon or nikon); this camera speaks the generic one"
                .into(),
        ))
    }

    /// Ends live view started by [`PtpCamera::live_frame`].
    pub async fn end_live(&mut self) {
        if let Some(eos) = self.eos.as_mut() {
            eos.end_live(&mut self.client).await;
        }
        if let Some(nikon) = self.nikon.as_mut() {
            nikon.end_live(&mut self.client).await;
        }
    }

    fn nikon_only(&mut self, what: &str) -> Result<(&mut Nikon, &mut Client)> {
        match self.nikon.as_mut() {
            Some(n) => Ok((n, &mut self.client)),
            None => Err(CoreError::Unsupported(format!(
                "{what}: Nikon Wi-Fi profiles need a Nikon body (this camera speaks the {} dialect)",
                self.dialect.name()
            ))),
        }
    }

    /// The camera's Wi-Fi profile slots (Nikon).
    pub async fn wifi_profiles(&mut self) -> Result<crate::wire::nikon::ProfileList> {
        let (n, c) = self.nikon_only("wifi-profile list")?;
        n.wifi_profiles(c).await.map_err(nikon::explain)
    }

    /// Adds a Wi-Fi profile in the first free slot (Nikon); returns the slot id.
    pub async fn add_wifi_profile(&mut self, profile: crate::wire::nikon::WifiProfile) -> Result<u8> {
        let (n, c) = self.nikon_only("wifi-profile add")?;
        n.add_wifi_profile(c, profile).await.map_err(nikon::explain)
    }

    /// Deletes the Wi-Fi profile in slot `id` (Nikon).
    pub async fn delete_wifi_profile(&mut self, id: u8) -> Result<()> {
        let (n, c) = self.nikon_only("wifi-profile delete")?;
        n.delete_wifi_profile(c, id).await.map_err(nikon::explain)
    }

    /// A failed operation in the user's terms: Nikon refusals say what to change on the camera.
    fn explain(&self, e: crate::Error) -> CoreError {
        if self.nikon.is_some() { nikon::explain(e) } else { e.into() }
    }

    async fn property_code(&mut self, key: &str) -> Result<u16> {
        let vendor = if self.nikon.is_some() { nikon::code_of(key) } else { None };
        let code = vendor
            .or_else(|| props::code_of(key))
            .ok_or_else(|| CoreError::NotFound(format!("setting {key:?}")))?;
        if !self.device_info().await?.properties.contains(&code) {
            return Err(CoreError::NotFound(format!("setting {key:?}: the camera does not have it")));
        }
        Ok(code)
    }

    async fn describe(&mut self, code: u16) -> Result<Setting> {
        let desc = self.client.prop_desc(code).await.map_err(|e| self.explain(e))?;
        if self.nikon.is_some()
            && let Some(setting) = nikon::describe(&desc)
        {
            return Ok(setting);
        }
        Ok(Setting {
            key: props::key_of(code),
            label: props::label_of(code),
            value: props::format_value(code, &desc.current),
            writable: desc.writable,
            form: props::form_of(&desc),
        })
    }

    /// The next event from the PTP/IP event connection (generic dialect), with the object an
    /// ObjectAdded announces.
    async fn generic_event(&mut self) -> Result<Option<(Event, Option<u32>)>> {
        // A camera that drops off the network without closing the connection sends nothing more:
        // after a quiet spell, a Probe Request (PTP/IP's own keepalive) finds out.
        let event = loop {
            let quiet = self.client.timeout().clamp(Duration::from_secs(1), EVENT_PROBE_AFTER);
            match tokio::time::timeout(quiet, self.client.next_event()).await {
                Ok(event) => break event?,
                Err(_) => {
                    self.client.probe().await?;
                }
            }
        };
        let Some(event) = event else { return Ok(None) };
        Ok(Some(Self::describe_generic(&event)))
    }

    /// A generic PTP event in `camctl events` terms, with the object it announces as added.
    fn describe_generic(event: &crate::wire::CodeAndParams) -> (Event, Option<u32>) {
        let p1 = event.params.get(0);
        let detail = match event.code {
            ev::OBJECT_ADDED | ev::OBJECT_REMOVED | ev::OBJECT_INFO_CHANGED | ev::REQUEST_OBJECT_TRANSFER => {
                format!("object 0x{p1:08x}")
            }
            ev::DEVICE_PROP_CHANGED => props::key_of(p1 as u16),
            ev::STORE_ADDED | ev::STORE_REMOVED | ev::STORE_FULL | ev::STORAGE_INFO_CHANGED => {
                format!("storage 0x{p1:08x}")
            }
            _ => event.params.as_slice().iter().map(|p| format!("0x{p:x}")).collect::<Vec<_>>().join(" "),
        };
        let object = (event.code == ev::OBJECT_ADDED).then_some(p1);
        (Event::new(ev::name(event.code), detail), object)
    }

    /// Adds to `event` the files it announces: captures held for the computer (EOS) and the card
    /// object it names.
    async fn complete_event(&mut self, mut event: Event, object: Option<u32>) -> Event {
        if event.name == "RequestObjectTransfer"
            && let Some(eos) = self.eos.as_mut()
        {
            // A shot for the computer (on the body's button too): fetched as a held transfer.
            for t in eos.take_transfers() {
                let item = self.hold(t);
                event.media.push(item);
            }
        }
        if let Some(handle) = object {
            match self.object_item(handle).await {
                Ok(item) => event.media.extend(item),
                // The event still goes out; a watcher lists the camera instead.
                Err(e) => tracing::warn!("object 0x{handle:08x} announced but not described: {e}"),
            }
        }
        event
    }

    /// A capture the camera holds for the computer (not on the card: no ObjectInfo to ask for, as
    /// gphoto2 asks none), kept to be downloaded with GetPartialObject and TransferComplete.
    fn hold(&mut self, t: TransferRequest) -> MediaItem {
        if self.held.len() >= MAX_HELD_TRANSFERS {
            // Old transfers are long gone on the camera; a camera announcing without end must not grow this.
            tracing::warn!(
                "more than {MAX_HELD_TRANSFERS} captures held for the computer: forgetting the older ones"
            );
            self.held.clear();
        }
        let name = t.name.rsplit(['/', '\\']).next().unwrap_or_default().to_string();
        let item = MediaItem {
            path: if name.is_empty() { format!("capt_{:08x}.jpg", t.handle) } else { name },
            size: u64::from(t.size),
            modified: Some(camctl_core::time::DateTime::now_local()),
            id: t.handle.to_string(),
        };
        self.held.insert(t.handle, t);
        item
    }

    /// The listing entry of object `handle`, or `None` for a folder.
    async fn object_item(&mut self, handle: u32) -> Result<Option<MediaItem>> {
        let info = self.client.object_info(handle).await?;
        let folder = self.folder_path(info.parent).await?;
        if info.is_folder() {
            self.folders.insert(handle, format!("{folder}{}", info.filename));
            return Ok(None);
        }
        Ok(Some(media_item(handle, format!("{folder}{}", info.filename), &info)))
    }

    /// The folder path of `parent` (empty for the root), asking the camera for unknown folders.
    async fn folder_path(&mut self, parent: u32) -> Result<String> {
        let mut chain = Vec::new();
        let mut current = parent;
        // Bounded walk: a camera with a parent cycle must not hang us.
        while current != 0 && chain.len() < MAX_FOLDER_DEPTH {
            if let Some(known) = self.folders.get(&current) {
                chain.push(known.clone());
                break;
            }
            let info = self.client.object_info(current).await?;
            chain.push(info.filename.clone());
            current = if info.parent == current { 0 } else { info.parent };
        }
        chain.reverse();
        Ok(chain.iter().map(|c| format!("{c}/")).collect())
    }
}

/// Longest quiet time on the event connection before the camera is probed (sooner with a shorter
/// `timeout=`).
const EVENT_PROBE_AFTER: Duration = Duration::from_secs(15);

/// Captures held for the computer remembered at once (each one a few dozen bytes).
const MAX_HELD_TRANSFERS: usize = 4096;

fn media_item(handle: u32, path: String, info: &ObjectInfo) -> MediaItem {
    let date = if info.modification_date.is_empty() { &info.capture_date } else { &info.modification_date };
    MediaItem {
        path,
        size: u64::from(info.compressed_size),
        modified: parse_ptp_date(date),
        id: handle.to_string(),
    }
}

fn handle_of(item: &MediaItem) -> Result<u32> {
    item.id.parse().map_err(|_| CoreError::NotFound(format!("{}: not a PTP object", escape(&item.path))))
}

impl Camera for PtpCamera {
    async fn info(&mut self) -> Result<CameraInfo> {
        let di = self.device_info().await?.clone();
        let eos_battery = match self.eos.as_mut() {
            Some(eos) => {
                eos.prepare(&mut self.client).await?;
                eos.battery_percent()
            }
            None => None,
        };
        let battery = if eos_battery.is_some() {
            eos_battery
        } else if di.properties.contains(&prop::BATTERY_LEVEL) {
            match self.client.prop_desc(prop::BATTERY_LEVEL).await {
                // Enumerations 0..3 are quarters on some cameras (gphoto2 scales them the same way).
                Ok(desc) => desc.current.as_i128().map(|v| match &desc.form {
                    crate::wire::PropForm::Enumeration(vals) if vals.len() <= 4 => (v * 33).min(100) as u8,
                    _ => v.clamp(0, 100) as u8,
                }),
                Err(_) => None,
            }
        } else {
            None
        };
        let mut extra = vec![
            ("friendly name".to_string(), self.client.camera_name().to_string()),
            ("dialect".to_string(), self.dialect.name().to_string()),
        ];
        if di.vendor_extension_id != 0 || !di.vendor_extension_desc.is_empty() {
            extra.push((
                "vendor extension".into(),
                format!("0x{:08x} {}", di.vendor_extension_id, di.vendor_extension_desc),
            ));
        }
        for sid in self.client.storage_ids().await? {
            if let Ok(si) = self.client.storage_info(sid).await {
                let name = if si.volume_label.is_empty() { si.description } else { si.volume_label };
                extra.push((
                    format!("storage 0x{sid:08x}"),
                    format!(
                        "{name}: {} MiB free of {} MiB",
                        si.free_space_bytes >> 20,
                        si.max_capacity >> 20
                    ),
                ));
            }
        }
        Ok(CameraInfo {
            protocol: "ptpip".into(),
            manufacturer: di.manufacturer,
            model: di.model,
            serial: di.serial_number,
            firmware: di.device_version,
            battery,
            extra,
        })
    }

    async fn list_media(&mut self) -> Result<Vec<MediaItem>> {
        let tree: Vec<TreeEntry> = match self.client.object_tree().await {
            Ok(tree) => tree,
            Err(e) => return Err(self.explain(e)),
        };
        self.folders.clear();
        let mut items = Vec::new();
        for e in tree {
            if e.info.is_folder() {
                self.folders.insert(e.handle, e.path);
            } else {
                items.push(media_item(e.handle, e.path, &e.info));
            }
        }
        Ok(items)
    }

    async fn download<W>(&mut self, item: &MediaItem, offset: u64, out: &mut W) -> Result<u64>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let handle = handle_of(item)?;
        if let (Some(t), Some(eos)) = (self.held.get(&handle), self.eos.as_mut()) {
            let t = t.clone();
            let n = eos.fetch_transfer(&mut self.client, &t, offset, out).await?;
            // TransferComplete went out: the camera has let go of it.
            self.held.remove(&handle);
            return Ok(n);
        }
        // ObjectInfo's size caps a data phase of unknown length (0xFFFFFFFF: 4 GiB or more, unknown).
        let size = (item.size > 0 && item.size < u64::from(u32::MAX)).then_some(item.size);
        if offset == 0 {
            return self.client.get_object_sized(handle, 0, size, out).await.map_err(|e| self.explain(e));
        }
        if offset >= item.size {
            return Ok(0);
        }
        if !self.supports_op(op::GET_PARTIAL_OBJECT).await? || offset > u64::from(u32::MAX) {
            // No partial reads: fetch it all and drop what the caller already has.
            return self
                .client
                .get_object_sized(handle, offset, size, out)
                .await
                .map_err(|e| self.explain(e));
        }
        let mut done = 0u64;
        let mut position = offset;
        while position < item.size {
            let want = u32::try_from(item.size - position).unwrap_or(u32::MAX);
            let n = self
                .client
                .get_partial_object(handle, position as u32, want, out)
                .await
                .map_err(|e| self.explain(e))?;
            if n == 0 {
                break;
            }
            done += n;
            position += n;
            if position > u64::from(u32::MAX) {
                break;
            }
        }
        out.flush().await.map_err(|e| CoreError::io("writing the download", e))?;
        Ok(done)
    }

    async fn capture(&mut self) -> Result<Vec<MediaItem>> {
        let mut items = Vec::new();
        let handles = if let Some(eos) = self.eos.as_mut() {
            let mut on_card = Vec::new();
            for captured in eos.capture(&mut self.client).await? {
                match captured {
                    Captured::OnCard(h) => on_card.push(h),
                    Captured::ForTheComputer(t) => items.push(self.hold(t)),
                }
            }
            on_card
        } else if let Some(nikon) = self.nikon.as_mut() {
            nikon.capture(&mut self.client).await.map_err(nikon::explain)?
        } else {
            if !self.supports_op(op::INITIATE_CAPTURE).await? {
                return Err(CoreError::Unsupported("this camera does not capture over PTP/IP".into()));
            }
            self.client.capture().await?
        };
        for h in handles {
            let info = self.client.object_info(h).await?;
            let folder = self.folder_path(info.parent).await?;
            if info.is_folder() {
                self.folders.insert(h, format!("{folder}{}", info.filename));
                continue;
            }
            items.push(media_item(h, format!("{folder}{}", info.filename), &info));
        }
        Ok(items)
    }

    async fn delete(&mut self, item: &MediaItem) -> Result<()> {
        let handle = handle_of(item)?;
        if self.held.contains_key(&handle) {
            // A capture for the computer was never on the card: nothing to delete there.
            return Ok(());
        }
        Ok(self.client.delete_object(handle).await?)
    }

    async fn settings(&mut self) -> Result<Vec<Setting>> {
        if let Some(eos) = self.eos.as_mut() {
            return Ok(eos.settings(&mut self.client).await?);
        }
        let codes = self.device_info().await?.properties.clone();
        let mut out = Vec::new();
        let mut broken = Throttle::default();
        for code in codes {
            match self.describe(code).await {
                Ok(s) => out.push(s),
                // One broken property must not hide the others (gphoto2 does the same).
                Err(e) => warn_throttled!(broken, "property 0x{code:04x}: {e}"),
            }
        }
        Ok(out)
    }

    async fn setting(&mut self, key: &str) -> Result<Setting> {
        if let Some(eos) = self.eos.as_mut() {
            return eos.setting(&mut self.client, key).await;
        }
        let code = self.property_code(key).await?;
        self.describe(code).await
    }

    async fn set_setting(&mut self, key: &str, value: &str) -> Result<Setting> {
        if let Some(eos) = self.eos.as_mut() {
            return eos.set_setting(&mut self.client, key, value).await;
        }
        let code = self.property_code(key).await?;
        let desc = self.client.prop_desc(code).await?;
        if !desc.writable {
            return Err(CoreError::InvalidValue(format!("{} is read-only", props::key_of(code))));
        }
        let vendor = if self.nikon.is_some() { nikon::parse(&desc, value) } else { None };
        let parsed: PropValue =
            vendor.unwrap_or_else(|| props::parse_value(&desc, value)).map_err(CoreError::InvalidValue)?;
        if !desc.accepts(&parsed) {
            return Err(CoreError::InvalidValue(props::refusal(&desc, value)));
        }
        self.client.set_prop_value(code, &parsed).await.map_err(|e| self.explain(e))?;
        self.describe(code).await
    }

    async fn next_event(&mut self) -> Result<Option<Event>> {
        let (event, object) = if let Some(eos) = self.eos.as_mut() {
            eos.next_event(&mut self.client).await?
        } else if let Some(nikon) = self.nikon.as_mut().filter(|n| n.polls_events()) {
            nikon.next_event(&mut self.client).await?
        } else {
            let Some(event) = self.generic_event().await? else { return Ok(None) };
            event
        };
        Ok(Some(self.complete_event(event, object).await))
    }

    async fn next_event_within(&mut self, wait: Duration) -> Result<Option<Event>> {
        let found = if let Some(eos) = self.eos.as_mut() {
            eos.event_within(&mut self.client, wait).await?
        } else if let Some(nikon) = self.nikon.as_mut().filter(|n| n.polls_events()) {
            nikon.event_within(&mut self.client, wait).await?
        } else {
            // The event connection is read into a queue: waiting on it can be cut short safely.
            match tokio::time::timeout(wait, self.client.next_event()).await {
                Ok(event) => {
                    self.events_quiet_since = tokio::time::Instant::now();
                    let event = event?.ok_or_else(camctl_core::camera::event_stream_closed)?;
                    Some(Self::describe_generic(&event))
                }
                Err(_) => {
                    // As in next_event: a quiet event connection is probed now and then, so that a
                    // camera gone without closing it is noticed.
                    let quiet = self.client.timeout().clamp(Duration::from_secs(1), EVENT_PROBE_AFTER);
                    if self.events_quiet_since.elapsed() >= quiet {
                        self.client.probe().await?;
                        self.events_quiet_since = tokio::time::Instant::now();
                    }
                    None
                }
            }
        };
        match found {
            Some((event, object)) => Ok(Some(self.complete_event(event, object).await)),
            None => Ok(None),
        }
    }

    async fn close(mut self) -> Result<()> {
        if let Some(eos) = self.eos.as_mut() {
            eos.finish(&mut self.client).await;
        }
        if let Some(nikon) = self.nikon.as_mut() {
            nikon.end_live(&mut self.client).await;
        }
        Ok(self.client.close().await?)
    }
}
