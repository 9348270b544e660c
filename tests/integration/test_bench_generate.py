"""The benchmark generator writes what the engine would have written: each generated dispute
has exactly the rows that recording its history through the real code writes, and the
disputes due for a decision are exactly the ones it says."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import SQLModel, col, select

from bench.generate import (
    DISPUTE_TABLES,
    Generated,
    Org,
    bump_ids,
    generate,
    load_org_of,
    run_script,
    script_named,
)
from models.sealing import Keyring
from models.tables import (
    Dispute,
    DisputeEvent,
    Escalation,
    Obligation,
    OutboxMessage,
    Person,
    RuleSetRecord,
    Task,
    Unit,
)
from rules.policy import Policy
from tests.support.db import dump
from tests.support.recording import ENGINE, SHANGHAI
from workflows.db import make_engine, migrate, reading, transaction
from workflows.keys import KEY_ENV
from workflows.sweeps import escalation_sweep, sweep_disputes

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=SHANGHAI)  # a Monday
# Some scripts of each risk, due and not, at village, township and county, with and without
# assignment, mediation and checks: few enough to play in a second or two.
CHOSEN = [
    script_named(name)
    for name in (
        "low-new-41d",
        "low-mediating-31.3d",
        "low-new-30.7d",
        "low-mediating-9.1d",
        "medium-lapsed-15.4d",
        "medium-checked-5.2d",
        "medium-new-8.4d",
        "high-new-16.2d",
        "high-new-5.1d",
        "high-lapsed-3.3d",
        "high-checked-0.9d",
    )
]
OPEN, DUE = 240, 24
MODELS: list[type[SQLModel]] = [
    Unit,
    Person,
    RuleSetRecord,
    Dispute,
    DisputeEvent,
    Obligation,
    Task,
    OutboxMessage,
    Escalation,
]


@pytest.fixture(scope="module")
def sqlite_generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Generated]:
    url = f"sqlite:///{tmp_path_factory.mktemp('generated') / 'generated.db'}"
    return url, generate(url, open_disputes=OPEN, due=DUE, now=NOW, seed=3, chosen=CHOSEN)


@pytest.fixture
def generated_engine(sqlite_generated: tuple[str, Generated]) -> Iterator[Engine]:
    engine = make_engine(sqlite_generated[0])
    yield engine
    engine.dispose()


def _due_ids(engine: Engine) -> list[int]:
    with reading(engine) as session:
        return list(session.exec(select(Dispute.id).where(col(Dispute.next_decision_at) < NOW)))


def test_generated_county_has_the_organisation_and_disputes_asked_for(
    sqlite_generated: tuple[str, Generated],
) -> None:
    url, result = sqlite_generated
    assert (result.open, len(result.due_ids)) == (OPEN, DUE)
    assert (result.villages, result.townships, result.counties) == (10, 1, 1)
    assert result.people == 12
    assert sum(count for _, count, _ in result.blocks) == OPEN
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
        assert db.execute("SELECT count(*) FROM disputes").fetchone() == (OPEN,)
        statuses = {s for (s,) in db.execute("SELECT DISTINCT status FROM disputes")}
        assert statuses <= {"reported", "mediating"}
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_the_disputes_due_for_a_decision_are_exactly_the_due_ones(
    sqlite_generated: tuple[str, Generated], generated_engine: Engine
) -> None:
    assert sorted(_due_ids(generated_engine)) == sorted(sqlite_generated[1].due_ids)


def _org_of(db: sqlite3.Connection, dispute_id: int) -> Org:
    village, township, county = db.execute(
        "SELECT village_code, township_code, county_code FROM disputes WHERE id = ?",
        (dispute_id,),
    ).fetchone()

    def person(unit: str) -> str:
        (found,) = db.execute("SELECT id FROM people WHERE unit_code = ?", (unit,)).fetchone()
        return str(found)

    return Org(county, township, village, person(village), person(township), person(county))


def _rows(db: sqlite3.Connection, table: str, dispute_id: int) -> list[tuple[Any, ...]]:
    """The rows of a dispute in ``table``, a sealed value opened (each sealing differs)."""
    key = "id" if table == "disputes" else "dispute_id"
    rows = db.execute(f"SELECT * FROM {table} WHERE {key} = ? ORDER BY id", (dispute_id,))
    return [tuple(_opened(value) for value in row) for row in rows.fetchall()]


def _opened(value: Any) -> Any:
    if isinstance(value, str) and value.startswith('"fq1:'):
        keyring = Keyring.from_text(os.environ[KEY_ENV], where=KEY_ENV)  # the tests' key
        return json.loads(keyring.open(json.loads(value)))
    return value


def test_each_generated_dispute_has_the_rows_its_history_writes_through_the_real_code(
    sqlite_generated: tuple[str, Generated], policy: Policy, tmp_path: Path
) -> None:
    url, result = sqlite_generated
    replay_url = f"sqlite:///{tmp_path / 'replay.db'}"
    engine = make_engine(replay_url)
    migrate(engine)
    generated = sqlite3.connect(url.removeprefix("sqlite:///"))
    # The first dispute of every template and the last one generated, in id order: each
    # replayed with the ids it was given, in its village.
    samples = sorted({first for first, _, _ in result.blocks} | {OPEN})
    names = {first + k: name for first, n, name in result.blocks for k in range(n)}
    loaded: set[str] = set()
    for dispute_id in samples:
        org = _org_of(generated, dispute_id)
        if org.village not in loaded:
            load_org_of(engine, org, tmp_path)
            loaded.add(org.village)
        with closing(sqlite3.connect(tmp_path / "replay.db")) as replay:
            bumps = {}
            for table in DISPUTE_TABLES:
                rows = _rows(generated, table, dispute_id)
                (largest,) = replay.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()
                if rows and rows[0][0] != largest + 1:
                    assert rows[0][0] > largest + 1
                    bumps[table] = rows[0][0]
        bump_ids(engine, bumps, org=org)
        replayed = run_script(engine, policy, script_named(names[dispute_id]), org=org, now=NOW)
        assert replayed == dispute_id
    engine.dispose()
    with closing(sqlite3.connect(tmp_path / "replay.db")) as replay:
        for dispute_id in samples:
            for table in DISPUTE_TABLES:
                assert _rows(generated, table, dispute_id) == _rows(replay, table, dispute_id), (
                    f"{names[dispute_id]}: {table} of dispute {dispute_id}"
                )
        for table, key in (("units", "code"), ("people", "id")):
            keys = [k for (k,) in replay.execute(f"SELECT {key} FROM {table}")]
            marks = ", ".join("?" * len(keys))
            query = f"SELECT * FROM {table} WHERE {key} IN ({marks}) ORDER BY {key}"
            assert (
                generated.execute(query, keys).fetchall() == replay.execute(query, keys).fetchall()
            )
    generated.close()


def test_re_evaluating_a_dispute_that_is_not_due_changes_nothing(
    sqlite_generated: tuple[str, Generated], generated_engine: Engine, policy: Policy
) -> None:
    due = set(sqlite_generated[1].due_ids)
    before = dump(generated_engine)
    for first, _, _ in sqlite_generated[1].blocks:
        if first in due:
            continue
        outcome = sweep_disputes(
            [first], engine=generated_engine, policy=policy, now=NOW, flow="escalation"
        )
        assert (outcome.obligations_changed, outcome.decisions) == (0, 0)
    assert dump(generated_engine) == before


def test_the_escalation_sweep_at_now_decides_on_every_due_dispute_and_no_other(
    sqlite_generated: tuple[str, Generated], policy: Policy, tmp_path: Path
) -> None:
    url, result = sqlite_generated
    copy = tmp_path / "swept.db"
    shutil.copy(url.removeprefix("sqlite:///"), copy)
    engine = make_engine(f"sqlite:///{copy}")
    swept = escalation_sweep(engine=engine, policy=policy, now=NOW, actor=ENGINE)
    with reading(engine) as session:
        decided = set(
            session.exec(
                select(DisputeEvent.dispute_id).where(
                    col(DisputeEvent.recorded_at) == NOW,
                    col(DisputeEvent.kind).in_(("escalate", "supervise")),
                )
            ).all()
        )
    engine.dispose()
    assert (swept.examined, swept.failed) == (DUE, [])
    assert decided == set(result.due_ids)


def _content(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with reading(engine) as session:
        return {
            model.__name__: [
                row.model_dump()
                for row in session.exec(select(model).order_by(*_order(model))).all()
            ]
            for model in MODELS
        }


def _order(model: type[SQLModel]) -> list[Any]:
    table = model.__table__  # type: ignore[attr-defined]
    return [col(c) for c in table.primary_key.columns]


def test_postgresql_gets_the_same_rows_as_sqlite(
    sqlite_generated: tuple[str, Generated], generated_engine: Engine, postgres_url: str
) -> None:
    result = generate(postgres_url, open_disputes=OPEN, due=DUE, now=NOW, seed=3, chosen=CHOSEN)
    assert result.due_ids == sqlite_generated[1].due_ids
    engine = make_engine(postgres_url)
    try:
        assert sorted(_due_ids(engine)) == sorted(result.due_ids)
        assert _content(engine) == _content(generated_engine)
        with transaction(engine) as session:  # the sequences go on after the copied ids
            dispute = session.get(Dispute, 1)
            assert dispute is not None
            clone = Dispute(**dispute.model_dump(exclude={"id"}))
            session.add(clone)
            session.flush()
            assert clone.id == OPEN + 1
            session.rollback()
    finally:
        engine.dispose()


def test_a_database_that_already_holds_data_is_refused(
    sqlite_generated: tuple[str, Generated],
) -> None:
    with pytest.raises(ValueError, match="already holds data"):
        generate(sqlite_generated[0], open_disputes=10, due=1, now=NOW, chosen=CHOSEN[:2])
