//! Issue 3: listing a workspace's models (limit 100) in-process on redb, with 10,000
//! workspaces × 60 models in the store. Target: median ≤ 200 µs.
//!
//! Run: `cargo bench -p modelgates-redb --bench models`. Building the store (10,000 durable
//! workspace creates, each seeding 60 models in its one commit) takes a few minutes; set
//! `MODELS_BENCH_DB=path` to keep and reuse it between runs.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use modelgates::{Catalog, ModelFilter, ModelGates, NewWorkspace, Options, Page};
use modelgates_redb::RedbStore;

const WORKSPACES: usize = 10_000;
const MODELS: usize = 60;

/// The embedded catalog padded to 60 models with synthetic self-hosted families.
fn catalog() -> Catalog {
    let mut models: Vec<serde_json::Value> = Catalog::embedded()
        .models()
        .iter()
        .map(|m| serde_json::to_value(m).unwrap())
        .collect();
    let mut i = 0;
    while models.len() < MODELS {
        models.push(serde_json::json!({
            "provider": "vllm", "family": format!("bench-{i}"),
            "inputPricePerMillionTokens": "10", "outputPricePerMillionTokens": "20",
            "maxInputTokens": 32768, "maxOutputTokens": 4096
        }));
        i += 1;
    }
    models.truncate(MODELS);
    Catalog::from_json(&serde_json::json!({"version": 1, "models": models}).to_string()).unwrap()
}

fn list_models(c: &mut Criterion) {
    let keep = std::env::var_os("MODELS_BENCH_DB");
    let dir = tempfile::tempdir().unwrap();
    let path = keep.map_or_else(|| dir.path().join("models.redb"), Into::into);
    let store = RedbStore::open(&path).unwrap();
    let options = Options {
        catalog: Arc::new(catalog()),
        ..Default::default()
    };
    let gates = ModelGates::open_with(Arc::new(store.clone()), options).unwrap();
    let admin = gates.default_caller().unwrap();
    let existing = gates
        .workspace_list(&admin, Page::default())
        .unwrap()
        .total_count as usize;
    for i in existing..WORKSPACES {
        let new = NewWorkspace {
            name: format!("W{i}"),
            slug: format!("w-{i}"),
            ..Default::default()
        };
        gates.workspace_create(&admin, new).unwrap();
    }
    let filter = ModelFilter::default();
    let page = Page::new(None, Some(100)).unwrap();
    let listed = gates.model_list(&admin, "w-5000", &filter, page).unwrap();
    assert_eq!(listed.data.len(), MODELS);
    c.bench_function("model_list_100_of_10k_workspaces", |b| {
        b.iter(|| {
            black_box(
                gates
                    .model_list(&admin, black_box("w-5000"), &filter, page)
                    .unwrap(),
            )
        })
    });
    drop(gates);
    store.close().unwrap();
}

criterion_group!(benches, list_models);
criterion_main!(benches);
