"""Which disputes a person may see: their unit's subtree, and what is assigned to them. One
query function, used by every list, count, page, action and export, so that the scope
cannot leak through a side path; outside it, a dispute does not exist (404, never 403)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, bindparam, or_, select
from sqlmodel import Session

from models.tables import Dispute, Person, Unit
from models.values import Role, UnitLevel
from workflows.access.matrix import Action, allowed, refusal
from workflows.errors import BadInput, NotFound

__all__ = [
    "Forbidden",
    "Viewer",
    "dispute_in_scope",
    "disputes_in_scope",
    "in_scope",
    "permit",
    "scope_condition",
    "viewer_of",
]

DISPUTES = Dispute.__table__  # type: ignore[attr-defined]


class Forbidden(BadInput):
    """An action the person's role does not allow (HTTP 403, with the reason)."""


@dataclass(frozen=True)
class Viewer:
    """A person signed in: who they are, their role, and the unit they work in."""

    person: str
    name: str
    role: Role
    unit: str
    level: UnitLevel

    def may(self, action: Action) -> bool:
        return action in allowed(self.role, self.level)


def viewer_of(session: Session, person: str) -> Viewer:
    """The person ``person`` as a viewer; NotFound if there is none."""
    found = session.execute(
        select(Person.id, Person.name, Person.role, Unit.code, Unit.level)  # type: ignore[call-overload]
        .join(Unit, Unit.code == Person.unit_code)
        .where(Person.id == person)
    ).one_or_none()
    if found is None:
        raise NotFound(f"unknown person {person!r}")
    return Viewer(found[0], found[1], Role(found[2]), found[3], UnitLevel(found[4]))


_SCOPE_COLUMNS = {
    UnitLevel.county: DISPUTES.c.county_code,
    UnitLevel.township: DISPUTES.c.township_code,
    UnitLevel.village: DISPUTES.c.village_code,
    UnitLevel.grid: DISPUTES.c.reported_unit,
}


def scope_condition(level: UnitLevel) -> ColumnElement[bool]:
    """The condition on ``disputes`` rows that a viewer at ``level`` may see: those of
    their unit's subtree (a county's, a township's or a village's, whatever the level the
    dispute is handled at now; a grid's: those reported at it), and those assigned to them.
    Their unit and person are the parameters ``scope_unit`` and ``scope_person``, so that a
    statement holding it is compiled once (workflows.driver); :func:`in_scope` fills them."""
    return or_(
        _SCOPE_COLUMNS[level] == bindparam("scope_unit"),
        DISPUTES.c.assignee == bindparam("scope_person"),
    )


def in_scope(viewer: Viewer) -> ColumnElement[bool]:
    """The condition on ``disputes`` rows that ``viewer`` may see (:func:`scope_condition`)."""
    return scope_condition(viewer.level).params(scope_unit=viewer.unit, scope_person=viewer.person)


def disputes_in_scope(viewer: Viewer | None, *columns: Any) -> Select[Any]:
    """``SELECT`` of the disputes ``viewer`` may see (every one for the operator, None);
    of ``columns``, or of whole rows."""
    query = select(*columns) if columns else select(DISPUTES)
    return query if viewer is None else query.where(in_scope(viewer))


def dispute_in_scope(
    session: Session, viewer: Viewer | None, dispute_id: int, *, lock: bool = False
) -> Row[Any]:
    """One dispute's row, if ``viewer`` may see it; NotFound (``unknown dispute``) if not,
    exactly as if it did not exist."""
    query = disputes_in_scope(viewer).where(DISPUTES.c.id == dispute_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).one_or_none()
    if row is None:
        raise NotFound(f"unknown dispute {dispute_id}")
    return row


def permit(viewer: Viewer, action: Action) -> None:
    """Raise :class:`Forbidden`, saying why, unless ``viewer``'s role allows ``action``."""
    reason = refusal(viewer.role, viewer.level, action)
    if reason is not None:
        raise Forbidden(reason)
