//! Issue 5: the round trip of `workspace_get` from an in-process rmcp client through the real
//! stdio transport to the `modelgates` binary and back. Target: median ≤ 100 µs.
//!
//! Run: `cargo bench -p modelgates-mcp --bench stdio_roundtrip` (CALLS=n, default 5000).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let calls: usize = std::env::var("CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(common::binary());
    cmd.args(["mcp", "--db"])
        .arg(dir.path().join("bench.redb"))
        .env("RUST_LOG", "error");
    let client = ().serve(TokioChildProcess::new(cmd).unwrap()).await.unwrap();
    let args = serde_json::json!({"id": "default"})
        .as_object()
        .cloned()
        .unwrap();
    let call = || CallToolRequestParams::new("workspace_get").with_arguments(args.clone());
    for _ in 0..500 {
        client.call_tool(call()).await.unwrap();
    }
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        let r = client.call_tool(call()).await.unwrap();
        samples.push(t.elapsed());
        assert_ne!(r.is_error, Some(true));
    }
    samples.sort();
    println!("calls: {calls}");
    println!(
        "workspace_get over stdio: median {:?}, p90 {:?}, p99 {:?}",
        percentile(&samples, 0.5),
        percentile(&samples, 0.9),
        percentile(&samples, 0.99)
    );
    client.cancel().await.unwrap();
}
