//! `ModelGates::check`: reads every record of the database, decoding each one, and verifies
//! every cross-table invariant (indexes ↔ records, memberships ↔ members, keys ↔ workspaces and
//! members, defaults ↔ enabled models, snapshot ↔ stored keys). Used by `modelgates check` and,
//! through the test kit, after every step of the model-based tests.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::error::Result;
use crate::handle::ModelGates;
use crate::ids::{AccountId, KeyId, ProviderId, WorkspaceId};
use crate::member::OrgRole;
use crate::model::{ModelStatus, workspace_models};
use crate::schema::*;
use crate::snapshot::Snapshot;
use crate::storage::ReadTxn;

/// How many snapshot differences a report lists at most.
const SNAPSHOT_PROBLEMS_MAX: usize = 20;
use crate::workspace::WorkspaceRecord;

/// What [`ModelGates::check`] read, and what it found wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// Accounts read.
    pub accounts: u64,
    /// Organization members read.
    pub members: u64,
    /// Workspaces read.
    pub workspaces: u64,
    /// Workspace memberships read.
    pub memberships: u64,
    /// API keys read.
    pub api_keys: u64,
    /// Custom models read.
    pub custom_models: u64,
    /// Catalog models in the database.
    pub catalog_models: u64,
    /// Provider endpoints read.
    pub providers: u64,
    /// Mux rules read.
    pub mux_rules: u64,
    /// Personas read.
    pub personas: u64,
    /// Usage records read.
    pub usage_records: u64,
    /// Audit events read.
    pub audit_events: u64,
    /// Every broken invariant, one sentence each; empty when the database is consistent.
    pub problems: Vec<String>,
}

impl CheckReport {
    /// Whether no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

struct Checker {
    report: CheckReport,
}

impl Checker {
    fn ensure(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.report.problems.push(problem());
        }
    }
}

impl ModelGates {
    /// Reads and decodes every record and verifies every invariant. An undecodable record is
    /// an error (`Error::Corrupt` naming the table); broken invariants are listed in the report.
    pub fn check(&self) -> Result<CheckReport> {
        // On a shared store, other instances' commits are applied first, so only a real
        // divergence shows (not a change the follower has not reached yet).
        if self.is_shared() {
            self.follow_changes()?;
        }
        self.read_with_snapshot(|txn, live| {
            let mut c = Checker {
                report: CheckReport::default(),
            };
            check_all(txn, &mut c)?;
            // The live snapshot must be exactly what loading the store gives: every key entry,
            // every compiled workspace, every provider.
            let fresh = Snapshot::load(txn)?;
            c.report
                .problems
                .extend(live.differences(&fresh, SNAPSHOT_PROBLEMS_MAX));
            // Globs compile on first use when serving; here every one must compile.
            c.report.problems.extend(fresh.glob_problems());
            Ok(c.report)
        })
    }
}

/// How `got` differs from `want`: the entries of `want` that `got` lacks or holds differently,
/// and the entries only `got` has.
pub(crate) fn differences<K: Ord, V: PartialEq>(
    want: &BTreeMap<K, V>,
    got: &BTreeMap<K, V>,
) -> (usize, usize) {
    let wrong = want.iter().filter(|(k, v)| got.get(*k) != Some(*v)).count();
    let stray = got.keys().filter(|k| !want.contains_key(*k)).count();
    (wrong, stray)
}

fn check_all(txn: &dyn ReadTxn, c: &mut Checker) -> Result<()> {
    let accounts = ACCOUNTS.values_with_prefix(txn, &())?;
    c.ensure(!accounts.is_empty(), || {
        "the database has no account".into()
    });
    c.report.catalog_models = CATALOG.scan_prefix(txn, &())?.len() as u64;
    let mut all_key_hashes = BTreeSet::new();
    for acct in accounts {
        c.report.accounts += 1;
        let a = acct.id;
        let mut found = Vec::new();
        c.report.audit_events += crate::audit::check(txn, a, &mut |p| found.push(p))?;
        c.report.problems.extend(found);
        let workspaces = WORKSPACES.values_with_prefix(txn, &(a,))?;
        c.report.workspaces += workspaces.len() as u64;
        let ws_ids: BTreeSet<_> = workspaces.iter().map(|w| w.id).collect();
        c.ensure(ws_ids.contains(&acct.default_workspace_id), || {
            format!(
                "account {a}: the default workspace {} is missing",
                acct.default_workspace_id
            )
        });

        // slug index <-> workspaces
        let slugs = WORKSPACE_SLUGS.scan_prefix(txn, &(a,))?.len();
        c.ensure(slugs == workspaces.len(), || {
            format!(
                "account {a}: {slugs} slug index entries for {} workspaces",
                workspaces.len()
            )
        });
        for w in &workspaces {
            let indexed = WORKSPACE_SLUGS.get(txn, &(a, w.slug.clone()))?;
            c.ensure(indexed == Some(w.id), || {
                format!("workspace {}: slug {:?} indexes {indexed:?}", w.id, w.slug)
            });
        }

        // members <-> email index
        let members = MEMBERS.values_with_prefix(txn, &(a,))?;
        c.report.members += members.len() as u64;
        c.ensure(members.iter().any(|m| m.role == OrgRole::Admin), || {
            format!("account {a} has no org:admin")
        });
        let emails = MEMBER_EMAILS.scan_prefix(txn, &(a,))?.len();
        c.ensure(emails == members.len(), || {
            format!(
                "account {a}: {emails} email index entries for {} members",
                members.len()
            )
        });
        let member_ids: BTreeSet<_> = members.iter().map(|m| m.user_id.clone()).collect();

        // memberships <-> members, workspaces, roles
        let mut forward = BTreeSet::new();
        for w in &workspaces {
            for wm in WORKSPACE_MEMBERS.values_with_prefix(txn, &(a, w.id))? {
                match MEMBERS.get(txn, &(a, wm.user_id.clone()))? {
                    Some(m) => c.ensure(wm.role == m.role.workspace_role(), || {
                        format!(
                            "workspace {}: {}'s role does not follow the org role",
                            w.id, wm.user_id
                        )
                    }),
                    None => c.ensure(false, || {
                        format!(
                            "workspace {}: member {} is not in the organization",
                            w.id, wm.user_id
                        )
                    }),
                }
                forward.insert((wm.user_id.clone(), w.id));
            }
        }
        c.report.memberships += forward.len() as u64;
        let stored = WORKSPACE_MEMBERS.scan_prefix(txn, &(a,))?.len();
        c.ensure(stored == forward.len(), || {
            format!(
                "account {a}: {} memberships belong to no workspace",
                stored - forward.len()
            )
        });

        // keys <-> indexes <-> workspaces <-> memberships
        let keys = API_KEYS.values_with_prefix(txn, &(a,))?;
        c.report.api_keys += keys.len() as u64;
        let mut via_ws = 0;
        for w in &workspaces {
            via_ws += WORKSPACE_KEYS.scan_prefix(txn, &(a, w.id))?.len();
        }
        let mut via_user = 0;
        for u in &member_ids {
            via_user += USER_KEYS.scan_prefix(txn, &(a, u.clone()))?.len();
        }
        c.ensure(via_ws == keys.len() && via_user == keys.len(), || {
            format!(
                "account {a}: {} keys, {via_ws} in the workspace index, {via_user} in the user index",
                keys.len()
            )
        });
        let last_number = KEY_COUNTERS.get(txn, &(a,))?.unwrap_or(0);
        for r in &keys {
            let k = &r.key;
            c.ensure(ws_ids.contains(&k.workspace_id), || {
                format!("API key {}: workspace {} is missing", k.id, k.workspace_id)
            });
            c.ensure(
                forward.contains(&(k.creator_user_id.clone(), k.workspace_id)),
                || {
                    format!(
                        "API key {}: user {} is not a member of its workspace",
                        k.id, k.creator_user_id
                    )
                },
            );
            let h = r.hash_bytes()?;
            let indexed = KEY_HASHES.get(txn, &h)?;
            c.ensure(indexed == Some((a, k.id)), || {
                format!("API key {}: hash index mismatch", k.id)
            });
            c.ensure(all_key_hashes.insert(h), || {
                format!("API key {}: duplicate hash", k.id)
            });
            let numbered = KEY_NUMBERS.get(txn, &(a, k.number))?;
            c.ensure(k.number > 0 && numbered == Some(k.id), || {
                format!("API key {}: number {} indexes {numbered:?}", k.id, k.number)
            });
            c.ensure(k.number <= last_number, || {
                format!(
                    "API key {}: number {} is past the account's counter {last_number}",
                    k.id, k.number
                )
            });
        }
        // Key usage rows belong to existing keys, and no period counts more than all time.
        let key_ids: BTreeSet<KeyId> = keys.iter().map(|r| r.key.id).collect();
        for (raw, row) in KEY_USAGE.scan_prefix(txn, &(a,))? {
            let key = KEY_USAGE.key_of(&raw).map(|(_, k)| k);
            c.ensure(key.is_some_and(|k| key_ids.contains(&k)), || {
                format!("account {a}: usage of key {key:?}, which does not exist")
            });
            c.ensure(
                row.current.iter().all(|p| p.requests <= row.total.requests),
                || format!("key {key:?}: a period's usage exceeds its total"),
            );
        }
        let numbers = KEY_NUMBERS.scan_prefix(txn, &(a,))?.len();
        c.ensure(numbers == keys.len(), || {
            format!(
                "account {a}: {numbers} key number index entries for {} keys",
                keys.len()
            )
        });

        // custom models <-> index; defaults name enabled models; io-logging keys exist
        let mut account_models = 0u64;
        for w in &workspaces {
            let models = MODELS.values_with_prefix(txn, &(a, w.id))?;
            c.report.custom_models += models.len() as u64;
            account_models += models.len() as u64;
            let refs = MODEL_REFS.scan_prefix(txn, &(a, w.id))?.len();
            c.ensure(refs == models.len(), || {
                format!(
                    "workspace {}: {refs} model index entries for {} models",
                    w.id,
                    models.len()
                )
            });
            for m in &models {
                let key = (a, w.id, m.spec.provider.clone(), m.spec.family.clone());
                let indexed = MODEL_REFS.get(txn, &key)?;
                c.ensure(indexed == Some(m.metadata.id), || {
                    format!("model {}: index names {indexed:?}", m.metadata.id)
                });
            }
            let view = workspace_models(txn, a, w)?;
            for (field, default) in [
                ("default_text_model", &w.default_text_model),
                ("default_image_model", &w.default_image_model),
            ] {
                if let Some(d) = default {
                    let enabled = view
                        .iter()
                        .any(|m| &m.reference() == d && m.spec.status == ModelStatus::Enabled);
                    c.ensure(enabled, || {
                        format!("workspace {}: {field} {d} is not an enabled model", w.id)
                    });
                }
            }
            for id in w.io_logging_api_key_ids.iter().flatten() {
                let exists = WORKSPACE_KEYS.contains(txn, &(a, w.id, *id))?;
                c.ensure(exists, || {
                    format!("workspace {}: io-logging key {id} is missing", w.id)
                });
            }
        }
        let stored_models = MODELS.scan_prefix(txn, &(a,))?.len() as u64;
        let overrides = MODEL_OVERRIDES.scan_prefix(txn, &(a,))?;
        let live: usize = workspaces
            .iter()
            .map(|w| {
                MODEL_OVERRIDES
                    .scan_prefix(txn, &(a, w.id))
                    .map(|v| v.len())
            })
            .sum::<Result<usize>>()?;
        c.ensure(
            stored_models == account_models && live == overrides.len(),
            || format!("account {a}: models or overrides outlive their workspace"),
        );
        check_routing(txn, c, a, &workspaces)?;
        for w in &workspaces {
            crate::usage::check(txn, a, w.id, &mut c.report.usage_records, &mut |p| {
                c.report.problems.push(p)
            })?;
            crate::message::check(txn, a, w.id, &mut |p| c.report.problems.push(p))?;
        }
        let purging = crate::usage::purging(txn, a)?;
        c.report
            .problems
            .extend(crate::schema::orphans(txn, a, &ws_ids, &purging)?);
    }
    let hashes = KEY_HASHES.scan_prefix(txn, &())?.len();
    c.ensure(hashes == all_key_hashes.len(), || {
        format!(
            "{} key hashes belong to no key",
            hashes.saturating_sub(all_key_hashes.len())
        )
    });
    Ok(())
}

/// Providers ↔ name index, rules ↔ providers and enabled models, the provider-use index ↔
/// rules, personas ↔ name index, the active workspace.
fn check_routing(
    txn: &dyn ReadTxn,
    c: &mut Checker,
    a: AccountId,
    workspaces: &[WorkspaceRecord],
) -> Result<()> {
    let providers = PROVIDERS.values_with_prefix(txn, &(a,))?;
    c.report.providers += providers.len() as u64;
    let names = PROVIDER_NAMES.scan_prefix(txn, &(a,))?.len();
    c.ensure(names == providers.len(), || {
        format!(
            "account {a}: {names} provider names for {} providers",
            providers.len()
        )
    });
    for p in &providers {
        let p = &p.provider;
        let indexed = PROVIDER_NAMES.get(txn, &(a, p.name.to_lowercase()))?;
        c.ensure(indexed == Some(p.id), || {
            format!("provider {}: name index names {indexed:?}", p.id)
        });
    }
    let known: BTreeSet<ProviderId> = providers.iter().map(|p| p.provider.id).collect();
    let mut uses: BTreeMap<(ProviderId, WorkspaceId), u32> = BTreeMap::new();
    for w in workspaces {
        let config = crate::routing::load_config(txn, a, w.id)?;
        c.report.mux_rules += config.mux_rules.len() as u64;
        let view = workspace_models(txn, a, w)?;
        for (i, r) in config.mux_rules.iter().enumerate() {
            c.ensure(known.contains(&r.provider_id), || {
                format!(
                    "workspace {} rule #{i}: provider {} is missing",
                    w.id, r.provider_id
                )
            });
            *uses.entry((r.provider_id, w.id)).or_default() += 1;
            let enabled = view
                .iter()
                .any(|m| m.reference() == r.model_ref && m.spec.status == ModelStatus::Enabled);
            c.ensure(enabled, || {
                format!(
                    "workspace {} rule #{i}: model {} is not an enabled model",
                    w.id, r.model_ref
                )
            });
        }
    }
    let mut indexed: BTreeMap<(ProviderId, WorkspaceId), u32> = BTreeMap::new();
    for p in &known {
        for u in PROVIDER_USES.values_with_prefix(txn, &(a, *p))? {
            indexed.insert((*p, u.workspace_id), u.rules);
        }
    }
    let all_uses = PROVIDER_USES.scan_prefix(txn, &(a,))?.len();
    c.ensure(indexed == uses && all_uses == uses.len(), || {
        format!("account {a}: the provider-use index does not match the mux rules")
    });
    let personas = PERSONAS.values_with_prefix(txn, &(a,))?;
    c.report.personas += personas.len() as u64;
    let persona_names = PERSONA_NAMES.scan_prefix(txn, &(a,))?.len();
    c.ensure(persona_names == personas.len(), || {
        format!(
            "account {a}: {persona_names} persona names for {} personas",
            personas.len()
        )
    });
    let account = crate::account::load(txn, a)?;
    if let Some(active) = account.active_workspace_id {
        let ok = workspaces
            .iter()
            .any(|w| w.id == active && w.archived_at.is_none());
        c.ensure(ok, || {
            format!("account {a}: the active workspace {active} is missing or archived")
        });
    }
    Ok(())
}
