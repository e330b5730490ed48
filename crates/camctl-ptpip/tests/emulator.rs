//! The PTP/IP emulator driven over real loopback sockets by a tiny raw initiator built on
//! `Connection` + `wire` (independent of the real client).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use camctl_ptpip::connection::Connection;
use camctl_ptpip::emulator::{DataInMode, Emulator, EmulatorConfig};
use camctl_ptpip::wire::codes::{ev, format, op, prop, rc};
use camctl_ptpip::wire::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

mod common;

use common::emu::Running;
use common::raw::{Answer, Cam, T, init_request};

const SID: u32 = 0x0001_0001;

async fn start(dir: &Path) -> Running {
    start_with(dir, DataInMode::SingleEnd).await
}

async fn start_with(dir: &Path, data_in: DataInMode) -> Running {
    let config = EmulatorConfig { media_dir: dir.to_path_buf(), data_in, ..EmulatorConfig::default() };
    let emu = Emulator::bind("127.0.0.1:0".parse().unwrap(), config).await.unwrap();
    let addr = emu.local_addr();
    assert_eq!(emu.url(), format!("ptpip://127.0.0.1:{}", addr.port()));
    Running::serve(emu)
}

/// The raw initiator of `common::raw` (command connection) plus an event connection here.
impl Cam {
    /// Connect + event connection + OpenSession(1).
    async fn open(addr: SocketAddr) -> (Cam, Events) {
        let mut cam = Cam::connect_from(addr, 0).await;
        let events = Events::connect(addr, cam.conn_id).await;
        assert_eq!(cam.call(op::OPEN_SESSION, &[1]).await.code, rc::OK);
        (cam, events)
    }

    async fn info(&mut self, handle: u32) -> ObjectInfo {
        ObjectInfo::decode(&self.data(op::GET_OBJECT_INFO, &[handle]).await).unwrap()
    }

    async fn handles(&mut self, fmt: u32, parent: u32) -> Vec<u32> {
        decode_u32_array(&self.data(op::GET_OBJECT_HANDLES, &[SID, fmt, parent]).await).unwrap()
    }

    /// Handle of the object at `path` (e.g. "DCIM/100TEST/IMG_0001.JPG").
    async fn find(&mut self, path: &str) -> u32 {
        let mut parent = 0xFFFF_FFFF;
        let mut found = 0;
        for part in path.split('/') {
            let mut hit = None;
            for h in self.handles(0, parent).await {
                if self.info(h).await.filename == part {
                    hit = Some(h);
                }
            }
            found = hit.unwrap_or_else(|| panic!("{path}: {part} not found"));
            parent = found;
        }
        found
    }
}

/// The event connection.
struct Events {
    conn: Connection<TcpStream>,
}

impl Events {
    async fn connect(addr: SocketAddr, conn_id: u32) -> Events {
        let mut conn = Connection::new(TcpStream::connect(addr).await.unwrap());
        conn.write_packet(&Packet::InitEventRequest { connection: conn_id }).await.unwrap();
        assert_eq!(timeout(T, conn.read_packet()).await.unwrap().unwrap(), Packet::InitEventAck);
        Events { conn }
    }

    async fn next(&mut self) -> CodeAndParams {
        match timeout(T, self.conn.read_packet()).await.expect("event in time").unwrap() {
            Packet::Event(e) => e,
            other => panic!("not an event: {other:?}"),
        }
    }
}

fn write_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("DCIM/100TEST")).unwrap();
    std::fs::create_dir_all(dir.join("MISC")).unwrap();
    std::fs::write(dir.join("DCIM/100TEST/IMG_0001.JPG"), camctl_core::media::sample_jpeg(320, 240, 1))
        .unwrap();
    std::fs::write(dir.join("DCIM/100TEST/notes.txt"), b"hello").unwrap();
    std::fs::write(dir.join("readme.txt"), b"top level").unwrap();
    std::fs::write(dir.join(".hidden"), b"not served").unwrap();
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3]).collect()
}

fn ptp_date_of(path: &Path) -> String {
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    format_ptp_date(camctl_core::time::DateTime::from_system(mtime))
}

/// Asserts that the server closed `stream` (EOF or reset) in time.
async fn assert_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 256];
    loop {
        match timeout(T, stream.read(&mut buf)).await.expect("server closes in time") {
            Ok(0) | Err(_) => return,
            Ok(_) => continue, // e.g. an InitFail before the close
        }
    }
}

/// A fresh well-behaved session still works.
async fn still_serves(addr: SocketAddr) {
    let (mut cam, _ev) = Cam::open(addr).await;
    let info = DeviceInfo::decode(&cam.data(op::GET_DEVICE_INFO, &[]).await).unwrap();
    assert_eq!(info.manufacturer, "camctl");
    assert_eq!(cam.call(op::CLOSE_SESSION, &[]).await.code, rc::OK);
}

#[tokio::test]
async fn handshake_golden_shape() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let mut s = TcpStream::connect(emu.addr).await.unwrap();
    s.write_all(&init_request().to_bytes().unwrap()).await.unwrap();
    let mut head = [0u8; 8];
    s.read_exact(&mut head).await.unwrap();
    let len = u32::from_le_bytes(head[..4].try_into().unwrap()) as usize;
    assert_eq!(u32::from_le_bytes(head[4..].try_into().unwrap()), kind::INIT_COMMAND_ACK);
    assert!(len <= 72, "ack is {len} bytes");
    let mut body = vec![0u8; len - 8];
    s.read_exact(&mut body).await.unwrap();
    let conn = u32::from_le_bytes(body[..4].try_into().unwrap());
    assert!(conn >= 1);
    // Name "camctl-emu" NUL-terminated UTF-16LE after the GUID, then the version.
    let name: Vec<u8> = "camctl-emu".encode_utf16().chain([0]).flat_map(|u| u.to_le_bytes()).collect();
    assert_eq!(&body[20..20 + name.len()], &name[..]);
    assert_eq!(&body[20 + name.len()..], &[0, 0, 1, 0]);

    // Event connection for that number; a second connection gets a different number.
    let mut e = TcpStream::connect(emu.addr).await.unwrap();
    e.write_all(&Packet::InitEventRequest { connection: conn }.to_bytes().unwrap()).await.unwrap();
    let mut ack = [0u8; 8];
    e.read_exact(&mut ack).await.unwrap();
    assert_eq!(ack, [8, 0, 0, 0, 4, 0, 0, 0]);
    let other = Cam::connect_from(emu.addr, 0).await;
    assert!(other.conn_id >= 1 && other.conn_id != conn);

    // Unknown connection number: Init_Fail, then close.
    let mut bad = TcpStream::connect(emu.addr).await.unwrap();
    bad.write_all(&Packet::InitEventRequest { connection: 999 }.to_bytes().unwrap()).await.unwrap();
    let mut fail = [0u8; 12];
    bad.read_exact(&mut fail).await.unwrap();
    assert!(matches!(Packet::decode_frame(&fail).unwrap(), Packet::InitFail { .. }));
    assert_closed(&mut bad).await;

    // Closing the command connection closes its event connection (rule 15).
    drop(s);
    assert_closed(&mut e).await;
}

#[tokio::test]
async fn sessions_device_and_storage_info() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path());
    let emu = start(dir.path()).await;
    let mut cam = Cam::connect_from(emu.addr, 0).await;

    // GetDeviceInfo works without a session; other ops need one.
    let info = DeviceInfo::decode(&cam.data(op::GET_DEVICE_INFO, &[]).await).unwrap();
    assert_eq!((info.standard_version, info.vendor_extension_id), (100, 0));
    assert_eq!((info.manufacturer.as_str(), info.model.as_str()), ("camctl", "camctl PTP/IP emulator"));
    assert_eq!(info.serial_number, "0001");
    for code in [0x1001, 0x1007, 0x1009, 0x100B, 0x100C, 0x100D, 0x100E, 0x1014, 0x1015, 0x1016, 0x101B] {
        assert!(info.operations.contains(&code), "{code:#x}");
    }
    assert!(info.events.contains(&ev::OBJECT_ADDED) && info.events.contains(&ev::CAPTURE_COMPLETE));
    for code in [0x5001, 0x5003, 0x5005, 0x5007, 0x500D, 0x500F, 0x5011] {
        assert!(info.properties.contains(&code), "{code:#x}");
    }
    assert_eq!(info.capture_formats, [format::EXIF_JPEG]);
    for f in [format::ASSOCIATION, format::EXIF_JPEG, format::TEXT] {
        assert!(info.image_formats.contains(&f));
    }
    assert_eq!(cam.call(op::GET_STORAGE_IDS, &[]).await.code, rc::SESSION_NOT_OPEN);
    assert_eq!(cam.call(op::OPEN_SESSION, &[0]).await.code, rc::INVALID_PARAMETER);
    assert_eq!(cam.call(op::OPEN_SESSION, &[0x1234]).await.code, rc::OK);
    assert_eq!(cam.call(op::OPEN_SESSION, &[1]).await.code, rc::SESSION_ALREADY_OPEN);

    assert_eq!(decode_u32_array(&cam.data(op::GET_STORAGE_IDS, &[]).await).unwrap(), [SID]);
    let si = StorageInfo::decode(&cam.data(op::GET_STORAGE_INFO, &[SID]).await).unwrap();
    assert_eq!((si.storage_type, si.filesystem_type, si.access_capability), (4, 3, 0));
    assert_eq!((si.description.as_str(), si.volume_label.as_str()), ("", "CAMCTL"));
    assert!(si.max_capacity > si.free_space_bytes && si.free_space_images > 0);
    assert_eq!(cam.call(op::GET_STORAGE_INFO, &[0x0002_0001]).await.code, rc::INVALID_STORAGE_ID);

    // Unsupported ops, the Nikon keep-alive, TIDs echoed even when not sequential.
    assert_eq!(cam.call(0x1010, &[]).await.code, rc::OPERATION_NOT_SUPPORTED);
    assert_eq!(cam.call(op::NIKON_DEVICE_READY, &[]).await.code, rc::OK);
    cam.tid = 0xDEAD_0000;
    let a = cam.call(op::GET_STORAGE_IDS, &[]).await;
    assert_eq!((a.code, a.tid), (rc::OK, 0xDEAD_0000));
    cam.tid = 5;
    assert_eq!(cam.call(op::GET_STORAGE_IDS, &[]).await.tid, 5);

    // Padded requests (5 params) mean the same as short ones.
    let padded = cam.data(op::GET_OBJECT_HANDLES, &[SID, 0, 0, 0, 0]).await;
    assert_eq!(decode_u32_array(&padded).unwrap().len(), 6);

    assert_eq!(cam.call(op::CLOSE_SESSION, &[]).await.code, rc::OK);
    assert_eq!(cam.call(op::GET_STORAGE_IDS, &[]).await.code, rc::SESSION_NOT_OPEN);
    assert_eq!(cam.call(op::OPEN_SESSION, &[2]).await.code, rc::OK);
}

#[tokio::test]
async fn object_tree_mirrors_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path());
    let emu = start(dir.path()).await;
    let (mut cam, _ev) = Cam::open(emu.addr).await;

    let root = cam.handles(0, 0xFFFF_FFFF).await;
    let mut names = Vec::new();
    for &h in &root {
        let i = cam.info(h).await;
        assert_eq!((i.parent, i.storage_id), (0, SID), "root objects have parent 0");
        names.push(i.filename);
    }
    assert_eq!(names, ["DCIM", "MISC", "readme.txt"]);
    let all = cam.handles(0, 0).await;
    assert_eq!(all.len(), 6, "hidden files are not served");
    assert!(all.iter().all(|&h| h >= 1));
    let n = cam.call(op::GET_NUM_OBJECTS, &[0xFFFF_FFFF, 0, 0]).await;
    assert_eq!((n.code, n.params.as_slice()), (rc::OK, &[6][..]));

    let dcim = cam.info(root[0]).await;
    assert_eq!((dcim.format, dcim.association_type, dcim.compressed_size), (format::ASSOCIATION, 1, 0));
    assert_eq!(dcim.modification_date, ptp_date_of(&dir.path().join("DCIM")));
    let folder_h = cam.find("DCIM/100TEST").await;
    let folder = cam.info(folder_h).await;
    assert_eq!((folder.parent, folder.format), (root[0], format::ASSOCIATION));

    let kids = cam.handles(0, folder_h).await;
    assert_eq!(kids.len(), 2);
    let jpeg = cam.info(kids[0]).await;
    let path = dir.path().join("DCIM/100TEST/IMG_0001.JPG");
    assert_eq!(jpeg.filename, "IMG_0001.JPG");
    assert_eq!((jpeg.format, jpeg.parent, jpeg.association_type), (format::EXIF_JPEG, folder_h, 0));
    assert_eq!(u64::from(jpeg.compressed_size), std::fs::metadata(&path).unwrap().len());
    assert_eq!((jpeg.image_width, jpeg.image_height), (320, 240));
    assert_eq!(jpeg.capture_date, ptp_date_of(&path));
    assert_eq!(jpeg.modification_date, ptp_date_of(&path));
    let txt = cam.info(kids[1]).await;
    assert_eq!((txt.filename.as_str(), txt.format, txt.compressed_size), ("notes.txt", format::TEXT, 5));

    // Filters and errors.
    assert_eq!(cam.handles(u32::from(format::EXIF_JPEG), 0).await, [kids[0]]);
    assert_eq!(cam.call(op::GET_OBJECT_HANDLES, &[SID, 0, kids[0]]).await.code, rc::INVALID_PARENT_OBJECT);
    assert_eq!(cam.call(op::GET_OBJECT_HANDLES, &[0x0009_0001, 0, 0]).await.code, rc::INVALID_STORAGE_ID);
    assert_eq!(cam.call(op::GET_OBJECT_INFO, &[9999]).await.code, rc::INVALID_OBJECT_HANDLE);
    let misc = cam.find("MISC").await;
    assert_eq!(cam.handles(0, misc).await, Vec::<u32>::new());

    // Thumbnails for JPEGs only.
    let thumb = cam.data(op::GET_THUMB, &[kids[0]]).await;
    assert_eq!(&thumb[..2], &[0xFF, 0xD8]);
    assert_eq!(thumb.len() as u32, jpeg.thumb_compressed_size);
    assert_eq!(cam.call(op::GET_THUMB, &[kids[1]]).await.code, rc::NO_THUMBNAIL_PRESENT);

    // Files added behind the emulator's back appear at the next OpenSession; handles stay.
    std::fs::write(dir.path().join("MISC/new.txt"), b"new").unwrap();
    assert_eq!(cam.call(op::CLOSE_SESSION, &[]).await.code, rc::OK);
    assert_eq!(cam.call(op::OPEN_SESSION, &[1]).await.code, rc::OK);
    assert_eq!(cam.handles(0, 0xFFFF_FFFF).await, root);
    assert_eq!(cam.handles(0, 0).await.len(), 7);
}

#[tokio::test]
async fn get_object_and_partial_ranges() {
    for mode in [DataInMode::SingleEnd, DataInMode::Chunked { size: 64 * 1024 + 3 }] {
        let dir = tempfile::tempdir().unwrap();
        let content = pattern(3 * 1024 * 1024 + 12345);
        std::fs::create_dir_all(dir.path().join("DCIM")).unwrap();
        std::fs::write(dir.path().join("DCIM/big.bin"), &content).unwrap();
        std::fs::write(dir.path().join("empty.bin"), b"").unwrap();
        let emu = start_with(dir.path(), mode).await;
        let (mut cam, _ev) = Cam::open(emu.addr).await;
        let h = cam.find("DCIM/big.bin").await;

        assert_eq!(cam.data(op::GET_OBJECT, &[h]).await, content, "{mode:?}");
        let size = content.len() as u32;
        let mib = 1 << 20;
        for (offset, max) in [(0, mib), (mib, mib), (size - 100, mib), (5, 7), (0, u32::MAX), (size, mib)] {
            let a = cam.call(op::GET_PARTIAL_OBJECT, &[h, offset, max]).await;
            let end = (offset as usize + max as usize).min(content.len());
            let want = &content[offset as usize..end];
            assert_eq!(a.code, rc::OK);
            assert_eq!(a.data.unwrap(), want, "range {offset}+{max}");
            assert_eq!(a.params, [want.len() as u32]);
        }
        assert_eq!(cam.call(op::GET_PARTIAL_OBJECT, &[h, size + 1, 10]).await.code, rc::INVALID_PARAMETER);
        let empty = cam.find("empty.bin").await;
        assert_eq!(cam.data(op::GET_OBJECT, &[empty]).await, b"");
        let dcim = cam.find("DCIM").await;
        assert_eq!(cam.call(op::GET_OBJECT, &[dcim]).await.code, rc::INVALID_OBJECT_HANDLE);
        assert_eq!(cam.call(op::GET_OBJECT, &[777]).await.code, rc::INVALID_OBJECT_HANDLE);
    }
}

/// The data-out layouts of rule 9.
#[derive(Debug, Clone, Copy)]
enum Out {
    /// (a) Start + End(data).
    StartEnd,
    /// (b) Start + Data(chunk)… + End(last chunk).
    Chunks(usize),
    /// (c) Start with a u32-only length + Data(all) + End(empty).
    U32StartDataEmptyEnd,
    /// (e) one raw Data packet without Start/End and without TID, DataPhaseInfo 1.
    RawDataNoTid,
    /// (e') one Data packet with TID, no Start.
    RawDataWithTid,
}

async fn send_out(cam: &mut Cam, code: u16, params: &[u32], data: &[u8], how: Out) -> Answer {
    let phase = if matches!(how, Out::RawDataNoTid) { data_phase::NONE_OR_IN } else { data_phase::OUT };
    let tid = cam.send_request(code, params, phase).await;
    let start = Packet::StartData { tid, total: data.len() as u64 };
    let mut out = Vec::new();
    match how {
        Out::StartEnd => {
            start.encode(&mut out).unwrap();
            Packet::EndData { tid, data: data.to_vec() }.encode(&mut out).unwrap();
        }
        Out::Chunks(size) => {
            start.encode(&mut out).unwrap();
            let mut chunks = data.chunks(size).peekable();
            while let Some(c) = chunks.next() {
                let p = if chunks.peek().is_some() {
                    Packet::Data { tid, data: c.to_vec() }
                } else {
                    Packet::EndData { tid, data: c.to_vec() }
                };
                p.encode(&mut out).unwrap();
            }
        }
        Out::U32StartDataEmptyEnd => {
            out.extend_from_slice(&[16, 0, 0, 0, 9, 0, 0, 0]);
            out.extend_from_slice(&tid.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            Packet::Data { tid, data: data.to_vec() }.encode(&mut out).unwrap();
            Packet::EndData { tid, data: vec![] }.encode(&mut out).unwrap();
        }
        Out::RawDataNoTid => {
            out.extend_from_slice(&Header::encode(kind::DATA, data.len()).unwrap());
            out.extend_from_slice(data);
        }
        Out::RawDataWithTid => Packet::Data { tid, data: data.to_vec() }.encode(&mut out).unwrap(),
    }
    cam.raw(&out).await;
    cam.answer().await
}

#[tokio::test]
async fn set_device_prop_value_every_data_out_variant() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let (mut cam, _ev) = Cam::open(emu.addr).await;
    let fnum = u32::from(prop::F_NUMBER);

    let variants =
        [Out::StartEnd, Out::Chunks(1), Out::U32StartDataEmptyEnd, Out::RawDataNoTid, Out::RawDataWithTid];
    for (how, value) in variants.into_iter().zip([560u16, 800, 1100, 280, 1600]) {
        let a = send_out(&mut cam, op::SET_DEVICE_PROP_VALUE, &[fnum], &value.to_le_bytes(), how).await;
        assert_eq!(a.code, rc::OK, "{how:?}");
        let got = cam.data(op::GET_DEVICE_PROP_VALUE, &[fnum]).await;
        assert_eq!(got, value.to_le_bytes(), "{how:?}");
    }

    // A string property in many small chunks, and the desc reflects it.
    let size = PropValue::Str("1920x1080".into()).to_bytes();
    let a =
        send_out(&mut cam, op::SET_DEVICE_PROP_VALUE, &[u32::from(prop::IMAGE_SIZE)], &size, Out::Chunks(3))
            .await;
    assert_eq!(a.code, rc::OK);
    let desc =
        DevicePropDesc::decode(&cam.data(op::GET_DEVICE_PROP_DESC, &[u32::from(prop::IMAGE_SIZE)]).await)
            .unwrap();
    assert_eq!(desc.current, PropValue::Str("1920x1080".into()));
    assert!(desc.writable && matches!(desc.form, PropForm::Enumeration(_)));

    // (d) Start with total 0 and nothing else: answered (bad format), no hang; a late empty End is tolerated.
    let tid = cam.send_request(op::SET_DEVICE_PROP_VALUE, &[fnum], data_phase::OUT).await;
    cam.cmd.write_packet(&Packet::StartData { tid, total: 0 }).await.unwrap();
    assert_eq!(cam.answer().await.code, rc::INVALID_DEVICE_PROP_FORMAT);
    cam.cmd.write_packet(&Packet::EndData { tid, data: vec![] }).await.unwrap();
    assert_eq!(cam.data(op::GET_DEVICE_PROP_VALUE, &[fnum]).await, 1600u16.to_le_bytes());

    // Errors.
    let set = |v: &[u8]| v.to_vec();
    for (code, data, want) in [
        (fnum, set(&561u16.to_le_bytes()), rc::INVALID_DEVICE_PROP_VALUE),
        (fnum, set(&[1, 2, 3]), rc::INVALID_DEVICE_PROP_FORMAT),
        (u32::from(prop::BATTERY_LEVEL), set(&[50]), rc::ACCESS_DENIED),
        (0x5099, set(&[1, 0]), rc::DEVICE_PROP_NOT_SUPPORTED),
        (
            u32::from(prop::DATE_TIME),
            PropValue::Str("garbage".into()).to_bytes(),
            rc::INVALID_DEVICE_PROP_VALUE,
        ),
    ] {
        assert_eq!(
            send_out(&mut cam, op::SET_DEVICE_PROP_VALUE, &[code], &data, Out::StartEnd).await.code,
            want
        );
    }
    assert_eq!(cam.call(op::GET_DEVICE_PROP_DESC, &[0x5099]).await.code, rc::DEVICE_PROP_NOT_SUPPORTED);
    let battery = cam.data(op::GET_DEVICE_PROP_DESC, &[u32::from(prop::BATTERY_LEVEL)]).await;
    assert_eq!(battery, [0x01, 0x50, 0x02, 0x00, 0x00, 0x64, 0x50, 0x01, 0x00, 0x64, 0x01]);

    // DateTime: the emulated clock keeps the set offset; Reset restores the default.
    let when = PropValue::Str("20200102T030405.0".into()).to_bytes();
    let dt = u32::from(prop::DATE_TIME);
    assert_eq!(send_out(&mut cam, op::SET_DEVICE_PROP_VALUE, &[dt], &when, Out::StartEnd).await.code, rc::OK);
    let now =
        PropValue::decode_exact(DataType::STR, &cam.data(op::GET_DEVICE_PROP_VALUE, &[dt]).await).unwrap();
    assert!(now.to_string().starts_with("20200102T0304"), "{now}");
    assert_eq!(cam.call(op::RESET_DEVICE_PROP_VALUE, &[fnum]).await.code, rc::OK);
    assert_eq!(cam.data(op::GET_DEVICE_PROP_VALUE, &[fnum]).await, 400u16.to_le_bytes());

    // Values persist across sessions.
    drop(cam);
    let (mut cam, _ev) = Cam::open(emu.addr).await;
    let size = cam.data(op::GET_DEVICE_PROP_VALUE, &[u32::from(prop::IMAGE_SIZE)]).await;
    assert_eq!(PropValue::decode_exact(DataType::STR, &size).unwrap(), PropValue::Str("1920x1080".into()));
}

#[tokio::test]
async fn capture_adds_a_new_picture_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let (mut cam, mut events) = Cam::open(emu.addr).await;
    let folder = dir.path().join("DCIM/100EMU01");

    let mut pictures = Vec::new();
    for expect in ["IMG_0004.JPG", "IMG_0005.JPG"] {
        let tid = cam.send_request(op::INITIATE_CAPTURE, &[0, 0], data_phase::NONE_OR_IN).await;
        assert_eq!(cam.answer().await.code, rc::OK);
        let added = events.next().await;
        assert_eq!((added.code, added.tid), (ev::OBJECT_ADDED, tid));
        let done = events.next().await;
        assert_eq!((done.code, done.tid), (ev::CAPTURE_COMPLETE, tid));

        let h = added.params.get(0);
        let info = cam.info(h).await;
        assert_eq!(info.filename, expect);
        assert_eq!(info.parent, cam.find("DCIM/100EMU01").await);
        let bytes = cam.data(op::GET_OBJECT, &[h]).await;
        assert_eq!(&bytes[..2], &[0xFF, 0xD8]);
        assert_eq!(std::fs::read(folder.join(expect)).unwrap(), bytes);
        assert_eq!((info.image_width, info.image_height), (640, 480));
        pictures.push(bytes);
    }
    assert_ne!(pictures[0], pictures[1], "every capture is a new picture");
    assert_eq!(cam.call(op::INITIATE_CAPTURE, &[0x0005_0001, 0]).await.code, rc::INVALID_STORAGE_ID);
    assert_eq!(cam.call(op::INITIATE_CAPTURE, &[0, 0x3004]).await.code, rc::INVALID_OBJECT_FORMAT_CODE);
    // No temp files left behind.
    let names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
}

#[tokio::test]
async fn empty_media_dir_gets_sample_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("not-yet");
    let emu = start(&media).await;
    let (mut cam, _ev) = Cam::open(emu.addr).await;
    let folder = cam.find("DCIM/100EMU01").await;
    let kids = cam.handles(0, folder).await;
    assert_eq!(kids.len(), 3);
    for (i, h) in kids.into_iter().enumerate() {
        let info = cam.info(h).await;
        assert_eq!(info.filename, format!("IMG_{:04}.JPG", i + 1));
        assert_eq!((info.format, info.image_width, info.image_height), (format::EXIF_JPEG, 640, 480));
        assert!(media.join("DCIM/100EMU01").join(&info.filename).is_file());
    }
}

#[tokio::test]
async fn delete_and_send_objects() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path());
    let emu = start(dir.path()).await;
    let (mut cam, _ev) = Cam::open(emu.addr).await;

    let readme = cam.find("readme.txt").await;
    assert_eq!(cam.call(op::DELETE_OBJECT, &[readme, 0]).await.code, rc::OK);
    assert!(!dir.path().join("readme.txt").exists());
    assert_eq!(cam.call(op::GET_OBJECT_INFO, &[readme]).await.code, rc::INVALID_OBJECT_HANDLE);
    let dcim = cam.find("DCIM").await;
    assert_eq!(cam.call(op::DELETE_OBJECT, &[dcim, 0]).await.code, rc::OBJECT_WRITE_PROTECTED);
    assert!(dir.path().join("DCIM/100TEST/IMG_0001.JPG").exists());
    let misc = cam.find("MISC").await;
    assert_eq!(cam.call(op::DELETE_OBJECT, &[misc, 0]).await.code, rc::OK);
    assert!(!dir.path().join("MISC").exists());

    // Upload a 200 KiB file into DCIM/100TEST as gphoto2 does (64 KiB Data chunks + End).
    let folder = cam.find("DCIM/100TEST").await;
    let content = pattern(200 * 1024);
    let oi = ObjectInfo {
        storage_id: SID,
        format: format::UNDEFINED,
        compressed_size: content.len() as u32,
        filename: "upload.bin".into(),
        ..ObjectInfo::default()
    };
    let mut oi_bytes = Vec::new();
    oi.encode(&mut oi_bytes);
    let a = send_out(&mut cam, op::SEND_OBJECT_INFO, &[SID, folder], &oi_bytes, Out::StartEnd).await;
    assert_eq!((a.code, a.params[0], a.params[1]), (rc::OK, SID, folder));
    let new_h = a.params[2];
    let a = send_out(&mut cam, op::SEND_OBJECT, &[], &content, Out::Chunks(64 * 1024)).await;
    assert_eq!(a.code, rc::OK);
    assert_eq!(std::fs::read(dir.path().join("DCIM/100TEST/upload.bin")).unwrap(), content);
    assert_eq!(cam.data(op::GET_OBJECT, &[new_h]).await, content);
    assert_eq!(cam.info(new_h).await.parent, folder);
    // SendObject without SendObjectInfo; a hostile name.
    let a = send_out(&mut cam, op::SEND_OBJECT, &[], b"xyz", Out::StartEnd).await;
    assert_eq!(a.code, 0x2015);
    let evil = ObjectInfo { filename: "../escape.txt".into(), ..oi };
    let mut evil_bytes = Vec::new();
    evil.encode(&mut evil_bytes);
    let a = send_out(&mut cam, op::SEND_OBJECT_INFO, &[SID, 0], &evil_bytes, Out::StartEnd).await;
    assert_eq!(a.code, rc::INVALID_PARAMETER);

    // Delete everything: all files go, folders stay.
    assert_eq!(cam.call(op::DELETE_OBJECT, &[0xFFFF_FFFF, 0]).await.code, rc::OK);
    assert!(!dir.path().join("DCIM/100TEST/upload.bin").exists());
    assert_eq!(cam.handles(0, 0).await.len(), 2);
    let names: Vec<_> = std::fs::read_dir(dir.path().join("DCIM/100TEST")).unwrap().collect();
    assert!(names.is_empty(), "temp files left: {names:?}");
}

#[tokio::test]
async fn concurrent_sessions_and_prop_change_events() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path());
    let emu = start(dir.path()).await;
    let (mut a, mut ev_a) = Cam::open(emu.addr).await;
    let (mut b, mut ev_b) = Cam::open(emu.addr).await;
    assert_ne!(a.conn_id, b.conn_id);

    // Interleaved work on both connections.
    let (ha, hb) = tokio::join!(a.handles(0, 0), b.handles(0, 0));
    assert_eq!(ha, hb);
    let jpeg = a.find("DCIM/100TEST/IMG_0001.JPG").await;
    let param = [jpeg];
    let (da, db) = tokio::join!(a.data(op::GET_OBJECT, &param), b.data(op::GET_OBJECT, &param));
    assert_eq!(da, db);

    // A property set on A is announced on B (and A).
    let wb = u32::from(prop::WHITE_BALANCE);
    let r = send_out(&mut a, op::SET_DEVICE_PROP_VALUE, &[wb], &4u16.to_le_bytes(), Out::StartEnd).await;
    assert_eq!(r.code, rc::OK);
    for events in [&mut ev_b, &mut ev_a] {
        let e = events.next().await;
        assert_eq!((e.code, e.tid, e.params.as_slice()), (ev::DEVICE_PROP_CHANGED, 0xFFFF_FFFF, &[wb][..]));
    }
    assert_eq!(b.data(op::GET_DEVICE_PROP_VALUE, &[wb]).await, 4u16.to_le_bytes());

    // Probe on the event connection.
    ev_b.conn.write_packet(&Packet::ProbeRequest).await.unwrap();
    assert_eq!(timeout(T, ev_b.conn.read_packet()).await.unwrap().unwrap(), Packet::ProbeResponse);

    // Closing A leaves B working.
    drop(a);
    drop(ev_a);
    assert_eq!(b.handles(0, 0).await, hb);
}

#[tokio::test]
async fn bad_handshakes_cost_only_their_socket() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let ops = OperationRequest { data_phase: 1, code: op::GET_DEVICE_INFO, tid: 0, params: Params::new(&[]) };
    let cases: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        vec![4, 0, 0, 0, 1, 0, 0, 0],
        vec![0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0],
        Packet::Unknown { kind: 99, payload: vec![1, 2, 3] }.to_bytes().unwrap(),
        Packet::OperationRequest(ops).to_bytes().unwrap(),
        vec![0x22, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3], // truncated Init_Command_Request, then close
    ];
    for bytes in cases {
        let mut s = TcpStream::connect(emu.addr).await.unwrap();
        s.write_all(&bytes).await.unwrap();
        s.shutdown().await.unwrap();
        assert_closed(&mut s).await;
        still_serves(emu.addr).await;
    }
}

#[tokio::test]
async fn bad_packets_in_a_session_cost_only_that_session() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let (mut other, _other_ev) = Cam::open(emu.addr).await;

    // Unknown packet types are skipped; the connection keeps working.
    let (mut cam, _ev) = Cam::open(emu.addr).await;
    cam.raw(&Packet::Unknown { kind: 0x77, payload: vec![9; 100] }.to_bytes().unwrap()).await;
    cam.cmd.write_packet(&Packet::Cancel { tid: 3 }).await.unwrap();
    // A Cancel outside a data phase gets its Cmd_Response (the seed's "gets 0x7 ack back").
    let cancelled = cam.answer().await;
    assert_eq!((cancelled.code, cancelled.tid), (rc::TRANSACTION_CANCELLED, 3));
    assert_eq!(cam.call(op::GET_STORAGE_IDS, &[]).await.code, rc::OK);

    // Each of these closes its own connection.
    let fatal: Vec<Vec<u8>> = vec![
        vec![4, 0, 0, 0, 6, 0, 0, 0],
        vec![0xFF, 0xFF, 0xFF, 0xFF, 6, 0, 0, 0],
        vec![0x0C, 0, 0, 0, 6, 0, 0, 0, 1, 0, 0, 0], // request too short to decode
        vec![0x40, 0, 0, 0, 6, 0, 0, 0, 1, 0, 0, 0, 1, 0x10], // truncated, then close
    ];
    for bytes in fatal {
        let (mut cam, _ev) = Cam::open(emu.addr).await;
        cam.raw(&bytes).await;
        // Half-close so the truncated packet can never complete.
        let mut s = socket_clone(cam.cmd.get_ref());
        drop(cam);
        s.shutdown().await.unwrap();
        assert_closed(&mut s).await;
        still_serves(emu.addr).await;
    }
    assert_eq!(other.call(op::GET_STORAGE_IDS, &[]).await.code, rc::OK);
}

/// A second handle on a test socket (Connection has no `into_inner`).
fn socket_clone(s: &TcpStream) -> TcpStream {
    use std::os::fd::{AsFd, OwnedFd};
    let owned: OwnedFd = s.as_fd().try_clone_to_owned().unwrap();
    let std_stream = std::net::TcpStream::from(owned);
    std_stream.set_nonblocking(true).unwrap();
    TcpStream::from_std(std_stream).unwrap()
}

#[tokio::test]
async fn client_vanishing_mid_transfer_ends_only_its_session() {
    let dir = tempfile::tempdir().unwrap();
    let content = pattern(20 * 1024 * 1024);
    std::fs::write(dir.path().join("big.bin"), &content).unwrap();
    let emu = start(dir.path()).await;

    let (mut cam, ev) = Cam::open(emu.addr).await;
    let h = cam.find("big.bin").await;
    cam.send_request(op::GET_OBJECT, &[h], data_phase::NONE_OR_IN).await;
    let start = cam.cmd.read_header().await.unwrap();
    assert_eq!(start.kind, kind::START_DATA);
    let _ = cam.cmd.read_payload(start.payload_len()).await.unwrap();
    let end = cam.cmd.read_header().await.unwrap();
    assert_eq!(end.kind, kind::END_DATA);
    let _ = cam.cmd.read_payload(1 << 20).await.unwrap();
    drop(cam);
    // Its event connection is closed with it.
    let mut ev_stream = socket_clone(ev.conn.get_ref());
    drop(ev);
    assert_closed(&mut ev_stream).await;

    // Data-out interrupted half-way: no temp file stays behind.
    let (mut up, _up_ev) = Cam::open(emu.addr).await;
    let oi = ObjectInfo {
        storage_id: SID,
        filename: "part.bin".into(),
        compressed_size: 1 << 20,
        ..Default::default()
    };
    let mut oi_bytes = Vec::new();
    oi.encode(&mut oi_bytes);
    assert_eq!(
        send_out(&mut up, op::SEND_OBJECT_INFO, &[SID, 0], &oi_bytes, Out::StartEnd).await.code,
        rc::OK
    );
    let tid = up.send_request(op::SEND_OBJECT, &[], data_phase::OUT).await;
    up.cmd.write_packet(&Packet::StartData { tid, total: 1 << 20 }).await.unwrap();
    up.cmd.write_packet(&Packet::Data { tid, data: vec![1; 65536] }).await.unwrap();
    drop(up);

    let (mut cam, _ev) = Cam::open(emu.addr).await;
    assert_eq!(cam.data(op::GET_OBJECT, &[h]).await, content);
    let leftovers = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "big.bin")
            .count()
    };
    for _ in 0..50 {
        if leftovers() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(leftovers(), 0, "temp file of the interrupted upload removed");
}

#[tokio::test]
async fn many_connect_close_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    for _ in 0..30 {
        let (mut cam, _ev) = Cam::open(emu.addr).await;
        assert_eq!(cam.handles(0, 0).await.len(), 5);
        assert_eq!(cam.call(op::CLOSE_SESSION, &[]).await.code, rc::OK);
    }
}
