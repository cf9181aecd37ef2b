//! Organization member routes: `GET /organization/members` in the SDKs' shape
//! (`{id, email, first_name, last_name, role}`), and ModelGates' own member management in the
//! same style: add (201), get, update (absent keeps, `null` clears), remove
//! (`{"deleted": true}`).

use aide::axum::ApiRouter;
use aide::axum::routing::get_with;
use axum::extract::State;
use modelgates::{Member, MemberPatch, NewMember, OrgRole, Paged, Patch};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::App;
use crate::error::ApiError;
use crate::extract::{Body, Id, Me, Once, Params, Query};
use crate::reply::{Created, Data, Deleted, MaybeReplayed, Reply};
use crate::workspaces::{PageQuery, present};

pub(crate) fn routes() -> ApiRouter<App> {
    ApiRouter::new()
        .api_route(
            "/organization/members",
            get_with(list, |o| {
                o.id("listOrganizationMembers")
                    .summary("List the organization's members")
            })
            .post_with(add, |o| {
                o.id("addOrganizationMember")
                    .summary("Add a member to the organization")
            }),
        )
        .api_route(
            "/organization/members/{user_id}",
            get_with(get_one, |o| {
                o.id("getOrganizationMember").summary("Get a member")
            })
            .patch_with(update, |o| {
                o.id("updateOrganizationMember")
                    .summary("Change a member's email, names or role (absent keeps, null clears)")
            })
            .delete_with(remove, |o| {
                o.id("removeOrganizationMember")
                    .summary("Remove a member from the organization")
            }),
        )
}

/// An organization member as the SDKs read it; `id` is the member's user id.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "OrganizationMember")]
struct MemberBody {
    id: String,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    role: &'static str,
}

impl From<Member> for MemberBody {
    fn from(m: Member) -> Self {
        Self {
            id: m.user_id.to_string(),
            email: m.email,
            first_name: m.first_name,
            last_name: m.last_name,
            role: m.role.as_str(),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MemberAdd {
    /// The user id (`user_…`-style: letters, digits, `_`, `-`).
    id: String,
    email: String,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    /// `org:admin` or `org:member` (default).
    #[serde(default)]
    role: Option<OrgRole>,
}

async fn add(
    State(app): State<App>,
    Me(me): Me,
    once: Once,
    Body(b): Body<MemberAdd>,
) -> Result<MaybeReplayed<Created<Data<MemberBody>>>, ApiError> {
    let me = once.caller(me);
    let asked = me.clone();
    let new = NewMember {
        user_id: b.id,
        email: b.email,
        first_name: b.first_name,
        last_name: b.last_name,
        role: b.role,
    };
    let m = app.write(me, move |g, c| g.member_add(c, new)).await?;
    Ok(MaybeReplayed::of(
        &asked,
        Data::created(MemberBody::from(m)),
    ))
}

async fn get_one(
    State(app): State<App>,
    Me(me): Me,
    Params(user): Id,
) -> Result<Reply<Data<MemberBody>>, ApiError> {
    let m = app.gates.member_get(&me, &user)?;
    Ok(Data::reply(MemberBody::from(m)))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MemberUpdate {
    #[serde(default, deserialize_with = "present")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    role: Option<Option<OrgRole>>,
}

/// A field that cannot be cleared: `null` is a 400 naming it.
fn not_null<T>(field: &str, v: Option<Option<T>>) -> Result<Option<T>, ApiError> {
    match v {
        Some(None) => Err(ApiError::bad_request(
            &format!("body.{field}"),
            "cannot be null; leave it out to keep it",
        )),
        Some(Some(v)) => Ok(Some(v)),
        None => Ok(None),
    }
}

async fn update(
    State(app): State<App>,
    Me(me): Me,
    Params(user): Id,
    Body(b): Body<MemberUpdate>,
) -> Result<Reply<Data<MemberBody>>, ApiError> {
    let p = MemberPatch {
        email: not_null("email", b.email)?,
        first_name: Patch::from(b.first_name),
        last_name: Patch::from(b.last_name),
        role: not_null("role", b.role)?,
    };
    let m = app
        .write(me, move |g, c| g.member_update(c, &user, p))
        .await?;
    Ok(Data::reply(MemberBody::from(m)))
}

async fn remove(
    State(app): State<App>,
    Me(me): Me,
    Params(user): Id,
) -> Result<Reply<Deleted>, ApiError> {
    app.write(me, move |g, c| g.member_remove(c, &user)).await?;
    Ok(Deleted::reply())
}

async fn list(
    State(app): State<App>,
    Me(me): Me,
    Query(q): Query<PageQuery>,
) -> Result<Reply<Paged<MemberBody>>, ApiError> {
    let listed = app.gates.member_list(&me, q.page()?)?;
    let data: Vec<MemberBody> = listed.data.into_iter().map(MemberBody::from).collect();
    Ok(Reply(Paged {
        data,
        total_count: listed.total_count,
    }))
}
