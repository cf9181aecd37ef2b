//! DESIGN.md's behaviour contracts, one test per contract, named after it. Each failing case
//! also checks that nothing changed.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use modelgates::*;

struct Env {
    gates: ModelGates,
    admin: Caller,
    clock: ManualClock,
}

fn env() -> Env {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
    let options = Options {
        clock: Arc::new(clock.clone()),
        ..Default::default()
    };
    let gates = ModelGates::open_with(Arc::new(MemoryStore::new()), options).unwrap();
    let admin = gates.default_caller().unwrap();
    Env {
        gates,
        admin,
        clock,
    }
}

fn ws(name: &str, slug: &str) -> NewWorkspace {
    NewWorkspace {
        name: name.into(),
        slug: slug.into(),
        ..Default::default()
    }
}

fn count(e: &Env) -> u64 {
    e.gates
        .workspace_list(&e.admin, Page::default())
        .unwrap()
        .total_count
}

fn member(e: &Env, id: &str, role: OrgRole) {
    let new = NewMember {
        user_id: id.into(),
        email: format!("{id}@example.com"),
        role: Some(role),
        ..Default::default()
    };
    e.gates.member_add(&e.admin, new).unwrap();
}

fn key(e: &Env, workspace: &str, user: &str) -> CreatedKey {
    let new = NewKey {
        name: format!("{user} key"),
        workspace: workspace.into(),
        creator_user_id: Some(user.into()),
        ..Default::default()
    };
    e.gates.key_create(&e.admin, new).unwrap()
}

/// A second account, with its own admin `user_other`.
fn other_account(e: &Env) -> Caller {
    let bootstrap = Bootstrap {
        account_name: "Other".into(),
        admin_user_id: UserId::parse_field("user_other", "admin_user_id").unwrap(),
        admin_email: "o@example.com".into(),
    };
    e.gates.create_account(&bootstrap).unwrap()
}

/// How many members workspace `ws` has.
fn members_of(e: &Env, ws: &str) -> u64 {
    e.gates
        .workspace_members_list(&e.admin, ws, Page::default())
        .unwrap()
        .total_count
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn slug_must_match_the_pattern_and_be_1_to_50_chars() {
    let e = env();
    for bad in [
        "",
        "-prod",
        "prod-",
        "pr--od",
        "Prod",
        "prod_eu",
        "prod eu",
        &"a".repeat(51),
    ] {
        let err = e
            .gates
            .workspace_create(&e.admin, ws("P", bad))
            .unwrap_err();
        assert_eq!(
            (err.kind(), err.field()),
            (ErrorKind::InvalidArgument, Some("slug")),
            "{bad:?}"
        );
    }
    assert_eq!(count(&e), 1, "nothing was created");
    e.gates
        .workspace_create(&e.admin, ws("P", &"a".repeat(50)))
        .unwrap();
    e.gates
        .workspace_create(&e.admin, ws("P", "prod-eu-1"))
        .unwrap();
}

#[test]
fn name_is_1_to_100_chars() {
    let e = env();
    for bad in [String::new(), "   ".into(), "x".repeat(101)] {
        let err = e
            .gates
            .workspace_create(&e.admin, ws(&bad, "s"))
            .unwrap_err();
        assert_eq!(err.field(), Some("name"));
    }
    e.gates
        .workspace_create(&e.admin, ws(&"é".repeat(100), "s"))
        .unwrap();
    let err = e
        .gates
        .workspace_update(
            &e.admin,
            "s",
            WorkspacePatch {
                name: Patch::Set("x".repeat(101)),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.field(), Some("name"));
}

#[test]
fn oversized_name_is_refused_without_echoing_it() {
    let e = env();
    let err = e
        .gates
        .workspace_create(&e.admin, ws(&"n".repeat(100_000), "s"))
        .unwrap_err();
    assert!(
        err.to_string().len() < 400,
        "message stays short: {} bytes",
        err.to_string().len()
    );
}

#[test]
fn description_is_at_most_500_chars() {
    let e = env();
    let mut new = ws("P", "p");
    new.description = Some("d".repeat(501));
    assert_eq!(
        e.gates
            .workspace_create(&e.admin, new.clone())
            .unwrap_err()
            .field(),
        Some("description")
    );
    new.description = Some("d".repeat(500));
    e.gates.workspace_create(&e.admin, new).unwrap();
}

#[test]
fn io_logging_sampling_rate_is_within_0_0001_and_1() {
    let e = env();
    for bad in [0.0, 0.00009, 1.0001, -1.0, f64::NAN, f64::INFINITY] {
        let mut new = ws("P", "p");
        new.io_logging_sampling_rate = Some(bad);
        let err = e.gates.workspace_create(&e.admin, new).unwrap_err();
        assert_eq!(err.field(), Some("io_logging_sampling_rate"), "{bad}");
    }
    for ok in [0.0001, 0.5, 1.0] {
        let mut new = ws("P", &format!("p{}", (ok * 10000.0) as u32));
        new.io_logging_sampling_rate = Some(ok);
        assert_eq!(
            e.gates
                .workspace_create(&e.admin, new)
                .unwrap()
                .io_logging_sampling_rate,
            ok
        );
    }
}

#[test]
fn default_provider_sort_is_one_of_price_throughput_latency_exacto() {
    for (s, v) in [
        ("price", ProviderSort::Price),
        ("throughput", ProviderSort::Throughput),
        ("latency", ProviderSort::Latency),
        ("exacto", ProviderSort::Exacto),
    ] {
        assert_eq!(
            serde_json::from_value::<ProviderSort>(serde_json::json!(s)).unwrap(),
            v
        );
    }
    assert!(serde_json::from_value::<ProviderSort>(serde_json::json!("cheapest")).is_err());
}

#[test]
fn default_models_must_be_provider_slash_model() {
    let e = env();
    let mut new = ws("P", "p");
    new.default_text_model = Some("gpt-4o".into());
    assert_eq!(
        e.gates.workspace_create(&e.admin, new).unwrap_err().field(),
        Some("default_text_model")
    );
}

#[test]
fn created_workspace_has_the_documented_defaults() {
    let e = env();
    let w = e
        .gates
        .workspace_create(&e.admin, ws("Production", "production"))
        .unwrap();
    assert_eq!(w.io_logging_sampling_rate, 1.0);
    assert!(w.is_data_discount_logging_enabled);
    assert!(!w.is_observability_broadcast_enabled && !w.is_observability_io_logging_enabled);
    assert_eq!(w.io_logging_api_key_ids, None);
    assert_eq!(
        w.created_by.as_ref().map(UserId::as_str),
        Some("user_admin")
    );
    assert_eq!(w.updated_at, None);
    assert_eq!(w.id.as_uuid().get_version_num(), 7);
}

#[test]
fn pagination_offset_and_limit_are_validated_never_clamped() {
    let e = env();
    for i in 0..5 {
        e.gates
            .workspace_create(&e.admin, ws("W", &format!("w{i}")))
            .unwrap();
    }
    assert_eq!(Page::new(None, Some(0)).unwrap_err().field(), Some("limit"));
    assert_eq!(
        Page::new(None, Some(101)).unwrap_err().field(),
        Some("limit")
    );
    assert_eq!(
        Page::new(Some(-1), None).unwrap_err().field(),
        Some("offset")
    );
    assert_eq!(Page::new(None, None).unwrap().limit, 50);
    let page = e
        .gates
        .workspace_list(&e.admin, Page::new(Some(2), Some(2)).unwrap())
        .unwrap();
    assert_eq!(page.total_count, 6);
    let slugs: Vec<_> = page.data.iter().map(|w| w.slug.as_str()).collect();
    assert_eq!(slugs, ["w1", "w2"], "oldest first; default is first");
    let past = e
        .gates
        .workspace_list(&e.admin, Page::new(Some(100), None).unwrap())
        .unwrap();
    assert!(past.data.is_empty() && past.total_count == 6);
}

#[test]
fn update_is_a_patch_absent_keeps_null_clears_value_sets() {
    let e = env();
    let mut new = ws("P", "p");
    new.description = Some("d".into());
    new.default_text_model = Some("openai/gpt-4o".into());
    new.default_provider_sort = Some(ProviderSort::Price);
    new.labels = Some(BTreeMap::from([("team".into(), "core".into())]));
    new.is_observability_broadcast_enabled = Some(true);
    e.gates.workspace_create(&e.admin, new).unwrap();
    let patch = WorkspacePatch {
        description: Patch::Clear,
        default_image_model: Patch::Set("google/gemini-2.5-flash-image".into()),
        is_observability_broadcast_enabled: Patch::Clear,
        ..Default::default()
    };
    let w = e.gates.workspace_update(&e.admin, "p", patch).unwrap();
    assert_eq!(w.description, None, "null clears");
    assert_eq!(
        w.default_image_model.as_deref(),
        Some("google/gemini-2.5-flash-image"),
        "value sets"
    );
    assert_eq!(
        w.default_text_model.as_deref(),
        Some("openai/gpt-4o"),
        "absent keeps"
    );
    assert_eq!(
        w.default_provider_sort,
        Some(ProviderSort::Price),
        "absent keeps"
    );
    assert_eq!(
        w.labels.get("team").map(String::as_str),
        Some("core"),
        "absent keeps"
    );
    assert!(
        !w.is_observability_broadcast_enabled,
        "null resets a flag to its default"
    );
    assert!(w.updated_at.is_some());
    let err = e
        .gates
        .workspace_update(
            &e.admin,
            "p",
            WorkspacePatch {
                name: Patch::Clear,
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.field(), Some("name"));
}

#[test]
fn a_failed_update_changes_nothing() {
    let e = env();
    e.gates.workspace_create(&e.admin, ws("P", "p")).unwrap();
    e.gates.workspace_create(&e.admin, ws("Q", "q")).unwrap();
    let before = e.gates.workspace_get(&e.admin, "p").unwrap();
    let patch = WorkspacePatch {
        name: Patch::Set("New".into()),
        slug: Patch::Set("q".into()), // taken: conflict after the name was applied in memory
        ..Default::default()
    };
    assert_eq!(
        e.gates
            .workspace_update(&e.admin, "p", patch)
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    assert_eq!(e.gates.workspace_get(&e.admin, "p").unwrap(), before);
}

#[test]
fn workspace_lookup_accepts_uuid_or_slug() {
    let e = env();
    let w = e.gates.workspace_create(&e.admin, ws("P", "p")).unwrap();
    assert_eq!(e.gates.workspace_get(&e.admin, "p").unwrap().id, w.id);
    assert_eq!(
        e.gates
            .workspace_get(&e.admin, &w.id.to_string())
            .unwrap()
            .slug,
        "p"
    );
    assert_eq!(
        e.gates
            .workspace_get(&e.admin, &w.id.as_uuid().simple().to_string())
            .unwrap()
            .slug,
        "p"
    );
    assert_eq!(
        e.gates.workspace_get(&e.admin, "nope").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let renamed = e
        .gates
        .workspace_update(
            &e.admin,
            &w.id.to_string(),
            WorkspacePatch {
                slug: Patch::Set("p2".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(renamed.id, w.id);
    assert_eq!(
        e.gates.workspace_get(&e.admin, "p").unwrap_err().kind(),
        ErrorKind::NotFound,
        "old slug released"
    );
    e.gates.workspace_create(&e.admin, ws("P", "p")).unwrap();
}

#[test]
fn slugs_are_unique_per_account() {
    let e = env();
    e.gates.workspace_create(&e.admin, ws("P", "p")).unwrap();
    let err = e
        .gates
        .workspace_create(&e.admin, ws("P again", "p"))
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.field()),
        (ErrorKind::Conflict, Some("slug"))
    );
    assert!(err.to_string().contains("\"p\""), "{err}");
    let other = other_account(&e);
    e.gates.workspace_create(&other, ws("P", "p")).unwrap();
}

#[test]
fn accounts_are_isolated_not_found_not_forbidden() {
    let e = env();
    let w = e
        .gates
        .workspace_create(&e.admin, ws("P", "secret-project"))
        .unwrap();
    let k = key(&e, "secret-project", "user_admin");
    let other = other_account(&e);
    assert_eq!(
        e.gates
            .workspace_get(&other, "secret-project")
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        e.gates
            .workspace_get(&other, &w.id.to_string())
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        e.gates
            .key_get(&other, &k.data.id.to_string())
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        e.gates
            .workspace_list(&other, Page::default())
            .unwrap()
            .total_count,
        1
    );
    assert_eq!(
        e.gates.member_get(&other, "user_admin").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // The first account's admin is unknown in the other account.
    let stranger = Caller::new(other.account, e.admin.user_id.clone());
    assert_eq!(
        e.gates
            .workspace_list(&stranger, Page::default())
            .unwrap_err()
            .kind(),
        ErrorKind::Unauthenticated
    );
}

#[test]
fn every_account_has_a_default_workspace_that_cannot_be_deleted() {
    let e = env();
    let list = e.gates.workspace_list(&e.admin, Page::default()).unwrap();
    assert_eq!(
        (list.data[0].slug.as_str(), list.data[0].name.as_str()),
        ("default", "Default")
    );
    let err = e.gates.workspace_delete(&e.admin, "default").unwrap_err();
    assert_eq!(
        (err.kind(), err.reason().map(modelgates::Reason::as_str)),
        (ErrorKind::FailedPrecondition, Some("DEFAULT_WORKSPACE"))
    );
    // Renaming its slug does not make it deletable.
    e.gates
        .workspace_update(
            &e.admin,
            "default",
            WorkspacePatch {
                slug: Patch::Set("main".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        e.gates
            .workspace_delete(&e.admin, "main")
            .unwrap_err()
            .reason()
            .map(modelgates::Reason::as_str),
        Some("DEFAULT_WORKSPACE")
    );
}

#[test]
fn bulk_member_lists_take_1_to_100_user_ids() {
    let e = env();
    let err = e
        .gates
        .workspace_members_add(&e.admin, "default", &[])
        .unwrap_err();
    assert_eq!(err.field(), Some("user_ids"));
    let many: Vec<String> = (0..101).map(|i| format!("user_{i}")).collect();
    assert_eq!(
        e.gates
            .workspace_members_add(&e.admin, "default", &many)
            .unwrap_err()
            .field(),
        Some("user_ids")
    );
    assert_eq!(
        e.gates
            .workspace_members_remove(&e.admin, "default", &many)
            .unwrap_err()
            .field(),
        Some("user_ids")
    );
    let err = e
        .gates
        .workspace_members_add(&e.admin, "default", &ids(&["bad id"]))
        .unwrap_err();
    assert_eq!(err.field(), Some("user_ids[0]"));
    for i in 0..100 {
        member(&e, &format!("user_{i}"), OrgRole::Member);
    }
    let added = e
        .gates
        .workspace_members_add(&e.admin, "default", &many[..100])
        .unwrap();
    assert_eq!(added.added_count, 100);
}

#[test]
fn members_get_their_org_role_in_the_workspace() {
    let e = env();
    member(&e, "user_a", OrgRole::Admin);
    member(&e, "user_m", OrgRole::Member);
    let added = e
        .gates
        .workspace_members_add(&e.admin, "default", &ids(&["user_a", "user_m"]))
        .unwrap();
    let roles: BTreeMap<_, _> = added
        .data
        .iter()
        .map(|m| (m.user_id.to_string(), m.role))
        .collect();
    assert_eq!(roles["user_a"], WorkspaceRole::Admin);
    assert_eq!(roles["user_m"], WorkspaceRole::Member);
    // A later org role change follows into the workspace.
    e.gates
        .member_update(
            &e.admin,
            "user_m",
            MemberPatch {
                role: Some(OrgRole::Admin),
                ..Default::default()
            },
        )
        .unwrap();
    let list = e
        .gates
        .workspace_members_list(&e.admin, "default", Page::default())
        .unwrap();
    assert!(list.data.iter().all(|m| m.role == WorkspaceRole::Admin));
}

#[test]
fn re_adding_members_is_idempotent() {
    let e = env();
    member(&e, "user_a", OrgRole::Member);
    let first = e
        .gates
        .workspace_members_add(&e.admin, "default", &ids(&["user_a", "user_a"]))
        .unwrap();
    assert_eq!(
        (first.added_count, first.data.len()),
        (1, 1),
        "duplicates are folded"
    );
    let again = e
        .gates
        .workspace_members_add(&e.admin, "default", &ids(&["user_a"]))
        .unwrap();
    assert_eq!(again.added_count, 0);
    assert_eq!(again.data[0].id, first.data[0].id, "same membership");
    assert_eq!(members_of(&e, "default"), 2);
}

#[test]
fn unknown_or_non_org_user_ids_are_rejected_by_name_and_nobody_is_added() {
    let e = env();
    member(&e, "user_a", OrgRole::Member);
    let err = e
        .gates
        .workspace_members_add(
            &e.admin,
            "default",
            &ids(&["user_a", "user_ghost", "user_x"]),
        )
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.field()),
        (ErrorKind::InvalidArgument, Some("user_ids"))
    );
    assert!(
        err.to_string().contains("user_ghost") && err.to_string().contains("user_x"),
        "{err}"
    );
    assert_eq!(members_of(&e, "default"), 1);
}

#[test]
fn removing_a_member_with_active_keys_fails_and_removes_nobody() {
    let e = env();
    member(&e, "user_a", OrgRole::Member);
    member(&e, "user_b", OrgRole::Member);
    e.gates
        .workspace_members_add(&e.admin, "default", &ids(&["user_a", "user_b"]))
        .unwrap();
    let k = key(&e, "default", "user_b");
    let err = e
        .gates
        .workspace_members_remove(&e.admin, "default", &ids(&["user_a", "user_b"]))
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.reason().map(modelgates::Reason::as_str)),
        (
            ErrorKind::FailedPrecondition,
            Some("MEMBER_HAS_ACTIVE_KEYS")
        )
    );
    assert!(
        err.to_string().contains("user_b") && err.to_string().contains(&k.data.id.to_string()),
        "{err}"
    );
    assert_eq!(members_of(&e, "default"), 3);
    // A disabled key no longer blocks; the membership goes, and so does the inactive key.
    e.gates
        .key_update(
            &e.admin,
            &k.data.id.to_string(),
            KeyPatch {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    let removed = e
        .gates
        .workspace_members_remove(&e.admin, "default", &ids(&["user_a", "user_b"]))
        .unwrap();
    assert_eq!(removed.removed_count, 2);
    assert_eq!(
        e.gates
            .key_get(&e.admin, &k.data.id.to_string())
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    let again = e
        .gates
        .workspace_members_remove(&e.admin, "default", &ids(&["user_a"]))
        .unwrap();
    assert_eq!(again.removed_count, 0, "removing a non-member is harmless");
}

#[test]
fn an_expired_key_is_not_active() {
    let e = env();
    member(&e, "user_a", OrgRole::Member);
    e.gates.workspace_create(&e.admin, ws("P", "p")).unwrap();
    e.gates
        .workspace_members_add(&e.admin, "p", &ids(&["user_a"]))
        .unwrap();
    let new = NewKey {
        name: "short".into(),
        workspace: "p".into(),
        creator_user_id: Some("user_a".into()),
        expires_at: Some(e.gates.now() + Duration::hours(1)),
        ..Default::default()
    };
    let k = e.gates.key_create(&e.admin, new).unwrap();
    assert!(e.gates.verify_key(k.key.as_deref().unwrap()).is_ok());
    assert_eq!(
        e.gates
            .workspace_delete(&e.admin, "p")
            .unwrap_err()
            .reason()
            .map(modelgates::Reason::as_str),
        Some("WORKSPACE_HAS_ACTIVE_KEYS")
    );
    e.clock.advance_millis(3_600_000);
    assert_eq!(
        e.gates
            .verify_key(k.key.as_deref().unwrap())
            .unwrap_err()
            .kind(),
        ErrorKind::PermissionDenied
    );
    assert_eq!(
        e.gates
            .key_list(&e.admin, "p", false, Page::default())
            .unwrap()
            .total_count,
        0
    );
    assert_eq!(
        e.gates
            .key_list(&e.admin, "p", true, Page::default())
            .unwrap()
            .total_count,
        1
    );
    e.gates.workspace_delete(&e.admin, "p").unwrap();
    assert_eq!(
        e.gates
            .verify_key(k.key.as_deref().unwrap())
            .unwrap_err()
            .kind(),
        ErrorKind::Unauthenticated,
        "deleted with the workspace"
    );
}

#[test]
fn a_workspace_with_active_keys_cannot_be_deleted() {
    let e = env();
    e.gates.workspace_create(&e.admin, ws("P", "p")).unwrap();
    let k = key(&e, "p", "user_admin");
    let err = e.gates.workspace_delete(&e.admin, "p").unwrap_err();
    assert_eq!(
        (err.kind(), err.reason().map(modelgates::Reason::as_str)),
        (
            ErrorKind::FailedPrecondition,
            Some("WORKSPACE_HAS_ACTIVE_KEYS")
        )
    );
    assert!(err.to_string().contains(&k.data.id.to_string()));
    assert!(e.gates.workspace_get(&e.admin, "p").is_ok(), "still there");
    e.gates
        .key_delete(&e.admin, &k.data.id.to_string())
        .unwrap();
    e.gates.workspace_delete(&e.admin, "p").unwrap();
    assert_eq!(
        e.gates.workspace_get(&e.admin, "p").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn key_create_returns_the_secret_once_and_reads_never_do() {
    let e = env();
    let k = key(&e, "default", "user_admin");
    assert!(
        k.key.as_deref().unwrap().starts_with(SECRET_PREFIX)
            && k.key.as_deref().unwrap().len() == SECRET_PREFIX.len() + 64
    );
    assert!(
        !format!("{k:?}").contains(k.key.as_deref().unwrap()),
        "Debug redacts the secret"
    );
    let got = e.gates.key_get(&e.admin, &k.data.id.to_string()).unwrap();
    let listed = e
        .gates
        .key_list(&e.admin, "default", true, Page::default())
        .unwrap();
    for text in [
        serde_json::to_string(&got).unwrap(),
        serde_json::to_string(&listed).unwrap(),
        format!("{got:?}"),
    ] {
        assert!(
            !text.contains(&k.key.as_deref().unwrap()[SECRET_PREFIX.len()..]),
            "secret leaked: {text}"
        );
    }
    assert_eq!(
        got.creator_user_id.as_str(),
        "user_admin",
        "creator defaults to the caller"
    );
    assert_eq!(got.kind, KeyKind::Inference, "kind defaults to inference");
}

#[test]
fn key_verification_follows_disable_enable_delete_at_once() {
    let e = env();
    let k = key(&e, "default", "user_admin");
    let id = k.data.id.to_string();
    let v = e.gates.verify_key(k.key.as_deref().unwrap()).unwrap();
    assert_eq!(
        (v.key_id, v.account, v.kind),
        (k.data.id, e.admin.account, KeyKind::Inference)
    );
    e.gates
        .key_update(
            &e.admin,
            &id,
            KeyPatch {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    let err = e.gates.verify_key(k.key.as_deref().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(!err.to_string().contains(k.key.as_deref().unwrap()));
    e.gates
        .key_update(
            &e.admin,
            &id,
            KeyPatch {
                disabled: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(e.gates.verify_key(k.key.as_deref().unwrap()).is_ok());
    e.gates.key_delete(&e.admin, &id).unwrap();
    assert_eq!(
        e.gates
            .verify_key(k.key.as_deref().unwrap())
            .unwrap_err()
            .kind(),
        ErrorKind::Unauthenticated
    );
    assert_eq!(
        e.gates.verify_key("sk-not-ours").unwrap_err().kind(),
        ErrorKind::Unauthenticated
    );
}

#[test]
fn keys_belong_to_a_workspace_member() {
    let e = env();
    member(&e, "user_a", OrgRole::Member);
    let new = NewKey {
        name: "k".into(),
        workspace: "default".into(),
        creator_user_id: Some("user_a".into()),
        ..Default::default()
    };
    let err = e.gates.key_create(&e.admin, new).unwrap_err();
    assert_eq!(
        err.reason().map(modelgates::Reason::as_str),
        Some("NOT_WORKSPACE_MEMBER")
    );
    let new = NewKey {
        name: "k".into(),
        workspace: "default".into(),
        creator_user_id: Some("user_zz".into()),
        ..Default::default()
    };
    assert_eq!(
        e.gates.key_create(&e.admin, new).unwrap_err().field(),
        Some("creator_user_id")
    );
    let past = NewKey {
        name: "k".into(),
        workspace: "default".into(),
        expires_at: Some(e.gates.now()),
        ..Default::default()
    };
    assert_eq!(
        e.gates.key_create(&e.admin, past).unwrap_err().field(),
        Some("expires_at")
    );
    let neg = NewKey {
        name: "k".into(),
        workspace: "default".into(),
        limit: Some(-1.0),
        ..Default::default()
    };
    assert_eq!(
        e.gates.key_create(&e.admin, neg).unwrap_err().field(),
        Some("limit")
    );
}

#[test]
fn io_logging_key_ids_must_be_keys_of_the_workspace_and_follow_deletes() {
    let e = env();
    let k = key(&e, "default", "user_admin");
    let id = k.data.id.to_string();
    let set = |ids: Vec<String>| WorkspacePatch {
        io_logging_api_key_ids: Patch::Set(ids),
        ..Default::default()
    };
    let err = e
        .gates
        .workspace_update(&e.admin, "default", set(vec!["key_nope".into()]))
        .unwrap_err();
    assert_eq!(err.field(), Some("io_logging_api_key_ids[0]"));
    let w = e
        .gates
        .workspace_update(&e.admin, "default", set(vec![id.clone(), id.clone()]))
        .unwrap();
    assert_eq!(
        w.io_logging_api_key_ids,
        Some(vec![k.data.id]),
        "deduplicated"
    );
    e.gates.key_delete(&e.admin, &id).unwrap();
    let w = e.gates.workspace_get(&e.admin, "default").unwrap();
    assert_eq!(
        w.io_logging_api_key_ids,
        Some(vec![]),
        "deleted key is no longer referenced"
    );
}

#[test]
fn org_members_are_unique_and_the_last_admin_stays() {
    let e = env();
    member(&e, "user_a", OrgRole::Member);
    let dup = NewMember {
        user_id: "user_a".into(),
        email: "other@example.com".into(),
        ..Default::default()
    };
    assert_eq!(
        e.gates.member_add(&e.admin, dup).unwrap_err().field(),
        Some("user_id")
    );
    let dup_mail = NewMember {
        user_id: "user_b".into(),
        email: "USER_A@example.com".into(),
        ..Default::default()
    };
    assert_eq!(
        e.gates.member_add(&e.admin, dup_mail).unwrap_err().field(),
        Some("email")
    );
    let err = e
        .gates
        .member_update(
            &e.admin,
            "user_admin",
            MemberPatch {
                role: Some(OrgRole::Member),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        err.reason().map(modelgates::Reason::as_str),
        Some("LAST_ORG_ADMIN")
    );
    assert_eq!(
        e.gates
            .member_remove(&e.admin, "user_admin")
            .unwrap_err()
            .reason()
            .map(modelgates::Reason::as_str),
        Some("CANNOT_REMOVE_SELF")
    );
    let page = e.gates.member_list(&e.admin, Page::default()).unwrap();
    assert_eq!(page.total_count, 2);
}

#[test]
fn removing_an_org_member_cascades_memberships_unless_keys_are_active() {
    let e = env();
    member(&e, "user_a", OrgRole::Member);
    e.gates.workspace_create(&e.admin, ws("P", "p")).unwrap();
    e.gates
        .workspace_members_add(&e.admin, "p", &ids(&["user_a"]))
        .unwrap();
    let k = key(&e, "p", "user_a");
    assert_eq!(
        e.gates
            .member_remove(&e.admin, "user_a")
            .unwrap_err()
            .reason()
            .map(modelgates::Reason::as_str),
        Some("MEMBER_HAS_ACTIVE_KEYS")
    );
    e.gates
        .key_delete(&e.admin, &k.data.id.to_string())
        .unwrap();
    e.gates.member_remove(&e.admin, "user_a").unwrap();
    assert_eq!(members_of(&e, "p"), 1);
    member(&e, "user_a", OrgRole::Member); // the id and email are free again
}

#[test]
fn non_admins_cannot_manage_the_organization() {
    let e = env();
    member(&e, "user_m", OrgRole::Member);
    let m = Caller::new(e.admin.account, UserId::parse_field("user_m", "u").unwrap());
    assert_eq!(
        e.gates
            .workspace_create(&m, ws("P", "p"))
            .unwrap_err()
            .kind(),
        ErrorKind::PermissionDenied
    );
    assert!(
        e.gates.workspace_list(&m, Page::default()).is_ok(),
        "members can read"
    );
    e.gates
        .workspace_members_add(&e.admin, "default", &ids(&["user_m"]))
        .unwrap();
    let own = NewKey {
        name: "mine".into(),
        workspace: "default".into(),
        ..Default::default()
    };
    assert!(
        e.gates.key_create(&m, own).is_ok(),
        "members can create their own keys"
    );
    let theirs = NewKey {
        name: "x".into(),
        workspace: "default".into(),
        creator_user_id: Some("user_admin".into()),
        ..Default::default()
    };
    assert_eq!(
        e.gates.key_create(&m, theirs).unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
}

#[test]
fn error_kinds_map_to_the_documented_codes() {
    let table = [
        (ErrorKind::InvalidArgument, "invalid_argument", 400),
        (ErrorKind::Unauthenticated, "unauthenticated", 401),
        (ErrorKind::PermissionDenied, "permission_denied", 403),
        (ErrorKind::NotFound, "not_found", 404),
        (ErrorKind::Conflict, "conflict", 409),
        (ErrorKind::FailedPrecondition, "failed_precondition", 400),
        (ErrorKind::Internal, "internal", 500),
    ];
    for (kind, code, status) in table {
        assert_eq!((kind.code(), kind.http_status()), (code, status));
    }
}

#[test]
fn stale_expected_revisions_are_conflicts_and_change_nothing() {
    let e = env();
    let w = e.gates.workspace_create(&e.admin, ws("P", "p")).unwrap();
    assert_eq!(w.revision, 1);
    let rename = |rev: Option<u64>, name: &str| WorkspacePatch {
        expected_revision: rev,
        name: Patch::Set(name.into()),
        ..Default::default()
    };
    // Two agents read revision 1; the first update wins, the second is refused.
    let first = e
        .gates
        .workspace_update(&e.admin, "p", rename(Some(1), "Agent A"))
        .unwrap();
    assert_eq!(first.revision, 2);
    let err = e
        .gates
        .workspace_update(&e.admin, "p", rename(Some(1), "Agent B"))
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.field()),
        (ErrorKind::Conflict, Some("expected_revision"))
    );
    assert!(err.to_string().contains("revision 2"), "{err}");
    assert_eq!(
        e.gates.workspace_get(&e.admin, "p").unwrap().name,
        "Agent A"
    );
    // With the fresh revision, or without one, it goes through.
    assert_eq!(
        e.gates
            .workspace_update(&e.admin, "p", rename(Some(2), "B"))
            .unwrap()
            .revision,
        3
    );
    assert_eq!(
        e.gates
            .workspace_update(&e.admin, "p", rename(None, "C"))
            .unwrap()
            .revision,
        4
    );
}

/// Issue 11: `check` compared one account's custom models with the running total of all
/// accounts, so a database with custom models in two accounts was reported corrupt.
#[test]
fn check_is_clean_with_custom_models_in_two_accounts() {
    let e = env();
    let other = other_account(&e);
    for caller in [&e.admin, &other] {
        let new = modelgates::NewModel {
            provider: "local".into(),
            family: "coder".into(),
            max_input_tokens: 1000,
            max_output_tokens: 100,
            ..Default::default()
        };
        e.gates.model_register(caller, "default", new).unwrap();
    }
    let report = e.gates.check().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.accounts, 2);
    assert_eq!(report.custom_models, 2);
}

/// Issue 11: an archived workspace's settings, models and membership are frozen (as its tool
/// description says) while its keys can still be disabled.
#[test]
fn an_archived_workspace_refuses_changes_but_keys_can_still_be_disabled() {
    let e = env();
    let new = NewWorkspace {
        name: "Old".into(),
        slug: "old".into(),
        ..Default::default()
    };
    e.gates.workspace_create(&e.admin, new).unwrap();
    let key = e
        .gates
        .key_create(
            &e.admin,
            NewKey {
                name: "k".into(),
                workspace: "old".into(),
                ..Default::default()
            },
        )
        .unwrap();
    e.gates.workspace_archive(&e.admin, "old").unwrap();
    let archived = |r: Result<(), modelgates::Error>| {
        let err = r.unwrap_err();
        assert_eq!(
            err.reason().map(modelgates::Reason::as_str),
            Some("WORKSPACE_ARCHIVED"),
            "{err}"
        );
    };
    archived(
        e.gates
            .model_set_status(
                &e.admin,
                "old",
                "openai/o3",
                modelgates::ModelStatus::Disabled,
            )
            .map(drop),
    );
    archived(
        e.gates
            .key_create(
                &e.admin,
                NewKey {
                    name: "k2".into(),
                    workspace: "old".into(),
                    ..Default::default()
                },
            )
            .map(drop),
    );
    archived(
        e.gates
            .workspace_members_add(&e.admin, "old", &["user_admin".to_owned()])
            .map(drop),
    );
    let patch = modelgates::KeyPatch {
        disabled: Some(true),
        ..Default::default()
    };
    let k = e
        .gates
        .key_update(&e.admin, &key.data.id.to_string(), patch)
        .unwrap();
    assert!(k.disabled);
}

/// Issue 12: `check` compares the live snapshot with one loaded from the store, entry by
/// entry (it compared counts, so a key changed behind the snapshot's back went unnoticed).
#[test]
fn check_reports_a_snapshot_that_differs_from_the_store() {
    let store = MemoryStore::new();
    let a = ModelGates::open(store.clone()).unwrap();
    let b = ModelGates::open(store).unwrap();
    let admin = a.default_caller().unwrap();
    let key = a
        .key_create(
            &admin,
            NewKey {
                name: "k".into(),
                workspace: "default".into(),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(a.check().unwrap().is_ok());
    // Disabled through the other handle: same key count, but `a`'s snapshot is now stale.
    let patch = KeyPatch {
        disabled: Some(true),
        ..Default::default()
    };
    b.key_update(&admin, &key.data.id.to_string(), patch)
        .unwrap();
    let problems = a.check().unwrap().problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains(&key.data.id.to_string()) && problems[0].contains("differs"),
        "{problems:?}"
    );
    // A provider added behind its back shows too.
    b.provider_add(
        &admin,
        NewProvider {
            name: "local".into(),
            description: None,
            provider_type: ProviderType::Ollama,
            endpoint: None,
            auth_type: None,
            api_key: None,
        },
    )
    .unwrap();
    assert_eq!(a.check().unwrap().problems.len(), 2);
    a.reload_snapshot().unwrap();
    assert!(a.check().unwrap().is_ok());
    assert!(b.check().unwrap().is_ok());
}

/// Issue 13: keys have a stable integer identity (the REST API's `io_logging_api_key_ids`):
/// numbered from 1 in creation order, never reused after a deletion, and usable wherever a key
/// id is taken for io-logging.
#[test]
fn keys_are_numbered_and_numbers_are_never_reused() {
    let e = env();
    let make = |name: &str| {
        e.gates
            .key_create(
                &e.admin,
                NewKey {
                    name: name.into(),
                    workspace: "default".into(),
                    ..Default::default()
                },
            )
            .unwrap()
    };
    let (a, b) = (make("a"), make("b"));
    assert_eq!((a.data.number, b.data.number), (1, 2));
    e.gates
        .key_delete(&e.admin, &b.data.id.to_string())
        .unwrap();
    let c = make("c");
    assert_eq!(c.data.number, 3, "a deleted key's number is not reused");
    let patch = WorkspacePatch {
        io_logging_api_key_ids: Patch::Set(vec!["3".into(), a.data.id.to_string()]),
        ..Default::default()
    };
    let ws = e
        .gates
        .workspace_update(&e.admin, "default", patch)
        .unwrap();
    assert_eq!(ws.io_logging_api_key_ids, Some(vec![c.data.id, a.data.id]));
    assert_eq!(
        e.gates
            .key_numbers(&e.admin, &[c.data.id, a.data.id])
            .unwrap(),
        [3, 1]
    );
    let patch = WorkspacePatch {
        io_logging_api_key_ids: Patch::Set(vec!["2".into()]),
        ..Default::default()
    };
    let err = e
        .gates
        .workspace_update(&e.admin, "default", patch)
        .unwrap_err();
    assert_eq!(err.field(), Some("io_logging_api_key_ids[0]"), "{err}");
    assert!(err.to_string().contains("no API key has number 2"), "{err}");
    assert!(e.gates.check().unwrap().is_ok());
}
