//! The difference between a bundle and the database: the plan's changes and conflicts, the
//! steps that perform them (run by apply, and by plan in a rolled-back transaction), and the
//! bundle view of stored resources that both the diff and `bundle_export` use.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{
    Bundle, BundleConflict, BundleKind, BundleModel, BundlePlan, BundleProvider, BundleRule,
    BundleStamp, BundleWorkspace, PlanAction, PlannedChange, Removal, SecretRef, fingerprint,
};
use crate::error::{Error, Result};
use crate::handle::Caller;
use crate::ids::{AccountId, ProviderId, WorkspaceId};
use crate::model::{Model, ModelStatus, NewModel};
use crate::patch::Patch;
use crate::persona::PersonaPatch;
use crate::provider::{AuthType, ProviderPatch, ProviderRecord, Secret};
use crate::record::audit::FieldChange;
use crate::record::workspace::WorkspaceRecord;
use crate::routing::NewMuxRule;
use crate::schema::{
    BUNDLE_STAMPS, CATALOG, MODEL_OVERRIDES, MODELS, PERSONA_NAMES, PERSONAS, PROVIDER_NAMES,
    PROVIDER_USES, PROVIDERS, WORKSPACE_MEMBERS, WORKSPACE_SLUGS, WORKSPACES,
};
use crate::storage::ReadTxn;
use crate::tx::Tx;
use crate::workspace::{NewWorkspace, WorkspacePatch};
use crate::{account, model, persona, provider, routing, workspace};

/// One step of performing a plan.
#[derive(Debug, Clone)]
enum Step {
    ProviderCreate(usize),
    ProviderUpdate {
        i: usize,
        id: ProviderId,
        settings: bool,
        auth: bool,
    },
    ProviderRemove(ProviderId),
    PersonaCreate(usize),
    PersonaUpdate(usize, String),
    PersonaRemove(String),
    WorkspaceCreate(usize),
    WorkspaceRestore(usize),
    WorkspaceSettings(usize),
    WorkspaceArchive(WorkspaceId),
    Release(BundleKind, String),
    MemberAdd(usize, String),
    MemberRemove(usize, String),
    ModelCreate(usize, usize),
    ModelStatus(usize, usize),
    ModelReplace(usize, usize),
    ModelRemove(usize, String),
    StatusSet(usize, String, ModelStatus),
    StatusReset(usize, String),
}

/// A computed plan and the steps that perform it.
pub(super) struct Draft {
    changes: Vec<PlannedChange>,
    conflicts: Vec<BundleConflict>,
    steps: Vec<Step>,
}

impl Draft {
    pub(super) fn finish(
        &self,
        bundle: &Bundle,
        keys: &[Option<Secret>],
        applied: bool,
    ) -> Result<BundlePlan> {
        Ok(BundlePlan {
            bundle: bundle.bundle.clone(),
            fingerprint: fingerprint(&bundle.bundle, &self.changes, &self.conflicts, keys)?,
            changes: self.changes.clone(),
            conflicts: self.conflicts.clone(),
            applied,
        })
    }

    pub(super) fn has_conflicts(&self) -> bool {
        !self.conflicts.is_empty()
    }
}

/// The stamps of an account: (kind, id) → bundle key.
struct Stamps(BTreeMap<(String, String), String>);

impl Stamps {
    fn load(txn: &dyn ReadTxn, account: AccountId) -> Result<Self> {
        let mut map = BTreeMap::new();
        for stamp in BUNDLE_STAMPS.values_with_prefix(txn, &(account,))? {
            map.insert((stamp.kind, stamp.id), stamp.bundle);
        }
        Ok(Self(map))
    }

    fn owner(&self, kind: BundleKind, id: &str) -> Option<&str> {
        self.0
            .get(&(kind.as_str().to_owned(), id.to_owned()))
            .map(String::as_str)
    }

    fn owned_by<'a>(&'a self, kind: BundleKind, bundle: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |((k, _), b)| k == kind.as_str() && b.as_str() == bundle)
            .map(|((_, id), _)| id.as_str())
    }
}

fn stamp(tx: &mut Tx<'_>, caller: &Caller, kind: BundleKind, id: &str, bundle: &str) -> Result<()> {
    let key = (caller.account, kind.as_str().to_owned(), id.to_owned());
    if BUNDLE_STAMPS.get(&*tx, &key)?.map(|s| s.bundle).as_deref() != Some(bundle) {
        BUNDLE_STAMPS.put(
            &mut *tx,
            &key,
            &BundleStamp {
                bundle: bundle.to_owned(),
                kind: kind.as_str().to_owned(),
                id: id.to_owned(),
            },
        )?;
    }
    Ok(())
}

fn unstamp(tx: &mut Tx<'_>, caller: &Caller, kind: BundleKind, id: &str) -> Result<()> {
    BUNDLE_STAMPS.delete(
        &mut *tx,
        &(caller.account, kind.as_str().to_owned(), id.to_owned()),
    )?;
    Ok(())
}

/// `before` → `after`, field by field (absent and null are the same: unset).
fn field_diff(
    before: &BTreeMap<&'static str, Value>,
    after: &BTreeMap<&'static str, Value>,
) -> BTreeMap<String, FieldChange> {
    let keys: BTreeSet<&str> = before.keys().chain(after.keys()).copied().collect();
    // Unset, null, "" and empty lists and maps are all "none".
    let some = |v: Option<&Value>| {
        v.filter(|v| match v {
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        })
        .cloned()
    };
    keys.into_iter()
        .filter_map(|k| {
            let (b, a) = (some(before.get(k)), some(after.get(k)));
            (b != a).then(|| {
                (
                    k.to_owned(),
                    FieldChange {
                        before: b,
                        after: a,
                        secret: false,
                    },
                )
            })
        })
        .collect()
}

fn json(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn secret_change() -> FieldChange {
    FieldChange {
        before: None,
        after: None,
        secret: true,
    }
}

/// A provider's settings as compared, with defaults made explicit.
fn provider_settings(p: &BundleProvider) -> BTreeMap<&'static str, Value> {
    // As stored: a given endpoint normalised as `provider_add` does (no trailing `/`), else
    // the type's default.
    let endpoint = match &p.endpoint {
        Some(e) => Some(provider::check_endpoint("endpoint", e).unwrap_or_else(|_| e.clone())),
        None => p.provider_type.default_endpoint().map(str::to_owned),
    };
    let auth = p.auth_type.unwrap_or(if p.api_key.is_some() {
        AuthType::ApiKey
    } else {
        AuthType::None
    });
    BTreeMap::from([
        ("name", json(&p.name)),
        ("description", json(&p.description)),
        ("provider_type", json(p.provider_type)),
        ("endpoint", json(endpoint)),
        ("auth_type", json(auth)),
    ])
}

/// A stored provider as a bundle declares it (its key as a reference to the environment
/// variable `bundle_export` names), and its stored key.
pub(super) fn provider_view(rec: &ProviderRecord, _: Option<()>) -> (BundleProvider, Option<&str>) {
    let p = &rec.provider;
    let has_key = rec.api_key.is_some();
    let default_auth = if has_key {
        AuthType::ApiKey
    } else {
        AuthType::None
    };
    (
        BundleProvider {
            name: p.name.clone(),
            description: p.description.clone(),
            provider_type: p.provider_type,
            endpoint: (p.provider_type.default_endpoint() != Some(p.endpoint.as_str()))
                .then(|| p.endpoint.clone()),
            auth_type: (p.auth_type != default_auth).then_some(p.auth_type),
            api_key: has_key.then(|| SecretRef::Env(super::provider_key_env(&p.name))),
        },
        rec.api_key.as_deref(),
    )
}

/// A workspace's settings as compared (everything but members and models).
fn workspace_settings(w: &BundleWorkspace) -> BTreeMap<&'static str, Value> {
    BTreeMap::from([
        ("name", json(&w.name)),
        ("description", json(&w.description)),
        ("default_text_model", json(&w.default_text_model)),
        ("default_image_model", json(&w.default_image_model)),
        ("default_provider_sort", json(w.default_provider_sort)),
        ("io_logging_sampling_rate", json(w.io_logging_sampling_rate)),
        (
            "is_data_discount_logging_enabled",
            json(w.is_data_discount_logging_enabled),
        ),
        (
            "is_observability_broadcast_enabled",
            json(w.is_observability_broadcast_enabled),
        ),
        (
            "is_observability_io_logging_enabled",
            json(w.is_observability_io_logging_enabled),
        ),
        ("labels", json(&w.labels)),
        ("usage_retention_days", json(w.usage_retention_days)),
        ("custom_instructions", json(&w.custom_instructions)),
        ("mux_rules", json(&w.mux_rules)),
    ])
}

fn model_settings(m: &BundleModel) -> BTreeMap<&'static str, Value> {
    BTreeMap::from([
        (
            "input_price_per_million_tokens",
            json(&m.input_price_per_million_tokens),
        ),
        (
            "output_price_per_million_tokens",
            json(&m.output_price_per_million_tokens),
        ),
        ("max_input_tokens", json(m.max_input_tokens)),
        ("max_output_tokens", json(m.max_output_tokens)),
        ("labels", json(&m.labels)),
        ("external_id", json(&m.external_id)),
        ("status", json(m.status)),
        ("output", json(m.output)),
        ("output_price_per_image", json(&m.output_price_per_image)),
    ])
}

fn model_view(m: &Model) -> BundleModel {
    BundleModel {
        provider: m.spec.provider.clone(),
        family: m.spec.family.clone(),
        input_price_per_million_tokens: m.spec.input_price_per_million_tokens.clone(),
        output_price_per_million_tokens: m.spec.output_price_per_million_tokens.clone(),
        max_input_tokens: m.spec.max_input_tokens,
        max_output_tokens: m.spec.max_output_tokens,
        labels: m.metadata.labels.clone().unwrap_or_default(),
        external_id: m.metadata.external_id.clone(),
        status: m.spec.status,
        output: m.spec.output,
        output_price_per_image: m.spec.output_price_per_image.clone(),
    }
}

/// A stored workspace as a bundle declares it.
pub(super) fn workspace_view(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: &WorkspaceRecord,
) -> Result<BundleWorkspace> {
    let config = routing::load_config(txn, account, ws.id)?;
    let mut names: HashMap<ProviderId, String> = HashMap::new();
    let mut mux_rules = Vec::with_capacity(config.mux_rules.len());
    for r in &config.mux_rules {
        let name = match names.get(&r.provider_id) {
            Some(n) => n.clone(),
            None => {
                let p = PROVIDERS
                    .get(txn, &(account, r.provider_id))?
                    .ok_or_else(|| {
                        Error::Corrupt(format!(
                            "a mux rule names provider {}, which does not exist",
                            r.provider_id
                        ))
                    })?;
                names.insert(r.provider_id, p.provider.name.clone());
                p.provider.name
            }
        };
        mux_rules.push(BundleRule {
            provider: name,
            model: r.model.clone(),
            matcher_type: r.matcher_type,
            matcher: r.matcher.clone(),
        });
    }
    let mut members: Vec<String> = WORKSPACE_MEMBERS
        .values_with_prefix(txn, &(account, ws.id))?
        .into_iter()
        .map(|m| m.user_id.to_string())
        .collect();
    members.sort();
    let mut models: Vec<BundleModel> = MODELS
        .values_with_prefix(txn, &(account, ws.id))?
        .iter()
        .map(model_view)
        .collect();
    models.sort_by(|a, b| (&a.provider, &a.family).cmp(&(&b.provider, &b.family)));
    let mut model_status = BTreeMap::new();
    for (raw, o) in MODEL_OVERRIDES.scan_prefix(txn, &(account, ws.id))? {
        if let Some((_, _, provider, family)) = MODEL_OVERRIDES.key_of(&raw)
            && o.status != ModelStatus::Enabled
        {
            model_status.insert(format!("{provider}/{family}"), o.status);
        }
    }
    Ok(BundleWorkspace {
        slug: ws.slug.clone(),
        name: ws.name.clone(),
        description: ws.description.clone(),
        default_text_model: ws.default_text_model.clone(),
        default_image_model: ws.default_image_model.clone(),
        default_provider_sort: ws.default_provider_sort,
        io_logging_sampling_rate: ws.io_logging_sampling_rate,
        is_data_discount_logging_enabled: ws.is_data_discount_logging_enabled,
        is_observability_broadcast_enabled: ws.is_observability_broadcast_enabled,
        is_observability_io_logging_enabled: ws.is_observability_io_logging_enabled,
        labels: ws.labels.clone(),
        usage_retention_days: ws.usage_retention_days,
        custom_instructions: config.custom_instructions.clone(),
        mux_rules,
        members,
        models,
        model_status,
    })
}

/// What the plan is computing, and what it has found so far.
struct Planner<'a> {
    txn: &'a dyn ReadTxn,
    account: AccountId,
    bundle: &'a Bundle,
    keys: &'a [Option<Secret>],
    adopt: bool,
    stamps: Stamps,
    changes: Vec<PlannedChange>,
    removals: Vec<PlannedChange>,
    conflicts: Vec<BundleConflict>,
    steps: Vec<Step>,
    late_steps: Vec<Step>,
}

fn change(action: PlanAction, kind: BundleKind, name: String) -> PlannedChange {
    PlannedChange {
        action,
        kind,
        name,
        fields: BTreeMap::new(),
        removal: None,
        note: None,
    }
}

impl Planner<'_> {
    /// Workspace `w` as it will be stored: each rule's provider by the name the bundle
    /// declares it with (or, for one it does not declare, its stored name: rules accept any
    /// case and ids), an empty matcher as none.
    fn canonical(&self, w: &BundleWorkspace) -> BundleWorkspace {
        let mut w = w.clone();
        for r in &mut w.mux_rules {
            let lower = r.provider.to_lowercase();
            if let Some(p) = self
                .bundle
                .providers
                .iter()
                .find(|p| p.name.to_lowercase() == lower)
            {
                r.provider = p.name.clone();
            } else if let Ok(rec) =
                provider::resolve(self.txn, self.account, "provider", &r.provider)
            {
                r.provider = rec.provider.name;
            }
            if r.matcher.as_deref() == Some("") {
                r.matcher = None;
            }
        }
        w
    }

    /// Whether a declared, existing resource may be changed: it is this bundle's, or adopted
    /// (with a note on `ch`). Otherwise it is a conflict.
    fn managed(&mut self, kind: BundleKind, id: &str, name: &str) -> (bool, Option<String>) {
        match self.stamps.owner(kind, id) {
            Some(b) if b == self.bundle.bundle => (true, None),
            owner => {
                let owner = owner.map(str::to_owned);
                if self.adopt {
                    let note = match &owner {
                        Some(b) => format!("adopted from bundle {b:?}"),
                        None => "adopted: it was created outside any bundle".to_owned(),
                    };
                    (true, Some(note))
                } else {
                    self.conflicts.push(BundleConflict {
                        kind,
                        name: name.to_owned(),
                        owner,
                    });
                    (false, None)
                }
            }
        }
    }

    fn providers(&mut self) -> Result<()> {
        let mut declared = BTreeSet::new();
        for (i, p) in self.bundle.providers.iter().enumerate() {
            declared.insert(p.name.to_lowercase());
            let want = provider_settings(p);
            let current =
                match PROVIDER_NAMES.get(self.txn, &(self.account, p.name.to_lowercase()))? {
                    Some(id) => PROVIDERS.get(self.txn, &(self.account, id))?,
                    None => None,
                };
            let Some(rec) = current else {
                let mut ch = change(PlanAction::Create, BundleKind::Provider, p.name.clone());
                ch.fields = field_diff(&BTreeMap::new(), &want);
                if p.api_key.is_some() {
                    ch.fields.insert("api_key".into(), secret_change());
                }
                self.changes.push(ch);
                self.steps.push(Step::ProviderCreate(i));
                continue;
            };
            let id = rec.provider.id;
            let (ok, note) = self.managed(BundleKind::Provider, &id.to_string(), &p.name);
            if !ok {
                continue;
            }
            let (view, stored_key) = provider_view(&rec, None);
            let mut have = provider_settings(&view);
            // The view infers auth from the stored key; compare with what is stored.
            have.insert("auth_type", json(rec.provider.auth_type));
            have.insert("endpoint", json(&rec.provider.endpoint));
            let mut fields = field_diff(&have, &want);
            let settings = ["name", "description", "provider_type", "endpoint"]
                .iter()
                .any(|f| fields.contains_key(*f));
            let key_changed = self.keys[i].as_ref().map(Secret::expose) != stored_key;
            if key_changed {
                fields.insert("api_key".into(), secret_change());
            }
            let auth = key_changed || fields.contains_key("auth_type");
            if fields.is_empty() && note.is_none() {
                continue;
            }
            let mut ch = change(PlanAction::Update, BundleKind::Provider, p.name.clone());
            ch.fields = fields;
            ch.note = note;
            self.changes.push(ch);
            self.steps.push(Step::ProviderUpdate {
                i,
                id,
                settings,
                auth,
            });
        }
        let owned: Vec<String> = self
            .stamps
            .owned_by(BundleKind::Provider, &self.bundle.bundle)
            .map(str::to_owned)
            .collect();
        for id in owned {
            let Ok(pid) = ProviderId::parse_field(&id, "id") else {
                continue;
            };
            if let Some(rec) = PROVIDERS.get(self.txn, &(self.account, pid))?
                && !declared.contains(&rec.provider.name.to_lowercase())
            {
                let mut ch = change(
                    PlanAction::Remove,
                    BundleKind::Provider,
                    rec.provider.name.clone(),
                );
                ch.removal = Some(Removal::Delete);
                ch.note = Some(
                    "deleted; refused while a rule of a workspace outside the bundle names it"
                        .into(),
                );
                self.removals.push(ch);
                self.late_steps.push(Step::ProviderRemove(pid));
            }
        }
        Ok(())
    }

    fn personas(&mut self) -> Result<()> {
        let mut declared = BTreeSet::new();
        for (i, p) in self.bundle.personas.iter().enumerate() {
            declared.insert(p.name.to_lowercase());
            let want = BTreeMap::from([
                ("name", json(&p.name)),
                ("description", json(&p.description)),
            ]);
            let current =
                match PERSONA_NAMES.get(self.txn, &(self.account, p.name.to_lowercase()))? {
                    Some(id) => PERSONAS.get(self.txn, &(self.account, id))?,
                    None => None,
                };
            let Some(cur) = current else {
                let mut ch = change(PlanAction::Create, BundleKind::Persona, p.name.clone());
                ch.fields = field_diff(&BTreeMap::new(), &want);
                self.changes.push(ch);
                self.steps.push(Step::PersonaCreate(i));
                continue;
            };
            let (ok, note) = self.managed(BundleKind::Persona, &cur.id.to_string(), &p.name);
            if !ok {
                continue;
            }
            let have = BTreeMap::from([
                ("name", json(&cur.name)),
                ("description", json(&cur.description)),
            ]);
            let fields = field_diff(&have, &want);
            if fields.is_empty() && note.is_none() {
                continue;
            }
            let mut ch = change(PlanAction::Update, BundleKind::Persona, p.name.clone());
            ch.fields = fields;
            ch.note = note;
            self.changes.push(ch);
            self.steps.push(Step::PersonaUpdate(i, cur.id.to_string()));
        }
        let owned: Vec<String> = self
            .stamps
            .owned_by(BundleKind::Persona, &self.bundle.bundle)
            .map(str::to_owned)
            .collect();
        for id in owned {
            let Ok(pid) = crate::ids::PersonaId::parse_field(&id, "id") else {
                continue;
            };
            if let Some(p) = PERSONAS.get(self.txn, &(self.account, pid))?
                && !declared.contains(&p.name.to_lowercase())
            {
                let mut ch = change(PlanAction::Remove, BundleKind::Persona, p.name.clone());
                ch.removal = Some(Removal::Delete);
                self.removals.push(ch);
                self.steps.push(Step::PersonaRemove(id));
            }
        }
        Ok(())
    }

    fn workspaces(&mut self) -> Result<()> {
        let mut declared = BTreeSet::new();
        for (i, w) in self.bundle.workspaces.iter().enumerate() {
            declared.insert(w.slug.clone());
            let want = workspace_settings(&self.canonical(w));
            let current = match WORKSPACE_SLUGS.get(self.txn, &(self.account, w.slug.clone()))? {
                Some(id) => WORKSPACES.get(self.txn, &(self.account, id))?,
                None => None,
            };
            let Some(ws) = current else {
                let defaults = workspace_settings(&BundleWorkspace::new(&w.slug, ""));
                let mut ch = change(PlanAction::Create, BundleKind::Workspace, w.slug.clone());
                ch.fields = field_diff(&defaults, &want);
                ch.fields.insert(
                    "name".into(),
                    FieldChange {
                        before: None,
                        after: Some(json(&w.name)),
                        secret: false,
                    },
                );
                self.changes.push(ch);
                self.steps.push(Step::WorkspaceCreate(i));
                self.contents(i, None, &BundleWorkspace::new(&w.slug, &w.name))?;
                continue;
            };
            let (ok, note) = self.managed(BundleKind::Workspace, &ws.id.to_string(), &w.slug);
            if !ok {
                continue;
            }
            let have = workspace_view(self.txn, self.account, &ws)?;
            let mut fields = field_diff(&workspace_settings(&have), &want);
            let settings = !fields.is_empty();
            let mut note = note;
            if ws.archived_at.is_some() {
                fields.insert(
                    "archived".into(),
                    FieldChange {
                        before: Some(Value::Bool(true)),
                        after: Some(Value::Bool(false)),
                        secret: false,
                    },
                );
                note.get_or_insert_with(|| "restored: it was archived".to_owned());
                self.steps.push(Step::WorkspaceRestore(i));
            }
            if !fields.is_empty() || note.is_some() {
                let mut ch = change(PlanAction::Update, BundleKind::Workspace, w.slug.clone());
                ch.fields = fields;
                ch.note = note;
                self.changes.push(ch);
            }
            if settings {
                self.steps.push(Step::WorkspaceSettings(i));
            }
            self.contents(i, Some(ws.id), &have)?;
        }
        let owned: Vec<String> = self
            .stamps
            .owned_by(BundleKind::Workspace, &self.bundle.bundle)
            .map(str::to_owned)
            .collect();
        for id in owned {
            let Ok(wid) = WorkspaceId::parse(&id).ok_or(()) else {
                continue;
            };
            if let Some(ws) = WORKSPACES.get(self.txn, &(self.account, wid))?
                && ws.archived_at.is_none()
                && !declared.contains(&ws.slug)
            {
                let acct = account::load(self.txn, self.account)?;
                let kept = if acct.default_workspace_id == wid {
                    Some("the default workspace")
                } else if acct.active_workspace() == wid {
                    Some("the active workspace")
                } else {
                    None
                };
                if let Some(which) = kept {
                    let mut ch = change(PlanAction::Remove, BundleKind::Workspace, ws.slug.clone());
                    ch.removal = Some(Removal::Release);
                    ch.note = Some(format!(
                        "{which} cannot be archived: it is left as it is and no longer managed \
                         by the bundle"
                    ));
                    self.removals.push(ch);
                    self.late_steps
                        .push(Step::Release(BundleKind::Workspace, id));
                    continue;
                }
                let mut ch = change(PlanAction::Remove, BundleKind::Workspace, ws.slug.clone());
                ch.removal = Some(Removal::Archive);
                ch.note = Some(
                    "archived, not deleted: its usage history and keys stay; declaring it \
                     again restores it"
                        .into(),
                );
                self.removals.push(ch);
                self.late_steps.push(Step::WorkspaceArchive(wid));
            }
        }
        Ok(())
    }

    /// Members, custom models and model statuses of declared workspace `i` (`id` = `None`
    /// when it is created by the plan; `have` = its current contents).
    fn contents(
        &mut self,
        i: usize,
        id: Option<WorkspaceId>,
        have: &BundleWorkspace,
    ) -> Result<()> {
        let w = &self.bundle.workspaces[i];
        let ws_key = |rest: &str| id.map(|id| format!("{id}/{rest}"));
        let owned = |stamps: &Stamps, kind, key: &Option<String>| {
            key.as_deref().and_then(|k| stamps.owner(kind, k)) == Some(self.bundle.bundle.as_str())
        };
        // Members.
        let current: BTreeSet<&str> = have.members.iter().map(String::as_str).collect();
        let wanted: BTreeSet<&str> = w.members.iter().map(String::as_str).collect();
        for user in &wanted {
            if !current.contains(user) {
                let ch = change(
                    PlanAction::Create,
                    BundleKind::Member,
                    format!("{}/{user}", w.slug),
                );
                self.changes.push(ch);
                self.steps.push(Step::MemberAdd(i, (*user).to_owned()));
            }
        }
        for user in &current {
            if !wanted.contains(user) && owned(&self.stamps, BundleKind::Member, &ws_key(user)) {
                let mut ch = change(
                    PlanAction::Remove,
                    BundleKind::Member,
                    format!("{}/{user}", w.slug),
                );
                ch.removal = Some(Removal::Delete);
                self.removals.push(ch);
                self.steps.push(Step::MemberRemove(i, (*user).to_owned()));
            }
        }
        // Custom models.
        let have_models: BTreeMap<String, &BundleModel> = have
            .models
            .iter()
            .map(|m| (format!("{}/{}", m.provider, m.family), m))
            .collect();
        let mut wanted_models = BTreeSet::new();
        for (j, m) in w.models.iter().enumerate() {
            let reference = format!("{}/{}", m.provider, m.family);
            wanted_models.insert(reference.clone());
            let name = format!("{}/{reference}", w.slug);
            let want = model_settings(m);
            let Some(cur) = have_models.get(&reference) else {
                let mut ch = change(PlanAction::Create, BundleKind::Model, name);
                ch.fields = field_diff(&BTreeMap::new(), &want);
                self.changes.push(ch);
                self.steps.push(Step::ModelCreate(i, j));
                continue;
            };
            let key = ws_key(&reference).unwrap_or_default();
            let (ok, note) = self.managed(BundleKind::Model, &key, &name);
            if !ok {
                continue;
            }
            let fields = field_diff(&model_settings(cur), &want);
            let only_status = fields.keys().all(|f| f == "status");
            let mut ch = change(PlanAction::Update, BundleKind::Model, name);
            ch.note = note;
            if !fields.is_empty() {
                let step = if only_status {
                    Step::ModelStatus(i, j)
                } else {
                    Step::ModelReplace(i, j)
                };
                // Enabled before the workspace's settings (which may name it), disabled after
                // them (which may stop naming it).
                if m.status == ModelStatus::Enabled {
                    self.steps.push(step);
                } else {
                    self.late_steps.push(step);
                }
            }
            ch.fields = fields;
            if !ch.fields.is_empty() || ch.note.is_some() {
                self.changes.push(ch);
            }
        }
        for reference in have_models.keys() {
            if !wanted_models.contains(reference)
                && owned(&self.stamps, BundleKind::Model, &ws_key(reference))
            {
                let mut ch = change(
                    PlanAction::Remove,
                    BundleKind::Model,
                    format!("{}/{reference}", w.slug),
                );
                ch.removal = Some(Removal::Delete);
                self.removals.push(ch);
                self.late_steps
                    .push(Step::ModelRemove(i, reference.clone()));
            }
        }
        // Catalog model statuses.
        for (reference, status) in &w.model_status {
            let name = format!("{}/{reference}", w.slug);
            let (provider, family) = reference.split_once('/').unwrap_or((reference, ""));
            if CATALOG
                .get(self.txn, &(provider.to_owned(), family.to_owned()))?
                .is_none()
            {
                return Err(Error::invalid(
                    format!("workspaces[{i}].model_status.{reference}"),
                    "is not a model of the catalog; a custom model's status is given in \
                     `models`",
                ));
            }
            let stored = match id {
                Some(id) => MODEL_OVERRIDES.get(
                    self.txn,
                    &(self.account, id, provider.to_owned(), family.to_owned()),
                )?,
                None => None,
            };
            let current = stored.as_ref().map_or(ModelStatus::Enabled, |o| o.status);
            if current == *status {
                continue;
            }
            let key = ws_key(reference);
            let mut note = None;
            if stored.is_some() && !owned(&self.stamps, BundleKind::ModelStatus, &key) {
                let (ok, n) =
                    self.managed(BundleKind::ModelStatus, key.as_deref().unwrap_or(""), &name);
                if !ok {
                    continue;
                }
                note = n;
            }
            let mut ch = change(PlanAction::Update, BundleKind::ModelStatus, name);
            ch.fields.insert(
                "status".into(),
                FieldChange {
                    before: Some(json(current)),
                    after: Some(json(status)),
                    secret: false,
                },
            );
            ch.note = note;
            self.changes.push(ch);
            let step = Step::StatusSet(i, reference.clone(), *status);
            if *status == ModelStatus::Enabled {
                self.steps.push(step);
            } else {
                self.late_steps.push(step);
            }
        }
        if let Some(id) = id {
            let prefix = format!("{id}/");
            let owned_statuses: Vec<String> = self
                .stamps
                .owned_by(BundleKind::ModelStatus, &self.bundle.bundle)
                .filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned))
                .collect();
            for reference in owned_statuses {
                if !w.model_status.contains_key(&reference) {
                    let mut ch = change(
                        PlanAction::Remove,
                        BundleKind::ModelStatus,
                        format!("{}/{reference}", w.slug),
                    );
                    ch.removal = Some(Removal::Reset);
                    self.removals.push(ch);
                    self.steps.push(Step::StatusReset(i, reference));
                }
            }
        }
        Ok(())
    }
}

/// The plan of `bundle` against the database `txn` reads.
pub(super) fn plan(
    txn: &dyn ReadTxn,
    account: AccountId,
    bundle: &Bundle,
    keys: &[Option<Secret>],
    adopt: bool,
) -> Result<Draft> {
    let mut p = Planner {
        txn,
        account,
        bundle,
        keys,
        adopt,
        stamps: Stamps::load(txn, account)?,
        changes: Vec::new(),
        removals: Vec::new(),
        conflicts: Vec::new(),
        steps: Vec::new(),
        late_steps: Vec::new(),
    };
    p.providers()?;
    p.personas()?;
    p.workspaces()?;
    let mut changes = p.changes;
    changes.extend(p.removals);
    // Creates and updates first; then the settings of workspaces (their defaults and rules
    // may name models and providers created above); then what disables or removes (a model
    // or provider leaves only once nothing names it any more).
    let mut steps = p.steps;
    steps.sort_by_key(|s| match s {
        Step::ProviderCreate(_) | Step::ProviderUpdate { .. } => 0,
        // A removed persona's description no longer blocks a similar one (a rename).
        Step::PersonaRemove(_) => 1,
        Step::PersonaCreate(_) | Step::PersonaUpdate(..) => 2,
        Step::WorkspaceCreate(_) | Step::WorkspaceRestore(_) => 2,
        Step::MemberAdd(..) | Step::MemberRemove(..) => 3,
        Step::ModelCreate(..)
        | Step::StatusSet(..)
        | Step::StatusReset(..)
        | Step::ModelStatus(..)
        | Step::ModelReplace(..) => 4,
        Step::WorkspaceSettings(_) => 5,
        _ => 6,
    });
    // A created workspace gets its defaults and rules once its models exist.
    let created: Vec<usize> = steps
        .iter()
        .filter_map(|s| match s {
            Step::WorkspaceCreate(i) => Some(*i),
            _ => None,
        })
        .collect();
    steps.extend(created.into_iter().map(Step::WorkspaceSettings));
    let mut late = p.late_steps;
    late.sort_by_key(|s| match s {
        Step::ModelStatus(..) | Step::ModelReplace(..) | Step::StatusSet(..) => 0,
        Step::ModelRemove(..) => 1,
        Step::WorkspaceArchive(_) => 2,
        _ => 3,
    });
    steps.extend(late);
    Ok(Draft {
        changes,
        conflicts: p.conflicts,
        steps,
    })
}

/// Names errors of step `path` by their place in the bundle; a resource the bundle names that
/// does not exist is bad input there, not a missing resource of the request.
fn at(path: String) -> impl FnOnce(Error) -> Error {
    move |e| match e {
        Error::InvalidArgument { field, reason } => Error::InvalidArgument {
            field: format!("{path}.{field}"),
            reason,
        },
        Error::Conflict { field, message } => Error::Conflict {
            field: Some(match field {
                Some(f) => format!("{path}.{f}"),
                None => path,
            }),
            message,
        },
        Error::FailedPrecondition { reason, message } => Error::FailedPrecondition {
            reason,
            message: format!("{path}: {message}"),
        },
        Error::NotFound { resource, id } => Error::InvalidArgument {
            field: path,
            reason: format!("{resource} {id:?} not found"),
        },
        other => other,
    }
}

fn new_model(m: &BundleModel) -> NewModel {
    NewModel {
        provider: m.provider.clone(),
        family: m.family.clone(),
        input_price_per_million_tokens: Some(m.input_price_per_million_tokens.clone()),
        output_price_per_million_tokens: Some(m.output_price_per_million_tokens.clone()),
        max_input_tokens: m.max_input_tokens,
        max_output_tokens: m.max_output_tokens,
        labels: (!m.labels.is_empty()).then(|| m.labels.clone()),
        external_id: m.external_id.clone(),
        status: Some(m.status),
        output: Some(m.output),
        output_price_per_image: m.output_price_per_image.clone(),
    }
}

fn rules(w: &BundleWorkspace) -> Vec<NewMuxRule> {
    w.mux_rules
        .iter()
        .map(|r| NewMuxRule {
            provider: r.provider.clone(),
            provider_type: None,
            model: r.model.clone(),
            matcher_type: r.matcher_type,
            matcher: r.matcher.clone(),
        })
        .collect()
}

fn set<T: Clone>(v: &Option<T>) -> Patch<T> {
    match v {
        Some(v) => Patch::Set(v.clone()),
        None => Patch::Clear,
    }
}

/// Registers custom model `j` of workspace `i` and marks it as the bundle's (its
/// `metadata.bundle_key`, seed 003's field).
fn register(tx: &mut Tx<'_>, caller: &Caller, bundle: &Bundle, i: usize, j: usize) -> Result<()> {
    let w = &bundle.workspaces[i];
    let mut m = model::register_in(tx, caller, Some(&w.slug), &new_model(&w.models[j]))?;
    m.metadata.bundle_key = Some(bundle.bundle.clone());
    MODELS.put(
        &mut *tx,
        &(caller.account, m.metadata.workspace_id, m.metadata.id),
        &m,
    )?;
    Ok(())
}

fn workspace_id(tx: &Tx<'_>, caller: &Caller, slug: &str) -> Result<WorkspaceId> {
    WORKSPACE_SLUGS
        .get(tx, &(caller.account, slug.to_owned()))?
        .ok_or_else(|| Error::not_found("workspace", slug))
}

/// Performs the steps of `draft` in `tx`, then stamps what the bundle now manages.
pub(super) fn execute(
    tx: &mut Tx<'_>,
    caller: &Caller,
    bundle: &Bundle,
    keys: &[Option<Secret>],
    draft: &Draft,
) -> Result<()> {
    let b = bundle.bundle.as_str();
    for step in &draft.steps {
        match step {
            Step::ProviderCreate(i) => {
                let p = &bundle.providers[*i];
                provider::add_in(
                    tx,
                    caller,
                    &provider::NewProvider {
                        name: p.name.clone(),
                        description: (!p.description.is_empty()).then(|| p.description.clone()),
                        provider_type: p.provider_type,
                        endpoint: p.endpoint.clone(),
                        auth_type: p.auth_type,
                        api_key: keys[*i].clone(),
                    },
                )
                .map_err(at(format!("providers[{i}]")))?;
            }
            Step::ProviderUpdate {
                i,
                id,
                settings,
                auth,
            } => {
                let p = &bundle.providers[*i];
                let id = id.to_string();
                let path = format!("providers[{i}]");
                if *settings {
                    let patch = ProviderPatch {
                        expected_revision: None,
                        name: Some(p.name.clone()),
                        description: if p.description.is_empty() {
                            Patch::Clear
                        } else {
                            Patch::Set(p.description.clone())
                        },
                        provider_type: Some(p.provider_type),
                        endpoint: set(&p.endpoint),
                    };
                    provider::update_in(tx, caller, &id, &patch).map_err(at(path.clone()))?;
                }
                if *auth {
                    let auth_type = p.auth_type.unwrap_or(if keys[*i].is_some() {
                        AuthType::ApiKey
                    } else {
                        AuthType::None
                    });
                    provider::set_auth_in(tx, caller, &id, auth_type, keys[*i].as_ref(), None)
                        .map_err(at(path))?;
                }
            }
            Step::ProviderRemove(pid) => {
                // Rules of the bundle's own archived workspaces go with the provider; a rule
                // of any other workspace refuses the deletion.
                let mut cascade = false;
                for u in PROVIDER_USES.values_with_prefix(&*tx, &(caller.account, *pid))? {
                    let archived = WORKSPACES
                        .get(&*tx, &(caller.account, u.workspace_id))?
                        .is_some_and(|w| w.archived_at.is_some());
                    let ours = BUNDLE_STAMPS
                        .get(
                            &*tx,
                            &(
                                caller.account,
                                BundleKind::Workspace.as_str().to_owned(),
                                u.workspace_id.to_string(),
                            ),
                        )?
                        .is_some_and(|st| st.bundle == b);
                    cascade = archived && ours;
                    if !cascade {
                        break;
                    }
                }
                let id = pid.to_string();
                provider::delete_in(tx, caller, &id, cascade)
                    .map_err(at(format!("providers ({id})")))?;
                unstamp(tx, caller, BundleKind::Provider, &id)?;
            }
            Step::PersonaCreate(i) => {
                let p = &bundle.personas[*i];
                persona::create_in(tx, caller, &p.name, &p.description)
                    .map_err(at(format!("personas[{i}]")))?;
            }
            Step::PersonaUpdate(i, id) => {
                let p = &bundle.personas[*i];
                let patch = PersonaPatch {
                    new_name: Some(p.name.clone()),
                    new_description: Some(p.description.clone()),
                };
                persona::update_in(tx, caller, id, &patch).map_err(at(format!("personas[{i}]")))?;
            }
            Step::PersonaRemove(id) => {
                persona::delete_in(tx, caller, id).map_err(at(format!("personas ({id})")))?;
                unstamp(tx, caller, BundleKind::Persona, id)?;
            }
            Step::WorkspaceCreate(i) => {
                let w = &bundle.workspaces[*i];
                let new = NewWorkspace {
                    name: w.name.clone(),
                    slug: w.slug.clone(),
                    description: w.description.clone(),
                    default_provider_sort: w.default_provider_sort,
                    io_logging_sampling_rate: Some(w.io_logging_sampling_rate),
                    is_data_discount_logging_enabled: Some(w.is_data_discount_logging_enabled),
                    is_observability_broadcast_enabled: Some(w.is_observability_broadcast_enabled),
                    is_observability_io_logging_enabled: Some(
                        w.is_observability_io_logging_enabled,
                    ),
                    labels: (!w.labels.is_empty()).then(|| w.labels.clone()),
                    custom_instructions: w.custom_instructions.clone(),
                    usage_retention_days: w.usage_retention_days,
                    ..Default::default()
                };
                workspace::create_in(tx, caller, &new).map_err(at(format!("workspaces[{i}]")))?;
            }
            Step::WorkspaceRestore(i) => {
                let w = &bundle.workspaces[*i];
                workspace::lifecycle::restore_in(tx, caller, &w.slug)
                    .map_err(at(format!("workspaces[{i}]")))?;
            }
            Step::WorkspaceSettings(i) => {
                let w = &bundle.workspaces[*i];
                let patch = WorkspacePatch {
                    expected_revision: None,
                    name: Patch::Set(w.name.clone()),
                    slug: Patch::Keep,
                    description: set(&w.description),
                    default_text_model: set(&w.default_text_model),
                    default_image_model: set(&w.default_image_model),
                    default_provider_sort: set(&w.default_provider_sort),
                    io_logging_api_key_ids: Patch::Keep,
                    io_logging_sampling_rate: Patch::Set(w.io_logging_sampling_rate),
                    is_data_discount_logging_enabled: Patch::Set(
                        w.is_data_discount_logging_enabled,
                    ),
                    is_observability_broadcast_enabled: Patch::Set(
                        w.is_observability_broadcast_enabled,
                    ),
                    is_observability_io_logging_enabled: Patch::Set(
                        w.is_observability_io_logging_enabled,
                    ),
                    labels: Patch::Set(w.labels.clone()),
                    custom_instructions: set(&w.custom_instructions),
                    mux_rules: Some(rules(w)),
                    usage_retention_days: set(&w.usage_retention_days),
                };
                workspace::update_in(tx, caller, &w.slug, &patch)
                    .map_err(at(format!("workspaces[{i}]")))?;
            }
            Step::Release(kind, id) => unstamp(tx, caller, *kind, id)?,
            Step::WorkspaceArchive(id) => {
                let id = id.to_string();
                workspace::lifecycle::archive_in(tx, caller, &id)
                    .map_err(at(format!("workspaces ({id})")))?;
            }
            Step::MemberAdd(i, user) => {
                let w = &bundle.workspaces[*i];
                workspace::members_add_in(tx, caller, &w.slug, std::slice::from_ref(user))
                    .map_err(at(format!("workspaces[{i}].members")))?;
                let id = workspace_id(tx, caller, &w.slug)?;
                stamp(tx, caller, BundleKind::Member, &format!("{id}/{user}"), b)?;
            }
            Step::MemberRemove(i, user) => {
                let w = &bundle.workspaces[*i];
                workspace::members_remove_in(tx, caller, &w.slug, std::slice::from_ref(user))
                    .map_err(at(format!("workspaces[{i}].members")))?;
                let id = workspace_id(tx, caller, &w.slug)?;
                unstamp(tx, caller, BundleKind::Member, &format!("{id}/{user}"))?;
            }
            Step::ModelCreate(i, j) => {
                register(tx, caller, bundle, *i, *j)
                    .map_err(at(format!("workspaces[{i}].models[{j}]")))?;
            }
            Step::ModelStatus(i, j) => {
                let w = &bundle.workspaces[*i];
                let m = &w.models[*j];
                let reference = format!("{}/{}", m.provider, m.family);
                model::set_status_in(tx, caller, Some(&w.slug), &reference, m.status)
                    .map_err(at(format!("workspaces[{i}].models[{j}]")))?;
            }
            Step::ModelReplace(i, j) => {
                let w = &bundle.workspaces[*i];
                let m = &w.models[*j];
                model::replace_in(tx, caller, Some(&w.slug), &new_model(m))
                    .map_err(at(format!("workspaces[{i}].models[{j}]")))?;
            }
            Step::ModelRemove(i, reference) => {
                let w = &bundle.workspaces[*i];
                model::delete_in(tx, caller, Some(&w.slug), reference)
                    .map_err(at(format!("workspaces[{i}].models ({reference})")))?;
                let id = workspace_id(tx, caller, &w.slug)?;
                unstamp(tx, caller, BundleKind::Model, &format!("{id}/{reference}"))?;
            }
            Step::StatusSet(i, reference, status) => {
                let w = &bundle.workspaces[*i];
                model::set_status_in(tx, caller, Some(&w.slug), reference, *status)
                    .map_err(at(format!("workspaces[{i}].model_status.{reference}")))?;
                let id = workspace_id(tx, caller, &w.slug)?;
                stamp(
                    tx,
                    caller,
                    BundleKind::ModelStatus,
                    &format!("{id}/{reference}"),
                    b,
                )?;
            }
            Step::StatusReset(i, reference) => {
                let w = &bundle.workspaces[*i];
                let id = workspace_id(tx, caller, &w.slug)?;
                let (provider, family) = reference.split_once('/').unwrap_or((reference, ""));
                let key = (caller.account, id, provider.to_owned(), family.to_owned());
                if MODEL_OVERRIDES
                    .get(&*tx, &key)?
                    .is_some_and(|o| o.status != ModelStatus::Enabled)
                {
                    model::set_status_in(
                        tx,
                        caller,
                        Some(&w.slug),
                        reference,
                        ModelStatus::Enabled,
                    )
                    .map_err(at(format!("workspaces[{i}].model_status.{reference}")))?;
                }
                unstamp(
                    tx,
                    caller,
                    BundleKind::ModelStatus,
                    &format!("{id}/{reference}"),
                )?;
            }
        }
    }
    // Everything the bundle declares of the kinds it owns whole is now its.
    for p in &bundle.providers {
        let id = PROVIDER_NAMES
            .get(&*tx, &(caller.account, p.name.to_lowercase()))?
            .ok_or_else(|| {
                Error::internal(format!("provider {:?} vanished during apply", p.name))
            })?;
        stamp(tx, caller, BundleKind::Provider, &id.to_string(), b)?;
    }
    for p in &bundle.personas {
        let id = PERSONA_NAMES
            .get(&*tx, &(caller.account, p.name.to_lowercase()))?
            .ok_or_else(|| {
                Error::internal(format!("persona {:?} vanished during apply", p.name))
            })?;
        stamp(tx, caller, BundleKind::Persona, &id.to_string(), b)?;
    }
    for w in &bundle.workspaces {
        let id = workspace_id(tx, caller, &w.slug)?;
        stamp(tx, caller, BundleKind::Workspace, &id.to_string(), b)?;
        for m in &w.models {
            let reference = format!("{}/{}", m.provider, m.family);
            stamp(
                tx,
                caller,
                BundleKind::Model,
                &format!("{id}/{reference}"),
                b,
            )?;
            let (provider, family) = (m.provider.clone(), m.family.clone());
            if let Some(mid) =
                crate::schema::MODEL_REFS.get(&*tx, &(caller.account, id, provider, family))?
                && let Some(mut stored) = MODELS.get(&*tx, &(caller.account, id, mid))?
                && stored.metadata.bundle_key.as_deref() != Some(b)
            {
                stored.metadata.bundle_key = Some(b.to_owned());
                MODELS.put(&mut *tx, &(caller.account, id, mid), &stored)?;
            }
        }
    }
    Ok(())
}
