"""One named stack's files under .local/NAME/: pids, logs, env file, recorded ports."""

from __future__ import annotations

import contextlib
import fcntl
import json
from pathlib import Path
from typing import Any, Iterator

from .config import HOST, LOCAL_DIR, NAME_RE, Credentials, Endpoints, StackError, aws_client
from .processes import process_alive, process_cmdline, stop_process_group
from .readiness import dynamodb_ready, http_answers


class Stack:
    """Paths and process bookkeeping for one named stack under .local/NAME/."""

    # service -> marker that must appear in the pid's command line, so a
    # recycled pid is never mistaken for (or killed as) one of ours.
    SERVICES = {"dynamodb": "DynamoDBLocal.jar", "moto": "moto_server"}
    # The trigger runner is optional (it needs `cargo lambda watch`), but stops with the stack.
    RUNNER = "triggers"
    MARKERS = {**SERVICES, RUNNER: "stack.py triggers"}

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
        if self.MARKERS[service] not in process_cmdline(pid):
            return None
        return pid

    def endpoints(self, state: dict[str, Any]) -> Endpoints:
        moto = f"http://{HOST}:{state['moto_port']}"
        return Endpoints(dynamodb=f"http://{HOST}:{state['ddb_port']}", eventbridge=moto, secretsmanager=moto, sqs=moto, s3=moto)

    def healthy_state(self) -> dict[str, Any] | None:
        """The recorded state if both processes are alive and answering, else None."""
        state = self.read_state()
        if state is None or any(self.running_pid(s) is None for s in self.SERVICES):
            return None
        ddb = aws_client("dynamodb", self.endpoints(state).dynamodb, Credentials.local(), probe=True)
        if dynamodb_ready(ddb) and http_answers(state["moto_port"]):
            return state
        return None

    def stop(self, service: str) -> bool:
        """Stop one service if it runs; whether it did."""
        pid = self.running_pid(service)
        if pid is not None:
            stop_process_group(pid)
        self.pid_file(service).unlink(missing_ok=True)
        return pid is not None

    def stop_all(self) -> None:
        for service in (self.RUNNER, *self.SERVICES):
            self.stop(service)
        # stack.json stays: it only counts together with live pids, and lets the
        # next `up` get the same ports back. A stale env would point at dead ports.
        self.env_file.unlink(missing_ok=True)
