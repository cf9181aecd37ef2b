//! Usage retention and purges: records past a workspace's retention expire in bounded batches, and
//! a deleted workspace's usage is removed with it or, when large, in batches afterwards.

use super::*;
use crate::handle::system;

/// The start of the minute before which a workspace's raw records have expired at `now`
/// (`None`: it keeps them forever).
pub(crate) fn retention_cutoff(ws: &WorkspaceRecord, now: DateTime<Utc>) -> Option<u64> {
    let days = ws.usage_retention_days?;
    Some(bucket(
        0,
        millis(now).saturating_sub(u64::from(days) * 86_400_000),
    ))
}

/// The oldest `limit` records of a workspace from before `cutoff` (ms).
pub(crate) fn expired_records(
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

impl ModelGates {
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
                    let ws: WorkspaceRecord = ws;
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
        self.write(system("usage_expire"), |tx| {
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
}
