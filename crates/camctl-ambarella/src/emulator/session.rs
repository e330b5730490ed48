//! One command connection: splits the stream into requests, checks the session rules, executes the
//! commands strictly in order and writes replies and notifications in the camera's styles.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use super::files;
use super::settings::{Kind, SetError};
use super::transfer;
use super::{Shared, Writer};
use crate::SD_ROOT;
use crate::wire::{Command, JsonStream, ObjectWriter, Request, Style, msg, rval};

/// What the connection loop does after a command.
pub(super) enum Flow {
    Continue,
    /// Close the connection (after a reboot-like command).
    Close,
}

/// Per-connection state.
pub(super) struct Conn {
    pub(super) shared: Arc<Shared>,
    pub(super) id: u64,
    pub(super) writer: Writer,
    /// Reused output buffer: one message is built here and written with one write.
    out: Vec<u8>,
    /// Session directory for relative paths (1283).
    pub(super) cwd: String,
    /// The address the client reached us at: the host of the live view URL.
    local_ip: std::net::IpAddr,
}

/// Whether the Yi builds this reply on its RTOS side (spaced style, §1.3/§8.4). Ids without evidence use
/// the style of their neighbours: capture/record/format/space replies spaced, files and custom ids compact.
fn spaced_reply(msg_id: i64) -> bool {
    matches!(
        msg_id,
        msg::SET_SETTING
            | msg::GET_ALL_SETTINGS
            | msg::FORMAT
            | msg::GET_SPACE
            | msg::START_SESSION
            | msg::RECORD_START
            | msg::RECORD_STOP
            | msg::GET_RECORD_TIME
            | msg::TAKE_PHOTO
            | msg::CONTINUE_CAPTURE_STOP
    )
}

/// Runs one command connection until the peer closes it or breaks the protocol beyond repair.
pub(super) async fn run(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    if let Err(e) = stream.set_nodelay(true) {
        debug!(%peer, error = %e, "TCP_NODELAY failed");
    }
    let local_ip = stream.local_addr().map_or(peer.ip(), |a| a.ip());
    let (mut read, write) = stream.into_split();
    let writer: Writer = Arc::new(tokio::sync::Mutex::new(write));
    let id = shared.new_conn_id();
    shared.lock().conns.insert(id, Arc::clone(&writer));
    debug!(%peer, conn = id, "command connection");
    let mut conn =
        Conn { shared, id, writer, out: Vec::with_capacity(512), cwd: SD_ROOT.to_string(), local_ip };
    match conn.serve(&mut read).await {
        Ok(()) => debug!(%peer, conn = id, "command connection closed"),
        Err(e) => debug!(%peer, conn = id, error = %e, "command connection ended"),
    }
    conn.cleanup();
}

impl Conn {
    async fn serve(&mut self, read: &mut OwnedReadHalf) -> io::Result<()> {
        let mut stream = JsonStream::new(self.shared.config.max_command);
        let mut buf = vec![0u8; 16 * 1024];
        let idle = self.shared.config.idle_timeout;
        loop {
            let n = match camctl_core::serve::timed(idle, read.read(&mut buf)).await {
                Some(n) => n?,
                // A running transfer keeps its command connection (the client waits for its end).
                None if transfer::running(&self.shared) => continue,
                None => {
                    debug!(conn = self.id, "idle command connection closed");

                    return Ok(());
                }
            };
            if n == 0 {
                return Ok(());
            }
            stream.push(&buf[..n]);
            loop {
                let request = match stream.next_object() {
                    Ok(None) => break,
                    Ok(Some(object)) => Request::decode(object),
                    Err(e) => {
                        // The reference drops an over-long command without a reply and carries on.
                        warn!(conn = self.id, error = %e, "command dropped");
                        continue;
                    }
                };
                let request = match request {
                    Ok(r) => r,
                    Err(e) => {
                        // No msg_id to answer to: the reference's syntax-error code with id 0.
                        warn!(conn = self.id, error = %e, "bad JSON from client");
                        self.simple(0, rval::JSON_SYNTAX_ERROR, false).await?;
                        continue;
                    }
                };
                if let Flow::Close = self.handle(&request).await? {
                    return Ok(());
                }
            }
        }
    }

    /// Leaves the shared state when the connection ends.
    fn cleanup(&mut self) {
        let mut st = self.shared.lock();
        st.conns.remove(&self.id);
        if st.holder_query.as_ref().is_some_and(|(conn, _)| *conn == self.id) {
            st.holder_query = None; // the waiting newcomer sees "no answer"
        }
        if self.shared.config.end_session_on_disconnect && st.session.is_some_and(|s| s.conn == self.id) {
            st.session = None;
            st.cancel_transfer();
            self.shared.live.stop();
        }
    }

    fn style(&self, spaced: bool) -> Style {
        if spaced && !self.shared.config.compact_json { Style::Spaced } else { Style::Compact }
    }

    /// Writes what is in the output buffer as one write.
    async fn flush(&mut self) -> io::Result<()> {
        let mut w = self.writer.lock().await;
        let result =
            camctl_core::serve::timed_io(camctl_core::serve::DEFAULT_WRITE_TIMEOUT, w.write_all(&self.out))
                .await;
        drop(w);
        self.out.clear();
        result
    }

    /// Builds one object with `f` and writes it.
    pub(super) async fn send(
        &mut self,
        spaced: bool,
        f: impl FnOnce(&mut ObjectWriter<'_>),
    ) -> io::Result<()> {
        let style = self.style(spaced);
        let mut w = ObjectWriter::new(&mut self.out, style);
        f(&mut w);
        w.finish();
        self.flush().await
    }

    /// `{"rval":R,"msg_id":M}`.
    pub(super) async fn simple(&mut self, msg_id: i64, code: i64, spaced: bool) -> io::Result<()> {
        self.send(spaced, |w| {
            w.int("rval", code).int("msg_id", msg_id);
        })
        .await
    }

    /// `rval` only, in the id's usual style.
    pub(super) async fn rv(&mut self, msg_id: i64, code: i64) -> io::Result<()> {
        self.simple(msg_id, code, spaced_reply(msg_id)).await
    }

    /// A notification: spaced head, compact `param` tail (`{ "msg_id": 7, "type": "x" ,"param":"y"}`).
    pub(super) async fn note(&mut self, kind: &str, param: Option<&str>) -> io::Result<()> {
        self.send(true, |w| {
            w.int("msg_id", msg::NOTIFICATION).str("type", kind);
            if let Some(p) = param {
                w.tail().str("param", p);
            }
        })
        .await
    }

    async fn handle(&mut self, req: &Request) -> io::Result<Flow> {
        let cmd = match req.command() {
            Ok(c) => c,
            Err(code) => {
                self.rv(req.msg_id, code).await?;
                return Ok(Flow::Continue);
            }
        };
        match cmd {
            Command::StartSession => return self.start_session().await.map(|_| Flow::Continue),
            Command::HolderAnswer { rval: answer } => {
                let mut st = self.shared.lock();
                if st.holder_query.as_ref().is_some_and(|(conn, _)| *conn == self.id)
                    && let Some((_, tx)) = st.holder_query.take()
                {
                    // A bare {"msg_id":1793} (the reference app's answer) counts as "keep".
                    let _ = tx.send(answer.unwrap_or(0));
                }
                return Ok(Flow::Continue);
            }
            _ => {}
        }
        let refusal = {
            let st = self.shared.lock();
            if st.stopped {
                Some((req.msg_id, rval::INVALID_OPERATION))
            } else if !st.token_ok(req.token) {
                let id = if self.shared.config.invalid_token_msg_id_zero { 0 } else { req.msg_id };
                Some((id, rval::INVALID_TOKEN))
            } else {
                None
            }
        };
        if let Some((id, code)) = refusal {
            self.simple(id, code, spaced_reply(req.msg_id)).await?;
            return Ok(Flow::Continue);
        }
        self.execute(req.msg_id, cmd).await
    }

    /// 257: new token, or the takeover dance of §2 when someone else holds the session.
    async fn start_session(&mut self) -> io::Result<()> {
        let query = {
            let mut st = self.shared.lock();
            match st.session {
                Some(s) if s.conn != self.id => match st.conns.get(&s.conn).cloned() {
                    Some(holder) => {
                        let (tx, rx) = oneshot::channel();
                        st.holder_query = Some((s.conn, tx));
                        Some((holder, rx))
                    }
                    None => None,
                },
                _ => None,
            }
        };
        if let Some((holder, rx)) = query {
            {
                let mut w = holder.lock().await;
                let _ = w.write_all(br#"{"msg_id":1793}"#).await;
            }
            let answer = tokio::time::timeout(self.shared.config.holder_timeout, rx).await;
            if let Ok(Ok(0)) = answer {
                info!(conn = self.id, "session holder keeps the session: -3");
                return self.rv(msg::START_SESSION, rval::SESSION_START_FAIL).await;
            }
            let mut st = self.shared.lock();
            if st.holder_query.as_ref().is_some_and(|(_, tx)| tx.is_closed()) {
                st.holder_query = None;
            }
            st.cancel_transfer();
            info!(conn = self.id, "session handed over");
        }
        let token = {
            let mut st = self.shared.lock();
            self.shared.live.stop();
            st.issue_token(self.id)
        };
        self.note("vf_stop", None).await?;
        let rtsp = format!("rtsp://{}/live", SocketAddr::new(self.local_ip, self.shared.rtsp_port));
        self.send(true, |w| {
            w.int("rval", 0).int("msg_id", msg::START_SESSION).int("param", token).str("rtsp", &rtsp);
        })
        .await
    }

    async fn execute(&mut self, id: i64, cmd: Command<'_>) -> io::Result<Flow> {
        match cmd {
            Command::StopSession => {
                {
                    let mut st = self.shared.lock();
                    st.session = None;
                    st.stopped = true;
                    st.cancel_transfer();
                    // The viewfinder stays on: `camctl preview start` ends its session politely and
                    // hands the URL to a player.
                }
                self.rv(id, rval::OK).await?;
            }
            Command::GetSetting { key } => {
                let value = self.shared.lock().settings.get(key).map(str::to_string);
                match value {
                    Some(v) => {
                        self.send(false, |w| {
                            w.int("rval", 0).int("msg_id", id).str("type", key).str("param", &v);
                        })
                        .await?
                    }
                    None => self.rv(id, rval::INVALID_OPTION_VALUE).await?,
                }
            }
            Command::SetSetting { key, value } => return self.set_setting(id, key, value).await,
            Command::SetSettingNonString { key, value } => {
                let text = crate::wire::as_text(value);
                return self.set_setting(id, key, &text).await;
            }
            Command::GetAllSettings => {
                let all: Vec<(String, String)> =
                    self.shared.lock().settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                self.send(true, |w| {
                    w.int("rval", 0)
                        .int("msg_id", id)
                        .pairs("param", all.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                })
                .await?;
            }
            Command::DescribeSetting { key } => {
                let text = match self.shared.lock().settings.kind(key) {
                    None => None,
                    Some(Kind::ReadOnly) => Some("readonly".to_string()),
                    Some(Kind::Choices(list)) => Some(format!("settable:{}", list.join("#"))),
                    Some(Kind::Free) => Some("settable:".to_string()),
                };
                match text {
                    Some(t) => {
                        self.send(true, |w| {
                            w.int("rval", 0).int("msg_id", id).pairs("param", [(key, t.as_str())]);
                        })
                        .await?
                    }
                    None => self.rv(id, rval::INVALID_OPTION_VALUE).await?,
                }
            }
            Command::GetOptions { key } => {
                let kind = self.shared.lock().settings.kind(key);
                let current = self.shared.lock().settings.get(key).map(str::to_string).unwrap_or_default();
                self.send(false, |w| {
                    w.int("rval", 0).int("msg_id", id).str("param", key);
                    match kind {
                        // Fw 1.5.12 answers unknown keys with rval 0 and no options (§3.1).
                        None => {}
                        Some(Kind::ReadOnly) => {
                            w.str("permission", "readonly").str_array("options", [current.as_str()]);
                        }
                        Some(Kind::Choices(list)) => {
                            w.str("permission", "settable").str_array("options", list.iter().copied());
                        }
                        Some(Kind::Free) => {
                            w.str("permission", "settable").str_array("options", []);
                        }
                    }
                })
                .await?;
            }
            Command::Format => {
                let media = self.shared.config.media_dir.clone();
                let result = tokio::task::spawn_blocking(move || {
                    let dcim = media.join("DCIM");
                    if dcim.exists() {
                        std::fs::remove_dir_all(&dcim)?;
                    }
                    std::fs::create_dir_all(dcim.join("100MEDIA"))
                })
                .await
                .map_err(io::Error::other)?;
                let code = match result {
                    Ok(()) => {
                        let mut st = self.shared.lock();
                        st.next_number = 1;
                        st.md5_cache.clear();
                        rval::OK
                    }
                    Err(e) => {
                        warn!(error = %e, "format failed");
                        rval::UNKNOWN_ERROR
                    }
                };
                self.rv(id, code).await?;
            }
            Command::GetSpace { kind } => {
                let total = self.shared.config.card_bytes >> 10;
                let value = match kind {
                    "total" => Some(total),
                    "free" => {
                        let media = self.shared.config.media_dir.clone();
                        let used = tokio::task::spawn_blocking(move || used_bytes(&media.join("DCIM")))
                            .await
                            .unwrap_or(0);
                        Some(total.saturating_sub(used.div_ceil(1024)))
                    }
                    _ => None,
                };
                match value {
                    Some(v) => {
                        self.send(true, |w| {
                            w.int("rval", 0)
                                .int("msg_id", id)
                                .int("param", i64::try_from(v).unwrap_or(i64::MAX));
                        })
                        .await?
                    }
                    None => self.rv(id, rval::INVALID_TYPE).await?,
                }
            }
            Command::GetDeviceInfo => {
                let c = &self.shared.config;
                let (model, fw) = (c.model.clone(), c.sw_version.clone());
                self.send(false, |w| {
                    w.int("rval", 0)
                        .int("msg_id", id)
                        .str("brand", "YI")
                        .str("model", &model)
                        .str("chip", "A7LS")
                        .str("app_type", "sport")
                        .str("fw_ver", &fw)
                        .str("api_ver", "4.1.0")
                        .str("media_folder", "/tmp/fuse_d/DCIM/100MEDIA/")
                        .str("event_folder", "")
                        .str("sec_posfix", "_thm")
                        .str("http", "on");
                })
                .await?;
            }
            Command::GetBattery => {
                let level = self.shared.config.battery.min(100).to_string();
                let power = if self.shared.config.usb_power { "adapter" } else { "battery" };
                self.send(false, |w| {
                    w.int("rval", 0).int("msg_id", id).str("type", power).str("param", &level);
                })
                .await?;
            }
            Command::StartPreview => {
                self.shared.live.start();
                self.rv(id, rval::OK).await?;
                self.note("vf_start", None).await?;
            }
            Command::StopPreview => {
                self.shared.live.stop();
                self.rv(id, rval::OK).await?;
                self.note("vf_stop", None).await?;
            }
            Command::StartRecording => {
                let started = {
                    let mut st = self.shared.lock();
                    if st.recording.is_some() {
                        false
                    } else {
                        st.recording = Some(Instant::now());
                        st.settings.force("app_status", "record");
                        true
                    }
                };
                if !started {
                    self.rv(id, rval::INVALID_OPERATION).await?;
                } else {
                    self.rv(id, rval::OK).await?;
                    self.note("start_video_record", None).await?;
                    self.note("vf_stop", None).await?;
                }
            }
            Command::StopRecording => {
                let started = self.shared.lock().recording;
                let Some(started) = started else {
                    self.rv(id, rval::INVALID_OPERATION).await?;
                    return Ok(Flow::Continue);
                };
                self.rv(id, rval::OK).await?;
                let length =
                    started.elapsed().clamp(Duration::from_secs(1), self.shared.config.max_recording);
                let path = self.write_video(length).await;
                {
                    let mut st = self.shared.lock();
                    st.recording = None;
                    st.settings.force("app_status", "idle");
                }
                match path {
                    Ok(path) => self.note("video_record_complete", Some(&path)).await?,
                    Err(e) => warn!(error = %e, "writing the recording failed"),
                }
                self.note("vf_start", None).await?;
            }
            Command::RecordTime => {
                let started = self.shared.lock().recording;
                match started {
                    Some(t) => {
                        let secs = i64::try_from(t.elapsed().as_secs()).unwrap_or(i64::MAX);
                        self.send(true, |w| {
                            w.int("rval", 0).int("msg_id", id).int("param", secs);
                        })
                        .await?
                    }
                    None => self.rv(id, rval::INVALID_OPERATION).await?,
                }
            }
            Command::TakePhoto => {
                if self.shared.lock().recording.is_some() {
                    self.rv(id, rval::PIV_NOT_ALLOWED).await?;
                    return Ok(Flow::Continue);
                }
                // §6.2: the reply comes last, after photo_taken.
                self.note("start_photo_capture", Some("precise quality;off")).await?;
                self.note("precise_capture_data_ready", None).await?;
                match self.write_photo().await {
                    Ok(path) => {
                        self.note("photo_taken", Some(&path)).await?;
                        self.rv(id, rval::OK).await?;
                    }
                    Err(e) => {
                        warn!(error = %e, "writing the photo failed");
                        self.rv(id, rval::NO_MORE_SPACE).await?;
                    }
                }
            }
            Command::Capture { mode } => return self.capture_mode(id, mode).await,
            Command::SetCaptureMode { mode } => {
                let m = mode.split(';').next().unwrap_or("").trim().to_string();
                let ok = self.shared.lock().settings.set("capture_mode", &m).is_ok();
                self.rv(id, if ok { rval::OK } else { rval::INVALID_OPTION_VALUE }).await?;
            }
            Command::StopContinuousCapture => {
                let last = self.shared.lock().continuous.take();
                match last {
                    Some(last) => {
                        self.shared.lock().settings.force("precise_cont_capturing", "off");
                        self.rv(id, rval::OK).await?;
                        self.note("precise_cont_complete", Some(&last)).await?;
                        self.note("vf_start", None).await?;
                    }
                    None => self.rv(id, rval::INVALID_OPERATION).await?,
                }
            }
            Command::Thumbnail { path, kind } => transfer::thumbnail(self, id, path, kind).await?,
            Command::MediaInfo { path } => self.media_info(id, path).await?,
            Command::Delete { path } => self.delete(id, path).await?,
            Command::List { param } => self.list(id, param).await?,
            Command::Cd { path } => {
                let target = files::resolve(&self.cwd, path).filter(|c| {
                    let media = &self.shared.config.media_dir;
                    camctl_core::serve::metadata_beneath(media, &files::local(media, c))
                        .is_ok_and(|m| m.is_dir())
                });
                match target {
                    Some(dir) => {
                        self.cwd = dir;
                        let pwd = self.cwd.clone();
                        self.send(false, |w| {
                            w.int("rval", 0).int("msg_id", id).str("pwd", &pwd);
                        })
                        .await?;
                    }
                    None => self.rv(id, rval::INVALID_PATH).await?,
                }
            }
            Command::Pwd => {
                let pwd = self.cwd.clone();
                self.send(false, |w| {
                    w.int("rval", 0).int("msg_id", id).str("pwd", &pwd);
                })
                .await?;
            }
            Command::GetFile { path, offset, fetch_size } => {
                transfer::get_file(self, id, path, offset, fetch_size).await?;
            }
            Command::PutFile { path, offset, size, md5 } => {
                transfer::put_file(self, id, path, offset, size, md5).await?
            }
            Command::CancelTransfer { .. } => {
                let running = self.shared.lock().cancel_transfer();
                let mut moved = 0;
                if let Some(t) = running {
                    // Wait until the data task has really stopped, as the reference does.
                    let _ = t.task.await;
                    moved = t.progress.load(std::sync::atomic::Ordering::Relaxed);
                }
                self.send(false, |w| {
                    w.int("rval", 0)
                        .int("msg_id", id)
                        .int("transferred_size", i64::try_from(moved).unwrap_or(i64::MAX));
                })
                .await?;
            }
            Command::Heartbeat => self.rv(id, rval::OK).await?,
            Command::StartSession | Command::HolderAnswer { .. } => {}
            Command::Other { msg_id } => match msg_id {
                // The Yi's own answers to these (YICHAN probes, §3.1/§3.9).
                msg::GET_NUMB_FILES | msg::BURNIN_FW => self.rv(id, rval::INVALID_OPTION_VALUE).await?,
                msg::PUT_GPS_INFO => self.rv(id, rval::OK).await?,
                msg::YI_SD_TYPE => {
                    self.send(false, |w| {
                        w.int("rval", 0).int("msg_id", id).str("param", "sd_hc");
                    })
                    .await?
                }
                msg::YI_TIMELAPSE_TIME => self.rv(id, rval::INVALID_OPERATION).await?,
                msg::YI_WIFI_RESTART => {
                    self.rv(id, rval::OK).await?;
                    self.note("wifi_will_shutdown", None).await?;
                    return Ok(Flow::Close);
                }
                _ => self.rv(id, self.shared.config.unknown_msg_rval).await?,
            },
        }
        Ok(Flow::Continue)
    }

    async fn set_setting(&mut self, id: i64, key: &str, value: &str) -> io::Result<Flow> {
        // Action keys (§4.1): the camera reboots; the Wi-Fi link drops after wifi_will_shutdown.
        if matches!(key, "dev_reboot" | "restore_factory_settings") {
            if value != "on" {
                self.rv(id, rval::INVALID_OPTION_VALUE).await?;
                return Ok(Flow::Continue);
            }
            if key == "restore_factory_settings" {
                let c = &self.shared.config;
                let fresh = super::settings::Settings::new(&c.serial, &c.sw_version, &c.hw_version);
                self.shared.lock().settings = fresh;
            }
            self.rv(id, rval::OK).await?;
            self.note("wifi_will_shutdown", None).await?;
            return Ok(Flow::Close);
        }
        // While recording the Yi refuses setting changes ("operation not possible now", -14; the
        // official app greys them out). The reference has no capture of it; -14 is the SDK's code for
        // a request the current state does not allow, as for 513 while recording.
        if self.shared.lock().recording.is_some() {
            self.rv(id, rval::INVALID_OPERATION).await?;
            return Ok(Flow::Continue);
        }
        let result = self.shared.lock().settings.set(key, value);
        match result {
            Ok(changed) if !changed && self.shared.config.unchanged_rval != 0 => {
                self.rv(id, self.shared.config.unchanged_rval).await?
            }
            Ok(_) if key == "camera_clock" => {
                // The Yi echoes the clock, truncated (fw 1.2.13 quirk, §1.3).
                let echo: String = value.chars().take(4).collect();
                self.send(true, |w| {
                    w.int("rval", 0).int("msg_id", id).tail().str("type", key).str("param", &echo);
                })
                .await?;
            }
            Ok(_) => self.rv(id, rval::OK).await?,
            Err(SetError::BadValue) => self.rv(id, rval::INVALID_OPTION_VALUE).await?,
            Err(SetError::ReadOnly) => self.rv(id, rval::NOT_WRITABLE).await?,
            Err(SetError::Syntax) => self.rv(id, rval::JSON_SYNTAX_ERROR).await?,
        }
        Ok(Flow::Continue)
    }

    /// 16777220: capture with an explicit mode; the reply comes first (§6.2).
    async fn capture_mode(&mut self, id: i64, mode: &str) -> io::Result<Flow> {
        let kind = mode.split(';').next().unwrap_or("").trim().to_string();
        if self.shared.lock().recording.is_some() {
            self.rv(id, rval::PIV_NOT_ALLOWED).await?;
            return Ok(Flow::Continue);
        }
        if !matches!(
            kind.as_str(),
            "precise quality" | "precise quality cont." | "burst quality" | "precise self quality"
        ) {
            self.rv(id, rval::INVALID_OPTION_VALUE).await?;
            return Ok(Flow::Continue);
        }
        self.rv(id, rval::OK).await?;
        self.note("start_photo_capture", Some(mode)).await?;
        self.note("vf_stop", None).await?;
        match kind.as_str() {
            "burst quality" => {
                let mut last = String::new();
                for _ in 0..3 {
                    last = self.write_photo().await?;
                }
                self.note("burst_complete", Some(&last)).await?;
                self.note("vf_start", None).await?;
            }
            "precise quality cont." => {
                // One picture now; 770 ends the series.
                let path = self.write_photo().await?;
                let mut st = self.shared.lock();
                st.continuous = Some(path);
                st.settings.force("precise_cont_capturing", "on");
            }
            _ => {
                self.note("precise_capture_data_ready", None).await?;
                let path = self.write_photo().await?;
                self.note("photo_taken", Some(&path)).await?;
                self.note("vf_start", None).await?;
            }
        }
        Ok(Flow::Continue)
    }

    /// Allocates the next free `YDXJnnnn.<ext>` in DCIM/100MEDIA: (camera path, local path).
    fn next_file(&self, ext: &str) -> (String, std::path::PathBuf) {
        next_file(&self.shared, ext)
    }

    /// Writes a new sample photo; returns its camera path.
    async fn write_photo(&mut self) -> io::Result<String> {
        write_photo(&self.shared).await
    }

    /// Writes the recording as a real MP4 of `length`; returns its camera path.
    async fn write_video(&mut self, length: Duration) -> io::Result<String> {
        let (camera, local) = self.next_file("mp4");
        let clip = self.shared.config.clip;
        let media = self.shared.config.media_dir.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = io::BufWriter::new(create_beneath(&media, &local)?);
            camctl_core::video::write_mp4(&mut out, clip, camctl_core::video::SAMPLE_FPS, length)?;
            io::Write::flush(&mut out)
        })
        .await
        .map_err(io::Error::other)??;
        Ok(camera)
    }

    async fn media_info(&mut self, id: i64, path: &str) -> io::Result<()> {
        let Some(camera) = files::resolve(&self.cwd, path) else {
            return self.rv(id, rval::INVALID_PATH).await;
        };
        let media = self.shared.config.media_dir.clone();
        let local = files::local(&media, &camera);
        let info = tokio::task::spawn_blocking(move || -> io::Result<_> {
            let mut file = camctl_core::serve::open_beneath(&media, &local, false)?;
            let meta = file.metadata()?;
            let mut head = vec![0u8; 64 * 1024];
            let n = io::Read::read(&mut file, &mut head)?;
            head.truncate(n);
            Ok((meta.len(), files::file_date(&meta), head))
        })
        .await
        .map_err(io::Error::other)?;
        let Ok((size, date, head)) = info else { return self.rv(id, rval::INVALID_PATH).await };
        let lower = camera.to_ascii_lowercase();
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        if lower.ends_with(".mp4") || lower.ends_with(".mov") {
            let secs = files::mp4_seconds(&head).unwrap_or(0).to_string();
            let thm =
                camera.rsplit('/').next().unwrap_or("").rsplit_once('.').map(|(s, _)| format!("{s}.THM"));
            let info = camctl_core::video::clip_info(self.shared.config.clip).ok();
            let resolution = info.map(|i| format!("{}x{}", i.width, i.height)).unwrap_or_default();
            self.send(false, |w| {
                w.int("rval", 0)
                    .int("msg_id", id)
                    .str("thumb_file", thm.as_deref().unwrap_or(""))
                    .int("size", size)
                    .str("date", &date)
                    .str("resolution", &resolution)
                    .str("duration", &secs)
                    .int("framerate", i64::from(camctl_core::video::SAMPLE_FPS))
                    .str("media_type", "mov");
            })
            .await
        } else {
            let resolution = files::jpeg_size(&head).map(|(w, h)| format!("{w}x{h}")).unwrap_or_default();
            self.send(false, |w| {
                w.int("rval", 0).int("msg_id", id).int("size", size).str("date", &date);
                if !resolution.is_empty() {
                    w.str("resolution", &resolution);
                }
                w.str("media_type", "img");
            })
            .await
        }
    }

    async fn delete(&mut self, id: i64, path: &str) -> io::Result<()> {
        let Some(camera) = files::resolve(&self.cwd, path) else {
            return self.rv(id, rval::INVALID_PATH).await;
        };
        let media = self.shared.config.media_dir.clone();
        let local = files::local(&media, &camera);
        let deleted = tokio::task::spawn_blocking(move || -> io::Result<usize> {
            use camctl_core::serve::{list_dir_beneath, metadata_beneath, resolve_beneath};
            let name = local.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            if name.contains('*') || name.contains('?') {
                let dir = local.parent().ok_or(io::ErrorKind::NotFound)?;
                let mut n = 0;
                // Symlinks are not listed, so never deleted (nor followed).
                for entry in list_dir_beneath(&media, dir)? {
                    let entry_name = entry.name.to_string_lossy().to_string();
                    if files::glob_match(&name, &entry_name) && entry.is_file() {
                        std::fs::remove_file(resolve_beneath(&media, &dir.join(&entry.name))?)?;
                        n += 1;
                    }
                }
                Ok(n)
            } else if metadata_beneath(&media, &local).is_ok_and(|m| m.is_file()) {
                std::fs::remove_file(resolve_beneath(&media, &local)?).map(|_| 1)
            } else {
                Ok(0)
            }
        })
        .await
        .map_err(io::Error::other)?;
        match deleted {
            Ok(n) if n > 0 => self.rv(id, rval::OK).await,
            Ok(_) => self.rv(id, rval::INVALID_PATH).await,
            Err(e) => {
                warn!(error = %e, "delete failed");
                self.rv(id, rval::UNKNOWN_ERROR).await
            }
        }
    }

    async fn list(&mut self, id: i64, param: &str) -> io::Result<()> {
        // "<dir>/ -D -S" or " -D -S" (cwd); flags are always honoured (details given).
        let mut dir = param.trim();
        while let Some(rest) = dir.strip_suffix("-D").or_else(|| dir.strip_suffix("-S")) {
            dir = rest.trim_end();
        }
        let target = if dir.is_empty() { Some(self.cwd.clone()) } else { files::resolve(&self.cwd, dir) };
        let Some(camera) = target else { return self.rv(id, rval::INVALID_PATH).await };
        let media = self.shared.config.media_dir.clone();
        let local = files::local(&media, &camera);
        let entries = tokio::task::spawn_blocking(move || files::listing(&media, &local))
            .await
            .map_err(io::Error::other)?;
        match entries {
            Ok(entries) => {
                self.send(false, |w| {
                    w.int("rval", 0)
                        .int("msg_id", id)
                        .pairs("listing", entries.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                })
                .await
            }
            // A file or a missing directory (the real camera may even crash on the former).
            Err(_) => self.rv(id, rval::INVALID_PATH).await,
        }
    }
}

/// Creates (or replaces) the file `local` beneath `media`, its folders too, refusing symlinks on the way.
/// Blocking.
fn create_beneath(media: &std::path::Path, local: &std::path::Path) -> io::Result<std::fs::File> {
    let dir = local.parent().unwrap_or(local);
    std::fs::create_dir_all(camctl_core::serve::resolve_beneath(media, dir)?)?;
    let file = camctl_core::serve::open_beneath(media, local, true)?;
    file.set_len(0)?;
    Ok(file)
}

/// Bytes used under a directory (recursive, best effort).
fn used_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => used_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The next free camera file name (`YDXJnnnn.EXT` in `100MEDIA`) and its place under the media folder.
fn next_file(shared: &Shared, ext: &str) -> (String, std::path::PathBuf) {
    let media = &shared.config.media_dir;
    let mut st = shared.lock();
    loop {
        let n = st.next_number;
        st.next_number = if n >= 9999 { 1 } else { n + 1 };
        let camera = format!("{SD_ROOT}/DCIM/100MEDIA/YDXJ{n:04}.{ext}");
        let local = files::local(media, &camera);
        if !local.exists() || n >= 9999 {
            return (camera, local);
        }
    }
}

/// Writes a new sample photo; returns its camera path.
async fn write_photo(shared: &Shared) -> io::Result<String> {
    let (camera, local) = next_file(shared, "jpg");
    let seed = {
        let mut st = shared.lock();
        st.photo_seed += 1;
        // Different on every run as well as every shot.
        st.photo_seed
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
    };
    let media = shared.config.media_dir.clone();
    tokio::task::spawn_blocking(move || {
        let mut file = create_beneath(&media, &local)?;
        io::Write::write_all(&mut file, &camctl_core::media::sample_jpeg(640, 480, seed))
    })
    .await
    .map_err(io::Error::other)??;
    Ok(camera)
}

/// A photo taken with the camera's own shutter button: written to the card, and announced to the
/// session's client with the notifications of a shot (`start_photo_capture`,
/// `precise_capture_data_ready`, `photo_taken` with its path), without the reply a 769 would get.
/// With no session open the photo is only written. Returns its camera path.
pub(super) async fn body_shot(shared: &Arc<Shared>) -> io::Result<String> {
    let writer = {
        let st = shared.lock();
        st.session.and_then(|s| st.conns.get(&s.conn).cloned())
    };
    let style = if shared.config.compact_json { Style::Compact } else { Style::Spaced };
    let note = |kind: &str, param: Option<&str>| {
        let mut out = Vec::with_capacity(128);
        let mut w = ObjectWriter::new(&mut out, style);
        w.int("msg_id", msg::NOTIFICATION).str("type", kind);
        if let Some(p) = param {
            w.tail().str("param", p);
        }
        w.finish();
        out
    };
    let send = async |bytes: Vec<u8>| {
        if let Some(writer) = &writer {
            let mut w = writer.lock().await;
            let sent =
                camctl_core::serve::timed_io(camctl_core::serve::DEFAULT_WRITE_TIMEOUT, w.write_all(&bytes));
            if let Err(e) = sent.await {
                debug!(error = %e, "could not deliver a shutter notification");
            }
        }
    };
    send(note("start_photo_capture", Some("precise quality;off"))).await;
    send(note("precise_capture_data_ready", None)).await;
    let path = write_photo(shared).await?;
    send(note("photo_taken", Some(&path))).await;
    Ok(path)
}
