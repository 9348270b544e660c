"""Who owes what: tasks and messages are for a person or a unit, and the rules of who that
is, from a dispute's level, its assignee and its units. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from models.values import Level, Role, UnitPath

__all__ = ["Owner", "Target", "answered_by", "one_level_up", "owner", "responsible"]

Owner = Literal["responsible", "township", "county", "listing"]


@dataclass(frozen=True, slots=True)
class Target:
    """One person, or a unit: the unit's own addresses and its staff (the supervisors of a
    township or county, the mediators of a village or grid). Stored as ``person:<id>`` or
    ``unit:<code>``."""

    kind: Literal["person", "unit"]
    ref: str

    @classmethod
    def of_person(cls, person: str) -> Target:
        return cls("person", person)

    @classmethod
    def of_unit(cls, code: str) -> Target:
        return cls("unit", code)

    @classmethod
    def parse(cls, text: str) -> Target:
        """The target stored as ``text``; ``ValueError`` if it is neither form."""
        kind, _, ref = text.partition(":")
        if kind == "person" and ref:
            return cls("person", ref)
        if kind == "unit" and ref:
            return cls("unit", ref)
        raise ValueError(f"{text!r} is not a target (person:<id> or unit:<code>)")

    @property
    def is_person(self) -> bool:
        return self.kind == "person"

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}"


def responsible(*, level: Level, assignee: str | None, reported_unit: str, unit: str) -> Target:
    """Who a dispute's tasks go to: at village, its assignee, or if nobody is assigned the
    mediators of the grid or village it was reported at; at township and county, the
    supervisors of the responsible unit ``unit``."""
    if level is Level.village:
        if assignee:
            return Target.of_person(assignee)
        return Target.of_unit(reported_unit)
    return Target.of_unit(unit)


def owner(
    who: Owner,
    *,
    level: Level,
    assignee: str | None,
    reported_unit: str,
    path: UnitPath,
    listing_unit: str | None = None,
) -> Target:
    """Who owes an obligation: the responsible person or unit, or the dispute's township or
    county (the half-month review is the township's, the monthly inspection the county's),
    or the unit that listed it for supervision (its deadline; the county if none is known)."""
    if who == "listing":
        return Target.of_unit(listing_unit or path.county)
    if who == "township":
        return Target.of_unit(path.township)
    if who == "county":
        return Target.of_unit(path.county)
    return responsible(
        level=level, assignee=assignee, reported_unit=reported_unit, unit=path.at(level)
    )


def one_level_up(target: Target, path: UnitPath) -> Target | None:
    """The supervisors above whoever failed to act on a dispute of ``path``: a village's
    person or unit goes to the township, the township to the county; nothing is above the
    county."""
    if target == Target.of_unit(path.county):
        return None
    if target == Target.of_unit(path.township):
        return Target.of_unit(path.county)
    return Target.of_unit(path.township)


def answered_by(
    person: str,
    *,
    role: Role | None,
    unit: str | None,
    path: UnitPath,
    waiting: Iterable[Target],
) -> set[Target]:
    """The targets whose acknowledgements (签收) of a dispute of ``path`` an acknowledgement
    by ``person`` gives: their own; their unit's if they supervise it; and, for a supervisor
    of the dispute's township or county, every one ``waiting`` below (the acknowledgement
    passed up to them)."""
    mine = {Target.of_person(person)}
    if role is not Role.supervisor or unit is None:
        return mine
    mine.add(Target.of_unit(unit))
    if unit in (path.township, path.county):
        above = {Target.of_unit(path.county)} if unit != path.county else set()
        mine.update(target for target in waiting if target not in above)
    return mine
