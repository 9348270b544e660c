"""The JSON API, /api/v1, through the real app on SQLite and PostgreSQL: the dispute as
`dispute show --json` has it, reporting and recording (201), refusals as one line, the
keyset-paginated queue, tasks, escalations, and its OpenAPI schema."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from models.values import OPERATOR
from rules.policy import Policy
from tests.support.db import TWO_TOWNSHIPS, dump, load_county
from tests.support.recording import MONDAY, record, report
from tests.support.web import Site, bearer
from workflows.accounts import issue_token
from workflows.views import dispute_view

ORG = TWO_TOWNSHIPS
LATER = MONDAY + timedelta(hours=1)


@pytest.fixture
def site(engine: Engine, policy: Policy) -> Site:
    load_county(engine, ORG)
    return Site(engine, policy, LATER)


def test_a_dispute_is_exactly_the_json_of_dispute_show(site: Site) -> None:
    dispute = report(site.engine, site.policy, unit="33010101", risk="high")
    record(site.engine, site.policy, dispute, "assign", MONDAY, {"person": "wang"}, by="li")
    shown = site.signed_in("li").api("GET", f"/disputes/{dispute}")
    assert shown.status_code == 200
    cli = dispute_view(engine=site.engine, dispute_id=dispute, now=LATER, zone=site.policy.zone)
    assert shown.json() == cli
    assert list(shown.json()) == list(cli)  # in the same order too


def test_reporting_and_recording_answer_201_with_the_dispute(site: Site) -> None:
    wang = site.signed_in("wang")
    made = wang.api(
        "POST",
        "/disputes",
        json={
            "unit": "3301010101",
            "risk": "high",
            "category": "邻里纠纷",
            "title": "排水沟",
            "at": "2026-11-02T09:30",  # no offset: in the rules' zone
            "people_involved": 4,
        },
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["unit"], body["reported_unit"], body["people_involved"]) == (
        "33010101",
        "3301010101",
        4,
    )
    assert body["reported_at"] == "2026-11-02T09:30:00+08:00"
    assert [(e["kind"], e["by"]) for e in body["events"]] == [("report", "wang")]
    checked = wang.api("POST", f"/disputes/{body['id']}/events", json={"kind": "check"})
    assert checked.status_code == 201
    assert [e["kind"] for e in checked.json()["events"]] == ["report", "check"]
    assessed = wang.api(
        "POST",
        f"/disputes/{body['id']}/events",
        json={"kind": "assess", "data": {"risk": "medium"}, "at": "2026-11-02T09:45+08:00"},
    )
    assert assessed.status_code == 201 and assessed.json()["risk"] == "medium"


def test_a_refused_transition_or_bad_data_is_one_line_and_changes_nothing(site: Site) -> None:
    dispute = report(site.engine, site.policy, unit="33010101", risk="high")
    wang = site.signed_in("wang")
    before = dump(site.engine)
    cases = [
        ({"kind": "visit", "data": {"outcome": "stable"}}, 400, f"dispute {dispute}: cannot visit"),
        ({"kind": "resolve", "data": {"method": "people"}}, 400, "resolve data: agreement:"),
        ({"kind": "dance"}, 400, "unknown event kind 'dance'"),
        ({"kind": "check", "at": "yesterday"}, 400, "at 'yesterday' is not an ISO 8601 time"),
        ({"kind": "check", "at": "2027-01-01T00:00+08:00"}, 400, "is in the future"),
        ({"kind": "note", "data": {"text": "a\u0000b"}}, 400, "NUL character"),
        ({"kind": "acknowledge"}, 400, f"nothing to acknowledge on dispute {dispute}"),
        ({"kind": "check", "extra": 1}, 422, "body.extra: Extra inputs are not permitted"),
        ({}, 422, "body.kind: Field required"),
    ]
    for body, status, error in cases:
        response = wang.api("POST", f"/disputes/{dispute}/events", json=body)
        assert response.status_code == status, (body, response.text)
        assert set(response.json()) == {"error"} and error in response.json()["error"], body
        assert "\n" not in response.json()["error"]
    assert wang.api("POST", "/disputes/abc/events", json={"kind": "check"}).status_code == 422
    not_json = wang.api(
        "POST", f"/disputes/{dispute}/events", content=b"{", headers={"content-type": "x"}
    )
    assert not_json.status_code == 422
    assert dump(site.engine) == before


def test_the_queue_pages_by_keyset_high_risk_first_then_the_earliest_deadline(
    site: Site,
) -> None:
    made = [
        report(
            site.engine, site.policy, unit="33010101", risk=risk, at=MONDAY + timedelta(minutes=i)
        )
        for i, risk in enumerate(["low", "high", "medium", "high", "low"])
    ]
    li = site.signed_in("li")
    seen: list[int] = []
    page = li.api("GET", "/disputes?limit=2").json()
    while True:
        seen += [item["id"] for item in page["items"]]
        if page["next"] is None:
            break
        page = li.api("GET", f"/disputes?limit=2&cursor={page['next']}").json()
    assert seen == [made[1], made[3], made[2], made[0], made[4]]
    highs = li.api("GET", "/disputes?risk=high").json()["items"]
    assert [item["id"] for item in highs] == [made[1], made[3]]
    item = highs[0]
    assert item["next_deadline"] is not None and item["overdue"] is False
    assert item["next_decision"]["to_level"] == "township"
    bad = li.api("GET", "/disputes?cursor=bm90LWEtY3Vyc29y")
    assert bad.status_code == 400 and "cursor" in bad.json()["error"]
    assert li.api("GET", "/disputes?limit=0").status_code == 422
    assert li.api("GET", "/disputes?level=moon").status_code == 422


def test_tasks_are_ones_own_or_a_units_and_one_acknowledges_ones_own(site: Site) -> None:
    dispute = report(site.engine, site.policy, unit="33010101", risk="high")
    record(site.engine, site.policy, dispute, "assign", MONDAY, {"person": "wang"}, by="li")
    wang = site.signed_in("wang")
    mine = wang.api("GET", "/tasks").json()
    ack = next(t for t in mine if t["kind"] == "acknowledge")
    assert ack["dispute"] == dispute and ack["title"] == "宅基地边界"
    li = site.signed_in("li")
    unit_tasks = li.api("GET", "/tasks?unit=33010101").json()
    assert unit_tasks == [t for t in mine if t["target"] == "unit:33010101"]
    neighbour = site.signed_in("sun").api("POST", f"/tasks/{ack['id']}/ack")  # another village
    assert neighbour.status_code == 404
    done = wang.api("POST", f"/tasks/{ack['id']}/ack")
    assert done.status_code == 200
    assert done.json() == {
        "id": ack["id"],
        "kind": "acknowledge",
        "dispute": dispute,
        "state": "done",
    }


def test_escalations_list_each_disputes_ladder(site: Site) -> None:
    dispute = report(site.engine, site.policy, unit="33010101", risk="high")
    record(site.engine, site.policy, dispute, "escalate", LATER, by="li")
    rows = site.signed_in("chen").api("GET", "/escalations").json()
    assert [(s["level"], s["moved_by"]) for s in rows[0]["ladder"]] == [
        ("village", "reported"),
        ("township", "manual"),
    ]


def test_without_a_session_or_token_the_api_answers_401_in_json(site: Site) -> None:
    response = site.client().get("/api/v1/disputes")
    assert response.status_code == 401
    assert response.json() == {
        "error": "not signed in: send the session cookie or Authorization: Bearer TOKEN"
    }
    assert site.client().get("/api/v1/nothing-here").status_code == 404


def test_the_openapi_schema_is_served_and_no_docs_page_from_a_cdn(site: Site) -> None:
    client = site.client()
    schema = client.get("/api/v1/openapi.json").json()
    assert {"/disputes", "/disputes/{dispute_id}", "/disputes/{dispute_id}/events"} <= set(
        schema["paths"]
    )
    assert schema["paths"]["/disputes/{dispute_id}/events"]["post"]["responses"]["403"]
    assert client.get("/api/v1/docs").status_code == 404


def test_a_token_reads_as_its_person(site: Site) -> None:
    dispute = report(site.engine, site.policy, unit="33010201", risk="low")
    token = issue_token(engine=site.engine, now=LATER, actor=OPERATOR, person="wu")
    client = site.client()
    assert [i["id"] for i in bearer(client, token, "GET", "/disputes").json()["items"]] == [dispute]
    assert bearer(client, token, "GET", "/me").json()["role"] == "mediator"


def test_a_supervisor_lists_a_dispute_in_their_own_units_name_only(site: Site) -> None:
    dispute = report(site.engine, site.policy, unit="33010101", risk="high")
    li = site.signed_in("li")
    deadline = "2026-11-20T00:00:00+08:00"
    before = dump(site.engine)
    other = li.api(
        "POST",
        f"/disputes/{dispute}/events",
        json={"kind": "supervise", "data": {"deadline": deadline, "unit": "330100"}},
    )
    assert other.status_code == 400
    assert other.json()["error"].endswith("a listing is made by your own unit (330101)")
    assert dump(site.engine) == before
    listed = li.api(
        "POST",
        f"/disputes/{dispute}/events",
        json={"kind": "supervise", "data": {"deadline": deadline}},
    )
    assert listed.status_code == 201
    assert (listed.json()["listing_unit"], listed.json()["supervision_grade"]) == (
        "330101",
        "yellow",
    )
