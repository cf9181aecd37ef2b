//! The data-plane snapshot: an immutable, in-memory view of every API key, swapped atomically
//! after each committed change. Key verification reads only this, never the store.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::api_key::{KeyKind, KeyRecord, SECRET_PREFIX};
use crate::error::{Error, Result};
use crate::ids::{AccountId, KeyId, UserId, WorkspaceId};
use crate::schema::API_KEYS;
use crate::storage::ReadTxn;

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

/// An immutable view of all API keys, by secret hash.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    keys: Arc<HashMap<[u8; 32], KeyEntry>>,
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
        })
    }

    /// A new snapshot with `changes` applied in order.
    pub(crate) fn with_changes(&self, changes: Vec<KeyChange>) -> Self {
        let mut keys = (*self.keys).clone();
        for change in changes {
            match change {
                KeyChange::Upsert(hash, entry) => {
                    keys.insert(hash, entry);
                }
                KeyChange::Remove(hash) => {
                    keys.remove(&hash);
                }
            }
        }
        Self {
            keys: Arc::new(keys),
        }
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
