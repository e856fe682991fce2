"""The RentSync sandbox checks each auth mode the way Doorstep sends it, reports unit-level
errors, records deliveries and fails on request."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from http.server import ThreadingHTTPServer
from typing import Any

import rentsync_sandbox as sandbox_module

SECRET = "rs-sandbox-secret"
NESTED = {
    "sync_metadata": {"sync_id": "sync-2026-11-22-02-00-00", "sync_timestamp": "2026-11-22T02:00:00Z", "source": "doorstep"},
    "property": {"project_id": "prop_1", "project_name": "Sunset Apartments", "address": "123 Main St"},
    "units": [
        {"unit_id": "unit_1", "unit_code": "101", "status_name": "Available", "is_available": True, "base_rent": 1500.0},
        {"unit_id": "unit_2", "unit_code": "102", "status_name": "Rented", "is_available": False, "base_rent": 2100.0},
    ],
}


class Running:
    """A sandbox on a free port for one test."""

    def __init__(self, auth: str, **options: Any) -> None:
        self.sandbox = sandbox_module.Sandbox(auth, SECRET, **options)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), sandbox_module.make_handler(self.sandbox))
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        request = urllib.request.Request(self.base_url + path, data=body, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, data, answered = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, data, answered = error.code, error.read(), dict(error.headers)
        return status, json.loads(data) if data else None, answered

    def deliver(self, payload: Any, auth: dict[str, str], sync_id: str = "sync-1") -> tuple[int, Any, dict[str, str]]:
        headers = {"Content-Type": "application/json", "X-Aigent-Sync-ID": sync_id, **auth}
        return self.call("POST", "/v1/rent-roll/sync", json.dumps(payload).encode(), headers)


class RentSyncSandboxTest(unittest.TestCase):
    def start(self, auth: str, **options: Any) -> Running:
        running = Running(auth, **options)
        self.addCleanup(running.stop)
        return running

    def test_each_auth_mode_accepts_its_credentials_and_refuses_others(self) -> None:
        cases = {
            "api_key": {"X-API-Key": SECRET},
            "bearer": {"Authorization": f"Bearer {SECRET}"},
            "static_token": {"Authorization": SECRET},
        }
        for mode, good in cases.items():
            running = self.start(mode)
            self.assertEqual(running.deliver(NESTED, good)[0], 200, mode)
            status, answer, _ = running.deliver(NESTED, {"X-API-Key": "wrong", "Authorization": "Bearer wrong"})
            self.assertEqual(status, 401, mode)
            self.assertEqual(answer["error"], "unauthorized")

    def test_an_hmac_signature_is_recomputed(self) -> None:
        running = self.start("hmac")
        body = json.dumps(NESTED).encode()
        timestamp = str(int(time.time()))
        signature = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Aigent-Sync-ID": "s", "X-Aigent-Timestamp": timestamp}
        ok = running.call("POST", "/v1/rent-roll/sync", body, {**headers, "X-Aigent-Signature": f"sha256={signature}"})
        self.assertEqual(ok[0], 200)
        tampered = running.call("POST", "/v1/rent-roll/sync", body + b" ", {**headers, "X-Aigent-Signature": f"sha256={signature}"})
        self.assertEqual(tampered[0], 401)

    def test_oauth_tokens_are_issued_to_the_client_and_revocable(self) -> None:
        running = self.start("oauth2_client_credentials", client_id="doorstep")
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "rent-roll"}).encode()
        basic = base64.b64encode(f"doorstep:{SECRET}".encode()).decode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"}
        status, token, _ = running.call("POST", "/oauth/token", form, headers)
        self.assertEqual(status, 200)
        self.assertEqual((token["token_type"], token["expires_in"]), ("Bearer", 3600))
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        self.assertEqual(running.deliver(NESTED, bearer)[0], 200)
        wrong = base64.b64encode(b"doorstep:nope").decode()
        self.assertEqual(running.call("POST", "/oauth/token", form, {**headers, "Authorization": f"Basic {wrong}"})[0], 401)
        self.assertEqual(running.call("POST", "/_sandbox/tokens/revoke")[1], {"revoked": 1})
        self.assertEqual(running.deliver(NESTED, bearer)[0], 401)

    def test_a_rejected_unit_gets_unit_level_errors(self) -> None:
        running = self.start("api_key", reject_unit_codes=("102",))
        flat = {"sync_timestamp": "2026-11-22T02:00:00Z", "units": [
            {"property_id": "prop_1", "unit_id": "unit_1", "unit_code": "101", "base_rent": 1500.0},
            {"property_id": "prop_1", "unit_id": "unit_2", "unit_code": "102", "base_rent": 2100.0},
            {"property_id": "prop_1", "unit_id": "unit_3", "unit_code": "103", "base_rent": -1},
        ]}
        status, answer, _ = running.deliver(flat, {"X-API-Key": SECRET})
        self.assertEqual(status, 400)
        self.assertEqual(answer["error"], "validation_failed")
        self.assertEqual([(u["unit_code"], [e["field"] for e in u["errors"]]) for u in answer["units"]],
                         [("102", ["unit_code"]), ("103", ["base_rent"])])

    def test_faults_answer_their_status_with_retry_after_then_stop(self) -> None:
        running = self.start("api_key")
        fault = json.dumps({"status": 503, "count": 2, "retry_after": 120}).encode()
        self.assertEqual(running.call("POST", "/_sandbox/faults", fault, {"Content-Type": "application/json"})[0], 201)
        first = running.deliver(NESTED, {"X-API-Key": SECRET}, "sync-a")
        second = running.deliver(NESTED, {"X-API-Key": SECRET}, "sync-a")
        third = running.deliver(NESTED, {"X-API-Key": SECRET}, "sync-a")
        self.assertEqual([first[0], second[0], third[0]], [503, 503, 200])
        self.assertEqual(first[2].get("Retry-After"), "120")
        self.assertEqual(running.call("POST", "/_sandbox/faults", b'{"status": 42}')[0], 400)

        status, recorded, _ = running.call("GET", "/_sandbox/deliveries")
        self.assertEqual(status, 200)
        deliveries = recorded["deliveries"]
        self.assertEqual([d["status"] for d in deliveries], [503, 503, 200])
        self.assertEqual({d["sync_id"] for d in deliveries}, {"sync-a"})
        self.assertEqual(deliveries[2]["body"]["units"][0]["unit_code"], "101")
        self.assertEqual(deliveries[2]["headers"]["x-api-key"], "<redacted>")
        self.assertEqual(running.call("DELETE", "/_sandbox/deliveries")[0], 204)
        self.assertEqual(running.call("GET", "/_sandbox/deliveries")[1], {"deliveries": []})

    def test_a_configured_sync_id_header_is_required(self) -> None:
        running = self.start("api_key", sync_id_header="X-RentSync-Run")
        body = json.dumps(NESTED).encode()
        missing = running.call("POST", "/v1/rent-roll/sync", body, {"X-API-Key": SECRET, "X-Aigent-Sync-ID": "s"})
        self.assertEqual(missing[0], 400)
        named = running.call("POST", "/v1/rent-roll/sync", body, {"X-API-Key": SECRET, "X-RentSync-Run": "s"})
        self.assertEqual(named[0], 200)


if __name__ == "__main__":
    unittest.main()
