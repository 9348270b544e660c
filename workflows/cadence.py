"""The cadence sweeps (日排查化解、周研判、十日回访、半月调度、月督查通报).

Each notices the obligations of its kind that have fallen due and are still owed (their
tasks already exist: tasks follow obligations as they are written); the weekly and monthly
ones also store their reports. Running twice at the same moment does nothing the second
time, and running rarely notices the same obligations as running often.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from models.tables import Dispute, Escalation, FlowRun, Obligation, Report, Unit
from rules.policy import Policy
from workflows.db import insert_ignoring_duplicates, transaction
from workflows.sweeps import BATCH, SweepResult

__all__ = [
    "claim_run",
    "finish_run",
    "obligation_sweep",
    "previous_window_end",
    "store_reports",
]

log = structlog.get_logger(__name__)


def previous_window_end(session: Session, *, flow: str) -> datetime | None:
    return session.exec(
        select(func.max(FlowRun.window_end)).where(
            FlowRun.flow == flow, col(FlowRun.finished_at).is_not(None)
        )
    ).one()


def claim_run(
    session: Session,
    *,
    flow: str,
    window_end: datetime,
    started: datetime,
    stale_after: timedelta = timedelta(minutes=10),
) -> FlowRun | None:
    """Claim a flow's run for one scheduled time; None if it is done or being done.

    A claim left unfinished (a crash) for ``stale_after`` is taken over.
    """
    run = session.exec(
        select(FlowRun)
        .where(FlowRun.flow == flow, FlowRun.window_end == window_end)
        .with_for_update()
    ).one_or_none()
    if run is None:
        inserted = insert_ignoring_duplicates(
            session,
            FlowRun,
            [{"flow": flow, "window_end": window_end, "started_at": started, "result": {}}],
        )
        if not inserted:
            return None
        return session.exec(
            select(FlowRun).where(FlowRun.flow == flow, FlowRun.window_end == window_end)
        ).one()
    if run.finished_at is not None or started - run.started_at < stale_after:
        return None
    run.started_at = started
    session.add(run)
    return run


def finish_run(session: Session, run: FlowRun, *, result: SweepResult, finished: datetime) -> None:
    run.finished_at, run.result = finished, result.as_dict()
    session.add(run)


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
