"""Smoke test of the real Lambda path: HTTP -> cargo lambda watch's router -> the
function binary -> DynamoDB Local. Run by infra/local/smoke.sh with the stack's env.

Usage: smoke.py BASE_URL STRIPE_WEBHOOK_SECRET   (the demo data of `doorstep-dev seed` must exist)
"""

import http.server
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import http_client
from stripe_event import sign, stripe_event

BASE = sys.argv[1]
STRIPE_WEBHOOK_SECRET = sys.argv[2]
results = {"passed": 0, "failed": 0}


def call(method, path, token=None, body=None, headers=None, raw=None):
    return http_client.call(BASE, method, path, token, body, headers, raw=raw)


def check(name, condition):
    results["passed" if condition else "failed"] += 1
    print(f"{'ok  ' if condition else 'FAIL'} {name}")


def sign_in(email, password):
    status, doc, _ = call("POST", "/api/v1/identity/login", body={"email": email, "password": password})
    check(f"login {email} -> 200 with a bearer token", status == 200 and doc["data"]["token_type"] == "Bearer")
    return doc["data"]["access_token"] if status == 200 else "no-token"


OWNER = sign_in("owner@demo.doorstep.dev", "demo-owner-password")
STRANGER = sign_in("owner@other.doorstep.dev", "demo-other-password")
status, doc, _ = call("POST", "/api/v1/identity/login", body={"email": "owner@demo.doorstep.dev", "password": "wrong-password"})
check("wrong password -> 401 AUTHENTICATION_FAILED", status == 401 and doc["error"]["code"] == "AUTHENTICATION_FAILED")
status, doc, _ = call("GET", "/.well-known/jwks.json")
check("JWKS is published", status == 200 and len(doc["keys"]) >= 1)

# A local webhook receiver, subscribed before the writes below: the trigger runner hands
# their events to webhooks-deliver through the bus rule, as EventBridge would.
received = []


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        received.append(({k.lower(): v for k, v in self.headers.items()}, raw))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=receiver.serve_forever, daemon=True).start()
hook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
status, doc, _ = call("POST", "/api/v1/webhooks", OWNER, {"url": hook_url, "events": ["property.created"]})
check("subscribe a local webhook receiver -> 201 with a whsec_ secret", status == 201 and doc["data"]["secret"].startswith("whsec_"))
webhook_secret = doc["data"]["secret"] if status == 201 else "whsec_"

body = {
    "name": "Smoke Test Towers",
    "type": "residential",
    "address": {"street": "1 Smoke St", "city": "Austin", "state": "TX", "postal_code": "73301", "country": "US"},
    "total_value": 250000,
}

status, doc, _ = call("GET", "/api/v1/properties")
check("no token -> 401 AUTHENTICATION_FAILED", status == 401 and doc["error"]["code"] == "AUTHENTICATION_FAILED")

status, doc, headers = call("POST", "/api/v1/properties", OWNER, body)
check("create -> 201 with Location", status == 201 and headers.get("Location", "").endswith(doc["data"]["id"]))
pid = doc["data"]["id"] if status == 201 else "prop_missing"

status, doc, headers = call("GET", f"/api/v1/properties/{pid}", OWNER)
check("read -> 200 with ETag", status == 200 and headers.get("ETag") == '"1"')

status, doc, _ = call("PATCH", f"/api/v1/properties/{pid}", OWNER, {"name": "Smoke Tower"}, {"If-Match": '"1"'})
check("patch with If-Match -> 200, version 2", status == 200 and doc["data"]["version"] == 2)

status, doc, _ = call("PATCH", f"/api/v1/properties/{pid}", OWNER, {"name": "Stale"}, {"If-Match": '"1"'})
check("stale If-Match -> 412", status == 412 and doc["error"]["code"] == "PRECONDITION_FAILED")

status, doc, _ = call("GET", f"/api/v1/properties/{pid}", STRANGER)
check("another organization -> 404", status == 404 and doc["error"]["code"] == "RESOURCE_NOT_FOUND")

status, doc, _ = call("GET", "/api/ai/properties", OWNER)
check("integration list has the integration API's shape", status == 200 and any(p["id"] == pid and set(p) == {"id", "address", "city", "state", "units", "total_value", "occupancy_rate"} for p in doc["properties"]))

# The financial demo of `doorstep-dev seed`: renters overdue, partly paid and in credit.
status, doc, _ = call("GET", "/api/ai/renters", OWNER)
statuses = {r["name"]: r.get("payment_status") for r in doc.get("renters", [])} if status == 200 else {}
check(
    "demo renters show overdue, partial and credit",
    statuses.get("John Smith") == "overdue"
    and statuses.get("Wei Chen") == "overdue"
    and statuses.get("Jane Doe") == "partial"
    and statuses.get("Priya Patel") == "credit",
)
status, doc, _ = call("GET", "/api/ai/renters/overdue", OWNER)
overdue = sorted(r["name"] for r in doc.get("renters", [])) if status == 200 else []
check("demo overdue renters are John Smith and Wei Chen", overdue == ["John Smith", "Wei Chen"])

# A declined card from Stripe, signed with the local webhook secret the function read at
# its cold start: recorded in the demo tenant's ledger history, the balance unchanged.
status, doc, _ = call("GET", "/api/v1/leases?tenant_id=ten_01JD3M00000000000000000001&status=Current", OWNER)
lease_id = doc["data"][0]["id"] if status == 200 and doc["data"] else "lease_missing"
stripe_body = stripe_event("payment-failed", "org_01JD3M00000000000000000001", lease_id)
status, doc, _ = call(
    "POST", "/webhooks/stripe", headers={"Stripe-Signature": sign(STRIPE_WEBHOOK_SECRET, int(time.time()), stripe_body)}, raw=stripe_body
)
check("a signed Stripe event -> 200, failure recorded", status == 200 and doc["data"]["outcome"] == "failure_recorded")
status, doc, _ = call("POST", "/webhooks/stripe", headers={"Stripe-Signature": sign("whsec_wrong", int(time.time()), stripe_body)}, raw=stripe_body)
check("a Stripe event with a wrong signature -> 400", status == 400 and doc["error"]["code"] == "BAD_REQUEST")

# A receipt PDF leaves the function base64-encoded and arrives as the PDF's own bytes.
status, doc, _ = call("GET", "/api/v1/leases?page_size=1", OWNER)
lease = doc["data"][0]["id"] if status == 200 and doc["data"] else "lease_missing"
today = time.strftime("%Y-%m-%d", time.gmtime())
line = {"description": "Smoke rent", "category": "rent", "amount": 12.34}
status, doc, _ = call("POST", "/api/v1/financial/invoices", OWNER, {"lease_id": lease, "due_date": today, "line_items": [line]})
check("issue an invoice on a demo lease -> 201", status == 201)
key = {"Idempotency-Key": f"smoke-{time.time_ns()}"}
status, doc, _ = call("POST", "/api/v1/financial/payments", OWNER, {"lease_id": lease, "amount": 12.34, "method": "cash"}, key)
check("pay it -> 201", status == 201)
payment = doc["data"]["id"] if status == 201 else "pay_missing"
request = urllib.request.Request(f"{BASE}/api/v1/financial/payments/{payment}/receipt",
                                 headers={"Authorization": f"Bearer {OWNER}", "Accept": "application/pdf"})
try:
    with urllib.request.urlopen(request, timeout=120) as response:
        status, content_type, raw = response.status, response.headers.get("Content-Type"), response.read()
except urllib.error.HTTPError as error:
    status, content_type, raw = error.code, None, b""
check("the receipt as a PDF -> 200 application/pdf, the PDF's bytes",
      status == 200 and content_type == "application/pdf" and raw.startswith(b"%PDF-") and b"%%EOF" in raw)

status, _, _ = call("DELETE", f"/api/v1/properties/{pid}", OWNER, headers={"If-Match": '"2"'})
check("delete -> 204", status == 204)

status, _, _ = call("GET", f"/api/v1/properties/{pid}", OWNER)
check("deleted -> 404", status == 404)



def property_events(property_id):
    """The property's events in the organization's log, oldest first."""
    path, seen = "/api/v1/events?type=property.*&page_size=100", []
    while True:
        status, doc, _ = call("GET", path, OWNER)
        if status != 200:
            return status, seen
        seen += [e["event"] for e in doc["data"] if e["data"].get("property_id") == property_id]
        cursor = doc["meta"]["pagination"].get("next_cursor")
        if not cursor:
            return status, seen
        path = f"/api/v1/events?type=property.*&page_size=100&cursor={urllib.parse.quote(cursor)}"


# The trigger runner feeds the table's stream to events-relay through cargo lambda watch
# (which compiles the relay on its first invocation): wait for the three events.
deadline, events = time.monotonic() + 300, (None, [])
while time.monotonic() < deadline:
    events = property_events(pid)
    if events[1] == ["property.created", "property.updated", "property.deleted"] or events[0] != 200:
        break
    time.sleep(1)
check("the stream relays create, update, delete as one event each", events == (200, ["property.created", "property.updated", "property.deleted"]))


# A leak with a photo: the bytes go to S3 (moto) with the presigned URL and come back.
status, doc, _ = call("POST", "/api/v1/properties", OWNER, {**body, "name": "Smoke Leak House"})
leak_pid = doc["data"]["id"] if status == 201 else "prop_missing"
leak = {"property_id": leak_pid, "title": "Leak under the sink", "priority": "high", "category": "plumbing"}
status, doc, _ = call("POST", "/api/v1/operations/maintenance-requests", OWNER, leak)
mr = doc["data"]["id"] if status == 201 else "mr_missing"
photo = b"\xff\xd8\xff\xe0 a photo of the leak \xff\xd9"
declared = {"file_name": "leak.jpg", "content_type": "image/jpeg", "size": len(photo)}
status, doc, _ = call("POST", f"/api/v1/operations/maintenance-requests/{mr}/attachments", OWNER, declared)
check("attach a photo -> 201 with a presigned upload URL", status == 201 and doc["data"]["upload"]["method"] == "PUT")
upload = doc["data"]["upload"] if status == 201 else {"url": "http://127.0.0.1:9/", "headers": {}}
put = urllib.request.Request(upload["url"], data=photo, method="PUT", headers={"Content-Type": "image/jpeg"})
try:
    with urllib.request.urlopen(put, timeout=30) as response:
        uploaded = response.status == 200
except (urllib.error.URLError, OSError):
    uploaded = False
check("PUT the photo to the presigned URL -> 200", uploaded)
status, doc, _ = call("GET", f"/api/v1/operations/maintenance-requests/{mr}/attachments", OWNER)
listed = doc["data"] if status == 200 else []
check("the listing shows it uploaded", len(listed) == 1 and listed[0]["status"] == "uploaded")
try:
    with urllib.request.urlopen(listed[0]["download_url"], timeout=30) as response:
        downloaded = response.read()
except Exception:  # no URL, or no answer: the check below fails
    downloaded = b""
check("the presigned download URL serves the same bytes", downloaded == photo)


def delivered(property_id):
    """The verified delivery of the property's creation, if it has arrived."""
    from standardwebhooks.webhooks import Webhook

    for headers, raw in list(received):
        try:
            payload = Webhook(webhook_secret).verify(raw, headers)
        except Exception as error:  # a signature that does not verify fails the check below
            print(f"     delivery did not verify: {error}")
            continue
        if payload["event"] == "property.created" and payload["data"].get("property_id") == property_id:
            return payload
    return None


deadline, payload = time.monotonic() + 120, None
while time.monotonic() < deadline and payload is None:
    payload = delivered(pid)
    time.sleep(0.5)
check("the receiver gets property.created, verified by the Standard Webhooks Python library", payload is not None)
receiver.shutdown()

print(f"smoke: {results['passed']} passed, {results['failed']} failed")
sys.exit(1 if results["failed"] else 0)
