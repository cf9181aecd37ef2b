//! Audit tools: the account's audit log, newest first with filters, and its retention.
//! Parameter structs, the tool router and the argument decoders of the toolset live here.

use chrono::{DateTime, Utc};
use modelgates::*;
use rmcp::RoleServer;
use rmcp::service::RequestContext;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::*;
use crate::args::Parameters;
use crate::error::ToolError;
use crate::server::McpServer;

/// Parameters of audit_list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditListParams {
    /// Only events that changed a resource of this kind: account, member, workspace,
    /// workspace_member, workspace_config, model, api_key, provider, persona.
    pub resource_kind: Option<String>,
    /// Only events that changed the resource with this id (a workspace UUID, key_…, prov_…).
    pub resource_id: Option<String>,
    /// Only events by this user id or management key id (key_…).
    pub actor: Option<String>,
    /// Only this operation (the tool's name, e.g. workspace_update).
    pub operation: Option<String>,
    /// Only events at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// Continue after this event: the previous page's next_after (aud_…).
    pub after: Option<String>,
    /// Events per page, 1-100 (default 50).
    pub limit: Option<u32>,
}

/// Parameters of audit_retention_set.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditRetentionParams {
    /// Days audit events are kept (1-3,650), or null to keep them forever.
    pub days: Option<u32>,
}

/// The account's audit retention.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditRetention {
    /// Days audit events are kept; absent = forever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_retention_days: Option<u32>,
}

#[tool_router(router = audit_router, vis = "pub(crate)")]
impl McpServer {
    #[tool(
        name = "audit_list",
        title = "List audit events",
        description = "List the account's audit log, newest first (org admins only). Every \
            successful change of configuration is one event: when (at), which operation (the \
            tool's name), who (actor: user_id, key_id of the presented management key, via: \
            mcp, rest, cli, library or system), the target resource, and changes: each \
            resource created, updated or deleted with the fields that changed as \
            {before, after}; secrets (provider API keys, key hashes, anything that looks like a \
            credential) appear only as {secret: true}. Usage recording is not logged. Filter by \
            resource_kind, resource_id, actor, operation, since/until; page with limit (1-100, \
            default 50) and after = the previous page's next_after (absent on the last page). \
            One call examines at most 10,000 events, so a rare filter may return fewer than \
            limit events with a next_after to continue. Returns {data, next_after}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn audit_list(
        &self,
        Parameters(p): Parameters<AuditListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<AuditPage>, ToolError> {
        let p = p?;
        let after = p
            .after
            .as_deref()
            .map(|a| AuditId::parse_field(a, "after"))
            .transpose()?;
        let filter = AuditFilter {
            resource_kind: p.resource_kind,
            resource_id: p.resource_id,
            actor: p.actor,
            operation: p.operation,
            since: p.since,
            until: p.until,
            after,
            limit: p.limit,
        };
        Ok(Json(self.read(&ctx, move |g, c| g.audit_list(c, &filter))?))
    }

    #[tool(
        name = "audit_retention_set",
        title = "Set the audit log's retention",
        description = "Set how many days the account keeps audit events (1-3,650), or null to \
            keep them forever (the default); org admins only. Older events are removed by the \
            server within a minute. The change is itself an audit event. Returns \
            {data: {audit_retention_days}}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn audit_retention_set(
        &self,
        Parameters(p): Parameters<AuditRetentionParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<AuditRetention>>, ToolError> {
        let p = p?;
        let account = self
            .run(&ctx, move |g, c| g.audit_retention_set(c, p.days))
            .await?;
        Ok(Json(Data {
            data: AuditRetention {
                audit_retention_days: account.audit_retention_days,
            },
        }))
    }
}

/// The argument decoder of each tool of this toolset (for fuzzing and tests).
pub(crate) fn decoder(tool: &str) -> Option<Decoder> {
    Some(match tool {
        "audit_list" => decode::<AuditListParams>,
        "audit_retention_set" => decode::<AuditRetentionParams>,
        _ => return None,
    })
}
