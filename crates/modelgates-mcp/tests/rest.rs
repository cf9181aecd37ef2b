//! The REST API (`/api/v1`) against the release binary, on the wire: the seed SDKs' statuses
//! and envelopes, field-named 400s for bad input, 404/405/413 with the error envelope, the
//! authentication and Host rules shared with MCP, `--read-only`.

mod common;

use serde_json::{Value, json};

struct Api {
    base: String,
    key: String,
}

impl Api {
    /// Sends a request with the key (and a JSON body, if any) and returns the raw answer: for
    /// the answers without a body (204).
    fn send(&self, method: &str, path: &str, body: Option<&str>) -> common::RawResponse {
        let mut headers = vec![("Authorization", format!("Bearer {}", self.key))];
        if body.is_some() {
            headers.push(("Content-Type", "application/json".to_owned()));
        }
        common::http(
            &format!("{}{path}", self.base),
            method,
            &headers,
            body.unwrap_or(""),
        )
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut headers = vec![("Authorization", format!("Bearer {}", self.key))];
        let text = match body {
            Some(b) => {
                headers.push(("Content-Type", "application/json".to_owned()));
                b.to_string()
            }
            None => String::new(),
        };
        self.raw(method, path, &headers, &text)
    }

    fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &str,
    ) -> (u16, Value) {
        let r = common::http(&format!("{}{path}", self.base), method, headers, body);
        if r.status != 200 && r.status != 201 {
            assert_eq!(
                r.header("content-type"),
                Some("application/json"),
                "{method} {path}: every answer is JSON: {r:?}"
            );
        }
        let v = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {r:?}"));
        (r.status, v)
    }
}

/// `{"error": {"code": <status>, "message", "metadata"}}` with `status`; returns the error.
fn error(status: u16, got: (u16, Value)) -> Value {
    let (code, body) = got;
    assert_eq!(code, status, "{body}");
    let e = &body["error"];
    assert_eq!(e["code"], json!(status), "integer code: {body}");
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(e.get("metadata").is_some(), "metadata present: {body}");
    e.clone()
}

/// A running server, stopped when dropped (also when a test fails).
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(extra: &[&str]) -> (Running, Api, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rest.redb");
    let key = common::create_key(&db, &["--name", "admin", "--management"]);
    let (child, url) = common::serve_http_quiet(&db, extra);
    let base = url.trim_end_matches("/mcp").to_owned() + "/api/v1";
    (Running(child), Api { base, key }, dir)
}

const WORKSPACE_KEYS: [&str; 17] = [
    "id",
    "name",
    "slug",
    "description",
    "default_text_model",
    "default_image_model",
    "default_provider_sort",
    "default_guardrail_id",
    "io_logging_api_key_ids",
    "io_logging_sampling_rate",
    "is_data_discount_logging_enabled",
    "is_observability_broadcast_enabled",
    "is_observability_io_logging_enabled",
    "created_by",
    "created_at",
    "updated_at",
    "disabled_server_tools",
];

#[test]
fn workspaces_follow_the_seed_sdks_wire_contract() {
    let (server, api, _dir) = start(&[]);

    // Create: 201 {data}, every key present even when null.
    let (status, body) = api.call(
        "POST",
        "/workspaces",
        Some(&json!({"name": "Production", "slug": "production", "description": "Prod"})),
    );
    assert_eq!(status, 201, "{body}");
    let ws = &body["data"];
    for k in WORKSPACE_KEYS {
        assert!(ws.get(k).is_some(), "key {k} present: {ws}");
    }
    assert_eq!(
        ws["default_guardrail_id"],
        json!(format!("default-guardrail-{}", ws["id"].as_str().unwrap()))
    );
    assert_eq!(ws["updated_at"], Value::Null);
    assert_eq!(ws["io_logging_sampling_rate"], json!(1.0));

    // Get by slug and by id.
    let (status, body) = api.call("GET", "/workspaces/production", None);
    assert_eq!((status, &body["data"]["id"]), (200, &ws["id"]));
    let id = ws["id"].as_str().unwrap();
    assert_eq!(api.call("GET", &format!("/workspaces/{id}"), None).0, 200);

    // List: defaults offset 0 / limit 50, {data, total_count}; limit outside 1..100 is a 400.
    let (status, body) = api.call("GET", "/workspaces", None);
    assert_eq!(status, 200);
    assert_eq!(body["total_count"], json!(2));
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    let e = error(400, api.call("GET", "/workspaces?limit=0", None));
    assert!(e["message"].as_str().unwrap().contains("limit"), "{e}");
    let e = error(400, api.call("GET", "/workspaces?limit=abc", None));
    assert_eq!(e["metadata"]["field"], json!("query.limit"), "{e}");
    let e = error(400, api.call("GET", "/workspaces?nope=1", None));
    assert!(e["message"].as_str().unwrap().contains("nope"), "{e}");

    // Update: absent keeps, null clears, a value sets; {} changes nothing.
    let (status, body) = api.call(
        "PATCH",
        "/workspaces/production",
        Some(&json!({"description": null, "name": "Prod"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["description"], Value::Null);
    assert_eq!(body["data"]["name"], json!("Prod"));
    assert_eq!(body["data"]["slug"], json!("production"));
    assert!(body["data"]["updated_at"].is_string());

    // Bad input: 400 naming the field; nothing changes.
    let e = error(
        400,
        api.call(
            "POST",
            "/workspaces",
            Some(&json!({"name": "X", "slug": "Bad Slug"})),
        ),
    );
    assert_eq!(e["metadata"]["field"], json!("slug"), "{e}");
    let e = error(
        400,
        api.call(
            "POST",
            "/workspaces",
            Some(&json!({"name": 5, "slug": "x"})),
        ),
    );
    assert_eq!(e["metadata"]["field"], json!("body.name"), "{e}");
    let e = error(
        400,
        api.call(
            "POST",
            "/workspaces",
            Some(&json!({"name": "X", "slug": "x", "colour": 1})),
        ),
    );
    assert!(e["message"].as_str().unwrap().contains("colour"), "{e}");
    let headers = [
        ("Authorization", format!("Bearer {}", api.key)),
        ("Content-Type", "application/json".to_owned()),
    ];
    let e = error(400, api.raw("POST", "/workspaces", &headers, "{\"name\": "));
    assert!(e["message"].as_str().unwrap().starts_with("body"), "{e}");
    let e = error(400, api.raw("POST", "/workspaces", &headers, ""));
    assert!(e["message"].as_str().unwrap().contains("empty"), "{e}");
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    error(413, api.raw("POST", "/workspaces", &headers, &big));
    let e = error(
        400,
        api.call(
            "POST",
            "/workspaces",
            Some(&json!({"name": "X", "slug": "x", "default_guardrail_id": "g1"})),
        ),
    );
    assert_eq!(e["metadata"]["field"], json!("default_guardrail_id"), "{e}");
    assert_eq!(
        api.call("GET", "/workspaces", None).1["total_count"],
        json!(2)
    );

    // Unknown route 404, wrong method 405, both with the envelope.
    error(404, api.call("GET", "/nothing-here", None));
    error(405, api.call("PUT", "/workspaces", Some(&json!({}))));

    // Delete: {deleted: true}; the default workspace never, confirmed or not.
    let e = error(
        400,
        api.call(
            "DELETE",
            "/workspaces/default?confirm_default_workspace_deletion=true",
            None,
        ),
    );
    assert_eq!(e["metadata"]["reason"], json!("DEFAULT_WORKSPACE"), "{e}");
    let (status, body) = api.call("DELETE", "/workspaces/production", None);
    assert_eq!((status, body), (200, json!({"deleted": true})));
    error(404, api.call("GET", "/workspaces/production", None));
    drop(server);
}

/// Runs `tests/e2e/SCRIPT BASE_URL KEY` with `interpreter` (relative to the repository root)
/// against a fresh server and asserts it ends with `E2E PASSED`.
fn run_sdk_script(interpreter: &str, script: &str) {
    let root = common::setup_e2e();
    let (server, api, _dir) = start(&[]);
    let out = std::process::Command::new(root.join(interpreter))
        .arg(root.join("tests/e2e").join(script))
        .arg(&api.base)
        .arg(&api.key)
        .output()
        .unwrap_or_else(|e| panic!("run {interpreter} {script}: {e}"));
    drop(server);
    common::assert_e2e_passed(script, &out);
}

/// The official `openrouter` Python SDK (the seed SDKs' PyPI package), unmodified, against the
/// release binary: `tests/e2e/rest_sdk.py`.
#[test]
fn the_python_seed_sdk_works_unmodified() {
    run_sdk_script(".venv/bin/python", "rest_sdk.py");
}

/// The official `@openrouter/sdk` TypeScript SDK (the seed SDKs' npm package), unmodified,
/// against the release binary: `tests/e2e/rest_sdk.mjs` on the project's Node 22.
#[test]
fn the_typescript_seed_sdk_works_unmodified() {
    run_sdk_script("node_modules/.bin/node", "rest_sdk.mjs");
}

#[test]
fn members_keys_and_io_logging_by_key_number() {
    let (server, api, dir) = start(&[]);
    // Organization members, in the SDK's shape.
    let (status, body) = api.call("GET", "/organization/members", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total_count"], json!(1));
    let admin = &body["data"][0];
    for k in ["id", "email", "first_name", "last_name", "role"] {
        assert!(admin.get(k).is_some(), "{k}: {admin}");
    }
    assert_eq!(admin["role"], json!("org:admin"));

    // Member management: add (201), get, update (null clears), refused role, remove.
    let (status, body) = api.call(
        "POST",
        "/organization/members",
        Some(&json!({"id": "user_bob", "email": "bob@example.com", "first_name": "Bob"})),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["role"], json!("org:member"));
    let e = error(
        409,
        api.call(
            "POST",
            "/organization/members",
            Some(&json!({"id": "user_bob2", "email": "BOB@example.com"})),
        ),
    );
    assert!(e["message"].as_str().unwrap().contains("email"), "{e}");
    let (status, body) = api.call(
        "PATCH",
        "/organization/members/user_bob",
        Some(&json!({"first_name": null, "role": "org:admin"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["first_name"], Value::Null);
    assert_eq!(body["data"]["role"], json!("org:admin"));
    let e = error(
        400,
        api.call(
            "PATCH",
            "/organization/members/user_bob",
            Some(&json!({"role": "owner"})),
        ),
    );
    assert_eq!(e["metadata"]["field"], json!("body.role"), "{e}");
    let (status, body) = api.call("DELETE", "/organization/members/user_bob", None);
    assert_eq!((status, body), (200, json!({"deleted": true})));
    error(404, api.call("GET", "/organization/members/user_bob", None));

    // Workspace membership: list, bulk add (unknown users are a 400 naming them), remove.
    api.call(
        "POST",
        "/workspaces",
        Some(&json!({"name": "Team", "slug": "team"})),
    );
    let (status, body) = api.call("GET", "/workspaces/team/members", None);
    assert_eq!((status, &body["total_count"]), (200, &json!(1)), "{body}");
    let e = error(
        400,
        api.call(
            "POST",
            "/workspaces/team/members/add",
            Some(&json!({"user_ids": ["user_nobody"]})),
        ),
    );
    assert!(
        e["message"].as_str().unwrap().contains("user_nobody"),
        "{e}"
    );
    let (status, body) = api.call(
        "POST",
        "/workspaces/team/members/remove",
        Some(&json!({"user_ids": ["user_admin"]})),
    );
    assert_eq!((status, &body), (200, &json!({"removed_count": 1})));

    // io_logging_api_key_ids are key numbers: the admin's key is number 1.
    let (status, body) = api.call(
        "PATCH",
        "/workspaces/default",
        Some(&json!({"io_logging_api_key_ids": [1]})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["io_logging_api_key_ids"], json!([1]));
    let e = error(
        400,
        api.call(
            "PATCH",
            "/workspaces/default",
            Some(&json!({"io_logging_api_key_ids": [9]})),
        ),
    );
    assert_eq!(
        e["metadata"]["field"],
        json!("io_logging_api_key_ids[0]"),
        "{e}"
    );
    let e = error(
        400,
        api.call(
            "PATCH",
            "/workspaces/default",
            Some(&json!({"io_logging_api_key_ids": ["key_x"]})),
        ),
    );
    assert_eq!(
        e["metadata"]["field"],
        json!("body.io_logging_api_key_ids[0]"),
        "{e}"
    );
    drop(server);
    drop(dir);
}

#[test]
fn authentication_host_and_read_only_rules_are_those_of_mcp() {
    let (server, api, _dir) = start(&["--read-only"]);
    // No key: 401 with the REST envelope and WWW-Authenticate.
    let r = common::http(&format!("{}/workspaces", api.base), "GET", &[], "");
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["error"]["code"], json!(401), "{body}");
    // An unknown key: 401.
    let bad = Api {
        base: api.base.clone(),
        key: "mg-v1-0000000000000000000000000000000000000000000000000000000000000000".into(),
    };
    error(401, bad.call("GET", "/workspaces", None));
    // Reads pass; writes are refused by --read-only.
    assert_eq!(api.call("GET", "/workspaces", None).0, 200);
    let e = error(
        403,
        api.call(
            "POST",
            "/workspaces",
            Some(&json!({"name": "X", "slug": "x"})),
        ),
    );
    assert!(e["message"].as_str().unwrap().contains("read-only"), "{e}");
    // A foreign Host (DNS rebinding) and a foreign Origin are refused.
    let headers = [
        ("Authorization", format!("Bearer {}", api.key)),
        ("Host", "evil.example".to_owned()),
    ];
    let r = raw_with_host(&api.base, &headers);
    assert_eq!(r.status, 403, "{r:?}");
    let headers = [
        ("Authorization", format!("Bearer {}", api.key)),
        ("Origin", "https://evil.example".to_owned()),
    ];
    error(403, api.raw("GET", "/workspaces", &headers, ""));
    drop(server);
}

/// A GET whose `Host` header is the given one instead of the server's address.
fn raw_with_host(base: &str, headers: &[(&str, String)]) -> common::RawResponse {
    use std::io::{Read, Write};
    let rest = base.trim_start_matches("http://");
    let (addr, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut head = format!("GET /{path}/workspaces HTTP/1.1\r\nConnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    common::RawResponse {
        status,
        headers: Vec::new(),
        body: text,
    }
}

/// Seed 003: a workspace's models in the seed's camelCase `{metadata, spec}`.
#[test]
fn seed_003_models_routes() {
    let (server, api, _dir) = start(&[]);
    let (status, body) = api.call("GET", "/workspaces/default/models?limit=100", None);
    assert_eq!(status, 200, "{body}");
    let total = body["total_count"].as_u64().unwrap();
    assert!(total > 10, "{body}");
    let first = &body["data"][0];
    for k in [
        "id",
        "accountId",
        "createdAt",
        "name",
        "profileId",
        "workspaceId",
    ] {
        assert!(first["metadata"].get(k).is_some(), "metadata.{k}: {first}");
    }
    for k in [
        "family",
        "provider",
        "inputPricePerMillionTokens",
        "outputPricePerMillionTokens",
        "maxInputTokens",
        "maxOutputTokens",
        "status",
    ] {
        assert!(first["spec"].get(k).is_some(), "spec.{k}: {first}");
    }
    let id = first["metadata"]["id"].as_str().unwrap().to_owned();
    let reference = format!(
        "{}%2F{}",
        first["spec"]["provider"].as_str().unwrap(),
        first["spec"]["family"].as_str().unwrap()
    );
    let (status, by_id) = api.call("GET", &format!("/workspaces/default/models/{id}"), None);
    assert_eq!(status, 200, "{by_id}");
    let (_, by_ref) = api.call(
        "GET",
        &format!("/workspaces/default/models/{reference}"),
        None,
    );
    assert_eq!(by_id, by_ref, "by id and by provider/family");

    // Status: disable, filter, bad value named.
    let (status, body) = api.call(
        "PUT",
        &format!("/workspaces/default/models/{id}/status"),
        Some(&json!({"status": "MODEL_STATUS_DISABLED"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["spec"]["status"], json!("MODEL_STATUS_DISABLED"));
    let (_, body) = api.call(
        "GET",
        "/workspaces/default/models?status=MODEL_STATUS_DISABLED",
        None,
    );
    assert_eq!(body["total_count"], json!(1), "{body}");
    let e = error(
        400,
        api.call(
            "PUT",
            &format!("/workspaces/default/models/{id}/status"),
            Some(&json!({"status": "OFF"})),
        ),
    );
    assert_eq!(e["metadata"]["field"], json!("body.status"), "{e}");
    error(
        404,
        api.call(
            "GET",
            "/workspaces/default/models/model_01JZZZZZZZZZZZZZZZZZZZZZZZ",
            None,
        ),
    );

    // Custom models: register (201), delete.
    let (status, body) = api.call(
        "POST",
        "/workspaces/default/models",
        Some(
            &json!({"provider": "local", "family": "coder", "maxInputTokens": 32000,
                     "maxOutputTokens": 4000, "labels": {"team": "ml"}}),
        ),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["metadata"]["labels"], json!({"team": "ml"}));
    let (_, body) = api.call(
        "GET",
        "/workspaces/default/models?labelSelector=team%3Dml",
        None,
    );
    assert_eq!(body["total_count"], json!(1), "{body}");
    let (status, body) = api.call("DELETE", "/workspaces/default/models/local%2Fcoder", None);
    assert_eq!((status, &body["deleted"]), (200, &json!(true)), "{body}");
    drop(server);
}

/// Seed 004's operations at CodeGate's paths, with the seed's request samples as written.
#[test]
fn seed_004_operations_at_codegate_paths() {
    let (server, api, _dir) = start(&[]);
    // Provider endpoints: the seed's sample ("" id and endpoint mean the defaults).
    let (status, p) = api.call(
        "POST",
        "/provider-endpoints",
        Some(
            &json!({"id": "", "name": "openai-prod", "description": "", "provider_type": "openai",
                     "endpoint": "", "auth_type": "api_key", "api_key": "sk-test-not-real"}),
        ),
    );
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["endpoint"], json!("https://api.openai.com/v1"));
    assert_eq!(p["has_api_key"], json!(true));
    assert!(p.get("api_key").is_none(), "write-only: {p}");
    let (status, p) = api.call(
        "PUT",
        "/provider-endpoints/openai-prod",
        Some(&json!({"id": "", "name": "openai-main", "description": "Main", "provider_type": "openai",
                     "endpoint": "", "auth_type": "api_key"})),
    );
    assert_eq!((status, &p["name"]), (200, &json!("openai-main")), "{p}");
    let e = error(
        400,
        api.call(
            "PUT",
            "/provider-endpoints/openai-main",
            Some(&json!({"name": "openai-main", "provider_type": "openai", "auth_type": "none"})),
        ),
    );
    assert!(
        e["message"].as_str().unwrap().contains("auth-material"),
        "{e}"
    );
    let r = api.send(
        "PUT",
        "/provider-endpoints/openai-main/auth-material",
        Some(r#"{"auth_type": "passthrough", "api_key": null}"#),
    );
    assert_eq!(r.status, 204, "{r:?}");
    let (_, p) = api.call("GET", "/provider-endpoints/openai-main", None);
    assert_eq!(
        (&p["auth_type"], &p["has_api_key"]),
        (&json!("passthrough"), &json!(false))
    );
    let (_, listed) = api.call("GET", "/provider-endpoints", None);
    assert_eq!(listed["total_count"], json!(1), "{listed}");

    // Mux rules: a bare JSON array in and out; PUT answers 204.
    let rules = json!([
        {"provider_name": "openai-main", "provider_type": "openai", "model": "gpt-4o",
         "matcher_type": "filename_match", "matcher": "*.py"},
        {"provider_name": "openai-main", "provider_type": "openai", "model": "gpt-4o",
         "matcher_type": "catch_all", "matcher": null}
    ]);
    let r = api.send("PUT", "/workspaces/default/muxes", Some(&rules.to_string()));
    assert_eq!(r.status, 204, "{r:?}");
    let (status, got) = api.call("GET", "/workspaces/default/muxes", None);
    assert_eq!(status, 200);
    assert_eq!(got[0]["matcher"], json!("*.py"), "{got}");
    assert_eq!(got.as_array().unwrap().len(), 2);
    let e = error(
        400,
        api.call(
            "PUT",
            "/workspaces/default/muxes",
            Some(&json!([{"provider_name": "nope", "model": "m", "matcher_type": "catch_all"}])),
        ),
    );
    assert!(e["message"].as_str().unwrap().contains("nope"), "{e}");
    // A check answers what PUT would store, with the rules no request reaches, and stores
    // nothing; it fails as PUT would.
    let shadowed = json!([
        {"provider_name": "openai-main", "model": "gpt-4o", "matcher_type": "chat_filename", "matcher": "*.py"},
        {"provider_name": "openai-main", "model": "gpt-4o", "matcher_type": "chat_filename", "matcher": "*.py"},
    ]);
    let (status, checked) = api.call("POST", "/workspaces/default/muxes/check", Some(&shadowed));
    assert_eq!(status, 200, "{checked}");
    assert_eq!(
        checked["unreachable_rules"],
        json!([{"index": 1, "shadowed_by": [0]}]),
        "{checked}"
    );
    assert_eq!(checked["rules"][0]["provider_name"], json!("openai-main"));
    let (_, got) = api.call("GET", "/workspaces/default/muxes", None);
    assert_eq!(
        got.as_array().unwrap().len(),
        2,
        "the check stored nothing: {got}"
    );
    let e = error(
        400,
        api.call(
            "POST",
            "/workspaces/default/muxes/check",
            Some(&json!([{"provider_name": "openai-main", "model": "gpt-4o", "matcher_type": "filename_match"}])),
        ),
    );
    assert_eq!(e["metadata"]["field"], json!("rules[0].matcher"), "{e}");
    let (status, route) = api.call(
        "POST",
        "/workspaces/default/route",
        Some(&json!({"request_type": "chat", "files": ["src/app.py"]})),
    );
    assert_eq!((status, &route["rule_index"]), (200, &json!(0)), "{route}");
    // Seed 004's workspace filter: the workspaces whose rules use a provider.
    let (_, using) = api.call("GET", "/workspaces?provider_name=openai-main", None);
    assert_eq!(using["total_count"], json!(1), "{using}");
    assert_eq!(using["data"][0]["slug"], json!("default"), "{using}");

    // Custom instructions: {"prompt"}; PUT and DELETE answer 204.
    let url = "/workspaces/default/custom-instructions";
    assert_eq!(
        api.send("PUT", url, Some(r#"{"prompt": "Be brief."}"#))
            .status,
        204
    );
    let (_, got) = api.call("GET", "/workspaces/default/custom-instructions", None);
    assert_eq!(got, json!({"prompt": "Be brief."}));
    assert_eq!(api.send("DELETE", url, None).status, 204);
    let (_, got) = api.call("GET", "/workspaces/default/custom-instructions", None);
    assert_eq!(got, json!({"prompt": ""}));

    // The active workspace, archiving and recovery.
    api.call(
        "POST",
        "/workspaces",
        Some(&json!({"name": "Team", "slug": "team"})),
    );
    let (_, got) = api.call("GET", "/workspaces/active", None);
    assert_eq!(got["workspaces"][0]["name"], json!("default"), "{got}");
    let activate = "/workspaces/active";
    assert_eq!(
        api.send("POST", activate, Some(r#"{"name": "team"}"#))
            .status,
        204
    );
    let (_, got) = api.call("GET", "/workspaces/active", None);
    assert_eq!(got["workspaces"][0]["name"], json!("team"));
    assert_eq!(
        api.send("POST", activate, Some(r#"{"name": "default"}"#))
            .status,
        204
    );
    assert_eq!(
        api.send("POST", "/workspaces/team/archive", None).status,
        204
    );
    let (_, got) = api.call("GET", "/workspaces/archive", None);
    assert_eq!(
        got["workspaces"],
        json!([{"name": "team", "is_active": false}])
    );
    let recover = "/workspaces/archive/team/recover";
    assert_eq!(api.send("POST", recover, None).status, 204);
    let (_, got) = api.call("GET", "/workspaces/archive", None);
    assert_eq!(got["workspaces"], json!([]));

    // Seed 004's Update Workspace: PUT a FullWorkspace (name = slug, config replaced at once).
    let full = json!({"name": "team", "config": {"custom_instructions": "Hi", "muxing_rules": [
        {"provider_name": "openai-main", "provider_type": "openai", "model": "gpt-4o",
         "matcher_type": "catch_all", "matcher": null}]}});
    let (status, got) = api.call("PUT", "/workspaces/team", Some(&full));
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["config"]["custom_instructions"], json!("Hi"));
    assert_eq!(
        got["config"]["muxing_rules"][0]["model"],
        json!("gpt-4o"),
        "{got}"
    );
    let (status, got) = api.call("PUT", "/workspaces/team", Some(&json!({"name": "team-b"})));
    assert_eq!((status, &got["name"]), (200, &json!("team-b")), "{got}");
    assert_eq!(
        got["config"]["custom_instructions"],
        json!("Hi"),
        "no config keeps it"
    );
    let e = error(
        400,
        api.call(
            "PUT",
            "/workspaces/team-b",
            Some(&json!({"name": "Bad Name"})),
        ),
    );
    assert_eq!(e["metadata"]["field"], json!("slug"), "{e}");

    // Personas: 201 on create, PUT with new_name/new_description, DELETE 204.
    let (status, p) = api.call(
        "POST",
        "/personas",
        Some(&json!({"name": "reviewer", "description": "Reviews pull requests carefully."})),
    );
    assert_eq!(status, 201, "{p}");
    let (status, p) = api.call(
        "PUT",
        "/personas/reviewer",
        Some(&json!({"new_name": "critic", "new_description": "Finds bugs in diffs."})),
    );
    assert_eq!((status, &p["name"]), (200, &json!("critic")), "{p}");
    assert_eq!(api.send("DELETE", "/personas/critic", None).status, 204);
    error(404, api.call("GET", "/personas/critic", None));

    // Token usage, messages and alerts of a workspace with no traffic yet.
    let (status, usage) = api.call("GET", "/workspaces/default/token-usage", None);
    assert_eq!(status, 200, "{usage}");
    assert!(usage.get("tokens_by_model").is_some() && usage.get("token_usage").is_some());
    let (status, msgs) = api.call(
        "GET",
        "/workspaces/default/messages?page=1&page_size=10",
        None,
    );
    assert_eq!((status, &msgs["total"]), (200, &json!(0)), "{msgs}");
    let e = error(
        400,
        api.call("GET", "/workspaces/default/messages?page=0", None),
    );
    assert!(e["message"].as_str().unwrap().contains("page"), "{e}");
    let (status, alerts) = api.call("GET", "/workspaces/default/alerts", None);
    assert_eq!((status, alerts), (200, json!([])));

    // Usage recording (one record or a batch), then messages, alerts and token usage.
    let record = json!({
        "request_id": "req-1", "provider": "openai-main", "model": "gpt-4o",
        "input_tokens": 1000, "output_tokens": 100,
        "conversation": {"chat_id": "chat-1", "prompt": "my key is AKIAIOSFODNN7EXAMPLE",
                         "answer": "do not share it"},
        "alerts": [{"trigger_type": "secrets", "trigger_category": "critical"}]
    });
    let (status, body) = api.call("POST", "/workspaces/default/usage", Some(&record));
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"][0]["duplicate"], json!(false));
    let (_, body) = api.call("POST", "/workspaces/default/usage", Some(&json!([record])));
    assert_eq!(body["data"][0]["duplicate"], json!(true), "{body}");
    let e = error(
        400,
        api.call(
            "POST",
            "/workspaces/default/usage",
            Some(&json!([{"request_id": "r2", "provider": "p", "model": "m",
                          "input_tokens": -1, "output_tokens": 0}])),
        ),
    );
    assert_eq!(e["metadata"]["field"], json!("body[0].input_tokens"), "{e}");
    let (_, msgs) = api.call("GET", "/workspaces/default/messages", None);
    assert_eq!(msgs["total"], json!(1), "{msgs}");
    let text = msgs.to_string();
    assert!(
        !text.contains("AKIAIOSFODNN7EXAMPLE"),
        "secrets are redacted: {text}"
    );
    let (status, conv) = api.call("GET", "/workspaces/default/messages/chat-1", None);
    assert_eq!(status, 200, "{conv}");
    let (_, alerts) = api.call("GET", "/workspaces/default/alerts", None);
    assert!(!alerts.as_array().unwrap().is_empty(), "{alerts}");
    let (_, usage) = api.call("GET", "/workspaces/default/token-usage", None);
    assert_eq!(usage["token_usage"]["input_tokens"], json!(1000), "{usage}");

    // The same per day: one request, the record in today's bucket, empty days included.
    let now = chrono::Utc::now();
    let range = format!(
        "from={}&to={}",
        (now - chrono::Duration::days(6)).format("%Y-%m-%dT%H:%M:%SZ"),
        (now + chrono::Duration::minutes(1)).format("%Y-%m-%dT%H:%M:%SZ")
    );
    let (status, series) = api.call(
        "GET",
        &format!("/workspaces/default/token-usage/series?{range}&interval=day"),
        None,
    );
    assert_eq!(status, 200, "{series}");
    let buckets = series["buckets"].as_array().unwrap();
    assert!((7..=8).contains(&buckets.len()), "{series}");
    let today = buckets
        .iter()
        .find(|b| b["token_usage"]["requests"] == json!(1))
        .expect("the record's day");
    assert_eq!(
        today["tokens_by_model"]["openai-main/gpt-4o"]["token_usage"]["input_tokens"],
        json!(1000),
        "{series}"
    );
    assert_eq!(series["token_usage"]["requests"], json!(1), "{series}");
    for (query, field) in [
        (format!("{range}&interval=hour"), "query.interval"),
        (
            format!("{range}&interval=day&utc_offset_minutes=900"),
            "utc_offset_minutes",
        ),
        ("interval=day".to_owned(), "query"),
    ] {
        let e = error(
            400,
            api.call(
                "GET",
                &format!("/workspaces/default/token-usage/series?{query}"),
                None,
            ),
        );
        assert!(
            e["metadata"]["field"]
                .as_str()
                .is_some_and(|f| f.starts_with(field)),
            "{query}: {e}"
        );
    }
    drop(server);
}

/// `--toolsets` limits the REST routes as it limits MCP's tools.
#[test]
fn changes_over_rest_are_audit_events_naming_the_key_and_rest() {
    let (server, api, _dir) = start(&[]);
    let (status, made) = api.call(
        "POST",
        "/workspaces",
        Some(&json!({"name": "Audited", "slug": "audited"})),
    );
    assert_eq!(status, 201, "{made}");
    let id = made["data"]["id"].as_str().unwrap().to_owned();
    let (status, page) = api.call(
        "GET",
        &format!("/audit?resource_id={id}&operation=workspace_create"),
        None,
    );
    assert_eq!(status, 200, "{page}");
    let events = page["data"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{page}");
    let actor = &events[0]["actor"];
    assert_eq!(actor["user_id"], "user_admin");
    assert_eq!(actor["via"], "rest");
    assert!(
        actor["key_id"].as_str().unwrap().starts_with("key_"),
        "{actor}"
    );
    assert_eq!(
        events[0]["changes"][0]["fields"]["slug"]["after"],
        "audited"
    );
    // Retention: set, refused out of range (field named), and itself an event.
    let (status, body) = api.call("PUT", "/audit/retention", Some(&json!({"days": 30})));
    assert_eq!((status, &body["data"]["days"]), (200, &json!(30)), "{body}");
    let err = error(
        400,
        api.call("PUT", "/audit/retention", Some(&json!({"days": 0}))),
    );
    assert!(err["message"].as_str().unwrap().contains("days"), "{err}");
    let err = error(400, api.call("GET", "/audit?after=nope", None));
    assert!(err["message"].as_str().unwrap().contains("after"), "{err}");
    let (_, page) = api.call("GET", "/audit?limit=1", None);
    assert_eq!(
        page["data"][0]["operation"], "audit_retention_set",
        "{page}"
    );
    assert!(page["next_after"].as_str().unwrap().starts_with("aud_"));
    drop(server);
}

#[test]
fn creates_with_an_idempotency_key_are_safe_to_retry() {
    let (server, api, _dir) = start(&[]);
    let post = |path: &str, key: &str, body: &Value| {
        let headers = [
            ("Authorization", format!("Bearer {}", api.key)),
            ("Content-Type", "application/json".to_owned()),
            ("Idempotency-Key", key.to_owned()),
        ];
        let r = common::http(
            &format!("{}{path}", api.base),
            "POST",
            &headers,
            &body.to_string(),
        );
        let v: Value = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {r:?}"));
        (
            r.status,
            r.header("idempotent-replayed").map(str::to_owned),
            v,
        )
    };
    let body = json!({"name": "Retried", "slug": "retried"});
    let (status, replayed, first) = post("/workspaces", "op-1", &body);
    assert_eq!((status, replayed), (201, None), "{first}");
    let (status, replayed, again) = post("/workspaces", "op-1", &body);
    assert_eq!(
        (status, replayed.as_deref()),
        (201, Some("true")),
        "{again}"
    );
    assert_eq!(again, first, "the first answer, again");
    let (_, list) = api.call("GET", "/workspaces", None);
    let slugs: Vec<_> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["slug"] == "retried")
        .collect();
    assert_eq!(slugs.len(), 1, "created once: {list}");
    // The same key with another body: 409 naming the key; nothing created.
    let (status, _, err) = post(
        "/workspaces",
        "op-1",
        &json!({"name": "Other", "slug": "other"}),
    );
    assert_eq!(status, 409, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"op-1\""),
        "{err}"
    );
    assert_eq!(api.call("GET", "/workspaces/other", None).0, 404);
    // A retried key creation answers the key without its secret.
    let key_body = json!({"name": "ci"});
    let (status, _, made) = post("/keys", "key-1", &key_body);
    assert_eq!(status, 201, "{made}");
    assert!(
        made["key"]
            .as_str()
            .unwrap()
            .starts_with(modelgates::SECRET_PREFIX),
        "{made}"
    );
    let (status, replayed, again) = post("/keys", "key-1", &key_body);
    assert_eq!(
        (status, replayed.as_deref()),
        (201, Some("true")),
        "{again}"
    );
    assert_eq!(again["data"], made["data"]);
    assert!(again.get("key").is_none(), "no secret on a retry: {again}");
    // A malformed key is a 400 naming the header, and creates nothing.
    for bad in ["has space", &"x".repeat(256)] {
        let (status, _, err) = post("/workspaces", bad, &json!({"name": "Bad", "slug": "bad"}));
        assert_eq!(status, 400, "{err}");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Idempotency-Key"),
            "{err}"
        );
    }
    assert_eq!(api.call("GET", "/workspaces/bad", None).0, 404);
    drop(server);
}

#[test]
fn toolsets_limit_the_rest_routes_too() {
    let (server, api, _dir) = start(&["--toolsets", "workspaces"]);
    assert_eq!(api.call("GET", "/workspaces", None).0, 200);
    assert_eq!(api.call("GET", "/workspaces/active", None).0, 200);
    error(404, api.call("GET", "/personas", None));
    error(404, api.call("GET", "/workspaces/default/members", None));
    error(404, api.call("GET", "/workspaces/default/models", None));
    drop(server);
}

/// The served OpenAPI document is the committed one (`docs/openapi.json`, so the docs are not
/// stale), `openapi-spec-validator` accepts it, and Schemathesis, driven by it with a
/// management key, finds no 5XX and no answer that contradicts it (status codes, content
/// types, bodies against their schemas, schema-invalid requests refused, …).
///
/// Bounded by default (20 examples per operation, fixed seed: about ten seconds); set
/// `MODELGATES_SCHEMATHESIS_EXAMPLES` (and optionally `MODELGATES_SCHEMATHESIS_SEED`) for a
/// longer run. One check is left out: `positive_data_acceptance`, which expects every
/// schema-valid request to succeed; the domain's rules (a slug's characters, the default
/// workspace cannot be deleted, a glob matcher needs a pattern) refuse some with a documented
/// 400 that a JSON schema cannot express.
#[test]
fn openapi_document_is_current_valid_and_schemathesis_finds_no_fault() {
    let root = common::setup_e2e();
    let (server, api, dir) = start(&[]);
    let served = api.send("GET", "/openapi.json", None);
    assert_eq!(served.status, 200, "{served:?}");
    let served: Value = serde_json::from_str(&served.body).unwrap();
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("docs/openapi.json")).unwrap())
            .unwrap();
    assert!(
        served == committed,
        "the served document differs from docs/openapi.json: run `UPDATE_SNAPSHOTS=1 cargo \
         test -p modelgates-rest --test openapi`"
    );
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, served.to_string()).unwrap();
    let out = std::process::Command::new(root.join(".venv/bin/openapi-spec-validator"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let examples =
        std::env::var("MODELGATES_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "20".into());
    let seed = std::env::var("MODELGATES_SCHEMATHESIS_SEED").unwrap_or_else(|_| "1".into());
    // Updating and deleting keys run last and alone: the fuzzer finds the key it tests with
    // (`GET /keys`) and disables or deletes it, after which every request is a 401.
    let key_writes = ["updateKey", "deleteKey"];
    let run = |filter: &str, authenticated_throughout: bool| {
        let mut cmd = std::process::Command::new(root.join(".venv/bin/schemathesis"));
        cmd.args(["run", &format!("{}/openapi.json", api.base)])
            .args(["-H", &format!("Authorization: Bearer {}", api.key)])
            .args(["--max-examples", &examples, "--seed", &seed])
            .args([
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
            ])
            .args(["--generation-database", "none", "--no-color"])
            .current_dir(dir.path());
        for id in key_writes {
            cmd.args([filter, id]);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "schemathesis ({filter}) found failures:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(" passed")
                && !(authenticated_throughout && stdout.contains("Authentication failed")),
            "schemathesis ({filter}) did not test as the management key:\n{stdout}"
        );
    };
    run("--exclude-operation-id", true);
    run("--include-operation-id", false);
    drop(server);
}

/// Bundles over REST: plan (a YAML body, changes nothing, allowed on a read-only server),
/// apply with the reviewed fingerprint, an empty second plan, a stale fingerprint refused with
/// 409, a bad bundle refused with 400 naming its place, and the export.
#[test]
fn bundles_plan_apply_and_export_over_rest() {
    let (server, api, _dir) = start(&[]);
    let yaml = "bundle: rest\nworkspaces:\n  - slug: from-bundle\n    name: From a bundle\n    custom_instructions: Be brief.\n";
    let (status, plan) = api.call("POST", "/bundles/plan", Some(&json!({"bundle": yaml})));
    assert_eq!(status, 200, "{plan}");
    assert!(
        plan["text"]
            .as_str()
            .unwrap()
            .contains("+ workspace from-bundle"),
        "{plan}"
    );
    assert_eq!(
        api.call("GET", "/workspaces/from-bundle", None).0,
        404,
        "a plan changes nothing"
    );
    let fingerprint = plan["data"]["fingerprint"].clone();
    let (status, applied) = api.call(
        "POST",
        "/bundles/apply",
        Some(&json!({"bundle": yaml, "expected": fingerprint})),
    );
    assert_eq!(status, 200, "{applied}");
    assert_eq!(applied["data"]["applied"], true);
    let (status, ws) = api.call("GET", "/workspaces/from-bundle", None);
    assert_eq!(status, 200, "{ws}");
    let (_, again) = api.call("POST", "/bundles/plan", Some(&json!({"bundle": yaml})));
    assert_eq!(again["data"]["changes"], json!([]), "{again}");
    // Edited: the reviewed fingerprint no longer matches.
    let edited = yaml.replace("Be brief.", "Be thorough.");
    let (status, err) = api.call(
        "POST",
        "/bundles/apply",
        Some(&json!({"bundle": edited, "expected": fingerprint})),
    );
    assert_eq!(status, 409, "{err}");
    let (status, err) = api.call(
        "POST",
        "/bundles/plan",
        Some(&json!({"bundle": {"bundle": "rest", "workspaces": [{"slug": "x"}]}})),
    );
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"]["message"].as_str().unwrap().contains("name"),
        "{err}"
    );
    let (status, exported) = api.call("GET", "/bundles/export?bundle=copy", None);
    assert_eq!(status, 200, "{exported}");
    assert!(
        exported["yaml"]
            .as_str()
            .unwrap()
            .contains("slug: from-bundle"),
        "{exported}"
    );
    drop(server);

    // A read-only server plans but does not apply.
    let (server, api, _dir) = start(&["--read-only"]);
    let (status, plan) = api.call("POST", "/bundles/plan", Some(&json!({"bundle": yaml})));
    assert_eq!(status, 200, "{plan}");
    let (status, err) = api.call("POST", "/bundles/apply", Some(&json!({"bundle": yaml})));
    assert_eq!(status, 403, "{err}");
    drop(server);
}
