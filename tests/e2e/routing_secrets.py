"""End-to-end: routing tools over stdio, and a scan proving no provider API key ever leaks.

Usage: python routing_secrets.py BIN DB LOG_LEVEL
Sets recognizable provider API keys, calls every listed tool (successes and failures, including
invalid calls that carry a key), then scans every tool result, every error and every line the
server logged to stderr (at LOG_LEVEL, e.g. "debug") for the keys. Also checks the routing
contracts a client relies on: mux rules, route_resolve, cascade delete, archive/activate.
"""

import asyncio
import datetime
import json
import pathlib
import os
import secrets
import sys
import tempfile

from mcp import Client
from mcp.client.stdio import StdioServerParameters

# The tool count of the reviewed snapshot (checked against the live list by tools_surface.rs).
SNAPSHOT_TOOLS = len(json.loads((pathlib.Path(__file__).resolve().parents[2] / "crates/modelgates-mcp/tests/snapshots/tools.json").read_text()))

BIN, DB, LEVEL = sys.argv[1], sys.argv[2], sys.argv[3]
KEY1 = "sk-canary-" + secrets.token_hex(16)
KEY2 = "sk-canary-" + secrets.token_hex(16)
KEY3 = "sk-canary-" + secrets.token_hex(16)
KEY4 = "sk-canary-" + secrets.token_hex(16)  # a bundle's provider key, read by the server from its environment
LOG = tempfile.NamedTemporaryFile(prefix="modelgates-stderr-", suffix=".log", delete=False).name
SEEN = []  # every text the client received
CALLED = set()


def params():
    # stderr goes to LOG through the shell, whatever the client does with it.
    return StdioServerParameters(
        command="sh",
        args=["-c", 'exec "$0" mcp --db "$1" 2>>"$2"', BIN, DB, LOG],
        env={"RUST_LOG": LEVEL, "PATH": os.environ.get("PATH", ""), "MODELGATES_PROVIDER_TEAM_KEY": KEY4},
    )


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


async def call(c, name, args, expect_error=False):
    CALLED.add(name)
    r = await c.call_tool(name, args)
    for block in r.content:
        SEEN.append(getattr(block, "text", "") or "")
    if r.structured_content is not None:
        SEEN.append(json.dumps(r.structured_content))
    if r.is_error:
        body = json.loads(r.content[0].text)
        check(expect_error, f"{name} fails as expected -> {body['error']['code']}: {body['error']['message'][:100]}")
        return body
    check(not expect_error, f"{name} succeeds")
    return r.structured_content


async def main():
    async with Client(params()) as c:
        listed = {t.name for t in (await c.list_tools()).tools}
        check(len(listed) == SNAPSHOT_TOOLS, f"{SNAPSHOT_TOOLS} tools listed (as in the reviewed snapshot)")

        # Providers, with keys set through every path that takes one.
        p1 = (await call(c, "provider_add", {"name": "openai-prod", "provider_type": "openai", "api_key": KEY1}))["data"]
        check(p1["auth_type"] == "api_key" and p1["has_api_key"] is True, "a key implies auth_type api_key")
        check(p1["endpoint"] == "https://api.openai.com/v1", "openai has a default endpoint")
        await call(c, "provider_add", {"name": "anthropic-prod", "provider_type": "anthropic",
                                       "auth_type": "passthrough"})
        await call(c, "provider_add", {"name": "bad", "provider_type": "openai", "auth_type": "none",
                                       "api_key": KEY2}, expect_error=True)
        await call(c, "provider_add", {"name": "local", "provider_type": "vllm", "api_key": KEY2},
                   expect_error=True)
        await call(c, "provider_add", {"name": "local", "provider_type": "vllm",
                                       "endpoint": f"http://user:{KEY2}@localhost:8000"}, expect_error=True)
        await call(c, "provider_add", {"name": "openai-prod", "provider_type": "openai", "api_key": KEY2},
                   expect_error=True)
        await call(c, "provider_add", {"name": "x", "provider_type": "openai", "api_key": KEY2},
                   expect_error=True)
        await call(c, "provider_add", {"name": "typed", "provider_type": "openai", "api_key": 12345},
                   expect_error=True)
        await call(c, "provider_add", {"name": "local", "provider_type": "vllm",
                                       "endpoint": "http://localhost:8000/v1"})
        await call(c, "provider_set_auth", {"provider": "local", "auth_type": "api_key", "api_key": KEY2})
        await call(c, "provider_set_auth", {"provider": "local", "auth_type": "none", "api_key": KEY3},
                   expect_error=True)
        await call(c, "provider_set_auth", {"provider": "nope", "auth_type": "api_key", "api_key": KEY3},
                   expect_error=True)
        await call(c, "provider_set_auth", {"provider": "local", "auth_type": "api_key", "api_key": KEY3,
                                            "expected_revision": 99}, expect_error=True)
        await call(c, "provider_set_auth", {"provider": "local", "auth_type": "api_key", "api_key": KEY3,
                                            "unknown": KEY3}, expect_error=True)
        renamed = (await call(c, "provider_update", {"provider": "local", "name": "local-vllm",
                                                     "description": "GPU box"}))["data"]
        check(renamed["has_api_key"] and renamed["revision"] == 3, "rename keeps the key, bumps the revision")
        got = (await call(c, "provider_get", {"provider": "LOCAL-VLLM"}))["data"]
        check(got["name"] == "local-vllm", "providers are found case-insensitively")
        lst = await call(c, "provider_list", {})
        check(lst["total_count"] == 3, "three providers")

        # Models, workspaces, rules.
        await call(c, "model_register", {"workspace": "default", "provider": "local-vllm",
                                         "family": "qwen-coder", "maxInputTokens": 32768,
                                         "maxOutputTokens": 4096})
        ws = (await call(c, "workspace_create", {
            "name": "Routed", "slug": "routed", "custom_instructions": "Be brief.",
            "mux_rules": [
                {"provider": "openai-prod", "model": "gpt-5", "matcher_type": "fim_filename", "matcher": "*.py"},
                {"provider_name": "anthropic-prod", "provider_type": "anthropic",
                 "model": "claude-sonnet-4.6", "matcher_type": "catch_all"},
            ]}))["data"]
        bad = await call(c, "workspace_mux_set", {"workspace": "routed", "rules": [
            {"provider": "openai-prod", "model": "gpt-5", "matcher_type": "filename_match", "matcher": "[x"}]},
            expect_error=True)
        check(bad["error"]["field"] == "rules[0].matcher", "an invalid glob is named")
        mux = (await call(c, "workspace_mux_get", {"workspace": "routed"}))["data"]
        check(len(mux["rules"]) == 2 and mux["revision"] == 1, "the invalid list changed nothing")
        mux = (await call(c, "workspace_mux_set", {"rules": [
            {"provider": "local-vllm", "model": "qwen-coder", "matcher_type": "filename_match", "matcher": "src/**/*.rs"},
            {"provider": "openai-prod", "model": "openai/gpt-5", "matcher_type": "catch_all"},
            {"provider": "openai-prod", "model": "openai/gpt-5-mini", "matcher_type": "chat_filename", "matcher": "*.md"},
        ]}))["data"]
        check(len(mux["warnings"]) == 1, "an unreachable rule is a warning")
        check(mux["unreachable_rules"] == [{"index": 2, "shadowed_by": [1]}], "the rule after catch_all is named")
        checked = (await call(c, "workspace_mux_check", {"rules": [
            {"provider": "openai-prod", "model": "openai/gpt-5", "matcher_type": "chat_filename", "matcher": "*.md"},
            {"provider": "openai-prod", "model": "openai/gpt-5-mini", "matcher_type": "chat_filename", "matcher": "*.md"},
        ]}))["data"]
        check(checked["unreachable_rules"] == [{"index": 1, "shadowed_by": [0]}]
              and checked["revision"] == mux["revision"], "a check finds the shadowed rule and stores nothing")
        bad = await call(c, "workspace_mux_check", {"rules": [
            {"provider": "openai-prod", "model": "gpt-5", "matcher_type": "catch_all", "matcher": "*.md"}]},
            expect_error=True)
        check(bad["error"]["field"] == "rules[0].matcher", "a check names the field it refuses")
        route = (await call(c, "route_resolve", {"kind": "fim", "files": ["src/net/tcp.rs"]}))["data"]
        check(route["rule_index"] == 0 and route["provider"]["name"] == "local-vllm"
              and route["provider"]["has_api_key"] is True, "the active (default) workspace routes by path glob")
        route = (await call(c, "route_resolve", {"workspace": "routed", "kind": "fim", "files": ["a/b.py"]}))["data"]
        check(route["rule_index"] == 0 and route["model"] == "gpt-5" and route["custom_instructions"] is True,
              "routed: fim *.py → openai gpt-5 with instructions")
        route = (await call(c, "route_resolve", {"workspace": "routed", "files": ["a/b.py"]}))["data"]
        check(route["rule_index"] == 1 and route["provider"]["auth_type"] == "passthrough", "chat falls to catch_all")
        await call(c, "workspace_mux_set", {"workspace": "routed", "rules": []})
        err = await call(c, "route_resolve", {"workspace": "routed", "kind": "chat", "files": ["x"]},
                         expect_error=True)
        check(err["error"].get("reason") == "NO_ROUTE", "no rules, no default: NO_ROUTE")
        await call(c, "workspace_mux_set", {"workspace": "routed", "rules": [
            {"provider": "openai-prod", "model": "gpt-5", "matcher_type": "catch_all"}]})

        # Instructions.
        await call(c, "workspace_instructions_set", {"workspace": "routed", "prompt": "Answer in French."})
        got = (await call(c, "workspace_instructions_get", {"workspace": "routed"}))["data"]
        check(got["custom_instructions"] == "Answer in French.", "instructions round-trip")
        await call(c, "workspace_instructions_clear", {"workspace": "routed"})
        got = (await call(c, "workspace_instructions_get", {"workspace": "routed"}))["data"]
        check(got.get("custom_instructions") is None, "instructions cleared")

        # Usage.
        rec_args = {"request_id": "req-1", "workspace": "routed", "provider": "openai-prod",
                    "model": "gpt-5", "request_type": "fim", "input_tokens": 1000, "output_tokens": 10}
        rec = await call(c, "usage_record", rec_args)
        check(rec["data"]["model_ref"] == "openai/gpt-5" and rec["duplicate"] is False,
              "usage is priced from the workspace catalog")
        dup = await call(c, "usage_record", rec_args)
        check(dup["duplicate"] is True and dup["data"]["id"] == rec["data"]["id"], "a repeated request id is stored once")
        batch = await call(c, "usage_record_batch", {"records": [
            dict(rec_args, request_id="req-2", input_tokens=5), rec_args]})
        check(batch["recorded"] == 1 and batch["duplicates"] == 1, "batch: one new, one duplicate")
        bad = await call(c, "usage_record_batch", {"records": [dict(rec_args, request_id="")]}, expect_error=True)
        check(bad["error"]["field"] == "records[0].request_id", "a bad record is named")
        u = (await call(c, "workspace_usage", {"workspace": "routed"}))["data"]
        check(u["token_usage"]["requests"] == 2 and u["token_usage"]["input_tokens"] == 1005
              and "openai-prod/gpt-5" in u["tokens_by_model"], "workspace usage totals")
        now = datetime.datetime.now(datetime.timezone.utc)
        series = (await call(c, "workspace_usage_series", {
            "workspace": "routed", "from": (now - datetime.timedelta(days=2)).isoformat(),
            "to": (now + datetime.timedelta(minutes=1)).isoformat(), "interval": "day",
            "utc_offset_minutes": 330}))["data"]
        check(len(series["buckets"]) in (3, 4) and series["token_usage"] == u["token_usage"]
              and sum(b["token_usage"]["requests"] for b in series["buckets"]) == 2,
              "a daily series at UTC+05:30 sums to the workspace's usage")
        series = (await call(c, "workspace_usage_series", {
            "workspace": "routed", "from": "2020-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z",
            "interval": "month"}, expect_error=True))
        check(series["error"]["field"] == "to", "a series of more than 400 buckets is refused, naming to")

        aws = "AKIA" + "Q3ZL7NDX2MP4TR8V"  # a detector test value, assembled at run time
        await call(c, "usage_record", dict(rec_args, request_id="req-3", conversation={
            "chat_id": "chat-9", "prompt": f"deploy with {aws}", "answer": "done"},
            alerts=[{"trigger_type": "pii", "trigger_category": "info"}]))
        msgs = await call(c, "workspace_messages_list", {"workspace": "routed"})
        check(msgs["total"] == 1 and msgs["data"][0]["alerts_summary"]["secrets"] == 1
              and msgs["data"][0]["alerts_summary"]["pii"] == 1
              and msgs["data"][0]["alerts_summary"]["total_alerts"] == 1, "message listed with its alerts")
        conv = (await call(c, "workspace_message_get", {"workspace": "routed", "id": "chat-9"}))["data"]
        check(conv["question_answers"][0]["question"]["message"] == "deploy with [REDACTED:aws_access_key_id]",
              "the stored prompt is redacted")
        check(aws not in json.dumps(msgs) and aws not in json.dumps(conv), "no detected secret is returned")
        alerts = await call(c, "workspace_alerts_list", {"workspace": "routed"})
        check([a["trigger_type"] for a in alerts["data"]] == ["secrets"], "only critical alerts are listed")

        # Lifecycle.
        await call(c, "workspace_activate", {"id": "routed"})
        err = await call(c, "workspace_archive", {"id": "routed"}, expect_error=True)
        check(err["error"].get("reason") == "ACTIVE_WORKSPACE", "the active workspace cannot be archived")
        await call(c, "workspace_activate", {"id": "default"})
        arch = (await call(c, "workspace_archive", {"id": "routed"}))["data"]
        check(arch["archived_at"] is not None, "archived")
        lst = await call(c, "workspace_list", {})
        check(all(w["slug"] != "routed" for w in lst["data"]), "archived workspaces are hidden")
        lst = await call(c, "workspace_list", {"include_archived": True, "provider": "openai-prod"})
        check([w["slug"] for w in lst["data"]] == ["default", "routed"], "provider filter with archived")
        await call(c, "workspace_restore", {"id": "routed"})

        # Deleting a provider in use.
        err = await call(c, "provider_delete", {"provider": "openai-prod"}, expect_error=True)
        check(err["error"].get("reason") == "PROVIDER_IN_USE" and "routed rule #0" in err["error"]["message"],
              "in-use provider names its rules")
        gone = await call(c, "provider_delete", {"provider": "openai-prod", "cascade": True})
        check(len(gone["removed_rules"]) == 3, "cascade reports the removed rules (routed #0, default #1 and #2)")

        # Personas.
        await call(c, "persona_create", {"name": "Reviewer", "description": "Reviews Rust code for safety"})
        await call(c, "persona_create", {"name": "Other", "description": "reviews rust code for safety!"},
                   expect_error=True)
        await call(c, "persona_update", {"persona": "reviewer", "new_name": "Code Reviewer"})
        await call(c, "persona_get", {"persona": "code reviewer"})
        await call(c, "persona_list", {})
        await call(c, "persona_delete", {"persona": "Code Reviewer"})

        # Every other tool, once.
        await call(c, "workspace_get", {"id": "routed"})
        await call(c, "workspace_update", {"id": "routed", "description": "x",
                                           "custom_instructions": "Again."})
        await call(c, "workspace_members_list", {"id": "routed"})
        await call(c, "member_add", {"user_id": "user_bob", "email": "bob@example.com"})
        await call(c, "member_list", {})
        await call(c, "member_get", {"user_id": "user_bob"})
        await call(c, "member_update", {"user_id": "user_bob", "first_name": "Bob"})
        await call(c, "workspace_members_add", {"id": "routed", "user_ids": ["user_bob"]})
        await call(c, "workspace_members_remove", {"id": "routed", "user_ids": ["user_bob"]})
        await call(c, "member_remove", {"user_id": "user_bob"})
        key = await call(c, "key_create", {"name": "ci", "workspace": "routed"})
        kid = key["data"]["id"]
        await call(c, "key_list", {"workspace": "routed"})
        await call(c, "key_get", {"id": kid})
        await call(c, "key_update", {"id": kid, "disabled": True})
        await call(c, "key_delete", {"id": kid})
        await call(c, "model_list", {"workspace": "routed", "limit": 5})
        await call(c, "model_get", {"workspace": "routed", "model": "openai/gpt-5"})
        await call(c, "model_set_status", {"workspace": "routed", "model": "openai/o3", "status": "MODEL_STATUS_DISABLED"})
        await call(c, "model_delete", {"workspace": "default", "model": "local-vllm/qwen-coder"}, expect_error=True)
        await call(c, "workspace_delete", {"id": "routed"})
        # The audit log saw every provider key above being set: it says so, and holds none of them.
        audit = await call(c, "audit_list", {"resource_kind": "provider", "limit": 100})
        check(any(f.get("secret") for e in audit["data"] for ch in e["changes"] for f in ch["fields"].values()),
              "the audit log records provider key changes as secret")
        await call(c, "audit_retention_set", {"days": 30})

        # Bundles: a bundle file planned, applied (with the reviewed fingerprint), edited and
        # re-applied; stale fingerprints and hand-made resources refused; the export names the
        # key's variable, never the key; each apply is one audit event.
        bundle_file = tempfile.NamedTemporaryFile(prefix="bundle-", suffix=".yaml", delete=False).name

        def write_bundle(instructions, extra_rules=""):
            with open(bundle_file, "w", encoding="utf-8") as f:
                f.write(f"""bundle: team
providers:
  - name: team-openai
    provider_type: openai
    api_key: {{env: MODELGATES_PROVIDER_TEAM_KEY}}
personas:
  - name: bundle-reviewer
    description: Reviews configuration bundles before they go live
workspaces:
  - slug: team-ws
    name: Team
    custom_instructions: {instructions}
    mux_rules:{extra_rules}
      - {{provider: team-openai, model: gpt-5, matcher_type: catch_all}}
""")
            with open(bundle_file, encoding="utf-8") as f:
                return f.read()

        text = write_bundle("Be brief.")
        plan = await call(c, "bundle_plan", {"bundle": text})
        check("+ workspace team-ws" in plan["text"] and "+ provider team-openai" in plan["text"],
              "the plan lists the creates")
        check("(secret changed)" in plan["text"], "the plan shows the provider key only as changed")
        check(not plan["data"]["applied"], "a plan is not applied")
        check(await call(c, "workspace_get", {"id": "team-ws"}, expect_error=True), "plan changed nothing")
        applied = await call(c, "bundle_apply", {"bundle": text, "expected": plan["data"]["fingerprint"]})
        check(applied["data"]["applied"] and applied["data"]["fingerprint"] == plan["data"]["fingerprint"],
              "apply performed the reviewed plan")
        again = await call(c, "bundle_plan", {"bundle": text})
        check(again["data"]["changes"] == [] and "nothing to do" in again["text"], "a second plan is empty")
        text = write_bundle("Be thorough.", "\n      - {provider: team-openai, model: gpt-5-mini, matcher_type: fim_filename, matcher: '*.py'}")
        edited = await call(c, "bundle_plan", {"bundle": text})
        fields = [set(ch.get("fields", {})) for ch in edited["data"]["changes"] if ch["name"] == "team-ws"]
        check(fields == [{"custom_instructions", "mux_rules"}], f"the edit is a field-level update: {fields}")
        await call(c, "bundle_apply", {"bundle": text, "expected": plan["data"]["fingerprint"]}, expect_error=True)
        await call(c, "bundle_apply", {"bundle": text, "expected": edited["data"]["fingerprint"]})
        route = (await call(c, "route_resolve", {"workspace": "team-ws", "kind": "fim", "files": ["a.py"]}))["data"]
        check(route["model"] == "gpt-5-mini", "the re-applied rule routes")
        check((await call(c, "bundle_plan", {"bundle": text}))["data"]["changes"] == [], "re-applied: empty plan")
        other = await call(c, "bundle_plan", {"bundle": {"bundle": "other", "workspaces": [{"slug": "team-ws", "name": "T"}]}})
        check(other["data"]["conflicts"] == [{"kind": "workspace", "name": "team-ws", "owner": "team"}],
              "another bundle's workspace is a conflict")
        await call(c, "bundle_apply", {"bundle": {"bundle": "other", "workspaces": [{"slug": "team-ws", "name": "T"}]}},
                   expect_error=True)
        await call(c, "bundle_plan", {"bundle": "bundle: x\nproviders:\n  - {name: p-x, provider_type: openai, api_key: {file: /etc/hostname}}\n"},
                   expect_error=True)
        exported = await call(c, "bundle_export", {"bundle": "copy"})
        check("MODELGATES_PROVIDER_TEAM_OPENAI_API_KEY" in exported["yaml"] and "team-ws" in exported["yaml"],
              "the export references the key's variable")
        events = await call(c, "audit_list", {"operation": "bundle_apply"})
        check(len(events["data"]) == 2, "each apply is one audit event")
        os.unlink(bundle_file)

        missing = listed - CALLED
        check(not missing, f"every tool was exercised (missing: {sorted(missing)})")

    # The scan.
    with open(LOG, encoding="utf-8", errors="replace") as f:
        log = f.read()
    check(len(log) > 0, f"the server logged {len(log.splitlines())} lines at {LEVEL}")
    for k in (KEY1, KEY2, KEY3, KEY4):
        for line in log.splitlines():
            if k[10:] in line:
                print("LEAK:", line[:300])
        check(not any(k in s for s in SEEN), "no tool result or error contains a provider key")
        check(k not in log, "no log line contains a provider key")
        check(k[10:] not in log and not any(k[10:] in s for s in SEEN), "not even the key's random part")
    os.unlink(LOG)
    print("E2E PASSED")


asyncio.run(main())
