"""Loading the organisation: units and people, upserted from a YAML file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import structlog
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from sqlalchemy import Engine
from sqlmodel import Session, select

from models.tables import Person, Unit
from models.values import Actor, Channel, Role, UnitLevel
from workflows.access import Action, permit, viewer_of
from workflows.db import transaction
from workflows.errors import BadInput, has_nul

__all__ = ["OrgSummary", "load_org"]

log = structlog.get_logger(__name__)


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


Contacts = Annotated[dict[str, str | list[str]], AfterValidator(_contacts)]


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
    contacts: Contacts = {}


class _PersonIn(_Entry):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    role: Role
    unit: str
    contacts: Contacts = {}


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


def _entry_lines(path: Path, text: str) -> dict[tuple[str, int], int]:
    """The 1-based line of each entry of ``units`` and ``people``."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise BadInput(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    lines: dict[tuple[str, int], int] = {}
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if isinstance(value, yaml.SequenceNode):
                for index, item in enumerate(value.value):
                    lines[(key.value, index)] = item.start_mark.line + 1
    return lines


def _validated(
    path: Path,
    lines: dict[tuple[str, int], int],
    section: str,
    raw: list[Any],
    model: type[BaseModel],
) -> list[tuple[int, Any]]:
    parsed = []
    for index, item in enumerate(raw):
        line = lines.get((section, index), 0)
        try:
            parsed.append((line, model.model_validate(item)))
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"])
            message = (
                "unknown field"
                if error["type"] == "extra_forbidden"
                else error["msg"].removeprefix("Value error, ")
            )
            raise BadInput(f"{path}:{line}: {section}[{index}].{field}: {message}") from None
    return parsed


def load_org(*, engine: Engine, actor: Actor, path: Path) -> OrgSummary:
    """Validate the whole file against itself and the database, then upsert it, in one
    transaction: a file with a problem changes nothing."""
    with transaction(engine) as session:
        if actor.checked:
            assert actor.person is not None
            permit(viewer_of(session, actor.person), Action.org)
        summary = _load(session, path)
    log.info("org_loaded", file=str(path), actor=actor.name, **summary.__dict__)
    return summary


def _load(session: Session, path: Path) -> OrgSummary:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror}") from None
    lines = _entry_lines(path, text)
    try:
        document = _OrgIn.model_validate(yaml.safe_load(text) or {})
    except ValidationError as exc:
        error = exc.errors()[0]
        raise BadInput(f"{path}: {'.'.join(map(str, error['loc']))}: {error['msg']}") from None
    units = _validated(path, lines, "units", document.units, _UnitIn)
    people = _validated(path, lines, "people", document.people, _PersonIn)

    existing = {u.code: u for u in session.exec(select(Unit)).all()}
    levels = {code: UnitLevel(u.level) for code, u in existing.items()}
    parents = {code: u.parent_code for code, u in existing.items()}
    seen: dict[str, int] = {}
    for line, unit in units:
        if unit.code in seen:
            raise BadInput(
                f"{path}:{line}: duplicate unit code {unit.code!r} "
                f"(first at line {seen[unit.code]})"
            )
        seen[unit.code] = line
        levels[unit.code] = unit.level
        parents[unit.code] = unit.parent
    for line, unit in units:
        _check_unit(path, line, unit, levels, parents)
        row = existing.get(unit.code)
        if row is not None and (row.level, row.parent_code) != (unit.level, unit.parent):
            # Disputes keep the village, township and county they were reported under.
            raise BadInput(
                f"{path}:{line}: unit {unit.code!r} is already a {row.level} under "
                f"{row.parent_code!r}; moving a unit or changing its level is not supported"
            )

    seen_people: dict[str, int] = {}
    for line, person in people:
        if person.id in seen_people:
            raise BadInput(
                f"{path}:{line}: duplicate person id {person.id!r} "
                f"(first at line {seen_people[person.id]})"
            )
        seen_people[person.id] = line
        if person.unit not in levels:
            raise BadInput(f"{path}:{line}: person {person.id!r}: unknown unit {person.unit!r}")

    added = updated = 0
    for _, unit in sorted(units, key=lambda item: list(UnitLevel).index(item[1].level)):
        row = existing.get(unit.code)
        if row is None:
            session.add(
                Unit(
                    code=unit.code,
                    name=unit.name,
                    level=unit.level,
                    parent_code=unit.parent,
                    contacts=unit.contacts,
                )
            )
            added += 1
        else:
            row.name, row.level, row.parent_code = unit.name, unit.level, unit.parent
            row.contacts = unit.contacts
            session.add(row)
            updated += 1
        session.flush()  # parents first, so the foreign keys hold on every database
    people_added = people_updated = 0
    for _, person in people:
        contacts = person.contacts
        prow = session.get(Person, person.id)
        if prow is None:
            session.add(
                Person(
                    id=person.id,
                    name=person.name,
                    role=person.role,
                    unit_code=person.unit,
                    contacts=contacts,
                )
            )
            people_added += 1
        else:
            prow.name, prow.role, prow.unit_code, prow.contacts = (
                person.name,
                person.role,
                person.unit,
                contacts,
            )
            session.add(prow)
            people_updated += 1
    return OrgSummary(added, updated, people_added, people_updated)


def _check_unit(
    path: Path,
    line: int,
    unit: _UnitIn,
    levels: dict[str, UnitLevel],
    parents: dict[str, str | None],
) -> None:
    where = f"{path}:{line}: unit {unit.code!r}"
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
