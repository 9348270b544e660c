"""The pages, through the real app (on SQLite; the services below are the same on both
databases): a mediator's tasks and a dispute's forms, reporting, a supervisor's queue with
its filters, pages and bulk actions, the escalation ladder, and the English option."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from rules.policy import Policy
from tests.support.db import TWO_TOWNSHIPS, dump, load_county
from tests.support.recording import MONDAY, record, report
from tests.support.web import Site
from workflows.db import make_engine, migrate
from workflows.views import dispute_view, tasks_view

ORG = TWO_TOWNSHIPS


@pytest.fixture
def county(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'fengqiao.db'}")
    migrate(engine)
    load_county(engine, ORG)
    return engine


@pytest.fixture
def site(county: Engine, policy: Policy) -> Site:
    return Site(county, policy, MONDAY + timedelta(hours=1))


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-dispute="(\d+)"', html)]


def test_signing_in_leads_a_mediator_to_tasks_and_a_supervisor_to_the_queue(site: Site) -> None:
    assert site.client().get("/tasks").headers["location"] == "/login?next=%2Ftasks"
    for person, first in (("wang", "/tasks"), ("li", "/queue"), ("admin", "/queue")):
        assert site.signed_in(person).get("/").headers["location"] == first


def test_a_mediator_sees_the_overdue_task_first_records_the_check_and_it_moves_on(
    site: Site,
) -> None:
    late = report(site.engine, site.policy, unit="33010101", risk="high", title="灌溉水渠")
    site.now = MONDAY + timedelta(days=1, hours=20)  # the first daily check is overdue
    fresh = report(site.engine, site.policy, unit="33010101", risk="low", at=site.now, title="噪音")
    wang = site.signed_in("wang")
    page = wang.get("/tasks").text
    cards = re.findall(r'<li class="card( overdue)?" id="task-\d+">.*?#(\d+) ', page, re.S)
    assert cards[0] == (" overdue", str(late)) and (" ", str(fresh)) not in cards
    assert "逾期 5 小时" in page and "剩 5 天 19 小时" in page  # due 11-04 00:00, now 05:00
    assert f'href="/disputes/{late}/record/check#event-form"' in page
    form = wang.get(f"/disputes/{late}/record/check").text
    assert 'name="kind" value="check"' in form
    before = dispute_view(engine=site.engine, dispute_id=late, now=site.now, zone=site.policy.zone)
    done = wang.post(f"/disputes/{late}/events", {"kind": "check", "note": "已走访"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/disputes/{late}?recorded=check#timeline"
    after = dispute_view(engine=site.engine, dispute_id=late, now=site.now, zone=site.policy.zone)
    daily = [o for o in after["obligations"] if o["kind"] == "daily_check"]
    assert daily and daily[0]["due_at"] > before["obligations"][0]["due_at"]
    checks = [e for e in after["events"] if e["kind"] == "check"]
    assert [(e["by"], e["data"]) for e in checks] == [("wang", {"note": "已走访"})]
    shown = wang.get(done.headers["location"]).text
    assert "已记录：排查" in shown


def test_each_kind_has_a_form_with_exactly_its_fields(site: Site) -> None:
    dispute = report(site.engine, site.policy, unit="33010101", risk="high")
    li = site.signed_in("li")

    def fields(kind: str) -> list[str]:
        html = li.get(f"/disputes/{dispute}/record/{kind}").text
        form = html.split('<form class="event', 1)[1].split("</form>", 1)[0]
        return [n for n in re.findall(r'name="([a-z_]+)"', form) if n not in ("csrf", "kind")]

    assert fields("assess") == ["risk", "note", "at"]
    assert fields("resolve") == [
        "method",
        "agreement",
        "amount",
        "terms",
        "mediators",
        "note",
        "at",
    ]
    assert fields("visit") == ["outcome", "note", "at"]
    assert fields("assign") == ["person", "note", "at"]
    assert fields("note") == ["text", "at"]
    assign = li.get(f"/disputes/{dispute}/record/assign").text
    assert 'value="wang"' in assign and 'value="zhou"' not in assign  # only their township
    assert li.get(f"/disputes/{dispute}/record/report").status_code == 404
    fragment = li.get(f"/disputes/{dispute}/record/visit", headers={"HX-Request": "true"}).text
    assert fragment.startswith('<form class="event') and "<html" not in fragment


def test_the_buttons_are_what_the_role_allows_and_the_state_takes(site: Site) -> None:
    dispute = report(site.engine, site.policy, unit="33010101", risk="high")
    kinds = re.compile(r'href="/disputes/\d+/record/([a-z_]+)#event-form"')
    wang = set(kinds.findall(site.signed_in("wang").get(f"/disputes/{dispute}").text))
    # extend: the time limit, when both parties agree; no court's result on a dispute the
    # court did not send
    assert wang == {"check", "assess", "mediate", "resolve", "note", "extend"}
    li = set(kinds.findall(site.signed_in("li").get(f"/disputes/{dispute}").text))
    assert {"assign", "escalate", "review", "pause", "withdraw"} <= li
    assert not {"handback", "resume", "visit", "inspect"} & li


def test_a_refused_event_shows_the_form_again_with_the_reason_and_changes_nothing(
    site: Site,
) -> None:
    dispute = report(site.engine, site.policy, unit="33010101", risk="high")
    wang = site.signed_in("wang")
    before = dump(site.engine)
    refused = wang.post(f"/disputes/{dispute}/events", {"kind": "resolve", "method": "people"})
    assert refused.status_code == 400
    assert "resolve data: agreement: Field required" in refused.text
    assert '<option value="people" selected>' in refused.text  # what was chosen is kept
    assert dump(site.engine) == before


def test_one_tap_acknowledges_an_assignment(site: Site) -> None:
    dispute = report(site.engine, site.policy, unit="33010101", risk="high")
    record(site.engine, site.policy, dispute, "assign", MONDAY, {"person": "wang"}, by="li")
    wang = site.signed_in("wang")
    page = wang.get("/tasks").text
    (task,) = re.findall(r'action="/tasks/(\d+)/ack"', page)
    swapped = wang.post(f"/tasks/{task}/ack", {"back": "/tasks"}, headers={"HX-Request": "true"})
    assert swapped.status_code == 200 and "已签收" in swapped.text or "已完成" in swapped.text
    open_ = tasks_view(engine=site.engine, now=site.now, zone=site.policy.zone, person="wang")
    assert "acknowledge" not in [t["kind"] for t in open_]


def test_reporting_a_dispute_from_the_form(site: Site) -> None:
    wang = site.signed_in("wang")
    form = wang.get("/disputes/new").text
    assert 'value="3301010101"' in form and 'value="33010201"' not in form
    made = wang.post(
        "/disputes/new",
        {
            "unit": "3301010102",
            "risk": "medium",
            "category": "邻里纠纷",
            "title": "院墙倒塌",
            "people_involved": "3",
            "party_name": ["张三", "", ""],
            "party_phone": ["13800000000", "", ""],
        },
    )
    assert made.status_code == 303
    dispute = int(made.headers["location"].rsplit("/", 1)[1])
    shown = dispute_view(
        engine=site.engine, dispute_id=dispute, now=site.now, zone=site.policy.zone
    )
    assert shown["parties"] == [{"name": "张三", "phone": "13800000000"}]
    assert (shown["reported_unit"], shown["people_involved"]) == ("3301010102", 3)
    again = wang.post("/disputes/new", {"unit": "3301010102", "risk": "low", "category": "c"})
    assert again.status_code == 400 and "a dispute needs a non-empty title" in again.text
    assert site.signed_in("admin").get("/disputes/new").status_code == 403


def test_the_queue_keeps_its_filters_in_the_url_and_pages_by_keyset(site: Site) -> None:
    made = [
        report(site.engine, site.policy, unit=unit, risk="high", at=MONDAY + timedelta(minutes=i))
        for i, unit in enumerate(["33010101"] * 3 + ["33010102"] * 60)
    ]
    li = site.signed_in("li")
    first = li.get("/queue").text
    assert _ids(first) == made[:50]
    (more,) = re.findall(r'<a href="([^"]+)" rel="next"', first)
    assert "cursor=" in more
    second = li.get(more.replace("&amp;", "&")).text
    assert _ids(second) == made[50:]
    village = li.get("/queue?unit=33010101&risk=high").text
    assert _ids(village) == made[:3]
    assert '<option value="33010101" selected>' in village
    assert '<option value="high" selected>' in village
    assert "本范围内逾期纠纷 0 件" in village
    site.now = MONDAY + timedelta(days=2)
    li = site.signed_in("li")  # the session of two days ago has ended
    late = li.get("/queue?overdue=1").text
    assert 'class="state-overdue"' in late and "本范围内逾期纠纷 63 件" in late
    assert "后将上报至镇级" in li.get("/queue").text or "下次巡查时将上报至镇级" in late
    assert li.get("/overdue").text.count("逾期 63") == 1
    assert li.get("/queue?level=moon").status_code == 400


def test_a_supervisor_assigns_hands_back_and_acknowledges_in_bulk(site: Site) -> None:
    first = report(site.engine, site.policy, unit="33010101", risk="high")
    second = report(site.engine, site.policy, unit="33010102", risk="high")
    li = site.signed_in("li")
    assigned = li.post(
        "/queue/bulk",
        {
            "action": "assign",
            "person": "wang",
            "dispute": [str(first), str(second)],
            "back": "/queue?risk=high",
        },
    )
    assert assigned.status_code == 303
    assert assigned.headers["location"] == "/queue?risk=high&notice=assign&count=2"
    assert "已交办 2 件" in li.get(assigned.headers["location"]).text
    for dispute in (first, second):
        record(site.engine, site.policy, dispute, "escalate", site.now, by="wang")
    acknowledged = li.post(
        "/queue/bulk", {"action": "acknowledge", "dispute": [str(first), str(second)]}
    )
    assert acknowledged.status_code == 303
    before = dump(site.engine)
    refused = li.post("/queue/bulk", {"action": "handback", "dispute": [str(first), "99"]})
    assert refused.status_code == 404  # one of them is not there: nothing is done
    assert dump(site.engine) == before
    handed = li.post("/queue/bulk", {"action": "handback", "dispute": [str(first), str(second)]})
    assert handed.status_code == 303
    levels = [
        dispute_view(engine=site.engine, dispute_id=d, now=site.now, zone=site.policy.zone)["level"]
        for d in (first, second)
    ]
    assert levels == ["village", "village"]
    nothing = li.post("/queue/bulk", {"action": "handback"})
    assert nothing.status_code == 400 and "请先勾选纠纷" in nothing.text


def test_a_bulk_refusal_names_each_dispute_and_changes_nothing(site: Site) -> None:
    up = report(site.engine, site.policy, unit="33010101", risk="high")
    down = report(site.engine, site.policy, unit="33010101", risk="high")
    record(site.engine, site.policy, up, "escalate", site.now, by="wang")
    li = site.signed_in("li")
    before = dump(site.engine)
    refused = li.post("/queue/bulk", {"action": "handback", "dispute": [str(up), str(down)]})
    assert refused.status_code == 400
    assert f"#{down}: dispute {down}: cannot hand back" in refused.text
    assert "nothing was changed" in refused.text
    assert dump(site.engine) == before


def test_the_escalation_list_shows_the_ladder_with_the_rule_that_moved_it(site: Site) -> None:
    dispute = report(site.engine, site.policy, unit="33010101", risk="high")
    record(site.engine, site.policy, dispute, "escalate", site.now, by="li")
    site.now += timedelta(days=1, hours=2)
    page = site.signed_in("chen").get("/escalations").text
    steps = re.findall(r'<li class="step level-(\w+)( now)?">', page)
    assert steps == [("village", ""), ("township", " now")]
    assert "人工上报" in page and "停留 1 小时" in page and "至今 1 天 2 小时" in page


def test_the_pages_are_in_english_as_an_option(site: Site) -> None:
    li = site.signed_in("li")
    english = li.get("/queue?lang=en")
    assert "Queue" in english.text and 'lang="en"' in english.text
    assert "fq_lang=en" in english.headers["set-cookie"]
    assert "High risk first" in li.get("/queue").text  # kept by the cookie
    assert "纠纷队列" in li.get("/queue?lang=zh").text


def test_a_county_supervisor_records_the_monthly_inspection_from_the_tasks_page(
    site: Site,
) -> None:
    from tests.support.recording import sweep

    first_working_day = MONDAY.replace(month=12, day=1, hour=10)
    sweep(site.engine, site.policy, first_working_day)
    site.now = first_working_day + timedelta(hours=1)
    chen = site.signed_in("chen")
    page = chen.get("/tasks").text
    assert "县级月度督查" in page and 'action="/units/330100/record"' in page
    assert "县级月度督查" not in site.signed_in("li").get("/tasks").text  # the county's own
    done = chen.post("/units/330100/record", {"kind": "inspect", "note": "抽查12件"})
    assert done.status_code == 303 and done.headers["location"] == "/tasks"
    assert "县级月度督查" not in chen.get("/tasks").text
    refused = chen.post("/units/330100/record", {"kind": "inspect"})
    assert refused.status_code == 404 and "owes nothing done by inspect" in refused.text


def test_a_listed_dispute_shows_its_grade_and_deadline_and_the_listing_unit_owes_the_deadline(
    site: Site,
) -> None:
    from tests.support.recording import sweep

    dispute = report(site.engine, site.policy, unit="33010101", risk="high")
    record(site.engine, site.policy, dispute, "escalate", MONDAY + timedelta(minutes=5), by="li")
    record(site.engine, site.policy, dispute, "escalate", MONDAY + timedelta(minutes=10), by="chen")
    site.now = MONDAY + timedelta(days=16)
    sweep(site.engine, site.policy, site.now)
    chen = site.signed_in("chen")
    page = chen.get(f"/disputes/{dispute}").text
    assert "挂牌督办 · 黄牌 · 督办期限" in page
    assert "督办期限" in chen.get("/tasks").text


def test_a_long_history_shows_its_latest_events_first_and_all_of_them_on_request(
    site: Site,
) -> None:
    dispute = report(site.engine, site.policy, unit="33010101", risk="low")
    for number in range(60):
        record(site.engine, site.policy, dispute, "note", MONDAY, {"text": f"第{number}次"})
    wang = site.signed_in("wang")
    page = wang.get(f"/disputes/{dispute}").text
    timeline = page[page.index('id="timeline"') :]
    assert timeline.count("<li>") == 50
    assert "第59次" in timeline and "第9次" not in timeline
    assert f'href="/disputes/{dispute}?all=1#timeline"' in page
    assert "显示最近 50 条，共 61 条" in page
    whole = wang.get(f"/disputes/{dispute}?all=1").text
    assert whole[whole.index('id="timeline"') :].count("<li>") == 61
    assert "?all=1#timeline" not in whole


def test_the_latest_rows_of_a_dispute_say_what_the_whole_view_says_of_it(site: Site) -> None:
    dispute = report(site.engine, site.policy, unit="33010101", risk="high")
    record(
        site.engine,
        site.policy,
        dispute,
        "supervise",
        MONDAY,
        {"deadline": "2026-11-20T00:00:00+08:00"},
    )
    for number in range(5):
        record(site.engine, site.policy, dispute, "note", MONDAY, {"text": f"{number}"})
    args = {"engine": site.engine, "dispute_id": dispute, "now": site.now, "zone": site.policy.zone}
    whole, latest = dispute_view(**args), dispute_view(**args, latest=3)
    assert latest["events"] == whole["events"][-3:]
    assert latest.pop("totals") == {"events": 7, "closed_tasks": 0}
    assert latest.pop("kinds") == ["note", "report", "supervise"]
    assert {**latest, "events": whole["events"]} == whole  # the listing, the source, the tasks
