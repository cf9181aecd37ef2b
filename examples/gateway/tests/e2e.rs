//! End-to-end: the gateway as users build it (`cargo build --release -p
//! modelgates-example-gateway`), driven by the official `openai` Python client against a mock
//! provider (`tests/openai_client.py`), configured over its REST control plane with a
//! management key made by the README-built `modelgates` binary.

use std::process::Command;

// The e2e helpers of the `modelgates` binary's tests: the same release builds and set-up.
#[path = "../../../crates/modelgates-mcp/tests/common/mod.rs"]
mod common;

#[test]
fn the_openai_client_routes_streams_and_is_accounted_through_the_gateway() {
    let modelgates = common::binary();
    let gateway = common::release_binary(
        &[
            "-p",
            "modelgates-example-gateway",
            "--bin",
            "modelgates-gateway",
        ],
        "modelgates-gateway",
    );
    let root = common::setup_e2e();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("examples/gateway/tests/openai_client.py"))
        .arg(&gateway)
        .arg(modelgates)
        .arg(dir.path())
        .output()
        .expect("run the openai client script");
    common::assert_e2e_passed("openai_client.py", &out);
}
