#!/usr/bin/env bash
# `make dev`: the local AWS stack (persisted), demo data, every function behind
# `cargo lambda watch` at http://localhost:9000, and the trigger runner that invokes
# them as template.yaml's schedules, rules, stream and queues would. Ctrl-C stops all of it.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/lib.sh

DEV_DDB_PORT=${DEV_DDB_PORT:-8000}
DEV_MOTO_PORT=${DEV_MOTO_PORT:-5050}
DEV_API_PORT=${DEV_API_PORT:-9000}
DEV_SMARTMOVE_PORT=${DEV_SMARTMOVE_PORT:-8095}
DEV_RENTSYNC_PORT=${DEV_RENTSYNC_PORT:-8096}

SANDBOX_PID=
RENTSYNC_PID=
trap 'stack_py down --name dev; [ -n "$SANDBOX_PID" ] && kill "$SANDBOX_PID" 2>/dev/null; [ -n "$RENTSYNC_PID" ] && kill "$RENTSYNC_PID" 2>/dev/null' EXIT
stack_up dev --ddb-port "$DEV_DDB_PORT" --moto-port "$DEV_MOTO_PORT" --persist
export RUST_LOG=${RUST_LOG:-info}

# The SmartMove sandbox: the screening function orders from it, and it posts status
# changes back to the postback receiver through the local API.
.local/venv/bin/python infra/local/smartmove_sandbox.py --port "$DEV_SMARTMOVE_PORT" \
  --api-key "$(PYTHONPATH=infra/local .local/venv/bin/python -c 'from doorstep_stack.config import LOCAL_SMARTMOVE_API_KEY as k; print(k)')" \
  --step-seconds "${SMARTMOVE_SANDBOX_STEP_SECONDS:-2}" &
SANDBOX_PID=$!
export SMARTMOVE_BASE_URL="http://127.0.0.1:${DEV_SMARTMOVE_PORT}"
export SMARTMOVE_POSTBACK_URI="http://127.0.0.1:${DEV_API_PORT}/webhooks/smartmove"

# The RentSync sandbox: the demo organization's rent roll is pushed to it (the seed
# configures the settings), with the API key it accepts.
RENTSYNC_SANDBOX_KEY="$(PYTHONPATH=infra/local .local/venv/bin/python -c 'from doorstep_stack.config import LOCAL_RENTSYNC_API_KEY as k; print(k)')"
.local/venv/bin/python infra/local/rentsync_sandbox.py --port "$DEV_RENTSYNC_PORT" --auth api_key \
  --secret "$RENTSYNC_SANDBOX_KEY" &
RENTSYNC_PID=$!
export RENTSYNC_SANDBOX_URL="http://127.0.0.1:${DEV_RENTSYNC_PORT}" RENTSYNC_SANDBOX_KEY

cargo run -q --locked -p doorstep-tests --bin doorstep-dev -- seed

cat <<MSG

Doorstep is starting on http://localhost:${DEV_API_PORT} (the first request compiles the functions).
  Sign in as the demo owner (other demo users: see README):
    TOKEN=\$(curl -s -X POST http://localhost:${DEV_API_PORT}/api/v1/identity/login \\
      -H 'Content-Type: application/json' \\
      -d '{"email":"owner@demo.doorstep.dev","password":"demo-owner-password"}' | jq -r .data.access_token)
  Try:
    curl -H "Authorization: Bearer \$TOKEN" http://localhost:${DEV_API_PORT}/api/v1/properties
Screenings are ordered from the SmartMove sandbox on http://127.0.0.1:${DEV_SMARTMOVE_PORT}, which posts
their progress to /webhooks/smartmove (see docs/screening.md).
The rent roll is pushed to the RentSync sandbox on http://127.0.0.1:${DEV_RENTSYNC_PORT}: run it now with
  make trigger NAME=RentRollSchedule, then see curl http://127.0.0.1:${DEV_RENTSYNC_PORT}/_sandbox/deliveries
  (docs/rent-roll.md shows a retry after an injected fault).
Scheduled jobs run on their schedules; fire one now with: make trigger NAME=<schedule or function>
Ctrl-C stops the API, the triggers and the local stack.

MSG
# Waits for `cargo lambda watch`, then logs one line per invocation; `down` (the trap) stops it.
stack_py triggers --name dev --invoke-port "$DEV_API_PORT" &
cargo lambda watch --invoke-port "$DEV_API_PORT"
