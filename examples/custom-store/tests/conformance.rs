//! The checks every ModelGates store passes, run on the example store: the backend
//! conformance suite (snapshots, atomic commits, ordered ranges, bounds) and the model-based
//! check of the whole domain (random operation sequences compared with a reference model,
//! every invariant verified after each step).

use std::sync::Arc;

use modelgates::{ModelGates, NewWorkspace, Page};
use modelgates_example_custom_store::BTreeStore;

#[test]
fn the_example_store_passes_the_backend_conformance_suite() {
    modelgates::testkit::run_conformance(&BTreeStore::new());
}

#[test]
fn the_domain_on_the_example_store_matches_the_reference_model() {
    modelgates::testkit::run_model_check(16, || Arc::new(BTreeStore::new()));
}

#[test]
fn modelgates_opens_on_it_like_on_any_store() {
    let gates = ModelGates::open(BTreeStore::new()).unwrap();
    let admin = gates.default_caller().unwrap();
    gates
        .workspace_create(
            &admin,
            NewWorkspace {
                name: "On my store".into(),
                slug: "mine".into(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        gates
            .workspace_list(&admin, Page::default())
            .unwrap()
            .total_count,
        2
    );
    assert!(gates.check().unwrap().is_ok());
}
