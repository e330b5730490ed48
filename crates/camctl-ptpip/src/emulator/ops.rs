//! The operations the emulator implements (reference §5, §6.1), each turning a request (and its
//! data-out, if any) into a [`Reply`]. Shared state is locked only for short, synchronous steps; file
//! I/O and rendering happen outside the lock.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use crate::wire::codes::{ev, format, op, rc};
use crate::wire::{DeviceInfo, ObjectInfo, OperationRequest, StorageInfo, encode_u32_array};

use super::session::{DataIn, PendingUpload, Reply, Session, Sink, TempFile};
use super::store::{self, ListError, Object, STORAGE_ID, ScanEntry};
use super::{Personality, Shared};

/// DeviceInfo's vendor extension fields.
pub(super) struct Vendor {
    pub id: u32,
    pub version: u16,
    pub desc: &'static str,
}

impl Vendor {
    /// No vendor extension (the generic personality).
    const NONE: Vendor = Vendor { id: 0, version: 0, desc: "" };
}

/// Operations answered by the generic personality (everything else: OperationNotSupported), in
/// DeviceInfo order.
pub(super) const OPERATIONS: [u16; 19] = [
    op::GET_DEVICE_INFO,
    op::OPEN_SESSION,
    op::CLOSE_SESSION,
    op::GET_STORAGE_IDS,
    op::GET_STORAGE_INFO,
    op::GET_NUM_OBJECTS,
    op::GET_OBJECT_HANDLES,
    op::GET_OBJECT_INFO,
    op::GET_OBJECT,
    op::GET_THUMB,
    op::DELETE_OBJECT,
    op::SEND_OBJECT_INFO,
    op::SEND_OBJECT,
    op::INITIATE_CAPTURE,
    op::GET_DEVICE_PROP_DESC,
    op::GET_DEVICE_PROP_VALUE,
    op::SET_DEVICE_PROP_VALUE,
    op::RESET_DEVICE_PROP_VALUE,
    op::GET_PARTIAL_OBJECT,
];

/// Events the emulator may send.
const EVENTS: [u16; 6] = [
    ev::OBJECT_ADDED,
    ev::OBJECT_REMOVED,
    ev::DEVICE_PROP_CHANGED,
    ev::STORE_FULL,
    ev::STORAGE_INFO_CHANGED,
    ev::CAPTURE_COMPLETE,
];

/// Response codes not in `codes::rc`.
const PARTIAL_DELETION: u16 = 0x2012;
const NO_VALID_OBJECT_INFO: u16 = 0x2015;

/// Largest data-out accepted in memory (SetDevicePropValue, SendObjectInfo).
const MAX_SMALL_DATA: usize = 64 * 1024;

/// Largest upload (SendObject), streamed to disk.
const MAX_UPLOAD: u64 = 8 << 30;

/// Emulated card capacity (at least; grows with the media so free space never goes negative).
const CARD_CAPACITY: u64 = 32 << 30;

/// Typical picture size, for StorageInfo.FreeSpaceInImages.
const TYPICAL_PICTURE: u64 = 4 << 20;

/// Delay between the events of a capture (rule 12: ObjectAdded first, then CaptureComplete).
const CAPTURE_EVENT_GAP: Duration = Duration::from_millis(50);

/// How long OpenSession waits for the media rescan before answering anyway.
const RESCAN_WAIT: Duration = Duration::from_millis(1500);

/// "All" in handle / property-code parameters.
const ALL: u32 = 0xFFFF_FFFF;

/// Storage parameters meaning "our storage": the id itself, or 0 / 0xFFFFFFFF ("any/all").
fn storage_ok(sid: u32) -> bool {
    matches!(sid, 0 | STORAGE_ID | ALL)
}

impl Session {
    /// Where the data-out phase of `req` goes: uploads stream to a temp file next to their final name,
    /// everything else is small and kept in memory.
    pub(super) async fn sink_for(&mut self, req: &OperationRequest) -> Sink {
        if req.code != op::SEND_OBJECT {
            return Sink::memory(MAX_SMALL_DATA);
        }
        let (Some(_), Some(upload)) = (self.session, &self.upload) else { return Sink::Discard };
        let root = self.shared.lock().store.root().to_path_buf();
        let name = upload.rel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = root.join(upload.rel.with_file_name(format!(".{name}.part-{}", upload.handle)));
        let created = {
            let (root, temp) = (root.clone(), temp.clone());
            tokio::task::spawn_blocking(move || {
                let file = camctl_core::serve::open_beneath(&root, &temp, true)?;
                file.set_len(0)?;
                // The upload may use at most what the filesystem has free (and never more than the cap).
                let free = camctl_core::serve::free_space(&root).unwrap_or(u64::MAX);
                Ok::<_, std::io::Error>((tokio::fs::File::from_std(file), free))
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
        };
        match created {
            Ok((file, free)) => {
                let limit = MAX_UPLOAD.min(free);
                Sink::File { file, temp: TempFile::new(temp), written: 0, limit, failed: false }
            }
            Err(e) => {
                tracing::warn!(path = %temp.display(), error = %e, "cannot create upload file");
                Sink::Discard
            }
        }
    }

    /// Executes one operation.
    pub(super) async fn execute(&mut self, req: &OperationRequest, data: Option<Sink>) -> Reply {
        let p = |i| req.params.get(i);
        let eos = self.shared.config.personality == Personality::CanonEos;
        let nikon = self.shared.config.personality == Personality::Nikon;
        if eos && super::eos::is_vendor_op(req.code) {
            return self.execute_eos(req, data).await;
        }
        if nikon && super::nikon::is_vendor_op(req.code) {
            return self.execute_nikon(req, data).await;
        }
        let standard = if eos { &super::eos::STANDARD_OPERATIONS[..] } else { &OPERATIONS[..] };
        if !standard.contains(&req.code) && (eos || req.code != op::NIKON_DEVICE_READY) {
            return Reply::code(rc::OPERATION_NOT_SUPPORTED);
        }
        match req.code {
            op::GET_DEVICE_INFO if eos => return Reply::data(self.eos_device_info()),
            op::GET_DEVICE_INFO if nikon => return Reply::data(self.nikon_device_info()),
            op::GET_DEVICE_INFO => return Reply::data(self.device_info()),
            op::OPEN_SESSION => return self.open_session(p(0)).await,
            op::NIKON_DEVICE_READY => return Reply::ok(),
            _ if self.session.is_none() => return Reply::code(rc::SESSION_NOT_OPEN),
            _ => {}
        }
        if self.shared.config.deny_transfer
            && matches!(
                req.code,
                op::GET_NUM_OBJECTS
                    | op::GET_OBJECT_HANDLES
                    | op::GET_OBJECT
                    | op::GET_PARTIAL_OBJECT
                    | op::GET_THUMB
            )
        {
            return Reply::code(rc::ACCESS_DENIED);
        }
        if nikon && let Some(reply) = self.nikon_sdram_op(req) {
            return reply;
        }
        match req.code {
            op::CLOSE_SESSION => {
                tracing::debug!(conn = self.conn_id, session = ?self.session, "session closed");
                self.session = None;
                self.upload = None;
                self.eos_session_ended();
                self.nikon_session(false);
                Reply::ok()
            }
            op::GET_STORAGE_IDS => Reply::data(encode_u32_array(&[STORAGE_ID])),
            op::GET_STORAGE_INFO => self.storage_info(p(0)),
            op::GET_NUM_OBJECTS | op::GET_OBJECT_HANDLES => {
                if !storage_ok(p(0)) {
                    return Reply::code(rc::INVALID_STORAGE_ID);
                }
                // The format filter is a u16 code; a wider value matches nothing real.
                let fmt = u16::try_from(p(1)).unwrap_or(u16::MAX);
                match self.shared.lock().store.list(fmt, p(2)) {
                    Err(ListError::BadParent) => Reply::code(rc::INVALID_PARENT_OBJECT),
                    Ok(handles) if req.code == op::GET_NUM_OBJECTS => {
                        Reply::with_params(rc::OK, &[handles.len() as u32])
                    }
                    Ok(handles) => Reply::data(encode_u32_array(&handles)),
                }
            }
            op::GET_OBJECT_INFO => self.object_info(p(0)).await,
            op::GET_OBJECT => self.get_object(p(0), 0, u64::MAX, false).await,
            op::GET_PARTIAL_OBJECT if self.shared.config.ignore_partial_offset => {
                // Clone-firmware behaviour: the whole object, as if GetObject had been asked.
                self.get_object(p(0), 0, u64::MAX, true).await
            }
            op::GET_PARTIAL_OBJECT => self.get_object(p(0), u64::from(p(1)), u64::from(p(2)), true).await,
            op::GET_THUMB => self.thumb(p(0)).await,
            op::DELETE_OBJECT => self.delete_object(p(0), p(1)).await,
            op::SEND_OBJECT_INFO => self.send_object_info(p(0), p(1), data).await,
            op::SEND_OBJECT => self.send_object(data).await,
            op::INITIATE_CAPTURE => self.initiate_capture(p(0), p(1), req.tid),
            op::GET_DEVICE_PROP_DESC => {
                match u16::try_from(p(0)).ok().and_then(|c| self.shared.lock().props.desc(c)) {
                    Some(desc) => {
                        let mut out = Vec::new();
                        desc.encode(&mut out);
                        Reply::data(out)
                    }
                    None => Reply::code(rc::DEVICE_PROP_NOT_SUPPORTED),
                }
            }
            op::GET_DEVICE_PROP_VALUE => {
                match u16::try_from(p(0)).ok().and_then(|c| self.shared.lock().props.value(c)) {
                    Some(value) => Reply::data(value.to_bytes()),
                    None => Reply::code(rc::DEVICE_PROP_NOT_SUPPORTED),
                }
            }
            op::SET_DEVICE_PROP_VALUE => self.set_prop(p(0), data),
            op::RESET_DEVICE_PROP_VALUE => self.reset_prop(p(0)),
            _ => Reply::code(rc::OPERATION_NOT_SUPPORTED),
        }
    }

    fn device_info(&self) -> Vec<u8> {
        let properties = self.shared.lock().props.codes();
        self.encode_device_info(Vendor::NONE, OPERATIONS.to_vec(), EVENTS.to_vec(), properties)
    }

    /// The DeviceInfo dataset every personality sends: the camera's identity and the formats its
    /// media has, with the personality's vendor extension, operations, events and properties.
    pub(super) fn encode_device_info(
        &self,
        vendor: Vendor,
        operations: Vec<u16>,
        events: Vec<u16>,
        properties: Vec<u16>,
    ) -> Vec<u8> {
        let config = &self.shared.config;
        let mut image_formats = vec![format::ASSOCIATION, format::EXIF_JPEG];
        image_formats.extend(self.shared.lock().store.formats());
        image_formats.sort_unstable();
        image_formats.dedup();
        let info = DeviceInfo {
            standard_version: 100,
            vendor_extension_id: vendor.id,
            vendor_extension_version: vendor.version,
            vendor_extension_desc: vendor.desc.to_string(),
            functional_mode: 0,
            operations,
            events,
            properties,
            capture_formats: vec![format::EXIF_JPEG],
            image_formats,
            manufacturer: config.manufacturer.clone(),
            model: config.model.clone(),
            device_version: env!("CARGO_PKG_VERSION").to_string(),
            serial_number: config.serial.clone(),
        };
        let mut out = Vec::new();
        info.encode(&mut out);
        out
    }

    async fn open_session(&mut self, id: u32) -> Reply {
        if id == 0 {
            return Reply::code(rc::INVALID_PARAMETER);
        }
        if self.session.is_some() {
            return Reply::code(rc::SESSION_ALREADY_OPEN);
        }
        self.rescan().await;
        self.eos_session_ended();
        self.nikon_session(true);
        self.session = Some(id);
        tracing::debug!(conn = self.conn_id, session = id, peer = %self.peer, "session opened");
        Reply::ok()
    }

    /// Picks up files added or removed behind the emulator's back (known files keep their handles). A
    /// slow scan finishes in the background so OpenSession still answers in time (rule 11).
    async fn rescan(&self) {
        let (root, generation) = {
            let state = self.shared.lock();
            (state.store.root().to_path_buf(), state.store.generation())
        };
        let shared = self.shared.clone();
        let mut job = tokio::spawn(async move {
            match tokio::task::spawn_blocking(move || store::scan(&root)).await {
                Ok(Ok(entries)) => {
                    if !shared.lock().store.merge_if_unchanged(entries, generation) {
                        tracing::debug!("media changed during rescan; rescan result dropped");
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "media rescan failed"),
                Err(e) => tracing::warn!(error = %e, "media rescan failed"),
            }
        });
        if tokio::time::timeout(RESCAN_WAIT, &mut job).await.is_err() {
            tracing::debug!("media rescan continues in the background");
        }
    }

    pub(super) fn storage_info(&self, sid: u32) -> Reply {
        if sid != STORAGE_ID {
            return Reply::code(rc::INVALID_STORAGE_ID);
        }
        let used = self.shared.lock().store.used_bytes();
        let capacity = CARD_CAPACITY.max(used.div_ceil(1 << 30).saturating_mul(2 << 30));
        let free = capacity - used;
        let info = StorageInfo {
            storage_type: 4,    // RemovableRAM
            filesystem_type: 3, // DCF
            access_capability: 0,
            max_capacity: capacity,
            free_space_bytes: free,
            free_space_images: u32::try_from(free / TYPICAL_PICTURE).unwrap_or(u32::MAX),
            description: String::new(),
            volume_label: "CAMCTL".into(),
        };
        let mut out = Vec::new();
        info.encode(&mut out);
        Reply::data(out)
    }

    /// A copy of an object and its absolute path.
    fn object(&self, handle: u32) -> Option<(Object, PathBuf)> {
        let state = self.shared.lock();
        let obj = state.store.get(handle)?.clone();
        let path = state.store.path_of(&obj);
        Some((obj, path))
    }

    async fn object_info(&mut self, handle: u32) -> Reply {
        let Some((mut obj, path)) = self.object(handle) else {
            return Reply::code(rc::INVALID_OBJECT_HANDLE);
        };
        if !obj.is_dir {
            // The file may have been replaced since the last scan: announce the size GetObject will send.
            let meta = {
                let (root, path) = (self.shared.lock().store.root().to_path_buf(), path.clone());
                tokio::task::spawn_blocking(move || camctl_core::serve::metadata_beneath(&root, &path))
                    .await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e)))
            };
            match meta {
                Ok(meta) => {
                    let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
                    if meta.len() != obj.size || mtime != obj.mtime {
                        let entry =
                            ScanEntry { rel: obj.rel.clone(), is_dir: false, size: meta.len(), mtime };
                        (obj.size, obj.mtime, obj.dims) = (meta.len(), mtime, None);
                        self.shared.lock().store.upsert(entry, None);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.shared.lock().store.remove(handle);
                    return Reply::code(rc::INVALID_OBJECT_HANDLE);
                }
                // Unreadable for now: describe it as last seen.
                Err(_) => {}
            }
        }
        if obj.dims.is_none() && obj.has_thumb() {
            // Probe the JPEG size once, outside the lock.
            let root = self.shared.lock().store.root().to_path_buf();
            let dims =
                tokio::task::spawn_blocking(move || store::jpeg_dims(&root, &path)).await.ok().flatten();
            obj.dims = Some(dims);
            if let Some(o) = self.shared.lock().store.get_mut(handle) {
                o.dims = Some(dims);
            }
        }
        let mut out = Vec::new();
        obj.info().encode(&mut out);
        Reply::data(out)
    }

    /// GetObject (`partial` false) or GetPartialObject: bytes `[offset, offset + min(max, size - offset))`
    /// streamed from disk. Folders answer InvalidObjectHandle.
    async fn get_object(&mut self, handle: u32, offset: u64, max: u64, partial: bool) -> Reply {
        let Some((obj, path)) = self.object(handle) else { return Reply::code(rc::INVALID_OBJECT_HANDLE) };
        if obj.is_dir {
            return Reply::code(rc::INVALID_OBJECT_HANDLE);
        }
        let root = self.shared.lock().store.root().to_path_buf();
        let opened = {
            let path = path.clone();
            // Never through a symlink, never outside the media folder.
            async move {
                tokio::task::spawn_blocking(move || {
                    let file = camctl_core::serve::open_beneath(&root, &path, false)?;
                    let len = file.metadata()?.len();
                    Ok::<_, std::io::Error>((tokio::fs::File::from_std(file), len))
                })
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)))
            }
        };
        let (mut file, len) = match opened.await {
            Ok(v) => v,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Deleted behind our back: forget it.
                self.shared.lock().store.remove(handle);
                return Reply::code(rc::INVALID_OBJECT_HANDLE);
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read object");
                return Reply::code(rc::GENERAL_ERROR);
            }
        };
        if offset > len {
            return Reply::code(rc::INVALID_PARAMETER);
        }
        let count = max.min(len - offset);
        if offset > 0
            && let Err(e) = file.seek(SeekFrom::Start(offset)).await
        {
            tracing::warn!(path = %path.display(), error = %e, "seek failed");
            return Reply::code(rc::GENERAL_ERROR);
        }
        let mut reply = Reply::ok();
        if partial {
            // Param1 = bytes actually sent (AOSP); offsets and counts are u32 here, so it fits.
            reply = Reply::with_params(rc::OK, &[u32::try_from(count).unwrap_or(u32::MAX)]);
        }
        reply.data = Some(DataIn::File { file, len: count });
        reply
    }

    async fn thumb(&mut self, handle: u32) -> Reply {
        let Some((obj, _)) = self.object(handle) else { return Reply::code(rc::INVALID_OBJECT_HANDLE) };
        if !obj.has_thumb() {
            return Reply::code(rc::NO_THUMBNAIL_PRESENT);
        }
        let mtime = obj.mtime.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let seed = u64::from(handle) ^ mtime.rotate_left(20);
        match tokio::task::spawn_blocking(move || store::thumbnail(seed)).await {
            Ok(jpeg) => Reply::data(jpeg),
            Err(_) => Reply::code(rc::GENERAL_ERROR),
        }
    }

    /// DeleteObject: a file, an empty folder, or (handle 0xFFFFFFFF) every file of `fmt` (0 = any).
    /// Non-empty folders answer ObjectWriteProtected and nothing is deleted. No events: the initiator
    /// knows what it deleted.
    async fn delete_object(&mut self, handle: u32, fmt: u32) -> Reply {
        if handle == ALL {
            let fmt = u16::try_from(fmt).unwrap_or(u16::MAX);
            let (files, root) = {
                let state = self.shared.lock();
                (state.store.files(fmt), state.store.root().to_path_buf())
            };
            let mut failed = 0;
            for obj in files {
                match remove_path(&root, &root.join(&obj.rel), false).await {
                    Ok(()) => self.shared.lock().store.remove(obj.handle),
                    Err(_) => failed += 1,
                }
            }
            return if failed == 0 { Reply::ok() } else { Reply::code(PARTIAL_DELETION) };
        }
        let Some((obj, path)) = self.object(handle) else { return Reply::code(rc::INVALID_OBJECT_HANDLE) };
        if obj.is_dir && self.shared.lock().store.children(handle).next().is_some() {
            return Reply::code(rc::OBJECT_WRITE_PROTECTED);
        }
        let root = self.shared.lock().store.root().to_path_buf();
        match remove_path(&root, &path, obj.is_dir).await {
            Ok(()) => {
                self.shared.lock().store.remove(handle);
                Reply::ok()
            }
            Err(code) => code,
        }
    }

    /// SendObjectInfo(storage, parent): validates the ObjectInfo, picks a free file name in the parent
    /// (0 and 0xFFFFFFFF = root) and reserves the handle; folders are created at once.
    async fn send_object_info(&mut self, sid: u32, parent: u32, data: Option<Sink>) -> Reply {
        if !storage_ok(sid) {
            return Reply::code(rc::INVALID_STORAGE_ID);
        }
        let info = match data {
            Some(Sink::Memory { buf, overflow: false, .. }) => ObjectInfo::decode(&buf).ok(),
            _ => None,
        };
        let Some(info) = info else { return Reply::code(rc::INVALID_PARAMETER) };
        let Some(name) = safe_name(&info.filename) else { return Reply::code(rc::INVALID_PARAMETER) };
        let (parent, parent_rel, root) = {
            let state = self.shared.lock();
            let root = state.store.root().to_path_buf();
            if parent == 0 || parent == ALL {
                (0, PathBuf::new(), root)
            } else {
                match state.store.get(parent) {
                    Some(o) if o.is_dir => (parent, o.rel.clone(), root),
                    _ => return Reply::code(rc::INVALID_PARENT_OBJECT),
                }
            }
        };
        let Some(rel) = self.free_name(&root, &parent_rel, &name).await else {
            return Reply::code(rc::STORE_FULL);
        };
        self.upload = None;
        if info.format == format::ASSOCIATION {
            let created = async {
                let dir = {
                    let (root, rel) = (root.clone(), rel.clone());
                    tokio::task::spawn_blocking(move || camctl_core::serve::resolve_beneath(&root, &rel))
                        .await
                        .map_err(std::io::Error::other)??
                };
                tokio::fs::create_dir(dir).await?;
                let (root, rel) = (root.clone(), rel.clone());
                tokio::task::spawn_blocking(move || store::stat(&root, &rel))
                    .await
                    .map_err(std::io::Error::other)?
            };
            return match created.await {
                Ok(entry) => match self.shared.lock().store.upsert(entry, None) {
                    Some((h, _)) => Reply::with_params(rc::OK, &[STORAGE_ID, parent, h]),
                    None => Reply::code(rc::STORE_FULL),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "cannot create folder");
                    Reply::code(rc::GENERAL_ERROR)
                }
            };
        }
        let handle = self.shared.lock().store.reserve_handle();
        self.upload = Some(PendingUpload { handle, rel });
        Reply::with_params(rc::OK, &[STORAGE_ID, parent, handle])
    }

    /// `parent_rel/name`, or `stem~N.ext` if that is taken in the store or on disk.
    async fn free_name(&self, root: &Path, parent_rel: &Path, name: &str) -> Option<PathBuf> {
        let (stem, ext) = match name.rsplit_once('.') {
            Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
            _ => (name, String::new()),
        };
        for n in 0..1000 {
            let candidate = if n == 0 { name.to_string() } else { format!("{stem}~{n}{ext}") };
            let rel = parent_rel.join(candidate);
            if self.shared.lock().store.handle_of(&rel).is_some() {
                continue;
            }
            if !tokio::fs::try_exists(root.join(&rel)).await.unwrap_or(true) {
                return Some(rel);
            }
        }
        None
    }

    /// SendObject: moves the received temp file to its final name and registers the reserved handle.
    async fn send_object(&mut self, data: Option<Sink>) -> Reply {
        let Some(upload) = self.upload.take() else { return Reply::code(NO_VALID_OBJECT_INFO) };
        let Some(Sink::File { mut file, temp, written, limit, failed }) = data else {
            return Reply::code(rc::GENERAL_ERROR);
        };
        if failed {
            return Reply::code(if written > limit { rc::STORE_FULL } else { rc::GENERAL_ERROR });
        }
        if let Err(e) = file.flush().await {
            tracing::warn!(error = %e, "upload flush failed");
            return Reply::code(rc::GENERAL_ERROR);
        }
        drop(file);
        let root = self.shared.lock().store.root().to_path_buf();
        let target = {
            let (root, rel) = (root.clone(), upload.rel.clone());
            tokio::task::spawn_blocking(move || camctl_core::serve::resolve_beneath(&root, &rel))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)))
        };
        let renamed = match target {
            Ok(target) => tokio::fs::rename(&temp.path, target).await,
            Err(e) => Err(e),
        };
        if let Err(e) = renamed {
            tracing::warn!(error = %e, "cannot move upload in place");
            return Reply::code(rc::GENERAL_ERROR);
        }
        temp.keep();
        let rel = upload.rel.clone();
        let entry = tokio::task::spawn_blocking(move || store::stat(&root, &rel)).await;
        match entry {
            Ok(Ok(entry)) => match self.shared.lock().store.upsert(entry, Some(upload.handle)) {
                Some(_) => Reply::ok(),
                None => Reply::code(rc::STORE_FULL),
            },
            _ => Reply::code(rc::GENERAL_ERROR),
        }
    }

    /// InitiateCapture(storage, format): answers at once (rule 11); the picture is rendered and announced
    /// in the background (rule 12).
    fn initiate_capture(&mut self, sid: u32, fmt: u32, tid: u32) -> Reply {
        if !matches!(sid, 0 | STORAGE_ID) {
            return Reply::code(rc::INVALID_STORAGE_ID);
        }
        if !matches!(fmt, 0 | 0x3801) {
            return Reply::code(rc::INVALID_OBJECT_FORMAT_CODE);
        }
        let shared = self.shared.clone();
        tokio::spawn(async move {
            if let Err(e) = capture(&shared, tid).await {
                tracing::warn!(error = %e, "capture failed");
                // Never leave the initiator waiting for a completion that will not come.
                shared.broadcast(ev::CAPTURE_COMPLETE, tid, &[]);
            }
        });
        Reply::ok()
    }

    fn set_prop(&mut self, code: u32, data: Option<Sink>) -> Reply {
        let Ok(code) = u16::try_from(code) else { return Reply::code(rc::DEVICE_PROP_NOT_SUPPORTED) };
        let bytes = match data {
            Some(Sink::Memory { buf, overflow: false, .. }) => buf,
            _ => return Reply::code(rc::INVALID_DEVICE_PROP_FORMAT),
        };
        let result = self.shared.lock().props.set(code, &bytes);
        match result {
            Ok(_) => {
                self.shared.broadcast(ev::DEVICE_PROP_CHANGED, ALL, &[u32::from(code)]);
                if self.shared.config.personality == Personality::Nikon {
                    self.nikon_sync_exposure_time(code);
                }
                Reply::ok()
            }
            Err(rc) => Reply::code(rc),
        }
    }

    /// ResetDevicePropValue(code); 0xFFFFFFFF resets every settable property.
    fn reset_prop(&mut self, code: u32) -> Reply {
        let codes: Vec<u16> = if code == ALL {
            self.shared.lock().props.codes()
        } else {
            match u16::try_from(code) {
                Ok(c) => vec![c],
                Err(_) => return Reply::code(rc::DEVICE_PROP_NOT_SUPPORTED),
            }
        };
        for c in codes {
            let result = self.shared.lock().props.reset(c);
            match result {
                Ok(()) => self.shared.broadcast(ev::DEVICE_PROP_CHANGED, ALL, &[u32::from(c)]),
                Err(rc::ACCESS_DENIED) if code == ALL => {}
                Err(rc) => return Reply::code(rc),
            }
        }
        Reply::ok()
    }
}

/// Characters a file name from the network may not contain (path separators, NUL, controls).
fn safe_name(name: &str) -> Option<String> {
    let name = name.trim();
    let bad = name.is_empty()
        || name.starts_with('.')
        || name.len() > 255
        || name.chars().any(|c| c == '/' || c == '\\' || c.is_control());
    (!bad).then(|| name.to_string())
}

/// Removes a file or an empty folder; a missing path counts as removed.
async fn remove_path(root: &Path, path: &Path, dir: bool) -> Result<(), Reply> {
    // A folder on the way swapped for a symlink since the scan is refused.
    let checked = {
        let (root, path) = (root.to_path_buf(), path.to_path_buf());
        tokio::task::spawn_blocking(move || camctl_core::serve::resolve_beneath(&root, &path))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    };
    let result = match checked {
        Ok(path) if dir => tokio::fs::remove_dir(path).await,
        Ok(path) => tokio::fs::remove_file(path).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "delete failed");
            // Permission problems and folders with hidden files both mean "cannot delete this".
            let code = match e.kind() {
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::DirectoryNotEmpty => {
                    rc::OBJECT_WRITE_PROTECTED
                }
                _ => rc::GENERAL_ERROR,
            };
            Err(Reply::code(code))
        }
    }
}

/// Takes one picture and announces ObjectAdded (new folders first, then the file) and CaptureComplete on
/// every event connection, with the InitiateCapture TID.
async fn capture(shared: &Arc<Shared>, tid: u32) -> std::io::Result<()> {
    // One capture at a time, so picture numbers are never handed out twice.
    let _one = shared.capture_lock.lock().await;
    let shot = take_picture(shared).await?;
    tracing::debug!(handle = shot.file, tid, "captured");
    for &(h, new) in &shot.folders {
        if new {
            shared.broadcast(ev::OBJECT_ADDED, tid, &[h]);
        }
    }
    tokio::time::sleep(CAPTURE_EVENT_GAP).await;
    shared.broadcast(ev::OBJECT_ADDED, tid, &[shot.file]);
    tokio::time::sleep(CAPTURE_EVENT_GAP).await;
    shared.broadcast(ev::CAPTURE_COMPLETE, tid, &[]);
    Ok(())
}

/// The objects one capture registered.
pub(super) struct Shot {
    /// The folder chain of the picture, root first, with whether each one is new.
    pub folders: Vec<(u32, bool)>,
    /// The picture's handle.
    pub file: u32,
}

/// Renders a new JPEG at the ImageSize setting into the capture folder (temp name, then rename) and
/// registers it (and any new folder) in the store. Announces nothing: each personality reports it its way.
/// The caller holds `capture_lock`.
pub(super) async fn take_picture(shared: &Arc<Shared>) -> std::io::Result<Shot> {
    let (folder, number, (w, h), root) = {
        let state = shared.lock();
        let (folder, number) = state.store.capture_target();
        (folder, number, state.props.capture_size(), state.store.root().to_path_buf())
    };
    let count = shared.captures.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
    let seed = count.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ nanos;
    let entries = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<ScanEntry>> {
        let dir = camctl_core::serve::resolve_beneath(&root, &folder)?;
        std::fs::create_dir_all(&dir)?;
        let mut n = number;
        let name = loop {
            let name = format!("IMG_{n:04}.JPG");
            if !dir.join(&name).exists() {
                break name;
            }
            n += 1;
        };
        let jpeg = camctl_core::media::sample_jpeg(w, h, seed);
        let temp = TempFile::new(dir.join(format!(".{name}.part")));
        let mut out = camctl_core::serve::open_beneath(&root, &temp.path, true)?;
        out.set_len(0)?;
        std::io::Write::write_all(&mut out, &jpeg)?;
        std::fs::rename(&temp.path, dir.join(&name))?;
        temp.keep();
        // The folder chain (it may be new) and the file, parents first.
        let file = folder.join(&name);
        let mut rels: Vec<&Path> = file.ancestors().filter(|p| !p.as_os_str().is_empty()).collect();
        rels.reverse();
        rels.into_iter().map(|rel| store::stat(&root, rel)).collect()
    })
    .await
    .map_err(std::io::Error::other)??;

    let registered: Option<Vec<(u32, bool)>> = {
        let mut state = shared.lock();
        entries.into_iter().map(|e| state.store.upsert(e, None)).collect()
    };
    let Some((&(file, _), folders)) = registered.as_deref().and_then(|r| r.split_last()) else {
        return Err(std::io::Error::other("capture could not be registered"));
    };
    Ok(Shot { folders: folders.to_vec(), file })
}
