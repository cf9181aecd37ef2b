//! End-to-end: the routing tools over stdio with the PyPI `mcp` client, and the provider-key
//! leak scan — every tool is called (successes and failures, several carrying API keys) with
//! the server logging at `trace`, then every result, error and log line is searched for the
//! keys (`tests/e2e/routing_secrets.py`).

use std::path::PathBuf;
use std::process::Command;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

#[test]
fn no_tool_output_error_or_log_line_contains_a_provider_key() {
    let root = repo_root();
    let setup = Command::new("bash")
        .arg(root.join("scripts/setup-e2e.sh"))
        .status()
        .expect("run scripts/setup-e2e.sh");
    assert!(setup.success(), "scripts/setup-e2e.sh failed");

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
