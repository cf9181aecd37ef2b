//! The streamable HTTP front end: rmcp's streamable HTTP service at `/mcp`, behind bearer
//! authentication with management keys (checked against the in-memory key snapshot on every
//! request) and Host/Origin validation against DNS rebinding.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use modelgates::{Caller, Error, ErrorKind, KeyKind, ModelGates};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::{McpServer, Surface};

/// How the HTTP front end is exposed.
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// Browser origins allowed to call besides loopback ones (`http://localhost:*` and the
    /// like are always allowed); any other `Origin` header is refused with 403. Requests
    /// without an `Origin` (non-browser clients) pass.
    pub allowed_origins: Vec<String>,
    /// Extra `Host` values to accept besides loopback (for a server behind a proxy).
    pub allowed_hosts: Vec<String>,
    /// The tools every session exposes.
    pub surface: Surface,
    /// TEST ONLY: skip authentication and act as this caller for every request (for protocol
    /// conformance suites, which cannot send a key). Never set in production.
    pub insecure_caller: Option<Caller>,
}

/// The axum router serving MCP at `/mcp`. `shutdown` ends every session when cancelled.
pub fn router(gates: ModelGates, options: &HttpOptions, shutdown: CancellationToken) -> Router {
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()];
    hosts.extend(options.allowed_hosts.iter().cloned());
    // Loopback pages may call a loopback server; any other Origin needs --allow-origin.
    let mut origins: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
        .iter()
        .flat_map(|h| [format!("http://{h}:*"), format!("https://{h}:*")])
        .collect();
    origins.extend(options.allowed_origins.iter().cloned());
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .enforce_origin_validation()
        .with_cancellation_token(shutdown);
    let factory_gates = gates.clone();
    let surface = options.surface.clone();
    let service = StreamableHttpService::new(
        move || Ok(McpServer::per_request(factory_gates.clone()).with_surface(&surface)),
        LocalSessionManager::default().into(),
        config,
    );
    let router = Router::new().nest_service("/mcp", service);
    match options.insecure_caller.clone() {
        Some(caller) => {
            tracing::warn!("authentication is DISABLED (--insecure-no-auth): test use only");
            router.layer(axum::middleware::from_fn(
                move |mut request: Request, next: Next| {
                    request.extensions_mut().insert(caller.clone());
                    next.run(request)
                },
            ))
        }
        None => router.layer(axum::middleware::from_fn_with_state(gates, authenticate)),
    }
}

/// `{error: {code, message}}` with the status of the error kind (and `WWW-Authenticate` on 401).
fn refuse(err: &Error) -> Response {
    let kind = err.kind();
    let status = StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
    let body = json!({ "error": { "code": kind.code(), "message": err.to_string() } });
    let content_type = [(header::CONTENT_TYPE, "application/json")];
    let mut response = (status, content_type, body.to_string()).into_response();
    if kind == ErrorKind::Unauthenticated {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// Requires `Authorization: Bearer <management key>`; the request then acts as the key's user
/// in the key's account. Unknown or missing keys are 401; inference, disabled or expired keys
/// are 403. Verification reads the snapshot, so a key disabled anywhere stops working on the
/// next request.
async fn authenticate(
    State(gates): State<ModelGates>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(secret) = presented else {
        return refuse(&Error::Unauthenticated(
            "send Authorization: Bearer <management key> (create one with `modelgates keys create --management`)".into(),
        ));
    };
    let key = match gates.verify_key(secret) {
        Ok(key) => key,
        Err(e) => return refuse(&e),
    };
    if key.kind != KeyKind::Management {
        return refuse(&Error::PermissionDenied(format!(
            "API key {} is an inference key; the MCP server needs a management key",
            key.key_id
        )));
    }
    request.extensions_mut().insert(Caller {
        account: key.account,
        user_id: key.user_id,
    });
    next.run(request).await
}
