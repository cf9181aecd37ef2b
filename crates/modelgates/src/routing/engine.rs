//! The routing engine: the compiled, data-plane form of every workspace's rules and of the
//! providers, and route resolution over it. It lives in the snapshot and never touches the store
//! after loading.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use globset::{GlobBuilder, GlobMatcher};

use crate::error::{Error, Reason, Result};
use crate::ids::{AccountId, ProviderId, WorkspaceId};
use crate::record::account::Account;
use crate::record::provider::{Provider, ProviderRecord};
use crate::record::routing::*;
use crate::record::workspace::WorkspaceRecord;
use crate::schema::{ACCOUNTS, PROVIDERS, WORKSPACE_CONFIG, WORKSPACES};
use crate::storage::ReadTxn;
use crate::validate::{self, excerpt};

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
pub(crate) fn is_path_pattern(pattern: &str) -> bool {
    pattern.contains('/')
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
// ---------------------------------------------------------------------------------------------
// The compiled, data-plane form.

/// A routing change to publish after commit: a workspace's compiled rules (`None` = gone), or
/// a provider (`None` = deleted).
#[derive(Debug, Clone)]
pub(crate) enum RoutingChange {
    Workspace(AccountId, WorkspaceId, Option<Arc<CompiledWorkspace>>),
    Provider(AccountId, ProviderId, Option<Arc<RouteProvider>>),
}

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
    /// Boxed: rare, and large enough to spread the rule set's globs over more cache lines.
    Legacy(Box<GlobMatcher>),
}

/// Characters after which nothing of a glob is literal.
pub(crate) fn is_meta(c: char) -> bool {
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
                    Matcher::Legacy(Box::new(glob.compile_matcher()))
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
pub(crate) fn bytes_start_with(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s.iter().zip(prefix).all(|(a, b)| a == b)
}

pub(crate) fn bytes_end_with(s: &[u8], suffix: &[u8]) -> bool {
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
    /// The rules' globs per request kind, compiled on the workspace's first routed request:
    /// loading a snapshot (opening, joining other instances, rebuilding) then costs no glob
    /// compilation, which dominated it (549 ms at 10,000 workspaces).
    globs: std::sync::OnceLock<Globs>,
    default_text_model: Option<Arc<str>>,
    custom_instructions: bool,
}

#[derive(Debug)]
struct Globs {
    chat: Vec<CompiledGlob>,
    fim: Vec<CompiledGlob>,
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
    pub(crate) fn compile(ws: &WorkspaceRecord, config: &WorkspaceConfig) -> Result<Self> {
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
        Ok(Self {
            slug: ws.slug.as_str().into(),
            archived: ws.archived_at.is_some(),
            globs: std::sync::OnceLock::new(),
            first_catch_all,
            rules,
            default_text_model: ws.default_text_model.as_deref().map(Into::into),
            custom_instructions: config.custom_instructions.is_some(),
        })
    }

    /// The globs of the rules a request can reach (before the first catch-all), per kind.
    /// Stored globs were validated when written; one that no longer compiles (a damaged
    /// record) is logged and matches nothing, and `check` reports it.
    fn compile_globs(&self) -> Result<Globs> {
        let reachable = self.first_catch_all.unwrap_or(self.rules.len());
        let globs = |kind: RequestKind| -> Result<Vec<CompiledGlob>> {
            self.rules
                .iter()
                .enumerate()
                .take(reachable)
                .filter(|(_, r)| r.matcher_type.applies_to(kind))
                .filter_map(|(i, r)| r.matcher.as_deref().map(|m| CompiledGlob::new(i, m)))
                .collect()
        };
        Ok(Globs {
            chat: globs(RequestKind::Chat)?,
            fim: globs(RequestKind::Fim)?,
        })
    }

    fn globs(&self) -> &Globs {
        self.globs.get_or_init(|| {
            self.compile_globs().unwrap_or_else(|e| {
                tracing::error!(workspace = %self.slug, error = %e, "a stored mux rule glob does not compile; its rules match nothing");
                Globs {
                    chat: Vec::new(),
                    fim: Vec::new(),
                }
            })
        })
    }

    /// Compiles every glob now, failing on one that does not compile (for `check`).
    pub(crate) fn verify_globs(&self) -> Result<()> {
        self.compile_globs().map(|_| ())
    }

    /// The index of the first rule matching a request, if any: globs in rule order, each
    /// against every file, stopping at the first match.
    fn first_match(&self, kind: RequestKind, files: &[impl AsRef<str>]) -> Option<usize> {
        let globs = match kind {
            RequestKind::Chat => &self.globs().chat,
            RequestKind::Fim => &self.globs().fim,
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
pub(crate) fn normalize(file: &str) -> (std::borrow::Cow<'_, str>, usize) {
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
                let ws: WorkspaceRecord = ws;
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

    /// Every workspace whose stored globs do not compile, one sentence each.
    pub(crate) fn glob_problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .workspaces
            .iter()
            .filter_map(|((account, ws), compiled)| {
                compiled.verify_globs().err().map(|e| {
                    format!(
                        "account {account}: workspace {ws}: a mux rule glob does not compile: {e}"
                    )
                })
            })
            .collect();
        out.sort();
        out
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
                Reason::WorkspaceArchived,
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
pub(crate) fn serving_provider(
    ps: &AccountProviders,
    model_provider: &str,
) -> Option<Arc<RouteProvider>> {
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

pub(crate) fn no_route(
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
    Error::precondition(Reason::NoRoute, msg)
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
