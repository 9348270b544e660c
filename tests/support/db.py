"""The example county, and a database's whole content: to prove that nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, text

from models.values import OPERATOR, Actor
from rules.policy import Policy, load_policy
from workflows.db import make_engine
from workflows.reorganising import load_org

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_ORG = REPO / "examples" / "org.yaml"
TWO_TOWNSHIPS = REPO / "tests" / "support" / "org_two_townships.yaml"  # for tests of scope


# When the tests' org files are loaded, unless a test says: before any of their disputes.
ORG_LOADED_AT = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


@cache
def _shipped() -> Policy:
    return load_policy()


def load_county(
    engine: Engine,
    path: Path = EXAMPLE_ORG,
    *,
    now: datetime = ORG_LOADED_AT,
    policy: Policy | None = None,
    actor: Actor = OPERATOR,
) -> Any:
    """Load an org file (by default the example county of ``examples/org.yaml``) at
    ``now``, under ``policy`` (the shipped rules); its summary."""
    return load_org(engine=engine, policy=policy or _shipped(), now=now, actor=actor, path=path)


def dump_file(directory: Path) -> dict[str, list[tuple[Any, ...]]]:
    """:func:`dump` of the SQLite file ``fengqiao.db`` a command ran on in ``directory``."""
    engine = make_engine(f"sqlite:///{directory / 'fengqiao.db'}")
    try:
        return dump(engine)
    finally:
        engine.dispose()


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: to prove that nothing changed."""
    tables = sorted(inspect(engine).get_table_names())
    content: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for table in tables:
            rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()
            content[table] = sorted(tuple(map(repr, row)) for row in rows)
    return content
