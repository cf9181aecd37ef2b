//! Helpers shared by the end-to-end tests: the binary users run (built as the README builds
//! it), the repository root, key bootstrap through the CLI, and starting `modelgates serve
//! --http` on a free loopback port.
#![allow(dead_code)] // each test binary uses a subset

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::OnceLock;

/// The artifact users run: `cargo build --release --bin modelgates`, exactly the README's
/// build (no dev-dependencies, so none of their crate features), built once per test process.
///
/// Never the binary Cargo builds for tests (its `CARGO_BIN_EXE` path): that binary is built with the dev-dependencies'
/// features unified in, so it can work where the shipped one does not (a regex feature reached
/// only the test build once, and the release binary panicked on its first conversation). The
/// tidy test `no_test_runs_the_test_build_of_the_binary` keeps it that way.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| release_binary(&["--bin", "modelgates"], "modelgates"))
}

/// `cargo build --release ARGS`, returning the executable named `bin`. Each binary is built by
/// an invocation of its own, as its README command builds it, so no other package's features
/// are unified into it. (Also used by examples/gateway's end-to-end test.)
pub fn release_binary(args: &[&str], bin: &str) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--release"])
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .current_dir(repo_root())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run cargo build --release {args:?}: {e}"));
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

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Runs `scripts/setup-e2e.sh` (the Python client, the Inspector, Node 22) and returns the
/// repository root.
pub fn setup_e2e() -> PathBuf {
    let root = repo_root();
    let setup = Command::new("bash")
        .arg(root.join("scripts/setup-e2e.sh"))
        .status()
        .expect("run scripts/setup-e2e.sh");
    assert!(
        setup.success(),
        "scripts/setup-e2e.sh failed: the e2e clients could not be installed"
    );
    root
}

/// Runs `tests/e2e/SCRIPT BIN DB EXTRA…` with the project's Python client against the built
/// binary and asserts it ends with `E2E PASSED`.
pub fn run_python_stdio(root: &Path, script: &str, db: &Path, extra: &[&str]) {
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/e2e").join(script))
        .arg(binary())
        .arg(db)
        .args(extra)
        .output()
        .expect("run the Python e2e client");
    assert_e2e_passed(script, &out);
}

/// Asserts that an end-to-end client script (`name`) exited 0 and printed `E2E PASSED`, showing
/// its output when not.
pub fn assert_e2e_passed(name: &str, out: &std::process::Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("E2E PASSED"),
        "{name} failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}

/// `modelgates keys create ARGS --db DB`; returns the printed secret.
pub fn create_key(db: &Path, args: &[&str]) -> String {
    let out = Command::new(binary())
        .args(["keys", "create"])
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        secret.starts_with("mg-v1-") && !secret.contains('\n'),
        "only the secret on stdout"
    );
    secret
}

/// A running `modelgates serve --http 127.0.0.1:0`, its URL and its log.
pub struct HttpServer {
    pub child: Child,
    pub url: String,
    pub stderr: BufReader<ChildStderr>,
}

/// Starts the HTTP server on `db` (plus `extra` arguments) and waits until it listens.
pub fn serve_http(db: &Path, extra: &[&str]) -> HttpServer {
    let mut child = Command::new(binary())
        .args(["serve", "--http", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(extra)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
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
    HttpServer { child, url, stderr }
}

/// Like [`serve_http`], for callers that do not read the log: a thread drains it, since a
/// full pipe would block the server. Returns the child and the URL.
pub fn serve_http_quiet(db: &Path, extra: &[&str]) -> (Child, String) {
    let HttpServer { child, url, stderr } = serve_http(db, extra);
    std::thread::spawn(move || for _ in stderr.lines() {});
    (child, url)
}

/// A raw HTTP/1.1 response: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request on a new connection (`Connection: close`) to the server at `url`
/// (`http://host:port/…`) and reads the whole response. `headers` are extra header lines.
pub fn http(url: &str, method: &str, headers: &[(&str, String)], body: &str) -> RawResponse {
    let rest = url.trim_start_matches("http://");
    let (addr, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("{method} /{path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).unwrap();
    // A server may answer (413) and close before reading a large body: the answer is what
    // the caller checks, so a failed body write is not an error here.
    let _ = s.write_all(body.as_bytes());
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// The headers of an MCP POST with `key` (and a session, if given).
pub fn mcp_headers<'a>(key: &'a str, session: Option<&'a str>) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("Authorization", format!("Bearer {key}")),
        ("Content-Type", "application/json".to_owned()),
        ("Accept", "application/json, text/event-stream".to_owned()),
        ("MCP-Protocol-Version", "2025-11-25".to_owned()),
    ];
    if let Some(s) = session {
        h.push(("Mcp-Session-Id", s.to_owned()));
    }
    h
}

/// An MCP `initialize` (protocol 2025-11-25, which opens a session) as `key`.
pub fn mcp_initialize(url: &str, key: &str) -> RawResponse {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"limits-test","version":"1"}}}"#;
    http(url, "POST", &mcp_headers(key, None), body)
}
