"""What a person does with a task: acknowledge it (签收)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from models.tables import Task
from models.targets import Target
from models.values import ACKNOWLEDGEMENT, LIVE_TASK_STATES, Actor, TaskState
from rules.policy import Policy
from workflows.access import Action, Forbidden, dispute_in_scope, permit, viewer_of
from workflows.db import transaction
from workflows.errors import BadInput, NotFound
from workflows.recording import NewEvent, record

__all__ = ["Acknowledged", "acknowledge_disputes", "acknowledge_task"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Acknowledged:
    """A task as it is once acknowledged."""

    id: int
    kind: str
    dispute_id: int
    state: TaskState


def acknowledge_task(
    *, engine: Engine, policy: Policy, now: datetime, actor: Actor, task_id: int
) -> Acknowledged:
    """Acknowledge a task, as ``actor``, in one transaction: for an assignment or
    escalation, record the dispute's ``acknowledge`` event (which closes it); for a cadence
    task, mark it seen (by default as the person it is for)."""
    with transaction(engine) as session:
        task = session.get(Task, task_id)
        if task is None:
            raise NotFound(f"unknown task {task_id}")
        target = Target.parse(task.target)
        if actor.checked:  # a person signed in: a task of theirs, of a dispute they see
            assert actor.person is not None
            viewer = viewer_of(session, actor.person)
            try:
                dispute_in_scope(session, viewer, task.dispute_id)
            except NotFound:
                raise NotFound(f"unknown task {task_id}") from None
            permit(viewer, Action.acknowledge)
            if task.kind != ACKNOWLEDGEMENT and target not in (
                Target.of_person(viewer.person),
                Target.of_unit(viewer.unit),
            ):
                raise Forbidden(f"task {task_id} is for {target}, not for {viewer.person}")
        if task.state not in LIVE_TASK_STATES:
            raise BadInput(f"task {task_id} is {task.state}: nothing to acknowledge")
        if task.kind == ACKNOWLEDGEMENT:
            if actor.person is None:  # recorded on the dispute: who acknowledged matters
                raise BadInput(f"task {task_id} is an acknowledgement (签收): say who with --by")
            record(
                session,
                {task.dispute_id: [NewEvent("acknowledge", at=now)]},
                policy=policy,
                now=now,
                actor=actor,
            )
            state = TaskState(session.exec(select(Task.state).where(Task.id == task_id)).one())
            if state is TaskState.open:
                raise BadInput(
                    f"{actor.person!r} cannot acknowledge task {task_id}: it is for {target}"
                )
            return Acknowledged(task_id, task.kind, task.dispute_id, state)
        by = actor.person
        if by is None and target.is_person:
            by = target.ref
        if by is None:
            raise BadInput(f"task {task_id} is for {target}: say who acknowledges with --by")
        task.state = TaskState.acknowledged
        session.add(task)
    log.info("task_acknowledged", task_id=task_id, dispute_id=task.dispute_id, by=by)
    return Acknowledged(task_id, task.kind, task.dispute_id, TaskState.acknowledged)


def acknowledge_disputes(
    *, engine: Engine, policy: Policy, now: datetime, actor: Actor, dispute_ids: Sequence[int]
) -> int:
    """Acknowledge (签收) the disputes ``dispute_ids`` as ``actor``, all or none, in one
    transaction: each must have an acknowledgement owed that ``actor`` gives. How many."""
    if actor.person is None:
        raise BadInput("an acknowledgement (签收) needs a person: say who with --by")
    ids = list(dict.fromkeys(dispute_ids))
    with transaction(engine) as session:
        owed = _owed(session, ids)
        nothing = [d for d in ids if not owed.get(d)]
        if nothing:
            listed = ", ".join(str(d) for d in nothing)
            raise BadInput(f"nothing to acknowledge on dispute {listed}; nothing was changed")
        record(
            session,
            {d: [NewEvent("acknowledge", at=now)] for d in ids},
            policy=policy,
            now=now,
            actor=actor,
        )
        still = _owed(session, ids)
        mine = [d for d in ids if still.get(d) == owed[d]]
        if mine:
            listed = ", ".join(str(d) for d in mine)
            raise Forbidden(
                f"the acknowledgements of dispute {listed} are not for {actor.person}; "
                "nothing was changed"
            )
    log.info("disputes_acknowledged", disputes=len(ids), by=actor.person)
    return len(ids)


def _owed(session: Session, ids: list[int]) -> dict[int, set[int]]:
    """The live acknowledgement tasks of each dispute of ``ids``, by id."""
    owed: dict[int, set[int]] = {}
    for task_id, dispute_id in session.exec(
        select(Task.id, Task.dispute_id).where(
            col(Task.dispute_id).in_(ids),
            Task.kind == ACKNOWLEDGEMENT,
            col(Task.state).in_(LIVE_TASK_STATES),
        )
    ):
        if task_id is not None:
            owed.setdefault(dispute_id, set()).add(task_id)
    return owed
