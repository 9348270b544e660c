"""The queue: the live disputes a person may see, high risk first, then the earliest deadline
(overdue first, then acknowledgements owed: the newly escalated), page after page by keyset
off the indexes of ``disputes`` (``ix_disputes_queue_*``)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, literal, select, tuple_
from sqlmodel import Session

from models.tables import LIVE, UTCDateTime
from models.values import NO_DEADLINE, Level, Risk, Status, UnitLevel, UnitPath
from rules.evaluate import resume
from rules.policy import Policy
from workflows.access import Viewer, disputes_in_scope
from workflows.changes import DISPUTES, fold_of
from workflows.db import reading
from workflows.errors import BadInput
from workflows.org import unit_in_scope
from workflows.views.dispute import iso

__all__ = ["LONGEST_PAGE", "QueueFilters", "overdue_count", "queue_view"]

LONGEST_PAGE = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNIT_COLUMN = {
    UnitLevel.county: DISPUTES.c.county_code,
    UnitLevel.township: DISPUTES.c.township_code,
    UnitLevel.village: DISPUTES.c.village_code,
    UnitLevel.grid: DISPUTES.c.reported_unit,
}
_COLUMNS = (
    DISPUTES.c.id,
    DISPUTES.c.title,
    DISPUTES.c.category,
    DISPUTES.c.risk,
    DISPUTES.c.risk_rank,
    DISPUTES.c.status,
    DISPUTES.c.level,
    DISPUTES.c.unit_code,
    DISPUTES.c.reported_unit,
    DISPUTES.c.village_code,
    DISPUTES.c.township_code,
    DISPUTES.c.county_code,
    DISPUTES.c.assignee,
    DISPUTES.c.paused,
    DISPUTES.c.supervised,
    DISPUTES.c.level_since,
    DISPUTES.c.reported_at,
    DISPUTES.c.attention_at,
    DISPUTES.c.next_decision_at,
    DISPUTES.c.last_seq,
    DISPUTES.c.fold,
)


@dataclass(frozen=True)
class QueueFilters:
    """What a queue is narrowed to; every field may be left out."""

    unit: str | None = None  # a unit of the viewer's subtree: its own subtree
    level: Level | None = None
    risk: Risk | None = None
    status: Status | None = None
    overdue: bool = False
    category: str | None = None


def _encode(rank: int, attention: datetime, dispute_id: int) -> str:
    micros = (attention - _EPOCH) // timedelta(microseconds=1)
    raw = json.dumps([rank, micros, dispute_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[int, datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        rank, micros, dispute_id = json.loads(raw)
        if not all(
            isinstance(v, int) and not isinstance(v, bool) for v in (rank, micros, dispute_id)
        ):
            raise ValueError
        return rank, _EPOCH + timedelta(microseconds=micros), dispute_id
    except (ValueError, TypeError, OverflowError, binascii.Error):
        raise BadInput("cursor: not one this server gave (use the 'next' of a page)") from None


def _narrowed(session: Session, viewer: Viewer | None, filters: QueueFilters, now: datetime) -> Any:
    """The scope's live disputes, narrowed by ``filters``."""
    query = disputes_in_scope(viewer, *_COLUMNS).where(LIVE)
    if filters.unit is not None:
        chain = unit_in_scope(session, viewer, filters.unit)
        query = query.where(_UNIT_COLUMN[UnitLevel(chain[0].level)] == filters.unit)
    if filters.level is not None:
        query = query.where(DISPUTES.c.level == filters.level)
    if filters.risk is not None:
        query = query.where(DISPUTES.c.risk_rank == filters.risk.rank)
    if filters.status is not None:
        query = query.where(DISPUTES.c.status == filters.status)
    if filters.overdue:
        query = query.where(DISPUTES.c.attention_at < now)
    if filters.category is not None:
        query = query.where(DISPUTES.c.category == filters.category)
    return query


def queue_view(
    *,
    engine: Engine,
    policy: Policy,
    viewer: Viewer | None,
    now: datetime,
    zone: ZoneInfo,
    filters: QueueFilters = QueueFilters(),
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """One page of the queue: ``{"items": [...], "next": CURSOR_OR_NULL}``; each item the
    dispute, its next deadline and the next automatic escalation or listing if nothing is
    done (from the same evaluation as ``rules explain``)."""
    if not 1 <= limit <= LONGEST_PAGE:
        raise BadInput(f"limit: from 1 to {LONGEST_PAGE}, not {limit}")
    with reading(engine) as session:
        query = _narrowed(session, viewer, filters, now)
        if cursor is not None:
            key = tuple_(DISPUTES.c.risk_rank, DISPUTES.c.attention_at, DISPUTES.c.id)
            rank, attention, after = _decode(cursor)
            query = query.where(
                key > tuple_(literal(rank), literal(attention, UTCDateTime()), literal(after))
            )
        query = query.order_by(DISPUTES.c.risk_rank, DISPUTES.c.attention_at, DISPUTES.c.id).limit(
            limit + 1
        )
        rows = session.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows and more else None
    return {
        "items": [_item(row, policy=policy, now=now, zone=zone) for row in rows],
        "next": _encode(last.risk_rank, last.attention_at, last.id) if last else None,
    }


def overdue_count(
    *, engine: Engine, viewer: Viewer | None, now: datetime, filters: QueueFilters = QueueFilters()
) -> int:
    """How many of the queue's disputes are overdue: a deadline passed."""
    with reading(engine) as session:
        narrowed = _narrowed(session, viewer, filters, now).where(DISPUTES.c.attention_at < now)
        return int(
            session.execute(select(func.count()).select_from(narrowed.subquery())).scalar_one()
        )


def _item(row: Any, *, policy: Policy, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    deadline = None if row.attention_at >= NO_DEADLINE else row.attention_at
    return {
        "id": row.id,
        "title": row.title,
        "category": row.category,
        "risk": row.risk,
        "status": row.status,
        "level": row.level,
        "unit": row.unit_code,
        "reported_unit": row.reported_unit,
        "assignee": row.assignee,
        "paused": row.paused,
        "supervised": row.supervised,
        "reported_at": iso(row.reported_at, zone),
        "level_since": iso(row.level_since, zone),
        "next_deadline": iso(deadline, zone),
        "overdue": deadline is not None and deadline < now,
        "next_decision": _next_decision(row, policy=policy, now=now, zone=zone),
    }


def _next_decision(
    row: Any, *, policy: Policy, now: datetime, zone: ZoneInfo
) -> dict[str, Any] | None:
    """The next automatic escalation or listing, if nothing is done (the fold resumed): one
    already due that the next sweep records, or the one to come."""
    if row.next_decision_at is None:
        return None
    fold = fold_of(row, policy)
    evaluation = resume(fold, [], now=now) if fold is not None else None
    decision = None
    if evaluation is not None:
        decision = evaluation.decisions[0] if evaluation.decisions else evaluation.next_decision
    if decision is None:
        return {"kind": None, "to_level": None, "unit": None, "at": iso(row.next_decision_at, zone)}
    path = UnitPath(row.village_code, row.township_code, row.county_code)
    return {
        "kind": decision.kind,
        "to_level": decision.to_level.value,
        "unit": path.at(decision.to_level),
        "at": iso(decision.effective_at, zone),
    }
