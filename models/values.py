"""Value types shared by the lifecycle, the rules and the tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final, Literal

__all__ = [
    "ACKNOWLEDGEMENT",
    "ENGINE",
    "OPERATOR",
    "Actor",
    "Channel",
    "EventKind",
    "Level",
    "LIVE_STATUSES",
    "LIVE_TASK_STATES",
    "MessageKind",
    "NO_DEADLINE",
    "OPEN_STATUSES",
    "OutboxState",
    "Risk",
    "Role",
    "Status",
    "TaskState",
    "UnitLevel",
    "UnitPath",
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

    @property
    def staff(self) -> Role:
        """Who works for a unit of this level: supervisors at township and county (综治中心),
        mediators and grid workers at village and grid."""
        if self in (UnitLevel.county, UnitLevel.township):
            return Role.supervisor
        return Role.mediator


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


@dataclass(frozen=True)
class UnitPath:
    """The units a dispute can be handled by, one per level, fixed when it is reported."""

    village: str
    township: str
    county: str

    def at(self, level: Level) -> str:
        if level is Level.village:
            return self.village
        return self.township if level is Level.township else self.county


class Risk(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"

    @property
    def higher(self) -> Risk:
        """One grade higher, high staying high."""
        order = list(Risk)
        return order[min(order.index(self) + 1, len(order) - 1)]

    @property
    def rank(self) -> int:
        """0 for high, 1 for medium, 2 for low: the order queues list them in."""
        return _RISK_RANK[self]


_RISK_RANK = {Risk.high: 0, Risk.medium: 1, Risk.low: 2}


class Status(StrEnum):
    reported = "reported"
    mediating = "mediating"
    resolved = "resolved"
    closed = "closed"
    referred = "referred"
    withdrawn = "withdrawn"


# Tuples, not sets: the transition table lists them in this order.
OPEN_STATUSES: tuple[Status, ...] = (Status.reported, Status.mediating)
# Disputes whose obligations can still change: not closed or withdrawn (a referred dispute
# owes the referral's feedback).
LIVE_STATUSES: tuple[Status, ...] = (*OPEN_STATUSES, Status.resolved, Status.referred)


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
    # 诉调对接: the answer of the body a dispute was referred to
    referral_result = "referral_result"
    # a dispute delegated or entrusted by a court (委派/委托调解): its result sent back
    court_result = "court_result"
    # 司法确认: the parties told of it, their application, the court's decision
    confirmation_notice = "confirmation_notice"
    confirmation_apply = "confirmation_apply"
    confirmation_result = "confirmation_result"
    # the mediation time limit extended with both parties' agreement
    extend = "extend"
    # the org changed under the dispute (its unit moved or merged, its assignee moved or
    # left): recorded by `fengqiao org load`, never by a person on a dispute
    reorganise = "reorganise"


class TaskState(StrEnum):
    """A task is open until done (its obligation fulfilled, or acknowledged) or cancelled
    (its obligation moved or ended otherwise); a cadence task may be marked seen first."""

    open = "open"
    acknowledged = "acknowledged"
    done = "done"
    cancelled = "cancelled"


# The next deadline of a dispute that owes nothing: late enough to sort last on every
# database, early enough to be shown in any time zone.
NO_DEADLINE: Final = datetime(9999, 12, 30, tzinfo=UTC)

# Tasks still owed: not done or cancelled.
LIVE_TASK_STATES: tuple[TaskState, ...] = (TaskState.open, TaskState.acknowledged)

# The kind of the task that an assignment or an escalation owes (签收); every other task's
# kind is the name of the obligation it follows.
ACKNOWLEDGEMENT: Final = "acknowledge"


class Channel(StrEnum):
    """How a message reaches an address, in the order addresses are listed."""

    email = "email"
    webhook = "webhook"
    dingtalk = "dingtalk"
    wecom = "wecom"
    feishu = "feishu"
    sms = "sms"
    apprise = "apprise"


class OutboxState(StrEnum):
    pending = "pending"
    sent = "sent"
    dead = "dead"  # failed too often; told to the recipient's supervisors
    void = "void"  # its task was done or cancelled before it could go out


class MessageKind(StrEnum):
    """What a message says, one template each."""

    assigned = "assigned"  # a new acknowledgement task: an assignment
    escalated = "escalated"  # a new acknowledgement task: an escalation
    listed = "listed"  # a new acknowledgement task: a listing (挂牌督办) made or graded up
    unit_task = "unit_task"  # a unit's own task opened (the county's monthly inspection)
    reminder = "reminder"  # a task falls due soon
    due = "due"  # a task fell due
    unacknowledged = "unacknowledged"  # passed to the supervisors one level up
    digest = "digest"  # the morning list of open tasks
    undeliverable = "undeliverable"  # a message died; told to the supervisors
    reorganised = "reorganised"  # a unit moved or merged: its live disputes' new supervisors
    released = "released"  # a person moved or left: their disputes back to be assigned
    report = "report"  # a report (周研判报告, 月督查通报) stored: where to read it


@dataclass(frozen=True)
class Actor:
    """Who makes a change, and how: a person signed in to the web app (``via="web"``), whose
    scope and role are checked; the operator at the server's command line (``"cli"``), who
    may name the person a change is for; or the engine's own sweeps (``"engine"``)."""

    person: str | None = None
    via: Literal["cli", "engine", "web"] = "cli"

    def __post_init__(self) -> None:
        if self.via == "web" and not self.person:
            raise ValueError("a change on the web is made by a person signed in")

    @property
    def name(self) -> str:
        """How logs name the actor."""
        return self.person or self.via

    @property
    def checked(self) -> bool:
        """True when the change must be within the actor's scope and allowed by their role:
        for a person signed in; the operator at the server is trusted."""
        return self.via == "web"


# The operator at the server's command line, when no person is named; the engine's sweeps.
OPERATOR: Final = Actor()
ENGINE: Final = Actor(via="engine")
