"""The tables: SQLModel, the same schema on SQLite and PostgreSQL.

Times are stored as naive UTC (``UTCDateTime``) so that both databases compare them the
same way; they come back timezone-aware.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    SmallInteger,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from models.sealing import Keyring, SealError, is_sealed
from models.values import NO_DEADLINE, OutboxState, TaskState

__all__ = [
    "LIVE",
    "Account",
    "ApiToken",
    "Dispute",
    "DisputeEvent",
    "Escalation",
    "FlowRun",
    "Obligation",
    "OutboxMessage",
    "Person",
    "Report",
    "RuleChange",
    "RuleSetRecord",
    "SchedulerLock",
    "SignInFailure",
    "Task",
    "UTCDateTime",
    "Unit",
    "UnitTask",
    "WebSession",
]

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, naive UTC stored, aware UTC out."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"refusing to store a naive datetime {value!r}")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class SealedJSON(TypeDecorator[Any]):
    """A JSON value kept sealed (models.sealing): a list of parties in, the sealed text
    stored (as a JSON string), the list out. An empty list is kept as it is; a value stored
    before sealing began (a list) is read as it is, until `fengqiao keys rotate` seals it.
    The keyring is the engine's (workflows.keys), found on its dialect."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if not value:
            return value
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        return _keyring(dialect).seal(plain)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if is_sealed(value):
            return json.loads(_keyring(dialect).open(value))
        return value


def _keyring(dialect: Any) -> Keyring:
    source = getattr(dialect, "fengqiao_keyring", None)
    if source is None:
        raise SealError("this engine has no key for the parties' data (workflows.db.make_engine)")
    keyring: Keyring = source()
    return keyring


def _time(*, index: bool = False, nullable: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), index=index, nullable=nullable))


class Unit(SQLModel, table=True):
    __tablename__ = "units"
    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    level: str = Field(max_length=16)
    parent_code: str | None = Field(default=None, foreign_key="units.code", index=True)
    contacts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # A unit removed or merged into another is kept for the history that names it, ended.
    ended_at: datetime | None = _time(nullable=True)
    merged_into: str | None = Field(default=None, max_length=32)


class Person(SQLModel, table=True):
    __tablename__ = "people"
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    role: str = Field(max_length=16)
    unit_code: str = Field(foreign_key="units.code", index=True)
    contacts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Someone who left (retired, moved away) is kept for the history that names them.
    left_at: datetime | None = _time(nullable=True)


class OrgChange(SQLModel, table=True):
    """A change of the org that moves disputes or people's work: a unit moved, merged or
    removed, a person moved or gone; when, by whom, from what to what, and how many live
    disputes followed. The org's own log, as ``rule_changes`` is the rules'."""

    __tablename__ = "org_changes"
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    at: datetime = _time(index=True)
    actor: str | None = Field(default=None, max_length=64)
    kind: str = Field(max_length=16)  # unit_moved, unit_merged, unit_removed, person_…
    subject: str = Field(max_length=64, index=True)  # the unit's code or the person's id
    before: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    after: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    disputes: int = 0  # the live disputes it moved or released


class PartyDigest(SQLModel, table=True):
    """A keyed hash of a party's phone or ID number (models.sealing): the disputes naming
    it are found without keeping it in clear."""

    __tablename__ = "party_digests"
    digest: str = Field(primary_key=True, max_length=64)
    dispute_id: int = Field(sa_column=Column(BigId, primary_key=True))


class LedgerExport(SQLModel, table=True):
    """A ledger (台账) given out: when, by whom, of which unit and filters, how many rows,
    and whether the parties' data was masked."""

    __tablename__ = "ledger_exports"
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    at: datetime = _time(index=True)
    actor: str = Field(max_length=64)
    unit: str = Field(max_length=32)
    start: str | None = Field(default=None, max_length=10)  # local days, ISO
    end: str | None = Field(default=None, max_length=10)
    status: str | None = Field(default=None, max_length=16)
    rows: int = 0
    masked: bool = False


# The disputes a queue lists: not closed or withdrawn (a referred one owes its feedback).
LIVE = text("status IN ('reported', 'mediating', 'resolved', 'referred')")


def _queue(name: str, scope: str) -> Index:
    """The queue of a scope: its live disputes, high risk first, then the earliest deadline
    (overdue first), read off the index page after page (keyset)."""
    return Index(
        name,
        scope,
        "risk_rank",
        "attention_at",
        "id",
        postgresql_where=LIVE,
        sqlite_where=LIVE,
    )


class Dispute(SQLModel, table=True):
    __tablename__ = "disputes"
    __table_args__ = (
        Index("ix_disputes_county_level", "county_code", "level"),
        Index("ix_disputes_township_level", "township_code", "level"),
        # The sweep's claim: due disputes in (due time, id) order, read off the index.
        Index("ix_disputes_next_decision", "next_decision_at", "id"),
        _queue("ix_disputes_queue_county", "county_code"),
        _queue("ix_disputes_queue_township", "township_code"),
        _queue("ix_disputes_queue_village", "village_code"),
        _queue("ix_disputes_queue_reported", "reported_unit"),
        # A row of an office's ledger is brought in once however often the ledger is.
        Index(
            "uq_disputes_ledger_key",
            "ledger_key",
            unique=True,
            postgresql_where=text("ledger_key IS NOT NULL"),
            sqlite_where=text("ledger_key IS NOT NULL"),
        ),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    category: str = Field(max_length=64)
    title: str = Field(max_length=500)
    risk: str = Field(max_length=8)
    status: str = Field(max_length=16, index=True)
    level: str = Field(max_length=16)
    unit_code: str = Field(foreign_key="units.code", index=True)
    reported_unit: str = Field(foreign_key="units.code")  # the village or grid reported at
    village_code: str = Field(max_length=32)
    township_code: str = Field(max_length=32)
    county_code: str = Field(max_length=32)
    assignee: str | None = Field(default=None, foreign_key="people.id", index=True)
    people_involved: int = Field(default=1)
    # sealed at rest (models.sealing); found by phone or ID number through party_digests
    parties: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(SealedJSON, nullable=False)
    )
    location: str | None = Field(default=None, max_length=500)
    reported_at: datetime = _time()
    level_since: datetime = _time()
    paused: bool = False
    supervised: bool = False
    supervision_deadline: datetime | None = _time(nullable=True)
    last_seq: int = 0
    next_decision_at: datetime | None = _time(nullable=True)
    rules_version: str = Field(max_length=64)
    # The evaluation's fold after event ``last_seq`` (rules.evaluate.Evaluation.folded):
    # the next evaluation goes on from it instead of replaying the history.
    fold: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # For the queues: the risk as a rank (0 high, 1 medium, 2 low), and the next deadline,
    # the earliest obligation or acknowledgement due (NO_DEADLINE if none).
    risk_rank: int = Field(default=2, sa_column=Column(SmallInteger, nullable=False))
    # The record a ledger keeps of it (models.record), and the ledger row it came from:
    # the importing unit's code and the row's number there.
    record: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSON, nullable=False, server_default=text("'{}'")),
    )
    ledger_key: str | None = Field(default=None, max_length=200)
    attention_at: datetime = Field(
        default=NO_DEADLINE, sa_column=Column(UTCDateTime(), nullable=False)
    )


class DisputeEvent(SQLModel, table=True):
    """The append-only event log: one row per event, numbered per dispute."""

    __tablename__ = "dispute_events"
    __table_args__ = (
        UniqueConstraint("dispute_id", "seq", name="uq_dispute_events_seq"),
        # A line of an imported file is recorded once however often the file is imported.
        Index(
            "uq_dispute_events_import_key",
            "dispute_id",
            "import_key",
            unique=True,
            postgresql_where=text("import_key IS NOT NULL"),
            sqlite_where=text("import_key IS NOT NULL"),
        ),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    dispute_id: int = Field(sa_column=Column(BigId, nullable=False))
    seq: int
    kind: str = Field(max_length=32)
    at: datetime = _time()
    recorded_at: datetime = _time()
    actor: str | None = Field(default=None, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    rules_version: str = Field(max_length=64)
    # The key of the imported line it came from (its own, or a digest of an event given
    # with its time): none for an event recorded otherwise.
    import_key: str | None = Field(default=None, max_length=200)


class Obligation(SQLModel, table=True):
    """What a dispute owes next, one row per obligation; due_at is indexed for range scans."""

    __tablename__ = "obligations"
    __table_args__ = (
        UniqueConstraint("dispute_id", "kind", name="uq_obligations_kind"),
        # The cadence sweeps' claim: obligations of a kind not yet noticed overdue, by due time.
        Index("ix_obligations_kind_noted_due", "kind", "overdue_noted", "due_at"),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    # looked up through the unique constraint's index, which leads with it
    dispute_id: int = Field(sa_column=Column(BigId, nullable=False))
    kind: str = Field(max_length=64)
    due_at: datetime = _time(index=True)
    rule: str = Field(max_length=128)
    rules_version: str = Field(max_length=64)
    overdue_noted: bool = False  # a cadence sweep saw it overdue; reset when the due time moves


class Escalation(SQLModel, table=True):
    __tablename__ = "escalations"
    __table_args__ = (
        UniqueConstraint("dispute_id", "from_level", "effective_at", name="uq_escalations_once"),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    # looked up through the unique constraint's index, which leads with it
    dispute_id: int = Field(sa_column=Column(BigId, nullable=False))
    from_level: str = Field(max_length=16)
    to_level: str = Field(max_length=16)
    from_unit: str = Field(max_length=32)
    to_unit: str = Field(max_length=32, index=True)
    rule: str = Field(max_length=128)
    rules_version: str = Field(max_length=64)
    effective_at: datetime = _time(index=True)
    recorded_at: datetime = _time()
    event_seq: int


class Task(SQLModel, table=True):
    """Something a person, or a unit's supervisors, must do about a dispute.

    ``kind`` is an obligation's name or ``acknowledge``; ``target`` a
    :class:`models.targets.Target` (``person:<id>`` or ``unit:<code>``); ``state`` a
    :class:`models.values.TaskState`.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("dispute_id", "kind", "target", "due_at", name="uq_tasks_once"),
        Index("ix_tasks_target_state", "target", "state"),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    # looked up through the unique constraint's index, which leads with it
    dispute_id: int = Field(sa_column=Column(BigId, nullable=False))
    kind: str = Field(max_length=32)
    target: str = Field(max_length=100)
    due_at: datetime = _time(index=True)
    state: str = Field(default=TaskState.open, max_length=16)
    created_at: datetime = _time()
    closed_at: datetime | None = _time(nullable=True)
    rules_version: str = Field(max_length=64)
    risk: str = Field(default="low", max_length=8)
    next_reminder_at: datetime | None = _time(index=True, nullable=True)
    reminders_sent: int = 0
    escalated_at: datetime | None = _time(nullable=True)


class UnitTask(SQLModel, table=True):
    """Something a unit's supervisors owe for the unit as a whole, not for one dispute: the
    county's monthly inspection (月督查). ``kind`` is a unit obligation's name; one per unit,
    kind and ``opened_on`` (the local day it was opened)."""

    __tablename__ = "unit_tasks"
    __table_args__ = (
        UniqueConstraint("unit_code", "kind", "opened_on", name="uq_unit_tasks_once"),
        Index("ix_unit_tasks_unit_state", "unit_code", "state"),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    unit_code: str = Field(foreign_key="units.code", max_length=32)
    kind: str = Field(max_length=32)
    opened_on: date
    due_at: datetime = _time()
    state: str = Field(default=TaskState.open, max_length=16)
    created_at: datetime = _time()
    closed_at: datetime | None = _time(nullable=True)
    closed_by: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=2000)
    rules_version: str = Field(max_length=64)


class RuleSetRecord(SQLModel, table=True):
    """Every rule set that has been in force, by content hash."""

    __tablename__ = "rule_sets"
    version: str = Field(primary_key=True, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    source: str = Field(max_length=1000)
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    first_seen_at: datetime = _time()


class RuleChange(SQLModel, table=True):
    """A change of the rules in force, with who made it: the policy's own event log."""

    __tablename__ = "rule_changes"
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    at: datetime = _time(index=True)
    actor: str | None = Field(default=None, max_length=64)
    from_version: str | None = Field(default=None, max_length=64)
    to_version: str = Field(foreign_key="rule_sets.version", max_length=64)
    disputes_recomputed: int = 0
    decisions_recorded: int = 0
    # Why, in the words of who put them in force (none before migration 0012).
    reason: str | None = Field(default=None, max_length=500)


class FlowRun(SQLModel, table=True):
    """A run of a sweep flow: the window of due times it covered, and what it did."""

    __tablename__ = "flow_runs"
    __table_args__ = (UniqueConstraint("flow", "window_end", name="uq_flow_runs_window"),)
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    flow: str = Field(max_length=64)
    window_end: datetime = _time()
    started_at: datetime = _time()
    finished_at: datetime | None = _time(nullable=True)
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Report(SQLModel, table=True):
    """A weekly assessment report (per township) or monthly circular (per county)."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("kind", "unit_code", "period_start", name="uq_reports_period"),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    kind: str = Field(max_length=32)
    unit_code: str = Field(max_length=32, index=True)
    period_start: datetime = _time()
    period_end: datetime = _time()
    created_at: datetime = _time()
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class SchedulerLock(SQLModel, table=True):
    """Who runs the embedded scheduler of this database; a holder keeps it by heartbeat."""

    __tablename__ = "scheduler_lock"
    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=200)
    acquired_at: datetime = _time()
    heartbeat_at: datetime = _time()


class OutboxMessage(SQLModel, table=True):
    """A message to one address, written in the transaction that caused it; delivered at
    least once by the sender, deduplicated by ``key`` where the channel allows it."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("key", "channel", "address", name="uq_outbox_once"),
        Index("ix_outbox_state_next", "state", "next_attempt_at"),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    key: str = Field(max_length=200)
    kind: str = Field(max_length=32)  # models.values.MessageKind
    recipient: str = Field(max_length=100)
    channel: str = Field(max_length=32)
    address: str = Field(max_length=1000)
    dispute_id: int | None = Field(default=None, sa_column=Column(BigId, nullable=True, index=True))
    task_id: int | None = Field(default=None, sa_column=Column(BigId, nullable=True))
    title: str = Field(max_length=500)
    body: str = Field(max_length=5000)
    state: str = Field(default=OutboxState.pending, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _time()
    created_at: datetime = _time()
    sent_at: datetime | None = _time(nullable=True)
    last_error: str | None = Field(default=None, max_length=300)
    risk: str | None = Field(default=None, max_length=8)  # for quiet hours, checked at sending
    claim: str | None = Field(default=None, max_length=64)  # the sender holding the lease
    # The page where the task is done (a path of the web app) and the text of ``body`` it
    # stands in for once the sender knows the app's public address.
    act: str | None = Field(default=None, max_length=300)
    link: str | None = Field(default=None, max_length=300)


class Account(SQLModel, table=True):
    """A person's sign-in: an Argon2 hash of their password (never the password), and
    whether the account is disabled."""

    __tablename__ = "accounts"
    person_id: str = Field(primary_key=True, foreign_key="people.id", max_length=64)
    password_hash: str | None = Field(default=None, max_length=255)
    disabled: bool = False
    password_set_at: datetime | None = _time(nullable=True)
    last_sign_in_at: datetime | None = _time(nullable=True)


class ApiToken(SQLModel, table=True):
    """A token for the JSON API (``Authorization: Bearer``): only its SHA-256 is kept."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_api_tokens_hash"),)
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    person_id: str = Field(foreign_key="people.id", index=True, max_length=64)
    token_hash: str = Field(max_length=64)
    created_at: datetime = _time()
    revoked_at: datetime | None = _time(nullable=True)
    last_used_at: datetime | None = _time(nullable=True)


class WebSession(SQLModel, table=True):
    """A signed-in browser: the SHA-256 of its cookie, whose it is, until when, and the
    secret its forms carry against cross-site requests. In the database, so that sessions
    survive a restart and work across any number of web processes."""

    __tablename__ = "web_sessions"
    token_hash: str = Field(primary_key=True, max_length=64)
    person_id: str = Field(foreign_key="people.id", index=True, max_length=64)
    csrf: str = Field(max_length=64)
    created_at: datetime = _time()
    seen_at: datetime = _time()
    expires_at: datetime = _time(index=True)


class SignInFailure(SQLModel, table=True):
    """A failed sign-in, for throttling by account and by address."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_username_at", "username", "at"),
        Index("ix_sign_in_failures_address_at", "address", "at"),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    username: str = Field(max_length=64)
    address: str = Field(max_length=64)
    at: datetime = _time()
