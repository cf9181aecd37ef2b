//! The audit log over REST: `GET /audit` (newest first, filters, `after` paging) and
//! `PUT /audit/retention`; org admins only, as over MCP.

use aide::axum::ApiRouter;
use aide::axum::routing::{get_with, put_with};
use axum::extract::State;
use chrono::{DateTime, Utc};
use modelgates::{AuditFilter, AuditId, AuditPage};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::App;
use crate::error::ApiError;
use crate::extract::{Body, Me, Query};
use crate::reply::{Data, Reply};

pub(crate) fn routes() -> ApiRouter<App> {
    ApiRouter::new()
        .api_route(
            "/audit",
            get_with(list, |o| {
                o.id("listAuditEvents")
                    .summary("List the account's audit events, newest first")
            }),
        )
        .api_route(
            "/audit/retention",
            put_with(set_retention, |o| {
                o.id("setAuditRetention")
                    .summary("Set how many days audit events are kept")
            }),
        )
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    /// Only events that changed a resource of this kind (workspace, api_key, provider, …).
    resource_kind: Option<String>,
    /// Only events that changed the resource with this id.
    resource_id: Option<String>,
    /// Only events by this user id or management key id.
    actor: Option<String>,
    /// Only this operation (e.g. `workspace_update`).
    operation: Option<String>,
    /// Only events at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Only events before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
    /// Continue after this event: the previous page's `next_after`.
    after: Option<String>,
    /// Events per page, 1 to 100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    limit: Option<u32>,
}

async fn list(
    State(app): State<App>,
    Me(me): Me,
    Query(q): Query<AuditQuery>,
) -> Result<Reply<AuditPage>, ApiError> {
    let after = q
        .after
        .as_deref()
        .map(|a| AuditId::parse_field(a, "query.after"))
        .transpose()?;
    let filter = AuditFilter {
        resource_kind: q.resource_kind,
        resource_id: q.resource_id,
        actor: q.actor,
        operation: q.operation,
        since: q.since,
        until: q.until,
        after,
        limit: q.limit,
    };
    Ok(Reply(app.gates.audit_list(&me, &filter)?))
}

/// How long the account keeps audit events.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Retention {
    /// Days audit events are kept (1 to 3,650), or null to keep them forever.
    #[schemars(range(min = 1, max = 3650))]
    days: Option<u32>,
}

async fn set_retention(
    State(app): State<App>,
    Me(me): Me,
    Body(b): Body<Retention>,
) -> Result<Reply<Data<Retention>>, ApiError> {
    let account = app
        .write(me, move |g, c| g.audit_retention_set(c, b.days))
        .await?;
    Ok(Data::reply(Retention {
        days: account.audit_retention_days,
    }))
}
