//! `camctl emulate yi --usb-power` (seed 002: msg 13 answers `type: "adapter"` on USB power) read back
//! through `camctl info` over 127.0.0.1.

mod common;

use common::{Emulator, run_ok};

#[test]
fn info_shows_usb_power_only_when_the_emulator_runs_on_it() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("yi-card");
    std::fs::create_dir_all(&media).unwrap();

    let usb = Emulator::start("yi", &media, &["--usb-power"]);
    let text = run_ok(&["info", &usb.url]);
    assert!(text.contains("USB adapter"), "{text}");
    let info: serde_json::Value = serde_json::from_str(&run_ok(&["info", &usb.url, "--json"])).unwrap();
    assert!(info.to_string().contains("USB adapter"), "{info}");
    assert_eq!(info["battery"], 86, "{info}");
    drop(usb);

    let battery = Emulator::start("yi", &media, &[]);
    let text = run_ok(&["info", &battery.url]);
    assert!(!text.contains("adapter"), "{text}");
}
