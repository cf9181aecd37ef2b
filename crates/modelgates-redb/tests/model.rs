//! The domain's model-based check, invariants and usage rollup property, on real redb files.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use modelgates::testkit::run_model_check;
use modelgates_redb::RedbStore;

#[test]
fn redb_store_matches_the_reference_model() {
    let dir = tempfile::tempdir().unwrap();
    let counter = AtomicU32::new(0);
    run_model_check(24, || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        Arc::new(RedbStore::open(dir.path().join(format!("model-{n}.redb"))).unwrap())
    });
}

#[test]
fn redb_usage_rollups_equal_the_sum_of_raw_records() {
    let dir = tempfile::tempdir().unwrap();
    let counter = AtomicU32::new(0);
    modelgates::testkit::run_usage_check(16, || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        Arc::new(RedbStore::open(dir.path().join(format!("usage-{n}.redb"))).unwrap())
    });
}
