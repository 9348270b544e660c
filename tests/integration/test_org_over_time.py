"""The org over time: `org load` changes only what the file says."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from models.tables import Person, Unit
from models.values import OPERATOR
from workflows.db import reading
from workflows.errors import BadInput
from workflows.org import load_org

COUNTY = """\
units:
  - {code: "330100", name: 某县, level: county}
  - {code: "330101", name: 某镇, level: township, parent: "330100",
     contacts: {webhook: "https://example.org/hook"}}
people:
  - {id: li, name: 李主任, role: supervisor, unit: "330101",
     contacts: {email: li@example.org, dingtalk: "dingtalk://token"}}
"""


def _load(engine: Engine, tmp_path: Path, text: str) -> object:
    path = tmp_path / "org.yaml"
    path.write_text(text, encoding="utf-8")
    return load_org(engine=engine, actor=OPERATOR, path=path)


def _contacts(engine: Engine) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    with reading(engine) as session:
        township, li = session.get(Unit, "330101"), session.get(Person, "li")
    assert township is not None and li is not None
    return township.contacts, li.contacts


def test_an_entry_without_contacts_keeps_the_addresses_it_had(
    engine: Engine, tmp_path: Path
) -> None:
    _load(engine, tmp_path, COUNTY)
    renamed = """\
units:
  - {code: "330101", name: 某镇（新名）, level: township, parent: "330100"}
people:
  - {id: li, name: 李主任, role: supervisor, unit: "330101"}
"""
    summary = _load(engine, tmp_path, renamed)
    assert summary.units_updated == 1 and summary.people_unchanged == 1  # type: ignore[attr-defined]
    assert _contacts(engine) == (
        {"webhook": ["https://example.org/hook"]},
        {"email": ["li@example.org"], "dingtalk": ["dingtalk://token"]},
    )


@pytest.mark.parametrize("empty", ["{}", "[]"])
def test_an_explicitly_empty_contacts_clears_them(
    engine: Engine, tmp_path: Path, empty: str
) -> None:
    _load(engine, tmp_path, COUNTY)
    cleared = f"""\
units:
  - {{code: "330101", name: 某镇, level: township, parent: "330100", contacts: {empty}}}
people:
  - {{id: li, name: 李主任, role: supervisor, unit: "330101", contacts: {empty}}}
"""
    summary = _load(engine, tmp_path, cleared)
    assert (summary.units_updated, summary.people_updated) == (1, 1)  # type: ignore[attr-defined]
    assert _contacts(engine) == ({}, {})


def test_contacts_given_replace_those_stored(engine: Engine, tmp_path: Path) -> None:
    _load(engine, tmp_path, COUNTY)
    _load(engine, tmp_path, COUNTY.replace("li@example.org", "li2@example.org"))
    assert _contacts(engine)[1] == {"email": ["li2@example.org"], "dingtalk": ["dingtalk://token"]}


def test_contacts_as_a_list_of_addresses_is_refused_with_its_line(
    engine: Engine, tmp_path: Path
) -> None:
    bad = COUNTY.replace('contacts: {webhook: "https://example.org/hook"}', "contacts: [a@b.org]")
    with pytest.raises(BadInput, match=r"org\.yaml:3: units\[1\]\.contacts: "):
        _load(engine, tmp_path, bad)
