"""The real ``fengqiao`` entry point, in a scratch directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.cli import Cli, run_in
from tests.support.db import load_county
from workflows.db import make_engine, migrate


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """``cli("dispute", "show", "1", env={...})``: run fengqiao in ``tmp_path``."""
    return run_in(tmp_path)


@pytest.fixture(scope="session")
def county_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the example county, built once and copied for each test."""
    path = tmp_path_factory.mktemp("template") / "fengqiao.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    load_county(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    assert not path.with_name("fengqiao.db-wal").exists()
    return path


@pytest.fixture
def county(cli: Cli, tmp_path: Path, county_template: Path) -> Cli:
    """``cli`` over a database in the scratch directory that holds the example county."""
    shutil.copy(county_template, tmp_path / "fengqiao.db")
    return cli
