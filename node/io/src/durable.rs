//! A redb database that survives storage faults (disk full, EIO) without a
//! process restart.
//!
//! redb latches the first I/O error: every later transaction, reads included,
//! fails with `PreviousIo` until the database is closed and opened again (the
//! open repairs the file from its last commit, so nothing committed is lost).
//! [`Durable`] watches every read, write and sync of the file through its own
//! storage backend, records the fault in [`StoreHealth`] (for `/healthz` and
//! `/metrics`), and reopens the file — at most once per [`RETRY`] — on the next
//! use after a fault, or when [`Durable::recover`] is called by a periodic task.
//! A reopened database counts as recovered only once a probe write of
//! [`PROBE_BYTES`] commits, so health does not report "ok" while writes of any
//! size still fail.

use redb::backends::FileBackend;
use redb::{Database, DatabaseError, StorageBackend, TableDefinition};
use std::fs::OpenOptions;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::storage::DbError;

/// Least time between two reopen attempts while the storage is faulted, so a
/// burst of requests against a full disk costs one repair attempt, not one each.
pub const RETRY: Duration = Duration::from_secs(1);

/// The table the recovery probe writes to.
const PROBE: TableDefinition<&str, &[u8]> = TableDefinition::new("storage_probe");

/// Why a database cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process (or another handle in this one) holds the file.
    #[error("the database file is in use")]
    InUse,
    #[error("database: {0}")]
    Other(String),
}

impl From<DatabaseError> for OpenError {
    fn from(e: DatabaseError) -> Self {
        match e {
            DatabaseError::DatabaseAlreadyOpen => OpenError::InUse,
            e => OpenError::Other(e.to_string()),
        }
    }
}

impl From<std::io::Error> for OpenError {
    fn from(e: std::io::Error) -> Self {
        OpenError::Other(e.to_string())
    }
}

/// The storage is faulted and could not be reopened yet.
#[derive(Debug, Clone, thiserror::Error)]
#[error("storage unavailable: {0}")]
pub struct Unavailable(pub String);

/// The state of a store's storage and its fault counters; shared with the
/// health and metrics endpoints.
#[derive(Debug, Default)]
pub struct StoreHealth {
    /// The first error of the current fault; `None` while healthy.
    fault: Mutex<Option<String>>,
    /// Failed storage operations (each read, write, sync or reopen that failed).
    io_errors: AtomicU64,
    /// Times the storage went from healthy to faulted.
    faults: AtomicU64,
    /// Times it came back (a reopen whose probe commit succeeded).
    recoveries: AtomicU64,
}

/// A point-in-time copy of [`StoreHealth`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    /// Why writes fail, while they do.
    pub fault: Option<String>,
    pub io_errors: u64,
    pub faults: u64,
    pub recoveries: u64,
}

impl StoreHealth {
    fn failed(&self, what: &str, err: &std::io::Error) {
        self.io_errors.fetch_add(1, Ordering::Relaxed);
        let mut fault = self.fault.lock().unwrap_or_else(|p| p.into_inner());
        if fault.is_none() {
            self.faults.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%err, what, "storage fault: writes are held until the file can be reopened");
            *fault = Some(format!("{what}: {err}"));
        }
    }

    fn reopen_failed(&self, reason: String) {
        self.io_errors.fetch_add(1, Ordering::Relaxed);
        let mut fault = self.fault.lock().unwrap_or_else(|p| p.into_inner());
        if fault.is_none() {
            self.faults.fetch_add(1, Ordering::Relaxed);
        }
        *fault = Some(reason);
    }

    fn recovered(&self) {
        let mut fault = self.fault.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(was) = fault.take() {
            self.recoveries.fetch_add(1, Ordering::Relaxed);
            tracing::info!(was, "storage recovered");
        }
    }

    /// Whether the storage is faulted.
    pub fn is_faulted(&self) -> bool {
        self.fault
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    pub fn report(&self) -> HealthReport {
        HealthReport {
            fault: self.fault.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            io_errors: self.io_errors.load(Ordering::Relaxed),
            faults: self.faults.load(Ordering::Relaxed),
            recoveries: self.recoveries.load(Ordering::Relaxed),
        }
    }
}

/// redb's file backend, reporting every failed operation to [`StoreHealth`].
#[derive(Debug)]
struct WatchedFile {
    file: FileBackend,
    health: Arc<StoreHealth>,
}

impl WatchedFile {
    fn watch<T>(&self, what: &str, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(err) = &result {
            self.health.failed(what, err);
        }
        result
    }
}

impl StorageBackend for WatchedFile {
    fn len(&self) -> std::io::Result<u64> {
        self.watch("size", self.file.len())
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.watch("read", self.file.read(offset, out))
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.watch("resize", self.file.set_len(len))
    }

    fn sync_data(&self) -> std::io::Result<()> {
        self.watch("sync", self.file.sync_data())
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.watch("write", self.file.write(offset, data))
    }

    fn close(&self) -> std::io::Result<()> {
        self.file.close()
    }

    fn try_lock_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.file.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.file.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.file.lock_range(start, end)
    }

    fn lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<(), redb::BackendError> {
        self.file.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.file.unlock_range(start, end)
    }

    fn query_lock_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.file.query_lock_range(start, end)
    }
}

/// A redb database file that reopens itself after a storage fault.
pub struct Durable {
    path: PathBuf,
    /// `None` after a reopen failed: every use says why until one succeeds.
    db: RwLock<Option<Arc<Database>>>,
    health: Arc<StoreHealth>,
    /// When the last reopen was tried.
    last_attempt: Mutex<Option<Instant>>,
}

impl Durable {
    /// Opens (creating if missing) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let health = Arc::new(StoreHealth::default());
        let db = open_watched(path, &health)?;
        Ok(Self {
            path: path.to_path_buf(),
            db: RwLock::new(Some(Arc::new(db))),
            health,
            last_attempt: Mutex::new(None),
        })
    }

    /// A database held in memory with redb's own commit semantics (the
    /// whole-network simulation's stand-in for a file): it has no file to
    /// fault, so it is never reopened.
    pub fn in_memory() -> Result<Self, redb::DatabaseError> {
        let db = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?;
        Ok(Self {
            path: PathBuf::new(),
            db: RwLock::new(Some(Arc::new(db))),
            health: Arc::new(StoreHealth::default()),
            last_attempt: Mutex::new(None),
        })
    }

    /// The database, reopened first if a fault was seen (at most once per
    /// [`RETRY`]). While the storage stays faulted every use is refused with
    /// the fault's reason instead of reaching redb's latched error.
    pub fn get(&self) -> Result<Arc<Database>, Unavailable> {
        if self.health.is_faulted() && !self.recover() {
            return Err(Unavailable(self.fault_reason()));
        }
        match &*self.db.read().unwrap_or_else(|p| p.into_inner()) {
            Some(db) => Ok(db.clone()),
            None => Err(Unavailable(self.fault_reason())),
        }
    }

    /// The shared health record.
    pub fn health(&self) -> &Arc<StoreHealth> {
        &self.health
    }

    fn fault_reason(&self) -> String {
        self.health
            .report()
            .fault
            .unwrap_or_else(|| "storage unavailable".to_owned())
    }

    /// Reopens the file if the storage is faulted (at most once per [`RETRY`]),
    /// and proves writes work with a probe commit. Returns whether the storage
    /// is healthy afterwards. Blocking.
    pub fn recover(&self) -> bool {
        if !self.health.is_faulted() {
            return true;
        }
        {
            let mut last = self.last_attempt.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < RETRY) {
                return false;
            }
            *last = Some(Instant::now());
        }
        let mut slot = self.db.write().unwrap_or_else(|p| p.into_inner());
        if let Some(db) = slot.take() {
            match Arc::try_unwrap(db) {
                // Closing releases the file lock, so the reopen below can take it.
                Ok(db) => drop(db),
                Err(shared) => {
                    // A transaction is being started elsewhere; try again later.
                    *slot = Some(shared);
                    return false;
                }
            }
        }
        let reopened = open_watched(&self.path, &self.health)
            .map_err(|e| e.to_string())
            .and_then(|db| probe(&db).map(|()| db).map_err(|e| e.to_string()));
        match reopened {
            Ok(db) => {
                *slot = Some(Arc::new(db));
                self.health.recovered();
                true
            }
            Err(reason) => {
                tracing::warn!(%reason, "storage still faulted");
                self.health.reopen_failed(reason);
                false
            }
        }
    }
}

fn open_watched(path: &Path, health: &Arc<StoreHealth>) -> Result<Database, OpenError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let backend = WatchedFile {
        file: FileBackend::new(file)?,
        health: health.clone(),
    };
    Ok(Database::builder().create_with_backend(backend)?)
}

/// Bytes the recovery probe writes: a reopened database counts as healthy only
/// if it can take this much new data, so a disk with a few pages free (enough
/// for a tiny commit, not for the uploads that failed) stays reported faulted.
const PROBE_BYTES: usize = 1 << 20;

/// Writes [`PROBE_BYTES`] and removes them again, in two commits.
fn probe(db: &Database) -> Result<(), DbError> {
    let blob = vec![0u8; PROBE_BYTES];
    let tx = db.begin_write()?;
    tx.open_table(PROBE)?.insert("headroom", blob.as_slice())?;
    tx.commit()?;
    let tx = db.begin_write()?;
    tx.open_table(PROBE)?.remove("headroom")?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_database_reports_no_fault_and_a_second_opener_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.redb");
        let db = Durable::open(&path).unwrap();
        assert!(db.recover());
        assert_eq!(db.health().report().fault, None);
        assert!(matches!(Durable::open(&path), Err(OpenError::InUse)));
        probe(&db.get().unwrap()).unwrap();
    }
}
