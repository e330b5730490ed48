//! mDNS discovery across a network the test builds itself: two network namespaces joined by a veth
//! pair with link-local addresses (169.254.77.0/24). The Lytro and PTP/IP emulators announce in one,
//! `camctl discover` browses in the other. Nothing is sent on the machine's own interfaces.
//!
//! Needs root (`ip netns add`); without it the test says why it is skipped, and under CI=true it fails.

mod common;

use std::process::Command;

use common::netns::{TestNetwork, can_create_namespaces};

const CAMERA_ADDR: &str = "169.254.77.1";
const CLIENT_ADDR: &str = "169.254.77.2";

#[test]
fn discover_finds_lytro_and_ptpip_emulators_across_namespaces() {
    if !can_create_namespaces() {
        return;
    }
    let net = TestNetwork::create("d", CAMERA_ADDR, CLIENT_ADDR);
    let media = tempfile::tempdir().unwrap();
    // The camera's real ports, so the announced SRV port yields a URL usable as is.
    let dir = media.path().to_str().unwrap();
    let (_lytro, url) = net.emulate(&["lytro", "--listen", &format!("{CAMERA_ADDR}:5678"), "--media", dir]);
    assert_eq!(url, format!("lytro://{CAMERA_ADDR}:5678"));
    // A PTP/IP camera beside it announces `_ptp._tcp`.
    let ptp_dir = media.path().join("ptp");
    let ptp_args =
        ["ptpip", "--listen", &format!("{CAMERA_ADDR}:15740"), "--media", ptp_dir.to_str().unwrap()];
    let (_ptp, url) = net.emulate(&ptp_args);
    assert_eq!(url, format!("ptpip://{CAMERA_ADDR}:15740"));

    let out = net
        .camctl_in(&net.client_ns)
        .args(["discover", "--timeout", "4", "--json", "--interface", CLIENT_ADDR])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let lytro = found
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["service"] == "_lytro._tcp")
        .unwrap_or_else(|| panic!("no _lytro._tcp camera in {found}"));
    assert_eq!(lytro["url"], format!("lytro://{CAMERA_ADDR}:5678"));
    assert_eq!(lytro["instance"], "lytro-A123456789");
    assert_eq!(lytro["host"], "lytro-A123456789.local.");

    let ptpip = found
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["service"] == "_ptp._tcp")
        .unwrap_or_else(|| panic!("no _ptp._tcp camera in {found}"));
    assert_eq!(ptpip["url"], format!("ptpip://{CAMERA_ADDR}:15740"));

    // The URLs work as printed.
    let info = net.camctl_in(&net.client_ns).args(["info", lytro["url"].as_str().unwrap()]).output().unwrap();
    assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
    assert!(String::from_utf8_lossy(&info.stdout).contains("A123456789"));
    let info = net.camctl_in(&net.client_ns).args(["info", ptpip["url"].as_str().unwrap()]).output().unwrap();
    assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
    assert!(String::from_utf8_lossy(&info.stdout).contains("camctl PTP/IP emulator"));

    // Text output: one line per camera, URL first.
    let text = net
        .camctl_in(&net.client_ns)
        .args(["discover", "--timeout", "3", "--interface", CLIENT_ADDR])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.lines().any(|l| l.starts_with(&format!("lytro://{CAMERA_ADDR}:5678"))), "{text}");
}

/// Every mDNS datagram from `from` that reaches `CLIENT_ADDR` in `ns`, until `wanted` accepts one or
/// the deadline passes; the listening socket joins the group inside the namespace (a thread of its own
/// enters it, the rest of the test process stays where it is). The returned receiver yields once the
/// socket is listening.
fn capture_mdns(
    ns: &str,
    from: std::net::Ipv4Addr,
    wanted: fn(&[u8]) -> bool,
) -> (std::sync::mpsc::Receiver<()>, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    use std::os::fd::AsRawFd;
    let netns = std::fs::File::open(format!("/var/run/netns/{ns}")).expect("namespace file");
    let (ready, listening) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        // setns changes only the calling thread's network namespace.
        assert_eq!(unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns");
        let group = std::net::Ipv4Addr::new(224, 0, 0, 251);
        // Bound to the group address, the socket receives only mDNS multicast.
        let socket = std::net::UdpSocket::bind((group, 5353)).expect("bind 224.0.0.251:5353");
        socket.join_multicast_v4(&group, &CLIENT_ADDR.parse().unwrap()).unwrap();
        socket.set_read_timeout(Some(std::time::Duration::from_millis(200))).unwrap();
        ready.send(()).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 9000];
        while std::time::Instant::now() < deadline {
            let Ok((len, src)) = socket.recv_from(&mut buf) else { continue };
            if src.ip() != from {
                continue;
            }
            seen.push(buf[..len].to_vec());
            if wanted(&buf[..len]) {
                break;
            }
        }
        seen
    });
    (listening, handle)
}

/// Whether `packet` is an mDNS response carrying the service type enumeration PTR.
fn is_full_announcement(packet: &[u8]) -> bool {
    simple_dns::Packet::parse(packet)
        .is_ok_and(|p| p.answers.iter().any(|a| a.name.to_string() == "_services._dns-sd._udp.local"))
}

#[test]
fn lytro_announcement_carries_the_seed_table_on_the_wire() {
    use simple_dns::rdata::RData;
    if !can_create_namespaces() {
        return;
    }
    let net = TestNetwork::create("a", CAMERA_ADDR, CLIENT_ADDR);
    let (listening, capture) =
        capture_mdns(&net.client_ns, CAMERA_ADDR.parse().unwrap(), is_full_announcement);
    listening.recv().unwrap();
    let media = tempfile::tempdir().unwrap();
    let dir = media.path().to_str().unwrap();
    let (_lytro, _) = net.emulate(&["lytro", "--listen", &format!("{CAMERA_ADDR}:5678"), "--media", dir]);
    let seen = capture.join().unwrap();
    let Some(bytes) = seen.iter().find(|p| is_full_announcement(p)) else {
        panic!("no announcement with the service type PTR among {} packets", seen.len());
    };
    let packet = simple_dns::Packet::parse(bytes).unwrap();
    assert!(
        packet.has_flags(simple_dns::PacketFlag::RESPONSE | simple_dns::PacketFlag::AUTHORITATIVE_ANSWER)
    );
    assert!(packet.questions.is_empty(), "an unsolicited response asks nothing");
    let (instance, host) = ("lytro-A123456789._lytro._tcp.local", "lytro-A123456789.local");
    // The seed's table, row by row: type, owner, value.
    let rows: Vec<(&str, String, String)> = packet
        .answers
        .iter()
        .map(|a| {
            let (kind, value) = match &a.rdata {
                RData::PTR(p) => ("PTR", p.0.to_string()),
                RData::SRV(s) => ("SRV", format!("{}:{}", s.target, s.port)),
                RData::TXT(t) => ("TXT", format!("{:?}", t.iter_raw().collect::<Vec<_>>())),
                RData::A(a) => ("A", std::net::Ipv4Addr::from(a.address).to_string()),
                RData::NSEC(n) => ("NSEC", n.next_name.to_string()),
                other => panic!("unexpected record {other:?}"),
            };
            (kind, a.name.to_string(), value)
        })
        .collect();
    let row = |kind, owner: &str, value: &str| (kind, owner.to_string(), value.to_string());
    assert_eq!(
        rows,
        [
            row("PTR", "_services._dns-sd._udp.local", "_lytro._tcp.local"),
            row("PTR", "_lytro._tcp.local", instance),
            row("SRV", instance, &format!("{host}:5678")),
            // An empty TXT is one empty string (RFC 6763 §6.1).
            row("TXT", instance, r#"[([], None)]"#),
            row("A", host, CAMERA_ADDR),
            row("NSEC", host, host),
        ]
    );
    // The NSEC says the host has an A record and nothing else (type bitmap window 0, bit 1).
    let Some(RData::NSEC(nsec)) = packet.answers.last().map(|a| &a.rdata) else { unreachable!() };
    assert_eq!(nsec.type_bit_maps.len(), 1);
    assert_eq!((nsec.type_bit_maps[0].window_block, &nsec.type_bit_maps[0].bitmap[..]), (0, &[0x40u8][..]));
}

#[test]
fn watch_discover_finds_the_camera_and_prefers_one_it_imported_from() {
    if !can_create_namespaces() {
        return;
    }
    let net = TestNetwork::create("t", CAMERA_ADDR, CLIENT_ADDR);
    let tmp = tempfile::tempdir().unwrap();
    let ptp_media = tmp.path().join("ptp");
    camctl_core::media::write_sample_pictures(&ptp_media.join("DCIM/100EMU01"), 1).unwrap();
    let (ptp, _) = net.emulate(&[
        "ptpip",
        "--listen",
        &format!("{CAMERA_ADDR}:15740"),
        "--media",
        ptp_media.to_str().unwrap(),
    ]);
    let catalog = tmp.path().join("catalog.db");
    let watch = |dir: &str| {
        let out = net
            .camctl_in(&net.client_ns)
            .env("CAMCTL_CATALOG", &catalog)
            .args([
                "watch",
                "--discover",
                "--interface",
                CLIENT_ADDR,
                "--count",
                "1",
                "--json",
                "--for",
                "60",
            ])
            .arg(tmp.path().join(dir))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let line = String::from_utf8_lossy(&out.stdout).lines().next().expect("one import").to_string();
        let import: serde_json::Value = serde_json::from_str(&line).unwrap();
        (import, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (first, log) = watch("one");
    assert_eq!(first["camera_path"], "DCIM/100EMU01/IMG_0001.JPG", "{first}");
    assert!(log.contains(&format!("found ptpip://{CAMERA_ADDR}:15740")), "{log}");

    // A Lytro camera appears beside it, and a shot is taken on the PTP/IP body: the camera already in
    // the catalog is the one watched.
    let lytro_media = tmp.path().join("lytro");
    std::fs::create_dir_all(&lytro_media).unwrap();
    camctl_core::media::write_sample_pictures(&lytro_media, 1).unwrap();
    let (_lytro, _) = net.emulate(&[
        "lytro",
        "--listen",
        &format!("{CAMERA_ADDR}:5678"),
        "--media",
        lytro_media.to_str().unwrap(),
    ]);
    let status = Command::new("kill").arg("-USR1").arg(ptp.0.id().to_string()).status().unwrap();
    assert!(status.success());
    let (second, log) = watch("two");
    assert!(log.contains(&format!("found ptpip://{CAMERA_ADDR}:15740")), "{log}");
    let path = second["camera_path"].as_str().unwrap();
    assert!(path.starts_with("DCIM/") && path != "DCIM/100EMU01/IMG_0001.JPG", "{second}");
}

#[test]
fn emulator_on_loopback_does_not_announce() {
    if !can_create_namespaces() {
        return;
    }
    // An emulator on the namespace's loopback must stay silent: discover on the veth finds nothing.
    let net = TestNetwork::create("l", CAMERA_ADDR, CLIENT_ADDR);
    let media = tempfile::tempdir().unwrap();
    let (_lytro, _) =
        net.emulate(&["lytro", "--listen", "127.0.0.1:0", "--media", media.path().to_str().unwrap()]);
    let out = net
        .camctl_in(&net.client_ns)
        .args(["discover", "--timeout", "2", "--json", "--interface", CLIENT_ADDR])
        .output()
        .unwrap();
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(found, serde_json::json!([]));
}

#[test]
fn tutk_lan_search_finds_the_wyze_emulator_by_broadcast() {
    if !can_create_namespaces() {
        return;
    }
    let net = TestNetwork::create("w", CAMERA_ADDR, CLIENT_ADDR);
    let (uid, enr, mac) = ("CAMCTLNETNS000000001", "netnsEnr/Key+016", "2CAA8E00AA01");
    let listen = format!("{CAMERA_ADDR}:32761");
    let (_wyze, url) = net.emulate(&[
        "wyze",
        "--firmware",
        "old",
        "--listen",
        &listen,
        "--uid",
        uid,
        "--enr",
        enr,
        "--mac",
        mac,
    ]);
    assert!(url.starts_with(&format!("wyze://{CAMERA_ADDR}:32761?")), "{url}");

    let out = net
        .camctl_in(&net.client_ns)
        .args(["discover", "--timeout", "2", "--json", "--interface", CLIENT_ADDR])
        .args(["--wyze-uid", uid, "--wyze-enr", enr, "--wyze-mac", mac])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let wyze = found
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["service"] == "tutk")
        .unwrap_or_else(|| panic!("no TUTK answer in {found}"));
    let url = wyze["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("wyze://{CAMERA_ADDR}:32761?")), "{url}");
    // A different UID finds nothing.
    let out = net
        .camctl_in(&net.client_ns)
        .args(["discover", "--timeout", "1", "--json", "--interface", CLIENT_ADDR])
        .args(["--wyze-uid", "CAMCTLOTHER000000001", "--wyze-enr", enr, "--wyze-mac", mac])
        .output()
        .unwrap();
    let none: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!none.as_array().unwrap().iter().any(|f| f["service"] == "tutk"), "{none}");

    // The found URL works as printed.
    let info = net.camctl_in(&net.client_ns).args(["info", url]).output().unwrap();
    assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
    assert!(String::from_utf8_lossy(&info.stdout).contains("Wyze"));
}
