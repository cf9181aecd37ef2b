//! Foundation read-path benchmarks (issue 2), recorded in docs/benchmarks.md:
//! - `workspace_get` by slug in-process on redb (1,000 workspaces);
//! - API key verification from the in-memory snapshot (1,000 keys).
//!
//! The durable write comparison is `benches/durable_ratio.rs`.
//!
//! Run: `cargo bench -p modelgates-redb --bench foundation`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use modelgates::{ModelGates, NewKey, NewWorkspace};
use modelgates_redb::RedbStore;

fn reads(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path().join("reads.redb")).unwrap();
    let gates = ModelGates::open(store.clone()).unwrap();
    let admin = gates.default_caller().unwrap();
    for i in 0..1000 {
        let new = NewWorkspace {
            name: format!("W{i}"),
            slug: format!("team-{i}"),
            ..Default::default()
        };
        gates.workspace_create(&admin, new).unwrap();
    }
    let mut secret = String::new();
    for i in 0..1000 {
        let new = NewKey {
            name: format!("k{i}"),
            workspace: format!("team-{i}"),
            ..Default::default()
        };
        secret = gates.key_create(&admin, new).unwrap().key.unwrap();
    }
    c.bench_function("workspace_get_by_slug", |b| {
        b.iter(|| black_box(gates.workspace_get(&admin, black_box("team-500")).unwrap()))
    });
    c.bench_function("key_verify_snapshot", |b| {
        b.iter(|| black_box(gates.verify_key(black_box(&secret)).unwrap()))
    });
    drop(gates);
    store.close().unwrap();
}

criterion_group!(benches, reads);
criterion_main!(benches);
