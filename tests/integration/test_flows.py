"""The sweeps as real Prefect flows, under one temporary Prefect server for the session."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from models.tables import Escalation, FlowRun
from rules.policy import Policy
from tests.support.db import load_county
from tests.support.recording import SHANGHAI, report
from workflows.db import database_now, make_engine, migrate, reading

CADENCE = {
    "daily_check",
    "weekly_assessment",
    "return_visit",
    "half_month_review",
    "monthly_inspection",
    "weekly",  # the reports' flows
    "monthly",
}


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_the_sweep_flow_escalates_and_runs_the_due_cadence_flows_under_prefect(
    prefect_server: None, tmp_path: Path, policy: Policy
) -> None:
    from workflows.engine.flows import sweep_flow

    url = f"sqlite:///{tmp_path / 'flows.db'}"
    engine = make_engine(url)
    migrate(engine)
    load_county(engine)
    dispute_id = report(engine, policy, risk="high")
    now = datetime(2026, 11, 4, 8, 30, tzinfo=SHANGHAI)
    results = sweep_flow(now=now, db=url)
    assert results[0]["flow"] == "escalation" and results[0]["decisions"] == 1
    # The same steps as `fengqiao sweep`: the cadence flows due, then reminders and delivery.
    assert [r["flow"] for r in results[-2:]] == ["reminders", "delivery"]
    assert {r["flow"] for r in results[1:-2]} == CADENCE
    with reading(engine) as session:
        escalations = session.exec(select(Escalation)).all()
        runs = session.exec(select(FlowRun)).all()
    assert [(e.dispute_id, e.to_level) for e in escalations] == [(dispute_id, "township")]
    assert all(run.finished_at is not None for run in runs)
    again = sweep_flow(now=now, db=url)
    assert [r["flow"] for r in again] == ["escalation", "reminders", "delivery"]
    assert again[0]["decisions"] == 0
    engine.dispose()


def test_a_deployed_run_started_early_by_its_worker_waits_for_its_scheduled_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflows.engine import flows

    url = f"sqlite:///{tmp_path / 'clock.db'}"
    scheduled = database_now(make_engine(url)) + timedelta(seconds=1.5)
    monkeypatch.setattr(flows, "_scheduled_start", lambda: scheduled)
    assert flows._now(url, None) >= scheduled
