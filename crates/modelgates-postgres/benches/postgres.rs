//! Issue 14's figures on PostgreSQL (`MODELGATES_POSTGRES_URL`, in a throw-away schema):
//! 1. propagation: a key disabled (and enabled again) through one instance, timed until the
//!    other instance's snapshot agrees, `PROPAGATION_RUNS` times (default 1,000); two handles
//!    with stores of their own (pools, runtimes), as two processes would have; with
//!    `MODELGATES_BENCH_NO_NOTIFY=1` the follower is not woken (polling only);
//! 2. a durable `workspace_create` against a bare single-row INSERT commit, interleaved
//!    (`CREATE_RUNS`, default 300 each), first with the other instance following, then alone;
//! 3. `workspace_get` by slug and `model_list` (first page of 50) latencies;
//! 4. a new instance joining an account of `JOIN_WORKSPACES` workspaces (default 10,000):
//!    from `open` until it answered a key verification and a `workspace_get`.
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
                notify: std::env::var_os("MODELGATES_BENCH_NO_NOTIFY").is_none(),
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
    while b.verify_key(key.key.as_deref().unwrap()).is_err() {
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
        while b.verify_key(key.key.as_deref().unwrap()).is_ok() == disable {
            std::thread::sleep(Duration::from_micros(200));
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "no propagation in 5 s"
            );
        }
        took.push(start.elapsed());
    }
    report(
        "propagation (key disabled/enabled on A until B agrees; B woken by NOTIFY, polling \
         every 50 ms as the fallback)",
        took,
    );

    // 2. Durable create vs a bare single-row INSERT commit, interleaved: with B following
    //    (woken by every create), then A alone.
    let runs = env_or("CREATE_RUNS", 300);
    let bare_table = TableName("bench_bare");
    let mut round = 0;
    let mut compare = |what: &str, a: &ModelGates| {
        let (mut bare, mut create) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            round += 1;
            let start = Instant::now();
            let mut w = store_a.begin_write().unwrap();
            w.put(bare_table, format!("k{round}").as_bytes(), &[7u8; 430])
                .unwrap();
            w.commit().unwrap();
            bare.push(start.elapsed());
            let start = Instant::now();
            a.workspace_create(
                &admin,
                NewWorkspace {
                    name: format!("W{round}"),
                    slug: format!("w-{round}"),
                    ..Default::default()
                },
            )
            .unwrap();
            create.push(start.elapsed());
        }
        let bare_p50 = report(
            &format!("bare single-row INSERT commit (serializable), {what}"),
            bare,
        );
        let create_p50 = report(&format!("durable workspace_create, {what}"), create);
        println!(
            "workspace_create / bare insert (medians), {what}: {:.2}x",
            create_p50.as_secs_f64() / bare_p50.as_secs_f64()
        );
    };
    compare("instance B following", &a);
    drop(b);
    compare("A alone", &a);

    // 3. Reads.
    let mut get = Vec::new();
    let mut models = Vec::new();
    for i in 0..runs {
        let slug = format!("w-{}", 1 + i % runs.max(1));
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
    // 4. Joining: a new instance opens on an account of `JOIN_WORKSPACES` workspaces (default
    //    10,000) and serves its first request.
    let target = env_or("JOIN_WORKSPACES", 10_000);
    let have = a
        .workspace_list(
            &admin,
            Page {
                limit: 1,
                ..Default::default()
            },
        )
        .map(|p| p.total_count)
        .unwrap_or(0) as usize;
    let start = Instant::now();
    for i in have..target {
        a.workspace_create(
            &admin,
            NewWorkspace {
                name: format!("J{i}"),
                slug: format!("join-{i}"),
                ..Default::default()
            },
        )
        .unwrap();
    }
    eprintln!(
        "made {} workspaces in {:?}",
        target.saturating_sub(have),
        start.elapsed()
    );
    let mut joins = Vec::new();
    for _ in 0..env_or("JOIN_RUNS", 5) {
        let start = Instant::now();
        let c = ModelGates::open_with(Arc::new(open()), Options::default()).unwrap();
        c.verify_key(key.key.as_deref().unwrap()).unwrap();
        c.workspace_get(&admin, &format!("join-{}", target - 1))
            .unwrap();
        joins.push(start.elapsed());
    }
    report(
        &format!("a new instance joining {target} workspaces: open until its first answers"),
        joins,
    );
    drop(a);
    store_a.drop_schema().unwrap();
}
