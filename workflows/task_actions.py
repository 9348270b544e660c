"""What a person does with a task from the command line: acknowledge it (签收)."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlmodel import Session

from models.tables import Task
from models.values import LIVE_TASK_STATES
from rules.policy import Policy
from workflows.disputes import NewEvent, record_event
from workflows.errors import BadInput, NotFound
from workflows.tasks import ACKNOWLEDGE

__all__ = ["acknowledge_task"]

log = structlog.get_logger(__name__)


def acknowledge_task(
    *, session: Session, policy: Policy, now: datetime, task_id: int, by: str | None
) -> Task:
    """Acknowledge a task: for an assignment or escalation, record the dispute's
    ``acknowledge`` event (which closes it); for a cadence task, mark it seen."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"unknown task {task_id}")
    if task.state not in LIVE_TASK_STATES:
        raise BadInput(f"task {task_id} is {task.state}: nothing to acknowledge")
    if task.kind == ACKNOWLEDGE:
        if by is None:  # recorded on the dispute: who acknowledged matters
            raise BadInput(f"task {task_id} is an acknowledgement (签收): say who with --by")
        record_event(
            session=session,
            policy=policy,
            now=now,
            dispute_id=task.dispute_id,
            event=NewEvent("acknowledge", at=now, by=by),
        )
        session.flush()  # what the acknowledgement wrote, before reading the task again
        session.refresh(task)
        if task.state == "open":
            raise BadInput(f"{by!r} cannot acknowledge task {task_id}: it is for {task.target}")
        return task
    if by is None and task.target.startswith("person:"):
        by = task.target.removeprefix("person:")
    if by is None:
        raise BadInput(f"task {task_id} is for {task.target}: say who acknowledges with --by")
    task.state = "acknowledged"
    session.add(task)
    log.info("task_acknowledged", task_id=task_id, dispute_id=task.dispute_id, by=by)
    return task
