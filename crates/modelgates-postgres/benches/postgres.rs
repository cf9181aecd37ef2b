//! Issue 14's figures on PostgreSQL (`MODELGATES_POSTGRES_URL`, in a throw-away schema):
//! 1. propagation: a key disabled (and enabled again) through one instance, timed until the
//!    other instance's snapshot agrees, `PROPAGATION_RUNS` times (default 1,000); two handles
//!    with stores of their own (pools, runtimes), as two processes would have;
//! 2. a durable `workspace_create` against a bare single-row INSERT commit, interleaved
//!    (`CREATE_RUNS`, default 300 each);
//! 3. `workspace_get` by slug and `model_list` (first page of 50) latencies.
//!
//! Prints medians and p99s. Run: `MODELGATES_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test
//! cargo bench -p modelgates-postgres --bench postgres`. Not part of `cargo test`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use modelgates::{
    KeyPatch, ModelFilter, ModelGates, NewKey, NewWorkspace, Options, Page, Storage, TableName,
};
use modelgates_postgres::{PgOptions, PgStore};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(what: &str, mut d: Vec<Duration>) -> Duration {
    d.sort_unstable();
    let p50 = percentile(&d, 0.5);
    println!(
        "{what}: n={}, p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        d.len(),
        p50,
        percentile(&d, 0.9),
        percentile(&d, 0.99),
        d[d.len() - 1]
    );
    p50
}

fn main() {
    let Ok(url) = std::env::var("MODELGATES_POSTGRES_URL") else {
        eprintln!("set MODELGATES_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test)");
        std::process::exit(2);
    };
    let mut raw = [0u8; 6];
    getrandom::fill(&mut raw).unwrap();
    let schema: String = format!(
        "mg_bench_{}",
        raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let open = || {
        PgStore::open_with(
            &url,
            PgOptions {
                schema: schema.clone(),
                ..Default::default()
            },
        )
        .unwrap()
    };
    let (store_a, store_b) = (open(), open());
    let a = ModelGates::open_with(Arc::new(store_a.clone()), Options::default()).unwrap();
    let b = ModelGates::open_with(Arc::new(store_b), Options::default()).unwrap();
    let admin = a.default_caller().unwrap();

    // 1. Propagation.
    let key = a
        .key_create(
            &admin,
            NewKey {
                name: "bench".into(),
                workspace: "default".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let id = key.data.id.to_string();
    while b.verify_key(&key.key).is_err() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let runs = env_or("PROPAGATION_RUNS", 1000);
    let mut took = Vec::with_capacity(runs);
    for i in 0..runs {
        let disable = i % 2 == 0;
        a.key_update(
            &admin,
            &id,
            KeyPatch {
                disabled: Some(disable),
                ..Default::default()
            },
        )
        .unwrap();
        let start = Instant::now();
        while b.verify_key(&key.key).is_ok() == disable {
            std::thread::sleep(Duration::from_micros(200));
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "no propagation in 5 s"
            );
        }
        took.push(start.elapsed());
    }
    report(
        "propagation (key disabled/enabled on A until B agrees, polling every 50 ms)",
        took,
    );

    // 2. Durable create vs a bare single-row INSERT commit, interleaved.
    let runs = env_or("CREATE_RUNS", 300);
    let bare_table = TableName("bench_bare");
    let (mut bare, mut create) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let start = Instant::now();
        let mut w = store_a.begin_write().unwrap();
        w.put(bare_table, format!("k{i}").as_bytes(), &[7u8; 430])
            .unwrap();
        w.commit().unwrap();
        bare.push(start.elapsed());
        let start = Instant::now();
        a.workspace_create(
            &admin,
            NewWorkspace {
                name: format!("W{i}"),
                slug: format!("w-{i}"),
                ..Default::default()
            },
        )
        .unwrap();
        create.push(start.elapsed());
    }
    let bare_p50 = report("bare single-row INSERT commit (serializable)", bare);
    let create_p50 = report("durable workspace_create", create);
    println!(
        "workspace_create / bare insert (medians): {:.2}x",
        create_p50.as_secs_f64() / bare_p50.as_secs_f64()
    );

    // 3. Reads.
    let mut get = Vec::new();
    let mut models = Vec::new();
    for i in 0..runs {
        let slug = format!("w-{}", i % runs.max(1));
        let start = Instant::now();
        a.workspace_get(&admin, &slug).unwrap();
        get.push(start.elapsed());
        let start = Instant::now();
        a.model_list(
            &admin,
            slug.as_str(),
            &ModelFilter::default(),
            Page::default(),
        )
        .unwrap();
        models.push(start.elapsed());
    }
    report("workspace_get by slug", get);
    report("model_list, first page of 50", models);
    drop((a, b));
    store_a.drop_schema().unwrap();
}
