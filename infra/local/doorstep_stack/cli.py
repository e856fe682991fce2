"""The `stack.py` command line: up, down, env, bootstrap, rotate-keys."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .bootstrap import bootstrap
from .config import ENDPOINT_VARS, HOST, NAME_DEFAULTS, Credentials, Endpoints, Names, StackError, aws_client, rel, warn
from .keys import rotate_jwt_keys
from .ports import choose_ports
from .processes import find_dynamodb_local, find_java, find_moto_server, spawn, stop_process_group
from .readiness import wait_ready
from .state import Stack


def env_lines(endpoints: Endpoints, names: Names) -> list[str]:
    creds = Credentials.local()
    values = {
        "AWS_REGION": creds.region,
        "AWS_DEFAULT_REGION": creds.region,
        "AWS_ACCESS_KEY_ID": creds.access_key,
        "AWS_SECRET_ACCESS_KEY": creds.secret_key,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoints.dynamodb,
        "AWS_ENDPOINT_URL_EVENTBRIDGE": endpoints.eventbridge,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoints.secretsmanager,
        "TABLE_NAME": names.table,
        "EVENT_BUS_NAME": names.event_bus,
        "JWT_PUBLIC_KEYS_SECRET_ID": names.jwt_public_keys,
        "JWT_SIGNING_KEY_SECRET_ID": names.jwt_signing_key,
        "CURSOR_SECRET_ID": names.cursor,
    }
    return [f"export {key}={shlex.quote(value)}" for key, value in values.items()]


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def cmd_up(args: argparse.Namespace) -> None:
    stack = Stack(args.name)
    names = Names.resolve(stack.name)
    for var, pattern in NAME_DEFAULTS.items():
        if os.environ.get(var) and os.environ[var] != pattern.format(name=stack.name):
            warn(f"using {var}={os.environ[var]} from the environment")

    with stack.lock():
        state = stack.healthy_state()
        if state is not None:
            check_compatible(stack, state, args)
            verb = "reused"
        else:
            stack.stop_all()  # clears stale pid files and any half-running leftovers
            state = start(stack, args)
            verb = "started"

        endpoints = stack.endpoints(state)
        bootstrap(endpoints, names, Credentials.local())
        write_atomic(stack.env_file, "\n".join(env_lines(endpoints, names)) + "\n")

    mode = f"persisted in {rel(stack.ddb_data)}" if state["persist"] else "in-memory"
    print(
        f"stack {stack.name} {verb}: DynamoDB {endpoints.dynamodb} ({mode}), "
        f"moto {endpoints.eventbridge}; env: {rel(stack.env_file)}"
    )


def check_compatible(stack: Stack, state: dict[str, Any], args: argparse.Namespace) -> None:
    """A running stack is reused only if it matches what was asked for."""
    wanted = {"ddb_port": args.ddb_port, "moto_port": args.moto_port}
    for key, port in wanted.items():
        if port is not None and port != state[key]:
            raise StackError(f"stack {stack.name} is already up with {key}={state[key]}; run down first")
    if args.persist and not state["persist"]:
        raise StackError(f"stack {stack.name} is already up in-memory; run down first to use --persist")


def start(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    java, ddb_dir, moto_server = find_java(), find_dynamodb_local(), find_moto_server()
    ddb_port, moto_port = choose_ports(args.ddb_port, args.moto_port, stack.read_state())

    stack.dir.mkdir(parents=True, exist_ok=True)
    if args.persist:
        stack.ddb_data.mkdir(exist_ok=True)
        storage = ["-dbPath", str(stack.ddb_data)]
    else:
        storage = ["-inMemory"]
    ddb_cmd = [
        java,
        f"-Djava.library.path={ddb_dir / 'DynamoDBLocal_lib'}",
        "-jar",
        str(ddb_dir / "DynamoDBLocal.jar"),
        "-sharedDb",  # one database regardless of the client's region/credentials
        "-disableTelemetry",  # it would otherwise phone home on startup
        "-port",
        str(ddb_port),
        *storage,
    ]
    moto_cmd = [moto_server, "-H", HOST, "-p", str(moto_port)]

    pids = {
        "dynamodb": spawn(ddb_cmd, stack.log_file("dynamodb"), cwd=stack.dir),
        "moto": spawn(moto_cmd, stack.log_file("moto"), cwd=stack.dir),
    }
    for service, pid in pids.items():
        stack.pid_file(service).write_text(f"{pid}\n")
    state = {"ddb_port": ddb_port, "moto_port": moto_port, "persist": bool(args.persist)}
    try:
        wait_ready(stack, state, pids)
    except BaseException:
        # Don't leave half a stack behind. Signal the pids we just spawned
        # directly: their command line may not (yet) look like the real thing.
        for service, pid in pids.items():
            stop_process_group(pid)
            stack.pid_file(service).unlink(missing_ok=True)
        raise
    write_atomic(stack.state_file, json.dumps(state) + "\n")
    return state


def cmd_down(args: argparse.Namespace) -> None:
    stack = Stack(args.name)
    if not stack.dir.exists():
        print(f"stack {stack.name} is not running")
        return
    with stack.lock():
        was_running = any(stack.running_pid(s) is not None for s in stack.SERVICES)
        stack.stop_all()
    print(f"stack {stack.name} {'stopped' if was_running else 'is not running'}")


def cmd_env(args: argparse.Namespace) -> None:
    stack = Stack(args.name)
    if stack.healthy_state() is None or not stack.env_file.is_file():
        raise StackError(f"stack {stack.name} is not up (run: stack.py up --name {stack.name})")
    sys.stdout.write(stack.env_file.read_text())


def cmd_bootstrap(args: argparse.Namespace) -> None:
    missing = [v for v in ENDPOINT_VARS if not os.environ.get(v)]
    if missing:
        # Refuse rather than let boto3 fall back to real AWS endpoints.
        raise StackError(f"{', '.join(missing)} not set (source .local/NAME/env first)")
    endpoints = Endpoints(*(os.environ[v] for v in ENDPOINT_VARS))
    names = Names.resolve(args.name)
    outcome = bootstrap(endpoints, names, Credentials.from_env())
    print("bootstrap: " + ", ".join(f"{what} {result}" for what, result in outcome.items()))


def cmd_rotate_keys(args: argparse.Namespace) -> None:
    stack = Stack(args.name)
    state = stack.healthy_state()
    if state is None:
        raise StackError(f"stack {stack.name} is not up (run: stack.py up --name {stack.name})")
    endpoints = stack.endpoints(state)
    sm = aws_client("secretsmanager", endpoints.secretsmanager, Credentials.local())
    new_kid, previous_kid = rotate_jwt_keys(sm, Names.resolve(stack.name))
    print(
        f"stack {stack.name}: signing with {new_kid}; JWKS = {new_kid}"
        + (f" + {previous_kid} (previous)" if previous_kid else "")
        + "; restart running functions to load the new keys"
    )


def port_arg(value: str) -> int:
    port = int(value)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {value}")
    return port


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="stack.py", description="Local AWS stack for Doorstep.")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start (or reuse) a named stack and bootstrap it")
    up.add_argument("--name", required=True, help="stack name, e.g. dev or test")
    up.add_argument("--ddb-port", type=port_arg, help="DynamoDB Local port (default: a free port)")
    up.add_argument("--moto-port", type=port_arg, help="moto server port (default: a free port)")
    up.add_argument("--persist", action="store_true", help="keep DynamoDB data in .local/NAME/dynamodb")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop a named stack")
    down.add_argument("--name", required=True)
    down.set_defaults(func=cmd_down)

    env = sub.add_parser("env", help="print the env file of a running stack")
    env.add_argument("--name", required=True)
    env.set_defaults(func=cmd_env)

    boot = sub.add_parser("bootstrap", help="create table, bus and secrets at the endpoints in the environment")
    boot.add_argument("--name", help="stack name for default resource names whose env vars are unset")
    boot.set_defaults(func=cmd_bootstrap)
    rotate = sub.add_parser("rotate-keys", help="new JWT signing key; JWKS keeps the previous public key")
    rotate.add_argument("--name", required=True)
    rotate.set_defaults(func=cmd_rotate_keys)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        args.func(args)
    except StackError as exc:
        print(f"stack.py: error: {exc}", file=sys.stderr)
        return 1
    except ClientError as exc:
        err = exc.response.get("Error", {})
        message = f"{exc.operation_name}: {err.get('Code')}: {err.get('Message')}"
        print(f"stack.py: error: {message}", file=sys.stderr)
        return 1
    except BotoCoreError as exc:
        print(f"stack.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
