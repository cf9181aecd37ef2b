//! The gateway's errors and the one place they become OpenAI-style error bodies
//! (`{"error": {"message", "type", "param", "code"}}`), so OpenAI clients raise their usual
//! exceptions (`AuthenticationError`, `PermissionDeniedError`, `BadRequestError`, …).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use modelgates::{Error, ErrorKind};
use serde_json::json;

/// A request the gateway answers with an error instead of the provider's answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// A domain answer: the key (401/403), routing (`NO_ROUTE`), the store.
    #[error(transparent)]
    Domain(#[from] Error),
    /// The request body or a header is unusable; `param` names it.
    #[error("invalid {param}: {message}")]
    InvalidRequest {
        /// The offending field or header (`messages`, `x-provider-api-key`).
        param: String,
        /// Why, naming the value.
        message: String,
    },
    /// The routed provider speaks an API this gateway does not translate to.
    #[error(
        "provider {provider} is of type {provider_type}, whose API this gateway does not \
         translate OpenAI requests to; route the request to an OpenAI-compatible provider"
    )]
    UnsupportedProvider {
        /// The provider endpoint's name.
        provider: String,
        /// Its type.
        provider_type: &'static str,
    },
    /// The provider could not be reached or broke off (502).
    #[error("provider {provider} could not be reached: {message}")]
    Unreachable {
        /// The provider endpoint's name.
        provider: String,
        /// What failed (never a credential).
        message: String,
    },
    /// The provider answered with an error. `body` is its OpenAI-style error, with the
    /// provider's key scrubbed out, when it sent one.
    #[error("provider {provider} answered {status}: {message}")]
    Provider {
        /// The provider endpoint's name.
        provider: String,
        /// The provider's status.
        status: u16,
        /// What it said, scrubbed of the provider's key.
        message: String,
    },
}

impl GatewayError {
    /// A body or header field error.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            param: param.into(),
            message: message.into(),
        }
    }

    /// The status, OpenAI error `type`, `param` and `code` of this error.
    fn parts(&self) -> (StatusCode, &'static str, Option<&str>, String) {
        match self {
            Self::Domain(e) => {
                let kind = e.kind();
                let status = StatusCode::from_u16(kind.http_status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let (ty, code) = match kind {
                    ErrorKind::Unauthenticated => ("authentication_error", "invalid_api_key"),
                    ErrorKind::PermissionDenied => ("permission_error", "permission_denied"),
                    ErrorKind::InvalidArgument | ErrorKind::FailedPrecondition => {
                        ("invalid_request_error", kind.code())
                    }
                    ErrorKind::NotFound => ("invalid_request_error", "not_found"),
                    ErrorKind::Conflict => ("invalid_request_error", "conflict"),
                    _ => ("server_error", kind.code()),
                };
                // A failed precondition carries a stable reason (`NO_ROUTE`): the code clients
                // can branch on.
                let code = match e {
                    Error::FailedPrecondition { reason, .. } => reason.as_str().to_owned(),
                    _ => code.to_owned(),
                };
                let param = match e {
                    Error::InvalidArgument { field, .. } => Some(field.as_str()),
                    _ => None,
                };
                (status, ty, param, code)
            }
            Self::InvalidRequest { param, .. } => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some(param.as_str()),
                "invalid_request".into(),
            ),
            Self::UnsupportedProvider { .. } => (
                StatusCode::NOT_IMPLEMENTED,
                "invalid_request_error",
                None,
                "unsupported_provider_type".into(),
            ),
            Self::Unreachable { .. } => (
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                None,
                "provider_unreachable".into(),
            ),
            Self::Provider { status, .. } => {
                // The provider refusing the gateway's own credentials is the gateway's
                // configuration, not the client's: 502, never the client-facing 401/403.
                let (out, code) = match *status {
                    401 | 403 => (StatusCode::BAD_GATEWAY, "provider_auth_failed"),
                    429 => (StatusCode::TOO_MANY_REQUESTS, "provider_rate_limited"),
                    s if (400..500).contains(&s) => (
                        StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_REQUEST),
                        "provider_rejected",
                    ),
                    _ => (StatusCode::BAD_GATEWAY, "provider_error"),
                };
                let ty = if out == StatusCode::BAD_GATEWAY {
                    "upstream_error"
                } else {
                    "invalid_request_error"
                };
                (out, ty, None, code.into())
            }
        }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let (status, ty, param, code) = self.parts();
        let body = json!({
            "error": { "message": self.to_string(), "type": ty, "param": param, "code": code }
        });
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
