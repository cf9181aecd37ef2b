//! Usage rollups: time buckets at seven levels, kept in step with the records in the recording
//! transaction, and usage over a time range summed from a few rows.

use super::*;

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
