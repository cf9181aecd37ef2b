//! Organization member routes: `GET /organization/members` in the SDKs' shape
//! (`{id, email, first_name, last_name, role}`), and ModelGates' own member management in the
//! same style: add (201), get, update (absent keeps, `null` clears), remove
//! (`{"deleted": true}`).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use modelgates::{Member, MemberPatch, NewMember, OrgRole, Patch};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{Body, Id, Me, Params, Query};
use crate::workspaces::{PageQuery, present};
use crate::{App, json};

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/organization/members", get(list).post(add))
        .route(
            "/organization/members/{user_id}",
            get(get_one).patch(update).delete(remove),
        )
}

/// An organization member as the SDKs read it; `id` is the member's user id.
#[derive(Debug, Serialize)]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
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
    Body(b): Body<AddBody>,
) -> Result<Response, ApiError> {
    let new = NewMember {
        user_id: b.id,
        email: b.email,
        first_name: b.first_name,
        last_name: b.last_name,
        role: b.role,
    };
    let m = app.write(me, move |g, c| g.member_add(c, new)).await?;
    Ok(json(
        StatusCode::CREATED,
        &serde_json::json!({ "data": MemberBody::from(m) }),
    ))
}

async fn get_one(
    State(app): State<App>,
    Me(me): Me,
    Params(user): Id,
) -> Result<Response, ApiError> {
    let m = app.gates.member_get(&me, &user)?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "data": MemberBody::from(m) }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
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
    Body(b): Body<UpdateBody>,
) -> Result<Response, ApiError> {
    let p = MemberPatch {
        email: not_null("email", b.email)?,
        first_name: Patch::from(b.first_name),
        last_name: Patch::from(b.last_name),
        role: not_null("role", b.role)?,
    };
    let m = app
        .write(me, move |g, c| g.member_update(c, &user, p))
        .await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "data": MemberBody::from(m) }),
    ))
}

async fn remove(
    State(app): State<App>,
    Me(me): Me,
    Params(user): Id,
) -> Result<Response, ApiError> {
    app.write(me, move |g, c| g.member_remove(c, &user)).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "deleted": true }),
    ))
}

async fn list(
    State(app): State<App>,
    Me(me): Me,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let listed = app.gates.member_list(&me, q.page()?)?;
    let data: Vec<MemberBody> = listed.data.into_iter().map(MemberBody::from).collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "data": data, "total_count": listed.total_count }),
    ))
}
