//! Accounts (organizations): the bootstrap of an empty database and account creation. Every
//! other record is scoped to one account.

use chrono::{DateTime, Utc};

use crate::access;
use crate::clock::millis;
use crate::error::{Error, Result};
use crate::handle::{Caller, ModelGates, system};
use crate::ids::AccountId;
use crate::member::{self, Member, OrgRole};
pub use crate::record::account::*;
use crate::schema::ACCOUNTS;
use crate::storage::{ReadTxn, WriteTxn};
use crate::validate;
use crate::workspace;

pub(crate) fn any_account(txn: &dyn ReadTxn) -> Result<bool> {
    Ok(first_account(txn)?.is_some())
}

pub(crate) fn first_account(txn: &dyn ReadTxn) -> Result<Option<Account>> {
    let start = Vec::new();
    let rows = txn.range(
        ACCOUNTS.name(),
        std::ops::Bound::Included(&start),
        std::ops::Bound::Unbounded,
        1,
    )?;
    rows.first()
        .map(|(_, v)| crate::codec::decode_value(ACCOUNTS.name(), v))
        .transpose()
}

/// Creates an account with its org admin, the default workspace and the admin's membership.
pub(crate) fn bootstrap(
    txn: &mut dyn WriteTxn,
    now: DateTime<Utc>,
    b: &Bootstrap,
) -> Result<Account> {
    validate::name("account_name", &b.account_name, 100)?;
    validate::email("admin_email", &b.admin_email)?;
    let id = AccountId::generate(millis(now));
    let admin = Member {
        user_id: b.admin_user_id.clone(),
        email: b.admin_email.clone(),
        first_name: None,
        last_name: None,
        role: OrgRole::Admin,
        created_at: now,
        updated_at: None,
    };
    member::insert(txn, id, &admin)?;
    let ws = workspace::insert_default(txn, id, now, &admin)?;
    let account = Account {
        id,
        name: b.account_name.clone(),
        default_workspace_id: ws,
        bootstrap_admin: admin.user_id,
        active_workspace_id: None,
        created_at: now,
        audit_retention_days: None,
    };
    ACCOUNTS.put(txn, &id, &account)?;
    Ok(account)
}

impl ModelGates {
    /// Creates another account (organization) with its org admin and default workspace, and
    /// returns a caller acting as that admin.
    pub fn create_account(&self, options: &Bootstrap) -> Result<Caller> {
        let account = self.write(system("create_account"), |tx| {
            let now = tx.now;
            bootstrap(tx, now, options)
        })?;
        Ok(Caller::new(account.id, account.bootstrap_admin))
    }

    /// The caller's account.
    pub fn account_get(&self, caller: &Caller) -> Result<Account> {
        self.read(|txn| {
            access::member(txn, caller)?;
            load(txn, caller.account)
        })
    }
}

/// The account record; an unknown account is an internal error (callers are authorized first).
pub(crate) fn load(txn: &dyn ReadTxn, id: AccountId) -> Result<Account> {
    ACCOUNTS
        .get(txn, &id)?
        .ok_or_else(|| Error::internal(format!("account {id} is missing")))
}
