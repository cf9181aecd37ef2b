//! Workspace routes (seeds 000-002): list, create, get, update, delete, and workspace
//! membership (list, bulk add, bulk remove), in the SDKs' shapes.

use std::collections::BTreeMap;

use aide::axum::ApiRouter;
use aide::axum::routing::{get_with, post_with};
use axum::extract::State;
use chrono::{DateTime, Utc};
use modelgates::{
    BulkAdded, BulkRemoved, Caller, Error, ModelGates, NewWorkspace, Page, Paged, Patch,
    ProviderSort, Workspace, WorkspaceFilter, WorkspaceId, WorkspaceMember, WorkspacePatch,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::App;
use crate::error::ApiError;
use crate::extract::{Body, Id, Me, Once, Params, Query};
use crate::reply::{Created, Data, Deleted, MaybeReplayed, Reply};

pub(crate) fn routes() -> ApiRouter<App> {
    ApiRouter::new()
        .api_route(
            "/workspaces",
            get_with(list, |o| {
                o.id("listWorkspaces")
                    .summary("List workspaces (seeds 000-002)")
            })
            .post_with(create, |o| {
                o.id("createWorkspace")
                    .summary("Create a workspace (seeds 000-002)")
            }),
        )
        .api_route(
            "/workspaces/{id}",
            get_with(get_one, |o| o.id("getWorkspace").summary("Get a workspace"))
                .patch_with(update, |o| {
                    o.id("updateWorkspace")
                        .summary("Update a workspace; absent fields are kept, null clears")
                })
                .put_with(replace, |o| {
                    o.id("replaceWorkspace").summary(
                        "Seed 004's Update Workspace: set the slug and, with config, replace \
                         custom instructions and mux rules in one transaction",
                    )
                })
                .delete_with(delete, |o| {
                    o.id("deleteWorkspace")
                        .summary("Delete a workspace (never the default one)")
                }),
        )
}

/// Workspace membership (the `members` toolset, as in MCP).
pub(crate) fn member_routes() -> ApiRouter<App> {
    ApiRouter::new()
        .api_route(
            "/workspaces/{id}/members",
            get_with(members_list, |o| {
                o.id("listWorkspaceMembers")
                    .summary("List a workspace's members")
            }),
        )
        .api_route(
            "/workspaces/{id}/members/add",
            post_with(members_add, |o| {
                o.id("addWorkspaceMembers")
                    .summary("Add organization members to a workspace")
            }),
        )
        .api_route(
            "/workspaces/{id}/members/remove",
            post_with(members_remove, |o| {
                o.id("removeWorkspaceMembers")
                    .summary("Remove members from a workspace")
            }),
        )
}

/// A workspace as the seed SDKs read it: every key present, `null` when unset. ModelGates'
/// own fields (`labels`, `is_active`, `archived_at`, `revision`, `usage_retention_days`) come
/// after; the SDKs ignore keys they do not know.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Workspace")]
pub(crate) struct WorkspaceBody {
    id: WorkspaceId,
    name: String,
    slug: String,
    description: Option<String>,
    default_text_model: Option<String>,
    default_image_model: Option<String>,
    default_provider_sort: Option<ProviderSort>,
    /// The workspace's default guardrail, named deterministically from the workspace id as
    /// the SDKs require (`default-guardrail-<workspace id>`). ModelGates has no guardrail rules
    /// yet, so this guardrail is always the empty one.
    default_guardrail_id: String,
    /// The keys whose I/O is logged, by key number; `null` = all keys.
    io_logging_api_key_ids: Option<Vec<u64>>,
    io_logging_sampling_rate: f64,
    is_data_discount_logging_enabled: bool,
    is_observability_broadcast_enabled: bool,
    is_observability_io_logging_enabled: bool,
    /// ModelGates has no server tools to disable: always `null`.
    disabled_server_tools: Option<Vec<String>>,
    /// ModelGates keeps no BYOK budgets: always `false`.
    include_byok_in_budgets: bool,
    created_by: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: Option<DateTime<Utc>>,
    labels: BTreeMap<String, String>,
    is_active: bool,
    archived_at: Option<DateTime<Utc>>,
    revision: u64,
    usage_retention_days: Option<u32>,
}

impl WorkspaceBody {
    fn of(gates: &ModelGates, caller: &Caller, w: Workspace) -> modelgates::Result<Self> {
        let io_logging_api_key_ids = match &w.io_logging_api_key_ids {
            Some(ids) => Some(gates.key_numbers(caller, ids)?),
            None => None,
        };
        Ok(Self {
            id: w.id,
            name: w.name,
            slug: w.slug,
            description: w.description,
            default_text_model: w.default_text_model,
            default_image_model: w.default_image_model,
            default_provider_sort: w.default_provider_sort,
            default_guardrail_id: format!("default-guardrail-{}", w.id),
            io_logging_api_key_ids,
            io_logging_sampling_rate: w.io_logging_sampling_rate,
            is_data_discount_logging_enabled: w.is_data_discount_logging_enabled,
            is_observability_broadcast_enabled: w.is_observability_broadcast_enabled,
            is_observability_io_logging_enabled: w.is_observability_io_logging_enabled,
            disabled_server_tools: None,
            include_byok_in_budgets: false,
            created_by: w.created_by.map(|u| u.to_string()),
            created_at: w.created_at,
            updated_at: w.updated_at,
            labels: w.labels,
            is_active: w.is_active,
            archived_at: w.archived_at,
            revision: w.revision,
            usage_retention_days: w.usage_retention_days,
        })
    }
}

/// `offset` / `limit` of a list (defaults 0 / 50; `limit` outside 1..100 is a 400).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    /// How many to skip (default 0).
    #[schemars(range(min = 0))]
    offset: Option<i64>,
    /// How many to answer, 1 to 100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    limit: Option<i64>,
}

impl PageQuery {
    pub(crate) fn page(&self) -> Result<Page, ApiError> {
        Ok(Page::new(self.offset, self.limit)?)
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WorkspaceListQuery {
    /// How many to skip (default 0).
    #[schemars(range(min = 0))]
    offset: Option<i64>,
    /// How many to answer, 1 to 100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    limit: Option<i64>,
    /// Include archived workspaces (default false).
    include_archived: Option<bool>,
    /// Only workspaces whose mux rules use this provider endpoint (name or id): seed 004's
    /// filter.
    provider_name: Option<String>,
}

async fn list(
    State(app): State<App>,
    Me(me): Me,
    Query(q): Query<WorkspaceListQuery>,
) -> Result<Reply<Paged<WorkspaceBody>>, ApiError> {
    let page = Page::new(q.offset, q.limit)?;
    let filter = WorkspaceFilter {
        include_archived: q.include_archived.unwrap_or(false),
        provider: q.provider_name,
    };
    let gates = &app.gates;
    let listed = gates.workspace_list_filtered(&me, &filter, page)?;
    let data = listed
        .data
        .into_iter()
        .map(|w| WorkspaceBody::of(gates, &me, w))
        .collect::<modelgates::Result<Vec<_>>>()?;
    Ok(Reply(Paged {
        data,
        total_count: listed.total_count,
    }))
}

/// The body of `POST /workspaces`: the seeds' fields plus ModelGates' own.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WorkspaceCreate {
    name: String,
    slug: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    default_text_model: Option<String>,
    #[serde(default)]
    default_image_model: Option<String>,
    #[serde(default)]
    default_provider_sort: Option<ProviderSort>,
    /// Must be null: ModelGates has no guardrails.
    #[serde(default)]
    default_guardrail_id: Option<String>,
    /// Must be null or empty: ModelGates has no server tools.
    #[serde(default)]
    disabled_server_tools: Option<Vec<String>>,
    #[serde(default)]
    io_logging_api_key_ids: Option<Vec<u64>>,
    #[serde(default)]
    io_logging_sampling_rate: Option<f64>,
    #[serde(default)]
    is_data_discount_logging_enabled: Option<bool>,
    #[serde(default)]
    is_observability_broadcast_enabled: Option<bool>,
    #[serde(default)]
    is_observability_io_logging_enabled: Option<bool>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    usage_retention_days: Option<u32>,
}

fn no_guardrails(id: Option<&String>) -> Result<(), ApiError> {
    match id {
        None => Ok(()),
        Some(_) => Err(Error::invalid(
            "default_guardrail_id",
            "ModelGates has no guardrails; leave default_guardrail_id out or null",
        )
        .into()),
    }
}

fn no_server_tools(tools: Option<&Vec<String>>) -> Result<(), ApiError> {
    match tools {
        Some(t) if !t.is_empty() => Err(Error::invalid(
            "disabled_server_tools",
            "ModelGates has no server tools to disable; leave disabled_server_tools out, null \
             or empty",
        )
        .into()),
        _ => Ok(()),
    }
}

fn numbers(ids: Vec<u64>) -> Vec<String> {
    ids.into_iter().map(|n| n.to_string()).collect()
}

async fn create(
    State(app): State<App>,
    Me(me): Me,
    once: Once,
    Body(b): Body<WorkspaceCreate>,
) -> Result<MaybeReplayed<Created<Data<WorkspaceBody>>>, ApiError> {
    let me = once.caller(me);
    let asked = me.clone();
    no_guardrails(b.default_guardrail_id.as_ref())?;
    no_server_tools(b.disabled_server_tools.as_ref())?;
    let new = NewWorkspace {
        name: b.name,
        slug: b.slug,
        description: b.description,
        default_text_model: b.default_text_model,
        default_image_model: b.default_image_model,
        default_provider_sort: b.default_provider_sort,
        io_logging_api_key_ids: b.io_logging_api_key_ids.map(numbers),
        io_logging_sampling_rate: b.io_logging_sampling_rate,
        is_data_discount_logging_enabled: b.is_data_discount_logging_enabled,
        is_observability_broadcast_enabled: b.is_observability_broadcast_enabled,
        is_observability_io_logging_enabled: b.is_observability_io_logging_enabled,
        labels: b.labels,
        usage_retention_days: b.usage_retention_days,
        ..Default::default()
    };
    let data = app
        .write(me, move |g, c| {
            let w = g.workspace_create(c, new)?;
            WorkspaceBody::of(g, c, w)
        })
        .await?;
    Ok(MaybeReplayed::of(&asked, Data::created(data)))
}

async fn get_one(
    State(app): State<App>,
    Me(me): Me,
    Params(id): Id,
) -> Result<Reply<Data<WorkspaceBody>>, ApiError> {
    let w = app.gates.workspace_get(&me, &id)?;
    let data = WorkspaceBody::of(&app.gates, &me, w)?;
    Ok(Data::reply(data))
}

/// Deserializes a present field as `Some(value or null)`, so absent and `null` differ.
pub(crate) fn present<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WorkspaceUpdate {
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    slug: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    default_text_model: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    default_image_model: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    default_provider_sort: Option<Option<ProviderSort>>,
    #[serde(default, deserialize_with = "present")]
    default_guardrail_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    disabled_server_tools: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    io_logging_api_key_ids: Option<Option<Vec<u64>>>,
    #[serde(default, deserialize_with = "present")]
    io_logging_sampling_rate: Option<Option<f64>>,
    #[serde(default, deserialize_with = "present")]
    is_data_discount_logging_enabled: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    is_observability_broadcast_enabled: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    is_observability_io_logging_enabled: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    labels: Option<Option<BTreeMap<String, String>>>,
    #[serde(default, deserialize_with = "present")]
    usage_retention_days: Option<Option<u32>>,
    /// Update only if the workspace is still at this revision (optimistic concurrency).
    #[serde(default)]
    expected_revision: Option<u64>,
}

async fn update(
    State(app): State<App>,
    Me(me): Me,
    Params(id): Id,
    Body(b): Body<WorkspaceUpdate>,
) -> Result<Reply<Data<WorkspaceBody>>, ApiError> {
    no_guardrails(b.default_guardrail_id.as_ref().and_then(Option::as_ref))?;
    no_server_tools(b.disabled_server_tools.as_ref().and_then(Option::as_ref))?;
    let p = WorkspacePatch {
        expected_revision: b.expected_revision,
        name: Patch::from(b.name),
        slug: Patch::from(b.slug),
        description: Patch::from(b.description),
        default_text_model: Patch::from(b.default_text_model),
        default_image_model: Patch::from(b.default_image_model),
        default_provider_sort: Patch::from(b.default_provider_sort),
        io_logging_api_key_ids: Patch::from(b.io_logging_api_key_ids.map(|v| v.map(numbers))),
        io_logging_sampling_rate: Patch::from(b.io_logging_sampling_rate),
        is_data_discount_logging_enabled: Patch::from(b.is_data_discount_logging_enabled),
        is_observability_broadcast_enabled: Patch::from(b.is_observability_broadcast_enabled),
        is_observability_io_logging_enabled: Patch::from(b.is_observability_io_logging_enabled),
        labels: Patch::from(b.labels),
        usage_retention_days: Patch::from(b.usage_retention_days),
        ..Default::default()
    };
    let data = app
        .write(me, move |g, c| {
            let w = g.workspace_update(c, &id, p)?;
            WorkspaceBody::of(g, c, w)
        })
        .await?;
    Ok(Data::reply(data))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WorkspaceDeleteQuery {
    /// Sent by SDK 1.3.84 when deleting the default workspace; the default workspace is never
    /// deleted, confirmed or not.
    #[allow(dead_code)]
    confirm_default_workspace_deletion: Option<bool>,
}

async fn delete(
    State(app): State<App>,
    Me(me): Me,
    Params(id): Id,
    Query(_): Query<WorkspaceDeleteQuery>,
) -> Result<Reply<Deleted>, ApiError> {
    app.write(me, move |g, c| g.workspace_delete(c, &id))
        .await?;
    Ok(Deleted::reply())
}

async fn members_list(
    State(app): State<App>,
    Me(me): Me,
    Params(id): Id,
    Query(q): Query<PageQuery>,
) -> Result<Reply<Paged<WorkspaceMember>>, ApiError> {
    let listed = app.gates.workspace_members_list(&me, &id, q.page()?)?;
    Ok(Reply(listed))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UserIds {
    user_ids: Vec<String>,
}

async fn members_add(
    State(app): State<App>,
    Me(me): Me,
    Params(id): Id,
    Body(b): Body<UserIds>,
) -> Result<Reply<BulkAdded>, ApiError> {
    let added = app
        .write(me, move |g, c| g.workspace_members_add(c, &id, &b.user_ids))
        .await?;
    // `BulkAdded` is the SDKs' `{added_count, data}`.
    Ok(Reply(added))
}

async fn members_remove(
    State(app): State<App>,
    Me(me): Me,
    Params(id): Id,
    Body(b): Body<UserIds>,
) -> Result<Reply<BulkRemoved>, ApiError> {
    let removed = app
        .write(me, move |g, c| {
            g.workspace_members_remove(c, &id, &b.user_ids)
        })
        .await?;
    // `BulkRemoved` is the SDKs' `{removed_count}`.
    Ok(Reply(removed))
}

/// Seed 004's `FullWorkspace`: CodeGate's name (ModelGates' slug) and configuration.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FullWorkspace {
    name: String,
    #[serde(default)]
    config: Option<FullConfig>,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FullConfig {
    /// `""` clears the instructions.
    custom_instructions: String,
    muxing_rules: Vec<crate::routing::MuxRuleBody>,
}

/// `PUT /workspaces/{id}` (seed 004's Update Workspace): renames the workspace's slug to `name`
/// and, with `config`, replaces its custom instructions and mux rules, in one transaction.
/// Answers the seed's `FullWorkspace`.
async fn replace(
    State(app): State<App>,
    Me(me): Me,
    Params(id): Id,
    Body(b): Body<FullWorkspace>,
) -> Result<Reply<FullWorkspace>, ApiError> {
    let mut p = WorkspacePatch {
        slug: Patch::Set(b.name),
        ..Default::default()
    };
    if let Some(config) = b.config {
        p.custom_instructions = if config.custom_instructions.is_empty() {
            Patch::Clear
        } else {
            Patch::Set(config.custom_instructions)
        };
        p.mux_rules = Some(
            config
                .muxing_rules
                .into_iter()
                .map(crate::routing::MuxRuleBody::into_new)
                .collect(),
        );
    }
    let body = app
        .write(me, move |g, c| {
            let w = g.workspace_update(c, &id, p)?;
            let slug = w.slug.clone();
            let instructions = g.workspace_instructions_get(c, Some(&slug))?;
            let rules = g.workspace_mux_get(c, Some(&slug))?;
            Ok(FullWorkspace {
                name: slug,
                config: Some(FullConfig {
                    custom_instructions: instructions.custom_instructions.unwrap_or_default(),
                    muxing_rules: rules
                        .rules
                        .into_iter()
                        .map(crate::routing::MuxRuleBody::from)
                        .collect(),
                }),
            })
        })
        .await?;
    Ok(Reply(body))
}
