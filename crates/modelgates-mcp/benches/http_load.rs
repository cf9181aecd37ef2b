//! Issue 5's HTTP load test: `workspace_get` at a fixed arrival rate (default 2,000 calls/s in
//! total) from many concurrent MCP sessions (default 32, rmcp's streamable HTTP client with a
//! bearer management key) against `modelgates serve --http` on loopback, for a bounded time
//! (default 60 s). Reports throughput, latency percentiles and the server's resident memory
//! over time; exits non-zero when p99 > 20 ms, the rate falls short by more than 2 %, a call
//! fails, or memory grows by more than 20 % between the first and last 10 s.
//!
//! Run: `cargo bench -p modelgates-mcp --bench http_load`
//! (LOAD_SECS, LOAD_SESSIONS, LOAD_RATE override the defaults). Not part of `cargo test`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let secs = env_or("LOAD_SECS", 60);
    let sessions = env_or("LOAD_SESSIONS", 32);
    let rate = env_or("LOAD_RATE", 2000);
    let bin = common::binary();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("load.redb");

    let key = Command::new(bin)
        .args(["keys", "create", "--management", "--name", "load", "--db"])
        .arg(&db)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(key.status.success(), "keys create failed");
    let secret = String::from_utf8(key.stdout).unwrap().trim().to_owned();

    let mut server = Command::new(bin)
        .args(["serve", "--http", "127.0.0.1:0", "--db"])
        .arg(&db)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = server.id();
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let mut line = String::new();
    let url = loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "server exited");
        if let Some(rest) = line
            .trim()
            .strip_prefix("modelgates: serving MCP over HTTP at ")
        {
            break rest.to_owned();
        }
    };
    // Keep draining the server's log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in stderr.lines() {});

    let mut clients = Vec::new();
    for _ in 0..sessions {
        let config =
            StreamableHttpClientTransportConfig::with_uri(url.as_str()).auth_header(&secret);
        let transport = StreamableHttpClientTransport::from_config(config);
        clients.push(Arc::new(().serve(transport).await.expect("session")));
    }
    let args = serde_json::json!({"id": "default"})
        .as_object()
        .cloned()
        .unwrap();
    // Warm up every session.
    for c in &clients {
        for _ in 0..20 {
            c.call_tool(CallToolRequestParams::new("workspace_get").with_arguments(args.clone()))
                .await
                .unwrap();
        }
    }

    let samples = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let errors = Arc::new(Mutex::new(0u64));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let memory = tokio::spawn(async move {
        let mut rss = Vec::new();
        while Instant::now() < deadline {
            rss.push(rss_kib(pid));
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        rss
    });
    let per_session = Duration::from_secs_f64(sessions as f64 / rate as f64);
    let mut tasks = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        let c = c.clone();
        let args = args.clone();
        let samples = samples.clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            // Stagger the sessions across one period.
            let offset = per_session.mul_f64(i as f64 / sessions as f64);
            let mut tick = tokio::time::interval_at((Instant::now() + offset).into(), per_session);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut local = Vec::new();
            loop {
                let scheduled = tick.tick().await.into_std();
                if scheduled >= deadline {
                    break;
                }
                let call = CallToolRequestParams::new("workspace_get").with_arguments(args.clone());
                match c.call_tool(call).await {
                    // Latency from the scheduled send time: a stalled server is not hidden by
                    // sending less (no coordinated omission).
                    Ok(r) if r.is_error != Some(true) => local.push(scheduled.elapsed()),
                    _ => *errors.lock().unwrap() += 1,
                }
            }
            samples.lock().unwrap().extend(local);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = start.elapsed();
    let rss = memory.await.unwrap();
    let mut s = std::mem::take(&mut *samples.lock().unwrap());
    s.sort();
    let errors = *errors.lock().unwrap();
    let achieved = s.len() as f64 / elapsed.as_secs_f64();
    let window = rss.len().clamp(1, 10);
    let avg = |w: &[u64]| w.iter().sum::<u64>() / w.len().max(1) as u64;
    let (first, last) = (avg(&rss[..window]), avg(&rss[rss.len() - window..]));
    let max = rss.iter().copied().max().unwrap_or(0);
    println!(
        "{sessions} sessions, target {rate} calls/s for {secs} s: {} calls in {:.1} s = {achieved:.0} calls/s, {errors} errors",
        s.len(),
        elapsed.as_secs_f64()
    );
    println!(
        "latency from scheduled send: p50 {:?}, p90 {:?}, p99 {:?}, p99.9 {:?}, max {:?}",
        pct(&s, 0.5),
        pct(&s, 0.9),
        pct(&s, 0.99),
        pct(&s, 0.999),
        s.last().unwrap()
    );
    println!(
        "server RSS: first {window} s avg {first} KiB, last {window} s avg {last} KiB, max {max} KiB"
    );
    for c in clients {
        if let Ok(c) = Arc::try_unwrap(c) {
            let _ = c.cancel().await;
        }
    }
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = server.wait();

    let mut failed = Vec::new();
    if pct(&s, 0.99) > Duration::from_millis(20) {
        failed.push("p99 above 20 ms");
    }
    if achieved < rate as f64 * 0.98 {
        failed.push("rate below target");
    }
    if errors > 0 {
        failed.push("failed calls");
    }
    if last > first + first / 5 {
        failed.push("memory grew more than 20 %");
    }
    if failed.is_empty() {
        println!("PASS");
    } else {
        println!("FAIL: {}", failed.join(", "));
        std::process::exit(1);
    }
}
