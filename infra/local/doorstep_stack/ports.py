"""Choosing the stack's ports: requested ones must be free, others are reused or picked."""

from __future__ import annotations

import socket
from typing import Any

from .config import HOST, StackError


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
