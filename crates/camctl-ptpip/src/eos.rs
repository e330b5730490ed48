//! The Canon EOS dialect over a [`Client`] session, as libgphoto2 drives EOS bodies
//! (`ptpip-vendors.md` §2): SetRemoteMode and SetEventMode before anything else, everything the camera
//! has to say (property values, allowed values, new objects, its state) polled with GetEvent 0x9116,
//! capture through RemoteReleaseOn/Off, properties set with SetDevicePropValueEx 0x9110.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use camctl_core::log::Throttle;
use camctl_core::text::escape;
use camctl_core::{Error as CoreError, Event, Setting, SettingForm, warn_throttled};
use tokio::time::Instant;
use tracing::debug;

use crate::client::{Client, MAX_CAPTURE_OBJECTS};
use crate::error::{Error, Result};
use crate::wire::DeviceInfo;
use crate::wire::canon::{
    self, AllowedList, CAMERA_STATUS_BUSY, EosEvent, EosObject, EosProp, ImageFormat, TransferRequest,
    ValueKind, event, op, prop, release,
};
use crate::wire::codes::{format, rc};

/// Largest GetEvent reply read: the full property dump of a real body is a few KiB.
const MAX_EVENT_DATA: usize = 4 << 20;

/// GetEvent calls one drain makes at most: each call empties the camera's queue, so a camera whose
/// queue never empties is misbehaving.
const MAX_DRAIN_POLLS: usize = 64;

/// Events kept for `camctl events` before the oldest are dropped.
const MAX_PENDING_EVENTS: usize = 1024;

/// How long a capture waits for the camera to report the new file.
const CAPTURE_WAIT: Duration = Duration::from_secs(30);

/// Poll interval while waiting: gphoto2 starts at 50 ms and backs off to 200 ms.
const FIRST_POLL: Duration = Duration::from_millis(50);
const SLOWEST_POLL: Duration = Duration::from_millis(200);

/// KeepDeviceOn 0x911D interval while a capture or an event watch runs (gphoto2: at least 10 s apart).
const KEEP_ON_EVERY: Duration = Duration::from_secs(10);

/// User-facing keys of the EOS properties: gphoto2's widget names, so `config set aperture=5.6` means
/// the same in both tools.
const KEYS: &[(u32, &str, &str)] = &[
    (prop::APERTURE, "aperture", "Aperture"),
    (prop::SHUTTER_SPEED, "shutterspeed", "Shutter speed"),
    (prop::ISO_SPEED, "iso", "ISO speed"),
    (prop::EXP_COMPENSATION, "exposurecompensation", "Exposure compensation"),
    (prop::AUTO_EXPOSURE_MODE, "autoexposuremode", "Shooting mode"),
    (prop::DRIVE_MODE, "drivemode", "Drive mode"),
    (prop::METERING_MODE, "meteringmode", "Metering mode"),
    (prop::FOCUS_MODE, "focusmode", "AF mode"),
    (prop::WHITE_BALANCE, "whitebalance", "White balance"),
    (prop::BATTERY_POWER, "batterylevel", "Battery level"),
    (prop::AVAILABLE_SHOTS, "availableshots", "Shots available"),
    (prop::CAPTURE_DESTINATION, "capturedestination", "Capture destination"),
    (prop::IMAGE_FORMAT, "imageformat", "Image format"),
    (prop::IMAGE_FORMAT_CF, "imageformatcf", "Image format (CF)"),
    (prop::IMAGE_FORMAT_SD, "imageformatsd", "Image format (SD)"),
    (prop::IMAGE_FORMAT_EXT_HD, "imageformatexthd", "Image format (external HD)"),
    (prop::EVF_OUTPUT_DEVICE, "output", "Live view output"),
    (prop::EVF_MODE, "evfmode", "Live view mode"),
    (prop::OWNER, "ownername", "Owner name"),
    (prop::ARTIST, "artist", "Artist"),
    (prop::COPYRIGHT, "copyright", "Copyright"),
    (prop::SERIAL_NUMBER, "eosserialnumber", "Serial number"),
];

/// Properties gphoto2 never writes (the camera's state, or forced read-only in its event parser).
const READ_ONLY: &[u32] = &[
    prop::FOCUS_MODE,
    prop::BATTERY_POWER,
    prop::AVAILABLE_SHOTS,
    prop::SERIAL_NUMBER,
    0xD116,
    0xD119,
    0xD11E,
    0xD11F,
    0xD1A8,
    0xD1AC,
];

/// The user-facing key of an EOS property.
pub fn key_of(code: u32) -> String {
    KEYS.iter().find(|k| k.0 == code).map(|k| k.1.to_string()).unwrap_or_else(|| format!("0x{code:04x}"))
}

fn label_of(code: u32) -> String {
    KEYS.iter()
        .find(|k| k.0 == code)
        .map(|k| k.2.to_string())
        .unwrap_or_else(|| format!("Property 0x{code:04X}"))
}

fn code_of(key: &str) -> Option<u32> {
    if let Some(k) = KEYS.iter().find(|k| k.1.eq_ignore_ascii_case(key)) {
        return Some(k.0);
    }
    let hex = key.strip_prefix("0x").or_else(|| key.strip_prefix("0X"))?;
    u32::from_str_radix(hex, 16).ok()
}

/// A value as gphoto2 labels it: table names, ImageFormat names, text, or the number.
fn render(p: &EosProp) -> String {
    if prop::is_image_format(p.code) {
        return match ImageFormat::decode(&p.value) {
            Ok(f) => canon::image_format_name(f.code()),
            Err(_) => "(undecodable)".into(),
        };
    }
    if ValueKind::of(p.code) == ValueKind::Str {
        let text = p.value.split(|&b| b == 0).next().unwrap_or_default();
        return String::from_utf8_lossy(text).into_owned();
    }
    match (canon::value_table(p.code), p.int_value()) {
        (Some(table), Some(v)) => table.name(v),
        (None, Some(v)) => v.to_string(),
        _ => format!("({} bytes)", p.value.len()),
    }
}

fn render_allowed(code: u32, list: &AllowedList) -> Option<Vec<String>> {
    match list {
        AllowedList::Slots(values) => Some(
            values
                .iter()
                .map(|&v| canon::value_table(code).map_or_else(|| v.to_string(), |t| t.name(v)))
                .collect(),
        ),
        AllowedList::ImageFormats(formats) => {
            Some(formats.iter().map(|f| canon::image_format_name(f.code())).collect())
        }
        AllowedList::Raw { .. } => None,
    }
}

/// A file a capture produced.
pub enum Captured {
    /// On the card: an ordinary object (GetObjectInfo, GetObject).
    OnCard(u32),
    /// Held in the camera's memory for the computer (capture destination "PC"): read with
    /// GetPartialObject, then released with TransferComplete (see [`Eos::fetch_transfer`]).
    ForTheComputer(TransferRequest),
}

/// Largest piece one GetPartialObject of a held capture asks for (gphoto2: 1 MiB).
const TRANSFER_PIECE: u32 = 1 << 20;

/// What an EOS session knows from the camera's event stream.
pub struct Eos {
    operations: Vec<u16>,
    prepared: bool,
    props: BTreeMap<u32, EosProp>,
    allowed: HashMap<u32, AllowedList>,
    status: u32,
    /// New files reported by ObjectAddedEx and not yet taken by a capture.
    added: VecDeque<EosObject>,
    /// Captures the camera holds for the computer (capture destination 4), not yet taken.
    transfers: VecDeque<TransferRequest>,
    /// Events for `camctl events`, oldest first.
    /// Events not yet handed out, with the card object an ObjectAdded announces.
    pending: VecDeque<(Event, Option<u32>)>,
    last_keep_on: Instant,
    dropped: Throttle,
    /// The live-view output (0xD1B0) before live view began, while it runs.
    live_output: Option<u32>,
}

impl Eos {
    /// An EOS session for a camera with this DeviceInfo (nothing is sent yet).
    pub fn new(info: &DeviceInfo) -> Eos {
        Eos {
            operations: info.operations.clone(),
            prepared: false,
            props: BTreeMap::new(),
            allowed: HashMap::new(),
            status: 0,
            added: VecDeque::new(),
            transfers: VecDeque::new(),
            pending: VecDeque::new(),
            last_keep_on: Instant::now(),
            dropped: Throttle::default(),
            live_output: None,
        }
    }

    fn supports(&self, code: u16) -> bool {
        self.operations.contains(&code)
    }

    /// gphoto2's "prepare capture": remote mode, event mode, then the first drain, which brings every
    /// property's value and allowed values. Run once, before any EOS operation.
    pub async fn prepare(&mut self, c: &mut Client) -> Result<()> {
        if self.prepared {
            return Ok(());
        }
        c.operation_ok(op::SET_REMOTE_MODE, &[1]).await?;
        if self.supports(op::SET_MODE_DIAL_DISABLE) {
            // gphoto2 ignores its failures too.
            let _ = c.operation(op::SET_MODE_DIAL_DISABLE, &[1]).await?;
        }
        c.operation_ok(op::SET_EVENT_MODE, &[1]).await?;
        self.drain(c).await?;
        self.prepared = true;
        Ok(())
    }

    /// One GetEvent; returns how many records came.
    async fn poll(&mut self, c: &mut Client) -> Result<usize> {
        let data = c.operation_in(op::GET_EVENT, &[], MAX_EVENT_DATA).await?;
        let events = canon::decode_events(&data)?;
        let n = events.len();
        for e in events {
            self.apply(e);
        }
        Ok(n)
    }

    /// GetEvent until a reply holds no records (what gphoto2 calls checking the events).
    async fn drain(&mut self, c: &mut Client) -> Result<()> {
        for _ in 0..MAX_DRAIN_POLLS {
            if self.poll(c).await? == 0 {
                return Ok(());
            }
        }
        Err(Error::Protocol(format!(
            "the camera's event queue did not empty in {MAX_DRAIN_POLLS} GetEvent calls"
        )))
    }

    fn report(&mut self, name: &str, detail: String) {
        self.report_object(name, detail, None);
    }

    fn report_object(&mut self, name: &str, detail: String, object: Option<u32>) {
        // The first drain is the camera's state, not news.
        if !self.prepared {
            return;
        }
        if self.pending.len() == MAX_PENDING_EVENTS {
            self.pending.pop_front();
            warn_throttled!(self.dropped, "EOS event queue full: oldest event dropped");
        }
        self.pending.push_back((Event::new(name, detail), object));
    }

    fn apply(&mut self, e: EosEvent) {
        match e {
            EosEvent::PropValueChanged(p) => {
                let detail = format!("{} = {}", key_of(p.code), render(&p));
                self.props.insert(p.code, p);
                self.report("PropertyChanged", detail);
            }
            EosEvent::AllowedValues(a) => {
                self.allowed.insert(a.code, a.values);
            }
            EosEvent::ObjectAdded(o) | EosEvent::ObjectAdded64(canon::EosObject64 { object: o, .. }) => {
                let detail = format!("{} (object 0x{:08x})", o.name, o.handle);
                let file = (o.format != format::ASSOCIATION).then_some(o.handle);
                if file.is_some() && self.added.len() < MAX_CAPTURE_OBJECTS {
                    self.added.push_back(o);
                }
                self.report_object("ObjectAdded", detail, file);
            }
            EosEvent::ObjectRemoved { handle } => {
                self.report("ObjectRemoved", format!("object 0x{handle:08x}"))
            }
            EosEvent::ObjectInfoChanged(o) => {
                self.report("ObjectInfoChanged", format!("{} (object 0x{:08x})", o.name, o.handle))
            }
            EosEvent::RequestObjectTransfer(t) | EosEvent::RequestObjectTransfer64(t) => {
                self.report("RequestObjectTransfer", format!("{} (object 0x{:08x})", t.name, t.handle));
                if self.transfers.len() < MAX_CAPTURE_OBJECTS {
                    self.transfers.push_back(t);
                }
            }
            EosEvent::CameraStatusChanged { status } => {
                self.status = status;
                let state = if status == CAMERA_STATUS_BUSY { "busy" } else { "ready" };
                self.report("CameraStatusChanged", state.into());
            }
            EosEvent::ObjectContentChanged { handle } => {
                self.report("ObjectContentChanged", format!("object 0x{handle:08x}"))
            }
            other => {
                let t = other.record_type();
                debug!("EOS event 0x{t:04x} {}", event::name(t).unwrap_or("(unknown)"));
            }
        }
    }

    async fn keep_on(&mut self, c: &mut Client) -> Result<()> {
        if self.supports(op::KEEP_DEVICE_ON) && self.last_keep_on.elapsed() >= KEEP_ON_EVERY {
            self.last_keep_on = Instant::now();
            let _ = c.operation(op::KEEP_DEVICE_ON, &[]).await?;
        }
        Ok(())
    }

    /// Fires the shutter (half press, full press, release) and waits for the new files.
    pub async fn capture(&mut self, c: &mut Client) -> Result<Vec<Captured>> {
        self.prepare(c).await?;
        self.drain(c).await?;
        self.added.clear();
        self.transfers.clear();
        if self.status == CAMERA_STATUS_BUSY {
            return Err(Error::Protocol("the camera is busy (CameraStatus 1); try again".into()));
        }
        if self.supports(op::REMOTE_RELEASE_ON) {
            let manual_focus = self.props.get(&prop::FOCUS_MODE).and_then(EosProp::int_value) == Some(3);
            let af = if manual_focus { release::WITHOUT_AF } else { release::WITH_AF };
            c.operation_ok(op::REMOTE_RELEASE_ON, &[release::HALF, af]).await?;
            // Focus information arrives here on real bodies; gphoto2 only logs its absence.
            self.poll(c).await?;
            let full = c.operation(op::REMOTE_RELEASE_ON, &[release::FULL, af]).await?;
            if full.code != rc::OK {
                self.poll(c).await?;
                let _ = c.operation(op::REMOTE_RELEASE_OFF, &[release::HALF]).await?;
                return Err(Error::Response { op: op::REMOTE_RELEASE_ON, code: full.code });
            }
            let _ = c.operation(op::REMOTE_RELEASE_OFF, &[release::FULL]).await?;
            self.drain(c).await?;
            let _ = c.operation(op::REMOTE_RELEASE_OFF, &[release::HALF]).await?;
        } else if self.supports(op::REMOTE_RELEASE) {
            let resp = c.operation_ok(op::REMOTE_RELEASE, &[]).await?;
            let why = match resp.params.get(0) {
                0 => None,
                1 => Some("it could not focus"),
                3 => Some("the mirror is up"),
                7 => Some("the card is full"),
                8 => Some("the card is write-protected"),
                _ => Some("it refused"),
            };
            if let Some(why) = why {
                return Err(Error::Protocol(format!("the camera did not take the picture: {why}")));
            }
        } else {
            return Err(Error::Protocol(
                "this EOS body advertises neither RemoteReleaseOn nor RemoteRelease".into(),
            ));
        }
        let deadline = Instant::now() + CAPTURE_WAIT;
        let mut delay = FIRST_POLL;
        loop {
            if !self.added.is_empty() || !self.transfers.is_empty() {
                // RAW + JPEG: the companion is reported with or right after the first file.
                self.poll(c).await?;
                let on_card = self.added.drain(..).map(|o| Captured::OnCard(o.handle));
                let held = self.transfers.drain(..).map(Captured::ForTheComputer);
                return Ok(on_card.chain(held).collect());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout("the new picture (EOS ObjectAddedEx)"));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(SLOWEST_POLL);
            self.keep_on(c).await?;
            self.poll(c).await?;
        }
    }

    /// Reads a capture held for the computer into `out` with GetPartialObject in 1 MiB pieces (sent
    /// whether or not the camera advertises it, as gphoto2 does), then TransferComplete, which frees
    /// the camera's memory. Returns the bytes written.
    pub async fn fetch_transfer<W: tokio::io::AsyncWrite + Unpin + Send>(
        &mut self,
        c: &mut Client,
        t: &TransferRequest,
        offset: u64,
        out: &mut W,
    ) -> Result<u64> {
        let mut at =
            u32::try_from(offset).map_err(|_| Error::Protocol("offset beyond a held capture".into()))?;
        let mut written = 0u64;
        while at < t.size {
            let n = c.get_partial_object(t.handle, at, TRANSFER_PIECE.min(t.size - at), out).await?;
            if n == 0 {
                // A camera answering empty pieces would loop forever (gphoto2 does).
                return Err(Error::Protocol(format!("the camera sent nothing for {} at byte {at}", t.name)));
            }
            written += n;
            at = at.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        }
        c.operation_ok(op::TRANSFER_COMPLETE, &[t.handle]).await?;
        Ok(written)
    }

    /// The captures the camera asked the computer to take (RequestObjectTransfer) since the last
    /// call or capture.
    pub fn take_transfers(&mut self) -> Vec<TransferRequest> {
        self.transfers.drain(..).collect()
    }

    /// The next event the camera reports, polling for it, with the card object it announces.
    pub async fn next_event(&mut self, c: &mut Client) -> Result<(Event, Option<u32>)> {
        loop {
            // Long waits: within one, polls keep the camera's pace.
            if let Some(e) = self.event_within(c, Duration::from_secs(3600)).await? {
                return Ok(e);
            }
        }
    }

    /// Like [`Eos::next_event`], but gives up after polling for about `wait`: `None` then. Each poll
    /// is completed, so the session stays in step whatever the caller does next.
    pub async fn event_within(
        &mut self,
        c: &mut Client,
        wait: Duration,
    ) -> Result<Option<(Event, Option<u32>)>> {
        self.prepare(c).await?;
        let deadline = Instant::now() + wait;
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(Some(e));
            }
            self.keep_on(c).await?;
            if self.poll(c).await? == 0 {
                // The camera's pace between polls, but never past the caller's wait.
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(None);
                }
                tokio::time::sleep(left.min(SLOWEST_POLL)).await;
            }
        }
    }

    /// Every property the camera reported.
    pub async fn settings(&mut self, c: &mut Client) -> Result<Vec<Setting>> {
        self.prepare(c).await?;
        self.drain(c).await?;
        Ok(self.props.values().map(|p| self.describe(p)).collect())
    }

    /// One property, by gphoto2's name or `0xD1NN`.
    pub async fn setting(&mut self, c: &mut Client, key: &str) -> Result<Setting, CoreError> {
        self.prepare(c).await?;
        self.drain(c).await?;
        let code = self.known(key)?;
        Ok(self.describe(&self.props[&code]))
    }

    fn known(&self, key: &str) -> Result<u32, CoreError> {
        let code = code_of(key).ok_or_else(|| CoreError::NotFound(format!("setting {:?}", escape(key))))?;
        if !self.props.contains_key(&code) {
            return Err(CoreError::NotFound(format!(
                "setting {}: the camera has not reported it",
                escape(key)
            )));
        }
        Ok(code)
    }

    fn describe(&self, p: &EosProp) -> Setting {
        let listed =
            self.allowed.get(&p.code).and_then(|l| render_allowed(p.code, l)).filter(|l| !l.is_empty());
        // An empty list means "anything in the table" to gphoto2.
        let choices = listed.or_else(|| {
            canon::value_table(p.code).map(|t| {
                let mut names: Vec<String> = t.entries.iter().map(|(_, n)| n.to_string()).collect();
                names.dedup();
                names
            })
        });
        Setting {
            key: key_of(p.code),
            label: label_of(p.code),
            value: render(p),
            writable: !READ_ONLY.contains(&p.code),
            form: choices.map_or(SettingForm::Free, |choices| SettingForm::Choices { choices }),
        }
    }

    /// Sets a property with SetDevicePropValueEx and answers it as the camera now reports it.
    pub async fn set_setting(
        &mut self,
        c: &mut Client,
        key: &str,
        value: &str,
    ) -> Result<Setting, CoreError> {
        self.prepare(c).await?;
        self.drain(c).await?;
        let code = self.known(key)?;
        let name = key_of(code);
        if READ_ONLY.contains(&code) {
            return Err(CoreError::InvalidValue(format!("{name} is read-only")));
        }
        let refuse = |allowed: Option<&AllowedList>| {
            let shown = allowed.and_then(|l| render_allowed(code, l)).unwrap_or_default();
            CoreError::InvalidValue(if shown.is_empty() {
                format!("{name}={}: not a value camctl knows", escape(value))
            } else {
                format!("{name}={}: allowed: {}", escape(value), shown.join(", "))
            })
        };
        let allowed = self.allowed.get(&code);
        let wanted = if prop::is_image_format(code) {
            let packed = canon::image_format_code(value).ok_or_else(|| refuse(allowed))?;
            let format = ImageFormat::from_code(packed);
            if let Some(AllowedList::ImageFormats(list)) = allowed
                && !list.is_empty()
                && !list.iter().any(|f| f.code() == packed)
            {
                return Err(refuse(allowed));
            }
            EosProp::image_format(code, &format)
        } else if ValueKind::of(code) == ValueKind::Str {
            EosProp::string(code, value)
        } else {
            let v = match canon::value_table(code) {
                Some(t) => t.value(value),
                None => value.trim().parse::<u32>().ok(),
            }
            .ok_or_else(|| refuse(allowed))?;
            if let Some(AllowedList::Slots(list)) = allowed
                && !list.is_empty()
                && !list.contains(&v)
            {
                return Err(refuse(allowed));
            }
            EosProp::int(code, v)
        };
        c.operation_out(op::SET_DEVICE_PROP_VALUE_EX, &[], &wanted.set_prop_ex_bytes()).await?;
        // gphoto2 keeps what it set when the camera says OK; real bodies also report it in the next poll.
        self.props.insert(code, wanted);
        self.drain(c).await?;
        Ok(self.describe(&self.props[&code]))
    }

    /// One live-view JPEG: the first call turns the viewfinder on and routes it to the computer
    /// (EVF mode 0xD1B1 := 1, output 0xD1B0 := PC as gphoto2 does); frames not ready yet
    /// (ObjectNotReady 0xA102, DeviceBusy) are asked for again for up to 3 s.
    pub async fn live_frame(&mut self, c: &mut Client) -> Result<Vec<u8>> {
        self.prepare(c).await?;
        if self.live_output.is_none() {
            self.drain(c).await?;
            if self.props.get(&prop::EVF_MODE).and_then(EosProp::int_value).is_some_and(|m| m != 1) {
                let code = c
                    .operation_out(
                        op::SET_DEVICE_PROP_VALUE_EX,
                        &[],
                        &EosProp::int(prop::EVF_MODE, 1).set_prop_ex_bytes(),
                    )
                    .await;
                // Busy is tolerated (gphoto2 too): the next frames tell.
                if let Err(e) = code
                    && !matches!(e, Error::Response { code: rc::DEVICE_BUSY, .. })
                {
                    return Err(e);
                }
            }
            let output = self.props.get(&prop::EVF_OUTPUT_DEVICE).and_then(EosProp::int_value).unwrap_or(0);
            if output & !canon::evf_output::TFT == 0 {
                let pc = EosProp::int(prop::EVF_OUTPUT_DEVICE, canon::evf_output::PC);
                c.operation_out(op::SET_DEVICE_PROP_VALUE_EX, &[], &pc.set_prop_ex_bytes()).await?;
                self.props.insert(prop::EVF_OUTPUT_DEVICE, pc);
            }
            self.live_output = Some(output);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut tries = 0u32;
        loop {
            self.keep_on(c).await?;
            let params = [op::VIEWFINDER_DATA_PARAM, 0, 0];
            match c.operation_in(op::GET_VIEWFINDER_DATA, &params, MAX_EVENT_DATA).await {
                Ok(data) => {
                    return match canon::viewfinder_jpeg(&data)? {
                        Some(jpeg) => Ok(jpeg.to_vec()),
                        None => Err(Error::Protocol("the live-view data holds no JPEG".into())),
                    };
                }
                Err(Error::Response { code: canon::rc::OBJECT_NOT_READY | rc::DEVICE_BUSY, .. })
                    if Instant::now() < deadline =>
                {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(5) * tries.min(20)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Gives the viewfinder back to the camera's screen after [`Eos::live_frame`].
    pub async fn end_live(&mut self, c: &mut Client) {
        if let Some(output) = self.live_output.take() {
            let back = EosProp::int(prop::EVF_OUTPUT_DEVICE, output);
            if c.operation_out(op::SET_DEVICE_PROP_VALUE_EX, &[], &back.set_prop_ex_bytes()).await.is_ok() {
                self.props.insert(prop::EVF_OUTPUT_DEVICE, back);
            }
        }
    }

    /// Battery charge in percent, when the camera reported it.
    pub fn battery_percent(&self) -> Option<u8> {
        self.props.get(&prop::BATTERY_POWER).and_then(EosProp::int_value).and_then(canon::battery_percent)
    }

    /// Leaves event mode so the camera's own controls work again (gphoto2's exit sequence, shortened:
    /// failures here must not hide the command's result).
    pub async fn finish(&mut self, c: &mut Client) {
        self.end_live(c).await;
        if self.prepared {
            let _ = self.drain(c).await;
            let _ = c.operation(op::SET_EVENT_MODE, &[0]).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_gphoto2_and_hex_codes_work() {
        assert_eq!(code_of("aperture"), Some(prop::APERTURE));
        assert_eq!(code_of("ISO"), Some(prop::ISO_SPEED));
        assert_eq!(code_of("0xd1b3"), Some(0xD1B3));
        assert_eq!(key_of(0xD1B3), "0xd1b3");
        assert_eq!(code_of("nonsense"), None);
    }

    #[test]
    fn values_render_as_gphoto2_labels() {
        assert_eq!(render(&EosProp::int(prop::APERTURE, 0x30)), "5.6");
        assert_eq!(render(&EosProp::int(prop::SHUTTER_SPEED, 0x70)), "1/125");
        assert_eq!(render(&EosProp::string(prop::OWNER, "Ann")), "Ann");
        assert_eq!(render(&EosProp::int(prop::AVAILABLE_SHOTS, 3075)), "3075");
    }
}
