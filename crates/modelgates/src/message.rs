//! Messages (seed 004): the conversations recorded with usage, listed newest first with
//! filters by chat and by alert trigger type, and read back per chat as question/answer pairs
//! with their token usage and alerts. Newest-first feeds are indexes keyed by reversed,
//! time-ordered usage ids, written in the recording transaction.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::codec::{Reverse16, decode_value, scan_raw_prefix};
use crate::error::{Error, Result};
use crate::handle::{Caller, ModelGates, Tx};
use crate::ids::{AccountId, UsageId, WorkspaceId};
use crate::routing::RequestKind;
use crate::schema::{
    ALERT_FEED, MESSAGE_COUNTS, MESSAGE_FEED, MESSAGES_BY_CHAT, MESSAGES_BY_TRIGGER, USAGE,
    USAGE_MESSAGES,
};
use crate::storage::{ReadTxn, TableName, WriteTxn};
use crate::usage::{Alert, AlertCategory, Counters, Message, ModelUsage, UsageRecord, UsageTotals};
use crate::validate::excerpt;

/// Counts of a message's alerts by trigger type.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertsSummary {
    /// Alerts with trigger type `malicious_packages`.
    pub malicious_packages: u64,
    /// Alerts with trigger type `pii`.
    pub pii: u64,
    /// Alerts with trigger type `secrets`.
    pub secrets: u64,
    /// Critical alerts of any type (informational ones are not counted).
    pub total_alerts: u64,
}

impl AlertsSummary {
    fn of(alerts: &[Alert]) -> Self {
        let mut s = Self::default();
        for a in alerts {
            match a.trigger_type.as_str() {
                "malicious_packages" => s.malicious_packages += 1,
                "pii" => s.pii += 1,
                "secrets" => s.secrets += 1,
                _ => {}
            }
            if a.trigger_category == AlertCategory::Critical {
                s.total_alerts += 1;
            }
        }
        s
    }
}

/// One side of a conversation turn.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The text (secrets redacted).
    pub message: String,
    /// When it was sent (the request's timestamp).
    pub timestamp: DateTime<Utc>,
    /// The gateway's message id.
    pub message_id: Option<String>,
}

/// Token usage of one or more requests (seed 004's `token_usage_agg`).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenUsageAgg {
    /// Per `provider/model`.
    pub tokens_by_model: BTreeMap<String, ModelUsage>,
    /// All together.
    pub token_usage: UsageTotals,
}

impl TokenUsageAgg {
    /// Totals per `provider/model` key (counters of the same key added up, the first pair's
    /// names kept) and overall.
    pub(crate) fn of(counters: impl IntoIterator<Item = ((String, String), Counters)>) -> Self {
        let mut by: BTreeMap<String, (String, String, Counters)> = BTreeMap::new();
        let mut all = Counters::default();
        for ((provider, model), c) in counters {
            all.add(&c);
            by.entry(format!("{provider}/{model}"))
                .or_insert_with(|| (provider, model, Counters::default()))
                .2
                .add(&c);
        }
        Self {
            tokens_by_model: by
                .into_iter()
                .map(|(k, (provider, model, c))| {
                    (
                        k,
                        ModelUsage {
                            provider,
                            model,
                            token_usage: (&c).into(),
                        },
                    )
                })
                .collect(),
            token_usage: (&all).into(),
        }
    }
}

fn usage_agg<'a>(records: impl IntoIterator<Item = &'a UsageRecord>) -> TokenUsageAgg {
    TokenUsageAgg::of(
        records
            .into_iter()
            .map(|r| ((r.provider.clone(), r.model.clone()), Counters::of(r))),
    )
}

/// A message in a list.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageSummary {
    /// The usage record.
    pub usage_id: UsageId,
    /// The chat.
    pub chat_id: Option<String>,
    /// The prompt.
    pub prompt: Option<ChatMessage>,
    /// Alert counts.
    pub alerts_summary: AlertsSummary,
    /// The request's token usage.
    pub token_usage_agg: TokenUsageAgg,
    /// The provider as reported.
    pub provider: String,
    /// Chat or FIM.
    #[serde(rename = "type")]
    pub request_type: RequestKind,
    /// When the request happened.
    pub conversation_timestamp: DateTime<Utc>,
}

/// A page of messages.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesPage {
    /// Newest first.
    pub data: Vec<MessageSummary>,
    /// Page size.
    pub limit: u64,
    /// Messages skipped before this page.
    pub offset: u64,
    /// Messages matching the filters.
    pub total: u64,
}

/// A question and its answer.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionAnswer {
    /// The prompt.
    pub question: Option<ChatMessage>,
    /// The answer.
    pub answer: Option<ChatMessage>,
}

/// A conversation: every recorded turn of a chat (or one request), oldest first.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// The chat (absent for a single request without one).
    pub chat_id: Option<String>,
    /// The turns, oldest first.
    pub question_answers: Vec<QuestionAnswer>,
    /// The provider of the latest turn.
    pub provider: String,
    /// The request kind of the latest turn.
    #[serde(rename = "type")]
    pub request_type: RequestKind,
    /// When the first turn happened.
    pub conversation_timestamp: DateTime<Utc>,
    /// Token usage of all turns.
    pub token_usage_agg: TokenUsageAgg,
    /// Every alert of every turn.
    pub alerts: Vec<Alert>,
}

/// A critical alert in a workspace's alert list.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEntry {
    /// The request it was raised on.
    pub usage_id: UsageId,
    /// Its chat.
    pub chat_id: Option<String>,
    /// The alert.
    #[serde(flatten)]
    pub alert: Alert,
    /// When the request happened.
    pub timestamp: DateTime<Utc>,
    /// Alerts with the same trigger type and string within 5 s before this one, folded into it.
    pub collapsed: u64,
}

/// A page of alerts.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertsPage {
    /// Newest first.
    pub data: Vec<AlertEntry>,
    /// Page size.
    pub limit: u64,
    /// Entries skipped before this page.
    pub offset: u64,
    /// Whether more entries follow.
    pub has_more: bool,
}

/// Alerts of the same trigger within this window (ms) are near-duplicates.
const COLLAPSE_MS: i64 = 5_000;

/// Filters of [`ModelGates::workspace_messages_list`]: a message matches when it belongs to one
/// of `chat_ids` (if any are given) and has an alert of one of `trigger_types` (if any).
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// Chat ids.
    pub chat_ids: Vec<String>,
    /// Alert trigger types (`secrets`, `pii`, `malicious_packages`, …).
    pub trigger_types: Vec<String>,
}

/// `page` ≥ 1 and `page_size` 1-100, as the seed's message paging has them.
fn check_page(page: u64, size: u64) -> Result<()> {
    if page == 0 {
        return Err(Error::invalid("page", "must be at least 1"));
    }
    if !(1..=100).contains(&size) {
        return Err(Error::invalid(
            "page_size",
            format!("{size} is outside 1-100"),
        ));
    }
    Ok(())
}

/// Most filter values.
const FILTER_MAX: usize = 100;

/// Adds `delta` (±1) to a message count; a count reaching 0 is removed.
fn count_by(
    tx: &mut Tx<'_>,
    account: AccountId,
    ws: WorkspaceId,
    key: String,
    delta: i64,
) -> Result<()> {
    let k = (account, ws, key);
    let n = MESSAGE_COUNTS.get(&*tx, &k)?.unwrap_or(0);
    match n.checked_add_signed(delta).unwrap_or(0) {
        0 => MESSAGE_COUNTS.delete(&mut *tx, &k).map(|_| ()),
        n => MESSAGE_COUNTS.put(&mut *tx, &k, &n),
    }
}

/// The index entries of a message: (storage table, storage key, count key) for the workspace
/// feed, its chat's feed, one feed per alert trigger type (each counted) and, when it has a
/// critical alert, the critical-alert feed (not counted).
fn entries(
    account: AccountId,
    ws: WorkspaceId,
    message: &Message,
) -> Vec<(TableName, Vec<u8>, Option<String>)> {
    let rev = Reverse16(message.usage_id.to_bytes());
    let mut entries = vec![(
        MESSAGE_FEED.name(),
        MESSAGE_FEED.key_bytes(&(account, ws, rev)),
        Some(String::new()),
    )];
    if let Some(chat) = &message.chat_id {
        entries.push((
            MESSAGES_BY_CHAT.name(),
            MESSAGES_BY_CHAT.key_bytes(&(account, ws, chat.clone(), rev)),
            Some(format!("chat:{chat}")),
        ));
    }
    let types: BTreeSet<&str> = message
        .alerts
        .iter()
        .map(|a| a.trigger_type.as_str())
        .collect();
    for t in types {
        entries.push((
            MESSAGES_BY_TRIGGER.name(),
            MESSAGES_BY_TRIGGER.key_bytes(&(account, ws, t.to_owned(), rev)),
            Some(format!("trigger:{t}")),
        ));
    }
    if message
        .alerts
        .iter()
        .any(|a| a.trigger_category == AlertCategory::Critical)
    {
        entries.push((
            ALERT_FEED.name(),
            ALERT_FEED.key_bytes(&(account, ws, rev)),
            None,
        ));
    }
    entries
}

/// Adds (`present`) or removes a message's feed entries and counts.
fn index(
    tx: &mut Tx<'_>,
    account: AccountId,
    ws: WorkspaceId,
    message: &Message,
    present: bool,
) -> Result<()> {
    let delta = if present { 1 } else { -1 };
    let value = MESSAGE_FEED.value_bytes(&message.usage_id)?;
    for (table, key, count) in entries(account, ws, message) {
        if present {
            tx.put(table, &key, &value)?;
        } else {
            tx.delete(table, &key)?;
        }
        if let Some(count) = count {
            count_by(tx, account, ws, count, delta)?;
        }
    }
    Ok(())
}

/// Checks a workspace's messages: each belongs to a usage record, and the feeds and counts hold
/// exactly the entries its messages imply. Reads everything.
pub(crate) fn check(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: WorkspaceId,
    problem: &mut dyn FnMut(String),
) -> Result<()> {
    let mut want_keys: BTreeMap<(TableName, Vec<u8>), UsageId> = BTreeMap::new();
    let mut want_counts: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    for m in USAGE_MESSAGES.values_with_prefix(txn, &(account, ws))? {
        let m: Message = m;
        if !USAGE.contains(txn, &(account, ws, m.usage_id))? {
            problem(format!("message {}: its usage record is gone", m.usage_id));
        }
        for (table, key, count) in entries(account, ws, &m) {
            want_keys.insert((table, key), m.usage_id);
            if let Some(count) = count {
                *want_counts
                    .entry(MESSAGE_COUNTS.key_bytes(&(account, ws, count)))
                    .or_default() += 1;
            }
        }
    }
    let mut got_keys: BTreeMap<(TableName, Vec<u8>), UsageId> = BTreeMap::new();
    let p = (account, ws);
    for range in [
        MESSAGE_FEED.prefix_of(&p),
        MESSAGES_BY_CHAT.prefix_of(&p),
        MESSAGES_BY_TRIGGER.prefix_of(&p),
        ALERT_FEED.prefix_of(&p),
    ] {
        for (k, v) in scan_raw_prefix(txn, &range, None, usize::MAX)? {
            got_keys.insert((range.0, k), decode_value(range.0, &v)?);
        }
    }
    let (missing, stray) = crate::check::differences(&want_keys, &got_keys);
    if missing + stray > 0 {
        problem(format!(
            "workspace {ws}: message feeds miss {missing} entries (or point them elsewhere) and \
             hold {stray} stray ones"
        ));
    }
    let got_counts: BTreeMap<Vec<u8>, u64> = MESSAGE_COUNTS
        .scan_prefix(txn, &(account, ws))?
        .into_iter()
        .collect();
    let (wrong, stray) = crate::check::differences(&want_counts, &got_counts);
    if wrong + stray > 0 {
        problem(format!(
            "workspace {ws}: {} message counts differ from the messages they count",
            wrong + stray
        ));
    }
    Ok(())
}

/// Writes a message and its feed entries (called when a usage record with a conversation or
/// alerts is stored).
pub(crate) fn store(
    tx: &mut Tx<'_>,
    account: AccountId,
    ws: WorkspaceId,
    message: &Message,
) -> Result<()> {
    USAGE_MESSAGES.put(&mut *tx, &(account, ws, message.usage_id), message)?;
    index(tx, account, ws, message, true)
}

/// Removes a message's feed entries and counts (retention; the message itself is deleted by
/// the caller).
pub(crate) fn unindex(
    tx: &mut Tx<'_>,
    account: AccountId,
    ws: WorkspaceId,
    message: &Message,
) -> Result<()> {
    index(tx, account, ws, message, false)
}

/// Up to `limit` ids of one newest-first index stream.
fn stream(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: WorkspaceId,
    by: Option<(&str, &str)>,
    limit: usize,
) -> Result<Vec<UsageId>> {
    let rows = match by {
        None => MESSAGE_FEED.scan_prefix_limit(txn, &(account, ws), limit)?,
        Some(("chat", v)) => {
            MESSAGES_BY_CHAT.scan_prefix_limit(txn, &(account, ws, v.to_owned()), limit)?
        }
        Some((_, v)) => {
            MESSAGES_BY_TRIGGER.scan_prefix_limit(txn, &(account, ws, v.to_owned()), limit)?
        }
    };
    Ok(rows.into_iter().map(|(_, id)| id).collect())
}

fn count(txn: &dyn ReadTxn, account: AccountId, ws: WorkspaceId, key: String) -> Result<u64> {
    Ok(MESSAGE_COUNTS.get(txn, &(account, ws, key))?.unwrap_or(0))
}

fn check_values(field: &str, values: &[String]) -> Result<()> {
    if values.len() > FILTER_MAX {
        return Err(Error::invalid(
            field,
            format!("{} values; at most {FILTER_MAX} are allowed", values.len()),
        ));
    }
    for (i, v) in values.iter().enumerate() {
        if v.is_empty() || v.chars().count() > 128 {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                format!("{:?} must be 1-128 characters", excerpt(v)),
            ));
        }
    }
    Ok(())
}

impl ModelGates {
    /// A page of a workspace's messages (`None` = the active workspace), newest first.
    /// `page` ≥ 1, `page_size` 1-100 (default 50). Pages follow one fixed order (newest first,
    /// ties by id), so consecutive pages never overlap or skip, with or without filters.
    pub fn workspace_messages_list(
        &self,
        caller: &Caller,
        workspace: Option<&str>,
        filter: &MessageFilter,
        page: Option<u64>,
        page_size: Option<u64>,
    ) -> Result<MessagesPage> {
        let page = page.unwrap_or(1);
        let size = page_size.unwrap_or(50);
        check_page(page, size)?;
        check_values("filter_by_ids", &filter.chat_ids)?;
        check_values("filter_by_alert_trigger_types", &filter.trigger_types)?;
        let offset = (page - 1).saturating_mul(size);
        let want = usize::try_from(offset.saturating_add(size)).unwrap_or(usize::MAX);
        self.read(|txn| {
            let account = caller.account;
            let ws = access::workspace_of(txn, caller, workspace)?.1.id;
            let types: BTreeSet<&str> = filter.trigger_types.iter().map(String::as_str).collect();
            // Candidate ids in the feed order (reversed id bytes ascending = newest first).
            let (ids, total): (Vec<UsageId>, Option<u64>) =
                if filter.chat_ids.len() == 1 && types.is_empty() {
                    let chat = &filter.chat_ids[0];
                    let ids = stream(txn, account, ws, Some(("chat", chat)), want)?;
                    (ids, Some(count(txn, account, ws, format!("chat:{chat}"))?))
                } else if !filter.chat_ids.is_empty() {
                    let mut all = BTreeSet::new();
                    for chat in &filter.chat_ids {
                        all.extend(stream(txn, account, ws, Some(("chat", chat)), usize::MAX)?);
                    }
                    let mut ids: Vec<UsageId> = all.into_iter().rev().collect();
                    if !types.is_empty() {
                        let mut kept = Vec::new();
                        for id in ids {
                            let m = USAGE_MESSAGES.get(txn, &(account, ws, id))?;
                            if m.is_some_and(|m| {
                                m.alerts
                                    .iter()
                                    .any(|a| types.contains(a.trigger_type.as_str()))
                            }) {
                                kept.push(id);
                            }
                        }
                        ids = kept;
                    }
                    (ids, None)
                } else if types.len() == 1 {
                    let t = *types.iter().next().unwrap_or(&"");
                    let ids = stream(txn, account, ws, Some(("trigger", t)), want)?;
                    (ids, Some(count(txn, account, ws, format!("trigger:{t}"))?))
                } else if !types.is_empty() {
                    let mut all = BTreeSet::new();
                    for t in &types {
                        all.extend(stream(txn, account, ws, Some(("trigger", t)), usize::MAX)?);
                    }
                    (all.into_iter().rev().collect(), None)
                } else {
                    let ids = stream(txn, account, ws, None, want)?;
                    (ids, Some(count(txn, account, ws, String::new())?))
                };
            let total = total.unwrap_or(ids.len() as u64);
            let mut data = Vec::new();
            for id in ids.into_iter().skip(offset as usize).take(size as usize) {
                let m = USAGE_MESSAGES
                    .get(txn, &(account, ws, id))?
                    .ok_or_else(|| {
                        Error::Corrupt(format!("message {id} is indexed but missing"))
                    })?;
                let r = USAGE
                    .get(txn, &(account, ws, id))?
                    .ok_or_else(|| Error::Corrupt(format!("usage {id} is missing")))?;
                data.push(MessageSummary {
                    usage_id: id,
                    chat_id: m.chat_id.clone(),
                    prompt: m.prompt.clone().map(|message| ChatMessage {
                        message,
                        timestamp: r.timestamp,
                        message_id: m.prompt_message_id.clone(),
                    }),
                    alerts_summary: AlertsSummary::of(&m.alerts),
                    token_usage_agg: usage_agg([&r]),
                    provider: r.provider.clone(),
                    request_type: r.request_type,
                    conversation_timestamp: r.timestamp,
                });
            }
            Ok(MessagesPage {
                data,
                limit: size,
                offset,
                total,
            })
        })
    }

    /// A workspace's critical alerts, newest first, paged like messages; an alert with the same
    /// trigger type and trigger string as a newer kept one less than 5 s later is folded into
    /// it (`collapsed` counts them).
    pub fn workspace_alerts_list(
        &self,
        caller: &Caller,
        workspace: Option<&str>,
        page: Option<u64>,
        page_size: Option<u64>,
    ) -> Result<AlertsPage> {
        let page = page.unwrap_or(1);
        let size = page_size.unwrap_or(50);
        check_page(page, size)?;
        let offset = (page - 1).saturating_mul(size);
        let want = offset.saturating_add(size).saturating_add(1);
        self.read(|txn| {
            let account = caller.account;
            let ws = access::workspace_of(txn, caller, workspace)?.1.id;
            let mut kept: Vec<AlertEntry> = Vec::new();
            // (trigger type, trigger string) → index in `kept` of the newest kept entry.
            let mut last: BTreeMap<(String, Option<String>), usize> = BTreeMap::new();
            let mut start: Option<Vec<u8>> = None;
            'scan: loop {
                // Walk the feed in chunks, so a deep page does not load everything at once.
                let rows =
                    ALERT_FEED.scan_prefix_after(txn, &(account, ws), start.as_deref(), 256)?;
                if rows.is_empty() {
                    break;
                }
                for (key, id) in &rows {
                    start = Some(key.clone());
                    let (Some(m), Some(r)) = (
                        USAGE_MESSAGES.get(txn, &(account, ws, *id))?,
                        USAGE.get(txn, &(account, ws, *id))?,
                    ) else {
                        continue;
                    };
                    for a in m
                        .alerts
                        .iter()
                        .filter(|a| a.trigger_category == AlertCategory::Critical)
                    {
                        let k = (a.trigger_type.clone(), a.trigger_string.clone());
                        if let Some(&i) = last.get(&k)
                            && (kept[i].timestamp - r.timestamp).num_milliseconds() < COLLAPSE_MS
                        {
                            kept[i].collapsed += 1;
                            continue;
                        }
                        last.insert(k, kept.len());
                        kept.push(AlertEntry {
                            usage_id: *id,
                            chat_id: m.chat_id.clone(),
                            alert: a.clone(),
                            timestamp: r.timestamp,
                            collapsed: 0,
                        });
                    }
                }
                // Entries still collecting duplicates must see 5 s further back.
                if kept.len() as u64 >= want
                    && kept.last().is_some_and(|newest_needed| {
                        rows.last().is_some_and(|(_, id)| {
                            newest_needed.timestamp.timestamp_millis() - id.millis() as i64
                                >= COLLAPSE_MS
                        })
                    })
                {
                    break 'scan;
                }
            }
            let has_more = kept.len() as u64 > offset + size;
            let data = kept
                .into_iter()
                .skip(offset as usize)
                .take(size as usize)
                .collect();
            Ok(AlertsPage {
                data,
                limit: size,
                offset,
                has_more,
            })
        })
    }

    /// A conversation: every recorded turn of chat `id` — or, for a `usage_…` id, that one
    /// request — oldest first, with token usage and alerts.
    pub fn workspace_message_get(
        &self,
        caller: &Caller,
        workspace: Option<&str>,
        id: &str,
    ) -> Result<Conversation> {
        self.read(|txn| {
            let account = caller.account;
            let ws = access::workspace_of(txn, caller, workspace)?.1.id;
            let ids: Vec<UsageId> = if id.starts_with(UsageId::PREFIX) {
                vec![UsageId::parse_field(id, "id")?]
            } else {
                let mut ids = stream(txn, account, ws, Some(("chat", id)), usize::MAX)?;
                ids.reverse();
                ids
            };
            let mut turns = Vec::new();
            for uid in ids {
                let (Some(r), Some(m)) = (
                    USAGE.get(txn, &(account, ws, uid))?,
                    USAGE_MESSAGES.get(txn, &(account, ws, uid))?,
                ) else {
                    continue;
                };
                turns.push((r, m));
            }
            let (Some((first, _)), Some((last, last_m))) = (turns.first(), turns.last()) else {
                return Err(Error::not_found("conversation", excerpt(id)));
            };
            Ok(Conversation {
                chat_id: last_m.chat_id.clone(),
                provider: last.provider.clone(),
                request_type: last.request_type,
                conversation_timestamp: first.timestamp,
                token_usage_agg: usage_agg(turns.iter().map(|(r, _)| r)),
                alerts: turns.iter().flat_map(|(_, m)| m.alerts.clone()).collect(),
                question_answers: turns
                    .iter()
                    .map(|(r, m)| QuestionAnswer {
                        question: m.prompt.clone().map(|message| ChatMessage {
                            message,
                            timestamp: r.timestamp,
                            message_id: m.prompt_message_id.clone(),
                        }),
                        answer: m.answer.clone().map(|message| ChatMessage {
                            message,
                            timestamp: r.timestamp,
                            message_id: m.answer_message_id.clone(),
                        }),
                    })
                    .collect(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;
    use crate::storage::Storage;

    /// Found by the `stored` fuzz target: feed entries whose message is gone (a damaged file)
    /// must be skipped, not re-read forever.
    #[test]
    fn alert_feed_entries_without_a_message_are_skipped() {
        let store = MemoryStore::new();
        let g = ModelGates::open(store.clone()).unwrap();
        let c = g.default_caller().unwrap();
        let ws = g.workspace_get(&c, "default").unwrap().id;
        let mut txn = store.begin_write().unwrap();
        for ms in 0..300 {
            let id = UsageId::from_parts(1_000 + ms, 7);
            ALERT_FEED
                .put(&mut *txn, &(c.account, ws, Reverse16(id.to_bytes())), &id)
                .unwrap();
        }
        txn.commit().unwrap();
        let page = g.workspace_alerts_list(&c, None, None, None).unwrap();
        assert!(page.data.is_empty() && !page.has_more);
        let report = g.check().unwrap();
        assert!(
            report.problems.iter().any(|p| p.contains("stray")),
            "{:?}",
            report.problems
        );
    }
}
