//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, run with Node 22)
//! against `modelgates serve --http` with authentication disabled by the test-only flag. The
//! generic server scenarios must pass; the others need the suite's own fixture tools or
//! capabilities ModelGates does not declare (docs/conformance.md).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

const MUST_PASS: [&str; 5] = [
    "server-initialize",
    "ping",
    "tools-list",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
];

#[test]
fn generic_conformance_scenarios_pass() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let setup = Command::new("bash")
        .arg(root.join("scripts/setup-e2e.sh"))
        .status()
        .unwrap();
    assert!(setup.success(), "scripts/setup-e2e.sh failed");
    let dir = tempfile::tempdir().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_modelgates"))
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--insecure-no-auth",
            "--db",
        ])
        .arg(dir.path().join("conformance.redb"))
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let mut line = String::new();
    let url = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the server exited before listening"
        );
        if let Some(rest) = line
            .trim()
            .strip_prefix("modelgates: serving MCP over HTTP at ")
        {
            break rest.to_owned();
        }
    };
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
