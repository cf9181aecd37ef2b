//! Per-workspace model catalogs (seed 003): models, their specs and statuses, and the database's
//! catalog entries and per-workspace overrides.

use crate::catalog::CatalogModel;
use crate::ids::{AccountId, ModelId, WorkspaceId};
use crate::record::workspace::WorkspaceRecord;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `bundleKey` of models that come from the catalog (custom models have none).
pub const CATALOG_BUNDLE: &str = "catalog";

/// Whether a model may be used in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub enum ModelStatus {
    /// Usable: routing and defaults may name it.
    #[serde(rename = "MODEL_STATUS_ENABLED")]
    Enabled,
    /// Not usable.
    #[serde(rename = "MODEL_STATUS_DISABLED")]
    Disabled,
}

/// Standard metadata of a persistent, named resource (seed 003's `ResourceMetadata`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResourceMetadata {
    /// Prefixed, time-ordered id (`model_01J…`).
    pub id: ModelId,
    /// The account the resource belongs to.
    pub account_id: AccountId,
    /// When the resource was created.
    pub created_at: DateTime<Utc>,
    /// Human-readable name (`provider/family` for models).
    pub name: String,
    /// The actor that created the resource.
    pub profile_id: String,
    /// The workspace the resource belongs to.
    pub workspace_id: WorkspaceId,
    /// `"catalog"` for models seeded from the catalog (they can be disabled, not deleted);
    /// absent for custom models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_key: Option<String>,
    /// An id in an external system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Key-value labels for filtering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

pub use crate::catalog::ModelOutput;

/// What a model is (seed 003's `ModelSpec`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ModelSpec {
    /// Model family (`claude-sonnet-4.6`).
    pub family: String,
    /// Provider (`anthropic`).
    pub provider: String,
    /// Cents per million input tokens, decimal string (`"300"` = $3.00).
    pub input_price_per_million_tokens: String,
    /// Cents per million output tokens, decimal string.
    pub output_price_per_million_tokens: String,
    /// Maximum input tokens.
    pub max_input_tokens: u32,
    /// Maximum output tokens.
    pub max_output_tokens: u32,
    /// Enabled or disabled in this workspace.
    pub status: ModelStatus,
    /// What the model produces (`text` or `image`; models stored before schema 6 are text).
    #[serde(default)]
    pub output: ModelOutput,
    /// Cents per generated image, exact decimal string, for image models priced per image
    /// (`null` otherwise). Usage costs count tokens only.
    #[serde(default)]
    pub output_price_per_image: Option<String>,
}

/// A model of a workspace: `{metadata, spec}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Model {
    /// Identity and ownership.
    pub metadata: ResourceMetadata,
    /// Provider, family, prices, limits, status.
    pub spec: ModelSpec,
}

impl Model {
    /// `provider/family`.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.spec.provider, self.spec.family)
    }

    /// Whether the model came from the catalog.
    pub fn is_catalog(&self) -> bool {
        self.metadata.bundle_key.as_deref() == Some(CATALOG_BUNDLE)
    }
}

/// Filters of `ModelGates::model_list`.
#[derive(Debug, Clone, Default)]
pub struct ModelFilter {
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this status.
    pub status: Option<ModelStatus>,
    /// Label selector `key=value[,key=value…]`: every pair must match.
    pub label_selector: Option<String>,
}

/// Input of `ModelGates::model_register`: a custom model (e.g. a self-hosted family).
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewModel {
    /// Provider slug (`vllm`, `ollama`, `llamacpp`, or any other).
    pub provider: String,
    /// Family (`qwen2.5-coder-32b`).
    pub family: String,
    /// Cents per million input tokens (default `"0"`).
    pub input_price_per_million_tokens: Option<String>,
    /// Cents per million output tokens (default `"0"`).
    pub output_price_per_million_tokens: Option<String>,
    /// Maximum input tokens.
    pub max_input_tokens: u32,
    /// Maximum output tokens.
    pub max_output_tokens: u32,
    /// Labels.
    pub labels: Option<BTreeMap<String, String>>,
    /// An id in an external system.
    pub external_id: Option<String>,
    /// Initial status (default enabled).
    pub status: Option<ModelStatus>,
    /// What the model produces (default text).
    pub output: Option<ModelOutput>,
    /// Cents per generated image (image models priced per image).
    pub output_price_per_image: Option<String>,
}

/// A catalog model as the database keeps it: the newest spec, when the database first saw
/// it, and when a newer catalog dropped it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CatalogEntry {
    pub(crate) model: CatalogModel,
    pub(crate) first_seen_at: DateTime<Utc>,
    pub(crate) retired_at: Option<DateTime<Utc>>,
}

impl CatalogEntry {
    /// Whether workspace `ws` has this model: every workspace has the current catalog; a
    /// dropped model stays in the workspaces that existed before it was dropped.
    pub(crate) fn visible_in(&self, ws: &WorkspaceRecord) -> bool {
        self.retired_at
            .is_none_or(|retired| ws.created_at < retired)
    }
}

/// A workspace's own state of a catalog model: what the user changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ModelOverride {
    pub(crate) status: ModelStatus,
}
