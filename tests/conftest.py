"""Shared fixtures: the default policy, and databases to run the same tests against.

PostgreSQL tests read the server's URL from FENGQIAO_TEST_POSTGRES_URL (``.ci/run`` sets
it). Without it, or without a reachable server, they are skipped with the reason shown;
with FENGQIAO_REQUIRE_POSTGRES=1 (set in CI) that is a failure instead.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from models.sealing import Keyring
from rules.policy import Policy, load_policy
from tests.support.db import load_county
from workflows.db import make_engine, migrate, normalise_url

# Prefect keeps its state under PREFECT_HOME: a scratch one, never the developer's.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="fengqiao-prefect-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The key that seals the parties' data, for the databases made in this process (PostgreSQL
# needs one given; the command line run by the e2e tests makes a SQLite file's own).
os.environ.setdefault("FENGQIAO_DATA_KEY", Keyring.generate().to_text())

PG_URL = os.environ.get("FENGQIAO_TEST_POSTGRES_URL")
REQUIRE_PG = os.environ.get("FENGQIAO_REQUIRE_POSTGRES") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRE_PG:
        pytest.fail(f"PostgreSQL is required here (FENGQIAO_REQUIRE_POSTGRES=1): {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    if not PG_URL:
        _unavailable("FENGQIAO_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    assert PG_URL is not None
    try:
        probe = create_engine(normalise_url(PG_URL))
        with probe.connect() as connection:
            connection.execute(text("select 1"))
        probe.dispose()
    except Exception as exc:  # any failure to connect means: not reachable here
        _unavailable(f"PostgreSQL at {PG_URL} is not reachable: {exc.__class__.__name__}")
    return PG_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"fengqiao_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(postgres_server), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_url(postgres_server)).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test, once on a SQLite file and once on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fengqiao.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def org_engine(engine: Engine) -> Engine:
    """A migrated database holding the example county of ``examples/org.yaml``."""
    load_county(engine)
    return engine


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests run last: pytest-playwright's session-wide Playwright keeps an event
    loop running in the main thread from its first use to the end of the session, and every
    later ``asyncio.run()`` (Prefect's, for one) would fail (microsoft/playwright-pytest#167)."""

    def browsing(item: pytest.Item) -> bool:
        return "browser" in getattr(item, "fixturenames", ())

    items[:] = [i for i in items if not browsing(i)] + [i for i in items if browsing(i)]
