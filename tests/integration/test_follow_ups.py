"""What happens around the ladder, through the services on real databases: listings that
tell the unit that made them, referrals that stay in the queue, disputes a court sends,
grids without a worker, and dates that cannot be."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import OutboxMessage, Task
from models.targets import Target
from models.values import OPERATOR, Actor, TaskState
from rules.policy import Policy
from tests.support.recording import MONDAY, SHANGHAI, record, report, sweep
from workflows.access import Forbidden
from workflows.db import reading
from workflows.errors import BadInput, NotFound
from workflows.messaging.outbox import addresses
from workflows.recording import NewDispute, report_dispute
from workflows.reorganising import load_org
from workflows.views import dispute_view, queue_view, tasks_view

DAY = timedelta(days=1)


def live_tasks(engine: Engine, dispute_id: int) -> list[tuple[str, str]]:
    with reading(engine) as session:
        rows = session.exec(
            select(Task.kind, Task.target)
            .where(Task.dispute_id == dispute_id, col(Task.state) == TaskState.open)
            .order_by(col(Task.id))
        ).all()
    return [(kind, target) for kind, target in rows]


def at_county(engine: Engine, policy: Policy, tmp_path: Path) -> int:
    """A high-risk dispute taken to the county by hand on Monday morning; the county's
    supervisor has an address."""
    org = tmp_path / "chen.yaml"
    org.write_text(
        'people:\n  - {id: chen, name: 陈科长, role: supervisor, unit: "330100",'
        " contacts: {email: chen@example.org}}\n",
        encoding="utf-8",
    )
    load_org(engine=engine, policy=policy, now=MONDAY, actor=OPERATOR, path=org)
    dispute_id = report(engine, policy, unit="33010101", by="wang")
    record(engine, policy, dispute_id, "escalate", MONDAY + timedelta(minutes=5), by="li")
    record(engine, policy, dispute_id, "escalate", MONDAY + timedelta(minutes=10), by="chen")
    return dispute_id


def test_a_listing_the_sweep_makes_is_acknowledged_by_the_county_and_its_deadline_is_theirs(
    org_engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    dispute_id = at_county(org_engine, policy, tmp_path)
    sweep(org_engine, policy, MONDAY + 16 * DAY)
    tasks = live_tasks(org_engine, dispute_id)
    assert ("listing_deadline", "unit:330100") in tasks
    assert tasks.count(("acknowledge", "unit:330100")) == 2  # the escalation, the listing
    with reading(org_engine) as session:
        kinds = session.exec(
            select(OutboxMessage.kind).where(OutboxMessage.dispute_id == dispute_id)
        ).all()
    assert "listed" in kinds


def test_a_listing_past_its_deadline_goes_up_a_grade_and_the_county_is_told_again(
    org_engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    dispute_id = at_county(org_engine, policy, tmp_path)
    sweep(org_engine, policy, MONDAY + 16 * DAY)
    sweep(org_engine, policy, MONDAY + 32 * DAY)  # the 15-day deadline passed unresolved
    shown = dispute_view(
        engine=org_engine, dispute_id=dispute_id, now=MONDAY + 32 * DAY, zone=SHANGHAI
    )
    listings = [e["data"] for e in shown["events"] if e["kind"] == "supervise"]
    assert [data["grade"] for data in listings] == ["yellow", "red"]
    assert shown["supervision_grade"] == "red" and shown["listing_unit"] == "330100"
    with reading(org_engine) as session:
        listed = session.exec(
            select(OutboxMessage.title).where(
                OutboxMessage.dispute_id == dispute_id, OutboxMessage.kind == "listed"
            )
        ).all()
    assert len(set(listed)) == 1 and len(listed) >= 2  # one message per listing, to chen


def test_a_listing_by_a_supervisor_is_theirs_and_starts_at_the_first_grade(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, unit="33010101", by="wang")
    record(org_engine, policy, dispute_id, "escalate", MONDAY + timedelta(hours=1), by="li")
    deadline = (MONDAY + 10 * DAY).isoformat()
    record(
        org_engine,
        policy,
        dispute_id,
        "supervise",
        MONDAY + timedelta(hours=2),
        {"deadline": deadline},
        by="li",
    )
    (listing,) = [
        e
        for e in dispute_view(
            engine=org_engine, dispute_id=dispute_id, now=MONDAY + DAY, zone=SHANGHAI
        )["events"]
        if e["kind"] == "supervise"
    ]
    assert listing["data"]["grade"] == "yellow" and listing["data"]["unit"] == "330101"
    assert ("listing_deadline", "unit:330101") in live_tasks(org_engine, dispute_id)


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        (
            "supervise",
            {"deadline": "2026-11-01T00:00:00+08:00"},
            "supervise deadline .* is not after",
        ),
        ("extend", {"until": "2026-11-02T08:00:00+08:00"}, "extend until .* is not after"),
        (
            "supervise",
            {"deadline": "2026-12-01T00:00:00+08:00", "grade": "green"},
            "unknown listing grade 'green'; known: yellow, red",
        ),
        (
            "supervise",
            {"deadline": "2026-12-01T00:00:00+08:00", "unit": "440100"},
            r"supervise unit '440100': a listing is made by the dispute's township or county "
            r"\(330101 or 330100\)",
        ),
    ],
)
def test_a_deadline_that_has_passed_or_a_grade_the_rules_do_not_have_is_refused(
    org_engine: Engine, policy: Policy, kind: str, data: dict[str, str], message: str
) -> None:
    dispute_id = report(org_engine, policy, unit="33010101", by="wang")
    with pytest.raises(BadInput, match=message):
        record(org_engine, policy, dispute_id, kind, MONDAY + timedelta(hours=1), data, by="li")


def test_a_referral_whose_feedback_is_late_stays_in_the_township_queue_as_overdue(
    org_engine: Engine, policy: Policy
) -> None:
    from workflows.access import viewer_of

    dispute_id = report(org_engine, policy, unit="33010101", risk="medium", by="wang")
    record(
        org_engine,
        policy,
        dispute_id,
        "refer",
        MONDAY + DAY,
        {"to": "police", "body": "东溪派出所"},
        by="li",
    )
    late = MONDAY + 20 * DAY
    with reading(org_engine) as session:
        li = viewer_of(session, "li")
    from workflows.views import QueueFilters

    page = queue_view(
        engine=org_engine,
        policy=policy,
        viewer=li,
        now=late,
        zone=SHANGHAI,
        filters=QueueFilters(overdue=True),
    )
    assert [item["id"] for item in page["items"]] == [dispute_id]
    record(
        org_engine, policy, dispute_id, "referral_result", late, {"result": "returned"}, by="wang"
    )
    shown = dispute_view(engine=org_engine, dispute_id=dispute_id, now=late, zone=SHANGHAI)
    assert shown["status"] == "mediating"
    assert "referral_feedback" not in {o["kind"] for o in shown["obligations"]}


def test_a_dispute_a_court_entrusted_owes_its_result_by_the_courts_deadline(
    org_engine: Engine, policy: Policy
) -> None:
    deadline = MONDAY + 12 * DAY
    dispute_id = report_dispute(
        engine=org_engine,
        policy=policy,
        now=MONDAY,
        actor=Actor("wang"),
        dispute=NewDispute(
            unit="33010101",
            risk="low",
            category="合同纠纷",
            title="买卖合同",
            source="court_entrusted",
            court="某县人民法院",
            court_deadline=deadline,
        ),
    )
    shown = dispute_view(engine=org_engine, dispute_id=dispute_id, now=MONDAY, zone=SHANGHAI)
    owed = {o["kind"]: o["due_at"] for o in shown["obligations"]}
    assert owed["court_result"] == deadline.isoformat()
    assert shown["events"][0]["data"]["source"] == "court_entrusted"
    with pytest.raises(BadInput, match="court's deadline .* is not after the report"):
        report_dispute(
            engine=org_engine,
            policy=policy,
            now=MONDAY,
            actor=Actor("wang"),
            dispute=NewDispute(
                unit="33010101",
                risk="low",
                category="合同纠纷",
                title="t",
                source="court_entrusted",
                court="某县人民法院",
                court_deadline=MONDAY - DAY,
            ),
        )


def test_tasks_of_a_grid_without_a_worker_are_the_village_mediators(
    org_engine: Engine, policy: Policy
) -> None:
    # 3301010101 has no grid worker; wang is the village's mediator; zhao works 3301010102
    bare = report(org_engine, policy, unit="3301010101", by="li")
    staffed = report(org_engine, policy, unit="3301010102", by="li")
    wang = {
        (t["dispute"], t["kind"])
        for t in tasks_view(engine=org_engine, now=MONDAY, zone=SHANGHAI, person="wang")
    }
    assert (bare, "daily_check") in wang and (staffed, "daily_check") not in wang
    zhao = {
        (t["dispute"], t["kind"])
        for t in tasks_view(engine=org_engine, now=MONDAY, zone=SHANGHAI, person="zhao")
    }
    assert (staffed, "daily_check") in zhao and (bare, "daily_check") not in zhao
    with reading(org_engine) as session:
        found = addresses(session, Target.of_unit("3301010101"))
    assert [(a.recipient, a.address) for a in found] == [("person:wang", "wang@example.org")]


# --- the county's monthly inspection ---------------------------------------------------------

FIRST_WORKING_DAY = MONDAY.replace(month=12, day=1, hour=10)  # Tuesday 1 December 2026


def test_each_county_owes_its_monthly_inspection_on_the_first_working_day_as_its_supervisors_task(
    org_engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    from workflows.tasks import fulfil_unit_tasks
    from workflows.views import unit_tasks_view

    at_county(org_engine, policy, tmp_path)  # chen has an address
    sweep(org_engine, policy, FIRST_WORKING_DAY)
    sweep(org_engine, policy, FIRST_WORKING_DAY + timedelta(hours=1))  # opens nothing more
    (task,) = unit_tasks_view(
        engine=org_engine, now=FIRST_WORKING_DAY, zone=SHANGHAI, person="chen"
    )
    assert (task["unit"], task["kind"], task["opened_on"]) == (
        "330100",
        "county_inspection",
        "2026-12-01",
    )
    assert task["due_at"] == "2026-12-02T00:00:00+08:00" and not task["overdue"]
    assert (
        unit_tasks_view(engine=org_engine, now=FIRST_WORKING_DAY, zone=SHANGHAI, person="li") == []
    )
    with reading(org_engine) as session:
        told = session.exec(
            select(OutboxMessage.recipient, OutboxMessage.body).where(
                OutboxMessage.kind == "unit_task"
            )
        ).all()
    assert [recipient for recipient, _ in told] == ["person:chen"]
    assert "fengqiao unit inspect 330100" in told[0][1]

    later = FIRST_WORKING_DAY + timedelta(hours=3)
    for who, refused in (("li", "not a supervisor of 330100"), ("wang", "not a supervisor")):
        with pytest.raises(Forbidden, match=refused):
            fulfil_unit_tasks(
                engine=org_engine,
                policy=policy,
                now=later,
                actor=Actor(who),
                unit="330100",
                kind="inspect",
            )
    (done,) = fulfil_unit_tasks(
        engine=org_engine,
        policy=policy,
        now=later,
        actor=Actor("chen"),
        unit="330100",
        kind="inspect",
        note="抽查12件，2件督办逾期已通报",
    )
    assert (done.kind, done.late) == ("county_inspection", False)
    assert unit_tasks_view(engine=org_engine, now=later, zone=SHANGHAI, person="chen") == []
    with pytest.raises(NotFound, match="330100 owes nothing done by inspect"):
        fulfil_unit_tasks(
            engine=org_engine,
            policy=policy,
            now=later,
            actor=Actor("chen"),
            unit="330100",
            kind="inspect",
        )


def test_a_county_inspection_not_recorded_is_in_the_next_mornings_digest_as_overdue(
    org_engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    at_county(org_engine, policy, tmp_path)
    sweep(org_engine, policy, FIRST_WORKING_DAY)
    sweep(org_engine, policy, FIRST_WORKING_DAY + timedelta(hours=23))  # 2 December, 09:00
    with reading(org_engine) as session:
        (body,) = session.exec(
            select(OutboxMessage.body).where(
                OutboxMessage.kind == "digest",
                OutboxMessage.recipient == "person:chen",
                col(OutboxMessage.key).like("%2026-12-02"),
            )
        ).all()
    assert "330100 县级月度督查 2026-12-02 00:00到期 (逾期)" in body


def test_a_late_application_for_judicial_confirmation_is_refused_when_recorded(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, unit="33010101", risk="low", by="wang")
    resolved = {"method": "people", "agreement": "written"}
    record(org_engine, policy, dispute_id, "resolve", MONDAY + DAY, resolved, by="wang")
    with pytest.raises(BadInput, match=f"dispute {dispute_id}: the parties apply .* within 30d"):
        record(
            org_engine, policy, dispute_id, "confirmation_apply", MONDAY + 32 * DAY,
            {"court": "某县人民法院"}, by="wang",
        )  # fmt: skip
    record(
        org_engine, policy, dispute_id, "confirmation_apply", MONDAY + 20 * DAY,
        {"court": "某县人民法院"}, by="wang",
    )  # fmt: skip


def test_a_sweep_that_missed_a_first_working_day_opens_that_months_inspection_late(
    org_engine: Engine, policy: Policy
) -> None:
    from workflows.views import unit_tasks_view

    sweep(org_engine, policy, MONDAY + timedelta(hours=1))  # 2 November, the first working day
    sweep(org_engine, policy, MONDAY.replace(month=12, day=15))  # missed 1 December
    opened = unit_tasks_view(
        engine=org_engine, now=MONDAY.replace(month=12, day=15), zone=SHANGHAI, person="chen"
    )
    assert [(t["opened_on"], t["overdue"]) for t in opened] == [
        ("2026-11-02", True),
        ("2026-12-01", True),
    ]


def test_the_monthly_circular_counts_a_listing_and_names_it_once_its_deadline_passed(
    org_engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    from models.tables import Report

    dispute_id = at_county(org_engine, policy, tmp_path)
    sweep(org_engine, policy, MONDAY + 16 * DAY)  # listed: yellow, due the end of 2 December
    sweep(org_engine, policy, FIRST_WORKING_DAY)  # the November circular
    sweep(org_engine, policy, datetime(2027, 1, 4, 10, tzinfo=SHANGHAI))  # December's
    with reading(org_engine) as session:
        *_, november, december = session.exec(
            select(Report.content)
            .where(Report.kind == "monthly", Report.unit_code == "330100")
            .order_by(col(Report.period_start))
        ).all()
    county = {u["unit"]: u for u in november["units"]}["330100"]
    assert (county["supervised"], county["supervised_missed"]) == (1, 0)
    assert november["listings"] == []
    # Yellow passed on 2 December unresolved: red, due ten days later, passed too.
    assert december["listings"] == [
        {
            "dispute": dispute_id,
            "title": december["disputes"][0]["title"],
            "unit": "330100",
            "name": "枫桥县",
            "grade": "red",
            "grade_label": "红牌",
            "deadline": "2026-12-13T00:00:00+08:00",
            "missed": True,
        }
    ]
