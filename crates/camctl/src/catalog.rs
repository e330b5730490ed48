//! The import catalog: which camera files were imported, where to and with which SHA-256, in an
//! SQLite database (`$XDG_DATA_HOME/camctl/catalog.db`, `--catalog PATH` or `CAMCTL_CATALOG`).
//!
//! It is the only memory of what was imported: `pull --new` and `watch` skip a camera file recorded
//! here even when its local copy was moved or renamed since. A camera file is the same when camera
//! (protocol, maker, model, serial), camera path, size and capture time all match, so a card
//! formatted and refilled with new `IMG_0001.JPG`s is imported again.
//!
//! Every record is its own transaction in WAL mode with `synchronous=FULL`: once [`Catalog::record`]
//! returns, the record survives kill -9 and power loss, and several camctl processes can use the
//! catalog at once (writers wait for each other up to [`BUSY_TIMEOUT`]).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use camctl_core::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// How long a writer waits for another process's transaction before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The schema, version 1 (`PRAGMA user_version`).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS imports (
    id           INTEGER PRIMARY KEY,
    camera       TEXT NOT NULL,            -- protocol:maker:model:serial
    protocol     TEXT NOT NULL,
    serial       TEXT NOT NULL,
    camera_path  TEXT NOT NULL,
    size         INTEGER NOT NULL,
    capture_time TEXT NOT NULL DEFAULT '', -- as the camera reports it, '' when it does not
    local_path   TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    imported_at  TEXT NOT NULL,            -- UTC, YYYY-MM-DDTHH:MM:SSZ
    UNIQUE (camera, camera_path, size, capture_time)
);
PRAGMA user_version = 1;
";

/// One imported camera file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Import {
    /// Which camera: `protocol:maker:model:serial`.
    pub camera: String,
    /// `ptpip`, `yi`, `lytro`...
    pub protocol: String,
    /// The camera's serial number.
    pub serial: String,
    /// The file's path on the camera.
    pub camera_path: String,
    /// Its size in bytes.
    pub size: u64,
    /// The capture time the camera reported (`YYYY-MM-DD HH:MM:SS`).
    pub capture_time: Option<String>,
    /// Where it was saved.
    pub local_path: PathBuf,
    /// SHA-256 of the saved file, lower-case hex.
    pub sha256: String,
    /// When it was imported (UTC).
    pub imported_at: String,
}

/// Which camera file, for [`Catalog::contains`].
#[derive(Debug, Clone)]
pub struct CameraFile<'a> {
    /// `protocol:maker:model:serial`.
    pub camera: &'a str,
    /// Path on the camera.
    pub path: &'a str,
    /// Size in bytes.
    pub size: u64,
    /// Capture time as the camera reports it.
    pub capture_time: Option<String>,
}

impl<'a> CameraFile<'a> {
    /// `item` of the camera identified by `camera`, keyed as pull keys it (the date as
    /// [`camctl_core::download::Identity`] writes it).
    pub fn of(camera: &'a str, item: &'a camctl_core::MediaItem) -> CameraFile<'a> {
        CameraFile {
            camera,
            path: &item.path,
            size: item.size,
            capture_time: item.modified.map(|d| d.to_string()),
        }
    }
}

/// An open catalog. Safe to share between tasks; several processes may open the same file.
pub struct Catalog {
    conn: Mutex<Connection>,
    path: PathBuf,
}

fn sql_error(path: &Path, e: rusqlite::Error) -> Error {
    Error::io(format!("catalog {}", path.display()), std::io::Error::other(e))
}

impl Catalog {
    /// Where the catalog is: `flag` (`--catalog`), else `CAMCTL_CATALOG`, else
    /// `$XDG_DATA_HOME/camctl/catalog.db`, else `~/.local/share/camctl/catalog.db`.
    pub fn location(flag: Option<&Path>) -> Result<PathBuf> {
        if let Some(path) = flag {
            return Ok(path.to_path_buf());
        }
        let env = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(path) = env("CAMCTL_CATALOG") {
            return Ok(path);
        }
        // XDG: a relative XDG_DATA_HOME is invalid and ignored.
        let data = env("XDG_DATA_HOME")
            .filter(|p| p.is_absolute())
            .or_else(|| env("HOME").map(|home| home.join(".local/share")));
        match data {
            Some(data) => Ok(data.join("camctl/catalog.db")),
            None => Err(Error::InvalidValue(
                "no place for the import catalog: set HOME, XDG_DATA_HOME or CAMCTL_CATALOG, or give --catalog".into(),
            )),
        }
    }

    /// Opens (creating it and its folder if needed) the catalog at `path`.
    pub fn open(path: &Path) -> Result<Catalog> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent.display().to_string(), e))?;
        }
        let conn = Connection::open(path).map_err(|e| sql_error(path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| sql_error(path, e))?;
        // WAL: readers never block the writer; FULL: a returned record is on the disk.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(|e| sql_error(path, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(catalog = %path.display(), mode, "the catalog's filesystem does not allow WAL");
        }
        conn.execute_batch("PRAGMA synchronous = FULL;").map_err(|e| sql_error(path, e))?;
        let version: i64 =
            conn.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(|e| sql_error(path, e))?;
        if version > 1 {
            return Err(Error::Unsupported(format!(
                "catalog {} has schema version {version}, newer than this camctl knows (1)",
                path.display()
            )));
        }
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;")).map_err(|e| sql_error(path, e))?;
        Ok(Catalog { conn: Mutex::new(conn), path: path.to_path_buf() })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written: use the connection anyway.
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether this camera file was imported before.
    pub fn contains(&self, file: CameraFile<'_>) -> Result<bool> {
        Ok(self.local_path_of(file)?.is_some())
    }

    /// Where this camera file was saved when it was imported, if it was.
    pub fn local_path_of(&self, file: CameraFile<'_>) -> Result<Option<PathBuf>> {
        let path: Option<String> = self
            .conn()
            .query_row(
                "SELECT local_path FROM imports WHERE camera = ?1 AND camera_path = ?2 AND size = ?3 AND capture_time = ?4",
                params![file.camera, file.path, file.size as i64, file.capture_time.as_deref().unwrap_or("")],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| sql_error(&self.path, e))?;
        Ok(path.map(PathBuf::from))
    }

    /// Records one import in its own transaction (a file imported again replaces its record).
    pub fn record(&self, import: &Import) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| sql_error(&self.path, e))?;
        tx.execute(
            "INSERT INTO imports (camera, protocol, serial, camera_path, size, capture_time, local_path, sha256, imported_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (camera, camera_path, size, capture_time) DO UPDATE SET
                 local_path = excluded.local_path, sha256 = excluded.sha256, imported_at = excluded.imported_at",
            params![
                import.camera,
                import.protocol,
                import.serial,
                import.camera_path,
                import.size as i64,
                import.capture_time.as_deref().unwrap_or(""),
                import.local_path.to_string_lossy(),
                import.sha256,
                import.imported_at,
            ],
        )
        .map_err(|e| sql_error(&self.path, e))?;
        tx.commit().map_err(|e| sql_error(&self.path, e))
    }

    /// Every record, oldest import first; only `camera`'s when given (matched against the camera
    /// identity or its serial).
    pub fn list(&self, camera: Option<&str>) -> Result<Vec<Import>> {
        let conn = self.conn();
        let mut statement = conn
            .prepare(
                "SELECT camera, protocol, serial, camera_path, size, capture_time, local_path, sha256, imported_at
                 FROM imports WHERE ?1 IS NULL OR camera = ?1 OR serial = ?1 ORDER BY imported_at, id",
            )
            .map_err(|e| sql_error(&self.path, e))?;
        let rows = statement
            .query_map(params![camera], |row| import_of(row, 0))
            .map_err(|e| sql_error(&self.path, e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| sql_error(&self.path, e))
    }

    /// The id of the newest record of `camera`'s file at `camera_path`.
    pub fn find(&self, camera: &str, camera_path: &str) -> Result<Option<i64>> {
        let conn = self.conn();
        let found = conn.query_row(
            "SELECT id FROM imports WHERE camera = ?1 AND camera_path = ?2 ORDER BY id DESC LIMIT 1",
            params![camera, camera_path],
            |row| row.get(0),
        );
        match found {
            Ok(id) => Ok(Some(id)),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(sql_error(&self.path, e)),
        }
    }

    /// `camera`'s newest records with their ids, newest first, at most `limit`.
    pub fn recent(&self, camera: &str, limit: usize) -> Result<Vec<(i64, Import)>> {
        self.select("WHERE camera = ?1 ORDER BY id DESC LIMIT ?2", params![camera, limit as i64])
    }

    /// One record by id.
    pub fn get(&self, id: i64) -> Result<Option<Import>> {
        Ok(self.select("WHERE id = ?1", params![id])?.pop().map(|(_, i)| i))
    }

    fn select(&self, condition: &str, values: &[&dyn rusqlite::ToSql]) -> Result<Vec<(i64, Import)>> {
        let conn = self.conn();
        let mut statement = conn
            .prepare(&format!(
                "SELECT id, camera, protocol, serial, camera_path, size, capture_time, local_path, sha256, imported_at
                 FROM imports {condition}"
            ))
            .map_err(|e| sql_error(&self.path, e))?;
        let rows = statement
            .query_map(values, |row| Ok((row.get::<_, i64>(0)?, import_of(row, 1)?)))
            .map_err(|e| sql_error(&self.path, e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| sql_error(&self.path, e))
    }

    /// Forgets records: `camera`'s (identity or serial) when given, only those camera paths when
    /// `paths` is not empty, everything when both are absent. Returns how many went.
    pub fn forget(&self, camera: Option<&str>, paths: &[String]) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| sql_error(&self.path, e))?;
        let mut gone = 0;
        let by_camera = "(?1 IS NULL OR camera = ?1 OR serial = ?1)";
        if paths.is_empty() {
            gone += tx
                .execute(&format!("DELETE FROM imports WHERE {by_camera}"), params![camera])
                .map_err(|e| sql_error(&self.path, e))?;
        } else {
            for path in paths {
                gone += tx
                    .execute(
                        &format!("DELETE FROM imports WHERE {by_camera} AND camera_path = ?2"),
                        params![camera, path],
                    )
                    .map_err(|e| sql_error(&self.path, e))?;
            }
        }
        tx.commit().map_err(|e| sql_error(&self.path, e))?;
        Ok(gone)
    }
}

/// The record in `row`'s columns from `first` on (camera ... imported_at, in table order).
fn import_of(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Import> {
    let capture_time: String = row.get(first + 5)?;
    let local_path: String = row.get(first + 6)?;
    Ok(Import {
        camera: row.get(first)?,
        protocol: row.get(first + 1)?,
        serial: row.get(first + 2)?,
        camera_path: row.get(first + 3)?,
        size: row.get::<_, i64>(first + 4)?.max(0) as u64,
        capture_time: (!capture_time.is_empty()).then_some(capture_time),
        local_path: PathBuf::from(local_path),
        sha256: row.get(first + 7)?,
        imported_at: row.get(first + 8)?,
    })
}

/// The current UTC time as the catalog writes it.
pub fn now_utc() -> String {
    let t = camctl_core::time::DateTime::now();
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", t.year, t.month, t.day, t.hour, t.minute, t.second)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import(path: &str, size: u64) -> Import {
        Import {
            camera: "ptpip:camctl:Emu:0001".into(),
            protocol: "ptpip".into(),
            serial: "0001".into(),
            camera_path: path.into(),
            size,
            capture_time: Some("2024-01-02 03:04:05".into()),
            local_path: PathBuf::from("/photos").join(path),
            sha256: "00".repeat(32),
            imported_at: now_utc(),
        }
    }

    fn file<'a>(i: &'a Import) -> CameraFile<'a> {
        CameraFile {
            camera: &i.camera,
            path: &i.camera_path,
            size: i.size,
            capture_time: i.capture_time.clone(),
        }
    }

    #[test]
    fn records_survive_reopening_and_identify_the_camera_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("sub/catalog.db");
        let a = import("DCIM/IMG_0001.JPG", 10);
        {
            let catalog = Catalog::open(&path).unwrap();
            assert!(!catalog.contains(file(&a)).unwrap());
            catalog.record(&a).unwrap();
            // Recording again replaces, never duplicates.
            catalog.record(&Import { local_path: "/elsewhere".into(), ..a.clone() }).unwrap();
        }
        let catalog = Catalog::open(&path).unwrap();
        assert!(catalog.contains(file(&a)).unwrap());
        let listed = catalog.list(None).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].local_path, PathBuf::from("/elsewhere"));
        // Same path, another size or date: another file (a reformatted card).
        let bigger = Import { size: 11, ..a.clone() };
        assert!(!catalog.contains(file(&bigger)).unwrap());
        let later = Import { capture_time: Some("2025-01-01 00:00:00".into()), ..a.clone() };
        assert!(!catalog.contains(file(&later)).unwrap());
        let undated = Import { capture_time: None, ..a.clone() };
        assert!(!catalog.contains(file(&undated)).unwrap());
        catalog.record(&undated).unwrap();
        assert!(catalog.contains(file(&undated)).unwrap());
        let mode: String = catalog.conn().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn forget_by_camera_and_path() {
        let tmp = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&tmp.path().join("c.db")).unwrap();
        let (a, b) = (import("A.JPG", 1), import("B.JPG", 2));
        let other = Import { camera: "yi:YI:Z16:9".into(), serial: "9".into(), ..import("A.JPG", 1) };
        for i in [&a, &b, &other] {
            catalog.record(i).unwrap();
        }
        assert_eq!(catalog.list(Some("9")).unwrap(), std::slice::from_ref(&other));
        assert_eq!(catalog.forget(Some("0001"), &["A.JPG".into()]).unwrap(), 1);
        assert!(catalog.contains(file(&other)).unwrap(), "another camera's A.JPG stays");
        assert_eq!(catalog.forget(Some("ptpip:camctl:Emu:0001"), &[]).unwrap(), 1);
        assert_eq!(catalog.forget(None, &[]).unwrap(), 1);
        assert!(catalog.list(None).unwrap().is_empty());
    }

    #[test]
    fn location_order() {
        let flag = Path::new("/x/c.db");
        assert_eq!(Catalog::location(Some(flag)).unwrap(), flag);
    }
}
