//! One camera type for every URL scheme, so each command is written once.

use camctl_core::{Camera, CameraInfo, CameraUrl, Error, Event, MediaItem, Result, Setting};
use camctl_ptpip::PtpCamera;
use tokio::io::AsyncWrite;

/// A connected camera of any supported protocol.
pub enum AnyCamera {
    Ptp(PtpCamera),
}

impl AnyCamera {
    /// Connects to the camera a URL names.
    pub async fn connect(url: &str) -> Result<AnyCamera> {
        let parsed: CameraUrl =
            url.parse().map_err(|e: camctl_core::UrlError| Error::InvalidValue(e.to_string()))?;
        match parsed.scheme.as_str() {
            "ptpip" | "ptp" => Ok(AnyCamera::Ptp(PtpCamera::connect(&parsed).await?)),
            other => Err(Error::Unsupported(format!("URL scheme {other}:// (supported: ptpip://)"))),
        }
    }
}

macro_rules! dispatch {
    ($self:expr, $cam:ident => $body:expr) => {
        match $self {
            AnyCamera::Ptp($cam) => $body,
        }
    };
}

impl Camera for AnyCamera {
    async fn info(&mut self) -> Result<CameraInfo> {
        dispatch!(self, c => c.info().await)
    }
    async fn list_media(&mut self) -> Result<Vec<MediaItem>> {
        dispatch!(self, c => c.list_media().await)
    }
    async fn download<W>(&mut self, item: &MediaItem, offset: u64, out: &mut W) -> Result<u64>
    where
        W: AsyncWrite + Unpin + Send,
    {
        dispatch!(self, c => c.download(item, offset, out).await)
    }
    async fn capture(&mut self) -> Result<Vec<MediaItem>> {
        dispatch!(self, c => c.capture().await)
    }
    async fn settings(&mut self) -> Result<Vec<Setting>> {
        dispatch!(self, c => c.settings().await)
    }
    async fn setting(&mut self, key: &str) -> Result<Setting> {
        dispatch!(self, c => c.setting(key).await)
    }
    async fn set_setting(&mut self, key: &str, value: &str) -> Result<Setting> {
        dispatch!(self, c => c.set_setting(key, value).await)
    }
    async fn next_event(&mut self) -> Result<Option<Event>> {
        dispatch!(self, c => c.next_event().await)
    }
    async fn close(self) -> Result<()> {
        dispatch!(self, c => c.close().await)
    }
}
