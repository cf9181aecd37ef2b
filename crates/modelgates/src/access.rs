//! The permission model: who may do what in an account. Every operation starts with one of
//! [`admin`] or [`member`], and every workspace-scoped operation then checks [`workspace`]
//! on the workspace it resolved, inside the same transaction.
//!
//! - **Org admins** (`org:admin`) may do everything in their account.
//! - **Org members** (`org:member`) may read the data of the workspaces they are members of
//!   (the account's default workspace counts as theirs): the workspace, its members, models,
//!   mux rules, custom instructions, route resolution, usage, messages and alerts, and their
//!   own API keys. At account level they may read provider endpoints (never their secrets),
//!   personas, the account and their own organization membership; not the member directory
//!   (names, emails) and not other users' keys.
//! - Members may create inference keys for themselves in their workspaces, rename their own
//!   keys and tighten them (disable, lower or set a limit, set or shorten an expiry) and delete
//!   them; they can never loosen a key (enable it, raise or remove its limit, extend or remove
//!   its expiry). Management keys, keys for other users and every loosening need an org admin.
//! - Usage may be recorded by an org admin for any key of the workspace, and by a member only
//!   for their own keys of their workspaces; every `api_key_id` must belong to the workspace.
//! - Everything else (creating, changing, deleting workspaces, membership, models, providers,
//!   rules, instructions, personas, members) needs an org admin.
//!
//! A workspace membership's role (`admin` / `member`) follows the user's org role and grants
//! nothing by itself: rights come from the org role and membership alone.

use std::ops::Deref;

use crate::error::{Error, Result};
use crate::handle::Caller;
use crate::ids::{AccountId, UserId, WorkspaceId};
use crate::member::{Member, OrgRole};
use crate::schema::MEMBERS;
use crate::storage::{ReadTxn, TableName};
use crate::workspace::{self, WorkspaceRecord};

/// An authenticated caller: its account and its organization membership.
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    pub(crate) account: AccountId,
    pub(crate) member: Member,
}

impl Deref for Actor {
    type Target = Member;
    fn deref(&self) -> &Member {
        &self.member
    }
}

impl Actor {
    pub(crate) fn is_admin(&self) -> bool {
        self.member.role == OrgRole::Admin
    }
}

/// The caller's membership in its account, of any role.
/// The storage key [`member`] reads, for reading it ahead ([`crate::tx::Tx::read_ahead`]).
pub(crate) fn member_key(caller: &Caller) -> (TableName, Vec<u8>) {
    (
        MEMBERS.name(),
        MEMBERS.key_bytes(&(caller.account, caller.user_id.clone())),
    )
}

pub(crate) fn member(txn: &dyn ReadTxn, caller: &Caller) -> Result<Actor> {
    let member = MEMBERS
        .get(txn, &(caller.account, caller.user_id.clone()))?
        .ok_or_else(|| {
            Error::Unauthenticated(format!(
                "user {} is not a member of account {}",
                caller.user_id, caller.account
            ))
        })?;
    Ok(Actor {
        account: caller.account,
        member,
    })
}

/// The caller's membership, which must be `org:admin`.
pub(crate) fn admin(txn: &dyn ReadTxn, caller: &Caller) -> Result<Actor> {
    let me = member(txn, caller)?;
    if me.role != OrgRole::Admin {
        return Err(Error::PermissionDenied(format!(
            "user {} has role {}; this operation needs org:admin",
            me.user_id,
            me.role.as_str()
        )));
    }
    Ok(me)
}

/// Whether `me` may see the data of `ws`: org admins always; members when they are members
/// of it or it is the account's default workspace.
pub(crate) fn sees(txn: &dyn ReadTxn, me: &Actor, ws: &WorkspaceRecord) -> Result<bool> {
    sees_with(txn, me, ws, || {
        Ok(crate::account::load(txn, me.account)?.default_workspace_id)
    })
}

/// [`sees`], for a caller that already holds the account's default workspace id (`default`
/// is asked only when membership does not decide).
pub(crate) fn sees_with(
    txn: &dyn ReadTxn,
    me: &Actor,
    ws: &WorkspaceRecord,
    default: impl FnOnce() -> Result<WorkspaceId>,
) -> Result<bool> {
    if me.is_admin() || workspace::is_member(txn, me.account, ws.id, &me.user_id)? {
        return Ok(true);
    }
    Ok(default()? == ws.id)
}

/// Requires that `me` may see the data of `ws` (see [`sees`]).
pub(crate) fn workspace(txn: &dyn ReadTxn, me: &Actor, ws: &WorkspaceRecord) -> Result<()> {
    if sees(txn, me, ws)? {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "user {} is not a member of workspace {:?}; an org admin can add them with \
         workspace_members_add",
        me.user_id, ws.slug
    )))
}

/// Requires that `me` is an org admin or the user `owner`; `what` completes "user … may
/// only …" in the refusal (e.g. "delete their own keys").
pub(crate) fn own(me: &Actor, owner: &UserId, what: &str) -> Result<()> {
    if me.is_admin() || &me.user_id == owner {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "user {} has role {} and may only {what}",
        me.user_id,
        me.role.as_str()
    )))
}

/// Resolves the workspace `sel` (UUID or slug; `None` = the account's active workspace) and
/// requires that the caller may see its data: the entry of every workspace-scoped read.
pub(crate) fn workspace_of(
    txn: &dyn ReadTxn,
    caller: &Caller,
    sel: Option<&str>,
) -> Result<(Actor, WorkspaceRecord)> {
    let me = member(txn, caller)?;
    let ws = workspace::resolve_or_active(txn, caller.account, sel)?;
    workspace(txn, &me, &ws)?;
    Ok((me, ws))
}
