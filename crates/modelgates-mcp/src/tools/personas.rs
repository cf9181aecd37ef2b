//! Persona tools: create, update, list, get, delete. Parameter structs, their conversions, the tool
//! router and the argument decoders of the toolset live here.

use modelgates::*;
use rmcp::RoleServer;
use rmcp::service::RequestContext;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::*;
use crate::args::Parameters;
use crate::error::ToolError;
use crate::server::{McpServer, page};

/// Parameters of persona_create.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonaCreateParams {
    /// Unique name (case-insensitive): letters, digits, '_', '-' and spaces, 1-64 characters.
    pub name: String,
    /// What the persona does, 1-2,000 characters; must not nearly duplicate another persona's.
    pub description: String,
    /// Idempotency key (1-255 visible ASCII characters; a UUID is a good one): a retry with the
    /// same key and arguments within 24 hours returns the first result instead of creating
    /// again; the same key with other arguments is a conflict.
    pub idempotency_key: Option<String>,
}

/// Parameters of persona_update.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonaUpdateParams {
    /// The persona: its name or persona_ id.
    pub persona: String,
    /// New name.
    pub new_name: Option<String>,
    /// New description.
    pub new_description: Option<String>,
}

/// Addresses one persona.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonaRefParams {
    /// The persona: its name (case-insensitive) or persona_ id.
    pub persona: String,
}

#[tool_router(router = personas_router, vis = "pub(crate)")]
impl McpServer {
    #[tool(
        name = "persona_create",
        title = "Create a persona",
        description = "Create a persona: a unique name (letters, digits, '_', '-', spaces; 1-64 \
            chars; compared case-insensitively) and a description (1-2,000 chars). A description \
            that nearly duplicates another persona's (character-trigram Jaccard similarity ≥ 0.8) \
            is refused with conflict naming that persona. Returns {data: persona}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn persona_create(
        &self,
        Parameters(p): Parameters<PersonaCreateParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Persona>>, ToolError> {
        let p = p?;
        let once = p.idempotency_key.clone();
        let data = self
            .run_once(&ctx, once, move |g, c| {
                g.persona_create(c, &p.name, &p.description)
            })
            .await?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "persona_update",
        title = "Update a persona",
        description = "Rename a persona and/or change its description (by name or persona_ id); \
            give new_name, new_description or both. The same uniqueness rules as on create apply \
            (conflict on new_name or new_description). Returns {data: persona}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn persona_update(
        &self,
        Parameters(p): Parameters<PersonaUpdateParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Persona>>, ToolError> {
        let p = p?;
        let patch = PersonaPatch {
            new_name: p.new_name,
            new_description: p.new_description,
        };
        let data = self
            .run(&ctx, move |g, c| g.persona_update(c, &p.persona, patch))
            .await?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "persona_list",
        title = "List personas",
        description = "List the account's personas, oldest first. Paginate with offset/limit \
            (limit 1-100, default 50); the result is {data, total_count}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn persona_list(
        &self,
        Parameters(p): Parameters<ListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Paged<Persona>>, ToolError> {
        let p = p?;
        let page = page(p.offset, p.limit)?;
        Ok(Json(self.read(&ctx, move |g, c| g.persona_list(c, page))?))
    }

    #[tool(
        name = "persona_get",
        title = "Get a persona",
        description = "Get one persona by name (case-insensitive) or persona_ id. Fails with \
            not_found if there is none such. Returns {data: persona}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn persona_get(
        &self,
        Parameters(p): Parameters<PersonaRefParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Persona>>, ToolError> {
        let p = p?;
        let data = self.read(&ctx, move |g, c| g.persona_get(c, &p.persona))?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "persona_delete",
        title = "Delete a persona",
        description = "Delete a persona by name or persona_ id. Fails with not_found if there is \
            none such. Returns {deleted: true, id}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn persona_delete(
        &self,
        Parameters(p): Parameters<PersonaRefParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Deleted>, ToolError> {
        let p = p?;
        let gone = self
            .run(&ctx, move |g, c| g.persona_delete(c, &p.persona))
            .await?;
        Ok(Json(Deleted {
            deleted: true,
            id: gone.id.to_string(),
        }))
    }
}

/// The argument decoder of each tool of this toolset (for fuzzing and tests).
pub(crate) fn decoder(tool: &str) -> Option<Decoder> {
    Some(match tool {
        "persona_create" => decode::<PersonaCreateParams>,
        "persona_update" => decode::<PersonaUpdateParams>,
        "persona_list" => decode::<ListParams>,
        "persona_get" => decode::<PersonaRefParams>,
        "persona_delete" => decode::<PersonaRefParams>,
        _ => return None,
    })
}
