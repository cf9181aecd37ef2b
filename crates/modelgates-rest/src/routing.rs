//! Seed 004's workspace configuration routes (CodeGate's paths): mux rules as a bare JSON
//! array (`GET|PUT /workspaces/{name}/muxes`, PUT answers 204; `POST …/muxes/check` checks a
//! list without storing it), custom instructions
//! (`GET|PUT|DELETE /workspaces/{name}/custom-instructions`, `{"prompt": …}`), the active
//! workspace (`GET|POST /workspaces/active`), archiving (`GET /workspaces/archive`,
//! `POST /workspaces/archive/{name}/recover`, `POST /workspaces/{name}/archive`), and route
//! resolution (`POST /workspaces/{name}/route`).

use aide::axum::ApiRouter;
use aide::axum::routing::{get_with, post_with};
use axum::extract::State;
use modelgates::{
    MatcherType, MuxRules, NewMuxRule, Page, ProviderType, RequestKind, Route, WorkspaceFilter,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::App;
use crate::error::ApiError;
use crate::extract::{Body, Id, Me, Params};
use crate::reply::{NoContent, Reply};

/// The workspace lifecycle (the `workspaces` toolset, as in MCP).
pub(crate) fn lifecycle_routes() -> ApiRouter<App> {
    ApiRouter::new()
        .api_route(
            "/workspaces/active",
            get_with(active, |o| {
                o.id("getActiveWorkspace")
                    .summary("The active workspace (seed 004)")
            })
            .post_with(activate, |o| {
                o.id("activateWorkspace")
                    .summary("Make a workspace the active one")
            }),
        )
        .api_route(
            "/workspaces/archive",
            get_with(archived, |o| {
                o.id("listArchivedWorkspaces")
                    .summary("List archived workspaces")
            }),
        )
        .api_route(
            "/workspaces/archive/{id}/recover",
            post_with(recover, |o| {
                o.id("recoverWorkspace")
                    .summary("Restore an archived workspace")
            }),
        )
        .api_route(
            "/workspaces/{id}/archive",
            post_with(archive, |o| {
                o.id("archiveWorkspace")
                    .summary("Archive a workspace (never the active or default one)")
            }),
        )
}

/// Mux rules, custom instructions and route resolution (the `routing` toolset).
pub(crate) fn routes() -> ApiRouter<App> {
    ApiRouter::new()
        .api_route(
            "/workspaces/{id}/muxes",
            get_with(muxes, |o| {
                o.id("getMuxRules")
                    .summary("A workspace's mux rules, in order (a bare JSON array)")
            })
            .put_with(set_muxes, |o| {
                o.id("setMuxRules")
                    .summary("Replace a workspace's mux rules (a bare JSON array)")
            }),
        )
        .api_route(
            "/workspaces/{id}/muxes/check",
            post_with(check_muxes, |o| {
                o.id("checkMuxRules").summary(
                    "Check a rule list as PUT would, without storing it: the rules as they would \
                     be stored, warnings and unreachable rules",
                )
            }),
        )
        .api_route(
            "/workspaces/{id}/custom-instructions",
            get_with(instructions, |o| {
                o.id("getCustomInstructions")
                    .summary("A workspace's custom instructions")
            })
            .put_with(set_instructions, |o| {
                o.id("setCustomInstructions")
                    .summary("Set a workspace's custom instructions")
            })
            .delete_with(clear_instructions, |o| {
                o.id("clearCustomInstructions")
                    .summary("Clear a workspace's custom instructions")
            }),
        )
        .api_route(
            "/workspaces/{id}/route",
            post_with(route, |o| {
                o.id("resolveRoute")
                    .summary("Resolve which provider and model a request of this workspace goes to")
            }),
        )
}

/// A mux rule as CodeGate's API reads and writes it.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
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

async fn muxes(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
) -> Result<Reply<Vec<MuxRuleBody>>, ApiError> {
    let rules = app.gates.workspace_mux_get(&me, Some(&ws))?;
    let body: Vec<MuxRuleBody> = rules.rules.into_iter().map(MuxRuleBody::from).collect();
    Ok(Reply(body))
}

async fn set_muxes(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
    Body(rules): Body<Vec<MuxRuleBody>>,
) -> Result<NoContent, ApiError> {
    let rules: Vec<NewMuxRule> = rules.into_iter().map(MuxRuleBody::into_new).collect();
    app.write(me, move |g, c| {
        g.workspace_mux_set(c, Some(&ws), &rules, None)
    })
    .await?;
    Ok(NoContent)
}

async fn check_muxes(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
    Body(rules): Body<Vec<MuxRuleBody>>,
) -> Result<Reply<MuxRules>, ApiError> {
    let rules: Vec<NewMuxRule> = rules.into_iter().map(MuxRuleBody::into_new).collect();
    Ok(Reply(app.gates.workspace_mux_check(
        &me,
        Some(&ws),
        &rules,
    )?))
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Prompt {
    prompt: String,
}

async fn instructions(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
) -> Result<Reply<Prompt>, ApiError> {
    let i = app.gates.workspace_instructions_get(&me, Some(&ws))?;
    Ok(Reply(Prompt {
        prompt: i.custom_instructions.unwrap_or_default(),
    }))
}

async fn set_instructions(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
    Body(b): Body<Prompt>,
) -> Result<NoContent, ApiError> {
    app.write(me, move |g, c| {
        g.workspace_instructions_set(c, Some(&ws), Some(&b.prompt))
    })
    .await?;
    Ok(NoContent)
}

async fn clear_instructions(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
) -> Result<NoContent, ApiError> {
    app.write(me, move |g, c| {
        g.workspace_instructions_set(c, Some(&ws), None)
    })
    .await?;
    Ok(NoContent)
}

/// `{"workspaces": […]}`, CodeGate's list of short workspaces.
#[derive(Debug, Serialize, JsonSchema)]
struct Shorts {
    workspaces: Vec<Short>,
}

/// `{name, is_active}`, CodeGate's short form of a workspace (`name` is the slug).
#[derive(Debug, Serialize, JsonSchema)]
struct Short {
    name: String,
    is_active: bool,
}

async fn active(State(app): State<App>, Me(me): Me) -> Result<Reply<Shorts>, ApiError> {
    let ws = app.gates.workspace_active(&me)?;
    Ok(Reply(Shorts {
        workspaces: vec![Short {
            name: ws.slug,
            is_active: true,
        }],
    }))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NameBody {
    name: String,
}

async fn activate(
    State(app): State<App>,
    Me(me): Me,
    Body(b): Body<NameBody>,
) -> Result<NoContent, ApiError> {
    app.write(me, move |g, c| g.workspace_activate(c, &b.name))
        .await?;
    Ok(NoContent)
}

async fn archived(State(app): State<App>, Me(me): Me) -> Result<Reply<Shorts>, ApiError> {
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
    Ok(Reply(Shorts { workspaces: out }))
}

async fn recover(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
) -> Result<NoContent, ApiError> {
    app.write(me, move |g, c| g.workspace_restore(c, &ws))
        .await?;
    Ok(NoContent)
}

async fn archive(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
) -> Result<NoContent, ApiError> {
    app.write(me, move |g, c| g.workspace_archive(c, &ws))
        .await?;
    Ok(NoContent)
}

#[derive(Debug, Deserialize, JsonSchema)]
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
) -> Result<Reply<Route>, ApiError> {
    let kind = b.request_type.unwrap_or(RequestKind::Chat);
    let route = app.gates.route_resolve(&me, Some(&ws), kind, &b.files)?;
    Ok(Reply(route))
}
