//! The audit trail of one write transaction: the audited rows it wrote, as they were before
//! its first write to each, turned into audit events (field-level changes, secrets as
//! "changed" only) just before it commits. Operations never build events themselves, so none
//! can forget one or leak a secret into one.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::codec::decode_value;
use crate::error::Result;
use crate::ids::{AccountId, AuditId};
use crate::record::audit::{
    AuditAction, AuditActor, AuditChange, AuditEvent, AuditTarget, FieldChange,
};
use crate::schema::{Audited, MODEL_OVERRIDES, WORKSPACE_CONFIG, audited_row, row_account};
use crate::storage::{ReadTxn, StorageResult, TableName};

/// Changes one event lists at most; the rest are counted (`omitted_changes`).
const CHANGES_MAX: usize = 100;

/// Fields left out of a change: every update moves them, so they would only repeat it.
const NOISE: &[&str] = &["updated_at", "revision"];

/// Fields left out of a creation or deletion: when and by whom the resource was created (the
/// creation's event says it; a deletion's does not need it).
const CREATION: &[&str] = &[
    "created_at",
    "createdAt",
    "created_by",
    "profileId",
    "accountId",
];

/// A written row: its storage table and key.
type Row = (TableName, Vec<u8>);

/// What a transaction wrote to audited tables: each row's value before its first write.
#[derive(Default)]
pub(crate) struct Trail {
    before: BTreeMap<Row, (&'static Audited, Option<Vec<u8>>)>,
}

impl Trail {
    /// Notes `key` of `table` before the transaction writes it (its first write only).
    pub(crate) fn before_write(
        &mut self,
        txn: &dyn ReadTxn,
        table: TableName,
        key: &[u8],
    ) -> StorageResult<()> {
        let Some(audited) = audited_row(table, key) else {
            return Ok(());
        };
        if let Entry::Vacant(e) = self.before.entry((table, key.to_vec())) {
            e.insert((audited, txn.get(table, key)?));
        }
        Ok(())
    }

    /// The transaction's audit events, one per account whose audited rows changed (normally
    /// one), read inside it (`txn`) before it commits.
    pub(crate) fn events(
        &self,
        txn: &dyn ReadTxn,
        at: DateTime<Utc>,
        operation: &str,
        actor: &AuditActor,
    ) -> Result<Vec<(AccountId, AuditEvent)>> {
        let mut by_account: BTreeMap<AccountId, Vec<AuditChange>> = BTreeMap::new();
        for ((table, key), (audited, before)) in &self.before {
            let after = txn.get(*table, key)?;
            if after == *before {
                continue;
            }
            let Some(account) = row_account(audited.table, key) else {
                continue;
            };
            let decode = |bytes: &Option<Vec<u8>>| -> Result<Option<Value>> {
                bytes
                    .as_deref()
                    .map(|b| decode_value::<Value>(*table, b))
                    .transpose()
            };
            if let Some(change) = change(audited, key, decode(before)?, decode(&after)?) {
                by_account.entry(account).or_default().push(change);
            }
        }
        let kind_of_operation = operation
            .rsplit_once('_')
            .map_or(operation, |(kind, _)| kind);
        let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        Ok(by_account
            .into_iter()
            .map(|(account, mut changes)| {
                // The target: the first change of the operation's own kind (`workspace_…` →
                // a workspace), else the first change.
                let primary = changes
                    .iter()
                    .find(|c| c.kind == kind_of_operation)
                    .unwrap_or(&changes[0]);
                let target = AuditTarget {
                    kind: primary.kind.clone(),
                    id: primary.id.clone(),
                };
                // A bounded event: what a workspace's deletion removed with it is listed up to
                // a point, then counted.
                let omitted_changes = changes.len().saturating_sub(CHANGES_MAX) as u64;
                changes.truncate(CHANGES_MAX);
                let event = AuditEvent {
                    id: AuditId::generate_at(millis),
                    at,
                    operation: operation.to_owned(),
                    actor: actor.clone(),
                    target,
                    changes,
                    omitted_changes,
                };
                (account, event)
            })
            .collect())
    }
}

/// The change of one row, or `None` if nothing but noise changed.
fn change(
    audited: &Audited,
    key: &[u8],
    before: Option<Value>,
    after: Option<Value>,
) -> Option<AuditChange> {
    let action = match (&before, &after) {
        (None, Some(_)) => AuditAction::Created,
        (Some(_), None) => AuditAction::Deleted,
        _ => AuditAction::Updated,
    };
    let id = resource_id(audited, key, after.as_ref().or(before.as_ref())?);
    let (mut old, mut new) = (BTreeMap::new(), BTreeMap::new());
    if let Some(v) = &before {
        flatten("", v, 0, &mut old);
    }
    if let Some(v) = &after {
        flatten("", v, 0, &mut new);
    }
    let mut fields = BTreeMap::new();
    let names: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for name in names {
        let leaf = name.rsplit('.').next().unwrap_or(name);
        if NOISE.contains(&leaf) {
            continue;
        }
        // What the change or the event says already: the resource's id, and on a creation or
        // a deletion its creation time and creator.
        let said = (leaf == "id"
            && old.get(name).or(new.get(name)).and_then(Value::as_str) == Some(&id))
            || (action != AuditAction::Updated && CREATION.contains(&leaf));
        if said {
            continue;
        }
        let (b, a) = (
            old.get(name).filter(|v| !v.is_null()),
            new.get(name).filter(|v| !v.is_null()),
        );
        if b == a {
            continue;
        }
        // A declared secret field, or any value the secret detector flags (defence in depth:
        // a secret in a field nobody declared is still not recorded).
        let looks_secret = |v: Option<&Value>| {
            v.is_some_and(|v| {
                let text = match v {
                    Value::String(t) => t.clone(),
                    // Arrays and deeper objects are recorded whole: scan all of their text.
                    other => other.to_string(),
                };
                crate::secrets::detect(&text).is_ok_and(|f| !f.is_empty())
            })
        };
        let field =
            if audited.secrets.contains(&name.as_str()) || looks_secret(b) || looks_secret(a) {
                FieldChange {
                    before: None,
                    after: None,
                    secret: true,
                }
            } else {
                FieldChange {
                    before: b.cloned(),
                    after: a.cloned(),
                    secret: false,
                }
            };
        fields.insert(name.clone(), field);
    }
    if fields.is_empty() && action == AuditAction::Updated {
        return None;
    }
    Some(AuditChange {
        kind: audited.kind.to_owned(),
        id,
        action,
        fields,
    })
}

/// Object fields as `a.b` leaves, two levels deep (records nest one: `provider.name`); arrays
/// and deeper objects are compared whole.
fn flatten(prefix: &str, value: &Value, depth: usize, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) if depth < 2 => {
            for (k, v) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, v, depth + 1, out);
            }
        }
        _ => {
            out.insert(prefix.to_owned(), value.clone());
        }
    }
}

/// The resource's id: its `id` field (or a nested record's, or `user_id` for members), else
/// what its key says (a workspace's configuration: the workspace; a catalog model's status:
/// `provider/family`).
fn resource_id(audited: &Audited, key: &[u8], value: &Value) -> String {
    let field = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
    if let Some(id) = field(value, "id") {
        return id;
    }
    if let Some(id) = value
        .as_object()
        .and_then(|m| m.values().find_map(|v| field(v, "id")))
    {
        return id;
    }
    if let Some(id) = field(value, "user_id") {
        return id;
    }
    if audited.table == WORKSPACE_CONFIG.info()
        && let Some((_, ws)) = WORKSPACE_CONFIG.key_of(key)
    {
        return ws.to_string();
    }
    if audited.table == MODEL_OVERRIDES.info()
        && let Some((_, _, provider, family)) = MODEL_OVERRIDES.key_of(key)
    {
        return format!("{provider}/{family}");
    }
    key.iter().map(|b| format!("{b:02x}")).collect()
}
