//! Routing: matcher types, request kinds, mux rules as given, stored and shown, a workspace's
//! configuration (custom instructions + rules), routes.

use crate::ids::{ProviderId, WorkspaceId};
use crate::record::provider::{AuthType, ProviderType, Secret};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Which requests a rule applies to and how its `matcher` is read.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatcherType {
    /// Every request; takes no matcher. Rules after it are unreachable.
    CatchAll,
    /// Chat and FIM requests with a file matching the glob.
    FilenameMatch,
    /// FIM (fill-in-the-middle) requests with a file matching the glob.
    FimFilename,
    /// Chat requests with a file matching the glob.
    ChatFilename,
}

impl MatcherType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CatchAll => "catch_all",
            Self::FilenameMatch => "filename_match",
            Self::FimFilename => "fim_filename",
            Self::ChatFilename => "chat_filename",
        }
    }

    /// Whether a rule of this type may match a request of `kind`.
    pub fn applies_to(self, kind: RequestKind) -> bool {
        match self {
            Self::CatchAll | Self::FilenameMatch => true,
            Self::FimFilename => kind == RequestKind::Fim,
            Self::ChatFilename => kind == RequestKind::Chat,
        }
    }
}

/// The kind of a request to route.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// A chat completion.
    Chat,
    /// A fill-in-the-middle (code completion) request.
    Fim,
}

/// One rule of `ModelGates::workspace_mux_set`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewMuxRule {
    /// The provider, by name or id.
    pub provider: String,
    /// If given, must equal the provider's type (the seed's `provider_type`).
    pub provider_type: Option<ProviderType>,
    /// The model: `provider/family` from the workspace catalog, or a family registered for
    /// this provider (`model_register` with the provider's name or type).
    pub model: String,
    /// The kind of matcher.
    pub matcher_type: MatcherType,
    /// The glob for the filename kinds; none (or empty) for `catch_all`.
    pub matcher: Option<String>,
}

/// A stored rule: the provider by id, so renaming the provider keeps the rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredRule {
    pub(crate) provider_id: ProviderId,
    pub(crate) model: String,
    pub(crate) model_ref: String,
    pub(crate) matcher_type: MatcherType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) matcher: Option<String>,
}

/// The configuration of a workspace besides its record: instructions and rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WorkspaceConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) custom_instructions: Option<String>,
    #[serde(default)]
    pub(crate) mux_rules: Vec<StoredRule>,
    #[serde(default)]
    pub(crate) mux_revision: u64,
}

/// A mux rule as clients see it.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuxRule {
    /// The provider's current name.
    pub provider_name: String,
    /// The provider's id (what the rule stores).
    pub provider_id: ProviderId,
    /// The provider's type.
    pub provider_type: ProviderType,
    /// The model as given (what the gateway sends upstream).
    pub model: String,
    /// The workspace catalog model it resolved to (`provider/family`).
    pub model_ref: String,
    /// The kind of matcher.
    pub matcher_type: MatcherType,
    /// The glob (absent for `catch_all`).
    pub matcher: Option<String>,
}

/// A workspace's rule list, first rule first (highest priority).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuxRules {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The rules in priority order.
    pub rules: Vec<MuxRule>,
    /// Incremented by every change of the list (0 = never set); pass it back as
    /// `expected_revision`.
    pub revision: u64,
    /// Problems that do not block the change, in words: the rules no request can reach.
    pub warnings: Vec<String>,
    /// The rules no request can reach, first first, with the earlier rules that take their
    /// requests.
    #[serde(default)]
    pub unreachable_rules: Vec<UnreachableRule>,
}

/// A rule no request can reach (see [`MuxRules::unreachable_rules`]).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreachableRule {
    /// Its index in the list (0 = first).
    pub index: usize,
    /// The earlier rules that match its requests first: a `catch_all`, or one or two rules
    /// (one per request kind) with the same glob or a glob matching every file (`*`, `**`,
    /// `**/*`) whose matcher types cover its request kinds.
    pub shadowed_by: Vec<usize>,
}

/// A rule removed with its provider (`provider_delete` with `cascade`).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedRule {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// Its slug.
    pub workspace_slug: String,
    /// The rule's position before the removal.
    pub rule_index: usize,
    /// The model the rule routed to.
    pub model: String,
    /// The rule's matcher type.
    pub matcher_type: MatcherType,
    /// The rule's glob.
    pub matcher: Option<String>,
}

/// A workspace's custom instructions.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instructions {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The system prompt text; absent when none is set.
    pub custom_instructions: Option<String>,
}

/// What a gateway needs, besides the [`Route`], to forward a routed request: the provider's
/// credentials and the workspace's custom instructions, read together in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Upstream {
    /// The provider's stored API key, when its `auth_type` is `api_key` (`Debug` prints
    /// `<redacted>`; never log or return it).
    pub api_key: Option<Secret>,
    /// The workspace's custom instructions, to apply as the system prompt.
    pub custom_instructions: Option<String>,
}

/// Where a route came from.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteSource {
    /// A mux rule matched (`rule_index` says which).
    Rule,
    /// No rule matched; the workspace's `default_text_model` is served by a provider.
    DefaultTextModel,
}

/// What the data plane knows of a provider: never its key.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteProvider {
    /// The provider's id.
    pub id: ProviderId,
    /// Its name.
    pub name: String,
    /// Its type.
    pub provider_type: ProviderType,
    /// Its endpoint.
    pub endpoint: String,
    /// How to authenticate to it.
    pub auth_type: AuthType,
    /// Whether an API key is stored (fetch it with `provider_api_key`).
    pub has_api_key: bool,
}

/// The answer of the routing engine: which provider and model serve a request.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// A rule, or the default text model.
    pub source: RouteSource,
    /// The index of the matching rule (absent for the default text model).
    pub rule_index: Option<usize>,
    /// The provider to call.
    pub provider: Arc<RouteProvider>,
    /// The model to ask the provider for.
    pub model: Arc<str>,
    /// The workspace catalog model (`provider/family`), for prices and limits.
    pub model_ref: Arc<str>,
    /// Whether the workspace has custom instructions to apply as the system prompt.
    pub custom_instructions: bool,
}
