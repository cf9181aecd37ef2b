//! Token usage: exact costs, usage records with their conversations and alerts, rollup counters and
//! the totals reads return.

use crate::error::{Error, Result};
use crate::ids::{KeyId, UsageId, WorkspaceId};
use crate::record::provider::ProviderType;
use crate::record::routing::RequestKind;
use crate::validate::excerpt;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// An exact amount of money in units of 10⁻¹⁷ USD: a price of `p` cents per million tokens
/// (up to 9 decimals) times `t` tokens is `t · p·10⁹` units, with no rounding anywhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cost(pub u128);

impl Cost {
    /// Units per US dollar.
    pub const UNITS_PER_USD: u128 = 100_000_000_000_000_000;

    /// The cost of `tokens` at `price` (cents per million tokens, a decimal string).
    pub fn of(tokens: u64, price: &str) -> Result<Self> {
        Ok(Self(u128::from(tokens).saturating_mul(price_units(price)?)))
    }

    /// USD as a decimal string with every significant digit (`"0.0000015"`, `"3"`).
    pub fn usd(self) -> String {
        let whole = self.0 / Self::UNITS_PER_USD;
        let frac = self.0 % Self::UNITS_PER_USD;
        if frac == 0 {
            return whole.to_string();
        }
        let frac = format!("{frac:017}");
        format!("{whole}.{}", frac.trim_end_matches('0'))
    }

    /// USD as a float, for clients that want a number (the exact value is [`Cost::usd`]).
    pub fn usd_f64(self) -> f64 {
        self.usd().parse().unwrap_or(f64::MAX)
    }

    /// The sum, saturating (at 3.4·10²¹ USD).
    pub fn plus(self, other: Cost) -> Cost {
        Cost(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.usd())
    }
}

/// A decimal string of units in human-readable formats (JSON numbers lose digits past 2⁵³);
/// the integer in compact ones.
impl Serialize for Cost {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(&self.0)
        } else {
            s.serialize_u128(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Cost {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            s.parse().map(Cost).map_err(serde::de::Error::custom)
        } else {
            u128::deserialize(d).map(Cost)
        }
    }
}

/// A price string (cents per million tokens, ≤ 9 decimals, as the catalog validates) in units
/// of 10⁻⁹ cents per million tokens.
pub(crate) fn price_units(price: &str) -> Result<u128> {
    let bad = || {
        Error::internal(format!(
            "stored price {:?} is not a decimal",
            excerpt(price)
        ))
    };
    let (int, frac) = price.split_once('.').unwrap_or((price, ""));
    if frac.len() > 9 || int.is_empty() {
        return Err(bad());
    }
    let int: u128 = int.parse().map_err(|_| bad())?;
    let frac_units: u128 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().map_err(|_| bad())?
    };
    Ok(int * 1_000_000_000 + frac_units)
}

/// Whether an alert needs attention.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertCategory {
    /// Needs attention (counted in `total_alerts`).
    Critical,
    /// For information.
    Info,
}

/// Code an alert points at.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSnippet {
    /// The code (secrets redacted when stored).
    pub code: String,
    /// Its language.
    pub language: Option<String>,
    /// Its file.
    pub filepath: Option<String>,
}

/// An alert raised on a request (by the gateway, or by the built-in secret detector).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// What triggered it: `secrets`, `pii`, `malicious_packages` or another kind.
    pub trigger_type: String,
    /// Critical or informational.
    pub trigger_category: AlertCategory,
    /// What matched (secrets redacted).
    pub trigger_string: Option<String>,
    /// The code involved (secrets redacted).
    pub code_snippet: Option<CodeSnippet>,
    /// Added by ModelGates' secret detector rather than reported by the gateway.
    #[serde(default)]
    pub detected: bool,
}

/// The conversation of a recorded request.
#[derive(Debug, Clone, Default)]
pub struct NewConversation {
    /// The chat it belongs to.
    pub chat_id: Option<String>,
    /// The prompt (secrets are detected and redacted before storing).
    pub prompt: String,
    /// The prompt's message id.
    pub prompt_message_id: Option<String>,
    /// The answer, if any (redacted too).
    pub answer: Option<String>,
    /// The answer's message id.
    pub answer_message_id: Option<String>,
}

/// A stored conversation turn with its alerts (keyed by the usage record's id).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The usage record it belongs to.
    pub usage_id: UsageId,
    /// The chat.
    pub chat_id: Option<String>,
    /// The prompt, secrets redacted (`[REDACTED:<kind>]`).
    pub prompt: Option<String>,
    /// The prompt's message id.
    pub prompt_message_id: Option<String>,
    /// The answer, secrets redacted.
    pub answer: Option<String>,
    /// The answer's message id.
    pub answer_message_id: Option<String>,
    /// Alerts, reported and detected.
    pub alerts: Vec<Alert>,
}

/// Longest prompt or answer, in bytes (1 MiB).
pub(crate) const TEXT_MAX: usize = 1 << 20;
/// Most alerts on one request.
pub(crate) const ALERTS_MAX: usize = 100;

/// One request's usage, as a gateway reports it.
#[derive(Debug, Clone, Default)]
pub struct NewUsage {
    /// The gateway's id of the request (1-128 chars): recording it again changes nothing.
    pub request_id: String,
    /// The workspace (UUID or slug); `None` = the active workspace.
    pub workspace: Option<String>,
    /// The API key the request came with (a key of that workspace).
    pub api_key_id: Option<String>,
    /// The provider endpoint (name or `prov_` id) or a catalog provider (`openai`).
    pub provider: String,
    /// The model as sent to the provider.
    pub model: String,
    /// Chat or FIM.
    pub request_type: Option<RequestKind>,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// When the request happened (default: now). At most a day in the future.
    pub timestamp: Option<DateTime<Utc>>,
    /// The conversation, if the gateway logs it.
    pub conversation: Option<NewConversation>,
    /// Alerts the gateway raised (the secret detector adds `secrets` alerts when none is given
    /// and it finds one in the prompt or answer).
    pub alerts: Vec<Alert>,
}

/// A recorded request, priced.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// Prefixed id (`usage_…`), ordered by `timestamp`.
    pub id: UsageId,
    /// The gateway's request id.
    pub request_id: String,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The API key, if given.
    pub api_key_id: Option<KeyId>,
    /// The provider as reported.
    pub provider: String,
    /// Its type, when it names a configured provider endpoint.
    pub provider_type: Option<ProviderType>,
    /// The model as reported.
    pub model: String,
    /// The workspace model that priced it (`provider/family`); absent = unpriced (cost 0).
    pub model_ref: Option<String>,
    /// Chat or FIM.
    pub request_type: RequestKind,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input cost in units of 10⁻¹⁷ USD (exact; see `input_cost_usd`).
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub input_cost: Cost,
    /// Output cost in units of 10⁻¹⁷ USD.
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub output_cost: Cost,
    /// When the request happened.
    #[serde(with = "crate::codec::timestamp")]
    #[cfg_attr(feature = "schemars", schemars(with = "DateTime<Utc>"))]
    pub timestamp: DateTime<Utc>,
}

/// Result of recording one request.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    /// The stored record (the earlier one for a repeated request id; absent when that one
    /// has since been removed by retention).
    pub data: Option<UsageRecord>,
    /// Whether the request id was already recorded (nothing changed).
    pub duplicate: bool,
}

/// Token counts and exact costs.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Requests.
    pub requests: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input cost in units of 10⁻¹⁷ USD.
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub input_cost: Cost,
    /// Output cost in units of 10⁻¹⁷ USD.
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub output_cost: Cost,
}

impl Counters {
    /// Input and output cost together.
    pub fn cost(&self) -> Cost {
        self.input_cost.plus(self.output_cost)
    }

    pub(crate) fn add(&mut self, other: &Counters) {
        self.requests += other.requests;
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.input_cost = self.input_cost.plus(other.input_cost);
        self.output_cost = self.output_cost.plus(other.output_cost);
    }

    pub(crate) fn of(r: &UsageRecord) -> Self {
        Self {
            requests: 1,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            input_cost: r.input_cost,
            output_cost: r.output_cost,
        }
    }
}

/// What one API key has used, as recorded: in all, and in the UTC day, week (from Monday) and
/// month of its latest record. Stored once per key and updated with each record it made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyUsageRow {
    pub(crate) total: Counters,
    /// The start (ms) of the day, week and month below.
    pub(crate) periods: [u64; 3],
    /// Usage in the day, week and month starting at `periods`.
    pub(crate) current: [Counters; 3],
    /// The latest request timestamp (ms); 0 = none.
    pub(crate) last_used_ms: u64,
}

/// The starts (ms) of the UTC day, ISO week (Monday) and month that `ms` falls in.
pub(crate) fn period_starts(ms: u64) -> [u64; 3] {
    const DAY: u64 = 86_400_000;
    let day = ms / DAY;
    // 1970-01-01 was a Thursday: three days after a Monday.
    let week = day - (day + 3) % 7;
    let month = i64::try_from(ms)
        .ok()
        .and_then(|ms| chrono::TimeZone::timestamp_millis_opt(&Utc, ms).single())
        .and_then(|t| {
            use chrono::Datelike;
            chrono::NaiveDate::from_ymd_opt(t.year(), t.month(), 1)
        })
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(day * DAY, |d| {
            u64::try_from(d.and_utc().timestamp_millis()).unwrap_or(0)
        });
    [day * DAY, week * DAY, month]
}

impl KeyUsageRow {
    /// Counts a request at `ms`. Order does not matter: a request of an earlier period than
    /// the row's counts only in the total.
    pub(crate) fn add(&mut self, ms: u64, c: &Counters) {
        self.total.add(c);
        for (i, start) in period_starts(ms).into_iter().enumerate() {
            if start > self.periods[i] {
                self.periods[i] = start;
                self.current[i] = *c;
            } else if start == self.periods[i] {
                self.current[i].add(c);
            }
        }
        self.last_used_ms = self.last_used_ms.max(ms);
    }

    /// The row as seen at `now`: a period that is over counts nothing.
    pub(crate) fn at(&self, now_ms: u64) -> KeyUsage {
        let now = period_starts(now_ms);
        let current = |i: usize| {
            if self.periods[i] == now[i] {
                self.current[i]
            } else {
                Counters::default()
            }
        };
        KeyUsage {
            total: self.total,
            day: current(0),
            week: current(1),
            month: current(2),
            last_used_at: (self.last_used_ms > 0)
                .then(|| i64::try_from(self.last_used_ms).ok())
                .flatten()
                .and_then(|ms| chrono::TimeZone::timestamp_millis_opt(&Utc, ms).single()),
        }
    }
}

/// What an API key has used, from the usage recorded with its id: in all, and in the current
/// UTC day, week (from Monday) and month.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyUsage {
    /// All time.
    pub total: Counters,
    /// The current UTC day.
    pub day: Counters,
    /// The current UTC week, from Monday.
    pub week: Counters,
    /// The current UTC month.
    pub month: Counters,
    /// When the key's latest recorded request happened.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A rollup row: counters per `provider/model` for one time bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Rollup {
    /// `provider/model` → counters.
    pub(crate) by_model: BTreeMap<String, Counters>,
    /// Earliest and latest record timestamp (ms) in the bucket.
    pub(crate) first_ms: u64,
    pub(crate) last_ms: u64,
    /// On the all-time row: raw records before this time (ms) may have been removed by
    /// retention; rollup buckets starting at or after it still match their records.
    #[serde(default)]
    pub(crate) expired_before_ms: u64,
}

/// Result of `ModelGates::usage_expire`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Expired {
    /// Raw records removed (with their messages).
    pub removed: u64,
    /// Rows removed of the usage of deleted workspaces (records, request ids, rollups,
    /// messages, feed entries, counts).
    pub purged: u64,
    /// Whether expired records or usage of deleted workspaces remain (the budget ran out).
    pub more: bool,
}

impl Rollup {
    pub(crate) fn add(&mut self, key: &str, c: &Counters, ts: u64) {
        self.widen(ts, ts);
        add_to(&mut self.by_model, key, c);
    }

    /// Adds every counter of `other` (and its time span).
    pub(crate) fn merge(&mut self, other: &Rollup) {
        self.widen(other.first_ms, other.last_ms);
        for (m, c) in &other.by_model {
            add_to(&mut self.by_model, m, c);
        }
    }

    /// Extends the time span to cover `[first, last]` (an empty row takes it as is); call
    /// before adding counters.
    pub(crate) fn widen(&mut self, first: u64, last: u64) {
        if self.by_model.is_empty() {
            (self.first_ms, self.last_ms) = (first, last);
        } else {
            self.first_ms = self.first_ms.min(first);
            self.last_ms = self.last_ms.max(last);
        }
    }
}

/// Adds `c` to the counters of `key` (allocating the key only the first time).
pub(crate) fn add_to(map: &mut BTreeMap<String, Counters>, key: &str, c: &Counters) {
    match map.get_mut(key) {
        Some(sum) => sum.add(c),
        None => {
            map.insert(key.to_owned(), *c);
        }
    }
}

/// Usage of one `provider/model` in [`TokenUsage`] (the seed's `tokens_by_model` entry).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelUsage {
    /// The provider as reported.
    pub provider: String,
    /// The model as reported.
    pub model: String,
    /// Its counters.
    pub token_usage: UsageTotals,
}

/// Counters with costs in USD, exact (decimal strings) and as numbers.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageTotals {
    /// Requests.
    pub requests: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input cost in USD (a number; exact value in `input_cost_usd`).
    pub input_cost: f64,
    /// Output cost in USD (a number; exact value in `output_cost_usd`).
    pub output_cost: f64,
    /// Input cost in USD, exact decimal.
    pub input_cost_usd: String,
    /// Output cost in USD, exact decimal.
    pub output_cost_usd: String,
}

impl From<&Counters> for UsageTotals {
    fn from(c: &Counters) -> Self {
        Self {
            requests: c.requests,
            input_tokens: c.input_tokens,
            output_tokens: c.output_tokens,
            input_cost: c.input_cost.usd_f64(),
            output_cost: c.output_cost.usd_f64(),
            input_cost_usd: c.input_cost.usd(),
            output_cost_usd: c.output_cost.usd(),
        }
    }
}

/// Token usage of a workspace over a time range (seed 004's `token_usage_agg`).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenUsage {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// Start of the range (inclusive), if bounded.
    pub from: Option<DateTime<Utc>>,
    /// End of the range (exclusive), if bounded.
    pub to: Option<DateTime<Utc>>,
    /// Per `provider/model` (the same model of two providers stays two entries).
    pub tokens_by_model: BTreeMap<String, ModelUsage>,
    /// All models together.
    pub token_usage: UsageTotals,
    /// Retention has removed the raw records before this time (the totals still count them:
    /// rollups stay). A range end before it counts from the start of its minute, the finest
    /// resolution kept there. Absent when nothing has expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_before: Option<DateTime<Utc>>,
}

/// The bucket size of a usage series: calendar days, weeks starting on Monday, or calendar
/// months, in the caller's UTC offset.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UsageInterval {
    /// Calendar days.
    Day,
    /// Weeks, Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
}

impl UsageInterval {
    /// The name the APIs use (`day`, `week`, `month`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }
}

/// Usage of one bucket of a [`UsageSeries`]: `[from, to)`.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageBucket {
    /// Start of the bucket (inclusive).
    pub from: DateTime<Utc>,
    /// End of the bucket (exclusive).
    pub to: DateTime<Utc>,
    /// Per `provider/model`; only what was used in the bucket.
    pub tokens_by_model: BTreeMap<String, ModelUsage>,
    /// All models together.
    pub token_usage: UsageTotals,
}

/// A workspace's usage over time: consecutive buckets of one interval, and their sum.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageSeries {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The bucket size.
    pub interval: UsageInterval,
    /// The UTC offset, in minutes, whose midnights start the buckets.
    pub utc_offset_minutes: i32,
    /// Start of the first bucket: the requested start, moved back to its bucket's start.
    pub from: DateTime<Utc>,
    /// End of the last bucket: the requested end, moved forward to its bucket's end.
    pub to: DateTime<Utc>,
    /// The buckets, oldest first, one per interval (empty ones included).
    pub buckets: Vec<UsageBucket>,
    /// Per `provider/model` over the whole series.
    pub tokens_by_model: BTreeMap<String, ModelUsage>,
    /// Everything in the series.
    pub token_usage: UsageTotals,
    /// As in [`TokenUsage::expired_before`]: raw records before this time are gone; buckets
    /// still count them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_before: Option<DateTime<Utc>>,
}
