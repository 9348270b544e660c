"""The schema on real databases (SQLite and PostgreSQL): the migrations build exactly what
the tables declare, and the sweeps' queries read off their indexes."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text
from sqlmodel import SQLModel

from models.tables import Dispute
from workflows.db import is_current, make_engine, migrate

DISPUTES = Dispute.__table__  # type: ignore[attr-defined]


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


MESSAGES = {
    "task:1:assigned": "assigned",
    "task:2:escalated": "escalated",
    "task:3:before-24h:2026-11-09T16:00:00+00:00": "reminder",
    "task:3:due:2026-11-10T16:00:00+00:00": "due",
    "task:4:due:2026-11-02T03:00:00+00:00": "due",
    "task:4:unacknowledged:2026-11-02T05:00:00+00:00": "unacknowledged",
    "digest:person:wang:2026-11-03": "digest",
    "undeliverable:17": "undeliverable",
}


def test_upgrading_an_older_database_keeps_its_disputes_and_gives_each_message_its_kind(
    db_url: str,
) -> None:
    engine = make_engine(db_url)
    migrate(engine, revision="0004")
    when = "2026-11-02 01:00:00"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO units (code, name, level, contacts) VALUES ('v', 'v', 'village', '{}')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO disputes (category, title, risk, status, level, unit_code, "
                "origin_unit, village_code, township_code, county_code, people_involved, "
                "parties, reported_at, level_since, paused, supervised, last_seq, rules_version) "
                "VALUES ('c', 't', 'low', 'reported', 'village', 'v', 'v', 'v', 't', 'c', 1, "
                "'[]', :when, :when, false, false, 1, 'x')"
            ),
            {"when": when},
        )
        for key in MESSAGES:
            connection.execute(
                text(
                    "INSERT INTO outbox (key, recipient, channel, address, title, body, state, "
                    "attempts, next_attempt_at, created_at) VALUES (:key, 'person:wang', "
                    "'email', 'wang@example.org', 't', 'b', 'pending', 0, :when, :when)"
                ),
                {"key": key, "when": when},
            )
        for kind, due, state in (
            ("daily_check", "2026-11-05 16:00:00", "open"),
            ("acknowledge", "2026-11-03 03:00:00", "open"),
            ("acknowledge", "2026-11-02 03:00:00", "done"),  # no longer owed
        ):
            connection.execute(
                text(
                    "INSERT INTO tasks (dispute_id, kind, target, due_at, state, created_at, "
                    "rules_version, risk, reminders_sent) VALUES (1, :kind, 'unit:v', :due, "
                    ":state, :when, 'x', 'low', 0)"
                ),
                {"kind": kind, "due": due, "state": state, "when": when},
            )
        connection.execute(
            text(
                "INSERT INTO obligations (dispute_id, kind, due_at, rule, rules_version, "
                "overdue_noted) VALUES (1, 'daily_check', '2026-11-05 16:00:00', 'r', 'x', false)"
            )
        )
    migrate(engine)
    with engine.connect() as connection:
        kinds = dict(connection.execute(text("SELECT key, kind FROM outbox")).all())
        reported, rank, attention = connection.execute(
            select(DISPUTES.c.reported_unit, DISPUTES.c.risk_rank, DISPUTES.c.attention_at)
        ).one()
    engine.dispose()
    assert kinds == MESSAGES
    assert (reported, rank) == ("v", 2)
    # the next deadline: the open acknowledgement, due before the obligation
    assert attention == datetime(2026, 11, 3, 3, tzinfo=UTC)
