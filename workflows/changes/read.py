"""What the planner needs of some disputes, read set-wise: a few queries however many
disputes there are, each a statement compiled once per dialect and run on the driver
(workflows.driver), its list of ids one parameter."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import and_, literal, select
from sqlmodel import Session

from models.lifecycle import DisputeState, Event
from models.tables import Dispute, DisputeEvent, Escalation, Obligation, Person, Task
from models.values import LIVE_TASK_STATES, EventKind, Risk, Role, UnitLevel, UnitPath
from rules.evaluate import Fold, load_fold
from rules.policy import Policy
from workflows.access import Viewer, scope_condition
from workflows.changes.plan import Staff
from workflows.driver import fetch, fetch_together, one_of

__all__ = [
    "DISPUTES",
    "ESCALATIONS",
    "EVENTS",
    "OBLIGATIONS",
    "TASKS",
    "Stored",
    "fold_of",
    "histories",
    "history",
    "initial_state",
    "path_of",
    "read_stored",
    "staff_of",
]

# The tables, for the Core statements that read and write many rows at once.
DISPUTES = Dispute.__table__  # type: ignore[attr-defined]
EVENTS = DisputeEvent.__table__  # type: ignore[attr-defined]
ESCALATIONS = Escalation.__table__  # type: ignore[attr-defined]
OBLIGATIONS = Obligation.__table__  # type: ignore[attr-defined]
TASKS = Task.__table__  # type: ignore[attr-defined]
PEOPLE = Person.__table__  # type: ignore[attr-defined]


def _dispute_rows(dialect: str, *, lock: bool, scope: UnitLevel | None) -> Any:
    query = select(DISPUTES).where(one_of(DISPUTES.c.id, "ids", dialect)).order_by(DISPUTES.c.id)
    if scope is not None:  # the disputes a viewer at that level may see
        query = query.where(scope_condition(scope))
    return query.with_for_update() if lock else query


_DISPUTE_ROWS = {
    (dialect, lock, scope): _dispute_rows(dialect, lock=lock, scope=scope)
    for dialect in ("postgresql", "sqlite")
    for lock in (False, True)
    for scope in (None, *UnitLevel)
}


@dataclass(frozen=True)
class Stored:
    """What is stored of some disputes, as the planner needs it."""

    rows: dict[int, Any]  # the disputes' rows by id
    obligations: dict[int, list[Any]]  # their obligations
    tasks: dict[int, list[Any]]  # their live tasks


def read_stored(
    session: Session,
    ids: Collection[int],
    *,
    lock: bool = False,
    viewer: Viewer | None = None,
    also: Sequence[tuple[Any, Mapping[str, Any]]] = (),
) -> tuple[Stored, list[list[Any]]]:
    """The disputes' rows (of those ``viewer`` may see, if given), their stored
    obligations and live tasks, in one round trip, with the rows of the queries ``also``
    (sent after them, in the same round trip). With ``lock``, each dispute is locked first
    (``FOR UPDATE`` on PostgreSQL, in id order so that two writers cannot deadlock on
    them; SQLite's write lock is already held), so that concurrent writers queue rather
    than lose an update."""
    dialect = session.get_bind().dialect.name
    scope = viewer.level if viewer is not None else None
    ids = list(ids)
    params: dict[str, Any] = {"ids": ids}
    if viewer is not None:
        params.update(scope_unit=viewer.unit, scope_person=viewer.person)
    rows, obligations, tasks, *others = fetch_together(
        session,
        [
            (_DISPUTE_ROWS[dialect, lock, scope], params),
            (_STORED_OBLIGATIONS[dialect], {"ids": ids}),
            (_LIVE_TASKS[dialect], {"ids": ids}),
            *also,
        ],
    )
    found = {row.id: row for row in rows}
    return Stored(found, _by_dispute(obligations, found), _by_dispute(tasks, found)), others


_STORED_OBLIGATIONS = {
    dialect: select(
        OBLIGATIONS.c.dispute_id,
        OBLIGATIONS.c.id,
        OBLIGATIONS.c.kind,
        OBLIGATIONS.c.due_at,
        OBLIGATIONS.c.rules_version,
        OBLIGATIONS.c.overdue_noted,
    ).where(one_of(OBLIGATIONS.c.dispute_id, "ids", dialect))
    for dialect in ("postgresql", "sqlite")
}


_LIVE_TASKS = {
    dialect: select(
        TASKS.c.dispute_id, TASKS.c.id, TASKS.c.kind, TASKS.c.target, TASKS.c.due_at
    ).where(
        and_(
            one_of(TASKS.c.dispute_id, "ids", dialect),
            TASKS.c.state.in_([literal(state) for state in LIVE_TASK_STATES]),
        )
    )
    for dialect in ("postgresql", "sqlite")
}


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


_STAFF = {
    dialect: select(PEOPLE.c.id, PEOPLE.c.role, PEOPLE.c.unit_code, PEOPLE.c.left_at).where(
        one_of(PEOPLE.c.id, "ids", dialect)
    )
    for dialect in ("postgresql", "sqlite")
}


def staff_of(session: Session, people: Collection[str]) -> dict[str, Staff]:
    """The role and unit of each of ``people`` who exists (and when they left, if they
    did)."""
    if not people:
        return {}
    rows = fetch(session, _STAFF[session.get_bind().dialect.name], {"ids": list(people)})
    return {row.id: Staff(Role(row.role), row.unit_code, row.left_at) for row in rows}


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
    """The dispute as it was reported, from its row and its history ``past`` (its
    ``report`` event, and the units it had before an org change moved it)."""
    report = next((e for e in past if e.kind is EventKind.report), None)
    risk = Risk(report.data["risk"]) if report is not None else Risk(dispute.risk)
    # The row holds the units as they are now; an org change since the report says which
    # they were before it.
    moved = next((e for e in past if e.kind is EventKind.reorganise and e.data.get("was")), None)
    path = path_of(dispute)
    if moved is not None:
        was = moved.data["was"]
        path = UnitPath(was["village"], was["township"], was["county"])
    clocks_from = report.data.get("clocks_from") if report is not None else None
    return DisputeState.reported(
        path=path,
        risk=risk,
        at=dispute.reported_at,
        clocks_from=datetime.fromisoformat(clocks_from) if clocks_from else None,
    )


def _by_dispute(rows: list[Any], disputes: Collection[int]) -> dict[int, list[Any]]:
    """Rows by their first column, the dispute id, for the disputes read (a viewer's)."""
    groups: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        if row[0] in disputes:
            groups[row[0]].append(row)
    return groups
