//! Durability and versioning on a real file: data survives close/reopen; a database from a
//! newer schema version is refused with a clear error and left untouched.

use modelgates::{Error, ModelGates, NewKey, NewWorkspace, Page, Storage, TableName, encode_key};
use modelgates_redb::RedbStore;
use std::ops::Bound::Unbounded;

#[test]
fn committed_changes_survive_a_reopen_and_keys_still_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    let secret = {
        let store = RedbStore::open(&path).unwrap();
        let gates = ModelGates::open(store.clone()).unwrap();
        let admin = gates.default_caller().unwrap();
        let new = NewWorkspace {
            name: "P".into(),
            slug: "p".into(),
            ..Default::default()
        };
        gates.workspace_create(&admin, new).unwrap();
        let new = NewKey {
            name: "k".into(),
            workspace: "p".into(),
            ..Default::default()
        };
        let k = gates.key_create(&admin, new).unwrap();
        drop(gates);
        store.close().unwrap();
        k.key
    };
    let store = RedbStore::open(&path).unwrap();
    let gates = ModelGates::open(store).unwrap();
    let admin = gates.default_caller().unwrap();
    let list = gates.workspace_list(&admin, Page::default()).unwrap();
    let slugs: Vec<_> = list.data.iter().map(|w| w.slug.as_str()).collect();
    assert_eq!(slugs, ["default", "p"]);
    assert_eq!(list.total_count, 2, "bootstrap ran once, not on reopen");
    assert!(
        gates.verify_key(secret.as_deref().unwrap()).is_ok(),
        "the snapshot is rebuilt from the file"
    );
}

/// Every entry of every storage table the domain uses.
fn dump(store: &RedbStore) -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    let r = store.begin_read().unwrap();
    let mut out = Vec::new();
    for t in [
        "meta",
        "accounts",
        "members",
        "workspaces",
        "api_keys",
        "key_hashes",
    ] {
        for (k, v) in r
            .range(TableName(t), Unbounded, Unbounded, usize::MAX)
            .unwrap()
        {
            out.push((t, k, v));
        }
    }
    out
}

#[test]
fn a_newer_schema_version_is_refused_and_the_file_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    let before = {
        let store = RedbStore::open(&path).unwrap();
        ModelGates::open(store.clone()).unwrap();
        // Pretend a future build wrote schema version 99.
        let mut w = store.begin_write().unwrap();
        let key = encode_key(&"schema_version");
        w.put(TableName("meta"), &key, b"\x0199").unwrap();
        w.commit().unwrap();
        let before = dump(&store);
        store.close().unwrap();
        before
    };
    assert!(before.len() > 3, "the bootstrap wrote records");
    let store = RedbStore::open(&path).unwrap();
    let err = ModelGates::open(store.clone()).unwrap_err();
    assert!(matches!(err, Error::UnsupportedVersion(_)), "{err}");
    assert!(err.to_string().contains("schema version 99"), "{err}");
    assert!(
        dump(&store) == before,
        "nothing was migrated, rewritten or added"
    );
    store.close().unwrap();
}
