#!/usr/bin/env bash
# The rent job over 10,000 leases and GET /api/ai/renters/overdue over 10,000 renters
# (500 overdue), against a private in-memory stack. Part of `make bench`; on its own:
# `bash infra/local/bench_financial.sh`. Built with the dev profile (no release build):
# DynamoDB Local's round trips dominate the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/lib.sh

trap 'stack_py down --name bench-financial' EXIT
stack_up bench-financial
# Request logs would be part of what is timed; keep only warnings.
RUST_LOG=warn cargo bench --locked --profile dev -p doorstep-tests --bench financial
