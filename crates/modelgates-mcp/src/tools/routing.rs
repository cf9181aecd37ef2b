//! Routing tools: provider endpoints, mux rules, custom instructions and `route_resolve`. Parameter
//! structs, their conversions, the tool router and the argument decoders of the toolset live here.

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

/// A write-only secret argument (a provider API key): `Debug` prints `<redacted>`.
#[derive(Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct SecretArg(String);

/// Addresses one workspace; the active workspace when omitted.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionalWorkspaceParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
}

/// Parameters of workspace_mux_set.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MuxSetParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// The whole new rule list, highest priority first (at most 500; [] removes every rule).
    pub rules: Vec<MuxRuleParams>,
    /// Replace only if the list's revision is still this (from workspace_mux_get); otherwise
    /// fail with conflict.
    pub expected_revision: Option<u64>,
}

/// Parameters of workspace_mux_check.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MuxCheckParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// The rule list to check, highest priority first (at most 500).
    pub rules: Vec<MuxRuleParams>,
}

/// Parameters of workspace_instructions_set.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstructionsSetParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// The system prompt text, at most 64 KiB.
    #[serde(alias = "prompt")]
    pub custom_instructions: String,
}

/// Parameters of route_resolve.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteResolveParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// The request kind: chat (default) or fim (fill-in-the-middle code completion).
    pub kind: Option<RequestKind>,
    /// Paths of the files the request concerns, e.g. ["src/main.rs"] (at most 1,000).
    #[serde(default)]
    pub files: Vec<String>,
}

/// Parameters of provider_add.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderAddParams {
    /// Unique name in the account, 3-64 characters (case-insensitive), e.g. "openai-prod".
    pub name: String,
    /// Description, at most 500 characters.
    pub description: Option<String>,
    /// openai, anthropic, vllm, ollama, lm_studio, llamacpp or openrouter.
    pub provider_type: ProviderType,
    /// Absolute http(s) URL of the API. Defaults: openai https://api.openai.com/v1, anthropic
    /// https://api.anthropic.com/v1, openrouter https://openrouter.ai/api/v1, ollama
    /// http://localhost:11434, lm_studio http://localhost:1234/v1; required for vllm and llamacpp.
    pub endpoint: Option<String>,
    /// none, passthrough or api_key (default: api_key when api_key is given, else none).
    pub auth_type: Option<AuthType>,
    /// The provider API key (write-only: never returned). Required with auth_type api_key,
    /// refused with the others.
    pub api_key: Option<SecretArg>,
    /// Idempotency key (1-255 visible ASCII characters; a UUID is a good one): a retry with the
    /// same key and arguments within 24 hours returns the first result instead of creating
    /// again; the same key with other arguments is a conflict.
    pub idempotency_key: Option<String>,
}

/// Parameters of provider_update. Omitted fields keep their value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderUpdateParams {
    /// The provider: its name or prov_ id.
    pub provider: String,
    /// Update only if the provider's revision is still this; otherwise fail with conflict.
    pub expected_revision: Option<u64>,
    /// New name (mux rules keep pointing at the provider).
    pub name: Option<String>,
    /// New description; null clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub description: Option<Option<String>>,
    /// New type.
    pub provider_type: Option<ProviderType>,
    /// New endpoint; null resets it to the type's default.
    #[serde(default, deserialize_with = "double_option")]
    pub endpoint: Option<Option<String>>,
}

/// Parameters of provider_set_auth.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderSetAuthParams {
    /// The provider: its name or prov_ id.
    pub provider: String,
    /// none, passthrough or api_key.
    pub auth_type: AuthType,
    /// The API key: required with api_key, refused otherwise (a stored key is then removed).
    pub api_key: Option<SecretArg>,
    /// Change only if the provider's revision is still this.
    pub expected_revision: Option<u64>,
}

/// Addresses one provider.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderRefParams {
    /// The provider: its name (case-insensitive) or prov_ id.
    pub provider: String,
}

/// Parameters of provider_delete.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderDeleteParams {
    /// The provider: its name or prov_ id.
    pub provider: String,
    /// Also remove the mux rules that use it (reported in the result). Default false: the call
    /// fails while rules use it, naming them.
    #[serde(default)]
    pub cascade: bool,
}

impl std::fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<SecretArg> for modelgates::Secret {
    fn from(s: SecretArg) -> Self {
        modelgates::Secret::new(s.0)
    }
}

#[tool_router(router = routing_router, vis = "pub(crate)")]
impl McpServer {
    #[tool(
        name = "provider_add",
        title = "Add a provider endpoint",
        description = "Add a provider endpoint to the account: a unique name (3-64 chars), \
            provider_type (openai, anthropic, vllm, ollama, lm_studio, llamacpp, openrouter), an \
            endpoint URL (defaults exist for openai, anthropic, openrouter, ollama and lm_studio; \
            required for vllm and llamacpp), auth_type and the API key. The key is write-only: \
            results only say has_api_key. Fails with invalid_argument naming the field, or \
            conflict if the name is taken. Returns {data: provider}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn provider_add(
        &self,
        Parameters(p): Parameters<ProviderAddParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Provider>>, ToolError> {
        let p = p?;
        let once = p.idempotency_key.clone();
        let new = NewProvider {
            name: p.name,
            description: p.description,
            provider_type: p.provider_type,
            endpoint: p.endpoint,
            auth_type: p.auth_type,
            api_key: p.api_key.map(Into::into),
        };
        let data = self
            .run_once(&ctx, once, move |g, c| g.provider_add(c, new))
            .await?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "provider_update",
        title = "Update a provider endpoint",
        description = "Change a provider (by name or prov_ id): name (mux rules keep pointing at \
            it), description (null clears), provider_type, endpoint (null resets to the type's \
            default). Auth is changed with provider_set_auth. Pass expected_revision to fail with \
            conflict instead of overwriting a concurrent change. Returns {data: provider}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn provider_update(
        &self,
        Parameters(p): Parameters<ProviderUpdateParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Provider>>, ToolError> {
        let p = p?;
        let which = p.provider;
        let patch = ProviderPatch {
            expected_revision: p.expected_revision,
            name: p.name,
            description: p.description.into(),
            provider_type: p.provider_type,
            endpoint: p.endpoint.into(),
        };
        let data = self
            .run(&ctx, move |g, c| g.provider_update(c, &which, patch))
            .await?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "provider_set_auth",
        title = "Configure a provider's auth",
        description = "Set how the gateway authenticates to a provider (by name or prov_ id): \
            auth_type api_key with api_key (required), or none / passthrough (no key; a stored key \
            is removed). The key is never returned or logged. Returns {data: provider} with \
            has_api_key.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn provider_set_auth(
        &self,
        Parameters(p): Parameters<ProviderSetAuthParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Provider>>, ToolError> {
        let p = p?;
        let key = p.api_key.map(Into::into);
        let data = self
            .run(&ctx, move |g, c| {
                g.provider_set_auth(c, &p.provider, p.auth_type, key, p.expected_revision)
            })
            .await?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "provider_list",
        title = "List provider endpoints",
        description = "List the account's provider endpoints, oldest first (name, type, endpoint, \
            auth_type, has_api_key, revision; never the key). Paginate with offset/limit (limit \
            1-100, default 50); the result is {data, total_count}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn provider_list(
        &self,
        Parameters(p): Parameters<ListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Paged<Provider>>, ToolError> {
        let p = p?;
        let page = page(p.offset, p.limit)?;
        Ok(Json(self.read(&ctx, move |g, c| g.provider_list(c, page))?))
    }

    #[tool(
        name = "provider_get",
        title = "Get a provider endpoint",
        description = "Get one provider endpoint by name (case-insensitive) or prov_ id. Fails \
            with not_found if the account has none such. Returns {data: provider}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn provider_get(
        &self,
        Parameters(p): Parameters<ProviderRefParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Provider>>, ToolError> {
        let p = p?;
        let data = self.read(&ctx, move |g, c| g.provider_get(c, &p.provider))?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "provider_delete",
        title = "Delete a provider endpoint",
        description = "Delete a provider endpoint (by name or prov_ id). While mux rules use it, \
            fails with failed_precondition (reason PROVIDER_IN_USE) naming the workspaces and \
            rules; with cascade: true those rules are removed in the same transaction and listed \
            in removed_rules. Returns {data: provider, removed_rules}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn provider_delete(
        &self,
        Parameters(p): Parameters<ProviderDeleteParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ProviderDeleted>, ToolError> {
        let p = p?;
        Ok(Json(
            self.run(&ctx, move |g, c| {
                g.provider_delete(c, &p.provider, p.cascade)
            })
            .await?,
        ))
    }

    #[tool(
        name = "workspace_instructions_get",
        title = "Get custom instructions",
        description = "Get a workspace's custom instructions (the system prompt the gateway \
            applies); workspace by UUID or slug, the active workspace when omitted. Returns \
            {data: {workspace_id, custom_instructions}} (absent when none are set).",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_instructions_get(
        &self,
        Parameters(p): Parameters<OptionalWorkspaceParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Instructions>>, ToolError> {
        let p = p?;
        let data = self.read(&ctx, move |g, c| {
            g.workspace_instructions_get(c, p.workspace.as_deref())
        })?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "workspace_instructions_set",
        title = "Set custom instructions",
        description = "Set a workspace's custom instructions (system prompt text, at most 64 KiB), \
            replacing any previous text; the active workspace when workspace is omitted. Archived \
            workspaces are refused (WORKSPACE_ARCHIVED). Returns {data: {workspace_id, \
            custom_instructions}}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_instructions_set(
        &self,
        Parameters(p): Parameters<InstructionsSetParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Instructions>>, ToolError> {
        let p = p?;
        let data = self
            .run(&ctx, move |g, c| {
                g.workspace_instructions_set(
                    c,
                    p.workspace.as_deref(),
                    Some(&p.custom_instructions),
                )
            })
            .await?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "workspace_instructions_clear",
        title = "Clear custom instructions",
        description = "Remove a workspace's custom instructions (the active workspace when \
            workspace is omitted). Returns {data: {workspace_id}}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_instructions_clear(
        &self,
        Parameters(p): Parameters<OptionalWorkspaceParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Instructions>>, ToolError> {
        let p = p?;
        let data = self
            .run(&ctx, move |g, c| {
                g.workspace_instructions_set(c, p.workspace.as_deref(), None)
            })
            .await?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "workspace_mux_get",
        title = "Get mux rules",
        description = "Get a workspace's mux (routing) rules in priority order — the first rule \
            has the highest priority — with each rule's provider (name, id, type), model, \
            matcher_type and matcher, the list's revision and warnings (unreachable rules). The \
            active workspace when workspace is omitted. Returns {data: {workspace_id, rules, \
            revision, warnings}}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_mux_get(
        &self,
        Parameters(p): Parameters<OptionalWorkspaceParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<MuxRules>>, ToolError> {
        let p = p?;
        let data = self.read(&ctx, move |g, c| {
            g.workspace_mux_get(c, p.workspace.as_deref())
        })?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "workspace_mux_set",
        title = "Set mux rules",
        description = "Replace a workspace's whole mux rule list atomically (first rule = highest \
            priority). Each rule: provider (name or id), model (provider/family from model_list, or \
            a family registered for that provider), matcher_type (catch_all | filename_match | \
            fim_filename | chat_filename) and matcher (a glob: without '/' it matches a file's base \
            name, with '/' the whole path, ** spans directories; case-sensitive; none for \
            catch_all). The list is validated before anything is written — provider exists, model \
            enabled, glob valid — and an invalid list changes nothing (invalid_argument naming \
            rules[i].field). Rules no request can reach (after a catch_all, or whose files an \
            earlier rule of the same request kinds always matches first) are reported in warnings \
            and unreachable_rules. Pass expected_revision to guard against concurrent edits. \
            Returns {data: {workspace_id, rules, revision, warnings, unreachable_rules}}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_mux_set(
        &self,
        Parameters(p): Parameters<MuxSetParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<MuxRules>>, ToolError> {
        let p = p?;
        let rules: Vec<modelgates::NewMuxRule> = p.rules.into_iter().map(Into::into).collect();
        let data = self
            .run(&ctx, move |g, c| {
                g.workspace_mux_set(c, p.workspace.as_deref(), &rules, p.expected_revision)
            })
            .await?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "workspace_mux_check",
        title = "Check mux rules",
        description = "Check a rule list exactly as workspace_mux_set would (same access, same \
            invalid_argument errors naming rules[i].field) without storing it. Returns {data: \
            {workspace_id, rules, revision, warnings, unreachable_rules}}: the rules as they would \
            be stored, revision = the list's current revision (pass it to workspace_mux_set as \
            expected_revision so the set fails with conflict if the list changed since), warnings \
            in words, and \
            unreachable_rules [{index, shadowed_by}]: each rule no request can reach with the \
            earlier rules that take its requests (a catch_all, or rules with the same glob or a \
            glob matching every file: *, **, **/*).",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_mux_check(
        &self,
        Parameters(p): Parameters<MuxCheckParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<MuxRules>>, ToolError> {
        let p = p?;
        let rules: Vec<modelgates::NewMuxRule> = p.rules.into_iter().map(Into::into).collect();
        let data = self.read(&ctx, move |g, c| {
            g.workspace_mux_check(c, p.workspace.as_deref(), &rules)
        })?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "route_resolve",
        title = "Resolve a route",
        description = "Which provider and model would serve this request? Give the request kind \
            (chat or fim) and the file paths it concerns; the workspace (UUID or slug, the active \
            workspace when omitted) answers with the first matching mux rule (rule_index), else its \
            default_text_model when a provider serves it. The result names the provider (type, \
            endpoint, auth_type, has_api_key — never the key), the model and whether custom \
            instructions apply. No match: failed_precondition (reason NO_ROUTE) listing the rules \
            tried. Returns {data: route}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn route_resolve(
        &self,
        Parameters(p): Parameters<RouteResolveParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Route>>, ToolError> {
        let p = p?;
        let kind = p.kind.unwrap_or(RequestKind::Chat);
        let data = self.read(&ctx, move |g, c| {
            g.route_resolve(c, p.workspace.as_deref(), kind, &p.files)
        })?;
        Ok(Json(Data { data }))
    }
}

/// The argument decoder of each tool of this toolset (for fuzzing and tests).
pub(crate) fn decoder(tool: &str) -> Option<Decoder> {
    Some(match tool {
        "provider_add" => decode::<ProviderAddParams>,
        "provider_update" => decode::<ProviderUpdateParams>,
        "provider_set_auth" => decode::<ProviderSetAuthParams>,
        "provider_list" => decode::<ListParams>,
        "provider_get" => decode::<ProviderRefParams>,
        "provider_delete" => decode::<ProviderDeleteParams>,
        "workspace_instructions_get" => decode::<OptionalWorkspaceParams>,
        "workspace_instructions_set" => decode::<InstructionsSetParams>,
        "workspace_instructions_clear" => decode::<OptionalWorkspaceParams>,
        "workspace_mux_get" => decode::<OptionalWorkspaceParams>,
        "workspace_mux_set" => decode::<MuxSetParams>,
        "workspace_mux_check" => decode::<MuxCheckParams>,
        "route_resolve" => decode::<RouteResolveParams>,
        _ => return None,
    })
}
