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
        reason: &'static str,
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

impl Error {
    /// The protocol-neutral class of this error.
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
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Self::FailedPrecondition { reason, .. } => Some(reason),
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
    pub fn precondition(reason: &'static str, message: impl Into<String>) -> Self {
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
