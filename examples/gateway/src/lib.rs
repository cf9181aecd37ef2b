//! An OpenAI-compatible mux gateway built on the ModelGates library: the data plane the
//! control plane configures. `POST /v1/chat/completions` and `POST /v1/completions` (FIM) are
//! authenticated with ModelGates inference keys, routed by the key's workspace's mux rules,
//! given its custom instructions, forwarded to the provider endpoint with its credentials,
//! streamed back as they arrive, and recorded as usage. The binary (`modelgates-gateway`) also
//! serves the control plane (MCP at `/mcp`, REST at `/api/v1`) on the same handle, so a rule
//! or key changed there applies to the next request; on PostgreSQL it follows changes other
//! instances make.

#![warn(missing_docs)]

pub mod error;
pub mod files;
pub mod proxy;
pub mod recorder;
pub mod sse;

pub use error::GatewayError;
pub use proxy::{Gateway, GatewayOptions};
pub use recorder::Recorder;
