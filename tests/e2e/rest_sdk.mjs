// End-to-end over REST with the official `@openrouter/sdk` TypeScript SDK (npm 1.3.19),
// unmodified, pointed at ModelGates with `serverURL`: workspaces, pagination, membership and
// typed errors.
//
// Usage: node rest_sdk.mjs BASE_URL MANAGEMENT_KEY    (BASE_URL = http://HOST:PORT/api/v1)

import { OpenRouter } from "@openrouter/sdk";
import * as errors from "@openrouter/sdk/models/errors";

const [base, key] = process.argv.slice(2);

function check(cond, what) {
  if (!cond) {
    console.log(`FAILED: ${what}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

async function rejects(kind, call, what, needle) {
  try {
    await call();
  } catch (e) {
    const text = String(e?.message ?? e);
    check(e instanceof kind && (!needle || text.includes(needle)), `${what} (${e?.constructor?.name}: ${text.slice(0, 120)})`);
    return e;
  }
  check(false, `${what}: no error`);
}

// No retries: a 5XX must fail the test at once.
const c = new OpenRouter({ apiKey: key, serverURL: base, retryConfig: { strategy: "none" } });

const created = await c.workspaces.create({
  createWorkspaceRequest: {
    name: "Staging",
    slug: "staging",
    description: "Staging environment",
    defaultTextModel: "openai/gpt-4o",
    defaultImageModel: "openai/dall-e-3",
    defaultProviderSort: "price",
    isDataDiscountLoggingEnabled: true,
  },
});
check(created.data.defaultImageModel === "openai/dall-e-3", "seed 001's image model is accepted");
check(created.data.slug === "staging" && created.data.name === "Staging", "create returns the workspace");
check(created.data.updatedAt === null, "updatedAt is null until the first update");

const got = await c.workspaces.get({ id: "staging" });
check(got.data.id === created.data.id, "get by slug");

const updated = await c.workspaces.update({
  id: "staging",
  updateWorkspaceRequest: { description: null, name: "Stage" },
});
check(updated.data.description === null && updated.data.name === "Stage", "update: null clears, value sets");

for (const i of [0, 1, 2]) {
  await c.workspaces.create({ createWorkspaceRequest: { name: `More ${i}`, slug: `more-${i}` } });
}
const seen = [];
for await (const page of await c.workspaces.list({ limit: 2 })) {
  seen.push(...page.result.data.map((w) => w.slug));
}
check(seen.length === 5 && new Set(seen).size === 5, `pagination visits every workspace once: ${seen}`);

let members = [];
for await (const page of await c.workspaces.listMembers({ id: "staging" })) {
  members.push(...page.result.data.map((m) => m.userId));
}
check(members.length === 1 && members[0] === "user_admin", "the creator is a member");
const removed = await c.workspaces.bulkRemoveMembers({
  id: "staging",
  bulkRemoveWorkspaceMembersRequest: { userIds: ["user_admin"] },
});
check(removed.removedCount === 1, "bulk remove");
const added = await c.workspaces.bulkAddMembers({
  id: "staging",
  bulkAddWorkspaceMembersRequest: { userIds: ["user_admin"] },
});
check(added.addedCount === 1, "bulk add");

await rejects(errors.BadRequestResponseError,
  () => c.workspaces.create({ createWorkspaceRequest: { name: "Bad", slug: "Bad Slug" } }),
  "a bad slug is a 400", "slug");
await rejects(errors.NotFoundResponseError, () => c.workspaces.get({ id: "nope" }), "an unknown workspace is a 404");

// API keys: create (the secret once), usage from a recorded request, update, current key,
// delete.
const made = await c.apiKeys.create({ requestBody: { name: "ts-gateway", limit: 5 } });
check(made.key.startsWith("mg-v1-") && made.data.usage === 0, "create a key: its secret once");
const hash = made.data.hash;
const recorded = await fetch(`${base}/workspaces/default/usage`, {
  method: "POST",
  headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
  body: JSON.stringify({ request_id: "ts-1", provider: "openai", model: "gpt-5",
    input_tokens: 2000000, output_tokens: 0, api_key_id: hash }),
});
check(recorded.status === 201, "usage recorded with the key's id");
const k = (await c.apiKeys.get({ hash })).data;
check(Math.abs(k.usage - 2.5) < 1e-9 && Math.abs(k.usageMonthly - 2.5) < 1e-9,
  `the key's usage comes from recorded usage (${k.usage})`);
const listedKeys = await c.apiKeys.list();
check(listedKeys.data.some((x) => x.hash === hash), "the key is listed");
const renamed = await c.apiKeys.update({ hash, requestBody: { name: "ts-gateway-2", limit: null } });
check(renamed.data.name === "ts-gateway-2" && renamed.data.limit === null, "update renames, null clears the limit");
const current = await c.apiKeys.getCurrentKeyMetadata();
check(current.data.isManagementKey === true, "the current key is a management key");
const gone = await c.apiKeys.delete({ hash });
check(gone.deleted === true, "a key delete answers deleted: true");
await rejects(errors.NotFoundResponseError, () => c.apiKeys.get({ hash }), "a deleted key is a 404");

const deleted = await c.workspaces.delete({ id: "more-0" });
check(deleted.deleted === true, "delete answers deleted: true");
console.log("E2E PASSED");
