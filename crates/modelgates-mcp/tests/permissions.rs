//! The permission table: every MCP tool × every kind of caller, allow or deny.
//!
//! Callers: the org admin, an org member who is a member of workspace `team` (and owns key
//! `$K_IN` there), and an org member of no workspace but the default one. Each row runs on a
//! fresh fixture (so a row's writes cannot leak into the next) through a real rmcp client and
//! asserts success for "allow" and `permission_denied` for "deny". A tool without a row fails
//! `every_tool_has_a_row`, so a new operation cannot ship without a decision. The fourth
//! caller kind, an inference key, is refused by the HTTP layer for every tool
//! (`inference_keys_are_refused_for_every_tool`). The model is written down in
//! `crates/modelgates/src/access.rs` and docs/permissions.md.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};

use modelgates::{AuditEvent, AuditFilter, Caller, Frontend, MemoryStore, ModelGates, UserId};
use modelgates_mcp::McpServer;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

const ALLOW: bool = true;
const DENY: bool = false;

/// (tool, arguments, [admin, member of team, member of no workspace]).
fn rows() -> Vec<(&'static str, Value, [bool; 3])> {
    let soon = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let later = (chrono::Utc::now() + chrono::Duration::days(90)).to_rfc3339();
    let usage = |key: Option<&str>| {
        let mut v = json!({"request_id": "r2", "workspace": "team", "provider": "prov",
            "model": "gpt-5", "input_tokens": 1, "output_tokens": 1});
        if let Some(k) = key {
            v["api_key_id"] = json!(k);
        }
        v
    };
    vec![
        // The audit log.
        ("audit_list", json!({}), [ALLOW, DENY, DENY]),
        (
            "audit_list",
            json!({"resource_kind": "workspace", "limit": 5}),
            [ALLOW, DENY, DENY],
        ),
        (
            "audit_retention_set",
            json!({"days": 30}),
            [ALLOW, DENY, DENY],
        ),
        // Bundles: org admins only.
        (
            "bundle_plan",
            json!({"bundle": "bundle: perm\npersonas:\n  - {name: perm-persona, description: A persona made by a bundle}\n"}),
            [ALLOW, DENY, DENY],
        ),
        (
            "bundle_apply",
            json!({"bundle": "bundle: perm\npersonas:\n  - {name: perm-persona, description: A persona made by a bundle}\n"}),
            [ALLOW, DENY, DENY],
        ),
        (
            "bundle_export",
            json!({"bundle": "copy"}),
            [ALLOW, DENY, DENY],
        ),
        // Workspaces.
        ("workspace_list", json!({}), [ALLOW, ALLOW, ALLOW]),
        ("workspace_get", json!({"id": "team"}), [ALLOW, ALLOW, DENY]),
        (
            "workspace_get",
            json!({"id": "default"}),
            [ALLOW, ALLOW, ALLOW],
        ),
        (
            "workspace_create",
            json!({"name": "N", "slug": "n"}),
            [ALLOW, DENY, DENY],
        ),
        (
            "workspace_update",
            json!({"id": "team", "description": "x"}),
            [ALLOW, DENY, DENY],
        ),
        (
            "workspace_delete",
            json!({"id": "other"}),
            [ALLOW, DENY, DENY],
        ),
        (
            "workspace_activate",
            json!({"id": "team"}),
            [ALLOW, DENY, DENY],
        ),
        (
            "workspace_archive",
            json!({"id": "other"}),
            [ALLOW, DENY, DENY],
        ),
        (
            "workspace_restore",
            json!({"id": "old"}),
            [ALLOW, DENY, DENY],
        ),
        // Membership and members.
        (
            "workspace_members_list",
            json!({"id": "team"}),
            [ALLOW, ALLOW, DENY],
        ),
        (
            "workspace_members_add",
            json!({"id": "team", "user_ids": ["user_out"]}),
            [ALLOW, DENY, DENY],
        ),
        (
            "workspace_members_remove",
            json!({"id": "other", "user_ids": ["user_admin"]}),
            [ALLOW, DENY, DENY],
        ),
        (
            "member_add",
            json!({"user_id": "user_new", "email": "new@x.io"}),
            [ALLOW, DENY, DENY],
        ),
        ("member_list", json!({}), [ALLOW, DENY, DENY]),
        (
            "member_get",
            json!({"user_id": "user_in"}),
            [ALLOW, ALLOW, DENY],
        ),
        (
            "member_get",
            json!({"user_id": "user_admin"}),
            [ALLOW, DENY, DENY],
        ),
        (
            "member_update",
            json!({"user_id": "user_out", "first_name": "O"}),
            [ALLOW, DENY, DENY],
        ),
        (
            "member_remove",
            json!({"user_id": "user_out"}),
            [ALLOW, DENY, DENY],
        ),
        // Keys: members manage their own, and may only tighten them.
        (
            "key_create",
            json!({"name": "mine", "workspace": "team"}),
            [ALLOW, ALLOW, DENY],
        ),
        (
            "key_create",
            json!({"name": "m", "workspace": "team", "kind": "management"}),
            [ALLOW, DENY, DENY],
        ),
        (
            "key_create",
            json!({"name": "f", "workspace": "team", "creator_user_id": "user_admin"}),
            [ALLOW, DENY, DENY],
        ),
        (
            "key_list",
            json!({"workspace": "team"}),
            [ALLOW, ALLOW, DENY],
        ),
        ("key_get", json!({"id": "$K_IN"}), [ALLOW, ALLOW, DENY]),
        ("key_get", json!({"id": "$K_ADMIN"}), [ALLOW, DENY, DENY]),
        (
            "key_update",
            json!({"id": "$K_IN", "name": "renamed"}),
            [ALLOW, ALLOW, DENY],
        ),
        (
            "key_update",
            json!({"id": "$K_IN", "disabled": true}),
            [ALLOW, ALLOW, DENY],
        ),
        (
            "key_update",
            json!({"id": "$K_IN", "limit": 5}),
            [ALLOW, ALLOW, DENY],
        ),
        (
            "key_update",
            json!({"id": "$K_IN", "expires_at": soon}),
            [ALLOW, ALLOW, DENY],
        ),
        (
            "key_update",
            json!({"id": "$K_DIS", "disabled": false}),
            [ALLOW, DENY, DENY],
        ),
        (
            "key_update",
            json!({"id": "$K_IN", "limit": 50}),
            [ALLOW, DENY, DENY],
        ),
        (
            "key_update",
            json!({"id": "$K_IN", "limit": null}),
            [ALLOW, DENY, DENY],
        ),
        (
            "key_update",
            json!({"id": "$K_IN", "expires_at": later}),
            [ALLOW, DENY, DENY],
        ),
        (
            "key_update",
            json!({"id": "$K_IN", "expires_at": null}),
            [ALLOW, DENY, DENY],
        ),
        (
            "key_update",
            json!({"id": "$K_ADMIN", "name": "x"}),
            [ALLOW, DENY, DENY],
        ),
        ("key_delete", json!({"id": "$K_IN"}), [ALLOW, ALLOW, DENY]),
        ("key_delete", json!({"id": "$K_ADMIN"}), [ALLOW, DENY, DENY]),
        // Models.
        (
            "model_list",
            json!({"workspace": "team", "limit": 5}),
            [ALLOW, ALLOW, DENY],
        ),
        (
            "model_get",
            json!({"workspace": "team", "model": "openai/gpt-5"}),
            [ALLOW, ALLOW, DENY],
        ),
        (
            "model_set_status",
            json!({"workspace": "team", "model": "openai/o3", "status": "MODEL_STATUS_DISABLED"}),
            [ALLOW, DENY, DENY],
        ),
        (
            "model_register",
            json!({"workspace": "team", "provider": "prov", "family": "custom-2", "maxInputTokens": 1000, "maxOutputTokens": 100}),
            [ALLOW, DENY, DENY],
        ),
        (
            "model_delete",
            json!({"workspace": "team", "model": "prov/custom-1"}),
            [ALLOW, DENY, DENY],
        ),
        // Providers, routing, instructions.
        (
            "provider_add",
            json!({"name": "prov2", "provider_type": "ollama"}),
            [ALLOW, DENY, DENY],
        ),
        (
            "provider_update",
            json!({"provider": "prov", "description": "d"}),
            [ALLOW, DENY, DENY],
        ),
        (
            "provider_set_auth",
            json!({"provider": "prov", "auth_type": "none"}),
            [ALLOW, DENY, DENY],
        ),
        ("provider_list", json!({}), [ALLOW, ALLOW, ALLOW]),
        (
            "provider_get",
            json!({"provider": "prov"}),
            [ALLOW, ALLOW, ALLOW],
        ),
        (
            "provider_delete",
            json!({"provider": "prov", "cascade": true}),
            [ALLOW, DENY, DENY],
        ),
        (
            "workspace_mux_get",
            json!({"workspace": "team"}),
            [ALLOW, ALLOW, DENY],
        ),
        (
            "workspace_mux_set",
            json!({"workspace": "team", "rules": []}),
            [ALLOW, DENY, DENY],
        ),
        (
            "workspace_mux_check",
            json!({"workspace": "team", "rules": []}),
            [ALLOW, DENY, DENY],
        ),
        (
            "workspace_instructions_get",
            json!({"workspace": "team"}),
            [ALLOW, ALLOW, DENY],
        ),
        (
            "workspace_instructions_set",
            json!({"workspace": "team", "custom_instructions": "x"}),
            [ALLOW, DENY, DENY],
        ),
        (
            "workspace_instructions_clear",
            json!({"workspace": "team"}),
            [ALLOW, DENY, DENY],
        ),
        (
            "route_resolve",
            json!({"workspace": "team", "files": ["a.py"]}),
            [ALLOW, ALLOW, DENY],
        ),
        // Personas.
        (
            "persona_create",
            json!({"name": "New", "description": "Plans database migrations"}),
            [ALLOW, DENY, DENY],
        ),
        (
            "persona_update",
            json!({"persona": "Helper", "new_name": "H2"}),
            [ALLOW, DENY, DENY],
        ),
        ("persona_list", json!({}), [ALLOW, ALLOW, ALLOW]),
        (
            "persona_get",
            json!({"persona": "Helper"}),
            [ALLOW, ALLOW, ALLOW],
        ),
        (
            "persona_delete",
            json!({"persona": "Helper"}),
            [ALLOW, DENY, DENY],
        ),
        // Usage: members record only for their own keys of their workspaces.
        ("usage_record", usage(Some("$K_IN")), [ALLOW, ALLOW, DENY]),
        ("usage_record", usage(Some("$K_ADMIN")), [ALLOW, DENY, DENY]),
        ("usage_record", usage(None), [ALLOW, DENY, DENY]),
        (
            "usage_record_batch",
            json!({"records": [usage(Some("$K_IN"))]}),
            [ALLOW, ALLOW, DENY],
        ),
        (
            "usage_record_batch",
            json!({"records": [usage(Some("$K_ADMIN"))]}),
            [ALLOW, DENY, DENY],
        ),
        (
            "workspace_usage",
            json!({"workspace": "team"}),
            [ALLOW, ALLOW, DENY],
        ),
        (
            "workspace_usage_series",
            json!({"workspace": "team", "from": "2026-01-01T00:00:00Z",
                   "to": "2026-01-08T00:00:00Z", "interval": "day"}),
            [ALLOW, ALLOW, DENY],
        ),
        (
            "workspace_messages_list",
            json!({"workspace": "team"}),
            [ALLOW, ALLOW, DENY],
        ),
        (
            "workspace_message_get",
            json!({"workspace": "team", "id": "chat-1"}),
            [ALLOW, ALLOW, DENY],
        ),
        (
            "workspace_alerts_list",
            json!({"workspace": "team"}),
            [ALLOW, ALLOW, DENY],
        ),
    ]
}

type Client = rmcp::service::RunningService<rmcp::RoleClient, ()>;

async fn connect(gates: &ModelGates, caller: Caller) -> Client {
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    let server = McpServer::new(gates.clone(), caller);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.unwrap()
}

/// Calls `tool`; `Ok(structured result)` or `Err(error code)`.
async fn call(c: &Client, tool: &str, args: Value) -> Result<Value, (String, String)> {
    let r = c
        .call_tool(
            CallToolRequestParams::new(tool.to_owned())
                .with_arguments(args.as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    if r.is_error == Some(true) {
        let text = r.content[0].as_text().unwrap().text.clone();
        let body: Value = serde_json::from_str(&text).unwrap();
        return Err((body["error"]["code"].as_str().unwrap().to_owned(), text));
    }
    Ok(r.structured_content.unwrap_or(Value::Null))
}

struct Fixture {
    gates: ModelGates,
    admin: Caller,
    ids: Vec<(&'static str, String)>,
}

async fn fixture() -> Fixture {
    let gates = ModelGates::open(MemoryStore::new()).unwrap();
    let admin = gates.default_caller().unwrap();
    let c = connect(&gates, admin.clone()).await;
    let ok = |r: Result<Value, (String, String)>| r.unwrap_or_else(|e| panic!("setup: {e:?}"));
    let in30 = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    for user in ["user_in", "user_out"] {
        ok(call(
            &c,
            "member_add",
            json!({"user_id": user, "email": format!("{user}@x.io"), "role": "org:member"}),
        )
        .await);
    }
    for slug in ["team", "other", "old"] {
        ok(call(&c, "workspace_create", json!({"name": slug, "slug": slug})).await);
    }
    ok(call(&c, "workspace_archive", json!({"id": "old"})).await);
    ok(call(
        &c,
        "workspace_members_add",
        json!({"id": "team", "user_ids": ["user_in"]}),
    )
    .await);
    ok(call(
        &c,
        "provider_add",
        json!({"name": "prov", "provider_type": "openai", "api_key": "sk-fixture-0123456789"}),
    )
    .await);
    ok(call(&c, "workspace_mux_set", json!({"workspace": "team", "rules": [{"provider": "prov", "model": "gpt-5", "matcher_type": "catch_all"}]})).await);
    ok(call(
        &c,
        "workspace_instructions_set",
        json!({"workspace": "team", "custom_instructions": "Be brief."}),
    )
    .await);
    ok(call(&c, "model_register", json!({"workspace": "team", "provider": "prov", "family": "custom-1", "maxInputTokens": 1000, "maxOutputTokens": 100})).await);
    ok(call(
        &c,
        "persona_create",
        json!({"name": "Helper", "description": "Helps with general questions"}),
    )
    .await);
    let key = |r: Value| r["data"]["id"].as_str().unwrap().to_owned();
    let k_in = key(ok(call(&c, "key_create", json!({"name": "kin", "workspace": "team", "creator_user_id": "user_in", "limit": 10, "expires_at": in30})).await));
    let k_admin = key(ok(call(
        &c,
        "key_create",
        json!({"name": "kadmin", "workspace": "team"}),
    )
    .await));
    let k_dis = key(ok(call(
        &c,
        "key_create",
        json!({"name": "kdis", "workspace": "team", "creator_user_id": "user_in"}),
    )
    .await));
    ok(call(&c, "key_update", json!({"id": k_dis, "disabled": true})).await);
    ok(call(
        &c,
        "usage_record",
        json!({"request_id": "r1", "workspace": "team", "provider": "prov", "model": "gpt-5",
        "input_tokens": 1, "output_tokens": 1, "api_key_id": k_in,
        "conversation": {"chat_id": "chat-1", "prompt": "hi", "answer": "hello"}}),
    )
    .await);
    c.cancel().await.unwrap();
    Fixture {
        gates,
        admin,
        ids: vec![("$K_IN", k_in), ("$K_ADMIN", k_admin), ("$K_DIS", k_dis)],
    }
}

fn substitute(v: &Value, ids: &[(&str, String)]) -> Value {
    match v {
        Value::String(s) => ids
            .iter()
            .find(|(k, _)| k == s)
            .map_or_else(|| v.clone(), |(_, id)| Value::String(id.clone())),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, ids)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), substitute(x, ids)))
                .collect(),
        ),
        _ => v.clone(),
    }
}

#[test]
fn every_tool_has_a_row() {
    let gates = ModelGates::open(MemoryStore::new()).unwrap();
    let caller = gates.default_caller().unwrap();
    let tools: BTreeSet<String> = McpServer::new(gates, caller)
        .tools()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    let covered: BTreeSet<String> = rows().iter().map(|r| r.0.to_owned()).collect();
    let missing: Vec<_> = tools.difference(&covered).collect();
    let unknown: Vec<_> = covered.difference(&tools).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "permission rows missing for {missing:?}; rows for unknown tools {unknown:?}"
    );
}

/// Mutating tools whose changes are not configuration: no audit event.
const NOT_AUDITED_TOOLS: &[&str] = &["usage_record", "usage_record_batch"];

/// The fixture's audit log, newest first.
fn audit_events(f: &Fixture) -> Vec<AuditEvent> {
    let mut out = Vec::new();
    let mut filter = AuditFilter {
        limit: Some(100),
        ..Default::default()
    };
    loop {
        let page = f.gates.audit_list(&f.admin, &filter).unwrap();
        out.extend(page.data);
        match page.next_after {
            Some(after) => filter.after = Some(after),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_allows_or_denies_each_caller_as_the_table_says() {
    let callers = ["user_admin", "user_in", "user_out"];
    let mutating: BTreeSet<String> = {
        let gates = ModelGates::open(MemoryStore::new()).unwrap();
        let caller = gates.default_caller().unwrap();
        McpServer::new(gates, caller)
            .tools()
            .into_iter()
            .filter(|t| {
                t.annotations
                    .as_ref()
                    .and_then(|a| a.read_only_hint)
                    .is_some_and(|ro| !ro)
            })
            .map(|t| t.name.to_string())
            .collect()
    };
    assert!(mutating.contains("workspace_create") && !mutating.contains("workspace_get"));
    let mut failures = Vec::new();
    for (tool, args, expected) in rows() {
        for (who, allowed) in callers.iter().zip(expected) {
            let f = fixture().await;
            let caller = Caller::new(
                f.admin.account,
                UserId::parse_field(who, "user_id").unwrap(),
            );
            let c = connect(&f.gates, caller).await;
            let args = substitute(&args, &f.ids);
            let logged_before = audit_events(&f);
            let got = call(&c, tool, args.clone()).await;
            // Every successful change is one audit event named after the tool, by this caller
            // through MCP; anything else (reads, refusals, usage) appends none.
            let logged = audit_events(&f);
            let expected_event = match (&got, mutating.contains(tool)) {
                (Ok(_), true) if !NOT_AUDITED_TOOLS.contains(&tool) => Some(match tool {
                    "workspace_instructions_clear" => "workspace_instructions_set",
                    other => other,
                }),
                _ => None,
            };
            match expected_event {
                Some(op) => {
                    let ok = logged.len() == logged_before.len() + 1
                        && logged[0].operation == op
                        && logged[0].actor.user_id.as_ref().map(|u| u.as_str()) == Some(*who)
                        && logged[0].actor.via == Frontend::Mcp;
                    if !ok {
                        failures.push(format!(
                            "{tool} {args} as {who}: expected one audit event {op} by {who} via \
                             mcp, got {:?}",
                            &logged[..logged.len() - logged_before.len()]
                        ));
                    }
                }
                None if logged.len() != logged_before.len() => failures.push(format!(
                    "{tool} {args} as {who}: expected no audit event, got {:?}",
                    &logged[..logged.len() - logged_before.len()]
                )),
                None => {}
            }
            match (allowed, &got) {
                (true, Ok(_)) => {}
                (false, Err((code, _))) if code == "permission_denied" => {}
                _ => failures.push(format!(
                    "{tool} {args} as {who}: expected {}, got {got:?}",
                    if allowed {
                        "success"
                    } else {
                        "permission_denied"
                    }
                )),
            }
            c.cancel().await.unwrap();
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the permission table's cells disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_see_only_their_workspaces_and_their_own_keys() {
    let f = fixture().await;
    let as_user =
        |u: &str| Caller::new(f.admin.account, UserId::parse_field(u, "user_id").unwrap());
    let slugs = |v: Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["slug"].as_str().unwrap().to_owned())
            .collect()
    };
    let c = connect(&f.gates, as_user("user_in")).await;
    let list = call(&c, "workspace_list", json!({})).await.unwrap();
    assert_eq!(slugs(list.clone()), ["default", "team"]);
    assert_eq!(
        list["total_count"], 2,
        "total_count counts only visible ones"
    );
    let keys = call(
        &c,
        "key_list",
        json!({"workspace": "team", "include_inactive": true}),
    )
    .await
    .unwrap();
    let names: Vec<&str> = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["kin", "kdis"], "the admin's key is not listed");
    c.cancel().await.unwrap();

    let c = connect(&f.gates, as_user("user_out")).await;
    let list = call(&c, "workspace_list", json!({"include_archived": true}))
        .await
        .unwrap();
    assert_eq!(slugs(list), ["default"]);
    c.cancel().await.unwrap();
}

/// One raw HTTP/1.1 POST of a JSON-RPC `tools/call` to `url`; returns the status code.
fn post_tool_call(url: &str, bearer: &str, tool: &str) -> u16 {
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "arguments": {}}})
    .to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {bearer}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         MCP-Protocol-Version: 2025-11-25\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Inference keys send traffic through a gateway; they manage nothing. The release binary's
/// HTTP layer refuses every tool call made with one with 403, whoever owns the key.
#[test]
fn inference_keys_are_refused_for_every_tool() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("perm.redb");
    let inference = common::create_key(&db, &["--name", "gw"]);
    let management = common::create_key(&db, &["--name", "ops", "--management"]);
    let mut server = common::serve_http(&db, &[]);
    let tools: BTreeSet<&str> = rows().iter().map(|r| r.0).collect();
    for tool in &tools {
        assert_eq!(
            post_tool_call(&server.url, &inference, tool),
            403,
            "{tool} with an inference key"
        );
    }
    // The same request with a management key passes the authentication layer.
    assert_ne!(
        post_tool_call(&server.url, &management, "workspace_list"),
        403
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
