//! The write transaction as the unit of work: the store transaction of one operation, the
//! time it runs at, and a record of what it wrote to the tables the data-plane snapshot
//! mirrors. The snapshot changes of a commit are derived from that record, so no operation can
//! forget to publish one.

use std::ops::Bound;

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::schema::{CHANGES, META, META_CHANGE_HEAD};
use crate::snapshot::{Changes, Snapshot, Touched};
use crate::storage::{Entry, ReadTxn, StorageResult, TableName, WriteTxn};

/// How many change log records a shared database keeps: an instance further behind rebuilds
/// its snapshot from the store.
pub(crate) const CHANGE_LOG_KEEP: u64 = 10_000;

/// A write transaction of the domain. It is itself a [`ReadTxn`] and a [`WriteTxn`]: operations
/// read and write through it, and every write is noted for the snapshot.
pub(crate) struct Tx<'a> {
    txn: Box<dyn WriteTxn + 'a>,
    /// The time of the operation: every timestamp it writes.
    pub(crate) now: DateTime<Utc>,
    touched: Touched,
}

impl<'a> Tx<'a> {
    pub(crate) fn new(txn: Box<dyn WriteTxn + 'a>, now: DateTime<Utc>) -> Self {
        Self {
            txn,
            now,
            touched: Touched::default(),
        }
    }

    /// The snapshot changes of everything written so far, read inside the transaction.
    pub(crate) fn snapshot_changes(&self, current: &Snapshot) -> Result<Changes> {
        self.touched.changes(&*self.txn, current)
    }

    /// Appends what this transaction changed of the snapshot's tables to the change log, if
    /// anything, and returns its position. Keeps the newest [`CHANGE_LOG_KEEP`] records.
    pub(crate) fn log_changes(&mut self) -> Result<Option<u64>> {
        if self.touched.is_empty() {
            return Ok(None);
        }
        let head = META
            .get(&*self.txn, META_CHANGE_HEAD)?
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        let at = head + 1;
        CHANGES.put(&mut *self.txn, &(at,), &self.touched.record())?;
        META.put(&mut *self.txn, META_CHANGE_HEAD, &at.into())?;
        if let Some(old) = at.checked_sub(CHANGE_LOG_KEEP) {
            CHANGES.delete(&mut *self.txn, &(old,))?;
        }
        Ok(Some(at))
    }

    /// Commits the store transaction.
    pub(crate) fn commit(self) -> StorageResult<()> {
        self.txn.commit()
    }

    /// Discards every write.
    pub(crate) fn abort(self) -> StorageResult<()> {
        self.txn.abort()
    }
}

impl ReadTxn for Tx<'_> {
    fn get(&self, table: TableName, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        self.txn.get(table, key)
    }

    fn range(
        &self,
        table: TableName,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> StorageResult<Vec<Entry>> {
        self.txn.range(table, start, end, limit)
    }
}

impl WriteTxn for Tx<'_> {
    fn put(&mut self, table: TableName, key: &[u8], value: &[u8]) -> StorageResult<()> {
        self.touched.before_write(&*self.txn, table, key)?;
        self.txn.put(table, key, value)
    }

    fn delete(&mut self, table: TableName, key: &[u8]) -> StorageResult<bool> {
        self.touched.before_write(&*self.txn, table, key)?;
        self.txn.delete(table, key)
    }

    fn commit(self: Box<Self>) -> StorageResult<()> {
        (*self).commit()
    }

    fn abort(self: Box<Self>) -> StorageResult<()> {
        (*self).abort()
    }
}
