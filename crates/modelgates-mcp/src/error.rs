//! The one place where domain errors become MCP tool results: `isError: true` with the body
//! `{error: {code, message, field?, reason?}}` as JSON text. Internal details are logged, never
//! returned.

use modelgates::{Error, ErrorKind};
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};
use serde_json::{Map, Value, json};

/// A failed tool call, as the client sees it.
#[derive(Debug)]
pub struct ToolError(pub Error);

impl From<Error> for ToolError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl ToolError {
    /// The wire body `{error: {code, message, field?, reason?}}`.
    pub fn body(&self) -> Value {
        let e = &self.0;
        let kind = e.kind();
        let message = if kind == ErrorKind::Internal {
            tracing::error!(error = %e, "internal error in tool call");
            "internal error; the server log has the details".to_owned()
        } else {
            e.to_string()
        };
        let mut err = Map::new();
        err.insert("code".into(), json!(kind.code()));
        err.insert("message".into(), json!(message));
        if let Some(field) = e.field() {
            err.insert("field".into(), json!(field));
        }
        if let Some(reason) = e.reason() {
            err.insert("reason".into(), json!(reason));
        }
        json!({ "error": err })
    }
}

/// The body travels as the JSON text of the result's one content block, not as
/// `structuredContent`: clients validate `structuredContent` against the tool's output schema
/// even on errors (the TypeScript SDK does), and the schema describes the success shape.
impl IntoCallToolResult for ToolError {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        Ok(CallToolResult::error(vec![ContentBlock::text(self.body().to_string())]).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_are_not_leaked() {
        let body = ToolError(Error::Internal("disk /secret/path exploded".into())).body();
        assert_eq!(body["error"]["code"], "internal");
        assert!(!body.to_string().contains("/secret/path"));
    }

    #[test]
    fn failed_preconditions_carry_their_reason_and_conflicts_their_field() {
        let body = ToolError(Error::precondition(
            modelgates::Reason::DefaultWorkspace,
            "no",
        ))
        .body();
        assert_eq!(body["error"]["code"], "failed_precondition");
        assert_eq!(body["error"]["reason"], "DEFAULT_WORKSPACE");
        let body = ToolError(Error::conflict("slug", "taken")).body();
        assert_eq!(
            (
                body["error"]["code"].as_str(),
                body["error"]["field"].as_str()
            ),
            (Some("conflict"), Some("slug"))
        );
    }
}
