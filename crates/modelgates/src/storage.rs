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

    /// The values stored under `keys`, in their order. The default reads them one by one; a
    /// backend where every read is a network round trip fetches them in one.
    fn get_many(&self, table: TableName, keys: &[&[u8]]) -> StorageResult<Vec<Option<Vec<u8>>>> {
        keys.iter().map(|key| self.get(table, key)).collect()
    }

    /// A hint that this transaction is about to read `keys`: a backend where every read is a
    /// network round trip fetches them now, in one, and answers those reads from what it
    /// fetched (its snapshot does not move). Local backends do nothing (the default).
    fn prefetch(&self, keys: &[(TableName, &[u8])]) -> StorageResult<()> {
        let _ = keys;
        Ok(())
    }
}

/// A read-write transaction. It sees its own writes; nothing is visible to others before
/// [`WriteTxn::commit`]; dropping it without committing aborts it.
pub trait WriteTxn: ReadTxn {
    /// Inserts or replaces `key`.
    fn put(&mut self, table: TableName, key: &[u8], value: &[u8]) -> StorageResult<()>;

    /// Removes `key`; returns whether it was present.
    fn delete(&mut self, table: TableName, key: &[u8]) -> StorageResult<bool>;

    /// Asks the backend to wake the other processes watching the store ([`Storage::watch`])
    /// if and when this transaction commits: it appended to the change log. Does nothing by
    /// default (followers then find the change at their next poll).
    fn notify_on_commit(&mut self) -> StorageResult<()> {
        Ok(())
    }

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

    /// Calls `wake` (on a thread of the backend's) soon after another process commits a
    /// transaction that asked to notify ([`WriteTxn::notify_on_commit`]), until `wake` returns
    /// false. Returns whether this backend can; the default cannot, and followers poll.
    /// Followers poll anyway: a wake-up is a hint that makes them look sooner, never the
    /// only way they learn of a change.
    fn watch(&self, wake: Wake) -> StorageResult<bool> {
        let _ = wake;
        Ok(false)
    }
}

/// What [`Storage::watch`] calls; returns false once the watcher is gone.
pub type Wake = std::sync::Arc<dyn Fn() -> bool + Send + Sync>;
