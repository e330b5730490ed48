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
    let app = Arc::new(api::App { cameras, auth, listen, rtsp: rtsp.local_addr() });
    let router = api::router(app);
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "serving http://{listen}");
        let _ = out.flush();
    }
    tracing::info!("RTSP at rtsp://{}/NAME", rtsp.local_addr());
    let http_stop = {
        let stop = stop.clone();
        async move {
            let mut stop = stop;
            let _ = stop.wait_for(|s| *s).await;
        }
    };
    let rtsp_stop = {
        let stop = stop.clone();
        async move {
            let mut stop = stop;
            let _ = stop.wait_for(|s| *s).await;
        }
    };
    let http = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(http_stop).await {
            tracing::warn!("HTTP server: {e}");
        }
    });
    let rtsp = tokio::spawn(rtsp.serve_until(rtsp_stop));
    stop_signal.await;
    tracing::info!("stopping: closing the camera sessions");
    let _ = stop_tx.send(true);
    let closing = async {
        for owner in owners {
            let _ = owner.await;
        }
    };
    if tokio::time::timeout(CLOSE_WAIT, closing).await.is_err() {
        tracing::warn!("some camera sessions did not close in {} s", CLOSE_WAIT.as_secs());
    }
    // Open HTTP streams (SSE, live video) end with their feeds; whatever is left is cut.
    let _ = tokio::time::timeout(Duration::from_secs(2), http).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), rtsp).await;
    Ok(())
}
