//! The MCP server: one tool per domain operation, each a thin call into `modelgates`.

use modelgates::{Caller, Error, ModelGates, Page};
use rmcp::RoleServer;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{ServerHandler, tool_handler};
use std::sync::{Arc, OnceLock};

use crate::error::ToolError;
use crate::tools::{TOOLSETS, toolset_of};

/// The tool surface a server exposes.
#[derive(Debug, Clone, Default)]
pub struct Surface {
    /// Only read-only tools.
    pub read_only: bool,
    /// Only these toolsets (`None` = all).
    pub toolsets: Option<Vec<&'static str>>,
}

impl Surface {
    /// Parses `--toolsets` values (`all` or names from [`TOOLSETS`]), naming an unknown one.
    pub fn parse_toolsets(values: &[String]) -> Result<Option<Vec<&'static str>>, String> {
        if values.is_empty() || values.iter().any(|v| v == "all") {
            return Ok(None);
        }
        values
            .iter()
            .map(|v| {
                TOOLSETS.iter().copied().find(|t| t == v).ok_or_else(|| {
                    format!(
                        "unknown toolset {v:?}; choose from all, {}",
                        TOOLSETS.join(", ")
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

// Tool signatures spell out `Result<Json<T>, ToolError>`: rmcp derives an output schema only
// from that literal shape, not through a type alias.

/// The ModelGates MCP server, acting as one caller of one `ModelGates` instance.
#[derive(Clone)]
pub struct McpServer {
    gates: ModelGates,
    caller: Option<Caller>,
    /// Shared by every session (an HTTP session costs a clone of this `Arc`, not of 51 tool
    /// schemas); copied only when a surface hides tools.
    tool_router: Arc<ToolRouter<Self>>,
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer")
            .field("caller", &self.caller)
            .finish()
    }
}

const INSTRUCTIONS: &str = "ModelGates is the control plane of an LLM gateway. Use these tools to \
manage workspaces (addressed by UUID or slug), organization members, workspace membership and API \
keys. Failed calls return isError with {error: {code, message, field?, reason?}}; code is one of \
invalid_argument, not_found, conflict, failed_precondition, permission_denied, unauthenticated, \
internal. Org admins may do everything; org members read the workspaces they belong to (and \
the default one) and manage their own keys; see each tool. Lists take offset/limit (limit 1-100, default 50) and return {data, total_count}. \
Provider endpoints, per-workspace mux rules and custom instructions decide where requests go; \
route_resolve answers which provider and model would serve a request. Tools whose workspace \
parameter is optional use the active workspace (workspace_activate).";

impl McpServer {
    /// A server acting as `caller` (stdio: one local user); its changes are recorded as made
    /// through MCP.
    pub fn new(gates: ModelGates, caller: Caller) -> Self {
        Self::build(gates, Some(caller.via(modelgates::Frontend::Mcp)))
    }

    /// A server whose every request carries its own authenticated `Caller` in the HTTP
    /// request's extensions (see `crate::http`); a request without one is refused.
    pub fn per_request(gates: ModelGates) -> Self {
        Self::build(gates, None)
    }

    fn build(gates: ModelGates, caller: Option<Caller>) -> Self {
        static ROUTER: OnceLock<Arc<ToolRouter<McpServer>>> = OnceLock::new();
        let tool_router = ROUTER
            .get_or_init(|| {
                let mut tool_router = crate::tools::all();
                for route in tool_router.map.values_mut() {
                    let tool = &mut route.attr;
                    let mut input = (*tool.input_schema).clone();
                    crate::schema::make_portable(&mut input);
                    tool.input_schema = Arc::new(input);
                    if let Some(output) = &tool.output_schema {
                        let mut output = (**output).clone();
                        crate::schema::make_portable(&mut output);
                        tool.output_schema = Some(Arc::new(output));
                    }
                }
                Arc::new(tool_router)
            })
            .clone();
        Self {
            gates,
            caller,
            tool_router,
        }
    }

    /// Limits the tools clients can list and call: with `surface.read_only`, only tools whose
    /// read-only annotation is true; with `surface.toolsets`, only tools of those toolsets.
    pub fn with_surface(mut self, surface: &Surface) -> Self {
        let hidden: Vec<String> = self
            .tool_router
            .list_all()
            .into_iter()
            .filter(|t| {
                let read_only = t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true);
                (surface.read_only && !read_only)
                    || surface
                        .toolsets
                        .as_ref()
                        .is_some_and(|sets| !sets.contains(&toolset_of(&t.name)))
            })
            .map(|t| t.name.to_string())
            .collect();
        if !hidden.is_empty() {
            let router = Arc::make_mut(&mut self.tool_router);
            for name in hidden {
                router.disable_route(name);
            }
        }
        self
    }

    /// Every tool definition, sorted by name.
    pub fn tools(&self) -> Vec<rmcp::model::Tool> {
        self.tool_router.list_all()
    }

    /// The caller of this request: the server's fixed caller (stdio), or the one the HTTP
    /// layer authenticated (`Caller` in the request's extensions).
    pub(crate) fn caller(&self, ctx: &RequestContext<RoleServer>) -> Result<Caller, ToolError> {
        let from_http = ctx
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>())
            .cloned();
        from_http.or_else(|| self.caller.clone()).ok_or_else(|| {
            ToolError(Error::Unauthenticated(
                "no authenticated caller for this request".into(),
            ))
        })
    }

    /// Runs a read-only domain call inline on the runtime's worker: one read transaction of
    /// the store (microseconds, no fsync), so the hop to the blocking pool would cost more than
    /// the call (docs/decisions.md).
    pub(crate) fn read<T>(
        &self,
        ctx: &RequestContext<RoleServer>,
        f: impl FnOnce(&ModelGates, &Caller) -> modelgates::Result<T>,
    ) -> Result<T, ToolError> {
        let caller = self.caller(ctx)?;
        f(&self.gates, &caller).map_err(ToolError)
    }

    /// Runs a mutating domain call on the blocking pool: a durable commit waits for fsync and
    /// must not stall the runtime's workers.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        ctx: &RequestContext<RoleServer>,
        f: impl FnOnce(&ModelGates, &Caller) -> modelgates::Result<T> + Send + 'static,
    ) -> Result<T, ToolError> {
        self.run_once(ctx, None, f).await
    }
}

impl McpServer {
    /// [`McpServer::run`] for a create tool: the caller presents the tool's `idempotency_key`,
    /// if given.
    pub(crate) async fn run_once<T: Send + 'static>(
        &self,
        ctx: &RequestContext<RoleServer>,
        idempotency_key: Option<String>,
        f: impl FnOnce(&ModelGates, &Caller) -> modelgates::Result<T> + Send + 'static,
    ) -> Result<T, ToolError> {
        let mut caller = self.caller(ctx)?;
        if let Some(key) = idempotency_key {
            caller = caller.with_idempotency_key(key);
        }
        let gates = self.gates.clone();
        tokio::task::spawn_blocking(move || f(&gates, &caller))
            .await
            .map_err(|e| ToolError(Error::internal(format!("tool task failed: {e}"))))?
            .map_err(ToolError)
    }
}

pub(crate) fn page(offset: Option<i64>, limit: Option<i64>) -> Result<Page, ToolError> {
    Ok(Page::new(offset, limit)?)
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("modelgates", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> McpServer {
        let gates = ModelGates::open(modelgates::MemoryStore::new()).unwrap();
        let caller = gates.default_caller().unwrap();
        McpServer::new(gates, caller)
    }

    #[test]
    fn read_only_and_toolsets_limit_the_listed_tools() {
        let read_only = server().with_surface(&Surface {
            read_only: true,
            toolsets: None,
        });
        let names: Vec<String> = read_only
            .tools()
            .iter()
            .map(|t| t.name.to_string())
            .collect();
        assert!(!names.is_empty());
        assert!(
            names.iter().all(|n| n.ends_with("_list")
                || n.ends_with("_get")
                || n == "route_resolve"
                || n == "workspace_usage"
                || n == "workspace_usage_series"
                || n == "workspace_mux_check"
                || n == "bundle_plan"
                || n == "bundle_export"),
            "{names:?}"
        );
        let keys_only = server().with_surface(&Surface {
            read_only: false,
            toolsets: Some(vec!["keys"]),
        });
        let names: Vec<String> = keys_only
            .tools()
            .iter()
            .map(|t| t.name.to_string())
            .collect();
        assert_eq!(
            names,
            [
                "key_create",
                "key_delete",
                "key_get",
                "key_list",
                "key_update"
            ]
        );
        let err = Surface::parse_toolsets(&["keys".into(), "nope".into()]).unwrap_err();
        assert!(err.contains("\"nope\""), "{err}");
        assert_eq!(Surface::parse_toolsets(&["all".into()]).unwrap(), None);
        for t in server().tools() {
            assert_ne!(
                toolset_of(&t.name),
                "other",
                "{} belongs to a toolset",
                t.name
            );
        }
    }

    #[test]
    fn every_tool_is_fully_described() {
        let gates = ModelGates::open(modelgates::MemoryStore::new()).unwrap();
        let caller = gates.default_caller().unwrap();
        let tools = McpServer::new(gates, caller).tools();
        assert_eq!(tools.len(), 56);
        for t in &tools {
            let name = t.name.as_ref();
            let verb = name.rsplit_once('_').unwrap().1;
            let nouns = [
                "workspace_",
                "member_",
                "key_",
                "model_",
                "provider_",
                "route_",
                "persona_",
                "usage_",
                "audit_",
                "bundle_",
            ];
            assert!(
                nouns.iter().any(|n| name.starts_with(n)),
                "{name} is noun_verb"
            );
            assert!(
                t.title.is_some() && t.description.as_ref().is_some_and(|d| d.len() > 80),
                "{name}"
            );
            let out = t
                .output_schema
                .as_ref()
                .unwrap_or_else(|| panic!("{name} has no output schema"));
            assert_eq!(
                out.get("type").and_then(|v| v.as_str()),
                Some("object"),
                "{name}"
            );
            assert_eq!(
                t.input_schema.get("additionalProperties"),
                Some(&serde_json::Value::Bool(false)),
                "{name} refuses unknown arguments"
            );
            for schema in [Some(&t.input_schema), t.output_schema.as_ref()]
                .into_iter()
                .flatten()
            {
                let text = serde_json::to_string(schema).unwrap();
                assert!(
                    !text.contains("\"type\":["),
                    "{name}: a type array is left: {text}"
                );
            }
            let known = crate::tools::decode_tool_arguments(name, Default::default());
            assert!(
                !matches!(known, Ok(false)),
                "{name} has no decoder for fuzzing"
            );
            let a = t.annotations.as_ref().unwrap();
            let hints = [
                a.read_only_hint,
                a.destructive_hint,
                a.idempotent_hint,
                a.open_world_hint,
            ];
            assert!(
                hints.iter().all(Option::is_some),
                "{name} sets all four hints"
            );
            // A bundle's plan changes nothing (its transaction is rolled back), nor does an
            // export, a usage series or a rule list's check.
            let read_only = matches!(verb, "list" | "get" | "resolve" | "check" | "series")
                || matches!(name, "workspace_usage" | "bundle_plan" | "bundle_export");
            assert_eq!(a.read_only_hint, Some(read_only), "{name}");
            assert_eq!(a.open_world_hint, Some(false), "{name}");
            if read_only {
                assert_eq!(a.destructive_hint, Some(false), "{name}");
            }
            if matches!(verb, "delete" | "remove") {
                assert_eq!(a.destructive_hint, Some(true), "{name}");
            }
        }
    }
}
