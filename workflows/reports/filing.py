"""The filing board (填报完整性) of a township or county: its disputes read set-wise, as the
reports read them, and folded by ``rules.filing``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from models.tables import Unit
from models.values import Actor, UnitLevel
from rules.filing import board, filing_items
from rules.policy import Policy
from rules.reporting import Case, OrgUnit, Period
from workflows.access import Action, permit, viewer_of
from workflows.changes import initial_state
from workflows.db import reading
from workflows.errors import BadInput
from workflows.org import subtree, unit_in_scope
from workflows.reports.making import CHUNK, candidate_rows, histories_of

__all__ = ["filing_board"]

log = structlog.get_logger(__name__)

_BOARDS = (UnitLevel.township, UnitLevel.county)
_ROWS = (UnitLevel.county, UnitLevel.township, UnitLevel.village)


def filing_board(
    *,
    engine: Engine,
    policy: Policy,
    unit: str,
    start: datetime,
    end: datetime,
    label: str,
    now: datetime,
    actor: Actor,
) -> dict[str, Any]:
    """The filing board of township or county ``unit`` for the whole local days from
    ``start`` to ``end`` (``label``, 2026-03-02 or 2026-W10), as of ``now``
    (``rules.filing.board``'s shape). A person reads the boards of their subtree, if their
    role reads reports."""
    if start.tzinfo is None or end.tzinfo is None:
        raise BadInput("the period's start and end need a time zone")
    if end <= start:
        raise BadInput(f"period {label!r} ends before it starts")
    zone = policy.zone
    with reading(engine) as session:
        viewer = viewer_of(session, actor.person) if actor.person is not None else None
        if viewer is not None:
            permit(viewer, Action.reports)
        found = unit_in_scope(session, viewer, unit)[0]
        if found.level not in _BOARDS:
            raise BadInput(
                f"unit {unit!r} is a {found.level}: the filing board is of a township or a county"
            )
        head = OrgUnit(found.code, found.name, found.level, found.parent_code)
        rows = _rows(session, head)
        items = [
            item
            for case in _cases(session, head, start=start, end=end)
            for item in filing_items(case, policy=policy, start=start, end=end, now=now)
        ]
        names = _names(session, {item.unit for item in items} - {row.code for row in rows})
    content = board(
        items,
        unit=head,
        rows=rows,
        period=Period(start.astimezone(zone), end.astimezone(zone), label),
        now=now,
        policy=policy,
        names=names,
    )
    totals = content["totals"]
    log.info(
        "filing_board",
        unit=unit,
        period=label,
        owed=totals["owed"],
        late=totals["late"],
        missed=totals["missed"],
        complete_units=totals["complete_units"],
    )
    return content


def _rows(session: Session, head: OrgUnit) -> list[OrgUnit]:
    """The board's rows, as the org stands now: the villages of ``head``'s subtree, then
    the townships' own rows and ``head``'s, for the disputes handled above a village."""
    units = [u for u in subtree(session, head.code, levels=_ROWS) if u.code != head.code]
    ended = set(
        session.exec(
            select(Unit.code).where(
                col(Unit.ended_at).is_not(None), col(Unit.code).in_([u.code for u in units])
            )
        )
    )
    standing = [OrgUnit(u.code, u.name, u.level, None) for u in units if u.code not in ended]
    villages = [u for u in standing if u.level == UnitLevel.village]
    townships = [u for u in standing if u.level == UnitLevel.township]
    return [*villages, *townships, head]


def _names(session: Session, codes: set[str]) -> dict[str, str]:
    """The names of units an item names that are not rows (ended, or moved out since)."""
    if not codes:
        return {}
    found = session.exec(select(Unit.code, Unit.name).where(col(Unit.code).in_(sorted(codes))))
    return {code: name for code, name in found}


def _cases(session: Session, head: OrgUnit, *, start: datetime, end: datetime) -> Iterator[Case]:
    """The disputes that may owe ``head``'s subtree something in the period, as the reports
    choose them (those an org change moved since the start too), with their histories:
    a chunk of disputes at a time."""
    rows = candidate_rows(session, head, start=start, end=end)
    for first in range(0, len(rows), CHUNK):
        chunk = rows[first : first + CHUNK]
        events = histories_of(session, chunk)
        for row in chunk:
            history = events[row.id]
            yield Case(row.id, row.title, row.category, initial_state(row, history), history)
