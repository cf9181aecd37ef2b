//! The ModelGates MCP front end: tool definitions over the `modelgates` domain, argument
//! decoding, and the single mapping of domain errors to tool results.

#![warn(missing_docs)]

mod args;
mod dashboard;
mod error;
pub mod http;
mod jsonrpc;
mod peers;
mod retention;
mod schema;
mod server;
pub mod stdio;
mod tools;

pub use args::{MAX_ARGUMENT_BYTES, Parameters, decode_args};
pub use error::ToolError;
pub use retention::spawn_retention;
pub use server::{McpServer, Surface};
pub use tools::{TOOLSETS, decode_tool_arguments, toolset_of};
