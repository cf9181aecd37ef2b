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
use crate::handle::{Caller, ModelGates};
use crate::ids::{AccountId, KeyId, UsageId, WorkspaceId};
use crate::message::TokenUsageAgg;
use crate::model;
use crate::provider::{self, ProviderType};
pub use crate::record::usage::*;
use crate::routing::RequestKind;
use crate::schema::{
    self, Purge, USAGE, USAGE_MESSAGES, USAGE_PURGES, USAGE_REQUESTS, USAGE_ROLLUPS, WORKSPACE_KEYS,
};
use crate::storage::ReadTxn;
use crate::validate::excerpt;
use crate::workspace::{self, Workspace};

/// Longest request id.
const REQUEST_ID_MAX: usize = 128;
/// Most records of one batch.
pub const USAGE_BATCH_MAX: usize = 1000;
/// Rollup bucket sizes in ms — 1 min, 10 min, 1 h, 6 h, 1 day, 8 days, 32 days — each dividing
/// the next, so any range is covered by at most ~2×(9+5+5+3+7+3)+11 rows. Level = position.
const LEVELS: [u64; 7] = [
    60_000,
    600_000,
    3_600_000,
    21_600_000,
    86_400_000,
    691_200_000,
    2_764_800_000,
];
/// The level of the all-time row.
const TOTAL_LEVEL: u64 = 255;

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
fn price(txn: &dyn ReadTxn, account: AccountId, ws: &Workspace, n: &NewUsage) -> Result<Price> {
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

fn bucket(level: usize, ts: u64) -> u64 {
    ts / LEVELS[level] * LEVELS[level]
}

/// The rollup rows a record at `ts` counts in: one per level, plus the all-time row.
fn rollup_keys(ts: u64) -> impl Iterator<Item = (u64, u64)> {
    (0..LEVELS.len())
        .map(move |l| (l as u64, bucket(l, ts)))
        .chain(std::iter::once((TOTAL_LEVEL, 0)))
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
        self.write(|tx| {
            let me = access::member(&*tx, caller)?;
            let account = caller.account;
            let mut out = Vec::with_capacity(batch.len());
            let mut rollups: BTreeMap<(WorkspaceId, u64, u64), Rollup> = BTreeMap::new();
            let mut workspaces: BTreeMap<Option<String>, Workspace> = BTreeMap::new();
            let mut prices: BTreeMap<(WorkspaceId, &str, &str), Price> = BTreeMap::new();
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
            Ok(out)
        })
    }

    /// Retention: removes raw usage records (with their messages) older than their workspace's
    /// `usage_retention_days`, across every account, at most `budget` records per call (one
    /// transaction), oldest first. Rollups stay, so usage totals never change. Run it
    /// repeatedly while `more` is set (the servers do, every minute).
    ///
    /// The workspaces with expired records are found in a read transaction, so the writer is
    /// held only to remove records (and not at all when nothing has expired).
    pub fn usage_expire(&self, budget: usize) -> Result<Expired> {
        let (due, purges) = self.read(|txn| {
            let now = self.now();
            let mut due = Vec::new();
            for account in crate::schema::ACCOUNTS.values_with_prefix(txn, &())? {
                let account: crate::account::Account = account;
                for ws in crate::schema::WORKSPACES.values_with_prefix(txn, &(account.id,))? {
                    let ws: Workspace = ws;
                    if let Some(cutoff) = retention_cutoff(&ws, now)
                        && !expired_records(txn, account.id, ws.id, cutoff, 1)?.is_empty()
                    {
                        due.push((account.id, ws.id));
                    }
                }
            }
            Ok((due, USAGE_PURGES.values_with_prefix(txn, &())?))
        })?;
        if (due.is_empty() && purges.is_empty()) || budget == 0 {
            return Ok(Expired {
                more: !due.is_empty() || !purges.is_empty(),
                ..Expired::default()
            });
        }
        self.write(|tx| {
            let mut out = Expired::default();
            let mut left = budget;
            for &(account, ws) in &due {
                if left == 0 {
                    out.more = true;
                    break;
                }
                // Re-read: the workspace may have changed since the read transaction.
                let Some(workspace) = crate::schema::WORKSPACES.get(&*tx, &(account, ws))? else {
                    continue;
                };
                let Some(cutoff) = retention_cutoff(&workspace, tx.now) else {
                    continue;
                };
                // One more than the budget tells whether expired records remain.
                let rows = expired_records(&*tx, account, ws, cutoff, left + 1)?;
                let take = rows.len().min(left);
                let mut last_ms = None;
                for (_, r) in rows.iter().take(take) {
                    USAGE.delete(&mut *tx, &(account, ws, r.id))?;
                    if let Some(m) = USAGE_MESSAGES.get(&*tx, &(account, ws, r.id))? {
                        USAGE_MESSAGES.delete(&mut *tx, &(account, ws, r.id))?;
                        crate::message::unindex(tx, account, ws, &m)?;
                    }
                    last_ms = Some(millis(r.timestamp));
                }
                left -= take;
                out.removed += take as u64;
                let complete = take == rows.len();
                out.more |= !complete;
                // Buckets from here on still match their records.
                let watermark = if complete {
                    Some(cutoff)
                } else {
                    last_ms.map(|t| t + 1)
                };
                if let Some(w) = watermark {
                    let key = (account, ws, TOTAL_LEVEL, 0);
                    if let Some(mut total) = USAGE_ROLLUPS.get(&*tx, &key)?
                        && w > total.expired_before_ms
                    {
                        total.expired_before_ms = w;
                        USAGE_ROLLUPS.put(&mut *tx, &key, &total)?;
                    }
                }
            }
            for &(account, ws) in &purges {
                if left == 0 {
                    out.more = true;
                    break;
                }
                if !USAGE_PURGES.contains(&*tx, &(account, ws))? {
                    continue;
                }
                let mut done = true;
                for range in schema::workspace_ranges(account, ws, Purge::Deferred) {
                    let n = delete_prefix_limit(&mut *tx, &range, left)?;
                    left -= n;
                    out.purged += n as u64;
                    if left == 0 {
                        // Perhaps more; the next call finds out (and removes the marker).
                        done = false;
                        break;
                    }
                }
                if done {
                    USAGE_PURGES.delete(&mut *tx, &(account, ws))?;
                } else {
                    out.more = true;
                }
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

    /// Token usage of a workspace (`None` = the active workspace) over `[from, to)` (either end
    /// open), per `provider/model` and in total. Read from the rollups: whole buckets from 32 days
    /// down to one minute cover the range, and only the records of the partial minutes at its
    /// edges are read one by one.
    pub fn workspace_usage(
        &self,
        caller: &Caller,
        workspace: Option<&str>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<TokenUsage> {
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(Error::invalid("from", format!("{f} is after to ({t})")));
        }
        self.read(|txn| {
            let account = caller.account;
            let ws = access::workspace_of(txn, caller, workspace)?.1;
            let total = USAGE_ROLLUPS
                .get(txn, &(account, ws.id, TOTAL_LEVEL, 0))?
                .unwrap_or_default();
            let mut sum: BTreeMap<String, Counters> = BTreeMap::new();
            let expired = total.expired_before_ms;
            // Where retention removed raw records, a range end inside a minute moves to the
            // minute's start: that minute's rollup is the finest data left.
            let snap = |t: u64| {
                let minute = bucket(0, t);
                if minute < expired { minute } else { t }
            };
            if from.is_none() && to.is_none() {
                sum = total.by_model.clone();
            } else if !total.by_model.is_empty() {
                // Clamp to the recorded span, widened to whole minutes (which adds no record),
                // so open ends cost nothing and never read expired minutes record by record.
                let lo = from
                    .map_or(0, |f| snap(millis(f.max(epoch()))))
                    .max(bucket(0, total.first_ms));
                let hi = to
                    .map_or(u64::MAX, |t| snap(millis(t.max(epoch()))))
                    .min(bucket(0, total.last_ms).saturating_add(LEVELS[0]));
                if lo < hi {
                    sum_range(txn, account, ws.id, lo, hi, &mut sum)?;
                }
            }
            let agg = TokenUsageAgg::of(sum.into_iter().map(|(key, c)| {
                let (p, m) = key.split_once('/').unwrap_or((key.as_str(), ""));
                ((p.to_owned(), m.to_owned()), c)
            }));
            Ok(TokenUsage {
                workspace_id: ws.id,
                from,
                to,
                tokens_by_model: agg.tokens_by_model,
                token_usage: agg.token_usage,
                expired_before: (expired > 0).then(|| crate::clock::from_millis(expired)),
            })
        })
    }
}

/// The start of the minute before which a workspace's raw records have expired at `now`
/// (`None`: it keeps them forever).
fn retention_cutoff(ws: &Workspace, now: DateTime<Utc>) -> Option<u64> {
    let days = ws.usage_retention_days?;
    Some(bucket(
        0,
        millis(now).saturating_sub(u64::from(days) * 86_400_000),
    ))
}

/// The oldest `limit` records of a workspace from before `cutoff` (ms).
fn expired_records(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: WorkspaceId,
    cutoff: u64,
    limit: usize,
) -> Result<Vec<(Vec<u8>, UsageRecord)>> {
    let lo = USAGE.key_bytes(&(account, ws, UsageId::from_parts(0, 0)));
    let hi = USAGE.key_bytes(&(account, ws, UsageId::from_parts(cutoff, 0)));
    USAGE.scan_range_limit(txn, &lo, &hi, limit)
}

fn epoch() -> DateTime<Utc> {
    Utc.timestamp_opt(0, 0).single().unwrap_or_default()
}

/// Adds the usage of `[lo, hi)` (ms) to `sum`: greedily the largest aligned bucket that fits,
/// raw records for what no minute bucket covers.
fn sum_range(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: WorkspaceId,
    lo: u64,
    hi: u64,
    sum: &mut BTreeMap<String, Counters>,
) -> Result<()> {
    // The largest level whose bucket starts at `t` and ends by `hi`.
    let pick = |t: u64| {
        (0..LEVELS.len())
            .rev()
            .find(|&l| t.is_multiple_of(LEVELS[l]) && t.saturating_add(LEVELS[l]) <= hi)
    };
    let mut t = lo;
    while t < hi {
        match pick(t) {
            Some(level) => {
                // The run of buckets of this level the greedy walk takes: one range scan.
                let size = LEVELS[level];
                let mut end = t + size;
                while end < hi && pick(end) == Some(level) {
                    end += size;
                }
                let lo_key = USAGE_ROLLUPS.key_bytes(&(account, ws, level as u64, t));
                let hi_key = USAGE_ROLLUPS.key_bytes(&(account, ws, level as u64, end));
                for (_, row) in USAGE_ROLLUPS.scan_range(txn, &lo_key, &hi_key)? {
                    let row: Rollup = row;
                    for (m, c) in &row.by_model {
                        add_to(sum, m, c);
                    }
                }
                t = end;
            }
            None => {
                let end = bucket(0, t).saturating_add(LEVELS[0]).min(hi);
                let lo_key = USAGE.key_bytes(&(account, ws, UsageId::from_parts(t, 0)));
                let hi_key = USAGE.key_bytes(&(account, ws, UsageId::from_parts(end, 0)));
                for (_, r) in USAGE.scan_range(txn, &lo_key, &hi_key)? {
                    let r: UsageRecord = r;
                    add_to(
                        sum,
                        &format!("{}/{}", r.provider, r.model),
                        &Counters::of(&r),
                    );
                }
                t = end;
            }
        }
    }
    Ok(())
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

/// Most request ids a workspace may have for its usage to be deleted with it, in its own
/// transaction; a busier workspace's usage is purged afterwards in bounded batches.
pub const INLINE_PURGE_MAX: usize = 10_000;

/// Deletes a workspace's usage with the workspace: at once when it has at most
/// [`INLINE_PURGE_MAX`] request ids; otherwise it is marked for purging, which
/// [`ModelGates::usage_expire`] does in bounded batches (deleting millions of rows in the
/// deleting transaction would hold the writer for minutes). Nothing reads a deleted workspace's
/// usage meanwhile: every read goes through a live workspace.
pub(crate) fn delete_all(
    txn: &mut dyn crate::storage::WriteTxn,
    account: AccountId,
    ws: WorkspaceId,
) -> Result<()> {
    let ids = USAGE_REQUESTS.scan_prefix_limit(txn, &(account, ws), INLINE_PURGE_MAX + 1)?;
    if ids.len() > INLINE_PURGE_MAX {
        USAGE_PURGES.put(txn, &(account, ws), &(account, ws))?;
        return Ok(());
    }
    for range in schema::workspace_ranges(account, ws, Purge::Deferred) {
        delete_prefix_limit(txn, &range, usize::MAX)?;
    }
    Ok(())
}

/// The deleted workspaces of `account` whose usage is still being purged in batches.
pub(crate) fn purging(txn: &dyn ReadTxn, account: AccountId) -> Result<BTreeSet<WorkspaceId>> {
    Ok(USAGE_PURGES
        .values_with_prefix(txn, &(account,))?
        .into_iter()
        .map(|(_, ws)| ws)
        .collect())
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
