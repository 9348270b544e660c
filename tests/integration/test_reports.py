"""Reports made from the real database (SQLite and PostgreSQL): the same figures whenever
they are made, the org as it stood, scope, storing once with a message to the supervisors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import OutboxMessage, Report
from models.values import Actor
from rules.policy import Policy
from rules.reporting import period_named
from tests.support.recording import SHANGHAI, record, report, sweep
from workflows.access import Forbidden
from workflows.db import reading
from workflows.errors import BadInput, NotFound
from workflows.reorganising import load_org
from workflows.reports import list_reports, make_report, read_report, store_reports

OPERATOR = Actor()
WEEK_45 = period_named("week", "2026-W45", SHANGHAI)  # Monday 2 to Sunday 8 November 2026
AFTER = datetime(2026, 11, 9, 10, tzinfo=SHANGHAI)


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=SHANGHAI)


def made(engine: Engine, policy: Policy, unit: str = "330101", now: datetime = AFTER) -> dict:
    with reading(engine) as session:
        return make_report(
            session, policy=policy, name="weekly", unit=unit, period=WEEK_45, now=now
        )


def week_45(engine: Engine, policy: Policy) -> dict[str, int]:
    """A high-risk dispute never checked (the rules escalate it), one resolved, one in the
    other village referred to a court: their ids."""
    neglected = report(engine, policy, risk="high", at=at(2), category="邻里")
    settled = report(engine, policy, risk="low", at=at(3), unit="33010101", category="劳资纠纷")
    record(engine, policy, settled, "resolve", at(5), {"method": "people", "agreement": "oral"})
    sent = report(engine, policy, risk="medium", at=at(4), unit="33010102", category="合同")
    record(engine, policy, sent, "refer", at(6), {"to": "court", "body": "某区人民法院"})
    return {"neglected": neglected, "settled": settled, "sent": sent}


def test_the_weekly_report_from_the_database_counts_each_village_and_the_township(
    org_engine: Engine, policy: Policy
) -> None:
    ids = week_45(org_engine, policy)
    content = made(org_engine, policy)
    figures = {
        u["unit"]: (u["screened"], u["resolved"], u["open"], u["escalated"], u["referred"])
        for u in content["units"]
    }
    # The neglected dispute missed its check on Tuesday: at the township from Wednesday, its
    # check overdue there a day more, at the county from Friday.
    assert figures == {
        "33010101": (2, 1, 0, 1, 0),
        "33010102": (1, 0, 0, 0, 1),
        "330101": (0, 0, 0, 1, 0),
    }
    assert content["totals"]["escalated"] == 1
    assert content["totals"]["resolution_rate"] == round(1 / 3, 4)
    traced = {d["id"]: d["figures"] for d in content["disputes"]}
    assert traced[ids["neglected"]] == {"screened": "33010101", "escalated": "33010101"}
    assert traced[ids["sent"]] == {"screened": "33010102", "referred": "33010102"}
    assert {c["category"] for c in content["categories"]} == {"neighbour", "labour", "contract"}


def test_a_report_made_before_the_sweep_recorded_the_escalation_says_what_one_made_after_says(
    org_engine: Engine, policy: Policy
) -> None:
    week_45(org_engine, policy)
    before = made(org_engine, policy)
    sweep(org_engine, policy, AFTER)  # records the escalation (and stores the report)
    after = made(org_engine, policy)
    assert after == before
    with reading(org_engine) as session:
        [stored] = session.exec(
            select(Report.content).where(Report.kind == "weekly", Report.unit_code == "330101")
        ).all()
    assert stored["totals"] == before["totals"]
    assert stored["units"] == before["units"]


def test_a_village_moved_after_the_week_is_still_counted_where_it_stood(
    org_engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    ids = week_45(org_engine, policy)
    before = made(org_engine, policy)
    org = Path("examples/org.yaml").read_text(encoding="utf-8")
    moved = org.replace(
        '  - {code: "33010102", name: 下林村, level: village, parent: "330101"}',
        '  - {code: "330102", name: 西溪镇, level: township, parent: "330100"}\n'
        '  - {code: "33010102", name: 下林村, level: village, parent: "330102"}',
    )
    assert moved != org
    (tmp_path / "org.yaml").write_text(moved, encoding="utf-8")
    load_org(
        engine=org_engine, policy=policy, now=at(12), actor=OPERATOR, path=tmp_path / "org.yaml"
    )
    assert made(org_engine, policy, now=at(13)) == {**before, "made_at": at(13).isoformat()}
    west = made(org_engine, policy, unit="330102", now=at(13))
    assert [u["unit"] for u in west["units"]] == ["330102"]  # no village of its own then
    assert west["totals"]["screened"] == 0
    assert ids["sent"] not in {d["id"] for d in west["disputes"]}


def test_storing_a_report_twice_keeps_the_first_and_tells_the_supervisors_once(
    org_engine: Engine, policy: Policy
) -> None:
    week_45(org_engine, policy)
    moment = at(9)
    assert (
        store_reports(engine=org_engine, policy=policy, name="weekly", moments=[moment], now=moment)
        == 1
    )
    assert (
        store_reports(engine=org_engine, policy=policy, name="weekly", moments=[moment], now=AFTER)
        == 0
    )
    with reading(org_engine) as session:
        messages = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "report")
            .order_by(col(OutboxMessage.id))
        ).all()
    assert [(m.recipient, m.link) for m in messages] == [
        ("person:li", "/reports/weekly/330101/2026-W45")
    ]
    assert "排查 3 件，化解 1 件，化解率 33.3%" in messages[0].body
    assert "fengqiao report weekly --unit 330101 --week 2026-W45" in messages[0].body


def test_a_supervisor_reads_the_reports_of_their_subtree_only(
    org_engine: Engine, policy: Policy
) -> None:
    week_45(org_engine, policy)
    sweep(org_engine, policy, AFTER)
    december = datetime(2026, 12, 1, 10, tzinfo=SHANGHAI)  # November's circular
    store_reports(
        engine=org_engine, policy=policy, name="monthly", moments=[december], now=december
    )
    li, chen, wang = Actor(person="li"), Actor(person="chen"), Actor(person="wang")
    read = {
        "engine": org_engine,
        "policy": policy,
        "name": "weekly",
        "period": WEEK_45,
        "now": AFTER,
    }
    assert read_report(**read, unit="330101", actor=li)["stored"] is True
    assert read_report(**read, unit="330101", actor=chen)["totals"]["screened"] == 3
    with pytest.raises(NotFound, match="unknown unit '330100'"):
        read_report(**read, unit="330100", actor=li)
    with pytest.raises(Forbidden):
        read_report(**read, unit="330101", actor=wang)
    assert {r["unit"] for r in list_reports(engine=org_engine, policy=policy, actor=li)} == {
        "330101"
    }
    assert {r["unit"] for r in list_reports(engine=org_engine, policy=policy, actor=chen)} == {
        "330101",
        "330100",
    }


def test_a_report_the_rule_file_does_not_have_is_refused_naming_those_it_has(
    org_engine: Engine, policy: Policy
) -> None:
    with pytest.raises(
        BadInput, match="unknown report 'daily'; the rule file has: monthly, weekly"
    ):
        list_reports(engine=org_engine, policy=policy, actor=OPERATOR, name="daily")


def test_a_large_report_folded_in_worker_processes_says_what_one_folded_here_says(
    org_engine: Engine, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflows.reports import making

    week_45(org_engine, policy)
    here = made(org_engine, policy)
    monkeypatch.setattr(making, "PARALLEL_FROM", 1)  # every report is large
    monkeypatch.setattr(making, "TASK", 1)  # a task a dispute
    assert made(org_engine, policy) == here


def test_no_report_is_stored_for_a_period_before_the_first_dispute(
    org_engine: Engine, policy: Policy
) -> None:
    # The engine set up on Monday 2 November: the week before has nothing to report on.
    assert (
        store_reports(engine=org_engine, policy=policy, name="weekly", moments=[at(2)], now=at(2))
        == 0
    )
    week_45(org_engine, policy)  # the first dispute reported that Monday, 09:00
    assert (
        store_reports(engine=org_engine, policy=policy, name="weekly", moments=[at(2)], now=at(2))
        == 0
    )
    assert (
        store_reports(engine=org_engine, policy=policy, name="weekly", moments=[at(9)], now=at(9))
        == 1
    )
