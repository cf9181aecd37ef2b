//! Provider endpoints: the stored record (with its write-only API key), the view reads return, what
//! adding and changing one takes, the rule-use index entry.

use crate::ids::{ProviderId, WorkspaceId};
use crate::patch::Patch;
use crate::record::routing::RemovedRule;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kinds of provider a gateway can talk to.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderType {
    /// OpenAI's API (default endpoint `https://api.openai.com/v1`).
    Openai,
    /// Anthropic's API (default endpoint `https://api.anthropic.com/v1`).
    Anthropic,
    /// A vLLM server (endpoint required).
    Vllm,
    /// A local Ollama (default endpoint `http://localhost:11434`).
    Ollama,
    /// A local LM Studio (default endpoint `http://localhost:1234/v1`).
    LmStudio,
    /// A llama.cpp server (endpoint required).
    Llamacpp,
    /// OpenRouter (default endpoint `https://openrouter.ai/api/v1`).
    Openrouter,
}

impl ProviderType {
    /// Every provider type.
    pub const ALL: [ProviderType; 7] = [
        Self::Openai,
        Self::Anthropic,
        Self::Vllm,
        Self::Ollama,
        Self::LmStudio,
        Self::Llamacpp,
        Self::Openrouter,
    ];

    /// The wire name (`lm_studio`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Anthropic => "anthropic",
            Self::Vllm => "vllm",
            Self::Ollama => "ollama",
            Self::LmStudio => "lm_studio",
            Self::Llamacpp => "llamacpp",
            Self::Openrouter => "openrouter",
        }
    }

    /// The endpoint used when none is given; `None` = an endpoint is required (self-hosted
    /// servers have no canonical address).
    pub fn default_endpoint(self) -> Option<&'static str> {
        match self {
            Self::Openai => Some("https://api.openai.com/v1"),
            Self::Anthropic => Some("https://api.anthropic.com/v1"),
            Self::Openrouter => Some("https://openrouter.ai/api/v1"),
            Self::Ollama => Some("http://localhost:11434"),
            Self::LmStudio => Some("http://localhost:1234/v1"),
            Self::Vllm | Self::Llamacpp => None,
        }
    }
}

/// How the gateway authenticates to a provider.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    /// No credentials.
    #[default]
    None,
    /// The client's own credentials are passed through.
    Passthrough,
    /// The stored API key.
    ApiKey,
}

impl AuthType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Passthrough => "passthrough",
            Self::ApiKey => "api_key",
        }
    }
}

/// Secret material (a provider API key). `Debug` and `Display` print `<redacted>`; read it with
/// [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub(crate) String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself. Never log or return it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A provider endpoint of an account. The API key is never part of it: `has_api_key` says
/// whether one is set.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    /// Prefixed id (`prov_…`).
    pub id: ProviderId,
    /// Unique name in the account (3-64 chars, compared case-insensitively).
    pub name: String,
    /// Description (≤ 500 chars; empty by default).
    pub description: String,
    /// The kind of provider.
    pub provider_type: ProviderType,
    /// Absolute http(s) URL of the provider's API.
    pub endpoint: String,
    /// How the gateway authenticates.
    pub auth_type: AuthType,
    /// Whether an API key is stored (the key itself is write-only).
    pub has_api_key: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change; `None` until the first.
    pub updated_at: Option<DateTime<Utc>>,
    /// Incremented by every change; pass it back as `expected_revision`.
    pub revision: u64,
}

/// The stored provider: the public record plus the write-only key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProviderRecord {
    pub(crate) provider: Provider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) api_key: Option<String>,
}

impl fmt::Debug for ProviderRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderRecord")
            .field("provider", &self.provider)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Input of `ModelGates::provider_add`.
#[derive(Debug, Clone, Serialize)]
pub struct NewProvider {
    /// Name (3-64 chars), unique in the account (case-insensitively).
    pub name: String,
    /// Description (≤ 500 chars).
    pub description: Option<String>,
    /// The kind of provider.
    pub provider_type: ProviderType,
    /// Absolute http(s) URL; default: the type's default endpoint (required for vllm and
    /// llamacpp).
    pub endpoint: Option<String>,
    /// Auth type; default `api_key` when a key is given, `none` otherwise.
    pub auth_type: Option<AuthType>,
    /// The API key (required with `api_key` auth, refused with the others). Serialized as
    /// its SHA-256 (`sha256:<hex>`), never its value.
    #[serde(serialize_with = "secret_digest")]
    pub api_key: Option<Secret>,
}

/// A secret as its SHA-256, for serializing inputs that hold one (an idempotency fingerprint
/// tells two keys apart without keeping either).
fn secret_digest<S: serde::Serializer>(secret: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    use sha2::Digest;
    match secret {
        Some(secret) => {
            let digest = sha2::Sha256::digest(secret.expose().as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            s.serialize_str(&format!("sha256:{hex}"))
        }
        None => s.serialize_none(),
    }
}

/// Input of `ModelGates::provider_update`. Auth changes go through
/// `ModelGates::provider_set_auth`.
#[derive(Debug, Clone, Default)]
pub struct ProviderPatch {
    /// Update only if the provider is still at this revision.
    pub expected_revision: Option<u64>,
    /// New name (mux rules follow: they point at the provider's id).
    pub name: Option<String>,
    /// Description; clear = empty.
    pub description: Patch<String>,
    /// New type.
    pub provider_type: Option<ProviderType>,
    /// Endpoint; clear = the (new) type's default endpoint.
    pub endpoint: Patch<String>,
}

/// One workspace's use of a provider (the `PROVIDER_USES` index).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProviderUse {
    pub(crate) workspace_id: WorkspaceId,
    /// How many of the workspace's rules name the provider.
    pub(crate) rules: u32,
}

/// Result of `ModelGates::provider_delete`.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderDeleted {
    /// The deleted provider.
    pub data: Provider,
    /// The mux rules removed with it (`cascade: true`), in workspace then rule order.
    pub removed_rules: Vec<RemovedRule>,
}
