"""The dispute lifecycle: a state machine over the event log, pure.

Events are facts; :func:`apply` folds one into a :class:`DisputeState` or raises
:class:`TransitionNotAllowed`. Everything not declared in :data:`TRANSITIONS` is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import MappingProxyType
from typing import Any

from models.events import EventData
from models.values import OPEN_STATUSES, EventKind, Level, Risk, Status, UnitPath

__all__ = [
    "BY_ORG_ONLY",
    "Event",
    "DisputeState",
    "Transition",
    "TRANSITIONS",
    "TransitionNotAllowed",
    "allowed_now",
    "apply",
    "transition_table_markdown",
]

S = Status
ANY_STATUS = tuple(Status)


class TransitionNotAllowed(ValueError):
    """An event the lifecycle does not allow in the dispute's current state."""


@dataclass(frozen=True)
class Event:
    """One entry of a dispute's log."""

    kind: EventKind
    at: datetime
    data: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    actor: str | None = None  # who did it, a person's id; None for the engine's decisions
    seq: int = 0
    key: str | None = None  # the imported line's key, if it came from one


@dataclass(frozen=True)
class DisputeState:
    status: Status
    risk: Risk
    level: Level
    path: UnitPath
    level_since: datetime
    reported_at: datetime
    assignee: str | None = None
    paused: bool = False
    supervised: bool = False
    supervision_deadline: datetime | None = None
    supervision_grade: str | None = None
    listing_unit: str | None = None  # the unit that listed it, when it says so

    @property
    def unit(self) -> str:
        """The responsible unit: the path's unit at the current level."""
        return self.path.at(self.level)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @classmethod
    def reported(
        cls,
        *,
        path: UnitPath,
        risk: Risk,
        at: datetime,
        clocks_from: datetime | None = None,
    ) -> DisputeState:
        """The dispute as reported at ``at``; its clocks start then, or at ``clocks_from``
        if later (a dispute brought in from a ledger: at its import)."""
        return cls(
            status=Status.reported,
            risk=risk,
            level=Level.village,
            path=path,
            level_since=max(at, clocks_from) if clocks_from is not None else at,
            reported_at=at,
        )


_STATE_FIELDS = frozenset(f.name for f in fields(DisputeState))


def replace(state: DisputeState, **changes: Any) -> DisputeState:
    """``state`` with ``changes``: :func:`dataclasses.replace` without going through
    ``__init__`` again (DisputeState checks nothing there), a third of the time a history's
    fold took (a report folds hundreds of thousands of events)."""
    unknown = changes.keys() - _STATE_FIELDS
    if unknown:
        raise TypeError(f"DisputeState has no field {sorted(unknown)[0]!r}")
    changed = object.__new__(DisputeState)
    changed.__dict__.update(state.__dict__)
    changed.__dict__.update(changes)
    return changed


@dataclass(frozen=True)
class Transition:
    kind: EventKind
    sources: tuple[Status, ...]
    target: Status | None  # None: the status does not change
    condition: str = ""  # a data condition, for the table
    while_paused: bool = False


def _t(
    kind: EventKind,
    sources: tuple[Status, ...],
    target: Status | None = None,
    condition: str = "",
    *,
    while_paused: bool = False,
) -> Transition:
    return Transition(kind, sources, target, condition, while_paused)


K = EventKind
TRANSITIONS: tuple[Transition, ...] = (
    _t(K.assign, (*OPEN_STATUSES, S.referred), while_paused=True),
    _t(K.acknowledge, (*OPEN_STATUSES, S.referred), while_paused=True),
    _t(K.check, OPEN_STATUSES),
    _t(K.assess, OPEN_STATUSES),
    _t(K.mediate, OPEN_STATUSES, S.mediating),
    _t(K.resolve, OPEN_STATUSES, S.resolved),
    _t(K.visit, (S.resolved,), S.closed, "outcome: stable"),
    _t(K.visit, (S.resolved,), S.mediating, "outcome: relapsed (risk one grade higher)"),
    _t(K.review, OPEN_STATUSES),
    _t(K.inspect, (*OPEN_STATUSES, S.resolved, S.referred), while_paused=True),
    _t(K.close, (S.resolved, S.referred), S.closed),
    _t(K.reopen, (S.resolved, S.closed, S.referred), S.mediating),
    _t(K.refer, OPEN_STATUSES, S.referred, while_paused=True),
    _t(K.pause, (*OPEN_STATUSES, S.resolved), condition="not paused"),
    _t(K.resume, (*OPEN_STATUSES, S.resolved), condition="paused", while_paused=True),
    _t(K.escalate, OPEN_STATUSES, condition="below county; level one up", while_paused=True),
    _t(K.handback, OPEN_STATUSES, condition="above village; level one down", while_paused=True),
    _t(K.supervise, (*OPEN_STATUSES, S.resolved), while_paused=True),
    _t(K.note, ANY_STATUS, while_paused=True),
    _t(K.withdraw, OPEN_STATUSES, S.withdrawn, while_paused=True),
    # What others decide arrives whether or not the dispute is paused.
    _t(
        K.referral_result, (S.referred,), S.closed, "result: handled or resolved", while_paused=True
    ),
    _t(
        K.referral_result,
        (S.referred,),
        S.mediating,
        "result: returned (at the level it left)",
        while_paused=True,
    ),
    _t(K.court_result, (*OPEN_STATUSES, S.resolved, S.closed), while_paused=True),
    _t(K.confirmation_notice, (S.resolved, S.closed), while_paused=True),
    _t(
        K.confirmation_apply,
        (S.resolved, S.closed),
        condition="a written agreement",
        while_paused=True,
    ),
    _t(K.confirmation_result, (S.resolved, S.closed), None, "result: confirmed", while_paused=True),
    _t(
        K.confirmation_result,
        (S.resolved, S.closed),
        S.mediating,
        "result: refused",
        while_paused=True,
    ),
    _t(K.extend, OPEN_STATUSES, while_paused=True),
    # The org changed under a live dispute: its units follow; it keeps its status.
    _t(
        K.reorganise,
        (*OPEN_STATUSES, S.resolved, S.referred),
        condition="recorded by org load only",
        while_paused=True,
    ),
)

# What only the org's own changes record: never offered to a person, nor allowed them.
BY_ORG_ONLY = frozenset({K.reorganise})

_BY_KIND: dict[EventKind, list[Transition]] = {}
for _transition in TRANSITIONS:
    _BY_KIND.setdefault(_transition.kind, []).append(_transition)


def apply(state: DisputeState, event: Event) -> DisputeState:
    """The state after ``event``; raise :class:`TransitionNotAllowed` if it is not allowed."""
    candidates = [t for t in _BY_KIND.get(event.kind, []) if state.status in t.sources]
    if not candidates:
        allowed = allowed_now(state.status, paused=state.paused, level=state.level)
        raise TransitionNotAllowed(
            f"cannot {event.kind} a {state.status} dispute; allowed now: "
            f"{', '.join(sorted(allowed))}"
        )
    transition = candidates[0]
    if state.paused and not transition.while_paused:
        raise TransitionNotAllowed(f"cannot {event.kind} a paused dispute: resume it first")
    handler = _HANDLERS.get(event.kind, _status_only)
    return handler(state, event, transition)


def allowed_now(status: Status, *, paused: bool, level: Level) -> list[EventKind]:
    """The kinds of event the machine takes from a dispute in this state, conditions
    included: ``resume`` only when paused and ``pause`` only when not, ``escalate`` below
    county, ``handback`` above village."""
    kinds: list[EventKind] = []
    for t in TRANSITIONS:
        if status not in t.sources or (paused and not t.while_paused) or t.kind in kinds:
            continue
        if (t.kind is K.pause and paused) or (t.kind is K.resume and not paused):
            continue
        if t.kind in BY_ORG_ONLY:
            continue
        if (t.kind is K.escalate and level.up is None) or (
            t.kind is K.handback and level.down is None
        ):
            continue
        kinds.append(t.kind)
    return kinds


def _status_only(state: DisputeState, event: Event, transition: Transition) -> DisputeState:
    if transition.target is None:
        return state
    return replace(state, status=transition.target)


def _assign(state: DisputeState, event: Event, _: Transition) -> DisputeState:
    return replace(state, assignee=str(event.data["person"]))


def _assess(state: DisputeState, event: Event, _: Transition) -> DisputeState:
    return replace(state, risk=Risk(event.data["risk"]))


def _visit(state: DisputeState, event: Event, _: Transition) -> DisputeState:
    if event.data["outcome"] == "stable":
        return replace(_unlisted(state), status=Status.closed)
    return replace(state, status=Status.mediating, risk=state.risk.higher, level_since=event.at)


def _unlisted(state: DisputeState) -> DisputeState:
    return replace(
        state,
        supervised=False,
        supervision_deadline=None,
        supervision_grade=None,
        listing_unit=None,
    )


def _referral_result(state: DisputeState, event: Event, _: Transition) -> DisputeState:
    if event.data["result"] == "returned":
        return replace(state, status=Status.mediating, level_since=event.at)
    return replace(state, status=Status.closed)


def _confirmation_result(state: DisputeState, event: Event, _: Transition) -> DisputeState:
    if event.data["result"] == "refused":
        return replace(state, status=Status.mediating, level_since=event.at)
    return state


def _reopen(state: DisputeState, event: Event, _: Transition) -> DisputeState:
    risk = Risk(event.data["risk"]) if event.data.get("risk") else state.risk
    return replace(state, status=Status.mediating, risk=risk, level_since=event.at)


def _ending(target: Status) -> Callable[[DisputeState, Event, Transition], DisputeState]:
    def handler(state: DisputeState, event: Event, _: Transition) -> DisputeState:
        return replace(_unlisted(state), status=target, paused=False)

    return handler


def _pause(state: DisputeState, event: Event, _: Transition) -> DisputeState:
    if state.paused:
        raise TransitionNotAllowed("the dispute is already paused")
    return replace(state, paused=True)


def _resume(state: DisputeState, event: Event, _: Transition) -> DisputeState:
    if not state.paused:
        raise TransitionNotAllowed("cannot resume a dispute that is not paused")
    return replace(state, paused=False)


def _escalate(state: DisputeState, event: Event, _: Transition) -> DisputeState:
    up = state.level.up
    if up is None:
        raise TransitionNotAllowed("cannot escalate beyond county")
    return replace(state, level=up, level_since=event.at)


def _handback(state: DisputeState, event: Event, _: Transition) -> DisputeState:
    down = state.level.down
    if down is None:
        raise TransitionNotAllowed("cannot hand back a dispute that is already at village level")
    return replace(state, level=down, level_since=event.at)


def _supervise(state: DisputeState, event: Event, _: Transition) -> DisputeState:
    deadline = event.data.get("deadline")
    return replace(
        state,
        supervised=True,
        supervision_deadline=datetime.fromisoformat(deadline) if deadline else None,
        supervision_grade=event.data.get("grade"),
        listing_unit=event.data.get("unit", state.listing_unit),
    )


def _reorganise(state: DisputeState, event: Event, _: Transition) -> DisputeState:
    """The dispute's units become those the org change gives (its clocks go on: the same
    dispute, handled at the same level, by the unit that now stands there); an assignee
    who moved or left no longer has it."""
    released = event.data.get("unassigned")
    state = replace(state, assignee=None if released == state.assignee else state.assignee)
    given = event.data.get("path")
    if not given:
        return state
    path = UnitPath(given["village"], given["township"], given["county"])
    listing = state.listing_unit
    for level in Level:  # a listing by a unit of the old path passes to its successor
        if listing is not None and listing == state.path.at(level):
            listing = path.at(level)
            break
    return replace(state, path=path, listing_unit=listing)


_HANDLERS: dict[EventKind, Callable[[DisputeState, Event, Transition], DisputeState]] = {
    K.assign: _assign,
    K.assess: _assess,
    K.visit: _visit,
    K.reopen: _reopen,
    K.refer: _ending(S.referred),
    K.withdraw: _ending(S.withdrawn),
    K.close: _ending(S.closed),
    K.pause: _pause,
    K.resume: _resume,
    K.escalate: _escalate,
    K.handback: _handback,
    K.supervise: _supervise,
    K.referral_result: _referral_result,
    K.confirmation_result: _confirmation_result,
    K.reorganise: _reorganise,
}


def transition_table_markdown() -> str:
    """The transition table as Markdown, generated for docs/rules.md."""
    rows = [
        "| event | from | to | condition | while paused |",
        "|---|---|---|---|---|",
        "| report | (new) | reported | | |",
    ]
    for t in TRANSITIONS:
        sources = ", ".join(s.value for s in t.sources)
        target = t.target.value if t.target else "(unchanged)"
        data = EventData.describe(t.kind)
        condition = "; ".join(part for part in (t.condition, data) if part)
        rows.append(
            f"| {t.kind} | {sources} | {target} | {condition} | "
            f"{'allowed' if t.while_paused else 'refused'} |"
        )
    return "\n".join(rows)
