//! Bundles: the declarative configuration documents `bundle_plan` / `bundle_apply` take and
//! `bundle_export` writes, the plans computed from them, and the stamp that records which
//! bundle manages a resource.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::record::audit::FieldChange;
use crate::record::model::{ModelOutput, ModelStatus};
use crate::record::provider::{AuthType, ProviderType};
use crate::record::routing::MatcherType;
use crate::record::workspace::ProviderSort;

/// A configuration bundle: the resources one bundle key manages in an account, declared in
/// full. YAML or JSON (`Bundle::parse`). What a managed resource does not declare takes its
/// default; what the bundle managed before and no longer declares is removed on apply (see
/// [`Removal`] for how, per kind).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// The bundle key (a slug: 1-64 of `a-z`, `0-9`, `-`): every resource the bundle creates
    /// or adopts is stamped with it.
    pub bundle: String,
    /// Provider endpoints of the account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<BundleProvider>,
    /// Personas of the account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub personas: Vec<BundlePersona>,
    /// Workspaces, with their settings, instructions, rules, members and models.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<BundleWorkspace>,
}

/// Where a provider's API key comes from: never the key itself. Written `{env: NAME}` or
/// `{file: PATH}`.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schemars", schemars(with = "SecretRefRepr"))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SecretRefRepr", into = "SecretRefRepr")]
pub enum SecretRef {
    /// An environment variable of the process that applies the bundle (`{env: OPENAI_KEY}`).
    Env(String),
    /// A file (its content, surrounding whitespace trimmed); only the command line reads files.
    File(String),
}

/// The written form of a [`SecretRef`]: exactly one of `env` and `file`.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretRefRepr {
    /// An environment variable of the process that applies the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    env: Option<String>,
    /// A file (read only by the command line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<String>,
}

impl TryFrom<SecretRefRepr> for SecretRef {
    type Error = &'static str;

    fn try_from(r: SecretRefRepr) -> Result<Self, Self::Error> {
        match (r.env, r.file) {
            (Some(e), None) => Ok(Self::Env(e)),
            (None, Some(f)) => Ok(Self::File(f)),
            _ => Err("a secret reference is {env: NAME} or {file: PATH}, exactly one of the two"),
        }
    }
}

impl From<SecretRef> for SecretRefRepr {
    fn from(r: SecretRef) -> Self {
        match r {
            SecretRef::Env(e) => Self {
                env: Some(e),
                file: None,
            },
            SecretRef::File(f) => Self {
                env: None,
                file: Some(f),
            },
        }
    }
}

/// A provider endpoint of a bundle.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleProvider {
    /// Name (3-64 chars), unique in the account case-insensitively.
    pub name: String,
    /// Description (default empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The kind of provider.
    pub provider_type: ProviderType,
    /// Absolute http(s) URL; default: the type's default endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Default: `api_key` when `api_key` is given, `none` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<AuthType>,
    /// The API key, by reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<SecretRef>,
}

/// A persona of a bundle.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundlePersona {
    /// Name, unique in the account.
    pub name: String,
    /// Description.
    pub description: String,
}

/// A mux rule of a bundle workspace (the provider by name).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleRule {
    /// The provider, by name.
    pub provider: String,
    /// The model (`provider/family` of the workspace catalog, or a family of the provider).
    pub model: String,
    /// The kind of matcher.
    pub matcher_type: MatcherType,
    /// The glob for the filename kinds; none for `catch_all`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matcher: Option<String>,
}

/// A custom model of a bundle workspace.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleModel {
    /// Provider slug (`vllm`, `ollama`, …).
    pub provider: String,
    /// Family (`qwen2.5-coder-32b`).
    pub family: String,
    /// Cents per million input tokens (default `"0"`).
    #[serde(default = "zero", skip_serializing_if = "is_zero")]
    pub input_price_per_million_tokens: String,
    /// Cents per million output tokens (default `"0"`).
    #[serde(default = "zero", skip_serializing_if = "is_zero")]
    pub output_price_per_million_tokens: String,
    /// Maximum input tokens.
    pub max_input_tokens: u32,
    /// Maximum output tokens.
    pub max_output_tokens: u32,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// An id in an external system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Default enabled.
    #[serde(default = "enabled", skip_serializing_if = "is_enabled")]
    pub status: ModelStatus,
    /// What it produces (default text).
    #[serde(default, skip_serializing_if = "is_text")]
    pub output: ModelOutput,
    /// Cents per generated image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_price_per_image: Option<String>,
}

fn zero() -> String {
    "0".to_owned()
}
fn is_zero(s: &str) -> bool {
    s == "0"
}
fn enabled() -> ModelStatus {
    ModelStatus::Enabled
}
fn is_enabled(s: &ModelStatus) -> bool {
    *s == ModelStatus::Enabled
}
fn is_text(o: &ModelOutput) -> bool {
    *o == ModelOutput::default()
}
fn is_true(b: &bool) -> bool {
    *b
}
fn is_false(b: &bool) -> bool {
    !*b
}
fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}
fn is_one(v: &f64) -> bool {
    *v == 1.0
}

/// A workspace of a bundle, identified by its slug. Every setting not given takes the
/// default a new workspace has (`io_logging_api_key_ids` is not managed by bundles: keys are
/// not configuration).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleWorkspace {
    /// Slug, unique in the account.
    pub slug: String,
    /// Display name (1-100 chars).
    pub name: String,
    /// Description (≤ 500 chars).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default text model (`provider/model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_text_model: Option<String>,
    /// Default image model (`provider/model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_image_model: Option<String>,
    /// Default provider sort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_provider_sort: Option<ProviderSort>,
    /// Share of requests whose I/O is logged (default 1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub io_logging_sampling_rate: f64,
    /// Default true.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub is_data_discount_logging_enabled: bool,
    /// Default false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_observability_broadcast_enabled: bool,
    /// Default false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_observability_io_logging_enabled: bool,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Days raw usage is kept (default forever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_retention_days: Option<u32>,
    /// Custom instructions (the system prompt a gateway injects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_instructions: Option<String>,
    /// Mux rules, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mux_rules: Vec<BundleRule>,
    /// Members (organization user ids). Memberships that exist without the bundle (the
    /// workspace's creator, members added by hand) are left alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Custom models.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<BundleModel>,
    /// Statuses of catalog models (`provider/family` → status), where not the default.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub model_status: BTreeMap<String, ModelStatus>,
}

impl BundleWorkspace {
    /// A workspace with every setting at its default.
    pub fn new(slug: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            slug: slug.into(),
            name: name.into(),
            description: None,
            default_text_model: None,
            default_image_model: None,
            default_provider_sort: None,
            io_logging_sampling_rate: 1.0,
            is_data_discount_logging_enabled: true,
            is_observability_broadcast_enabled: false,
            is_observability_io_logging_enabled: false,
            labels: BTreeMap::new(),
            usage_retention_days: None,
            custom_instructions: None,
            mux_rules: Vec::new(),
            members: Vec::new(),
            models: Vec::new(),
            model_status: BTreeMap::new(),
        }
    }
}

/// The kinds of resource a bundle manages.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BundleKind {
    /// A provider endpoint (`name`).
    Provider,
    /// A persona (`name`).
    Persona,
    /// A workspace (`slug`), with its settings, instructions and rules.
    Workspace,
    /// A workspace membership (`slug/user_id`).
    Member,
    /// A custom model (`slug/provider/family`).
    Model,
    /// A catalog model's status in a workspace (`slug/provider/family`).
    ModelStatus,
}

impl BundleKind {
    /// The wire name (`model_status`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::Persona => "persona",
            Self::Workspace => "workspace",
            Self::Member => "member",
            Self::Model => "model",
            Self::ModelStatus => "model_status",
        }
    }
}

/// What a plan does to a resource.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanAction {
    /// Created and stamped with the bundle key.
    Create,
    /// Changed field by field (and stamped, when adopted).
    Update,
    /// No longer declared: removed as [`Removal`] says.
    Remove,
}

/// How a resource the bundle no longer declares is removed, per kind.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Removal {
    /// Workspaces are archived, not deleted: their usage history and keys stay, and
    /// declaring the workspace again restores it.
    Archive,
    /// Providers (refused while a rule outside the bundle names them), personas, custom
    /// models and memberships are deleted.
    Delete,
    /// A catalog model's status goes back to enabled (catalog models cannot be deleted).
    Reset,
    /// The account's default or active workspace cannot be archived: it is left as it is,
    /// and the bundle no longer manages it.
    Release,
}

/// One change of a plan.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedChange {
    /// Create, update or remove.
    pub action: PlanAction,
    /// The kind of resource.
    pub kind: BundleKind,
    /// Its name (`prod`, `openai-prod`, `prod/user_1`, `prod/vllm/qwen`).
    pub name: String,
    /// Field by field, before → after (secrets only as `secret: true`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, FieldChange>,
    /// How a removal is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal: Option<Removal>,
    /// Why, where it needs saying (an adopted resource, a restored workspace, a replaced model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A resource the bundle declares that it does not manage: created by hand or managed by
/// another bundle. Apply refuses while there is one, unless told to adopt them.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleConflict {
    /// The kind of resource.
    pub kind: BundleKind,
    /// Its name.
    pub name: String,
    /// The bundle that manages it; `None` = created by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// The difference between a bundle and the database.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundlePlan {
    /// The bundle key.
    pub bundle: String,
    /// `sha256:…` of this plan's changes and conflicts (and of the provider keys it read):
    /// pass it to apply as `expected` so that apply refuses if what it would do now is not
    /// what was reviewed.
    pub fingerprint: String,
    /// The changes, providers and personas first, then workspaces with what they hold, then
    /// removals.
    pub changes: Vec<PlannedChange>,
    /// Resources declared but not managed by this bundle.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<BundleConflict>,
    /// Whether the plan was applied (always false for `bundle_plan`).
    pub applied: bool,
}

impl BundlePlan {
    /// True when applying changes nothing and nothing conflicts.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.conflicts.is_empty()
    }

    /// The plan for people and models: one line a change, `+` create, `~` update, `-`
    /// remove, `!` conflict, fields indented below with `before -> after`.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let (mut c, mut u, mut r) = (0, 0, 0);
        for ch in &self.changes {
            let sign = match ch.action {
                PlanAction::Create => {
                    c += 1;
                    "+"
                }
                PlanAction::Update => {
                    u += 1;
                    "~"
                }
                PlanAction::Remove => {
                    r += 1;
                    "-"
                }
            };
            let _ = write!(out, "{sign} {} {}", ch.kind.as_str(), ch.name);
            if let Some(how) = ch.removal {
                let how = match how {
                    Removal::Archive => "archive",
                    Removal::Delete => "delete",
                    Removal::Reset => "reset to enabled",
                    Removal::Release => "released, left as it is",
                };
                let _ = write!(out, " ({how})");
            }
            if let Some(note) = &ch.note {
                let _ = write!(out, "  # {note}");
            }
            out.push('\n');
            for (field, change) in &ch.fields {
                let show = |v: &Option<serde_json::Value>| match v {
                    None => "(none)".to_owned(),
                    Some(v) => v.to_string(),
                };
                if change.secret {
                    let _ = writeln!(out, "    {field}: (secret changed)");
                } else {
                    let _ = writeln!(
                        out,
                        "    {field}: {} -> {}",
                        show(&change.before),
                        show(&change.after)
                    );
                }
            }
        }
        for k in &self.conflicts {
            let who = match &k.owner {
                Some(b) => format!("managed by bundle {b:?}"),
                None => "created outside any bundle".to_owned(),
            };
            let _ = writeln!(
                out,
                "! {} {} is {who}; apply refuses unless told to adopt it",
                k.kind.as_str(),
                k.name
            );
        }
        let _ = write!(
            out,
            "bundle {:?}: {c} to create, {u} to update, {r} to remove, {} conflict{}{}",
            self.bundle,
            self.conflicts.len(),
            if self.conflicts.len() == 1 { "" } else { "s" },
            if self.applied { " (applied)" } else { "" }
        );
        if self.is_empty() {
            out.push_str("; nothing to do");
        }
        out.push('\n');
        out
    }
}

/// How `ModelGates::bundle_apply` runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    /// The fingerprint of a reviewed plan: apply refuses (`conflict` on `expected`) if the
    /// plan it computes now differs.
    pub expected: Option<String>,
    /// Take over declared resources that were created by hand or belong to another bundle.
    pub adopt: bool,
}

/// The stamp of a resource a bundle manages (table `BUNDLE_STAMPS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BundleStamp {
    /// The bundle key.
    pub(crate) bundle: String,
    /// The kind of resource (`workspace`), as in the key.
    pub(crate) kind: String,
    /// The resource's id, as in the key.
    pub(crate) id: String,
}
