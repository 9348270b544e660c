"""What the web app runs with: the database, the rules in force, the clock, the zone."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Engine

from models.values import UnitLevel
from rules.policy import Policy
from workflows.access import Viewer
from workflows.db import reading
from workflows.rulesets import current_version, stored_policy
from workflows.views import staff_view, units_view

__all__ = ["OrgLists", "RulesInForce", "Web"]

log = structlog.get_logger(__name__)


class RulesInForce:
    """The rules the web app records under: the ones last put in force in the database (by
    ``rules apply`` or the scheduler's reload), looked up at most every ``every`` seconds,
    so that any number of app processes follow a change without a restart; the rule file's
    until rules are first put in force."""

    def __init__(self, engine: Engine, fallback: Policy, *, every: float = 5.0) -> None:
        self._engine, self._fallback, self._every = engine, fallback, every
        self._policy, self._checked = fallback, float("-inf")
        self._lock = threading.Lock()

    def __call__(self) -> Policy:
        if time.monotonic() - self._checked < self._every:
            return self._policy
        with self._lock:
            if time.monotonic() - self._checked >= self._every:
                self._policy = self._lookup()
                self._checked = time.monotonic()
        return self._policy

    def _lookup(self) -> Policy:
        with reading(self._engine) as session:
            version = current_version(session)
            if version is None or version == self._fallback.version:
                return self._fallback
            if version == self._policy.version:
                return self._policy
            policy = stored_policy(session, version=version)
        if policy is None:
            log.warning("rules_in_force_missing", version=version, using=self._fallback.label)
            return self._fallback
        log.info("rules_in_force", version=policy.label)
        return policy


class OrgLists:
    """The units and the staff of a unit's subtree, for the pages' selects (where to report,
    which unit to filter by, whom to assign): read at most every ``every`` seconds for each
    unit. The org changes only by ``org load``, and a county's lists cost 30 ms a page on
    PostgreSQL (bench/web.py); a change shows in the selects within ``every`` seconds. Only
    the lists are kept: every dispute, count and permission is read fresh."""

    def __init__(self, engine: Engine, *, every: float = 30.0, kept: int = 512) -> None:
        self._engine, self._every, self._kept = engine, every, kept
        self._lists: OrderedDict[tuple[Any, ...], tuple[float, list[dict[str, Any]]]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def units(self, viewer: Viewer, levels: Collection[UnitLevel]) -> list[dict[str, Any]]:
        return self._kept_list(
            ("units", viewer.unit, tuple(levels)),
            lambda: units_view(engine=self._engine, viewer=viewer, levels=levels),
        )

    def staff(self, viewer: Viewer) -> list[dict[str, Any]]:
        return self._kept_list(
            ("staff", viewer.unit), lambda: staff_view(engine=self._engine, viewer=viewer)
        )

    def _kept_list(
        self, key: tuple[Any, ...], read: Callable[[], list[dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            found = self._lists.get(key)
            if found is not None and now - found[0] < self._every:
                self._lists.move_to_end(key)
                return found[1]
        fresh = read()
        with self._lock:
            self._lists[key] = (now, fresh)
            self._lists.move_to_end(key)
            while len(self._lists) > self._kept:
                self._lists.popitem(last=False)
        return fresh


@dataclass
class Web:
    """The app's settings. ``clock`` is the only time the app reads: the wall clock, or a
    fixed ``--now`` running on (tests pass a fixed time)."""

    engine: Engine
    rules: Callable[[], Policy]
    clock: Callable[[], datetime]
    zone: ZoneInfo
    https: bool = False  # cookies are Secure
    org: OrgLists | None = field(default=None)  # the pages' selects; one per app if None
