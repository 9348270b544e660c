"""The queue on real databases: high risk first, then the earliest deadline; pages by keyset
that add up to the whole; filters; scope; and the query read off its index without a sort."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from models.tables import LIVE
from models.values import Level, Risk
from rules.policy import Policy
from tests.support.db import TWO_TOWNSHIPS, load_county
from tests.support.recording import MONDAY, record, report, sweep
from workflows.access import viewer_of
from workflows.db import reading
from workflows.errors import BadInput, NotFound
from workflows.views import QueueFilters, overdue_count, queue_view

ORG = TWO_TOWNSHIPS
LATER = MONDAY + timedelta(days=1, hours=14)  # Tuesday 23:00: nothing escalated yet


@pytest.fixture
def county(engine: Engine) -> Engine:
    load_county(engine, ORG)
    return engine


def _viewer(engine: Engine, person: str):  # type: ignore[no-untyped-def]
    with reading(engine) as session:
        return viewer_of(session, person)


def _page(engine: Engine, policy: Policy, person: str | None, **options):  # type: ignore[no-untyped-def]
    viewer = _viewer(engine, person) if person else None
    return queue_view(
        engine=engine, policy=policy, viewer=viewer, now=LATER, zone=policy.zone, **options
    )


def _reported(engine: Engine, policy: Policy) -> dict[str, int]:
    made = {}
    for n, (risk, unit) in enumerate(
        [
            ("low", "33010101"),
            ("high", "33010101"),
            ("medium", "33010102"),
            ("high", "33010102"),
            ("low", "33010201"),
            ("high", "33010201"),
        ]
    ):
        made[f"{risk}-{unit}"] = report(
            engine, policy, risk=risk, unit=unit, at=MONDAY + timedelta(minutes=n)
        )
    return made


def test_high_risk_comes_first_then_the_earliest_deadline(county: Engine, policy: Policy) -> None:
    made = _reported(county, policy)
    items = _page(county, policy, "li")["items"]
    assert [i["id"] for i in items] == [
        made["high-33010101"],
        made["high-33010102"],
        made["medium-33010102"],
        made["low-33010101"],
    ]
    assert all(i["next_deadline"] for i in items)
    high = items[0]
    assert high["next_decision"] == {
        "kind": "escalate",
        "to_level": "township",
        "unit": "330101",
        "at": "2026-11-04T00:00:00+08:00",
    }


def test_pages_by_keyset_add_up_to_the_whole_queue(county: Engine, policy: Policy) -> None:
    for n in range(23):
        report(
            county,
            policy,
            risk=("high", "medium", "low")[n % 3],
            unit="33010101",
            at=MONDAY + timedelta(minutes=n),
        )
    whole = [i["id"] for i in _page(county, policy, "chen", limit=200)["items"]]
    paged, cursor = [], None
    while True:
        page = _page(county, policy, "chen", limit=5, cursor=cursor)
        paged += [i["id"] for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert paged == whole and len(whole) == 23


def test_an_overdue_dispute_comes_before_one_merely_due_and_is_counted(
    county: Engine, policy: Policy
) -> None:
    neglected = report(county, policy, risk="medium", unit="33010101", at=MONDAY)
    checked = report(county, policy, risk="medium", unit="33010101", at=MONDAY)
    record(county, policy, checked, "check", MONDAY + timedelta(days=1, hours=8))  # Tuesday
    later = MONDAY + timedelta(days=2)  # Wednesday 09:00: the neglected one's check is late
    sweep(county, policy, later)
    viewer = _viewer(county, "li")
    page = queue_view(engine=county, policy=policy, viewer=viewer, now=later, zone=policy.zone)
    assert [(i["id"], i["overdue"]) for i in page["items"]][:2] == [
        (neglected, True),
        (checked, False),
    ]
    assert overdue_count(engine=county, viewer=viewer, now=later) == 1
    only = queue_view(
        engine=county,
        policy=policy,
        viewer=viewer,
        now=later,
        zone=policy.zone,
        filters=QueueFilters(overdue=True),
    )
    assert [i["id"] for i in only["items"]] == [neglected]


def test_filters_narrow_the_queue_within_the_scope(county: Engine, policy: Policy) -> None:
    made = _reported(county, policy)

    def by(**f: object) -> list[int]:
        page = _page(county, policy, "chen", filters=QueueFilters(**f))  # type: ignore[arg-type]
        return [i["id"] for i in page["items"]]

    assert by(unit="330102") == [made["high-33010201"], made["low-33010201"]]
    assert by(unit="33010102", risk=Risk.high) == [made["high-33010102"]]
    assert by(level=Level.township) == []
    with pytest.raises(NotFound, match="unknown unit '330102'"):
        _page(county, policy, "li", filters=QueueFilters(unit="330102"))  # the other township


def test_a_mediator_s_queue_is_their_village_and_the_operator_s_everything(
    county: Engine, policy: Policy
) -> None:
    made = _reported(county, policy)
    assert {i["id"] for i in _page(county, policy, "wang")["items"]} == {
        made["low-33010101"],
        made["high-33010101"],
    }
    assert len(_page(county, policy, None)["items"]) == 6


def test_a_cursor_the_server_did_not_give_is_refused(county: Engine, policy: Policy) -> None:
    for cursor in ("nonsense", "W10", "WyJhIiwxLDFd"):
        with pytest.raises(BadInput, match="cursor: not one this server gave"):
            _page(county, policy, "li", cursor=cursor)
    with pytest.raises(BadInput, match="limit: from 1 to 200"):
        _page(county, policy, "li", limit=500)


@pytest.mark.parametrize("scope", ["county_code", "township_code", "village_code", "reported_unit"])
def test_a_queue_page_reads_off_its_index_without_sorting(county: Engine, scope: str) -> None:
    query = (
        f"SELECT id FROM disputes WHERE {scope} = :unit AND {LIVE.text} "
        "AND (risk_rank, attention_at, id) > (:r, :a, :i) "
        "ORDER BY risk_rank, attention_at, id LIMIT 50"
    )
    params = {"unit": "330101", "r": 0, "a": "2026-11-01", "i": 0}
    with county.connect() as connection:
        if county.dialect.name == "sqlite":
            plan = connection.execute(text("EXPLAIN QUERY PLAN " + query), params)
            steps = " ".join(str(row) for row in plan)
        else:
            connection.execute(text("SET enable_seqscan = off"))
            connection.execute(text("SET enable_bitmapscan = off"))
            plan = connection.execute(text("EXPLAIN " + query), params)
            steps = " ".join(row[0] for row in plan)
    index = {"county_code": "county", "township_code": "township", "village_code": "village"}
    assert f"ix_disputes_queue_{index.get(scope, 'reported')}" in steps
    assert "TEMP B-TREE" not in steps and "Sort" not in steps
