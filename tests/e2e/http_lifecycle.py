"""End-to-end over streamable HTTP with the PyPI `mcp` client and raw httpx2 requests.

Usage: python http_lifecycle.py URL MANAGEMENT_KEY INFERENCE_KEY
"""

import asyncio
import json
import pathlib
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

# The tool count of the reviewed snapshot (checked against the live list by tools_surface.rs).
SNAPSHOT_TOOLS = len(json.loads((pathlib.Path(__file__).resolve().parents[2] / "crates/modelgates-mcp/tests/snapshots/tools.json").read_text()))

URL, MGMT, INFER = sys.argv[1], sys.argv[2], sys.argv[3]
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def client(key, mode):
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"})
    return Client(streamable_http_client(URL, http_client=http), mode=mode)


async def raw_auth_checks():
    async with httpx2.AsyncClient() as h:
        r = await h.post(URL, json=INIT, headers=ACCEPT)
        check(r.status_code == 401 and r.headers.get("www-authenticate") == "Bearer", "no key: 401 with WWW-Authenticate: Bearer")
        check(r.json()["error"]["code"] == "unauthenticated", "401 body names the code")
        r = await h.post(URL, json=INIT, headers={**ACCEPT, "Authorization": "Bearer mg-v1-" + "0" * 64})
        check(r.status_code == 401, "unknown key: 401")
        r = await h.post(URL, json=INIT, headers={**ACCEPT, "Authorization": f"Bearer {INFER}"})
        check(r.status_code == 403, "inference key: 403")
        r = await h.post(URL, json=INIT, headers={**ACCEPT, "Authorization": f"Bearer {MGMT}", "Origin": "http://evil.example"})
        check(r.status_code == 403, "foreign Origin: 403")


async def session(mode):
    async with client(MGMT, mode) as c:
        tools = (await c.list_tools()).tools
        check(len(tools) == SNAPSHOT_TOOLS, f"[{mode}] {SNAPSHOT_TOOLS} tools listed (as in the reviewed snapshot)")
        slug = f"http-{mode}"
        r = await c.call_tool("workspace_create", {"name": "Over HTTP", "slug": slug})
        check(not r.is_error and r.structured_content["data"]["slug"] == slug, f"[{mode}] workspace created over HTTP")
        r = await c.call_tool("workspace_get", {"id": slug})
        check(r.structured_content["data"]["created_by"] == "user_admin", f"[{mode}] the session acts as the key's creator")
        ws_id = r.structured_content["data"]["id"]
        r = await c.call_tool("audit_list", {"resource_id": ws_id})
        events = r.structured_content["data"]
        check(not r.is_error and len(events) == 1 and events[0]["operation"] == "workspace_create", f"[{mode}] the create is one audit event")
        actor = events[0]["actor"]
        check(actor["user_id"] == "user_admin" and actor["via"] == "mcp" and actor["key_id"].startswith("key_"), f"[{mode}] the event names the user, the key presented and MCP")
        r = await c.call_tool("workspace_create", {"name": "X", "slug": "Bad Slug"})
        body = json.loads(r.content[0].text)
        check(r.is_error and body["error"]["code"] == "invalid_argument" and body["error"]["field"] == "slug", f"[{mode}] error results carry code and field")


async def disabled_key_stops_at_once():
    async with client(MGMT, "legacy") as c:
        r = await c.call_tool("key_create", {"name": "temp admin", "workspace": "default", "kind": "management"})
        temp_secret, temp_id = r.structured_content["key"], r.structured_content["data"]["id"]
    async with client(temp_secret, "legacy") as t:
        r = await t.call_tool("workspace_list", {})
        check(not r.is_error, "a new management key works")
        async with client(MGMT, "legacy") as c:
            await c.call_tool("key_update", {"id": temp_id, "disabled": True})
    async with httpx2.AsyncClient() as h:
        r = await h.post(URL, json=INIT, headers={**ACCEPT, "Authorization": f"Bearer {temp_secret}"})
        check(r.status_code == 403, "a key disabled through a tool is refused on the next request")


async def main():
    await raw_auth_checks()
    await session("auto")     # 2026-07-28, stateless
    await session("legacy")   # 2025-11-25, initialize handshake and session
    await disabled_key_stops_at_once()
    print("E2E HTTP PASSED")


asyncio.run(main())
