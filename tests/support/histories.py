"""Histories for the evaluation's tests: local moments, numbered events, and a hypothesis
strategy of valid histories.

Dates are local (Asia/Shanghai). ``end(2026, 11, 3)`` is 24:00 at the end of 3 November.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from models.lifecycle import DisputeState, Event, TransitionNotAllowed, apply
from models.values import EventKind, Risk, UnitPath
from rules.evaluate import Evaluation, evaluate
from rules.policy import Policy, load_policy

K = EventKind
ZONE = ZoneInfo("Asia/Shanghai")
PATH = UnitPath(village="33010101", township="330101", county="330100")
POLICY: Policy = load_policy()
LATER = datetime(2026, 12, 31, 12, 0, tzinfo=ZONE)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A local moment."""
    return datetime(year, month, day, hour, minute, tzinfo=ZONE)


def end(year: int, month: int, day: int) -> datetime:
    """24:00 local at the end of the day."""
    return at(year, month, day) + timedelta(days=1)


def ev(kind: EventKind, moment: datetime, **data: Any) -> Event:
    return Event(kind=kind, at=moment, data=MappingProxyType(data))


def numbered(events: Sequence[Event]) -> list[Event]:
    """The events with seq 2, 3, ... (the report is 1)."""
    return [
        Event(kind=e.kind, at=e.at, data=e.data, actor=e.actor, seq=n)
        for n, e in enumerate(events, start=2)
    ]


def run(
    risk: Risk, reported: datetime, events: Sequence[Event] = (), *, now: datetime = LATER
) -> Evaluation:
    initial = DisputeState.reported(path=PATH, risk=risk, at=reported)
    return evaluate(initial, numbered(events), policy=POLICY, now=now)


def due(evaluation: Evaluation) -> dict[str, datetime]:
    return {o.name: o.due_at for o in evaluation.obligations}


def chain(evaluation: Evaluation) -> list[tuple[str, datetime]]:
    return [(d.rule, d.effective_at) for d in evaluation.decisions]


def checks(*days: tuple[int, int, int], hour: int = 9) -> list[Event]:
    return [ev(K.check, at(*day, hour)) for day in days]


MONDAY = at(2026, 11, 2, 10)  # Monday 2 November 2026, 10:00


# Weighted towards risk changes, the events most likely to expose a retroactive decision.
ACTIONS = [
    K.check,
    K.check,
    K.assess,
    K.assess,
    K.assess,
    K.mediate,
    K.resolve,
    K.visit,
    K.pause,
    K.resume,
    K.review,
    K.refer,
    K.referral_result,
    K.extend,
    K.confirmation_notice,
    K.confirmation_apply,
    K.confirmation_result,
    K.court_result,
]
# No escalation, hand-back or listing by hand: the recorded chain is settled, so a decision
# that a later evaluation finds before one of them would not be taken (docs/rules.md), and
# these histories do not record the decisions as a sweep would.
STARTS = [at(2026, 11, 2, 10), at(2026, 9, 25, 16), at(2026, 2, 10, 9), at(2026, 3, 1, 20)]


def _data(kind: EventKind, draw: st.DrawFn, moment: datetime) -> dict[str, Any]:
    later = (moment + timedelta(days=draw(st.integers(1, 20)))).isoformat()
    if kind is K.assess:
        return {"risk": draw(st.sampled_from(list(Risk))).value}
    if kind is K.resolve:
        return {"method": "people", "agreement": draw(st.sampled_from(["oral", "written"]))}
    if kind is K.refer:
        return {"to": draw(st.sampled_from(["court", "police", "petition"])), "body": "b"}
    if kind is K.referral_result:
        return {"result": draw(st.sampled_from(["handled", "returned"]))}
    if kind is K.extend:
        return {"until": later}
    if kind is K.confirmation_apply:
        return {"court": "c"}
    if kind is K.confirmation_result:
        return {"result": draw(st.sampled_from(["confirmed", "refused"]))}
    if kind is K.court_result:
        return {"outcome": "agreement"}
    if kind is K.visit:
        return {"outcome": draw(st.sampled_from(["stable", "relapsed"]))}
    if kind is K.pause:
        return {"reason": "waiting"}
    return {}


@st.composite
def histories(draw: st.DrawFn) -> tuple[Risk, datetime, list[Event]]:
    risk = draw(st.sampled_from(list(Risk)))
    reported = draw(st.sampled_from(STARTS))
    offsets = sorted(draw(st.lists(st.integers(1, 40 * 24 * 60), min_size=3, max_size=15)))
    state = DisputeState.reported(path=PATH, risk=risk, at=reported)
    source = draw(st.sampled_from([None, "court_delegated", "court_entrusted", "visit"]))
    said = {"risk": risk.value} | ({"source": source, "court": "c"} if source else {})
    report = Event(K.report, reported, MappingProxyType(said), seq=1)
    events: list[Event] = []
    for offset in offsets:
        kind = draw(st.sampled_from(ACTIONS))
        moment = reported + timedelta(minutes=offset)
        candidate = Event(
            kind,
            moment,
            MappingProxyType(_data(kind, draw, moment)),
            seq=len(events) + 2,
        )
        try:
            state = apply(state, candidate)
        except TransitionNotAllowed:
            continue  # keep the history valid: drop what the lifecycle refuses
        events.append(candidate)
    return risk, reported, [report, *events]
