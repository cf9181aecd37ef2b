//! The tables of the domain, the schema version and migrations.
//!
//! Every key starts with the account id (except the global key-hash index), so nothing in one
//! account is reachable from another.
//!
//! Storage tables: `meta`, `accounts`, `members` (members + email index), `workspaces`
//! (records + slug index + memberships + custom models + their index + catalog overrides),
//! `catalog` (the database's copy of the model catalog), `api_keys` (records + workspace and user indexes),
//! `key_hashes`, `providers` (records + name index + rule-use index), `personas` (records + name
//! index), `usage` (records + request-id index + messages + message feeds and counts),
//! `usage_rollups`; workspace configuration (custom instructions + mux rules) is one record per workspace
//! in the `workspaces` storage table. A record table and its indexes share one storage table as key
//! families (see `Table::family`), so a write touches as few storage tables as possible.

use serde_json::Value as Json;

use crate::account::Account;
use crate::api_key::KeyRecord;
use crate::codec::{Reverse16, Table};
use crate::error::{Error, Result};
use crate::ids::{AccountId, KeyId, ModelId, PersonaId, ProviderId, UsageId, UserId, WorkspaceId};
use crate::member::Member;
use crate::model::{CatalogEntry, Model, ModelOverride};
use crate::persona::Persona;
use crate::provider::{ProviderRecord, ProviderUse};
use crate::routing::WorkspaceConfig;
use crate::storage::WriteTxn;
use crate::usage::{Message, Rollup, UsageRecord};
use crate::workspace::{Workspace, WorkspaceMember};

/// The schema version this build writes. Bump it with a migration in [`migrate`].
pub const SCHEMA_VERSION: u64 = 4;

/// The meta key holding the schema version.
pub(crate) const META_SCHEMA_VERSION: &str = "schema_version";
/// The meta key holding the fingerprint of the catalog the workspaces were last synced with.
pub(crate) const META_CATALOG_FINGERPRINT: &str = "catalog_fingerprint";

/// Database-wide settings: `schema_version`.
pub(crate) const META: Table<str, Json> = Table::new("meta");
/// Accounts (organizations).
pub(crate) const ACCOUNTS: Table<AccountId, Account> = Table::new("accounts");
/// Organization members by (account, user id).
pub(crate) const MEMBERS: Table<(AccountId, UserId), Member> = Table::family("members", 0);
/// Unique index: (account, lowercased email) → user id.
pub(crate) const MEMBER_EMAILS: Table<(AccountId, String), UserId> = Table::family("members", 1);
/// Workspaces by (account, workspace id).
pub(crate) const WORKSPACES: Table<(AccountId, WorkspaceId), Workspace> =
    Table::family("workspaces", 0);
/// Unique index: (account, slug) → workspace id.
pub(crate) const WORKSPACE_SLUGS: Table<(AccountId, String), WorkspaceId> =
    Table::family("workspaces", 1);
/// Workspace memberships by (account, workspace, user), in the workspaces storage table:
/// creating a workspace with its first member then touches one storage table. There is no
/// reverse (user → workspaces) index; the rare per-user operations scan the account.
pub(crate) const WORKSPACE_MEMBERS: Table<(AccountId, WorkspaceId, UserId), WorkspaceMember> =
    Table::family("workspaces", 2);
/// Custom models of a workspace by (account, workspace, model id), in the workspaces storage
/// table. Catalog models are not stored per workspace (see `CATALOG`, `MODEL_OVERRIDES`).
pub(crate) const MODELS: Table<(AccountId, WorkspaceId, ModelId), Model> =
    Table::family("workspaces", 3);
/// A workspace's changes to catalog models: (account, workspace, provider, family) → override.
pub(crate) const MODEL_OVERRIDES: Table<(AccountId, WorkspaceId, String, String), ModelOverride> =
    Table::family("workspaces", 5);
/// The database's model catalog, shared by all workspaces: (provider, family) → entry.
pub(crate) const CATALOG: Table<(String, String), CatalogEntry> = Table::new("catalog");
/// Unique index of custom models: (account, workspace, provider, family) → model id.
pub(crate) const MODEL_REFS: Table<(AccountId, WorkspaceId, String, String), ModelId> =
    Table::family("workspaces", 4);
/// API keys by (account, key id); holds the secret's hash, never the secret.
pub(crate) const API_KEYS: Table<(AccountId, KeyId), KeyRecord> = Table::family("api_keys", 0);
/// Index: (account, workspace, key) → key.
pub(crate) const WORKSPACE_KEYS: Table<(AccountId, WorkspaceId, KeyId), KeyId> =
    Table::family("api_keys", 1);
/// Index: (account, user, key) → key.
pub(crate) const USER_KEYS: Table<(AccountId, UserId, KeyId), KeyId> = Table::family("api_keys", 2);
/// Global index: SHA-256 of a key secret → (account, key id).
pub(crate) const KEY_HASHES: Table<[u8; 32], (AccountId, KeyId)> = Table::new("key_hashes");

/// Custom instructions and mux rules of a workspace: (account, workspace) → config. Absent =
/// no instructions, no rules (revision 0).
pub(crate) const WORKSPACE_CONFIG: Table<(AccountId, WorkspaceId), WorkspaceConfig> =
    Table::family("workspaces", 6);
/// Provider endpoints by (account, provider id); holds the API key, which no read returns.
pub(crate) const PROVIDERS: Table<(AccountId, ProviderId), ProviderRecord> =
    Table::family("providers", 0);
/// Unique index: (account, lowercased provider name) → provider id.
pub(crate) const PROVIDER_NAMES: Table<(AccountId, String), ProviderId> =
    Table::family("providers", 1);
/// Which workspaces' mux rules use a provider: (account, provider, workspace) → use.
pub(crate) const PROVIDER_USES: Table<(AccountId, ProviderId, WorkspaceId), ProviderUse> =
    Table::family("providers", 2);
/// Personas by (account, persona id).
pub(crate) const PERSONAS: Table<(AccountId, PersonaId), Persona> = Table::family("personas", 0);
/// Unique index: (account, lowercased persona name) → persona id.
pub(crate) const PERSONA_NAMES: Table<(AccountId, String), PersonaId> =
    Table::family("personas", 1);

/// Usage records by (account, workspace, usage id); the id starts with the record's timestamp,
/// so a workspace's records are in time order.
pub(crate) const USAGE: Table<(AccountId, WorkspaceId, UsageId), UsageRecord> =
    Table::family("usage", 0).compact();
/// Idempotency index: (account, workspace, gateway request id) → usage id.
pub(crate) const USAGE_REQUESTS: Table<(AccountId, WorkspaceId, String), UsageId> =
    Table::family("usage", 1).compact();
/// Rollups: (account, workspace, level, bucket start ms) → counters per provider/model.
/// A storage table of its own (not a family of `usage`): `workspace_usage` reads up to ~75 rows
/// in ~14 range scans, and a small tree of rollups alone is one level shallower and stays in
/// cache, where the `usage` tree grows by a gigabyte per million records.
pub(crate) const USAGE_ROLLUPS: Table<(AccountId, WorkspaceId, u64, u64), Rollup> =
    Table::new("usage_rollups").compact();
/// Where schema 3 kept the rollups (moved to `usage_rollups` by the migration to 4).
const LEGACY_USAGE_ROLLUPS: Table<(AccountId, WorkspaceId, u64, u64), Rollup> =
    Table::family("usage", 2);

/// Conversations and alerts of usage records: (account, workspace, usage id) → message.
pub(crate) const USAGE_MESSAGES: Table<(AccountId, WorkspaceId, UsageId), Message> =
    Table::family("usage", 3);

/// Newest-first feed of a workspace's messages: (account, workspace, reversed usage id) → id.
pub(crate) const MESSAGE_FEED: Table<(AccountId, WorkspaceId, Reverse16), UsageId> =
    Table::family("usage", 4).compact();
/// Newest-first messages of a chat: (account, workspace, chat id, reversed usage id) → id.
pub(crate) const MESSAGES_BY_CHAT: Table<(AccountId, WorkspaceId, String, Reverse16), UsageId> =
    Table::family("usage", 5).compact();
/// Newest-first messages with an alert of a trigger type: (…, trigger type, reversed id) → id.
pub(crate) const MESSAGES_BY_TRIGGER: Table<(AccountId, WorkspaceId, String, Reverse16), UsageId> =
    Table::family("usage", 6).compact();
/// Newest-first messages with a critical alert: (account, workspace, reversed usage id) → id.
pub(crate) const ALERT_FEED: Table<(AccountId, WorkspaceId, Reverse16), UsageId> =
    Table::family("usage", 8).compact();
/// Deleted workspaces whose usage is still being purged in bounded batches (by
/// `ModelGates::usage_expire`): (account, workspace) → the same pair.
pub(crate) const USAGE_PURGES: Table<(AccountId, WorkspaceId), (AccountId, WorkspaceId)> =
    Table::family("usage", 9).compact();
/// Message counts: (account, workspace, "" | "chat:<id>" | "trigger:<type>") → count.
pub(crate) const MESSAGE_COUNTS: Table<(AccountId, WorkspaceId, String), u64> =
    Table::family("usage", 7).compact();

/// Brings a database at schema `from` up to [`SCHEMA_VERSION`], inside the caller's transaction.
pub(crate) fn migrate(txn: &mut dyn WriteTxn, from: u64) -> Result<()> {
    if from > SCHEMA_VERSION {
        return Err(Error::UnsupportedVersion(format!(
            "the database has schema version {from}; this build supports up to \
             {SCHEMA_VERSION}. It was left untouched; upgrade modelgates to open it."
        )));
    }
    // One `if from < N { … }` block per version, each re-runnable.
    // Version 2 adds per-workspace model catalogs: existing workspaces are seeded by the
    // catalog sync that runs after migration (the catalog fingerprint is unset in version 1).
    // Version 3 adds providers, mux rules, custom instructions, personas, archiving and the
    // active workspace: new tables start empty and new record fields have serde defaults, so
    // no record is rewritten.
    // Version 4 stores the usage tables in the compact value format (postcard; their JSON rows
    // stay readable, so they are not rewritten; older builds cannot read compact rows) and moves
    // the rollups to a storage table of their own.
    if from < 4 {
        for (key, row) in LEGACY_USAGE_ROLLUPS.scan_prefix(txn, &())? {
            txn.put(
                USAGE_ROLLUPS.name(),
                &key[1..],
                &USAGE_ROLLUPS.value_bytes(&row)?,
            )?;
        }
        LEGACY_USAGE_ROLLUPS.delete_prefix(txn, &())?;
    }
    if from < SCHEMA_VERSION {
        META.put(txn, META_SCHEMA_VERSION, &Json::from(SCHEMA_VERSION))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;
    use crate::storage::Storage;
    use crate::usage::Counters;

    #[test]
    fn migration_to_4_moves_json_rollups_to_their_own_table() {
        let store = MemoryStore::new();
        let (a, w) = (AccountId::generate(1), WorkspaceId::generate(1));
        let mut row = Rollup::default();
        row.by_model.insert(
            "openai/gpt-5".into(),
            Counters {
                requests: 2,
                input_tokens: 10,
                ..Default::default()
            },
        );
        let mut txn = store.begin_write().unwrap();
        // Schema 3 wrote JSON rows into family 2 of `usage`.
        LEGACY_USAGE_ROLLUPS
            .put(&mut *txn, &(a, w, 0, 60_000), &row)
            .unwrap();
        assert_eq!(
            txn.get(
                LEGACY_USAGE_ROLLUPS.name(),
                &LEGACY_USAGE_ROLLUPS.key_bytes(&(a, w, 0, 60_000))
            )
            .unwrap()
            .unwrap()[0],
            crate::codec::VALUE_FORMAT_JSON
        );
        migrate(&mut *txn, 3).unwrap();
        assert_eq!(
            USAGE_ROLLUPS.get(&*txn, &(a, w, 0, 60_000)).unwrap(),
            Some(row)
        );
        assert!(
            LEGACY_USAGE_ROLLUPS
                .scan_prefix(&*txn, &())
                .unwrap()
                .is_empty()
        );
        let raw = txn
            .get(
                USAGE_ROLLUPS.name(),
                &USAGE_ROLLUPS.key_bytes(&(a, w, 0, 60_000)),
            )
            .unwrap()
            .unwrap();
        assert_eq!(raw[0], crate::codec::VALUE_FORMAT_COMPACT);
        // Re-runnable.
        migrate(&mut *txn, 3).unwrap();
        assert_eq!(USAGE_ROLLUPS.scan_prefix(&*txn, &()).unwrap().len(), 1);
        txn.commit().unwrap();
    }
}
