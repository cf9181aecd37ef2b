//! Issue 7's usage benchmarks on redb, durable, recorded in docs/benchmarks.md:
//! - recording throughput in batches of 1,000 (`usage_record_batch`, one durable commit each);
//! - `workspace_usage` over random time ranges with all records in one workspace (the first 200
//!   after opening reported apart);
//! - `workspace_usage_series` as the dashboard asks it (14 days, 12 weeks, 12 months) and a
//!   year of days;
//! - a messages page (`workspace_messages_list`), every 10th record carrying a conversation
//!   (every 100th also an alert);
//! - database size per record.
//!
//! Records are spread evenly over 365 days in time order (as a gateway reports them), across 5
//! catalog models of one provider endpoint.
//!
//! Run: `cargo bench -p modelgates-redb --bench usage` (USAGE_RECORDS=n, default 10,000,000;
//! USAGE_DAYS=d spreads them over d days instead of 365, e.g. 1,000,000 over 36 days has the
//! density of the full run; USAGE_BENCH_DB=path keeps the database for reuse; BENCH_DIR=dir picks
//! its directory).

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use modelgates::{
    Alert, AlertCategory, MessageFilter, ModelGates, NewConversation, NewProvider, NewUsage,
    ProviderType, RequestKind, UsageInterval,
};
use modelgates_redb::RedbStore;

const MODELS: [&str; 5] = ["gpt-5", "gpt-5-mini", "gpt-4.1", "o3", "gpt-4o"];

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn main() {
    let n: u64 = std::env::var("USAGE_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let days: i64 = std::env::var("USAGE_DAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(365);
    let span_ms = days * 86_400_000;
    let base = std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(base).unwrap();
    let path = std::env::var_os("USAGE_BENCH_DB")
        .map_or_else(|| dir.path().join("usage.redb"), Into::into);
    let reuse = path.exists();
    let store = RedbStore::open(&path).unwrap();
    let gates = ModelGates::open(store.clone()).unwrap();
    let admin = gates.default_caller().unwrap();
    let t0 = Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap();

    if !reuse {
        gates
            .provider_add(
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
        let step = span_ms / n as i64;
        let mut batch_times = Vec::new();
        let start = Instant::now();
        for b in 0..n / 1000 {
            let batch: Vec<NewUsage> = (0..1000)
                .map(|j| {
                    let i = b * 1000 + j;
                    NewUsage {
                        request_id: format!("req-{i}"),
                        provider: "openai-prod".into(),
                        model: MODELS[(i % 5) as usize].into(),
                        request_type: Some(if i % 3 == 0 {
                            RequestKind::Fim
                        } else {
                            RequestKind::Chat
                        }),
                        input_tokens: 500 + i % 4000,
                        output_tokens: 50 + i % 700,
                        timestamp: Some(t0 + chrono::Duration::milliseconds(i as i64 * step)),
                        conversation: (i % 10 == 0).then(|| NewConversation {
                            chat_id: Some(format!("chat-{}", i % 1000)),
                            prompt: format!("How do I write test number {i}?"),
                            answer: Some("Like this.".into()),
                            ..Default::default()
                        }),
                        alerts: if i % 100 == 0 {
                            vec![Alert {
                                trigger_type: "pii".into(),
                                trigger_category: AlertCategory::Critical,
                                trigger_string: Some("email".into()),
                                code_snippet: None,
                                detected: false,
                            }]
                        } else {
                            vec![]
                        },
                        ..Default::default()
                    }
                })
                .collect();
            let t = Instant::now();
            gates.usage_record_batch(&admin, &batch).unwrap();
            batch_times.push(t.elapsed());
            if b % 1000 == 999 {
                eprintln!(
                    "{} records, {:.0} records/s so far",
                    (b + 1) * 1000,
                    ((b + 1) * 1000) as f64 / start.elapsed().as_secs_f64()
                );
            }
        }
        let total = start.elapsed();
        batch_times.sort();
        println!(
            "recorded {n} records in {:.1} s: {:.0} records/s (batches of 1,000, durable); \
             batch median {:?}, p99 {:?}",
            total.as_secs_f64(),
            n as f64 / total.as_secs_f64(),
            pct(&batch_times, 0.5),
            pct(&batch_times, 0.99)
        );
    }

    // The first 200 queries after opening run while redb's page cache fills; they are reported
    // apart from the 2,000 measured after them (what a serving process sees).
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut samples = Vec::new();
    let mut requests = 0;
    for _ in 0..2200 {
        let a = rng.below(span_ms as u64) as i64;
        let b = rng.below(span_ms as u64) as i64;
        let (from, to) = (a.min(b), a.max(b));
        let from = t0 + chrono::Duration::milliseconds(from);
        let to = t0 + chrono::Duration::milliseconds(to);
        let t = Instant::now();
        let u = gates
            .workspace_usage(&admin, None, Some(from), Some(to))
            .unwrap();
        samples.push(t.elapsed());
        requests += u.token_usage.requests;
    }
    let mut warmup = samples.drain(..200).collect::<Vec<_>>();
    warmup.sort();
    samples.sort();
    println!(
        "workspace_usage, first 200 random ranges after open: median {:?}, p99 {:?}, max {:?}",
        pct(&warmup, 0.5),
        pct(&warmup, 0.99),
        warmup.last().unwrap()
    );
    println!(
        "workspace_usage over the next 2,000 random ranges ({requests} requests summed in all): \
         median {:?}, p90 {:?}, p99 {:?}, max {:?}",
        pct(&samples, 0.5),
        pct(&samples, 0.9),
        pct(&samples, 0.99),
        samples.last().unwrap()
    );
    let t = Instant::now();
    let all = gates.workspace_usage(&admin, None, None, None).unwrap();
    println!(
        "workspace_usage, all time: {:?} ({} requests)",
        t.elapsed(),
        all.token_usage.requests
    );
    // The dashboard's series (one query per chart), ending at the last record, and a year of
    // days (365 buckets), at UTC+09:00 so buckets do not fall on UTC midnights.
    let end = t0 + chrono::Duration::milliseconds(span_ms);
    for (label, interval, back) in [
        ("14 days", UsageInterval::Day, chrono::Duration::days(13)),
        ("12 weeks", UsageInterval::Week, chrono::Duration::weeks(11)),
        (
            "12 months",
            UsageInterval::Month,
            chrono::Duration::days(335),
        ),
        ("365 days", UsageInterval::Day, chrono::Duration::days(364)),
    ] {
        let mut samples = Vec::new();
        let mut buckets = 0;
        for _ in 0..100 {
            let t = Instant::now();
            let s = gates
                .workspace_usage_series(&admin, None, end - back, end, interval, 540)
                .unwrap();
            samples.push(t.elapsed());
            buckets = s.buckets.len();
        }
        samples.sort();
        println!(
            "workspace_usage_series, {label} ({buckets} buckets): median {:?}, p99 {:?}",
            pct(&samples, 0.5),
            pct(&samples, 0.99)
        );
    }
    for (label, filter, page) in [
        ("page 1", MessageFilter::default(), 1),
        ("page 100", MessageFilter::default(), 100),
        (
            "page 1, trigger type pii",
            MessageFilter {
                chat_ids: vec![],
                trigger_types: vec!["pii".into()],
            },
            1,
        ),
        (
            "page 1, one chat id",
            MessageFilter {
                chat_ids: vec!["chat-0".into()],
                trigger_types: vec![],
            },
            1,
        ),
    ] {
        let mut samples = Vec::new();
        let mut total = 0;
        for _ in 0..300 {
            let t = Instant::now();
            let p = gates
                .workspace_messages_list(&admin, None, &filter, Some(page), Some(50))
                .unwrap();
            samples.push(t.elapsed());
            total = p.total;
        }
        samples.sort();
        println!(
            "workspace_messages_list {label} (50 per page, {total} matching): median {:?}, p99 {:?}",
            pct(&samples, 0.5),
            pct(&samples, 0.99)
        );
    }
    drop(gates);
    store.close().unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    println!(
        "database: {:.1} MiB, {:.0} bytes per record",
        size as f64 / 1048576.0,
        size as f64 / all.token_usage.requests.max(1) as f64
    );
}
