//! End-to-end: the routing tools over stdio with the PyPI `mcp` client, and the provider-key
//! leak scan — every tool is called (successes and failures, several carrying API keys) with
//! the server logging at `trace`, then every result, error and log line is searched for the
//! keys (`tests/e2e/routing_secrets.py`).

mod common;

#[test]
fn no_tool_output_error_or_log_line_contains_a_provider_key() {
    let root = common::setup_e2e();

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("secrets.redb");
    common::run_python_stdio(&root, "routing_secrets.py", &db, &["trace"]);
}
