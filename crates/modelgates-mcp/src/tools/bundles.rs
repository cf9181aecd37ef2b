//! Bundle tools: configuration as code — plan a bundle (YAML or JSON) against the database,
//! apply it in one transaction, export the account's configuration as a bundle.
//! Parameter structs, the tool router and the argument decoders of the toolset live here.

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

/// Parameters of bundle_plan.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BundlePlanParams {
    /// The bundle: its YAML or JSON text, or the object (see docs/bundle.schema.json).
    #[schemars(schema_with = "bundle_schema")]
    pub bundle: serde_json::Value,
    /// Plan to take over declared resources made by hand or by another bundle.
    #[serde(default)]
    pub adopt: bool,
}

/// Parameters of bundle_apply.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleApplyParams {
    /// The bundle: its YAML or JSON text, or the object.
    #[schemars(schema_with = "bundle_schema")]
    pub bundle: serde_json::Value,
    /// Take over declared resources made by hand or by another bundle.
    #[serde(default)]
    pub adopt: bool,
    /// The fingerprint of the reviewed plan: apply refuses if its plan is now different.
    pub expected: Option<String>,
}

/// Parameters of bundle_export.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleExportParams {
    /// The bundle key the exported bundle gets (a slug).
    pub bundle: String,
}

/// A plan, as data and as text.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanOutput {
    /// The plan.
    pub data: BundlePlan,
    /// The plan for reading: `+` create, `~` update, `-` remove, `!` conflict.
    pub text: String,
}

/// An exported bundle, as data and as YAML.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExportOutput {
    /// The bundle.
    pub data: Bundle,
    /// The bundle as a YAML file.
    pub yaml: String,
}

#[tool_router(router = bundles_router, vis = "pub(crate)")]
impl McpServer {
    #[tool(
        name = "bundle_plan",
        title = "Plan a configuration bundle",
        description = "Compute what applying a configuration bundle would change, without \
            changing anything (org admins only). A bundle (YAML or JSON, as text or object) \
            declares, under a bundle key, providers (API keys only as {env: NAME}; the server \
            reads only MODELGATES_PROVIDER_* variables, never files), personas and workspaces with their settings, \
            custom_instructions, mux_rules, members, custom models and model_status. The plan \
            lists creates (+), field-level updates (~, before -> after; secrets only as \
            changed) and removals (-) of what the bundle managed and no longer declares: \
            workspaces are archived, providers, personas, custom models and memberships \
            deleted, model statuses reset. Declared resources made by hand or by another \
            bundle are conflicts (!) unless adopt is true. The plan is validated by running \
            it in a transaction that is rolled back, so it fails with the error apply would \
            meet, naming the bundle path (workspaces[1].mux_rules[0].model). Returns {data: \
            {bundle, fingerprint, changes, conflicts, applied}, text}; pass the fingerprint \
            to bundle_apply as expected.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn bundle_plan(
        &self,
        Parameters(p): Parameters<BundlePlanParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<PlanOutput>, ToolError> {
        let p = p?;
        let bundle = Bundle::from_value(p.bundle)?;
        let plan = self
            .run(&ctx, move |g, c| {
                g.bundle_plan(c, &bundle, &EnvSecrets::for_servers(), p.adopt)
            })
            .await?;
        let text = plan.render();
        Ok(Json(PlanOutput { data: plan, text }))
    }

    #[tool(
        name = "bundle_apply",
        title = "Apply a configuration bundle",
        description = "Apply a configuration bundle (org admins only): performs exactly its \
            plan (see bundle_plan) in one transaction, all or nothing, and stamps every \
            resource it creates or adopts with the bundle key. Refuses with a conflict while \
            the plan has conflicts (unless adopt is true) and, when expected (a plan's \
            fingerprint) is given, if the plan is no longer that one. Applying the same bundle \
            again changes nothing. The whole apply is one audit event (operation \
            bundle_apply). Returns the applied plan {data, text}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn bundle_apply(
        &self,
        Parameters(p): Parameters<BundleApplyParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<PlanOutput>, ToolError> {
        let p = p?;
        let bundle = Bundle::from_value(p.bundle)?;
        let options = ApplyOptions {
            expected: p.expected,
            adopt: p.adopt,
        };
        let plan = self
            .run(&ctx, move |g, c| {
                g.bundle_apply(c, &bundle, &EnvSecrets::for_servers(), &options)
            })
            .await?;
        let text = plan.render();
        Ok(Json(PlanOutput { data: plan, text }))
    }

    #[tool(
        name = "bundle_export",
        title = "Export the configuration as a bundle",
        description = "Write the account's configuration as a bundle with the given key (org \
            admins only): every provider (API keys as {env: MODELGATES_PROVIDER_<NAME>_API_KEY}, \
            never the key), persona and non-archived workspace with its settings, \
            instructions, rules, members, custom models and model statuses. Applied to another \
            database that has the same org members (with adopt for resources that exist \
            there, such as the default workspace), it reproduces this configuration, and its \
            second plan is empty. Returns {data: bundle, yaml}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn bundle_export(
        &self,
        Parameters(p): Parameters<BundleExportParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ExportOutput>, ToolError> {
        let p = p?;
        let bundle = self.read(&ctx, move |g, c| g.bundle_export(c, &p.bundle))?;
        let yaml = bundle.to_yaml();
        Ok(Json(ExportOutput { data: bundle, yaml }))
    }
}

/// The argument decoder of each tool of this toolset (for fuzzing and tests).
pub(crate) fn decoder(tool: &str) -> Option<Decoder> {
    Some(match tool {
        "bundle_plan" => decode::<BundlePlanParams>,
        "bundle_apply" => decode::<BundleApplyParams>,
        "bundle_export" => decode::<BundleExportParams>,
        _ => return None,
    })
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
