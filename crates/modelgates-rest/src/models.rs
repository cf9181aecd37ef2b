//! Seed 003's model routes: a workspace's model catalog at `/workspaces/{workspaceId}/models`,
//! with the seed's camelCase `{metadata, spec}` objects: list (filters by provider, status and
//! label selector), get, set status, and registering and deleting custom models. A model is
//! addressed by its id (`model_…`) or by `provider/family` (percent-encode the `/`).

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, put};
use modelgates::{ModelFilter, ModelStatus, NewModel, Page};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{Body, Me, Params, Query};
use crate::{App, json};

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/workspaces/{id}/models", get(list).post(register))
        .route(
            "/workspaces/{id}/models/{model}",
            get(get_one).delete(delete),
        )
        .route("/workspaces/{id}/models/{model}/status", put(set_status))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ListQuery {
    offset: Option<i64>,
    limit: Option<i64>,
    /// Only this provider.
    provider: Option<String>,
    /// Only this status (`MODEL_STATUS_ENABLED` / `MODEL_STATUS_DISABLED`).
    status: Option<ModelStatus>,
    /// `key=value[,key=value…]`: every pair must match the model's labels.
    label_selector: Option<String>,
}

async fn list(
    State(app): State<App>,
    Me(me): Me,
    Params(workspace): Params<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let page = Page::new(q.offset, q.limit)?;
    let filter = ModelFilter {
        provider: q.provider,
        status: q.status,
        label_selector: q.label_selector,
    };
    let listed = app
        .gates
        .model_list(&me, workspace.as_str(), &filter, page)?;
    Ok(json(StatusCode::OK, &listed))
}

async fn get_one(
    State(app): State<App>,
    Me(me): Me,
    Params((workspace, model)): Params<(String, String)>,
) -> Result<Response, ApiError> {
    let m = app.gates.model_get(&me, workspace.as_str(), &model)?;
    Ok(json(StatusCode::OK, &m))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: ModelStatus,
}

async fn set_status(
    State(app): State<App>,
    Me(me): Me,
    Params((workspace, model)): Params<(String, String)>,
    Body(b): Body<StatusBody>,
) -> Result<Response, ApiError> {
    let m = app
        .write(me, move |g, c| {
            g.model_set_status(c, workspace.as_str(), &model, b.status)
        })
        .await?;
    Ok(json(StatusCode::OK, &m))
}

/// A custom model, in the seed's camelCase.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RegisterBody {
    provider: String,
    family: String,
    #[serde(default)]
    input_price_per_million_tokens: Option<String>,
    #[serde(default)]
    output_price_per_million_tokens: Option<String>,
    max_input_tokens: u32,
    max_output_tokens: u32,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    status: Option<ModelStatus>,
}

async fn register(
    State(app): State<App>,
    Me(me): Me,
    Params(workspace): Params<String>,
    Body(b): Body<RegisterBody>,
) -> Result<Response, ApiError> {
    let new = NewModel {
        provider: b.provider,
        family: b.family,
        input_price_per_million_tokens: b.input_price_per_million_tokens,
        output_price_per_million_tokens: b.output_price_per_million_tokens,
        max_input_tokens: b.max_input_tokens,
        max_output_tokens: b.max_output_tokens,
        labels: b.labels,
        external_id: b.external_id,
        status: b.status,
    };
    let m = app
        .write(me, move |g, c| g.model_register(c, workspace.as_str(), new))
        .await?;
    Ok(json(StatusCode::CREATED, &m))
}

async fn delete(
    State(app): State<App>,
    Me(me): Me,
    Params((workspace, model)): Params<(String, String)>,
) -> Result<Response, ApiError> {
    let m = app
        .write(me, move |g, c| {
            g.model_delete(c, workspace.as_str(), &model)
        })
        .await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "deleted": true, "data": m }),
    ))
}
