//! `camctl serve`: every configured camera behind one HTTP API, web UI and RTSP server.
//!
//! Each camera is owned by one task ([`owner`]) that keeps its session; the HTTP handlers
//! ([`api`]), the RTSP viewers (through the camera's live feed) and the auto-import all go through
//! it, so a camera that allows one or two sessions serves any number of clients.

pub mod api;
pub mod config;
pub mod owner;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use camctl_core::live::Codec;
use camctl_core::rtsp::{Mounts, RtspAuth, RtspConfig, RtspServer};
use camctl_core::{Error, Result};

use crate::catalog::Catalog;
use crate::template::FilenameTemplate;
use config::ServeConfig;
use owner::ImportSetup;

/// How long the owners get to close their sessions at shutdown.
const CLOSE_WAIT: Duration = Duration::from_secs(10);
/// HTTP connections served at once; more wait to be accepted (so idle ones cannot exhaust the
/// process's file descriptors).
const MAX_HTTP_CONNECTIONS: usize = 256;
/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The HTTP listener with a cap on open connections: a connection holds a permit until it closes.
struct CappedListener {
    inner: tokio::net::TcpListener,
    permits: Arc<tokio::sync::Semaphore>,
}

impl CappedListener {
    /// The next connection, once a permit is free.
    async fn accept(&mut self) -> (Capped, std::net::SocketAddr) {
        // The semaphore is never closed, so this cannot fail.
        let permit = Arc::clone(&self.permits).acquire_owned().await.expect("the semaphore stays open");
        loop {
            match self.inner.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    return (Capped { stream, _permit: permit }, peer);
                }
                // Out of descriptors or a connection reset before accept: wait a little, go on.
                Err(e) => {
                    tracing::debug!("HTTP accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// Serves HTTP/1.1 on `listener` until `stop`, then lets open requests finish for a moment. Each
/// connection must send a request's headers within [`HEADER_READ_TIMEOUT`] (also between requests),
/// so that a client that connects and says nothing does not hold a slot.
async fn serve_http(
    mut listener: CappedListener,
    router: axum::Router,
    stop: impl std::future::Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
    tokio::pin!(stop);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let connection = graceful.watch(builder.serve_connection(hyper_util::rt::TokioIo::new(io), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, "HTTP connection: {e}");
            }
        });
    }
    // Long streams (SSE, live video) have ended with their feeds; the rest gets a moment.
    let _ = tokio::time::timeout(Duration::from_secs(2), graceful.shutdown()).await;
}

/// An accepted HTTP connection and its permit.
struct Capped {
    stream: tokio::net::TcpStream,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl tokio::io::AsyncRead for Capped {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Capped {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Serves until SIGINT/SIGTERM, then closes every camera session.
pub async fn run(config: ServeConfig) -> Result<()> {
    let stop_signal = crate::signal::stop_signal()?;
    let catalog = if config.cameras.iter().any(|c| c.import.is_some()) {
        Some(Arc::new(Catalog::open(&Catalog::location(config.catalog.as_deref())?)?))
    } else {
        None
    };
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mounts = Mounts::new();
    let mut cameras = BTreeMap::new();
    let mut owners = Vec::new();
    for camera in &config.cameras {
        let import = match (&camera.import, &catalog) {
            (Some(dir), Some(catalog)) => {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
                let template =
                    camera.filename.as_deref().map(FilenameTemplate::parse).transpose()?.map(Arc::new);
                Some(ImportSetup { dir: dir.clone(), template, catalog: Arc::clone(catalog) })
            }
            _ => None,
        };
        let (handle, task) = owner::spawn(camera, import, stop.clone())?;
        if matches!(handle.family.live_codec(), Some(Codec::H264 | Codec::H265)) {
            mounts.insert(&format!("/{}", camera.name), handle.feed.clone());
        }
        cameras.insert(camera.name.clone(), handle);
        owners.push(task);
    }
    let auth = config.auth.clone();
    let rtsp_config = RtspConfig {
        auth: auth.is_set().then(|| {
            let auth = auth.clone();
            RtspAuth::new(move |user, password| auth.accepts_basic(user, password))
        }),
        ..RtspConfig::default()
    };
    let rtsp = RtspServer::bind_mounts(config.rtsp_listen, mounts, rtsp_config)
        .await
        .map_err(|e| Error::io(format!("RTSP listen {}", config.rtsp_listen), e))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::io(format!("listen {}", config.listen), e))?;
    let listen = listener.local_addr().map_err(|e| Error::io("listen", e))?;
    let feeds: Vec<_> = cameras.values().map(|h| h.feed.clone()).collect();
    let app = Arc::new(api::App {
        cameras,
        auth,
        listen,
        rtsp: rtsp.local_addr(),
        decodes: tokio::sync::Semaphore::new(api::PARALLEL_DECODES),
        last_snapshot: std::sync::Mutex::new(None),
    });
    let router = api::router(app);
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "serving http://{listen}");
        let _ = out.flush();
    }
    tracing::info!("RTSP at rtsp://{}/NAME", rtsp.local_addr());
    // The servers stop after the owners, so that viewers get their BYE and event streams their last
    // state before the connections close.
    let (servers_stop_tx, servers_stop) = tokio::sync::watch::channel(false);
    let listener = CappedListener {
        inner: listener,
        permits: Arc::new(tokio::sync::Semaphore::new(MAX_HTTP_CONNECTIONS)),
    };
    let http = tokio::spawn(serve_http(listener, router, crate::signal::stopped(&servers_stop)));
    let rtsp = tokio::spawn(rtsp.serve_until(crate::signal::stopped(&servers_stop)));
    stop_signal.await;
    tracing::info!("stopping: closing the camera sessions");
    // Viewers first: every live feed ends (RTSP viewers get a BYE).
    for feed in &feeds {
        feed.set_available(false);
    }
    let _ = stop_tx.send(true);
    let closing = async {
        for owner in owners {
            let _ = owner.await;
        }
    };
    if tokio::time::timeout(CLOSE_WAIT, closing).await.is_err() {
        tracing::warn!("some camera sessions did not close in {} s", CLOSE_WAIT.as_secs());
    }
    let _ = servers_stop_tx.send(true);
    // Whatever is still open after this is cut.
    let _ = tokio::time::timeout(Duration::from_secs(3), http).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), rtsp).await;
    Ok(())
}
