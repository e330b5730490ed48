//! A headless Chromium (Debian's package `chromium`, `/usr/bin/chromium`) driven over the Chrome
//! DevTools Protocol through `--remote-debugging-pipe`: fd 3 carries commands to the browser, fd 4 its
//! replies and events, each message one NUL-terminated JSON object. No WebSocket, no extra crate.
//!
//! ```ignore
//! let Some(browser) = Chromium::launch() else { return }; // skipped (a note) unless CI=true
//! let page = browser.open("http://127.0.0.1:8380/");
//! page.wait_for("document.querySelectorAll('[data-camera]').length == 2", WAIT);
//! page.click("#shutter-eos");
//! ```
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Where Debian installs the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How long one protocol command may take before the test fails (a page load, a script).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Interval between two checks of a [`Page::wait_for`] condition.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Console and exception lines kept for failure messages.
const LOG_LINES: usize = 200;

/// Replies by command id, and what the pages logged; filled by the reader thread.
#[derive(Default)]
struct Inbox {
    replies: HashMap<u64, Value>,
    log: Vec<String>,
    /// The browser closed its end of the pipe (it exited or crashed).
    closed: bool,
}

struct Shared {
    inbox: Mutex<Inbox>,
    arrived: Condvar,
}

/// A running headless Chromium with a fresh profile; killed (its whole process group) on drop.
pub struct Chromium {
    child: Child,
    commands: Mutex<(File, u64)>,
    shared: Arc<Shared>,
    profile: tempfile::TempDir,
}

/// One tab, attached through a flattened session.
pub struct Page<'a> {
    browser: &'a Chromium,
    session: String,
    target: String,
}

impl Chromium {
    /// Starts the browser, or returns None (after a note on stderr) when it is not installed; under
    /// CI=true a missing browser fails the test instead.
    pub fn launch() -> Option<Chromium> {
        if !Path::new(CHROMIUM).exists() {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "{CHROMIUM} is required under CI=true but is not installed (Debian package `chromium`)"
                );
            }
            eprintln!("skipping: {CHROMIUM} is not installed (Debian package `chromium`)");
            return None;
        }
        let profile = tempfile::tempdir().expect("profile folder");
        let (to_browser_read, to_browser_write) = pipe();
        let (from_browser_read, from_browser_write) = pipe();
        let (child_commands, child_replies) = (raw(&to_browser_read), raw(&from_browser_write));
        let log = File::create(profile.path().join("chromium.log")).expect("chromium log");
        let mut cmd = Command::new(CHROMIUM);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--mute-audio",
            "--autoplay-policy=no-user-gesture-required",
            "--remote-debugging-pipe",
            // A desktop-sized window; phones are emulated per page (`Page::emulate_phone`).
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.path().join("profile").display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        // Its own group, so that drop ends the renderers and helpers too, not only the browser.
        .process_group(0);
        // SAFETY: dup2 is async-signal-safe; the sources are open pipe ends numbered >= 10 (see
        // `pipe`), so neither target overwrites the other's source.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(child_commands, 3) < 0 || libc::dup2(child_replies, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("start {CHROMIUM}: {e}"));
        // The child has its copies; ours would keep the pipe open after the browser is gone.
        drop(to_browser_read);
        drop(from_browser_write);

        let shared = Arc::new(Shared { inbox: Mutex::default(), arrived: Condvar::new() });
        let reader_shared = shared.clone();
        let replies = File::from(from_browser_read);
        std::thread::spawn(move || read_messages(replies, &reader_shared));
        let browser =
            Chromium { child, commands: Mutex::new((File::from(to_browser_write), 1)), shared, profile };
        let version = browser.try_command(None, "Browser.getVersion", json!({})).unwrap_or_else(|e| {
            let log =
                std::fs::read_to_string(browser.profile.path().join("chromium.log")).unwrap_or_default();
            panic!("{CHROMIUM} does not answer over --remote-debugging-pipe ({e}); its stderr:\n{log}")
        });
        eprintln!("chromium: {}", version["product"].as_str().unwrap_or("?"));
        Some(browser)
    }

    /// Opens `url` in a new tab (not waiting for it to load; use [`Page::wait_for`]).
    pub fn open(&self, url: &str) -> Page<'_> {
        let created = self.command(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let target = created["targetId"].as_str().expect("targetId").to_string();
        let attached =
            self.command(None, "Target.attachToTarget", json!({ "targetId": target, "flatten": true }));
        let session = attached["sessionId"].as_str().expect("sessionId").to_string();
        let page = Page { browser: self, session, target };
        // Enabled before navigating so that nothing the page logs while loading is missed.
        page.command("Runtime.enable", json!({}));
        page.command("Log.enable", json!({}));
        page.command("Page.enable", json!({}));
        page.navigate(url);
        page
    }

    /// Sends one command (to a session's target, or to the browser) and waits for its result; a
    /// protocol error fails the test.
    fn command(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.try_command(session, method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}\n{}", self.log_text()))
    }

    fn try_command(&self, session: Option<&str>, method: &str, params: Value) -> Result<Value, String> {
        let id = {
            let mut commands = self.commands.lock().unwrap();
            let id = commands.1;
            commands.1 += 1;
            let mut message = json!({ "id": id, "method": method, "params": params });
            if let Some(session) = session {
                message["sessionId"] = json!(session);
            }
            let mut bytes = serde_json::to_vec(&message).unwrap();
            bytes.push(0);
            commands.0.write_all(&bytes).map_err(|e| format!("write to chromium: {e}"))?;
            id
        };
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let mut inbox = self.shared.inbox.lock().unwrap();
        loop {
            if let Some(mut reply) = inbox.replies.remove(&id) {
                if let Some(error) = reply.get("error") {
                    return Err(error.to_string());
                }
                return Ok(reply["result"].take());
            }
            if inbox.closed {
                return Err("chromium exited".into());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("no answer within {COMMAND_TIMEOUT:?}"));
            }
            inbox = self.shared.arrived.wait_timeout(inbox, left).unwrap().0;
        }
    }

    /// What the pages printed to their consoles and the exceptions they threw, one per line.
    pub fn log_text(&self) -> String {
        let inbox = self.shared.inbox.lock().unwrap();
        let mut text = String::from("--- page console ---\n");
        for line in &inbox.log {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // SAFETY: kill(2) on the process group of our own child (it leads the group).
            unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = self.child.wait();
        }
    }
}

impl Page<'_> {
    fn command(&self, method: &str, params: Value) -> Value {
        self.browser.command(Some(&self.session), method, params)
    }

    /// Loads `url` in this tab (not waiting for the load to finish).
    pub fn navigate(&self, url: &str) {
        let result = self.command("Page.navigate", json!({ "url": url }));
        if let Some(error) = result.get("errorText") {
            panic!("navigate to {url}: {error}");
        }
    }

    /// Makes the viewport that of a phone (CSS pixels, touch, mobile layout).
    pub fn emulate_phone(&self, width: u32, height: u32) {
        self.command(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 2, "mobile": true }),
        );
        self.command("Emulation.setTouchEmulationEnabled", json!({ "enabled": true, "maxTouchPoints": 5 }));
    }

    /// Evaluates `js` (awaiting it when it is a promise) and returns its value as JSON; an exception
    /// is an Err with its description.
    pub fn try_eval(&self, js: &str) -> Result<Value, String> {
        let mut result = self.browser.try_command(
            Some(&self.session),
            "Runtime.evaluate",
            json!({ "expression": js, "returnByValue": true, "awaitPromise": true, "userGesture": true }),
        )?;
        if let Some(details) = result.get("exceptionDetails") {
            let text = details["exception"]["description"]
                .as_str()
                .or_else(|| details["text"].as_str())
                .unwrap_or("exception")
                .to_string();
            return Err(text);
        }
        Ok(result["result"]["value"].take())
    }

    /// Evaluates `js` like [`Page::try_eval`]; an exception fails the test.
    pub fn eval(&self, js: &str) -> Value {
        self.try_eval(js).unwrap_or_else(|e| panic!("{js}: {e}\n{}", self.browser.log_text()))
    }

    /// Polls the condition `js` until it is true (an exception counts as not yet, e.g. an element
    /// that is not there yet); past `deadline` the test fails with the last answer, the value of
    /// `diagnostic_js` (what the page shows) and the page's console.
    pub fn wait_for(&self, js: &str, deadline: Duration) {
        self.wait_for_explained(js, "document.body ? document.body.innerText : ''", deadline);
    }

    /// [`Page::wait_for`] with the page state to show when the condition never came true.
    pub fn wait_for_explained(&self, js: &str, diagnostic_js: &str, deadline: Duration) {
        let until = Instant::now() + deadline;
        let condition = format!("Boolean({js})");
        loop {
            let last = self.try_eval(&condition);
            if last == Ok(Value::Bool(true)) {
                return;
            }
            if Instant::now() >= until {
                let state = self.try_eval(diagnostic_js);
                panic!(
                    "not true within {deadline:?}: {js}\nlast: {last:?}\npage: {state:?}\n{}",
                    self.browser.log_text()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Clicks the centre of the element `selector` the way a user does: scrolled into view, then a
    /// real mouse press and release there (so an element covering it would take the click instead).
    pub fn click(&self, selector: &str) {
        let js = format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) throw new Error('no element ' + {sel});
                e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect();
                if (r.width === 0 || r.height === 0) throw new Error('not visible: ' + {sel});
                return [r.left + r.width / 2, r.top + r.height / 2]; }})()",
            sel = json!(selector)
        );
        let centre = self.eval(&js);
        let (x, y) = (centre[0].as_f64().unwrap(), centre[1].as_f64().unwrap());
        for kind in ["mousePressed", "mouseReleased"] {
            self.command(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    }

    /// Picks `value` in the `<select>` `selector`, as a user choosing from its list does (the
    /// element's value changes, then `input` and `change` fire).
    pub fn select(&self, selector: &str, value: &str) {
        let js = format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) throw new Error('no element ' + {sel});
                if (![...e.options].some(o => o.value === {val})) throw new Error('no option ' + {val});
                e.focus(); e.value = {val};
                e.dispatchEvent(new Event('input', {{bubbles: true}}));
                e.dispatchEvent(new Event('change', {{bubbles: true}})); }})()",
            sel = json!(selector),
            val = json!(value)
        );
        self.eval(&js);
    }

    /// Empties the input `selector`, types `text` into it and presses Enter.
    pub fn type_text(&self, selector: &str, text: &str) {
        self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) throw new Error('no element ' + {sel});
                e.focus(); e.value = ''; }})()",
            sel = json!(selector)
        ));
        self.command("Input.insertText", json!({ "text": text }));
        for (kind, text) in [("keyDown", "\r"), ("keyUp", "")] {
            self.command(
                "Input.dispatchKeyEvent",
                json!({ "type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13,
                        "text": text }),
            );
        }
    }

    /// A PNG of what the tab shows (for looking at a failure).
    pub fn screenshot_png(&self) -> Vec<u8> {
        use base64::Engine as _;
        let shot = self.command("Page.captureScreenshot", json!({ "format": "png" }));
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .expect("base64 PNG")
    }

    /// The page's console and exceptions so far.
    pub fn log_text(&self) -> String {
        self.browser.log_text()
    }

    /// Fails the test if a script threw without catching it or the browser blocked something under
    /// the page's Content-Security-Policy.
    pub fn assert_no_script_errors(&self) {
        let log = self.log_text();
        let bad: Vec<&str> = log
            .lines()
            .filter(|l| l.starts_with("exception:") || l.contains("Content Security Policy"))
            .collect();
        assert!(bad.is_empty(), "{}\n{log}", bad.join("\n"));
    }
}

impl Drop for Page<'_> {
    fn drop(&mut self) {
        let _ = self.browser.try_command(None, "Target.closeTarget", json!({ "targetId": self.target }));
    }
}

/// A pipe whose ends are numbered 10 or more (clear of the 3 and 4 the browser gets) and close on exec.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0, "pipe2");
    let high = |fd: RawFd| {
        // SAFETY: fd is the open descriptor pipe2 returned; the duplicate is ours alone.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
        assert!(dup >= 10, "fcntl F_DUPFD_CLOEXEC");
        // SAFETY: we own both descriptors; the original is closed exactly once here.
        unsafe {
            libc::close(fd);
            OwnedFd::from_raw_fd(dup)
        }
    };
    (high(fds[0]), high(fds[1]))
}

fn raw(fd: &OwnedFd) -> RawFd {
    use std::os::fd::AsRawFd;
    fd.as_raw_fd()
}

/// The reader thread: splits the browser's output at NULs, files replies by id and keeps what the
/// pages log; marks the inbox closed when the browser goes away.
fn read_messages(from_browser: File, shared: &Shared) {
    let mut reader = BufReader::new(from_browser);
    let mut message = Vec::new();
    loop {
        message.clear();
        match reader.read_until(0, &mut message) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if message.last() == Some(&0) {
            message.pop();
        }
        let Ok(value) = serde_json::from_slice::<Value>(&message) else { continue };
        let mut inbox = shared.inbox.lock().unwrap();
        if let Some(id) = value.get("id").and_then(Value::as_u64) {
            inbox.replies.insert(id, value);
        } else if let Some(line) = describe_event(&value) {
            if inbox.log.len() == LOG_LINES {
                inbox.log.remove(0);
            }
            inbox.log.push(line);
        }
        drop(inbox);
        shared.arrived.notify_all();
    }
    shared.inbox.lock().unwrap().closed = true;
    shared.arrived.notify_all();
}

/// A console message or an uncaught exception as one line; None for other events.
fn describe_event(event: &Value) -> Option<String> {
    let params = &event["params"];
    match event["method"].as_str()? {
        "Runtime.consoleAPICalled" => {
            let args: Vec<String> = params["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| match &a["value"] {
                    Value::String(s) => s.clone(),
                    Value::Null => a["description"].as_str().unwrap_or("").to_string(),
                    v => v.to_string(),
                })
                .collect();
            Some(format!("console.{}: {}", params["type"].as_str().unwrap_or("log"), args.join(" ")))
        }
        "Runtime.exceptionThrown" => {
            let details = &params["exceptionDetails"];
            let text = details["exception"]["description"].as_str().or(details["text"].as_str());
            Some(format!("exception: {}", text.unwrap_or("?")))
        }
        // The browser's own reports: failed loads, Content-Security-Policy violations...
        "Log.entryAdded" => {
            let entry = &params["entry"];
            Some(format!(
                "browser.{}: {}",
                entry["level"].as_str().unwrap_or("info"),
                entry["text"].as_str().unwrap_or("")
            ))
        }
        _ => None,
    }
}
