#!/usr/bin/env bash
# REST benchmarks (issue 13), against the release binary on loopback with `oha` (installed into
# target/tools by this script, from crates.io) as the load generator on the same machine:
#   1. GET /api/v1/workspaces/{slug}: throughput, keep-alive, BENCH_CONNECTIONS connections
#   2. the same read over MCP-over-HTTP (tools/call workspace_get in one session), for the ratio
#   3. GET /api/v1/workspaces/{slug} at a fixed BENCH_RATE requests/s for BENCH_FIXED_SECS, with
#      latency corrected for coordinated omission, and the server's RSS sampled every 5 s
#   4. POST /api/v1/workspaces (durable commits) from 200 concurrent clients, bodies with
#      (almost always) new slugs
# Prints one summary line per part. Not part of `cargo test`.
#   BENCH_SECS (20), BENCH_CONNECTIONS (32), BENCH_RATE (5000), BENCH_FIXED_SECS (60),
#   BENCH_CREATES (20000) change the shape.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
secs="${BENCH_SECS:-20}"
conns="${BENCH_CONNECTIONS:-32}"
rate="${BENCH_RATE:-5000}"
fixed="${BENCH_FIXED_SECS:-60}"
creates="${BENCH_CREATES:-20000}"

oha="$root/target/tools/bin/oha"
if [ ! -x "$oha" ]; then
  cargo install oha --version 1.16.0 --locked --root "$root/target/tools"
fi
cargo build --release --quiet
bin="$root/target/release/modelgates"

tmp="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
base="http://127.0.0.1:$port"
key="$("$bin" keys create --db "$tmp/bench.redb" --name bench --management 2>/dev/null)"
# 200 clients from one address: above the default per-address connection cap (128).
"$bin" serve --db "$tmp/bench.redb" --http "127.0.0.1:$port" --max-connections-per-ip 512 \
  2>"$tmp/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do
  curl -s -o /dev/null "$base/api/v1/openapi.json" -H "Authorization: Bearer $key" && break
  sleep 0.1
done
auth="Authorization: Bearer $key"
curl -s -o /dev/null -X POST "$base/api/v1/workspaces" -H "$auth" \
  -H 'Content-Type: application/json' -d '{"name":"Bench","slug":"bench"}'

summary() { # label, oha JSON file
  jq -r --arg l "$1" '"\($l): \(.summary.requestsPerSec|floor) req/s, success \(.summary.successRate*100|floor) %, p50 \(.latencyPercentiles.p50*1000*1000|floor/1000) ms, p99 \(.latencyPercentiles.p99*1000*1000|floor/1000) ms, p99.9 \(.latencyPercentiles["p99.9"]*1000*1000|floor/1000) ms, statuses \(.statusCodeDistribution|tostring)"' "$2"
}

# 1. REST read throughput.
"$oha" --no-tui --output-format json -z "${secs}s" -c "$conns" -H "$auth" \
  "$base/api/v1/workspaces/bench" >"$tmp/rest.json"
summary "REST GET /workspaces/bench, $conns connections, ${secs} s" "$tmp/rest.json"

# 2. The same read over MCP (one session; each POST answers one tools/call).
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}'
session="$(curl -s -D - -o /dev/null -X POST "$base/mcp" -H "$auth" \
  -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$init" \
  | tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}')"
mcp_headers=(-H "$auth" -H "Mcp-Session-Id: $session" -H 'Mcp-Protocol-Version: 2025-11-25'
  -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
curl -s -o /dev/null -X POST "$base/mcp" "${mcp_headers[@]}" \
  -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
call='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"workspace_get","arguments":{"id":"bench"}}}'
curl -s -X POST "$base/mcp" "${mcp_headers[@]}" -d "$call" | grep -q '"slug":"bench"' \
  || { echo "the MCP call did not answer the workspace" >&2; exit 1; }
"$oha" --no-tui --output-format json -z "${secs}s" -c "$conns" -m POST "${mcp_headers[@]}" \
  -d "$call" "$base/mcp" >"$tmp/mcp.json"
summary "MCP tools/call workspace_get, $conns connections, ${secs} s" "$tmp/mcp.json"
jq -rn --slurpfile r "$tmp/rest.json" --slurpfile m "$tmp/mcp.json" \
  '"REST / MCP throughput: \(($r[0].summary.requestsPerSec / $m[0].summary.requestsPerSec)*100|floor/100)x"'

# 3. Fixed rate, with the server's memory.
rss() { awk '/VmRSS/{print $2}' "/proc/$server/status"; }
(for _ in $(seq $((fixed / 5))); do rss; sleep 5; done) >"$tmp/rss" &
sampler=$!
"$oha" --no-tui --output-format json -z "${fixed}s" -c "$conns" -q "$rate" --latency-correction \
  -H "$auth" "$base/api/v1/workspaces/bench" >"$tmp/fixed.json"
wait $sampler || true
summary "REST GET at $rate req/s for ${fixed} s" "$tmp/fixed.json"
echo "server RSS (KiB, every 5 s): $(tr '\n' ' ' <"$tmp/rss")"

# 4. Durable creates from 200 clients. oha picks body lines at random, so the pool is 50 times
# larger than the number of requests: about 1 % of them repeat a slug (409, no commit).
seq $((creates * 50)) | awk '{printf "{\"name\":\"W%d\",\"slug\":\"w-%d\"}\n", $1, $1}' >"$tmp/bodies"
"$oha" --no-tui --output-format json -n "$creates" -c 200 -m POST -H "$auth" \
  -H 'Content-Type: application/json' -Z "$tmp/bodies" "$base/api/v1/workspaces" >"$tmp/create.json"
summary "REST POST /workspaces (durable), 200 clients, $creates creates" "$tmp/create.json"
