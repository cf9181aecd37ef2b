//! Organization members: add, list, get, change role or profile, remove. A member's role in
//! every workspace follows their organization role.

use crate::access;
use crate::api_key;
use crate::error::{Error, Reason, Result};
use crate::handle::{Caller, ModelGates, Tx, op};
use crate::ids::{AccountId, UserId};
use crate::patch::Patch;
pub use crate::record::member::*;
use crate::schema::{MEMBER_EMAILS, MEMBERS, USER_KEYS, WORKSPACE_MEMBERS};
use crate::storage::{ReadTxn, WriteTxn};
use crate::validate::{self, Page, Paged};

const PERSON_NAME_MAX: usize = 100;

fn email_key(account: AccountId, email: &str) -> (AccountId, String) {
    (account, email.to_lowercase())
}

/// Writes a new member and its email index entry (no checks).
pub(crate) fn insert(txn: &mut dyn WriteTxn, account: AccountId, m: &Member) -> Result<()> {
    MEMBERS.put(txn, &(account, m.user_id.clone()), m)?;
    MEMBER_EMAILS.put(txn, &email_key(account, &m.email), &m.user_id)
}

/// The member `user_id` of `account`, or not_found.
pub(crate) fn load(txn: &dyn ReadTxn, account: AccountId, user_id: &UserId) -> Result<Member> {
    MEMBERS
        .get(txn, &(account, user_id.clone()))?
        .ok_or_else(|| Error::not_found("member", user_id.as_str()))
}

fn check_email_free(
    txn: &dyn ReadTxn,
    account: AccountId,
    email: &str,
    except: Option<&UserId>,
) -> Result<()> {
    if let Some(owner) = MEMBER_EMAILS.get(txn, &email_key(account, email))?
        && Some(&owner) != except
    {
        return Err(Error::conflict(
            "email",
            format!("email {email:?} is already used by member {owner}"),
        ));
    }
    Ok(())
}

fn count_admins(txn: &dyn ReadTxn, account: AccountId) -> Result<usize> {
    Ok(MEMBERS
        .values_with_prefix(txn, &(account,))?
        .iter()
        .filter(|m| m.role == OrgRole::Admin)
        .count())
}

fn validate_person_name(field: &str, v: &Patch<String>) -> Result<()> {
    match v.as_set() {
        Some(n) => validate::name(field, n, PERSON_NAME_MAX),
        None => Ok(()),
    }
}

/// A retry of the create with the same idempotency key gets the first result.
impl crate::idempotency::store::Replayable for Member {}

impl ModelGates {
    /// Adds a member to the caller's organization. Fails with `conflict` if the user id or the
    /// email is taken.
    pub fn member_add(&self, caller: &Caller, new: NewMember) -> Result<Member> {
        let user_id = UserId::parse_field(&new.user_id, "user_id")?;
        validate::email("email", &new.email)?;
        let first = Patch::from(Some(new.first_name.clone()));
        let last = Patch::from(Some(new.last_name.clone()));
        validate_person_name("first_name", &first)?;
        validate_person_name("last_name", &last)?;
        self.write_once(op("member_add", caller), &new, |tx| {
            access::admin(&*tx, caller)?;
            if MEMBERS.contains(&*tx, &(caller.account, user_id.clone()))? {
                return Err(Error::conflict(
                    "user_id",
                    format!("user {user_id} is already a member of the organization"),
                ));
            }
            check_email_free(&*tx, caller.account, &new.email, None)?;
            let member = Member {
                user_id: user_id.clone(),
                email: new.email.clone(),
                first_name: new.first_name.clone(),
                last_name: new.last_name.clone(),
                role: new.role.unwrap_or(OrgRole::Member),
                created_at: tx.now,
                updated_at: None,
            };
            insert(&mut *tx, caller.account, &member)?;
            Ok(member)
        })
    }

    /// Lists the organization's members, ordered by user id (org admins only: the directory
    /// holds every member's email).
    pub fn member_list(&self, caller: &Caller, page: Page) -> Result<Paged<Member>> {
        self.read(|txn| {
            access::admin(txn, caller)?;
            Ok(page.apply(MEMBERS.values_with_prefix(txn, &(caller.account,))?))
        })
    }

    /// One member by user id (org admins: anyone; members: themselves).
    pub fn member_get(&self, caller: &Caller, user_id: &str) -> Result<Member> {
        let user_id = UserId::parse_field(user_id, "user_id")?;
        self.read(|txn| {
            let me = access::member(txn, caller)?;
            access::own(&me, &user_id, "read their own membership")?;
            load(txn, caller.account, &user_id)
        })
    }

    /// Changes a member's email, names or role. A role change applies to every workspace
    /// membership of the member in the same transaction; the last org admin cannot be demoted.
    pub fn member_update(
        &self,
        caller: &Caller,
        user_id: &str,
        patch: MemberPatch,
    ) -> Result<Member> {
        let user_id = UserId::parse_field(user_id, "user_id")?;
        if let Some(email) = &patch.email {
            validate::email("email", email)?;
        }
        validate_person_name("first_name", &patch.first_name)?;
        validate_person_name("last_name", &patch.last_name)?;
        self.write(op("member_update", caller), |tx| {
            access::admin(&*tx, caller)?;
            let account = caller.account;
            let mut m = load(&*tx, account, &user_id)?;
            if let Some(email) = &patch.email
                && email != &m.email
            {
                check_email_free(&*tx, account, email, Some(&user_id))?;
                MEMBER_EMAILS.delete(&mut *tx, &email_key(account, &m.email))?;
                MEMBER_EMAILS.put(&mut *tx, &email_key(account, email), &user_id)?;
                m.email = email.clone();
            }
            patch.first_name.clone().apply_to(&mut m.first_name);
            patch.last_name.clone().apply_to(&mut m.last_name);
            if let Some(role) = patch.role
                && role != m.role
            {
                if m.role == OrgRole::Admin && count_admins(&*tx, account)? <= 1 {
                    return Err(Error::precondition(
                        Reason::LastOrgAdmin,
                        format!(
                            "user {user_id} is the organization's only org:admin; promote \
                             another member first"
                        ),
                    ));
                }
                m.role = role;
                sync_workspace_roles(tx, account, &user_id, role)?;
            }
            m.updated_at = Some(tx.now);
            MEMBERS.put(&mut *tx, &(account, user_id.clone()), &m)?;
            Ok(m)
        })
    }

    /// Removes a member from the organization and from every workspace. Fails with
    /// `failed_precondition` if the member still has active API keys (naming them) or is the
    /// caller (so the organization always keeps an admin); their inactive keys are deleted with
    /// them.
    pub fn member_remove(&self, caller: &Caller, user_id: &str) -> Result<Member> {
        let user_id = UserId::parse_field(user_id, "user_id")?;
        self.write(op("member_remove", caller), |tx| {
            access::admin(&*tx, caller)?;
            let account = caller.account;
            if user_id == caller.user_id {
                return Err(Error::precondition(
                    Reason::CannotRemoveSelf,
                    format!("user {user_id} cannot remove themselves; another org:admin can"),
                ));
            }
            let m = load(&*tx, account, &user_id)?;
            let keys = api_key::records_of_user(&*tx, account, &user_id)?;
            let now = tx.now;
            let active: Vec<String> = keys
                .iter()
                .filter(|k| k.key.is_active(now))
                .map(|k| k.key.id.to_string())
                .collect();
            if !active.is_empty() {
                return Err(Error::precondition(
                    Reason::MemberHasActiveKeys,
                    format!(
                        "user {user_id} has {} active API key(s): {}; disable or delete them first",
                        active.len(),
                        active.join(", ")
                    ),
                ));
            }
            for record in &keys {
                api_key::delete_record(tx, account, record)?;
            }
            for ws in crate::workspace::memberships_of_user(&*tx, account, &user_id)? {
                WORKSPACE_MEMBERS.delete(&mut *tx, &(account, ws, user_id.clone()))?;
            }
            MEMBER_EMAILS.delete(&mut *tx, &email_key(account, &m.email))?;
            MEMBERS.delete(&mut *tx, &(account, user_id.clone()))?;
            debug_assert!(
                USER_KEYS
                    .values_with_prefix(&*tx, &(account, user_id.clone()))?
                    .is_empty()
            );
            Ok(m)
        })
    }
}

fn sync_workspace_roles(
    tx: &mut Tx<'_>,
    account: AccountId,
    user_id: &UserId,
    role: OrgRole,
) -> Result<()> {
    for ws in crate::workspace::memberships_of_user(&*tx, account, user_id)? {
        let key = (account, ws, user_id.clone());
        if let Some(mut wm) = WORKSPACE_MEMBERS.get(&*tx, &key)? {
            wm.role = role.workspace_role();
            WORKSPACE_MEMBERS.put(&mut *tx, &key, &wm)?;
        }
    }
    Ok(())
}
