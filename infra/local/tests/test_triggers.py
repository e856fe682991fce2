"""The trigger runner without emulators: reading the template, next fire times, payload shapes."""

import unittest
from datetime import datetime, timedelta, timezone
from pathlib import Path

from doorstep_stack.config import StackError
from doorstep_stack.payloads import scheduled_event, sqs_record, stream_record
from doorstep_stack.runner import local_name
from doorstep_stack.schedules import parse_expression
from doorstep_stack.template import load_template
from doorstep_stack.triggers import Target, parse_triggers

FIXTURE = Path(__file__).parent / "fixtures" / "triggers.yaml"
UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def fires(expression: str, after: str, count: int = 3, tz: str = "UTC") -> list[str]:
    schedule = parse_expression(expression, tz)
    anchor = when = at(after)
    out = []
    for _ in range(count):
        when = schedule.next_fire(when, anchor)
        out.append(when.strftime("%Y-%m-%d %H:%M %a"))
    return out


class TemplateTriggers(unittest.TestCase):
    def setUp(self) -> None:
        self.triggers = parse_triggers(load_template(str(FIXTURE)))
        self.jobs = Target("JobsFunction", "jobs")

    def test_schedules_with_their_expression_input_and_state(self) -> None:
        by_name = {s.name: s for s in self.triggers.schedules}
        self.assertEqual(sorted(by_name), ["Hourly", "Nightly", "Paused"])
        nightly, hourly, paused = by_name["Nightly"], by_name["Hourly"], by_name["Paused"]
        self.assertEqual((nightly.kind, nightly.expression, nightly.enabled, nightly.input), ("Schedule", "cron(30 2 * * ? *)", True, None))
        self.assertEqual((hourly.kind, hourly.input, hourly.target), ("ScheduleV2", {"job": "hourly"}, self.jobs))
        self.assertFalse(paused.enabled)

    def test_rule_stream_and_queue_sources(self) -> None:
        (rule,) = self.triggers.rules
        self.assertEqual((rule.name, rule.bus, rule.target), ("LeaseSigned", "EventBus", self.jobs))
        self.assertEqual(rule.pattern, {"source": ["doorstep.leases"], "detail-type": ["lease.signed"]})
        (stream,) = self.triggers.streams
        self.assertEqual(
            (stream.table, stream.starting_position, stream.batch_size, stream.maximum_retry_attempts, stream.on_failure),
            ("Table", "TRIM_HORIZON", 25, 2, "ChangesFailed"),
        )
        self.assertTrue(stream.reports_item_failures)
        (queue,) = self.triggers.queues
        self.assertEqual((queue.queue, queue.batch_size, queue.reports_item_failures), ("WorkQueue", 5, True))

    def test_http_events_are_left_to_cargo_lambda_watch(self) -> None:
        self.assertEqual(len(self.triggers.all()), 6)

    def test_a_schedule_is_found_by_its_id_or_its_function(self) -> None:
        self.assertEqual([s.name for s in self.triggers.schedules_named("Nightly")], ["Nightly"])
        self.assertEqual(len(self.triggers.schedules_named("JobsFunction")), 3)
        self.assertEqual(self.triggers.schedules_named("Nope"), [])

    def test_a_stream_must_come_from_a_table_of_the_template(self) -> None:
        template = load_template(str(FIXTURE))
        broken = {**template, "Resources": {**template["Resources"]}}
        function = broken["Resources"]["JobsFunction"]
        events = {**function["Properties"]["Events"]}
        events["Changes"] = {"Type": "DynamoDB", "Properties": {"Stream": {"Fn::GetAtt": ["WorkQueue", "Arn"]}}}
        broken["Resources"]["JobsFunction"] = {**function, "Properties": {**function["Properties"], "Events": events}}
        with self.assertRaisesRegex(StackError, "JobsFunction.Events.Changes"):
            parse_triggers(broken)

    def test_resources_get_their_local_names(self) -> None:
        known = {"Table": "doorstep-dev", "EventBus": "doorstep-dev"}
        names = {r: local_name(self.triggers, r, "dev", known) for r in ("Table", "ChangesFailed", "WorkQueue", "default")}
        self.assertEqual(names, {
            "Table": "doorstep-dev",
            "ChangesFailed": "doorstep-dev-changes-failed",
            "WorkQueue": "doorstep-dev-WorkQueue",
            "default": "default",
        })

    def test_the_project_template_parses(self) -> None:
        parse_triggers(load_template())


class NextFireTimes(unittest.TestCase):
    def test_daily_cron_in_utc(self) -> None:
        self.assertEqual(fires("cron(30 2 * * ? *)", "2026-03-01T02:30:00"), ["2026-03-02 02:30 Mon", "2026-03-03 02:30 Tue", "2026-03-04 02:30 Wed"])

    def test_weekdays_steps_and_lists(self) -> None:
        self.assertEqual(fires("cron(0/20 9 ? * MON-FRI *)", "2026-03-06T09:30:00", 4), ["2026-03-06 09:40 Fri", "2026-03-09 09:00 Mon", "2026-03-09 09:20 Mon", "2026-03-09 09:40 Mon"])
        self.assertEqual(fires("cron(0 8,17 1,15 * ? *)", "2026-02-15T12:00:00"), ["2026-02-15 17:00 Sun", "2026-03-01 08:00 Sun", "2026-03-01 17:00 Sun"])

    def test_last_day_nearest_weekday_and_nth_weekday(self) -> None:
        self.assertEqual(fires("cron(0 0 L * ? *)", "2028-01-31T00:00:00", 2), ["2028-02-29 00:00 Tue", "2028-03-31 00:00 Fri"])
        # The 1st of Aug 2026 is a Saturday: its nearest weekday in the month is Monday the 3rd.
        self.assertEqual(fires("cron(0 6 1W * ? *)", "2026-07-15T00:00:00", 2), ["2026-08-03 06:00 Mon", "2026-09-01 06:00 Tue"])
        self.assertEqual(fires("cron(0 10 ? * 2#1 *)", "2026-01-01T00:00:00", 2), ["2026-01-05 10:00 Mon", "2026-02-02 10:00 Mon"])
        self.assertEqual(fires("cron(0 10 ? * 6L *)", "2026-01-01T00:00:00", 2), ["2026-01-30 10:00 Fri", "2026-02-27 10:00 Fri"])

    def test_months_years_and_a_cron_that_has_run_out(self) -> None:
        self.assertEqual(fires("cron(0 0 1 JAN,JUL ? 2026-2027)", "2026-06-30T00:00:00", 3), ["2026-07-01 00:00 Wed", "2027-01-01 00:00 Fri", "2027-07-01 00:00 Thu"])
        schedule = parse_expression("cron(0 0 1 1 ? 2020)")
        self.assertIsNone(schedule.next_fire(at("2026-01-01T00:00:00"), at("2026-01-01T00:00:00")))

    def test_a_scheduler_cron_in_its_time_zone(self) -> None:
        # 09:00 in New York is 14:00 UTC in winter and 13:00 UTC in summer.
        self.assertEqual(fires("cron(0 9 * * ? *)", "2026-03-06T15:00:00", 3, "America/New_York"), ["2026-03-07 14:00 Sat", "2026-03-08 13:00 Sun", "2026-03-09 13:00 Mon"])

    def test_rates_count_from_the_start(self) -> None:
        schedule = parse_expression("rate(5 minutes)")
        anchor = at("2026-03-01T10:00:07")
        self.assertEqual(schedule.next_fire(anchor, anchor), anchor + timedelta(minutes=5))
        self.assertEqual(schedule.next_fire(at("2026-03-01T10:12:00"), anchor), anchor + timedelta(minutes=15))
        self.assertEqual(parse_expression("rate(1 day)").next_fire(anchor, anchor), anchor + timedelta(days=1))

    def test_a_one_time_schedule_fires_once(self) -> None:
        schedule = parse_expression("at(2026-05-01T12:00:00)")
        self.assertEqual(schedule.next_fire(at("2026-04-01T00:00:00"), at("2026-04-01T00:00:00")), at("2026-05-01T12:00:00"))
        self.assertIsNone(schedule.next_fire(at("2026-05-01T12:00:00"), at("2026-04-01T00:00:00")))

    def test_bad_expressions_are_refused_with_the_expression(self) -> None:
        for bad in ("rate(5 minute)", "rate(1 minutes)", "rate(0 days)", "cron(0 9 * * *)", "cron(0 9 * * MON *)",
                    "cron(61 9 * * ? *)", "cron(0 9 ? * 8 *)", "every day"):
            with self.subTest(bad), self.assertRaisesRegex(StackError, "schedule expression"):
                parse_expression(bad)


class PayloadShapes(unittest.TestCase):
    def test_the_scheduled_event(self) -> None:
        event = scheduled_event("Schedule", "doorstep-dev-JobsFunction-Nightly", at("2026-03-02T02:30:00"), "us-east-1")
        self.assertRegex(event.pop("id"), r"^[0-9a-f-]{36}$")
        self.assertEqual(event, {
            "version": "0",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2026-03-02T02:30:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/doorstep-dev-JobsFunction-Nightly"],
            "detail": {},
        })
        v2 = scheduled_event("ScheduleV2", "hourly", at("2026-03-02T02:30:00"), "us-east-1")
        self.assertEqual((v2["source"], v2["resources"]), ("aws.scheduler", ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/hourly"]))

    def test_a_stream_record(self) -> None:
        raw = {
            "eventID": "e1", "eventName": "MODIFY", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "ddblocal",
            "dynamodb": {
                "ApproximateCreationDateTime": at("2026-03-02T02:30:00"),
                "Keys": {"PK": {"S": "ORG#1"}},
                "NewImage": {"PK": {"S": "ORG#1"}, "blob": {"B": b"\x00\x01"}, "n": {"N": "2"}},
                "OldImage": {"PK": {"S": "ORG#1"}, "n": {"N": "1"}},
                "SequenceNumber": "000001", "SizeBytes": 40, "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
        }
        self.assertEqual(stream_record(raw, "arn:stream", "us-east-1"), {
            "eventID": "e1", "eventName": "MODIFY", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1772418600,
                "Keys": {"PK": {"S": "ORG#1"}},
                "NewImage": {"PK": {"S": "ORG#1"}, "blob": {"B": "AAE="}, "n": {"N": "2"}},
                "OldImage": {"PK": {"S": "ORG#1"}, "n": {"N": "1"}},
                "SequenceNumber": "000001", "SizeBytes": 40, "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
            "eventSourceARN": "arn:stream",
        })

    def test_a_stream_record_carries_empty_maps_as_maps(self) -> None:
        # DynamoDB Local's stream writes an empty map as {}; Lambda would deliver {"M": {}}.
        raw = {
            "eventID": "e2", "eventName": "INSERT",
            "dynamodb": {
                "Keys": {"PK": {"S": "ORG#1"}},
                "NewImage": {"PK": {"S": "ORG#1"}, "occupancy": {}, "nested": {"M": {"inner": {}}}, "list": {"L": [{}]}},
                "SequenceNumber": "000002", "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
        }
        image = stream_record(raw, "arn:stream", "us-east-1")["dynamodb"]["NewImage"]
        self.assertEqual(image, {
            "PK": {"S": "ORG#1"}, "occupancy": {"M": {}}, "nested": {"M": {"inner": {"M": {}}}}, "list": {"L": [{"M": {}}]},
        })

    def test_an_sqs_record(self) -> None:
        message = {
            "MessageId": "m1", "ReceiptHandle": "rh", "Body": "hello", "MD5OfBody": "5d41402abc4b2a76b9719d911017c592",
            "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1", "SenderId": "s", "ApproximateFirstReceiveTimestamp": "2"},
            "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "x"}},
        }
        self.assertEqual(sqs_record(message, "arn:aws:sqs:us-east-1:123456789012:work", "us-east-1"), {
            "messageId": "m1", "receiptHandle": "rh", "body": "hello",
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1", "SenderId": "s", "ApproximateFirstReceiveTimestamp": "2"},
            "messageAttributes": {"kind": {"dataType": "String", "stringValue": "x"}},
            "md5OfBody": "5d41402abc4b2a76b9719d911017c592",
            "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:work", "awsRegion": "us-east-1",
        })
