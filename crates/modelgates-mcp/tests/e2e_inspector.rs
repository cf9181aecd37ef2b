//! End-to-end: the built `modelgates` binary driven over stdio by the MCP Inspector CLI
//! (`@modelcontextprotocol/inspector` from npm, installed into `node_modules` by
//! `scripts/setup-e2e.sh`): schema portability lint, a tool call, and an error result.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// How many tools the reviewed snapshot (`tests/snapshots/tools.json`) lists: the inspector
/// must see every one.
fn snapshot_tools() -> usize {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/tools.json");
    let tools: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    tools.as_array().map(Vec::len).unwrap()
}

fn setup(root: &Path) {
    let status = Command::new("bash")
        .arg(root.join("scripts/setup-e2e.sh"))
        .status()
        .unwrap();
    assert!(
        status.success(),
        "scripts/setup-e2e.sh failed: the e2e clients could not be installed"
    );
}

fn inspector(root: &Path, db: &Path, args: &[&str]) -> Output {
    Command::new(root.join("node_modules/.bin/mcp-inspector"))
        .args(["--cli", "-e", "RUST_LOG=error"])
        .arg(common::binary())
        .args(["mcp", "--db"])
        .arg(db)
        .args(args)
        .current_dir(root)
        .output()
        .expect("run mcp-inspector")
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn inspector_cli_lists_portable_tools_and_calls_them() {
    let root = repo_root();
    setup(&root);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inspector.redb");

    let list = inspector(&root, &db, &["--method", "tools/list", "--strict"]);
    let out = text(&list);
    assert!(
        list.status.success(),
        "tools/list failed ({}):\n{out}",
        list.status
    );
    assert!(
        !out.contains("Warning"),
        "the strict schema lint warned:\n{out}"
    );
    let tools: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(
        tools["tools"].as_array().map(Vec::len),
        Some(snapshot_tools()),
        "{out}"
    );

    let get = inspector(
        &root,
        &db,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "workspace_get",
            "--tool-args-json",
            r#"{"id":"default"}"#,
        ],
    );
    let out = text(&get);
    assert!(
        get.status.success(),
        "workspace_get failed ({}):\n{out}",
        get.status
    );
    assert!(
        out.contains(r#""slug": "default""#) || out.contains(r#""slug":"default""#),
        "{out}"
    );

    let bad = inspector(
        &root,
        &db,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "workspace_create",
            "--tool-args-json",
            r#"{"name":"X","slug":"Not A Slug"}"#,
        ],
    );
    let out = text(&bad);
    assert_eq!(
        bad.status.code(),
        Some(5),
        "a tool error is exit code 5:\n{out}"
    );
    assert!(
        out.contains("invalid_argument") && out.contains("slug"),
        "{out}"
    );
}

#[test]
fn inspector_cli_over_http_with_a_bearer_header() {
    let root = repo_root();
    setup(&root);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("http.redb");
    let key = Command::new(common::binary())
        .args([
            "keys",
            "create",
            "--management",
            "--name",
            "inspector",
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    let key = String::from_utf8(key.stdout).unwrap().trim().to_owned();
    let mut server = Command::new(common::binary())
        .args(["serve", "--http", "127.0.0.1:0", "--db"])
        .arg(&db)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(server.stderr.take().unwrap());
    let mut line = String::new();
    let url = loop {
        line.clear();
        assert!(
            std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0,
            "no listen line"
        );
        if let Some(rest) = line
            .trim()
            .strip_prefix("modelgates: serving MCP over HTTP at ")
        {
            break rest.to_owned();
        }
    };
    let run = |args: &[&str]| {
        Command::new(root.join("node_modules/.bin/mcp-inspector"))
            .args([
                "--cli",
                "-q",
                "--format",
                "json",
                &url,
                "--transport",
                "http",
            ])
            .args([
                "--header",
                &format!("Authorization: Bearer {key}"),
                "--stored-auth-only",
            ])
            .args(args)
            .current_dir(&root)
            .output()
            .unwrap()
    };
    let list = run(&["--method", "tools/list"]);
    let call = run(&[
        "--method",
        "tools/call",
        "--tool-name",
        "workspace_get",
        "--tool-args-json",
        r#"{"id":"default"}"#,
    ]);
    let _ = server.kill();
    let _ = server.wait();
    let short = |o: &Output| text(o).chars().take(2000).collect::<String>();
    assert!(
        list.status.success(),
        "tools/list over HTTP failed:\n{}",
        short(&list)
    );
    let out: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let tools = out.get("result").unwrap_or(&out)["tools"]
        .as_array()
        .map(Vec::len);
    assert_eq!(tools, Some(snapshot_tools()), "{}", short(&list));
    assert!(
        call.status.success(),
        "tools/call over HTTP failed:\n{}",
        short(&call)
    );
    assert!(text(&call).contains("default"), "{}", short(&call));
}
