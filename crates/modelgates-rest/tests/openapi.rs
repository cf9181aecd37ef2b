//! The OpenAPI document and `docs/rest.md` are generated from the routes; this test fails when
//! the committed copies (`docs/openapi.json`, `docs/rest.md`) are stale. `UPDATE_SNAPSHOTS=1`
//! rewrites them. (The served document is validated with `openapi-spec-validator` and fuzzed
//! with Schemathesis by the end-to-end tests in `modelgates-mcp/tests/rest.rs`.)

use std::path::PathBuf;

use modelgates_rest::{RestOptions, markdown, openapi};

fn docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

fn check(name: &str, fresh: &str) {
    let path = docs().join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "docs/{name} is stale: run `UPDATE_SNAPSHOTS=1 cargo test -p modelgates-rest --test \
         openapi` and commit the result"
    );
}

#[test]
fn committed_openapi_document_and_route_docs_are_current() {
    let doc = openapi(&RestOptions::default());
    check(
        "openapi.json",
        &(serde_json::to_string_pretty(&doc).unwrap() + "\n"),
    );
    check("rest.md", &markdown(&doc));
}

#[test]
fn every_route_has_an_operation_id_a_summary_and_its_error_statuses() {
    let doc = openapi(&RestOptions::default());
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            assert!(op["summary"].is_string(), "{method} {path}: no summary");
            let responses = op["responses"].as_object().unwrap();
            for status in ["400", "401", "403", "500"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path}: no {status}"
                );
            }
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{method} {path}: no 404");
            }
            if method != "get" {
                assert!(responses.contains_key("409"), "{method} {path}: no 409");
            }
            if op.get("requestBody").is_some() {
                assert!(responses.contains_key("413"), "{method} {path}: no 413");
            }
        }
    }
    assert!(ids.len() >= 40, "{} operations", ids.len());
}

#[test]
fn toolsets_limit_the_document_as_they_limit_the_routes() {
    let doc = openapi(&RestOptions {
        toolsets: Some(vec!["personas".into()]),
        ..Default::default()
    });
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert_eq!(paths, ["/personas", "/personas/{persona}"]);
}

/// The JSON Schema of bundle files (`docs/bundle.schema.json`), generated from the types, so
/// editors can validate them (YAML language servers read JSON Schema too).
#[test]
fn committed_bundle_schema_is_current() {
    let schema = schemars::schema_for!(modelgates::Bundle);
    check(
        "bundle.schema.json",
        &(serde_json::to_string_pretty(&schema).unwrap() + "\n"),
    );
    // Every field of a real bundle validates against it: the schema and the types agree.
    let bundle = modelgates::Bundle::parse(
        "bundle: t\nproviders:\n  - {name: p-one, provider_type: openai, api_key: {env: K}}\n\
         workspaces:\n  - slug: a\n    name: A\n    mux_rules:\n      - {provider: p-one, model: gpt-5, matcher_type: catch_all}\n\
         \x20   model_status: {openai/o3: MODEL_STATUS_DISABLED}\n",
    )
    .unwrap();
    let value = serde_json::to_value(&bundle).unwrap();
    let text = serde_json::to_string(&schema).unwrap();
    for key in value["workspaces"][0].as_object().unwrap().keys() {
        assert!(
            text.contains(&format!("\"{key}\"")),
            "{key} is not in the schema"
        );
    }
}
