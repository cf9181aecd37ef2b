//! Model-based check of the domain: random operation sequences run against a store and against
//! a simple reference model; every result must match the model and every invariant must hold.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::api_key::KeyPatch;
use crate::clock::ManualClock;
use crate::error::ErrorKind;
use crate::handle::{Caller, ModelGates};
use crate::member::NewMember;
use crate::open::Options;
use crate::storage::Storage;
use crate::validate::Page;
use crate::workspace::{NewWorkspace, WorkspacePatch};
use crate::{Catalog, ModelFilter, ModelStatus, NewKey, NewModel, Patch};

/// Checks every cross-table invariant of every account in `gates`' store, and that the
/// data-plane snapshot matches the stored keys ([`ModelGates::check`]). Panics on a breach.
pub fn check_invariants(gates: &ModelGates) {
    let report = gates.check().expect("every record decodes");
    assert!(report.is_ok(), "invariants broken: {:#?}", report.problems);
}

#[derive(Debug, Clone)]
enum Op {
    CreateWs(u8),
    RenameWs(u8, u8),
    DeleteWs(u8),
    AddMember(u8, bool),
    RemoveMember(u8),
    SetRole(u8, bool),
    AddToWs(u8, Vec<u8>),
    RemoveFromWs(u8, Vec<u8>),
    CreateKey(u8, u8, Option<u8>),
    DisableKey(u8),
    DeleteKey(u8),
    Advance(u8),
    SetModelStatus(u8, u8, bool),
    RegisterModel(u8, u8),
    DeleteModel(u8, u8),
    SetDefault(u8, Option<u8>),
    AddProvider(u8),
    DeleteProvider(u8, bool),
    /// (workspace, [(provider, model ref)]): one `filename_match "*.r{i}"` rule per entry.
    SetRules(u8, Vec<(u8, u8)>),
}

fn op() -> impl Strategy<Value = Op> {
    let small = 0u8..6;
    prop_oneof![
        small.clone().prop_map(Op::CreateWs),
        (small.clone(), small.clone()).prop_map(|(a, b)| Op::RenameWs(a, b)),
        small.clone().prop_map(Op::DeleteWs),
        (small.clone(), any::<bool>()).prop_map(|(u, a)| Op::AddMember(u, a)),
        small.clone().prop_map(Op::RemoveMember),
        (small.clone(), any::<bool>()).prop_map(|(u, a)| Op::SetRole(u, a)),
        (small.clone(), prop::collection::vec(0u8..7, 1..4)).prop_map(|(w, u)| Op::AddToWs(w, u)),
        (small.clone(), prop::collection::vec(0u8..7, 1..4))
            .prop_map(|(w, u)| Op::RemoveFromWs(w, u)),
        (small.clone(), small.clone(), prop::option::of(1u8..5))
            .prop_map(|(w, u, e)| Op::CreateKey(w, u, e)),
        (0u8..12).prop_map(Op::DisableKey),
        (0u8..12).prop_map(Op::DeleteKey),
        (1u8..4).prop_map(Op::Advance),
        // Model operations aim at the default workspace and ws-1 so that sequences meet.
        (0u8..2, 0u8..MODEL_REFS_N, any::<bool>())
            .prop_map(|(w, m, on)| Op::SetModelStatus(w, m, on)),
        (0u8..2, CATALOG_N..MODEL_REFS_N).prop_map(|(w, m)| Op::RegisterModel(w, m)),
        (0u8..2, 0u8..MODEL_REFS_N).prop_map(|(w, m)| Op::DeleteModel(w, m)),
        (0u8..2, prop::option::of(0u8..MODEL_REFS_N)).prop_map(|(w, m)| Op::SetDefault(w, m)),
        (0u8..3).prop_map(Op::AddProvider),
        (0u8..3, any::<bool>()).prop_map(|(p, c)| Op::DeleteProvider(p, c)),
        (
            0u8..2,
            prop::collection::vec((0u8..3, 0u8..MODEL_REFS_N), 0..4)
        )
            .prop_map(|(w, r)| Op::SetRules(w, r)),
    ]
}

/// Catalog models of the check's small catalog; refs at or above it are custom.
const CATALOG_N: u8 = 4;
/// Model refs the operations pick from: the catalog's, then custom ones.
const MODEL_REFS_N: u8 = 7;

fn model_ref(i: u8) -> String {
    if i < CATALOG_N {
        format!("prov/cat-{i}")
    } else {
        format!("vllm/custom-{i}")
    }
}

fn small_catalog() -> Catalog {
    let models: Vec<_> = (0..CATALOG_N)
        .map(|i| {
            serde_json::json!({
                "provider": "prov", "family": format!("cat-{i}"),
                "inputPricePerMillionTokens": "100", "outputPricePerMillionTokens": "200",
                "maxInputTokens": 1000, "maxOutputTokens": 100
            })
        })
        .collect();
    Catalog::from_json(&serde_json::json!({ "version": 1, "models": models }).to_string())
        .expect("valid test catalog")
}

/// A workspace's models in the model: ref → (enabled, custom), and its default text model.
#[derive(Debug, Clone, Default)]
struct WsModels {
    models: BTreeMap<String, (bool, bool)>,
    default: Option<String>,
}

impl WsModels {
    fn seeded() -> Self {
        let models = (0..CATALOG_N)
            .map(|i| (model_ref(i), (true, false)))
            .collect();
        Self {
            models,
            default: None,
        }
    }
}

/// A key in the model: (workspace slug, user, disabled, expiry in seconds).
type ModelKey = (String, String, bool, Option<i64>);

/// The reference model: plain sets and maps, with the contract written out directly.
#[derive(Debug, Clone, Default)]
struct Model {
    /// A key whose creation may have committed, id unknown (an ambiguous I/O failure).
    pending_key: bool,
    now: i64,
    /// Workspace slugs ("default" is the default workspace).
    workspaces: BTreeSet<String>,
    /// user → is org admin ("user_admin" is the bootstrap admin and the caller).
    members: BTreeMap<String, bool>,
    /// (slug, user)
    memberships: BTreeSet<(String, String)>,
    /// key id → key
    keys: BTreeMap<String, ModelKey>,
    /// slug → the workspace's models
    catalogs: BTreeMap<String, WsModels>,
    /// Provider names.
    providers: BTreeSet<String>,
    /// slug → [(provider name, model ref, filename glob)] of its mux rules.
    rules: BTreeMap<String, Vec<(String, String, String)>>,
}

impl Model {
    fn active(&self, k: &ModelKey) -> bool {
        !k.2 && k.3.is_none_or(|e| e > self.now)
    }
    fn admins(&self) -> usize {
        self.members.values().filter(|a| **a).count()
    }
    fn rule_uses(&self, slug: &str, model: &str) -> bool {
        self.rules
            .get(slug)
            .is_some_and(|r| r.iter().any(|(_, m, _)| m == model))
    }
}

fn provider_name(i: u8) -> String {
    format!("prov-{i}")
}

fn ws_slug(i: u8) -> String {
    if i == 0 {
        "default".into()
    } else {
        format!("ws-{i}")
    }
}

fn user(i: u8) -> String {
    if i == 0 {
        "user_admin".into()
    } else {
        format!("user_{i}")
    }
}

fn role(admin: bool) -> crate::OrgRole {
    if admin {
        crate::OrgRole::Admin
    } else {
        crate::OrgRole::Member
    }
}

const EPOCH: i64 = 1_800_000_000;

/// Where a run stands: the reference model of every acknowledged operation.
struct Run {
    gates: ModelGates,
    clock: ManualClock,
    admin: Caller,
    m: Model,
    key_ids: Vec<String>,
    /// Update the model as if the domain call succeeded (the outcome of an operation whose
    /// commit failed on I/O is unknown: it may have committed).
    assume_ok: bool,
}

fn options(clock: &ManualClock) -> Options {
    Options {
        clock: Arc::new(clock.clone()),
        catalog: Arc::new(small_catalog()),
        ..Default::default()
    }
}

impl Run {
    fn start(store: Arc<dyn Storage>) -> Result<Self, TestCaseError> {
        let clock = ManualClock::new(Utc.timestamp_opt(EPOCH, 0).unwrap());
        let gates = ModelGates::open_with(store, options(&clock))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let admin: Caller = gates
            .default_caller()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        Ok(Self {
            gates,
            clock,
            admin,
            m: Self::initial_model(),
            key_ids: Vec::new(),
            assume_ok: false,
        })
    }

    /// The model of a freshly bootstrapped database.
    fn initial_model() -> Model {
        let mut m = Model {
            now: EPOCH,
            ..Default::default()
        };
        m.workspaces.insert("default".into());
        m.catalogs.insert("default".into(), WsModels::seeded());
        m.members.insert("user_admin".into(), true);
        m.memberships
            .insert(("default".into(), "user_admin".into()));
        m
    }
}

/// The model's expectation and the domain's result of one operation.
type Outcome = (Result<(), ErrorKind>, Result<(), ErrorKind>);

/// Runs one operation on the domain and on the model: `(expected, got)`, or `None` for an
/// operation the model skips. The model changes only when both succeed.
fn apply(run: &mut Run, op: &Op) -> Result<Option<Outcome>, TestCaseError> {
    let admin = run.admin.clone();
    let Run {
        gates,
        clock,
        m,
        key_ids,
        assume_ok,
        ..
    } = run;
    let (gates, clock) = (&*gates, &*clock);
    let outcome: (Result<(), ErrorKind>, Result<(), ErrorKind>) = match op {
        Op::CreateWs(i) => {
            let slug = ws_slug(*i);
            let exp = if m.workspaces.contains(&slug) {
                Err(ErrorKind::Conflict)
            } else {
                Ok(())
            };
            let new = NewWorkspace {
                name: slug.clone(),
                slug: slug.clone(),
                ..Default::default()
            };
            let got = gates.workspace_create(&admin, new).map(|_| ());
            if exp.is_ok() && (got.is_ok() || *assume_ok) {
                m.workspaces.insert(slug.clone());
                m.catalogs.insert(slug.clone(), WsModels::seeded());
                m.memberships.insert((slug, "user_admin".into()));
            }
            (exp, got.map_err(|e| e.kind()))
        }
        Op::RenameWs(a, b) => {
            let (from, to) = (ws_slug(*a), ws_slug(*b));
            if from == "default" || to == "default" {
                return Ok(None); // the default workspace keeps its slug in this model
            }
            let exp = if !m.workspaces.contains(&from) {
                Err(ErrorKind::NotFound)
            } else if from != to && m.workspaces.contains(&to) {
                Err(ErrorKind::Conflict)
            } else {
                Ok(())
            };
            let patch = WorkspacePatch {
                slug: Patch::Set(to.clone()),
                ..Default::default()
            };
            let got = gates.workspace_update(&admin, &from, patch).map(|_| ());
            if exp.is_ok() && (got.is_ok() || *assume_ok) && from != to {
                m.workspaces.remove(&from);
                m.workspaces.insert(to.clone());
                let models = m.catalogs.remove(&from).unwrap_or_default();
                m.catalogs.insert(to.clone(), models);
                if let Some(rules) = m.rules.remove(&from) {
                    m.rules.insert(to.clone(), rules);
                }
                let moved: Vec<_> = m
                    .memberships
                    .iter()
                    .filter(|(s, _)| *s == from)
                    .cloned()
                    .collect();
                for (s, u) in moved {
                    m.memberships.remove(&(s, u.clone()));
                    m.memberships.insert((to.clone(), u));
                }
                for k in m.keys.values_mut().filter(|k| k.0 == from) {
                    k.0 = to.clone();
                }
            }
            (exp, got.map_err(|e| e.kind()))
        }
        Op::DeleteWs(i) => {
            let slug = ws_slug(*i);
            let exp = if !m.workspaces.contains(&slug) {
                Err(ErrorKind::NotFound)
            } else if slug == "default" || m.keys.values().any(|k| k.0 == slug && m.active(k)) {
                Err(ErrorKind::FailedPrecondition)
            } else {
                Ok(())
            };
            let got = gates.workspace_delete(&admin, &slug).map(|_| ());
            if exp.is_ok() && (got.is_ok() || *assume_ok) {
                m.workspaces.remove(&slug);
                m.catalogs.remove(&slug);
                m.rules.remove(&slug);
                m.memberships.retain(|(s, _)| *s != slug);
                m.keys.retain(|_, k| k.0 != slug);
            }
            (exp, got.map_err(|e| e.kind()))
        }
        Op::AddMember(i, is_admin) => {
            let u = user(*i);
            let exp = if m.members.contains_key(&u) {
                Err(ErrorKind::Conflict)
            } else {
                Ok(())
            };
            let new = NewMember {
                user_id: u.clone(),
                email: format!("{u}@example.com"),
                role: Some(role(*is_admin)),
                ..Default::default()
            };
            let got = gates.member_add(&admin, new).map(|_| ());
            if exp.is_ok() && (got.is_ok() || *assume_ok) {
                m.members.insert(u, *is_admin);
            }
            (exp, got.map_err(|e| e.kind()))
        }
        Op::RemoveMember(i) => {
            let u = user(*i);
            if u == "user_admin" {
                return Ok(None); // the caller; covered by the contract tests
            }
            let exp = match m.members.get(&u) {
                None => Err(ErrorKind::NotFound),
                Some(true) if m.admins() <= 1 => Err(ErrorKind::FailedPrecondition),
                Some(_) if m.keys.values().any(|k| k.1 == u && m.active(k)) => {
                    Err(ErrorKind::FailedPrecondition)
                }
                Some(_) => Ok(()),
            };
            let got = gates.member_remove(&admin, &u).map(|_| ());
            if exp.is_ok() && (got.is_ok() || *assume_ok) {
                m.members.remove(&u);
                m.memberships.retain(|(_, x)| *x != u);
                m.keys.retain(|_, k| k.1 != u);
            }
            (exp, got.map_err(|e| e.kind()))
        }
        Op::SetRole(i, is_admin) => {
            let u = user(*i);
            if u == "user_admin" {
                return Ok(None); // keep the caller an admin
            }
            let exp = match m.members.get(&u) {
                None => Err(ErrorKind::NotFound),
                Some(true) if !*is_admin && m.admins() <= 1 => Err(ErrorKind::FailedPrecondition),
                Some(_) => Ok(()),
            };
            let patch = crate::MemberPatch {
                role: Some(role(*is_admin)),
                ..Default::default()
            };
            let got = gates.member_update(&admin, &u, patch).map(|_| ());
            if exp.is_ok() && (got.is_ok() || *assume_ok) {
                m.members.insert(u, *is_admin);
            }
            (exp, got.map_err(|e| e.kind()))
        }
        Op::AddToWs(w, users) | Op::RemoveFromWs(w, users) => {
            let slug = ws_slug(*w);
            let ids: Vec<String> = users.iter().map(|u| user(*u)).collect();
            let adding = matches!(op, Op::AddToWs(..));
            let unknown = ids.iter().any(|u| !m.members.contains_key(u));
            let exp = if !m.workspaces.contains(&slug) {
                Err(ErrorKind::NotFound)
            } else if unknown {
                Err(ErrorKind::InvalidArgument)
            } else if !adding
                && m.keys
                    .values()
                    .any(|k| k.0 == slug && ids.contains(&k.1) && m.active(k))
            {
                Err(ErrorKind::FailedPrecondition)
            } else {
                Ok(())
            };
            let got = if adding {
                gates.workspace_members_add(&admin, &slug, &ids).map(|r| {
                    assert_eq!(r.data.len(), ids.iter().collect::<BTreeSet<_>>().len());
                })
            } else {
                gates
                    .workspace_members_remove(&admin, &slug, &ids)
                    .map(|_| ())
            };
            if exp.is_ok() && (got.is_ok() || *assume_ok) {
                for u in &ids {
                    if adding {
                        m.memberships.insert((slug.clone(), u.clone()));
                    } else {
                        m.memberships.remove(&(slug.clone(), u.clone()));
                        m.keys.retain(|_, k| !(k.0 == slug && k.1 == *u));
                    }
                }
            }
            (exp, got.map_err(|e| e.kind()))
        }
        Op::CreateKey(w, u, expiry) => {
            let (slug, uid) = (ws_slug(*w), user(*u));
            let exp = if !m.workspaces.contains(&slug) {
                Err(ErrorKind::NotFound)
            } else if !m.members.contains_key(&uid) {
                Err(ErrorKind::InvalidArgument)
            } else if !m.memberships.contains(&(slug.clone(), uid.clone())) {
                Err(ErrorKind::FailedPrecondition)
            } else {
                Ok(())
            };
            let expires = expiry.map(|s| m.now + i64::from(s));
            let got = gates.key_create(
                &admin,
                NewKey {
                    name: "k".into(),
                    workspace: slug.clone(),
                    creator_user_id: Some(uid.clone()),
                    expires_at: expires.map(|s| Utc.timestamp_opt(s, 0).unwrap()),
                    ..Default::default()
                },
            );
            if let Ok(created) = &got {
                let id = created.data.id.to_string();
                prop_assert!(
                    gates
                        .verify_key(created.key.as_deref().unwrap_or_default())
                        .is_ok(),
                    "fresh key verifies"
                );
                key_ids.push(id.clone());
                m.keys.insert(id, (slug, uid, false, expires));
            } else if exp.is_ok() && *assume_ok {
                m.pending_key = true;
            }
            (exp, got.map(|_| ()).map_err(|e| e.kind()))
        }
        Op::DisableKey(i) | Op::DeleteKey(i) => {
            let Some(id) = key_ids.get(*i as usize).cloned() else {
                return Ok(None);
            };
            let exp = if m.keys.contains_key(&id) {
                Ok(())
            } else {
                Err(ErrorKind::NotFound)
            };
            let got = if matches!(op, Op::DisableKey(_)) {
                let patch = KeyPatch {
                    disabled: Some(true),
                    ..Default::default()
                };
                let r = gates.key_update(&admin, &id, patch);
                if r.is_ok() || *assume_ok {
                    m.keys.get_mut(&id).expect("model has the key").2 = true;
                }
                r.map(|_| ())
            } else {
                let r = gates.key_delete(&admin, &id);
                if r.is_ok() || *assume_ok {
                    m.keys.remove(&id);
                }
                r.map(|_| ())
            };
            (exp, got.map_err(|e| e.kind()))
        }
        Op::SetModelStatus(w, mi, on) => {
            let (slug, r) = (ws_slug(*w), model_ref(*mi));
            let exp = match m.catalogs.get(&slug) {
                None => Err(ErrorKind::NotFound),
                Some(c) if !c.models.contains_key(&r) => Err(ErrorKind::NotFound),
                Some(c) if !*on && (c.default.as_ref() == Some(&r) || m.rule_uses(&slug, &r)) => {
                    Err(ErrorKind::FailedPrecondition)
                }
                Some(_) => Ok(()),
            };
            let status = if *on {
                ModelStatus::Enabled
            } else {
                ModelStatus::Disabled
            };
            let got = gates
                .model_set_status(&admin, &slug, &r, status)
                .map(|_| ());
            if exp.is_ok() && (got.is_ok() || *assume_ok) {
                m.catalogs
                    .get_mut(&slug)
                    .expect("checked")
                    .models
                    .get_mut(&r)
                    .expect("checked")
                    .0 = *on;
            }
            (exp, got.map_err(|e| e.kind()))
        }
        Op::RegisterModel(w, mi) => {
            let (slug, r) = (ws_slug(*w), model_ref(*mi));
            let exp = match m.catalogs.get(&slug) {
                None => Err(ErrorKind::NotFound),
                Some(c) if c.models.contains_key(&r) => Err(ErrorKind::Conflict),
                Some(_) => Ok(()),
            };
            let (provider, family) = r.split_once('/').expect("provider/family");
            let new = NewModel {
                provider: provider.into(),
                family: family.into(),
                max_input_tokens: 1000,
                max_output_tokens: 100,
                ..Default::default()
            };
            let got = gates.model_register(&admin, &slug, new).map(|_| ());
            if exp.is_ok() && (got.is_ok() || *assume_ok) {
                m.catalogs
                    .get_mut(&slug)
                    .expect("checked")
                    .models
                    .insert(r, (true, true));
            }
            (exp, got.map_err(|e| e.kind()))
        }
        Op::DeleteModel(w, mi) => {
            let (slug, r) = (ws_slug(*w), model_ref(*mi));
            let exp = match m.catalogs.get(&slug) {
                None => Err(ErrorKind::NotFound),
                Some(c) => match c.models.get(&r) {
                    None => Err(ErrorKind::NotFound),
                    Some((_, false)) => Err(ErrorKind::FailedPrecondition),
                    Some(_) if c.default.as_ref() == Some(&r) || m.rule_uses(&slug, &r) => {
                        Err(ErrorKind::FailedPrecondition)
                    }
                    Some(_) => Ok(()),
                },
            };
            let got = gates.model_delete(&admin, &slug, &r).map(|_| ());
            if exp.is_ok() && (got.is_ok() || *assume_ok) {
                m.catalogs
                    .get_mut(&slug)
                    .expect("checked")
                    .models
                    .remove(&r);
            }
            (exp, got.map_err(|e| e.kind()))
        }
        Op::SetDefault(w, mi) => {
            let slug = ws_slug(*w);
            let r = mi.map(model_ref);
            let exp = match (m.catalogs.get(&slug), &r) {
                (None, _) => Err(ErrorKind::NotFound),
                (Some(_), None) => Ok(()),
                (Some(c), Some(r)) => match c.models.get(r) {
                    None => Err(ErrorKind::InvalidArgument),
                    Some((false, _)) => Err(ErrorKind::FailedPrecondition),
                    Some(_) => Ok(()),
                },
            };
            let patch = WorkspacePatch {
                default_text_model: r.clone().map_or(Patch::Clear, Patch::Set),
                ..Default::default()
            };
            let got = gates.workspace_update(&admin, &slug, patch).map(|_| ());
            if exp.is_ok() && (got.is_ok() || *assume_ok) {
                m.catalogs.get_mut(&slug).expect("checked").default = r;
            }
            (exp, got.map_err(|e| e.kind()))
        }
        Op::AddProvider(p) => {
            let name = provider_name(*p);
            let exp = if m.providers.contains(&name) {
                Err(ErrorKind::Conflict)
            } else {
                Ok(())
            };
            let new = crate::NewProvider {
                name: name.clone(),
                description: None,
                provider_type: crate::ProviderType::Openai,
                endpoint: None,
                auth_type: None,
                api_key: Some(crate::Secret::new("sk-model")),
            };
            let got = gates.provider_add(&admin, new).map(|_| ());
            if exp.is_ok() && (got.is_ok() || *assume_ok) {
                m.providers.insert(name);
            }
            (exp, got.map_err(|e| e.kind()))
        }
        Op::DeleteProvider(p, cascade) => {
            let name = provider_name(*p);
            let used = m.rules.values().flatten().any(|(pr, ..)| *pr == name);
            let exp = if !m.providers.contains(&name) {
                Err(ErrorKind::NotFound)
            } else if used && !*cascade {
                Err(ErrorKind::FailedPrecondition)
            } else {
                Ok(())
            };
            let got = gates.provider_delete(&admin, &name, *cascade);
            if let Ok(d) = &got {
                let removed: usize = m
                    .rules
                    .values()
                    .map(|r| r.iter().filter(|(pr, ..)| *pr == name).count())
                    .sum();
                prop_assert_eq!(d.removed_rules.len(), removed);
            }
            if exp.is_ok() && (got.is_ok() || *assume_ok) {
                m.providers.remove(&name);
                for r in m.rules.values_mut() {
                    r.retain(|(pr, ..)| *pr != name);
                }
            }
            (exp, got.map(|_| ()).map_err(|e| e.kind()))
        }
        Op::SetRules(w, entries) => {
            let slug = ws_slug(*w);
            let wanted: Vec<(String, String)> = entries
                .iter()
                .map(|(p, mi)| (provider_name(*p), model_ref(*mi)))
                .collect();
            let exp = match m.catalogs.get(&slug) {
                None => Err(ErrorKind::NotFound),
                Some(c) => wanted
                    .iter()
                    .map(|(p, model)| {
                        if !m.providers.contains(p) {
                            Err(ErrorKind::InvalidArgument)
                        } else {
                            match c.models.get(model) {
                                None => Err(ErrorKind::InvalidArgument),
                                Some((false, _)) => Err(ErrorKind::FailedPrecondition),
                                Some(_) => Ok(()),
                            }
                        }
                    })
                    .find(Result::is_err)
                    .unwrap_or(Ok(())),
            };
            let rules: Vec<crate::NewMuxRule> = wanted
                .iter()
                .enumerate()
                .map(|(i, (p, model))| crate::NewMuxRule {
                    provider: p.clone(),
                    provider_type: None,
                    model: model.clone(),
                    matcher_type: crate::MatcherType::FilenameMatch,
                    matcher: Some(format!("*.r{i}")),
                })
                .collect();
            let got = gates
                .workspace_mux_set(&admin, Some(&slug), &rules, None)
                .map(|_| ());
            if exp.is_ok() && (got.is_ok() || *assume_ok) {
                let stored = rules
                    .into_iter()
                    .map(|r| (r.provider, r.model, r.matcher.unwrap_or_default()))
                    .collect();
                m.rules.insert(slug, stored);
            }
            (exp, got.map_err(|e| e.kind()))
        }
        Op::Advance(s) => {
            clock.advance_millis(i64::from(*s) * 1000);
            m.now += i64::from(*s);
            return Ok(None);
        }
    };
    Ok(Some(outcome))
}

/// Every invariant holds and the store agrees with the model.
fn compare(gates: &ModelGates, admin: &Caller, m: &Model) -> Result<(), TestCaseError> {
    let admin = admin.clone();
    let all = Page::new(None, Some(100)).unwrap();
    check_invariants(gates);
    // The store agrees with the model.
    let ws = gates.workspace_list(&admin, all).unwrap();
    let slugs: BTreeSet<String> = ws.data.iter().map(|w| w.slug.clone()).collect();
    prop_assert_eq!(&slugs, &m.workspaces);
    let members = gates.member_list(&admin, all).unwrap();
    prop_assert_eq!(members.total_count as usize, m.members.len());
    let mut store_keys = BTreeSet::new();
    for w in &ws.data {
        for k in gates.key_list(&admin, &w.slug, true, all).unwrap().data {
            store_keys.insert(k.id.to_string());
        }
    }
    let model_keys: BTreeSet<String> = m.keys.keys().cloned().collect();
    if m.pending_key {
        prop_assert!(
            store_keys.is_superset(&model_keys) && store_keys.len() == model_keys.len() + 1
        );
    } else {
        prop_assert_eq!(store_keys, model_keys);
    }
    for (slug, c) in &m.catalogs {
        let listed = gates
            .model_list(&admin, slug, &ModelFilter::default(), all)
            .unwrap();
        let got: BTreeMap<String, (bool, bool)> = listed
            .data
            .iter()
            .map(|x| {
                (
                    x.reference(),
                    (x.spec.status == ModelStatus::Enabled, !x.is_catalog()),
                )
            })
            .collect();
        prop_assert_eq!(&got, &c.models, "models of {}", slug);
        let ws = gates.workspace_get(&admin, slug).unwrap();
        prop_assert_eq!(&ws.default_text_model, &c.default, "default of {}", slug);
        let stored: Vec<(String, String, String)> = gates
            .workspace_mux_get(&admin, Some(slug))
            .unwrap()
            .rules
            .into_iter()
            .map(|r| (r.provider_name, r.model, r.matcher.unwrap_or_default()))
            .collect();
        let want = m.rules.get(slug).cloned().unwrap_or_default();
        prop_assert_eq!(&stored, &want, "rules of {}", slug);
        // The routing snapshot agrees: a file rule 0's glob (`*.rN`) matches routes by rule 0
        // when there is one (a cascade may have removed the rules before it), and "x.r0"
        // routes by no rule when there is none.
        let file = want
            .first()
            .map_or("x.r0".to_owned(), |(.., glob)| glob.replacen('*', "x", 1));
        let route = gates.snapshot().route(
            admin.account,
            ws.id,
            crate::RequestKind::Chat,
            &[file.as_str()],
        );
        match want.first() {
            Some((p, model, _)) => {
                let route = route.expect("rule 0 matches");
                prop_assert_eq!(route.rule_index, Some(0));
                prop_assert_eq!(&route.provider.name, p);
                prop_assert_eq!(&*route.model, model.as_str());
            }
            None => prop_assert!(route.is_err() || route.is_ok_and(|r| r.rule_index.is_none())),
        }
    }
    Ok(())
}

fn run_one(store: Arc<dyn Storage>, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut run = Run::start(store)?;
    for op in ops {
        if let Some((expect, got)) = apply(&mut run, op)? {
            prop_assert_eq!(got, expect, "op {:?}", op);
            compare(&run.gates, &run.admin, &run.m)?;
        }
    }
    Ok(())
}

/// An operation sequence decoded from arbitrary bytes, for fuzzers: every byte string decodes
/// (a tag byte per operation, then its parameters, each reduced into range).
#[derive(Debug, Clone, Default)]
pub struct OpSequence(Vec<Op>);

impl OpSequence {
    /// Decodes `data`; trailing bytes that do not make a whole operation are ignored.
    pub fn from_bytes(data: &[u8]) -> Self {
        let mut bytes = data.iter().copied();
        let mut ops = Vec::new();
        while let Some(op) = decode_op(&mut bytes) {
            ops.push(op);
        }
        Self(ops)
    }

    /// How many operations.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn decode_op(bytes: &mut impl Iterator<Item = u8>) -> Option<Op> {
    let mut n = |m: u8| bytes.next().map(|b| b % m);
    let small = 6;
    Some(match n(19)? {
        0 => Op::CreateWs(n(small)?),
        1 => Op::RenameWs(n(small)?, n(small)?),
        2 => Op::DeleteWs(n(small)?),
        3 => Op::AddMember(n(small)?, n(2)? == 1),
        4 => Op::RemoveMember(n(small)?),
        5 => Op::SetRole(n(small)?, n(2)? == 1),
        6 => Op::AddToWs(n(small)?, vec![n(7)?, n(7)?]),
        7 => Op::RemoveFromWs(n(small)?, vec![n(7)?]),
        8 => Op::CreateKey(n(small)?, n(small)?, Some(n(5)?).filter(|e| *e > 0)),
        9 => Op::DisableKey(n(12)?),
        10 => Op::DeleteKey(n(12)?),
        11 => Op::Advance(n(3)? + 1),
        12 => Op::SetModelStatus(n(2)?, n(MODEL_REFS_N)?, n(2)? == 1),
        13 => Op::RegisterModel(n(2)?, CATALOG_N + n(MODEL_REFS_N - CATALOG_N)?),
        14 => Op::DeleteModel(n(2)?, n(MODEL_REFS_N)?),
        15 => Op::SetDefault(n(2)?, (n(4)? > 0).then_some(n(MODEL_REFS_N)?)),
        16 => Op::AddProvider(n(3)?),
        17 => Op::DeleteProvider(n(3)?, n(2)? == 1),
        _ => {
            let w = n(2)?;
            let len = n(4)?;
            let mut rules = Vec::new();
            for _ in 0..len {
                rules.push((n(3)?, n(MODEL_REFS_N)?));
            }
            Op::SetRules(w, rules)
        }
    })
}

/// What a run acknowledged before it stopped: the reference model of every successful step.
#[derive(Debug)]
pub struct Acknowledged {
    m: Model,
    /// The model had the failed step committed after all (I/O failures during a commit leave
    /// its outcome unknown; either way it must be whole).
    committed: Option<Model>,
    /// Steps whose result matched the model before the run stopped.
    pub steps: usize,
    /// Whether an injected storage failure stopped the run.
    pub failed: bool,
}

/// Runs `ops` on `store` against the reference model. A step failing with a storage error
/// (an injected I/O failure) ends the run; every step before it must match the model exactly
/// and keep every invariant. Returns what was acknowledged, to check a reopened store with
/// [`verify_reopened`].
pub fn run_until_storage_failure(
    store: Arc<dyn Storage>,
    ops: &OpSequence,
) -> Result<Acknowledged, String> {
    let mut run = match Run::start(store) {
        Ok(run) => run,
        // The bootstrap commit itself failed: nothing was acknowledged; a reopen bootstraps.
        Err(_) => {
            return Ok(Acknowledged {
                m: Run::initial_model(),
                committed: None,
                steps: 0,
                failed: true,
            });
        }
    };
    let mut steps = 0;
    for op in &ops.0 {
        let outcome = apply(&mut run, op).map_err(|e| e.to_string())?;
        let Some((expect, got)) = outcome else {
            continue;
        };
        if got == Err(ErrorKind::Internal) {
            let before = run.m.clone();
            let committed = if expect.is_ok() {
                // The same step again, the model updated as if it had succeeded (the store,
                // still failing, refuses it again).
                run.assume_ok = true;
                let _ = apply(&mut run, op);
                Some(run.m)
            } else {
                None
            };
            return Ok(Acknowledged {
                m: before,
                committed,
                steps,
                failed: true,
            });
        }
        if got != expect {
            return Err(format!("op {op:?}: expected {expect:?}, got {got:?}"));
        }
        compare(&run.gates, &run.admin, &run.m).map_err(|e| e.to_string())?;
        steps += 1;
    }
    Ok(Acknowledged {
        m: run.m,
        committed: None,
        steps,
        failed: false,
    })
}

/// Opens `store` (e.g. the same bytes on a healthy disk) and checks every invariant and that
/// its state is exactly what was acknowledged — nothing acknowledged lost — plus, at most, the
/// whole of the step whose commit failed on I/O (its outcome is unknown to the caller, as with
/// any database whose fsync fails; it is never half-applied).
pub fn verify_reopened(store: Arc<dyn Storage>, ack: &Acknowledged) -> Result<(), String> {
    let clock = ManualClock::new(Utc.timestamp_opt(ack.m.now, 0).unwrap());
    let gates = ModelGates::open_with(store, options(&clock)).map_err(|e| e.to_string())?;
    let admin = gates.default_caller().map_err(|e| e.to_string())?;
    let quiet = |m: &Model| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| compare(&gates, &admin, m)))
            .map_err(|_| TestCaseError::fail("an invariant is broken"))
            .and_then(|r| r)
    };
    match (quiet(&ack.m), &ack.committed) {
        (Ok(()), _) => Ok(()),
        (Err(before), Some(after)) => compare(&gates, &admin, after)
            .map_err(|e| format!("neither without the failed step ({before}) nor with it ({e})")),
        (Err(e), None) => Err(e.to_string()),
    }
}

/// Runs `cases` random operation sequences, each on a fresh store from `new_store`.
pub fn run_model_check(cases: u32, new_store: impl Fn() -> Arc<dyn Storage>) {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    runner
        .run(&prop::collection::vec(op(), 1..40), |ops| {
            run_one(new_store(), &ops)
        })
        .unwrap();
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_store_matches_the_reference_model() {
        super::run_model_check(256, || std::sync::Arc::new(crate::MemoryStore::new()));
    }

    /// Issue 14: writes that lose serialization conflicts (about one attempt in four, at its
    /// first write or at commit) are re-run and give exactly the results of single runs.
    #[test]
    fn writes_rerun_after_conflicts_match_the_reference_model() {
        use std::sync::{Arc, Mutex};
        let stores: Mutex<Vec<Arc<crate::testkit::Conflicting>>> = Mutex::default();
        super::run_model_check(64, || {
            let store = Arc::new(crate::testkit::Conflicting::new(
                Arc::new(crate::MemoryStore::new()),
                8,
            ));
            stores.lock().unwrap().push(store.clone());
            store
        });
        let injected: u64 = stores.lock().unwrap().iter().map(|s| s.conflicts()).sum();
        assert!(injected > 100, "only {injected} conflicts were injected");
    }
}
