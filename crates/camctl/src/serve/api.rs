//! The HTTP side of serve: the JSON API, the live streams for browsers, the web UI's assets, and the
//! checks every request passes first (credentials, Host, Origin).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use camctl_core::live::{Codec, RecvError};
use camctl_core::{Camera, Error, MediaItem, Setting};
use futures_util::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::config::Credentials;
use super::owner::{CallError, CameraHandle, Family, Notice, State as SessionState};

/// How long a request waits for the first live frame (a camera starting its stream).
const FIRST_FRAME_WAIT: Duration = Duration::from_secs(10);
/// Largest request body (settings are a few bytes).
const MAX_BODY: usize = 64 * 1024;
/// Imports listed per camera.
const RECENT_IMPORTS: usize = 50;
/// Bytes in flight between a camera download and its HTTP response.
const DOWNLOAD_BUFFER: usize = 256 * 1024;

/// The web UI, built into the binary.
#[derive(rust_embed::RustEmbed)]
#[folder = "ui/"]
struct Assets;

/// What every handler shares.
pub struct App {
    /// The cameras by name.
    pub cameras: BTreeMap<String, CameraHandle>,
    /// Credentials (none set: loopback only, checked at start).
    pub auth: Credentials,
    /// The HTTP address served.
    pub listen: SocketAddr,
    /// The RTSP address served.
    pub rtsp: SocketAddr,
    /// Decodes of H.264 keyframes at once (each holds a picture's worth of memory).
    pub decodes: tokio::sync::Semaphore,
    /// The last snapshot made, by the keyframe it came from, so that many requests cost one decode.
    pub last_snapshot: std::sync::Mutex<Option<(Arc<camctl_core::live::Frame>, Bytes)>>,
}

/// Decodes of H.264 keyframes at once, for [`App::decodes`].
pub const PARALLEL_DECODES: usize = 2;

type AppState = State<Arc<App>>;

/// The router with every route and check.
pub fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/cameras", get(list_cameras))
        .route("/api/cameras/{name}", get(camera))
        .route("/api/cameras/{name}/media", get(media_list))
        .route("/api/cameras/{name}/media/{*path}", get(media_file))
        .route("/api/cameras/{name}/settings", get(settings))
        .route("/api/cameras/{name}/settings/{key}", get(setting).put(set_setting))
        .route("/api/cameras/{name}/capture", axum::routing::post(capture))
        .route("/api/cameras/{name}/events", get(events))
        .route("/api/cameras/{name}/imports", get(imports))
        .route("/api/cameras/{name}/imports/{id}", get(import_file))
        .route("/api/cameras/{name}/snapshot.jpg", get(snapshot))
        .route("/api/cameras/{name}/live.mp4", get(live_mp4))
        .route("/api/cameras/{name}/live.mjpeg", get(live_mjpeg))
        .route("/api/frame.jpeg", get(go2rtc_frame))
        .route("/api/stream.mp4", get(go2rtc_stream))
        .route("/api/streams", get(go2rtc_streams))
        .route("/", get(index))
        .route("/ui/{*file}", get(asset))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such page") });
    let security = tower::ServiceBuilder::new()
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; \
                 connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
            ),
        ));
    api.layer(axum::middleware::from_fn_with_state(Arc::clone(&app), guard)).layer(security).with_state(app)
}

/// A JSON error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: serde_json::Value,
    www_authenticate: bool,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, body: json!({ "error": message.into() }), www_authenticate: false }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if self.www_authenticate {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"camctl\", charset=\"UTF-8\""),
            );
        }
        response
    }
}

impl From<CallError> for ApiError {
    fn from(e: CallError) -> ApiError {
        let status = match &e {
            CallError::NotConnected(_) => StatusCode::CONFLICT,
            CallError::Gone => StatusCode::SERVICE_UNAVAILABLE,
            CallError::Camera(e) => status_of(e),
        };
        ApiError::new(status, camctl_core::text::escape(&e.to_string()).into_owned())
    }
}

fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::InvalidValue(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
        Error::Camera(_) | Error::Rejected(_) => StatusCode::BAD_GATEWAY,
        Error::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::BAD_GATEWAY,
    }
}

type ApiResult<T> = std::result::Result<T, ApiError>;

// ---------------------------------------------------------------------------------------------
// The checks in front of every route.

/// Credentials, Host (against DNS rebinding onto loopback) and Origin (against cross-site
/// requests that change state).
async fn guard(State(app): AppState, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if app.listen.ip().is_loopback() && !host_is_loopback(headers) {
        return ApiError::new(StatusCode::MISDIRECTED_REQUEST, "unexpected Host header").into_response();
    }
    if app.auth.is_set() && !authorized(&app.auth, headers) {
        let mut e = ApiError::new(StatusCode::UNAUTHORIZED, "credentials required");
        e.www_authenticate = true;
        return e.into_response();
    }
    let changes_state = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state && cross_site(headers) {
        return ApiError::new(StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    next.run(request).await
}

fn host_is_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return true };
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn authorized(auth: &Credentials, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        return auth.accepts_token(rest.trim());
    }
    camctl_core::serve::basic_credentials(value)
        .is_some_and(|(user, password)| auth.accepts_basic(&user, &password))
}

/// A browser request made by another site: its `Origin` is not this server, or the browser says so.
fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && (site == "cross-site" || site == "same-site")
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return false };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, h)| h);
    origin == "null" || !origin_host.eq_ignore_ascii_case(host)
}

// ---------------------------------------------------------------------------------------------
// Cameras.

#[derive(Serialize)]
struct Capabilities {
    media: bool,
    capture: bool,
    settings: bool,
    live: bool,
}

#[derive(Serialize)]
struct Summary {
    name: String,
    protocol: Family,
    state: SessionState,
    error: Option<String>,
    live: Option<Codec>,
    rtsp: Option<String>,
    import: Option<serde_json::Value>,
    capabilities: Capabilities,
}

fn summary(app: &App, handle: &CameraHandle) -> Summary {
    let status = handle.status();
    let live = status.live.map(|codec| handle.feed.params().map_or(codec, |p| p.codec));
    let rtsp = matches!(live, Some(Codec::H264 | Codec::H265))
        .then(|| format!("rtsp://{}/{}", app.rtsp, handle.name));
    Summary {
        name: handle.name.clone(),
        protocol: handle.family,
        state: status.state,
        error: status.error,
        live,
        rtsp,
        import: handle.import.as_ref().map(|i| json!({ "folder": i.dir.display().to_string() })),
        capabilities: Capabilities {
            media: handle.family.has_media(),
            capture: handle.family.has_media(),
            settings: true,
            live: live.is_some(),
        },
    }
}

fn handle_of<'a>(app: &'a App, name: &str) -> ApiResult<&'a CameraHandle> {
    app.cameras.get(name).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, format!("no camera named {:?}", camctl_core::text::escape(name)))
    })
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("openapi.json")).into_response()
}

async fn list_cameras(State(app): AppState) -> Json<Vec<Summary>> {
    Json(app.cameras.values().map(|h| summary(&app, h)).collect())
}

async fn camera(State(app): AppState, UrlPath(name): UrlPath<String>) -> ApiResult<Json<serde_json::Value>> {
    let handle = handle_of(&app, &name)?;
    let mut value = serde_json::to_value(summary(&app, handle)).unwrap_or_default();
    let info = handle.status().info.map(|i| {
        json!({
            "manufacturer": i.manufacturer, "model": i.model, "serial": i.serial,
            "firmware": i.firmware, "battery": i.battery, "extra": i.extra,
        })
    });
    value["info"] = info.unwrap_or(serde_json::Value::Null);
    Ok(Json(value))
}

async fn media_list(State(app): AppState, UrlPath(name): UrlPath<String>) -> ApiResult<Json<Vec<MediaItem>>> {
    let handle = handle_of(&app, &name)?;
    let items = handle.call(|s| Box::pin(async move { Ok(s.listing().await?.to_vec()) })).await?;
    Ok(Json(items))
}

/// A byte range asked for: from `start`, `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ByteRange {
    start: u64,
    len: u64,
}

/// `Range: bytes=a-b` (one range; suffix and open forms) against a file of `size` bytes. `Ok(None)`:
/// the whole file; `Err`: unsatisfiable. Several ranges are answered as the whole file (allowed).
fn parse_range(header: Option<&str>, size: u64) -> std::result::Result<Option<ByteRange>, ()> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let suffix: u64 = b.parse().map_err(|_| ())?;
        if suffix == 0 {
            return Err(());
        }
        (size.saturating_sub(suffix), size.checked_sub(1).ok_or(())?)
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>().map_err(|_| ())?.min(size.saturating_sub(1))
        };
        (start, end)
    };
    if start >= size || end < start {
        return Err(());
    }
    Ok(Some(ByteRange { start, len: end - start + 1 }))
}

/// How long a download may wait for its HTTP client before the client is given up on (the camera's
/// owner must not be held by a slow reader).
const CLIENT_STALL: Duration = Duration::from_secs(5);

/// Passes the first `remaining` bytes on and swallows the rest, also after the reader went away or
/// stalled for [`CLIENT_STALL`]: the camera's transfer always runs to its end, so that its session
/// stays in step.
struct RangeWriter<W> {
    inner: Option<W>,
    remaining: u64,
    stalled: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for RangeWriter<W> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::task::Poll;
        let wanted = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        if wanted == 0 || self.inner.is_none() {
            return Poll::Ready(Ok(buf.len()));
        }
        let inner = self.inner.as_mut().expect("checked above");
        match std::pin::Pin::new(inner).poll_write(cx, &buf[..wanted]) {
            Poll::Ready(Ok(n)) => {
                self.stalled = None;
                self.remaining -= n as u64;
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(_)) => {
                // The HTTP client left: the rest goes nowhere.
                self.inner = None;
                Poll::Ready(Ok(buf.len()))
            }
            Poll::Pending => {
                let timer = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(CLIENT_STALL)));
                if timer.as_mut().poll(cx).is_ready() {
                    tracing::debug!("an HTTP client stopped reading a download: the rest is discarded");
                    self.inner = None;
                    self.stalled = None;
                    return Poll::Ready(Ok(buf.len()));
                }
                Poll::Pending
            }
        }
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.inner.as_mut() {
            Some(w) => std::pin::Pin::new(w).poll_flush(cx).map(|_| Ok(())),
            None => std::task::Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.inner.as_mut() {
            Some(w) => std::pin::Pin::new(w).poll_shutdown(cx).map(|_| Ok(())),
            None => std::task::Poll::Ready(Ok(())),
        }
    }
}

/// The body of a response read from `reader` in chunks.
fn body_of(reader: impl AsyncRead + Unpin + Send + 'static) -> Body {
    // One buffer, refilled: each chunk is split off what was read, so small reads do not each
    // hold a fresh 64 KiB allocation.
    let buffer = bytes::BytesMut::with_capacity(BODY_CHUNK);
    let chunks = stream::unfold((reader, buffer), |(mut reader, mut buffer)| async move {
        if buffer.capacity() < BODY_CHUNK / 4 {
            buffer.reserve(BODY_CHUNK);
        }
        match reader.read_buf(&mut buffer).await {
            Ok(0) => None,
            Ok(_) => Some((Ok::<_, std::io::Error>(buffer.split().freeze()), (reader, buffer))),
            Err(e) => Some((Err(e), (reader, buffer))),
        }
    });
    Body::from_stream(chunks)
}

/// The size of the buffer a streamed body is read into.
const BODY_CHUNK: usize = 64 * 1024;

/// The content type of a file by its extension.
fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" | "thm" => "image/jpeg",
        "png" => "image/png",
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

type Head = std::result::Result<(MediaItem, Option<ByteRange>), ApiError>;

async fn media_file(
    State(app): AppState,
    UrlPath((name, path)): UrlPath<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    // HEAD answers from the listing: no transfer for a body nobody reads.
    let head_only = method == Method::HEAD;
    let handle = handle_of(&app, &name)?.clone();
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (reader, writer) = tokio::io::duplex(DOWNLOAD_BUFFER);
    let (head_tx, head_rx) = tokio::sync::oneshot::channel::<Head>();
    let head_tx = Arc::new(std::sync::Mutex::new(Some(head_tx)));
    let send_head = {
        let head_tx = Arc::clone(&head_tx);
        move |head: Head| {
            if let Some(tx) = head_tx.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = tx.send(head);
            }
        }
    };
    let send_error = send_head.clone();
    tokio::spawn(async move {
        let result = handle
            .call(move |s| {
                Box::pin(async move {
                    let find = |items: &[MediaItem]| items.iter().find(|i| i.path == path).cloned();
                    let mut item = find(s.listing().await?);
                    if item.is_none() {
                        // Shot since the listing was read?
                        s.listing_changed();
                        item = find(s.listing().await?);
                    }
                    let Some(item) = item else {
                        return Err(Error::NotFound(format!(
                            "{} on the camera",
                            camctl_core::text::escape(&path)
                        )));
                    };
                    let range = match parse_range(range_header.as_deref(), item.size) {
                        Ok(r) => r,
                        Err(()) => {
                            let mut e =
                                ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
                            e.body["size"] = json!(item.size);
                            send_head(Err(e));
                            return Ok(());
                        }
                    };
                    send_head(Ok((item.clone(), range)));
                    let (start, len) = range.map_or((0, item.size), |r| (r.start, r.len));
                    if head_only {
                        return Ok(());
                    }
                    let mut out = RangeWriter { inner: Some(writer), remaining: len, stalled: None };
                    s.camera.download(&item, start, &mut out).await?;
                    Ok(())
                })
            })
            .await;
        if let Err(e) = result {
            send_error(Err(ApiError::from(e)));
        }
    });
    let (item, range) = match head_rx.await {
        Ok(head) => head?,
        Err(_) => return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the camera's owner went away")),
    };
    let mut response = Response::new(body_of(reader));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&item.path)));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    match range {
        Some(r) => {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let value = format!("bytes {}-{}/{}", r.start, r.start + r.len - 1, item.size);
            if let Ok(v) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            response.headers_mut().insert(header::CONTENT_LENGTH, r.len.into());
        }
        None => {
            response.headers_mut().insert(header::CONTENT_LENGTH, item.size.into());
        }
    }
    Ok(response)
}

async fn settings(State(app): AppState, UrlPath(name): UrlPath<String>) -> ApiResult<Json<Vec<Setting>>> {
    let handle = handle_of(&app, &name)?;
    Ok(Json(handle.call(|s| Box::pin(s.camera.settings())).await?))
}

async fn setting(
    State(app): AppState,
    UrlPath((name, key)): UrlPath<(String, String)>,
) -> ApiResult<Json<Setting>> {
    let handle = handle_of(&app, &name)?;
    Ok(Json(handle.call(move |s| Box::pin(async move { s.camera.setting(&key).await })).await?))
}

#[derive(Deserialize)]
struct NewValue {
    value: serde_json::Value,
}

async fn set_setting(
    State(app): AppState,
    UrlPath((name, key)): UrlPath<(String, String)>,
    body: std::result::Result<Json<NewValue>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<Setting>> {
    let handle = handle_of(&app, &name)?;
    let Json(NewValue { value }) = body
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("expected {{\"value\": ...}}: {e}")))?;
    let value = match value {
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "the value must be a string, number or boolean",
            ));
        }
    };
    let result = handle
        .call(move |s| {
            Box::pin(async move {
                match s.camera.set_setting(&key, &value).await {
                    Ok(setting) => Ok(Ok(setting)),
                    // Refused: the answer carries the setting with its allowed values.
                    Err(e @ (Error::InvalidValue(_) | Error::Camera(_))) => {
                        let setting = s.camera.setting(&key).await.ok();
                        Ok(Err((e.to_string(), setting)))
                    }
                    Err(e) => Err(e),
                }
            })
        })
        .await?;
    match result {
        Ok(setting) => Ok(Json(setting)),
        Err((message, setting)) => {
            let mut e = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                camctl_core::text::escape(&message).into_owned(),
            );
            e.body["setting"] = serde_json::to_value(setting).unwrap_or_default();
            Err(e)
        }
    }
}

async fn capture(State(app): AppState, UrlPath(name): UrlPath<String>) -> ApiResult<Json<serde_json::Value>> {
    let handle = handle_of(&app, &name)?;
    let files = handle
        .call(|s| {
            Box::pin(async move {
                let files = s.camera.capture().await?;
                s.made(&files);
                Ok(files)
            })
        })
        .await?;
    Ok(Json(json!({ "files": files })))
}

// ---------------------------------------------------------------------------------------------
// Events and imports.

async fn events(
    State(app): AppState,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<Sse<impl Stream<Item = std::result::Result<SseEvent, Infallible>>>> {
    let handle = handle_of(&app, &name)?.clone();
    let notices = handle.notices();
    let first = state_event(&app, &handle);
    let follow = stream::unfold((notices, app, handle), |(mut notices, app, handle)| async move {
        loop {
            let event = match notices.recv().await {
                Ok(Notice::Camera(e)) => SseEvent::default().event("camera").json_data(&e).ok(),
                Ok(Notice::State) if handle.status().state == SessionState::Stopped => {
                    // Serve is going: this is the last event.
                    let last = state_event(&app, &handle);
                    return Some((Ok(last), (closed_receiver(), app, handle)));
                }
                Ok(Notice::State) => Some(state_event(&app, &handle)),
                Ok(Notice::Imported(id)) => import_view(&handle, id)
                    .and_then(|v| SseEvent::default().event("import").json_data(v).ok()),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            };
            if let Some(event) = event {
                return Some((Ok(event), (notices, app, handle)));
            }
        }
    });
    let all = stream::once(async move { Ok(first) }).chain(follow);
    Ok(Sse::new(all).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// A receiver whose channel is closed, so that the event stream ends after its last event.
fn closed_receiver() -> tokio::sync::broadcast::Receiver<Notice> {
    tokio::sync::broadcast::channel(1).1
}

fn state_event(app: &App, handle: &CameraHandle) -> SseEvent {
    SseEvent::default().event("state").json_data(summary(app, handle)).unwrap_or_default()
}

#[derive(Serialize)]
struct ImportView {
    id: i64,
    camera_path: String,
    size: u64,
    imported_at: String,
    name: String,
    url: String,
}

fn view(handle: &CameraHandle, id: i64, import: &crate::catalog::Import) -> ImportView {
    ImportView {
        id,
        camera_path: import.camera_path.clone(),
        size: import.size,
        imported_at: import.imported_at.clone(),
        name: import.local_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        url: format!("/api/cameras/{}/imports/{id}", handle.name),
    }
}

fn import_view(handle: &CameraHandle, id: i64) -> Option<ImportView> {
    let import = handle.import.as_ref()?;
    let record = import.catalog.get(id).ok()??;
    Some(view(handle, id, &record))
}

async fn imports(State(app): AppState, UrlPath(name): UrlPath<String>) -> ApiResult<Json<Vec<ImportView>>> {
    let handle = handle_of(&app, &name)?;
    let (Some(import), Some(identity)) = (&handle.import, handle.status().identity) else {
        return Ok(Json(Vec::new()));
    };
    let records = import
        .catalog
        .recent(&identity, RECENT_IMPORTS)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(
        records
            .iter()
            .filter(|(_, r)| inside(&r.local_path, &import.dir))
            .map(|(id, r)| view(handle, *id, r))
            .collect(),
    ))
}

/// Whether `file` is inside `dir` (after resolving links), so that a catalog record elsewhere is
/// never served.
fn inside(file: &Path, dir: &Path) -> bool {
    match (std::fs::canonicalize(file), std::fs::canonicalize(dir)) {
        (Ok(f), Ok(d)) => f.starts_with(d),
        _ => false,
    }
}

async fn import_file(
    State(app): AppState,
    UrlPath((name, id)): UrlPath<(String, i64)>,
) -> ApiResult<Response> {
    let handle = handle_of(&app, &name)?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "no such import");
    let import = handle.import.as_ref().ok_or_else(not_found)?;
    let record = import.catalog.get(id).ok().flatten().ok_or_else(not_found)?;
    if Some(&record.camera) != handle.status().identity.as_ref() || !inside(&record.local_path, &import.dir) {
        return Err(not_found());
    }
    let path: PathBuf = record.local_path;
    let file = tokio::fs::File::open(&path).await.map_err(|_| not_found())?;
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let mut response = Response::new(body_of(file));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&path.to_string_lossy())));
    h.insert(header::CONTENT_LENGTH, len.into());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Pictures and live streams.

async fn snapshot(State(app): AppState, UrlPath(name): UrlPath<String>) -> ApiResult<Response> {
    let handle = handle_of(&app, &name)?;
    snapshot_of(&app, handle).await
}

async fn snapshot_of(app: &App, handle: &CameraHandle) -> ApiResult<Response> {
    let feed = &handle.feed;
    if handle.status().live.is_none() {
        return Err(ApiError::new(StatusCode::NOT_IMPLEMENTED, "this camera has no live view"));
    }
    if !feed.is_available() {
        return Err(ApiError::new(StatusCode::CONFLICT, "the camera is not connected"));
    }
    let _demand = feed.demand();
    let frame = feed
        .wait_keyframe(FIRST_FRAME_WAIT)
        .await
        .ok_or_else(|| ApiError::new(StatusCode::GATEWAY_TIMEOUT, "no picture from the camera"))?;
    let jpeg = match frame.codec {
        Codec::Jpeg => Bytes::from(frame.data.clone()),
        Codec::H264 | Codec::H265 => decoded_snapshot(app, feed, frame).await?,
    };
    Ok(([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "no-store")], jpeg).into_response())
}

/// The keyframe as JPEG: decoded once per keyframe however many ask, and at most
/// [`PARALLEL_DECODES`] decodes at a time.
async fn decoded_snapshot(
    app: &App,
    feed: &camctl_core::live::LiveFeed,
    frame: Arc<camctl_core::live::Frame>,
) -> ApiResult<Bytes> {
    let cached = || {
        let last = app.last_snapshot.lock().unwrap_or_else(|e| e.into_inner());
        last.as_ref().filter(|(f, _)| Arc::ptr_eq(f, &frame)).map(|(_, j)| j.clone())
    };
    if let Some(jpeg) = cached() {
        return Ok(jpeg);
    }
    let _permit = app
        .decodes
        .acquire()
        .await
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
    // Another request may have decoded it meanwhile.
    if let Some(jpeg) = cached() {
        return Ok(jpeg);
    }
    let params = feed
        .params()
        .ok_or_else(|| ApiError::new(StatusCode::GATEWAY_TIMEOUT, "no parameter sets from the camera"))?;
    let input = Arc::clone(&frame);
    let jpeg = tokio::task::spawn_blocking(move || crate::snapshot::keyframe_to_jpeg(&params, &input, 85))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| {
            let status = match e {
                crate::snapshot::SnapshotError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
                _ => StatusCode::BAD_GATEWAY,
            };
            ApiError::new(status, e.to_string())
        })?;
    let jpeg = Bytes::from(jpeg);
    *app.last_snapshot.lock().unwrap_or_else(|e| e.into_inner()) = Some((frame, jpeg.clone()));
    Ok(jpeg)
}

async fn live_mp4(State(app): AppState, UrlPath(name): UrlPath<String>) -> ApiResult<Response> {
    let handle = handle_of(&app, &name)?;
    live_mp4_of(handle).await
}

async fn live_mp4_of(handle: &CameraHandle) -> ApiResult<Response> {
    let feed = handle.feed.clone();
    if !matches!(handle.family.live_codec(), Some(Codec::H264 | Codec::H265)) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "this camera has no H.264/H.265 live video"));
    }
    if !feed.is_available() {
        return Err(ApiError::new(StatusCode::CONFLICT, "the camera is not connected"));
    }
    let demand = feed.demand();
    let subscriber = feed.subscribe();
    let params = feed
        .wait_params(FIRST_FRAME_WAIT)
        .await
        .ok_or_else(|| ApiError::new(StatusCode::GATEWAY_TIMEOUT, "no video from the camera"))?;
    let unplayable = |e: camctl_core::fmp4::Fmp4Error| {
        ApiError::new(StatusCode::NOT_IMPLEMENTED, format!("the camera's video cannot be put in MP4: {e}"))
    };
    let init = camctl_core::fmp4::init_segment(&params).map_err(unplayable)?;
    let codecs = camctl_core::fmp4::codecs_string(&params).map_err(unplayable)?;
    struct Fragments {
        _demand: camctl_core::live::Demand,
        subscriber: camctl_core::live::Subscriber,
        fragmenter: camctl_core::fmp4::Fragmenter,
        waiting_for_keyframe: bool,
        last_pts: Option<u64>,
        interval: u32,
    }
    let state = Fragments {
        _demand: demand,
        subscriber,
        fragmenter: camctl_core::fmp4::Fragmenter::new(),
        waiting_for_keyframe: true,
        last_pts: None,
        interval: 6000,
    };
    let fragments = stream::unfold(state, |mut s| async move {
        loop {
            let frame = match s.subscriber.recv().await {
                Ok(f) => f,
                Err(RecvError::Lagged(_)) => {
                    s.waiting_for_keyframe = true;
                    continue;
                }
                Err(RecvError::Ended) => return None,
            };
            if s.waiting_for_keyframe && !frame.keyframe {
                continue;
            }
            s.waiting_for_keyframe = false;
            if let Some(last) = s.last_pts
                && let Some(step) = frame.pts.checked_sub(last).filter(|d| *d > 0 && *d < 90_000)
            {
                s.interval = step as u32;
            }
            s.last_pts = Some(frame.pts);
            match s.fragmenter.fragment(&frame, s.interval) {
                Ok(bytes) => return Some((Ok::<_, Infallible>(Bytes::from(bytes)), s)),
                // One frame that does not fit (damaged): the next keyframe starts clean.
                Err(e) => {
                    tracing::debug!("live.mp4: frame left out: {e}");
                    s.waiting_for_keyframe = true;
                }
            }
        }
    });
    let body = stream::once(async move { Ok::<_, Infallible>(Bytes::from(init)) }).chain(fragments);
    let mut response = Response::new(Body::from_stream(body));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&codecs) {
        h.insert("x-codecs", v);
    }
    Ok(response)
}

async fn live_mjpeg(State(app): AppState, UrlPath(name): UrlPath<String>) -> ApiResult<Response> {
    let handle = handle_of(&app, &name)?;
    let feed = handle.feed.clone();
    if handle.status().live != Some(Codec::Jpeg) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "this camera has no JPEG live view (use live.mp4)"));
    }
    if !feed.is_available() {
        return Err(ApiError::new(StatusCode::CONFLICT, "the camera is not connected"));
    }
    let state = (feed.demand(), feed.subscribe());
    let parts = stream::unfold(state, |(demand, mut subscriber)| async move {
        loop {
            match subscriber.recv().await {
                Ok(frame) => {
                    let mut part = format!(
                        "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                        frame.data.len()
                    )
                    .into_bytes();
                    part.extend_from_slice(&frame.data);
                    part.extend_from_slice(b"\r\n");
                    return Some((Ok::<_, Infallible>(Bytes::from(part)), (demand, subscriber)));
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Ended) => return None,
            }
        }
    });
    let mut response = Response::new(Body::from_stream(parts));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("multipart/x-mixed-replace; boundary=frame"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// go2rtc's names for the same things, for tools that speak them.

#[derive(Deserialize)]
struct Source {
    src: String,
}

type SourceQuery = std::result::Result<Query<Source>, axum::extract::rejection::QueryRejection>;

fn source_of(q: SourceQuery) -> ApiResult<Source> {
    q.map(|Query(s)| s).map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "give the camera as ?src=NAME"))
}

async fn go2rtc_frame(State(app): AppState, q: SourceQuery) -> ApiResult<Response> {
    let q = source_of(q)?;
    snapshot_of(&app, handle_of(&app, &q.src)?).await
}

async fn go2rtc_stream(State(app): AppState, q: SourceQuery) -> ApiResult<Response> {
    let q = source_of(q)?;
    live_mp4_of(handle_of(&app, &q.src)?).await
}

async fn go2rtc_streams(State(app): AppState) -> Json<serde_json::Value> {
    let streams: serde_json::Map<String, serde_json::Value> = app
        .cameras
        .values()
        .map(|h| {
            let s = summary(&app, h);
            (h.name.clone(), json!({ "producers": [{ "url": s.rtsp, "state": s.state }], "consumers": [] }))
        })
        .collect();
    Json(serde_json::Value::Object(streams))
}

// ---------------------------------------------------------------------------------------------
// The web UI.

async fn index() -> Response {
    asset_response("index.html")
}

async fn asset(UrlPath(file): UrlPath<String>) -> Response {
    asset_response(&file)
}

fn asset_response(file: &str) -> Response {
    // Hidden files (the folder's placeholder) are not part of the UI.
    let hidden = file.split('/').any(|part| part.starts_with('.'));
    match Assets::get(file).filter(|_| !hidden) {
        Some(content) => ([(header::CONTENT_TYPE, content_type(file))], content.data).into_response(),
        None => ApiError::new(StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=2-5"), 10), Ok(Some(ByteRange { start: 2, len: 4 })));
        assert_eq!(parse_range(Some("bytes=7-"), 10), Ok(Some(ByteRange { start: 7, len: 3 })));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Ok(Some(ByteRange { start: 7, len: 3 })));
        assert_eq!(parse_range(Some("bytes=5-100"), 10), Ok(Some(ByteRange { start: 5, len: 5 })));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=x-2"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=-0"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-"), 0), Err(()));
    }

    #[test]
    fn hosts_and_origins() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_str(v).unwrap());
            }
            h
        };
        assert!(host_is_loopback(&headers(&[("host", "127.0.0.1:8380")])));
        assert!(host_is_loopback(&headers(&[("host", "localhost:8380")])));
        assert!(host_is_loopback(&headers(&[("host", "[::1]:8380")])));
        assert!(!host_is_loopback(&headers(&[("host", "evil.example:8380")])));
        assert!(!cross_site(&headers(&[("host", "127.0.0.1:8380"), ("origin", "http://127.0.0.1:8380")])));
        assert!(cross_site(&headers(&[("host", "127.0.0.1:8380"), ("origin", "http://evil.example")])));
        assert!(cross_site(&headers(&[("host", "127.0.0.1:8380"), ("sec-fetch-site", "cross-site")])));
        assert!(!cross_site(&headers(&[("host", "127.0.0.1:8380")])));
    }
}
