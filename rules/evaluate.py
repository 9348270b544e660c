"""Policy evaluation: a dispute's history, the rules and a moment give its obligations
and the escalations that have become due. Pure and deterministic.

The history is folded in time order. Between two events, the earliest threshold the
dispute would cross if nothing happened is a *decision* (escalate or supervise); if it
falls before the next event and not after ``now``, it is taken, with the crossing as its
effective time, and the fold goes on from the new level. Evaluating later therefore only
ever adds decisions after those already due, never moves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Literal

from models.lifecycle import DisputeState, Event, apply
from models.values import EventKind, Level, Status
from rules.durations import Duration
from rules.policy import Policy
from rules.schema import ObligationRule

__all__ = [
    "Decision",
    "DueObligation",
    "Evaluation",
    "HistoryError",
    "LEVEL_CHANGES",
    "LevelMove",
    "evaluate",
    "settled_until",
]

_MAX_PERIODS = 10_000


class HistoryError(ValueError):
    """An event of the history that the lifecycle does not allow where it falls."""

    def __init__(self, message: str, *, seq: int) -> None:
        super().__init__(message)
        self.seq = seq


@dataclass(frozen=True)
class LevelMove:
    """A recorded event that moved the dispute between levels."""

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

    def as_event(self) -> Event:
        data: dict[str, str] = {"rule": self.rule}
        if self.deadline is not None:
            data["deadline"] = self.deadline.isoformat()
        return Event(kind=EventKind(self.kind), at=self.effective_at, data=MappingProxyType(data))


@dataclass(frozen=True)
class Evaluation:
    state: DisputeState
    obligations: tuple[DueObligation, ...]
    decisions: tuple[Decision, ...]
    next_decision: Decision | None
    moves: tuple[LevelMove, ...] = ()


@dataclass
class _Clock:
    """The fold's working state: the dispute, when each clock started, and its pauses."""

    policy: Policy
    state: DisputeState
    last: dict[EventKind, datetime] = field(default_factory=dict)
    first: dict[EventKind, datetime] = field(default_factory=dict)
    since: dict[str, datetime] = field(default_factory=dict)
    pauses: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    moves: list[LevelMove] = field(default_factory=list)
    # A threshold cannot be crossed before the fold got here: when an event makes a dispute
    # liable (its risk rises, say) after the threshold's time, it is crossed at that event.
    position: datetime = datetime.min.replace(tzinfo=UTC)

    def record(self, event: Event) -> None:
        before = self.state
        self.state = apply(before, event)
        self.position = max(self.position, event.at)
        if self.state.level != before.level and event.seq:
            self.moves.append(
                LevelMove(event.seq, event.kind, event.at, before.level, self.state.level)
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
            if not _applies(rule, self.state):
                self.since.pop(name, None)
            elif level_clock_restarted or name not in self.since:
                self.since[name] = event.at

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
        if self.state.paused:
            return []
        owed = []
        for name, rule in self.policy.rules.obligations.items():
            since = self.since.get(name)
            if since is None:
                continue
            owed.append(
                DueObligation(
                    name=name,
                    label=rule.label,
                    due_at=self._due(rule, since),
                    fulfilled_by=rule.fulfilled_by,
                    rule=f"obligations.{name}",
                )
            )
        return sorted(owed, key=lambda o: (o.due_at, o.name))

    def _due(self, rule: ObligationRule, since: datetime) -> datetime:
        risk = self.state.risk
        anchor = max([since, *(self.last[k] for k in rule.after if k in self.last)])
        if rule.schedule == "first_working_day_of_next_month":
            return self.shifted(self.policy.first_working_day_of_next_month(anchor), anchor)
        assert rule.due is not None  # the schema requires it for the other schedules
        if rule.schedule == "after_last":
            return self.shifted(self.policy.due_after(anchor, rule.due, risk=risk), anchor)
        origin = min([since, *(self.first[k] for k in rule.after if k in self.first)])
        fulfilled = self.last.get(rule.fulfilled_by)
        if fulfilled is not None and fulfilled < since:
            fulfilled = None
        for period in range(1, _MAX_PERIODS):
            length = Duration(rule.due.amount * period, rule.due.unit)
            due = self.shifted(self.policy.due_after(origin, length, risk=risk), origin)
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
                matching = [o for o in owed if rule.obligation in ("any", o.name)]
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
                decision = Decision(
                    "supervise", srule.id, at, state.level, state.level, reason, deadline
                )
                candidates.append((at, offset + index, decision))
        if not candidates:
            return None
        crossed, _, decision = min(candidates, key=lambda c: (c[0], c[1]))
        if crossed >= self.position:
            return decision
        if decision.kind == "supervise":
            listing = next(r for r in policy.rules.supervision if r.id == decision.rule)
            moved = policy.due_after(self.position, listing.deadline, risk=state.risk)
            return replace(decision, effective_at=self.position, deadline=moved)
        return replace(decision, effective_at=self.position)


def _applies(rule: ObligationRule, state: DisputeState) -> bool:
    if state.risk not in rule.applies_to.risks:
        return False
    group = rule.applies_to.status
    if group == "open":
        return state.is_open
    if group == "resolved":
        return state.status is Status.resolved
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
    clock = _Clock(policy=policy, state=initial, position=initial.reported_at)
    report = Event(EventKind.report, initial.reported_at)
    clock.last[EventKind.report] = clock.first[EventKind.report] = report.at
    for name, rule in policy.rules.obligations.items():
        if _applies(rule, initial):
            clock.since[name] = initial.reported_at
    events = sorted(
        (e for e in history if e.kind is not EventKind.report), key=lambda e: (e.at, e.seq)
    )
    decisions: list[Decision] = []
    index = 0
    while True:
        upcoming = events[index].at if index < len(events) else None
        # Before the settled chain's last link no decision can be taken: skip looking.
        before_settled = settled is not None and upcoming is not None and upcoming <= settled
        decision = None if before_settled else clock.next_decision()
        if (
            decision is not None
            and decision.effective_at < now  # a threshold at T is crossed only after T
            and (upcoming is None or decision.effective_at < upcoming)
            and (settled is None or decision.effective_at >= settled)
        ):
            decisions.append(decision)
            clock.record(decision.as_event())
            continue
        if upcoming is None:
            break
        event = events[index]
        try:
            clock.record(event)
        except ValueError as exc:
            raise HistoryError(str(exc), seq=event.seq) from exc
        index += 1
    return Evaluation(
        state=clock.state,
        obligations=tuple(clock.obligations()),
        decisions=tuple(decisions),
        next_decision=clock.next_decision(),
        moves=tuple(clock.moves),
    )
