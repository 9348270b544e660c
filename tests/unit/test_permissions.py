"""The permission matrix: who may do what, by role and the level of the unit they work in."""

from __future__ import annotations

import pytest

from models.values import EventKind, Role, UnitLevel
from workflows.access import Action, allowed, matrix_markdown, refusal

MEDIATOR_WORK = {
    "report",
    "acknowledge",
    "check",
    "assess",
    "mediate",
    "resolve",
    "visit",
    "note",
    "referral_result",
    "court_result",
    "confirmation_notice",
    "confirmation_apply",
    "confirmation_result",
    "extend",
}


@pytest.mark.parametrize("level", [UnitLevel.village, UnitLevel.grid])
def test_a_mediator_records_the_work_of_the_village_and_nothing_more(level: UnitLevel) -> None:
    assert {str(a) for a in allowed(Role.mediator, level)} == MEDIATOR_WORK


def test_a_township_supervisor_also_assigns_escalates_hands_back_and_reviews() -> None:
    township = allowed(Role.supervisor, UnitLevel.township)
    assert {Action.assign, Action.escalate, Action.handback, Action.supervise} <= township
    assert Action.review in township and Action.inspect not in township


def test_only_the_county_inspects() -> None:
    assert Action.inspect in allowed(Role.supervisor, UnitLevel.county)
    assert Action.review not in allowed(Role.supervisor, UnitLevel.county)


def test_administrators_keep_the_org_and_the_rules_and_record_no_dispute_work() -> None:
    for level in UnitLevel:
        assert allowed(Role.administrator, level) == {Action.org, Action.rules}


def test_every_event_kind_but_the_report_is_an_action() -> None:
    assert {k.value for k in EventKind} - {"report", "reorganise"} <= {a.value for a in Action}
    assert Action.of_event(EventKind.reorganise) is Action.org  # the org's own change


def test_a_refusal_says_who_may() -> None:
    assert refusal(Role.mediator, UnitLevel.village, Action.escalate) == (
        "a mediator of a village may not escalate: it is for supervisors of a township or county"
    )
    assert refusal(Role.supervisor, UnitLevel.township, Action.escalate) is None


def test_the_matrix_table_has_a_row_per_action_and_a_column_per_role_and_levels() -> None:
    table = matrix_markdown().splitlines()
    assert table[0] == (
        "| action | mediator (village, grid) | supervisor (county) | supervisor (township) "
        "| administrator (any unit) |"
    )
    assert len(table) == 2 + len(Action)


def test_parties_are_masked_keeping_a_names_first_character_and_a_numbers_ends() -> None:
    from workflows.access import mask_parties

    masked = mask_parties(
        [{"name": "张三丰", "phone": "13812345678", "id_number": "33010219800101123X", "age": 52}]
    )
    assert masked == [
        {"name": "张**", "phone": "138****5678", "id_number": "3301**********123X", "age": "***"}
    ]
    assert mask_parties([{"name": "王"}]) == [{"name": "王**"}]


def test_only_the_people_who_handle_disputes_see_parties_as_they_are() -> None:
    from workflows.access import Viewer, sees_parties

    def viewer(role: Role) -> Viewer:
        return Viewer("p", "P", role, "330101", UnitLevel.township)

    assert sees_parties(viewer(Role.mediator)) and sees_parties(viewer(Role.supervisor))
    assert not sees_parties(viewer(Role.administrator))
    assert sees_parties(None)  # the operator at the server
