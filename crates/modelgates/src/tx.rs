//! The write transaction as the unit of work: the store transaction of one operation, the
//! time it runs at, and a record of what it wrote to the tables the data-plane snapshot
//! mirrors. The snapshot changes of a commit are derived from that record, so no operation can
//! forget to publish one.

use std::ops::Bound;

use chrono::{DateTime, Utc};

use crate::audit::trail::Trail;
use crate::error::Result;
use crate::record::audit::AuditActor;
use crate::schema::{AUDIT, CHANGES, META, META_CHANGE_HEAD, audit_key};
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
    /// What it wrote to audited tables, for its audit event.
    trail: Trail,
    /// Whether commits append to the change log (a store shared by several instances).
    logs: bool,
}

impl<'a> Tx<'a> {
    pub(crate) fn new(txn: Box<dyn WriteTxn + 'a>, now: DateTime<Utc>, logs: bool) -> Self {
        Self {
            txn,
            now,
            touched: Touched::default(),
            trail: Trail::default(),
            logs,
        }
    }

    /// Reads `keys` ahead in one round trip on a remote store (see [`ReadTxn::prefetch`]),
    /// with the change log's head when the operation `mirrors` (writes what the snapshot
    /// holds, so its commit appends to the log of a shared store). Operations call it first,
    /// with the keys their checks are about to read; nothing changes on a local store.
    pub(crate) fn read_ahead(&self, keys: &[(TableName, Vec<u8>)], mirrors: bool) -> Result<()> {
        let head = META.key_bytes(META_CHANGE_HEAD);
        let mut all: Vec<(TableName, &[u8])> =
            keys.iter().map(|(t, k)| (*t, k.as_slice())).collect();
        if mirrors && self.logs {
            all.push((META.name(), &head));
        }
        Ok(self.txn.prefetch(&all)?)
    }

    /// The snapshot changes of everything written so far, read inside the transaction.
    pub(crate) fn snapshot_changes(&self, current: &Snapshot) -> Result<Changes> {
        self.touched.changes(&*self.txn, current)
    }

    /// Appends the audit event of what this transaction changed in audited tables, if it
    /// changed anything there: `operation` by `actor`.
    pub(crate) fn append_audit(&mut self, operation: &str, actor: &AuditActor) -> Result<()> {
        for (account, event) in self.trail.events(&*self.txn, self.now, operation, actor)? {
            AUDIT.put(&mut *self.txn, &audit_key(account, event.id), &event)?;
        }
        Ok(())
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
        self.txn.notify_on_commit()?;
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

    fn get_many(&self, table: TableName, keys: &[&[u8]]) -> StorageResult<Vec<Option<Vec<u8>>>> {
        self.txn.get_many(table, keys)
    }

    fn prefetch(&self, keys: &[(TableName, &[u8])]) -> StorageResult<()> {
        self.txn.prefetch(keys)
    }
}

impl WriteTxn for Tx<'_> {
    fn put(&mut self, table: TableName, key: &[u8], value: &[u8]) -> StorageResult<()> {
        self.touched.before_write(&*self.txn, table, key)?;
        self.trail.before_write(&*self.txn, table, key)?;
        self.txn.put(table, key, value)
    }

    fn delete(&mut self, table: TableName, key: &[u8]) -> StorageResult<bool> {
        self.touched.before_write(&*self.txn, table, key)?;
        self.trail.before_write(&*self.txn, table, key)?;
        self.txn.delete(table, key)
    }

    fn notify_on_commit(&mut self) -> StorageResult<()> {
        self.txn.notify_on_commit()
    }

    fn commit(self: Box<Self>) -> StorageResult<()> {
        (*self).commit()
    }

    fn abort(self: Box<Self>) -> StorageResult<()> {
        (*self).abort()
    }
}
