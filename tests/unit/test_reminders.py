"""Reminder timing on a fixed clock: offsets before the due time, quiet hours, the digest."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from models.values import Risk
from rules.policy import Policy, load_policy
from rules.reminders import after_quiet_hours, digest_time, next_reminder, reminders_due

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


def test_a_task_is_reminded_24h_and_2h_before_its_due_time_and_at_it(policy: Policy) -> None:
    due = at(2026, 11, 5, 0, 0)
    assert reminders_due(due, policy=policy) == [
        ("before-24h", at(2026, 11, 4, 0, 0)),
        ("before-2h", at(2026, 11, 4, 22, 0)),
        ("due", due),
    ]


def test_a_task_created_late_skips_the_reminders_already_past(policy: Policy) -> None:
    due = at(2026, 11, 5, 0, 0)
    assert next_reminder(due, after=at(2026, 11, 4, 12, 0), policy=policy) == (
        "before-2h",
        at(2026, 11, 4, 22, 0),
    )
    assert next_reminder(due, after=due, policy=policy) is None


def test_a_reminder_in_quiet_hours_waits_for_the_morning(policy: Policy) -> None:
    assert after_quiet_hours(at(2026, 11, 4, 22, 0), risk=Risk.low, policy=policy) == at(
        2026, 11, 5, 7, 0
    )
    assert after_quiet_hours(at(2026, 11, 5, 3, 0), risk=Risk.medium, policy=policy) == at(
        2026, 11, 5, 7, 0
    )
    assert after_quiet_hours(at(2026, 11, 5, 7, 0), risk=Risk.low, policy=policy) == at(
        2026, 11, 5, 7, 0
    )


def test_a_high_risk_reminder_goes_out_at_night(policy: Policy) -> None:
    assert after_quiet_hours(at(2026, 11, 4, 23, 0), risk=Risk.high, policy=policy) == at(
        2026, 11, 4, 23, 0
    )


def test_the_morning_digest_goes_out_at_eight_local(policy: Policy) -> None:
    assert digest_time(date(2026, 11, 5), policy=policy) == at(2026, 11, 5, 8, 0)
