//! Concurrent clients on one redb file: unique slugs stay unique, invariants hold.

use std::sync::{Arc, Barrier};
use std::thread;

use modelgates::testkit::check_invariants;
use modelgates::{ErrorKind, ModelGates, NewKey, NewMember, NewWorkspace, Page};
use modelgates_redb::RedbStore;

fn open() -> (tempfile::TempDir, ModelGates) {
    let dir = tempfile::tempdir().unwrap();
    let gates = ModelGates::open(RedbStore::open(dir.path().join("c.redb")).unwrap()).unwrap();
    (dir, gates)
}

#[test]
fn concurrent_creates_of_one_slug_yield_exactly_one_workspace() {
    let (_dir, gates) = open();
    let admin = gates.default_caller().unwrap();
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    // Spawn every thread before joining any: they meet at the barrier.
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (gates, admin, barrier) = (gates.clone(), admin.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                let new = NewWorkspace {
                    name: format!("Racer {i}"),
                    slug: "contested".into(),
                    ..Default::default()
                };
                gates.workspace_create(&admin, new).map_err(|e| e.kind())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| *r == Err(ErrorKind::Conflict))
    );
    assert_eq!(
        gates
            .workspace_list(&admin, Page::default())
            .unwrap()
            .total_count,
        2
    );
    check_invariants(&gates);
}

#[test]
fn concurrent_membership_and_key_changes_keep_every_invariant() {
    let (_dir, gates) = open();
    let admin = gates.default_caller().unwrap();
    for i in 0..6 {
        let new = NewMember {
            user_id: format!("user_{i}"),
            email: format!("u{i}@example.com"),
            ..Default::default()
        };
        gates.member_add(&admin, new).unwrap();
    }
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let (gates, admin, barrier) = (gates.clone(), admin.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                for round in 0..15 {
                    let users: Vec<String> = (0..3)
                        .map(|k| format!("user_{}", (t + k + round) % 6))
                        .collect();
                    let _ = gates.workspace_members_add(&admin, "default", &users);
                    let key = NewKey {
                        name: format!("t{t}r{round}"),
                        workspace: "default".into(),
                        creator_user_id: Some(users[0].clone()),
                        ..Default::default()
                    };
                    if let Ok(k) = gates.key_create(&admin, key)
                        && round % 2 == 0
                    {
                        let _ = gates.key_delete(&admin, &k.data.id.to_string());
                    }
                    // Blocked (all-or-nothing) whenever one of them holds an active key.
                    let _ = gates.workspace_members_remove(&admin, "default", &users[1..]);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    check_invariants(&gates);
}
