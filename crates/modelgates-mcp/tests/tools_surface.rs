//! The tool surface is reviewed, not accidental: `tools/list` (names, titles, descriptions,
//! schemas, annotations) must equal the committed snapshot, and `docs/tools.md` must equal what
//! this test generates from it. After an intended change, run
//! `UPDATE_SNAPSHOTS=1 cargo test -p modelgates-mcp --test tools_surface` and review the diff.

use std::fmt::Write;
use std::path::PathBuf;

use modelgates::{MemoryStore, ModelGates};
use modelgates_mcp::{McpServer, toolset_of};
use serde_json::Value;

fn tools() -> Vec<rmcp::model::Tool> {
    let gates = ModelGates::open(MemoryStore::new()).unwrap();
    let caller = gates.default_caller().unwrap();
    McpServer::new(gates, caller).tools()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn compare_or_update(path: PathBuf, generated: &str) {
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: the tool surface changed. Review, then regenerate with \
         UPDATE_SNAPSHOTS=1 cargo test -p modelgates-mcp --test tools_surface",
        path.display()
    );
}

#[test]
fn tools_list_matches_the_reviewed_snapshot() {
    let json = serde_json::to_string_pretty(&tools()).unwrap() + "\n";
    compare_or_update(
        root().join("crates/modelgates-mcp/tests/snapshots/tools.json"),
        &json,
    );
}

fn type_of(schema: &Value) -> String {
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        return match (
            t,
            schema
                .get("items")
                .and_then(|i| i.get("type"))
                .and_then(Value::as_str),
        ) {
            ("array", Some(item)) => format!("{item}[]"),
            _ => t.to_owned(),
        };
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let parts: Vec<String> = any.iter().map(type_of).collect();
        return parts.join(" \\| ");
    }
    "any".into()
}

#[test]
fn docs_tools_md_is_generated_from_the_tool_definitions() {
    let mut md = String::from(
        "# Tools\n\nGenerated from the tool definitions by \
         `crates/modelgates-mcp/tests/tools_surface.rs`; do not edit by hand.\n\n\
         | tool | toolset | read-only | destructive | idempotent |\n|---|---|---|---|---|\n",
    );
    let tools = tools();
    for t in &tools {
        let a = t.annotations.clone().unwrap_or_default();
        let yes = |b: Option<bool>| if b == Some(true) { "yes" } else { "no" };
        writeln!(
            md,
            "| [`{0}`](#{0}) | {1} | {2} | {3} | {4} |",
            t.name,
            toolset_of(&t.name),
            yes(a.read_only_hint),
            yes(a.destructive_hint),
            yes(a.idempotent_hint)
        )
        .unwrap();
    }
    for t in &tools {
        writeln!(md, "\n## {}\n", t.name).unwrap();
        writeln!(md, "**{}**\n", t.title.as_deref().unwrap_or_default()).unwrap();
        writeln!(md, "{}\n", t.description.as_deref().unwrap_or_default()).unwrap();
        let schema = Value::Object((*t.input_schema).clone());
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let props = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if props.is_empty() {
            md.push_str("No parameters.\n");
            continue;
        }
        md.push_str("| parameter | type | required | description |\n|---|---|---|---|\n");
        for (name, p) in props {
            let desc = p["description"]
                .as_str()
                .unwrap_or_default()
                .replace('\n', " ");
            let req = if required.contains(&name.as_str()) {
                "yes"
            } else {
                "no"
            };
            writeln!(md, "| `{name}` | {} | {req} | {desc} |", type_of(&p)).unwrap();
        }
    }
    compare_or_update(root().join("docs/tools.md"), &md);
}
