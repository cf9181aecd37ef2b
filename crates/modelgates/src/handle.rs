//! `ModelGates`: the control plane handle. Runs every operation in one store transaction (a
//! panic inside one is contained) and publishes the data-plane snapshot after each commit.
//! Opening a store lives in `open`; the operations in their concepts' modules.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};

use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::idempotency::store::{KeyOwner, Replayable, check_key};
use crate::ids::{AccountId, KeyId, UserId};
use crate::record::audit::{AuditActor, Frontend};
use crate::snapshot::Snapshot;
use crate::storage::{ReadTxn, Storage, StorageError};
pub(crate) use crate::tx::Tx;

/// How often a write closure is run at most when the backend reports transaction conflicts
/// (serialization failures between instances on one database server).
pub(crate) const MAX_WRITE_ATTEMPTS: usize = 10;

/// Waits before re-running a write that lost a conflict: a random time up to 1, 2, 4, … ms,
/// capped at 64 ms (jitter, so writers that collided do not collide again in step). At most
/// ~0.3 s over all attempts.
pub(crate) fn backoff(attempt: usize) {
    let cap_us = 1000u128 << (attempt.saturating_sub(1)).min(6);
    let wait = crate::ids::random_u128() % cap_us;
    std::thread::sleep(std::time::Duration::from_micros(wait as u64));
}

/// Who performs an operation: a user of an account, with the key the request presented and
/// the front end it came through (both recorded in the audit log).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Caller {
    /// The account (organization) the caller acts in.
    pub account: AccountId,
    /// The caller's user id in that account.
    pub user_id: UserId,
    /// The management key the request presented, if any.
    pub key_id: Option<KeyId>,
    /// The front end the request came through (default: the library).
    pub via: Frontend,
    /// The idempotency key the request presented, if any (see
    /// [`Caller::with_idempotency_key`]).
    pub idempotency: Option<IdempotencyKey>,
}

/// An idempotency key a caller presents, and whether the operation that took it answered
/// from its first result (a retry) rather than running.
///
/// The create operations (`workspace_create`, `key_create`, `member_add`, `model_register`,
/// `persona_create`, `provider_add`) honour it: the same key with the same arguments within
/// 24 hours (`IDEMPOTENCY_WINDOW_HOURS`) returns the first result
/// (a key's secret excepted: it is never stored), the same key with anything else is a
/// conflict naming the key. Keys are scoped to the caller's user and account. Other
/// operations are idempotent by nature (updates, deletes) or have their own key (usage
/// records have request ids) and ignore it.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    key: String,
    replayed: Arc<AtomicBool>,
}

impl IdempotencyKey {
    /// The key as presented.
    pub fn as_str(&self) -> &str {
        &self.key
    }
}

impl PartialEq for IdempotencyKey {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for IdempotencyKey {}

impl Caller {
    /// `user_id` of `account`, calling the library directly.
    pub fn new(account: AccountId, user_id: UserId) -> Self {
        Self {
            account,
            user_id,
            key_id: None,
            via: Frontend::Library,
            idempotency: None,
        }
    }

    /// The same caller, presenting idempotency key `key` (checked by the operation: 1-255
    /// visible ASCII characters). See [`IdempotencyKey`].
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency = Some(IdempotencyKey {
            key: key.into(),
            replayed: Arc::default(),
        });
        self
    }

    /// Whether the last operation this caller (or a clone of it) ran with its idempotency key
    /// answered a retry from the first result instead of running.
    pub fn replayed(&self) -> bool {
        self.idempotency
            .as_ref()
            .is_some_and(|k| k.replayed.load(Ordering::Acquire))
    }

    /// The same caller, presenting management key `key_id`.
    pub fn with_key(mut self, key_id: KeyId) -> Self {
        self.key_id = Some(key_id);
        self
    }

    /// The same caller, coming through front end `via`.
    pub fn via(mut self, via: Frontend) -> Self {
        self.via = via;
        self
    }

    fn actor(&self) -> AuditActor {
        AuditActor {
            user_id: Some(self.user_id.clone()),
            key_id: self.key_id,
            via: self.via,
        }
    }
}

/// An operation as the audit log names it (the MCP tool's name), and who asked for it.
pub(crate) struct Op<'c> {
    name: &'static str,
    caller: Option<&'c Caller>,
}

/// Operation `name` on behalf of `caller`.
pub(crate) fn op<'c>(name: &'static str, caller: &'c Caller) -> Op<'c> {
    Op {
        name,
        caller: Some(caller),
    }
}

/// Operation `name` ModelGates performs on its own (bootstrap, retention).
pub(crate) fn system(name: &'static str) -> Op<'static> {
    Op { name, caller: None }
}

impl Op<'_> {
    fn actor(&self) -> AuditActor {
        match self.caller {
            Some(caller) => caller.actor(),
            None => AuditActor {
                user_id: None,
                key_id: None,
                via: Frontend::System,
            },
        }
    }
}

/// The control plane: every management operation, over any [`Storage`].
///
/// Cheap to clone; clones share the store and the snapshot.
#[derive(Clone)]
pub struct ModelGates {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    catalog: Arc<Catalog>,
    snapshot: ArcSwap<Snapshot>,
    /// Serializes write transactions with the snapshot publication that follows them, so the
    /// snapshot is always updated in commit order.
    write_lock: Mutex<()>,
    /// Whether other instances share the store: commits then append to the change log, and
    /// this instance follows it.
    shared: bool,
    /// The newest change log position this instance's snapshot includes.
    log_pos: std::sync::atomic::AtomicU64,
}

/// A flag the follower thread waits on, raised by the store's wake-ups.
#[derive(Default)]
struct Signal {
    raised: Mutex<bool>,
    cond: std::sync::Condvar,
}

impl Signal {
    fn raise(&self) {
        *self.raised.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cond.notify_one();
    }

    /// Waits until raised or `timeout` passed, and lowers the flag.
    fn wait(&self, timeout: std::time::Duration) {
        let raised = self.raised.lock().unwrap_or_else(|e| e.into_inner());
        let (mut raised, _) = self
            .cond
            .wait_timeout_while(raised, timeout, |raised| !*raised)
            .unwrap_or_else(|e| e.into_inner());
        *raised = false;
    }
}

impl std::fmt::Debug for ModelGates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelGates")
            .field("backend", &self.inner.store.backend_name())
            .finish()
    }
}

impl ModelGates {
    /// The handle over an opened, migrated `store` and its loaded `snapshot`.
    pub(crate) fn assemble(
        store: Arc<dyn Storage>,
        clock: Arc<dyn Clock>,
        catalog: Arc<Catalog>,
        snapshot: Snapshot,
        shared: Option<u64>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                catalog,
                snapshot: ArcSwap::from_pointee(snapshot),
                write_lock: Mutex::new(()),
                shared: shared.is_some(),
                log_pos: shared.unwrap_or(0).into(),
            }),
        }
    }

    /// Applies the change log records other instances appended since this instance last looked
    /// (or rebuilds the snapshot when the log no longer reaches back that far). Returns how
    /// many records it applied. Runs under the write lock, so it never publishes an older state
    /// over a newer local commit.
    pub fn follow_changes(&self) -> Result<u64> {
        use crate::schema::{CHANGES, META, META_CHANGE_HEAD};
        use std::sync::atomic::Ordering;
        let _serial = self
            .inner
            .write_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let txn = self.inner.store.begin_read()?;
        let head = META
            .get(&*txn, META_CHANGE_HEAD)?
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        let pos = self.inner.log_pos.load(Ordering::Acquire);
        if head <= pos {
            return Ok(0);
        }
        let records = CHANGES.scan_range(
            &*txn,
            &CHANGES.key_bytes(&(pos + 1,)),
            &CHANGES.key_bytes(&(head + 1,)),
        )?;
        let complete = records.len() as u64 == head - pos;
        if complete {
            let mut touched = crate::snapshot::Touched::default();
            for (_, record) in &records {
                touched.add_record(record);
            }
            let current = self.inner.snapshot.load_full();
            let changes = touched.changes(&*txn, &current)?;
            if !changes.is_empty() {
                self.inner
                    .snapshot
                    .store(Arc::new(current.with_changes(changes)));
            }
        } else {
            // Records were dropped from the log's tail before this instance read them.
            tracing::warn!(
                pos,
                head,
                "the change log no longer reaches back to this instance; rebuilding the snapshot"
            );
            self.inner.snapshot.store(Arc::new(Snapshot::load(&*txn)?));
        }
        self.inner.log_pos.store(head, Ordering::Release);
        Ok(head - pos)
    }

    /// Whether this handle shares its store with other instances (and follows the change log).
    pub fn is_shared(&self) -> bool {
        self.inner.shared
    }

    /// Follows the change log every `every` on a thread of its own, and at once when the store
    /// wakes it ([`Storage::watch`]: PostgreSQL's LISTEN/NOTIFY), until the last handle is
    /// dropped. Errors are logged and retried at the next tick.
    pub(crate) fn spawn_follower(&self, every: std::time::Duration) {
        let weak = Arc::downgrade(&self.inner);
        let signal = Arc::new(Signal::default());
        let raise = Arc::downgrade(&signal);
        let woken = self
            .inner
            .store
            .watch(Arc::new(move || match raise.upgrade() {
                Some(signal) => {
                    signal.raise();
                    true
                }
                None => false,
            }));
        match woken {
            Ok(true) => tracing::info!("following the change log on wake-ups and every {every:?}"),
            Ok(false) => tracing::info!("following the change log every {every:?}"),
            Err(e) => tracing::warn!(error = %e, "no change wake-ups; polling every {every:?}"),
        }
        let spawned = std::thread::Builder::new()
            .name("modelgates-follow".into())
            .spawn(move || {
                loop {
                    signal.wait(every);
                    let Some(inner) = weak.upgrade() else { return };
                    let gates = ModelGates { inner };
                    if let Err(e) = gates.follow_changes() {
                        tracing::warn!(error = %e, "following the change log failed; retrying");
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the change log follower");
        }
    }

    /// The model catalog new workspaces are seeded with.
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// The current time of this instance's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The data-plane snapshot (API key verification); never touches the store.
    pub fn snapshot(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.inner.snapshot.load()
    }

    /// Rebuilds the whole data-plane snapshot from the store, as opening does. Never needed for
    /// correctness (every commit publishes its own changes); it measures what an incremental
    /// update saves, and recovers from a store changed behind this instance's back.
    pub fn reload_snapshot(&self) -> Result<()> {
        let _serial = self
            .inner
            .write_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let txn = self.inner.store.begin_read()?;
        let snapshot = Snapshot::load(&*txn)?;
        self.inner.snapshot.store(Arc::new(snapshot));
        Ok(())
    }

    /// Runs `f` in one read transaction. A panic inside `f` becomes [`Error::Internal`].
    pub(crate) fn read<T>(&self, f: impl FnOnce(&dyn ReadTxn) -> Result<T>) -> Result<T> {
        let txn = self.inner.store.begin_read()?;
        contain_panic(|| f(&*txn))
    }

    /// Runs `f` in one read transaction together with the snapshot published for exactly the
    /// state it reads (no commit can fall between them).
    pub(crate) fn read_with_snapshot<T>(
        &self,
        f: impl FnOnce(&dyn ReadTxn, &Snapshot) -> Result<T>,
    ) -> Result<T> {
        let (txn, snapshot) = {
            let _serial = self
                .inner
                .write_lock
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            (
                self.inner.store.begin_read()?,
                self.inner.snapshot.load_full(),
            )
        };
        contain_panic(|| f(&*txn, &snapshot))
    }

    /// Runs `f` in one write transaction and commits it; on any error nothing is written.
    /// `f` may be re-run if the backend reports a conflict, so it must not have side effects
    /// outside the transaction.
    /// [`ModelGates::write`] for a create that takes an idempotency key: with the caller's
    /// key, a retry with the same `args` (the operation's input, hashed as JSON) gets the
    /// first result from the store instead of running `f`, and a first run stores its result,
    /// both inside the write's transaction.
    pub(crate) fn write_once<T: Replayable>(
        &self,
        op: Op<'_>,
        args: &impl serde::Serialize,
        mut f: impl FnMut(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        let Some((caller, key)) = op
            .caller
            .and_then(|c| c.idempotency.as_ref().map(|k| (c, k)))
        else {
            return self.write(op, f);
        };
        check_key(&key.key)?;
        let args = serde_json::to_vec(args)
            .map_err(|e| Error::internal(format!("encoding the arguments of {}: {e}", op.name)))?;
        let owner = KeyOwner {
            account: caller.account,
            user: &caller.user_id,
            key: &key.key,
        };
        key.replayed.store(false, Ordering::Release);
        let name = op.name;
        let (out, replayed) = self.write(op, |tx| {
            if let Some(stored) = owner.lookup(tx, name, &args)? {
                return Ok((T::replayed(stored)?, true));
            }
            let out = f(tx)?;
            owner.remember(tx, name, &args, out.stored()?)?;
            Ok((out, false))
        })?;
        key.replayed.store(replayed, Ordering::Release);
        Ok(out)
    }

    /// Runs `f` in a write transaction that is then rolled back, under the writer lock: what
    /// `f` does is checked exactly as a write would check it, and nothing is kept (a plan).
    pub(crate) fn dry_run<T>(
        &self,
        op: Op<'_>,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        let _ = op.name;
        let _serial = self
            .inner
            .write_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut tx = Tx::new(
            self.inner.store.begin_write()?,
            self.inner.clock.now(),
            self.inner.shared,
        );
        let out = contain_panic(|| f(&mut tx));
        let _ = tx.abort();
        out
    }

    pub(crate) fn write<T>(
        &self,
        op: Op<'_>,
        mut f: impl FnMut(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        let actor = op.actor();
        let _serial = self
            .inner
            .write_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut tx = Tx::new(
                self.inner.store.begin_write()?,
                self.inner.clock.now(),
                self.inner.shared,
            );
            // A panic inside `f` is caught here, while `tx` is still alive: the transaction is
            // then aborted normally below instead of being dropped during unwinding (redb marks
            // a file "needs repair" when a write transaction is dropped by a panic).
            let out = match contain_panic(|| f(&mut tx)) {
                Ok(out) => out,
                Err(Error::Storage(StorageError::Conflict)) if attempt < MAX_WRITE_ATTEMPTS => {
                    drop(tx);
                    backoff(attempt);
                    continue;
                }
                Err(e) => {
                    // Dropping aborts too; an explicit abort surfaces nothing more useful.
                    let _ = tx.abort();
                    return Err(e);
                }
            };
            // The snapshot changes are derived from what the transaction wrote, read inside it
            // (the write lock keeps the current snapshot the one they apply to), and published
            // only once the commit succeeded.
            let current = self.inner.snapshot.load_full();
            let changes = match contain_panic(|| tx.snapshot_changes(&current)) {
                Ok(changes) => changes,
                Err(Error::Storage(StorageError::Conflict)) if attempt < MAX_WRITE_ATTEMPTS => {
                    drop(tx);
                    backoff(attempt);
                    continue;
                }
                Err(e) => {
                    let _ = tx.abort();
                    return Err(e);
                }
            };
            // The audit event of the change, in the same transaction.
            if let Err(e) = contain_panic(|| tx.append_audit(op.name, &actor)) {
                if matches!(e, Error::Storage(StorageError::Conflict))
                    && attempt < MAX_WRITE_ATTEMPTS
                {
                    drop(tx);
                    backoff(attempt);
                    continue;
                }
                let _ = tx.abort();
                return Err(e);
            }
            let logged = if self.inner.shared {
                match tx.log_changes() {
                    Ok(at) => at,
                    Err(Error::Storage(StorageError::Conflict)) if attempt < MAX_WRITE_ATTEMPTS => {
                        drop(tx);
                        backoff(attempt);
                        continue;
                    }
                    Err(e) => {
                        let _ = tx.abort();
                        return Err(e);
                    }
                }
            } else {
                None
            };
            match tx.commit() {
                Ok(()) => {}
                Err(StorageError::Conflict) if attempt < MAX_WRITE_ATTEMPTS => {
                    backoff(attempt);
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            if !changes.is_empty() {
                self.inner
                    .snapshot
                    .store(Arc::new(current.with_changes(changes)));
            }
            if let Some(at) = logged {
                // This commit's own record needs no following; one of another instance that
                // came first does (the follower then applies both).
                let _ = self.inner.log_pos.compare_exchange(
                    at - 1,
                    at,
                    std::sync::atomic::Ordering::AcqRel,
                    std::sync::atomic::Ordering::Acquire,
                );
            }
            return Ok(out);
        }
    }
}

/// Runs `f`, turning a panic into [`Error::Internal`] (logged with its message) so that one
/// failing operation never unwinds through a store transaction or a caller's shared state.
pub(crate) fn contain_panic<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string panic payload".into());
        tracing::error!(panic = %what, "an operation panicked; its transaction was not committed");
        Err(Error::internal(
            "the operation failed unexpectedly (details are in the server log)",
        ))
    })
}
