#!/usr/bin/env python3
"""A local RentSync: receives the rent-roll POSTs of the RentSync guide, checks their auth
and units, records them, and fails on request, for `make dev` (standard library only).

    python3 infra/local/rentsync_sandbox.py --port 8096 --auth api_key --secret KEY \
        [--client-id ID] [--sync-id-header X-Aigent-Sync-ID] [--reject-unit-code CODE ...]

Paths:
- `POST /v1/rent-roll/sync`: a delivery (the guide's §4.1 list, §4.2 nested or §4.3 flat
  body). It must carry the configured auth (`api_key`: `X-API-Key`; `bearer`:
  `Authorization: Bearer <secret>`; `static_token`: `Authorization: <secret>`;
  `oauth2_client_credentials`: a bearer token this sandbox issued and that is still
  valid; `hmac`: `X-Aigent-Timestamp` and `X-Aigent-Signature: sha256=<hex of
  HMAC-SHA256("<timestamp>.<body>")>` recomputed with the secret), else 401. Units
  missing `unit_id`, `unit_code` or a non-negative `base_rent`, or whose `unit_code` is
  one to reject, make it a 400 listing each such unit's errors (the guide's §8.8);
  otherwise 200 `{"status": "accepted", "units": N}`.
- `POST /oauth/token`: `grant_type=client_credentials` with the client id and secret in
  HTTP Basic auth (or the form); answers `{"access_token", "token_type", "expires_in"}`.
- `GET /_sandbox/deliveries`: every delivery received, oldest first (auth headers
  redacted); `DELETE` forgets them.
- `POST /_sandbox/faults`: `{"status": 503, "count": 2, "delay_seconds": 0,
  "retry_after": 60}` makes the next `count` deliveries answer `status` (after the
  delay, with `Retry-After` when given); `DELETE` clears the faults.
- `POST /_sandbox/tokens/revoke`: every token issued so far stops working.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import secrets
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

AUTH_MODES = ("api_key", "bearer", "static_token", "oauth2_client_credentials", "hmac")
SYNC_PATH = "/v1/rent-roll/sync"
TOKEN_PATH = "/oauth/token"
REDACTED = ("authorization", "x-api-key", "x-aigent-signature")


def log(message: str) -> None:
    print(f"rentsync-sandbox: {message}", file=sys.stderr, flush=True)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Sandbox:
    """The sandbox's state; every method is safe to call from the server's threads."""

    def __init__(
        self,
        auth: str,
        secret: str,
        client_id: str = "doorstep",
        sync_id_header: str = "X-Aigent-Sync-ID",
        reject_unit_codes: tuple[str, ...] = (),
        token_seconds: int = 3600,
    ) -> None:
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}")
        self.auth = auth
        self.secret = secret
        self.client_id = client_id
        self.sync_id_header = sync_id_header
        self.reject_unit_codes = set(reject_unit_codes)
        self.token_seconds = token_seconds
        self.lock = threading.Lock()
        self.deliveries: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.tokens: dict[str, float] = {}
        self.tokens_issued = 0

    # ---- auth

    def issue_token(self, headers: dict[str, str], form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(basic[6:].strip()).decode()
            except ValueError:
                return 401, {"error": "invalid_client"}
            client_id, _, client_secret = decoded.partition(":")
            client_id, client_secret = urllib.parse.unquote(client_id), urllib.parse.unquote(client_secret)
        if self.auth != "oauth2_client_credentials" or client_id != self.client_id or not compare(client_secret, self.secret):
            return 401, {"error": "invalid_client"}
        token = "rs_tok_" + secrets.token_hex(16)
        with self.lock:
            self.tokens[token] = time.time() + self.token_seconds
            self.tokens_issued += 1
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_seconds}

    def revoke_tokens(self) -> int:
        with self.lock:
            revoked = len(self.tokens)
            self.tokens.clear()
        return revoked

    def auth_problem(self, headers: dict[str, str], body: bytes) -> str | None:
        """Why the request's auth is refused, or None."""
        authorization = headers.get("authorization", "")
        if self.auth == "api_key":
            ok = compare(headers.get("x-api-key"), self.secret)
        elif self.auth == "bearer":
            ok = compare(authorization, f"Bearer {self.secret}")
        elif self.auth == "static_token":
            ok = compare(authorization, self.secret)
        elif self.auth == "oauth2_client_credentials":
            token = authorization[7:] if authorization.startswith("Bearer ") else ""
            with self.lock:
                expires = self.tokens.get(token)
            ok = expires is not None and expires > time.time()
        else:
            timestamp = headers.get("x-aigent-timestamp", "")
            if not timestamp.isdigit():
                return "X-Aigent-Timestamp is missing"
            if abs(time.time() - int(timestamp)) > 300:
                return "X-Aigent-Timestamp is more than 5 minutes off"
            mac = hmac.new(self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            ok = compare(headers.get("x-aigent-signature"), f"sha256={mac}")
        return None if ok else f"The {self.auth} credentials are missing or wrong"

    # ---- deliveries

    def take_fault(self) -> dict[str, Any] | None:
        with self.lock:
            if not self.faults:
                return None
            fault = self.faults[0]
            fault["count"] -= 1
            if fault["count"] <= 0:
                self.faults.pop(0)
            return dict(fault)

    def add_fault(self, spec: Any) -> tuple[int, Any]:
        if not isinstance(spec, dict):
            return 400, {"error": "Send a JSON object"}
        status, count = spec.get("status", 503), spec.get("count", 1)
        delay, retry_after = spec.get("delay_seconds", 0), spec.get("retry_after")
        if not isinstance(status, int) or not 200 <= status <= 599:
            return 400, {"error": "status must be an HTTP status code"}
        if not isinstance(count, int) or count < 1:
            return 400, {"error": "count must be a positive integer"}
        if not isinstance(delay, (int, float)) or not 0 <= delay <= 60:
            return 400, {"error": "delay_seconds must be 0 to 60"}
        if retry_after is not None and (not isinstance(retry_after, int) or retry_after < 0):
            return 400, {"error": "retry_after must be a number of seconds"}
        fault = {"status": status, "count": count, "delay_seconds": delay, "retry_after": retry_after}
        with self.lock:
            self.faults.append(fault)
            return 201, {"faults": list(self.faults)}

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def unit_errors(self, payload: Any) -> list[dict[str, Any]]:
        """The guide's §8.8 unit-level validation errors of a payload."""
        if isinstance(payload, list):
            units = payload
        elif isinstance(payload, dict) and isinstance(payload.get("units"), list):
            units = payload["units"]
        elif isinstance(payload, dict) and "unit_id" in payload:
            units = [payload]
        else:
            return [{"unit_id": None, "unit_code": None, "errors": [{"field": "units", "message": "No units"}]}]
        rejected = []
        for unit in units:
            if not isinstance(unit, dict):
                rejected.append({"unit_id": None, "unit_code": None, "errors": [{"field": "unit", "message": "Not an object"}]})
                continue
            errors = []
            if unit.get("unit_id") in (None, ""):
                errors.append({"field": "unit_id", "message": "Required"})
            code = unit.get("unit_code")
            if not isinstance(code, str) or not code:
                errors.append({"field": "unit_code", "message": "Required"})
            elif code in self.reject_unit_codes:
                errors.append({"field": "unit_code", "message": f"Unit {code} is not known to RentSync"})
            rent = unit.get("base_rent", (unit.get("pricing") or {}).get("base_rent"))
            if not isinstance(rent, (int, float)) or isinstance(rent, bool) or rent < 0:
                errors.append({"field": "base_rent", "message": "A non-negative number is required"})
            if errors:
                rejected.append({"unit_id": unit.get("unit_id"), "unit_code": code, "errors": errors})
        return rejected

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        """A delivery's answer: its status, JSON body and extra headers."""
        record: dict[str, Any] = {
            "received_at": now(),
            "path": path,
            "sync_id": headers.get(self.sync_id_header.lower()),
            "headers": {k: ("<redacted>" if k in REDACTED else v) for k, v in headers.items()},
        }
        fault = self.take_fault()
        problem = self.auth_problem(headers, body)
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            payload = None
        record["body"] = payload
        extra: dict[str, str] = {}
        if fault is not None:
            if fault["delay_seconds"]:
                time.sleep(fault["delay_seconds"])
            if fault["retry_after"] is not None:
                extra["Retry-After"] = str(fault["retry_after"])
            status, answer = fault["status"], {"error": "Injected fault"}
        elif problem is not None:
            status, answer = 401, {"error": "unauthorized", "message": problem}
        elif payload is None:
            status, answer = 400, {"error": "invalid_payload", "message": "The body is not JSON"}
        elif not record["sync_id"]:
            status, answer = 400, {"error": "invalid_payload", "message": f"{self.sync_id_header} is missing"}
        else:
            rejected = self.unit_errors(payload)
            if rejected:
                status, answer = 400, {"error": "validation_failed", "units": rejected}
            else:
                units = payload if isinstance(payload, list) else payload.get("units", [payload])
                status, answer = 200, {"status": "accepted", "sync_id": record["sync_id"], "units": len(units)}
        record["status"] = status
        record["answer"] = answer
        with self.lock:
            self.deliveries.append(record)
        log(f"delivery {record['sync_id']} -> {status}")
        return status, answer, extra

    def recorded(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.deliveries)

    def forget(self) -> None:
        with self.lock:
            self.deliveries.clear()


def compare(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def make_handler(sandbox: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "RentSyncSandbox/1"

        def log_message(self, fmt: str, *args: Any) -> None:
            log(f"{self.command} {self.path} {args[1] if len(args) > 1 else ''}")

        def answer(self, status: int, value: Any, extra: dict[str, str] | None = None) -> None:
            data = b"" if status == 204 else json.dumps(value).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            for name, header in (extra or {}).items():
                self.send_header(name, header)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def lower_headers(self) -> dict[str, str]:
            return {k.lower(): v for k, v in self.headers.items()}

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/_sandbox/deliveries":
                self.answer(200, {"deliveries": sandbox.recorded()})
            elif self.path == "/_sandbox/health":
                self.answer(200, {"status": "ok"})
            else:
                self.answer(404, {"error": "not_found"})

        def do_DELETE(self) -> None:  # noqa: N802
            if self.path == "/_sandbox/deliveries":
                sandbox.forget()
            elif self.path == "/_sandbox/faults":
                sandbox.clear_faults()
            else:
                self.answer(404, {"error": "not_found"})
                return
            self.answer(204, None)

        def do_POST(self) -> None:  # noqa: N802
            path = self.path.split("?")[0]
            body = self.body()
            if path == SYNC_PATH:
                self.answer(*sandbox.receive(path, self.lower_headers(), body))
            elif path == TOKEN_PATH:
                form = dict(urllib.parse.parse_qsl(body.decode(errors="replace")))
                self.answer(*sandbox.issue_token(self.lower_headers(), form))
            elif path == "/_sandbox/faults":
                try:
                    spec = json.loads(body or b"{}")
                except ValueError:
                    spec = None
                self.answer(*sandbox.add_fault(spec))
            elif path == "/_sandbox/tokens/revoke":
                self.answer(200, {"revoked": sandbox.revoke_tokens()})
            else:
                self.answer(404, {"error": "not_found"})

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8096)
    parser.add_argument("--auth", choices=AUTH_MODES, default="api_key")
    parser.add_argument("--secret", required=True, help="the key, static header value or OAuth client secret")
    parser.add_argument("--client-id", default="doorstep")
    parser.add_argument("--sync-id-header", default="X-Aigent-Sync-ID")
    parser.add_argument("--reject-unit-code", action="append", default=[])
    parser.add_argument("--token-seconds", type=int, default=3600)
    args = parser.parse_args()
    sandbox = Sandbox(
        args.auth, args.secret, args.client_id, args.sync_id_header, tuple(args.reject_unit_code), args.token_seconds
    )
    server = ThreadingHTTPServer((args.host, args.port), make_handler(sandbox))
    log(f"listening on http://{args.host}:{args.port} ({args.auth}) at {now()}")
    server.serve_forever()


if __name__ == "__main__":
    main()
