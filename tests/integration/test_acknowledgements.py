"""Acknowledgement tasks (签收), written with the events that cause them; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import Task
from rules.policy import Policy
from tests.support.recording import MONDAY, record, report
from workflows.db import reading
from workflows.errors import BadInput


def _tasks(engine: Engine) -> list[tuple[str, str, datetime, datetime | None]]:
    with reading(engine) as session:
        rows = session.exec(
            select(Task).where(Task.kind == "acknowledge").order_by(col(Task.id))
        ).all()
    return [(t.target, t.state, t.due_at, t.closed_at) for t in rows]


def test_an_assignment_owes_an_acknowledgement_by_the_deadline_for_its_risk(
    org_engine: Engine, policy: Policy
) -> None:
    dispute = report(org_engine, policy, risk="medium", unit="33010101")
    record(org_engine, policy, dispute, "assign", MONDAY, by="li", data={"person": "wang"})
    assert _tasks(org_engine) == [("person:wang", "open", MONDAY + timedelta(hours=24), None)]


def test_acknowledging_closes_the_task_and_reassigning_cancels_the_old_one(
    org_engine: Engine, policy: Policy
) -> None:
    dispute = report(org_engine, policy, risk="high", unit="33010101")
    record(org_engine, policy, dispute, "assign", MONDAY, by="li", data={"person": "wang"})
    later = MONDAY + timedelta(minutes=30)
    record(org_engine, policy, dispute, "assign", later, by="li", data={"person": "zhao"})
    acked = later + timedelta(minutes=10)
    record(org_engine, policy, dispute, "acknowledge", acked, by="zhao")
    assert _tasks(org_engine) == [
        ("person:wang", "cancelled", MONDAY + timedelta(hours=2), later),
        ("person:zhao", "done", later + timedelta(hours=2), acked),
    ]


def test_an_escalation_owes_an_acknowledgement_by_the_new_units_supervisors(
    org_engine: Engine, policy: Policy
) -> None:
    dispute = report(org_engine, policy, risk="high", unit="33010101")
    record(org_engine, policy, dispute, "escalate", MONDAY + timedelta(hours=1), by="li")
    acked = MONDAY + timedelta(hours=2)
    record(org_engine, policy, dispute, "acknowledge", acked, by="li")
    assert _tasks(org_engine) == [("unit:330101", "done", MONDAY + timedelta(hours=3), acked)]


def test_an_acknowledgement_without_a_person_is_refused(org_engine: Engine, policy: Policy) -> None:
    dispute = report(org_engine, policy, risk="low", unit="33010101")
    with pytest.raises(BadInput, match="acknowledge needs --by"):
        record(org_engine, policy, dispute, "acknowledge", MONDAY)


def test_resolving_a_dispute_cancels_what_was_left_to_acknowledge(
    org_engine: Engine, policy: Policy
) -> None:
    dispute = report(org_engine, policy, risk="low", unit="33010101")
    record(org_engine, policy, dispute, "assign", MONDAY, by="li", data={"person": "wang"})
    resolved = MONDAY + timedelta(hours=5)
    record(
        org_engine,
        policy,
        dispute,
        "resolve",
        resolved,
        by="wang",
        data={"method": "people", "agreement": "oral"},
    )
    assert _tasks(org_engine) == [
        ("person:wang", "cancelled", MONDAY + timedelta(hours=72), resolved)
    ]
