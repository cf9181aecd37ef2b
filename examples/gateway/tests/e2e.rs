//! End-to-end: the gateway as users build it (`cargo build --release -p
//! modelgates-example-gateway`), driven by the official `openai` Python client against a mock
//! provider (`tests/openai_client.py`), configured over its REST control plane with a
//! management key made by the README-built `modelgates` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `cargo build --release ARGS`, returning the executable named `bin`. Each binary is built by
/// its own invocation, as its README command builds it, so no other package's features are
/// unified into it.
fn release_binary(args: &[&str], bin: &str) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--release"])
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .current_dir(repo_root())
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build --release");
    assert!(
        out.status.success(),
        "cargo build --release {args:?} failed"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo reported no {bin} executable"))
}

fn setup_e2e(root: &Path) {
    let ok = Command::new("bash")
        .arg(root.join("scripts/setup-e2e.sh"))
        .status()
        .expect("run scripts/setup-e2e.sh")
        .success();
    assert!(ok, "scripts/setup-e2e.sh failed");
}

#[test]
fn the_openai_client_routes_streams_and_is_accounted_through_the_gateway() {
    let root = repo_root();
    let modelgates = release_binary(&["--bin", "modelgates"], "modelgates");
    let gateway = release_binary(
        &[
            "-p",
            "modelgates-example-gateway",
            "--bin",
            "modelgates-gateway",
        ],
        "modelgates-gateway",
    );
    setup_e2e(&root);
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("examples/gateway/tests/openai_client.py"))
        .arg(&gateway)
        .arg(&modelgates)
        .arg(dir.path())
        .output()
        .expect("run the openai client script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("E2E PASSED"),
        "gateway e2e failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}
