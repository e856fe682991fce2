#!/usr/bin/env bash
# `make bench`: every function's release binary next to a minimal lambda_runtime function
# (init time, first and warm latency, peak RSS, size; the table goes to BENCHMARKS.md),
# then the rent job, the overdue index and the fanned-out rent-roll sync, each against a
# private in-memory stack.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/lib.sh

# Every function, the floor (hello-floor) and the harness, with the release profile.
cargo build --release --locked -p cold-start $(printf -- '-p %s ' $(ls functions))
trap 'stack_py down --name bench' EXIT
stack_up bench
# Request logs would be part of what is timed; keep only warnings. The 1,000 warm
# requests per function come from one credential (or none): limits above them keep them 200.
# Screening needs a SmartMove address to start; its measured request never calls it.
export SMARTMOVE_BASE_URL=http://127.0.0.1:9 SMARTMOVE_POSTBACK_URI=http://127.0.0.1:9/webhooks/smartmove
RUST_LOG=warn RATE_LIMITS=standard=1000000/60,anonymous=1000000/60 BENCH_MARKDOWN=BENCHMARKS.md \
  "${CARGO_TARGET_DIR:-target}/release/cold-start"

# The rent job and the overdue index, on their own stack.
bash infra/local/bench_financial.sh
# 100,000 units in 500 properties synced to a local sink, next to merely reading them.
RUST_LOG=warn cargo bench --locked -p doorstep-tests --bench rent_roll_sync

# Cost per request of every route (DynamoDB round trips, capacity, duration), in the
# debug build the API tests run in.
bash infra/local/bench_cost.sh
