"""The embedded scheduler's lock is timed by the database's clock: a machine whose own
clock is off neither takes over a live lock nor is kept out by a dead one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from models.tables import SchedulerLock
from workflows.db import database_now, transaction
from workflows.engine import LockHeld, acquire, heartbeat

STALE = timedelta(seconds=60)


def _holder(engine: Engine) -> str:
    with transaction(engine) as session:
        return session.exec(select(SchedulerLock.holder)).one()


def _last_heard(engine: Engine, ago: timedelta) -> None:
    at = database_now(engine) - ago
    with transaction(engine) as session:
        lock = session.exec(select(SchedulerLock)).one()
        lock.heartbeat_at = at
        session.add(lock)


def test_a_live_lock_is_not_taken_over_by_a_machine_whose_clock_is_ten_minutes_fast(
    engine: Engine,
) -> None:
    time_machine = pytest.importorskip("time_machine")
    acquire(engine, holder="first", stale_after=STALE)
    _last_heard(engine, timedelta(seconds=10))
    fast = database_now(engine) + timedelta(minutes=10)
    with time_machine.travel(fast, tick=True), pytest.raises(LockHeld, match=r"\(first\)"):
        acquire(engine, holder="second", stale_after=STALE)
    assert _holder(engine) == "first"


def test_a_dead_lock_is_taken_over_by_a_machine_whose_clock_is_ten_minutes_slow(
    engine: Engine,
) -> None:
    time_machine = pytest.importorskip("time_machine")
    acquire(engine, holder="first", stale_after=STALE)
    _last_heard(engine, timedelta(minutes=2))
    slow = database_now(engine) - timedelta(minutes=10)
    with time_machine.travel(slow, tick=True):
        acquire(engine, holder="second", stale_after=STALE)
        assert not heartbeat(engine, holder="first")  # the old holder learns it and stops
        assert heartbeat(engine, holder="second")
    assert _holder(engine) == "second"
