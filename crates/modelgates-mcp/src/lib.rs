//! The ModelGates MCP front end: tool definitions over the `modelgates` domain, argument
//! decoding, and the single mapping of domain errors to tool results.

mod args;
mod error;
pub mod http;
mod jsonrpc;
mod params;
mod persona;
mod routing;
mod schema;
mod server;
pub mod stdio;
mod usage;

pub use args::{MAX_ARGUMENT_BYTES, Parameters, decode_args};
pub use error::ToolError;
pub use params::decode_tool_arguments;
pub use server::{McpServer, Surface, TOOLSETS, toolset_of};
