"""Helpers for the integration tests: report a dispute, record an event, each in a transaction."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from rules.policy import Policy
from workflows.db import transaction
from workflows.disputes import NewEvent, record_event, report_dispute

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
) -> int:
    with transaction(engine) as session:
        dispute = report_dispute(
            session=session,
            policy=policy,
            now=at,
            unit=unit,
            risk=risk,
            category="邻里纠纷",
            title="宅基地边界",
            by=by,
        )
        assert dispute.id is not None
        return dispute.id


def record(
    engine: Engine,
    policy: Policy,
    dispute_id: int,
    kind: str,
    at: datetime,
    data: dict[str, Any] | None = None,
    *,
    by: str | None = None,
) -> None:
    with transaction(engine) as session:
        record_event(
            session=session,
            policy=policy,
            now=at,
            dispute_id=dispute_id,
            event=NewEvent(kind, at=at, by=by, data=data),
        )


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
