"""Policy evaluation: a dispute's history, the rules and a moment give its obligations
and the escalations that have become due. Pure and deterministic.

The history is folded in time order. Between two events, the earliest threshold the
dispute would cross if nothing happened is a *decision* (escalate or supervise); if it
falls before the next event and not after ``now``, it is taken, with the crossing as its
effective time, and the fold goes on from the new level. Evaluating later therefore only
ever adds decisions after those already due, never moves them.

The fold's working state after a dispute's recorded history can be kept with the dispute
(:meth:`Evaluation.folded`, a short JSON text): the next evaluation then goes on from it
with only the events recorded since (:func:`load_fold`, :func:`resume`) instead of
replaying the whole history, and gives exactly what the replay would.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal

from models.lifecycle import DisputeState, Event, apply
from models.values import EventKind, Level, Risk, Status, UnitPath
from rules.durations import Duration
from rules.policy import Policy
from rules.schema import DueByData, ObligationRule

__all__ = [
    "Decision",
    "DueObligation",
    "Evaluation",
    "Fold",
    "HistoryError",
    "LEVEL_CHANGES",
    "LevelChange",
    "evaluate",
    "load_fold",
    "resume",
    "settled_until",
]

_MAX_PERIODS = 10_000


class HistoryError(ValueError):
    """An event of the history that the lifecycle does not allow where it falls."""

    def __init__(self, message: str, *, seq: int) -> None:
        super().__init__(message)
        self.seq = seq


@dataclass(frozen=True)
class LevelChange:
    """A change of the level a dispute is handled at (an escalation or a hand-back), made by
    its event number ``seq``."""

    seq: int
    kind: EventKind
    at: datetime
    from_level: Level
    to_level: Level


@dataclass(frozen=True)
class DueObligation:
    name: str
    label: str
    due_at: datetime
    fulfilled_by: EventKind
    rule: str

    def overdue(self, now: datetime) -> bool:
        """Overdue once ``now`` is past the due time; an event at the due time is on time."""
        return now > self.due_at


@dataclass(frozen=True)
class Decision:
    """A threshold crossed: escalate one level, or list for supervision (挂牌督办)."""

    kind: Literal["escalate", "supervise"]
    rule: str
    effective_at: datetime
    from_level: Level
    to_level: Level
    reason: str
    deadline: datetime | None = None
    grade: str | None = None  # of a listing
    unit: str | None = None  # the listing unit
    # a listing's time to its deadline, counted again if the listing comes late
    allowed: Duration | None = field(default=None, repr=False, compare=False)

    def as_event(self) -> Event:
        data: dict[str, str] = {"rule": self.rule}
        if self.deadline is not None:
            data["deadline"] = self.deadline.isoformat()
        if self.grade is not None:
            data["grade"] = self.grade
        if self.unit is not None:
            data["unit"] = self.unit
        return Event(kind=EventKind(self.kind), at=self.effective_at, data=MappingProxyType(data))


@dataclass(frozen=True)
class Evaluation:
    state: DisputeState
    obligations: tuple[DueObligation, ...]
    decisions: tuple[Decision, ...]
    next_decision: Decision | None
    level_changes: tuple[LevelChange, ...] = ()
    fold_state: _FoldState | None = field(default=None, repr=False, compare=False)
    # Events the rules would refuse now, by number, with why (司法确认 out of time, say): the
    # recording refuses a new one; one recorded before (under other rules) stands.
    refusals: Mapping[int, str] = field(default_factory=dict)

    def folded(self, *, seq: int) -> str:
        """The fold after the history and this evaluation's decisions, recorded up to event
        ``seq``: the text :func:`load_fold` reads back to evaluate from here next time."""
        assert self.fold_state is not None
        return self.fold_state.dump(seq)


@dataclass
class _FoldState:
    """The fold's working state: the dispute, when each clock started, and its pauses."""

    policy: Policy
    state: DisputeState
    last: dict[EventKind, datetime] = field(default_factory=dict)
    first: dict[EventKind, datetime] = field(default_factory=dict)
    since: dict[str, datetime] = field(default_factory=dict)
    pauses: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    level_changes: list[LevelChange] = field(default_factory=list)
    # What events said that the rules read (``kind.field``: its latest value, and when).
    seen: dict[str, tuple[Any, datetime]] = field(default_factory=dict)
    refusals: dict[int, str] = field(default_factory=dict)
    # A threshold cannot be crossed before the fold got here: when an event makes a dispute
    # liable (its risk rises, say) after the threshold's time, it is crossed at that event.
    position: datetime = datetime.min.replace(tzinfo=UTC)
    # The last escalation, hand-back or listing folded: :func:`settled_until` of the history.
    chain_end: datetime | None = None
    # What :meth:`obligations` found since the last event recorded: the next decision and the
    # evaluation's result ask it again of the same state.
    owed: tuple[DueObligation, ...] | None = field(default=None, repr=False, compare=False)

    def record(self, event: Event) -> None:
        self.owed = None
        before = self.state
        if event.kind in (EventKind.confirmation_apply, EventKind.confirmation_result):
            problem = self._confirmation_problem(event)
            if problem is not None:
                self.refusals[event.seq] = problem
        self.state = apply(before, event)
        self.note(event)
        self.position = max(self.position, event.at)
        if event.kind in LEVEL_CHANGES and (self.chain_end is None or event.at > self.chain_end):
            self.chain_end = event.at
        if self.state.level != before.level and event.seq:
            self.level_changes.append(
                LevelChange(event.seq, event.kind, event.at, before.level, self.state.level)
            )
        self.last[event.kind] = event.at
        self.first.setdefault(event.kind, event.at)
        if event.kind is EventKind.pause:
            self.pauses.append((event.at, None))
        elif event.kind is EventKind.resume and self.pauses:
            start, _ = self.pauses[-1]
            self.pauses[-1] = (start, event.at)
        level_clock_restarted = self.state.level_since != before.level_since
        for name, rule in self.policy.rules.obligations.items():
            if not self.applies(rule):
                self.since.pop(name, None)
            elif name not in self.since or (level_clock_restarted and rule.schedule != "once"):
                self.since[name] = event.at

    def note(self, event: Event) -> None:
        """Keep what ``event`` says that the rules read."""
        for key in self.policy.fields_kept.get(event.kind, ()):
            value = event.data.get(key.partition(".")[2])
            if value is not None:
                self.seen[key] = (value, event.at)

    def applies(self, rule: ObligationRule) -> bool:
        """Whether the dispute owes ``rule`` as it stands."""
        state, scope = self.state, rule.applies_to
        if state.risk not in scope.risks:
            return False
        if scope.supervised is not None and state.supervised is not scope.supervised:
            return False
        for key, values in scope.when.items():
            said = self.seen.get(key)
            if said is None or str(said[0]) not in values:
                return False
        return any(_in_group(group, state) for group in scope.statuses)

    def _confirmation_problem(self, event: Event) -> str | None:
        """Why the rules refuse this 司法确认 event, if they do: an application needs a
        written agreement and comes within the rules' time of it; a decision needs an
        application since."""
        agreement = self.seen.get("resolve.agreement")
        if event.kind is EventKind.confirmation_result:
            applied = self.last.get(EventKind.confirmation_apply)
            if applied is None or agreement is None or applied < agreement[1]:
                return (
                    "a court decides on judicial confirmation applied for: "
                    "record the application first"
                )
            return None
        if agreement is None or agreement[0] != "written":
            return (
                "judicial confirmation is applied for on a written agreement; "
                "this dispute was not resolved with one"
            )
        window = self.policy.rules.judicial_confirmation
        if window is None:
            return None
        end = self.policy.due_after(agreement[1], window.within, risk=self.state.risk)
        if event.at > end:
            return (
                f"the parties apply for judicial confirmation within {window.within} of the "
                f"agreement, by {end.astimezone(self.policy.zone).isoformat()}"
            )
        return None

    def dump(self, seq: int) -> str:
        """The fold as compact JSON; the dispute's units and assignee are its row's."""
        state = self.state
        return json.dumps(
            {
                "format": _FOLD_FORMAT,
                "rules": self.policy.version,
                "seq": seq,
                "status": state.status.value,
                "risk": state.risk.value,
                "level": state.level.value,
                "level_since": _us(state.level_since),
                "reported_at": _us(state.reported_at),
                "paused": state.paused,
                "supervised": state.supervised,
                "deadline": _us_or_none(state.supervision_deadline),
                "grade": state.supervision_grade,
                "listing_unit": _unit_as_level(state.listing_unit, state.path),
                "last": {kind.value: _us(at) for kind, at in self.last.items()},
                "first": {kind.value: _us(at) for kind, at in self.first.items()},
                "since": {name: _us(at) for name, at in self.since.items()},
                "pauses": [[_us(start), _us_or_none(end)] for start, end in self.pauses],
                "position": _us(self.position),
                "chain_end": _us_or_none(self.chain_end),
                "seen": {key: [value, _us(at)] for key, (value, at) in self.seen.items()},
            },
            separators=(",", ":"),
        )

    def shifted(self, nominal: datetime, anchor: datetime) -> datetime:
        """``nominal`` pushed back by the paused time since ``anchor``."""
        due = nominal
        for start, end in self.pauses:
            if end is None:
                continue
            begin = max(start, anchor)
            if begin < end and begin < due:
                due += end - begin
        return due

    def obligations(self) -> list[DueObligation]:
        if self.owed is None:
            self.owed = tuple(self._obligations())
        return list(self.owed)

    def _obligations(self) -> list[DueObligation]:
        if self.state.paused:
            return []
        owed = []
        for name, rule in self.policy.rules.obligations.items():
            since = self.since.get(name)
            if since is None:
                continue
            if rule.schedule == "once":
                done = self.last.get(rule.fulfilled_by)
                if done is not None and done >= since:
                    continue
            due = self._due(rule, since)
            if due is None:
                continue
            owed.append(
                DueObligation(
                    name=name,
                    label=rule.label_in("en"),  # as the command line says it
                    due_at=due,
                    fulfilled_by=rule.fulfilled_by,
                    rule=f"obligations.{name}",
                )
            )
        return sorted(owed, key=lambda o: (o.due_at, o.name))

    def _due(self, rule: ObligationRule, since: datetime) -> datetime | None:
        """When ``rule`` falls due, owed since ``since``; None if nothing says when (a
        duration chosen by a value that has none, and no ``otherwise``)."""
        risk = self.state.risk
        anchor = max([since, *(self.last[k] for k in rule.after if k in self.last)])
        if rule.schedule == "first_working_day_of_next_month":
            return self.shifted(self.policy.first_working_day_of_next_month(anchor), anchor)
        if rule.due_at is not None:
            # A time given by an event that starts the clock (a listing's deadline, a court's)
            # holds however often it is owed again; any other, only since it is owed.
            given = self.seen.get(rule.due_at)
            starts = EventKind(rule.due_at.partition(".")[0]) in rule.after
            if given is not None and (starts or given[1] >= since):
                return self.shifted(datetime.fromisoformat(str(given[0])), anchor)
        if isinstance(rule.due, DueByData):
            said = self.seen.get(rule.due.by)
            length = rule.due.pick(said[0] if said is not None else None)
        else:
            length = rule.due
        if length is None:
            return None
        if rule.schedule in ("after_last", "once"):
            return self.shifted(self.policy.due_after(anchor, length, risk=risk), anchor)
        origin = min([since, *(self.first[k] for k in rule.after if k in self.first)])
        fulfilled = self.last.get(rule.fulfilled_by)
        if fulfilled is not None and fulfilled < since:
            fulfilled = None
        for period in range(1, _MAX_PERIODS):
            span = Duration(length.amount * period, length.unit)
            due = self.shifted(self.policy.due_after(origin, span, risk=risk), origin)
            if fulfilled is not None:
                if fulfilled <= due:
                    fulfilled = None  # this period is covered, and so is every one before
                continue
            if due > since:
                return due
        raise ValueError(f"no due time found within {_MAX_PERIODS} periods")

    def next_decision(self) -> Decision | None:
        state = self.state
        if state.paused or not state.is_open:
            return None
        candidates: list[tuple[datetime, int, Decision]] = []
        policy = self.policy
        owed: list[DueObligation] | None = None  # computed only if a rule asks
        for index, rule in enumerate(policy.rules.escalations):
            if rule.from_level != state.level or rule.risk != state.risk:
                continue
            if rule.when == "unresolved":
                assert rule.after is not None
                start = state.level_since
                at = self.shifted(policy.threshold_after(start, rule.after, risk=state.risk), start)
                reason = f"not resolved {rule.after} after reaching {state.level}"
            else:
                if owed is None:
                    owed = self.obligations()
                matching = [o for o in owed if rule.watches(o.name)]
                if not matching:
                    continue
                first = matching[0]
                at = first.due_at
                if rule.by is not None:
                    # A pause during the grace time is added back, like every other deadline.
                    grace_end = policy.threshold_after(first.due_at, rule.by, risk=state.risk)
                    at = self.shifted(grace_end, first.due_at)
                grace = f" by {rule.by}" if rule.by else ""
                reason = f"{first.label} overdue{grace}"
            candidates.append(
                (at, index, Decision("escalate", rule.id, at, state.level, rule.to_level, reason))
            )
        if not state.supervised:
            offset = len(policy.rules.escalations)
            for index, srule in enumerate(policy.rules.supervision):
                if srule.level != state.level or srule.risk != state.risk:
                    continue
                start = state.level_since
                threshold = policy.threshold_after(start, srule.after, risk=state.risk)
                at = self.shifted(threshold, start)
                deadline = policy.due_after(at, srule.deadline, risk=state.risk)
                reason = f"not resolved {srule.after} after reaching {state.level}"
                grades = policy.rules.supervision_grades
                decision = Decision(
                    "supervise",
                    srule.id,
                    at,
                    state.level,
                    state.level,
                    reason,
                    deadline,
                    grade=grades[0].name if grades else None,
                    unit=state.path.at(srule.level),
                    allowed=srule.deadline,
                )
                candidates.append((at, offset + index, decision))
        else:
            regrade = self._next_grade()
            if regrade is not None:
                candidates.append((regrade.effective_at, len(candidates), regrade))
        if not candidates:
            return None
        crossed, _, decision = min(candidates, key=lambda c: (c[0], c[1]))
        if crossed >= self.position:
            return decision
        if decision.allowed is not None:
            moved = policy.due_after(self.position, decision.allowed, risk=state.risk)
            return replace(decision, effective_at=self.position, deadline=moved)
        return replace(decision, effective_at=self.position)

    def _next_grade(self) -> Decision | None:
        """The listing's next grade, taken when its deadline passes with the dispute still
        open (a listing without a grade is at the first)."""
        state, grades = self.state, self.policy.rules.supervision_grades
        if state.supervision_deadline is None or not grades:
            return None
        names = [grade.name for grade in grades]
        current = names.index(state.supervision_grade) if state.supervision_grade in names else 0
        if current + 1 >= len(grades):
            return None
        grade = grades[current + 1]
        listed = self.last.get(EventKind.supervise, state.supervision_deadline)
        at = self.shifted(state.supervision_deadline, listed)
        deadline = self.policy.due_after(at, grade.deadline, risk=state.risk)
        return Decision(
            "supervise",
            f"supervision_grades.{grade.name}",
            at,
            state.level,
            state.level,
            f"listing deadline passed unresolved: {grade.label_in('en')}",
            deadline,
            grade=grade.name,
            unit=state.listing_unit,
            allowed=grade.deadline,
        )


_FOLD_FORMAT = 2
_FOLD_KEYS = frozenset(
    [
        "status",
        "risk",
        "level",
        "level_since",
        "reported_at",
        "paused",
        "supervised",
        "deadline",
        "last",
        "first",
        "since",
        "pauses",
        "position",
        "chain_end",
        "grade",
        "listing_unit",
        "seen",
    ]
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _us(moment: datetime) -> int:
    """Microseconds since the epoch: exact, and shorter than ISO 8601."""
    return (moment - _EPOCH) // _MICROSECOND


def _us_or_none(moment: datetime | None) -> int | None:
    return None if moment is None else _us(moment)


def _at(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _at_or_none(value: int | None) -> datetime | None:
    return None if value is None else _at(value)


@dataclass(frozen=True)
class Fold:
    """A stored fold, read back: where the next evaluation of its dispute goes on from."""

    policy: Policy
    path: UnitPath
    assignee: str | None
    data: Mapping[str, object]

    @property
    def position(self) -> datetime:
        """How far the fold got: events dated earlier need the history replayed."""
        return _at(self.data["position"])  # type: ignore[arg-type]

    @property
    def settled(self) -> datetime | None:
        """:func:`settled_until` of the history the fold was made from."""
        return _at_or_none(self.data["chain_end"])  # type: ignore[arg-type]

    def takes(self, fresh: Sequence[Event]) -> bool:
        """Whether events recorded since can be folded on from here: none is dated before
        the fold's position (equal times are fine: new events come last among them)."""
        position = self.position
        return all(event.at >= position for event in fresh)

    def state(self) -> _FoldState:
        data: Mapping[str, Any] = self.data
        state = DisputeState(
            status=Status(data["status"]),
            risk=Risk(data["risk"]),
            level=Level(data["level"]),
            path=self.path,
            level_since=_at(data["level_since"]),
            reported_at=_at(data["reported_at"]),
            assignee=self.assignee,
            paused=data["paused"],
            supervised=data["supervised"],
            supervision_deadline=_at_or_none(data["deadline"]),
            supervision_grade=data["grade"],
            listing_unit=_level_as_unit(data["listing_unit"], self.path),
        )
        return _FoldState(
            policy=self.policy,
            state=state,
            last={EventKind(kind): _at(at) for kind, at in data["last"].items()},
            first={EventKind(kind): _at(at) for kind, at in data["first"].items()},
            since={name: _at(at) for name, at in data["since"].items()},
            pauses=[(_at(start), _at_or_none(end)) for start, end in data["pauses"]],
            position=_at(data["position"]),
            chain_end=_at_or_none(data["chain_end"]),
            seen={key: (value, _at(at)) for key, (value, at) in data["seen"].items()},
        )


def load_fold(
    text: str | None, *, seq: int, path: UnitPath, assignee: str | None, policy: Policy
) -> Fold | None:
    """The fold stored with a dispute whose last event is ``seq``, if it can be gone on
    from: None if there is none, or it was made under other rules (the history is then
    replayed under the new ones) or at another event, or in another format, or it cannot
    be read (it is derived data: replaying the history makes it again)."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if (
        not isinstance(data, dict)
        or data.get("format") != _FOLD_FORMAT
        or data.get("rules") != policy.version
        or data.get("seq") != seq
        or not data.keys() >= _FOLD_KEYS
    ):
        return None
    return Fold(policy=policy, path=path, assignee=assignee, data=data)


def _unit_as_level(unit: str | None, path: UnitPath) -> str | None:
    """A unit of the dispute's path as its level (the fold keeps no unit codes)."""
    if unit == path.village:
        return "village"
    if unit == path.township:
        return "township"
    return "county" if unit == path.county else unit


def _level_as_unit(stored: str | None, path: UnitPath) -> str | None:
    if stored is not None and stored in Level.__members__:
        return path.at(Level(stored))
    return stored


def _in_group(group: str, state: DisputeState) -> bool:
    if group == "any":
        return True
    if group == "open":
        return state.is_open
    if group == "resolved":
        return state.status is Status.resolved
    if group == "referred":
        return state.status is Status.referred
    return state.supervised


LEVEL_CHANGES = frozenset({EventKind.escalate, EventKind.handback, EventKind.supervise})


def settled_until(history: Sequence[Event]) -> datetime | None:
    """The time of the last recorded escalation, hand-back or listing, if any.

    Up to then the recorded chain is the fact: no decision is computed before it, even when
    events dated earlier (or new rules) would have crossed a threshold sooner. Without this,
    a recorded escalation would be replayed on top of a computed one.
    """
    return max((e.at for e in history if e.kind in LEVEL_CHANGES), default=None)


def evaluate(
    initial: DisputeState,
    history: Sequence[Event],
    *,
    policy: Policy,
    now: datetime,
    settled: datetime | None = None,
) -> Evaluation:
    """Fold ``history`` from ``initial`` (the dispute as reported) up to ``now``.

    ``settled`` defaults to :func:`settled_until` of the whole history; a caller adding new
    events passes that of the events already recorded.
    """
    if settled is None:
        settled = settled_until(history)
    fold_state = _FoldState(policy=policy, state=initial, position=initial.reported_at)
    reported = next((e for e in history if e.kind is EventKind.report), None)
    report = Event(
        EventKind.report, initial.reported_at, reported.data if reported is not None else {}
    )
    fold_state.last[EventKind.report] = fold_state.first[EventKind.report] = report.at
    fold_state.note(report)
    for name, rule in policy.rules.obligations.items():
        if fold_state.applies(rule):
            fold_state.since[name] = initial.level_since  # the report, or a later start
    return _fold(fold_state, history, settled=settled, now=now)


def resume(
    fold: Fold, fresh: Sequence[Event], *, now: datetime, settled: datetime | None = None
) -> Evaluation:
    """Evaluate from a stored fold with the events recorded since (``fold.takes(fresh)``
    must hold): the same evaluation as :func:`evaluate` of the whole history."""
    if not fold.takes(fresh):
        raise ValueError("an event is dated before the fold's position: replay the history")
    settled = fold.settled if settled is None else settled
    return _fold(fold.state(), fresh, settled=settled, now=now)


def _fold(
    fold_state: _FoldState, history: Sequence[Event], *, settled: datetime | None, now: datetime
) -> Evaluation:
    events = sorted(
        (e for e in history if e.kind is not EventKind.report), key=lambda e: (e.at, e.seq)
    )
    decisions: list[Decision] = []
    index = 0
    while True:
        upcoming = events[index].at if index < len(events) else None
        # No decision can be taken before the settled chain's last link, nor between two
        # events at the same time (a decision is never before the fold's position): skip
        # looking.
        skip = upcoming is not None and (
            upcoming <= fold_state.position or (settled is not None and upcoming <= settled)
        )
        decision = None if skip else fold_state.next_decision()
        if (
            decision is not None
            and decision.effective_at < now  # a threshold at T is crossed only after T
            and (upcoming is None or decision.effective_at < upcoming)
            and (settled is None or decision.effective_at >= settled)
        ):
            decisions.append(decision)
            fold_state.record(decision.as_event())
            continue
        if upcoming is None:
            break
        event = events[index]
        try:
            fold_state.record(event)
        except ValueError as exc:
            raise HistoryError(str(exc), seq=event.seq) from exc
        index += 1
    # The loop's last look, at the state as it ends, is the next decision (not due by now).
    return Evaluation(
        state=fold_state.state,
        obligations=tuple(fold_state.obligations()),
        decisions=tuple(decisions),
        next_decision=decision,
        level_changes=tuple(fold_state.level_changes),
        fold_state=fold_state,
        refusals=dict(fold_state.refusals),
    )
