"""`fengqiao serve` and `fengqiao web` for real: the lock, catch-up, schedule, rule
reloading and shutdown, and the web app they serve (on a free port: ``--port 0``).

Each test starts the engine with ``--now`` a couple of seconds before a scheduled time, so
that the scheduler fires for real without waiting minutes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.support.cli import FENGQIAO, Cli

Serve = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    started: list[subprocess.Popen[str]] = []

    def start(now: str, *extra: str) -> subprocess.Popen[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FENGQIAO_")}
        env.update({"FENGQIAO_NOW": now, "FENGQIAO_LOG_FORMAT": "json"})
        process = subprocess.Popen(
            [str(FENGQIAO), "serve", "--engine", "direct", "--port", "0", *extra],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def _wait_for(predicate: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError("timed out")


def _levels(county: Cli) -> list[tuple[str, str]]:
    rows = json.loads(county("--now", "2026-11-30T00:00+08:00", "escalations", "--json").out)
    return [
        (r["level"], r["last_escalation"]["effective_at"]) for r in rows if r["last_escalation"]
    ]


def _stop(process: subprocess.Popen[str]) -> tuple[int, list[dict[str, object]]]:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    return process.returncode, [
        json.loads(line) for line in err.splitlines() if line.startswith("{")
    ]


def test_serve_escalates_a_neglected_dispute_to_township_then_county_on_schedule(
    county: Cli, serve: Serve
) -> None:
    made = county(
        "--now",
        "2026-11-02T09:00+08:00",
        "dispute",
        "new",
        "--unit",
        "33010101",
        "--risk",
        "high",
        "--category",
        "土地承包",
        "--title",
        "无人跟进",
    )
    assert made.code == 0
    # Two seconds before the 5-minute mark at which the township's day ends.
    process = serve("2026-11-05T23:59:58+08:00")
    _wait_for(lambda: len(_levels(county)) == 1 and _levels(county)[0][0] == "county")
    assert _levels(county) == [("county", "2026-11-06T00:00:00+08:00")]
    code, logs = _stop(process)
    assert code == 0
    events = [entry["event"] for entry in logs]
    assert events[0] == "scheduler_started" and events[-1] == "scheduler_stopped"
    assert "catch_up" in events and "flow_finished" in events


def test_a_second_serve_on_the_same_database_is_refused_and_says_who_holds_it(
    county: Cli, serve: Serve
) -> None:
    first = serve("2026-11-05T12:00+08:00")
    assert first.stdout is not None
    assert first.stdout.readline().startswith("fengqiao serving")
    second = serve("2026-11-05T12:00+08:00")
    _, err = second.communicate(timeout=30)
    assert second.returncode == 2
    assert "another scheduler (" in err and "has been active on this database" in err
    assert _stop(first)[0] == 0


def test_serve_keeps_the_last_good_rules_when_the_file_turns_bad(
    county: Cli, serve: Serve, tmp_path: Path
) -> None:
    default = Path(__file__).resolve().parents[2] / "rules" / "default.yaml"
    rules = tmp_path / "rules.yaml"
    rules.write_text(default.read_text(encoding="utf-8"), encoding="utf-8")
    process = serve("2026-11-05T12:00+08:00", "--rules", str(rules))
    assert process.stdout is not None and process.stdout.readline().startswith("fengqiao serving")
    rules.write_text("obligations: {oops\n", encoding="utf-8")
    time.sleep(6)
    rules.write_text(
        default.read_text(encoding="utf-8").replace("due: 7d", "due: 5d"), encoding="utf-8"
    )
    time.sleep(6)
    code, logs = _stop(process)
    assert code == 0
    events = [entry["event"] for entry in logs]
    assert "rules_reload_refused" in events
    assert "rules_reloaded" in events
    assert events.index("rules_reload_refused") < events.index("rules_reloaded")


def _address(process: subprocess.Popen[str]) -> str:
    """The web app's address, from the line the command prints once it listens."""
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
    assert found, line
    return found.group(1)


def _sign_in(address: str, person: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=address, timeout=10)
    form = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf
    signed = client.post(
        "/login", data={"username": person, "password": password, "csrf": csrf.group(1)}
    )
    assert signed.status_code == 303, signed.text
    return client


def test_serve_runs_the_web_app_beside_the_scheduler_and_stops_both(
    county: Cli, serve: Serve
) -> None:
    assert county("user", "password", "chen", stdin="county-password\n").code == 0
    process = serve("2026-11-05T12:00+08:00")
    address = _address(process)
    assert httpx.get(f"{address}/healthz").json()["ok"] is True
    with closing(_sign_in(address, "chen", "county-password")) as chen:
        assert chen.get("/api/v1/me").json()["person"] == "chen"
    code, logs = _stop(process)
    assert code == 0
    events = [entry["event"] for entry in logs]
    assert "signed_in" in events and events[-1] == "scheduler_stopped"
    assert not any("county-password" in json.dumps(entry) for entry in logs)


@pytest.mark.parametrize("workers", [1, 2])
def test_fengqiao_web_serves_people_given_a_password_on_the_command_line(
    county: Cli, tmp_path: Path, workers: int
) -> None:
    """Sessions are in the database: with two worker processes every request of one
    signed-in browser is answered alike, whichever process takes it."""
    assert county("user", "password", "wang", stdin="village-password\n").code == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("FENGQIAO_")}
    env["FENGQIAO_NOW"] = "2026-11-05T12:00+08:00"
    process = subprocess.Popen(
        [str(FENGQIAO), "web", "--port", "0", "--workers", str(workers)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        address = _address(process)
        _wait_for(lambda: _healthy(address))
        with closing(_sign_in(address, "wang", "village-password")) as wang:
            answers = {wang.get("/api/v1/me").json()["person"] for _ in range(20)}
            assert answers == {"wang"}
            assert wang.get("/tasks").status_code == 200
        refused = httpx.post(f"{address}/api/v1/disputes", json={"unit": "33010101", "risk": "low"})
        assert refused.status_code == 401 and "error" in refused.json()
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0


def _healthy(address: str) -> bool:
    try:
        return httpx.get(f"{address}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
