//! Workspace membership: who belongs to a workspace (their role follows their organization role),
//! listed, bulk-added and bulk-removed.

use super::*;

/// Adds `m` to workspace `ws` with the role of their org role (or refreshes that role).
/// Returns the membership and whether anything changed.
pub(crate) fn upsert_membership(
    tx: &mut Tx<'_>,
    account: AccountId,
    ws: WorkspaceId,
    m: &Member,
) -> Result<(WorkspaceMember, bool)> {
    let key = (account, ws, m.user_id.clone());
    let role = m.role.workspace_role();
    if let Some(mut existing) = WORKSPACE_MEMBERS.get(&*tx, &key)? {
        if existing.role == role {
            return Ok((existing, false));
        }
        existing.role = role;
        WORKSPACE_MEMBERS.put(&mut *tx, &key, &existing)?;
        return Ok((existing, true));
    }
    let wm = WorkspaceMember {
        id: MembershipId::generate(millis(tx.now)),
        workspace_id: ws,
        user_id: m.user_id.clone(),
        role,
        created_at: tx.now,
    };
    WORKSPACE_MEMBERS.put(&mut *tx, &key, &wm)?;
    Ok((wm, true))
}

pub(crate) fn remove_membership(
    txn: &mut dyn WriteTxn,
    account: AccountId,
    ws: WorkspaceId,
    user: &UserId,
) -> Result<bool> {
    // A bundle's claim on the membership ends with it: re-added by hand, it is not the bundle's.
    crate::schema::BUNDLE_STAMPS.delete(
        txn,
        &(
            account,
            crate::record::bundle::BundleKind::Member
                .as_str()
                .to_owned(),
            format!("{ws}/{user}"),
        ),
    )?;
    WORKSPACE_MEMBERS.delete(txn, &(account, ws, user.clone()))
}

/// The workspaces `user` is a member of (a scan of the account's memberships).
pub(crate) fn memberships_of_user(
    txn: &dyn ReadTxn,
    account: AccountId,
    user: &UserId,
) -> Result<Vec<WorkspaceId>> {
    Ok(WORKSPACE_MEMBERS
        .values_with_prefix(txn, &(account,))?
        .into_iter()
        .filter(|m| &m.user_id == user)
        .map(|m| m.workspace_id)
        .collect())
}

/// Whether `user` is a member of workspace `ws`.
pub(crate) fn is_member(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: WorkspaceId,
    user: &UserId,
) -> Result<bool> {
    WORKSPACE_MEMBERS.contains(txn, &(account, ws, user.clone()))
}

/// Resolves and checks a bulk list of user ids: 1..=100, each a valid id of an org member.
/// Duplicates are folded. Unknown users are reported together, by name.
pub(crate) fn org_members_for_bulk(
    txn: &dyn ReadTxn,
    account: AccountId,
    raw: &[String],
) -> Result<Vec<Member>> {
    validate::bulk_len("user_ids", raw.len())?;
    let mut seen = BTreeSet::new();
    let mut members = Vec::new();
    let mut unknown = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let id = UserId::parse_field(r, &format!("user_ids[{i}]"))?;
        if !seen.insert(id.clone()) {
            continue;
        }
        match MEMBERS.get(txn, &(account, id.clone()))? {
            Some(m) => members.push(m),
            None => unknown.push(format!("{id:?}")),
        }
    }
    if !unknown.is_empty() {
        return Err(Error::invalid(
            "user_ids",
            format!(
                "not members of the organization: {}; add them with member_add first",
                unknown.join(", ")
            ),
        ));
    }
    Ok(members)
}

impl ModelGates {
    /// Lists a workspace's members, ordered by user id.
    pub fn workspace_members_list(
        &self,
        caller: &Caller,
        id_or_slug: &str,
        page: Page,
    ) -> Result<Paged<WorkspaceMember>> {
        self.read(|txn| {
            let me = access::member(txn, caller)?;
            let ws = resolve(txn, caller.account, id_or_slug)?;
            access::workspace(txn, &me, &ws)?;
            Ok(page.apply(WORKSPACE_MEMBERS.values_with_prefix(txn, &(caller.account, ws.id))?))
        })
    }

    /// Adds organization members to a workspace with the role they hold in the organization.
    /// Idempotent: re-adding refreshes the role. All-or-nothing: one unknown user id fails the
    /// whole call.
    pub fn workspace_members_add(
        &self,
        caller: &Caller,
        id_or_slug: &str,
        user_ids: &[String],
    ) -> Result<BulkAdded> {
        self.write(op("workspace_members_add", caller), |tx| {
            members_add_in(tx, caller, id_or_slug, user_ids)
        })
    }

    /// Removes members from a workspace. All-or-nothing: if any of them has an active API key
    /// in the workspace, nobody is removed and the error names the users and keys. Inactive
    /// keys of removed members in this workspace are deleted with their membership.
    pub fn workspace_members_remove(
        &self,
        caller: &Caller,
        id_or_slug: &str,
        user_ids: &[String],
    ) -> Result<BulkRemoved> {
        self.write(op("workspace_members_remove", caller), |tx| {
            members_remove_in(tx, caller, id_or_slug, user_ids)
        })
    }
}

/// [`ModelGates::workspace_members_add`] inside transaction `tx`: its checks, then its writes.
pub(crate) fn members_add_in(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id_or_slug: &str,
    user_ids: &[String],
) -> Result<BulkAdded> {
    access::admin(&*tx, caller)?;
    let account = caller.account;
    let ws = resolve(&*tx, account, id_or_slug)?;
    check_not_archived(&ws)?;
    let members = org_members_for_bulk(&*tx, account, user_ids)?;
    let mut added_count = 0;
    let mut data = Vec::with_capacity(members.len());
    for m in &members {
        let (wm, changed) = upsert_membership(tx, account, ws.id, m)?;
        added_count += u64::from(changed);
        data.push(wm);
    }
    Ok(BulkAdded { added_count, data })
}

/// [`ModelGates::workspace_members_remove`] inside transaction `tx`: its checks, then its writes.
pub(crate) fn members_remove_in(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id_or_slug: &str,
    user_ids: &[String],
) -> Result<BulkRemoved> {
    access::admin(&*tx, caller)?;
    let account = caller.account;
    let ws = resolve(&*tx, account, id_or_slug)?;
    let members = org_members_for_bulk(&*tx, account, user_ids)?;
    let keys = api_key::records_of_workspace(&*tx, account, ws.id)?;
    let targets: BTreeSet<&UserId> = members.iter().map(|m| &m.user_id).collect();
    let blocking: Vec<String> = keys
        .iter()
        .filter(|k| targets.contains(&k.key.creator_user_id) && k.key.is_active(tx.now))
        .map(|k| format!("{} (key {})", k.key.creator_user_id, k.key.id))
        .collect();
    if !blocking.is_empty() {
        return Err(Error::precondition(
            Reason::MemberHasActiveKeys,
            format!(
                "nobody was removed: these members have active API keys in workspace {:?}: {}; \
                 disable or delete the keys first",
                ws.slug,
                blocking.join(", ")
            ),
        ));
    }
    let doomed: Vec<&KeyRecord> = keys
        .iter()
        .filter(|k| targets.contains(&k.key.creator_user_id))
        .collect();
    for record in doomed {
        api_key::delete_record(tx, account, record)?;
    }
    let mut removed_count = 0;
    for m in &members {
        removed_count += u64::from(remove_membership(&mut *tx, account, ws.id, &m.user_id)?);
    }
    Ok(BulkRemoved { removed_count })
}
