//! The ModelGates REST front end: the routes the seed SDKs call (`/api/v1/workspaces`, their
//! members, organization members), each handler a thin decode → domain call → encode.
//!
//! [`router`] serves paths relative to the API base (`/workspaces`, …); the binary nests it at
//! `/api/v1` behind the same authentication as MCP, which puts the request's
//! [`modelgates::Caller`] into its extensions. Domain errors become HTTP answers in exactly one
//! place ([`ApiError`]); request decoding failures name the field ([`extract`]).

mod error;
pub mod extract;
mod members;
mod models;
mod personas;
mod providers;
mod routing;
mod usage;
mod workspaces;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use modelgates::{Caller, ModelGates};
use serde::Serialize;

pub use error::ApiError;

/// How the REST front end is exposed.
#[derive(Debug, Clone, Default)]
pub struct RestOptions {
    /// Refuse every mutating route (403), as `--read-only` hides MCP's mutating tools.
    pub read_only: bool,
    /// Serve only the routes of these toolsets (the MCP toolset names; `None` = all), as
    /// `--toolsets` limits MCP's tools.
    pub toolsets: Option<Vec<String>>,
}

/// The state every handler shares.
#[derive(Clone, Debug)]
pub(crate) struct App {
    pub(crate) gates: ModelGates,
}

impl App {
    /// Runs a mutating domain call on the blocking pool: a durable commit waits for fsync and
    /// must not stall the runtime's workers.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        caller: Caller,
        f: impl FnOnce(&ModelGates, &Caller) -> modelgates::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let gates = self.gates.clone();
        tokio::task::spawn_blocking(move || f(&gates, &caller))
            .await
            .map_err(|e| ApiError::internal(format!("request task failed: {e}")))?
            .map_err(ApiError::from)
    }
}

/// The REST routes, relative to the API base. Every request must carry the authenticated
/// [`Caller`] in its extensions (the binary's authentication layer puts it there).
pub fn router(gates: ModelGates, options: &RestOptions) -> Router {
    let app = App { gates };
    // Route groups by MCP toolset, so `--toolsets` limits both front ends alike.
    let groups: [(&str, Router<App>); 6] = [
        (
            "workspaces",
            workspaces::routes().merge(routing::lifecycle_routes()),
        ),
        (
            "members",
            members::routes().merge(workspaces::member_routes()),
        ),
        ("models", models::routes()),
        ("routing", providers::routes().merge(routing::routes())),
        ("personas", personas::routes()),
        ("usage", usage::routes()),
    ];
    let mut router = Router::new();
    for (set, routes) in groups {
        if options
            .toolsets
            .as_ref()
            .is_none_or(|sets| sets.iter().any(|s| s == set))
        {
            router = router.merge(routes);
        }
    }
    let router = router
        .fallback(|| async { ApiError::no_route() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(app);
    if options.read_only {
        router.layer(axum::middleware::from_fn(refuse_writes))
    } else {
        router
    }
}

/// A JSON answer (`application/json`) with `status`.
pub(crate) fn json(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => ApiError::internal(format!("encoding the answer: {e}")).into_response(),
    }
}

/// `--read-only`: only GET, HEAD and OPTIONS pass.
async fn refuse_writes(request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        next.run(request).await
    } else {
        ApiError::read_only().into_response()
    }
}
