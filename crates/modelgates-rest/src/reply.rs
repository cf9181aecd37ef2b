//! Typed answers: [`Reply`] (a JSON body with its status in the type), [`NoContent`] and the
//! SDKs' wrappers ([`Data`], [`Deleted`]; lists are the domain's `Paged`). Handlers return these, so the OpenAPI
//! document describes each success response from the very type that encodes it.

use aide::OperationOutput;
use aide::generate::GenContext;
use aide::openapi::{MediaType, Operation, Response as DocResponse, SchemaObject, StatusCode};
use axum::http::{self, header};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Serialize;

use crate::error::ApiError;

/// A JSON answer `T` with status `S` (200 unless said otherwise).
#[derive(Debug)]
pub(crate) struct Reply<T, const S: u16 = 200>(pub T);

/// `201 Created` with the created resource.
pub(crate) type Created<T> = Reply<T, 201>;

impl<T: Serialize, const S: u16> IntoResponse for Reply<T, S> {
    fn into_response(self) -> Response {
        let status = http::StatusCode::from_u16(S).unwrap_or(http::StatusCode::OK);
        match serde_json::to_vec(&self.0) {
            Ok(bytes) => {
                (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
            }
            Err(e) => ApiError::internal(format!("encoding the answer: {e}")).into_response(),
        }
    }
}

/// The documentation of a JSON response of type `T`.
pub(crate) fn json_response<T: JsonSchema>(ctx: &mut GenContext, description: &str) -> DocResponse {
    let json_schema = ctx.schema.subschema_for::<T>();
    DocResponse {
        description: description.to_owned(),
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
        ..Default::default()
    }
}

impl<T: JsonSchema, const S: u16> OperationOutput for Reply<T, S> {
    type Inner = T;

    fn operation_response(ctx: &mut GenContext, _: &mut Operation) -> Option<DocResponse> {
        let description = match S {
            201 => "Created",
            _ => "OK",
        };
        Some(json_response::<T>(ctx, description))
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<StatusCode>, DocResponse)> {
        Self::operation_response(ctx, operation)
            .map(|r| (Some(StatusCode::Code(S)), r))
            .into_iter()
            .collect()
    }
}

/// The answer `R` of a create that took an `Idempotency-Key`: with the header
/// `Idempotent-Replayed: true` when it repeats the first answer to that key.
#[derive(Debug)]
pub(crate) struct MaybeReplayed<R> {
    pub(crate) replayed: bool,
    pub(crate) reply: R,
}

impl<R> MaybeReplayed<R> {
    /// `reply`, marked replayed if `caller`'s operation answered from its first result.
    pub(crate) fn of(caller: &modelgates::Caller, reply: R) -> Self {
        Self {
            replayed: caller.replayed(),
            reply,
        }
    }
}

impl<R: IntoResponse> IntoResponse for MaybeReplayed<R> {
    fn into_response(self) -> Response {
        let mut response = self.reply.into_response();
        if self.replayed {
            response.headers_mut().insert(
                http::HeaderName::from_static("idempotent-replayed"),
                http::HeaderValue::from_static("true"),
            );
        }
        response
    }
}

impl<R: OperationOutput> OperationOutput for MaybeReplayed<R> {
    type Inner = R::Inner;

    fn operation_response(ctx: &mut GenContext, operation: &mut Operation) -> Option<DocResponse> {
        R::operation_response(ctx, operation)
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<StatusCode>, DocResponse)> {
        R::inferred_responses(ctx, operation)
    }
}

/// `204 No Content`.
#[derive(Debug)]
pub(crate) struct NoContent;

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        http::StatusCode::NO_CONTENT.into_response()
    }
}

impl OperationOutput for NoContent {
    type Inner = ();

    fn operation_response(_: &mut GenContext, _: &mut Operation) -> Option<DocResponse> {
        Some(DocResponse {
            description: "No Content".into(),
            ..Default::default()
        })
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<StatusCode>, DocResponse)> {
        Self::operation_response(ctx, operation)
            .map(|r| (Some(StatusCode::Code(204)), r))
            .into_iter()
            .collect()
    }
}

/// The seeds' single-resource envelope, `{"data": …}`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "{T}Data")]
pub(crate) struct Data<T> {
    pub(crate) data: T,
}

impl<T> Data<T> {
    pub(crate) fn reply(data: T) -> Reply<Self> {
        Reply(Self { data })
    }

    pub(crate) fn created(data: T) -> Created<Self> {
        Reply(Self { data })
    }
}

/// The seeds' answer to a delete, `{"deleted": true}`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Deleted {
    /// Always `true`.
    deleted: bool,
}

impl Deleted {
    pub(crate) fn reply() -> Reply<Self> {
        Reply(Self { deleted: true })
    }
}
