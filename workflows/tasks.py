"""Acknowledgement tasks (签收): an assignment or an escalation must be acknowledged in time.

Written in the same transaction as the events that cause them; the rule file's
``acknowledgement`` section gives the deadline per risk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from models.tables import Dispute, Person, Task
from models.values import LIVE_TASK_STATES, Level, Risk
from rules.policy import Policy
from rules.reminders import after_quiet_hours, next_reminder
from workflows.db import dialect_insert
from workflows.messages import render
from workflows.outbox import enqueue

__all__ = [
    "ACKNOWLEDGE",
    "Happening",
    "open_tasks",
    "person_target",
    "responsible",
    "sync_obligation_tasks",
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
        if grace is None:
            continue
        due = policy.due_after(happening.at, grace, risk=risk)
        task = Task(
            dispute_id=dispute_id,
            kind=ACKNOWLEDGE,
            target=target,
            due_at=due,
            created_at=now,
            rules_version=policy.version,
            risk=risk.value,
            next_reminder_at=due,  # reminded once more at the deadline
        )
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
    """Keep one open task per obligation, for whoever is responsible, due when it is due.

    A task whose obligation was fulfilled by an event is done; one whose obligation moved
    or ended otherwise (an escalation restarting its clock, a pause, a reassignment) is
    cancelled, and the obligation's new due time or person gets a task of its own.
    """
    assert dispute.id is not None
    targets = {kind: owner(dispute, policy.rules.obligations[kind].owner) for kind in owed}
    wanted = {(kind, due) for kind, due in owed.items()}
    have = set()
    for task in session.exec(
        select(Task).where(
            Task.dispute_id == dispute.id,
            Task.kind != ACKNOWLEDGE,
            col(Task.state).in_(LIVE_TASK_STATES),
        )
    ):
        if (task.kind, task.due_at) in wanted and task.target == targets[task.kind]:
            have.add((task.kind, task.due_at))
        else:
            _close(session, [task], "done" if task.kind in fulfilled else "cancelled", at)
    open_tasks(
        session,
        [
            {
                "dispute_id": dispute.id,
                "kind": kind,
                "target": targets[kind],
                "due_at": due,
                "state": "open",
                "created_at": now,
                "rules_version": policy.version,
                "risk": dispute.risk,
                "next_reminder_at": _first_reminder(due, now=now, policy=policy),
                "reminders_sent": 0,
            }
            for kind, due in sorted(wanted - have)
        ],
    )


def open_tasks(session: Session, rows: list[dict[str, object]]) -> None:
    """Open tasks; one cancelled earlier for the same dispute, kind, target and due time
    (its obligation came back, after a pause say) is reopened rather than duplicated."""
    if not rows:
        return
    statement = dialect_insert(session)(Task).values(rows)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["dispute_id", "kind", "target", "due_at"],
            set_={
                "state": "open",
                "closed_at": None,
                "next_reminder_at": statement.excluded.next_reminder_at,
                "reminders_sent": 0,
            },
            where=col(Task.state) == "cancelled",
        )
    )


def _first_reminder(due: datetime, *, now: datetime, policy: Policy) -> datetime | None:
    upcoming = next_reminder(due, after=now, policy=policy)
    return upcoming[1] if upcoming else None


def announce(
    session: Session, task: Task, kind: str, *, at: datetime, policy: Policy, now: datetime
) -> None:
    """Queue the message that a new acknowledgement task calls for, in this transaction."""
    from workflows.reminders import notice_for

    notice = notice_for(session, task, policy=policy)
    title, body = render(kind, notice, language=policy.rules.reminders.language, zone=policy.zone)
    enqueue(
        session,
        key=f"task:{task.id}:{kind}",
        target=task.target,
        title=title,
        body=body,
        not_before=after_quiet_hours(at, risk=Risk(task.risk), policy=policy),
        now=now,
        dispute_id=task.dispute_id,
        task_id=task.id,
        risk=task.risk,
    )
