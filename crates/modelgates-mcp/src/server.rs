//! The MCP server: one tool per domain operation, each a thin call into `modelgates`.

use modelgates::{
    ApiKey, BulkAdded, BulkRemoved, Caller, CreatedKey, Error, KeyPatch, Member, MemberPatch,
    Model, ModelFilter, ModelGates, NewKey, NewMember, NewModel, NewWorkspace, Page, Paged,
    Workspace, WorkspaceFilter, WorkspaceMember, WorkspacePatch,
};
use rmcp::RoleServer;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{Json, ServerHandler, tool, tool_handler, tool_router};
use std::sync::{Arc, OnceLock};

use crate::args::Parameters;
use crate::error::ToolError;
use crate::params::*;

/// The toolsets a server can be limited to (`--toolsets`).
pub const TOOLSETS: [&str; 7] = [
    "workspaces",
    "members",
    "keys",
    "models",
    "routing",
    "personas",
    "usage",
];

/// Which toolset a tool belongs to: workspace membership counts as `members`; providers, mux
/// rules, custom instructions and route resolution as `routing`.
pub fn toolset_of(tool: &str) -> &'static str {
    if tool.starts_with("provider_")
        || tool.starts_with("route_")
        || tool.starts_with("workspace_mux_")
        || tool.starts_with("workspace_instructions_")
    {
        "routing"
    } else if tool.starts_with("persona_") {
        "personas"
    } else if tool.starts_with("usage_")
        || tool == "workspace_usage"
        || tool.starts_with("workspace_message")
        || tool == "workspace_alerts_list"
    {
        "usage"
    } else if tool.starts_with("workspace_members_") || tool.starts_with("member_") {
        "members"
    } else if tool.starts_with("workspace_") {
        "workspaces"
    } else if tool.starts_with("key_") {
        "keys"
    } else if tool.starts_with("model_") {
        "models"
    } else {
        "other"
    }
}

/// The tool surface a server exposes.
#[derive(Debug, Clone, Default)]
pub struct Surface {
    /// Only read-only tools.
    pub read_only: bool,
    /// Only these toolsets (`None` = all).
    pub toolsets: Option<Vec<&'static str>>,
}

impl Surface {
    /// Parses `--toolsets` values (`all` or names from [`TOOLSETS`]), naming an unknown one.
    pub fn parse_toolsets(values: &[String]) -> Result<Option<Vec<&'static str>>, String> {
        if values.is_empty() || values.iter().any(|v| v == "all") {
            return Ok(None);
        }
        values
            .iter()
            .map(|v| {
                TOOLSETS.iter().copied().find(|t| t == v).ok_or_else(|| {
                    format!(
                        "unknown toolset {v:?}; choose from all, {}",
                        TOOLSETS.join(", ")
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

// Tool signatures spell out `Result<Json<T>, ToolError>`: rmcp derives an output schema only
// from that literal shape, not through a type alias.

/// The ModelGates MCP server, acting as one caller of one `ModelGates` instance.
#[derive(Clone)]
pub struct McpServer {
    gates: ModelGates,
    caller: Option<Caller>,
    /// Shared by every session (an HTTP session costs a clone of this `Arc`, not of 49 tool
    /// schemas); copied only when a surface hides tools.
    tool_router: Arc<ToolRouter<Self>>,
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer")
            .field("caller", &self.caller)
            .finish()
    }
}

const INSTRUCTIONS: &str = "ModelGates is the control plane of an LLM gateway. Use these tools to \
manage workspaces (addressed by UUID or slug), organization members, workspace membership and API \
keys. Failed calls return isError with {error: {code, message, field?, reason?}}; code is one of \
invalid_argument, not_found, conflict, failed_precondition, permission_denied, unauthenticated, \
internal. Org admins may do everything; org members read the workspaces they belong to (and \
the default one) and manage their own keys; see each tool. Lists take offset/limit (limit 1-100, default 50) and return {data, total_count}. \
Provider endpoints, per-workspace mux rules and custom instructions decide where requests go; \
route_resolve answers which provider and model would serve a request. Tools whose workspace \
parameter is optional use the active workspace (workspace_activate).";

impl McpServer {
    /// A server acting as `caller` (stdio: one local user).
    pub fn new(gates: ModelGates, caller: Caller) -> Self {
        Self::build(gates, Some(caller))
    }

    /// A server whose every request carries its own authenticated `Caller` in the HTTP
    /// request's extensions (see `crate::http`); a request without one is refused.
    pub fn per_request(gates: ModelGates) -> Self {
        Self::build(gates, None)
    }

    fn build(gates: ModelGates, caller: Option<Caller>) -> Self {
        static ROUTER: OnceLock<Arc<ToolRouter<McpServer>>> = OnceLock::new();
        let tool_router = ROUTER
            .get_or_init(|| {
                let mut tool_router = Self::tool_router()
                    + Self::routing_router()
                    + Self::persona_router()
                    + Self::usage_router();
                for route in tool_router.map.values_mut() {
                    let tool = &mut route.attr;
                    let mut input = (*tool.input_schema).clone();
                    crate::schema::make_portable(&mut input);
                    tool.input_schema = Arc::new(input);
                    if let Some(output) = &tool.output_schema {
                        let mut output = (**output).clone();
                        crate::schema::make_portable(&mut output);
                        tool.output_schema = Some(Arc::new(output));
                    }
                }
                Arc::new(tool_router)
            })
            .clone();
        Self {
            gates,
            caller,
            tool_router,
        }
    }

    /// Limits the tools clients can list and call: with `surface.read_only`, only tools whose
    /// read-only annotation is true; with `surface.toolsets`, only tools of those toolsets.
    pub fn with_surface(mut self, surface: &Surface) -> Self {
        let hidden: Vec<String> = self
            .tool_router
            .list_all()
            .into_iter()
            .filter(|t| {
                let read_only = t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true);
                (surface.read_only && !read_only)
                    || surface
                        .toolsets
                        .as_ref()
                        .is_some_and(|sets| !sets.contains(&toolset_of(&t.name)))
            })
            .map(|t| t.name.to_string())
            .collect();
        if !hidden.is_empty() {
            let router = Arc::make_mut(&mut self.tool_router);
            for name in hidden {
                router.disable_route(name);
            }
        }
        self
    }

    /// Every tool definition, sorted by name.
    pub fn tools(&self) -> Vec<rmcp::model::Tool> {
        self.tool_router.list_all()
    }

    /// The caller of this request: the server's fixed caller (stdio), or the one the HTTP
    /// layer authenticated (`Caller` in the request's extensions).
    pub(crate) fn caller(&self, ctx: &RequestContext<RoleServer>) -> Result<Caller, ToolError> {
        let from_http = ctx
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>())
            .cloned();
        from_http.or_else(|| self.caller.clone()).ok_or_else(|| {
            ToolError(Error::Unauthenticated(
                "no authenticated caller for this request".into(),
            ))
        })
    }

    /// Runs a read-only domain call inline on the runtime's worker: one read transaction of
    /// the store (microseconds, no fsync), so the hop to the blocking pool would cost more than
    /// the call (docs/decisions.md).
    pub(crate) fn read<T>(
        &self,
        ctx: &RequestContext<RoleServer>,
        f: impl FnOnce(&ModelGates, &Caller) -> modelgates::Result<T>,
    ) -> Result<T, ToolError> {
        let caller = self.caller(ctx)?;
        f(&self.gates, &caller).map_err(ToolError)
    }

    /// Runs a mutating domain call on the blocking pool: a durable commit waits for fsync and
    /// must not stall the runtime's workers.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        ctx: &RequestContext<RoleServer>,
        f: impl FnOnce(&ModelGates, &Caller) -> modelgates::Result<T> + Send + 'static,
    ) -> Result<T, ToolError> {
        let caller = self.caller(ctx)?;
        let gates = self.gates.clone();
        tokio::task::spawn_blocking(move || f(&gates, &caller))
            .await
            .map_err(|e| ToolError(Error::internal(format!("tool task failed: {e}"))))?
            .map_err(ToolError)
    }
}

pub(crate) fn page(offset: Option<i64>, limit: Option<i64>) -> Result<Page, ToolError> {
    Ok(Page::new(offset, limit)?)
}

#[tool_router]
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
            .run(&ctx, move |g, c| g.workspace_create(c, new))
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
        name = "workspace_members_list",
        title = "List workspace members",
        description = "List the members of a workspace (by UUID or slug), ordered by user id, with their \
            workspace role (admin or member, following their organization role). Paginate with \
            offset/limit; returns {data, total_count}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_members_list(
        &self,
        Parameters(p): Parameters<WorkspaceMembersListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Paged<WorkspaceMember>>, ToolError> {
        let p = p?;
        let page = page(p.offset, p.limit)?;
        Ok(Json(self.read(&ctx, move |g, c| {
            g.workspace_members_list(c, &p.id, page)
        })?))
    }

    #[tool(
        name = "workspace_members_add",
        title = "Add members to a workspace",
        description = "Add 1-100 organization members to a workspace (by UUID or slug). Each gets the \
            role they hold in the organization (org:admin → admin, org:member → member). Re-adding is \
            harmless. All-or-nothing: if any user id is not an organization member the call fails \
            with invalid_argument naming them and adds nobody. Returns {added_count, data}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_members_add(
        &self,
        Parameters(p): Parameters<WorkspaceMembersParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<BulkAdded>, ToolError> {
        let p = p?;
        Ok(Json(
            self.run(&ctx, move |g, c| {
                g.workspace_members_add(c, &p.id, &p.user_ids)
            })
            .await?,
        ))
    }

    #[tool(
        name = "workspace_members_remove",
        title = "Remove members from a workspace",
        description = "Remove 1-100 members from a workspace (by UUID or slug); their disabled/expired \
            keys in it are deleted too. All-or-nothing: if any of them still has an active API key in \
            the workspace, nobody is removed and the error (failed_precondition, reason \
            MEMBER_HAS_ACTIVE_KEYS) names the users and keys. Returns {removed_count}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_members_remove(
        &self,
        Parameters(p): Parameters<WorkspaceMembersParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<BulkRemoved>, ToolError> {
        let p = p?;
        Ok(Json(
            self.run(&ctx, move |g, c| {
                g.workspace_members_remove(c, &p.id, &p.user_ids)
            })
            .await?,
        ))
    }

    #[tool(
        name = "member_add",
        title = "Add an organization member",
        description = "Add a user to the organization with a user id (e.g. user_abc123), an email and \
            a role (org:admin or org:member, default org:member). Add them to workspaces with \
            workspace_members_add. Fails with conflict if the user id or email is already used. \
            Returns {data: member}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn member_add(
        &self,
        Parameters(p): Parameters<MemberAddParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Member>>, ToolError> {
        let p = p?;
        let new = NewMember {
            user_id: p.user_id,
            email: p.email,
            first_name: p.first_name,
            last_name: p.last_name,
            role: p.role,
        };
        Ok(Json(Data {
            data: self.run(&ctx, move |g, c| g.member_add(c, new)).await?,
        }))
    }

    #[tool(
        name = "member_list",
        title = "List organization members",
        description = "List the organization's members, ordered by user id, with email, names and role \
            (org admins only). Paginate with offset/limit; returns {data, total_count}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn member_list(
        &self,
        Parameters(p): Parameters<ListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Paged<Member>>, ToolError> {
        let p = p?;
        let page = page(p.offset, p.limit)?;
        Ok(Json(self.read(&ctx, move |g, c| g.member_list(c, page))?))
    }

    #[tool(
        name = "member_get",
        title = "Get an organization member",
        description = "Get one organization member by user id (org members may get only themselves). \
            Fails with not_found if the user is not a member. Returns {data: member}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn member_get(
        &self,
        Parameters(p): Parameters<UserIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Member>>, ToolError> {
        let p = p?;
        Ok(Json(Data {
            data: self.read(&ctx, move |g, c| g.member_get(c, &p.user_id))?,
        }))
    }

    #[tool(
        name = "member_update",
        title = "Update an organization member",
        description = "Change a member's email, names or organization role. A role change also changes \
            their role in every workspace. Fails with failed_precondition (LAST_ORG_ADMIN) when \
            demoting the only org:admin, conflict when the email is taken. Returns {data: member}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn member_update(
        &self,
        Parameters(p): Parameters<MemberUpdateParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Member>>, ToolError> {
        let p = p?;
        let user_id = p.user_id;
        let patch = MemberPatch {
            email: p.email,
            first_name: p.first_name.into(),
            last_name: p.last_name.into(),
            role: p.role,
        };
        Ok(Json(Data {
            data: self
                .run(&ctx, move |g, c| g.member_update(c, &user_id, patch))
                .await?,
        }))
    }

    #[tool(
        name = "member_remove",
        title = "Remove an organization member",
        description = "Remove a user from the organization and from all its workspaces; their disabled/\
            expired keys are deleted. Fails with failed_precondition (MEMBER_HAS_ACTIVE_KEYS, naming \
            the keys) while they have active API keys, or (CANNOT_REMOVE_SELF) for yourself. \
            Returns {deleted: true, id}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn member_remove(
        &self,
        Parameters(p): Parameters<UserIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Deleted>, ToolError> {
        let p = p?;
        let m = self
            .run(&ctx, move |g, c| g.member_remove(c, &p.user_id))
            .await?;
        Ok(Json(Deleted {
            deleted: true,
            id: m.user_id.to_string(),
        }))
    }

    #[tool(
        name = "key_create",
        title = "Create an API key",
        description = "Create an API key in a workspace (by UUID or slug) for a workspace member \
            (default: you), kind inference (default) or management, with optional expiry (RFC 3339, \
            future) and spending limit (USD). Returns {data: key, key: secret}: the secret is shown \
            only in this result and cannot be retrieved later, so hand it to the user now. Fails with \
            failed_precondition (NOT_WORKSPACE_MEMBER) if the user is not a workspace member; org \
            members may create only inference keys for themselves (permission_denied otherwise).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn key_create(
        &self,
        Parameters(p): Parameters<KeyCreateParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<CreatedKey>, ToolError> {
        let p = p?;
        let new = NewKey {
            name: p.name,
            workspace: p.workspace,
            kind: p.kind,
            creator_user_id: p.creator_user_id,
            expires_at: p.expires_at,
            limit: p.limit,
        };
        Ok(Json(
            self.run(&ctx, move |g, c| g.key_create(c, new)).await?,
        ))
    }

    #[tool(
        name = "key_list",
        title = "List API keys",
        description = "List the API keys of a workspace (by UUID or slug), oldest first. Active keys \
            only unless include_inactive is true (then disabled and expired keys too). Secrets are \
            never returned; label shows a recognizable fragment. Org members see only their own keys. \
            Returns {data, total_count}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn key_list(
        &self,
        Parameters(p): Parameters<KeyListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Paged<ApiKey>>, ToolError> {
        let p = p?;
        let page = page(p.offset, p.limit)?;
        Ok(Json(self.read(&ctx, move |g, c| {
            g.key_list(c, &p.workspace, p.include_inactive, page)
        })?))
    }

    #[tool(
        name = "key_get",
        title = "Get an API key",
        description = "Get one API key by id (key_…): name, workspace, user, kind, disabled, expiry, \
            limit. Never the secret. Org members may get only their own keys. Returns {data: key}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn key_get(
        &self,
        Parameters(p): Parameters<KeyIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<ApiKey>>, ToolError> {
        let p = p?;
        Ok(Json(Data {
            data: self.read(&ctx, move |g, c| g.key_get(c, &p.id))?,
        }))
    }

    #[tool(
        name = "key_update",
        title = "Update an API key",
        description = "Rename a key, disable or re-enable it, change or remove its expiry (null = never \
            expires) or spending limit (null = unlimited). Disabling takes effect immediately. Org \
            members may change only their own keys and only tighten them (rename, disable, lower or \
            set a limit, set or shorten the expiry); re-enabling, raising or removing a limit and \
            extending or removing an expiry need an org admin. Returns {data: key}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn key_update(
        &self,
        Parameters(p): Parameters<KeyUpdateParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<ApiKey>>, ToolError> {
        let p = p?;
        let id = p.id;
        let patch = KeyPatch {
            name: p.name,
            disabled: p.disabled,
            expires_at: p.expires_at.into(),
            limit: p.limit.into(),
        };
        Ok(Json(Data {
            data: self
                .run(&ctx, move |g, c| g.key_update(c, &id, patch))
                .await?,
        }))
    }

    #[tool(
        name = "key_delete",
        title = "Delete an API key",
        description = "Permanently delete an API key by id; it stops working immediately. To pause a \
            key instead, use key_update with disabled: true. Org members may delete only their own \
            keys. Returns {deleted: true, id}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn key_delete(
        &self,
        Parameters(p): Parameters<KeyIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Deleted>, ToolError> {
        let p = p?;
        let k = self.run(&ctx, move |g, c| g.key_delete(c, &p.id)).await?;
        Ok(Json(Deleted {
            deleted: true,
            id: k.id.to_string(),
        }))
    }

    #[tool(
        name = "model_list",
        title = "List a workspace's models",
        description = "List the models of a workspace (by UUID or slug; the active workspace when \
            omitted) — the catalog models it was \
            seeded with and custom ones registered for it — ordered by provider and family, as \
            {metadata, spec} with prices in cents per million tokens (\"300\" = $3.00) and \
            status. Filter by provider, status or label_selector (\"key=value,…\"); paginate with \
            offset/limit. Returns {data, total_count}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn model_list(
        &self,
        Parameters(p): Parameters<ModelListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Paged<Model>>, ToolError> {
        let p = p?;
        let page = page(p.offset, p.limit)?;
        let filter = ModelFilter {
            provider: p.provider,
            status: p.status,
            label_selector: p.label_selector,
        };
        Ok(Json(self.read(&ctx, move |g, c| {
            g.model_list(c, p.workspace.as_deref(), &filter, page)
        })?))
    }

    #[tool(
        name = "model_get",
        title = "Get a model",
        description = "Get one model of a workspace by its id (model_…) or by \"provider/family\" \
            (e.g. \"anthropic/claude-sonnet-4.6\"). Fails with not_found if the workspace has no \
            such model. Returns {data: {metadata, spec}}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn model_get(
        &self,
        Parameters(p): Parameters<ModelRefParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Model>>, ToolError> {
        let p = p?;
        Ok(Json(Data {
            data: self.read(&ctx, move |g, c| {
                g.model_get(c, p.workspace.as_deref(), &p.model)
            })?,
        }))
    }

    #[tool(
        name = "model_set_status",
        title = "Enable or disable a model",
        description = "Enable (MODEL_STATUS_ENABLED) or disable (MODEL_STATUS_DISABLED) a model in a \
            workspace (the active workspace when omitted). Disabling a model that the workspace \
            uses as default_text_model or default_image_model, or that a mux rule routes to, fails \
            with failed_precondition (reason MODEL_IN_USE) naming the setting or rule: change it \
            first. Returns {data: model}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn model_set_status(
        &self,
        Parameters(p): Parameters<ModelSetStatusParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Model>>, ToolError> {
        let p = p?;
        let m = self
            .run(&ctx, move |g, c| {
                g.model_set_status(c, p.workspace.as_deref(), &p.model, p.status)
            })
            .await?;
        Ok(Json(Data { data: m }))
    }

    #[tool(
        name = "model_register",
        title = "Register a custom model",
        description = "Add a model that is not in the catalog to a workspace, e.g. a self-hosted \
            family on vllm, ollama or llama.cpp: provider, family, token limits, optional prices \
            (cents per million tokens as decimal strings) and labels. Fails with conflict if the \
            workspace already has that provider/family. Returns {data: model}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn model_register(
        &self,
        Parameters(p): Parameters<ModelRegisterParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Model>>, ToolError> {
        let p = p?;
        let workspace = p.workspace;
        let new = NewModel {
            provider: p.provider,
            family: p.family,
            input_price_per_million_tokens: p.input_price_per_million_tokens,
            output_price_per_million_tokens: p.output_price_per_million_tokens,
            max_input_tokens: p.max_input_tokens,
            max_output_tokens: p.max_output_tokens,
            labels: p.labels,
            external_id: p.external_id,
            status: p.status,
        };
        Ok(Json(Data {
            data: self
                .run(&ctx, move |g, c| {
                    g.model_register(c, workspace.as_deref(), new)
                })
                .await?,
        }))
    }

    #[tool(
        name = "model_delete",
        title = "Delete a custom model",
        description = "Delete a custom model from a workspace (by id or provider/family). Catalog \
            models (bundleKey \"catalog\") cannot be deleted — disable them with model_set_status; \
            a model used as a workspace default or by a mux rule cannot be deleted either \
            (failed_precondition, MODEL_IN_USE). Returns {deleted: true, id}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn model_delete(
        &self,
        Parameters(p): Parameters<ModelRefParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Deleted>, ToolError> {
        let p = p?;
        let m = self
            .run(&ctx, move |g, c| {
                g.model_delete(c, p.workspace.as_deref(), &p.model)
            })
            .await?;
        Ok(Json(Deleted {
            deleted: true,
            id: m.metadata.id.to_string(),
        }))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("modelgates", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> McpServer {
        let gates = ModelGates::open(modelgates::MemoryStore::new()).unwrap();
        let caller = gates.default_caller().unwrap();
        McpServer::new(gates, caller)
    }

    #[test]
    fn read_only_and_toolsets_limit_the_listed_tools() {
        let read_only = server().with_surface(&Surface {
            read_only: true,
            toolsets: None,
        });
        let names: Vec<String> = read_only
            .tools()
            .iter()
            .map(|t| t.name.to_string())
            .collect();
        assert!(!names.is_empty());
        assert!(
            names.iter().all(|n| n.ends_with("_list")
                || n.ends_with("_get")
                || n == "route_resolve"
                || n == "workspace_usage"),
            "{names:?}"
        );
        let keys_only = server().with_surface(&Surface {
            read_only: false,
            toolsets: Some(vec!["keys"]),
        });
        let names: Vec<String> = keys_only
            .tools()
            .iter()
            .map(|t| t.name.to_string())
            .collect();
        assert_eq!(
            names,
            [
                "key_create",
                "key_delete",
                "key_get",
                "key_list",
                "key_update"
            ]
        );
        let err = Surface::parse_toolsets(&["keys".into(), "nope".into()]).unwrap_err();
        assert!(err.contains("\"nope\""), "{err}");
        assert_eq!(Surface::parse_toolsets(&["all".into()]).unwrap(), None);
        for t in server().tools() {
            assert_ne!(
                toolset_of(&t.name),
                "other",
                "{} belongs to a toolset",
                t.name
            );
        }
    }

    #[test]
    fn every_tool_is_fully_described() {
        let gates = ModelGates::open(modelgates::MemoryStore::new()).unwrap();
        let caller = gates.default_caller().unwrap();
        let tools = McpServer::new(gates, caller).tools();
        assert_eq!(tools.len(), 49);
        for t in &tools {
            let name = t.name.as_ref();
            let verb = name.rsplit_once('_').unwrap().1;
            let nouns = [
                "workspace_",
                "member_",
                "key_",
                "model_",
                "provider_",
                "route_",
                "persona_",
                "usage_",
            ];
            assert!(
                nouns.iter().any(|n| name.starts_with(n)),
                "{name} is noun_verb"
            );
            assert!(
                t.title.is_some() && t.description.as_ref().is_some_and(|d| d.len() > 80),
                "{name}"
            );
            let out = t
                .output_schema
                .as_ref()
                .unwrap_or_else(|| panic!("{name} has no output schema"));
            assert_eq!(
                out.get("type").and_then(|v| v.as_str()),
                Some("object"),
                "{name}"
            );
            assert_eq!(
                t.input_schema.get("additionalProperties"),
                Some(&serde_json::Value::Bool(false)),
                "{name} refuses unknown arguments"
            );
            for schema in [Some(&t.input_schema), t.output_schema.as_ref()]
                .into_iter()
                .flatten()
            {
                let text = serde_json::to_string(schema).unwrap();
                assert!(
                    !text.contains("\"type\":["),
                    "{name}: a type array is left: {text}"
                );
            }
            let known = crate::params::decode_tool_arguments(name, Default::default());
            assert!(
                !matches!(known, Ok(false)),
                "{name} has no decoder for fuzzing"
            );
            let a = t.annotations.as_ref().unwrap();
            let hints = [
                a.read_only_hint,
                a.destructive_hint,
                a.idempotent_hint,
                a.open_world_hint,
            ];
            assert!(
                hints.iter().all(Option::is_some),
                "{name} sets all four hints"
            );
            let read_only = matches!(verb, "list" | "get" | "resolve") || name == "workspace_usage";
            assert_eq!(a.read_only_hint, Some(read_only), "{name}");
            assert_eq!(a.open_world_hint, Some(false), "{name}");
            if read_only {
                assert_eq!(a.destructive_hint, Some(false), "{name}");
            }
            if matches!(verb, "delete" | "remove") {
                assert_eq!(a.destructive_hint, Some(true), "{name}");
            }
        }
    }
}
