"""Prints the credential the API fuzzer sends: the bearer token of the demo organization's
owner (seeded by `doorstep-dev seed`), who may call every operation. Run by fuzz.sh.

Usage: fuzz_credentials.py BASE_URL
"""

import sys

import http_client

status, doc, _ = http_client.call(
    sys.argv[1], "POST", "/api/v1/identity/login", body={"email": "owner@demo.doorstep.dev", "password": "demo-owner-password"}
)
if status != 200:
    sys.exit(f"fuzz: signing in as the demo owner answered {status}: {doc}")
print(doc["data"]["access_token"])
