//! The emulator as a camera paired with some computers only (Init_Fail to the others), and the seed's
//! answer to a Cancel_Transaction outside a data phase, over 127.0.0.1.

mod common;

use camctl_ptpip::Error;
use camctl_ptpip::client::{Client, ClientConfig};
use camctl_ptpip::emulator::EmulatorConfig;
use camctl_ptpip::wire::codes::{op, rc};
use camctl_ptpip::wire::{Packet, fail_reason};
use common::emu::Running;
use common::raw::Cam;

#[tokio::test]
async fn an_unpaired_initiator_gets_init_fail_and_a_paired_one_gets_in() {
    common::within(async {
        let dir = tempfile::tempdir().unwrap();
        let config = EmulatorConfig {
            media_dir: dir.path().to_path_buf(),
            allowed_guids: vec![*b"camctl-initiator"],
            ..EmulatorConfig::default()
        };
        let emu = Running::start(config).await;
        let addr = emu.addr.to_string();
        let mut paired = Client::connect(&addr, ClientConfig::default()).await.unwrap();
        paired.device_info().await.unwrap();
        paired.close().await.unwrap();

        let stranger = ClientConfig { guid: *b"someone-elses-pc", ..ClientConfig::default() };
        let err = Client::connect(&addr, stranger).await.err().unwrap();
        assert!(matches!(err, Error::InitFailed { reason: fail_reason::REJECTED_INITIATOR }), "{err}");
        let core: camctl_core::Error = err.into();
        assert!(
            core.to_string().contains("initiator rejected (this computer is not paired/allowed)"),
            "{core}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_cancel_outside_a_data_phase_gets_a_response() {
    common::within(async {
        let dir = tempfile::tempdir().unwrap();
        let emu = Running::start(EmulatorConfig {
            media_dir: dir.path().to_path_buf(),
            ..EmulatorConfig::default()
        })
        .await;
        let mut cam = Cam::connect(emu.addr).await;
        cam.ok(op::OPEN_SESSION, &[1]).await;
        cam.raw(&Packet::Cancel { tid: 77 }.to_bytes().unwrap()).await;
        let answer = cam.answer().await;
        assert_eq!((answer.code, answer.tid), (rc::TRANSACTION_CANCELLED, 77));
        // The session goes on.
        cam.ok(op::GET_DEVICE_INFO, &[]).await;
    })
    .await;
}
