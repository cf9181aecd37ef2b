//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, run with Node 22)
//! against `modelgates serve --http` with authentication disabled by the test-only flag. The
//! generic server scenarios must pass; the others need the suite's own fixture tools or
//! capabilities ModelGates does not declare (docs/conformance.md).

mod common;

use std::io::BufRead;
use std::process::Command;

const MUST_PASS: [&str; 5] = [
    "server-initialize",
    "ping",
    "tools-list",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
];

#[test]
fn generic_conformance_scenarios_pass() {
    let root = common::setup_e2e();
    let dir = tempfile::tempdir().unwrap();
    let common::HttpServer {
        child: mut server,
        url,
        stderr,
    } = common::serve_http(
        &dir.path().join("conformance.redb"),
        &["--insecure-no-auth"],
    );
    std::thread::spawn(move || for _ in stderr.lines() {});
    let node_bin = root.join("node_modules/node/bin");
    let path = format!(
        "{}:{}",
        node_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut failures = Vec::new();
    for scenario in MUST_PASS {
        let out = Command::new(root.join("node_modules/.bin/conformance"))
            .args(["server", "--url", &url, "--scenario", scenario])
            .env("PATH", &path)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        let passed = text
            .lines()
            .any(|l| l.starts_with("Passed:") && l.contains(" 0 failed"));
        if !passed {
            failures.push(format!("{scenario}:\n{text}"));
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        failures.is_empty(),
        "conformance scenarios failed:\n{}",
        failures.join("\n")
    );
}
