//! API keys: the key, its stored record (the secret's hash, never the secret), what creating and
//! changing one takes.

use crate::error::{Error, Result};
use crate::ids::{AccountId, KeyId, UserId, WorkspaceId};
use crate::patch::Patch;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Every secret starts with this; anything else is rejected without a lookup.
pub const SECRET_PREFIX: &str = "mg-v1-";

/// What a key may be used for.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// Sends requests through the gateway (data plane).
    Inference,
    /// Manages the account (control plane, MCP over HTTP).
    Management,
}

/// An API key as every read returns it: never the secret, never its hash.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Key id (`key_…`).
    pub id: KeyId,
    /// The key's number in its account: 1 for the first key ever created, never reused. A
    /// stable integer identity for clients that address keys by integer (the REST API's
    /// `io_logging_api_key_ids`). Assigned by schema 5 to older keys in creation order.
    #[serde(default)]
    pub number: u64,
    /// Display name.
    pub name: String,
    /// A recognizable, non-secret rendering of the secret (`mg-v1-1a2b…9f0e`).
    pub label: String,
    /// The workspace the key belongs to.
    pub workspace_id: WorkspaceId,
    /// The user the key belongs to.
    pub creator_user_id: UserId,
    /// Inference or management.
    pub kind: KeyKind,
    /// Whether the key is disabled.
    pub disabled: bool,
    /// When the key stops working; `None` = never.
    pub expires_at: Option<DateTime<Utc>>,
    /// Spending limit in USD; `None` = unlimited.
    pub limit: Option<f64>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last update time.
    pub updated_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Active = not disabled and not expired at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        !self.disabled && self.expires_at.is_none_or(|t| t > now)
    }
}

/// The stored form of a key: the key plus its account and the hex SHA-256 of its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub(crate) account: AccountId,
    pub(crate) key: ApiKey,
    pub(crate) hash: String,
}

impl KeyRecord {
    pub(crate) fn hash_bytes(&self) -> Result<[u8; 32]> {
        let mut out = [0u8; 32];
        if self.hash.len() != 64 {
            return Err(Error::Corrupt(format!(
                "API key {} has a malformed hash",
                self.key.id
            )));
        }
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&self.hash[2 * i..2 * i + 2], 16).map_err(|_| {
                Error::Corrupt(format!("API key {} has a malformed hash", self.key.id))
            })?;
        }
        Ok(out)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Input of `ModelGates::key_create`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewKey {
    /// Display name (1-100 chars).
    pub name: String,
    /// Workspace UUID or slug.
    pub workspace: String,
    /// Default `inference`.
    pub kind: Option<KeyKind>,
    /// The key's user; default the caller. Must be a member of the workspace.
    pub creator_user_id: Option<String>,
    /// Expiry; must be in the future.
    pub expires_at: Option<DateTime<Utc>>,
    /// Spending limit in USD (≥ 0).
    pub limit: Option<f64>,
}

/// Result of `ModelGates::key_create`: the key and its secret, shown only here.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedKey {
    /// The new key.
    pub data: ApiKey,
    /// The secret. It is not stored and cannot be retrieved again: `None` when this answers a
    /// retry (`replayed`), whose first answer carried it.
    pub key: Option<String>,
    /// Whether this answers a retry with the same idempotency key: the key was created by the
    /// first call and `key` (the secret) is absent.
    #[serde(default)]
    pub replayed: bool,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("data", &self.data)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Which keys `ModelGates::key_list_filtered` answers besides the active ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyFilter {
    /// Also disabled keys.
    pub include_disabled: bool,
    /// Also expired keys.
    pub include_expired: bool,
}

/// Input of `ModelGates::key_update`.
#[derive(Debug, Clone, Default)]
pub struct KeyPatch {
    /// New name.
    pub name: Option<String>,
    /// Disable or re-enable.
    pub disabled: Option<bool>,
    /// Expiry: keep, clear (never expires) or set (must be in the future).
    pub expires_at: Patch<DateTime<Utc>>,
    /// Spending limit: keep, clear (unlimited) or set.
    pub limit: Patch<f64>,
}
