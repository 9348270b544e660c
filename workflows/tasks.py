"""Acknowledgement tasks (签收): an assignment or an escalation must be acknowledged in time.

Written in the same transaction as the events that cause them; the rule file's
``acknowledgement`` section gives the deadline per risk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from models.tables import Person, Task
from models.values import Risk
from rules.policy import Policy

__all__ = [
    "ACKNOWLEDGE",
    "Happening",
    "person_target",
    "settle_obligation_tasks",
    "sync_acknowledgements",
    "unit_target",
]

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
    grace = policy.rules.acknowledgement.get(risk)
    tasks = list(
        session.exec(
            select(Task).where(
                Task.dispute_id == dispute_id, Task.kind == ACKNOWLEDGE, Task.state == "open"
            )
        )
    )
    for happening in ordered:
        if happening.kind == "acknowledge":
            person = session.get(Person, happening.who)
            mine = {person_target(happening.who)}
            if person is not None and person.role == "supervisor":
                mine.add(unit_target(person.unit_code))
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
        if grace is None:
            continue
        task = Task(
            dispute_id=dispute_id,
            kind=ACKNOWLEDGE,
            target=target,
            due_at=policy.due_after(happening.at, grace, risk=risk),
            created_at=now,
            rules_version=policy.version,
        )
        session.add(task)
        tasks.append(task)
    if not still_open:
        _close(session, tasks, "cancelled", ordered[-1].at)


def _close(session: Session, tasks: list[Task], state: str, at: datetime) -> None:
    for task in tasks:
        task.state, task.closed_at = state, at
        session.add(task)


def settle_obligation_tasks(
    session: Session, *, dispute_id: int, owed: dict[str, datetime], at: datetime
) -> None:
    """Close the cadence tasks the dispute no longer owes: done once the obligation has
    moved on to a later due time (it was fulfilled), cancelled when it no longer applies."""
    for task in session.exec(
        select(Task).where(
            Task.dispute_id == dispute_id, Task.kind != ACKNOWLEDGE, Task.state == "open"
        )
    ):
        due = owed.get(task.kind)
        if due is None:
            _close(session, [task], "cancelled", at)
        elif due > task.due_at:
            _close(session, [task], "done", at)
