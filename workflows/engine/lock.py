"""One embedded scheduler per database: a lock row kept alive by heartbeats.

Heartbeats and staleness are timed by the database's clock, so that a scheduler on a
machine whose clock is off neither takes over a live lock nor keeps a dead one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from models.tables import SchedulerLock
from workflows.db import database_now, transaction

__all__ = ["LockHeld", "acquire", "heartbeat", "release"]

NAME = "scheduler"


class LockHeld(Exception):
    """Another scheduler holds the lock and has been heard from recently."""

    def __init__(self, holder: str, since: datetime, heartbeat_at: datetime) -> None:
        super().__init__(
            f"another scheduler ({holder}) has been active on this database since "
            f"{since.isoformat()} (last heartbeat {heartbeat_at.isoformat()})"
        )
        self.holder, self.since, self.heartbeat_at = holder, since, heartbeat_at


def acquire(
    engine: Engine, *, holder: str, stale_after: timedelta, now: datetime | None = None
) -> None:
    """Take the lock, or take it over from a holder silent for ``stale_after``; else raise.

    ``now`` defaults to the database's clock."""
    now = database_now(engine) if now is None else now
    try:
        with transaction(engine) as session:
            lock = session.exec(
                select(SchedulerLock).where(SchedulerLock.name == NAME).with_for_update()
            ).one_or_none()
            if lock is None:
                session.add(
                    SchedulerLock(name=NAME, holder=holder, acquired_at=now, heartbeat_at=now)
                )
                return
            if lock.holder != holder and now - lock.heartbeat_at < stale_after:
                raise LockHeld(lock.holder, lock.acquired_at, lock.heartbeat_at)
            lock.holder, lock.acquired_at, lock.heartbeat_at = holder, now, now
            session.add(lock)
    except IntegrityError:  # another scheduler inserted the row first
        with transaction(engine) as session:
            lock = session.exec(select(SchedulerLock)).one()
        raise LockHeld(lock.holder, lock.acquired_at, lock.heartbeat_at) from None


def heartbeat(engine: Engine, *, holder: str, now: datetime | None = None) -> bool:
    """Renew the lock at ``now`` (the database's clock by default); False if it was taken
    over (the caller must stop)."""
    now = database_now(engine) if now is None else now
    with transaction(engine) as session:
        lock = session.exec(
            select(SchedulerLock).where(SchedulerLock.name == NAME).with_for_update()
        ).one_or_none()
        if lock is None or lock.holder != holder:
            return False
        lock.heartbeat_at = now
        session.add(lock)
        return True


def release(engine: Engine, *, holder: str) -> None:
    with transaction(engine) as session:
        lock = session.get(SchedulerLock, NAME)
        if lock is not None and lock.holder == holder:
            session.delete(lock)
