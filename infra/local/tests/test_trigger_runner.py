"""The trigger runner against the test stack's DynamoDB Local and moto, invoking a stub
of `cargo lambda watch`'s invoke endpoint (a small HTTP server in the test)."""

import json
import os
import threading
import unittest
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from doorstep_stack.config import Credentials, aws_client
from doorstep_stack.runner import (
    Invoker, QueuePoller, StreamPoller, deliver_queue_batch, deliver_rule_events, ensure_queue, fire_schedule, install_rule,
)
from doorstep_stack.schedules import parse_expression
from doorstep_stack.triggers import QueueTrigger, RuleTrigger, ScheduleTrigger, StreamTrigger, Target

REGION = "us-east-1"
TARGET = Target("RelayFunction", "relay")


def stack_endpoint(var: str) -> str:
    value = os.environ.get(var)
    if not value:
        raise RuntimeError(f"{var} is not set: run with a stack's env (source .local/test/env)")
    return value


class StubInvokeEndpoint:
    """Records each invocation; answers with the scripted replies, then with null (success)."""

    def __init__(self, replies: list[tuple[int, Any]] | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.replies = list(replies or [])
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.calls.append((self.path, body))
                status, reply = stub.replies.pop(0) if stub.replies else (200, None)
                raw = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.invoker = Invoker(self.server.server_address[1], timeout=10)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def poll_until(poller: Any, records: int, attempts: int = 20) -> int:
    """Poll (each poll waits on the emulator, not on a timer) until `records` were delivered."""
    delivered = 0
    for _ in range(attempts):
        delivered += poller.poll_once()
        if delivered >= records:
            break
    return delivered


class Schedules(unittest.TestCase):
    def test_a_fired_schedule_sends_the_scheduled_event_or_its_input(self) -> None:
        stub = StubInvokeEndpoint([(200, {"errorType": "Boom", "errorMessage": "no\nluck"})])
        self.addCleanup(stub.close)
        nightly = ScheduleTrigger("Nightly", TARGET, "Schedule", "cron(30 2 * * ? *)", parse_expression("cron(30 2 * * ? *)"), True)
        when = datetime(2026, 3, 2, 2, 30, tzinfo=timezone.utc)
        failed = fire_schedule(nightly, when, stub.invoker, REGION, "doorstep-test-RelayFunction-Nightly")
        self.assertEqual((failed.ok, failed.error), (False, "HTTP 200: no luck"))
        with_input = ScheduleTrigger("Hourly", TARGET, "ScheduleV2", "rate(1 hour)", parse_expression("rate(1 hour)"), True, {"job": "hourly"})
        self.assertTrue(fire_schedule(with_input, when, stub.invoker, REGION, "hourly").ok)

        (path, event), (_, given) = stub.calls
        self.assertEqual(path, "/2015-03-31/functions/relay/invocations")
        self.assertEqual((event["detail-type"], event["source"], event["time"]), ("Scheduled Event", "aws.events", "2026-03-02T02:30:00Z"))
        self.assertEqual(event["resources"], ["arn:aws:events:us-east-1:123456789012:rule/doorstep-test-RelayFunction-Nightly"])
        self.assertEqual(given, {"job": "hourly"})


class StreamBatches(unittest.TestCase):
    def setUp(self) -> None:
        creds = Credentials.local()
        ddb_url, moto_url = stack_endpoint("AWS_ENDPOINT_URL_DYNAMODB"), stack_endpoint("AWS_ENDPOINT_URL_EVENTBRIDGE")
        self.ddb = aws_client("dynamodb", ddb_url, creds)
        self.streams = aws_client("dynamodbstreams", ddb_url, creds)
        self.sqs = aws_client("sqs", moto_url, creds)
        self.table = f"triggers-{uuid.uuid4().hex[:8]}"
        table = self.ddb.create_table(
            TableName=self.table,
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        self.stream_arn = table["TableDescription"]["LatestStreamArn"]
        self.addCleanup(self.ddb.delete_table, TableName=self.table)
        self.failed_url, _ = ensure_queue(self.sqs, f"{self.table}-failed")

    def poller(self, stub: StubInvokeEndpoint, retries: int, position: str = "TRIM_HORIZON") -> StreamPoller:
        trigger = StreamTrigger(
            "Changes", TARGET, "Table", starting_position=position, batch_size=10,
            response_types=("ReportBatchItemFailures",), maximum_retry_attempts=retries, on_failure="ChangesFailed",
        )
        return StreamPoller(trigger, streams=self.streams, sqs=self.sqs, stream_arn=self.stream_arn,
                            invoker=stub.invoker, region=REGION, failure_queue_url=self.failed_url,
                            stop=threading.Event(), retry_pause=0)

    def write(self, *keys: str) -> None:
        for key in keys:
            self.ddb.put_item(TableName=self.table, Item={"PK": {"S": key}, "v": {"N": "1"}})
        self.ddb.update_item(TableName=self.table, Key={"PK": {"S": keys[0]}}, UpdateExpression="SET v = :v",
                             ExpressionAttributeValues={":v": {"N": "2"}})

    def test_a_committed_change_arrives_as_a_stream_batch(self) -> None:
        stub = StubInvokeEndpoint()
        self.addCleanup(stub.close)
        self.write("ORG#a", "ORG#b")
        self.assertEqual(poll_until(self.poller(stub, retries=0), 3), 3)

        ((path, batch),) = stub.calls
        self.assertEqual(path, "/2015-03-31/functions/relay/invocations")
        records = batch["Records"]
        self.assertEqual([r["eventName"] for r in records], ["INSERT", "INSERT", "MODIFY"])
        modify = records[2]
        self.assertEqual(modify["eventSource"], "aws:dynamodb")
        self.assertEqual(modify["eventSourceARN"], self.stream_arn)
        self.assertEqual(modify["dynamodb"]["Keys"], {"PK": {"S": "ORG#a"}})
        self.assertEqual(modify["dynamodb"]["OldImage"], {"PK": {"S": "ORG#a"}, "v": {"N": "1"}})
        self.assertEqual(modify["dynamodb"]["NewImage"], {"PK": {"S": "ORG#a"}, "v": {"N": "2"}})
        self.assertEqual(modify["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES")
        self.assertIsInstance(modify["dynamodb"]["ApproximateCreationDateTime"], int)
        self.assertTrue(all(r["eventID"] and r["dynamodb"]["SequenceNumber"] for r in records))

    def test_latest_delivers_only_what_is_written_after_the_start(self) -> None:
        self.write("ORG#before")
        stub = StubInvokeEndpoint()
        self.addCleanup(stub.close)
        poller = self.poller(stub, retries=0, position="LATEST")
        self.assertEqual(poller.poll_once(), 0)
        # Writes elsewhere move DynamoDB Local's sequence numbers on; this shard's reader must follow.
        other = StreamBatches("test_latest_delivers_only_what_is_written_after_the_start")
        other.setUp()
        self.addCleanup(other.doCleanups)
        other.write("ORG#elsewhere")
        self.ddb.put_item(TableName=self.table, Item={"PK": {"S": "ORG#after"}})
        self.assertEqual(poll_until(poller, 1), 1)
        ((_, batch),) = stub.calls
        self.assertEqual([r["dynamodb"]["Keys"]["PK"]["S"] for r in batch["Records"]], ["ORG#after"])

    def test_batch_item_failures_are_retried_from_the_first_failed_record(self) -> None:
        self.write("ORG#a", "ORG#b")
        probe = StubInvokeEndpoint()
        self.addCleanup(probe.close)
        poll_until(self.poller(probe, retries=0), 3)
        sequence = [r["dynamodb"]["SequenceNumber"] for r in probe.calls[0][1]["Records"]]

        # The function fails the second record once, then succeeds.
        stub = StubInvokeEndpoint([(200, {"batchItemFailures": [{"itemIdentifier": sequence[1]}]})])
        self.addCleanup(stub.close)
        self.assertEqual(poll_until(self.poller(stub, retries=2), 3), 3)
        delivered = [[r["dynamodb"]["SequenceNumber"] for r in body["Records"]] for _, body in stub.calls]
        self.assertEqual(delivered, [sequence, sequence[1:]])
        self.assertEqual(self.failed_messages(), [])

    def test_exhausted_retries_go_to_the_on_failure_queue(self) -> None:
        self.write("ORG#a")
        failing = (200, {"errorType": "Unhandled", "errorMessage": "boom"})
        stub = StubInvokeEndpoint([failing, failing])
        self.addCleanup(stub.close)
        poll_until(self.poller(stub, retries=1), 2)
        self.assertEqual(len(stub.calls), 2)  # the first attempt and one retry

        (record,) = self.failed_messages()
        info = record["DDBStreamBatchInfo"]
        self.assertEqual(record["requestContext"]["condition"], "RetryAttemptsExhausted")
        self.assertEqual(record["requestContext"]["approximateInvokeCount"], 2)
        self.assertEqual(record["responseContext"]["functionError"], "Unhandled")
        self.assertEqual((info["batchSize"], info["streamArn"]), (2, self.stream_arn))
        sent = [r["dynamodb"]["SequenceNumber"] for r in stub.calls[0][1]["Records"]]
        self.assertEqual((info["startSequenceNumber"], info["endSequenceNumber"]), (sent[0], sent[-1]))
        # The shard moves on: nothing is delivered again.
        self.assertEqual(len(stub.calls), 2)

    def failed_messages(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.failed_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


class RulesAndQueues(unittest.TestCase):
    def setUp(self) -> None:
        creds = Credentials.local()
        moto_url = stack_endpoint("AWS_ENDPOINT_URL_EVENTBRIDGE")
        self.events = aws_client("events", moto_url, creds)
        self.sqs = aws_client("sqs", moto_url, creds)
        self.suffix = uuid.uuid4().hex[:8]

    def test_a_matched_event_arrives_through_the_rules_sqs_target(self) -> None:
        bus = f"triggers-{self.suffix}"
        trigger = RuleTrigger("LeaseSigned", TARGET, {"source": ["doorstep.leases"], "detail-type": ["lease.signed"]}, bus)
        url, _ = install_rule(self.events, self.sqs, trigger, bus, f"rule-{self.suffix}")
        stub = StubInvokeEndpoint()
        self.addCleanup(stub.close)
        self.events.put_events(Entries=[
            {"EventBusName": bus, "Source": "doorstep.leases", "DetailType": "lease.ended", "Detail": json.dumps({"lease_id": "l0"})},
            {"EventBusName": bus, "Source": "doorstep.leases", "DetailType": "lease.signed", "Detail": json.dumps({"lease_id": "l1"})},
        ])
        poller = QueuePoller(self.sqs, url, 10, lambda msgs: deliver_rule_events(trigger, self.sqs, url, stub.invoker, msgs))
        self.assertEqual(poll_until(poller, 1, attempts=3), 1)

        ((path, event),) = stub.calls
        self.assertEqual(path, "/2015-03-31/functions/relay/invocations")
        self.assertEqual((event["source"], event["detail-type"], event["detail"]), ("doorstep.leases", "lease.signed", {"lease_id": "l1"}))
        self.assertTrue({"id", "time", "account", "region", "resources", "version"} <= set(event))
        self.assertEqual(poller.poll_once(), 0)  # deleted once delivered

    def test_an_sqs_batch_keeps_only_the_failed_messages(self) -> None:
        url, arn = ensure_queue(self.sqs, f"work-{self.suffix}")
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})
        for body in ("one", "two"):
            self.sqs.send_message(QueueUrl=url, MessageBody=body)
        trigger = QueueTrigger("Work", TARGET, "WorkQueue", batch_size=10, response_types=("ReportBatchItemFailures",))
        stub = StubInvokeEndpoint()
        self.addCleanup(stub.close)
        failed: list[str] = []

        def deliver(messages: list[dict[str, Any]]) -> None:
            failed[:] = [m["MessageId"] for m in messages if m["Body"] == "two"]
            stub.replies.append((200, {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}))
            deliver_queue_batch(trigger, self.sqs, url, arn, stub.invoker, REGION, messages)

        poller = QueuePoller(self.sqs, url, 10, deliver)
        self.assertEqual(poll_until(poller, 2, attempts=5), 2)
        records = [r for _, body in stub.calls for r in body["Records"]]
        self.assertEqual(sorted(r["body"] for r in records), ["one", "two"])
        self.assertTrue(all(r["eventSource"] == "aws:sqs" and r["eventSourceARN"] == arn for r in records))

        left = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        self.assertEqual([m["Body"] for m in left], ["two"])
