//! Schema portability: rewrites `"type": [T, "null"]` (what schemars emits for `Option<T>`) into
//! `anyOf: [{type: T, …}, {type: "null"}]`, which clients that map tool schemas onto a
//! single-`type` dialect (e.g. Gemini function declarations) accept. The MCP Inspector's
//! `--strict` lint flags the array form.

use serde_json::{Map, Value};

/// Keywords that describe the property as a whole and stay outside the `anyOf`.
const ANNOTATIONS: [&str; 7] = [
    "description",
    "title",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// Rewrites every nullable `type` array in `schema`, recursively.
pub fn make_portable(schema: &mut Map<String, Value>) {
    for value in schema.values_mut() {
        walk(value);
    }
    split_nullable_type(schema);
}

fn walk(value: &mut Value) {
    match value {
        Value::Object(map) => make_portable(map),
        Value::Array(items) => items.iter_mut().for_each(walk),
        _ => {}
    }
}

fn split_nullable_type(schema: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = schema.get("type") else {
        return;
    };
    if !types.iter().any(|t| t == "null") {
        return;
    }
    let others: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
    schema.remove("type");
    let mut branch = Map::new();
    let keys: Vec<String> = schema
        .keys()
        .filter(|k| !ANNOTATIONS.contains(&k.as_str()))
        .cloned()
        .collect();
    for k in keys {
        if let Some(v) = schema.remove(&k) {
            branch.insert(k, v);
        }
    }
    let mut any_of: Vec<Value> = others
        .into_iter()
        .map(|t| {
            let mut b = branch.clone();
            b.insert("type".into(), t);
            Value::Object(b)
        })
        .collect();
    any_of.push(serde_json::json!({ "type": "null" }));
    schema.insert("anyOf".into(), Value::Array(any_of));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nullable_types_become_any_of_branches() {
        let mut s = json!({
            "type": "object",
            "properties": {
                "limit": {"type": ["integer", "null"], "minimum": 1, "description": "d"},
                "name": {"type": "string"},
                "tags": {"type": ["array", "null"], "items": {"type": ["string", "null"]}}
            }
        });
        make_portable(s.as_object_mut().unwrap());
        assert_eq!(
            s["properties"]["limit"],
            json!({"description": "d", "anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]})
        );
        assert_eq!(s["properties"]["name"], json!({"type": "string"}));
        assert_eq!(
            s["properties"]["tags"]["anyOf"][0]["items"],
            json!({"anyOf": [{"type": "string"}, {"type": "null"}]})
        );
    }
}
