//! End-to-end over streamable HTTP: `modelgates keys create` bootstraps keys on a fresh
//! database, `modelgates serve --http 127.0.0.1:0` serves them, the PyPI `mcp` client (and raw
//! HTTP requests) drive it — auth, both protocol revisions, error results, a key disabled
//! through a tool refused on the next request — and SIGTERM shuts it down cleanly.

mod common;

use std::process::Command;

use common::{create_key, repo_root, serve_http};

#[test]
fn python_mcp_client_over_http_with_key_auth() {
    let root = repo_root();
    let setup = Command::new("bash")
        .arg(root.join("scripts/setup-e2e.sh"))
        .status()
        .unwrap();
    assert!(setup.success(), "scripts/setup-e2e.sh failed");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("http.redb");
    let management = create_key(&db, &["--management", "--name", "ops"]);
    let inference = create_key(&db, &["--name", "gateway"]);

    let common::HttpServer {
        child: mut server,
        url,
        mut stderr,
    } = serve_http(&db, &[]);
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/e2e/http_lifecycle.py"))
        .args([&url, &management, &inference])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ok = out.status.success() && stdout.contains("E2E HTTP PASSED");

    let kill = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = server.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(
        ok,
        "e2e failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        status.success(),
        "graceful shutdown exits 0 ({status}):\n{rest}"
    );
    assert!(rest.contains("closing the database"), "{rest}");
    assert!(
        !rest.contains(&management),
        "the secret never reaches the log"
    );
}
