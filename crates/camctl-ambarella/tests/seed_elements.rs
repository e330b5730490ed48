//! Elements of the Yi seed (`seeds/002_*`) checked over real sockets on 127.0.0.1: msg 3 carries the
//! action keys `restore_factory_settings` and `dev_reboot` as the seed shows them, and msg 13 answers
//! `type: "adapter"` when the camera runs on USB power.

mod common;

use camctl_ambarella::YiCamera;
use camctl_ambarella::client::{Client, ClientConfig};
use camctl_core::{Camera, CameraUrl};
use common::{Raw, emulator, emulator_with};

#[tokio::test]
async fn msg_3_carries_the_seed_action_keys() {
    let emu = emulator().await;
    let mut raw = Raw::connect(&emu.addr).await;
    let t = raw.session().await;
    let all = raw.ask(format!(r#"{{"msg_id":3,"token":{t}}}"#).as_bytes()).await;
    // Exactly as the seed shows them, in the Yi's spaced style.
    let restore = all.find(r#"{ "restore_factory_settings": "on" }"#).expect(&all);
    let reboot = all.find(r#"{ "dev_reboot": "on" }"#).expect(&all);
    let led = all.find(r#"{ "led_mode": "#).expect(&all);
    let meter = all.find(r#"{ "meter_mode": "#).expect(&all);
    // The seed's order around led_mode.
    assert!(restore < led && led < reboot && reboot < meter, "{all}");
    // Each key once, and valid JSON.
    assert_eq!(all.matches("restore_factory_settings").count(), 1);
    assert_eq!(all.matches("dev_reboot").count(), 1);
    let v: serde_json::Value = serde_json::from_str(&all).unwrap();
    let params = v["param"].as_array().unwrap();
    assert!(params.contains(&serde_json::json!({"restore_factory_settings": "on"})));
    assert!(params.contains(&serde_json::json!({"dev_reboot": "on"})));
    // msg 1 and msg 9 agree: the only value is "on".
    assert_eq!(
        raw.ask(format!(r#"{{"msg_id":1,"token":{t},"type":"dev_reboot"}}"#).as_bytes()).await,
        r#"{"rval":0,"msg_id":1,"type":"dev_reboot","param":"on"}"#
    );
    assert_eq!(
        raw.ask(format!(r#"{{"msg_id":9,"token":{t},"param":"restore_factory_settings"}}"#).as_bytes()).await,
        r#"{"rval":0,"msg_id":9,"param":"restore_factory_settings","permission":"settable","options":["on"]}"#
    );
}

#[tokio::test]
async fn client_lists_the_action_keys() {
    let emu = emulator().await;
    let mut client = Client::connect(&emu.addr, &emu.data_addr, ClientConfig::default()).await.unwrap();
    let all = client.all_settings().await.unwrap();
    for key in ["restore_factory_settings", "dev_reboot"] {
        assert!(all.iter().any(|(k, v)| k == key && v == "on"), "{key} missing from {all:?}");
    }
    client.close().await.unwrap();
}

#[tokio::test]
async fn msg_13_on_battery_and_on_usb_power() {
    let emu = emulator().await;
    let mut raw = Raw::connect(&emu.addr).await;
    let t = raw.session().await;
    assert_eq!(
        raw.ask(format!(r#"{{"msg_id":13,"token":{t}}}"#).as_bytes()).await,
        r#"{"rval":0,"msg_id":13,"type":"battery","param":"86"}"#
    );

    let emu = emulator_with(|c| {
        c.usb_power = true;
        c.battery = 44;
    })
    .await;
    let mut raw = Raw::connect(&emu.addr).await;
    let t = raw.session().await;
    assert_eq!(
        raw.ask(format!(r#"{{"msg_id":13,"token":{t}}}"#).as_bytes()).await,
        r#"{"rval":0,"msg_id":13,"type":"adapter","param":"44"}"#
    );
    drop(raw);

    // The client reports it: Battery::adapter, and `info` shows the power source.
    let mut client = Client::connect(&emu.addr, &emu.data_addr, ClientConfig::default()).await.unwrap();
    let b = client.battery().await.unwrap();
    assert!(b.adapter);
    assert_eq!(b.percent, Some(44));
    client.close().await.unwrap();
    let url: CameraUrl = emu.url.parse().unwrap();
    let mut cam = YiCamera::connect(&url).await.unwrap();
    let info = cam.info().await.unwrap();
    assert_eq!(info.battery, Some(44));
    assert!(info.extra.iter().any(|(k, v)| k == "power" && v == "USB adapter"), "{:?}", info.extra);
    cam.close().await.unwrap();
}
