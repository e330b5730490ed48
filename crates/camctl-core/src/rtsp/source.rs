//! The clip looper of emulated cameras: an H.264 clip paced in real time into a [`LiveFeed`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::live::{Codec, Frame, LiveFeed};
use crate::video::{self, VideoError, nal_type};

/// RTP clock of video, the unit of [`Frame::pts`].
const CLOCK_RATE: u64 = 90_000;

/// A clip looped in real time while switched on, published into its [`LiveFeed`] (so any number of
/// viewers see it). Cheap to clone (all clones are the same source).
#[derive(Clone)]
pub struct LiveSource {
    inner: Arc<SourceInner>,
}

struct SourceInner {
    /// The clip's access units (Annex-B) from its first keyframe, with their keyframe flags.
    frames: Arc<[(Vec<u8>, bool)]>,
    fps: u32,
    width: u32,
    height: u32,
    feed: LiveFeed,
    pacer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for SourceInner {
    fn drop(&mut self) {
        if let Some(task) = self.pacer.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
    }
}

impl LiveSource {
    /// A source looping `clip` (Annex-B H.264 starting with a keyframe, SPS and PPS in band with every
    /// keyframe, no B-frames) at `fps`; `queue_frames` frames are kept for each viewer before a slow one
    /// drops some.
    pub fn from_clip(clip: &[u8], fps: u32, queue_frames: usize) -> Result<LiveSource, VideoError> {
        if fps == 0 {
            return Err(VideoError::BadClip("zero frame rate"));
        }
        let find = |t| video::nal_units(clip).find(|n| n.nal_type() == t).map(|n| n.bytes().to_vec());
        let sps = find(nal_type::SPS).ok_or(VideoError::BadClip("no SPS"))?;
        find(nal_type::PPS).ok_or(VideoError::BadClip("no PPS"))?;
        let info = video::parse_sps(&sps)?;
        let frames: Vec<(Vec<u8>, bool)> =
            video::frames(clip).skip_while(|f| !f.keyframe).map(|f| (f.to_annexb(), f.keyframe)).collect();
        if frames.is_empty() {
            return Err(VideoError::BadClip("no keyframe"));
        }
        Ok(LiveSource {
            inner: Arc::new(SourceInner {
                frames: frames.into(),
                fps,
                width: info.width,
                height: info.height,
                feed: LiveFeed::new(queue_frames),
                pacer: Mutex::new(None),
            }),
        })
    }

    /// Starts streaming (from the clip's first keyframe); does nothing when already on. Must be called
    /// inside a Tokio runtime (it spawns the pacing task).
    pub fn start(&self) {
        let mut pacer = self.inner.pacer.lock().unwrap_or_else(|e| e.into_inner());
        if pacer.is_some() {
            return;
        }
        self.inner.feed.set_available(true);
        let (frames, feed, fps) = (Arc::clone(&self.inner.frames), self.inner.feed.clone(), self.inner.fps);
        *pacer = Some(tokio::spawn(async move {
            let mut clock = tokio::time::interval(Duration::from_secs(1) / fps);
            for n in 0u64.. {
                clock.tick().await;
                let (data, keyframe) = &frames[(n % frames.len() as u64) as usize];
                feed.publish(Frame {
                    codec: Codec::H264,
                    data: data.clone(),
                    keyframe: *keyframe,
                    pts: n * CLOCK_RATE / u64::from(fps),
                    captured: SystemTime::now(),
                });
            }
        }));
    }

    /// Stops streaming; viewers playing get a BYE and their session ends. Does nothing when off.
    pub fn stop(&self) {
        let mut pacer = self.inner.pacer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(task) = pacer.take() {
            task.abort();
            self.inner.feed.set_available(false);
        }
    }

    /// Whether it is streaming.
    pub fn is_on(&self) -> bool {
        self.inner.feed.is_available()
    }

    /// Waits until the source is on (`true`) or off (`false`).
    pub async fn wait_until(&self, on: bool) {
        self.inner.feed.wait_available(on).await;
    }

    /// Picture size from the clip's SPS.
    pub fn dimensions(&self) -> (u32, u32) {
        (self.inner.width, self.inner.height)
    }

    /// Frames per second.
    pub fn fps(&self) -> u32 {
        self.inner.fps
    }

    /// The feed it publishes into (available while on).
    pub fn feed(&self) -> LiveFeed {
        self.inner.feed.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_refuses_clips_without_parameter_sets() {
        assert!(LiveSource::from_clip(b"nothing", 15, 4).is_err());
        assert!(LiveSource::from_clip(video::SAMPLE_360P, 0, 4).is_err());
        let source = LiveSource::from_clip(video::SAMPLE_480P, 15, 4).unwrap();
        assert_eq!(source.dimensions(), (640, 480));
        assert!(!source.is_on());
    }

    #[tokio::test]
    async fn a_started_source_publishes_the_clip_and_stopping_ends_viewers() {
        let source = LiveSource::from_clip(video::SAMPLE_360P, 15, 4).unwrap();
        let feed = source.feed();
        source.start();
        assert!(source.is_on());
        let mut viewer = feed.subscribe();
        let first = viewer.recv().await.unwrap();
        assert!(first.keyframe && first.codec == Codec::H264);
        let params = feed.wait_params(Duration::from_secs(60)).await.unwrap();
        assert_eq!((params.width, params.height), (640, 360));
        source.stop();
        source.wait_until(false).await;
        loop {
            match viewer.recv().await {
                Ok(_) => {}
                Err(e) => break assert_eq!(e, crate::live::RecvError::Ended),
            }
        }
    }
}
