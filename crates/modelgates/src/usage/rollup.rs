//! Usage rollups: time buckets at seven levels, kept in step with the records in the recording
//! transaction, and usage over a time range summed from a few rows.

use super::*;
use chrono::{Datelike, FixedOffset, NaiveDate, NaiveTime};

/// Rollup bucket sizes in ms — 1 min, 10 min, 1 h, 6 h, 1 day, 8 days, 32 days — each dividing
/// the next, so any range is covered by at most ~2×(9+5+5+3+7+3)+11 rows. Level = position.
pub(crate) const LEVELS: [u64; 7] = [
    60_000,
    600_000,
    3_600_000,
    21_600_000,
    86_400_000,
    691_200_000,
    2_764_800_000,
];

/// The level of the all-time row.
pub(crate) const TOTAL_LEVEL: u64 = 255;

pub(crate) fn bucket(level: usize, ts: u64) -> u64 {
    ts / LEVELS[level] * LEVELS[level]
}

/// The rollup rows a record at `ts` counts in: one per level, plus the all-time row.
pub(crate) fn rollup_keys(ts: u64) -> impl Iterator<Item = (u64, u64)> {
    (0..LEVELS.len())
        .map(move |l| (l as u64, bucket(l, ts)))
        .chain(std::iter::once((TOTAL_LEVEL, 0)))
}

pub(crate) fn epoch() -> DateTime<Utc> {
    Utc.timestamp_opt(0, 0).single().unwrap_or_default()
}

/// Adds the usage of `[lo, hi)` (ms) to `sum`: greedily the largest aligned bucket that fits,
/// raw records for what no minute bucket covers.
pub(crate) fn sum_range(
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

/// The usage of `[from, to)` (either end open) per `provider/model`, from the rollups: the
/// range clamped to the recorded span (widened to whole minutes, which adds no record) so open
/// ends cost nothing; where retention removed raw records, an end inside a minute moves to the
/// minute's start, the finest data left there.
fn range_counters(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: WorkspaceId,
    total: &Rollup,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<BTreeMap<String, Counters>> {
    let mut sum = BTreeMap::new();
    if total.by_model.is_empty() {
        return Ok(sum);
    }
    let expired = total.expired_before_ms;
    let snap = |t: u64| {
        let minute = bucket(0, t);
        if minute < expired { minute } else { t }
    };
    let lo = from
        .map_or(0, |f| snap(millis(f.max(epoch()))))
        .max(bucket(0, total.first_ms));
    let hi = to
        .map_or(u64::MAX, |t| snap(millis(t.max(epoch()))))
        .min(bucket(0, total.last_ms).saturating_add(LEVELS[0]));
    if lo < hi {
        sum_range(txn, account, ws, lo, hi, &mut sum)?;
    }
    Ok(sum)
}

/// The workspace a usage read is about (UUID or slug; `None` = the active one), after the
/// caller's access is checked, and its all-time rollup row, where range reads start.
fn workspace_total(
    txn: &dyn ReadTxn,
    caller: &Caller,
    workspace: Option<&str>,
) -> Result<(WorkspaceId, Rollup)> {
    let ws = access::workspace_of(txn, caller, workspace)?.1.id;
    let total = USAGE_ROLLUPS
        .get(txn, &(caller.account, ws, TOTAL_LEVEL, 0))?
        .unwrap_or_default();
    Ok((ws, total))
}

/// What the reads report as `expired_before`: the all-time row's retention watermark, if any.
fn expired_before(total: &Rollup) -> Option<DateTime<Utc>> {
    let ms = total.expired_before_ms;
    (ms > 0).then(|| crate::clock::from_millis(ms))
}

/// Counters keyed `provider/model` as the reads report them.
fn aggregate(sum: BTreeMap<String, Counters>) -> TokenUsageAgg {
    TokenUsageAgg::of(sum.into_iter().map(|(key, c)| {
        let (p, m) = key.split_once('/').unwrap_or((key.as_str(), ""));
        ((p.to_owned(), m.to_owned()), c)
    }))
}

/// Most buckets of one usage series (a year and a month of days).
pub const USAGE_SERIES_BUCKETS_MAX: usize = 400;

/// The UTC offsets a usage series accepts, in minutes (UTC−12:00 to UTC+14:00).
const UTC_OFFSET_MINUTES: std::ops::RangeInclusive<i32> = -720..=840;

/// The bucket starts of a series over `[from, to)`: `from` moved back to its bucket's start in
/// the offset's local time, then one per interval up to the first start at or after `to`
/// (which ends the last bucket). Errors name the field at fault.
fn series_bounds(
    interval: UsageInterval,
    offset: FixedOffset,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>> {
    let local = |d: NaiveDate| {
        offset
            .from_local_datetime(&d.and_time(NaiveTime::MIN))
            .single()
            .map(|t| t.with_timezone(&Utc))
    };
    // Checked arithmetic throughout: a `from` at the edge of chrono's range (year ±262143)
    // is an invalid argument, not a panic.
    let out_of_range = || Error::invalid("from", format!("{from} is out of range"));
    let day = from
        .naive_utc()
        .checked_add_offset(offset)
        .ok_or_else(out_of_range)?
        .date();
    let mut start = match interval {
        UsageInterval::Day => Some(day),
        UsageInterval::Week => day.checked_sub_days(chrono::Days::new(u64::from(
            day.weekday().num_days_from_monday(),
        ))),
        UsageInterval::Month => day.with_day(1),
    }
    .ok_or_else(out_of_range)?;
    let next = |d: NaiveDate| match interval {
        UsageInterval::Day => d.checked_add_days(chrono::Days::new(1)),
        UsageInterval::Week => d.checked_add_days(chrono::Days::new(7)),
        UsageInterval::Month => d.checked_add_months(chrono::Months::new(1)),
    };
    let mut out = Vec::new();
    loop {
        let Some(at) = local(start) else {
            return Err(out_of_range());
        };
        out.push(at);
        if at >= to {
            break;
        }
        if out.len() > USAGE_SERIES_BUCKETS_MAX {
            return Err(Error::invalid(
                "to",
                format!(
                    "{from} to {to} spans more than {USAGE_SERIES_BUCKETS_MAX} {}s; ask for a \
                     shorter range or a longer interval",
                    interval.as_str()
                ),
            ));
        }
        let Some(n) = next(start) else {
            return Err(Error::invalid("to", format!("{to} is out of range")));
        };
        start = n;
    }
    Ok(out)
}

impl ModelGates {
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
            let (ws, total) = workspace_total(txn, caller, workspace)?;
            let sum = if from.is_none() && to.is_none() {
                total.by_model.clone()
            } else {
                range_counters(txn, account, ws, &total, from, to)?
            };
            let agg = aggregate(sum);
            Ok(TokenUsage {
                workspace_id: ws,
                from,
                to,
                tokens_by_model: agg.tokens_by_model,
                token_usage: agg.token_usage,
                expired_before: expired_before(&total),
            })
        })
    }

    /// A workspace's usage (`None` = the active workspace) over `[from, to)` in buckets of one
    /// `interval` (days, Monday-based weeks or months), whose boundaries are midnights at
    /// `utc_offset_minutes` (−720 to 840; 0 = UTC). `from` moves back to the start of its
    /// bucket and `to` forward to the end of its bucket; at most
    /// [`USAGE_SERIES_BUCKETS_MAX`] buckets. All buckets are read in one transaction, each
    /// from a few rollup rows, and their sum is given too.
    pub fn workspace_usage_series(
        &self,
        caller: &Caller,
        workspace: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        interval: UsageInterval,
        utc_offset_minutes: i32,
    ) -> Result<UsageSeries> {
        if from >= to {
            return Err(Error::invalid(
                "from",
                format!("{from} is not before to ({to})"),
            ));
        }
        let offset = UTC_OFFSET_MINUTES
            .contains(&utc_offset_minutes)
            .then(|| FixedOffset::east_opt(utc_offset_minutes * 60))
            .flatten()
            .ok_or_else(|| {
                Error::invalid(
                    "utc_offset_minutes",
                    format!(
                        "{utc_offset_minutes} is not a UTC offset: give minutes from -720 to 840"
                    ),
                )
            })?;
        let starts = series_bounds(interval, offset, from, to)?;
        self.read(|txn| {
            let account = caller.account;
            let (ws, total) = workspace_total(txn, caller, workspace)?;
            let mut whole: BTreeMap<String, Counters> = BTreeMap::new();
            let mut buckets = Vec::with_capacity(starts.len().saturating_sub(1));
            for pair in starts.windows(2) {
                let sum = range_counters(txn, account, ws, &total, Some(pair[0]), Some(pair[1]))?;
                for (m, c) in &sum {
                    add_to(&mut whole, m, c);
                }
                let agg = aggregate(sum);
                buckets.push(UsageBucket {
                    from: pair[0],
                    to: pair[1],
                    tokens_by_model: agg.tokens_by_model,
                    token_usage: agg.token_usage,
                });
            }
            let agg = aggregate(whole);
            Ok(UsageSeries {
                workspace_id: ws,
                interval,
                utc_offset_minutes,
                from: starts[0],
                to: starts[starts.len() - 1],
                buckets,
                tokens_by_model: agg.tokens_by_model,
                token_usage: agg.token_usage,
                expired_before: expired_before(&total),
            })
        })
    }
}
