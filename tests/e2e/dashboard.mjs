// The dashboard in a real browser: Debian's headless Chromium driven by playwright-core,
// against the release binary's `serve --http`. Run by crates/modelgates-mcp/tests/dashboard.rs:
//   node dashboard.mjs <base URL> <admin management key> <screenshot dir>
// Prints "E2E PASSED" at the end; any failed check throws.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';

const [base, adminKey, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const rest = async (key, method, path, body) => {
  const r = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
};

// Fixtures through the REST API: a provider, an org member with a workspace of their own and
// a management key, and the member's workspace the admin's new one must stay hidden from.
await rest(adminKey, 'POST', '/provider-endpoints', {
  name: 'local', provider_type: 'openai', endpoint: 'http://127.0.0.1:9/v1', api_key: 'sk-dashboard-upstream-0123',
});
await rest(adminKey, 'POST', '/organization/members', { id: 'user_bob', email: 'bob@example.com' });
await rest(adminKey, 'POST', '/workspaces', { name: 'Bob space', slug: 'bob-space' });
await rest(adminKey, 'POST', '/workspaces/bob-space/members/add', { user_ids: ['user_bob'] });
const bob = await rest(adminKey, 'POST', '/keys', {
  name: 'bob', workspace_id: 'bob-space', kind: 'management', creator_user_id: 'user_bob',
});

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
// The browser is in Tokyo (UTC+9, the test machine in UTC): the usage charts must count days
// on the browser's calendar, not the server's.
const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, timezoneId: 'Asia/Tokyo' });
const page = await context.newPage();
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => {
  // The browser logs every 4xx answer (the refusals this test provokes, a signed-out page's
  // 401); anything else (a CSP violation, a script error) is a failure.
  if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) {
    problems.push(`console: ${m.text()}`);
  }
});
const text = async (sel) => (await page.locator(sel).textContent()) || '';
/** Every control of the page with no accessible name (a label, aria-label(ledby) or text). */
const unnamed = () => page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter((el) => !el.closest('[hidden]'))
  .filter((el) => {
    const by = (el.getAttribute('aria-labelledby') || '').split(' ').map((id) => document.getElementById(id)).filter(Boolean);
    const names = [el.getAttribute('aria-label'), ...by.map((x) => x.textContent),
      ...[...(el.labels || [])].map((l) => l.textContent), el.tagName === 'BUTTON' ? el.textContent : null];
    return !names.some((n) => n && n.trim());
  })
  .map((el) => el.outerHTML.slice(0, 120)));
const views = new Set();
/** Checks the view on screen: every control is named. */
const checkNames = async (view) => {
  assert.deepEqual(await unnamed(), [], `unnamed controls on ${view}`);
  views.add(view);
};
/** The form whose heading is `name` (a string or a pattern). */
const formTitled = (name) => page.locator('form', { has: page.getByRole('heading', { name }) });

// Sign in: `/` redirects to the page; a wrong key is refused in the form.
await page.goto(`${base}/`);
assert.equal(new URL(page.url()).pathname, '/dashboard/');
await page.getByLabel('Management key').fill('mg-v1-not-a-key');
await page.getByRole('button', { name: 'Sign in' }).click();
await page.getByText(/unknown|not valid|invalid/i).first().waitFor();
await checkNames('sign-in');
await page.screenshot({ path: `${shots}/sign-in.png` });
await page.getByLabel('Management key').fill(adminKey);
await page.getByRole('button', { name: 'Sign in' }).click();
await page.getByRole('heading', { name: 'Workspaces', exact: true }).waitFor();

// The session is an HttpOnly, SameSite=Strict cookie; the key is nowhere in the page's storage.
const cookies = await context.cookies();
const session = cookies.find((c) => c.name === 'mg_session');
assert.ok(session && session.httpOnly && session.sameSite === 'Strict', JSON.stringify(cookies));
const stored = await page.evaluate(() => JSON.stringify({
  cookie: document.cookie, local: { ...localStorage }, session: { ...sessionStorage },
}));
assert.ok(!stored.includes(adminKey) && !stored.includes('mg_session'), stored);

// A mutating REST call without the CSRF token is refused, even with the cookie.
const forged = await page.evaluate(async () => {
  const r = await fetch('/api/v1/workspaces', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"X","slug":"forged"}' });
  return r.status;
});
assert.equal(forged, 403);

// Create a workspace; a bad slug is explained next to the slug field and creates nothing.
const create = formTitled('Create a workspace');
await create.getByLabel('Name').fill('Team A');
await create.getByLabel('Slug').fill('Team A');
await create.getByRole('button', { name: 'Create' }).click();
const slugError = create.locator('.field-error[data-for="slug"]');
await slugError.filter({ hasText: 'not a slug' }).waitFor();
await create.getByLabel('Slug').fill('team-a');
await create.getByRole('button', { name: 'Create' }).click();
await page.getByRole('cell', { name: 'team-a', exact: true }).waitFor();
assert.equal(await slugError.textContent(), '');
// Edit every field of team-a; a value the API refuses is explained next to its field and
// changes nothing, then a good edit is saved.
await page.getByRole('button', { name: 'Edit team-a' }).click();
const editWs = formTitled('Edit Team A');
await editWs.getByLabel(/sampling rate/).fill('2');
await editWs.getByRole('button', { name: 'Save' }).click();
await editWs.locator('.field-error[data-for="io_logging_sampling_rate"]').filter({ hasText: 'is outside' }).waitFor();
assert.equal((await rest(adminKey, 'GET', '/workspaces/team-a')).data.io_logging_sampling_rate, 1);
// Key 1 (the admin's) is not a key of team-a: the API says so at the field.
await editWs.getByLabel(/sampling rate/).fill('0.5');
await editWs.getByLabel(/I\/O logged for key numbers/).fill('1');
await editWs.getByRole('button', { name: 'Save' }).click();
await editWs.locator('.field-error[data-for="io_logging_api_key_ids"]').filter({ hasText: 'not a key of this workspace' }).waitFor();
await editWs.getByLabel(/I\/O logged for key numbers/).fill('');
await editWs.getByLabel(/Labels/).fill('team = platform\nnot a pair');
await editWs.getByRole('button', { name: 'Save' }).click();
await editWs.locator('.field-error[data-for="labels"]').filter({ hasText: 'line 2' }).waitFor();
await editWs.getByLabel(/Labels/).fill('team=platform\ncost-center=42');
await editWs.getByLabel('Description').fill('The platform team');
await editWs.getByLabel('Default provider sort').selectOption('latency');
await editWs.getByLabel('Observability broadcast').check();
await editWs.getByLabel(/Keep usage records/).fill('90');
await checkNames('workspaces');
await page.screenshot({ path: `${shots}/workspace-edit.png`, fullPage: true });
await editWs.getByRole('button', { name: 'Save' }).click();
await page.getByText('Saved team-a').waitFor();
const edited = (await rest(adminKey, 'GET', '/workspaces/team-a')).data;
assert.deepEqual(
  [edited.description, edited.default_provider_sort, edited.io_logging_sampling_rate,
    edited.is_observability_broadcast_enabled, edited.usage_retention_days, edited.labels],
  ['The platform team', 'latency', 0.5, true, 90, { 'cost-center': '42', team: 'platform' }],
  JSON.stringify(edited));
// The default workspace cannot be deleted: the refusal is explained, nothing is deleted.
page.once('dialog', (d) => d.accept());
await page.getByRole('button', { name: 'Delete default' }).click();
await page.getByRole('alert').filter({ hasText: /Could not delete default/ }).waitFor();
await page.getByRole('cell', { name: 'default', exact: true }).waitFor();
await page.screenshot({ path: `${shots}/workspaces.png`, fullPage: true });
// Search looks through every workspace, not one page.
await page.getByLabel('Search workspaces').fill('team');
await page.getByText('1 of 3 workspaces match').waitFor();
await page.getByLabel('Search workspaces').fill('');

// Routing of team-a: two rules, saved, and the "which rule wins" box picks them.
await page.selectOption('#workspace', 'team-a');
await page.goto(`${base}/dashboard/#/routing`);
await page.getByRole('heading', { name: 'Routing of team-a' }).waitFor();
// A provider endpoint the server refuses is explained; a good one is listed, its key write-only.
const addProvider = formTitled('Add a provider endpoint');
await addProvider.getByLabel('Name').fill('x');
await addProvider.getByRole('button', { name: 'Add provider' }).click();
await addProvider.locator('.field-error[data-for="name"]').filter({ hasText: 'at least 3' }).waitFor();
await addProvider.getByLabel('Name').fill('second');
await addProvider.locator('[name="provider_type"]').selectOption('vllm');
await addProvider.getByLabel(/Endpoint/).fill('http://127.0.0.1:8000/v1');
await addProvider.getByRole('button', { name: 'Add provider' }).click();
await page.getByRole('cell', { name: 'second', exact: true }).waitFor();
await page.getByRole('button', { name: 'Edit second' }).click();
const editProvider = formTitled('Edit provider second');
await editProvider.getByLabel('Endpoint').fill('http://127.0.0.1:8001/v1');
await editProvider.getByRole('button', { name: 'Save provider' }).click();
await page.getByRole('cell', { name: 'http://127.0.0.1:8001/v1' }).waitFor();
const add = formTitled('Add a rule');
await add.getByLabel('Model').fill('gpt-5-mini');
await add.getByLabel('Matches').selectOption('filename_match');
await add.getByLabel('Glob', { exact: true }).fill('*.py');
await add.getByRole('button', { name: 'Add to the list' }).click();
await add.getByLabel('Model').fill('gpt-5');
await add.getByLabel('Matches').selectOption('catch_all');
await add.getByRole('button', { name: 'Add to the list' }).click();
await page.getByRole('button', { name: 'Save rules' }).click();
await page.getByText('Rules saved').waitFor();
const box = formTitled('Which rule wins?');
await box.getByLabel(/File names/).fill('src/app.py');
await box.getByRole('button', { name: 'Resolve' }).click();
await page.locator('#route-result').getByText('Rule 1 wins: local / gpt-5-mini').waitFor();
await box.getByLabel(/File names/).fill('README.md');
await box.getByRole('button', { name: 'Resolve' }).click();
await page.locator('#route-result').getByText('Rule 2 wins: local / gpt-5.').waitFor();
// A rule the server refuses is explained and the saved list stays.
await add.getByLabel('Model').fill('no-such-model');
await add.getByLabel('Matches').selectOption('filename_match');
await add.getByLabel('Glob', { exact: true }).fill('*.rs');
await add.getByRole('button', { name: 'Add to the list' }).click();
await page.getByRole('button', { name: 'Save rules' }).click();
await page.getByText(/no-such-model/).last().waitFor();
const saved = await rest(adminKey, 'GET', '/workspaces/team-a/muxes');
assert.equal(saved.length, 2, JSON.stringify(saved));
await page.getByText(/^Not saved\. Rule 3 \(model\):.*no-such-model/).waitFor();
await page.getByRole('button', { name: 'Remove rule 3' }).click();
assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Remove rule 2');
// Rules no request can reach are found by the server as the list is edited: after the
// catch_all, then shadowed by rule 1's glob when moved up.
await add.getByLabel('Model').fill('gpt-5');
await add.getByLabel('Matches').selectOption('chat_filename');
await add.getByLabel('Glob', { exact: true }).fill('*.py');
await add.getByRole('button', { name: 'Add to the list' }).click();
await page.locator('#rule-warnings').getByText('Rule 3 can never match: it comes after the catch_all rule 2.').waitFor();
// Moved with the keyboard: the focus follows the rule.
await page.getByRole('button', { name: 'Move rule 3 up' }).focus();
await page.keyboard.press('Enter');
assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Move rule 2 up');
await page.locator('#rule-warnings').getByText('Rule 2 can never match: rule 1 matches every file it matches first.').waitFor();
assert.equal(await page.locator('ol.rules li.unreachable').count(), 1);
await checkNames('routing');
await page.screenshot({ path: `${shots}/routing.png`, fullPage: true });

// Members: an org member added, put into team-a in bulk (an unknown id is named and nothing
// is added), then removed by selection.
await page.goto(`${base}/dashboard/#/members`);
await page.getByRole('heading', { name: 'Members', exact: true }).waitFor();
const addMember = formTitled('Add an organization member');
await addMember.getByLabel('User id').fill('user_carol');
await addMember.getByLabel('Email').fill('carol@example.com');
await addMember.getByRole('button', { name: 'Add member' }).click();
await page.getByRole('cell', { name: 'carol@example.com' }).waitFor();
const addWs = formTitled('Add members to team-a');
await addWs.getByLabel(/User ids/).fill('user_carol, user_nobody');
await addWs.getByRole('button', { name: 'Add to the workspace' }).click();
await addWs.locator('.field-error, .error').filter({ hasText: 'user_nobody' }).waitFor();
assert.equal(await page.getByLabel('Select user_carol').count(), 0);
await addWs.getByLabel(/User ids/).fill('user_carol');
await addWs.getByRole('button', { name: 'Add to the workspace' }).click();
await page.getByLabel('Select user_carol').check();
await checkNames('members');
await page.screenshot({ path: `${shots}/members.png`, fullPage: true });
await page.getByRole('button', { name: 'Remove selected from the workspace' }).click();
await page.getByLabel('Select user_carol').waitFor({ state: 'detached' });

// Personas.
await page.goto(`${base}/dashboard/#/personas`);
const persona = formTitled('Create a persona');
await persona.getByLabel('Name').fill('Reviewer');
await persona.getByLabel('Description').fill('Reviews pull requests for security problems');
await persona.getByRole('button', { name: 'Create' }).click();
await page.getByRole('cell', { name: 'Reviewer', exact: true }).waitFor();
await page.getByRole('button', { name: 'Edit Reviewer' }).click();
const editPersona = formTitled('Edit persona Reviewer');
await editPersona.getByLabel('Name').fill('Security reviewer');
await editPersona.getByRole('button', { name: 'Save persona' }).click();
await page.getByRole('cell', { name: 'Security reviewer', exact: true }).waitFor();
await checkNames('personas');

// Keys: the secret is shown once, then gone for good.
await page.goto(`${base}/dashboard/#/keys`);
const newKey = formTitled(/Create a key/);
await newKey.getByLabel('Name').fill('ci');
await newKey.getByRole('button', { name: 'Create key' }).click();
const secret = (await page.locator('#new-secret').textContent()).trim();
assert.match(secret, /^mg-v1-/);
await page.getByRole('button', { name: 'Copy secret' }).waitFor();
await page.getByRole('cell', { name: 'ci', exact: true }).waitFor();
await checkNames('keys');
await page.screenshot({ path: `${shots}/keys.png`, fullPage: true });
await page.getByRole('button', { name: 'Done, hide it' }).click();
await page.reload();
await page.getByRole('heading', { name: 'API keys' }).waitFor();
assert.ok(!(await page.content()).includes(secret), 'the secret is shown only once');
await page.getByRole('button', { name: 'Disable ci' }).click();
await page.getByRole('button', { name: 'Enable ci' }).waitFor();

// Usage: recorded through the API, then the totals and the chart change.
await page.goto(`${base}/dashboard/#/usage`);
await page.getByRole('heading', { name: 'Usage of team-a' }).waitFor();
assert.equal((await text('#total-requests')).trim(), '0');
// Three requests now on two providers, one at 00:30 in Tokyo two days ago: two bars back on
// the browser's calendar, but three on UTC's (15:30 the day before), so a chart counting UTC
// days fails here at any hour.
const today = new Date();
const tokyo = new Date(today.getTime() + 9 * 3600 * 1000);
const twoDaysAgo = new Date(Date.UTC(tokyo.getUTCFullYear(), tokyo.getUTCMonth(), tokyo.getUTCDate() - 2, 0, 30) - 9 * 3600 * 1000);
for (const [i, provider, model, at] of [[0, 'local', 'gpt-5', today], [1, 'local', 'gpt-5-mini', today],
  [2, 'second', 'llama', today], [3, 'local', 'gpt-5', twoDaysAgo]]) {
  await rest(adminKey, 'POST', '/workspaces/team-a/usage', {
    request_id: `req-${i}`, provider, model, input_tokens: 1000, output_tokens: 250, timestamp: at.toISOString(),
    conversation: i === 2 ? { prompt: 'my key is AKIAIOSFODNN7EXAMPLE, deploy it', answer: 'ok' } : null,
  });
}
await page.reload();
await page.locator('#total-requests', { hasText: '4' }).waitFor();
// Tokens per provider per day: the last bar is today, two bars back the older request.
let points = JSON.parse(await page.locator('#token-chart').getAttribute('data-points'));
assert.equal(points.local.length, 14, JSON.stringify(points));
assert.deepEqual([points.local.at(-1), points.second.at(-1), points.local.at(-3), points.second.at(-3)],
  [2500, 1250, 1250, 0], JSON.stringify(points));
assert.ok(await page.evaluate(() => ['cost-chart', 'token-chart'].every((id) => !!window.Chart.getChart(id))), 'Chart.js charts are drawn');
await page.getByRole('cell', { name: 'second', exact: true }).first().waitFor();
// Per model, by week: one bar a week, the models as the stacks.
await page.getByLabel('Charts per').selectOption('model');
await page.getByLabel('Period').selectOption('week');
await page.waitForFunction(() => {
  const p = Object.values(JSON.parse(document.getElementById('token-chart').dataset.points));
  return p.length === 3 && p.every((bars) => bars.length === 12);
});
points = JSON.parse(await page.locator('#token-chart').getAttribute('data-points'));
assert.equal(points['local / gpt-5'].length, 12, JSON.stringify(points));
assert.equal(points['local / gpt-5'].reduce((a, b) => a + b, 0), 2500, JSON.stringify(points));
await checkNames('usage');
await page.locator('tr.alert-secret').first().waitFor();
// Alerts and messages filtered by trigger type; the secret ones are highlighted.
await page.locator('#alert-filter').selectOption('secrets');
await page.getByText('1 of the 1 newest alerts').waitFor();
await page.locator('#message-filter').selectOption('pii');
await page.getByText('No messages.').waitFor();
await page.locator('#message-filter').selectOption('secrets');
await page.getByText('1 message', { exact: true }).waitFor();
assert.equal(await page.locator('tr.alert-secret').count(), 2);
await page.screenshot({ path: `${shots}/usage.png`, fullPage: true });

// Models of the workspace: a custom model registered with a price in cents, disabled, enabled.
await page.goto(`${base}/dashboard/#/models`);
await page.getByRole('heading', { name: 'Models of team-a' }).waitFor();
const register = formTitled('Register a custom model');
await register.getByLabel('Provider').fill('local');
await register.getByLabel('Family').fill('house-coder');
await register.getByLabel('Max input tokens').fill('32000');
await register.getByLabel('Max output tokens').fill('4000');
await register.getByLabel('Input ¢ per M tokens').fill('150');
await register.getByRole('button', { name: 'Register' }).click();
await page.getByRole('button', { name: 'Disable local/house-coder' }).click();
await page.getByRole('button', { name: 'Enable local/house-coder' }).waitFor();
const got = await rest(adminKey, 'GET', '/workspaces/team-a/models/local%2Fhouse-coder');
const custom = got.data || got;
assert.equal(custom.spec && custom.spec.inputPricePerMillionTokens, '150', JSON.stringify(custom));
assert.equal(custom.spec.status, 'MODEL_STATUS_DISABLED');
await page.getByRole('button', { name: 'Enable local/house-coder' }).click();
await page.getByRole('button', { name: 'Disable local/house-coder' }).waitFor();
await checkNames('models');
await page.screenshot({ path: `${shots}/models.png` });

// A phone-sized screen: nothing wider than the viewport but the scrollable tables.
await page.setViewportSize({ width: 360, height: 780 });
for (const [view, heading] of [['routing', 'Routing of team-a'], ['usage', 'Usage of team-a'],
  ['keys', 'API keys'], ['members', 'Members'], ['models', 'Models of team-a'], ['personas', 'Personas'],
  ['workspaces', 'Workspaces']]) {
  await page.goto(`${base}/dashboard/#/${view}`);
  await page.getByRole('heading', { name: heading, exact: true }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(overflow <= 360, `${view} is ${overflow}px wide at 360px`);
}
await page.screenshot({ path: `${shots}/workspaces-360.png`, fullPage: true });
// Keyboard: from the top of the page, Tab reaches the skip link, then the sections.
await page.reload();
await page.getByRole('heading', { name: 'Workspaces', exact: true }).waitFor();
await page.keyboard.press('Tab');
assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
await page.keyboard.press('Tab');
assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Workspaces');

// Sign out: the cookie no longer opens the API.
await page.setViewportSize({ width: 1200, height: 900 });
await page.getByRole('button', { name: 'Sign out' }).click();
await page.getByLabel('Management key').waitFor();
const after = await page.evaluate(async () => (await fetch('/api/v1/workspaces')).status);
assert.equal(after, 401);

// The member sees only their workspaces.
await page.getByLabel('Management key').fill(bob.key);
await page.getByRole('button', { name: 'Sign in' }).click();
await page.getByRole('heading', { name: 'Workspaces', exact: true }).waitFor();
const options = await page.locator('#workspace option').allTextContents();
assert.ok(options.includes('Bob space') && !options.includes('Team A'), JSON.stringify(options));
const hidden = await page.evaluate(async () => (await fetch('/api/v1/workspaces/team-a')).status);
assert.ok(hidden === 403 || hidden === 404, `member reading team-a: ${hidden}`);
await page.getByRole('button', { name: 'Sign out' }).click();

assert.deepEqual([...views].sort(), ['keys', 'members', 'models', 'personas', 'routing', 'sign-in', 'usage', 'workspaces']);
assert.deepEqual(problems, [], problems.join('\n'));
await browser.close();
console.log('E2E PASSED');
