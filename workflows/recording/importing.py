"""Bulk loading: the events of a JSON-lines file, recorded all or nothing."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from models.tables import DisputeEvent
from models.values import Actor
from rules.policy import Policy
from workflows.db import transaction
from workflows.errors import BadInput, ProblemList
from workflows.recording.lines import decode_text, loads_limited
from workflows.recording.service import Refusals, record
from workflows.recording.validate import EventRefused, NewEvent
from workflows.settings import parse_time

__all__ = ["ImportSummary", "import_events"]

log = structlog.get_logger(__name__)

EVENTS = DisputeEvent.__table__  # type: ignore[attr-defined]
_BATCH = 500  # keys looked up together


class _Line(BaseModel):
    """One line: the fields of ``fengqiao dispute event``, and the line's key."""

    model_config = ConfigDict(extra="forbid")
    dispute: StrictInt = Field(ge=1)
    kind: str = Field(min_length=1, max_length=32)
    at: str | None = Field(default=None, max_length=64)
    by: str | None = Field(default=None, min_length=1, max_length=64)
    data: dict[str, Any] | None = None
    # Recorded once per dispute, however often the file is imported.
    key: str | None = Field(default=None, min_length=1, max_length=128)


@dataclass(frozen=True)
class ImportSummary:
    events: int
    disputes: int
    decisions: int
    already: int = 0  # lines recorded before, by an earlier import: not again


@dataclass(frozen=True)
class _Read:
    number: int
    dispute: int
    event: NewEvent
    key: str | None  # its own, or a digest of the event when it gives its time
    given: bool  # whether the key is the line's own


def import_events(
    *, engine: Engine, policy: Policy, now: datetime, actor: Actor, path: Path, zone: ZoneInfo
) -> ImportSummary:
    """Record every event of ``path`` in one transaction; if any line is refused, record
    nothing and raise listing the problems.

    Every line that cannot be read is listed, and for each dispute the first event refused
    (the later events of that dispute depend on it). A line recorded by an earlier import
    (the same ``key``, or, without one, the same event at the same time) is not recorded
    again: importing a file twice, or again after fixing it, records each line once.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror}") from None
    text = decode_text(data, where=str(path))
    problems: list[tuple[int, str]] = []
    lines: list[_Read] = []
    keys: dict[tuple[int, str], int] = {}  # (dispute, key): the line that has it
    # Only "\n" ends a line: str.splitlines() would also split inside a JSON string.
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            read = _read(number, raw, zone)
        except BadInput as exc:
            problems.append((number, str(exc)))
            continue
        if read.key is not None:
            first = keys.setdefault((read.dispute, read.key), number)
            if first != number:
                said = "the key" if read.given else "the same event (kind, time, by, data)"
                problems.append((number, f"{said} of line {first} again"))
                continue
        lines.append(read)
    try:
        with transaction(engine) as session:
            done = _recorded_before(session, [(r.dispute, r.key) for r in lines if r.key])
            fresh = [r for r in lines if (r.dispute, r.key) not in done]
            groups: dict[int, list[_Read]] = {}
            for read in fresh:
                groups.setdefault(read.dispute, []).append(read)
            changes = {d: [r.event for r in items] for d, items in groups.items()}
            recorded = record(session, changes, policy=policy, now=now, actor=actor)
            if problems:  # the file is refused: what was recorded is rolled back
                raise _refused(path, problems)
    except Refusals as refusals:
        for dispute, refusal in refusals.refused.items():
            index = refusal.index if isinstance(refusal, EventRefused) else 0
            problems.append((groups[dispute][index].number, str(refusal)))
        raise _refused(path, problems) from None
    except IntegrityError:  # another import recorded some of these lines meanwhile
        raise BadInput(
            f"{path}: another import recorded some of these lines meanwhile; nothing was "
            "recorded: import the file again"
        ) from None
    events = sum(len(result.events) for result in recorded.values())
    already = len(lines) - len(fresh)
    log.info(
        "events_imported",
        file=str(path),
        events=events,
        disputes=len(groups),
        already=already,
        actor=actor.name,
    )
    return ImportSummary(
        events=events,
        disputes=len(groups),
        decisions=sum(result.decisions for result in recorded.values()),
        already=already,
    )


def _read(number: int, raw: str, zone: ZoneInfo) -> _Read:
    """A line read and checked as far as it can be without the database."""
    value = loads_limited(raw)
    if not isinstance(value, dict):
        raise BadInput(
            "a line is a JSON object with the fields of `dispute event` "
            '({"dispute": 12, "kind": "check", …})'
        )
    try:
        line = _Line.model_validate(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "line"
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        raise BadInput(f"{where}: {message}") from None
    at = parse_time(line.at, zone=zone, what="at") if line.at else None
    key = line.key
    if key is not None and "\x00" in key:
        raise BadInput("key: may not contain a NUL character")
    if key is None and at is not None:
        key = _digest(line, at)
    event = NewEvent(kind=line.kind, at=at, actor=line.by, data=line.data, key=key)
    return _Read(number, line.dispute, event, key, given=line.key is not None)


def _digest(line: _Line, at: datetime) -> str:
    """The key of a line without one that gives its time: the event itself."""
    event = {
        "kind": line.kind,
        "at": at.astimezone(UTC).isoformat(),
        "by": line.by,
        "data": line.data or {},
    }
    canonical = json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _recorded_before(session: Session, wanted: list[tuple[int, str | None]]) -> set[Any]:
    """Of the (dispute, key) pairs ``wanted``, those an earlier import recorded."""
    found: set[Any] = set()
    for start in range(0, len(wanted), _BATCH):
        batch = wanted[start : start + _BATCH]
        rows = session.execute(
            select(EVENTS.c.dispute_id, EVENTS.c.import_key).where(
                EVENTS.c.dispute_id.in_({d for d, _ in batch}),
                EVENTS.c.import_key.in_({k for _, k in batch}),
            )
        )
        found.update((row.dispute_id, row.import_key) for row in rows)
    return found


def _refused(path: Path, problems: list[tuple[int, str]]) -> ProblemList:
    return ProblemList([f"{path}:{number}: {message}" for number, message in sorted(problems)])
