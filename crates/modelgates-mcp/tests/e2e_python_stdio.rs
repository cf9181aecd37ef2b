//! End-to-end: the built `modelgates` binary driven over stdio by the PyPI `mcp` client
//! (installed into `.venv` by `scripts/setup-e2e.sh`), including a restart on the same file.

use std::path::PathBuf;
use std::process::Command;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

#[test]
fn python_mcp_client_drives_the_full_lifecycle_over_stdio() {
    let root = repo_root();
    let setup = Command::new("bash")
        .arg(root.join("scripts/setup-e2e.sh"))
        .status()
        .expect("run scripts/setup-e2e.sh");
    assert!(
        setup.success(),
        "scripts/setup-e2e.sh failed: the e2e client could not be installed"
    );

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
