//! The `CanonEos` emulator personality driven over real loopback sockets by a raw initiator built on
//! `Connection` + `wire` (independent of the real client), checking the EOS answers' bytes.

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::path::Path;

use camctl_ptpip::emulator::{Emulator, EmulatorConfig, Personality};
use camctl_ptpip::wire::canon::{self, AllowedList, EosEvent, EosProp};
use camctl_ptpip::wire::codes::{format, op, rc};
use camctl_ptpip::wire::*;

mod common;

use common::emu::Running;
use common::raw::{self, T};

const SID: u32 = 0x0001_0001;

async fn start(dir: &Path) -> Running {
    Running::personality(dir, Personality::CanonEos).await
}

/// The raw test initiator (command connection only: EOS reports through GetEvent).
struct Cam {
    raw: raw::Cam,
    /// Records read by [`Cam::wait_for`] after the one it returned.
    pending: std::collections::VecDeque<EosEvent>,
}

impl Deref for Cam {
    type Target = raw::Cam;
    fn deref(&self) -> &raw::Cam {
        &self.raw
    }
}

impl DerefMut for Cam {
    fn deref_mut(&mut self) -> &mut raw::Cam {
        &mut self.raw
    }
}

impl Cam {
    async fn connect(addr: SocketAddr) -> Cam {
        Cam { raw: raw::Cam::connect(addr).await, pending: Default::default() }
    }

    /// Connect, OpenSession, SetRemoteMode(1), SetEventMode(1): what gphoto2's prepare step does.
    async fn open(addr: SocketAddr) -> Cam {
        let mut cam = Cam::connect(addr).await;
        cam.ok(op::OPEN_SESSION, &[1]).await;
        cam.ok(canon::op::SET_REMOTE_MODE, &[1]).await;
        cam.ok(canon::op::SET_EVENT_MODE, &[1]).await;
        cam
    }

    /// SetDevicePropValueEx with its data-out phase as gphoto2 sends it (Start_Data + End_Data).
    async fn set_prop_ex(&mut self, value: &EosProp) -> u16 {
        self.send(canon::op::SET_DEVICE_PROP_VALUE_EX, &[], &value.set_prop_ex_bytes()).await
    }

    /// One GetEvent: the raw data (which must end with the terminator) and its decoded records.
    async fn events(&mut self) -> (Vec<u8>, Vec<EosEvent>) {
        let data = self.data(canon::op::GET_EVENT, &[]).await;
        assert!(data.ends_with(&canon::TERMINATOR), "no terminator: {data:02x?}");
        let events = canon::decode_events(&data).unwrap();
        (data, events)
    }

    /// Polls GetEvent until a record matching `want` arrives (generous deadline, no fixed sleeps).
    async fn wait_for(&mut self, want: impl Fn(&EosEvent) -> bool) -> (EosEvent, Vec<EosEvent>) {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + T;
        loop {
            if self.pending.is_empty() {
                let (_, events) = self.events().await;
                self.pending.extend(events);
            }
            while let Some(e) = self.pending.pop_front() {
                if want(&e) {
                    return (e, seen);
                }
                seen.push(e);
            }
            assert!(tokio::time::Instant::now() < deadline, "record not seen; got {seen:?}");
            tokio::task::yield_now().await;
        }
    }

    /// GetPartialObject in 1 MiB slices until `size` bytes are read, as gphoto2 reads a PC-target capture.
    async fn read_partial(&mut self, handle: u32, size: u32) -> Vec<u8> {
        let mut out = Vec::new();
        while out.len() < size as usize {
            let want = (size - out.len() as u32).min(1 << 20);
            let a = self.ok(op::GET_PARTIAL_OBJECT, &[handle, out.len() as u32, want]).await;
            let chunk = a.data.expect("data");
            assert_eq!(a.params, [chunk.len() as u32]);
            assert!(!chunk.is_empty());
            out.extend(chunk);
        }
        out
    }
}

fn media(dir: &Path) {
    camctl_core::media::write_sample_pictures(&dir.join("DCIM/100CANON"), 2).unwrap();
}

fn prop_value(events: &[EosEvent], code: u32) -> Option<&EosProp> {
    events.iter().rev().find_map(|e| match e {
        EosEvent::PropValueChanged(p) if p.code == code => Some(p),
        _ => None,
    })
}

fn allowed(events: &[EosEvent], code: u32) -> Option<&AllowedList> {
    events.iter().find_map(|e| match e {
        EosEvent::AllowedValues(a) if a.code == code => Some(&a.values),
        _ => None,
    })
}

#[tokio::test]
async fn device_info_is_a_canon_eos_body() {
    let dir = tempfile::tempdir().unwrap();
    media(dir.path());
    let emu = start(dir.path()).await;
    let mut cam = Cam::connect(emu.addr).await;
    let info = DeviceInfo::decode(&cam.data(op::GET_DEVICE_INFO, &[]).await).unwrap();
    assert_eq!(info.vendor_extension_id, 0x0B);
    assert_eq!(info.manufacturer, "Canon Inc.");
    assert_eq!(info.model, "Canon EOS 5D Mark III");
    for code in [
        canon::op::GET_STORAGE_IDS,
        canon::op::GET_STORAGE_INFO,
        canon::op::SET_DEVICE_PROP_VALUE_EX,
        canon::op::SET_REMOTE_MODE,
        canon::op::SET_EVENT_MODE,
        canon::op::GET_EVENT,
        canon::op::TRANSFER_COMPLETE,
        canon::op::PC_HDD_CAPACITY,
        canon::op::KEEP_DEVICE_ON,
        canon::op::REQUEST_DEVICE_PROP_VALUE,
        canon::op::REMOTE_RELEASE_ON,
        canon::op::REMOTE_RELEASE_OFF,
        canon::op::GET_VIEWFINDER_DATA,
        op::GET_OBJECT_HANDLES,
        op::GET_OBJECT,
        op::GET_PARTIAL_OBJECT,
        op::DELETE_OBJECT,
    ] {
        assert!(info.operations.contains(&code), "{code:#06x} not advertised");
    }
    // PowerShot / CHDK paths, standard capture and standard properties are not offered.
    for code in [0x9008, 0x900B, 0x9013, 0x901A, 0x9999, op::INITIATE_CAPTURE, op::GET_DEVICE_PROP_DESC] {
        assert!(!info.operations.contains(&code), "{code:#06x} advertised");
    }
    assert!(info.properties.is_empty(), "{:x?}", info.properties);
    // Unadvertised ops are refused; EOS ops need a session.
    assert_eq!(cam.call(op::INITIATE_CAPTURE, &[0, 0]).await.code, rc::OPERATION_NOT_SUPPORTED);
    assert_eq!(cam.call(canon::op::GET_EVENT, &[]).await.code, rc::SESSION_NOT_OPEN);
}

#[tokio::test]
async fn get_event_dump_then_drain_then_set_prop_ex() {
    let dir = tempfile::tempdir().unwrap();
    media(dir.path());
    let emu = start(dir.path()).await;
    let mut cam = Cam::connect(emu.addr).await;
    cam.ok(op::OPEN_SESSION, &[1]).await;
    cam.ok(canon::op::SET_REMOTE_MODE, &[1]).await;
    cam.ok(canon::op::SET_MODE_DIAL_DISABLE, &[1]).await;
    // Before SetEventMode: the terminator alone, still with a data phase.
    assert_eq!(cam.data(canon::op::GET_EVENT, &[]).await, canon::TERMINATOR);
    cam.ok(canon::op::SET_EVENT_MODE, &[1]).await;

    let (_, first) = cam.events().await;
    let int = |code| prop_value(&first, code).and_then(EosProp::int_value);
    assert_eq!(int(canon::prop::APERTURE), Some(0x28));
    assert_eq!(int(canon::prop::SHUTTER_SPEED), Some(0x70));
    assert_eq!(int(canon::prop::ISO_SPEED), Some(0x48));
    for code in [
        canon::prop::EXP_COMPENSATION,
        canon::prop::AUTO_EXPOSURE_MODE,
        canon::prop::DRIVE_MODE,
        canon::prop::FOCUS_MODE,
        canon::prop::WHITE_BALANCE,
        canon::prop::BATTERY_POWER,
        canon::prop::CAPTURE_DESTINATION,
        canon::prop::EVF_OUTPUT_DEVICE,
        canon::prop::EVF_MODE,
    ] {
        assert!(int(code).is_some(), "{code:#06x} missing");
    }
    assert!(int(canon::prop::AVAILABLE_SHOTS).unwrap() > 0);
    let serial = prop_value(&first, canon::prop::SERIAL_NUMBER).unwrap();
    assert_eq!(serial.typed_value(), Some(PropValue::Str("0001".into())));
    let format = prop_value(&first, canon::prop::IMAGE_FORMAT).unwrap();
    assert_eq!(canon::image_format_name(canon::ImageFormat::decode(&format.value).unwrap().code()), "L");
    // Every value comes before every list (gphoto2 types a property by its value record).
    let first_list = first.iter().position(|e| matches!(e, EosEvent::AllowedValues(_))).unwrap();
    assert!(first[first_list..].iter().all(|e| matches!(e, EosEvent::AllowedValues(_))));
    for code in [
        canon::prop::APERTURE,
        canon::prop::SHUTTER_SPEED,
        canon::prop::ISO_SPEED,
        canon::prop::EXP_COMPENSATION,
        canon::prop::WHITE_BALANCE,
        canon::prop::DRIVE_MODE,
        canon::prop::CAPTURE_DESTINATION,
        canon::prop::EVF_OUTPUT_DEVICE,
    ] {
        let Some(AllowedList::Slots(values)) = allowed(&first, code) else { panic!("{code:#06x}: no list") };
        assert!(values.contains(&int(code).unwrap()), "{code:#06x}: current value not allowed");
    }
    let Some(AllowedList::Slots(apertures)) = allowed(&first, canon::prop::APERTURE) else { panic!() };
    assert!(apertures.contains(&0x30) && !apertures.contains(&0x10));
    let Some(AllowedList::Slots(targets)) = allowed(&first, canon::prop::CAPTURE_DESTINATION) else {
        panic!()
    };
    assert!(targets.contains(&canon::CAPTURE_TO_PC));
    assert!(
        matches!(allowed(&first, canon::prop::IMAGE_FORMAT), Some(AllowedList::ImageFormats(f)) if !f.is_empty())
    );
    // Read-only AF mode has no list.
    assert!(allowed(&first, canon::prop::FOCUS_MODE).is_none());

    // Drained: the second call is the terminator only.
    let (raw, second) = cam.events().await;
    assert!(second.is_empty());
    assert_eq!(raw, canon::TERMINATOR);

    // Aperture 5.6: exact bytes gphoto2 sends, then the change as a PropValueChanged record.
    let set = EosProp::int(canon::prop::APERTURE, 0x30);
    assert_eq!(set.set_prop_ex_bytes(), [0x0c, 0, 0, 0, 0x01, 0xd1, 0, 0, 0x30, 0, 0, 0]);
    assert_eq!(cam.set_prop_ex(&set).await, rc::OK);
    let (raw, changed) = cam.events().await;
    assert_eq!(changed, [EosEvent::PropValueChanged(set)]);
    let mut golden = vec![0x10, 0, 0, 0, 0x89, 0xc1, 0, 0, 0x01, 0xd1, 0, 0, 0x30, 0, 0, 0];
    golden.extend(canon::TERMINATOR);
    assert_eq!(raw, golden);

    // Refusals: a value not in the list, a read-only property, an unknown property, garbage data.
    assert_eq!(
        cam.set_prop_ex(&EosProp::int(canon::prop::APERTURE, 0x10)).await,
        rc::INVALID_DEVICE_PROP_VALUE
    );
    assert_eq!(
        cam.set_prop_ex(&EosProp::int(canon::prop::ISO_SPEED, 0x47)).await,
        rc::INVALID_DEVICE_PROP_VALUE
    );
    assert_eq!(cam.set_prop_ex(&EosProp::int(canon::prop::FOCUS_MODE, 3)).await, rc::ACCESS_DENIED);
    assert_eq!(cam.set_prop_ex(&EosProp::int(0xD1FE, 1)).await, rc::DEVICE_PROP_NOT_SUPPORTED);
    assert_eq!(
        cam.set_prop_ex(&EosProp { code: canon::prop::APERTURE, value: vec![] }).await,
        rc::INVALID_DEVICE_PROP_FORMAT
    );
    let tid = cam.send_request(canon::op::SET_DEVICE_PROP_VALUE_EX, &[], data_phase::OUT).await;
    let mut out = Vec::new();
    Packet::StartData { tid, total: 12 }.encode(&mut out).unwrap();
    Packet::EndData { tid, data: vec![0xFF, 0xFF, 0xFF, 0xFF, 1, 0xD1, 0, 0, 0x30, 0, 0, 0] }
        .encode(&mut out)
        .unwrap();
    cam.cmd.write_raw(&out).await.unwrap();
    assert_eq!(cam.answer().await.code, rc::INVALID_DEVICE_PROP_FORMAT);
    // Nothing changed by the refusals.
    assert!(cam.events().await.1.is_empty());

    // Strings and image formats are set too; the same label under another code is taken (3.5 is 0x24
    // or 0x25) and stored as the offered code.
    let owner = EosProp::string(canon::prop::OWNER, "Jane");
    assert_eq!(cam.set_prop_ex(&owner).await, rc::OK);
    let cm = EosProp::image_format(canon::prop::IMAGE_FORMAT, &canon::ImageFormat::from_code(0x12FF));
    assert_eq!(cam.set_prop_ex(&cm).await, rc::OK);
    assert_eq!(cam.set_prop_ex(&EosProp::int(canon::prop::APERTURE, 0x24)).await, rc::OK);
    let (_, changed) = cam.events().await;
    assert_eq!(
        changed,
        [
            EosEvent::PropValueChanged(owner),
            EosEvent::PropValueChanged(cm),
            EosEvent::PropValueChanged(EosProp::int(canon::prop::APERTURE, 0x25)),
        ]
    );

    // A second connection sees the device-wide value in its own dump; changes reach both queues.
    let mut other = Cam::open(emu.addr).await;
    let (_, dump) = other.events().await;
    assert_eq!(prop_value(&dump, canon::prop::APERTURE).and_then(EosProp::int_value), Some(0x25));
    assert_eq!(other.set_prop_ex(&EosProp::int(canon::prop::ISO_SPEED, 0x58)).await, rc::OK);
    let iso = [EosEvent::PropValueChanged(EosProp::int(canon::prop::ISO_SPEED, 0x58))];
    assert_eq!(cam.events().await.1, iso);
    assert_eq!(other.events().await.1, iso);

    // RequestDevicePropValue answers OK and reports the value; SetEventMode(0) stops the records.
    cam.ok(canon::op::REQUEST_DEVICE_PROP_VALUE, &[canon::prop::SERIAL_NUMBER]).await;
    cam.ok(canon::op::REQUEST_DEVICE_PROP_VALUE, &[0xD1FE]).await;
    assert!(prop_value(&cam.events().await.1, canon::prop::SERIAL_NUMBER).is_some());
    cam.ok(canon::op::SET_EVENT_MODE, &[0]).await;
    assert_eq!(other.set_prop_ex(&EosProp::int(canon::prop::ISO_SPEED, 0x50)).await, rc::OK);
    assert!(cam.events().await.1.is_empty());
    cam.ok(canon::op::KEEP_DEVICE_ON, &[]).await;
    cam.ok(op::CLOSE_SESSION, &[]).await;
}

#[tokio::test]
async fn release_to_card_adds_an_object() {
    let dir = tempfile::tempdir().unwrap();
    media(dir.path());
    let emu = start(dir.path()).await;
    let mut cam = Cam::open(emu.addr).await;
    cam.events().await;
    assert_eq!(cam.data(canon::op::GET_STORAGE_IDS, &[]).await, encode_u32_array(&[SID]));
    cam.data(canon::op::GET_STORAGE_INFO, &[SID]).await;

    // Half press, full press (fires once even if repeated), release.
    cam.ok(canon::op::REMOTE_RELEASE_ON, &[canon::release::HALF, canon::release::WITH_AF]).await;
    cam.ok(canon::op::REMOTE_RELEASE_ON, &[canon::release::FULL, canon::release::WITH_AF]).await;
    cam.ok(canon::op::REMOTE_RELEASE_ON, &[canon::release::FULL, canon::release::WITH_AF]).await;
    cam.ok(canon::op::REMOTE_RELEASE_OFF, &[canon::release::FULL]).await;
    cam.ok(canon::op::REMOTE_RELEASE_OFF, &[canon::release::HALF]).await;

    let (added, before) =
        cam.wait_for(|e| matches!(e, EosEvent::ObjectAdded(o) if o.format == format::EXIF_JPEG)).await;
    assert!(
        before.contains(&EosEvent::CameraStatusChanged { status: canon::CAMERA_STATUS_BUSY }),
        "{before:?}"
    );
    let EosEvent::ObjectAdded(obj) = added else { unreachable!() };
    assert_eq!(obj.storage, SID);
    assert_eq!(obj.name, "IMG_0003.JPG");
    cam.wait_for(|e| *e == EosEvent::CameraStatusChanged { status: 0 }).await;
    // Only one picture for the repeated full press.
    assert!(cam.events().await.1.is_empty());

    // The object is a standard one: info, download byte-identical to the file, listed, deletable.
    let on_disk = std::fs::read(dir.path().join("DCIM/100CANON/IMG_0003.JPG")).unwrap();
    assert_eq!(obj.size as usize, on_disk.len());
    let info = ObjectInfo::decode(&cam.data(op::GET_OBJECT_INFO, &[obj.handle]).await).unwrap();
    assert_eq!((info.filename.as_str(), info.parent), ("IMG_0003.JPG", obj.parent));
    assert_eq!(cam.data(op::GET_OBJECT, &[obj.handle]).await, on_disk);
    assert!(
        decode_u32_array(&cam.data(op::GET_OBJECT_HANDLES, &[SID, 0, obj.parent]).await)
            .unwrap()
            .contains(&obj.handle)
    );
    cam.ok(op::DELETE_OBJECT, &[obj.handle]).await;
    assert!(!dir.path().join("DCIM/100CANON/IMG_0003.JPG").exists());

    // The older single-op release.
    let a = cam.ok(canon::op::REMOTE_RELEASE, &[]).await;
    assert_eq!(a.params, [0]);
    cam.wait_for(|e| matches!(e, EosEvent::ObjectAdded(_))).await;
}

#[tokio::test]
async fn release_to_pc_requests_a_transfer() {
    let dir = tempfile::tempdir().unwrap();
    media(dir.path());
    let emu = start(dir.path()).await;
    let mut cam = Cam::open(emu.addr).await;
    cam.events().await;
    // Capture target PC, as gphoto2 sets it, then PCHDDCapacity reports AvailableShots again.
    assert_eq!(
        cam.set_prop_ex(&EosProp::int(canon::prop::CAPTURE_DESTINATION, canon::CAPTURE_TO_PC)).await,
        rc::OK
    );
    cam.ok(canon::op::PC_HDD_CAPACITY, &[0x0FFF_FFFF, 0x1000, 1]).await;
    let (_, events) = cam.events().await;
    assert!(prop_value(&events, canon::prop::AVAILABLE_SHOTS).and_then(EosProp::int_value).unwrap() > 0);

    cam.ok(canon::op::REMOTE_RELEASE_ON, &[canon::release::HALF_AND_FULL, canon::release::WITHOUT_AF]).await;
    cam.ok(canon::op::REMOTE_RELEASE_OFF, &[canon::release::HALF_AND_FULL]).await;
    let (request, _) = cam.wait_for(|e| matches!(e, EosEvent::RequestObjectTransfer(_))).await;
    let EosEvent::RequestObjectTransfer(req) = request else { unreachable!() };
    assert_eq!((req.format, req.name.as_str()), (format::EXIF_JPEG, "IMG_0003.JPG"));
    let on_disk = std::fs::read(dir.path().join("DCIM/100CANON/IMG_0003.JPG")).unwrap();
    assert_eq!(req.size as usize, on_disk.len());
    assert_eq!(cam.read_partial(req.handle, req.size).await, on_disk);
    cam.ok(canon::op::TRANSFER_COMPLETE, &[req.handle]).await;
    assert_eq!(cam.call(canon::op::TRANSFER_COMPLETE, &[0xDEAD]).await.code, rc::INVALID_OBJECT_HANDLE);
    cam.wait_for(|e| *e == EosEvent::CameraStatusChanged { status: 0 }).await;
    // No ObjectAddedEx for a PC-target capture.
    assert!(!cam.events().await.1.iter().any(|e| matches!(e, EosEvent::ObjectAdded(_))));
}

#[tokio::test]
async fn viewfinder_frames_differ_and_are_jpeg() {
    let dir = tempfile::tempdir().unwrap();
    media(dir.path());
    let emu = start(dir.path()).await;
    let mut cam = Cam::open(emu.addr).await;
    cam.events().await;
    let params = [canon::op::VIEWFINDER_DATA_PARAM, 0, 0];
    // Output off: not ready.
    assert_eq!(cam.call(canon::op::GET_VIEWFINDER_DATA, &params).await.code, canon::rc::OBJECT_NOT_READY);

    // EVF output to the PC, as gphoto2's capture-preview sets it.
    assert_eq!(
        cam.set_prop_ex(&EosProp::int(canon::prop::EVF_OUTPUT_DEVICE, canon::evf_output::PC)).await,
        rc::OK
    );
    let mut frames = Vec::new();
    for _ in 0..3 {
        let data = cam.data(canon::op::GET_VIEWFINDER_DATA, &params).await;
        assert!(data.ends_with(&[8, 0, 0, 0, 0, 0, 0, 0]), "no end blob");
        let jpeg = canon::viewfinder_jpeg(&data).unwrap().expect("a JPEG blob").to_vec();
        assert!(jpeg.starts_with(&[0xFF, 0xD8]) && jpeg.ends_with(&[0xFF, 0xD9]), "not a JPEG");
        frames.push(jpeg);
    }
    assert!(frames[0] != frames[1] && frames[1] != frames[2], "frames repeat");

    // Off again, then Initiate/TerminateViewfinder switch the PC output bit.
    assert_eq!(cam.set_prop_ex(&EosProp::int(canon::prop::EVF_OUTPUT_DEVICE, 0)).await, rc::OK);
    assert_eq!(cam.call(canon::op::GET_VIEWFINDER_DATA, &params).await.code, canon::rc::OBJECT_NOT_READY);
    cam.ok(canon::op::INITIATE_VIEWFINDER, &[]).await;
    cam.data(canon::op::GET_VIEWFINDER_DATA, &params).await;
    cam.ok(canon::op::TERMINATE_VIEWFINDER, &[]).await;
    assert_eq!(cam.call(canon::op::GET_VIEWFINDER_DATA, &params).await.code, canon::rc::OBJECT_NOT_READY);
    let (_, events) = cam.events().await;
    let outputs: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            EosEvent::PropValueChanged(p) if p.code == canon::prop::EVF_OUTPUT_DEVICE => p.int_value(),
            _ => None,
        })
        .collect();
    assert_eq!(outputs, [2, 0, 2, 0]);
}

#[tokio::test]
async fn generic_personality_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    media(dir.path());
    let config = EmulatorConfig { media_dir: dir.path().to_path_buf(), ..EmulatorConfig::default() };
    assert_eq!(config.personality, Personality::Generic);
    let emu = Emulator::bind("127.0.0.1:0".parse().unwrap(), config).await.unwrap();
    let running = Running::serve(emu);
    let mut cam = Cam::connect(running.addr).await;
    let info = DeviceInfo::decode(&cam.data(op::GET_DEVICE_INFO, &[]).await).unwrap();
    assert_eq!(info.vendor_extension_id, 0);
    assert!(!info.operations.contains(&canon::op::GET_EVENT));
    cam.ok(op::OPEN_SESSION, &[1]).await;
    assert_eq!(cam.call(canon::op::GET_EVENT, &[]).await.code, rc::OPERATION_NOT_SUPPORTED);
}

#[tokio::test]
async fn hostile_vendor_requests_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    media(dir.path());
    let emu = start(dir.path()).await;
    let mut cam = Cam::open(emu.addr).await;
    cam.events().await;
    // Every vendor code with odd parameters gets an answer and leaves the connection usable. (The
    // release ops are covered above; they would shoot a picture per call.)
    for code in 0x9100u16..=0x91FF {
        if matches!(
            code,
            canon::op::REMOTE_RELEASE | canon::op::REMOTE_RELEASE_ON | canon::op::SET_DEVICE_PROP_VALUE_EX
        ) {
            continue;
        }
        let a = cam.call(code, &[0xFFFF_FFFF, 0, 0x7FFF_FFFF, 1, 2]).await;
        assert_ne!(a.code, 0, "{code:#06x}");
    }
    assert_eq!(cam.call(canon::op::REMOTE_RELEASE_ON, &[9, 9]).await.code, rc::INVALID_PARAMETER);
    assert_eq!(cam.call(canon::op::REMOTE_RELEASE_OFF, &[0]).await.code, rc::INVALID_PARAMETER);
    // SetDevicePropValueEx data of every short length, lying lengths and oversized strings.
    let mut bodies: Vec<Vec<u8>> = (0..24).map(|n| (0..n as u8).collect()).collect();
    bodies.push([&8u32.to_le_bytes()[..], &canon::prop::APERTURE.to_le_bytes()].concat());
    bodies.push([&u32::MAX.to_le_bytes()[..], &[0; 8]].concat());
    let mut long = EosProp::string(canon::prop::OWNER, &"x".repeat(200)).set_prop_ex_bytes();
    bodies.push(long.clone());
    long.truncate(20);
    bodies.push(long);
    bodies.push(EosProp { code: canon::prop::OWNER, value: vec![0xFF, 0xFE, 0] }.set_prop_ex_bytes());
    bodies
        .push(EosProp { code: canon::prop::IMAGE_FORMAT, value: vec![2, 0, 0, 0, 0x10] }.set_prop_ex_bytes());
    for body in bodies {
        let tid = cam.send_request(canon::op::SET_DEVICE_PROP_VALUE_EX, &[], data_phase::OUT).await;
        let mut out = Vec::new();
        Packet::StartData { tid, total: body.len() as u64 }.encode(&mut out).unwrap();
        Packet::EndData { tid, data: body.clone() }.encode(&mut out).unwrap();
        cam.cmd.write_raw(&out).await.unwrap();
        let code = cam.answer().await.code;
        assert_ne!(code, rc::OK, "{body:02x?} accepted");
    }
    // Still a working camera, and no property changed.
    cam.ok(canon::op::SET_EVENT_MODE, &[1]).await;
    let (_, dump) = cam.events().await;
    assert_eq!(prop_value(&dump, canon::prop::APERTURE).and_then(EosProp::int_value), Some(0x28));
    assert_eq!(
        prop_value(&dump, canon::prop::OWNER).and_then(EosProp::typed_value),
        Some(PropValue::Str(String::new()))
    );
}
