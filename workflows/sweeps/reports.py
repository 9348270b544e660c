"""The reports the weekly and monthly cadence flows store: per township each week, per
county each month."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from models.tables import Dispute, DisputeEvent, Escalation, Obligation, Report, Unit
from models.values import OPEN_STATUSES, EventKind
from workflows.db import insert_ignoring_duplicates, transaction

__all__ = ["store_reports"]


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
        heads = session.exec(  # not one that ended (merged, removed)
            select(Unit.code).where(Unit.level == level, col(Unit.ended_at).is_(None))
        ).all()
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
            listings = _listings(session, [d for d in supervised if d is not None], period_end)
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
                # each listing's grade and deadline, and whether it passed unresolved
                "listings": listings,
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


def _listings(session: Session, ids: list[int], period_end: datetime) -> list[dict[str, Any]]:
    """The listings (挂牌督办) of the disputes ``ids``: grade, listing unit, deadline, and
    whether it had passed with the dispute still open at the period's end."""
    if not ids:
        return []
    last: dict[int, Mapping[str, Any]] = {}
    for dispute_id, data in session.exec(
        select(DisputeEvent.dispute_id, DisputeEvent.data)
        .where(col(DisputeEvent.dispute_id).in_(ids), DisputeEvent.kind == EventKind.supervise)
        .order_by(col(DisputeEvent.seq))
    ):
        last[dispute_id] = data
    rows = session.exec(
        select(Dispute.id, Dispute.status, Dispute.supervision_deadline).where(
            col(Dispute.id).in_(ids)
        )
    ).all()
    found = []
    for listed_id, status, deadline in sorted(rows, key=lambda row: row[0] or 0):
        data = last.get(listed_id or 0, {})
        found.append(
            {
                "dispute": listed_id,
                "grade": data.get("grade"),
                "unit": data.get("unit"),
                "deadline": deadline.isoformat() if deadline else None,
                "overdue": bool(deadline and deadline < period_end and status in OPEN_STATUSES),
            }
        )
    return found
