//! The record of an idempotent write: what a create answered, kept for a day so that a retry
//! with the same idempotency key gets the same answer instead of a second resource.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What an operation given an idempotency key answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct IdempotencyRecord {
    /// The operation (`workspace_create`).
    pub(crate) operation: String,
    /// SHA-256 (hex) of `salt`, the operation and its arguments: a retry must match it.
    pub(crate) fingerprint: String,
    /// Random bytes (hex) mixed into the fingerprint, so it reveals nothing of arguments that
    /// hold a secret (a provider's API key).
    pub(crate) salt: String,
    /// When the operation ran; the record answers retries for a day after.
    pub(crate) at: DateTime<Utc>,
    /// The operation's result as JSON, less what is never stored (a new key's secret).
    pub(crate) result: serde_json::Value,
}
