"""Loading the organisation: units and people, upserted from a YAML file, and the changes
of the org over time it records (units moved, merged or removed, people moved or gone)."""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from models.tables import Person, Unit
from models.values import Channel, Role, UnitLevel
from workflows.driver import execute_many, fetch, insert_rows
from workflows.errors import BadInput, has_nul
from workflows.org.reading import entries

__all__ = [
    "Loaded",
    "OrgChange",
    "OrgSummary",
    "PersonEntry",
    "UnitEntry",
    "apply_org",
    "read_org",
]

UNITS = Unit.__table__  # type: ignore[attr-defined]
PEOPLE = Person.__table__  # type: ignore[attr-defined]


def _contacts(value: dict[str, str | list[str]]) -> dict[str, list[str]]:
    """Addresses by channel: e-mail addresses, webhook URLs, or Apprise URLs for the chat
    and SMS channels (dingtalk://, wecombot://, feishu://, an SMS gateway's, …)."""
    contacts: dict[str, list[str]] = {}
    for channel, raw in value.items():
        if channel not in Channel.__members__:
            raise ValueError(f"unknown channel {channel!r}; known: {', '.join(Channel)}")
        addresses = raw if isinstance(raw, list) else [raw]
        for address in addresses:
            if channel == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
                raise ValueError(f"email {address!r} is not an e-mail address")
            if channel == "webhook" and not address.startswith(("http://", "https://")):
                raise ValueError(f"webhook {address!r} is not an http(s) URL")
            if channel not in ("email", "webhook") and "://" not in address:
                raise ValueError(f"{channel} {address!r} is not an Apprise URL (scheme://…)")
        contacts[channel] = addresses
    return contacts


def _cleared(value: Any) -> Any:
    """``contacts: []``, like ``contacts: {}``, clears them; another list is a mistake."""
    if isinstance(value, list):
        if value:
            raise ValueError("a mapping of channel to addresses, e.g. {email: a@example.org}")
        return {}
    return value


Contacts = Annotated[
    dict[str, str | list[str]], BeforeValidator(_cleared), AfterValidator(_contacts)
]


class _Entry(BaseModel):
    """An entry of the org file. NUL characters are refused here, with the entry's line, as
    every database would refuse them (PostgreSQL does; SQLite would keep them)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError("may not contain a NUL character")
        return value


_CODE = r"^[0-9A-Za-z_-]+$"


class _UnitIn(_Entry):
    code: str = Field(min_length=1, max_length=32, pattern=_CODE)
    name: str = Field(min_length=1, max_length=200)
    level: UnitLevel
    parent: str | None = None
    # Absent: the addresses stored are kept; given (even empty), they are replaced.
    contacts: Contacts | None = None
    # The unit ends: removed, or merged into another of its level (撤并), which takes its
    # live disputes, its units below and its people.
    removed: bool | None = None
    merged_into: str | None = Field(default=None, min_length=1, max_length=32, pattern=_CODE)


class _PersonIn(_Entry):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    role: Role
    unit: str
    contacts: Contacts | None = None
    # They left (retired, moved away); false: they are back. Absent: as stored.
    left: bool | None = None


class _OrgIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    units: list[dict[str, Any]] = []
    people: list[dict[str, Any]] = []


@dataclass(frozen=True)
class OrgSummary:
    units_added: int
    units_updated: int
    people_added: int
    people_updated: int
    units_unchanged: int = 0
    people_unchanged: int = 0
    # Of those updated: the changes that move work (see :class:`OrgChange`), by kind.
    changes: dict[str, int] = field(default_factory=dict)
    disputes_moved: int = 0  # live disputes whose units changed
    disputes_released: int = 0  # live disputes whose assignee moved or left


@dataclass(frozen=True)
class OrgChange:
    """A change the file makes that moves work: ``unit_moved`` (a new parent, same level),
    ``unit_merged`` (into ``after["into"]``), ``unit_removed``, ``person_moved`` (another
    unit), ``person_left``. ``line`` is its entry's in the file."""

    kind: str
    subject: str
    name: str
    line: int
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass
class Loaded:
    """What :func:`apply_org` did: the counts, and the changes that move work."""

    summary: OrgSummary
    changes: list[OrgChange]


def _problem(path: Path, line: int, section: str, index: int, exc: ValidationError) -> BadInput:
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"])
    message = (
        "unknown field"
        if error["type"] == "extra_forbidden"
        else error["msg"].removeprefix("Value error, ")
    )
    return BadInput(f"{path}:{line}: {section}[{index}].{field}: {message}")


def read_org(path: Path) -> tuple[list[UnitEntry], list[PersonEntry]]:
    """The file's units and people, each entry validated as it is read (``file:line``
    names a bad one); nothing of the database is looked at yet."""
    return _read(path)


class UnitEntry(NamedTuple):
    line: int
    code: str
    name: str
    level: UnitLevel
    parent: str | None
    contacts: dict[str, Any] | None  # None: not in the file, kept as stored
    removed: bool | None
    merged_into: str | None


class PersonEntry(NamedTuple):
    line: int
    id: str
    name: str
    role: Role
    unit: str
    contacts: dict[str, Any] | None  # None: not in the file, kept as stored
    left: bool | None


def _read(path: Path) -> tuple[list[UnitEntry], list[PersonEntry]]:
    """The file's units and people, each validated as it is read, kept as small tuples."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text") from None
    units: list[UnitEntry] = []
    people: list[PersonEntry] = []
    others: dict[str, Any] = {}
    # Millions of short-lived containers: the cyclic collector would walk the growing lists
    # of entries again and again (most of the time of a province's file) and find nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for section, index, line, value in entries(path, text):
            if index < 0:
                if section == "":
                    _OrgIn.model_validate(value)  # not a mapping: refused here
                others[section] = value
                continue
            try:
                if section == "units":
                    u = _UnitIn.model_validate(value)
                    units.append(
                        UnitEntry(
                            line, u.code, u.name, u.level, u.parent, u.contacts, u.removed,
                            u.merged_into,
                        )
                    )  # fmt: skip
                else:
                    p = _PersonIn.model_validate(value)
                    people.append(
                        PersonEntry(line, p.id, p.name, p.role, p.unit, p.contacts, p.left)
                    )
            except ValidationError as exc:
                raise _problem(path, line, section, index, exc) from None
        _OrgIn.model_validate(others)  # a key other than units and people, or not lists
    except ValidationError as exc:
        error = exc.errors()[0]
        raise BadInput(f"{path}: {'.'.join(map(str, error['loc']))}: {error['msg']}") from None
    finally:
        if collecting:
            gc.enable()
    return units, people


_UNITS = select(
    UNITS.c.code,
    UNITS.c.name,
    UNITS.c.level,
    UNITS.c.parent_code,
    UNITS.c.contacts,
    UNITS.c.ended_at,
    UNITS.c.merged_into,
)
_PEOPLE = select(
    PEOPLE.c.id,
    PEOPLE.c.name,
    PEOPLE.c.role,
    PEOPLE.c.unit_code,
    PEOPLE.c.contacts,
    PEOPLE.c.left_at,
)
_UNIT_UPDATE = update(UNITS).where(UNITS.c.code == bindparam("b_code"))
_PERSON_UPDATE = update(PEOPLE).where(PEOPLE.c.id == bindparam("b_id"))


def apply_org(
    session: Session,
    path: Path,
    units: list[UnitEntry],
    people: list[PersonEntry],
    *,
    now: datetime,
) -> Loaded:
    """Check the file's entries against themselves and the database, then upsert them in
    the caller's transaction: a file with a problem raises :class:`BadInput` (``file:line``)
    before anything is written. A row the file leaves as it is is not written, and is
    counted unchanged. A unit merged into another passes it its units below and its people;
    what that does to disputes is the caller's (``workflows.reorganising``)."""
    existing = {row.code: row for row in fetch(session, _UNITS)}
    levels = {code: UnitLevel(u.level) for code, u in existing.items()}
    parents = {code: u.parent_code for code, u in existing.items()}
    seen: dict[str, int] = {}
    for unit in units:
        if unit.code in seen:
            raise BadInput(
                f"{path}:{unit.line}: duplicate unit code {unit.code!r} "
                f"(first at line {seen[unit.code]})"
            )
        seen[unit.code] = unit.line
        levels[unit.code] = unit.level
        parents[unit.code] = unit.parent
    ending = _ending(path, units, existing, levels)  # code: the unit it goes to, or None
    changes: list[OrgChange] = []
    for unit in units:
        where = f"{path}:{unit.line}: unit {unit.code!r}"
        row = existing.get(unit.code)
        if row is not None and row.ended_at is not None:
            continue  # checked by _ending: it stays as it ended
        if unit.code in ending:
            if row is None:
                raise BadInput(f"{where}: not in the org: there is nothing to end")
            into = ending[unit.code]
            kind = "unit_merged" if into is not None else "unit_removed"
            after = {"into": into} if into is not None else {}
            changes.append(
                OrgChange(kind, unit.code, unit.name, unit.line, {"parent": row.parent_code}, after)
            )
        if unit.code not in ending and unit.parent and _ended(unit.parent, existing, ending):
            raise BadInput(
                f"{where}: its parent {unit.parent!r} {_end_said(unit.parent, existing, ending)}"
            )
        _check_unit(path, unit, levels, parents)
        if row is not None and UnitLevel(row.level) != unit.level:
            # A village does not become a township: its disputes' levels would mean nothing.
            raise BadInput(
                f"{where}: is a {row.level}; changing a unit's level is not supported "
                "(end it, removed or merged_into, and add the unit anew)"
            )
        if (
            row is not None
            and row.parent_code != unit.parent
            and unit.code not in ending
            # not with its parent's merger, into the unit its parent joins
            and (row.parent_code not in ending or ending[row.parent_code] != unit.parent)
        ):
            changes.append(
                OrgChange(
                    "unit_moved",
                    unit.code,
                    unit.name,
                    unit.line,
                    {"parent": row.parent_code},
                    {"parent": unit.parent},
                )
            )
    given = {unit.code for unit in units}
    # What a merged unit had goes to the unit it is merged into; a removed unit has nothing.
    moved_with: list[tuple[str, dict[str, Any]]] = []
    for code, row in existing.items():
        parent = row.parent_code
        if row.ended_at is not None or code in ending or parent not in ending:
            continue
        if code in given:  # the file says where it goes now (checked above)
            continue
        into = ending[parent]
        if into is None:
            raise BadInput(
                f"{path}:{seen[parent]}: unit {parent!r} cannot be removed: unit {code!r} is "
                "under it; move, merge or remove it in the same file"
            )
        moved_with.append((code, {"parent_code": into}))
        parents[code] = into

    stored_people = {row.id: row for row in fetch(session, _PEOPLE)}
    people_rows: list[tuple[str, dict[str, Any]]] = []
    seen_people: dict[str, int] = {}
    for person in people:
        where = f"{path}:{person.line}: person {person.id!r}"
        if person.id in seen_people:
            raise BadInput(
                f"{path}:{person.line}: duplicate person id {person.id!r} "
                f"(first at line {seen_people[person.id]})"
            )
        seen_people[person.id] = person.line
        if person.unit not in levels:
            raise BadInput(f"{where}: unknown unit {person.unit!r}")
        if _ended(person.unit, existing, ending):
            raise BadInput(
                f"{where}: unit {person.unit!r} {_end_said(person.unit, existing, ending)}"
            )
        row = stored_people.get(person.id)
        values: dict[str, Any] = {
            "name": person.name,
            "role": person.role.value,
            "unit_code": person.unit,
        }
        if row is None:
            if person.left:
                raise BadInput(f"{where}: not in the org: there is no one to leave")
            people_rows.append((person.id, _given(values, person.contacts)))
            continue
        if person.left is True and row.left_at is None:
            values["left_at"] = now
            changes.append(
                OrgChange(
                    "person_left",
                    person.id,
                    person.name,
                    person.line,
                    {"unit": row.unit_code},
                    {"unit": person.unit},
                )
            )
        elif person.left is False and row.left_at is not None:
            values["left_at"] = None  # back again
        elif (
            row.unit_code != person.unit
            and row.left_at is None
            and ending.get(row.unit_code) != person.unit  # not with their unit, merged
        ):
            changes.append(
                OrgChange(
                    "person_moved",
                    person.id,
                    person.name,
                    person.line,
                    {"unit": row.unit_code},
                    {"unit": person.unit},
                )
            )
        people_rows.append((person.id, _given(values, person.contacts)))
    for person_id, row in stored_people.items():
        if person_id in seen_people or row.unit_code not in ending or row.left_at is not None:
            continue
        into = ending[row.unit_code]
        if into is None:
            raise BadInput(
                f"{path}:{seen[row.unit_code]}: unit {row.unit_code!r} cannot be removed: "
                f"{person_id!r} works there; move them or mark them left in the same file"
            )
        people_rows.append((person_id, {"unit_code": into}))  # with their unit

    # Parents first, so that the foreign keys hold on every database.
    order = {level: rank for rank, level in enumerate(UnitLevel)}
    unit_rows = []
    for u in sorted(units, key=lambda u: order[u.level]):
        row = existing.get(u.code)
        if row is not None and row.ended_at is not None:
            continue
        values = {"name": u.name, "level": u.level.value, "parent_code": u.parent}
        if u.code in ending:
            values.update(ended_at=now, merged_into=ending[u.code])
        unit_rows.append((u.code, _given(values, u.contacts)))
    units_added, units_updated = _upsert(
        session, UNITS, _UNIT_UPDATE, "code", existing, [*unit_rows, *moved_with]
    )
    units_updated -= len(moved_with)
    del existing
    people_added, people_updated = _upsert(
        session, PEOPLE, _PERSON_UPDATE, "id", stored_people, people_rows
    )
    counted = [p for p in people_rows if p[0] in seen_people]
    people_updated -= len(people_rows) - len(counted)
    kinds: dict[str, int] = {}
    for change in changes:
        kinds[change.kind] = kinds.get(change.kind, 0) + 1
    summary = OrgSummary(
        units_added=units_added,
        units_updated=units_updated,
        people_added=people_added,
        people_updated=people_updated,
        units_unchanged=len(units) - units_added - units_updated,
        people_unchanged=len(people) - people_added - people_updated,
        changes=kinds,
    )
    return Loaded(summary, changes)


def _ending(
    path: Path, units: list[UnitEntry], existing: dict[str, Any], levels: dict[str, UnitLevel]
) -> dict[str, str | None]:
    """The units the file ends now: each with the unit it is merged into (None: removed).
    One that ended before must be given as it ended, or left out."""
    ending: dict[str, str | None] = {}
    for unit in units:
        where = f"{path}:{unit.line}: unit {unit.code!r}"
        row = existing.get(unit.code)
        if unit.removed and unit.merged_into:
            raise BadInput(f"{where}: either removed or merged_into, not both")
        if row is not None and row.ended_at is not None:
            if not (unit.merged_into or unit.removed) or unit.merged_into != row.merged_into:
                raise BadInput(
                    f"{where}: {_end_said(unit.code, existing, {})}; an ended unit does not "
                    "come back: give it as it ended, or use a new code"
                )
            continue
        if unit.merged_into is not None:
            into = unit.merged_into
            if into == unit.code:
                raise BadInput(f"{where}: cannot be merged into itself")
            if into not in levels:
                raise BadInput(f"{where}: merged_into: unknown unit {into!r}")
            if levels[into] != unit.level:
                raise BadInput(
                    f"{where}: a {unit.level} is merged into a {unit.level}, "
                    f"not into {levels[into]} {into!r}"
                )
            ending[unit.code] = into
        elif unit.removed:
            ending[unit.code] = None
    for code, target in ending.items():
        if target is not None and _ended(target, existing, ending):
            line = next(u.line for u in units if u.code == code)
            raise BadInput(
                f"{path}:{line}: unit {code!r}: merged_into {target!r}, which "
                f"{_end_said(target, existing, ending)}"
            )
    return ending


def _ended(code: str, existing: dict[str, Any], ending: dict[str, str | None]) -> bool:
    row = existing.get(code)
    return code in ending or (row is not None and row.ended_at is not None)


def _end_said(code: str, existing: dict[str, Any], ending: dict[str, str | None]) -> str:
    """How unit ``code`` ends, in a few words: "is merged into 'A'", "was removed on …"."""
    if code in ending:
        into = ending[code]
        return f"is merged into {into!r} in this file" if into else "is removed in this file"
    row = existing[code]
    day = row.ended_at.date().isoformat()
    if row.merged_into:
        return f"was merged into {row.merged_into!r} on {day}"
    return f"was removed on {day}"


def _given(values: dict[str, Any], contacts: dict[str, Any] | None) -> dict[str, Any]:
    """The columns an entry sets: its contacts only if the file gives them."""
    return values if contacts is None else {**values, "contacts": contacts}


def _upsert(
    session: Session,
    table: Any,
    changing: Any,
    key: str,
    stored: dict[str, Any],
    rows: Iterable[tuple[str, dict[str, Any]]],
) -> tuple[int, int]:
    """Insert the rows not ``stored`` and update those that differ (``changing``, by
    ``b_<key>``), set-wise; how many were added and updated. An unchanged row is not
    written. A new row without contacts gets none; an update sets only the columns given
    (rows alike in those are updated together)."""
    added: list[dict[str, Any]] = []
    changed: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for code, values in rows:
        row = stored.get(code)
        if row is None:
            added.append({key: code, "contacts": {}, **values})
        elif tuple(getattr(row, column) for column in values) != tuple(values.values()):
            changed.setdefault(tuple(values), []).append({f"b_{key}": code, **values})
    insert_rows(session, table, added)
    for group in changed.values():
        execute_many(session, changing, group)
    return len(added), sum(len(group) for group in changed.values())


def _check_unit(
    path: Path,
    unit: UnitEntry,
    levels: dict[str, UnitLevel],
    parents: dict[str, str | None],
) -> None:
    where = f"{path}:{unit.line}: unit {unit.code!r}"
    chain = [unit.code]
    parent = unit.parent
    while parent is not None:
        if parent in chain:
            cycle = " -> ".join([*chain[chain.index(parent) :], parent])
            raise BadInput(f"{where}: parents form a cycle: {cycle}")
        chain.append(parent)
        parent = parents.get(parent)
    expected = unit.level.parent_level
    if expected is None:
        if unit.parent is not None:
            raise BadInput(f"{where}: a county is the top and has no parent")
        return
    if unit.parent is None:
        raise BadInput(f"{where}: a {unit.level} needs a parent {expected}")
    if unit.parent not in levels:
        raise BadInput(f"{where}: missing parent {unit.parent!r}")
    if levels[unit.parent] != expected:
        raise BadInput(
            f"{where}: a {unit.level} must be directly under a {expected}, "
            f"not under {levels[unit.parent]} {unit.parent!r}"
        )
