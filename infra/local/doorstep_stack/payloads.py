"""The events AWS delivers to a function, built from what the local emulators return."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import datetime, timezone
from typing import Any

ACCOUNT = "123456789012"  # moto's account; the ARNs only need to be well formed


def iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def scheduled_event(kind: str, rule_name: str, when: datetime, region: str) -> dict[str, Any]:
    """What an EventBridge schedule (or Scheduler's default notification) sends."""
    if kind == "ScheduleV2":
        source, arn = "aws.scheduler", f"arn:aws:scheduler:{region}:{ACCOUNT}:schedule/default/{rule_name}"
    else:
        source, arn = "aws.events", f"arn:aws:events:{region}:{ACCOUNT}:rule/{rule_name}"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": source,
        "account": ACCOUNT,
        "time": iso(when),
        "region": region,
        "resources": [arn],
        "detail": {},
    }


def wire_json(value: Any) -> Any:
    """boto3 decodes binary attributes to bytes and times to datetime; Lambda gets base64 and epoch seconds."""
    if isinstance(value, dict):
        return {k: wire_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wire_json(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return int(value.timestamp())
    return value


def repaired_attribute(value: Any) -> Any:
    """DynamoDB Local's stream writes an empty map attribute as `{}` instead of `{"M": {}}`
    (the SDKs refuse it); an attribute value is never legitimately empty, so `{}` is that map."""
    if value == {}:
        return {"M": {}}
    if isinstance(value, dict) and isinstance(value.get("M"), dict):
        return {"M": repaired_image(value["M"])}
    if isinstance(value, dict) and isinstance(value.get("L"), list):
        return {"L": [repaired_attribute(v) for v in value["L"]]}
    return value


def repaired_image(image: dict[str, Any]) -> dict[str, Any]:
    return {name: repaired_attribute(value) for name, value in image.items()}


def stream_record(raw: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """One DynamoDB Streams record (GetRecords) as a Lambda event source mapping delivers it."""
    change = wire_json(raw["dynamodb"])
    for image in ("Keys", "NewImage", "OldImage"):
        if image in change:
            change[image] = repaired_image(change[image])
    dynamodb = {
        key: change[key]
        for key in ("ApproximateCreationDateTime", "Keys", "NewImage", "OldImage", "SequenceNumber", "SizeBytes", "StreamViewType")
        if key in change
    }
    return {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": raw.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One ReceiveMessage message as the SQS event source mapping delivers it."""
    attributes = message.get("Attributes") or {}
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            key: attributes[key]
            for key in ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp")
            if key in attributes
        },
        "messageAttributes": {
            name: {key[0].lower() + key[1:]: value for key, value in attr.items()}
            for name, attr in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def stream_failure_record(
    *,
    function_arn: str,
    stream_arn: str,
    shard_id: str,
    records: list[dict[str, Any]],
    attempts: int,
    function_error: str | None,
    when: datetime,
) -> dict[str, Any]:
    """What a stream event source mapping sends to its on-failure destination once retries run out."""
    first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": attempts,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": function_error or "",
        },
        "version": "1.0",
        "timestamp": when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": first["SequenceNumber"],
            "endSequenceNumber": last["SequenceNumber"],
            "approximateArrivalOfFirstRecord": iso(datetime.fromtimestamp(first.get("ApproximateCreationDateTime", 0), timezone.utc)),
            "approximateArrivalOfLastRecord": iso(datetime.fromtimestamp(last.get("ApproximateCreationDateTime", 0), timezone.utc)),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }


def function_arn(region: str, function: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{function}"
