#!/usr/bin/env bash
# Installs what the end-to-end tests need into the repo, never globally:
# a Python venv at .venv with the `mcp` client package from PyPI. Idempotent and quick when done.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
marker="$venv/.modelgates-e2e-v1"
if [ -f "$marker" ]; then exit 0; fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "mcp>=2.3,<3"
touch "$marker"
