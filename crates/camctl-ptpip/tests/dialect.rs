//! Dialect selection and the Nikon client paths against fake cameras over 127.0.0.1: the fake speaks
//! the Nikon operations the way the reference (`ptpip-vendors.md` §3) says real bodies do, and the
//! real client must drive them.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use camctl_core::Camera;
use camctl_ptpip::Dialect;
use camctl_ptpip::wire::codes::{format, op, rc};
use camctl_ptpip::wire::nikon::{self, NikonEvent};
use camctl_ptpip::wire::{DataType, DeviceInfo, DevicePropDesc, ObjectInfo, PropForm, PropValue, canon};
use common::*;

fn device_info_of(vendor: u32, manufacturer: &str, operations: &[u16], properties: &[u16]) -> Vec<u8> {
    let di = DeviceInfo {
        standard_version: 100,
        vendor_extension_id: vendor,
        operations: operations.to_vec(),
        properties: properties.to_vec(),
        manufacturer: manufacturer.into(),
        model: "Test body".into(),
        ..DeviceInfo::default()
    };
    let mut out = Vec::new();
    di.encode(&mut out);
    out
}

fn picture_info(name: &str) -> Vec<u8> {
    let info = ObjectInfo {
        storage_id: 0x0001_0001,
        format: format::EXIF_JPEG,
        compressed_size: 4,
        parent: 0,
        filename: name.into(),
        ..ObjectInfo::default()
    };
    let mut out = Vec::new();
    info.encode(&mut out);
    out
}

#[tokio::test]
async fn the_dialect_comes_from_device_info_and_the_url_overrides_it() {
    within(async {
        // An EOS body reporting the MTP vendor id, as many do: Canon by its manufacturer.
        let eos = device_info_of(6, "Canon Inc.", &[canon::op::GET_EVENT], &[]);
        let addr = fake_camera(Arc::new(move |req| match req.code {
            op::GET_DEVICE_INFO => Reply::Cmd(data(req.tid, eos.clone())),
            _ => Reply::Cmd(response(req.tid, rc::OPERATION_NOT_SUPPORTED)),
        }))
        .await;
        assert_eq!(ptp_camera(&addr, "").await.dialect(), Dialect::CanonEos);

        let nikon = device_info_of(0x0A, "Nikon Corporation", &[], &[]);
        let handler: Arc<Handler> = Arc::new(move |req| match req.code {
            op::GET_DEVICE_INFO => Reply::Cmd(data(req.tid, nikon.clone())),
            op::GET_STORAGE_IDS => Reply::Cmd(data(req.tid, camctl_ptpip::wire::encode_u32_array(&[]))),
            _ => Reply::Cmd(response(req.tid, rc::OPERATION_NOT_SUPPORTED)),
        });
        let addr = fake_camera(handler.clone()).await;
        let mut cam = ptp_camera(&addr, "").await;
        assert_eq!(cam.dialect(), Dialect::Nikon);
        let info = cam.info().await.unwrap();
        assert!(info.extra.contains(&("dialect".into(), "nikon".into())), "{:?}", info.extra);
        let addr = fake_camera(handler).await;
        assert_eq!(ptp_camera(&addr, "?dialect=generic").await.dialect(), Dialect::Generic);
    })
    .await;
}

#[tokio::test]
async fn nikon_access_denied_explains_the_transfer_setting() {
    within(async {
        let di = device_info_of(0x0A, "Nikon Corporation", &[op::GET_OBJECT_HANDLES], &[]);
        let addr = fake_camera(Arc::new(move |req| match req.code {
            op::GET_DEVICE_INFO => Reply::Cmd(data(req.tid, di.clone())),
            op::GET_STORAGE_IDS => {
                Reply::Cmd(data(req.tid, camctl_ptpip::wire::encode_u32_array(&[0x0001_0001])))
            }
            _ => Reply::Cmd(response(req.tid, rc::ACCESS_DENIED)),
        }))
        .await;
        let mut cam = ptp_camera(&addr, "").await;
        let err = cam.list_media().await.unwrap_err();
        assert!(matches!(err, camctl_core::Error::Rejected(_)), "{err}");
        let text = err.to_string();
        assert!(text.contains("AccessDenied (0x200F)") && text.contains("Wi-Fi transfer"), "{text}");
    })
    .await;
}

/// A Nikon body with the third-generation capture: vendor properties through 0x90CA (here the Nikon
/// shutter speed 0xD100), 0x9207 busy twice, DeviceReady busy twice, and the new file announced
/// through GetEvent 0x90C7 only.
fn nikon_capture_camera(asked_ready: Arc<AtomicU32>) -> Arc<Handler> {
    let di = device_info_of(
        0x0A,
        "Nikon Corporation",
        &[
            op::GET_OBJECT_INFO,
            nikon::op::GET_VENDOR_PROP_CODES,
            nikon::op::GET_EVENT,
            nikon::op::DEVICE_READY,
            nikon::op::INITIATE_CAPTURE_REC_IN_MEDIA,
        ],
        &[0x5007],
    );
    let captures = Arc::new(AtomicU32::new(0));
    let polls_after_capture = Arc::new(AtomicU32::new(0));
    Arc::new(move |req| {
        let tid = req.tid;
        match req.code {
            op::GET_DEVICE_INFO => Reply::Cmd(data(tid, di.clone())),
            nikon::op::GET_VENDOR_PROP_CODES => {
                let mut out = Vec::new();
                nikon::encode_vendor_prop_codes(&[nikon::prop::EXPOSURE_TIME], &mut out);
                Reply::Cmd(data(tid, out))
            }
            nikon::op::INITIATE_CAPTURE_REC_IN_MEDIA => {
                assert_eq!(req.params.as_slice(), &[nikon::capture::NO_AF, nikon::capture::TARGET_CARD]);
                let n = captures.fetch_add(1, Ordering::SeqCst);
                Reply::Cmd(response(tid, if n < 2 { rc::DEVICE_BUSY } else { rc::OK }))
            }
            nikon::op::DEVICE_READY => {
                let n = asked_ready.fetch_add(1, Ordering::SeqCst);
                Reply::Cmd(response(tid, if n < 2 { rc::DEVICE_BUSY } else { rc::OK }))
            }
            nikon::op::GET_EVENT => {
                let mut out = Vec::new();
                let events: &[NikonEvent] = if captures.load(Ordering::SeqCst) < 3 {
                    &[]
                } else {
                    match polls_after_capture.fetch_add(1, Ordering::SeqCst) {
                        0 => &[NikonEvent::ObjectAdded { handle: 0x42 }],
                        1 => &[NikonEvent::CaptureComplete { transaction: 0 }],
                        _ => &[],
                    }
                };
                nikon::encode_events(events, &mut out).unwrap();
                Reply::Cmd(data(tid, out))
            }
            op::GET_OBJECT_INFO if req.params.get(0) == 0x42 => {
                Reply::Cmd(data(tid, picture_info("DSC_0042.JPG")))
            }
            op::GET_DEVICE_PROP_DESC => {
                let code = req.params.get(0) as u16;
                let desc = match code {
                    0x5007 => DevicePropDesc {
                        code,
                        data_type: DataType::UINT16,
                        writable: true,
                        factory_default: PropValue::U16(560),
                        current: PropValue::U16(560),
                        form: PropForm::Enumeration(vec![
                            PropValue::U16(400),
                            PropValue::U16(560),
                            PropValue::U16(800),
                        ]),
                    },
                    _ => return Reply::Cmd(response(tid, rc::DEVICE_PROP_NOT_SUPPORTED)),
                };
                let mut out = Vec::new();
                desc.encode(&mut out);
                Reply::Cmd(data(tid, out))
            }
            _ => Reply::Cmd(response(tid, rc::OPERATION_NOT_SUPPORTED)),
        }
    })
}

#[tokio::test]
async fn nikon_capture_goes_through_rec_in_media_device_ready_and_polled_events() {
    within(async {
        let asked_ready = Arc::new(AtomicU32::new(0));
        let addr = fake_camera(nikon_capture_camera(asked_ready.clone())).await;
        let mut cam = ptp_camera(&addr, "").await;
        let items = cam.capture().await.unwrap();
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].path, "DSC_0042.JPG");
        assert_eq!(items[0].id, "66");
        assert!(asked_ready.load(Ordering::SeqCst) >= 3, "DeviceReady polled until ready");
        // The f-number with gphoto2's name and labels.
        let s = cam.setting("f-number").await.unwrap();
        assert_eq!(s.value, "f/5.6");
        match s.form {
            camctl_core::SettingForm::Choices { choices } => assert_eq!(choices, ["f/4", "f/5.6", "f/8"]),
            other => panic!("{other:?}"),
        }
    })
    .await;
}
