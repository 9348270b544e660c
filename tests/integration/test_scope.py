"""What a person signed in may see and do, through the services themselves: a dispute
outside their unit's subtree does not exist for them (every read and every action), and an
action their role does not allow is refused with the reason. The operator at the command
line is not checked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from models.values import Actor
from rules.policy import Policy
from tests.support.db import TWO_TOWNSHIPS, dump, load_county
from tests.support.recording import MONDAY, record, report
from workflows.access import Forbidden
from workflows.errors import BadInput, NotFound
from workflows.recording import EventRefused, NewDispute, NewEvent, record_event, report_dispute
from workflows.rollout import apply_rules
from workflows.tasks import acknowledge_task
from workflows.views import dispute_view, escalations_view, explain_view, tasks_view

ORG = TWO_TOWNSHIPS
LATER = MONDAY + timedelta(hours=1)


@pytest.fixture
def county(engine: Engine) -> Engine:
    load_county(engine, ORG)
    return engine


def web(person: str) -> Actor:
    return Actor(person, via="web")


def _event(engine: Engine, policy: Policy, who: str, dispute: int, kind: str, **data: str) -> None:
    record_event(
        engine=engine,
        policy=policy,
        now=LATER,
        actor=web(who),
        dispute_id=dispute,
        event=NewEvent(kind, data=data or None),
    )


def test_a_dispute_of_another_township_does_not_exist_for_its_people(
    county: Engine, policy: Policy
) -> None:
    dispute = report(county, policy, unit="33010101", risk="high")
    before = dump(county)
    for person in ("zhou", "wu"):
        viewer = _viewer(county, person)
        with pytest.raises(NotFound, match=f"unknown dispute {dispute}"):
            dispute_view(
                engine=county, dispute_id=dispute, now=LATER, zone=policy.zone, viewer=viewer
            )
        with pytest.raises(NotFound, match=f"unknown dispute {dispute}"):
            explain_view(
                engine=county,
                dispute_id=dispute,
                policy=policy,
                now=LATER,
                zone=policy.zone,
                viewer=viewer,
            )
        with pytest.raises(NotFound, match=f"unknown dispute {dispute}"):
            _event(county, policy, person, dispute, "note", text="x")
        assert (
            escalations_view(
                engine=county, now=MONDAY + timedelta(days=9), zone=policy.zone, viewer=viewer
            )
            == []
        )
    assert dump(county) == before


def test_the_township_and_the_county_see_the_village_s_disputes_and_so_does_the_village(
    county: Engine, policy: Policy
) -> None:
    dispute = report(county, policy, unit="3301010101", risk="high")
    for person in ("wang", "li", "chen", "admin"):
        viewer = _viewer(county, person)
        shown = dispute_view(
            engine=county, dispute_id=dispute, now=LATER, zone=policy.zone, viewer=viewer
        )
        assert shown["id"] == dispute
    later = MONDAY + timedelta(days=9)
    assert [
        r["id"]
        for r in escalations_view(
            engine=county, now=later, zone=policy.zone, viewer=_viewer(county, "li")
        )
    ] == [dispute]


def test_a_grid_worker_sees_the_disputes_of_their_grid_and_those_assigned_to_them(
    county: Engine, policy: Policy
) -> None:
    theirs = report(county, policy, unit="3301010102", risk="low")
    neighbours = report(county, policy, unit="3301010101", risk="low")
    assigned = report(county, policy, unit="3301010101", risk="low")
    record(county, policy, assigned, "assign", MONDAY, {"person": "zhao"}, by="li")
    viewer = _viewer(county, "zhao")
    for dispute in (theirs, assigned):
        dispute_view(engine=county, dispute_id=dispute, now=LATER, zone=policy.zone, viewer=viewer)
    with pytest.raises(NotFound):
        dispute_view(
            engine=county, dispute_id=neighbours, now=LATER, zone=policy.zone, viewer=viewer
        )


def test_a_mediator_is_refused_a_supervisors_action_with_the_reason_and_nothing_changes(
    county: Engine, policy: Policy
) -> None:
    dispute = report(county, policy, unit="33010101", risk="high")
    before = dump(county)
    for kind, data in (("escalate", {}), ("assign", {"person": "wang"}), ("withdraw", {})):
        with pytest.raises(EventRefused, match=f"a mediator of a village may not {kind}"):
            _event(county, policy, "wang", dispute, kind, **data)
    assert dump(county) == before
    _event(county, policy, "wang", dispute, "check")  # the village's own work


def test_a_supervisor_assigns_only_people_of_their_subtree(county: Engine, policy: Policy) -> None:
    dispute = report(county, policy, unit="33010101", risk="medium")
    with pytest.raises(EventRefused, match="unknown person 'wu'"):  # of the other township
        _event(county, policy, "li", dispute, "assign", person="wu")
    _event(county, policy, "li", dispute, "assign", person="zhao")


def test_the_person_signed_in_is_the_one_who_did_it(county: Engine, policy: Policy) -> None:
    dispute = report(county, policy, unit="33010101", risk="medium")
    with pytest.raises(EventRefused, match="recorded as the person signed in"):
        record_event(
            engine=county,
            policy=policy,
            now=LATER,
            actor=web("wang"),
            dispute_id=dispute,
            event=NewEvent("check", actor="sun"),
        )


def test_review_is_the_townships_and_inspection_the_countys(county: Engine, policy: Policy) -> None:
    dispute = report(county, policy, unit="33010101", risk="medium")
    with pytest.raises(EventRefused, match="may not inspect"):
        _event(county, policy, "li", dispute, "inspect")
    with pytest.raises(EventRefused, match="may not review"):
        _event(county, policy, "chen", dispute, "review")
    _event(county, policy, "li", dispute, "review")
    _event(county, policy, "chen", dispute, "inspect")


def test_a_person_reports_only_at_a_unit_of_their_subtree(county: Engine, policy: Policy) -> None:
    new = NewDispute(unit="33010201", risk="low", category="邻里纠纷", title="t")
    with pytest.raises(NotFound, match="unknown unit '33010201'"):
        report_dispute(engine=county, policy=policy, now=MONDAY, actor=web("wang"), dispute=new)
    with pytest.raises(Forbidden, match="administrator"):
        report_dispute(engine=county, policy=policy, now=MONDAY, actor=web("admin"), dispute=new)
    made = report_dispute(engine=county, policy=policy, now=MONDAY, actor=web("wu"), dispute=new)
    assert (
        dispute_view(engine=county, dispute_id=made, now=MONDAY, zone=policy.zone)["events"][0][
            "by"
        ]
        == "wu"
    )


def test_a_person_acknowledges_their_own_tasks_only(county: Engine, policy: Policy) -> None:
    dispute = report(county, policy, unit="33010101", risk="high")
    record(county, policy, dispute, "assign", MONDAY, {"person": "wang"}, by="li")
    tasks = tasks_view(
        engine=county, now=LATER, zone=policy.zone, person="wang", viewer=_viewer(county, "wang")
    )
    acknowledgement = next(t for t in tasks if t["kind"] == "acknowledge")
    check = next(t for t in tasks if t["kind"] == "daily_check")
    with pytest.raises(NotFound, match="unknown task"):  # another township's person
        acknowledge_task(
            engine=county, policy=policy, now=LATER, actor=web("zhou"), task_id=check["id"]
        )
    with pytest.raises(Forbidden, match="is for person:wang"):  # li sees it; not his task
        acknowledge_task(
            engine=county, policy=policy, now=LATER, actor=web("li"), task_id=check["id"]
        )
    done = acknowledge_task(
        engine=county, policy=policy, now=LATER, actor=web("wang"), task_id=acknowledgement["id"]
    )
    assert done.state == "done"


def test_only_an_administrator_puts_rules_in_force_on_the_web(
    county: Engine, policy: Policy
) -> None:
    with pytest.raises(Forbidden, match="may not rules"):
        apply_rules(engine=county, policy=policy, now=MONDAY, actor=web("chen"), reason="r")
    applied = apply_rules(engine=county, policy=policy, now=MONDAY, actor=web("admin"), reason="r")
    assert applied.to_version


def test_the_operator_at_the_command_line_is_not_checked(county: Engine, policy: Policy) -> None:
    dispute = report(county, policy, unit="33010201", risk="high")
    record(county, policy, dispute, "escalate", LATER, by="wang")  # as today: the operator's call


def _viewer(engine: Engine, person: str):  # type: ignore[no-untyped-def]
    from workflows.access import viewer_of
    from workflows.db import reading

    with reading(engine) as session:
        return viewer_of(session, person)


def test_a_supervisor_acknowledges_several_disputes_at_once_or_none(
    county: Engine, policy: Policy
) -> None:
    from workflows.tasks import acknowledge_disputes

    first = report(county, policy, unit="33010101", risk="high")
    second = report(county, policy, unit="33010102", risk="high")
    record(county, policy, first, "escalate", MONDAY, by="wang")
    quiet = report(county, policy, unit="33010102", risk="low")
    before = dump(county)
    with pytest.raises(BadInput, match=f"nothing to acknowledge on dispute {quiet}"):
        acknowledge_disputes(
            engine=county, policy=policy, now=LATER, actor=web("li"), dispute_ids=[first, quiet]
        )
    assert dump(county) == before
    record(county, policy, second, "escalate", MONDAY, by="sun")
    done = acknowledge_disputes(
        engine=county, policy=policy, now=LATER, actor=web("li"), dispute_ids=[first, second]
    )
    assert done == 2
    tasks = tasks_view(engine=county, now=LATER, zone=policy.zone, unit="330101")
    assert not [t for t in tasks if t["kind"] == "acknowledge"]


def test_a_bulk_acknowledgement_owed_to_someone_else_is_refused(
    county: Engine, policy: Policy
) -> None:
    from workflows.tasks import acknowledge_disputes

    dispute = report(county, policy, unit="33010101", risk="high")
    record(county, policy, dispute, "assign", MONDAY, {"person": "zhao"}, by="li")
    before = dump(county)
    with pytest.raises(Forbidden, match="not for wang"):
        acknowledge_disputes(
            engine=county, policy=policy, now=LATER, actor=web("wang"), dispute_ids=[dispute]
        )
    assert dump(county) == before


def test_listing_a_unit_outside_ones_subtree_is_as_if_it_did_not_exist(
    county: Engine, policy: Policy
) -> None:
    viewer = _viewer(county, "li")
    with pytest.raises(NotFound, match="unknown unit '330102'"):
        tasks_view(engine=county, now=LATER, zone=policy.zone, unit="330102", viewer=viewer)
    with pytest.raises(NotFound, match="unknown unit '33010201'"):
        escalations_view(engine=county, now=LATER, zone=policy.zone, unit="33010201", viewer=viewer)


def test_the_escalation_list_shows_each_disputes_ladder(county: Engine, policy: Policy) -> None:
    dispute = report(county, policy, unit="33010101", risk="high")
    record(county, policy, dispute, "escalate", LATER, by="wang")
    rows = escalations_view(engine=county, now=LATER, zone=policy.zone, limit=5)
    assert [(s["level"], s["moved_by"]) for s in rows[0]["ladder"]] == [
        ("village", "reported"),
        ("township", "manual"),
    ]
    assert rows[0]["ladder"][0]["until"] == rows[0]["ladder"][1]["since"]


def test_an_action_the_role_may_not_take_is_refused_for_the_role_before_the_state(
    county: Engine, policy: Policy
) -> None:
    from workflows.recording import EventForbidden

    dispute = report(county, policy, unit="33010101", risk="high")  # at village: no handback
    with pytest.raises(EventForbidden, match="a mediator of a village may not handback"):
        _event(county, policy, "wang", dispute, "handback")


def test_a_limited_escalation_list_is_the_head_of_the_whole_one_newest_first(
    county: Engine, policy: Policy
) -> None:
    """The order is worked out before the rows are read in full: the first ``limit`` of it
    are exactly the first rows of the list without a limit."""
    for hours, unit in enumerate(["33010101", "33010102", "33010201", "33010101", "33010102"]):
        dispute = report(county, policy, unit=unit, risk="high")
        record(county, policy, dispute, "escalate", MONDAY + timedelta(hours=hours), by=None)
    late = report(county, policy, unit="33010201", risk="high")  # overdue, not escalated
    now = MONDAY + timedelta(days=3)  # its daily check was due two days after it was reported
    whole = escalations_view(engine=county, now=now, zone=policy.zone)
    assert late in [row["id"] for row in whole] and len(whole) == 6
    moments = [
        max(
            ([row["last_escalation"]["effective_at"]] if row["last_escalation"] else [])
            + [o["due_at"] for o in row["overdue"][:1]]
        )
        for row in whole
    ]
    assert moments == sorted(moments, reverse=True)
    for limit in (1, 3, len(whole)):
        head = escalations_view(engine=county, now=now, zone=policy.zone, limit=limit)
        assert head == whole[:limit]
