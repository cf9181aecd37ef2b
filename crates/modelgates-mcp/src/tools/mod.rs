//! The tools, one file per toolset: each holds its tools' parameter structs and their conversions,
//! one tool router block and the tools' argument decoders. [`TABLE`] lists the toolsets; the
//! router, `--toolsets` and the fuzzing decoder are all derived from it, so a tool is added in
//! exactly one file.

use std::collections::HashMap;
use std::sync::OnceLock;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ToolError;
use crate::server::McpServer;
use modelgates::{MatcherType, ProviderType};

pub(crate) mod audit;
pub(crate) mod bundles;
pub(crate) mod keys;
pub(crate) mod members;
pub(crate) mod models;
pub(crate) mod personas;
pub(crate) mod routing;
pub(crate) mod usage;
pub(crate) mod workspaces;

/// Decodes a tool's arguments exactly as the server does (its `Parameters<T>`).
pub(crate) type Decoder = fn(JsonObject) -> Result<(), ToolError>;

fn decode<T: DeserializeOwned>(args: JsonObject) -> Result<(), ToolError> {
    crate::args::decode_args::<T>(args).map(|_| ())
}

/// One toolset: its name (for `--toolsets`), its tools' router and their decoders.
pub(crate) struct Toolset {
    pub(crate) name: &'static str,
    pub(crate) router: fn() -> ToolRouter<McpServer>,
    pub(crate) decoder: fn(&str) -> Option<Decoder>,
}

/// Every toolset. Workspace membership counts as `members`; providers, mux rules, custom
/// instructions and route resolution as `routing`; messages and alerts as `usage`.
pub(crate) const TABLE: [Toolset; 9] = [
    Toolset {
        name: "workspaces",
        router: McpServer::workspaces_router,
        decoder: workspaces::decoder,
    },
    Toolset {
        name: "members",
        router: McpServer::members_router,
        decoder: members::decoder,
    },
    Toolset {
        name: "keys",
        router: McpServer::keys_router,
        decoder: keys::decoder,
    },
    Toolset {
        name: "models",
        router: McpServer::models_router,
        decoder: models::decoder,
    },
    Toolset {
        name: "routing",
        router: McpServer::routing_router,
        decoder: routing::decoder,
    },
    Toolset {
        name: "personas",
        router: McpServer::personas_router,
        decoder: personas::decoder,
    },
    Toolset {
        name: "usage",
        router: McpServer::usage_router,
        decoder: usage::decoder,
    },
    Toolset {
        name: "audit",
        router: McpServer::audit_router,
        decoder: audit::decoder,
    },
    Toolset {
        name: "bundles",
        router: McpServer::bundles_router,
        decoder: bundles::decoder,
    },
];

/// The toolsets a server can be limited to (`--toolsets`), in the order tools are listed.
pub const TOOLSETS: [&str; TABLE.len()] = {
    let mut names = [""; TABLE.len()];
    let mut i = 0;
    while i < TABLE.len() {
        names[i] = TABLE[i].name;
        i += 1;
    }
    names
};

/// The router of every tool.
pub(crate) fn all() -> ToolRouter<McpServer> {
    TABLE
        .iter()
        .fold(ToolRouter::new(), |all, set| all + (set.router)())
}

/// Which toolset a tool belongs to (`"other"` for an unknown name).
pub fn toolset_of(tool: &str) -> &'static str {
    static BY_TOOL: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    BY_TOOL
        .get_or_init(|| {
            TABLE
                .iter()
                .flat_map(|set| {
                    (set.router)()
                        .list_all()
                        .into_iter()
                        .map(|t| (t.name.to_string(), set.name))
                })
                .collect()
        })
        .get(tool)
        .copied()
        .unwrap_or("other")
}

/// Decodes `args` for tool `tool` exactly as the server does (the tool's `Parameters<T>`), for
/// fuzzing and tests. `Ok(true)` when the arguments are valid for the tool, `Ok(false)` for an
/// unknown tool.
pub fn decode_tool_arguments(tool: &str, args: JsonObject) -> Result<bool, ToolError> {
    match TABLE.iter().find_map(|set| (set.decoder)(tool)) {
        Some(decode) => decode(args).map(|()| true),
        None => Ok(false),
    }
}

// ---------------------------------------------------------------------------------------------
// Shapes shared by several toolsets.

/// `{data: …}`: the envelope of every single-object result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Data<T> {
    /// The object.
    pub data: T,
}

/// Result of a delete.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Deleted {
    /// Always true: the object is gone.
    pub deleted: bool,
    /// The id of the deleted object.
    pub id: String,
}

/// Pagination.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Number of records to skip (default 0).
    #[schemars(range(min = 0))]
    pub offset: Option<i64>,
    /// Maximum number of records to return, 1-100 (default 50). Out-of-range values are an error.
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
}

/// One mux rule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MuxRuleParams {
    /// The provider endpoint: its name or prov_ id (see provider_list).
    #[serde(alias = "provider_name")]
    pub provider: String,
    /// Optional check: the provider's type must be this.
    pub provider_type: Option<ProviderType>,
    /// The model: "provider/family" from model_list (e.g. "anthropic/claude-sonnet-4.6"), or a
    /// family registered for this provider with model_register.
    pub model: String,
    /// catch_all (every request; no matcher), filename_match (chat and FIM), fim_filename (FIM
    /// only) or chat_filename (chat only).
    pub matcher_type: MatcherType,
    /// Glob for the filename kinds: without '/' it matches a file's base name ("*.py"), with
    /// '/' the whole path ("src/**/*.rs"); case-sensitive. Omit for catch_all.
    pub matcher: Option<String>,
}

impl From<MuxRuleParams> for modelgates::NewMuxRule {
    fn from(r: MuxRuleParams) -> Self {
        Self {
            provider: r.provider,
            provider_type: r.provider_type,
            model: r.model,
            matcher_type: r.matcher_type,
            matcher: r.matcher,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Merging routers keeps the last route of a name: a tool in two toolsets would vanish from
    /// one silently. Every tool is in exactly one, with a decoder in the same file.
    #[test]
    fn every_tool_is_in_one_toolset_with_its_decoder() {
        let mut seen = HashMap::new();
        for set in &TABLE {
            for tool in (set.router)().list_all() {
                let name = tool.name.to_string();
                if let Some(other) = seen.insert(name.clone(), set.name) {
                    panic!("{name} is in toolsets {other} and {}", set.name);
                }
                assert!((set.decoder)(&name).is_some(), "{name} has no decoder");
            }
        }
        assert_eq!(seen.len(), all().list_all().len());
        assert_eq!(TOOLSETS.len(), TABLE.len());
    }
}
