"""`fengqiao deploy` for real: the command's dry run and refusals, then a ``prefect
server`` on loopback, ``fengqiao deploy`` (twice: it is idempotent), two ``prefect worker``
processes with FENGQIAO_DB pointing at one fresh PostgreSQL database, the split escalation
sweep triggered on both, and each escalation due recorded once. (The deployments planned
are checked without a server in ``tests/unit/test_deploy_plan.py``.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from models.tables import Escalation
from rules.loader import default_rules_path
from rules.policy import Policy
from tests.support.cli import FENGQIAO, PREFECT, Cli
from tests.support.db import load_county
from tests.support.recording import ENGINE, report
from workflows.db import database_now, make_engine, migrate, reading
from workflows.sweeps import escalation_sweep

DISPUTES = 12


def _no_prefect_env(tmp_path: Path) -> dict[str, str]:
    """A scratch PREFECT_HOME: no profile with a server in it."""
    return {"PREFECT_HOME": str(tmp_path / "prefect-home")}


def test_deploy_dry_run_prints_each_deployment_and_its_schedule_without_a_server(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    done = cli("deploy", "--dry-run", "--parallel", "2", env=_no_prefect_env(tmp_path))
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert lines[0].split()[:3] == ["escalation-sweep/fengqiao-1", "every", "5m"]
    assert "cron '0 8 * * *' Asia/Shanghai" in lines[4] and "runs on its days only" in lines[4]
    assert lines[-1] == "11 deployments (dry run: no server contacted)"


@pytest.mark.parametrize(
    ("args", "url", "message"),
    [
        ((), None, "fengqiao: PREFECT_API_URL is not set"),
        ((), "http://127.0.0.1:9/api", "fengqiao: cannot reach the Prefect server at"),
        (("--parallel", "0"), None, "fengqiao: --parallel must be between 1 and 32"),
        (("--pool", "a/b"), None, "fengqiao: --pool 'a/b': use letters"),
    ],
)
def test_deploy_refuses_with_one_line_and_exit_2(
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    url: str | None,
    message: str,
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    env = _no_prefect_env(tmp_path) | ({"PREFECT_API_URL": url} if url else {})
    done = cli("deploy", *args, env=env)
    assert done.code == 2
    assert done.err.startswith(message) and len(done.err.splitlines()) == 1, done.err
    assert done.out == ""


# --- for real: a Prefect server and two workers on loopback ------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(
    what: str, ready: Callable[[], bool], seconds: float, log: Path | None = None
) -> None:
    """Poll ``ready`` until it holds; else fail, with the end of ``log`` if given."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.5)
    tail = f"\n{log.name}:\n{log.read_text(errors='replace')[-3000:]}" if log else ""
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}{tail}")


def _healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class Processes:
    """Background processes, each in its own process group, always killed at the end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> Path:
        log = self.directory / f"{name}.log"
        with log.open("wb") as out:
            self.started.append(
                subprocess.Popen(
                    args,
                    cwd=self.directory,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        return log

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    running = Processes(tmp_path)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def prefect_env(tmp_path: Path, processes: Processes) -> dict[str, str]:
    """A Prefect server on a free loopback port, with its own home and SQLite database;
    the environment that points ``prefect`` and ``fengqiao`` at it."""
    api = f"http://127.0.0.1:{_free_port()}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FENGQIAO_", "PREFECT_"))}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
    }
    port = api.split(":")[2].split("/")[0]
    log = processes.start(
        "server",
        [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", port],
        env,
    )
    _wait_for("the Prefect server", lambda: _healthy(api), 120, log)
    return env | {"PREFECT_API_URL": api}


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def _county(url: str, policy: Policy) -> list[int]:
    """The example county and disputes reported days ago, whose escalations fell due since
    (reported with the clock of that day, so nothing was recorded yet)."""
    engine = make_engine(url)
    migrate(engine)
    load_county(engine)
    reported = database_now(engine) - timedelta(days=6)
    ids = [
        report(engine, policy, risk="high", at=reported + timedelta(minutes=n))
        for n in range(DISPUTES)
    ]
    with reading(engine) as session:
        assert session.exec(select(func.count()).select_from(Escalation)).one() == 0
    engine.dispose()
    return ids


def _quiet_rules(directory: Path, policy: Policy) -> tuple[Path, str]:
    """The shipped rules with only the escalation sweep, daily at a time twelve hours away
    (so that no scheduled run competes with the ones the test starts), and the daily check
    scheduled, and no reports; the reminders and delivery every minute would only add runs
    to wait for."""
    shipped = default_rules_path().read_text(encoding="utf-8")
    head, _, _ = shipped.partition("\nschedule:")
    # without the reports, whose flows would need a schedule of their own
    before, _, after = head.partition("\nreports:")
    head = before + "\n#" + after.partition("\n#")[2]
    at = f"{(datetime.now(policy.zone) + timedelta(hours=12)).hour:02d}:00"
    path = directory / "rules.yaml"
    path.write_text(
        f'{head}\nschedule:\n  escalation: {{at: "{at}"}}\n'
        '  daily_check: {at: "08:00", days: working}\n',
        encoding="utf-8",
    )
    return path, at


def _deployment_runs(api: str, names: list[str]) -> list[Any]:
    """Trigger each deployment now; the flow runs."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}):
        return [run_deployment(name, timeout=0) for name in names]


def _again(api: str, runs: list[Any]) -> list[Any]:
    """The flow runs ``runs`` as they are now."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        return [client.read_flow_run(run.id) for run in runs]


def _scheduled_starts(api: str, deployment: str) -> list[datetime]:
    """When the server's scheduler has scheduled the runs of ``deployment``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        deployment_id = client.read_deployment_by_name(deployment).id
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter.model_validate(
                {
                    "deployment_id": {"any_": [str(deployment_id)]},
                    "state": {"type": {"any_": ["SCHEDULED"]}},
                }
            ),
            limit=200,
        )
    return sorted(datetime.fromtimestamp(r.expected_start_time.timestamp(), UTC) for r in runs)


@pytest.mark.postgres
def test_two_prefect_workers_run_the_deployed_sweeps_and_record_each_escalation_once(
    postgres_url: str,
    policy: Policy,
    prefect_env: dict[str, str],
    processes: Processes,
    tmp_path: Path,
) -> None:
    disputes = _county(postgres_url, policy)
    api = prefect_env["PREFECT_API_URL"]

    rules, escalation_at = _quiet_rules(tmp_path, policy)
    deploy = [str(FENGQIAO), "--rules", str(rules), "deploy", "--parallel", "2"]
    deployed = _run(deploy, prefect_env, tmp_path)
    assert deployed.returncode == 0, deployed.stderr
    assert "3 deployments applied" in deployed.stdout and "(created)" in deployed.stdout
    again = _run(deploy, prefect_env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "3 deployments applied" in again.stdout
    assert "(created)" not in again.stdout and "removed" not in again.stdout

    # The server's own scheduler makes the runs, at the rules' local times.
    _wait_for(
        "scheduled runs (Prefect 3.8.8's scheduler fails on SQLAlchemy 2.1: see the server log)",
        # each deployment's in its turn: wait for the daily check's too (seen missing once)
        lambda: (
            len(_scheduled_starts(api, "escalation-sweep/fengqiao-2")) >= 3
            and bool(_scheduled_starts(api, "daily-check-sweep/fengqiao"))
        ),
        60,
        tmp_path / "server.log",
    )
    for deployment, local in [
        ("escalation-sweep/fengqiao-2", escalation_at),
        ("daily-check-sweep/fengqiao", "08:00"),
    ]:
        starts = _scheduled_starts(api, deployment)
        assert starts and {f"{t.astimezone(policy.zone):%H:%M}" for t in starts} == {local}

    worker_env = prefect_env | {
        "FENGQIAO_DB": postgres_url,
        "FENGQIAO_LOG_FORMAT": "json",
        "PREFECT_WORKER_QUERY_SECONDS": "2",  # poll often: the test waits less
    }
    for name in ("worker-1", "worker-2"):  # one flow run at a time each: both can get one
        processes.start(
            name,
            [str(PREFECT), "worker", "start", "--pool", "fengqiao", "--name", name, "--limit", "1"],
            worker_env,
        )
    runs = _deployment_runs(api, ["escalation-sweep/fengqiao-1", "escalation-sweep/fengqiao-2"])
    _wait_for(
        "the escalation sweeps",
        lambda: all(r.state.is_final() for r in _again(api, runs)),
        120,
        tmp_path / "worker-1.log",
    )
    done = _again(api, runs)
    assert all(run.state.is_completed() for run in done), [run.state for run in done]

    engine = make_engine(postgres_url)
    with reading(engine) as session:
        rows = session.exec(select(Escalation)).all()
    links = [(e.dispute_id, e.from_level, e.to_level) for e in rows]
    assert len(links) == len(set(links)), "an escalation was recorded twice"
    assert {dispute for dispute, _, _ in links} == set(disputes)
    # A sweep's now is at or after its run's start: everything due by then is recorded.
    left = escalation_sweep(
        engine=engine, policy=policy, now=min(run.start_time for run in done), actor=ENGINE
    )
    assert left.decisions == 0, "the deployed sweeps left escalations unrecorded"
    engine.dispose()
