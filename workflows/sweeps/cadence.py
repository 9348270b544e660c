"""The cadence sweeps (日排查化解、周研判、十日回访、半月调度、月督查通报).

Each notices the obligations of its kind that have fallen due and are still owed (their
tasks already exist: tasks follow obligations as they are written); a report's flow (the
rule file's ``reports``) stores its reports. Running twice at the same moment does nothing
the second time, and running rarely notices the same obligations as running often.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog
from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import Dispute, Obligation
from rules.policy import Policy
from rules.schedule import next_run
from workflows.db import transaction
from workflows.reports import store_reports
from workflows.runs import SweepResult, claim_run, finish_run, previous_window_end
from workflows.sweeps.escalation import BATCH
from workflows.sweeps.unit_tasks import open_unit_tasks

__all__ = ["obligation_sweep", "run_cadence"]

log = structlog.get_logger(__name__)


def obligation_sweep(
    *, engine: Engine, policy: Policy, now: datetime, obligation: str
) -> SweepResult:
    """Notice every ``obligation`` that has fallen due by ``now`` and is still owed.

    Each is noticed once per due time (``overdue_noted``), logged per unit without personal
    data, and counted; its task is already open (tasks follow obligations as they are
    written). Obligations are claimed by the index on (kind, overdue_noted, due_at), with
    ``SKIP LOCKED`` on PostgreSQL, so concurrent sweeps share the work and the cost follows
    what falls due, not what is open.
    """
    result = SweepResult(flow=obligation, now=now)
    per_unit: dict[str, int] = {}
    while True:
        with transaction(engine) as session:
            rows = session.exec(
                select(Obligation, Dispute.unit_code)
                .join(Dispute, col(Dispute.id) == col(Obligation.dispute_id))
                .where(
                    Obligation.kind == obligation,
                    col(Obligation.overdue_noted).is_(False),
                    col(Obligation.due_at) <= now,
                )
                .order_by(col(Obligation.due_at), col(Obligation.id))
                .limit(BATCH)
                .with_for_update(skip_locked=True, of=Obligation)
            ).all()
            if not rows:
                break
            for owed, unit in rows:
                owed.overdue_noted = True
                session.add(owed)
                per_unit[unit] = per_unit.get(unit, 0) + 1
            result.examined += len(rows)
    if per_unit:
        log.info("obligations_overdue", flow=obligation, units=per_unit)
    log.info("sweep_finished", **result.as_dict())
    return result


def run_cadence(
    flow: str,
    *,
    engine: Engine,
    policy: Policy,
    scheduled: datetime,
    clock: Callable[[], datetime],
) -> SweepResult:
    """Run one cadence flow for its scheduled time, once: notice the obligations of its kind
    fallen due (an obligation's flow), and, for every scheduled time missed since its last
    run, open the units' tasks it opens, or store its reports (a report's flow). A run
    already done, or being done by another sweep, is skipped."""
    schedule = policy.rules.schedule[flow]
    result = SweepResult(flow=flow, now=scheduled)
    with transaction(engine) as session:
        previous = previous_window_end(session, flow=flow)
        run = claim_run(session, flow=flow, window_end=scheduled, started=clock())
    if run is None:
        return result
    if flow in policy.rules.obligations:
        result.merge(obligation_sweep(engine=engine, policy=policy, now=scheduled, obligation=flow))
    # Every scheduled time missed since the last run, once each; on the very first run, the
    # latest: each stores its reports, and each day opens its units' tasks.
    moments = []
    moment = next_run(schedule, previous, policy=policy) if previous else scheduled
    while moment <= scheduled:
        moments.append(moment)
        moment = next_run(schedule, moment, policy=policy)
    days = {m.astimezone(policy.zone).date(): m for m in reversed(moments)}  # each day's first
    if policy.rules.unit_obligations:
        with transaction(engine) as session:
            for first in sorted(days.values()):
                open_unit_tasks(session, policy=policy, flow=flow, scheduled=first, now=first)
    if flow in policy.rules.reports:
        result.reports += store_reports(
            engine=engine, policy=policy, name=flow, moments=moments, now=scheduled
        )
    with transaction(engine) as session:
        finish_run(session, session.merge(run), result=result, finished=clock())
    return result
