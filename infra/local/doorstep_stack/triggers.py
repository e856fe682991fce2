"""The triggers template.yaml declares on its functions, as the runner needs them.

Read from each `AWS::Serverless::Function`'s `Events`: `Schedule` / `ScheduleV2`,
`EventBridgeRule`, `DynamoDB` (stream) and `SQS`. Other event types (HttpApi) are
served by `cargo lambda watch` itself. Resources are named by logical id; the runner
maps them to the local stack's tables, buses and queues.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .config import StackError
from .schedules import At, Cron, Rate, parse_expression

DEFAULT_BUS = "default"


@dataclass(frozen=True)
class Target:
    """The function a trigger invokes: its logical id and its `cargo lambda` binary."""

    function: str
    binary: str


@dataclass(frozen=True)
class ScheduleTrigger:
    name: str  # the event's logical id under the function's Events
    target: Target
    kind: str  # "Schedule" (EventBridge rule) or "ScheduleV2" (EventBridge Scheduler)
    expression: str
    schedule: Rate | Cron | At
    enabled: bool
    input: Any = None  # the JSON the schedule sends instead of the scheduled event
    rule_name: str | None = None  # `Name`, when the template gives one


@dataclass(frozen=True)
class RuleTrigger:
    name: str
    target: Target
    pattern: dict[str, Any]
    bus: str  # logical id of a template bus, or a literal bus name
    enabled: bool = True


@dataclass(frozen=True)
class StreamTrigger:
    name: str
    target: Target
    table: str  # logical id of the table whose stream feeds the function
    starting_position: str = "LATEST"
    batch_size: int = 100
    response_types: tuple[str, ...] = ()
    maximum_retry_attempts: int = -1  # AWS's default: retry until the record expires
    on_failure: str | None = None  # logical id of the on-failure SQS queue
    enabled: bool = True

    @property
    def reports_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.response_types


@dataclass(frozen=True)
class QueueTrigger:
    name: str
    target: Target
    queue: str  # logical id of the queue
    batch_size: int = 10
    response_types: tuple[str, ...] = ()
    enabled: bool = True

    @property
    def reports_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.response_types


Trigger = ScheduleTrigger | RuleTrigger | StreamTrigger | QueueTrigger


@dataclass
class Triggers:
    schedules: list[ScheduleTrigger] = field(default_factory=list)
    rules: list[RuleTrigger] = field(default_factory=list)
    streams: list[StreamTrigger] = field(default_factory=list)
    queues: list[QueueTrigger] = field(default_factory=list)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)

    def all(self) -> list[Trigger]:
        return [*self.schedules, *self.rules, *self.streams, *self.queues]

    def schedules_named(self, name: str) -> list[ScheduleTrigger]:
        """The schedules whose event or function has this logical id (or binary name)."""
        return [s for s in self.schedules if name in (s.name, s.target.function, s.target.binary)]


def referenced_resource(value: Any) -> str | None:
    """Logical id behind `!Ref X`, `!GetAtt X.Attr` or `!GetAtt [X, Attr]`; None for literals."""
    if isinstance(value, dict) and len(value) == 1:
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return str(att[0] if isinstance(att, list) else str(att).split(".", 1)[0])
    return None


def parse_triggers(template: dict[str, Any]) -> Triggers:
    resources = template.get("Resources") or {}
    found = Triggers(resources=resources)
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        events = (resource.get("Properties") or {}).get("Events") or {}
        target = None
        for event_name, event in events.items():
            kind, props = event.get("Type"), event.get("Properties") or {}
            if kind not in ("Schedule", "ScheduleV2", "EventBridgeRule", "DynamoDB", "SQS"):
                continue
            target = target or Target(logical_id, binary_of(logical_id, resource))
            where = f"{logical_id}.Events.{event_name}"
            try:
                parse_event(found, event_name, kind, props, target, resources)
            except (KeyError, TypeError, ValueError) as exc:
                raise StackError(f"template.yaml {where}: {exc!r}") from None
            except StackError as exc:
                raise StackError(f"template.yaml {where}: {exc}") from None
    return found


def binary_of(logical_id: str, resource: dict[str, Any]) -> str:
    binary = ((resource.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
    if not binary:
        raise StackError(f"template.yaml {logical_id}: Metadata.BuildProperties.Binary names no binary")
    return str(binary)


def parse_event(
    found: Triggers, name: str, kind: str, props: dict[str, Any], target: Target, resources: dict[str, Any]
) -> None:
    if kind in ("Schedule", "ScheduleV2"):
        v2 = kind == "ScheduleV2"
        expression = props["ScheduleExpression" if v2 else "Schedule"]
        tz = props.get("ScheduleExpressionTimezone", "UTC") if v2 else "UTC"
        schedule = parse_expression(expression, tz)
        if isinstance(schedule, At) and not v2:
            raise StackError("at(...) expressions need ScheduleV2")
        state = props.get("State", "ENABLED")
        enabled = bool(props.get("Enabled", True)) and state == "ENABLED"
        raw_input = props.get("Input")
        found.schedules.append(
            ScheduleTrigger(
                name, target, kind, expression, schedule, enabled,
                json.loads(raw_input) if isinstance(raw_input, str) else raw_input,
                props.get("Name"),
            )
        )
    elif kind == "EventBridgeRule":
        pattern = props["Pattern"]
        bus = props.get("EventBusName", DEFAULT_BUS)
        state = props.get("State", "ENABLED")
        found.rules.append(RuleTrigger(name, target, pattern, referenced_resource(bus) or str(bus), state == "ENABLED"))
    elif kind == "DynamoDB":
        table = resource_of_type(props["Stream"], "AWS::DynamoDB::Table", resources)
        on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        found.streams.append(
            StreamTrigger(
                name,
                target,
                table,
                starting_position=props.get("StartingPosition", "LATEST"),
                batch_size=int(props.get("BatchSize", 100)),
                response_types=tuple(props.get("FunctionResponseTypes") or ()),
                maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                on_failure=resource_of_type(on_failure, "AWS::SQS::Queue", resources) if on_failure else None,
                enabled=bool(props.get("Enabled", True)),
            )
        )
    else:  # SQS
        found.queues.append(
            QueueTrigger(
                name,
                target,
                resource_of_type(props["Queue"], "AWS::SQS::Queue", resources),
                batch_size=int(props.get("BatchSize", 10)),
                response_types=tuple(props.get("FunctionResponseTypes") or ()),
                enabled=bool(props.get("Enabled", True)),
            )
        )


def resource_of_type(value: Any, kind: str, resources: dict[str, Any]) -> str:
    logical_id = referenced_resource(value)
    if logical_id is None or (resources.get(logical_id) or {}).get("Type") != kind:
        raise StackError(f"{json.dumps(value)} must reference a {kind} of this template")
    return logical_id
