//! `BTreeStore`: a complete ModelGates storage backend in one file — named tables of ordered
//! byte keys in a `BTreeMap` behind a lock — as a guide for bringing another engine.
//!
//! What a backend must provide (see `modelgates::Storage`):
//! - **Snapshot reads**: a read transaction sees the state committed when it began, whatever
//!   commits meanwhile. Here a reader holds an `Arc` of the committed map.
//! - **Serialized, atomic writes**: a write transaction sees its own writes, and its commit
//!   publishes all of them at once or none (abort and drop publish nothing). Here a writer
//!   holds the writer lock and works on a private copy, swapped in on commit. An engine with
//!   optimistic concurrency may instead fail a commit with `StorageError::Conflict`; ModelGates
//!   then re-runs the operation.
//! - **Ordered ranges**: `range` returns entries in byte order of their keys, within bounds, at
//!   most `limit` of them. A table that was never written reads as empty.
//!
//! Durability is the engine's business: ModelGates treats a returned `commit` as durable.
//! This store keeps nothing across restarts (like `modelgates::MemoryStore`, which is faster:
//! its copy shares structure instead of cloning the map on every write).
//!
//! `cargo test -p modelgates-example-custom-store` runs the backend conformance suite and the
//! model-based check of the whole domain on it.

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use modelgates::{Entry, ReadTxn, Storage, StorageError, StorageResult, TableName, WriteTxn};

type Tables = BTreeMap<TableName, BTreeMap<Vec<u8>, Vec<u8>>>;

/// A storage backend on a `BTreeMap`. Clones share the data.
#[derive(Clone, Default)]
pub struct BTreeStore {
    committed: Arc<RwLock<Arc<Tables>>>,
    writer: Arc<Mutex<()>>,
}

impl BTreeStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn snapshot(&self) -> Arc<Tables> {
        self.committed
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Storage for BTreeStore {
    fn begin_read(&self) -> StorageResult<Box<dyn ReadTxn + '_>> {
        Ok(Box::new(Reader(self.snapshot())))
    }

    fn begin_write(&self) -> StorageResult<Box<dyn WriteTxn + '_>> {
        // One writer at a time; it copies the committed state and works on the copy.
        let guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        Ok(Box::new(Writer {
            store: self,
            _guard: guard,
            tables: (*self.snapshot()).clone(),
        }))
    }

    fn backend_name(&self) -> &'static str {
        "btree-example"
    }
}

struct Reader(Arc<Tables>);

struct Writer<'a> {
    store: &'a BTreeStore,
    _guard: MutexGuard<'a, ()>,
    tables: Tables,
}

fn get(tables: &Tables, table: TableName, key: &[u8]) -> Option<Vec<u8>> {
    tables.get(&table)?.get(key).cloned()
}

fn range(
    tables: &Tables,
    table: TableName,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
    limit: usize,
) -> Vec<Entry> {
    let Some(t) = tables.get(&table) else {
        return Vec::new();
    };
    // `BTreeMap::range` panics on inverted or empty-exclusive bounds; those ranges are empty.
    match (start, end) {
        (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e))
            if s > e =>
        {
            return Vec::new();
        }
        (Bound::Excluded(s), Bound::Excluded(e)) if s == e => return Vec::new(),
        _ => {}
    }
    t.range::<[u8], _>((start, end))
        .take(limit)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl ReadTxn for Reader {
    fn get(&self, table: TableName, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        Ok(get(&self.0, table, key))
    }

    fn range(
        &self,
        table: TableName,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> StorageResult<Vec<Entry>> {
        Ok(range(&self.0, table, start, end, limit))
    }
}

impl ReadTxn for Writer<'_> {
    fn get(&self, table: TableName, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        Ok(get(&self.tables, table, key))
    }

    fn range(
        &self,
        table: TableName,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> StorageResult<Vec<Entry>> {
        Ok(range(&self.tables, table, start, end, limit))
    }
}

impl WriteTxn for Writer<'_> {
    fn put(&mut self, table: TableName, key: &[u8], value: &[u8]) -> StorageResult<()> {
        self.tables
            .entry(table)
            .or_default()
            .insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn delete(&mut self, table: TableName, key: &[u8]) -> StorageResult<bool> {
        Ok(self
            .tables
            .get_mut(&table)
            .is_some_and(|t| t.remove(key).is_some()))
    }

    fn commit(self: Box<Self>) -> StorageResult<()> {
        let this = *self;
        let mut committed = this
            .store
            .committed
            .write()
            .map_err(|_| StorageError::backend("the store's lock is poisoned"))?;
        *committed = Arc::new(this.tables);
        Ok(())
    }

    fn abort(self: Box<Self>) -> StorageResult<()> {
        Ok(())
    }
}
