"""The sweeps as real Prefect flows, under one temporary Prefect server for the session."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import select

from models.tables import Escalation, FlowRun
from rules.policy import Policy
from tests.conftest import EXAMPLE_ORG
from tests.integration.support import SHANGHAI, report
from workflows.db import make_engine, migrate, transaction
from workflows.org import load_org


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_the_sweep_flow_escalates_and_runs_the_due_cadence_flows_under_prefect(
    prefect_server: None, tmp_path: Path, policy: Policy
) -> None:
    from workflows.flows import sweep_flow

    url = f"sqlite:///{tmp_path / 'flows.db'}"
    engine = make_engine(url)
    migrate(engine)
    with transaction(engine) as session:
        load_org(session=session, path=EXAMPLE_ORG)
    dispute_id = report(engine, policy, risk="high")
    now = datetime(2026, 11, 4, 8, 30, tzinfo=SHANGHAI)
    results = sweep_flow(now=now, db=url)
    assert results[0]["flow"] == "escalation" and results[0]["decisions"] == 1
    assert {r["flow"] for r in results[1:]} == {
        "daily_check",
        "weekly_assessment",
        "return_visit",
        "half_month_review",
        "monthly_inspection",
    }
    with transaction(engine) as session:
        escalations = session.exec(select(Escalation)).all()
        runs = session.exec(select(FlowRun)).all()
    assert [(e.dispute_id, e.to_level) for e in escalations] == [(dispute_id, "township")]
    assert all(run.finished_at is not None for run in runs)
    again = sweep_flow(now=now, db=url)
    assert [r["flow"] for r in again] == ["escalation"] and again[0]["decisions"] == 0
    engine.dispose()
