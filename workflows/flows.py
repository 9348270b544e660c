"""The sweeps as Prefect flows: the same functions as ``workflows/runner.py``, with each
batch of disputes and each cadence flow a Prefect task, retried and observable.

A flow run costs about a second and a task run tens of milliseconds, so flows work on
batches, never one flow run per dispute. Parameters are plain values (URL, path, time), so
that a Prefect server can schedule these flows on workers elsewhere.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from prefect import flow, task
from sqlalchemy import Engine

from rules.policy import Policy, load_policy
from workflows.db import make_engine
from workflows.runner import due_flows, run_flow
from workflows.sweeps import SweepResult, escalation_sweep, sweep_disputes

__all__ = ["CADENCE_FLOWS", "cadence_flow", "escalation_flow", "sweep_flow"]


@lru_cache(maxsize=8)
def _engine(db: str) -> Engine:
    return make_engine(db)


def _policy(rules: str | None) -> Policy:
    return load_policy(rules)  # read each run: a changed rule file is picked up


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@task(name="escalate-batch", retries=2, retry_delay_seconds=2)
def escalate_batch(ids: list[int], now: datetime, db: str, rules: str | None) -> dict[str, Any]:
    result = sweep_disputes(
        ids, engine=_engine(db), policy=_policy(rules), now=now, flow="escalation"
    )
    return result.as_dict()


@task(name="cadence", retries=2, retry_delay_seconds=2)
def cadence_task(name: str, scheduled: datetime, db: str, rules: str | None) -> dict[str, Any]:
    result = run_flow(
        name, engine=_engine(db), policy=_policy(rules), scheduled=scheduled, clock=_wall_clock
    )
    return result.as_dict()


@flow(name="escalation-sweep")
def escalation_flow(now: datetime, db: str, rules: str | None = None) -> dict[str, Any]:
    """Record every escalation and supervised listing due by ``now``."""
    result = escalation_sweep(
        engine=_engine(db),
        policy=_policy(rules),
        now=now,
        run_batch=lambda ids: SweepResult.from_dict(escalate_batch(ids, now, db, rules)),
    )
    return result.as_dict()


@flow(name="cadence-sweep")
def cadence_flow(name: str, now: datetime, db: str, rules: str | None = None) -> dict[str, Any]:
    """Run the cadence flow ``name`` if its scheduled time has come since its last run."""
    due = dict(due_flows(engine=_engine(db), policy=_policy(rules), now=now))
    if name not in due:
        return SweepResult(flow=name, now=now).as_dict()
    return cadence_task(name, due[name], db, rules)


@flow(name="sweep")
def sweep_flow(now: datetime, db: str, rules: str | None = None) -> list[dict[str, Any]]:
    """The escalation sweep, then every cadence flow due at ``now``, once."""
    results = [escalation_flow(now, db, rules)]
    for name, scheduled in due_flows(engine=_engine(db), policy=_policy(rules), now=now):
        results.append(cadence_task(name, scheduled, db, rules))
    return results


# One named flow per cadence step, so that a Prefect server shows and schedules them apart.
CADENCE_FLOWS = {
    name: cadence_flow.with_options(name=f"{name.replace('_', '-')}-sweep")
    for name in (
        "daily_check",
        "weekly_assessment",
        "return_visit",
        "half_month_review",
        "monthly_inspection",
    )
}
