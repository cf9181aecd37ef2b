//! Idempotent writes: a create given an idempotency key answers a retry with the same key and
//! arguments (within a day) with its first result, creates nothing more and logs nothing more;
//! the same key with anything else is a conflict naming it; keys are per user; a retried
//! `key_create` has no secret; failures are not remembered; expired records are removed; and
//! any interleaving of retries — sequential, or from threads at once — leaves the state of
//! exactly one execution. (Two instances on one PostgreSQL database: `modelgates-postgres`'s
//! store tests.)

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use modelgates::*;
use proptest::prelude::*;

struct Env {
    gates: ModelGates,
    admin: Caller,
    clock: ManualClock,
}

fn env() -> Env {
    let store = Arc::new(MemoryStore::new());
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap());
    let options = Options {
        clock: Arc::new(clock.clone()),
        ..Default::default()
    };
    let gates = ModelGates::open_with(store, options).unwrap();
    let admin = gates.default_caller().unwrap();
    Env {
        gates,
        admin,
        clock,
    }
}

fn ws(slug: &str) -> NewWorkspace {
    NewWorkspace {
        name: format!("W {slug}"),
        slug: slug.into(),
        ..Default::default()
    }
}

fn workspaces(e: &Env) -> usize {
    e.gates
        .workspace_list(&e.admin, Page::default())
        .unwrap()
        .total_count as usize
}

fn events(e: &Env, operation: &str) -> usize {
    let filter = AuditFilter {
        operation: Some(operation.into()),
        limit: Some(100),
        ..Default::default()
    };
    e.gates.audit_list(&e.admin, &filter).unwrap().data.len()
}

#[test]
fn a_retry_with_the_same_key_and_arguments_gets_the_first_result() {
    let e = env();
    let before = workspaces(&e);
    let caller = e.admin.clone().with_idempotency_key("create-team-a");
    let first = e.gates.workspace_create(&caller, ws("team-a")).unwrap();
    assert!(!caller.replayed());
    e.clock.advance_millis(60_000);
    let again = e.gates.workspace_create(&caller, ws("team-a")).unwrap();
    assert!(caller.replayed(), "the second call answered from the store");
    assert_eq!(again, first, "the first result, as it was");
    // A new caller value with the same key is the same retry (what a front end does).
    let fresh = e.admin.clone().with_idempotency_key("create-team-a");
    assert_eq!(
        e.gates.workspace_create(&fresh, ws("team-a")).unwrap().id,
        first.id
    );
    assert!(fresh.replayed());
    assert_eq!(workspaces(&e), before + 1, "created once");
    assert_eq!(events(&e, "workspace_create"), 1, "logged once");
    // Without a key the same request is a new one, and fails as one.
    let err = e
        .gates
        .workspace_create(&e.admin, ws("team-a"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.field(), Some("slug"));
}

#[test]
fn the_same_key_with_other_arguments_or_another_operation_is_a_conflict_naming_it() {
    let e = env();
    let caller = e.admin.clone().with_idempotency_key("req-7");
    e.gates.workspace_create(&caller, ws("one")).unwrap();
    let before = workspaces(&e);
    let err = e.gates.workspace_create(&caller, ws("two")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(err.field(), Some("idempotency_key"));
    assert!(err.to_string().contains("\"req-7\""), "{err}");
    assert!(err.to_string().contains("other arguments"), "{err}");
    assert!(!caller.replayed());
    let err = e
        .gates
        .persona_create(&caller, "reviewer", "Reviews pull requests carefully")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.to_string().contains("for workspace_create"), "{err}");
    assert_eq!(workspaces(&e), before, "nothing created");
    assert!(e.gates.workspace_get(&e.admin, "two").is_err());
    assert!(
        e.gates
            .persona_list(&e.admin, Page::default())
            .unwrap()
            .data
            .is_empty()
    );
}

#[test]
fn keys_belong_to_one_user_and_expire_after_a_day() {
    let e = env();
    for user in ["user_b", "user_c"] {
        e.gates
            .member_add(
                &e.admin,
                NewMember {
                    user_id: user.into(),
                    email: format!("{user}@example.com"),
                    role: Some(OrgRole::Admin),
                    ..Default::default()
                },
            )
            .unwrap();
    }
    let as_user = |u: &str| {
        Caller::new(e.admin.account, UserId::parse_field(u, "user_id").unwrap())
            .with_idempotency_key("same")
    };
    let b = e
        .gates
        .workspace_create(&as_user("user_b"), ws("b"))
        .unwrap();
    // Another user's identical key is another request.
    let c = e
        .gates
        .workspace_create(&as_user("user_c"), ws("c"))
        .unwrap();
    assert_ne!(b.id, c.id);
    // Within the window the key answers; after it, the call runs again (and here fails, the
    // slug being taken: it was not answered from the store).
    e.clock
        .advance_millis(IDEMPOTENCY_WINDOW_HOURS * 3_600_000 - 1);
    let caller = as_user("user_b");
    assert_eq!(e.gates.workspace_create(&caller, ws("b")).unwrap().id, b.id);
    e.clock.advance_millis(1);
    let err = e.gates.workspace_create(&caller, ws("b")).unwrap_err();
    assert_eq!(err.field(), Some("slug"), "{err}");
    // Expired records are removed in batches.
    assert_eq!(e.gates.idempotency_expire(1).unwrap(), (1, true));
    assert_eq!(e.gates.idempotency_expire(10).unwrap(), (1, false));
    assert_eq!(e.gates.idempotency_expire(10).unwrap(), (0, false));
    // The key is free again.
    let again = e.gates.workspace_create(&caller, ws("b2")).unwrap();
    assert_eq!(again.slug, "b2");
}

#[test]
fn a_retried_key_create_returns_the_key_without_its_secret() {
    let e = env();
    let caller = e.admin.clone().with_idempotency_key("key-for-ci");
    let new = || NewKey {
        name: "ci".into(),
        workspace: "default".into(),
        ..Default::default()
    };
    let first = e.gates.key_create(&caller, new()).unwrap();
    let secret = first.key.clone().expect("a first call shows the secret");
    assert!(!first.replayed);
    let again = e.gates.key_create(&caller, new()).unwrap();
    assert!(again.replayed && caller.replayed());
    assert_eq!(
        again.key, None,
        "the secret is never stored, so never replayed"
    );
    assert_eq!(again.data, first.data);
    assert!(e.gates.verify_key(&secret).is_ok());
    let keys = e
        .gates
        .key_list(&e.admin, "default", true, Page::default())
        .unwrap();
    assert_eq!(keys.data.len(), 1, "one key");
    // Nothing stored for the retry holds the secret.
    let body = &secret[SECRET_PREFIX.len()..];
    let json = serde_json::to_string(&again).unwrap();
    assert!(!json.contains(body));
}

#[test]
fn a_provider_retry_must_carry_the_same_api_key() {
    let e = env();
    let caller = e.admin.clone().with_idempotency_key("prov-1");
    let new = |key: &str| NewProvider {
        name: "openai-main".into(),
        description: None,
        provider_type: ProviderType::Openai,
        endpoint: None,
        auth_type: None,
        api_key: Some(Secret::new(key)),
    };
    let first = e
        .gates
        .provider_add(&caller, new("sk-first-0123456789"))
        .unwrap();
    assert_eq!(
        e.gates
            .provider_add(&caller, new("sk-first-0123456789"))
            .unwrap(),
        first
    );
    let err = e
        .gates
        .provider_add(&caller, new("sk-other-0123456789"))
        .unwrap_err();
    assert_eq!(err.field(), Some("idempotency_key"), "{err}");
    assert!(!err.to_string().contains("sk-"), "{err}");
}

#[test]
fn every_create_honours_the_key() {
    let e = env();
    let k = |key: &str| e.admin.clone().with_idempotency_key(key);
    let m = NewMember {
        user_id: "user_m".into(),
        email: "m@example.com".into(),
        ..Default::default()
    };
    let member = e.gates.member_add(&k("m"), m.clone()).unwrap();
    assert_eq!(e.gates.member_add(&k("m"), m).unwrap(), member);
    let p = e
        .gates
        .persona_create(&k("p"), "reviewer", "Reviews pull requests carefully")
        .unwrap();
    assert_eq!(
        e.gates
            .persona_create(&k("p"), "reviewer", "Reviews pull requests carefully")
            .unwrap(),
        p
    );
    let nm = NewModel {
        provider: "vllm".into(),
        family: "qwen2.5-coder-32b".into(),
        max_input_tokens: 32_000,
        max_output_tokens: 8_000,
        ..Default::default()
    };
    let model = e
        .gates
        .model_register(&k("mod"), "default", nm.clone())
        .unwrap();
    let caller = k("mod");
    assert_eq!(
        e.gates
            .model_register(&caller, "default", nm.clone())
            .unwrap(),
        model
    );
    assert!(caller.replayed());
    // The workspace is one of the arguments.
    e.gates.workspace_create(&e.admin, ws("other")).unwrap();
    let err = e.gates.model_register(&k("mod"), "other", nm).unwrap_err();
    assert_eq!(err.field(), Some("idempotency_key"), "{err}");
}

#[test]
fn failures_are_not_remembered_and_bad_keys_are_named() {
    let e = env();
    let caller = e.admin.clone().with_idempotency_key("after-fix");
    let new = NewKey {
        name: "ci".into(),
        workspace: "later".into(),
        ..Default::default()
    };
    let err = e.gates.key_create(&caller, new.clone()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    e.gates.workspace_create(&e.admin, ws("later")).unwrap();
    let created = e.gates.key_create(&caller, new).unwrap();
    assert!(created.key.is_some() && !created.replayed, "the retry ran");
    let before = workspaces(&e);
    for bad in [
        "",
        "has space",
        "tab\t",
        "é",
        &"x".repeat(IDEMPOTENCY_KEY_MAX + 1),
    ] {
        let caller = e.admin.clone().with_idempotency_key(bad);
        let err = e.gates.workspace_create(&caller, ws("bad")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad:?}: {err}");
        assert_eq!(err.field(), Some("idempotency_key"));
    }
    assert_eq!(workspaces(&e), before);
    let longest = e
        .admin
        .clone()
        .with_idempotency_key("k".repeat(IDEMPOTENCY_KEY_MAX));
    e.gates.workspace_create(&longest, ws("ok")).unwrap();
}

#[test]
fn retries_from_threads_at_once_create_once() {
    let e = env();
    let before = workspaces(&e);
    let results: Vec<Workspace> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let caller = e.admin.clone().with_idempotency_key("burst");
                let gates = &e.gates;
                s.spawn(move || gates.workspace_create(&caller, ws("burst")).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.iter().all(|w| *w == results[0]));
    assert_eq!(workspaces(&e), before + 1);
    assert_eq!(events(&e, "workspace_create"), 1);
}

/// One client's request: a key, and which arguments it sends (`variant`).
#[derive(Debug, Clone)]
struct Attempt {
    client: usize,
    variant: usize,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any interleaving of attempts by clients, each retrying its own request (and sometimes
    /// sending other arguments under its key): each client's first attempt runs, every later identical one gets its
    /// result, every different one is a conflict, and the state is that of exactly one
    /// execution per client.
    #[test]
    fn any_interleaving_of_retries_leaves_one_execution(
        attempts in prop::collection::vec((0usize..4, prop::bool::weighted(0.15)), 1..40),
    ) {
        let e = env();
        let before = workspaces(&e);
        let attempts: Vec<Attempt> = attempts
            .into_iter()
            .map(|(client, other)| Attempt { client, variant: usize::from(other) })
            .collect();
        // The model: each client's first result, by client.
        let mut first: [Option<Workspace>; 4] = Default::default();
        for a in &attempts {
            let caller = e.admin.clone().with_idempotency_key(format!("client-{}", a.client));
            let slug = format!("c{}-v{}", a.client, a.variant);
            let out = e.gates.workspace_create(&caller, ws(&slug));
            match (&first[a.client], out) {
                (None, Ok(w)) => {
                    prop_assert!(!caller.replayed());
                    first[a.client] = Some(w);
                }
                (Some(f), Ok(w)) => {
                    prop_assert_eq!(&w, f);
                    prop_assert!(caller.replayed());
                    prop_assert_eq!(&f.slug, &slug, "replayed only for the same arguments");
                }
                (Some(f), Err(err)) => {
                    prop_assert_ne!(&f.slug, &slug, "a conflict only for other arguments");
                    prop_assert_eq!(err.field(), Some("idempotency_key"), "{}", err);
                }
                (None, other) => prop_assert!(false, "first attempt of {:?}: {:?}", a, other),
            }
        }
        let executed = first.iter().flatten().count();
        prop_assert_eq!(workspaces(&e), before + executed);
        prop_assert_eq!(events(&e, "workspace_create"), executed);
        for w in first.iter().flatten() {
            prop_assert_eq!(&e.gates.workspace_get(&e.admin, &w.slug).unwrap().id, &w.id);
        }
        prop_assert!(e.gates.check().unwrap().is_ok());
    }
}
