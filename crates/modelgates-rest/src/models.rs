//! Seed 003's model routes: a workspace's model catalog at `/workspaces/{workspaceId}/models`,
//! with the seed's camelCase `{metadata, spec}` objects: list (filters by provider, status and
//! label selector), get, set status, and registering and deleting custom models. A model is
//! addressed by its id (`model_…`) or by `provider/family` (percent-encode the `/`).

use std::collections::BTreeMap;

use aide::axum::ApiRouter;
use aide::axum::routing::{get_with, put_with};
use axum::extract::State;
use modelgates::{Model, ModelFilter, ModelOutput, ModelStatus, NewModel, Page, Paged};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::App;
use crate::error::ApiError;
use crate::extract::{Body, Me, Once, Params, Query};
use crate::reply::{Created, MaybeReplayed, Reply};

pub(crate) fn routes() -> ApiRouter<App> {
    ApiRouter::new()
        .api_route(
            "/workspaces/{id}/models",
            get_with(list, |o| {
                o.id("listModels").summary(
                    "List a workspace's model catalog (seed 003), filtered by provider, status \
                     and label selector",
                )
            })
            .post_with(register, |o| {
                o.id("registerModel")
                    .summary("Register a custom model in a workspace's catalog")
            }),
        )
        .api_route(
            "/workspaces/{id}/models/{model}",
            get_with(get_one, |o| o.id("getModel").summary("Get a model"))
                .delete_with(delete, |o| {
                    o.id("deleteModel").summary("Delete a custom model")
                }),
        )
        .api_route(
            "/workspaces/{id}/models/{model}/status",
            put_with(set_status, |o| {
                o.id("setModelStatus")
                    .summary("Enable or disable a model in a workspace")
            }),
        )
}

/// A deleted model: `{"deleted": true, "data": <the model as it was>}`.
#[derive(Debug, Serialize, JsonSchema)]
struct ModelDeleted {
    /// Always `true`.
    deleted: bool,
    data: Model,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ModelListQuery {
    /// How many to skip (default 0).
    #[schemars(range(min = 0))]
    offset: Option<i64>,
    /// How many to answer, 1 to 100 (default 50).
    #[schemars(range(min = 1, max = 100))]
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
    Query(q): Query<ModelListQuery>,
) -> Result<Reply<Paged<Model>>, ApiError> {
    let page = Page::new(q.offset, q.limit)?;
    let filter = ModelFilter {
        provider: q.provider,
        status: q.status,
        label_selector: q.label_selector,
    };
    let listed = app
        .gates
        .model_list(&me, workspace.as_str(), &filter, page)?;
    Ok(Reply(listed))
}

async fn get_one(
    State(app): State<App>,
    Me(me): Me,
    Params((workspace, model)): Params<(String, String)>,
) -> Result<Reply<Model>, ApiError> {
    let m = app.gates.model_get(&me, workspace.as_str(), &model)?;
    Ok(Reply(m))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ModelStatusBody {
    status: ModelStatus,
}

async fn set_status(
    State(app): State<App>,
    Me(me): Me,
    Params((workspace, model)): Params<(String, String)>,
    Body(b): Body<ModelStatusBody>,
) -> Result<Reply<Model>, ApiError> {
    let m = app
        .write(me, move |g, c| {
            g.model_set_status(c, workspace.as_str(), &model, b.status)
        })
        .await?;
    Ok(Reply(m))
}

/// A custom model, in the seed's camelCase.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ModelRegister {
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
    /// `text` (default) or `image`.
    #[serde(default)]
    output: Option<ModelOutput>,
    /// Cents per generated image (image models priced per image).
    #[serde(default)]
    output_price_per_image: Option<String>,
}

async fn register(
    State(app): State<App>,
    Me(me): Me,
    once: Once,
    Params(workspace): Params<String>,
    Body(b): Body<ModelRegister>,
) -> Result<MaybeReplayed<Created<Model>>, ApiError> {
    let me = once.caller(me);
    let asked = me.clone();
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
        output: b.output,
        output_price_per_image: b.output_price_per_image,
    };
    let m = app
        .write(me, move |g, c| g.model_register(c, workspace.as_str(), new))
        .await?;
    Ok(MaybeReplayed::of(&asked, Reply(m)))
}

async fn delete(
    State(app): State<App>,
    Me(me): Me,
    Params((workspace, model)): Params<(String, String)>,
) -> Result<Reply<ModelDeleted>, ApiError> {
    let m = app
        .write(me, move |g, c| {
            g.model_delete(c, workspace.as_str(), &model)
        })
        .await?;
    Ok(Reply(ModelDeleted {
        deleted: true,
        data: m,
    }))
}
