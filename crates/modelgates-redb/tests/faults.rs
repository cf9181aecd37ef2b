//! Injected storage failures: redb runs on a backend whose writes and syncs start failing after
//! a random number of calls. The operation in flight fails with an error (never a panic); after
//! reopening on the same bytes, every acknowledged change is there and every invariant holds.

use std::sync::Arc;

use modelgates::{
    ErrorKind, ModelGates, ModelStatus, NewKey, NewMember, NewWorkspace, Page, StorageError,
};
use modelgates_redb::{FaultyBackend, RedbStore};

fn open(backend: &FaultyBackend) -> redb::Database {
    redb::Builder::new()
        .create_with_backend(backend.clone())
        .expect("open (with repair)")
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn injected_io_failures_lose_nothing_acknowledged_and_break_no_invariant() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut failures_seen = 0;
    for scenario in 0..40 {
        let backend = FaultyBackend::new(true);
        let store = RedbStore::from_database(open(&backend), format!("memory-{scenario}"));
        let gates = ModelGates::open(store.clone()).unwrap();
        let admin = gates.default_caller().unwrap();
        let mut acked_ws = Vec::new();
        let mut acked_keys = Vec::new();

        // Faults start after a random number of backend writes.
        backend.fail_after(rng.below(60));
        for i in 0..30 {
            let slug = format!("s{scenario}-{i}");
            let user = format!("user_{scenario}_{i}");
            let step: Result<(), modelgates::Error> = (|| {
                let new = NewWorkspace {
                    name: "W".into(),
                    slug: slug.clone(),
                    ..Default::default()
                };
                gates.workspace_create(&admin, new)?;
                acked_ws.push(slug.clone());
                let new = NewMember {
                    user_id: user.clone(),
                    email: format!("{user}@x.io"),
                    ..Default::default()
                };
                gates.member_add(&admin, new)?;
                gates.workspace_members_add(&admin, &slug, std::slice::from_ref(&user))?;
                let new = NewKey {
                    name: "k".into(),
                    workspace: slug.clone(),
                    creator_user_id: Some(user.clone()),
                    ..Default::default()
                };
                let key = gates.key_create(&admin, new)?;
                acked_keys.push(key.data.id.to_string());
                gates.model_set_status(&admin, &slug, "openai/o3", ModelStatus::Disabled)?;
                Ok(())
            })();
            if let Err(e) = step {
                assert_eq!(
                    e.kind(),
                    ErrorKind::Internal,
                    "a storage failure is internal: {e}"
                );
                assert!(
                    matches!(e, modelgates::Error::Storage(StorageError::Backend(_))),
                    "{e}"
                );
                failures_seen += 1;
                break;
            }
        }
        drop(gates);
        let _ = store.close();

        // Reopen the same bytes with a healthy disk.
        backend.heal();
        let store = RedbStore::from_database(open(&backend), "reopened");
        let gates = ModelGates::open(store.clone()).expect("opens after the failure");
        let report = gates.check().expect("every record decodes");
        assert!(
            report.is_ok(),
            "scenario {scenario}: {:#?}",
            report.problems
        );
        let admin = gates.default_caller().unwrap();
        for slug in &acked_ws {
            assert!(
                gates.workspace_get(&admin, slug).is_ok(),
                "scenario {scenario}: lost {slug}"
            );
        }
        for key in &acked_keys {
            assert!(
                gates.key_get(&admin, key).is_ok(),
                "scenario {scenario}: lost {key}"
            );
        }
        assert!(gates.workspace_list(&admin, Page::default()).is_ok());
    }
    assert!(
        failures_seen >= 30,
        "faults were injected in most scenarios ({failures_seen})"
    );
}

/// Random operation sequences (every kind the reference model knows: workspaces, members,
/// keys, models, providers, mux rules, clock steps) on redb over a disk whose writes start
/// failing after a random number of calls. Every step before the failure matches the model;
/// after reopening the same bytes on a healthy disk, the store holds exactly what was
/// acknowledged — nothing lost, nothing of the failed step — and every invariant holds.
/// (The `ops` fuzz target runs the same check on fuzzer-chosen sequences and budgets.)
#[test]
fn random_sequences_with_injected_failures_reopen_to_exactly_what_was_acknowledged() {
    use modelgates::testkit::{OpSequence, run_until_storage_failure, verify_reopened};
    let mut rng = Rng(0x5eed_f0a5_0002);
    let (mut failed, mut steps) = (0, 0);
    for case in 0..48 {
        let bytes: Vec<u8> = (0..160).map(|_| rng.below(256) as u8).collect();
        let ops = OpSequence::from_bytes(&bytes);
        let backend = FaultyBackend::new(case % 2 == 0);
        backend.fail_after(rng.below(120));
        let Ok(db) = redb::Builder::new().create_with_backend(backend.clone()) else {
            // The very first writes failed: there is no database to reopen.
            continue;
        };
        let store = RedbStore::from_database(db, format!("case-{case}"));
        let ack = run_until_storage_failure(Arc::new(store.clone()), &ops)
            .unwrap_or_else(|e| panic!("case {case}: {e}"));
        failed += usize::from(ack.failed);
        steps += ack.steps;
        drop(store);

        backend.heal();
        let store = RedbStore::from_database(open(&backend), "reopened");
        verify_reopened(Arc::new(store), &ack).unwrap_or_else(|e| {
            panic!(
                "case {case} after reopen ({} steps acknowledged): {e}",
                ack.steps
            )
        });
    }
    eprintln!(
        "{failed} of 48 sequences stopped by an injected failure; {steps} steps acknowledged"
    );
    assert!(
        failed >= 20,
        "failures were injected in most cases ({failed})"
    );
    assert!(
        steps >= 200,
        "sequences made progress before failing ({steps} steps)"
    );
}
