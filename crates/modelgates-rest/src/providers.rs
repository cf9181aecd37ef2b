//! Seed 004's provider endpoint routes (CodeGate's paths): list, add (201), get, update (PUT,
//! the whole endpoint), delete, and the write-only auth material (PUT, 204). A provider is
//! addressed by name or `prov_…` id. `""` for `description` or `endpoint` means the default
//! (empty, or the provider type's endpoint), as in the seed's samples; `id` is assigned by the
//! server, so a client's `id` is ignored.

use aide::axum::ApiRouter;
use aide::axum::routing::{get_with, put_with};
use axum::extract::State;
use modelgates::{
    AuthType, NewProvider, Paged, Patch, Provider, ProviderDeleted, ProviderPatch, ProviderType,
    Secret,
};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::App;
use crate::error::ApiError;
use crate::extract::{Body, Id, Me, Once, Params, Query};
use crate::reply::{Created, MaybeReplayed, NoContent, Reply};
use crate::workspaces::PageQuery;

pub(crate) fn routes() -> ApiRouter<App> {
    ApiRouter::new()
        .api_route(
            "/provider-endpoints",
            get_with(list, |o| {
                o.id("listProviderEndpoints")
                    .summary("List provider endpoints (seed 004)")
            })
            .post_with(add, |o| {
                o.id("addProviderEndpoint").summary(
                    "Add a provider endpoint; \"\" for endpoint or description means the default",
                )
            }),
        )
        .api_route(
            "/provider-endpoints/{provider}",
            get_with(get_one, |o| {
                o.id("getProviderEndpoint")
                    .summary("Get a provider endpoint")
            })
            .put_with(update, |o| {
                o.id("updateProviderEndpoint")
                    .summary("Replace a provider endpoint (its auth material is kept)")
            })
            .delete_with(delete, |o| {
                o.id("deleteProviderEndpoint").summary(
                    "Delete a provider endpoint (refused while mux rules use it, unless cascade)",
                )
            }),
        )
        .api_route(
            "/provider-endpoints/{provider}/auth-material",
            put_with(auth_material, |o| {
                o.id("setProviderAuthMaterial")
                    .summary("Set a provider endpoint's auth type and API key (write-only)")
            }),
        )
}

async fn list(
    State(app): State<App>,
    Me(me): Me,
    Query(q): Query<PageQuery>,
) -> Result<Reply<Paged<Provider>>, ApiError> {
    let listed = app.gates.provider_list(&me, q.page()?)?;
    Ok(Reply(listed))
}

/// `""` (the seed's default) and `null` both mean "not given".
fn given(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ProviderAdd {
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
    once: Once,
    Body(b): Body<ProviderAdd>,
) -> Result<MaybeReplayed<Created<Provider>>, ApiError> {
    let me = once.caller(me);
    let asked = me.clone();
    let new = NewProvider {
        name: b.name,
        description: given(b.description),
        provider_type: b.provider_type,
        endpoint: given(b.endpoint),
        auth_type: b.auth_type,
        api_key: b.api_key.map(Secret::new),
    };
    let p = app.write(me, move |g, c| g.provider_add(c, new)).await?;
    Ok(MaybeReplayed::of(&asked, Reply(p)))
}

async fn get_one(
    State(app): State<App>,
    Me(me): Me,
    Params(provider): Id,
) -> Result<Reply<Provider>, ApiError> {
    Ok(Reply(app.gates.provider_get(&me, &provider)?))
}

/// The whole endpoint, as the seed's `ProviderEndpoint` (no API key: see auth-material).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ProviderUpdate {
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
    Body(b): Body<ProviderUpdate>,
) -> Result<Reply<Provider>, ApiError> {
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
    Ok(Reply(updated))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ProviderDeleteQuery {
    /// Also remove the mux rules that use the provider (default false: refused while rules use
    /// it).
    #[serde(default)]
    cascade: bool,
}

async fn delete(
    State(app): State<App>,
    Me(me): Me,
    Params(provider): Id,
    Query(q): Query<ProviderDeleteQuery>,
) -> Result<Reply<ProviderDeleted>, ApiError> {
    let deleted = app
        .write(me, move |g, c| g.provider_delete(c, &provider, q.cascade))
        .await?;
    Ok(Reply(deleted))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AuthMaterial {
    auth_type: AuthType,
    #[serde(default)]
    api_key: Option<String>,
}

async fn auth_material(
    State(app): State<App>,
    Me(me): Me,
    Params(provider): Id,
    Body(b): Body<AuthMaterial>,
) -> Result<NoContent, ApiError> {
    app.write(me, move |g, c| {
        g.provider_set_auth(c, &provider, b.auth_type, b.api_key.map(Secret::new), None)
    })
    .await?;
    Ok(NoContent)
}
