"""Tasks a unit owes as a whole (the county's monthly inspection, 月督查): opened for every
unit of the rule's level when the cadence flow that opens them runs, once per local day,
and announced to the unit's supervisors."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlmodel import Session, col, select

from models.tables import Unit, UnitTask
from models.targets import Target
from models.values import MessageKind, Risk, TaskState
from rules.policy import Policy
from workflows.db import dialect_insert
from workflows.messaging import enqueue, render, texts

__all__ = ["open_unit_tasks"]

log = structlog.get_logger(__name__)

UNIT_TASKS = UnitTask.__table__  # type: ignore[attr-defined]


def open_unit_tasks(
    session: Session, *, policy: Policy, flow: str, scheduled: datetime, now: datetime
) -> int:
    """Open the unit tasks the cadence flow ``flow`` opens at ``scheduled``, in the caller's
    transaction; return how many are new (none when that day's are open already)."""
    opened = 0
    day = scheduled.astimezone(policy.zone).date()
    for name, rule in policy.rules.unit_obligations.items():
        if rule.opened_by != flow:
            continue
        # A unit task has no risk: no sensitive period tightens it.
        due = (
            policy.end_of(day)
            if rule.due is None
            else policy.due_after(scheduled, rule.due, risk=Risk.low)
        )
        units = list(  # not one that ended (merged, removed)
            session.exec(
                select(Unit.code).where(Unit.level == rule.level, col(Unit.ended_at).is_(None))
            )
        )
        if not units:
            continue
        rows = [
            {
                "unit_code": code,
                "kind": name,
                "opened_on": day,
                "due_at": due,
                "state": TaskState.open,
                "created_at": now,
                "rules_version": policy.version,
            }
            for code in sorted(units)
        ]
        # Two sweeps of one day (another window, another process) open each task once: the
        # one whose insert wins announces it.
        new = session.execute(
            dialect_insert(session)(UNIT_TASKS)
            .values(rows)
            .on_conflict_do_nothing()
            .returning(UNIT_TASKS.c.id, UNIT_TASKS.c.unit_code, UNIT_TASKS.c.due_at)
        ).all()
        label = rule.label_in(policy.rules.reminders.language)
        for task_id, code, due_at in sorted(new, key=lambda row: row[1]):
            _announce(session, task_id, code, due_at, label=label, policy=policy, now=now)
        opened += len(new)
        if new:
            log.info("unit_tasks_opened", kind=name, day=day.isoformat(), units=len(new))
    return opened


def _announce(
    session: Session,
    task_id: int,
    unit: str,
    due_at: datetime,
    *,
    label: str,
    policy: Policy,
    now: datetime,
) -> None:
    """Tell the unit's supervisors (and its own addresses) what is due, and where it is done."""
    language = policy.rules.reminders.language
    act = texts(language).act["inspect"].format(unit=unit)
    title, body = render(
        MessageKind.unit_task,
        None,
        policy=policy,
        task=label,
        due=due_at.astimezone(policy.zone).strftime("%Y-%m-%d %H:%M"),
        act=act,
    )
    enqueue(
        session,
        target=Target.of_unit(unit),
        kind=MessageKind.unit_task,
        key=f"unit-task:{task_id}",
        title=title,
        body=body,
        not_before=now,
        now=now,
        act=act,
        link="/tasks",
    )
