"""The JSON API's bodies, for its OpenAPI schema and to check what it answers. Times are
ISO 8601 strings with the offset of the app's zone, as the command line prints them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models.values import Level, Risk, Role, Status

__all__ = [
    "Acknowledged",
    "DisputeOut",
    "Error",
    "EscalationItem",
    "Me",
    "NewDisputeIn",
    "NewEventIn",
    "QueuePage",
    "TaskItem",
]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Error(_Out):
    """What went wrong, in one line, as the command line says it."""

    error: str


class ObligationOut(_Out):
    kind: str
    due_at: str
    overdue: bool
    rule: str
    rules_version: str


class EscalationOut(_Out):
    from_level: Level
    to_level: Level
    unit: str
    from_unit: str
    rule: str
    rules_version: str
    effective_at: str
    recorded_at: str


class TaskOut(_Out):
    id: int
    kind: str
    target: str
    due_at: str
    state: str
    overdue: bool
    closed_at: str | None


class EventOut(_Out):
    seq: int
    kind: str
    at: str
    by: str | None
    recorded_at: str
    data: dict[str, Any]
    rules_version: str


class AgreementOut(_Out):
    form: str  # oral or written
    amount: str | None  # in yuan, as a decimal text
    terms: str | None


class VisitsOut(_Out):
    count: int
    last: str | None  # stable or relapsed
    last_at: str | None


class DisputeOut(_Out):
    """Exactly the JSON of ``fengqiao dispute show --json``."""

    id: int
    status: Status
    risk: Risk
    level: Level
    unit: str
    assignee: str | None
    paused: bool
    supervised: bool
    supervision_deadline: str | None
    supervision_grade: str | None  # of the listing, when the rules grade listings
    listing_unit: str | None  # the unit that listed it, told when its deadline passes
    source: str | None  # where the dispute came from (a court's delegation, …)
    court: str | None  # the court that delegated or entrusted it
    category: str
    title: str
    reported_unit: str
    reported_at: str
    level_since: str
    people_involved: int
    location: str | None
    parties: list[dict[str, Any]]
    # what a ledger (台账) keeps of it (models.record)
    description: str | None
    ledger_no: str | None
    method: str | None
    agreement: AgreementOut | None
    mediators: str | None
    mediated_by: list[str]
    outcome: str | None  # resolved, failed, referred, withdrawn
    resolved_at: str | None
    visits: VisitsOut
    confirmed: bool | None  # 司法确认
    closed_at: str | None
    rules_version: str
    obligations: list[ObligationOut]
    escalations: list[EscalationOut]
    tasks: list[TaskOut]
    events: list[EventOut]


class NextDecision(_Out):
    kind: str | None
    to_level: Level | None
    unit: str | None
    at: str


class QueueItem(_Out):
    id: int
    title: str
    category: str
    risk: Risk
    status: Status
    level: Level
    unit: str
    reported_unit: str
    assignee: str | None
    paused: bool
    supervised: bool
    reported_at: str
    level_since: str
    next_deadline: str | None
    overdue: bool
    next_decision: NextDecision | None


class QueuePage(_Out):
    items: list[QueueItem]
    next: str | None = Field(description="the cursor of the next page; null on the last")


class TaskItem(_Out):
    id: int
    dispute: int
    title: str
    category: str
    risk: Risk
    kind: str
    target: str
    due_at: str
    state: str
    overdue: bool


class LastEscalation(_Out):
    from_level: Level
    to_level: Level
    rule: str
    effective_at: str


class Due(_Out):
    kind: str
    due_at: str


class Step(_Out):
    level: Level
    unit: str
    since: str
    until: str | None
    moved_by: str


class EscalationItem(_Out):
    id: int
    title: str
    risk: Risk
    status: Status
    level: Level
    unit: str
    supervised: bool
    last_escalation: LastEscalation | None
    overdue: list[Due]
    ladder: list[Step]


class Acknowledged(_Out):
    id: int
    kind: str
    dispute: int
    state: str


class Me(_Out):
    person: str
    name: str
    role: Role
    unit: str
    overdue: int = Field(description="live disputes in scope with a deadline passed")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewDisputeIn(_In):
    """The fields of ``fengqiao dispute new``; it is reported by the person signed in."""

    unit: str = Field(min_length=1, max_length=32)
    risk: Risk
    category: str = Field(
        min_length=1,
        max_length=64,
        description="a code of the rule file's categories, or its name (邻里, 婚姻家庭…)",
    )
    title: str = Field(min_length=1, max_length=500)
    description: str | None = Field(
        default=None, max_length=2000, description="what it is about (纠纷简要情况)"
    )
    at: str | None = Field(
        default=None, description="ISO 8601; without an offset, in the rules' zone; default now"
    )
    people_involved: int = Field(default=1, ge=1, le=1_000_000)
    parties: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)
    location: str | None = Field(default=None, max_length=500)
    source: str | None = Field(
        default=None,
        max_length=64,
        description="where it came from; court_delegated (委派) or court_entrusted (委托) owes "
        "the court its result",
    )
    court: str | None = Field(default=None, max_length=200, description="the court that sent it")
    court_deadline: str | None = Field(
        default=None, description="the court's deadline, ISO 8601; default the rules'"
    )


class NewEventIn(_In):
    """An event, recorded as done by the person signed in."""

    kind: str = Field(description="an event kind, as for `fengqiao dispute event`")
    at: str | None = Field(
        default=None, description="ISO 8601; without an offset, in the rules' zone; default now"
    )
    data: dict[str, Any] | None = None
