"""The local Stripe event signer: Stripe's signature scheme and the fixtures' placeholders."""

import json
import unittest

from stripe_event import sign, stripe_event


class StripeEventTests(unittest.TestCase):
    def test_the_signature_is_hmac_sha256_of_the_timestamp_and_body_in_hex(self):
        # The same vector as the financial function's own test of its verifier.
        body = '{"id":"evt_1","type":"payment_intent.succeeded"}'
        self.assertEqual(
            sign("whsec_test_secret", 1700000000, body),
            "t=1700000000,v1=22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31",
        )

    def test_every_fixture_becomes_a_stripe_event_for_the_lease(self):
        for kind in ("payment-succeeded", "payment-failed", "charge-refunded"):
            event = json.loads(stripe_event(kind, "org_X", "lease_Y", amount=1234))
            self.assertTrue(event["id"].startswith("evt_") and "__" not in event["id"], kind)
            metadata = event["data"]["object"]["metadata"]
            self.assertEqual((metadata["organization_id"], metadata["lease_id"]), ("org_X", "lease_Y"), kind)
            self.assertEqual(event["data"]["object"]["amount"], 1234, kind)


if __name__ == "__main__":
    unittest.main()
