"""The lifecycle state machine: every declared transition, and everything else refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest

from models.events import EventData, InvalidEventData
from models.lifecycle import (
    TRANSITIONS,
    DisputeState,
    Event,
    Transition,
    TransitionNotAllowed,
    allowed_now,
    apply,
)
from models.values import EventKind, Level, Risk, Status, UnitPath

K = EventKind
PATH = UnitPath(village="33010101", township="330101", county="330100")
REPORTED = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
AT = REPORTED + timedelta(days=3)
DEADLINE = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)

# Valid data for each kind; visit's outcome comes from the transition's condition.
DATA: dict[EventKind, dict[str, Any]] = {
    K.assign: {"person": "wang"},
    K.assess: {"risk": "high"},
    K.mediate: {"method": "people"},
    K.resolve: {"method": "people", "agreement": "written"},
    K.refer: {"to": "court", "body": "某县人民法院"},
    K.court_result: {"outcome": "agreement"},
    K.confirmation_apply: {"court": "某县人民法院"},
    K.extend: {"until": DEADLINE.isoformat()},
    K.pause: {"reason": "a party is in hospital"},
    K.supervise: {"deadline": DEADLINE.isoformat(), "rule": "county-high-supervised"},
    K.note: {"text": "called both parties"},
    K.escalate: {"rule": "village-high-unresolved"},
    K.reorganise: {"change": "person_left", "staff": "zhao", "unassigned": "zhao"},
}


def state(
    status: Status,
    *,
    risk: Risk = Risk.medium,
    level: Level = Level.village,
    paused: bool = False,
) -> DisputeState:
    return replace(
        DisputeState.reported(path=PATH, risk=risk, at=REPORTED),
        status=status,
        level=level,
        paused=paused,
    )


def event(kind: EventKind, data: dict[str, Any] | None = None, *, at: datetime = AT) -> Event:
    validated = EventData.validate(kind, data if data is not None else DATA.get(kind))
    return Event(kind=kind, at=at, data=MappingProxyType(validated), seq=2)


def data_for(transition: Transition) -> dict[str, Any] | None:
    if transition.kind is K.visit:
        return {"outcome": "stable" if "stable" in transition.condition else "relapsed"}
    if transition.kind is K.referral_result:
        return {"result": "returned" if "returned" in transition.condition else "handled"}
    if transition.kind is K.confirmation_result:
        return {"result": "refused" if "refused" in transition.condition else "confirmed"}
    return DATA.get(transition.kind)


def source_state(transition: Transition, status: Status) -> DisputeState:
    """A state from which ``transition`` is allowed: the level and pause its condition needs."""
    level = Level.township if transition.kind is K.handback else Level.village
    return state(status, level=level, paused=transition.kind is K.resume)


def transition_id(transition: Transition, source: Status) -> str:
    data = data_for(transition) or {}
    outcome = data.get("outcome") or data.get("result")
    return "-".join(str(part) for part in (transition.kind, source, outcome) if part)


ALLOWED = [pytest.param(t, s, id=transition_id(t, s)) for t in TRANSITIONS for s in t.sources]


@pytest.mark.parametrize(("transition", "source"), ALLOWED)
def test_every_declared_transition_moves_to_its_target_and_sets_its_fields(
    transition: Transition, source: Status
) -> None:
    before = source_state(transition, source)
    after = apply(before, event(transition.kind, data_for(transition)))

    expected_status = transition.target if transition.target is not None else source
    assert after.status is expected_status
    kind = transition.kind
    if kind is K.assign:
        assert after.assignee == "wang"
    if kind is K.assess:
        assert after.risk is Risk.high
    else:
        expected_risk = (
            Risk.high if kind is K.visit and after.status is Status.mediating else (before.risk)
        )
        assert after.risk is expected_risk
    if kind is K.escalate:
        assert (after.level, after.level_since) == (Level.township, AT)
    elif kind is K.handback:
        assert (after.level, after.level_since) == (Level.village, AT)
    else:
        assert after.level is before.level
    if kind is K.pause:
        assert after.paused
    if kind is K.resume:
        assert not after.paused
    if kind is K.supervise:
        assert after.supervised
        assert after.supervision_deadline == DEADLINE
    if kind in (K.refer, K.withdraw, K.close):
        assert not after.paused and not after.supervised
        assert after.supervision_deadline is None
        assert not after.is_open
    assert after.path == before.path
    assert after.reported_at == REPORTED


def test_a_stable_return_visit_closes_the_dispute() -> None:
    after = apply(state(Status.resolved), event(K.visit, {"outcome": "stable"}))
    assert after.status is Status.closed


@pytest.mark.parametrize(
    ("risk", "reopened_risk"),
    [(Risk.low, Risk.medium), (Risk.medium, Risk.high), (Risk.high, Risk.high)],
)
def test_a_relapsed_return_visit_reopens_the_dispute_one_risk_grade_higher(
    risk: Risk, reopened_risk: Risk
) -> None:
    after = apply(state(Status.resolved, risk=risk), event(K.visit, {"outcome": "relapsed"}))
    assert (after.status, after.risk) == (Status.mediating, reopened_risk)


def test_escalation_moves_township_to_county_and_restarts_the_level_clock() -> None:
    after = apply(state(Status.mediating, level=Level.township), event(K.escalate))
    assert (after.level, after.level_since) == (Level.county, AT)
    assert after.unit == PATH.county


def test_handback_moves_county_to_township_and_restarts_the_level_clock() -> None:
    after = apply(state(Status.mediating, level=Level.county), event(K.handback))
    assert (after.level, after.level_since) == (Level.township, AT)
    assert after.unit == PATH.township


def test_referring_a_paused_supervised_dispute_ends_its_pause_and_supervision() -> None:
    before = replace(
        state(Status.mediating, paused=True), supervised=True, supervision_deadline=DEADLINE
    )
    after = apply(before, event(K.refer))
    assert (after.status, after.paused, after.supervised) == (Status.referred, False, False)


def _declared(kind: EventKind, status: Status) -> bool:
    return any(t.kind is kind and status in t.sources for t in TRANSITIONS)


UNDECLARED = [
    pytest.param(kind, status, id=f"{kind}-{status}")
    for kind in EventKind
    for status in Status
    if not _declared(kind, status)
]


def test_the_undeclared_table_is_not_empty_and_covers_the_ended_statuses() -> None:
    pairs = {(p.values[0], p.values[1]) for p in UNDECLARED}
    assert (K.check, Status.closed) in pairs
    assert (K.report, Status.reported) in pairs
    assert (K.resolve, Status.withdrawn) in pairs


@pytest.mark.parametrize(("kind", "status"), UNDECLARED)
def test_an_event_not_declared_for_the_status_is_refused_and_names_both(
    kind: EventKind, status: Status
) -> None:
    before = state(status)
    with pytest.raises(TransitionNotAllowed) as caught:
        apply(before, Event(kind=kind, at=AT, data=MappingProxyType(DATA.get(kind, {}))))
    assert str(kind) in str(caught.value) and str(status) in str(caught.value)


REFUSED_WHILE_PAUSED = [
    pytest.param(t, s, id=f"{t.kind}-{s}-{t.condition or 'plain'}")
    for t in TRANSITIONS
    if not t.while_paused
    for s in t.sources
]


@pytest.mark.parametrize(("transition", "source"), REFUSED_WHILE_PAUSED)
def test_events_not_allowed_while_paused_are_refused_on_a_paused_dispute(
    transition: Transition, source: Status
) -> None:
    with pytest.raises(TransitionNotAllowed, match="paused"):
        apply(state(source, paused=True), event(transition.kind, data_for(transition)))


def test_the_while_paused_list_is_what_the_product_allows() -> None:
    refused = {t.kind for t in TRANSITIONS if not t.while_paused}
    assert refused == {
        K.check,
        K.assess,
        K.mediate,
        K.resolve,
        K.visit,
        K.review,
        K.close,
        K.reopen,
        K.pause,
    }


@pytest.mark.parametrize("status", [Status.reported, Status.mediating, Status.resolved])
def test_pausing_a_paused_dispute_is_refused(status: Status) -> None:
    with pytest.raises(TransitionNotAllowed, match="paused"):
        apply(state(status, paused=True), event(K.pause))


@pytest.mark.parametrize("status", [Status.reported, Status.mediating, Status.resolved])
def test_resuming_a_dispute_that_is_not_paused_is_refused(status: Status) -> None:
    with pytest.raises(TransitionNotAllowed, match="not paused"):
        apply(state(status), event(K.resume))


@pytest.mark.parametrize("paused", [False, True])
def test_escalating_a_dispute_at_county_is_refused(paused: bool) -> None:
    with pytest.raises(TransitionNotAllowed, match="beyond county"):
        apply(state(Status.mediating, level=Level.county, paused=paused), event(K.escalate))


@pytest.mark.parametrize("paused", [False, True])
def test_handing_back_a_dispute_at_village_is_refused(paused: bool) -> None:
    with pytest.raises(TransitionNotAllowed, match="village"):
        apply(state(Status.mediating, level=Level.village, paused=paused), event(K.handback))


# --- event data -------------------------------------------------------------------------

INVALID_DATA = [
    pytest.param(
        K.assess, {"risk": "high", "riks": "low"}, "riks: unknown field", id="assess-unknown"
    ),
    pytest.param(K.assess, {}, "risk: Field required", id="assess-missing"),
    pytest.param(K.assess, {"risk": "red"}, "risk:", id="assess-wrong-literal"),
    pytest.param(
        K.resolve, {"agreement": "oral"}, "method: Field required", id="resolve-no-method"
    ),
    pytest.param(
        K.resolve, {"method": "people"}, "agreement: Field required", id="resolve-no-agreement"
    ),
    pytest.param(
        K.resolve,
        {"method": "mediation", "agreement": "oral"},
        "method:",
        id="resolve-wrong-method",
    ),
    pytest.param(
        K.resolve,
        {"method": "people", "agreement": "signed"},
        "agreement:",
        id="resolve-wrong-agreement",
    ),
    pytest.param(
        K.resolve,
        {"method": "people", "agreement": "oral", "by": "x"},
        "by: unknown field",
        id="resolve-unknown",
    ),
    pytest.param(K.visit, {}, "outcome: Field required", id="visit-missing"),
    pytest.param(K.visit, {"outcome": "fine"}, "outcome:", id="visit-wrong-literal"),
    pytest.param(K.refer, {}, "to: Field required", id="refer-missing"),
    pytest.param(K.refer, {"to": "media"}, "to:", id="refer-wrong-literal"),
    pytest.param(K.pause, {}, "reason: Field required", id="pause-missing"),
    pytest.param(K.pause, {"reason": ""}, "reason:", id="pause-empty"),
    pytest.param(
        K.pause, {"reason": "court", "until": "x"}, "until: unknown field", id="pause-unknown"
    ),
    pytest.param(K.assign, {}, "person: Field required", id="assign-missing"),
    pytest.param(K.assign, {"person": ""}, "person:", id="assign-empty"),
    pytest.param(
        K.assign, {"person": "wang", "unit": "x"}, "unit: unknown field", id="assign-unknown"
    ),
    pytest.param(K.supervise, {}, "deadline: Field required", id="supervise-missing"),
    pytest.param(
        K.supervise, {"deadline": "2026-12-01T12:00:00"}, "deadline:", id="supervise-no-offset"
    ),
    pytest.param(K.check, {"risk": "high"}, "risk: unknown field", id="check-unknown"),
    pytest.param(K.mediate, {"method": "arbitration"}, "method:", id="mediate-wrong-literal"),
]


@pytest.mark.parametrize(("kind", "raw", "message"), INVALID_DATA)
def test_event_data_that_does_not_fit_its_kind_is_refused_naming_the_field(
    kind: EventKind, raw: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidEventData) as caught:
        EventData.validate(kind, raw)
    text = str(caught.value)
    assert text.startswith(f"{kind} data: ")
    assert message in text


def test_a_supervision_deadline_without_an_offset_is_refused_for_lacking_a_timezone() -> None:
    with pytest.raises(InvalidEventData, match="deadline: .*timezone"):
        EventData.validate(K.supervise, {"deadline": "2026-12-01T12:00:00"})


def test_valid_event_data_is_normalised_to_json_ready_values() -> None:
    assert EventData.validate(K.assess, {"risk": Risk.high}) == {"risk": "high"}
    assert EventData.validate(K.check, None) == {}
    deadline = EventData.validate(K.supervise, {"deadline": "2026-12-01T12:00:00+08:00"})
    assert deadline == {"deadline": "2026-12-01T12:00:00+08:00"}


def test_what_is_allowed_now_follows_the_table_and_its_conditions() -> None:
    from models.lifecycle import allowed_now

    reported = allowed_now(Status.reported, paused=False, level=Level.village)
    assert K.check in reported and K.pause in reported
    assert K.resume not in reported and K.handback not in reported and K.escalate in reported
    paused = allowed_now(Status.mediating, paused=True, level=Level.county)
    assert K.resume in paused and K.pause not in paused and K.check not in paused
    assert K.escalate not in paused and K.handback in paused  # at county: down, not up
    assert allowed_now(Status.closed, paused=False, level=Level.village) == [
        K.reopen,
        K.note,
        K.court_result,
        K.confirmation_notice,
        K.confirmation_apply,
        K.confirmation_result,
    ]


def test_every_kind_allowed_now_is_taken_by_apply() -> None:
    from models.lifecycle import allowed_now

    data = {
        K.assign: {"person": "wang"},
        K.assess: {"risk": "low"},
        K.resolve: {"method": "people", "agreement": "oral"},
        K.visit: {"outcome": "stable"},
        K.refer: {"to": "court", "body": "某县人民法院"},
        K.court_result: {"outcome": "agreement"},
        K.confirmation_apply: {"court": "某县人民法院"},
        K.confirmation_result: {"result": "confirmed"},
        K.referral_result: {"result": "handled"},
        K.extend: {"until": DEADLINE.isoformat()},
        K.pause: {"reason": "r"},
        K.supervise: {"deadline": "2026-12-01T00:00:00+08:00"},
        K.note: {"text": "t"},
    }
    for status in Status:
        for paused in (False, True):
            for level in Level:
                state = replace(
                    DisputeState.reported(path=PATH, risk=Risk.low, at=REPORTED),
                    status=status,
                    paused=paused,
                    level=level,
                )
                for kind in allowed_now(status, paused=paused, level=level):
                    apply(state, Event(kind, REPORTED, MappingProxyType(data.get(kind, {}))))


def test_the_fields_of_each_kind_are_those_its_data_takes() -> None:
    from models.events import DataField

    resolve = EventData.fields(K.resolve)
    assert [f.name for f in resolve] == [
        "method",
        "agreement",
        "amount",
        "terms",
        "mediators",
        "note",
    ]
    assert resolve[2] == DataField("amount", "amount", False)
    assert resolve[0] == DataField(
        "method", "choice", True, ("people", "administrative", "judicial")
    )
    assert EventData.fields(K.assess)[0].choices == ("low", "medium", "high")
    assert EventData.fields(K.supervise)[0].kind == "time"
    assert EventData.fields(K.check) == (DataField("note", "long_text", False, max_length=2000),)
    assert [f.name for f in EventData.fields(K.note)] == ["text"]
    assert EventData.fields(K.reorganise) == ()  # recorded by org load, never in a form
    for kind in set(K) - {K.reorganise}:  # a form with every field filled in is valid data
        filled = {
            f.name: f.choices[0]
            if f.choices
            else "2026-12-01T09:00:00+08:00"
            if f.kind == "time"
            else "1200.50"
            if f.kind == "amount"
            else "x"
            for f in EventData.fields(kind)
        }
        assert set(EventData.validate(kind, filled)) == set(filled)


def test_a_refusal_lists_only_what_the_dispute_takes_now_not_resume_or_handback() -> None:
    # a village dispute that is not paused can be neither resumed nor handed back
    with pytest.raises(TransitionNotAllowed) as refused:
        apply(state(Status.mediating), event(K.visit, {"outcome": "stable"}))
    allowed = str(refused.value).split("allowed now: ")[1].split(", ")
    assert "resume" not in allowed and "handback" not in allowed
    assert "escalate" in allowed and "pause" in allowed


MOVED = UnitPath(village="33010101", township="330102", county="330100")


def test_an_org_change_gives_the_dispute_its_new_units_and_keeps_its_clocks() -> None:
    before = replace(state(Status.mediating, level=Level.township), listing_unit="330101")
    moved = event(
        K.reorganise,
        {
            "change": "unit_moved",
            "unit": "33010101",
            "was": {"village": "33010101", "township": "330101", "county": "330100"},
            "path": {"village": "33010101", "township": "330102", "county": "330100"},
        },
    )
    after = apply(before, moved)
    assert after.path == MOVED
    assert after.unit == "330102"  # handled at township: by the township it now belongs to
    assert after.listing_unit == "330102"  # the listing passes to the old township's successor
    assert (after.status, after.level, after.level_since) == (
        before.status,
        before.level,
        before.level_since,
    )


def test_an_org_change_releases_only_the_assignee_who_moved_or_left() -> None:
    assigned = apply(state(Status.mediating), event(K.assign, {"person": "wang"}))
    left = {"change": "person_left", "staff": "zhao", "unassigned": "zhao"}
    assert apply(assigned, event(K.reorganise, left)).assignee == "wang"
    left = {"change": "person_left", "staff": "wang", "unassigned": "wang"}
    assert apply(assigned, event(K.reorganise, left)).assignee is None


def test_an_org_change_is_never_offered_to_a_person() -> None:
    for status in Status:
        assert K.reorganise not in allowed_now(status, paused=False, level=Level.village)
