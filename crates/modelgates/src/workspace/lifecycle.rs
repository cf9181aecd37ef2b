//! A workspace's lifecycle after creation: activation, archiving and restoring, and deletion with
//! everything that belongs to it.

use super::*;

impl ModelGates {
    /// Deletes a workspace (by UUID or slug) with its memberships and inactive keys. The
    /// default workspace and workspaces with active API keys cannot be deleted.
    pub fn workspace_delete(&self, caller: &Caller, id_or_slug: &str) -> Result<Workspace> {
        self.write(op("workspace_delete", caller), |tx| {
            access::admin(&*tx, caller)?;
            let account = caller.account;
            let ws = resolve(&*tx, account, id_or_slug)?;
            let acct = account::load(&*tx, account)?;
            if acct.default_workspace_id == ws.id {
                return Err(Error::precondition(
                    Reason::DefaultWorkspace,
                    format!(
                        "workspace {:?} is the account's default workspace and cannot be deleted",
                        ws.slug
                    ),
                ));
            }
            if acct.active_workspace() == ws.id {
                return Err(Error::precondition(
                    Reason::ActiveWorkspace,
                    format!(
                        "workspace {:?} is the account's active workspace and cannot be deleted; \
                         activate another workspace first",
                        ws.slug
                    ),
                ));
            }
            let keys = api_key::records_of_workspace(&*tx, account, ws.id)?;
            let active: Vec<String> = keys
                .iter()
                .filter(|k| k.key.is_active(tx.now))
                .map(|k| k.key.id.to_string())
                .collect();
            if !active.is_empty() {
                return Err(Error::precondition(
                    Reason::WorkspaceHasActiveKeys,
                    format!(
                        "workspace {:?} has {} active API key(s): {}; disable or delete them first",
                        ws.slug,
                        active.len(),
                        active.join(", ")
                    ),
                ));
            }
            // What points at the workspace from outside its key prefix goes first (keys with
            // their hashes and user index, provider uses, the slug), then its usage, then every
            // workspace-scoped table of the registry by prefix.
            for record in &keys {
                api_key::delete_record(tx, account, record)?;
            }
            routing::delete_config(tx, account, ws.id)?;
            WORKSPACE_SLUGS.delete(&mut *tx, &(account, ws.slug.clone()))?;
            crate::usage::delete_all(&mut *tx, account, ws.id)?;
            crate::schema::purge_workspace(&mut *tx, account, ws.id)?;
            // Never the active workspace (refused above).
            Ok(ws.view(false))
        })
    }

    /// Makes a workspace the account's active one: tools whose workspace parameter is omitted
    /// use it. Archived workspaces cannot be activated.
    pub fn workspace_activate(&self, caller: &Caller, id_or_slug: &str) -> Result<Workspace> {
        self.write(op("workspace_activate", caller), |tx| {
            access::admin(&*tx, caller)?;
            let account = caller.account;
            let ws = resolve(&*tx, account, id_or_slug)?;
            if ws.archived_at.is_some() {
                return Err(Error::precondition(
                    Reason::WorkspaceArchived,
                    format!(
                        "workspace {:?} is archived and cannot be activated; restore it with \
                         workspace_restore first",
                        ws.slug
                    ),
                ));
            }
            let mut acct = account::load(&*tx, account)?;
            if acct.active_workspace() != ws.id {
                acct.active_workspace_id = Some(ws.id);
                ACCOUNTS.put(&mut *tx, &account, &acct)?;
            }
            Ok(ws.view(true))
        })
    }

    /// Archives a workspace: it keeps its slug, leaves lists (unless asked for), and can no
    /// longer be activated, changed or routed to. The default and the active workspace cannot
    /// be archived.
    pub fn workspace_archive(&self, caller: &Caller, id_or_slug: &str) -> Result<Workspace> {
        self.write(op("workspace_archive", caller), |tx| {
            archive_in(tx, caller, id_or_slug)
        })
    }

    /// Restores an archived workspace (a no-op for one that is not archived).
    pub fn workspace_restore(&self, caller: &Caller, id_or_slug: &str) -> Result<Workspace> {
        self.write(op("workspace_restore", caller), |tx| {
            restore_in(tx, caller, id_or_slug)
        })
    }
}

/// [`ModelGates::workspace_archive`] inside transaction `tx`: its checks, then its writes.
pub(crate) fn archive_in(tx: &mut Tx<'_>, caller: &Caller, id_or_slug: &str) -> Result<Workspace> {
    access::admin(&*tx, caller)?;
    let account = caller.account;
    let mut ws = resolve(&*tx, account, id_or_slug)?;
    let acct = account::load(&*tx, account)?;
    let is_active = acct.active_workspace() == ws.id;
    if acct.default_workspace_id == ws.id {
        return Err(Error::precondition(
            Reason::DefaultWorkspace,
            format!(
                "workspace {:?} is the account's default workspace and cannot be archived",
                ws.slug
            ),
        ));
    }
    if is_active {
        return Err(Error::precondition(
            Reason::ActiveWorkspace,
            format!(
                "workspace {:?} is the account's active workspace and cannot be archived; \
                 activate another workspace first",
                ws.slug
            ),
        ));
    }
    if ws.archived_at.is_none() {
        ws.archived_at = Some(tx.now);
        ws.updated_at = Some(tx.now);
        ws.revision += 1;
        WORKSPACES.put(&mut *tx, &(account, ws.id), &ws)?;
    }
    Ok(ws.view(is_active))
}

/// [`ModelGates::workspace_restore`] inside transaction `tx`: its checks, then its writes.
pub(crate) fn restore_in(tx: &mut Tx<'_>, caller: &Caller, id_or_slug: &str) -> Result<Workspace> {
    access::admin(&*tx, caller)?;
    let account = caller.account;
    let mut ws = resolve(&*tx, account, id_or_slug)?;
    if ws.archived_at.is_some() {
        ws.archived_at = None;
        ws.updated_at = Some(tx.now);
        ws.revision += 1;
        WORKSPACES.put(&mut *tx, &(account, ws.id), &ws)?;
    }
    with_active(&*tx, account, ws)
}
