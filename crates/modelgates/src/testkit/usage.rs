//! The usage property, for every store: after any sequence of record, batch and retention
//! operations, usage over any range equals the sum of every record ever accepted in it
//! (retention removes raw records, and rollups keep counting them; below the retention
//! watermark a range end counts from the start of its minute), a usage series is the usage of
//! its buckets, and `check` finds rollups, request ids and message feeds consistent.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveTime, TimeZone, Utc, Weekday};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::Patch;
use crate::clock::ManualClock;
use crate::handle::Caller;
use crate::handle::ModelGates;
use crate::ids::UsageId;
use crate::open::Options;
use crate::provider::{NewProvider, ProviderType};
use crate::storage::Storage;
use crate::usage::{
    Alert, AlertCategory, Cost, ModelUsage, NewConversation, NewUsage, UsageInterval, UsageRecord,
};
use crate::workspace::WorkspacePatch;

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
}

fn usage(id: &str, provider: &str, model: &str, input: u64, output: u64) -> NewUsage {
    NewUsage {
        request_id: id.into(),
        provider: provider.into(),
        model: model.into(),
        input_tokens: input,
        output_tokens: output,
        timestamp: Some(base()),
        ..Default::default()
    }
}

#[derive(Debug, Clone)]
struct Rec {
    offset_ms: i64,
    provider: usize,
    model: usize,
    input: u64,
    output: u64,
    id: u8,
    /// 0 = no conversation; 1 = a conversation; 2 = one with a critical alert.
    conversation: u8,
}

const PROVIDERS: [&str; 2] = ["openai-prod", "openai"];
const MODELS: [&str; 3] = ["gpt-5", "gpt-5-mini", "unknown-model"];
/// Seventy days and a bit, so every rollup level (up to 32 days) is crossed.
const SPAN_MS: i64 = 70 * 86_400_000 + 7_777_777;
const MINUTE_MS: i64 = 60_000;

fn arb_rec() -> impl Strategy<Value = Rec> {
    (
        prop_oneof![
            2 => 0..SPAN_MS,
            1 => (0i64..100).prop_map(|m| m * 60_000),
            1 => 0i64..120_000,
            // At a UTC midnight (so on a day boundary of every whole-hour offset), or on the
            // hour, or just before either.
            1 => (0i64..SPAN_MS / 86_400_000, -1i64..1).prop_map(|(d, e)| (d * 86_400_000 + e).max(0)),
            1 => (0i64..SPAN_MS / 3_600_000, -1i64..1).prop_map(|(h, e)| (h * 3_600_000 + e).max(0))
        ],
        0..PROVIDERS.len(),
        0..MODELS.len(),
        0u64..5_000_000,
        0u64..100_000,
        0u8..60,
        0u8..3,
    )
        .prop_map(
            |(offset_ms, provider, model, input, output, id, conversation)| Rec {
                offset_ms,
                provider,
                model,
                input,
                output,
                id,
                conversation,
            },
        )
}

/// A range end: open, an offset from `base()`, or near the `i`-th recorded request (`± 40 s`,
/// so ends often fall inside a minute that holds records).
#[derive(Debug, Clone, Copy)]
enum End {
    Open,
    At(i64),
    Near(usize, i64),
}

fn arb_bound() -> impl Strategy<Value = End> {
    prop_oneof![
        Just(End::Open),
        (-10_000i64..SPAN_MS + 10_000).prop_map(End::At),
        (0i64..100).prop_map(|m| End::At(m * 3_600_000)),
        (0i64..70).prop_map(|d| End::At(d * 86_400_000)),
        (0i64..5000).prop_map(|m| End::At(m * 60_000)),
        (0usize..100, -40_000i64..40_000).prop_map(|(i, d)| End::Near(i, d)),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    /// `usage_record_batch` of these records.
    Record(Vec<Rec>),
    /// Set the retention to `days`, then one `usage_expire(budget)`.
    Expire { days: u32, budget: usize },
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop::collection::vec(arb_rec(), 1..12).prop_map(Op::Record),
        1 => (1u32..72, 1usize..15).prop_map(|(days, budget)| Op::Expire { days, budget }),
    ]
}

/// "Now" for the property: a day after the last record.
fn prop_now() -> DateTime<Utc> {
    base() + Duration::milliseconds(SPAN_MS) + Duration::days(1)
}

/// One case: `ops` on a fresh `store`, then the `ranges` queried against the model.
fn run_one(
    store: Arc<dyn Storage>,
    ops: &[Op],
    ranges: &[(End, End)],
    series: &[Series],
) -> Result<(), TestCaseError> {
    let clock = ManualClock::new(prop_now());
    let options = Options {
        clock: Arc::new(clock),
        ..Default::default()
    };
    let g = ModelGates::open_with(store, options).unwrap();
    let c = g.default_caller().unwrap();
    g.provider_add(
        &c,
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
    // The model: request id → the record stored first (rollups count it forever); the ids
    // of the raw records retention has not removed; the retention watermark.
    let mut stored: BTreeMap<String, UsageRecord> = BTreeMap::new();
    let mut live: BTreeSet<UsageId> = Default::default();
    let mut watermark: i64 = 0;
    for op in ops {
        match op {
            Op::Record(batch) => {
                let input: Vec<NewUsage> = batch
                    .iter()
                    .map(|r| NewUsage {
                        timestamp: Some(base() + Duration::milliseconds(r.offset_ms)),
                        conversation: (r.conversation > 0).then(|| NewConversation {
                            chat_id: Some(format!("chat-{}", r.id % 3)),
                            prompt: format!("question {}", r.id),
                            ..Default::default()
                        }),
                        alerts: if r.conversation == 2 {
                            vec![Alert {
                                trigger_type: "pii".into(),
                                trigger_category: AlertCategory::Critical,
                                trigger_string: None,
                                code_snippet: None,
                                detected: false,
                            }]
                        } else {
                            vec![]
                        },
                        ..usage(
                            &format!("r{}", r.id),
                            PROVIDERS[r.provider],
                            MODELS[r.model],
                            r.input,
                            r.output,
                        )
                    })
                    .collect();
                let out = g.usage_record_batch(&c, &input).unwrap();
                for (n, out) in input.iter().zip(out) {
                    match stored.get(&n.request_id) {
                        Some(first) => {
                            prop_assert!(out.duplicate);
                            // The earlier record, or nothing once retention removed it.
                            let want = live.contains(&first.id).then(|| first.clone());
                            prop_assert_eq!(out.data, want);
                        }
                        None => {
                            prop_assert!(!out.duplicate);
                            let d = out.data.unwrap();
                            live.insert(d.id);
                            stored.insert(d.request_id.clone(), d);
                        }
                    }
                }
            }
            Op::Expire { days, budget } => {
                g.workspace_update(
                    &c,
                    "default",
                    WorkspacePatch {
                        usage_retention_days: Patch::Set(*days),
                        ..Default::default()
                    },
                )
                .unwrap();
                let cutoff = (prop_now() - Duration::days(i64::from(*days))).timestamp_millis()
                    / MINUTE_MS
                    * MINUTE_MS;
                // Oldest first, in usage-id order.
                let due: Vec<UsageId> = live
                    .iter()
                    .filter(|id| (id.millis() as i64) < cutoff)
                    .copied()
                    .collect();
                let take = due.len().min(*budget);
                let out = g.usage_expire(*budget).unwrap();
                prop_assert_eq!(out.removed as usize, take);
                prop_assert_eq!(out.more, take < due.len());
                for id in &due[..take] {
                    live.remove(id);
                }
                // Only a workspace that had expired records moves its watermark.
                if take > 0 {
                    let w = if take == due.len() {
                        cutoff
                    } else {
                        due[take - 1].millis() as i64 + 1
                    };
                    watermark = watermark.max(w);
                }
            }
        }
        let report = g.check().unwrap();
        prop_assert!(report.is_ok(), "after {:?}: {:?}", op, report.problems);
        prop_assert_eq!(report.usage_records as usize, live.len());
    }
    let times: Vec<DateTime<Utc>> = stored.values().map(|r| r.timestamp).collect();
    let end = |e: End| match e {
        End::Open => None,
        End::At(o) => Some(base() + Duration::milliseconds(o)),
        End::Near(i, d) => Some(times[i % times.len()] + Duration::milliseconds(d)),
    };
    let model = Model {
        stored: &stored,
        watermark,
    };
    for &(from, to) in ranges {
        if times.is_empty() {
            break;
        }
        let (from, to) = (end(from), end(to));
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            prop_assert!(g.workspace_usage(&c, None, from, to).is_err());
            continue;
        }
        let got = g.workspace_usage(&c, None, from, to).unwrap();
        prop_assert_eq!(
            got.expired_before.map(|t| t.timestamp_millis()),
            (watermark > 0).then_some(watermark)
        );
        prop_assert_eq!(
            counters(&got.tokens_by_model),
            model.sum(from, to),
            "range {:?}..{:?}, watermark {}",
            from,
            to,
            watermark
        );
    }
    for s in series {
        check_series(&g, &c, &model, s)?;
    }
    Ok(())
}

/// Counters per `provider/model` as compared: requests, tokens, exact costs.
type Sums = BTreeMap<String, (u64, u64, u64, String, String)>;

fn counters(by_model: &BTreeMap<String, ModelUsage>) -> Sums {
    by_model
        .iter()
        .map(|(k, m)| {
            let u = &m.token_usage;
            let costs = (u.input_cost_usd.clone(), u.output_cost_usd.clone());
            (
                k.clone(),
                (
                    u.requests,
                    u.input_tokens,
                    u.output_tokens,
                    costs.0,
                    costs.1,
                ),
            )
        })
        .collect()
}

/// The reference model: every record ever accepted, and the retention watermark.
struct Model<'a> {
    stored: &'a BTreeMap<String, UsageRecord>,
    watermark: i64,
}

impl Model<'_> {
    /// The usage of `[from, to)`: below the watermark an end counts from its minute's start.
    fn sum(&self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Sums {
        let snap = |t: DateTime<Utc>| {
            let ms = t.timestamp_millis();
            let minute = ms.div_euclid(MINUTE_MS) * MINUTE_MS;
            if minute < self.watermark {
                Utc.timestamp_millis_opt(minute).unwrap()
            } else {
                t
            }
        };
        let (lo, hi) = (from.map(snap), to.map(snap));
        let mut want: BTreeMap<String, (u64, u64, u64, Cost, Cost)> = BTreeMap::new();
        for r in self.stored.values() {
            if lo.is_some_and(|f| r.timestamp < f) || hi.is_some_and(|t| r.timestamp >= t) {
                continue;
            }
            let e = want
                .entry(format!("{}/{}", r.provider, r.model))
                .or_default();
            e.0 += 1;
            e.1 += r.input_tokens;
            e.2 += r.output_tokens;
            e.3 = e.3.plus(r.input_cost);
            e.4 = e.4.plus(r.output_cost);
        }
        want.into_iter()
            .map(|(k, (n, i, o, ic, oc))| (k, (n, i, o, ic.usd(), oc.usd())))
            .collect()
    }
}

/// A usage series request: interval, UTC offset (minutes), start and length (ms from base).
#[derive(Debug, Clone)]
struct Series {
    interval: UsageInterval,
    offset: i32,
    from_ms: i64,
    len_ms: i64,
}

fn arb_series() -> impl Strategy<Value = Series> {
    (
        prop_oneof![
            Just(UsageInterval::Day),
            Just(UsageInterval::Week),
            Just(UsageInterval::Month)
        ],
        prop_oneof![
            3 => Just(0),
            1 => Just(330),
            1 => Just(-300),
            1 => Just(840),
            1 => Just(-720),
            1 => -720i32..=840
        ],
        -3 * 86_400_000i64..SPAN_MS,
        1i64..SPAN_MS,
    )
        .prop_map(|(interval, offset, from_ms, len_ms)| Series {
            interval,
            offset,
            from_ms,
            len_ms,
        })
}

/// A series is consecutive buckets starting at local midnights (Mondays for weeks, the 1st
/// for months) that cover the requested range, each equal to the model's usage of its range,
/// and its totals are the model's usage of the whole series.
fn check_series(
    g: &ModelGates,
    c: &Caller,
    model: &Model<'_>,
    s: &Series,
) -> Result<(), TestCaseError> {
    let from = base() + Duration::milliseconds(s.from_ms);
    let to = from + Duration::milliseconds(s.len_ms);
    let got = g
        .workspace_usage_series(c, None, from, to, s.interval, s.offset)
        .unwrap();
    prop_assert!(
        got.from <= from && got.to >= to,
        "{:?}: {} to {}",
        s,
        got.from,
        got.to
    );
    prop_assert_eq!(got.buckets.first().map(|b| b.from), Some(got.from));
    prop_assert_eq!(got.buckets.last().map(|b| b.to), Some(got.to));
    let tz = FixedOffset::east_opt(s.offset * 60).unwrap();
    let mut requests = 0;
    for (i, b) in got.buckets.iter().enumerate() {
        let local = b.from.with_timezone(&tz);
        prop_assert_eq!(local.time(), NaiveTime::MIN, "{:?}", s);
        match s.interval {
            UsageInterval::Week => prop_assert_eq!(local.weekday(), Weekday::Mon),
            UsageInterval::Month => prop_assert_eq!(local.day(), 1),
            _ => {}
        }
        if let Some(next) = got.buckets.get(i + 1) {
            prop_assert_eq!(b.to, next.from);
        }
        // The last bucket is the one `to` falls in; none starts at or after it.
        prop_assert!(b.from < to);
        let want = model.sum(Some(b.from), Some(b.to));
        prop_assert_eq!(counters(&b.tokens_by_model), want, "{:?} bucket {}", s, i);
        let n: u64 = b
            .tokens_by_model
            .values()
            .map(|m| m.token_usage.requests)
            .sum();
        prop_assert_eq!(b.token_usage.requests, n);
        requests += n;
    }
    let whole = model.sum(Some(got.from), Some(got.to));
    prop_assert_eq!(counters(&got.tokens_by_model), whole);
    prop_assert_eq!(got.token_usage.requests, requests);
    Ok(())
}

/// Runs `cases` random sequences of usage operations, each on a fresh store from `new_store`.
pub fn run_usage_check(cases: u32, new_store: impl Fn() -> Arc<dyn Storage>) {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let strategy = (
        prop::collection::vec(arb_op(), 1..10),
        prop::collection::vec((arb_bound(), arb_bound()), 1..12),
        prop::collection::vec(arb_series(), 1..4),
    );
    runner
        .run(&strategy, |(ops, ranges, series)| {
            run_one(new_store(), &ops, &ranges, &series)
        })
        .unwrap();
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_store_rollups_equal_the_sum_of_raw_records() {
        super::run_usage_check(48, || std::sync::Arc::new(crate::MemoryStore::new()));
    }
}
