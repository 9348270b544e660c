"""Engines, transactions and schema migration, for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlmodel import Session

import models.migrations
from workflows.keys import keyring_source

__all__ = [
    "database_now",
    "dialect_insert",
    "insert_ignoring_duplicates",
    "is_current",
    "make_engine",
    "migrate",
    "normalise_url",
    "reading",
    "refresh_statistics",
    "transaction",
]

_MIGRATIONS = Path(models.migrations.__file__).parent


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    """An engine that never puts statement parameters (parties' data) into error messages,
    and seals the parties' data with the keyring of ``url`` (workflows.keys)."""
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
    engine.dialect.fengqiao_keyring = keyring_source(url)  # type: ignore[attr-defined]
    return engine


def _sqlite_begin(connection: Any) -> None:
    """Take SQLite's write lock at BEGIN, so two writers queue instead of losing an update;
    a reading transaction takes none (it reads one snapshot of the write-ahead log)."""
    if connection.get_execution_options().get(_READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


_READ_ONLY = "fengqiao_read_only"


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let the "begin" listener issue BEGIN
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def refresh_statistics(engine: Engine) -> None:
    """On SQLite, gather the query planner's statistics (ANALYZE, sampling at most 1,000
    rows of each index: a tenth of a second on a province). Without them SQLite chose the
    status index for a township's high-risk overdue queue and read a million rows (0.44 s
    instead of 4 ms, bench/web.py). PostgreSQL keeps its own (autovacuum)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA analysis_limit=1000")
        connection.exec_driver_sql("ANALYZE")
        connection.commit()


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One transaction: committed if the block succeeds, rolled back entirely if it raises."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """One transaction that only reads: one snapshot of the database, holding no write lock
    (on SQLite a deferred BEGIN; on PostgreSQL REPEATABLE READ, READ ONLY)."""
    options: dict[str, Any] = {_READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    with (
        Session(engine.execution_options(**options), expire_on_commit=False) as session,
        session.begin(),
    ):
        yield session


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def migrate(engine: Engine, *, revision: str = "head") -> None:
    """Create or upgrade the schema to the newest revision (or to ``revision``); running it
    again does nothing."""
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def is_current(engine: Engine) -> bool:
    """True if the database schema is at the newest revision."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


def dialect_insert(session: Session) -> Any:
    """The database's own INSERT construct, which knows ON CONFLICT."""
    dialect = session.get_bind().dialect.name
    return postgresql_insert if dialect == "postgresql" else sqlite_insert


def insert_ignoring_duplicates(session: Session, model: Any, rows: list[dict[str, Any]]) -> int:
    """Insert rows, skipping those a unique constraint already holds (the idempotency key);
    return how many were new."""
    if not rows:
        return 0
    insert = dialect_insert(session)
    keys = list(model.__table__.primary_key.columns)
    # Counted from RETURNING: psycopg gives a rowcount of -1 for a row inserted this way.
    outcome = session.execute(insert(model).values(rows).on_conflict_do_nothing().returning(*keys))
    return len(outcome.all())


def database_now(engine: Engine) -> datetime:
    """The database server's clock, as an aware UTC time.

    Workers on many machines compare due times with this one clock, so a worker whose own
    clock is minutes off escalates nothing early. SQLite is embedded: its clock is this
    machine's.
    """
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            value: datetime = connection.exec_driver_sql("SELECT clock_timestamp()").scalar_one()
            return value.astimezone(UTC)
        text = connection.exec_driver_sql(
            "SELECT strftime('%Y-%m-%dT%H:%M:%f', 'now')"
        ).scalar_one()
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
