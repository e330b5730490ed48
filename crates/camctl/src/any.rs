//! One camera type for every URL scheme, so each command is written once.

use camctl_ambarella::YiCamera;
use camctl_core::{Camera, CameraInfo, CameraUrl, Error, Event, MediaItem, Result, Setting};
use camctl_lytro::LytroCamera;
use camctl_ptpip::PtpCamera;
use camctl_wyze::WyzeCamera;
use tokio::io::AsyncWrite;

/// A connected camera of any supported protocol.
pub enum AnyCamera {
    Ptp(Box<PtpCamera>),
    Yi(Box<YiCamera>),
    Lytro(Box<LytroCamera>),
    Wyze(Box<WyzeCamera>),
}

impl AnyCamera {
    /// Connects to the camera a URL names.
    pub async fn connect(url: &str) -> Result<AnyCamera> {
        let parsed: CameraUrl =
            url.parse().map_err(|e: camctl_core::UrlError| Error::InvalidValue(e.to_string()))?;
        match parsed.scheme.as_str() {
            "ptpip" | "ptp" => Ok(AnyCamera::Ptp(Box::new(PtpCamera::connect(&parsed).await?))),
            "yi" | "ambarella" => Ok(AnyCamera::Yi(Box::new(YiCamera::connect(&parsed).await?))),
            "lytro" => Ok(AnyCamera::Lytro(Box::new(LytroCamera::connect(&parsed).await?))),
            "wyze" => Ok(AnyCamera::Wyze(Box::new(WyzeCamera::connect(&parsed).await?))),
            other => Err(Error::Unsupported(format!(
                "URL scheme {other}:// (supported: ptpip://, yi:// or ambarella://, lytro://, wyze://)"
            ))),
        }
    }

    /// The Yi camera behind this, for Yi-only commands.
    pub fn yi(&mut self, what: &str) -> Result<&mut YiCamera> {
        match self {
            AnyCamera::Yi(c) => Ok(c),
            _ => Err(Error::Unsupported(format!("{what} needs a yi:// camera"))),
        }
    }

    /// Opens whatever event channel the protocol opens lazily (the Lytro callback port), so that no
    /// event is missed between "connected" and the first wait.
    pub async fn prepare_events(&mut self) -> Result<()> {
        if let AnyCamera::Lytro(c) = self {
            c.client().subscribe().await?;
        }
        Ok(())
    }

    /// The PTP/IP camera, when this is one.
    pub fn ptp(&mut self) -> Option<&mut PtpCamera> {
        match self {
            AnyCamera::Ptp(c) => Some(c),
            _ => None,
        }
    }

    /// The Lytro camera behind this, for Lytro-only options.
    pub fn lytro(&mut self, what: &str) -> Result<&mut LytroCamera> {
        match self {
            AnyCamera::Lytro(c) => Ok(c),
            _ => Err(Error::Unsupported(format!("{what} applies to lytro:// cameras only"))),
        }
    }
}

macro_rules! dispatch {
    ($self:expr, $cam:ident => $body:expr) => {
        match $self {
            AnyCamera::Ptp($cam) => $body,
            AnyCamera::Yi($cam) => $body,
            AnyCamera::Lytro($cam) => $body,
            AnyCamera::Wyze($cam) => $body,
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
    fn reported_md5(&self, item: &MediaItem) -> Option<String> {
        dispatch!(self, c => c.reported_md5(item))
    }
    async fn capture(&mut self) -> Result<Vec<MediaItem>> {
        dispatch!(self, c => c.capture().await)
    }
    async fn delete(&mut self, item: &MediaItem) -> Result<()> {
        dispatch!(self, c => c.delete(item).await)
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
    async fn next_event_within(&mut self, wait: std::time::Duration) -> Result<Option<Event>> {
        dispatch!(self, c => c.next_event_within(wait).await)
    }
    async fn close(self) -> Result<()> {
        match self {
            AnyCamera::Ptp(c) => c.close().await,
            AnyCamera::Yi(c) => c.close().await,
            AnyCamera::Lytro(c) => c.close().await,
            AnyCamera::Wyze(c) => c.close().await,
        }
    }
}
