//! `RedbStore`: the embedded default store of ModelGates — the domain's [`Storage`] trait on a
//! single redb file, one redb table per domain table.
//!
//! ```
//! use modelgates::{ModelGates, Page};
//! use modelgates_redb::RedbStore;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = RedbStore::open(dir.path().join("modelgates.redb"))?;
//! let gates = ModelGates::open(store.clone())?;
//! let admin = gates.default_caller()?;
//! assert_eq!(gates.workspace_list(&admin, Page::default())?.data[0].slug, "default");
//! drop(gates);
//! store.close()?;   // flushes and releases the file lock
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod fault;

pub use fault::FaultyBackend;
/// The redb version this store is built on (its error types appear in [`RedbError`]).
pub use redb;

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use modelgates::{Entry, ReadTxn, Storage, StorageError, StorageResult, TableName, WriteTxn};
use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableError};

/// Errors of opening, checking or closing a redb database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedbError {
    /// The file could not be opened or created.
    #[error("cannot open database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// redb's reason.
        source: redb::DatabaseError,
    },
    /// The parent directory could not be created.
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS reason.
        source: std::io::Error,
    },
    /// The database file could not be created.
    #[error("cannot create database file {path}: {source}")]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// The OS reason.
        source: std::io::Error,
    },
    /// Closing failed (e.g. a write transaction is still alive).
    #[error("cannot close database: {0}")]
    Close(redb::DatabaseError),
    /// The database was already closed.
    #[error("the database is already closed")]
    Closed,
    /// The integrity check could not run or found damage it could not repair.
    #[error("integrity check of {path} failed: {source}")]
    Check {
        /// The database file.
        path: PathBuf,
        /// redb's reason.
        source: redb::DatabaseError,
    },
    /// Writing the backup failed.
    #[error("backup to {path} failed: {reason}")]
    Backup {
        /// The backup file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// What [`RedbStore::check_file`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// The file passed redb's integrity check.
    Clean,
    /// The file was damaged (e.g. an interrupted commit) and redb repaired it.
    Repaired,
}

fn def(table: TableName) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(table.0)
}

fn backup_error(dest: &Path, reason: String) -> RedbError {
    RedbError::Backup {
        path: dest.to_path_buf(),
        reason,
    }
}

/// Creates `path` empty, readable and writable by its owner only (0600), unless it exists:
/// the database holds account data and key hashes, so neither it nor a backup is ever
/// world-readable. redb then initializes the empty file.
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Copies every table of `src`, from one read transaction, into a new database at `dest`.
fn copy_database(src: &impl ReadableDatabase, dest: &Path) -> Result<u64, RedbError> {
    let fail = |reason: String| backup_error(dest, reason);
    if dest.exists() {
        return Err(fail("the file already exists; choose a new path".into()));
    }
    let read = src.begin_read().map_err(|e| fail(e.to_string()))?;
    create_private(dest).map_err(|e| fail(e.to_string()))?;
    let out = redb::Database::create(dest).map_err(|e| fail(e.to_string()))?;
    let write = out.begin_write().map_err(|e| fail(e.to_string()))?;
    let mut copied = 0;
    for handle in read.list_tables().map_err(|e| fail(e.to_string()))? {
        let name = redb::TableHandle::name(&handle).to_owned();
        let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
        let src = read
            .open_table(def)
            .map_err(|e| fail(format!("table {name}: {e}")))?;
        let mut dst = write
            .open_table(def)
            .map_err(|e| fail(format!("table {name}: {e}")))?;
        for item in src.iter().map_err(|e| fail(e.to_string()))? {
            let (k, v) = item.map_err(|e| fail(e.to_string()))?;
            dst.insert(k.value(), v.value())
                .map_err(|e| fail(e.to_string()))?;
            copied += 1;
        }
    }
    write.commit().map_err(|e| fail(e.to_string()))?;
    out.close().map_err(|e| fail(e.to_string()))?;
    Ok(copied)
}

/// A redb-backed store. Cloning shares the one `Database` of the process.
#[derive(Clone, Debug)]
pub struct RedbStore {
    db: Arc<Mutex<Option<Arc<redb::Database>>>>,
    path: PathBuf,
}

impl RedbStore {
    /// Opens (or creates) the database file at `path`, creating missing parent directories.
    /// An unclean previous shutdown is repaired by redb on open. This process holds the file
    /// exclusively (see [`RedbStore::open_shared`] for live backups from another process).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RedbError> {
        Self::open_mode(path.as_ref(), redb::ConcurrencyMode::ExclusiveWriter)
    }

    /// Like [`RedbStore::open`], but other processes may open the file read-only meanwhile —
    /// [`RedbStore::backup_file`] (`modelgates backup`) then copies it while this process
    /// serves. redb's shared-file locking costs each durable commit ~80 µs more on the
    /// benchmark machine (docs/benchmarks.md), so it is opt-in.
    pub fn open_shared(path: impl AsRef<Path>) -> Result<Self, RedbError> {
        Self::open_mode(path.as_ref(), redb::ConcurrencyMode::SingleWriter)
    }

    fn open_mode(path: &Path, mode: redb::ConcurrencyMode) -> Result<Self, RedbError> {
        let path = path.to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| RedbError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        create_private(&path).map_err(|source| RedbError::CreateFile {
            path: path.clone(),
            source,
        })?;
        let db = redb::Builder::new()
            .set_concurrency_mode(mode)
            .create(&path)
            .map_err(|source| RedbError::Open {
                path: path.clone(),
                source,
            })?;
        tracing::debug!(path = %path.display(), "opened redb database");
        Ok(Self {
            db: Arc::new(Mutex::new(Some(Arc::new(db)))),
            path,
        })
    }

    /// A store over an already open redb database — e.g. one built with
    /// `redb::Builder::create_with_backend` (in-memory, or with injected faults in tests).
    /// `label` stands in for the path in messages.
    pub fn from_database(db: redb::Database, label: impl Into<PathBuf>) -> Self {
        Self {
            db: Arc::new(Mutex::new(Some(Arc::new(db)))),
            path: label.into(),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs redb's integrity check on the file at `path` (opening it exclusively).
    pub fn check_file(path: impl AsRef<Path>) -> Result<Integrity, RedbError> {
        let path = path.as_ref().to_path_buf();
        let mut db = redb::Database::open(&path).map_err(|source| RedbError::Open {
            path: path.clone(),
            source,
        })?;
        let clean = db.check_integrity().map_err(|source| RedbError::Check {
            path: path.clone(),
            source,
        })?;
        db.close().map_err(RedbError::Close)?;
        Ok(if clean {
            Integrity::Clean
        } else {
            Integrity::Repaired
        })
    }

    /// Writes a consistent copy of the whole database to a new file `dest`, from one read
    /// transaction: writers keep working meanwhile and nothing they commit later is copied.
    /// Returns the number of entries copied. `dest` must not exist.
    pub fn backup_to(&self, dest: impl AsRef<Path>) -> Result<u64, RedbError> {
        let dest = dest.as_ref();
        let db = self.db().map_err(|e| backup_error(dest, e.to_string()))?;
        copy_database(&*db, dest)
    }

    /// Writes a consistent copy of the database file at `path` to a new file `dest`, opening
    /// `path` read-only — also while another process writes it through
    /// [`RedbStore::open_shared`]: the copy is one read transaction of the last commit. A file
    /// held by [`RedbStore::open`] elsewhere fails with redb's `DatabaseAlreadyOpen`.
    /// Returns the entries copied.
    pub fn backup_file(path: impl AsRef<Path>, dest: impl AsRef<Path>) -> Result<u64, RedbError> {
        let path = path.as_ref();
        let src = redb::Builder::new()
            .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
            .open_read_only(path)
            .map_err(|source| RedbError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        copy_database(&src, dest.as_ref())
    }

    fn db(&self) -> StorageResult<Arc<redb::Database>> {
        self.db
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| StorageError::backend("the database is closed"))
    }

    /// Closes the database cleanly (redb's `Database::close`). Further transactions fail.
    /// Call it once every `ModelGates` using this store is done.
    pub fn close(&self) -> Result<(), RedbError> {
        let db = self
            .db
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or(RedbError::Closed)?;
        match Arc::try_unwrap(db) {
            Ok(db) => db.close().map_err(RedbError::Close),
            // A clone of the handle (or a live transaction) still holds the database; redb
            // closes it when the last holder drops it.
            Err(_) => {
                tracing::warn!(path = %self.path.display(), "database still in use; it closes when the last user drops it");
                Ok(())
            }
        }
    }
}

fn storage(e: impl std::fmt::Display) -> StorageError {
    StorageError::backend(e)
}

struct RedbRead {
    txn: redb::ReadTransaction,
}

struct RedbWrite {
    txn: redb::WriteTransaction,
}

fn collect<T: ReadableTable<&'static [u8], &'static [u8]>>(
    table: &T,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
    limit: usize,
) -> StorageResult<Vec<Entry>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    if let (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) =
        (start, end)
        && (s > e || (s == e && !matches!((start, end), (Bound::Included(_), Bound::Included(_)))))
    {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for item in table.range::<&[u8]>((start, end)).map_err(storage)? {
        let (k, v) = item.map_err(storage)?;
        out.push((k.value().to_vec(), v.value().to_vec()));
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

impl ReadTxn for RedbRead {
    fn get(&self, table: TableName, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        match self.txn.open_table(def(table)) {
            Ok(t) => Ok(t.get(key).map_err(storage)?.map(|v| v.value().to_vec())),
            Err(TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(storage(e)),
        }
    }

    fn range(
        &self,
        table: TableName,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> StorageResult<Vec<Entry>> {
        match self.txn.open_table(def(table)) {
            Ok(t) => collect(&t, start, end, limit),
            Err(TableError::TableDoesNotExist(_)) => Ok(Vec::new()),
            Err(e) => Err(storage(e)),
        }
    }
}

impl ReadTxn for RedbWrite {
    fn get(&self, table: TableName, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        let t = self.txn.open_table(def(table)).map_err(storage)?;
        Ok(t.get(key).map_err(storage)?.map(|v| v.value().to_vec()))
    }

    fn range(
        &self,
        table: TableName,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> StorageResult<Vec<Entry>> {
        let t = self.txn.open_table(def(table)).map_err(storage)?;
        collect(&t, start, end, limit)
    }
}

impl WriteTxn for RedbWrite {
    fn put(&mut self, table: TableName, key: &[u8], value: &[u8]) -> StorageResult<()> {
        let mut t = self.txn.open_table(def(table)).map_err(storage)?;
        t.insert(key, value).map_err(storage)?;
        Ok(())
    }

    fn delete(&mut self, table: TableName, key: &[u8]) -> StorageResult<bool> {
        let mut t = self.txn.open_table(def(table)).map_err(storage)?;
        Ok(t.remove(key).map_err(storage)?.is_some())
    }

    fn commit(self: Box<Self>) -> StorageResult<()> {
        self.txn.commit().map_err(storage)
    }

    fn abort(self: Box<Self>) -> StorageResult<()> {
        self.txn.abort().map_err(storage)
    }
}

impl Storage for RedbStore {
    fn begin_read(&self) -> StorageResult<Box<dyn ReadTxn + '_>> {
        Ok(Box::new(RedbRead {
            txn: self.db()?.begin_read().map_err(storage)?,
        }))
    }

    fn begin_write(&self) -> StorageResult<Box<dyn WriteTxn + '_>> {
        Ok(Box::new(RedbWrite {
            txn: self.db()?.begin_write().map_err(storage)?,
        }))
    }

    fn backend_name(&self) -> &'static str {
        "redb"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redb_store_passes_the_backend_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("c.redb")).unwrap();
        modelgates::testkit::run_conformance(&store);
        store.close().unwrap();
    }
}
