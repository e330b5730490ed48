//! One command connection (5678 or 5679 equivalent): request -> response, with the connection's
//! loaded blob (§9 rule 5).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use camctl_core::io::ReadError;
use camctl_core::time::DateTime;
use tokio::net::TcpStream;

use super::Shared;
use super::store::{self, Picture, Source};
use crate::connection::Connection;
use crate::error::Error;
use crate::wire::{
    CameraTime, Command, HEADER_LEN, HardwareInfo, Header, PICTURE_PREFIX_LEN, PictureFormat,
    encode_calibration,
};

/// Largest request payload accepted (paths, times, descriptors are tens of bytes). A larger length
/// is treated as garbage and closes the connection.
const MAX_REQUEST_PAYLOAD: usize = 64 * 1024;

/// Largest piece of a download response assembled in memory at once.
/// Bounded (rather than a whole 2 MiB chunk) so that clients that ask and never read cost little, yet
/// large enough that the hop to the blocking pool for each file read does not cut the throughput.
const SEND_PIECE: usize = 256 << 10;

/// The blob of the last LOAD.
struct Loaded {
    /// The 4 bytes in front of `C2 00 05` picture data (content unknown: zeros).
    prefix: Vec<u8>,
    source: Source,
    /// Open file for [`Source::File`].
    file: Option<std::fs::File>,
}

impl Loaded {
    fn len(&self) -> u64 {
        self.prefix.len() as u64 + self.source.len()
    }
}

struct Session {
    shared: Arc<Shared>,
    conn: Connection<TcpStream>,
    loaded: Option<Loaded>,
    send: Vec<u8>,
}

/// Serves one command connection until the peer closes it or misbehaves.
pub(crate) async fn run(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let mut s = Session { shared, conn: Connection::new(stream), loaded: None, send: Vec::new() };
    tracing::debug!(%peer, "command connection");
    loop {
        match s.step().await {
            Ok(()) => {}
            Err(Error::Read(ReadError::Closed)) => break,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing command connection");
                break;
            }
        }
    }
}

impl Session {
    async fn step(&mut self) -> Result<(), Error> {
        let idle = self.shared.config.idle_timeout;
        let Some(header) = camctl_core::serve::timed(idle, self.conn.read_header()).await else {
            tracing::debug!("idle command connection closed");
            return Err(ReadError::Closed.into());
        };
        let header = header?;
        let payload = self.conn.read_payload(header.payload_len(), MAX_REQUEST_PAYLOAD).await?;
        // Any command is "active use" and keeps the Wi-Fi on (§8).
        self.shared.touch();
        // Buffer-type requests get at most their buffer; payload requests are not limited.
        let limit = if header.no_content() { header.length as usize } else { usize::MAX };
        match Command::parse(&header, &payload) {
            Command::Download { offset, buffer } => self.download(&header, offset, buffer).await,
            Command::LoadHardwareInfo => {
                let c = &self.shared.config;
                let hw = HardwareInfo {
                    manufacturer: c.manufacturer.clone(),
                    serial: c.serial.clone(),
                    build_id: c.build_id.clone(),
                    firmware: c.firmware.clone(),
                    unknown: 0,
                };
                self.load_bytes(hw.encode());
                self.respond(&header, &[]).await
            }
            Command::LoadPictureList => {
                let list = self.shared.lock().store.picture_list();
                self.load_bytes(list);
                self.respond(&header, &[]).await
            }
            Command::LoadCalibration => {
                self.load_bytes(calibration_bundle(&self.shared.config.serial));
                self.respond(&header, &[]).await
            }
            Command::LoadLog => {
                let log = format!("camctl Lytro emulator log\r\nserial {}\r\n", self.shared.config.serial);
                self.load_bytes(log.into_bytes());
                self.respond(&header, &[]).await
            }
            Command::LoadFile(path) => {
                let found = self.load_file(&path).await;
                self.respond(&header, if found { &payload } else { &[] }).await
            }
            Command::LoadPicture { id, format } => {
                let picture = self.shared.lock().store.by_id(&id).cloned();
                let found = match (picture, format) {
                    (Some(p), Some(f)) => {
                        let source = self.source(p, f).await;
                        self.load_source(vec![0; PICTURE_PREFIX_LEN], source).await
                    }
                    _ => false,
                };
                if !found {
                    self.loaded = None;
                }
                self.respond(&header, if found { &payload } else { &[] }).await
            }
            Command::LoadCompressedRaw(_) => {
                // The content of this representation is unknown (§4.1): answered as not available.
                self.loaded = None;
                self.respond(&header, &[]).await
            }
            Command::QueryContentLength => {
                let len = self.loaded.as_ref().map_or(0, Loaded::len);
                let len = u32::try_from(len).unwrap_or(u32::MAX);
                self.respond_limited(&header, &len.to_le_bytes(), limit).await
            }
            Command::QueryCameraTime => {
                let t = self.camera_time();
                self.respond_limited(&header, &t.encode(), limit).await
            }
            Command::QueryBattery => {
                let b = self.shared.config.battery.to_le_bytes();
                self.respond_limited(&header, &b, limit).await
            }
            Command::SetCameraTime(Some(t)) if t.is_valid() => {
                self.shared.lock().clock = Some((t, Instant::now()));
                self.respond(&header, &payload).await
            }
            Command::SetCameraTime(_) => self.respond(&header, &[]).await,
            Command::TakePicture => {
                self.respond(&header, &[]).await?;
                tokio::spawn(capture(self.shared.clone()));
                Ok(())
            }
            Command::DeletePicture(r) => {
                let deleted = r.and_then(|r| {
                    let mut state = self.shared.lock();
                    let n = state.store.by_ref(&r)?;
                    state.store.pictures.remove(&n)
                });
                if let Some(p) = &deleted {
                    self.shared.callback("PictureDeleted", &[&p.id]);
                }
                self.respond(&header, if deleted.is_some() { &payload } else { &[] }).await
            }
            // Unknown or undocumented commands: echo a payload (the general rule, §2.3), else nothing.
            Command::Other => self.respond(&header, &payload).await,
        }
    }

    async fn respond(&mut self, req: &Header, payload: &[u8]) -> Result<(), Error> {
        let head = req.response(payload.len() as u32);
        let write = self.conn.write_frame(&head, payload);
        camctl_core::serve::timed(camctl_core::serve::DEFAULT_WRITE_TIMEOUT, write).await.unwrap_or_else(
            || Err(Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "client not reading"))),
        )
    }

    async fn respond_limited(&mut self, req: &Header, payload: &[u8], limit: usize) -> Result<(), Error> {
        self.respond(req, &payload[..payload.len().min(limit)]).await
    }

    fn load_bytes(&mut self, bytes: Vec<u8>) {
        self.loaded = Some(Loaded { prefix: Vec::new(), source: Source::Bytes(Arc::new(bytes)), file: None });
    }

    /// Makes `source` the loaded blob; `false` if its file cannot be opened.
    ///
    /// A file is opened and measured now, on every LOAD: the store's size is from the scan, and a file
    /// replaced since (same name, other content or size) must be served as it is now.
    async fn load_source(&mut self, prefix: Vec<u8>, source: Source) -> bool {
        let (source, file) = match source {
            Source::File(path, _) => {
                let root = self.shared.config.media_dir.clone();
                let opened = tokio::task::spawn_blocking(move || {
                    // Never through a symlink, never outside the media folder.
                    let f = camctl_core::serve::open_beneath(&root, &path, false)?;
                    let len = f.metadata()?.len();
                    std::io::Result::Ok((path, f, len))
                })
                .await;
                match opened {
                    Ok(Ok((path, f, len))) if len <= store::MAX_FILE => (Source::File(path, len), Some(f)),
                    _ => return false,
                }
            }
            other => (other, None),
        };
        self.loaded = Some(Loaded { prefix, source, file });
        true
    }

    /// `C2 00 01`: a picture component file or a calibration file by camera path.
    async fn load_file(&mut self, path: &str) -> bool {
        let picture = self.shared.lock().store.by_path(path).map(|(p, f)| (p.clone(), f));
        if let Some((p, f)) = picture {
            let source = self.source(p, f).await;
            if self.load_source(Vec::new(), source).await {
                return true;
            }
        } else if let Some(data) = calibration_files(&self.shared.config.serial)
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(path))
            .map(|(_, d)| d)
        {
            self.load_bytes(data);
            return true;
        }
        self.loaded = None;
        false
    }

    /// The bytes of `format` of picture `p`: its file, or generated (cached when slow to make).
    async fn source(&self, p: Picture, format: PictureFormat) -> Source {
        if let Some(f) = p.file(format) {
            return Source::File(f.path.clone(), f.size);
        }
        let cache = store::worth_caching(format);
        if cache && let Some(b) = self.shared.lock().cache.get(p.seed, format) {
            return Source::Bytes(b);
        }
        let serial = self.shared.config.serial.clone();
        let seed = p.seed;
        let source = tokio::task::spawn_blocking(move || store::generate(&p, format, &serial))
            .await
            .unwrap_or_else(|_| Source::Bytes(Arc::new(Vec::new())));
        if cache && let Source::Bytes(b) = &source {
            self.shared.lock().cache.put(seed, format, b.clone());
        }
        source
    }

    fn camera_time(&self) -> CameraTime {
        camera_time(&self.shared)
    }

    /// `C4`: `min(buffer, remaining)` bytes from `offset` (never short while data remains, §9 rule 4).
    async fn download(&mut self, req: &Header, offset: u32, buffer: u32) -> Result<(), Error> {
        let len = self.loaded.as_ref().map_or(0, Loaded::len);
        let n = u64::from(buffer).min(len.saturating_sub(u64::from(offset)));
        let mut buf = std::mem::take(&mut self.send);
        let result = self.send_chunk(req, u64::from(offset), n, &mut buf).await;
        // Keep at most one piece between requests; nothing when the send failed.
        if result.is_ok() {
            self.send = buf;
        }
        result
    }

    /// Writes the response header and `n` blob bytes from `offset`, in pieces of [`SEND_PIECE`]; the
    /// first piece shares one write with the header.
    async fn send_chunk(
        &mut self,
        req: &Header,
        offset: u64,
        n: u64,
        buf: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let mut at = offset;
        let end = offset + n;
        let mut first = true;
        loop {
            let piece = (end - at).min(SEND_PIECE as u64) as usize;
            let head = if first { HEADER_LEN } else { 0 };
            let mut b = std::mem::take(buf);
            // Sized without zeroing what is overwritten anyway (resize only zeroes growth).
            b.resize(head + piece, 0);
            if first {
                b[..HEADER_LEN].copy_from_slice(&req.response(n as u32).encode());
            }
            let (b, filled) = self.fill(at, b, head).await;
            *buf = b;
            filled?;
            let write = self.conn.write_raw(buf);
            camctl_core::serve::timed(camctl_core::serve::DEFAULT_WRITE_TIMEOUT, write)
                .await
                .unwrap_or_else(|| {
                    Err(Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "client not reading")))
                })?;
            at += piece as u64;
            first = false;
            if at >= end {
                return Ok(());
            }
        }
    }

    /// Copies blob bytes `[offset, offset + buf.len() - start)` into `buf[start..]`. The buffer is
    /// passed by value so file reads can fill it in place on a blocking thread (no extra copy).
    async fn fill(&mut self, offset: u64, mut buf: Vec<u8>, start: usize) -> (Vec<u8>, Result<(), Error>) {
        let Some(loaded) = self.loaded.as_mut() else { return (buf, Ok(())) };
        let mut offset = offset;
        let mut start = start;
        let plen = loaded.prefix.len() as u64;
        if offset < plen {
            let n = ((plen - offset) as usize).min(buf.len() - start);
            buf[start..start + n].copy_from_slice(&loaded.prefix[offset as usize..offset as usize + n]);
            start += n;
            offset += n as u64;
        }
        if start == buf.len() {
            return (buf, Ok(()));
        }
        let at = offset - plen;
        let want = buf.len() - start;
        match &loaded.source {
            Source::Bytes(b) => buf[start..].copy_from_slice(&b[at as usize..at as usize + want]),
            Source::Raw(tile) => store::fill_raw(tile, at, &mut buf[start..]),
            Source::File(..) => {
                let Some(mut file) = loaded.file.take() else {
                    return (buf, Err(Error::Protocol("loaded file is not open".into())));
                };
                // File reads block: do them off the reactor, moving the file and buffer there and back.
                let joined = tokio::task::spawn_blocking(move || {
                    let r = store::read_file_at(&mut file, at, &mut buf[start..]);
                    (file, buf, r)
                })
                .await;
                return match joined {
                    Ok((file, buf, r)) => {
                        loaded.file = Some(file);
                        // A file shrunk under us cannot be served correctly: this connection ends.
                        (buf, r.map_err(Error::Io))
                    }
                    Err(e) => (Vec::new(), Err(Error::Io(std::io::Error::other(e)))),
                };
            }
        }
        (buf, Ok(()))
    }
}

/// The camera clock: 2010-01-01 until set, then running from the time set.
pub(crate) fn camera_time(shared: &Shared) -> CameraTime {
    let Some((set, at)) = shared.lock().clock else { return CameraTime::UNSET };
    let now = set
        .to_datetime()
        .and_then(DateTime::to_system)
        .map(|t| DateTime::from_system(t + at.elapsed()))
        .and_then(CameraTime::from_datetime);
    now.unwrap_or(set)
}

/// Synthetic calibration files (real bundles hold MOD_0000..MOD_0061 RAW/TXT and more, §5.6).
fn calibration_files(serial: &str) -> Vec<(String, Vec<u8>)> {
    let mla = format!(
        "{{\"generator\": \"camctl Lytro emulator (synthetic)\", \"serial\": \"{serial}\", \"mla\": {{\"rotation\": 0.0012, \"scaleFactor\": {{\"x\": 1.0, \"y\": 1.0003}}}}}}\n"
    );
    let mut files = vec![(r"C:\T1CALIB\MLACALIBRATION.TXT".to_string(), mla.into_bytes())];
    for i in 0..2u32 {
        let txt = format!("{{\"generator\": \"camctl Lytro emulator (synthetic)\", \"module\": {i}}}\n");
        files.push((format!(r"C:\T1CALIB\MOD_{i:04}.TXT"), txt.into_bytes()));
        let raw: Vec<u8> = (0..64 * 1024u32).map(|x| (x.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        files.push((format!(r"C:\T1CALIB\MOD_{i:04}.RAW"), raw));
    }
    files
}

fn calibration_bundle(serial: &str) -> Vec<u8> {
    let files = calibration_files(serial);
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, d)| (p.as_str(), d.as_slice())).collect();
    encode_calibration(&refs)
}

/// Takes a picture: `ShutterPressed` at once, then the new JPEG is written and, once "rendered",
/// listed and announced with `NewPictureAvailable`. The body's own shutter button does the same.
pub(super) async fn capture(shared: Arc<Shared>) {
    let _one_at_a_time = shared.capture_lock.lock().await;
    shared.callback("ShutterPressed", &["CLICK"]);
    let Some(number) = shared.lock().store.next_number() else {
        tracing::warn!("picture store full; capture dropped");
        return;
    };
    let mut x = number as u64 ^ (shared.start.elapsed().as_nanos() as u64).rotate_left(29);
    let seed = store::splitmix(&mut x);
    let date =
        camera_time(&shared).to_datetime().and_then(DateTime::to_system).unwrap_or(std::time::UNIX_EPOCH);
    let root = shared.config.media_dir.clone();
    let path = root.join(format!("{}{number:04}.JPG", store::FILE_PREFIX));
    let written = tokio::task::spawn_blocking(move || {
        let jpeg = camctl_core::media::sample_jpeg(store::JPEG_SIDE, store::JPEG_SIDE, seed);
        // Never overwrite a file that is already there (e.g. one the scan gave another number), nor
        // write through a symlink.
        // The file's time is the picture's date, so the picture keeps its date when the card is
        // scanned again (after a power cycle), as a real camera's does.
        let saved = std::fs::symlink_metadata(&path).is_err()
            && camctl_core::serve::open_beneath(&root, &path, true)
                .and_then(|mut f| {
                    std::io::Write::write_all(&mut f, &jpeg)?;
                    f.set_modified(date)
                })
                .is_ok();
        (jpeg, saved.then_some(path))
    })
    .await;
    let Ok((jpeg, saved)) = written else { return };
    let mut files: [Option<store::DiskFile>; 5] = Default::default();
    if let Some(path) = saved {
        files[PictureFormat::Jpeg as usize] =
            Some(store::DiskFile { path, size: jpeg.len() as u64, mtime: std::time::SystemTime::now() });
    }
    let picture = Picture { number, id: store::picture_id(seed), date: store::iso_date(date), seed, files };
    tokio::time::sleep(shared.config.render_delay.min(Duration::from_secs(60))).await;
    let id = picture.id.clone();
    {
        let mut state = shared.lock();
        state.cache.put(seed, PictureFormat::Jpeg, Arc::new(jpeg));
        state.store.pictures.insert(number, picture);
    }
    shared.callback("NewPictureAvailable", &[&id]);
}
