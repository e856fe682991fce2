"""Waiting until DynamoDB Local and moto answer."""

from __future__ import annotations

import http.client
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from .config import HOST, Credentials, StackError, aws_client, rel
from .processes import process_alive

if TYPE_CHECKING:
    from .state import Stack

READY_TIMEOUT_S = 60.0


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
