"""Bringing an office's ledger (台账) in: every row a dispute with its history, all of them
in one transaction, or none if any cell is bad.

A row is kept with the importing unit's code and its number there (``disputes.ledger_key``),
so a ledger imported again records nothing new. Its report is dated as the ledger dates
it, but its clocks start at the import: it is not escalated, nor its tasks overdue, for the
time before (models.lifecycle, ``clocks_from``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from models.tables import Dispute, Unit
from models.values import Actor, UnitLevel
from rules.policy import Policy
from workflows.access import Action, permit, viewer_of
from workflows.db import transaction
from workflows.driver import one_of
from workflows.errors import BadInput, NotFound
from workflows.ledger.reading import LedgerRow, Problems, load_mapping, read_ledger
from workflows.org import subtree
from workflows.recording import DisputeRefused, NewDispute, NewEvent, report_disputes

__all__ = ["PREVIEW", "LedgerSummary", "import_ledger"]

log = structlog.get_logger(__name__)

PREVIEW = 50  # rows of a summary's preview
_DISPUTES = Dispute.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LedgerSummary:
    """What an import read and recorded (with ``dry_run``, what it would record)."""

    path: str
    rows: int  # the dispute rows read
    recorded: int  # disputes brought in now
    already: int  # rows brought in before, not again
    events: int  # the events of their histories, beyond their reports
    statuses: dict[str, int]  # the disputes brought in, by status
    dry_run: bool
    # the first rows as read, each with the status its dispute has once brought in (None:
    # brought in before): what a page shows before the import is confirmed
    preview: tuple[tuple[LedgerRow, str | None], ...] = ()

    def __str__(self) -> str:
        verb = "would bring in" if self.dry_run else "brought in"
        told = ", ".join(f"{count} {status}" for status, count in sorted(self.statuses.items()))
        text = f"{self.path}: {self.rows:,} rows; {verb} {self.recorded:,} disputes"
        if told:
            text += f" ({told})"
        text += f" with {self.events:,} events of their histories"
        if self.already:
            text += f"; {self.already:,} rows brought in before, not again"
        if self.dry_run:
            text += "; nothing recorded (--dry-run)"
        return text


class _DryRun(Exception):  # noqa: N818 - not an error: how a dry run rolls back
    def __init__(self, summary: LedgerSummary) -> None:
        self.summary = summary


def import_ledger(
    *,
    engine: Engine,
    policy: Policy,
    now: datetime,
    actor: Actor,
    path: Path,
    mapping: Path | None = None,
    dry_run: bool = False,
) -> LedgerSummary:
    """Bring in the ledger at ``path`` for ``actor`` (a person: the rows are kept as their
    unit's), in one transaction; raise :class:`Problems` naming every bad cell, and then
    record nothing. A dry run checks everything an import would and records nothing."""
    if actor.person is None:
        raise BadInput("a ledger is brought in by a person (--by): it is kept as their unit's")
    rows = read_ledger(path, load_mapping(mapping), rules=policy.rules, zone=policy.zone)
    try:
        with transaction(engine) as session:
            summary = _bring_in(session, rows, path=path, policy=policy, now=now, actor=actor)
            if dry_run:
                raise _DryRun(replace(summary, dry_run=True))
    except _DryRun as done:
        return done.summary
    except IntegrityError:  # a row's key taken by an import of the same ledger meanwhile
        raise BadInput(
            f"{path}: another import brought in rows of this ledger meanwhile; nothing was "
            "recorded: run it again (what is already in is not brought in twice)"
        ) from None
    log.info(
        "ledger_imported",
        rows=summary.rows,
        recorded=summary.recorded,
        already=summary.already,
        events=summary.events,
        actor=actor.name,
    )
    return summary


def _bring_in(
    session: Session,
    rows: Sequence[LedgerRow],
    *,
    path: Path,
    policy: Policy,
    now: datetime,
    actor: Actor,
) -> LedgerSummary:
    assert actor.person is not None
    viewer = viewer_of(session, actor.person)
    permit(viewer, Action.report)
    places = _places(session, viewer.unit)
    prefix = f"{viewer.unit}:"
    known = set(
        session.scalars(
            select(col(Dispute.ledger_key)).where(col(Dispute.ledger_key).like(f"{prefix}%"))
        )
    )
    problems: list[str] = []
    fresh: list[tuple[LedgerRow, NewDispute, list[NewEvent]]] = []
    already = 0
    for row in rows:
        if f"{prefix}{row.number}" in known:
            already += 1
            continue
        unit = _unit(row.unit, places)
        if isinstance(unit, BadInput):
            problems.append(f"{path}:{row.cells.get('unit', _at(row))}: {unit}")
            continue
        if row.registered > now:
            problems.append(
                f"{path}:{row.cells['registered']}: {row.registered.date().isoformat()} is "
                "after the import"
            )
            continue
        dispute = NewDispute(
            unit=unit,
            risk=row.risk,
            category=row.category,
            title=row.title,
            at=row.registered,
            people_involved=row.people_involved,
            parties=row.parties,
            location=row.location,
            source=row.source,
            description=row.description,
            ledger_no=row.number,
            ledger_unit=viewer.unit,
            clocks_from=now,
        )
        fresh.append((row, dispute, _history(row)))
    # Every problem at once: those of the rows' units and dates above, and what reporting
    # the other rows with their histories refuses (the transaction is rolled back).
    try:
        ids = report_disputes(
            session,
            [d for _, d, _ in fresh],
            policy=policy,
            now=now,
            actor=actor,
            histories=[events for _, _, events in fresh],
        )
    except DisputeRefused as refused:
        for each in refused.every:
            row, _, events = fresh[each.index]
            problems.append(f"{path}:{_cell_of(row, events, each.event)}: {each}")
    if problems:
        raise Problems(sorted(problems, key=_in_ledger_order))
    dialect = session.get_bind().dialect.name
    status_of: dict[int, str] = dict(
        session.execute(
            select(_DISPUTES.c.id, _DISPUTES.c.status).where(
                one_of(_DISPUTES.c.id, "ids", dialect)
            ),
            {"ids": ids},
        )
        .tuples()
        .all()
    )
    after = {id(row): status_of[i] for i, (row, _, _) in zip(ids, fresh, strict=True)}
    return LedgerSummary(
        path=str(path),
        rows=len(rows),
        recorded=len(ids),
        already=already,
        events=sum(len(events) for _, _, events in fresh),
        statuses=dict(Counter(status_of.values())),
        dry_run=False,
        preview=tuple((row, after.get(id(row))) for row in rows[:PREVIEW]),
    )


def _in_ledger_order(line: str) -> tuple[str, int, int]:
    """A problem line's place: its sheet, row, and column (``FILE:SHEET!C12: …``)."""
    found = re.search(r":([^:!]*)!([A-Z]*)(\d+): ", line)
    if found is None:
        return ("", 0, 0)
    sheet, letters, row = found.groups()
    column = 0
    for letter in letters:
        column = column * 26 + ord(letter) - ord("A") + 1
    return (sheet, int(row), column)


def _at(row: LedgerRow) -> str:
    return f"{row.sheet}!{row.row}"


def _cell_of(row: LedgerRow, events: Sequence[NewEvent], index: int | None) -> str:
    """The cell of the event refused (the date it was recorded at), or the row's."""
    if index is None or not 0 <= index < len(events):
        return _at(row)
    column = {
        "resolve": "resolved",
        "visit": "visited",
        "close": "closed",
        "withdraw": "closed",
        "confirmation_result": "confirmed",
        "refer": "outcome",
        "mediate": "method",
    }.get(events[index].kind, "")
    return row.cells.get(column, _at(row))


def _history(row: LedgerRow) -> list[NewEvent]:
    """The events the row's columns say happened, at their dates."""
    events: list[NewEvent] = []
    if row.method is not None and row.resolved is None:
        events.append(NewEvent("mediate", at=row.registered, data={"method": row.method}))
    if row.resolved is not None:
        data: dict[str, Any] = {"method": row.method or "people", "agreement": row.agreement}
        for name in ("amount", "terms", "mediators"):
            if getattr(row, name) is not None:
                data[name] = getattr(row, name)
        events.append(NewEvent("resolve", at=row.resolved, data=data))
        if row.confirmed:
            moment = max(row.resolved, row.visited or row.resolved)
            events.append(NewEvent("confirmation_result", at=moment, data={"result": "confirmed"}))
        if row.visit is not None and row.visited is not None:
            events.append(NewEvent("visit", at=row.visited, data={"outcome": row.visit}))
        if row.closed is not None and row.visit != "stable":
            events.append(NewEvent("close", at=row.closed))
    if row.referred is not None:
        to, body = row.referred
        events.append(NewEvent("refer", at=row.registered, data={"to": to, "body": body}))
        if row.closed is not None:
            events.append(NewEvent("close", at=row.closed))
    if row.withdrawn is not None:
        events.append(NewEvent("withdraw", at=row.withdrawn))
    return sorted(events, key=lambda e: e.at or row.registered)


def _places(session: Session, unit: str) -> dict[str, list[str]]:
    """The villages and grids of ``unit``'s subtree still there, by code and by name."""
    places: dict[str, list[str]] = {}
    ended = set(session.scalars(select(col(Unit.code)).where(col(Unit.ended_at).is_not(None))))
    for found in subtree(session, unit, levels=(UnitLevel.village, UnitLevel.grid)):
        if found.code in ended:
            continue
        places.setdefault(found.code, []).append(found.code)
        places.setdefault(found.name.strip(), []).append(found.code)
    return places


def _unit(text: str, places: dict[str, list[str]]) -> str | BadInput:
    """The code of the village or grid ``text`` names (its code, its name, or both as
    ``name（code）``) in the importer's subtree."""
    wanted = text.strip()
    parts = wanted.replace("（", "(").replace("）", ")").rstrip(")").split("(")
    for part in (wanted, *reversed(parts)):  # the code in brackets first
        codes = places.get(part.strip())
        if codes is not None and len(set(codes)) == 1:
            return codes[0]
        if codes is not None:
            return BadInput(
                f"{wanted!r} names {len(set(codes))} units ({', '.join(sorted(set(codes)))}); "
                "give the code"
            )
    return NotFound(f"no village or grid {wanted!r} in your part of the org")
