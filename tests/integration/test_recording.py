"""Recording events on real databases (SQLite and PostgreSQL): the log, the obligations,
the escalations that fell due, and refusals that change nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import Dispute, DisputeEvent, Escalation, Obligation
from models.values import Actor
from rules.policy import Policy
from tests.support.db import dump, load_county
from tests.support.recording import MONDAY, SHANGHAI, escalation_chain, record, report
from workflows.db import reading
from workflows.errors import BadInput
from workflows.recording import NewEvent, record_event
from workflows.sweeps import sweep_disputes


def test_a_dispute_recorded_through_to_closed_keeps_an_ordered_append_only_log(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, by="wang")
    steps = [
        ("assign", {"person": "wang"}),
        ("check", None),
        ("mediate", {"method": "people"}),
        ("resolve", {"method": "people", "agreement": "written"}),
        ("visit", {"outcome": "stable"}),
    ]
    for hours, (kind, data) in enumerate(steps, start=1):
        record(org_engine, policy, dispute_id, kind, MONDAY + timedelta(hours=hours), data)
    with reading(org_engine) as session:
        dispute = session.get(Dispute, dispute_id)
        events = session.exec(
            select(DisputeEvent)
            .where(DisputeEvent.dispute_id == dispute_id)
            .order_by(col(DisputeEvent.seq))
        ).all()
        owed = session.exec(select(Obligation).where(Obligation.dispute_id == dispute_id)).all()
    assert dispute is not None and dispute.status == "closed" and dispute.assignee == "wang"
    assert [e.kind for e in events] == ["report", *[k for k, _ in steps]]
    assert [e.seq for e in events] == list(range(1, len(steps) + 2))
    assert all(e.rules_version == policy.version for e in events)
    assert owed == []


def test_obligations_are_stored_with_due_times_and_the_rule_version(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, by="wang")
    with reading(org_engine) as session:
        owed = {
            o.kind: o
            for o in session.exec(select(Obligation).where(Obligation.dispute_id == dispute_id))
        }
    assert owed["daily_check"].due_at == datetime(2026, 11, 4, tzinfo=SHANGHAI)
    assert owed["weekly_assessment"].due_at == datetime(2026, 11, 10, tzinfo=SHANGHAI)
    assert {o.rules_version for o in owed.values()} == {policy.version}


def test_a_refused_event_leaves_the_database_exactly_as_before(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, by="wang")
    before = dump(org_engine)
    with pytest.raises(BadInput, match="cannot visit a reported dispute"):
        record(
            org_engine,
            policy,
            dispute_id,
            "visit",
            MONDAY + timedelta(hours=1),
            {"outcome": "stable"},
        )
    assert dump(org_engine) == before


def test_text_with_a_nul_character_is_refused_before_either_database_sees_it(
    org_engine: Engine, policy: Policy
) -> None:
    from workflows.recording import NewDispute, report_dispute

    dispute_id = report(org_engine, policy, by="wang")
    before = dump(org_engine)
    later = MONDAY + timedelta(hours=1)
    for data in ({"text": "a\x00b"}, {"text": "x", "note": "\x00"}):
        with pytest.raises(BadInput, match="NUL character"):
            record(org_engine, policy, dispute_id, "note", later, data)
    with pytest.raises(BadInput, match="assign data: person: text may not contain a NUL"):
        record(org_engine, policy, dispute_id, "assign", later, {"person": "wa\x00ng"})
    for given in (
        {"title": "t\x00"},
        {"unit": "33010101\x00"},
        {"parties": [{"name": "张\x00"}]},
        {"parties": [{"\x00": "x"}]},
    ):
        fields = {"unit": "33010101", "risk": "low", "category": "邻里纠纷", "title": "t"}
        with pytest.raises(BadInput, match="NUL character"):
            report_dispute(
                engine=org_engine,
                policy=policy,
                now=later,
                actor=Actor("wang"),
                dispute=NewDispute(**(fields | given)),  # type: ignore[arg-type]
            )
    assert dump(org_engine) == before


@pytest.mark.parametrize(
    "entry",
    [
        'units:\n  - {code: "99", name: "a\\0b", level: county}\n',
        'people:\n  - {id: zhao, name: 赵, role: mediator, unit: "33010101",'
        ' contacts: {email: "z\\0@example.org"}}\n',
    ],
)
def test_an_org_file_with_a_nul_character_is_refused_at_its_line_on_either_database(
    org_engine: Engine, tmp_path: Path, entry: str
) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(entry, encoding="utf-8")
    before = dump(org_engine)
    with pytest.raises(
        BadInput, match=r"org.yaml:2: (units|people)\[0\]\.\w+: may not contain a NUL"
    ):
        load_county(org_engine, path)
    assert dump(org_engine) == before


def test_a_late_event_records_the_escalation_at_the_time_its_threshold_was_crossed(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, by="wang")
    late = datetime(2026, 11, 4, 15, 0, tzinfo=SHANGHAI)  # the check was due at 24:00 on the 3rd
    record(org_engine, policy, dispute_id, "check", late)
    with reading(org_engine) as session:
        escalations = session.exec(select(Escalation)).all()
        dispute = session.get(Dispute, dispute_id)
    assert [(e.from_level, e.to_level, e.to_unit, e.rule, e.effective_at) for e in escalations] == [
        (
            "village",
            "township",
            "330101",
            "village-high-missed-check",
            datetime(2026, 11, 4, tzinfo=SHANGHAI),
        ),
    ]
    assert dispute is not None and dispute.level == "township" and dispute.unit_code == "330101"


def test_evaluating_again_later_records_each_escalation_once(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, by="wang")
    for days in (3, 3, 10, 10):
        sweep_disputes(
            [dispute_id],
            engine=org_engine,
            policy=policy,
            now=MONDAY + timedelta(days=days),
            flow="escalation",
        )
    with reading(org_engine) as session:
        escalations = session.exec(select(Escalation).order_by(col(Escalation.effective_at))).all()
    assert [(e.from_level, e.to_level) for e in escalations] == [
        ("village", "township"),
        ("township", "county"),
    ]


def test_an_event_dated_before_a_recorded_escalation_does_not_replay_it_a_level_higher(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, risk="medium")
    friday = datetime(2026, 11, 6, 12, 0, tzinfo=SHANGHAI)
    record(org_engine, policy, dispute_id, "note", friday, {"text": "nobody checked"})
    recorded = escalation_chain(org_engine, dispute_id)
    assert recorded == (
        "township",
        [("village", "township", datetime(2026, 11, 6, tzinfo=SHANGHAI))],
    )
    backdated = datetime(2026, 11, 3, 12, 0, tzinfo=SHANGHAI)
    record_event(
        engine=org_engine,
        policy=policy,
        now=friday + timedelta(hours=1),
        actor=Actor(),
        dispute_id=dispute_id,
        event=NewEvent("assess", at=backdated, data={"risk": "high"}),
    )
    assert escalation_chain(org_engine, dispute_id) == recorded


def test_a_level_change_dated_before_the_last_recorded_escalation_is_refused(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, risk="medium")
    friday = datetime(2026, 11, 6, 12, 0, tzinfo=SHANGHAI)
    record(org_engine, policy, dispute_id, "note", friday, {"text": "nobody checked"})
    before = dump(org_engine)
    with pytest.raises(BadInput, match="dated before the last recorded escalation"):
        record(org_engine, policy, dispute_id, "handback", datetime(2026, 11, 4, tzinfo=SHANGHAI))
    assert dump(org_engine) == before
