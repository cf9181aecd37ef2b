//! Idempotent writes inside the write transaction: looking up what an earlier call with the
//! same idempotency key answered, and remembering what this one answers, in the transaction
//! of the write itself (so a retry sees either nothing or the committed first answer).

use chrono::Duration;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::clock::millis;
use crate::error::{Error, Result};
use crate::ids::{AccountId, UserId, random_u128};
use crate::record::api_key::hex;
use crate::record::idempotency::IdempotencyRecord;
use crate::schema::{IDEMPOTENCY, IDEMPOTENCY_EXPIRY};
use crate::storage::WriteTxn;
use crate::tx::Tx;

/// How long an idempotency key answers retries, in hours.
pub const IDEMPOTENCY_WINDOW_HOURS: i64 = 24;
/// The longest idempotency key, in characters.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

/// A result an operation taking an idempotency key can answer again: stored as JSON, less
/// what must never be stored.
pub(crate) trait Replayable: Serialize + DeserializeOwned {
    /// The JSON stored to answer retries (default: the whole result).
    fn stored(&self) -> Result<Value> {
        serde_json::to_value(self)
            .map_err(|e| Error::internal(format!("encoding a result to keep for retries: {e}")))
    }

    /// The result a retry gets, from what [`Replayable::stored`] kept.
    fn replayed(stored: Value) -> Result<Self> {
        serde_json::from_value(stored)
            .map_err(|e| Error::Corrupt(format!("a result kept for retries does not decode: {e}")))
    }
}

/// Checks an idempotency key: 1-255 visible ASCII characters (no spaces or controls), so it
/// survives HTTP headers and logs unchanged. Errors name the field `idempotency_key`.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > IDEMPOTENCY_KEY_MAX {
        return Err(Error::invalid(
            "idempotency_key",
            format!(
                "must be 1-{IDEMPOTENCY_KEY_MAX} characters, got {}",
                key.chars().count()
            ),
        ));
    }
    if let Some(c) = key.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(Error::invalid(
            "idempotency_key",
            format!(
                "{key:?} contains {c:?}; use visible ASCII characters only (a UUID is a good key)"
            ),
        ));
    }
    Ok(())
}

/// The fingerprint of `operation` with `args` (their JSON), salted.
fn fingerprint(salt: &str, operation: &str, args: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(operation.as_bytes());
    h.update([0]);
    h.update(args);
    hex(&h.finalize())
}

/// Who presented `key`: idempotency keys are scoped to one user of one account.
pub(crate) struct KeyOwner<'a> {
    pub(crate) account: AccountId,
    pub(crate) user: &'a UserId,
    pub(crate) key: &'a str,
}

impl KeyOwner<'_> {
    fn row(&self) -> (AccountId, UserId, String) {
        (self.account, self.user.clone(), self.key.to_owned())
    }

    /// What an earlier `operation` with the same key and arguments (`args`, their JSON)
    /// answered within the window, as stored; `None` if the key is new (or its record
    /// expired). The same key with another operation or other arguments is a conflict.
    pub(crate) fn lookup(
        &self,
        tx: &Tx<'_>,
        operation: &str,
        args: &[u8],
    ) -> Result<Option<Value>> {
        let Some(record) = IDEMPOTENCY.get(tx, &self.row())? else {
            return Ok(None);
        };
        if record.at + Duration::hours(IDEMPOTENCY_WINDOW_HOURS) <= tx.now {
            return Ok(None);
        }
        if record.operation != operation
            || record.fingerprint != fingerprint(&record.salt, operation, args)
        {
            let what = if record.operation == operation {
                "with other arguments".to_owned()
            } else {
                format!("for {}", record.operation)
            };
            return Err(Error::conflict(
                "idempotency_key",
                format!(
                    "idempotency key {:?} was used at {} {what}; a retry must repeat the \
                     request exactly, and a new request needs a new key",
                    self.key,
                    record
                        .at
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                ),
            ));
        }
        Ok(Some(record.result))
    }

    /// Remembers that `operation` with `args` answered `result` (as stored), replacing an
    /// expired record of the same key.
    pub(crate) fn remember(
        &self,
        tx: &mut Tx<'_>,
        operation: &str,
        args: &[u8],
        result: Value,
    ) -> Result<()> {
        let row = self.row();
        if let Some(old) = IDEMPOTENCY.get(&*tx, &row)? {
            let (a, u, k) = row.clone();
            IDEMPOTENCY_EXPIRY.delete(&mut *tx, &(millis(old.at), a, u, k))?;
        }
        let salt = hex(&random_u128().to_le_bytes());
        let record = IdempotencyRecord {
            operation: operation.to_owned(),
            fingerprint: fingerprint(&salt, operation, args),
            salt,
            at: tx.now,
            result,
        };
        IDEMPOTENCY.put(&mut *tx, &row, &record)?;
        let (a, u, k) = row.clone();
        let at = millis(tx.now);
        IDEMPOTENCY_EXPIRY.put(&mut *tx, &(at, a, u, k), &row)?;
        Ok(())
    }
}

/// Removes up to `budget` idempotency records past the window, oldest first; returns how many
/// and whether more are due.
pub(crate) fn expire(tx: &mut Tx<'_>, budget: usize) -> Result<(u64, bool)> {
    // Expired: written at or before the cutoff (as `lookup` sees it).
    let cutoff = millis(tx.now - Duration::hours(IDEMPOTENCY_WINDOW_HOURS));
    let (_, lo) = IDEMPOTENCY_EXPIRY.prefix_of(&());
    let (_, hi) = IDEMPOTENCY_EXPIRY.prefix_of(&(cutoff + 1,));
    let due = IDEMPOTENCY_EXPIRY.scan_range_limit(&*tx, &lo, &hi, budget.saturating_add(1))?;
    let more = due.len() > budget;
    let mut removed = 0;
    for (raw, row) in due.into_iter().take(budget) {
        tx.delete(IDEMPOTENCY_EXPIRY.name(), &raw)?;
        IDEMPOTENCY.delete(&mut *tx, &row)?;
        removed += 1;
    }
    Ok((removed, more))
}
