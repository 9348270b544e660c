"""Bulk loading: the events of a JSON-lines file, recorded all or nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError
from sqlalchemy import Engine

from models.values import Actor
from rules.policy import Policy
from workflows.db import transaction
from workflows.errors import BadInput, ProblemList
from workflows.recording.service import Refusals, record
from workflows.recording.validate import EventRefused, NewEvent
from workflows.settings import parse_time

__all__ = ["ImportSummary", "import_events"]

log = structlog.get_logger(__name__)


class _Line(BaseModel):
    """One line: the fields of ``fengqiao dispute event``."""

    model_config = ConfigDict(extra="forbid")
    dispute: StrictInt = Field(ge=1)
    kind: str
    at: str | None = None
    by: str | None = None
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class ImportSummary:
    events: int
    disputes: int
    decisions: int


def import_events(
    *, engine: Engine, policy: Policy, now: datetime, actor: Actor, path: Path, zone: ZoneInfo
) -> ImportSummary:
    """Record every event of ``path`` in one transaction; if any line is refused, record
    nothing and raise listing the problems.

    Every line that cannot be read is listed, and for each dispute the first event refused
    (the later events of that dispute depend on it).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read: {exc}") from None
    problems: list[tuple[int, str]] = []
    groups: dict[int, list[tuple[int, NewEvent]]] = {}
    # Only "\n" ends a line: str.splitlines() would also split inside a JSON string.
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            line = _Line.model_validate(json.loads(raw))
            at = parse_time(line.at, zone=zone, what="at") if line.at else None
        except json.JSONDecodeError as exc:
            problems.append((number, f"not valid JSON: {exc.msg} at column {exc.colno}"))
            continue
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"]) or "line"
            message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append((number, f"{where}: {message}"))
            continue
        except BadInput as exc:
            problems.append((number, str(exc)))
            continue
        groups.setdefault(line.dispute, []).append(
            (number, NewEvent(kind=line.kind, at=at, actor=line.by, data=line.data))
        )
    changes = {dispute: [event for _, event in items] for dispute, items in groups.items()}
    try:
        with transaction(engine) as session:
            recorded = record(session, changes, policy=policy, now=now, actor=actor)
            if problems:  # the file is refused: what was recorded is rolled back
                raise _refused(path, problems)
    except Refusals as refusals:
        for dispute, refusal in refusals.refused.items():
            index = refusal.index if isinstance(refusal, EventRefused) else 0
            problems.append((groups[dispute][index][0], str(refusal)))
        raise _refused(path, problems) from None
    events = sum(len(result.events) for result in recorded.values())
    log.info(
        "events_imported", file=str(path), events=events, disputes=len(groups), actor=actor.name
    )
    return ImportSummary(
        events=events,
        disputes=len(groups),
        decisions=sum(result.decisions for result in recorded.values()),
    )


def _refused(path: Path, problems: list[tuple[int, str]]) -> ProblemList:
    return ProblemList([f"{path}:{number}: {message}" for number, message in sorted(problems)])
