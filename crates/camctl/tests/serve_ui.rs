//! The web UI of `camctl serve` in a real headless Chromium (see `common::chromium`).

mod common;

use std::time::Duration;

use common::chromium::Chromium;

/// Deadline for anything the page waits for (loads, SSE, a first video frame).
const WAIT: Duration = Duration::from_secs(60);

/// The driver itself: a data: page's script runs, a promise is awaited, a real click lands on the
/// button, and the condition poll sees what the click changed.
#[test]
fn driver_clicks_and_evaluates_on_a_data_page() {
    let Some(browser) = Chromium::launch() else { return };
    let page = browser.open(
        "data:text/html,<button id=b onclick=\"this.textContent='pressed'\">press</button>\
         <script>console.log('loaded')</script>",
    );
    page.wait_for("document.readyState === 'complete'", WAIT);
    assert_eq!(page.eval("new Promise(r => setTimeout(() => r(6 * 7), 10))"), serde_json::json!(42));
    assert!(page.try_eval("null.x").is_err());
    page.click("#b");
    page.wait_for("document.getElementById('b').textContent === 'pressed'", WAIT);
    assert!(page.log_text().contains("console.log: loaded"), "{}", page.log_text());
    let mse = page.eval("MediaSource.isTypeSupported('video/mp4; codecs=\"avc1.42E01E\"')");
    eprintln!("MSE H.264: {mse}");
}
