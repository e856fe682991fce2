"""The `stack.py` command line: up, down, env, bootstrap, rotate-keys, triggers, trigger."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .bootstrap import bootstrap
from .config import (
    ENDPOINT_VARS, HOST, NAME_DEFAULTS, TEMPLATE, Credentials, Endpoints, Names, StackError, aws_client, rel, warn,
)
from .keys import rotate_jwt_keys
from .payloads import ACCOUNT
from .ports import choose_ports
from .processes import find_dynamodb_local, find_java, find_moto_server, process_alive, spawn, stop_process_group
from .readiness import wait_ready
from .runner import Invoker, Runner, log, wait_for_port
from .state import Stack
from .template import load_template
from .triggers import parse_triggers

RUNNER_READY_TIMEOUT_S = 60.0


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
        "AWS_ENDPOINT_URL_SQS": endpoints.sqs,
        "AWS_ENDPOINT_URL_S3": endpoints.s3,
        "TABLE_NAME": names.table,
        "EVENT_BUS_NAME": names.event_bus,
        "JWT_PUBLIC_KEYS_SECRET_ID": names.jwt_public_keys,
        "JWT_SIGNING_KEY_SECRET_ID": names.jwt_signing_key,
        "CURSOR_SECRET_ID": names.cursor,
        "SMARTMOVE_API_KEY_SECRET_ID": names.smartmove_api_key,
        "STRIPE_WEBHOOK_SECRET_ID": names.stripe_webhook_secret,
        "ATTACHMENTS_BUCKET": names.attachments_bucket,
        # Local subscribers listen on this machine: allow http and private addresses.
        "WEBHOOKS_ALLOW_PRIVATE_URLS": "true",
        # The RentSync sandbox listens on this machine too.
        "RENTSYNC_ALLOW_PRIVATE_URLS": "true",
        "RENTSYNC_SECRET_PREFIX": names.rentsync_secret_prefix,
        # The rent-roll work queue (template.yaml's RentRollWorkQueue, doorstep-${Stage}-rent-roll-work),
        # which the trigger runner creates in moto and polls.
        "RENT_ROLL_QUEUE_URL": f"{endpoints.sqs}/{ACCOUNT}/{names.table}-rent-roll-work",
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
    # Only the runner uses SQS, only attachments S3; moto (the EventBridge endpoint) serves
    # both unless told otherwise.
    moto = os.environ["AWS_ENDPOINT_URL_EVENTBRIDGE"]
    sqs = os.environ.get("AWS_ENDPOINT_URL_SQS") or moto
    s3 = os.environ.get("AWS_ENDPOINT_URL_S3") or moto
    endpoints = Endpoints(*(os.environ[v] for v in ENDPOINT_VARS), sqs=sqs, s3=s3)
    names = Names.resolve(args.name)
    outcome = bootstrap(endpoints, names, Credentials.from_env())
    print("bootstrap: " + ", ".join(f"{what} {result}" for what, result in outcome.items()))


def cmd_rotate_keys(args: argparse.Namespace) -> None:
    stack = Stack(args.name)
    endpoints = stack.endpoints(up_stack(stack))
    sm = aws_client("secretsmanager", endpoints.secretsmanager, Credentials.local())
    new_kid, previous_kid = rotate_jwt_keys(sm, Names.resolve(stack.name))
    print(
        f"stack {stack.name}: signing with {new_kid}; JWKS = {new_kid}"
        + (f" + {previous_kid} (previous)" if previous_kid else "")
        + "; restart running functions to load the new keys"
    )


def up_stack(stack: Stack) -> dict[str, Any]:
    state = stack.healthy_state()
    if state is None:
        raise StackError(f"stack {stack.name} is not up (run: stack.py up --name {stack.name})")
    return state


def cmd_triggers(args: argparse.Namespace) -> None:
    stack = Stack(args.name)
    if args.stop:
        stopped = stack.stop(Stack.RUNNER)
        print(f"triggers of stack {stack.name} {'stopped' if stopped else 'were not running'}")
        return
    if args.invoke_port is None:
        raise StackError("--invoke-port is required (the port of `cargo lambda watch`)")
    up_stack(stack)
    if stack.running_pid(Stack.RUNNER) is not None:
        raise StackError(f"the triggers of stack {stack.name} are already running")
    if args.detach:
        start_runner_detached(stack, args.invoke_port, args.template)
    else:
        serve_triggers(stack, args.invoke_port, args.template)


def start_runner_detached(stack: Stack, invoke_port: int, template: Path) -> None:
    """The runner in the background, logging to .local/NAME/triggers.log; returns once it is set up."""
    ready = stack.dir / "triggers.ready"
    ready.unlink(missing_ok=True)
    script = Path(__file__).resolve().parents[1] / "stack.py"
    cmd = [sys.executable, str(script), "triggers", "--name", stack.name, "--invoke-port", str(invoke_port),
           "--template", str(template.resolve())]
    pid = spawn(cmd, stack.log_file(Stack.RUNNER), cwd=Path.cwd())
    deadline = time.monotonic() + RUNNER_READY_TIMEOUT_S
    while not ready.exists():
        if not process_alive(pid) or time.monotonic() > deadline:
            stop_process_group(pid)
            raise StackError(f"the trigger runner did not start; see {rel(stack.log_file(Stack.RUNNER))}")
        time.sleep(0.1)
    print(f"triggers of stack {stack.name} running ({ready.read_text().strip()}); log: {rel(stack.log_file(Stack.RUNNER))}")


def serve_triggers(stack: Stack, invoke_port: int, template: Path) -> None:
    """Run the trigger runner in the foreground until SIGTERM/SIGINT (or `stack.py down`)."""
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)  # its own group, so `down` stops it even when started with `&`
    stack.pid_file(Stack.RUNNER).write_text(f"{os.getpid()}\n")
    ready = stack.dir / "triggers.ready"
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        runner = build_runner(stack, invoke_port, stop, template)
        if not wait_for_port(invoke_port, stop):
            return
        runner.set_up()
        summary = runner.describe()
        write_atomic(ready, summary + "\n")
        log(f"invoking through http://{HOST}:{invoke_port}: {summary} from {rel(template)}")
        runner.run()
    finally:
        ready.unlink(missing_ok=True)
        stack.pid_file(Stack.RUNNER).unlink(missing_ok=True)


def build_runner(stack: Stack, invoke_port: int, stop: threading.Event, template: Path) -> Runner:
    endpoints = stack.endpoints(up_stack(stack))
    creds, names = Credentials.local(), Names.resolve(stack.name)
    clients = {
        "dynamodb": aws_client("dynamodb", endpoints.dynamodb, creds),
        "dynamodbstreams": aws_client("dynamodbstreams", endpoints.dynamodb, creds),
        "sqs": aws_client("sqs", endpoints.sqs, creds),
        "events": aws_client("events", endpoints.eventbridge, creds),
    }
    triggers = parse_triggers(load_template(str(template)))
    return Runner(
        triggers,
        stack_name=stack.name,
        names={"Table": names.table, "EventBus": names.event_bus},
        clients=clients,
        invoker=Invoker(invoke_port),
        region=creds.region,
        stop=stop,
    )


def cmd_trigger(args: argparse.Namespace) -> None:
    stack = Stack(args.name)
    up_stack(stack)
    runner = build_runner(stack, args.invoke_port, threading.Event(), args.template)
    schedules = runner.triggers.schedules_named(args.trigger)
    if not schedules:
        known = sorted({s.name for s in runner.triggers.schedules} | {s.target.function for s in runner.triggers.schedules})
        raise StackError(f"no schedule or scheduled function named {args.trigger!r} in {rel(args.template)}; "
                         f"known: {', '.join(known) or 'none'}")
    failed = [s for s in schedules if not runner.fire(s, datetime.now(timezone.utc)).ok]
    if failed:
        raise StackError(f"{len(failed)} of {len(schedules)} invocations failed")


def port_arg(value: str) -> int:
    port = int(value)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {value}")
    return port


def runner_parser(sub: Any, command: str, help_text: str, port_required: bool) -> argparse.ArgumentParser:
    parser = sub.add_parser(command, help=help_text)
    parser.add_argument("--name", required=True)
    parser.add_argument("--invoke-port", type=port_arg, required=port_required, help="port of `cargo lambda watch`")
    parser.add_argument("--template", type=Path, default=TEMPLATE, help="SAM template to read (default: template.yaml)")
    return parser


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

    triggers = runner_parser(sub, "triggers", "invoke functions as template.yaml's schedules, rules, stream and queues would", False)
    mode = triggers.add_mutually_exclusive_group()
    mode.add_argument("--detach", action="store_true", help="run in the background; `down` or --stop stops it")
    mode.add_argument("--stop", action="store_true", help="stop a detached runner")
    triggers.set_defaults(func=cmd_triggers)

    fire = runner_parser(sub, "trigger", "fire a schedule now, by its logical id or its function's", True)
    fire.add_argument("trigger", help="logical id of the schedule event or of its function")
    fire.set_defaults(func=cmd_trigger)
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
