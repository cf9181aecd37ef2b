//! Routing benchmarks (issue 4), recorded in docs/benchmarks.md:
//! - `resolve` from the snapshot: a workspace with 100 rules mixing every matcher kind, 10,000
//!   workspaces loaded (the others with 4 rules each), single thread;
//! - the cost of publishing one workspace's rule change (a `workspace_mux_set` of a 4-rule list)
//!   in a 100-workspace and a 10,000-workspace account — equal if the rebuild is proportional
//!   to the workspace — against a full snapshot rebuild of the 10,000-workspace account.
//!
//! The store is the in-memory one, so durable commits (measured in modelgates-redb's benches)
//! do not drown what is measured here.
//!
//! Run: `cargo bench -p modelgates --bench routing`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use modelgates::{
    Caller, MatcherType, MemoryStore, ModelGates, NewMuxRule, NewProvider, NewWorkspace,
    ProviderType, RequestKind, WorkspaceId,
};

fn rule(ty: MatcherType, matcher: Option<String>) -> NewMuxRule {
    NewMuxRule {
        provider: "openai-prod".into(),
        provider_type: None,
        model: "gpt-5".into(),
        matcher_type: ty,
        matcher,
    }
}

/// 100 rules: 33 base-name globs, 33 path globs, 33 kind-specific globs, then a catch_all.
fn hundred_rules() -> Vec<NewMuxRule> {
    let mut rules = Vec::new();
    for i in 0..33 {
        rules.push(rule(MatcherType::FilenameMatch, Some(format!("*.ext{i}"))));
        rules.push(rule(
            MatcherType::FimFilename,
            Some(format!("src/mod{i}/**/*.rs")),
        ));
        rules.push(rule(
            MatcherType::ChatFilename,
            Some(format!("**/test_{i}_*.py")),
        ));
    }
    rules.push(rule(MatcherType::CatchAll, None));
    rules
}

fn small_rules(i: usize) -> Vec<NewMuxRule> {
    vec![
        rule(MatcherType::FilenameMatch, Some(format!("*.w{i}"))),
        rule(MatcherType::FimFilename, Some("src/**/*.rs".into())),
        rule(MatcherType::ChatFilename, Some("*.md".into())),
        rule(MatcherType::CatchAll, None),
    ]
}

fn account(workspaces: usize) -> (ModelGates, Caller, WorkspaceId) {
    let gates = ModelGates::open(MemoryStore::new()).unwrap();
    let admin = gates.default_caller().unwrap();
    gates
        .provider_add(
            &admin,
            NewProvider {
                name: "openai-prod".into(),
                description: None,
                provider_type: ProviderType::Openai,
                endpoint: None,
                auth_type: None,
                api_key: None,
            },
        )
        .unwrap();
    let mut target = None;
    for i in 0..workspaces {
        let ws = gates
            .workspace_create(
                &admin,
                NewWorkspace {
                    name: format!("W{i}"),
                    slug: format!("w-{i}"),
                    mux_rules: Some(if i == workspaces / 2 {
                        hundred_rules()
                    } else {
                        small_rules(i)
                    }),
                    ..Default::default()
                },
            )
            .unwrap();
        if i == workspaces / 2 {
            target = Some(ws.id);
        }
    }
    (gates, admin, target.unwrap())
}

fn routing(c: &mut Criterion) {
    let (gates, admin, ws) = account(10_000);
    let snapshot = gates.snapshot();
    assert!(snapshot.routed_workspaces() > 10_000);
    let path_hit = ["src/mod20/net/tcp.rs"];
    let r = snapshot
        .route(admin.account, ws, RequestKind::Fim, &path_hit)
        .unwrap();
    assert_eq!(r.rule_index, Some(61));
    let no_hit = ["README"];
    let r = snapshot
        .route(admin.account, ws, RequestKind::Chat, &no_hit)
        .unwrap();
    assert_eq!(r.rule_index, Some(99));
    let three = ["docs/guide.md", "lib/util.ext7", "tests/test_5_io.py"];
    c.bench_function("resolve_100_rules_path_glob_hit", |b| {
        b.iter(|| {
            black_box(
                snapshot
                    .route(admin.account, ws, RequestKind::Fim, black_box(&path_hit))
                    .unwrap(),
            )
        })
    });
    c.bench_function("resolve_100_rules_catch_all", |b| {
        b.iter(|| {
            black_box(
                snapshot
                    .route(admin.account, ws, RequestKind::Chat, black_box(&no_hit))
                    .unwrap(),
            )
        })
    });
    c.bench_function("resolve_100_rules_three_files", |b| {
        b.iter(|| {
            black_box(
                snapshot
                    .route(admin.account, ws, RequestKind::Chat, black_box(&three))
                    .unwrap(),
            )
        })
    });
    drop(snapshot);

    let rules = small_rules(7);
    c.bench_function("rule_change_publish_10000_workspaces", |b| {
        b.iter(|| {
            gates
                .workspace_mux_set(&admin, Some("w-7"), &rules, None)
                .unwrap()
        })
    });
    c.bench_function("full_snapshot_rebuild_10000_workspaces", |b| {
        b.iter(|| gates.reload_snapshot().unwrap())
    });
    drop(gates);
    let (small, admin, _) = account(100);
    c.bench_function("rule_change_publish_100_workspaces", |b| {
        b.iter(|| {
            small
                .workspace_mux_set(&admin, Some("w-7"), &rules, None)
                .unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = routing
}
criterion_main!(benches);
