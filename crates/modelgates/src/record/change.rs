//! The change log's records: what one commit changed of the tables the data-plane snapshot
//! mirrors, so that other instances on the same database server can follow.

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, KeyId, ProviderId, WorkspaceId};

/// What one commit touched of `API_KEYS`, `WORKSPACES`/`WORKSPACE_CONFIG` and `PROVIDERS`. A
/// follower reloads these from the store (which is idempotent, so applying a record twice or
/// late does no harm); a key carries its secret hash from before the commit, which the store
/// no longer holds once the key is deleted or its hash replaced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ChangeRecord {
    pub(crate) keys: Vec<(AccountId, KeyId, Option<[u8; 32]>)>,
    pub(crate) workspaces: Vec<(AccountId, WorkspaceId)>,
    pub(crate) providers: Vec<(AccountId, ProviderId)>,
}
