//! The data port: downloads (1285), uploads (1286) and thumbnails (1025) over the newest data
//! connection, with the completion notifications of §5 on the command connection.
//!
//! A download is streamed by two cooperating parts so disk reads and socket writes overlap: a blocking
//! thread reads 1 MiB chunks (and hashes them when the MD5 is not cached) into a small channel, the async
//! task writes them to the socket and recycles the buffers. Whole-file MD5s are cached by path and
//! [`files::Stamp`], so repeated downloads of a big, settled file cost no hashing, while a file replaced
//! between two downloads is always hashed again. (Linux `sendfile` was tried
//! and measured no faster over loopback, so the portable path stays.)

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::session::Conn;
use super::{Shared, Transfer, Writer, files};
use crate::wire::{ObjectWriter, Style, msg, rval};

/// Chunk size between disk and socket.
const CHUNK: usize = 1 << 20;

/// How long a transfer waits for the client's data connection.
const DATA_WAIT: Duration = Duration::from_secs(5);

fn md5_hex(h: Md5) -> String {
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Takes the newest data connection, waiting for one to arrive; skips connections the peer closed.
async fn take_data_conn(shared: &Shared) -> Option<TcpStream> {
    let deadline = tokio::time::Instant::now() + DATA_WAIT;
    loop {
        let notified = shared.data_ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let candidate = shared.lock().data_slot.take();
        if let Some(s) = candidate {
            let mut probe = [0u8; 1];
            match s.try_read(&mut probe) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Some(s),
                // Closed by the peer, or unexpected bytes: not usable.
                _ => continue,
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return None;
        }
    }
}

/// Gives a data connection back for the next transfer, unless a newer one arrived meanwhile.
fn return_data_conn(shared: &Shared, stream: TcpStream) {
    let mut st = shared.lock();
    if st.data_slot.is_none() {
        st.data_slot = Some(stream);
    }
}

/// Writes one compact notification to a command connection.
async fn notify(writer: &Writer, build: impl FnOnce(&mut ObjectWriter<'_>)) {
    let mut out = Vec::with_capacity(160);
    let mut w = ObjectWriter::new(&mut out, Style::Compact);
    build(&mut w);
    w.finish();
    let mut w = writer.lock().await;
    if let Err(e) =
        camctl_core::serve::timed_io(camctl_core::serve::DEFAULT_WRITE_TIMEOUT, w.write_all(&out)).await
    {
        debug!(error = %e, "could not deliver a transfer notification");
    }
}

/// Whether a transfer is still running.
pub(super) fn running(shared: &Shared) -> bool {
    busy(shared)
}

fn busy(shared: &Shared) -> bool {
    shared.lock().transfer.as_ref().is_some_and(|t| !t.done.load(Ordering::Acquire) && !t.task.is_finished())
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// 1285: reply `{rval,msg_id,rem_size,size}`, stream the bytes, then `get_file_complete`.
pub(super) async fn get_file(
    conn: &mut Conn,
    id: i64,
    path: &str,
    offset: u64,
    fetch: u64,
) -> io::Result<()> {
    if busy(&conn.shared) {
        return conn.rv(id, rval::SYSTEM_BUSY).await;
    }
    let Some(camera) = files::resolve(&conn.cwd, path) else { return conn.rv(id, rval::INVALID_PATH).await };
    let media = conn.shared.config.media_dir.clone();
    let local = files::local(&media, &camera);
    let opened = tokio::task::spawn_blocking({
        let local = local.clone();
        move || -> io::Result<_> {
            let file = camctl_core::serve::open_beneath(&media, &local, false)?;
            let meta = file.metadata()?;
            if !meta.is_file() {
                return Err(io::ErrorKind::NotFound.into());
            }
            Ok((file, meta.len(), files::Stamp::of(&meta)))
        }
    })
    .await
    .map_err(io::Error::other)?;
    let Ok((file, size, stamp)) = opened else { return conn.rv(id, rval::INVALID_PATH).await };
    if offset > size {
        return conn.rv(id, rval::INVALID_PARAM).await;
    }
    let rem = if fetch == 0 { size - offset } else { fetch.min(size - offset) };
    // get_file_complete always carries the MD5 of the whole file, also for a part: the reference says
    // it "only matches if the whole file is asked for", i.e. it is not the MD5 of the bytes sent. A
    // resuming client hashes its completed file and compares.
    let cached = stamp.and_then(|stamp| {
        let st = conn.shared.lock();
        st.md5_cache.get(&local).filter(|(s, _)| *s == stamp).map(|(_, m)| m.clone())
    });
    let Some(mut data) = take_data_conn(&conn.shared).await else {
        warn!("GET_FILE without a data connection");
        return conn.rv(id, rval::UNKNOWN_ERROR).await;
    };
    let early = conn.shared.config.data_before_reply;
    if !early {
        send_get_reply(conn, id, rem, size).await?;
    }
    let progress = Arc::new(AtomicU64::new(0));
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let task = tokio::spawn({
        let shared = Arc::clone(&conn.shared);
        let writer = Arc::clone(&conn.writer);
        let progress = Arc::clone(&progress);
        let done = Arc::clone(&done);
        async move {
            let range = Range { offset, len: rem, size };
            let result = send_range(file, range, &mut data, cached.is_none(), &progress, started_tx).await;
            match result {
                Ok(computed) => {
                    let md5 = match (cached, computed) {
                        (Some(m), _) => m,
                        (None, Some(m)) => {
                            if let Some(stamp) = stamp {
                                shared.lock().md5_cache.insert(local, (stamp, m.clone()));
                            }
                            m
                        }
                        (None, None) => String::new(),
                    };
                    return_data_conn(&shared, data);
                    done.store(true, Ordering::Release);
                    notify(&writer, |w| {
                        w.int("msg_id", msg::NOTIFICATION).str("type", "get_file_complete");
                        w.value("param", &serde_json::json!([{ "bytes sent": rem }, { "md5sum": md5 }]));
                    })
                    .await;
                }
                Err(e) => {
                    debug!(error = %e, "download aborted");
                    done.store(true, Ordering::Release);
                    let sent = progress.load(Ordering::Relaxed);
                    notify(&writer, |w| {
                        w.int("msg_id", msg::NOTIFICATION)
                            .str("type", "get_file_fail")
                            .int("param", to_i64(sent));
                    })
                    .await;
                }
            }
        }
    });
    conn.shared.lock().transfer = Some(Transfer { task, progress, done });
    if early {
        // Let the first chunk hit the socket before the reply (§5.2 step 4).
        let _ = tokio::time::timeout(Duration::from_secs(1), started_rx).await;
        send_get_reply(conn, id, rem, size).await?;
    }
    Ok(())
}

async fn send_get_reply(conn: &mut Conn, id: i64, rem: u64, size: u64) -> io::Result<()> {
    conn.send(false, |w| {
        w.int("rval", 0).int("msg_id", id).int("rem_size", to_i64(rem)).int("size", to_i64(size));
    })
    .await
}

/// Which bytes of a file of `size` bytes a download sends.
#[derive(Debug, Clone, Copy)]
struct Range {
    offset: u64,
    len: u64,
    size: u64,
}

/// Feeds `n` bytes of `file` from where it is to `hasher` (the parts of the file a partial download
/// does not send).
fn hash_span(file: &mut std::fs::File, mut n: u64, hasher: &mut Md5, buf: &mut Vec<u8>) -> io::Result<()> {
    while n > 0 {
        let want = n.min(CHUNK as u64) as usize;
        buf.resize(want, 0);
        file.read_exact(buf)?;
        hasher.update(&buf[..]);
        n -= want as u64;
    }
    Ok(())
}

/// Streams `range` of `file` to `data`; when `hash`, returns the MD5 of the whole file (the parts
/// before and after the range are read for it too).
async fn send_range(
    file: std::fs::File,
    range: Range,
    data: &mut TcpStream,
    hash: bool,
    progress: &AtomicU64,
    started: tokio::sync::oneshot::Sender<()>,
) -> io::Result<Option<String>> {
    let (tx, mut rx) = mpsc::channel::<io::Result<Vec<u8>>>(4);
    let (recycle_tx, recycle_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let Range { offset, len, size } = range;
    let reader = tokio::task::spawn_blocking(move || {
        let mut file = file;
        let mut hasher = hash.then(Md5::new);
        let mut scratch = Vec::new();
        let head = match hasher.as_mut() {
            Some(h) => hash_span(&mut file, offset, h, &mut scratch),
            None => file.seek(SeekFrom::Start(offset)).map(drop),
        };
        if let Err(e) = head {
            let _ = tx.blocking_send(Err(e));
            return None;
        }
        let mut left = len;
        while left > 0 {
            let want = left.min(CHUNK as u64) as usize;
            let mut buf = recycle_rx.try_recv().unwrap_or_default();
            buf.resize(want, 0);
            if let Err(e) = file.read_exact(&mut buf) {
                let _ = tx.blocking_send(Err(e));
                return None;
            }
            if let Some(h) = hasher.as_mut() {
                h.update(&buf);
            }
            left -= want as u64;
            if tx.blocking_send(Ok(buf)).is_err() {
                return None; // the sender was cancelled
            }
        }
        let mut hasher = hasher?;
        // The sender may already be done: a failure here only loses the MD5 (reported empty).
        hash_span(&mut file, size.saturating_sub(offset + len), &mut hasher, &mut scratch).ok()?;
        Some(md5_hex(hasher))
    });
    let mut started = Some(started);
    while let Some(chunk) = rx.recv().await {
        let chunk = chunk?;
        camctl_core::serve::timed_io(camctl_core::serve::DEFAULT_WRITE_TIMEOUT, data.write_all(&chunk))
            .await?;
        progress.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        if let Some(s) = started.take() {
            let _ = s.send(());
        }
        let _ = recycle_tx.send(chunk);
    }
    data.flush().await?;
    if progress.load(Ordering::Relaxed) != len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shorter than announced"));
    }
    reader.await.map_err(io::Error::other)
}

/// 1286: reply, receive `size - offset` bytes into the file, then the Yi's `put_file_complete`.
pub(super) async fn put_file(
    conn: &mut Conn,
    id: i64,
    path: &str,
    offset: u64,
    size: u64,
    md5: &str,
) -> io::Result<()> {
    if busy(&conn.shared) {
        return conn.rv(id, rval::SYSTEM_BUSY).await;
    }
    if md5.trim().is_empty() || size < offset {
        return conn.rv(id, rval::INVALID_PARAM).await;
    }
    if size > conn.shared.config.card_bytes {
        return conn.rv(id, rval::NO_MORE_SPACE).await;
    }
    let Some(camera) = files::resolve(&conn.cwd, path) else { return conn.rv(id, rval::INVALID_PATH).await };
    if size - offset > conn.shared.config.max_upload {
        warn!(size, cap = conn.shared.config.max_upload, "upload larger than the per-upload cap refused");
        return conn.rv(id, rval::NO_MORE_SPACE).await;
    }
    let media = conn.shared.config.media_dir.clone();
    let local = files::local(&media, &camera);
    let checked = {
        let (media, local) = (media.clone(), local.clone());
        tokio::task::spawn_blocking(move || {
            use camctl_core::serve::{free_space, metadata_beneath};
            let parent = local.parent()?;
            let dir_ok = metadata_beneath(&media, parent).is_ok_and(|m| m.is_dir());
            let target_ok = match metadata_beneath(&media, &local) {
                Ok(m) => m.is_file(),
                Err(e) => e.kind() == io::ErrorKind::NotFound,
            };
            (dir_ok && target_ok).then(|| free_space(parent))
        })
        .await
        .map_err(io::Error::other)?
    };
    let Some(free) = checked else { return conn.rv(id, rval::INVALID_PATH).await };
    if free.is_some_and(|free| free < size - offset) {
        return conn.rv(id, rval::NO_MORE_SPACE).await;
    }
    let opened = {
        let local = local.clone();
        tokio::task::spawn_blocking(move || {
            // offset 0 replaces the file; a later offset continues a chunked upload. Never through a
            // symlink, never outside the media folder.
            let file = camctl_core::serve::open_beneath(&media, &local, true)?;
            if file.metadata()?.len() < offset {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "offset beyond the end"));
            }
            file.set_len(offset)?;
            Ok(file)
        })
        .await
        .map_err(io::Error::other)?
    };
    let Ok(file) = opened else { return conn.rv(id, rval::INVALID_PARAM).await };
    let Some(mut data) = take_data_conn(&conn.shared).await else {
        warn!("PUT_FILE without a data connection");
        return conn.rv(id, rval::UNKNOWN_ERROR).await;
    };
    conn.rv(id, rval::OK).await?;
    let want = size - offset;
    let progress = Arc::new(AtomicU64::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let task = tokio::spawn({
        let shared = Arc::clone(&conn.shared);
        let writer = Arc::clone(&conn.writer);
        let progress = Arc::clone(&progress);
        let done = Arc::clone(&done);
        async move {
            let mut file = tokio::fs::File::from_std(file);
            let result: io::Result<String> = async {
                file.seek(SeekFrom::Start(offset)).await?;
                let mut hasher = Md5::new();
                let mut buf = vec![0u8; CHUNK.min(usize::try_from(want).unwrap_or(CHUNK)).max(1)];
                let mut got = 0u64;
                while got < want {
                    let n = (want - got).min(buf.len() as u64) as usize;
                    let n = tokio::time::timeout(Duration::from_secs(30), data.read(&mut buf[..n]))
                        .await
                        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "upload stalled"))??;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    hasher.update(&buf[..n]);
                    file.write_all(&buf[..n]).await?;
                    got += n as u64;
                    progress.store(got, Ordering::Relaxed);
                }
                file.flush().await?;
                file.sync_all().await.ok();
                Ok(md5_hex(hasher))
            }
            .await;
            match result {
                Ok(md5) => {
                    return_data_conn(&shared, data);
                    done.store(true, Ordering::Release);
                    // The Yi shape: md5sum first and top-level, param = bytes received (§5.3).
                    notify(&writer, |w| {
                        w.str("md5sum", &md5)
                            .int("msg_id", msg::NOTIFICATION)
                            .str("type", "put_file_complete")
                            .int("param", to_i64(want));
                    })
                    .await;
                }
                Err(e) => {
                    debug!(error = %e, "upload aborted");
                    done.store(true, Ordering::Release);
                    notify(&writer, |w| {
                        w.int("msg_id", msg::NOTIFICATION)
                            .str("type", "put_file_fail")
                            .int("param", to_i64(progress.load(Ordering::Relaxed)));
                    })
                    .await;
                }
            }
        }
    });
    conn.shared.lock().transfer = Some(Transfer { task, progress, done });
    Ok(())
}

/// 1025: thumbnail bytes on the data port first, then `{rval,msg_id,size,type,md5sum}`.
pub(super) async fn thumbnail(conn: &mut Conn, id: i64, path: &str, kind: &str) -> io::Result<()> {
    if !matches!(kind, "thumb" | "idr" | "fullview") {
        return conn.rv(id, rval::INVALID_TYPE).await;
    }
    let Some(camera) = files::resolve(&conn.cwd, path) else { return conn.rv(id, rval::INVALID_PATH).await };
    let media = &conn.shared.config.media_dir;
    if !camctl_core::serve::metadata_beneath(media, &files::local(media, &camera)).is_ok_and(|m| m.is_file())
    {
        return conn.rv(id, rval::INVALID_PATH).await;
    }
    if busy(&conn.shared) {
        return conn.rv(id, rval::SYSTEM_BUSY).await;
    }
    // A small picture derived from the path: stable per file, different between files.
    let seed = camera
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3));
    let (w, h) = if kind == "thumb" { (160, 120) } else { (320, 240) };
    let jpeg = tokio::task::spawn_blocking(move || camctl_core::media::sample_jpeg(w, h, seed))
        .await
        .map_err(io::Error::other)?;
    let Some(mut data) = take_data_conn(&conn.shared).await else {
        return conn.rv(id, rval::UNKNOWN_ERROR).await;
    };
    if let Err(e) = data.write_all(&jpeg).await {
        debug!(error = %e, "thumbnail not delivered");
        return conn.rv(id, rval::UNKNOWN_ERROR).await;
    }
    return_data_conn(&conn.shared, data);
    let mut hasher = Md5::new();
    hasher.update(&jpeg);
    let md5 = md5_hex(hasher);
    let size = to_i64(jpeg.len() as u64);
    conn.send(false, |w| {
        w.int("rval", 0).int("msg_id", id).int("size", size).str("type", kind).str("md5sum", &md5);
    })
    .await
}
