//! The audit log: every successful change of configuration appends one event in its own
//! transaction (who, through which front end, what changed field by field); failures and
//! changes that change nothing append none; secrets never appear; `audit_list` filters and
//! pages newest first; retention removes old events; `check` reads them all.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use modelgates::*;
use serde_json::json;

struct Env {
    gates: ModelGates,
    admin: Caller,
    clock: ManualClock,
}

fn env() -> Env {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap());
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

fn all(e: &Env) -> Vec<AuditEvent> {
    let mut out = Vec::new();
    let mut filter = AuditFilter {
        limit: Some(100),
        ..Default::default()
    };
    loop {
        let page = e.gates.audit_list(&e.admin, &filter).unwrap();
        out.extend(page.data);
        match page.next_after {
            Some(after) => filter.after = Some(after),
            None => return out,
        }
    }
}

fn newest(e: &Env) -> AuditEvent {
    let filter = AuditFilter {
        limit: Some(1),
        ..Default::default()
    };
    e.gates
        .audit_list(&e.admin, &filter)
        .unwrap()
        .data
        .remove(0)
}

fn ws(slug: &str) -> NewWorkspace {
    NewWorkspace {
        name: format!("W {slug}"),
        slug: slug.into(),
        ..Default::default()
    }
}

#[test]
fn a_create_is_one_event_with_its_fields_its_actor_and_its_target() {
    let e = env();
    let before = all(&e).len();
    let caller = e.admin.clone().via(Frontend::Rest);
    let made = e.gates.workspace_create(&caller, ws("prod")).unwrap();
    let events = all(&e);
    assert_eq!(events.len(), before + 1, "exactly one event");
    let ev = &events[0];
    assert_eq!(ev.operation, "workspace_create");
    assert_eq!(ev.actor.user_id.as_ref(), Some(&e.admin.user_id));
    assert_eq!(ev.actor.via, Frontend::Rest);
    assert_eq!(ev.actor.key_id, None);
    assert_eq!(
        (ev.target.kind.as_str(), ev.target.id.clone()),
        ("workspace", made.id.to_string())
    );
    let ws_change = ev.changes.iter().find(|c| c.kind == "workspace").unwrap();
    assert_eq!(ws_change.action, AuditAction::Created);
    assert_eq!(ws_change.fields["slug"].after, Some(json!("prod")));
    assert_eq!(ws_change.fields["slug"].before, None);
    assert!(
        !ws_change.fields.contains_key("revision"),
        "noise is left out"
    );
    // The creator's membership is part of the same change.
    assert!(
        ev.changes
            .iter()
            .any(|c| c.kind == "workspace_member" && c.action == AuditAction::Created)
    );
    assert!(e.gates.check().unwrap().is_ok());
}

#[test]
fn an_update_lists_before_and_after_of_what_changed_only() {
    let e = env();
    e.gates.workspace_create(&e.admin, ws("prod")).unwrap();
    e.clock.advance_millis(5);
    e.gates
        .workspace_update(
            &e.admin,
            "prod",
            WorkspacePatch {
                description: Patch::Set("Production".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let ev = newest(&e);
    assert_eq!(ev.operation, "workspace_update");
    let change = &ev.changes[0];
    assert_eq!(change.action, AuditAction::Updated);
    assert_eq!(
        change.fields.keys().collect::<Vec<_>>(),
        vec!["description"],
        "{change:?}"
    );
    assert_eq!(change.fields["description"].before, None);
    assert_eq!(
        change.fields["description"].after,
        Some(json!("Production"))
    );

    // The same patch again changes nothing: no event.
    let count = all(&e).len();
    e.gates
        .workspace_update(
            &e.admin,
            "prod",
            WorkspacePatch {
                description: Patch::Set("Production".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        all(&e).len(),
        count,
        "an update that changes nothing logs nothing"
    );
}

#[test]
fn failures_and_usage_append_no_event() {
    let e = env();
    e.gates.workspace_create(&e.admin, ws("prod")).unwrap();
    let count = all(&e).len();
    let err = e.gates.workspace_create(&e.admin, ws("prod")).unwrap_err();
    assert_eq!(err.kind().code(), "conflict");
    let err = e
        .gates
        .workspace_update(
            &e.admin,
            "prod",
            WorkspacePatch {
                name: Patch::Set(String::new()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.kind().code(), "invalid_argument");
    // Usage is traffic, not configuration.
    e.gates
        .usage_record(
            &e.admin,
            NewUsage {
                request_id: "r1".into(),
                workspace: Some("prod".into()),
                provider: "openai".into(),
                model: "gpt-5".into(),
                input_tokens: 10,
                output_tokens: 5,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(all(&e).len(), count);
}

#[test]
fn secrets_appear_as_changed_never_as_values() {
    let e = env();
    let secret = "sk-live-THIS-MUST-NOT-LEAK-1234567890";
    e.gates
        .provider_add(
            &e.admin,
            NewProvider {
                name: "openai-prod".into(),
                description: None,
                provider_type: ProviderType::Openai,
                endpoint: None,
                auth_type: None,
                api_key: Some(Secret::new(secret)),
            },
        )
        .unwrap();
    let ev = newest(&e);
    assert_eq!(ev.operation, "provider_add");
    assert_eq!(ev.target.kind, "provider");
    let fields = &ev.changes[0].fields;
    assert!(fields["api_key"].secret, "{fields:?}");
    assert_eq!(fields["api_key"].after, None);
    assert_eq!(fields["provider.name"].after, Some(json!("openai-prod")));

    let rotated = "sk-live-ROTATED-ALSO-SECRET-0987654321";
    e.gates
        .provider_set_auth(
            &e.admin,
            "openai-prod",
            AuthType::ApiKey,
            Some(Secret::new(rotated)),
            None,
        )
        .unwrap();
    let ev = newest(&e);
    assert!(ev.changes[0].fields["api_key"].secret);

    let created = e
        .gates
        .key_create(
            &e.admin,
            NewKey {
                name: "ci".into(),
                workspace: "default".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let ev = newest(&e);
    assert_eq!(ev.operation, "key_create");
    assert_eq!(ev.target.id, created.data.id.to_string());
    // A secret pasted into a field that is not declared secret is not recorded either.
    let pasted = "ghp_0123456789abcdefghijABCDEFGHIJ0123456789";
    e.gates
        .workspace_update(
            &e.admin,
            "default",
            WorkspacePatch {
                description: Patch::Set(format!("our key is {pasted}")),
                ..Default::default()
            },
        )
        .unwrap();
    let ev = newest(&e);
    assert!(ev.changes[0].fields["description"].secret, "{ev:?}");
    let text = serde_json::to_string(&all(&e)).unwrap();
    for s in [secret, rotated, created.key.as_deref().unwrap(), pasted] {
        assert!(!text.contains(s), "a secret reached the audit log");
    }
}

#[test]
fn deletes_say_what_was_deleted_and_keys_presented_are_recorded() {
    let e = env();
    e.gates.workspace_create(&e.admin, ws("tmp")).unwrap();
    let key = e
        .gates
        .key_create(
            &e.admin,
            NewKey {
                name: "mgmt".into(),
                workspace: "default".into(),
                kind: Some(KeyKind::Management),
                ..Default::default()
            },
        )
        .unwrap();
    let caller = e.admin.clone().with_key(key.data.id).via(Frontend::Mcp);
    let deleted = e.gates.workspace_delete(&caller, "tmp").unwrap();
    let ev = newest(&e);
    assert_eq!(ev.operation, "workspace_delete");
    assert_eq!(ev.actor.key_id, Some(key.data.id));
    assert_eq!(ev.actor.via, Frontend::Mcp);
    let change = ev.changes.iter().find(|c| c.kind == "workspace").unwrap();
    assert_eq!(change.action, AuditAction::Deleted);
    assert_eq!(change.id, deleted.id.to_string());
    assert_eq!(change.fields["slug"].before, Some(json!("tmp")));
    assert_eq!(change.fields["slug"].after, None);
}

#[test]
fn a_clock_that_steps_back_keeps_events_in_their_time_window() {
    // Events are listed and filtered by their own times, even when the clock (or, in one
    // process, another instance's clock) read later times first: an id never runs ahead of
    // its event's time, which would hide the event from an `until` window.
    let e = env();
    e.clock.advance_millis(60_000);
    e.gates.workspace_create(&e.admin, ws("late")).unwrap();
    e.clock.advance_millis(-50_000);
    e.gates.workspace_create(&e.admin, ws("early")).unwrap();
    let early = e.gates.workspace_get(&e.admin, "early").unwrap();
    let window = e
        .gates
        .audit_list(
            &e.admin,
            &AuditFilter {
                until: Some(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 11).unwrap()),
                ..Default::default()
            },
        )
        .unwrap();
    let targets: Vec<_> = window.data.iter().map(|ev| ev.target.id.clone()).collect();
    assert_eq!(targets, vec![early.id.to_string()], "{window:?}");
    for ev in all(&e) {
        assert_eq!(ev.id.millis() as i64, ev.at.timestamp_millis());
    }
}

#[test]
fn lists_filter_and_page_newest_first() {
    let e = env();
    for i in 0..7 {
        e.clock.advance_millis(1_000);
        e.gates
            .workspace_create(&e.admin, ws(&format!("w{i}")))
            .unwrap();
    }
    let events = all(&e);
    // Newest first, strictly.
    for pair in events.windows(2) {
        assert!(pair[0].id > pair[1].id);
        assert!(pair[0].at >= pair[1].at);
    }
    // Pages of 3 cover the same events, once each.
    let mut paged = Vec::new();
    let mut filter = AuditFilter {
        operation: Some("workspace_create".into()),
        limit: Some(3),
        ..Default::default()
    };
    loop {
        let page = e.gates.audit_list(&e.admin, &filter).unwrap();
        assert!(page.data.len() <= 3);
        paged.extend(page.data.into_iter().map(|ev| ev.target.id));
        match page.next_after {
            Some(a) => filter.after = Some(a),
            None => break,
        }
    }
    assert_eq!(paged.len(), 7, "{paged:?}");
    let w3 = e.gates.workspace_get(&e.admin, "w3").unwrap();
    let by_id = e
        .gates
        .audit_list(
            &e.admin,
            &AuditFilter {
                resource_id: Some(w3.id.to_string()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(by_id.data.len(), 1);
    assert_eq!(by_id.data[0].target.id, w3.id.to_string());
    // Time range: the events of w2..w4 (one second apart).
    let at = |slug: &str| {
        let id = e
            .gates
            .workspace_get(&e.admin, slug)
            .unwrap()
            .id
            .to_string();
        events.iter().find(|ev| ev.target.id == id).unwrap().at
    };
    let window = e
        .gates
        .audit_list(
            &e.admin,
            &AuditFilter {
                since: Some(at("w2")),
                until: Some(at("w4") + Duration::milliseconds(1)),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(window.data.len(), 3, "{window:?}");
    // Actor and kind.
    let mine = AuditFilter {
        actor: Some(e.admin.user_id.to_string()),
        resource_kind: Some("workspace".into()),
        limit: Some(100),
        ..Default::default()
    };
    assert_eq!(e.gates.audit_list(&e.admin, &mine).unwrap().data.len(), 7);
    let nobody = AuditFilter {
        actor: Some("user_nobody".into()),
        ..Default::default()
    };
    assert!(
        e.gates
            .audit_list(&e.admin, &nobody)
            .unwrap()
            .data
            .is_empty()
    );
    // Bad input is named.
    let err = e
        .gates
        .audit_list(
            &e.admin,
            &AuditFilter {
                limit: Some(0),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
}

#[test]
fn only_org_admins_read_the_log_and_set_its_retention() {
    let e = env();
    e.gates
        .member_add(
            &e.admin,
            NewMember {
                user_id: "user_m".into(),
                email: "m@example.com".into(),
                role: Some(OrgRole::Member),
                ..Default::default()
            },
        )
        .unwrap();
    let m = Caller::new(e.admin.account, UserId::parse_field("user_m", "u").unwrap());
    let err = e.gates.audit_list(&m, &AuditFilter::default()).unwrap_err();
    assert_eq!(err.kind().code(), "permission_denied");
    let err = e.gates.audit_retention_set(&m, Some(30)).unwrap_err();
    assert_eq!(err.kind().code(), "permission_denied");
    let ev = newest(&e);
    assert_eq!(ev.operation, "member_add");
    assert_eq!(ev.target.id, "user_m");
}

#[test]
fn retention_removes_events_older_than_the_account_keeps() {
    let e = env();
    e.gates.workspace_create(&e.admin, ws("old")).unwrap();
    let err = e.gates.audit_retention_set(&e.admin, Some(0)).unwrap_err();
    assert!(err.to_string().contains("days"), "{err}");
    e.clock.advance_millis(Duration::days(3).num_milliseconds());
    let account = e.gates.audit_retention_set(&e.admin, Some(2)).unwrap();
    assert_eq!(account.audit_retention_days, Some(2));
    e.gates.workspace_create(&e.admin, ws("new")).unwrap();
    let before = all(&e);
    let (removed, more) = e.gates.audit_expire(10_000).unwrap();
    assert!(!more);
    let after = all(&e);
    assert_eq!(removed as usize, before.len() - after.len());
    assert!(removed >= 1, "the creation of 'old' (3 days ago) expired");
    let cutoff = e.gates.now() - Duration::days(2);
    assert!(after.iter().all(|ev| ev.at >= cutoff));
    assert!(after.iter().any(|ev| ev.operation == "audit_retention_set"));
    // Small budgets remove in steps.
    e.gates.audit_retention_set(&e.admin, None).unwrap();
    let report = e.gates.check().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.audit_events as usize, all(&e).len());
}

#[test]
fn an_event_lists_at_most_100_changes_and_counts_the_rest() {
    let e = env();
    e.gates.workspace_create(&e.admin, ws("big")).unwrap();
    let users: Vec<String> = (0..120).map(|i| format!("user_{i:03}")).collect();
    for u in &users {
        e.gates
            .member_add(
                &e.admin,
                NewMember {
                    user_id: u.clone(),
                    email: format!("{u}@example.com"),
                    role: Some(OrgRole::Member),
                    ..Default::default()
                },
            )
            .unwrap();
    }
    for chunk in users.chunks(100) {
        e.gates
            .workspace_members_add(&e.admin, "big", chunk)
            .unwrap();
    }
    e.gates.workspace_delete(&e.admin, "big").unwrap();
    let ev = newest(&e);
    assert_eq!(ev.operation, "workspace_delete");
    assert_eq!(ev.target.kind, "workspace", "the target survives the cap");
    // The workspace, the creator's membership and 120 more.
    assert_eq!(ev.changes.len(), 100);
    assert_eq!(ev.omitted_changes, 22);
}
