"""What a unit's supervisors do with a task the unit owes as a whole: record that it is done
(the county's monthly inspection, 月督查)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import Person, UnitTask
from models.values import Actor, Role, TaskState
from rules.policy import Policy
from workflows.access import Action, Forbidden, permit, viewer_of
from workflows.db import transaction
from workflows.errors import BadInput, NotFound
from workflows.org import unit_in_scope
from workflows.recording import check_time
from workflows.rulesets import require_in_force

__all__ = ["UnitTaskDone", "fulfil_unit_tasks"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class UnitTaskDone:
    id: int
    kind: str
    opened_on: str
    late: bool


def fulfil_unit_tasks(
    *,
    engine: Engine,
    policy: Policy,
    now: datetime,
    actor: Actor,
    unit: str,
    kind: str,
    at: datetime | None = None,
    note: str | None = None,
) -> list[UnitTaskDone]:
    """Record, in one transaction, that the unit ``unit`` did what its open tasks fulfilled
    by events of ``kind`` ask (``inspect``: its monthly inspection), at ``at`` (by default
    now), by a supervisor of that unit: ``actor`` signed in, or the person the operator names."""
    at = at or now
    check_time(at, now=now)
    if note is not None and (len(note) > 2000 or "\x00" in note):
        raise BadInput("the note is at most 2000 characters, without NUL characters")
    names = [n for n, r in policy.rules.unit_obligations.items() if r.fulfilled_by == kind]
    with transaction(engine) as session:
        require_in_force(session, policy)  # its tasks' deadlines are the rules in force's
        if actor.person is None:
            raise BadInput(f"say with --by which supervisor of {unit} did it")
        viewer = viewer_of(session, actor.person)  # NotFound: unknown person
        unit_in_scope(session, viewer if actor.checked else None, unit)
        person = session.get(Person, actor.person)
        if person is None or person.role != Role.supervisor or person.unit_code != unit:
            raise Forbidden(f"{actor.person} is not a supervisor of {unit}")
        permit(viewer, Action(kind))
        tasks = session.exec(
            select(UnitTask)
            .where(
                UnitTask.unit_code == unit,
                col(UnitTask.kind).in_(names),
                UnitTask.state == TaskState.open,
                col(UnitTask.created_at) <= at,
            )
            .order_by(col(UnitTask.due_at), col(UnitTask.id))
            .with_for_update()
        ).all()
        if not tasks:
            raise NotFound(f"{unit} owes nothing done by {kind} at {at.isoformat()}")
        done = []
        for task in tasks:
            task.state, task.closed_at, task.closed_by = TaskState.done, at, actor.person
            task.note = note
            session.add(task)
            assert task.id is not None
            done.append(
                UnitTaskDone(task.id, task.kind, task.opened_on.isoformat(), at > task.due_at)
            )
    for item in done:
        log.info(
            "unit_task_done",
            task_id=item.id,
            kind=item.kind,
            unit=unit,
            late=item.late,
            actor=actor.name,
        )
    return done
