//! Workspace tools: list, create, get, update, delete, and the lifecycle (activate, archive,
//! restore). Parameter structs, their conversions, the tool router and the argument decoders of the
//! toolset live here.

use std::collections::BTreeMap;

use modelgates::*;
use rmcp::RoleServer;
use rmcp::service::RequestContext;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::*;
use crate::args::{Parameters, double_option};
use crate::error::ToolError;
use crate::server::{McpServer, page};

/// Addresses one workspace.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceIdParams {
    /// The workspace ID (UUID) or slug, e.g. "production".
    pub id: String,
}

/// Parameters of workspace_create.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceCreateParams {
    /// Name for the new workspace, 1-100 characters.
    pub name: String,
    /// URL-friendly slug, unique in the account: lowercase alphanumeric segments separated by
    /// single hyphens, no leading/trailing hyphens, 1-50 characters (e.g. "production").
    pub slug: String,
    /// Description, at most 500 characters.
    pub description: Option<String>,
    /// Default text model as "provider/model", e.g. "openai/gpt-4o".
    pub default_text_model: Option<String>,
    /// Default image model as "provider/model", e.g. "google/gemini-2.5-flash-image".
    pub default_image_model: Option<String>,
    /// Default provider sort preference.
    pub default_provider_sort: Option<ProviderSort>,
    /// Omit (all keys' I/O is logged) or `[]`: a new workspace has no keys yet, so any id is
    /// refused; choose keys with workspace_update once they exist.
    pub io_logging_api_key_ids: Option<Vec<String>>,
    /// Sampling rate for I/O logging, 0.0001-1 (default 1 = every request).
    pub io_logging_sampling_rate: Option<f64>,
    /// Whether data discount logging is enabled (default true).
    pub is_data_discount_logging_enabled: Option<bool>,
    /// Whether observability broadcast is enabled (default false).
    pub is_observability_broadcast_enabled: Option<bool>,
    /// Whether private I/O logging is enabled (default false).
    pub is_observability_io_logging_enabled: Option<bool>,
    /// Labels: at most 64; keys like "team" or "cost-center" (lowercase, 1-63 chars), values ≤ 256 chars.
    pub labels: Option<BTreeMap<String, String>>,
    /// Custom instructions (system prompt text, ≤ 64 KiB).
    pub custom_instructions: Option<String>,
    /// Mux rules in priority order (validated like workspace_mux_set).
    pub mux_rules: Option<Vec<MuxRuleParams>>,
    /// Days raw usage records and messages are kept (1-3650); rollups stay. Default forever.
    pub usage_retention_days: Option<u32>,
    /// Idempotency key (1-255 visible ASCII characters; a UUID is a good one): a retry with the
    /// same key and arguments within 24 hours returns the first result instead of creating
    /// again; the same key with other arguments is a conflict.
    pub idempotency_key: Option<String>,
}

/// Parameters of workspace_update. Omitted fields keep their value; null clears a field (name
/// and slug cannot be null; null resets a flag or the sampling rate to its default).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceUpdateParams {
    /// The workspace ID (UUID) or slug.
    pub id: String,
    /// Update only if the workspace's `revision` is still this value (from your last read);
    /// otherwise fail with conflict and change nothing. Omit to update unconditionally.
    pub expected_revision: Option<u64>,
    /// New name, 1-100 characters.
    #[serde(default, deserialize_with = "double_option")]
    pub name: Option<Option<String>>,
    /// New slug (same rules as on create); must be free in the account.
    #[serde(default, deserialize_with = "double_option")]
    pub slug: Option<Option<String>>,
    /// New description (≤ 500 chars); null clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub description: Option<Option<String>>,
    /// Default text model "provider/model"; null clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub default_text_model: Option<Option<String>>,
    /// Default image model "provider/model"; null clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub default_image_model: Option<Option<String>>,
    /// Default provider sort; null clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub default_provider_sort: Option<Option<ProviderSort>>,
    /// API key ids of this workspace whose I/O is logged; null = all keys.
    #[serde(default, deserialize_with = "double_option")]
    pub io_logging_api_key_ids: Option<Option<Vec<String>>>,
    /// Sampling rate 0.0001-1; null resets to 1.
    #[serde(default, deserialize_with = "double_option")]
    pub io_logging_sampling_rate: Option<Option<f64>>,
    /// Data discount logging; null resets to true.
    #[serde(default, deserialize_with = "double_option")]
    pub is_data_discount_logging_enabled: Option<Option<bool>>,
    /// Observability broadcast; null resets to false.
    #[serde(default, deserialize_with = "double_option")]
    pub is_observability_broadcast_enabled: Option<Option<bool>>,
    /// Private I/O logging; null resets to false.
    #[serde(default, deserialize_with = "double_option")]
    pub is_observability_io_logging_enabled: Option<Option<bool>>,
    /// Labels, replacing the whole map; null removes all labels.
    #[serde(default, deserialize_with = "double_option")]
    pub labels: Option<Option<BTreeMap<String, String>>>,
    /// Custom instructions (≤ 64 KiB); null removes them.
    #[serde(default, deserialize_with = "double_option")]
    pub custom_instructions: Option<Option<String>>,
    /// Mux rules replacing the whole list (validated like workspace_mux_set).
    pub mux_rules: Option<Vec<MuxRuleParams>>,
    /// Days raw usage records and messages are kept (1-3650); null = forever.
    #[serde(default, deserialize_with = "double_option")]
    pub usage_retention_days: Option<Option<u32>>,
}

/// Parameters of workspace_list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceListParams {
    /// Only workspaces whose mux rules use this provider (name or prov_ id).
    pub provider: Option<String>,
    /// Also list archived workspaces (default false).
    #[serde(default)]
    pub include_archived: bool,
    /// Number of records to skip (default 0).
    #[schemars(range(min = 0))]
    pub offset: Option<i64>,
    /// Maximum number of records to return, 1-100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
}

#[tool_router(router = workspaces_router, vis = "pub(crate)")]
impl McpServer {
    #[tool(
        name = "workspace_list",
        title = "List workspaces",
        description = "List the workspaces you may see (org admins: all; org members: theirs and the \
            default one), oldest first, with every field (id, name, slug, \
            defaults, logging settings, labels). Paginate with offset/limit (limit 1-100, default 50); \
            the result is {data, total_count}. Use workspace_get when you know the slug or id.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_list(
        &self,
        Parameters(p): Parameters<WorkspaceListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Paged<Workspace>>, ToolError> {
        let p = p?;
        let page = page(p.offset, p.limit)?;
        let filter = WorkspaceFilter {
            provider: p.provider,
            include_archived: p.include_archived,
        };
        Ok(Json(self.read(&ctx, move |g, c| {
            g.workspace_list_filtered(c, &filter, page)
        })?))
    }

    #[tool(
        name = "workspace_create",
        title = "Create a workspace",
        description = "Create a workspace with a name and a unique slug; optional defaults (text/image \
            model as provider/model, provider sort), I/O logging settings and labels. You become its \
            first member. Fails with invalid_argument naming the field (bad slug, name over 100 chars, \
            sampling rate outside 0.0001-1) or conflict if the slug is taken. Returns {data: workspace}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn workspace_create(
        &self,
        Parameters(p): Parameters<WorkspaceCreateParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Workspace>>, ToolError> {
        let p = p?;
        let once = p.idempotency_key.clone();
        let new = NewWorkspace {
            name: p.name,
            slug: p.slug,
            description: p.description,
            default_text_model: p.default_text_model,
            default_image_model: p.default_image_model,
            default_provider_sort: p.default_provider_sort,
            io_logging_api_key_ids: p.io_logging_api_key_ids,
            io_logging_sampling_rate: p.io_logging_sampling_rate,
            is_data_discount_logging_enabled: p.is_data_discount_logging_enabled,
            is_observability_broadcast_enabled: p.is_observability_broadcast_enabled,
            is_observability_io_logging_enabled: p.is_observability_io_logging_enabled,
            labels: p.labels,
            custom_instructions: p.custom_instructions,
            mux_rules: p.mux_rules.map(|r| r.into_iter().map(Into::into).collect()),
            usage_retention_days: p.usage_retention_days,
        };
        let ws = self
            .run_once(&ctx, once, move |g, c| g.workspace_create(c, new))
            .await?;
        Ok(Json(Data { data: ws }))
    }

    #[tool(
        name = "workspace_get",
        title = "Get a workspace",
        description = "Get one workspace by its UUID or slug. Fails with not_found if no workspace of \
            the account has that id or slug. Returns {data: workspace}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_get(
        &self,
        Parameters(p): Parameters<WorkspaceIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Workspace>>, ToolError> {
        let p = p?;
        let ws = self.read(&ctx, move |g, c| g.workspace_get(c, &p.id))?;
        Ok(Json(Data { data: ws }))
    }

    #[tool(
        name = "workspace_update",
        title = "Update a workspace",
        description = "Change fields of a workspace (by UUID or slug). Omitted fields are kept; null \
            clears a field (description, default models, provider sort, io_logging_api_key_ids = all \
            keys, labels) or resets a flag/sampling rate to its default; name and slug cannot be null. \
            A new slug must be free. Pass expected_revision (the revision you read) to fail with \
            conflict instead of overwriting a concurrent change. Nothing changes if any field is \
            invalid. Returns {data: workspace}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_update(
        &self,
        Parameters(p): Parameters<WorkspaceUpdateParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Workspace>>, ToolError> {
        let p = p?;
        let id = p.id;
        let patch = WorkspacePatch {
            expected_revision: p.expected_revision,
            name: p.name.into(),
            slug: p.slug.into(),
            description: p.description.into(),
            default_text_model: p.default_text_model.into(),
            default_image_model: p.default_image_model.into(),
            default_provider_sort: p.default_provider_sort.into(),
            io_logging_api_key_ids: p.io_logging_api_key_ids.into(),
            io_logging_sampling_rate: p.io_logging_sampling_rate.into(),
            is_data_discount_logging_enabled: p.is_data_discount_logging_enabled.into(),
            is_observability_broadcast_enabled: p.is_observability_broadcast_enabled.into(),
            is_observability_io_logging_enabled: p.is_observability_io_logging_enabled.into(),
            labels: p.labels.into(),
            custom_instructions: p.custom_instructions.into(),
            mux_rules: p.mux_rules.map(|r| r.into_iter().map(Into::into).collect()),
            usage_retention_days: p.usage_retention_days.into(),
        };
        let ws = self
            .run(&ctx, move |g, c| g.workspace_update(c, &id, patch))
            .await?;
        Ok(Json(Data { data: ws }))
    }

    #[tool(
        name = "workspace_delete",
        title = "Delete a workspace",
        description = "Permanently delete a workspace (by UUID or slug) with its memberships and its \
            disabled/expired keys. Fails with failed_precondition (reason DEFAULT_WORKSPACE) for the \
            default workspace, (reason ACTIVE_WORKSPACE) for the active workspace (activate another \
            first), or (reason WORKSPACE_HAS_ACTIVE_KEYS, naming the keys) while it has active API \
            keys: disable or delete them first. Returns {deleted: true, id}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_delete(
        &self,
        Parameters(p): Parameters<WorkspaceIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Deleted>, ToolError> {
        let p = p?;
        let ws = self
            .run(&ctx, move |g, c| g.workspace_delete(c, &p.id))
            .await?;
        Ok(Json(Deleted {
            deleted: true,
            id: ws.id.to_string(),
        }))
    }

    #[tool(
        name = "workspace_activate",
        title = "Activate a workspace",
        description = "Make a workspace (by UUID or slug) the account's active workspace: tools \
            whose workspace parameter is omitted use it. Archived workspaces cannot be activated \
            (WORKSPACE_ARCHIVED). Returns {data: workspace} with is_active true.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_activate(
        &self,
        Parameters(p): Parameters<WorkspaceIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Workspace>>, ToolError> {
        let p = p?;
        let data = self
            .run(&ctx, move |g, c| g.workspace_activate(c, &p.id))
            .await?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "workspace_archive",
        title = "Archive a workspace",
        description = "Archive a workspace (by UUID or slug): it keeps its slug and data, is hidden \
            from workspace_list unless include_archived is set, is not routed to and cannot be \
            activated; its settings, mux rules, instructions and models cannot be changed and it \
            gains no members or keys (failed_precondition WORKSPACE_ARCHIVED) until \
            workspace_restore. Still allowed: removing members, disabling or deleting keys, and \
            recording usage of requests already served. The default workspace \
            (DEFAULT_WORKSPACE) and the active workspace (ACTIVE_WORKSPACE) cannot be archived. \
            Returns {data: workspace} with archived_at.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_archive(
        &self,
        Parameters(p): Parameters<WorkspaceIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Workspace>>, ToolError> {
        let p = p?;
        let data = self
            .run(&ctx, move |g, c| g.workspace_archive(c, &p.id))
            .await?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "workspace_restore",
        title = "Restore an archived workspace",
        description = "Restore an archived workspace (by UUID or slug): it is listed, editable and \
            routable again, with its rules and instructions as they were. A no-op for a workspace \
            that is not archived. Returns {data: workspace}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_restore(
        &self,
        Parameters(p): Parameters<WorkspaceIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Workspace>>, ToolError> {
        let p = p?;
        let data = self
            .run(&ctx, move |g, c| g.workspace_restore(c, &p.id))
            .await?;
        Ok(Json(Data { data }))
    }
}

/// The argument decoder of each tool of this toolset (for fuzzing and tests).
pub(crate) fn decoder(tool: &str) -> Option<Decoder> {
    Some(match tool {
        "workspace_list" => decode::<WorkspaceListParams>,
        "workspace_create" => decode::<WorkspaceCreateParams>,
        "workspace_get" => decode::<WorkspaceIdParams>,
        "workspace_update" => decode::<WorkspaceUpdateParams>,
        "workspace_delete" => decode::<WorkspaceIdParams>,
        "workspace_activate" => decode::<WorkspaceIdParams>,
        "workspace_archive" => decode::<WorkspaceIdParams>,
        "workspace_restore" => decode::<WorkspaceIdParams>,
        _ => return None,
    })
}
