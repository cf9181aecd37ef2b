//! Decoding of tool arguments: the same path for the server and for fuzzing. A malformed
//! argument becomes an `invalid_argument` tool error naming the field, not a protocol error.

use std::borrow::Cow;

use modelgates::Error;
use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::error::ToolError;

/// Largest tool-argument payload accepted, in bytes of JSON.
pub const MAX_ARGUMENT_BYTES: usize = 256 * 1024;

/// Decodes a tool's argument object into `T`; errors name the offending field path.
pub fn decode_args<T: DeserializeOwned>(args: JsonObject) -> Result<T, ToolError> {
    let value = serde_json::Value::Object(args);
    let size = serde_json::to_vec(&value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_ARGUMENT_BYTES {
        return Err(Error::invalid(
            "arguments",
            format!("{size} bytes of arguments; at most {MAX_ARGUMENT_BYTES} are accepted"),
        )
        .into());
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." || path.is_empty() {
            "arguments".to_owned()
        } else {
            path
        };
        Error::invalid(field, e.into_inner().to_string()).into()
    })
}

/// The tool-argument extractor: named `Parameters` so rmcp's `#[tool]` macro derives the input
/// schema from `T`. Unlike rmcp's own, a decoding failure reaches the tool, which returns it as
/// a structured `invalid_argument` result.
#[derive(Debug)]
pub struct Parameters<T>(pub Result<T, ToolError>);

impl<T: JsonSchema> JsonSchema for Parameters<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

impl<S, T: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Parameters<T> {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, rmcp::ErrorData> {
        Ok(Self(decode_args(
            context.arguments.take().unwrap_or_default(),
        )))
    }
}

/// `#[serde(default, deserialize_with = "double_option")]`: absent → `None`, `null` →
/// `Some(None)`, value → `Some(Some(v))` — the three states of a patch field.
pub fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::tools::keys::KeyUpdateParams;
    use crate::tools::workspaces::WorkspaceCreateParams;

    fn obj(v: serde_json::Value) -> JsonObject {
        v.as_object().cloned().unwrap()
    }

    fn field_of<T: DeserializeOwned + std::fmt::Debug>(v: serde_json::Value) -> String {
        let err = decode_args::<T>(obj(v)).unwrap_err();
        assert_eq!(err.0.kind(), modelgates::ErrorKind::InvalidArgument);
        err.0.field().unwrap().to_owned()
    }

    #[test]
    fn malformed_arguments_name_the_field() {
        assert_eq!(
            field_of::<WorkspaceCreateParams>(json!({"name": "a", "slug": "a", "bogus": 1})),
            "bogus"
        );
        assert_eq!(
            field_of::<WorkspaceCreateParams>(json!({"name": 5, "slug": "a"})),
            "name"
        );
        assert_eq!(
            field_of::<WorkspaceCreateParams>(json!({"slug": "a"})),
            "arguments"
        );
        assert_eq!(
            field_of::<WorkspaceCreateParams>(
                json!({"name": "a", "slug": "a", "default_provider_sort": "cheap"})
            ),
            "default_provider_sort"
        );
        assert_eq!(
            field_of::<WorkspaceCreateParams>(
                json!({"name": "a", "slug": "a", "labels": {"k": 1}})
            ),
            "labels.k"
        );
        assert_eq!(
            field_of::<KeyUpdateParams>(json!({"id": "k", "expires_at": "tomorrow"})),
            "expires_at"
        );
    }

    #[test]
    fn patch_fields_distinguish_absent_null_and_value() {
        let p: KeyUpdateParams = decode_args(obj(json!({"id": "k", "limit": null}))).unwrap();
        assert_eq!(p.limit, Some(None));
        assert_eq!(p.expires_at, None);
        let p: KeyUpdateParams = decode_args(obj(json!({"id": "k", "limit": 5.0}))).unwrap();
        assert_eq!(p.limit, Some(Some(5.0)));
    }

    #[test]
    fn oversized_arguments_are_refused_before_decoding() {
        let err = decode_args::<WorkspaceCreateParams>(obj(
            json!({"name": "n".repeat(MAX_ARGUMENT_BYTES), "slug": "a"}),
        ))
        .unwrap_err();
        assert_eq!(err.0.field(), Some("arguments"));
        assert!(err.0.to_string().len() < 200);
    }
}
