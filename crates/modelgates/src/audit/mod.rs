//! The audit log: every committed change of an account's configuration — who made it, through
//! which front end, what changed field by field — listed newest first by org admins and kept
//! as long as the account's retention says. Events are written by the write transaction
//! itself ([`trail`]), never by operations.

pub(crate) mod trail;

use std::ops::Bound;

use chrono::Duration;

use crate::access;
use crate::codec::{decode_value, prefix_successor};
use crate::error::{Error, Result};
use crate::handle::{Caller, ModelGates, op, system};
use crate::ids::{AccountId, AuditId};
use crate::record::account::Account;
use crate::schema::{ACCOUNTS, AUDIT, audit_key};
use crate::storage::{ReadTxn, WriteTxn};

pub use crate::record::audit::*;

/// Events per page by default, and at most.
pub const AUDIT_PAGE_DEFAULT: u32 = 50;
/// Events per page at most.
pub const AUDIT_PAGE_MAX: u32 = 100;
/// Events one `audit_list` call examines at most: a rare filter answers with fewer events and
/// a `next_after` to continue from, rather than reading the whole log in one call.
pub const AUDIT_SCAN_MAX: usize = 10_000;
/// The longest retention an account can set, in days (ten years).
pub const AUDIT_RETENTION_MAX_DAYS: u32 = 3_650;

/// The storage range of `account`'s events (its whole prefix).
fn account_range(account: AccountId) -> (Vec<u8>, Option<Vec<u8>>) {
    let (_, prefix) = AUDIT.prefix_of(&(account,));
    let end = prefix_successor(&prefix);
    (prefix, end)
}

impl ModelGates {
    /// The account's audit events, newest first, that match `filter` (org admins only). A
    /// page holds up to `limit` events; `next_after` continues after the last one. At most
    /// [`AUDIT_SCAN_MAX`] events are examined per call: a filter that matches rarely may
    /// answer fewer than `limit` events with a `next_after`, never a timeout.
    pub fn audit_list(&self, caller: &Caller, filter: &AuditFilter) -> Result<AuditPage> {
        let limit = filter.limit.unwrap_or(AUDIT_PAGE_DEFAULT);
        if !(1..=AUDIT_PAGE_MAX).contains(&limit) {
            return Err(Error::invalid(
                "limit",
                format!("{limit} is out of range: 1-{AUDIT_PAGE_MAX}"),
            ));
        }
        if let (Some(since), Some(until)) = (filter.since, filter.until)
            && since >= until
        {
            return Err(Error::invalid(
                "since",
                format!("{since} is not before until ({until})"),
            ));
        }
        let limit = limit as usize;
        self.read(|txn| {
            access::admin(txn, caller)?;
            let account = caller.account;
            let (prefix, end) = account_range(account);
            // Newest first: keys hold the id's bytes inverted.
            let mut start = match (filter.after, filter.until) {
                (Some(after), _) => Bound::Excluded(AUDIT.key_bytes(&audit_key(account, after))),
                (None, Some(until)) => {
                    // The newest id an event before `until` can have (ids carry whole
                    // milliseconds; `matches` compares the exact times).
                    let ms = u64::try_from(until.timestamp_millis()).unwrap_or(0);
                    let newest = AuditId::from_parts(ms, u128::MAX);
                    Bound::Included(AUDIT.key_bytes(&audit_key(account, newest)))
                }
                (None, None) => Bound::Included(prefix.clone()),
            };
            let since_ms = filter
                .since
                .map(|t| u64::try_from(t.timestamp_millis()).unwrap_or(0));
            let mut data = Vec::new();
            let mut examined = 0;
            loop {
                let chunk = txn.range(
                    AUDIT.name(),
                    start.as_ref().map(Vec::as_slice),
                    end.as_ref()
                        .map_or(Bound::Unbounded, |e| Bound::Excluded(e.as_slice())),
                    256,
                )?;
                let Some((last_key, _)) = chunk.last() else {
                    return Ok(AuditPage {
                        data,
                        next_after: None,
                    });
                };
                start = Bound::Excluded(last_key.clone());
                for (_, value) in &chunk {
                    let event: AuditEvent = decode_value(AUDIT.name(), value)?;
                    // An id's time is its event's, to the millisecond (`generate_at`), so
                    // past `since` by id, every older event is too.
                    if since_ms.is_some_and(|s| event.id.millis() < s) {
                        return Ok(AuditPage {
                            data,
                            next_after: None,
                        });
                    }
                    examined += 1;
                    let seen = event.id;
                    if matches(&event, filter) {
                        data.push(event);
                        if data.len() == limit {
                            let next_after = data.last().map(|e| e.id);
                            return Ok(AuditPage { data, next_after });
                        }
                    }
                    if examined == AUDIT_SCAN_MAX {
                        return Ok(AuditPage {
                            data,
                            next_after: Some(seen),
                        });
                    }
                }
            }
        })
    }

    /// Sets how long the account keeps audit events (org admins only): `Some(days)` (1-3,650)
    /// or `None` to keep them forever (the default). Expired events are removed by
    /// [`ModelGates::audit_expire`].
    pub fn audit_retention_set(&self, caller: &Caller, days: Option<u32>) -> Result<Account> {
        if let Some(d) = days
            && !(1..=AUDIT_RETENTION_MAX_DAYS).contains(&d)
        {
            return Err(Error::invalid(
                "days",
                format!(
                    "{d} is out of range: 1-{AUDIT_RETENTION_MAX_DAYS}, or null to keep forever"
                ),
            ));
        }
        self.write(op("audit_retention_set", caller), |tx| {
            access::admin(&*tx, caller)?;
            let mut account = ACCOUNTS
                .get(&*tx, &caller.account)?
                .ok_or_else(|| Error::not_found("account", caller.account.to_string()))?;
            account.audit_retention_days = days;
            ACCOUNTS.put(&mut *tx, &caller.account, &account)?;
            Ok(account)
        })
    }

    /// Removes audit events past their account's retention, at most `budget` in one
    /// transaction; returns how many it removed and whether more are due. Run by the server
    /// every minute, with usage retention.
    pub fn audit_expire(&self, budget: usize) -> Result<(u64, bool)> {
        self.write(system("audit_expire"), |tx| {
            let now = tx.now;
            let mut removed = 0u64;
            let mut more = false;
            for account in ACCOUNTS.values_with_prefix(&*tx, &())? {
                let Some(days) = account.audit_retention_days else {
                    continue;
                };
                let cutoff = now - Duration::days(i64::from(days));
                let ms = u64::try_from(cutoff.timestamp_millis()).unwrap_or(0);
                // Older events sort after the newest one older than the cutoff.
                let newest_expired = AuditId::from_parts(ms.saturating_sub(1), u128::MAX);
                let from = AUDIT.key_bytes(&audit_key(account.id, newest_expired));
                let (_, end) = account_range(account.id);
                let left = budget.saturating_sub(removed as usize);
                if left == 0 {
                    more = true;
                    break;
                }
                let expired = tx.range(
                    AUDIT.name(),
                    Bound::Included(&from),
                    end.as_ref()
                        .map_or(Bound::Unbounded, |e| Bound::Excluded(e.as_slice())),
                    left + 1,
                )?;
                if expired.len() > left {
                    more = true;
                }
                for (key, _) in expired.into_iter().take(left) {
                    tx.delete(AUDIT.name(), &key)?;
                    removed += 1;
                }
            }
            Ok((removed, more))
        })
    }
}

/// Whether `event` passes every filter that is set.
fn matches(event: &AuditEvent, filter: &AuditFilter) -> bool {
    let kind_ok = filter
        .resource_kind
        .as_deref()
        .is_none_or(|k| event.changes.iter().any(|c| c.kind == k));
    let id_ok = filter
        .resource_id
        .as_deref()
        .is_none_or(|id| event.changes.iter().any(|c| c.id == id));
    let actor_ok = filter.actor.as_deref().is_none_or(|a| {
        event
            .actor
            .user_id
            .as_ref()
            .is_some_and(|u| u.as_str() == a)
            || event.actor.key_id.is_some_and(|k| k.to_string() == a)
    });
    let op_ok = filter
        .operation
        .as_deref()
        .is_none_or(|o| event.operation == o);
    let until_ok = filter.until.is_none_or(|u| event.at < u);
    let since_ok = filter.since.is_none_or(|s| event.at >= s);
    kind_ok && id_ok && actor_ok && op_ok && until_ok && since_ok
}

/// Checks the account's audit log: every event decodes and sits under its own id.
pub(crate) fn check(
    txn: &dyn ReadTxn,
    account: AccountId,
    problem: &mut dyn FnMut(String),
) -> Result<u64> {
    let (prefix, end) = account_range(account);
    let rows = txn.range(
        AUDIT.name(),
        Bound::Included(&prefix),
        end.as_ref()
            .map_or(Bound::Unbounded, |e| Bound::Excluded(e.as_slice())),
        usize::MAX,
    )?;
    for (key, value) in &rows {
        let event: AuditEvent = decode_value(AUDIT.name(), value)?;
        if *key != AUDIT.key_bytes(&audit_key(account, event.id)) {
            problem(format!(
                "account {account}: audit event {} is stored under another id's key",
                event.id
            ));
        }
    }
    Ok(rows.len() as u64)
}
