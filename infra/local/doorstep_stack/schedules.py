"""EventBridge schedule expressions: `cron(...)`, `rate(...)` and (Scheduler only) `at(...)`.

`next_fire(after, anchor)` is pure: the runner passes the clock in, so tests need no waiting.
Cron fields are AWS's six: minutes hours day-of-month month day-of-week year, with
`* ? , - /`, `L` and `W` in day-of-month, `L` and `#` in day-of-week (1 = SUN).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from .config import StackError

UTC = timezone.utc
MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
SEARCH_DAYS = 366 * 5  # a cron that matches nothing in five years never fires


@dataclass(frozen=True)
class Rate:
    period: timedelta

    def next_fire(self, after: datetime, anchor: datetime) -> datetime | None:
        """First anchor + k*period (k >= 1) strictly after `after`; AWS counts from the rule's creation."""
        steps = max(1, int((after - anchor) // self.period) + 1)
        return anchor + steps * self.period


@dataclass(frozen=True)
class At:
    when: datetime

    def next_fire(self, after: datetime, anchor: datetime) -> datetime | None:
        return self.when if self.when > after else None


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    day_of_month: str
    months: frozenset[int]
    day_of_week: str
    years: frozenset[int]
    tz: str = "UTC"

    def next_fire(self, after: datetime, anchor: datetime) -> datetime | None:
        zone = ZoneInfo(self.tz)
        local = after.astimezone(zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = local.date()
        for _ in range(SEARCH_DAYS):
            if day.year in self.years and day.month in self.months and self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                        if candidate >= local:
                            return candidate.astimezone(UTC)
            day += timedelta(days=1)
        return None

    def _day_matches(self, day: date) -> bool:
        return day_of_month_matches(self.day_of_month, day) and day_of_week_matches(self.day_of_week, day)


def parse_expression(expression: str, tz: str = "UTC") -> Rate | Cron | At:
    match = re.fullmatch(r"\s*(rate|cron|at)\((.*)\)\s*", expression)
    if not match:
        raise StackError(f"schedule expression {expression!r}: expected rate(...), cron(...) or at(...)")
    kind, body = match.groups()
    try:
        if kind == "rate":
            return parse_rate(body)
        if kind == "at":
            return At(datetime.fromisoformat(body).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC))
        return parse_cron(body, tz)
    except (ValueError, KeyError) as exc:
        raise StackError(f"schedule expression {expression!r}: {exc}") from None


def parse_rate(body: str) -> Rate:
    value, _, unit = body.strip().partition(" ")
    count, unit = int(value), unit.strip()
    # AWS insists on "1 minute" but "5 minutes".
    if count < 1 or unit.rstrip("s") not in RATE_UNITS or (unit.endswith("s") != (count != 1)):
        raise ValueError("expected rate(1 minute|hour|day) or rate(N minutes|hours|days)")
    return Rate(timedelta(seconds=count * RATE_UNITS[unit.rstrip("s")]))


def parse_cron(body: str, tz: str) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise ValueError("cron needs six fields: minutes hours day-of-month month day-of-week year")
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ValueError("exactly one of day-of-month and day-of-week must be '?'")
    ZoneInfo(tz)  # unknown zones fail here, not at the first fire
    for text in dom.split(","):
        check_day_of_month(text)
    for text in dow.split(","):
        check_day_of_week(text)
    return Cron(
        minutes=values(minutes, 0, 59),
        hours=values(hours, 0, 23),
        day_of_month=dom,
        months=values(month, 1, 12, MONTHS),
        day_of_week=dow,
        years=values(year, 1970, 2199),
        tz=tz,
    )


def values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """The numbers a `* , - /` field selects."""
    out: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = number(a, names), number(b, names)
        else:
            start = number(base, names)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or step < 1:
            raise ValueError(f"{part!r} is outside {low}-{high}")
        out.update(range(start, end + 1, step))
    return frozenset(out)


def number(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    return int(text)


def check_day_of_month(text: str) -> None:
    if text in ("?", "L", "LW") or re.fullmatch(r"\d{1,2}W", text):
        return
    values(text, 1, 31)


def check_day_of_week(text: str) -> None:
    if text == "?" or re.fullmatch(r"[1-7]L|[1-7]#[1-5]", text):
        return
    values(text, 1, 7, DAYS)


def aws_weekday(day: date) -> int:
    """1 = Sunday ... 7 = Saturday, as AWS cron counts."""
    return (day.weekday() + 1) % 7 + 1


def day_of_month_matches(field: str, day: date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    for part in field.split(","):
        if part == "?":
            return True
        if part == "L":
            if day.day == last:
                return True
        elif part.endswith("W"):
            target = last if part == "LW" else min(int(part[:-1]), last)
            if day == nearest_weekday(date(day.year, day.month, target)):
                return True
        elif day.day in values(part, 1, 31):
            return True
    return False


def nearest_weekday(day: date) -> date:
    """The weekday nearest `day` within its month (Saturday -> Friday, Sunday -> Monday)."""
    if day.weekday() == 5:
        return day - timedelta(days=1) if day.day > 1 else day + timedelta(days=2)
    if day.weekday() == 6:
        last = calendar.monthrange(day.year, day.month)[1]
        return day + timedelta(days=1) if day.day < last else day - timedelta(days=2)
    return day


def day_of_week_matches(field: str, day: date) -> bool:
    weekday = aws_weekday(day)
    last = calendar.monthrange(day.year, day.month)[1]
    for part in field.split(","):
        if part == "?":
            return True
        if part.endswith("L") and len(part) == 2:
            if weekday == int(part[0]) and day.day + 7 > last:
                return True
        elif "#" in part:
            wanted, nth = part.split("#")
            if weekday == int(wanted) and (day.day - 1) // 7 + 1 == int(nth):
                return True
        elif weekday in values(part, 1, 7, DAYS):
            return True
    return False
