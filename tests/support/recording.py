"""Report a dispute, record an event, sweep: through the services, as the command line
and the web app do."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import Dispute, Escalation
from models.values import ENGINE, Actor
from rules.policy import Policy
from workflows.db import reading
from workflows.engine import sweep as sweep_due
from workflows.recording import NewDispute, NewEvent, record_event, report_dispute
from workflows.runs import SweepResult

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)


def report(
    engine: Engine,
    policy: Policy,
    *,
    risk: str = "high",
    at: datetime = MONDAY,
    unit: str = "3301010101",
    by: str | None = None,
    now: datetime | None = None,
    category: str = "邻里纠纷",
    title: str = "宅基地边界",
) -> int:
    """Report a dispute at ``at`` (recorded at ``now``, by default then too); its id."""
    return report_dispute(
        engine=engine,
        policy=policy,
        now=now or at,
        actor=Actor(person=by),
        dispute=NewDispute(unit=unit, risk=risk, category=category, title=title, at=at),
    )


def record(
    engine: Engine,
    policy: Policy,
    dispute_id: int,
    kind: str,
    at: datetime,
    data: dict[str, Any] | None = None,
    *,
    by: str | None = None,
    now: datetime | None = None,
) -> None:
    """Record an event that happened at ``at`` (recorded at ``now``, by default then too)."""
    record_event(
        engine=engine,
        policy=policy,
        now=now or at,
        actor=Actor(person=by),
        dispute_id=dispute_id,
        event=NewEvent(kind, at=at, data=data),
    )


def sweep(engine: Engine, policy: Policy, now: datetime, **options: Any) -> list[SweepResult]:
    """Everything ``fengqiao sweep --now NOW`` runs."""
    return sweep_due(
        engine=engine, policy=policy, now=now, actor=ENGINE, clock=lambda: now, **options
    )


def escalation_chain(
    engine: Engine, dispute_id: int
) -> tuple[str, list[tuple[str, str, datetime]]]:
    """A dispute's level, and every escalation recorded (from, to, when), in time order."""
    with reading(engine) as session:
        dispute = session.get(Dispute, dispute_id)
        rows = session.exec(select(Escalation).order_by(col(Escalation.effective_at))).all()
    assert dispute is not None
    return dispute.level, [(e.from_level, e.to_level, e.effective_at) for e in rows]


def run_together(count: int, work: Callable[[int], None]) -> None:
    """Run ``work(0)`` … ``work(count - 1)`` in threads released at the same moment; re-raise
    the first failure."""
    start = threading.Barrier(count)
    failures: list[BaseException] = []

    def worker(number: int) -> None:
        try:
            start.wait()
            work(number)
        except BaseException as exc:  # handed to the test below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
