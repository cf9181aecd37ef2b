//! The data-plane snapshot: an immutable, in-memory view of every API key and of the compiled
//! routing state, swapped atomically after each committed change. Key verification and route
//! resolution read only this, never the store.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::codec::decode_value;
use crate::error::{Error, Result};
use crate::ids::{AccountId, KeyId, ProviderId, UserId, WorkspaceId};
use crate::record::api_key::{KeyKind, KeyRecord, SECRET_PREFIX};
use crate::record::change::ChangeRecord;
use crate::record::provider::ProviderRecord;
use crate::record::routing::{RequestKind, Route};
use crate::routing::engine::{
    CompiledWorkspace, Routing, RoutingChange, load_config, route_provider,
};
use crate::schema::{API_KEYS, PROVIDERS, WORKSPACE_CONFIG, WORKSPACES};
use crate::storage::{ReadTxn, StorageError, StorageResult, TableName};

/// What the data plane knows of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyEntry {
    pub(crate) account: AccountId,
    pub(crate) key_id: KeyId,
    pub(crate) workspace_id: WorkspaceId,
    pub(crate) user_id: UserId,
    pub(crate) kind: KeyKind,
    pub(crate) disabled: bool,
    pub(crate) expires_at: Option<DateTime<Utc>>,
}

impl KeyEntry {
    pub(crate) fn of(account: AccountId, record: &KeyRecord) -> Self {
        let k = &record.key;
        Self {
            account,
            key_id: k.id,
            workspace_id: k.workspace_id,
            user_id: k.creator_user_id.clone(),
            kind: k.kind,
            disabled: k.disabled,
            expires_at: k.expires_at,
        }
    }
}

/// What a write transaction touched of the tables this snapshot mirrors (`API_KEYS`,
/// `WORKSPACES`, `WORKSPACE_CONFIG`, `PROVIDERS`). [`crate::tx::Tx`] reports every write here,
/// so the snapshot changes of a commit are derived from what it wrote, not published by hand.
#[derive(Debug, Default)]
pub(crate) struct Touched {
    /// Keys written, with their secret hash from before the transaction first wrote them (the
    /// old hash must leave the snapshot if the key is deleted or its hash replaced).
    keys: BTreeMap<(AccountId, KeyId), Option<[u8; 32]>>,
    workspaces: BTreeSet<(AccountId, WorkspaceId)>,
    providers: BTreeSet<(AccountId, ProviderId)>,
}

impl Touched {
    /// Whether the transaction wrote nothing the snapshot mirrors.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.workspaces.is_empty() && self.providers.is_empty()
    }

    /// The change log record of these writes.
    pub(crate) fn record(&self) -> ChangeRecord {
        ChangeRecord {
            keys: self.keys.iter().map(|(&(a, k), &h)| (a, k, h)).collect(),
            workspaces: self.workspaces.iter().copied().collect(),
            providers: self.providers.iter().copied().collect(),
        }
    }

    /// Adds what a change log record says another instance touched. Of a key touched by
    /// several records, the oldest hash is kept (it is what this snapshot may still hold).
    pub(crate) fn add_record(&mut self, record: &ChangeRecord) {
        for &(a, k, hash) in &record.keys {
            self.keys.entry((a, k)).or_insert(hash);
        }
        self.workspaces.extend(record.workspaces.iter().copied());
        self.providers.extend(record.providers.iter().copied());
    }
}

/// The changes one commit makes to the snapshot.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    keys: Vec<KeyChange>,
    routing: Vec<RoutingChange>,
}

impl Changes {
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.routing.is_empty()
    }
}

impl Touched {
    /// Notes a write (put or delete) of `key` in storage table `table`, about to happen in
    /// `txn`.
    pub(crate) fn before_write(
        &mut self,
        txn: &dyn ReadTxn,
        table: TableName,
        key: &[u8],
    ) -> StorageResult<()> {
        if let Some(id) = API_KEYS.decode_key(table, key) {
            if let std::collections::btree_map::Entry::Vacant(e) = self.keys.entry(id) {
                let old = match txn.get(table, key)? {
                    Some(bytes) => {
                        let record: KeyRecord =
                            decode_value(API_KEYS.name(), &bytes).map_err(StorageError::backend)?;
                        Some(record.hash_bytes().map_err(StorageError::backend)?)
                    }
                    None => None,
                };
                e.insert(old);
            }
        } else if let Some(id) = WORKSPACES
            .decode_key(table, key)
            .or_else(|| WORKSPACE_CONFIG.decode_key(table, key))
        {
            self.workspaces.insert(id);
        } else if let Some(id) = PROVIDERS.decode_key(table, key) {
            self.providers.insert(id);
        }
        Ok(())
    }

    /// The snapshot changes the transaction's writes amount to, read from `txn` before it
    /// commits. Key changes that would leave `current` as it is are dropped, so a write that
    /// does not change what the data plane sees costs no snapshot copy.
    pub(crate) fn changes(&self, txn: &dyn ReadTxn, current: &Snapshot) -> Result<Changes> {
        let mut out = Changes::default();
        for (&(account, key_id), &old_hash) in &self.keys {
            let new = match API_KEYS.get(txn, &(account, key_id))? {
                Some(record) => Some((record.hash_bytes()?, KeyEntry::of(account, &record))),
                None => None,
            };
            if let Some(old) = old_hash
                && new.as_ref().is_none_or(|(h, _)| *h != old)
                && current.keys.contains_key(&old)
            {
                out.keys.push(KeyChange::Remove(old));
            }
            if let Some((hash, entry)) = new
                && current.keys.get(&hash) != Some(&entry)
            {
                out.keys.push(KeyChange::Upsert(hash, entry));
            }
        }
        for &(account, ws) in &self.workspaces {
            let compiled = match WORKSPACES.get(txn, &(account, ws))? {
                Some(w) => {
                    let config = load_config(txn, account, ws)?;
                    Some(Arc::new(CompiledWorkspace::compile(&w, &config)?))
                }
                None => None,
            };
            out.routing
                .push(RoutingChange::Workspace(account, ws, compiled));
        }
        for &(account, id) in &self.providers {
            let entry = PROVIDERS
                .get(txn, &(account, id))?
                .map(|r: ProviderRecord| {
                    Arc::new(route_provider(&r.provider, r.api_key.is_some()))
                });
            out.routing
                .push(RoutingChange::Provider(account, id, entry));
        }
        Ok(out)
    }
}

/// A change to publish after commit.
#[derive(Debug, Clone)]
pub(crate) enum KeyChange {
    Upsert([u8; 32], KeyEntry),
    Remove([u8; 32]),
}

/// A verified API key: who it belongs to and what it may be used for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedKey {
    /// The key's id.
    pub key_id: KeyId,
    /// The key's account.
    pub account: AccountId,
    /// The key's workspace.
    pub workspace_id: WorkspaceId,
    /// The key's user.
    pub user_id: UserId,
    /// Inference or management.
    pub kind: KeyKind,
}

/// An immutable view of all API keys (by secret hash) and of every workspace's compiled
/// routing rules.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    keys: Arc<HashMap<[u8; 32], KeyEntry>>,
    routing: Routing,
}

/// SHA-256 of a secret: what the store keeps instead of the secret.
pub(crate) fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl Snapshot {
    /// Builds the snapshot from the store.
    pub(crate) fn load(txn: &dyn ReadTxn) -> Result<Self> {
        let mut keys = HashMap::new();
        for (_, record) in API_KEYS.scan_prefix(txn, &())? {
            let record: KeyRecord = record;
            let account = record.account;
            keys.insert(record.hash_bytes()?, KeyEntry::of(account, &record));
        }
        Ok(Self {
            keys: Arc::new(keys),
            routing: Routing::load(txn)?,
        })
    }

    /// A new snapshot with `changes` applied in order. The routing maps are persistent: a
    /// change copies only the path to the workspace or account it touches.
    /// Every workspace whose stored mux rule globs do not compile, one sentence each.
    pub(crate) fn glob_problems(&self) -> Vec<String> {
        self.routing.glob_problems()
    }

    pub(crate) fn with_changes(&self, changes: Changes) -> Self {
        let Changes {
            keys: key_changes,
            routing: routing_changes,
        } = changes;
        let keys = if key_changes.is_empty() {
            self.keys.clone()
        } else {
            let mut keys = (*self.keys).clone();
            for change in key_changes {
                match change {
                    KeyChange::Upsert(hash, entry) => {
                        keys.insert(hash, entry);
                    }
                    KeyChange::Remove(hash) => {
                        keys.remove(&hash);
                    }
                }
            }
            Arc::new(keys)
        };
        let mut routing = self.routing.clone();
        for change in routing_changes {
            routing.apply(change);
        }
        Self { keys, routing }
    }

    /// Routes a request of workspace `ws` of `account` (the data-plane entry point for an
    /// embedding gateway, e.g. with the ids of a [`VerifiedKey`]): the first mux rule whose
    /// matcher type applies to `kind` and whose glob matches one of `files` (a pattern without
    /// `/` matches a file's base name, one with `/` the whole path; case-sensitive; `\` is
    /// read as `/`), else the workspace's `default_text_model` when a provider serves it, else
    /// `failed_precondition` `NO_ROUTE` listing the rules tried.
    pub fn route(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        kind: RequestKind,
        files: &[impl AsRef<str>],
    ) -> Result<Route> {
        self.routing.resolve(account, ws, kind, files)
    }

    /// What differs between this snapshot and `want` (one loaded from the store), one
    /// sentence each, at most `max`: what `modelgates check` reports.
    pub(crate) fn differences(&self, want: &Self, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        for (hash, entry) in want.keys.iter() {
            if self.keys.get(hash) != Some(entry) {
                out.push(format!(
                    "the data-plane snapshot's entry of API key {} differs from the store",
                    entry.key_id
                ));
            }
        }
        for (hash, entry) in self.keys.iter() {
            if !want.keys.contains_key(hash) {
                out.push(format!(
                    "the data-plane snapshot holds API key {}, which the store does not (or \
                     not under that secret)",
                    entry.key_id
                ));
            }
        }
        out.extend(self.routing.differences(&want.routing, max));
        out.truncate(max);
        out
    }

    /// How many workspaces the routing state holds.
    pub fn routed_workspaces(&self) -> usize {
        self.routing.workspace_count()
    }

    /// How many keys the snapshot holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the snapshot holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies a presented secret at time `now`. Unknown secrets are `Unauthenticated`;
    /// disabled or expired keys are `PermissionDenied`. Messages never echo the secret.
    pub fn verify(&self, secret: &str, now: DateTime<Utc>) -> Result<VerifiedKey> {
        if !secret.starts_with(SECRET_PREFIX) {
            return Err(Error::Unauthenticated("not a ModelGates API key".into()));
        }
        let entry = self
            .keys
            .get(&hash_secret(secret))
            .ok_or_else(|| Error::Unauthenticated("unknown API key".into()))?;
        if entry.disabled {
            return Err(Error::PermissionDenied(format!(
                "API key {} is disabled",
                entry.key_id
            )));
        }
        if entry.expires_at.is_some_and(|t| t <= now) {
            return Err(Error::PermissionDenied(format!(
                "API key {} has expired",
                entry.key_id
            )));
        }
        Ok(VerifiedKey {
            key_id: entry.key_id,
            account: entry.account,
            workspace_id: entry.workspace_id,
            user_id: entry.user_id.clone(),
            kind: entry.kind,
        })
    }
}
