"""Starting, finding and stopping the stack's processes, each in its own process group."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .config import DDB_GLOB, REPO_ROOT, StackError

STOP_GRACE_S = 5.0


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
