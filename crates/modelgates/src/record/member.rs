//! Organization members and their roles.

use crate::ids::UserId;
use crate::patch::Patch;
use crate::record::workspace::WorkspaceRole;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A member's role in the organization.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrgRole {
    /// `org:admin`: manages the organization.
    #[serde(rename = "org:admin")]
    Admin,
    /// `org:member`: a regular member.
    #[serde(rename = "org:member")]
    Member,
}

impl OrgRole {
    /// The wire spelling (`org:admin`, `org:member`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "org:admin",
            Self::Member => "org:member",
        }
    }

    /// The role this org role grants in a workspace (`org:admin` → `admin`).
    pub fn workspace_role(self) -> WorkspaceRole {
        match self {
            Self::Admin => WorkspaceRole::Admin,
            Self::Member => WorkspaceRole::Member,
        }
    }
}

/// An organization member.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The user id (e.g. `user_abc123`).
    pub user_id: UserId,
    /// Email address, unique in the organization (case-insensitively).
    pub email: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Organization role.
    pub role: OrgRole,
    /// When the member was added.
    pub created_at: DateTime<Utc>,
    /// When the member was last changed.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Input of `ModelGates::member_add`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewMember {
    /// The user id (1-64 ASCII letters, digits, `_`, `-`).
    pub user_id: String,
    /// Email address.
    pub email: String,
    /// Given name (≤ 100 chars).
    pub first_name: Option<String>,
    /// Family name (≤ 100 chars).
    pub last_name: Option<String>,
    /// Organization role; default `org:member`.
    pub role: Option<OrgRole>,
}

/// Input of `ModelGates::member_update`.
#[derive(Debug, Clone, Default)]
pub struct MemberPatch {
    /// New email (cannot be cleared).
    pub email: Option<String>,
    /// Given name: keep, clear or set.
    pub first_name: Patch<String>,
    /// Family name: keep, clear or set.
    pub last_name: Patch<String>,
    /// New organization role; memberships in every workspace follow it.
    pub role: Option<OrgRole>,
}
