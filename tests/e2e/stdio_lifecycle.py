"""End-to-end: drive the real `modelgates mcp` binary over stdio with the PyPI `mcp` client.

Usage: python stdio_lifecycle.py BIN DB
Covers create -> get by slug -> update with null-clearing -> members add/remove -> key create ->
delete refused -> key delete -> delete succeeds, then restarts the binary on the same file.
Exits non-zero with a message on the first failed expectation.
"""

import asyncio
import json
import sys

from mcp import Client
from mcp.client.stdio import StdioServerParameters

BIN, DB = sys.argv[1], sys.argv[2]


def params():
    return StdioServerParameters(command=BIN, args=["mcp", "--db", DB], env={"RUST_LOG": "warn"})


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


async def call(c, name, args, expect_error=False):
    """Calls a tool; returns its structured result, or for an error the {error: …} body, which
    travels as the JSON text of the one content block (structuredContent is for success)."""
    r = await c.call_tool(name, args)
    if r.is_error:
        body = json.loads(r.content[0].text)
        check(expect_error, f"{name} fails as expected -> {body}")
        check(r.structured_content is None, f"{name}: no structuredContent on an error")
        return body
    check(not expect_error, f"{name} succeeds")
    return r.structured_content


async def first_session(mode):
    async with Client(params(), mode=mode) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        for name in ["workspace_create", "workspace_get", "workspace_update", "workspace_delete",
                     "workspace_list", "workspace_members_list", "workspace_members_add",
                     "workspace_members_remove", "member_add", "member_list", "member_get",
                     "member_update", "member_remove", "key_create", "key_list", "key_get",
                     "key_update", "key_delete", "model_list", "model_get", "model_set_status",
                     "model_register", "model_delete"]:
            check(name in tools, f"tool {name} is listed")
            t = tools[name]
            check(bool(t.description) and t.output_schema is not None, f"{name} has a description and an output schema")
            check(t.annotations is not None and t.annotations.read_only_hint is not None
                  and t.annotations.destructive_hint is not None and t.annotations.idempotent_hint is not None
                  and t.annotations.open_world_hint is not None, f"{name} sets all four annotations")

        ws = (await call(c, "workspace_create", {
            "name": "Production", "slug": "production", "description": "Prod traffic",
            "default_text_model": "openai/gpt-4o", "default_provider_sort": "price",
            "labels": {"team": "platform"}}))["data"]
        check(ws["slug"] == "production" and ws["io_logging_sampling_rate"] == 1, "workspace created with defaults")

        got = (await call(c, "workspace_get", {"id": "production"}))["data"]
        check(got["id"] == ws["id"], "get by slug returns the same workspace")
        got = (await call(c, "workspace_get", {"id": ws["id"]}))["data"]
        check(got["slug"] == "production", "get by UUID works too")

        upd = (await call(c, "workspace_update", {
            "id": "production", "description": None, "default_text_model": None, "name": "Prod"}))["data"]
        check(upd["description"] is None and upd["default_text_model"] is None, "null clears fields")
        check(upd["default_provider_sort"] == "price" and upd["labels"] == {"team": "platform"}, "absent fields are kept")
        check(upd["name"] == "Prod" and upd["updated_at"] is not None, "name set, updated_at stamped")

        err = await call(c, "workspace_create", {"name": "X", "slug": "Bad--Slug"}, expect_error=True)
        check(err["error"]["code"] == "invalid_argument" and err["error"]["field"] == "slug", "bad slug names the field")
        err = await call(c, "workspace_create", {"name": "Again", "slug": "production"}, expect_error=True)
        check(err["error"]["code"] == "conflict", "duplicate slug is a conflict")
        err = await call(c, "workspace_list", {"limit": 101}, expect_error=True)
        check(err["error"]["field"] == "limit", "limit 101 is refused, not clamped")

        for uid, role in [("user_alice", "org:member"), ("user_bob", "org:admin")]:
            await call(c, "member_add", {"user_id": uid, "email": f"{uid}@example.com", "role": role})
        added = await call(c, "workspace_members_add", {"id": "production", "user_ids": ["user_alice", "user_bob"]})
        check(added["added_count"] == 2, "two members added")
        roles = {m["user_id"]: m["role"] for m in added["data"]}
        check(roles == {"user_alice": "member", "user_bob": "admin"}, "org roles carried over")
        again = await call(c, "workspace_members_add", {"id": "production", "user_ids": ["user_alice"]})
        check(again["added_count"] == 0, "re-adding is idempotent")
        err = await call(c, "workspace_members_add", {"id": "production", "user_ids": ["user_alice", "user_ghost"]}, expect_error=True)
        check("user_ghost" in err["error"]["message"], "unknown user is named")

        created = await call(c, "key_create", {"name": "alice ci", "workspace": "production", "creator_user_id": "user_alice"})
        secret, key = created["key"], created["data"]
        check(secret.startswith("mg-v1-") and secret not in str(key), "secret returned once, not in the key object")

        err = await call(c, "workspace_members_remove", {"id": "production", "user_ids": ["user_alice", "user_bob"]}, expect_error=True)
        check(err["error"]["code"] == "failed_precondition" and key["id"] in err["error"]["message"], "remove blocked by active key, named")
        members = await call(c, "workspace_members_list", {"id": "production"})
        check(members["total_count"] == 3, "nobody was removed (admin + alice + bob)")

        err = await call(c, "workspace_delete", {"id": "production"}, expect_error=True)
        check(err["error"]["code"] == "failed_precondition" and err["error"].get("reason") == "WORKSPACE_HAS_ACTIVE_KEYS", "delete refused while a key is active")

        listed = await call(c, "key_list", {"workspace": "production"})
        check(listed["total_count"] == 1 and secret not in str(listed), "key listed without its secret")
        await call(c, "key_delete", {"id": key["id"]})
        removed = await call(c, "workspace_members_remove", {"id": "production", "user_ids": ["user_alice"]})
        check(removed["removed_count"] == 1, "member removed once the key is gone")

        await call(c, "workspace_delete", {"id": "production"})
        err = await call(c, "workspace_get", {"id": "production"}, expect_error=True)
        check(err["error"]["code"] == "not_found", "deleted workspace is gone")

        err = await call(c, "workspace_delete", {"id": "default"}, expect_error=True)
        check(err["error"].get("reason") == "DEFAULT_WORKSPACE", "default workspace cannot be deleted")

        await models_flow(c)

        # Leave data behind for the restart check.
        await call(c, "workspace_create", {"name": "Staging", "slug": "staging"})


async def models_flow(c):
    await call(c, "workspace_create", {"name": "Models", "slug": "models"})
    listed = await call(c, "model_list", {"workspace": "models", "limit": 100})
    check(listed["total_count"] >= 40, f"a new workspace is seeded with the catalog ({listed['total_count']} models)")
    by_ref = {f"{m['spec']['provider']}/{m['spec']['family']}": m for m in listed["data"]}
    gpt = by_ref.get("openai/gpt-4o")
    check(gpt is not None and gpt["spec"]["inputPricePerMillionTokens"] == "250"
          and gpt["spec"]["status"] == "MODEL_STATUS_ENABLED"
          and gpt["metadata"]["id"].startswith("model_") and gpt["metadata"]["bundleKey"] == "catalog",
          "seeded model has seed-003 camelCase fields and prices")
    anthropic = await call(c, "model_list", {"workspace": "models", "provider": "anthropic"})
    check(anthropic["total_count"] > 0 and all(m["spec"]["provider"] == "anthropic" for m in anthropic["data"]), "provider filter")

    await call(c, "model_set_status", {"workspace": "models", "model": "openai/gpt-4o", "status": "MODEL_STATUS_DISABLED"})
    err = await call(c, "workspace_update", {"id": "models", "default_text_model": "openai/gpt-4o"}, expect_error=True)
    check("openai/gpt-4o" in err["error"]["message"] and "disabled" in err["error"]["message"], "default naming a disabled model is refused, by name")
    await call(c, "model_set_status", {"workspace": "models", "model": gpt["metadata"]["id"], "status": "MODEL_STATUS_ENABLED"})
    upd = (await call(c, "workspace_update", {"id": "models", "default_text_model": "openai/gpt-4o"}))["data"]
    check(upd["default_text_model"] == "openai/gpt-4o", "default set once the model is enabled")
    err = await call(c, "model_set_status", {"workspace": "models", "model": "openai/gpt-4o", "status": "MODEL_STATUS_DISABLED"}, expect_error=True)
    check(err["error"].get("reason") == "MODEL_IN_USE" and "default_text_model" in err["error"]["message"], "disabling a default names the setting")

    custom = (await call(c, "model_register", {"workspace": "models", "provider": "ollama", "family": "qwen2.5-coder:7b",
                                                "maxInputTokens": 32768, "maxOutputTokens": 8192, "labels": {"host": "local"}}))["data"]
    check(custom["spec"]["inputPricePerMillionTokens"] == "0" and "bundleKey" not in custom["metadata"], "custom model registered")
    local = await call(c, "model_list", {"workspace": "models", "label_selector": "host=local"})
    check(local["total_count"] == 1, "label selector finds the custom model")
    err = await call(c, "model_delete", {"workspace": "models", "model": "openai/gpt-4o-mini"}, expect_error=True)
    check(err["error"].get("reason") == "CATALOG_MODEL", "catalog models cannot be deleted")
    await call(c, "model_delete", {"workspace": "models", "model": "ollama/qwen2.5-coder:7b"})
    await call(c, "workspace_delete", {"id": "models"})


async def second_session(mode):
    async with Client(params(), mode=mode) as c:
        ws = (await call(c, "workspace_get", {"id": "staging"}))["data"]
        check(ws["name"] == "Staging", "data survives a restart")
        members = await call(c, "member_list", {})
        check({m["user_id"] for m in members["data"]} == {"user_admin", "user_alice", "user_bob"}, "members survive a restart")
        lst = await call(c, "workspace_list", {})
        check([w["slug"] for w in lst["data"]] == ["default", "staging"], "workspace list after restart")


async def main():
    await first_session("auto")       # the client's default protocol revision (2026-07-28)
    await second_session("legacy")    # 2025-11-25, with the initialize handshake
    print("E2E PASSED")


asyncio.run(main())
