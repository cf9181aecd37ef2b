//! Token usage (seed 004, issue 7): recording, idempotency, pricing, and the property that the
//! rollups always equal the sum of the raw records they cover.

use chrono::{DateTime, Duration, TimeZone, Utc};
#[allow(unused_imports)]
use modelgates::Options;
use modelgates::*;

fn setup() -> (ModelGates, Caller) {
    let g = ModelGates::open(MemoryStore::new()).unwrap();
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
    (g, c)
}

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

#[test]
fn a_record_is_priced_at_record_time_and_stored_once_per_request_id() {
    let (g, c) = setup();
    // openai/gpt-5 costs "125" / "1000" cents per million tokens in the catalog.
    let m = g.model_get(&c, "default", "openai/gpt-5").unwrap();
    let r = g
        .usage_record(&c, usage("req-1", "openai-prod", "gpt-5", 2_000_000, 1_000))
        .unwrap();
    assert!(!r.duplicate);
    assert_eq!(
        r.data.as_ref().unwrap().model_ref.as_deref(),
        Some("openai/gpt-5")
    );
    assert_eq!(
        r.data.as_ref().unwrap().provider_type,
        Some(ProviderType::Openai)
    );
    assert_eq!(
        r.data.as_ref().unwrap().input_cost,
        Cost::of(2_000_000, &m.spec.input_price_per_million_tokens).unwrap()
    );
    let again = g
        .usage_record(&c, usage("req-1", "openai-prod", "gpt-5", 9, 9))
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.data, r.data, "the first record stands");
    let total = g.workspace_usage(&c, None, None, None).unwrap();
    assert_eq!(total.token_usage.requests, 1);
    assert_eq!(total.token_usage.input_tokens, 2_000_000);
    assert_eq!(
        total.tokens_by_model["openai-prod/gpt-5"]
            .token_usage
            .input_cost_usd,
        r.data.as_ref().unwrap().input_cost.usd()
    );

    // Unknown models are stored unpriced, not refused (a gateway must not lose records).
    let r = g
        .usage_record(&c, usage("req-2", "local", "mystery", 10, 10))
        .unwrap();
    assert_eq!(r.data.as_ref().unwrap().model_ref, None);
    assert_eq!(r.data.as_ref().unwrap().input_cost, Cost::default());
    // The same model from two providers stays two entries.
    g.usage_record(&c, usage("req-3", "openai", "gpt-5", 1, 1))
        .unwrap();
    let total = g.workspace_usage(&c, None, None, None).unwrap();
    assert_eq!(
        total.tokens_by_model.len(),
        3,
        "{:?}",
        total.tokens_by_model.keys()
    );
}

#[test]
fn a_batch_is_all_or_nothing_and_names_the_bad_record() {
    let (g, c) = setup();
    let mut batch: Vec<NewUsage> = (0..5)
        .map(|i| usage(&format!("b-{i}"), "openai-prod", "gpt-5", 10, 10))
        .collect();
    batch[3].request_id = String::new();
    let err = g.usage_record_batch(&c, &batch).unwrap_err();
    assert_eq!(err.field(), Some("records[3].request_id"));
    batch[3].api_key_id = Some("key_01JD00000000000000000000AA".into());
    batch[3].request_id = "b-3".into();
    let err = g.usage_record_batch(&c, &batch).unwrap_err();
    assert_eq!(err.field(), Some("records[3].api_key_id"), "{err}");
    assert_eq!(
        g.workspace_usage(&c, None, None, None)
            .unwrap()
            .token_usage
            .requests,
        0,
        "nothing was recorded"
    );
    batch[3].api_key_id = None;
    batch.push(usage("b-0", "openai-prod", "gpt-5", 10, 10));
    let out = g.usage_record_batch(&c, &batch).unwrap();
    assert_eq!(out.iter().filter(|r| r.duplicate).count(), 1);
    let err = g.usage_record_batch(&c, &[]).unwrap_err();
    assert_eq!(err.field(), Some("records"));
    let future = NewUsage {
        timestamp: Some(Utc::now() + Duration::days(3)),
        ..usage("f", "openai-prod", "gpt-5", 1, 1)
    };
    assert_eq!(
        g.usage_record(&c, future).unwrap_err().field(),
        Some("timestamp")
    );
}

// The property that rollups equal the sum of the raw records they cover, after any sequence of
// record, batch and retention operations, lives in `testkit::run_usage_check` so every store runs
// it (memory: a unit test there; redb: crates/modelgates-redb/tests/model.rs).

#[test]
fn stored_conversations_never_contain_a_detected_secret() {
    let (g, c) = setup();
    // Assembled at run time: the source holds no literal credential.
    let aws = format!("AKIA{}", "Q3ZL7NDX2MP4TR8V");
    let gh = format!("ghp_{}", "aB3dE5fG7hJ9kL2mN4pQ6rS8tU0vWxYz1234");
    let conv = |prompt: String| NewConversation {
        chat_id: Some("chat-1".into()),
        prompt,
        answer: Some(format!("use {gh}")),
        ..Default::default()
    };
    let r = g
        .usage_record(
            &c,
            NewUsage {
                conversation: Some(conv(format!("deploy with {aws}"))),
                ..usage("s-1", "openai-prod", "gpt-5", 1, 1)
            },
        )
        .unwrap();
    let m = g
        .usage_message(&c, None, &r.data.as_ref().unwrap().id.to_string())
        .unwrap()
        .expect("a message is stored");
    let stored = serde_json::to_string(&m).unwrap();
    assert!(!stored.contains(&aws) && !stored.contains(&gh), "{stored}");
    assert_eq!(
        m.prompt.as_deref(),
        Some("deploy with [REDACTED:aws_access_key_id]")
    );
    let detected: Vec<_> = m.alerts.iter().filter(|a| a.detected).collect();
    assert_eq!(detected.len(), 2, "{:?}", m.alerts);
    assert!(
        detected
            .iter()
            .all(|a| a.trigger_type == "secrets" && a.trigger_category == AlertCategory::Critical)
    );

    // A gateway that reported its own secrets alert gets no duplicate, but still redaction.
    let reported = Alert {
        trigger_type: "secrets".into(),
        trigger_category: AlertCategory::Critical,
        trigger_string: Some(aws.clone()),
        code_snippet: Some(CodeSnippet {
            code: format!("KEY = '{aws}'"),
            language: Some("python".into()),
            filepath: Some("app.py".into()),
        }),
        detected: false,
    };
    let r = g
        .usage_record(
            &c,
            NewUsage {
                conversation: Some(conv(format!("key {aws}"))),
                alerts: vec![reported],
                ..usage("s-2", "openai-prod", "gpt-5", 1, 1)
            },
        )
        .unwrap();
    let m = g
        .usage_message(&c, None, &r.data.as_ref().unwrap().id.to_string())
        .unwrap()
        .unwrap();
    assert_eq!(m.alerts.len(), 1);
    let stored = serde_json::to_string(&m).unwrap();
    assert!(!stored.contains(&aws), "{stored}");
    // No conversation and no alerts: nothing stored besides the usage record.
    let r = g
        .usage_record(&c, usage("s-3", "openai-prod", "gpt-5", 1, 1))
        .unwrap();
    assert_eq!(
        g.usage_message(&c, None, &r.data.as_ref().unwrap().id.to_string())
            .unwrap(),
        None
    );
}

fn alert(kind: &str, category: AlertCategory) -> Alert {
    Alert {
        trigger_type: kind.into(),
        trigger_category: category,
        trigger_string: None,
        code_snippet: None,
        detected: false,
    }
}

#[test]
fn messages_page_newest_first_without_overlap_or_gaps_under_filters() {
    let (g, c) = setup();
    let kinds = ["pii", "secrets", "malicious_packages", "none"];
    let mut batch = Vec::new();
    for i in 0..57u32 {
        let kind = kinds[i as usize % 4];
        let alerts = match kind {
            "none" => vec![],
            // Some messages carry only informational alerts.
            "pii" if i % 8 == 0 => vec![alert("pii", AlertCategory::Info)],
            k => vec![alert(k, AlertCategory::Critical)],
        };
        batch.push(NewUsage {
            timestamp: Some(base() + Duration::seconds(i64::from(i))),
            conversation: Some(NewConversation {
                chat_id: Some(format!("chat-{}", i % 5)),
                prompt: format!("question {i}"),
                answer: Some(format!("answer {i}")),
                ..Default::default()
            }),
            alerts,
            ..usage(&format!("m-{i}"), "openai-prod", "gpt-5", 10, 1)
        });
    }
    g.usage_record_batch(&c, &batch).unwrap();
    // A request without conversation or alerts is no message.
    g.usage_record(&c, usage("plain", "openai-prod", "gpt-5", 1, 1))
        .unwrap();

    let filters = [
        MessageFilter::default(),
        MessageFilter {
            chat_ids: vec!["chat-1".into(), "chat-3".into()],
            trigger_types: vec![],
        },
        MessageFilter {
            chat_ids: vec!["chat-4".into()],
            trigger_types: vec![],
        },
        MessageFilter {
            chat_ids: vec![],
            trigger_types: vec!["pii".into()],
        },
        MessageFilter {
            chat_ids: vec![],
            trigger_types: vec!["pii".into(), "secrets".into()],
        },
        MessageFilter {
            chat_ids: vec!["chat-0".into()],
            trigger_types: vec!["pii".into()],
        },
    ];
    for f in &filters {
        let mut seen = Vec::new();
        let mut total = None;
        for page in 1..=10 {
            let p = g
                .workspace_messages_list(&c, None, f, Some(page), Some(7))
                .unwrap();
            total.get_or_insert(p.total);
            assert_eq!(Some(p.total), total, "{f:?}");
            seen.extend(
                p.data
                    .iter()
                    .map(|m| (m.conversation_timestamp, m.prompt.clone().unwrap().message)),
            );
        }
        let total = total.unwrap() as usize;
        assert_eq!(seen.len(), total, "{f:?}: every page once");
        assert!(
            seen.windows(2).all(|w| w[0].0 > w[1].0),
            "{f:?}: strictly newest first, no overlap"
        );
        // The expected set, from the inputs.
        let expected = (0..57u32)
            .filter(|i| {
                let chat = format!("chat-{}", i % 5);
                let kind = kinds[*i as usize % 4];
                (f.chat_ids.is_empty() || f.chat_ids.contains(&chat))
                    && (f.trigger_types.is_empty() || f.trigger_types.iter().any(|t| t == kind))
            })
            .count();
        assert_eq!(total, expected, "{f:?}");
    }
    let page = g
        .workspace_messages_list(&c, None, &MessageFilter::default(), None, None)
        .unwrap();
    assert_eq!((page.limit, page.offset, page.total), (50, 0, 57));
    let first = &page.data[0];
    assert_eq!(first.prompt.as_ref().unwrap().message, "question 56");
    // 56 % 4 == 0 and 56 % 8 == 0: an informational pii alert, listed, not counted as critical.
    assert_eq!(first.alerts_summary.pii, 1);
    assert_eq!(first.alerts_summary.total_alerts, 0);
    assert!(
        g.workspace_messages_list(&c, None, &MessageFilter::default(), Some(0), None)
            .unwrap_err()
            .field()
            == Some("page")
    );
    assert!(
        g.workspace_messages_list(&c, None, &MessageFilter::default(), None, Some(101))
            .unwrap_err()
            .field()
            == Some("page_size")
    );

    // A chat, oldest first, with its usage and alerts.
    let conv = g.workspace_message_get(&c, None, "chat-2").unwrap();
    let questions: Vec<String> = conv
        .question_answers
        .iter()
        .map(|qa| qa.question.clone().unwrap().message)
        .collect();
    let want: Vec<String> = (0..57u32)
        .filter(|i| i % 5 == 2)
        .map(|i| format!("question {i}"))
        .collect();
    assert_eq!(questions, want);
    assert_eq!(conv.token_usage_agg.token_usage.requests, want.len() as u64);
    assert!(g.workspace_message_get(&c, None, "no-such-chat").is_err());
}

#[test]
fn critical_alerts_newest_first_with_near_duplicates_collapsed() {
    let (g, c) = setup();
    let at = |s: i64| Some(base() + Duration::seconds(s));
    let with = |id: &str, s: i64, alerts: Vec<Alert>| NewUsage {
        timestamp: at(s),
        alerts,
        ..usage(id, "openai-prod", "gpt-5", 1, 1)
    };
    let pii = |text: &str| Alert {
        trigger_string: Some(text.into()),
        ..alert("pii", AlertCategory::Critical)
    };
    let batch = vec![
        with("a", 0, vec![pii("email")]),
        with("b", 2, vec![pii("email")]), // within 5 s of c: folded into c
        with("c", 4, vec![pii("email")]),
        with("d", 20, vec![pii("email")]), // 16 s later: its own entry
        with("e", 21, vec![pii("phone")]), // another trigger string
        with("f", 22, vec![alert("pii", AlertCategory::Info)]), // informational: not listed
        with("g", 23, vec![alert("secrets", AlertCategory::Critical)]),
    ];
    g.usage_record_batch(&c, &batch).unwrap();
    let page = g.workspace_alerts_list(&c, None, None, None).unwrap();
    let got: Vec<(i64, String, u64)> = page
        .data
        .iter()
        .map(|e| {
            (
                (e.timestamp - base()).num_seconds(),
                e.alert.trigger_type.clone(),
                e.collapsed,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (23, "secrets".into(), 0),
            (21, "pii".into(), 0),
            (20, "pii".into(), 0),
            (4, "pii".into(), 2),
        ]
    );
    assert!(!page.has_more);
    let p1 = g.workspace_alerts_list(&c, None, Some(1), Some(3)).unwrap();
    let p2 = g.workspace_alerts_list(&c, None, Some(2), Some(3)).unwrap();
    assert!(p1.has_more && !p2.has_more);
    assert_eq!(p1.data.len() + p2.data.len(), 4);
    assert_eq!(
        p2.data[0].collapsed, 2,
        "the last page still folds its duplicates"
    );
}

#[test]
fn retention_removes_old_raw_records_in_bounded_batches_and_rollups_stay() {
    let now = base() + Duration::days(10);
    let clock = ManualClock::new(now);
    let options = Options {
        clock: std::sync::Arc::new(clock.clone()),
        ..Default::default()
    };
    let g = ModelGates::open_with(std::sync::Arc::new(MemoryStore::new()), options).unwrap();
    let c = g.default_caller().unwrap();
    g.workspace_update(
        &c,
        "default",
        WorkspacePatch {
            usage_retention_days: Patch::Set(2),
            ..Default::default()
        },
    )
    .unwrap();
    let err = g
        .workspace_update(
            &c,
            "default",
            WorkspacePatch {
                usage_retention_days: Patch::Set(0),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.field(), Some("usage_retention_days"));
    // 300 records over the last 5 days, every fifth with a conversation.
    let batch: Vec<NewUsage> = (0..300i64)
        .map(|i| NewUsage {
            timestamp: Some(now - Duration::minutes(i * 24)),
            conversation: (i % 5 == 0).then(|| NewConversation {
                chat_id: Some("c".into()),
                prompt: format!("q{i}"),
                ..Default::default()
            }),
            ..usage(&format!("r{i}"), "openai", "gpt-5", 100, 10)
        })
        .collect();
    g.usage_record_batch(&c, &batch).unwrap();
    let before = g.workspace_usage(&c, None, None, None).unwrap();
    let messages_before = g
        .workspace_messages_list(&c, None, &MessageFilter::default(), None, Some(100))
        .unwrap()
        .total;

    let cutoff_ms = (now - Duration::days(2)).timestamp_millis() / 60_000 * 60_000;
    let expired = batch
        .iter()
        .filter(|n| n.timestamp.unwrap().timestamp_millis() < cutoff_ms)
        .count() as u64;
    let (mut removed, mut calls) = (0, 0);
    loop {
        let out = g.usage_expire(40).unwrap();
        assert!(out.removed <= 40, "bounded");
        removed += out.removed;
        calls += 1;
        let report = g.check().unwrap();
        assert!(report.is_ok(), "after call {calls}: {:?}", report.problems);
        if !out.more {
            break;
        }
    }
    assert_eq!(removed, expired);
    assert!(calls > 1, "several bounded batches");
    assert_eq!(g.usage_expire(40).unwrap(), Expired::default());
    // Rollups stay: all-time usage is unchanged, and says where raw records end.
    let after = g.workspace_usage(&c, None, None, None).unwrap();
    assert_eq!(after.token_usage, before.token_usage);
    assert_eq!(after.tokens_by_model, before.tokens_by_model);
    assert_eq!(
        after.expired_before.map(|t| t.timestamp_millis()),
        Some(cutoff_ms)
    );
    assert_eq!(before.expired_before, None);
    let messages_after = g
        .workspace_messages_list(&c, None, &MessageFilter::default(), None, Some(100))
        .unwrap();
    assert!(messages_after.total < messages_before);
    assert_eq!(messages_after.total as usize, messages_after.data.len());
    assert!(
        messages_after
            .data
            .iter()
            .all(|m| m.conversation_timestamp.timestamp_millis() >= cutoff_ms)
    );
    // A late retry of an expired request id stays a duplicate.
    assert!(g.usage_record(&c, batch[299].clone()).unwrap().duplicate);
}

/// Rows per storage table, counted through the raw storage interface.
fn rows(store: &MemoryStore) -> usize {
    let txn = store.begin_read().unwrap();
    ["usage", "usage_rollups"]
        .into_iter()
        .map(|t| {
            txn.range(
                TableName(t),
                std::ops::Bound::Unbounded,
                std::ops::Bound::Unbounded,
                usize::MAX,
            )
            .unwrap()
            .len()
        })
        .sum()
}

#[test]
fn deleting_a_busy_workspace_purges_its_usage_in_bounded_batches() {
    let store = MemoryStore::new();
    let g = ModelGates::open(store.clone()).unwrap();
    let c = g.default_caller().unwrap();
    for slug in ["big", "small"] {
        g.workspace_create(
            &c,
            NewWorkspace {
                name: slug.into(),
                slug: slug.into(),
                ..Default::default()
            },
        )
        .unwrap();
    }
    let record = |slug: &str, n: usize| {
        for chunk in (0..n).collect::<Vec<_>>().chunks(USAGE_BATCH_MAX) {
            let batch: Vec<NewUsage> = chunk
                .iter()
                .map(|i| NewUsage {
                    workspace: Some(slug.into()),
                    timestamp: Some(base() + Duration::seconds(*i as i64)),
                    conversation: (i % 10 == 0).then(|| NewConversation {
                        chat_id: Some(format!("chat-{}", i % 7)),
                        prompt: format!("q{i}"),
                        ..Default::default()
                    }),
                    alerts: if i % 20 == 0 {
                        vec![alert("pii", AlertCategory::Critical)]
                    } else {
                        vec![]
                    },
                    ..usage(&format!("{slug}-{i}"), "openai", "gpt-5", 10, 1)
                })
                .collect();
            g.usage_record_batch(&c, &batch).unwrap();
        }
    };
    record("default", 30);
    let default_rows = rows(&store);
    let default_usage = g.workspace_usage(&c, Some("default"), None, None).unwrap();

    // A small workspace's usage goes with it, in the deleting transaction.
    record("small", 50);
    assert!(rows(&store) > default_rows);
    g.workspace_delete(&c, "small").unwrap();
    assert_eq!(rows(&store), default_rows);
    assert_eq!(g.usage_expire(1000).unwrap(), Expired::default());

    // A busy one is deleted at once and its usage purged afterwards, a budget at a time.
    record("big", INLINE_PURGE_MAX + 1);
    g.workspace_delete(&c, "big").unwrap();
    assert_eq!(
        g.workspace_get(&c, "big").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let report = g.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    // The slug is free again, and the new workspace starts with no usage.
    g.workspace_create(
        &c,
        NewWorkspace {
            name: "big".into(),
            slug: "big".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let fresh = g.workspace_usage(&c, Some("big"), None, None).unwrap();
    assert_eq!(fresh.token_usage.requests, 0);
    let before = rows(&store);
    let (mut purged, mut calls) = (0, 0);
    loop {
        let out = g.usage_expire(9000).unwrap();
        assert!(out.purged <= 9000);
        assert_eq!(out.removed, 0);
        purged += out.purged;
        calls += 1;
        let report = g.check().unwrap();
        assert!(report.is_ok(), "after call {calls}: {:?}", report.problems);
        if !out.more {
            break;
        }
    }
    assert!(calls > 2, "{calls} calls");
    // Everything of the deleted workspace is gone (and its purge marker), nothing else.
    assert_eq!(purged as usize, before - default_rows - 1);
    assert_eq!(rows(&store), default_rows);
    assert_eq!(
        g.workspace_usage(&c, Some("default"), None, None).unwrap(),
        default_usage
    );
    assert_eq!(g.usage_expire(1000).unwrap(), Expired::default());
}

/// Issue 13: a key's usage (all time, current UTC day, week from Monday, month) and its last
/// use come from the usage recorded with its id, move on with the clock, and go with the key.
#[test]
fn a_keys_usage_is_counted_per_day_week_and_month_from_its_records() {
    // Wednesday 2026-03-04, noon.
    let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
    let clock = ManualClock::new(now);
    let options = Options {
        clock: std::sync::Arc::new(clock.clone()),
        ..Default::default()
    };
    let g = ModelGates::open_with(std::sync::Arc::new(MemoryStore::new()), options).unwrap();
    let c = g.default_caller().unwrap();
    let key = g
        .key_create(
            &c,
            NewKey {
                name: "gateway".into(),
                workspace: "default".into(),
                ..Default::default()
            },
        )
        .unwrap()
        .data;
    let other = g
        .key_create(
            &c,
            NewKey {
                name: "idle".into(),
                workspace: "default".into(),
                ..Default::default()
            },
        )
        .unwrap()
        .data;
    let at = |id: &str, t: DateTime<Utc>, key: Option<KeyId>| NewUsage {
        request_id: id.into(),
        provider: "openai".into(),
        model: "gpt-5".into(),
        // gpt-5: 125 cents per million input tokens.
        input_tokens: 1_000_000,
        output_tokens: 0,
        timestamp: Some(t),
        api_key_id: key.map(|k| k.to_string()),
        ..Default::default()
    };
    let monday = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
    let february = Utc.with_ymd_and_hms(2026, 2, 27, 10, 0, 0).unwrap();
    g.usage_record_batch(
        &c,
        &[
            at("r1", now, Some(key.id)),
            at("r2", monday, Some(key.id)),
            at("r3", february, Some(key.id)),
            at("r4", now, None),
        ],
    )
    .unwrap();
    // A retry changes nothing.
    g.usage_record(&c, at("r1", now, Some(key.id))).unwrap();
    let usd = |c: &Counters| c.cost().usd();
    let u = g.key_usage(&c, &[key.id, other.id]).unwrap();
    assert_eq!(usd(&u[0].total), "3.75");
    assert_eq!(u[0].total.requests, 3);
    assert_eq!(usd(&u[0].day), "1.25");
    assert_eq!(usd(&u[0].week), "2.5");
    assert_eq!(usd(&u[0].month), "2.5");
    assert_eq!(u[0].last_used_at, Some(now));
    assert_eq!(u[1], KeyUsage::default());

    // Thursday: a new day, the same week and month.
    clock.advance_millis(86_400_000);
    let u = g.key_usage(&c, &[key.id]).unwrap();
    assert_eq!(
        (usd(&u[0].day), usd(&u[0].week)),
        ("0".into(), "2.5".into())
    );
    // A late record of an earlier day counts in its week and month, not in today.
    g.usage_record(&c, at("r5", monday, Some(key.id))).unwrap();
    let u = g.key_usage(&c, &[key.id]).unwrap();
    assert_eq!(
        (usd(&u[0].day), usd(&u[0].week), usd(&u[0].total)),
        ("0".into(), "3.75".into(), "5".into())
    );
    // April: a new month and week; all time stays.
    clock.advance_millis(28 * 86_400_000);
    let u = g.key_usage(&c, &[key.id]).unwrap();
    assert_eq!(
        (usd(&u[0].week), usd(&u[0].month), usd(&u[0].total)),
        ("0".into(), "0".into(), "5".into())
    );
    assert!(g.check().unwrap().is_ok());

    // The usage goes with the key.
    g.key_delete(&c, &key.id.to_string()).unwrap();
    let err = g.key_usage(&c, &[key.id]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(g.check().unwrap().is_ok());
}

#[test]
fn a_usage_series_buckets_by_local_calendar_and_names_the_field_it_refuses() {
    let (g, c) = setup();
    // 2026-03-01 is a Sunday: 23:30 UTC that day is already Monday 2026-03-02 at UTC+1.
    let late = base() + Duration::minutes(23 * 60 + 30);
    g.usage_record(
        &c,
        NewUsage {
            timestamp: Some(late),
            ..usage("r1", "openai-prod", "gpt-5", 1000, 10)
        },
    )
    .unwrap();
    g.usage_record(&c, usage("r2", "openai", "gpt-5-mini", 5, 5))
        .unwrap();
    let from = base() - Duration::days(3);
    let to = base() + Duration::days(10);
    let utc = g
        .workspace_usage_series(&c, None, from, to, UsageInterval::Week, 0)
        .unwrap();
    // UTC weeks: Mon 02-23 .. Mon 03-02 holds both records; then two more weeks to cover `to`.
    assert_eq!(
        utc.from,
        Utc.with_ymd_and_hms(2026, 2, 23, 0, 0, 0).unwrap()
    );
    assert_eq!(utc.to, Utc.with_ymd_and_hms(2026, 3, 16, 0, 0, 0).unwrap());
    let requests: Vec<u64> = utc.buckets.iter().map(|b| b.token_usage.requests).collect();
    assert_eq!(requests, [2, 0, 0]);
    assert_eq!(utc.token_usage.requests, 2);
    assert_eq!(utc.tokens_by_model.len(), 2);
    // At UTC+1 the late record falls in the next week, which starts at local midnight.
    let plus1 = g
        .workspace_usage_series(&c, None, from, to, UsageInterval::Week, 60)
        .unwrap();
    assert_eq!(
        plus1.buckets[1].from,
        Utc.with_ymd_and_hms(2026, 3, 1, 23, 0, 0).unwrap()
    );
    let requests: Vec<u64> = plus1
        .buckets
        .iter()
        .map(|b| b.token_usage.requests)
        .collect();
    assert_eq!(requests, [1, 1, 0]);
    assert!(
        plus1.buckets[1]
            .tokens_by_model
            .contains_key("openai-prod/gpt-5")
    );
    // Months: March alone.
    let month = g
        .workspace_usage_series(&c, None, base(), to, UsageInterval::Month, 0)
        .unwrap();
    assert_eq!(month.buckets.len(), 1);
    assert_eq!(month.to, Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap());

    let refused = |from, to, interval, offset, field: &str| {
        let e = g
            .workspace_usage_series(&c, None, from, to, interval, offset)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert_eq!(e.field(), Some(field), "{e}");
    };
    refused(to, from, UsageInterval::Day, 0, "from");
    refused(from, from, UsageInterval::Day, 0, "from");
    refused(from, to, UsageInterval::Day, 841, "utc_offset_minutes");
    refused(from, to, UsageInterval::Day, -721, "utc_offset_minutes");
    // 400 days is the most; 401 is refused, naming the interval.
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    let ok = g
        .workspace_usage_series(
            &c,
            None,
            start,
            start + Duration::days(400),
            UsageInterval::Day,
            0,
        )
        .unwrap();
    assert_eq!(ok.buckets.len(), USAGE_SERIES_BUCKETS_MAX);
    let e = g
        .workspace_usage_series(
            &c,
            None,
            start,
            start + Duration::days(401),
            UsageInterval::Day,
            0,
        )
        .unwrap_err();
    assert_eq!(e.field(), Some("to"));
    assert!(e.to_string().contains("400 days"), "{e}");
    // The edges of the representable range are invalid arguments, never panics.
    let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    for (from, to, offset) in [
        (min, min + Duration::days(3), -720),
        (max - Duration::days(3), max, 840),
    ] {
        for interval in [
            UsageInterval::Day,
            UsageInterval::Week,
            UsageInterval::Month,
        ] {
            let e = g
                .workspace_usage_series(&c, None, from, to, interval, offset)
                .unwrap_err();
            assert_eq!(
                e.kind(),
                ErrorKind::InvalidArgument,
                "{from} {interval:?}: {e}"
            );
        }
    }
}
