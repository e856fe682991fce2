"""The local trigger runner: invokes functions through `cargo lambda watch` as the
schedules, rules, DynamoDB stream and SQS queues of template.yaml would in AWS.

Rules are installed in moto with an SQS target (moto does the pattern matching), the
stream is read from DynamoDB Local, queues live in moto; the runner only polls and
invokes. Each invocation is logged in one line.
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from botocore.exceptions import ClientError

from .config import HOST, StackError, error_code
from .payloads import ACCOUNT, function_arn, scheduled_event, sqs_record, stream_failure_record, stream_record
from .triggers import QueueTrigger, RuleTrigger, ScheduleTrigger, StreamTrigger, Triggers

INVOKE_TIMEOUT_S = 900.0  # Lambda's limit; the first call also waits for the build
POLL_PAUSE_S = 1.0
RETRY_PAUSE_S = 1.0


def log(line: str) -> None:
    print(f"triggers: {line}", flush=True)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Invocation:
    ok: bool
    body: Any
    error: str | None
    seconds: float

    def summary(self) -> str:
        return f"ok in {self.seconds:.2f}s" if self.ok else f"error in {self.seconds:.2f}s: {self.error}"


class Invoker:
    """POSTs payloads to the Lambda invoke API that `cargo lambda watch` serves."""

    def __init__(self, port: int, host: str = HOST, timeout: float = INVOKE_TIMEOUT_S) -> None:
        self.host, self.port, self.timeout = host, port, timeout

    def invoke(self, binary: str, payload: Any) -> Invocation:
        started = time.monotonic()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(
                "POST",
                f"/2015-03-31/functions/{binary}/invocations",
                body=json.dumps(payload).encode(),
                headers={"Content-Type": "application/json"},
            )
            response = conn.getresponse()
            raw = response.read()
            function_error = response.getheader("X-Amz-Function-Error")
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            return Invocation(False, None, f"invoke endpoint: {exc}", time.monotonic() - started)
        finally:
            conn.close()
        seconds = time.monotonic() - started
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        is_error = isinstance(body, dict) and {"errorType", "errorMessage"} <= set(body)
        if status >= 300 or function_error or is_error:
            detail = body.get("errorMessage") if isinstance(body, dict) else body
            detail = " ".join(str(detail).split())  # one log line per invocation
            kind = f" {function_error}" if function_error else ""
            return Invocation(False, body, f"HTTP {status}{kind}: {detail}", seconds)
        return Invocation(True, body, None, seconds)


def wait_for_port(port: int, stop: threading.Event, host: str = HOST) -> bool:
    """Until `cargo lambda watch` listens (it may still be starting); False if stopped first."""
    while not stop.is_set():
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex((host, port)) == 0:
                return True
        stop.wait(0.5)
    return False


# --------------------------------------------------------------------------- schedules


def fire_schedule(trigger: ScheduleTrigger, when: datetime, invoker: Invoker, region: str, rule_name: str) -> Invocation:
    payload = trigger.input if trigger.input is not None else scheduled_event(trigger.kind, rule_name, when, region)
    result = invoker.invoke(trigger.target.binary, payload)
    due = when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    log(f"schedule {trigger.name} ({trigger.expression}, due {due}) -> {trigger.target.binary}: {result.summary()}")
    return result


class ScheduleLoop:
    """Fires each enabled schedule at its next time, counted from when the loop starts."""

    def __init__(self, schedules: list[ScheduleTrigger], fire: Callable[[ScheduleTrigger, datetime], Any],
                 stop: threading.Event, clock: Callable[[], datetime] = utc_now) -> None:
        self.schedules = [s for s in schedules if s.enabled]
        self.fire, self.stop, self.clock = fire, stop, clock

    def run(self) -> None:
        anchor = self.clock()
        upcoming = {i: s.schedule.next_fire(anchor, anchor) for i, s in enumerate(self.schedules)}
        while not self.stop.is_set():
            pending = {i: t for i, t in upcoming.items() if t is not None}
            if not pending:
                self.stop.wait()
                return
            now = self.clock()
            for i, when in pending.items():
                if when <= now:
                    trigger = self.schedules[i]
                    threading.Thread(target=self.fire, args=(trigger, when), daemon=True).start()
                    # Like AWS, no catching up on fires missed while the machine slept.
                    upcoming[i] = trigger.schedule.next_fire(max(when, now), anchor)
            soonest = min((t for t in upcoming.values() if t is not None), default=None)
            if soonest is not None:
                self.stop.wait(max(0.0, (soonest - self.clock()).total_seconds()))


# --------------------------------------------------------------------------- DynamoDB stream


def first_failed_sequence(body: Any, records: list[dict[str, Any]]) -> tuple[str | None, bool]:
    """(lowest reported sequence number, whether the answer was valid) of a batchItemFailures reply."""
    if not isinstance(body, dict) or not body.get("batchItemFailures"):
        return None, True
    ids = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in body["batchItemFailures"]]
    known = {r["dynamodb"]["SequenceNumber"] for r in records}
    if any(i not in known for i in ids):
        return None, False  # AWS treats an unknown or empty identifier as a failure of the whole batch
    return min(ids, key=int), True


class StreamPoller:
    """Reads a table's stream shard by shard and delivers batches as the event source mapping does."""

    def __init__(self, trigger: StreamTrigger, *, streams: Any, sqs: Any, stream_arn: str, invoker: Invoker,
                 region: str, failure_queue_url: str | None, stop: threading.Event,
                 retry_pause: float = RETRY_PAUSE_S) -> None:
        self.trigger, self.streams, self.sqs = trigger, streams, sqs
        self.stream_arn, self.invoker, self.region = stream_arn, invoker, region
        self.failure_queue_url, self.stop, self.retry_pause = failure_queue_url, stop, retry_pause
        self.iterators: dict[str, str] = {}
        self.last_sequence: dict[str, str] = {}  # per shard, the last record read
        self.known_shards: set[str] = set()
        self.started = False

    def refresh_shards(self) -> None:
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self.known_shards:
                continue
            self.known_shards.add(shard_id)
            # Shards found later are children of ones being read: read them whole.
            position = self.trigger.starting_position if not self.started else "TRIM_HORIZON"
            self.iterators[shard_id] = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=position
            )["ShardIterator"]
        self.started = True

    def poll_once(self) -> int:
        """Deliver what each shard has now; the number of records delivered."""
        self.refresh_shards()
        delivered = 0
        for shard_id, iterator in list(self.iterators.items()):
            try:
                response = self.streams.get_records(ShardIterator=iterator, Limit=self.trigger.batch_size)
            except ClientError as exc:
                self.iterators[shard_id] = self.reposition(shard_id, exc)
                continue
            following = response.get("NextShardIterator")
            if response["Records"]:
                delivered += len(response["Records"])
                self.last_sequence[shard_id] = response["Records"][-1]["dynamodb"]["SequenceNumber"]
                following = self.deliver(shard_id, response["Records"], following)
            if following:
                self.iterators[shard_id] = following
            else:
                del self.iterators[shard_id]  # closed shard, read to its end (or stopping)
        return delivered

    def reposition(self, shard_id: str, exc: ClientError) -> str:
        """A fresh iterator for a shard whose iterator DynamoDB Local no longer serves."""
        code, last = error_code(exc), self.last_sequence.get(shard_id)
        if code == "ExpiredIteratorException" and last:
            return self.iterator_at(shard_id, "AFTER_SEQUENCE_NUMBER", last)
        if code in ("ExpiredIteratorException", "TrimmedDataAccessException"):
            # Trimmed: the position is older than the shard's oldest record, so every
            # record the shard still has comes after it.
            return self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        raise exc

    def iterator_at(self, shard_id: str, kind: str, sequence: str) -> str:
        return self.streams.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=kind, SequenceNumber=sequence
        )["ShardIterator"]

    def deliver(self, shard_id: str, raw: list[dict[str, Any]], following: str | None) -> str | None:
        """Invoke until the batch succeeds or its retries run out; the iterator to read on from."""
        trigger, attempts = self.trigger, 0
        while True:
            attempts += 1
            records = [stream_record(r, self.stream_arn, self.region) for r in raw]
            result = self.invoker.invoke(trigger.target.binary, {"Records": records})
            failed_at, error = None, result.error
            if result.ok and trigger.reports_item_failures:
                failed_at, valid = first_failed_sequence(result.body, records)
                if not valid:
                    error = "batchItemFailures names a record that is not in the batch"
            outcome = (
                result.summary() if error is None and failed_at is None
                else f"failed from {failed_at}" if failed_at else f"error: {error}"
            )
            log(f"stream {trigger.name} -> {trigger.target.binary}: batch of {len(records)}, attempt {attempts}, {outcome}")
            if error is None and failed_at is None:
                return following
            start = failed_at or records[0]["dynamodb"]["SequenceNumber"]
            remaining = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) >= int(start)]
            if 0 <= trigger.maximum_retry_attempts < attempts:
                self.send_to_on_failure(shard_id, remaining, attempts, error)
                return self.iterator_at(shard_id, "AFTER_SEQUENCE_NUMBER", records[-1]["dynamodb"]["SequenceNumber"])
            if self.stop.wait(self.retry_pause):
                return None
            response = self.streams.get_records(
                ShardIterator=self.iterator_at(shard_id, "AT_SEQUENCE_NUMBER", start), Limit=trigger.batch_size
            )
            raw, following = response["Records"], response.get("NextShardIterator")
            if not raw:  # the records are gone from the stream (trimmed): nothing left to retry
                return following

    def send_to_on_failure(self, shard_id: str, records: list[dict[str, Any]], attempts: int, error: str | None) -> None:
        trigger = self.trigger
        if self.failure_queue_url is None:
            log(f"stream {trigger.name}: retries exhausted, {len(records)} records dropped (no on-failure destination)")
            return
        record = stream_failure_record(
            function_arn=function_arn(self.region, trigger.target.binary),
            stream_arn=self.stream_arn,
            shard_id=shard_id,
            records=records,
            attempts=attempts,
            function_error=None if error is None else "Unhandled",
            when=utc_now(),
        )
        self.sqs.send_message(QueueUrl=self.failure_queue_url, MessageBody=json.dumps(record))
        log(f"stream {trigger.name}: retries exhausted, {len(records)} records sent to {trigger.on_failure}")


# --------------------------------------------------------------------------- SQS queues and rules


class QueuePoller:
    """Receives from one moto queue and hands the messages to `deliver`."""

    def __init__(self, sqs: Any, queue_url: str, batch_size: int, deliver: Callable[[list[dict[str, Any]]], None],
                 wait_seconds: int = 1) -> None:
        self.sqs, self.queue_url, self.batch_size = sqs, queue_url, batch_size
        self.deliver, self.wait_seconds = deliver, wait_seconds

    def poll_once(self) -> int:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(self.batch_size, 10)),
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if messages:
            self.deliver(messages)
        return len(messages)


def deliver_queue_batch(trigger: QueueTrigger, sqs: Any, queue_url: str, queue_arn: str, invoker: Invoker,
                        region: str, messages: list[dict[str, Any]]) -> None:
    """The SQS batch; what succeeded is deleted, the rest comes back after its visibility timeout."""
    records = [sqs_record(m, queue_arn, region) for m in messages]
    result = invoker.invoke(trigger.target.binary, {"Records": records})
    keep: set[str] = set()
    if not result.ok:
        keep = {r["messageId"] for r in records}
    elif trigger.reports_item_failures and isinstance(result.body, dict):
        keep = {f.get("itemIdentifier") for f in result.body.get("batchItemFailures") or [] if isinstance(f, dict)}
    done = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(records) if r["messageId"] not in keep]
    if done:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=done)
    failed = f", {len(keep)} left on the queue" if keep else ""
    log(f"sqs {trigger.name} -> {trigger.target.binary}: batch of {len(records)}, {result.summary()}{failed}")


def deliver_rule_events(trigger: RuleTrigger, sqs: Any, queue_url: str, invoker: Invoker,
                        messages: list[dict[str, Any]]) -> None:
    """Each matched event, as EventBridge delivers it: one invocation per event."""
    for message in messages:
        event = json.loads(message["Body"])
        event.setdefault("account", ACCOUNT)  # moto leaves it out; EventBridge always sends it
        result = invoker.invoke(trigger.target.binary, event)
        log(f"rule {trigger.name} ({event.get('source')}/{event.get('detail-type')}) -> {trigger.target.binary}: {result.summary()}")
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def ensure_queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def install_rule(events: Any, sqs: Any, trigger: RuleTrigger, bus: str, rule_name: str) -> tuple[str, str]:
    """The template's rule in moto, targeting a queue the runner polls; (queue url, queue arn)."""
    if bus != "default":
        try:
            events.create_event_bus(Name=bus)
        except ClientError as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
    events.put_rule(Name=rule_name, EventBusName=bus, EventPattern=json.dumps(trigger.pattern), State="ENABLED")
    url, arn = ensure_queue(sqs, rule_name)
    events.put_targets(Rule=rule_name, EventBusName=bus, Targets=[{"Id": "local-trigger-runner", "Arn": arn}])
    return url, arn


# --------------------------------------------------------------------------- the runner


def local_name(triggers: Triggers, logical_id: str, stack_name: str, known: dict[str, str]) -> str:
    """A template resource's name in the local stack: the bootstrap's own names first, then
    the resource's name property with ${Stage} as the stack name, else one derived from its id."""
    if logical_id in known:
        return known[logical_id]
    if logical_id not in triggers.resources:
        return logical_id  # a literal name in the template, e.g. the `default` bus
    props = (triggers.resources.get(logical_id) or {}).get("Properties") or {}
    for key in ("QueueName", "TableName", "Name"):
        value = props.get(key)
        if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
            value = value["Fn::Sub"]
        if isinstance(value, str) and "${" not in value.replace("${Stage}", ""):
            return value.replace("${Stage}", stack_name)
    return f"doorstep-{stack_name}-{logical_id}"


def schedule_rule_name(trigger: ScheduleTrigger, stack_name: str) -> str:
    return trigger.rule_name or f"doorstep-{stack_name}-{trigger.target.function}-{trigger.name}"[:64]


class Runner:
    """Sets up every enabled trigger against the local stack, then polls until stopped."""

    def __init__(self, triggers: Triggers, *, stack_name: str, names: dict[str, str], clients: dict[str, Any],
                 invoker: Invoker, region: str, stop: threading.Event) -> None:
        self.triggers, self.stack_name, self.names = triggers, stack_name, names
        self.clients, self.invoker, self.region, self.stop = clients, invoker, region, stop
        self.pollers: list[tuple[str, Any]] = []

    def name_of(self, logical_id: str) -> str:
        return local_name(self.triggers, logical_id, self.stack_name, self.names)

    def set_up(self) -> None:
        ddb, streams, sqs, events = (self.clients[k] for k in ("dynamodb", "dynamodbstreams", "sqs", "events"))
        for trigger in self.triggers.rules:
            if trigger.enabled:
                rule_name = f"doorstep-{self.stack_name}-{trigger.target.function}-{trigger.name}"[:64]
                url, _ = install_rule(events, sqs, trigger, self.name_of(trigger.bus), rule_name)
                self.pollers.append((f"rule {trigger.name}", QueuePoller(
                    sqs, url, 10, lambda msgs, t=trigger, u=url: deliver_rule_events(t, sqs, u, self.invoker, msgs))))
        for trigger in self.triggers.queues:
            if trigger.enabled:
                url, arn = ensure_queue(sqs, self.name_of(trigger.queue))
                self.pollers.append((f"sqs {trigger.name}", QueuePoller(
                    sqs, url, trigger.batch_size,
                    lambda msgs, t=trigger, u=url, a=arn: deliver_queue_batch(t, sqs, u, a, self.invoker, self.region, msgs))))
        for trigger in self.triggers.streams:
            if not trigger.enabled:
                continue
            table = self.name_of(trigger.table)
            stream_arn = ddb.describe_table(TableName=table)["Table"].get("LatestStreamArn")
            if not stream_arn:
                raise StackError(f"table {table} has no stream (template.yaml: StreamSpecification on {trigger.table})")
            failure_url = ensure_queue(sqs, self.name_of(trigger.on_failure))[0] if trigger.on_failure else None
            self.pollers.append((f"stream {trigger.name}", StreamPoller(
                trigger, streams=streams, sqs=sqs, stream_arn=stream_arn, invoker=self.invoker, region=self.region,
                failure_queue_url=failure_url, stop=self.stop)))

    def fire(self, trigger: ScheduleTrigger, when: datetime) -> Invocation:
        return fire_schedule(trigger, when, self.invoker, self.region, schedule_rule_name(trigger, self.stack_name))

    def describe(self) -> str:
        counts = {
            "schedules": sum(s.enabled for s in self.triggers.schedules),
            "rules": sum(r.enabled for r in self.triggers.rules),
            "streams": sum(s.enabled for s in self.triggers.streams),
            "queues": sum(q.enabled for q in self.triggers.queues),
        }
        return ", ".join(f"{n} {kind}" for kind, n in counts.items())

    def run(self) -> None:
        threads = [threading.Thread(target=ScheduleLoop(self.triggers.schedules, self.fire, self.stop).run, daemon=True)]
        threads += [threading.Thread(target=self.poll_forever, args=p, daemon=True) for p in self.pollers]
        for thread in threads:
            thread.start()
        self.stop.wait()

    def poll_forever(self, label: str, poller: Any) -> None:
        while not self.stop.is_set():
            try:
                if poller.poll_once() == 0:
                    self.stop.wait(POLL_PAUSE_S)
            except Exception as exc:  # keep the other triggers running; say what broke
                print(f"triggers: {label}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                self.stop.wait(POLL_PAUSE_S * 5)
