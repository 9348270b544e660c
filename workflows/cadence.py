"""The cadence sweeps (日排查化解、周研判、十日回访、半月调度、月督查通报).

Each turns the obligations of one kind that fell due in its window into tasks for whoever
is responsible, and the weekly and monthly ones also store their reports. A run covers the
due times after the previous run's window, up to ``now``: running twice at the same moment
does nothing the second time, and running rarely covers the same due times as running often.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import Engine, and_, func, or_
from sqlmodel import Session, col, select

from models.tables import Dispute, Escalation, FlowRun, Obligation, Report, Task, Unit
from models.values import Level
from rules.policy import Policy
from workflows.db import insert_ignoring_duplicates, transaction
from workflows.sweeps import BATCH, SweepResult
from workflows.tasks import person_target, unit_target

__all__ = [
    "FIRST_WINDOW",
    "finish_run",
    "obligation_sweep",
    "previous_window_end",
    "responsible",
    "start_run",
    "store_reports",
]

log = structlog.get_logger(__name__)

# A flow's first run looks back this far for due times it has not turned into tasks.
FIRST_WINDOW = timedelta(days=31)


def responsible(dispute: Dispute) -> str:
    """Who a dispute's tasks go to: at village, its assignee (or the village's mediators);
    at township and county, the supervisors of the responsible unit."""
    if dispute.level == Level.village and dispute.assignee:
        return person_target(dispute.assignee)
    return unit_target(dispute.unit_code)


def previous_window_end(session: Session, *, flow: str) -> datetime | None:
    return session.exec(
        select(func.max(FlowRun.window_end)).where(
            FlowRun.flow == flow, col(FlowRun.finished_at).is_not(None)
        )
    ).one()


def start_run(session: Session, *, flow: str, now: datetime, started: datetime) -> FlowRun:
    run = FlowRun(flow=flow, window_end=now, started_at=started)
    session.add(run)
    session.flush()
    return run


def finish_run(session: Session, run: FlowRun, *, result: SweepResult, finished: datetime) -> None:
    run.finished_at, run.result = finished, result.as_dict()
    session.add(run)


def obligation_sweep(
    *, engine: Engine, policy: Policy, now: datetime, obligation: str, since: datetime | None
) -> SweepResult:
    """Open a task for every ``obligation`` that fell due in (since, now]."""
    result = SweepResult(flow=obligation, now=now)
    start = since if since is not None else now - FIRST_WINDOW
    cursor: tuple[datetime, int] | None = None
    while True:
        with transaction(engine) as session:
            query = (
                select(Obligation.due_at, Obligation.id, Dispute)
                .join(Dispute, col(Dispute.id) == col(Obligation.dispute_id))
                .where(
                    Obligation.kind == obligation,
                    col(Obligation.due_at) > start,
                    col(Obligation.due_at) <= now,
                )
            )
            if cursor is not None:
                query = query.where(
                    or_(
                        col(Obligation.due_at) > cursor[0],
                        and_(col(Obligation.due_at) == cursor[0], col(Obligation.id) > cursor[1]),
                    )
                )
            rows = session.exec(
                query.order_by(col(Obligation.due_at), col(Obligation.id)).limit(BATCH)
            ).all()
            if not rows:
                break
            insert_ignoring_duplicates(
                session,
                Task,
                [
                    {
                        "dispute_id": dispute.id,
                        "kind": obligation,
                        "target": responsible(dispute),
                        "due_at": due_at,
                        "state": "open",
                        "created_at": now,
                        "rules_version": policy.version,
                    }
                    for due_at, _, dispute in rows
                ],
            )
            result.examined += len(rows)
            last_due, last_id, _ = rows[-1]
            assert last_id is not None
            cursor = (last_due, last_id)
    log.info("sweep_finished", **result.as_dict())
    return result


def store_reports(
    *,
    engine: Engine,
    now: datetime,
    kind: str,
    level: str,
    period_start: datetime,
    period_end: datetime,
) -> int:
    """Store, once per unit and period, the report of every unit at ``level``; return how
    many were new.

    It lists the units below with obligations overdue at the period's end or escalations in
    the period, and the disputes under supervised listing.
    """
    stored = 0
    with transaction(engine) as session:
        heads = session.exec(select(Unit.code).where(Unit.level == level)).all()
        column = Dispute.county_code if level == "county" else Dispute.township_code
        for code in heads:
            overdue = session.exec(
                select(Dispute.unit_code, func.count())
                .join(Obligation, col(Obligation.dispute_id) == col(Dispute.id))
                .where(column == code, col(Obligation.due_at) < period_end)
                .group_by(col(Dispute.unit_code))
            ).all()
            escalated = session.exec(
                select(Escalation.from_unit, func.count())
                .join(Dispute, col(Dispute.id) == col(Escalation.dispute_id))
                .where(
                    column == code,
                    col(Escalation.effective_at) >= period_start,
                    col(Escalation.effective_at) < period_end,
                )
                .group_by(col(Escalation.from_unit))
            ).all()
            supervised = session.exec(
                select(Dispute.id).where(column == code, col(Dispute.supervised).is_(True))
            ).all()
            units: dict[str, dict[str, int]] = {}
            for unit, count in overdue:
                units.setdefault(unit, {"overdue_obligations": 0, "escalations": 0})[
                    "overdue_obligations"
                ] = count
            for unit, count in escalated:
                units.setdefault(unit, {"overdue_obligations": 0, "escalations": 0})[
                    "escalations"
                ] = count
            content = {
                "units": [{"unit": unit, **figures} for unit, figures in sorted(units.items())],
                "supervised": sorted(d for d in supervised if d is not None),
            }
            stored += insert_ignoring_duplicates(
                session,
                Report,
                [
                    {
                        "kind": kind,
                        "unit_code": code,
                        "period_start": period_start,
                        "period_end": period_end,
                        "created_at": now,
                        "content": content,
                    }
                ],
            )
    return stored
