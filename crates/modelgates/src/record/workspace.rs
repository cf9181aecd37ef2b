//! Workspaces and workspace memberships: the stored record, what creating and changing one takes,
//! selectors and filters.

use crate::ids::{KeyId, MembershipId, UserId, WorkspaceId};
use crate::patch::Patch;
use crate::record::routing::NewMuxRule;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Default provider sort preference of a workspace.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderSort {
    /// Cheapest provider first.
    Price,
    /// Highest throughput first.
    Throughput,
    /// Lowest latency first.
    Latency,
    /// Exact-match providers first.
    Exacto,
}

/// A member's role inside a workspace, derived from their organization role.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceRole {
    /// Holds `org:admin` in the organization.
    Admin,
    /// Holds `org:member` in the organization.
    Member,
}

/// A workspace, with the fields of the seed SDKs plus `labels`.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    /// UUID (v7).
    pub id: WorkspaceId,
    /// Display name (1-100 chars).
    pub name: String,
    /// Unique slug in the account.
    pub slug: String,
    /// Description (≤ 500 chars).
    pub description: Option<String>,
    /// Default text model (`provider/model`).
    pub default_text_model: Option<String>,
    /// Default image model (`provider/model`).
    pub default_image_model: Option<String>,
    /// Default provider sort preference.
    pub default_provider_sort: Option<ProviderSort>,
    /// Keys whose I/O is logged; `None` = all keys.
    pub io_logging_api_key_ids: Option<Vec<KeyId>>,
    /// Share of requests whose I/O is logged, in [0.0001, 1].
    pub io_logging_sampling_rate: f64,
    /// Whether data discount logging is enabled.
    pub is_data_discount_logging_enabled: bool,
    /// Whether observability broadcast is enabled.
    pub is_observability_broadcast_enabled: bool,
    /// Whether private I/O logging is enabled.
    pub is_observability_io_logging_enabled: bool,
    /// Free-form labels.
    pub labels: BTreeMap<String, String>,
    /// Days raw usage records (and their messages) are kept; rollups stay. `None` = forever.
    #[serde(default)]
    pub usage_retention_days: Option<u32>,
    /// User id of the creator.
    pub created_by: Option<UserId>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last update time; `None` until the first update.
    pub updated_at: Option<DateTime<Utc>>,
    /// Incremented by every update; pass it back as `expected_revision` to update only if
    /// nobody changed the workspace since you read it.
    #[serde(default)]
    pub revision: u64,
    /// When the workspace was archived; archived workspaces keep their slug, are hidden from
    /// lists unless asked for, and cannot be activated or routed to.
    #[serde(default)]
    pub archived_at: Option<DateTime<Utc>>,
    /// Whether this is the account's active workspace (the one tools use when none is named).
    /// Computed when read (a stored value is ignored).
    #[serde(default, skip_deserializing)]
    pub is_active: bool,
}

/// The stored form of a workspace (table `WORKSPACES`): a [`Workspace`] without what is
/// computed on read. Operations work on this; reads return [`WorkspaceRecord::view`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WorkspaceRecord {
    /// UUID (v7).
    pub(crate) id: WorkspaceId,
    /// Display name (1-100 chars).
    pub(crate) name: String,
    /// Unique slug in the account.
    pub(crate) slug: String,
    /// Description (≤ 500 chars).
    pub(crate) description: Option<String>,
    /// Default text model (`provider/model`).
    pub(crate) default_text_model: Option<String>,
    /// Default image model (`provider/model`).
    pub(crate) default_image_model: Option<String>,
    /// Default provider sort preference.
    pub(crate) default_provider_sort: Option<ProviderSort>,
    /// Keys whose I/O is logged; `None` = all keys.
    pub(crate) io_logging_api_key_ids: Option<Vec<KeyId>>,
    /// Share of requests whose I/O is logged, in [0.0001, 1].
    pub(crate) io_logging_sampling_rate: f64,
    /// Whether data discount logging is enabled.
    pub(crate) is_data_discount_logging_enabled: bool,
    /// Whether observability broadcast is enabled.
    pub(crate) is_observability_broadcast_enabled: bool,
    /// Whether private I/O logging is enabled.
    pub(crate) is_observability_io_logging_enabled: bool,
    /// Free-form labels.
    pub(crate) labels: BTreeMap<String, String>,
    /// Days raw usage records (and their messages) are kept; rollups stay. `None` = forever.
    #[serde(default)]
    pub(crate) usage_retention_days: Option<u32>,
    /// User id of the creator.
    pub(crate) created_by: Option<UserId>,
    /// Creation time.
    pub(crate) created_at: DateTime<Utc>,
    /// Last update time; `None` until the first update.
    pub(crate) updated_at: Option<DateTime<Utc>>,
    /// Incremented by every update; pass it back as `expected_revision` to update only if
    /// nobody changed the workspace since you read it.
    #[serde(default)]
    pub(crate) revision: u64,
    /// When the workspace was archived; archived workspaces keep their slug, are hidden from
    /// lists unless asked for, and cannot be activated or routed to.
    #[serde(default)]
    pub(crate) archived_at: Option<DateTime<Utc>>,
    /// Schemas 1-4 stored the view, whose `is_active` was written as `false` and ignored on
    /// read; it is written the same way so stored bytes do not change (see the schema-4
    /// fixture test).
    #[serde(
        rename = "is_active",
        default,
        skip_deserializing,
        serialize_with = "write_false"
    )]
    pub(crate) legacy_is_active: (),
}

fn write_false<S: serde::Serializer>(_: &(), s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(false)
}

impl WorkspaceRecord {
    /// What reads return: this record, with `is_active` as the account says.
    pub(crate) fn view(self, is_active: bool) -> Workspace {
        Workspace {
            id: self.id,
            name: self.name,
            slug: self.slug,
            description: self.description,
            default_text_model: self.default_text_model,
            default_image_model: self.default_image_model,
            default_provider_sort: self.default_provider_sort,
            io_logging_api_key_ids: self.io_logging_api_key_ids,
            io_logging_sampling_rate: self.io_logging_sampling_rate,
            is_data_discount_logging_enabled: self.is_data_discount_logging_enabled,
            is_observability_broadcast_enabled: self.is_observability_broadcast_enabled,
            is_observability_io_logging_enabled: self.is_observability_io_logging_enabled,
            labels: self.labels,
            usage_retention_days: self.usage_retention_days,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
            revision: self.revision,
            archived_at: self.archived_at,
            is_active,
        }
    }
}

/// A user's membership in a workspace.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceMember {
    /// Membership id (`wsm_…`).
    pub id: MembershipId,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The member.
    pub user_id: UserId,
    /// Role, carried over from the organization role.
    pub role: WorkspaceRole,
    /// When the membership was created.
    pub created_at: DateTime<Utc>,
}

/// Input of `ModelGates::workspace_create`. Absent optional fields take the documented
/// defaults.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewWorkspace {
    /// Name (1-100 chars). Required.
    pub name: String,
    /// Slug (`^[a-z0-9]+(-[a-z0-9]+)*$`, 1-50 chars), unique in the account. Required.
    pub slug: String,
    /// Description (≤ 500 chars).
    pub description: Option<String>,
    /// Default text model (`provider/model`).
    pub default_text_model: Option<String>,
    /// Default image model (`provider/model`).
    pub default_image_model: Option<String>,
    /// Default provider sort.
    pub default_provider_sort: Option<ProviderSort>,
    /// Keys whose I/O is logged (key ids of this workspace); `None` = all.
    pub io_logging_api_key_ids: Option<Vec<String>>,
    /// Sampling rate in [0.0001, 1]; default 1.
    pub io_logging_sampling_rate: Option<f64>,
    /// Default true.
    pub is_data_discount_logging_enabled: Option<bool>,
    /// Default false.
    pub is_observability_broadcast_enabled: Option<bool>,
    /// Default false.
    pub is_observability_io_logging_enabled: Option<bool>,
    /// Labels.
    pub labels: Option<BTreeMap<String, String>>,
    /// Custom instructions (≤ 64 KiB), the seed's `config.custom_instructions`.
    pub custom_instructions: Option<String>,
    /// Mux rules, validated like `ModelGates::workspace_mux_set` (the seed's
    /// `config.muxing_rules`).
    pub mux_rules: Option<Vec<NewMuxRule>>,
    /// Days raw usage records are kept (1-3650); default forever.
    pub usage_retention_days: Option<u32>,
}

/// Input of `ModelGates::workspace_update`: every field is keep / clear / set. `name` and
/// `slug` cannot be cleared; clearing a flag or the sampling rate resets it to its default.
#[derive(Debug, Clone, Default)]
pub struct WorkspacePatch {
    /// Update only if the workspace's `revision` is still this (optimistic concurrency: two
    /// agents editing the same workspace cannot silently overwrite each other).
    pub expected_revision: Option<u64>,
    /// New name.
    pub name: Patch<String>,
    /// New slug.
    pub slug: Patch<String>,
    /// Description.
    pub description: Patch<String>,
    /// Default text model.
    pub default_text_model: Patch<String>,
    /// Default image model.
    pub default_image_model: Patch<String>,
    /// Default provider sort.
    pub default_provider_sort: Patch<ProviderSort>,
    /// Keys whose I/O is logged; clear = all keys.
    pub io_logging_api_key_ids: Patch<Vec<String>>,
    /// Sampling rate; clear = 1.
    pub io_logging_sampling_rate: Patch<f64>,
    /// Clear = true.
    pub is_data_discount_logging_enabled: Patch<bool>,
    /// Clear = false.
    pub is_observability_broadcast_enabled: Patch<bool>,
    /// Clear = false.
    pub is_observability_io_logging_enabled: Patch<bool>,
    /// Labels (replaces the whole map); clear = no labels.
    pub labels: Patch<BTreeMap<String, String>>,
    /// Custom instructions; clear = none.
    pub custom_instructions: Patch<String>,
    /// Replaces the whole mux rule list (validated like `workspace_mux_set`).
    pub mux_rules: Option<Vec<NewMuxRule>>,
    /// Days raw usage records are kept; clear = forever.
    pub usage_retention_days: Patch<u32>,
}

/// Which workspace an operation addresses: a UUID or slug, or (`None`) the account's active
/// workspace. Built from `&str`, `&String` or `Option<&str>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkspaceSel<'a>(pub Option<&'a str>);

impl<'a> From<&'a str> for WorkspaceSel<'a> {
    fn from(id_or_slug: &'a str) -> Self {
        Self(Some(id_or_slug))
    }
}

impl<'a> From<&'a String> for WorkspaceSel<'a> {
    fn from(id_or_slug: &'a String) -> Self {
        Self(Some(id_or_slug))
    }
}

impl<'a> From<Option<&'a str>> for WorkspaceSel<'a> {
    fn from(id_or_slug: Option<&'a str>) -> Self {
        Self(id_or_slug)
    }
}

/// Filters of `ModelGates::workspace_list_filtered`.
#[derive(Debug, Clone, Default)]
pub struct WorkspaceFilter {
    /// Only workspaces whose mux rules use this provider (name or id).
    pub provider: Option<String>,
    /// Include archived workspaces (hidden by default).
    pub include_archived: bool,
}

/// Result of `ModelGates::workspace_members_add`.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkAdded {
    /// Memberships created or whose role was updated.
    pub added_count: u64,
    /// The memberships of every requested user, after the call.
    pub data: Vec<WorkspaceMember>,
}

/// Result of `ModelGates::workspace_members_remove`.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkRemoved {
    /// Memberships removed (users who were not members are not counted).
    pub removed_count: u64,
}
