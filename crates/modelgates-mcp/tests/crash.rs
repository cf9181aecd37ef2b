//! Crash safety: the real `modelgates` binary is driven by an MCP client with a stream of
//! mutating calls and killed with SIGKILL at random moments, then the file is reopened and
//! checked: every call that returned success is present, nothing is half-applied (all
//! cross-table invariants hold), and the database opens without manual steps.
//!
//! Cycles: `MODELGATES_CRASH_CYCLES` (default 50); seed: `MODELGATES_CRASH_SEED` (default:
//! the clock; printed on failure so a run can be replayed).

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use modelgates::testkit::check_invariants;
use modelgates::{ModelGates, Page, RequestKind};
use modelgates_redb::RedbStore;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;
use serde_json::{Map, Value, json};

/// A small deterministic generator (xorshift64*), so a failing seed replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the client saw acknowledged.
#[derive(Default, Debug)]
struct Acked {
    workspaces: BTreeSet<String>,
    members: BTreeSet<String>,
    memberships: BTreeSet<(String, String)>,
    keys: BTreeSet<String>,
    providers: BTreeSet<String>,
    /// (workspace slug, provider name) of an acknowledged one-rule mux list.
    rules: BTreeSet<(String, String)>,
    /// Workspace slug → input tokens of its acknowledged usage batch (20 requests, 5 with a
    /// conversation).
    usage: std::collections::BTreeMap<String, u64>,
}

/// The usage batch recorded in workspace `slug`: 20 requests, every 4th with a conversation
/// holding a secret (so the detector, redaction and message feeds are in the transaction).
fn usage_batch(slug: &str) -> (Value, u64) {
    let secret = format!("ghp_{}", "Zq3xW8vN2mK5pL7rT1yU4iO6aS9dF0gH2jK4");
    let records: Vec<Value> = (0..20u64)
        .map(|j| {
            let mut r = json!({"request_id": format!("{slug}-r{j}"), "workspace": slug,
                "provider": "openai", "model": "gpt-5", "input_tokens": 100 + j,
                "output_tokens": 10});
            if j % 4 == 0 {
                r["conversation"] = json!({"chat_id": format!("{slug}-chat"),
                    "prompt": format!("token {secret} leaked in request {j}")});
            }
            r
        })
        .collect();
    (
        json!({ "records": records }),
        (0..20).map(|j| 100 + j).sum(),
    )
}

fn args(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

/// Issues mutating calls until the server dies; records every success.
async fn drive(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    cycle: u64,
    acked: Arc<Mutex<Acked>>,
) {
    for i in 0.. {
        let slug = format!("c{cycle}-w{i}");
        let user = format!("user_c{cycle}_{i}");
        let provider = format!("prov-c{cycle}-{i}");
        let calls = [
            (
                "workspace_create",
                json!({"name": format!("Crash {cycle}/{i}"), "slug": slug}),
            ),
            (
                "member_add",
                json!({"user_id": user, "email": format!("{user}@example.com")}),
            ),
            (
                "workspace_members_add",
                json!({"id": slug, "user_ids": [user]}),
            ),
            (
                "key_create",
                json!({"name": "k", "workspace": slug, "creator_user_id": user}),
            ),
            (
                "provider_add",
                json!({"name": provider, "provider_type": "openai", "api_key": "sk-crash"}),
            ),
            (
                "workspace_mux_set",
                json!({"workspace": slug, "rules": [{"provider": provider, "model": "gpt-5",
                        "matcher_type": "catch_all"}]}),
            ),
            ("usage_record_batch", usage_batch(&slug).0),
        ];
        for (name, a) in calls {
            let call = CallToolRequestParams::new(name).with_arguments(args(a));
            let Ok(result) = client.call_tool(call).await else {
                return;
            };
            if result.is_error == Some(true) {
                panic!("cycle {cycle}: {name} failed while the server was alive: {result:?}");
            }
            let sc = result.structured_content.unwrap_or_default();
            let mut acked = acked.lock().unwrap();
            match name {
                "workspace_create" => acked.workspaces.insert(slug.clone()),
                "member_add" => acked.members.insert(user.clone()),
                "workspace_members_add" => acked.memberships.insert((slug.clone(), user.clone())),
                "provider_add" => acked.providers.insert(provider.clone()),
                "workspace_mux_set" => acked.rules.insert((slug.clone(), provider.clone())),
                "usage_record_batch" => {
                    assert_eq!(sc["recorded"], 20, "{sc}");
                    acked
                        .usage
                        .insert(slug.clone(), usage_batch(&slug).1)
                        .is_none()
                }
                _ => acked
                    .keys
                    .insert(sc["data"]["id"].as_str().unwrap().to_owned()),
            };
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_sigkill_and_nothing_is_half_applied() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.redb");
    crash_cycles(db, 50, |db| {
        let store = RedbStore::open(db).expect("reopen after SIGKILL");
        let closer = store.clone();
        (
            Arc::new(store) as Arc<dyn modelgates::Storage>,
            Box::new(move || closer.close().unwrap()) as Box<dyn FnOnce()>,
        )
    })
    .await;
}

/// The same on PostgreSQL (`MODELGATES_POSTGRES_URL`; skipped without it), in a throw-away
/// schema: a killed server loses nothing it acknowledged and leaves nothing half-applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_acknowledged_changes_survive_sigkill() {
    let Ok(url) = std::env::var("MODELGATES_POSTGRES_URL") else {
        eprintln!("SKIPPED: the PostgreSQL crash test needs MODELGATES_POSTGRES_URL");
        return;
    };
    let mut raw = [0u8; 6];
    getrandom::fill(&mut raw).unwrap();
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let schema = format!("mg_crash_{hex}");
    let sep = if url.contains('?') { '&' } else { '?' };
    let db = std::path::PathBuf::from(format!("{url}{sep}schema={schema}"));
    crash_cycles(db.clone(), 20, |db| {
        let store =
            modelgates_postgres::PgStore::open(db.to_str().unwrap()).expect("reopen after SIGKILL");
        (
            Arc::new(store) as Arc<dyn modelgates::Storage>,
            Box::new(|| {}) as Box<dyn FnOnce()>,
        )
    })
    .await;
    let cleanup = db.clone();
    tokio::task::spawn_blocking(move || {
        modelgates_postgres::PgStore::open(cleanup.to_str().unwrap())
            .unwrap()
            .drop_schema()
            .unwrap();
    })
    .await
    .unwrap();
}

/// Reopens a database after a kill: the store, and how to close it.
type Reopen = fn(&std::path::Path) -> (Arc<dyn modelgates::Storage>, Box<dyn FnOnce()>);

/// Runs the SIGKILL cycles against `db`, reopening it with `reopen` (the store and how to
/// close it) after each kill.
async fn crash_cycles(db: std::path::PathBuf, default_cycles: u64, reopen: Reopen) {
    let cycles: u64 = std::env::var("MODELGATES_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cycles);
    let seed: u64 = std::env::var("MODELGATES_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            now.map_or(0x9E37_79B9_7F4A_7C15, |d| d.as_nanos() as u64)
        });
    let mut rng = Rng(seed | 1);
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut productive_cycles = 0;

    for cycle in 0..cycles {
        let mut cmd = tokio::process::Command::new(common::binary());
        cmd.args(["mcp", "--db"]).arg(&db).env("RUST_LOG", "error");
        let transport = TokioChildProcess::new(cmd).unwrap();
        let pid = transport.id().expect("child pid");
        let client = ().serve(transport).await.unwrap_or_else(|e| {
            panic!("seed {seed}, cycle {cycle}: the server did not start after a crash: {e}")
        });
        let before = acked.lock().unwrap().workspaces.len();
        let delay = Duration::from_millis(2 + rng.below(40));
        let driver = drive(&client, cycle, acked.clone());
        tokio::select! {
            () = driver => panic!("seed {seed}: the driver stopped before the kill"),
            () = tokio::time::sleep(delay) => {}
        }
        let status = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
        assert!(status.unwrap().success(), "kill -9 {pid}");
        // Let the dead server's pipes close, then drop the client.
        let _ = tokio::time::timeout(Duration::from_secs(5), client.cancel()).await;
        if acked.lock().unwrap().workspaces.len() > before {
            productive_cycles += 1;
        }

        // Reopen the file as the next start would, and check it.
        let db2 = db.clone();
        let acked2 = acked.clone();
        tokio::task::spawn_blocking(move || {
            let (store, close) = reopen(&db2);
            let gates = ModelGates::open_with(store, modelgates::Options::default())
                .expect("open after SIGKILL");
            check_invariants(&gates);
            let admin = gates.default_caller().unwrap();
            let acked = acked2.lock().unwrap();
            let all = Page::new(None, Some(100)).unwrap();
            for slug in &acked.workspaces {
                assert!(
                    gates.workspace_get(&admin, slug).is_ok(),
                    "seed {seed}: lost workspace {slug}"
                );
            }
            for user in &acked.members {
                assert!(
                    gates.member_get(&admin, user).is_ok(),
                    "seed {seed}: lost member {user}"
                );
            }
            for (slug, user) in &acked.memberships {
                let members = gates.workspace_members_list(&admin, slug, all).unwrap();
                assert!(
                    members.data.iter().any(|m| m.user_id.as_str() == user),
                    "seed {seed}: lost membership {user} in {slug}"
                );
            }
            for key in &acked.keys {
                assert!(
                    gates.key_get(&admin, key).is_ok(),
                    "seed {seed}: lost key {key}"
                );
            }
            for provider in &acked.providers {
                assert!(
                    gates.provider_get(&admin, provider).is_ok(),
                    "seed {seed}: lost provider {provider}"
                );
            }
            for (slug, provider) in &acked.rules {
                let rules = gates.workspace_mux_get(&admin, Some(slug)).unwrap();
                assert_eq!(
                    rules.rules.first().map(|r| r.provider_name.as_str()),
                    Some(provider.as_str()),
                    "seed {seed}: lost the mux rule of {slug}"
                );
                // The routing snapshot rebuilt on open routes it.
                let route = gates
                    .route_resolve(&admin, Some(slug), RequestKind::Chat, &[])
                    .unwrap();
                assert_eq!(route.provider.name, *provider, "seed {seed}: {slug} routes");
            }
            for (slug, input_tokens) in &acked.usage {
                let usage = gates
                    .workspace_usage(&admin, Some(slug), None, None)
                    .unwrap();
                assert_eq!(
                    (usage.token_usage.requests, usage.token_usage.input_tokens),
                    (20, *input_tokens),
                    "seed {seed}: lost usage of {slug}"
                );
                let messages = gates
                    .workspace_messages_list(
                        &admin,
                        Some(slug),
                        &modelgates::MessageFilter::default(),
                        None,
                        None,
                    )
                    .unwrap();
                assert_eq!(messages.total, 5, "seed {seed}: lost messages of {slug}");
                assert!(
                    messages.data.iter().all(|m| m.alerts_summary.secrets == 1),
                    "seed {seed}: {slug}: detected secrets lost"
                );
            }
            drop(gates);
            close();
        })
        .await
        .unwrap();
    }
    let acked = acked.lock().unwrap();
    eprintln!(
        "crash test: seed {seed}, {cycles} SIGKILL cycles, {} workspaces / {} keys / {} providers / \
         {} rule lists / {} usage batches acknowledged and found, {productive_cycles} cycles \
         acknowledged writes before their kill",
        acked.workspaces.len(),
        acked.keys.len(),
        acked.providers.len(),
        acked.rules.len(),
        acked.usage.len()
    );
    assert!(
        acked.workspaces.len() as u64 >= cycles / 2,
        "the driver made progress"
    );
}
