//! What the message layer needs from a TUTK AV channel, for both roles, and an in-memory implementation.
//!
//! A transport carries `(ioctrl type, bytes)` pairs (HL messages travel with type
//! [`IOTYPE_USER_DEFINED_START`]) and media frames with their [`FrameInfo`]. Everything below (IOTC
//! discovery, DTLS, AV login, ACKs, resends, frame reassembly) is the transport's business.
//!
//! Methods take `&self` so that one task can wait for an ioctrl reply while another receives frames (the
//! emulator streams and answers commands at the same time). Implementations must be cancel-safe in
//! `recv_*`: the client wraps them in timeouts, and a cancelled receive must not lose a message.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use camctl_wyze::transport::{memory_pair, ClientTransport, CameraTransport, IOTYPE_USER_DEFINED_START};
//! let (client, camera) = memory_pair(8);
//! client.send_ioctrl(IOTYPE_USER_DEFINED_START, b"HL".to_vec()).await.unwrap();
//! assert_eq!(camera.recv_ioctrl().await.unwrap(), (0x100, b"HL".to_vec()));
//! # });
//! ```

use std::future::Future;

use tokio::sync::{Mutex, mpsc};

use crate::wire::FrameInfo;

/// The ioctrl type that carries HL messages (`IOTYPE_USER_DEFINED_START`, 0x100).
pub const IOTYPE_USER_DEFINED_START: u32 = 0x100;

/// A media frame: its `FRAMEINFO` and payload (one Annex-B access unit for video).
pub type MediaFrame = (FrameInfo, Vec<u8>);

/// Why a transport operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The peer or the channel is gone (AV_ER_SESSION_CLOSE_BY_REMOTE and friends).
    #[error("transport closed")]
    Closed,
    /// The transport's own timeout (AV_ER_TIMEOUT, AV_ER_REMOTE_TIMEOUT_DISCONNECT).
    #[error("transport timed out")]
    Timeout,
    /// A socket error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Anything else the transport wants to report (e.g. an IOTC/AV error code and its name).
    #[error("{0}")]
    Other(String),
}

/// The client end of an AV channel.
pub trait ClientTransport: Send + Sync {
    /// Sends one ioctrl message (`avSendIOCtrl`).
    fn send_ioctrl(
        &self,
        ctrl_type: u32,
        data: Vec<u8>,
    ) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Waits for the next ioctrl message from the camera (`avRecvIOCtrl`). Cancel-safe.
    fn recv_ioctrl(&self) -> impl Future<Output = Result<(u32, Vec<u8>), TransportError>> + Send;

    /// Waits for the next complete media frame, video or audio (`avRecvFrameData2`). Cancel-safe.
    fn recv_frame(&self) -> impl Future<Output = Result<MediaFrame, TransportError>> + Send;

    /// Whether the session asked for media (video or audio). A transport may drop media frames while
    /// this is off, so that a camera streaming unasked costs no memory. The default ignores it.
    fn set_media_wanted(&self, on: bool) {
        let _ = on;
    }
}

/// The camera end of an AV channel (what the emulator drives).
pub trait CameraTransport: Send + Sync {
    /// Sends one ioctrl message to the client.
    fn send_ioctrl(
        &self,
        ctrl_type: u32,
        data: Vec<u8>,
    ) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Waits for the next ioctrl message from the client. Cancel-safe.
    fn recv_ioctrl(&self) -> impl Future<Output = Result<(u32, Vec<u8>), TransportError>> + Send;

    /// Sends one complete media frame. May wait while the transport is congested (backpressure);
    /// a lossy transport may instead drop it and return `Ok` — the client sees a `frame_no` gap.
    fn send_frame(
        &self,
        info: FrameInfo,
        data: Vec<u8>,
    ) -> impl Future<Output = Result<(), TransportError>> + Send;
}

/// The client end of [`memory_pair`].
#[derive(Debug)]
pub struct MemoryClient {
    ioctrl_tx: mpsc::Sender<(u32, Vec<u8>)>,
    ioctrl_rx: Mutex<mpsc::Receiver<(u32, Vec<u8>)>>,
    frame_rx: Mutex<mpsc::Receiver<MediaFrame>>,
}

/// The camera end of [`memory_pair`].
#[derive(Debug)]
pub struct MemoryCamera {
    ioctrl_tx: mpsc::Sender<(u32, Vec<u8>)>,
    ioctrl_rx: Mutex<mpsc::Receiver<(u32, Vec<u8>)>>,
    frame_tx: mpsc::Sender<MediaFrame>,
}

/// The raw channel ends behind a [`MemoryCamera`], for a transport that moves them over a network
/// (the TUTK server): IOCTRL messages in for the camera, its IOCTRL messages and frames out.
#[derive(Debug)]
pub(crate) struct CameraChannels {
    pub ioctrl_in: mpsc::Sender<(u32, Vec<u8>)>,
    pub ioctrl_out: mpsc::Receiver<(u32, Vec<u8>)>,
    pub frames: mpsc::Receiver<MediaFrame>,
}

/// A camera end whose other side is raw channels (see [`CameraChannels`]).
pub(crate) fn camera_channels(frame_capacity: usize) -> (MemoryCamera, CameraChannels) {
    let (in_tx, in_rx) = mpsc::channel(64);
    let (out_tx, out_rx) = mpsc::channel(64);
    let (frame_tx, frame_rx) = mpsc::channel(frame_capacity.max(1));
    (
        MemoryCamera { ioctrl_tx: out_tx, ioctrl_rx: Mutex::new(in_rx), frame_tx },
        CameraChannels { ioctrl_in: in_tx, ioctrl_out: out_rx, frames: frame_rx },
    )
}

/// A connected in-memory client/camera pair: reliable, ordered, with `frame_capacity` frames of buffering
/// (the camera's `send_frame` waits when the client lags). Dropping one end closes the other.
pub fn memory_pair(frame_capacity: usize) -> (MemoryClient, MemoryCamera) {
    let (camera, ch) = camera_channels(frame_capacity);
    let client = MemoryClient {
        ioctrl_tx: ch.ioctrl_in,
        ioctrl_rx: Mutex::new(ch.ioctrl_out),
        frame_rx: Mutex::new(ch.frames),
    };
    (client, camera)
}

impl ClientTransport for MemoryClient {
    async fn send_ioctrl(&self, ctrl_type: u32, data: Vec<u8>) -> Result<(), TransportError> {
        self.ioctrl_tx.send((ctrl_type, data)).await.map_err(|_| TransportError::Closed)
    }

    async fn recv_ioctrl(&self) -> Result<(u32, Vec<u8>), TransportError> {
        self.ioctrl_rx.lock().await.recv().await.ok_or(TransportError::Closed)
    }

    async fn recv_frame(&self) -> Result<MediaFrame, TransportError> {
        self.frame_rx.lock().await.recv().await.ok_or(TransportError::Closed)
    }
}

impl CameraTransport for MemoryCamera {
    async fn send_ioctrl(&self, ctrl_type: u32, data: Vec<u8>) -> Result<(), TransportError> {
        self.ioctrl_tx.send((ctrl_type, data)).await.map_err(|_| TransportError::Closed)
    }

    async fn recv_ioctrl(&self) -> Result<(u32, Vec<u8>), TransportError> {
        self.ioctrl_rx.lock().await.recv().await.ok_or(TransportError::Closed)
    }

    async fn send_frame(&self, info: FrameInfo, data: Vec<u8>) -> Result<(), TransportError> {
        self.frame_tx.send((info, data)).await.map_err(|_| TransportError::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dropping_an_end_closes_the_other() {
        let (client, camera) = memory_pair(1);
        camera.send_frame(FrameInfo::default(), vec![1]).await.unwrap();
        assert_eq!(client.recv_frame().await.unwrap().1, [1]);
        drop(camera);
        assert!(matches!(client.recv_ioctrl().await, Err(TransportError::Closed)));
        assert!(matches!(client.recv_frame().await, Err(TransportError::Closed)));
        assert!(matches!(client.send_ioctrl(0x100, vec![]).await, Err(TransportError::Closed)));
    }
}
