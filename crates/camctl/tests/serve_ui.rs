//! The web UI of `camctl serve` driven in a real headless Chromium (Debian's `chromium`, see
//! `common::chromium`) the way a user drives it: against `camctl serve` child processes in front of
//! the real emulators, all on 127.0.0.1. What the page shows is checked against the emulators
//! directly (`camctl config URL get`, the imported file on disk).

mod common;

use std::path::Path;
use std::time::Duration;

use common::chromium::{Chromium, Page};
use common::serve::Serve;
use common::{Emulator, run_ok};
use serde_json::{Value, json};

/// Deadline for anything the page waits for (connecting to the cameras, a first video frame).
const WAIT: Duration = Duration::from_secs(60);

const ANY_PORTS: [&str; 4] = ["--listen", "127.0.0.1:0", "--rtsp-listen", "127.0.0.1:0"];

/// `camctl serve NAME=URL... [extra]` on free loopback ports.
fn serve(cameras: &[(&str, &Emulator)], extra: &[&str]) -> Serve {
    let named: Vec<String> = cameras.iter().map(|(name, emu)| format!("{name}={}", emu.url)).collect();
    let mut args: Vec<&str> = named.iter().map(String::as_str).collect();
    args.extend_from_slice(&ANY_PORTS);
    args.extend_from_slice(extra);
    Serve::start(&args)
}

/// A Canon EOS PTP/IP emulator (JPEG live view, remote capture, settings).
fn eos(media: &Path) -> Emulator {
    Emulator::start("ptpip", media, &["--personality", "canon-eos"])
}

/// `document.querySelector` of the element with this id (ids hold camera names: escaped).
fn by_id(id: &str) -> String {
    format!("document.getElementById({})", json!(id))
}

/// The camera list as the page shows it: `name=state,...`.
const LIST_STATES: &str = "[...document.querySelectorAll('#camera-list > li')].map(li => li.dataset.camera + '=' + li.dataset.state).join(',')";

/// Opens the UI and waits until it lists exactly `names`, each connected.
fn open_ui<'b>(browser: &'b Chromium, serve: &Serve, names: &[&str]) -> Page<'b> {
    let page = browser.open(&format!("{}/", serve.base));
    let want: Vec<String> = names.iter().map(|n| format!("{n}=connected")).collect();
    page.wait_for_explained(&format!("{LIST_STATES} === {}", json!(want.join(","))), LIST_STATES, WAIT);
    page
}

/// Opens camera `name` from the list (a tap on its entry) and waits for its view.
fn open_camera(page: &Page, name: &str) {
    page.click(&format!("#camera-list > li[data-camera={}] a", json!(name)));
    page.wait_for(&format!("document.getElementById('view').dataset.cameraView === {}", json!(name)), WAIT);
    page.wait_for(&format!("{}.dataset.state === 'connected'", by_id(&format!("state-{name}"))), WAIT);
}

#[test]
fn driver_clicks_and_evaluates_on_a_data_page() {
    let Some(browser) = Chromium::launch() else { return };
    let page = browser.open(
        "data:text/html,<button id=b onclick=\"this.textContent='pressed'\">press</button>\
         <script>console.log('loaded')</script>",
    );
    page.wait_for("document.readyState === 'complete'", WAIT);
    assert_eq!(page.eval("new Promise(r => setTimeout(() => r(6 * 7), 10))"), json!(42));
    assert!(page.try_eval("null.x").is_err());
    page.click("#b");
    page.wait_for("document.getElementById('b').textContent === 'pressed'", WAIT);
    assert!(page.log_text().contains("console.log: loaded"), "{}", page.log_text());
}

/// The list shows the four families connected; the Wyze camera's H.264 plays in a `<video>` (MSE
/// over live.mp4) and the EOS body's JPEG live view shows in an `<img>`; on a phone-sized screen
/// nothing overflows sideways and the buttons are finger-sized.
#[test]
fn page_lists_the_cameras_and_plays_their_live_views() {
    let Some(browser) = Chromium::launch() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let studio = eos(&tmp.path().join("eos"));
    let action = Emulator::start("yi", &tmp.path().join("yi"), &[]);
    let illum = Emulator::start("lytro", &tmp.path().join("lytro"), &[]);
    let yard = Emulator::start("wyze", &tmp.path().join("wyze"), &[]);
    let serve = serve(&[("studio", &studio), ("action", &action), ("illum", &illum), ("yard", &yard)], &[]);
    let page = open_ui(&browser, &serve, &["action", "illum", "studio", "yard"]);

    open_camera(&page, "yard");
    let video = by_id("live-yard");
    page.wait_for_explained(
        &format!("{video}.tagName === 'VIDEO' && {video}.currentTime > 1"),
        &format!(
            "[{video}.currentTime, {video}.readyState, {video}.dataset.live, {}.textContent]",
            by_id("live-status-yard")
        ),
        WAIT,
    );
    // Decoded pictures of the emulator's 1080p stream, not just a clock running.
    let size = page.eval(&format!(
        "[{video}.videoWidth, {video}.videoHeight, {video}.getVideoPlaybackQuality().totalVideoFrames > 0]"
    ));
    assert_eq!(size, json!([1920, 1080, true]));

    open_camera(&page, "studio");
    let img = by_id("live-studio");
    page.wait_for_explained(
        &format!("{img}.tagName === 'IMG' && {img}.naturalWidth > 0"),
        &format!("[{img}.naturalWidth, {img}.dataset.live, {}.textContent]", by_id("live-status-studio")),
        WAIT,
    );
    // Leaving a camera ends its live stream (its element is gone with its view).
    assert_eq!(page.eval(&format!("{video} === null")), json!(true));

    // A phone: the list first, the camera after a tap, and nothing wider than the screen.
    let phone = browser.open("about:blank");
    phone.emulate_phone(390, 844);
    phone.navigate(&format!("{}/", serve.base));
    phone.wait_for(&format!("{LIST_STATES}.includes('studio=connected')"), WAIT);
    assert_eq!(phone.eval("getComputedStyle(document.getElementById('view')).display"), json!("none"));
    open_camera(&phone, "studio");
    phone.wait_for(&format!("{}.naturalWidth > 0", by_id("live-studio")), WAIT);
    let layout = phone.eval(&format!(
        "[document.documentElement.scrollWidth <= innerWidth, {}.getBoundingClientRect().height >= 44,
          getComputedStyle(document.querySelector('nav')).display]",
        by_id("shutter-studio")
    ));
    assert_eq!(layout, json!([true, true, "none"]));
    page.assert_no_script_errors();
}

/// The shutter button of a camera with auto-import: the new file is listed under the button, and
/// arrives in the imports with a thumbnail the browser decoded, of the size of the file on disk.
#[test]
fn shutter_button_adds_the_picture_to_the_imports() {
    let Some(browser) = Chromium::launch() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let studio = eos(&tmp.path().join("eos"));
    let imports = tmp.path().join("imports");
    let import_arg = format!("studio={}", imports.display());
    let serve = serve(&[("studio", &studio)], &["--import", &import_arg]);
    let page = open_ui(&browser, &serve, &["studio"]);
    open_camera(&page, "studio");

    page.click("#shutter-studio");
    let result = by_id("capture-result-studio");
    page.wait_for_explained(
        &format!("{result}.dataset.status === 'done' && {result}.querySelector('li[data-path]')"),
        &format!("{result}.textContent"),
        WAIT,
    );
    let shot = page.eval(&format!("{result}.querySelector('li[data-path]').dataset.path"));
    let shot = shot.as_str().unwrap().to_string();
    // The camera has it: its listing through the emulator itself.
    let listing = run_ok(&["ls", &studio.url, "--json"]);
    assert!(listing.contains(&format!("\"{shot}\"")), "{shot} not on the camera: {listing}");

    let entry = format!(
        "[...{}.querySelectorAll('li')].find(li => li.dataset.cameraPath === {})",
        by_id("imports-studio"),
        json!(shot)
    );
    page.wait_for_explained(&entry, &format!("{}.innerText", by_id("imports-studio")), WAIT);
    // Looked at: thumbnails load lazily, as the user scrolls to them.
    page.eval(&format!("{entry}.scrollIntoView()"));
    page.wait_for_explained(
        &format!("{entry} && {entry}.querySelector('img.thumb').complete && {entry}.querySelector('img.thumb').naturalWidth > 0"),
        &format!("{}.innerText", by_id("imports-studio")),
        WAIT,
    );
    let shown = page.eval(&format!(
        "(() => {{ const e = {entry}; const img = e.querySelector('img.thumb');
            return [e.querySelector('.file-name').textContent, img.naturalWidth, img.naturalHeight]; }})()"
    ));
    // Newest first: the shot heads the list, above the backlog imported on connecting.
    let first = page.eval(&format!("{}.querySelector('li').dataset.cameraPath", by_id("imports-studio")));
    assert_eq!(first, json!(shot));
    let name = shown[0].as_str().unwrap();
    let on_disk = common::files_under(&imports)
        .into_iter()
        .find(|p| p.file_name().is_some_and(|f| f == name))
        .unwrap_or_else(|| panic!("{name} not in {}", imports.display()));
    let jpeg = std::fs::read(imports.join(on_disk)).unwrap();
    let (w, h) = camctl_core::media::jpeg_dimensions(&jpeg).expect("the import is a JPEG");
    assert_eq!((shown[1].as_u64(), shown[2].as_u64()), (Some(u64::from(w)), Some(u64::from(h))));
}

/// Choosing a value in a setting's list reaches the camera (read back with `camctl config get`
/// straight from the emulator); a value outside a range is refused with the allowed values shown;
/// camera text with markup stays text.
#[test]
fn settings_round_trip_to_the_emulator() {
    let Some(browser) = Chromium::launch() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let studio = eos(&tmp.path().join("eos"));
    let yard = Emulator::start("wyze", &tmp.path().join("wyze"), &[]);
    let serve = serve(&[("studio", &studio), ("yard", &yard)], &[]);
    let page = open_ui(&browser, &serve, &["studio", "yard"]);
    open_camera(&page, "studio");

    let aperture = by_id("setting-studio-aperture");
    page.wait_for(&format!("{aperture} && !{aperture}.disabled"), WAIT);
    let before = page.eval(&format!("{aperture}.value"));
    let wanted = if before == json!("5.6") { "8" } else { "5.6" };
    page.select("#setting-studio-aperture", wanted);
    let status = "document.querySelector('.setting[data-setting=\"aperture\"] .setting-status')";
    page.wait_for_explained(
        &format!("{status}.dataset.status === 'saved'"),
        &format!("{status}.textContent"),
        WAIT,
    );
    assert_eq!(page.eval(&format!("{aperture}.value")), json!(wanted));
    let direct = run_ok(&["config", &studio.url, "get", "aperture"]);
    assert!(direct.split_whitespace().any(|w| w == wanted), "the camera says {direct}");

    // Changed on the body (here: by another client of the camera): the page follows its event.
    let iso = by_id("setting-studio-iso");
    let other = if page.eval(&format!("{iso}.value")) == json!("400") { "800" } else { "400" };
    run_ok(&["config", &studio.url, "set", "iso", other]);
    page.wait_for_explained(&format!("{iso}.value === {}", json!(other)), &format!("{iso}.value"), WAIT);

    // Markup in a free-text setting: the camera's answer shown as the same characters, nothing run.
    let markup = "<img src=x onerror=\"window.pwned=1\"><b>Ansel</b>";
    page.type_text("#setting-studio-artist", markup);
    let artist_status = "document.querySelector('.setting[data-setting=\"artist\"] .setting-status')";
    page.wait_for_explained(
        &format!("{artist_status}.dataset.status === 'saved'"),
        &format!("{artist_status}.textContent"),
        WAIT,
    );
    // The camera's own report of the change, in the event log, is the same characters too.
    let changed = json!(format!("artist = {markup}"));
    page.wait_for(
        &format!(
            "[...{}.querySelectorAll('.detail')].some(d => d.textContent.includes({changed}))",
            by_id("events-studio")
        ),
        WAIT,
    );
    page.click("#settings-reload-studio");
    page.wait_for(
        &format!(
            "{} && {}.value === {}",
            by_id("setting-studio-artist"),
            by_id("setting-studio-artist"),
            json!(markup)
        ),
        WAIT,
    );
    assert!(run_ok(&["config", &studio.url, "get", "artist"]).contains(markup));
    let injected =
        page.eval("[window.pwned === undefined, document.querySelectorAll('img[src=\"x\"], b').length]");
    assert_eq!(injected, json!([true, 0]));

    // A range: typed out of bounds, refused with what is allowed; the control shows the camera's value.
    open_camera(&page, "yard");
    let bitrate = by_id("setting-yard-bitrate");
    page.wait_for(&format!("{bitrate} && {bitrate}.type === 'number' && !{bitrate}.disabled"), WAIT);
    let (min, max) = (page.eval(&format!("{bitrate}.min")), page.eval(&format!("{bitrate}.max")));
    let too_high = (max.as_str().unwrap().parse::<i64>().unwrap() + 100).to_string();
    let current = run_ok(&["config", &yard.url, "get", "bitrate"]);
    page.type_text("#setting-yard-bitrate", &too_high);
    let bitrate_status = "document.querySelector('.setting[data-setting=\"bitrate\"] .setting-status')";
    page.wait_for_explained(
        &format!("{bitrate_status}.dataset.status === 'refused'"),
        &format!("{bitrate_status}.textContent"),
        WAIT,
    );
    let refusal = page.eval(&format!("{bitrate_status}.textContent"));
    let allowed = format!("{} to {}", min.as_str().unwrap(), max.as_str().unwrap());
    assert!(refusal.as_str().unwrap().contains(&allowed), "{refusal}");
    assert_eq!(
        run_ok(&["config", &yard.url, "get", "bitrate"]),
        current,
        "a refused value changed the camera"
    );
    assert_ne!(page.eval(&format!("{bitrate}.value")), Value::String(too_high));
}

/// A camera that goes away: the list and the open view say so at once (the event stream), the live
/// view stops; when the camera is back, both say connected and its live view shows pictures again.
/// The Yi's H.264 (RTSP from the camera, fMP4 to the page) plays too.
#[test]
fn camera_state_follows_the_camera_and_live_view_resumes() {
    let Some(browser) = Chromium::launch() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("eos");
    let studio = eos(&media);
    let action = Emulator::start("yi", &tmp.path().join("yi"), &[]);
    let port = studio.port();
    let serve = serve(&[("studio", &studio), ("action", &action)], &[]);
    let page = open_ui(&browser, &serve, &["action", "studio"]);

    open_camera(&page, "action");
    let video = by_id("live-action");
    page.wait_for_explained(
        &format!("{video} && {video}.currentTime > 1 && {video}.videoWidth > 0"),
        &format!("[{video}.currentTime, {video}.readyState, {}.textContent]", by_id("live-status-action")),
        WAIT,
    );

    open_camera(&page, "studio");
    let img = by_id("live-studio");
    page.wait_for(&format!("{img}.naturalWidth > 0 && {img}.dataset.live === 'playing'"), WAIT);
    drop(studio);
    let badge = by_id("state-studio");
    page.wait_for_explained(
        &format!("{badge}.dataset.state !== 'connected' && {img}.dataset.live === 'stopped'"),
        &format!("[{badge}.dataset.state, {img}.dataset.live]"),
        WAIT,
    );
    page.wait_for(&format!("!{LIST_STATES}.includes('studio=connected')"), WAIT);
    let logged =
        page.eval(&format!("{}.querySelector('li[data-kind=state]') !== null", by_id("events-studio")));
    assert_eq!(logged, json!(true));

    let _back =
        Emulator::start_at("ptpip", &format!("127.0.0.1:{port}"), &media, &["--personality", "canon-eos"]);
    page.wait_for_explained(
        &format!("{badge}.dataset.state === 'connected' && {img}.naturalWidth > 0 && {img}.dataset.live === 'playing'"),
        &format!("[{badge}.dataset.state, {img}.dataset.live, {img}.naturalWidth]"),
        WAIT,
    );
    page.wait_for(&format!("{LIST_STATES}.includes('studio=connected')"), WAIT);
    page.assert_no_script_errors();
}
