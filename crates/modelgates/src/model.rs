//! Per-workspace model catalogs (seed 003): every workspace has the catalog models (the
//! database's copy of the catalog, synced on open) plus the custom models it registers; each can
//! be enabled or disabled. A workspace stores only what differs from the catalog (overrides and
//! custom models), so creating one writes no model records. WorkspaceRecord defaults must name
//! enabled models.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use sha2::{Digest, Sha256};

use crate::access;
use crate::catalog::{Catalog, check_model_fields, check_ref_part};
use crate::clock::millis;
use crate::error::{Error, Reason, Result};
use crate::handle::{Caller, ModelGates, Tx, op};
use crate::ids::{AccountId, ModelId};
pub use crate::record::model::*;
use crate::schema::{CATALOG, MODEL_OVERRIDES, MODEL_REFS, MODELS};
use crate::storage::{ReadTxn, WriteTxn};
use crate::validate::{self, Page, Paged, excerpt};
use crate::workspace::{self, WorkspaceRecord, WorkspaceSel};

/// Splits `provider/family`.
fn split_ref<'a>(field: &str, reference: &'a str) -> Result<(&'a str, &'a str)> {
    reference
        .split_once('/')
        .filter(|(p, f)| !p.is_empty() && !f.is_empty())
        .ok_or_else(|| {
            Error::invalid(
                field,
                format!(
                    "{:?} is neither a model id (model_…) nor a \"provider/family\" reference",
                    excerpt(reference)
                ),
            )
        })
}

/// Brings the database's catalog in line with `catalog`: new models are added (every
/// workspace gains them), specs of known ones are updated, models the catalog no longer
/// lists are retired (kept by the workspaces that had them). WorkspaceRecord overrides are never
/// touched. Returns how many models were added.
pub(crate) fn sync_catalog(
    txn: &mut dyn WriteTxn,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<usize> {
    let mut added = 0;
    let mut listed = std::collections::BTreeSet::new();
    for m in catalog.models() {
        let key = (m.provider.clone(), m.family.clone());
        listed.insert(key.clone());
        let entry = match CATALOG.get(txn, &key)? {
            Some(mut e) => {
                e.model = m.clone();
                e.retired_at = None;
                e
            }
            None => {
                added += 1;
                CatalogEntry {
                    model: m.clone(),
                    first_seen_at: now,
                    retired_at: None,
                }
            }
        };
        CATALOG.put(txn, &key, &entry)?;
    }
    for (_, mut e) in CATALOG.scan_prefix(txn, &())? {
        let key = (e.model.provider.clone(), e.model.family.clone());
        if !listed.contains(&key) && e.retired_at.is_none() {
            e.retired_at = Some(now);
            CATALOG.put(txn, &key, &e)?;
        }
    }
    Ok(added)
}

/// A stable, time-ordered id for catalog model `(provider, family)` in workspace `ws`:
/// the time part is when the workspace got the model, the random part a hash of the three.
fn catalog_model_id(
    ws: &WorkspaceRecord,
    created_at: DateTime<Utc>,
    provider: &str,
    family: &str,
) -> ModelId {
    let mut h = Sha256::new();
    h.update(ws.id.as_uuid().as_bytes());
    h.update(provider.as_bytes());
    h.update([0]);
    h.update(family.as_bytes());
    let digest = h.finalize();
    let mut rand = [0u8; 16];
    rand[6..].copy_from_slice(&digest[..10]);
    ModelId::from_parts(millis(created_at), u128::from_be_bytes(rand))
}

/// The catalog model `entry` as workspace `ws` sees it.
fn catalog_model(
    account: AccountId,
    ws: &WorkspaceRecord,
    entry: &CatalogEntry,
    over: Option<&ModelOverride>,
) -> Model {
    let c = &entry.model;
    let created_at = ws.created_at.max(entry.first_seen_at);
    Model {
        metadata: ResourceMetadata {
            id: catalog_model_id(ws, created_at, &c.provider, &c.family),
            account_id: account,
            created_at,
            name: format!("{}/{}", c.provider, c.family),
            profile_id: ws
                .created_by
                .as_ref()
                .map_or("system", |u| u.as_str())
                .to_owned(),
            workspace_id: ws.id,
            bundle_key: Some(CATALOG_BUNDLE.to_owned()),
            external_id: None,
            labels: None,
        },
        spec: ModelSpec {
            family: c.family.clone(),
            provider: c.provider.clone(),
            input_price_per_million_tokens: c.input_price_per_million_tokens.clone(),
            output_price_per_million_tokens: c.output_price_per_million_tokens.clone(),
            max_input_tokens: c.max_input_tokens,
            max_output_tokens: c.max_output_tokens,
            status: over.map_or(ModelStatus::Enabled, |o| o.status),
            output: c.output,
            output_price_per_image: c.output_price_per_image.clone(),
        },
    }
}

/// Every model of workspace `ws`: its custom models, and the catalog models it has (a custom
/// model shadows a catalog model of the same provider/family).
pub(crate) fn workspace_models(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: &WorkspaceRecord,
) -> Result<Vec<Model>> {
    let mut models = MODELS.values_with_prefix(txn, &(account, ws.id))?;
    let custom: std::collections::BTreeSet<(String, String)> = models
        .iter()
        .map(|m| (m.spec.provider.clone(), m.spec.family.clone()))
        .collect();
    let overrides: BTreeMap<Vec<u8>, ModelOverride> = MODEL_OVERRIDES
        .scan_prefix(txn, &(account, ws.id))?
        .into_iter()
        .collect();
    for (_, entry) in CATALOG.scan_prefix(txn, &())? {
        let key = (entry.model.provider.clone(), entry.model.family.clone());
        if !entry.visible_in(ws) || custom.contains(&key) {
            continue;
        }
        let over_key = MODEL_OVERRIDES.key_bytes(&(account, ws.id, key.0, key.1));
        models.push(catalog_model(account, ws, &entry, overrides.get(&over_key)));
    }
    Ok(models)
}

/// The model `(provider, family)` of workspace `ws`, if it has one.
pub(crate) fn by_ref(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: &WorkspaceRecord,
    provider: &str,
    family: &str,
) -> Result<Option<Model>> {
    if let Some(id) = MODEL_REFS.get(
        txn,
        &(account, ws.id, provider.to_owned(), family.to_owned()),
    )? {
        return MODELS.get(txn, &(account, ws.id, id));
    }
    let Some(entry) = CATALOG.get(txn, &(provider.to_owned(), family.to_owned()))? else {
        return Ok(None);
    };
    if !entry.visible_in(ws) {
        return Ok(None);
    }
    let over = MODEL_OVERRIDES.get(
        txn,
        &(account, ws.id, provider.to_owned(), family.to_owned()),
    )?;
    Ok(Some(catalog_model(account, ws, &entry, over.as_ref())))
}

/// The workspace model a provider serves as `model`: a family registered under one of
/// `prefixes` (a provider endpoint's name, then its type), else `model` read as a
/// `provider/family` reference. Whether it is enabled is the caller's business.
pub(crate) fn for_provider(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: &WorkspaceRecord,
    prefixes: &[&str],
    model: &str,
) -> Result<Option<Model>> {
    for prefix in prefixes {
        if let Some(m) = by_ref(txn, account, ws, prefix, model)? {
            return Ok(Some(m));
        }
    }
    match model.split_once('/') {
        Some((p, f)) => by_ref(txn, account, ws, p, f),
        None => Ok(None),
    }
}

/// The model `id_or_ref` (a `model_…` id or `provider/family`) of workspace `ws`.
pub(crate) fn resolve(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: &WorkspaceRecord,
    field: &str,
    id_or_ref: &str,
) -> Result<Model> {
    let found = if id_or_ref.starts_with(ModelId::PREFIX) {
        let id = ModelId::parse_field(id_or_ref, field)?;
        match MODELS.get(txn, &(account, ws.id, id))? {
            Some(m) => Some(m),
            None => workspace_models(txn, account, ws)?
                .into_iter()
                .find(|m| m.metadata.id == id),
        }
    } else {
        let (p, f) = split_ref(field, id_or_ref)?;
        by_ref(txn, account, ws, p, f)?
    };
    found.ok_or_else(|| Error::not_found("model", excerpt(id_or_ref)))
}

/// Checks that `reference` (a workspace default) names an enabled model of workspace `ws`.
pub(crate) fn check_default(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: &WorkspaceRecord,
    field: &str,
    reference: &str,
) -> Result<()> {
    let (p, f) = split_ref(field, reference)?;
    let Some(model) = by_ref(txn, account, ws, p, f)? else {
        return Err(Error::invalid(
            field,
            format!(
                "model {reference:?} is not in the catalog of workspace {:?}; pick one from \
                 model_list or register it with model_register",
                ws.slug
            ),
        ));
    };
    let wanted = if field == "default_image_model" {
        ModelOutput::Image
    } else {
        ModelOutput::Text
    };
    if model.spec.output != wanted {
        return Err(Error::invalid(
            field,
            format!(
                "model {reference:?} produces {}; {field} needs a model that produces {} \
                 (model_list shows each model's output)",
                model.spec.output.as_str(),
                wanted.as_str()
            ),
        ));
    }
    if model.spec.status != ModelStatus::Enabled {
        return Err(Error::precondition(
            Reason::ModelDisabled,
            format!(
                "model {reference:?} is disabled in workspace {:?}; enable it with \
                 model_set_status before using it as {field}",
                ws.slug
            ),
        ));
    }
    Ok(())
}

/// The workspace settings that name `model` (for errors when disabling or deleting it).
fn dependents(ws: &WorkspaceRecord, model: &Model) -> Vec<&'static str> {
    let r = model.reference();
    let mut out = Vec::new();
    if ws.default_text_model.as_deref() == Some(r.as_str()) {
        out.push("default_text_model");
    }
    if ws.default_image_model.as_deref() == Some(r.as_str()) {
        out.push("default_image_model");
    }
    out
}

fn in_use(txn: &dyn ReadTxn, account: AccountId, ws: &WorkspaceRecord, m: &Model) -> Result<()> {
    let mut uses: Vec<String> = dependents(ws, m).into_iter().map(str::to_owned).collect();
    let r = m.reference();
    let rules: Vec<String> = crate::routing::load_config(txn, account, ws.id)?
        .mux_rules
        .iter()
        .enumerate()
        .filter(|(_, rule)| rule.model_ref == r)
        .map(|(i, _)| format!("#{i}"))
        .collect();
    if !rules.is_empty() {
        uses.push(format!("mux rule(s) {}", rules.join(", ")));
    }
    if uses.is_empty() {
        return Ok(());
    }
    Err(Error::precondition(
        Reason::ModelInUse,
        format!(
            "model {} is used by workspace {:?}'s {}; change that first",
            m.reference(),
            ws.slug,
            uses.join(" and ")
        ),
    ))
}

fn parse_selector(selector: &str) -> Result<Vec<(&str, &str)>> {
    selector
        .split(',')
        .map(|pair| {
            pair.split_once('=')
                .filter(|(k, _)| !k.trim().is_empty())
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| {
                    Error::invalid(
                        "label_selector",
                        format!(
                            "{:?} is not a key=value pair (e.g. \"team=platform\")",
                            excerpt(pair)
                        ),
                    )
                })
        })
        .collect()
}

/// A retry of the create with the same idempotency key gets the first result.
impl crate::idempotency::store::Replayable for Model {}

impl ModelGates {
    /// Lists a workspace's models, ordered by provider then family, with optional filters.
    pub fn model_list<'w>(
        &self,
        caller: &Caller,
        workspace: impl Into<WorkspaceSel<'w>>,
        filter: &ModelFilter,
        page: Page,
    ) -> Result<Paged<Model>> {
        let selector = filter
            .label_selector
            .as_deref()
            .map(parse_selector)
            .transpose()?;
        let workspace: WorkspaceSel<'w> = workspace.into();
        self.read(|txn| {
            let (_, ws) = access::workspace_of(txn, caller, workspace.0)?;
            let mut models: Vec<Model> = workspace_models(txn, caller.account, &ws)?
                .into_iter()
                .filter(|m| {
                    filter
                        .provider
                        .as_ref()
                        .is_none_or(|p| &m.spec.provider == p)
                })
                .filter(|m| filter.status.is_none_or(|s| m.spec.status == s))
                .filter(|m| {
                    selector.as_ref().is_none_or(|pairs| {
                        pairs.iter().all(|(k, v)| {
                            m.metadata
                                .labels
                                .as_ref()
                                .and_then(|l| l.get(*k))
                                .map(String::as_str)
                                == Some(*v)
                        })
                    })
                })
                .collect();
            models.sort_by(|a, b| {
                (&a.spec.provider, &a.spec.family).cmp(&(&b.spec.provider, &b.spec.family))
            });
            Ok(page.apply(models))
        })
    }

    /// One model of a workspace by id (`model_…`) or `provider/family`.
    pub fn model_get<'w>(
        &self,
        caller: &Caller,
        workspace: impl Into<WorkspaceSel<'w>>,
        model: &str,
    ) -> Result<Model> {
        let workspace: WorkspaceSel<'w> = workspace.into();
        self.read(|txn| {
            let (_, ws) = access::workspace_of(txn, caller, workspace.0)?;
            resolve(txn, caller.account, &ws, "model", model)
        })
    }

    /// Enables or disables a model. Disabling a model that a workspace default names fails
    /// with `failed_precondition` (reason `MODEL_IN_USE`) naming the setting.
    pub fn model_set_status<'w>(
        &self,
        caller: &Caller,
        workspace: impl Into<WorkspaceSel<'w>>,
        model: &str,
        status: ModelStatus,
    ) -> Result<Model> {
        let workspace: WorkspaceSel<'w> = workspace.into();
        self.write(op("model_set_status", caller), |tx| {
            set_status_in(tx, caller, workspace.0, model, status)
        })
    }

    /// Registers a custom model in a workspace (a family not in the catalog, e.g. self-hosted
    /// on vllm, ollama or llama.cpp). Fails with `conflict` if `provider/family` exists.
    pub fn model_register<'w>(
        &self,
        caller: &Caller,
        workspace: impl Into<WorkspaceSel<'w>>,
        new: NewModel,
    ) -> Result<Model> {
        let workspace: WorkspaceSel<'w> = workspace.into();
        self.write_once(op("model_register", caller), &(workspace.0, &new), |tx| {
            register_in(tx, caller, workspace.0, &new)
        })
    }

    /// Deletes a custom model. Catalog models cannot be deleted (disable them instead); a
    /// model that a workspace default names cannot be deleted either.
    pub fn model_delete<'w>(
        &self,
        caller: &Caller,
        workspace: impl Into<WorkspaceSel<'w>>,
        model: &str,
    ) -> Result<Model> {
        let workspace: WorkspaceSel<'w> = workspace.into();
        self.write(op("model_delete", caller), |tx| {
            delete_in(tx, caller, workspace.0, model)
        })
    }
}

/// [`ModelGates::model_register`] inside transaction `tx`: its checks, then its writes.
pub(crate) fn register_in(
    tx: &mut Tx<'_>,
    caller: &Caller,
    workspace: Option<&str>,
    new: &NewModel,
) -> Result<Model> {
    put_custom(tx, caller, workspace, new, false)
}

/// Replaces the spec, labels and external id of the custom model `new` names, in place (same
/// id), with `model_register`'s checks; disabling it is refused while a default or rule names
/// it. For bundles, whose custom models are declared whole.
pub(crate) fn replace_in(
    tx: &mut Tx<'_>,
    caller: &Caller,
    workspace: Option<&str>,
    new: &NewModel,
) -> Result<Model> {
    put_custom(tx, caller, workspace, new, true)
}

fn put_custom(
    tx: &mut Tx<'_>,
    caller: &Caller,
    workspace: Option<&str>,
    new: &NewModel,
    replace: bool,
) -> Result<Model> {
    let input = new
        .input_price_per_million_tokens
        .clone()
        .unwrap_or_else(|| "0".into());
    let output = new
        .output_price_per_million_tokens
        .clone()
        .unwrap_or_else(|| "0".into());
    let field = |f: &str| f.to_owned();
    check_model_fields(
        &field,
        &crate::catalog::CatalogModel {
            provider: new.provider.clone(),
            family: new.family.clone(),
            input_price_per_million_tokens: input.clone(),
            output_price_per_million_tokens: output.clone(),
            max_input_tokens: new.max_input_tokens,
            max_output_tokens: new.max_output_tokens,
            output: new.output.unwrap_or_default(),
            output_price_per_image: new.output_price_per_image.clone(),
        },
    )?;
    if let Some(labels) = &new.labels {
        validate::labels("labels", labels)?;
    }
    if let Some(ext) = &new.external_id {
        validate::name("externalId", ext, 200)?;
    }
    check_ref_part("provider", &new.provider, "provider")?;
    let me = access::admin(&*tx, caller)?;
    let account = caller.account;
    let ws = workspace::resolve_or_active(&*tx, account, workspace)?;
    workspace::check_not_archived(&ws)?;
    let existing = by_ref(&*tx, account, &ws, &new.provider, &new.family)?;
    let kept = match (&existing, replace) {
        (Some(m), true) if !m.is_catalog() => {
            if new.status == Some(ModelStatus::Disabled) && m.spec.status == ModelStatus::Enabled {
                in_use(&*tx, account, &ws, m)?;
            }
            Some(m.metadata.clone())
        }
        (_, true) => {
            return Err(Error::not_found(
                "custom model",
                format!("{}/{}", new.provider, new.family),
            ));
        }
        (_, false) => None,
    };
    if let (Some(existing), false) = (existing, replace) {
        return Err(Error::conflict(
            "family",
            format!(
                "workspace {:?} already has model {} ({})",
                ws.slug,
                existing.reference(),
                existing.metadata.id
            ),
        ));
    }
    let model = Model {
        metadata: ResourceMetadata {
            id: kept
                .as_ref()
                .map_or_else(|| ModelId::generate(millis(tx.now)), |m| m.id),
            account_id: account,
            created_at: kept.as_ref().map_or(tx.now, |m| m.created_at),
            name: format!("{}/{}", new.provider, new.family),
            profile_id: kept
                .as_ref()
                .map_or_else(|| me.user_id.to_string(), |m| m.profile_id.clone()),
            workspace_id: ws.id,
            bundle_key: None,
            external_id: new.external_id.clone(),
            labels: new.labels.clone(),
        },
        spec: ModelSpec {
            family: new.family.clone(),
            provider: new.provider.clone(),
            input_price_per_million_tokens: input.clone(),
            output_price_per_million_tokens: output.clone(),
            max_input_tokens: new.max_input_tokens,
            max_output_tokens: new.max_output_tokens,
            status: new.status.unwrap_or(ModelStatus::Enabled),
            output: new.output.unwrap_or_default(),
            output_price_per_image: new.output_price_per_image.clone(),
        },
    };
    MODELS.put(&mut *tx, &(account, ws.id, model.metadata.id), &model)?;
    let key = (
        account,
        ws.id,
        model.spec.provider.clone(),
        model.spec.family.clone(),
    );
    MODEL_REFS.put(&mut *tx, &key, &model.metadata.id)?;
    Ok(model)
}

/// [`ModelGates::model_set_status`] inside transaction `tx`: its checks, then its writes.
pub(crate) fn set_status_in(
    tx: &mut Tx<'_>,
    caller: &Caller,
    workspace: Option<&str>,
    model: &str,
    status: ModelStatus,
) -> Result<Model> {
    access::admin(&*tx, caller)?;
    let account = caller.account;
    let ws = workspace::resolve_or_active(&*tx, account, workspace)?;
    workspace::check_not_archived(&ws)?;
    let mut m = resolve(&*tx, account, &ws, "model", model)?;
    if status == ModelStatus::Disabled {
        in_use(&*tx, account, &ws, &m)?;
    }
    if m.spec.status != status {
        m.spec.status = status;
        if m.is_catalog() {
            let key = (
                account,
                ws.id,
                m.spec.provider.clone(),
                m.spec.family.clone(),
            );
            MODEL_OVERRIDES.put(&mut *tx, &key, &ModelOverride { status })?;
        } else {
            MODELS.put(&mut *tx, &(account, ws.id, m.metadata.id), &m)?;
        }
    }
    Ok(m)
}

/// [`ModelGates::model_delete`] inside transaction `tx`: its checks, then its writes.
pub(crate) fn delete_in(
    tx: &mut Tx<'_>,
    caller: &Caller,
    workspace: Option<&str>,
    model: &str,
) -> Result<Model> {
    access::admin(&*tx, caller)?;
    let account = caller.account;
    let ws = workspace::resolve_or_active(&*tx, account, workspace)?;
    workspace::check_not_archived(&ws)?;
    let m = resolve(&*tx, account, &ws, "model", model)?;
    if m.is_catalog() {
        return Err(Error::precondition(
            Reason::CatalogModel,
            format!(
                "model {} comes from the catalog and cannot be deleted; disable it with \
                 model_set_status instead",
                m.reference()
            ),
        ));
    }
    in_use(&*tx, account, &ws, &m)?;
    // A bundle's claim on the model ends with it: registered again by hand, it is not the
    // bundle's.
    crate::schema::BUNDLE_STAMPS.delete(
        &mut *tx,
        &(
            account,
            crate::record::bundle::BundleKind::Model.as_str().to_owned(),
            format!("{}/{}", ws.id, m.reference()),
        ),
    )?;
    MODELS.delete(&mut *tx, &(account, ws.id, m.metadata.id))?;
    MODEL_REFS.delete(
        &mut *tx,
        &(
            account,
            ws.id,
            m.spec.provider.clone(),
            m.spec.family.clone(),
        ),
    )?;
    Ok(m)
}
