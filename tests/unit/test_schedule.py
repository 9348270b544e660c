"""The flows' schedule on calendar edges: working days, make-up days, month starts."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from rules.policy import Policy, load_policy
from rules.schedule import last_run, next_run
from rules.schema import FlowSchedule

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


def test_the_escalation_sweep_runs_every_five_minutes_on_the_clock(policy: Policy) -> None:
    every = policy.rules.schedule["escalation"]
    assert next_run(every, at(2026, 11, 2, 9, 3), policy=policy) == at(2026, 11, 2, 9, 5)
    assert next_run(every, at(2026, 11, 2, 9, 5), policy=policy) == at(2026, 11, 2, 9, 10)
    assert last_run(every, at(2026, 11, 2, 9, 5), policy=policy) == at(2026, 11, 2, 9, 5)


def test_the_daily_check_flow_skips_the_national_day_week_and_runs_on_the_make_up_saturday(
    policy: Policy,
) -> None:
    daily = policy.rules.schedule["daily_check"]
    assert next_run(daily, at(2026, 9, 30, 9, 0), policy=policy) == at(2026, 10, 8, 8, 0)
    assert next_run(daily, at(2026, 10, 9, 9, 0), policy=policy) == at(2026, 10, 10, 8, 0)
    assert last_run(daily, at(2026, 10, 5, 12, 0), policy=policy) == at(2026, 9, 30, 8, 0)


def test_the_monthly_inspection_runs_on_the_first_working_day_of_the_month(policy: Policy) -> None:
    monthly = policy.rules.schedule["monthly_inspection"]
    assert next_run(monthly, at(2026, 9, 15), policy=policy) == at(2026, 10, 8, 9, 0)
    assert next_run(monthly, at(2026, 10, 31), policy=policy) == at(2026, 11, 2, 9, 0)
    assert next_run(monthly, at(2026, 1, 15), policy=policy) == at(2026, 2, 2, 9, 0)


def test_the_half_month_review_runs_on_the_1st_and_16th(policy: Policy) -> None:
    half = policy.rules.schedule["half_month_review"]
    assert next_run(half, at(2026, 11, 2), policy=policy) == at(2026, 11, 16, 9, 0)
    assert next_run(half, at(2026, 11, 16, 9, 0), policy=policy) == at(2026, 12, 1, 9, 0)


def test_the_weekly_assessment_runs_on_mondays(policy: Policy) -> None:
    weekly = policy.rules.schedule["weekly_assessment"]
    assert next_run(weekly, at(2026, 11, 2, 9, 30), policy=policy) == at(2026, 11, 9, 9, 0)
    assert last_run(weekly, at(2026, 11, 8), policy=policy) == at(2026, 11, 2, 9, 0)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"every": "5m", "at": "08:00"}, "either 'every'"),
        ({}, "either 'every'"),
        ({"every": "1d"}, "hours or minutes"),
        ({"at": "8:00"}, "String should match pattern"),
        ({"at": "08:00", "days": [29]}, "less than or equal to 28"),
    ],
)
def test_a_bad_schedule_is_refused(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FlowSchedule.model_validate(raw)
