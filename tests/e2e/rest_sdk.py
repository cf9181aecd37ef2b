"""End-to-end over REST with the official `openrouter` Python SDK (PyPI 1.3.84), unmodified,
pointed at ModelGates with `server_url`: the seed SDKs' workspace, membership and organization
calls, their errors, and pagination.

Usage: python rest_sdk.py BASE_URL MANAGEMENT_KEY    (BASE_URL = http://HOST:PORT/api/v1)
"""

import json
import sys
import urllib.request

from openrouter import OpenRouter
from openrouter import errors

BASE, KEY = sys.argv[1], sys.argv[2]


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def raises(kind, call, what, needle=None):
    try:
        call()
    except kind as e:
        text = str(e)
        check(needle is None or needle in text, f"{what} ({type(e).__name__}: {text[:120]})")
        return e
    raise SystemExit(f"FAILED: {what}: no {kind}")


def main():
    # No retries: a 5XX must fail the test at once, not be retried for an hour.
    c = OpenRouter(api_key=KEY, server_url=BASE, retry_config=None)

    # Seed 000's create example, as written.
    created = c.workspaces.create(
        name="Production",
        slug="production",
        description="Production environment",
        default_text_model="openai/gpt-4o",
        default_image_model="openai/dall-e-3",
        default_provider_sort="price",
        is_data_discount_logging_enabled=True,
        is_observability_broadcast_enabled=False,
        is_observability_io_logging_enabled=False,
    )
    ws = created.data
    check(ws.slug == "production" and ws.name == "Production", "create returns the workspace")
    check(ws.default_text_model == "openai/gpt-4o", "create keeps the default text model")
    check(ws.default_image_model == "openai/dall-e-3", "the seed's image model is an image model")
    check(ws.updated_at is None, "updated_at is null until the first update")

    got = c.workspaces.get(id="production").data
    check(str(got.id) == str(ws.id), "get by slug")
    got = c.workspaces.get(id=str(ws.id)).data
    check(got.slug == "production", "get by id")

    updated = c.workspaces.update(id="production", description=None, name="Prod").data
    check(updated.description is None and updated.name == "Prod", "update: null clears, value sets")
    check(updated.updated_at is not None, "updated_at set by the update")

    # Pagination the SDK's way: pages of 1 until a short page.
    for i in range(3):
        c.workspaces.create(name=f"Extra {i}", slug=f"extra-{i}")
    seen = []
    page = c.workspaces.list(limit=1)
    while page is not None:
        seen.extend(w.slug for w in page.result.data)
        page = page.next()
    check(len(seen) == 5 and len(set(seen)) == 5, f"pagination visits every workspace once: {seen}")
    listed = c.workspaces.list()
    check(listed.result.total_count == 5, "list total_count")

    # Membership.
    members = c.workspaces.list_members(id="production").result
    check(members.total_count == 1 and members.data[0].user_id == "user_admin", "the creator is a member")
    removed = c.workspaces.bulk_remove_members(id="production", user_ids=["user_admin"])
    check(removed.removed_count == 1, "bulk remove")
    added = c.workspaces.bulk_add_members(id="production", user_ids=["user_admin"])
    check(added.added_count == 1 and added.data[0].user_id == "user_admin", "bulk add")
    org = c.organization.list_members().result
    check(org.total_count == 1 and org.data[0].email, "organization members")

    # Errors arrive as the SDK's typed errors, with ModelGates' messages.
    raises(errors.BadRequestResponseError,
           lambda: c.workspaces.create(name="Bad", slug="Bad Slug"), "a bad slug is a 400", "slug")
    raises(errors.NotFoundResponseError,
           lambda: c.workspaces.get(id="no-such-workspace"), "an unknown workspace is a 404")
    # The SDK declares no 400 for list: it surfaces as its generic error, with our message.
    e = raises((errors.BadRequestResponseError, errors.OpenRouterDefaultError),
               lambda: c.workspaces.list(limit=500), "limit over 100 is refused, never clamped",
               "limit")
    check("Status 400" in str(e) or getattr(e, "status_code", None) == 400, "... with a 400")
    raises(errors.BadRequestResponseError,
           lambda: c.workspaces.delete(id="default", confirm_default_workspace_deletion=True),
           "the default workspace is never deleted", "default")
    bad = OpenRouter(api_key="mg-v1-" + "0" * 64, server_url=BASE, retry_config=None)
    raises(errors.UnauthorizedResponseError, lambda: bad.workspaces.list(), "an unknown key is a 401")

    # API keys: create (the secret once), list, get, update, usage from recorded requests,
    # the current key, delete.
    made = c.api_keys.create(name="gateway", limit=10.0)
    check(made.key.startswith("mg-v1-") and made.data.name == "gateway", "create a key: its secret once")
    check(made.data.usage == 0 and made.data.last_used_at is None, "a new key has no usage")
    check(made.data.limit == 10.0 and made.data.limit_remaining == 10.0, "limit and limit_remaining")
    h = made.data.hash
    listed = c.api_keys.list()
    check(any(k.hash == h for k in listed.data), "the key is listed (default workspace)")
    # One request of 1M gpt-5 input tokens (1.25 USD), recorded by a gateway with the key's id.
    req = urllib.request.Request(
        f"{BASE}/workspaces/default/usage",
        data=json.dumps({"request_id": "sdk-1", "provider": "openai", "model": "gpt-5",
                         "input_tokens": 1000000, "output_tokens": 0, "api_key_id": h}).encode(),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        method="POST")
    with urllib.request.urlopen(req) as r:
        check(r.status == 201, "usage recorded with the key's id")
    got = c.api_keys.get(hash=h).data
    check(abs(got.usage - 1.25) < 1e-9 and abs(got.usage_daily - 1.25) < 1e-9,
          f"the key's usage comes from recorded usage ({got.usage})")
    check(abs(got.limit_remaining - 8.75) < 1e-9, "limit_remaining is the limit less usage")
    check(got.last_used_at is not None, "last_used_at is the recorded request's time")
    upd = c.api_keys.update(hash=h, name="gateway-2", disabled=True)
    check(upd.data.name == "gateway-2" and upd.data.disabled, "update renames and disables")
    check(all(k.hash != h for k in c.api_keys.list().data), "a disabled key is not listed by default")
    check(any(k.hash == h for k in c.api_keys.list(include_disabled=True).data),
          "include_disabled lists it")
    raises(errors.BadRequestResponseError, lambda: c.api_keys.update(hash=h),
           "an update without fields is a 400", "No update fields provided")
    me = c.api_keys.get_current_key_metadata().data
    check(me.is_management_key and me.label.startswith("mg-v1-"), "the current key is the management key")
    gone = c.api_keys.delete(hash=h)
    check(gone.DELETED is True, "delete answers deleted: true")
    raises(errors.NotFoundResponseError, lambda: c.api_keys.get(hash=h), "a deleted key is a 404")

    deleted = c.workspaces.delete(id="extra-0")
    check(deleted.DELETED is True, "delete answers deleted: true (the SDK validates the constant)")
    raises(errors.NotFoundResponseError, lambda: c.workspaces.get(id="extra-0"), "gone after delete")
    print("E2E PASSED")


if __name__ == "__main__":
    main()
