//! `camctl serve` driven as its users drive it: the JSON API against the four emulators, the RTSP
//! streams read by ffprobe/ffmpeg, the browser streams, events, auto-import, reconnection and the
//! request checks. Every server listens on 127.0.0.1 (or inside a namespace the test creates).

mod common;

use std::io::Read;
use std::path::Path;
use std::process::Command;

use common::netns::{TestNetwork, can_create_namespaces, in_namespace};
use common::serve::{DEADLINE, Serve, StreamReader, http, open};
use common::{Emulator, require_program, run_ok, write_random_file};

const ANY: &[&str] = &["--listen", "127.0.0.1:0", "--rtsp-listen", "127.0.0.1:0"];

fn args<'a>(cameras: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    let mut all: Vec<&str> = cameras.iter().map(String::as_str).collect();
    all.extend_from_slice(ANY);
    all.extend_from_slice(extra);
    all
}

fn media_with(dir: &Path, files: &[(&str, usize)]) {
    for (i, (name, len)) in files.iter().enumerate() {
        write_random_file(&dir.join(name), *len, i as u64 + 1);
    }
}

#[test]
fn api_lists_reads_and_changes_every_family() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("ptp-media");
    std::fs::create_dir_all(&media).unwrap();
    media_with(&media, &[("DSC_0001.JPG", 300_000), ("DSC_0002.JPG", 70_000)]);
    let ptp = Emulator::start("ptpip", &media, &[]);
    let yi = Emulator::start("yi", &tmp.path().join("yi-media"), &[]);
    let lytro = Emulator::start("lytro", &tmp.path().join("lytro-media"), &[]);
    let wyze = Emulator::start("wyze", &tmp.path().join("wyze-media"), &[]);
    let imports = tmp.path().join("imports");
    let import_arg = format!("studio={}", imports.display());
    let cameras = [
        format!("studio={}", ptp.url),
        format!("action={}", yi.url),
        format!("illum={}", lytro.url),
        format!("yard={}", wyze.url),
    ];
    let serve = Serve::start(&args(&cameras, &["--import", &import_arg]));
    for name in ["studio", "action", "illum", "yard"] {
        serve.wait_for_state(name, "connected");
    }
    let list = serve.get_json("/api/cameras");
    let protocols: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["protocol"].as_str().unwrap()))
        .collect();
    assert_eq!(protocols, [("action", "yi"), ("illum", "lytro"), ("studio", "ptpip"), ("yard", "wyze")]);
    let yard = serve.get_json("/api/cameras/yard");
    assert_eq!(yard["info"]["manufacturer"], "Wyze");
    assert_eq!(yard["live"], "h264");
    assert!(yard["rtsp"].as_str().unwrap().ends_with("/yard"));
    // The Wyze secrets are in the URL serve was given; nothing the API shows carries them.
    let enr = wyze.url.split("enr=").nth(1).unwrap().split('&').next().unwrap().to_string();
    for path in ["/api/cameras", "/api/cameras/yard", "/api/cameras/yard/settings", "/api/streams", "/"] {
        let body = serve.request("GET", path, &[], b"").text();
        assert!(!body.contains(&enr) && !body.contains("enr="), "{path} leaks the ENR: {body}");
    }

    // Media: the listing, whole files and byte ranges, as on the camera.
    let items = serve.get_json("/api/cameras/studio/media");
    let paths: Vec<&str> = items.as_array().unwrap().iter().map(|i| i["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"DSC_0001.JPG"), "{items}");
    let original = std::fs::read(media.join("DSC_0001.JPG")).unwrap();
    let whole = serve.request("GET", "/api/cameras/studio/media/DSC_0001.JPG", &[], b"");
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-type"), Some("image/jpeg"));
    assert!(whole.body == original, "the download differs from the camera's file");
    let part =
        serve.request("GET", "/api/cameras/studio/media/DSC_0001.JPG", &[("Range", "bytes=1000-1999")], b"");
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some("bytes 1000-1999/300000"));
    assert!(part.body == original[1000..2000]);
    let tail = serve.request("GET", "/api/cameras/studio/media/DSC_0001.JPG", &[("Range", "bytes=-10")], b"");
    assert!(tail.status == 206 && tail.body == original[original.len() - 10..]);
    let beyond =
        serve.request("GET", "/api/cameras/studio/media/DSC_0001.JPG", &[("Range", "bytes=300000-")], b"");
    assert_eq!(beyond.status, 416);
    // The session is still in step after a range that cut the transfer short.
    let again = serve.request("GET", "/api/cameras/studio/media/DSC_0002.JPG", &[], b"");
    assert!(again.status == 200 && again.body == std::fs::read(media.join("DSC_0002.JPG")).unwrap());
    assert_eq!(serve.request("GET", "/api/cameras/studio/media/NOPE.JPG", &[], b"").status, 404);
    assert_eq!(serve.request("GET", "/api/cameras/nobody/media", &[], b"").status, 404);
    let lytro_items = serve.get_json("/api/cameras/illum/media");
    let first = lytro_items[0]["path"].as_str().expect("the Lytro emulator has pictures").to_string();
    let lytro_file = serve.request("GET", &format!("/api/cameras/illum/media/{first}"), &[], b"");
    assert_eq!(lytro_file.status, 200);
    assert_eq!(lytro_file.body.len() as u64, lytro_items[0]["size"].as_u64().unwrap());
    assert_eq!(serve.request("GET", "/api/cameras/yard/media", &[], b"").status, 501);

    // Settings: read, change (read back by another client of the camera), refuse with the choices.
    let settings = serve.get_json("/api/cameras/studio/settings");
    assert!(settings.as_array().unwrap().iter().any(|s| s["key"] == "f-number"), "{settings}");
    let json = [("Content-Type", "application/json")];
    let set = serve.request("PUT", "/api/cameras/studio/settings/f-number", &json, br#"{"value":"f/8"}"#);
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(set.json()["value"], "f/8");
    let direct = run_ok(&["config", &ptp.url, "get", "f-number"]);
    assert!(direct.contains("f/8"), "the emulator says {direct}");
    let refused =
        serve.request("PUT", "/api/cameras/studio/settings/f-number", &json, br#"{"value":"f/1.0"}"#);
    assert_eq!(refused.status, 422, "{}", refused.text());
    let choices = refused.json()["setting"]["choices"].clone();
    assert!(choices.as_array().unwrap().iter().any(|c| c == "f/5.6"), "{choices}");
    let yi_set =
        serve.request("PUT", "/api/cameras/action/settings/video_standard", &json, br#"{"value":"PAL"}"#);
    assert_eq!(yi_set.json()["value"], "PAL", "{}", yi_set.text());
    assert_eq!(serve.get_json("/api/cameras/action/settings/video_standard")["value"], "PAL");
    let wyze_settings = serve.get_json("/api/cameras/yard/settings");
    assert!(!wyze_settings.as_array().unwrap().is_empty());
    // A form post (no JSON type) cannot change anything.
    let form = serve.request("PUT", "/api/cameras/studio/settings/f-number", &[], b"value=f/4");
    assert!(form.status >= 400, "{}", form.status);

    // Capture: the new file is answered and imported; the import is served.
    let captured = serve.request("POST", "/api/cameras/studio/capture", &[], b"");
    assert_eq!(captured.status, 200, "{}", captured.text());
    let new_path = captured.json()["files"][0]["path"].as_str().expect("a new file").to_string();
    // The import follows the answer: wait for it.
    let start = std::time::Instant::now();
    let entry = loop {
        let imports_list = serve.get_json("/api/cameras/studio/imports");
        if let Some(entry) =
            imports_list.as_array().unwrap().iter().find(|i| i["camera_path"] == new_path.as_str())
        {
            break entry.clone();
        }
        assert!(start.elapsed() < DEADLINE, "{new_path} never among the imports: {imports_list}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let imported = serve.request("GET", entry["url"].as_str().unwrap(), &[], b"");
    let on_camera = serve.request("GET", &format!("/api/cameras/studio/media/{new_path}"), &[], b"");
    assert!(imported.status == 200 && imported.body == on_camera.body && !imported.body.is_empty());
    // The backlog was imported on connecting.
    assert!(imports.join("DSC_0002.JPG").exists());
    assert_eq!(serve.request("POST", "/api/cameras/yard/capture", &[], b"").status, 501);
    // No state changes on GET.
    assert_eq!(serve.request("GET", "/api/cameras/studio/capture", &[], b"").status, 405);

    // The OpenAPI document describes the routes.
    let spec = serve.get_json("/api/openapi.json");
    for route in ["/api/cameras", "/api/cameras/{name}/media/{path}", "/api/cameras/{name}/settings/{key}"] {
        assert!(spec["paths"][route].is_object(), "{route} missing from the OpenAPI document");
    }
    assert!(serve.stop().success());
}

/// Reads `count` JPEG parts of a multipart MJPEG stream.
fn mjpeg_parts(stream: &mut impl Read, count: usize) -> Vec<Vec<u8>> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 16384];
    let mut parts = Vec::new();
    while parts.len() < count {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the MJPEG stream ended");
        data.extend_from_slice(&chunk[..n]);
        while let Some(start) = data.windows(2).position(|w| w == [0xff, 0xd8]) {
            let Some(end) = data[start..].windows(2).position(|w| w == [0xff, 0xd9]) else { break };
            parts.push(data[start..start + end + 2].to_vec());
            data.drain(..start + end + 2);
        }
    }
    parts
}

/// Reads a streamed MP4 until `fragments` movie fragments arrived; the bytes so far.
fn mp4_fragments(stream: &mut impl Read, fragments: usize) -> Vec<u8> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the MP4 stream ended");
        data.extend_from_slice(&chunk[..n]);
        let body = data.windows(4).position(|w| w == b"\r\n\r\n").map_or(&data[..0], |p| &data[p + 4..]);
        if body.windows(4).filter(|w| w == b"moof").count() > fragments {
            return data;
        }
    }
}

fn ffprobe_stream(url: &str, transport: &str) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-rtsp_transport", transport, "-select_streams", "v:0"])
        .args(["-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", url])
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe {url}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn live_out_over_rtsp_mp4_mjpeg_and_snapshots() {
    if !require_program("ffprobe") || !require_program("ffmpeg") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let wyze = Emulator::start("wyze", &tmp.path().join("w"), &[]);
    let yi = Emulator::start("yi", &tmp.path().join("y"), &[]);
    let canon = Emulator::start("ptpip", &tmp.path().join("c"), &["--personality", "canon-eos"]);
    let generic = Emulator::start("ptpip", &tmp.path().join("g"), &[]);
    let cameras = [
        format!("yard={}", wyze.url),
        format!("action={}", yi.url),
        format!("eos={}", canon.url),
        format!("plain={}", generic.url),
    ];
    let serve = Serve::start(&args(&cameras, &[]));
    for name in ["yard", "action", "eos", "plain"] {
        serve.wait_for_state(name, "connected");
    }
    // RTSP: one camera session, read by several viewers over TCP and UDP.
    let yard = serve.rtsp_url("yard");
    let action = serve.rtsp_url("action");
    assert_eq!(ffprobe_stream(&yard, "tcp"), "h264,1920,1080");
    assert_eq!(ffprobe_stream(&yard, "udp"), "h264,1920,1080");
    assert_eq!(ffprobe_stream(&action, "tcp"), "h264,640,480");
    assert_eq!(ffprobe_stream(&action, "udp"), "h264,640,480");
    let viewers: Vec<_> = [(&yard, "tcp"), (&yard, "udp"), (&action, "tcp")]
        .into_iter()
        .map(|(url, transport)| {
            Command::new("ffmpeg")
                .args([
                    "-v",
                    "error",
                    "-rtsp_transport",
                    transport,
                    "-i",
                    url,
                    "-frames:v",
                    "30",
                    "-f",
                    "null",
                    "-",
                ])
                .output()
                .unwrap()
        })
        .collect();
    for out in viewers {
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "ffmpeg: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(serve.get_json("/api/cameras/plain")["rtsp"].is_null());
    assert!(serve.get_json("/api/cameras/eos")["rtsp"].is_null());
    assert!(serve.get_json("/api/cameras/plain")["live"].is_null(), "the generic dialect has no live view");

    // Browser video: fragmented MP4, with the codecs string MSE needs.
    let mut stream = open(serve.addr, "GET", "/api/cameras/yard/live.mp4", &[], b"");
    let raw = mp4_fragments(&mut stream, 30);
    drop(stream);
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    assert!(head.contains("content-type: video/mp4") && head.contains("x-codecs: avc1."), "{head}");
    let mp4 = tmp.path().join("live.mp4");
    std::fs::write(&mp4, common::serve::dechunk(&raw[head_end + 4..])).unwrap();
    let (codec, w, h, frames) = common::probe(&mp4).unwrap();
    assert_eq!((codec.as_str(), w, h), ("h264", 1920, 1080));
    assert!(frames >= 30, "{frames} frames");
    let decoded = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&mp4)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        decoded.status.success() && decoded.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&decoded.stderr)
    );
    // go2rtc's name for it.
    let mut alias = open(serve.addr, "GET", "/api/stream.mp4?src=action", &[], b"");
    assert!(mp4_fragments(&mut alias, 3).windows(4).any(|w| w == b"ftyp"));

    // JPEG live view as MJPEG.
    let mut mjpeg = open(serve.addr, "GET", "/api/cameras/eos/live.mjpeg", &[], b"");
    let parts = mjpeg_parts(&mut mjpeg, 3);
    for part in &parts {
        assert!(camctl_core::media::jpeg_dimensions(part).is_some());
    }
    drop(mjpeg);
    assert_eq!(serve.request("GET", "/api/cameras/plain/live.mjpeg", &[], b"").status, 404);

    // Snapshots: the live-view JPEG, and decoded H.264 keyframes.
    for (path, size) in [
        ("/api/cameras/eos/snapshot.jpg", None),
        ("/api/cameras/yard/snapshot.jpg", Some((1920, 1080))),
        ("/api/cameras/action/snapshot.jpg", Some((640, 480))),
        ("/api/frame.jpeg?src=yard", Some((1920, 1080))),
    ] {
        let r = serve.request("GET", path, &[], b"");
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("image/jpeg"));
        let dims =
            camctl_core::media::jpeg_dimensions(&r.body).unwrap_or_else(|| panic!("{path}: not a JPEG"));
        if let Some(size) = size {
            assert_eq!(dims, size, "{path}");
        }
        let file = tmp.path().join("snapshot.jpg");
        std::fs::write(&file, &r.body).unwrap();
        let (codec, _, _, frames) = common::probe(&file).unwrap();
        assert_eq!((codec.as_str(), frames), ("mjpeg", 1), "{path}");
    }
    assert_eq!(serve.request("GET", "/api/cameras/plain/snapshot.jpg", &[], b"").status, 501);
    assert!(serve.stop().success());
}

#[test]
fn events_stream_reports_shots_on_the_body_and_their_import() {
    let tmp = tempfile::tempdir().unwrap();
    let ptp = Emulator::start("ptpip", &tmp.path().join("media"), &[]);
    let imports = tmp.path().join("in");
    let cameras = [format!("body={}", ptp.url)];
    let import_arg = format!("body={}", imports.display());
    let serve = Serve::start(&args(&cameras, &["--import", &import_arg]));
    let mut events = StreamReader::new(open(serve.addr, "GET", "/api/cameras/body/events", &[], b""));
    let connected = events.until("\"state\":\"connected\"", 0);
    ptp.press_shutter();
    let shot = events.until("ObjectAdded", connected);
    let import_at = events.until("event: import", shot);
    events.until("\n\n", import_at);
    let after_shot = &events.seen[import_at..];
    let import_line =
        after_shot.lines().find(|l| l.starts_with("data:") && l.contains("camera_path")).unwrap();
    let import: serde_json::Value =
        serde_json::from_str(import_line.trim_start_matches("data:").trim()).unwrap();
    let name = import["name"].as_str().unwrap();
    assert!(imports.join(name).exists() || common::files_under(&imports).iter().any(|p| p.ends_with(name)));
    assert!(serve.stop().success());
}

#[test]
fn a_camera_that_goes_away_is_reconnected_and_its_state_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    let ptp = Emulator::start("ptpip", &media, &[]);
    let port = ptp.port();
    let cameras = [format!("body={}", ptp.url)];
    let serve = Serve::start(&args(&cameras, &[]));
    serve.wait_for_state("body", "connected");
    assert!(ptp.stop().success());
    let lost = serve.wait_for_state("body", "reconnecting");
    assert!(lost["error"].is_string(), "{lost}");
    assert_eq!(serve.request("GET", "/api/cameras/body/media", &[], b"").status, 409);
    let _back = Emulator::start_at("ptpip", &format!("127.0.0.1:{port}"), &media, &[]);
    serve.wait_for_state("body", "connected");
    assert_eq!(serve.request("GET", "/api/cameras/body/media", &[], b"").status, 200);
    assert!(serve.stop().success());
}

#[test]
fn cross_site_requests_and_foreign_hosts_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let ptp = Emulator::start("ptpip", &tmp.path().join("media"), &[]);
    let cameras = [format!("body={}", ptp.url)];
    let serve = Serve::start(&args(&cameras, &[]));
    serve.wait_for_state("body", "connected");
    let json = ("Content-Type", "application/json");
    let evil = serve.request(
        "PUT",
        "/api/cameras/body/settings/f-number",
        &[json, ("Origin", "http://evil.example")],
        br#"{"value":"f/8"}"#,
    );
    assert_eq!(evil.status, 403, "{}", evil.text());
    let fetch_site =
        serve.request("POST", "/api/cameras/body/capture", &[("Sec-Fetch-Site", "cross-site")], b"");
    assert_eq!(fetch_site.status, 403);
    let origin = format!("http://{}", serve.addr);
    let same = serve.request(
        "PUT",
        "/api/cameras/body/settings/f-number",
        &[json, ("Origin", &origin)],
        br#"{"value":"f/8"}"#,
    );
    assert_eq!(same.status, 200, "{}", same.text());
    // DNS rebinding: a name that is not loopback pointing at the loopback server.
    let mut stream = std::net::TcpStream::connect(serve.addr).unwrap();
    std::io::Write::write_all(
        &mut stream,
        b"GET /api/cameras HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 421"), "{answer}");
    assert!(serve.stop().success());
}

// ---------------------------------------------------------------------------------------------
// Off loopback: inside network namespaces the test creates.

const SERVER_ADDR: &str = "169.254.78.1";
const CLIENT_ADDR: &str = "169.254.78.2";

#[test]
fn off_loopback_serve_needs_credentials_and_asks_for_them() {
    if !can_create_namespaces() || !require_program("ffprobe") {
        return;
    }
    let net = TestNetwork::create("s", SERVER_ADDR, CLIENT_ADDR);
    let tmp = tempfile::tempdir().unwrap();
    // The camera lives in the server's namespace too (on its loopback).
    let media = tmp.path().join("w");
    let (_emulator, wyze_url) =
        net.emulate(&["wyze", "--listen", "127.0.0.1:0", "--media", media.to_str().unwrap()]);
    let camera = format!("yard={wyze_url}");
    let listen = format!("{SERVER_ADDR}:8380");
    let rtsp_listen = format!("{SERVER_ADDR}:8554");

    // Without credentials it refuses to start, saying why.
    let refused = net
        .camctl_in(&net.camera_ns)
        .args(["serve", &camera, "--listen", &listen, "--rtsp-listen", &rtsp_listen])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("without authentication"), "{why}");

    let config = tmp.path().join("serve.toml");
    std::fs::write(
        &config,
        "[auth]\ntoken = \"test-token-0123456789\"\nuser = \"viewer\"\npassword = \"pass-word-42\"\n",
    )
    .unwrap();
    let serve = Serve::start_command(
        net.camctl_in(&net.camera_ns),
        &["--config", config.to_str().unwrap(), &camera, "--listen", &listen, "--rtsp-listen", &rtsp_listen],
    );
    let addr = serve.addr;
    let (anonymous, wrong, bearer, basic, state) = in_namespace(&net.client_ns, move || {
        let anonymous = http(addr, "GET", "/api/cameras", &[], b"");
        let wrong =
            http(addr, "GET", "/api/cameras", &[("Authorization", "Bearer not-the-token-at-all")], b"");
        let bearer =
            http(addr, "GET", "/api/cameras", &[("Authorization", "Bearer test-token-0123456789")], b"");
        // viewer:pass-word-42
        let basic = http(
            addr,
            "GET",
            "/api/cameras",
            &[("Authorization", "Basic dmlld2VyOnBhc3Mtd29yZC00Mg==")],
            b"",
        );
        let start = std::time::Instant::now();
        let state = loop {
            let r = http(
                addr,
                "GET",
                "/api/cameras/yard",
                &[("Authorization", "Bearer test-token-0123456789")],
                b"",
            );
            let v = r.json();
            if v["state"] == "connected" || start.elapsed() > DEADLINE {
                break v;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        (anonymous, wrong, bearer, basic, state)
    });
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.header("www-authenticate").is_some_and(|v| v.starts_with("Basic")));
    assert_eq!(wrong.status, 401);
    assert_eq!(bearer.status, 200, "{}", bearer.text());
    assert_eq!(basic.status, 200);
    assert_eq!(state["state"], "connected", "{state}");

    // RTSP asks for the same credentials.
    let rtsp = format!("rtsp://{SERVER_ADDR}:8554/yard");
    let with = format!("rtsp://viewer:pass-word-42@{SERVER_ADDR}:8554/yard");
    let probe = |url: &str| {
        let mut ffprobe = Command::new("ip");
        ffprobe.args(["netns", "exec", &net.client_ns, "ffprobe"]);
        ffprobe
            .args([
                "-v",
                "error",
                "-rtsp_transport",
                "tcp",
                "-show_entries",
                "stream=codec_name",
                "-of",
                "csv=p=0",
                url,
            ])
            .output()
            .unwrap()
    };
    let denied = probe(&rtsp);
    assert!(!denied.status.success(), "RTSP without credentials was served");
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );
    let allowed = probe(&with);
    assert!(allowed.status.success(), "{}", String::from_utf8_lossy(&allowed.stderr));
    assert_eq!(String::from_utf8_lossy(&allowed.stdout).trim(), "h264");
    assert!(serve.stop().success());
}

#[test]
fn a_client_that_stops_reading_a_download_does_not_hold_up_the_camera() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    // Far more than the pipe and socket buffers between the camera and a client that reads nothing.
    media_with(&media, &[("BIG.MOV", 64 << 20)]);
    let ptp = Emulator::start("ptpip", &media, &[]);
    let cameras = [format!("body={}", ptp.url)];
    let serve = Serve::start(&args(&cameras, &[]));
    serve.wait_for_state("body", "connected");
    let stuck = open(serve.addr, "GET", "/api/cameras/body/media/BIG.MOV", &[], b"");
    // The camera answers others meanwhile (within the deadline, whatever the stuck client does).
    let settings = serve.request("GET", "/api/cameras/body/settings", &[], b"");
    assert_eq!(settings.status, 200, "{}", settings.text());
    let head = serve.request("HEAD", "/api/cameras/body/media/BIG.MOV", &[], b"");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some((64u64 << 20).to_string().as_str()));
    assert!(head.body.is_empty());
    drop(stuck);
    assert!(serve.stop().success());
}

#[test]
fn a_camera_url_that_cannot_work_is_refused_at_start_without_its_secrets() {
    let out =
        common::run(&["serve", "yard=wyze://127.0.0.1?uid=X&enr=S3cr%zzET&mac=1", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    let err = common::lossy(&out.stderr);
    assert!(err.contains("camera yard") && err.contains("\"enr\""), "{err}");
    assert!(!err.contains("S3cr"), "the ENR is shown: {err}");
}

#[test]
fn a_client_that_connects_and_says_nothing_is_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let ptp = Emulator::start("ptpip", &tmp.path().join("media"), &[]);
    let cameras = [format!("body={}", ptp.url)];
    let serve = Serve::start(&args(&cameras, &[]));
    let mut silent = std::net::TcpStream::connect(serve.addr).unwrap();
    silent.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut byte = [0u8; 1];
    // The server gives up on the headers that never come (30 s) and closes: end of stream.
    let n = silent.read(&mut byte).expect("closed by the server, not left open until the deadline");
    assert_eq!(n, 0);
    // Others are still served.
    assert_eq!(serve.request("GET", "/api/cameras", &[], b"").status, 200);
    assert!(serve.stop().success());
}
