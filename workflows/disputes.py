"""Reporting disputes and recording their events, each in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

import structlog
from sqlalchemy import Select
from sqlmodel import Session, col, select

from models.events import EventData, InvalidEventData
from models.lifecycle import DisputeState, Event, UnitPath
from models.tables import Dispute, DisputeEvent, Person, Unit
from models.values import EventKind, Level, Risk, UnitLevel
from rules.evaluate import (
    LEVEL_CHANGES,
    Decision,
    Evaluation,
    Fold,
    HistoryError,
    evaluate,
    load_fold,
    resume,
    settled_until,
)
from rules.policy import Policy
from workflows.changes import (
    EVENTS,
    OBLIGATIONS,
    Escalated,
    Writes,
    decision_rows,
    dispute_fields,
    escalation_row,
    event_row,
    obligation_changes,
)
from workflows.errors import BadInput, NotFound
from workflows.rulesets import register_ruleset
from workflows.tasks import Happening, sync_acknowledgements, sync_obligation_tasks

__all__ = [
    "EventRefused",
    "NewEvent",
    "Outcome",
    "Recorded",
    "reevaluate",
    "fold_of",
    "history",
    "initial_state",
    "record_event",
    "record_events",
    "report_dispute",
]

log = structlog.get_logger(__name__)


def events_of(dispute_ids: Sequence[int]) -> Select[Any]:
    """What replaying the disputes' histories needs of their events, in order."""
    return (
        select(
            EVENTS.c.dispute_id,
            EVENTS.c.seq,
            EVENTS.c.kind,
            EVENTS.c.at,
            EVENTS.c.actor,
            EVENTS.c.data,
        )
        .where(EVENTS.c.dispute_id.in_(dispute_ids))
        .order_by(EVENTS.c.dispute_id, EVENTS.c.seq)
    )


def obligations_of(dispute_ids: Sequence[int]) -> Select[Any]:
    """What comparing the disputes' stored obligations with owed ones needs."""
    return select(
        OBLIGATIONS.c.dispute_id,
        OBLIGATIONS.c.id,
        OBLIGATIONS.c.kind,
        OBLIGATIONS.c.due_at,
        OBLIGATIONS.c.rules_version,
        OBLIGATIONS.c.overdue_noted,
    ).where(OBLIGATIONS.c.dispute_id.in_(dispute_ids))


RECORDABLE = tuple(k for k in EventKind if k is not EventKind.report)


@dataclass(frozen=True)
class NewEvent:
    """An event as a user gives it, not yet validated."""

    kind: str
    at: datetime | None = None
    by: str | None = None
    data: dict[str, Any] | None = field(default=None)


@dataclass(frozen=True)
class Outcome:
    """What writing an evaluation changed."""

    obligations_changed: int
    decisions_recorded: int


@dataclass(frozen=True)
class Recorded:
    """The events a batch appended, and how many decisions fell due with them."""

    events: list[DisputeEvent]
    decisions: int


def report_dispute(
    *,
    session: Session,
    policy: Policy,
    now: datetime,
    unit: str,
    risk: str,
    category: str,
    title: str,
    at: datetime | None = None,
    by: str | None = None,
    people_involved: int = 1,
    parties: Sequence[dict[str, Any]] = (),
    location: str | None = None,
) -> Dispute:
    """Create a dispute at the village of ``unit`` (a village or one of its grids)."""
    at = at or now
    _check_time(at, now=now)
    try:
        risk_value = Risk(risk)
    except ValueError:
        raise BadInput(f"unknown risk {risk!r}; expected one of high, medium, low") from None
    _check_text("category", category, 64, required=True)
    _check_text("title", title, 500, required=True)
    _check_text("location", location, 500)
    if not 1 <= people_involved <= 1_000_000:
        raise BadInput(f"people involved must be between 1 and 1000000, got {people_involved}")
    if len(parties) > 1000:
        raise BadInput(f"at most 1000 parties, got {len(parties)}")
    path = _unit_path(session, unit)
    if by is not None:
        _check_person(session, by)
    register_ruleset(session=session, policy=policy, now=now)
    dispute = Dispute(
        category=category.strip(),
        title=title.strip(),
        risk=risk_value,
        status="reported",
        level=Level.village,
        unit_code=path.village,
        origin_unit=unit,
        village_code=path.village,
        township_code=path.township,
        county_code=path.county,
        people_involved=people_involved,
        parties=list(parties),
        location=location,
        reported_at=at,
        level_since=at,
        last_seq=1,
        rules_version=policy.version,
    )
    session.add(dispute)
    session.flush()
    assert dispute.id is not None
    report = Event(EventKind.report, at, MappingProxyType({"risk": risk_value.value}), by, seq=1)
    session.add(_event_row(dispute.id, report, 1, now, policy))
    initial = DisputeState.reported(path=path, risk=risk_value, at=at)
    evaluation = evaluate(initial, [], policy=policy, now=now)
    _persist(session, dispute, evaluation, policy=policy, now=now, fresh=())
    log.info(
        "dispute_reported",
        dispute_id=dispute.id,
        unit=unit,
        risk=risk_value.value,
        rules_version=policy.version,
    )
    return dispute


def record_event(
    *,
    session: Session,
    policy: Policy,
    now: datetime,
    dispute_id: int,
    event: NewEvent,
) -> DisputeEvent:
    """Record one event: check it, append it, update the dispute and its obligations."""
    return record_events(
        session=session, policy=policy, now=now, dispute_id=dispute_id, events=[event]
    ).events[0]


def record_events(
    *,
    session: Session,
    policy: Policy,
    now: datetime,
    dispute_id: int,
    events: Sequence[NewEvent],
) -> Recorded:
    """Record events of one dispute, in order; refuse them all if any is not allowed.

    The dispute's row is locked first, so concurrent writers queue rather than lose an
    update. Escalations that fell due before or between the events are recorded too, with
    the time their threshold was crossed. Raises :class:`EventRefused` naming the event.
    """
    dispute = session.exec(
        select(Dispute).where(Dispute.id == dispute_id).with_for_update()
    ).one_or_none()
    if dispute is None:
        raise NotFound(f"unknown dispute {dispute_id}")
    register_ruleset(session=session, policy=policy, now=now)
    people = _known_people(session, events)
    fresh: list[Event] = []
    for index, new in enumerate(events):
        try:
            fresh.append(
                _validated(
                    new, seq=dispute.last_seq + index + 1, dispute=dispute, now=now, people=people
                )
            )
        except BadInput as exc:
            raise EventRefused(str(exc), index=index) from None
    fold = fold_of(dispute, policy)
    if fold is not None and fold.takes(fresh):
        settled, past = fold.settled, None
    else:  # other rules, or a late event: replay the history
        fold, past = None, history(session, dispute_id)
        settled = settled_until(past)
    for index, event in enumerate(fresh):
        if settled is not None and event.kind in LEVEL_CHANGES and event.at < settled:
            raise EventRefused(
                f"dispute {dispute_id}: {event.kind} at {event.at.isoformat()} is dated before "
                f"the last recorded escalation, hand-back or listing ({settled.isoformat()})",
                index=index,
            )
    try:
        if fold is not None:
            evaluation = resume(fold, fresh, now=now)
        else:
            assert past is not None
            initial = initial_state(dispute, past)
            evaluation = evaluate(initial, [*past, *fresh], policy=policy, now=now, settled=settled)
    except HistoryError as exc:
        index = exc.seq - dispute.last_seq - 1
        if 0 <= index < len(fresh):
            raise EventRefused(f"dispute {dispute_id}: {exc}", index=index) from None
        raise EventRefused(
            f"dispute {dispute_id}: recorded event #{exc.seq} would no longer be allowed "
            f"after this one: {exc}",
            index=len(fresh) - 1,
        ) from None
    recorded = [_event_row(dispute_id, event, event.seq, now, policy) for event in fresh]
    session.add_all(recorded)
    dispute.last_seq += len(fresh)
    outcome = _persist(session, dispute, evaluation, policy=policy, now=now, fresh=fresh)
    for row in recorded:
        log.info(
            "event_recorded",
            dispute_id=dispute_id,
            seq=row.seq,
            kind=row.kind,
            rules_version=policy.version,
        )
    return Recorded(events=recorded, decisions=outcome.decisions_recorded)


def reevaluate(*, session: Session, policy: Policy, now: datetime, dispute_id: int) -> Outcome:
    """Evaluate a dispute's history again at ``now``: record due decisions, refresh obligations."""
    dispute = session.exec(
        select(Dispute).where(Dispute.id == dispute_id).with_for_update()
    ).one_or_none()
    if dispute is None:
        raise NotFound(f"unknown dispute {dispute_id}")
    fold = fold_of(dispute, policy)
    if fold is not None:
        evaluation = resume(fold, [], now=now)
    else:
        past = history(session, dispute_id)
        evaluation = evaluate(initial_state(dispute, past), past, policy=policy, now=now)
    return _persist(session, dispute, evaluation, policy=policy, now=now, fresh=())


class EventRefused(BadInput):
    """An event that cannot be recorded; ``index`` is its position in the batch."""

    def __init__(self, message: str, *, index: int) -> None:
        super().__init__(message)
        self.index = index


def fold_of(dispute: Any, policy: Policy) -> Fold | None:
    """The fold stored with a dispute (a :class:`Dispute` or a row of its table), if the
    next evaluation can go on from it under ``policy``."""
    return load_fold(
        dispute.fold,
        seq=dispute.last_seq,
        path=UnitPath(dispute.village_code, dispute.township_code, dispute.county_code),
        assignee=dispute.assignee,
        policy=policy,
    )


def initial_state(dispute: Dispute, past: Sequence[Event]) -> DisputeState:
    """The dispute as it was reported, from its row and its ``report`` event."""
    report = next((e for e in past if e.kind is EventKind.report), None)
    risk = Risk(report.data["risk"]) if report is not None else Risk(dispute.risk)
    path = UnitPath(dispute.village_code, dispute.township_code, dispute.county_code)
    return DisputeState.reported(path=path, risk=risk, at=dispute.reported_at)


def history(session: Session, dispute_id: int) -> list[Event]:
    return [domain_event(row) for row in session.execute(events_of([dispute_id]))]


def domain_event(row: Any) -> Event:
    """The event of a ``dispute_events`` row (or of a row of :func:`events_of`)."""
    return Event(
        kind=EventKind(row.kind),
        at=row.at,
        data=MappingProxyType(dict(row.data)),
        by=row.actor,
        seq=row.seq,
    )


def _persist(
    session: Session,
    dispute: Dispute,
    evaluation: Evaluation,
    *,
    policy: Policy,
    now: datetime,
    fresh: Sequence[Event],
) -> Outcome:
    """Write what the evaluation says: due decisions as events, the state, the obligations."""
    assert dispute.id is not None
    state = evaluation.state
    path = state.path
    new_seqs = {event.seq for event in fresh}
    happenings = [
        Happening(e.at, e.kind.value, str(e.data["person"] if e.kind is EventKind.assign else e.by))
        for e in fresh
        if e.kind is EventKind.assign or e.kind is EventKind.acknowledge
    ]
    if fresh and not state.is_open:
        happenings.append(Happening(fresh[-1].at, "end", ""))
    escalated = [
        Escalated(move.seq, move.at, move.from_level, move.to_level, "manual")
        for move in evaluation.moves
        if move.seq in new_seqs and move.kind is EventKind.escalate
    ]
    events, decided = decision_rows(
        dispute.id, dispute.last_seq, evaluation.decisions, policy=policy, now=now
    )
    log_decisions(dispute.id, evaluation.decisions)
    escalated.extend(decided)
    happenings.extend(Happening(m.at, "escalate", path.at(Level(m.to_level))) for m in escalated)
    fields = dispute_fields(evaluation, policy, seq=dispute.last_seq + len(events))
    for name, value in fields.items():
        setattr(dispute, name, value)
    session.add(dispute)
    session.flush()
    stored = session.execute(obligations_of([dispute.id])).all()
    changes = obligation_changes(dispute.id, stored, evaluation.obligations, policy=policy)
    Writes(
        events=events,
        escalations=[
            escalation_row(dispute.id, move, path, policy=policy, now=now) for move in escalated
        ],
        obligations=changes,
    ).apply(session)
    sync_acknowledgements(
        session,
        dispute_id=dispute.id,
        risk=state.risk,
        happenings=happenings,
        still_open=state.is_open,
        policy=policy,
        now=now,
    )
    kinds = {event.kind for event in fresh}
    sync_obligation_tasks(
        session,
        dispute=dispute,
        owed={o.name: o.due_at for o in evaluation.obligations},
        fulfilled={n for n, rule in policy.rules.obligations.items() if rule.fulfilled_by in kinds},
        at=fresh[-1].at if fresh else now,
        now=now,
        policy=policy,
    )
    return Outcome(obligations_changed=len(changes), decisions_recorded=len(evaluation.decisions))


def log_decisions(dispute_id: int, decisions: Sequence[Decision]) -> None:
    for decision in decisions:
        log.info(
            "dispute_" + ("escalated" if decision.kind == "escalate" else "supervised"),
            dispute_id=dispute_id,
            rule=decision.rule,
            from_level=decision.from_level,
            to_level=decision.to_level,
            effective_at=decision.effective_at.isoformat(),
        )


def _event_row(
    dispute_id: int, event: Event, seq: int, now: datetime, policy: Policy
) -> DisputeEvent:
    return DisputeEvent(**event_row(dispute_id, event, seq, now, policy))


def _validated(
    new: NewEvent, *, seq: int, dispute: Dispute, now: datetime, people: set[str]
) -> Event:
    try:
        kind = EventKind(new.kind)
    except ValueError:
        raise BadInput(
            f"unknown event kind {new.kind!r}; expected one of {', '.join(RECORDABLE)}"
        ) from None
    if kind is EventKind.report:
        raise BadInput("a dispute is reported once, by `fengqiao dispute new`")
    try:
        data = EventData.validate(kind, new.data)
    except InvalidEventData as exc:
        raise BadInput(str(exc)) from None
    if kind is EventKind.acknowledge and not new.by:
        raise BadInput("acknowledge needs --by: the person acknowledging")
    at = new.at or now
    _check_time(at, now=now)
    if at < dispute.reported_at:
        raise BadInput(
            f"event time {at.isoformat()} is before the dispute was reported "
            f"({dispute.reported_at.isoformat()})"
        )
    for person in (new.by, data.get("person")):
        if person is not None and person not in people:
            raise NotFound(f"unknown person {person!r}")
    return Event(kind=kind, at=at, data=MappingProxyType(data), by=new.by, seq=seq)


def _known_people(session: Session, events: Sequence[NewEvent]) -> set[str]:
    named = {e.by for e in events if e.by} | {
        str(e.data["person"]) for e in events if e.data and e.data.get("person")
    }
    if not named:
        return set()
    found = session.exec(select(Person.id).where(col(Person.id).in_(named))).all()
    return set(found)


def _check_person(session: Session, person: str) -> None:
    if session.get(Person, person) is None:
        raise NotFound(f"unknown person {person!r}")


def _check_text(field: str, value: str | None, longest: int, *, required: bool = False) -> None:
    if value is None or not value.strip():
        if required:
            raise BadInput(f"a dispute needs a non-empty {field}")
        return
    if len(value) > longest:
        raise BadInput(f"{field} is {len(value)} characters long; at most {longest}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{field} is not valid text (UTF-8)") from None


def _check_time(at: datetime, *, now: datetime) -> None:
    if at.tzinfo is None:
        raise BadInput(f"time {at.isoformat()} has no UTC offset")
    if at > now:
        raise BadInput(f"time {at.isoformat()} is in the future (now is {now.isoformat()})")


def _unit_path(session: Session, code: str) -> UnitPath:
    """The village, township and county a dispute reported at ``code`` belongs to."""
    unit = session.get(Unit, code)
    if unit is None:
        raise NotFound(f"unknown unit {code!r}")
    chain: dict[str, str] = {}
    node: Unit | None = unit
    while node is not None:
        chain[node.level] = node.code
        node = session.get(Unit, node.parent_code) if node.parent_code else None
    if unit.level not in (UnitLevel.village, UnitLevel.grid):
        raise BadInput(
            f"unit {code!r} is a {unit.level}: disputes are reported at a village or a grid"
        )
    missing = [lvl for lvl in ("village", "township", "county") if lvl not in chain]
    if missing:
        raise BadInput(f"unit {code!r} has no {missing[0]} above it")
    return UnitPath(chain["village"], chain["township"], chain["county"])
