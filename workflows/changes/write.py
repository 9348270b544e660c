"""Writing a plan set-wise: each kind of row in one statement (the driver's executemany),
however many disputes the plan covers, each statement compiled once (workflows.driver)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import bindparam, delete, insert, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from models.targets import Target
from models.values import TaskState
from rules.policy import Policy
from workflows.changes.plan import Plan
from workflows.changes.read import DISPUTES, ESCALATIONS, EVENTS, OBLIGATIONS, TASKS
from workflows.driver import execute_many, insert_returning, pipelined
from workflows.messaging import addresses_of, announcement_rows, queue_messages

__all__ = ["write_plan"]

log = structlog.get_logger(__name__)

_EVENTS = insert(EVENTS)
_ESCALATIONS = insert(ESCALATIONS)
_DISPUTES = update(DISPUTES).where(DISPUTES.c.id == bindparam("b_id"))
_OBLIGATIONS_GONE = delete(OBLIGATIONS).where(OBLIGATIONS.c.id == bindparam("b_id"))
_OBLIGATIONS_NEW = insert(OBLIGATIONS)
_OBLIGATIONS_MOVED = (
    update(OBLIGATIONS)
    .where(OBLIGATIONS.c.id == bindparam("b_id"))
    .values(
        due_at=bindparam("due_at"),
        rule=bindparam("rule"),
        rules_version=bindparam("rules_version"),
        overdue_noted=bindparam("overdue_noted"),
    )
)
_TASKS_CLOSED = (
    update(TASKS)
    .where(TASKS.c.id == bindparam("b_id"))
    .values(state=bindparam("state"), closed_at=bindparam("closed_at"), next_reminder_at=None)
)
_ACKNOWLEDGEMENTS = insert(TASKS).returning(TASKS.c.id)


def _reopening(insert_of: Any) -> Any:
    """Open obligation tasks; one cancelled earlier for the same dispute, kind, target and
    due time (its obligation came back, after a pause say) is reopened, not duplicated."""
    statement = insert_of(TASKS)
    return statement.on_conflict_do_update(
        index_elements=["dispute_id", "kind", "target", "due_at"],
        set_={
            "state": TaskState.open,
            "closed_at": None,
            "next_reminder_at": statement.excluded.next_reminder_at,
            "reminders_sent": 0,
        },
        where=TASKS.c.state == TaskState.cancelled,
    )


_TASKS_OPENED = {"postgresql": _reopening(postgresql_insert), "sqlite": _reopening(sqlite_insert)}


def write_plan(session: Session, plan: Plan, *, policy: Policy, now: datetime) -> None:
    """Write everything the plan says, in the caller's transaction: in one round trip to
    PostgreSQL, and a few more if the plan opens acknowledgements (the messages announcing
    them carry their ids, and go to the addresses read then)."""
    changes = plan.obligations
    dialect = session.get_bind().dialect.name
    with pipelined(session):
        execute_many(session, _EVENTS, plan.events)
        execute_many(session, _ESCALATIONS, plan.escalations)
        execute_many(session, _DISPUTES, plan.disputes)
        execute_many(session, _DISPUTES, plan.records)  # the record's column alone
        execute_many(session, _OBLIGATIONS_GONE, [{"b_id": gone} for gone in changes.gone])
        execute_many(session, _OBLIGATIONS_NEW, changes.new)
        execute_many(session, _OBLIGATIONS_MOVED, changes.moved)
        execute_many(session, _TASKS_CLOSED, plan.tasks_closed)
        execute_many(session, _TASKS_OPENED[dialect], plan.tasks_opened)
    queue_messages(session, _open_acknowledgements(session, plan, policy=policy, now=now))


def _open_acknowledgements(
    session: Session, plan: Plan, *, policy: Policy, now: datetime
) -> list[dict[str, Any]]:
    """Insert the plan's acknowledgement tasks and return the outbox rows announcing them
    (their keys hold the tasks' ids, so the tasks are written first)."""
    if not plan.acknowledgements:
        return []
    ids = insert_returning(session, _ACKNOWLEDGEMENTS, [new.row for new in plan.acknowledgements])
    announced = [(task_id, new) for task_id, new in zip(ids, plan.acknowledgements, strict=True)]
    targets = {new.target for _, new in announced if new.announce}
    found = addresses_of(session, targets) if targets else {}
    rows: list[dict[str, Any]] = []
    unreachable: set[Target] = set()
    for task_id, new in announced:
        if new.announce is None:
            continue
        target = new.target
        if not found[target]:
            if target not in unreachable:
                unreachable.add(target)
                log.info(
                    "no_contact",
                    target=str(target),
                    dispute_id=new.row["dispute_id"],
                    kind=new.announce,
                )
            continue
        rows.extend(
            announcement_rows(
                task_id=task_id,
                task=new.row,
                kind=new.announce,
                at=new.at,
                category=new.category,
                found=found[target],
                policy=policy,
                now=now,
            )
        )
    return rows
