//! Concurrency over HTTP: several MCP sessions (rmcp's streamable HTTP client, each with the
//! management key) race to create the same workspace slug and the same provider name — exactly
//! one of each succeeds, every other call is a `conflict` result — then race to edit one
//! workspace's mux rules with the same `expected_revision`: exactly one wins. The database is
//! consistent afterwards (`modelgates check`).

mod common;

use std::sync::Arc;

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

const SESSIONS: usize = 8;

async fn race(
    clients: &[Arc<rmcp::service::RunningService<rmcp::RoleClient, ()>>],
    tool: &'static str,
    args: impl Fn(usize) -> Value,
) -> (usize, Vec<String>) {
    let mut tasks = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        let c = c.clone();
        let a = args(i).as_object().cloned().unwrap();
        tasks.push(tokio::spawn(async move {
            c.call_tool(CallToolRequestParams::new(tool).with_arguments(a))
                .await
                .expect("the call completes")
        }));
    }
    let (mut ok, mut codes) = (0, Vec::new());
    for t in tasks {
        let r = t.await.unwrap();
        if r.is_error == Some(true) {
            let body: Value =
                serde_json::from_str(r.content[0].as_text().map(|t| t.text.as_str()).unwrap())
                    .unwrap();
            codes.push(body["error"]["code"].as_str().unwrap().to_owned());
        } else {
            ok += 1;
        }
    }
    (ok, codes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_http_sessions_creating_the_same_thing_yield_exactly_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("race.redb");
    let key = common::create_key(&db, &["--management", "--name", "race"]);
    let mut server = common::serve_http(&db, &[]);
    std::thread::spawn(move || {
        use std::io::BufRead;
        for _ in server.stderr.lines() {}
    });

    let mut clients = Vec::new();
    for _ in 0..SESSIONS {
        let config = StreamableHttpClientTransportConfig::with_uri(server.url.as_str())
            .auth_header(key.clone());
        let transport = StreamableHttpClientTransport::from_config(config);
        clients.push(Arc::new(().serve(transport).await.expect("session")));
    }

    for round in 0..5 {
        let slug = format!("race-{round}");
        let (ok, codes) = race(
            &clients,
            "workspace_create",
            |i| json!({"name": format!("Session {i}"), "slug": slug}),
        )
        .await;
        assert_eq!(ok, 1, "round {round}: exactly one create succeeds");
        assert!(
            codes.iter().all(|c| c == "conflict"),
            "round {round}: the others conflict: {codes:?}"
        );

        let name = format!("prov-{round}");
        let (ok, codes) = race(
            &clients,
            "provider_add",
            |_| json!({"name": name, "provider_type": "openai"}),
        )
        .await;
        assert_eq!(ok, 1, "round {round}: exactly one provider_add succeeds");
        assert!(codes.iter().all(|c| c == "conflict"), "{codes:?}");

        // Everyone read revision `round` of the rule list; only one edit may land on it.
        let (ok, codes) = race(&clients, "workspace_mux_set", |i| {
            json!({"workspace": "default", "expected_revision": round,
                   "rules": [{"provider": name, "model": "gpt-5", "matcher_type": "filename_match",
                              "matcher": format!("*.s{i}")}]})
        })
        .await;
        assert_eq!(ok, 1, "round {round}: exactly one rule edit lands");
        assert!(codes.iter().all(|c| c == "conflict"), "{codes:?}");
    }

    for c in clients {
        if let Ok(c) = Arc::try_unwrap(c) {
            let _ = c.cancel().await;
        }
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status();
    assert!(server.child.wait().unwrap().success(), "clean shutdown");
    let check = std::process::Command::new(common::binary())
        .args(["check", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "modelgates check: {}",
        String::from_utf8_lossy(&check.stdout)
    );
}
