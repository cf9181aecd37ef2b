//! The ModelGates REST front end: the routes the seed SDKs call (`/api/v1/workspaces`, their
//! members, organization members), each handler a thin decode → domain call → encode.
//!
//! [`router`] serves paths relative to the API base (`/workspaces`, …); the binary nests it at
//! `/api/v1` behind the same authentication as MCP, which puts the request's
//! [`modelgates::Caller`] into its extensions. Domain errors become HTTP answers in exactly one
//! place ([`ApiError`]); request decoding failures name the field ([`extract`]). The routes are
//! `aide` routes, so the OpenAPI document ([`openapi`], served at `/openapi.json`) is generated
//! from the handlers' own input and output types.

#![warn(missing_docs)]

mod audit;
mod bundles;
mod error;
pub mod extract;
mod keys;
mod members;
mod models;
mod openapi;
mod personas;
mod providers;
mod reply;
mod routing;
mod usage;
mod workspaces;

use std::sync::Arc;

use aide::axum::ApiRouter;
use aide::openapi::OpenApi;
use axum::Router;
use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use modelgates::{Caller, ModelGates};

pub use error::ApiError;
pub use keys::PresentedKey;
pub use openapi::markdown;

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

/// The routes of the toolsets `options` serves, not yet bound to a store, with their
/// documentation.
fn api(options: &RestOptions) -> (Router<App>, OpenApi) {
    aide::generate::infer_responses(true);
    aide::generate::extract_schemas(true);
    // A type aide cannot document is a bug in this crate: fail the build's tests loudly.
    aide::generate::on_error(|e| panic!("OpenAPI generation: {e}"));
    // Route groups by MCP toolset, so `--toolsets` limits both front ends alike.
    let groups: [(&str, ApiRouter<App>); 9] = [
        (
            "workspaces",
            workspaces::routes().merge(routing::lifecycle_routes()),
        ),
        (
            "members",
            members::routes().merge(workspaces::member_routes()),
        ),
        ("keys", keys::routes()),
        ("models", models::routes()),
        ("routing", providers::routes().merge(routing::routes())),
        ("personas", personas::routes()),
        ("usage", usage::routes()),
        ("audit", audit::routes()),
        ("bundles", bundles::routes()),
    ];
    let mut router = ApiRouter::new();
    for (set, routes) in groups {
        if options
            .toolsets
            .as_ref()
            .is_none_or(|sets| sets.iter().any(|s| s == set))
        {
            router = router.merge(routes.with_path_items(|item| item.tag(set)));
        }
    }
    let mut doc = openapi::base();
    let router = router.finish_api(&mut doc);
    openapi::complete(&mut doc);
    (router, doc)
}

/// The OpenAPI 3.1 document of the routes `options` serves, as JSON.
pub fn openapi(options: &RestOptions) -> serde_json::Value {
    serde_json::to_value(api(options).1).unwrap_or_default()
}

/// The REST routes, relative to the API base, and `GET /openapi.json`. Every request must carry
/// the authenticated [`Caller`] in its extensions (the binary's authentication layer puts it
/// there).
///
/// Embedding the API in an axum application with authentication of its own (here, every
/// request acts as the account's owner; a real layer maps its credentials to a [`Caller`]):
///
/// ```
/// use modelgates::{MemoryStore, ModelGates};
/// use modelgates_rest::{RestOptions, router};
/// # fn main() -> Result<(), modelgates::Error> {
/// let gates = ModelGates::open(MemoryStore::new())?;
/// let owner = gates.default_caller()?;
/// let api = router(gates, &RestOptions::default()).layer(axum::Extension(owner));
/// let app: axum::Router = axum::Router::new().nest("/api/v1", api);
/// # drop(app);
/// # Ok(()) }
/// ```
pub fn router(gates: ModelGates, options: &RestOptions) -> Router {
    let (routes, doc) = api(options);
    let doc: Arc<str> = serde_json::to_string_pretty(&doc)
        .unwrap_or_default()
        .into();
    let router = routes
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = Arc::clone(&doc);
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        doc.to_string(),
                    )
                }
            }),
        )
        .fallback(|| async { ApiError::no_route() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(App { gates });
    if options.read_only {
        router.layer(axum::middleware::from_fn(refuse_writes))
    } else {
        router
    }
}

/// `--read-only`: only GET, HEAD and OPTIONS pass, and the reads that take a body (a bundle's
/// plan changes nothing, as `bundle_plan` is read-only over MCP).
async fn refuse_writes(request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) || request.uri().path().ends_with("/bundles/plan")
    {
        next.run(request).await
    } else {
        ApiError::read_only().into_response()
    }
}
