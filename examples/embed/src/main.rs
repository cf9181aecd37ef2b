//! The smallest program embedding ModelGates: opens (or creates) a redb database, makes sure
//! a workspace, a provider, two mux rules and an inference key exist, verifies the key and
//! resolves a route from the data plane's snapshot, printing each step.
//!
//! `cargo run -p modelgates-example-embed -- [DB_PATH]` (default `embed.redb`). Run it twice:
//! the second run finds what the first made.

use modelgates::{
    Error, ErrorKind, MatcherType, ModelGates, NewKey, NewMuxRule, NewProvider, NewWorkspace,
    ProviderType, RequestKind, Secret,
};
use modelgates_redb::RedbStore;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "embed.redb".to_owned());
    // One file; created with mode 0600 on first use. The first open bootstraps an account, its
    // org admin and the default workspace.
    let store = RedbStore::open(&path)?;
    let gates = ModelGates::open(store.clone())?;
    let admin = gates.default_caller()?;
    println!(
        "opened {path} as {} (account {})",
        admin.user_id, admin.account
    );

    // Control plane: every call is one transaction, checked and durable when it returns.
    let ws = match gates.workspace_get(&admin, "embedded") {
        Ok(ws) => {
            println!("found workspace {} ({})", ws.slug, ws.id);
            ws
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let ws = gates.workspace_create(
                &admin,
                NewWorkspace {
                    name: "Embedded".into(),
                    slug: "embedded".into(),
                    ..Default::default()
                },
            )?;
            println!("created workspace {} ({})", ws.slug, ws.id);
            ws
        }
        Err(e) => return Err(e.into()),
    };
    match gates.provider_add(
        &admin,
        NewProvider {
            name: "openai-embedded".into(),
            description: None,
            provider_type: ProviderType::Openai,
            endpoint: None,
            auth_type: None,
            api_key: Some(Secret::new("sk-example-not-a-real-key")),
        },
    ) {
        Ok(p) => println!("added provider {} -> {}", p.name, p.endpoint),
        Err(e) if e.kind() == ErrorKind::Conflict => println!("provider openai-embedded exists"),
        Err(e) => return Err(e.into()),
    }
    let rule = |model: &str, matcher_type, matcher: Option<&str>| NewMuxRule {
        provider: "openai-embedded".into(),
        provider_type: None,
        model: model.into(),
        matcher_type,
        matcher: matcher.map(Into::into),
    };
    let rules = gates.workspace_mux_set(
        &admin,
        Some("embedded"),
        &[
            rule("gpt-5-mini", MatcherType::FimFilename, Some("*.py")),
            rule("gpt-5", MatcherType::CatchAll, None),
        ],
        None,
    )?;
    println!(
        "set {} mux rules (revision {})",
        rules.rules.len(),
        rules.revision
    );
    let created = gates.key_create(
        &admin,
        NewKey {
            name: "embedded-gateway".into(),
            workspace: ws.slug.clone(),
            ..Default::default()
        },
    )?;
    let secret = created
        .key
        .ok_or_else(|| Error::internal("a first create returns its secret"))?;
    println!(
        "created inference key {} (secret shown once)",
        created.data.id
    );

    // Data plane: answered from the in-memory snapshot, no store access.
    let verified = gates.verify_key(&secret)?;
    println!("verified the key: workspace {}", verified.workspace_id);
    for (kind, files) in [
        (RequestKind::Fim, vec!["src/app.py"]),
        (RequestKind::Chat, vec!["README.md"]),
    ] {
        let route = gates.snapshot().route(admin.account, ws.id, kind, &files)?;
        println!(
            "{kind:?} {files:?} -> {} / {} (rule {:?})",
            route.provider.name, route.model, route.rule_index
        );
    }
    drop(gates);
    store.close()?;
    println!("closed {path}");
    Ok(())
}
