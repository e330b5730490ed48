//! The one live-stream shape every family's live view is turned into: access units (H.264/H.265,
//! Annex-B) or JPEG frames with their timestamps, and the [`LiveFeed`] that fans them out from the one
//! camera session to every viewer: a bounded queue per subscriber (a slow one learns how many frames it
//! lost, never slows the others), the parameter sets learnt from keyframes, and demand counting so the
//! owner streams only while someone watches.

use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

/// What a live stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// H.264 / AVC access units.
    H264,
    /// H.265 / HEVC access units.
    H265,
    /// Whole JPEG pictures (PTP/IP live view).
    Jpeg,
}

/// One picture of a live stream.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Its codec.
    pub codec: Codec,
    /// H.264/H.265: one access unit in Annex-B form, start codes included (it may carry parameter
    /// sets, delimiters and SEI); JPEG: one whole picture.
    pub data: Vec<u8>,
    /// Whether it decodes on its own (IDR/IRAP; every JPEG).
    pub keyframe: bool,
    /// Presentation time in 90 kHz ticks, increasing within one stream.
    pub pts: u64,
    /// When the camera stamped it (wall clock), so that viewers can measure latency.
    pub captured: SystemTime,
}

/// What a decoder needs before the first frame: codec, size and parameter sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamParams {
    /// The stream's codec.
    pub codec: Codec,
    /// Picture width in pixels.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
    /// H.265 video parameter set (NAL unit without start code).
    pub vps: Option<Vec<u8>>,
    /// Sequence parameter set (NAL unit without start code); empty for JPEG.
    pub sps: Vec<u8>,
    /// Picture parameter set (NAL unit without start code); empty for JPEG.
    pub pps: Vec<u8>,
}

/// Why [`Subscriber::recv`] returned no frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// The subscriber fell behind and this many frames were dropped for it; the next ones follow.
    #[error("{0} frames dropped for a slow viewer")]
    Lagged(u64),
    /// The stream ended: the feed became unavailable or was interrupted. Subscribe again.
    #[error("the live stream ended")]
    Ended,
}

/// How long [`LiveFeed::wait_keyframe`] accepts the keyframe already held.
const FRESH_KEYFRAME: Duration = Duration::from_secs(2);

/// H.264 `nal_unit_type`s the feed looks at.
mod h264 {
    pub const SPS: u8 = 7;
    pub const PPS: u8 = 8;
    pub const AUD: u8 = 9;
}

/// H.265 `nal_unit_type`s the feed looks at (H.265 table 7-1).
mod h265 {
    pub const VPS: u8 = 32;
    pub const SPS: u8 = 33;
    pub const PPS: u8 = 34;
    pub const AUD: u8 = 35;
}

/// `nal_unit_type` of a NAL unit of `codec` (0 for an empty one).
pub(crate) fn nal_unit_type(codec: Codec, nal: &[u8]) -> u8 {
    let first = nal.first().copied().unwrap_or(0);
    match codec {
        Codec::H265 => (first >> 1) & 0x3f,
        Codec::H264 | Codec::Jpeg => first & 0x1f,
    }
}

/// A published frame with its NAL units located once, for every viewer (RTP packetizers read the
/// ranges instead of scanning the data again).
#[derive(Debug)]
pub(crate) struct Published {
    pub(crate) frame: Arc<Frame>,
    /// Byte ranges in `frame.data` of its NAL units without start codes, access unit delimiters left
    /// out (RTP carries none); empty for JPEG.
    pub(crate) nals: Vec<Range<usize>>,
    generation: u64,
}

impl Published {
    /// The NAL units to send, in order.
    pub(crate) fn nal_units(&self) -> impl Iterator<Item = &[u8]> {
        self.nals.iter().filter_map(|r| self.frame.data.get(r.clone()))
    }
}

/// Whether the feed streams, and which stream: every change of availability and every interruption
/// makes a new generation, whose subscribers are distinct from the previous one's.
#[derive(Debug, Clone, Copy)]
struct Lifecycle {
    available: bool,
    generation: u64,
}

/// What the feed learnt from the stream.
#[derive(Debug, Default)]
struct Learnt {
    params: Option<StreamParams>,
    keyframe: Option<(Arc<Frame>, Instant)>,
    /// Keyframes published so far (wakes [`LiveFeed::wait_keyframe`]).
    keyframes: u64,
}

struct FeedInner {
    frames: broadcast::Sender<Arc<Published>>,
    lifecycle: watch::Sender<Lifecycle>,
    learnt: watch::Sender<Learnt>,
    demand: watch::Sender<usize>,
    /// Orders publishing against availability changes, so that nothing learnt from a frame of an old
    /// generation survives `set_available(false)`.
    order: Mutex<()>,
}

/// One live stream fanned out to any number of consumers (RTSP viewers, browsers, snapshots): the
/// camera's owner publishes frames, consumers subscribe. Cheap to clone; all clones are one feed.
///
/// A new feed is unavailable; frames published while unavailable are dropped. Parameter sets are
/// learnt from keyframes, so the owner must send them in band with keyframes (as cameras do).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use camctl_core::live::{Codec, Frame, LiveFeed};
/// let feed = LiveFeed::new(30);
/// feed.set_available(true);
/// let mut viewer = feed.subscribe();
/// let data = camctl_core::media::sample_jpeg(64, 48, 1);
/// let captured = std::time::SystemTime::now();
/// feed.publish(Frame { codec: Codec::Jpeg, data, keyframe: true, pts: 0, captured });
/// assert_eq!(viewer.recv().await.unwrap().codec, Codec::Jpeg);
/// assert_eq!(feed.params().map(|p| (p.width, p.height)), Some((64, 48)));
/// # }
/// ```
#[derive(Clone)]
pub struct LiveFeed {
    inner: Arc<FeedInner>,
}

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let life = *self.inner.lifecycle.borrow();
        f.debug_struct("LiveFeed")
            .field("available", &life.available)
            .field("generation", &life.generation)
            .field("demand", &self.demand_count())
            .finish()
    }
}

impl LiveFeed {
    /// A feed keeping up to `queue_frames` frames (at least one) for each subscriber before a slow one
    /// loses some.
    pub fn new(queue_frames: usize) -> LiveFeed {
        let (frames, _) = broadcast::channel(queue_frames.max(1));
        LiveFeed {
            inner: Arc::new(FeedInner {
                frames,
                lifecycle: watch::Sender::new(Lifecycle { available: false, generation: 0 }),
                learnt: watch::Sender::new(Learnt::default()),
                demand: watch::Sender::new(0),
                order: Mutex::new(()),
            }),
        }
    }

    fn lock_order(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner.order.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Says whether the camera is connected and can stream. Every change ends the current
    /// subscribers; `false` also forgets the parameters and the last keyframe.
    pub fn set_available(&self, available: bool) {
        let _order = self.lock_order();
        let changed = self.inner.lifecycle.send_if_modified(|life| {
            if life.available == available {
                return false;
            }
            *life = Lifecycle { available, generation: life.generation + 1 };
            true
        });
        if changed && !available {
            self.inner.learnt.send_modify(|learnt| {
                learnt.params = None;
                learnt.keyframe = None;
            });
        }
    }

    /// Whether the feed is available (see [`LiveFeed::set_available`]).
    pub fn is_available(&self) -> bool {
        self.inner.lifecycle.borrow().available
    }

    /// Waits until the feed is available (`true`) or not (`false`).
    pub async fn wait_available(&self, available: bool) {
        let mut life = self.inner.lifecycle.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = life.wait_for(|l| l.available == available).await;
    }

    /// The camera's stream broke or restarted: current subscribers see [`RecvError::Ended`] (RTSP
    /// viewers get a BYE). What was learnt stays until newer keyframes replace it.
    pub fn interrupt(&self) {
        let _order = self.lock_order();
        self.inner.lifecycle.send_modify(|life| life.generation += 1);
    }

    /// Hands a frame to every subscriber. Keyframes teach the feed the stream's parameters (H.264
    /// SPS/PPS, H.265 VPS/SPS/PPS, the size from the SPS or the JPEG header) and are kept for
    /// [`LiveFeed::last_keyframe`]. Dropped while the feed is unavailable.
    pub fn publish(&self, frame: Frame) {
        let _order = self.lock_order();
        let life = *self.inner.lifecycle.borrow();
        if !life.available {
            return;
        }
        let nals = match frame.codec {
            Codec::Jpeg => Vec::new(),
            codec => nal_ranges(codec, &frame.data),
        };
        let frame = Arc::new(frame);
        if frame.keyframe {
            self.learn(&frame, &nals);
        }
        // Nobody subscribed is not an error: the frame is simply not seen.
        let _ = self.inner.frames.send(Arc::new(Published { frame, nals, generation: life.generation }));
    }

    fn learn(&self, frame: &Arc<Frame>, nals: &[Range<usize>]) {
        let learnt = self.inner.learnt.borrow();
        let params = learn_params(frame, nals, learnt.params.as_ref());
        drop(learnt);
        self.inner.learnt.send_modify(|learnt| {
            if params.is_some() {
                learnt.params = params;
            }
            learnt.keyframe = Some((Arc::clone(frame), Instant::now()));
            learnt.keyframes += 1;
        });
    }

    /// What a decoder needs, once a keyframe carrying it was published.
    pub fn params(&self) -> Option<StreamParams> {
        self.inner.learnt.borrow().params.clone()
    }

    /// [`LiveFeed::params`], waiting up to `timeout` for them to be learnt.
    pub async fn wait_params(&self, timeout: Duration) -> Option<StreamParams> {
        let mut learnt = self.inner.learnt.subscribe();
        let wait = learnt.wait_for(|l| l.params.is_some());
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(l)) => l.params.clone(),
            _ => None,
        }
    }

    /// The last keyframe published (forgotten when the feed becomes unavailable).
    pub fn last_keyframe(&self) -> Option<Arc<Frame>> {
        self.inner.learnt.borrow().keyframe.as_ref().map(|(f, _)| Arc::clone(f))
    }

    /// The keyframe held if it is younger than 2 s, else the next one published within `timeout`.
    /// Creates no demand: an owner that streams on demand needs a [`Demand`] held meanwhile.
    pub async fn wait_keyframe(&self, timeout: Duration) -> Option<Arc<Frame>> {
        let mut learnt = self.inner.learnt.subscribe();
        let seen = {
            let l = learnt.borrow_and_update();
            if let Some((frame, at)) = &l.keyframe
                && at.elapsed() < FRESH_KEYFRAME
            {
                return Some(Arc::clone(frame));
            }
            l.keyframes
        };
        let wait = learnt.wait_for(|l| l.keyframes > seen && l.keyframe.is_some());
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(l)) => l.keyframe.as_ref().map(|(f, _)| Arc::clone(f)),
            _ => None,
        }
    }

    /// A new consumer of the frames published from now on, until the feed becomes unavailable or is
    /// interrupted (subscribing to an unavailable feed gives one that has ended).
    pub fn subscribe(&self) -> Subscriber {
        // Subscribe to the frames before reading the generation: a frame of a later generation is
        // then recognised as such.
        let frames = self.inner.frames.subscribe();
        let lifecycle = self.inner.lifecycle.subscribe();
        let life = *lifecycle.borrow();
        Subscriber { frames, lifecycle, generation: life.generation, ended: !life.available }
    }

    /// How many subscribers there are now.
    pub fn subscriber_count(&self) -> usize {
        self.inner.frames.receiver_count()
    }

    /// A guard saying "someone wants frames" until it is dropped; the owner may stream only while
    /// there is demand ([`LiveFeed::wait_demand`]).
    pub fn demand(&self) -> Demand {
        self.inner.demand.send_modify(|n| *n += 1);
        Demand { feed: self.clone() }
    }

    /// How many [`Demand`] guards are held.
    pub fn demand_count(&self) -> usize {
        *self.inner.demand.borrow()
    }

    /// Waits until there is demand (`true`) or none (`false`).
    pub async fn wait_demand(&self, wanted: bool) {
        let mut demand = self.inner.demand.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = demand.wait_for(|n| (*n > 0) == wanted).await;
    }
}

/// Someone wants the feed's frames; dropping it releases the want. See [`LiveFeed::demand`].
#[must_use = "the demand ends when the guard is dropped"]
#[derive(Debug)]
pub struct Demand {
    feed: LiveFeed,
}

impl Demand {
    /// The feed it is held on.
    pub fn feed(&self) -> &LiveFeed {
        &self.feed
    }
}

impl Drop for Demand {
    fn drop(&mut self) {
        self.feed.inner.demand.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// One consumer of a [`LiveFeed`]; see [`LiveFeed::subscribe`].
#[derive(Debug)]
pub struct Subscriber {
    frames: broadcast::Receiver<Arc<Published>>,
    lifecycle: watch::Receiver<Lifecycle>,
    generation: u64,
    ended: bool,
}

impl Subscriber {
    /// The next frame; [`RecvError::Lagged`] when frames were dropped because this subscriber was
    /// slow (the following ones come next), [`RecvError::Ended`] once the stream ended (for good:
    /// subscribe again for the next one).
    pub async fn recv(&mut self) -> Result<Arc<Frame>, RecvError> {
        self.recv_published().await.map(|p| Arc::clone(&p.frame))
    }

    /// Whether the stream it follows has ended (it was made while the feed was unavailable, or saw the
    /// end).
    pub(crate) fn has_ended(&self) -> bool {
        self.ended
    }

    /// [`Subscriber::recv`] with the NAL units located.
    pub(crate) async fn recv_published(&mut self) -> Result<Arc<Published>, RecvError> {
        loop {
            if self.ended {
                return Err(RecvError::Ended);
            }
            tokio::select! {
                r = self.frames.recv() => match r {
                    Ok(p) if p.generation == self.generation => return Ok(p),
                    // Published before this subscriber's generation began: not its stream.
                    Ok(p) if p.generation < self.generation => {}
                    Ok(_) | Err(broadcast::error::RecvError::Closed) => self.ended = true,
                    Err(broadcast::error::RecvError::Lagged(n)) => return Err(RecvError::Lagged(n)),
                },
                changed = self.lifecycle.changed() => {
                    let life = *self.lifecycle.borrow_and_update();
                    if changed.is_err() || life.generation != self.generation || !life.available {
                        self.ended = true;
                    }
                }
            }
        }
    }
}

/// Byte ranges of the NAL units of an Annex-B access unit, delimiters left out.
fn nal_ranges(codec: Codec, data: &[u8]) -> Vec<Range<usize>> {
    let aud = if codec == Codec::H265 { h265::AUD } else { h264::AUD };
    let base = data.as_ptr() as usize;
    crate::video::nal_units(data)
        .map(|n| n.bytes())
        .filter(|nal| nal_unit_type(codec, nal) != aud)
        .map(|nal| {
            // Each unit is a subslice of `data`: its offset is the distance between the pointers.
            let start = nal.as_ptr() as usize - base;
            start..start + nal.len()
        })
        .collect()
}

/// The parameters a keyframe states, `None` when it states none; `known` saves parsing an SPS seen
/// before.
fn learn_params(frame: &Frame, nals: &[Range<usize>], known: Option<&StreamParams>) -> Option<StreamParams> {
    let codec = frame.codec;
    if codec == Codec::Jpeg {
        let (width, height) = crate::media::jpeg_dimensions(&frame.data)?;
        return Some(StreamParams {
            codec,
            width: width.into(),
            height: height.into(),
            vps: None,
            sps: Vec::new(),
            pps: Vec::new(),
        });
    }
    let (vps_type, sps_type, pps_type) = match codec {
        Codec::H265 => (Some(h265::VPS), h265::SPS, h265::PPS),
        _ => (None, h264::SPS, h264::PPS),
    };
    let find = |wanted: u8| {
        nals.iter().filter_map(|r| frame.data.get(r.clone())).find(|nal| nal_unit_type(codec, nal) == wanted)
    };
    let sps = find(sps_type)?;
    let pps = find(pps_type)?;
    let vps = match vps_type {
        Some(t) => Some(find(t)?.to_vec()),
        None => None,
    };
    let (width, height) = match known {
        Some(k) if k.codec == codec && k.sps == sps => (k.width, k.height),
        _ => picture_size(codec, sps),
    };
    Some(StreamParams { codec, width, height, vps, sps: sps.to_vec(), pps: pps.to_vec() })
}

/// The picture size an SPS states; 0x0 when it cannot be read.
fn picture_size(codec: Codec, sps: &[u8]) -> (u32, u32) {
    match codec {
        Codec::H264 => crate::video::parse_sps(sps).map_or((0, 0), |s| (s.width, s.height)),
        Codec::H265 => crate::video::parse_h265_sps(sps).map_or((0, 0), |s| (s.width, s.height)),
        Codec::Jpeg => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::{self, SAMPLE_480P};

    /// The access units of an H.264 clip as frames, 15 fps.
    fn clip_frames(clip: &[u8]) -> Vec<Frame> {
        video::frames(clip)
            .enumerate()
            .map(|(i, f)| Frame {
                codec: Codec::H264,
                data: f.to_annexb(),
                keyframe: f.keyframe,
                pts: i as u64 * 6000,
                captured: SystemTime::now(),
            })
            .collect()
    }

    fn available(queue: usize) -> LiveFeed {
        let feed = LiveFeed::new(queue);
        feed.set_available(true);
        feed
    }

    fn annexb(nals: &[&[u8]]) -> Vec<u8> {
        nals.iter().flat_map(|n| [&[0u8, 0, 0, 1][..], n].concat()).collect()
    }

    #[tokio::test]
    async fn every_subscriber_gets_every_frame_in_order() {
        let feed = available(8);
        let (mut a, mut b) = (feed.subscribe(), feed.subscribe());
        assert_eq!(feed.subscriber_count(), 2);
        for frame in clip_frames(SAMPLE_480P).into_iter().take(5) {
            feed.publish(frame);
        }
        for s in [&mut a, &mut b] {
            for want in 0..5u64 {
                assert_eq!(s.recv().await.unwrap().pts, want * 6000);
            }
        }
    }

    #[tokio::test]
    async fn a_slow_subscriber_learns_how_many_frames_it_lost() {
        let feed = available(2);
        let mut slow = feed.subscribe();
        for frame in clip_frames(SAMPLE_480P).into_iter().take(5) {
            feed.publish(frame);
        }
        assert_eq!(slow.recv().await.unwrap_err(), RecvError::Lagged(3));
        assert_eq!(slow.recv().await.unwrap().pts, 3 * 6000);
        assert_eq!(slow.recv().await.unwrap().pts, 4 * 6000);
    }

    #[tokio::test]
    async fn h264_parameters_and_size_come_from_the_keyframe() {
        let feed = available(4);
        let frames = clip_frames(SAMPLE_480P);
        let first_delta = frames.iter().position(|f| !f.keyframe).unwrap();
        feed.publish(frames[first_delta].clone());
        assert_eq!(feed.params(), None, "a delta frame teaches nothing");
        assert!(feed.last_keyframe().is_none());
        feed.publish(frames[0].clone());
        let params = feed.params().unwrap();
        assert_eq!((params.codec, params.width, params.height), (Codec::H264, 640, 480));
        let nal = |t: u8| video::nal_units(SAMPLE_480P).find(|n| n.nal_type() == t).unwrap().bytes().to_vec();
        assert_eq!(params.sps, nal(video::nal_type::SPS));
        assert_eq!(params.pps, nal(video::nal_type::PPS));
        assert_eq!(params.vps, None);
        assert_eq!(feed.last_keyframe().unwrap().pts, 0);
        // A keyframe without parameter sets keeps what was learnt.
        let idr = video::nal_units(SAMPLE_480P).find(|n| n.nal_type() == video::nal_type::IDR).unwrap();
        let bare = Frame { data: annexb(&[idr.bytes()]), pts: 99, ..frames[0].clone() };
        feed.publish(bare);
        assert_eq!(feed.params(), Some(params));
        assert_eq!(feed.last_keyframe().unwrap().pts, 99);
    }

    #[tokio::test]
    async fn h265_parameters_include_the_vps_and_delimiters_are_not_sent() {
        let feed = available(4);
        let mut viewer = feed.subscribe();
        let (aud, vps, sps, pps) =
            (&[0x46, 0x01, 0x50][..], &[0x40, 0x01, 1][..], &[0x42, 0x01, 2][..], &[0x44, 0x01, 3][..]);
        let idr = &[0x26, 0x01, 0xaf, 0x10][..];
        let data = annexb(&[aud, vps, sps, pps, idr]);
        feed.publish(Frame { codec: Codec::H265, data, keyframe: true, pts: 0, captured: SystemTime::now() });
        let params = feed.params().unwrap();
        assert_eq!(params.codec, Codec::H265);
        assert_eq!((params.vps.as_deref(), &params.sps[..], &params.pps[..]), (Some(vps), sps, pps));
        let published = viewer.recv_published().await.unwrap();
        let sent: Vec<&[u8]> = published.nal_units().collect();
        assert_eq!(sent, [vps, sps, pps, idr]);
        // Without a VPS an H.265 keyframe states no complete parameters.
        let other = available(4);
        let data = annexb(&[sps, pps, idr]);
        other.publish(Frame {
            codec: Codec::H265,
            data,
            keyframe: true,
            pts: 0,
            captured: SystemTime::now(),
        });
        assert_eq!(other.params(), None);
    }

    #[tokio::test]
    async fn jpeg_size_comes_from_its_header() {
        let feed = available(4);
        let data = crate::media::sample_jpeg(96, 64, 7);
        feed.publish(Frame { codec: Codec::Jpeg, data, keyframe: true, pts: 0, captured: SystemTime::now() });
        let params = feed.params().unwrap();
        assert_eq!((params.codec, params.width, params.height), (Codec::Jpeg, 96, 64));
        // Not a JPEG: nothing learnt from it, nothing panics.
        let junk = available(4);
        junk.publish(Frame {
            codec: Codec::Jpeg,
            data: vec![0xff; 3],
            keyframe: true,
            pts: 0,
            captured: SystemTime::now(),
        });
        assert_eq!(junk.params(), None);
    }

    #[tokio::test]
    async fn unavailability_ends_subscribers_and_forgets_what_was_learnt() {
        let feed = LiveFeed::new(4);
        let frames = clip_frames(SAMPLE_480P);
        feed.publish(frames[0].clone());
        assert_eq!(feed.params(), None, "dropped while unavailable");
        assert_eq!(feed.subscribe().recv().await.unwrap_err(), RecvError::Ended);
        feed.set_available(true);
        let mut viewer = feed.subscribe();
        feed.publish(frames[0].clone());
        assert!(viewer.recv().await.is_ok());
        assert!(feed.params().is_some());
        // Off and on again before the viewer looks: it still belongs to the stream that ended.
        feed.set_available(false);
        feed.set_available(true);
        feed.publish(frames[0].clone());
        assert_eq!(viewer.recv().await.unwrap_err(), RecvError::Ended);
        assert_eq!(viewer.recv().await.unwrap_err(), RecvError::Ended);
        feed.set_available(false);
        assert!(!feed.is_available());
        assert_eq!((feed.params(), feed.last_keyframe().map(|f| f.pts)), (None, None));
    }

    #[tokio::test]
    async fn an_interruption_ends_subscribers_waiting_for_a_frame() {
        let feed = available(4);
        let frames = clip_frames(SAMPLE_480P);
        feed.publish(frames[0].clone());
        let mut viewer = feed.subscribe();
        let waiting = tokio::spawn(async move { viewer.recv().await.map(|f| f.pts) });
        feed.interrupt();
        assert_eq!(waiting.await.unwrap(), Err(RecvError::Ended));
        assert!(feed.is_available());
        assert!(feed.params().is_some(), "parameters survive an interruption");
        let mut next = feed.subscribe();
        feed.publish(frames[1].clone());
        assert_eq!(next.recv().await.unwrap().pts, 6000);
    }

    #[tokio::test]
    async fn demand_is_counted_and_awaited() {
        let feed = available(4);
        assert_eq!(feed.demand_count(), 0);
        let owner = feed.clone();
        let appeared = tokio::spawn(async move { owner.wait_demand(true).await });
        let first = feed.demand();
        let second = feed.demand();
        appeared.await.unwrap();
        assert_eq!(feed.demand_count(), 2);
        let owner = feed.clone();
        let gone = tokio::spawn(async move { owner.wait_demand(false).await });
        drop(first);
        assert_eq!(feed.demand_count(), 1);
        drop(second);
        gone.await.unwrap();
        assert_eq!(feed.demand_count(), 0);
    }

    #[tokio::test]
    async fn waiting_for_parameters_and_keyframes() {
        let feed = available(4);
        assert_eq!(feed.wait_params(Duration::from_millis(50)).await, None);
        assert!(feed.wait_keyframe(Duration::from_millis(50)).await.is_none());
        let frames = clip_frames(SAMPLE_480P);
        let publisher = feed.clone();
        let waiter = tokio::spawn(async move { publisher.wait_params(Duration::from_secs(60)).await });
        let keyframe_waiter = {
            let feed = feed.clone();
            tokio::spawn(async move { feed.wait_keyframe(Duration::from_secs(60)).await.map(|f| f.pts) })
        };
        // Publish until both waiters have what they wait for (they may start after the first frame).
        let mut pts = 0;
        while !(waiter.is_finished() && keyframe_waiter.is_finished()) {
            feed.publish(Frame { pts, ..frames[0].clone() });
            pts += 6000;
            tokio::task::yield_now().await;
        }
        assert_eq!(waiter.await.unwrap().map(|p| p.width), Some(640));
        assert!(keyframe_waiter.await.unwrap().is_some());
    }
}
