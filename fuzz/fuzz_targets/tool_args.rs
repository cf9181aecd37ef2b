//! Tool-argument JSON for every tool, through the same decoding path the server uses: never a
//! panic; a refusal is always a structured `invalid_argument` body.
#![no_main]

use libfuzzer_sys::fuzz_target;

const TOOLS: [&str; 23] = [
    "workspace_list",
    "workspace_create",
    "workspace_get",
    "workspace_update",
    "workspace_delete",
    "workspace_members_list",
    "workspace_members_add",
    "workspace_members_remove",
    "member_add",
    "member_list",
    "member_get",
    "member_update",
    "member_remove",
    "key_create",
    "key_list",
    "key_get",
    "key_update",
    "key_delete",
    "model_list",
    "model_get",
    "model_set_status",
    "model_register",
    "model_delete",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    let tool = TOOLS[usize::from(selector) % TOOLS.len()];
    let Ok(serde_json::Value::Object(args)) = serde_json::from_slice(json) else {
        return;
    };
    match modelgates_mcp::decode_tool_arguments(tool, args) {
        Ok(known) => assert!(known, "{tool} is a tool"),
        Err(e) => {
            let body = e.body();
            assert_eq!(body["error"]["code"], "invalid_argument", "{body}");
            assert!(body["error"]["field"].is_string(), "{body}");
        }
    }
});
