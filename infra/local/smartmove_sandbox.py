#!/usr/bin/env python3
"""A local SmartMove API: the endpoints, models and answers of the SmartMove API, with
state and scripted progress, for `make dev` (standard library only).

Every call is a POST of JSON to /api/smartmove/... at the root, with `x-apiKey`.
`application/create` and `application/reportUrl` answer a bare JSON string (a URL),
`application/report/status` a bare JSON string such as "Pending"; a refusal is a 400
with {"Message": ...}. After an order is placed (embedded at once; a link order when
its link is opened), each applicant "accepts" and then "completes", and the report
becomes Ready; each step is posted to the order's postbackUri with
`Authorization: base64(username):base64(password)`.

    python3 infra/local/smartmove_sandbox.py --port 8095 --api-key KEY [--step-seconds 1]
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import sys
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LIMITS = {
    "LandlordFirstName": 50, "LandlordLastName": 50, "LandlordStreetAddressLineOne": 100,
    "LandlordStreetAddressLineTwo": 100, "LandlordCity": 100, "LandlordState": 2, "LandlordZip": 5,
    "LandlordPhoneNumber": 15, "LandlordPhoneExtension": 6, "LandlordEmail": 100, "UnitNumber": 50,
    "Street": 100, "PropertyName": 50, "City": 50, "State": 2, "Zip": 5,
}
EMBEDDED_REQUIRED = [
    "LandlordFirstName", "LandlordLastName", "LandlordStreetAddressLineOne", "LandlordCity", "LandlordState",
    "LandlordZip", "LandlordPhoneNumber", "LandlordEmail", "UnitNumber", "Street", "PropertyName", "City",
    "State", "Zip", "Classification",
]
CARD_FIELDS = {"firstName": 50, "lastName": 50, "cardNumber": 16, "cardSecurity": 5, "expireMonth": 2, "expireYear": 4}


class Refused(Exception):
    """Answered as a 400 with SmartMove's {"Message": ...}."""


def log(message: str) -> None:
    print(f"smartmove-sandbox: {message}", file=sys.stderr, flush=True)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-4]


class Sandbox:
    def __init__(self, base_url: str, step_seconds: float) -> None:
        self.base_url = base_url
        self.step_seconds = step_seconds
        self.lock = threading.Lock()
        self.applications: dict[int, dict[str, Any]] = {}
        self.links: dict[str, int] = {}
        self.next_id = 100001

    # ------------------------------------------------------------ orders

    def order(self, body: dict[str, Any], embedded: bool) -> Any:
        customer = body.get("Customer") or {}
        reference = customer.get("referenceId")
        if not isinstance(reference, str) or not reference or len(reference) > 100:
            raise Refused("Customer.referenceId is required (at most 100 characters)")
        if body.get("Product", "PackageCorePlusEviction") != "PackageCorePlusEviction":
            raise Refused("Product must be PackageCorePlusEviction")
        application = body.get("Application") or {}
        prop = body.get("Property") or {}
        params = body.get("RequestParameters") or {}
        for name, limit in LIMITS.items():
            value = prop.get(name)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                raise Refused(f"Property.{name} must be a string of at most {limit} characters")
        if prop.get("Classification") not in (None, "Conventional", "Subsidized"):
            raise Refused("Property.Classification must be Conventional or Subsidized")
        applicants = application.get("Applicants") or []
        if application.get("declineForOpenBankruptcies") and not 6 <= int(application.get("openBankruptcyWindow") or 0) <= 120:
            raise Refused("openBankruptcyWindow must be between 6 and 120")
        landlord_pays = bool(application.get("LandlordPays"))
        if embedded:
            if not applicants:
                raise Refused("Application.Applicants is required")
            missing = [name for name in EMBEDDED_REQUIRED if not prop.get(name)]
            if missing:
                raise Refused(f"Property.{missing[0]} is required")
            if prop.get("IsFcraAgreementAccepted") is not True:
                raise Refused("The FCRA agreement must be accepted")
            if landlord_pays:
                card = body.get("CreditCard") or {}
                for name, limit in CARD_FIELDS.items():
                    value = card.get(name)
                    if not isinstance(value, str) or not value or len(value) > limit:
                        raise Refused(f"CreditCard.{name} is invalid")
                if card.get("cardType") not in ("visa", "amex", "discover", "mastercard"):
                    raise Refused("CreditCard.cardType is invalid")
        with self.lock:
            app_id = self.next_id
            self.next_id += 1
            created = datetime.now(timezone.utc)
            self.applications[app_id] = {
                "id": app_id,
                "reference": reference,
                "landlord_pays": landlord_pays,
                "property": prop,
                "params": params,
                "status": "Active" if embedded else "Pending",
                "report": "Pending",
                "recommendation": 6,
                "created": created,
                "applicants": [self.applicant(email, created) for email in applicants],
                "placed": embedded,
            }
        if embedded:
            self.start(app_id)
            return app_id
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.links[token] = app_id
        return f"{self.base_url}/smartmove/api/create/{token}"

    @staticmethod
    def applicant(email: str, created: datetime) -> dict[str, Any]:
        return {"email": email, "status": "NoActivity", "created": created}

    def open_link(self, token: str) -> int | None:
        with self.lock:
            app_id = self.links.pop(token, None)
            if app_id is None:
                return None
            self.applications[app_id]["placed"] = True
            self.applications[app_id]["status"] = "Active"
        self.start(app_id)
        return app_id

    # ------------------------------------------------------------ reads and changes

    def find(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            app_id = int(body.get("applicationId"))
        except (TypeError, ValueError):
            raise Refused("applicationId is required") from None
        app = self.applications.get(app_id)
        if app is None or str(body.get("referenceId")) != app["reference"]:
            raise Refused("Application not found")
        return app

    def details(self, app: dict[str, Any]) -> dict[str, Any]:
        return {
            "ApplicationId": app["id"],
            "LandlordPays": app["landlord_pays"],
            "Property": self.property_view(app),
            "Status": app["status"],
            "Applicants": [
                {
                    "AccountId": 0,
                    "FirstName": a["email"].split("@")[0].split(".")[0].capitalize(),
                    "LastName": "Applicant",
                    "MiddleName": None,
                    "EmailAddress": a["email"],
                    "EmploymentIncome": 0,
                    "EmploymentIncomePeriod": 1,
                    "EmploymentStatus": "Employed",
                    "OtherIncome": 0,
                    "OtherIncomePeriod": 1,
                    "RequestCreatedDate": a["created"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-4],
                    "RequestExpirationDate": (a["created"] + timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-4],
                    "ApplicantStatus": a["status"],
                    "Assets": 0,
                    "CreditReport": None,
                    "CriminalRecords": None,
                    "EvictionRecords": None,
                    "ExtraElements": None,
                    "ParsingErrors": None,
                }
                for a in app["applicants"]
            ],
            "CreditRecommendation": app["recommendation"],
            "CreditRecommendationPolicyText": ["Unavailable", "Accept", "Low Accept", "Conditional", "Decline", "Refer", "Pending"][app["recommendation"]],
            "SelectedBundle": 0,
        }

    def property_view(self, app: dict[str, Any]) -> dict[str, Any]:
        prop = app["property"]
        return {
            "PropertyId": app["id"] * 10,
            "Name": prop.get("PropertyName"),
            "PropertyIdentifier": prop.get("Street"),
            "UnitNumber": prop.get("UnitNumber"),
            "Street": prop.get("Street"),
            "City": prop.get("City"),
            "State": prop.get("State"),
            "Zip": prop.get("Zip"),
        }

    def summary(self, app: dict[str, Any]) -> dict[str, Any]:
        done = app["report"] != "Pending" and app["report"] != "InProgress"
        return {
            "ApplicationId": app["id"],
            "Applicants": [a["email"] for a in app["applicants"]],
            "UnitNumber": None,
            "LandlordPays": app["landlord_pays"],
            "Property": self.property_view(app),
            "Status": app["report"] if app["status"] == "Active" else app["status"],
            "RenterStatuses": None,
            "PaymentStatuses": [
                {"emailAddress": a["email"], "didAccept": None if a["status"] == "NoActivity" else a["status"] != "RequestDeclined", "orderPaymentId": None}
                for a in app["applicants"]
            ],
            "IsCancellable": app["status"] == "Active" and not done,
            "CanAddApplicants": not app["landlord_pays"] and not done and app["status"] == "Active",
        }

    def handle(self, endpoint: str, body: dict[str, Any]) -> tuple[int, Any]:
        if endpoint == "application/create":
            return 200, self.order(body, embedded=False)
        if endpoint == "application/create/embedded":
            return 200, self.order(body, embedded=True)
        if endpoint == "application/all":
            reference = str(body.get("referenceId") or "")
            if not reference:
                raise Refused("referenceId is required")
            limit = int(body.get("limit") or 10)
            page = int(body.get("page") or 0)
            with self.lock:
                mine = sorted((a for a in self.applications.values() if a["reference"] == reference), key=lambda a: a["id"], reverse=True)
                return 200, [self.summary(a) for a in mine[page * limit : page * limit + limit]]
        with self.lock:
            app = self.find(body)
            if endpoint == "application/details":
                return 200, self.details(app)
            if endpoint == "application/report/status":
                return 200, app["report"]
            if endpoint == "application/reportUrl":
                if app["report"] != "Ready":
                    raise Refused("The report is not available yet")
                return 200, f"{self.base_url}/smartmove/api/application/report/{secrets.token_urlsafe(24)}"
            if endpoint == "application/cancel":
                if app["status"] == "Cancelled":
                    raise Refused("The application is already cancelled")
                if app["report"] == "Ready":
                    raise Refused("A completed application cannot be cancelled")
                app["status"] = "Cancelled"
                return 200, None
            # One address, or several separated by commas (as the PHP library sends a list).
            addresses = [e.strip().lower() for e in str(body.get("email") or "").split(",") if e.strip()]
            if not addresses or any("@" not in e for e in addresses):
                raise Refused("email is required")
            emails = [a["email"].lower() for a in app["applicants"]]
            if endpoint == "applicant/add":
                if app["landlord_pays"]:
                    raise Refused("Applicants cannot be added when the landlord pays")
                if app["report"] == "Ready" or app["status"] != "Active":
                    raise Refused("The application is completed")
                for email in addresses:
                    if email not in emails:
                        app["applicants"].append(self.applicant(email, datetime.now(timezone.utc)))
                        emails.append(email)
                return 200, None
            if endpoint == "applicant/delete":
                leaving = []
                for email in addresses:
                    if email not in emails:
                        raise Refused("The applicant is not on this application")
                    applicant = app["applicants"][emails.index(email)]
                    if applicant["status"] != "NoActivity":
                        raise Refused("The applicant has already responded to the request")
                    leaving.append(applicant)
                if len(leaving) >= len(app["applicants"]):
                    raise Refused("The only applicant cannot be removed")
                for applicant in leaving:
                    app["applicants"].remove(applicant)
                return 200, None
        return 404, {"Message": f"No endpoint {endpoint}"}

    # ------------------------------------------------------------ scripted progress

    def start(self, app_id: int) -> None:
        threading.Thread(target=self.progress, args=(app_id,), daemon=True).start()

    def progress(self, app_id: int) -> None:
        app = self.applications[app_id]
        self.postback(app, "Pending", "The application was created")
        for step, text in (("RequestAccepted", "has accepted the request"), ("ReportsAvailable", "has completed the application")):
            for applicant in list(app["applicants"]):
                time.sleep(self.step_seconds)
                with self.lock:
                    if app["status"] != "Active":
                        return
                    applicant["status"] = step
                    app["report"] = "InProgress"
                self.postback(app, "InProgress", f"{applicant['email']} {text}")
        time.sleep(self.step_seconds)
        with self.lock:
            if app["status"] != "Active":
                return
            app["report"] = "Ready"
            app["recommendation"] = 1
        self.postback(app, "Ready", "The reports are ready")

    def postback(self, app: dict[str, Any], status: str, text: str) -> None:
        params = app["params"]
        uri = params.get("postbackUri")
        if not uri:
            return
        body = json.dumps({
            "applicationId": app["id"],
            "customerReferenceId": app["reference"],
            "notificationText": text,
            "reportStatus": status,
            "referenceId": params.get("referenceId"),
            "referenceText": params.get("referenceText"),
        }).encode()
        headers = {"Content-Type": "application/json"}
        username, password = params.get("postback_username"), params.get("postback_password")
        if username and password:
            encode = lambda v: base64.b64encode(v.encode()).decode()  # noqa: E731
            headers["Authorization"] = f"{encode(username)}:{encode(password)}"
        for attempt in range(1, 4):
            try:
                request = urllib.request.Request(uri, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=30) as response:
                    log(f"postback {app['id']} {status} ({text}) -> {response.status}")
                    return
            except Exception as exc:  # noqa: BLE001 - any failure is retried, then logged
                log(f"postback {app['id']} {status} attempt {attempt} failed: {exc}")
                time.sleep(attempt)


def make_handler(sandbox: Sandbox, api_key: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "SmartMoveSandbox/1"

        def log_message(self, fmt: str, *args: Any) -> None:
            log(f"{self.command} {self.path} {args[1] if len(args) > 1 else ''}")

        def answer(self, status: int, value: Any) -> None:
            data = b"" if value is None and status == 200 else json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - the landlord opens an order link
            prefix = "/smartmove/api/create/"
            if self.path.startswith(prefix):
                app_id = sandbox.open_link(self.path[len(prefix):])
                if app_id is None:
                    self.answer(404, {"Message": "Unknown or used link"})
                else:
                    self.answer(200, {"Message": f"Application {app_id} created", "ApplicationId": app_id})
                return
            if self.path.startswith("/smartmove/api/application/report/"):
                self.answer(200, {"Message": "Sandbox report"})
                return
            self.answer(404, {"Message": "Not found"})

        def do_POST(self) -> None:  # noqa: N802
            prefix = "/api/smartmove/"
            if not self.path.startswith(prefix):
                self.answer(404, {"Message": "Not found"})
                return
            if self.headers.get("x-apiKey") != api_key:
                self.answer(401, {"Message": "Authorization has been denied for this request."})
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(body, dict):
                    raise ValueError
            except ValueError:
                self.answer(400, {"Message": "The request body is not a JSON object"})
                return
            try:
                status, value = sandbox.handle(self.path[len(prefix):].split("?")[0].rstrip("/"), body)
            except Refused as refused:
                status, value = 400, {"Message": str(refused)}
            self.answer(status, value)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8095)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--step-seconds", type=float, default=1.0)
    args = parser.parse_args()
    base_url = f"http://{args.host}:{args.port}"
    server = ThreadingHTTPServer((args.host, args.port), make_handler(Sandbox(base_url, args.step_seconds), args.api_key))
    log(f"listening on {base_url} at {now()}")
    server.serve_forever()


if __name__ == "__main__":
    main()
