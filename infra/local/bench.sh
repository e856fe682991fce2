#!/usr/bin/env bash
# `make bench`: release binary size, init time and list latency of `properties`, and
# the fanned-out rent-roll sync of 100,000 units, against a private in-memory stack.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/lib.sh

cargo build --release --locked -p properties
trap 'stack_py down --name bench' EXIT
stack_up bench
# Request logs would be part of what is timed; keep only warnings.
RUST_LOG=warn cargo bench --locked -p doorstep-tests --bench properties

# The rent job and the overdue index, on their own stack.
bash infra/local/bench_financial.sh
# 100,000 units in 500 properties synced to a local sink, next to merely reading them.
RUST_LOG=warn cargo bench --locked -p doorstep-tests --bench rent_roll_sync

# Cost per request of every route (DynamoDB round trips, capacity, duration), in the
# debug build the API tests run in.
bash infra/local/bench_cost.sh
