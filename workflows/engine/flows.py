"""The sweep's steps as Prefect flows: the same functions as ``workflows.engine.steps``,
with each batch of disputes and each cadence run a Prefect task, retried and observable.

A flow run costs about a second and a task run tens of milliseconds, so flows work on
batches, never one flow run per dispute. Parameters are plain values (URL, version, time),
so that a Prefect server can schedule these flows on workers elsewhere; a worker reads its
database and SMTP server from its own settings (``FENGQIAO_DB``, ``FENGQIAO_SMTP``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any

import structlog
from prefect import Flow, flow, task
from prefect.context import FlowRunContext
from sqlalchemy import Engine

from models.values import ENGINE
from rules.policy import Policy, load_policy
from workflows.db import database_now, make_engine, transaction
from workflows.engine.steps import due_flows, escalation_step, run_due
from workflows.messaging import deliver, remind
from workflows.reports import report_attachments
from workflows.rulesets import current_version, stored_policy
from workflows.runs import SweepResult
from workflows.settings import load_settings
from workflows.sweeps import run_cadence, sweep_once

__all__ = [
    "CADENCE_FLOWS",
    "Prefect",
    "cadence_flow",
    "report_flow",
    "daily_check_flow",
    "delivery_flow",
    "escalation_flow",
    "flow_of",
    "half_month_review_flow",
    "monthly_inspection_flow",
    "reminders_flow",
    "return_visit_flow",
    "sweep_flow",
    "weekly_assessment_flow",
]

log = structlog.get_logger(__name__)

# A worker may start a scheduled run this much before its time (its prefetch, 10 s by
# default); a run started earlier than this is not waited for.
EARLY_START_LIMIT = timedelta(seconds=60)


@lru_cache(maxsize=8)
def _engine(db: str) -> Engine:
    return make_engine(db)


def _database(db: str | None) -> str:
    """The database URL: the parameter, else the worker's FENGQIAO_DB (so that a URL with a
    password need never be stored on a Prefect server)."""
    if db:
        return db
    settings = load_settings()
    if "db" not in settings.model_fields_set:
        raise RuntimeError("no database: pass db or set FENGQIAO_DB in the worker's environment")
    return settings.db


def _now(db: str, now: datetime | None) -> datetime:
    """The time the run is for: the parameter, else the database's clock, never the
    worker's own (workers on several machines must agree on what is due).

    A Prefect worker starts a scheduled run up to its prefetch time early; the run waits
    for its scheduled time first, or a cadence flow due at 08:00 that looked at 07:59:55
    would find nothing due and its day's run would be missed until the next fire.
    """
    if now is not None:
        return now
    current = database_now(_engine(db))
    scheduled = _scheduled_start()
    if scheduled is not None and current < scheduled:
        early = scheduled - current
        if early > EARLY_START_LIMIT:
            log.warning("flow_started_early", seconds=round(early.total_seconds()))
        else:
            time.sleep(early.total_seconds())
            current = database_now(_engine(db))
    return current


def _scheduled_start() -> datetime | None:
    """When this flow run of a deployment was scheduled to start; None outside one."""
    context = FlowRunContext.get()
    run = context.flow_run if context is not None else None
    if run is None or run.deployment_id is None:
        return None
    return run.expected_start_time


def _policy(db: str, version: str | None) -> Policy:
    """The stored rule set ``version``, or the one in force, or else the shipped default.

    Never a rule file: the scheduler validates a changed file and puts it in force first, so
    a file being edited (or broken) cannot reach a run.
    """
    if version is None:
        with transaction(_engine(db)) as session:
            version = current_version(session)
    return _stored(db, version) if version is not None else _shipped()


_STORED: dict[tuple[str, str], Policy] = {}


def _stored(db: str, version: str) -> Policy:
    """A stored rule set, read and checked once per worker (a version is a content hash:
    its rules never change); the shipped rules if it is not stored."""
    key = (db, version)
    if key not in _STORED:
        with transaction(_engine(db)) as session:
            policy = stored_policy(session, version=version)
        if policy is None:
            return _shipped()
        _STORED[key] = policy
    return _STORED[key]


@lru_cache(maxsize=1)
def _shipped() -> Policy:
    return load_policy(None)


@task(name="escalate-batch", retries=2, retry_delay_seconds=2)
def escalate_batch(
    skip: list[int], now: datetime, db: str, rules_version: str | None, wait: bool = False
) -> dict[str, Any]:
    """Claim one batch of due disputes (not those in ``skip``, which failed) and record
    what fell due. A retry after a crash claims again: what was committed is no longer due."""
    result = sweep_once(
        engine=_engine(db), policy=_policy(db, rules_version), now=now, skip=skip, wait=wait
    )
    return result.as_dict()


@task(name="cadence", retries=2, retry_delay_seconds=2)
def cadence_task(
    name: str, scheduled: datetime, now: datetime, db: str, rules_version: str | None
) -> dict[str, Any]:
    """Run a cadence flow for its scheduled time; the run is stamped with the caller's now."""
    result = run_cadence(
        name,
        engine=_engine(db),
        policy=_policy(db, rules_version),
        scheduled=scheduled,
        clock=lambda: now,
    )
    return result.as_dict()


@flow(name="escalation-sweep")
def escalation_flow(
    now: datetime | None = None, db: str | None = None, rules_version: str | None = None
) -> dict[str, Any]:
    """Record every escalation and supervised listing due by ``now``."""
    db = _database(db)
    now = _now(db, now)
    moment = now
    result = escalation_step(
        engine=_engine(db),
        policy=_policy(db, rules_version),
        now=now,
        actor=ENGINE,
        clock=lambda: moment,
        run_batch=lambda skip, wait: SweepResult.from_dict(
            escalate_batch(list(skip), moment, db, rules_version, wait)
        ),
    )
    return result.as_dict()


@flow(name="cadence-sweep")
def cadence_flow(
    name: str, now: datetime | None = None, db: str | None = None, rules_version: str | None = None
) -> dict[str, Any]:
    """Run the cadence flow ``name`` if its scheduled time has come since its last run."""
    db = _database(db)
    now = _now(db, now)
    due = dict(due_flows(engine=_engine(db), policy=_policy(db, rules_version), now=now))
    if name not in due:
        return SweepResult(flow=name, now=now).as_dict()
    return cadence_task(name, due[name], now, db, rules_version)


@flow(name="reminders")
def reminders_flow(
    now: datetime | None = None, db: str | None = None, rules_version: str | None = None
) -> dict[str, Any]:
    """Queue the reminders, acknowledgement escalations and digests due by ``now``."""
    db = _database(db)
    now = _now(db, now)
    return (
        remind(engine=_engine(db), policy=_policy(db, rules_version), now=now).as_sweep().as_dict()
    )


@flow(name="delivery")
def delivery_flow(
    now: datetime | None = None, db: str | None = None, rules_version: str | None = None
) -> dict[str, Any]:
    """Deliver the outbox: every pending message due by ``now``, with retries and backoff.

    The SMTP URL (it may hold a password) is the worker's FENGQIAO_SMTP, never a parameter
    that a Prefect server would store; the links in messages start with its
    FENGQIAO_BASE_URL."""
    db = _database(db)
    now = _now(db, now)
    settings = load_settings()
    engine, policy = _engine(db), _policy(db, rules_version)
    result = deliver(
        engine=engine,
        policy=policy,
        now=now,
        smtp=settings.smtp,
        base_url=settings.base_url,
        attach=partial(report_attachments, engine, policy),  # a report's files, on e-mail
    )
    return result.as_sweep().as_dict()


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
# The reports' flows (the rule file's ``reports``): one flow, a deployment per report.
report_flow = cadence_flow.with_options(name="report-sweep")
# Each also by a module-level name, the entrypoint a Prefect worker imports it from.
daily_check_flow = CADENCE_FLOWS["daily_check"]
weekly_assessment_flow = CADENCE_FLOWS["weekly_assessment"]
return_visit_flow = CADENCE_FLOWS["return_visit"]
half_month_review_flow = CADENCE_FLOWS["half_month_review"]
monthly_inspection_flow = CADENCE_FLOWS["monthly_inspection"]

_STEP_FLOWS: dict[str, Flow[..., Any]] = {
    "escalation": escalation_flow,
    "reminders": reminders_flow,
    "delivery": delivery_flow,
    **CADENCE_FLOWS,
}


def flow_of(step: str) -> Flow[..., Any]:
    """The flow that runs a step of the rule file's schedule (an obligation of a custom rule
    file: the generic cadence flow)."""
    return _STEP_FLOWS.get(step, cadence_flow)


@dataclass(frozen=True)
class Prefect:
    """Runs each step as its Prefect flow (a subflow when called inside one)."""

    db: str
    rules_version: str | None

    def escalation(self, now: datetime) -> SweepResult:
        return self._run(escalation_flow, now=now)

    def cadence(self, name: str, scheduled: datetime, now: datetime) -> SweepResult:
        return self._run(flow_of(name), name=name, now=now)

    def reminders(self, now: datetime) -> SweepResult:
        return self._run(reminders_flow, now=now)

    def delivery(self, now: datetime) -> SweepResult:
        return self._run(delivery_flow, now=now)

    def _run(self, step: Flow[..., Any], **parameters: Any) -> SweepResult:
        result: dict[str, Any] = step(db=self.db, rules_version=self.rules_version, **parameters)
        return SweepResult.from_dict(result)


@flow(name="sweep")
def sweep_flow(
    now: datetime | None = None, db: str | None = None, rules_version: str | None = None
) -> list[dict[str, Any]]:
    """Every step due at ``now``, in the order of ``run_due``: the escalation sweep, every
    cadence flow due (once), the reminders and the delivery, each as its flow."""
    db = _database(db)
    now = _now(db, now)
    runner = Prefect(db, rules_version)
    results = run_due(runner, engine=_engine(db), policy=_policy(db, rules_version), now=now)
    return [result.as_dict() for result in results]
