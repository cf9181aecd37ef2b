//! The HTTP server's bounds, against the release binary: sessions are bound to the key that
//! created them and capped per key; connections are capped per address, idle ones are closed
//! after the header timeout, and a half-sent request cannot keep SIGTERM from stopping the
//! server.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn addr(url: &str) -> String {
    url.trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn sessions_are_bound_to_their_key_and_capped_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.redb");
    let a = common::create_key(&db, &["--name", "a", "--management"]);
    let b = common::create_key(&db, &["--name", "b", "--management"]);
    let mut server = common::serve_http(&db, &["--max-sessions-per-key", "2"]);
    let url = server.url.clone();

    let first = common::mcp_initialize(&url, &a);
    assert_eq!(first.status, 200, "{first:?}");
    let session = first
        .header("mcp-session-id")
        .expect("a session id")
        .to_owned();
    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    let call = |key: &str| {
        let h = common::mcp_headers(key, Some(&session));
        common::http(&url, "POST", &h, list)
    };
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let h = common::mcp_headers(&a, Some(&session));
    assert_eq!(common::http(&url, "POST", &h, initialized).status, 202);
    let own = call(&a);
    assert_eq!(
        own.status, 200,
        "the creating key uses its session: {own:?}"
    );
    assert!(own.body.contains("workspace_list"));
    let other = call(&b);
    assert_eq!(other.status, 404, "another key cannot use it: {other:?}");
    assert!(other.body.contains("\"not_found\""), "{other:?}");
    let h = common::mcp_headers(&b, Some(&session));
    assert_eq!(
        common::http(&url, "DELETE", &h, "").status,
        404,
        "nor delete it"
    );

    assert_eq!(common::mcp_initialize(&url, &a).status, 200);
    let third = common::mcp_initialize(&url, &a);
    assert_eq!(third.status, 429, "a third session for key a: {third:?}");
    assert!(third.body.contains("2 open sessions"), "{third:?}");
    assert_eq!(
        common::mcp_initialize(&url, &b).status,
        200,
        "key b has its own quota"
    );
    // Closing one frees a place.
    let h = common::mcp_headers(&a, Some(&session));
    assert!(matches!(
        common::http(&url, "DELETE", &h, "").status,
        200 | 202 | 204
    ));
    assert_eq!(common::mcp_initialize(&url, &a).status, 200);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

#[test]
fn idle_connections_are_capped_and_timed_out_and_shutdown_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.redb");
    let key = common::create_key(&db, &["--name", "k", "--management"]);
    let mut server = common::serve_http(
        &db,
        &[
            "--max-connections-per-ip",
            "8",
            "--header-read-timeout",
            "2",
            "--shutdown-grace",
            "2",
        ],
    );
    let url = server.url.clone();
    let idle: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(addr(&url)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // The ninth connection from this address is closed at once.
    let mut ninth = TcpStream::connect(addr(&url)).unwrap();
    ninth
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        ninth.read(&mut buf).unwrap_or(0),
        0,
        "over the cap: closed without an answer"
    );
    // After the header timeout the idle ones are gone and a real client gets through.
    std::thread::sleep(Duration::from_secs(3));
    let r = common::mcp_initialize(&url, &key);
    assert_eq!(r.status, 200, "{r:?}");
    drop(idle);

    // A request whose headers never finish cannot hold SIGTERM up past the grace period.
    let mut half = TcpStream::connect(addr(&url)).unwrap();
    half.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        .unwrap();
    let started = Instant::now();
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the server did not stop within its grace period"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "clean exit after SIGTERM: {status}");
    assert!(started.elapsed() < Duration::from_secs(6));
    // The database was closed cleanly.
    let check = std::process::Command::new(common::binary())
        .args(["check", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
}

/// Bad JSON over HTTP gets 400 with the JSON-RPC parse error (not a plain-text refusal), and a
/// body that is JSON but no message gets invalid request.
#[test]
fn malformed_bodies_get_json_rpc_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("j.redb");
    let key = common::create_key(&db, &["--name", "k", "--management"]);
    let mut server = common::serve_http(&db, &[]);
    let h = common::mcp_headers(&key, None);
    for (body, code) in [
        ("{not json", -32700),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":NaN}"#,
            -32700,
        ),
        ("", -32700),
        (r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#, -32600),
        (r#"{"jsonrpc":"1.0","id":4,"method":"ping"}"#, -32600),
    ] {
        let r = common::http(&server.url, "POST", &h, body);
        assert_eq!(r.status, 400, "{body:?}: {r:?}");
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{r:?}"
        );
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["error"]["code"].as_i64(), Some(code), "{body:?}: {v}");
    }
    assert_eq!(common::mcp_initialize(&server.url, &key).status, 200);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
