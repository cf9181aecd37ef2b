//! The web dashboard's server side: its pages and scripts (embedded in the binary), sign-in
//! that exchanges a management key for an HttpOnly session cookie, and the session check the
//! HTTP front end's authentication applies to the REST API (with a CSRF token on every
//! mutating request). The pages themselves only call the REST API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use modelgates::{Error, KeyKind, ModelGates, VerifiedKey};
use serde_json::json;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "mg_session";
/// The header that carries the session's CSRF token on mutating requests.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// How long a dashboard session lasts after sign-in.
const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// Most dashboard sessions kept at once; the oldest go first.
const SESSIONS_MAX: usize = 10_000;
/// Most sessions one key may hold; its oldest goes first. Keeps one key's sign-ins from
/// pushing everyone else's sessions out of [`SESSIONS_MAX`].
const SESSIONS_PER_KEY_MAX: usize = 32;
/// Largest sign-in body (`{"key": "…"}`).
const SIGN_IN_BODY_MAX: usize = 4096;

/// The strict Content-Security-Policy of every dashboard answer: scripts and styles only from
/// the server's own files, no inline code, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The embedded files: (name, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../dashboard/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../dashboard/app.css"),
    ),
    (
        "chart.umd.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../dashboard/vendor/chart.umd.min.js"),
    ),
];

const INDEX: &[u8] = include_bytes!("../dashboard/index.html");

/// One signed-in browser. The management key stays here, in the server's memory (the browser
/// holds only the random session id), and is verified again on every request, so a key
/// disabled, expired or deleted ends its sessions at once.
struct Session {
    secret: String,
    key_id: String,
    csrf: String,
    expires: Instant,
}

/// The dashboard sessions of this process. They live in memory: a restart signs everyone out,
/// and with several instances behind a balancer a browser must stay on one.
#[derive(Default)]
pub(crate) struct DashboardSessions {
    by_id: Mutex<HashMap<String, Session>>,
}

impl std::fmt::Debug for DashboardSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardSessions").finish_non_exhaustive()
    }
}

fn random_token() -> String {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).expect("the OS random source is unavailable");
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// Whether the request's `X-CSRF-Token` is the session's token `csrf`.
fn check_csrf(headers: &HeaderMap, csrf: &str) -> Result<(), Error> {
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if same(presented, csrf) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(
            "the X-CSRF-Token header is missing or does not match this session's token".into(),
        ))
    }
}

/// Methods that change nothing, so need no CSRF token.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl DashboardSessions {
    fn insert(&self, secret: String, key_id: String) -> (String, String) {
        let (id, csrf) = (random_token(), random_token());
        let mut map = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        let oldest = |map: &HashMap<String, Session>, of_key: bool| {
            map.iter()
                .filter(|(_, s)| !of_key || s.key_id == key_id)
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        };
        if map.values().filter(|s| s.key_id == key_id).count() >= SESSIONS_PER_KEY_MAX
            && let Some(old) = oldest(&map, true)
        {
            map.remove(&old);
        }
        if map.len() >= SESSIONS_MAX
            && let Some(old) = oldest(&map, false)
        {
            map.remove(&old);
        }
        map.insert(
            id.clone(),
            Session {
                secret,
                key_id,
                csrf: csrf.clone(),
                expires: now + SESSION_TTL,
            },
        );
        (id, csrf)
    }

    /// The session of the request's cookie, if it is live: (its key's secret, its CSRF token).
    fn get(&self, headers: &HeaderMap) -> Option<(String, String)> {
        let id = cookie(headers, COOKIE)?;
        let mut map = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(id) {
            Some(s) if s.expires > Instant::now() => Some((s.secret.clone(), s.csrf.clone())),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    fn remove(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, COOKIE) {
            self.by_id
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(id);
        }
    }

    /// Whether the request carries a session cookie at all (authentication then reads the
    /// session instead of asking for a bearer key).
    pub(crate) fn presented(headers: &HeaderMap) -> bool {
        cookie(headers, COOKIE).is_some()
    }

    /// The request's session, if it is live and its key still works as a management key: the
    /// verified key and the session's CSRF token.
    fn session(
        &self,
        gates: &ModelGates,
        headers: &HeaderMap,
    ) -> Result<(VerifiedKey, String), Error> {
        let Some((secret, csrf)) = self.get(headers) else {
            return Err(Error::Unauthenticated(
                "the dashboard session has expired or was signed out; sign in again".into(),
            ));
        };
        // A key disabled, expired or deleted since sign-in ends the session for good (a key
        // enabled again does not bring it back) and signs the page out.
        let key = match gates.verify_key(&secret) {
            Ok(key) => key,
            Err(e) => {
                self.remove(headers);
                return Err(Error::Unauthenticated(format!(
                    "this dashboard session's key no longer works ({e}); sign in again"
                )));
            }
        };
        if key.kind != KeyKind::Management {
            return Err(Error::PermissionDenied(format!(
                "API key {} is not a management key",
                key.key_id
            )));
        }
        Ok((key, csrf))
    }

    /// Authenticates a REST request by its session cookie: the session must be live, its key
    /// still valid and a management key, and a mutating request must carry the session's CSRF
    /// token in `X-CSRF-Token`.
    pub(crate) fn authenticate(
        &self,
        gates: &ModelGates,
        method: &Method,
        headers: &HeaderMap,
    ) -> Result<VerifiedKey, Error> {
        let (key, csrf) = self.session(gates, headers)?;
        if !is_safe(method) {
            check_csrf(headers, &csrf)?;
        }
        Ok(key)
    }
}

/// Adds the dashboard's security headers to an answer.
fn secure(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn json_answer(status: StatusCode, body: serde_json::Value) -> Response {
    secure(
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response(),
    )
}

fn error_answer(err: &Error) -> Response {
    let status = StatusCode::from_u16(err.kind().http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
    json_answer(
        status,
        json!({ "error": { "code": status.as_u16(), "message": err.to_string(),
                           "metadata": { "kind": err.kind().code(), "field": err.field() } } }),
    )
}

/// The `Set-Cookie` value of a session: HttpOnly (scripts cannot read it), SameSite=Strict
/// (no other site's page sends it), Secure when the request came over HTTPS (a TLS proxy in
/// front says so with `X-Forwarded-Proto`).
fn session_cookie(id: &str, max_age: u64, headers: &HeaderMap) -> HeaderValue {
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let value = format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[derive(Clone)]
struct DashState {
    gates: ModelGates,
    sessions: Arc<DashboardSessions>,
}

/// `POST /dashboard/session` with `{"key": "<management key>"}` as JSON: signs in. The JSON
/// content type is required, so a cross-site form cannot sign a browser in (it would need a
/// CORS preflight, which other origins do not pass).
async fn sign_in(State(state): State<DashState>, headers: HeaderMap, body: Bytes) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return json_answer(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({ "error": { "code": 415, "message": "send the key as JSON: Content-Type: application/json",
                               "metadata": { "kind": "invalid_argument" } } }),
        );
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SignIn {
        key: String,
    }
    let form: SignIn = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => {
            return error_answer(&Error::invalid(
                "body.key",
                format!("send {{\"key\": \"<management key>\"}}: {e}"),
            ));
        }
    };
    let secret = form.key.trim().to_owned();
    if secret.is_empty() {
        return error_answer(&Error::invalid("body.key", "enter a management key"));
    }
    let key = match state.gates.verify_key(&secret) {
        Ok(k) => k,
        Err(e) => return error_answer(&e),
    };
    if key.kind != KeyKind::Management {
        return error_answer(&Error::PermissionDenied(format!(
            "API key {} is an inference key; the dashboard needs a management key",
            key.key_id
        )));
    }
    let (id, csrf) = state.sessions.insert(secret, key.key_id.to_string());
    let mut response = json_answer(
        StatusCode::OK,
        json!({ "csrf_token": csrf, "key_id": key.key_id.to_string(),
                "user_id": key.user_id.to_string(), "expires_in": SESSION_TTL.as_secs() }),
    );
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&id, SESSION_TTL.as_secs(), &headers),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /dashboard/session`: the signed-in session's CSRF token and key (after a reload).
async fn current(State(state): State<DashState>, headers: HeaderMap) -> Response {
    match state.sessions.session(&state.gates, &headers) {
        Ok((key, csrf)) => {
            let mut r = json_answer(
                StatusCode::OK,
                json!({ "csrf_token": csrf, "key_id": key.key_id.to_string(),
                        "user_id": key.user_id.to_string() }),
            );
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => error_answer(&e),
    }
}

/// `DELETE /dashboard/session`: signs out. Needs the session's CSRF token (not a working
/// key: a session whose key was disabled can still be ended); with no live session there is
/// nothing to end, and the cookie is cleared all the same.
async fn sign_out(State(state): State<DashState>, headers: HeaderMap) -> Response {
    if let Some((_, csrf)) = state.sessions.get(&headers) {
        if let Err(e) = check_csrf(&headers, &csrf) {
            return error_answer(&e);
        }
        state.sessions.remove(&headers);
    }
    let mut response = secure(StatusCode::NO_CONTENT.into_response());
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie("", 0, &headers));
    response
}

async fn index() -> Response {
    secure(
        (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            INDEX,
        )
            .into_response(),
    )
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, ..)| *n == name) {
        Some((_, content_type, bytes)) => secure(
            (
                [
                    (header::CONTENT_TYPE, *content_type),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                *bytes,
            )
                .into_response(),
        ),
        None => secure((StatusCode::NOT_FOUND, "no such file").into_response()),
    }
}

async fn to_dashboard(_: Request) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, "/dashboard/")]).into_response()
}

/// The dashboard's routes: `/` (redirects), `/dashboard/` (the page), `/dashboard/assets/*`
/// and `/dashboard/session` (sign-in, the current session, sign-out).
pub(crate) fn router(gates: ModelGates, sessions: Arc<DashboardSessions>) -> Router {
    Router::new()
        .route("/", axum::routing::get(to_dashboard))
        .route("/dashboard", axum::routing::get(to_dashboard))
        .route("/dashboard/", axum::routing::get(index))
        .route("/dashboard/assets/{name}", axum::routing::get(asset))
        .route(
            "/dashboard/session",
            axum::routing::post(sign_in).get(current).delete(sign_out),
        )
        .with_state(DashState { gates, sessions })
        .layer(axum::extract::DefaultBodyLimit::max(SIGN_IN_BODY_MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; mg_session_x=2; mg_session=abc"),
        );
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn csrf_comparison_needs_equal_tokens() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "a"));
    }
}
