"""Value types shared by the lifecycle, the rules and the tables."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "EventKind",
    "Level",
    "LIVE_STATUSES",
    "LIVE_TASK_STATES",
    "OPEN_STATUSES",
    "Risk",
    "Role",
    "Status",
    "UnitLevel",
]


class UnitLevel(StrEnum):
    """A node of the administrative hierarchy, top down."""

    county = "county"
    township = "township"
    village = "village"
    grid = "grid"

    @property
    def parent_level(self) -> UnitLevel | None:
        order = list(UnitLevel)
        index = order.index(self)
        return order[index - 1] if index > 0 else None


class Level(StrEnum):
    """Where a dispute is being handled, bottom up."""

    village = "village"
    township = "township"
    county = "county"

    @property
    def up(self) -> Level | None:
        return _LEVEL_UP.get(self)

    @property
    def down(self) -> Level | None:
        return _LEVEL_DOWN.get(self)


_LEVEL_UP = dict(zip(Level, list(Level)[1:], strict=False))
_LEVEL_DOWN = {up: down for down, up in _LEVEL_UP.items()}


class Risk(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"

    @property
    def higher(self) -> Risk:
        """One grade higher, high staying high."""
        order = list(Risk)
        return order[min(order.index(self) + 1, len(order) - 1)]


class Status(StrEnum):
    reported = "reported"
    mediating = "mediating"
    resolved = "resolved"
    closed = "closed"
    referred = "referred"
    withdrawn = "withdrawn"


OPEN_STATUSES = frozenset({Status.reported, Status.mediating})
# Disputes whose obligations can still change: not closed, withdrawn or referred.
LIVE_STATUSES = frozenset({Status.reported, Status.mediating, Status.resolved})
# Tasks still owed: not done or cancelled.
LIVE_TASK_STATES = ("open", "acknowledged")


class Role(StrEnum):
    mediator = "mediator"
    supervisor = "supervisor"
    administrator = "administrator"


class EventKind(StrEnum):
    """Every kind of event the log holds; ``report`` opens each dispute's log."""

    report = "report"
    assign = "assign"
    acknowledge = "acknowledge"
    check = "check"
    assess = "assess"
    mediate = "mediate"
    resolve = "resolve"
    visit = "visit"
    review = "review"
    inspect = "inspect"
    close = "close"
    reopen = "reopen"
    refer = "refer"
    pause = "pause"
    resume = "resume"
    escalate = "escalate"
    handback = "handback"
    supervise = "supervise"
    note = "note"
    withdraw = "withdraw"
