//! Idempotent writes: a create given an idempotency key (`Caller::with_idempotency_key`)
//! answers a retry with the same key and arguments, within a day, with its first result
//! instead of creating again. The records are written by the write itself ([`store`]); this
//! module removes them once they expire.

pub(crate) mod store;

use crate::error::Result;
use crate::handle::{ModelGates, system};

pub use store::{
    IDEMPOTENCY_KEY_MAX, IDEMPOTENCY_WINDOW_HOURS, check_key as check_idempotency_key,
};

impl ModelGates {
    /// Removes idempotency records older than [`IDEMPOTENCY_WINDOW_HOURS`], at most `budget`
    /// in one transaction; returns how many it removed and whether more are due. Run by the
    /// server every minute, with usage and audit retention. (An expired record no longer
    /// answers retries even before it is removed.)
    pub fn idempotency_expire(&self, budget: usize) -> Result<(u64, bool)> {
        self.write(system("idempotency_expire"), |tx| store::expire(tx, budget))
    }
}
