"""The org over time: `org load` changes only what the file says; units move and merge,
people move and leave, and the live disputes follow without losing their history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import (
    Account,
    Dispute,
    DisputeEvent,
    Escalation,
    OrgChange,
    OutboxMessage,
    Person,
    Task,
    Unit,
    UnitTask,
)
from models.values import OPERATOR, EventKind, UnitPath
from rules.evaluate import evaluate
from rules.policy import Policy
from tests.support.db import TWO_TOWNSHIPS, dump, load_county
from tests.support.recording import MONDAY, record, report
from workflows.accounts import SignInRefused, set_password, sign_in
from workflows.changes import history, initial_state
from workflows.db import reading
from workflows.errors import BadInput
from workflows.recording import NewDispute, report_dispute
from workflows.reorganising import org_history

COUNTY = """\
units:
  - {code: "330100", name: 某县, level: county}
  - {code: "330101", name: 某镇, level: township, parent: "330100",
     contacts: {webhook: "https://example.org/hook"}}
people:
  - {id: li, name: 李主任, role: supervisor, unit: "330101",
     contacts: {email: li@example.org, dingtalk: "dingtalk://token"}}
"""


def _load(engine: Engine, tmp_path: Path, text: str, *, now: object = None) -> object:
    path = tmp_path / "org.yaml"
    path.write_text(text, encoding="utf-8")
    if now is None:
        return load_county(engine, path)
    return load_county(engine, path, now=now)  # type: ignore[arg-type]


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


# The county of tests/support/org_two_townships.yaml, as its administrator edits it.
TOWNSHIPS = TWO_TOWNSHIPS.read_text(encoding="utf-8")
LATER = MONDAY + timedelta(hours=3)


def _edited(*changes: tuple[str, str]) -> str:
    text = TOWNSHIPS
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def _dispute(engine: Engine, dispute_id: int) -> Dispute:
    with reading(engine) as session:
        found = session.get(Dispute, dispute_id)
    assert found is not None
    return found


def _last_event(engine: Engine, dispute_id: int) -> DisputeEvent:
    with reading(engine) as session:
        return session.exec(
            select(DisputeEvent)
            .where(DisputeEvent.dispute_id == dispute_id)
            .order_by(col(DisputeEvent.seq).desc())
        ).first()  # type: ignore[return-value]


def _open_tasks(engine: Engine, dispute_id: int) -> set[tuple[str, str]]:
    with reading(engine) as session:
        return {
            (t.kind, t.target)
            for t in session.exec(
                select(Task).where(Task.dispute_id == dispute_id, Task.state == "open")
            )
        }


def _messages(engine: Engine, kind: str) -> list[OutboxMessage]:
    with reading(engine) as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.kind == kind)))


MOVE_VILLAGE = (
    '{code: "33010101", name: 上林村, level: village, parent: "330101"}',
    '{code: "33010101", name: 上林村, level: village, parent: "330102"}',
)
ZHOU_WITH_ADDRESS = (
    '{id: zhou, name: 周主任, role: supervisor, unit: "330102"}',
    '{id: zhou, name: 周主任, role: supervisor, unit: "330102", contacts: {email: zhou@example.org}}',
)


def test_a_village_moved_to_another_township_takes_its_live_disputes_and_history_keeps_the_old_path(
    engine: Engine, tmp_path: Path, policy: Policy
) -> None:
    _load(engine, tmp_path, TOWNSHIPS)
    live = report(engine, policy, unit="3301010101")
    record(engine, policy, live, "escalate", MONDAY + timedelta(hours=1), by="li")
    closed = report(engine, policy, unit="3301010101")
    record(engine, policy, closed, "resolve", MONDAY + timedelta(hours=1),
           {"method": "people", "agreement": "oral"}, by="wang")  # fmt: skip
    record(
        engine,
        policy,
        closed,
        "visit",
        MONDAY + timedelta(hours=2),
        {"outcome": "stable"},
        by="wang",
    )
    assert ("acknowledge", "unit:330101") in _open_tasks(engine, live)

    summary = _load(engine, tmp_path, _edited(MOVE_VILLAGE, ZHOU_WITH_ADDRESS), now=LATER)

    assert summary.changes == {"unit_moved": 1} and summary.disputes_moved == 1  # type: ignore[attr-defined]
    moved = _dispute(engine, live)
    assert (moved.village_code, moved.township_code, moved.unit_code) == (
        "33010101",
        "330102",
        "330102",
    )
    assert moved.level == "township" and moved.level_since == MONDAY + timedelta(hours=1)
    event = _last_event(engine, live)
    assert event.kind == EventKind.reorganise and event.at == LATER
    assert event.data["was"]["township"] == "330101" and event.data["path"]["township"] == "330102"
    # The acknowledgement the old township owed passes to the new one.
    assert ("acknowledge", "unit:330102") in _open_tasks(engine, live)
    assert ("acknowledge", "unit:330101") not in _open_tasks(engine, live)
    with reading(engine) as session:
        escalation = session.exec(select(Escalation).where(Escalation.dispute_id == live)).one()
        past = history(session, live)
    assert (escalation.from_unit, escalation.to_unit) == ("33010101", "330101")  # as it was
    # A replay of the history knows which units it had when.
    assert initial_state(moved, past).path == UnitPath("33010101", "330101", "330100")
    replayed = evaluate(initial_state(moved, past), past, policy=policy, now=LATER)
    assert replayed.state.path == UnitPath("33010101", "330102", "330100")
    assert replayed.state.unit == "330102"
    # A closed dispute keeps the units it was handled by.
    assert _dispute(engine, closed).township_code == "330101"
    # The township it now comes under is told, with the disputes.
    (told,) = _messages(engine, "reorganised")
    assert told.address == "zhou@example.org" and f"#{live}" in told.body
    (change,) = org_history(engine=engine)
    assert (change["kind"], change["subject"], change["disputes"]) == ("unit_moved", "33010101", 1)
    assert change["before"] == {"parent": "330101"} and change["after"] == {"parent": "330102"}


MERGE_VILLAGE = (
    '{code: "33010102", name: 下林村, level: village, parent: "330101"}',
    '{code: "33010102", name: 下林村, level: village, parent: "330101", merged_into: "33010101"}',
)


def test_two_villages_merged_into_one_keep_their_disputes_and_people_under_the_one(
    engine: Engine, tmp_path: Path, policy: Policy
) -> None:
    _load(engine, tmp_path, TOWNSHIPS)
    live = report(engine, policy, unit="33010102", risk="medium")
    record(
        engine, policy, live, "assign", MONDAY + timedelta(minutes=30), {"person": "sun"}, by="li"
    )
    without_sun = _edited(
        MERGE_VILLAGE, ('  - {id: sun, name: 孙调解, role: mediator, unit: "33010102"}\n', "")
    )

    summary = _load(engine, tmp_path, without_sun, now=LATER)

    assert summary.changes == {"unit_merged": 1} and summary.disputes_moved == 1  # type: ignore[attr-defined]
    merged = _dispute(engine, live)
    assert (merged.village_code, merged.reported_unit, merged.unit_code) == ("33010101",) * 3
    assert merged.assignee == "sun"  # who works on, with their village
    with reading(engine) as session:
        village, sun = session.get(Unit, "33010102"), session.get(Person, "sun")
    assert village is not None and village.merged_into == "33010101" and village.ended_at == LATER
    assert sun is not None and sun.unit_code == "33010101"
    with pytest.raises(
        BadInput, match=r"unit '33010102' was merged into '33010101' on .*: report at '33010101'"
    ):
        report_dispute(engine=engine, policy=policy, now=LATER, actor=OPERATOR,
                       dispute=NewDispute(unit="33010102", risk="low", category="邻里", title="t"))  # fmt: skip
    # The same file again changes nothing.
    again = _load(engine, tmp_path, without_sun, now=LATER + timedelta(hours=1))
    assert again.changes == {} and again.units_updated == 0  # type: ignore[attr-defined]
    assert _last_event(engine, live).kind == EventKind.reorganise
    assert len(org_history(engine=engine)) == 1


def test_a_unit_with_live_disputes_is_not_removed_and_the_disputes_are_named(
    engine: Engine, tmp_path: Path, policy: Policy
) -> None:
    _load(engine, tmp_path, TOWNSHIPS)
    live = report(engine, policy, unit="33010102", risk="low")
    removed = _edited(
        (
            '{code: "33010102", name: 下林村, level: village, parent: "330101"}',
            '{code: "33010102", name: 下林村, level: village, parent: "330101", removed: true}',
        ),
        ("{id: sun, name: 孙调解, role: mediator, unit: \"33010102\"}",
         "{id: sun, name: 孙调解, role: mediator, unit: \"33010101\"}"),
    )  # fmt: skip
    before = dump(engine)
    with pytest.raises(
        BadInput,
        match=rf"org\.yaml:8: unit '33010102' cannot be removed: 1 live dispute is there: #{live};",
    ):
        _load(engine, tmp_path, removed, now=LATER)
    assert dump(engine) == before


def test_a_person_who_left_releases_their_disputes_and_their_supervisors_are_told(
    engine: Engine, tmp_path: Path, policy: Policy
) -> None:
    li_with_address = (
        '{id: li, name: 李主任, role: supervisor, unit: "330101"}',
        '{id: li, name: 李主任, role: supervisor, unit: "330101", contacts: {email: li@example.org}}',
    )
    _load(engine, tmp_path, _edited(li_with_address))
    set_password(
        engine=engine, now=MONDAY, actor=OPERATOR, person="wang", password="a long password"
    )
    live = report(engine, policy, unit="3301010101", risk="medium")
    record(
        engine, policy, live, "assign", MONDAY + timedelta(minutes=30), {"person": "wang"}, by="li"
    )
    assert {t for t in _open_tasks(engine, live) if t[1] == "person:wang"}

    left = _edited(
        li_with_address,
        ("{id: wang, name: 王调解, role: mediator, unit: \"33010101\"}",
         "{id: wang, name: 王调解, role: mediator, unit: \"33010101\", left: true}"),
    )  # fmt: skip
    summary = _load(engine, tmp_path, left, now=LATER)

    assert summary.changes == {"person_left": 1} and summary.disputes_released == 1  # type: ignore[attr-defined]
    assert _dispute(engine, live).assignee is None
    assert not {t for t in _open_tasks(engine, live) if t[1] == "person:wang"}
    assert ("daily_check", "unit:3301010101") in _open_tasks(engine, live)  # back to the grid
    event = _last_event(engine, live)
    assert (event.kind, event.data["unassigned"]) == (EventKind.reorganise, "wang")
    (told,) = _messages(engine, "released")
    assert told.address == "li@example.org" and f"#{live}" in told.body and "王调解" in told.body
    with reading(engine) as session:
        account = session.get(Account, "wang")
    assert account is not None and account.disabled
    with pytest.raises(SignInRefused):
        sign_in(engine=engine, now=LATER, username="wang", password="a long password", address="t")
    with pytest.raises(BadInput, match=r"'wang' left on .*: assign someone else"):
        record(engine, policy, live, "assign", LATER, {"person": "wang"}, by="li")


def test_a_person_moved_to_another_unit_gives_back_their_disputes(
    engine: Engine, tmp_path: Path, policy: Policy
) -> None:
    _load(engine, tmp_path, TOWNSHIPS)
    live = report(engine, policy, unit="3301010101", risk="low")
    record(
        engine, policy, live, "assign", MONDAY + timedelta(minutes=30), {"person": "wang"}, by="li"
    )
    moved = _edited(
        ("{id: wang, name: 王调解, role: mediator, unit: \"33010101\"}",
         "{id: wang, name: 王调解, role: mediator, unit: \"33010201\"}"),
    )  # fmt: skip
    summary = _load(engine, tmp_path, moved, now=LATER)
    assert summary.changes == {"person_moved": 1} and summary.disputes_released == 1  # type: ignore[attr-defined]
    assert _dispute(engine, live).assignee is None
    with reading(engine) as session:
        change = session.exec(select(OrgChange)).one()
    assert (change.kind, change.before, change.after) == (
        "person_moved",
        {"unit": "33010101"},
        {"unit": "33010201"},
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            (
                '{code: "33010102", name: 下林村, level: village, parent: "330101"}',
                '{code: "33010102", name: 下林村, level: township, parent: "330100"}',
            ),
            r"org\.yaml:8: unit '33010102': is a village; changing a unit's level is not supported",
        ),
        (
            (
                '{code: "33010102", name: 下林村, level: village, parent: "330101"}',
                '{code: "33010102", name: 下林村, level: village, parent: "330101", merged_into: "330102"}',
            ),
            r"org\.yaml:8: unit '33010102': a village is merged into a village, not into township '330102'",
        ),
        (
            (
                '{code: "33010102", name: 下林村, level: village, parent: "330101"}',
                '{code: "33010102", name: 下林村, level: village, parent: "330101", merged_into: "33010101", removed: true}',
            ),
            r"org\.yaml:8: unit '33010102': either removed or merged_into, not both",
        ),
        (
            MERGE_VILLAGE,
            r"org\.yaml:\d+: person 'sun': unit '33010102' is merged into '33010101' in this file",
        ),
        (
            (
                '{code: "33010102", name: 下林村, level: village, parent: "330101"}',
                '{code: "33010102", name: 下林村, level: village, parent: "330101", removed: true}',
            ),
            r"org\.yaml:\d+: person 'sun': unit '33010102' is removed in this file",
        ),
    ],
)
def test_an_org_change_that_cannot_be_made_is_refused_with_its_line_and_changes_nothing(
    engine: Engine, tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    _load(engine, tmp_path, TOWNSHIPS)
    before = dump(engine)
    with pytest.raises(BadInput, match=message):
        _load(engine, tmp_path, _edited(change), now=LATER)
    assert dump(engine) == before


def test_an_ended_unit_does_not_come_back(engine: Engine, tmp_path: Path) -> None:
    _load(engine, tmp_path, TOWNSHIPS)
    merged = _edited(
        MERGE_VILLAGE, ('  - {id: sun, name: 孙调解, role: mediator, unit: "33010102"}\n', "")
    )
    _load(engine, tmp_path, merged, now=LATER)
    with pytest.raises(
        BadInput,
        match=r"unit '33010102': was merged into '33010101' on .*; an ended unit does not come back",
    ):
        _load(
            engine,
            tmp_path,
            TOWNSHIPS.replace(
                '  - {id: sun, name: 孙调解, role: mediator, unit: "33010102"}\n', ""
            ),
            now=LATER,
        )


def test_the_dispute_page_says_what_the_org_change_did(
    engine: Engine, tmp_path: Path, policy: Policy
) -> None:
    from tests.support.web import Site

    _load(engine, tmp_path, TOWNSHIPS)
    live = report(engine, policy, unit="3301010101", risk="low")
    _load(engine, tmp_path, _edited(MOVE_VILLAGE), now=LATER)
    page = Site(engine, policy, LATER).signed_in("zhou").get(f"/disputes/{live}")
    assert page.status_code == 200
    assert "33010101 划归新的上级；镇（街道） 330101 → 330102" in page.text


TWO_COUNTIES = """\
units:
  - {code: "330100", name: 枫桥县, level: county}
  - {code: "330200", name: 邻县, level: county}
  - {code: "330201", name: 邻镇, level: township, parent: "330200"}
people:
  - {id: chen, name: 陈科长, role: supervisor, unit: "330100"}
  - {id: qian, name: 钱科长, role: supervisor, unit: "330200"}
"""


def test_a_merged_county_owes_its_inspection_no_more_and_is_not_given_another(
    engine: Engine, tmp_path: Path, policy: Policy
) -> None:
    from workflows.db import transaction
    from workflows.sweeps.unit_tasks import open_unit_tasks

    _load(engine, tmp_path, TWO_COUNTIES)
    december = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    with transaction(engine) as session:
        assert open_unit_tasks(session, policy=policy, flow="monthly_inspection",
                               scheduled=december, now=december) == 2  # fmt: skip
    merged = (
        TWO_COUNTIES.replace(
            '{code: "330200", name: 邻县, level: county}',
            '{code: "330200", name: 邻县, level: county, merged_into: "330100"}',
        )
        .replace('parent: "330200"', 'parent: "330100"')
        .replace('unit: "330200"', 'unit: "330100"')
    )
    _load(engine, tmp_path, merged, now=december + timedelta(hours=2))
    with reading(engine) as session:
        states = {t.unit_code: t.state for t in session.exec(select(UnitTask))}
    assert states == {"330100": "open", "330200": "cancelled"}
    january = datetime(2027, 1, 4, 1, 0, tzinfo=UTC)
    with transaction(engine) as session:
        assert open_unit_tasks(session, policy=policy, flow="monthly_inspection",
                               scheduled=january, now=january) == 1  # fmt: skip


def test_a_dispute_whose_village_and_township_both_move_gets_one_event(
    engine: Engine, tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workflows.reorganising.service as service

    monkeypatch.setattr(service, "_BATCH", 1)  # each changed unit looked up on its own
    _load(engine, tmp_path, TOWNSHIPS)
    live = report(engine, policy, unit="3301010101", risk="low")
    both = _edited(  # the village merged into one of another township, merged too
        (
            '{code: "33010101", name: 上林村, level: village, parent: "330101"}',
            '{code: "33010101", name: 上林村, level: village, parent: "330101", merged_into: "33010201"}',
        ),
        (
            '{code: "330101", name: 东溪镇, level: township, parent: "330100"}',
            '{code: "330101", name: 东溪镇, level: township, parent: "330100", merged_into: "330102"}',
        ),
        ('{code: "33010102", name: 下林村, level: village, parent: "330101"}',
         '{code: "33010102", name: 下林村, level: village, parent: "330102"}'),
        ('unit: "33010101"}', 'unit: "33010201"}'),
        ('unit: "330101"}', 'unit: "330102"}'),
    ).replace('parent: "33010101"}', 'parent: "33010201"}')  # its two grids  # fmt: skip
    summary = _load(engine, tmp_path, both, now=LATER)
    assert summary.disputes_moved == 1  # type: ignore[attr-defined]
    with reading(engine) as session:
        kinds = [
            e.kind
            for e in session.exec(select(DisputeEvent).where(DisputeEvent.dispute_id == live))
        ]
    assert kinds == ["report", "reorganise"]
    assert _dispute(engine, live).township_code == "330102"
