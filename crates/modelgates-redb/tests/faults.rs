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

/// A bundle apply is one transaction: on a disk whose writes start failing after a random
/// number of calls, the apply either fails and the reopened database is exactly as before it,
/// or succeeds and it is exactly the bundle (its second plan empty) — never a part of it.
#[test]
fn a_bundle_apply_under_injected_failures_is_all_or_nothing() {
    use modelgates::{ApplyOptions, Bundle, EnvSecrets};
    let bundle = Bundle::parse(
        "bundle: team\n\
         providers:\n  - {name: local, provider_type: vllm, endpoint: 'http://localhost:8000/v1'}\n\
         personas:\n  - {name: reviewer, description: Reviews pull requests carefully}\n\
         workspaces:\n\
         \x20 - slug: prod\n    name: Production\n    custom_instructions: Be brief.\n\
         \x20   models:\n      - {provider: vllm, family: qwen, max_input_tokens: 1000, max_output_tokens: 100}\n\
         \x20   mux_rules:\n      - {provider: local, model: qwen, matcher_type: catch_all}\n\
         \x20   model_status: {openai/o3: MODEL_STATUS_DISABLED}\n\
         \x20 - {slug: staging, name: Staging}\n",
    )
    .unwrap();
    let secrets = EnvSecrets::default();
    let mut rng = Rng(0x5eed_b0d1_e003);
    let (mut failed, mut applied) = (0, 0);
    for case in 0..30 {
        let backend = FaultyBackend::new(case % 2 == 0);
        let store = RedbStore::from_database(open(&backend), format!("bundle-{case}"));
        let gates = ModelGates::open(store.clone()).unwrap();
        let admin = gates.default_caller().unwrap();
        let before = gates.bundle_export(&admin, "snapshot").unwrap();
        backend.fail_after(rng.below(14));
        let outcome = gates.bundle_apply(&admin, &bundle, &secrets, &ApplyOptions::default());
        drop(gates);
        let _ = store.close();
        backend.heal();
        let store = RedbStore::from_database(open(&backend), "reopened");
        let gates = ModelGates::open(store.clone()).expect("opens after the failure");
        let report = gates.check().expect("every record decodes");
        assert!(report.is_ok(), "case {case}: {:#?}", report.problems);
        let admin = gates.default_caller().unwrap();
        let plan = gates.bundle_plan(&admin, &bundle, &secrets, false).unwrap();
        match outcome {
            Ok(_) => {
                applied += 1;
                assert!(plan.is_empty(), "case {case}: {}", plan.render());
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Internal, "case {case}: {e}");
                let now = gates.bundle_export(&admin, "snapshot").unwrap();
                // A failed fsync may leave the commit's outcome unknown: all of it or none.
                assert!(
                    now == before || plan.is_empty(),
                    "case {case}: a part of the bundle was kept: {}",
                    plan.render()
                );
                failed += 1;
            }
        }
    }
    assert!(
        failed >= 10 && applied >= 1,
        "failed {failed}, applied {applied}"
    );
}
