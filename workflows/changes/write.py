"""Writing a plan set-wise: each kind of row in one statement (an executemany, or inserts
in chunks), however many disputes the plan covers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import bindparam, delete, insert, update
from sqlmodel import Session

from models.targets import Target
from models.values import TaskState
from rules.policy import Policy
from workflows.changes.plan import Plan
from workflows.changes.read import DISPUTES, ESCALATIONS, EVENTS, OBLIGATIONS, TASKS
from workflows.db import dialect_insert
from workflows.messaging import addresses_of, announcement_rows, queue_messages

__all__ = ["write_plan"]

log = structlog.get_logger(__name__)

# Rows per multi-row statement: well under SQLite's 32,766 bound variables.
CHUNK = 500


def write_plan(session: Session, plan: Plan, *, policy: Policy, now: datetime) -> None:
    """Write everything the plan says, in the caller's transaction."""
    _insert(session, EVENTS, plan.events)
    _insert(session, ESCALATIONS, plan.escalations)
    if plan.disputes:
        columns: dict[str, Any] = {k: bindparam(k) for k in plan.disputes[0] if k != "b_id"}
        session.execute(
            update(DISPUTES).where(DISPUTES.c.id == bindparam("b_id")).values(columns),
            plan.disputes,
        )
    changes = plan.obligations
    for chunk in _chunks(changes.gone):
        session.execute(delete(OBLIGATIONS).where(OBLIGATIONS.c.id.in_(chunk)))
    _insert(session, OBLIGATIONS, changes.new)
    if changes.moved:
        session.execute(
            update(OBLIGATIONS)
            .where(OBLIGATIONS.c.id == bindparam("b_id"))
            .values(
                due_at=bindparam("due_at"),
                rule=bindparam("rule"),
                rules_version=bindparam("rules_version"),
                overdue_noted=bindparam("overdue_noted"),
            ),
            changes.moved,
        )
    if plan.tasks_closed:
        session.execute(
            update(TASKS)
            .where(TASKS.c.id == bindparam("b_id"))
            .values(
                state=bindparam("state"), closed_at=bindparam("closed_at"), next_reminder_at=None
            ),
            plan.tasks_closed,
        )
    messages = _open_acknowledgements(session, plan, policy=policy, now=now)
    _open_tasks(session, plan.tasks_opened)
    queue_messages(session, messages)


def _open_acknowledgements(
    session: Session, plan: Plan, *, policy: Policy, now: datetime
) -> list[dict[str, Any]]:
    """Insert the plan's acknowledgement tasks and return the outbox rows announcing them
    (their keys hold the tasks' ids, so the tasks are written first)."""
    if not plan.acknowledgements:
        return []
    ids = session.execute(
        insert(TASKS).returning(TASKS.c.id, sort_by_parameter_order=True),
        [new.row for new in plan.acknowledgements],
    ).scalars()
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


def _open_tasks(session: Session, rows: list[dict[str, Any]]) -> None:
    """Open obligation tasks; one cancelled earlier for the same dispute, kind, target and
    due time (its obligation came back, after a pause say) is reopened, not duplicated."""
    if not rows:
        return
    statement = dialect_insert(session)(TASKS)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["dispute_id", "kind", "target", "due_at"],
            set_={
                "state": TaskState.open,
                "closed_at": None,
                "next_reminder_at": statement.excluded.next_reminder_at,
                "reminders_sent": 0,
            },
            where=TASKS.c.state == TaskState.cancelled,
        ),
        rows,
    )


def _insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(table), rows)


def _chunks(rows: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]
