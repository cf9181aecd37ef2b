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
//! - the worst rule set validation accepts (issue 11): 500 rules whose globs each expand to 16
//!   alternatives of a leading `*` and 61 more tokens (no literal prefix or suffix to reject
//!   on, a state that stays alive over the whole name), resolved for one ordinary file and for
//!   the attack's 20 file names of 255 bytes that match no rule, with the process's resident
//!   memory before and after 20,000 such resolves.
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

/// 500 rules of the worst accepted shape: `*{a,…,p}` then 60 `?`, then a catch_all.
fn worst_rules() -> Vec<NewMuxRule> {
    let letters: Vec<String> = (b'a'..=b'p').map(|c| (c as char).to_string()).collect();
    let glob = format!("*{{{}}}{}", letters.join(","), "?".repeat(60));
    // 32 rules of 16 alternatives: the most validation accepts in all (512).
    let mut rules: Vec<NewMuxRule> = (0..32)
        .map(|_| rule(MatcherType::FilenameMatch, Some(glob.clone())))
        .collect();
    rules.push(rule(MatcherType::CatchAll, None));
    rules
}

/// Pieces no length or suffix check can refuse for `src/zzz.rs` (and every byte they need is
/// in the name, so a byte-presence check could not either), none of which occurs in it: as `*{…}*` no rule matches, so
/// every alternative's automaton runs over the whole name.
const ADVERSARIAL: [&str; 16] = [
    ".z", "z.z", "s.", "r.", "sz", "zs", "rz", "zr", "s/", "z/", "rr", "ss", "zzzz", ".s", "r/",
    "c.",
];

/// 32 rules of the 16 adversarial alternatives (512 in all, the most validation accepts).
fn worst_short_rules() -> Vec<NewMuxRule> {
    let glob = format!("*{{{}}}*", ADVERSARIAL.join(","));
    let mut rules: Vec<NewMuxRule> = (0..32)
        .map(|_| rule(MatcherType::FilenameMatch, Some(glob.clone())))
        .collect();
    rules.push(rule(MatcherType::CatchAll, None));
    rules
}

/// 499 rules of one adversarial alternative each (the most rules a workspace may have).
fn worst_many_rules() -> Vec<NewMuxRule> {
    let mut rules: Vec<NewMuxRule> = (0..499)
        .map(|i| {
            let glob = format!("*{}*", ADVERSARIAL[i % ADVERSARIAL.len()]);
            rule(MatcherType::FilenameMatch, Some(glob))
        })
        .collect();
    rules.push(rule(MatcherType::CatchAll, None));
    rules
}

fn resident_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

fn worst_case(c: &mut Criterion) {
    let (gates, admin, _) = account(1);
    let ws = gates
        .workspace_create(
            &admin,
            NewWorkspace {
                name: "Worst".into(),
                slug: "worst".into(),
                mux_rules: Some(worst_rules()),
                ..Default::default()
            },
        )
        .unwrap();
    let snapshot = gates.snapshot();
    // Names with no `a`-`p` where the alternatives look: no rule matches, every one runs.
    let long: Vec<String> = (0..20)
        .map(|i| format!("{i:02}{}", "z".repeat(253)))
        .collect();
    let one = ["src/main.rs"];
    let r = snapshot
        .route(admin.account, ws.id, RequestKind::Chat, &long)
        .unwrap();
    assert_eq!(
        r.rule_index,
        Some(32),
        "no glob matches; the catch_all does"
    );
    c.bench_function("resolve_worst_accepted_rules_one_file", |b| {
        b.iter(|| {
            black_box(
                snapshot
                    .route(admin.account, ws.id, RequestKind::Chat, black_box(&one))
                    .unwrap(),
            )
        })
    });
    let file = ["src/zzz.rs"];
    let mut adversarial = None;
    for (slug, rules, name) in [
        (
            "worst-short",
            worst_short_rules(),
            "resolve_worst_adversarial_32x16_one_file",
        ),
        (
            "worst-many",
            worst_many_rules(),
            "resolve_worst_adversarial_499x1_one_file",
        ),
    ] {
        let ws = gates
            .workspace_create(
                &admin,
                NewWorkspace {
                    name: slug.into(),
                    slug: slug.into(),
                    mux_rules: Some(rules),
                    ..Default::default()
                },
            )
            .unwrap();
        adversarial.get_or_insert(ws.id);
        let snapshot = gates.snapshot();
        let catch_all = snapshot
            .route(admin.account, ws.id, RequestKind::Chat, &file)
            .unwrap()
            .rule_index;
        assert!(
            matches!(catch_all, Some(32 | 499)),
            "no glob matches; the catch_all does"
        );
        c.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    snapshot
                        .route(admin.account, ws.id, RequestKind::Chat, black_box(&file))
                        .unwrap(),
                )
            })
        });
    }
    // The attack's request against the adversarial rules: 20 names of 255 bytes in which no
    // piece occurs, so all 512 automata run over every byte of every name.
    let (ws, snapshot) = (adversarial.expect("created above"), gates.snapshot());
    let long: Vec<String> = (0..20)
        .map(|i| format!("{i:02}{}", "q".repeat(253)))
        .collect();
    assert_eq!(
        snapshot
            .route(admin.account, ws, RequestKind::Chat, &long)
            .unwrap()
            .rule_index,
        Some(32)
    );
    let before = resident_kib();
    for _ in 0..20 {
        black_box(
            snapshot
                .route(admin.account, ws, RequestKind::Chat, &long)
                .unwrap(),
        );
    }
    let mut group = c.benchmark_group("worst");
    group.sample_size(10);
    group.bench_function("resolve_worst_accepted_rules_20_long_names", |b| {
        b.iter(|| {
            black_box(
                snapshot
                    .route(admin.account, ws, RequestKind::Chat, black_box(&long))
                    .unwrap(),
            )
        })
    });
    group.finish();
    let after = resident_kib();
    println!(
        "resident memory around the worst-case resolves: {before} KiB before, {after} KiB after"
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = routing, worst_case
}
criterion_main!(benches);
