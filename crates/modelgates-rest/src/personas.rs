//! Seed 004's persona routes (CodeGate's paths): list, create (201), get, update (PUT with
//! `new_name` / `new_description`), delete (204). A persona is addressed by name or
//! `persona_…` id.

use aide::axum::ApiRouter;
use aide::axum::routing::get_with;
use axum::extract::State;
use modelgates::{Paged, Persona, PersonaPatch};
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
            "/personas",
            get_with(list, |o| {
                o.id("listPersonas").summary("List personas (seed 004)")
            })
            .post_with(create, |o| {
                o.id("createPersona").summary("Create a persona")
            }),
        )
        .api_route(
            "/personas/{persona}",
            get_with(get_one, |o| o.id("getPersona").summary("Get a persona"))
                .put_with(update, |o| {
                    o.id("updatePersona")
                        .summary("Rename a persona or change its description")
                })
                .delete_with(delete, |o| {
                    o.id("deletePersona").summary("Delete a persona")
                }),
        )
}

async fn list(
    State(app): State<App>,
    Me(me): Me,
    Query(q): Query<PageQuery>,
) -> Result<Reply<Paged<Persona>>, ApiError> {
    Ok(Reply(app.gates.persona_list(&me, q.page()?)?))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PersonaCreate {
    name: String,
    description: String,
}

async fn create(
    State(app): State<App>,
    Me(me): Me,
    once: Once,
    Body(b): Body<PersonaCreate>,
) -> Result<MaybeReplayed<Created<Persona>>, ApiError> {
    let me = once.caller(me);
    let asked = me.clone();
    let p = app
        .write(me, move |g, c| g.persona_create(c, &b.name, &b.description))
        .await?;
    Ok(MaybeReplayed::of(&asked, Reply(p)))
}

async fn get_one(
    State(app): State<App>,
    Me(me): Me,
    Params(persona): Id,
) -> Result<Reply<Persona>, ApiError> {
    Ok(Reply(app.gates.persona_get(&me, &persona)?))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PersonaUpdate {
    #[serde(default)]
    new_name: Option<String>,
    #[serde(default)]
    new_description: Option<String>,
}

async fn update(
    State(app): State<App>,
    Me(me): Me,
    Params(persona): Id,
    Body(b): Body<PersonaUpdate>,
) -> Result<Reply<Persona>, ApiError> {
    let patch = PersonaPatch {
        new_name: b.new_name,
        new_description: b.new_description,
    };
    let p = app
        .write(me, move |g, c| g.persona_update(c, &persona, patch))
        .await?;
    Ok(Reply(p))
}

async fn delete(
    State(app): State<App>,
    Me(me): Me,
    Params(persona): Id,
) -> Result<NoContent, ApiError> {
    app.write(me, move |g, c| g.persona_delete(c, &persona))
        .await?;
    Ok(NoContent)
}
