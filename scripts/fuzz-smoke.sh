#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS (default 60) each. Skips, with a message and exit 0,
# where the fuzz toolchain (rustup's nightly + cargo-fuzz) is not installed; install it with
#   rustup toolchain install nightly && cargo +nightly install cargo-fuzz --locked
# Long campaigns: cd fuzz && cargo +nightly fuzz run <target> -O -- -max_total_time=3600 -jobs=2
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz smoke: skipped (no nightly toolchain with cargo-fuzz on this machine)"
  exit 0
fi
cd "$root/fuzz"
cargo +nightly fuzz build -O
for target in $(cargo +nightly fuzz list); do
  echo "fuzz smoke: $target for ${seconds}s"
  cargo +nightly fuzz run "$target" -O -- -max_total_time="$seconds" -max_len=4096 2>&1 \
    | grep -E "^Done|ERROR|panicked|SUMMARY" || true
  # cargo fuzz exits non-zero on a crash; re-check that no crash artifact was written.
  if compgen -G "artifacts/$target/crash-*" >/dev/null; then
    echo "fuzz smoke: $target crashed; inputs in fuzz/artifacts/$target/"
    exit 1
  fi
done
