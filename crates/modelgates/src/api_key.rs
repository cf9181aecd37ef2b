//! API keys: create (the secret is shown once), list, get, update, delete, and verification
//! from the in-memory snapshot. Only a SHA-256 hash of each secret is stored.

use chrono::{DateTime, Utc};

use crate::access;
use crate::clock::millis;
use crate::error::{Error, Reason, Result};
use crate::handle::{Caller, ModelGates, Tx, op};
use crate::idempotency::store::Replayable;
use crate::ids::{AccountId, KeyId, UserId, WorkspaceId};
use crate::patch::Patch;
pub use crate::record::api_key::*;
use crate::schema::{
    API_KEYS, KEY_COUNTERS, KEY_HASHES, KEY_NUMBERS, KEY_USAGE, USER_KEYS, WORKSPACE_KEYS,
    WORKSPACES,
};
use crate::snapshot::{VerifiedKey, hash_secret};
use crate::storage::ReadTxn;
use crate::validate::{self, Page, Paged};
use crate::workspace;

const LIMIT_MAX: f64 = 1e12;

fn check_limit(v: f64) -> Result<()> {
    if v.is_finite() && (0.0..=LIMIT_MAX).contains(&v) {
        Ok(())
    } else {
        Err(Error::invalid(
            "limit",
            format!("{v} is not an amount in [0, {LIMIT_MAX}]"),
        ))
    }
}

fn check_expiry(t: DateTime<Utc>, now: DateTime<Utc>) -> Result<()> {
    if t <= now {
        return Err(Error::invalid(
            "expires_at",
            format!(
                "{} is not in the future (now is {}); use disabled to stop a key",
                t.to_rfc3339(),
                now.to_rfc3339()
            ),
        ));
    }
    Ok(())
}

/// Every key record of workspace `ws`, oldest first.
pub(crate) fn records_of_workspace(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: WorkspaceId,
) -> Result<Vec<KeyRecord>> {
    load_all(
        txn,
        account,
        WORKSPACE_KEYS.values_with_prefix(txn, &(account, ws))?,
    )
}

/// Every key record of `user`, oldest first.
pub(crate) fn records_of_user(
    txn: &dyn ReadTxn,
    account: AccountId,
    user: &UserId,
) -> Result<Vec<KeyRecord>> {
    load_all(
        txn,
        account,
        USER_KEYS.values_with_prefix(txn, &(account, user.clone()))?,
    )
}

fn load_all(txn: &dyn ReadTxn, account: AccountId, ids: Vec<KeyId>) -> Result<Vec<KeyRecord>> {
    ids.into_iter()
        .map(|id| {
            API_KEYS.get(txn, &(account, id))?.ok_or_else(|| {
                Error::Corrupt(format!("index names API key {id}, which does not exist"))
            })
        })
        .collect()
}

fn load(txn: &dyn ReadTxn, account: AccountId, raw_id: &str) -> Result<KeyRecord> {
    let id = KeyId::parse_field(raw_id, "id")?;
    API_KEYS
        .get(txn, &(account, id))?
        .ok_or_else(|| Error::not_found("API key", id.to_string()))
}

/// Deletes a key with its indexes and its io-logging references (the snapshot follows at commit).
pub(crate) fn delete_record(tx: &mut Tx<'_>, account: AccountId, record: &KeyRecord) -> Result<()> {
    let k = &record.key;
    API_KEYS.delete(&mut *tx, &(account, k.id))?;
    WORKSPACE_KEYS.delete(&mut *tx, &(account, k.workspace_id, k.id))?;
    USER_KEYS.delete(&mut *tx, &(account, k.creator_user_id.clone(), k.id))?;
    let hash = record.hash_bytes()?;
    KEY_HASHES.delete(&mut *tx, &hash)?;
    KEY_NUMBERS.delete(&mut *tx, &(account, k.number))?;
    KEY_USAGE.delete(&mut *tx, &(account, k.id))?;
    if let Some(mut ws) = WORKSPACES.get(&*tx, &(account, k.workspace_id))?
        && let Some(ids) = &mut ws.io_logging_api_key_ids
        && ids.contains(&k.id)
    {
        ids.retain(|id| *id != k.id);
        WORKSPACES.put(&mut *tx, &(account, ws.id), &ws)?;
    }
    Ok(())
}

/// What `patch` would loosen on `key`, in words, if anything: enabling it, removing or raising
/// its limit, removing or extending its expiry.
fn loosens(key: &ApiKey, patch: &KeyPatch) -> Option<&'static str> {
    if patch.disabled == Some(false) && key.disabled {
        return Some("enabling");
    }
    match (&patch.limit, key.limit) {
        (Patch::Clear, Some(_)) => return Some("removing the limit"),
        (Patch::Set(new), Some(old)) if *new > old => return Some("raising the limit"),
        _ => {}
    }
    match (&patch.expires_at, key.expires_at) {
        (Patch::Clear, Some(_)) => Some("removing the expiry"),
        (Patch::Set(new), Some(old)) if *new > old => Some("extending the expiry"),
        _ => None,
    }
}

fn store(tx: &mut Tx<'_>, record: &KeyRecord) -> Result<()> {
    API_KEYS.put(tx, &(record.account, record.key.id), record)
}

/// A retry of `key_create` gets the key without its secret, which is never stored.
impl Replayable for CreatedKey {
    fn stored(&self) -> Result<serde_json::Value> {
        serde_json::to_value(&self.data)
            .map_err(|e| Error::internal(format!("encoding a key to keep for retries: {e}")))
    }

    fn replayed(stored: serde_json::Value) -> Result<Self> {
        let data = serde_json::from_value(stored)
            .map_err(|e| Error::Corrupt(format!("a key kept for retries does not decode: {e}")))?;
        Ok(CreatedKey {
            data,
            key: None,
            replayed: true,
        })
    }
}

impl ModelGates {
    /// Creates an API key in a workspace for a workspace member and returns its secret, the
    /// only time it is shown. Non-admins may create keys only for themselves.
    pub fn key_create(&self, caller: &Caller, new: NewKey) -> Result<CreatedKey> {
        validate::name("name", &new.name, 100)?;
        if let Some(limit) = new.limit {
            check_limit(limit)?;
        }
        let creator = new
            .creator_user_id
            .as_deref()
            .map(|u| UserId::parse_field(u, "creator_user_id"))
            .transpose()?
            .unwrap_or_else(|| caller.user_id.clone());
        self.write_once(op("key_create", caller), &new, |tx| {
            let me = access::member(&*tx, caller)?;
            access::own(&me, &creator, "create keys for themselves")?;
            if new.kind == Some(KeyKind::Management) && !me.is_admin() {
                return Err(Error::PermissionDenied(format!(
                    "user {} has role {}; creating a management key needs org:admin",
                    me.user_id,
                    me.role.as_str()
                )));
            }
            if let Some(t) = new.expires_at {
                check_expiry(t, tx.now)?;
            }
            let account = caller.account;
            let ws = workspace::resolve(&*tx, account, &new.workspace)?;
            access::workspace(&*tx, &me, &ws)?;
            workspace::check_not_archived(&ws)?;
            if crate::schema::MEMBERS
                .get(&*tx, &(account, creator.clone()))?
                .is_none()
            {
                return Err(Error::invalid(
                    "creator_user_id",
                    format!("user {creator} is not a member of the organization"),
                ));
            }
            if !workspace::is_member(&*tx, account, ws.id, &creator)? {
                return Err(Error::precondition(
                    Reason::NotWorkspaceMember,
                    format!(
                        "user {creator} is not a member of workspace {:?}; add them with \
                         workspace_members_add first",
                        ws.slug
                    ),
                ));
            }
            let mut raw = [0u8; 32];
            getrandom::fill(&mut raw)
                .map_err(|e| Error::internal(format!("random source: {e}")))?;
            let body = hex(&raw);
            let secret = format!("{SECRET_PREFIX}{body}");
            let hash = hash_secret(&secret);
            let id = KeyId::generate(millis(tx.now));
            let number = KEY_COUNTERS.get(&*tx, &(account,))?.unwrap_or(0) + 1;
            KEY_COUNTERS.put(&mut *tx, &(account,), &number)?;
            KEY_NUMBERS.put(&mut *tx, &(account, number), &id)?;
            let key = ApiKey {
                id,
                number,
                name: new.name.clone(),
                label: format!("{SECRET_PREFIX}{}…{}", &body[..4], &body[60..]),
                workspace_id: ws.id,
                creator_user_id: creator.clone(),
                kind: new.kind.unwrap_or(KeyKind::Inference),
                disabled: false,
                expires_at: new.expires_at,
                limit: new.limit,
                created_at: tx.now,
                updated_at: None,
            };
            let record = KeyRecord {
                account,
                key: key.clone(),
                hash: hex(&hash),
            };
            store(tx, &record)?;
            WORKSPACE_KEYS.put(&mut *tx, &(account, ws.id, id), &id)?;
            USER_KEYS.put(&mut *tx, &(account, creator.clone(), id), &id)?;
            KEY_HASHES.put(&mut *tx, &hash, &(account, id))?;
            Ok(CreatedKey {
                data: key,
                key: Some(secret),
                replayed: false,
            })
        })
    }

    /// The numbers of keys `ids` of the caller's account, in order (see [`ApiKey::number`]),
    /// for front ends that show keys by number. An id of a key deleted since the caller read it
    /// is left out: deleting a key removes it from every list that named it.
    pub fn key_numbers(&self, caller: &Caller, ids: &[KeyId]) -> Result<Vec<u64>> {
        self.read(|txn| {
            access::member(txn, caller)?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(r) = API_KEYS.get(txn, &(caller.account, *id))? {
                    out.push(r.key.number);
                }
            }
            Ok(out)
        })
    }

    /// Lists a workspace's keys, oldest first; disabled and expired keys only when
    /// `include_inactive`. Members see only their own keys.
    pub fn key_list(
        &self,
        caller: &Caller,
        workspace: &str,
        include_inactive: bool,
        page: Page,
    ) -> Result<Paged<ApiKey>> {
        let filter = KeyFilter {
            include_disabled: include_inactive,
            include_expired: include_inactive,
        };
        self.key_list_filtered(caller, Some(workspace), filter, page)
    }

    /// Lists a workspace's keys (`None` = the account's default workspace), oldest first,
    /// disabled and expired keys as `filter` says. Members see only their own keys.
    pub fn key_list_filtered(
        &self,
        caller: &Caller,
        workspace: Option<&str>,
        filter: KeyFilter,
        page: Page,
    ) -> Result<Paged<ApiKey>> {
        let now = self.now();
        self.read(|txn| {
            let me = access::member(txn, caller)?;
            let ws = match workspace {
                Some(w) => workspace::resolve(txn, caller.account, w)?,
                None => {
                    let id = crate::account::load(txn, caller.account)?.default_workspace_id;
                    workspace::resolve(txn, caller.account, &id.to_string())?
                }
            };
            access::workspace(txn, &me, &ws)?;
            let expired = |k: &ApiKey| k.expires_at.is_some_and(|t| t <= now);
            let keys = records_of_workspace(txn, caller.account, ws.id)?
                .into_iter()
                .map(|r| r.key)
                .filter(|k| me.is_admin() || k.creator_user_id == me.user_id)
                .filter(|k| filter.include_disabled || !k.disabled)
                .filter(|k| filter.include_expired || !expired(k))
                .collect();
            Ok(page.apply(keys))
        })
    }

    /// One key by id (members: their own keys only).
    pub fn key_get(&self, caller: &Caller, id: &str) -> Result<ApiKey> {
        self.read(|txn| {
            let me = access::member(txn, caller)?;
            let key = load(txn, caller.account, id)?.key;
            access::own(&me, &key.creator_user_id, "read their own keys")?;
            Ok(key)
        })
    }

    /// Renames, disables/enables, or changes the expiry or limit of a key. Takes effect on
    /// the data plane as soon as the call returns. Members may change only their own keys and
    /// only tighten them (rename, disable, lower or set a limit, set or shorten an expiry);
    /// enabling a key, raising or removing a limit and extending or removing an expiry need an
    /// org admin.
    pub fn key_update(&self, caller: &Caller, id: &str, patch: KeyPatch) -> Result<ApiKey> {
        if let Some(name) = &patch.name {
            validate::name("name", name, 100)?;
        }
        if let Some(&limit) = patch.limit.as_set() {
            check_limit(limit)?;
        }
        self.write(op("key_update", caller), |tx| {
            let me = access::member(&*tx, caller)?;
            let mut record = load(&*tx, caller.account, id)?;
            access::own(&me, &record.key.creator_user_id, "change their own keys")?;
            if let Some(&t) = patch.expires_at.as_set() {
                check_expiry(t, tx.now)?;
            }
            if let Some(loosened) = loosens(&record.key, &patch).filter(|_| !me.is_admin()) {
                return Err(Error::PermissionDenied(format!(
                    "user {} has role {} and may only tighten their keys; {loosened} of key {} \
                     needs org:admin",
                    me.user_id,
                    me.role.as_str(),
                    record.key.id
                )));
            }
            let k = &mut record.key;
            if let Some(name) = &patch.name {
                k.name = name.clone();
            }
            if let Some(disabled) = patch.disabled {
                k.disabled = disabled;
            }
            patch.expires_at.clone().apply_to(&mut k.expires_at);
            patch.limit.clone().apply_to(&mut k.limit);
            k.updated_at = Some(tx.now);
            store(tx, &record)?;
            Ok(record.key)
        })
    }

    /// Deletes a key; it stops verifying immediately.
    pub fn key_delete(&self, caller: &Caller, id: &str) -> Result<ApiKey> {
        self.write(op("key_delete", caller), |tx| {
            let me = access::member(&*tx, caller)?;
            let record = load(&*tx, caller.account, id)?;
            access::own(&me, &record.key.creator_user_id, "delete their own keys")?;
            delete_record(tx, caller.account, &record)?;
            Ok(record.key)
        })
    }

    /// Verifies a presented secret against the in-memory snapshot (never the store).
    pub fn verify_key(&self, secret: &str) -> Result<VerifiedKey> {
        self.snapshot().verify(secret, self.now())
    }
}
