"""The embedded engine: when the sweep flows run, on APScheduler 3.x.

It only says *when*; what runs is the one list of steps of ``workflows.engine``, each step
run here (``--engine direct``) or as its Prefect flow (``--engine prefect``). Missed runs
are made up from the database, not from APScheduler's memory: at start, and at every fire,
a cadence flow runs if a scheduled time has come since its last recorded run, so a restart
after downtime runs what was missed once, not zero times and not many. Jobs coalesce and
have no misfire grace limit (APScheduler's default of one second silently drops a job that
starts late).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import Engine

from models.values import ENGINE
from rules.loader import RulesError, default_rules_path
from rules.policy import Policy, load_policy
from rules.schedule import next_run
from rules.schema import FlowSchedule
from workflows.db import reading, transaction
from workflows.engine import (
    Direct,
    LockHeld,
    Runner,
    acquire,
    heartbeat,
    release,
    run_due,
    run_step,
)
from workflows.rollout import apply_rules
from workflows.rulesets import current_version, register_ruleset, rules_in_force, stored_policy

__all__ = ["EmbeddedEngine", "LockHeld", "RuleTrigger", "serve"]

log = structlog.get_logger("fengqiao.scheduler")

Clock = Callable[[], datetime]
EngineKind = Literal["direct", "prefect"]


def wall_clock() -> datetime:
    return datetime.now(UTC)


class RuleTrigger(BaseTrigger):  # type: ignore[misc]
    """An APScheduler trigger that fires on a rule file's schedule.

    ``offset`` is how far the engine's clock runs ahead of the wall clock (``--now``):
    fire times are computed on the engine's clock and handed to APScheduler in wall time.
    """

    def __init__(
        self, schedule: FlowSchedule, policy: Callable[[], Policy], offset: timedelta
    ) -> None:
        self.schedule, self.policy, self.offset = schedule, policy, offset

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        base = (previous_fire_time or now) + self.offset
        if previous_fire_time is None:
            base -= timedelta(microseconds=1)  # a fire time of exactly now still counts
        return next_run(self.schedule, base, policy=self.policy()) - self.offset

    def __str__(self) -> str:
        return f"rules[{self.schedule.model_dump(exclude_none=True)}]"


class EmbeddedEngine:
    """The scheduler of one database: lock, catch-up, jobs, rule reloading, shutdown."""

    def __init__(
        self,
        *,
        engine: Engine,
        db_url: str,
        rules_path: Path | None,
        kind: EngineKind = "direct",
        now: datetime | None = None,
        heartbeat_every: timedelta = timedelta(seconds=15),
        stale_after: timedelta = timedelta(seconds=60),
        reload_every: timedelta = timedelta(seconds=5),
        smtp: str | None = None,
        base_url: str | None = None,
    ) -> None:
        self.smtp, self.base_url = smtp, base_url
        self.engine, self.db_url, self.rules_path, self.kind = engine, db_url, rules_path, kind
        self.offset = (now - wall_clock()) if now is not None else timedelta(0)
        self.heartbeat_every, self.stale_after, self.reload_every = (
            heartbeat_every,
            stale_after,
            reload_every,
        )
        self.holder = f"{socket.gethostname()} pid {os.getpid()}"
        # The file watched for changes: the one given, else the shipped default. Without a
        # file given, the engine starts with the rules in force in the database, if any.
        self.watched = rules_path or default_rules_path()
        in_force = rules_in_force(engine) if rules_path is None else None
        self.policy: Policy = in_force or load_policy(rules_path)
        self._rules_stamp = self._stamp()
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        )
        self.stopped = threading.Event()
        self.runner = self._runner()

    def _runner(self) -> Runner:
        """The steps run here, or each as its Prefect flow, under this engine's rules (the
        flows load them by their version from the database)."""
        if self.kind == "prefect":
            from workflows.engine.flows import Prefect

            return Prefect(self.db_url, self.policy.version)
        return Direct(
            self.engine, self.policy, self.clock, ENGINE, smtp=self.smtp, base_url=self.base_url
        )

    def clock(self) -> datetime:
        """The engine's time: the wall clock, or ``--now`` running on from the start."""
        return wall_clock() + self.offset

    def start(self) -> None:
        # Workers load the rules by this version; rules other than those in force are refused
        # (RulesNotInForce) before the lock is taken.
        with transaction(self.engine) as session:
            register_ruleset(session=session, policy=self.policy, now=self.clock())
        acquire(self.engine, holder=self.holder, stale_after=self.stale_after)  # the DB's clock
        log.info(
            "scheduler_started",
            holder=self.holder,
            rules_version=self.policy.label,
            engine=self.kind,
            now=self.clock().isoformat(),
        )
        # The heartbeat runs from the start, so that a long catch-up keeps the lock.
        self._scheduler.add_job(
            self._heartbeat,
            "interval",
            seconds=self.heartbeat_every.total_seconds(),
            id="heartbeat",
        )
        self._scheduler.start()
        self._catch_up()
        self._schedule_jobs()
        self._scheduler.add_job(
            self._reload, "interval", seconds=self.reload_every.total_seconds(), id="reload-rules"
        )

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        release(self.engine, holder=self.holder)
        self.stopped.set()
        log.info("scheduler_stopped", holder=self.holder)

    def _catch_up(self) -> None:
        results = run_due(self.runner, engine=self.engine, policy=self.policy, now=self.clock())
        for result in results:
            log.info("catch_up", **result.as_dict())

    def _schedule_jobs(self) -> None:
        for job in self._scheduler.get_jobs():
            if job.id.startswith("flow:"):
                job.remove()
        for name, schedule in self.policy.rules.schedule.items():
            self._scheduler.add_job(
                self._fire,
                RuleTrigger(schedule, lambda: self.policy, self.offset),
                args=[name],
                id=f"flow:{name}",
                name=name,
            )

    def _fire(self, name: str) -> None:
        """Run one step now; a cadence flow only if its scheduled time has come."""
        try:
            result = run_step(
                self.runner, name, engine=self.engine, policy=self.policy, now=self.clock()
            )
            if result is not None:
                log.info("flow_finished", **result.as_dict())
        except Exception as exc:  # a flow that fails is reported and runs again next time
            log.error("flow_failed", flow=name, error=type(exc).__name__, detail=str(exc)[:200])

    def _heartbeat(self) -> None:
        if not heartbeat(self.engine, holder=self.holder):
            log.error("scheduler_lock_lost", holder=self.holder)
            threading.Thread(target=self.stop, daemon=True).start()

    def _stamp(self) -> Any:
        try:
            return self.watched.read_bytes()
        except OSError:
            return None

    def _reload(self) -> None:
        """Put a changed rule file in force after validating it (keeping the last good rules
        if not); else follow the rules put in force in the database meanwhile (`rules
        apply`), so that the engine never writes under rules no longer in force."""
        stamp = self._stamp()
        if stamp == self._rules_stamp:
            self._follow()
            return
        self._rules_stamp = stamp
        try:
            policy = load_policy(self.watched)
        except RulesError as exc:
            log.error(
                "rules_reload_refused",
                rules=str(self.watched),
                problems=len(exc.lines),
                first=exc.lines[0],
                keeping=self.policy.label,
            )
            return
        if policy.version == self.policy.version:
            return
        with reading(self.engine) as session:
            in_force = current_version(session)
        if in_force == policy.version:  # this file was put in force meanwhile (`rules apply`)
            self._use(policy)
            log.info("rules_followed", rules_version=policy.label)
            return
        applied = apply_rules(
            engine=self.engine,
            policy=policy,
            now=self.clock(),
            actor=ENGINE,
            reason=f"the rule file {self.watched} changed (serve reloads it)",
        )
        self._use(policy)
        log.info(
            "rules_reloaded",
            rules_version=policy.label,
            disputes_recomputed=applied.disputes_recomputed,
        )

    def _follow(self) -> None:
        """Take the rules in force in the database if they are others than the engine's."""
        with reading(self.engine) as session:
            version = current_version(session)
            if version is None or version == self.policy.version:
                return
            policy = stored_policy(session, version=version)
        if policy is None:
            log.error("rules_in_force_unreadable", version=version, keeping=self.policy.label)
            return
        self._use(policy)
        log.info("rules_followed", rules_version=policy.label)

    def _use(self, policy: Policy) -> None:
        self.policy = policy
        self.runner = self._runner()
        self._schedule_jobs()


def serve(embedded: EmbeddedEngine, *, ready: Callable[[], None] = lambda: None) -> int:
    """Run until SIGTERM or SIGINT, then shut down cleanly."""

    def _stop(signum: int, _frame: Any) -> None:
        log.info("signal_received", signal=signal.Signals(signum).name)
        embedded.stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    embedded.start()
    ready()
    embedded.stopped.wait()
    embedded.stop()
    return 0
