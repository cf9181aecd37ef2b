//! ModelGates: the domain library of an LLM gateway control plane — accounts, organization
//! members, workspaces, workspace membership, API keys, model catalogs, provider endpoints,
//! routing (mux) rules, custom instructions and personas, with every invariant checked inside
//! one store transaction, and a data plane (key verification, route resolution) that answers
//! from an in-memory snapshot.
//!
//! The library runs over any [`Storage`]: a small transactional, ordered key-value interface.
//! [`MemoryStore`] ships here; the embedded default store is the `modelgates-redb` crate.
//!
//! ```
//! use modelgates::{MemoryStore, ModelGates, NewKey, NewWorkspace, Page, WorkspacePatch, Patch};
//!
//! # fn main() -> Result<(), modelgates::Error> {
//! let gates = ModelGates::open(MemoryStore::new())?;   // bootstraps account + default workspace
//! let admin = gates.default_caller()?;
//!
//! let ws = gates.workspace_create(&admin, NewWorkspace {
//!     name: "Production".into(),
//!     slug: "production".into(),
//!     description: Some("Prod traffic".into()),
//!     ..Default::default()
//! })?;
//! // Patch semantics: absent keeps, Clear (null) clears, Set sets.
//! let ws = gates.workspace_update(&admin, "production", WorkspacePatch {
//!     description: Patch::Clear,
//!     ..Default::default()
//! })?;
//! assert_eq!(ws.description, None);
//!
//! let created = gates.key_create(&admin, NewKey {
//!     name: "ci".into(),
//!     workspace: ws.slug.clone(),
//!     ..Default::default()
//! })?;
//! // The secret is shown once (a replayed idempotent create returns `None`).
//! let secret = created.key.as_deref().expect("a first create returns the secret");
//! // The data plane verifies secrets from an in-memory snapshot.
//! assert_eq!(gates.verify_key(secret)?.workspace_id, ws.id);
//!
//! // A workspace with active keys cannot be deleted; nothing changes.
//! let err = gates.workspace_delete(&admin, "production").unwrap_err();
//! assert_eq!(err.kind().code(), "failed_precondition");
//! gates.key_delete(&admin, &created.data.id.to_string())?;
//! gates.workspace_delete(&admin, "production")?;
//! assert_eq!(gates.workspace_list(&admin, Page::default())?.total_count, 1);
//!
//! // Routing: a provider endpoint, ordered rules, then resolution from the snapshot.
//! use modelgates::{MatcherType, NewMuxRule, NewProvider, ProviderType, RequestKind, Secret};
//! gates.provider_add(&admin, NewProvider {
//!     name: "openai-prod".into(),
//!     description: None,
//!     provider_type: ProviderType::Openai,   // default endpoint https://api.openai.com/v1
//!     endpoint: None,
//!     auth_type: None,                       // api_key, since a key is given
//!     api_key: Some(Secret::new("sk-…")),    // write-only: reads say has_api_key
//! })?;
//! let rule = |model: &str, ty, glob: Option<&str>| NewMuxRule {
//!     provider: "openai-prod".into(),
//!     provider_type: None,
//!     model: model.into(),
//!     matcher_type: ty,
//!     matcher: glob.map(Into::into),
//! };
//! gates.workspace_mux_set(&admin, Some("default"), &[
//!     rule("gpt-5-mini", MatcherType::FimFilename, Some("*.py")),
//!     rule("gpt-5", MatcherType::CatchAll, None),
//! ], None)?;
//! let ws = gates.workspace_get(&admin, "default")?;
//! let route = gates.snapshot().route(admin.account, ws.id, RequestKind::Fim, &["src/app.py"])?;
//! assert_eq!((route.rule_index, &*route.model), (Some(0), "gpt-5-mini"));
//! assert_eq!(route.provider.endpoint, "https://api.openai.com/v1");
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod access;
mod account;
mod api_key;
mod audit;
mod bundle;
mod catalog;
mod check;
mod clock;
mod codec;
mod error;
mod glob;
mod handle;
mod idempotency;
mod ids;
mod member;
mod memory;
mod message;
mod model;
mod open;
mod patch;
mod persona;
mod provider;
mod record;
mod routing;
mod schema;
mod secrets;
mod snapshot;
mod storage;
mod tx;
mod usage;
mod validate;
mod workspace;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

pub use account::{Account, Bootstrap};
pub use api_key::{ApiKey, CreatedKey, KeyFilter, KeyKind, KeyPatch, NewKey, SECRET_PREFIX};
pub use audit::{
    AUDIT_PAGE_DEFAULT, AUDIT_PAGE_MAX, AUDIT_RETENTION_MAX_DAYS, AUDIT_SCAN_MAX, AuditAction,
    AuditActor, AuditChange, AuditEvent, AuditFilter, AuditPage, AuditTarget, FieldChange,
    Frontend,
};
pub use bundle::{
    ApplyOptions, Bundle, BundleConflict, BundleKind, BundleModel, BundlePersona, BundlePlan,
    BundleProvider, BundleRule, BundleWorkspace, EnvSecrets, PlanAction, PlannedChange, Removal,
    SecretRef, SecretSource, provider_key_env,
};
pub use catalog::{Catalog, CatalogModel};
pub use check::CheckReport;
pub use clock::{Clock, ManualClock, SystemClock};
pub use codec::{KeyPart, VALUE_FORMAT_VERSION, encode_key, prefix_successor};
pub use error::{Error, ErrorKind, Reason, Result};
pub use handle::{Caller, IdempotencyKey, ModelGates};
pub use idempotency::{IDEMPOTENCY_KEY_MAX, IDEMPOTENCY_WINDOW_HOURS, check_idempotency_key};
pub use ids::{
    AccountId, AuditId, KeyId, MembershipId, ModelId, PersonaId, ProviderId, UsageId, UserId,
    WorkspaceId,
};
pub use member::{Member, MemberPatch, NewMember, OrgRole};
pub use memory::MemoryStore;
pub use message::{
    AlertEntry, AlertsPage, AlertsSummary, ChatMessage, Conversation, MessageFilter,
    MessageSummary, MessagesPage, QuestionAnswer, TokenUsageAgg,
};
pub use model::{
    CATALOG_BUNDLE, Model, ModelFilter, ModelOutput, ModelSpec, ModelStatus, NewModel,
    ResourceMetadata,
};
pub use open::Options;
pub use patch::Patch;
pub use persona::{Persona, PersonaPatch, SIMILARITY_THRESHOLD, description_similarity};
pub use provider::{
    AuthType, NewProvider, Provider, ProviderDeleted, ProviderPatch, ProviderType, Secret,
};
pub use routing::{
    INSTRUCTIONS_MAX, Instructions, MUX_RULES_MAX, MatcherType, MuxRule, MuxRules, NewMuxRule,
    ROUTE_FILES_MAX, RemovedRule, RequestKind, Route, RouteProvider, RouteSource, UnreachableRule,
    Upstream,
};
pub use schema::{SCHEMA_VERSION, storage_tables};
pub use secrets::{Finding, detect as detect_secrets, redact as redact_secrets};
pub use snapshot::{Snapshot, VerifiedKey};
pub use storage::{
    Entry, ReadTxn, Storage, StorageError, StorageResult, TableName, Wake, WriteTxn,
};
pub use usage::{
    Alert, AlertCategory, CodeSnippet, Cost, Counters, Expired, INLINE_PURGE_MAX, KeyUsage,
    Message, ModelUsage, NewConversation, NewUsage, Recorded, TokenUsage, USAGE_BATCH_MAX,
    USAGE_SERIES_BUCKETS_MAX, UsageBucket, UsageInterval, UsageRecord, UsageSeries, UsageTotals,
};
pub use validate::{BULK_MAX, PAGE_DEFAULT_LIMIT, PAGE_MAX_LIMIT, Page, Paged, SLUG_MAX};
pub use workspace::{
    BulkAdded, BulkRemoved, NewWorkspace, ProviderSort, Workspace, WorkspaceFilter,
    WorkspaceMember, WorkspacePatch, WorkspaceRole, WorkspaceSel,
};
