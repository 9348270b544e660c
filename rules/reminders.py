"""When a task's reminders go out: pure arithmetic on the rule file's ``reminders``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from models.values import Risk
from rules.policy import Policy

__all__ = ["after_quiet_hours", "digest_time", "reminders_due", "next_reminder"]


def _local(hhmm: str, policy: Policy, day: date) -> datetime:
    hour, minute = (int(part) for part in hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), policy.zone).astimezone(UTC)


def after_quiet_hours(moment: datetime, *, risk: Risk, policy: Policy) -> datetime:
    """``moment``, or the end of the quiet hours it falls in (never for exempt risks)."""
    quiet = policy.rules.reminders.quiet_hours
    if quiet is None or risk in quiet.except_risks:
        return moment
    day = moment.astimezone(policy.zone).date()
    for start_day in (day - timedelta(days=1), day):
        start = _local(quiet.start, policy, start_day)
        end_day = start_day + timedelta(days=1) if quiet.end <= quiet.start else start_day
        end = _local(quiet.end, policy, end_day)
        if start <= moment < end:
            return end
    return moment


def reminders_due(due_at: datetime, *, policy: Policy) -> list[tuple[str, datetime]]:
    """Every reminder of a task due at ``due_at``, in time order: before it, and at it."""
    rules = policy.rules.reminders
    moments = [(f"before-{offset}", due_at - offset.exact()) for offset in rules.before]
    if rules.at_due:
        moments.append(("due", due_at))
    return sorted(moments, key=lambda item: item[1])


def next_reminder(
    due_at: datetime, *, after: datetime, policy: Policy
) -> tuple[str, datetime] | None:
    """The first reminder strictly after ``after`` (a task created late skips past ones)."""
    for kind, moment in reminders_due(due_at, policy=policy):
        if moment > after:
            return kind, moment
    return None


def digest_time(day: date, *, policy: Policy) -> datetime | None:
    """When the morning digest of ``day`` goes out, if there is one."""
    hhmm = policy.rules.reminders.digest_at
    return None if hhmm is None else _local(hhmm, policy, day)
