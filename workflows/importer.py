"""Bulk loading: the events of a JSON-lines file, recorded all or nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlmodel import Session

from rules.policy import Policy
from workflows.disputes import EventRefused, NewEvent, record_events
from workflows.errors import BadInput, ProblemList

__all__ = ["ImportSummary", "import_events"]

log = structlog.get_logger(__name__)


class _Line(BaseModel):
    """One line: the fields of ``fengqiao dispute event``."""

    model_config = ConfigDict(extra="forbid")
    dispute: int
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
    """Record every event of ``path``; if any line is refused, raise listing every problem."""
    from fengqiao.settings import parse_time

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read: {exc}") from None
    problems: list[str] = []
    groups: dict[int, list[tuple[int, NewEvent]]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = _Line.model_validate(json.loads(raw))
            at = parse_time(line.at, zone=zone, what="at") if line.at else None
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"]) or "line"
            message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append(f"{path}:{number}: {where}: {message}")
            continue
        except BadInput as exc:
            problems.append(f"{path}:{number}: {exc}")
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
            problems.append(f"{path}:{items[exc.index][0]}: {exc}")
            continue
        except BadInput as exc:
            problems.append(f"{path}:{items[0][0]}: {exc}")
            continue
        recorded += len(result.events)
        decisions += result.decisions
    if problems:
        raise ProblemList(sorted(problems, key=_line_number))
    log.info("events_imported", file=str(path), events=recorded, disputes=len(groups))
    return ImportSummary(events=recorded, disputes=len(groups), decisions=decisions)


def _line_number(problem: str) -> int:
    return int(problem.split(":")[1])
