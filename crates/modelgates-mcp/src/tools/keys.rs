//! API key tools: create (the secret is shown once), list, get, update, delete. Parameter structs,
//! their conversions, the tool router and the argument decoders of the toolset live here.

use chrono::{DateTime, Utc};
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

/// Parameters of key_create.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyCreateParams {
    /// Display name, 1-100 characters.
    pub name: String,
    /// The workspace ID (UUID) or slug the key belongs to.
    pub workspace: String,
    /// "inference" (default): sends requests through the gateway; "management": manages the account.
    pub kind: Option<KeyKind>,
    /// The user the key belongs to (default: you). Must be a member of the workspace.
    pub creator_user_id: Option<String>,
    /// Expiry as an RFC 3339 timestamp in the future, e.g. "2027-01-31T00:00:00Z".
    pub expires_at: Option<DateTime<Utc>>,
    /// Spending limit in USD (≥ 0); omit for unlimited.
    pub limit: Option<f64>,
    /// Idempotency key (1-255 visible ASCII characters; a UUID is a good one): a retry with the
    /// same key and arguments within 24 hours returns the first result instead of creating
    /// again; the same key with other arguments is a conflict.
    pub idempotency_key: Option<String>,
}

/// Parameters of key_list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyListParams {
    /// The workspace ID (UUID) or slug.
    pub workspace: String,
    /// Also list disabled and expired keys (default false).
    #[serde(default)]
    pub include_inactive: bool,
    /// Number of records to skip (default 0).
    #[schemars(range(min = 0))]
    pub offset: Option<i64>,
    /// Maximum number of records to return, 1-100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
}

/// Addresses one API key.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyIdParams {
    /// The key id, e.g. "key_01JD…".
    pub id: String,
}

/// Parameters of key_update. Omitted fields keep their value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyUpdateParams {
    /// The key id.
    pub id: String,
    /// New display name.
    pub name: Option<String>,
    /// true disables the key (it stops working immediately); false re-enables it.
    pub disabled: Option<bool>,
    /// New expiry (RFC 3339, in the future); null removes the expiry.
    #[serde(default, deserialize_with = "double_option")]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// New spending limit in USD; null removes the limit.
    #[serde(default, deserialize_with = "double_option")]
    pub limit: Option<Option<f64>>,
}

#[tool_router(router = keys_router, vis = "pub(crate)")]
impl McpServer {
    #[tool(
        name = "key_create",
        title = "Create an API key",
        description = "Create an API key in a workspace (by UUID or slug) for a workspace member \
            (default: you), kind inference (default) or management, with optional expiry (RFC 3339, \
            future) and spending limit (USD). Returns {data: key, key: secret}: the secret is shown \
            only in this result and cannot be retrieved later, so hand it to the user now. A retry with the \
            same idempotency_key returns the same key with key null and replayed true (the secret is \
            never stored: use the first result). Fails with \
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
        let once = p.idempotency_key.clone();
        let new = NewKey {
            name: p.name,
            workspace: p.workspace,
            kind: p.kind,
            creator_user_id: p.creator_user_id,
            expires_at: p.expires_at,
            limit: p.limit,
        };
        Ok(Json(
            self.run_once(&ctx, once, move |g, c| g.key_create(c, new))
                .await?,
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
}

/// The argument decoder of each tool of this toolset (for fuzzing and tests).
pub(crate) fn decoder(tool: &str) -> Option<Decoder> {
    Some(match tool {
        "key_create" => decode::<KeyCreateParams>,
        "key_list" => decode::<KeyListParams>,
        "key_get" => decode::<KeyIdParams>,
        "key_update" => decode::<KeyUpdateParams>,
        "key_delete" => decode::<KeyIdParams>,
        _ => return None,
    })
}
