//! Several instances on one store (issue 14): a commit on one appends what it changed of the
//! data-plane tables to the change log, and the others apply it when they follow the log —
//! keys created, disabled and deleted elsewhere, routing changed elsewhere. Here two handles
//! share one in-memory store and follow by hand; the PostgreSQL suite runs the same with the
//! follower threads.

use std::sync::Arc;

use modelgates::*;

fn two() -> (ModelGates, ModelGates, Caller) {
    let store: Arc<dyn Storage> = Arc::new(MemoryStore::new());
    let options = || Options {
        shared: Some(true),
        follow_every: None,
        ..Default::default()
    };
    let a = ModelGates::open_with(store.clone(), options()).unwrap();
    let b = ModelGates::open_with(store, options()).unwrap();
    let admin = a.default_caller().unwrap();
    (a, b, admin)
}

#[test]
fn keys_created_disabled_and_deleted_on_one_instance_reach_the_other() {
    let (a, b, admin) = two();
    assert!(a.is_shared() && b.is_shared());
    let created = a
        .key_create(
            &admin,
            NewKey {
                name: "gateway".into(),
                workspace: "default".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let secret = created.key.as_deref().unwrap();
    let id = created.data.id.to_string();
    assert!(a.verify_key(secret).is_ok());
    assert!(b.verify_key(secret).is_err(), "not followed yet");
    assert_eq!(b.follow_changes().unwrap(), 1);
    assert_eq!(b.verify_key(secret).unwrap().key_id, created.data.id);
    assert_eq!(b.follow_changes().unwrap(), 0, "nothing new");

    a.key_update(
        &admin,
        &id,
        KeyPatch {
            disabled: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(b.verify_key(secret).is_ok(), "not followed yet");
    b.follow_changes().unwrap();
    assert_eq!(
        b.verify_key(secret).unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );

    // B's own writes are in B's snapshot at once, and A follows them.
    b.key_update(
        &admin,
        &id,
        KeyPatch {
            disabled: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(b.verify_key(secret).is_ok());
    a.follow_changes().unwrap();
    assert!(a.verify_key(secret).is_ok());

    a.key_delete(&admin, &id).unwrap();
    b.follow_changes().unwrap();
    assert_eq!(
        b.verify_key(secret).unwrap_err().kind(),
        ErrorKind::Unauthenticated
    );
    assert!(a.check().unwrap().is_ok());
    assert!(b.check().unwrap().is_ok());
}

#[test]
fn routing_changed_on_one_instance_routes_on_the_other() {
    let (a, b, admin) = two();
    a.provider_add(
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
    a.workspace_mux_set(
        &admin,
        Some("default"),
        &[NewMuxRule {
            provider: "openai-prod".into(),
            provider_type: None,
            model: "openai/gpt-5".into(),
            matcher_type: MatcherType::CatchAll,
            matcher: None,
        }],
        None,
    )
    .unwrap();
    let ws = a.workspace_get(&admin, "default").unwrap().id;
    let route = |g: &ModelGates| {
        g.snapshot()
            .route(admin.account, ws, RequestKind::Chat, &[] as &[&str])
            .map(|r| r.model.to_string())
    };
    assert_eq!(route(&a).unwrap(), "openai/gpt-5");
    assert!(route(&b).is_err(), "not followed yet");
    b.follow_changes().unwrap();
    assert_eq!(route(&b).unwrap(), "openai/gpt-5");
    assert!(b.check().unwrap().is_ok());
}
