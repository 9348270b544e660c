"""Acknowledgement tasks (签收): an assignment or an escalation must be acknowledged in time.

Written in the same transaction as the events that cause them; the rule file's
``acknowledgement`` section gives the deadline per risk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Select
from sqlmodel import Session, col, select

from models.tables import Dispute, OutboxMessage, Person, Task
from models.values import LIVE_TASK_STATES, Level, Risk
from rules.policy import Policy
from rules.reminders import after_quiet_hours, next_reminder
from workflows.changes import TASKS, Writes, obligation_task_changes
from workflows.db import insert_ignoring_duplicates
from workflows.messages import render, task_notice
from workflows.outbox import addresses, message_rows

__all__ = [
    "ACKNOWLEDGE",
    "Happening",
    "acknowledgement_row",
    "announce",
    "announcement",
    "first_reminders",
    "live_obligation_tasks",
    "obligation_targets",
    "person_target",
    "responsible",
    "sync_obligation_tasks",
    "sync_acknowledgements",
    "unit_target",
]

log = structlog.get_logger(__name__)

ACKNOWLEDGE = "acknowledge"


def person_target(person: str) -> str:
    return f"person:{person}"


def unit_target(code: str) -> str:
    return f"unit:{code}"


@dataclass(frozen=True)
class Happening:
    """What matters to acknowledgement tasks: an assignment, an escalation, an acknowledgement."""

    at: datetime
    kind: str  # "assign" | "escalate" | "acknowledge" | "end" (the dispute left open status)
    who: str  # the person assigned or acknowledging, or the unit escalated to


def sync_acknowledgements(
    session: Session,
    *,
    dispute_id: int,
    risk: Risk,
    happenings: Iterable[Happening],
    still_open: bool,
    policy: Policy,
    now: datetime,
) -> None:
    """Open, close and cancel the dispute's acknowledgement tasks, in time order.

    Once the dispute is no longer open (resolved, referred, withdrawn…), what is left to
    acknowledge is cancelled.
    """
    ordered = sorted(happenings, key=lambda h: h.at)
    if not ordered:
        return
    tasks = list(
        session.exec(
            select(Task).where(
                Task.dispute_id == dispute_id,
                Task.kind == ACKNOWLEDGE,
                col(Task.state).in_(LIVE_TASK_STATES),
            )
        )
    )
    for happening in ordered:
        if happening.kind == "acknowledge":
            mine = _acknowledged_by(session, dispute_id, happening.who, tasks)
            _close(session, [t for t in tasks if t.target in mine], "done", happening.at)
            tasks = [t for t in tasks if t.target not in mine]
            continue
        if happening.kind == "end":
            continue
        if happening.kind == "assign":
            earlier = [t for t in tasks if t.target.startswith("person:")]
            _close(session, earlier, "cancelled", happening.at)
            tasks = [t for t in tasks if t not in earlier]
            target = person_target(happening.who)
        else:
            target = unit_target(happening.who)
        row = acknowledgement_row(
            dispute_id=dispute_id, target=target, at=happening.at, risk=risk, policy=policy, now=now
        )
        if row is None:
            continue
        task = Task(**row)
        session.add(task)
        session.flush()
        tasks.append(task)
        if still_open:
            announce(
                session,
                task,
                "assigned" if happening.kind == "assign" else "escalated",
                at=happening.at,
                policy=policy,
                now=now,
            )
    if not still_open:
        _close(session, tasks, "cancelled", ordered[-1].at)


def _close(session: Session, tasks: list[Task], state: str, at: datetime) -> None:
    for task in tasks:
        task.state, task.closed_at, task.next_reminder_at = state, at, None
        session.add(task)


def owner(dispute: Dispute, who: str) -> str:
    """Who owes an obligation: the responsible person or unit, or the dispute's township or
    county (the half-month review is the township's, the monthly inspection the county's)."""
    if who == "township":
        return unit_target(dispute.township_code)
    if who == "county":
        return unit_target(dispute.county_code)
    return responsible(dispute)


def _acknowledged_by(session: Session, dispute_id: int, who: str, tasks: list[Task]) -> set[str]:
    """The targets an acknowledgement by ``who`` answers for: their own, their unit's if they
    supervise it, and, for a supervisor of the dispute's township or county, everything
    below (the acknowledgement passed up to them)."""
    mine = {person_target(who)}
    person = session.get(Person, who)
    if person is None or person.role != "supervisor":
        return mine
    mine.add(unit_target(person.unit_code))
    dispute = session.get(Dispute, dispute_id)
    if dispute is not None and person.unit_code in (dispute.township_code, dispute.county_code):
        above = (
            {unit_target(dispute.county_code)} if person.unit_code != dispute.county_code else set()
        )
        mine.update(t.target for t in tasks if t.target not in above)
    return mine


def responsible(dispute: Dispute) -> str:
    """Who a dispute's tasks go to: at village, its assignee, or if nobody is assigned the
    mediators of the grid or village it was reported at; at township and county, the
    supervisors of the responsible unit."""
    if dispute.level == Level.village:
        if dispute.assignee:
            return person_target(dispute.assignee)
        return unit_target(dispute.origin_unit)
    return unit_target(dispute.unit_code)


def sync_obligation_tasks(
    session: Session,
    *,
    dispute: Dispute,
    owed: dict[str, datetime],
    fulfilled: set[str],
    at: datetime,
    now: datetime,
    policy: Policy,
) -> None:
    """Keep one open task per obligation, for whoever is responsible, due when it is due
    (see :func:`workflows.changes.obligation_task_changes`)."""
    assert dispute.id is not None
    live = session.execute(live_obligation_tasks([dispute.id])).all()
    closed, opened = obligation_task_changes(
        dispute.id,
        live,
        owed,
        targets=obligation_targets(dispute, owed, policy),
        fulfilled=fulfilled,
        at=at,
        risk=dispute.risk,
        first_reminder=first_reminders(owed.values(), now=now, policy=policy),
        policy=policy,
        now=now,
    )
    Writes(tasks_closed=closed, tasks_opened=opened).apply(session)


def live_obligation_tasks(dispute_ids: Sequence[int]) -> Select[Any]:
    """The disputes' live tasks other than acknowledgements, as obligation tasks are
    compared with what is owed."""
    return select(
        TASKS.c.dispute_id, TASKS.c.id, TASKS.c.kind, TASKS.c.target, TASKS.c.due_at
    ).where(
        TASKS.c.dispute_id.in_(dispute_ids),
        TASKS.c.kind != ACKNOWLEDGE,
        TASKS.c.state.in_(LIVE_TASK_STATES),
    )


def obligation_targets(dispute: Any, owed: Iterable[str], policy: Policy) -> dict[str, str]:
    """Who owes each obligation of ``dispute`` (its row, as it is now)."""
    return {kind: owner(dispute, policy.rules.obligations[kind].owner) for kind in owed}


def first_reminders(
    dues: Iterable[datetime], *, now: datetime, policy: Policy
) -> dict[datetime, datetime | None]:
    """The first reminder after ``now`` of a task due at each of ``dues``."""
    reminders = {}
    for due in dues:
        if due not in reminders:
            upcoming = next_reminder(due, after=now, policy=policy)
            reminders[due] = upcoming[1] if upcoming else None
    return reminders


def acknowledgement_row(
    *, dispute_id: int, target: str, at: datetime, risk: Risk, policy: Policy, now: datetime
) -> dict[str, Any] | None:
    """The acknowledgement task an assignment or escalation at ``at`` calls for, or None if
    the rules ask for no acknowledgement at this risk. Reminded once more at its deadline."""
    grace = policy.rules.acknowledgement.get(risk)
    if grace is None:
        return None
    due = policy.due_after(at, grace, risk=risk)
    return {
        "dispute_id": dispute_id,
        "kind": ACKNOWLEDGE,
        "target": target,
        "due_at": due,
        "state": "open",
        "created_at": now,
        "rules_version": policy.version,
        "risk": risk.value,
        "next_reminder_at": due,
        "reminders_sent": 0,
    }


def announce(
    session: Session, task: Task, kind: str, *, at: datetime, policy: Policy, now: datetime
) -> None:
    """Queue the message that a new acknowledgement task calls for, in this transaction."""
    dispute = session.get(Dispute, task.dispute_id)
    assert dispute is not None and task.id is not None
    found = addresses(session, task.target)
    if not found:
        log.info("no_contact", target=task.target, dispute_id=task.dispute_id, kind=kind)
        return
    insert_ignoring_duplicates(
        session,
        OutboxMessage,
        announcement(
            task_id=task.id,
            task=task.model_dump(),
            kind=kind,
            at=at,
            category=dispute.category,
            found=found,
            policy=policy,
            now=now,
        ),
    )


def announcement(
    *,
    task_id: int,
    task: dict[str, Any],
    kind: str,
    at: datetime,
    category: str,
    found: list[tuple[str, str, str]],
    policy: Policy,
    now: datetime,
) -> list[dict[str, Any]]:
    """The outbox rows announcing a new acknowledgement task (``kind`` "assigned" or
    "escalated") to the addresses ``found``; not in quiet hours unless the risk is high."""
    notice = task_notice(
        dispute_id=task["dispute_id"],
        category=category,
        risk=task["risk"],
        task_id=task_id,
        kind=task["kind"],
        target=task["target"],
        due=task["due_at"],
        policy=policy,
    )
    title, body = render(kind, notice, language=policy.rules.reminders.language, zone=policy.zone)
    return message_rows(
        found,
        key=f"task:{task_id}:{kind}",
        title=title,
        body=body,
        not_before=after_quiet_hours(at, risk=Risk(task["risk"]), policy=policy),
        now=now,
        dispute_id=task["dispute_id"],
        task_id=task_id,
        risk=task["risk"],
    )
