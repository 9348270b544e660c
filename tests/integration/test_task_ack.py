"""Acknowledging tasks through the service, as the command line and the web app do: who
may, what a second acknowledgement says, what the supervisor told of a missed one reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import OutboxMessage, Task
from models.values import Actor
from rules.policy import Policy
from tests.support.recording import MONDAY, record, report
from workflows.db import reading
from workflows.errors import BadInput, NotFound
from workflows.messaging import linked, remind
from workflows.recording import NewEvent
from workflows.tasks import Acknowledged, acknowledge_dispute, acknowledge_task

LATER = MONDAY + timedelta(hours=1)


def _assigned(engine: Engine, policy: Policy) -> int:
    dispute = report(engine, policy, risk="high", unit="3301010101")
    record(engine, policy, dispute, "assign", MONDAY, by="li", data={"person": "wang"})
    return dispute


def _task(engine: Engine, kind: str, target: str) -> Task:
    with reading(engine) as session:
        return session.exec(select(Task).where(Task.kind == kind, Task.target == target)).one()


def _ack(engine: Engine, policy: Policy, task: Task, by: str | None) -> Acknowledged:
    return acknowledge_task(
        engine=engine, policy=policy, now=LATER, actor=Actor(person=by), task_id=task.id or 0
    )


def test_an_unknown_person_acknowledges_nothing(org_engine: Engine, policy: Policy) -> None:
    _assigned(org_engine, policy)
    check = _task(org_engine, "daily_check", "person:wang")
    with pytest.raises(NotFound, match="unknown person 'ghost'"):
        _ack(org_engine, policy, check, "ghost")
    assert _task(org_engine, "daily_check", "person:wang").state == "open"


def test_a_mediator_of_another_grid_cannot_mark_a_colleagues_task_seen(
    org_engine: Engine, policy: Policy
) -> None:
    _assigned(org_engine, policy)
    check = _task(org_engine, "daily_check", "person:wang")
    with pytest.raises(BadInput, match="zhao cannot acknowledge task .*: it is for person:wang"):
        _ack(org_engine, policy, check, "zhao")


def test_the_township_supervisor_may_mark_a_village_mediators_task_seen(
    org_engine: Engine, policy: Policy
) -> None:
    _assigned(org_engine, policy)
    check = _task(org_engine, "daily_check", "person:wang")
    done = _ack(org_engine, policy, check, "li")
    assert done.state == "acknowledged" and not done.already


def test_a_second_acknowledgement_of_a_cadence_task_changes_nothing_and_says_so(
    org_engine: Engine, policy: Policy
) -> None:
    _assigned(org_engine, policy)
    check = _task(org_engine, "daily_check", "person:wang")
    _ack(org_engine, policy, check, None)  # as wang, the person it is for
    again = _ack(org_engine, policy, check, "wang")
    assert again.already and again.state == "acknowledged"


def test_an_acknowledge_event_that_closes_nothing_is_refused_and_nothing_is_recorded(
    org_engine: Engine, policy: Policy
) -> None:
    dispute = _assigned(org_engine, policy)
    with pytest.raises(BadInput, match="zhao cannot acknowledge dispute .*person:wang"):
        acknowledge_dispute(
            engine=org_engine,
            policy=policy,
            now=LATER,
            actor=Actor(person="zhao"),
            dispute_id=dispute,
            event=NewEvent("acknowledge", at=LATER),
        )
    assert _task(org_engine, "acknowledge", "person:wang").state == "open"
    acknowledge_dispute(
        engine=org_engine,
        policy=policy,
        now=LATER,
        actor=Actor(person="wang"),
        dispute_id=dispute,
        event=NewEvent("acknowledge", at=LATER),
    )
    assert _task(org_engine, "acknowledge", "person:wang").state == "done"


def test_the_supervisor_told_of_a_missed_acknowledgement_is_told_what_they_can_do(
    org_engine: Engine, policy: Policy
) -> None:
    _assigned(org_engine, policy)
    remind(engine=org_engine, policy=policy, now=MONDAY + timedelta(hours=5))
    with reading(org_engine) as session:
        (up,) = session.exec(
            select(OutboxMessage).where(col(OutboxMessage.key).contains(":unacknowledged:"))
        ).all()
    assert up.recipient == "person:li"
    assert "--by wang" not in up.body and "wang" in up.body
    assert up.body.endswith(f"fengqiao tasks ack {up.task_id} --by <id>")
    delivered = linked(up.body, act=up.act, link=up.link, base_url="https://fq.example.cn")
    assert delivered.endswith(f"https://fq.example.cn/disputes/{up.dispute_id}")
    assert "fengqiao" not in delivered
