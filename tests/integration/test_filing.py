"""The filing board (填报完整性) through the real database, on SQLite and PostgreSQL: the
disputes recorded through the services, the shipped rules (the official calendar; no
holiday in November 2026), and who may read it.

The org: the example county with a second township (``TWO_TOWNSHIPS``): township 330101
(东溪镇) with villages 33010101 (上林村) and 33010102 (下林村); township 330102 with
village 33010201. Dates are local, in week 2026-W45 (Monday 2 to Sunday 8 November); the
board is read on Monday 9 November, 10:00.

- M, medium, reported at a grid of 上林村 on Mon 09:00; checked Tue 10:00 and Thu 08:00.
  Daily checks due at the end of Tue (on time), of Wed (met Thu 08:00: 480 minutes late)
  and of Fri (1wd after Thu; never met: missed, late by Mon 9 10:00 − Sat 7 00:00 = 3,480
  minutes). The medium risk's escalation waits 2 working days after a missed check: none.
- H, high, reported at 下林村 on Mon 09:00; its check due at the end of Tue is not made:
  a sweep on Wed 09:00 records its escalation to the township at that due time, which
  restarts its clocks. 下林村 missed Tuesday's check (0 minutes late: moved on at its due
  time). Checked Wed 10:00: the township's check due at the end of Wed, on time. The next,
  due at the end of Thu, is never made: the rules take H up to the county a day later (at
  the end of Fri; no sweep recorded it), so the township missed it, 1,440 minutes late.
  The county's first check is due at the end of Mon 9.

Week 2026-W45, township 330101: 上林村 owes 3 (1 on time, 1 late, 1 missed), 下林村 1
(missed), 东溪镇 itself 2 (1 on time, 1 missed).

Week 2026-W46 (9 to 15 November), read on Monday 16 November, 10:00, nothing recorded
since: M's assessment fell due at the end of Mon 9, unmade, and M went up to the township
at the end of Tue 10 (a medium risk's check 2 working days overdue): 上林村 missed it, 1,440
minutes late; the township's check due at the end of Wed 11 is never made (late by 4d10h
= 6,360 minutes). H at the county owes its check by the end of Mon 9 and its assessment by
the end of Fri 13 (7 days from its escalation there): the county's, not the township's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from structlog.testing import capture_logs

from models.values import OPERATOR, Actor
from rules.filing import filing_period
from rules.policy import Policy
from tests.support.db import TWO_TOWNSHIPS, load_county
from tests.support.recording import MONDAY, SHANGHAI, record, report, sweep
from workflows.access import Forbidden
from workflows.errors import BadInput, NotFound
from workflows.reports.filing import filing_board

WEEK_45 = filing_period(week="2026-W45", zone=SHANGHAI)
NOW = datetime(2026, 11, 9, 10, 0, tzinfo=SHANGHAI)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def county(org_engine: Engine, policy: Policy) -> Engine:
    """The county with two townships, and the disputes M and H."""
    load_county(org_engine, TWO_TOWNSHIPS)
    medium = report(org_engine, policy, risk="medium", unit="3301010101", at=MONDAY, title="M")
    high = report(org_engine, policy, risk="high", unit="3301010201", at=MONDAY, title="H")
    record(org_engine, policy, medium, "check", at(3, 10))
    sweep(org_engine, policy, at(4, 9))
    record(org_engine, policy, high, "check", at(4, 10))
    record(org_engine, policy, medium, "check", at(5, 8))
    return org_engine


def read(
    engine: Engine, policy: Policy, unit: str = "330101", actor: Actor = OPERATOR
) -> dict[str, Any]:
    return filing_board(
        engine=engine,
        policy=policy,
        unit=unit,
        start=WEEK_45.start,
        end=WEEK_45.end,
        label=WEEK_45.label,
        now=NOW,
        actor=actor,
    )


def counts(content: dict[str, Any]) -> dict[str, tuple[int, int, int, int]]:
    return {r["unit"]: (r["owed"], r["on_time"], r["late"], r["missed"]) for r in content["units"]}


def test_the_township_board_counts_each_village_s_checks_and_its_own(
    county: Engine, policy: Policy
) -> None:
    with capture_logs() as logs:
        content = read(county, policy, actor=Actor("li", via="web"))
    assert counts(content) == {
        "33010101": (3, 1, 1, 1),
        "33010102": (1, 0, 0, 1),
        "330101": (2, 1, 0, 1),
    }
    assert [(r["name"], r["latest_minutes"]) for r in content["units"]] == [
        ("上林村", 3480),
        ("下林村", 0),
        ("东溪镇", 1440),
    ]
    assert content["totals"] == {
        "owed": 6,
        "on_time": 2,
        "late": 1,
        "missed": 3,
        "complete_units": 0,
        "owing_units": 3,
        "units": 3,
    }
    assert [
        (i["title"], i["unit"], i["due"], i["state"], i["late_minutes"]) for i in content["items"]
    ] == [
        ("M", "33010101", "2026-11-07T00:00:00+08:00", "missed", 3480),
        ("H", "330101", "2026-11-06T00:00:00+08:00", "missed", 1440),
        ("M", "33010101", "2026-11-05T00:00:00+08:00", "late", 480),
        ("H", "33010102", "2026-11-04T00:00:00+08:00", "missed", 0),
    ]
    assert [i["open"] for i in content["items"]] == [True, False, False, False]
    assert content["period"]["label"] == "2026-W45"
    assert content["period"]["start"] == "2026-11-02T00:00:00+08:00"
    assert [o["name"] for o in content["obligations"]] == ["daily_check", "weekly_assessment"]
    [logged] = [entry for entry in logs if entry["event"] == "filing_board"]
    assert (logged["unit"], logged["period"], logged["owed"], logged["missed"]) == (
        "330101",
        "2026-W45",
        6,
        3,
    )
    assert "li" not in logged.values()


def test_the_county_board_has_every_village_and_each_township_s_own_row(
    county: Engine, policy: Policy
) -> None:
    content = read(county, policy, unit="330100", actor=Actor("chen", via="web"))
    assert counts(content) == {
        "33010101": (3, 1, 1, 1),
        "33010102": (1, 0, 0, 1),
        "33010201": (0, 0, 0, 0),
        "330101": (2, 1, 0, 1),
        "330102": (0, 0, 0, 0),
        "330100": (0, 0, 0, 0),
    }


def test_a_later_week_counts_the_due_times_the_rules_set_after_escalating_where_they_fell(
    county: Engine, policy: Policy
) -> None:
    week = filing_period(week="2026-W46", zone=SHANGHAI)
    later = datetime(2026, 11, 16, 10, 0, tzinfo=SHANGHAI)
    township, whole = (
        filing_board(
            engine=county,
            policy=policy,
            unit=unit,
            start=week.start,
            end=week.end,
            label=week.label,
            now=later,
            actor=OPERATOR,
        )
        for unit in ("330101", "330100")
    )
    assert counts(township) == {
        "33010101": (1, 0, 0, 1),
        "33010102": (0, 0, 0, 0),
        "330101": (1, 0, 0, 1),
    }
    assert [
        (i["title"], i["obligation"], i["unit"], i["due"], i["late_minutes"], i["open"])
        for i in township["items"]
    ] == [
        ("M", "daily_check", "330101", "2026-11-12T00:00:00+08:00", 6360, True),
        ("M", "weekly_assessment", "33010101", "2026-11-10T00:00:00+08:00", 1440, False),
    ]
    assert counts(whole)["330100"] == (2, 0, 0, 2)
    assert [(i["title"], i["unit_name"]) for i in whole["items"]][:2] == [
        ("H", "枫桥县"),
        ("M", "东溪镇"),
    ]


def test_a_supervisor_of_another_township_finds_no_such_unit(
    county: Engine, policy: Policy
) -> None:
    with pytest.raises(NotFound, match="unknown unit '330101'"):
        read(county, policy, actor=Actor("zhou", via="web"))


def test_a_mediator_may_not_read_the_board(county: Engine, policy: Policy) -> None:
    with pytest.raises(Forbidden, match="a mediator of a village may not reports"):
        read(county, policy, unit="330101", actor=Actor("wang", via="web"))


def test_a_village_s_board_is_refused_with_a_one_line_reason(
    county: Engine, policy: Policy
) -> None:
    with pytest.raises(BadInput, match="unit '33010101' is a village: ") as refused:
        read(county, policy, unit="33010101")
    assert "\n" not in str(refused.value)
