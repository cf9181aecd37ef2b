#!/usr/bin/env bash
# Installs the independent MCP clients the end-to-end tests use, into the repo, never globally:
#   .venv/          Python venv with the `mcp` client, `openai` (the gateway example's client),
#                   the `openrouter` SDK (the seed SDKs'
#                   Python package), `openapi-spec-validator` and `schemathesis` (the REST
#                   API's document and fuzzing), all pinned, from PyPI
#   node_modules/   @modelcontextprotocol/inspector, @modelcontextprotocol/conformance, Node 22
#                   (the `node` package; the conformance suite needs Node >= 22) and the seed
#                   SDKs' TypeScript package @openrouter/sdk, and playwright-core (the dashboard
#                   test's browser driver), pinned in package.json
#   chromium        Debian's package (/usr/bin/chromium), for the dashboard's browser test:
#                   installed with apt-get when missing (root only; otherwise it says how)
# Idempotent and quick once done; safe to run from several tests at once (flock).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec 9>"$root/.e2e-setup.lock"
flock 9

venv="$root/.venv"
if [ ! -f "$venv/.modelgates-e2e-v4" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "mcp>=2.3,<3" "openrouter==1.3.84" "openai==3.51.0" \
    "openapi-spec-validator==0.9.0" "schemathesis==4.32.5"
  touch "$venv/.modelgates-e2e-v4"
fi

if [ ! -f "$root/node_modules/.modelgates-e2e-v5" ]; then
  (cd "$root" && npm install --no-audit --no-fund --loglevel=error)
  touch "$root/node_modules/.modelgates-e2e-v5"
fi

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null \
      || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null; }
  else
    echo "the dashboard test needs Debian's Chromium: sudo apt-get install chromium" >&2
    exit 1
  fi
fi
