//! End-to-end: the built `modelgates` binary driven over stdio by the PyPI `mcp` client
//! (installed into `.venv` by `scripts/setup-e2e.sh`), including a restart on the same file.

mod common;

#[test]
fn python_mcp_client_drives_the_full_lifecycle_over_stdio() {
    let root = common::setup_e2e();

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e2e.redb");
    common::run_python_stdio(&root, "stdio_lifecycle.py", &db, &[]);
    assert!(db.exists(), "the database file was written");
}
