"""What an evaluation changes, worked out without the database, and written set-wise.

Recording an event and sweeping a batch of disputes write the same things: the decisions
that fell due (events and escalations), the dispute's state, its obligations and the tasks
that follow them. The functions here compute those rows from what is stored and what the
evaluation says; :class:`Writes` collects them for any number of disputes and writes them
with a few statements, so that a sweep of 500 disputes costs a dozen round trips, not
thousands.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, insert, update
from sqlmodel import Session

from models.lifecycle import Event, UnitPath
from models.tables import Dispute, DisputeEvent, Escalation, Obligation, OutboxMessage, Task
from rules.evaluate import Decision, DueObligation, Evaluation
from rules.policy import Policy
from workflows.db import dialect_insert

__all__ = [
    "CHUNK",
    "DISPUTES",
    "EVENTS",
    "OBLIGATIONS",
    "OUTBOX",
    "TASKS",
    "StoredObligation",
    "StoredTask",
    "Writes",
    "decision_rows",
    "dispute_fields",
    "event_row",
    "obligation_changes",
    "obligation_task_changes",
]

# Rows per multi-row statement: well under SQLite's 32,766 bound variables.
CHUNK = 500

# The tables, for the Core statements that read and write many rows at once.
DISPUTES = Dispute.__table__  # type: ignore[attr-defined]
EVENTS = DisputeEvent.__table__  # type: ignore[attr-defined]
OBLIGATIONS = Obligation.__table__  # type: ignore[attr-defined]
TASKS = Task.__table__  # type: ignore[attr-defined]
OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]


class StoredObligation(Protocol):
    id: int
    kind: str
    due_at: datetime
    rules_version: str
    overdue_noted: bool


class StoredTask(Protocol):
    id: int
    kind: str
    target: str
    due_at: datetime


def event_row(
    dispute_id: int, event: Event, seq: int, now: datetime, policy: Policy
) -> dict[str, Any]:
    """The ``dispute_events`` row of an event."""
    return {
        "dispute_id": dispute_id,
        "seq": seq,
        "kind": event.kind.value,
        "at": event.at,
        "recorded_at": now,
        "actor": event.by,
        "data": dict(event.data),
        "rules_version": policy.version,
    }


@dataclass(frozen=True)
class Escalated:
    """An escalation to write: recorded by hand (an ``escalate`` event) or decided."""

    seq: int
    at: datetime
    from_level: str
    to_level: str
    rule: str


def decision_rows(
    dispute_id: int,
    last_seq: int,
    decisions: Sequence[Decision],
    *,
    policy: Policy,
    now: datetime,
) -> tuple[list[dict[str, Any]], list[Escalated]]:
    """The events of the decisions that fell due, numbered after ``last_seq``, and the
    escalations among them."""
    events, escalated = [], []
    seq = last_seq
    for decision in decisions:
        seq += 1
        events.append(event_row(dispute_id, decision.as_event(), seq, now, policy))
        if decision.kind == "escalate":
            escalated.append(
                Escalated(
                    seq,
                    decision.effective_at,
                    decision.from_level,
                    decision.to_level,
                    decision.rule,
                )
            )
    return events, escalated


def escalation_row(
    dispute_id: int, move: Escalated, path: UnitPath, *, policy: Policy, now: datetime
) -> dict[str, Any]:
    return {
        "dispute_id": dispute_id,
        "from_level": move.from_level,
        "to_level": move.to_level,
        "from_unit": path.at(move.from_level),  # type: ignore[arg-type]
        "to_unit": path.at(move.to_level),  # type: ignore[arg-type]
        "rule": move.rule,
        "rules_version": policy.version,
        "effective_at": move.at,
        "recorded_at": now,
        "event_seq": move.seq,
    }


def dispute_fields(evaluation: Evaluation, policy: Policy, *, seq: int) -> dict[str, Any]:
    """The dispute row's columns that follow from its evaluation, once its events are
    recorded up to ``seq``."""
    state = evaluation.state
    return {
        "last_seq": seq,
        "fold": evaluation.folded(seq=seq),
        "status": state.status,
        "risk": state.risk,
        "level": state.level,
        "unit_code": state.unit,
        "assignee": state.assignee,
        "paused": state.paused,
        "supervised": state.supervised,
        "supervision_deadline": state.supervision_deadline,
        "level_since": state.level_since,
        "next_decision_at": (
            evaluation.next_decision.effective_at if evaluation.next_decision else None
        ),
        "rules_version": policy.version,
    }


@dataclass
class ObligationChanges:
    gone: list[int] = field(default_factory=list)  # obligation row ids
    new: list[dict[str, Any]] = field(default_factory=list)
    moved: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.gone) + len(self.new) + len(self.moved)


def obligation_changes(
    dispute_id: int,
    stored: Iterable[StoredObligation],
    owed: Sequence[DueObligation],
    *,
    policy: Policy,
) -> ObligationChanges:
    """Make the stored obligations match what is owed. An obligation whose due time moved
    is no longer noticed overdue: its new due time will be noticed in its turn."""
    current = {row.kind: row for row in stored}
    wanted = {o.name: o for o in owed}
    changes = ObligationChanges(
        gone=[row.id for kind, row in current.items() if kind not in wanted]
    )
    for name, obligation in wanted.items():
        row = current.get(name)
        if row is None:
            changes.new.append(
                {
                    "dispute_id": dispute_id,
                    "kind": name,
                    "due_at": obligation.due_at,
                    "rule": obligation.rule,
                    "rules_version": policy.version,
                    "overdue_noted": False,
                }
            )
        elif row.due_at != obligation.due_at or row.rules_version != policy.version:
            changes.moved.append(
                {
                    "b_id": row.id,
                    "due_at": obligation.due_at,
                    "rule": obligation.rule,
                    "rules_version": policy.version,
                    "overdue_noted": row.overdue_noted and row.due_at == obligation.due_at,
                }
            )
    return changes


def obligation_task_changes(
    dispute_id: int,
    live: Iterable[StoredTask],
    owed: Mapping[str, datetime],
    *,
    targets: Mapping[str, str],
    fulfilled: set[str],
    at: datetime,
    risk: str,
    first_reminder: Mapping[datetime, datetime | None],
    policy: Policy,
    now: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Keep one live task per obligation, for whoever owes it, due when it is due.

    Returns (tasks to close, tasks to open). A task whose obligation was fulfilled is done;
    one whose obligation moved or ended otherwise is cancelled, and the obligation's new
    due time or owner gets a task of its own.
    """
    wanted = set(owed.items())
    have = set()
    closed = []
    for task in live:
        if (task.kind, task.due_at) in wanted and task.target == targets[task.kind]:
            have.add((task.kind, task.due_at))
        else:
            state = "done" if task.kind in fulfilled else "cancelled"
            closed.append({"b_id": task.id, "state": state, "closed_at": at})
    opened = [
        {
            "dispute_id": dispute_id,
            "kind": kind,
            "target": targets[kind],
            "due_at": due,
            "state": "open",
            "created_at": now,
            "rules_version": policy.version,
            "risk": risk,
            "next_reminder_at": first_reminder[due],
            "reminders_sent": 0,
        }
        for kind, due in sorted(wanted - have)
    ]
    return closed, opened


@dataclass
class Writes:
    """Rows to write for any number of disputes, written by :meth:`apply` set-wise."""

    events: list[dict[str, Any]] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    disputes: list[dict[str, Any]] = field(default_factory=list)  # with "b_id"
    obligations: ObligationChanges = field(default_factory=ObligationChanges)
    tasks_closed: list[dict[str, Any]] = field(default_factory=list)
    tasks_opened: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)

    def add_obligations(self, changes: ObligationChanges) -> None:
        self.obligations.gone.extend(changes.gone)
        self.obligations.new.extend(changes.new)
        self.obligations.moved.extend(changes.moved)

    def apply(self, session: Session) -> None:
        """Write everything: inserts in chunks, updates as one executemany each."""
        _insert(session, DisputeEvent, self.events)
        _insert(session, Escalation, self.escalations)
        if self.disputes:
            columns = {k: bindparam(k) for k in self.disputes[0] if k != "b_id"}
            session.execute(
                update(DISPUTES).where(DISPUTES.c.id == bindparam("b_id")).values(columns),
                self.disputes,
            )
        for chunk in _chunks(self.obligations.gone):
            session.execute(delete(OBLIGATIONS).where(OBLIGATIONS.c.id.in_(chunk)))
        _insert(session, Obligation, self.obligations.new)
        if self.obligations.moved:
            session.execute(
                update(OBLIGATIONS)
                .where(OBLIGATIONS.c.id == bindparam("b_id"))
                .values(
                    due_at=bindparam("due_at"),
                    rule=bindparam("rule"),
                    rules_version=bindparam("rules_version"),
                    overdue_noted=bindparam("overdue_noted"),
                ),
                self.obligations.moved,
            )
        if self.tasks_closed:
            session.execute(
                update(TASKS)
                .where(TASKS.c.id == bindparam("b_id"))
                .values(
                    state=bindparam("state"),
                    closed_at=bindparam("closed_at"),
                    next_reminder_at=None,
                ),
                self.tasks_closed,
            )
        open_tasks(session, self.tasks_opened)
        queue_messages(session, self.outbox)


def open_tasks(session: Session, rows: list[dict[str, Any]]) -> None:
    """Open tasks; one cancelled earlier for the same dispute, kind, target and due time
    (its obligation came back, after a pause say) is reopened rather than duplicated."""
    if not rows:
        return
    statement = dialect_insert(session)(TASKS)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["dispute_id", "kind", "target", "due_at"],
            set_={
                "state": "open",
                "closed_at": None,
                "next_reminder_at": statement.excluded.next_reminder_at,
                "reminders_sent": 0,
            },
            where=TASKS.c.state == "cancelled",
        ),
        rows,
    )


def queue_messages(session: Session, rows: list[dict[str, Any]]) -> None:
    """Queue messages, skipping any whose (key, channel, address) is already queued: the
    idempotency key is the last line of defence against a message written twice."""
    if rows:
        session.execute(dialect_insert(session)(OUTBOX).on_conflict_do_nothing(), rows)


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(model.__table__), rows)


def _chunks(rows: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]
