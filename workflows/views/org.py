"""The org as a person signed in may see it: the units and the people of their subtree,
for the pages' selects (where to report, whom to assign, which unit to filter by)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import Person, Unit
from models.values import Role, UnitLevel
from workflows.access import Viewer
from workflows.db import reading
from workflows.org import answers_for, people_below, subtree

__all__ = ["answering_view", "staff_view", "unit_names", "units_view"]


def answering_view(*, engine: Engine, person: str) -> set[str]:
    """The task targets that are ``person``'s (stored form): their own, their unit's, and
    the grids without a worker that their village covers."""
    with reading(engine) as session:
        row = session.get(Person, person)
        return {str(t) for t in answers_for(session, row)} if row is not None else set()


def units_view(
    *, engine: Engine, viewer: Viewer, levels: Collection[UnitLevel]
) -> list[dict[str, Any]]:
    """The units of ``levels`` in ``viewer``'s subtree, top down."""
    with reading(engine) as session:
        units = subtree(session, viewer.unit, levels=levels)
    return [{"code": u.code, "name": u.name, "level": u.level} for u in units]


def staff_view(*, engine: Engine, viewer: Viewer) -> list[dict[str, Any]]:
    """The mediators and supervisors of ``viewer``'s subtree: whom they may assign."""
    with reading(engine) as session:
        people = people_below(session, viewer.unit)
    return [
        {"id": p.id, "name": p.name, "role": p.role, "unit": p.unit_code}
        for p in people
        if p.role != Role.administrator
    ]


def unit_names(*, engine: Engine, codes: Collection[str]) -> dict[str, str]:
    """The names of the units ``codes`` (those of the org file; a code unknown there, none)."""
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    with reading(engine) as session:
        rows = session.exec(select(Unit.code, Unit.name).where(col(Unit.code).in_(wanted)))
        return dict(rows.all())
