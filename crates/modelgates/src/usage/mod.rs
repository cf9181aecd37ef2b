//! Token usage (seed 004): gateways record what each request consumed; ModelGates prices it at
//! record time from the workspace's model prices (exact integer arithmetic), stores it once per
//! caller-supplied request id, and keeps time-bucketed rollups up to date in the same
//! transaction, so usage over any time range is read from a few rollup rows.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone, Utc};

use crate::access;
use crate::clock::millis;
use crate::codec::delete_prefix_limit;
use crate::error::{Error, Result};
use crate::handle::{Caller, ModelGates, op};
use crate::ids::{AccountId, KeyId, UsageId, WorkspaceId};
use crate::message::TokenUsageAgg;
use crate::model;
use crate::provider::{self, ProviderType};
pub use crate::record::usage::*;
use crate::routing::RequestKind;
use crate::schema::{
    self, API_KEYS, KEY_USAGE, Purge, USAGE, USAGE_MESSAGES, USAGE_PURGES, USAGE_REQUESTS,
    USAGE_ROLLUPS, WORKSPACE_KEYS,
};
use crate::storage::ReadTxn;
use crate::validate::excerpt;
use crate::workspace::{self, WorkspaceRecord};

mod retention;
mod rollup;

pub use retention::INLINE_PURGE_MAX;
pub(crate) use retention::*;
pub use rollup::USAGE_SERIES_BUCKETS_MAX;
pub(crate) use rollup::*;

/// Longest request id.
const REQUEST_ID_MAX: usize = 128;
/// Most records of one batch.
pub const USAGE_BATCH_MAX: usize = 1000;

fn check_new(field: &str, n: &NewUsage, now: DateTime<Utc>) -> Result<()> {
    let f = |x: &str| format!("{field}{x}");
    let len = n.request_id.chars().count();
    if len == 0 || len > REQUEST_ID_MAX || n.request_id.chars().any(char::is_control) {
        return Err(Error::invalid(
            f("request_id"),
            format!(
                "{:?} must be 1-{REQUEST_ID_MAX} characters without control characters",
                excerpt(&n.request_id)
            ),
        ));
    }
    for (name, v) in [("provider", &n.provider), ("model", &n.model)] {
        let len = v.chars().count();
        if len == 0 || len > 200 || v.chars().any(char::is_control) {
            return Err(Error::invalid(
                f(name),
                format!("{:?} must be 1-200 characters", excerpt(v)),
            ));
        }
    }
    if let Some(ts) = n.timestamp
        && ts > now + chrono::Duration::days(1)
    {
        return Err(Error::invalid(
            f("timestamp"),
            format!("{ts} is more than a day in the future"),
        ));
    }
    if let Some(c) = &n.conversation {
        for (name, v) in [
            ("conversation.prompt", Some(&c.prompt)),
            ("conversation.answer", c.answer.as_ref()),
        ] {
            if let Some(v) = v
                && v.len() > TEXT_MAX
            {
                return Err(Error::invalid(
                    f(name),
                    format!("{} bytes; at most {TEXT_MAX} (1 MiB) are allowed", v.len()),
                ));
            }
        }
    }
    if n.alerts.len() > ALERTS_MAX {
        return Err(Error::invalid(
            f("alerts"),
            format!(
                "{} alerts; at most {ALERTS_MAX} are allowed",
                n.alerts.len()
            ),
        ));
    }
    for (i, a) in n.alerts.iter().enumerate() {
        let len = a.trigger_type.chars().count();
        if len == 0 || len > 64 || a.trigger_type.chars().any(char::is_control) {
            return Err(Error::invalid(
                f(&format!("alerts[{i}].trigger_type")),
                format!("{:?} must be 1-64 characters", excerpt(&a.trigger_type)),
            ));
        }
    }
    if let Some(ts) = n.timestamp
        && ts.timestamp_millis() < 0
    {
        return Err(Error::invalid(
            f("timestamp"),
            format!("{ts} is before 1970"),
        ));
    }
    Ok(())
}

/// What a request costs: the provider endpoint's type and the workspace model that prices it.
#[derive(Debug, Clone)]
struct Price {
    provider_type: Option<ProviderType>,
    /// `provider/family` and the input and output prices in units of 10⁻⁹ cents per million
    /// tokens; `None` = unpriced.
    model: Option<(String, u128, u128)>,
}

impl Price {
    fn costs(&self, input_tokens: u64, output_tokens: u64) -> (Cost, Cost) {
        match &self.model {
            Some((_, input, output)) => (
                Cost(u128::from(input_tokens).saturating_mul(*input)),
                Cost(u128::from(output_tokens).saturating_mul(*output)),
            ),
            None => (Cost::default(), Cost::default()),
        }
    }
}

/// Prices a request: the workspace model behind `(provider, model)` — a configured provider
/// endpoint's registered family or a `provider/family` reference — else unpriced.
fn price(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: &WorkspaceRecord,
    n: &NewUsage,
) -> Result<Price> {
    let endpoint = match provider::resolve(txn, account, "provider", &n.provider) {
        Ok(p) => Some(p.provider),
        Err(Error::NotFound { .. } | Error::InvalidArgument { .. }) => None,
        Err(e) => return Err(e),
    };
    let found = match &endpoint {
        Some(p) => model::for_provider(
            txn,
            account,
            ws,
            &[&p.name, p.provider_type.as_str()],
            &n.model,
        )?,
        None => model::for_provider(txn, account, ws, &[&n.provider], &n.model)?,
    };
    let model = match found {
        Some(m) => Some((
            m.reference(),
            price_units(&m.spec.input_price_per_million_tokens)?,
            price_units(&m.spec.output_price_per_million_tokens)?,
        )),
        None => None,
    };
    Ok(Price {
        provider_type: endpoint.map(|p| p.provider_type),
        model,
    })
}

/// The message to store for a request: texts redacted, and a `secrets` alert added when the
/// detector finds one and the gateway reported none.
fn message_of(usage_id: UsageId, n: &NewUsage) -> Result<Message> {
    let mut findings = Vec::new();
    let mut clean = |text: &str| -> Result<String> {
        let (redacted, found) = crate::secrets::redact(text)?;
        findings.extend(found.into_iter().map(|f| f.kind));
        Ok(redacted)
    };
    let conv = n.conversation.as_ref();
    let prompt = conv.map(|c| clean(&c.prompt)).transpose()?;
    let answer = conv
        .and_then(|c| c.answer.as_deref())
        .map(&mut clean)
        .transpose()?;
    let mut alerts: Vec<Alert> = Vec::with_capacity(n.alerts.len());
    for a in &n.alerts {
        alerts.push(Alert {
            trigger_type: a.trigger_type.clone(),
            trigger_category: a.trigger_category,
            trigger_string: a.trigger_string.as_deref().map(&mut clean).transpose()?,
            code_snippet: match &a.code_snippet {
                Some(c) => Some(CodeSnippet {
                    code: clean(&c.code)?,
                    language: c.language.clone(),
                    filepath: c.filepath.clone(),
                }),
                None => None,
            },
            detected: false,
        });
    }
    if !findings.is_empty() && !alerts.iter().any(|a| a.trigger_type == "secrets") {
        findings.sort_unstable();
        findings.dedup();
        for kind in findings {
            alerts.push(Alert {
                trigger_type: "secrets".into(),
                trigger_category: AlertCategory::Critical,
                trigger_string: Some(format!("[REDACTED:{kind}]")),
                code_snippet: None,
                detected: true,
            });
        }
    }
    Ok(Message {
        usage_id,
        chat_id: conv.and_then(|c| c.chat_id.clone()),
        prompt,
        prompt_message_id: conv.and_then(|c| c.prompt_message_id.clone()),
        answer,
        answer_message_id: conv.and_then(|c| c.answer_message_id.clone()),
        alerts,
    })
}

impl ModelGates {
    /// Records one request's usage (see [`ModelGates::usage_record_batch`]).
    pub fn usage_record(&self, caller: &Caller, new: NewUsage) -> Result<Recorded> {
        let mut out = self.record(caller, std::slice::from_ref(&new), "")?;
        Ok(out.remove(0))
    }

    /// Records up to 1,000 requests in one transaction and one commit: each is validated,
    /// priced from its workspace's model prices (a later price change never rewrites it) and
    /// stored once per request id — a repeated id is reported as a duplicate and changes
    /// nothing; the rollups are updated in the same transaction. All or nothing: one invalid
    /// record (named by its index) records none.
    pub fn usage_record_batch(&self, caller: &Caller, batch: &[NewUsage]) -> Result<Vec<Recorded>> {
        if batch.is_empty() || batch.len() > USAGE_BATCH_MAX {
            return Err(Error::invalid(
                "records",
                format!(
                    "{} records given; a batch has 1 to {USAGE_BATCH_MAX}",
                    batch.len()
                ),
            ));
        }
        self.record(caller, batch, "records")
    }

    fn record(&self, caller: &Caller, batch: &[NewUsage], field: &str) -> Result<Vec<Recorded>> {
        let now = self.now();
        let prefix = |i: usize| {
            if field.is_empty() {
                String::new()
            } else {
                format!("{field}[{i}].")
            }
        };
        for (i, n) in batch.iter().enumerate() {
            check_new(&prefix(i), n, now)?;
        }
        self.write(op("usage_record", caller), |tx| {
            let me = access::member(&*tx, caller)?;
            let account = caller.account;
            let mut out = Vec::with_capacity(batch.len());
            let mut rollups: BTreeMap<(WorkspaceId, u64, u64), Rollup> = BTreeMap::new();
            let mut workspaces: BTreeMap<Option<String>, WorkspaceRecord> = BTreeMap::new();
            let mut prices: BTreeMap<(WorkspaceId, &str, &str), Price> = BTreeMap::new();
            let mut by_key: BTreeMap<KeyId, Vec<(u64, Counters)>> = BTreeMap::new();
            for (i, n) in batch.iter().enumerate() {
                if !workspaces.contains_key(&n.workspace) {
                    let ws = workspace::resolve_or_active(&*tx, account, n.workspace.as_deref())?;
                    access::workspace(&*tx, &me, &ws)?;
                    workspaces.insert(n.workspace.clone(), ws);
                }
                let ws = &workspaces[&n.workspace];
                let api_key_id = match &n.api_key_id {
                    None if !me.is_admin() => {
                        return Err(Error::PermissionDenied(format!(
                            "user {} has role {} and may record usage only for their own keys; \
                             {}api_key_id is required",
                            me.user_id,
                            me.role.as_str(),
                            prefix(i)
                        )));
                    }
                    None => None,
                    Some(raw) => {
                        let f = format!("{}api_key_id", prefix(i));
                        let id = KeyId::parse_field(raw, &f)?;
                        if !WORKSPACE_KEYS.contains(&*tx, &(account, ws.id, id))? {
                            return Err(Error::invalid(
                                f,
                                format!("API key {id} is not a key of workspace {:?}", ws.slug),
                            ));
                        }
                        if !me.is_admin() {
                            let owner = crate::schema::API_KEYS
                                .get(&*tx, &(account, id))?
                                .map(|r| r.key.creator_user_id);
                            if owner.as_ref() != Some(&me.user_id) {
                                return Err(Error::PermissionDenied(format!(
                                    "user {} has role {} and may record usage only for their \
                                     own keys, not for {f} {id}",
                                    me.user_id,
                                    me.role.as_str()
                                )));
                            }
                        }
                        Some(id)
                    }
                };
                // A repeated request id answers its first record, after the key checks, so
                // a member cannot read a record through another key's request id.
                let req_key = (account, ws.id, n.request_id.clone());
                if let Some(id) = USAGE_REQUESTS.get(&*tx, &req_key)? {
                    // Absent when retention has removed it since.
                    let data = USAGE.get(&*tx, &(account, ws.id, id))?;
                    out.push(Recorded {
                        data,
                        duplicate: true,
                    });
                    continue;
                }
                // Priced once per (workspace, provider, model) in a batch: the prices cannot
                // change inside this transaction.
                let price_key = (ws.id, n.provider.as_str(), n.model.as_str());
                let priced = match prices.get(&price_key) {
                    Some(p) => p,
                    None => {
                        let p = price(&*tx, account, ws, n)?;
                        prices.entry(price_key).or_insert(p)
                    }
                };
                let (input_cost, output_cost) = priced.costs(n.input_tokens, n.output_tokens);
                let timestamp = n.timestamp.unwrap_or(tx.now);
                let ts = millis(timestamp);
                let record = UsageRecord {
                    // The id's time part is the request's own timestamp (records arrive out of
                    // order), not the monotonic creation order other ids use.
                    id: UsageId::from_parts(ts, crate::ids::random_u128()),
                    request_id: n.request_id.clone(),
                    workspace_id: ws.id,
                    api_key_id,
                    provider: n.provider.clone(),
                    provider_type: priced.provider_type,
                    model: n.model.clone(),
                    model_ref: priced.model.as_ref().map(|m| m.0.clone()),
                    request_type: n.request_type.unwrap_or(RequestKind::Chat),
                    input_tokens: n.input_tokens,
                    output_tokens: n.output_tokens,
                    input_cost,
                    output_cost,
                    timestamp,
                };
                USAGE.put(&mut *tx, &(account, ws.id, record.id), &record)?;
                if n.conversation.is_some() || !n.alerts.is_empty() {
                    let message = message_of(record.id, n)?;
                    crate::message::store(tx, account, ws.id, &message)?;
                }
                USAGE_REQUESTS.put(&mut *tx, &req_key, &record.id)?;
                let key = format!("{}/{}", record.provider, record.model);
                let c = Counters::of(&record);
                if let Some(key) = api_key_id {
                    by_key.entry(key).or_default().push((ts, c));
                }
                for (level, start) in rollup_keys(ts) {
                    rollups
                        .entry((ws.id, level, start))
                        .or_default()
                        .add(&key, &c, ts);
                }
                out.push(Recorded {
                    data: Some(record),
                    duplicate: false,
                });
            }
            for ((ws, level, start), delta) in rollups {
                let key = (account, ws, level, start);
                let mut row = USAGE_ROLLUPS.get(&*tx, &key)?.unwrap_or_default();
                row.merge(&delta);
                USAGE_ROLLUPS.put(&mut *tx, &key, &row)?;
            }
            for (key, requests) in by_key {
                let key = (account, key);
                let mut row = KEY_USAGE.get(&*tx, &key)?.unwrap_or_default();
                for (ts, c) in &requests {
                    row.add(*ts, c);
                }
                KEY_USAGE.put(&mut *tx, &key, &row)?;
            }
            Ok(out)
        })
    }

    /// What keys `ids` have used (in order): in all and in the current UTC day, week and month,
    /// from the usage recorded with their ids. Members may read only their own keys.
    pub fn key_usage(&self, caller: &Caller, ids: &[KeyId]) -> Result<Vec<KeyUsage>> {
        let now = millis(self.now());
        self.read(|txn| {
            let me = access::member(txn, caller)?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let key = API_KEYS
                    .get(txn, &(caller.account, *id))?
                    .ok_or_else(|| Error::not_found("api key", id.to_string()))?
                    .key;
                access::own(&me, &key.creator_user_id, "read their own keys")?;
                let row = KEY_USAGE
                    .get(txn, &(caller.account, *id))?
                    .unwrap_or_default();
                out.push(row.at(now));
            }
            Ok(out)
        })
    }

    /// The stored conversation and alerts of a usage record (`None` when it had neither).
    pub fn usage_message(
        &self,
        caller: &Caller,
        workspace: Option<&str>,
        usage_id: &str,
    ) -> Result<Option<Message>> {
        let id = UsageId::parse_field(usage_id, "usage_id")?;
        self.read(|txn| {
            let (_, ws) = access::workspace_of(txn, caller, workspace)?;
            if !USAGE.contains(txn, &(caller.account, ws.id, id))? {
                return Err(Error::not_found("usage record", id.to_string()));
            }
            USAGE_MESSAGES.get(txn, &(caller.account, ws.id, id))
        })
    }
}

/// Checks a workspace's usage: every record is indexed by its request id (and nothing else
/// is), and every rollup row equals the sum of the records in its bucket. Reads everything.
pub(crate) fn check(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: WorkspaceId,
    count: &mut u64,
    problem: &mut dyn FnMut(String),
) -> Result<()> {
    let records = USAGE.values_with_prefix(txn, &(account, ws))?;
    *count += records.len() as u64;
    // Request ids outlive records removed by retention (a late retry stays a duplicate).
    let index = USAGE_REQUESTS.scan_prefix(txn, &(account, ws))?.len();
    if index < records.len() {
        problem(format!(
            "workspace {ws}: {index} request ids index {} usage records",
            records.len()
        ));
    }
    let watermark = USAGE_ROLLUPS
        .get(txn, &(account, ws, TOTAL_LEVEL, 0))?
        .map_or(0, |r| r.expired_before_ms);
    let mut want: BTreeMap<(u64, u64), Rollup> = BTreeMap::new();
    for r in &records {
        if USAGE_REQUESTS.get(txn, &(account, ws, r.request_id.clone()))? != Some(r.id) {
            problem(format!(
                "usage {}: request id {:?} not indexed",
                r.id, r.request_id
            ));
        }
        let ts = millis(r.timestamp);
        let key = format!("{}/{}", r.provider, r.model);
        for (level, start) in rollup_keys(ts) {
            want.entry((level, start))
                .or_default()
                .add(&key, &Counters::of(r), ts);
        }
    }
    let stored: BTreeMap<(u64, u64), Rollup> = USAGE_ROLLUPS
        .scan_prefix(txn, &(account, ws))?
        .into_iter()
        .map(|(k, mut v): (Vec<u8>, Rollup)| {
            v.expired_before_ms = 0;
            let (_, _, level, start) = USAGE_ROLLUPS.key_of(&k).ok_or_else(|| {
                Error::Corrupt(format!(
                    "workspace {ws}: a usage rollup key does not decode"
                ))
            })?;
            Ok(((level, start), v))
        })
        .collect::<Result<_>>()?;
    // After retention, only buckets starting at or after the watermark hold nothing removed.
    let intact = |&(level, start): &(u64, u64)| {
        watermark == 0 || (level != TOTAL_LEVEL && start >= watermark)
    };
    let stored: BTreeMap<_, _> = stored.into_iter().filter(|(k, _)| intact(k)).collect();
    let want: BTreeMap<_, _> = want.into_iter().filter(|(k, _)| intact(k)).collect();
    let (wrong, stray) = crate::check::differences(&want, &stored);
    if wrong + stray > 0 {
        problem(format!(
            "workspace {ws}: {} usage rollup rows differ from the sum of their records",
            wrong + stray
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_are_exact_decimals() {
        let cases = [
            // (tokens, cents per million tokens, USD)
            (1_000_000, "300", "3"),
            (1, "300", "0.000003"),
            (1, "0.15", "0.0000000015"),
            (3, "12.5", "0.000000375"),
            (123_456_789, "0.000000001", "0.00000000123456789"),
            (7, "1.1", "0.000000077"),
            (0, "300", "0"),
            (10_000_000_000, "7500", "750000"),
        ];
        for (tokens, price, usd) in cases {
            assert_eq!(
                Cost::of(tokens, price).unwrap().usd(),
                usd,
                "{tokens} × {price}"
            );
        }
        // Summing many small costs drifts not at all (0.1 + 0.2 style).
        let c = Cost::of(1, "0.1").unwrap();
        let mut sum = Cost::default();
        for _ in 0..10 {
            sum = sum.plus(c);
        }
        assert_eq!(sum, Cost::of(10, "0.1").unwrap());
        assert_eq!(sum.usd(), "0.00000001");
    }
}
