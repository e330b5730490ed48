//! The `Nikon` emulator personality driven over real loopback sockets by a raw initiator built on
//! `Connection` + `wire` (independent of the real client), checking the Nikon answers' bytes.

use std::net::SocketAddr;
use std::path::Path;

use camctl_ptpip::emulator::{Emulator, EmulatorConfig, NIKON_PROFILE_SLOTS, Personality};
use camctl_ptpip::wire::codes::{format, op, rc};
use camctl_ptpip::wire::nikon::{self, NikonEvent, ProfileList, WifiProfile, capture};
use camctl_ptpip::wire::*;

mod common;

use common::emu::Running;
use common::raw::{Cam, T};

const SID: u32 = 0x0001_0001;

async fn start(dir: &Path) -> Running {
    Running::personality(dir, Personality::Nikon).await
}

/// The raw test initiator (command connection only: a Nikon body reports through GetEvent).
impl Cam {
    async fn open(addr: SocketAddr) -> Cam {
        let mut cam = Cam::connect(addr).await;
        cam.ok(op::OPEN_SESSION, &[1]).await;
        cam
    }

    /// One GetEvent 0x90C7: the raw data and its decoded events.
    async fn events(&mut self) -> (Vec<u8>, Vec<NikonEvent>) {
        let data = self.data(nikon::op::GET_EVENT, &[]).await;
        let events = nikon::decode_events(&data).unwrap();
        (data, events)
    }

    /// Polls GetEvent until `n` events have arrived (generous deadline, no fixed sleeps).
    async fn wait_events(&mut self, n: usize) -> Vec<NikonEvent> {
        let deadline = tokio::time::Instant::now() + T;
        let mut seen = Vec::new();
        while seen.len() < n {
            seen.extend(self.events().await.1);
            assert!(tokio::time::Instant::now() < deadline, "only {seen:?}");
            tokio::task::yield_now().await;
        }
        seen
    }

    /// DeviceReady until OK; returns how many busy answers came first.
    async fn wait_ready(&mut self) -> usize {
        let deadline = tokio::time::Instant::now() + T;
        let mut busy = 0;
        loop {
            match self.call(nikon::op::DEVICE_READY, &[]).await.code {
                rc::OK => return busy,
                rc::DEVICE_BUSY => busy += 1,
                other => panic!("DeviceReady answered {other:#06x}"),
            }
            assert!(tokio::time::Instant::now() < deadline, "still busy");
            tokio::task::yield_now().await;
        }
    }

    async fn prop_value(&mut self, code: u16, dt: DataType) -> PropValue {
        PropValue::decode_exact(dt, &self.data(op::GET_DEVICE_PROP_VALUE, &[u32::from(code)]).await).unwrap()
    }

    async fn profiles(&mut self) -> (Vec<u8>, ProfileList) {
        let data = self.data(nikon::op::GET_PROFILE_ALL_DATA, &[]).await;
        let list = ProfileList::decode(&data).unwrap();
        (data, list)
    }
}

fn media(dir: &Path) {
    camctl_core::media::write_sample_pictures(&dir.join("DCIM/100NIKON"), 2).unwrap();
}

fn profile(name: &str, ssid: &str) -> WifiProfile {
    let mut p = WifiProfile { name: name.into(), ssid: ssid.into(), ..WifiProfile::default() };
    p.set_key(b"0123456789abc").unwrap();
    p.encryption = nikon::encryption::WEP128;
    p.machine_guid = [7; 16];
    p
}

#[tokio::test]
async fn device_info_and_vendor_prop_codes_are_a_nikon_body() {
    let dir = tempfile::tempdir().unwrap();
    media(dir.path());
    let emu = start(dir.path()).await;
    let mut cam = Cam::connect(emu.addr).await;
    let info = DeviceInfo::decode(&cam.data(op::GET_DEVICE_INFO, &[]).await).unwrap();
    assert_eq!(info.vendor_extension_id, 0x0A);
    assert_eq!(info.manufacturer, "Nikon Corporation");
    assert_eq!(info.model, "D750");
    for code in [
        nikon::op::GET_EVENT,
        nikon::op::DEVICE_READY,
        nikon::op::GET_VENDOR_PROP_CODES,
        nikon::op::INITIATE_CAPTURE_REC_IN_MEDIA,
        nikon::op::CHANGE_CAMERA_MODE,
        nikon::op::DEL_IMAGE_SDRAM,
        nikon::op::START_LIVE_VIEW,
        nikon::op::END_LIVE_VIEW,
        nikon::op::GET_LIVE_VIEW_IMG,
        nikon::op::GET_PROFILE_ALL_DATA,
        nikon::op::SEND_PROFILE_DATA,
        nikon::op::DELETE_PROFILE,
        nikon::op::SET_PROFILE_DATA,
        op::GET_DEVICE_PROP_DESC,
        op::GET_DEVICE_PROP_VALUE,
        op::SET_DEVICE_PROP_VALUE,
        op::GET_OBJECT,
        op::DELETE_OBJECT,
    ] {
        assert!(info.operations.contains(&code), "{code:#06x} not advertised");
    }
    // GetEventEx would take gphoto2 off 0x90C7; the SDRAM capture ops off the 0x9207 path.
    for code in
        [nikon::op::GET_EVENT_EX, nikon::op::INITIATE_CAPTURE_REC_IN_SDRAM, nikon::op::AF_CAPTURE_SDRAM]
    {
        assert!(!info.operations.contains(&code), "{code:#06x} advertised");
    }
    for code in [0x5001, 0x5004, 0x5005, 0x5007, 0x500D, 0x500F, 0x5010] {
        assert!(info.properties.contains(&code), "{code:#06x} missing");
    }
    assert!(info.properties.iter().all(|c| *c < 0xD000), "{:x?}", info.properties);
    assert!(info.events.contains(&nikon::ev::OBJECT_ADDED_IN_SDRAM));
    // Vendor ops need a session.
    assert_eq!(cam.call(nikon::op::GET_EVENT, &[]).await.code, rc::SESSION_NOT_OPEN);

    cam.ok(op::OPEN_SESSION, &[1]).await;
    let codes = cam.data(nikon::op::GET_VENDOR_PROP_CODES, &[]).await;
    assert_eq!(codes, [4, 0, 0, 0, 0x00, 0xD1, 0x0B, 0xD1, 0xA2, 0xD1, 0xA4, 0xD1]);
    assert_eq!(nikon::decode_vendor_prop_codes(&codes).unwrap(), [0xD100, 0xD10B, 0xD1A2, 0xD1A4]);
    // Types and forms as gphoto2 requires them.
    for (code, dt) in [
        (0x5004u16, DataType::UINT8),
        (0x5005, DataType::UINT16),
        (0x5007, DataType::UINT16),
        (0x500D, DataType::UINT32),
        (0x500F, DataType::UINT16),
        (0x5010, DataType::INT16),
        (0xD100, DataType::UINT32),
        (0xD10B, DataType::UINT8),
    ] {
        let desc =
            DevicePropDesc::decode(&cam.data(op::GET_DEVICE_PROP_DESC, &[u32::from(code)]).await).unwrap();
        assert_eq!(desc.data_type, dt, "{code:#06x}");
        assert!(matches!(desc.form, PropForm::Enumeration(_)), "{code:#06x}");
    }
    assert_eq!(cam.prop_value(0xD1A2, DataType::UINT8).await, PropValue::U8(0));
    assert_eq!(cam.prop_value(0xD1A4, DataType::UINT32).await, PropValue::U32(0));
    // Live-view status is the camera's, not settable.
    assert_eq!(cam.send(op::SET_DEVICE_PROP_VALUE, &[0xD1A2], &[1]).await, rc::ACCESS_DENIED);
    // A property change is a GetEvent record; the PTP/IP layer has nothing to do with it.
    assert_eq!(cam.events().await.0, [0, 0]);
    assert_eq!(cam.send(op::SET_DEVICE_PROP_VALUE, &[0x5007], &560u16.to_le_bytes()).await, rc::OK);
    let (raw, events) = cam.events().await;
    assert_eq!(raw, [1, 0, 0x06, 0x40, 0x07, 0x50, 0, 0]);
    assert_eq!(events, [NikonEvent::DevicePropChanged { prop: 0x5007 }]);
    assert_eq!(cam.prop_value(0x5007, DataType::UINT16).await, PropValue::U16(560));
    // ExposureTime and Nikon's ExposureTime follow each other: 1/60 s is 166 units and 1 << 16 | 60.
    assert_eq!(cam.send(op::SET_DEVICE_PROP_VALUE, &[0x500D], &166u32.to_le_bytes()).await, rc::OK);
    assert_eq!(
        cam.events().await.1,
        [NikonEvent::DevicePropChanged { prop: 0x500D }, NikonEvent::DevicePropChanged { prop: 0xD100 }]
    );
    assert_eq!(cam.prop_value(0xD100, DataType::UINT32).await, PropValue::U32(1 << 16 | 60));
    assert_eq!(
        cam.send(op::SET_DEVICE_PROP_VALUE, &[0xD100], &(1u32 << 16 | 4000).to_le_bytes()).await,
        rc::OK
    );
    // 1/4000 has no ExposureTime value: only 0xD100 changed.
    assert_eq!(cam.events().await.1, [NikonEvent::DevicePropChanged { prop: 0xD100 }]);
    assert_eq!(cam.prop_value(0x500D, DataType::UINT32).await, PropValue::U32(166));
    cam.ok(nikon::op::CHANGE_CAMERA_MODE, &[1]).await;
    cam.ok(nikon::op::CHANGE_CAMERA_MODE, &[0]).await;
    cam.ok(op::CLOSE_SESSION, &[]).await;
}

#[tokio::test]
async fn capture_to_card_reports_object_added_then_capture_complete() {
    let dir = tempfile::tempdir().unwrap();
    media(dir.path());
    let emu = start(dir.path()).await;
    let mut watcher = Cam::open(emu.addr).await;
    let mut cam = Cam::open(emu.addr).await;
    assert!(cam.events().await.1.is_empty());

    let tid = cam.tid;
    cam.ok(nikon::op::INITIATE_CAPTURE_REC_IN_MEDIA, &[capture::NO_AF, capture::TARGET_CARD]).await;
    // Busy at least once, then ready with the events queued.
    assert!(cam.wait_ready().await >= 1);
    let (_, events) = cam.events().await;
    let [NikonEvent::ObjectAdded { handle }, NikonEvent::CaptureComplete { transaction }] = events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(transaction, tid);
    assert!(cam.events().await.1.is_empty(), "drained");
    // The other session saw the same events.
    assert_eq!(watcher.wait_events(2).await, events);

    let info = ObjectInfo::decode(&cam.data(op::GET_OBJECT_INFO, &[handle]).await).unwrap();
    assert_eq!((info.storage_id, info.format), (SID, format::EXIF_JPEG));
    assert_ne!(info.parent, 0, "a card file has a real folder");
    let folder = ObjectInfo::decode(&cam.data(op::GET_OBJECT_INFO, &[info.parent]).await).unwrap();
    assert_eq!(folder.filename, "100NIKON");
    let on_disk = std::fs::read(dir.path().join("DCIM/100NIKON").join(&info.filename)).unwrap();
    assert_eq!(cam.data(op::GET_OBJECT, &[handle]).await, on_disk);

    // The one-parameter form (RecordingMedia 0 = card) and the AF variant; bad parameters refused.
    cam.ok(nikon::op::INITIATE_CAPTURE_REC_IN_MEDIA, &[capture::AF]).await;
    cam.wait_ready().await;
    assert!(matches!(
        cam.wait_events(2).await[..],
        [NikonEvent::ObjectAdded { .. }, NikonEvent::CaptureComplete { .. }]
    ));
    for params in [&[][..], &[0][..], &[capture::NO_AF, 2][..]] {
        let code = cam.call(nikon::op::INITIATE_CAPTURE_REC_IN_MEDIA, params).await.code;
        assert_eq!(code, rc::INVALID_PARAMETER, "{params:?}");
    }
    assert_eq!(crate_files(dir.path()), 4);
}

fn crate_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("DCIM/100NIKON")).unwrap().count()
}

#[tokio::test]
async fn capture_to_sdram_holds_the_picture_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    media(dir.path());
    let emu = start(dir.path()).await;
    let mut cam = Cam::open(emu.addr).await;
    let listed = decode_u32_array(&cam.data(op::GET_OBJECT_HANDLES, &[SID, 0, 0]).await).unwrap();
    assert_eq!(cam.call(op::GET_OBJECT_INFO, &[capture::SDRAM_HANDLE]).await.code, rc::INVALID_OBJECT_HANDLE);

    cam.ok(nikon::op::INITIATE_CAPTURE_REC_IN_MEDIA, &[capture::NO_AF, capture::TARGET_SDRAM]).await;
    assert!(cam.wait_ready().await >= 1);
    // The reference's example bytes: ObjectAddedInSdram(0xFFFF0001), CaptureCompleteRecInSdram.
    let (raw, _) = cam.events().await;
    assert_eq!(raw, [0x02, 0x00, 0x01, 0xc1, 0x01, 0x00, 0xff, 0xff, 0x02, 0xc1, 0x00, 0x00, 0x00, 0x00]);

    let info = ObjectInfo::decode(&cam.data(op::GET_OBJECT_INFO, &[capture::SDRAM_HANDLE]).await).unwrap();
    assert_eq!((info.parent, info.format), (0, format::EXIF_JPEG));
    let jpeg = cam.data(op::GET_OBJECT, &[capture::SDRAM_HANDLE]).await;
    assert_eq!(jpeg.len(), info.compressed_size as usize);
    assert!(jpeg.starts_with(&[0xFF, 0xD8]) && jpeg.ends_with(&[0xFF, 0xD9]));
    let part = cam.ok(op::GET_PARTIAL_OBJECT, &[capture::SDRAM_HANDLE, 2, 100]).await;
    assert_eq!((part.params, part.data.unwrap()), (vec![100], jpeg[2..102].to_vec()));
    // Not on the card: not listed, nothing written.
    assert_eq!(decode_u32_array(&cam.data(op::GET_OBJECT_HANDLES, &[SID, 0, 0]).await).unwrap(), listed);
    assert_eq!(crate_files(dir.path()), 2);

    cam.ok(op::DELETE_OBJECT, &[capture::SDRAM_HANDLE, 0]).await;
    assert_eq!(cam.call(op::GET_OBJECT, &[capture::SDRAM_HANDLE]).await.code, rc::INVALID_OBJECT_HANDLE);
    assert_eq!(
        cam.call(op::DELETE_OBJECT, &[capture::SDRAM_HANDLE, 0]).await.code,
        rc::INVALID_OBJECT_HANDLE
    );

    // RecordingMedia 1 sends the one-parameter form to SDRAM; DelImageSDRAM drops it too.
    assert_eq!(cam.send(op::SET_DEVICE_PROP_VALUE, &[0xD10B], &[1]).await, rc::OK);
    cam.events().await;
    cam.ok(nikon::op::INITIATE_CAPTURE_REC_IN_MEDIA, &[capture::NO_AF]).await;
    cam.wait_ready().await;
    let events = cam.wait_events(2).await;
    assert_eq!(events[0].sdram_handle(), Some(capture::SDRAM_HANDLE));
    let second = cam.data(op::GET_OBJECT, &[capture::SDRAM_HANDLE]).await;
    assert_ne!(second, jpeg, "a new picture");
    cam.ok(nikon::op::DEL_IMAGE_SDRAM, &[capture::SDRAM_HANDLE]).await;
    assert_eq!(
        cam.call(nikon::op::DEL_IMAGE_SDRAM, &[capture::SDRAM_HANDLE]).await.code,
        rc::INVALID_OBJECT_HANDLE
    );
}

#[tokio::test]
async fn live_view_frames_are_header_and_changing_jpegs() {
    let dir = tempfile::tempdir().unwrap();
    media(dir.path());
    let emu = start(dir.path()).await;
    let mut cam = Cam::open(emu.addr).await;
    assert_eq!(cam.call(nikon::op::GET_LIVE_VIEW_IMG, &[]).await.code, nikon::rc::NOT_LIVE_VIEW);
    // gphoto2 sends EndLiveView at every exit, live view or not.
    cam.ok(nikon::op::END_LIVE_VIEW, &[]).await;

    cam.ok(nikon::op::START_LIVE_VIEW, &[]).await;
    assert!(cam.wait_ready().await >= 1);
    // Already on: still OK.
    cam.ok(nikon::op::START_LIVE_VIEW, &[]).await;
    cam.wait_ready().await;
    assert_eq!(cam.prop_value(0xD1A2, DataType::UINT8).await, PropValue::U8(1));
    let mut frames = Vec::new();
    for _ in 0..3 {
        let data = cam.data(nikon::op::GET_LIVE_VIEW_IMG, &[]).await;
        let header = nikon::LiveViewHeaderLen::DEFAULT_BYTES;
        assert!(data[..header].iter().all(|b| *b == 0), "header");
        assert!(data[header..].starts_with(&[0xFF, 0xD8, 0xFF]) && data.ends_with(&[0xFF, 0xD9]));
        let image = nikon::split_live_view(&data, nikon::LiveViewHeaderLen::Unknown).unwrap();
        assert_eq!(image.header.len(), header);
        frames.push(image.jpeg.to_vec());
    }
    assert!(frames[0] != frames[1] && frames[1] != frames[2], "frames repeat");
    assert!(camctl_core::media::jpeg_dimensions(&frames[0]).is_some());

    cam.ok(nikon::op::END_LIVE_VIEW, &[]).await;
    assert_eq!(cam.prop_value(0xD1A2, DataType::UINT8).await, PropValue::U8(0));
    assert_eq!(cam.call(nikon::op::GET_LIVE_VIEW_IMG, &[]).await.code, nikon::rc::NOT_LIVE_VIEW);
    // The status changes were reported.
    let (_, events) = cam.events().await;
    assert_eq!(events, [NikonEvent::DevicePropChanged { prop: 0xD1A2 }; 2]);
}

#[tokio::test]
async fn wifi_profiles_are_added_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    media(dir.path());
    let emu = start(dir.path()).await;
    let mut cam = Cam::open(emu.addr).await;
    let (raw, list) = cam.profiles().await;
    assert_eq!(raw[..2], [nikon::PROFILE_VERSION, NIKON_PROFILE_SLOTS]);
    assert_eq!(list.slots.len(), usize::from(NIKON_PROFILE_SLOTS));
    assert!(list.slots.iter().all(|s| s.valid == 0));
    assert_eq!(list.first_free_slot(), Some(1));

    let home = profile("home", "Net");
    let bytes = home.to_bytes().unwrap();
    assert_eq!(bytes.len(), 196);
    assert_eq!(cam.send(nikon::op::SEND_PROFILE_DATA, &[1], &bytes).await, rc::OK);
    let (raw, list) = cam.profiles().await;
    // Slot 1: id, valid, u32 17 + "home" NUL-padded, display order, device type, icon type.
    let mut golden = vec![nikon::PROFILE_VERSION, NIKON_PROFILE_SLOTS, 1, 1, 17, 0, 0, 0];
    golden.extend(b"home");
    golden.extend([0; 13]);
    golden.extend([0, 0, 1]);
    assert_eq!(raw[..golden.len()], golden[..]);
    let slot = &list.slots[0];
    assert_eq!((slot.id, slot.valid, slot.name.as_str(), slot.ssid.as_str()), (1, 1, "home", "Net"));
    assert_eq!(slot.creation_date, nikon::PROFILE_PLACEHOLDER_DATE);
    assert_eq!(list.first_free_slot(), Some(2));
    // The key never comes back in the list.
    assert!(!raw.windows(13).any(|w| w == b"0123456789abc"));

    // Refusals: an occupied slot, slots that do not exist, short or garbled data, another version.
    assert_eq!(cam.send(nikon::op::SEND_PROFILE_DATA, &[1], &bytes).await, rc::INVALID_PARAMETER);
    for slot in [0, 6, u32::MAX] {
        assert_eq!(cam.send(nikon::op::SEND_PROFILE_DATA, &[slot], &bytes).await, rc::INVALID_PARAMETER);
    }
    for bad in [&bytes[..195], &[][..], &[0x64; 196][..]] {
        assert_eq!(cam.send(nikon::op::SEND_PROFILE_DATA, &[2], bad).await, rc::INVALID_PARAMETER);
    }
    let mut other_version = bytes.clone();
    other_version[0] = 0x65;
    assert_eq!(cam.send(nikon::op::SEND_PROFILE_DATA, &[2], &other_version).await, rc::INVALID_PARAMETER);
    // SetProfileData is only advertised.
    assert_eq!(cam.send(nikon::op::SET_PROFILE_DATA, &[1], &bytes).await, rc::OPERATION_NOT_SUPPORTED);

    // Fill every slot: then StoreFull.
    for id in 2..=u32::from(NIKON_PROFILE_SLOTS) {
        let p = profile(&format!("p{id}"), "Other").to_bytes().unwrap();
        assert_eq!(cam.send(nikon::op::SEND_PROFILE_DATA, &[id], &p).await, rc::OK);
    }
    assert_eq!(cam.profiles().await.1.first_free_slot(), None);
    assert_eq!(cam.send(nikon::op::SEND_PROFILE_DATA, &[3], &bytes).await, rc::STORE_FULL);

    // Delete: the slot is free again; a free slot's or an unknown id's delete is a no-op (gphoto2
    // sends DeleteProfile(0) before the real one).
    cam.ok(nikon::op::DELETE_PROFILE, &[1]).await;
    let (_, list) = cam.profiles().await;
    assert_eq!(list.first_free_slot(), Some(1));
    assert_eq!(list.slots[1].name, "p2");
    for id in [1, 0, 9, u32::MAX] {
        cam.ok(nikon::op::DELETE_PROFILE, &[id]).await;
    }
    assert_eq!(cam.profiles().await.1, list);
    // Profiles are the camera's: a second session sees them.
    let mut other = Cam::open(emu.addr).await;
    assert_eq!(other.profiles().await.1, list);

    // The number of slots is configurable.
    let config = EmulatorConfig {
        media_dir: dir.path().to_path_buf(),
        nikon_profile_slots: 1,
        ..EmulatorConfig::for_personality(Personality::Nikon)
    };
    let small = Emulator::bind("127.0.0.1:0".parse().unwrap(), config).await.unwrap();
    let small = Running::serve(small);
    let mut cam = Cam::open(small.addr).await;
    assert_eq!(cam.profiles().await.1.slots.len(), 1);
    assert_eq!(cam.send(nikon::op::SEND_PROFILE_DATA, &[1], &bytes).await, rc::OK);
    assert_eq!(cam.send(nikon::op::SEND_PROFILE_DATA, &[1], &bytes).await, rc::STORE_FULL);
}

#[tokio::test]
async fn hostile_vendor_requests_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    media(dir.path());
    let emu = start(dir.path()).await;
    let mut cam = Cam::open(emu.addr).await;
    // Every vendor code with odd parameters gets an answer and leaves the connection usable. (0x9207
    // with these parameters would shoot; it is covered above.)
    for code in (0x9000u16..=0x92FF).chain(0x9400..=0x94FF) {
        if code == nikon::op::INITIATE_CAPTURE_REC_IN_MEDIA
            || code == nikon::op::SET_PROFILE_DATA
            || nikon::op::has_data_out(code)
        {
            continue;
        }
        let a = cam.call(code, &[0xFFFF_FFFF, 0, 0x7FFF_FFFF, 1, 2]).await;
        assert_ne!(a.code, 0, "{code:#06x}");
    }
    // SendProfileData with data of many lengths and lying length fields.
    let good = profile("x", "y").to_bytes().unwrap();
    let mut bodies: Vec<Vec<u8>> = (0..200).step_by(7).map(|n| good[..n.min(195)].to_vec()).collect();
    let mut lying = good.clone();
    lying[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
    bodies.push(lying);
    bodies.push(vec![0xFF; 60_000]);
    for body in bodies {
        assert_ne!(cam.send(nikon::op::SEND_PROFILE_DATA, &[1], &body).await, rc::OK, "{} bytes", body.len());
    }
    // Still a working camera with nothing stored.
    assert!(cam.profiles().await.1.slots.iter().all(|s| s.valid == 0));
    cam.wait_ready().await;
}
