//! Injected storage failures: redb runs on a backend whose writes and syncs start failing after
//! a random number of calls. The operation in flight fails with an error (never a panic); after
//! reopening on the same bytes, every acknowledged change is there and every invariant holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use modelgates::{
    ErrorKind, ModelGates, ModelStatus, NewKey, NewMember, NewWorkspace, Page, StorageError,
};
use modelgates_redb::RedbStore;
use redb::StorageBackend;
use redb::backends::InMemoryBackend;

/// Fails every write and sync once `budget` calls have been spent (negative = unlimited).
#[derive(Debug, Clone)]
struct Faulty {
    inner: Arc<InMemoryBackend>,
    budget: Arc<AtomicI64>,
}

impl Faulty {
    fn spend(&self) -> std::io::Result<()> {
        let left = self.budget.fetch_sub(1, Ordering::SeqCst);
        if left == 0 || (left < 0 && left > -1_000_000_000) {
            self.budget.store(0, Ordering::SeqCst);
            return Err(std::io::Error::other("injected I/O failure"));
        }
        Ok(())
    }
}

impl StorageBackend for Faulty {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.spend()?;
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.spend()?;
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.spend()?;
        self.inner.write(offset, data)
    }
}

const UNLIMITED: i64 = i64::MIN / 2;

fn open(backend: &Faulty) -> redb::Database {
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
        let backend = Faulty {
            inner: Arc::new(InMemoryBackend::new()),
            budget: Arc::new(AtomicI64::new(UNLIMITED)),
        };
        let store = RedbStore::from_database(open(&backend), format!("memory-{scenario}"));
        let gates = ModelGates::open(store.clone()).unwrap();
        let admin = gates.default_caller().unwrap();
        let mut acked_ws = Vec::new();
        let mut acked_keys = Vec::new();

        // Faults start after a random number of backend writes.
        backend.budget.store(rng.below(60) as i64, Ordering::SeqCst);
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
        backend.budget.store(UNLIMITED, Ordering::SeqCst);
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
