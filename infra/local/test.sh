#!/usr/bin/env bash
# `make test` after lint: a private in-memory stack on free ports (so it never
# collides with `make dev`), all Rust tests, the trigger runner's tests, the OpenAPI
# validation, and a smoke test of the real Lambda path through `cargo lambda watch`.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/lib.sh

trap 'stack_py down --name test' EXIT
stack_up test

cargo test --workspace --locked --no-fail-fast

.local/venv/bin/python infra/local/tests/run.py

openapi-spec-validator openapi.json

bash infra/local/smoke.sh
