"""What a person does with a task: acknowledge it (签收)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import Engine
from sqlmodel import select

from models.tables import Task
from models.targets import Target
from models.values import ACKNOWLEDGEMENT, LIVE_TASK_STATES, Actor, TaskState
from rules.policy import Policy
from workflows.access import Action, Forbidden, dispute_in_scope, permit, viewer_of
from workflows.db import transaction
from workflows.errors import BadInput, NotFound
from workflows.recording import NewEvent, record

__all__ = ["Acknowledged", "acknowledge_task"]

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
