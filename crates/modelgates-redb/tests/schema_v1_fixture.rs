//! A database written by the first released schema (version 1) must keep opening, migrating
//! and serving its data. `tests/fixtures/schema-v1.redb` was written by
//! `regenerate_schema_v1_fixture` (run it with `--ignored` only to re-create the fixture for
//! schema 1; never for a later schema) and its facts are in `schema-v1.json`.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use modelgates::testkit::check_invariants;
use modelgates::{
    ManualClock, ModelFilter, ModelGates, ModelStatus, NewKey, NewMember, NewWorkspace, Options,
    Page, ProviderSort,
};
use modelgates_redb::RedbStore;
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn a_schema_v1_database_opens_and_serves_its_data() {
    let facts: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("schema-v1.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.redb");
    std::fs::copy(fixtures().join("schema-v1.redb"), &path).unwrap();

    let gates = ModelGates::open(RedbStore::open(&path).unwrap()).unwrap();
    check_invariants(&gates);
    let admin = gates.default_caller().unwrap();
    let ws = gates.workspace_get(&admin, "legacy").unwrap();
    assert_eq!(ws.id.to_string(), facts["workspace_id"].as_str().unwrap());
    assert_eq!(ws.default_provider_sort, Some(ProviderSort::Latency));
    assert_eq!(ws.labels.get("team").map(String::as_str), Some("core"));
    let members = gates
        .workspace_members_list(&admin, "legacy", Page::default())
        .unwrap();
    assert_eq!(members.total_count, 2);
    let key = gates.verify_key(facts["secret"].as_str().unwrap()).unwrap();
    assert_eq!(key.workspace_id, ws.id);
    assert_eq!(
        gates
            .workspace_list(&admin, Page::default())
            .unwrap()
            .total_count,
        2
    );
    // Schema 2 added model catalogs: the migration seeded the old workspaces.
    let filter = ModelFilter::default();
    let models = gates.model_list(
        &admin,
        "legacy",
        &filter,
        Page::new(None, Some(100)).unwrap(),
    );
    assert_eq!(
        models.unwrap().total_count as usize,
        gates.catalog().models().len()
    );
    let gpt4o = gates.model_get(&admin, "legacy", "openai/gpt-4o").unwrap();
    assert_eq!(
        gpt4o.spec.status,
        ModelStatus::Enabled,
        "the legacy default stays usable"
    );
}

#[test]
#[ignore = "re-creates the schema-v1 fixture; only valid while SCHEMA_VERSION is 1"]
fn regenerate_schema_v1_fixture() {
    assert_eq!(
        modelgates::SCHEMA_VERSION,
        1,
        "the fixture must be written by schema 1"
    );
    let path = fixtures().join("schema-v1.redb");
    let _ = std::fs::remove_file(&path);
    let store = RedbStore::open(&path).unwrap();
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap());
    let options = Options {
        clock: Arc::new(clock),
        ..Default::default()
    };
    let gates = ModelGates::open_with(Arc::new(store.clone()), options).unwrap();
    let admin = gates.default_caller().unwrap();
    let new = NewMember {
        user_id: "user_alice".into(),
        email: "alice@example.com".into(),
        first_name: Some("Alice".into()),
        ..Default::default()
    };
    gates.member_add(&admin, new).unwrap();
    let new = NewWorkspace {
        name: "Legacy".into(),
        slug: "legacy".into(),
        description: Some("written by schema 1".into()),
        default_text_model: Some("openai/gpt-4o".into()),
        default_provider_sort: Some(ProviderSort::Latency),
        labels: Some([("team".to_owned(), "core".to_owned())].into()),
        ..Default::default()
    };
    let ws = gates.workspace_create(&admin, new).unwrap();
    gates
        .workspace_members_add(&admin, "legacy", &["user_alice".to_owned()])
        .unwrap();
    let new = NewKey {
        name: "alice".into(),
        workspace: "legacy".into(),
        creator_user_id: Some("user_alice".into()),
        ..Default::default()
    };
    let key = gates.key_create(&admin, new).unwrap();
    drop(gates);
    store.close().unwrap();
    let facts =
        json!({ "schema_version": 1, "workspace_id": ws.id.to_string(), "secret": key.key });
    std::fs::write(
        fixtures().join("schema-v1.json"),
        serde_json::to_vec_pretty(&facts).unwrap(),
    )
    .unwrap();
}
