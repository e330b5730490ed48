//! The Nikon dialect over a [`Client`] session, as libgphoto2 drives Nikon bodies
//! (`ptpip-vendors.md` §3): the vendor properties from GetVendorPropCodes 0x90CA, events polled with
//! GetEvent 0x90C7 where the camera has it, InitiateCaptureRecInMedia 0x9207 and DeviceReady 0x90C8
//! around captures, gphoto2's names and labels for the exposure settings, and errors that say what a
//! Nikon refusal means.

use std::collections::VecDeque;
use std::time::Duration;

use camctl_core::{Error as CoreError, Event, Setting, SettingForm};
use tokio::time::Instant;

use crate::client::{Client, MAX_CAPTURE_OBJECTS};
use crate::error::{Error, Result};
use crate::wire::codes::{self, rc};
use crate::wire::nikon::{self, DeviceReady, ExposureSetting, NikonEvent, op};
use crate::wire::{DeviceInfo, DevicePropDesc, PropForm, PropValue};

/// Largest GetEvent / GetVendorPropCodes reply read (a real one is a few hundred bytes).
const MAX_EVENT_DATA: usize = 1 << 20;

/// Largest live-view image read (real ones are a few hundred KiB).
const MAX_LIVE_VIEW: usize = 8 << 20;

/// DeviceReady polling after a capture: gphoto2 asks every 100 ms, up to 10,000 times; camctl gives
/// the camera a minute.
const READY_EVERY: Duration = Duration::from_millis(100);
const READY_FOR: Duration = Duration::from_secs(60);

/// How long a capture waits for the camera to report the new file (gphoto2: 70 s).
const CAPTURE_WAIT: Duration = Duration::from_secs(70);

/// Poll interval of GetEvent while waiting.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// Busy answers to 0x9207 retried (gphoto2: 100, 2 ms apart).
const CAPTURE_RETRIES: u32 = 100;

/// GetEvent calls made to empty the camera's queue before a capture.
const MAX_DRAIN_POLLS: usize = 64;

/// Events kept for `camctl events` before the oldest are dropped.
const MAX_PENDING_EVENTS: usize = 1024;

/// What a Nikon session needs besides the generic client.
pub struct Nikon {
    operations: Vec<u16>,
    model: String,
    pending: VecDeque<NikonEvent>,
    /// Whether live view was started.
    live: bool,
}

impl Nikon {
    /// A Nikon session for a camera with this DeviceInfo; adds the vendor properties to `info`'s list
    /// (gphoto2 does the same at startup), so the generic property operations reach them.
    pub async fn start(c: &mut Client, info: &mut DeviceInfo) -> Result<Nikon> {
        if info.operations.contains(&op::GET_VENDOR_PROP_CODES) {
            match c.operation_in(op::GET_VENDOR_PROP_CODES, &[], MAX_EVENT_DATA).await {
                Ok(data) => {
                    for code in nikon::decode_vendor_prop_codes(&data)? {
                        if !info.properties.contains(&code) {
                            info.properties.push(code);
                        }
                    }
                }
                // gphoto2 only logs this failure.
                Err(Error::Response { code, .. }) => {
                    tracing::info!("GetVendorPropCodes refused: {}", nikon::describe_response(code))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Nikon {
            operations: info.operations.clone(),
            model: info.model.clone(),
            pending: VecDeque::new(),
            live: false,
        })
    }

    fn supports(&self, code: u16) -> bool {
        self.operations.contains(&code)
    }

    /// Whether the camera reports its events through GetEvent 0x90C7 (else on the PTP/IP event
    /// connection, as generic cameras do).
    pub fn polls_events(&self) -> bool {
        self.supports(op::GET_EVENT)
    }

    /// One GetEvent 0x90C7; the events go to the back of the queue.
    async fn poll(&mut self, c: &mut Client) -> Result<usize> {
        let data = c.operation_in(op::GET_EVENT, &[], MAX_EVENT_DATA).await?;
        let events = nikon::decode_events(&data)?;
        let n = events.len();
        for e in events {
            if self.pending.len() == MAX_PENDING_EVENTS {
                self.pending.pop_front();
            }
            self.pending.push_back(e);
        }
        Ok(n)
    }

    /// DeviceReady until the camera is no longer busy.
    async fn wait_ready(&mut self, c: &mut Client) -> Result<()> {
        if !self.supports(op::DEVICE_READY) {
            return Ok(());
        }
        let deadline = Instant::now() + READY_FOR;
        loop {
            match DeviceReady::from_response(c.operation(op::DEVICE_READY, &[]).await?.code) {
                DeviceReady::Ready => return Ok(()),
                DeviceReady::Failed(code) => return Err(Error::Response { op: op::DEVICE_READY, code }),
                DeviceReady::Busy if Instant::now() >= deadline => {
                    return Err(Error::Timeout("the camera to be ready (DeviceReady)"));
                }
                DeviceReady::Busy => tokio::time::sleep(READY_EVERY).await,
            }
        }
    }

    /// Captures to the card: InitiateCaptureRecInMedia where the body has it (else the standard
    /// InitiateCapture), DeviceReady, then the new objects from the polled or PTP/IP events.
    pub async fn capture(&mut self, c: &mut Client) -> Result<Vec<u32>> {
        if !self.supports(op::INITIATE_CAPTURE_REC_IN_MEDIA) || !self.polls_events() {
            // Without 0x9207 and the polled events, the standard capture with PTP/IP events is what
            // gphoto2 falls back to as well.
            let added = c.capture().await?;
            self.wait_ready(c).await?;
            return Ok(added);
        }
        if self.supports(op::CHANGE_CAMERA_MODE) {
            let code = c.operation(op::CHANGE_CAMERA_MODE, &[1]).await?.code;
            if code != rc::OK && code != nikon::rc::CHANGE_CAMERA_MODE_FAILED {
                return Err(Error::Response { op: op::CHANGE_CAMERA_MODE, code });
            }
        }
        // Events from before the shutter belong to nobody.
        // Bounded: a camera whose queue never empties must not hold the capture forever.
        for _ in 0..MAX_DRAIN_POLLS {
            if self.poll(c).await? == 0 {
                break;
            }
        }
        self.pending.clear();
        c.discard_events();
        let mut params: &[u32] = &[nikon::capture::NO_AF, nikon::capture::TARGET_CARD];
        let mut tries = 0;
        loop {
            let code = c.operation(op::INITIATE_CAPTURE_REC_IN_MEDIA, params).await?.code;
            match code {
                rc::OK => break,
                rc::DEVICE_BUSY | nikon::rc::INVALID_STATUS if tries < CAPTURE_RETRIES => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                // Older bodies take only the AF parameter.
                rc::INVALID_PARAMETER if params.len() == 2 => params = &[nikon::capture::NO_AF],
                code => return Err(Error::Response { op: op::INITIATE_CAPTURE_REC_IN_MEDIA, code }),
            }
        }
        self.wait_ready(c).await?;
        let deadline = Instant::now() + CAPTURE_WAIT;
        let mut added = Vec::new();
        loop {
            while let Some(e) = self.pending.pop_front() {
                match e {
                    NikonEvent::ObjectAdded { handle } => {
                        if added.len() == MAX_CAPTURE_OBJECTS {
                            return Err(Error::Protocol(format!(
                                "camera reported more than {MAX_CAPTURE_OBJECTS} new objects for one capture"
                            )));
                        }
                        added.push(handle);
                    }
                    NikonEvent::ObjectAddedInSdram { .. } => {
                        added.extend(e.sdram_handle());
                        return Ok(added);
                    }
                    e if e.ends_capture() => return Ok(added),
                    NikonEvent::StoreFull { .. } => {
                        return Err(Error::Protocol("the memory card is full".into()));
                    }
                    _ => {}
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout("CaptureComplete (Nikon GetEvent)"));
            }
            if self.poll(c).await? == 0 {
                tokio::time::sleep(POLL_EVERY).await;
            }
        }
    }

    /// One live-view JPEG: StartLiveView and DeviceReady on the first call (its first frame is
    /// discarded, as gphoto2 does: it may predate the start), then GetLiveViewImg past its header.
    pub async fn live_frame(&mut self, c: &mut Client) -> Result<Vec<u8>> {
        if !self.supports(op::START_LIVE_VIEW) || !self.supports(op::GET_LIVE_VIEW_IMG) {
            return Err(Error::Protocol(
                "this Nikon body has no live view over PTP/IP (StartLiveView 0x9201)".into(),
            ));
        }
        if !self.live {
            let code = c.operation(op::START_LIVE_VIEW, &[]).await?.code;
            if code != rc::OK && code != rc::DEVICE_BUSY {
                return Err(Error::Response { op: op::START_LIVE_VIEW, code });
            }
            self.live = true;
            self.wait_ready(c).await?;
            self.live_image(c).await?;
        }
        self.live_image(c).await
    }

    async fn live_image(&mut self, c: &mut Client) -> Result<Vec<u8>> {
        for _ in 0..100 {
            match c.operation_in(op::GET_LIVE_VIEW_IMG, &[], MAX_LIVE_VIEW).await {
                Ok(data) => {
                    let image =
                        nikon::split_live_view(&data, nikon::LiveViewHeaderLen::for_model(&self.model))?;
                    return Ok(image.jpeg.to_vec());
                }
                Err(Error::Response { code: rc::DEVICE_BUSY, .. }) => {
                    tokio::time::sleep(Duration::from_millis(10)).await
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Timeout("a live-view frame (GetLiveViewImg stayed busy)"))
    }

    /// EndLiveView after [`Nikon::live_frame`] (gphoto2 sends it at every exit).
    pub async fn end_live(&mut self, c: &mut Client) {
        if std::mem::take(&mut self.live) {
            let _ = c.operation(op::END_LIVE_VIEW, &[]).await;
        }
    }

    fn check_profiles(&self) -> Result<()> {
        let ops = [op::GET_PROFILE_ALL_DATA, op::SEND_PROFILE_DATA, op::DELETE_PROFILE];
        if ops.iter().all(|&o| self.supports(o)) {
            Ok(())
        } else {
            Err(Error::Protocol(
                "this Nikon body keeps no Wi-Fi profiles over PTP/IP (no GetProfileAllData / SendProfileData / \
                 DeleteProfile)"
                    .into(),
            ))
        }
    }

    /// The camera's Wi-Fi profile slots (GetProfileAllData 0x9006).
    pub async fn wifi_profiles(&mut self, c: &mut Client) -> Result<nikon::ProfileList> {
        self.check_profiles()?;
        let data = c.operation_in(op::GET_PROFILE_ALL_DATA, &[], MAX_EVENT_DATA).await?;
        Ok(nikon::ProfileList::decode(&data)?)
    }

    /// Writes `profile` into the first free slot (SendProfileData 0x9007), as gphoto2 does; returns
    /// the slot id. The profile carries this session's GUID, so the camera knows the computer.
    pub async fn add_wifi_profile(&mut self, c: &mut Client, mut profile: nikon::WifiProfile) -> Result<u8> {
        let list = self.wifi_profiles(c).await?;
        let slot = list.first_free_slot().ok_or_else(|| {
            Error::Protocol(format!("all {} Wi-Fi profile slots are in use", list.slots.len()))
        })?;
        profile.machine_guid = c.guid();
        let bytes = profile.to_bytes().map_err(|e| Error::Protocol(e.to_string()))?;
        c.operation_out(op::SEND_PROFILE_DATA, &[u32::from(slot)], &bytes).await?;
        Ok(slot)
    }

    /// Deletes the profile in slot `id` (DeleteProfile 0x9008).
    pub async fn delete_wifi_profile(&mut self, c: &mut Client, id: u8) -> Result<()> {
        let list = self.wifi_profiles(c).await?;
        if !list.slots.iter().any(|s| s.id == id && s.valid != 0) {
            return Err(Error::Protocol(format!("no Wi-Fi profile in slot {id}")));
        }
        c.operation_ok(op::DELETE_PROFILE, &[u32::from(id)]).await?;
        Ok(())
    }

    /// The next event, polled with GetEvent (only when [`Nikon::polls_events`]), with the card
    /// object it announces.
    pub async fn next_event(&mut self, c: &mut Client) -> Result<(Event, Option<u32>)> {
        loop {
            // Long waits: within one, polls keep the camera's pace.
            if let Some(e) = self.event_within(c, Duration::from_secs(3600)).await? {
                return Ok(e);
            }
        }
    }

    /// Like [`Nikon::next_event`], but gives up after polling for about `wait`: `None` then. Each
    /// poll is completed, so the session stays in step whatever the caller does next.
    pub async fn event_within(
        &mut self,
        c: &mut Client,
        wait: Duration,
    ) -> Result<Option<(Event, Option<u32>)>> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(e) = self.pending.pop_front() {
                let object = match e {
                    NikonEvent::ObjectAdded { handle } => Some(handle),
                    _ => None,
                };
                return Ok(Some((event(e), object)));
            }
            if self.poll(c).await? == 0 {
                // The camera's pace between polls, but never past the caller's wait.
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(None);
                }
                tokio::time::sleep(left.min(POLL_EVERY * 2)).await;
            }
        }
    }
}

/// A Nikon event in `camctl events` terms.
fn event(e: NikonEvent) -> Event {
    let (code, param) = e.to_record();
    let detail = match e {
        NikonEvent::DevicePropChanged { prop } => key_of(prop).unwrap_or_else(|| crate::props::key_of(prop)),
        NikonEvent::ObjectAddedInSdram { .. } => {
            format!("object 0x{:08x} (in the camera's memory)", e.sdram_handle().unwrap_or(param))
        }
        _ => format!("0x{param:08x}"),
    };
    let name = match code {
        nikon::ev::OBJECT_ADDED_IN_SDRAM => "ObjectAddedInSdram".to_string(),
        nikon::ev::CAPTURE_COMPLETE_REC_IN_SDRAM => "CaptureCompleteRecInSdram".to_string(),
        _ => codes::ev::name(code),
    };
    Event::new(name, detail)
}

/// gphoto2's name for a Nikon exposure setting (`f-number`, `shutterspeed`, `iso`...).
pub fn key_of(code: u16) -> Option<String> {
    ExposureSetting::from_prop_code(code).map(|s| s.gphoto_name().to_string())
}

/// The property a gphoto2 name stands for.
pub fn code_of(key: &str) -> Option<u16> {
    ExposureSetting::from_gphoto_name(key).map(ExposureSetting::prop_code)
}

fn offered(setting: ExposureSetting, desc: &DevicePropDesc) -> Vec<i64> {
    match &desc.form {
        PropForm::Enumeration(values) => values.iter().filter_map(|v| setting.from_prop_value(v)).collect(),
        _ => Vec::new(),
    }
}

/// An exposure setting described with gphoto2's labels; `None` for other properties (the generic
/// description applies) or a value of another type than gphoto2 expects.
pub fn describe(desc: &DevicePropDesc) -> Option<Setting> {
    let setting = ExposureSetting::from_prop_code(desc.code)?;
    let current = setting.from_prop_value(&desc.current)?;
    let values = offered(setting, desc);
    let form = if values.is_empty() {
        SettingForm::Free
    } else {
        SettingForm::Choices { choices: values.iter().map(|&v| setting.label(v)).collect() }
    };
    Some(Setting {
        key: setting.gphoto_name().to_string(),
        label: crate::props::label_of(desc.code),
        value: setting.label(current),
        writable: desc.writable,
        form,
    })
}

/// The value to send for `input` (a gphoto2 label, snapped to the nearest offered value as gphoto2
/// snaps); `None` for properties without a Nikon table.
pub fn parse(desc: &DevicePropDesc, input: &str) -> Option<Result<PropValue, String>> {
    let setting = ExposureSetting::from_prop_code(desc.code)?;
    let values = offered(setting, desc);
    let refusal = || {
        let shown: Vec<String> = values.iter().map(|&v| setting.label(v)).collect();
        format!("{}={input}: allowed: {}", setting.gphoto_name(), shown.join(", "))
    };
    Some(setting.parse_offered(input, &values).and_then(|v| setting.to_prop_value(v)).ok_or_else(refusal))
}

/// A Nikon refusal in the user's terms ("AccessDenied (0x200F): the camera refuses access: ... check
/// its Wi-Fi transfer setting"), other errors unchanged.
pub fn explain(e: Error) -> CoreError {
    match e {
        Error::Response { op, code } if nikon::explain_response(code).is_some() => {
            let what = format!("operation 0x{op:04x} refused: {}", nikon::describe_response(code));
            match code {
                codes::rc::ACCESS_DENIED | codes::rc::OPERATION_NOT_SUPPORTED => CoreError::Rejected(what),
                _ => CoreError::Camera(what),
            }
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_says_what_to_do() {
        let e = explain(Error::Response { op: 0x1009, code: codes::rc::ACCESS_DENIED });
        assert!(matches!(e, CoreError::Rejected(_)));
        assert!(e.to_string().contains("Wi-Fi transfer"), "{e}");
    }

    #[test]
    fn exposure_names_are_gphoto2_s() {
        assert_eq!(code_of("f-number"), Some(0x5007));
        assert_eq!(key_of(0x500D).as_deref(), Some("shutterspeed"));
    }
}
