//! The gateway's added latency: the same non-streaming chat request sent at a fixed rate
//! (open loop, default 1,000 requests/s for 20 s after a 2 s warm-up) straight to a mock
//! provider and through the gateway (key verification, routing, the upstream read, the body
//! rewrite, forwarding, usage queued for durable batch recording on a redb file), all on this
//! machine. A third row sends the same load through a bare forwarding proxy (axum receiving,
//! reqwest forwarding the body as it is, no ModelGates), so the figures separate what any
//! extra HTTP hop costs here from what the gateway's own work adds. Prints p50/p99/max of each
//! and the differences.
//!
//! `cargo bench -p modelgates-example-gateway --bench overhead`
//! (`GATEWAY_BENCH_RPS`, `GATEWAY_BENCH_SECS` change the rate and the duration).

use std::time::{Duration, Instant};

use axum::http::header;
use modelgates::{MatcherType, ModelGates, NewKey, NewMuxRule, NewProvider, ProviderType, Secret};
use modelgates_example_gateway::{Gateway, GatewayOptions, Recorder};
use modelgates_redb::RedbStore;

const ANSWER: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":0,"model":"gpt-5","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, how can I help?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":21,"completion_tokens":8,"total_tokens":29}}"#;

const REQUEST: &str = r#"{"model":"x","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Fix this:\n```python src/app.py\nprint(1)\n```"}]}"#;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// Sends `rps` requests a second for `secs` seconds (open loop), returns the latencies of those
/// sent after the warm-up, sorted.
async fn load(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    rps: u64,
    secs: u64,
) -> Vec<Duration> {
    let warmup = 2 * rps;
    let total = warmup + secs * rps;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rps));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for i in 0..total {
        tick.tick().await;
        let (client, url, key, tx) = (client.clone(), url.to_owned(), key.to_owned(), tx.clone());
        tokio::spawn(async move {
            let start = Instant::now();
            let response = client
                .post(&url)
                .bearer_auth(&key)
                .header(header::CONTENT_TYPE, "application/json")
                .body(REQUEST)
                .send()
                .await
                .expect("request");
            assert!(response.status().is_success(), "{}", response.status());
            let _ = response.bytes().await.expect("body");
            if i >= warmup {
                let _ = tx.send(start.elapsed());
            }
        });
    }
    drop(tx);
    let mut out = Vec::with_capacity((secs * rps) as usize);
    while let Some(d) = rx.recv().await {
        out.push(d);
    }
    out.sort();
    out
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let rps = env_or("GATEWAY_BENCH_RPS", 1000).max(1);
        let secs = env_or("GATEWAY_BENCH_SECS", 20).max(1);
        let provider = serve(axum::Router::new().route(
            "/v1/chat/completions",
            axum::routing::post(|| async {
                ([(header::CONTENT_TYPE, "application/json")], ANSWER)
            }),
        ))
        .await;

        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("bench.redb")).unwrap();
        let gates = ModelGates::open(store.clone()).unwrap();
        let admin = gates.default_caller().unwrap();
        gates
            .provider_add(
                &admin,
                NewProvider {
                    name: "mock".into(),
                    description: None,
                    provider_type: ProviderType::Openai,
                    endpoint: Some(format!("{provider}/v1")),
                    auth_type: None,
                    api_key: Some(Secret::new("sk-bench-upstream")),
                },
            )
            .unwrap();
        let rule = |model: &str, matcher_type, matcher: Option<&str>| NewMuxRule {
            provider: "mock".into(),
            provider_type: None,
            model: model.into(),
            matcher_type,
            matcher: matcher.map(Into::into),
        };
        gates
            .workspace_mux_set(
                &admin,
                Some("default"),
                &[
                    rule("gpt-5-mini", MatcherType::FilenameMatch, Some("*.rs")),
                    rule("gpt-5", MatcherType::FilenameMatch, Some("*.py")),
                    rule("gpt-5-nano", MatcherType::CatchAll, None),
                ],
                None,
            )
            .unwrap();
        gates
            .workspace_instructions_set(&admin, Some("default"), Some("Answer briefly."))
            .unwrap();
        let key = gates
            .key_create(
                &admin,
                NewKey {
                    name: "bench".into(),
                    workspace: "default".into(),
                    ..Default::default()
                },
            )
            .unwrap()
            .key
            .unwrap();
        let (recorder, recording) = Recorder::start(gates.clone()).unwrap();
        let gateway = Gateway::new(gates.clone(), recorder, GatewayOptions::default()).unwrap();
        let gateway_url = serve(gateway.router()).await;

        let upstream = reqwest::Client::new();
        let target = format!("{provider}/v1/chat/completions");
        let bare_url = serve(axum::Router::new().route(
            "/v1/chat/completions",
            axum::routing::post(move |body: axum::body::Bytes| {
                let (upstream, target) = (upstream.clone(), target.clone());
                async move {
                    let response = upstream
                        .post(&target)
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(body)
                        .send()
                        .await
                        .expect("upstream");
                    let body = response.bytes().await.expect("upstream body");
                    ([(header::CONTENT_TYPE, "application/json")], body)
                }
            }),
        ))
        .await;

        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .build()
            .unwrap();
        println!("open loop, {rps} requests/s for {secs} s each (after a 2 s warm-up)");
        let direct = load(
            &client,
            &format!("{provider}/v1/chat/completions"),
            "sk-direct",
            rps,
            secs,
        )
        .await;
        let bare = load(
            &client,
            &format!("{bare_url}/v1/chat/completions"),
            "sk-direct",
            rps,
            secs,
        )
        .await;
        let through = load(
            &client,
            &format!("{gateway_url}/v1/chat/completions"),
            &key,
            rps,
            secs,
        )
        .await;
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!("| path | requests | p50 | p99 | max |");
        println!("|---|---|---|---|---|");
        for (name, l) in [
            ("direct to the mock provider", &direct),
            ("through a bare forwarding proxy", &bare),
            ("through the gateway", &through),
        ] {
            println!(
                "| {name} | {} | {:.0} µs | {:.0} µs | {:.0} µs |",
                l.len(),
                us(pct(l, 0.50)),
                us(pct(l, 0.99)),
                us(*l.last().unwrap())
            );
        }
        let added = |over: &[Duration]| {
            format!(
                "p50 {:.0} µs, p99 {:.0} µs",
                us(pct(&through, 0.50)) - us(pct(over, 0.50)),
                us(pct(&through, 0.99)) - us(pct(over, 0.99))
            )
        };
        println!("added by the gateway over direct: {}", added(&direct));
        println!("added by the gateway over the bare proxy: {}", added(&bare));
        // Everything sent was recorded: wait for the recorder, then count.
        drop(gateway_url);
        let deadline = Instant::now() + Duration::from_secs(30);
        let expected = (secs + 2) * rps;
        loop {
            let usage = gates
                .workspace_usage(&admin, Some("default"), None, None)
                .unwrap();
            if usage.token_usage.requests >= expected || Instant::now() > deadline {
                println!(
                    "usage records: {} of {expected}",
                    usage.token_usage.requests
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        drop(recording);
        drop(store);
    });
}
