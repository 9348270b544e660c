"""What happens around the ladder, on the default rules: referrals that come back (诉调对接),
disputes a court sends (委派/委托调解), 司法确认, the mediation time limit, and listings
(挂牌督办) whose deadline passes.

Dates are local (Asia/Shanghai); Monday 2 November 2026 is an ordinary week.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.values import Level, Risk, Status
from tests.support.histories import MONDAY, K, at, chain, due, end, ev, run

REFERRED = at(2026, 11, 3, 10)


def referred(to: str) -> list:
    return [ev(K.refer, REFERRED, to=to, body="某县人民法院" if to == "court" else "某派出所")]


# --- 诉调对接: a referral owes its feedback -------------------------------------------------


@pytest.mark.parametrize(("to", "days"), [("court", 30), ("police", 15), ("petition", 30)])
def test_a_referred_dispute_owes_the_feedback_by_its_destinations_deadline(
    to: str, days: int
) -> None:
    result = run(Risk.medium, MONDAY, referred(to), now=REFERRED)
    assert result.state.status is Status.referred
    assert due(result) == {"referral_feedback": end(2026, 11, 3) + timedelta(days=days)}


def test_a_late_referral_feedback_is_an_overdue_obligation_and_escalates_nothing() -> None:
    result = run(Risk.high, MONDAY, referred("police"), now=at(2026, 11, 20, 9))
    (feedback,) = result.obligations
    assert feedback.name == "referral_feedback" and feedback.overdue(at(2026, 11, 20, 9))
    assert result.decisions == () and result.next_decision is None


def test_a_referral_handled_there_closes_the_dispute_and_owes_nothing() -> None:
    events = [*referred("police"), ev(K.referral_result, at(2026, 11, 10, 9), result="handled")]
    result = run(Risk.medium, MONDAY, events, now=at(2026, 11, 10, 10))
    assert result.state.status is Status.closed
    assert due(result) == {}


def test_a_returned_referral_comes_back_to_mediating_at_the_level_it_left_with_fresh_clocks() -> (
    None
):
    escalated = ev(K.escalate, at(2026, 11, 2, 15))
    returned = at(2026, 11, 10, 9)
    events = [escalated, *referred("court"), ev(K.referral_result, returned, result="returned")]
    result = run(Risk.medium, MONDAY, events, now=at(2026, 11, 10, 10))
    assert (result.state.status, result.state.level) == (Status.mediating, Level.township)
    assert result.state.level_since == returned
    assert due(result)["daily_check"] == end(2026, 11, 11)
    assert "referral_feedback" not in due(result)


# --- 委派/委托调解: a court's dispute owes its result to the court ------------------------


def from_court(source: str, **more: str) -> list:
    return [ev(K.report, MONDAY, risk="low", source=source, court="某县人民法院", **more)]


@pytest.mark.parametrize(("source", "days"), [("court_delegated", 30), ("court_entrusted", 15)])
def test_a_dispute_a_court_sends_owes_its_result_by_the_courts_default_deadline(
    source: str, days: int
) -> None:
    result = run(Risk.low, MONDAY, from_court(source), now=MONDAY)
    assert due(result)["court_result"] == end(2026, 11, 2) + timedelta(days=days)


def test_the_deadline_the_court_gave_replaces_the_default() -> None:
    events = from_court("court_delegated", court_deadline=end(2026, 11, 20).isoformat())
    assert due(run(Risk.low, MONDAY, events, now=MONDAY))["court_result"] == end(2026, 11, 20)


def test_a_dispute_nobody_sent_owes_no_result_to_a_court() -> None:
    events = [ev(K.report, MONDAY, risk="low", source="walk_in")]
    assert "court_result" not in due(run(Risk.low, MONDAY, events, now=MONDAY))


def test_the_courts_result_once_sent_is_owed_no_more_even_after_an_escalation() -> None:
    events = [
        *from_court("court_entrusted"),
        ev(K.court_result, at(2026, 11, 5, 9), outcome="agreement"),
        ev(K.escalate, at(2026, 11, 6, 9)),
    ]
    assert "court_result" not in due(run(Risk.low, MONDAY, events, now=at(2026, 11, 6, 10)))


def test_an_escalation_does_not_restart_the_courts_deadline() -> None:
    events = [*from_court("court_entrusted"), ev(K.escalate, at(2026, 11, 6, 9))]
    assert due(run(Risk.low, MONDAY, events, now=at(2026, 11, 6, 10)))["court_result"] == end(
        2026, 11, 17
    )


# --- 司法确认 -------------------------------------------------------------------------------


def resolved(agreement: str) -> list:
    return [ev(K.resolve, at(2026, 11, 5, 14), method="people", agreement=agreement)]


def test_a_written_agreement_owes_telling_the_parties_of_judicial_confirmation() -> None:
    result = run(Risk.medium, MONDAY, resolved("written"), now=at(2026, 11, 5, 15))
    assert due(result)["confirmation_notice"] == end(2026, 11, 8)
    told = [*resolved("written"), ev(K.confirmation_notice, at(2026, 11, 6, 9))]
    assert "confirmation_notice" not in due(run(Risk.medium, MONDAY, told, now=at(2026, 11, 6)))


def test_an_oral_agreement_owes_no_judicial_confirmation_notice() -> None:
    result = run(Risk.medium, MONDAY, resolved("oral"), now=at(2026, 11, 5, 15))
    assert "confirmation_notice" not in due(result)


def test_the_parties_apply_within_thirty_days_of_the_written_agreement() -> None:
    applied = ev(K.confirmation_apply, at(2026, 12, 5, 10), court="某县人民法院")
    on_time = run(Risk.medium, MONDAY, [*resolved("written"), applied], now=at(2026, 12, 5, 11))
    assert on_time.refusals == {}
    late = ev(K.confirmation_apply, at(2026, 12, 6, 10), court="某县人民法院")
    result = run(Risk.medium, MONDAY, [*resolved("written"), late], now=at(2026, 12, 6, 11))
    # refused when recorded; had it been recorded under other rules, it would stand
    assert result.refusals == {
        3: "the parties apply for judicial confirmation within 30d of "
        "the agreement, by 2026-12-06T00:00:00+08:00"
    }


def test_judicial_confirmation_of_an_oral_agreement_is_refused() -> None:
    applied = ev(K.confirmation_apply, at(2026, 11, 6, 10), court="某县人民法院")
    result = run(Risk.medium, MONDAY, [*resolved("oral"), applied], now=at(2026, 11, 6, 11))
    assert "written agreement" in result.refusals[3]


def test_a_court_decision_without_an_application_is_refused() -> None:
    decided = ev(K.confirmation_result, at(2026, 11, 9, 10), result="refused")
    result = run(Risk.medium, MONDAY, [*resolved("written"), decided], now=at(2026, 11, 9, 11))
    assert "record the application first" in result.refusals[3]


def test_a_refused_confirmation_brings_the_dispute_back_to_mediating() -> None:
    events = [
        *resolved("written"),
        ev(K.confirmation_apply, at(2026, 11, 9, 10), court="某县人民法院"),
        ev(K.confirmation_result, at(2026, 11, 20, 10), result="refused"),
    ]
    result = run(Risk.medium, MONDAY, events, now=at(2026, 11, 20, 11))
    assert result.state.status is Status.mediating
    assert result.state.level_since == at(2026, 11, 20, 10)
    assert due(result)["mediation_time_limit"] == end(2026, 12, 20)


# --- the mediation time limit ------------------------------------------------------------


def test_peoples_mediation_owes_its_conclusion_within_thirty_days_of_the_report() -> None:
    result = run(Risk.low, MONDAY, now=MONDAY)
    assert due(result)["mediation_time_limit"] == end(2026, 12, 2)


def test_an_agreed_extension_moves_the_time_limit_and_an_escalation_does_not_restart_it() -> None:
    extended = ev(K.extend, at(2026, 11, 30, 9), until=end(2026, 12, 20).isoformat())
    result = run(Risk.low, MONDAY, [extended], now=at(2026, 11, 30, 10))
    assert due(result)["mediation_time_limit"] == end(2026, 12, 20)
    escalated = ev(K.escalate, at(2026, 11, 10, 9))
    result = run(Risk.low, MONDAY, [escalated], now=at(2026, 11, 10, 10))
    assert due(result)["mediation_time_limit"] == end(2026, 12, 2)


# --- 挂牌督办 that bites ------------------------------------------------------------------


def listed_by_hand(deadline: tuple[int, int, int], **more: str) -> list:
    return [
        ev(K.escalate, at(2026, 11, 2, 11)),
        ev(K.escalate, at(2026, 11, 2, 12)),
        ev(K.supervise, at(2026, 11, 3, 10), deadline=end(*deadline).isoformat(), **more),
    ]


def test_a_listing_owes_resolution_by_its_deadline() -> None:
    result = run(Risk.medium, MONDAY, listed_by_hand((2026, 11, 30)), now=at(2026, 11, 3, 11))
    assert due(result)["listing_deadline"] == end(2026, 11, 30)


def test_a_listing_whose_deadline_passes_unresolved_goes_up_a_grade_with_a_new_deadline() -> None:
    events = listed_by_hand((2026, 11, 30), grade="yellow", unit="330100")
    result = run(Risk.medium, MONDAY, events, now=at(2026, 12, 1, 9))
    assert chain(result) == [("supervision_grades.red", end(2026, 11, 30))]
    (red,) = result.decisions
    assert (red.grade, red.deadline, red.unit) == ("red", end(2026, 12, 10), "330100")
    assert result.state.supervision_grade == "red"
    assert due(result)["listing_deadline"] == end(2026, 12, 10)


def test_past_the_last_grade_the_listing_stays_overdue_and_nothing_more_is_decided() -> None:
    events = listed_by_hand((2026, 11, 30), grade="red")
    result = run(Risk.medium, MONDAY, events, now=at(2026, 12, 5, 9))
    assert result.decisions == () and result.next_decision is None
    listing = next(o for o in result.obligations if o.name == "listing_deadline")
    assert listing.overdue(at(2026, 12, 5, 9))


def test_a_resolved_listed_dispute_owes_no_listing_deadline_and_is_not_graded_up() -> None:
    events = [*listed_by_hand((2026, 11, 30)), *resolved("oral")]
    result = run(Risk.medium, MONDAY, events, now=at(2026, 12, 5, 9))
    assert "listing_deadline" not in due(result) and result.decisions == ()
    assert result.state.supervised  # inspected monthly until the return visit closes it


def test_a_handback_keeps_the_listing_and_its_deadline() -> None:
    events = [
        *listed_by_hand((2026, 11, 30)),
        ev(K.handback, at(2026, 11, 4, 9), reason="就地化解"),
    ]
    result = run(Risk.medium, MONDAY, events, now=at(2026, 11, 4, 10))
    assert result.state.level is Level.township and result.state.supervised
    assert due(result)["listing_deadline"] == end(2026, 11, 30)


def test_a_county_hand_back_of_an_old_dispute_is_not_bounced_up_by_its_time_limit() -> None:
    # at county from the first day, handed back 33 days later: the mediation time limit is
    # long overdue, but only the cadence's obligations escalate it again
    events = [
        ev(K.escalate, at(2026, 11, 2, 11)),
        ev(K.escalate, at(2026, 11, 2, 12)),
        ev(K.handback, at(2026, 12, 5, 10), reason="就地化解"),
    ]
    result = run(Risk.high, MONDAY, events, now=at(2026, 12, 5, 11))
    assert result.state.level is Level.township
    assert due(result)["mediation_time_limit"] == end(2026, 12, 2)  # still owed, overdue
    assert result.next_decision is not None
    assert result.next_decision.effective_at == end(2026, 12, 8)
    assert result.next_decision.reason == "daily check overdue by 1d"


def test_the_courts_result_is_owed_once_whatever_becomes_of_the_dispute() -> None:
    closed = [
        *from_court("court_entrusted", court_deadline=end(2026, 11, 20).isoformat()),
        *referred("police"),
        ev(K.referral_result, at(2026, 11, 6, 9), result="returned"),
        ev(K.resolve, at(2026, 11, 7, 9), method="people", agreement="oral"),
        ev(K.visit, at(2026, 11, 8, 9), outcome="stable"),
    ]
    result = run(Risk.low, MONDAY, closed, now=at(2026, 11, 8, 10))
    assert result.state.status is Status.closed
    assert due(result) == {"court_result": end(2026, 11, 20)}  # the court's own deadline
    sent = [*closed, ev(K.court_result, at(2026, 11, 9, 9), outcome="agreement")]
    assert due(run(Risk.low, MONDAY, sent, now=at(2026, 11, 9, 10))) == {}


def test_a_listed_dispute_that_relapses_owes_its_listing_deadline_again() -> None:
    events = [
        *listed_by_hand((2026, 11, 30), grade="red"),
        *resolved("oral"),
        ev(K.visit, at(2026, 11, 10, 9), outcome="relapsed"),
    ]
    result = run(Risk.medium, MONDAY, events, now=at(2026, 11, 10, 10))
    assert result.state.supervised and result.state.status is Status.mediating
    assert due(result)["listing_deadline"] == end(2026, 11, 30)
