"""An org file's entries: the plain ones are checked in plain Python (a province's file is
made of them), and what that check takes is exactly what the models take."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from workflows.org.loading import (
    PersonEntry,
    _person_entry,
    _PersonIn,
    _unit_entry,
    _UnitIn,
)

UNITS: list[Any] = [
    {"code": "33010101", "name": "上林村", "level": "village", "parent": "330101"},
    {"code": "330100", "name": "枫桥县", "level": "county"},
    {"code": "a_b-1", "name": "x" * 200, "level": "grid", "parent": "1", "contacts": {}},
    {
        "code": "1",
        "name": "t",
        "level": "township",
        "parent": "2",
        "contacts": {"email": "a@b.org", "webhook": ["https://x.org/h", "http://y.org"]},
    },  # fmt: skip
    {"code": "1", "name": "t", "level": "township", "contacts": {"dingtalk": "dingtalk://t"}},
    {"code": "1", "name": "t", "level": "township", "contacts": {"email": "not an address"}},
    {"code": "1", "name": "t", "level": "township", "contacts": {"fax": "123"}},
    {"code": "1", "name": "t", "level": "township", "contacts": {"sms": "12345"}},
    {"code": "1", "name": "x" * 201, "level": "township"},
    {"code": "1", "name": "", "level": "township"},
    {"code": "1" * 33, "name": "t", "level": "township"},
    {"code": "1 2", "name": "t", "level": "township"},
    {"code": 12, "name": "t", "level": "township"},
    {"code": "1", "name": "t\x00", "level": "township"},
    {"code": "1", "name": "t", "level": "province"},
    {"code": "1", "name": "t", "level": "township", "parent": 5},
    {"code": "1", "name": "t", "level": "township", "colour": "red"},
    {"code": "1", "name": "t", "level": "village", "parent": "2", "merged_into": "3"},
    {"code": "1", "name": "t", "level": "village", "parent": "2", "removed": True},
    ["not", "a", "mapping"],
]
PEOPLE: list[Any] = [
    {"id": "wang", "name": "王调解", "role": "mediator", "unit": "33010101"},
    {
        "id": "w.a-n_g",
        "name": "王",
        "role": "supervisor",
        "unit": "1",
        "contacts": {"email": ["a@b.org", "c@d.org"]},
    },  # fmt: skip
    {"id": "wang", "name": "王", "role": "boss", "unit": "1"},
    {"id": "wang", "name": "王", "role": "mediator", "unit": 1},
    {"id": "wang wang", "name": "王", "role": "mediator", "unit": "1"},
    {"id": "x" * 65, "name": "王", "role": "mediator", "unit": "1"},
    {"id": "wang", "name": "王", "role": "mediator", "unit": "1", "contacts": []},
    {"id": "wang", "name": "王", "role": "mediator", "unit": "1", "contacts": {"email": 5}},
    {"id": "wang", "name": "王", "role": "mediator", "unit": "1", "left": True},
]


def _by_model(model: Any, value: Any) -> tuple[Any, ...] | str:
    try:
        parsed = model.model_validate(value)
    except ValidationError as exc:
        return str(exc.errors()[0]["loc"])
    data = parsed.model_dump()
    contacts = data.pop("contacts")
    return (*data.values(), None if contacts is None else json.dumps(contacts))


def _by_entry(make: Any, value: Any) -> tuple[Any, ...] | str:
    try:
        entry = make(7, value)
    except ValidationError as exc:
        return str(exc.errors()[0]["loc"])
    assert entry.line == 7
    fields = entry._asdict()
    fields.pop("line")
    contacts = fields.pop("contacts")
    return (*fields.values(), contacts)


@pytest.mark.parametrize("value", UNITS, ids=range(len(UNITS)))
def test_a_unit_entry_is_taken_or_refused_as_the_model_would(value: Any) -> None:
    by_model = _by_model(_UnitIn, value)
    by_entry = _by_entry(_unit_entry, value)
    if isinstance(by_model, str):
        assert by_entry == by_model
    else:
        code, name, level, parent, removed, merged_into, contacts = by_model
        assert by_entry == (code, name, level, parent, removed, merged_into, contacts)


@pytest.mark.parametrize("value", PEOPLE, ids=range(len(PEOPLE)))
def test_a_person_entry_is_taken_or_refused_as_the_model_would(value: Any) -> None:
    by_model = _by_model(_PersonIn, value)
    by_entry = _by_entry(_person_entry, value)
    if isinstance(by_model, str):
        assert by_entry == by_model
    else:
        id_, name, role, unit, left, contacts = by_model
        assert by_entry == (id_, name, role, unit, left, contacts)


def test_entries_keep_their_contacts_as_the_json_text_the_database_keeps() -> None:
    entry = _person_entry(3, PEOPLE[1])
    assert isinstance(entry, PersonEntry)
    assert entry.contacts == '{"email": ["a@b.org", "c@d.org"]}'
