//! `Conflicting`: a store wrapper that makes write transactions lose serialization conflicts at
//! random (at a write or at commit, in which case nothing is committed), as a database server
//! does when several instances write at once. Run the model check through it to prove that
//! re-run writes give exactly the results of single runs.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::storage::{Entry, ReadTxn, Storage, StorageError, StorageResult, TableName, WriteTxn};

/// Wraps `inner`; one write transaction in `one_in` loses a conflict.
pub struct Conflicting {
    inner: Arc<dyn Storage>,
    one_in: u64,
    conflicts: Arc<AtomicU64>,
}

impl std::fmt::Debug for Conflicting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conflicting")
            .field("inner", &self.inner.backend_name())
            .field("one_in", &self.one_in)
            .finish()
    }
}

impl Conflicting {
    /// Wraps `inner` so that about one write transaction in `one_in` conflicts.
    pub fn new(inner: Arc<dyn Storage>, one_in: u64) -> Self {
        Self {
            inner,
            one_in: one_in.max(2),
            conflicts: Arc::default(),
        }
    }

    /// How many conflicts were injected so far.
    pub fn conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    fn roll(&self) -> bool {
        let lose = crate::ids::random_u128().is_multiple_of(u128::from(self.one_in));
        if lose {
            self.conflicts.fetch_add(1, Ordering::Relaxed);
        }
        lose
    }
}

struct Txn<'a> {
    inner: Box<dyn WriteTxn + 'a>,
    store: &'a Conflicting,
    /// Whether this transaction loses at its first write (else maybe at commit).
    at_write: bool,
}

impl ReadTxn for Txn<'_> {
    fn get(&self, table: TableName, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        self.inner.get(table, key)
    }

    fn range(
        &self,
        table: TableName,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> StorageResult<Vec<Entry>> {
        self.inner.range(table, start, end, limit)
    }
}

impl WriteTxn for Txn<'_> {
    fn put(&mut self, table: TableName, key: &[u8], value: &[u8]) -> StorageResult<()> {
        if std::mem::take(&mut self.at_write) {
            return Err(StorageError::Conflict);
        }
        self.inner.put(table, key, value)
    }

    fn delete(&mut self, table: TableName, key: &[u8]) -> StorageResult<bool> {
        if std::mem::take(&mut self.at_write) {
            return Err(StorageError::Conflict);
        }
        self.inner.delete(table, key)
    }

    fn commit(self: Box<Self>) -> StorageResult<()> {
        if self.store.roll() {
            self.inner.abort()?;
            return Err(StorageError::Conflict);
        }
        self.inner.commit()
    }

    fn abort(self: Box<Self>) -> StorageResult<()> {
        self.inner.abort()
    }
}

impl Storage for Conflicting {
    fn begin_read(&self) -> StorageResult<Box<dyn ReadTxn + '_>> {
        self.inner.begin_read()
    }

    fn begin_write(&self) -> StorageResult<Box<dyn WriteTxn + '_>> {
        let at_write = self.roll();
        Ok(Box::new(Txn {
            inner: self.inner.begin_write()?,
            store: self,
            at_write,
        }))
    }

    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }
}
