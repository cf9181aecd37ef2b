//! The release binary on PostgreSQL (`--db postgres://…`): both seed SDKs' end-to-end scripts
//! against `serve --http`, then `modelgates check`; and three `serve --http` instances on one
//! database behaving as one. Needs `MODELGATES_POSTGRES_URL` (CI sets
//! it); without it the test prints that it was skipped and passes. The database's tables live
//! in a throw-away schema (`?schema=`), dropped at the end.

mod common;

use std::path::PathBuf;

use modelgates_postgres::{PgOptions, PgStore};

fn url() -> Option<String> {
    match std::env::var("MODELGATES_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "SKIPPED: the PostgreSQL end-to-end test needs MODELGATES_POSTGRES_URL, e.g. \
                 MODELGATES_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo test"
            );
            None
        }
    }
}

/// Drops the schema when the test ends, also when it fails.
struct Schema(PgStore);

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = self.0.drop_schema();
    }
}

/// A fresh schema on the test server: the `--db` URL naming it, and its guard.
fn fresh_schema(base_url: &str) -> (PathBuf, Schema) {
    let mut raw = [0u8; 6];
    getrandom::fill(&mut raw).unwrap();
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let schema = format!("mg_e2e_{hex}");
    let sep = if base_url.contains('?') { '&' } else { '?' };
    let db = PathBuf::from(format!("{base_url}{sep}schema={schema}"));
    let guard = Schema(
        PgStore::open_with(
            base_url,
            PgOptions {
                schema,
                max_connections: 1,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    (db, guard)
}

fn run(root: &std::path::Path, interpreter: &str, script: &str, db: &std::path::Path) {
    let key = common::create_key(db, &["--name", "admin", "--management"]);
    let (mut child, url) = common::serve_http_quiet(db, &[]);
    let base = url.trim_end_matches("/mcp").to_owned() + "/api/v1";
    let out = std::process::Command::new(root.join(interpreter))
        .arg(root.join("tests/e2e").join(script))
        .arg(&base)
        .arg(&key)
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("E2E PASSED"),
        "{script} on PostgreSQL failed\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_seed_sdks_work_against_the_binary_on_postgres() {
    let Some(base_url) = url() else { return };
    let root = common::setup_e2e();
    for (interpreter, script) in [
        (".venv/bin/python", "rest_sdk.py"),
        ("node_modules/.bin/node", "rest_sdk.mjs"),
    ] {
        let mut raw = [0u8; 6];
        getrandom::fill(&mut raw).unwrap();
        let schema: String = "mg_e2e_"
            .chars()
            .chain(
                raw.iter()
                    .flat_map(|b| format!("{b:02x}").chars().collect::<Vec<_>>()),
            )
            .collect();
        let sep = if base_url.contains('?') { '&' } else { '?' };
        let db = PathBuf::from(format!("{base_url}{sep}schema={schema}"));
        let _guard = Schema(
            PgStore::open_with(
                &base_url,
                PgOptions {
                    schema: schema.clone(),
                    max_connections: 1,
                    ..Default::default()
                },
            )
            .unwrap(),
        );
        run(&root, interpreter, script, &db);
        let check = std::process::Command::new(common::binary())
            .args(["check", "--db"])
            .arg(&db)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&check.stdout);
        assert!(
            check.status.success() && report.contains("every invariant holds"),
            "check on PostgreSQL: {report}{}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
}

/// A REST call to one instance with `key`.
fn call(
    base: &str,
    key: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut headers = vec![("Authorization", format!("Bearer {key}"))];
    if body.is_some() {
        headers.push(("Content-Type", "application/json".to_owned()));
    }
    let r = common::http(
        &format!("{base}{path}"),
        method,
        &headers,
        body.unwrap_or(""),
    );
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or(serde_json::Value::Null),
    )
}

/// Polls `done` every 5 ms for up to 2 s; panics naming `what` when it never holds.
fn within_2s(what: &str, done: impl Fn() -> bool) -> std::time::Duration {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(2),
            "{what}: not within 2 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    start.elapsed()
}

/// Three instances on one database: a key created on A works on B and C; disabled on B, it is
/// refused on A and C; a mux rule set on C routes on A; the same slug created on all three at
/// once has exactly one winner; `modelgates check` is clean at the end.
/// Child processes killed (and reaped) when dropped.
struct Killed(Vec<std::process::Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn three_instances_on_one_database_behave_as_one() {
    let Some(base_url) = url() else { return };
    let (db, _guard) = fresh_schema(&base_url);
    let admin = common::create_key(&db, &["--name", "admin", "--management"]);
    let (children, urls): (Vec<_>, Vec<_>) =
        (0..3).map(|_| common::serve_http_quiet(&db, &[])).unzip();
    // Killed on the way out, also when an assertion fails.
    let servers = Killed(children);
    let bases: Vec<String> = urls
        .iter()
        .map(|url| url.trim_end_matches("/mcp").to_owned() + "/api/v1")
        .collect();
    let (a, b, c) = (&bases[0], &bases[1], &bases[2]);

    // A key created on A works on B and C.
    let (status, made) = call(
        a,
        &admin,
        "POST",
        "/keys",
        Some(r#"{"name": "ops", "kind": "management"}"#),
    );
    assert_eq!(status, 201, "{made}");
    let secret = made["key"].as_str().unwrap().to_owned();
    let hash = made["data"]["hash"].as_str().unwrap().to_owned();
    for base in [b, c] {
        within_2s("the new key working on another instance", || {
            call(base, &secret, "GET", "/key", None).0 == 200
        });
    }
    // Disabled on B, refused on A and C.
    let (status, _) = call(
        b,
        &admin,
        "PATCH",
        &format!("/keys/{hash}"),
        Some(r#"{"disabled": true}"#),
    );
    assert_eq!(status, 200);
    for base in [a, c] {
        let took = within_2s("the disabled key refused on another instance", || {
            call(base, &secret, "GET", "/key", None).0 == 403
        });
        eprintln!("disabled on B, refused after {took:?}");
    }
    // A mux rule set on C routes on A.
    let (status, p) = call(
        c,
        &admin,
        "POST",
        "/provider-endpoints",
        Some(r#"{"name": "openai-prod", "provider_type": "openai"}"#),
    );
    assert_eq!(status, 201, "{p}");
    let rules = r#"[{"provider_name": "openai-prod", "model": "openai/gpt-5", "matcher_type": "catch_all"}]"#;
    let (status, _) = call(c, &admin, "PUT", "/workspaces/default/muxes", Some(rules));
    assert_eq!(status, 204);
    within_2s("the rule set on C routing on A", || {
        let (status, route) = call(
            a,
            &admin,
            "POST",
            "/workspaces/default/route",
            Some(r#"{"request_type": "chat"}"#),
        );
        status == 200 && route["rule_index"] == serde_json::json!(0)
    });
    // The same slug on all three at once: one winner, the others a conflict.
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = bases
            .iter()
            .map(|base| {
                let admin = &admin;
                s.spawn(move || {
                    let (status, body) = call(
                        base,
                        admin,
                        "POST",
                        "/workspaces",
                        Some(r#"{"name": "Contested", "slug": "contested"}"#),
                    );
                    if status >= 500 {
                        eprintln!("a contested create answered {status}: {body}");
                    }
                    status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [201, 409, 409], "{statuses:?}");
    drop(servers);
    let check = std::process::Command::new(common::binary())
        .args(["check", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && report.contains("every invariant holds"),
        "check: {report}{}",
        String::from_utf8_lossy(&check.stderr)
    );
}
