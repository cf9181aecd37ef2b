//! Issue 11: the memory an idle MCP-over-HTTP session costs the server. Starts the release
//! binary (`serve --http`), opens SESSIONS sessions (default 1,000: `initialize` with
//! protocol 2025-11-25, then `notifications/initialized`, each from its own connection, left
//! idle) and reports the server's resident memory before and after, per session. Target:
//! ≤ 50 KiB per idle session.
//!
//! Run: `cargo bench -p modelgates-mcp --bench http_sessions` (SESSIONS=n). Not part of
//! `cargo test`.

#[path = "../tests/common/mod.rs"]
mod common;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let sessions: usize = std::env::var("SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sessions.redb");
    let key = common::create_key(&db, &["--name", "bench", "--management"]);
    let cap = (sessions + 10).to_string();
    let (mut child, url) = common::serve_http_quiet(
        &db,
        &["--max-sessions-per-key", &cap, "--max-sessions", &cap],
    );
    let pid = child.id();
    // Warm up: the first session pays for one-time allocations (tool schemas, runtime).
    for _ in 0..10 {
        assert_eq!(common::mcp_initialize(&url, &key).status, 200);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let before = rss_kib(pid);
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    for i in 0..sessions {
        let r = common::mcp_initialize(&url, &key);
        assert_eq!(r.status, 200, "session {i}: {r:?}");
        let id = r.header("mcp-session-id").unwrap().to_owned();
        let h = common::mcp_headers(&key, Some(&id));
        assert_eq!(common::http(&url, "POST", &h, initialized).status, 202);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let after = rss_kib(pid);
    let per = (after.saturating_sub(before)) as f64 / sessions as f64;
    println!(
        "{sessions} idle sessions: server RSS {before} KiB -> {after} KiB, {per:.1} KiB per session (target <= 50)"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    if per > 50.0 {
        std::process::exit(1);
    }
}
