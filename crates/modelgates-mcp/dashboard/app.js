// The ModelGates dashboard: a small single-page app over the REST API (/api/v1). Sign-in
// trades a management key for an HttpOnly session cookie (the key is never kept in the
// browser); every mutating call sends the session's CSRF token. All text from the server is
// inserted as text (never as HTML), and the page runs under a strict CSP (no inline code).
'use strict';

// The selected workspace survives a reload (it is not a secret); the CSRF token lives only in
// this page's memory and is fetched again from the session after a reload.
const state = { csrf: null, workspace: sessionStorage.getItem('mg-workspace'), workspaces: [] };
const main = document.getElementById('main');

// ---------- DOM helpers ----------

/** Creates an element: h('button', {type: 'button', onclick: f}, 'text', child, ...). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

let fieldIds = 0;
/** A labelled input with an error line under it (aria-describedby points at it; it is
 * outside the label, so an error does not become part of the control's name). A checkbox
 * comes before its label text, on one line. */
function field(label, name, attrs) {
  const id = `f${++fieldIds}`;
  const { tag, options, value, ...rest } = attrs || {};
  const control = tag === 'select'
    ? h('select', { id, name, ...rest }, ...(options || []).map(
      ([v, text]) => h('option', { value: v, selected: value === v }, text)))
    : tag === 'textarea'
      ? h('textarea', { id, name, ...rest }, value || '')
      : h('input', { id, name, type: 'text', value, ...rest });
  control.setAttribute('aria-describedby', `${id}-error`);
  return h('div', { class: 'field' }, rest.type === 'checkbox'
    ? h('label', { for: id, class: 'check' }, control, label)
    : h('label', { for: id }, label, control),
    h('span', { class: 'field-error', id: `${id}-error`, dataset: { for: name } }));
}

/** Shows an edit form in `holder`: `title` as its heading, `fields` in a row, an error line,
 * a `saveLabel` button that runs `save(values)` and a cancel that empties `holder`. Returns
 * the form. */
function showEditor(holder, { label, title, fields, saveLabel, save }) {
  const form = h('form', { class: 'card', 'aria-label': label || title },
    h('h2', {}, title),
    h('div', { class: 'grid' }, ...fields),
    h('p', { class: 'error', role: 'alert' }),
    h('div', { class: 'row' }, h('button', { class: 'primary', type: 'submit' }, saveLabel),
      h('button', { type: 'button', onclick: () => holder.replaceChildren() }, 'Cancel')));
  onSubmit(form, save);
  holder.replaceChildren(form);
  return form;
}

function say(text) {
  const status = document.getElementById('status');
  status.textContent = text;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => { status.textContent = ''; }, 4000);
}

function fmtDate(s) { return s ? new Date(s).toLocaleString() : '—'; }
function usd(n) { return `$${Number(n || 0).toFixed(4)}`; }

// ---------- the API ----------

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    const meta = (body && body.metadata) || {};
    this.field = meta.field || null;
    this.reason = meta.reason || null;
  }
}

async function call(method, url, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
  const r = await fetch(url, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 204) return null;
  const json = await r.json().catch(() => null);
  if (!r.ok) {
    const err = new ApiError(r.status, json && json.error);
    if (r.status === 401 && url.startsWith('/api/')) signedOut(err.message);
    throw err;
  }
  return json;
}
const api = (method, path, body) => call(method, `/api/v1${path}`, body);
const enc = encodeURIComponent;

/** Shows an API error next to the form field it names (`body.slug` → name="slug"), else in
 * the form's own error line. */
function showError(form, err) {
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  const own = form.querySelector('.error');
  if (own) own.textContent = '';
  const name = err.field ? err.field.replace(/^body\./, '').replace(/^query\./, '') : null;
  const target = name && (form.querySelector(`.field-error[data-for="${CSS.escape(name)}"]`)
    || form.querySelector(`.field-error[data-for="${CSS.escape(name.split(/[.[]/)[0])}"]`));
  if (target) {
    target.textContent = err.message;
    const input = form.querySelector(`[name="${CSS.escape(target.dataset.for)}"]`);
    if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
  } else if (own) {
    own.textContent = err.message;
  } else {
    say(err.message);
  }
}

/** Runs `fn` on submit with the form's values; shows its errors in the form. */
function onSubmit(form, fn) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const values = Object.fromEntries(new FormData(form).entries());
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    for (const el of form.querySelectorAll('.field-error, .error')) el.textContent = '';
    try { await fn(values); } catch (err) {
      if (err instanceof ApiError) showError(form, err); else throw err;
    }
  });
  return form;
}

// ---------- session ----------

function signedOut(message) {
  state.csrf = null;
  state.workspace = null;
  sessionStorage.removeItem('mg-workspace');
  document.getElementById('top').hidden = true;
  renderSignIn(message);
}

function renderSignIn(message) {
  const form = h('form', { class: 'card', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to ModelGates'),
    h('p', { class: 'muted' }, 'Use a management key (modelgates keys create --management). ' +
      'It is exchanged for a session cookie and not kept in this browser.'),
    field('Management key', 'key', { type: 'password', autocomplete: 'off', required: true }),
    h('p', { class: 'error', role: 'alert' }, message || ''),
    h('button', { class: 'primary', type: 'submit' }, 'Sign in'));
  onSubmit(form, async ({ key }) => {
    const r = await call('POST', '/dashboard/session', { key });
    state.csrf = r.csrf_token;
    await enter();
  });
  main.replaceChildren(form);
  form.querySelector('input').focus();
}

async function enter() {
  document.getElementById('top').hidden = false;
  await loadWorkspaces();
  if (!location.hash || location.hash === '#/') location.hash = '#/workspaces';
  else route(false);
}

async function loadWorkspaces() {
  const all = [];
  for (let offset = 0; ; offset += 100) {
    const page = await api('GET', `/workspaces?limit=100&offset=${offset}`);
    all.push(...page.data);
    if (all.length >= page.total_count || page.data.length === 0 || offset >= 900) break;
  }
  state.workspaces = all;
  if (!state.workspace || !all.some((w) => w.slug === state.workspace)) {
    state.workspace = (all.find((w) => w.slug === 'default') || all[0] || {}).slug || null;
  }
  sessionStorage.setItem('mg-workspace', state.workspace || '');
  const select = document.getElementById('workspace');
  select.replaceChildren(...all.map((w) =>
    h('option', { value: w.slug, selected: w.slug === state.workspace }, w.name)));
}

document.getElementById('workspace').addEventListener('change', (e) => {
  state.workspace = e.target.value;
  sessionStorage.setItem('mg-workspace', state.workspace);
  route(false);
});

document.getElementById('sign-out').addEventListener('click', async () => {
  try { await call('DELETE', '/dashboard/session'); } catch (_) { /* signed out anyway */ }
  signedOut('Signed out.');
  history.replaceState(null, '', '#/');
});

// ---------- views ----------

const views = {};

views.workspaces = async () => {
  const pageSize = 20;
  let offset = 0;
  let filter = '';
  const list = h('div', { class: 'table-wrap' });
  const pager = h('p', { class: 'row' });

  async function draw() {
    // A search looks through every workspace the page loaded (up to 1,000), not just this page.
    const page = filter
      ? { data: state.workspaces, total_count: state.workspaces.length }
      : await api('GET', `/workspaces?limit=${pageSize}&offset=${offset}`);
    const rows = page.data.filter((w) => !filter
      || `${w.name} ${w.slug} ${w.description || ''}`.toLowerCase().includes(filter));
    list.replaceChildren(h('table', {},
      h('caption', { class: 'muted' }, filter ? `${rows.length} of ${page.total_count} workspaces match` : `${page.total_count} workspaces`),
      h('thead', {}, h('tr', {}, ['Name', 'Slug', 'Description', 'Created', 'Actions']
        .map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.map((w) => h('tr', {},
        h('td', {}, w.name, w.is_active ? h('span', { class: 'badge' }, ' active') : null),
        h('td', {}, w.slug), h('td', {}, w.description || ''), h('td', {}, fmtDate(w.created_at)),
        h('td', { class: 'actions' },
          h('button', { type: 'button', onclick: () => edit(w) }, `Edit ${w.slug}`),
          w.is_active ? null : h('button', { type: 'button', onclick: () => act('/workspaces/active', 'POST', `Activated ${w.slug}`, { name: w.slug }, `activate ${w.slug}`) }, `Activate ${w.slug}`),
          h('button', { type: 'button', onclick: () => act(`/workspaces/${enc(w.id)}/archive`, 'POST', `Archived ${w.slug}`, undefined, `archive ${w.slug}`) }, `Archive ${w.slug}`),
          h('button', { type: 'button', class: 'danger', onclick: () => {
            if (confirm(`Delete workspace ${w.slug}? Its keys, rules and usage records go with it.`)) act(`/workspaces/${enc(w.id)}`, 'DELETE', `Deleted ${w.slug}`, undefined, `delete ${w.slug}`);
          } }, `Delete ${w.slug}`)))))));
    if (filter) { pager.replaceChildren(); return; }
    pager.replaceChildren(
      h('button', { type: 'button', disabled: offset === 0, onclick: () => { offset -= pageSize; draw(); } }, 'Previous'),
      h('span', {}, `${page.total_count ? offset + 1 : 0}–${offset + page.data.length} of ${page.total_count}`),
      h('button', { type: 'button', disabled: offset + pageSize >= page.total_count, onclick: () => { offset += pageSize; draw(); } }, 'Next'));
  }

  /** Runs a lifecycle action; a refusal (the default or active workspace cannot be archived
   * or deleted, a slug is taken, …) is explained above the table with the API's reason. */
  async function act(path, method, done, body, what) {
    errorLine.textContent = '';
    try {
      await api(method, path, body);
      say(done);
      await loadWorkspaces();
      await draw();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const why = err.reason ? ` (${err.reason.toLowerCase().replaceAll('_', ' ')})` : '';
      errorLine.textContent = `Could not ${what}${why}: ${err.message}`;
      say(errorLine.textContent);
      errorLine.scrollIntoView({ block: 'nearest' });
    }
  }

  const errorLine = h('p', { class: 'error', role: 'alert' });
  const editor = h('div');
  /** The edit form of every field the API lets a workspace change; each error the API
   * answers appears next to the field it names, and a stale revision is a conflict. */
  function edit(w) {
    const labels = Object.entries(w.labels || {}).map(([k, v]) => `${k}=${v}`).join('\n');
    const check = (label, name) => field(label, name, { type: 'checkbox', checked: !!w[name] });
    const form = showEditor(editor, {
      label: `Edit ${w.slug}`,
      title: `Edit ${w.name}`,
      fields: [
        field('Name', 'name', { value: w.name, required: true }),
        field('Slug', 'slug', { value: w.slug, required: true }),
        field('Description', 'description', { tag: 'textarea', value: w.description || '' }),
        field('Default text model', 'default_text_model', { value: w.default_text_model || '', placeholder: 'openai/gpt-5' }),
        field('Default image model', 'default_image_model', { value: w.default_image_model || '' }),
        field('Default provider sort', 'default_provider_sort', { tag: 'select', value: w.default_provider_sort || '',
          options: [['', 'none'], ['price', 'price'], ['throughput', 'throughput'], ['latency', 'latency'], ['exacto', 'exacto']] }),
        field('I/O logged for key numbers (comma separated; empty = every key)', 'io_logging_api_key_ids',
          { value: (w.io_logging_api_key_ids || []).join(', ') }),
        field('I/O logging sampling rate (0 to 1)', 'io_logging_sampling_rate',
          { type: 'number', step: 'any', value: w.io_logging_sampling_rate }),
        check('Data discount logging', 'is_data_discount_logging_enabled'),
        check('Observability broadcast', 'is_observability_broadcast_enabled'),
        check('Observability I/O logging', 'is_observability_io_logging_enabled'),
        field('Labels (one key=value per line)', 'labels', { tag: 'textarea', value: labels }),
        field('Keep usage records for days (empty = forever)', 'usage_retention_days',
          { type: 'number', step: 1, value: w.usage_retention_days ?? '' })],
      saveLabel: 'Save',
      save: async (v) => {
        const invalid = (name, message) => new ApiError(400, { message, metadata: { field: name } });
        const ids = v.io_logging_api_key_ids.split(',').map((x) => x.trim()).filter(Boolean);
        const bad = ids.find((x) => !/^\d+$/.test(x));
        if (bad !== undefined) throw invalid('io_logging_api_key_ids', `${JSON.stringify(bad)} is not a key number (the # column of the keys page)`);
        const pairs = {};
        for (const [i, line] of v.labels.split('\n').map((x) => x.trim()).entries()) {
          if (!line) continue;
          const at = line.indexOf('=');
          if (at <= 0) throw invalid('labels', `line ${i + 1} (${JSON.stringify(line)}) is not key=value`);
          pairs[line.slice(0, at).trim()] = line.slice(at + 1).trim();
        }
        await api('PATCH', `/workspaces/${enc(w.id)}`, {
          name: v.name, slug: v.slug, description: v.description || null,
          default_text_model: v.default_text_model || null,
          default_image_model: v.default_image_model || null,
          default_provider_sort: v.default_provider_sort || null,
          io_logging_api_key_ids: ids.length ? ids.map(Number) : null,
          io_logging_sampling_rate: v.io_logging_sampling_rate === '' ? null : Number(v.io_logging_sampling_rate),
          is_data_discount_logging_enabled: v.is_data_discount_logging_enabled === 'on',
          is_observability_broadcast_enabled: v.is_observability_broadcast_enabled === 'on',
          is_observability_io_logging_enabled: v.is_observability_io_logging_enabled === 'on',
          labels: pairs,
          usage_retention_days: v.usage_retention_days === '' ? null : Number(v.usage_retention_days),
          expected_revision: w.revision,
        });
        say(`Saved ${v.slug}`);
        editor.replaceChildren();
        await loadWorkspaces();
        await draw();
      },
    });
    form.querySelector('input').focus();
  }

  const create = h('form', { class: 'card', 'aria-labelledby': 'create-ws' },
    h('h2', { id: 'create-ws' }, 'Create a workspace'),
    h('div', { class: 'row' },
      field('Name', 'name', { required: true }),
      field('Slug', 'slug', { required: true, placeholder: 'lowercase-with-dashes' }),
      field('Description', 'description', {}),
      h('button', { class: 'primary', type: 'submit' }, 'Create')),
    h('p', { class: 'error', role: 'alert' }));
  onSubmit(create, async (v) => {
    const r = await api('POST', '/workspaces', { name: v.name, slug: v.slug, description: v.description || null });
    say(`Created ${r.data.slug}`);
    create.reset();
    await loadWorkspaces();
    await draw();
  });

  const search = field('Search workspaces', 'filter', { type: 'search' });
  search.querySelector('input').addEventListener('input', (e) => {
    filter = e.target.value.toLowerCase();
    draw();
  });

  const archived = h('div');
  async function drawArchived() {
    const page = await api('GET', '/workspaces/archive');
    const rows = page.workspaces || [];
    archived.replaceChildren(rows.length ? h('table', {},
      h('thead', {}, h('tr', {}, ['Archived workspace', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.map((w) => h('tr', {}, h('td', {}, w.name),
        h('td', {}, h('button', { type: 'button', onclick: async () => {
          try { await api('POST', `/workspaces/archive/${enc(w.name)}/recover`); say(`Restored ${w.name}`); await loadWorkspaces(); await draw(); await drawArchived(); } catch (err) { say(err.message); }
        } }, `Restore ${w.name}`)))))) : h('p', { class: 'muted' }, 'No archived workspaces.'));
  }

  main.replaceChildren(h('h1', {}, 'Workspaces'), create, errorLine, search, list, pager, editor,
    h('h2', {}, 'Archived'), archived);
  await draw();
  await drawArchived();
};

views.members = async () => {
  const ws = state.workspace;
  const org = h('div', { class: 'table-wrap' });
  const wsList = h('div', { class: 'table-wrap' });
  const orgError = h('p', { class: 'error', role: 'alert' });
  const wsError = h('p', { class: 'error', role: 'alert' });
  async function guarded(line, fn) {
    line.textContent = '';
    try { await fn(); } catch (err) { if (err instanceof ApiError) line.textContent = err.message; else throw err; }
  }
  async function drawOrg() {
    const r = await api('GET', '/organization/members?limit=100');
    org.replaceChildren(h('table', {},
      h('caption', { class: 'muted' }, `${r.total_count} organization members`),
      h('thead', {}, h('tr', {}, ['User', 'Email', 'Name', 'Role', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, r.data.map((m) => {
        const role = h('select', { 'aria-label': `Role of ${m.id}` },
          ...[['org:member', 'member'], ['org:admin', 'admin']].map(([v, t]) => h('option', { value: v, selected: m.role === v }, t)));
        role.addEventListener('change', () => guarded(orgError, async () => {
          await api('PATCH', `/organization/members/${enc(m.id)}`, { role: role.value });
          say(`${m.id} is now ${role.value}`);
          await drawOrg();
        }));
        return h('tr', {}, h('td', {}, m.id), h('td', {}, m.email),
          h('td', {}, [m.first_name, m.last_name].filter(Boolean).join(' ')), h('td', {}, role),
          h('td', {}, h('button', { type: 'button', class: 'danger', onclick: () => guarded(orgError, async () => {
            if (!confirm(`Remove ${m.id} from the organization?`)) return;
            await api('DELETE', `/organization/members/${enc(m.id)}`);
            say(`Removed ${m.id}`);
            await drawOrg();
          }) }, `Remove ${m.id}`)));
      }))));
  }
  async function drawWs() {
    const r = await api('GET', `/workspaces/${enc(ws)}/members?limit=100`);
    const boxes = [];
    wsList.replaceChildren(h('table', {},
      h('caption', { class: 'muted' }, `Members of ${ws}`),
      h('thead', {}, h('tr', {}, ['Select', 'User', 'Role', 'Since'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, r.data.map((m) => {
        const box = h('input', { type: 'checkbox', value: m.user_id, 'aria-label': `Select ${m.user_id}` });
        boxes.push(box);
        return h('tr', {}, h('td', {}, box), h('td', {}, m.user_id), h('td', {}, m.role), h('td', {}, fmtDate(m.created_at)));
      }))),
    h('button', { type: 'button', class: 'danger', onclick: () => guarded(wsError, async () => {
      const user_ids = boxes.filter((b) => b.checked).map((b) => b.value);
      if (!user_ids.length) { wsError.textContent = 'Select the members to remove first.'; return; }
      const out = await api('POST', `/workspaces/${enc(ws)}/members/remove`, { user_ids });
      say(`Removed ${out.removed_count} from ${ws}`);
      await drawWs();
    }) }, 'Remove selected from the workspace'));
  }
  const addOrg = h('form', { class: 'card', 'aria-labelledby': 'add-member' },
    h('h2', { id: 'add-member' }, 'Add an organization member'),
    h('div', { class: 'row' },
      field('User id', 'id', { required: true, placeholder: 'user_alice' }),
      field('Email', 'email', { type: 'email', required: true }),
      field('First name', 'first_name', {}),
      field('Last name', 'last_name', {}),
      field('Role', 'role', { tag: 'select', options: [['org:member', 'member'], ['org:admin', 'admin']] }),
      h('button', { class: 'primary', type: 'submit' }, 'Add member')),
    h('p', { class: 'error', role: 'alert' }));
  onSubmit(addOrg, async (v) => {
    await api('POST', '/organization/members', {
      id: v.id, email: v.email, first_name: v.first_name || null, last_name: v.last_name || null, role: v.role });
    say(`Added ${v.id}`);
    addOrg.reset();
    await drawOrg();
  });
  const addWs = h('form', { class: 'card', 'aria-labelledby': 'add-ws-members' },
    h('h2', { id: 'add-ws-members' }, `Add members to ${ws}`),
    h('div', { class: 'row' },
      field('User ids (comma or newline separated)', 'user_ids', { tag: 'textarea', required: true }),
      h('button', { class: 'primary', type: 'submit' }, 'Add to the workspace')),
    h('p', { class: 'error', role: 'alert' }));
  onSubmit(addWs, async (v) => {
    const user_ids = v.user_ids.split(/[\n,]/).map((x) => x.trim()).filter(Boolean);
    const out = await api('POST', `/workspaces/${enc(ws)}/members/add`, { user_ids });
    say(`Added ${out.added_count} to ${ws}`);
    addWs.reset();
    await drawWs();
  });
  main.replaceChildren(h('h1', {}, 'Members'), addOrg, orgError, org,
    h('h2', {}, `Workspace ${ws}`), addWs, wsError, wsList);
  await drawOrg();
  await drawWs();
};

views.keys = async () => {
  const ws = state.workspace;
  const list = h('div', { class: 'table-wrap' });
  const revealed = h('div', { 'aria-live': 'polite' });
  async function draw() {
    const r = await api('GET', `/keys?workspace_id=${enc(ws)}&include_disabled=true&include_expired=true`);
    list.replaceChildren(h('table', {},
      h('caption', { class: 'muted' }, `Keys of ${ws}`),
      h('thead', {}, h('tr', {}, ['#', 'Name', 'Key', 'Kind', 'Status', 'Expires', 'Last used', 'Usage', 'Actions']
        .map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, r.data.map((k) => {
        const expired = k.expires_at && new Date(k.expires_at) < new Date();
        return h('tr', {},
          h('td', { class: 'num' }, k.number), h('td', {}, k.name), h('td', {}, h('code', {}, k.label)), h('td', {}, k.kind),
          h('td', {}, h('span', { class: k.disabled || expired ? 'badge bad' : 'badge' },
            k.disabled ? 'disabled' : expired ? 'expired' : 'active')),
          h('td', {}, fmtDate(k.expires_at)), h('td', {}, fmtDate(k.last_used_at)),
          h('td', { class: 'num' }, usd(k.usage)),
          h('td', { class: 'actions' },
            h('button', { type: 'button', onclick: () => update(k, { disabled: !k.disabled }) },
              `${k.disabled ? 'Enable' : 'Disable'} ${k.name}`),
            h('button', { type: 'button', class: 'danger', onclick: () => {
              if (confirm(`Delete key ${k.name}?`)) remove(k);
            } }, `Delete ${k.name}`)));
      }))));
  }
  async function update(k, patch) {
    try { await api('PATCH', `/keys/${enc(k.hash)}`, patch); say(`Updated ${k.name}`); await draw(); } catch (err) { say(err.message); }
  }
  async function remove(k) {
    try { await api('DELETE', `/keys/${enc(k.hash)}`); say(`Deleted ${k.name}`); await draw(); } catch (err) { say(err.message); }
  }
  const create = h('form', { class: 'card', 'aria-labelledby': 'create-key' },
    h('h2', { id: 'create-key' }, `Create a key in ${ws}`),
    h('div', { class: 'row' },
      field('Name', 'name', { required: true }),
      field('Kind', 'kind', { tag: 'select', options: [['inference', 'inference (gateway)'], ['management', 'management (this API)']] }),
      field('Expires (optional)', 'expires_at', { type: 'datetime-local' }),
      h('button', { class: 'primary', type: 'submit' }, 'Create key')),
    h('p', { class: 'error', role: 'alert' }));
  onSubmit(create, async (v) => {
    const body = { name: v.name, workspace_id: ws, kind: v.kind };
    if (v.expires_at) body.expires_at = new Date(v.expires_at).toISOString();
    const r = await api('POST', '/keys', body);
    create.reset();
    const secret = h('p', { class: 'secret', id: 'new-secret' }, r.key);
    revealed.replaceChildren(h('section', { class: 'card', 'aria-labelledby': 'secret-title' },
      h('h2', { id: 'secret-title' }, `Secret of ${r.data.name}: shown once`),
      h('p', { class: 'muted' }, 'Copy it now; it is not stored and cannot be shown again.'),
      secret,
      h('div', { class: 'row' },
        h('button', { type: 'button', onclick: async () => {
          try { await navigator.clipboard.writeText(r.key); say('Copied'); } catch (_) { say('Copy failed: select the text instead'); }
        } }, 'Copy secret'),
        h('button', { type: 'button', onclick: () => revealed.replaceChildren() }, 'Done, hide it'))));
    await draw();
  });
  main.replaceChildren(h('h1', {}, 'API keys'), create, revealed, list);
  await draw();
};

views.routing = async () => {
  const ws = state.workspace;
  const [providers, rules] = await Promise.all([
    api('GET', '/provider-endpoints?limit=100'), api('GET', `/workspaces/${enc(ws)}/muxes`)]);
  let current = rules.map((r) => ({ ...r }));
  const list = h('ol', { class: 'rules', 'aria-label': 'Mux rules, first match wins', tabindex: -1 });
  const warnings = h('div', { role: 'status', id: 'rule-warnings' });
  const saveError = h('p', { class: 'error', role: 'alert' });
  const body = () => current.map((r) => ({
    provider_name: r.provider_name, model: r.model, matcher_type: r.matcher_type, matcher: r.matcher || null }));
  /** "rules[2].model" → "Rule 3 (model)": the API's 0-based field as the list numbers it. */
  const ruleOf = (err) => {
    const m = /^rules\[(\d+)\]\.?(\w*)/.exec(err.field || '');
    if (!m) return err.message;
    const message = err.message.startsWith(`invalid ${err.field}: `) ? err.message.slice(`invalid ${err.field}: `.length) : err.message;
    return `Rule ${Number(m[1]) + 1}${m[2] ? ` (${m[2]})` : ''}: ${message}`;
  };
  let checks = 0;
  /** Asks the server to check the list as edited (nothing is stored): unreachable rules are
   * marked and explained, a rule the server would refuse is named. Only the newest answer
   * is shown. */
  async function check() {
    const mine = ++checks;
    let out;
    try {
      out = await api('POST', `/workspaces/${enc(ws)}/muxes/check`, body());
    } catch (err) {
      if (mine !== checks) return;
      if (!(err instanceof ApiError)) throw err;
      warnings.replaceChildren(err.status === 403
        ? h('p', { class: 'muted' }, `You can read these rules but not change them: ${err.message}`)
        : h('p', { class: 'error' }, ruleOf(err)));
      return;
    }
    if (mine !== checks) return;
    const items = list.querySelectorAll('li');
    warnings.replaceChildren(...out.unreachable_rules.map((u) => {
      const item = items[u.index];
      if (item) {
        item.classList.add('unreachable');
        item.firstChild.append(' ', h('span', { class: 'badge bad' }, 'never matches'));
      }
      const by = u.shadowed_by.map((i) => i + 1);
      const after = u.shadowed_by.length === 1 && current[u.shadowed_by[0]].matcher_type === 'catch_all';
      return h('p', { class: 'warning' }, `Rule ${u.index + 1} can never match: ${after
        ? `it comes after the catch_all rule ${by[0]}`
        : `${by.length === 1 ? `rule ${by[0]} matches` : `rules ${by.join(' and ')} match`} every file it matches first`}.`);
    }));
  }

  function drawRules() {
    list.replaceChildren(...current.map((r, i) => h('li', {},
      h('span', {}, `${r.matcher_type}${r.matcher ? ` ${r.matcher}` : ''} → ${r.provider_name} / ${r.model}`),
      h('span', { class: 'actions' },
        h('button', { type: 'button', disabled: i === 0, onclick: () => move(i, -1) }, `Move rule ${i + 1} up`),
        h('button', { type: 'button', disabled: i === current.length - 1, onclick: () => move(i, 1) }, `Move rule ${i + 1} down`),
        h('button', { type: 'button', class: 'danger', onclick: () => remove(i) }, `Remove rule ${i + 1}`)))));
    if (!current.length) list.append(h('li', { class: 'muted' }, 'No rules: requests use the workspace\'s default text model.'));
    warnings.replaceChildren();
    saveError.textContent = '';
    check();
  }
  /** Focuses the first enabled button of `names` in the list (the list is redrawn after each
   * change, so a keyboard user would otherwise be sent back to the top of the page). */
  function focusButton(...names) {
    const buttons = [...list.querySelectorAll('button')];
    const target = names.map((n) => buttons.find((b) => b.textContent === n && !b.disabled)).find(Boolean);
    if (target) target.focus(); else list.focus();
  }
  function move(i, by) {
    const [r] = current.splice(i, 1);
    current.splice(i + by, 0, r);
    drawRules();
    const at = i + by + 1;
    focusButton(`Move rule ${at} ${by < 0 ? 'up' : 'down'}`, `Move rule ${at} ${by < 0 ? 'down' : 'up'}`);
  }
  function remove(i) {
    current.splice(i, 1);
    drawRules();
    focusButton(`Remove rule ${i + 1}`, `Remove rule ${i}`);
  }
  async function save() {
    saveError.textContent = '';
    try {
      await api('PUT', `/workspaces/${enc(ws)}/muxes`, body());
      say('Rules saved');
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      saveError.textContent = `Not saved. ${ruleOf(err)}`;
    }
  }

  const add = h('form', { class: 'card', 'aria-labelledby': 'add-rule' },
    h('h2', { id: 'add-rule' }, 'Add a rule'),
    h('div', { class: 'row' },
      field('Provider', 'provider_name', { tag: 'select', options: providers.data.map((p) => [p.name, `${p.name} (${p.provider_type})`]) }),
      field('Model', 'model', { required: true, placeholder: 'gpt-5' }),
      field('Matches', 'matcher_type', { tag: 'select', options: [['filename_match', 'file name (chat and FIM)'], ['chat_filename', 'file name, chat only'], ['fim_filename', 'file name, FIM only'], ['catch_all', 'everything else']] }),
      field('Glob', 'matcher', { placeholder: '*.py' }),
      h('button', { type: 'submit' }, 'Add to the list')),
    h('p', { class: 'muted' }, 'The server checks the list after each change; nothing is stored until you save.'));
  onSubmit(add, async (v) => {
    current.push({ provider_name: v.provider_name, model: v.model, matcher_type: v.matcher_type, matcher: v.matcher || null });
    add.reset();
    drawRules();
  });

  const result = h('div', { 'aria-live': 'polite', id: 'route-result' });
  const box = h('form', { class: 'card', 'aria-labelledby': 'which-rule' },
    h('h2', { id: 'which-rule' }, 'Which rule wins?'),
    h('div', { class: 'row' },
      field('File names (comma or newline separated)', 'files', { tag: 'textarea', placeholder: 'src/app.py' }),
      field('Request type', 'request_type', { tag: 'select', options: [['chat', 'chat'], ['fim', 'fim']] }),
      h('button', { class: 'primary', type: 'submit' }, 'Resolve')),
    h('p', { class: 'error', role: 'alert' }));
  onSubmit(box, async (v) => {
    const files = v.files.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
    result.replaceChildren();
    const r = await api('POST', `/workspaces/${enc(ws)}/route`, { files, request_type: v.request_type });
    result.replaceChildren(h('p', {}, r.rule_index === null || r.rule_index === undefined
      ? `No rule matched: the default model ${r.provider.name} / ${r.model} serves it.`
      : `Rule ${r.rule_index + 1} wins: ${r.provider.name} / ${r.model}${r.custom_instructions ? ' (with custom instructions)' : ''}.`));
  });

  const instructions = await api('GET', `/workspaces/${enc(ws)}/custom-instructions`).catch(() => null);
  const instr = h('form', { class: 'card', 'aria-labelledby': 'instr-title' },
    h('h2', { id: 'instr-title' }, 'Custom instructions'),
    field('Injected as the system prompt of routed chat requests', 'instructions',
      { tag: 'textarea', value: (instructions && instructions.prompt) || '' }),
    h('p', { class: 'error', role: 'alert' }),
    h('button', { type: 'submit' }, 'Save instructions'));
  onSubmit(instr, async (v) => {
    if (v.instructions.trim()) await api('PUT', `/workspaces/${enc(ws)}/custom-instructions`, { prompt: v.instructions });
    else await api('DELETE', `/workspaces/${enc(ws)}/custom-instructions`);
    say('Instructions saved');
  });

  const providerError = h('p', { class: 'error', role: 'alert' });
  const addProvider = h('form', { class: 'card', 'aria-labelledby': 'add-provider' },
    h('h2', { id: 'add-provider' }, 'Add a provider endpoint'),
    h('div', { class: 'row' },
      field('Name', 'name', { required: true }),
      field('Type', 'provider_type', { tag: 'select', options: ['openai', 'anthropic', 'ollama', 'openrouter', 'vllm', 'llamacpp', 'lm_studio'].map((t) => [t, t]) }),
      field('Endpoint (optional for hosted types)', 'endpoint', { type: 'url', placeholder: 'https://api.openai.com/v1' }),
      field('API key (write-only)', 'api_key', { type: 'password', autocomplete: 'off' }),
      h('button', { class: 'primary', type: 'submit' }, 'Add provider')),
    h('p', { class: 'error', role: 'alert' }));
  onSubmit(addProvider, async (v) => {
    await api('POST', '/provider-endpoints', {
      name: v.name, provider_type: v.provider_type, endpoint: v.endpoint || null, api_key: v.api_key || null });
    say(`Added ${v.name}`);
    await views.routing();
  });
  const providerEditor = h('div');
  function editProvider(p) {
    const form = showEditor(providerEditor, {
      title: `Edit provider ${p.name}`,
      fields: [
        field('Name', 'name', { value: p.name, required: true }),
        field('Endpoint', 'endpoint', { type: 'url', value: p.endpoint }),
        field('Description', 'description', { value: p.description || '' })],
      saveLabel: 'Save provider',
      save: async (v) => {
        await api('PUT', `/provider-endpoints/${enc(p.name)}`, {
          name: v.name, provider_type: p.provider_type, endpoint: v.endpoint || null, description: v.description || null });
        say(`Saved ${v.name}`);
        await views.routing();
      },
    });
    form.querySelector('input').focus();
  }
  async function providerAct(fn) {
    providerError.textContent = '';
    try { await fn(); await views.routing(); } catch (err) { if (err instanceof ApiError) { providerError.textContent = err.message; } else throw err; }
  }
  main.replaceChildren(h('h1', {}, `Routing of ${ws}`),
    h('h2', {}, 'Providers'),
    h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Name', 'Type', 'Endpoint', 'Auth', 'Key', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, providers.data.map((p) => {
        const key = h('input', { type: 'password', autocomplete: 'off', 'aria-label': `New API key for ${p.name}` });
        return h('tr', {}, h('td', {}, p.name), h('td', {}, p.provider_type),
          h('td', {}, p.endpoint), h('td', {}, p.auth_type), h('td', {}, p.has_api_key ? 'set (write-only)' : '—'),
          h('td', { class: 'actions' }, key,
            h('button', { type: 'button', onclick: () => providerAct(async () => {
              await api('PUT', `/provider-endpoints/${enc(p.name)}/auth-material`, { auth_type: 'api_key', api_key: key.value });
              say(`Key of ${p.name} replaced`);
            }) }, `Set key of ${p.name}`),
            h('button', { type: 'button', onclick: () => editProvider(p) }, `Edit ${p.name}`),
            h('button', { type: 'button', class: 'danger', onclick: () => providerAct(async () => {
              if (!confirm(`Delete provider ${p.name}?`)) return;
              await api('DELETE', `/provider-endpoints/${enc(p.name)}`);
              say(`Deleted ${p.name}`);
            }) }, `Delete ${p.name}`)));
      })))), providerError, providerEditor, addProvider,
    h('h2', {}, 'Mux rules (first match wins)'), list, warnings,
    h('div', { class: 'row' }, h('button', { class: 'primary', type: 'button', onclick: save }, 'Save rules')), saveError,
    add, box, result, instr);
  drawRules();
};

views.usage = async () => {
  const ws = state.workspace;
  const period = h('select', { id: 'period' },
    h('option', { value: 'day' }, 'Daily, last 14 days'),
    h('option', { value: 'week' }, 'Weekly, last 12 weeks'),
    h('option', { value: 'month' }, 'Monthly, last 12 months'));
  const group = h('select', { id: 'group' },
    h('option', { value: 'provider' }, 'Provider'),
    h('option', { value: 'model' }, 'Model'));
  const totals = h('div', { class: 'totals', id: 'usage-totals' });
  const costCanvas = h('canvas', { id: 'cost-chart', role: 'img', 'aria-label': 'Cost over time (the tables below hold the figures)' });
  const tokenCanvas = h('canvas', { id: 'token-chart', role: 'img', 'aria-label': 'Tokens over time (the tables below hold the figures)' });
  const byProvider = h('div', { class: 'table-wrap' });
  const byModel = h('div', { class: 'table-wrap' });
  const byBucket = h('div', { class: 'table-wrap' });
  const alerts = h('div', { class: 'table-wrap' });
  const charts = {};
  const palette = ['#0b5cad', '#b45309', '#15803d', '#7e22ce', '#be123c', '#0e7490', '#4d7c0f', '#57606a'];
  const cost = (u) => (u.input_cost || 0) + (u.output_cost || 0);
  const tokens = (u) => u.input_tokens + u.output_tokens;

  // The calendar of the series is this browser's UTC offset now, fixed: the range, the
  // server's buckets and the labels all use it, so they agree across a daylight-saving change.
  const offset = -new Date().getTimezoneOffset();
  const shift = offset * 60000;
  /** The series' start: 14 days, 12 weeks or 12 months back (the server widens it to whole
   * buckets). Dates are computed in UTC on clock readings shifted by the offset. */
  function start(kind) {
    const now = new Date(Date.now() + shift);
    const [y, m, d] = [now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()];
    const local = kind === 'day' ? Date.UTC(y, m, d - 13)
      : kind === 'week' ? Date.UTC(y, m, d - 7 * 11) : Date.UTC(y, m - 11, 1);
    return new Date(local - shift);
  }
  function label(kind, iso) {
    const d = new Date(Date.parse(iso) + shift);
    if (kind === 'month') return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', timeZone: 'UTC' });
    return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
  }
  function chart(canvas, title, labels, sets) {
    canvas.dataset.points = JSON.stringify(Object.fromEntries(sets.map((d) => [d.label, d.data])));
    if (charts[canvas.id]) charts[canvas.id].destroy();
    if (!window.Chart) return;
    charts[canvas.id] = new window.Chart(canvas, {
      type: 'bar',
      data: { labels, datasets: sets.map((d, i) => ({ ...d, backgroundColor: palette[i % palette.length] })) },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { title: { display: true, text: title } },
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } },
      },
    });
  }
  function table(caption, first, rows) {
    return h('table', {},
      h('caption', { class: 'muted' }, caption),
      h('thead', {}, h('tr', {}, [...first, 'Requests', 'Input tokens', 'Output tokens', 'Cost']
        .map((x, i) => h('th', { scope: 'col', class: i >= first.length ? 'num' : null }, x)))),
      h('tbody', {}, rows.map(([cells, u]) => h('tr', {}, ...cells.map((c) => h('td', {}, c)),
        h('td', { class: 'num' }, u.requests), h('td', { class: 'num' }, u.input_tokens),
        h('td', { class: 'num' }, u.output_tokens), h('td', { class: 'num' }, usd(cost(u)))))));
  }
  /** Adds counters `u` into `into` (requests, tokens, costs). */
  function add(into, u) {
    for (const k of ['requests', 'input_tokens', 'output_tokens', 'input_cost', 'output_cost']) into[k] = (into[k] || 0) + (u[k] || 0);
    return into;
  }

  let draws = 0;
  async function draw() {
    const mine = ++draws;
    const kind = period.value;
    // One request: every bucket and the totals come from one read of the rollups.
    const q = new URLSearchParams({ from: start(kind).toISOString(), to: new Date().toISOString(),
      interval: kind, utc_offset_minutes: String(offset) });
    const series = await api('GET', `/workspaces/${enc(ws)}/token-usage/series?${q}`);
    // Only the newest choice of period and grouping is drawn, whichever answer comes last.
    if (mine !== draws) return;
    const t = series.token_usage;
    totals.replaceChildren(
      h('div', {}, 'Requests', h('strong', { id: 'total-requests' }, String(t.requests))),
      h('div', {}, 'Input tokens', h('strong', {}, String(t.input_tokens))),
      h('div', {}, 'Output tokens', h('strong', {}, String(t.output_tokens))),
      h('div', {}, 'Cost', h('strong', { id: 'total-cost' }, usd(cost(t)))));
    const key = (m) => (group.value === 'provider' ? m.provider : `${m.provider} / ${m.model}`);
    const names = [...new Set(Object.values(series.tokens_by_model).map(key))].sort();
    const labels = series.buckets.map((b) => label(kind, b.from));
    const per = (measure) => names.map((name) => ({
      label: name,
      data: series.buckets.map((b) => Object.values(b.tokens_by_model)
        .filter((m) => key(m) === name).reduce((sum, m) => sum + measure(m.token_usage), 0)),
    }));
    const by = group.value === 'provider' ? 'provider' : 'model';
    chart(costCanvas, `Cost (USD) per ${by}`, labels, per(cost));
    chart(tokenCanvas, `Tokens per ${by}`, labels, per(tokens));

    const providers = {};
    for (const m of Object.values(series.tokens_by_model)) add(providers[m.provider] ||= {}, m.token_usage);
    byProvider.replaceChildren(table('Per provider over the period', ['Provider'],
      Object.entries(providers).sort().map(([p, u]) => [[p], u])));
    byModel.replaceChildren(table('Per model over the period', ['Provider', 'Model'],
      Object.values(series.tokens_by_model).map((m) => [[m.provider, m.model], m.token_usage])));
    byBucket.replaceChildren(table(`Per ${kind}`, [kind === 'day' ? 'Day' : kind === 'week' ? 'Week of' : 'Month'],
      series.buckets.map((b, i) => [[labels[i]], b.token_usage]).reverse()));
    await drawAlerts();
  }
  const alertType = h('select', { id: 'alert-filter' }, h('option', { value: '' }, 'All types'));
  /** The 100 newest critical alerts (repeats of one trigger close together folded into one,
   * as CodeGate lists them), filtered by trigger type here; secrets are highlighted. */
  async function drawAlerts() {
    const all = await api('GET', `/workspaces/${enc(ws)}/alerts?page_size=100`);
    const chosen = alertType.value;
    const types = [...new Set(all.map((a) => a.trigger_type).filter(Boolean))].sort();
    alertType.replaceChildren(h('option', { value: '' }, 'All types'),
      ...types.map((t) => h('option', { value: t, selected: t === chosen }, t)));
    const list = all.filter((a) => !alertType.value || a.trigger_type === alertType.value);
    alerts.replaceChildren(list.length ? h('table', {},
      h('caption', { class: 'muted' }, `${list.length} of the ${all.length} newest alerts`),
      h('thead', {}, h('tr', {}, ['When', 'Category', 'Type', 'Found', 'Snippet'].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, list.map((a) => h('tr', { class: a.trigger_type === 'secrets' ? 'alert-secret' : null },
        h('td', {}, fmtDate(a.timestamp)), h('td', {}, a.trigger_category || ''), h('td', {}, a.trigger_type || ''),
        h('td', {}, a.trigger_string || ''), h('td', {}, h('code', {}, a.code_snippet && a.code_snippet.code ? String(a.code_snippet.code).slice(0, 120) : '')))))) : h('p', { class: 'muted' }, 'No alerts.'));
  }
  const messages = h('div', { class: 'table-wrap' });
  const onlyAlerts = h('select', { id: 'message-filter' },
    h('option', { value: '' }, 'All messages'),
    h('option', { value: 'secrets' }, 'With secret alerts'),
    h('option', { value: 'pii' }, 'With PII alerts'));
  async function drawMessages() {
    const q = onlyAlerts.value ? `&filter_by_alert_trigger_types=${enc(onlyAlerts.value)}` : '';
    const r = await api('GET', `/workspaces/${enc(ws)}/messages?page_size=25${q}`);
    messages.replaceChildren(r.data.length ? h('table', {},
      h('caption', { class: 'muted' }, `${r.total} ${r.total === 1 ? 'message' : 'messages'}`),
      h('thead', {}, h('tr', {}, ['When', 'Provider', 'Prompt', 'Alerts'].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, r.data.map((m) => h('tr', { class: m.alerts_summary && m.alerts_summary.secrets ? 'alert-secret' : null },
        h('td', {}, fmtDate(m.conversation_timestamp)), h('td', {}, m.provider || ''),
        h('td', {}, m.prompt && m.prompt.message ? String(m.prompt.message).slice(0, 160) : ''),
        h('td', { class: 'num' }, m.alerts_summary ? m.alerts_summary.total_alerts : 0))))) : h('p', { class: 'muted' }, 'No messages.'));
  }
  onlyAlerts.addEventListener('change', drawMessages);
  alertType.addEventListener('change', drawAlerts);
  period.addEventListener('change', draw);
  group.addEventListener('change', draw);
  main.replaceChildren(h('h1', {}, `Usage of ${ws}`),
    h('div', { class: 'row' }, h('label', { for: 'period' }, 'Period', period),
      h('label', { for: 'group' }, 'Charts per', group)), totals,
    h('div', { class: 'chart' }, costCanvas), h('div', { class: 'chart' }, tokenCanvas),
    h('h2', {}, 'By provider'), byProvider, h('h2', {}, 'By model'), byModel,
    h('h2', {}, 'Over time'), byBucket, h('h2', {}, 'Alerts'),
    h('label', { for: 'alert-filter' }, 'Alert type', alertType), alerts,
    h('h2', {}, 'Messages'), h('label', { for: 'message-filter' }, 'Show', onlyAlerts), messages);
  await draw();
  await drawMessages();
};

views.models = async () => {
  const ws = state.workspace;
  const list = h('div', { class: 'table-wrap' });
  async function draw() {
    const r = await api('GET', `/workspaces/${enc(ws)}/models?limit=100`);
    list.replaceChildren(h('table', {},
      h('caption', { class: 'muted' }, `${r.total_count} models`),
      h('thead', {}, h('tr', {}, ['Model', 'Provider', 'Input ¢ per M tokens', 'Output ¢ per M tokens', 'Status', 'Actions']
        .map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, r.data.map((m) => {
        const id = m.metadata.name || m.metadata.id;
        const enabled = m.spec.status === 'MODEL_STATUS_ENABLED';
        return h('tr', {}, h('td', {}, id), h('td', {}, m.spec.provider),
          h('td', { class: 'num' }, m.spec.inputPricePerMillionTokens ?? '—'),
          h('td', { class: 'num' }, m.spec.outputPricePerMillionTokens ?? '—'),
          h('td', {}, enabled ? 'enabled' : 'disabled'),
          h('td', {}, h('button', { type: 'button', onclick: async () => {
            try { await api('PUT', `/workspaces/${enc(ws)}/models/${enc(id)}/status`, { status: enabled ? 'MODEL_STATUS_DISABLED' : 'MODEL_STATUS_ENABLED' }); say(`${id} ${enabled ? 'disabled' : 'enabled'}`); await draw(); } catch (err) { say(err.message); }
          } }, `${enabled ? 'Disable' : 'Enable'} ${id}`)));
      }))));
  }
  const register = h('form', { class: 'card', 'aria-labelledby': 'register-model' },
    h('h2', { id: 'register-model' }, 'Register a custom model'),
    h('div', { class: 'row' },
      field('Provider', 'provider', { required: true, placeholder: 'local' }),
      field('Family', 'family', { required: true, placeholder: 'my-model' }),
      field('Max input tokens', 'maxInputTokens', { type: 'number', min: 1, required: true }),
      field('Max output tokens', 'maxOutputTokens', { type: 'number', min: 1, required: true }),
      field('Input ¢ per M tokens', 'inputPricePerMillionTokens', { inputmode: 'decimal', placeholder: '300 = $3.00' }),
      field('Output ¢ per M tokens', 'outputPricePerMillionTokens', { inputmode: 'decimal' }),
      h('button', { class: 'primary', type: 'submit' }, 'Register')),
    h('p', { class: 'error', role: 'alert' }));
  onSubmit(register, async (v) => {
    const body = { provider: v.provider, family: v.family,
      maxInputTokens: Number(v.maxInputTokens), maxOutputTokens: Number(v.maxOutputTokens) };
    // Prices are decimal strings of cents, kept exact.
    if (v.inputPricePerMillionTokens) body.inputPricePerMillionTokens = v.inputPricePerMillionTokens.trim();
    if (v.outputPricePerMillionTokens) body.outputPricePerMillionTokens = v.outputPricePerMillionTokens.trim();
    await api('POST', `/workspaces/${enc(ws)}/models`, body);
    say(`Registered ${v.provider}/${v.family}`);
    register.reset();
    await draw();
  });
  main.replaceChildren(h('h1', {}, `Models of ${ws}`), register, list);
  await draw();
};

views.personas = async () => {
  const list = h('div', { class: 'table-wrap' });
  const error = h('p', { class: 'error', role: 'alert' });
  async function draw() {
    const r = await api('GET', '/personas?limit=100');
    list.replaceChildren(h('table', {},
      h('caption', { class: 'muted' }, `${r.total_count} personas`),
      h('thead', {}, h('tr', {}, ['Name', 'Description', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, r.data.map((p) => h('tr', {}, h('td', {}, p.name), h('td', {}, p.description),
        h('td', { class: 'actions' },
          h('button', { type: 'button', onclick: () => editPersona(p) }, `Edit ${p.name}`),
          h('button', { type: 'button', class: 'danger', onclick: async () => {
            error.textContent = '';
            try { await api('DELETE', `/personas/${enc(p.name)}`); say(`Deleted ${p.name}`); await draw(); } catch (err) { error.textContent = err.message; }
          } }, `Delete ${p.name}`)))))));
  }
  const editor = h('div');
  function editPersona(p) {
    showEditor(editor, {
      title: `Edit persona ${p.name}`,
      fields: [
        field('Name', 'new_name', { value: p.name, required: true }),
        field('Description', 'new_description', { tag: 'textarea', value: p.description, required: true })],
      saveLabel: 'Save persona',
      save: async (v) => {
        await api('PUT', `/personas/${enc(p.name)}`, { new_name: v.new_name, new_description: v.new_description });
        say(`Saved ${v.new_name}`);
        editor.replaceChildren();
        await draw();
      },
    });
  }
  const create = h('form', { class: 'card', 'aria-labelledby': 'create-persona' },
    h('h2', { id: 'create-persona' }, 'Create a persona'),
    h('div', { class: 'row' },
      field('Name', 'name', { required: true }),
      field('Description', 'description', { tag: 'textarea', required: true }),
      h('button', { class: 'primary', type: 'submit' }, 'Create')),
    h('p', { class: 'error', role: 'alert' }));
  onSubmit(create, async (v) => {
    await api('POST', '/personas', { name: v.name, description: v.description });
    say(`Created ${v.name}`);
    create.reset();
    await draw();
  });
  main.replaceChildren(h('h1', {}, 'Personas'), create, error, list, editor);
  await draw();
};

/** Renders the view the URL names. `moveFocus` (on navigation, not on the first load) puts the
 * keyboard focus on the new content, so screen readers and Tab start there. */
async function route(moveFocus) {
  if (!state.csrf) return;
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1] || 'workspaces';
  for (const a of document.querySelectorAll('nav a')) {
    if (a.getAttribute('href') === `#/${name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const view = Object.hasOwn(views, name) ? views[name] : views.workspaces;
  try {
    await view();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    main.replaceChildren(h('h1', {}, 'Something went wrong'), h('p', { class: 'error', role: 'alert' }, err.message));
  }
  if (moveFocus === true) main.focus({ preventScroll: true });
}
window.addEventListener('hashchange', () => route(true));

// On load: resume a live session (the cookie is sent automatically), else sign in.
(async () => {
  try {
    const r = await call('GET', '/dashboard/session');
    state.csrf = r.csrf_token;
    await enter();
  } catch (_) {
    signedOut();
  }
})();
