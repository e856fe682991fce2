#!/usr/bin/env bash
# Cost per request: the API test suite against a private stack, with every DynamoDB call
# asked for its consumed capacity (`DOORSTEP_MEASURE_DYNAMODB`), then the median per
# route over 2xx responses, priced per million requests (infra/local/cost_table.py).
# Then the rate limit's write cost per request (tests/benches/rate_limit_cost.rs).
# Debug build, like `make test`: durations overstate release ones.
# Usage: bash infra/local/bench_cost.sh [--before EARLIER.jsonl]
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/lib.sh

out=.local/bench
mkdir -p "$out"
measurements="$PWD/$out/cost.jsonl"
rm -f "$measurements"

cargo build --locked -p doorstep-tests --tests
trap 'stack_py down --name cost' EXIT
stack_up cost
# Failures are reported, not fatal: the table is over what did run.
RUST_LOG=warn DOORSTEP_MEASURE_DYNAMODB="$measurements" \
  cargo test --locked -p doorstep-tests --test api -- --quiet || echo "some API tests failed; the table covers what ran" >&2
.local/venv/bin/python infra/local/cost_table.py "$measurements" --out "$out/cost.md" "$@"
# The rate limit's write cost per request, one counter ADD each against batched.
{ echo; cargo test --locked -q -p doorstep-tests --bench rate_limit_cost; } | tee -a "$out/cost.md"
echo "cost table: $out/cost.md (measurements: $measurements)"
