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
//! `usage_rollups`, `idempotency` (records + expiry index); workspace configuration (custom instructions + mux rules) is one record per workspace
//! in the `workspaces` storage table. A record table and its indexes share one storage table as key
//! families (see `Table::family`), so a write touches as few storage tables as possible.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use crate::codec::{
    KeyDecode, KeyPart, KeyPrefix, Reverse16, Table, TableInfo, decode_value, delete_prefix_limit,
    encode_compact, encode_value, scan_raw_prefix,
};
use crate::error::{Error, Result};
use crate::ids::{
    AccountId, AuditId, KeyId, ModelId, PersonaId, ProviderId, UsageId, UserId, WorkspaceId,
};
use crate::record::account::Account;
use crate::record::api_key::KeyRecord;
use crate::record::audit::AuditEvent;
use crate::record::bundle::BundleStamp;
use crate::record::change::ChangeRecord;
use crate::record::idempotency::IdempotencyRecord;
use crate::record::member::Member;
use crate::record::model::{CatalogEntry, Model, ModelOverride};
use crate::record::persona::Persona;
use crate::record::provider::{ProviderRecord, ProviderUse};
use crate::record::routing::WorkspaceConfig;
use crate::record::usage::{Counters, KeyUsageRow, Message, Rollup, UsageRecord};
use crate::record::workspace::{WorkspaceMember, WorkspaceRecord};
use crate::storage::{ReadTxn, TableName, WriteTxn};

/// The schema version this build writes. Bump it with a migration in `migrate`.
pub const SCHEMA_VERSION: u64 = 6;

/// The meta key holding the position of the change log's newest record (absent = none).
pub(crate) const META_CHANGE_HEAD: &str = "change_head";

/// The meta key holding the schema version.
pub(crate) const META_SCHEMA_VERSION: &str = "schema_version";
/// The meta key holding the fingerprint of the catalog the workspaces were last synced with.
pub(crate) const META_CATALOG_FINGERPRINT: &str = "catalog_fingerprint";

/// Database-wide settings: `schema_version`.
pub(crate) const META: Table<str, Json> = Table::new("meta");
/// The change log of a shared database: position → what that commit changed of the tables the
/// snapshot mirrors. Written only on stores several instances share (`Storage::is_remote`);
/// the newest `CHANGE_LOG_KEEP` records are kept.
pub(crate) const CHANGES: Table<(u64,), ChangeRecord> = Table::new("changes").compact();
/// The audit log: (account, event id, newest first) → event.
pub(crate) const AUDIT: Table<(AccountId, Reverse16), AuditEvent> = Table::new("audit");
/// Event ids to their key in [`AUDIT`].
pub(crate) fn audit_key(account: AccountId, id: AuditId) -> (AccountId, Reverse16) {
    (account, Reverse16(id.to_bytes()))
}
/// Which bundle manages a resource: (account, kind, resource id) → stamp. Resource ids of
/// kinds without one of their own are paths (`{workspace id}/{user id}`,
/// `{workspace id}/{provider}/{family}`).
pub(crate) const BUNDLE_STAMPS: Table<(AccountId, String, String), BundleStamp> =
    Table::new("bundle_stamps");
/// The key of an idempotency record: (account, user, idempotency key).
pub(crate) type IdempotencyRow = (AccountId, UserId, String);
/// Idempotent writes: (account, user, idempotency key) → what the operation answered.
pub(crate) const IDEMPOTENCY: Table<IdempotencyRow, IdempotencyRecord> =
    Table::family("idempotency", 0);
/// When each idempotency record expires: (millisecond it was written, account, user, key), for
/// retention to remove them oldest first.
pub(crate) const IDEMPOTENCY_EXPIRY: Table<(u64, AccountId, UserId, String), IdempotencyRow> =
    Table::family("idempotency", 1);
/// Accounts (organizations).
pub(crate) const ACCOUNTS: Table<AccountId, Account> = Table::new("accounts");
/// Organization members by (account, user id).
pub(crate) const MEMBERS: Table<(AccountId, UserId), Member> = Table::family("members", 0);
/// Unique index: (account, lowercased email) → user id.
pub(crate) const MEMBER_EMAILS: Table<(AccountId, String), UserId> = Table::family("members", 1);
/// Workspaces by (account, workspace id).
pub(crate) const WORKSPACES: Table<(AccountId, WorkspaceId), WorkspaceRecord> =
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
/// Unique index: (account, key number) → key id.
pub(crate) const KEY_NUMBERS: Table<(AccountId, u64), KeyId> = Table::family("api_keys", 3);
/// The last key number handed out in an account (numbers are never reused).
pub(crate) const KEY_COUNTERS: Table<(AccountId,), u64> = Table::family("api_keys", 4);
/// What each key has used (from the usage recorded with its id): (account, key) → usage.
pub(crate) const KEY_USAGE: Table<(AccountId, KeyId), KeyUsageRow> =
    Table::family("api_keys", 5).compact();
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

// ---------------------------------------------------------------------------------------------
// The table registry.

/// Where a table's rows belong: what every key of the table starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Database-wide rows (schema version, the model catalog, the global key-hash index).
    Database,
    /// Rows of one account: keys start with the account id.
    Account,
    /// Rows of one workspace: keys start with (account id, workspace id). Deleting a workspace
    /// removes them by that prefix (see [`purge_workspace`]).
    Workspace(Purge),
}

/// How a workspace's rows in a workspace-scoped table are removed when it is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purge {
    /// In the deleting transaction.
    Inline,
    /// Usage: in the deleting transaction when small, else in bounded batches afterwards
    /// (`ModelGates::usage_expire`); until then the rows are orphans `check` accepts.
    Deferred,
}

/// One registered table: its storage, the module that owns its rows, and its scope.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Registered {
    /// The constant's name in this file.
    pub(crate) constant: &'static str,
    pub(crate) table: TableInfo,
    /// The module whose operations write the table.
    pub(crate) owner: &'static str,
    pub(crate) scope: Scope,
    /// Decodes a stored value as this table's value type and encodes it again in this table's
    /// format: the identity on every row this build writes (see `reencode_mismatches`).
    #[cfg_attr(not(any(test, feature = "testkit")), allow(dead_code))]
    pub(crate) reencode: fn(TableInfo, &[u8]) -> Result<Vec<u8>>,
}

fn reencode<V: Serialize + DeserializeOwned>(table: TableInfo, bytes: &[u8]) -> Result<Vec<u8>> {
    let value: V = decode_value(table.name, bytes)?;
    if table.compact {
        encode_compact(&value)
    } else {
        encode_value(&value)
    }
}

impl Registered {
    const fn database<K: KeyPart + ?Sized, V: Serialize + DeserializeOwned>(
        constant: &'static str,
        table: &Table<K, V>,
        owner: &'static str,
    ) -> Self {
        Self {
            constant,
            table: table.info(),
            owner,
            scope: Scope::Database,
            reencode: reencode::<V>,
        }
    }

    /// An account-scoped table: its key type must start with an account id (checked by the
    /// compiler).
    const fn account<K: KeyPart + ?Sized, V: Serialize + DeserializeOwned>(
        constant: &'static str,
        table: &Table<K, V>,
        owner: &'static str,
    ) -> Self
    where
        (AccountId,): KeyPrefix<K>,
    {
        Self {
            constant,
            table: table.info(),
            owner,
            scope: Scope::Account,
            reencode: reencode::<V>,
        }
    }

    /// A workspace-scoped table: its key type must start with (account id, workspace id)
    /// (checked by the compiler).
    const fn workspace<K: KeyPart + ?Sized, V: Serialize + DeserializeOwned>(
        constant: &'static str,
        table: &Table<K, V>,
        owner: &'static str,
        purge: Purge,
    ) -> Self
    where
        (AccountId, WorkspaceId): KeyPrefix<K>,
    {
        Self {
            constant,
            table: table.info(),
            owner,
            scope: Scope::Workspace(purge),
            reencode: reencode::<V>,
        }
    }
}

macro_rules! register {
    ($scope:ident($table:ident, $owner:literal $(, $purge:expr)?)) => {
        Registered::$scope(stringify!($table), &$table, $owner $(, $purge)?)
    };
}

/// Every table of the schema. It drives workspace purges ([`purge_workspace`]), the orphan
/// checks of `check` ([`orphans`]) and the storage tables a backend holds ([`storage_tables`]).
pub(crate) const TABLES: &[Registered] = &[
    register!(database(META, "schema")),
    register!(database(CHANGES, "handle")),
    register!(database(CATALOG, "model")),
    register!(database(KEY_HASHES, "api_key")),
    register!(database(IDEMPOTENCY_EXPIRY, "idempotency")),
    register!(account(ACCOUNTS, "account")),
    register!(account(MEMBERS, "member")),
    register!(account(MEMBER_EMAILS, "member")),
    register!(account(WORKSPACE_SLUGS, "workspace")),
    register!(account(API_KEYS, "api_key")),
    register!(account(USER_KEYS, "api_key")),
    register!(account(KEY_NUMBERS, "api_key")),
    register!(account(KEY_COUNTERS, "api_key")),
    register!(account(KEY_USAGE, "usage")),
    register!(account(PROVIDERS, "provider")),
    register!(account(PROVIDER_NAMES, "provider")),
    register!(account(PROVIDER_USES, "routing")),
    register!(account(PERSONAS, "persona")),
    register!(account(PERSONA_NAMES, "persona")),
    register!(account(USAGE_PURGES, "usage")),
    register!(account(AUDIT, "audit")),
    register!(account(IDEMPOTENCY, "idempotency")),
    register!(account(BUNDLE_STAMPS, "bundle")),
    register!(workspace(WORKSPACES, "workspace", Purge::Inline)),
    register!(workspace(WORKSPACE_MEMBERS, "workspace", Purge::Inline)),
    register!(workspace(MODELS, "model", Purge::Inline)),
    register!(workspace(MODEL_REFS, "model", Purge::Inline)),
    register!(workspace(MODEL_OVERRIDES, "model", Purge::Inline)),
    register!(workspace(WORKSPACE_KEYS, "api_key", Purge::Inline)),
    register!(workspace(WORKSPACE_CONFIG, "routing", Purge::Inline)),
    register!(workspace(USAGE, "usage", Purge::Deferred)),
    register!(workspace(USAGE_REQUESTS, "usage", Purge::Deferred)),
    register!(workspace(USAGE_ROLLUPS, "usage", Purge::Deferred)),
    register!(workspace(USAGE_MESSAGES, "message", Purge::Deferred)),
    register!(workspace(MESSAGE_FEED, "message", Purge::Deferred)),
    register!(workspace(MESSAGES_BY_CHAT, "message", Purge::Deferred)),
    register!(workspace(MESSAGES_BY_TRIGGER, "message", Purge::Deferred)),
    register!(workspace(ALERT_FEED, "message", Purge::Deferred)),
    register!(workspace(MESSAGE_COUNTS, "message", Purge::Deferred)),
];

/// How a table's rows appear in the audit log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Audited {
    pub(crate) table: TableInfo,
    /// The resource kind events name (`workspace`).
    pub(crate) kind: &'static str,
    /// Fields (flattened names) whose values are never recorded, only that they changed.
    pub(crate) secrets: &'static [&'static str],
}

const fn audited<K: KeyPart + ?Sized, V: Serialize + DeserializeOwned>(
    table: &Table<K, V>,
    kind: &'static str,
    secrets: &'static [&'static str],
) -> Audited {
    Audited {
        table: table.info(),
        kind,
        secrets,
    }
}

/// The tables whose changes are audit events: the configuration an account's admins manage.
/// Every other registered table is listed in [`NOT_AUDITED`] with the reason, and a test
/// checks that each table is in exactly one of the two lists.
pub(crate) const AUDITED: &[Audited] = &[
    audited(&ACCOUNTS, "account", &[]),
    audited(&MEMBERS, "member", &[]),
    audited(&WORKSPACES, "workspace", &[]),
    audited(&WORKSPACE_MEMBERS, "workspace_member", &[]),
    audited(&WORKSPACE_CONFIG, "workspace_config", &[]),
    audited(&MODELS, "model", &[]),
    audited(&MODEL_OVERRIDES, "model", &[]),
    audited(&API_KEYS, "api_key", &["hash"]),
    audited(&PROVIDERS, "provider", &["api_key"]),
    audited(&PERSONAS, "persona", &[]),
    audited(&BUNDLE_STAMPS, "bundle_stamp", &[]),
];

/// Registered tables that are not audited, and why.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const NOT_AUDITED: &[(&str, &str)] = &[
    (
        "META",
        "the schema version and change-log head: ModelGates' own bookkeeping",
    ),
    (
        "CHANGES",
        "the change log between instances, derived from audited writes",
    ),
    (
        "CATALOG",
        "the database-wide model catalog, synced from the build, not an account's",
    ),
    ("KEY_HASHES", "an index of API_KEYS"),
    ("MEMBER_EMAILS", "an index of MEMBERS"),
    ("WORKSPACE_SLUGS", "an index of WORKSPACES"),
    ("USER_KEYS", "an index of API_KEYS"),
    ("KEY_NUMBERS", "an index of API_KEYS"),
    ("KEY_COUNTERS", "the next key number, derived"),
    (
        "KEY_USAGE",
        "usage counters: data-plane traffic, not configuration",
    ),
    ("PROVIDER_NAMES", "an index of PROVIDERS"),
    ("PROVIDER_USES", "an index of WORKSPACE_CONFIG's rules"),
    ("PERSONA_NAMES", "an index of PERSONAS"),
    ("USAGE_PURGES", "retention bookkeeping"),
    ("AUDIT", "the audit log itself"),
    (
        "IDEMPOTENCY",
        "the answers kept for retries: the operation's own event records the change",
    ),
    ("IDEMPOTENCY_EXPIRY", "an index of IDEMPOTENCY"),
    ("MODEL_REFS", "an index of MODELS"),
    ("WORKSPACE_KEYS", "an index of API_KEYS"),
    (
        "USAGE",
        "usage records: data-plane traffic, not configuration",
    ),
    ("USAGE_REQUESTS", "an index of USAGE"),
    ("USAGE_ROLLUPS", "usage rollups, derived"),
    ("USAGE_MESSAGES", "conversations recorded with usage"),
    ("MESSAGE_FEED", "an index of USAGE_MESSAGES"),
    ("MESSAGES_BY_CHAT", "an index of USAGE_MESSAGES"),
    ("MESSAGES_BY_TRIGGER", "an index of USAGE_MESSAGES"),
    ("ALERT_FEED", "an index of USAGE_MESSAGES"),
    ("MESSAGE_COUNTS", "message counts, derived"),
];

/// The audit description of the row `key` of storage table `table`, if it is audited.
pub(crate) fn audited_row(table: TableName, key: &[u8]) -> Option<&'static Audited> {
    AUDITED.iter().find(|a| {
        a.table.name == table
            && match a.table.family {
                Some(f) => key.first() == Some(&f),
                None => true,
            }
    })
}

/// The account a row of an account- or workspace-scoped table belongs to.
pub(crate) fn row_account(info: TableInfo, key: &[u8]) -> Option<AccountId> {
    let mut rest = match info.family {
        Some(_) => key.get(1..)?,
        None => key,
    };
    AccountId::decode_key(&mut rest)
}

/// The storage tables a backend holds, each once, in registry order.
pub fn storage_tables() -> Vec<TableName> {
    let mut out: Vec<TableName> = Vec::new();
    for r in TABLES {
        if !out.contains(&r.table.name) {
            out.push(r.table.name);
        }
    }
    out
}

/// The storage ranges of workspace `ws`'s rows in the workspace-scoped tables purged `how`.
pub(crate) fn workspace_ranges(
    account: AccountId,
    ws: WorkspaceId,
    how: Purge,
) -> impl Iterator<Item = (TableName, Vec<u8>)> {
    TABLES
        .iter()
        .filter(move |r| r.scope == Scope::Workspace(how))
        .map(move |r| r.table.range_of(&(account, ws)))
}

/// Deletes every row of workspace `ws` in the workspace-scoped tables purged inline (the
/// workspace record, its memberships, models, key index and configuration). Rows elsewhere
/// that point at the workspace (keys, the slug index, provider uses) are removed by their
/// owning modules first; usage by `usage::delete_all`.
pub(crate) fn purge_workspace(
    txn: &mut dyn WriteTxn,
    account: AccountId,
    ws: WorkspaceId,
) -> Result<()> {
    for range in workspace_ranges(account, ws, Purge::Inline) {
        delete_prefix_limit(txn, &range, usize::MAX)?;
    }
    Ok(())
}

/// Rows of account `account` in workspace-scoped tables whose workspace is neither in
/// `workspaces` nor (for tables purged in batches) in `purging`: one sentence per table.
pub(crate) fn orphans(
    txn: &dyn ReadTxn,
    account: AccountId,
    workspaces: &BTreeSet<WorkspaceId>,
    purging: &BTreeSet<WorkspaceId>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for r in TABLES {
        let Scope::Workspace(how) = r.scope else {
            continue;
        };
        let mut orphans = 0usize;
        let range = r.table.range_of(&(account,));
        for (key, _) in scan_raw_prefix(txn, &range, None, usize::MAX)? {
            let owner = r
                .table
                .leading::<(AccountId, WorkspaceId)>(&key)
                .map(|(_, w)| w);
            let owned = owner.is_some_and(|w| {
                workspaces.contains(&w) || (how == Purge::Deferred && purging.contains(&w))
            });
            if !owned {
                orphans += 1;
            }
        }
        if orphans > 0 {
            out.push(format!(
                "account {account}: {orphans} rows of table {} ({}, written by module {}) \
                 belong to no workspace",
                r.table.name, r.constant, r.owner
            ));
        }
    }
    Ok(out)
}

/// Every stored row whose value does not re-encode to the same bytes (decoded as its table's
/// value type, encoded in its table's format), one sentence each. Empty for a database this
/// build wrote: a stored record whose shape changed shows here.
#[cfg(any(test, feature = "testkit"))]
pub fn reencode_mismatches(txn: &dyn ReadTxn) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for r in TABLES {
        let range = r.table.range_of(&());
        for (_, value) in scan_raw_prefix(txn, &range, None, usize::MAX)? {
            let again = (r.reencode)(r.table, &value)?;
            if again != value {
                out.push(format!(
                    "{} ({}): a row re-encodes differently:\n  stored {}\n  again  {}",
                    r.constant,
                    r.table.name,
                    String::from_utf8_lossy(value.get(1..).unwrap_or_default()),
                    String::from_utf8_lossy(again.get(1..).unwrap_or_default()),
                ));
            }
        }
    }
    Ok(out)
}

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
        for (raw, row) in LEGACY_USAGE_ROLLUPS.scan_prefix(txn, &())? {
            let key = LEGACY_USAGE_ROLLUPS.key_of(&raw).ok_or_else(|| {
                Error::Corrupt(format!(
                    "table {}: a usage rollup key does not decode",
                    LEGACY_USAGE_ROLLUPS.name()
                ))
            })?;
            USAGE_ROLLUPS.put(txn, &key, &row)?;
        }
        LEGACY_USAGE_ROLLUPS.delete_prefix(txn, &())?;
    }
    // Version 5 gives every API key a number, unique and never reused in its account: older
    // keys are numbered in creation order (their ids are time-ordered).
    if from < 5 {
        for account in ACCOUNTS.values_with_prefix(txn, &())? {
            let mut last = KEY_COUNTERS.get(txn, &(account.id,))?.unwrap_or(0);
            for mut record in API_KEYS.values_with_prefix(txn, &(account.id,))? {
                if record.key.number != 0 {
                    continue;
                }
                last += 1;
                record.key.number = last;
                API_KEYS.put(txn, &(account.id, record.key.id), &record)?;
                KEY_NUMBERS.put(txn, &(account.id, last), &record.key.id)?;
            }
            KEY_COUNTERS.put(txn, &(account.id,), &last)?;
        }
    }
    // Version 6 also gives models an output (text or image) and image models a price per
    // image: stored models and catalog entries are rewritten with `output: text` (the catalog
    // sync that follows marks the catalog's image models).
    if from < 6 {
        for model in MODELS.values_with_prefix(txn, &())? {
            let m = &model.metadata;
            MODELS.put(txn, &(m.account_id, m.workspace_id, m.id), &model)?;
        }
        for (_, entry) in CATALOG.scan_prefix(txn, &())? {
            let key = (entry.model.provider.clone(), entry.model.family.clone());
            CATALOG.put(txn, &key, &entry)?;
        }
    }
    // Version 6 keeps each key's usage (all time, current day, week and month) beside the key:
    // computed here from the usage records that name a key (and still exist, retention
    // permitting).
    if from < 6 {
        KEY_USAGE.delete_prefix(txn, &())?;
        let mut rows: BTreeMap<(AccountId, KeyId), KeyUsageRow> = BTreeMap::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let chunk = USAGE.scan_prefix_after(txn, &(), after.as_deref(), 10_000)?;
            let Some((last, _)) = chunk.last() else {
                break;
            };
            after = Some(last.clone());
            for (raw, record) in chunk {
                let leading = USAGE.info().leading::<(AccountId, WorkspaceId)>(&raw);
                let (Some((account, _)), Some(key)) = (leading, record.api_key_id) else {
                    continue;
                };
                if API_KEYS.contains(txn, &(account, key))? {
                    rows.entry((account, key)).or_default().add(
                        crate::clock::millis(record.timestamp),
                        &Counters::of(&record),
                    );
                }
            }
        }
        for (key, row) in rows {
            KEY_USAGE.put(txn, &key, &row)?;
        }
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

    /// Every registered table is either audited or says why not, never both: a new table
    /// cannot be left out of the audit log without a decision.
    #[test]
    fn every_table_is_audited_or_explained() {
        for r in TABLES {
            let audited = AUDITED
                .iter()
                .any(|a| a.table.name == r.table.name && a.table.family == r.table.family);
            let explained = NOT_AUDITED.iter().any(|(c, _)| *c == r.constant);
            assert!(
                audited != explained,
                "{}: audited {audited}, explained {explained}; exactly one is required",
                r.constant
            );
        }
        for (c, _) in NOT_AUDITED {
            assert!(
                TABLES.iter().any(|r| r.constant == *c),
                "NOT_AUDITED names {c}, which is not a registered table"
            );
        }
    }

    #[test]
    fn no_storage_table_and_family_is_registered_twice() {
        let mut seen = BTreeSet::new();
        for r in TABLES {
            assert!(
                seen.insert((r.table.name, r.table.family)),
                "{} reuses storage table {} family {:?}",
                r.constant,
                r.table.name,
                r.table.family
            );
        }
        // A storage table is either one table or a set of families, never both.
        for r in TABLES.iter().filter(|r| r.table.family.is_none()) {
            let shared = TABLES
                .iter()
                .filter(|o| o.table.name == r.table.name)
                .count();
            assert_eq!(shared, 1, "{} shares its storage table", r.constant);
        }
    }

    /// Every `Table` constant of this file is in the registry (the legacy location of the
    /// rollups is read by the migration only).
    #[test]
    fn every_table_constant_is_registered() {
        let source = include_str!("schema.rs");
        let mut constants = Vec::new();
        for line in source.lines() {
            let Some(rest) = line.trim_start().strip_prefix("pub(crate) const ") else {
                continue;
            };
            if let Some((name, ty)) = rest.split_once(':')
                && ty.trim_start().starts_with("Table<")
            {
                constants.push(name.trim());
            }
        }
        assert!(constants.len() > 20, "{constants:?}");
        for c in constants {
            assert!(
                TABLES.iter().any(|r| r.constant == c),
                "table {c} is not in the registry (schema::TABLES)"
            );
        }
    }

    #[test]
    fn orphans_are_found_in_every_workspace_scoped_table() {
        let store = MemoryStore::new();
        let (a, live, gone) = (
            AccountId::generate(1),
            WorkspaceId::generate(1),
            WorkspaceId::generate(2),
        );
        let mut txn = store.begin_write().unwrap();
        for r in TABLES
            .iter()
            .filter(|r| matches!(r.scope, Scope::Workspace(_)))
        {
            for ws in [live, gone] {
                let (table, mut key) = r.table.range_of(&(a, ws));
                key.push(7);
                txn.put(table, &key, b"x").unwrap();
            }
        }
        let workspaces = BTreeSet::from([live]);
        let found = orphans(&*txn, a, &workspaces, &BTreeSet::new()).unwrap();
        let scoped = TABLES
            .iter()
            .filter(|r| matches!(r.scope, Scope::Workspace(_)))
            .count();
        assert_eq!(found.len(), scoped, "{found:?}");
        assert!(found[0].contains("1 rows of table"), "{found:?}");
        // A workspace being purged in batches owns its usage rows, not its other rows.
        let found = orphans(&*txn, a, &workspaces, &BTreeSet::from([gone])).unwrap();
        let inline = TABLES
            .iter()
            .filter(|r| r.scope == Scope::Workspace(Purge::Inline))
            .count();
        assert_eq!(found.len(), inline, "{found:?}");
        // Purging removes exactly the inline tables' rows of that workspace.
        purge_workspace(&mut *txn, a, gone).unwrap();
        let found = orphans(&*txn, a, &workspaces, &BTreeSet::from([gone])).unwrap();
        assert!(found.is_empty(), "{found:?}");
        txn.abort().unwrap();
    }

    #[test]
    fn a_row_in_another_shape_than_its_record_is_reported() {
        let store = MemoryStore::new();
        let mut txn = store.begin_write().unwrap();
        META.put(&mut *txn, META_SCHEMA_VERSION, &Json::from(4))
            .unwrap();
        assert!(reencode_mismatches(&*txn).unwrap().is_empty());
        // The same value, spelled with a space: decodes fine, re-encodes differently.
        let key = META.key_bytes(META_SCHEMA_VERSION);
        txn.put(META.name(), &key, b"\x01 4").unwrap();
        let found = reencode_mismatches(&*txn).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("META (meta)"), "{found:?}");
        txn.abort().unwrap();
    }

    #[test]
    fn every_owner_is_a_module_of_this_crate() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for r in TABLES {
            let file = src.join(format!("{}.rs", r.owner));
            let dir = src.join(r.owner).join("mod.rs");
            assert!(
                file.exists() || dir.exists(),
                "{}: owner module {} does not exist",
                r.constant,
                r.owner
            );
        }
    }

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
