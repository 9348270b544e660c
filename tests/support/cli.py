"""Running the real ``fengqiao`` entry point in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FENGQIAO = Path(sys.executable).with_name("fengqiao")
PREFECT = FENGQIAO.with_name("prefect")


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


Cli = Callable[..., Run]


def run_in(directory: Path) -> Cli:
    """``cli("dispute", "show", "1", env={...})``: run fengqiao in ``directory``, with none
    of the caller's FENGQIAO_* settings."""

    def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Run:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("FENGQIAO_")}
        environment.update(env or {})
        done = subprocess.run(
            [str(FENGQIAO), *args],
            cwd=directory,
            env=environment,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    return run
