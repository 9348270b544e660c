"""What the planner needs of some disputes, read set-wise: a few queries however many
disputes there are."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, Row, select
from sqlmodel import Session

from models.lifecycle import DisputeState, Event
from models.tables import Dispute, DisputeEvent, Escalation, Obligation, Person, Task
from models.values import LIVE_TASK_STATES, EventKind, Risk, Role, UnitPath
from rules.evaluate import Fold, load_fold
from rules.policy import Policy
from workflows.changes.plan import Staff

__all__ = [
    "DISPUTES",
    "ESCALATIONS",
    "EVENTS",
    "OBLIGATIONS",
    "TASKS",
    "dispute_rows",
    "fold_of",
    "histories",
    "history",
    "initial_state",
    "live_tasks",
    "path_of",
    "staff_of",
    "stored_obligations",
]

# The tables, for the Core statements that read and write many rows at once.
DISPUTES = Dispute.__table__  # type: ignore[attr-defined]
EVENTS = DisputeEvent.__table__  # type: ignore[attr-defined]
ESCALATIONS = Escalation.__table__  # type: ignore[attr-defined]
OBLIGATIONS = Obligation.__table__  # type: ignore[attr-defined]
TASKS = Task.__table__  # type: ignore[attr-defined]
PEOPLE = Person.__table__  # type: ignore[attr-defined]


def dispute_rows(
    session: Session,
    ids: Collection[int],
    *,
    lock: bool = False,
    where: ColumnElement[bool] | None = None,
) -> dict[int, Row[Any]]:
    """The disputes' rows by id (of those that meet ``where``, if given: a scope). With
    ``lock``, each is locked (``FOR UPDATE`` on PostgreSQL, in id order so that two writers
    cannot deadlock on them; SQLite's write lock is already held), so that concurrent
    writers queue rather than lose an update."""
    query = select(DISPUTES).where(DISPUTES.c.id.in_(list(ids))).order_by(DISPUTES.c.id)
    if where is not None:
        query = query.where(where)
    if lock:
        query = query.with_for_update()
    return {row.id: row for row in session.execute(query)}


def stored_obligations(session: Session, ids: Collection[int]) -> dict[int, list[Row[Any]]]:
    """The disputes' stored obligations, as the planner compares them with what is owed."""
    return _grouped(
        session,
        select(
            OBLIGATIONS.c.dispute_id,
            OBLIGATIONS.c.id,
            OBLIGATIONS.c.kind,
            OBLIGATIONS.c.due_at,
            OBLIGATIONS.c.rules_version,
            OBLIGATIONS.c.overdue_noted,
        ).where(OBLIGATIONS.c.dispute_id.in_(list(ids))),
    )


def live_tasks(session: Session, ids: Collection[int]) -> dict[int, list[Row[Any]]]:
    """The disputes' live tasks (open or acknowledged), of every kind."""
    return _grouped(
        session,
        select(TASKS.c.dispute_id, TASKS.c.id, TASKS.c.kind, TASKS.c.target, TASKS.c.due_at).where(
            TASKS.c.dispute_id.in_(list(ids)), TASKS.c.state.in_(LIVE_TASK_STATES)
        ),
    )


def histories(session: Session, ids: Collection[int]) -> dict[int, list[Event]]:
    """The disputes' events, in order, as the evaluation replays them."""
    if not ids:
        return {}
    query = (
        select(
            EVENTS.c.dispute_id,
            EVENTS.c.seq,
            EVENTS.c.kind,
            EVENTS.c.at,
            EVENTS.c.actor,
            EVENTS.c.data,
        )
        .where(EVENTS.c.dispute_id.in_(list(ids)))
        .order_by(EVENTS.c.dispute_id, EVENTS.c.seq)
    )
    found: dict[int, list[Event]] = defaultdict(list)
    for row in session.execute(query):
        found[row.dispute_id].append(
            Event(
                kind=EventKind(row.kind),
                at=row.at,
                data=MappingProxyType(dict(row.data)),
                actor=row.actor,
                seq=row.seq,
            )
        )
    return found


def history(session: Session, dispute_id: int) -> list[Event]:
    """One dispute's events, in order."""
    return histories(session, [dispute_id]).get(dispute_id, [])


def staff_of(session: Session, people: Collection[str]) -> dict[str, Staff]:
    """The role and unit of each of ``people`` who exists."""
    if not people:
        return {}
    query = select(PEOPLE.c.id, PEOPLE.c.role, PEOPLE.c.unit_code).where(
        PEOPLE.c.id.in_(list(people))
    )
    return {row.id: Staff(Role(row.role), row.unit_code) for row in session.execute(query)}


def path_of(dispute: Any) -> UnitPath:
    """The units of a dispute (its row)."""
    return UnitPath(dispute.village_code, dispute.township_code, dispute.county_code)


def fold_of(dispute: Any, policy: Policy) -> Fold | None:
    """The fold stored with a dispute (its row), if the next evaluation can go on from it
    under ``policy``."""
    return load_fold(
        dispute.fold,
        seq=dispute.last_seq,
        path=path_of(dispute),
        assignee=dispute.assignee,
        policy=policy,
    )


def initial_state(dispute: Any, past: Sequence[Event]) -> DisputeState:
    """The dispute as it was reported, from its row and its ``report`` event."""
    report = next((e for e in past if e.kind is EventKind.report), None)
    risk = Risk(report.data["risk"]) if report is not None else Risk(dispute.risk)
    return DisputeState.reported(path=path_of(dispute), risk=risk, at=dispute.reported_at)


def _grouped(session: Session, query: Any) -> dict[int, list[Row[Any]]]:
    """Rows by their first column, the dispute id, in the query's order."""
    groups: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in session.execute(query):
        groups[row[0]].append(row)
    return groups
