"""The workflows against real databases: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlmodel import SQLModel, col, select

from models.tables import Dispute, DisputeEvent, Escalation, Obligation, RuleChange
from rules.policy import Policy
from tests.conftest import dump
from tests.integration.support import MONDAY, SHANGHAI, record, report
from workflows.db import is_current, migrate, transaction
from workflows.disputes import NewEvent, record_event, reevaluate
from workflows.errors import BadInput
from workflows.rollout import apply_rules


def test_init_is_idempotent_and_builds_every_table_of_the_model(engine: Engine) -> None:
    migrate(engine)
    assert is_current(engine)
    tables = set(inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables


def test_the_schema_has_the_same_columns_and_indexes_as_the_model(engine: Engine) -> None:
    inspector = inspect(engine)
    for name, table in SQLModel.metadata.tables.items():
        assert {c["name"] for c in inspector.get_columns(name)} == {c.name for c in table.columns}
        indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes(name)}
        for index in table.indexes:
            assert tuple(c.name for c in index.columns) in indexed


def test_the_migrations_build_exactly_the_schema_the_tables_declare(engine: Engine) -> None:
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []


def test_the_sweeps_claim_reads_due_disputes_in_order_off_the_index(org_engine: Engine) -> None:
    query = (
        "SELECT id FROM disputes WHERE next_decision_at < :t "
        "ORDER BY next_decision_at, id LIMIT 500"
    )
    with org_engine.connect() as connection:
        if org_engine.dialect.name == "sqlite":
            plan = connection.execute(text("EXPLAIN QUERY PLAN " + query), {"t": "2030-01-01"})
            steps = " ".join(str(row) for row in plan)
        else:
            # An empty table: tell the planner what a big one would make it choose.
            connection.execute(text("SET enable_seqscan = off"))
            connection.execute(text("SET enable_bitmapscan = off"))
            plan = connection.execute(text("EXPLAIN " + query), {"t": "2030-01-01"})
            steps = " ".join(row[0] for row in plan)
    assert "ix_disputes_next_decision" in steps
    assert "TEMP B-TREE" not in steps and "Sort" not in steps  # no sort of the due set


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
    with transaction(org_engine) as session:
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
    with transaction(org_engine) as session:
        owed = {
            o.kind: o
            for o in session.exec(select(Obligation).where(Obligation.dispute_id == dispute_id))
        }
    assert owed["daily_check"].due_at == datetime(2026, 11, 4, tzinfo=SHANGHAI)
    assert owed["weekly_assessment"].due_at == datetime(2026, 11, 10, tzinfo=SHANGHAI)
    assert {o.rules_version for o in owed.values()} == {policy.version}


def test_what_is_due_before_a_moment_is_an_index_range_scan(org_engine: Engine) -> None:
    query = "SELECT dispute_id FROM obligations WHERE due_at < :t ORDER BY due_at"
    with org_engine.connect() as connection:
        if org_engine.dialect.name == "sqlite":
            plan = connection.execute(text("EXPLAIN QUERY PLAN " + query), {"t": "2030-01-01"})
            assert "ix_obligations_due_at" in " ".join(str(row) for row in plan)
        else:
            connection.execute(text("SET enable_seqscan = off"))
            plan = connection.execute(text("EXPLAIN " + query), {"t": "2030-01-01"})
            assert "ix_obligations_due_at" in " ".join(row[0] for row in plan)


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


def test_a_late_event_records_the_escalation_at_the_time_its_threshold_was_crossed(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, by="wang")
    late = datetime(2026, 11, 4, 15, 0, tzinfo=SHANGHAI)  # the check was due at 24:00 on the 3rd
    record(org_engine, policy, dispute_id, "check", late)
    with transaction(org_engine) as session:
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
        with transaction(org_engine) as session:
            reevaluate(
                session=session,
                policy=policy,
                now=MONDAY + timedelta(days=days),
                dispute_id=dispute_id,
            )
    with transaction(org_engine) as session:
        escalations = session.exec(select(Escalation).order_by(col(Escalation.effective_at))).all()
    assert [(e.from_level, e.to_level) for e in escalations] == [
        ("village", "township"),
        ("township", "county"),
    ]


def test_putting_new_rules_in_force_recomputes_open_disputes_and_logs_who_did_it(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, risk="low", by="wang")
    stricter = policy.rules.model_copy(update={"name": "stricter"})
    stricter_obligations = dict(stricter.obligations)
    weekly = stricter_obligations["weekly_assessment"]
    stricter_obligations["weekly_assessment"] = weekly.model_copy(
        update={"due": weekly.due.__class__(3, "d") if weekly.due else None}
    )
    new_policy = Policy.from_ruleset(
        stricter.model_copy(update={"obligations": stricter_obligations}), source="stricter.yaml"
    )
    with transaction(org_engine) as session:
        applied = apply_rules(
            session=session, policy=new_policy, now=MONDAY + timedelta(hours=2), by="admin"
        )
    with transaction(org_engine) as session:
        weekly_row = session.exec(
            select(Obligation).where(
                Obligation.dispute_id == dispute_id, Obligation.kind == "weekly_assessment"
            )
        ).one()
        change = session.exec(select(RuleChange)).one()
    assert applied.disputes_recomputed == 1 and applied.obligations_changed >= 1
    assert weekly_row.due_at == datetime(2026, 11, 6, tzinfo=SHANGHAI)
    assert weekly_row.rules_version == new_policy.version
    assert (change.actor, change.to_version) == ("admin", new_policy.version)


def _chain(engine: Engine, dispute_id: int) -> tuple[str, list[tuple[str, str, datetime]]]:
    with transaction(engine) as session:
        dispute = session.get(Dispute, dispute_id)
        rows = session.exec(select(Escalation).order_by(col(Escalation.effective_at))).all()
    assert dispute is not None
    return dispute.level, [(e.from_level, e.to_level, e.effective_at) for e in rows]


def test_an_event_dated_before_a_recorded_escalation_does_not_replay_it_a_level_higher(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, risk="medium")
    friday = datetime(2026, 11, 6, 12, 0, tzinfo=SHANGHAI)
    record(org_engine, policy, dispute_id, "note", friday, {"text": "nobody checked"})
    recorded = _chain(org_engine, dispute_id)
    assert recorded == (
        "township",
        [("village", "township", datetime(2026, 11, 6, tzinfo=SHANGHAI))],
    )
    backdated = datetime(2026, 11, 3, 12, 0, tzinfo=SHANGHAI)
    with transaction(org_engine) as session:
        record_event(
            session=session,
            policy=policy,
            now=friday + timedelta(hours=1),
            dispute_id=dispute_id,
            event=NewEvent("assess", at=backdated, data={"risk": "high"}),
        )
    assert _chain(org_engine, dispute_id) == recorded


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


def test_new_rules_do_not_reorder_an_escalation_already_recorded(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, risk="high")
    for day in range(2, 7):
        record(
            org_engine, policy, dispute_id, "check", datetime(2026, 11, day, 17, tzinfo=SHANGHAI)
        )
    recorded = _chain(org_engine, dispute_id)
    assert recorded == (
        "township",
        [("village", "township", datetime(2026, 11, 6, tzinfo=SHANGHAI))],
    )
    escalations = [
        rule.model_copy(update={"after": rule.after.__class__(1, "d")})
        if rule.id == "village-high-unresolved"
        else rule
        for rule in policy.rules.escalations
    ]
    faster = Policy.from_ruleset(
        policy.rules.model_copy(update={"escalations": escalations}), source="faster.yaml"
    )
    with transaction(org_engine) as session:
        apply_rules(
            session=session,
            policy=faster,
            now=datetime(2026, 11, 6, 18, tzinfo=SHANGHAI),
            by="admin",
        )
    assert _chain(org_engine, dispute_id) == recorded
