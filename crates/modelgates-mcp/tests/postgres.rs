//! The release binary on PostgreSQL (`--db postgres://…`): both seed SDKs' end-to-end scripts
//! against `serve --http`, then `modelgates check`. Needs `MODELGATES_POSTGRES_URL` (CI sets
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
