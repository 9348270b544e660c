"""Reporting disputes and recording their events, each change in one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

import structlog
from sqlalchemy import Engine, Row, insert
from sqlmodel import Session

from models.lifecycle import DisputeState, Event
from models.tables import PartyDigest
from models.values import NO_DEADLINE, Actor, EventKind, Level, Risk, Role, Status, UnitPath
from rules.evaluate import (
    LEVEL_CHANGES,
    Evaluation,
    Fold,
    HistoryError,
    evaluate,
    resume,
    settled_until,
)
from rules.policy import Policy
from workflows.access import Action, Forbidden, Viewer, permit, viewer_of
from workflows.changes import (
    DISPUTES,
    Plan,
    Staff,
    fold_of,
    histories,
    initial_state,
    log_decisions,
    plan_dispute,
    read_stored,
    staff_of,
    write_plan,
)
from workflows.db import transaction
from workflows.driver import insert_returning, insert_rows
from workflows.errors import BadInput, NotFound
from workflows.org import ancestors, unit_path
from workflows.recording.validate import (
    EventForbidden,
    EventRefused,
    NewDispute,
    NewEvent,
    category_of,
    check_dispute,
    checked_parties,
    named_people,
    report_data,
    validated,
)
from workflows.rulesets import register_ruleset, ruleset_query
from workflows.sealing import digest_rows, keyring_of

__all__ = [
    "DisputeRefused",
    "Recorded",
    "Refusals",
    "record",
    "record_event",
    "record_events",
    "record_on_many",
    "report_dispute",
    "report_disputes",
]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Recorded:
    """The events recorded on a dispute, numbered, and how many decisions fell due."""

    dispute_id: int
    events: tuple[Event, ...]
    decisions: int


class Refusals(BadInput):
    """Disputes whose events cannot be recorded: for each, the first refusal (an
    :class:`EventRefused` naming the event, or why the dispute itself cannot be written)."""

    def __init__(self, refused: dict[int, BadInput]) -> None:
        super().__init__(str(next(iter(refused.values()))))
        self.refused = refused


@dataclass(frozen=True)
class _Reported:
    """A dispute just inserted, as the planner reads it: nothing recorded yet."""

    id: int
    category: str
    reported_unit: str
    last_seq: int = 0
    record: Mapping[str, Any] = field(default_factory=dict)


def report_dispute(
    *, engine: Engine, policy: Policy, now: datetime, actor: Actor, dispute: NewDispute
) -> int:
    """Report a dispute at the village of ``dispute.unit`` (a village or one of its grids),
    reported by ``actor``, in one transaction; its id."""
    with transaction(engine) as session:
        try:
            (dispute_id,) = report_disputes(session, [dispute], policy=policy, now=now, actor=actor)
        except DisputeRefused as exc:
            raise exc.cause from None
    return dispute_id


class DisputeRefused(BadInput):
    """A dispute of a batch that cannot be reported: ``index`` is its place in the batch,
    ``event`` that of the event of its history refused (None: the dispute itself),
    ``cause`` the refusal itself (a :class:`NotFound` for a unit outside one's scope)."""

    def __init__(self, cause: BadInput, *, index: int, event: int | None = None) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.index = index
        self.event = event
        self.every: list[DisputeRefused] = [self]  # of the batch, when it is raised for all


def _refuse(refused: list[DisputeRefused]) -> None:
    """Raise the first refusal of a batch, carrying every one (an import names them all)."""
    if refused:
        first = refused[0]
        first.every = list(refused)
        raise first


def report_disputes(
    session: Session,
    disputes: Sequence[NewDispute],
    *,
    policy: Policy,
    now: datetime,
    actor: Actor,
    histories: Sequence[Sequence[NewEvent]] = (),
) -> list[int]:
    """Report disputes in the caller's transaction, set-wise (an office's ledger brought
    in): each checked, inserted, evaluated and planned, the plans written together; their
    ids, in order. ``histories``, if given, has for each dispute the events that followed
    its report (as the ledger says what became of it): recorded with it, evaluated once.
    Raise :class:`DisputeRefused` for the first that cannot be reported, carrying every
    refusal (``every``: each dispute's first); then nothing is written."""
    refused: list[DisputeRefused] = []
    checked: list[tuple[NewDispute, Risk, list[dict[str, Any]], str, dict[str, Any]]] = []
    for index, dispute in enumerate(disputes):
        try:
            risk = check_dispute(dispute, now=now)
            parties = checked_parties(dispute)
            category = category_of(dispute, policy.rules.categories)
            reported = report_data(dispute, now=now, sources=policy.rules.sources)
        except BadInput as exc:
            refused.append(DisputeRefused(exc, index=index))
            continue
        checked.append((dispute, risk, parties, category, reported))
    _refuse(refused)
    if actor.person is not None:
        reporter = staff_of(session, [actor.person]).get(actor.person)
        if reporter is None:
            raise DisputeRefused(NotFound(f"unknown person {actor.person!r}"), index=0)
        if reporter.left_at is not None:
            gone = BadInput(
                f"{actor.person!r} left on {reporter.left_at.date().isoformat()}: "
                "they no longer report disputes"
            )
            raise DisputeRefused(gone, index=0)
    followed = _histories(session, disputes, histories, now=now, actor=actor, refused=refused)
    paths: dict[str, UnitPath] = {}
    unreachable: dict[str, BadInput] = {}
    for index, (dispute, *_) in enumerate(checked):
        if dispute.unit in unreachable:
            refused.append(DisputeRefused(unreachable[dispute.unit], index=index))
        if dispute.unit in paths or dispute.unit in unreachable:
            continue
        try:
            if actor.checked:
                _may_report(session, actor, dispute.unit)
            paths[dispute.unit] = unit_path(session, dispute.unit)
        except BadInput as exc:
            unreachable[dispute.unit] = exc
            refused.append(DisputeRefused(exc, index=index))
    _refuse(sorted(refused, key=lambda r: r.index))
    register_ruleset(session=session, policy=policy, now=now)
    rows: list[dict[str, Any]] = [
        {
            "category": category,
            "title": dispute.title.strip(),
            "risk": risk,
            "status": Status.reported,
            "level": Level.village,
            "unit_code": paths[dispute.unit].village,
            "reported_unit": dispute.unit,
            "village_code": paths[dispute.unit].village,
            "township_code": paths[dispute.unit].township,
            "county_code": paths[dispute.unit].county,
            "people_involved": dispute.people_involved,
            "parties": parties,
            "location": dispute.location,
            "reported_at": dispute.at or now,
            "level_since": dispute.at or now,
            "paused": False,
            "supervised": False,
            "last_seq": 0,
            "rules_version": policy.version,
            "risk_rank": risk.rank,
            "attention_at": NO_DEADLINE,  # the plan below sets it
            "record": {},  # the plan below folds the report into it
            "ledger_key": (
                f"{dispute.ledger_unit}:{dispute.ledger_no}"
                if dispute.ledger_no is not None and dispute.ledger_unit is not None
                else None
            ),
        }
        for dispute, risk, parties, category, _ in checked
    ]
    ids = insert_returning(session, _NEW_DISPUTE, rows)
    # the parties are sealed in their row; their phones and ID numbers found by digest
    digests = digest_rows(
        keyring_of(session), zip(ids, (row["parties"] for row in rows), strict=True)
    )
    if digests:
        insert_rows(session, _DIGESTS, digests)
    plan = Plan()
    for index, (dispute_id, (dispute, risk, _, category, reported)) in enumerate(
        zip(ids, checked, strict=True)
    ):
        at = dispute.at or now
        # The report is the dispute's first event; the evaluation starts from it.
        report = Event(EventKind.report, at, MappingProxyType(reported), actor.person, seq=1)
        fresh = [report, *followed[index]]
        initial = DisputeState.reported(
            path=paths[dispute.unit], risk=risk, at=at, clocks_from=dispute.clocks_from
        )
        try:
            evaluation = evaluate(initial, fresh, policy=policy, now=now)
        except HistoryError as exc:
            event = exc.seq - 2 if exc.seq >= 2 else None  # the report is 1
            refused.append(DisputeRefused(BadInput(str(exc)), index=index, event=event))
            continue
        plan.extend(
            plan_dispute(
                _Reported(dispute_id, category, dispute.unit),
                evaluation,
                fresh=fresh,
                policy=policy,
                now=now,
            )
        )
    _refuse(refused)  # the caller's transaction, with the rows inserted, is rolled back
    write_plan(session, plan, policy=policy, now=now)
    log_decisions(plan.decisions)
    for dispute_id, (dispute, risk, *_) in zip(ids, checked, strict=True):
        log.info(
            "dispute_reported",
            dispute_id=dispute_id,
            unit=dispute.unit,
            risk=risk.value,
            rules_version=policy.version,
            actor=actor.name,
        )
    return list(ids)


def _histories(
    session: Session,
    disputes: Sequence[NewDispute],
    histories: Sequence[Sequence[NewEvent]],
    *,
    now: datetime,
    actor: Actor,
    refused: list[DisputeRefused],
) -> list[list[Event]]:
    """Each dispute's history after its report, validated and numbered from 2; a person
    signed in records only the kinds their role allows. A history refused is added to
    ``refused`` (its first event refused) and left empty."""
    if not histories:
        return [[] for _ in disputes]
    viewer = viewer_of(session, actor.person) if actor.checked and actor.person else None
    followed: list[list[Event]] = []
    for index, (dispute, history) in enumerate(zip(disputes, histories, strict=True)):
        events: list[Event] = []
        for position, new in enumerate(history):
            try:
                event = validated(
                    new,
                    seq=position + 2,
                    reported_at=dispute.at or now,
                    now=now,
                    actor=actor.person,
                    people=(actor.person,) if actor.person else (),  # known: checked above
                )
                if viewer is not None:
                    permit(viewer, Action.of_event(event.kind))
            except BadInput as exc:
                refused.append(DisputeRefused(exc, index=index, event=position))
                events = []
                break
            events.append(event)
        followed.append(events)
    return followed


_NEW_DISPUTE = insert(DISPUTES).returning(DISPUTES.c.id)
_DIGESTS = PartyDigest.__table__  # type: ignore[attr-defined]


def _may_report(session: Session, actor: Actor, unit: str) -> None:
    """A person signed in reports only where they may: a unit of their own subtree."""
    assert actor.person is not None
    viewer = viewer_of(session, actor.person)
    permit(viewer, Action.report)
    if viewer.unit not in {u.code for u in ancestors(session, unit)}:
        raise NotFound(f"unknown unit {unit!r}")


def record_events(
    *,
    engine: Engine,
    policy: Policy,
    now: datetime,
    actor: Actor,
    dispute_id: int,
    events: Sequence[NewEvent],
) -> Recorded:
    """Record events of one dispute, in order, in one transaction; refuse them all if any
    is not allowed (:class:`EventRefused` names it).

    Escalations that fell due before or between the events are recorded too, with the time
    their threshold was crossed.
    """
    try:
        with transaction(engine) as session:
            recorded = record(session, {dispute_id: events}, policy=policy, now=now, actor=actor)
    except Refusals as refusals:
        raise refusals.refused[dispute_id] from None
    return recorded[dispute_id]


def record_on_many(
    *,
    engine: Engine,
    policy: Policy,
    now: datetime,
    actor: Actor,
    changes: Mapping[int, Sequence[NewEvent]],
) -> dict[int, Recorded]:
    """Record events on several disputes at once (a bulk action), all or none, in one
    transaction: :class:`Refusals` names each dispute that cannot take its events."""
    with transaction(engine) as session:
        return record(session, changes, policy=policy, now=now, actor=actor)


def record_event(
    *, engine: Engine, policy: Policy, now: datetime, actor: Actor, dispute_id: int, event: NewEvent
) -> Recorded:
    """Record one event: :func:`record_events` of one."""
    return record_events(
        engine=engine, policy=policy, now=now, actor=actor, dispute_id=dispute_id, events=[event]
    )


def record(
    session: Session,
    changes: Mapping[int, Sequence[NewEvent]],
    *,
    policy: Policy,
    now: datetime,
    actor: Actor,
    reorganising: bool = False,
) -> dict[int, Recorded]:
    """Record the events of several disputes in the caller's transaction, set-wise: for the
    services that record events as part of a change of their own (an import, an
    acknowledgement, an org change: ``reorganising``, the only one that records
    ``reorganise`` events). Raise :class:`Refusals` if any dispute's events cannot be
    recorded; then nothing is written.

    The disputes' rows are locked first, so concurrent writers queue rather than lose an
    update; each dispute's events are validated, folded on from its stored fold (or its
    history replayed, for a late event or new rules), planned, and written with the others.
    """
    viewer = viewer_of(session, actor.person) if actor.checked and actor.person else None
    # One round trip: the disputes (outside the viewer's scope: unknown) and the rule set.
    stored, (ruleset,) = read_stored(
        session, changes, lock=True, viewer=viewer, also=[ruleset_query(policy)]
    )
    rows = stored.rows
    register_ruleset(session=session, policy=policy, now=now, found=ruleset[0])
    people = staff_of(
        session,
        {p for events in changes.values() for p in named_people(events, actor=actor.person)},
    )
    refused: dict[int, BadInput] = {}
    fresh: dict[int, list[Event]] = {}
    for dispute_id, events in changes.items():
        row = rows.get(dispute_id)
        if row is None:
            refused[dispute_id] = NotFound(f"unknown dispute {dispute_id}")
            continue
        try:
            checked = [
                _validated(
                    new,
                    index,
                    row=row,
                    now=now,
                    actor=actor,
                    people=people,
                    reorganising=reorganising,
                )
                for index, new in enumerate(events)
            ]
            if viewer is not None:
                _may_record(session, viewer, checked)
            checked = [
                _listing(event, index, row=row, actor=actor, people=people, policy=policy)
                for index, event in enumerate(checked)
            ]
        except EventRefused as exc:
            refused[dispute_id] = exc  # and not evaluated: its first refusal is the answer
            continue
        fresh[dispute_id] = checked
    folds: dict[int, Fold] = {}
    for dispute_id, validated_events in fresh.items():
        fold = fold_of(rows[dispute_id], policy)
        if fold is not None and fold.takes(validated_events):
            folds[dispute_id] = fold
    past = histories(session, [d for d in fresh if d not in folds])  # other rules, a late event
    evaluations: dict[int, Evaluation] = {}
    for dispute_id, validated_events in fresh.items():
        try:
            evaluations[dispute_id] = _evaluate(
                rows[dispute_id],
                validated_events,
                fold=folds.get(dispute_id),
                past=past.get(dispute_id, []),
                policy=policy,
                now=now,
            )
        except EventRefused as exc:
            refused[dispute_id] = exc
    if refused:
        raise Refusals({d: refused[d] for d in changes if d in refused})
    plan = Plan()
    recorded: dict[int, Recorded] = {}
    for dispute_id, evaluation in evaluations.items():
        planned = plan_dispute(
            rows[dispute_id],
            evaluation,
            fresh=fresh[dispute_id],
            obligations=stored.obligations.get(dispute_id, ()),
            tasks=stored.tasks.get(dispute_id, ()),
            people=people,
            policy=policy,
            now=now,
        )
        recorded[dispute_id] = Recorded(
            dispute_id, tuple(fresh[dispute_id]), len(planned.decisions)
        )
        plan.extend(planned)
    write_plan(session, plan, policy=policy, now=now)
    _log_recorded(recorded.values(), policy=policy, actor=actor)
    log_decisions(plan.decisions)
    return recorded


def _may_record(session: Session, viewer: Viewer, events: Sequence[Event]) -> None:
    """A person signed in records only what their role allows, as themselves, and assigns
    only people of their own subtree."""
    for index, event in enumerate(events):
        try:
            permit(viewer, Action.of_event(event.kind))
        except Forbidden as exc:
            raise EventForbidden(str(exc), index=index) from None
        if event.actor != viewer.person:
            raise EventRefused(
                f"{event.kind} is recorded as the person signed in, not as {event.actor!r}",
                index=index,
            )
        person = event.data.get("person")
        if person is not None:
            found = staff_of(session, [person])
            units = {u.code for u in ancestors(session, found[person].unit)} if found else set()
            if viewer.unit not in units:
                raise EventRefused(f"unknown person {person!r}", index=index)


def _validated(
    new: NewEvent,
    index: int,
    *,
    row: Row[Any],
    now: datetime,
    actor: Actor,
    people: Mapping[str, Staff],
    reorganising: bool,
) -> Event:
    try:
        event = validated(
            new,
            seq=row.last_seq + index + 1,
            reported_at=row.reported_at,
            now=now,
            actor=actor.person,
            people=people.keys(),
            reorganising=reorganising,
        )
    except BadInput as exc:
        raise EventRefused(str(exc), index=index) from None
    if event.kind is EventKind.reorganise:
        return event  # the org's own: its actor may be anyone, its people gone
    for person in (event.actor, event.data.get("person")):
        gone = people[person].left_at if person is not None and person in people else None
        if gone is not None:
            raise EventRefused(
                f"{person!r} left on {gone.date().isoformat()}: "
                + ("assign someone else" if person != event.actor else "they no longer record"),
                index=index,
            )
    return event


def _listing(
    event: Event,
    index: int,
    *,
    row: Row[Any],
    actor: Actor,
    people: Mapping[str, Staff],
    policy: Policy,
) -> Event:
    """A listing by a person, completed and checked: its grade (the rules' first, if they
    have grades) and the unit listing it, which owes its deadline and is told when it
    passes: the dispute's township or county, the supervisor's own unit by default (and
    always, for a person signed in)."""
    if event.kind is not EventKind.supervise:
        return event
    data = dict(event.data)
    above = (row.township_code, row.county_code)
    staff = people.get(event.actor) if event.actor else None
    own = staff.unit if staff is not None and staff.role is Role.supervisor else None
    if "unit" in data:
        allowed = (own,) if actor.checked else above
        if data["unit"] not in allowed:
            by = f"the dispute's township or county ({' or '.join(above)})"
            if actor.checked:
                by = f"your own unit ({own})" if own else "a supervisor's own unit"
            raise EventRefused(
                f"supervise unit {data['unit']!r}: a listing is made by {by}", index=index
            )
    elif own in above:
        data["unit"] = own
    grades = [grade.name for grade in policy.rules.supervision_grades]
    if "grade" in data and data["grade"] not in grades:
        known = ", ".join(grades) or "none (the rules define no grades)"
        raise EventRefused(f"unknown listing grade {data['grade']!r}; known: {known}", index=index)
    if grades:
        data.setdefault("grade", grades[0])
    return replace(event, data=MappingProxyType(data))


def _evaluate(
    row: Row[Any],
    fresh: list[Event],
    *,
    fold: Fold | None,
    past: list[Event],
    policy: Policy,
    now: datetime,
) -> Evaluation:
    """The dispute's evaluation once ``fresh`` is recorded: on from its stored fold, or
    by replaying its history ``past``. Refuse a level change dated before the recorded
    chain's last link, and an event the lifecycle does not allow where it falls."""
    settled = fold.settled if fold is not None else settled_until(past)
    for index, event in enumerate(fresh):
        if settled is not None and event.kind in LEVEL_CHANGES and event.at < settled:
            raise EventRefused(
                f"dispute {row.id}: {event.kind} at {event.at.isoformat()} is dated before "
                f"the last recorded escalation, hand-back or listing ({settled.isoformat()})",
                index=index,
            )
    try:
        if fold is not None:
            evaluation = resume(fold, fresh, now=now)
        else:
            initial = initial_state(row, past)
            evaluation = evaluate(initial, [*past, *fresh], policy=policy, now=now, settled=settled)
    except HistoryError as exc:
        index = exc.seq - row.last_seq - 1
        if 0 <= index < len(fresh):
            raise EventRefused(f"dispute {row.id}: {exc}", index=index) from None
        raise EventRefused(
            f"dispute {row.id}: recorded event #{exc.seq} would no longer be allowed "
            f"after this one: {exc}",
            index=len(fresh) - 1,
        ) from None
    for index, event in enumerate(fresh):
        refused = evaluation.refusals.get(event.seq)
        if refused is not None:
            raise EventRefused(f"dispute {row.id}: {refused}", index=index)
    return evaluation


def _log_recorded(recorded: Iterable[Recorded], *, policy: Policy, actor: Actor) -> None:
    for result in recorded:
        for event in result.events:
            log.info(
                "event_recorded",
                dispute_id=result.dispute_id,
                seq=event.seq,
                kind=event.kind.value,
                rules_version=policy.version,
                actor=actor.name,
            )
