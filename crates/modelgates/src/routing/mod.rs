//! Mux rules, custom instructions and the routing engine (seed 004): each workspace's ordered
//! rule list picks a provider and model for a request; the compiled form (precompiled glob sets)
//! lives in the data-plane snapshot and answers `resolve` without touching the store.

use std::collections::{BTreeMap, HashMap};

use crate::access;
use crate::error::{Error, Result};
use crate::handle::{Caller, ModelGates, Tx, op};
use crate::ids::{AccountId, ProviderId, WorkspaceId};
use crate::provider::{self, AuthType, ProviderType, ProviderUse, Secret};
pub use crate::record::routing::*;
use crate::schema::{PROVIDER_USES, PROVIDERS, WORKSPACE_CONFIG, WORKSPACES};
use crate::storage::ReadTxn;
use crate::workspace::{self};

pub(crate) mod engine;
pub(crate) mod rules;

pub(crate) use engine::*;
pub(crate) use rules::*;
pub use rules::{INSTRUCTIONS_MAX, MUX_RULES_MAX, ROUTE_FILES_MAX};

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
    let (warnings, unreachable_rules) = unreachable_rules(&config.mux_rules);
    Ok(MuxRules {
        workspace_id: ws,
        rules: rule_views(txn, account, &config.mux_rules)?,
        revision: config.mux_revision,
        warnings,
        unreachable_rules,
    })
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
    /// parse — and an invalid list changes nothing. Rules no request can reach (after a
    /// `catch_all`, or shadowed by earlier rules) are reported in `warnings` and
    /// `unreachable_rules`.
    pub fn workspace_mux_set(
        &self,
        caller: &Caller,
        workspace: Option<&str>,
        rules: &[NewMuxRule],
        expected_revision: Option<u64>,
    ) -> Result<MuxRules> {
        check_rules_shape("rules", rules)?;
        self.write(op("workspace_mux_set", caller), |tx| {
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

    /// Checks a rule list as [`workspace_mux_set`](Self::workspace_mux_set) would — the same
    /// access, the same errors naming `rules[i].field` — and answers the list as it would be
    /// stored, with its warnings and unreachable rules, without writing anything. `revision` is
    /// the list's current revision: pass it to `workspace_mux_set` as `expected_revision` so
    /// the set fails if the list changed since the check (it guards the rule list only: a
    /// provider renamed or a model disabled in between is caught by the set's own validation).
    pub fn workspace_mux_check(
        &self,
        caller: &Caller,
        workspace: Option<&str>,
        rules: &[NewMuxRule],
    ) -> Result<MuxRules> {
        check_rules_shape("rules", rules)?;
        self.read(|txn| {
            access::admin(txn, caller)?;
            let account = caller.account;
            let ws = workspace::resolve_or_active(txn, account, workspace)?;
            workspace::check_not_archived(&ws)?;
            let current = load_config(txn, account, ws.id)?;
            let config = WorkspaceConfig {
                mux_rules: check_rules(txn, account, &ws, "rules", rules)?,
                ..current
            };
            mux_rules(txn, account, ws.id, &config)
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
        self.write(op("workspace_instructions_set", caller), |tx| {
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

    /// What a gateway needs to forward a request that `key` (an inference key, verified with
    /// [`ModelGates::verify_key`]) sent and `route` (from [`Snapshot::route`](crate::Snapshot::route)
    /// for the key's workspace) routed: the provider's API key when it authenticates with the
    /// stored key, and the workspace's custom instructions when `route` says it has some. Reads
    /// the store once, and only when one of them is needed.
    ///
    /// The key authorizes the read: an inference key may have its workspace's requests
    /// forwarded with the provider's credentials (which the gateway, not the key's holder,
    /// sees). A management key, or a route of another workspace, is `permission_denied`; a
    /// provider removed since the snapshot answered is `not_found`.
    ///
    /// A gateway's request path, from the presented secret to what it forwards and records:
    ///
    /// ```
    /// use modelgates::{
    ///     Caller, MatcherType, MemoryStore, ModelGates, NewKey, NewMuxRule, NewProvider,
    ///     NewUsage, ProviderType, RequestKind, Secret,
    /// };
    /// # fn main() -> Result<(), modelgates::Error> {
    /// let gates = ModelGates::open(MemoryStore::new())?;
    /// let admin = gates.default_caller()?;
    /// gates.provider_add(&admin, NewProvider {
    ///     name: "local".into(),
    ///     description: None,
    ///     provider_type: ProviderType::Openai,
    ///     endpoint: Some("http://127.0.0.1:9000/v1".into()),
    ///     auth_type: None,
    ///     api_key: Some(Secret::new("sk-upstream")),
    /// })?;
    /// gates.workspace_mux_set(&admin, Some("default"), &[NewMuxRule {
    ///     provider: "local".into(),
    ///     provider_type: None,
    ///     model: "gpt-5".into(),
    ///     matcher_type: MatcherType::CatchAll,
    ///     matcher: None,
    /// }], None)?;
    /// gates.workspace_instructions_set(&admin, Some("default"), Some("Answer briefly."))?;
    /// let secret = gates
    ///     .key_create(&admin, NewKey { name: "app".into(), workspace: "default".into(), ..Default::default() })?
    ///     .key
    ///     .expect("a first create returns the secret");
    ///
    /// // Per request: verify and route from the snapshot, then read what forwarding needs.
    /// let key = gates.verify_key(&secret)?;
    /// let route = gates.snapshot().route(key.account, key.workspace_id, RequestKind::Chat, &["src/app.py"])?;
    /// let upstream = gates.upstream(&key, &route)?;
    /// assert_eq!(route.provider.endpoint, "http://127.0.0.1:9000/v1");
    /// assert_eq!(upstream.api_key.as_ref().map(|k| k.expose()), Some("sk-upstream"));
    /// assert_eq!(upstream.custom_instructions.as_deref(), Some("Answer briefly."));
    ///
    /// // When the answer ends: record its usage as the key's holder.
    /// let caller = Caller::new(key.account, key.user_id).with_key(key.key_id);
    /// gates.usage_record(&caller, NewUsage {
    ///     request_id: "req-1".into(),
    ///     provider: route.provider.name.clone(),
    ///     model: route.model.to_string(),
    ///     input_tokens: 120,
    ///     output_tokens: 30,
    ///     ..Default::default()
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn upstream(&self, key: &crate::VerifiedKey, route: &Route) -> Result<Upstream> {
        if key.kind != crate::KeyKind::Inference {
            return Err(Error::PermissionDenied(format!(
                "API key {} is a management key; requests through the gateway need an \
                 inference key",
                key.key_id
            )));
        }
        if route.workspace_id != key.workspace_id {
            return Err(Error::PermissionDenied(format!(
                "API key {} belongs to workspace {}, not to the routed workspace {}",
                key.key_id, key.workspace_id, route.workspace_id
            )));
        }
        let wants_key = route.provider.auth_type == AuthType::ApiKey;
        if !wants_key && !route.custom_instructions {
            return Ok(Upstream {
                api_key: None,
                custom_instructions: None,
            });
        }
        self.read(|txn| {
            let api_key = if wants_key {
                let record = PROVIDERS
                    .get(txn, &(key.account, route.provider.id))?
                    .ok_or_else(|| Error::NotFound {
                        resource: "provider",
                        id: route.provider.name.clone(),
                    })?;
                record.api_key.map(Secret)
            } else {
                None
            };
            let custom_instructions = if route.custom_instructions {
                load_config(txn, key.account, key.workspace_id)?.custom_instructions
            } else {
                None
            };
            Ok(Upstream {
                api_key,
                custom_instructions,
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
