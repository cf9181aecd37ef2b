//! Random operation sequences against the domain, compared to the reference model: first on
//! the in-memory store (every step must match the model), then on redb over a backend whose
//! writes fail after a fuzzer-chosen number of calls; the same bytes are then reopened on a
//! healthy backend and must hold exactly what was acknowledged (plus, at most, the whole of the
//! step whose commit failed), with every invariant intact.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use modelgates::MemoryStore;
use modelgates::testkit::{OpSequence, run_until_storage_failure, verify_reopened};
use modelgates_redb::{FaultyBackend, RedbStore};

fuzz_target!(|data: &[u8]| {
    let Some((&[budget, flags], rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let ops = OpSequence::from_bytes(rest);

    let ack = run_until_storage_failure(Arc::new(MemoryStore::new()), &ops)
        .unwrap_or_else(|e| panic!("memory store: {e}"));
    assert!(!ack.failed, "no failure is injected into the memory store");

    let backend = FaultyBackend::new(flags & 1 == 1);
    backend.fail_after(u64::from(budget));
    let Ok(db) = redb::Builder::new().create_with_backend(backend.clone()) else {
        return; // failed before a database existed
    };
    let store = RedbStore::from_database(db, "fuzz");
    let ack = run_until_storage_failure(Arc::new(store.clone()), &ops)
        .unwrap_or_else(|e| panic!("redb: {e}"));
    drop(store);
    backend.heal();
    let db = redb::Builder::new()
        .create_with_backend(backend)
        .expect("reopens on a healthy backend");
    verify_reopened(Arc::new(RedbStore::from_database(db, "reopened")), &ack)
        .unwrap_or_else(|e| panic!("after reopen ({} steps acknowledged): {e}", ack.steps));
});
