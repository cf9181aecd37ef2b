//! Identifier, slug, email, model-reference, label-selector, price, catalog, glob, provider-name
//! and endpoint parsing, through
//! the public API (domain operations on an in-memory store): never a panic, and every refusal is
//! `invalid_argument` (or `not_found` for lookups) naming a field.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use modelgates::{
    Caller, Catalog, ErrorKind, KeyId, MatcherType, MemoryStore, ModelFilter, ModelGates, ModelId,
    NewMember, NewMuxRule, NewProvider, NewWorkspace, Page, ProviderType, RequestKind, UserId,
    WorkspaceId,
};

fn gates() -> &'static (ModelGates, Caller) {
    static G: OnceLock<(ModelGates, Caller)> = OnceLock::new();
    G.get_or_init(|| {
        let g = ModelGates::open(MemoryStore::new()).unwrap();
        let c = g.default_caller().unwrap();
        let p = NewProvider {
            name: "fuzz-openai".into(),
            description: None,
            provider_type: ProviderType::Openai,
            endpoint: None,
            auth_type: None,
            api_key: None,
        };
        g.provider_add(&c, p).unwrap();
        (g, c)
    })
}

fn refused(e: &modelgates::Error) {
    assert!(
        matches!(
            e.kind(),
            ErrorKind::InvalidArgument | ErrorKind::NotFound | ErrorKind::Conflict
        ),
        "{e}"
    );
    assert!(e.to_string().len() < 2_000, "messages stay short");
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = UserId::parse_field(s, "f");
    let _ = s.parse::<KeyId>();
    let _ = s.parse::<ModelId>();
    let _ = WorkspaceId::parse(s);
    let _ = Catalog::from_json(s);
    let (g, c) = gates();
    // Reads exercise workspace, model-reference and label-selector parsing.
    if let Err(e) = g.workspace_get(c, s) {
        refused(&e);
    }
    if let Err(e) = g.model_get(c, "default", s) {
        refused(&e);
    }
    let filter = ModelFilter {
        label_selector: Some(s.to_owned()),
        ..Default::default()
    };
    if let Err(e) = g.model_list(c, "default", &filter, Page::default()) {
        refused(&e);
    }
    // Globs: a mux rule with the input as its matcher is stored or refused naming the matcher;
    // routing any path through whatever is stored never panics. Provider names and endpoints
    // are parsed too.
    let (a0, b0) = s.split_at(
        s.char_indices()
            .nth(s.chars().count() / 3)
            .map_or(s.len(), |(i, _)| i),
    );
    let rule = NewMuxRule {
        provider: "fuzz-openai".into(),
        provider_type: None,
        model: "gpt-5".into(),
        matcher_type: MatcherType::FilenameMatch,
        matcher: Some(a0.to_owned()),
    };
    match g.workspace_mux_set(c, Some("default"), &[rule], None) {
        Ok(_) => {}
        Err(e) => {
            refused(&e);
            assert_eq!(e.field(), Some("rules[0].matcher"), "{e}");
        }
    }
    let ws = g.workspace_get(c, "default").unwrap().id;
    for kind in [RequestKind::Chat, RequestKind::Fim] {
        if let Err(e) = g.snapshot().route(c.account, ws, kind, &[b0, s]) {
            assert_eq!(e.reason().map(|r| r.as_str()), Some("NO_ROUTE"), "{e}");
        }
    }
    let p = NewProvider {
        name: a0.to_owned(),
        description: None,
        provider_type: ProviderType::Vllm,
        endpoint: Some(b0.to_owned()),
        auth_type: None,
        api_key: None,
    };
    match g.provider_add(c, p) {
        Ok(p) => {
            g.provider_delete(c, &p.id.to_string(), true).unwrap();
        }
        Err(e) => refused(&e),
    }
    // Writes are validated before anything is stored: invalid input never creates anything.
    let mid = s
        .char_indices()
        .nth(s.chars().count() / 2)
        .map_or(s.len(), |(i, _)| i);
    let (a, b) = s.split_at(mid);
    let new = NewWorkspace {
        name: a.to_owned(),
        slug: b.to_owned(),
        ..Default::default()
    };
    match g.workspace_create(c, new) {
        Ok(w) => {
            g.workspace_delete(c, &w.id.to_string()).unwrap();
        }
        Err(e) => refused(&e),
    }
    let new = NewMember {
        user_id: a.to_owned(),
        email: b.to_owned(),
        ..Default::default()
    };
    match g.member_add(c, new) {
        Ok(m) => {
            g.member_remove(c, m.user_id.as_str()).unwrap();
        }
        Err(e) => refused(&e),
    }
});
