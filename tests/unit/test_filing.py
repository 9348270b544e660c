"""The filing board (填报完整性), on a scenario computed by hand (pure: no database).

The rules (below): a working week of Monday to Friday (``weekends``); a daily check owed by
open high and medium disputes, due at the end of the next working day after the report or
the last check (``1wd``); a weekly assessment owed by every open dispute, due at the end of
the 7th day after the report or the last assessment; a high-risk dispute whose daily check
is overdue goes up to the township (its clocks restart there). Dates are local (Shanghai),
in March 2026: Monday 2 March to Sunday 8 March is week 2026-W10. "End of Tue" is 24:00 at
the end of Tuesday 3 March. The board is looked at on Monday 9 March, 10:00, unless said.

The org: county 330100; township 330101 (东镇) with villages V1 33010101, V2 33010102,
V3 33010103 and V4 33010104; township 330102 (西镇) with village V6 33010201.

The disputes:
- D1 V1 medium, reported Fri 27 Feb 09:00; checked Mon 16:00, Tue 17:00, Wed 11:00,
  Thu 15:00, Fri 10:00; assessed Thu 14:00. Daily checks due at the end of Mon, Tue, Wed,
  Thu and Fri: each met the day it was due, on time (5). Weekly assessment due at the end
  of Fri 6 March: met Thu, on time (1). V1 owes 6, all on time: complete.
- D2 V2 medium, reported Mon 09:00; checked Tue 10:00, Thu 08:30, Fri 09:00. Due at the end
  of Tue: on time; end of Wed: met Thu 08:30, late by 8h30 = 510 minutes; end of Fri (1wd
  after Thu): on time. Its next check is due at the end of Mon 9 March and its assessment
  at the end of Mon 9 March too: after the week.
- D3 V3 medium, reported Mon 10:00; checked Tue 09:00. Due at the end of Tue: on time; end
  of Wed: never met, still open at the board's moment, late by Mon 9 10:00 − Thu 5 00:00 =
  4d10h = 6,360 minutes.
- D4 V4 medium, reported Tue 09:00, resolved Wed 15:00, before its first check fell due
  (end of Wed): it owes nothing. V4 has no other dispute: it owes nothing (owed 0, shown
  so, not as failing).
- D5 V2 high, reported Mon 09:00; its first check, due at the end of Tue, is not made: the
  rules escalate it to the township then (24:00; no sweep recorded it), which restarts its
  clock: the village missed Tuesday's check (late 0 minutes: the rules moved it on at its
  due time; no longer open), and the township owes one by the end of Wed. Checked Wed
  10:00 and Thu 09:00: the township's checks due at the end of Wed and of Thu, on time.
  The one due at the end of Fri (1wd after Thu) is never made: the township's, missed,
  open, late by Mon 9 10:00 − Sat 7 00:00 = 2d10h = 3,480 minutes.
- D6 V6 medium, reported Mon 09:00; checked Tue 09:00 (due at the end of Tue: on time);
  resolved Wed 09:00, before the check due at the end of Wed.

Week 2026-W10, township 330101 (due times after Mon 2 00:00 and up to Mon 9 00:00):
    V1: owed 6, on time 6                                  complete
    V2: owed 4 (D2 3, D5 1), on time 2, late 1, missed 1   largest lateness 510
    V3: owed 2, on time 1, missed 1                        largest lateness 6,360
    V4: owed 0
    330101 itself: owed 3 (D5), on time 2, missed 1        largest lateness 3,480
    totals: owed 15, on time 11, late 1, missed 3; 1 of 5 rows complete, 4 owing.
    behind, newest due first: D5 (end of Fri, missed), D2 and D3 (end of Wed, late and
    missed), D5 (end of Tue, missed).
The county 330100 adds V6 (owed 1, on time: complete) and 330102's own row (owed 0).

Wednesday 4 March (due times at the end of Wednesday): D1 on time (V1), D2 late by 510
(V2), D3 missed (V3), D5 on time (at the township); D4 owes nothing.
Tuesday 3 March: D1, D2, D3 on time; D5 missed at V2.
Thursday 5 March looked at on Thursday at noon: every due time of that day is at its end,
after the moment: nothing owed yet, not even D5's check, made at 09:00.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings

from models.lifecycle import DisputeState, Event
from models.values import EventKind, Risk, UnitPath
from rules.filing import Item, board, filing_items, filing_period
from rules.loader import parse_ruleset
from rules.policy import Policy
from rules.reporting import Case, OrgUnit, Period
from tests.support import histories as shipped

K = EventKind
ZONE = ZoneInfo("Asia/Shanghai")
RULES = """
timezone: Asia/Shanghai
calendar: {base: weekends}
obligations:
  daily_check:
    label: {en: daily check, zh: 日排查}
    applies_to: {status: open, risks: [high, medium]}
    fulfilled_by: check
    after: [report, check]
    due: 1wd
  weekly_assessment:
    label: {en: weekly assessment, zh: 周研判}
    applies_to: {status: open}
    fulfilled_by: assess
    after: [report, assess]
    due: 7d
  return_visit:
    label: {en: return visit, zh: 回访}
    applies_to: {status: resolved}
    fulfilled_by: visit
    after: [resolve]
    due: 10d
escalations:
  - {id: v-high-check, from: village, to: township, risk: high, when: overdue,
     obligation: daily_check}
"""
POLICY = Policy.from_ruleset(parse_ruleset(RULES, name="scenario"), source="scenario")

V1, V2, V3, V4, V6 = "33010101", "33010102", "33010103", "33010104", "33010201"
COUNTY = OrgUnit("330100", "某县", "county", None)
EAST = OrgUnit("330101", "东镇", "township", "330100")
WEST = OrgUnit("330102", "西镇", "township", "330100")
VILLAGES = [
    OrgUnit(V1, "一村", "village", "330101"),
    OrgUnit(V2, "二村", "village", "330101"),
    OrgUnit(V3, "三村", "village", "330101"),
    OrgUnit(V4, "四村", "village", "330101"),
    OrgUnit(V6, "六村", "village", "330102"),
]
WEEK_10 = filing_period(week="2026-W10", zone=ZONE)


def at(day: int, hour: int = 0, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ZONE)


def end(day: int) -> datetime:
    """24:00 at the end of ``day`` March."""
    return at(day) + timedelta(days=1)


NOW = at(9, 10)


def ev(kind: EventKind, moment: datetime, **data: Any) -> Event:
    return Event(kind=kind, at=moment, data=MappingProxyType(data))


def case(
    number: int, village: str, risk: Risk, reported: datetime, events: Sequence[Event] = ()
) -> Case:
    township = "330102" if village == V6 else "330101"
    path = UnitPath(village, township, "330100")
    report = Event(K.report, reported, MappingProxyType({"risk": risk.value}), seq=1)
    numbered = [
        Event(kind=e.kind, at=e.at, data=e.data, seq=seq) for seq, e in enumerate(events, start=2)
    ]
    initial = DisputeState.reported(path=path, risk=risk, at=reported)
    return Case(number, f"D{number}", "neighbour", initial, [report, *numbered])


def scenario() -> list[Case]:
    return [
        case(
            1,
            V1,
            Risk.medium,
            at(27, 9, month=2),
            [
                ev(K.check, at(2, 16)),
                ev(K.check, at(3, 17)),
                ev(K.check, at(4, 11)),
                ev(K.assess, at(5, 14), risk="medium"),
                ev(K.check, at(5, 15)),
                ev(K.check, at(6, 10)),
            ],
        ),
        case(
            2,
            V2,
            Risk.medium,
            at(2, 9),
            [ev(K.check, at(3, 10)), ev(K.check, at(5, 8, 30)), ev(K.check, at(6, 9))],
        ),
        case(3, V3, Risk.medium, at(2, 10), [ev(K.check, at(3, 9))]),
        case(4, V4, Risk.medium, at(3, 9), [ev(K.resolve, at(4, 15), method="people")]),
        case(5, V2, Risk.high, at(2, 9), [ev(K.check, at(4, 10)), ev(K.check, at(5, 9))]),
        case(
            6,
            V6,
            Risk.medium,
            at(2, 9),
            [ev(K.check, at(3, 9)), ev(K.resolve, at(4, 9), method="people")],
        ),
    ]


def items_of(cases: Sequence[Case], period: Period, now: datetime = NOW) -> list[Item]:
    return [
        item
        for c in cases
        for item in filing_items(c, policy=POLICY, start=period.start, end=period.end, now=now)
    ]


def township_board(period: Period, now: datetime = NOW) -> dict[str, Any]:
    rows = [v for v in VILLAGES if v.parent == EAST.code] + [EAST]
    return board(
        items_of(scenario(), period, now),
        unit=EAST,
        rows=rows,
        period=period,
        now=now,
        policy=POLICY,
    )


def counts(content: dict[str, Any]) -> dict[str, tuple[int, int, int, int]]:
    return {r["unit"]: (r["owed"], r["on_time"], r["late"], r["missed"]) for r in content["units"]}


def row(content: dict[str, Any], unit: str) -> dict[str, Any]:
    return next(r for r in content["units"] if r["unit"] == unit)


def seen(items: Sequence[Item]) -> list[tuple[int, datetime, str, int | None, str]]:
    return [(i.dispute, i.due_at, i.state, i.late_minutes, i.unit) for i in items]


# --- one dispute at a time -----------------------------------------------------------------


def test_a_village_that_made_every_check_and_assessment_on_time_is_complete() -> None:
    weekly = township_board(WEEK_10)
    v1 = row(weekly, V1)
    assert (v1["owed"], v1["on_time"], v1["complete"], v1["latest_minutes"]) == (6, 6, True, None)
    assert v1["by_obligation"] == {
        "daily_check": {"owed": 5, "on_time": 5, "late": 0, "missed": 0},
        "weekly_assessment": {"owed": 1, "on_time": 1, "late": 0, "missed": 0},
    }


def test_a_check_made_late_counts_late_by_the_minutes_after_its_due_time() -> None:
    d2 = items_of(scenario()[1:2], WEEK_10)
    assert seen(d2) == [
        (2, end(3), "on_time", None, V2),
        (2, end(4), "late", 510, V2),
        (2, end(6), "on_time", None, V2),
    ]
    assert d2[1].done_at == at(5, 8, 30)


def test_a_missed_check_counts_missed_still_open_and_late_until_now() -> None:
    d3 = items_of(scenario()[2:3], WEEK_10)
    assert seen(d3) == [(3, end(3), "on_time", None, V3), (3, end(4), "missed", 6360, V3)]
    assert d3[1].open and d3[1].done_at is None


def test_a_dispute_resolved_before_its_check_fell_due_owes_nothing() -> None:
    assert items_of(scenario()[3:4], WEEK_10) == []


def test_a_village_owing_nothing_shows_owed_zero_and_is_not_counted_as_failing() -> None:
    v4 = row(township_board(WEEK_10), V4)
    assert (v4["owed"], v4["late"], v4["missed"], v4["complete"]) == (0, 0, 0, False)
    assert v4["latest_minutes"] is None


def test_a_check_missed_by_the_village_and_then_owed_by_the_township_counts_at_each() -> None:
    d5 = items_of(scenario()[4:5], WEEK_10)
    # Tuesday's check, missed: the dispute went up to the township at its due time (no sweep
    # recorded it), and its clock restarted there: the township owed the next ones.
    assert seen(d5) == [
        (5, end(3), "missed", 0, V2),
        (5, end(4), "on_time", None, "330101"),
        (5, end(5), "on_time", None, "330101"),
        (5, end(6), "missed", 3480, "330101"),
    ]
    assert [i.open for i in d5] == [False, False, False, True]


def test_an_escalation_a_sweep_recorded_counts_as_the_rules_decision_it_was() -> None:
    recorded = scenario()[4]
    escalation = Event(K.escalate, end(3), MappingProxyType({"rule": "v-high-check"}), seq=4)
    events = [*recorded.events[:2], escalation, *recorded.events[2:]]
    assert seen(items_of([replace(recorded, events=events)], WEEK_10)) == seen(
        items_of([recorded], WEEK_10)
    )


def test_a_due_time_moved_by_a_pause_is_owed_only_where_it_moved() -> None:
    paused = case(
        7,
        V1,
        Risk.medium,
        at(2, 9),
        [
            ev(K.pause, at(3, 10), reason="a party in hospital"),
            ev(K.resume, at(4, 10)),
            ev(K.check, at(4, 15)),
            ev(K.check, at(5, 9)),
            ev(K.resolve, at(6, 9), method="people"),
        ],
    )
    # Due at the end of Tue, paused a day before it: due at the end of Wed instead.
    assert seen(items_of([paused], WEEK_10)) == [
        (7, end(4), "on_time", None, V1),
        (7, end(5), "on_time", None, V1),
    ]


def test_a_check_missed_and_no_longer_owed_stays_missed_late_until_it_ended() -> None:
    lowered = case(8, V1, Risk.medium, at(2, 9), [ev(K.assess, at(4, 11), risk="low")])
    # Due at the end of Tue, never made; the risk lowered on Wed 11:00 ended it.
    [item] = items_of([lowered], WEEK_10)
    assert (item.due_at, item.state, item.late_minutes, item.open) == (end(3), "missed", 660, False)


def test_a_check_on_a_day_off_leaves_the_next_working_day_s_check_owed_one_due_time() -> None:
    # Reported Fri 6 March: a check due at the end of Mon 9. Checked Sat 7: due again at the
    # end of Mon 9 (1 working day after a Saturday), the same due time, owed still.
    week_11 = filing_period(week="2026-W11", zone=ZONE)
    saturday = [ev(K.check, at(7, 10))]
    unmet = case(9, V1, Risk.medium, at(6, 10), saturday)
    met = case(9, V1, Risk.medium, at(6, 10), [*saturday, ev(K.check, at(9, 16))])
    tuesday = at(10, 10)
    assert seen(items_of([unmet], week_11, tuesday)) == [(9, end(9), "missed", 600, V1)]
    assert seen(items_of([met], week_11, tuesday)) == [(9, end(9), "on_time", None, V1)]


def test_a_due_time_after_now_is_not_yet_owed_even_if_already_met() -> None:
    thursday = filing_period(day="2026-03-05", zone=ZONE)
    noon = at(5, 12)
    assert items_of(scenario(), thursday, noon) == []
    assert township_board(thursday, noon)["totals"]["owed"] == 0


# --- the township's board, a week and a day ------------------------------------------------


def test_the_week_board_counts_every_due_time_of_the_week_by_village_and_the_township() -> None:
    weekly = township_board(WEEK_10)
    assert counts(weekly) == {
        V1: (6, 6, 0, 0),
        V2: (4, 2, 1, 1),
        V3: (2, 1, 0, 1),
        V4: (0, 0, 0, 0),
        "330101": (3, 2, 0, 1),
    }
    assert [r["latest_minutes"] for r in weekly["units"]] == [None, 510, 6360, None, 3480]
    assert [r["complete"] for r in weekly["units"]] == [True, False, False, False, False]
    assert weekly["totals"] == {
        "owed": 15,
        "on_time": 11,
        "late": 1,
        "missed": 3,
        "complete_units": 1,
        "owing_units": 4,
        "units": 5,
    }


def test_the_week_board_lists_who_is_behind_newest_due_first() -> None:
    weekly = township_board(WEEK_10)
    assert [
        (i["dispute"], i["due"], i["state"], i["late_minutes"], i["unit"], i["open"])
        for i in weekly["items"]
    ] == [
        (5, "2026-03-07T00:00:00+08:00", "missed", 3480, "330101", True),
        (2, "2026-03-05T00:00:00+08:00", "late", 510, V2, False),
        (3, "2026-03-05T00:00:00+08:00", "missed", 6360, V3, True),
        (5, "2026-03-04T00:00:00+08:00", "missed", 0, V2, False),
    ]
    assert weekly["items"][1]["done_at"] == "2026-03-05T08:30:00+08:00"
    assert weekly["items"][0]["done_at"] is None


def test_the_week_board_says_its_unit_period_moment_and_obligations() -> None:
    weekly = township_board(WEEK_10)
    assert (weekly["unit"], weekly["name"], weekly["level"]) == ("330101", "东镇", "township")
    assert weekly["period"] == {
        "label": "2026-W10",
        "start": "2026-03-02T00:00:00+08:00",
        "end": "2026-03-09T00:00:00+08:00",
        "first_day": "2026-03-02",
        "last_day": "2026-03-08",
    }
    assert weekly["now"] == "2026-03-09T10:00:00+08:00"
    # Those a check or an assessment fulfils; not the return visit.
    assert weekly["obligations"] == [
        {"name": "daily_check", "label": "日排查"},
        {"name": "weekly_assessment", "label": "周研判"},
    ]


def test_the_day_board_counts_the_due_times_at_the_end_of_that_day() -> None:
    wednesday = township_board(filing_period(day="2026-03-04", zone=ZONE))
    assert counts(wednesday) == {
        V1: (1, 1, 0, 0),
        V2: (1, 0, 1, 0),
        V3: (1, 0, 0, 1),
        V4: (0, 0, 0, 0),
        "330101": (1, 1, 0, 0),
    }
    assert wednesday["period"]["first_day"] == wednesday["period"]["last_day"] == "2026-03-04"
    tuesday = township_board(filing_period(day="2026-03-03", zone=ZONE))
    assert counts(tuesday) == {
        V1: (1, 1, 0, 0),
        V2: (2, 1, 0, 1),
        V3: (1, 1, 0, 0),
        V4: (0, 0, 0, 0),
        "330101": (0, 0, 0, 0),
    }


def test_the_county_board_has_every_village_of_its_townships_and_their_own_rows() -> None:
    rows = [*VILLAGES, EAST, WEST, COUNTY]
    weekly = board(
        items_of(scenario(), WEEK_10),
        unit=COUNTY,
        rows=rows,
        period=WEEK_10,
        now=NOW,
        policy=POLICY,
    )
    assert counts(weekly) == {
        V1: (6, 6, 0, 0),
        V2: (4, 2, 1, 1),
        V3: (2, 1, 0, 1),
        V4: (0, 0, 0, 0),
        V6: (1, 1, 0, 0),
        "330101": (3, 2, 0, 1),
        "330102": (0, 0, 0, 0),
        "330100": (0, 0, 0, 0),
    }
    assert (weekly["totals"]["owed"], weekly["totals"]["complete_units"]) == (16, 2)
    # The township's own board leaves out the other township's village.
    assert V6 not in counts(township_board(WEEK_10))


# --- any history, under the shipped rules ---------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shipped.histories())
def test_a_week_counts_what_its_seven_days_count_each_due_time_once(
    history: tuple[Risk, datetime, list[Event]],
) -> None:
    risk, reported, events = history
    initial = DisputeState.reported(path=shipped.PATH, risk=risk, at=reported)
    dispute = Case(1, "D", "neighbour", initial, events)
    year, week, _ = (reported + timedelta(days=7)).isocalendar()
    period = filing_period(week=f"{year}-W{week:02d}", zone=ZONE)
    policy, now = shipped.POLICY, shipped.LATER

    def items(start: datetime, end: datetime) -> list[Item]:
        return filing_items(dispute, policy=policy, start=start, end=end, now=now)

    days = [period.start + timedelta(days=n) for n in range(8)]
    by_day = [
        item for first, after in zip(days, days[1:], strict=False) for item in items(first, after)
    ]
    whole = items(period.start, period.end)
    assert sorted(by_day, key=lambda i: (i.due_at, i.obligation)) == whole
    assert len({(i.obligation, i.due_at) for i in whole}) == len(whole)
    for item in whole:
        assert period.start < item.due_at <= period.end
        if item.state == "on_time":
            assert item.done_at is not None and item.done_at <= item.due_at
        elif item.state == "late":
            assert item.done_at is not None and item.late_minutes is not None
            assert item.late_minutes == -(-(item.done_at - item.due_at) // timedelta(minutes=1))
        else:
            assert item.done_at is None and (item.late_minutes or 0) >= 0


# --- naming the period ---------------------------------------------------------------------


def test_a_day_and_a_week_run_from_local_midnight_to_local_midnight() -> None:
    day = filing_period(day="2026-03-02", zone=ZONE)
    assert (day.start, day.end, day.label) == (at(2), at(3), "2026-03-02")
    assert (WEEK_10.start, WEEK_10.end, WEEK_10.label) == (at(2), at(9), "2026-W10")


@pytest.mark.parametrize(
    ("day", "week", "message"),
    [
        ("2026-3-2", None, r"day '2026-3-2': write it as a date, such as 2026-03-02"),
        ("2026-02-30", None, r"day '2026-02-30': there is no such date"),
        ("yesterday", None, r"day 'yesterday': write it as a date"),
        (None, "2026-10", r"week '2026-10': write it as an ISO week, such as 2026-W10"),
        (None, "2026-W54", r"week '2026-W54': 2026 has no week 54"),
        ("2026-03-02", "2026-W10", r"name one period: a day \(such as 2026-03-02\) or a week"),
        (None, None, r"name one period"),
    ],
)
def test_a_day_or_week_badly_written_is_refused_with_what_is_wrong(
    day: str | None, week: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        filing_period(day=day, week=week, zone=ZONE)
    assert "\n" not in str(refused.value)
