//! What every TCP emulator needs to face untrusted clients: file access that stays beneath the media
//! folder whatever symlinks it holds, and one accept loop with a connection cap, idle and write
//! timeouts and a clean shutdown.
//!
//! **Containment.** Paths from clients are resolved beneath the media root. The rule is the simplest
//! one that holds: a symlink anywhere inside the media folder is *ignored* when listing and *refused*
//! when opening, stat-ing, creating or deleting through it (the root itself may be a symlink: the user
//! chose it). On Linux >= 5.6 [`open_beneath`] uses `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`,
//! so the kernel enforces it atomically; elsewhere (or on `ENOSYS`/`EPERM` from a sandbox) every
//! component is checked with `lstat`, the last one is opened with `O_NOFOLLOW` and the opened path is
//! canonicalized and checked against the canonical root.
//!
//! **Availability.** [`serve_tcp`] accepts on any number of listeners, refuses connections beyond
//! [`ServeLimits::max_connections`] by closing them at once, runs each accepted one as a task holding a
//! permit (so memory and the slot come back when it ends) and, when the shutdown future resolves, stops
//! accepting and closes every connection before returning. Idle and write timeouts are applied by the
//! protocol code with [`timed`], since only it knows where a request starts.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! let root = std::env::temp_dir();
//! assert!(camctl_core::serve::resolve_beneath(&root, "../etc/passwd".as_ref()).is_err());
//! # Ok(()) }
//! ```

use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Default connection cap per emulator.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
/// Default time a connection past its handshake may stay without a request.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time one send may take before the connection is dropped.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes read from a file and written to a client at a time by the emulators (bounded per connection).
pub const STREAM_CHUNK: usize = 128 * 1024;

fn refused(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{what}: outside the media folder or through a symlink"),
    )
}

/// `path` relative to `root`: `path` may be relative or start with `root`; `.` components are dropped;
/// `..`, a root or a prefix anywhere else is refused.
fn relative(root: &Path, path: &Path) -> io::Result<PathBuf> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut out = PathBuf::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return Err(refused("path")),
        }
    }
    Ok(out)
}

/// `root.join(rel)` after checking that no existing component below `root` is a symlink and that the
/// path does not leave `root` (`..`, absolute paths elsewhere). Components that do not exist yet are
/// fine (the caller creates them). Blocking.
pub fn resolve_beneath(root: &Path, path: &Path) -> io::Result<PathBuf> {
    let rel = relative(root, path)?;
    let mut at = root.to_path_buf();
    let mut exists = true;
    for c in rel.components() {
        at.push(c);
        if exists {
            match std::fs::symlink_metadata(&at) {
                Ok(m) if m.file_type().is_symlink() => return Err(refused("symlink")),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => exists = false,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(at)
}

/// The metadata of `path` beneath `root`, never following a symlink (a symlink is refused). Blocking.
pub fn metadata_beneath(root: &Path, path: &Path) -> io::Result<Metadata> {
    let at = resolve_beneath(root, path)?;
    std::fs::symlink_metadata(at)
}

/// One entry of [`list_dir_beneath`].
#[derive(Debug)]
pub struct Entry {
    /// File name.
    pub name: OsString,
    /// Its metadata (of the entry itself: symlinks are never listed).
    pub meta: Metadata,
}

impl Entry {
    /// Whether it is a folder.
    pub fn is_dir(&self) -> bool {
        self.meta.is_dir()
    }
    /// Whether it is a regular file.
    pub fn is_file(&self) -> bool {
        self.meta.is_file()
    }
}

/// The folders and regular files of the folder `path` beneath `root`; symlinks, sockets, FIFOs and
/// devices are left out. Blocking.
pub fn list_dir_beneath(root: &Path, path: &Path) -> io::Result<Vec<Entry>> {
    let dir = resolve_beneath(root, path)?;
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        // DirEntry::metadata does not follow symlinks.
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() || meta.is_file() {
            out.push(Entry { name: entry.file_name(), meta });
        }
    }
    Ok(out)
}

/// Opens the regular file `path` beneath `root`: for reading, or (`write`) for writing, created when
/// missing (mode 0644), never truncated. Symlinks anywhere below `root` are refused, so are folders
/// and special files. Blocking.
pub fn open_beneath(root: &Path, path: &Path, write: bool) -> io::Result<File> {
    let rel = relative(root, path)?;
    if rel.as_os_str().is_empty() {
        return Err(refused("the media folder itself"));
    }
    #[cfg(target_os = "linux")]
    if let Some(result) = linux::openat2(root, &rel, write) {
        return checked_file(result?);
    }
    let at = resolve_beneath(root, &rel)?;
    let mut options = std::fs::OpenOptions::new();
    if write {
        options.write(true).create(true);
    } else {
        options.read(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).mode(0o644);
    }
    let file = checked_file(options.open(&at)?)?;
    // A component swapped for a symlink between the check and the open shows here.
    let real_root = std::fs::canonicalize(root)?;
    if !std::fs::canonicalize(&at)?.starts_with(&real_root) {
        return Err(refused("path"));
    }
    Ok(file)
}

/// Only regular files are served or written, in blocking mode.
fn checked_file(file: File) -> io::Result<File> {
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        // SAFETY: fcntl on a descriptor we own; clearing O_NONBLOCK has no memory effects.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
            }
        }
    }
    Ok(file)
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::CString;
    use std::fs::File;
    use std::io;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Set once openat2 answered ENOSYS/EPERM: not tried again.
    static UNAVAILABLE: AtomicBool = AtomicBool::new(false);

    /// `None` when the kernel (or a sandbox) does not offer openat2.
    pub(super) fn openat2(root: &Path, rel: &Path, write: bool) -> Option<io::Result<File>> {
        if UNAVAILABLE.load(Ordering::Relaxed) {
            return None;
        }
        let croot = CString::new(root.as_os_str().as_bytes()).ok()?;
        let crel = match CString::new(rel.as_os_str().as_bytes()) {
            Ok(c) => c,
            Err(_) => return Some(Err(io::ErrorKind::InvalidInput.into())),
        };
        // SAFETY: a NUL-terminated path; the returned descriptor is owned below.
        let dirfd = unsafe { libc::open(croot.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if dirfd < 0 {
            return Some(Err(io::Error::last_os_error()));
        }
        // SAFETY: dirfd is a fresh descriptor we own.
        let dir = unsafe { OwnedFd::from_raw_fd(dirfd) };
        let access = if write { libc::O_WRONLY | libc::O_CREAT } else { libc::O_RDONLY };
        let flags = access | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK;
        // SAFETY: open_how is plain data; zeroed then filled.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = flags as u64;
        how.mode = if write { 0o644 } else { 0 };
        how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
        use std::os::fd::AsRawFd;
        // SAFETY: valid descriptor, NUL-terminated path and a correctly sized open_how.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                crel.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENOSYS) | Some(libc::EPERM) => {
                    UNAVAILABLE.store(true, Ordering::Relaxed);
                    None
                }
                Some(libc::ELOOP) | Some(libc::EXDEV) => Some(Err(super::refused("symlink"))),
                _ => Some(Err(e)),
            };
        }
        // SAFETY: openat2 returned a fresh descriptor we now own.
        Some(Ok(unsafe { File::from_raw_fd(fd as i32) }))
    }
}

/// Bytes free on the filesystem holding `path` (`None` when unknown). Blocking.
pub fn free_space(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
        // SAFETY: statvfs fills the zeroed struct for a NUL-terminated path.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
            return None;
        }
        #[allow(clippy::unnecessary_cast)]
        Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// The limits of one emulator's TCP side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Connections served at once (all ports of the emulator together); extras are closed at once.
    pub max_connections: usize,
    /// A connection past its handshake is closed after this long without a request (zero = never).
    pub idle_timeout: Duration,
    /// A connection is closed when one send takes longer (zero = never).
    pub write_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
        }
    }
}

/// `f`, or `None` when it took longer than `limit`; a zero limit waits forever.
pub async fn timed<F: Future>(limit: Duration, f: F) -> Option<F::Output> {
    if limit.is_zero() { Some(f.await) } else { tokio::time::timeout(limit, f).await.ok() }
}

/// [`timed`] for I/O: a timeout becomes a `TimedOut` error.
pub async fn timed_io<T>(limit: Duration, f: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    timed(limit, f).await.unwrap_or_else(|| Err(io::Error::new(io::ErrorKind::TimedOut, "peer too slow")))
}

/// The connection future a [`Handler`] makes.
pub type ConnFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What runs one accepted connection.
pub type Handler = Box<dyn Fn(TcpStream, SocketAddr) -> ConnFuture + Send + Sync>;

/// A [`Handler`] from an async function or closure.
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(TcpStream, SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Box::new(move |s, a| Box::pin(f(s, a)))
}

/// When an accepted connection starts counting against the connection cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// At once: for ports where the server speaks first or the client only listens (a data or
    /// callback port).
    Immediate,
    /// Once the client has sent its first bytes (its handshake): silent connections wait outside
    /// the cap, at most [`MAX_WAITING_PER_SLOT`] per slot, the oldest closed first, each for at most
    /// [`FIRST_BYTES_TIMEOUT`]. So a thousand connections that never speak cannot lock a real client
    /// out.
    AfterFirstBytes,
}

/// Whether bytes (or the end of the stream) are already waiting on `stream`, without taking them: a
/// real client's handshake is usually there by the time a burst of accepts reaches it, so it is
/// admitted at once and never waits where a flood of silent connections could push it out.
fn has_spoken(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    let mut buf = tokio::io::ReadBuf::new(&mut byte);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    matches!(stream.poll_peek(&mut cx, &mut buf), Poll::Ready(_))
}

/// How long a connection may stay silent before its first bytes ([`Admission::AfterFirstBytes`]).
pub const FIRST_BYTES_TIMEOUT: Duration = Duration::from_secs(10);
/// Silent connections kept waiting per connection slot.
pub const MAX_WAITING_PER_SLOT: usize = 4;

/// The one accept loop of the TCP emulators: accepts on every listener, runs each connection with
/// its listener's handler while fewer than `max_connections` run (others are closed at once; with
/// [`Admission::AfterFirstBytes`] a connection counts only once it has spoken), and on `shutdown`
/// stops accepting, closes every connection and returns. Never fails for a bad peer; a failing
/// accept (e.g. out of descriptors) backs off briefly.
pub async fn serve_tcp(
    listeners: Vec<(&TcpListener, Handler, Admission)>,
    max_connections: usize,
    shutdown: impl Future<Output = ()>,
) {
    let max_connections = max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max_connections));
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut waiters: JoinSet<()> = JoinSet::new();
    let mut waiting: std::collections::VecDeque<tokio::task::AbortHandle> = std::collections::VecDeque::new();
    let max_waiting = max_connections.saturating_mul(MAX_WAITING_PER_SLOT);
    let (spoke_tx, mut spoke_rx) = tokio::sync::mpsc::unbounded_channel::<(usize, TcpStream, SocketAddr)>();
    let mut shutdown = std::pin::pin!(shutdown);
    let admit = |i: usize, stream: TcpStream, peer: SocketAddr, tasks: &mut JoinSet<()>| {
        match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => {
                let conn = (listeners[i].1)(stream, peer);
                tasks.spawn(async move {
                    conn.await;
                    drop(permit);
                });
            }
            Err(_) => {
                tracing::debug!(%peer, max_connections, "connection limit reached, closing");
                // Reset rather than FIN, so no TIME_WAIT is kept for the refused socket (a
                // zero linger never blocks on drop).
                #[allow(deprecated)]
                let _ = stream.set_linger(Some(Duration::ZERO));
                drop(stream);
            }
        }
    };
    loop {
        let accept = std::future::poll_fn(|cx| {
            for (i, (l, _, _)) in listeners.iter().enumerate() {
                if let Poll::Ready(r) = l.poll_accept(cx) {
                    return Poll::Ready((i, r));
                }
            }
            Poll::Pending
        });
        tokio::select! {
            (i, accepted) = accept => match accepted {
                Ok((stream, peer)) if listeners[i].2 == Admission::AfterFirstBytes && !has_spoken(&stream) => {
                    while waiting.front().is_some_and(|h| h.is_finished()) {
                        waiting.pop_front();
                    }
                    if waiting.len() >= max_waiting
                        && let Some(oldest) = waiting.pop_front()
                    {
                        oldest.abort();
                    }
                    let spoke = spoke_tx.clone();
                    let handle = waiters.spawn(async move {
                        // Readable: bytes (or the end of the stream) are there; either way it is the
                        // handler's to deal with.
                        if let Ok(Ok(())) = tokio::time::timeout(FIRST_BYTES_TIMEOUT, stream.readable()).await {
                            let _ = spoke.send((i, stream, peer));
                        }
                    });
                    waiting.push_back(handle);
                }
                Ok((stream, peer)) => admit(i, stream, peer, &mut tasks),
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some((i, stream, peer)) = spoke_rx.recv() => admit(i, stream, peer, &mut tasks),
            Some(_) = waiters.join_next(), if !waiters.is_empty() => {}
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = done
                    && e.is_panic()
                {
                    tracing::warn!(error = %e, "connection task panicked");
                }
            }
            () = &mut shutdown => break,
        }
    }
    waiters.shutdown().await;
    tasks.shutdown().await;
}

/// The user and password of an `Authorization: Basic ...` header value (HTTP and RTSP alike);
/// `None` for any other scheme or a value that does not decode to `user:password`.
///
/// ```
/// use camctl_core::serve::basic_credentials;
/// assert_eq!(basic_credentials("Basic dmlld2VyOnMzY3JldA=="), Some(("viewer".into(), "s3cret".into())));
/// assert_eq!(basic_credentials("Bearer x"), None);
/// assert_eq!(basic_credentials("Basic dmlld2Vy"), None); // "viewer": no password part
/// ```
pub fn basic_credentials(value: &str) -> Option<(String, String)> {
    use base64::Engine;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn symlinks_are_refused_and_unlisted() {
        let outside = tempfile::tempdir().unwrap();
        let media = tempfile::tempdir().unwrap();
        let root = media.path();
        std::fs::write(outside.path().join("secret"), b"secret").unwrap();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("d/ok.jpg"), b"ok").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.join("d/link.jpg")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
        let names: Vec<_> =
            list_dir_beneath(root, Path::new("d")).unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["ok.jpg"]);
        assert!(list_dir_beneath(root, Path::new("out")).is_err());
        assert!(open_beneath(root, Path::new("d/link.jpg"), false).is_err());
        assert!(open_beneath(root, Path::new("d/link.jpg"), true).is_err());
        assert!(open_beneath(root, Path::new("out/secret"), false).is_err());
        assert!(open_beneath(root, Path::new("out/new"), true).is_err());
        assert!(open_beneath(root, Path::new("../x"), false).is_err());
        assert!(open_beneath(root, Path::new("d"), false).is_err());
        assert!(resolve_beneath(root, Path::new("out/secret")).is_err());
        assert!(metadata_beneath(root, Path::new("d/link.jpg")).is_err());
        assert_eq!(
            std::io::read_to_string(open_beneath(root, &root.join("d/ok.jpg"), false).unwrap()).unwrap(),
            "ok"
        );
        open_beneath(root, Path::new("d/new.jpg"), true).unwrap();
        assert!(root.join("d/new.jpg").is_file());
        assert!(!outside.path().join("new").exists());
        assert!(free_space(root).is_some());
    }

    #[tokio::test]
    async fn silent_connections_wait_outside_the_cap() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let echo = handler(|mut s: TcpStream, _| async move {
                let mut b = [0u8; 1];
                while let Ok(1) = s.read(&mut b).await {
                    let _ = s.write_all(&b).await;
                }
            });
            serve_tcp(vec![(&listener, echo, Admission::AfterFirstBytes)], 1, std::future::pending()).await;
        });
        // Far more silent connections than the cap (1) and the waiting room (4) hold.
        let mut silent = Vec::new();
        for _ in 0..50 {
            silent.push(TcpStream::connect(addr).await.unwrap());
        }
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"y").await.unwrap();
        let mut r = [0u8; 1];
        client.read_exact(&mut r).await.unwrap();
        assert_eq!(&r, b"y");
        server.abort();
    }

    #[tokio::test]
    async fn cap_refuses_extras_and_shutdown_closes() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let echo = handler(|mut s: TcpStream, _| async move {
                let mut b = [0u8; 1];
                while let Ok(1) = s.read(&mut b).await {
                    let _ = s.write_all(&b).await;
                }
            });
            serve_tcp(vec![(&listener, echo, Admission::Immediate)], 2, async move {
                let _ = stop_rx.await;
            })
            .await;
        });
        let mut a = TcpStream::connect(addr).await.unwrap();
        let mut b = TcpStream::connect(addr).await.unwrap();
        for s in [&mut a, &mut b] {
            s.write_all(b"x").await.unwrap();
            let mut r = [0u8; 1];
            s.read_exact(&mut r).await.unwrap();
        }
        let mut c = TcpStream::connect(addr).await.unwrap();
        let _ = c.write_all(b"x").await;
        let mut r = [0u8; 1];
        assert!(matches!(c.read(&mut r).await, Ok(0) | Err(_)), "third connection refused");
        stop_tx.send(()).unwrap();
        server.await.unwrap();
        assert!(matches!(a.read(&mut r).await, Ok(0) | Err(_)), "closed on shutdown");
    }
}
