"""The read models' shaping, without a database: the JSON of `dispute show` and `rules
explain`, times in the zone asked for, overdue as of the moment asked about."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from models.lifecycle import DisputeState
from models.tables import Dispute, DisputeEvent, Obligation, Task
from models.values import Risk
from rules.evaluate import evaluate
from tests.support.histories import PATH, POLICY, at, end
from workflows.views import shape_dispute, shape_explanation

SHANGHAI = ZoneInfo("Asia/Shanghai")
REPORTED = at(2026, 11, 2, 10)


def test_the_explanation_names_each_obligation_its_rule_and_the_next_escalation() -> None:
    initial = DisputeState.reported(path=PATH, risk=Risk.high, at=REPORTED)
    now = at(2026, 11, 3, 12)
    explained = shape_explanation(
        5, evaluate(initial, [], policy=POLICY, now=now), policy=POLICY, now=now, zone=SHANGHAI
    )
    daily = explained["obligations"][0]
    assert daily == {
        "kind": "daily_check",
        "label": "daily check",
        "due_at": "2026-11-04T00:00:00+08:00",
        "overdue": False,
        "rule": "obligations.daily_check",
        "fulfilled_by": "check",
    }
    assert explained["due_unrecorded"] == []
    assert explained["next"]["rule"] == "village-high-missed-check"
    assert explained["next"]["effective_at"] == "2026-11-04T00:00:00+08:00"
    assert (explained["id"], explained["rules_version"], explained["level"]) == (
        5,
        POLICY.label,
        "village",
    )


def test_a_threshold_crossed_but_not_recorded_is_shown_as_due_unrecorded() -> None:
    initial = DisputeState.reported(path=PATH, risk=Risk.high, at=REPORTED)
    now = at(2026, 11, 4, 12)
    explained = shape_explanation(
        5, evaluate(initial, [], policy=POLICY, now=now), policy=POLICY, now=now, zone=SHANGHAI
    )
    assert [(d["kind"], d["to_level"], d["effective_at"]) for d in explained["due_unrecorded"]] == [
        ("escalate", "township", "2026-11-04T00:00:00+08:00")
    ]


def test_a_dispute_shows_its_times_in_the_zone_asked_and_what_is_overdue_now() -> None:
    dispute = Dispute(
        id=3,
        category="邻里纠纷",
        title="宅基地边界",
        risk="high",
        status="reported",
        level="village",
        unit_code="33010101",
        reported_unit="3301010101",
        village_code="33010101",
        township_code="330101",
        county_code="330100",
        reported_at=REPORTED,
        level_since=REPORTED,
        rules_version=POLICY.version,
    )
    due = end(2026, 11, 3)
    obligation = Obligation(
        dispute_id=3, kind="daily_check", due_at=due, rule="r", rules_version="v"
    )
    tasks = [
        Task(
            id=1,
            dispute_id=3,
            kind="daily_check",
            target="unit:3301010101",
            due_at=due,
            state="open",
            created_at=REPORTED,
            rules_version="v",
        ),
        Task(
            id=2,
            dispute_id=3,
            kind="weekly_assessment",
            target="unit:3301010101",
            due_at=due,
            state="done",
            created_at=REPORTED,
            rules_version="v",
        ),
    ]
    event = DisputeEvent(
        dispute_id=3,
        seq=1,
        kind="report",
        at=REPORTED,
        recorded_at=REPORTED,
        actor="wang",
        data={"risk": "high"},
        rules_version="v",
    )
    view = shape_dispute(
        dispute, [obligation], [], tasks, [event], now=due + timedelta(hours=1), zone=SHANGHAI
    )
    assert (view["reported_unit"], view["reported_at"]) == (
        "3301010101",
        "2026-11-02T10:00:00+08:00",
    )
    assert view["obligations"][0]["overdue"] is True
    assert [t["overdue"] for t in view["tasks"]] == [True, False]  # a done task is never late
    assert view["events"] == [
        {
            "seq": 1,
            "kind": "report",
            "at": "2026-11-02T10:00:00+08:00",
            "by": "wang",
            "recorded_at": "2026-11-02T10:00:00+08:00",
            "data": {"risk": "high"},
            "rules_version": "v",
        }
    ]
    utc = shape_dispute(dispute, [], [], [], [], now=REPORTED, zone=ZoneInfo("UTC"))
    assert utc["reported_at"] == "2026-11-02T02:00:00+00:00"


def test_the_ladder_walks_up_and_down_with_what_moved_the_dispute_each_time() -> None:
    from workflows.views import ladder

    up, manual, back = at(2026, 11, 4), at(2026, 11, 6), at(2026, 11, 8)
    steps = ladder(
        REPORTED,
        PATH,
        [
            ("escalate", up, "village-high-missed-check"),
            ("escalate", manual, None),
            ("handback", back, None),
        ],
    )
    assert [(s["level"], s["unit"], s["moved_by"]) for s in steps] == [
        ("village", PATH.village, "reported"),
        ("township", PATH.township, "village-high-missed-check"),
        ("county", PATH.county, "manual"),
        ("township", PATH.township, "handback"),
    ]
    assert [(s["since"], s["until"]) for s in steps] == [
        (REPORTED, up),
        (up, manual),
        (manual, back),
        (back, None),
    ]


def test_a_ladder_ignores_a_move_past_either_end() -> None:
    from workflows.views import ladder

    steps = ladder(REPORTED, PATH, [("handback", at(2026, 11, 4), None)])
    assert [(s["level"], s["until"]) for s in steps] == [("village", None)]
