//! The `modelgates` command line: bad configuration fails fast with a message naming the
//! problem, before anything is written.

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
    let out = Command::new(env!("CARGO_BIN_EXE_modelgates"))
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
    let out = Command::new(env!("CARGO_BIN_EXE_modelgates"))
        .args(["mcp", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for opt in ["--db", "MODELGATES_DB", "--catalog", "MODELGATES_CATALOG"] {
        assert!(text.contains(opt), "{opt} missing from:\n{text}");
    }
}
