//! `MemoryStore`: an in-memory [`Storage`] with snapshot reads and serialized writers, for tests
//! and for embedding without persistence.
//!
//! Readers see the state committed when they began. A writer works on a private copy of the
//! tables and publishes it atomically on commit. The tables are persistent B-trees (`imbl`), so
//! the copy shares everything and a write costs O(log n) per key it touches.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::storage::{Entry, ReadTxn, Storage, StorageError, StorageResult, TableName, WriteTxn};

type Tables = BTreeMap<TableName, imbl::OrdMap<Vec<u8>, Vec<u8>>>;

/// An in-memory store. Cloning shares the same data.
#[derive(Clone, Default, Debug)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Default, Debug)]
struct Inner {
    committed: RwLock<Arc<Tables>>,
    writer: Mutex<()>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn snapshot(&self) -> Arc<Tables> {
        self.inner
            .committed
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Storage for MemoryStore {
    fn begin_read(&self) -> StorageResult<Box<dyn ReadTxn + '_>> {
        Ok(Box::new(MemoryRead {
            tables: self.snapshot(),
        }))
    }

    fn begin_write(&self) -> StorageResult<Box<dyn WriteTxn + '_>> {
        let guard = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
        let tables = (*self.snapshot()).clone();
        Ok(Box::new(MemoryWrite {
            store: self,
            _guard: guard,
            tables,
        }))
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }
}

struct MemoryRead {
    tables: Arc<Tables>,
}

struct MemoryWrite<'a> {
    store: &'a MemoryStore,
    _guard: MutexGuard<'a, ()>,
    tables: Tables,
}

fn get(tables: &Tables, table: TableName, key: &[u8]) -> Option<Vec<u8>> {
    tables.get(&table).and_then(|t| t.get(key).cloned())
}

fn range(
    tables: &Tables,
    table: TableName,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
    limit: usize,
) -> StorageResult<Vec<Entry>> {
    let Some(t) = tables.get(&table) else {
        return Ok(Vec::new());
    };
    if let (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) =
        (start, end)
        && s > e
    {
        return Ok(Vec::new());
    }
    if let (Bound::Excluded(s), Bound::Excluded(e)) = (start, end)
        && s == e
    {
        // B-tree maps panic on this empty range; it is simply empty.
        return Ok(Vec::new());
    }
    Ok(t.range::<_, [u8]>((start, end))
        .take(limit)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

impl ReadTxn for MemoryRead {
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
        range(&self.tables, table, start, end, limit)
    }
}

impl ReadTxn for MemoryWrite<'_> {
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
        range(&self.tables, table, start, end, limit)
    }
}

impl WriteTxn for MemoryWrite<'_> {
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
            .inner
            .committed
            .write()
            .map_err(|_| StorageError::backend("poisoned lock"))?;
        *committed = Arc::new(this.tables);
        Ok(())
    }

    fn abort(self: Box<Self>) -> StorageResult<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_passes_the_backend_conformance_suite() {
        crate::testkit::run_conformance(&MemoryStore::new());
    }
}
