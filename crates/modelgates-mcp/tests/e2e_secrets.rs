//! End-to-end: the routing tools over stdio with the PyPI `mcp` client, and the provider-key
//! leak scan — every tool is called (successes and failures, several carrying API keys) with
//! the server logging at `trace`, then every result, error and log line is searched for the
//! keys (`tests/e2e/routing_secrets.py`).

mod common;

use std::process::Command;

#[test]
fn no_tool_output_error_or_log_line_contains_a_provider_key() {
    let root = common::setup_e2e();

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("secrets.redb");
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/e2e/routing_secrets.py"))
        .arg(env!("CARGO_BIN_EXE_modelgates"))
        .arg(&db)
        .arg("trace")
        .output()
        .expect("run the Python e2e client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("E2E PASSED"),
        "e2e failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}
