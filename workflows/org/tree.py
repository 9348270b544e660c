"""The unit tree, walked up from a unit: the one walk every part of Fengqiao uses."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlmodel import Session, col, select

from models.tables import Person, Unit
from models.targets import Target
from models.values import Role, UnitLevel, UnitPath
from workflows.access import Viewer
from workflows.errors import BadInput, NotFound

__all__ = [
    "ancestors",
    "answers_for",
    "unstaffed_grids",
    "people_below",
    "subtree",
    "supervising_unit",
    "unit_in_scope",
    "unit_path",
]


def ancestors(session: Session, code: str) -> list[Unit]:
    """The unit ``code`` and every unit above it, bottom up; empty if it does not exist."""
    chain: list[Unit] = []
    unit = session.get(Unit, code)
    while unit is not None:
        chain.append(unit)
        unit = session.get(Unit, unit.parent_code) if unit.parent_code else None
    return chain


def unit_in_scope(session: Session, viewer: Viewer | None, code: str) -> list[Unit]:
    """The unit ``code`` and those above it, if it is in ``viewer``'s subtree (any unit for
    the operator, None); NotFound (``unknown unit``) if not, exactly as if it did not exist."""
    chain = ancestors(session, code)
    if not chain or (viewer is not None and viewer.unit not in {u.code for u in chain}):
        raise NotFound(f"unknown unit {code!r}")
    return chain


def subtree(session: Session, code: str, *, levels: Collection[UnitLevel]) -> list[Any]:
    """The units of ``levels`` at or below ``code`` (rows of code, name, level), top down
    and by code: one query per level of the tree."""
    columns = (Unit.code, Unit.name, Unit.level)
    found: list[Any] = []
    rows: list[Any] = list(session.exec(select(*columns).where(Unit.code == code)))
    while rows:
        found.extend(u for u in rows if u.level in levels)
        parents = [u.code for u in rows]
        rows = list(
            session.exec(
                select(*columns).where(col(Unit.parent_code).in_(parents)).order_by(col(Unit.code))
            )
        )
    return found


def people_below(session: Session, code: str) -> list[Any]:
    """The people working at ``code`` or below it (rows of id, name, role, unit_code), by
    unit and id."""
    codes = [u.code for u in subtree(session, code, levels=tuple(UnitLevel))]
    return list(
        session.exec(
            select(Person.id, Person.name, Person.role, Person.unit_code)
            .where(col(Person.unit_code).in_(codes))
            .order_by(col(Person.unit_code), col(Person.id))
        )
    )


def unit_path(session: Session, code: str) -> UnitPath:
    """The village, township and county a dispute reported at ``code`` belongs to."""
    chain = ancestors(session, code)
    if not chain:
        raise NotFound(f"unknown unit {code!r}")
    unit = chain[0]
    if unit.ended_at is not None:
        day = unit.ended_at.date().isoformat()
        if unit.merged_into:
            raise BadInput(
                f"unit {code!r} was merged into {unit.merged_into!r} on {day}: "
                f"report at {unit.merged_into!r}"
            )
        raise BadInput(f"unit {code!r} was removed on {day}")
    if unit.level not in (UnitLevel.village, UnitLevel.grid):
        raise BadInput(
            f"unit {code!r} is a {unit.level}: disputes are reported at a village or a grid"
        )
    levels = {node.level: node.code for node in chain}
    missing = [level for level in ("village", "township", "county") if level not in levels]
    if missing:
        raise BadInput(f"unit {code!r} has no {missing[0]} above it")
    return UnitPath(levels["village"], levels["township"], levels["county"])


def supervising_unit(session: Session, target: Target) -> str | None:
    """The township or county at or above ``target``'s unit (a person's: the unit they
    work in): whose supervisors hear of what goes wrong with it."""
    code: str | None = target.ref
    if target.is_person:
        person = session.get(Person, target.ref)
        code = person.unit_code if person is not None else None
    if code is None:
        return None
    for unit in ancestors(session, code):
        if unit.level in (UnitLevel.township, UnitLevel.county):
            return unit.code
    return None


def unstaffed_grids(session: Session, village: str) -> list[str]:
    """The grids of ``village`` with no mediator (grid worker) of their own: the village's
    mediators answer for them, their tasks and their messages."""
    grids = list(
        session.exec(
            select(Unit.code).where(Unit.parent_code == village, Unit.level == UnitLevel.grid)
        )
    )
    if not grids:
        return []
    staffed = set(
        session.exec(
            select(Person.unit_code).where(
                col(Person.unit_code).in_(grids), Person.role == Role.mediator
            )
        )
    )
    return [grid for grid in grids if grid not in staffed]


def answers_for(session: Session, person: Person) -> list[Target]:
    """The targets whose tasks are ``person``'s: their own, their unit's, and for a mediator
    of a village the grids of the village that have no worker of their own."""
    targets = [Target.of_person(person.id), Target.of_unit(person.unit_code)]
    unit = session.get(Unit, person.unit_code)
    if unit is not None and unit.level == UnitLevel.village and person.role == Role.mediator:
        targets.extend(Target.of_unit(grid) for grid in unstaffed_grids(session, unit.code))
    return targets
