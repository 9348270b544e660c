"""The figures of a report, on a scenario computed by hand (pure: no database).

The org: county 330100 with townships 330101 (villages V1 33010101, V2 33010102), 330102
(village V3 33010201) and 330103 (village V5 33010301, where nothing happens). The rules
(below) are small so that every figure can be worked out on paper; dates are local, and
"3d" is the end of the third day after a moment's date.

The disputes, and what the rules make of them:
- D1 V1 low, reported Tue 12 May, resolved 14 May (people's mediation); its return visit
  falls due at the end of 24 May and is never made.
- D2 V1 low, reported 4 May, resolved 6 May (administrative), visited 13 May: relapsed,
  so mediating again at medium risk; its weekly assessment, owed again from the relapse,
  falls due at the end of 20 May.
- D3 V2 high, reported Mon 11 May, nothing recorded after: the rules escalate it to the
  township at the end of 14 May and to the county at the end of 21 May (a clock started
  at midnight counts from the day that ended), and list it for supervision at the end of
  26 May, with a deadline at the end of 29 May, which passes. No sweep recorded any of
  it: the report counts them all the same.
- D4 V1 high, reported 5 May; the sweep recorded its escalations (to the township at the
  end of 8 May, to the county at the end of 16 May); listed at the end of 21 May with a
  deadline at the end of 24 May, which passes.
- D5 V2 medium, reported 1 May 08:00, assessed 8 May: its next assessment falls due at the
  end of 15 May and is never made.
- D6 V1 low, reported 19 May (after week 20).
- D7 V3 (township 330102) low, reported 12 May, resolved 20 May (judicial); its return
  visit falls due at the end of 30 May.
- D8 V1 low, reported 12 May, withdrawn 13 May.
- D9 V2 low, reported 12 May, referred to a court 13 May.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from models.lifecycle import DisputeState, Event
from models.values import EventKind, Risk, UnitPath
from rules.evaluate import evaluate, load_fold
from rules.loader import parse_ruleset
from rules.policy import Policy
from rules.reporting import (
    Case,
    OrgUnit,
    Period,
    build_report,
    part_of,
    period_before,
    period_named,
    tree_as_of,
)

K = EventKind
ZONE = ZoneInfo("Asia/Shanghai")
RULES = """
timezone: Asia/Shanghai
calendar: {base: weekends}
obligations:
  weekly_assessment:
    label: 周研判
    applies_to: {status: open}
    fulfilled_by: assess
    after: [report, assess]
    due: 7d
  return_visit:
    label: 回访
    applies_to: {status: resolved}
    fulfilled_by: visit
    after: [resolve]
    due: 10d
escalations:
  - {id: v-high, from: village, to: township, risk: high, when: unresolved, after: 3d}
  - {id: t-high, from: township, to: county, risk: high, when: unresolved, after: 7d}
supervision:
  - {id: c-high, level: county, risk: high, after: 5d, deadline: 3d}
categories:
  neighbour: {label: 邻里}
  labour: {label: 劳动争议}
  contract: {label: 合同}
reports:
  weekly: {label: 周研判报告, level: township, period: week, sections: [assessment]}
  monthly:
    label: 月督查通报
    level: county
    period: month
    sections: [ranking, named_units, missed_listings]
  weekly_handled:
    label: 周研判报告
    level: township
    period: week
    resolution_rate: handled
  weekly_cohort: {label: 周研判报告, level: township, period: week, resolution_rate: cohort}
schedule:
  weekly: {at: "09:00", days: [mon]}
  monthly: {at: "09:00", days: first_working_day}
  weekly_handled: {at: "09:00", days: [mon]}
  weekly_cohort: {at: "09:00", days: [mon]}
"""
POLICY = Policy.from_ruleset(parse_ruleset(RULES, name="scenario"), source="scenario")

V1 = UnitPath("33010101", "330101", "330100")
V2 = UnitPath("33010102", "330101", "330100")
V3 = UnitPath("33010201", "330102", "330100")
NAMES = {
    "330100": "某县",
    "330101": "东镇",
    "330102": "西镇",
    "330103": "南镇",
    "33010101": "东一村",
    "33010102": "东二村",
    "33010201": "西一村",
    "33010301": "南一村",
}
UNITS = [
    ("330100", "某县", "county", None, None),
    ("330101", "东镇", "township", "330100", None),
    ("330102", "西镇", "township", "330100", None),
    ("330103", "南镇", "township", "330100", None),
    ("33010101", "东一村", "village", "330101", None),
    ("33010102", "东二村", "village", "330101", None),
    ("33010201", "西一村", "village", "330102", None),
    ("33010301", "南一村", "village", "330103", None),
]
WEEK_20 = period_named("week", "2026-W20", ZONE)  # Monday 11 May to Sunday 17 May 2026
MAY = period_named("month", "2026-05", ZONE)


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=ZONE)


def end(month: int, day: int) -> datetime:
    return at(month, day) + timedelta(days=1)


def ev(kind: EventKind, moment: datetime, **data: Any) -> Event:
    return Event(kind=kind, at=moment, data=MappingProxyType(data))


def case(
    number: int,
    path: UnitPath,
    risk: Risk,
    reported: datetime,
    events: Sequence[Event] = (),
    category: str = "neighbour",
) -> Case:
    numbered = [
        Event(kind=e.kind, at=e.at, data=e.data, seq=seq) for seq, e in enumerate(events, start=2)
    ]
    initial = DisputeState.reported(path=path, risk=risk, at=reported)
    return Case(number, f"D{number}", category, initial, numbered)


def scenario(*, recorded: bool = False, later: bool = False) -> list[Case]:
    """The disputes; ``recorded``: a sweep recorded D3's escalations as they fell due;
    ``later``: what was recorded after the month, which no report of it may see."""
    d3: list[Event] = []
    if recorded:
        d3 = [
            ev(K.escalate, end(5, 14), rule="v-high"),
            ev(K.escalate, end(5, 21), rule="t-high"),
            ev(
                K.supervise,
                end(5, 26),
                rule="c-high",
                deadline=end(5, 29).isoformat(),
                unit="330100",
            ),
        ]
    cases = [
        case(1, V1, Risk.low, at(5, 12, 10), [ev(K.resolve, at(5, 14, 12), method="people")]),
        case(
            2,
            V1,
            Risk.low,
            at(5, 4, 9),
            [
                ev(K.resolve, at(5, 6, 10), method="administrative"),
                ev(K.visit, at(5, 13, 10), outcome="relapsed"),
            ],
        ),
        case(3, V2, Risk.high, at(5, 11, 10), d3, category="labour"),
        case(
            4,
            V1,
            Risk.high,
            at(5, 5, 10),
            [ev(K.escalate, end(5, 8), rule="v-high"), ev(K.escalate, end(5, 16), rule="t-high")],
        ),
        case(
            5,
            V2,
            Risk.medium,
            at(5, 1, 8),
            [ev(K.assess, at(5, 8, 9), risk="medium")],
            category="labour",
        ),
        case(6, V1, Risk.low, at(5, 19, 10)),
        case(7, V3, Risk.low, at(5, 12, 10), [ev(K.resolve, at(5, 20, 10), method="judicial")]),
        case(8, V1, Risk.low, at(5, 12, 11), [ev(K.withdraw, at(5, 13, 9))]),
        case(9, V2, Risk.low, at(5, 12, 12), [ev(K.refer, at(5, 13, 9), to="court")], "contract"),
    ]
    if later:  # recorded in June: D5 resolved, D3 assessed, D2 visited again, a new dispute
        cases[4] = case(
            5,
            V2,
            Risk.medium,
            at(5, 1, 8),
            [ev(K.assess, at(5, 8, 9), risk="medium"), ev(K.resolve, at(6, 2, 9), method="people")],
            "labour",
        )
        cases.append(case(10, V1, Risk.high, at(6, 3, 9)))
    return cases


def report(name: str, unit: str, period: Period, cases: Sequence[Case]) -> dict[str, Any]:
    tree = tree_as_of(UNITS, [], period.end)
    head = tree[unit]
    children = sorted(
        (u for u in tree.values() if u.parent == unit and u.level != "grid"),
        key=lambda u: u.code,
    )
    parts = [p for p in (part_of(c, period, policy=POLICY) for c in cases) if p is not None]
    return build_report(
        name,
        POLICY.rules.reports[name],
        unit=head,
        children=children,
        names=NAMES,
        period=period,
        parts=parts,
        categories={"neighbour": "邻里", "labour": "劳动争议", "contract": "合同"},
        grades={},
    )


def rows(content: dict[str, Any], *figures: str) -> dict[str, tuple[Any, ...]]:
    return {r["unit"]: tuple(r[f] for f in figures) for r in content["units"]}


# --- the township's weekly report, week 20 ----------------------------------------------


def test_the_weekly_report_counts_the_disputes_screened_and_resolved_in_the_week() -> None:
    weekly = report("weekly", "330101", WEEK_20, scenario())
    # screened: D1, D8 in V1; D3, D9 in V2. resolved: D1 in V1.
    assert rows(weekly, "screened", "resolved", "resolution_rate") == {
        "33010101": (2, 1, 0.5),
        "33010102": (2, 0, 0.0),
        "330101": (0, 0, None),
    }
    totals = weekly["totals"]
    assert (totals["screened"], totals["resolved"], totals["resolution_rate"]) == (4, 1, 0.25)
    assert totals["methods"] == {"people": 1, "administrative": 0, "judicial": 0}


def test_the_weekly_report_counts_open_and_overdue_disputes_where_they_are_at_its_end() -> None:
    weekly = report("weekly", "330101", WEEK_20, scenario())
    # D2 relapsed in V1; D5 in V2, its assessment overdue; D3 escalated to the township by the
    # rules on 15 May though no sweep recorded it; D4 went up to the county: not here.
    assert rows(weekly, "open", "overdue") == {
        "33010101": (1, 0),
        "33010102": (1, 1),
        "330101": (1, 0),
    }
    assert (weekly["totals"]["open"], weekly["totals"]["overdue"]) == (3, 1)


def test_an_escalation_out_of_the_township_counts_in_its_total_and_one_within_only_in_a_row() -> (
    None
):
    weekly = report("weekly", "330101", WEEK_20, scenario())
    # D3 left V2 for the township (within it); D4 left the township for the county.
    assert rows(weekly, "escalated") == {"33010101": (0,), "33010102": (1,), "330101": (1,)}
    assert weekly["totals"]["escalated"] == 1


def test_a_relapse_counts_as_a_visit_and_a_relapse_and_raises_the_risk_in_the_assessment() -> None:
    weekly = report("weekly", "330101", WEEK_20, scenario())
    assert rows(weekly, "visits_done", "relapses", "visits_overdue")["33010101"] == (1, 1, 0)
    assessment = weekly["assessment"]
    assert [(c["dispute"], c["from"], c["to"]) for c in assessment["raised"]] == [
        (2, "low", "medium")
    ]
    assert assessment["lowered"] == []
    assert [(h["dispute"], h["unit"], h["overdue"]) for h in assessment["high_risk"]] == [
        (3, "330101", False)
    ]


def test_a_referral_counts_where_it_was_referred_from_and_by_where_it_went() -> None:
    weekly = report("weekly", "330101", WEEK_20, scenario())
    assert rows(weekly, "referred")["33010102"] == (1,)
    assert weekly["referrals"] == {"court": 1}


def test_the_weekly_report_traces_every_figure_to_its_disputes() -> None:
    weekly = report("weekly", "330101", WEEK_20, scenario())
    traced = {d["id"]: d["figures"] for d in weekly["disputes"]}
    assert traced == {
        1: {"screened": "33010101", "resolved": "33010101"},
        2: {"open": "33010101", "visits_done": "33010101", "relapses": "33010101"},
        3: {"screened": "33010102", "open": "330101", "escalated": "33010102"},
        4: {"escalated": "330101"},
        5: {"open": "33010102", "overdue": "33010102"},
        8: {"screened": "33010101"},
        9: {"screened": "33010102", "referred": "33010102"},
    }
    for figure in ("screened", "resolved", "open", "overdue"):
        behind = sum(figure in figures for figures in traced.values())
        assert behind == weekly["totals"][figure]


def test_the_weekly_report_breaks_the_figures_down_by_category_and_risk() -> None:
    weekly = report("weekly", "330101", WEEK_20, scenario())
    by_category = {c["category"]: c for c in weekly["categories"]}
    assert {
        k: (v["screened"], v["resolved"], v["open"], v["overdue"]) for k, v in by_category.items()
    } == {
        "contract": (1, 0, 0, 0),
        "labour": (1, 0, 2, 1),
        "neighbour": (2, 1, 1, 0),
    }
    assert [
        (r["risk"], r["screened"], r["resolved"], r["open"], r["overdue"]) for r in weekly["risks"]
    ] == [
        ("high", 1, 0, 1, 0),
        ("medium", 0, 0, 2, 1),
        ("low", 3, 1, 0, 0),
    ]


def test_a_report_made_after_a_late_sweep_or_made_again_later_says_the_same() -> None:
    on_time = report("weekly", "330101", WEEK_20, scenario())
    swept = report("weekly", "330101", WEEK_20, scenario(recorded=True))
    later = report("weekly", "330101", WEEK_20, scenario(recorded=True, later=True))
    assert swept == on_time
    assert later == on_time


def test_a_township_with_nothing_to_report_gets_a_zero_report_with_its_villages() -> None:
    zero = report("weekly", "330103", WEEK_20, scenario())
    assert [r["unit"] for r in zero["units"]] == ["33010301", "330103"]
    assert all(r["screened"] == r["open"] == r["escalated"] == 0 for r in zero["units"])
    assert zero["totals"]["screened"] == 0
    assert zero["totals"]["resolution_rate"] is None
    assert zero["disputes"] == []


def test_the_resolution_rate_may_be_counted_over_the_disputes_handled_or_the_weeks_cohort() -> None:
    # handled: 1 resolved of 2 open at the start (D4 at the township, D5) and 4 screened.
    handled = report("weekly_handled", "330101", WEEK_20, scenario())
    assert handled["totals"]["resolution_rate"] == round(1 / 6, 4)
    assert handled["resolution_rate"]["definition"] == "handled"
    # cohort: of the 4 screened in the week, D1 was resolved by its end.
    cohort = report("weekly_cohort", "330101", WEEK_20, scenario())
    assert cohort["totals"]["resolution_rate"] == 0.25


def folded(cases: Sequence[Case]) -> list[Case]:
    """The cases with the fold the engine keeps after each one's last event, recorded then."""
    found = []
    for c in cases:
        last = c.events[-1] if c.events else None
        seq = last.seq if last else 1
        moment = last.at if last else c.initial.reported_at
        text = evaluate(c.initial, c.events, policy=POLICY, now=moment).folded(seq=seq)
        fold = load_fold(text, seq=seq, path=c.initial.path, assignee=None, policy=POLICY)
        assert fold is not None
        found.append(replace(c, fold=fold))
    return found


@pytest.mark.parametrize(
    "name, unit, period", [("weekly", "330101", WEEK_20), ("monthly", "330100", MAY)]
)
def test_a_report_gone_on_from_the_stored_folds_says_what_the_histories_replayed_say(
    name: str, unit: str, period: Period
) -> None:
    for cases in (scenario(), scenario(recorded=True, later=True)):
        assert report(name, unit, period, folded(cases)) == report(name, unit, period, cases)


# --- the county's monthly circular, May -------------------------------------------------


def test_the_monthly_circular_lists_its_townships_and_never_a_village() -> None:
    monthly = report("monthly", "330100", MAY, scenario())
    assert [r["unit"] for r in monthly["units"]] == ["330101", "330102", "330103", "330100"]
    assert rows(monthly, "screened", "resolved", "resolution_rate") == {
        "330101": (8, 2, 0.25),
        "330102": (1, 1, 1.0),
        "330103": (0, 0, None),
        "330100": (0, 0, None),
    }
    assert monthly["totals"]["resolution_rate"] == round(3 / 9, 4)
    assert monthly["totals"]["methods"] == {"people": 1, "administrative": 1, "judicial": 1}


def test_the_monthly_circular_counts_open_overdue_and_supervised_disputes_at_the_months_end() -> (
    None
):
    monthly = report("monthly", "330100", MAY, scenario())
    # D2, D5, D6 overdue in the township; D3 and D4 at the county, their assessments overdue.
    assert rows(monthly, "open", "overdue", "supervised", "supervised_missed") == {
        "330101": (3, 3, 0, 0),
        "330102": (0, 0, 0, 0),
        "330103": (0, 0, 0, 0),
        "330100": (2, 2, 2, 2),
    }
    # D1's and D7's return visits are overdue; D3 and D4 left the township for the county.
    assert rows(monthly, "visits_overdue", "escalated")["330101"] == (1, 2)
    assert rows(monthly, "visits_overdue", "escalated")["330102"] == (1, 0)
    assert monthly["totals"]["escalated"] == 0  # nothing leaves a county


def test_the_monthly_circular_ranks_the_townships_and_names_those_behind() -> None:
    monthly = report("monthly", "330100", MAY, scenario())
    by_rate = [(r["rank"], r["unit"]) for r in monthly["ranking"]["by_rate"]]
    assert by_rate == [(1, "330102"), (2, "330101"), (None, "330103")]
    by_overdue = [(r["rank"], r["unit"], r["overdue"]) for r in monthly["ranking"]["by_overdue"]]
    assert by_overdue == [(1, "330101", 3), (2, "330102", 0), (2, "330103", 0)]
    assert monthly["named"] == [{"unit": "330101", "name": "东镇", "overdue": 3, "escalated": 2}]


def test_the_monthly_circular_lists_the_listings_whose_deadline_passed() -> None:
    monthly = report("monthly", "330100", MAY, scenario())
    assert [(m["dispute"], m["unit"], m["deadline"]) for m in monthly["listings"]] == [
        (3, "330100", end(5, 29).isoformat()),
        (4, "330100", end(5, 24).isoformat()),
    ]


def test_the_monthly_circular_made_again_later_says_the_same() -> None:
    on_time = report("monthly", "330100", MAY, scenario())
    assert report("monthly", "330100", MAY, scenario(recorded=True, later=True)) == on_time


# --- periods and the org as it stood ----------------------------------------------------


def test_a_report_made_on_monday_covers_the_week_before_and_one_made_on_the_first_the_month_before() -> (
    None
):
    assert period_before("week", at(5, 18, 9), ZONE) == WEEK_20
    assert period_before("week", at(5, 24, 23), ZONE) == WEEK_20
    assert period_before("month", at(6, 1, 9), ZONE) == MAY
    assert WEEK_20.as_dict()["first_day"] == "2026-05-11"
    assert WEEK_20.as_dict()["last_day"] == "2026-05-17"


@pytest.mark.parametrize(
    ("period", "text", "message"),
    [
        ("week", "2026-10", "write it as an ISO week, such as 2026-W10"),
        ("week", "2026-W54", "2026 has no week 54"),
        ("month", "2026-13", "write it as a year and month, such as 2026-03"),
        ("month", "March", "write it as a year and month, such as 2026-03"),
    ],
)
def test_a_period_badly_named_is_refused_with_how_to_write_it(
    period: str, text: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        period_named(period, text, ZONE)


def test_the_org_as_it_stood_undoes_the_moves_and_endings_made_since() -> None:
    now = [
        ("330101", "东镇", "township", "330100", None),
        ("33010101", "东一村", "village", "330102", None),  # moved on 1 June
        ("33010102", "东二村", "village", "330101", end(6, 2)),  # merged on 2 June
    ]
    changes = [
        (at(6, 1, 10), "unit_moved", "33010101", {"parent": "330101"}),
        (end(6, 2), "unit_merged", "33010102", {"parent": "330101"}),
    ]
    in_may = tree_as_of(now, changes, MAY.end)
    assert in_may["33010101"] == OrgUnit("33010101", "东一村", "village", "330101")
    assert "33010102" in in_may
    assert "33010102" not in tree_as_of(now, changes, at(6, 5))
    assert tree_as_of(now, changes, at(6, 5))["33010101"].parent == "330102"


def test_an_event_recorded_late_counts_where_it_happened() -> None:
    in_order = scenario()
    # D1's report, then its resolution entered first and an earlier mediation entered after
    late = [
        *in_order[0].events,
        Event(kind=K.mediate, at=at(5, 13, 9), data=MappingProxyType({}), seq=3),
    ]
    weekly = report("weekly", "330101", WEEK_20, [replace(in_order[0], events=late), *in_order[1:]])
    assert rows(weekly, "screened", "resolved")["33010101"] == (2, 1)
    timely = [late[1], replace(late[0], seq=4)]  # the same, entered in order
    same = report("weekly", "330101", WEEK_20, [replace(in_order[0], events=timely), *in_order[1:]])
    assert same == weekly
