//! Model tools (seed 003): a workspace's model catalog — list, get, set status, register and delete
//! custom models. Parameter structs, their conversions, the tool router and the argument decoders
//! of the toolset live here.

use std::collections::BTreeMap;

use modelgates::*;
use rmcp::RoleServer;
use rmcp::service::RequestContext;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::*;
use crate::args::Parameters;
use crate::error::ToolError;
use crate::server::{McpServer, page};

/// Parameters of model_list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelListParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// Only models of this provider, e.g. "anthropic".
    pub provider: Option<String>,
    /// Only models with this status.
    pub status: Option<ModelStatus>,
    /// Only models whose labels match every key=value pair, e.g. "tier=fast,team=core".
    pub label_selector: Option<String>,
    /// Number of records to skip (default 0).
    #[schemars(range(min = 0))]
    pub offset: Option<i64>,
    /// Maximum number of records to return, 1-100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
}

/// Addresses one model of a workspace.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelRefParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// The model: its id ("model_01J…") or "provider/family" (e.g. "openai/gpt-4o").
    pub model: String,
}

/// Parameters of model_set_status.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSetStatusParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// The model: its id ("model_01J…") or "provider/family".
    pub model: String,
    /// The new status.
    pub status: ModelStatus,
}

/// Parameters of model_register (model fields in the seed's camelCase).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ModelRegisterParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// Provider, e.g. "vllm", "ollama", "llamacpp" (lowercase letters, digits, '-', '_', '.', ':').
    pub provider: String,
    /// Model family, e.g. "qwen2.5-coder-32b".
    pub family: String,
    /// Cents per million input tokens as a decimal string ("300" = $3.00); default "0".
    pub input_price_per_million_tokens: Option<String>,
    /// Cents per million output tokens as a decimal string; default "0".
    pub output_price_per_million_tokens: Option<String>,
    /// Maximum input tokens (context window), at least 1 (an image model may give 0: none
    /// published).
    pub max_input_tokens: u32,
    /// Maximum output tokens, at least 1 (an image model may give 0).
    pub max_output_tokens: u32,
    /// Labels for filtering with label_selector.
    pub labels: Option<BTreeMap<String, String>>,
    /// An id of the model in an external system.
    pub external_id: Option<String>,
    /// Initial status (default MODEL_STATUS_ENABLED).
    pub status: Option<ModelStatus>,
    /// What the model produces: "text" (default) or "image" (only an image model can be a
    /// workspace's default_image_model).
    pub output: Option<ModelOutput>,
    /// Cents per generated image as a decimal string, for image models priced per image.
    pub output_price_per_image: Option<String>,
    /// Idempotency key (1-255 visible ASCII characters; a UUID is a good one): a retry with the
    /// same key and arguments within 24 hours returns the first result instead of creating
    /// again; the same key with other arguments is a conflict.
    pub idempotency_key: Option<String>,
}

#[tool_router(router = models_router, vis = "pub(crate)")]
impl McpServer {
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
        let once = p.idempotency_key.clone();
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
            output: p.output,
            output_price_per_image: p.output_price_per_image,
        };
        Ok(Json(Data {
            data: self
                .run_once(&ctx, once, move |g, c| {
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

/// The argument decoder of each tool of this toolset (for fuzzing and tests).
pub(crate) fn decoder(tool: &str) -> Option<Decoder> {
    Some(match tool {
        "model_list" => decode::<ModelListParams>,
        "model_get" => decode::<ModelRefParams>,
        "model_set_status" => decode::<ModelSetStatusParams>,
        "model_register" => decode::<ModelRegisterParams>,
        "model_delete" => decode::<ModelRefParams>,
        _ => return None,
    })
}
