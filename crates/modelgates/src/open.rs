//! Opening a store: migration, bootstrap of an empty database and catalog sync in one
//! transaction, then the snapshot load; and the default caller of a single-user front end.

use std::sync::Arc;

use crate::account;
use crate::catalog::Catalog;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::handle::{Caller, ModelGates};
use crate::record::account::Bootstrap;
use crate::record::member::OrgRole;
use crate::schema::{self, MEMBERS, META, META_CATALOG_FINGERPRINT, META_SCHEMA_VERSION};
use crate::snapshot::Snapshot;
use crate::storage::{Storage, StorageError};
use chrono::{DateTime, Utc};

/// Options of [`ModelGates::open_with`].
#[derive(Debug, Clone)]
pub struct Options {
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// What to create when the store is empty.
    pub bootstrap: Bootstrap,
    /// The model catalog workspaces are seeded with (default: the embedded one).
    pub catalog: Arc<Catalog>,
    /// Whether opening brings the database's catalog in line with `catalog` (default true;
    /// a read-only inspection such as `modelgates check` turns it off).
    pub sync_catalog: bool,
    /// Whether other instances share the store (default: when it is remote, a database
    /// server). Commits then append to a change log, which this instance follows.
    pub shared: Option<bool>,
    /// How often a shared instance looks for other instances' changes (default 50 ms; `None`:
    /// never on its own — call [`ModelGates::follow_changes`]).
    pub follow_every: Option<std::time::Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            bootstrap: Bootstrap::default(),
            catalog: Arc::new(Catalog::embedded()),
            sync_catalog: true,
            shared: None,
            follow_every: Some(std::time::Duration::from_millis(50)),
        }
    }
}

impl ModelGates {
    /// Opens `store` with default [`Options`]: migrates it and, when empty, bootstraps one
    /// account with an org admin and the default workspace.
    pub fn open(store: impl Storage) -> Result<Self> {
        Self::open_with(Arc::new(store), Options::default())
    }

    /// Opens `store` with `options`.
    pub fn open_with(store: Arc<dyn Storage>, options: Options) -> Result<Self> {
        // Static patterns compile here, so a broken build fails at start-up, loudly.
        crate::secrets::self_check()?;
        let now = options.clock.now();
        // Migration, bootstrap and catalog sync run in one transaction: all or nothing. Several
        // instances opening one database server at once conflict; the losers run it again
        // (and then find the work done).
        let mut attempt = 0;
        loop {
            attempt += 1;
            match prepare(&*store, &options, now) {
                Err(Error::Storage(StorageError::Conflict))
                    if attempt < crate::handle::MAX_WRITE_ATTEMPTS =>
                {
                    crate::handle::backoff(attempt);
                }
                other => break other?,
            }
        }
        let shared = options.shared.unwrap_or_else(|| store.is_remote());
        let (snapshot, log_head) = {
            let txn = store.begin_read()?;
            let head = META
                .get(&*txn, crate::schema::META_CHANGE_HEAD)?
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            (Snapshot::load(&*txn)?, head)
        };
        tracing::debug!(
            backend = store.backend_name(),
            keys = snapshot.len(),
            "opened"
        );
        let gates = Self::assemble(
            store,
            options.clock,
            options.catalog,
            snapshot,
            shared.then_some(log_head),
        );
        if shared && let Some(every) = options.follow_every {
            gates.spawn_follower(every);
        }
        Ok(gates)
    }

    /// The org admin of the oldest account: the identity of a local, single-user front end
    /// (the stdio MCP server).
    pub fn default_caller(&self) -> Result<Caller> {
        self.read(|txn| {
            let account = account::first_account(txn)?
                .ok_or_else(|| Error::internal("the database has no account"))?;
            let admin = MEMBERS
                .values_with_prefix(txn, &(account.id,))?
                .into_iter()
                .filter(|m| m.role == OrgRole::Admin)
                .min_by_key(|m| (m.user_id != account.bootstrap_admin, m.created_at))
                .ok_or_else(|| Error::internal("the account has no org admin"))?;
            Ok(Caller::new(account.id, admin.user_id))
        })
    }
}

/// Migrates, bootstraps and syncs the catalog of `store`, in one write transaction.
fn prepare(store: &dyn Storage, options: &Options, now: DateTime<Utc>) -> Result<()> {
    // Migration, bootstrap and catalog sync run in one transaction: all or nothing.
    let mut txn = store.begin_write()?;
    let mut changed = false;
    match META.get(&*txn, META_SCHEMA_VERSION)? {
        None => {
            if account::any_account(&*txn)? {
                return Err(Error::Corrupt(
                    "the database holds accounts but no schema version".into(),
                ));
            }
            schema::migrate(&mut *txn, 0)?;
            account::bootstrap(&mut *txn, now, &options.bootstrap)?;
            changed = true;
        }
        Some(v) => {
            let v = v
                .as_u64()
                .ok_or_else(|| Error::Corrupt(format!("schema version {v} is not a number")))?;
            if v != schema::SCHEMA_VERSION {
                // An unknown newer version errors here; the transaction is dropped
                // unfinished, so the file is left untouched.
                schema::migrate(&mut *txn, v)?;
                changed = true;
            }
        }
    }
    let fingerprint = options.catalog.fingerprint();
    let synced = META.get(&*txn, META_CATALOG_FINGERPRINT)?;
    if options.sync_catalog && synced.as_ref().and_then(|v| v.as_str()) != Some(fingerprint) {
        let added = crate::model::sync_catalog(&mut *txn, &options.catalog, now)?;
        META.put(&mut *txn, META_CATALOG_FINGERPRINT, &fingerprint.into())?;
        tracing::info!(
            added,
            catalog_version = options.catalog.version(),
            "synced the model catalog"
        );
        changed = true;
    }
    if changed {
        txn.commit()?;
    } else {
        txn.abort()?;
    }
    Ok(())
}
