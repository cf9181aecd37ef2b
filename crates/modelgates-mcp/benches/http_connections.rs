//! Issue 11: the connection bounds under an idle-socket attack, against the release binary.
//! An "attacker" on 127.0.0.2 opens ATTACK_SOCKETS (default 2,000) TCP connections and sends
//! nothing (or half a request); meanwhile a client on 127.0.0.1 makes 200 `initialize`
//! requests. Reports how many attacking sockets the server kept open, the client's latency
//! (p50/p99, all must succeed) and how long SIGTERM takes with the half-sent requests open.
//!
//! Run: `cargo bench -p modelgates-mcp --bench http_connections` (ATTACK_SOCKETS=n). Not part
//! of `cargo test`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn main() {
    let sockets: usize = std::env::var("ATTACK_SOCKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("conn.redb");
    let key = common::create_key(&db, &["--name", "bench", "--management"]);
    let (mut child, url) = common::serve_http_quiet(&db, &["--max-sessions-per-key", "1000"]);
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The attack: idle sockets from another loopback address, half of them with half a request.
    let attack: Vec<tokio::net::TcpStream> = rt.block_on(async {
        let mut open = Vec::new();
        for i in 0..sockets {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
            if let Ok(mut s) = socket.connect(addr).await {
                if i % 2 == 0 {
                    use tokio::io::AsyncWriteExt;
                    let _ = s
                        .write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
                        .await;
                }
                open.push(s);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        open
    });
    // How many the server kept: a closed one reads EOF at once.
    let kept = rt.block_on(async {
        let mut kept = 0;
        for s in &attack {
            let mut buf = [0u8; 1];
            match tokio::time::timeout(Duration::from_millis(2), s.peek(&mut buf)).await {
                Err(_) => kept += 1,
                Ok(Ok(0)) | Ok(Err(_)) => {}
                Ok(Ok(_)) => kept += 1,
            }
        }
        kept
    });
    let mut latencies = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let r = common::mcp_initialize(&url, &key);
        assert_eq!(
            r.status, 200,
            "a legitimate client is served during the attack: {r:?}"
        );
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    // A half-sent request from the client's own address, then SIGTERM.
    let mut half = std::net::TcpStream::connect(addr).unwrap();
    half.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        .unwrap();
    let started = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let shutdown = started.elapsed();
    let mut buf = [0u8; 1];
    let _ = half.read(&mut buf);
    drop(attack);
    println!(
        "{sockets} attacking sockets from 127.0.0.2: {kept} kept open by the server (cap per address 128); \
         200 initialize calls from 127.0.0.1 during the attack: p50 {:?}, p99 {:?}, max {:?}, 0 failures; \
         SIGTERM with half-sent requests open: exited ({status}) in {shutdown:?}",
        pct(0.5),
        pct(0.99),
        latencies.last().unwrap()
    );
    if kept > 128 || !status.success() || shutdown > Duration::from_secs(12) {
        std::process::exit(1);
    }
}
