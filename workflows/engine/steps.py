"""The steps of a sweep and the one order they run in: the escalation sweep, each cadence
flow whose scheduled time has come, the reminders, the delivery of the outbox.

A :class:`Runner` runs each step: :class:`Direct` calls the functions in this process
(``fengqiao sweep``, ``serve --engine direct``, the demo); the Prefect runner of
``workflows.engine.flows`` runs them as flows. ``fengqiao sweep``, the scheduler's catch-up
and its fires, and the Prefect ``sweep`` flow all go through :func:`run_due` or
:func:`run_step`, so every engine runs the same steps, in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Protocol

import structlog
from sqlalchemy import Engine

from models.values import Actor
from rules.policy import Policy
from rules.schedule import last_run
from workflows.access import Forbidden
from workflows.db import reading, transaction
from workflows.messaging import Sender, apprise_send, deliver, remind
from workflows.reports import report_attachments
from workflows.rulesets import require_in_force
from workflows.runs import SweepResult, claim_run, finish_run, previous_window_end
from workflows.sweeps import escalation_sweep, run_cadence

__all__ = ["Direct", "Runner", "due_flows", "escalation_step", "run_due", "run_step", "sweep"]

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]


class Runner(Protocol):
    """Runs each step of a sweep for a moment ``now``."""

    def escalation(self, now: datetime) -> SweepResult: ...
    def cadence(self, name: str, scheduled: datetime, now: datetime) -> SweepResult: ...
    def reminders(self, now: datetime) -> SweepResult: ...
    def delivery(self, now: datetime) -> SweepResult: ...


def escalation_step(
    *,
    engine: Engine,
    policy: Policy,
    now: datetime,
    actor: Actor,
    clock: Clock,
    run_batch: Callable[[list[int], bool], SweepResult] | None = None,
) -> SweepResult:
    """The escalation sweep at ``now``, and its run kept in ``flow_runs``."""
    result = escalation_sweep(
        engine=engine, policy=policy, now=now, actor=actor, run_batch=run_batch
    )
    with transaction(engine) as session:
        run = claim_run(session, flow="escalation", window_end=now, started=clock())
        if run is not None:
            finish_run(session, run, result=result, finished=clock())
    return result


@dataclass(frozen=True)
class Direct:
    """Runs the steps here, as plain functions."""

    engine: Engine
    policy: Policy
    clock: Clock
    actor: Actor
    smtp: str | None = None
    send: Sender = apprise_send
    base_url: str | None = None  # the web app's public address, for links in messages

    def escalation(self, now: datetime) -> SweepResult:
        return escalation_step(
            engine=self.engine, policy=self.policy, now=now, actor=self.actor, clock=self.clock
        )

    def cadence(self, name: str, scheduled: datetime, now: datetime) -> SweepResult:
        return run_cadence(
            name, engine=self.engine, policy=self.policy, scheduled=scheduled, clock=self.clock
        )

    def reminders(self, now: datetime) -> SweepResult:
        return remind(engine=self.engine, policy=self.policy, now=now).as_sweep()

    def delivery(self, now: datetime) -> SweepResult:
        return deliver(
            engine=self.engine,
            policy=self.policy,
            now=now,
            smtp=self.smtp,
            base_url=self.base_url,
            send=self.send,
            attach=partial(
                report_attachments, self.engine, self.policy
            ),  # a report's files, on e-mail
        ).as_sweep()


def due_flows(*, engine: Engine, policy: Policy, now: datetime) -> list[tuple[str, datetime]]:
    """Each cadence flow with a scheduled run at or before ``now`` that has not run yet,
    with that (latest) scheduled time."""
    due = []
    with transaction(engine) as session:
        for flow, schedule in policy.rules.schedule.items():
            if flow not in policy.rules.obligations and flow not in policy.rules.reports:
                continue  # escalation, reminders and delivery run at every sweep
            scheduled = last_run(schedule, now, policy=policy)
            previous = previous_window_end(session, flow=flow)
            if scheduled is not None and (previous is None or previous < scheduled):
                due.append((flow, scheduled))
    return due


def run_due(runner: Runner, *, engine: Engine, policy: Policy, now: datetime) -> list[SweepResult]:
    """Run every step due at ``now``: the escalation sweep, every cadence flow whose
    scheduled time has come since its last run (once), the reminders, the delivery."""
    results = [runner.escalation(now)]
    for flow, scheduled in due_flows(engine=engine, policy=policy, now=now):
        results.append(runner.cadence(flow, scheduled, now))
    try:
        results.append(runner.reminders(now))
    except Exception as exc:  # reminders failing must not stop the delivery of the rest
        log.error("flow_failed", flow="reminders", error=type(exc).__name__, detail=str(exc)[:200])
        results.append(SweepResult(flow="reminders", now=now))
    results.append(runner.delivery(now))
    return results


def run_step(
    runner: Runner, name: str, *, engine: Engine, policy: Policy, now: datetime
) -> SweepResult | None:
    """Run the step ``name`` of the rule file's schedule at ``now``; a cadence flow only if
    its scheduled time has come since its last run (else None)."""
    if name == "escalation":
        return runner.escalation(now)
    if name == "reminders":
        return runner.reminders(now)
    if name == "delivery":
        return runner.delivery(now)
    due = dict(due_flows(engine=engine, policy=policy, now=now))
    if name not in due:
        return None
    return runner.cadence(name, due[name], now)


def sweep(
    *,
    engine: Engine,
    policy: Policy,
    now: datetime,
    actor: Actor,
    clock: Clock,
    smtp: str | None = None,
    base_url: str | None = None,
    send: Sender = apprise_send,
) -> list[SweepResult]:
    """What ``fengqiao sweep`` does: every step due at ``now``, here, once (each step in
    transactions of its own); ``clock`` stamps the runs."""
    if actor.checked:
        raise Forbidden("sweeps are run by the engine and the operator, not on the web")
    with reading(engine) as session:
        require_in_force(session, policy)
    runner = Direct(engine, policy, clock, actor, smtp=smtp, send=send, base_url=base_url)
    return run_due(runner, engine=engine, policy=policy, now=now)
