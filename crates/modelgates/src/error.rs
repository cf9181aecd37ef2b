//! The domain error type and its protocol-neutral kinds; front ends map kinds to their protocol
//! in one place.

use crate::storage::StorageError;

/// Result alias of the domain.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The protocol-neutral class of an [`Error`]; front ends map it to a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request itself is malformed (HTTP 400).
    InvalidArgument,
    /// No or unknown credentials (HTTP 401).
    Unauthenticated,
    /// Credentials are valid but not allowed to do this (HTTP 403).
    PermissionDenied,
    /// The addressed resource does not exist in the caller's account (HTTP 404).
    NotFound,
    /// The request collides with existing state, e.g. a taken slug (HTTP 409).
    Conflict,
    /// The request is well-formed but the current state forbids it (HTTP 400 with a reason).
    FailedPrecondition,
    /// A server-side failure; details are logged, never returned (HTTP 500).
    Internal,
}

impl ErrorKind {
    /// The snake_case code front ends put on the wire (`invalid_argument`, `not_found`, …).
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidArgument => "invalid_argument",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission_denied",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::FailedPrecondition => "failed_precondition",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status an HTTP front end answers with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidArgument | Self::FailedPrecondition => 400,
            Self::Unauthenticated => 401,
            Self::PermissionDenied => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::Internal => 500,
        }
    }
}

/// Everything that can go wrong in a domain operation. Messages name the offending value and
/// never contain secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field of the request is invalid.
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// The offending field, as named on the wire (`slug`, `user_ids[2]`).
        field: String,
        /// Why it is invalid, naming the value.
        reason: String,
    },
    /// The resource does not exist in the caller's account.
    #[error("{resource} {id:?} not found")]
    NotFound {
        /// The kind of resource (`workspace`, `member`, `api key`).
        resource: &'static str,
        /// The identifier the caller used.
        id: String,
    },
    /// The request collides with existing state.
    #[error("{message}")]
    Conflict {
        /// The field whose value collides, if one does.
        field: Option<String>,
        /// What collides with what.
        message: String,
    },
    /// The current state forbids the operation.
    #[error("{message}")]
    FailedPrecondition {
        /// A stable, machine-readable reason (`WORKSPACE_HAS_ACTIVE_KEYS`, …).
        reason: Reason,
        /// What blocks the operation and how to unblock it.
        message: String,
    },
    /// No or unknown credentials.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The caller may not do this.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The storage backend failed.
    #[error("storage error: {0}")]
    Storage(#[from] StorageError),
    /// A stored record or the schema could not be read.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The database was written by a newer version of ModelGates.
    #[error("unsupported database version: {0}")]
    UnsupportedVersion(String),
    /// A bug or an unexpected internal state.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why the current state forbids an operation: the `reason` of an
/// [`Error::FailedPrecondition`]. The wire strings ([`Reason::as_str`]) are stable; variants
/// are only ever added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The account's active workspace cannot be archived or deleted.
    ActiveWorkspace,
    /// A caller cannot remove themselves from the organization.
    CannotRemoveSelf,
    /// Catalog models cannot be deleted (disable them instead).
    CatalogModel,
    /// The account's default workspace cannot be archived or deleted.
    DefaultWorkspace,
    /// The last org admin cannot be removed or demoted.
    LastOrgAdmin,
    /// A member with active API keys cannot be removed.
    MemberHasActiveKeys,
    /// A disabled model cannot be a default or a rule's model.
    ModelDisabled,
    /// A model a default or a rule uses cannot be disabled or deleted.
    ModelInUse,
    /// No rule and no default routes the request.
    NoRoute,
    /// The user is not a member of the workspace.
    NotWorkspaceMember,
    /// A provider mux rules use cannot be deleted without `cascade`.
    ProviderInUse,
    /// An archived workspace cannot be changed, activated or routed to.
    WorkspaceArchived,
    /// A workspace with active API keys cannot be deleted.
    WorkspaceHasActiveKeys,
}

impl Reason {
    /// The stable wire string (`WORKSPACE_HAS_ACTIVE_KEYS`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ActiveWorkspace => "ACTIVE_WORKSPACE",
            Self::CannotRemoveSelf => "CANNOT_REMOVE_SELF",
            Self::CatalogModel => "CATALOG_MODEL",
            Self::DefaultWorkspace => "DEFAULT_WORKSPACE",
            Self::LastOrgAdmin => "LAST_ORG_ADMIN",
            Self::MemberHasActiveKeys => "MEMBER_HAS_ACTIVE_KEYS",
            Self::ModelDisabled => "MODEL_DISABLED",
            Self::ModelInUse => "MODEL_IN_USE",
            Self::NoRoute => "NO_ROUTE",
            Self::NotWorkspaceMember => "NOT_WORKSPACE_MEMBER",
            Self::ProviderInUse => "PROVIDER_IN_USE",
            Self::WorkspaceArchived => "WORKSPACE_ARCHIVED",
            Self::WorkspaceHasActiveKeys => "WORKSPACE_HAS_ACTIVE_KEYS",
        }
    }

    /// Every reason, in wire-string order.
    pub const ALL: [Reason; 13] = [
        Self::ActiveWorkspace,
        Self::CannotRemoveSelf,
        Self::CatalogModel,
        Self::DefaultWorkspace,
        Self::LastOrgAdmin,
        Self::MemberHasActiveKeys,
        Self::ModelDisabled,
        Self::ModelInUse,
        Self::NoRoute,
        Self::NotWorkspaceMember,
        Self::ProviderInUse,
        Self::WorkspaceArchived,
        Self::WorkspaceHasActiveKeys,
    ];
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Error {
    /// The protocol-neutral class of this error. Front ends map it to their protocol; programs
    /// branch on it (and on [`Error::field`], [`Error::reason`]) rather than on messages, which
    /// are for people and name the offending value.
    ///
    /// ```
    /// use modelgates::{ErrorKind, MemoryStore, ModelGates, NewWorkspace};
    /// # fn main() -> Result<(), modelgates::Error> {
    /// let gates = ModelGates::open(MemoryStore::new())?;
    /// let admin = gates.default_caller()?;
    /// let new = |slug: &str| NewWorkspace { name: "Team".into(), slug: slug.into(), ..Default::default() };
    ///
    /// let err = gates.workspace_create(&admin, new("Not A Slug")).unwrap_err();
    /// assert_eq!((err.kind(), err.field()), (ErrorKind::InvalidArgument, Some("slug")));
    /// assert!(err.to_string().contains("Not A Slug"));
    ///
    /// gates.workspace_create(&admin, new("team"))?;
    /// let err = gates.workspace_create(&admin, new("team")).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Conflict);
    /// assert_eq!(err.kind().code(), "conflict");
    /// # Ok(()) }
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::Conflict { .. } => ErrorKind::Conflict,
            Self::FailedPrecondition { .. } => ErrorKind::FailedPrecondition,
            Self::Unauthenticated(_) => ErrorKind::Unauthenticated,
            Self::PermissionDenied(_) => ErrorKind::PermissionDenied,
            Self::Storage(_)
            | Self::Corrupt(_)
            | Self::UnsupportedVersion(_)
            | Self::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The request field this error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidArgument { field, .. } => Some(field),
            Self::Conflict { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// The machine-readable reason of a failed precondition.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Self::FailedPrecondition { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    /// An [`Error::InvalidArgument`] on `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::NotFound`].
    pub fn not_found(resource: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            resource,
            id: id.into(),
        }
    }

    /// An [`Error::Conflict`] on `field`.
    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Conflict {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// An [`Error::FailedPrecondition`].
    pub fn precondition(reason: Reason, message: impl Into<String>) -> Self {
        Self::FailedPrecondition {
            reason,
            message: message.into(),
        }
    }

    /// An [`Error::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_have_distinct_screaming_snake_wire_strings() {
        let mut seen = std::collections::BTreeSet::new();
        for r in Reason::ALL {
            let s = r.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(s.chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{s}");
            assert_eq!(serde_json::to_value(r).unwrap(), s);
            assert_eq!(r, s);
        }
        let err = Error::precondition(Reason::ModelInUse, "m");
        assert_eq!(err.reason(), Some(Reason::ModelInUse));
        assert_eq!(err.kind(), ErrorKind::FailedPrecondition);
    }
}
