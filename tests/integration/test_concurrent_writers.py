"""Two or more writers on the same dispute at once: every event lands, none is lost."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import Dispute, DisputeEvent, RuleSetRecord
from models.values import Actor
from rules.policy import Policy
from tests.support.recording import report, run_together
from workflows.db import reading
from workflows.recording import NewEvent, record_event

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
WRITERS = 4
EVENTS_EACH = 10


def test_concurrent_writers_on_one_dispute_lose_no_event_and_no_update(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(
        org_engine, policy, unit="33010101", risk="medium", category="合同纠纷", title="并发写入"
    )
    now = MONDAY + timedelta(hours=1)

    def writer(number: int) -> None:
        for index in range(EVENTS_EACH):
            record_event(
                engine=org_engine,
                policy=policy,
                now=now,
                actor=Actor(),
                dispute_id=dispute_id,
                event=NewEvent("note", data={"text": f"writer {number} #{index}"}),
            )

    run_together(WRITERS, writer)
    with reading(org_engine) as session:
        events = session.exec(
            select(DisputeEvent)
            .where(DisputeEvent.dispute_id == dispute_id)
            .order_by(col(DisputeEvent.seq))
        ).all()
        stored = session.get(Dispute, dispute_id)
    total = 1 + WRITERS * EVENTS_EACH
    assert [e.seq for e in events] == list(range(1, total + 1))
    assert sorted(e.data["text"] for e in events[1:]) == sorted(
        f"writer {n} #{i}" for n in range(WRITERS) for i in range(EVENTS_EACH)
    )
    assert stored is not None and stored.last_seq == total


def test_writers_meeting_a_new_rule_version_at_once_store_it_once(
    org_engine: Engine, policy: Policy
) -> None:
    ids = [
        report(org_engine, policy, unit="33010101", risk="low", category="other", title=f"d{n}")
        for n in range(WRITERS)
    ]
    renamed = Policy.from_ruleset(
        policy.rules.model_copy(update={"name": "draft"}), source="draft.yaml"
    )

    def writer(number: int) -> None:
        record_event(
            engine=org_engine,
            policy=renamed,
            now=MONDAY,
            actor=Actor(),
            dispute_id=ids[number],
            event=NewEvent("note", data={"text": "x"}),
        )

    run_together(WRITERS, writer)
    with reading(org_engine) as session:
        versions = session.exec(select(RuleSetRecord.version)).all()
    assert sorted(versions) == sorted({policy.version, renamed.version})
