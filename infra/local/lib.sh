# Shared by the local scripts: start a named stack and load its environment.
# Usage: source infra/local/lib.sh; stack_up NAME [stack.py up options...]

stack_py() { .local/venv/bin/python infra/local/stack.py "$@"; }

stack_up() {
  local name=$1; shift
  stack_py up --name "$name" "$@"
  # shellcheck disable=SC1090
  source ".local/$name/env"
}
