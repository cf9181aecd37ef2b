//! Request extractors whose failures are [`ApiError`]s naming the field: a JSON body
//! ([`Body`]), a query string ([`Query`]), a path parameter ([`Id`]) and the authenticated
//! caller ([`Me`]). Decoding goes through `serde_path_to_error`, so a wrong type deep inside a
//! body answers 400 with its path (`body.mux_rules[2].matcher_type`), never a 5XX.

use aide::OperationInput;
use aide::generate::GenContext;
use aide::openapi::{
    MediaType, Operation, RequestBody, Response as DocResponse, SchemaObject, StatusCode,
};
use aide::operation::{ParamLocation, add_parameters, parameters_from_schema, set_body};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use modelgates::{Caller, Error};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, error_responses};

/// The largest request body the API reads (a workspace with 500 mux rules and 64 KiB of
/// instructions fits several times over).
pub const BODY_MAX: usize = 1024 * 1024;

/// A JSON request body decoded as `T`.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_none_or(|v| v == "application/json" || v.ends_with("+json"));
        if !json {
            return Err(ApiError::not_json());
        }
        let bytes = axum::body::to_bytes(req.into_body(), BODY_MAX)
            .await
            .map_err(|e| {
                // Over the limit, or the client went away mid-body.
                let inner = e.into_inner();
                if inner.is::<http_body_util::LengthLimitError>() {
                    ApiError::too_large(BODY_MAX)
                } else {
                    ApiError::bad_request(
                        "body",
                        format!("the request body could not be read: {inner}"),
                    )
                }
            })?;
        decode_body(&bytes).map(Body)
    }
}

impl<T: JsonSchema> OperationInput for Body<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        let json_schema = ctx.schema.subschema_for::<T>();
        set_body(
            ctx,
            operation,
            RequestBody {
                description: None,
                content: [(
                    "application/json".to_owned(),
                    MediaType {
                        schema: Some(SchemaObject {
                            json_schema,
                            example: None,
                            external_docs: None,
                        }),
                        ..Default::default()
                    },
                )]
                .into_iter()
                .collect(),
                required: true,
                extensions: Default::default(),
            },
        );
    }

    fn inferred_early_responses(
        ctx: &mut GenContext,
        _: &mut Operation,
    ) -> Vec<(Option<StatusCode>, DocResponse)> {
        error_responses(
            ctx,
            &[
                (413, "The request body is larger than 1 MiB"),
                (415, "The request body is not JSON"),
            ],
        )
    }
}

/// Decodes a JSON body, naming the offending field.
pub fn decode_body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "body",
            "the request body is empty; send a JSON object",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de)
        .map_err(|e| ApiError::bad_request(&field_of("body", e.path()), e.into_inner()))
}

/// Decodes an already parsed JSON body, naming the offending field.
pub fn decode_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| ApiError::bad_request(&field_of("body", e.path()), e.into_inner()))
}

/// `body`, `body.name`, `body[2].model`, `query.limit`: where in `root` a decode failed.
fn field_of(root: &str, path: &serde_path_to_error::Path) -> String {
    let path = path.to_string();
    if path == "." {
        root.to_owned()
    } else if path.starts_with('[') {
        format!("{root}{path}")
    } else {
        format!("{root}.{path}")
    }
}

/// A query string decoded as `T` (absent = empty).
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| ApiError::bad_request(&field_of("query", e.path()), e.into_inner()))
    }
}

impl<T: JsonSchema> OperationInput for Query<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        let schema = ctx.schema.subschema_for::<T>();
        let params = parameters_from_schema(ctx, schema, ParamLocation::Query);
        add_parameters(ctx, operation, params);
    }
}

/// The path parameters of a route, percent-decoded: a `String` for one (a workspace UUID or
/// slug), a tuple for several.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(p) = axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request("path", e.body_text()))?;
        Ok(Params(p))
    }
}

/// Path parameters are documented from the route's template (every `{name}` is a string; see
/// `openapi::complete`).
impl<T> OperationInput for Params<T> {}

/// The one path parameter of a route.
pub type Id = Params<String>;

/// The `Idempotency-Key` header of a create request, if any: a retry with the same key and
/// body within 24 hours gets the first answer (with `Idempotent-Replayed: true`) instead of
/// creating again; the same key with another body is a 409 naming the key.
#[derive(Debug)]
pub struct Once(pub Option<String>);

impl Once {
    /// `me`, presenting this request's idempotency key, if it had one.
    pub fn caller(&self, me: Caller) -> Caller {
        match &self.0 {
            Some(key) => me.with_idempotency_key(key.clone()),
            None => me,
        }
    }
}

/// The header's name, as documented.
const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

impl<S: Send + Sync> FromRequestParts<S> for Once {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let field = format!("header.{IDEMPOTENCY_KEY}");
        let Some(value) = parts.headers.get(IDEMPOTENCY_KEY) else {
            return Ok(Once(None));
        };
        let key = value.to_str().map_err(|_| {
            ApiError::bad_request(
                &field,
                "must be visible ASCII characters (a UUID is a good key)",
            )
        })?;
        match modelgates::check_idempotency_key(key) {
            Ok(()) => Ok(Once(Some(key.to_owned()))),
            Err(Error::InvalidArgument { reason, .. }) => {
                Err(ApiError::bad_request(&field, reason))
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl OperationInput for Once {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        let schema = ctx.schema.subschema_for::<String>();
        let data = aide::openapi::ParameterData {
            name: IDEMPOTENCY_KEY.to_owned(),
            description: Some(format!(
                "Makes the create safe to retry: 1-{} visible ASCII characters (a UUID is a \
                 good key), scoped to the caller. The same key and body within {} hours \
                 answer the first result (with `Idempotent-Replayed: true`; a retried key \
                 creation has no `key`, since the secret is never stored); the same key with \
                 another body is a 409 naming the key.",
                modelgates::IDEMPOTENCY_KEY_MAX,
                modelgates::IDEMPOTENCY_WINDOW_HOURS
            )),
            required: false,
            deprecated: None,
            format: aide::openapi::ParameterSchemaOrContent::Schema(aide::openapi::SchemaObject {
                json_schema: schema,
                example: None,
                external_docs: None,
            }),
            example: None,
            examples: Default::default(),
            explode: None,
            extensions: Default::default(),
        };
        add_parameters(
            ctx,
            operation,
            [aide::openapi::Parameter::Header {
                parameter_data: data,
                style: Default::default(),
            }],
        );
    }
}

/// The authenticated caller, put into the request by the authentication layer.
#[derive(Debug)]
pub struct Me(pub Caller);

impl OperationInput for Me {
    fn inferred_early_responses(
        ctx: &mut GenContext,
        _: &mut Operation,
    ) -> Vec<(Option<StatusCode>, DocResponse)> {
        error_responses(
            ctx,
            &[
                (401, "No bearer key, or an unknown one"),
                (
                    403,
                    "The key may not do this (an inference, disabled or expired key, a role \
                     without the permission, a read-only server, a Host or Origin not served)",
                ),
            ],
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Me {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .map(Me)
            .ok_or_else(|| {
                Error::Unauthenticated("no authenticated caller for this request".into()).into()
            })
    }
}
