//! Recovery after an unclean shutdown (issue 6): a database of RECORDS (default 1,000,000)
//! records is left unclean by a process that commits and then aborts without closing; the
//! next open repairs it. Measured with and without redb's quick-repair mode, together with what
//! quick-repair costs on every durable commit.
//!
//! Run: `cargo bench -p modelgates-redb --bench recovery` (RECORDS=n to change the size).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use redb::{ReadableDatabase, TableDefinition};

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("workspaces");
const VALUE: [u8; 300] = [b'v'; 300];

fn key(i: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(b"acct0001");
    k[8..16].copy_from_slice(&i.to_be_bytes());
    k[16..].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    k
}

/// The child: one durable commit, then an abort without closing the database.
fn crash_child(path: &Path, quick: bool) -> ! {
    let db = redb::Database::create(path).unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.set_quick_repair(quick);
    {
        let mut t = txn.open_table(TABLE).unwrap();
        t.insert(&key(u64::MAX)[..], &VALUE[..]).unwrap();
    }
    txn.commit().unwrap();
    std::process::abort();
}

fn build(path: &Path, records: u64) {
    let db = redb::Database::create(path).unwrap();
    let batch = 50_000;
    let mut i = 0;
    while i < records {
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(TABLE).unwrap();
            for j in i..(i + batch).min(records) {
                t.insert(&key(j)[..], &VALUE[..]).unwrap();
            }
        }
        txn.commit().unwrap();
        i += batch;
    }
    db.close().unwrap();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn commit_latency(path: &Path, quick: bool) -> Duration {
    let db = redb::Database::create(path).unwrap();
    let samples = (0..200u64)
        .map(|i| {
            let t = Instant::now();
            let mut txn = db.begin_write().unwrap();
            txn.set_quick_repair(quick);
            {
                let mut tbl = txn.open_table(TABLE).unwrap();
                tbl.insert(&key(10_000_000 + i)[..], &VALUE[..]).unwrap();
            }
            txn.commit().unwrap();
            t.elapsed()
        })
        .collect();
    db.close().unwrap();
    median(samples)
}

fn main() {
    if let Some(spec) = std::env::var_os("RECOVERY_CHILD") {
        let spec = PathBuf::from(spec);
        crash_child(&spec, std::env::var_os("RECOVERY_QUICK").is_some());
    }
    let records: u64 = std::env::var("RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let base_dir = std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(base_dir).unwrap();
    let base = dir.path().join("base.redb");
    let t = Instant::now();
    build(&base, records);
    let size = std::fs::metadata(&base).unwrap().len();
    println!(
        "built {records} records ({:.0} MiB) in {:?}",
        size as f64 / 1048576.0,
        t.elapsed()
    );

    for quick in [false, true] {
        let path = dir.path().join(format!("crash-{quick}.redb"));
        std::fs::copy(&base, &path).unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap());
        child.env("RECOVERY_CHILD", &path);
        if quick {
            child.env("RECOVERY_QUICK", "1");
        }
        let status = child.status().unwrap();
        assert!(!status.success(), "the child must die uncleanly");
        let t = Instant::now();
        let db = redb::Database::create(&path).expect("open after crash repairs");
        let recovery = t.elapsed();
        let read = db.begin_read().unwrap();
        let n = redb::ReadableTableMetadata::len(&read.open_table(TABLE).unwrap()).unwrap();
        assert_eq!(n, records + 1, "the committed record survived the crash");
        drop(read);
        db.close().unwrap();
        let commit = commit_latency(&path, quick);
        println!(
            "quick_repair={quick}: open after crash {recovery:?}; median durable commit {commit:?}"
        );
    }
}
