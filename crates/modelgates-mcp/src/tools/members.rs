//! Member tools: organization members (add, list, get, update, remove) and workspace membership
//! (list, bulk add, bulk remove). Parameter structs, their conversions, the tool router and the
//! argument decoders of the toolset live here.

use modelgates::*;
use rmcp::RoleServer;
use rmcp::service::RequestContext;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::*;
use crate::args::{Parameters, double_option};
use crate::error::ToolError;
use crate::server::{McpServer, page};

/// Parameters of workspace_members_list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceMembersListParams {
    /// The workspace ID (UUID) or slug.
    pub id: String,
    /// Number of records to skip (default 0).
    #[schemars(range(min = 0))]
    pub offset: Option<i64>,
    /// Maximum number of records to return, 1-100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
}

/// Parameters of workspace_members_add / workspace_members_remove.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceMembersParams {
    /// The workspace ID (UUID) or slug.
    pub id: String,
    /// 1-100 user ids of organization members, e.g. ["user_abc123", "user_def456"].
    pub user_ids: Vec<String>,
}

/// Parameters of member_add.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberAddParams {
    /// The user id, e.g. "user_abc123" (1-64 ASCII letters, digits, '_' or '-').
    pub user_id: String,
    /// Email address, unique in the organization.
    pub email: String,
    /// Given name (≤ 100 chars).
    pub first_name: Option<String>,
    /// Family name (≤ 100 chars).
    pub last_name: Option<String>,
    /// Organization role (default "org:member").
    pub role: Option<OrgRole>,
    /// Idempotency key (1-255 visible ASCII characters; a UUID is a good one): a retry with the
    /// same key and arguments within 24 hours returns the first result instead of creating
    /// again; the same key with other arguments is a conflict.
    pub idempotency_key: Option<String>,
}

/// Addresses one organization member.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIdParams {
    /// The user id, e.g. "user_abc123".
    pub user_id: String,
}

/// Parameters of member_update. Omitted fields keep their value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdateParams {
    /// The user id.
    pub user_id: String,
    /// New email (unique in the organization).
    pub email: Option<String>,
    /// Given name; null clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub first_name: Option<Option<String>>,
    /// Family name; null clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub last_name: Option<Option<String>>,
    /// New organization role; the member's role in every workspace follows it.
    pub role: Option<OrgRole>,
}

#[tool_router(router = members_router, vis = "pub(crate)")]
impl McpServer {
    #[tool(
        name = "workspace_members_list",
        title = "List workspace members",
        description = "List the members of a workspace (by UUID or slug), ordered by user id, with their \
            workspace role (admin or member, following their organization role). Paginate with \
            offset/limit; returns {data, total_count}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_members_list(
        &self,
        Parameters(p): Parameters<WorkspaceMembersListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Paged<WorkspaceMember>>, ToolError> {
        let p = p?;
        let page = page(p.offset, p.limit)?;
        Ok(Json(self.read(&ctx, move |g, c| {
            g.workspace_members_list(c, &p.id, page)
        })?))
    }

    #[tool(
        name = "workspace_members_add",
        title = "Add members to a workspace",
        description = "Add 1-100 organization members to a workspace (by UUID or slug). Each gets the \
            role they hold in the organization (org:admin → admin, org:member → member). Re-adding is \
            harmless. All-or-nothing: if any user id is not an organization member the call fails \
            with invalid_argument naming them and adds nobody. Returns {added_count, data}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_members_add(
        &self,
        Parameters(p): Parameters<WorkspaceMembersParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<BulkAdded>, ToolError> {
        let p = p?;
        Ok(Json(
            self.run(&ctx, move |g, c| {
                g.workspace_members_add(c, &p.id, &p.user_ids)
            })
            .await?,
        ))
    }

    #[tool(
        name = "workspace_members_remove",
        title = "Remove members from a workspace",
        description = "Remove 1-100 members from a workspace (by UUID or slug); their disabled/expired \
            keys in it are deleted too. All-or-nothing: if any of them still has an active API key in \
            the workspace, nobody is removed and the error (failed_precondition, reason \
            MEMBER_HAS_ACTIVE_KEYS) names the users and keys. Returns {removed_count}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_members_remove(
        &self,
        Parameters(p): Parameters<WorkspaceMembersParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<BulkRemoved>, ToolError> {
        let p = p?;
        Ok(Json(
            self.run(&ctx, move |g, c| {
                g.workspace_members_remove(c, &p.id, &p.user_ids)
            })
            .await?,
        ))
    }

    #[tool(
        name = "member_add",
        title = "Add an organization member",
        description = "Add a user to the organization with a user id (e.g. user_abc123), an email and \
            a role (org:admin or org:member, default org:member). Add them to workspaces with \
            workspace_members_add. Fails with conflict if the user id or email is already used. \
            Returns {data: member}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn member_add(
        &self,
        Parameters(p): Parameters<MemberAddParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Member>>, ToolError> {
        let p = p?;
        let once = p.idempotency_key.clone();
        let new = NewMember {
            user_id: p.user_id,
            email: p.email,
            first_name: p.first_name,
            last_name: p.last_name,
            role: p.role,
        };
        Ok(Json(Data {
            data: self
                .run_once(&ctx, once, move |g, c| g.member_add(c, new))
                .await?,
        }))
    }

    #[tool(
        name = "member_list",
        title = "List organization members",
        description = "List the organization's members, ordered by user id, with email, names and role \
            (org admins only). Paginate with offset/limit; returns {data, total_count}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn member_list(
        &self,
        Parameters(p): Parameters<ListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Paged<Member>>, ToolError> {
        let p = p?;
        let page = page(p.offset, p.limit)?;
        Ok(Json(self.read(&ctx, move |g, c| g.member_list(c, page))?))
    }

    #[tool(
        name = "member_get",
        title = "Get an organization member",
        description = "Get one organization member by user id (org members may get only themselves). \
            Fails with not_found if the user is not a member. Returns {data: member}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn member_get(
        &self,
        Parameters(p): Parameters<UserIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Member>>, ToolError> {
        let p = p?;
        Ok(Json(Data {
            data: self.read(&ctx, move |g, c| g.member_get(c, &p.user_id))?,
        }))
    }

    #[tool(
        name = "member_update",
        title = "Update an organization member",
        description = "Change a member's email, names or organization role. A role change also changes \
            their role in every workspace. Fails with failed_precondition (LAST_ORG_ADMIN) when \
            demoting the only org:admin, conflict when the email is taken. Returns {data: member}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn member_update(
        &self,
        Parameters(p): Parameters<MemberUpdateParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Member>>, ToolError> {
        let p = p?;
        let user_id = p.user_id;
        let patch = MemberPatch {
            email: p.email,
            first_name: p.first_name.into(),
            last_name: p.last_name.into(),
            role: p.role,
        };
        Ok(Json(Data {
            data: self
                .run(&ctx, move |g, c| g.member_update(c, &user_id, patch))
                .await?,
        }))
    }

    #[tool(
        name = "member_remove",
        title = "Remove an organization member",
        description = "Remove a user from the organization and from all its workspaces; their disabled/\
            expired keys are deleted. Fails with failed_precondition (MEMBER_HAS_ACTIVE_KEYS, naming \
            the keys) while they have active API keys, or (CANNOT_REMOVE_SELF) for yourself. \
            Returns {deleted: true, id}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn member_remove(
        &self,
        Parameters(p): Parameters<UserIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Deleted>, ToolError> {
        let p = p?;
        let m = self
            .run(&ctx, move |g, c| g.member_remove(c, &p.user_id))
            .await?;
        Ok(Json(Deleted {
            deleted: true,
            id: m.user_id.to_string(),
        }))
    }
}

/// The argument decoder of each tool of this toolset (for fuzzing and tests).
pub(crate) fn decoder(tool: &str) -> Option<Decoder> {
    Some(match tool {
        "workspace_members_list" => decode::<WorkspaceMembersListParams>,
        "workspace_members_add" => decode::<WorkspaceMembersParams>,
        "workspace_members_remove" => decode::<WorkspaceMembersParams>,
        "member_add" => decode::<MemberAddParams>,
        "member_list" => decode::<ListParams>,
        "member_get" => decode::<UserIdParams>,
        "member_update" => decode::<MemberUpdateParams>,
        "member_remove" => decode::<UserIdParams>,
        _ => return None,
    })
}
