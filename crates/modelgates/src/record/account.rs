//! Accounts (organizations) and what bootstraps one.

use crate::ids::{AccountId, UserId, WorkspaceId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An account (organization).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// The account id (`acct_…`).
    pub id: AccountId,
    /// Display name.
    pub name: String,
    /// The workspace that cannot be deleted.
    pub default_workspace_id: WorkspaceId,
    /// The org admin created with the account.
    pub bootstrap_admin: UserId,
    /// The workspace tools use when none is named (`None` = the default workspace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_workspace_id: Option<WorkspaceId>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Days audit events are kept; `None` (the default) keeps them forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_retention_days: Option<u32>,
}

/// What to create in an empty database (or with `ModelGates::create_account`).
#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// Account name.
    pub account_name: String,
    /// User id of the first org admin.
    pub admin_user_id: UserId,
    /// Email of the first org admin.
    pub admin_email: String,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Self {
            account_name: "Default".into(),
            admin_user_id: UserId::parse_field("user_admin", "admin_user_id")
                .expect("valid literal"),
            admin_email: "admin@localhost.localdomain".into(),
        }
    }
}

impl Account {
    /// The workspace tools use when none is named.
    pub fn active_workspace(&self) -> WorkspaceId {
        self.active_workspace_id
            .unwrap_or(self.default_workspace_id)
    }
}
