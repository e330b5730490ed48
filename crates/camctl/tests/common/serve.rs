//! `camctl serve` as a real process, and a small HTTP/1.1 client to talk to it (the tests need no
//! HTTP crate: requests are few and simple).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::camctl;

/// How long a test waits for anything serve does (connecting to emulators, a first frame).
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A running `camctl serve`, stopped with SIGTERM when dropped.
pub struct Serve {
    pub child: Child,
    /// `http://HOST:PORT` as printed.
    pub base: String,
    /// The HTTP address.
    pub addr: SocketAddr,
}

impl Serve {
    /// Starts `camctl serve ARGS` (add `--listen 127.0.0.1:0 --rtsp-listen 127.0.0.1:0` yourself when
    /// wanted) and waits for its one line.
    pub fn start(args: &[&str]) -> Serve {
        Self::start_command(camctl(), args)
    }

    /// Like [`Serve::start`] with a prepared command (another environment, a network namespace).
    pub fn start_command(mut command: Command, args: &[&str]) -> Serve {
        let mut child = command
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn camctl serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read serving line");
        let base = line
            .trim()
            .strip_prefix("serving ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        let addr = base.trim_start_matches("http://").parse().expect("serving address");
        Serve { child, base, addr }
    }

    /// `GET path`, asserting 200; the JSON body.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let r = http(self.addr, "GET", path, &[], b"");
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {}", r.text()))
    }

    /// One request.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
        http(self.addr, method, path, headers, body)
    }

    /// Waits until camera `name` reports `state`; returns its summary.
    pub fn wait_for_state(&self, name: &str, state: &str) -> serde_json::Value {
        let start = Instant::now();
        loop {
            let camera = self.get_json(&format!("/api/cameras/{name}"));
            if camera["state"] == state {
                return camera;
            }
            assert!(start.elapsed() < DEADLINE, "{name} never became {state}: {camera}");
            // Polling the state is waiting for the event (the owner's next attempt), not a timing bet.
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The RTSP URL of camera `name`.
    pub fn rtsp_url(&self, name: &str) -> String {
        self.get_json(&format!("/api/cameras/{name}"))["rtsp"].as_str().expect("an RTSP URL").to_string()
    }

    /// SIGTERM; the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.child.wait().expect("wait for serve")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
            // A serve that does not stop must not hang the suite: after the deadline it is killed.
            let start = Instant::now();
            while matches!(self.child.try_wait(), Ok(None)) && start.elapsed() < DEADLINE {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A complete HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Sends one request (`Connection: close`) and reads the whole response.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut stream = open(addr, method, path, headers, body);
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    parse_response(&raw)
}

/// Sends a request and returns the connection, positioned at the start of the response, for streamed
/// answers (SSE, live video).
pub fn open(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect to serve");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "PUT" || method == "POST" {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    stream
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(rest) } else { rest.to_vec() };
    HttpResponse { status, headers, body }
}

/// The body of a chunked response (what arrived of it).
pub fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else { return out };
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..line_end]).split(';').next().unwrap_or("").trim(),
            16,
        )
        .unwrap_or(0);
        data = &data[line_end + 2..];
        if size == 0 || data.len() < size {
            out.extend_from_slice(&data[..size.min(data.len())]);
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or_default();
    }
}

/// A streamed response (SSE) read as it comes.
pub struct StreamReader {
    stream: TcpStream,
    /// Everything read so far.
    pub seen: String,
}

impl StreamReader {
    pub fn new(stream: TcpStream) -> StreamReader {
        StreamReader { stream, seen: String::new() }
    }

    /// Reads until `wanted` appears after byte `from` of what was seen; returns where it starts.
    pub fn until(&mut self, wanted: &str, from: usize) -> usize {
        let start = Instant::now();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(at) = self.seen.get(from..).and_then(|rest| rest.find(wanted)) {
                return from + at;
            }
            let n = self.stream.read(&mut chunk).expect("read the stream");
            assert!(n > 0, "the stream ended before {wanted:?}: {}", self.seen);
            self.seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
            assert!(start.elapsed() < DEADLINE, "no {wanted:?} in {}", self.seen);
        }
    }
}
