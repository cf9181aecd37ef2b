//! The `modelgates` command line: bad configuration fails fast with a message naming the
//! problem, before anything is written.

mod common;

use std::process::Command;

#[test]
fn a_bad_catalog_file_is_refused_naming_the_entry_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.json");
    std::fs::write(
        &catalog,
        r#"{"version": 1, "models": [{"provider": "acme", "family": "m1",
            "inputPricePerMillionTokens": "1", "outputPricePerMillionTokens": "$2",
            "maxInputTokens": 1000, "maxOutputTokens": 100}]}"#,
    )
    .unwrap();
    let db = dir.path().join("db.redb");
    let out = Command::new(common::binary())
        .args(["mcp", "--db"])
        .arg(&db)
        .arg("--catalog")
        .arg(&catalog)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("catalog.models[0].outputPricePerMillionTokens"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing but MCP on stdout");
    assert!(!db.exists(), "nothing was written");
}

#[test]
fn help_lists_the_documented_options() {
    let out = Command::new(common::binary())
        .args(["mcp", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for opt in ["--db", "MODELGATES_DB", "--catalog", "MODELGATES_CATALOG"] {
        assert!(text.contains(opt), "{opt} missing from:\n{text}");
    }
}

fn modelgates(args: &[&str], db: &std::path::Path) -> std::process::Output {
    Command::new(common::binary())
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap()
}

/// A database with a workspace and a key, written through the library.
fn populated(dir: &std::path::Path) -> std::path::PathBuf {
    let db = dir.join("db.redb");
    let store = modelgates_redb::RedbStore::open(&db).unwrap();
    let gates = modelgates::ModelGates::open(store.clone()).unwrap();
    let admin = gates.default_caller().unwrap();
    let new = modelgates::NewWorkspace {
        name: "P".into(),
        slug: "p".into(),
        ..Default::default()
    };
    gates.workspace_create(&admin, new).unwrap();
    let new = modelgates::NewKey {
        name: "k".into(),
        workspace: "p".into(),
        ..Default::default()
    };
    gates.key_create(&admin, new).unwrap();
    drop(gates);
    store.close().unwrap();
    db
}

#[test]
fn check_reports_a_consistent_database_and_backup_makes_a_checkable_copy() {
    let dir = tempfile::tempdir().unwrap();
    let db = populated(dir.path());
    let out = modelgates(&["check"], &db);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("2 workspaces") && text.contains("1 API keys") && text.contains("ok:"),
        "{text}"
    );

    let backup = dir.path().join("backup.redb");
    let out = modelgates(&["backup", backup.to_str().unwrap()], &db);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = modelgates(&["check"], &backup);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let again = modelgates(&["backup", backup.to_str().unwrap()], &db);
    assert_eq!(
        again.status.code(),
        Some(1),
        "an existing backup file is never overwritten"
    );
}

#[test]
fn damaged_files_are_reported_not_panicked_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = populated(dir.path());
    let bytes = std::fs::read(&db).unwrap();
    for (name, damaged) in [
        ("truncated", bytes[..bytes.len() / 3].to_vec()),
        ("garbage", vec![0x5a; 64 * 1024]),
        ("empty-header", vec![0; 512]),
    ] {
        let path = dir.path().join(format!("{name}.redb"));
        std::fs::write(&path, &damaged).unwrap();
        for args in [&["check"][..], &["mcp"][..]] {
            let out = modelgates(args, &path);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{name} {args:?}: {stderr}");
            assert!(
                stderr.starts_with("modelgates: "),
                "{name} {args:?}: a clear error: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{name} {args:?}: {stderr}");
        }
    }
}

#[test]
fn backup_copies_a_database_a_running_server_has_open_with_live_backup() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let db = populated(dir.path());
    let serve = |extra: &[&str]| {
        Command::new(common::binary())
            .args(["mcp", "--db"])
            .arg(&db)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let wait_listening = |server: &mut std::process::Child| {
        let mut log = BufReader::new(server.stderr.take().unwrap());
        let mut line = String::new();
        while !line.contains("serving MCP over stdio") {
            line.clear();
            assert!(log.read_line(&mut line).unwrap() > 0, "the server exited");
        }
    };
    // Without --live-backup the server holds the file exclusively: a clear refusal.
    let mut server = serve(&[]);
    wait_listening(&mut server);
    let refused = dir.path().join("refused.redb");
    let out = modelgates(&["backup", refused.to_str().unwrap()], &db);
    drop(server.stdin.take());
    let _ = server.wait();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--live-backup"), "{stderr}");
    assert!(!refused.exists());

    let mut server = Command::new(common::binary())
        .args(["mcp", "--live-backup", "--db"])
        .arg(&db)
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(server.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("serving MCP over stdio") {
        line.clear();
        assert!(log.read_line(&mut line).unwrap() > 0, "the server exited");
    }
    let backup = dir.path().join("live.redb");
    let out = modelgates(&["backup", backup.to_str().unwrap()], &db);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    drop(server.stdin.take()); // end the session
    let _ = server.wait();
    assert!(out.status.success(), "backup while serving: {stderr}");
    let out = modelgates(&["check"], &backup);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("2 workspaces") && text.contains("1 API keys"),
        "{text}"
    );
}

/// `plan -f`, `apply -f` and `export` on a bundle file whose provider key comes from a file:
/// the plan changes nothing, apply performs it, the second plan is empty, a stale
/// `--expected` is refused, and neither the plan nor the export prints the key.
#[test]
fn plan_apply_and_export_a_bundle_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.redb");
    let key_file = dir.path().join("openai.key");
    std::fs::write(&key_file, "sk-cli-canary-7f3a9c\n").unwrap();
    let bundle = dir.path().join("team.yaml");
    let write = |instructions: &str| {
        std::fs::write(
            &bundle,
            format!(
                "bundle: team\nproviders:\n  - name: openai-prod\n    provider_type: openai\n    \
                 api_key: {{file: {}}}\nworkspaces:\n  - slug: prod\n    name: Production\n    \
                 custom_instructions: {instructions}\n    mux_rules:\n      - {{provider: \
                 openai-prod, model: gpt-5, matcher_type: catch_all}}\n",
                key_file.display()
            ),
        )
        .unwrap();
    };
    write("Be brief.");
    let file = bundle.to_str().unwrap();
    // A missing database is an error, not a new one.
    let missing = modelgates(&["plan", "-f", file], &db);
    assert!(!missing.status.success() && !db.exists());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no database at"));
    common::create_key(&db, &["--name", "admin", "--management"]);
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let plan = modelgates(&["plan", "-f", file], &db);
    assert!(plan.status.success(), "{}", text(&plan));
    let out = text(&plan);
    assert!(
        out.contains("+ workspace prod") && out.contains("api_key: (secret changed)"),
        "{out}"
    );
    assert!(!out.contains("sk-cli-canary"), "{out}");
    let fingerprint = out
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint: "))
        .unwrap()
        .to_owned();
    let again = modelgates(&["plan", "-f", file], &db);
    assert!(
        text(&again).contains("+ workspace prod"),
        "the plan changed nothing"
    );
    let apply = modelgates(&["apply", "-f", file, "--expected", &fingerprint], &db);
    assert!(apply.status.success(), "{}", text(&apply));
    assert!(text(&apply).contains("(applied)"), "{}", text(&apply));
    let empty = modelgates(&["plan", "-f", file], &db);
    assert!(text(&empty).contains("nothing to do"), "{}", text(&empty));
    write("Be thorough.");
    let stale = modelgates(&["apply", "-f", file, "--expected", &fingerprint], &db);
    assert!(!stale.status.success(), "{}", text(&stale));
    assert!(
        text(&stale).contains("changed since the plan"),
        "{}",
        text(&stale)
    );
    let export = modelgates(&["export", "--bundle", "copy"], &db);
    assert!(export.status.success(), "{}", text(&export));
    let yaml = String::from_utf8_lossy(&export.stdout);
    assert!(
        yaml.contains("MODELGATES_PROVIDER_OPENAI_PROD_API_KEY"),
        "{yaml}"
    );
    assert!(yaml.contains("custom_instructions: Be brief."), "{yaml}");
    assert!(!yaml.contains("sk-cli-canary"), "{yaml}");
}
