//! Bundles over REST: `POST /bundles/plan`, `POST /bundles/apply` and `GET /bundles/export`;
//! org admins only, as over MCP (secrets by reference to `MODELGATES_PROVIDER_…` variables only).

use aide::axum::ApiRouter;
use aide::axum::routing::{get_with, post_with};
use axum::extract::State;
use modelgates::{ApplyOptions, Bundle, BundlePlan, EnvSecrets};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::App;
use crate::error::ApiError;
use crate::extract::{Body, Me, Query};
use crate::reply::Reply;

pub(crate) fn routes() -> ApiRouter<App> {
    ApiRouter::new()
        .api_route(
            "/bundles/plan",
            post_with(plan, |o| {
                o.id("planBundle")
                    .summary("Compute what applying a configuration bundle would change")
            }),
        )
        .api_route(
            "/bundles/apply",
            post_with(apply, |o| {
                o.id("applyBundle")
                    .summary("Apply a configuration bundle in one transaction")
            }),
        )
        .api_route(
            "/bundles/export",
            get_with(export, |o| {
                o.id("exportBundle")
                    .summary("Export the account's configuration as a bundle")
            }),
        )
}

/// A bundle to plan or apply.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct BundleRequest {
    /// The bundle: the object, or its YAML or JSON text.
    #[schemars(schema_with = "bundle_schema")]
    bundle: serde_json::Value,
    /// Take over declared resources made by hand or by another bundle.
    #[serde(default)]
    adopt: bool,
    /// Apply only: the fingerprint of the reviewed plan; apply refuses (409) if its plan is
    /// now different.
    expected: Option<String>,
}

/// A plan, as data and as text.
#[derive(Debug, Serialize, JsonSchema)]
struct PlanReply {
    /// The plan.
    data: BundlePlan,
    /// The plan for reading: `+` create, `~` update, `-` remove, `!` conflict.
    text: String,
}

async fn plan(
    State(app): State<App>,
    Me(me): Me,
    Body(b): Body<BundleRequest>,
) -> Result<Reply<PlanReply>, ApiError> {
    if b.expected.is_some() {
        return Err(modelgates::Error::invalid(
            "body.expected",
            "is for /bundles/apply; a plan has no expected fingerprint",
        )
        .into());
    }
    let bundle = Bundle::from_value(b.bundle)?;
    let plan = app
        .write(me, move |g, c| {
            g.bundle_plan(c, &bundle, &EnvSecrets::for_servers(), b.adopt)
        })
        .await?;
    let text = plan.render();
    Ok(Reply(PlanReply { data: plan, text }))
}

async fn apply(
    State(app): State<App>,
    Me(me): Me,
    Body(b): Body<BundleRequest>,
) -> Result<Reply<PlanReply>, ApiError> {
    let bundle = Bundle::from_value(b.bundle)?;
    let options = ApplyOptions {
        expected: b.expected,
        adopt: b.adopt,
    };
    let plan = app
        .write(me, move |g, c| {
            g.bundle_apply(c, &bundle, &EnvSecrets::for_servers(), &options)
        })
        .await?;
    let text = plan.render();
    Ok(Reply(PlanReply { data: plan, text }))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    /// The bundle key the exported bundle gets (a slug).
    bundle: String,
}

/// An exported bundle, as data and as YAML.
#[derive(Debug, Serialize, JsonSchema)]
struct ExportReply {
    /// The bundle.
    data: Bundle,
    /// The bundle as a YAML file.
    yaml: String,
}

async fn export(
    State(app): State<App>,
    Me(me): Me,
    Query(q): Query<ExportQuery>,
) -> Result<Reply<ExportReply>, ApiError> {
    let bundle = app
        .write(me, move |g, c| g.bundle_export(c, &q.bundle))
        .await?;
    let yaml = bundle.to_yaml();
    Ok(Reply(ExportReply { data: bundle, yaml }))
}

/// A bundle argument: YAML or JSON text, or the object (whose shape is
/// docs/bundle.schema.json; checked field by field when decoded).
fn bundle_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "The bundle: its YAML or JSON text, or the object (docs/bundle.schema.json).",
        "anyOf": [
            {"type": "string"},
            {"type": "object", "additionalProperties": true}
        ]
    })
}
