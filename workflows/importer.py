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
from sqlmodel import Session

from rules.policy import Policy
from workflows.disputes import EventRefused, NewEvent, record_events
from workflows.errors import BadInput, ProblemList

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
    *, session: Session, policy: Policy, now: datetime, path: Path, zone: ZoneInfo
) -> ImportSummary:
    """Record every event of ``path``; if any line is refused, raise listing the problems.

    Every line that cannot be read is listed, and for each dispute the first event refused
    (the later events of that dispute depend on it).
    """
    from fengqiao.settings import parse_time

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
            (number, NewEvent(kind=line.kind, at=at, by=line.by, data=line.data))
        )
    recorded = decisions = 0
    for dispute_id, items in groups.items():
        try:
            with session.begin_nested():
                result = record_events(
                    session=session,
                    policy=policy,
                    now=now,
                    dispute_id=dispute_id,
                    events=[event for _, event in items],
                )
        except EventRefused as exc:
            problems.append((items[exc.index][0], str(exc)))
            continue
        except BadInput as exc:
            problems.append((items[0][0], str(exc)))
            continue
        recorded += len(result.events)
        decisions += result.decisions
    if problems:
        raise ProblemList([f"{path}:{number}: {message}" for number, message in sorted(problems)])
    log.info("events_imported", file=str(path), events=recorded, disputes=len(groups))
    return ImportSummary(events=recorded, disputes=len(groups), decisions=decisions)
