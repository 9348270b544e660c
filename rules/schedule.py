"""When the sweep flows run, from the rule file's ``schedule``: pure date arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from rules.policy import Policy
from rules.schema import WEEKDAYS, FlowSchedule

__all__ = ["last_run", "next_run", "runs_on"]

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_SEARCH_DAYS = 400  # every schedule runs at least once a year


def runs_on(schedule: FlowSchedule, day: date, *, policy: Policy) -> bool:
    """True if an ``at`` schedule runs on the local date ``day``."""
    days = schedule.days
    if days == "every":
        return True
    if days == "working":
        return policy.calendar.is_workday(day)
    if days == "first_working_day":
        return day == policy.calendar.first_workday_on_or_after(day.replace(day=1))
    if all(isinstance(d, str) for d in days):
        return WEEKDAYS[day.weekday()] in days
    return day.day in days


def next_run(schedule: FlowSchedule, after: datetime, *, policy: Policy) -> datetime:
    """The first run strictly after ``after``."""
    if schedule.every is not None:
        period = schedule.every.exact()
        return _EPOCH + period * ((after - _EPOCH) // period + 1)
    start = after.astimezone(policy.zone).date()
    for offset in range(_SEARCH_DAYS):
        moment = _at(schedule, start + timedelta(days=offset), policy)
        if moment is not None and moment > after:
            return moment
    raise ValueError(f"schedule {schedule} does not run within {_SEARCH_DAYS} days")


def last_run(schedule: FlowSchedule, until: datetime, *, policy: Policy) -> datetime | None:
    """The latest run at or before ``until``, or None if there is none within a year."""
    if schedule.every is not None:
        period = schedule.every.exact()
        return _EPOCH + period * ((until - _EPOCH) // period)
    start = until.astimezone(policy.zone).date()
    for offset in range(_SEARCH_DAYS):
        moment = _at(schedule, start - timedelta(days=offset), policy)
        if moment is not None and moment <= until:
            return moment
    return None


def _at(schedule: FlowSchedule, day: date, policy: Policy) -> datetime | None:
    if schedule.at is None or not runs_on(schedule, day, policy=policy):
        return None
    hour, minute = (int(part) for part in schedule.at.split(":"))
    return datetime.combine(day, time(hour, minute), policy.zone).astimezone(UTC)
