//! The HTTP front end: rmcp's streamable HTTP service at `/mcp` and the REST API at `/api/v1`
//! (`modelgates-rest`), behind one bearer authentication with management keys (checked against
//! the in-memory key snapshot on every request), Host/Origin validation against DNS rebinding,
//! CORS for the allowed origins, MCP sessions bound to the key that created them with caps per
//! key and in total, and a connection loop with a connection cap, header and request timeouts
//! and a bounded shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use modelgates::{Caller, Error, Frontend, KeyKind, ModelGates};
use rmcp::transport::streamable_http_server::session::local::{LocalSessionManager, SessionConfig};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::{McpServer, Surface};

/// Resource bounds of the HTTP server. Every field has a default sized for one machine
/// serving a team; `modelgates serve --help` names the flags that change them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections at most; a connection beyond it is closed at once.
    pub max_connections: usize,
    /// Open connections from one IP address at most.
    pub max_connections_per_ip: usize,
    /// Time a client has to send a request's headers, including while a kept-alive
    /// connection sits idle between requests; the connection is closed after it.
    pub header_read_timeout: Duration,
    /// Time a request may take to produce its response head (a tool call); 503 after it.
    pub request_timeout: Duration,
    /// Open MCP sessions at most, in total.
    pub max_sessions: usize,
    /// Open MCP sessions per API key at most.
    pub max_sessions_per_key: usize,
    /// A session unused for this long is closed.
    pub session_idle_timeout: Duration,
    /// On SIGINT/SIGTERM, how long in-flight requests may take before the server stops anyway.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_connections_per_ip: 128,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_sessions: 10_000,
            max_sessions_per_key: 100,
            session_idle_timeout: Duration::from_secs(300),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// How the HTTP front end is exposed.
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// Browser origins allowed to call besides loopback ones (`http://localhost:*` and the
    /// like are always allowed); any other `Origin` header is refused with 403. Requests
    /// without an `Origin` (non-browser clients) pass. Allowed origins get CORS headers.
    pub allowed_origins: Vec<String>,
    /// Extra `Host` values to accept besides loopback (for a server behind a proxy).
    pub allowed_hosts: Vec<String>,
    /// The tools every session exposes.
    pub surface: Surface,
    /// Connection, request and session bounds.
    pub limits: Limits,
    /// TEST ONLY: skip authentication and act as this caller for every request (for protocol
    /// conformance suites, which cannot send a key). Never set in production.
    pub insecure_caller: Option<Caller>,
}

/// Who owns a session: the id of the API key that created it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct KeyOwner(String);

/// The sessions this server created, with their owners, for binding and caps.
struct Sessions {
    owners: Mutex<HashMap<String, KeyOwner>>,
    /// Session-opening requests in flight, per key: they count against the caps until they
    /// are answered, so concurrent `initialize` calls cannot pass the check together.
    pending: Mutex<HashMap<KeyOwner, usize>>,
    manager: Arc<LocalSessionManager>,
    max_total: usize,
    max_per_key: usize,
}

impl Sessions {
    /// Forgets sessions rmcp has closed (idle expiry, DELETE, shutdown).
    async fn prune(&self) {
        let live = self.manager.sessions.read().await;
        let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
        owners.retain(|id, _| live.contains_key(id.as_str()));
    }
}

const SESSION_HEADER: &str = "mcp-session-id";

/// Where the REST API is served.
const REST_BASE: &str = "/api/v1";

/// Whether a request is for the REST API (anything under `/api/`: answers use its envelope)
/// rather than MCP.
fn is_rest(path: &str) -> bool {
    path.starts_with("/api/")
}

/// The axum router serving MCP at `/mcp` and the REST API at `/api/v1`, both behind
/// management-key authentication and the Host/Origin checks of `options`, and the web
/// dashboard at `/dashboard/` (public: its page signs in to the REST API; `/` redirects to
/// it, so a router merged with this one must not route `/` too). `shutdown` ends every MCP
/// session when cancelled.
///
/// The whole control plane in a program of your own, beside routes of its own (this is what
/// `modelgates serve --http` runs, and what `examples/gateway` merges into its router):
///
/// ```no_run
/// use modelgates::ModelGates;
/// use modelgates_mcp::http::{self, HttpOptions, Limits};
/// use modelgates_redb::RedbStore;
/// use tokio_util::sync::CancellationToken;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let gates = ModelGates::open(RedbStore::open("modelgates.redb")?)?;
/// let shutdown = CancellationToken::new();
/// let app = http::router(gates, &HttpOptions::default(), shutdown.clone())
///     .route("/healthz", axum::routing::get(|| async { "ok" }));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let stop = shutdown.clone();
/// http::serve(listener, app, &Limits::default(), async move { stop.cancelled().await }).await?;
/// # Ok(()) }
/// ```
pub fn router(gates: ModelGates, options: &HttpOptions, shutdown: CancellationToken) -> Router {
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()];
    hosts.extend(options.allowed_hosts.iter().cloned());
    let hosts_for_rest = hosts.clone();
    // Loopback pages may call a loopback server; any other Origin needs --allow-origin.
    let mut origins: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
        .iter()
        .flat_map(|h| [format!("http://{h}:*"), format!("https://{h}:*")])
        .collect();
    origins.extend(options.allowed_origins.iter().cloned());
    let origins_for_rest = origins.clone();
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .enforce_origin_validation()
        .with_cancellation_token(shutdown);
    let mut session_config = SessionConfig::default();
    session_config.keep_alive = Some(options.limits.session_idle_timeout);
    session_config.init_timeout = Some(Duration::from_secs(10));
    let mut manager = LocalSessionManager::default();
    manager.session_config = session_config;
    let manager = Arc::new(manager);
    // One server value for every session: its tool router is shared, so a session costs a
    // few `Arc` clones.
    let template = McpServer::per_request(gates.clone()).with_surface(&options.surface);
    let service = StreamableHttpService::new(move || Ok(template.clone()), manager.clone(), config);
    let sessions = Arc::new(Sessions {
        owners: Mutex::new(HashMap::new()),
        pending: Mutex::new(HashMap::new()),
        manager,
        max_total: options.limits.max_sessions,
        max_per_key: options.limits.max_sessions_per_key,
    });
    let timeout = options.limits.request_timeout;
    let mcp = Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn(json_rpc_guard))
        .layer(axum::middleware::from_fn_with_state(
            sessions,
            bind_sessions,
        ));
    let rest_options = modelgates_rest::RestOptions {
        read_only: options.surface.read_only,
        toolsets: options
            .surface
            .toolsets
            .as_ref()
            .map(|sets| sets.iter().map(|s| (*s).to_owned()).collect()),
    };
    let allowed = Arc::new(AllowedPeers {
        hosts: hosts_for_rest,
        origins: origins_for_rest.clone(),
    });
    let rest = Router::new()
        .nest(
            REST_BASE,
            modelgates_rest::router(gates.clone(), &rest_options),
        )
        .layer(axum::middleware::from_fn_with_state(
            allowed.clone(),
            check_peers,
        ));
    let dashboard_sessions = Arc::new(crate::dashboard::DashboardSessions::default());
    let dashboard = crate::dashboard::router(gates.clone(), dashboard_sessions.clone())
        .layer(axum::middleware::from_fn_with_state(allowed, check_peers));
    let router = mcp.merge(rest);
    let router = match options.insecure_caller.clone() {
        Some(caller) => {
            tracing::warn!("authentication is DISABLED (--insecure-no-auth): test use only");
            router.layer(axum::middleware::from_fn(
                move |mut request: Request, next: Next| {
                    let via = if is_rest(request.uri().path()) {
                        Frontend::Rest
                    } else {
                        Frontend::Mcp
                    };
                    request.extensions_mut().insert(caller.clone().via(via));
                    request
                        .extensions_mut()
                        .insert(KeyOwner("insecure-no-auth".into()));
                    next.run(request)
                },
            ))
        }
        None => router.layer(axum::middleware::from_fn_with_state(
            Auth {
                gates,
                dashboard: dashboard_sessions,
            },
            authenticate,
        )),
    };
    // The dashboard's pages and sign-in are public; what they call (`/api/v1`) is not. One
    // time limit covers every route.
    router
        .merge(dashboard)
        .layer(axum::middleware::from_fn(
            move |request: Request, next: Next| time_limit(timeout, request, next),
        ))
        .layer(cors(origins_for_rest))
}

/// CORS answers for the origins given with `--allow-origin` (browsers need them for a page
/// on another origin to call the server; loopback pages are same-site for a loopback server
/// only when the port matches, so they get them too).
fn cors(allowed: Vec<String>) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin
                .to_str()
                .is_ok_and(|o| crate::peers::origin_allowed(o, &allowed))
        }))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static("mcp-session-id"),
            header::HeaderName::from_static("mcp-protocol-version"),
            header::HeaderName::from_static("last-event-id"),
            header::HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::HeaderName::from_static("mcp-session-id"),
            header::HeaderName::from_static("idempotent-replayed"),
        ])
        .max_age(Duration::from_secs(600))
}

/// The Host and Origin values REST requests may carry: the same lists rmcp checks for `/mcp`
/// (loopback hosts plus `--allow-host`; loopback origins plus `--allow-origin`), matched by the
/// same rules (`crate::peers`), against DNS rebinding and cross-site calls.
struct AllowedPeers {
    hosts: Vec<String>,
    origins: Vec<String>,
}

async fn check_peers(
    State(allowed): State<Arc<AllowedPeers>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let host_ok = crate::peers::parse_host(&host)
        .is_some_and(|h| crate::peers::host_allowed(&h, &allowed.hosts));
    if !host_ok {
        return modelgates_rest::ApiError::forbidden(format!(
            "Host {host:?} is not allowed; start the server with --allow-host to accept it"
        ))
        .into_response();
    }
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !crate::peers::origin_allowed(origin, &allowed.origins) {
            return modelgates_rest::ApiError::forbidden(format!(
                "Origin {origin:?} is not allowed; start the server with --allow-origin to \
                 accept it"
            ))
            .into_response();
        }
    }
    next.run(request).await
}

/// The refusal of the authentication layer: the REST envelope for the REST API, the MCP one
/// elsewhere.
fn refuse_for(path: &str, err: Error) -> Response {
    if is_rest(path) {
        modelgates_rest::ApiError::from(err).into_response()
    } else {
        refuse(&err)
    }
}

/// `{error: {code, message}}` with the status of the error kind (and `WWW-Authenticate` on 401).
fn refuse(err: &Error) -> Response {
    let kind = err.kind();
    let status = StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
    refuse_with(status, kind.code(), &err.to_string())
}

fn refuse_with(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "error": { "code": code, "message": message } });
    let content_type = [(header::CONTENT_TYPE, "application/json")];
    let mut response = (status, content_type, body.to_string()).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// What authentication checks credentials against: the key snapshot, and the dashboard's
/// sessions for REST requests that carry its cookie instead of a bearer key.
#[derive(Clone)]
struct Auth {
    gates: ModelGates,
    dashboard: Arc<crate::dashboard::DashboardSessions>,
}

/// Requires `Authorization: Bearer <management key>`; the request then acts as the key's user
/// in the key's account. Unknown or missing keys are 401; inference, disabled or expired keys
/// are 403. Verification reads the snapshot, so a key disabled anywhere stops working on the
/// next request. A REST request without the header may instead carry a dashboard session
/// cookie (see `crate::dashboard`: the session's key is verified the same way, and a mutating
/// request needs the session's CSRF token).
async fn authenticate(State(auth): State<Auth>, request: Request, next: Next) -> Response {
    let gates = &auth.gates;
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let path = request.uri().path().to_owned();
    if presented.is_none()
        && is_rest(&path)
        && crate::dashboard::DashboardSessions::presented(request.headers())
    {
        let key = match auth
            .dashboard
            .authenticate(gates, request.method(), request.headers())
        {
            Ok(key) => key,
            Err(e) => return refuse_for(&path, e),
        };
        return admit(request, next, key, Frontend::Rest).await;
    }
    let Some(secret) = presented else {
        return refuse_for(
            &path,
            Error::Unauthenticated(
                "send Authorization: Bearer <management key> (create one with `modelgates keys create --management`)".into(),
            ),
        );
    };
    let key = match gates.verify_key(secret) {
        Ok(key) => key,
        Err(e) => return refuse_for(&path, e),
    };
    if key.kind != KeyKind::Management {
        return refuse_for(
            &path,
            Error::PermissionDenied(format!(
                "API key {} is an inference key; the management API (MCP and REST) needs a \
                 management key",
                key.key_id
            )),
        );
    }
    // The front end, by path.
    let via = if is_rest(&path) {
        Frontend::Rest
    } else {
        Frontend::Mcp
    };
    admit(request, next, key, via).await
}

/// Passes an authenticated request on, with its caller and key for the layers and handlers.
async fn admit(
    mut request: Request,
    next: Next,
    key: modelgates::VerifiedKey,
    via: Frontend,
) -> Response {
    request.extensions_mut().insert(
        Caller::new(key.account, key.user_id)
            .with_key(key.key_id)
            .via(via),
    );
    request
        .extensions_mut()
        .insert(modelgates_rest::PresentedKey(key.key_id));
    request
        .extensions_mut()
        .insert(KeyOwner(key.key_id.to_string()));
    next.run(request).await
}

/// Binds each session to the key that created it (another key's requests for it answer 404,
/// as for an unknown session) and caps open sessions per key and in total (429).
async fn bind_sessions(
    State(sessions): State<Arc<Sessions>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(owner) = request.extensions().get::<KeyOwner>().cloned() else {
        return refuse(&Error::Unauthenticated("no authenticated key".into()));
    };
    let session = request
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut opening = false;
    match &session {
        Some(id) => {
            let bound = sessions
                .owners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(id)
                .cloned();
            if bound.is_some_and(|b| b != owner) {
                return refuse_with(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    "session not found: it does not exist or belongs to another key",
                );
            }
        }
        None if request.method() == Method::POST => {
            sessions.prune().await;
            let owners = sessions.owners.lock().unwrap_or_else(|e| e.into_inner());
            let mut pending = sessions.pending.lock().unwrap_or_else(|e| e.into_inner());
            let in_flight: usize = pending.values().sum();
            let mine = owners.values().filter(|o| **o == owner).count()
                + pending.get(&owner).copied().unwrap_or(0);
            if mine >= sessions.max_per_key {
                return refuse_with(
                    StatusCode::TOO_MANY_REQUESTS,
                    "resource_exhausted",
                    &format!(
                        "key {} has {mine} open sessions, the most allowed; close one (DELETE \
                         /mcp with its Mcp-Session-Id) or wait until idle ones expire",
                        owner.0
                    ),
                );
            }
            if owners.len() + in_flight >= sessions.max_total {
                return refuse_with(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    &format!(
                        "the server has {} open sessions, the most allowed; retry later",
                        owners.len() + in_flight
                    ),
                );
            }
            *pending.entry(owner.clone()).or_default() += 1;
            opening = true;
        }
        None => {}
    }
    let deleting = request.method() == Method::DELETE;
    // Releases the reservation however the request ends (also when a timeout drops it).
    let _reservation = opening.then(|| Reservation {
        sessions: sessions.clone(),
        owner: owner.clone(),
    });
    let response = next.run(request).await;
    let mut owners = sessions.owners.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(created) = response
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        owners.entry(created.to_owned()).or_insert(owner);
    }
    if let Some(id) = session.filter(|_| deleting && response.status().is_success()) {
        owners.remove(&id);
    }
    response
}

/// Answers a POST whose body is not one JSON-RPC message with 400 and the JSON-RPC error
/// (parse error or invalid request) instead of rmcp's plain-text refusal; a body over
/// `LINE_MAX` is 413.
async fn json_rpc_guard(request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let json = [(header::CONTENT_TYPE, "application/json")];
    let Ok(bytes) = axum::body::to_bytes(body, crate::jsonrpc::LINE_MAX).await else {
        let answer = crate::jsonrpc::rpc_error(
            None,
            -32700,
            format!(
                "Parse error: the body is longer than {} bytes",
                crate::jsonrpc::LINE_MAX
            ),
        );
        return (StatusCode::PAYLOAD_TOO_LARGE, json, answer).into_response();
    };
    let verdict = match crate::jsonrpc::check_line(&bytes) {
        Ok(false) => Err(crate::jsonrpc::rpc_error(
            None,
            -32700,
            "Parse error: the body is empty".into(),
        )),
        Ok(true) => Ok(()),
        Err(answer) => Err(answer),
    };
    match verdict {
        Ok(()) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Err(answer) => (StatusCode::BAD_REQUEST, json, answer).into_response(),
    }
}

/// A place held for a session-opening request in flight.
struct Reservation {
    sessions: Arc<Sessions>,
    owner: KeyOwner,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut pending = self
            .sessions
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = pending.get_mut(&self.owner) {
            *n -= 1;
            if *n == 0 {
                pending.remove(&self.owner);
            }
        }
    }
}

/// Answers 503 when a request produces no response head within `limit`.
async fn time_limit(limit: Duration, request: Request, next: Next) -> Response {
    let rest = is_rest(request.uri().path());
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) if rest => modelgates_rest::ApiError::timed_out(limit).into_response(),
        Err(_) => refuse_with(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            &format!("the request took longer than {} s", limit.as_secs()),
        ),
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, within `limits`: connections beyond
/// the caps are closed at once, headers must arrive within the header timeout (also between
/// requests on a kept-alive connection), and after `shutdown` in-flight requests get
/// `limits.shutdown_grace` before the server returns regardless.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let graceful = GracefulShutdown::new();
    let per_ip: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
    let open = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = limits.max_connections, "connection refused: too many open connections");
            drop(stream);
            continue;
        };
        {
            let mut counts = per_ip.lock().unwrap_or_else(|e| e.into_inner());
            let n = counts.entry(peer.ip()).or_default();
            if *n >= limits.max_connections_per_ip {
                tracing::warn!(%peer, max = limits.max_connections_per_ip, "connection refused: too many open connections from this address");
                drop(stream);
                continue;
            }
            *n += 1;
        }
        let _ = stream.set_nodelay(true);
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .keep_alive(true);
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        let per_ip = per_ip.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
            drop(permit);
            let mut counts = per_ip.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = counts.get_mut(&peer.ip()) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(&peer.ip());
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = limits.shutdown_grace.as_secs(),
            "connections still open after the shutdown grace period; stopping anyway"
        );
    }
    Ok(())
}
