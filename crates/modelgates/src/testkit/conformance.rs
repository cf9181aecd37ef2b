//! The backend conformance suite: what every [`Storage`] must do, checked the same way on each.

use std::ops::Bound;

use crate::storage::{Storage, TableName};

const T: TableName = TableName("conformance");
const U: TableName = TableName("conformance_other");

fn keys(rows: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
    rows.iter().map(|(k, _)| k.clone()).collect()
}

/// Runs every conformance check against `store`, which must be empty. Panics on a failure.
pub fn run_conformance(store: &dyn Storage) {
    get_put_delete(store);
    range_order_and_limits(store);
    abort_leaves_nothing(store);
    writer_sees_own_writes(store);
    reader_isolation(store);
    tables_are_separate(store);
    many_keys_and_what_a_writer_knows(store);
}

/// `get_many`, `prefetch`, and a writer's answers about keys it has read or written already
/// (a remote backend answers those from memory and sends writes late, together).
fn many_keys_and_what_a_writer_knows(store: &dyn Storage) {
    let mut w = store.begin_write().unwrap();
    w.put(T, b"m1", b"1").unwrap();
    w.put(T, b"m2", b"2").unwrap();
    w.put(U, b"m1", b"u").unwrap();
    w.commit().unwrap();

    let mut w = store.begin_write().unwrap();
    assert_eq!(
        w.get_many(T, &[b"m1", b"m3", b"m2", b"m1"]).unwrap(),
        vec![
            Some(b"1".to_vec()),
            None,
            Some(b"2".to_vec()),
            Some(b"1".to_vec())
        ]
    );
    w.prefetch(&[(T, b"m1"), (U, b"m1"), (U, b"m9")]).unwrap();
    assert_eq!(w.get(U, b"m1").unwrap().as_deref(), Some(&b"u"[..]));
    assert!(!w.delete(T, b"m3").unwrap(), "known absent");
    assert!(w.delete(T, b"m1").unwrap(), "known present");
    assert!(!w.delete(T, b"m1").unwrap(), "deleted by this transaction");
    assert_eq!(w.get(T, b"m1").unwrap(), None);
    w.put(T, b"m1", b"again").unwrap();
    w.put(T, b"m4", b"4").unwrap();
    w.delete(T, b"m4").unwrap();
    let seen = w
        .range(T, Bound::Included(b"m"), Bound::Excluded(b"n"), 10)
        .unwrap();
    assert_eq!(keys(&seen), vec![b"m1".to_vec(), b"m2".to_vec()]);
    assert_eq!(seen[0].1, b"again");
    for (k, _) in &seen {
        assert!(w.delete(T, k).unwrap(), "a key the scan found is present");
    }
    w.put(T, b"m2", b"kept").unwrap();
    w.commit().unwrap();

    let r = store.begin_read().unwrap();
    assert_eq!(
        r.get_many(T, &[b"m1", b"m2", b"m4"]).unwrap(),
        vec![None, Some(b"kept".to_vec()), None]
    );
    drop(r);

    // Aborted: nothing of it is sent or kept.
    let mut w = store.begin_write().unwrap();
    w.put(T, b"m5", b"5").unwrap();
    w.delete(T, b"m2").unwrap();
    w.abort().unwrap();
    let mut w = store.begin_write().unwrap();
    assert_eq!(w.get(T, b"m5").unwrap(), None);
    assert!(w.delete(T, b"m2").unwrap());
    assert!(w.delete(U, b"m1").unwrap());
    w.commit().unwrap();
}

fn get_put_delete(store: &dyn Storage) {
    let r = store.begin_read().unwrap();
    assert_eq!(
        r.get(T, b"a").unwrap(),
        None,
        "missing table reads as empty"
    );
    drop(r);
    let mut w = store.begin_write().unwrap();
    w.put(T, b"a", b"1").unwrap();
    w.put(T, b"b", b"2").unwrap();
    w.put(T, b"a", b"3").unwrap();
    w.commit().unwrap();
    let r = store.begin_read().unwrap();
    assert_eq!(
        r.get(T, b"a").unwrap().as_deref(),
        Some(&b"3"[..]),
        "put replaces"
    );
    assert_eq!(r.get(T, b"b").unwrap().as_deref(), Some(&b"2"[..]));
    drop(r);
    let mut w = store.begin_write().unwrap();
    assert!(w.delete(T, b"a").unwrap(), "delete reports presence");
    assert!(!w.delete(T, b"zz").unwrap(), "delete reports absence");
    w.commit().unwrap();
    let r = store.begin_read().unwrap();
    assert_eq!(r.get(T, b"a").unwrap(), None);
    drop(r);
    let mut w = store.begin_write().unwrap();
    w.delete(T, b"b").unwrap();
    w.commit().unwrap();
}

fn range_order_and_limits(store: &dyn Storage) {
    let mut w = store.begin_write().unwrap();
    for k in [&b"c"[..], b"a", b"b\x00", b"b", b"d", b"\xff\xff", b""] {
        w.put(T, k, k).unwrap();
    }
    w.commit().unwrap();
    let r = store.begin_read().unwrap();
    let all = r
        .range(T, Bound::Unbounded, Bound::Unbounded, usize::MAX)
        .unwrap();
    assert_eq!(
        keys(&all),
        vec![
            b"".to_vec(),
            b"a".to_vec(),
            b"b".to_vec(),
            b"b\x00".to_vec(),
            b"c".to_vec(),
            b"d".to_vec(),
            b"\xff\xff".to_vec()
        ],
        "ascending byte order"
    );
    assert!(all.iter().all(|(k, v)| k == v), "values travel with keys");
    let two = r
        .range(T, Bound::Included(b"b"), Bound::Unbounded, 2)
        .unwrap();
    assert_eq!(keys(&two), vec![b"b".to_vec(), b"b\x00".to_vec()], "limit");
    let excl = r
        .range(T, Bound::Excluded(b"b"), Bound::Excluded(b"d"), 10)
        .unwrap();
    assert_eq!(
        keys(&excl),
        vec![b"b\x00".to_vec(), b"c".to_vec()],
        "exclusive bounds"
    );
    let incl = r
        .range(T, Bound::Included(b"a"), Bound::Included(b"c"), 10)
        .unwrap();
    assert_eq!(incl.len(), 4, "inclusive bounds");
    assert!(
        r.range(T, Bound::Included(b"d"), Bound::Excluded(b"a"), 10)
            .unwrap()
            .is_empty(),
        "inverted range is empty"
    );
    assert!(
        r.range(T, Bound::Excluded(b"c"), Bound::Excluded(b"c"), 10)
            .unwrap()
            .is_empty(),
        "empty range"
    );
    assert!(
        r.range(T, Bound::Unbounded, Bound::Unbounded, 0)
            .unwrap()
            .is_empty(),
        "limit 0"
    );
    drop(r);
    let mut w = store.begin_write().unwrap();
    for (k, _) in all {
        w.delete(T, &k).unwrap();
    }
    w.commit().unwrap();
}

fn abort_leaves_nothing(store: &dyn Storage) {
    let mut w = store.begin_write().unwrap();
    w.put(T, b"x", b"1").unwrap();
    w.abort().unwrap();
    {
        let mut w = store.begin_write().unwrap();
        w.put(T, b"y", b"1").unwrap();
        // dropped without commit
    }
    let r = store.begin_read().unwrap();
    assert_eq!(r.get(T, b"x").unwrap(), None, "abort discards");
    assert_eq!(r.get(T, b"y").unwrap(), None, "drop discards");
}

fn writer_sees_own_writes(store: &dyn Storage) {
    let mut w = store.begin_write().unwrap();
    w.put(T, b"k", b"v").unwrap();
    assert_eq!(w.get(T, b"k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(
        w.range(T, Bound::Unbounded, Bound::Unbounded, 10)
            .unwrap()
            .len(),
        1
    );
    w.delete(T, b"k").unwrap();
    assert_eq!(w.get(T, b"k").unwrap(), None);
    w.commit().unwrap();
}

fn reader_isolation(store: &dyn Storage) {
    let before = store.begin_read().unwrap();
    let mut w = store.begin_write().unwrap();
    w.put(T, b"iso", b"1").unwrap();
    {
        let during = store.begin_read().unwrap();
        assert_eq!(
            during.get(T, b"iso").unwrap(),
            None,
            "uncommitted writes are invisible"
        );
    }
    w.commit().unwrap();
    assert_eq!(
        before.get(T, b"iso").unwrap(),
        None,
        "a reader keeps its snapshot"
    );
    drop(before);
    let after = store.begin_read().unwrap();
    assert_eq!(after.get(T, b"iso").unwrap().as_deref(), Some(&b"1"[..]));
    drop(after);
    let mut w = store.begin_write().unwrap();
    w.delete(T, b"iso").unwrap();
    w.commit().unwrap();
}

fn tables_are_separate(store: &dyn Storage) {
    let mut w = store.begin_write().unwrap();
    w.put(T, b"same", b"t").unwrap();
    w.put(U, b"same", b"u").unwrap();
    w.commit().unwrap();
    let r = store.begin_read().unwrap();
    assert_eq!(r.get(T, b"same").unwrap().as_deref(), Some(&b"t"[..]));
    assert_eq!(r.get(U, b"same").unwrap().as_deref(), Some(&b"u"[..]));
}
