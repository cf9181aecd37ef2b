//! Seed 004's workspace configuration routes (CodeGate's paths): mux rules as a bare JSON
//! array (`GET|PUT /workspaces/{name}/muxes`, PUT answers 204), custom instructions
//! (`GET|PUT|DELETE /workspaces/{name}/custom-instructions`, `{"prompt": …}`), the active
//! workspace (`GET|POST /workspaces/active`), archiving (`GET /workspaces/archive`,
//! `POST /workspaces/archive/{name}/recover`, `POST /workspaces/{name}/archive`), and route
//! resolution (`POST /workspaces/{name}/route`).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use modelgates::{MatcherType, NewMuxRule, Page, ProviderType, RequestKind, WorkspaceFilter};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{Body, Id, Me, Params};
use crate::{App, json};

/// The workspace lifecycle (the `workspaces` toolset, as in MCP).
pub(crate) fn lifecycle_routes() -> Router<App> {
    Router::new()
        .route("/workspaces/active", get(active).post(activate))
        .route("/workspaces/archive", get(archived))
        .route("/workspaces/archive/{id}/recover", post(recover))
        .route("/workspaces/{id}/archive", post(archive))
}

/// Mux rules, custom instructions and route resolution (the `routing` toolset).
pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/workspaces/{id}/muxes", get(muxes).put(set_muxes))
        .route(
            "/workspaces/{id}/custom-instructions",
            get(instructions)
                .put(set_instructions)
                .delete(clear_instructions),
        )
        .route("/workspaces/{id}/route", post(route))
}

/// A mux rule as CodeGate's API reads and writes it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MuxRuleBody {
    /// The provider endpoint's name (or `prov_…` id).
    provider_name: String,
    /// Optional on input: when given it must be the provider's type.
    #[serde(default)]
    provider_type: Option<ProviderType>,
    model: String,
    matcher_type: MatcherType,
    #[serde(default)]
    matcher: Option<String>,
}

impl MuxRuleBody {
    pub(crate) fn into_new(self) -> NewMuxRule {
        NewMuxRule {
            provider: self.provider_name,
            provider_type: self.provider_type,
            model: self.model,
            matcher_type: self.matcher_type,
            matcher: self.matcher,
        }
    }
}

impl From<modelgates::MuxRule> for MuxRuleBody {
    fn from(r: modelgates::MuxRule) -> Self {
        Self {
            provider_name: r.provider_name,
            provider_type: Some(r.provider_type),
            model: r.model,
            matcher_type: r.matcher_type,
            matcher: r.matcher,
        }
    }
}

async fn muxes(State(app): State<App>, Me(me): Me, Params(ws): Id) -> Result<Response, ApiError> {
    let rules = app.gates.workspace_mux_get(&me, Some(&ws))?;
    let body: Vec<MuxRuleBody> = rules.rules.into_iter().map(MuxRuleBody::from).collect();
    Ok(json(StatusCode::OK, &body))
}

async fn set_muxes(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
    Body(rules): Body<Vec<MuxRuleBody>>,
) -> Result<Response, ApiError> {
    let rules: Vec<NewMuxRule> = rules.into_iter().map(MuxRuleBody::into_new).collect();
    app.write(me, move |g, c| {
        g.workspace_mux_set(c, Some(&ws), &rules, None)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Prompt {
    prompt: String,
}

async fn instructions(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
) -> Result<Response, ApiError> {
    let i = app.gates.workspace_instructions_get(&me, Some(&ws))?;
    Ok(json(
        StatusCode::OK,
        &Prompt {
            prompt: i.custom_instructions.unwrap_or_default(),
        },
    ))
}

async fn set_instructions(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
    Body(b): Body<Prompt>,
) -> Result<Response, ApiError> {
    app.write(me, move |g, c| {
        g.workspace_instructions_set(c, Some(&ws), Some(&b.prompt))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn clear_instructions(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
) -> Result<Response, ApiError> {
    app.write(me, move |g, c| {
        g.workspace_instructions_set(c, Some(&ws), None)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `{name, is_active}`, CodeGate's short form of a workspace (`name` is the slug).
#[derive(Debug, Serialize)]
struct Short {
    name: String,
    is_active: bool,
}

async fn active(State(app): State<App>, Me(me): Me) -> Result<Response, ApiError> {
    let ws = app.gates.workspace_active(&me)?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "workspaces": [Short { name: ws.slug, is_active: true }] }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NameBody {
    name: String,
}

async fn activate(
    State(app): State<App>,
    Me(me): Me,
    Body(b): Body<NameBody>,
) -> Result<Response, ApiError> {
    app.write(me, move |g, c| g.workspace_activate(c, &b.name))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn archived(State(app): State<App>, Me(me): Me) -> Result<Response, ApiError> {
    let filter = WorkspaceFilter {
        include_archived: true,
        ..Default::default()
    };
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let page = Page::new(Some(offset), Some(100))?;
        let listed = app.gates.workspace_list_filtered(&me, &filter, page)?;
        let n = listed.data.len() as i64;
        out.extend(
            listed
                .data
                .into_iter()
                .filter(|w| w.archived_at.is_some())
                .map(|w| Short {
                    name: w.slug,
                    is_active: false,
                }),
        );
        offset += n;
        if n < 100 {
            break;
        }
    }
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "workspaces": out }),
    ))
}

async fn recover(State(app): State<App>, Me(me): Me, Params(ws): Id) -> Result<Response, ApiError> {
    app.write(me, move |g, c| g.workspace_restore(c, &ws))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn archive(State(app): State<App>, Me(me): Me, Params(ws): Id) -> Result<Response, ApiError> {
    app.write(me, move |g, c| g.workspace_archive(c, &ws))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteBody {
    /// `chat` (default) or `fim`.
    #[serde(default)]
    request_type: Option<RequestKind>,
    /// The files the request mentions (may be empty).
    #[serde(default)]
    files: Vec<String>,
}

async fn route(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
    Body(b): Body<RouteBody>,
) -> Result<Response, ApiError> {
    let kind = b.request_type.unwrap_or(RequestKind::Chat);
    let route = app.gates.route_resolve(&me, Some(&ws), kind, &b.files)?;
    Ok(json(StatusCode::OK, &route))
}
