//! The audit log's records: one event per committed change of configuration, who made it,
//! through which front end, and what changed field by field (secrets only as "changed").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::ids::{AuditId, KeyId, UserId};

/// The front end an operation came through.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Frontend {
    /// A Rust program calling the library.
    #[default]
    Library,
    /// The `modelgates` command line (`keys create`, `plan`/`apply`).
    Cli,
    /// The MCP server (stdio or HTTP).
    Mcp,
    /// The REST API.
    Rest,
    /// ModelGates itself (account bootstrap, catalog sync, retention).
    System,
}

impl Frontend {
    /// The lowercase name (`rest`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Library => "library",
            Self::Cli => "cli",
            Self::Mcp => "mcp",
            Self::Rest => "rest",
            Self::System => "system",
        }
    }
}

/// Who made a change.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditActor {
    /// The user acting (`None` for ModelGates itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// The management key the request presented, if it came with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<KeyId>,
    /// The front end.
    pub via: Frontend,
}

/// One field's change. Secret fields (provider API keys, key hashes) carry no values, only
/// `secret: true`.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The value before (absent when the resource was created or the field was unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schemars", schemars(schema_with = "any_value"))]
    pub before: Option<serde_json::Value>,
    /// The value after (absent when the resource was deleted or the field unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schemars", schemars(schema_with = "any_value"))]
    pub after: Option<serde_json::Value>,
    /// A secret that changed: its values are never recorded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

/// What happened to a resource.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditAction {
    /// It did not exist before.
    Created,
    /// Some of its fields changed.
    Updated,
    /// It no longer exists.
    Deleted,
}

/// One resource an operation changed.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditChange {
    /// The kind of resource (`workspace`, `api_key`, `provider`, `workspace_config`, …).
    pub kind: String,
    /// Its id.
    pub id: String,
    /// Created, updated or deleted.
    pub action: AuditAction,
    /// The fields that changed, by name (`name`; nested records as `key.disabled`).
    pub fields: BTreeMap<String, FieldChange>,
}

/// One audit event: a committed, successful change.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Time-ordered id (`aud_…`).
    pub id: AuditId,
    /// When the change committed (the operation's time).
    pub at: DateTime<Utc>,
    /// The operation (`workspace_create`; the MCP tool's name).
    pub operation: String,
    /// Who made it.
    pub actor: AuditActor,
    /// The resource the operation was about (its first change of the operation's kind).
    pub target: AuditTarget,
    /// The resources it changed (the first 100).
    pub changes: Vec<AuditChange>,
    /// How many more resources it changed than `changes` lists (a workspace deletion removes
    /// its members, models and keys' indexes with it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_changes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The resource an event is about.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditTarget {
    /// The kind of resource.
    pub kind: String,
    /// Its id.
    pub id: String,
}

/// Filters of `ModelGates::audit_list`; all optional, all must hold.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only events that changed a resource of this kind.
    pub resource_kind: Option<String>,
    /// Only events that changed the resource with this id.
    pub resource_id: Option<String>,
    /// Only events by this user id or management key id.
    pub actor: Option<String>,
    /// Only this operation.
    pub operation: Option<String>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub until: Option<DateTime<Utc>>,
    /// Continue after this event (the previous page's `next_after`).
    pub after: Option<AuditId>,
    /// Events per page (1-100, default 50).
    pub limit: Option<u32>,
}

/// One page of the audit log, newest first.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    /// The events.
    pub data: Vec<AuditEvent>,
    /// Pass as `after` for the next page; absent when the log holds no more matching events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<AuditId>,
}

/// The schema of a field's value: any JSON value but null (an unset value is left out).
#[cfg(feature = "schemars")]
fn any_value(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "anyOf": [
            {"type": "string"},
            {"type": "number"},
            {"type": "boolean"},
            {"type": "object"},
            {"type": "array"}
        ],
        "description": "The field's value, as the resource's JSON has it."
    })
}
