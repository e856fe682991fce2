"""Stripe events for the local stack, signed as Stripe signs them (standard library only).

Fills the placeholders of an `events/financial/stripe-*.json` fixture's Stripe event and
signs it with the local stack's webhook secret, so that `POST /webhooks/stripe` of
`make dev` accepts it:

    python3 infra/local/stripe_event.py payment-succeeded --org ORG_ID --lease LEASE_ID \\
        [--url http://localhost:9000] [--amount 145000]

Stripe's scheme: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`,
keyed by the whole `whsec_...` secret.
"""

import argparse
import hashlib
import hmac
import json
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sign(secret: str, timestamp: int, body: str) -> str:
    """The `Stripe-Signature` value of `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def stripe_event(kind: str, org_id: str, lease_id: str, amount: int | None = None) -> str:
    """The fixture `stripe-<kind>.json`'s Stripe event for the lease, with fresh ids."""
    gateway = json.loads((ROOT / "events" / "financial" / f"stripe-{kind}.json").read_text())
    fresh = uuid.uuid4().hex[:24]
    body = (
        gateway["body"]
        .replace("__EVENT_ID__", fresh)
        .replace("__INTENT_ID__", fresh)
        .replace("__CHARGE_ID__", fresh)
        .replace("__REFUND_ID__", fresh)
        .replace("__ORG_ID__", org_id)
        .replace("__LEASE_ID__", lease_id)
    )
    if amount is not None:
        event = json.loads(body)
        event["data"]["object"]["amount"] = amount
        if "amount_received" in event["data"]["object"]:
            event["data"]["object"]["amount_received"] = amount
        body = json.dumps(event, indent=2)
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["payment-succeeded", "payment-failed", "charge-refunded"])
    parser.add_argument("--org", required=True)
    parser.add_argument("--lease", required=True)
    parser.add_argument("--amount", type=int, help="minor units (cents)")
    parser.add_argument("--url", default="http://localhost:9000")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import http_client
    from doorstep_stack.config import LOCAL_STRIPE_WEBHOOK_SECRET

    body = stripe_event(args.kind, args.org, args.lease, args.amount)
    signature = sign(LOCAL_STRIPE_WEBHOOK_SECRET, int(time.time()), body)
    status, doc, _ = http_client.call(args.url, "POST", "/webhooks/stripe", headers={"Stripe-Signature": signature}, raw=body)
    print(status, json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
