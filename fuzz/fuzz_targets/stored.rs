//! Damaged stored values: any bytes in place of a usage record, request id, rollup, message,
//! message feed entry or count (JSON or compact format) make reads, `check` and retention
//! return errors or report problems — never panic, never hang.
#![no_main]

use std::ops::Bound;
use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use modelgates::{
    Alert, AlertCategory, MemoryStore, MessageFilter, ModelGates, NewConversation, NewUsage, Patch,
    Storage, TableName, WorkspacePatch,
};

/// The usage storage tables whose rows the input damages.
const TABLES: [TableName; 2] = [TableName("usage"), TableName("usage_rollups")];

/// A store with a few recorded requests (conversations, alerts, retention set): the rows that
/// each input starts from.
fn template() -> &'static MemoryStore {
    static T: OnceLock<MemoryStore> = OnceLock::new();
    T.get_or_init(|| {
        let store = MemoryStore::new();
        let g = ModelGates::open(store.clone()).unwrap();
        let c = g.default_caller().unwrap();
        g.workspace_update(
            &c,
            "default",
            WorkspacePatch {
                usage_retention_days: Patch::Set(30),
                ..Default::default()
            },
        )
        .unwrap();
        let t0 = Utc::now() - chrono::Duration::days(40);
        let batch: Vec<NewUsage> = (0..8i64)
            .map(|i| NewUsage {
                request_id: format!("r{i}"),
                provider: "openai".into(),
                model: "gpt-5".into(),
                input_tokens: 100,
                output_tokens: 10,
                timestamp: Some(t0 + chrono::Duration::days(i * 5)),
                conversation: (i % 2 == 0).then(|| NewConversation {
                    chat_id: Some(format!("chat-{}", i % 3)),
                    prompt: format!("question {i}"),
                    answer: Some("answer".into()),
                    ..Default::default()
                }),
                alerts: vec![Alert {
                    trigger_type: if i % 3 == 0 { "pii" } else { "secrets" }.into(),
                    trigger_category: AlertCategory::Critical,
                    trigger_string: Some("x".into()),
                    code_snippet: None,
                    detected: false,
                }],
                ..Default::default()
            })
            .collect();
        g.usage_record_batch(&c, &batch).unwrap();
        store
    })
}

fn copy(src: &MemoryStore) -> MemoryStore {
    let dst = MemoryStore::new();
    let read = src.begin_read().unwrap();
    let mut write = dst.begin_write().unwrap();
    for name in [
        "meta",
        "accounts",
        "members",
        "workspaces",
        "catalog",
        "api_keys",
        "key_hashes",
        "providers",
        "personas",
        "usage",
        "usage_rollups",
    ] {
        let rows = read
            .range(
                TableName(name),
                Bound::Unbounded,
                Bound::Unbounded,
                usize::MAX,
            )
            .unwrap();
        for (k, v) in rows {
            write.put(TableName(name), &k, &v).unwrap();
        }
    }
    write.commit().unwrap();
    drop(read);
    dst
}

fuzz_target!(|data: &[u8]| {
    let [table, row, mode, body @ ..] = data else {
        return;
    };
    let store = copy(template());
    {
        let table = TABLES[usize::from(*table) % TABLES.len()];
        let read = store.begin_read().unwrap();
        let rows = read
            .range(table, Bound::Unbounded, Bound::Unbounded, usize::MAX)
            .unwrap();
        drop(read);
        let (key, old) = &rows[usize::from(*row) % rows.len()];
        // 0: the body as is; 1: JSON format byte + body; 2: compact format byte + body;
        // 3: the old value with one byte replaced.
        let value = match mode % 4 {
            0 => body.to_vec(),
            1 => [&[1u8][..], body].concat(),
            2 => [&[2u8][..], body].concat(),
            _ => {
                let mut v = old.clone();
                if let [at, b, ..] = body
                    && !v.is_empty()
                {
                    let i = usize::from(*at) % v.len();
                    v[i] = *b;
                }
                v
            }
        };
        let mut write = store.begin_write().unwrap();
        write.put(table, key, &value).unwrap();
        write.commit().unwrap();
    }
    let Ok(g) = ModelGates::open(store) else {
        return;
    };
    let c = g.default_caller().unwrap();
    let _ = g.check();
    let _ = g.workspace_usage(&c, None, None, None);
    let from = Utc.timestamp_opt(0, 0).single();
    let _ = g.workspace_usage(&c, None, from, Some(Utc::now()));
    let _ = g.workspace_messages_list(&c, None, &MessageFilter::default(), None, None);
    let _ = g.workspace_alerts_list(&c, None, None, None);
    let _ = g.usage_expire(3);
});
