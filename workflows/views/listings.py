"""Read models for supervisors: escalated and overdue disputes of a subtree, open tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from models.tables import (
    Dispute,
    DisputeEvent,
    Escalation,
    Obligation,
    OutboxMessage,
    Person,
    Task,
    UnitTask,
)
from models.targets import Target
from models.values import (
    LIVE_STATUSES,
    LIVE_TASK_STATES,
    EventKind,
    Level,
    Role,
    TaskState,
    UnitPath,
)
from workflows.access import Viewer, in_scope
from workflows.db import reading
from workflows.errors import BadInput, NotFound
from workflows.org import answers_for, unit_in_scope
from workflows.views.dispute import iso

__all__ = ["escalations_view", "ladder", "outbox_view", "tasks_view", "unit_tasks_view"]

_SUBTREE_COLUMN = {
    "county": Dispute.county_code,
    "township": Dispute.township_code,
    "village": Dispute.village_code,
}


def escalations_view(
    *,
    engine: Engine,
    now: datetime,
    zone: ZoneInfo,
    unit: str | None = None,
    level: str | None = None,
    risk: str | None = None,
    overdue_only: bool = False,
    viewer: Viewer | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Live disputes that were escalated or have overdue obligations, newest first (of
    those ``viewer`` may see; the first ``limit``), each with its ladder: the levels it was
    handled at, since when, and the rule that moved it there."""
    with reading(engine) as session:
        rows = _escalations(session, now, zone, unit, level, risk, overdue_only, viewer, limit)
        moves = _moves(session, [row["id"] for row in rows])
    for row in rows:
        reported_at, path = row.pop("_reported_at"), row.pop("_path")
        row["ladder"] = [
            {**step, "since": iso(step["since"], zone), "until": iso(step["until"], zone)}
            for step in ladder(reported_at, path, moves.get(row["id"], []))
        ]
    return rows


def _moves(session: Session, ids: list[int]) -> dict[int, list[tuple[str, datetime, str | None]]]:
    """The escalations and handbacks of disputes ``ids``, in their order: (kind, at, rule)."""
    moves: dict[int, list[tuple[str, datetime, str | None]]] = {}
    if not ids:
        return moves
    for dispute_id, kind, at, data in session.exec(
        select(DisputeEvent.dispute_id, DisputeEvent.kind, DisputeEvent.at, DisputeEvent.data)
        .where(
            col(DisputeEvent.dispute_id).in_(ids),
            col(DisputeEvent.kind).in_([EventKind.escalate, EventKind.handback]),
        )
        .order_by(col(DisputeEvent.dispute_id), col(DisputeEvent.seq))
    ):
        rule = (data or {}).get("rule") if kind == EventKind.escalate else None
        moves.setdefault(dispute_id, []).append((kind, at, rule))
    return moves


def ladder(
    reported_at: datetime, path: UnitPath, moves: list[tuple[str, datetime, str | None]]
) -> list[dict[str, Any]]:
    """The levels a dispute of ``path`` was handled at, from its report through ``moves``
    (escalations up, handbacks down): each with its unit, since and until when (None: still
    there), and what moved it there (``reported``, a rule's name, ``manual`` for a person's
    escalation, ``handback``). Pure."""
    steps: list[dict[str, Any]] = [
        {
            "level": Level.village.value,
            "unit": path.village,
            "since": reported_at,
            "until": None,
            "moved_by": "reported",
        }
    ]
    level = Level.village
    for kind, at, rule in moves:
        to = level.up if kind == EventKind.escalate else level.down
        if to is None:
            continue
        steps[-1]["until"] = at
        level = to
        moved_by = (rule or "manual") if kind == EventKind.escalate else "handback"
        steps.append(
            {
                "level": to.value,
                "unit": path.at(to),
                "since": at,
                "until": None,
                "moved_by": moved_by,
            }
        )
    return steps


def _escalations(
    session: Session,
    now: datetime,
    zone: ZoneInfo,
    unit: str | None,
    level: str | None,
    risk: str | None,
    overdue_only: bool,
    viewer: Viewer | None,
    limit: int | None,
) -> list[dict[str, Any]]:
    where: list[Any] = [col(Dispute.status).in_(LIVE_STATUSES)]
    if viewer is not None:
        where.append(in_scope(viewer))
    if unit is not None:
        row = unit_in_scope(session, viewer, unit)[0]
        if row.level not in _SUBTREE_COLUMN:
            raise BadInput(f"unit {unit!r} is a grid: list its village instead")
        where.append(col(_SUBTREE_COLUMN[row.level]) == unit)
    if level is not None:
        where.append(col(Dispute.level) == level)
    if risk is not None:
        where.append(col(Dispute.risk) == risk)
    # The order first, from one small row per dispute (its first overdue deadline, its
    # latest escalation), so that only the disputes shown are read in full.
    first_late: dict[int, datetime] = dict(
        session.exec(
            select(Obligation.dispute_id, func.min(Obligation.due_at))
            .join(Dispute, col(Dispute.id) == col(Obligation.dispute_id))
            .where(col(Obligation.due_at) < now, *where)
            .group_by(col(Obligation.dispute_id))
        ).all()
    )
    last_up: dict[int, datetime] = {}
    if not overdue_only:
        last_up = dict(
            session.exec(
                select(Escalation.dispute_id, func.max(Escalation.effective_at))
                .join(Dispute, col(Dispute.id) == col(Escalation.dispute_id))
                .where(*where)
                .group_by(col(Escalation.dispute_id))
            ).all()
        )
    newest = sorted(
        (
            (max(m for m in (last_up.get(i), first_late.get(i)) if m is not None), i)
            for i in set(first_late) | set(last_up)
        ),
        reverse=True,
    )
    ids = [i for _, i in (newest if limit is None else newest[:limit])]
    if not ids:
        return []
    overdue: dict[int, list[tuple[str, datetime]]] = {}
    for dispute_id, kind, due_at in session.exec(
        select(Obligation.dispute_id, Obligation.kind, Obligation.due_at)
        .where(col(Obligation.dispute_id).in_(ids), col(Obligation.due_at) < now)
        .order_by(col(Obligation.due_at))
    ):
        overdue.setdefault(dispute_id, []).append((kind, due_at))
    latest: dict[int, Escalation] = {}
    if not overdue_only:
        for escalation in session.exec(
            select(Escalation)
            .where(col(Escalation.dispute_id).in_(ids))
            .order_by(col(Escalation.effective_at))
        ):
            latest[escalation.dispute_id] = escalation
    disputes = {
        d.id: d for d in session.exec(select(Dispute).where(col(Dispute.id).in_(ids))).all()
    }
    rows = []
    for dispute_id in ids:
        dispute = disputes[dispute_id]
        last = latest.get(dispute_id)
        late = overdue.get(dispute_id, [])
        rows.append(
            {
                "id": dispute_id,
                "title": dispute.title,
                "risk": dispute.risk,
                "status": dispute.status,
                "level": dispute.level,
                "unit": dispute.unit_code,
                "supervised": dispute.supervised,
                "last_escalation": None
                if last is None
                else {
                    "from_level": last.from_level,
                    "to_level": last.to_level,
                    "rule": last.rule,
                    "effective_at": iso(last.effective_at, zone),
                },
                "overdue": [{"kind": kind, "due_at": iso(due, zone)} for kind, due in late],
                "_reported_at": dispute.reported_at,
                "_path": UnitPath(dispute.village_code, dispute.township_code, dispute.county_code),
            }
        )
    return rows


def tasks_view(
    *,
    engine: Engine,
    now: datetime,
    zone: ZoneInfo,
    person: str | None = None,
    unit: str | None = None,
    include_closed: bool = False,
    viewer: Viewer | None = None,
) -> list[dict[str, Any]]:
    """A person's tasks (their own and their unit's) or a unit's, most urgent first (of the
    disputes ``viewer`` may see)."""
    with reading(engine) as session:
        targets: list[Target] = []
        if person is not None:
            row = session.get(Person, person)
            if row is None:
                raise NotFound(f"unknown person {person!r}")
            targets += answers_for(session, row)
        if unit is not None:
            unit_in_scope(session, viewer, unit)
            targets.append(Target.of_unit(unit))
        query = (
            select(Task, Dispute.title, Dispute.category, Dispute.risk)
            .join(Dispute, col(Dispute.id) == col(Task.dispute_id))
            .order_by(col(Task.due_at), col(Task.id))
        )
        if targets:
            query = query.where(col(Task.target).in_([str(t) for t in targets]))
        if not include_closed:
            query = query.where(col(Task.state).in_(LIVE_TASK_STATES))
        if viewer is not None:
            query = query.where(in_scope(viewer))
        found = session.exec(query).all()
    return [
        {
            "id": task.id,
            "dispute": task.dispute_id,
            "title": title,
            "category": category,
            "risk": risk,
            "kind": task.kind,
            "target": task.target,
            "due_at": iso(task.due_at, zone),
            "state": task.state,
            "overdue": task.state in LIVE_TASK_STATES and now > task.due_at,
        }
        for task, title, category, risk in found
    ]


def unit_tasks_view(
    *,
    engine: Engine,
    now: datetime,
    zone: ZoneInfo,
    person: str | None = None,
    unit: str | None = None,
    include_closed: bool = False,
    viewer: Viewer | None = None,
) -> list[dict[str, Any]]:
    """The tasks a unit owes as a whole (the county's monthly inspection): a supervisor's
    unit's, or a unit's (of ``viewer``'s subtree), the earliest due first. A mediator owes
    none."""
    with reading(engine) as session:
        codes: list[str] = []
        if person is not None:
            row = session.get(Person, person)
            if row is None:
                raise NotFound(f"unknown person {person!r}")
            if row.role == Role.supervisor:
                codes.append(row.unit_code)
        if unit is not None:
            unit_in_scope(session, viewer, unit)
            codes.append(unit)
        query = select(UnitTask).order_by(col(UnitTask.due_at), col(UnitTask.id))
        if person is not None or unit is not None:
            query = query.where(col(UnitTask.unit_code).in_(codes))
        elif viewer is not None:
            query = query.where(UnitTask.unit_code == viewer.unit)
        if not include_closed:
            query = query.where(UnitTask.state == TaskState.open)
        found = session.exec(query).all()
    return [
        {
            "id": task.id,
            "unit": task.unit_code,
            "kind": task.kind,
            "opened_on": task.opened_on.isoformat(),
            "due_at": iso(task.due_at, zone),
            "state": task.state,
            "overdue": task.state == TaskState.open and now > task.due_at,
            "closed_at": iso(task.closed_at, zone),
            "closed_by": task.closed_by,
            "note": task.note,
        }
        for task in found
    ]


def outbox_view(
    *, engine: Engine, zone: ZoneInfo, state: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """The newest messages, optionally of one state; addresses are not shown."""
    query = select(OutboxMessage).order_by(col(OutboxMessage.id).desc()).limit(limit)
    if state is not None:
        query = query.where(OutboxMessage.state == state)
    with reading(engine) as session:
        messages = session.exec(query).all()
    return [
        {
            "id": m.id,
            "state": m.state,
            "channel": m.channel,
            "recipient": m.recipient,
            "dispute": m.dispute_id,
            "title": m.title,
            "attempts": m.attempts,
            "next_attempt_at": iso(m.next_attempt_at, zone),
            "sent_at": iso(m.sent_at, zone),
            "last_error": m.last_error,
        }
        for m in messages
    ]
