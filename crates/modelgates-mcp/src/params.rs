//! Tool parameter and result shapes of the MCP server. Field doc comments become the
//! descriptions clients show to models.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use modelgates::{
    AuthType, KeyKind, MatcherType, ModelStatus, OrgRole, ProviderSort, ProviderType, RequestKind,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::args::double_option;

/// `{data: …}`: the envelope of every single-object result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Data<T> {
    /// The object.
    pub data: T,
}

/// Result of a delete.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Deleted {
    /// Always true: the object is gone.
    pub deleted: bool,
    /// The id of the deleted object.
    pub id: String,
}

/// A write-only secret argument (a provider API key): `Debug` prints `<redacted>`.
#[derive(Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct SecretArg(String);

impl std::fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<SecretArg> for modelgates::Secret {
    fn from(s: SecretArg) -> Self {
        modelgates::Secret::new(s.0)
    }
}

/// Pagination.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Number of records to skip (default 0).
    #[schemars(range(min = 0))]
    pub offset: Option<i64>,
    /// Maximum number of records to return, 1-100 (default 50). Out-of-range values are an error.
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
}

/// Addresses one workspace.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceIdParams {
    /// The workspace ID (UUID) or slug, e.g. "production".
    pub id: String,
}

/// Parameters of workspace_create.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceCreateParams {
    /// Name for the new workspace, 1-100 characters.
    pub name: String,
    /// URL-friendly slug, unique in the account: lowercase alphanumeric segments separated by
    /// single hyphens, no leading/trailing hyphens, 1-50 characters (e.g. "production").
    pub slug: String,
    /// Description, at most 500 characters.
    pub description: Option<String>,
    /// Default text model as "provider/model", e.g. "openai/gpt-4o".
    pub default_text_model: Option<String>,
    /// Default image model as "provider/model", e.g. "google/gemini-2.5-flash-image".
    pub default_image_model: Option<String>,
    /// Default provider sort preference.
    pub default_provider_sort: Option<ProviderSort>,
    /// Omit (all keys' I/O is logged) or `[]`: a new workspace has no keys yet, so any id is
    /// refused; choose keys with workspace_update once they exist.
    pub io_logging_api_key_ids: Option<Vec<String>>,
    /// Sampling rate for I/O logging, 0.0001-1 (default 1 = every request).
    pub io_logging_sampling_rate: Option<f64>,
    /// Whether data discount logging is enabled (default true).
    pub is_data_discount_logging_enabled: Option<bool>,
    /// Whether observability broadcast is enabled (default false).
    pub is_observability_broadcast_enabled: Option<bool>,
    /// Whether private I/O logging is enabled (default false).
    pub is_observability_io_logging_enabled: Option<bool>,
    /// Labels: at most 64; keys like "team" or "cost-center" (lowercase, 1-63 chars), values ≤ 256 chars.
    pub labels: Option<BTreeMap<String, String>>,
    /// Custom instructions (system prompt text, ≤ 64 KiB).
    pub custom_instructions: Option<String>,
    /// Mux rules in priority order (validated like workspace_mux_set).
    pub mux_rules: Option<Vec<MuxRuleParams>>,
    /// Days raw usage records and messages are kept (1-3650); rollups stay. Default forever.
    pub usage_retention_days: Option<u32>,
}

/// Parameters of workspace_update. Omitted fields keep their value; null clears a field (name
/// and slug cannot be null; null resets a flag or the sampling rate to its default).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceUpdateParams {
    /// The workspace ID (UUID) or slug.
    pub id: String,
    /// Update only if the workspace's `revision` is still this value (from your last read);
    /// otherwise fail with conflict and change nothing. Omit to update unconditionally.
    pub expected_revision: Option<u64>,
    /// New name, 1-100 characters.
    #[serde(default, deserialize_with = "double_option")]
    pub name: Option<Option<String>>,
    /// New slug (same rules as on create); must be free in the account.
    #[serde(default, deserialize_with = "double_option")]
    pub slug: Option<Option<String>>,
    /// New description (≤ 500 chars); null clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub description: Option<Option<String>>,
    /// Default text model "provider/model"; null clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub default_text_model: Option<Option<String>>,
    /// Default image model "provider/model"; null clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub default_image_model: Option<Option<String>>,
    /// Default provider sort; null clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub default_provider_sort: Option<Option<ProviderSort>>,
    /// API key ids of this workspace whose I/O is logged; null = all keys.
    #[serde(default, deserialize_with = "double_option")]
    pub io_logging_api_key_ids: Option<Option<Vec<String>>>,
    /// Sampling rate 0.0001-1; null resets to 1.
    #[serde(default, deserialize_with = "double_option")]
    pub io_logging_sampling_rate: Option<Option<f64>>,
    /// Data discount logging; null resets to true.
    #[serde(default, deserialize_with = "double_option")]
    pub is_data_discount_logging_enabled: Option<Option<bool>>,
    /// Observability broadcast; null resets to false.
    #[serde(default, deserialize_with = "double_option")]
    pub is_observability_broadcast_enabled: Option<Option<bool>>,
    /// Private I/O logging; null resets to false.
    #[serde(default, deserialize_with = "double_option")]
    pub is_observability_io_logging_enabled: Option<Option<bool>>,
    /// Labels, replacing the whole map; null removes all labels.
    #[serde(default, deserialize_with = "double_option")]
    pub labels: Option<Option<BTreeMap<String, String>>>,
    /// Custom instructions (≤ 64 KiB); null removes them.
    #[serde(default, deserialize_with = "double_option")]
    pub custom_instructions: Option<Option<String>>,
    /// Mux rules replacing the whole list (validated like workspace_mux_set).
    pub mux_rules: Option<Vec<MuxRuleParams>>,
    /// Days raw usage records and messages are kept (1-3650); null = forever.
    #[serde(default, deserialize_with = "double_option")]
    pub usage_retention_days: Option<Option<u32>>,
}

/// Parameters of workspace_list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceListParams {
    /// Only workspaces whose mux rules use this provider (name or prov_ id).
    pub provider: Option<String>,
    /// Also list archived workspaces (default false).
    #[serde(default)]
    pub include_archived: bool,
    /// Number of records to skip (default 0).
    #[schemars(range(min = 0))]
    pub offset: Option<i64>,
    /// Maximum number of records to return, 1-100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
}

/// One mux rule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MuxRuleParams {
    /// The provider endpoint: its name or prov_ id (see provider_list).
    #[serde(alias = "provider_name")]
    pub provider: String,
    /// Optional check: the provider's type must be this.
    pub provider_type: Option<ProviderType>,
    /// The model: "provider/family" from model_list (e.g. "anthropic/claude-sonnet-4.6"), or a
    /// family registered for this provider with model_register.
    pub model: String,
    /// catch_all (every request; no matcher), filename_match (chat and FIM), fim_filename (FIM
    /// only) or chat_filename (chat only).
    pub matcher_type: MatcherType,
    /// Glob for the filename kinds: without '/' it matches a file's base name ("*.py"), with
    /// '/' the whole path ("src/**/*.rs"); case-sensitive. Omit for catch_all.
    pub matcher: Option<String>,
}

impl From<MuxRuleParams> for modelgates::NewMuxRule {
    fn from(r: MuxRuleParams) -> Self {
        Self {
            provider: r.provider,
            provider_type: r.provider_type,
            model: r.model,
            matcher_type: r.matcher_type,
            matcher: r.matcher,
        }
    }
}

/// Addresses one workspace; the active workspace when omitted.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionalWorkspaceParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
}

/// Parameters of workspace_mux_set.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MuxSetParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// The whole new rule list, highest priority first (at most 500; [] removes every rule).
    pub rules: Vec<MuxRuleParams>,
    /// Replace only if the list's revision is still this (from workspace_mux_get); otherwise
    /// fail with conflict.
    pub expected_revision: Option<u64>,
}

/// Parameters of workspace_instructions_set.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstructionsSetParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// The system prompt text, at most 64 KiB.
    #[serde(alias = "prompt")]
    pub custom_instructions: String,
}

/// Parameters of route_resolve.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteResolveParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// The request kind: chat (default) or fim (fill-in-the-middle code completion).
    pub kind: Option<RequestKind>,
    /// Paths of the files the request concerns, e.g. ["src/main.rs"] (at most 1,000).
    #[serde(default)]
    pub files: Vec<String>,
}

/// Parameters of provider_add.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderAddParams {
    /// Unique name in the account, 3-64 characters (case-insensitive), e.g. "openai-prod".
    pub name: String,
    /// Description, at most 500 characters.
    pub description: Option<String>,
    /// openai, anthropic, vllm, ollama, lm_studio, llamacpp or openrouter.
    pub provider_type: ProviderType,
    /// Absolute http(s) URL of the API. Defaults: openai https://api.openai.com/v1, anthropic
    /// https://api.anthropic.com/v1, openrouter https://openrouter.ai/api/v1, ollama
    /// http://localhost:11434, lm_studio http://localhost:1234/v1; required for vllm and llamacpp.
    pub endpoint: Option<String>,
    /// none, passthrough or api_key (default: api_key when api_key is given, else none).
    pub auth_type: Option<AuthType>,
    /// The provider API key (write-only: never returned). Required with auth_type api_key,
    /// refused with the others.
    pub api_key: Option<SecretArg>,
}

/// Parameters of provider_update. Omitted fields keep their value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderUpdateParams {
    /// The provider: its name or prov_ id.
    pub provider: String,
    /// Update only if the provider's revision is still this; otherwise fail with conflict.
    pub expected_revision: Option<u64>,
    /// New name (mux rules keep pointing at the provider).
    pub name: Option<String>,
    /// New description; null clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub description: Option<Option<String>>,
    /// New type.
    pub provider_type: Option<ProviderType>,
    /// New endpoint; null resets it to the type's default.
    #[serde(default, deserialize_with = "double_option")]
    pub endpoint: Option<Option<String>>,
}

/// Parameters of provider_set_auth.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderSetAuthParams {
    /// The provider: its name or prov_ id.
    pub provider: String,
    /// none, passthrough or api_key.
    pub auth_type: AuthType,
    /// The API key: required with api_key, refused otherwise (a stored key is then removed).
    pub api_key: Option<SecretArg>,
    /// Change only if the provider's revision is still this.
    pub expected_revision: Option<u64>,
}

/// Addresses one provider.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderRefParams {
    /// The provider: its name (case-insensitive) or prov_ id.
    pub provider: String,
}

/// Parameters of provider_delete.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderDeleteParams {
    /// The provider: its name or prov_ id.
    pub provider: String,
    /// Also remove the mux rules that use it (reported in the result). Default false: the call
    /// fails while rules use it, naming them.
    #[serde(default)]
    pub cascade: bool,
}

/// Parameters of persona_create.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonaCreateParams {
    /// Unique name (case-insensitive): letters, digits, '_', '-' and spaces, 1-64 characters.
    pub name: String,
    /// What the persona does, 1-2,000 characters; must not nearly duplicate another persona's.
    pub description: String,
}

/// Parameters of persona_update.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonaUpdateParams {
    /// The persona: its name or persona_ id.
    pub persona: String,
    /// New name.
    pub new_name: Option<String>,
    /// New description.
    pub new_description: Option<String>,
}

/// Addresses one persona.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonaRefParams {
    /// The persona: its name (case-insensitive) or persona_ id.
    pub persona: String,
}

/// Parameters of workspace_members_list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceMembersListParams {
    /// The workspace ID (UUID) or slug.
    pub id: String,
    /// Number of records to skip (default 0).
    #[schemars(range(min = 0))]
    pub offset: Option<i64>,
    /// Maximum number of records to return, 1-100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
}

/// Parameters of workspace_members_add / workspace_members_remove.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceMembersParams {
    /// The workspace ID (UUID) or slug.
    pub id: String,
    /// 1-100 user ids of organization members, e.g. ["user_abc123", "user_def456"].
    pub user_ids: Vec<String>,
}

/// Parameters of member_add.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberAddParams {
    /// The user id, e.g. "user_abc123" (1-64 ASCII letters, digits, '_' or '-').
    pub user_id: String,
    /// Email address, unique in the organization.
    pub email: String,
    /// Given name (≤ 100 chars).
    pub first_name: Option<String>,
    /// Family name (≤ 100 chars).
    pub last_name: Option<String>,
    /// Organization role (default "org:member").
    pub role: Option<OrgRole>,
}

/// Addresses one organization member.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIdParams {
    /// The user id, e.g. "user_abc123".
    pub user_id: String,
}

/// Parameters of member_update. Omitted fields keep their value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdateParams {
    /// The user id.
    pub user_id: String,
    /// New email (unique in the organization).
    pub email: Option<String>,
    /// Given name; null clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub first_name: Option<Option<String>>,
    /// Family name; null clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub last_name: Option<Option<String>>,
    /// New organization role; the member's role in every workspace follows it.
    pub role: Option<OrgRole>,
}

/// Parameters of key_create.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyCreateParams {
    /// Display name, 1-100 characters.
    pub name: String,
    /// The workspace ID (UUID) or slug the key belongs to.
    pub workspace: String,
    /// "inference" (default): sends requests through the gateway; "management": manages the account.
    pub kind: Option<KeyKind>,
    /// The user the key belongs to (default: you). Must be a member of the workspace.
    pub creator_user_id: Option<String>,
    /// Expiry as an RFC 3339 timestamp in the future, e.g. "2027-01-31T00:00:00Z".
    pub expires_at: Option<DateTime<Utc>>,
    /// Spending limit in USD (≥ 0); omit for unlimited.
    pub limit: Option<f64>,
}

/// Parameters of key_list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyListParams {
    /// The workspace ID (UUID) or slug.
    pub workspace: String,
    /// Also list disabled and expired keys (default false).
    #[serde(default)]
    pub include_inactive: bool,
    /// Number of records to skip (default 0).
    #[schemars(range(min = 0))]
    pub offset: Option<i64>,
    /// Maximum number of records to return, 1-100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
}

/// Addresses one API key.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyIdParams {
    /// The key id, e.g. "key_01JD…".
    pub id: String,
}

/// Parameters of key_update. Omitted fields keep their value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyUpdateParams {
    /// The key id.
    pub id: String,
    /// New display name.
    pub name: Option<String>,
    /// true disables the key (it stops working immediately); false re-enables it.
    pub disabled: Option<bool>,
    /// New expiry (RFC 3339, in the future); null removes the expiry.
    #[serde(default, deserialize_with = "double_option")]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// New spending limit in USD; null removes the limit.
    #[serde(default, deserialize_with = "double_option")]
    pub limit: Option<Option<f64>>,
}

/// Parameters of model_list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelListParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// Only models of this provider, e.g. "anthropic".
    pub provider: Option<String>,
    /// Only models with this status.
    pub status: Option<ModelStatus>,
    /// Only models whose labels match every key=value pair, e.g. "tier=fast,team=core".
    pub label_selector: Option<String>,
    /// Number of records to skip (default 0).
    #[schemars(range(min = 0))]
    pub offset: Option<i64>,
    /// Maximum number of records to return, 1-100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
}

/// Addresses one model of a workspace.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelRefParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// The model: its id ("model_01J…") or "provider/family" (e.g. "openai/gpt-4o").
    pub model: String,
}

/// Parameters of model_set_status.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSetStatusParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// The model: its id ("model_01J…") or "provider/family".
    pub model: String,
    /// The new status.
    pub status: ModelStatus,
}

/// Parameters of model_register (model fields in the seed's camelCase).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ModelRegisterParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// Provider, e.g. "vllm", "ollama", "llamacpp" (lowercase letters, digits, '-', '_', '.', ':').
    pub provider: String,
    /// Model family, e.g. "qwen2.5-coder-32b".
    pub family: String,
    /// Cents per million input tokens as a decimal string ("300" = $3.00); default "0".
    pub input_price_per_million_tokens: Option<String>,
    /// Cents per million output tokens as a decimal string; default "0".
    pub output_price_per_million_tokens: Option<String>,
    /// Maximum input tokens (context window), at least 1.
    pub max_input_tokens: u32,
    /// Maximum output tokens, at least 1.
    pub max_output_tokens: u32,
    /// Labels for filtering with label_selector.
    pub labels: Option<BTreeMap<String, String>>,
    /// An id of the model in an external system.
    pub external_id: Option<String>,
    /// Initial status (default MODEL_STATUS_ENABLED).
    pub status: Option<ModelStatus>,
}

/// One request's usage (usage_record, and each record of usage_record_batch).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageRecordParams {
    /// Your id of the request (1-128 chars); recording the same id again changes nothing.
    pub request_id: String,
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// The API key (key_…) of that workspace the request came with.
    pub api_key_id: Option<String>,
    /// The provider endpoint (name or prov_ id) or a catalog provider, e.g. "openai".
    pub provider: String,
    /// The model as sent to the provider, e.g. "gpt-5".
    pub model: String,
    /// chat (default) or fim.
    pub request_type: Option<RequestKind>,
    /// Input (prompt) tokens.
    pub input_tokens: u64,
    /// Output (completion) tokens.
    pub output_tokens: u64,
    /// When the request happened (RFC 3339; default now; at most a day ahead).
    pub timestamp: Option<DateTime<Utc>>,
    /// The conversation, if you log it; secrets in it are detected and stored redacted.
    pub conversation: Option<ConversationParams>,
    /// Alerts you raised on the request (at most 100).
    #[serde(default)]
    pub alerts: Vec<AlertParams>,
}

/// A request's conversation.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationParams {
    /// The chat it belongs to.
    pub chat_id: Option<String>,
    /// The prompt (≤ 1 MiB).
    pub prompt: String,
    /// The prompt's message id.
    pub prompt_message_id: Option<String>,
    /// The answer (≤ 1 MiB).
    pub answer: Option<String>,
    /// The answer's message id.
    pub answer_message_id: Option<String>,
}

/// An alert on a request.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    /// What triggered it: "secrets", "pii", "malicious_packages" or another kind (1-64 chars).
    pub trigger_type: String,
    /// critical or info.
    pub trigger_category: modelgates::AlertCategory,
    /// What matched.
    pub trigger_string: Option<String>,
    /// The code involved.
    pub code_snippet: Option<CodeSnippetParams>,
}

/// Code an alert points at.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeSnippetParams {
    /// The code.
    pub code: String,
    /// Its language, e.g. "python".
    pub language: Option<String>,
    /// Its file path.
    pub filepath: Option<String>,
}

/// Parameters of usage_record_batch.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageBatchParams {
    /// 1-1,000 records.
    pub records: Vec<UsageRecordParams>,
}

/// Parameters of workspace_usage.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceUsageParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// Start of the range, inclusive (RFC 3339); omit for the beginning.
    pub from: Option<DateTime<Utc>>,
    /// End of the range, exclusive (RFC 3339); omit for now.
    pub to: Option<DateTime<Utc>>,
}

/// Parameters of workspace_messages_list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagesListParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// Page number, from 1 (default 1).
    #[schemars(range(min = 1))]
    pub page: Option<u64>,
    /// Messages per page, 1-100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    pub page_size: Option<u64>,
    /// Only messages of these chat ids (at most 100).
    pub filter_by_ids: Option<Vec<String>>,
    /// Only messages with an alert of one of these trigger types, e.g. ["secrets", "pii"].
    pub filter_by_alert_trigger_types: Option<Vec<String>>,
}

/// Parameters of workspace_alerts_list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertsListParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// Page number, from 1 (default 1).
    #[schemars(range(min = 1))]
    pub page: Option<u64>,
    /// Alerts per page, 1-100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    pub page_size: Option<u64>,
}

/// Parameters of workspace_message_get.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageGetParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// A chat id (every turn of the chat), or a usage record id (usage_…) for one request.
    pub id: String,
}

/// Decodes `args` for tool `tool` exactly as the server does (the tool's `Parameters<T>`), for
/// fuzzing and tests. `Ok(true)` when the arguments are valid for the tool, `Ok(false)` for an
/// unknown tool.
pub fn decode_tool_arguments(
    tool: &str,
    args: rmcp::model::JsonObject,
) -> Result<bool, crate::ToolError> {
    use crate::args::decode_args as d;
    match tool {
        "workspace_list" => d::<WorkspaceListParams>(args).map(|_| ()),
        "member_list" | "provider_list" | "persona_list" => d::<ListParams>(args).map(|_| ()),
        "workspace_get" | "workspace_delete" | "workspace_activate" | "workspace_archive"
        | "workspace_restore" => d::<WorkspaceIdParams>(args).map(|_| ()),
        "workspace_mux_get" | "workspace_instructions_get" | "workspace_instructions_clear" => {
            d::<OptionalWorkspaceParams>(args).map(|_| ())
        }
        "workspace_mux_set" => d::<MuxSetParams>(args).map(|_| ()),
        "workspace_instructions_set" => d::<InstructionsSetParams>(args).map(|_| ()),
        "route_resolve" => d::<RouteResolveParams>(args).map(|_| ()),
        "provider_add" => d::<ProviderAddParams>(args).map(|_| ()),
        "provider_update" => d::<ProviderUpdateParams>(args).map(|_| ()),
        "provider_set_auth" => d::<ProviderSetAuthParams>(args).map(|_| ()),
        "provider_get" => d::<ProviderRefParams>(args).map(|_| ()),
        "provider_delete" => d::<ProviderDeleteParams>(args).map(|_| ()),
        "persona_create" => d::<PersonaCreateParams>(args).map(|_| ()),
        "persona_update" => d::<PersonaUpdateParams>(args).map(|_| ()),
        "persona_get" | "persona_delete" => d::<PersonaRefParams>(args).map(|_| ()),
        "usage_record" => d::<UsageRecordParams>(args).map(|_| ()),
        "usage_record_batch" => d::<UsageBatchParams>(args).map(|_| ()),
        "workspace_usage" => d::<WorkspaceUsageParams>(args).map(|_| ()),
        "workspace_messages_list" => d::<MessagesListParams>(args).map(|_| ()),
        "workspace_message_get" => d::<MessageGetParams>(args).map(|_| ()),
        "workspace_alerts_list" => d::<AlertsListParams>(args).map(|_| ()),
        "workspace_create" => d::<WorkspaceCreateParams>(args).map(|_| ()),
        "workspace_update" => d::<WorkspaceUpdateParams>(args).map(|_| ()),
        "workspace_members_list" => d::<WorkspaceMembersListParams>(args).map(|_| ()),
        "workspace_members_add" | "workspace_members_remove" => {
            d::<WorkspaceMembersParams>(args).map(|_| ())
        }
        "member_add" => d::<MemberAddParams>(args).map(|_| ()),
        "member_get" | "member_remove" => d::<UserIdParams>(args).map(|_| ()),
        "member_update" => d::<MemberUpdateParams>(args).map(|_| ()),
        "key_create" => d::<KeyCreateParams>(args).map(|_| ()),
        "key_list" => d::<KeyListParams>(args).map(|_| ()),
        "key_get" | "key_delete" => d::<KeyIdParams>(args).map(|_| ()),
        "key_update" => d::<KeyUpdateParams>(args).map(|_| ()),
        "model_list" => d::<ModelListParams>(args).map(|_| ()),
        "model_get" | "model_delete" => d::<ModelRefParams>(args).map(|_| ()),
        "model_set_status" => d::<ModelSetStatusParams>(args).map(|_| ()),
        "model_register" => d::<ModelRegisterParams>(args).map(|_| ()),
        _ => return Ok(false),
    }?;
    Ok(true)
}
