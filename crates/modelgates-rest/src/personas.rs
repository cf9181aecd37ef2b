//! Seed 004's persona routes (CodeGate's paths): list, create (201), get, update (PUT with
//! `new_name` / `new_description`), delete (204). A persona is addressed by name or
//! `persona_…` id.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use modelgates::PersonaPatch;
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{Body, Id, Me, Params, Query};
use crate::workspaces::PageQuery;
use crate::{App, json};

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/personas", get(list).post(create))
        .route(
            "/personas/{persona}",
            get(get_one).put(update).delete(delete),
        )
}

async fn list(
    State(app): State<App>,
    Me(me): Me,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    Ok(json(
        StatusCode::OK,
        &app.gates.persona_list(&me, q.page()?)?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    description: String,
}

async fn create(
    State(app): State<App>,
    Me(me): Me,
    Body(b): Body<CreateBody>,
) -> Result<Response, ApiError> {
    let p = app
        .write(me, move |g, c| g.persona_create(c, &b.name, &b.description))
        .await?;
    Ok(json(StatusCode::CREATED, &p))
}

async fn get_one(
    State(app): State<App>,
    Me(me): Me,
    Params(persona): Id,
) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &app.gates.persona_get(&me, &persona)?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    #[serde(default)]
    new_name: Option<String>,
    #[serde(default)]
    new_description: Option<String>,
}

async fn update(
    State(app): State<App>,
    Me(me): Me,
    Params(persona): Id,
    Body(b): Body<UpdateBody>,
) -> Result<Response, ApiError> {
    let patch = PersonaPatch {
        new_name: b.new_name,
        new_description: b.new_description,
    };
    let p = app
        .write(me, move |g, c| g.persona_update(c, &persona, patch))
        .await?;
    Ok(json(StatusCode::OK, &p))
}

async fn delete(
    State(app): State<App>,
    Me(me): Me,
    Params(persona): Id,
) -> Result<Response, ApiError> {
    app.write(me, move |g, c| g.persona_delete(c, &persona))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
