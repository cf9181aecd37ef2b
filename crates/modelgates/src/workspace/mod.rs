//! Workspaces and workspace membership: create, list, get by UUID or slug, patch-update,
//! delete; list, bulk-add and bulk-remove members.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::access;
use crate::account;
use crate::api_key::{self, KeyRecord};
use crate::clock::millis;
use crate::error::{Error, Reason, Result};
use crate::handle::{Caller, ModelGates, Tx, op};
use crate::ids::{AccountId, KeyId, MembershipId, UserId, WorkspaceId};
use crate::member::Member;
use crate::model;
use crate::patch::Patch;
use crate::provider;
pub use crate::record::workspace::*;
use crate::routing::{self};
use crate::schema::{
    ACCOUNTS, KEY_NUMBERS, MEMBERS, WORKSPACE_CONFIG, WORKSPACE_KEYS, WORKSPACE_MEMBERS,
    WORKSPACE_SLUGS, WORKSPACES,
};
use crate::storage::{ReadTxn, WriteTxn};
use crate::validate::{self, Page, Paged, excerpt};

pub(crate) mod lifecycle;
mod members;

pub(crate) use members::*;

const NAME_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 500;
const IO_LOGGING_KEYS_MAX: usize = 100;
const SAMPLING_MIN: f64 = 0.0001;

fn check_retention(days: u32) -> Result<()> {
    if (1..=3650).contains(&days) {
        Ok(())
    } else {
        Err(Error::invalid(
            "usage_retention_days",
            format!("{days} is outside 1-3650 days"),
        ))
    }
}

fn check_sampling_rate(v: f64) -> Result<()> {
    if v.is_finite() && (SAMPLING_MIN..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(Error::invalid(
            "io_logging_sampling_rate",
            format!("{v} is outside [{SAMPLING_MIN}, 1]"),
        ))
    }
}

fn check_optional(field: &str, v: Option<&String>, f: fn(&str, &str) -> Result<()>) -> Result<()> {
    v.map_or(Ok(()), |v| f(field, v))
}

fn check_description(field: &str, v: &str) -> Result<()> {
    validate::text(field, v, DESCRIPTION_MAX)
}

fn check_name(field: &str, v: &str) -> Result<()> {
    validate::name(field, v, NAME_MAX)
}

/// Resolves a workspace by UUID or slug inside the account; anything else is not_found. The
/// record knows nothing of the account's active workspace (see [`with_active`]), so lookups
/// that do not return the workspace do not read the account.
pub(crate) fn resolve(
    txn: &dyn ReadTxn,
    account: AccountId,
    id_or_slug: &str,
) -> Result<WorkspaceRecord> {
    let id = match WorkspaceId::parse(id_or_slug) {
        Some(id) => Some(id),
        None => WORKSPACE_SLUGS.get(txn, &(account, id_or_slug.to_owned()))?,
    };
    match id {
        Some(id) => WORKSPACES.get(txn, &(account, id))?,
        None => None,
    }
    .ok_or_else(|| Error::not_found("workspace", excerpt(id_or_slug)))
}

/// The view of `ws` that reads return, `is_active` set from the account.
fn with_active(txn: &dyn ReadTxn, account: AccountId, ws: WorkspaceRecord) -> Result<Workspace> {
    let active = account::load(txn, account)?.active_workspace() == ws.id;
    Ok(ws.view(active))
}

/// The workspace `id_or_slug`, or the account's active workspace when `None`.
pub(crate) fn resolve_or_active(
    txn: &dyn ReadTxn,
    account: AccountId,
    id_or_slug: Option<&str>,
) -> Result<WorkspaceRecord> {
    match id_or_slug {
        Some(w) => resolve(txn, account, w),
        None => {
            let active = account::load(txn, account)?.active_workspace();
            WORKSPACES
                .get(txn, &(account, active))?
                .ok_or_else(|| Error::internal(format!("the active workspace {active} is missing")))
        }
    }
}

/// Archived workspaces are read-only until restored.
pub(crate) fn check_not_archived(ws: &WorkspaceRecord) -> Result<()> {
    if ws.archived_at.is_some() {
        return Err(Error::precondition(
            Reason::WorkspaceArchived,
            format!(
                "workspace {:?} is archived; restore it with workspace_restore first",
                ws.slug
            ),
        ));
    }
    Ok(())
}

/// Parses, dedupes and checks io-logging key ids: each must be a key of workspace `ws`.
fn io_logging_keys(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: WorkspaceId,
    ids: &[String],
) -> Result<Vec<KeyId>> {
    const FIELD: &str = "io_logging_api_key_ids";
    if ids.len() > IO_LOGGING_KEYS_MAX {
        return Err(Error::invalid(
            FIELD,
            format!(
                "{} ids given; at most {IO_LOGGING_KEYS_MAX} are allowed",
                ids.len()
            ),
        ));
    }
    let mut out: Vec<KeyId> = Vec::with_capacity(ids.len());
    for (i, raw) in ids.iter().enumerate() {
        let field = format!("{FIELD}[{i}]");
        // A key is named by its id (`key_…`) or by its number in the account (`7`).
        let id = match raw.parse::<u64>() {
            Ok(number) => KEY_NUMBERS
                .get(txn, &(account, number))?
                .ok_or_else(|| Error::invalid(&field, format!("no API key has number {number}")))?,
            Err(_) => KeyId::parse_field(raw, &field)?,
        };
        if !WORKSPACE_KEYS.contains(txn, &(account, ws, id))? {
            return Err(Error::invalid(
                field,
                format!("API key {id} is not a key of this workspace"),
            ));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

fn check_slug_free(txn: &dyn ReadTxn, account: AccountId, slug: &str) -> Result<()> {
    if let Some(owner) = WORKSPACE_SLUGS.get(txn, &(account, slug.to_owned()))? {
        return Err(Error::conflict(
            "slug",
            format!("slug {slug:?} is already used by workspace {owner}"),
        ));
    }
    Ok(())
}

/// Creates the default workspace of a new account, with `admin` as its member.
pub(crate) fn insert_default(
    txn: &mut dyn WriteTxn,
    account: AccountId,
    now: DateTime<Utc>,
    admin: &Member,
) -> Result<WorkspaceId> {
    let ws = new_record(
        WorkspaceId::generate(millis(now)),
        NewWorkspace {
            name: "Default".into(),
            slug: "default".into(),
            ..Default::default()
        },
        Vec::new(),
        Some(admin.user_id.clone()),
        now,
    );
    WORKSPACES.put(txn, &(account, ws.id), &ws)?;
    WORKSPACE_SLUGS.put(txn, &(account, ws.slug.clone()), &ws.id)?;
    let wm = WorkspaceMember {
        id: MembershipId::generate(millis(now)),
        workspace_id: ws.id,
        user_id: admin.user_id.clone(),
        role: admin.role.workspace_role(),
        created_at: now,
    };
    WORKSPACE_MEMBERS.put(txn, &(account, ws.id, admin.user_id.clone()), &wm)?;
    Ok(ws.id)
}

/// The workspace's default models must name enabled models of its catalog.
fn check_defaults(txn: &dyn ReadTxn, account: AccountId, ws: &WorkspaceRecord) -> Result<()> {
    if let Some(m) = &ws.default_text_model {
        model::check_default(txn, account, ws, "default_text_model", m)?;
    }
    if let Some(m) = &ws.default_image_model {
        model::check_default(txn, account, ws, "default_image_model", m)?;
    }
    Ok(())
}

fn new_record(
    id: WorkspaceId,
    n: NewWorkspace,
    io_keys: Vec<KeyId>,
    created_by: Option<UserId>,
    now: DateTime<Utc>,
) -> WorkspaceRecord {
    WorkspaceRecord {
        id,
        name: n.name,
        slug: n.slug,
        description: n.description,
        default_text_model: n.default_text_model,
        default_image_model: n.default_image_model,
        default_provider_sort: n.default_provider_sort,
        io_logging_api_key_ids: n.io_logging_api_key_ids.map(|_| io_keys),
        io_logging_sampling_rate: n.io_logging_sampling_rate.unwrap_or(1.0),
        is_data_discount_logging_enabled: n.is_data_discount_logging_enabled.unwrap_or(true),
        is_observability_broadcast_enabled: n.is_observability_broadcast_enabled.unwrap_or(false),
        is_observability_io_logging_enabled: n.is_observability_io_logging_enabled.unwrap_or(false),
        labels: n.labels.unwrap_or_default(),
        usage_retention_days: n.usage_retention_days,
        created_by,
        created_at: now,
        updated_at: None,
        revision: 1,
        archived_at: None,
        legacy_is_active: (),
    }
}

/// A retry of the create with the same idempotency key gets the first result.
impl crate::idempotency::store::Replayable for Workspace {}

impl ModelGates {
    /// The account's active workspace: the one operations use when none is named.
    pub fn workspace_active(&self, caller: &Caller) -> Result<Workspace> {
        self.read(|txn| {
            let (_, ws) = access::workspace_of(txn, caller, None)?;
            Ok(ws.view(true))
        })
    }

    /// Lists the account's workspaces that are not archived, oldest first.
    pub fn workspace_list(&self, caller: &Caller, page: Page) -> Result<Paged<Workspace>> {
        self.workspace_list_filtered(caller, &WorkspaceFilter::default(), page)
    }

    /// Lists the account's workspaces the caller may see (org admins: all; members: theirs and
    /// the default one), oldest first: archived ones only with `include_archived`; with
    /// `provider`, only those whose mux rules use that provider.
    pub fn workspace_list_filtered(
        &self,
        caller: &Caller,
        filter: &WorkspaceFilter,
        page: Page,
    ) -> Result<Paged<Workspace>> {
        self.read(|txn| {
            let me = access::member(txn, caller)?;
            let account = caller.account;
            let acct = account::load(txn, account)?;
            let active = acct.active_workspace();
            let mut all = match &filter.provider {
                None => WORKSPACES.values_with_prefix(txn, &(account,))?,
                Some(p) => {
                    let p = provider::resolve(txn, account, "provider", p)?;
                    let mut out = Vec::new();
                    for id in provider::users(txn, account, p.provider.id)? {
                        out.extend(WORKSPACES.get(txn, &(account, id))?);
                    }
                    out.sort_by_key(|w| w.id);
                    out
                }
            };
            if !filter.include_archived {
                all.retain(|w| w.archived_at.is_none());
            }
            if !me.is_admin() {
                let mut seen = Vec::with_capacity(all.len());
                for w in all {
                    if access::sees_with(txn, &me, &w, || Ok(acct.default_workspace_id))? {
                        seen.push(w);
                    }
                }
                all = seen;
            }
            let all: Vec<Workspace> = all
                .into_iter()
                .map(|w| {
                    let is_active = w.id == active;
                    w.view(is_active)
                })
                .collect();
            Ok(page.apply(all))
        })
    }

    /// Creates a workspace; the caller becomes its first member. Fails with `conflict` if the
    /// slug is taken in the account.
    pub fn workspace_create(&self, caller: &Caller, new: NewWorkspace) -> Result<Workspace> {
        self.write_once(op("workspace_create", caller), &new, |tx| {
            create_in(tx, caller, &new)
        })
    }

    /// One workspace by UUID or slug.
    pub fn workspace_get(&self, caller: &Caller, id_or_slug: &str) -> Result<Workspace> {
        self.read(|txn| {
            let me = access::member(txn, caller)?;
            let ws = resolve(txn, caller.account, id_or_slug)?;
            access::workspace(txn, &me, &ws)?;
            with_active(txn, caller.account, ws)
        })
    }

    /// Applies a patch to a workspace (by UUID or slug). Nothing changes if any field is
    /// invalid.
    pub fn workspace_update(
        &self,
        caller: &Caller,
        id_or_slug: &str,
        patch: WorkspacePatch,
    ) -> Result<Workspace> {
        self.write(op("workspace_update", caller), |tx| {
            update_in(tx, caller, id_or_slug, &patch)
        })
    }
}

/// [`ModelGates::workspace_create`] inside transaction `tx`: its checks, then its writes.
pub(crate) fn create_in(tx: &mut Tx<'_>, caller: &Caller, new: &NewWorkspace) -> Result<Workspace> {
    check_name("name", &new.name)?;
    validate::slug("slug", &new.slug)?;
    check_optional("description", new.description.as_ref(), check_description)?;
    check_optional(
        "default_text_model",
        new.default_text_model.as_ref(),
        validate::model_ref,
    )?;
    check_optional(
        "default_image_model",
        new.default_image_model.as_ref(),
        validate::model_ref,
    )?;
    if let Some(rate) = new.io_logging_sampling_rate {
        check_sampling_rate(rate)?;
    }
    if let Some(labels) = &new.labels {
        validate::labels("labels", labels)?;
    }
    if let Some(text) = &new.custom_instructions {
        routing::check_instructions("custom_instructions", text)?;
    }
    if let Some(days) = new.usage_retention_days {
        check_retention(days)?;
    }
    let account = caller.account;
    let id = WorkspaceId::generate(millis(tx.now));
    // Everything the checks and the snapshot read, in one round trip on a remote store.
    tx.read_ahead(
        &[
            access::member_key(caller),
            (
                WORKSPACE_SLUGS.name(),
                WORKSPACE_SLUGS.key_bytes(&(account, new.slug.clone())),
            ),
            (
                WORKSPACE_MEMBERS.name(),
                WORKSPACE_MEMBERS.key_bytes(&(account, id, caller.user_id.clone())),
            ),
            (
                WORKSPACE_CONFIG.name(),
                WORKSPACE_CONFIG.key_bytes(&(account, id)),
            ),
            // The audit trail reads the new row's (absent) value before writing it.
            (WORKSPACES.name(), WORKSPACES.key_bytes(&(account, id))),
        ],
        true,
    )?;
    let me = access::admin(&*tx, caller)?;
    check_slug_free(&*tx, account, &new.slug)?;
    let io_keys = match &new.io_logging_api_key_ids {
        Some(ids) => io_logging_keys(&*tx, account, id, ids)?,
        None => Vec::new(),
    };
    let ws = new_record(id, new.clone(), io_keys, Some(me.user_id.clone()), tx.now);
    WORKSPACES.put(&mut *tx, &(account, id), &ws)?;
    WORKSPACE_SLUGS.put(&mut *tx, &(account, ws.slug.clone()), &id)?;
    upsert_membership(tx, account, id, &me)?;
    check_defaults(&*tx, account, &ws)?;
    if let Some(text) = &new.custom_instructions {
        let mut config = routing::load_config(&*tx, account, id)?;
        config.custom_instructions = Some(text.clone());
        routing::save_config(tx, account, id, &config)?;
    }
    if let Some(rules) = &new.mux_rules {
        let stored = routing::check_rules(&*tx, account, &ws, "mux_rules", rules)?;
        routing::store_rules(tx, account, id, stored)?;
    }
    // A new workspace is never the active one (activation is its own operation).
    Ok(ws.view(false))
}

/// [`ModelGates::workspace_update`] inside transaction `tx`: its checks, then its writes.
pub(crate) fn update_in(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id_or_slug: &str,
    patch: &WorkspacePatch,
) -> Result<Workspace> {
    if matches!(patch.name, Patch::Clear) {
        return Err(Error::invalid(
            "name",
            "cannot be null; a workspace always has a name",
        ));
    }
    if matches!(patch.slug, Patch::Clear) {
        return Err(Error::invalid(
            "slug",
            "cannot be null; a workspace always has a slug",
        ));
    }
    check_optional("name", patch.name.as_set(), check_name)?;
    check_optional("slug", patch.slug.as_set(), validate::slug)?;
    check_optional("description", patch.description.as_set(), check_description)?;
    check_optional(
        "default_text_model",
        patch.default_text_model.as_set(),
        validate::model_ref,
    )?;
    check_optional(
        "default_image_model",
        patch.default_image_model.as_set(),
        validate::model_ref,
    )?;
    if let Some(&rate) = patch.io_logging_sampling_rate.as_set() {
        check_sampling_rate(rate)?;
    }
    if let Some(labels) = patch.labels.as_set() {
        validate::labels("labels", labels)?;
    }
    if let Some(text) = patch.custom_instructions.as_set() {
        routing::check_instructions("custom_instructions", text)?;
    }
    if let Some(&days) = patch.usage_retention_days.as_set() {
        check_retention(days)?;
    }
    access::admin(&*tx, caller)?;
    let account = caller.account;
    let mut ws = resolve(&*tx, account, id_or_slug)?;
    check_not_archived(&ws)?;
    if let Some(expected) = patch.expected_revision
        && expected != ws.revision
    {
        return Err(Error::conflict(
            "expected_revision",
            format!(
                "workspace {:?} is at revision {}, not {expected}: it changed since you \
                 read it; get it again and reapply your change",
                ws.slug, ws.revision
            ),
        ));
    }
    if let Some(slug) = patch.slug.as_set()
        && slug != &ws.slug
    {
        check_slug_free(&*tx, account, slug)?;
        WORKSPACE_SLUGS.delete(&mut *tx, &(account, ws.slug.clone()))?;
        WORKSPACE_SLUGS.put(&mut *tx, &(account, slug.clone()), &ws.id)?;
        ws.slug = slug.clone();
    }
    if let Some(name) = patch.name.as_set() {
        ws.name = name.clone();
    }
    patch.description.clone().apply_to(&mut ws.description);
    patch
        .default_text_model
        .clone()
        .apply_to(&mut ws.default_text_model);
    patch
        .default_image_model
        .clone()
        .apply_to(&mut ws.default_image_model);
    patch
        .default_provider_sort
        .clone()
        .apply_to(&mut ws.default_provider_sort);
    match &patch.io_logging_api_key_ids {
        Patch::Keep => {}
        Patch::Clear => ws.io_logging_api_key_ids = None,
        Patch::Set(ids) => {
            ws.io_logging_api_key_ids = Some(io_logging_keys(&*tx, account, ws.id, ids)?);
        }
    }
    let reset = |p: &Patch<bool>, current: &mut bool, default: bool| match p {
        Patch::Keep => {}
        Patch::Clear => *current = default,
        Patch::Set(v) => *current = *v,
    };
    reset(
        &patch.is_data_discount_logging_enabled,
        &mut ws.is_data_discount_logging_enabled,
        true,
    );
    reset(
        &patch.is_observability_broadcast_enabled,
        &mut ws.is_observability_broadcast_enabled,
        false,
    );
    reset(
        &patch.is_observability_io_logging_enabled,
        &mut ws.is_observability_io_logging_enabled,
        false,
    );
    match &patch.io_logging_sampling_rate {
        Patch::Keep => {}
        Patch::Clear => ws.io_logging_sampling_rate = 1.0,
        Patch::Set(v) => ws.io_logging_sampling_rate = *v,
    }
    match &patch.labels {
        Patch::Keep => {}
        Patch::Clear => ws.labels.clear(),
        Patch::Set(l) => ws.labels = l.clone(),
    }
    patch
        .usage_retention_days
        .clone()
        .apply_to(&mut ws.usage_retention_days);
    if patch.default_text_model.as_set().is_some() || patch.default_image_model.as_set().is_some() {
        check_defaults(&*tx, account, &ws)?;
    }
    ws.updated_at = Some(tx.now);
    ws.revision += 1;
    WORKSPACES.put(&mut *tx, &(account, ws.id), &ws)?;
    if !patch.custom_instructions.is_keep() {
        let mut config = routing::load_config(&*tx, account, ws.id)?;
        patch
            .custom_instructions
            .clone()
            .apply_to(&mut config.custom_instructions);
        routing::save_config(tx, account, ws.id, &config)?;
    }
    if let Some(rules) = &patch.mux_rules {
        let stored = routing::check_rules(&*tx, account, &ws, "mux_rules", rules)?;
        routing::store_rules(tx, account, ws.id, stored)?;
    }
    with_active(&*tx, account, ws)
}
