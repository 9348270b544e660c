"""Running the real ``fengqiao`` entry point in a subprocess, in a scratch directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_ORG
from workflows.db import make_engine, migrate, transaction
from workflows.org import load_org

FENGQIAO = Path(sys.executable).with_name("fengqiao")


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


Cli = Callable[..., Run]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """``cli("dispute", "show", "1", env={...})``: run fengqiao in ``tmp_path``."""

    def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Run:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("FENGQIAO_")}
        environment.update(env or {})
        done = subprocess.run(
            [str(FENGQIAO), *args],
            cwd=tmp_path,
            env=environment,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture(scope="session")
def county_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the example county, built once and copied for each test."""
    path = tmp_path_factory.mktemp("template") / "fengqiao.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with transaction(engine) as session:
        load_org(session=session, path=EXAMPLE_ORG)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    assert not path.with_name("fengqiao.db-wal").exists()
    return path


@pytest.fixture
def county(cli: Cli, tmp_path: Path, county_template: Path) -> Cli:
    """``cli`` over a database in the scratch directory that holds the example county."""
    shutil.copy(county_template, tmp_path / "fengqiao.db")
    return cli
