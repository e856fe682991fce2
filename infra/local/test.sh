#!/usr/bin/env bash
# `make test` after lint: a private in-memory stack on free ports (so it never
# collides with `make dev`), all Rust tests, the trigger runner's tests, the OpenAPI
# validation, and a smoke test of the real Lambda path through `cargo lambda watch`,
# with the hosted sign-in page driven in headless Chromium, and a fuzz run of every
# operation of the OpenAPI document (fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/lib.sh

# Checked first, so a missing browser does not surface only after the Rust tests.
command -v chromium >/dev/null && command -v chromedriver >/dev/null || {
  echo "The sign-in page test needs Debian's chromium and chromium-driver: run 'make browser' (as root)" >&2
  exit 1
}

trap 'stack_py down --name test' EXIT
stack_up test

cargo test --workspace --locked --no-fail-fast

.local/venv/bin/python infra/local/tests/run.py

openapi-spec-validator openapi.json

bash infra/local/smoke.sh

# Every operation of openapi.json fuzzed with Schemathesis, signed in as the demo owner.
bash infra/local/fuzz.sh
