"""Which sweep flows are due at a moment, and running them: the same code for
``fengqiao sweep``, the scheduler, the demo and the Prefect flows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

import structlog
from sqlalchemy import Engine

from rules.policy import Policy
from rules.schedule import last_run, next_run
from workflows.cadence import (
    claim_run,
    finish_run,
    obligation_sweep,
    previous_window_end,
    store_reports,
)
from workflows.db import transaction
from workflows.outbox import Sender, apprise_send, deliver
from workflows.reminders import ReminderResult, remind
from workflows.sweeps import SweepResult, escalation_sweep

__all__ = ["REPORTS", "due_flows", "run_due", "run_flow"]

log = structlog.get_logger(__name__)

# The cadence flows that also store a report: flow -> (report kind, the level reported on).
REPORTS = {
    "weekly_assessment": ("weekly_assessment", "township"),
    "monthly_inspection": ("monthly_circular", "county"),
}


def due_flows(*, engine: Engine, policy: Policy, now: datetime) -> list[tuple[str, datetime]]:
    """Each cadence flow with a scheduled run at or before ``now`` that has not run yet,
    with that (latest) scheduled time."""
    due = []
    with transaction(engine) as session:
        for flow, schedule in policy.rules.schedule.items():
            if flow not in policy.rules.obligations:
                continue  # escalation, reminders and delivery run at every sweep
            scheduled = last_run(schedule, now, policy=policy)
            previous = previous_window_end(session, flow=flow)
            if scheduled is not None and (previous is None or previous < scheduled):
                due.append((flow, scheduled))
    return due


def run_flow(
    flow: str,
    *,
    engine: Engine,
    policy: Policy,
    scheduled: datetime,
    clock: Callable[[], datetime],
) -> SweepResult:
    """Run one cadence flow for its scheduled time, once: notice the obligations of its kind
    fallen due, and store the reports of every scheduled time missed since its last run.
    A run already done, or being done by another sweep, is skipped."""
    schedule = policy.rules.schedule[flow]
    result = SweepResult(flow=flow, now=scheduled)
    with transaction(engine) as session:
        previous = previous_window_end(session, flow=flow)
        run = claim_run(session, flow=flow, window_end=scheduled, started=clock())
    if run is None:
        return result
    result.merge(
        obligation_sweep(
            engine=engine,
            policy=policy,
            now=scheduled,
            obligation=flow,
        )
    )
    if flow in REPORTS:
        kind, level = REPORTS[flow]
        # Every report missed since the last run, once each; on the very first run, the latest.
        moment = next_run(schedule, previous, policy=policy) if previous else scheduled
        while moment <= scheduled:
            start, end = _period(flow, moment, policy)
            result.reports += store_reports(
                engine=engine,
                now=scheduled,
                kind=kind,
                level=level,
                period_start=start,
                period_end=end,
            )
            moment = next_run(schedule, moment, policy=policy)
    with transaction(engine) as session:
        finish_run(session, session.merge(run), result=result, finished=clock())
    return result


def _period(flow: str, moment: datetime, policy: Policy) -> tuple[datetime, datetime]:
    """The period a report at ``moment`` covers: the week before, or the month before."""
    if flow == "weekly_assessment":
        return moment - timedelta(days=7), moment
    local = moment.astimezone(policy.zone).date()
    this_month = date(local.year, local.month, 1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    return (
        datetime.combine(last_month, time(0), policy.zone),
        datetime.combine(this_month, time(0), policy.zone),
    )


def run_due(
    *,
    engine: Engine,
    policy: Policy,
    now: datetime,
    clock: Callable[[], datetime],
    smtp: str | None = None,
    send: Sender = apprise_send,
) -> list[SweepResult]:
    """Run the escalation sweep, every cadence flow that is due at ``now`` (once), the
    reminders, and deliver the outbox."""
    escalated = escalation_sweep(engine=engine, policy=policy, now=now)
    with transaction(engine) as session:
        run = claim_run(session, flow="escalation", window_end=now, started=clock())
        if run is not None:
            finish_run(session, run, result=escalated, finished=clock())
    results = [escalated]
    for flow, scheduled in due_flows(engine=engine, policy=policy, now=now):
        results.append(
            run_flow(flow, engine=engine, policy=policy, scheduled=scheduled, clock=clock)
        )
    try:
        reminded = remind(engine=engine, policy=policy, now=now)
    except Exception as exc:  # reminders failing must not stop the delivery of the rest
        log.error("flow_failed", flow="reminders", error=type(exc).__name__, detail=str(exc)[:200])
        reminded = ReminderResult()
    results.append(
        SweepResult(
            flow="reminders",
            now=now,
            examined=reminded.reminded + reminded.escalated + reminded.digests,
        )
    )
    delivered = deliver(engine=engine, policy=policy, now=now, smtp=smtp, send=send)
    results.append(
        SweepResult(flow="delivery", now=now, examined=delivered.sent, failed=delivered.dead_ids)
    )
    return results
