//! Records: the types each concept stores and returns, with no storage or operation code. The
//! schema, the snapshot and the routing engine build on these; operations sit above them.

pub(crate) mod account;
pub(crate) mod api_key;
pub(crate) mod audit;
pub(crate) mod bundle;
pub(crate) mod change;
pub(crate) mod idempotency;
pub(crate) mod member;
pub(crate) mod model;
pub(crate) mod persona;
pub(crate) mod provider;
pub(crate) mod routing;
pub(crate) mod usage;
pub(crate) mod workspace;
