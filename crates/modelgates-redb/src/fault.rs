//! `FaultyBackend`: an in-memory redb storage backend whose writes (and optionally syncs) start
//! failing after a budget of calls — for fault-injection tests and fuzzing of the whole stack.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use redb::StorageBackend;
use redb::backends::InMemoryBackend;

/// A budget that never runs out.
const UNLIMITED: i64 = i64::MIN / 2;

/// An in-memory redb backend that fails every `write`, `set_len` (and, when asked, `sync_data`)
/// once a budget of such calls is spent. Clones share the bytes and the budget, so a test can
/// open a database on it, break it, then heal it and reopen the same bytes.
#[derive(Debug, Clone)]
pub struct FaultyBackend {
    inner: Arc<InMemoryBackend>,
    budget: Arc<AtomicI64>,
    fail_syncs: bool,
}

impl FaultyBackend {
    /// A healthy, empty backend; `fail_syncs` makes syncs spend (and fail) too — a failed fsync
    /// leaves a commit's outcome unknown, which the checks must then allow.
    pub fn new(fail_syncs: bool) -> Self {
        Self {
            inner: Arc::new(InMemoryBackend::new()),
            budget: Arc::new(AtomicI64::new(UNLIMITED)),
            fail_syncs,
        }
    }

    /// Fails every call after the next `calls` ones.
    pub fn fail_after(&self, calls: u64) {
        let calls = i64::try_from(calls).unwrap_or(i64::MAX);
        self.budget.store(calls, Ordering::SeqCst);
    }

    /// Never fails again.
    pub fn heal(&self) {
        self.budget.store(UNLIMITED, Ordering::SeqCst);
    }

    fn spend(&self) -> std::io::Result<()> {
        let left = self.budget.fetch_sub(1, Ordering::SeqCst);
        if left == 0 || (left < 0 && left > UNLIMITED / 2) {
            self.budget.store(0, Ordering::SeqCst);
            return Err(std::io::Error::other("injected I/O failure"));
        }
        Ok(())
    }
}

impl StorageBackend for FaultyBackend {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.spend()?;
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        if self.fail_syncs {
            self.spend()?;
        }
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.spend()?;
        self.inner.write(offset, data)
    }
}
