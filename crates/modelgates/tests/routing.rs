//! Contracts of providers, mux rules, the routing engine, workspace lifecycle and personas
//! (seed 004, issue 4).

use modelgates::*;
use proptest::prelude::*;

fn setup() -> (ModelGates, Caller) {
    let gates = ModelGates::open(MemoryStore::new()).unwrap();
    let admin = gates.default_caller().unwrap();
    gates
        .workspace_create(
            &admin,
            NewWorkspace {
                name: "P".into(),
                slug: "p".into(),
                ..Default::default()
            },
        )
        .unwrap();
    for (name, ty) in [
        ("openai-prod", ProviderType::Openai),
        ("anthropic-prod", ProviderType::Anthropic),
        ("router", ProviderType::Openrouter),
    ] {
        gates
            .provider_add(
                &admin,
                NewProvider {
                    name: name.into(),
                    description: None,
                    provider_type: ty,
                    endpoint: None,
                    auth_type: None,
                    api_key: Some(Secret::new(format!("sk-test-{name}"))),
                },
            )
            .unwrap();
    }
    (gates, admin)
}

fn rule(provider: &str, model: &str, ty: MatcherType, matcher: Option<&str>) -> NewMuxRule {
    NewMuxRule {
        provider: provider.into(),
        provider_type: None,
        model: model.into(),
        matcher_type: ty,
        matcher: matcher.map(Into::into),
    }
}

fn ws_id(g: &ModelGates, c: &Caller, slug: &str) -> WorkspaceId {
    g.workspace_get(c, slug).unwrap().id
}

use MatcherType::*;
use RequestKind::*;

/// The table of matcher semantics: (rules, request kind, files) → expected rule index.
#[test]
fn matcher_semantics_table() {
    let (g, c) = setup();
    let rules = vec![
        rule("openai-prod", "gpt-5", FimFilename, Some("*.py")), // 0
        rule(
            "anthropic-prod",
            "claude-sonnet-4.6",
            ChatFilename,
            Some("*.py"),
        ), // 1
        rule(
            "openai-prod",
            "gpt-5-mini",
            FilenameMatch,
            Some("src/**/*.rs"),
        ), // 2
        rule("openai-prod", "gpt-5-nano", FilenameMatch, Some("*.rs")), // 3
        rule(
            "router",
            "anthropic/claude-opus-4.6",
            FilenameMatch,
            Some("Makefile"),
        ), // 4
        rule("openai-prod", "gpt-4.1", FilenameMatch, Some("docs/*.md")), // 5
        rule("anthropic-prod", "claude-haiku-4.5", CatchAll, None), // 6
    ];
    g.workspace_mux_set(&c, Some("p"), &rules, None).unwrap();
    let ws = ws_id(&g, &c, "p");
    let cases: &[(RequestKind, &[&str], usize)] = &[
        // Kind decides between the fim and chat rules for the same glob.
        (Fim, &["app/main.py"], 0),
        (Chat, &["app/main.py"], 1),
        // A pattern with '/' matches the whole path; `**` spans directories, and zero of them.
        (Chat, &["src/a/b/lib.rs"], 2),
        (Chat, &["src/lib.rs"], 2),
        // ...and does not match elsewhere: the base-name rule 3 catches it.
        (Chat, &["other/src/lib.rs"], 3),
        // A pattern without '/' matches the base name at any depth.
        (Fim, &["deep/dir/tree/x.rs"], 3),
        (Chat, &["build/Makefile"], 4),
        // `*` does not cross '/'.
        (Chat, &["docs/guide/intro.md"], 6),
        (Chat, &["docs/intro.md"], 5),
        // Case-sensitive.
        (Chat, &["APP/MAIN.PY"], 6),
        (Chat, &["makefile"], 6),
        // Several files: the first matching rule wins, whatever the file order.
        (Chat, &["README.txt", "x.rs", "y.py"], 1),
        (Fim, &["x.rs", "y.py"], 0),
        // Windows separators and ./ prefixes are normalized.
        (Chat, &["src\\net\\tcp.rs"], 2),
        (Chat, &["./src/lib.rs"], 2),
        // No files: only catch_all can match.
        (Fim, &[], 6),
    ];
    for (kind, files, want) in cases {
        let route = g.snapshot().route(c.account, ws, *kind, files).unwrap();
        assert_eq!(
            route.rule_index,
            Some(*want),
            "{kind:?} {files:?} → {route:?}"
        );
        assert_eq!(route.source, RouteSource::Rule);
        assert_eq!(route.model.as_ref(), rules[*want].model);
    }
    let route = g
        .route_resolve(&c, Some("p"), Fim, &["a/b.py".into()])
        .unwrap();
    assert_eq!(route.provider.name, "openai-prod");
    assert_eq!(route.provider.endpoint, "https://api.openai.com/v1");
    assert_eq!(route.provider.auth_type, AuthType::ApiKey);
    assert!(route.provider.has_api_key);
    assert_eq!(route.model_ref.as_ref(), "openai/gpt-5");
    assert!(!route.custom_instructions);
}

#[test]
fn no_match_falls_back_to_the_default_text_model_or_fails_listing_the_rules() {
    let (g, c) = setup();
    let rules = [rule("openai-prod", "gpt-5", FimFilename, Some("*.py"))];
    g.workspace_mux_set(&c, Some("p"), &rules, None).unwrap();
    let ws = ws_id(&g, &c, "p");
    let err = g
        .snapshot()
        .route(c.account, ws, Chat, &["x.py"])
        .unwrap_err();
    assert_eq!(
        err.reason().map(modelgates::Reason::as_str),
        Some("NO_ROUTE")
    );
    let msg = err.to_string();
    assert!(msg.contains("#0 fim_filename \"*.py\""), "{msg}");
    assert!(msg.contains("no default_text_model"), "{msg}");

    // A default model whose provider has no endpoint still fails, saying so.
    let patch = WorkspacePatch {
        default_text_model: Patch::Set("google/gemini-2.5-pro".into()),
        ..Default::default()
    };
    g.workspace_update(&c, "p", patch).unwrap();
    let err = g
        .snapshot()
        .route(c.account, ws, Chat, &["x.py"])
        .unwrap_err();
    assert!(err.to_string().contains("\"google\""), "{err}");

    // Served by a provider of that type: the fallback answers.
    let patch = WorkspacePatch {
        default_text_model: Patch::Set("anthropic/claude-sonnet-4.6".into()),
        ..Default::default()
    };
    g.workspace_update(&c, "p", patch).unwrap();
    let route = g.snapshot().route(c.account, ws, Chat, &["x.py"]).unwrap();
    assert_eq!(route.source, RouteSource::DefaultTextModel);
    assert_eq!(route.rule_index, None);
    assert_eq!(route.provider.name, "anthropic-prod");
    assert_eq!(route.model.as_ref(), "claude-sonnet-4.6");
}

/// A glob of 16 alternatives, the most one may have.
const SIXTEEN: &str = "*.{a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p}";

#[test]
fn a_rule_set_may_expand_to_512_glob_alternatives_in_all() {
    let (g, c) = setup();
    let max: Vec<NewMuxRule> = (0..32)
        .map(|_| rule("openai-prod", "gpt-5", FilenameMatch, Some(SIXTEEN)))
        .chain((0..400).map(|_| rule("openai-prod", "gpt-5", FilenameMatch, Some("*.py"))))
        .collect();
    let err = g.workspace_mux_set(&c, Some("p"), &max, None).unwrap_err();
    assert_eq!(err.field(), Some("rules[32].matcher"), "{err}");
    assert!(err.to_string().contains("513 alternatives"), "{err}");
    g.workspace_mux_set(&c, Some("p"), &max[..32], None)
        .unwrap();
    let ws = ws_id(&g, &c, "p");
    let route = g.snapshot().route(c.account, ws, Chat, &["x.p"]).unwrap();
    assert_eq!(route.rule_index, Some(0));
}

#[test]
fn an_invalid_rule_list_changes_nothing_in_the_store_or_the_snapshot() {
    let (g, c) = setup();
    let good = [rule("openai-prod", "gpt-5", CatchAll, None)];
    let before = g.workspace_mux_set(&c, Some("p"), &good, None).unwrap();
    let ws = ws_id(&g, &c, "p");
    let bad_lists: Vec<(Vec<NewMuxRule>, &str)> = vec![
        (
            vec![rule("nope", "gpt-5", CatchAll, None)],
            "rules[0].provider",
        ),
        (
            vec![rule("openai-prod", "not-a-model", CatchAll, None)],
            "rules[0].model",
        ),
        (
            vec![
                rule("openai-prod", "gpt-5", FilenameMatch, Some("*.py")),
                rule("openai-prod", "gpt-5", FilenameMatch, Some("[unclosed")),
            ],
            "rules[1].matcher",
        ),
        (
            vec![rule("openai-prod", "gpt-5", CatchAll, Some("*.py"))],
            "rules[0].matcher",
        ),
        (
            vec![rule("openai-prod", "gpt-5", FimFilename, None)],
            "rules[0].matcher",
        ),
        // 32 globs of 16 alternatives reach the rule set's 512; one more is refused, naming it.
        (
            (0..33)
                .map(|_| rule("openai-prod", "gpt-5", FilenameMatch, Some(SIXTEEN)))
                .collect(),
            "rules[32].matcher",
        ),
    ];
    for (rules, field) in bad_lists {
        let err = g
            .workspace_mux_set(&c, Some("p"), &rules, None)
            .unwrap_err();
        assert_eq!(err.field(), Some(field), "{err}");
        let now = g.workspace_mux_get(&c, Some("p")).unwrap();
        assert_eq!(now, before);
        let route = g.snapshot().route(c.account, ws, Chat, &["a.py"]).unwrap();
        assert_eq!(route.model.as_ref(), "gpt-5");
        assert_eq!(route.rule_index, Some(0));
    }
    // A disabled model is refused too.
    g.model_set_status(&c, "p", "openai/gpt-4.1", ModelStatus::Disabled)
        .unwrap();
    let err = g
        .workspace_mux_set(
            &c,
            Some("p"),
            &[rule("openai-prod", "gpt-4.1", CatchAll, None)],
            None,
        )
        .unwrap_err();
    assert_eq!(
        err.reason().map(modelgates::Reason::as_str),
        Some("MODEL_DISABLED")
    );
    assert_eq!(g.workspace_mux_get(&c, Some("p")).unwrap(), before);
}

#[test]
fn unreachable_rules_are_a_warning_and_revisions_guard_concurrent_edits() {
    let (g, c) = setup();
    let rules = [
        rule("openai-prod", "gpt-5", CatchAll, None),
        rule("openai-prod", "gpt-5-mini", FilenameMatch, Some("*.rs")),
    ];
    let set = g.workspace_mux_set(&c, Some("p"), &rules, None).unwrap();
    assert_eq!(set.revision, 1);
    assert_eq!(set.warnings.len(), 1, "{:?}", set.warnings);
    assert!(set.warnings[0].contains("never match"));
    let err = g
        .workspace_mux_set(&c, Some("p"), &rules[..1], Some(0))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.field(), Some("expected_revision"));
    let set = g
        .workspace_mux_set(&c, Some("p"), &rules[..1], Some(1))
        .unwrap();
    assert_eq!(set.revision, 2);
    assert!(set.warnings.is_empty());
}

/// A rule whose requests an earlier rule always takes is reported with the rules that take
/// them; a check answers what a set would store and writes nothing.
#[test]
fn shadowed_rules_are_reported_and_a_check_writes_nothing() {
    let (g, c) = setup();
    let rules = [
        rule("openai-prod", "gpt-5", ChatFilename, Some("*.py")),
        rule("openai-prod", "gpt-5", FimFilename, Some("*")),
        rule("openai-prod", "gpt-5-mini", FilenameMatch, Some("*.py")),
        rule("openai-prod", "gpt-5-mini", FilenameMatch, Some("*.rs")),
        rule("openai-prod", "gpt-5-mini", ChatFilename, Some("*.rs")),
        rule("openai-prod", "gpt-5-mini", FimFilename, Some("src/*.rs")),
        rule("openai-prod", "gpt-5", CatchAll, None),
        rule("openai-prod", "gpt-5-mini", FilenameMatch, Some("*.md")),
    ];
    let checked = g.workspace_mux_check(&c, Some("p"), &rules).unwrap();
    assert_eq!(checked.revision, 0, "a check stores nothing");
    assert!(g.workspace_mux_get(&c, Some("p")).unwrap().rules.is_empty());
    let unreachable: Vec<(usize, Vec<usize>)> = checked
        .unreachable_rules
        .iter()
        .map(|u| (u.index, u.shadowed_by.clone()))
        .collect();
    assert_eq!(
        unreachable,
        [(2, vec![0, 1]), (4, vec![3]), (5, vec![1]), (7, vec![6])]
    );
    assert_eq!(checked.warnings.len(), 4, "{:?}", checked.warnings);
    assert_eq!(
        checked.warnings[0],
        "rules[2] (filename_match \"*.py\") can never match: rules[0] (chat_filename \"*.py\") \
         and rules[1] (fim_filename \"*\") match every file it matches first"
    );
    assert_eq!(
        checked.warnings[3],
        "rules[7..=7] come after the catch_all rule rules[6] and can never match"
    );
    let set = g.workspace_mux_set(&c, Some("p"), &rules, Some(0)).unwrap();
    assert_eq!(set.rules, checked.rules);
    assert_eq!(set.unreachable_rules, checked.unreachable_rules);
    for (kind, file, want) in [
        (Chat, "a.py", 0),
        (Fim, "a.py", 1),
        (Chat, "src/a.rs", 3),
        (Fim, "src/a.rs", 1),
        (Chat, "a.md", 6),
    ] {
        let route = g
            .route_resolve(&c, Some("p"), kind, &[file.to_owned()])
            .unwrap();
        assert_eq!(route.rule_index, Some(want), "{kind:?} {file}");
    }

    // A check fails as the set would, naming the field, and needs the same access.
    let mut bad = rules.to_vec();
    bad[3].model = "no-such-model".into();
    let err = g.workspace_mux_check(&c, Some("p"), &bad).unwrap_err();
    assert_eq!(err.field(), Some("rules[3].model"));
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn rules_follow_a_renamed_provider_and_block_its_deletion_unless_cascading() {
    let (g, c) = setup();
    let rules = [
        rule("openai-prod", "gpt-5", FilenameMatch, Some("*.py")),
        rule("anthropic-prod", "claude-sonnet-4.6", CatchAll, None),
    ];
    g.workspace_mux_set(&c, Some("p"), &rules, None).unwrap();
    g.workspace_mux_set(&c, Some("default"), &rules[..1], None)
        .unwrap();
    let renamed = g
        .provider_update(
            &c,
            "OPENAI-prod",
            ProviderPatch {
                name: Some("openai-main".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(renamed.revision, 2);
    let got = g.workspace_mux_get(&c, Some("p")).unwrap();
    assert_eq!(got.rules[0].provider_name, "openai-main");
    let ws = ws_id(&g, &c, "p");
    let route = g.snapshot().route(c.account, ws, Chat, &["a.py"]).unwrap();
    assert_eq!(route.provider.name, "openai-main");

    let listed = g
        .workspace_list_filtered(
            &c,
            &WorkspaceFilter {
                provider: Some("openai-main".into()),
                include_archived: false,
            },
            Page::default(),
        )
        .unwrap();
    assert_eq!(listed.total_count, 2);

    let err = g.provider_delete(&c, "openai-main", false).unwrap_err();
    assert_eq!(
        err.reason().map(modelgates::Reason::as_str),
        Some("PROVIDER_IN_USE")
    );
    let msg = err.to_string();
    assert!(
        msg.contains("default rule #0") && msg.contains("p rule #0"),
        "{msg}"
    );
    assert!(g.provider_get(&c, "openai-main").is_ok());

    let deleted = g.provider_delete(&c, "openai-main", true).unwrap();
    assert_eq!(deleted.removed_rules.len(), 2);
    let got = g.workspace_mux_get(&c, Some("p")).unwrap();
    assert_eq!(got.rules.len(), 1);
    assert_eq!(got.rules[0].provider_name, "anthropic-prod");
    let route = g.snapshot().route(c.account, ws, Chat, &["a.py"]).unwrap();
    assert_eq!(route.provider.name, "anthropic-prod");
    assert!(
        g.workspace_mux_get(&c, Some("default"))
            .unwrap()
            .rules
            .is_empty()
    );
    let after = g
        .workspace_list_filtered(
            &c,
            &WorkspaceFilter {
                provider: Some("anthropic-prod".into()),
                include_archived: false,
            },
            Page::default(),
        )
        .unwrap();
    assert_eq!(after.total_count, 1);
    let report = g.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.mux_rules, 1);
}

#[test]
fn a_model_used_by_a_rule_cannot_be_disabled_or_deleted() {
    let (g, c) = setup();
    g.model_register(
        &c,
        "p",
        NewModel {
            provider: "local-vllm".into(),
            family: "qwen-coder".into(),
            max_input_tokens: 1000,
            max_output_tokens: 1000,
            ..Default::default()
        },
    )
    .unwrap();
    g.provider_add(
        &c,
        NewProvider {
            name: "local-vllm".into(),
            description: None,
            provider_type: ProviderType::Vllm,
            endpoint: Some("http://10.0.0.5:8000/v1/".into()),
            auth_type: None,
            api_key: None,
        },
    )
    .unwrap();
    // A family registered under the provider's name resolves without a provider prefix.
    let set = g
        .workspace_mux_set(
            &c,
            Some("p"),
            &[
                rule("local-vllm", "qwen-coder", FimFilename, Some("*")),
                rule("openai-prod", "openai/gpt-5", CatchAll, None),
            ],
            None,
        )
        .unwrap();
    assert_eq!(set.rules[0].model_ref, "local-vllm/qwen-coder");
    let err = g
        .model_set_status(&c, "p", "openai/gpt-5", ModelStatus::Disabled)
        .unwrap_err();
    assert_eq!(
        err.reason().map(modelgates::Reason::as_str),
        Some("MODEL_IN_USE")
    );
    assert!(err.to_string().contains("mux rule(s) #1"), "{err}");
    let err = g
        .model_delete(&c, "p", "local-vllm/qwen-coder")
        .unwrap_err();
    assert_eq!(
        err.reason().map(modelgates::Reason::as_str),
        Some("MODEL_IN_USE")
    );
    let route = g.route_resolve(&c, Some("p"), Fim, &["x".into()]).unwrap();
    assert_eq!(route.provider.endpoint, "http://10.0.0.5:8000/v1");
    assert_eq!(route.provider.auth_type, AuthType::None);
}

#[test]
fn providers_validate_fields_and_keep_keys_write_only() {
    let (g, c) = setup();
    let base = NewProvider {
        name: "x".into(),
        description: None,
        provider_type: ProviderType::Vllm,
        endpoint: None,
        auth_type: None,
        api_key: None,
    };
    let cases: Vec<(NewProvider, &str)> = vec![
        (base.clone(), "name"),
        (
            NewProvider {
                name: "vllm-a".into(),
                ..base.clone()
            },
            "endpoint",
        ),
        (
            NewProvider {
                name: "vllm-a".into(),
                endpoint: Some("localhost:8000".into()),
                ..base.clone()
            },
            "endpoint",
        ),
        (
            NewProvider {
                name: "openai-prod".into(),
                provider_type: ProviderType::Openai,
                ..base.clone()
            },
            "name",
        ),
        (
            NewProvider {
                name: "vllm-a".into(),
                endpoint: Some("http://h:1".into()),
                auth_type: Some(AuthType::ApiKey),
                ..base.clone()
            },
            "api_key",
        ),
        (
            NewProvider {
                name: "vllm-a".into(),
                endpoint: Some("http://h:1".into()),
                auth_type: Some(AuthType::Passthrough),
                api_key: Some(Secret::new("sk-zzz")),
                ..base.clone()
            },
            "api_key",
        ),
    ];
    let count = g.provider_list(&c, Page::default()).unwrap().total_count;
    for (new, field) in cases {
        let err = g.provider_add(&c, new).unwrap_err();
        assert_eq!(err.field(), Some(field), "{err}");
        assert!(!err.to_string().contains("sk-zzz"));
    }
    assert_eq!(
        g.provider_list(&c, Page::default()).unwrap().total_count,
        count
    );
    // Names are unique case-insensitively.
    let err = g
        .provider_add(
            &c,
            NewProvider {
                name: "OpenAI-Prod".into(),
                provider_type: ProviderType::Openai,
                ..base.clone()
            },
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);

    let p = g.provider_get(&c, "openai-prod").unwrap();
    assert!(p.has_api_key);
    assert_eq!(p.auth_type, AuthType::ApiKey);
    let json = serde_json::to_string(&p).unwrap();
    assert!(!json.contains("sk-test"), "{json}");
    assert_eq!(
        g.provider_api_key(&c, "openai-prod")
            .unwrap()
            .unwrap()
            .expose(),
        "sk-test-openai-prod"
    );
    let p = g
        .provider_set_auth(&c, "openai-prod", AuthType::Passthrough, None, Some(1))
        .unwrap();
    assert!(!p.has_api_key);
    assert!(g.provider_api_key(&c, "openai-prod").unwrap().is_none());
    let err = g
        .provider_set_auth(&c, "openai-prod", AuthType::None, None, Some(1))
        .unwrap_err();
    assert_eq!(err.field(), Some("expected_revision"));
}

#[test]
fn archived_workspaces_are_hidden_read_only_and_not_routed() {
    let (g, c) = setup();
    g.workspace_mux_set(
        &c,
        Some("p"),
        &[rule("openai-prod", "gpt-5", CatchAll, None)],
        None,
    )
    .unwrap();
    let ws = ws_id(&g, &c, "p");
    // The default and the active workspace cannot be archived.
    let err = g.workspace_archive(&c, "default").unwrap_err();
    assert_eq!(
        err.reason().map(modelgates::Reason::as_str),
        Some("DEFAULT_WORKSPACE")
    );
    let active = g.workspace_activate(&c, "p").unwrap();
    assert!(active.is_active);
    assert!(!g.workspace_get(&c, "default").unwrap().is_active);
    // The active workspace stands in when none is named.
    assert_eq!(
        g.workspace_mux_get(&c, None).unwrap().workspace_id,
        ws,
        "active workspace"
    );
    let models = g
        .model_list(&c, None, &ModelFilter::default(), Page::default())
        .unwrap();
    assert!(!models.data.is_empty());
    assert!(models.data.iter().all(|m| m.metadata.workspace_id == ws));
    let err = g.workspace_archive(&c, "p").unwrap_err();
    assert_eq!(
        err.reason().map(modelgates::Reason::as_str),
        Some("ACTIVE_WORKSPACE")
    );
    g.workspace_activate(&c, "default").unwrap();

    let archived = g.workspace_archive(&c, "p").unwrap();
    assert!(archived.archived_at.is_some());
    assert_eq!(
        g.workspace_list(&c, Page::default()).unwrap().total_count,
        1
    );
    let all = g
        .workspace_list_filtered(
            &c,
            &WorkspaceFilter {
                provider: None,
                include_archived: true,
            },
            Page::default(),
        )
        .unwrap();
    assert_eq!(all.total_count, 2);
    // The slug stays reserved.
    let err = g
        .workspace_create(
            &c,
            NewWorkspace {
                name: "again".into(),
                slug: "p".into(),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let err = g.snapshot().route(c.account, ws, Chat, &["a"]).unwrap_err();
    assert_eq!(
        err.reason().map(modelgates::Reason::as_str),
        Some("WORKSPACE_ARCHIVED")
    );
    let err = g.workspace_activate(&c, "p").unwrap_err();
    assert_eq!(
        err.reason().map(modelgates::Reason::as_str),
        Some("WORKSPACE_ARCHIVED")
    );
    let err = g
        .workspace_instructions_set(&c, Some("p"), Some("x"))
        .unwrap_err();
    assert_eq!(
        err.reason().map(modelgates::Reason::as_str),
        Some("WORKSPACE_ARCHIVED")
    );

    g.workspace_restore(&c, "p").unwrap();
    let route = g.snapshot().route(c.account, ws, Chat, &["a"]).unwrap();
    assert_eq!(route.model.as_ref(), "gpt-5");
    assert!(g.check().unwrap().is_ok());
}

#[test]
fn instructions_and_config_on_create_are_validated_and_applied() {
    let (g, c) = setup();
    let ws = g
        .workspace_create(
            &c,
            NewWorkspace {
                name: "Q".into(),
                slug: "q".into(),
                custom_instructions: Some("Answer in French.".into()),
                mux_rules: Some(vec![rule("router", "openai/gpt-5", CatchAll, None)]),
                ..Default::default()
            },
        )
        .unwrap();
    let route = g.snapshot().route(c.account, ws.id, Fim, &["a"]).unwrap();
    assert!(route.custom_instructions);
    assert_eq!(route.provider.name, "router");
    assert_eq!(route.model.as_ref(), "openai/gpt-5");
    g.workspace_instructions_set(&c, Some("q"), None).unwrap();
    assert_eq!(
        g.workspace_instructions_get(&c, Some("q"))
            .unwrap()
            .custom_instructions,
        None
    );
    let route = g.snapshot().route(c.account, ws.id, Fim, &["a"]).unwrap();
    assert!(!route.custom_instructions);

    // An invalid config creates nothing.
    let err = g
        .workspace_create(
            &c,
            NewWorkspace {
                name: "R".into(),
                slug: "r".into(),
                mux_rules: Some(vec![rule("nope", "openai/gpt-5", CatchAll, None)]),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.field(), Some("mux_rules[0].provider"));
    assert!(g.workspace_get(&c, "r").is_err());
    let err = g
        .workspace_instructions_set(&c, Some("q"), Some(&"x".repeat(INSTRUCTIONS_MAX + 1)))
        .unwrap_err();
    assert_eq!(err.field(), Some("custom_instructions"));
}

#[test]
fn personas_are_unique_by_name_and_description() {
    let (g, c) = setup();
    g.persona_create(
        &c,
        "Reviewer",
        "Reviews Rust code for safety and performance issues",
    )
    .unwrap();
    let err = g
        .persona_create(&c, "reviewer", "Writes documentation")
        .unwrap_err();
    assert_eq!(err.field(), Some("name"));
    let err = g
        .persona_create(
            &c,
            "Reviewer 2",
            "reviews rust code for safety and performance issues!",
        )
        .unwrap_err();
    assert_eq!(err.field(), Some("description"));
    assert!(err.to_string().contains("\"Reviewer\""), "{err}");
    g.persona_create(&c, "Writer", "Writes documentation for the public API")
        .unwrap();
    let p = g
        .persona_update(
            &c,
            "writer",
            PersonaPatch {
                new_name: Some("Tech Writer".into()),
                new_description: None,
            },
        )
        .unwrap();
    assert_eq!(p.name, "Tech Writer");
    assert_eq!(g.persona_get(&c, "TECH WRITER").unwrap().id, p.id);
    assert!(g.persona_get(&c, "writer").is_err());
    let err = g
        .persona_update(
            &c,
            "Tech Writer",
            PersonaPatch {
                new_name: None,
                new_description: Some(
                    "Reviews Rust code for safety and performance issues.".into(),
                ),
            },
        )
        .unwrap_err();
    assert_eq!(err.field(), Some("new_description"));
    g.persona_delete(&c, &p.id.to_string()).unwrap();
    assert_eq!(g.persona_list(&c, Page::default()).unwrap().total_count, 1);
}

#[test]
fn every_account_is_isolated() {
    let (g, c) = setup();
    let other = g
        .create_account(&Bootstrap {
            account_name: "Other".into(),
            admin_user_id: UserId::parse_field("user_other", "u").unwrap(),
            admin_email: "o@example.com".into(),
        })
        .unwrap();
    assert!(g.provider_get(&other, "openai-prod").is_err());
    assert_eq!(
        g.provider_list(&other, Page::default())
            .unwrap()
            .total_count,
        0
    );
    let err = g
        .workspace_mux_set(
            &other,
            None,
            &[rule("openai-prod", "openai/gpt-5", CatchAll, None)],
            None,
        )
        .unwrap_err();
    assert_eq!(err.field(), Some("rules[0].provider"));
    // The new account's default workspace is routable (no rules yet: a clear error).
    let ws = g.workspace_get(&other, "default").unwrap().id;
    let err = g
        .snapshot()
        .route(other.account, ws, Chat, &["a"])
        .unwrap_err();
    assert_eq!(
        err.reason().map(modelgates::Reason::as_str),
        Some("NO_ROUTE")
    );
    let _ = c;
}

// --- Property: the compiled snapshot agrees with a naive evaluation of the stored rules. ----

fn naive(rules: &[MuxRule], kind: RequestKind, files: &[String]) -> Option<usize> {
    rules.iter().position(|r| {
        if !r.matcher_type.applies_to(kind) {
            return false;
        }
        let Some(m) = &r.matcher else {
            return true;
        };
        let glob = globset::GlobBuilder::new(m)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .unwrap()
            .compile_matcher();
        files.iter().any(|f| {
            let f = f.replace('\\', "/");
            let f = f.strip_prefix("./").unwrap_or(&f).to_owned();
            let target = if m.contains('/') {
                f.as_str()
            } else {
                f.rsplit('/').next().unwrap()
            };
            glob.is_match(target)
        })
    })
}

fn arb_glob() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "*.py",
        "*.rs",
        "*.md",
        "Makefile",
        "*",
        "?.py",
        "[ab].rs",
        "*.{py,rs}",
        "src/*.rs",
        "src/**/*.rs",
        "**/test_*.py",
        "docs/*.md",
        "**/*.md",
        "a/b/c.txt",
        "*_test.go",
    ])
    .prop_map(str::to_owned)
}

fn arb_rule() -> impl Strategy<Value = NewMuxRule> {
    (
        prop::sample::select(vec!["openai-prod", "anthropic-prod", "router"]),
        prop::sample::select(vec![CatchAll, FilenameMatch, FimFilename, ChatFilename]),
        arb_glob(),
    )
        .prop_map(|(p, ty, g)| {
            let model = match p {
                "openai-prod" => "gpt-5",
                "anthropic-prod" => "claude-sonnet-4.6",
                _ => "openai/gpt-5-mini",
            };
            rule(p, model, ty, (ty != CatchAll).then_some(g.as_str()))
        })
}

fn arb_file() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a.py",
        "src/lib.rs",
        "src/net/tcp.rs",
        "x/src/lib.rs",
        "Makefile",
        "docs/intro.md",
        "docs/a/intro.md",
        "pkg/util_test.go",
        "tests/test_x.py",
        "b.rs",
        "a/b/c.txt",
        ".\\src\\lib.rs",
        "./a.py",
        "README",
        "src/io/lib.rs",
        "lib.rs",
        "x.ry",
        "b.py",
        "a/b/c.txt",
    ])
    .prop_map(str::to_owned)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn compiled_routes_equal_a_naive_evaluation(
        rules in prop::collection::vec(arb_rule(), 0..12),
        requests in prop::collection::vec(
            (prop::sample::select(vec![Chat, Fim]), prop::collection::vec(arb_file(), 0..4)),
            1..16,
        ),
    ) {
        let (g, c) = setup();
        let set = g.workspace_mux_set(&c, Some("p"), &rules, None).unwrap();
        prop_assert!(g.check().unwrap().is_ok());
        let stored = g.workspace_mux_get(&c, Some("p")).unwrap();
        prop_assert_eq!(&set.rules, &stored.rules);
        let ws = ws_id(&g, &c, "p");
        let checked = g.workspace_mux_check(&c, Some("p"), &rules).unwrap();
        prop_assert_eq!(&checked, &stored);
        for u in &set.unreachable_rules {
            prop_assert!(u.shadowed_by.iter().all(|&i| i < u.index));
        }
        for (kind, files) in requests {
            let want = naive(&stored.rules, kind, &files);
            if let Some(at) = want {
                prop_assert!(
                    set.unreachable_rules.iter().all(|u| u.index != at),
                    "rule {} matched {:?} ({:?}) but is reported unreachable: {:?}",
                    at, files, kind, set.warnings
                );
            }
            match g.snapshot().route(c.account, ws, kind, &files) {
                Ok(route) => {
                    prop_assert_eq!(route.rule_index, want);
                    let r = &stored.rules[want.unwrap()];
                    prop_assert_eq!(route.model.as_ref(), r.model.as_str());
                    prop_assert_eq!(route.provider.id, r.provider_id);
                }
                Err(e) => {
                    prop_assert_eq!(want, None);
                    prop_assert_eq!(e.reason().map(modelgates::Reason::as_str), Some("NO_ROUTE"));
                }
            }
        }
    }
}

/// `upstream`: what a gateway needs to forward a routed request, authorized by the request's
/// own inference key; only what the route needs is read.
#[test]
fn upstream_gives_an_inference_key_its_routes_provider_key_and_instructions() {
    let (g, admin) = setup();
    g.workspace_mux_set(
        &admin,
        Some("p"),
        &[rule("openai-prod", "gpt-5", CatchAll, None)],
        None,
    )
    .unwrap();
    let key = |kind| {
        let created = g
            .key_create(
                &admin,
                NewKey {
                    name: format!("{kind:?}"),
                    workspace: "p".into(),
                    kind: Some(kind),
                    ..Default::default()
                },
            )
            .unwrap();
        g.verify_key(created.key.as_deref().unwrap()).unwrap()
    };
    let inference = key(KeyKind::Inference);
    let ws = ws_id(&g, &admin, "p");
    let route = g
        .snapshot()
        .route(admin.account, ws, Chat, &["a.py"])
        .unwrap();
    assert!(!route.custom_instructions);
    let up = g.upstream(&inference, &route).unwrap();
    assert_eq!(
        up.api_key.as_ref().map(Secret::expose),
        Some("sk-test-openai-prod")
    );
    assert!(
        !format!("{up:?}").contains("sk-test"),
        "Debug redacts the key"
    );
    assert_eq!(up.custom_instructions, None);

    g.workspace_instructions_set(&admin, Some("p"), Some("Answer in Rust."))
        .unwrap();
    let route = g
        .snapshot()
        .route(admin.account, ws, Chat, &["a.py"])
        .unwrap();
    let up = g.upstream(&inference, &route).unwrap();
    assert_eq!(up.custom_instructions.as_deref(), Some("Answer in Rust."));

    // A management key, or a route of another workspace, is refused.
    let err = g.upstream(&key(KeyKind::Management), &route).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    g.workspace_mux_set(
        &admin,
        Some("default"),
        &[rule("openai-prod", "gpt-5", CatchAll, None)],
        None,
    )
    .unwrap();
    let other = g
        .snapshot()
        .route(admin.account, ws_id(&g, &admin, "default"), Chat, &["a.py"])
        .unwrap();
    let err = g.upstream(&inference, &other).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(
        err.to_string().contains(&inference.key_id.to_string()),
        "{err}"
    );
}
