#!/usr/bin/env bash
# Runs `cargo lambda watch` on a free port against the test stack's env, starts the
# trigger runner against it, drives the API through it with smoke.py, and the hosted
# sign-in page through it in headless Chromium with signin_browser.py. Stops
# everything it started.
set -euo pipefail
cd "$(dirname "$0")/../.."

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=.local/test/watch.log
mkdir -p .local/test
# Own process group, so the function processes it spawns stop with it.
setsid cargo lambda watch --invoke-port "$port" --ignore-changes >"$log" 2>&1 &
watch_pid=$!
stack_py() { .local/venv/bin/python infra/local/stack.py "$@"; }
trap 'stack_py triggers --name test --stop >/dev/null; kill -TERM -- -"$watch_pid" 2>/dev/null || true; wait "$watch_pid" 2>/dev/null || true' EXIT

for _ in $(seq 1 120); do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then break; fi
  if ! kill -0 "$watch_pid" 2>/dev/null; then echo "cargo lambda watch exited; see $log" >&2; exit 1; fi
  sleep 0.5
done

# template.yaml's triggers invoke their functions through the same endpoint.
stack_py triggers --name test --invoke-port "$port" --detach

# The demo users the smoke test signs in as.
cargo run -q --locked -p doorstep-tests --bin doorstep-dev -- seed >/dev/null
show_logs() {
  echo "--- $log" >&2; tail -50 "$log" >&2
  echo "--- .local/test/triggers.log" >&2; tail -20 .local/test/triggers.log >&2
  exit 1
}
# The webhook signing secret the local bootstrap put in the stack's Secrets Manager.
stripe_secret=$(PYTHONPATH=infra/local .local/venv/bin/python -c 'from doorstep_stack.config import LOCAL_STRIPE_WEBHOOK_SECRET as k; print(k)')
python3 infra/local/smoke.py "http://127.0.0.1:$port" "$stripe_secret" || show_logs
# The hosted sign-in and consent page, in headless Chromium (`make browser` installs it).
.local/venv/bin/python infra/local/signin_browser.py "http://127.0.0.1:$port" || show_logs
