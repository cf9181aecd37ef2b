//! End-to-end: the built `modelgates` binary driven over stdio by the PyPI `mcp` client
//! (installed into `.venv` by `scripts/setup-e2e.sh`), including a restart on the same file.

mod common;

use std::process::Command;

#[test]
fn python_mcp_client_drives_the_full_lifecycle_over_stdio() {
    let root = common::setup_e2e();

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e2e.redb");
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/e2e/stdio_lifecycle.py"))
        .arg(env!("CARGO_BIN_EXE_modelgates"))
        .arg(&db)
        .output()
        .expect("run the Python e2e client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("E2E PASSED"),
        "e2e failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(db.exists(), "the database file was written");
}
