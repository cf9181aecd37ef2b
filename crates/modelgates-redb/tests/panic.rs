//! A panic inside one operation (injected in the store's `put`) fails that operation with
//! `internal`, leaves the shared state usable for the next one, and never leaves the redb file
//! unclean: the write transaction is aborted normally, not dropped while unwinding. Also: the
//! files a store creates (database, backup) are private to their owner.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use modelgates::{
    Entry, ErrorKind, ModelGates, NewWorkspace, ReadTxn, Storage, StorageResult, TableName,
    WriteTxn,
};
use modelgates_redb::{Integrity, RedbStore};

/// A redb store whose write transactions panic on `put` while `armed` is set.
struct Panicky {
    inner: RedbStore,
    armed: Arc<AtomicBool>,
}

struct PanickyWrite<'a> {
    inner: Box<dyn WriteTxn + 'a>,
    armed: Arc<AtomicBool>,
}

impl ReadTxn for PanickyWrite<'_> {
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

impl WriteTxn for PanickyWrite<'_> {
    fn put(&mut self, table: TableName, key: &[u8], value: &[u8]) -> StorageResult<()> {
        self.inner.put(table, key, value)?;
        if self.armed.load(Ordering::SeqCst) {
            panic!("injected panic after a put into {table}");
        }
        Ok(())
    }
    fn delete(&mut self, table: TableName, key: &[u8]) -> StorageResult<bool> {
        self.inner.delete(table, key)
    }
    fn commit(self: Box<Self>) -> StorageResult<()> {
        self.inner.commit()
    }
    fn abort(self: Box<Self>) -> StorageResult<()> {
        self.inner.abort()
    }
}

impl Storage for Panicky {
    fn begin_read(&self) -> StorageResult<Box<dyn ReadTxn + '_>> {
        self.inner.begin_read()
    }
    fn begin_write(&self) -> StorageResult<Box<dyn WriteTxn + '_>> {
        Ok(Box::new(PanickyWrite {
            inner: self.inner.begin_write()?,
            armed: self.armed.clone(),
        }))
    }
    fn backend_name(&self) -> &'static str {
        "redb (panicky)"
    }
}

fn new_ws(slug: &str) -> NewWorkspace {
    NewWorkspace {
        name: "W".into(),
        slug: slug.into(),
        ..Default::default()
    }
}

#[test]
fn a_panicking_operation_fails_alone_and_leaves_the_file_clean() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.redb");
    let store = RedbStore::open(&path).unwrap();
    let armed = Arc::new(AtomicBool::new(false));
    let gates = ModelGates::open(Panicky {
        inner: store.clone(),
        armed: armed.clone(),
    })
    .unwrap();
    let admin = gates.default_caller().unwrap();

    armed.store(true, Ordering::SeqCst);
    let err = gates.workspace_create(&admin, new_ws("boom")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
    assert!(
        !err.to_string().contains("injected"),
        "the panic message stays in the log: {err}"
    );
    armed.store(false, Ordering::SeqCst);

    // Nothing of the failed operation was written; the next operations work.
    assert_eq!(
        gates.workspace_get(&admin, "boom").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    gates.workspace_create(&admin, new_ws("after")).unwrap();
    drop(gates);
    store.close().unwrap();

    // A panic dropped inside a redb write transaction would make this `Repaired`.
    assert_eq!(RedbStore::check_file(&path).unwrap(), Integrity::Clean);
    let copied = RedbStore::backup_file(&path, dir.path().join("b.redb")).unwrap();
    assert!(copied > 0);
}

#[test]
fn database_files_and_backups_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("private.redb");
    let store = RedbStore::open(&path).unwrap();
    let gates = ModelGates::open(store.clone()).unwrap();
    drop(gates);
    let backup = dir.path().join("backup.redb");
    store.backup_to(&backup).unwrap();
    store.close().unwrap();
    for p in [&path, &backup] {
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", p.display());
    }
}
