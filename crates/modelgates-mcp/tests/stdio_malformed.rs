//! Malformed input over stdio, against the release binary: every line that is not a JSON-RPC
//! message gets the JSON-RPC error the specification defines (parse error -32700, invalid
//! request -32600) instead of silence, and the session keeps serving valid requests after.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

#[test]
fn malformed_lines_are_answered_and_the_session_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(common::binary())
        .args(["mcp", "--db"])
        .arg(dir.path().join("m.redb"))
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut next = || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str::<serde_json::Value>(&line)
            .unwrap_or_else(|e| panic!("not JSON on stdout ({e}): {line:?}"))
    };
    let deep = format!("{}{}\n", "[".repeat(200), "]".repeat(200));
    let bad: Vec<(&[u8], i64)> = vec![
        (b"this is not json\n", -32700),
        (b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":NaN}\n", -32700),
        (b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n", -32700),
        (b"\xff\xfe\xfd\n", -32700),
        (deep.as_bytes(), -32700),
        (b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]\n", -32600),
    ];
    for (line, code) in bad {
        stdin.write_all(line).unwrap();
        stdin.flush().unwrap();
        let answer = next();
        assert_eq!(
            answer["error"]["code"].as_i64(),
            Some(code),
            "{:?} -> {answer}",
            String::from_utf8_lossy(line)
        );
        assert_eq!(answer["jsonrpc"], "2.0");
    }
    stdin
        .write_all(br#"{"jsonrpc":"2.0","id":9,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#)
        .unwrap();
    stdin.write_all(b"\n").unwrap();
    stdin.flush().unwrap();
    let answer = next();
    assert_eq!(answer["id"], 9, "{answer}");
    assert!(answer["result"]["serverInfo"].is_object(), "{answer}");
    drop(stdin);
    assert!(child.wait().unwrap().success());
}
