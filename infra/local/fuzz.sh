#!/usr/bin/env bash
# Fuzzes every operation of openapi.json with Schemathesis (settings: fuzz.toml, hooks:
# fuzz_hooks.py), signed in as the demo organization's owner, and fails on any check: a
# 5xx, a status the operation does not document, a content type, header or body that
# does not match the document. `make test` runs it after the smoke test, against the
# test stack; alone it starts (and stops) a stack of its own:
#   bash infra/local/fuzz.sh
# It serves the API with its own `cargo lambda watch` on a free port, with rate limits
# high enough that the run exercises the handlers rather than collecting 429s, and the
# SmartMove sandbox the screening routes order from.
# FUZZ_SEED=<n> picks the generated data (a fixed seed by default); FUZZ_MAX_EXAMPLES (examples per operation
# and phase), FUZZ_MAX_TIME (seconds of fuzzing) and FUZZ_WORKERS tune it. Reports (JUnit,
# NDJSON with every request) go to .local/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/lib.sh
export PATH="$PWD/.local/venv/bin:$PATH"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
local_value() { PYTHONPATH=infra/local .local/venv/bin/python -c "from doorstep_stack.config import $1 as k; print(k)"; }

watch_pid= sandbox_pid= own_stack=
cleanup() {
  [ -n "$watch_pid" ] && { kill -TERM -- -"$watch_pid" 2>/dev/null || true; wait "$watch_pid" 2>/dev/null || true; }
  [ -n "$sandbox_pid" ] && { kill "$sandbox_pid" 2>/dev/null || true; }
  [ -n "$own_stack" ] && stack_py down --name fuzz
  return 0
}
trap cleanup EXIT
if [ -z "${TABLE_NAME:-}" ]; then
  own_stack=1
  stack_up fuzz
fi

report=.local/fuzz
rm -rf "$report" && mkdir -p "$report"
port=$(free_port)
smartmove_port=$(free_port)
base="http://127.0.0.1:$port"

.local/venv/bin/python infra/local/smartmove_sandbox.py --port "$smartmove_port" \
  --api-key "$(local_value LOCAL_SMARTMOVE_API_KEY)" >"$report/smartmove.log" 2>&1 &
sandbox_pid=$!

# Own process group, so the function processes it spawns stop with it.
SMARTMOVE_BASE_URL="http://127.0.0.1:$smartmove_port" SMARTMOVE_POSTBACK_URI="$base/webhooks/smartmove" \
  RATE_LIMITS=standard=1000000/60,premium=1000000/60,enterprise=1000000/60,anonymous=1000000/60 \
  setsid cargo lambda watch --invoke-port "$port" --ignore-changes >"$report/watch.log" 2>&1 &
watch_pid=$!
for _ in $(seq 1 120); do
  if curl -s -o /dev/null "$base/"; then break; fi
  if ! kill -0 "$watch_pid" 2>/dev/null; then echo "cargo lambda watch exited; see $report/watch.log" >&2; exit 1; fi
  sleep 0.5
done

cargo run -q --locked -p doorstep-tests --bin doorstep-dev -- seed >/dev/null
DOORSTEP_FUZZ_TOKEN=$(.local/venv/bin/python infra/local/fuzz_credentials.py "$base")
export DOORSTEP_FUZZ_TOKEN

# A fixed seed by default, so `make test` sends the same data each time; FUZZ_SEED=$RANDOM
# explores new data.
seed=${FUZZ_SEED:-301239562}
echo "fuzz: Schemathesis against $base, seed $seed (FUZZ_SEED=$seed bash infra/local/fuzz.sh repeats it)"
set +e
timeout --kill-after=10 "${FUZZ_TIMEOUT:-240}" \
  .local/venv/bin/schemathesis --config-file infra/local/fuzz.toml run openapi.json \
    --url "$base" --seed "$seed" --workers "${FUZZ_WORKERS:-4}" \
    --max-examples "${FUZZ_MAX_EXAMPLES:-8}" --max-time "${FUZZ_MAX_TIME:-150}" \
    --no-color --report junit,ndjson --report-dir "$report" 2>&1 | tee "$report/run.log"
status=${PIPESTATUS[0]}
set -e
.local/venv/bin/python infra/local/fuzz_counts.py "$report" || true
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then echo "fuzz: timed out after ${FUZZ_TIMEOUT:-240}s" >&2; fi
if [ "$status" -ne 0 ]; then
  echo "fuzz: failed (exit $status); the full output is in $report/run.log, the function logs in $report/watch.log" >&2
fi
exit "$status"
