//! Organization member routes: `GET /organization/members` in the SDKs' shape
//! (`{id, email, first_name, last_name, role}`).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Serialize;

use crate::error::ApiError;
use crate::extract::{Me, Query};
use crate::workspaces::PageQuery;
use crate::{App, json};

pub(crate) fn routes() -> Router<App> {
    Router::new().route("/organization/members", get(list))
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

async fn list(
    State(app): State<App>,
    Me(me): Me,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let listed = app.gates.member_list(&me, q.page()?)?;
    let data: Vec<MemberBody> = listed
        .data
        .into_iter()
        .map(|m| MemberBody {
            id: m.user_id.to_string(),
            email: m.email,
            first_name: m.first_name,
            last_name: m.last_name,
            role: m.role.as_str(),
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "data": data, "total_count": listed.total_count }),
    ))
}
