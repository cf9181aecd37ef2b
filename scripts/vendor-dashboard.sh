#!/usr/bin/env bash
# Fetches the dashboard's vendored libraries (crates/modelgates-mcp/dashboard/vendor/) from the
# npm registry at their pinned versions and checks their digests. Run it only to refresh them:
# the files are committed, so building never needs npm.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/crates/modelgates-mcp/dashboard/vendor"
version="4.6.2"
sha="3f288f4f26882c26b58931fb586a9b4f30370b5de38d69dc005b0bd05b08e113"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "chart.js@$version" --silent >/dev/null && tar xzf chart.js-*.tgz)
echo "$sha  $tmp/package/dist/chart.umd.min.js" | sha256sum -c -
cp "$tmp/package/dist/chart.umd.min.js" "$dest/chart.umd.min.js"
cp "$tmp/package/LICENSE.md" "$dest/chart.js-LICENSE.md"
echo "chart.js $version vendored into $dest"
