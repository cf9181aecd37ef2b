//! Bundles: plan output for each resource kind and change kind, apply performing exactly the
//! plan in one transaction (all or nothing, an `expected` fingerprint, conflicts with what
//! another bundle or a person made, adoption), re-apply changing nothing, removal per kind,
//! secrets only by reference, and the properties: plan(apply(b)) is empty and export → apply
//! on an empty database → export round-trips, for random configurations.

use std::collections::{BTreeMap, HashMap};

use modelgates::*;
use proptest::prelude::*;

/// Secrets from a map (the tests' environment).
struct Keys(HashMap<String, String>);

impl SecretSource for Keys {
    fn resolve(&self, field: &str, reference: &SecretRef) -> Result<Secret> {
        let name = match reference {
            SecretRef::Env(n) | SecretRef::File(n) => n,
        };
        self.0
            .get(name)
            .map(Secret::new)
            .ok_or_else(|| Error::invalid(field, format!("{name:?} is not set")))
    }
}

fn keys() -> Keys {
    Keys(HashMap::from([
        ("OPENAI".to_owned(), "sk-test-one".to_owned()),
        ("OPENAI2".to_owned(), "sk-test-two".to_owned()),
    ]))
}

fn open() -> (ModelGates, Caller) {
    let gates = ModelGates::open(MemoryStore::new()).unwrap();
    let admin = gates.default_caller().unwrap();
    (gates, admin)
}

const BASE: &str = r#"
bundle: team
providers:
  - name: openai-prod
    provider_type: openai
    api_key: {env: OPENAI}
  - name: local
    provider_type: vllm
    endpoint: http://localhost:8000/v1
personas:
  - name: reviewer
    description: Reviews pull requests for correctness and style
workspaces:
  - slug: prod
    name: Production
    description: Prod traffic
    labels: {team: core}
    custom_instructions: Be brief.
    mux_rules:
      - {provider: local, model: qwen-coder, matcher_type: fim_filename, matcher: "*.py"}
      - {provider: openai-prod, model: gpt-5, matcher_type: catch_all}
    models:
      - {provider: vllm, family: qwen-coder, max_input_tokens: 32000, max_output_tokens: 4000}
    model_status:
      openai/gpt-5-nano: MODEL_STATUS_DISABLED
"#;

fn plan(g: &ModelGates, c: &Caller, text: &str) -> BundlePlan {
    g.bundle_plan(c, &Bundle::parse(text).unwrap(), &keys(), false)
        .unwrap()
}

fn apply(g: &ModelGates, c: &Caller, text: &str) -> BundlePlan {
    g.bundle_apply(
        c,
        &Bundle::parse(text).unwrap(),
        &keys(),
        &ApplyOptions::default(),
    )
    .unwrap()
}

/// (sign, kind, name, changed fields) of each change: the table the tests compare.
fn rows(p: &BundlePlan) -> Vec<(char, &'static str, String, Vec<String>)> {
    p.changes
        .iter()
        .map(|c| {
            let sign = match c.action {
                PlanAction::Create => '+',
                PlanAction::Update => '~',
                PlanAction::Remove => '-',
            };
            (
                sign,
                c.kind.as_str(),
                c.name.clone(),
                c.fields.keys().cloned().collect(),
            )
        })
        .collect()
}

fn row(
    sign: char,
    kind: &'static str,
    name: &str,
    fields: &[&str],
) -> (char, &'static str, String, Vec<String>) {
    (
        sign,
        kind,
        name.to_owned(),
        fields.iter().map(|f| (*f).to_owned()).collect(),
    )
}

#[test]
fn a_first_plan_creates_everything_and_changes_nothing() {
    let (g, admin) = open();
    let before = g.bundle_export(&admin, "snapshot").unwrap();
    let p = plan(&g, &admin, BASE);
    assert_eq!(
        rows(&p),
        vec![
            row(
                '+',
                "provider",
                "openai-prod",
                &["api_key", "auth_type", "endpoint", "name", "provider_type"]
            ),
            row(
                '+',
                "provider",
                "local",
                &["auth_type", "endpoint", "name", "provider_type"]
            ),
            row('+', "persona", "reviewer", &["description", "name"]),
            row(
                '+',
                "workspace",
                "prod",
                &[
                    "custom_instructions",
                    "description",
                    "labels",
                    "mux_rules",
                    "name"
                ]
            ),
            row(
                '+',
                "model",
                "prod/vllm/qwen-coder",
                &[
                    "input_price_per_million_tokens",
                    "max_input_tokens",
                    "max_output_tokens",
                    "output",
                    "output_price_per_million_tokens",
                    "status",
                ]
            ),
            row('~', "model_status", "prod/openai/gpt-5-nano", &["status"]),
        ]
    );
    assert!(!p.applied && p.conflicts.is_empty());
    assert!(p.fingerprint.starts_with("sha256:"));
    // The secret is "changed", never shown.
    let json = serde_json::to_string(&p).unwrap();
    assert!(!json.contains("sk-test-one"), "{json}");
    assert!(
        p.render().contains("api_key: (secret changed)"),
        "{}",
        p.render()
    );
    // Plan changed nothing.
    assert_eq!(g.bundle_export(&admin, "snapshot").unwrap(), before);
    assert_eq!(
        g.provider_list(&admin, Page::default())
            .unwrap()
            .total_count,
        0
    );
}

#[test]
fn apply_performs_the_plan_and_a_second_apply_changes_nothing() {
    let (g, admin) = open();
    let planned = plan(&g, &admin, BASE);
    let applied = apply(&g, &admin, BASE);
    assert!(applied.applied);
    assert_eq!(applied.changes, planned.changes);
    assert_eq!(applied.fingerprint, planned.fingerprint);
    // The state is what the bundle says.
    let prod = g.workspace_get(&admin, "prod").unwrap();
    assert_eq!(prod.description.as_deref(), Some("Prod traffic"));
    let rules = g.workspace_mux_get(&admin, Some("prod")).unwrap();
    assert_eq!(rules.rules.len(), 2);
    assert_eq!(rules.rules[0].provider_name, "local");
    let route = g
        .route_resolve(
            &admin,
            Some("prod"),
            RequestKind::Fim,
            &["src/app.py".to_owned()],
        )
        .unwrap();
    assert_eq!(route.model.as_ref(), "qwen-coder");
    assert_eq!(
        g.provider_api_key(&admin, "openai-prod")
            .unwrap()
            .unwrap()
            .expose(),
        "sk-test-one"
    );
    let m = g.model_get(&admin, "prod", "vllm/qwen-coder").unwrap();
    assert_eq!(m.metadata.bundle_key.as_deref(), Some("team"));
    assert_eq!(
        g.model_get(&admin, "prod", "openai/gpt-5-nano")
            .unwrap()
            .spec
            .status,
        ModelStatus::Disabled
    );
    // Applying again changes nothing, and says so.
    let again = plan(&g, &admin, BASE);
    assert!(again.is_empty(), "{}", again.render());
    assert!(again.render().contains("nothing to do"));
    let events = g
        .audit_list(
            &admin,
            &AuditFilter {
                operation: Some("bundle_apply".into()),
                ..Default::default()
            },
        )
        .unwrap()
        .data
        .len();
    apply(&g, &admin, BASE);
    let after = g
        .audit_list(
            &admin,
            &AuditFilter {
                operation: Some("bundle_apply".into()),
                ..Default::default()
            },
        )
        .unwrap()
        .data;
    assert_eq!(after.len(), events, "an empty apply logs no change");
    // The one event of the first apply lists the resources it made.
    let kinds: Vec<&str> = after[0].changes.iter().map(|c| c.kind.as_str()).collect();
    for kind in [
        "provider",
        "persona",
        "workspace",
        "workspace_config",
        "model",
        "bundle_stamp",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
}

#[test]
fn edits_become_field_level_updates_and_dropped_resources_are_removed_per_kind() {
    let (g, admin) = open();
    apply(&g, &admin, BASE);
    g.member_add(
        &admin,
        NewMember {
            user_id: "user_bob".into(),
            email: "bob@example.com".into(),
            role: Some(OrgRole::Member),
            ..Default::default()
        },
    )
    .unwrap();
    let edited = r#"
bundle: team
providers:
  - name: openai-prod
    provider_type: openai
    description: The main account
    api_key: {env: OPENAI2}
  - name: local
    provider_type: vllm
    endpoint: http://localhost:8000/v1
workspaces:
  - slug: prod
    name: Production
    labels: {team: core, tier: gold}
    custom_instructions: Be brief.
    mux_rules:
      - {provider: openai-prod, model: gpt-5, matcher_type: catch_all}
    members: [user_bob]
    models:
      - {provider: vllm, family: qwen-coder, max_input_tokens: 64000, max_output_tokens: 4000}
  - slug: staging
    name: Staging
"#;
    let p = plan(&g, &admin, edited);
    assert_eq!(
        rows(&p),
        vec![
            row('~', "provider", "openai-prod", &["api_key", "description"]),
            row(
                '~',
                "workspace",
                "prod",
                &["description", "labels", "mux_rules"]
            ),
            row('+', "member", "prod/user_bob", &[]),
            row('~', "model", "prod/vllm/qwen-coder", &["max_input_tokens"]),
            row('+', "workspace", "staging", &["name"]),
            row('-', "persona", "reviewer", &[]),
            row('-', "model_status", "prod/openai/gpt-5-nano", &[]),
        ]
    );
    let prod = &p.changes[1];
    assert_eq!(
        prod.fields["description"].before,
        Some(serde_json::json!("Prod traffic"))
    );
    assert_eq!(prod.fields["description"].after, None);
    assert_eq!(p.changes[3].note, None, "changed in place, not replaced");
    let removal: Vec<Option<Removal>> = p.changes.iter().map(|c| c.removal).collect();
    assert_eq!(removal[5], Some(Removal::Delete));
    assert_eq!(removal[6], Some(Removal::Reset));
    apply(&g, &admin, edited);
    assert!(plan(&g, &admin, edited).is_empty());
    assert!(g.persona_get(&admin, "reviewer").is_err());
    assert_eq!(
        g.model_get(&admin, "prod", "openai/gpt-5-nano")
            .unwrap()
            .spec
            .status,
        ModelStatus::Enabled
    );
    assert_eq!(
        g.provider_api_key(&admin, "openai-prod")
            .unwrap()
            .unwrap()
            .expose(),
        "sk-test-two"
    );

    // Dropping a workspace archives it; dropping a provider deletes it; a member the bundle
    // added is removed, one added by hand stays.
    let smaller = r#"
bundle: team
providers:
  - name: openai-prod
    provider_type: openai
    description: The main account
    api_key: {env: OPENAI2}
workspaces:
  - slug: prod
    name: Production
    labels: {team: core, tier: gold}
    custom_instructions: Be brief.
    mux_rules:
      - {provider: openai-prod, model: gpt-5, matcher_type: catch_all}
"#;
    let p = plan(&g, &admin, smaller);
    assert_eq!(
        rows(&p),
        vec![
            row('-', "provider", "local", &[]),
            row('-', "member", "prod/user_bob", &[]),
            row('-', "model", "prod/vllm/qwen-coder", &[]),
            row('-', "workspace", "staging", &[]),
        ]
    );
    assert_eq!(p.changes[3].removal, Some(Removal::Archive));
    apply(&g, &admin, smaller);
    assert!(plan(&g, &admin, smaller).is_empty());
    assert!(
        g.workspace_get(&admin, "staging")
            .unwrap()
            .archived_at
            .is_some()
    );
    assert!(g.provider_get(&admin, "local").is_err());
    // Declaring the workspace again restores it.
    let back = format!("{smaller}  - slug: staging\n    name: Staging\n");
    let p = plan(&g, &admin, &back);
    assert_eq!(
        rows(&p),
        vec![row('~', "workspace", "staging", &["archived"])]
    );
    apply(&g, &admin, &back);
    assert!(
        g.workspace_get(&admin, "staging")
            .unwrap()
            .archived_at
            .is_none()
    );
}

#[test]
fn what_a_person_or_another_bundle_made_is_a_conflict_until_adopted() {
    let (g, admin) = open();
    g.workspace_create(
        &admin,
        NewWorkspace {
            name: "By hand".into(),
            slug: "prod".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let text = "bundle: team\nworkspaces:\n  - {slug: prod, name: Production}\n";
    let p = plan(&g, &admin, text);
    assert_eq!(p.changes, vec![]);
    assert_eq!(
        p.conflicts,
        vec![BundleConflict {
            kind: BundleKind::Workspace,
            name: "prod".into(),
            owner: None
        }]
    );
    assert!(
        p.render()
            .contains("! workspace prod is created outside any bundle")
    );
    let err = g
        .bundle_apply(
            &admin,
            &Bundle::parse(text).unwrap(),
            &keys(),
            &ApplyOptions::default(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(
        err.to_string()
            .contains("workspace prod is created outside any bundle"),
        "{err}"
    );
    assert_eq!(g.workspace_get(&admin, "prod").unwrap().name, "By hand");
    // Adopted: an update that stamps it.
    let adopting = g
        .bundle_plan(&admin, &Bundle::parse(text).unwrap(), &keys(), true)
        .unwrap();
    assert_eq!(
        rows(&adopting),
        vec![row('~', "workspace", "prod", &["name"])]
    );
    assert!(
        adopting.changes[0]
            .note
            .as_deref()
            .unwrap()
            .contains("adopted")
    );
    let options = ApplyOptions {
        adopt: true,
        expected: Some(adopting.fingerprint.clone()),
    };
    g.bundle_apply(&admin, &Bundle::parse(text).unwrap(), &keys(), &options)
        .unwrap();
    assert!(plan(&g, &admin, text).is_empty());
    // Another bundle declaring it sees it as team's.
    let other = "bundle: other\nworkspaces:\n  - {slug: prod, name: Production}\n";
    let p = plan(&g, &admin, other);
    assert_eq!(p.conflicts[0].owner.as_deref(), Some("team"));
}

#[test]
fn an_expected_fingerprint_refuses_an_apply_whose_plan_changed() {
    let (g, admin) = open();
    let bundle = Bundle::parse(BASE).unwrap();
    let reviewed = g.bundle_plan(&admin, &bundle, &keys(), false).unwrap();
    // Somebody takes the persona's name meanwhile.
    g.persona_create(&admin, "reviewer", "Someone else's reviewer persona text")
        .unwrap();
    let options = ApplyOptions {
        expected: Some(reviewed.fingerprint.clone()),
        adopt: false,
    };
    let err = g
        .bundle_apply(&admin, &bundle, &keys(), &options)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.to_string().contains(&reviewed.fingerprint), "{err}");
    assert_eq!(
        g.provider_list(&admin, Page::default())
            .unwrap()
            .total_count,
        0
    );
}

#[test]
fn a_failing_step_fails_plan_and_apply_by_bundle_path_and_changes_nothing() {
    let (g, admin) = open();
    apply(&g, &admin, BASE);
    let before = g.bundle_export(&admin, "snapshot").unwrap();
    let audit_before = g
        .audit_list(&admin, &AuditFilter::default())
        .unwrap()
        .data
        .len();
    // Everything valid up to the second workspace's rule, whose model does not exist.
    let broken = format!(
        "{BASE}  - slug: other\n    name: Other\n    mux_rules:\n      - {{provider: openai-prod, model: no-such-model, matcher_type: catch_all}}\n"
    );
    let bundle = Bundle::parse(&broken).unwrap();
    let err = g.bundle_plan(&admin, &bundle, &keys(), false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(
        err.to_string().contains("workspaces[1].mux_rules[0]"),
        "{err}"
    );
    let err = g
        .bundle_apply(&admin, &bundle, &keys(), &ApplyOptions::default())
        .unwrap_err();
    assert!(
        err.to_string().contains("workspaces[1].mux_rules[0]"),
        "{err}"
    );
    assert_eq!(g.bundle_export(&admin, "snapshot").unwrap(), before);
    assert!(g.workspace_get(&admin, "other").is_err());
    assert_eq!(
        g.audit_list(&admin, &AuditFilter::default())
            .unwrap()
            .data
            .len(),
        audit_before
    );
}

#[test]
fn bad_bundle_files_are_refused_by_place() {
    let err = Bundle::parse("bundle: team\nworkspaces:\n  - {slug: a, name: A, colour: red}\n")
        .unwrap_err();
    assert!(err.to_string().contains("line 3"), "{err}");
    assert!(err.to_string().contains("colour"), "{err}");
    let err = Bundle::parse("bundle: Team!\n").unwrap_err();
    assert!(err.to_string().contains("invalid bundle"), "{err}");
    let err =
        Bundle::parse("bundle: t\nworkspaces:\n  - {slug: a, name: A}\n  - {slug: a, name: B}\n")
            .unwrap_err();
    assert!(err.to_string().contains("workspaces[1].slug"), "{err}");
    assert!(
        err.to_string().contains("first at workspaces[0].slug"),
        "{err}"
    );
    // JSON is YAML.
    let b = Bundle::parse(r#"{"bundle": "t", "personas": [{"name": "x", "description": "y"}]}"#)
        .unwrap();
    assert_eq!(b.personas.len(), 1);
    // A secret reference that does not resolve names its place.
    let (g, admin) = open();
    let b = Bundle::parse(
        "bundle: t\nproviders:\n  - {name: p1x, provider_type: openai, api_key: {env: MISSING}}\n",
    )
    .unwrap();
    let err = g.bundle_plan(&admin, &b, &keys(), false).unwrap_err();
    assert!(err.to_string().contains("providers[0].api_key"), "{err}");
    // Servers read only prefixed variables and no files.
    let server = EnvSecrets {
        files: false,
        env_prefix: Some("MODELGATES_".into()),
    };
    let err = server
        .resolve("providers[0].api_key", &SecretRef::Env("HOME".into()))
        .unwrap_err();
    assert!(
        err.to_string().contains("providers[0].api_key.env"),
        "{err}"
    );
    let err = server
        .resolve(
            "providers[0].api_key",
            &SecretRef::File("/etc/passwd".into()),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("only by the command line"),
        "{err}"
    );
}

#[test]
fn only_org_admins_plan_apply_or_export() {
    let (g, admin) = open();
    g.member_add(
        &admin,
        NewMember {
            user_id: "user_m".into(),
            email: "m@example.com".into(),
            role: Some(OrgRole::Member),
            ..Default::default()
        },
    )
    .unwrap();
    let member = Caller::new(
        admin.account,
        UserId::parse_field("user_m", "user_id").unwrap(),
    );
    let b = Bundle::parse(BASE).unwrap();
    for err in [
        g.bundle_plan(&member, &b, &keys(), false).unwrap_err(),
        g.bundle_apply(&member, &b, &keys(), &ApplyOptions::default())
            .unwrap_err(),
        g.bundle_export(&member, "x").unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    }
}

// ---- properties ----

fn arb_workspace(i: usize) -> impl Strategy<Value = BundleWorkspace> {
    (
        "[A-Z][a-z]{2,8}",
        proptest::option::of("[a-z ]{1,20}"),
        proptest::option::of(1u32..400),
        any::<bool>(),
        proptest::collection::btree_map("[a-z]{1,5}", "[a-z0-9]{1,5}", 0..3),
        proptest::option::of("[A-Za-z .]{1,40}"),
        proptest::collection::vec(
            (
                0usize..2,
                prop_oneof![Just("gpt-5"), Just("gpt-5-mini")],
                proptest::option::of("\\*\\.[a-z]{1,3}"),
            ),
            0..3,
        ),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            move |(
                name,
                description,
                retention,
                broadcast,
                labels,
                instructions,
                rules,
                custom,
                disable,
            )| {
                let mut w = BundleWorkspace::new(format!("ws-{i}"), name);
                w.description = description;
                w.usage_retention_days = retention;
                w.is_observability_broadcast_enabled = broadcast;
                w.labels = labels;
                w.custom_instructions = instructions;
                w.mux_rules = rules
                    .into_iter()
                    .map(|(p, model, glob)| BundleRule {
                        provider: ["prov-a", "prov-b"][p].to_owned(),
                        model: model.to_owned(),
                        matcher_type: if glob.is_some() {
                            MatcherType::FilenameMatch
                        } else {
                            MatcherType::CatchAll
                        },
                        matcher: glob,
                    })
                    .collect();
                // At most one catch-all, last (later rules would be unreachable, which is fine
                // but keeps the configurations realistic).
                w.mux_rules.sort_by_key(|r| r.matcher.is_none());
                w.mux_rules
                    .dedup_by(|a, b| a.matcher.is_none() && b.matcher.is_none());
                if custom {
                    w.models.push(BundleModel {
                        provider: "vllm".into(),
                        family: format!("fam-{i}"),
                        input_price_per_million_tokens: "12".into(),
                        output_price_per_million_tokens: "0".into(),
                        max_input_tokens: 1000,
                        max_output_tokens: 100,
                        labels: BTreeMap::new(),
                        external_id: None,
                        status: ModelStatus::Enabled,
                        output: Default::default(),
                        output_price_per_image: None,
                    });
                }
                if disable {
                    w.model_status
                        .insert("openai/gpt-5-nano".into(), ModelStatus::Disabled);
                }
                w
            },
        )
}

fn arb_bundle() -> impl Strategy<Value = Bundle> {
    (
        proptest::collection::vec(arb_workspace(0), 0..1),
        proptest::collection::vec(arb_workspace(1), 0..1),
        proptest::collection::vec(arb_workspace(2), 0..1),
        any::<bool>(),
        proptest::option::of("[a-z ]{10,30}"),
    )
        .prop_map(|(a, b, c, key, persona)| Bundle {
            bundle: "prop".into(),
            providers: vec![
                BundleProvider {
                    name: "prov-a".into(),
                    description: String::new(),
                    provider_type: ProviderType::Openai,
                    endpoint: None,
                    auth_type: None,
                    api_key: key.then(|| SecretRef::Env("OPENAI".into())),
                },
                BundleProvider {
                    name: "prov-b".into(),
                    description: "second".into(),
                    provider_type: ProviderType::Openai,
                    endpoint: Some("https://example.com/v1".into()),
                    auth_type: Some(AuthType::Passthrough),
                    api_key: None,
                },
            ],
            personas: persona
                .map(|d| BundlePersona {
                    name: "helper".into(),
                    description: d,
                })
                .into_iter()
                .collect(),
            workspaces: a.into_iter().chain(b).chain(c).collect(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// plan(apply(b)) is empty; a second bundle applied over the first reaches its own fixed
    /// point; and the export of the result, applied to an empty database (adopting the default
    /// workspace it has), reproduces it with an empty second plan.
    #[test]
    fn plan_after_apply_is_empty_and_export_round_trips(first in arb_bundle(), second in arb_bundle()) {
        let (g, admin) = open();
        g.bundle_apply(&admin, &first, &keys(), &ApplyOptions::default()).unwrap();
        let p = g.bundle_plan(&admin, &first, &keys(), false).unwrap();
        prop_assert!(p.is_empty(), "{}", p.render());
        g.bundle_apply(&admin, &second, &keys(), &ApplyOptions::default()).unwrap();
        let p = g.bundle_plan(&admin, &second, &keys(), false).unwrap();
        prop_assert!(p.is_empty(), "{}", p.render());
        g.check().unwrap();

        let exported = g.bundle_export(&admin, "copy").unwrap();
        let text = exported.to_yaml();
        let reread = Bundle::parse(&text).unwrap();
        prop_assert_eq!(&reread, &exported);
        let env = Keys(HashMap::from([(provider_key_env("prov-a"), "sk-test-one".to_owned())]));
        let (g2, admin2) = open();
        let adopt = ApplyOptions { adopt: true, expected: None };
        g2.bundle_apply(&admin2, &reread, &env, &adopt).unwrap();
        let p = g2.bundle_plan(&admin2, &reread, &env, false).unwrap();
        prop_assert!(p.is_empty(), "{}", p.render());
        prop_assert_eq!(g2.bundle_export(&admin2, "copy").unwrap(), exported);
    }
}

/// Applies `text`, then checks the next plan is empty.
fn converges(g: &ModelGates, c: &Caller, text: &str) -> BundlePlan {
    let applied = apply(g, c, text);
    let next = plan(g, c, text);
    assert!(next.is_empty(), "{}\n---\n{}", text, next.render());
    applied
}

#[test]
fn what_is_declared_the_way_it_is_stored_converges() {
    let (g, admin) = open();
    // A trailing slash on an endpoint, a rule naming its provider in another case, an empty
    // catch-all matcher: stored normalised, and the next plan is still empty.
    converges(
        &g,
        &admin,
        "bundle: t\nproviders:\n  - {name: Local-Vllm, provider_type: vllm, endpoint: 'http://localhost:8000/v1/'}\n\
         workspaces:\n  - slug: a\n    name: A\n    models:\n      - {provider: vllm, family: qwen, max_input_tokens: 1000, max_output_tokens: 100}\n\
         \x20   mux_rules:\n      - {provider: local-vllm, model: qwen, matcher_type: catch_all, matcher: ''}\n",
    );
}

#[test]
fn a_routed_custom_model_changes_in_place_and_models_are_enabled_before_use() {
    let (g, admin) = open();
    let v1 = "bundle: t\nproviders:\n  - {name: local, provider_type: vllm, endpoint: 'http://localhost:8000/v1'}\n\
              workspaces:\n  - slug: a\n    name: A\n    default_text_model: vllm/qwen\n    models:\n\
              \x20     - {provider: vllm, family: qwen, max_input_tokens: 1000, max_output_tokens: 100}\n\
              \x20     - {provider: vllm, family: coder, max_input_tokens: 1000, max_output_tokens: 100, status: MODEL_STATUS_DISABLED}\n\
              \x20   mux_rules:\n      - {provider: local, model: qwen, matcher_type: catch_all}\n\
              \x20   model_status: {openai/gpt-5-nano: MODEL_STATUS_DISABLED}\n";
    converges(&g, &admin, v1);
    let id = g.model_get(&admin, "a", "vllm/qwen").unwrap().metadata.id;
    // qwen's limits change while a rule and the default name it; coder and gpt-5-nano are
    // enabled and named by a rule in the same apply.
    let v2 = "bundle: t\nproviders:\n  - {name: local, provider_type: vllm, endpoint: 'http://localhost:8000/v1'}\n\
              workspaces:\n  - slug: a\n    name: A\n    default_text_model: vllm/qwen\n    models:\n\
              \x20     - {provider: vllm, family: qwen, max_input_tokens: 64000, max_output_tokens: 100}\n\
              \x20     - {provider: vllm, family: coder, max_input_tokens: 1000, max_output_tokens: 100}\n\
              \x20   mux_rules:\n      - {provider: local, model: coder, matcher_type: fim_filename, matcher: '*.rs'}\n\
              \x20     - {provider: local, model: qwen, matcher_type: catch_all}\n";
    let p = converges(&g, &admin, v2);
    assert!(
        p.changes
            .iter()
            .any(|c| c.name == "a/openai/gpt-5-nano" && c.removal == Some(Removal::Reset))
    );
    let m = g.model_get(&admin, "a", "vllm/qwen").unwrap();
    assert_eq!(
        (m.metadata.id, m.spec.max_input_tokens),
        (id, 64000),
        "same model, new limit"
    );
    // Disabling a model a rule still names is refused by the plan, by place.
    let v3 = v2.replace("family: qwen, max_input_tokens: 64000, max_output_tokens: 100}", "family: qwen, max_input_tokens: 64000, max_output_tokens: 100, status: MODEL_STATUS_DISABLED}");
    let err = g
        .bundle_plan(&admin, &Bundle::parse(&v3).unwrap(), &keys(), false)
        .unwrap_err();
    assert!(err.to_string().contains("workspaces[0].models[0]"), "{err}");
    // A status for a model outside the catalog is refused by place.
    let bad = format!("{v2}    model_status: {{vllm/other: MODEL_STATUS_DISABLED}}\n");
    let err = g
        .bundle_plan(&admin, &Bundle::parse(&bad).unwrap(), &keys(), false)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("workspaces[0].model_status.vllm/other"),
        "{err}"
    );
}

#[test]
fn dropping_a_provider_with_the_workspace_that_used_it_works_and_removals_are_stable() {
    let (g, admin) = open();
    let v1 = "bundle: t\nproviders:\n  - {name: local, provider_type: vllm, endpoint: 'http://localhost:8000/v1'}\n\
              personas:\n  - {name: one, description: The first persona of the bundle}\n\
              \x20 - {name: two, description: Another persona with other words}\n\
              \x20 - {name: three, description: Yet a third and rather different text}\n\
              workspaces:\n  - slug: a\n    name: A\n    models:\n      - {provider: vllm, family: qwen, max_input_tokens: 1000, max_output_tokens: 100}\n\
              \x20   mux_rules:\n      - {provider: local, model: qwen, matcher_type: catch_all}\n\
              \x20 - slug: b\n    name: B\n";
    converges(&g, &admin, v1);
    // The same persona renamed: its description is not a near-duplicate of itself.
    let v2 = "bundle: t\npersonas:\n  - {name: uno, description: The first persona of the bundle}\n\
              workspaces:\n  - slug: b\n    name: B\n";
    let planned = plan(&g, &admin, v2);
    // Several removals of one kind: the plan (and its fingerprint) is the same every time.
    for _ in 0..5 {
        assert_eq!(plan(&g, &admin, v2).fingerprint, planned.fingerprint);
    }
    let options = ApplyOptions {
        expected: Some(planned.fingerprint.clone()),
        adopt: false,
    };
    g.bundle_apply(&admin, &Bundle::parse(v2).unwrap(), &keys(), &options)
        .unwrap();
    assert!(plan(&g, &admin, v2).is_empty());
    assert!(
        g.provider_get(&admin, "local").is_err(),
        "deleted with the archived workspace's rule"
    );
    assert!(g.workspace_get(&admin, "a").unwrap().archived_at.is_some());
    assert!(g.persona_get(&admin, "uno").is_ok() && g.persona_get(&admin, "one").is_err());
    // The active workspace is released, not archived.
    g.workspace_activate(&admin, "b").unwrap();
    let v3 = "bundle: t\n";
    let p = plan(&g, &admin, v3);
    let b = p.changes.iter().find(|c| c.name == "b").unwrap();
    assert_eq!(b.removal, Some(Removal::Release), "{}", p.render());
    converges(&g, &admin, v3);
    assert!(g.workspace_get(&admin, "b").unwrap().archived_at.is_none());
}

#[test]
fn servers_read_only_provider_variables_and_only_for_admins() {
    let (g, admin) = open();
    let b = Bundle::parse("bundle: t\nproviders:\n  - {name: leak, provider_type: openai, endpoint: 'https://example.com/v1', api_key: {env: MODELGATES_DB}}\n").unwrap();
    let err = g
        .bundle_plan(&admin, &b, &EnvSecrets::for_servers(), false)
        .unwrap_err();
    assert!(err.to_string().contains("MODELGATES_PROVIDER_"), "{err}");
    g.member_add(
        &admin,
        NewMember {
            user_id: "user_m".into(),
            email: "m@example.com".into(),
            role: Some(OrgRole::Member),
            ..Default::default()
        },
    )
    .unwrap();
    let member = Caller::new(
        admin.account,
        UserId::parse_field("user_m", "user_id").unwrap(),
    );
    let probe = Bundle::parse("bundle: t\nproviders:\n  - {name: p-x, provider_type: openai, api_key: {env: MODELGATES_PROVIDER_NOT_SET}}\n").unwrap();
    let err = g
        .bundle_plan(&member, &probe, &EnvSecrets::for_servers(), false)
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::PermissionDenied,
        "a member learns nothing of the environment: {err}"
    );
    // An object bundle's decoding error names its path.
    let err = Bundle::from_value(
        serde_json::json!({"bundle": "t", "workspaces": [{"slug": "a", "name": 5}]}),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("bundle.workspaces[0].name"),
        "{err}"
    );
}

#[test]
fn a_key_changed_after_the_review_and_hand_made_lookalikes_are_not_the_bundles() {
    let (g, admin) = open();
    let text =
        "bundle: t\nproviders:\n  - {name: p-one, provider_type: openai, api_key: {env: OPENAI}}\n";
    let reviewed = plan(&g, &admin, text);
    // The environment's key changes between the review and the apply: refused.
    let options = ApplyOptions {
        expected: Some(reviewed.fingerprint.clone()),
        adopt: false,
    };
    let changed = Keys(HashMap::from([(
        "OPENAI".to_owned(),
        "sk-test-changed".to_owned(),
    )]));
    let err = g
        .bundle_apply(&admin, &Bundle::parse(text).unwrap(), &changed, &options)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    g.bundle_apply(&admin, &Bundle::parse(text).unwrap(), &keys(), &options)
        .unwrap();

    // A membership the bundle added, removed and re-added by hand, is not the bundle's: a
    // bundle that stops declaring it leaves it.
    g.member_add(
        &admin,
        NewMember {
            user_id: "user_bob".into(),
            email: "bob@example.com".into(),
            role: Some(OrgRole::Member),
            ..Default::default()
        },
    )
    .unwrap();
    let with_bob = "bundle: t\nworkspaces:\n  - {slug: a, name: A, members: [user_bob]}\n";
    apply(&g, &admin, with_bob);
    g.workspace_members_remove(&admin, "a", &["user_bob".to_owned()])
        .unwrap();
    g.workspace_members_add(&admin, "a", &["user_bob".to_owned()])
        .unwrap();
    let without = "bundle: t\nworkspaces:\n  - {slug: a, name: A}\n";
    let p = plan(&g, &admin, without);
    assert!(p.is_empty(), "{}", p.render());
    // The same for a custom model deleted and registered again by hand: a conflict.
    let with_model = "bundle: t\nworkspaces:\n  - slug: a\n    name: A\n    models:\n      - {provider: vllm, family: q, max_input_tokens: 10, max_output_tokens: 10}\n";
    apply(&g, &admin, with_model);
    g.model_delete(&admin, "a", "vllm/q").unwrap();
    g.model_register(
        &admin,
        "a",
        NewModel {
            provider: "vllm".into(),
            family: "q".into(),
            max_input_tokens: 10,
            max_output_tokens: 10,
            ..Default::default()
        },
    )
    .unwrap();
    let p = plan(&g, &admin, with_model);
    assert_eq!(p.conflicts.len(), 1, "{}", p.render());
    assert_eq!(p.conflicts[0].kind, BundleKind::Model);
}
