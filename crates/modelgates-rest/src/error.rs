//! `ApiError`: **the one place** where domain errors (and request decoding failures) become
//! HTTP answers: the status of the error's kind and the envelope the seed SDKs read,
//! `{"error": {"code": <status>, "message": "...", "metadata": {...} | null}}`.

use aide::OperationOutput;
use aide::generate::GenContext;
use aide::openapi::{Operation, Response as DocResponse, StatusCode as DocStatus};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use modelgates::{Error, ErrorKind};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

/// The error envelope every failed request answers.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ErrorEnvelope {
    pub(crate) error: ErrorBody,
}

/// What went wrong.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ErrorBody {
    /// The HTTP status, repeated.
    pub(crate) code: u16,
    /// What went wrong, naming the offending value.
    pub(crate) message: String,
    /// `kind` (the error kind's code), `field` (the offending request field, such as
    /// `body.slug` or `query.limit`) and `reason` (a machine-readable precondition), when known.
    pub(crate) metadata: Option<Map<String, Value>>,
}

/// An error answer of the REST API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    metadata: Option<Map<String, Value>>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            metadata: None,
        }
    }

    fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.metadata
            .get_or_insert_with(Map::new)
            .insert(key.into(), value.into());
        self
    }

    /// 400 naming the request field (`body.slug`, `query.limit`, …) that could not be decoded.
    pub fn bad_request(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, format!("{field}: {reason}"))
            .with("kind", "invalid_argument")
            .with("field", field)
    }

    /// 413: the body is larger than the API accepts.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {limit} bytes"),
        )
        .with("kind", "invalid_argument")
    }

    /// 415: the body is not JSON.
    pub fn not_json() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request body as JSON (Content-Type: application/json)",
        )
        .with("kind", "invalid_argument")
    }

    /// 404 for a path no route serves.
    pub fn no_route() -> Self {
        Self::new(StatusCode::NOT_FOUND, "no such route").with("kind", "not_found")
    }

    /// 405 for a method the route does not serve.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "this route does not serve that method",
        )
    }

    /// 403 for a mutating route on a read-only server.
    pub fn read_only() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "this server is read-only (started with --read-only); changes are refused",
        )
        .with("kind", "permission_denied")
    }

    /// 403 for a request the server refuses whoever sends it (a Host or Origin it does not
    /// serve).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message).with("kind", "permission_denied")
    }

    /// 503: the request took longer than the server allows. A write may still complete.
    pub fn timed_out(limit: std::time::Duration) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the request took longer than {} s; a change it made may still be applied, so \
                 read before retrying",
                limit.as_secs()
            ),
        )
        .with("kind", "unavailable")
    }

    /// 500 for a server fault (logged; the answer does not repeat it).
    pub fn internal(message: impl Into<String>) -> Self {
        Error::internal(message).into()
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let kind = e.kind();
        let status =
            StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if kind == ErrorKind::Internal {
            tracing::error!(error = %e, "request failed");
            return Self::new(status, "internal error; details are in the server log")
                .with("kind", kind.code());
        }
        let mut out = Self::new(status, e.to_string()).with("kind", kind.code());
        if let Some(field) = e.field() {
            out = out.with("field", field);
        }
        if let Some(reason) = e.reason() {
            out = out.with("reason", reason.as_str());
        }
        out
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.status.as_u16(),
                message: self.message,
                metadata: self.metadata,
            },
        };
        let body = serde_json::to_string(&body).unwrap_or_else(|_| {
            r#"{"error":{"code":500,"message":"internal error","metadata":null}}"#.to_owned()
        });
        let content_type = [(header::CONTENT_TYPE, "application/json")];
        let mut response = (self.status, content_type, body).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The documented error answers of a route: `statuses`, each with the error envelope.
pub(crate) fn error_responses(
    ctx: &mut GenContext,
    statuses: &[(u16, &str)],
) -> Vec<(Option<DocStatus>, DocResponse)> {
    statuses
        .iter()
        .map(|&(status, why)| {
            (
                Some(DocStatus::Code(status)),
                crate::reply::json_response::<ErrorEnvelope>(ctx, why),
            )
        })
        .collect()
}

/// Every route can fail with these: a domain rule refusing the request (400), a resource it
/// names (in the path or the body) missing (404), a server fault (500) or the time limit (503).
/// The extractors add the statuses of their own failures (401/403 for the caller, 413/415 for a
/// body) and `openapi::complete` adds 409 to writes.
impl OperationOutput for ApiError {
    type Inner = ();

    fn inferred_responses(
        ctx: &mut GenContext,
        _: &mut Operation,
    ) -> Vec<(Option<DocStatus>, DocResponse)> {
        error_responses(
            ctx,
            &[
                (
                    400,
                    "Bad request: a field is invalid (metadata.field names it) or a rule refuses the change (metadata.reason)",
                ),
                (
                    404,
                    "A resource the request names (in the path or the body) does not exist",
                ),
                (500, "Server fault (details are in the server log)"),
                (503, "The request took longer than the server allows"),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use modelgates::Reason;
    use serde_json::json;

    async fn body(e: ApiError) -> (u16, Value) {
        let r = e.into_response();
        let status = r.status().as_u16();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn domain_errors_map_to_statuses_and_the_sdk_envelope() {
        let (s, b) = body(Error::invalid("slug", "bad").into()).await;
        assert_eq!(s, 400);
        assert_eq!(b["error"]["code"], 400);
        assert_eq!(b["error"]["metadata"]["field"], "slug");
        let (s, b) = body(Error::precondition(Reason::DefaultWorkspace, "no").into()).await;
        assert_eq!(
            (s, &b["error"]["metadata"]["reason"]),
            (400, &json!("DEFAULT_WORKSPACE"))
        );
        let (s, _) = body(Error::not_found("workspace", "x").into()).await;
        assert_eq!(s, 404);
        let (s, _) = body(Error::Unauthenticated("who".into()).into()).await;
        assert_eq!(s, 401);
        let (s, _) = body(Error::PermissionDenied("no".into()).into()).await;
        assert_eq!(s, 403);
        // A server fault is a 500 whose message does not leak the details.
        let (s, b) = body(Error::internal("secret detail").into()).await;
        assert_eq!(s, 500);
        assert!(!b.to_string().contains("secret detail"), "{b}");
    }
}
