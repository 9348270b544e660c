"""Loading the organisation: units and people, upserted from a YAML file."""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import structlog
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from sqlalchemy import Engine, bindparam, select, update
from sqlmodel import Session

from models.tables import Person, Unit
from models.values import Actor, Channel, Role, UnitLevel
from workflows.access import Action, permit, viewer_of
from workflows.db import transaction
from workflows.driver import execute_many, fetch, insert_rows
from workflows.errors import BadInput, has_nul
from workflows.org.reading import entries

__all__ = ["OrgSummary", "load_org"]

log = structlog.get_logger(__name__)

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


class _UnitIn(_Entry):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")
    name: str = Field(min_length=1, max_length=200)
    level: UnitLevel
    parent: str | None = None
    # Absent: the addresses stored are kept; given (even empty), they are replaced.
    contacts: Contacts | None = None


class _PersonIn(_Entry):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    role: Role
    unit: str
    contacts: Contacts | None = None


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


def _problem(path: Path, line: int, section: str, index: int, exc: ValidationError) -> BadInput:
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"])
    message = (
        "unknown field"
        if error["type"] == "extra_forbidden"
        else error["msg"].removeprefix("Value error, ")
    )
    return BadInput(f"{path}:{line}: {section}[{index}].{field}: {message}")


def load_org(*, engine: Engine, actor: Actor, path: Path) -> OrgSummary:
    """Validate the whole file against itself and the database, then upsert it, in one
    transaction: a file with a problem changes nothing. A row the file leaves as it is
    is not written, and is counted unchanged."""
    units, people = _read(path)  # before the transaction: a bad file holds no lock
    with transaction(engine) as session:
        if actor.checked:
            assert actor.person is not None
            permit(viewer_of(session, actor.person), Action.org)
        summary = _load(session, path, units, people)
    log.info("org_loaded", file=str(path), actor=actor.name, **summary.__dict__)
    return summary


class _UnitRow(NamedTuple):
    line: int
    code: str
    name: str
    level: UnitLevel
    parent: str | None
    contacts: dict[str, Any] | None  # None: not in the file, kept as stored


class _PersonRow(NamedTuple):
    line: int
    id: str
    name: str
    role: Role
    unit: str
    contacts: dict[str, Any] | None  # None: not in the file, kept as stored


def _read(path: Path) -> tuple[list[_UnitRow], list[_PersonRow]]:
    """The file's units and people, each validated as it is read, kept as small tuples."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text") from None
    units: list[_UnitRow] = []
    people: list[_PersonRow] = []
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
                    unit = _UnitIn.model_validate(value)
                    units.append(
                        _UnitRow(line, unit.code, unit.name, unit.level, unit.parent, unit.contacts)
                    )
                else:
                    person = _PersonIn.model_validate(value)
                    people.append(
                        _PersonRow(
                            line, person.id, person.name, person.role, person.unit, person.contacts
                        )
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


_UNITS = select(UNITS.c.code, UNITS.c.name, UNITS.c.level, UNITS.c.parent_code, UNITS.c.contacts)
_PEOPLE = select(PEOPLE.c.id, PEOPLE.c.name, PEOPLE.c.role, PEOPLE.c.unit_code, PEOPLE.c.contacts)
_UNIT_UPDATE = update(UNITS).where(UNITS.c.code == bindparam("b_code"))
_PERSON_UPDATE = update(PEOPLE).where(PEOPLE.c.id == bindparam("b_id"))


def _load(
    session: Session, path: Path, units: list[_UnitRow], people: list[_PersonRow]
) -> OrgSummary:
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
    for unit in units:
        _check_unit(path, unit, levels, parents)
        row = existing.get(unit.code)
        if row is not None and (row.level, row.parent_code) != (unit.level, unit.parent):
            # Disputes keep the village, township and county they were reported under.
            raise BadInput(
                f"{path}:{unit.line}: unit {unit.code!r} is already a {row.level} under "
                f"{row.parent_code!r}; moving a unit or changing its level is not supported"
            )

    seen_people: dict[str, int] = {}
    for person in people:
        if person.id in seen_people:
            raise BadInput(
                f"{path}:{person.line}: duplicate person id {person.id!r} "
                f"(first at line {seen_people[person.id]})"
            )
        seen_people[person.id] = person.line
        if person.unit not in levels:
            raise BadInput(
                f"{path}:{person.line}: person {person.id!r}: unknown unit {person.unit!r}"
            )

    # Parents first, so that the foreign keys hold on every database.
    order = {level: rank for rank, level in enumerate(UnitLevel)}
    units_added, units_updated = _upsert(
        session,
        UNITS,
        _UNIT_UPDATE,
        "code",
        existing,
        (
            (
                u.code,
                _given(
                    {"name": u.name, "level": u.level.value, "parent_code": u.parent},
                    u.contacts,
                ),
            )
            for u in sorted(units, key=lambda u: order[u.level])
        ),
    )
    del existing
    people_added, people_updated = _upsert(
        session,
        PEOPLE,
        _PERSON_UPDATE,
        "id",
        {row.id: row for row in fetch(session, _PEOPLE)},
        (
            (
                p.id,
                _given({"name": p.name, "role": p.role.value, "unit_code": p.unit}, p.contacts),
            )
            for p in people
        ),
    )
    return OrgSummary(
        units_added=units_added,
        units_updated=units_updated,
        people_added=people_added,
        people_updated=people_updated,
        units_unchanged=len(units) - units_added - units_updated,
        people_unchanged=len(people) - people_added - people_updated,
    )


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
    unit: _UnitRow,
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
