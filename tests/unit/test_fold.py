"""The stored fold: evaluating from it and the events recorded since gives exactly what
replaying the whole history gives, so recording and the sweep need not replay it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.lifecycle import DisputeState, Event
from models.values import EventKind, Risk
from rules.evaluate import Evaluation, evaluate, load_fold, resume, settled_until
from rules.policy import Policy
from tests.support.histories import MONDAY, PATH, POLICY, K, at, checks, histories, numbered


def recorded(events: list[Event], evaluation: Evaluation) -> list[Event]:
    """The history once the evaluation's decisions are recorded after ``events``."""
    seq = max((e.seq for e in events), default=1)
    decisions = [
        replace(d.as_event(), seq=seq + n) for n, d in enumerate(evaluation.decisions, start=1)
    ]
    return [*events, *decisions]


def stored(
    risk: Risk, reported: datetime, events: list[Event], now: datetime
) -> tuple[list[Event], str, Evaluation]:
    """Record ``events`` at ``now`` as the engine does: the history after it, the fold kept
    with the dispute, and the evaluation it came from."""
    initial = DisputeState.reported(path=PATH, risk=risk, at=reported)
    evaluation = evaluate(initial, events, policy=POLICY, now=now)
    history = recorded(events, evaluation)
    return history, evaluation.folded(seq=max((e.seq for e in history), default=1)), evaluation


def same(replayed: Evaluation, resumed: Evaluation, fresh: list[Event]) -> None:
    assert resumed.state == replayed.state
    assert resumed.obligations == replayed.obligations
    assert resumed.decisions == replayed.decisions
    assert resumed.next_decision == replayed.next_decision
    seqs = {e.seq for e in fresh}
    assert resumed.level_changes == tuple(m for m in replayed.level_changes if m.seq in seqs)


@settings(max_examples=150, deadline=None)
@given(
    history=histories(),
    first=st.integers(0, 60 * 24 * 60),
    extra=st.integers(0, 30 * 24 * 60),
)
def test_evaluating_from_the_stored_fold_gives_what_replaying_the_whole_history_gives(
    history: tuple[Risk, datetime, list[Event]], first: int, extra: int
) -> None:
    risk, reported, events = history
    t1 = reported + timedelta(minutes=first)
    t2 = t1 + timedelta(minutes=extra)
    past, text, before = stored(risk, reported, [e for e in events if e.at <= t1], t1)
    seq = max((e.seq for e in past), default=1)
    fresh = [replace(e, seq=seq + n) for n, e in enumerate([e for e in events if e.at > t1], 1)]
    initial = DisputeState.reported(path=PATH, risk=risk, at=reported)
    replayed = evaluate(
        initial, [*past, *fresh], policy=POLICY, now=t2, settled=settled_until(past)
    )
    fold = load_fold(text, seq=seq, path=PATH, assignee=before.state.assignee, policy=POLICY)
    assert fold is not None and fold.takes(fresh)
    assert fold.settled == settled_until(past)
    same(replayed, resume(fold, fresh, now=t2), fresh)


@settings(max_examples=50, deadline=None)
@given(history=histories(), first=st.integers(0, 60 * 24 * 60))
def test_a_fold_read_back_and_stored_again_is_the_same_text(
    history: tuple[Risk, datetime, list[Event]], first: int
) -> None:
    risk, reported, events = history
    t1 = reported + timedelta(minutes=first)
    past, text, before = stored(risk, reported, [e for e in events if e.at <= t1], t1)
    seq = max((e.seq for e in past), default=1)
    fold = load_fold(text, seq=seq, path=PATH, assignee=before.state.assignee, policy=POLICY)
    assert fold is not None
    assert resume(fold, [], now=t1).folded(seq=seq) == text


def test_a_fold_is_a_few_hundred_bytes_of_json_without_the_units_or_the_people() -> None:
    events = numbered([*checks((2026, 11, 3), (2026, 11, 4))])
    _, text, _ = stored(Risk.high, MONDAY, events, at(2026, 11, 20, 9))
    assert len(text) < 700  # the clocks of eight obligations
    assert PATH.village not in text and PATH.county not in text
    assert json.loads(text)["rules"] == POLICY.version


def test_a_fold_made_under_other_rules_is_not_used() -> None:
    events = numbered(checks((2026, 11, 3)))
    _, text, _ = stored(Risk.high, MONDAY, events, at(2026, 11, 4, 9))
    other = Policy.from_ruleset(
        POLICY.rules.model_copy(update={"name": "edited"}), source="edited.yaml"
    )
    assert other.version != POLICY.version
    assert load_fold(text, seq=2, path=PATH, assignee=None, policy=other) is None
    assert load_fold(text, seq=2, path=PATH, assignee=None, policy=POLICY) is not None


def test_a_fold_made_at_another_event_or_none_at_all_is_not_used() -> None:
    events = numbered(checks((2026, 11, 3)))
    _, text, _ = stored(Risk.high, MONDAY, events, at(2026, 11, 4, 9))
    assert load_fold(text, seq=3, path=PATH, assignee=None, policy=POLICY) is None
    assert load_fold(None, seq=2, path=PATH, assignee=None, policy=POLICY) is None


@pytest.mark.parametrize("damage", ["truncated", "not an object", "a field missing"])
def test_a_fold_that_cannot_be_read_is_not_used_and_the_history_is_replayed(damage: str) -> None:
    events = numbered(checks((2026, 11, 3)))
    _, text, _ = stored(Risk.high, MONDAY, events, at(2026, 11, 4, 9))
    data = json.loads(text)
    del data["pauses"]
    damaged = {
        "truncated": text[: len(text) // 2],
        "not an object": "[1, 2]",
        "a field missing": json.dumps(data),
    }[damage]
    assert load_fold(damaged, seq=2, path=PATH, assignee=None, policy=POLICY) is None


def test_an_event_dated_before_the_folds_position_needs_the_history_replayed() -> None:
    events = numbered(checks((2026, 11, 3), (2026, 11, 5)))
    _, text, _ = stored(Risk.medium, MONDAY, events, at(2026, 11, 5, 12))
    fold = load_fold(text, seq=3, path=PATH, assignee=None, policy=POLICY)
    assert fold is not None
    late = Event(K.check, at(2026, 11, 4, 9), MappingProxyType({}), seq=4)
    on_time = replace(late, at=at(2026, 11, 5, 9))  # the position itself: folded on
    assert not fold.takes([late])
    assert fold.takes([on_time])
    with pytest.raises(ValueError, match="replay the history"):
        resume(fold, [late], now=at(2026, 11, 6, 9))


def test_a_decision_recorded_from_the_fold_is_dated_when_its_threshold_was_crossed() -> None:
    _, text, _ = stored(Risk.high, MONDAY, [], MONDAY)
    fold = load_fold(text, seq=1, path=PATH, assignee=None, policy=POLICY)
    assert fold is not None
    result = resume(fold, [], now=at(2026, 11, 4, 9))
    assert [(d.rule, d.effective_at) for d in result.decisions] == [
        ("village-high-missed-check", at(2026, 11, 3) + timedelta(days=1))
    ]
    assert result.decisions[0].kind == EventKind.escalate


def test_a_fold_keeps_what_events_said_and_the_listing_and_goes_on_as_a_replay_would() -> None:
    report = Event(
        K.report,
        MONDAY,
        MappingProxyType({"risk": "high", "source": "court_entrusted", "court": "某县人民法院"}),
        seq=1,
    )
    events = numbered(
        [
            Event(K.escalate, at(2026, 11, 2, 11), MappingProxyType({})),
            Event(K.escalate, at(2026, 11, 2, 12), MappingProxyType({})),
            Event(
                K.supervise,
                at(2026, 11, 3, 10),
                MappingProxyType({"deadline": at(2026, 11, 10).isoformat(), "unit": "330101"}),
            ),
        ]
    )
    past, text, before = stored(Risk.high, MONDAY, [report, *events], at(2026, 11, 4, 9))
    assert json.loads(text)["seen"]["report.source"][0] == "court_entrusted"
    assert json.loads(text)["listing_unit"] == "township"  # a level: the fold keeps no codes
    seq = max(e.seq for e in past)
    fresh = [
        Event(
            K.extend,
            at(2026, 11, 5, 9),
            MappingProxyType({"until": at(2026, 12, 20).isoformat()}),
            seq=seq + 1,
        )
    ]
    fold = load_fold(text, seq=seq, path=PATH, assignee=None, policy=POLICY)
    assert fold is not None
    later = at(2026, 11, 12, 9)  # past the listing's deadline: graded up
    resumed = resume(fold, fresh, now=later)
    initial = DisputeState.reported(path=PATH, risk=Risk.high, at=MONDAY)
    replayed = evaluate(
        initial, [*past, *fresh], policy=POLICY, now=later, settled=settled_until(past)
    )
    same(replayed, resumed, fresh)
    assert resumed.state.listing_unit == "330101" and resumed.state.supervision_grade == "red"
    assert {o.name for o in resumed.obligations} >= {"court_result", "mediation_time_limit"}
