//! Durable `workspace_create` vs. a bare redb single-insert durable commit, interleaved: each
//! round times one bare commit and one domain create back to back on the same disk, so disk
//! noise hits both alike. Prints medians, p90 and the median ratio (target ≤ 1.5).
//!
//! Run: `cargo bench -p modelgates-redb --bench durable_ratio` (ROUNDS=n to change 2000).

use std::time::{Duration, Instant};

use modelgates::{ModelGates, NewWorkspace};
use modelgates_redb::RedbStore;
use redb::TableDefinition;

const BARE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bare");

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let rounds: u64 = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let base = std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(base).expect("temp dir");
    let db = redb::Database::create(dir.path().join("bare.redb")).unwrap();
    let store = RedbStore::open(dir.path().join("domain.redb")).unwrap();
    let gates = ModelGates::open(store.clone()).unwrap();
    let admin = gates.default_caller().unwrap();
    // A stored workspace is ~430 bytes of JSON; the bare commit writes a value of that size.
    let value = vec![b'x'; 430];
    let (mut bare, mut domain) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        let t = Instant::now();
        let txn = db.begin_write().unwrap();
        {
            let mut table = txn.open_table(BARE).unwrap();
            table.insert(&i.to_be_bytes()[..], &value[..]).unwrap();
        }
        txn.commit().unwrap();
        bare.push(t.elapsed());

        let new = NewWorkspace {
            name: format!("Workspace {i}"),
            slug: format!("ws-{i}"),
            ..Default::default()
        };
        let t = Instant::now();
        gates.workspace_create(&admin, new).unwrap();
        domain.push(t.elapsed());
    }
    bare.sort();
    domain.sort();
    let (b50, d50) = (percentile(&bare, 0.5), percentile(&domain, 0.5));
    println!("rounds: {rounds}");
    println!(
        "redb bare single insert, durable: median {b50:?}, p90 {:?}",
        percentile(&bare, 0.9)
    );
    println!(
        "workspace_create, durable:        median {d50:?}, p90 {:?}",
        percentile(&domain, 0.9)
    );
    println!("median ratio: {:.2}", d50.as_secs_f64() / b50.as_secs_f64());
    drop(gates);
    store.close().unwrap();
}
