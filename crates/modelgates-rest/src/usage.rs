//! Seed 004's usage routes (CodeGate's paths): a workspace's token usage, its messages (paged
//! by `page` / `page_size`, filtered by chat ids and alert trigger types) and one conversation,
//! its alerts (a bare array, newest first).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, Utc};
use modelgates::MessageFilter;
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{Id, Me, Params, Query};
use crate::{App, json};

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/workspaces/{id}/token-usage", get(token_usage))
        .route("/workspaces/{id}/messages", get(messages))
        .route("/workspaces/{id}/messages/{message}", get(message))
        .route("/workspaces/{id}/alerts", get(alerts))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeQuery {
    /// Start of the range, inclusive (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// End of the range, exclusive (RFC 3339).
    to: Option<DateTime<Utc>>,
}

async fn token_usage(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
    Query(q): Query<RangeQuery>,
) -> Result<Response, ApiError> {
    let usage = app.gates.workspace_usage(&me, Some(&ws), q.from, q.to)?;
    Ok(json(StatusCode::OK, &usage))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessagesQuery {
    page: Option<u64>,
    page_size: Option<u64>,
    /// Comma-separated chat ids.
    filter_by_ids: Option<String>,
    /// Comma-separated alert trigger types.
    filter_by_alert_trigger_types: Option<String>,
}

fn list(v: Option<String>) -> Vec<String> {
    v.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

async fn messages(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
    Query(q): Query<MessagesQuery>,
) -> Result<Response, ApiError> {
    let filter = MessageFilter {
        chat_ids: list(q.filter_by_ids),
        trigger_types: list(q.filter_by_alert_trigger_types),
    };
    let page = app
        .gates
        .workspace_messages_list(&me, Some(&ws), &filter, q.page, q.page_size)?;
    Ok(json(StatusCode::OK, &page))
}

async fn message(
    State(app): State<App>,
    Me(me): Me,
    Params((ws, id)): Params<(String, String)>,
) -> Result<Response, ApiError> {
    let c = app.gates.workspace_message_get(&me, Some(&ws), &id)?;
    Ok(json(StatusCode::OK, &c))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsQuery {
    page: Option<u64>,
    page_size: Option<u64>,
}

async fn alerts(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
    Query(q): Query<AlertsQuery>,
) -> Result<Response, ApiError> {
    let page = app
        .gates
        .workspace_alerts_list(&me, Some(&ws), q.page, q.page_size)?;
    Ok(json(StatusCode::OK, &page.data))
}
