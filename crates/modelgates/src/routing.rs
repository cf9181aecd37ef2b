//! Mux rules, custom instructions and the routing engine (seed 004): each workspace's ordered
//! rule list picks a provider and model for a request; the compiled form (precompiled glob sets)
//! lives in the data-plane snapshot and answers `resolve` without touching the store.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::account::Account;
use crate::error::{Error, Result};
use crate::gates::{Caller, ModelGates, Tx};
use crate::ids::{AccountId, ProviderId, WorkspaceId};
use crate::model::{self, ModelStatus};
use crate::provider::{self, AuthType, Provider, ProviderRecord, ProviderType, ProviderUse};
use crate::schema::{ACCOUNTS, PROVIDER_USES, PROVIDERS, WORKSPACE_CONFIG, WORKSPACES};
use crate::snapshot::RoutingChange;
use crate::storage::ReadTxn;
use crate::validate::{self, excerpt};
use crate::workspace::{self, Workspace};

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

/// One rule of [`ModelGates::workspace_mux_set`].
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Problems that do not block the change (rules after a `catch_all` are unreachable).
    pub warnings: Vec<String>,
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

/// Most rules a workspace may have.
pub const MUX_RULES_MAX: usize = 500;
/// Longest glob of a rule, in bytes.
const MATCHER_MAX: usize = 1024;
/// Longest custom instructions text, in bytes (64 KiB).
pub const INSTRUCTIONS_MAX: usize = 64 * 1024;
/// Most files a routed request may name.
pub const ROUTE_FILES_MAX: usize = 1000;

/// Compiles one glob with ModelGates' semantics: `*`, `?` and `[…]` never cross `/`; `**`
/// spans directories; case-sensitive.
pub(crate) fn compile_glob(field: &str, pattern: &str) -> Result<globset::Glob> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| {
            Error::invalid(
                field,
                format!("{:?} is not a valid glob: {}", excerpt(pattern), e.kind()),
            )
        })
}

/// Whether a pattern is matched against the whole path (it has a `/`) or the base name.
fn is_path_pattern(pattern: &str) -> bool {
    pattern.contains('/')
}

/// Checks what can be checked without the store: matcher presence and glob syntax. Returns the
/// normalized matcher of each rule.
fn check_rules_shape(field: &str, rules: &[NewMuxRule]) -> Result<Vec<Option<String>>> {
    if rules.len() > MUX_RULES_MAX {
        return Err(Error::invalid(
            field,
            format!(
                "{} rules given; at most {MUX_RULES_MAX} are allowed",
                rules.len()
            ),
        ));
    }
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let f = format!("{field}[{i}].matcher");
            let matcher = r.matcher.as_deref().filter(|m| !m.is_empty());
            match (r.matcher_type, matcher) {
                (MatcherType::CatchAll, None) => Ok(None),
                (MatcherType::CatchAll, Some(m)) => Err(Error::invalid(
                    f,
                    format!(
                        "catch_all takes no matcher, got {:?}; use filename_match to match files",
                        excerpt(m)
                    ),
                )),
                (ty, None) => Err(Error::invalid(
                    f,
                    format!(
                        "required for {}: a glob such as *.py or src/**/*.rs",
                        ty.as_str()
                    ),
                )),
                (_, Some(m)) => {
                    if m.len() > MATCHER_MAX {
                        return Err(Error::invalid(
                            f,
                            format!(
                                "{:?} is {} bytes; at most {MATCHER_MAX} are allowed",
                                excerpt(m),
                                m.len()
                            ),
                        ));
                    }
                    compile_glob(&f, m)?;
                    crate::glob::Glob::new(m).map_err(|why| {
                        Error::invalid(
                            f.clone(),
                            format!("{:?} is not accepted: {why}", excerpt(m)),
                        )
                    })?;
                    Ok(Some(m.to_owned()))
                }
            }
        })
        .collect()
}

/// Warnings for rules no request can reach (after a `catch_all`).
fn unreachable_warnings(rules: &[StoredRule]) -> Vec<String> {
    match rules
        .iter()
        .position(|r| r.matcher_type == MatcherType::CatchAll)
    {
        Some(at) if at + 1 < rules.len() => vec![format!(
            "rules {}..{} come after the catch_all rule #{at} and can never match",
            at + 1,
            rules.len() - 1
        )],
        _ => Vec::new(),
    }
}

/// The workspace model a rule names, for `provider`: a family registered for the provider
/// (under its name or type), else a `provider/family` reference. Must be enabled.
fn rule_model_ref(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: &Workspace,
    p: &Provider,
    field: &str,
    model: &str,
) -> Result<String> {
    let prefixes = [p.name.as_str(), p.provider_type.as_str()];
    let Some(m) = model::for_provider(txn, account, ws, &prefixes, model)? else {
        return Err(Error::invalid(
            field,
            format!(
                "model {:?} is not in the catalog of workspace {:?} for provider {:?}: use a \
                 provider/family from model_list, or register it with model_register (provider \
                 {:?} or {:?})",
                excerpt(model),
                ws.slug,
                p.name,
                p.name,
                p.provider_type.as_str()
            ),
        ));
    };
    if m.spec.status != ModelStatus::Enabled {
        return Err(Error::precondition(
            "MODEL_DISABLED",
            format!(
                "{field}: model {} is disabled in workspace {:?}; enable it with model_set_status \
                 first",
                m.reference(),
                ws.slug
            ),
        ));
    }
    Ok(m.reference())
}

/// Validates `rules` against the store (providers exist, models enabled) and returns them in
/// stored form. Nothing is written.
pub(crate) fn check_rules(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: &Workspace,
    field: &str,
    rules: &[NewMuxRule],
) -> Result<Vec<StoredRule>> {
    let matchers = check_rules_shape(field, rules)?;
    let mut providers: HashMap<String, ProviderRecord> = HashMap::new();
    let mut out = Vec::with_capacity(rules.len());
    for (i, (r, matcher)) in rules.iter().zip(matchers).enumerate() {
        let pf = format!("{field}[{i}].provider");
        let record = match providers.get(&r.provider) {
            Some(p) => p.clone(),
            None => {
                let p = provider::resolve(txn, account, &pf, &r.provider).map_err(|e| match e {
                    Error::NotFound { .. } => Error::invalid(
                        &pf,
                        format!(
                            "no provider {:?} in this account; add it with provider_add",
                            excerpt(&r.provider)
                        ),
                    ),
                    e => e,
                })?;
                providers.insert(r.provider.clone(), p.clone());
                p
            }
        };
        let p = &record.provider;
        if let Some(ty) = r.provider_type
            && ty != p.provider_type
        {
            return Err(Error::invalid(
                format!("{field}[{i}].provider_type"),
                format!(
                    "provider {:?} is of type {}, not {}",
                    p.name,
                    p.provider_type.as_str(),
                    ty.as_str()
                ),
            ));
        }
        let model_ref = rule_model_ref(
            txn,
            account,
            ws,
            p,
            &format!("{field}[{i}].model"),
            &r.model,
        )?;
        out.push(StoredRule {
            provider_id: p.id,
            model: r.model.clone(),
            model_ref,
            matcher_type: r.matcher_type,
            matcher,
        });
    }
    Ok(out)
}

pub(crate) fn check_instructions(field: &str, text: &str) -> Result<()> {
    if text.len() > INSTRUCTIONS_MAX {
        return Err(Error::invalid(
            field,
            format!(
                "{} bytes given; at most {INSTRUCTIONS_MAX} (64 KiB) are allowed",
                text.len()
            ),
        ));
    }
    if text.contains('\0') {
        return Err(Error::invalid(field, "contains a NUL character"));
    }
    Ok(())
}

pub(crate) fn load_config(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: WorkspaceId,
) -> Result<WorkspaceConfig> {
    Ok(WORKSPACE_CONFIG
        .get(txn, &(account, ws))?
        .unwrap_or_default())
}

/// Replaces a workspace's rules (already checked), keeping the provider-use index in step.
pub(crate) fn store_rules(
    tx: &mut Tx<'_>,
    account: AccountId,
    ws: WorkspaceId,
    rules: Vec<StoredRule>,
) -> Result<WorkspaceConfig> {
    let mut config = load_config(&*tx, account, ws)?;
    let count = |rules: &[StoredRule]| {
        let mut m: BTreeMap<ProviderId, u32> = BTreeMap::new();
        for r in rules {
            *m.entry(r.provider_id).or_default() += 1;
        }
        m
    };
    let before = count(&config.mux_rules);
    let after = count(&rules);
    for p in before.keys() {
        if !after.contains_key(p) {
            PROVIDER_USES.delete(&mut *tx, &(account, *p, ws))?;
        }
    }
    for (p, n) in &after {
        if before.get(p) != Some(n) {
            PROVIDER_USES.put(
                &mut *tx,
                &(account, *p, ws),
                &ProviderUse {
                    workspace_id: ws,
                    rules: *n,
                },
            )?;
        }
    }
    config.mux_rules = rules;
    config.mux_revision += 1;
    save_config(tx, account, ws, &config)?;
    Ok(config)
}

pub(crate) fn save_config(
    tx: &mut Tx<'_>,
    account: AccountId,
    ws: WorkspaceId,
    config: &WorkspaceConfig,
) -> Result<()> {
    if config == &WorkspaceConfig::default() {
        WORKSPACE_CONFIG.delete(&mut *tx, &(account, ws))?;
    } else {
        WORKSPACE_CONFIG.put(&mut *tx, &(account, ws), config)?;
    }
    Ok(())
}

/// Deletes a workspace's configuration and its provider uses (with the workspace).
pub(crate) fn delete_config(tx: &mut Tx<'_>, account: AccountId, ws: WorkspaceId) -> Result<()> {
    store_rules(tx, account, ws, Vec::new())?;
    WORKSPACE_CONFIG.delete(tx, &(account, ws))?;
    Ok(())
}

/// One rule that uses a provider.
#[derive(Debug, Clone)]
pub(crate) struct RuleUse {
    pub(crate) workspace_slug: String,
    pub(crate) rule_index: usize,
}

/// Every rule of the account that names provider `id`, in workspace then rule order.
pub(crate) fn rules_using(
    txn: &dyn ReadTxn,
    account: AccountId,
    id: ProviderId,
) -> Result<Vec<RuleUse>> {
    let mut out = Vec::new();
    for ws in provider::users(txn, account, id)? {
        let Some(w) = WORKSPACES.get(txn, &(account, ws))? else {
            continue;
        };
        for (i, r) in load_config(txn, account, ws)?.mux_rules.iter().enumerate() {
            if r.provider_id == id {
                out.push(RuleUse {
                    workspace_slug: w.slug.clone(),
                    rule_index: i,
                });
            }
        }
    }
    Ok(out)
}

/// Removes every rule naming provider `id` (cascade delete) and reports them.
pub(crate) fn remove_provider_rules(
    tx: &mut Tx<'_>,
    account: AccountId,
    id: ProviderId,
) -> Result<Vec<RemovedRule>> {
    let mut removed = Vec::new();
    for ws in provider::users(&*tx, account, id)? {
        let Some(w) = WORKSPACES.get(&*tx, &(account, ws))? else {
            continue;
        };
        let config = load_config(&*tx, account, ws)?;
        let mut kept = Vec::with_capacity(config.mux_rules.len());
        for (i, r) in config.mux_rules.into_iter().enumerate() {
            if r.provider_id == id {
                removed.push(RemovedRule {
                    workspace_id: ws,
                    workspace_slug: w.slug.clone(),
                    rule_index: i,
                    model: r.model,
                    matcher_type: r.matcher_type,
                    matcher: r.matcher,
                });
            } else {
                kept.push(r);
            }
        }
        store_rules(tx, account, ws, kept)?;
    }
    Ok(removed)
}

/// The rules of a workspace as clients see them (provider names as of now).
fn rule_views(txn: &dyn ReadTxn, account: AccountId, rules: &[StoredRule]) -> Result<Vec<MuxRule>> {
    let mut names: HashMap<ProviderId, (String, ProviderType)> = HashMap::new();
    rules
        .iter()
        .map(|r| {
            let (name, ty) = match names.get(&r.provider_id) {
                Some(v) => v.clone(),
                None => {
                    let p = PROVIDERS
                        .get(txn, &(account, r.provider_id))?
                        .ok_or_else(|| {
                            Error::Corrupt(format!(
                                "a mux rule names provider {}, which does not exist",
                                r.provider_id
                            ))
                        })?
                        .provider;
                    names.insert(p.id, (p.name.clone(), p.provider_type));
                    (p.name, p.provider_type)
                }
            };
            Ok(MuxRule {
                provider_name: name,
                provider_id: r.provider_id,
                provider_type: ty,
                model: r.model.clone(),
                model_ref: r.model_ref.clone(),
                matcher_type: r.matcher_type,
                matcher: r.matcher.clone(),
            })
        })
        .collect()
}

fn mux_rules(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: WorkspaceId,
    config: &WorkspaceConfig,
) -> Result<MuxRules> {
    Ok(MuxRules {
        workspace_id: ws,
        rules: rule_views(txn, account, &config.mux_rules)?,
        revision: config.mux_revision,
        warnings: unreachable_warnings(&config.mux_rules),
    })
}

// ---------------------------------------------------------------------------------------------
// The compiled, data-plane form.

/// One rule, compiled.
#[derive(Debug, Clone, PartialEq)]
struct CompiledRule {
    provider_id: ProviderId,
    model: Arc<str>,
    model_ref: Arc<str>,
    matcher_type: MatcherType,
    matcher: Option<Arc<str>>,
}

/// One rule's glob, compiled, with literal prefix and suffix for a cheap pre-check: most globs
/// reject most paths on a `starts_with`/`ends_with` without running their matcher.
#[derive(Debug)]
struct CompiledGlob {
    rule: usize,
    /// Matched against the base name (the pattern has no `/`), else the whole path.
    basename: bool,
    prefix: Box<str>,
    suffix: Box<str>,
    matcher: Matcher,
}

/// How a stored glob is matched: by the bounded matcher of [`crate::glob`], or, for a glob
/// stored before its bounds existed that exceeds them, by `globset` as before.
#[derive(Debug)]
enum Matcher {
    Bounded(crate::glob::Glob),
    Legacy(GlobMatcher),
}

/// Characters after which nothing of a glob is literal.
fn is_meta(c: char) -> bool {
    matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\')
}

impl CompiledGlob {
    fn new(rule: usize, pattern: &str) -> Result<Self> {
        let glob = compile_glob("matcher", pattern)
            .map_err(|e| Error::Corrupt(format!("stored mux rule #{rule}: {e}")))?;
        let prefix = pattern.find(is_meta).map_or(pattern, |at| &pattern[..at]);
        // The suffix comes from the last path segment only: `**/` may match zero directories.
        let last = pattern.rsplit('/').next().unwrap_or(pattern);
        let suffix = last.rfind(is_meta).map_or(last, |at| &last[at + 1..]);
        Ok(Self {
            rule,
            basename: !is_path_pattern(pattern),
            prefix: prefix.into(),
            suffix: suffix.into(),
            matcher: match crate::glob::Glob::new(pattern) {
                Ok(g) => Matcher::Bounded(g),
                Err(why) => {
                    tracing::warn!(rule, pattern, %why, "a stored mux rule glob exceeds the matcher's bounds; matching it with globset");
                    Matcher::Legacy(glob.compile_matcher())
                }
            },
        })
    }

    fn is_match(&self, path: &str, base: &str) -> bool {
        let target = if self.basename { base } else { path };
        bytes_start_with(target.as_bytes(), self.prefix.as_bytes())
            && bytes_end_with(target.as_bytes(), self.suffix.as_bytes())
            && match &self.matcher {
                Matcher::Bounded(g) => g.is_match(target),
                Matcher::Legacy(m) => m.is_match(target),
            }
    }
}

// Byte loops, not `starts_with`: these strings are a few bytes long, and a `memcmp` call per
// check cost ~40 ns each on the benchmark machine (docs/benchmarks.md).
fn bytes_start_with(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s.iter().zip(prefix).all(|(a, b)| a == b)
}

fn bytes_end_with(s: &[u8], suffix: &[u8]) -> bool {
    s.len() >= suffix.len() && s.iter().rev().zip(suffix.iter().rev()).all(|(a, b)| a == b)
}

/// A workspace's rules, compiled: per request kind, the globs of the rules that apply to it
/// and come before the first `catch_all` (later rules can never win), in rule order.
#[derive(Debug)]
pub(crate) struct CompiledWorkspace {
    slug: Arc<str>,
    archived: bool,
    rules: Vec<CompiledRule>,
    first_catch_all: Option<usize>,
    chat: Vec<CompiledGlob>,
    fim: Vec<CompiledGlob>,
    default_text_model: Option<Arc<str>>,
    custom_instructions: bool,
}

/// Equal when compiled from the same stored state (the glob lists are derived from `rules`).
impl PartialEq for CompiledWorkspace {
    fn eq(&self, other: &Self) -> bool {
        self.slug == other.slug
            && self.archived == other.archived
            && self.rules == other.rules
            && self.default_text_model == other.default_text_model
            && self.custom_instructions == other.custom_instructions
    }
}

impl CompiledWorkspace {
    /// Compiles a workspace's stored state.
    pub(crate) fn compile(ws: &Workspace, config: &WorkspaceConfig) -> Result<Self> {
        let rules: Vec<CompiledRule> = config
            .mux_rules
            .iter()
            .map(|r| CompiledRule {
                provider_id: r.provider_id,
                model: r.model.as_str().into(),
                model_ref: r.model_ref.as_str().into(),
                matcher_type: r.matcher_type,
                matcher: r.matcher.as_deref().map(Into::into),
            })
            .collect();
        let first_catch_all = rules
            .iter()
            .position(|r| r.matcher_type == MatcherType::CatchAll);
        let reachable = first_catch_all.unwrap_or(rules.len());
        let globs = |kind: RequestKind| -> Result<Vec<CompiledGlob>> {
            rules
                .iter()
                .enumerate()
                .take(reachable)
                .filter(|(_, r)| r.matcher_type.applies_to(kind))
                .filter_map(|(i, r)| r.matcher.as_deref().map(|m| CompiledGlob::new(i, m)))
                .collect()
        };
        Ok(Self {
            slug: ws.slug.as_str().into(),
            archived: ws.archived_at.is_some(),
            chat: globs(RequestKind::Chat)?,
            fim: globs(RequestKind::Fim)?,
            first_catch_all,
            rules,
            default_text_model: ws.default_text_model.as_deref().map(Into::into),
            custom_instructions: config.custom_instructions.is_some(),
        })
    }

    /// The index of the first rule matching a request, if any: globs in rule order, each
    /// against every file, stopping at the first match.
    fn first_match(&self, kind: RequestKind, files: &[impl AsRef<str>]) -> Option<usize> {
        let globs = match kind {
            RequestKind::Chat => &self.chat,
            RequestKind::Fim => &self.fim,
        };
        if !globs.is_empty() && !files.is_empty() {
            let mut one = [(std::borrow::Cow::Borrowed(""), 0usize)];
            let mut many = Vec::new();
            let normalized: &mut [(std::borrow::Cow<'_, str>, usize)] = if files.len() == 1 {
                one[0] = normalize(files[0].as_ref());
                &mut one
            } else {
                many.extend(files.iter().map(|f| normalize(f.as_ref())));
                &mut many
            };
            for g in globs {
                for (path, base_at) in normalized.iter() {
                    if g.is_match(path, &path[*base_at..]) {
                        return Some(g.rule);
                    }
                }
            }
        }
        self.first_catch_all
    }
}

/// A request path with `\\` read as `/` and a leading `./` dropped, and where its base name
/// starts.
fn normalize(file: &str) -> (std::borrow::Cow<'_, str>, usize) {
    let mut path = if file.contains('\\') {
        std::borrow::Cow::Owned(file.replace('\\', "/"))
    } else {
        std::borrow::Cow::Borrowed(file)
    };
    if path.starts_with("./") {
        path = match path {
            std::borrow::Cow::Borrowed(p) => std::borrow::Cow::Borrowed(&p[2..]),
            std::borrow::Cow::Owned(p) => std::borrow::Cow::Owned(p[2..].to_owned()),
        };
    }
    let base_at = path.rfind('/').map_or(0, |at| at + 1);
    (path, base_at)
}

/// The providers of one account, as the data plane sees them (oldest first).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct AccountProviders {
    by_id: BTreeMap<ProviderId, Arc<RouteProvider>>,
}

/// The routing half of the snapshot: compiled workspaces and providers, in persistent maps so a
/// change copies only the path to what changed.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Routing {
    workspaces: imbl::HashMap<(AccountId, WorkspaceId), Arc<CompiledWorkspace>>,
    providers: imbl::HashMap<AccountId, Arc<AccountProviders>>,
}

pub(crate) fn route_provider(p: &Provider, has_api_key: bool) -> RouteProvider {
    RouteProvider {
        id: p.id,
        name: p.name.clone(),
        provider_type: p.provider_type,
        endpoint: p.endpoint.clone(),
        auth_type: p.auth_type,
        has_api_key,
    }
}

impl Routing {
    /// Builds the routing state of every account from the store.
    pub(crate) fn load(txn: &dyn ReadTxn) -> Result<Self> {
        let mut routing = Self::default();
        for account in ACCOUNTS.values_with_prefix(txn, &())? {
            let account: Account = account;
            let account = account.id;
            for record in PROVIDERS.values_with_prefix(txn, &(account,))? {
                let record: ProviderRecord = record;
                routing.apply(RoutingChange::Provider(
                    account,
                    record.provider.id,
                    Some(Arc::new(route_provider(
                        &record.provider,
                        record.api_key.is_some(),
                    ))),
                ));
            }
            let configs: HashMap<Vec<u8>, WorkspaceConfig> = WORKSPACE_CONFIG
                .scan_prefix(txn, &(account,))?
                .into_iter()
                .collect();
            for ws in WORKSPACES.values_with_prefix(txn, &(account,))? {
                let ws: Workspace = ws;
                let key = WORKSPACE_CONFIG.key_bytes(&(account, ws.id));
                let config = configs.get(&key).cloned().unwrap_or_default();
                routing.workspaces.insert(
                    (account, ws.id),
                    Arc::new(CompiledWorkspace::compile(&ws, &config)?),
                );
            }
        }
        Ok(routing)
    }

    /// Applies one committed change.
    pub(crate) fn apply(&mut self, change: RoutingChange) {
        match change {
            RoutingChange::Workspace(account, ws, Some(compiled)) => {
                self.workspaces.insert((account, ws), compiled);
            }
            RoutingChange::Workspace(account, ws, None) => {
                self.workspaces.remove(&(account, ws));
            }
            RoutingChange::Provider(account, id, entry) => {
                let mut providers = self
                    .providers
                    .get(&account)
                    .map(|p| (**p).clone())
                    .unwrap_or_default();
                match entry {
                    Some(e) => {
                        providers.by_id.insert(id, e);
                    }
                    None => {
                        providers.by_id.remove(&id);
                    }
                }
                self.providers.insert(account, Arc::new(providers));
            }
        }
    }

    /// What differs between this routing state and `want`, one sentence each (at most
    /// `max`).
    pub(crate) fn differences(&self, want: &Self, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        for (key, compiled) in &want.workspaces {
            if self.workspaces.get(key) != Some(compiled) {
                out.push(format!(
                    "the routing snapshot of workspace {} of account {} differs from the store",
                    key.1, key.0
                ));
            }
        }
        for key in self.workspaces.keys() {
            if !want.workspaces.contains_key(key) {
                out.push(format!(
                    "the routing snapshot holds workspace {} of account {}, which the store \
                     does not",
                    key.1, key.0
                ));
            }
        }
        let accounts: BTreeSet<AccountId> = want
            .providers
            .keys()
            .chain(self.providers.keys())
            .copied()
            .collect();
        for account in accounts {
            let got = self.providers.get(&account).map(|p| &p.by_id);
            let wanted = want.providers.get(&account).map(|p| &p.by_id);
            if got.is_none_or(BTreeMap::is_empty) && wanted.is_none_or(BTreeMap::is_empty) {
                continue;
            }
            if got != wanted {
                out.push(format!(
                    "the routing snapshot's providers of account {account} differ from the store"
                ));
            }
        }
        out.truncate(max);
        out
    }

    /// How many workspaces are compiled.
    pub(crate) fn workspace_count(&self) -> usize {
        self.workspaces.len()
    }

    /// Routes a request of workspace `ws`: the first matching rule; else the workspace's
    /// `default_text_model` when a provider serves it; else `failed_precondition` `NO_ROUTE`
    /// listing the rules tried.
    pub(crate) fn resolve(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        kind: RequestKind,
        files: &[impl AsRef<str>],
    ) -> Result<Route> {
        let compiled = self
            .workspaces
            .get(&(account, ws))
            .ok_or_else(|| Error::not_found("workspace", ws.to_string()))?;
        if compiled.archived {
            return Err(Error::precondition(
                "WORKSPACE_ARCHIVED",
                format!(
                    "workspace {:?} is archived and cannot be routed to; restore it with \
                     workspace_restore",
                    compiled.slug
                ),
            ));
        }
        let providers = self.providers.get(&account);
        let provider = |id: &ProviderId| -> Result<Arc<RouteProvider>> {
            providers
                .and_then(|p| p.by_id.get(id))
                .cloned()
                .ok_or_else(|| {
                    Error::internal(format!(
                        "a mux rule names provider {id}, which is not loaded"
                    ))
                })
        };
        if let Some(i) = compiled.first_match(kind, files) {
            let rule = &compiled.rules[i];
            return Ok(Route {
                workspace_id: ws,
                source: RouteSource::Rule,
                rule_index: Some(i),
                provider: provider(&rule.provider_id)?,
                model: rule.model.clone(),
                model_ref: rule.model_ref.clone(),
                custom_instructions: compiled.custom_instructions,
            });
        }
        if let Some(default) = &compiled.default_text_model
            && let Some((prov, family)) = default.split_once('/')
            && let Some(p) = providers.and_then(|ps| serving_provider(ps, prov))
        {
            return Ok(Route {
                workspace_id: ws,
                source: RouteSource::DefaultTextModel,
                rule_index: None,
                provider: p,
                model: family.into(),
                model_ref: default.clone(),
                custom_instructions: compiled.custom_instructions,
            });
        }
        Err(no_route(compiled, providers.map(|p| &**p), kind, files))
    }
}

/// The provider that serves default models of `model_provider` (`openai` in `openai/gpt-5`):
/// one named so, else the oldest of that type.
fn serving_provider(ps: &AccountProviders, model_provider: &str) -> Option<Arc<RouteProvider>> {
    ps.by_id
        .values()
        .find(|p| p.name.eq_ignore_ascii_case(model_provider))
        .or_else(|| {
            ps.by_id
                .values()
                .find(|p| p.provider_type.as_str() == model_provider)
        })
        .cloned()
}

fn no_route(
    compiled: &CompiledWorkspace,
    providers: Option<&AccountProviders>,
    kind: RequestKind,
    files: &[impl AsRef<str>],
) -> Error {
    let kind_name = match kind {
        RequestKind::Chat => "chat",
        RequestKind::Fim => "fim",
    };
    let shown: Vec<String> = files
        .iter()
        .take(5)
        .map(|f| format!("{:?}", excerpt(f.as_ref())))
        .collect();
    let mut msg = format!(
        "no route in workspace {:?} for a {kind_name} request with files [{}]",
        compiled.slug,
        shown.join(", ")
    );
    if files.len() > 5 {
        let _ = write!(msg, " (+{} more)", files.len() - 5);
    }
    if compiled.rules.is_empty() {
        msg.push_str("; the workspace has no mux rules");
    } else {
        let tried: Vec<String> = compiled
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let name = providers
                    .and_then(|p| p.by_id.get(&r.provider_id))
                    .map_or_else(|| r.provider_id.to_string(), |p| p.name.clone());
                format!(
                    "#{i} {} {:?} → {name}/{}",
                    r.matcher_type.as_str(),
                    r.matcher.as_deref().unwrap_or(""),
                    r.model
                )
            })
            .collect();
        let _ = write!(msg, "; rules tried: {}", validate::list_excerpt(&tried));
    }
    match &compiled.default_text_model {
        Some(d) => {
            let _ = write!(
                msg,
                "; default_text_model {d:?} has no provider serving it (add a provider named \
                 or of the type {:?})",
                d.split('/').next().unwrap_or("")
            );
        }
        None => msg.push_str("; no default_text_model is set"),
    }
    msg.push_str(". Add a catch_all rule with workspace_mux_set to route every request.");
    Error::precondition("NO_ROUTE", msg)
}

impl ModelGates {
    /// A workspace's mux rules (by UUID or slug; `None` = the active workspace).
    pub fn workspace_mux_get(&self, caller: &Caller, workspace: Option<&str>) -> Result<MuxRules> {
        self.read(|txn| {
            let (_, ws) = access::workspace_of(txn, caller, workspace)?;
            let config = load_config(txn, caller.account, ws.id)?;
            mux_rules(txn, caller.account, ws.id, &config)
        })
    }

    /// Replaces a workspace's whole rule list atomically (first rule = highest priority). The
    /// list is validated first — providers exist, models are enabled in the workspace, globs
    /// parse — and an invalid list changes nothing. Rules after a `catch_all` are reported in
    /// `warnings`.
    pub fn workspace_mux_set(
        &self,
        caller: &Caller,
        workspace: Option<&str>,
        rules: &[NewMuxRule],
        expected_revision: Option<u64>,
    ) -> Result<MuxRules> {
        check_rules_shape("rules", rules)?;
        self.write(|tx| {
            access::admin(&*tx, caller)?;
            let account = caller.account;
            let ws = workspace::resolve_or_active(&*tx, account, workspace)?;
            workspace::check_not_archived(&ws)?;
            let current = load_config(&*tx, account, ws.id)?;
            if let Some(e) = expected_revision
                && e != current.mux_revision
            {
                return Err(Error::conflict(
                    "expected_revision",
                    format!(
                        "the mux rules of workspace {:?} are at revision {}, not {e}: they \
                         changed since you read them; get them again and reapply your change",
                        ws.slug, current.mux_revision
                    ),
                ));
            }
            let stored = check_rules(&*tx, account, &ws, "rules", rules)?;
            let config = store_rules(tx, account, ws.id, stored)?;
            mux_rules(&*tx, account, ws.id, &config)
        })
    }

    /// A workspace's custom instructions (`None` = the active workspace).
    pub fn workspace_instructions_get(
        &self,
        caller: &Caller,
        workspace: Option<&str>,
    ) -> Result<Instructions> {
        self.read(|txn| {
            let (_, ws) = access::workspace_of(txn, caller, workspace)?;
            Ok(Instructions {
                workspace_id: ws.id,
                custom_instructions: load_config(txn, caller.account, ws.id)?.custom_instructions,
            })
        })
    }

    /// Sets (`Some`, ≤ 64 KiB) or clears (`None`) a workspace's custom instructions.
    pub fn workspace_instructions_set(
        &self,
        caller: &Caller,
        workspace: Option<&str>,
        text: Option<&str>,
    ) -> Result<Instructions> {
        if let Some(t) = text {
            check_instructions("custom_instructions", t)?;
        }
        self.write(|tx| {
            access::admin(&*tx, caller)?;
            let account = caller.account;
            let ws = workspace::resolve_or_active(&*tx, account, workspace)?;
            workspace::check_not_archived(&ws)?;
            let mut config = load_config(&*tx, account, ws.id)?;
            config.custom_instructions = text.map(str::to_owned);
            save_config(tx, account, ws.id, &config)?;
            Ok(Instructions {
                workspace_id: ws.id,
                custom_instructions: config.custom_instructions,
            })
        })
    }

    /// Which provider and model would serve a request in a workspace (by UUID or slug; `None`
    /// = the active workspace). Reads the store only to find the workspace; the answer comes
    /// from the compiled snapshot, like [`Snapshot::route`](crate::Snapshot::route).
    pub fn route_resolve(
        &self,
        caller: &Caller,
        workspace: Option<&str>,
        kind: RequestKind,
        files: &[String],
    ) -> Result<Route> {
        check_route_files("files", files)?;
        // Resolved inside `read`, so a panic in the engine is contained like any operation's.
        self.read(|txn| {
            let ws = access::workspace_of(txn, caller, workspace)?.1;
            self.snapshot().route(caller.account, ws.id, kind, files)
        })
    }
}

/// A routed request names at most [`ROUTE_FILES_MAX`] files of at most 4 KiB each.
pub(crate) fn check_route_files(field: &str, files: &[String]) -> Result<()> {
    if files.len() > ROUTE_FILES_MAX {
        return Err(Error::invalid(
            field,
            format!(
                "{} files given; at most {ROUTE_FILES_MAX} are allowed",
                files.len()
            ),
        ));
    }
    for (i, f) in files.iter().enumerate() {
        if f.len() > 4096 {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                format!(
                    "{:?} is {} bytes; at most 4096 are allowed",
                    excerpt(f),
                    f.len()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_prefixes_and_suffixes_are_conservative() {
        let cases = [
            ("*.py", "", ".py"),
            ("src/**/*.rs", "src/", ".rs"),
            ("**/test_*.py", "", ".py"),
            ("**/lib.rs", "", "lib.rs"),
            ("Makefile", "Makefile", "Makefile"),
            ("*.{py,rs}", "", ""),
            ("src/{a,b/c}.rs", "src/", ".rs"),
            ("a\\*b", "a", "b"),
        ];
        for (pattern, prefix, suffix) in cases {
            let g = CompiledGlob::new(0, pattern).unwrap();
            assert_eq!((&*g.prefix, &*g.suffix), (prefix, suffix), "{pattern}");
        }
    }
}
