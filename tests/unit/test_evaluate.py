"""Evaluation of the default rules: one test (at least) per row of PRODUCT.md's tables.

Dates are local (Asia/Shanghai). ``end(2026, 11, 3)`` is 24:00 at the end of 3 November.
Monday 2 November 2026 is an ordinary week; the National Day week is 1-7 October 2026
with Saturday 10 October worked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.lifecycle import DisputeState, Event
from models.values import Level, Risk, Status
from rules.evaluate import Decision, evaluate
from tests.support.histories import (
    LATER,
    MONDAY,
    PATH,
    POLICY,
    K,
    at,
    chain,
    checks,
    due,
    end,
    ev,
    histories,
    numbered,
    run,
)

# --- daily check (日排查化解) ------------------------------------------------------------


def test_high_risk_dispute_reported_on_monday_owes_a_daily_check_by_the_end_of_tuesday() -> None:
    assert due(run(Risk.high, MONDAY, now=MONDAY))["daily_check"] == end(2026, 11, 3)


def test_medium_risk_dispute_owes_a_daily_check_one_working_day_after_the_last_check() -> None:
    result = run(Risk.medium, MONDAY, checks((2026, 11, 3)), now=at(2026, 11, 3, 12))
    assert due(result)["daily_check"] == end(2026, 11, 4)


def test_daily_check_due_after_a_friday_report_skips_the_weekend_to_monday() -> None:
    friday = at(2026, 11, 6, 10)
    assert due(run(Risk.medium, friday, now=friday))["daily_check"] == end(2026, 11, 9)


def test_daily_check_of_a_medium_dispute_skips_the_national_day_holidays() -> None:
    eve = at(2026, 9, 30, 10)
    assert due(run(Risk.medium, eve, now=eve))["daily_check"] == end(2026, 10, 8)


def test_daily_check_falls_due_on_the_make_up_working_saturday_after_national_day() -> None:
    friday = at(2026, 10, 9, 10)
    assert due(run(Risk.medium, friday, now=friday))["daily_check"] == end(2026, 10, 10)


def test_daily_check_skips_the_spring_festival_and_counts_the_make_up_saturday() -> None:
    friday = at(2026, 2, 13, 10)
    assert due(run(Risk.medium, friday, now=friday))["daily_check"] == end(2026, 2, 14)
    saturday = at(2026, 2, 14, 10)
    assert due(run(Risk.medium, saturday, now=saturday))["daily_check"] == end(2026, 2, 24)


def test_low_risk_dispute_owes_no_daily_check() -> None:
    assert "daily_check" not in due(run(Risk.low, MONDAY, now=MONDAY))


def test_resolved_dispute_owes_no_daily_check() -> None:
    resolved = [ev(K.resolve, at(2026, 11, 2, 15), method="people", agreement="written")]
    assert "daily_check" not in due(run(Risk.high, MONDAY, resolved, now=at(2026, 11, 2, 16)))


# --- weekly assessment (周研判) -----------------------------------------------------------


def test_open_dispute_owes_a_weekly_assessment_seven_days_after_the_report() -> None:
    assert due(run(Risk.low, MONDAY, now=MONDAY))["weekly_assessment"] == end(2026, 11, 9)


def test_weekly_assessment_is_due_seven_days_after_the_last_assessment() -> None:
    events = [ev(K.assess, at(2026, 11, 5, 14), risk="low")]
    result = run(Risk.low, MONDAY, events, now=at(2026, 11, 5, 15))
    assert due(result)["weekly_assessment"] == end(2026, 11, 12)


def test_an_assessment_that_raises_the_risk_starts_the_daily_check() -> None:
    events = [ev(K.assess, at(2026, 11, 5, 14), risk="high")]
    result = run(Risk.low, MONDAY, events, now=at(2026, 11, 5, 15))
    assert result.state.risk is Risk.high
    assert due(result)["daily_check"] == end(2026, 11, 6)


# --- return visit (十日回访) --------------------------------------------------------------


def resolved_on_thursday() -> list[Event]:
    return [ev(K.resolve, at(2026, 11, 5, 14), method="people", agreement="written")]


def test_resolved_dispute_owes_a_return_visit_ten_days_after_resolution() -> None:
    result = run(Risk.medium, MONDAY, resolved_on_thursday(), now=at(2026, 11, 5, 15))
    # and, the agreement being written, telling the parties of 司法确认 within 3 days
    assert due(result) == {
        "return_visit": end(2026, 11, 15),
        "confirmation_notice": end(2026, 11, 8),
    }


def test_stable_return_visit_closes_the_dispute_and_ends_its_obligations() -> None:
    events = [*resolved_on_thursday(), ev(K.visit, at(2026, 11, 12, 10), outcome="stable")]
    result = run(Risk.medium, MONDAY, events)
    assert result.state.status is Status.closed
    assert result.obligations == ()
    assert result.decisions == () and result.next_decision is None


def test_relapsed_return_visit_reopens_the_dispute_one_grade_higher_with_a_daily_check() -> None:
    visit = at(2026, 11, 12, 10)
    events = [*resolved_on_thursday(), ev(K.visit, visit, outcome="relapsed")]
    result = run(Risk.medium, MONDAY, events, now=visit)
    assert (result.state.status, result.state.risk) == (Status.mediating, Risk.high)
    assert due(result)["daily_check"] == end(2026, 11, 13)


# --- half-month review (半月调度) ---------------------------------------------------------


def test_open_dispute_owes_a_half_month_review_fifteen_days_after_the_report() -> None:
    assert due(run(Risk.low, MONDAY, now=MONDAY))["half_month_review"] == end(2026, 11, 17)


def test_a_review_within_the_first_half_month_covers_it_and_the_next_falls_due_a_month_in() -> None:
    events = [ev(K.review, at(2026, 11, 10, 10))]
    result = run(Risk.low, MONDAY, events, now=at(2026, 11, 10, 11))
    assert due(result)["half_month_review"] == end(2026, 12, 2)


def test_a_review_on_the_last_day_of_its_period_covers_that_period() -> None:
    events = [ev(K.review, at(2026, 11, 17, 23, 59))]
    result = run(Risk.low, MONDAY, events, now=at(2026, 11, 18, 1))
    assert due(result)["half_month_review"] == end(2026, 12, 2)


def test_a_missed_half_month_review_stays_due_at_the_end_of_its_period() -> None:
    result = run(Risk.low, MONDAY, now=at(2026, 11, 25, 10))
    obligation = next(o for o in result.obligations if o.name == "half_month_review")
    assert obligation.due_at == end(2026, 11, 17)
    assert obligation.overdue(at(2026, 11, 25, 10))


def test_a_late_review_covers_the_period_it_falls_in() -> None:
    events = [ev(K.review, at(2026, 11, 20, 10))]
    result = run(Risk.low, MONDAY, events, now=at(2026, 11, 20, 11))
    assert due(result)["half_month_review"] == end(2026, 12, 17)


# --- monthly inspection (月督查通报) -----------------------------------------------------


def test_unsupervised_dispute_owes_no_monthly_inspection() -> None:
    assert "monthly_inspection" not in due(run(Risk.high, MONDAY, now=MONDAY))


def test_supervised_dispute_owes_an_inspection_on_the_first_working_day_of_next_month() -> None:
    events = [ev(K.supervise, at(2026, 11, 10, 10), deadline=end(2026, 11, 30).isoformat())]
    result = run(Risk.low, MONDAY, events, now=at(2026, 11, 10, 11))
    assert result.state.supervised
    assert due(result)["monthly_inspection"] == end(2026, 12, 1)


def test_monthly_inspection_for_september_falls_on_october_8_after_national_day() -> None:
    reported = at(2026, 9, 1, 10)
    events = [ev(K.supervise, at(2026, 9, 15, 10), deadline=end(2026, 9, 30).isoformat())]
    result = run(Risk.low, reported, events, now=at(2026, 9, 15, 11))
    assert due(result)["monthly_inspection"] == end(2026, 10, 8)


def test_an_inspection_moves_the_next_one_to_the_following_month() -> None:
    events = [
        ev(K.supervise, at(2026, 10, 20, 10), deadline=end(2026, 11, 30).isoformat()),
        ev(K.inspect, at(2026, 11, 2, 11)),
    ]
    result = run(Risk.low, at(2026, 10, 19, 10), events, now=at(2026, 11, 2, 12))
    assert due(result)["monthly_inspection"] == end(2026, 12, 1)


# --- village → township ------------------------------------------------------------------


def test_high_risk_dispute_with_missed_daily_check_escalates_to_township_when_the_check_falls_due() -> (
    None
):
    result = run(Risk.high, MONDAY, now=at(2026, 11, 4, 9))
    assert chain(result) == [("village-high-missed-check", end(2026, 11, 3))]
    decision = result.decisions[0]
    assert (decision.from_level, decision.to_level) == (Level.village, Level.township)
    assert result.state.level is Level.township
    assert result.state.level_since == end(2026, 11, 3)


def test_high_risk_dispute_does_not_escalate_before_its_check_falls_due() -> None:
    result = run(Risk.high, MONDAY, now=end(2026, 11, 3) - timedelta(minutes=1))
    assert result.decisions == ()
    assert result.next_decision is not None
    assert result.next_decision.effective_at == end(2026, 11, 3)


def test_a_check_at_the_very_moment_it_falls_due_is_on_time_and_prevents_escalation() -> None:
    result = run(Risk.high, MONDAY, [ev(K.check, end(2026, 11, 3))], now=at(2026, 11, 4, 9))
    assert result.decisions == ()


def test_high_risk_dispute_checked_daily_escalates_to_township_when_unresolved_three_days() -> None:
    events = checks((2026, 11, 3), (2026, 11, 4), (2026, 11, 5))
    result = run(Risk.high, MONDAY, events, now=at(2026, 11, 6, 12))
    assert chain(result) == [("village-high-unresolved", end(2026, 11, 5))]


def test_medium_risk_dispute_escalates_to_township_when_its_check_is_two_working_days_overdue() -> (
    None
):
    result = run(Risk.medium, MONDAY, now=at(2026, 11, 9, 9))
    assert chain(result) == [("village-medium-missed-check", end(2026, 11, 5))]


def test_medium_risk_grace_of_two_working_days_skips_the_weekend() -> None:
    thursday = at(2026, 11, 5, 10)
    result = run(Risk.medium, thursday, now=at(2026, 11, 12, 9))
    assert chain(result)[0] == ("village-medium-missed-check", end(2026, 11, 10))


def test_medium_risk_dispute_one_working_day_overdue_does_not_escalate() -> None:
    result = run(Risk.medium, MONDAY, now=at(2026, 11, 5, 23))
    assert result.decisions == ()


def working_days(start: tuple[int, int, int], count: int) -> list[tuple[int, int, int]]:
    day = at(*start).date()
    days = []
    while len(days) < count:
        if POLICY.calendar.is_workday(day):
            days.append((day.year, day.month, day.day))
        day += timedelta(days=1)
    return days


def test_medium_risk_dispute_checked_daily_escalates_to_township_when_unresolved_fifteen_days() -> (
    None
):
    events = checks(*working_days((2026, 11, 3), 11))  # 3 to 17 November
    result = run(Risk.medium, MONDAY, events, now=at(2026, 11, 18, 12))
    assert chain(result) == [("village-medium-unresolved", end(2026, 11, 17))]


def test_low_risk_dispute_escalates_to_township_when_unresolved_thirty_days() -> None:
    result = run(Risk.low, MONDAY, now=at(2026, 12, 3, 12))
    assert chain(result) == [("village-low-unresolved", end(2026, 12, 2))]


def test_low_risk_dispute_never_escalates_to_county_automatically() -> None:
    result = run(Risk.low, MONDAY)
    assert chain(result) == [("village-low-unresolved", end(2026, 12, 2))]
    assert result.state.level is Level.township
    assert result.next_decision is None


def test_resolved_dispute_does_not_escalate() -> None:
    events = [ev(K.resolve, at(2026, 11, 3, 8), method="people", agreement="oral")]
    result = run(Risk.high, MONDAY, events)
    assert result.decisions == () and result.next_decision is None


# --- township → county -------------------------------------------------------------------


def escalated_by_hand(moment: datetime) -> Event:
    return ev(K.escalate, moment)


def test_high_risk_dispute_escalates_to_county_when_unresolved_seven_days_at_township() -> None:
    events = [
        escalated_by_hand(at(2026, 11, 2, 15)),
        *checks((2026, 11, 3), (2026, 11, 4), (2026, 11, 5), (2026, 11, 6), (2026, 11, 9)),
    ]
    result = run(Risk.high, MONDAY, events, now=at(2026, 11, 10, 12))
    assert chain(result) == [("township-high-unresolved", end(2026, 11, 9))]
    assert (result.decisions[0].from_level, result.decisions[0].to_level) == (
        Level.township,
        Level.county,
    )


def test_high_risk_dispute_escalates_to_county_when_an_obligation_is_overdue_a_day_at_township() -> (
    None
):
    events = [escalated_by_hand(at(2026, 11, 2, 15)), *checks((2026, 11, 3))]
    result = run(Risk.high, MONDAY, events, now=at(2026, 11, 6, 12))
    # The check made on Tuesday is due again at the end of Wednesday; a day later it escalates.
    assert chain(result) == [("township-high-overdue", end(2026, 11, 5))]


def test_high_risk_dispute_one_obligation_overdue_less_than_a_day_stays_at_township() -> None:
    events = [escalated_by_hand(at(2026, 11, 2, 15)), *checks((2026, 11, 3))]
    result = run(Risk.high, MONDAY, events, now=at(2026, 11, 5, 23, 59))
    assert result.decisions == ()
    assert result.state.level is Level.township


def test_medium_risk_dispute_escalates_to_county_when_unresolved_thirty_days_at_township() -> None:
    events = [escalated_by_hand(at(2026, 11, 2, 15))]
    result = run(Risk.medium, MONDAY, events, now=at(2026, 12, 3, 12))
    assert chain(result) == [("township-medium-unresolved", end(2026, 12, 2))]


def test_low_risk_dispute_at_township_never_goes_to_county_however_long_it_waits() -> None:
    events = [escalated_by_hand(at(2026, 11, 2, 15))]
    result = run(Risk.low, MONDAY, events)
    assert result.decisions == () and result.next_decision is None
    assert result.state.level is Level.township


# --- county: the top, and supervised listing (挂牌督办) ----------------------------------


def test_neglected_high_risk_dispute_climbs_to_county_and_is_listed_after_fifteen_days() -> None:
    result = run(Risk.high, MONDAY)
    assert chain(result) == [
        ("village-high-missed-check", end(2026, 11, 3)),
        ("township-high-overdue", end(2026, 11, 5)),
        ("county-high-supervised", end(2026, 11, 20)),
        ("supervision_grades.red", end(2026, 12, 5)),
    ]
    listing = result.decisions[-2]
    assert listing.kind == "supervise"
    assert (listing.from_level, listing.to_level) == (Level.county, Level.county)
    assert (listing.deadline, listing.grade, listing.unit) == (end(2026, 12, 5), "yellow", "330100")
    # its deadline passed unresolved: the red card, ten more days
    assert result.state.supervised
    assert result.state.supervision_deadline == end(2026, 12, 15)
    assert result.state.supervision_grade == "red"
    assert result.next_decision is None  # red is the last grade


def test_nothing_escalates_beyond_county() -> None:
    events = [escalated_by_hand(at(2026, 11, 2, 11)), escalated_by_hand(at(2026, 11, 2, 12))]
    for risk in Risk:
        result = run(risk, MONDAY, events)
        assert all(d.kind == "supervise" for d in result.decisions), risk
        assert result.state.level is Level.county


def test_high_risk_dispute_at_county_is_listed_for_supervision_fifteen_days_after_reaching_it() -> (
    None
):
    events = [escalated_by_hand(at(2026, 11, 2, 11)), escalated_by_hand(at(2026, 11, 2, 12))]
    result = run(Risk.high, MONDAY, events, now=at(2026, 11, 17, 23, 59))
    assert result.decisions == ()
    result = run(Risk.high, MONDAY, events)
    assert chain(result) == [
        ("county-high-supervised", end(2026, 11, 17)),
        ("supervision_grades.red", end(2026, 12, 2)),
    ]
    assert result.decisions[0].deadline == end(2026, 12, 2)
    assert due(result)["monthly_inspection"] == end(2026, 12, 1)


def test_medium_risk_dispute_at_county_is_not_listed_for_supervision() -> None:
    events = [escalated_by_hand(at(2026, 11, 2, 11)), escalated_by_hand(at(2026, 11, 2, 12))]
    result = run(Risk.medium, MONDAY, events)
    assert result.decisions == () and result.next_decision is None


def test_a_dispute_supervised_by_hand_is_not_listed_again() -> None:
    events = [
        escalated_by_hand(at(2026, 11, 2, 11)),
        escalated_by_hand(at(2026, 11, 2, 12)),
        ev(K.supervise, at(2026, 11, 3, 10), deadline=end(2026, 11, 30).isoformat()),
    ]
    result = run(Risk.high, MONDAY, events)
    # only its grade changes: a listing by hand starts at the first grade
    assert chain(result) == [("supervision_grades.red", end(2026, 11, 30))]
    assert result.next_decision is None


# --- pauses -------------------------------------------------------------------------------


def paused_two_days(start: datetime) -> list[Event]:
    return [
        ev(K.pause, start, reason="a party is in hospital"),
        ev(K.resume, start + timedelta(days=2)),
    ]


def test_paused_time_is_added_to_every_open_obligation() -> None:
    events = paused_two_days(at(2026, 11, 2, 12))
    result = run(Risk.high, MONDAY, events, now=at(2026, 11, 4, 12))
    assert due(result) == {
        "daily_check": end(2026, 11, 5),
        "weekly_assessment": end(2026, 11, 11),
        "half_month_review": end(2026, 11, 19),
        "mediation_time_limit": end(2026, 12, 4),
    }


def test_paused_time_is_added_to_the_return_visit() -> None:
    events = [*resolved_on_thursday(), *paused_two_days(at(2026, 11, 6, 10))]
    result = run(Risk.medium, MONDAY, events, now=at(2026, 11, 8, 11))
    assert due(result) == {
        "return_visit": end(2026, 11, 17),
        "confirmation_notice": end(2026, 11, 10),
    }


def test_paused_time_is_added_to_the_monthly_inspection() -> None:
    events = [
        ev(K.supervise, at(2026, 11, 10, 10), deadline=end(2026, 11, 30).isoformat()),
        *paused_two_days(at(2026, 11, 12, 10)),
    ]
    result = run(Risk.low, MONDAY, events, now=at(2026, 11, 14, 11))
    assert due(result)["monthly_inspection"] == end(2026, 12, 3)


def test_paused_time_is_added_to_the_escalation_threshold() -> None:
    events = paused_two_days(at(2026, 11, 2, 12))
    result = run(Risk.high, MONDAY, events, now=at(2026, 11, 6, 12))
    assert chain(result)[0] == ("village-high-missed-check", end(2026, 11, 5))


def test_paused_time_is_added_to_the_unresolved_threshold() -> None:
    events = [
        *checks((2026, 11, 3)),
        *paused_two_days(at(2026, 11, 3, 10)),
        *checks(*working_days((2026, 11, 6), 10)),
    ]
    result = run(Risk.medium, MONDAY, events, now=at(2026, 11, 24, 12))
    assert chain(result) == [("village-medium-unresolved", end(2026, 11, 19))]


def test_paused_dispute_owes_nothing_and_never_escalates() -> None:
    events = [ev(K.pause, at(2026, 11, 2, 12), reason="waiting for the court")]
    result = run(Risk.high, MONDAY, events)
    assert result.state.paused
    assert result.obligations == ()
    assert result.decisions == () and result.next_decision is None


def test_a_pause_before_the_threshold_holds_escalation_off_until_resumed() -> None:
    events = [ev(K.pause, at(2026, 11, 3, 12), reason="waiting for the court")]
    assert run(Risk.high, MONDAY, events, now=at(2026, 11, 20, 12)).decisions == ()
    resumed = [*events, ev(K.resume, at(2026, 11, 20, 12))]
    result = run(Risk.high, MONDAY, resumed, now=at(2026, 11, 23, 12))
    # 12 hours of the check's day were left at the pause; they run on from the resumption.
    assert chain(result)[0] == ("village-high-missed-check", at(2026, 11, 21, 0))


# --- each level's clock starts when the dispute reaches it ---------------------------------


def test_township_threshold_counts_from_the_escalation_not_from_the_report() -> None:
    events = [
        *checks((2026, 11, 3), (2026, 11, 4), (2026, 11, 5)),
        escalated_by_hand(at(2026, 11, 5, 15)),
        *checks((2026, 11, 6), (2026, 11, 9), (2026, 11, 10), (2026, 11, 11), (2026, 11, 12)),
    ]
    result = run(Risk.high, MONDAY, events, now=at(2026, 11, 13, 12))
    assert chain(result) == [("township-high-unresolved", end(2026, 11, 12))]


def test_village_threshold_restarts_when_a_supervisor_hands_the_dispute_back() -> None:
    events = [
        escalated_by_hand(at(2026, 11, 2, 11)),
        *checks((2026, 11, 3), (2026, 11, 4), (2026, 11, 5), (2026, 11, 6)),
        ev(K.handback, at(2026, 11, 6, 10)),
        *checks((2026, 11, 9), (2026, 11, 10)),
    ]
    result = run(Risk.high, MONDAY, events, now=at(2026, 11, 10, 12))
    assert [(m.kind, m.to_level) for m in result.level_changes] == [
        (K.escalate, Level.township),
        (K.handback, Level.village),
    ]
    # 3 days from the handback (Friday), not from the report: the end of Monday.
    assert chain(result) == [("village-high-unresolved", end(2026, 11, 9))]


def test_handback_restarts_the_daily_check_clock_at_the_village() -> None:
    events = [escalated_by_hand(at(2026, 11, 2, 11)), ev(K.handback, at(2026, 11, 3, 10))]
    result = run(Risk.high, MONDAY, events, now=at(2026, 11, 3, 11))
    assert due(result)["daily_check"] == end(2026, 11, 4)


# --- sensitive periods (敏感时期): National Day 2026, high risk ----------------------------


NATIONAL_DAY = at(2026, 10, 1, 10)


def test_high_risk_daily_check_in_national_day_falls_due_the_next_day_holiday_or_not() -> None:
    assert due(run(Risk.high, NATIONAL_DAY, now=NATIONAL_DAY))["daily_check"] == end(2026, 10, 2)


def test_medium_risk_daily_check_in_national_day_waits_for_the_next_working_day() -> None:
    assert due(run(Risk.medium, NATIONAL_DAY, now=NATIONAL_DAY))["daily_check"] == end(2026, 10, 8)


def test_high_risk_village_threshold_is_halved_and_rounded_up_during_national_day() -> None:
    events = checks((2026, 10, 2), (2026, 10, 3))
    result = run(Risk.high, NATIONAL_DAY, events, now=at(2026, 10, 4, 12))
    # 3 days halved is 1.5, rounded up to 2: the end of 3 October.
    assert chain(result) == [("village-high-unresolved", end(2026, 10, 3))]


def test_high_risk_township_threshold_is_halved_and_rounded_up_during_national_day() -> None:
    events = checks(
        (2026, 10, 2), (2026, 10, 3), (2026, 10, 4), (2026, 10, 5), (2026, 10, 6), (2026, 10, 7)
    )
    result = run(Risk.high, NATIONAL_DAY, events, now=at(2026, 10, 8, 12))
    # 7 days halved is 3.5, rounded up to 4, counted from reaching the township.
    assert chain(result) == [
        ("village-high-unresolved", end(2026, 10, 3)),
        ("township-high-unresolved", end(2026, 10, 7)),
    ]


def test_high_risk_missed_check_in_national_day_escalates_the_day_after() -> None:
    result = run(Risk.high, NATIONAL_DAY, now=at(2026, 10, 3, 12))
    assert chain(result) == [("village-high-missed-check", end(2026, 10, 2))]


def test_medium_risk_grace_after_national_day_counts_the_make_up_saturday() -> None:
    result = run(Risk.medium, NATIONAL_DAY, now=at(2026, 10, 12, 12))
    assert chain(result) == [("village-medium-missed-check", end(2026, 10, 10))]


def test_high_risk_outside_a_sensitive_period_keeps_the_full_threshold() -> None:
    eve = at(2026, 9, 29, 10)  # Tuesday before National Day
    events = checks((2026, 9, 30))
    result = run(Risk.high, eve, events, now=at(2026, 10, 9, 12))
    # The clock started before the period: 3 days is the end of 2 October.
    assert chain(result)[0] == ("village-high-unresolved", end(2026, 10, 2))


# --- determinism: late sweeps and recorded escalations ----------------------------------


def sweep_daily(
    risk: Risk, reported: datetime, events: Sequence[Event], until: datetime
) -> list[Event]:
    """Run a sweep every day at 06:00, recording each decision as an event, as a sweep does."""
    log = list(numbered(events))
    initial = DisputeState.reported(path=PATH, risk=risk, at=reported)
    moment = reported.replace(hour=6, minute=0) + timedelta(days=1)
    while moment <= until:
        seen = [e for e in log if e.at <= moment]
        result = evaluate(initial, seen, policy=POLICY, now=moment)
        for decision in result.decisions:
            recorded = decision.as_event()
            log.append(
                Event(kind=recorded.kind, at=recorded.at, data=recorded.data, seq=len(log) + 2)
            )
        moment += timedelta(days=1)
    return log


def test_a_late_evaluation_gives_the_same_decisions_at_the_same_times_as_on_time_sweeps() -> None:
    events = [ev(K.assess, at(2026, 11, 3, 9), risk="high")]
    log = sweep_daily(Risk.medium, MONDAY, events, until=at(2026, 12, 28, 12))
    recorded = [(e.data["rule"], e.at) for e in log if e.kind in (K.escalate, K.supervise)]
    late = run(Risk.medium, MONDAY, events, now=at(2026, 12, 28, 12))
    assert chain(late) == recorded
    assert len(recorded) == 4


def test_evaluating_weeks_late_gives_the_same_chain_as_evaluating_at_each_step() -> None:
    late = run(Risk.high, MONDAY, now=at(2026, 12, 28, 12))
    for index, decision in enumerate(late.decisions):
        on_time = run(Risk.high, MONDAY, now=decision.effective_at + timedelta(microseconds=1))
        assert on_time.decisions == late.decisions[: index + 1]


def test_recorded_escalations_are_not_decided_again() -> None:
    log = sweep_daily(Risk.high, MONDAY, [], until=at(2026, 12, 28, 12))
    initial = DisputeState.reported(path=PATH, risk=Risk.high, at=MONDAY)
    result = evaluate(initial, log, policy=POLICY, now=at(2026, 12, 28, 12))
    assert result.decisions == ()
    assert result.state.level is Level.county and result.state.supervised
    assert [(m.from_level, m.to_level, m.at) for m in result.level_changes] == [
        (Level.village, Level.township, end(2026, 11, 3)),
        (Level.township, Level.county, end(2026, 11, 5)),
    ]


def test_a_recorded_escalation_is_not_decided_again_and_the_next_threshold_still_comes() -> None:
    first = run(Risk.high, MONDAY, now=at(2026, 11, 4, 9)).decisions[0]
    recorded = Event(K.escalate, first.effective_at, MappingProxyType({"rule": first.rule}), seq=2)
    initial = DisputeState.reported(path=PATH, risk=Risk.high, at=MONDAY)
    result = evaluate(initial, [recorded], policy=POLICY, now=at(2026, 11, 6, 9))
    assert chain(result) == [("township-high-overdue", end(2026, 11, 5))]


# --- property: later evaluations only add decisions -------------------------------------


def _evaluate_seen(
    risk: Risk, reported: datetime, events: Sequence[Event], now: datetime
) -> tuple[Decision, ...]:
    initial = DisputeState.reported(path=PATH, risk=risk, at=reported)
    seen = [e for e in events if e.at <= now]
    return evaluate(initial, seen, policy=POLICY, now=now).decisions


@settings(max_examples=100, deadline=None)
@given(
    history=histories(),
    first=st.integers(0, 60 * 24 * 60),
    extra=st.integers(0, 30 * 24 * 60),
)
def test_evaluating_later_never_changes_or_removes_a_decision_already_due(
    history: tuple[Risk, datetime, list[Event]], first: int, extra: int
) -> None:
    risk, reported, events = history
    t1 = reported + timedelta(minutes=first)
    t2 = t1 + timedelta(minutes=extra)
    earlier = _evaluate_seen(risk, reported, events, t1)
    later = _evaluate_seen(risk, reported, events, t2)
    assert later[: len(earlier)] == earlier
    assert all(d.effective_at >= t1 for d in later[len(earlier) :])  # crossed only after T
    final = _evaluate_seen(risk, reported, events, reported + timedelta(days=90))
    assert final[: len(later)] == later
    times = [d.effective_at for d in final]
    assert times == sorted(times)
    for index, decision in enumerate(final):
        just_after = decision.effective_at + timedelta(microseconds=1)
        assert _evaluate_seen(risk, reported, events, just_after) == final[: index + 1]


@pytest.mark.parametrize("risk", list(Risk))
def test_evaluation_is_deterministic_whatever_order_the_history_is_given_in(risk: Risk) -> None:
    events = numbered(
        [*checks((2026, 11, 3), (2026, 11, 4)), ev(K.assess, at(2026, 11, 4, 15), risk="high")]
    )
    initial = DisputeState.reported(path=PATH, risk=risk, at=MONDAY)
    forward = evaluate(initial, events, policy=POLICY, now=LATER)
    backward = evaluate(initial, list(reversed(events)), policy=POLICY, now=LATER)
    assert forward == backward


def test_raising_the_risk_after_the_threshold_escalates_at_the_assessment_not_before_it() -> None:
    raised = at(2026, 11, 20, 10)
    events = [ev(K.assess, raised, risk="high"), ev(K.check, at(2026, 11, 20, 11))]
    assert run(Risk.low, MONDAY, events, now=raised - timedelta(minutes=1)).decisions == ()
    result = run(Risk.low, MONDAY, events, now=at(2026, 11, 20, 12))
    # A high-risk dispute 18 days at the village is over its 3 days at once, not retroactively.
    assert chain(result) == [("village-high-unresolved", raised)]


def test_a_dispute_raised_to_high_risk_at_county_is_listed_from_the_assessment() -> None:
    raised = at(2026, 11, 25, 10)
    events = [
        escalated_by_hand(at(2026, 11, 2, 11)),
        escalated_by_hand(at(2026, 11, 2, 12)),
        ev(K.assess, raised, risk="high"),
    ]
    result = run(Risk.medium, MONDAY, events, now=at(2026, 11, 25, 12))
    assert chain(result) == [("county-high-supervised", raised)]
    assert result.decisions[0].deadline == end(2026, 12, 10)


def test_a_pause_during_the_medium_risk_grace_days_is_added_to_the_escalation_threshold() -> None:
    events = paused_two_days(at(2026, 11, 4, 10))  # the check fell due at the end of Tuesday
    result = run(Risk.medium, MONDAY, events, now=at(2026, 11, 20, 12))
    # The grace ended at the end of Thursday; 48 paused hours move it to the end of Saturday.
    assert chain(result)[0] == ("village-medium-missed-check", end(2026, 11, 7))


def test_a_pause_during_the_township_day_of_grace_is_added_to_the_escalation_threshold() -> None:
    events = [
        escalated_by_hand(at(2026, 11, 2, 15)),
        *checks((2026, 11, 3)),
        *paused_two_days(at(2026, 11, 5, 10)),
    ]
    result = run(Risk.high, MONDAY, events, now=at(2026, 11, 20, 12))
    assert chain(result)[0] == ("township-high-overdue", end(2026, 11, 7))
