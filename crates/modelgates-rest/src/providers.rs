//! Seed 004's provider endpoint routes (CodeGate's paths): list, add (201), get, update (PUT,
//! the whole endpoint), delete, and the write-only auth material (PUT, 204). A provider is
//! addressed by name or `prov_…` id. `""` for `description` or `endpoint` means the default
//! (empty, or the provider type's endpoint), as in the seed's samples; `id` is assigned by the
//! server, so a client's `id` is ignored.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use modelgates::{AuthType, NewProvider, Patch, ProviderPatch, ProviderType, Secret};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{Body, Id, Me, Params, Query};
use crate::workspaces::PageQuery;
use crate::{App, json};

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/provider-endpoints", get(list).post(add))
        .route(
            "/provider-endpoints/{provider}",
            get(get_one).put(update).delete(delete),
        )
        .route(
            "/provider-endpoints/{provider}/auth-material",
            put(auth_material),
        )
}

async fn list(
    State(app): State<App>,
    Me(me): Me,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let listed = app.gates.provider_list(&me, q.page()?)?;
    Ok(json(StatusCode::OK, &listed))
}

/// `""` (the seed's default) and `null` both mean "not given".
fn given(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    /// Assigned by the server; a given value is ignored (the seed's samples send `""`).
    #[serde(default)]
    #[allow(dead_code)]
    id: Option<String>,
    name: String,
    #[serde(default)]
    description: Option<String>,
    provider_type: ProviderType,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    auth_type: Option<AuthType>,
    #[serde(default)]
    api_key: Option<String>,
}

async fn add(
    State(app): State<App>,
    Me(me): Me,
    Body(b): Body<AddBody>,
) -> Result<Response, ApiError> {
    let new = NewProvider {
        name: b.name,
        description: given(b.description),
        provider_type: b.provider_type,
        endpoint: given(b.endpoint),
        auth_type: b.auth_type,
        api_key: b.api_key.map(Secret::new),
    };
    let p = app.write(me, move |g, c| g.provider_add(c, new)).await?;
    Ok(json(StatusCode::CREATED, &p))
}

async fn get_one(
    State(app): State<App>,
    Me(me): Me,
    Params(provider): Id,
) -> Result<Response, ApiError> {
    Ok(json(
        StatusCode::OK,
        &app.gates.provider_get(&me, &provider)?,
    ))
}

/// The whole endpoint, as the seed's `ProviderEndpoint` (no API key: see auth-material).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    #[serde(default)]
    #[allow(dead_code)]
    id: Option<String>,
    name: String,
    #[serde(default)]
    description: Option<String>,
    provider_type: ProviderType,
    #[serde(default)]
    endpoint: Option<String>,
    /// Changing the auth type goes through auth-material; a value here must match the stored
    /// one (checked by the domain when it differs: see `provider_set_auth`).
    #[serde(default)]
    auth_type: Option<AuthType>,
}

async fn update(
    State(app): State<App>,
    Me(me): Me,
    Params(provider): Id,
    Body(b): Body<UpdateBody>,
) -> Result<Response, ApiError> {
    let p = ProviderPatch {
        name: Some(b.name),
        description: given(b.description).map_or(Patch::Clear, Patch::Set),
        provider_type: Some(b.provider_type),
        endpoint: given(b.endpoint).map_or(Patch::Clear, Patch::Set),
        ..Default::default()
    };
    let auth = b.auth_type;
    let updated = app
        .write(me, move |g, c| {
            let current = g.provider_get(c, &provider)?;
            if let Some(a) = auth
                && a != current.auth_type
            {
                return Err(modelgates::Error::invalid(
                    "auth_type",
                    format!(
                        "the provider's auth type is {}; change it with PUT \
                         /provider-endpoints/{{name}}/auth-material",
                        current.auth_type.as_str()
                    ),
                ));
            }
            g.provider_update(c, &provider, p)
        })
        .await?;
    Ok(json(StatusCode::OK, &updated))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteQuery {
    /// Also remove the mux rules that use the provider (default false: refused while rules use
    /// it).
    #[serde(default)]
    cascade: bool,
}

async fn delete(
    State(app): State<App>,
    Me(me): Me,
    Params(provider): Id,
    Query(q): Query<DeleteQuery>,
) -> Result<Response, ApiError> {
    let deleted = app
        .write(me, move |g, c| g.provider_delete(c, &provider, q.cascade))
        .await?;
    Ok(json(StatusCode::OK, &deleted))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthBody {
    auth_type: AuthType,
    #[serde(default)]
    api_key: Option<String>,
}

async fn auth_material(
    State(app): State<App>,
    Me(me): Me,
    Params(provider): Id,
    Body(b): Body<AuthBody>,
) -> Result<Response, ApiError> {
    app.write(me, move |g, c| {
        g.provider_set_auth(c, &provider, b.auth_type, b.api_key.map(Secret::new), None)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
