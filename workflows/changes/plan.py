"""The planner: everything an evaluation changes, worked out without the database.

Recording events on a dispute and sweeping a batch of due disputes change the same things:
the events (recorded now, and the decisions that fell due), the escalations among them, the
dispute's row and its fold, its obligations, the tasks that follow them, the
acknowledgement tasks (签收) an assignment or escalation opens and the messages announcing
them. :func:`plan_dispute` computes those rows from what is stored and what the evaluation
says; a :class:`Plan` collects them for any number of disputes, and
:func:`workflows.changes.write.write_plan` writes it with a few set-wise statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from models.lifecycle import Event
from models.record import record_after
from models.targets import Target, answered_by, owner
from models.values import (
    ACKNOWLEDGEMENT,
    NO_DEADLINE,
    EventKind,
    Level,
    MessageKind,
    Risk,
    Role,
    TaskState,
    UnitPath,
)
from rules.evaluate import Decision, DueObligation, Evaluation, LevelChange
from rules.policy import Policy
from rules.reminders import next_reminder

__all__ = [
    "NewAcknowledgement",
    "ObligationChanges",
    "Plan",
    "Staff",
    "StoredDispute",
    "StoredObligation",
    "StoredTask",
    "acknowledgement_row",
    "plan_dispute",
]


class StoredDispute(Protocol):
    """What the planner reads of a ``disputes`` row."""

    @property
    def id(self) -> int: ...
    @property
    def category(self) -> str: ...
    @property
    def reported_unit(self) -> str: ...
    @property
    def last_seq(self) -> int: ...
    @property
    def record(self) -> Mapping[str, Any]: ...


class StoredObligation(Protocol):
    """An ``obligations`` row."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def rules_version(self) -> str: ...
    @property
    def overdue_noted(self) -> bool: ...


class StoredTask(Protocol):
    """A live ``tasks`` row (open or acknowledged)."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def due_at(self) -> datetime: ...


@dataclass(frozen=True)
class Staff:
    """A person's role and unit: what an acknowledgement needs of whoever gives it (a
    supervisor answers for their unit, and for what was passed up to them)."""

    role: Role
    unit: str
    left_at: datetime | None = None  # no longer works here: nothing is theirs to do


@dataclass(frozen=True)
class NewAcknowledgement:
    """An acknowledgement task to open: its row, and how it is announced (not at all once
    the dispute is no longer open)."""

    row: dict[str, Any]
    target: Target  # the row's, read
    announce: MessageKind | None
    at: datetime
    category: str


@dataclass
class ObligationChanges:
    gone: list[int] = field(default_factory=list)  # obligation row ids
    new: list[dict[str, Any]] = field(default_factory=list)
    moved: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.gone) + len(self.new) + len(self.moved)

    def extend(self, other: ObligationChanges) -> None:
        self.gone.extend(other.gone)
        self.new.extend(other.new)
        self.moved.extend(other.moved)


@dataclass
class Plan:
    """The rows to write for any number of disputes. Updates carry the row's id as
    ``b_id``; new rows have none yet."""

    events: list[dict[str, Any]] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    disputes: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)  # the ledger's, when changed
    obligations: ObligationChanges = field(default_factory=ObligationChanges)
    tasks_closed: list[dict[str, Any]] = field(default_factory=list)
    tasks_opened: list[dict[str, Any]] = field(default_factory=list)
    acknowledgements: list[NewAcknowledgement] = field(default_factory=list)
    # What fell due, by dispute: for the logs and the counts.
    decisions: list[tuple[int, Decision]] = field(default_factory=list)
    # Disputes still due for a decision after this plan: never expected (what is due by
    # now is decided now), a guard against a sweep claiming the same disputes forever.
    still_due: list[int] = field(default_factory=list)

    def extend(self, other: Plan) -> None:
        self.events.extend(other.events)
        self.escalations.extend(other.escalations)
        self.disputes.extend(other.disputes)
        self.records.extend(other.records)
        self.obligations.extend(other.obligations)
        self.tasks_closed.extend(other.tasks_closed)
        self.tasks_opened.extend(other.tasks_opened)
        self.acknowledgements.extend(other.acknowledgements)
        self.decisions.extend(other.decisions)
        self.still_due.extend(other.still_due)


def plan_dispute(
    dispute: StoredDispute,
    evaluation: Evaluation,
    *,
    fresh: Sequence[Event] = (),
    obligations: Iterable[StoredObligation] = (),
    tasks: Iterable[StoredTask] = (),
    people: Mapping[str, Staff] | None = None,
    policy: Policy,
    now: datetime,
) -> Plan:
    """What to write for ``dispute`` once ``fresh`` (validated and numbered after its last
    event; none for a sweep) is recorded and ``evaluation`` is made of its whole history.

    ``obligations`` and ``tasks`` are what is stored (its live tasks); ``people`` those who
    acknowledge in ``fresh``.
    """
    state = evaluation.state
    plan = Plan()
    plan.events = [_event_row(dispute.id, event, event.seq, now, policy) for event in fresh]
    seq = dispute.last_seq + len(fresh)
    fresh_seqs = {event.seq for event in fresh}
    listed: list[tuple[datetime, str]] = []  # listings to announce: when, and the unit
    escalated: list[tuple[LevelChange, str]] = [
        (change, "manual")
        for change in evaluation.level_changes
        if change.seq in fresh_seqs and change.kind is EventKind.escalate
    ]
    for decision in evaluation.decisions:
        seq += 1
        plan.events.append(_event_row(dispute.id, decision.as_event(), seq, now, policy))
        plan.decisions.append((dispute.id, decision))
        if decision.kind == "escalate":
            change = LevelChange(
                seq,
                EventKind.escalate,
                decision.effective_at,
                decision.from_level,
                decision.to_level,
            )
            escalated.append((change, decision.rule))
        else:  # a listing, or its next grade: its unit (the county, if none is known) is told
            listed.append((decision.effective_at, decision.unit or state.path.county))
    plan.escalations = [
        _escalation_row(
            dispute.id,
            change,
            rule,
            _path_then(change.at, state.path, fresh),
            policy=policy,
            now=now,
        )
        for change, rule in escalated
    ]
    plan.obligations = _obligation_changes(
        dispute.id, obligations, evaluation.obligations, policy=policy
    )

    waiting: list[StoredTask] = []  # the acknowledgements owed
    following: list[StoredTask] = []  # the tasks of obligations
    for task in tasks:
        (waiting if task.kind == ACKNOWLEDGEMENT else following).append(task)
    closed_before = len(plan.tasks_closed)
    if fresh or escalated or listed:
        waiting.sort(key=lambda task: task.id)
        _plan_acknowledgements(
            plan,
            dispute,
            evaluation,
            fresh=fresh,
            escalated=[change for change, _ in escalated],
            listed=listed,
            waiting=waiting,
            people=people or {},
            policy=policy,
            now=now,
        )
    closed = {row["b_id"] for row in plan.tasks_closed[closed_before:]}
    acknowledgements_due = [t.due_at for t in waiting if t.id not in closed] + [
        new.row["due_at"] for new in plan.acknowledgements if new.row["state"] == TaskState.open
    ]
    reported_unit = next(
        (
            str(event.data["reported_unit"])
            for event in reversed(fresh)
            if event.kind is EventKind.reorganise and event.data.get("reported_unit")
        ),
        dispute.reported_unit,
    )
    fields = _dispute_fields(evaluation, policy, seq=seq, acknowledgements=acknowledgements_due)
    fields["reported_unit"] = reported_unit
    plan.disputes.append({"b_id": dispute.id, **fields})
    if fresh:
        plan.records.append({"b_id": dispute.id, "record": record_after(dispute.record, fresh)})
    next_at = fields["next_decision_at"]
    if next_at is not None and next_at < now:
        plan.still_due.append(dispute.id)
    owed = {o.name: o.due_at for o in evaluation.obligations}
    kinds = {event.kind for event in fresh}
    closing, opened = _obligation_task_changes(
        dispute.id,
        following,
        owed,
        targets=_owners(owed, reported_unit, evaluation, policy=policy),
        fulfilled={n for n, rule in policy.rules.obligations.items() if rule.fulfilled_by in kinds}
        if kinds
        else set(),
        at=fresh[-1].at if fresh else now,
        risk=state.risk,
        policy=policy,
        now=now,
    )
    plan.tasks_closed.extend(closing)
    plan.tasks_opened.extend(opened)
    return plan


def _owners(
    owed: Mapping[str, datetime],
    reported_unit: str,
    evaluation: Evaluation,
    *,
    policy: Policy,
) -> dict[str, str]:
    """Who owes each obligation (as stored: ``person:<id>`` or ``unit:<code>``), worked out
    once per kind of owner."""
    state = evaluation.state
    by_owner: dict[str, str] = {}
    targets = {}
    for name in owed:
        who = policy.rules.obligations[name].owner
        if who not in by_owner:
            by_owner[who] = str(
                owner(
                    who,
                    level=state.level,
                    assignee=state.assignee,
                    reported_unit=reported_unit,
                    path=state.path,
                    listing_unit=state.listing_unit,
                )
            )
        targets[name] = by_owner[who]
    return targets


def _event_row(
    dispute_id: int, event: Event, seq: int, now: datetime, policy: Policy
) -> dict[str, Any]:
    """The ``dispute_events`` row of an event."""
    return {
        "dispute_id": dispute_id,
        "seq": seq,
        "kind": event.kind.value,
        "at": event.at,
        "recorded_at": now,
        "actor": event.actor,
        "data": dict(event.data),
        "rules_version": policy.version,
        "import_key": event.key,
    }


def _escalation_row(
    dispute_id: int,
    change: LevelChange,
    rule: str,
    path: UnitPath,
    *,
    policy: Policy,
    now: datetime,
) -> dict[str, Any]:
    return {
        "dispute_id": dispute_id,
        "from_level": change.from_level,
        "to_level": change.to_level,
        "from_unit": path.at(change.from_level),
        "to_unit": path.at(change.to_level),
        "rule": rule,
        "rules_version": policy.version,
        "effective_at": change.at,
        "recorded_at": now,
        "event_seq": change.seq,
    }


def _path_then(at: datetime, path: UnitPath, fresh: Sequence[Event]) -> UnitPath:
    """The dispute's units at ``at``: ``path``, those it has now, unless an org change
    among ``fresh`` came after ``at`` (a decision that fell due before it is the old
    units')."""
    for event in sorted(fresh, key=lambda e: e.at, reverse=True):
        was = event.data.get("was") if event.kind is EventKind.reorganise else None
        if was and event.at > at:
            path = UnitPath(was["village"], was["township"], was["county"])
    return path


def _dispute_fields(
    evaluation: Evaluation, policy: Policy, *, seq: int, acknowledgements: Iterable[datetime]
) -> dict[str, Any]:
    """The dispute row's columns that follow from its evaluation, once its events are
    recorded up to ``seq`` and the ``acknowledgements`` due then are owed."""
    state = evaluation.state
    deadlines = [*(o.due_at for o in evaluation.obligations), *acknowledgements]
    return {
        "last_seq": seq,
        "fold": evaluation.folded(seq=seq),
        "status": state.status,
        "risk": state.risk,
        "level": state.level,
        "unit_code": state.unit,
        "village_code": state.path.village,
        "township_code": state.path.township,
        "county_code": state.path.county,
        "assignee": state.assignee,
        "paused": state.paused,
        "supervised": state.supervised,
        "supervision_deadline": state.supervision_deadline,
        "level_since": state.level_since,
        "next_decision_at": (
            evaluation.next_decision.effective_at if evaluation.next_decision else None
        ),
        "rules_version": policy.version,
        "risk_rank": state.risk.rank,
        "attention_at": min(deadlines, default=NO_DEADLINE),
    }


def _obligation_changes(
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


def _obligation_task_changes(
    dispute_id: int,
    live: Iterable[StoredTask],
    owed: Mapping[str, datetime],
    *,
    targets: Mapping[str, str],
    fulfilled: set[str],
    at: datetime,
    risk: Risk,
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
            state = TaskState.done if task.kind in fulfilled else TaskState.cancelled
            closed.append({"b_id": task.id, "state": state, "closed_at": at})
    first_reminder: dict[datetime, datetime | None] = {}
    opened = []
    for kind, due in sorted(wanted - have):
        if due not in first_reminder:
            upcoming = next_reminder(due, after=now, policy=policy)
            first_reminder[due] = upcoming[1] if upcoming else None
        opened.append(
            {
                "dispute_id": dispute_id,
                "kind": kind,
                "target": targets[kind],
                "due_at": due,
                "state": TaskState.open,
                "created_at": now,
                "rules_version": policy.version,
                "risk": risk,
                "next_reminder_at": first_reminder[due],
                "reminders_sent": 0,
            }
        )
    return closed, opened


def acknowledgement_row(
    *, dispute_id: int, target: Target, at: datetime, risk: Risk, policy: Policy, now: datetime
) -> dict[str, Any] | None:
    """The acknowledgement task an assignment or escalation at ``at`` calls for, or None if
    the rules ask for no acknowledgement at this risk. Reminded once more at its deadline."""
    grace = policy.rules.acknowledgement.get(risk)
    if grace is None:
        return None
    due = policy.due_after(at, grace, risk=risk)
    return {
        "dispute_id": dispute_id,
        "kind": ACKNOWLEDGEMENT,
        "target": str(target),
        "due_at": due,
        "state": TaskState.open,
        "created_at": now,
        "closed_at": None,
        "rules_version": policy.version,
        "risk": risk.value,
        "next_reminder_at": due,
        "reminders_sent": 0,
    }


@dataclass
class _Waiting:
    """An acknowledgement task still owed while the plan goes through what happened: one
    stored (with its id) or opened by this plan (its row)."""

    target: Target
    stored_id: int | None = None
    new: NewAcknowledgement | None = None


def _plan_acknowledgements(
    plan: Plan,
    dispute: StoredDispute,
    evaluation: Evaluation,
    *,
    fresh: Sequence[Event],
    escalated: Sequence[LevelChange],
    listed: Sequence[tuple[datetime, str]] = (),
    waiting: Sequence[StoredTask],
    people: Mapping[str, Staff],
    policy: Policy,
    now: datetime,
) -> None:
    """Open, close and cancel the dispute's acknowledgement tasks, in time order: an
    assignment owes the person's (and cancels the one a person owed before), an escalation
    the new unit's, an acknowledgement gives what its giver answers for. Once the dispute
    is no longer open (resolved, referred, withdrawn…), what is left is cancelled."""
    state = evaluation.state
    still_open = state.is_open
    turns: list[tuple[datetime, str, str]] = [
        (
            event.at,
            event.kind.value,
            str(event.data["person"] if event.kind is EventKind.assign else event.actor),
        )
        for event in fresh
        if event.kind in (EventKind.assign, EventKind.acknowledge)
    ]
    if fresh and not still_open:
        turns.append((fresh[-1].at, "end", ""))
    turns.extend(
        (change.at, "escalate", state.path.at(Level(change.to_level))) for change in escalated
    )
    turns.extend((at, "listing", unit) for at, unit in listed)
    reorganised = {str(e.seq): e for e in fresh if e.kind is EventKind.reorganise}
    turns.extend((event.at, "reorganise", seq) for seq, event in reorganised.items())
    ordered = sorted(turns, key=lambda turn: turn[0])
    if not ordered:
        return
    owed = [_Waiting(Target.parse(task.target), stored_id=task.id) for task in waiting]

    def close(tasks: list[_Waiting], state: TaskState, at: datetime) -> None:
        for task in tasks:
            if task.stored_id is not None:
                plan.tasks_closed.append({"b_id": task.stored_id, "state": state, "closed_at": at})
            elif task.new is not None:
                task.new.row.update(state=state, closed_at=at, next_reminder_at=None)

    def owe(target: Target, at: datetime, announce: MessageKind | None) -> list[_Waiting]:
        """The acknowledgement ``target`` owes from ``at``, if the rules ask for one."""
        row = acknowledgement_row(
            dispute_id=dispute.id, target=target, at=at, risk=state.risk, policy=policy, now=now
        )
        if row is None:
            return []
        new = NewAcknowledgement(
            row=row, target=target, announce=announce, at=at, category=dispute.category
        )
        plan.acknowledgements.append(new)
        return [_Waiting(target, new=new)]

    for at, kind, who in ordered:
        if kind == "acknowledge":
            giver = people.get(who)
            mine = answered_by(
                who,
                role=giver.role if giver else None,
                unit=giver.unit if giver else None,
                path=state.path,
                waiting=[task.target for task in owed],
            )
            close([task for task in owed if task.target in mine], TaskState.done, at)
            owed = [task for task in owed if task.target not in mine]
            continue
        if kind == "end":
            continue
        if kind == "reorganise":  # told by the org change's own message, not one by one
            following = _successors(reorganised[who])
            passing = [task for task in owed if task.target in following]
            close(passing, TaskState.cancelled, at)
            owed = [task for task in owed if task.target not in following]
            for task in passing:
                successor = following[task.target]
                if successor is not None and still_open:
                    owed.extend(owe(successor, at, None))
            continue
        if kind == "assign":
            earlier = [task for task in owed if task.target.is_person]
            close(earlier, TaskState.cancelled, at)
            owed = [task for task in owed if not task.target.is_person]
            target = Target.of_person(who)
        else:
            target = Target.of_unit(who)
        announce = {"assign": MessageKind.assigned, "listing": MessageKind.listed}.get(
            kind, MessageKind.escalated
        )
        owed.extend(owe(target, at, announce if still_open else None))
    if not still_open:
        close(owed, TaskState.cancelled, ordered[-1][0])


def _successors(event: Event) -> dict[Target, Target | None]:
    """What becomes of the acknowledgements owed when the org changes under a dispute: a
    unit of its old units passes them to the unit at its level now; an assignee who moved
    or left owes none."""
    following: dict[Target, Target | None] = {}
    was, path = event.data.get("was"), event.data.get("path")
    if was and path:
        for level in Level:
            if was[level] != path[level]:
                following[Target.of_unit(was[level])] = Target.of_unit(path[level])
    released = event.data.get("unassigned")
    if released:
        following[Target.of_person(released)] = None
    return following
