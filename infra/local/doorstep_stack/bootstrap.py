"""Idempotent creation of the table (from template.yaml), the event bus and the secrets."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .config import LOCAL_SMARTMOVE_API_KEY, LOCAL_STRIPE_WEBHOOK_SECRET, TEMPLATE, Credentials, Endpoints, Names, aws_client, error_code, rel, warn
from .keys import ensure_cursor_secret, ensure_jwt_secrets, ensure_plain_secret
from .template import table_spec_from_template


def ensure_table(ddb: Any, table_name: str) -> str:
    spec, ttl = table_spec_from_template(table_name)
    try:
        existing = ddb.describe_table(TableName=table_name)["Table"]
        outcome = "exists"
        warn_on_schema_drift(existing, spec)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        ddb.create_table(**spec)
        outcome = "created"
    ddb.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    if outcome == "exists":
        ensure_stream(ddb, table_name, spec.get("StreamSpecification"))

    if ttl and ttl.get("Enabled"):
        # Check first: UpdateTimeToLive fails if TTL is already enabled.
        current = ddb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            ddb.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        elif current.get("AttributeName") != ttl["AttributeName"]:
            warn(
                f"table {table_name} has TTL on {current.get('AttributeName')!r}, "
                f"template says {ttl['AttributeName']!r}"
            )
    return outcome


def ensure_stream(ddb: Any, table_name: str, wanted: dict[str, Any] | None) -> None:
    """Give a persisted table that predates the template's stream its stream."""
    have = ddb.describe_table(TableName=table_name)["Table"].get("StreamSpecification") or {}
    if not wanted or have.get("StreamEnabled"):
        if wanted and have.get("StreamViewType") != wanted["StreamViewType"]:
            warn(f"table {table_name} streams {have.get('StreamViewType')}, template says {wanted['StreamViewType']}")
        return
    ddb.update_table(TableName=table_name, StreamSpecification=wanted)


def warn_on_schema_drift(existing: dict[str, Any], spec: dict[str, Any]) -> None:
    # A persisted table predating a template change would silently misbehave.
    def key_schema(ks: list[dict[str, str]]) -> list[tuple[str, str]]:
        return [(k["AttributeName"], k["KeyType"]) for k in ks]

    have = {i["IndexName"]: key_schema(i["KeySchema"]) for i in existing.get("GlobalSecondaryIndexes", [])}
    want = {i["IndexName"]: key_schema(i["KeySchema"]) for i in spec.get("GlobalSecondaryIndexes", [])}
    if key_schema(existing["KeySchema"]) != key_schema(spec["KeySchema"]) or have != want:
        warn(
            f"table {spec['TableName']} does not match {rel(TEMPLATE)} (keys/GSIs differ); "
            "delete it (or the stack's dynamodb/ dir) to recreate"
        )


def ensure_event_bus(events: Any, bus_name: str) -> str:
    try:
        events.create_event_bus(Name=bus_name)
        return "created"
    except ClientError as exc:
        if error_code(exc) == "ResourceAlreadyExistsException":
            return "exists"
        raise


def ensure_bucket(s3: Any, bucket: str) -> str:
    """The attachments bucket, private and encrypted as in the template."""
    try:
        s3.create_bucket(Bucket=bucket)
        outcome = "created"
    except ClientError as exc:
        if error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
        outcome = "exists"
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
    )
    return outcome


def bootstrap(endpoints: Endpoints, names: Names, creds: Credentials) -> dict[str, str]:
    """Idempotently create table, bus and secrets; return what happened to each."""
    sm = aws_client("secretsmanager", endpoints.secretsmanager, creds)
    return {
        "table": ensure_table(aws_client("dynamodb", endpoints.dynamodb, creds), names.table),
        "event bus": ensure_event_bus(aws_client("events", endpoints.eventbridge, creds), names.event_bus),
        "jwt keys": ensure_jwt_secrets(sm, names),
        "cursor key": ensure_cursor_secret(sm, names.cursor),
        "smartmove key": ensure_plain_secret(
            sm, names.smartmove_api_key, LOCAL_SMARTMOVE_API_KEY, "Local SmartMove API key (x-apiKey)"
        ),
        "stripe webhook secret": ensure_plain_secret(
            sm, names.stripe_webhook_secret, LOCAL_STRIPE_WEBHOOK_SECRET, "Local Stripe webhook signing secret"
        ),
        "attachments bucket": ensure_bucket(aws_client("s3", endpoints.s3, creds), names.attachments_bucket),
    }
