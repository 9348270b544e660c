"""Transactions on real databases: one that only reads holds no write lock, and sees one
snapshot."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlmodel import Session

from workflows.db import reading, transaction


def _units(session: Session) -> int:
    return int(session.execute(text("SELECT count(*) FROM units")).scalar_one())


def test_a_reading_transaction_lets_a_writer_commit_meanwhile_and_keeps_its_snapshot(
    engine: Engine,
) -> None:
    with reading(engine) as reader:
        before = _units(reader)
        # Had the reader taken SQLite's write lock, this would wait for it (30 s, then fail).
        with transaction(engine) as writer:
            writer.execute(
                text(
                    "INSERT INTO units (code, name, level, contacts) "
                    "VALUES ('x', 'x', 'county', '{}')"
                )
            )
        assert _units(reader) == before  # the reader's snapshot
    with reading(engine) as again:
        assert _units(again) == before + 1
