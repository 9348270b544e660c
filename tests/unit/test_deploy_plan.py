"""The deployments ``fengqiao deploy`` plans, without a server: each flow on the rule
file's schedule as Prefect's own schedule code fires it, named for its step, importable by
a worker, with no database URL and no time among its parameters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect.server.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.utilities.importtools import import_object

from rules.policy import Policy
from rules.schedule import last_run, next_run
from workflows.engine.deploy import plan_deployments, prefect_schedule

MONTH = (datetime(2026, 9, 25, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC))  # 国庆 inside


def _fire_times(plan_schedule: Any, start: datetime, end: datetime) -> list[datetime]:
    """When the Prefect server's scheduler would create runs, by its own schedule code."""
    if plan_schedule.interval is not None:
        server: Any = IntervalSchedule(
            interval=plan_schedule.interval,
            anchor_date=plan_schedule.anchor_date,
            timezone=plan_schedule.timezone,
        )
    else:
        server = CronSchedule(cron=plan_schedule.cron, timezone=plan_schedule.timezone)
    dates = asyncio.run(server.get_dates(n=5000, start=start, end=end))
    return [datetime.fromtimestamp(d.timestamp(), UTC) for d in dates]


def _rule_times(schedule: Any, policy: Policy, start: datetime, end: datetime) -> list[datetime]:
    """When the rule file says the flow runs, by ``rules.schedule``."""
    times, moment = [], next_run(schedule, start - timedelta(microseconds=1), policy=policy)
    while moment <= end:
        times.append(moment)
        moment = next_run(schedule, moment, policy=policy)
    return times


def test_prefect_fires_every_flow_exactly_when_the_rule_file_says_or_daily_for_calendar_days(
    policy: Policy,
) -> None:
    for plan in plan_deployments(policy):
        schedule = prefect_schedule(plan.schedule, timezone=policy.rules.timezone)
        start, end = MONTH if plan.schedule.at else (MONTH[0], MONTH[0] + timedelta(hours=3))
        fired = _fire_times(schedule, start, end)
        wanted = _rule_times(plan.schedule, policy, start, end)
        if plan.calendar_dependent:
            # Daily at the time; the cadence flow runs on its days only (checked below).
            assert set(wanted) < set(fired), plan.full_name
            assert fired[0] - start < timedelta(days=1) and end - fired[-1] < timedelta(days=1)
            assert all(b - a == timedelta(days=1) for a, b in zip(fired, fired[1:], strict=False))
        else:
            assert fired == wanted, plan.full_name


def test_a_daily_fire_on_a_holiday_finds_the_working_day_cadence_flow_not_due(
    policy: Policy,
) -> None:
    daily = policy.rules.schedule["daily_check"]
    schedule = prefect_schedule(daily, timezone=policy.rules.timezone)
    fired = _fire_times(schedule, *MONTH)
    holiday_fires = [t for t in fired if last_run(daily, t, policy=policy) != t]
    # 国庆 (Oct 1-8 minus the make-up days) and the weekends: the flow's own check says no.
    assert datetime(2026, 10, 1, 0, 0, tzinfo=UTC) in holiday_fires
    assert all(last_run(daily, t, policy=policy) < t for t in holiday_fires)


def test_deployments_carry_no_database_url_nor_time_and_workers_can_import_them(
    policy: Policy,
) -> None:
    planned = plan_deployments(policy)
    assert [p.full_name for p in planned] == [
        "escalation-sweep/fengqiao",
        "reminders/fengqiao",
        "delivery/fengqiao",
        "daily-check-sweep/fengqiao",
        "weekly-assessment-sweep/fengqiao",
        "return-visit-sweep/fengqiao",
        "half-month-review-sweep/fengqiao",
        "monthly-inspection-sweep/fengqiao",
        "report-sweep/fengqiao-weekly",
        "report-sweep/fengqiao-monthly",
    ]
    for plan in planned:
        assert not {"db", "now"} & set(plan.parameters), plan.full_name
        loaded = import_object(plan.entrypoint)
        assert loaded.name == plan.flow.name, plan.entrypoint
    assert planned[3].parameters == {"name": "daily_check"}
    assert planned[-1].parameters == {"name": "monthly"}


def test_the_escalation_sweep_split_in_parallel_gets_one_deployment_per_part(
    policy: Policy,
) -> None:
    names = [p.full_name for p in plan_deployments(policy, name="north", parallel=3)]
    assert names[:3] == [
        "escalation-sweep/north-1",
        "escalation-sweep/north-2",
        "escalation-sweep/north-3",
    ]
    assert "reminders/north" in names
