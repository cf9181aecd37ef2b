//! The storage trait: a small transactional, ordered key-value interface every backend implements.
//!
//! Backends see only named tables of byte keys and byte values. Typed tables, the
//! order-preserving key encoding and the versioned value format live in [`crate::codec`], so
//! every invariant is written once, in this crate, and holds identically on every backend.

use std::fmt;
use std::ops::Bound;

/// The name of a table. Backends map it to their own notion of a table (redb: one table each).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableName(pub &'static str);

impl fmt::Debug for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// One key-value pair returned by a range scan.
pub type Entry = (Vec<u8>, Vec<u8>);

/// A failure inside a storage backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The transaction lost a race with another writer; the whole write closure may be re-run.
    #[error("transaction conflict; retry")]
    Conflict,
    /// The backend's own error (I/O, corruption, closed database), already formatted.
    #[error("{0}")]
    Backend(String),
}

impl StorageError {
    /// Wraps any displayable backend error.
    pub fn backend(err: impl fmt::Display) -> Self {
        Self::Backend(err.to_string())
    }
}

/// Result alias of the storage layer.
pub type StorageResult<T> = Result<T, StorageError>;

/// A consistent, read-only view of the store.
pub trait ReadTxn {
    /// The value stored under `key`, if any.
    fn get(&self, table: TableName, key: &[u8]) -> StorageResult<Option<Vec<u8>>>;

    /// Up to `limit` entries with keys inside `(start, end)`, in ascending key order.
    fn range(
        &self,
        table: TableName,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> StorageResult<Vec<Entry>>;
}

/// A read-write transaction. It sees its own writes; nothing is visible to others before
/// [`WriteTxn::commit`]; dropping it without committing aborts it.
pub trait WriteTxn: ReadTxn {
    /// Inserts or replaces `key`.
    fn put(&mut self, table: TableName, key: &[u8], value: &[u8]) -> StorageResult<()>;

    /// Removes `key`; returns whether it was present.
    fn delete(&mut self, table: TableName, key: &[u8]) -> StorageResult<bool>;

    /// Makes every write of this transaction durable and visible, atomically.
    fn commit(self: Box<Self>) -> StorageResult<()>;

    /// Discards every write of this transaction.
    fn abort(self: Box<Self>) -> StorageResult<()>;
}

/// A storage backend: hands out read and write transactions.
///
/// Write closures in the domain may be re-run when [`StorageError::Conflict`] is returned, so a
/// backend with optimistic concurrency (e.g. Postgres under SERIALIZABLE) can report conflicts.
pub trait Storage: Send + Sync + 'static {
    /// Starts a read transaction on the latest committed state.
    fn begin_read(&self) -> StorageResult<Box<dyn ReadTxn + '_>>;

    /// Starts a write transaction.
    fn begin_write(&self) -> StorageResult<Box<dyn WriteTxn + '_>>;

    /// A short human name of the backend, for logs ("redb", "memory").
    fn backend_name(&self) -> &'static str;

    /// Whether every operation is a network round trip (a database server) rather than local
    /// memory or file access. Front ends on an async runtime then run reads on the blocking
    /// pool too, not only writes.
    fn is_remote(&self) -> bool {
        false
    }
}
