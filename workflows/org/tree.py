"""The unit tree, walked up from a unit: the one walk every part of Fengqiao uses."""

from __future__ import annotations

from sqlmodel import Session

from models.tables import Person, Unit
from models.targets import Target
from models.values import UnitLevel, UnitPath
from workflows.errors import BadInput, NotFound

__all__ = ["ancestors", "supervising_unit", "unit_path"]


def ancestors(session: Session, code: str) -> list[Unit]:
    """The unit ``code`` and every unit above it, bottom up; empty if it does not exist."""
    chain: list[Unit] = []
    unit = session.get(Unit, code)
    while unit is not None:
        chain.append(unit)
        unit = session.get(Unit, unit.parent_code) if unit.parent_code else None
    return chain


def unit_path(session: Session, code: str) -> UnitPath:
    """The village, township and county a dispute reported at ``code`` belongs to."""
    chain = ancestors(session, code)
    if not chain:
        raise NotFound(f"unknown unit {code!r}")
    unit = chain[0]
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
