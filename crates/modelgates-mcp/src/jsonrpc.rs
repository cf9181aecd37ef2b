//! The JSON-RPC message check both transports run before rmcp sees a message: rmcp drops what
//! it cannot decode without an answer, so a client would wait forever. Invalid UTF-8, invalid
//! JSON (NaN, two messages on one line, nesting past 128) and oversized messages get the parse
//! error (-32700); JSON that is not a message gets invalid request (-32600), with the id when
//! one can be read.

use serde_json::{Value, json};

/// The longest message passed on (tool arguments are capped at 256 KiB well below it).
pub(crate) const LINE_MAX: usize = 4 << 20;

/// `Ok(true)`: pass the line on; `Ok(false)`: a blank line, skip it; `Err(answer)`: answer
/// with this JSON-RPC error line instead.
pub(crate) fn check_line(line: &[u8]) -> Result<bool, Vec<u8>> {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() {
        return Ok(false);
    }
    let text = std::str::from_utf8(trimmed).map_err(|e| {
        rpc_error(
            None,
            -32700,
            format!("Parse error: the message is not UTF-8 ({e})"),
        )
    })?;
    let value: Value = serde_json::from_str(text)
        .map_err(|e| rpc_error(None, -32700, format!("Parse error: invalid JSON ({e})")))?;
    let Some(message) = value.as_object() else {
        return Err(rpc_error(
            None,
            -32600,
            "Invalid Request: a message must be one JSON object (batches are not supported)".into(),
        ));
    };
    let id = message
        .get("id")
        .filter(|id| id.is_string() || id.is_number());
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(rpc_error(
            id,
            -32600,
            "Invalid Request: \"jsonrpc\" must be \"2.0\"".into(),
        ));
    }
    let call = message.get("method").is_some_and(Value::is_string);
    let response = message.contains_key("result") || message.contains_key("error");
    if !call && !response {
        return Err(rpc_error(
            id,
            -32600,
            "Invalid Request: a message needs a string \"method\", or a \"result\" or \"error\""
                .into(),
        ));
    }
    Ok(true)
}

pub(crate) fn rpc_error(id: Option<&Value>, code: i64, message: String) -> Vec<u8> {
    let mut line = json!({
        "jsonrpc": "2.0",
        "id": id.cloned().unwrap_or(Value::Null),
        "error": {"code": code, "message": message},
    })
    .to_string()
    .into_bytes();
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_that_are_not_messages_get_json_rpc_errors() {
        let code = |line: &[u8]| -> i64 {
            let answer = check_line(line).unwrap_err();
            let v: Value = serde_json::from_slice(&answer).unwrap();
            v["error"]["code"].as_i64().unwrap()
        };
        assert_eq!(code(b"not json"), -32700);
        assert_eq!(
            code(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":NaN}"),
            -32700
        );
        assert_eq!(code(b"{\"a\":1}{\"b\":2}"), -32700);
        assert_eq!(code(b"\xff\xfe{}"), -32700);
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(code(deep.as_bytes()), -32700);
        assert_eq!(code(b"[1,2]"), -32600);
        assert_eq!(code(b"{\"id\":7,\"method\":\"ping\"}"), -32600);
        let answer = check_line(b"{\"jsonrpc\":\"2.0\",\"id\":7}").unwrap_err();
        let v: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(
            (v["id"].as_i64(), v["error"]["code"].as_i64()),
            (Some(7), Some(-32600))
        );
        assert_eq!(check_line(b"  \r\n"), Ok(false));
        assert_eq!(
            check_line(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n"),
            Ok(true)
        );
    }
}
