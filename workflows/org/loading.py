"""Loading the organisation: units and people, upserted from a YAML file, and the changes
of the org over time it records (units moved, merged or removed, people moved or gone)."""

from __future__ import annotations

import codecs
import gc
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NamedTuple, TypeGuard

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from sqlalchemy import Text, bindparam, cast, select, update
from sqlmodel import Session

from models.tables import Person, Unit
from models.values import Channel, Role, UnitLevel
from workflows.driver import each, execute_many, fetch, insert_rows
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


# The plain entry, checked in plain Python: what a province's file is made of. Anything
# else (an ending, a value of another type, a problem) goes through the models, which take
# it or word its problem; the plain check takes only what they would take.
_CODE_OK = re.compile(r"[0-9A-Za-z_-]{1,32}").fullmatch
_ID_OK = re.compile(r"[0-9A-Za-z_.-]{1,64}").fullmatch
_LEVELS: dict[Any, UnitLevel] = {level.value: level for level in UnitLevel}
_ROLES: dict[Any, Role] = {role.value: role for role in Role}
_PLAIN_UNIT = frozenset({"code", "name", "level", "parent", "contacts"})
_PLAIN_PERSON = frozenset({"id", "name", "role", "unit", "contacts"})


def _text(value: Any) -> TypeGuard[str]:
    """Text of 1 to 200 characters without NUL: a name as the models take it."""
    return type(value) is str and 0 < len(value) <= 200 and "\x00" not in value


def _json(contacts: dict[str, Any] | None) -> str | None:
    """Contacts as the JSON text the database keeps (that of SQLAlchemy's JSON type)."""
    return None if contacts is None else json.dumps(contacts)


def _plain_contacts(value: Any) -> dict[str, list[str]] | None:
    """The contacts the model would make of ``value``, if it is a mapping of text to text
    or lists of text that :func:`_contacts` accepts; None for anything else."""
    if type(value) is not dict:
        return None
    plain: dict[str, str | list[str]] = {}
    for channel, raw in value.items():
        if type(channel) is not str or "\x00" in channel:
            return None
        if type(raw) is str:
            if "\x00" in raw:
                return None
            plain[channel] = raw
        elif type(raw) is list and all(type(a) is str and "\x00" not in a for a in raw):
            plain[channel] = list(raw)
        else:
            return None
    try:
        return _contacts(plain)
    except ValueError:
        return None


def _unit_entry(line: int, value: Any) -> UnitEntry:
    if type(value) is dict and value.keys() <= _PLAIN_UNIT:
        code, name, level = value.get("code"), value.get("name"), value.get("level")
        parent = value.get("parent")
        if (
            type(code) is str
            and _CODE_OK(code)
            and _text(name)
            and type(level) is str
            and level in _LEVELS
            and (parent is None or (type(parent) is str and "\x00" not in parent))
        ):
            if "contacts" not in value:
                return UnitEntry(line, code, name, _LEVELS[level], parent, None, None, None)
            plain = _plain_contacts(value["contacts"])
            if plain is not None:
                return UnitEntry(line, code, name, _LEVELS[level], parent, _json(plain), None, None)
    u = _UnitIn.model_validate(value)
    return UnitEntry(
        line, u.code, u.name, u.level, u.parent, _json(u.contacts), u.removed, u.merged_into
    )


def _person_entry(line: int, value: Any) -> PersonEntry:
    if type(value) is dict and value.keys() <= _PLAIN_PERSON:
        id_, name, role, unit = (
            value.get("id"),
            value.get("name"),
            value.get("role"),
            value.get("unit"),
        )
        if (
            type(id_) is str
            and _ID_OK(id_)
            and _text(name)
            and type(role) is str
            and role in _ROLES
            and type(unit) is str
            and "\x00" not in unit
        ):
            if "contacts" not in value:
                return PersonEntry(line, id_, name, _ROLES[role], unit, None, None)
            plain = _plain_contacts(value["contacts"])
            if plain is not None:
                return PersonEntry(line, id_, name, _ROLES[role], unit, _json(plain), None)
    p = _PersonIn.model_validate(value)
    return PersonEntry(line, p.id, p.name, p.role, p.unit, _json(p.contacts), p.left)


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
    contacts: str | None  # as JSON text; None: not in the file, kept as stored
    removed: bool | None
    merged_into: str | None


class PersonEntry(NamedTuple):
    line: int
    id: str
    name: str
    role: Role
    unit: str
    contacts: str | None  # as JSON text; None: not in the file, kept as stored
    left: bool | None


def _read(path: Path) -> tuple[list[UnitEntry], list[PersonEntry]]:
    """The file's units and people, each validated as it is read, kept as small tuples."""
    try:
        data = path.read_bytes()
        # Checked here, and handed to libyaml as bytes: the decoded text (2 or 4 bytes a
        # character once a Chinese name is in it) and libyaml's UTF-8 copy of it would
        # both be kept while the file is read.
        codecs.decode(data, "utf-8")
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
        for section, index, line, value in entries(path, data):
            if index < 0:
                if section == "":
                    _OrgIn.model_validate(value)  # not a mapping: refused here
                others[section] = value
                continue
            try:
                if section == "units":
                    units.append(_unit_entry(line, value))
                else:
                    people.append(_person_entry(line, value))
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


# The tree as stored, for the checks.
_TREE = select(
    UNITS.c.code, UNITS.c.level, UNITS.c.parent_code, UNITS.c.ended_at, UNITS.c.merged_into
)
# Contacts are read as their JSON text: a dict and its lists cost four times the memory.
_UNITS = select(
    UNITS.c.code,
    UNITS.c.name,
    UNITS.c.level,
    UNITS.c.parent_code,
    cast(UNITS.c.contacts, Text).label("contacts"),
    UNITS.c.ended_at,
    UNITS.c.merged_into,
)
_PEOPLE = select(
    PEOPLE.c.id,
    PEOPLE.c.name,
    PEOPLE.c.role,
    PEOPLE.c.unit_code,
    cast(PEOPLE.c.contacts, Text).label("contacts"),
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
    existing = {row.code: row for row in fetch(session, _TREE)}
    levels = {code: UnitLevel(u.level) for code, u in existing.items()}
    parents = {code: u.parent_code for code, u in existing.items()}
    seen: dict[str, int] = {}  # code: its entry's position
    for position, unit in enumerate(units):
        if unit.code in seen:
            raise BadInput(
                f"{path}:{unit.line}: duplicate unit code {unit.code!r} "
                f"(first at line {units[seen[unit.code]].line})"
            )
        seen[unit.code] = position
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
    # What a merged unit had goes to the unit it is merged into; a removed unit has nothing.
    moved_with: list[tuple[str, dict[str, Any]]] = []
    for code, row in existing.items():
        parent = row.parent_code
        if row.ended_at is not None or code in ending or parent not in ending:
            continue
        if code in seen:  # the file says where it goes now (checked above)
            continue
        into = ending[parent]
        if into is None:
            raise BadInput(
                f"{path}:{units[seen[parent]].line}: unit {parent!r} cannot be removed: unit "
                f"{code!r} is "
                "under it; move, merge or remove it in the same file"
            )
        moved_with.append((code, {"parent_code": into}))
        parents[code] = into

    seen_people: dict[str, int] = {}  # id: its entry's position
    for position, person in enumerate(people):
        where = f"{path}:{person.line}: person {person.id!r}"
        if person.id in seen_people:
            first = people[seen_people[person.id]].line
            raise BadInput(
                f"{path}:{person.line}: duplicate person id {person.id!r} (first at line {first})"
            )
        seen_people[person.id] = position
        if person.unit not in levels:
            raise BadInput(f"{where}: unknown unit {person.unit!r}")
        if _ended(person.unit, existing, ending):
            raise BadInput(
                f"{where}: unit {person.unit!r} {_end_said(person.unit, existing, ending)}"
            )

    # Parents first, so that the foreign keys hold on every database.
    order = {level: rank for rank, level in enumerate(UnitLevel)}
    units_changed = _Changed("code")
    new_units = [u for u in units if u.code not in existing]
    for row in each(session, _UNITS):  # the stored units, a few thousand at a time
        given = seen.get(row.code)
        if given is None or row.ended_at is not None:
            continue  # not in the file, or as it ended
        u = units[given]
        values: dict[str, Any] = {"name": u.name, "level": u.level.value, "parent_code": u.parent}
        if u.code in ending:
            values.update(ended_at=now, merged_into=ending[u.code])
        units_changed.note(u.code, row, _given(values, u.contacts))
    new_units.sort(key=lambda u: order[u.level])
    units_added = insert_rows(
        session,
        UNITS,
        (
            {
                "code": u.code,
                "name": u.name,
                "level": u.level.value,
                "parent_code": u.parent,
                "contacts": u.contacts or "{}",
            }
            for u in new_units
        ),
        raw=("contacts",),
    )
    del new_units
    units_updated = units_changed.write(session, _UNIT_UPDATE)
    if moved_with:
        execute_many(session, _UNIT_UPDATE, [{"b_code": c, **v} for c, v in moved_with])
    del existing

    # The people stored are read a few thousand at a time, not held: a province has
    # hundreds of thousands.
    stored = bytearray(len(people))  # 1 where the entry's person is stored
    people_changed = _Changed("id")
    with_their_unit: list[dict[str, Any]] = []
    for row in each(session, _PEOPLE):
        entry = seen_people.get(row.id)
        if entry is None:
            if row.unit_code in ending and row.left_at is None:
                into = ending[row.unit_code]
                if into is None:
                    raise BadInput(
                        f"{path}:{units[seen[row.unit_code]].line}: unit {row.unit_code!r} "
                        "cannot be "
                        f"removed: {row.id!r} works there; move them or mark them left in "
                        "the same file"
                    )
                with_their_unit.append({"b_id": row.id, "unit_code": into})
            continue
        stored[entry] = 1
        person = people[entry]
        values = {
            "name": person.name,
            "role": person.role.value,
            "unit_code": person.unit,
        }
        change = _person_change(person, row, ending)
        if change is not None:
            changes.append(change)
        if person.left is True and row.left_at is None:
            values["left_at"] = now
        elif person.left is False and row.left_at is not None:
            values["left_at"] = None  # back again
        people_changed.note(person.id, row, _given(values, person.contacts))
    for position, person in enumerate(people):
        if not stored[position] and person.left:
            raise BadInput(
                f"{path}:{person.line}: person {person.id!r}: not in the org: there is no "
                "one to leave"
            )
    people_added = insert_rows(
        session,
        PEOPLE,
        (
            {
                "id": p.id,
                "name": p.name,
                "role": p.role.value,
                "unit_code": p.unit,
                "contacts": p.contacts or "{}",
            }
            for position, p in enumerate(people)
            if not stored[position]
        ),
        raw=("contacts",),
    )
    people_updated = people_changed.write(session, _PERSON_UPDATE)
    execute_many(session, _PERSON_UPDATE, with_their_unit)
    changes.sort(key=lambda c: (c.kind.startswith("person_"), c.line))
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


def _person_change(
    person: PersonEntry, row: Any, ending: dict[str, str | None]
) -> OrgChange | None:
    """The change of a stored person (``row``) that moves work: gone, or moved to another
    unit (not with their unit, merged into the one they are given)."""
    before, after = {"unit": row.unit_code}, {"unit": person.unit}
    if person.left is True and row.left_at is None:
        return OrgChange("person_left", person.id, person.name, person.line, before, after)
    if (
        row.unit_code != person.unit
        and row.left_at is None
        and person.left is not False
        and ending.get(row.unit_code) != person.unit
    ):
        return OrgChange("person_moved", person.id, person.name, person.line, before, after)
    return None


class _Changed:
    """The stored rows an entry changes: each update sets the columns its entry gives
    (rows alike in those are updated together); an unchanged row is not written."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}

    def note(self, code: str, row: Any, values: dict[str, Any]) -> None:
        if not _differs(row, values):
            return
        if "contacts" in values:  # the update's JSON column takes the value, not its text
            values = {**values, "contacts": json.loads(values["contacts"])}
        self.groups.setdefault(tuple(values), []).append({f"b_{self.key}": code, **values})

    def write(self, session: Session, statement: Any) -> int:
        for group in self.groups.values():
            execute_many(session, statement, group)
        return sum(len(group) for group in self.groups.values())


def _differs(row: Any, values: dict[str, Any]) -> bool:
    """Whether a stored row differs from the columns an entry gives: contacts are compared
    as JSON text first, then as values (the same addresses written otherwise are the
    same)."""
    for column, value in values.items():
        stored = getattr(row, column)
        if column == "contacts":
            if stored != value and json.loads(stored) != json.loads(value):
                return True
        elif stored != value:
            return True
    return False


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


def _given(values: dict[str, Any], contacts: str | None) -> dict[str, Any]:
    """The columns an entry sets: its contacts only if the file gives them."""
    return values if contacts is None else {**values, "contacts": contacts}


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
